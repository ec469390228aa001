/**
 * A cookie store cannot be built on a weak or mistaken configuration: a
 * secret shorter than 32 characters (or 32 bytes), an empty or repeated list
 * of secrets, a bad cookie name or chunk count all throw `SessionConfigError`
 * at construction, with a message naming the minimum or the fix.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { nodeCryptoBackend } from "../src/crypto_backend.ts";
import { SessionConfigError } from "../src/errors.ts";
import { CookieStore } from "../src/stores/cookie.ts";

const GOOD = "a".repeat(8) + "b".repeat(8) + "c".repeat(8) + "d".repeat(8);

function throwsConfig(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SessionConfigError, `SessionConfigError, got ${error}`);
    assert.match((error as Error).message, message);
    return true;
  });
}

describe("secrets", () => {
  it("a string of 31 characters throws, naming the minimum of 32", () => {
    throwsConfig(() => new CookieStore("x".repeat(31)), /31 characters.*at least 32/);
    throwsConfig(() => new CookieStore(""), /0 characters.*at least 32/);
  });

  it("the message shows how to generate a secret", () => {
    throwsConfig(() => new CookieStore("short"), /randomBytes\(32\)/);
  });

  it("a string of 32 characters is accepted, counted in characters", () => {
    assert.equal(new CookieStore(GOOD).kind, "client");
    // 16 characters of 4 UTF-8 bytes each: 64 bytes, but only 16 characters.
    throwsConfig(() => new CookieStore("😀".repeat(16)), /16 characters/);
    assert.ok(new CookieStore("😀".repeat(32)));
  });

  it("a Uint8Array of 31 bytes throws, naming the minimum of 32 bytes; 32 bytes are accepted", () => {
    throwsConfig(() => new CookieStore(new Uint8Array(31)), /31 bytes.*at least 32/);
    assert.ok(new CookieStore(crypto.getRandomValues(new Uint8Array(32))));
  });

  it("in a list, the short secret is named by its position", () => {
    throwsConfig(() => new CookieStore([GOOD, "too short"]), /secrets\[1\] is 9 characters/);
  });

  it("an empty list throws", () => {
    throwsConfig(() => new CookieStore([]), /empty/);
  });

  it("a secret listed twice throws (a rotation mistake)", () => {
    throwsConfig(() => new CookieStore([GOOD, GOOD]), /same secret/);
  });

  it("a secret that is neither string nor bytes throws", () => {
    throwsConfig(() => new CookieStore(undefined as unknown as string), /undefined/);
    throwsConfig(() => new CookieStore(42 as unknown as string), /number/);
    throwsConfig(() => new CookieStore(null as unknown as string), /null/);
  });
});

describe("options", () => {
  it("maxCookies must be an integer from 1 to 10", () => {
    for (const bad of [0, -1, 1.5, 11, NaN, "3" as unknown as number]) {
      throwsConfig(() => new CookieStore(GOOD, { maxCookies: bad }), /maxCookies/);
    }
    assert.equal(new CookieStore(GOOD, { maxCookies: 1 }).maxSealedLength, 3800);
    assert.equal(new CookieStore(GOOD).maxCookies, 3);
  });

  it("sessionDataCookieName must be a cookie name", () => {
    for (const bad of ["", "a b", "a;b", "a=b", "é", 'a"b']) {
      throwsConfig(
        () => new CookieStore(GOOD, { sessionDataCookieName: bad }),
        /sessionDataCookieName/,
      );
    }
    assert.equal(new CookieStore(GOOD).cookieName, "session_data");
    assert.equal(new CookieStore(GOOD, { sessionDataCookieName: "app.s" }).cookieName, "app.s");
  });
});

describe("the crypto option", () => {
  it('accepts "node" and "web", and nothing else', () => {
    assert.ok(new CookieStore(GOOD, { crypto: "web" }));
    if (nodeCryptoBackend) assert.ok(new CookieStore(GOOD, { crypto: "node" }));
    for (const bad of ["Node", "subtle", "", 1]) {
      throwsConfig(
        () => new CookieStore(GOOD, { crypto: bad as "web" }),
        /crypto must be "node" or "web"/,
      );
    }
  });
});
