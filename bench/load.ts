/**
 * The load generator, always in a process of its own: `wrk` when it is
 * installed (C, light on a shared CPU), or autocannon (a dev dependency)
 * in a child Node process (bench/autocannon_child.ts).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

/** Which load generator. */
export type LoadTool = "wrk" | "autocannon";

/** One load run against one URL. */
export interface LoadOptions {
  tool: LoadTool;
  url: string;
  /** The `Cookie` header every request carries, if any. */
  cookie?: string;
  connections: number;
  /** wrk's threads (autocannon runs one event loop). */
  threads: number;
  /** Whole seconds for wrk; autocannon takes fractions too. */
  seconds: number;
}

/** What a load run measured. */
export interface LoadResult {
  /** Successful (2xx) responses per second. */
  rps: number;
  /** Responses, successful or not. */
  requests: number;
  /** Responses other than 2xx, and socket errors or timeouts. */
  bad: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  p99Ms: number;
}

/**
 * A short burst of `requests` requests over `connections` keep-alive
 * connections, sent from this process and not measured, so that a server
 * idle since its last run is warm again when measured. (wrk cannot stop
 * before its duration, and a child process would cost more than the burst.)
 */
export async function prime(
  options: Pick<LoadOptions, "url" | "cookie" | "connections">,
  requests: number,
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const headers = options.cookie ? { cookie: options.cookie } : {};
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(options.url, { agent, headers }, (res) => {
        res.on("error", reject).on("end", resolve).resume();
      });
      req.on("error", reject).end();
    });
  let left = requests;
  try {
    await Promise.all(
      Array.from({ length: Math.min(options.connections, requests) }, async () => {
        while (left-- > 0) await one();
      }),
    );
  } finally {
    agent.destroy();
  }
}

/** Whether `wrk` is on the PATH. */
export function hasWrk(): boolean {
  return spawnSync("sh", ["-c", "command -v wrk"]).status === 0;
}

/** Run one load and report it. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return options.tool === "wrk" ? runWrk(options) : runAutocannon(options);
}

function collect(
  command: string,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const seconds = Math.max(1, Math.round(options.seconds));
  const args = [
    `-t${Math.min(options.threads, options.connections)}`,
    `-c${options.connections}`,
    `-d${seconds}s`,
    "--latency",
  ];
  if (options.cookie) args.push("-H", `Cookie: ${options.cookie}`);
  args.push(options.url);
  const { code, out, err } = await collect("wrk", args);
  if (code !== 0) throw new Error(`wrk failed (${code}): ${err || out}`);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`cannot read wrk's output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const elapsed = Number(total[2]) * { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[total[3]]!;
  return {
    rps: (Number(total[1]) - non2xx) / elapsed,
    requests: Number(total[1]),
    bad: non2xx + socketErrors,
    p50Ms: wrkLatency(out, "50%"),
    p99Ms: wrkLatency(out, "99%"),
  };
}

function wrkLatency(out: string, percentile: string): number {
  const m = new RegExp(`^\\s*${percentile}\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
  if (!m) return NaN;
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1000 }[m[2]]!;
}

async function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  const child = fileURLToPath(new URL("./autocannon_child.ts", import.meta.url));
  const { code, out, err } = await collect(process.execPath, [
    "--import",
    "tsx",
    child,
    JSON.stringify(options),
  ]);
  if (code !== 0) throw new Error(`autocannon failed (${code}): ${err || out}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as LoadResult;
}
