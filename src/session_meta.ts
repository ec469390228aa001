/**
 * A session's own settings, kept with it as JSON text (`SessionRecord.meta`):
 * its lifetime (`setLifetime`) and the device it was bound on (`setUser`,
 * when the app records devices). Stores keep the text and never read it.
 *
 * @module
 */

/** @internal A session's settings, as parsed from `SessionRecord.meta`. */
export interface SessionMeta {
  /** Idle timeout in seconds, when the session has its own. */
  i?: number;
  /** Absolute lifetime in seconds, when the session has its own. */
  a?: number;
  /** Whether the cookie outlives the browser session (`true`) or not (`false`); unset: the app's default. */
  p?: boolean;
  /** The User-Agent the session was bound on. */
  ua?: string;
  /** The IP address the session was bound from. */
  ip?: string;
}

const EMPTY: SessionMeta = Object.freeze({});

function positive(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * @internal The settings in `meta`; `{}` when there are none. Stored text is
 * ours, but a damaged row must not fail a request: what does not parse, or
 * has the wrong type, counts as unset.
 */
export function parseMeta(meta: string | undefined): SessionMeta {
  if (meta === undefined) return EMPTY;
  let value: unknown;
  try {
    value = JSON.parse(meta);
  } catch {
    return EMPTY;
  }
  if (typeof value !== "object" || value === null) return EMPTY;
  const v = value as Record<string, unknown>;
  const out: SessionMeta = {};
  const i = positive(v.i);
  if (i !== undefined) out.i = i;
  const a = positive(v.a);
  if (a !== undefined) out.a = a;
  if (typeof v.p === "boolean") out.p = v.p;
  const ua = text(v.ua);
  if (ua !== undefined) out.ua = ua;
  const ip = text(v.ip);
  if (ip !== undefined) out.ip = ip;
  return out;
}

/** @internal `meta` as stored. */
export function metaText(meta: SessionMeta): string {
  return JSON.stringify(meta);
}
