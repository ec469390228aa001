/**
 * `WebdisStore`: sessions in Redis behind Webdis (Redis over HTTP), for
 * hosts that can only make HTTP requests. It uses `fetch` only, and shares
 * its session logic with `RedisStore` (one hash per session, a Lua script
 * for changes, Redis's own TTL).
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import {
  checkRedisOptions,
  RedisReplyError,
  RedisSessionLogic,
  type RedisTransport,
} from "./redis_logic.ts";

/**
 * Options of {@link WebdisStore}.
 *
 * ```ts
 * const store = new WebdisStore({
 *   url: "https://sessions.example.com",
 *   username: "app",
 *   password: "long-random-password",
 *   timeoutMs: 2000,
 * });
 * ```
 */
export interface WebdisStoreOptions {
  /** Where Webdis listens, e.g. `"http://127.0.0.1:7379"` (a path prefix is kept). */
  url: string;
  /** Prefix of every session's Redis key. Default `"session_"`. */
  keyPrefix?: string;
  /** How long one request may take before it fails with a `SessionStoreError` (503). Default 5000. */
  timeoutMs?: number;
  /** HTTP basic auth user, for a Webdis ACL entry with `http_basic_auth`. */
  username?: string;
  /** HTTP basic auth password. */
  password?: string;
}

// Longer URLs go in a POST body instead: proxies and servers commonly cap a
// request line near 4-8 KB, and a session value has no size limit of its own.
const MAX_URL_LENGTH = 2048;

/**
 * Sessions in Redis through Webdis. Every argument is percent-encoded (so
 * `/`, `%`, `?`, `#`, `.`, newlines and any Unicode survive), long commands
 * travel in the request body, and every reply is checked: an error reply, a
 * non-JSON body, a non-2xx status, a timeout or a refused connection fails
 * the request with a `SessionStoreError` (503) that says which.
 *
 * ```ts
 * import { Session, WebdisStore } from "oak-sessions";
 *
 * const store = new WebdisStore({ url: "http://127.0.0.1:7379" });
 * app.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
 * ```
 */
export class WebdisStore extends RedisSessionLogic {
  constructor(options: WebdisStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new SessionConfigError(
        'WebdisStore: pass an options object, e.g. new WebdisStore({ url: "http://127.0.0.1:7379" })',
      );
    }
    const { keyPrefix, timeoutMs } = checkRedisOptions("WebdisStore", options);
    const transport = new WebdisTransport(
      options.url,
      timeoutMs,
      options.username,
      options.password,
    );
    super(transport, { keyPrefix, storeName: "WebdisStore" });
  }
}

/**
 * Percent-encode one argument. `encodeURIComponent` leaves `.` alone, but
 * Webdis reads a trailing `.json`/`.txt`/... as the reply format, so `.` and
 * the other characters it leaves (`!'()*~`) are encoded too.
 *
 * ```ts
 * encodeWebdisArg("a/b.json"); // "a%2Fb%2Ejson"
 * ```
 */
