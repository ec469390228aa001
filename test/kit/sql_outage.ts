/**
 * A SQL database going away mid-run, the same for every SQL store with a
 * pool-based driver: requests that need the store fail with 503
 * (`SessionStoreError`), nothing crashes and no promise rejection goes
 * unhandled, no session is half-written, and once the database is back the
 * same store and driver serve the next requests with the sessions stored
 * before the outage intact. A database that stops answering fails requests
 * after `timeoutMs` instead of holding them. A driver's single connection
 * that lost its socket answers 503 saying to pass a pool, without a crash.
 *
 * The outage is an injected fault: the drivers reach the database through a
 * TCP proxy (proxy.ts) that the suite cuts (every connection closed, new
 * ones refused), hangs (sockets open, no bytes) and restores. The shared
 * server itself keeps running.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { SessionStoreError } from "../../src/errors.ts";
import type { ServerStore } from "../../src/store.ts";
import type { CookieClient } from "./http_client.ts";
import type { CuttableProxy } from "./proxy.ts";
import { letTimePass, waitFor } from "./waiting.ts";
import { type SessionApp, startSessionApp } from "../helpers/redis_http.ts";

/** A SQL store as the suite uses it. */
export interface OutageStore extends ServerStore {
  initSessionsTable(): Promise<void>;
  close(): Promise<void>;
}

/** A store opened through a proxy, and how to close its driver. */
export interface OpenedThrough {
  store: OutageStore;
  close: () => Promise<void>;
}

/** One database and its drivers, for {@link sqlOutageSuite}. */
export interface SqlOutageCase<P extends CuttableProxy> {
  /** The database's name in messages ("PostgreSQL", "MariaDB"). */
  database: string;
  /** The table the suite's stores share. */
  table: string;
  /** Checks the database is there, and gives what drops the table at the end. */
  setUp(): Promise<{ dropTable(table: string): Promise<void>; end(): Promise<void> }>;
  /** A proxy to the database that the suite may cut. */
  startProxy(): Promise<P>;
  /** The pool-based drivers, each opening a store through `proxy`. */
  pools: { name: string; open(table: string, proxy: P): Promise<OpenedThrough> }[];
  /** The driver's single connection: its test's title, how to open it, what its 503 says. */
  lostConnection: {
    title: string;
    open(table: string, proxy: P): Promise<OpenedThrough>;
    says: RegExp;
  };
}

interface Subject {
  name: string;
  store: OutageStore;
  closeDriver: () => Promise<void>;
  app: SessionApp;
  user: CookieClient;
}

