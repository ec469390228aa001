/**
 * The rotation marker of the store contract (src/store.ts), called directly
 * on a server store: `rotate` leaves a short-lived marker under the old key,
 * which opens nothing, takes no write and joins no user index. Every server
 * store's test file registers it, for each of its drivers and shapes; the
 * HTTP-level conformance suite proves what the middleware makes of it.
 *
 * The checks are the marker checks of the contract suite the library ships
 * (`storeContract` of oak-sessions/testing); test/store_contract.test.ts
 * runs the whole suite on one configuration of every store.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import type { ServerStore } from "../../src/store.ts";
import { storeContract } from "../../testing.ts";

/** A server store under test. */
export interface MarkerTarget {
  /** Shown in the test names. */
  name: string;
  /** A fresh store. */
  makeStore(): ServerStore | Promise<ServerStore>;
  /** Release what `makeStore` opened. */
  teardown?(store: ServerStore): void | Promise<void>;
}

/** Registers the marker tests for `target`. */
export function movedMarkerContract(target: MarkerTarget): void {
  describe(`${target.name}: rotate leaves a marker under the old key`, () => {
    let store: ServerStore;

    before(async () => {
      store = await target.makeStore();
    });
    after(async () => {
      await target.teardown?.(store);
    });

    const checks = storeContract(() => {
      if (!store) throw new Error(`${target.name} did not open`);
      return Promise.resolve(store);
    }).filter((check) => check.name.includes("marker"));
    for (const check of checks) {
      it(check.name, async (t) => {
        const skipped = await check.run();
        if (skipped) t.diagnostic(skipped);
      });
    }
  });
}
