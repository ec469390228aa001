// The JavaScript SHA-256 that hashes session IDs where node:crypto is a slow
// compatibility layer (Deno) must give exactly node:crypto's answer: a
// session stored by a Node process is found by a Deno process on the same
// database, and the other way round.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { sha256Base64Url } from "../src/sha256.ts";
import { sessionKey } from "../src/session_id.ts";

function reference(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64url");
}

describe("sha256Base64Url", () => {
  it("gives the standard vectors", () => {
    assert.equal(sha256Base64Url(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    assert.equal(sha256Base64Url("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });

  it("agrees with node:crypto at every length around the block edges, and beyond", () => {
    for (let n = 0; n <= 300; n++) {
      const text = "x".repeat(n);
      assert.equal(sha256Base64Url(text), reference(text), `length ${n}`);
    }
  });

  it("agrees with node:crypto on session IDs and on text that is not ASCII", () => {
    for (let i = 0; i < 500; i++) {
      const id = randomBytes(32).toString("base64url");
      assert.equal(sha256Base64Url(id), reference(id));
    }
    for (const text of ["Zoë", "日本語のセッション", "emoji 🍪", "\u0000nul", "é".repeat(40)]) {
      assert.equal(sha256Base64Url(text), reference(text), text);
    }
  });

  it("is what sessionKey gives on this runtime", async () => {
    const id = randomBytes(32).toString("base64url");
    assert.equal(await sessionKey(id), reference(id));
  });
});
