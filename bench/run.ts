/**
 * `npm run bench`: what a session costs per request, for oak-sessions on
 * every store on Node.js, on Deno and on Bun, and for its peers, each against its
 * own bare framework on the same runtime in the same run. It starts with the
 * in-process benchmark (`bench/in_process.ts`, on Node.js and Deno: Oak's
 * `app.handle` in one process, bare and with sessions, with oak-sessions'
 * targets met or missed), then measures over HTTP. Writes
 * bench/RESULTS.md, bench/results.svg and the results sections of
 * docs/benchmarks.md and the README, and prints the tables. `--help` for
 * flags; `--quick` (or BENCH_QUICK=1) for a short check of the whole path.
 *
 * The headline figure is the server process's CPU time per response. Each
 * server runs in its own process and the load generator in another; rounds
 * are interleaved (round 1 of every measurement, then round 2, ...) so that
 * drift on a shared machine hits every subject alike, and the median round
 * is reported with the spread over rounds.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem, type } from "node:os";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "redis";
import postgres from "postgres";
import mysql from "mysql2/promise";
import { countRequests, type Counts, RedisMonitor, total } from "./counts.ts";
import { hasWrk, type LoadResult, type LoadTool, prime, runLoad } from "./load.ts";
import {
  bunVersion,
  cpuBetween,
  cpuReading,
  DENO,
  hasDeno,
  hasWebdis,
  type ServerProcess,
  startBenchWebdis,
  startServer,
} from "./processes.ts";
import type { OwnWebdis } from "../test/kit/webdis.ts";
import {
  consoleTable,
  type CountRow,
  docsSection,
  makeRow,
  meetsTarget,
  perRequest,
  readmeSection,
  resultsMarkdown,
  resultsSvg,
  type Row,
  type RunInfo,
  type TargetCheck,
  targetSummary,
  wrap,
} from "./report.ts";
import { BARE_BODIES, PATHS, SECRET, USER } from "./servers/common.ts";
import { type InProcessRow, inProcessTable, inProcessTargets } from "./in_process_targets.ts";
import { runInProcess } from "./in_process_run.ts";
import {
  FRAMEWORKS,
  matches,
  RUNTIME_LABEL,
  type Scenario,
  SCENARIO_PATH,
  SCENARIOS,
  subjectLabel,
  SUBJECTS,
  targetOf,
  WITH_COOKIE,
} from "./subjects.ts";

/** The defaults, and the short run of `--quick` (or BENCH_QUICK=1). */
const DEFAULTS = { rounds: "3", warmup: "1", prime: "500", "count-requests": "20" };
const QUICK = { rounds: "2", warmup: "0", prime: "1000", "count-requests": "10" };
/** The in-process part's size, in a full run and with `--quick`. */
const IN_PROCESS = { rounds: 9, requests: 4000 };
const QUICK_IN_PROCESS = { rounds: 2, requests: 1000 };

const HELP = `npm run bench -- [flags]

  --quick            a short run of the whole path, for a check (also BENCH_QUICK=1):
                     ${QUICK.rounds} rounds, no warm-up beyond ${QUICK.prime} primed requests, ${
  QUICK["count-requests"]
} counted requests;
                     flags given beside it win
  --connections N    concurrent connections (default 32)
  --threads N        wrk threads (default 1)
  --duration S       seconds per measured run (default 1; whole seconds with wrk)
  --warmup S         seconds of load before the first measured run of each server;
                     later runs find it warm (default ${DEFAULTS.warmup}; 0: none)
  --prime N          requests sent (by this process, unmeasured) right before every
                     measured run: a server idle since its last run is slow for its first
                     moments (default ${DEFAULTS.prime})
  --rounds N         interleaved rounds; the median and the min-max are reported (default ${DEFAULTS.rounds})
  --subjects LIST    comma list of subject names (oak-memory, oak-deno-memory), frameworks
                     (oak, oak-deno), libraries (oak-sessions, express-session), stores
                     (redis) or runtimes (node, deno); default: all
  --scenarios LIST   comma list of ${SCENARIOS.join(", ")}; default: all
  --tool wrk|autocannon  load generator (default: wrk when installed, else autocannon)
  --redis-url URL    Redis for the redis and webdis subjects (default REDIS_URL or
                     redis://127.0.0.1:6379)
  --redis-db N       the Redis database the benchmark uses and cleans (default 12)
  --count-requests N sequential requests per round-trip count (default ${
  DEFAULTS["count-requests"]
})
  --no-in-process    leave out the in-process part (bench/in_process.ts on Node.js and Deno,
                     run first: ${IN_PROCESS.rounds} rounds of ${IN_PROCESS.requests} requests, --quick: ${QUICK_IN_PROCESS.rounds} of ${QUICK_IN_PROCESS.requests})
  --profile          run the Oak servers on Node.js under node --cpu-prof (bench/profiles/)
  --write / --no-write  write RESULTS.md, results.svg and the results sections of
                     docs/benchmarks.md and README.md (default: only for a full run, no
                     --subjects, --scenarios or --quick)
  --out-dir DIR      write those four files into DIR instead (the two pages copied there
                     with their sections replaced), leaving the project's own untouched
`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const started = performance.now();

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    duration: { type: "string", default: "1" },
    warmup: { type: "string" },
    prime: { type: "string" },
    rounds: { type: "string" },
    subjects: { type: "string" },
    scenarios: { type: "string" },
    tool: { type: "string" },
    "redis-url": { type: "string" },
    "redis-db": { type: "string", default: "12" },
    "count-requests": { type: "string" },
    profile: { type: "boolean", default: false },
    "no-in-process": { type: "boolean", default: false },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    "out-dir": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const quick = flags.quick || process.env.BENCH_QUICK === "1";
