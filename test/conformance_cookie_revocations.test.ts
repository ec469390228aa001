/**
 * The conformance suite passes for the cookie store with a server store for
 * revocations (a real SqliteStore file): `revokeSessions` then works, over
 * real HTTP, including while a request of a revoked session is in flight.
 * Listing a user's sessions is still refused (cookies cannot be listed).
 */
import { conformance } from "./conformance.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";

const SECRET = "conformance secret for the cookie store, 32+ chars";

const dir = tempDir();
let db: RawDb | undefined;
conformance({
  name: "CookieStore (revocations in a SqliteStore)",
  async makeStore() {
    db = await openDb(dir.file("revocations.db"));
    return new CookieStore(SECRET, { revocations: new SqliteStore(db, "revocations") });
  },
  teardown() {
    db?.close();
    dir.remove();
  },
});
