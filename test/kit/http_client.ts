/**
 * HTTP clients that keep cookies as a browser does, and the one `Set-Cookie`
 * parser they share. Runs on Node, Deno and Bun.
 *
 * - `CookieClient`: requests to one origin through `fetch`, each answer read
 *   whole (`Reply`), its cookies kept by name (another tab: `clone()`).
 * - `BrowserJar`: a jar for tests that look at cookie attributes; `fetch`es
 *   any URL and keeps each cookie's attributes and the last `Set-Cookie` lines.
 * - `CookieJar`: only the cookies (name to value) and the `Cookie` header,
 *   for a client of one's own (the stress suite's keep-alive `HttpClient`).
 * - `HttpClient`: a keep-alive `node:http` client to one loopback port, for
 *   many requests at once (it keeps no cookies: pair it with `CookieJar`s).
 *
 * A cookie is deleted by a `Max-Age` of 0 or less, or an `Expires` in the past.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Agent, request as httpRequest } from "node:http";

/** One parsed `Set-Cookie` header. */
export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names in lower case to their values ("" for flags). */
  attributes: Map<string, string>;
  /** Whether it deletes the cookie (`Max-Age` 0 or less, or an `Expires` in the past). */
  deletes: boolean;
}

/** Parse one `Set-Cookie` header line. */
export function parseSetCookie(line: string): SetCookie {
  const [pair, ...rest] = line.split(";");
  const eq = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const i = part.indexOf("=");
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    attributes.set(key, i < 0 ? "" : part.slice(i + 1).trim());
  }
  const maxAge = attributes.get("max-age");
  const expires = attributes.get("expires");
  const deletes = (maxAge !== undefined && Number(maxAge) <= 0) ||
    (expires !== undefined && Date.parse(expires) <= Date.now());
  // No "=": a nameless cookie (RFC 6265bis), which the jars here skip.
  const name = eq < 0 ? "" : pair.slice(0, eq).trim();
  return { name, value: pair.slice(eq + 1).trim(), attributes, deletes };
}

/** Whether a `Set-Cookie` line deletes its cookie. */
export function deletesCookie(line: string): boolean {
  return parseSetCookie(line).deletes;
}

/** The cookies `Set-Cookie` lines set, name to value (deletions included, with their value, often ""). */
export function setCookieValues(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const pair = line.split(";", 1)[0];
    const eq = pair.indexOf("=");
    if (eq > 0) out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

/** The `Cookie` header a browser sends for these name/value pairs. */
export function cookieHeader(cookies: Iterable<[string, string]>): string {
  return [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
}

/** A browser's cookies for one origin, changed by each answer in the order answers arrive. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** Apply an answer's `Set-Cookie` lines, as a browser does. */
  apply(lines: string[]): void {
    for (const line of lines) {
      const c = parseSetCookie(line);
      if (!c.name) continue;
      if (c.deletes) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  /** The `Cookie` header, or `undefined` when the jar is empty. */
  header(): string | undefined {
    return this.cookies.size ? cookieHeader(this.cookies) : undefined;
  }

  copy(): CookieJar {
    const out = new CookieJar();
    for (const [k, v] of this.cookies) out.cookies.set(k, v);
    return out;
  }
}

/** The answer to one request, read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  setCookies: SetCookie[];
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/** A browser-like client of one origin: sends the cookies it was given, keeps what the server sets. */
export class CookieClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  /** The `Cookie` header this client sends. */
  cookieHeader(): string {
    return cookieHeader(this.cookies);
  }

  /** A new client with a copy of this one's cookies (another tab of the same browser, frozen). */
  clone(): CookieClient {
    const other = new CookieClient(this.baseUrl);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    return other;
  }

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    if (this.cookies.size && !headers.has("cookie")) headers.set("cookie", this.cookieHeader());
    const res = await fetch(this.baseUrl + path, { redirect: "manual", ...init, headers });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) {
      if (c.deletes) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return {
      status: res.status,
      headers: res.headers,
      text,
      setCookies,
      json: () => JSON.parse(text),
    };
  }

  get(path: string): Promise<Reply> {
    return this.request(path);
  }

  post(path: string, body?: unknown): Promise<Reply> {
    return this.request(path, {
      method: "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}

/** One cookie as a browser keeps it (only what the tests look at). */
export interface StoredCookie {
  value: string;
  attributes: Record<string, string>;
}

/**
 * A browser's cookie jar that keeps each cookie's attributes: applies
 * `Set-Cookie` headers and sends the cookies back in one `Cookie` header.
 */
export class BrowserJar {
  readonly cookies = new Map<string, StoredCookie>();
  /** The `Set-Cookie` headers of the last response. */
  lastSetCookies: string[] = [];

  /** GET (or `init.method`) `url` with this jar's cookies; applies the response's. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header();
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.lastSetCookies = res.headers.getSetCookie();
    for (const line of this.lastSetCookies) this.apply(line);
    return res;
  }

  /** GET `url` and parse the body as JSON (status must be 200). */
  async json(url: string, init: RequestInit = {}): Promise<unknown> {
    const res = await this.fetch(url, init);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url}: status ${res.status}: ${text}`);
    return JSON.parse(text);
  }

  /** The `Cookie` header this jar sends. */
  header(): string {
    return [...this.cookies].map(([name, c]) => `${name}=${c.value}`).join("; ");
  }

  /** A copy of this jar (a captured set of cookies to replay later). */
  clone(): BrowserJar {
    const copy = new BrowserJar();
    for (const [name, c] of this.cookies) {
      copy.cookies.set(name, { value: c.value, attributes: { ...c.attributes } });
    }
    return copy;
  }

  /** Names of the cookies the jar holds, sorted. */
  names(): string[] {
    return [...this.cookies.keys()].sort();
  }

  apply(line: string): void {
    const c = parseSetCookie(line);
    if (c.deletes) this.cookies.delete(c.name);
    else this.cookies.set(c.name, { value: c.value, attributes: Object.fromEntries(c.attributes) });
  }
}

/** One answer of {@link HttpClient}, read whole. */
export interface RawReply {
  status: number;
  /** The body, one char per byte. */
  body: string;
  /** The raw `Set-Cookie` lines. */
  setCookies: string[];
}

/** A keep-alive HTTP client to one loopback port (`node:http`), for many requests at once. */
export class HttpClient {
  readonly #agent: Agent;
  constructor(readonly port: number, concurrency: number) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  }

  /**
   * Send one request; rejects on a network error or after `timeoutMs`. A
   * request on a kept-alive socket that the server had just closed as idle is
   * sent once more on a new socket (the server never read it), as Node's
   * documentation advises for keep-alive agents.
   */
  request(method: string, path: string, cookie?: string, timeoutMs = 30_000): Promise<RawReply> {
    return this.#send(method, path, cookie, timeoutMs, false);
  }

  #send(
    method: string,
    path: string,
    cookie: string | undefined,
    timeoutMs: number,
    retried: boolean,
  ): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (cookie !== undefined) headers.cookie = cookie;
      const req = httpRequest({
        host: "127.0.0.1",
        port: this.port,
        method,
        path,
        headers,
        agent: this.#agent,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          const set = res.headers["set-cookie"];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("latin1"),
            setCookies: set === undefined ? [] : Array.isArray(set) ? set : [set],
          });
        });
        res.on("error", reject);
      });
      const timer = setTimeout(
        () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const idleClose = error.code === "ECONNRESET" || error.message === "socket hang up";
        if (!retried && req.reusedSocket && idleClose) {
          this.#send(method, path, cookie, timeoutMs, true).then(resolve, reject);
        } else reject(error);
      });
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
