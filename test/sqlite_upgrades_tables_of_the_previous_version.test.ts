/**
 * A table written by an earlier version of this library is upgraded in place
 * when SqliteStore opens it: the first layout (no `user_id`, `last_seen_at`,
 * `meta` or `moved_at` columns) and the layout before rotation markers (no
 * `moved_at`). The missing columns and the `user_id` index are added, every
 * session is kept (its user, settings and last write too), a second open
 * adds nothing, and two processes opening the file at the same moment both
 * come up. On the upgraded table the new operations work: users are bound
 * and unbound, `lastSeenAt` and `meta` are kept, increments follow
 * `incremented` (a missing key counts as 0, a non-number stays, the sum is a
 * double), `listByUser` and `deleteByUser` go through the `user_id` index,
 * a rotation leaves its marker under the old key, and increments from two
 * processes at once all land. A table of the original oak_sessions is
 * migrated straight to the new shape.
 *
 * The clock is the `now` argument every store call takes, set by the test.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import {
  incremented,
  MOVED_MARKER_MS,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import { sessionKey } from "../src/session_id.ts";
import { sqliteStatements, SqliteStore } from "../src/stores/sqlite.ts";
import {
  isDeno,
  openDb,
  type RawDb,
  record,
  tempDir,
  values,
  xsqliteShape,
} from "./helpers/sqlite_db.ts";
import { createOriginalTable, NOW } from "./helpers/original_sessions.ts";
import { changeSet } from "./helpers/changes.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

/** The previous version's `createTable` and `createIndex`, as `git show HEAD~` has them. */
function createPreviousTable(raw: RawDb, table: string): void {
  const t = `"${table}"`;
  raw.exec(
    `CREATE TABLE IF NOT EXISTS ${t} (` +
      "key TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, flash TEXT NOT NULL, " +
      "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
  );
  raw.exec(`CREATE INDEX IF NOT EXISTS "${table}_expires_at" ON ${t} (expires_at)`);
}

/**
 * The `createTable`, `createIndex` and `createUserIndex` of the version
 * before rotation markers (every column but `moved_at`).
 */
function createPreMarkerTable(raw: RawDb, table: string): void {
  const t = `"${table}"`;
  raw.exec(
    `CREATE TABLE IF NOT EXISTS ${t} (` +
      "key TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, flash TEXT NOT NULL, " +
      "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, user_id TEXT, " +
      "last_seen_at INTEGER, meta TEXT)",
  );
  raw.exec(`CREATE INDEX IF NOT EXISTS "${table}_expires_at" ON ${t} (expires_at)`);
  raw.exec(`CREATE INDEX IF NOT EXISTS "${table}_user_id" ON ${t} (user_id)`);
}

/** A session as the `create` statement of the version before markers wrote it. */
function insertPreMarker(raw: RawDb, table: string, key: string, rec: SessionRecord): void {
  raw.prepare(
    `INSERT OR REPLACE INTO "${table}" ` +
      "(key, data, flash, created_at, expires_at, user_id, last_seen_at, meta) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  ).run(
    key,
    JSON.stringify(rec.data),
    JSON.stringify(rec.flash),
    rec.createdAt,
    rec.expiresAt,
    rec.userId ?? null,
    rec.lastSeenAt ?? null,
    rec.meta ?? null,
  );
}

/** A session as the previous version's `create` statement wrote it. */
function insertPrevious(raw: RawDb, table: string, key: string, rec: SessionRecord): void {
  raw.prepare(
    `INSERT OR REPLACE INTO "${table}" (key, data, flash, created_at, expires_at) ` +
      "VALUES (?, ?, ?, ?, ?)",
  ).run(key, JSON.stringify(rec.data), JSON.stringify(rec.flash), rec.createdAt, rec.expiresAt);
}

function columns(raw: RawDb, table: string): string[] {
  return (raw.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").all(table) as Array<
    { name: string }
  >).map((r) => r.name);
}

function indexes(raw: RawDb, table: string): string[] {
  return (raw.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL " +
      "ORDER BY name",
  ).all(table) as Array<{ name: string }>).map((r) => r.name);
}

function plan(raw: RawDb, sql: string): string[] {
  const params = Array((sql.match(/\?/g) ?? []).length).fill(1);
  return raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) =>
    String((r as { detail: string }).detail)
  );
}

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

const change = (partial: Partial<SessionChange>): SessionChange =>
  changeSet(T0 + 2 * HOUR, partial);

