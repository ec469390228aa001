/**
 * The crypto paths the cookie and key tests run on: `node:crypto` (where the
 * runtime has it, as Node and Deno do) and Web Crypto, each picked explicitly
 * through the cookie store's `crypto` option, so both stay tested on every
 * runtime whichever one the library would choose by default.
 *
 * @module
 */
import { type CryptoBackendName, nodeCryptoBackend } from "../../src/crypto_backend.ts";

/** Every path this runtime offers, `node:crypto` first. */
export const CRYPTO_PATHS: readonly CryptoBackendName[] = nodeCryptoBackend
  ? ["node", "web"]
  : ["web"];
