/**
 * Redis replies as the Redis stores read them, whatever carried them: a
 * client's values (strings or bytes, numbers or their text, arrays, a
 * RESP3 `Map` or object) or Webdis's JSON; and the error reply, as opposed
 * to a transport failure.
 *
 * @module
 */
import { SessionError } from "../errors.ts";

/**
 * An error reply from Redis (`-ERR ...`, `-NOSCRIPT ...`), as opposed to a
 * transport failure. A transport rejects with it; the store never lets it
 * out: it answers `NOSCRIPT` by sending the script, and wraps any other one
 * in a `SessionStoreError` (503) that says what failed, with it as `cause`.
 */
export class RedisReplyError extends SessionError {
  /** The error reply's text, e.g. `NOSCRIPT No matching script.`. */
  constructor(message: string) {
    super(message);
  }
}

const decoder = new TextDecoder();

/** A text reply (a string, or bytes as UTF-8), or `undefined`. */
export function replyText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return undefined;
}

/**
 * A hash reply as field/value pairs: RESP2 gives a flat array, RESP3 clients
 * a `Map` or a plain object, Webdis a JSON object.
 */
export function hashEntries(reply: unknown): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  if (Array.isArray(reply)) {
    if (reply.length % 2 !== 0) return null;
    for (let i = 0; i < reply.length; i += 2) {
      if (!pushEntry(out, reply[i], reply[i + 1])) return null;
    }
    return out;
  }
  if (reply instanceof Map) {
    for (const [f, v] of reply) if (!pushEntry(out, f, v)) return null;
    return out;
  }
  if (reply !== null && typeof reply === "object" && !(reply instanceof Uint8Array)) {
    for (const f of Object.keys(reply)) {
      if (!pushEntry(out, f, (reply as Record<string, unknown>)[f])) return null;
    }
    return out;
  }
  return null;
}

// A function of the module, not a closure made on every reply: run through a
// transpiler that keeps function names (tsx), each closure also costs a
// defineProperty call, which showed as microseconds per session read.
function pushEntry(out: Array<[string, string]>, f: unknown, v: unknown): boolean {
  const ft = replyText(f);
  const vt = replyText(v);
  if (ft === undefined || vt === undefined) return false;
  out.push([ft, vt]);
  return true;
}

/** An integer reply (a number, or its text from some clients), or `undefined`. */
export function replyInteger(value: unknown): number | undefined {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && /^-?\d+$/.test(value)
    ? Number(value)
    : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `reply` as short text for an error message (at most 80 characters and "..."). */
export function describeReply(reply: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(reply) ?? String(reply);
  } catch {
    text = String(reply);
  }
  return text.length > 80 ? text.slice(0, 80) + "..." : text;
}
