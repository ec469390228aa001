/**
 * `WebdisStore`: sessions in Redis behind Webdis (Redis over HTTP), for
 * hosts that can only make HTTP requests. It speaks HTTP/1.1 over kept-alive
 * `node:net` sockets on Node.js (`webdis_http1.ts`) and with `fetch`
 * elsewhere (`webdis_transport.ts`), and shares its session logic with `RedisStore`
 * (one hash per session, a set per user, a Lua script for changes, Redis's
 * own TTL).
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { checkOptionKeys, keysOf } from "../option_keys.ts";
import { checkRedisOptions, RedisSessionLogic, type RedisTransport } from "./redis_logic.ts";
import { RedisReplyError } from "./redis_reply.ts";
import type { OriginalRedisKeysOptions } from "./redis_original.ts";
import { isNode, nodeBuffer, nodeNet, nodeTls } from "../node_builtins.ts";
import { Http1Exchange } from "./webdis_http1.ts";
import {
  FetchExchange,
  type WebdisExchange,
  type WebdisTarget,
  type WebdisTransportName,
} from "./webdis_transport.ts";

/** Keys of `new WebdisStore(options)`. */
export const WEBDIS_STORE_OPTION_KEYS: readonly string[] = keysOf<WebdisStoreOptions>({
  url: true,
  keyPrefix: true,
  timeoutMs: true,
  username: true,
  password: true,
  transport: true,
  maxConnections: true,
  originalKeyPrefix: true,
  log: true,
  migratedIdleSeconds: true,
});

export type { WebdisTransportName } from "./webdis_transport.ts";

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
export interface WebdisStoreOptions extends OriginalRedisKeysOptions {
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
  /**
   * The HTTP client: `"node:net"` (HTTP/1.1 on kept-alive `node:net` or
   * `node:tls` sockets, Node.js's fast path) or `"fetch"` (the fast path on
   * Deno, Bun and workers). Left out, the store takes `"node:net"` on
   * Node.js and `"fetch"` elsewhere; set it to pin one (tests run both).
   * `"node:http"`, its former name, still selects `"node:net"`.
   */
  transport?: WebdisTransportName;
  /**
   * Most connections the `node:net` transport keeps open to Webdis at
   * once; more concurrent requests wait for one. Default 16. (`fetch`
   * manages its own pool.)
   */
  maxConnections?: number;
}

// A read whose URL would be longer goes in a POST body too: proxies and
// servers commonly cap a request line near 4-8 KB.
const MAX_URL_LENGTH = 2048;

// The one command that may travel as a GET URL: the read of a session, whose
// only argument is a hashed key. Every other command (the scripts, which
// carry session values; DEL; the original library's keys, which hold raw
// session IDs) goes in a POST body, so none of that shows in a request line
// that a proxy logs.
const GET_COMMANDS: ReadonlySet<string> = new Set(["HGETALL"]);

/**
 * Sessions in Redis through Webdis. Every argument is percent-encoded (so
 * `/`, `%`, `?`, `#`, `.`, newlines and any Unicode survive); reads
 * (`HGETALL` of a hashed key) travel as GET URLs, every other command (all
 * that carry a session value) in a POST body; every reply is checked: an error
 * reply, a non-JSON body, a non-2xx status, a timeout or a refused
 * connection fails the request with a `SessionStoreError` (503) that says
 * which. No error message ever shows a password.
 *
 * ```ts
 * import { Session, WebdisStore } from "oak-sessions";
 *
 * const store = new WebdisStore("http://127.0.0.1:7379");
 * app.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
 * // at shutdown: drops the kept-alive connections
 * await store.close();
 * ```
 *
 * The second argument is the key prefix or the other
 * {@link WebdisStoreOptions}: `new WebdisStore(url, { keyPrefix: "app_", timeoutMs: 2000 })`.
 * One options object with the `url` in it, `new WebdisStore({ url, ... })`, works as before.
 */
export class WebdisStore extends RedisSessionLogic {
  readonly #transport: WebdisTransport;

  /**
   * A store over the Webdis server at `url`, with a key prefix or the other
   * {@link WebdisStoreOptions}: `new WebdisStore(url)`,
   * `new WebdisStore(url, "app_")`, `new WebdisStore(url, { keyPrefix: "app_", timeoutMs: 2000 })`.
   * One options object that holds the `url` works too: `new WebdisStore({ url, keyPrefix })`.
   */
  constructor(
    urlOrOptions: string | WebdisStoreOptions,
    keyPrefixOrOptions?: string | Omit<WebdisStoreOptions, "url">,
  ) {
    const options = webdisOptions(urlOrOptions, keyPrefixOrOptions);
    checkOptionKeys("WebdisStore", options, WEBDIS_STORE_OPTION_KEYS);
    const { keyPrefix, timeoutMs, original } = checkRedisOptions("WebdisStore", options);
    const maxConnections = options.maxConnections ?? 16;
    if (
      typeof maxConnections !== "number" || !Number.isInteger(maxConnections) ||
      maxConnections < 1
    ) {
      throw new SessionConfigError(
        `WebdisStore: maxConnections must be a positive integer, got ${
          typeof maxConnections === "number" ? maxConnections : typeof maxConnections
        }`,
      );
    }
    const target = webdisTarget(options.url, options.username, options.password, timeoutMs);
    const transport = new WebdisTransport(
      openExchange(options.transport, { ...target, maxConnections }),
      target.shown,
    );
    super(transport, { keyPrefix, storeName: "WebdisStore", original });
    this.#transport = transport;
  }

