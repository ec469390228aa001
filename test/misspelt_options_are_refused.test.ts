/**
 * A misspelt option is an error where it is passed, never silently ignored:
 * the middleware and every store refuse a key they do not know with a
 * `SessionConfigError` naming the nearest valid key (or listing them all
 * when none is near). Every valid key is accepted, and the valid keys are
 * exactly the keys each constructor reads: given a value for every listed
 * key, the constructor reads each of them and nothing else, so the lists
 * cannot drift from the code. Real drivers and clients throughout (none is
 * connected: construction needs no server).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { createClient } from "redis";
import session from "express-session";
import { MemoryStore, Session, SessionConfigError } from "../mod.ts";
import { checkOptionKeys, editDistance, nearestKey } from "../src/option_keys.ts";
import { SESSION_OPTION_KEYS } from "../src/options.ts";
import { COOKIE_STORE_OPTION_KEYS, CookieStore } from "../src/stores/cookie.ts";
import { DENO_KV_STORE_OPTION_KEYS, type DenoKvLike, DenoKvStore } from "../src/stores/deno_kv.ts";
import {
  EXPRESS_SESSION_STORE_OPTION_KEYS,
  ExpressSessionStore,
} from "../src/stores/express_session.ts";
import { MEMORY_STORE_OPTION_KEYS } from "../src/stores/memory.ts";
import { POSTGRES_STORE_OPTION_KEYS, PostgresStore } from "../src/stores/postgres.ts";
import { REDIS_STORE_OPTION_KEYS, RedisStore } from "../src/stores/redis.ts";
import { SQLITE_STORE_OPTION_KEYS, SqliteStore } from "../src/stores/sqlite.ts";
import { fromV9Store, V9_STORE_OPTION_KEYS } from "../src/stores/v9_store.ts";
import { WEBDIS_STORE_OPTION_KEYS, WebdisStore } from "../src/stores/webdis.ts";
import { POSTGRES_URL } from "./kit/postgres.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { V9SqliteStore } from "./helpers/v9_stores.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;
const SECRET = "a-secret-of-at-least-thirty-two-characters!";

/** One place that takes options: how to build it, and a valid value for each of its keys. */
interface Subject {
  name: string;
  /** How the error names it, when not by `name`. */
  where?: string;
  keys: readonly string[];
  /** Builds with `options`; returns what to dispose of, if anything. */
  build(options: Record<string, unknown>): unknown;
  /** A valid value for every key the subject takes. */
  valid: () => Record<string, unknown>;
  /** A realistic misspelling, and the key the error must suggest. */
  misspelt: [string, unknown, string];
  /** Keys renamed (old name -> new name): the old one stays a valid key; `valid` gives the new. */
  renamed?: Record<string, string>;
  onlyOnDeno?: boolean;
}

