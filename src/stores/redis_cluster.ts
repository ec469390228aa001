/**
 * Redis Cluster hash slots, as the Redis stores need them: which slot a key
 * lives in, and whether a key prefix pins every key under it to one slot
 * (then one script may name any of the store's keys, as on a single node).
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * The Redis Cluster hash slot of `key` (CRC16-XMODEM of its UTF-8 bytes,
 * mod 16384), honouring a `{hash tag}`: when the key holds a `{` followed
 * later by a `}` with something between, only that part is hashed. Exposed
 * so tests can compare it with `CLUSTER KEYSLOT`.
 *
 * ```ts
 * keySlot("{user1000}.following") === keySlot("{user1000}.followers"); // true
 * ```
 */
export function keySlot(key: string): number {
  let bytes = encoder.encode(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16384;
}

/**
 * Whether every key under `prefix` hashes to one Redis Cluster slot: the
 * prefix holds a complete, non-empty `{hash tag}` (the first `{` and the
 * first `}` after it), so nothing after the prefix takes part in the hash.
 */
export function prefixPinsSlot(prefix: string): boolean {
  const open = prefix.indexOf("{");
  if (open < 0) return false;
  const close = prefix.indexOf("}", open + 1);
  return close > open + 1;
}
