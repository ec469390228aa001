// A server store must move a session to a new ID atomically and only while
// the old one exists; one that cannot (no rotate) is refused when the
// middleware is built, since no order of get/create/delete keeps a logout
// from being undone by a request that regenerates the session.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore, type ServerStore, Session, SessionConfigError } from "../mod.ts";

function withoutRotate(): Omit<ServerStore, "rotate"> {
  const inner = new MemoryStore();
  return {
    kind: "server",
    get: (k, n) => inner.get(k, n),
    create: (k, r, n) => inner.create(k, r, n),
    update: (k, c, n) => inner.update(k, c, n),
    delete: (k) => inner.delete(k),
  };
}

describe("a store without rotate", () => {
  for (
    const [style, build] of [
      ["Session.initMiddleware(store)", (s: unknown) => Session.initMiddleware(s as ServerStore)],
      ["new Session(store)", (s: unknown) => new Session(s as ServerStore)],
    ] as const
  ) {
    it(`is refused by ${style}, with what is missing`, () => {
      assert.throws(() => build(withoutRotate()), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError, String(e));
        assert.match((e as Error).message, /rotate\(oldKey, newKey, change, now\)/);
        return true;
      });
    });
  }

  it("with rotate (even a plain object) is taken", () => {
    const inner = new MemoryStore();
    const store: ServerStore = {
      ...withoutRotate(),
      rotate: (o, k, c, n) => inner.rotate(o, k, c, n),
    };
    assert.equal(typeof Session.initMiddleware(store), "function");
  });
});