describe("misspelt options are refused, naming the nearest valid key", () => {
  const dir = tempDir();
  let db: RawDb;
  let pool: pg.Pool;
  let kv: DenoKvLike | undefined;
  const redis = createClient({ url: "redis://127.0.0.1:6379" });
  const toClose: Array<{ close(): unknown }> = [];
  const expressStore = new (session as unknown as { MemoryStore: new () => object })
    .MemoryStore();

  before(async () => {
    db = await openDb(dir.file("sessions.db"));
    pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    pool.on("error", () => {});
    if (deno !== undefined) kv = await deno.openKv(":memory:");
  });

  after(async () => {
    for (const c of toClose) await c.close();
    await pool.end();
    db.close();
    kv?.close();
    dir.remove();
  });

  const log = (_line: string) => {};
  const subjects: Subject[] = [
    {
      name: "Session.initMiddleware",
      where: "session options",
      keys: SESSION_OPTION_KEYS,
      build: (options) => Session.initMiddleware(new MemoryStore(), options),
      valid: () => ({
        expireAfterSeconds: 600,
        absoluteTimeoutSeconds: 3600,
        refreshIntervalSeconds: 60,
        storeIdleSeconds: 1200,
        sessionCookieName: "sid",
        cookieGetOptions: { signed: false },
        cookieSetOptions: { sameSite: "strict" },
        maxIdleSeconds: 86_400,
        maxAbsoluteSeconds: 7 * 86_400,
        recordDevice: { userAgent: true, ip: true },
        expressSessionCookie: { secret: "an express-session secret" },
        csrf: { trustedOrigins: ["https://admin.example.com"], tokens: true },
        onEvent: () => {},
        slowStoreCallMs: 250,
        now: Date.now,
      }),
      misspelt: ["expireAfterSecs", 60, "expireAfterSeconds"],
    },
    {
      name: "new Session",
      where: "session options",
      keys: SESSION_OPTION_KEYS,
      build: (options) => new Session(new MemoryStore(), options),
      valid: () => ({
        expireAfterSeconds: 600,
        absoluteTimeoutSeconds: 3600,
        refreshIntervalSeconds: 60,
        storeIdleSeconds: 1200,
        sessionCookieName: "sid",
        cookieGetOptions: {},
        cookieSetOptions: {},
        maxIdleSeconds: 600,
        maxAbsoluteSeconds: 3600,
        recordDevice: {},
        expressSessionCookie: { secret: "an express-session secret" },
        csrf: false,
        onEvent: () => {},
        slowStoreCallMs: 0,
        now: () => 0,
      }),
      misspelt: ["sessionCookie", "sid", "sessionCookieName"],
    },
    {
      name: "MemoryStore",
      keys: MEMORY_STORE_OPTION_KEYS,
      build: (options) => new MemoryStore(options),
      valid: () => ({ maxSessions: 5, cleanupIntervalSeconds: 10 }),
      misspelt: ["maxSession", 5, "maxSessions"],
      renamed: { sweepIntervalSeconds: "cleanupIntervalSeconds" },
    },
    {
      name: "CookieStore",
      keys: COOKIE_STORE_OPTION_KEYS,
      build: (options) => new CookieStore(SECRET, options),
      valid: () => ({
        cookieGetOptions: { signed: false },
        cookieSetDeleteOptions: { domain: "example.com" },
        sessionDataCookieName: "data",
        maxCookies: 2,
        compress: true,
        crypto: "web",
        revocations: new MemoryStore(),
      }),
      // The middleware's name for the option, passed to the store.
      misspelt: ["cookieSetOptions", {}, "cookieSetDeleteOptions"],
    },
    {
      name: "SqliteStore",
      keys: SQLITE_STORE_OPTION_KEYS,
      build: (options) => new SqliteStore(db as never, "sessions", options),
      valid: () => ({
        walMode: false,
        timeoutMs: 100,
        cleanupIntervalSeconds: 0,
        log,
        migratedIdleSeconds: 60,
      }),
      misspelt: ["busyTimeout", 100, "busyTimeoutMs"],
      renamed: { busyTimeoutMs: "timeoutMs" },
    },
    {
      name: "PostgresStore",
      keys: POSTGRES_STORE_OPTION_KEYS,
      build: (options) => new PostgresStore(pool, "sessions", options),
      valid: () => ({ timeoutMs: 1000, cleanupIntervalSeconds: 0, log, migratedIdleSeconds: 60 }),
      misspelt: ["timeout", 1000, "timeoutMs"],
    },
    {
      name: "RedisStore",
      keys: REDIS_STORE_OPTION_KEYS,
      build: (options) => new RedisStore(redis, options),
      valid: () => ({
        keyPrefix: "app_",
        timeoutMs: 1000,
        originalKeyPrefix: "session_",
        log,
        migratedIdleSeconds: 60,
      }),
      misspelt: ["prefix", "app_", "keyPrefix"],
    },
    {
      name: "WebdisStore",
      keys: WEBDIS_STORE_OPTION_KEYS,
      build: (options) => {
        const store = new WebdisStore(options as never);
        toClose.push(store);
        return store;
      },
      valid: () => ({
        url: "http://127.0.0.1:7379",
        keyPrefix: "app_",
        timeoutMs: 1000,
        username: "app",
        password: "pw",
        transport: "fetch",
        maxConnections: 4,
        originalKeyPrefix: "session_",
        log,
        migratedIdleSeconds: 60,
      }),
      misspelt: ["maxConnection", 4, "maxConnections"],
    },
    {
      name: "ExpressSessionStore",
      keys: EXPRESS_SESSION_STORE_OPTION_KEYS,
      build: (options) => new ExpressSessionStore(expressStore as never, options),
      valid: () => ({ timeoutMs: 1000, markDeletions: false }),
      misspelt: ["markDeletion", false, "markDeletions"],
    },
    {
      name: "fromV9Store",
      keys: V9_STORE_OPTION_KEYS,
      build: (options) => fromV9Store(new V9SqliteStore(db, "v9_sessions"), options),
      valid: () => ({ migratedIdleSeconds: 60 }),
      misspelt: ["migratedIdleSecs", 60, "migratedIdleSeconds"],
    },
    {
      name: "DenoKvStore",
      keys: DENO_KV_STORE_OPTION_KEYS,
      build: (options) => new DenoKvStore(kv!, options),
      valid: () => ({ keyPrefix: ["app", "sessions"] }),
      misspelt: ["prefx", ["app"], "prefix"],
      renamed: { prefix: "keyPrefix" },
      onlyOnDeno: true,
    },
  ];

  for (const s of subjects) {
    const skip = s.onlyOnDeno && deno === undefined ? "Deno KV exists only on Deno" : false;
    const [wrong, value, nearest] = s.misspelt;

    it(`${s.name}: "${wrong}" throws SessionConfigError suggesting "${nearest}"`, { skip }, () => {
      assert.throws(() => s.build({ ...s.valid(), [wrong]: value }), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError, String(e));
        assert.equal(
          (e as Error).message,
          `${s.where ?? s.name}: unknown option "${wrong}"; did you mean "${nearest}"?`,
        );
        return true;
      });
    });

    it(`${s.name}: a key near none lists the valid keys`, { skip }, () => {
      assert.throws(() => s.build({ qqqqqqqqqqqq: 1 }), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError, String(e));
        assert.ok(
          (e as Error).message.endsWith(`the options are ${s.keys.join(", ")}`),
          (e as Error).message,
        );
        return true;
      });
    });

    // An option under its old name and its new one at once is refused, so
    // `valid` gives each under its new name, and old names are tried apart.
    const renamed = s.renamed ?? {};
    const current = s.keys.filter((k) => !Object.hasOwn(renamed, k));

    it(`${s.name}: accepts every valid key, and reads exactly the listed keys`, { skip }, () => {
      const valid = s.valid();
      assert.deepEqual(Object.keys(valid).sort(), [...current].sort(), "a value for every key");
      const read = new Set<string>();
      const watched = new Proxy(valid, {
        get(target, key, receiver) {
          if (typeof key === "string") read.add(key);
          return Reflect.get(target, key, receiver);
        },
      });
      s.build(watched);
      assert.deepEqual([...read].sort(), [...current].sort());
      for (const [oldName, newName] of Object.entries(renamed)) {
        const { [newName]: value, ...others } = s.valid();
        s.build({ ...others, [oldName]: value });
      }
    });
  }

  it("DenoKvStore.open: a misspelt option is refused before any database is opened", {
    skip: deno === undefined ? "Deno KV exists only on Deno" : false,
  }, async () => {
    await assert.rejects(
      DenoKvStore.open(dir.file("never-opened.db"), { prefx: ["app"] } as never),
      /^SessionConfigError: DenoKvStore\.open: unknown option "prefx"; did you mean "prefix"\?$/,
    );
    const { existsSync } = await import("node:fs");
    assert.equal(existsSync(dir.file("never-opened.db")), false);
  });

  it("RedisStore: a key prefix string (the earlier form) is still accepted", () => {
    assert.ok(new RedisStore(redis, "app_") instanceof RedisStore);
  });
});

