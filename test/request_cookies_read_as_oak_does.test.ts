// The middleware reads unsigned cookies from the Cookie header itself (once,
// without Oak's per-call regular expression and promise). It must find
// exactly what Oak's own cookie jar finds, for every header shape, or a
// session would be lost or a different cookie taken.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { cookieHeaderOf, RequestCookies } from "../src/request_cookies.ts";
import { serve } from "./kit/oak_server.ts";

const NAMES = ["session", "session.1", "session.2", "a", "b", "x y", ""];
const HEADERS = [
  "",
  "session=abc",
  "session=abc; session.1=def",
  "session.1=def;session=abc",
  "xsession=no; session=yes",
  "session=first; session=second",
  "  session=leading-spaces",
  "a=1;;b=2; =empty-name; session=",
  "session=has=equals; a=",
  "novalue; session=v",
  "\tsession=tab",
  "a=1 ; b=2 ;session= spaced ",
  "x y=space in name; session=ok",
];

function found(header: string | null | undefined): string | null {
  return header === undefined ? "not found" : header;
}

describe("RequestCookies", () => {
  it("finds what Oak's cookie jar finds, for every header and name", async () => {
    const app = new Application();
    app.use(async (ctx) => {
      const ours = new RequestCookies(ctx.cookies, ctx.request.headers.get("cookie"), false);
      const out: Record<string, [unknown, unknown]> = {};
      for (const name of NAMES) {
        if (name === "") continue; // Oak's jar refuses an empty name outright
        out[name] = [await ctx.cookies.get(name, { signed: false }), ours.value(name) ?? null];
      }
      ctx.response.body = out;
    });
    const server = await serve(app);
    try {
      for (const header of HEADERS) {
        const res = await fetch(server.url, { headers: header ? { cookie: header } : {} });
        const out = await res.json() as Record<string, [unknown, unknown]>;
        for (const [name, [oak, ours]] of Object.entries(out)) {
          assert.equal(ours, oak ?? null, `${JSON.stringify(name)} in ${JSON.stringify(header)}`);
        }
      }
    } finally {
      server.close();
    }
  });

  it("takes the Cookie header from the Headers Oak's jar already holds", async () => {
    const app = new Application();
    app.use((ctx) => {
      ctx.response.body = {
        request: ctx.request.headers.get("cookie"),
        // No request headers to fall back on: only the jar's can answer.
        jarOnly: found(cookieHeaderOf({ cookies: ctx.cookies, request: {} })),
        usual: cookieHeaderOf(ctx),
      };
    });
    const server = await serve(app);
    try {
      for (const cookie of ["session=abc; a=1", undefined]) {
        const res = await fetch(server.url, { headers: cookie ? { cookie } : {} });
        const out = await res.json();
        assert.equal(out.jarOnly, out.request, "found in Oak's cookie jar");
        assert.equal(out.usual, out.request);
        assert.equal(out.request, cookie ?? null);
      }
    } finally {
      server.close();
    }
  });

  it("leaves signed reads to Oak's jar", async () => {
    const calls: unknown[] = [];
    const jar = {
      get: (name: string, options?: Record<string, unknown>) => {
        calls.push([name, options]);
        return Promise.resolve("from the jar");
      },
      set: () => Promise.resolve(),
    };
    const byDefault = new RequestCookies(jar, "session=raw", true);
    assert.equal(await byDefault.get("session"), "from the jar");
    assert.equal(await byDefault.get("session", { signed: false }), "raw");
    const unsigned = new RequestCookies(jar, "session=raw", false);
    assert.equal(await unsigned.get("session"), "raw");
    assert.equal(await unsigned.get("session", { signed: true }), "from the jar");
    assert.equal(calls.length, 2);
  });
});
