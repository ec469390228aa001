/**
 * The cookie store's user fields and its revocations, called directly with
 * Oak's own cookie jar (no HTTP; the conformance suite drives the same over
 * HTTP in conformance_cookie_revocations.test.ts):
 *
 * - userId, lastSeenAt, meta and boundAt are sealed into the cookie and read
 *   back; a cookie sealed by the previous version of the format (a fixed
 *   vector, sealed by that code) still opens, and a session without the new
 *   fields still seals byte for byte as it did;
 * - with `revocations` (a real SqliteStore file, and a MemoryStore),
 *   `revokeUser` stores the user's "not valid before" record, and a cookie
 *   of that user bound before it stops opening while one bound at or after it
 *   keeps opening; a later revocation with an earlier time does not
 *   un-revoke; other users are untouched; a failing revocations store fails
 *   the read instead of letting the cookie through;
 * - without `revocations` there is no `revokeUser`; a bad `revocations` is a
 *   SessionConfigError naming it.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SessionConfigError, SessionStoreError, SessionValueError } from "../src/errors.ts";
import { emptyFields, type SealedSession, type ServerStore } from "../src/store.ts";
import { CookieStore, revocationKey } from "../src/stores/cookie.ts";
import { seal, SealKeys } from "../src/stores/cookie_seal.ts";
import { MemoryStore } from "../src/stores/memory.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { oakJar, setCookies } from "./helpers/oak_cookies.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";

const SECRET = "revocations test secret, at least 32 characters";
const T0 = 1_800_000_000_000;
const IDLE = 3_600_000;

/**
 * Sealed by the previous version of cookie_seal.ts (before userId,
 * lastSeenAt, meta and boundAt existed), with SECRET, the IV 11, 10, ..., 0
 * and the cookie name "session_data": the session `OLD_SESSION`.
 */
const OLD_SEALED = "v1.kxJ96Vl2.CwoJCAcGBQQDAgEA." +
  "wW6AtxNft6U9IsrekPWqbVE1T9n38e1yETU-0dgX2fbojxM5rEc9zScJGAHvHovXkYxR72P3Is1Wodfqp_GSu13Icc2o" +
  "t8s6X0tOWCyFwzAq6UYTdWb4SBRz0n6Nfh6ylLpGo4jrQHIcAVgBlPczDKHM-tx_tohEj0XRb74ABwdd6eYz3rWqRQ";
const OLD_IV = Uint8Array.from({ length: 12 }, (_, i) => 11 - i);
const OLD_SESSION: SealedSession = {
  id: "B".repeat(43),
  data: Object.assign(emptyFields(), { user: '"ada"', n: "7" }),
  flash: emptyFields(),
  createdAt: 1700000000000,
  expiresAt: 4102444800000,
};

let ids = 0;
/** A session ID of the shape the store accepts, unique per call. */
function newId(): string {
  return (String(++ids).padStart(6, "0") + "x".repeat(43)).slice(0, 43);
}

/** A session bound to `userId` at `boundAt` (created at `createdAt`, default the same). */
function session(
  userId: string | undefined,
  boundAt: number | undefined,
  createdAt = boundAt ?? T0,
): SealedSession {
  const s: SealedSession = {
    id: newId(),
    data: Object.assign(emptyFields(), { cart: "3" }),
    flash: emptyFields(),
    createdAt,
    expiresAt: T0 + 10 * IDLE,
  };
  if (userId !== undefined) s.userId = userId;
  if (boundAt !== undefined) s.boundAt = boundAt;
  return s;
}

/** The cookies `store.write` sets for `s` (name to value), through Oak's cookie jar. */
async function written(store: CookieStore, s: SealedSession): Promise<Record<string, string>> {
  const { jar, response } = oakJar({});
  await store.write(jar, s, { path: "/" });
  return Object.fromEntries(setCookies(response));
}

/** What `store.read` gives for a request carrying `cookies` at `now`. */
async function opened(store: CookieStore, cookies: Record<string, string>, now = T0 + 1000) {
  return await store.read(oakJar(cookies).jar, now);
}

/** Whether `read` opened a session (not `null`, not `{ revoked: true }`). */
function isOpen(got: Awaited<ReturnType<CookieStore["read"]>>): boolean {
  return got !== null && "session" in got;
}

/** Whether the cookies of `s`, sealed by `store`, open at `now`. */
async function opens(store: CookieStore, s: SealedSession, now = T0 + 1000): Promise<boolean> {
  const got = await opened(store, await written(store, s), now);
  return got !== null && "session" in got;
}

