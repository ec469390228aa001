/**
 * Test support for the cookie store's tests (runtime edges live here): a real
 * Oak server on a free local port, a tiny client-side cookie jar that behaves
 * like a browser's for one origin, and a real Oak cookie map over plain
 * headers for loops too long to run over HTTP.
 *
 * @module
 */
import { type Application, Cookies } from "@oakserver/oak";
import { createServer } from "node:net";
import type { CookieJar } from "../src/store.ts";

/** A running Oak app and how to reach and stop it. */
export interface RunningApp {
  origin: string;
  /** Stop the server; resolves once it no longer listens. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start `app` on 127.0.0.1 and wait until it answers. Oak on Node reports
 * port 0 back when asked for port 0, so a free port is picked first.
 */
export async function startApp(
  // deno-lint-ignore no-explicit-any
  app: Application<any>,
): Promise<RunningApp> {
  const port = await freePort();
  const controller = new AbortController();
  // Under Deno, the promise of an aborted listen() never settles: never await it.
  app.listen({ port, hostname: "127.0.0.1", signal: controller.signal }).catch(() => {});
  const origin = `http://127.0.0.1:${port}`;
  for (let attempt = 0;; attempt++) {
    try {
      const res = await fetch(`${origin}/__ready`);
      await res.body?.cancel();
      break;
    } catch (error) {
      if (attempt >= 200) {
        controller.abort();
        throw error;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    origin,
    close: async () => {
      controller.abort();
      // Oak on Node acts on the abort only when it handles its next request
      // (it then closes the Node server); Deno's server stops at once, and
      // this request simply fails.
      try {
        const res = await fetch(`${origin}/__close`);
        await res.body?.cancel();
      } catch {
        // Already closed.
      }
    },
  };
}

/** One cookie as a browser keeps it (only what these tests look at). */
export interface StoredCookie {
  value: string;
  attributes: Record<string, string>;
}

/**
 * A browser's cookie jar for one origin: applies `Set-Cookie` headers
 * (deleting on an expiry in the past or `Max-Age` 0) and sends the cookies
 * back in one `Cookie` header, as browsers do.
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
    const [pair, ...attrs] = line.split(";");
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const attributes: Record<string, string> = {};
    for (const a of attrs) {
      const i = a.indexOf("=");
      const key = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
      attributes[key] = i < 0 ? "" : a.slice(i + 1).trim();
    }
    const expired = ("max-age" in attributes && Number(attributes["max-age"]) <= 0) ||
      ("expires" in attributes && Date.parse(attributes.expires) <= Date.now());
    if (expired || value === "") this.cookies.delete(name);
    else this.cookies.set(name, { value, attributes });
  }
}

/**
 * Oak's own cookie map over plain headers: the jar a store sees in a request,
 * without the HTTP round trip. `cookies` are the request's cookies.
 */
export function oakJar(
  cookies: Record<string, string>,
): { jar: CookieJar; response: Headers } {
  const request = new Headers();
  const header = Object.entries(cookies).map(([n, v]) => `${n}=${v}`).join("; ");
  if (header) request.set("cookie", header);
  const response = new Headers();
  const jar = new Cookies(request, { response, secure: false }) as unknown as CookieJar;
  return { jar, response };
}

/** The cookies a response's `Set-Cookie` headers set (name to value; `""` deletes). */
export function setCookies(response: Headers): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of response.getSetCookie()) {
    const pair = line.split(";")[0];
    const eq = pair.indexOf("=");
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}
