/**
 * How `WebdisStore`'s requests travel: a keep-alive `node:http` agent on
 * Node.js, `fetch` elsewhere. Both send the same bytes (see
 * {@link WebdisExchange}); the store builds the command and parses the reply.
 *
 * Why two: on Node, `fetch` (undici) costs several hundred microseconds of
 * CPU per call, while a `node:http` request on a socket the agent keeps open
 * costs a third to a half of that (bench/webdis_transports.ts). On Deno, Bun and workers `fetch` is the runtime's own
 * client and `node:http` is a layer over it, so `fetch` stays there.
 *
 * @module
 */
import type { Agent as HttpAgent, ClientRequest, IncomingMessage } from "node:http";
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { isNode, nodeHttp, nodeHttps } from "../node_builtins.ts";

/**
 * Which HTTP client a `WebdisStore` uses: `"node:http"` (a keep-alive agent
 * with a bounded pool; Node's fast path) or `"fetch"` (the fast path on
 * Deno, Bun and workers).
 */
export type WebdisTransportName = "fetch" | "node:http";

/** The status and text of one Webdis answer. */
export interface WebdisAnswer {
  /** The HTTP status. */
  status: number;
  /** The body, as text. */
  body: string;
}

/** What every transport is given: where Webdis is, and how to speak to it. */
export interface WebdisTarget {
  /** The parsed URL, without credentials, query or fragment. */
  url: URL;
  /** The URL's path prefix, without a trailing `/` (`""` for none). */
  basePath: string;
  /** The URL as error messages show it (never with credentials). */
  shown: string;
  /** `Basic ...`, or `undefined` without credentials. */
  authorization: string | undefined;
  /** How long one request may take. */
  timeoutMs: number;
  /** Most sockets the `node:http` agent opens at once. */
  maxConnections: number;
}

/**
 * One HTTP exchange with Webdis: `GET basePath/path` (no body) or
 * `POST basePath/` with the command path as the body. Rejects with a
 * `SessionStoreError` (503) on a timeout, a refused or broken connection,
 * or after `close()`.
 */
export interface WebdisExchange {
  /** Which client this is. */
  readonly name: WebdisTransportName;
  /** One request; `command` (the command's name) is for error messages. */
  send(method: "GET" | "POST", path: string, command: string): Promise<WebdisAnswer>;
  /** Drop every kept-alive connection; later calls fail. */
  close(): void;
}

/** The transport `transport` names, or the runtime's fast one when it is `undefined`. */
export function openExchange(
  transport: unknown,
  target: WebdisTarget,
): WebdisExchange {
  const https = target.url.protocol === "https:";
  const module = https ? nodeHttps : nodeHttp;
  if (transport === undefined) {
    transport = isNode && module ? "node:http" : "fetch";
  }
  if (transport === "fetch") return new FetchExchange(target);
  if (transport === "node:http") {
    if (!module) {
      throw new SessionConfigError(
        `WebdisStore: transport "node:http" needs the runtime's ${
          https ? "node:https" : "node:http"
        } module, which this runtime does not provide; use transport "fetch" or leave it out`,
      );
    }
    return new NodeHttpExchange(target, module);
  }
  // What was passed is not echoed: a misplaced option may be a secret.
  throw new SessionConfigError(
    `WebdisStore: transport must be "fetch" or "node:http" (or left out to choose by runtime), ` +
      `got ${typeof transport === "string" ? "another string" : typeof transport}`,
  );
}

function closedError(target: WebdisTarget): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: the store for ${target.shown} was closed (close()); open a new one`,
  );
}

function timeoutError(target: WebdisTarget, command: string, cause?: unknown): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: Webdis at ${target.shown} did not answer ${command} within ${target.timeoutMs} ms`,
    cause === undefined ? undefined : { cause },
  );
}