describe("options nested in the middleware's options", () => {
  const build = (options: Record<string, unknown>) =>
    Session.initMiddleware(new MemoryStore(), options);

  it('recordDevice: "userAgnt" suggests "userAgent"', () => {
    assert.throws(
      () => build({ recordDevice: { userAgnt: true } }),
      /^SessionConfigError: recordDevice: unknown option "userAgnt"; did you mean "userAgent"\?$/,
    );
  });

  it("cookieSetOptions: a near miss of an Oak cookie option is refused", () => {
    for (const [wrong, nearest] of [["httponly", "httpOnly"], ["sameSit", "sameSite"]]) {
      assert.throws(() => build({ cookieSetOptions: { [wrong]: true } }), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError);
        assert.match(
          (e as Error).message,
          new RegExp(`^cookieSetOptions: unknown option "${wrong}"; did you mean "${nearest}"\\?`),
        );
        return true;
      });
    }
    assert.throws(() => build({ cookieGetOptions: { sigend: true } }), /did you mean "signed"/);
  });

  it("cookie options Oak may add later, far from any known one, pass through", () => {
    assert.equal(
      typeof build({ cookieSetOptions: { sameParty: true, partitioned: true } }),
      "function",
    );
  });

  it("CookieStore checks its Oak cookie options the same way", () => {
    assert.throws(
      () => new CookieStore(SECRET, { cookieSetDeleteOptions: { domian: "example.com" } }),
      /^SessionConfigError: CookieStore: cookieSetDeleteOptions: unknown option "domian"; did you mean "domain"\?/,
    );
    assert.throws(
      () => new CookieStore(SECRET, { cookieGetOptions: { singed: true } }),
      /CookieStore: cookieGetOptions: unknown option "singed"; did you mean "signed"\?/,
    );
  });
});

describe("nearest key", () => {
  it("counts insertions, deletions, substitutions and swaps, ignoring case", () => {
    assert.equal(editDistance("maxSession", "maxSessions"), 1);
    assert.equal(editDistance("tiemoutMs", "timeoutMs"), 1);
    assert.equal(editDistance("httponly", "httpOnly"), 0);
    assert.equal(editDistance("expireAfterSecs", "expireAfterSeconds"), 3);
    assert.equal(editDistance("", "ip"), 2);
  });

  it("picks the closest of several, and none when nothing is near", () => {
    assert.equal(nearestKey("timeoutMS", ["timeoutMs", "keyPrefix"]), "timeoutMs");
    assert.equal(nearestKey("ttl", REDIS_STORE_OPTION_KEYS), undefined);
  });

  it("options that are not an object are left to the caller's own check", () => {
    for (const options of [undefined, null, "session_", 5]) {
      checkOptionKeys("MemoryStore", options, MEMORY_STORE_OPTION_KEYS);
    }
  });
});
