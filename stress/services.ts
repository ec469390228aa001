/**
 * The Oak servers under test, each in a child process so a crash is seen as
 * an exit. (The suite's own redis-server and Webdis, on spare loopback ports
 * so every count it reads from the backend is its own and it may kill them,
 * come from test/kit/.) Runs on Node and on Deno.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type OwnService, track } from "../test/kit/processes.ts";
import { startOwnRedis } from "../test/kit/redis.ts";
import { startWebdis } from "../test/kit/webdis.ts";
import { stopChild } from "../test/kit/waiting.ts";

/** The repository root (the child servers run from it, to find node_modules). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A temp dir this run owns. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `oak-sessions-stress-${label}-`));
}

/** A service the suite can kill and start again on the same port. */
export type Service = OwnService;

/** The suite's redis-server: no persistence, on a spare port. */
export function startSuiteRedis(): Promise<Service> {
  return startOwnRedis({ databases: 4 });
}

/** The suite's Webdis in front of its Redis on `redisPort`, database `database`. */
export function startSuiteWebdis(redisPort: number, database: number): Promise<Service> {
  return startWebdis({
    redisPort,
    database,
    poolSize: 8,
    verbosity: 1,
    acl: [{ disabled: ["DEBUG", "FLUSHDB", "FLUSHALL", "SHUTDOWN", "CONFIG"] }],
  });
}

/** How an Oak server under test is set up (passed to `stress/server.ts` as JSON). */
export interface ServerConfig {
  kind: "memory" | "cookie" | "sqlite" | "redis" | "webdis" | "postgres" | "mysql";
  /**
   * The environment `openStore` reads (SQLITE_FILE, REDIS_URL, WEBDIS_URL, COOKIE_SECRET,
   * DATABASE_URL, POSTGRES_TABLE, MYSQL_URL, MYSQL_TABLE).
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
      await stopChild(child, "SIGTERM");
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