export function encodeWebdisArg(arg: string): string {
  return encodeURIComponent(arg).replace(
    /[.!'()*~]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

class WebdisTransport implements RedisTransport {
  readonly #base: string;
  readonly #shown: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string> = {};

  constructor(url: unknown, timeoutMs: number, username?: string, password?: string) {
    let parsed: URL;
    try {
      if (typeof url !== "string") throw new TypeError("not a string");
      parsed = new URL(url);
    } catch {
      throw new SessionConfigError(
        `WebdisStore: url must be an http(s) URL such as "http://127.0.0.1:7379", got ${
          JSON.stringify(url) ?? String(url)
        }`,
      );
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new SessionConfigError(
        `WebdisStore: url must start with http:// or https://, got ${JSON.stringify(url)}`,
      );
    }
    if (parsed.search || parsed.hash) {
      throw new SessionConfigError(
        `WebdisStore: url must not have a query or fragment (${
          JSON.stringify(parsed.origin + parsed.pathname)
        } would do)`,
      );
    }
    // fetch refuses URLs with credentials: move them to the Authorization header.
    const user = username ?? decodeURIComponent(parsed.username);
    const pass = password ?? decodeURIComponent(parsed.password);
    if (typeof user !== "string" || typeof pass !== "string") {
      throw new SessionConfigError("WebdisStore: username and password must be strings");
    }
    if (user !== "" || pass !== "") {
      this.#headers.authorization = "Basic " + base64(`${user}:${pass}`);
    }
    parsed.username = "";
    parsed.password = "";
    this.#base = parsed.origin + parsed.pathname.replace(/\/+$/, "");
    this.#shown = this.#base;
    this.#timeoutMs = timeoutMs;
  }

  async call(_key: string, args: string[]): Promise<unknown> {
    const command = args[0];
    if (args.some((a) => a === "")) {
      // Webdis drops empty path segments, which would shift every later argument.
      throw new SessionStoreError(`WebdisStore: cannot send an empty argument in ${command}`);
    }
    const path = args.map(encodeWebdisArg).join("/");
    const getUrl = `${this.#base}/${path}`;
    const init: RequestInit = getUrl.length <= MAX_URL_LENGTH
      ? { method: "GET", headers: this.#headers }
      : {
        method: "POST",
        headers: { ...this.#headers, "content-type": "text/plain; charset=utf-8" },
        body: path,
      };
    const url = init.method === "GET" ? getUrl : `${this.#base}/`;
    let status: number;
    let body: string;
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
      status = response.status;
      body = await response.text();
    } catch (error) {
      const name = (error as { name?: unknown } | null)?.name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new SessionStoreError(
          `WebdisStore: Webdis at ${this.#shown} did not answer ${command} within ${this.#timeoutMs} ms`,
          { cause: error },
        );
      }
      throw new SessionStoreError(
        `WebdisStore: could not reach Webdis at ${this.#shown} (${describeFetchError(error)})`,
        { cause: error },
      );
    }
    if (status < 200 || status > 299) {
      throw new SessionStoreError(
        `WebdisStore: Webdis at ${this.#shown} answered ${command} with HTTP ${status}${
          statusHint(status)
        }${snippet(body)}`,
      );
    }
    let reply: unknown;
    try {
      reply = JSON.parse(body);
    } catch {
      throw new SessionStoreError(
        `WebdisStore: ${this.#shown} answered ${command} with a body that is not JSON ` +
          `(is the url pointing at Webdis?)${snippet(body)}`,
      );
    }
    if (
      typeof reply !== "object" || reply === null || Array.isArray(reply) ||
      Object.keys(reply).length !== 1 ||
      Object.keys(reply)[0].toUpperCase() !== command.toUpperCase()
    ) {
      throw new SessionStoreError(
        `WebdisStore: ${this.#shown} answered ${command} with JSON that is not a Webdis reply ` +
          `(expected {"${command}": ...})${snippet(body)}`,
      );
    }
    const value = (reply as Record<string, unknown>)[Object.keys(reply)[0]];
    // Webdis wraps status and error replies as [true, "OK"] and [false, "ERR ..."].
    if (Array.isArray(value) && value.length === 2 && typeof value[1] === "string") {
      if (value[0] === false) throw new RedisReplyError(value[1]);
      if (value[0] === true) return value[1];
    }
    return value;
  }
}

function statusHint(status: number): string {
  if (status === 401 || status === 403) {
    return " (refused: check username/password and the ACL in webdis.json enables " +
      "HGETALL, EVALSHA, EVAL and DEL for them)";
  }
  if (status === 503) return " (Webdis cannot reach Redis)";
  return "";
}

function snippet(body: string): string {
  const text = body.trim().replace(/\s+/g, " ");
  if (text === "") return "";
  return `: ${text.length > 120 ? text.slice(0, 120) + "..." : text}`;
}

function describeFetchError(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  // Node's fetch hides the reason (ECONNREFUSED...) in `cause`.
  for (let depth = 0; e && depth < 3; depth++) {
    const message = (e as { message?: unknown }).message;
    const code = (e as { code?: unknown }).code;
    if (typeof message === "string" && message) parts.push(message);
    if (typeof code === "string" && !parts.some((p) => p.includes(code))) parts.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(": ") || String(error);
}

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
