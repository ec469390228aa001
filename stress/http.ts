/**
 * The stress suite's own HTTP plumbing over loopback: a raw-socket request for
 * cookie headers no HTTP client library would send (control characters, bytes
 * above 0x7F), and a bounded worker pool (it stops at a request count or at a
 * deadline, whichever comes first). The keep-alive client and the cookie jars
 * are test/kit/http_client.ts's. Runs on Node and on Deno.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createConnection } from "node:net";

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
