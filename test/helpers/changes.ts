/**
 * Change sets for the tests that call a store directly.
 *
 * @module
 */
import type { SessionChange } from "../../src/store.ts";

/** A change set that only moves the expiry to `expiresAt`, with `partial` laid over it. */
export function changeSet(expiresAt: number, partial: Partial<SessionChange> = {}): SessionChange {
  return { clear: false, set: Object.create(null), delete: [], flash: null, expiresAt, ...partial };
}
