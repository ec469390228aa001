/**
 * A logging TCP relay to put in front of a server (Webdis, in the tests that
 * look at what crossed the wire). Runs on Node and on Deno.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { sparePort } from "../kit/ports.ts";

/** One HTTP request as it crossed the wire. */
export interface SeenRequest {
  /** `GET /HGETALL/... HTTP/1.1`: what an access log records. */
  readonly requestLine: string;
  /** The header lines, as sent. */
  readonly headers: string;
  /** The body, as sent (`""` for none). */
  readonly body: string;
  /** Which TCP connection (0, 1, ...) carried it. */
  readonly connection: number;
}

/** A TCP relay in front of Webdis that records every request and connection. */
export interface LoggingProxy {
  readonly url: string;
  /** Every request so far, in order. */
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Connections still open now. */
  open(): number;
  /** Resolves once no connection is open (or rejects after `timeoutMs`). */
  allClosed(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A plain TCP relay to 127.0.0.1:`targetPort` on a spare port. It passes
 * the bytes through untouched and parses the client's side as HTTP/1.1
 * (request line, headers, Content-Length body), so a test sees exactly what
 * a logging proxy or a packet capture would, and how many connections the
 * client opened.
 */
export async function startLoggingProxy(targetPort: number): Promise<LoggingProxy> {
  const port = await sparePort();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let accepted = 0;
  let waiters: Array<() => void> = [];
  const settle = () => {
    if (clients.size > 0) return;
    for (const w of waiters) w();
    waiters = [];
  };
  const server = createNetServer((client) => {
    const connection = accepted++;
    sockets.add(client);
    clients.add(client);
    const upstream = connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(upstream);
    let pending = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) break;
        const head = pending.subarray(0, end).toString("latin1");
        const lines = head.split("\r\n");
        const length = Number(/^content-length:\s*(\d+)$/im.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) break;
        requests.push({
          requestLine: lines[0],
          headers: lines.slice(1).join("\r\n"),
          body: pending.subarray(end + 4, end + 4 + length).toString("utf8"),
          connection,
        });
        pending = pending.subarray(end + 4 + length);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const drop = (socket: Socket) => {
      sockets.delete(socket);
      clients.delete(socket);
      socket.destroy();
      settle();
    };
    client.on("close", () => {
      drop(client);
      drop(upstream);
    });
    upstream.on("close", () => {
      drop(upstream);
      drop(client);
    });
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => accepted,
    open: () => clients.size,
    allClosed: (timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        if (clients.size === 0) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`${clients.size} proxied connection(s) still open`)),
          timeoutMs,
        );
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
