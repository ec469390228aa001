/**
 * WebdisStore's rotation marker through a real Webdis (started here, in
 * front of the shared Redis), on both of its HTTP clients: the store
 * contract's marker tests (test/helpers/moved_marker_contract.ts), each
 * run under its own key prefix, removed afterwards.
 */
import { createClient } from "redis";
import { WebdisStore } from "../src/stores/webdis.ts";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

for (const transport of WEBDIS_TRANSPORTS) {
  let webdis: OwnWebdis | undefined;
  const prefix = uniquePrefix(`marker_webdis_${transport.replace(":", "")}`);
  movedMarkerContract({
    name: `WebdisStore (${transport})`,
    async makeStore() {
      await requireSharedRedis();
      webdis = await startWebdis({ redisPort: 6379 });
      return new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport });
    },
    async teardown(store) {
      await store.close?.();
      await webdis?.dispose();
      const raw = createClient({ url: SHARED_REDIS_URL });
      raw.on("error", () => {});
      await raw.connect();
      try {
        await dropPrefix(raw, prefix);
      } finally {
        await raw.close();
      }
    },
  });
}
