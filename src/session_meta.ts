/**
 * A session's own settings, kept with it as JSON text (`SessionRecord.meta`):
 * its lifetime (`setLifetime`), the device it was bound on (`setUser`,
 * when the app records devices), and the secret of its CSRF tokens. Stores keep the text and never read it.
 *
 * @module
 */

/** @internal A session's settings, as parsed from `SessionRecord.meta`. */
export interface SessionMeta {
  /** Idle timeout in seconds, when the session has its own. */
  idleSeconds?: number;
  /** Absolute lifetime in seconds, when the session has its own. */
  absoluteSeconds?: number;
  /** Whether the cookie outlives the browser session (`true`) or not (`false`); unset: the app's default. */
  persistent?: boolean;
  /** The User-Agent the session was bound on. */
  userAgent?: string;
  /** The IP address the session was bound from. */
  ip?: string;
  /** The secret of the session's CSRF tokens (`csrfToken()`), base64url. */
  csrfSecret?: string;
}

/**
 * Each setting's key in the stored text. Short, and never to change: sessions
 * already stored carry these keys.
 */
const STORED_KEYS: { readonly [K in keyof Required<SessionMeta>]: string } = {
  idleSeconds: "i",
  absoluteSeconds: "a",
  persistent: "p",
  userAgent: "ua",
  ip: "ip",
  csrfSecret: "x",
};

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
  const idleSeconds = positive(v[STORED_KEYS.idleSeconds]);
  if (idleSeconds !== undefined) out.idleSeconds = idleSeconds;
  const absoluteSeconds = positive(v[STORED_KEYS.absoluteSeconds]);
  if (absoluteSeconds !== undefined) out.absoluteSeconds = absoluteSeconds;
  const persistent = v[STORED_KEYS.persistent];
  if (typeof persistent === "boolean") out.persistent = persistent;
  const userAgent = text(v[STORED_KEYS.userAgent]);
  if (userAgent !== undefined) out.userAgent = userAgent;
  const ip = text(v[STORED_KEYS.ip]);
  if (ip !== undefined) out.ip = ip;
  const csrfSecret = text(v[STORED_KEYS.csrfSecret]);
  if (csrfSecret !== undefined) out.csrfSecret = csrfSecret;
  return out;
}

/**
 * @internal `meta` as stored: each setting under its stored key, in the
 * order the settings were put in `meta`.
 */
export function metaText(meta: SessionMeta): string {
  const stored: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(meta)) {
    stored[STORED_KEYS[name as keyof SessionMeta] ?? name] = value;
  }
  return JSON.stringify(stored);
}
