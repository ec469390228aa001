/**
 * oak-sessions/testing: the store contract as checks, for authors of a
 * store. `storeContract(open)` returns named checks that call a
 * `ServerStore` directly and throw a `StoreContractError` saying what
 * differed; run them in any test framework. No dependency: the checks need
 * no test framework, clock or network of their own.
 *
 * ```ts
 * import { describe, it } from "node:test";
 * import { MemoryStore } from "oak-sessions";
 * import { storeContract } from "oak-sessions/testing";
 *
 * describe("MemoryStore keeps the store contract", () => {
 *   for (const check of storeContract(() => Promise.resolve(new MemoryStore()))) {
 *     it(check.name, async (t) => {
 *       const skipped = await check.run();
 *       if (skipped) t.skip(skipped);
 *     });
 *   }
 * });
 * ```
 *
 * @module
 */
export {
  type StoreCheck,
  storeContract,
  StoreContractError,
  type StoreContractOptions,
} from "./src/testing/store_contract.ts";
