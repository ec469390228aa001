/**
 * Part of the conformance suite (`conformance.ts`), on every store: CSRF
 * tokens (`session.csrfToken()`, the middleware's `csrf: { tokens: true }`)
 * and the lifecycle events (`onEvent`), through a real Oak app over real
 * HTTP. The requests here carry neither `Sec-Fetch-Site` nor `Origin`, as a
 * browser too old for them, or a script, would: with tokens on, each unsafe
 * one must carry its session's token. The clock is the test's own (the only
 * fake: expiry cannot wait for real time).
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import type { SessionEvent } from "../src/events.ts";
import { fingerprintOf, sessionKey } from "../src/session_id.ts";
import type { SessionStore } from "../src/store.ts";
import { CookieClient } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

const IDLE = 600;
const ABSOLUTE = 3600;

async function fingerprintOfId(id: string): Promise<string> {
  return fingerprintOf(await sessionKey(id));
}

/**
 * `seen` reports the expiry of the session `fingerprint`, for `reason`. A
 * store that already swept it away (its sweep rides on requests, and the
 * test's clock jumped past its interval) no longer has it: that load can only
 * say the cookie is unknown. Which one a store reports is its own; both are
 * checked whole. (events_expired_sessions.test.ts checks stores that still hold it.)
 */
function assertExpired(seen: SessionEvent[], reason: "idle" | "absolute", fingerprint: string) {
  assert.equal(seen.length, 1, JSON.stringify(seen));
  if (seen[0].type === "cookie-rejected") {
    assert.deepEqual(seen[0], { type: "cookie-rejected", reason: "unknown" });
  } else assert.deepEqual(seen[0], { type: "expired", reason, fingerprint });
}

