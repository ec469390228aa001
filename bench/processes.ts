/**
 * The processes a benchmark run starts: one per server, and its own Webdis.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { hasBinary } from "../test/kit/processes.ts";
import { type OwnWebdis, startWebdis } from "../test/kit/webdis.ts";
import { stopChild } from "../test/kit/waiting.ts";

/** A running benchmark server. */
export interface ServerProcess {
  /** Its name in the run (`oak-bare`, `oak-deno-memory`). */
  readonly id: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its process ID, for its CPU time. */
  readonly pid: number;
  /** Its stderr so far (the last lines), for a report of why it failed. */
  stderr(): string;
  /** SIGTERM (it exits through process.exit, writing a CPU profile if asked), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** The Deno binary of the `deno` dev dependency (spawned itself, so its pid is the server's). */
export const DENO: string = fileURLToPath(new URL("../node_modules/deno/deno", import.meta.url));

/** Whether the `deno` dev dependency is installed. */
export function hasDeno(): boolean {
  return existsSync(DENO);
}

/**
 * The Bun binary of the `bun` dev dependency (its postinstall puts it there;
 * spawned itself, so its pid is the server's).
 */
export const BUN: string = fileURLToPath(
  new URL("../node_modules/bun/bin/bun.exe", import.meta.url),
);

/** The version of the `bun` dev dependency (`1.3.0`), or undefined when it is not installed. */
export function bunVersion(): string | undefined {
  if (!existsSync(BUN)) return undefined;
  const out = spawnSync(BUN, ["--version"], { encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/**
 * Start `bench/servers/<file>` in its own process, on Node (through tsx),
 * on Deno (`deno run -A`, the project's deno.json) or on Bun (`bun <file>`,
 * which runs TypeScript itself), with `env` added, and wait for it to print
 * its port.
 */
export function startServer(
  id: string,
  file: string,
  env: Record<string, string>,
  options: { runtime?: "node" | "deno" | "bun"; nodeArgs?: string[] } = {},
): Promise<ServerProcess> {
  const path = fileURLToPath(new URL(`./servers/${file}`, import.meta.url));
  const [command, args] = options.runtime === "deno"
    ? [DENO, ["run", "-A", "--quiet", path]]
    : options.runtime === "bun"
    ? [BUN, [path]]
    : [process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", path]];
  const child = spawn(command, args, {
    stdio: ["pipe", "pipe", "pipe"],
    // `--import tsx` resolves from the working directory, and Deno finds deno.json there.
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, NODE_ENV: "production", ...env },
  });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    err = (err + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${id}: no port after 60 s\n${err}`));
    }, 60_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${id}: exited (${code ?? signal}) before listening\n${err}`));
    });
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const m = /^PORT (\d+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        id,
        url: `http://127.0.0.1:${m[1]}`,
        pid: child.pid!,
        stderr: () => err,
        stop: () => stopChild(child, "SIGTERM", 10_000),
      });
    });
  });
}

/** A reading of a process's CPU time; see `cpuBetween`. */
export interface CpuReading {
  /** Nanoseconds on CPU of its live threads (/proc/<pid>/task/<tid>/schedstat). */
  threadsNs?: number;
  /** User + system seconds of the whole process, dead threads included, in clock ticks. */
  ticksSeconds?: number;
}

/** Read process `pid`'s CPU time so far (Linux /proc; empty elsewhere). */
export function cpuReading(pid: number): CpuReading {
  const reading: CpuReading = {};
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    if (ns > 0) reading.threadsNs = ns;
  } catch {
    // no schedstat
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    reading.ticksSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    // not Linux
  }
  return reading;
}

/**
 * CPU seconds a process used between two readings, or NaN. The per-thread
 * nanoseconds are exact but miss a thread that ended in between; the
 * process's ticks keep those but come in steps of 10 ms (a few µs per
 * response over a one-second run). So: the nanoseconds, unless the ticks
 * show more than their own rounding can explain.
 */
export function cpuBetween(before: CpuReading, after: CpuReading): number {
  const ticks = after.ticksSeconds !== undefined && before.ticksSeconds !== undefined
    ? after.ticksSeconds - before.ticksSeconds
    : NaN;
  if (after.threadsNs === undefined || before.threadsNs === undefined) return ticks;
  const exact = (after.threadsNs - before.threadsNs) / 1e9;
  return ticks - exact > 2 / clockTicks() ? ticks : exact;
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout;
    ticks = Number(out.trim()) || 100;
  }
  return ticks;
}

/** Whether `webdis` is on the PATH. */
export function hasWebdis(): boolean {
  return hasBinary("webdis");
}

/** Start Webdis on a free port in front of Redis at `host:port`, database `db`. */
export function startBenchWebdis(host: string, port: number, db: number): Promise<OwnWebdis> {
  return startWebdis({
    redisHost: host,
    redisPort: port,
    database: db,
    poolSize: 20,
    verbosity: 1,
  });
}