describe("the cookie seals userId, lastSeenAt, meta and boundAt", () => {
  const store = new CookieStore(SECRET);

  it("reads them back as written", async () => {
    const s = session("ann", T0 + 5, T0);
    s.lastSeenAt = T0 + 700;
    s.meta = '{"i":2592000,"p":true,"ua":"Mozilla/5.0 \\"x\\"","ip":"127.0.0.1"}';
    const got = await opened(store, await written(store, s));
    assert.ok(got && "session" in got);
    assert.deepEqual({ ...got.session }, { ...s });
    assert.equal(got.session.meta, s.meta, "meta kept as its text");
  });

  it("a session without them reads without them", async () => {
    const s = session(undefined, undefined);
    const got = await opened(store, await written(store, s));
    assert.ok(got && "session" in got);
    for (const k of ["userId", "lastSeenAt", "meta", "boundAt"]) {
      assert.ok(!(k in got.session), `${k} absent`);
    }
  });

  it("a cookie sealed by the previous version of the format still opens", async () => {
    const got = await opened(store, { session_data: OLD_SEALED }, T0);
    assert.ok(got && "session" in got, "it opens");
    assert.deepEqual({ ...got.session }, { ...OLD_SESSION });
    assert.equal(got.stale, false);
    // With revocations too: a session with no user needs no lookup.
    const withRevocations = new CookieStore(SECRET, { revocations: new MemoryStore() });
    assert.ok(isOpen(await opened(withRevocations, { session_data: OLD_SEALED }, T0)));
  });

  it("a session without the new fields seals exactly as the previous version did", async () => {
    const sealed = await seal(new SealKeys(SECRET), OLD_SESSION, "session_data", { iv: OLD_IV });
    assert.equal(sealed, OLD_SEALED);
  });
});

/** The revocations stores the scenarios run against, each made fresh. */
const BACKENDS: Array<{ name: string; open(): Promise<ServerStore> }> = [];
{
  const dir = tempDir();
  const dbs: RawDb[] = [];
  let n = 0;
  BACKENDS.push({
    name: "SqliteStore (a file)",
    async open() {
      const db = await openDb(dir.file(`revocations-${++n}.db`));
      dbs.push(db);
      return new SqliteStore(db, "revocations");
    },
  });
  BACKENDS.push({ name: "MemoryStore", open: () => Promise.resolve(new MemoryStore()) });
  after(() => {
    for (const db of dbs) db.close();
    dir.remove();
  });
}

