/**
 * Real Redis servers for the tests: the shared one on 127.0.0.1:6379 (which
 * must be running), and throw-away ones this file starts on spare loopback
 * ports (a single server that can be stopped and restarted, and a 3-node
 * cluster). Runs on Node and on Deno (through its `node:` modules).
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export const SHARED_REDIS_URL = "redis://127.0.0.1:6379";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Send one inline command to 127.0.0.1:`port`; the raw reply text, or null when nothing answers. */
export function rawCommand(
  port: number,
  command: string,
  timeoutMs = 1000,
): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let data = "";
    const done = (value: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on("connect", () => socket.write(command + "\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString();
      if (data.endsWith("\r\n")) done(data);
    });
    socket.on("error", () => done(null));
  });
}

/**
 * Fail loudly (with how to fix it) when the shared Redis on 127.0.0.1:6379 is
 * not answering. Call it in `before()`.
 */
export async function requireSharedRedis(): Promise<void> {
  const reply = await rawCommand(6379, "PING");
  if (reply !== "+PONG\r\n") {
    throw new Error(
      "These tests need Redis on 127.0.0.1:6379 and nothing answered PING there. " +
        "Start it with `redis-server --daemonize yes` (or `sudo service redis-server start`).",
    );
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * A port that is free now, in 20000-29999, away from 6379/7379. With
 * `busPort`, port + 10000 (the cluster bus) is free too.
 */
export async function sparePort(busPort = false): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (!(await portIsFree(port))) continue;
    if (busPort && !(await portIsFree(port + 10000))) continue;
    return port;
  }
  throw new Error("no spare loopback port found in 20000-29999");
}

function requireBinary(name: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
  if (!found) {
    throw new Error(
      `${name} is not installed; install the Debian package (apt-get install redis-server) ` +
        "so the tests can start their own servers",
    );
  }
}

function waitForExit(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function waitForPong(port: number, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await rawCommand(port, "PING", 500)) === "+PONG\r\n") return;
    await sleep(50);
  }
  throw new Error(`${what} on port ${port} did not start`);
}

/** A redis-server this test owns, on its own port, that can be stopped, paused and restarted. */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** Stop it, saving its data first (as a server with persistence would keep it). */
  stop(): Promise<void>;
  /** Start it again on the same port, with the data it had. */
  start(): Promise<void>;
  /** SIGSTOP: it keeps its connections but answers nothing (a hung server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Stop it for good and remove its files. */
  dispose(): Promise<void>;
}

/** Start a redis-server on a spare loopback port, with its data dir in a temp dir. */
export async function startOwnRedis(): Promise<OwnRedis> {
  requireBinary("redis-server");
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-redis-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--dbfilename",
      "dump.rdb",
    ], { stdio: "ignore" });
    await waitForPong(port, "redis-server");
  };
  const stop = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    // SHUTDOWN SAVE writes dump.rdb, which the next start loads.
    await rawCommand(port, "SHUTDOWN SAVE", 3000);
    await waitForExit(running);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    // process.kill, not child.kill: Deno's child.kill sends only the first signal it is given.
    pause: () => child?.pid && process.kill(child.pid, "SIGSTOP"),
    resume: () => child?.pid && process.kill(child.pid, "SIGCONT"),
    dispose: async () => {
      if (child) {
        const running = child;
        child = undefined;
        if (running.pid) process.kill(running.pid, "SIGCONT");
        running.kill("SIGKILL");
        await waitForExit(running);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A 3-master Redis Cluster on spare loopback ports. */
export interface OwnCluster {
  readonly ports: number[];
  /** `redis://127.0.0.1:P` of each node. */
  readonly urls: string[];
  /** Stop every node and remove their files. */
  dispose(): Promise<void>;
}

/** Start 3 redis-servers with `--cluster-enabled yes` and join them with `redis-cli --cluster create`. */
export async function startOwnCluster(): Promise<OwnCluster> {
  requireBinary("redis-server");
  requireBinary("redis-cli");
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-cluster-"));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const dispose = async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(children.map((c) => waitForExit(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < 3) {
      const port = await sparePort(true);
      if (!ports.includes(port)) ports.push(port);
    }
    for (const port of ports) {
      children.push(spawn("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ], { stdio: "ignore" }));
    }
    for (const port of ports) await waitForPong(port, "cluster node");
    const created = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const cli = spawn("redis-cli", [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ]);
      let output = "";
      cli.stdout?.on("data", (d) => (output += d));
      cli.stderr?.on("data", (d) => (output += d));
      cli.on("exit", (code) => resolve({ code, output }));
    });
    if (created.code !== 0) {
      throw new Error(`redis-cli --cluster create failed:\n${created.output}`);
    }
    // Every node must agree the cluster is up before clients discover slots.
    for (const port of ports) {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        const info = spawnSync("redis-cli", ["-p", String(port), "cluster", "info"]).stdout
          ?.toString() ?? "";
        ok = info.includes("cluster_state:ok");
        if (!ok) await sleep(100);
      }
      if (!ok) throw new Error(`cluster node ${port} never reported cluster_state:ok`);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { ports, urls: ports.map((p) => `redis://127.0.0.1:${p}`), dispose };
}
