/**
 * The lifecycle events that need more than the conformance suite's store
 * (which checks created, rotated, destroyed, revoked, expired, rejected
 * cookies and CSRF refusals on every store): an expired session told apart
 * from an unknown one by stores that still hold it; a store that fails (a
 * real PostgreSQL behind a proxy the test cuts); a store call that is slow
 * (a real MemoryStore whose `get` the test holds at a gate: the one fault
 * injected by hand, since a store cannot be made slow on cue otherwise); and
 * a listener that throws, which fails nothing. All through a real Oak server.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import type { SessionEvent } from "../src/events.ts";
import type { SessionOptions } from "../src/options.ts";
import { fingerprintOf, sessionKey } from "../src/session_id.ts";
import type { SessionStore } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { MemoryStore } from "../src/stores/memory.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { CookieClient } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { postgresTargets, rawPool, startProxy, uniqueTable } from "./kit/postgres.ts";
import { letTimePass } from "./kit/waiting.ts";

const IDLE = 600;
const ABSOLUTE = 3600;

interface EventApp {
  server: RunningServer;
  events: SessionEvent[];
  clock: { now: number };
}

async function startApp(store: SessionStore, options: SessionOptions = {}): Promise<EventApp> {
  const events: SessionEvent[] = [];
  const clock = { now: Date.now() };
  const router = new Router();
  router
    .get("/n", (ctx) => {
      ctx.response.body = { n: ctx.state.session.get("n") ?? 0, id: ctx.state.session.id };
    })
    .post("/n", (ctx) => {
      ctx.response.body = { n: ctx.state.session.increment("n"), id: ctx.state.session.id };
    });
  const app = new Application({ logErrors: false });
  app.use(Session.initMiddleware(store, {
    expireAfterSeconds: IDLE,
    absoluteTimeoutSeconds: ABSOLUTE,
    onEvent: (event) => events.push(event),
    now: () => clock.now,
    ...options,
  }));
  app.use(router.routes());
  return { server: await serve(app), events, clock };
}

const fingerprintOfId = async (id: string) => fingerprintOf(await sessionKey(id));

describe("expired sessions are reported as expired, idle or absolute, by stores that still hold them", () => {
  const dir = tempDir();
  let raw: RawDb;
  const stores: Array<[string, () => Promise<SessionStore>]> = [
    // The sweeps are far off: the records are still there when the session is next used.
    [
      "MemoryStore",
      () => Promise.resolve(new MemoryStore({ cleanupIntervalSeconds: 10 * 86_400 })),
    ],
    ["SqliteStore", async () => {
      raw = await openDb(dir.file("expired.db"));
      return new SqliteStore(raw, { table: "expired_events", cleanupIntervalSeconds: 0 });
    }],
    [
      "CookieStore",
      () => Promise.resolve(new CookieStore("an events test secret, 32 chars or more")),
    ],
  ];
  after(() => {
    raw?.close();
    dir.remove();
  });

  for (const [name, open] of stores) {
    it(name, async () => {
      const app = await startApp(await open());
      try {
        // Idle: unused for longer than its idle timeout.
        const idle = new CookieClient(app.server.url);
        const id = (await idle.request("/n", { method: "POST" })).json().id;
        app.clock.now += (IDLE + 1) * 1000;
        let from = app.events.length;
        assert.equal((await idle.get("/n")).json().n, 0, "it opens nothing");
        assert.deepEqual(app.events.slice(from), [{
          type: "expired",
          reason: "idle",
          fingerprint: await fingerprintOfId(id),
        }]);
        // Absolute: used all along, until past its absolute end.
        const used = new CookieClient(app.server.url);
        const born = app.clock.now;
        const usedId = (await used.request("/n", { method: "POST" })).json().id;
        while (app.clock.now + (IDLE / 2) * 1000 < born + ABSOLUTE * 1000) {
          app.clock.now += (IDLE / 2) * 1000;
          assert.equal((await used.request("/n", { method: "POST" })).status, 200);
        }
        app.clock.now = born + ABSOLUTE * 1000 + 1000;
        from = app.events.length;
        assert.equal((await used.get("/n")).json().n, 0);
        assert.deepEqual(app.events.slice(from), [{
          type: "expired",
          reason: "absolute",
          fingerprint: await fingerprintOfId(usedId),
        }]);
      } finally {
        app.server.close();
      }
    });
  }
});

describe("store errors and slow store calls", () => {
  it("a store that fails is reported with its operation, duration and error, and the request fails 503", async () => {
    const proxy = await startProxy();
    const table = uniqueTable("events_outage");
    const pool = postgresTargets.find((t) => t.name === "pg Pool")!;
    const opened = await pool.open(table, { url: proxy.url, timeoutMs: 1500 });
    await opened.store.initSessionsTable();
    const app = await startApp(opened.store);
    try {
      const c = new CookieClient(app.server.url);
      assert.equal((await c.request("/n", { method: "POST" })).status, 200);
      await proxy.cut();
      const from = app.events.length;
      const r = await c.get("/n");
      assert.equal(r.status, 503, r.text);
      const seen = app.events.slice(from);
      assert.equal(seen.length, 1, JSON.stringify(seen));
      const event = seen[0];
      assert.equal(event.type, "store-error");
      if (event.type !== "store-error") return;
      assert.equal(event.operation, "get");
      assert.ok(event.durationMs >= 0 && event.durationMs < 60_000, String(event.durationMs));
      assert.match(event.error, /\w+: .+/, "its name and message");
      assert.ok(!event.error.includes(c.cookies.get("session") as string), "never the ID");
      // Back again: the next request works, and nothing more is reported.
      await proxy.restore();
      const after = app.events.length;
      assert.equal((await c.get("/n")).json().n, 1);
      assert.deepEqual(app.events.slice(after).filter((e) => e.type === "store-error"), []);
    } finally {
      app.server.close();
      await opened.close();
      await proxy.close();
      const raw = rawPool();
      await raw.query(`DROP TABLE IF EXISTS "${table}"`);
      await raw.end();
    }
  });

  it("a store call that takes slowStoreCallMs or longer is reported; the request still succeeds", async () => {
    const memory = new MemoryStore();
    let held: { entered: () => void; release: Promise<void> } | undefined;
    // A real MemoryStore whose get waits at a gate when the test sets one.
    const store = new Proxy(memory, {
      get(target, name) {
        if (name === "get") {
          return async (...args: Parameters<MemoryStore["get"]>) => {
            const gate = held;
            held = undefined;
            if (gate !== undefined) {
              gate.entered();
              await gate.release;
            }
            return target.get(...args);
          };
        }
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as SessionStore;
    const SLOW_MS = 80;
    const app = await startApp(store, { slowStoreCallMs: SLOW_MS });
    try {
      const c = new CookieClient(app.server.url);
      assert.equal((await c.request("/n", { method: "POST" })).status, 200);
      let entered!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((r) => (entered = r));
      held = { entered, release: new Promise<void>((r) => (release = r)) };
      const from = app.events.length;
      const reply = c.get("/n");
      await arrived;
      // Real time must pass for a call to be slow.
      await letTimePass(SLOW_MS + 20);
      release();
      assert.equal((await reply).json().n, 1);
      const slow = app.events.slice(from).filter((e) => e.type === "slow-store-call");
      assert.equal(slow.length, 1, JSON.stringify(slow));
      const event = slow[0];
      if (event.type !== "slow-store-call") return;
      assert.equal(event.operation, "get");
      assert.ok(event.durationMs >= SLOW_MS, String(event.durationMs));
    } finally {
      app.server.close();
    }
  });
});

describe("a listener that throws", () => {
  let app: EventApp;
  const logged: unknown[][] = [];
  const consoleError = console.error;
  before(async () => {
    console.error = (...args: unknown[]) => void logged.push(args);
    app = await startApp(new MemoryStore(), {
      onEvent: () => {
        throw new Error("a broken listener");
      },
    });
  });
  after(() => {
    console.error = consoleError;
    app.server.close();
  });

  it("fails no request: the error is logged, the session works", async () => {
    const c = new CookieClient(app.server.url);
    const r = await c.request("/n", { method: "POST" });
    assert.equal(r.status, 200);
    assert.equal((await c.request("/n", { method: "POST" })).json().n, 2);
    assert.ok(
      logged.some((args) => String(args[0]).includes('onEvent listener threw on a "created"')),
      JSON.stringify(logged.map(String)),
    );
  });
});
