/**
 * The stress suite's HTTP clients over loopback: a keep-alive client for
 * ordinary requests, a raw-socket one for cookie headers no HTTP client
 * library would send (control characters, bytes above 0x7F), and a bounded
 * worker pool (it stops at a request count or at a deadline, whichever comes
 * first). Runs on Node and on Deno.
 *
 * @module
 */
import { Agent, request as httpRequest } from "node:http";
import { createConnection } from "node:net";

/** One answer, read whole. */
export interface Reply {
  status: number;
  body: string;
  /** The raw `Set-Cookie` lines. */
  setCookies: string[];
}

/** A keep-alive HTTP client to one loopback port. */
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
  request(method: string, path: string, cookie?: string, timeoutMs = 30_000): Promise<Reply> {
    return this.#send(method, path, cookie, timeoutMs, false);
  }

  #send(
    method: string,
    path: string,
    cookie: string | undefined,
    timeoutMs: number,
    retried: boolean,
  ): Promise<Reply> {
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

/**
 * Send `GET path` with `cookieBytes` (latin1: one char per byte) as the raw
 * Cookie header value, on a fresh connection closed after the answer. The
 * status is 0 when the server closed without answering.
 */
export function rawRequest(
  port: number,
  path: string,
  cookieBytes: string,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => socket.destroy(new Error(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookieBytes}\r\nConnection: close\r\n\r\n`,
        "latin1",
      );
    });
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (error) => {
      clearTimeout(timer);
      // A reset after the answer was read is the server closing: keep the answer.
      if (chunks.length) finish();
      else reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      finish();
    });
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const at = text.indexOf("\r\n\r\n");
      resolve({ status: m ? Number(m[1]) : 0, body: at < 0 ? "" : text.slice(at + 4) });
      socket.destroy();
    }
  });
}

/** How far a bounded loop got. */
export interface PoolResult {
  /** Tasks that ran to the end. */
  done: number;
  /** Whether the deadline stopped it before `total`. */
  timedOut: boolean;
  ms: number;
}

/**
 * Run `task(i)` for i in 0..total-1 with `concurrency` in flight, stopping
 * early at `deadlineMs` (no new task starts after it). A task's own errors are
 * its business: it must catch them (a throw here is a bug in the harness).
 */
export async function pool(
  total: number,
  concurrency: number,
  deadlineMs: number,
  task: (i: number) => Promise<void>,
): Promise<PoolResult> {
  const start = Date.now();
  const deadline = start + deadlineMs;
  let next = 0;
  let done = 0;
  let timedOut = false;
  const worker = async () => {
    while (next < total) {
      if (Date.now() >= deadline) {
        timedOut = true;
        return;
      }
      const i = next++;
      await task(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { done, timedOut, ms: Date.now() - start };
}

/** The cookies a response set, name to value (deletions included, with value ""). */
export function setCookieValues(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const pair = line.split(";", 1)[0];
    const eq = pair.indexOf("=");
    if (eq > 0) out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

/** Whether a `Set-Cookie` line deletes its cookie (Oak deletes with an Expires in the past). */
export function deletesCookie(line: string): boolean {
  const expires = /;\s*expires=([^;]+)/i.exec(line);
  return /;\s*max-age=0(;|$)/i.test(line) ||
    (expires !== null && Date.parse(expires[1]) <= Date.now()) ||
    /^[^=]+=\s*(;|$)/.test(line);
}
