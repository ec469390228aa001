/**
 * Store round trips per request, counted outside the load: a few sequential
 * requests per subject and scenario, with
 *
 * - the server's own counters (store calls; SQL statements run), read at
 *   its stats path before and after;
 * - Redis `MONITOR`, which names each command's database and marks the
 *   commands a Lua script runs (`lua`) apart from the ones a client sent:
 *   the client's are the round trips. (`INFO commandstats` counts the whole
 *   server, other users' traffic and script-internal calls alike.)
 * - the responses' `Set-Cookie` headers.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { PATHS, type ServerStats } from "./servers/common.ts";

/** Commands that are no store operation (connection setup, probes). */
const META = new Set(["PING", "SELECT", "HELLO", "CLIENT", "INFO", "AUTH", "QUIT", "COMMAND"]);
/** Commands that only read. */
const READS = new Set([
  "GET",
  "MGET",
  "HGET",
  "HMGET",
  "HGETALL",
  "HKEYS",
  "HVALS",
  "HLEN",
  "HEXISTS",
  "EXISTS",
  "TTL",
  "PTTL",
  "TYPE",
  "STRLEN",
  "SCAN",
]);

/** One command Redis ran. */
export interface RedisCommand {
  /** The command, in upper case (`HGETALL`). */
  name: string;
  /** Sent by a client (a round trip), or run by a Lua script. */
  fromScript: boolean;
}

/** Redis MONITOR on its own connection, keeping the commands of one database. */
export class RedisMonitor {
  #socket: Socket;
  #buffer = "";
  #commands: RedisCommand[] = [];

  readonly #host: string;
  readonly #port: number;
  #markers = 0;
  /** The marker `take` waits for, and what to call when MONITOR shows it. */
  #awaited: { line: string; seen: () => void } | undefined;

  private constructor(socket: Socket, host: string, port: number, db: number) {
    this.#socket = socket;
    this.#host = host;
    this.#port = port;
    const line = new RegExp(`^\\+[\\d.]+ \\[${db} ([^\\]]+)\\] "([^"]+)"`);
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      this.#buffer += chunk;
      let end;
      while ((end = this.#buffer.indexOf("\r\n")) >= 0) {
        const text = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (this.#awaited && text.endsWith(this.#awaited.line)) {
          this.#awaited.seen();
          continue;
        }
        const m = line.exec(text);
        if (m) this.#commands.push({ name: m[2].toUpperCase(), fromScript: m[1] === "lua" });
      }
    });
  }

  /** Connect and start monitoring database `db`. */
  static open(host: string, port: number, db: number): Promise<RedisMonitor> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.write("MONITOR\r\n");
        socket.once("data", () => {
          socket.off("error", reject);
          socket.on("error", () => {});
          resolve(new RedisMonitor(socket, host, port, db));
        });
      });
    });
  }

  /**
   * The commands seen since the last call. MONITOR shows commands in the order
   * Redis ran them, so once a marker sent now shows, every earlier one has.
   */
  async take(): Promise<RedisCommand[]> {
    const token = `bench_monitor_marker_${++this.#markers}_${Date.now()}`;
    const seen = new Promise<void>((resolve) => {
      this.#awaited = { line: `"ECHO" "${token}"`, seen: resolve };
    });
    const marker = connect(this.#port, this.#host);
    marker.on("error", () => {});
    marker.once("connect", () => marker.write(`ECHO ${token}\r\n`));
    marker.once("data", () => marker.destroy());
    await seen;
    this.#awaited = undefined;
    const taken = this.#commands;
    this.#commands = [];
    return taken;
  }

  /** End the monitoring connection. */
  close(): void {
    this.#socket.destroy();
  }
}

/** What one subject did per request in one scenario. */
export interface Counts {
  /** How many requests were counted. */
  requests: number;
  /** Store calls per request, by method (`get`, `update`, ...); absent (or empty) when no store is counted. */
  ops?: Record<string, number>;
  /** Store calls that write, per request. */
  writeOps?: number;
  /** Backend round trips per request, by command or statement kind (`HGETALL`, `SELECT`). */
  backend?: Record<string, number>;
  /** Backend round trips that write, per request. */
  backendWrites?: number;
  /** Commands Lua scripts ran inside those round trips, per request. */
  scriptCommands?: Record<string, number>;
  /** Share of responses with a `Set-Cookie`. */
  setCookie: number;
  /** Responses other than 200, or with an unexpected body. */
  failures: number;
}

async function stats(url: string): Promise<ServerStats | undefined> {
  const res = await fetch(url + PATHS.stats);
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  const body = await res.text();
  try {
    return JSON.parse(body) as ServerStats;
  } catch {
    return undefined;
  }
}

function perRequest(
  before: Record<string, number>,
  after: Record<string, number>,
  n: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(after)) out[key] = ((after[key] ?? 0) - (before[key] ?? 0)) / n;
  return out;
}

const sum = (values: Record<string, number>, keys?: string[]) =>
  (keys ?? Object.keys(values)).reduce((a, k) => a + (values[k] ?? 0), 0);

/**
 * Send `n` sequential requests to `url + path` (with `cookie`) and count
 * what they cost. `expect` is the body every answer must have.
 */
export async function countRequests(options: {
  url: string;
  path: string;
  cookie?: string;
  n: number;
  expect: string;
  monitor?: RedisMonitor;
}): Promise<Counts> {
  const { url, path, cookie, n, expect, monitor } = options;
  const before = await stats(url);
  await monitor?.take();
  let setCookie = 0;
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(url + path, { headers: cookie ? { cookie } : {} });
    const body = await res.text();
    if (res.status !== 200 || body !== expect) failures++;
    if (res.headers.getSetCookie().length > 0) setCookie++;
  }
  const after = await stats(url);
  const counts: Counts = { requests: n, setCookie: setCookie / n, failures };
  if (before && after) {
    counts.ops = perRequest(before.ops, after.ops, n);
    counts.writeOps = sum(counts.ops, after.writeOps);
    if (before.sql && after.sql) {
      counts.backend = perRequest(before.sql, after.sql, n);
      counts.backendWrites = counts.backend["INSERT/UPDATE/DELETE"] ?? 0;
    }
  }
  if (monitor) {
    const commands = await monitor.take();
    const backend: Record<string, number> = {};
    const script: Record<string, number> = {};
    let writes = 0;
    for (const c of commands) {
      if (META.has(c.name)) continue;
      const into = c.fromScript ? script : backend;
      into[c.name] = (into[c.name] ?? 0) + 1 / n;
      if (!c.fromScript && !READS.has(c.name)) writes += 1 / n;
    }
    counts.backend = backend;
    counts.backendWrites = writes;
    counts.scriptCommands = script;
  }
  return counts;
}

/** The total of a per-request tally. */
export function total(values: Record<string, number> | undefined): number {
  return values ? sum(values) : 0;
}