const NEW_COLUMNS = [
  "key",
  "data",
  "flash",
  "created_at",
  "expires_at",
  "user_id",
  "last_seen_at",
  "meta",
  "moved_at",
];

const PREVIOUS_SESSIONS: Array<[string, SessionRecord]> = [
  ["alive1", record({ name: "Zoë", n: 1 }, { createdAt: T0 - HOUR, expiresAt: T0 + HOUR })],
  ["alive2", record({}, { createdAt: T0 - HOUR, expiresAt: T0 + HOUR }, { notice: "Saved!" })],
  ["alive3", record({ cart: [1, 2] }, { createdAt: T0 - 2 * HOUR, expiresAt: T0 + 3 * HOUR })],
  ["gone", record({ x: 1 }, { createdAt: T0 - 2 * HOUR, expiresAt: T0 - HOUR })],
];

describe("SqliteStore upgrades a table of the previous version", () => {
  const dir = tempDir();
  const open: RawDb[] = [];
  after(() => {
    for (const db of open) db.close();
    dir.remove();
  });
  async function fresh(name: string): Promise<RawDb> {
    const db = await openDb(dir.file(`${name}.db`));
    open.push(db);
    return db;
  }

  for (const shape of ["native", "x/sqlite"] as const) {
    it(`adds the columns and the user_id index, keeps every session (${shape})`, async () => {
      const raw = await fresh(`upgrade_${shape.replace("/", "")}`);
      createPreviousTable(raw, "sessions");
      for (const [key, rec] of PREVIOUS_SESSIONS) insertPrevious(raw, "sessions", key, rec);
      const db = shape === "native" ? raw : xsqliteShape(raw, 3);
      const lines: string[] = [];
      const store = new SqliteStore(db, "sessions", {
        log: (l) => lines.push(l),
        cleanupIntervalSeconds: 0,
      });
      assert.equal(lines.length, 0, "not taken for the original's table");
      assert.deepEqual(columns(raw, "sessions"), NEW_COLUMNS);
      assert.deepEqual(indexes(raw, "sessions"), ["sessions_expires_at", "sessions_user_id"]);
      const count = raw.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number };
      assert.equal(count.n, PREVIOUS_SESSIONS.length, "every row kept, the expired one too");
      for (const [key, rec] of PREVIOUS_SESSIONS.slice(0, 3)) {
        assert.deepEqual(await store.get(key, T0), rec, `${key} reads as it was written`);
      }
      assert.equal(await store.get("gone", T0), null);

      // A second open (a restart, another process) changes nothing.
      const before = raw.prepare("SELECT sql FROM sqlite_master ORDER BY name").all();
      const again = new SqliteStore(db, "sessions", { log: (l) => lines.push(l) });
      assert.deepEqual(raw.prepare("SELECT sql FROM sqlite_master ORDER BY name").all(), before);
      assert.equal(lines.length, 0, lines.join("\n"));
      await again.close();

      // The new operations on the old rows.
      assert.ok(
        await store.update(
          "alive1",
          change({ userId: "u1", meta: '{"idle":60}', lastSeenAt: T0, increment: { n: 2 } }),
          T0,
        ),
      );
      const bound = await store.get("alive1", T0);
      assert.equal(bound!.userId, "u1");
      assert.equal(bound!.meta, '{"idle":60}');
      assert.equal(bound!.lastSeenAt, T0);
      assert.deepEqual(values(bound!.data), { name: "Zoë", n: 3 });
      assert.ok(await store.update("alive2", change({ userId: "u1", lastSeenAt: T0 + 1 }), T0));
      assert.ok(await store.update("alive3", change({ userId: "u2" }), T0));
      const listed = await store.listByUser("u1", T0);
      assert.deepEqual(listed.map((s) => s.key).sort(), ["alive1", "alive2"]);
      assert.deepEqual(listed.find((s) => s.key === "alive1")!.record, bound);
      assert.deepEqual(await store.listByUser("nobody", T0), []);

      // A rotation keeps the user, the settings and the last write, and
      // leaves its marker under the old key.
      assert.equal(
        await store.rotate("alive1", "alive1b", change({ lastSeenAt: T0 + 5 }), T0),
        true,
      );
      const rotated = await store.get("alive1b", T0);
      assert.equal(rotated!.userId, "u1");
      assert.equal(rotated!.meta, '{"idle":60}');
      assert.equal(rotated!.lastSeenAt, T0 + 5);
      assert.equal((await store.get("alive1", T0))!.movedAt, T0);
      assert.equal(await store.update("alive1", change({ userId: "u1" }), T0), "moved");

      // A refresh moves the last write; unbinding takes the session out of the list.
      assert.ok(await store.update("alive2", change({ lastSeenAt: T0 + 9 }), T0));
      assert.equal((await store.get("alive2", T0))!.lastSeenAt, T0 + 9);
      assert.equal((await store.get("alive2", T0))!.userId, "u1", "a refresh keeps the user");
      assert.ok(await store.update("alive2", change({ userId: null }), T0));
      assert.equal((await store.get("alive2", T0))!.userId, undefined);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key), ["alive1b"]);

      // deleteByUser removes all but the kept keys and counts them.
      for (const k of ["d1", "d2", "d3"]) {
        await store.create(
          k,
          { ...record({}, { createdAt: T0, expiresAt: T0 + HOUR }), userId: "u1" },
          T0,
        );
      }
      assert.equal(await store.deleteByUser("u1", ["d2", "alive1b"], T0), 2);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key).sort(), [
        "alive1b",
        "d2",
      ]);
      assert.equal(await store.deleteByUser("u1", ["a", "b", "c", "d", "e", "d2"], T0), 1);
      assert.equal(await store.deleteByUser("u1", [], T0), 1);
      assert.deepEqual(await store.listByUser("u1", T0), []);
      assert.equal((await store.get("alive3", T0))!.userId, "u2", "another user's session stays");
      await store.close();
    });
  }

  it("listByUser and deleteByUser search the user_id index (of an upgraded table)", async () => {
    const raw = await fresh("plan");
    createPreviousTable(raw, "app_sessions");
    for (let i = 0; i < 300; i++) {
      insertPrevious(
        raw,
        "app_sessions",
        `k${i}`,
        record({}, { createdAt: T0, expiresAt: T0 + (i % 2 ? HOUR : -HOUR) }),
      );
    }
    const store = new SqliteStore(raw, "app_sessions", { cleanupIntervalSeconds: 0 });
    // Three users with 100 sessions each, half of them expired.
    raw.exec(`UPDATE app_sessions SET user_id = 'u' || (rowid % 3)`);
    const sql = sqliteStatements("app_sessions");
    const byUser = "SEARCH app_sessions USING INDEX app_sessions_user_id (user_id=?)";
    assert.deepEqual(plan(raw, sql.listByUser), [byUser]);
    assert.deepEqual(plan(raw, sql.deleteByUser), [byUser]);
    const keeping = `${sql.deleteByUser} AND key NOT IN (?, ?)`;
    const steps = plan(raw, keeping);
    assert.equal(steps[0], byUser, steps.join("; "));
    // The statements the store runs are these.
    assert.equal((await store.listByUser("u1", T0)).length, 50, "the live ones");
    assert.equal(await store.deleteByUser("u1", ["k3"], T0), 99, "expired ones go too");
    assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key), ["k3"]);
    await store.close();
  });

  it("increments as store.ts's incremented does, together with set and delete", async () => {
    const raw = await fresh("increments");
    const store = new SqliteStore(raw);
    const data = {
      int: 41,
      big: 2 ** 53 - 1,
      frac: 0.1,
      text: "7",
      list: [1],
      gone: 5,
      reset: 9,
    };
    await store.create("s", record(data, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
    const increment = {
      int: 1,
      big: 1,
      frac: 0.2,
      text: 1,
      list: 1,
      gone: 2,
      reset: 1,
      fresh: -2.5,
    };
    assert.ok(
      await store.update(
        "s",
        change({ set: fields({ reset: 100 }), delete: ["gone"], increment }),
        T0,
      ),
    );
    const got = (await store.get("s", T0))!.data;
    assert.deepEqual(values(got), {
      int: 42,
      big: 2 ** 53,
      frac: 0.1 + 0.2,
      text: "7",
      list: [1],
      reset: 101,
      gone: 2,
      fresh: -2.5,
    });
    assert.equal(got.frac, incremented("0.1", 0.2));
    assert.equal(got.big, "9007199254740992");
    await store.close();
  });

  it("migrates a table of the original oak_sessions straight to the new shape", async () => {
    const raw = await fresh("original");
    createOriginalTable(raw, "sessions");
    const store = new SqliteStore(raw, "sessions", { log: () => {} });
    assert.deepEqual(columns(raw, "sessions"), NEW_COLUMNS);
    assert.deepEqual(indexes(raw, "sessions"), ["sessions_expires_at", "sessions_user_id"]);
    const key = await sessionKey("V1StGXR8_Z5jdHi6B-myT");
    assert.ok(await store.update(key, change({ userId: "u9", increment: { userId: 1 } }), NOW));
    const got = await store.get(key, NOW);
    assert.equal(got!.userId, "u9");
    assert.equal(got!.data.userId, "8", "the original's own data key userId, incremented");
    assert.deepEqual((await store.listByUser("u9", NOW)).map((s) => s.key), [key]);
    await store.close();
  });
});

