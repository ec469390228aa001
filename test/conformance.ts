/**
 * The conformance suite: one contract, every store. A store's test file calls
 * `conformance({ name, makeStore })`; the suite drives a real Oak app with
 * the session middleware over real HTTP, with a clock the test controls (the
 * only fake here: real time cannot be fast-forwarded).
 *
 * Server-side stores must pass everything. A client-side store (the session
 * lives in the cookie) cannot give two properties, and the suite says so
 * instead of running them: concurrent requests that change different keys
 * both landing (each response carries the whole session, the last cookie
 * wins), and revoking a session from the server (a copied cookie is valid
 * until it expires; its expiry is sealed inside it).
 *
 * Sessions that belong to a user (listing, revoking) need a store with a
 * per-user index (`listByUser`/`deleteByUser`): a store without one must
 * refuse them with a `SessionConfigError`, and the suite checks that it does.
 * The cookie store revokes through a user's "not valid before" when it has a
 * server store for it (`revokeUser`), and cannot list.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import { SessionConfigError, SessionValueError } from "../src/errors.ts";
import type {
  ServerStore,
  SessionChange,
  SessionRecord,
  SessionStore,
  WriteResult,
} from "../src/store.ts";
import { CookieClient, type Reply } from "./kit/http_client.ts";
import { lifecycleConformance } from "./conformance_lifecycle.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

/** A store under test. */
export interface ConformanceTarget {
  /** Shown in the test names, e.g. "SqliteStore (better-sqlite3)". */
  name: string;
  /** A fresh store for the suite. */
  makeStore(): SessionStore | Promise<SessionStore>;
  /** Release what `makeStore` opened. */
  teardown?(): void | Promise<void>;
}

const IDLE = 600;
const ABSOLUTE = 3600;
/** A "remember me" session's own lifetime, within the suite's maximums. */
const LONG = 7200;

/** A `rotate` call the store received, and what it answered. */
interface Rotation {
  oldKey: string;
  newKey: string;
  moved: Promise<WriteResult>;
}

/**
 * Counts the writes a server-side store receives (the real store does the
 * work), and keeps the rotations it was asked for, so a test can look up the
 * new key in the real store.
 */
function countingStore(
  store: SessionStore,
): { store: SessionStore; writes: () => number; rotations: Rotation[] } {
  let writes = 0;
  const rotations: Rotation[] = [];
  if (store.kind === "client") return { store, writes: () => 0, rotations };
  const counted: SessionStore = {
    kind: "server",
    get: (key, now) => store.get(key, now),
    create: (key: string, record: SessionRecord, now: number) => {
      writes++;
      return store.create(key, record, now);
    },
    update: (key: string, change: SessionChange, now: number) => {
      writes++;
      return store.update(key, change, now);
    },
    rotate: (oldKey: string, newKey: string, change: SessionChange, now: number) => {
      writes++;
      const moved = store.rotate(oldKey, newKey, change, now);
      rotations.push({ oldKey, newKey, moved: moved.catch(() => false) });
      return moved;
    },
    delete: (key: string) => {
      writes++;
      return store.delete(key);
    },
  };
  return { store: counted, writes: () => writes, rotations };
}

