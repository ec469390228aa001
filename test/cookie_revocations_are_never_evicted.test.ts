/**
 * A revocation must never be lost to eviction: a cookie store refuses a
 * revocations store that evicts at a bound (a MemoryStore with maxSessions),
 * with a SessionConfigError that names the fix; an unbounded MemoryStore is
 * taken, and its revocation of a user holds while many other records come
 * and go.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SessionConfigError } from "../src/errors.ts";
import { emptyFields } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { MemoryStore } from "../src/stores/memory.ts";

const SECRET = "never evicted test secret, at least 32 characters";

describe("revocations are never evicted", () => {
  it("a MemoryStore bounded by maxSessions is refused, naming the fix", () => {
    for (const maxSessions of [1, 10_000]) {
      assert.throws(
        () => new CookieStore(SECRET, { revocations: new MemoryStore({ maxSessions }) }),
        (error: unknown) =>
          error instanceof SessionConfigError &&
          error.message.includes(`maxSessions (${maxSessions})`) &&
          /new MemoryStore\(\) without maxSessions/.test(error.message) &&
          /SqliteStore, RedisStore or PostgresStore/.test(error.message),
        `maxSessions ${maxSessions}`,
      );
    }
  });

  it("an unbounded MemoryStore keeps a revocation whatever else it holds", async () => {
    const revocations = new MemoryStore();
    assert.equal(revocations.maxSessions, Infinity);
    const store = new CookieStore(SECRET, { revocations });
    const now = Date.now();
    await store.revokeUser!("ann", now, now + 3_600_000);
    for (let i = 0; i < 2000; i++) {
      await revocations.create(`other:${i}`, {
        data: emptyFields(),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
    }
    const kept = await store.revokeUser!("ann", now - 1, now + 1, now - 5);
    assert.equal(kept, false, "the revocation of ann is still there and covers an older session");
  });
});