for (const backend of BACKENDS) {
  describe(`CookieStore revocations in a ${backend.name}`, () => {
    async function setup() {
      const revocations = await backend.open();
      return { revocations, store: new CookieStore(SECRET, { revocations }) };
    }

    it("a revoked user's cookie stops opening; one bound at or after notBefore keeps opening", async () => {
      const { revocations, store } = await setup();
      assert.equal(typeof store.revokeUser, "function");
      const before = await written(store, session("ann", T0));
      const createdBeforeBoundAt = await written(store, session("ann", T0 + 100, T0 - 50));
      const noBoundAt = await written(store, session("ann", undefined, T0));
      const boundAtNotBefore = await written(store, session("ann", T0 + 100));
      const boundLater = await written(store, session("ann", T0 + 200));
      assert.ok(isOpen(await opened(store, before)), "opens before the revocation");

      await store.revokeUser!("ann", T0 + 100, T0 + 100 + IDLE);

      assert.deepEqual(await opened(store, before), { revoked: true }, "bound before notBefore");
      assert.deepEqual(await opened(store, noBoundAt), { revoked: true }, "no boundAt: createdAt");
      assert.ok(isOpen(await opened(store, createdBeforeBoundAt)), "boundAt counts, not createdAt");
      assert.ok(isOpen(await opened(store, boundAtNotBefore)), "bound at notBefore");
      assert.ok(isOpen(await opened(store, boundLater)), "bound after notBefore");
      // The record: under "revoked:" + base64url SHA-256 of the user ID.
      const key = "revoked:" + createHash("sha256").update("ann").digest("base64url");
      assert.equal(revocationKey("ann"), key);
      const stored = await revocations.get(key, T0 + 1000);
      assert.ok(stored);
      assert.equal(stored.createdAt, T0 + 100);
      assert.equal(stored.expiresAt, T0 + 100 + IDLE);
      assert.equal(stored.userId, undefined, "the record is not bound to the user");
      // It ends at `until`, when every session it revokes has expired anyway.
      assert.equal(await revocations.get(key, T0 + 100 + IDLE), null);
    });

    it("a later revokeUser with an earlier notBefore does not un-revoke; a later one moves it", async () => {
      const { revocations, store } = await setup();
      const at50 = await written(store, session("bea", T0 + 50));
      const at150 = await written(store, session("bea", T0 + 150));
      await store.revokeUser!("bea", T0 + 100, T0 + 100 + IDLE);
      assert.deepEqual(await opened(store, at50), { revoked: true });
      assert.ok(isOpen(await opened(store, at150)));

      await store.revokeUser!("bea", T0 + 10, T0 + 10 + IDLE);
      assert.deepEqual(await opened(store, at50), { revoked: true }, "still revoked");
      assert.equal((await revocations.get(revocationKey("bea"), T0))!.createdAt, T0 + 100);

      // An earlier notBefore with a later until keeps the time, extends the record.
      await store.revokeUser!("bea", T0 + 20, T0 + 20 + 2 * IDLE);
      const kept = (await revocations.get(revocationKey("bea"), T0))!;
      assert.deepEqual([kept.createdAt, kept.expiresAt], [T0 + 100, T0 + 20 + 2 * IDLE]);

      await store.revokeUser!("bea", T0 + 200, T0 + 200 + IDLE);
      assert.deepEqual(
        await opened(store, at150),
        { revoked: true },
        "the later revocation covers it",
      );
      const moved = (await revocations.get(revocationKey("bea"), T0))!;
      assert.deepEqual([moved.createdAt, moved.expiresAt], [T0 + 200, T0 + 20 + 2 * IDLE]);
    });

    it("concurrent revocations of one user in one process keep the latest notBefore", async () => {
      const { revocations, store } = await setup();
      const times = [T0 + 40, T0 + 90, T0 + 10, T0 + 70, T0 + 30];
      await Promise.all(times.map((t) => store.revokeUser!("cy", t, t + IDLE)));
      assert.equal((await revocations.get(revocationKey("cy"), T0))!.createdAt, T0 + 90);
      // Bound before the revocation: not even sealed (write checks it), so nothing opens.
      assert.equal(await opened(store, await written(store, session("cy", T0 + 89))), null);
      assert.ok(isOpen(await opened(store, await written(store, session("cy", T0 + 90)))));
    });

    it("other users, and sessions with no user, are untouched", async () => {
      const { revocations, store } = await setup();
      await store.revokeUser!("dan", T0 + 100, T0 + 100 + IDLE);
      assert.ok(await opens(store, session("eve", T0)), "another user");
      assert.ok(await opens(store, session("dan2", T0)), "a user ID that starts alike");
      assert.ok(await opens(store, session(undefined, undefined, T0)), "no user");
      assert.equal(await revocations.get(revocationKey("eve"), T0 + 1000), null);
      // A revocation of one user does not reach a store without the option either.
      assert.ok(await opens(new CookieStore(SECRET), session("dan", T0)));
    });

    it("revokeUser refuses values that are no user or no times", async () => {
      const { store } = await setup();
      const bad: Array<[unknown, unknown, unknown]> = [
        ["", T0, T0 + IDLE],
        [42, T0, T0 + IDLE],
        ["ann", NaN, T0 + IDLE],
        ["ann", T0, Infinity],
        ["ann", T0 + IDLE, T0],
      ];
      for (const [user, nb, until] of bad) {
        await assert.rejects(
          // deno-lint-ignore no-explicit-any
          store.revokeUser!(user as any, nb as number, until as number),
          SessionValueError,
          `${String(user)} ${String(nb)} ${String(until)}`,
        );
      }
    });
  });
}

describe("a failing revocations store fails the read", () => {
  it("a closed database: read rejects with SessionStoreError instead of opening the cookie", async () => {
    const dir = tempDir();
    const db = await openDb(dir.file("closing.db"));
    try {
      const store = new CookieStore(SECRET, { revocations: new SqliteStore(db, "revocations") });
      const cookies = await written(store, session("fay", T0));
      assert.ok(isOpen(await opened(store, cookies)));
      // The fault: the database is closed under the store (a real failure, not a fake).
      db.close();
      await assert.rejects(opened(store, cookies), SessionStoreError);
      // A session with no user needs no lookup, so it still opens.
      assert.ok(isOpen(await opened(store, await written(store, session(undefined, undefined)))));
    } finally {
      dir.remove();
    }
  });
});

describe("the revocations option", () => {
  it("without it the store has no revokeUser at all", () => {
    const store = new CookieStore(SECRET);
    assert.equal(store.revokeUser, undefined);
    assert.ok(!("revokeUser" in store));
    assert.equal(new CookieStore(SECRET, { revocations: undefined }).revokeUser, undefined);
  });

  it("anything but a server store is a SessionConfigError naming the option", () => {
    const bad: unknown[] = [
      null,
      "sqlite.db",
      42,
      {},
      { get() {}, create() {} },
      () => {},
      new CookieStore(SECRET),
    ];
    for (const revocations of bad) {
      assert.throws(
        () => new CookieStore(SECRET, { revocations: revocations as ServerStore }),
        (error: unknown) =>
          error instanceof SessionConfigError && /revocations/.test(error.message) &&
          /server store|SqliteStore/.test(error.message),
        String(revocations),
      );
    }
    assert.match(
      (() => {
        try {
          new CookieStore(SECRET, { revocations: { get() {} } as unknown as ServerStore });
        } catch (error) {
          return (error as Error).message;
        }
        return "";
      })(),
      /revocations has no create, update, rotate, delete/,
    );
  });
});
