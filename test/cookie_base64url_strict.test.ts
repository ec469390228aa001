/**
 * The base64url codec under sealed cookies: it matches RFC 4648, round-trips
 * every length, and decodes only the canonical unpadded form, so no two
 * distinct strings decode to the same bytes and no input makes it throw.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("base64url", () => {
  it("encodes the RFC 4648 test vectors, unpadded", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg"],
      ["fo", "Zm8"],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg"],
      ["fooba", "Zm9vYmE"],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(encodeBase64Url(bytes(plain)), encoded);
      assert.deepEqual(decodeBase64Url(encoded), bytes(plain));
    }
  });

  it("uses - and _ where base64 uses + and /", () => {
    assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xbf])), "-_-_");
    assert.deepEqual(decodeBase64Url("-_-_"), new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  it("round-trips random bytes of every length from 0 to 300", () => {
    for (let n = 0; n <= 300; n++) {
      const b = crypto.getRandomValues(new Uint8Array(n));
      const e = encodeBase64Url(b);
      assert.match(e, /^[A-Za-z0-9_-]*$/);
      assert.equal(e.length, Math.ceil((n * 4) / 3));
      assert.deepEqual(decodeBase64Url(e), b);
    }
  });

  it("refuses padding, other alphabets, whitespace and impossible lengths", () => {
    for (
      const bad of [
        "Zg==",
        "Zm8=",
        "+/+/",
        "ab/c",
        "Zm9v\n",
        " Zm9v",
        "Zm 9v",
        "Z",
        "Zm9vY",
        "é",
        "Zm9%",
      ]
    ) {
      assert.equal(decodeBase64Url(bad), null, JSON.stringify(bad));
    }
  });

  it("refuses non-canonical encodings (unused bits set)", () => {
    // "Zg" is the only encoding of "f"; "Zh".."Zv" differ only in unused bits.
    for (const c of "hijklmnopqrstuv") assert.equal(decodeBase64Url(`Z${c}`), null, `Z${c}`);
    assert.equal(decodeBase64Url("Zm9"), null);
    assert.deepEqual(decodeBase64Url("Zm8"), bytes("fo"));
  });

  it("refuses the same in long values as in short ones (a cookie's length)", () => {
    // Long inputs may take another decoder (Node's native one): the same rules hold.
    const body = encodeBase64Url(crypto.getRandomValues(new Uint8Array(150)));
    for (
      const bad of [
        body + "Zg==",
        body + "+/+/",
        body.slice(0, 100) + "\n" + body.slice(100),
        body.slice(0, 100) + " " + body.slice(100),
        body + "Z",
        body + "Zh",
        body + "Zm9",
        body + "é",
        "é" + body,
        body.slice(0, 100) + "%" + body.slice(101),
      ]
    ) {
      assert.equal(decodeBase64Url(bad), null, JSON.stringify(bad.slice(-8)));
    }
    const good = decodeBase64Url(body + "Zm8");
    assert.ok(good instanceof Uint8Array && Object.getPrototypeOf(good) === Uint8Array.prototype);
    assert.deepEqual(good.subarray(150), bytes("fo"));
  });

  it("never throws, whatever it is given", () => {
    for (
      const v of [
        null,
        undefined,
        42,
        {},
        [],
        "\u0000\u0000",
        "\uffff\uffff",
        "a".repeat(1 << 16) + "=",
      ]
    ) {
      assert.equal(decodeBase64Url(v as unknown as string), null);
    }
  });
});