function unreachableError(target: WebdisTarget, error: unknown): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: could not reach Webdis at ${target.shown} (${describeNetworkError(error)})`,
    { cause: error },
  );
}

const POST_TYPE = "text/plain; charset=utf-8";

class FetchExchange implements WebdisExchange {
  readonly name = "fetch" as const;
  readonly #target: WebdisTarget;
  readonly #base: string;
  readonly #getInit: RequestInit;
  readonly #postHeaders: Record<string, string>;
  #closed = false;

  constructor(target: WebdisTarget) {
    this.#target = target;
    this.#base = target.url.origin + target.basePath + "/";
    const auth: Record<string, string> = target.authorization
      ? { authorization: target.authorization }
      : {};
    this.#getInit = { method: "GET", headers: auth };
    this.#postHeaders = { ...auth, "content-type": POST_TYPE };
  }

  async send(method: "GET" | "POST", path: string, command: string): Promise<WebdisAnswer> {
    if (this.#closed) throw closedError(this.#target);
    const signal = AbortSignal.timeout(this.#target.timeoutMs);
    try {
      const response = method === "GET"
        ? await fetch(this.#base + path, { ...this.#getInit, signal })
        : await fetch(this.#base, { method, headers: this.#postHeaders, body: path, signal });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      const name = (error as { name?: unknown } | null)?.name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw timeoutError(this.#target, command, error);
      }
      throw unreachableError(this.#target, error);
    }
  }

  close(): void {
    // The runtime owns fetch's connections (and does not let idle ones keep it alive).
    this.#closed = true;
  }
}

type HttpModule = Pick<typeof import("node:http"), "Agent" | "request">;

// Codes of a kept-alive socket the server had closed before our request reached it.
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

class NodeHttpExchange implements WebdisExchange {
  readonly name = "node:http" as const;
  readonly #target: WebdisTarget;
  readonly #request: HttpModule["request"];
  readonly #agent: HttpAgent;
  readonly #hostname: string;
  readonly #port: number;
  readonly #getPath: string;
  readonly #postPath: string;
  readonly #getHeaders: Record<string, string>;
  #closed = false;

  constructor(target: WebdisTarget, http: HttpModule) {
    this.#target = target;
    this.#request = http.request;
    // Idle sockets are unref'd by the agent (they never keep the process
    // alive) and closed after a minute without use.
    this.#agent = new http.Agent({
      keepAlive: true,
      maxSockets: target.maxConnections,
      maxFreeSockets: target.maxConnections,
      timeout: 60_000,
      scheduling: "lifo",
    });
    const { hostname, port, protocol } = target.url;
    // `new URL` keeps IPv6 hosts in brackets; node:http wants them bare.
    this.#hostname = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    this.#port = port === "" ? (protocol === "https:" ? 443 : 80) : Number(port);
    this.#getPath = target.basePath + "/";
    this.#postPath = target.basePath + "/";
    this.#getHeaders = target.authorization ? { authorization: target.authorization } : {};
  }

  send(method: "GET" | "POST", path: string, command: string): Promise<WebdisAnswer> {
    if (this.#closed) return Promise.reject(closedError(this.#target));
    return new Promise((resolve, reject) =>
      this.#attempt(method, path, command, resolve, reject, true)
    );
  }

  #attempt(
    method: "GET" | "POST",
    path: string,
    command: string,
    resolve: (answer: WebdisAnswer) => void,
    reject: (error: SessionStoreError) => void,
    mayRetry: boolean,
  ): void {
    const target = this.#target;
    let headers = this.#getHeaders;
    let body: Uint8Array | undefined;
    if (method === "POST") {
      body = encoder.encode(path);
      headers = { ...headers, "content-type": POST_TYPE, "content-length": String(body.length) };
    }
    let req: ClientRequest;
    let answered = false;
    let done = false;
    const finish = (error: SessionStoreError | undefined, answer?: WebdisAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => {
      finish(timeoutError(target, command));
      // The socket may still carry a late answer: never reuse it.
      req.destroy();
    }, target.timeoutMs);
    try {
      req = this.#request({
        agent: this.#agent,
        hostname: this.#hostname,
        port: this.#port,
        method,
        path: method === "GET" ? this.#getPath + path : this.#postPath,
        headers,
      }, (res: IncomingMessage) => {
        answered = true;
        // Webdis answers in one chunk: keep it as bytes and decode once, at the end.
        let first: Uint8Array | undefined;
        let more: Uint8Array[] | undefined;
        res.on("data", (chunk: Uint8Array) => {
          if (first === undefined) first = chunk;
          else (more ??= [first]).push(chunk);
        });
        res.on("end", () => {
          const text = more ? decoder.decode(concat(more)) : first ? decoder.decode(first) : "";
          finish(undefined, { status: res.statusCode ?? 0, body: text });
        });
        res.on("error", (error) => finish(unreachableError(target, error)));
      });
    } catch (error) {
      // node:http refuses some inputs synchronously (a bad header, a host it cannot use).
      clearTimeout(timer);
      done = true;
      reject(unreachableError(target, error));
      return;
    }
    req.on("error", (error: Error & { code?: string }) => {
      if (done) return;
      if (
        mayRetry && !answered && req.reusedSocket && !this.#closed &&
        STALE_SOCKET.has(error.code ?? "")
      ) {
        // A kept-alive socket broke before any answer: almost always Webdis
        // closed it while idle (a restart, an idle limit) and never read the
        // request. Send it once more, on a fresh socket. Every command is
        // safe to repeat: reads and DEL are idempotent, the write script sets
        // the same fields again, and a repeated ID change finds the old key
        // gone and answers false (the request then starts a fresh session).
        done = true;
        clearTimeout(timer);
        this.#attempt(method, path, command, resolve, reject, false);
        return;
      }
      finish(this.#closed ? closedError(target) : unreachableError(target, error));
    });
    req.end(body);
  }

  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A network error's message with its code and causes (Node hides ECONNREFUSED in `cause`). */
function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 3; depth++) {
    const message = (e as { message?: unknown }).message;
    const code = (e as { code?: unknown }).code;
    if (typeof message === "string" && message) parts.push(message);
    if (typeof code === "string" && !parts.some((p) => p.includes(code))) parts.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(": ") || String(error);
}
