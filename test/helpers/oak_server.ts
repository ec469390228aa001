/**
 * A real Oak application on a real loopback port, and a client that keeps
 * cookies the way a browser does. Runs on Node and on Deno.
 *
 * @module
 */
import { connect, createServer } from "node:net";
import type { Application } from "@oakserver/oak";
// The tests name Oak "@oakserver/oak", as the npm package's users do: type ctx.session for it.
import "../../src/oak_context_oakserver.ts";

/** A free TCP port on 127.0.0.1 (Oak reports the port it was asked for, so 0 will not do). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Stop listening. (Under Deno, npm Oak's listen promise never settles after abort: never awaited.) */
  close(): void;
}

/** Serve `app` on a free loopback port; resolves once it listens. */
// deno-lint-ignore no-explicit-any
export async function serve(app: Application<any>): Promise<RunningServer> {
  const port = await freePort();
  const controller = new AbortController();
  await new Promise<void>((resolve, reject) => {
    app.addEventListener("listen", () => resolve(), { once: true });
    app.listen({ port, hostname: "127.0.0.1", signal: controller.signal }).catch(reject);
  });
  // Under Deno the "listen" event can come before the socket accepts connections.
  await waitForPort(port);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    close: () => {
      controller.abort();
      // npm Oak on Node acts on the abort only when its next request arrives.
      fetch(url, { headers: { connection: "close" } }).then((r) => r.body?.cancel(), () => {});
    },
  };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (up to `timeoutMs`). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One parsed `Set-Cookie` header. */
export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names in lower case to their values ("" for flags). */
  attributes: Map<string, string>;
  /** Whether it deletes the cookie (expired, or Max-Age 0). */
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
  const expires = attributes.get("expires");
  const deletes = attributes.get("max-age") === "0" ||
    (expires !== undefined && Date.parse(expires) <= Date.now());
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, deletes };
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

/** A browser-like client: sends the cookies it was given, keeps what the server sets. */
export class CookieClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  /** The `Cookie` header this client sends. */
  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
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
