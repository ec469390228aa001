// A value nested deeper than MAX_VALUE_DEPTH is refused by `set` and `flash`
// with the documented SessionValueError, never a RangeError from a stack
// overflow, however deep it is; a value at the limit is stored and read back.
// (How fast the check is, beside JSON.stringify, is measured in
// bench/json_check.ts, not timed here.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MAX_VALUE_DEPTH, MemoryStore, Session, SessionValueError } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

/** Arrays nested `depth` deep (`nested(2)` is `[[]]`), built without recursion. */
function nested(depth: number, leaf: unknown[] = []): unknown[] {
  let v = leaf;
  for (let d = 1; d < depth; d++) v = [v];
  return v;
}

/** Objects nested `depth` deep: `{ a: { a: ... {} } }`. */
function nestedObjects(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let d = 1; d < depth; d++) v = { a: v };
  return v;
}

describe("set() and flash() refuse values nested too deep", () => {
  it("stores a value exactly MAX_VALUE_DEPTH deep and gives it back", async () => {
    assert.equal(MAX_VALUE_DEPTH, 1000);
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware(new MemoryStore()));
    app.use((ctx) => {
      const session = ctx.state.session;
      if (ctx.request.url.pathname === "/set") {
        session.set("arrays", nested(MAX_VALUE_DEPTH));
        session.set("objects", nestedObjects(MAX_VALUE_DEPTH));
        ctx.response.body = "set";
      } else {
        ctx.response.body = JSON.stringify([session.get("arrays"), session.get("objects")]);
      }
    });
    const server = await serve(app);
    try {
      const client = new CookieClient(server.url);
      assert.equal((await client.get("/set")).text, "set");
      const reply = await client.get("/get");
      assert.equal(reply.status, 200);
      assert.equal(
        reply.text,
        JSON.stringify([nested(MAX_VALUE_DEPTH), nestedObjects(MAX_VALUE_DEPTH)]),
      );
    } finally {
      server.close();
    }
  });

  it("throws SessionValueError one level deeper, and far deeper, storing nothing", async () => {
    const outcomes: string[] = [];
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware(new MemoryStore()));
    app.use((ctx) => {
      try {
        check(ctx.state.session);
        ctx.response.body = "checked";
      } catch (e) {
        ctx.response.body = String(e);
      }
    });
    // deno-lint-ignore no-explicit-any
    function check(session: any) {
      // 5,000 and more overflowed the stack before the limit existed.
      for (const depth of [MAX_VALUE_DEPTH + 1, 5_000, 100_000]) {
        for (const value of [nested(depth), { wrapped: nested(depth - 1) }]) {
          for (const method of ["set", "flash"] as const) {
            try {
              session[method]("deep", value);
              outcomes.push(`${method} ${depth}: stored`);
            } catch (e) {
              assert.ok(e instanceof SessionValueError, `${method} ${depth}: ${e}`);
              assert.equal(e.key, "deep");
              assert.match(e.message, /"deep"/);
              assert.match(e.message, /more than 1000 deep/);
              // The path is shortened, so the message stays readable.
              assert.ok(e.message.length < 400, `message of ${e.message.length} chars`);
              assert.match(e.message, /…\(\d+ more\)…/);
              outcomes.push(`${method} ${depth}: refused`);
            }
          }
        }
      }
      assert.deepEqual(Object.keys(session.all()), []);
    }
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.equal(reply.text, "checked");
      assert.deepEqual(reply.setCookies, [], "nothing stored");
      assert.equal(outcomes.length, 12);
      assert.ok(outcomes.every((o) => o.endsWith("refused")), outcomes.join(", "));
    } finally {
      server.close();
    }
  });

  it("counts depth along each branch, not across branches", async () => {
    // 300 branches, each at the limit: wide and deep is fine as long as no
    // single path is longer than MAX_VALUE_DEPTH.
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware(new MemoryStore()));
    const value = Array.from({ length: 300 }, () => nested(MAX_VALUE_DEPTH - 1));
    let error: unknown;
    app.use((ctx) => {
      try {
        ctx.state.session.set("wide", value);
      } catch (e) {
        error = e;
      }
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.equal(reply.text, "ok");
      assert.equal(error, undefined);
      assert.equal(reply.setCookies.length, 1, "the session was stored");
    } finally {
      server.close();
    }
  });

  it("still names a circular reference deep inside as circular, where it closes", async () => {
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware(new MemoryStore()));
    const inner: Record<string, unknown> = { n: 1 };
    inner.back = inner;
    const value = { a: nested(20, [inner]) };
    let message = "";
    app.use((ctx) => {
      try {
        ctx.state.session.set("loop", value);
      } catch (e) {
        assert.ok(e instanceof SessionValueError);
        message = e.message;
      }
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      await new CookieClient(server.url).get("/");
      assert.match(message, /circular reference/);
      assert.match(message, /\["0"\]\["back"\] is a circular/);
    } finally {
      server.close();
    }
  });
});
