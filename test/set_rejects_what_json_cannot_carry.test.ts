// `set` and `flash` refuse, at the call, values JSON would not give back as
// they were, and name the key; prototype-like keys are plain data.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MemoryStore, Session, SessionError, SessionValueError } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

describe("set() and flash() reject values JSON cannot carry", () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const bad: Array<[string, unknown, RegExp]> = [
    ["fn", () => 1, /a function/],
    ["sym", Symbol("s"), /a symbol/],
    ["big", 10n, /a BigInt.*toString/],
    ["loop", circular, /circular/],
    ["map", new Map([["a", 1]]), /instance of Map/],
    ["set", new Set([1]), /instance of Set/],
    ["date", new Date(0), /instance of Date.*toISOString/],
    ["nan", NaN, /NaN/],
    ["inf", { deep: [Infinity] }, /Infinity/],
    ["hole", [1, undefined], /undefined inside an array/],
    ["cls", new (class Point {})(), /instance of Point/],
  ];

  it("throws SessionValueError (a SessionError) naming the key, and stores nothing", async () => {
    const seen: string[] = [];
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
      for (const [key, value, pattern] of bad) {
        for (const method of ["set", "flash"] as const) {
          assert.throws(
            () => session[method](key, value),
            (e: unknown) => {
              assert.ok(e instanceof SessionValueError);
              assert.ok(e instanceof SessionError);
              assert.equal(e.key, key);
              assert.match(e.message, new RegExp(`"${key}"`));
              assert.match(e.message, pattern);
              return true;
            },
          );
          seen.push(`${method}:${key}`);
        }
      }
      assert.deepEqual(Object.keys(session.all()), []);
    }
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.equal(reply.text, "checked");
      assert.deepEqual(reply.setCookies, [], "nothing stored");
      assert.equal(seen.length, bad.length * 2);
    } finally {
      server.close();
    }
  });

  it("names the path inside the value", async () => {
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware());
    let message = "";
    app.use((ctx) => {
      try {
        ctx.state.session.set("cart", { items: [{ added: new Date(0) }] });
      } catch (e) {
        message = (e as Error).message;
      }
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      await new CookieClient(server.url).get("/");
      assert.match(message, /"cart" at \["items"\]\["0"\]\["added"\]/);
    } finally {
      server.close();
    }
  });

  it("accepts plain data, shared (non-circular) references, and skips undefined members", async () => {
    const app = new Application();
    app.use(Session.initMiddleware());
    const shared = { n: 1 };
    app.use((ctx) => {
      ctx.state.session.set("ok", { a: shared, b: shared, c: undefined, d: Object.create(null) });
      ctx.response.body = JSON.stringify(ctx.state.session.get("ok"));
    });
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.deepEqual(JSON.parse(reply.text), { a: { n: 1 }, b: { n: 1 }, d: {} });
    } finally {
      server.close();
    }
  });

  it("names every shape of cycle circular, where it first closes, and accepts shared branches", async () => {
    // Cycles the walk finds in different ways: through containers of one
    // member (found at the depth limit), after a big sibling, and through
    // more forks than are scanned in an array (a Set holds the rest).
    const single: unknown[] = [];
    single.push([[single]]);
    const afterSibling: Record<string, unknown> = {
      big: Array.from({ length: 1000 }, (_, i) => ({ i })),
    };
    afterSibling.self = afterSibling;
    // 40 forks (containers of two container members), then a loop of 3.
    const longLoop: Record<string, unknown> = { side: {}, next: null };
    let tail = longLoop;
    let loopStart = longLoop;
    for (let i = 0; i < 43; i++) {
      const node: Record<string, unknown> = { side: {}, next: null };
      tail.next = node;
      tail = node;
      if (i === 39) loopStart = node;
    }
    tail.next = loopStart;
    // Not circular: one object under many forks, deeper than 32 forks.
    const leaf = { shared: [1], other: {} };
    let sharedTree: unknown = leaf;
    for (let i = 0; i < 50; i++) sharedTree = { a: sharedTree, b: leaf, c: [leaf] };
    const cases: Array<[string, unknown, RegExp]> = [
      ["single", single, /"single" at \["0"\]\["0"\]\["0"\] is a circular reference/],
      ["afterSibling", afterSibling, /"afterSibling" at \["self"\] is a circular reference/],
      [
        "longLoop",
        longLoop,
        /"longLoop" at (\["next"\]){6}…\(35 more\)…(\["next"\]){3} is a circular/,
      ],
    ];
    const results: string[] = [];
    const app = new Application({ logErrors: false });
    app.use(Session.initMiddleware(new MemoryStore()));
    app.use((ctx) => {
      for (const [key, value, pattern] of cases) {
        try {
          ctx.state.session.set(key, value);
          results.push(`${key}: stored`);
        } catch (e) {
          results.push(
            e instanceof SessionValueError && pattern.test(e.message)
              ? `${key}: circular`
              : `${key}: ${e}`,
          );
        }
      }
      ctx.state.session.set("sharedTree", sharedTree);
      ctx.response.body =
        JSON.stringify(ctx.state.session.get("sharedTree")) === JSON.stringify(sharedTree)
          ? "ok"
          : "changed";
    });
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.equal(reply.text, "ok");
      assert.deepEqual(results, [
        "single: circular",
        "afterSibling: circular",
        "longLoop: circular",
      ]);
    } finally {
      server.close();
    }
  });
});
