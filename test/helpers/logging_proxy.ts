/**
 * A real Webdis (`/usr/bin/webdis`, Debian package `webdis`) the test starts
 * on a spare loopback port, with its JSON config in a temp dir, in front of
 * a Redis of the test's choosing, and a logging TCP relay to put in front of
 * it. Runs on Node and on Deno.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WebdisTransportName } from "../../src/stores/webdis_transport.ts";
import { sparePort } from "./redis_servers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One entry of Webdis's `acl` list. */
export interface WebdisAcl {
  http_basic_auth?: string;
  ip?: string;
  enabled?: string[];
  disabled?: string[];
}

/** A running Webdis. */
export interface OwnWebdis {
  readonly port: number;
  readonly url: string;
  /** Kill it (SIGKILL) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same config. */
  start(): Promise<void>;
  /** Stop it and remove its temp dir. */
  dispose(): Promise<void>;
}

/**
 * Start Webdis on a spare port, talking to Redis on 127.0.0.1:`redisPort`
 * (authenticating with `redisAuth`, as Redis's default user, when given).
 */
export async function startWebdis(
  options: { redisPort?: number; acl?: WebdisAcl[]; redisAuth?: string } = {},
): Promise<OwnWebdis> {
  if (spawnSync("sh", ["-c", "command -v webdis"]).status !== 0) {
    throw new Error(
      "webdis is not installed; install the Debian package (apt-get install webdis): " +
        "the Webdis tests start their own /usr/bin/webdis",
    );
  }
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-webdis-"));
  const config = join(dir, "webdis.json");
  writeFileSync(
    config,
    JSON.stringify({
      redis_host: "127.0.0.1",
      redis_port: options.redisPort ?? 6379,
      redis_auth: options.redisAuth ?? null,
      http_host: "127.0.0.1",
      http_port: port,
      threads: 2,
      daemonize: false,
      database: 0,
      acl: options.acl ?? [{ disabled: ["DEBUG", "FLUSHDB", "FLUSHALL"] }],
      verbosity: 3,
      logfile: join(dir, "webdis.log"),
    }),
  );
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn("webdis", [config], { stdio: "ignore", cwd: dir });
    for (let i = 0; i < 100; i++) {
      try {
        // Any HTTP answer means it listens (503 when its Redis is down).
        const res = await fetch(`${url}/PING`);
        await res.body?.cancel();
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`webdis did not start on port ${port}`);
  };
  const stop = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    if (running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    }
  };
  await start();
  return {
    port,
    url,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Both HTTP clients `WebdisStore` can use; every Webdis test runs with each. */
export const WEBDIS_TRANSPORTS: readonly WebdisTransportName[] = ["node:net", "fetch"];

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
