/**
 * How `WebdisStore`'s requests travel: the contract every transport meets,
 * the errors they share, and the `fetch` transport. The Node.js one,
 * HTTP/1.1 over kept-alive `node:net` sockets, is `webdis_http1.ts`. Both
 * send the same bytes (see {@link WebdisExchange}); the store builds the
 * command and parses the reply.
 *
 * Why two: on Node, `fetch` (undici) costs several hundred microseconds of
 * CPU per call, a raw socket a tenth of that (bench/webdis_transports.ts).
 * On Deno, Bun and workers `fetch` is the runtime's own client and the
 * `node:` modules are a layer over the runtime's, so `fetch` stays there.
 *
 * @module
 */
import { SessionStoreError } from "../errors.ts";
import { failureText } from "./failure_text.ts";

/**
 * Which HTTP client a `WebdisStore` uses: `"node:net"` (HTTP/1.1 written
 * straight to kept-alive `node:net`/`node:tls` sockets in a bounded pool;
 * Node's fast path) or `"fetch"` (the fast path on Deno, Bun and workers).
 * `"node:http"`, the name from when the Node path was a `node:http` agent,
 * is still accepted and selects `"node:net"`.
 */
export type WebdisTransportName = "fetch" | "node:net" | "node:http";

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
  /** Most sockets the `node:net` transport opens at once. */
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
  readonly name: "fetch" | "node:net";
  /** One request; `command` (the command's name) is for error messages. */
  send(method: "GET" | "POST", path: string, command: string): Promise<WebdisAnswer>;
  /** Drop every kept-alive connection; later calls fail. */
  close(): void;
}

/** The error of a call after `close()`. */
export function closedError(target: WebdisTarget): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: the store for ${target.shown} was closed (close()); open a new one`,
  );
}

/** The error of a call that outlived `timeoutMs`. */
export function timeoutError(
  target: WebdisTarget,
  command: string,
  cause?: unknown,
): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: Webdis at ${target.shown} did not answer ${command} within ${target.timeoutMs} ms`,
    cause === undefined ? undefined : { cause },
  );
}

/** The error of a refused or broken connection. */
export function unreachableError(target: WebdisTarget, error: unknown): SessionStoreError {
  return new SessionStoreError(
    `WebdisStore: could not reach Webdis at ${target.shown} (${failureText(error)})`,
    { cause: error },
  );
}

const POST_TYPE = "text/plain; charset=utf-8";

/** Requests by `fetch`: the runtime owns the connections. */
export class FetchExchange implements WebdisExchange {
  readonly name = "fetch" as const;
  readonly #target: WebdisTarget;
  readonly #base: string;
  readonly #getInit: RequestInit;
  readonly #postHeaders: Record<string, string>;
  #closed = false;

  /** Requests to `target`'s Webdis. */
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
