/**
 * A child process for the keep-alive tests: it opens a WebdisStore on
 * `WEBDIS_URL` with transport `WEBDIS_TRANSPORT`, reads and writes a
 * session, prints "done", and then simply ends its script without calling
 * `close()`. The parent checks that the process exits by itself: the store's
 * idle kept-alive connections must not hold it open.
 *
 * @module
 */
import process from "node:process";
import { WebdisStore, type WebdisTransportName } from "../../src/stores/webdis.ts";

const store = new WebdisStore({
  url: process.env.WEBDIS_URL!,
  keyPrefix: process.env.WEBDIS_PREFIX!,
  transport: process.env.WEBDIS_TRANSPORT as WebdisTransportName,
});
const now = Date.now();
await store.create("idle", { data: {}, flash: {}, createdAt: now, expiresAt: now + 10_000 }, now);
if ((await store.get("idle", now)) === null) throw new Error("the session was not stored");
console.log(`done ${store.transport}`);