/** Register the suite for `target`. */
export function conformance(target: ConformanceTarget): void {
  describe(`conformance: ${target.name}`, () => {
    let server: RunningServer;
    let store: SessionStore;
    let writes: () => number;
    let rotations: Rotation[];
    let clock = Date.now();
    const gates = new Map<string, { entered: () => void; release: Promise<void> }>();

    /** A gate a slow request waits at, after its session was loaded. */
    function gate(name: string) {
      let entered!: () => void;
      let release!: () => void;
      const enteredP = new Promise<void>((r) => (entered = r));
      const releaseP = new Promise<void>((r) => (release = r));
      gates.set(name, { entered, release: releaseP });
      return { entered: enteredP, release };
    }

    before(async () => {
      const counting = countingStore(await target.makeStore());
      store = counting.store;
      writes = counting.writes;
      rotations = counting.rotations;
      const manager = new Session(store, {
        expireAfterSeconds: IDLE,
        absoluteTimeoutSeconds: ABSOLUTE,
        maxIdleSeconds: LONG,
        maxAbsoluteSeconds: LONG,
        recordDevice: { userAgent: true, ip: true },
        now: () => clock,
      });
      const mw = manager.initMiddleware();
      const router = new Router();
      const read = (ctx: { request: { url: URL } }) => ctx.request.url.searchParams.get("k") ?? "";
      const param = (ctx: { request: { url: URL } }, name: string) =>
        ctx.request.url.searchParams.get(name) ?? "";
      /** Answer with what `work` returns; its typed errors become a 400 naming them. */
      const answer = async (
        ctx: { response: { status: number; body: unknown } },
        work: () => unknown,
      ) => {
        try {
          ctx.response.body = await work();
        } catch (error) {
          if (!(error instanceof SessionConfigError || error instanceof SessionValueError)) {
            throw error;
          }
          ctx.response.status = 400;
          ctx.response.body = { error: error.name, message: error.message };
        }
      };
      router
        .get("/read", mw, (ctx) => {
          const k = read(ctx);
          const has = ctx.state.session.has(k);
          ctx.response.body = { has, value: ctx.state.session.get(k) ?? null };
        })
        .get("/all", mw, (ctx) => {
          ctx.response.body = ctx.state.session.all();
        })
        .get("/id", mw, (ctx) => {
          ctx.response.body = { id: ctx.state.session.id, sid: ctx.session.sid };
        })
        .get("/noop", mw, (ctx) => {
          ctx.response.body = "nothing";
        })
        .post("/set", mw, async (ctx) => {
          const body = await ctx.request.body.json();
          for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
          ctx.response.body = "ok";
        })
        .post("/flash", mw, async (ctx) => {
          const body = await ctx.request.body.json();
          for (const k of Object.keys(body)) ctx.state.session.flash(k, body[k]);
          ctx.response.body = "ok";
        })
        .post("/unset", mw, (ctx) => {
          ctx.state.session.delete(read(ctx));
          ctx.response.body = "ok";
        })
        .post("/clear", mw, (ctx) => {
          ctx.state.session.clear();
          ctx.response.body = "ok";
        })
        .post("/regenerate", mw, async (ctx) => {
          await ctx.state.session.regenerate();
          ctx.response.body = { id: ctx.state.session.id };
        })
        .post("/rotate", mw, (ctx) => {
          ctx.state.rotate_session_key = true;
          ctx.response.body = "ok";
        })
        .post("/destroy", mw, async (ctx) => {
          await ctx.state.session.deleteSession();
          ctx.response.body = "ok";
        })
        .post("/throw", mw, async (ctx) => {
          const body = await ctx.request.body.json();
          for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
          throw new Error("handler failed after setting keys");
        })
        .post("/slow-set", mw, async (ctx) => {
          const g = gates.get(ctx.request.url.searchParams.get("gate") ?? "");
          assert.ok(g, "unknown gate");
          g.entered();
          await g.release;
          const body = await ctx.request.body.json();
          for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
          ctx.response.body = "ok";
        })
        // A slow request of any kind, held after its session was loaded.
        .post("/slow", mw, async (ctx) => {
          const g = gates.get(param(ctx, "gate"));
          assert.ok(g, "unknown gate");
          g.entered();
          await g.release;
          const session = ctx.state.session;
          switch (param(ctx, "do")) {
            case "read":
              ctx.response.body = session.all();
              return;
            case "set":
              session.set(param(ctx, "k"), param(ctx, "v"));
              break;
            case "incr":
              session.increment("hits");
              break;
            case "flash":
              session.flash("note", param(ctx, "v"));
              break;
            case "destroy":
              await session.destroy();
              break;
            default:
              assert.fail(`unknown slow action ${param(ctx, "do")}`);
          }
          ctx.response.body = "ok";
        })
        // A slow request that moves its session to a new ID (regenerate() or
        // rotate_session_key), after what the test does while it waits.
        .post("/slow-rotate", mw, async (ctx) => {
          const g = gates.get(ctx.request.url.searchParams.get("gate") ?? "");
          assert.ok(g, "unknown gate");
          g.entered();
          await g.release;
          if (ctx.request.url.searchParams.get("how") === "flag") {
            ctx.state.rotate_session_key = true;
          } else {
            await ctx.state.session.regenerate();
          }
          const body = await ctx.request.body.json();
          for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
          ctx.response.body = "ok";
        })
        .post(
          "/login",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              const session = ctx.state.session;
              await session.regenerate();
              session.setUser(param(ctx, "user"));
              const remember = param(ctx, "remember");
              if (remember === "1") {
                session.setLifetime({ idleSeconds: LONG, absoluteSeconds: LONG, persistent: true });
              } else if (remember === "0") session.setLifetime({ persistent: false });
              return { id: session.id };
            }),
        )
        .post(
          "/lifetime",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              ctx.state.session.setLifetime(await ctx.request.body.json());
              return "ok";
            }),
        )
        .post(
          "/set-user",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              ctx.state.session.setUser((await ctx.request.body.json()).user);
              return "ok";
            }),
        )
        .get("/whoami", mw, (ctx) => {
          ctx.response.body = { user: ctx.state.session.userId ?? null };
        })
        .get(
          "/sessions",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              return await ctx.state.session.listSessions(param(ctx, "user"));
            }),
        )
        .post(
          "/revoke-others",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              const user = param(ctx, "user");
              return { ended: await ctx.state.session.revokeSessions(user, { except: ctx }) };
            }),
        )
        .post(
          "/revoke-all",
          (ctx) =>
            answer(ctx, async () => {
              return { ended: await manager.revokeSessions(param(ctx, "user")) };
            }),
        )
        .post(
          "/revoke-one",
          mw,
          (ctx) =>
            answer(ctx, async () => {
              const ended = await ctx.state.session.revokeSession(
                param(ctx, "user"),
                param(ctx, "fp"),
              );
              return { ended };
            }),
        )
        .post("/touch", mw, (ctx) => {
          ctx.state.session.touch();
          ctx.response.body = "ok";
        })
        .post(
          "/incr",
          mw,
          (ctx) =>
            answer(ctx, () => {
              const by = ctx.request.url.searchParams.get("by");
              const value = ctx.state.session.increment(
                read(ctx),
                by === null ? undefined : Number(by),
              );
              return { value };
            }),
        )
        // Outside the middleware, as the seed deletes sessions.
        .post("/kill-by-id", async (ctx) => {
          const { id } = await ctx.request.body.json();
          await manager.deleteSession(id);
          ctx.response.body = "ok";
        })
        .post("/kill-by-ctx", async (ctx) => {
          await manager.deleteSession(ctx);
          ctx.response.body = "ok";
        });
      // The "/throw" route fails on purpose; keep the log quiet.
      const app = new Application({ logErrors: false });
      app.use(router.routes());
      server = await serve(app);
    });

    after(async () => {
      server?.close();
      await target.teardown?.();
    });

    const client = () => new CookieClient(server.url);
    const isClient = () => store.kind === "client";

    lifecycleConformance(() => store);
    /** The name of the (first) cookie the session lives in. */
    const cookieName = () => store.kind === "client" ? store.cookieName : "session";
    /** A client holding a stored session with `data`. */
    async function withSession(data: Record<string, unknown> = { seeded: true }) {
      const c = client();
      const r = await c.post("/set", data);
      assert.equal(r.status, 200);
      return c;
    }

    it("round-trips every JSON type, unicode, and prototype-like keys as plain data", async () => {
      const values: Record<string, unknown> = {
        text: 'héllo wörld 🌍 \u0000 \n\t "quotes" \\ / <script>',
        empty: "",
        int: 42,
        negative: -1.5,
        big: 1e300,
        zero: 0,
        yes: true,
        no: false,
        list: [1, "two", null, [3], { four: 4 }],
        nested: { a: { b: { c: [true, false] } }, "key with spaces": "ok" },
        emptyObject: {},
        emptyList: [],
        "ключ": "значение",
        "🔑": "emoji key",
        "a.b[c]": "dotted",
        constructor: "not a function",
        prototype: 1,
      };
      // An own "__proto__" key, as JSON.parse makes it (a literal would set the prototype).
      Object.defineProperty(values, "__proto__", {
        value: { polluted: true },
        enumerable: true,
        configurable: true,
        writable: true,
      });
      const c = client();
      assert.equal((await c.post("/set", values)).status, 200);
      const all = (await c.get("/all")).json();
      assert.deepEqual(JSON.stringify(all), JSON.stringify(values));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      const proto = (await c.get("/read?k=__proto__")).json();
      assert.deepEqual(proto, { has: true, value: { polluted: true } });
    });

    it("has() is false for Object.prototype's names on an empty session", async () => {
      const c = await withSession({ x: 1 });
      for (const k of ["toString", "hasOwnProperty", "valueOf", "__proto__", "constructor"]) {
        assert.deepEqual((await c.get(`/read?k=${k}`)).json(), { has: false, value: null }, k);
      }
    });

    it("keeps two clients' sessions apart", async () => {
      const a = await withSession({ who: "a" });
      const b = await withSession({ who: "b" });
      assert.deepEqual((await a.get("/all")).json(), { who: "a" });
      assert.deepEqual((await b.get("/all")).json(), { who: "b" });
    });

    it("never stores an empty session and sets no cookie for it", async () => {
      const before = writes();
      const c = client();
      for (const path of ["/noop", "/all", "/read?k=x", "/id"]) {
        const r = await c.get(path);
        assert.equal(r.status, 200);
        assert.deepEqual(r.setCookies, [], path);
      }
      assert.equal((await c.post("/set", { x: null })).setCookies.length, 0);
      assert.equal(writes(), before);
    });

    it("a request that only reads writes nothing and sets no cookie", async () => {
      const c = await withSession({ n: 1 });
      const before = writes();
      for (const path of ["/all", "/read?k=n", "/noop", "/id"]) {
        const r = await c.get(path);
        assert.equal(r.status, 200);
        assert.deepEqual(r.setCookies, [], path);
      }
      assert.equal(writes(), before);
    });

    it("sets Vary: Cookie on responses that used the session", async () => {
      const c = await withSession();
      assert.match((await c.get("/all")).headers.get("vary") ?? "", /cookie/i);
      assert.match((await client().get("/all")).headers.get("vary") ?? "", /cookie/i);
    });

    it("sets safe cookie attributes: HttpOnly, SameSite=Lax, Path=/, Max-Age of the idle timeout", async () => {
      const c = client();
      const r = await c.post("/set", { k: 1 });
      assert.ok(r.setCookies.length >= 1);
      for (const cookie of r.setCookies) {
        assert.ok(cookie.attributes.has("httponly"), `${cookie.name} HttpOnly`);
        assert.equal(cookie.attributes.get("samesite")?.toLowerCase(), "lax");
        assert.equal(cookie.attributes.get("path"), "/");
        // Oak sends Max-Age as an Expires date.
        const expires = Date.parse(cookie.attributes.get("expires") ?? "");
        assert.ok(Math.abs(expires - (Date.now() + IDLE * 1000)) < 10_000, `${cookie.name} expiry`);
        assert.ok(!cookie.attributes.has("secure"), "no Secure over plain HTTP");
      }
    });

    it("gives garbage cookies a fresh empty session, never an error", async () => {
      const garbage = [
        "",
        "x",
        "%%%%",
        "not base64url!",
        // As large as Node's default 16 KB header limit lets through.
        "A".repeat(15 * 1024),
        "A".repeat(43),
        "v1.0.AAAA.BBBB",
        "\u00ff\u00fe",
      ];
      const names = ["session", "session_data", "session_data.1"];
      const before = writes();
      for (const value of garbage) {
        for (const name of names) {
          const r = await client().request("/all", { headers: { cookie: `${name}=${value}` } });
          assert.equal(r.status, 200, `${name}=${value.slice(0, 20)}`);
          assert.deepEqual(r.json(), {});
        }
      }
      assert.equal(writes(), before, "garbage costs the store no write");
    });

    it("clears a cookie that names no live session, without a store write", async () => {
      const c = await withSession({ k: 1 });
      clock += (IDLE + 1) * 1000;
      const before = writes();
      const r = await c.get("/all");
      assert.deepEqual(r.json(), {});
      assert.ok(r.setCookies.length >= 1 && r.setCookies.every((x) => x.deletes), "cleared");
      assert.equal(c.cookies.size, 0);
      assert.equal(writes(), before);
    });

    it("does not adopt an ID it did not issue (no fixation)", async () => {
      const planted = "A".repeat(42) + "A";
      const c = client();
      c.cookies.set("session", planted);
      await c.post("/set", { k: "v" });
      const { id } = (await c.get("/id")).json();
      assert.notEqual(id, planted);
      assert.deepEqual((await c.get("/all")).json(), { k: "v" });
    });

    it("exposes the ID as id and sid, and it does not change on its own", async () => {
      const c = await withSession();
      const first = (await c.get("/id")).json();
      assert.equal(first.id, first.sid);
      assert.match(first.id, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual((await c.get("/id")).json(), first);
    });

    it("deletes keys with delete(), set(key, null) and clear()", async () => {
      const c = await withSession({ a: 1, b: 2, c: 3 });
      await c.post("/unset?k=a");
      await c.post("/set", { b: null });
      assert.deepEqual((await c.get("/all")).json(), { c: 3 });
      await c.post("/clear");
      assert.deepEqual((await c.get("/all")).json(), {});
    });

    it("flash: readable in this request and the next, consumed by get, kept by has", async () => {
      const c = await withSession();
      await c.post("/flash", { msg: "saved" });
      // The next request: has() does not consume, get() does.
      assert.deepEqual((await c.get("/read?k=msg")).json(), { has: true, value: "saved" });
      assert.deepEqual((await c.get("/read?k=msg")).json(), { has: false, value: null });
      // An unread flash is gone after the next request.
      await c.post("/flash", { note: "unread" });
      await c.get("/noop");
      assert.deepEqual((await c.get("/read?k=note")).json(), { has: false, value: null });
    });

    it("flash on a new session stores it, and it survives exactly one more request", async () => {
      const c = client();
      const r = await c.post("/flash", { welcome: "hi" });
      assert.ok(r.setCookies.length >= 1);
      assert.deepEqual((await c.get("/read?k=welcome")).json(), { has: true, value: "hi" });
      assert.deepEqual((await c.get("/read?k=welcome")).json(), { has: false, value: null });
    });

    it("idle expiry: a session unused longer than expireAfterSeconds is gone", async () => {
      const c = await withSession({ k: "v" });
      clock += (IDLE - 1) * 1000;
      assert.deepEqual((await c.get("/all")).json(), { k: "v" }, "alive just before");
      clock += (IDLE + 1) * 1000;
      assert.deepEqual((await c.get("/all")).json(), {}, "gone after idling");
    });

    it("sliding expiry: use keeps a session alive, refreshed at most once per interval", async () => {
      const c = await withSession({ k: "v" });
      for (let i = 0; i < 4; i++) {
        clock += (IDLE / 2) * 1000;
        const r = await c.get("/all");
        assert.deepEqual(r.json(), { k: "v" }, `round ${i}`);
        // The refresh re-sends the cookie's Max-Age (or the sealed cookie).
        assert.ok(r.setCookies.length >= 1, "refresh sets the cookie again");
      }
      const w = writes();
      const r = await c.get("/all");
      assert.deepEqual(r.setCookies, [], "no second refresh within the interval");
      assert.equal(writes(), w);
    });

    it("absolute expiry: a session ends absoluteTimeoutSeconds after creation, used or not", async () => {
      const c = await withSession({ k: "v" });
      const steps = Math.ceil(ABSOLUTE / (IDLE / 2));
      let alive = 0;
      for (let i = 0; i < steps + 2; i++) {
        clock += (IDLE / 2) * 1000;
        const data = (await c.get("/all")).json();
        if (data.k === "v") alive += IDLE / 2;
      }
      assert.ok(alive < ABSOLUTE, `alive ${alive}s must stay under ${ABSOLUTE}s`);
      assert.ok(alive >= ABSOLUTE - IDLE, `alive ${alive}s until near the absolute end`);
      assert.deepEqual((await c.get("/all")).json(), {});
    });

    it("regenerate: new ID, data kept, the old ID is dead", async () => {
      const c = await withSession({ user: "ann" });
      const old = c.clone();
      const before = (await c.get("/id")).json().id;
      const r = await c.post("/regenerate");
      const after = (await c.get("/id")).json().id;
      assert.notEqual(after, before);
      assert.equal(r.json().id, after);
      assert.deepEqual((await c.get("/all")).json(), { user: "ann" });
      if (!isClient()) assert.deepEqual((await old.get("/all")).json(), {}, "old cookie is dead");
    });

    it("ctx.state.rotate_session_key = true rotates the ID after the handler", async () => {
      const c = await withSession({ user: "bob" });
      const before = (await c.get("/id")).json().id;
      await c.post("/rotate");
      assert.notEqual((await c.get("/id")).json().id, before);
      assert.deepEqual((await c.get("/all")).json(), { user: "bob" });
    });

    it("deleteSession() ends the session and clears the cookie", async () => {
      const c = await withSession({ user: "cy" });
      const old = c.clone();
      const r = await c.post("/destroy");
      assert.ok(r.setCookies.some((x) => x.deletes), "cookie cleared");
      assert.deepEqual((await c.get("/all")).json(), {});
      if (!isClient()) assert.deepEqual((await old.get("/all")).json(), {}, "old cookie is dead");
    });

    it("deleteSession(ctx) from a route without the middleware (seed style)", async () => {
      const c = await withSession({ user: "dee" });
      const old = c.clone();
      const r = await c.post("/kill-by-ctx");
      assert.ok(r.setCookies.some((x) => x.deletes), "cookie cleared");
      assert.deepEqual((await c.get("/all")).json(), {});
      if (!isClient()) assert.deepEqual((await old.get("/all")).json(), {});
    });

    it("a handler that throws leaves the stored session as it was", async () => {
      const c = await withSession({ a: 1 });
      const r = await c.post("/throw", { a: 2, b: 3 });
      assert.equal(r.status, 500);
      assert.deepEqual(r.setCookies, []);
      assert.deepEqual((await c.get("/all")).json(), { a: 1 });
      const fresh = client();
      await fresh.post("/throw", { a: 1 });
      assert.equal(fresh.cookies.size, 0, "a new session is not created either");
    });

    it("where the session lives: only the ID travels for a server-side store", async () => {
      const c = await withSession({ probe: 1 });
      if (isClient()) {
        // A client-side store keeps the session in the cookies themselves.
        assert.ok(!c.cookies.has("session"), "no separate ID cookie");
        assert.ok(c.cookies.size >= 1, "data lives in cookies");
        return;
      }
      assert.deepEqual([...c.cookies.keys()], ["session"]);
      assert.match(c.cookies.get("session") ?? "", /^[A-Za-z0-9_-]{43}$/);
    });

    describe("users, lifetimes and counters", () => {
      let users = 0;
      /** A user ID no other test uses (the store is shared by the whole suite). */
      const newUser = () => `user-${++users}-${Math.random().toString(36).slice(2)}`;
      const canList = () =>
        store.kind !== "client" && typeof store.listByUser === "function" &&
        typeof store.deleteByUser === "function";
      const canRevoke = () =>
        store.kind === "client" ? typeof store.revokeUser === "function" : canList();

      async function login(user: string, remember?: "1" | "0") {
        const c = client();
        const r = await c.post(
          `/login?user=${encodeURIComponent(user)}` +
            (remember ? `&remember=${remember}` : ""),
        );
        assert.equal(r.status, 200, r.text);
        return { c, reply: r };
      }
      const whoami = async (c: CookieClient) => (await c.get("/whoami")).json().user;

      /** The session cookie (the first one a client-side store writes) of a reply. */
      function sessionCookie(
        reply: {
          setCookies: { name: string; attributes: Map<string, string>; deletes: boolean }[];
        },
      ) {
        const name = isClient() ? (store as { cookieName: string }).cookieName : "session";
        const cookie = reply.setCookies.find((x) => x.name === name && !x.deletes);
        assert.ok(cookie, `the reply sets ${name}`);
        return cookie;
      }

      it("setUser binds the session (stored even with no data), regenerate() keeps it, destroy() ends it", async () => {
        const user = newUser();
        const { c } = await login(user);
        assert.equal(await whoami(c), user);
        const before = c.cookies.get("session");
        await c.post("/regenerate");
        if (!isClient()) assert.notEqual(c.cookies.get("session"), before);
        assert.equal(await whoami(c), user);
        await c.post("/clear");
        assert.equal(await whoami(c), user, "clear() removes data, not the user");
        await c.post("/destroy");
        assert.equal(await whoami(c), null);
      });

      it("setUser refuses a user ID that is not a non-empty string of at most 256 characters", async () => {
        const c = await withSession({ k: 1 });
        for (const user of ["", "x".repeat(257), 42, null]) {
          const r = await c.post("/set-user", { user });
          assert.equal(r.status, 400, String(user).slice(0, 10));
          assert.equal(r.json().error, "SessionValueError");
          assert.match(r.json().message, /userId must be a non-empty string of at most 256/);
        }
        assert.equal((await c.post("/set-user", { user: "x".repeat(256) })).status, 200);
        assert.equal(await whoami(c), "x".repeat(256));
      });

      it("lists a user's sessions on three clients, newest first, marking the current one", async (t) => {
        const user = newUser();
        const other = newUser();
        if (!canList()) {
          const { c } = await login(user);
          const r = await c.get(`/sessions?user=${user}`);
          assert.equal(r.status, 400);
          assert.equal(r.json().error, "SessionConfigError");
          return t.diagnostic("this store keeps no per-user index: listing is refused");
        }
        const start = clock;
        const clients: CookieClient[] = [];
        for (let i = 0; i < 3; i++) {
          clients.push((await login(user)).c);
          clock += 1000;
        }
        await login(other);
        // A write later on the first client moves its lastSeenAt.
        clock += 120_000;
        await clients[0].post("/set", { cart: 1 });
        const list = (await clients[1].get(`/sessions?user=${user}`)).json();
        assert.equal(list.length, 3);
        assert.deepEqual(
          list.map((x: { createdAt: number }) => x.createdAt),
          [start + 2000, start + 1000, start],
          "newest first",
        );
        assert.deepEqual(list.map((x: { current: boolean }) => x.current), [false, true, false]);
        assert.equal(list[2].lastSeenAt, clock, "the first client wrote last");
        assert.equal(list[0].lastSeenAt, start + 2000);
        const ids = await Promise.all(clients.map(async (c) => (await c.get("/id")).json().id));
        for (const info of list) {
          assert.match(info.fingerprint, /^[A-Za-z0-9_-]{16}$/);
          for (const id of ids) assert.ok(!id.includes(info.fingerprint), "a fingerprint is no ID");
          assert.ok(info.expiresAt > clock);
          assert.equal(info.persistent, true);
          assert.equal(typeof info.userAgent, "string", "recordDevice: userAgent");
          assert.match(info.ip, /127\.0\.0\.1|::1/, "recordDevice: ip");
        }
        assert.equal(new Set(list.map((x: { fingerprint: string }) => x.fingerprint)).size, 3);
        assert.deepEqual(
          (await clients[0].get(`/sessions?user=${newUser()}`)).json(),
          [],
          "unknown user",
        );
        // A logged-out or expired session is not listed.
        await clients[2].post("/destroy");
        assert.equal((await clients[0].get(`/sessions?user=${user}`)).json().length, 2);
        clock += (IDLE + 1) * 1000;
        assert.deepEqual((await client().get(`/sessions?user=${user}`)).json(), [], "all expired");
      });

      it("revoke all but the current session, while a request of a revoked one is in flight: it stays revoked", async (t) => {
        const user = newUser();
        const bystander = newUser();
        const a = (await login(user)).c;
        const b = (await login(user)).c;
        const c = (await login(user)).c;
        const d = (await login(bystander)).c;
        if (!canRevoke()) {
          const r = await a.post(`/revoke-others?user=${user}`);
          assert.equal(r.status, 400);
          assert.equal(r.json().error, "SessionConfigError");
          return t.diagnostic("this store cannot revoke a user's sessions: refused");
        }
        // The bound time of the sessions lies before the revocation.
        clock += 1;
        const slowTab = b.clone();
        const g = gate("revoke-in-flight");
        const slow = slowTab.post("/slow-set?gate=revoke-in-flight", { late: "write" });
        await g.entered;
        const r = await a.post(`/revoke-others?user=${user}`);
        assert.equal(r.status, 200, r.text);
        if (!isClient()) assert.equal(r.json().ended, 2);
        g.release();
        assert.equal((await slow).status, 200);
        assert.equal(await whoami(slowTab), null, "the in-flight request brought nothing back");
        assert.deepEqual((await slowTab.get("/all")).json(), {});
        assert.equal(await whoami(b), null);
        assert.equal(await whoami(c), null);
        assert.equal(await whoami(a), user, "the current session stays");
        assert.equal(await whoami(d), bystander, "other users are untouched");
        if (canList()) {
          const list = (await a.get(`/sessions?user=${user}`)).json();
          assert.deepEqual(list.map((x: { current: boolean }) => x.current), [true]);
        }
        // Log out everywhere, from a route without the middleware (the manager).
        clock += 1;
        assert.equal((await client().post(`/revoke-all?user=${user}`)).status, 200);
        assert.equal(await whoami(a), null);
        assert.equal(await whoami(d), bystander);
      });

      it("revokeSession(fingerprint) ends that one session", async (t) => {
        if (!canList()) return t.diagnostic("this store keeps no per-user index");
        const user = newUser();
        const a = (await login(user)).c;
        clock += 1000;
        const b = (await login(user)).c;
        const [newest] = (await a.get(`/sessions?user=${user}`)).json();
        const r = await a.post(`/revoke-one?user=${user}&fp=${newest.fingerprint}`);
        assert.deepEqual(r.json(), { ended: true });
        assert.equal(await whoami(b), null);
        assert.equal(await whoami(a), user);
        const again = await a.post(`/revoke-one?user=${user}&fp=${newest.fingerprint}`);
        assert.deepEqual(again.json(), { ended: false });
        const wrongUser = await a.post(`/revoke-one?user=${newUser()}&fp=${newest.fingerprint}`);
        assert.deepEqual(wrongUser.json(), { ended: false });
      });

      it("remember me: a persistent cookie and the session's own longer lifetime", async () => {
        const user = newUser();
        const { c, reply } = await login(user, "1");
        const expires = Date.parse(sessionCookie(reply).attributes.get("expires") ?? "");
        assert.ok(Math.abs(expires - (Date.now() + LONG * 1000)) < 10_000, "Max-Age of LONG");
        // Idle longer than the app's timeout: alive on its own lifetime.
        clock += (IDLE + 1) * 1000;
        assert.equal(await whoami(c), user);
        // Past the app's absolute timeout, within its own.
        for (let t = IDLE; t <= ABSOLUTE + IDLE; t += IDLE) {
          clock += IDLE * 1000;
          assert.equal(await whoami(c), user, `alive at ${t}s`);
        }
        clock += (LONG + 1) * 1000;
        assert.equal(await whoami(c), null, "its own idle timeout still ends it");
      });

      it("a browser-session cookie has no Max-Age, and the app's idle timeout", async () => {
        const user = newUser();
        const { c, reply } = await login(user, "0");
        const cookie = sessionCookie(reply);
        assert.ok(
          !cookie.attributes.has("expires") && !cookie.attributes.has("max-age"),
          "no expiry",
        );
        clock += (IDLE / 2) * 1000;
        const refreshed = await c.get("/whoami");
        assert.equal(refreshed.json().user, user);
        for (const x of refreshed.setCookies) assert.ok(!x.attributes.has("expires"), "still none");
        clock += (IDLE + 1) * 1000;
        assert.equal(await whoami(c), null);
        // Regenerate keeps the lifetime.
        const second = (await login(newUser(), "1")).c;
        const r = await second.post("/regenerate");
        const after = Date.parse(sessionCookie(r).attributes.get("expires") ?? "");
        assert.ok(after - Date.now() > (LONG - 60) * 1000, "regenerate() kept remember-me");
      });

      it("setLifetime refuses what the app does not allow", async () => {
        const c = await withSession({ k: 1 });
        const bad = [
          { idleSeconds: LONG + 1 },
          { absoluteSeconds: LONG + 1 },
          { idleSeconds: 0 },
          { idleSeconds: 1.5 },
          { idleSeconds: "60" },
          { persistent: "yes" },
          { idle: 60 },
        ];
        for (const lifetime of bad) {
          const r = await c.post("/lifetime", lifetime);
          assert.equal(r.status, 400, JSON.stringify(lifetime));
          assert.equal(r.json().error, "SessionConfigError");
        }
        assert.match((await c.post("/lifetime", bad[0])).json().message, /maxIdleSeconds/);
        assert.deepEqual((await c.get("/all")).json(), { k: 1 }, "nothing was lost");
      });

      it("touch() pushes the idle expiry now, though no refresh is due", async () => {
        const c = await withSession({ k: "v" });
        const start = clock;
        clock += 30_000; // within the refresh interval (IDLE / 10)
        const w = writes();
        assert.deepEqual((await c.get("/noop")).setCookies, [], "no refresh due");
        assert.equal(writes(), w);
        const r = await c.post("/touch");
        assert.ok(r.setCookies.length >= 1, "the cookie is sent again");
        if (!isClient()) assert.equal(writes(), w + 1);
        clock = start + (IDLE + 15) * 1000; // past the first expiry, within the touched one
        assert.deepEqual((await c.get("/all")).json(), { k: "v" });
      });

      it("increment: 50 concurrent requests each adding 1 land exactly (+50)", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: the last cookie wins");
        const c = await withSession({ views: 10 });
        const replies = await Promise.all(
          Array.from({ length: 50 }, () => c.clone().post("/incr?k=views")),
        );
        const values = replies.map((r) => {
          assert.equal(r.status, 200, r.text);
          return r.json().value;
        });
        for (const v of values) assert.ok(v >= 11 && v <= 60, `returned ${v}`);
        assert.deepEqual((await c.get("/read?k=views")).json(), { has: true, value: 60 });
        // Fractions, negatives, and a missing key counting as 0.
        await Promise.all([
          c.clone().post("/incr?k=views&by=-0.5"),
          c.clone().post("/incr?k=views&by=0.25"),
          c.clone().post("/incr?k=fresh&by=3"),
        ]);
        assert.deepEqual((await c.get("/all")).json(), { views: 59.75, fresh: 3 });
      });

      it("increment returns the request's own sum and refuses a key holding a non-number", async () => {
        const c = await withSession({ n: 1, name: "ann", list: [1] });
        assert.deepEqual((await c.post("/incr?k=n&by=4")).json(), { value: 5 });
        assert.deepEqual((await c.post("/incr?k=n")).json(), { value: 6 });
        for (const k of ["name", "list"]) {
          const r = await c.post(`/incr?k=${k}`);
          assert.equal(r.status, 400);
          assert.equal(r.json().error, "SessionValueError");
          assert.match(r.json().message, new RegExp(`increment\\("${k}"\\).*not a number`));
        }
        for (const by of ["NaN", "Infinity", "x"]) {
          assert.equal((await c.post(`/incr?k=n&by=${by}`)).status, 400, by);
        }
        assert.deepEqual((await c.get("/all")).json(), { n: 6, name: "ann", list: [1] });
        // A key deleted in one request and added to in the next starts from 0.
        await c.post("/unset?k=n");
        assert.deepEqual((await c.post("/incr?k=n")).json(), { value: 1 });
        assert.deepEqual((await c.get("/read?k=n")).json(), { has: true, value: 1 });
      });
    });

    describe("server-side only", () => {
      it("deleteSession(id) revokes a session from anywhere (seed style)", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
        const c = await withSession({ user: "eve" });
        const { id } = (await c.get("/id")).json();
        await client().post("/kill-by-id", { id });
        assert.deepEqual((await c.get("/all")).json(), {});
      });

      it("two concurrent requests of one session that set different keys both land", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: the last cookie wins");
        const c = await withSession({ base: 0 });
        const g1 = gate("disjoint-1");
        const g2 = gate("disjoint-2");
        const r1 = c.clone().post("/slow-set?gate=disjoint-1", { left: 1 });
        const r2 = c.clone().post("/slow-set?gate=disjoint-2", { right: 2 });
        await Promise.all([g1.entered, g2.entered]); // both loaded the same session
        g1.release();
        assert.equal((await r1).status, 200);
        g2.release();
        assert.equal((await r2).status, 200);
        assert.deepEqual((await c.get("/all")).json(), { base: 0, left: 1, right: 2 });
      });

      it("many concurrent requests each setting their own key all land", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: the last cookie wins");
        const c = await withSession({ base: 0 });
        const n = 20;
        await Promise.all(
          Array.from({ length: n }, (_, i) => c.clone().post("/set", { [`k${i}`]: i })),
        );
        const all = (await c.get("/all")).json();
        for (let i = 0; i < n; i++) assert.equal(all[`k${i}`], i, `k${i}`);
      });

      it("delete wins: a slow request's write does not bring a deleted session back", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
        const c = await withSession({ user: "fay" });
        const slowTab = c.clone();
        const g = gate("delete-wins");
        const slow = slowTab.post("/slow-set?gate=delete-wins", { late: "write" });
        await g.entered;
        assert.equal((await c.post("/destroy")).status, 200);
        g.release();
        assert.equal((await slow).status, 200);
        // The slow tab still holds the old ID: it must not see the session again.
        assert.deepEqual((await slowTab.get("/all")).json(), {});
        const old = c.clone();
        assert.deepEqual((await old.get("/all")).json(), {});
      });

      /**
       * A rotating request of `c`'s session (`how`: regenerate() or the
       * rotate_session_key flag) with `meanwhile` run between its load and its
       * commit. Its answer, its tab (a client holding what it was answered),
       * and the rotations the store was asked for meanwhile.
       */
      async function raceRotation(
        c: CookieClient,
        how: string,
        label: string,
        meanwhile: () => Promise<void>,
      ) {
        const slowTab = c.clone();
        const name = `${label}-${how}`;
        const g = gate(name);
        const first = rotations.length;
        const slow = slowTab.post(`/slow-rotate?gate=${name}&how=${how}`, { late: "write" });
        await g.entered;
        await meanwhile();
        g.release();
        const reply = await slow;
        assert.equal(reply.status, 200);
        return { reply, slowTab, rotations: rotations.slice(first) };
      }

      /** After a race with an end of the session: nothing of it is reachable, under any ID. */
      async function assertStaysEnded(
        c: CookieClient,
        race: Awaited<ReturnType<typeof raceRotation>>,
      ): Promise<void> {
        for (const cookie of race.reply.setCookies) {
          if (cookie.name === "session") {
            assert.ok(cookie.deletes, "the slow answer handed out a session ID");
          }
        }
        const server = store as ServerStore;
        for (const r of race.rotations) {
          assert.equal(await r.moved, false, "rotate moved an ended session");
          assert.equal(await server.get(r.newKey, clock), null, "the new key was written");
          assert.equal(await server.get(r.oldKey, clock), null, "the old key is back");
        }
        assert.deepEqual((await race.slowTab.get("/all")).json(), {}, "the slow tab sees it");
        assert.deepEqual((await c.clone().get("/all")).json(), {}, "the old cookie opens it");
      }

      for (const how of ["regenerate", "flag"]) {
        it(`logout vs a rotating request (${how}): the logout wins`, async (t) => {
          if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
          const c = await withSession({ user: "gil" });
          const race = await raceRotation(c, how, "logout-rotate", async () => {
            assert.equal((await c.clone().post("/destroy")).status, 200);
          });
          await assertStaysEnded(c, race);
        });

        it(`idle expiry vs a rotating request (${how}): the session stays expired`, async (t) => {
          if (isClient()) return t.diagnostic("client-side store: the expiry is sealed in it");
          const c = await withSession({ user: "ida" });
          const race = await raceRotation(c, how, "expiry-rotate", () => {
            clock += (IDLE + 1) * 1000;
            return Promise.resolve();
          });
          await assertStaysEnded(c, race);
        });

        it(`deleteSession(id) vs a rotating request (${how}): the revocation wins`, async (t) => {
          if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
          const c = await withSession({ user: "jo" });
          const { id } = (await c.get("/id")).json();
          const race = await raceRotation(c, how, "revoke-rotate", async () => {
            assert.equal((await client().post("/kill-by-id", { id })).status, 200);
          });
          await assertStaysEnded(c, race);
        });

        it(`a write of another key during a rotation (${how}) is kept`, async (t) => {
          if (isClient()) return t.diagnostic("client-side store: the last cookie wins");
          const c = await withSession({ user: "kim" });
          const race = await raceRotation(c, how, "write-rotate", async () => {
            assert.equal((await c.clone().post("/set", { tab: how })).status, 200);
          });
          assert.equal(race.rotations.length, 1, "one rotation");
          assert.equal(await race.rotations[0].moved, true);
          assert.notEqual(race.slowTab.cookies.get("session"), c.cookies.get("session"), "new ID");
          assert.deepEqual((await race.slowTab.get("/all")).json(), {
            user: "kim",
            tab: how,
            late: "write",
          });
          const marker = await (store as ServerStore).get(race.rotations[0].oldKey, clock);
          assert.ok(marker?.movedAt !== undefined, "the old key holds a rotation's marker");
          assert.deepEqual((await c.clone().get("/all")).json(), {}, "the old ID is dead");
        });
      }

      it("a deleted session's ID is not reused for a new session", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
        const c = await withSession({ a: 1 });
        const before = (await c.get("/id")).json().id;
        await c.post("/destroy");
        await c.post("/set", { b: 2 });
        assert.notEqual((await c.get("/id")).json().id, before);
        assert.deepEqual((await c.get("/all")).json(), { b: 2 });
      });
    });

    describe("rotation vs in-flight requests", () => {
      let runs = 0;
      const rotatingUser = () => `rot-${++runs}-${Math.random().toString(36).slice(2)}`;

      /** Apply a response's session cookie to `browser`, as a browser does when it arrives. */
      function arrive(browser: CookieClient, reply: Reply): void {
        for (const c of reply.setCookies) {
          if (c.name !== "session") continue;
          if (c.deletes) browser.cookies.delete(c.name);
          else browser.cookies.set(c.name, c.value);
        }
      }

      const ACTIONS = ["read", "set", "incr", "flash", "read", "set"] as const;

      /** The three ways a login moves a session: regenerate() then setUser, setUser alone, the flag. */
      const LOGINS: Record<string, (b: CookieClient, user: string) => Promise<Reply>> = {
        "regenerate + setUser": (b, user) => b.post(`/login?user=${user}`),
        "setUser alone": (b, user) => b.post("/set-user", { user }),
        "rotate_session_key": (b) => b.post("/rotate"),
      };

      for (const [how, login] of Object.entries(LOGINS)) {
        for (const before of [0, 3, ACTIONS.length]) {
          it(`${how}, ${before} of ${ACTIONS.length} in-flight requests ending first: the browser keeps the rotated cookie, the old ID opens nothing`, async (t) => {
            if (isClient()) {
              return t.diagnostic(
                "client-side store: a late response re-seals the session it loaded (see the guarantees)",
              );
            }
            const browser = await withSession({ cart: "pre" });
            const oldCookie = browser.cookies.get("session")!;
            const user = rotatingUser();
            const tag = `login${Object.keys(LOGINS).indexOf(how)}-${before}-${runs}`;
            const flight = ACTIONS.map((action, i) => {
              const g = gate(`${tag}-${i}`);
              const reply = browser.clone().post(
                `/slow?gate=${tag}-${i}&do=${action}&k=k${i}&v=v${i}`,
              );
              return { action, g, reply };
            });
            await Promise.all(flight.map((f) => f.g.entered)); // all loaded the old session
            const early = flight.slice(0, before);
            for (const f of early) {
              f.g.release();
              const reply = await f.reply;
              assert.equal(reply.status, 200, `${f.action} before the login`);
              arrive(browser, reply);
            }
            const loggedIn = await login(browser, user);
            assert.equal(loggedIn.status, 200);
            const rotated = browser.cookies.get("session");
            assert.ok(
              rotated !== undefined && rotated !== oldCookie,
              "the login handed out a new ID",
            );
            // One that arrives with the old ID moments after the login (sent before it landed).
            const lateArrivals = await Promise.all([
              browser.clone().request("/all", { headers: { cookie: `session=${oldCookie}` } }),
              browser.clone().request("/set", {
                method: "POST",
                headers: { cookie: `session=${oldCookie}`, "content-type": "application/json" },
                body: JSON.stringify({ planted: true }),
              }),
            ]);
            assert.deepEqual(lateArrivals[0].json(), {}, "the old ID opened the new session");
            assert.equal(lateArrivals[1].status, 409, "a late write is refused, not lost silently");
            for (const reply of lateArrivals) {
              assert.deepEqual(reply.setCookies.filter((c) => c.name === "session"), []);
              arrive(browser, reply);
            }
            for (const f of flight.slice(before)) {
              f.g.release();
              const reply = await f.reply;
              const wrote = f.action !== "read";
              assert.equal(reply.status, wrote ? 409 : 200, `${f.action} after the login`);
              assert.deepEqual(
                reply.setCookies.filter((c) => c.name === "session"),
                [],
                `${f.action} after the login touched the cookie`,
              );
              arrive(browser, reply);
            }
            assert.equal(browser.cookies.get("session"), rotated, "the browser's final cookie");
            const data = (await browser.get("/all")).json();
            assert.equal(data.cart, "pre", "the login kept the session's data");
            // What landed before the login is there; what was refused is not.
            for (const [i, f] of flight.entries()) {
              if (f.action !== "set") continue;
              assert.equal(data[`k${i}`], i < before ? `v${i}` : undefined, `k${i}`);
            }
            assert.equal(data.planted, undefined);
            if (how !== "rotate_session_key") {
              assert.deepEqual((await browser.get("/whoami")).json(), { user });
            }
            const attacker = client();
            attacker.cookies.set("session", oldCookie);
            assert.deepEqual((await attacker.get("/all")).json(), {}, "the old ID opens nothing");
            assert.deepEqual((await attacker.get("/whoami")).json(), { user: null });
          });
        }
      }

      it("a logout after the login still wins over requests in flight with the old ID", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
        const browser = await withSession({ cart: "pre" });
        const oldCookie = browser.cookies.get("session")!;
        const g = gate(`logout-after-login-${runs}`);
        const slow = browser.clone().post(`/slow?gate=logout-after-login-${runs}&do=set&k=a&v=b`);
        await g.entered;
        await browser.post(`/login?user=${rotatingUser()}`);
        const rotated = browser.cookies.get("session")!;
        assert.equal((await browser.post("/destroy")).status, 200);
        assert.equal(browser.cookies.get("session"), undefined, "the logout cleared the cookie");
        g.release();
        const late = await slow;
        assert.equal(late.status, 409);
        arrive(browser, late);
        assert.equal(browser.cookies.get("session"), undefined, "the late response set a cookie");
        for (const id of [oldCookie, rotated]) {
          const other = client();
          other.cookies.set("session", id);
          assert.deepEqual((await other.get("/all")).json(), {});
        }
      });

      it("a logout sent with the old ID after the login ends it there: the cookie is cleared", async (t) => {
        if (isClient()) return t.diagnostic("client-side store: no server state to revoke");
        const browser = await withSession({ cart: "pre" });
        const oldCookie = browser.cookies.get("session")!;
        await browser.post(`/login?user=${rotatingUser()}`);
        const staleTab = client();
        staleTab.cookies.set("session", oldCookie);
        const reply = await staleTab.post("/destroy");
        assert.equal(reply.status, 200);
        assert.ok(reply.setCookies.some((c) => c.name === "session" && c.deletes));
        assert.deepEqual((await staleTab.get("/all")).json(), {});
      });

      it("setUser alone gives a new ID: a planted ID stays useless after the victim's login", async () => {
        const attacker = await withSession({ planted: "by attacker" });
        // The session's cookies (the cookie store may spread it over several).
        const sessionCookies = (c: CookieClient) =>
          [...c.cookies].filter(([k]) => k.startsWith(cookieName())).map(([k, v]) => `${k}=${v}`)
            .join("; ");
        const planted = sessionCookies(attacker);
        const victim = attacker.clone(); // the attacker's cookie, planted in the victim's browser
        const user = rotatingUser();
        const reply = await victim.post("/set-user", { user });
        assert.equal(reply.status, 200);
        assert.notEqual(sessionCookies(victim), planted, "setUser kept the planted cookie");
        assert.notEqual(
          (await victim.get("/id")).json().id,
          (await attacker.get("/id")).json().id,
          "setUser kept the planted ID",
        );
        assert.deepEqual((await victim.get("/whoami")).json(), { user });
        assert.deepEqual((await attacker.get("/whoami")).json(), { user: null });
      });

      it("setUser to another user gives a new ID; to the same user, none; regenerate() before it, one", async () => {
        const c = client();
        assert.equal((await c.post("/set-user", { user: rotatingUser() })).status, 200);
        const id1 = (await c.get("/id")).json().id;
        const same = (await c.get("/whoami")).json().user;
        const again = await c.post("/set-user", { user: same });
        assert.deepEqual(again.setCookies.filter((x) => x.name === "session"), []);
        assert.equal((await c.get("/id")).json().id, id1, "the same user: no new ID");
        assert.equal((await c.post("/set-user", { user: rotatingUser() })).status, 200);
        const id2 = (await c.get("/id")).json().id;
        assert.notEqual(id2, id1, "another user: a new ID");
        const first = rotations.length;
        const login = await c.post(`/login?user=${rotatingUser()}`);
        assert.equal(login.status, 200);
        assert.notEqual((await c.get("/id")).json().id, id2);
        if (!isClient()) {
          assert.equal(rotations.length - first, 1, "regenerate() + setUser: one move");
        }
      });
    });
  });
}
