/**
 * The processes the stress suite starts and owns: its own redis-server and
 * Webdis on spare loopback ports (so every count it reads from the backend is
 * its own, and it may kill them), and the Oak servers under test, each in a
 * child process so a crash is seen as an exit. Runs on Node and on Deno.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the child servers run from it, to find node_modules). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A temp dir this run owns. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `oak-sessions-stress-${label}-`));
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

const taken = new Set<number>();

/**
 * A free port in 20000-29999: below the kernel's ephemeral range, so a server
 * killed and restarted on it does not find it taken by some client socket.
 */
export async function sparePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (taken.has(port) || !(await portIsFree(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error("no spare loopback port found in 20000-29999");
}

/** Fail with how to fix it when `name` is not installed. */
export function requireBinary(name: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    throw new Error(
      `${name} is not installed; the stress suite starts its own. Install the Debian package ` +
        `(apt-get install ${pkg})`,
    );
  }
}

/** Send one inline command to a Redis on 127.0.0.1:`port`; the raw reply, or null. */
export function redisCommand(
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

// Every process this run started, killed when this process exits however it exits
// (a child server also exits by itself when its stdin closes).
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
}

/** A service the suite can kill and start again on the same port. */
export interface Service {
  readonly port: number;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** Start again (same port, same settings); resolves once it answers. */
  start(): Promise<void>;
  /** Kill it for good and remove its files. */
  dispose(): Promise<void>;
}

/** A redis-server without persistence (`--save "" --appendonly no`) on a spare port. */
export async function startRedis(): Promise<Service> {
  requireBinary("redis-server", "redis-server");
  const port = await sparePort();
  const dir = tempDir("redis");
  let child: ChildProcess | undefined;
  const start = async () => {
    child = track(spawn("redis-server", [
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
      "--databases",
      "4",
    ], { stdio: "ignore" }));
    for (let i = 0; i < 200; i++) {
      if ((await redisCommand(port, "PING", 500)) === "+PONG\r\n") return;
      await sleep(25);
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async () => {
    if (child) await killAndWait(child);
    child = undefined;
  };
  await start();
  return {
    port,
    kill,
    start,
    dispose: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Webdis on a spare port in front of the Redis on `redisPort`, database `database`. */
export async function startWebdis(redisPort: number, database: number): Promise<Service> {
  requireBinary("webdis", "webdis");
  const port = await sparePort();
  const dir = tempDir("webdis");
  const config = join(dir, "webdis.json");
  writeFileSync(
    config,
    JSON.stringify({
      redis_host: "127.0.0.1",
      redis_port: redisPort,
      redis_auth: null,
      http_host: "127.0.0.1",
      http_port: port,
      threads: 2,
      pool_size: 8,
      daemonize: false,
      database,
      acl: [{ disabled: ["DEBUG", "FLUSHDB", "FLUSHALL", "SHUTDOWN", "CONFIG"] }],
      verbosity: 1,
      logfile: join(dir, "webdis.log"),
    }),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = track(spawn("webdis", [config], { stdio: "ignore", cwd: dir }));
    for (let i = 0; i < 200; i++) {
      try {
        // Any HTTP answer means it listens (an error status when its Redis is down).
        const res = await fetch(`http://127.0.0.1:${port}/PING`);
        await res.body?.cancel();
        return;
      } catch {
        await sleep(25);
      }
    }
    throw new Error(`webdis did not start on port ${port}`);
  };
  const kill = async () => {
    if (child) await killAndWait(child);
    child = undefined;
  };
  await start();
  return {
    port,
    kill,
    start,
    dispose: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How an Oak server under test is set up (passed to `stress/server.ts` as JSON). */
export interface ServerConfig {
  kind: "memory" | "cookie" | "sqlite" | "redis" | "webdis" | "postgres";
  /**
   * The environment `openStore` reads (SQLITE_FILE, REDIS_URL, WEBDIS_URL, COOKIE_SECRET,
   * DATABASE_URL, POSTGRES_TABLE).
   */
  env: Record<string, string>;
  /** For redis and webdis: where the server inspects the backend (count, dump). */
  inspectRedisUrl?: string;
  expireAfterSeconds: number;
}

/** An Oak server under test, in a child process. */
export interface ChildServer {
  readonly kind: string;
  readonly url: string;
  readonly port: number;
  /** Whether it exited without being asked to (a crash), and how. */
  crashed(): string | null;
  /** Ask it to stop (SIGTERM, then SIGKILL) and wait. */
  stop(): Promise<void>;
}

/** The command that runs TypeScript on Node (the servers need better-sqlite3, a Node addon). */
function nodeCommand(script: string, extra: string[] = []): { cmd: string; args: string[] } {
  const isDeno = "Deno" in globalThis;
  // Under Deno, process.execPath is the deno binary: use the node on PATH.
  const cmd = isDeno ? "node" : process.execPath;
  return { cmd, args: [...extra, "--import", "tsx", join(ROOT, "stress", script)] };
}

/**
 * Start `stress/<script>` under Node and wait for its `READY <port>` line.
 * Its stderr is kept (the last 4 KB) to explain a crash.
 */
export async function startChild(
  script: string,
  config: unknown,
  label: string,
): Promise<ChildServer> {
  const { cmd, args } = nodeCommand(script, ["--expose-gc"]);
  const child = track(spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, STRESS_CONFIG: JSON.stringify(config) },
    // Its stdin closes when this process dies: the server then exits too.
    stdio: ["pipe", "pipe", "pipe"],
  }));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr = (stderr + d.toString()).slice(-4096)));
  let stopping = false;
  let exitInfo: string | null = null;
  child.on("exit", (code, signal) => {
    if (!stopping) exitInfo = `exit code ${code} signal ${signal}: ${stderr.trim()}`;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${label} server did not start in 120 s: ${stderr}`));
    }, 120_000);
    child.stdout!.on("data", (d) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${label} server exited before it was ready: ${stderr}`));
    });
  });
  return {
    kind: label,
    port,
    url: `http://127.0.0.1:${port}`,
    crashed: () => exitInfo,
    stop: async () => {
      stopping = exitInfo === null;
      await killAndWait(child, "SIGTERM");
    },
  };
}

/** Run `stress/<script>` under Node to completion; its last stdout line, parsed as JSON. */
export function runChild(script: string, config: unknown, timeoutMs: number): Promise<unknown> {
  const { cmd, args } = nodeCommand(script, ["--expose-gc"]);
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, STRESS_CONFIG: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d.toString()));
    child.stderr!.on("data", (d) => (err = (err + d.toString()).slice(-4096)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0) {
        try {
          return resolve(JSON.parse(last));
        } catch {
          // fall through to the error below
        }
      }
      reject(new Error(`${script} failed (code ${code}, signal ${signal}): ${err.trim()}`));
    });
  });
}