  /** Which HTTP client this store uses (`"node:net"` or `"fetch"`). */
  get transport(): "node:net" | "fetch" {
    return this.#transport.exchange.name;
  }

  /**
   * Close the kept-alive connections to Webdis. Later calls fail with a
   * `SessionStoreError`. (Idle connections never keep the process alive, so
   * this is tidiness, not a requirement.)
   */
  close(): Promise<void> {
    this.#transport.exchange.close();
    return Promise.resolve();
  }
}

const URL_FIRST_EXAMPLE = 'new WebdisStore("http://127.0.0.1:7379", { keyPrefix: "app_" })';

/** The constructor's arguments as one options object: `(url, keyPrefixOrOptions?)` or `(options)`. */
function webdisOptions(urlOrOptions: unknown, keyPrefixOrOptions: unknown): WebdisStoreOptions {
  if (typeof urlOrOptions === "string") {
    if (keyPrefixOrOptions === undefined) return { url: urlOrOptions };
    if (typeof keyPrefixOrOptions === "string") {
      return { url: urlOrOptions, keyPrefix: keyPrefixOrOptions };
    }
    if (typeof keyPrefixOrOptions !== "object" || keyPrefixOrOptions === null) {
      throw new SessionConfigError(
        "WebdisStore: the second argument must be a key prefix string or an options object, got " +
          typeName(keyPrefixOrOptions),
      );
    }
    if ("url" in keyPrefixOrOptions) {
      throw new SessionConfigError(
        "WebdisStore: the url is given twice (the first argument and options.url); pass it once, " +
          `e.g. ${URL_FIRST_EXAMPLE}`,
      );
    }
    return { ...keyPrefixOrOptions, url: urlOrOptions };
  }
  if (typeof urlOrOptions !== "object" || urlOrOptions === null) {
    throw new SessionConfigError(
      `WebdisStore: pass the Webdis url first, e.g. ${URL_FIRST_EXAMPLE}, ` +
        `or one options object with a url; got ${typeName(urlOrOptions)}`,
    );
  }
  if (keyPrefixOrOptions !== undefined) {
    throw new SessionConfigError(
      "WebdisStore: after an options object there is no second argument; put keyPrefix and the " +
        `other options in it, or pass the url first: ${URL_FIRST_EXAMPLE}`,
    );
  }
  return urlOrOptions as WebdisStoreOptions;
}

/** What a wrong argument was, for a message that must not echo it (it may be a secret). */
function typeName(value: unknown): string {
  return value === null ? "null" : typeof value;
}

