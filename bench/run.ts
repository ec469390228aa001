/**
 * `npm run bench`: what a session costs per request, for oak-sessions on
 * every store and for its peers, each against its own bare framework in the
 * same run. Writes bench/RESULTS.md, bench/results.svg and the results
 * section of docs/benchmarks.md, and prints the table. `--help` for flags.
 *
 * Each server runs in its own process and the load generator in another;
 * rounds are interleaved (round 1 of every measurement, then round 2, ...)
 * so that drift on a shared machine hits every subject alike, and the
 * median round is reported.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem, type } from "node:os";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "redis";
import { countRequests, type Counts, RedisMonitor, total } from "./counts.ts";
import { hasWrk, type LoadResult, type LoadTool, prime, runLoad } from "./load.ts";
import {
  cpuSeconds,
  hasWebdis,
  type OwnWebdis,
  type ServerProcess,
  startServer,
  startWebdis,
} from "./processes.ts";
import {
  consoleTable,
  type CountRow,
  docsSection,
  perRequest,
  ratioOf,
  resultsMarkdown,
  resultsSvg,
  type Row,
  type RunInfo,
  type TargetCheck,
} from "./report.ts";
import { BARE_BODIES, PATHS, SECRET, USER } from "./servers/common.ts";
import {
  FRAMEWORKS,
  matches,
  type Scenario,
  SCENARIO_PATH,
  SCENARIOS,
  subjectLabel,
  SUBJECTS,
  TARGET_RATIO,
  TARGET_SCENARIOS,
  WITH_COOKIE,
} from "./subjects.ts";

const HELP = `npm run bench -- [flags]

  --connections N    concurrent connections (default 32)
  --threads N        wrk threads (default 1)
  --duration S       seconds per measured run (default 1; whole seconds with wrk)
  --warmup S         seconds of load before the first measured run of each server;
                     later runs find it warm (default 1; 0: none)
  --prime N          requests sent (by this process, unmeasured) right before every
                     measured run: a server idle since its last run is slow for its first
                     moments (default 500)
  --rounds N         interleaved rounds; the median is reported (default 3)
  --subjects LIST    comma list of subject names (oak-memory), frameworks (oak),
                     libraries (express-session) or stores (redis); default: all
  --scenarios LIST   comma list of ${SCENARIOS.join(", ")}; default: all
  --tool wrk|autocannon  load generator (default: wrk when installed, else autocannon)
  --redis-url URL    Redis for the redis and webdis subjects (default REDIS_URL or
                     redis://127.0.0.1:6379)
  --redis-db N       the Redis database the benchmark uses and cleans (default 12)
  --count-requests N sequential requests per round-trip count (default 50)
  --profile          run the Oak servers under node --cpu-prof (bench/profiles/)
  --write / --no-write  write RESULTS.md, results.svg and docs/benchmarks.md
                     (default: only when no --subjects or --scenarios filter is given)
`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const started = performance.now();

const { values: flags } = parseArgs({
  options: {
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    duration: { type: "string", default: "1" },
    warmup: { type: "string", default: "1" },
    prime: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
    subjects: { type: "string" },
    scenarios: { type: "string" },
    tool: { type: "string" },
    "redis-url": { type: "string" },
    "redis-db": { type: "string", default: "12" },
    "count-requests": { type: "string", default: "50" },
    profile: { type: "boolean", default: false },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
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
const redisUrl = new URL(flags["redis-url"] ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
redisUrl.pathname = `/${redisDb}`;
const write = flags["no-write"] ? false : flags.write ?? (!flags.subjects && !flags.scenarios);

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
    await webdis?.stop();
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const gb = Math.round(totalmem() / 2 ** 30);
  return `${availableParallelism()} cores (nproc) of ${cpu}, ${gb} GB RAM, ${type()} ${release()}, ` +
    `Node.js ${process.version}`;
}

async function main(): Promise<void> {
  log(
    `oak-sessions benchmark: ${subjects.length} subjects x ${scenarios.length} scenarios, ` +
      `${rounds} rounds of ${duration} s (${warmup} s warm-up), ${connections} connections, ${tool}`,
  );
  log(`machine: ${machine()}; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);

  // Services.
  if (subjects.some((s) => s.needs) && !(await redisReachable())) {
    fail(
      `cannot reach Redis at ${redisUrl.host}: start it (redis-server), point --redis-url at ` +
        "one, or leave the redis and webdis subjects out (--subjects oak-memory,express-memory,...)",
    );
  }
  if (subjects.some((s) => s.needs === "webdis")) {
    if (hasWebdis()) {
      webdis = await startWebdis(redisUrl.hostname, Number(redisUrl.port || 6379), redisDb);
      log(`webdis: started on ${webdis.url} (Redis database ${redisDb})`);
    } else {
      subjects = subjects.filter((s) => s.needs !== "webdis");
      notes.push("Webdis is not installed (/usr/bin/webdis), so the webdis rows are left out.");
      log("webdis: not installed; its rows are left out");
    }
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
  // A few at a time: sixteen Node processes loading at once on two cores take minutes.
  const jobs: (() => Promise<void>)[] = [
    ...frameworks.map((f) => async () => {
      const args = f.id === "oak" ? profileArgs : [];
      const server = await startServer(`${f.id}-bare`, f.bareServer, env, args);
      servers.push(server);
      bare.set(f.id, server);
    }),
    ...subjects.map((s) => async () => {
      const args = s.framework === "oak" ? profileArgs : [];
      const server = await startServer(s.name, s.server, { ...env, STORE: s.storeEnv }, args);
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
  /** A load run, and the server's CPU time per response during it. */
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
    const cpuBefore = cpuSeconds(pid);
    const load = await runLoad({ ...options, seconds: duration });
    const cpuAfter = cpuSeconds(pid);
    const result: Measured = {
      ...load,
      cpuMicros: cpuBefore === undefined || cpuAfter === undefined || load.requests === 0
        ? NaN
        : ((cpuAfter - cpuBefore) * 1e6) / load.requests,
    };
    results.set(key, [...(results.get(key) ?? []), result]);
    return result;
  };
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
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
        const line: string[] = [`bare ${fmt(b.rps)}`];
        for (const scenario of scenarios) {
          const r = await measure(
            s.name,
            `${s.name}/${scenario}`,
            withSessions.get(s.name)!.url + SCENARIO_PATH[scenario],
            WITH_COOKIE[scenario] ? cookies.get(s.name) : undefined,
          );
          line.push(`${scenario} ${fmt(r.rps)}${r.bad ? ` (${r.bad} errors)` : ""}`);
        }
        log(`  ${subjectLabel(s)}: ${line.join(", ")}`);
      }
    }
  }

  // The figures.
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    for (const s of subjects) {
      const bareRuns = results.get(`${s.name}/bare`)!;
      const runs = results.get(`${s.name}/${scenario}`)!;
      rows.push({
        scenario,
        subject: s,
        bare: median(bareRuns.map((r) => r.rps)),
        with: median(runs.map((r) => r.rps)),
        ratio: median(runs.map((r, i) => r.rps / bareRuns[i].rps)),
        addedMicros: median(runs.map((r, i) => 1e6 / r.rps - 1e6 / bareRuns[i].rps)),
        bareRounds: bareRuns.map((r) => r.rps),
        withRounds: runs.map((r) => r.rps),
        bad: runs.reduce((a, r) => a + r.bad, 0),
        bareCpuMicros: median(bareRuns.map((r) => r.cpuMicros)),
        withCpuMicros: median(runs.map((r) => r.cpuMicros)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        target: s.ours && TARGET_SCENARIOS.includes(scenario) ? TARGET_RATIO[s.store] : undefined,
      });
    }
  }
  const targets = checkTargets(rows, countRows);
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
      `(on ${availableParallelism()} cores; other work on the machine lowers every figure alike, ` +
      "the ratios less so).",
  );
  const info: RunInfo = {
    date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
    machine: machine(),
    load: `${tool}${tool === "wrk" ? ` -t${threads}` : ""}, ${connections} connections, ` +
      `${rounds} interleaved rounds of ${duration} s (median), ${warmup} s warm-up per server`,
    elapsedSeconds: (performance.now() - started) / 1000,
    notes,
  };

  log("");
  log(consoleTable(rows));
  log("");
  for (const t of targets) log(`${t.met ? "✓" : "✗"} ${t.text}`);
  for (const n of notes) log(`note: ${n}`);
  if (write) {
    const bench = join(ROOT, "bench");
    writeFileSync(
      join(bench, "RESULTS.md"),
      resultsMarkdown(info, rows, countRows, targets, subjects),
    );
    writeFileSync(join(bench, "results.svg"), resultsSvg(info, rows));
    // The project's `deno fmt --check` covers SVG too: leave the chart as it would.
    spawnSync(join(ROOT, "node_modules", ".bin", "deno"), ["fmt", "--quiet", "bench/results.svg"], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const docs = join(ROOT, "docs", "benchmarks.md");
    try {
      const text = readFileSync(docs, "utf8");
      const start = "<!-- results:start -->";
      const end = "<!-- results:end -->";
      const a = text.indexOf(start);
      const b = text.indexOf(end);
      if (a >= 0 && b > a) {
        writeFileSync(
          docs,
          text.slice(0, a + start.length) + "\n\n" + docsSection(info, rows, countRows, targets) +
            "\n\n" + text.slice(b),
        );
      }
    } catch {
      // No docs page in this checkout: RESULTS.md has it all.
    }
    log(
      `\nwrote bench/RESULTS.md, bench/results.svg and docs/benchmarks.md (${
        Math.round(info.elapsedSeconds)
      } s)`,
    );
  } else {
    log(
      `\n(filtered run: nothing written; --write to write; ${Math.round(info.elapsedSeconds)} s)`,
    );
  }
}

function checkTargets(rows: Row[], counts: CountRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const r of rows) {
    if (r.target === undefined) continue;
    const ratio = ratioOf(r);
    out.push({
      text: `${r.scenario}, ${r.subject.store}: ratio ${ratio.toFixed(2)} (target ≥ ${
        r.target.toFixed(2)
      })`,
      met: ratio >= r.target,
    });
    const peers = rows.filter((p) => p.scenario === r.scenario && !p.subject.ours);
    if (peers.length > 0) {
      const best = peers.reduce((a, b) => (ratioOf(b) > ratioOf(a) ? b : a));
      out.push({
        text: `${r.scenario}, ${r.subject.store}: better than every peer (best peer: ` +
          `${subjectLabel(best.subject)} ${ratioOf(best).toFixed(2)})`,
        met: ratio > ratioOf(best),
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
        text: `read, ${c.subject.store}: ` +
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
        text: `anonymous, ${c.subject.store}: ${perRequest(ops)} store operation(s), ` +
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
