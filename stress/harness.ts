/**
 * The stress and fault suite of oak-sessions: nine checks, each against
 * every store it applies to, over loopback HTTP to real Oak servers in child
 * processes. `npm run stress` runs it at full size (`stress/run.ts`);
 * `test/stress_small.test.ts` runs the small size and asserts every figure.
 *
 * Services it starts and stops itself: a redis-server and a Webdis on spare
 * ports (Redis and Webdis stores use databases 0 and 1 of that Redis, so
 * each store's count and dump are its own and a Redis session ID is foreign
 * to the Webdis server), one Oak server per store, and for the outage check
 * another Redis (and Webdis) it kills and restarts.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import mysql from "mysql2/promise";
import { STORE_KINDS, type StoreKind } from "../test/kit/stores.ts";
import { CookieStore } from "../mod.ts";
import { emptyFields } from "../src/store.ts";
import { newSessionId } from "../src/session_id.ts";
import { StoreUnderTest } from "./context.ts";
import { anonymousFlood } from "./checks/anonymous_flood.ts";
import { concurrentIncrement, type IncrementLoad } from "./checks/concurrent_increment.ts";
import { concurrentTabs } from "./checks/concurrent_tabs.ts";
import { deleteWins } from "./checks/delete_wins.ts";
import { type ForeignCookie, hostileCookies } from "./checks/hostile_cookies.ts";
import { leakedId } from "./checks/leaked_id.ts";
import { memoryBound } from "./checks/memory_bound.ts";
import { type RotationLoad, rotationRaces } from "./checks/rotation_races.ts";
import {
  type OutageRig,
  type OutageTiming,
  prepareOutage,
  storeOutage,
} from "./checks/store_outage.ts";
import { type CheckResult, formatResult, type Size } from "./result.ts";
import {
  type ChildServer,
  type ServerConfig,
  type Service,
  startChild,
  startSuiteRedis,
  startSuiteWebdis,
  tempDir,
} from "./services.ts";

/** The workload of each check, by size. */
export interface Workload {
  /** Check 1: hostile requests per store. */
  hostile: number;
  /** Real sessions per store (canaries), and sessions created two hours ago (expired). */
  live: number;
  expired: number;
  /** Check 2: clients sharing one session, requests each. */
  tabs: number;
  tabRequests: number;
  /** Check 3: rounds of each race (a slow write or rotation against a logout, expiry, revocation or write). */
  deleteRounds: number;
  /** Check 4: anonymous requests in all, shared evenly by the stores. */
  flood: number;
  /** Check 5: sessions created, and the MemoryStore's maxSessions. */
  memorySessions: number;
  memoryBound: number;
  /** Check 6. */
  outage: OutageTiming;
  /** Check 8: sessions, increments and sets per session, connections. */
  increment: IncrementLoad;
  /** Check 9: users and their browsers, requests in flight around each login and revocation. */
  rotation: RotationLoad;
  /** Time bound of each loop, in ms (a loop stops at its count or here). */
  deadlineMs: number;
}

/** The two sizes: `full` is `npm run stress`, `small` is what `npm test` runs. */
export const SIZES: Record<Size, Workload> = {
  full: {
    hostile: 100_000,
    live: 200,
    expired: 50,
    tabs: 50,
    tabRequests: 200,
    deleteRounds: 1000,
    flood: 1_000_000,
    memorySessions: 1_000_000,
    memoryBound: 10_000,
    outage: { steadyMs: 5000, downMs: 5000, recoverMs: 20_000, maxRequestsPerClient: 100_000 },
    increment: { sessions: 16, increments: 500, sets: 100, connections: 128 },
    rotation: { users: 150, browsers: 3, wave: 24, late: 6, concurrentUsers: 10 },
    deadlineMs: 480_000,
  },
  small: {
    hostile: 2000,
    live: 20,
    expired: 10,
    tabs: 10,
    tabRequests: 20,
    deleteRounds: 50,
    flood: 10_000,
    memorySessions: 20_000,
    memoryBound: 1000,
    outage: { steadyMs: 700, downMs: 700, recoverMs: 10_000, maxRequestsPerClient: 5000 },
    increment: { sessions: 4, increments: 50, sets: 10, connections: 16 },
    rotation: { users: 6, browsers: 3, wave: 12, late: 4, concurrentUsers: 6 },
    deadlineMs: 60_000,
  },
};

/** What to run. */
export interface StressOptions {
  size: Size;
  /** Default: every store. */
  stores?: readonly StoreKind[];
  /** Check numbers to run (1 to 9). Default: all. */
  checks?: readonly number[];
  /** Seed of the hostile inputs (printed, so a run can be repeated). Default: random. */
  seed?: number;
  /** Where progress and result lines go. Default: nowhere. */
  log?: (line: string) => void;
}

/** A whole run. */
export interface StressReport {
  size: Size;
  seed: number;
  results: CheckResult[];
  seconds: number;
}