/** The transport `transport` names, or the runtime's fast one when it is `undefined`. */
function openExchange(transport: unknown, target: WebdisTarget): WebdisExchange {
  const https = target.url.protocol === "https:";
  const sockets = nodeNet && nodeBuffer && (!https || nodeTls);
  if (transport === undefined) transport = isNode && sockets ? "node:net" : "fetch";
  if (transport === "fetch") return new FetchExchange(target);
  if (transport === "node:net" || transport === "node:http") {
    if (!sockets) {
      throw new SessionConfigError(
        `WebdisStore: transport "${transport}" needs the runtime's node:net${
          https ? ", node:tls" : ""
        } and node:buffer modules, which this runtime does not provide; use transport "fetch" ` +
          "or leave it out",
      );
    }
    return new Http1Exchange(target, { net: nodeNet!, tls: nodeTls, buffer: nodeBuffer! });
  }
  // What was passed is not echoed: a misplaced option may be a secret.
  throw new SessionConfigError(
    `WebdisStore: transport must be "node:net" or "fetch" (or left out to choose by runtime), ` +
      `got ${typeof transport === "string" ? "another string" : typeof transport}`,
  );
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
  // Hashed keys and numbers need no encoding: skip the work for them.
  if (PLAIN.test(arg)) return arg;
  return encodeURIComponent(arg).replace(
    /[.!'()*~]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

const PLAIN = /^[A-Za-z0-9_-]*$/;

const URL_EXAMPLE = '"http://127.0.0.1:7379"';
const CREDENTIALS_HINT = 'percent-encode "@", ":", "/", "?" and "#" in a username or password, ' +
  "or pass them as the username and password options";

/**
 * Check `url` and the credentials. No message echoes what was passed: a URL
 * that does not parse as intended may hold a password anywhere in it.
 */
function webdisTarget(
  url: unknown,
  username: unknown,
  password: unknown,
  timeoutMs: number,
): Omit<WebdisTarget, "maxConnections"> {
  if (typeof url !== "string") {
    throw new SessionConfigError(
      `WebdisStore: url must be a string such as ${URL_EXAMPLE}, got ${typeName(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SessionConfigError(
      `WebdisStore: url is not a valid URL${
        url.includes("://") ? "" : " (it has no http:// or https://)"
      }; write it as ${URL_EXAMPLE}, and ${CREDENTIALS_HINT} (the URL is not shown here, ` +
        "as it may hold a password)",
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SessionConfigError(
      `WebdisStore: url must start with http:// or https://, got one starting with ${
        JSON.stringify(/^[a-z][a-z0-9+.-]*:$/.test(parsed.protocol) ? parsed.protocol : "?")
      } (the URL is not shown here, as it may hold a password)`,
    );
  }
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(parsed.username);
    pass = decodeURIComponent(parsed.password);
  } catch {
    throw new SessionConfigError(
      "WebdisStore: the username or password in url has a malformed %-escape; " + CREDENTIALS_HINT,
    );
  }
  parsed.username = "";
  parsed.password = "";
  if (parsed.href.includes("@")) {
    // What the parser did not take as user-info: a password's "/", "?" or
    // "#" ended the host early, and the rest of it sits in the path.
    throw new SessionConfigError(
      `WebdisStore: url has an "@" outside its user-info part; ${CREDENTIALS_HINT} ` +
        "(the URL is not shown here, as it may hold a password)",
    );
  }
  const shown = parsed.origin + parsed.pathname.replace(/\/+$/, "");
  if (parsed.search || parsed.hash) {
    throw new SessionConfigError(
      `WebdisStore: url must not have a query or fragment (${JSON.stringify(shown)} would do)`,
    );
  }
  user = optionalString("username", username) ?? user;
  pass = optionalString("password", password) ?? pass;
  return {
    url: parsed,
    basePath: parsed.pathname.replace(/\/+$/, ""),
    shown,
    authorization: user !== "" || pass !== "" ? "Basic " + base64(`${user}:${pass}`) : undefined,
    timeoutMs,
  };
}

/** Option `name`'s `value`: a string, or `undefined` when it is left out. */
function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw new SessionConfigError(`WebdisStore: ${name} must be a string, got ${typeName(value)}`);
}

// Replies that need no JSON parse: the scripts' 0, 1 and 2 (a marker), DEL's counts.
const SHORT_REPLIES: ReadonlyMap<string, number> = new Map(
  ["EVALSHA", "EVAL", "DEL"].flatMap((c) => [0, 1, 2].map((n) => [`{"${c}":${n}}`, n])),
);

class WebdisTransport implements RedisTransport {
  readonly exchange: WebdisExchange;
  readonly #shown: string;

  constructor(exchange: WebdisExchange, shown: string) {
    this.exchange = exchange;
    this.#shown = shown;
  }

  async call(_key: string, args: string[]): Promise<unknown> {
    const command = args[0];
    let path = "";
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "") {
        // Webdis drops empty path segments, which would shift every later argument.
        throw new SessionStoreError(`WebdisStore: cannot send an empty argument in ${command}`);
      }
      path += i === 0 ? encodeWebdisArg(arg) : "/" + encodeWebdisArg(arg);
    }
    const method = GET_COMMANDS.has(command) && path.length <= MAX_URL_LENGTH ? "GET" : "POST";
    const { status, body } = await this.exchange.send(method, path, command);
    if (status < 200 || status > 299) {
      throw new SessionStoreError(
        `WebdisStore: Webdis at ${this.#shown} answered ${command} with HTTP ${status}${
          statusHint(status)
        }${snippet(body)}`,
      );
    }
    if (body.length <= 16) {
      const short = SHORT_REPLIES.get(body);
      if (
        short !== undefined && body.length === command.length + 6 && body.startsWith(command, 2)
      ) return short;
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
    let name: string | undefined;
    if (typeof reply === "object" && reply !== null && !Array.isArray(reply)) {
      for (const k in reply) {
        if (name !== undefined) {
          name = undefined;
          break;
        }
        name = k;
      }
    }
    if (name === undefined || name.toUpperCase() !== command.toUpperCase()) {
      throw new SessionStoreError(
        `WebdisStore: ${this.#shown} answered ${command} with JSON that is not a Webdis reply ` +
          `(expected {"${command}": ...})${snippet(body)}`,
      );
    }
    const value = (reply as Record<string, unknown>)[name];
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

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