for (const [name, value] of Object.entries(quick ? QUICK : DEFAULTS)) {
  const key = name as keyof typeof DEFAULTS;
  flags[key] ??= value;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function numberFlag(name: keyof typeof flags, min: number): number {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}`);
  return n;
}

const connections = numberFlag("connections", 1);
const threads = numberFlag("threads", 1);
const duration = numberFlag("duration", 0.1);
const warmup = numberFlag("warmup", 0);
const primeRequests = numberFlag("prime", 0);
const rounds = numberFlag("rounds", 1);
const redisDb = numberFlag("redis-db", 0);
const countN = numberFlag("count-requests", 1);
const tool: LoadTool = flags.tool === undefined
  ? (hasWrk() ? "wrk" : "autocannon")
  : flags.tool === "wrk" || flags.tool === "autocannon"
  ? flags.tool
  : fail("--tool must be wrk or autocannon");
if (tool === "wrk" && !hasWrk()) fail("--tool wrk: wrk is not installed (apt-get install wrk)");
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const mysqlUrl = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
const redisUrl = new URL(flags["redis-url"] ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
redisUrl.pathname = `/${redisDb}`;
const outDir = flags["out-dir"];
const write = flags["no-write"]
  ? false
  : flags.write ?? (outDir !== undefined || (!flags.subjects && !flags.scenarios && !quick));

const list = (text: string | undefined) =>
  text === undefined ? undefined : text.split(",").map((t) => t.trim()).filter(Boolean);
const subjectTokens = list(flags.subjects);
for (const t of subjectTokens ?? []) {
  if (!SUBJECTS.some((s) => matches(s, t))) {
    fail(`--subjects: nothing is called ${t}; subjects: ${SUBJECTS.map((s) => s.name).join(", ")}`);
  }
}
let subjects = SUBJECTS.filter((s) => !subjectTokens || subjectTokens.some((t) => matches(s, t)));
const scenarioTokens = list(flags.scenarios);
for (const t of scenarioTokens ?? []) {
  if (!(SCENARIOS as readonly string[]).includes(t)) {
    fail(`--scenarios: no scenario ${t}; scenarios: ${SCENARIOS.join(", ")}`);
  }
}
const scenarios = SCENARIOS.filter((s) => !scenarioTokens || scenarioTokens.includes(s));

const notes: string[] = [];
const log = (line: string) => process.stdout.write(line + "\n");

// Everything started is stopped in `cleanup`, also on Ctrl-C.
const servers: ServerProcess[] = [];
let webdis: OwnWebdis | undefined;
let monitor: RedisMonitor | undefined;
let tempDir: string | undefined;
let cleaned: Promise<void> | undefined;
const cleanup = () =>
  cleaned ??= (async () => {
    monitor?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await webdis?.dispose();
    if (subjects.some((s) => s.needs)) await clearRedis().catch(() => {});
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  })();
process.on("SIGINT", () => {
  log("\ninterrupted; stopping the servers");
  void cleanup().finally(() => process.exit(130));
});

/** Remove what the subjects stored in the benchmark's Redis database. */
async function clearRedis(): Promise<void> {
  const client = createClient({ url: redisUrl.href });
  client.on("error", () => {});
  await client.connect();
  try {
    // oak-sessions' default prefix, and connect-redis's.
    for (const match of ["session_*", "sess:*"]) {
      for await (const batch of client.scanIterator({ MATCH: match, COUNT: 1000 })) {
        const keys = (Array.isArray(batch) ? batch : [batch]) as string[];
        if (keys.length > 0) await client.unlink(keys);
      }
    }
  } finally {
    client.destroy();
  }
}

/** Whether the PostgreSQL of the postgres subjects answers (DATABASE_URL, as they use it). */
async function postgresReachable(): Promise<boolean> {
  const sql = postgres(postgresUrl, { connect_timeout: 2, max: 1, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 0 });
  }
}

/** Whether the MariaDB/MySQL of the mysql subjects answers (MYSQL_URL, as they use it). */
async function mysqlReachable(): Promise<boolean> {
  try {
    const pool = mysql.createPool({ uri: mysqlUrl, connectTimeout: 2000, connectionLimit: 1 });
    const ok = await pool.query("SELECT 1").then(() => true, () => false);
    await pool.end().catch(() => {});
    return ok;
  } catch {
    return false;
  }
}

async function redisReachable(): Promise<boolean> {
  const client = createClient({
    url: redisUrl.href,
    socket: { connectTimeout: 2000, reconnectStrategy: false },
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** The cookies a fresh login sets, as a `Cookie` header. */
async function login(url: string): Promise<string> {
  const res = await fetch(url + PATHS.login);
  await res.text();
  // As a browser keeps them: a later Set-Cookie of the same name replaces an earlier one.
  const jar = new Map<string, string>();
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(";")[0];
    jar.set(pair.slice(0, pair.indexOf("=")), pair);
  }
  if (res.status !== 200 || jar.size === 0) {
    throw new Error(`GET ${PATHS.login} gave ${res.status} and ${jar.size} cookies`);
  }
  return [...jar.values()].join("; ");
}

/** `2.1.4`, the version of the `deno` dev dependency, or undefined. */
function denoVersion(): string | undefined {
  const out = spawnSync(DENO, ["--version"], { encoding: "utf8" }).stdout ?? "";
  return /deno (\S+)/.exec(out)?.[1];
}

function machine(deno: string | undefined, bun: string | undefined): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const gb = Math.round(totalmem() / 2 ** 30);
  return `${availableParallelism()} cores (nproc) of ${cpu}, ${gb} GB RAM, ${type()} ${release()}, ` +
    `Node.js ${process.version}` + (deno ? `, Deno ${deno}` : "") + (bun ? `, Bun ${bun}` : "");
}

/** How the Deno servers serve, for the report. */
const DENO_SERVER = "On Deno, npm Oak 14 picks its Node.js server (Deno's node:http " +
  "compatibility layer: its runtime check sees `process` and `global`), and its exported " +
  "HttpServerNative cannot find Deno.serve through its bundled Deno shim. So the Deno servers, " +
  "bare and with sessions alike, pass Oak's `serverConstructor` option a small server on " +
  "Deno.serve (bench/servers/deno_serve.ts), as Oak from JSR does by itself: Deno's native HTTP " +
  "server. It turns npm Oak's undici Response into Deno's, a cost the bare figure carries too.";

/** Rough seconds a run takes: measured runs, warm-ups, server starts and counts. */
function estimateSeconds(subjectCount: number, serverCount: number, scenarioCount: number) {
  const runs = rounds * subjectCount * (1 + scenarioCount);
  // Per run, measured on this 2-core machine: wrk's duration, then about 0.5 s for its start, the
  // priming burst and the readings; per server, a start three at a time and its warm-up.
  return runs * (Math.max(1, Math.round(duration)) + 0.5) + serverCount * (warmup + 1.5) +
    subjectCount * scenarioCount * (countN * 0.01 + 0.2) + 15;
}

async function main(): Promise<void> {
  if (subjects.some((s) => s.runtime === "deno") && !hasDeno()) {
    subjects = subjects.filter((s) => s.runtime !== "deno");
    notes.push("Deno is not installed (node_modules/deno), so the Deno rows are left out.");
    log("deno: not installed; its rows are left out");
  }
  // Deno runs the in-process part too, unless that is left out.
  const denoRuns = subjects.some((s) => s.runtime === "deno") ||
    (!flags["no-in-process"] && hasDeno());
  const deno = denoRuns ? denoVersion() : undefined;
  const bun = subjects.some((s) => s.runtime === "bun") ? bunVersion() : undefined;
  if (subjects.some((s) => s.runtime === "bun") && bun === undefined) {
    subjects = subjects.filter((s) => s.runtime !== "bun");
    notes.push("Bun is not installed (node_modules/bun), so the Bun rows are left out.");
    log("bun: not installed; its rows are left out");
  }
  const frameworkCount = FRAMEWORKS.filter((f) => subjects.some((s) => s.framework === f.id))
    .length;
  log(
    `oak-sessions benchmark${quick ? " (quick)" : ""}: ${subjects.length} subjects x ` +
      `${scenarios.length} scenarios, ${rounds} rounds of ${duration} s (${warmup} s warm-up), ` +
      `${connections} connections, ${tool}; about ${
        Math.ceil(
          estimateSeconds(subjects.length, subjects.length + frameworkCount, scenarios.length) / 60,
        )
      } min`,
  );
  log(
    `machine: ${machine(deno, bun)}; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`,
  );

  // In process first, while none of the servers below is running.
  const inProcessRows: InProcessRow[] = [];
  const inProcessSize = quick ? QUICK_IN_PROCESS : IN_PROCESS;
  if (!flags["no-in-process"] && subjects.some((s) => s.ours)) {
    const size = inProcessSize;
    for (const runtime of hasDeno() ? ["node", "deno"] as const : ["node"] as const) {
      log(
        `in process on ${RUNTIME_LABEL[runtime]} (bench/in_process.ts, ${size.rounds} rounds ` +
          `of ${size.requests} requests)`,
      );
      const rows = runInProcess(runtime, size);
      if (rows) inProcessRows.push(...rows);
      else notes.push(`The in-process benchmark failed on ${RUNTIME_LABEL[runtime]}.`);
    }
  }

  // Services.
  if (subjects.some((s) => s.needs) && !(await redisReachable())) {
    fail(
      `cannot reach Redis at ${redisUrl.host}: start it (redis-server), point --redis-url at ` +
        "one, or leave the redis and webdis subjects out (--subjects oak-memory,express-memory,...)",
    );
  }
  if (subjects.some((s) => s.needs === "webdis")) {
    if (hasWebdis()) {
      webdis = await startBenchWebdis(redisUrl.hostname, Number(redisUrl.port || 6379), redisDb);
      log(`webdis: started on ${webdis.url} (Redis database ${redisDb})`);
    } else {
      subjects = subjects.filter((s) => s.needs !== "webdis");
      notes.push("Webdis is not installed (/usr/bin/webdis), so the webdis rows are left out.");
      log("webdis: not installed; its rows are left out");
    }
  }
  if (subjects.some((s) => s.store === "postgres") && !(await postgresReachable())) {
    subjects = subjects.filter((s) => s.store !== "postgres");
    notes.push("PostgreSQL is not reachable (DATABASE_URL), so the postgres rows are left out.");
    log("postgres: not reachable; its rows are left out");
  }
  if (subjects.some((s) => s.store === "mysql") && !(await mysqlReachable())) {
    subjects = subjects.filter((s) => s.store !== "mysql");
    notes.push("MariaDB/MySQL is not reachable (MYSQL_URL), so the mysql rows are left out.");
    log("mysql: not reachable; its rows are left out");
  }
  if (subjects.some((s) => s.needs)) await clearRedis();
  tempDir = mkdtempSync(join(tmpdir(), "oak-sessions-bench-"));
  const env: Record<string, string> = {
    COOKIE_SECRET: SECRET,
    SQLITE_FILE: join(tempDir, "sessions.db"),
    REDIS_URL: redisUrl.href,
    ...(webdis ? { WEBDIS_URL: webdis.url } : {}),
  };

  // Servers: every bare framework in use, and every subject.
  const profileArgs = flags.profile
    ? ["--cpu-prof", "--cpu-prof-dir", join(ROOT, "bench", "profiles")]
    : [];
  const frameworks = FRAMEWORKS.filter((f) => subjects.some((s) => s.framework === f.id));
  log(`starting ${frameworks.length + subjects.length} servers`);
  const bare = new Map<string, ServerProcess>();
  const withSessions = new Map<string, ServerProcess>();
  // A few at a time: twenty processes loading at once on two cores take minutes.
  const jobs: (() => Promise<void>)[] = [
    ...frameworks.map((f) => async () => {
      const server = await startServer(`${f.id}-bare`, f.bareServer, env, {
        runtime: f.runtime,
        nodeArgs: f.id === "oak" ? profileArgs : [],
      });
      servers.push(server);
      bare.set(f.id, server);
    }),
    ...subjects.map((s) => async () => {
      const server = await startServer(s.name, s.server, { ...env, STORE: s.storeEnv }, {
        runtime: s.runtime,
        nodeArgs: s.framework === "oak" ? profileArgs : [],
      });
      servers.push(server);
      withSessions.set(s.name, server);
    }),
  ];
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job();
    }),
  );

  // Does every server answer as it should?
  const cookies = new Map<string, string>();
  for (const s of subjects) {
    const url = withSessions.get(s.name)!.url;
    const cookie = await login(url);
    const res = await fetch(url + PATHS.read, { headers: { cookie } });
    const body = await res.text();
    if (body !== USER) {
      throw new Error(`${s.name}: after a login, ${PATHS.read} said ${JSON.stringify(body)}`);
    }
    cookies.set(s.name, cookie);
  }
  for (const [id, server] of bare) {
    const res = await fetch(server.url + PATHS.read);
    if ((await res.text()) !== BARE_BODIES[PATHS.read]) {
      throw new Error(`${id}-bare answers wrongly`);
    }
  }

  // Round trips, counted outside the load.
  log(`counting store round trips (${countN} sequential requests each)`);
  if (subjects.some((s) => s.needs)) {
    monitor = await RedisMonitor.open(redisUrl.hostname, Number(redisUrl.port || 6379), redisDb);
  }
  const countRows: CountRow[] = [];
  const expected: Record<Scenario, string> = {
    read: USER,
    write: "ok",
    new: "ok",
    anonymous: "hello",
  };
  for (const scenario of scenarios) {
    for (const s of subjects) {
      const url = withSessions.get(s.name)!.url;
      const counts: Counts = await countRequests({
        url,
        path: SCENARIO_PATH[scenario],
        cookie: WITH_COOKIE[scenario] ? await login(url) : undefined,
        n: countN,
        expect: expected[scenario],
        monitor: s.needs ? monitor : undefined,
      });
      countRows.push({ scenario, subject: s, counts });
    }
  }
  monitor?.close();
  monitor = undefined;

  // Throughput, in interleaved rounds.
  /** A load run, and the server's CPU time (all its threads) per response during it. */
  type Measured = LoadResult & { cpuMicros: number };
  const results = new Map<string, Measured[]>();
  const warmed = new Set<string>();
  const measure = async (server: string, key: string, url: string, cookie: string | undefined) => {
    const options = { tool, url, cookie, connections, threads };
    // Once per server: later rounds (and its other scenarios) find its JIT warm.
    if (warmup > 0 && !warmed.has(server)) {
      await runLoad({ ...options, seconds: warmup });
      warmed.add(server);
    }
    const pid = servers.find((x) => x.id === server)!.pid;
    await prime(options, primeRequests);
    const cpuBefore = cpuReading(pid);
    const load = await runLoad({ ...options, seconds: duration });
    const cpuAfter = cpuReading(pid);
    const result: Measured = {
      ...load,
      cpuMicros: load.requests === 0
        ? NaN
        : (cpuBetween(cpuBefore, cpuAfter) * 1e6) / load.requests,
    };
    results.set(key, [...(results.get(key) ?? []), result]);
    return result;
  };
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const µs = (n: number) => `${n.toFixed(1)} µs`;
  const added = (n: number) => `${n >= 0 ? "+" : ""}${µs(n)}`;
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round} of ${rounds}`);
    for (const f of frameworks) {
      for (const s of subjects.filter((x) => x.framework === f.id)) {
        // Each subject's scenarios right after its own bare run: the pair sees the same machine.
        const b = await measure(
          `${f.id}-bare`,
          `${s.name}/bare`,
          bare.get(f.id)!.url + PATHS.anonymous,
          undefined,
        );
        const line: string[] = [`bare ${µs(b.cpuMicros)} ${fmt(b.rps)}/s`];
        for (const scenario of scenarios) {
          const r = await measure(
            s.name,
            `${s.name}/${scenario}`,
            withSessions.get(s.name)!.url + SCENARIO_PATH[scenario],
            WITH_COOKIE[scenario] ? cookies.get(s.name) : undefined,
          );
          line.push(
            `${scenario} ${added(r.cpuMicros - b.cpuMicros)} ${fmt(r.rps)}/s` +
              (r.bad ? ` (${r.bad} errors)` : ""),
          );
        }
        log(`  ${subjectLabel(s)}: ${line.join(", ")}`);
      }
    }
  }

  // The figures.
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    for (const s of subjects) {
      rows.push(makeRow(
        scenario,
        s,
        results.get(`${s.name}/bare`)!,
        results.get(`${s.name}/${scenario}`)!,
        targetOf(s, scenario),
      ));
    }
  }
  const targets = [...inProcessTargets(inProcessRows), ...checkTargets(rows, countRows)];
  for (const r of rows) {
    if (r.bad > 0) {
      notes.push(
        `${subjectLabel(r.subject)}, ${r.scenario}: ${r.bad} failed responses under load.`,
      );
    }
  }
  for (const c of countRows) {
    if (c.counts.failures > 0) {
      notes.push(
        `${subjectLabel(c.subject)}, ${c.scenario}: ${c.counts.failures} of ${c.counts.requests} ` +
          "counted requests answered wrongly.",
      );
    }
  }
  const avg = loadavg();
  notes.push(
    `Load average when the run ended: ${avg.map((n) => n.toFixed(2)).join(" ")} ` +
      `(on ${availableParallelism()} cores; other work on the machine lowers req/s far more than ` +
      "it raises CPU time per response).",
  );
  const info: RunInfo = {
    date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
    machine: machine(deno, bun),
    load: `${tool}${tool === "wrk" ? ` -t${threads}` : ""}, ${connections} connections, ` +
      `${rounds} interleaved rounds of ${duration} s (median and min–max), ` +
      `${warmup} s warm-up per server` + (quick ? " (--quick)" : ""),
    denoServer: deno ? DENO_SERVER : undefined,
    elapsedSeconds: (performance.now() - started) / 1000,
    notes,
    inProcess: inProcessRows.length === 0 ? [] : [
      wrap(
        "In one process (`bench/in_process.ts`): Oak's `app.handle(request)`, bare and with " +
          `oak-sessions taking turns in ${inProcessSize.rounds} rounds of ` +
          `${inProcessSize.requests} requests each; CPU µs per request that the library adds ` +
          "over bare Oak, as the median (min to max) over the rounds, and its target. read: the cookie of a prior login, one key read; write: that cookie, " +
          "one key changed; new: no cookie, one key stored (a first write and its " +
          "Set-Cookie); anonymous: the session untouched. SQLite keeps the synchronous " +
          "setting its driver gives the connection (SqliteStore sets WAL and leaves that " +
          `alone): ${sqliteSetups(inProcessRows)}.`,
      ),
      "",
      inProcessTable(inProcessRows),
    ],
  };

  log("");
  if (inProcessRows.length > 0) log(`In process\n${inProcessTable(inProcessRows)}\n`);
  log(consoleTable(rows));
  log("");
  for (const t of targets) log(`${t.met ? "✓" : "✗"} ${t.text}`);
  log(targetSummary(targets));
  for (const n of notes) log(`note: ${n}`);
  if (write) {
    const into = outDir ?? join(ROOT, "bench");
    mkdirSync(into, { recursive: true });
    writeFileSync(
      join(into, "RESULTS.md"),
      resultsMarkdown(info, rows, countRows, targets, subjects),
    );
    const svg = join(into, "results.svg");
    writeFileSync(svg, resultsSvg(info, rows));
    // The project's `deno fmt --check` covers SVG too: leave the chart as it would.
    spawnSync(DENO, ["fmt", "--quiet", svg], { cwd: ROOT, stdio: "ignore" });
    const pages = [
      { file: join("docs", "benchmarks.md"), section: docsSection(info, rows, countRows, targets) },
      { file: "README.md", section: readmeSection(info, targets) },
    ];
    const written = [join(into, "RESULTS.md"), svg];
    for (const page of pages) {
      const target = outDir ? join(outDir, page.file.split("/").at(-1)!) : join(ROOT, page.file);
      if (replaceSection(join(ROOT, page.file), target, page.section)) written.push(target);
      else log(`${page.file} has no results markers; left alone`);
    }
    log(`\nwrote ${written.join(", ")} (${Math.round(info.elapsedSeconds)} s)`);
  } else {
    log(
      `\n(filtered or quick run: nothing written; --write or --out-dir to write; ${
        Math.round(info.elapsedSeconds)
      } s)`,
    );
  }
}