/** Runs the outage suite on the drivers `suite` names. */
export function sqlOutageSuite<P extends CuttableProxy>(suite: SqlOutageCase<P>): void {
  /** Retries `GET /get` until it answers 200 (drivers reconnect on the next call). */
  async function eventuallyOk(s: Subject): Promise<{ status: number; text: string }> {
    let last = { status: 0, text: "" };
    const ok = async () => (last = await s.user.get("/get")).status === 200;
    if (await waitFor(ok, { timeoutMs: 30_000, intervalMs: 100 }).catch(() => false)) return last;
    assert.fail(`${s.name}: still ${last.status} 30 s after ${suite.database} came back`);
  }

  describe(`${suite.database} outage: 503 while down, back to work without a restart`, () => {
    let proxy: P;
    let db: { dropTable(table: string): Promise<void>; end(): Promise<void> };
    const table = suite.table;
    const subjects: Subject[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);

    before(async () => {
      db = await suite.setUp();
      process.on("unhandledRejection", onUnhandled);
      proxy = await suite.startProxy();
      for (const target of suite.pools) {
        const { store, close } = await target.open(table, proxy);
        await store.initSessionsTable();
        const app = await startSessionApp(store, { expireAfterSeconds: 3600 });
        subjects.push({ name: target.name, store, closeDriver: close, app, user: app.client() });
      }
    });

    after(async () => {
      for (const s of subjects) {
        await s.app.close();
        await s.store.close();
        await s.closeDriver().catch(() => {});
      }
      await proxy?.close();
      await db?.dropTable(table);
      await db?.end();
      process.off("unhandledRejection", onUnhandled);
    });

    it("cut: 503, the process lives, then the same drivers recover with the data", async () => {
      for (const s of subjects) {
        assert.equal((await s.user.post("/set", { user: "ann" })).status, 200, s.name);
      }
      await proxy.cut();
      for (const s of subjects) {
        const read = await s.user.get("/get");
        assert.equal(read.status, 503, `${s.name}: read while ${suite.database} is away`);
        assert.equal(read.text, "error SessionStoreError", s.name);
        const write = await s.app.client().post("/set", { cart: [1] });
        assert.equal(write.status, 503, `${s.name}: new session while ${suite.database} is away`);
        // A request that does not need the store is still served.
        assert.equal((await s.app.client().get("/get")).status, 200, s.name);
      }
      await proxy.restore();
      for (const s of subjects) {
        const read = await eventuallyOk(s);
        assert.deepEqual(JSON.parse(read.text), { user: "ann" }, `${s.name}: session lost`);
        assert.equal((await s.user.post("/set", { more: 1 })).status, 200, s.name);
        assert.deepEqual((await s.user.get("/get")).json(), { user: "ann", more: 1 }, s.name);
      }
      await letTimePass(50);
      assert.deepEqual(unhandled, []);
    });

    it("cut under load: every request is a 200 or a 503, and no session is half-written", async () => {
      for (const s of subjects) {
        const users = await Promise.all(Array.from({ length: 8 }, async () => {
          const c = s.app.client();
          assert.equal((await c.post("/set", { x: 0, y: 0 })).status, 200);
          return c;
        }));
        let n = 0;
        let stop = false;
        const statuses: number[] = [];
        // Each request sets x and y to the same new number: a half-written
        // change would leave them apart.
        const load = users.map(async (c) => {
          while (!stop) {
            const v = ++n;
            statuses.push((await c.post("/set", { x: v, y: v })).status);
          }
        });
        await waitFor(() => statuses.length >= 20, { timeoutMs: 60_000, maxIntervalMs: 5 });
        await proxy.cut();
        const cutAt = statuses.length;
        await waitFor(() => statuses.length >= cutAt + 16, { timeoutMs: 60_000, maxIntervalMs: 5 });
        await proxy.restore();
        stop = true;
        await Promise.all(load);
        assert.ok(statuses.every((st) => st === 200 || st === 503), `${s.name}: ${statuses}`);
        assert.ok(statuses.includes(503), `${s.name}: the cut was felt`);
        for (const c of users) {
          let data: { x?: number; y?: number } | undefined;
          const read = async () => {
            const r = await c.get("/get");
            if (r.status === 200) data = r.json();
            return data !== undefined;
          };
          await waitFor(read, { timeoutMs: 30_000, intervalMs: 100 }).catch(() => {});
          assert.ok(data, `${s.name}: recovered`);
          assert.equal(data.x, data.y, `${s.name}: half-written session ${JSON.stringify(data)}`);
        }
      }
      await letTimePass(50);
      assert.deepEqual(unhandled, []);
    });

    it("hang: requests fail after timeoutMs instead of hanging, then recover", async () => {
      proxy.hang();
      try {
        const started = Date.now();
        const replies = await Promise.all(subjects.map((s) => s.user.get("/get")));
        replies.forEach((r, i) => assert.equal(r.status, 503, subjects[i].name));
        assert.ok(Date.now() - started < 10_000, "bounded by timeoutMs, not the driver's own");
      } finally {
        proxy.resume();
      }
      for (const s of subjects) {
        assert.deepEqual(
          JSON.parse((await eventuallyOk(s)).text),
          { user: "ann", more: 1 },
          s.name,
        );
      }
      await letTimePass(50);
      assert.deepEqual(unhandled, []);
    });

    it(suite.lostConnection.title, async () => {
      const own = await suite.startProxy();
      const { store, close } = await suite.lostConnection.open(table, own);
      try {
        await store.initSessionsTable();
        assert.equal(await store.get("absent", Date.now()), null);
        await own.cut();
        // The connection emits "error" as its socket closes; without the
        // store's listener that would end the process.
        await letTimePass(100);
        await own.restore();
        await assert.rejects(store.get("absent", Date.now()), (e: unknown) => {
          assert.ok(e instanceof SessionStoreError, String(e));
          assert.match(e.message, suite.lostConnection.says);
          return true;
        });
      } finally {
        await store.close();
        await close();
        await own.close();
      }
      assert.deepEqual(unhandled, []);
    });
  });
}