const TWO_HOURS_MS = 2 * 3600 * 1000;

/** The Cookie header value of one store's session, sealed by another secret or for another name. */
async function foreignSealed(secret: string, name: string): Promise<string> {
  const store = new CookieStore(secret, { sessionDataCookieName: name });
  const parts: string[] = [];
  const jar = {
    get: () => Promise.resolve(undefined),
    set: (_: string, value: string | null) => {
      if (value) parts.push(value);
      return Promise.resolve();
    },
  };
  const data = emptyFields();
  data.canary = JSON.stringify("CANARY-foreign" + randomBytes(4).toString("hex"));
  const now = Date.now();
  await store.write(jar, {
    id: newSessionId(),
    data,
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + 3600_000,
  }, {});
  return parts.join("");
}

/**
 * Run the suite; never throws for a failed figure (see each result's
 * `problems`). Throws when a service cannot start (redis-server or webdis
 * missing), with what to install.
 *
 * ```ts
 * const report = await runStress({ size: "small", checks: [1, 3], log: console.log });
 * const failed = report.results.filter((r) => r.problems.length);
 * ```
 */
export async function runStress(options: StressOptions): Promise<StressReport> {
  const started = Date.now();
  const w = SIZES[options.size];
  const stores = options.stores ?? STORE_KINDS;
  const wanted = (n: number) => !options.checks || options.checks.includes(n);
  const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
  const log = options.log ?? (() => {});
  const results: CheckResult[] = [];
  const record = (r: CheckResult) => {
    results.push(r);
    log(formatResult(r));
  };
  log(
    `oak-sessions stress, size ${options.size}, seed ${seed}, stores ${stores.join(" ")}, ` +
      `${"Deno" in globalThis ? "harness on Deno" : `Node ${process.version}`}, servers on Node`,
  );

  const dir = tempDir("run");
  // PostgresStore runs on the machine's PostgreSQL, in a table of this run's own.
  const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const pgTable = `stress_${randomBytes(6).toString("hex")}`;
  // MySqlStore runs on the machine's MariaDB (or MySQL), in a table of this run's own too.
  const myUrl = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
  const secret = randomBytes(32).toString("base64url");
  let redis: Service | undefined;
  let webdis: Service | undefined;
  const suts: StoreUnderTest[] = [];
  // The outage check's own services start now, alongside the others (start-up is slow).
  const outageKinds = wanted(6)
    ? (["redis", "webdis"] as const).filter((k) => stores.includes(k))
    : [];
  const rigs = outageKinds.map((k) => prepareOutage(k));
  // Settled (failures are reported where the rig is used).
  rigs.forEach((r) => r.catch(() => {}));
  try {
    const needsRedis = stores.some((k) => k === "redis" || k === "webdis");
    const perStoreChecks = [1, 2, 3, 4, 7, 8, 9].some(wanted);
    if (perStoreChecks) {
      if (needsRedis) {
        redis = await startSuiteRedis();
        if (stores.includes("webdis")) webdis = await startSuiteWebdis(redis.port, 1);
      }
      const redisUrl = (db: number) => `redis://127.0.0.1:${redis!.port}/${db}`;
      const configs: Record<StoreKind, () => ServerConfig> = {
        memory: () => ({ kind: "memory", env: {}, expireAfterSeconds: 3600 }),
        cookie: () => ({
          kind: "cookie",
          // The cookie store keeps its revocations in SQLite (examples/stores.ts).
          env: { COOKIE_SECRET: secret, SQLITE_FILE: join(dir, "revocations.db") },
          expireAfterSeconds: 3600,
        }),
        sqlite: () => ({
          kind: "sqlite",
          env: { SQLITE_FILE: join(dir, "sessions.db") },
          expireAfterSeconds: 3600,
        }),
        redis: () => ({
          kind: "redis",
          env: { REDIS_URL: redisUrl(0) },
          inspectRedisUrl: redisUrl(0),
          expireAfterSeconds: 3600,
        }),
        webdis: () => ({
          kind: "webdis",
          env: { WEBDIS_URL: `http://127.0.0.1:${webdis?.port}` },
          inspectRedisUrl: redisUrl(1),
          expireAfterSeconds: 3600,
        }),
        postgres: () => ({
          kind: "postgres",
          env: { DATABASE_URL: pgUrl, POSTGRES_TABLE: pgTable },
          expireAfterSeconds: 3600,
        }),
        mysql: () => ({
          kind: "mysql",
          env: { MYSQL_URL: myUrl, MYSQL_TABLE: pgTable },
          expireAfterSeconds: 3600,
        }),
      };
      const launched = await Promise.allSettled(
        stores.map((k) => startChild("server.ts", configs[k](), k)),
      );
      const failedStart = launched.find((s) => s.status === "rejected");
      if (failedStart) {
        for (const s of launched) if (s.status === "fulfilled") await s.value.stop();
        throw (failedStart as PromiseRejectedResult).reason;
      }
      launched.forEach((s, i) => {
        const server = (s as PromiseFulfilledResult<ChildServer>).value;
        const kind = stores[i];
        suts.push(
          new StoreUnderTest(
            kind,
            server,
            kind === "cookie" ? "session_data" : "session",
            kind === "sqlite" ? join(dir, "sessions.db") : undefined,
          ),
        );
      });

      // 4 first: every backend is still empty, so "sessions stored" is absolute.
      if (wanted(4)) {
        const share = Math.ceil(w.flood / suts.length);
        for (const sut of suts) record(await anonymousFlood(sut, share, w.deadlineMs));
      }

      // Real sessions, each with its own canary: some created two hours ago
      // on the server's clock (expired by now), the rest live.
      for (const sut of suts) {
        await sut.control(`clock?offset=${-TWO_HOURS_MS}`);
        for (let i = 0; i < w.expired; i++) {
          sut.expired.push(
            await sut.login(`CANARY-${sut.kind}x${i}old${randomBytes(3).toString("hex")}`),
          );
        }
        await sut.control("clock?offset=0");
        for (let i = 0; i < w.live; i++) {
          // Half the cookie store's sessions span two chunk cookies.
          const pad = sut.kind === "cookie" && i % 2 ? 5000 : 0;
          sut.live.push(
            await sut.login(`CANARY-${sut.kind}x${i}${randomBytes(3).toString("hex")}`, pad),
          );
        }
      }

      if (wanted(1)) {
        const sealedElsewhere: ForeignCookie[] = [
          {
            from: "another secret",
            value: await foreignSealed(randomBytes(32).toString("hex"), "session_data"),
          },
          { from: "another cookie name", value: await foreignSealed(secret, "other_data") },
        ];
        for (const sut of suts) {
          const foreign = [...sealedElsewhere];
          for (const other of suts) {
            if (other === sut) continue;
            for (const s of other.live.slice(0, 20)) {
              foreign.push({ from: other.kind, value: s.cookies.map(([, v]) => v).join("") });
            }
          }
          record(await hostileCookies(sut, foreign, w.hostile, w.deadlineMs, seed));
        }
      }
      if (wanted(2)) {
        for (const sut of suts) {
          record(await concurrentTabs(sut, w.tabs, w.tabRequests, w.deadlineMs));
        }
      }
      if (wanted(3)) {
        for (const sut of suts) {
          for (const r of await deleteWins(sut, w.deleteRounds, w.deadlineMs)) record(r);
        }
      }
      if (wanted(7)) {
        for (const sut of suts) if (sut.serverSide) record(await leakedId(sut));
      }
      if (wanted(8)) {
        for (const sut of suts) record(await concurrentIncrement(sut, w.increment, w.deadlineMs));
      }
      if (wanted(9)) {
        for (const sut of suts) {
          for (const r of await rotationRaces(sut, w.rotation, w.deadlineMs)) record(r);
        }
      }
    }
    for (const sut of suts) sut.client.close();
    await Promise.all(suts.map((s) => s.server.stop()));
    suts.length = 0;
    await webdis?.dispose();
    await redis?.dispose();
    redis = webdis = undefined;

    if (wanted(5) && stores.includes("memory")) {
      record(await memoryBound(w.memorySessions, w.memoryBound, w.deadlineMs));
    }
    while (rigs.length) record(await storeOutage(await rigs.shift()!, w.outage));
  } finally {
    for (const rig of rigs) await rig.then((r: OutageRig) => r.dispose(), () => {});
    for (const sut of suts) sut.client.close();
    await Promise.all(suts.map((s) => s.server.stop()));
    await webdis?.dispose();
    await redis?.dispose();
    rmSync(dir, { recursive: true, force: true });
    if (stores.includes("postgres")) await dropTable(pgUrl, pgTable);
    if (stores.includes("mysql")) await dropMySqlTable(myUrl, pgTable);
  }
  const seconds = (Date.now() - started) / 1000;
  const failed = results.filter((r) => r.problems.length).length;
  log(
    `${results.length} results, ${failed} failed, ${seconds.toFixed(1)} s` +
      (failed ? "" : ": every figure as expected"),
  );
  return { size: options.size, seed, results, seconds };
}

/** Drops this run's PostgreSQL table (the server under test made it). */
async function dropTable(url: string, table: string): Promise<void> {
  const sql = postgres(url, { onnotice: () => {}, connect_timeout: 3 });
  try {
    await sql.unsafe(`DROP TABLE IF EXISTS "${table}"`);
  } catch {
    // PostgreSQL unreachable: the run's results already say so.
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Drops this run's MySQL/MariaDB table (the server under test made it). */
async function dropMySqlTable(url: string, table: string): Promise<void> {
  try {
    const pool = mysql.createPool({ uri: url, connectTimeout: 3000 });
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {});
    await pool.end();
  } catch {
    // MariaDB unreachable: the run's results already say so.
  }
}
