/**
 * The random pool behind session IDs and AES-GCM IVs hands out every byte
 * once: no two IDs or IVs share bytes across many pool refills, bytes already
 * handed out never change when the pool is refilled, and the output is not
 * visibly biased.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "../src/random_bytes.ts";
import { isSessionId, newSessionId } from "../src/session_id.ts";

describe("pooled random bytes", () => {
  it("20,000 session IDs (about 160 pool refills) are all distinct and well-formed", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = newSessionId();
      assert.ok(isSessionId(id));
      seen.add(id);
    }
    assert.equal(seen.size, 20_000);
  });

  it("bytes handed out stay as they were after the pool is refilled", () => {
    const first = randomBytes(12);
    const copy = first.slice();
    for (let i = 0; i < 2_000; i++) randomBytes(12); // several refills
    assert.deepEqual(first, copy);
  });

  it("consecutive IVs never overlap, and a large request gets its own batch", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) seen.add(randomBytes(12).join(","));
    assert.equal(seen.size, 5_000);
    assert.equal(randomBytes(4096).length, 4096);
    assert.equal(randomBytes(5000).length, 5000);
  });

  it("each bit is set about half the time", () => {
    const bytes = randomBytes(4096);
    let ones = 0;
    for (const b of bytes) for (let bit = 0; bit < 8; bit++) ones += (b >> bit) & 1;
    const share = ones / (bytes.length * 8);
    // 32,768 fair bits: the share is within 0.5 +- 0.02 with overwhelming probability.
    assert.ok(share > 0.48 && share < 0.52, `share of ones ${share}`);
  });
});