/** Sessions as the version before markers kept them: users, settings, last writes. */
const PRE_MARKER_SESSIONS: Array<[string, SessionRecord]> = [
  ["bound", {
    ...record({ cart: [1] }, { createdAt: T0 - HOUR, expiresAt: T0 + HOUR }),
    userId: "u1",
    lastSeenAt: T0 - 60_000,
    meta: '{"idle":3600}',
  }],
  ["bound2", {
    ...record({ n: 1 }, { createdAt: T0 - HOUR, expiresAt: T0 + HOUR }, { notice: "Hi" }),
    userId: "u1",
    lastSeenAt: T0 - 1000,
  }],
  ["anon", record({ theme: "dark" }, { createdAt: T0 - HOUR, expiresAt: T0 + 2 * HOUR })],
  ["gone", { ...record({}, { createdAt: T0 - 2 * HOUR, expiresAt: T0 - HOUR }), userId: "u1" }],
];

describe("SqliteStore upgrades a table of the version before rotation markers", () => {
  const dir = tempDir();
  const open: RawDb[] = [];
  after(() => {
    for (const db of open) db.close();
    dir.remove();
  });

  for (const shape of ["native", "x/sqlite"] as const) {
    it(`adds moved_at in place, keeps every session and its user (${shape})`, async () => {
      const raw = await openDb(dir.file(`premarker_${shape.replace("/", "")}.db`));
      open.push(raw);
      createPreMarkerTable(raw, "sessions");
      for (const [key, rec] of PRE_MARKER_SESSIONS) insertPreMarker(raw, "sessions", key, rec);
      const rowsBefore = raw.prepare(
        "SELECT key, data, flash, created_at, expires_at, user_id, last_seen_at, meta " +
          "FROM sessions ORDER BY key",
      ).all();
      const db = shape === "native" ? raw : xsqliteShape(raw, 3);
      const lines: string[] = [];
      const store = new SqliteStore(db, "sessions", {
        log: (l) => lines.push(l),
        cleanupIntervalSeconds: 0,
      });
      assert.equal(lines.length, 0, "not taken for the original's table");
      assert.deepEqual(columns(raw, "sessions"), NEW_COLUMNS);
      assert.deepEqual(indexes(raw, "sessions"), ["sessions_expires_at", "sessions_user_id"]);
      // In place: every row as it was, the expired one too, none of them a marker.
      assert.deepEqual(
        raw.prepare(
          "SELECT key, data, flash, created_at, expires_at, user_id, last_seen_at, meta " +
            "FROM sessions ORDER BY key",
        ).all(),
        rowsBefore,
      );
      const markers = raw.prepare("SELECT count(*) AS n FROM sessions WHERE moved_at IS NOT NULL")
        .get() as { n: number };
      assert.equal(markers.n, 0);
      for (const [key, rec] of PRE_MARKER_SESSIONS.slice(0, 3)) {
        assert.deepEqual(await store.get(key, T0), rec, `${key} reads as it was written`);
      }
      assert.equal(await store.get("gone", T0), null);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key).sort(), [
        "bound",
        "bound2",
      ]);

      // A second open (a restart, another process) changes nothing.
      const schema = raw.prepare("SELECT sql FROM sqlite_master ORDER BY name").all();
      const again = new SqliteStore(db, "sessions", { log: (l) => lines.push(l) });
      assert.deepEqual(raw.prepare("SELECT sql FROM sqlite_master ORDER BY name").all(), schema);
      assert.equal(lines.length, 0, lines.join("\n"));
      await again.close();

      // Markers on the upgraded table: the rotated session leaves one, which
      // takes no write and is not the user's.
      assert.equal(await store.rotate("bound", "bound-new", change({ lastSeenAt: T0 }), T0), true);
      const marker = await store.get("bound", T0 + 1);
      assert.equal(marker!.movedAt, T0);
      assert.equal(marker!.expiresAt, T0 + MOVED_MARKER_MS);
      assert.equal(marker!.userId, undefined);
      assert.deepEqual(values(marker!.data), {});
      assert.equal(await store.update("bound", change({ set: fields({ x: 1 }) }), T0 + 1), "moved");
      assert.equal(await store.update("bound", change({}), T0 + 1), "moved", "a refresh too");
      assert.equal(await store.rotate("bound", "other", change({}), T0 + 1), "moved");
      assert.equal(await store.get("other", T0 + 1), null);
      const moved = await store.get("bound-new", T0 + 1);
      assert.deepEqual(values(moved!.data), { cart: [1] });
      assert.equal(moved!.userId, "u1");
      assert.equal(moved!.meta, '{"idle":3600}');
      assert.deepEqual((await store.listByUser("u1", T0 + 1)).map((s) => s.key).sort(), [
        "bound-new",
        "bound2",
      ]);
      assert.equal(await store.deleteByUser("u1", [], T0 + 1), 3, "the expired one goes too");
      assert.equal((await store.get("bound", T0 + 1))?.movedAt, T0, "the marker stays");
      assert.deepEqual(values((await store.get("anon", T0 + 1))!.data), { theme: "dark" });
      await store.close();
    });
  }
});

