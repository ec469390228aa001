/**
 * WebdisStore passes the conformance suite against a real Webdis
 * (`/usr/bin/webdis`) that this file starts on a spare port, in front of the
 * shared Redis on 127.0.0.1:6379, and stops afterwards; once with each
 * transport (`node:net` and `fetch`).
 */
import { createClient } from "redis";
import { conformance } from "./conformance.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

for (const transport of WEBDIS_TRANSPORTS) {
  let webdis: OwnWebdis | undefined;
  const prefix = uniquePrefix("conf_wd");
  conformance({
    name: `WebdisStore (${transport})`,
    async makeStore() {
      await requireSharedRedis();
      webdis = await startWebdis({ redisPort: 6379 });
      return new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport });
    },
    async teardown() {
      await webdis?.dispose();
      const raw = createClient({ url: SHARED_REDIS_URL });
      raw.on("error", () => {});
      await raw.connect();
      await dropPrefix(raw, prefix);
      await raw.close();
    },
  });
}
