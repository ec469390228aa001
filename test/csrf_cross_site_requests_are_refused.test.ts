/**
 * CSRF protection, on by default, through a real Oak server over real HTTP:
 * what browsers mark as sent by another origin (`Sec-Fetch-Site`, then
 * `Origin` against the request's host) is refused with 403 before the
 * session is loaded; same-origin requests, clients that send neither header
 * (curl, server-to-server) and safe methods pass. The headers here are the
 * ones browsers send; test/browser/cross_site_requests_are_refused_in_chromium
 * has a real browser send them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import { SessionConfigError } from "../src/errors.ts";
import type { SessionEvent } from "../src/events.ts";
import type { SessionOptions } from "../src/options.ts";
import type { SessionStore } from "../src/store.ts";
import { MemoryStore } from "../src/stores/memory.ts";
import { CookieClient } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

/** A running app whose routes count their calls and the session's loads. */
interface CsrfApp {
  server: RunningServer;
  events: SessionEvent[];
  /** How many times a handler behind the middleware ran. */
  handled: () => number;
  /** How many times the store was read (a refused request reads nothing). */
  reads: () => number;
  close(): void;
}

async function startApp(options: SessionOptions = {}, proxy = false): Promise<CsrfApp> {
  const events: SessionEvent[] = [];
  let handled = 0;
  let reads = 0;
  const memory = new MemoryStore();
  // Counts reads of a real MemoryStore.
  const store = new Proxy(memory, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (name === "get") {
        return (...args: Parameters<MemoryStore["get"]>) => {
          reads++;
          return target.get(...args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SessionStore;
  const router = new Router();
  const count = (ctx: { state: { session: Session }; response: { body: unknown } }) => {
    handled++;
    ctx.response.body = { n: ctx.state.session.increment("n") };
  };
  router
    .get("/n", (ctx) => {
      ctx.response.body = { n: ctx.state.session.get("n") ?? 0 };
    })
    .head("/n", (ctx) => {
      ctx.response.body = "";
    })
    .options("/n", (ctx) => {
      ctx.response.body = "";
    })
    .post("/n", count)
    .put("/n", count)
    .patch("/n", count)
    .delete("/n", count)
    .post("/hooks/in", count)
    .post("/public/form", count);
  const app = new Application({ logErrors: false, proxy });
  app.use(Session.initMiddleware(store, { ...options, onEvent: (e) => events.push(e) }));
  app.use(router.routes());
  const server = await serve(app);
  return {
    server,
    events,
    handled: () => handled,
    reads: () => reads,
    close: () => void server.close(),
  };
}

/** A client with a stored session (`n` = 1). */
async function withSession(app: CsrfApp): Promise<CookieClient> {
  const c = new CookieClient(app.server.url);
  assert.equal((await c.request("/n", { method: "POST" })).status, 200);
  return c;
}

const CROSS_SITE_FORM = {
  "sec-fetch-site": "cross-site",
  "sec-fetch-mode": "navigate",
  "sec-fetch-dest": "document",
  origin: "https://evil.example",
  "content-type": "application/x-www-form-urlencoded",
};

describe("CSRF protection by default", () => {
  let app: CsrfApp;
  before(async () => {
    app = await startApp();
  });
  after(() => app.close());

  /** `c` sends `headers`: refused with 403 for `reason`, with nothing loaded, run or written. */
  async function assertRefused(
    c: CookieClient,
    init: RequestInit,
    reason: string,
    path = "/n",
  ): Promise<void> {
    const before = { handled: app.handled(), reads: app.reads(), events: app.events.length };
    const r = await c.request(path, init);
    assert.equal(r.status, 403, `${JSON.stringify(init)}: ${r.text}`);
    assert.match(r.text, /^Forbidden: a cross-site request was refused/);
    assert.equal(r.setCookies.length, 0, "no cookie is set or cleared");
    assert.equal(app.handled(), before.handled, "the handler did not run");
    assert.equal(app.reads(), before.reads, "the session was not even loaded");
    assert.deepEqual(app.events.slice(before.events), [{
      type: "csrf-refused",
      reason,
      method: init.method ?? "GET",
      path,
    }]);
  }

  it("refuses a cross-site form POST, and the session is unchanged", async () => {
    const c = await withSession(app);
    await assertRefused(c, { method: "POST", headers: CROSS_SITE_FORM, body: "x=1" }, "cross-site");
    assert.equal((await c.get("/n")).json().n, 1);
  });

  it("refuses a cross-site fetch with credentials, of every unsafe method", async () => {
    const c = await withSession(app);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      await assertRefused(c, {
        method,
        headers: {
          "sec-fetch-site": "cross-site",
          "sec-fetch-mode": "cors",
          origin: "https://evil.example",
          "content-type": "application/json",
        },
        body: "{}",
      }, "cross-site");
    }
    assert.equal((await c.get("/n")).json().n, 1);
  });

  it("refuses Sec-Fetch-Site: same-site (a sibling subdomain or port)", async () => {
    const c = await withSession(app);
    await assertRefused(c, {
      method: "POST",
      headers: { "sec-fetch-site": "same-site", origin: "https://blog.example.com" },
    }, "same-site");
  });

  it("without Sec-Fetch-Site, refuses an Origin of another host, and Origin: null", async () => {
    const c = await withSession(app);
    await assertRefused(
      c,
      { method: "POST", headers: { origin: "https://evil.example" } },
      "origin-mismatch",
    );
    // Same host name, another port: another origin.
    const other = new URL(app.server.url);
    other.port = String(Number(other.port) + 1);
    await assertRefused(
      c,
      { method: "POST", headers: { origin: other.origin } },
      "origin-mismatch",
    );
    await assertRefused(c, { method: "POST", headers: { origin: "null" } }, "null-origin");
    await assertRefused(c, { method: "POST", headers: { origin: "not a url" } }, "origin-mismatch");
  });

  it("a header the browser sets cannot be undone by another: cross-site with this host's Origin is refused", async () => {
    const c = await withSession(app);
    await assertRefused(c, {
      method: "POST",
      headers: { "sec-fetch-site": "cross-site", origin: app.server.url },
    }, "cross-site");
  });

  it("lets through same-origin browser requests, requests of no browser, and safe methods", async () => {
    const c = await withSession(app);
    const ok = async (init: RequestInit, path = "/n") => {
      const r = await c.request(path, init);
      assert.equal(r.status, 200, `${JSON.stringify(init)}: ${r.text}`);
    };
    await ok({
      method: "POST",
      headers: { "sec-fetch-site": "same-origin", origin: app.server.url },
    });
    await ok({ method: "POST", headers: { "sec-fetch-site": "none" } }); // typed in the address bar
    await ok({ method: "POST", headers: { origin: app.server.url } }); // an older browser
    await ok({ method: "POST" }); // curl, a server calling this one
    for (const method of ["GET", "HEAD", "OPTIONS"]) {
      await ok({
        method,
        headers: { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
      });
    }
    assert.equal((await c.get("/n")).json().n, 5);
  });
});

describe("CSRF protection options", () => {
  it("trustedOrigins lets a named origin through, and only it", async () => {
    const app = await startApp({ csrf: { trustedOrigins: ["https://blog.example.com"] } });
    try {
      const c = await withSession(app);
      const post = (origin: string, site = "same-site") =>
        c.request("/n", { method: "POST", headers: { "sec-fetch-site": site, origin } });
      assert.equal((await post("https://blog.example.com")).status, 200);
      assert.equal((await post("https://blog.example.com", "cross-site")).status, 200);
      assert.equal((await post("https://shop.example.com")).status, 403);
      assert.equal((await post("http://blog.example.com")).status, 403, "another scheme");
      assert.equal((await post("https://blog.example.com:8443")).status, 403, "another port");
    } finally {
      app.close();
    }
  });

  it("exemptPaths and exemptMethods are never checked; the rest still is", async () => {
    const app = await startApp({
      csrf: { exemptPaths: ["/hooks/in", /^\/public\//], exemptMethods: ["delete"] },
    });
    try {
      const c = await withSession(app);
      const send = (path: string, method = "POST") =>
        c.request(path, { method, headers: CROSS_SITE_FORM });
      assert.equal((await send("/hooks/in")).status, 200);
      assert.equal((await send("/public/form")).status, 200);
      assert.equal((await send("/n", "DELETE")).status, 200);
      assert.equal((await send("/n")).status, 403);
      assert.equal((await send("/hooks/in/more")).status, 403, "an exact path is exact");
    } finally {
      app.close();
    }
    const prefix = await startApp({ csrf: { exemptPaths: ["/hooks/*"] } });
    try {
      const c = new CookieClient(prefix.server.url);
      const r = await c.request("/hooks/in", { method: "POST", headers: CROSS_SITE_FORM });
      assert.equal(r.status, 200, "a prefix ending in *");
    } finally {
      prefix.close();
    }
  });

  it("csrf: false turns the protection off", async () => {
    const app = await startApp({ csrf: false });
    try {
      const c = await withSession(app);
      const r = await c.request("/n", { method: "POST", headers: CROSS_SITE_FORM });
      assert.equal(r.status, 200);
      assert.equal(r.json().n, 2);
    } finally {
      app.close();
    }
  });

  it("behind a proxy (app.proxy), Origin is compared with the host the proxy forwarded", async () => {
    const proxied = await startApp({}, true);
    const direct = await startApp({}, false);
    try {
      const headers = {
        "x-forwarded-host": "app.example.com",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "203.0.113.9",
        origin: "https://app.example.com",
      };
      const a = new CookieClient(proxied.server.url);
      assert.equal((await a.request("/n", { method: "POST", headers })).status, 200);
      const evil = { ...headers, origin: "https://evil.example" };
      assert.equal((await a.request("/n", { method: "POST", headers: evil })).status, 403);
      // Without app.proxy, X-Forwarded-Host is not trusted: the real host is compared.
      const b = new CookieClient(direct.server.url);
      assert.equal((await b.request("/n", { method: "POST", headers })).status, 403);
    } finally {
      proxied.close();
      direct.close();
    }
  });

  it("refuses options that cannot be right, with a message that says what to pass", () => {
    const bad: Array<[unknown, RegExp]> = [
      ["yes", /csrf must be an object of options .* or false/],
      [true, /csrf must be an object/],
      [{ trustedOrigins: "https://a.example" }, /trustedOrigins must be an array/],
      [{ trustedOrigins: ["https://a.example/path"] }, /an origin alone/],
      [{ trustedOrigins: ["a.example"] }, /an origin alone/],
      [{ trustedOrigins: ["ftp://a.example"] }, /an origin alone/],
      [{ trustedOrigins: ["https://user@a.example"] }, /an origin alone/],
      [{ trustedOrigins: ["https://a.example?x"] }, /an origin alone/],
      [{ exemptPaths: ["hooks"] }, /starting with \//],
      [{ exemptPaths: [42] }, /starting with \//],
      [{ exemptMethods: ["PO ST"] }, /HTTP method name/],
      [{ tokens: "yes" }, /csrf.tokens must be true, false/],
      [{ tokens: { header: "x csrf" } }, /header name/],
      [{ tokens: { field: "" } }, /form field name/],
      [{ tokens: { headr: "x" } }, /headr/],
      [{ trustedOrigin: ["https://a.example"] }, /trustedOrigin/],
    ];
    for (const [csrf, message] of bad) {
      assert.throws(
        () => Session.initMiddleware(new MemoryStore(), { csrf } as SessionOptions),
        (e: unknown) => e instanceof SessionConfigError && message.test(e.message),
        JSON.stringify(csrf),
      );
    }
    // What is right is taken.
    Session.initMiddleware(new MemoryStore(), {
      csrf: {
        trustedOrigins: ["https://a.example", "http://localhost:5173/", "HTTPS://B.EXAMPLE"],
        exemptPaths: ["/x", "/y/*", /^\/z/],
        exemptMethods: ["DELETE"],
        tokens: { header: "X-XSRF-Token", field: "authenticity_token" },
      },
    });
  });
});