const workerScript = fileURLToPath(new URL("./helpers/sqlite_counter_worker.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Starts helpers/sqlite_counter_worker.ts in a new process of this runtime. */
function startCounter(args: string[]) {
  const [command, prefix] = isDeno
    ? [(globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath(), [
      "run",
      "-A",
    ]]
    : [process.execPath, ["--import", "tsx"]];
  const child = spawn(command, [...prefix, workerScript, ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk.toString()));
  const lines: string[] = [];
  let onLine = () => {};
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    onLine();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    child,
    ready: new Promise<void>((resolve, reject) => {
      onLine = () => lines.includes("ready") && resolve();
      exited.then((code) => reject(new Error(`worker exited (${code}) early:\n${stderr}`)));
    }),
    go: () => child.stdin!.write("go\n"),
    async result(): Promise<{ applied: number }> {
      const code = await exited;
      if (code !== 0) throw new Error(`worker failed (exit ${code}):\n${stderr}`);
      return JSON.parse(lines[lines.length - 1]);
    },
  };
}

describe("SqliteStore on an upgraded table shared by two processes", () => {
  const dir = tempDir();
  const workers: Array<ReturnType<typeof startCounter>> = [];
  after(() => {
    for (const w of workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    }
    dir.remove();
  });

  const layouts = [
    { name: "the first layout", create: createPreviousTable, insert: insertPrevious },
    { name: "the layout before markers", create: createPreMarkerTable, insert: insertPreMarker },
  ];
  for (const layout of layouts) {
    it(`both open (and upgrade) a file of ${layout.name} at once; 2 × 50 increments land`, async () => {
      const path = dir.file(`shared_${layouts.indexOf(layout)}.db`);
      const now = Date.now();
      const raw = await openDb(path);
      // The earlier version's table, in WAL as that version left it.
      raw.exec("PRAGMA journal_mode = WAL");
      layout.create(raw, "sessions");
      const times = { createdAt: now, expiresAt: now + HOUR };
      layout.insert(raw, "sessions", "shared", record({ count: 0 }, times));
      layout.insert(raw, "sessions", "other", record({ a: 1 }, times));
      raw.close();

      const a = startCounter([path, "shared", "50"]);
      const b = startCounter([path, "shared", "50"]);
      workers.push(a, b);
      await Promise.all([a.ready, b.ready]);
      a.go();
      b.go();
      const [ra, rb] = await Promise.all([a.result(), b.result()]);
      assert.equal(ra.applied, 50);
      assert.equal(rb.applied, 50);

      const check = await openDb(path);
      assert.deepEqual(columns(check, "sessions"), NEW_COLUMNS);
      const store = new SqliteStore(check);
      const got = await store.get("shared", Date.now());
      assert.deepEqual(values(got!.data), { count: 100 });
      assert.ok(got!.lastSeenAt! >= now);
      assert.deepEqual(values((await store.get("other", Date.now()))!.data), { a: 1 });
      await store.close();
      check.close();
    });
  }
});