/** How SQLite was set up on each runtime in the in-process rows, in words. */
function sqliteSetups(rows: InProcessRow[]): string {
  const seen = new Map<string, string>();
  for (const r of rows) {
    if (r.store === "sqlite" && r.setup) seen.set(r.runtime, r.setup);
  }
  return [...seen].map(([runtime, setup]) => `${runtime} ${setup}`).join("; ");
}

/**
 * Copy `from` to `to` with the text between its `<!-- results:start -->`
 * and `<!-- results:end -->` markers replaced by `section`; false when the
 * page or its markers are missing.
 */
function replaceSection(from: string, to: string, section: string): boolean {
  let text: string;
  try {
    text = readFileSync(from, "utf8");
  } catch {
    return false;
  }
  const start = "<!-- results:start -->";
  const end = "<!-- results:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(to, text.slice(0, a + start.length) + "\n\n" + section + "\n\n" + text.slice(b));
  return true;
}

function checkTargets(rows: Row[], counts: CountRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const on = (r: { subject: { store: string; runtime: keyof typeof RUNTIME_LABEL } }) =>
    `${r.subject.store} (${RUNTIME_LABEL[r.subject.runtime]})`;
  for (const r of rows) {
    if (!r.subject.ours) continue;
    const met = meetsTarget(r);
    if (met !== undefined) {
      out.push({
        text: `${r.scenario}, ${on(r)}: ${r.added.median >= 0 ? "+" : ""}${
          r.added.median.toFixed(1)
        } µs server CPU per request over bare Oak (target ≤ ${r.target}; rounds ${
          r.added.min.toFixed(1)
        } to ${r.added.max.toFixed(1)})`,
        met,
      });
    }
    // Peers run on Node.js; each store's ratio there must beat every one of theirs.
    if (r.subject.runtime !== "node") continue;
    const peers = rows.filter((p) => p.scenario === r.scenario && !p.subject.ours);
    if (peers.length > 0) {
      const best = peers.reduce((a, b) => (b.ratio.median > a.ratio.median ? b : a));
      out.push({
        text: `${r.scenario}, ${on(r)}: CPU ratio ${r.ratio.median.toFixed(2)} above every ` +
          `peer's (best: ${subjectLabel(best.subject)} ${best.ratio.median.toFixed(2)})`,
        met: r.ratio.median > best.ratio.median,
      });
    }
  }
  for (const c of counts) {
    if (!c.subject.ours) continue;
    const k = c.counts;
    const writes = k.backendWrites ?? k.writeOps ?? 0;
    const setCookie = k.setCookie;
    const server = c.subject.store !== "cookie";
    if (c.scenario === "read") {
      const trips = k.backend ? total(k.backend) : total(k.ops);
      out.push({
        text: `read, ${on(c)}: ` +
          (server ? `${perRequest(trips)} store round trip(s) (target 1), ` : "") +
          `${perRequest(writes)} writes, Set-Cookie on ${Math.round(setCookie * 100)}% (target 0)`,
        met: (!server || Math.abs(trips - 1) < 0.005) && writes < 0.005 && setCookie === 0 &&
          k.failures === 0,
      });
    }
    if (c.scenario === "anonymous") {
      // A client store's read only looks for its cookie in the request: no store operation.
      const ops = server ? total(k.ops) + total(k.backend) : writes;
      out.push({
        text: `anonymous, ${on(c)}: ${perRequest(ops)} store operation(s), ` +
          `Set-Cookie on ${Math.round(setCookie * 100)}% (target 0 and 0)`,
        met: ops < 0.005 && setCookie === 0 && k.failures === 0,
      });
    }
  }
  return out;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : error}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
