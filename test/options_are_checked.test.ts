// Options out of range are a clear error when the middleware is built, not
// a surprise on the first request.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore, Session, SessionConfigError } from "../mod.ts";

describe("options are checked when the middleware is built", () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ["negative idle", { expireAfterSeconds: -1 }, /expireAfterSeconds must be a positive integer/],
    ["fractional idle", { expireAfterSeconds: 1.5 }, /expireAfterSeconds/],
    ["zero idle", { expireAfterSeconds: 0 }, /expireAfterSeconds/],
    ["string idle", { expireAfterSeconds: "60" }, /expireAfterSeconds/],
    ["NaN absolute", { absoluteTimeoutSeconds: NaN }, /absoluteTimeoutSeconds/],
    ["negative refresh", { refreshIntervalSeconds: -5 }, /refreshIntervalSeconds/],
    [
      "refresh not shorter than idle",
      { expireAfterSeconds: 60, refreshIntervalSeconds: 60 },
      /shorter than the idle timeout/,
    ],
    ["empty cookie name", { sessionCookieName: "" }, /sessionCookieName/],
    ["cookie name with a space", { sessionCookieName: "my session" }, /sessionCookieName/],
    ["cookie name with ;", { sessionCookieName: "a;b" }, /sessionCookieName/],
    ["clock not a function", { now: 5 }, /now must be a function/],
    ["cookie options not an object", { cookieSetOptions: "secure" }, /cookieSetOptions/],
    ["fractional maxIdleSeconds", { maxIdleSeconds: 2.5 }, /maxIdleSeconds must be a positive/],
    [
      "maxIdleSeconds below the idle timeout",
      { expireAfterSeconds: 600, maxIdleSeconds: 60 },
      /maxIdleSeconds \(60\) must not be shorter than the idle timeout \(600\)/,
    ],
    [
      "maxAbsoluteSeconds without an absolute timeout to raise",
      { maxAbsoluteSeconds: 60 },
      /maxAbsoluteSeconds \(60\) must not be shorter than absoluteTimeoutSeconds/,
    ],
    ["recordDevice not an object", { recordDevice: true }, /recordDevice must be an object/],
    ["recordDevice unknown key", { recordDevice: { email: true } }, /recordDevice/],
    ["recordDevice non-boolean", { recordDevice: { ip: "yes" } }, /recordDevice/],
  ];
  for (const [what, options, pattern] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => Session.initMiddleware(new MemoryStore(), options), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError, String(e));
        assert.match((e as Error).message, pattern);
        return true;
      });
      assert.throws(() => new Session(new MemoryStore(), options), SessionConfigError);
    });
  }

  it("rejects something that is not a store, naming what is", () => {
    for (const notAStore of [{}, { get() {} }, "redis://x", 42]) {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => Session.initMiddleware(notAStore as any),
        /session store must be a store object \(MemoryStore, CookieStore, SqliteStore/,
      );
    }
  });

  it("accepts the documented forms", () => {
    assert.equal(typeof Session.initMiddleware(), "function");
    assert.equal(typeof new Session().initMiddleware(), "function");
    assert.equal(
      typeof Session.initMiddleware(undefined, {
        expireAfterSeconds: 60,
        absoluteTimeoutSeconds: 3600,
        refreshIntervalSeconds: 0,
        sessionCookieName: "__Host-sid",
        cookieSetOptions: { secure: true, sameSite: "strict" },
        cookieGetOptions: {},
        maxIdleSeconds: 30 * 86400,
        maxAbsoluteSeconds: 90 * 86400,
        recordDevice: { userAgent: true, ip: false },
      }),
      "function",
    );
  });

  it("a manager (new Session(store)) says how to reach the request's session", () => {
    const manager = new Session();
    assert.throws(() => manager.get("x"), /ctx\.session or ctx\.state\.session/);
    assert.throws(() => manager.set("x", 1), SessionConfigError);
    assert.throws(() => manager.id, SessionConfigError);
  });
});
