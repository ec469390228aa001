/**
 * SHA-256 in plain TypeScript, for the one hash of every request: the store
 * key of a session ID (43 characters, one 64-byte block).
 *
 * Why it exists: Deno's `node:crypto` is a compatibility layer whose every
 * call crosses into Rust and back, about 3 µs for a session ID, and Web
 * Crypto's `digest` is asynchronous (20-50 µs with its promise); this runs
 * the block function in JavaScript in about 1 µs. On Node, `node:crypto`'s
 * one-shot `hash` is faster still (about 0.5 µs) and stays the choice there
 * (see `crypto_backend.ts`). SHA-256 has no data-dependent branches or table
 * lookups, so computing it in JavaScript leaks nothing through timing.
 *
 * @module
 */

const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const utf8 = new TextEncoder();
// Scratch space, reused: the function is synchronous, so no two calls share it.
const W = new Uint32Array(64);
const H = new Uint32Array(8);

function asciiOrUtf8(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return utf8.encode(text);
    bytes[i] = c;
  }
  return bytes;
}

/** SHA-256 of `bytes`, into `H`. */
function digest(bytes: Uint8Array): void {
  const n = bytes.length;
  const blocks = ((n + 8) >>> 6) + 1;
  H[0] = 0x6a09e667, H[1] = 0xbb67ae85, H[2] = 0x3c6ef372, H[3] = 0xa54ff53a;
  H[4] = 0x510e527f, H[5] = 0x9b05688c, H[6] = 0x1f83d9ab, H[7] = 0x5be0cd19;
  for (let b = 0; b < blocks; b++) {
    const base = b * 64;
    for (let i = 0; i < 16; i++) {
      let w = 0;
      for (let j = 0; j < 4; j++) {
        const p = base + i * 4 + j;
        w = (w << 8) | (p < n ? bytes[p] : p === n ? 0x80 : 0);
      }
      W[i] = w;
    }
    if (b === blocks - 1) {
      // The message length in bits, big-endian, in the last 8 bytes.
      W[14] = Math.floor(n / 0x20000000);
      W[15] = n << 3;
    }
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15];
      const y = W[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[i] = W[i - 16] + s0 + W[i - 7] + s1;
    }
    let a = H[0], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    let bb = H[1];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    H[0] += a, H[1] += bb, H[2] += c, H[3] += d;
    H[4] += e, H[5] += f, H[6] += g, H[7] += h;
  }
}

/**
 * SHA-256 of the UTF-8 bytes of `text`, base64url without padding (43
 * characters), as `node:crypto`'s `hash("sha256", text, "base64url")` gives.
 *
 * ```ts
 * import { sha256Base64Url } from "./sha256.ts";
 * sha256Base64Url("abc"); // "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
 * ```
 */
export function sha256Base64Url(text: string): string {
  digest(asciiOrUtf8(text));
  let out = "";
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 8; i++) {
    const w = H[i];
    for (let s = 24; s >= 0; s -= 8) {
      acc = (acc << 8) | ((w >>> s) & 0xff);
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += BASE64URL[(acc >>> bits) & 63];
      }
      acc &= (1 << bits) - 1;
    }
  }
  return out + BASE64URL[(acc << (6 - bits)) & 63];
}
