/**
 * Real Redis servers: the shared one on 127.0.0.1:6379 (which must be
 * running), and throw-away ones started on spare loopback ports — a single
 * server that can be stopped, killed, paused and started again on the same
 * port, and a 3-node cluster. Runs on Node, Deno and Bun (`node:` modules).
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { sparePort } from "./ports.ts";
import { type OwnService, requireBinary, track } from "./processes.ts";
import { stopChild, waitFor, waitForExit } from "./waiting.ts";

/** The shared Redis every test may use (with keys of its own). */
export const SHARED_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * Send one inline command to a Redis on 127.0.0.1:`port`; the raw reply (one
 * char per byte), or null when nothing answers within `timeoutMs`.
 */
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
      data += chunk.toString("latin1");
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

/** Resolves once the Redis on `port` answers PING. */
function waitForPong(port: number, what: string): Promise<boolean> {
  return waitFor(async () => (await rawCommand(port, "PING", 500)) === "+PONG\r\n", {
    timeoutMs: 10_000,
    what: `${what} on port ${port} to answer PING`,
  });
}

/** The arguments of a redis-server without persistence on 127.0.0.1:`port`. */
function serverArgs(port: number, dir: string, extra: string[]): string[] {
  return [
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
    ...extra,
  ];
}

/** A redis-server of its own, on its own port, that can be stopped, paused and restarted. */
export interface OwnRedis extends OwnService {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stop it, saving its data first (as a server with persistence would keep it); `start` loads it. */
  stop(): Promise<void>;
  /** SIGSTOP: it keeps its connections but answers nothing (a hung server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
}

/**
 * Start a redis-server (no persistence but what `stop` saves) on a spare
 * loopback port, with its data dir in a temp dir. `databases`: how many
 * logical databases it has (Redis's default 16).
 */
export async function startOwnRedis(options: { databases?: number } = {}): Promise<OwnRedis> {
  requireBinary("redis-server");
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-redis-"));
  const extra = ["--dbfilename", "dump.rdb"];
  if (options.databases !== undefined) extra.push("--databases", String(options.databases));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = track(spawn("redis-server", serverArgs(port, dir, extra), { stdio: "ignore" }));
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
  const kill = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    // A paused server must run again to take any signal but SIGKILL; SIGCONT is harmless.
    if (running.pid) process.kill(running.pid, "SIGCONT");
    await stopChild(running, "SIGKILL");
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    kill,
    start,
    // process.kill, not child.kill: Deno's child.kill sends only the first signal it is given.
    pause: () => child?.pid && process.kill(child.pid, "SIGSTOP"),
    resume: () => child?.pid && process.kill(child.pid, "SIGCONT"),
    dispose: async () => {
      await kill();
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
  requireBinary("redis-cli", "redis-tools");
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-cluster-"));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const dispose = async () => {
    await Promise.all(children.map((c) => stopChild(c, "SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < 3) ports.push(await sparePort(true));
    for (const port of ports) {
      const config = ["--cluster-enabled", "yes"];
      config.push("--cluster-config-file", join(dir, `nodes-${port}.conf`));
      children.push(
        track(spawn("redis-server", serverArgs(port, dir, config), { stdio: "ignore" })),
      );
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
      await waitFor(() => {
        const info = spawnSync("redis-cli", ["-p", String(port), "cluster", "info"]).stdout;
        return info?.toString().includes("cluster_state:ok");
      }, { timeoutMs: 10_000, what: `cluster node ${port} to report cluster_state:ok` });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { ports, urls: ports.map((p) => `redis://127.0.0.1:${p}`), dispose };
}
