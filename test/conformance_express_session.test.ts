/**
 * ExpressSessionStore passes the conformance suite over three real
 * express-session stores: connect-redis on Redis, connect-pg-simple on
 * PostgreSQL and session-file-store in a directory. The suite runs in one
 * process, where the adapter queues the operations on a session, so every
 * property holds here, the concurrent-writes and delete-wins ones included;
 * what holds across processes is proven in
 * express_session_guarantees_across_processes.test.ts.
 */
import { conformance } from "./conformance.ts";
import { ExpressSessionStore } from "../src/stores/express_session.ts";
import { BACKENDS, type ExpressBackend, openBackend } from "./helpers/express_session_targets.ts";

for (const name of BACKENDS) {
  let backend: ExpressBackend | undefined;
  conformance({
    name: `ExpressSessionStore (${name})`,
    async makeStore() {
      backend = await openBackend(name);
      return new ExpressSessionStore(backend.store());
    },
    async teardown() {
      await backend?.dispose();
    },
  });
}