/** The lifecycle part of the suite, over the suite's store (`store()` once it is made). */
export function lifecycleConformance(store: () => SessionStore): void {
  describe("CSRF tokens and lifecycle events", () => {
    let server: RunningServer;
    let clock = Date.now();
    const events: SessionEvent[] = [];
    let users = 0;
    const newUser = () => `lifecycle-${++users}-${Math.random().toString(36).slice(2)}`;

    before(async () => {
      const manager = new Session(store(), {
        expireAfterSeconds: IDLE,
        absoluteTimeoutSeconds: ABSOLUTE,
        csrf: { tokens: true },
        onEvent: (event) => events.push(event),
        // Slowness is tested on a store made slow on purpose (events_*.test.ts), not here.
        slowStoreCallMs: 60_000,
        now: () => clock,
      });
      const mw = manager.initMiddleware();
      const router = new Router();
      router
        .get("/token", mw, (ctx) => {
          const session = ctx.state.session;
          ctx.response.body = { token: session.csrfToken(), id: session.id };
        })
        .get("/state", mw, (ctx) => {
          const session = ctx.state.session;
          ctx.response.body = { acts: session.get("acts") ?? 0, id: session.id };
        })
        .post("/act", mw, async (ctx) => {
          const session = ctx.state.session;
          const type = ctx.request.headers.get("content-type") ?? "";
          // The handler reads the body the middleware read for its token.
          let note: unknown = null;
          if (type.startsWith("application/x-www-form-urlencoded")) {
            note = (await ctx.request.body.form()).get("note");
          } else if (type.startsWith("multipart/form-data")) {
            note = (await ctx.request.body.formData()).get("note");
          }
          ctx.response.body = { acts: session.increment("acts"), note };
        })
        .post("/login", mw, async (ctx) => {
          const session = ctx.state.session;
          await session.regenerate();
          session.setUser(ctx.request.url.searchParams.get("user") ?? "");
          ctx.response.body = { token: session.csrfToken(), id: session.id };
        })
        .post("/logout", mw, async (ctx) => {
          await ctx.state.session.destroy();
          ctx.response.body = "ok";
        })
        .post("/revoke-all", mw, async (ctx) => {
          const user = ctx.request.url.searchParams.get("user") ?? "";
          ctx.response.body = { ended: await ctx.state.session.revokeSessions(user) };
        });
      const app = new Application({ logErrors: false });
      app.use(router.routes());
      server = await serve(app);
    });

    after(() => {
      server?.close();
    });

    const isClient = () => store().kind === "client";
    const canRevoke = () => {
      const s = store();
      return s.kind === "client"
        ? typeof s.revokeUser === "function"
        : typeof s.listByUser === "function" && typeof s.deleteByUser === "function";
    };

    /** A client with a stored session and one of its tokens. */
    async function withToken(): Promise<{ c: CookieClient; token: string; id: string }> {
      const c = new CookieClient(server.url);
      const r = await c.get("/token");
      assert.equal(r.status, 200);
      assert.ok(r.setCookies.length > 0, "the first token stores the session: a cookie is set");
      return { c, ...r.json() };
    }

    const act = (c: CookieClient, headers: Record<string, string> = {}, body?: BodyInit) =>
      c.request("/act", { method: "POST", headers, body });

    /** The events reported while `work` ran. */
    async function eventsOf(work: () => Promise<unknown>): Promise<SessionEvent[]> {
      const from = events.length;
      await work();
      return events.slice(from);
    }

    it("a token opens its session from the header, a URL-encoded field or a multipart field; the handler still reads the body", async () => {
      const { c, token } = await withToken();
      let r = await act(c, { "x-csrf-token": token });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().acts, 1);
      r = await act(
        c,
        { "content-type": "application/x-www-form-urlencoded" },
        new URLSearchParams({ note: "hello & bye", _csrf: token }).toString(),
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json(), { acts: 2, note: "hello & bye" });
      const form = new FormData();
      form.set("note", "multi");
      form.set("_csrf", token);
      r = await c.request("/act", { method: "POST", body: form });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json(), { acts: 3, note: "multi" });
    });

    it("each call gives another token, and every one of them opens the session", async () => {
      const { c, token } = await withToken();
      const again = (await c.get("/token")).json().token;
      assert.notEqual(again, token, "masked anew on every call");
      assert.equal(token.length, 86);
      assert.equal((await act(c, { "x-csrf-token": token })).status, 200);
      assert.equal((await act(c, { "x-csrf-token": again })).status, 200);
    });

    it("refuses a missing, a wrong, a cut and another session's token with 403, and changes nothing", async () => {
      const { c, token } = await withToken();
      const other = await withToken();
      const flipped = (token[0] === "A" ? "B" : "A") + token.slice(1);
      const cases: Array<[Record<string, string>, string]> = [
        [{}, "missing-token"],
        [{ "x-csrf-token": flipped }, "invalid-token"],
        [{ "x-csrf-token": token.slice(0, 43) }, "invalid-token"],
        [{ "x-csrf-token": "" }, "invalid-token"],
        [{ "x-csrf-token": other.token }, "invalid-token"],
      ];
      for (const [headers, reason] of cases) {
        const seen = await eventsOf(async () => {
          const r = await act(c, headers);
          assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.text}`);
          assert.match(r.text, /^Forbidden/);
          assert.equal(r.setCookies.length, 0, "nothing written, no cookie");
        });
        assert.deepEqual(seen, [{ type: "csrf-refused", reason, method: "POST", path: "/act" }]);
      }
      assert.equal((await c.get("/state")).json().acts, 0, "no refused request ran its handler");
      // A form without the field, and a form whose field is another session's.
      const r = await act(
        c,
        { "content-type": "application/x-www-form-urlencoded" },
        `note=x&_csrf=${other.token}`,
      );
      assert.equal(r.status, 403);
      assert.equal(
        (await act(c, { "content-type": "application/x-www-form-urlencoded" }, "note=x")).status,
        403,
      );
      assert.equal((await c.get("/state")).json().acts, 0);
    });

    it("a token replayed after logout, or from before a login, opens nothing", async () => {
      const { c, token } = await withToken();
      // Log in: the session's tokens change with its ID.
      const login = await c.request(`/login?user=${newUser()}`, {
        method: "POST",
        headers: { "x-csrf-token": token },
      });
      assert.equal(login.status, 200, login.text);
      const fresh = login.json().token as string;
      assert.equal((await act(c, { "x-csrf-token": token })).status, 403, "pre-login token");
      assert.equal((await act(c, { "x-csrf-token": fresh })).status, 200, "the new one works");
      // Log out: no token of the ended session opens the next one.
      assert.equal(
        (await c.request("/logout", { method: "POST", headers: { "x-csrf-token": fresh } }))
          .status,
        200,
      );
      assert.equal((await act(c, { "x-csrf-token": fresh })).status, 403, "after logout");
      // The same browser's copy of the old cookie, with its token, is dead too.
      const next = await withToken();
      assert.equal((await act(next.c, { "x-csrf-token": fresh })).status, 403);
    });

    it("a browser's same-origin request needs no token; HEAD, GET and OPTIONS never do", async () => {
      const { c } = await withToken();
      assert.equal((await act(c, { "sec-fetch-site": "same-origin" })).status, 200);
      assert.equal((await act(c, { origin: server.url })).status, 200);
      for (const method of ["GET", "HEAD", "OPTIONS"]) {
        const r = await c.request("/state", {
          method,
          headers: { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
        });
        assert.notEqual(r.status, 403, method);
      }
    });

    it("reports created, rotated and destroyed with fingerprints, never the ID", async () => {
      let made: { c: CookieClient; token: string; id: string } | undefined;
      const created = await eventsOf(async () => made = await withToken());
      const { c, token, id } = made!;
      const fp = await fingerprintOfId(id);
      assert.deepEqual(created, [{ type: "created", fingerprint: fp }]);
      assert.match(fp, /^[A-Za-z0-9_-]{16}$/);

      const user = newUser();
      let newId = "";
      const rotated = await eventsOf(async () => {
        const r = await c.request(`/login?user=${user}`, {
          method: "POST",
          headers: { "x-csrf-token": token },
        });
        assert.equal(r.status, 200);
        newId = r.json().id;
      });
      assert.deepEqual(rotated, [{
        type: "rotated",
        fingerprint: await fingerprintOfId(newId),
        previous: fp,
      }]);
      const fresh = (await c.get("/token")).json().token;
      const destroyed = await eventsOf(async () => {
        const r = await c.request("/logout", {
          method: "POST",
          headers: { "x-csrf-token": fresh },
        });
        assert.equal(r.status, 200);
      });
      assert.deepEqual(destroyed, [{
        type: "destroyed",
        fingerprint: await fingerprintOfId(newId),
      }]);
      const text = JSON.stringify(events);
      assert.ok(!text.includes(id) && !text.includes(newId), "no event carries a session ID");
      assert.ok(!text.includes(await sessionKey(id)), "nor a store key");
    });

    it("reports a revocation with its count", async (t) => {
      if (!canRevoke()) return t.skip("this store keeps no per-user index (checked elsewhere)");
      const user = newUser();
      const devices: Array<{ c: CookieClient; token: string }> = [];
      for (let i = 0; i < 3; i++) {
        const d = await withToken();
        const r = await d.c.request(`/login?user=${user}`, {
          method: "POST",
          headers: { "x-csrf-token": d.token },
        });
        assert.equal(r.status, 200);
        devices.push({ c: d.c, token: r.json().token });
      }
      const seen = await eventsOf(async () => {
        const r = await devices[0].c.request(`/revoke-all?user=${user}`, {
          method: "POST",
          headers: { "x-csrf-token": devices[0].token },
        });
        assert.equal(r.status, 200, r.text);
      });
      const revoked = seen.filter((e) => e.type === "revoked");
      // The cookie store revokes by time: it cannot count sessions it never sees.
      assert.deepEqual(revoked, [{ type: "revoked", count: isClient() ? 0 : 3 }]);
    });

    it("reports an expired session found on load, idle or absolute", async () => {
      const start = clock;
      try {
        const idle = await withToken();
        const fp = await fingerprintOfId(idle.id);
        clock += (IDLE + 1) * 1000;
        const seenIdle = await eventsOf(() => idle.c.get("/state"));
        assertExpired(seenIdle, "idle", fp);

        const old = await withToken();
        const born = clock;
        // Used often enough to stay within its idle timeout, until past its absolute end.
        while (clock + (IDLE / 2) * 1000 < born + ABSOLUTE * 1000) {
          clock += (IDLE / 2) * 1000;
          assert.equal((await act(old.c, { "x-csrf-token": old.token })).status, 200);
        }
        clock = born + ABSOLUTE * 1000 + 1000;
        const seenAbsolute = await eventsOf(() => old.c.get("/state"));
        assertExpired(seenAbsolute, "absolute", await fingerprintOfId(old.id));
      } finally {
        clock = start + (2 * ABSOLUTE + IDLE) * 1000;
      }
    });

    it("reports a malformed, unknown or tampered cookie, and why", async () => {
      const name = isClient() ? (store() as { cookieName: string }).cookieName : "session";
      const client = (value: string) => {
        const c = new CookieClient(server.url);
        c.cookies.set(name, value);
        return c;
      };
      const malformed = await eventsOf(() => client("not-a-session").get("/state"));
      assert.deepEqual(malformed, [{ type: "cookie-rejected", reason: "malformed" }]);
      const { c } = await withToken();
      const value = c.cookies.get(name) as string;
      // One character changed inside the value: an unknown ID, or a seal that fails.
      const i = Math.floor(value.length / 2);
      const altered = value.slice(0, i) + (value[i] === "A" ? "B" : "A") + value.slice(i + 1);
      const seen = await eventsOf(() => client(altered).get("/state"));
      assert.deepEqual(seen, [{
        type: "cookie-rejected",
        reason: isClient() ? "tampered" : "unknown",
      }]);
      const none = await eventsOf(() => new CookieClient(server.url).get("/state"));
      assert.deepEqual(none, [], "no cookie: nothing to report");
    });
  });
}
