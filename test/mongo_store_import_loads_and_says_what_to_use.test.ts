// The original oak_sessions (v9) exports `MongoStore`; oak-sessions has no
// MongoDB store. A program that imports the name still loads (a missing
// export would fail the whole module before any line runs), and constructing
// one throws a SessionConfigError that says what to use instead.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as oakSessions from "../mod.ts";
import { MongoStore, SessionConfigError } from "../mod.ts";

describe("MongoStore", () => {
  it("is exported, so a program that imports it loads", () => {
    assert.equal(typeof oakSessions.MongoStore, "function");
  });

  it("throws at construction, naming connect-mongo through ExpressSessionStore", () => {
    assert.throws(() => new MongoStore({}, "sessions"), (error: unknown) => {
      assert.ok(error instanceof SessionConfigError, String(error));
      assert.match(error.message, /^MongoStore is not part of oak-sessions/);
      assert.match(
        error.message,
        /new ExpressSessionStore\(ConnectMongo\.create\(\{ mongoUrl \}\)\)/,
      );
      assert.match(error.message, /npm install connect-mongo/);
      return true;
    });
  });
});
