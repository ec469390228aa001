/**
 * What the session middleware itself costs, without the network: Oak's
 * `app.handle(request)` in one process, bare Oak against Oak with
 * oak-sessions, taking turns in many short batches, CPU time per request.
 * No sockets, no load generator and no second process share the CPU, so the
 * added microseconds of the library show up more steadily than in the HTTP
 * benchmark (`bench/run.ts`), whose figures move by tens of µs between runs
 * on a shared machine. Each figure is printed with its target and whether it
 * is met (bench/in_process_targets.ts).
 *
 *   npx tsx bench/in_process.ts [--stores memory,cookie,sqlite] [--requests 4000] [--rounds 9]
 *   npx deno run -A bench/in_process.ts
 *   npx bun bench/in_process.ts
 *   npx tsx bench/in_process.ts --stores redis,webdis,postgres   # Node.js; services needed
 *
 * Scenarios (`--scenarios`): `read` (the cookie of a prior login, one key
 * read), `write` (that cookie, one key changed), `new` (no cookie, one key
 * stored: a first write and its Set-Cookie), `anonymous` (no cookie, the
 * session untouched). Stores: memory, cookie (its revocations in SQLite),
 * sqlite (WAL, and the `synchronous` setting SqliteStore leaves as the
 * connection has it, printed), on this runtime's SQLite driver (better-sqlite3
 * on Node.js, `node:sqlite` on Deno, `bun:sqlite` on Bun); on Node.js also
 * redis, webdis and postgres (opened by test/kit/stores.ts), for profiles.
 * A store may carry a variant: `memory+onEvent` runs with the session
 * options of {@link sessionOptionsFor}; `sqlite+normal` sets `PRAGMA
 * synchronous = NORMAL` on the connection (SQLite's advice for WAL: no
 * corruption, but a power loss may undo the last commits), to show what
 * `FULL`'s flush of every commit costs where it is the default (node:sqlite;
 * better-sqlite3 already runs WAL databases with `NORMAL`). The memory store
 * with no variant is the app where nobody listens to events.
 *
 * `--profile DIR` writes, for each store and scenario, a V8 CPU profile of
 * the measured batches of bare Oak and one of those with sessions
 * (`node:inspector`, Node.js only), and prints how many requests each holds.
 * The second less the first, function by function, is what sessions add,
 * much of it in Oak's own cookie and header code and in promise
 * continuations, which a profile shows outside the middleware's stack:
 *
 *   npx tsx bench/in_process.ts --stores sqlite --scenarios write --profile /tmp/p
 *   npx tsx bench/profile_summary.ts /tmp/p/sqlite-write-sessions.cpuprofile \
 *     --minus /tmp/p/sqlite-write-bare.cpuprofile --requests 36000
 *
 * `--baseline DIR` measures the library of another checkout (its `mod.ts`,
 * say a worktree of the commit before a change) in the same rounds, as a
 * third app beside bare Oak and this checkout's: a before and after from one
 * run, on the same machine state.
 *
 * `--json FILE` also writes the rows as JSON (how `npm run bench` takes them).
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Application } from "@oakserver/oak";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as ours from "../mod.ts";
import type { SessionOptions, SessionStore } from "../mod.ts";
import { spread } from "./report.ts";
import {
  IN_PROCESS_SCENARIO_TEXT,
  IN_PROCESS_SCENARIOS,
  IN_PROCESS_STORES,
  type InProcessRow,
  inProcessTable,
  inProcessTarget,
  inProcessTargets,
} from "./in_process_targets.ts";
import { openRuntimeSqlite } from "./runtime_sqlite.ts";

const { values } = parseArgs({
  options: {
    // memory+onEvent beside memory: what a listener of events costs, and that none costs nothing.
    stores: {
      type: "string",
      default: ["memory", "memory+onEvent", ...IN_PROCESS_STORES.slice(1)].join(","),
    },
    scenarios: { type: "string", default: IN_PROCESS_SCENARIOS.join(",") },
    requests: { type: "string", default: "4000" },
    rounds: { type: "string", default: "9" },
    profile: { type: "string" },
    baseline: { type: "string" },
    json: { type: "string" },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const PROFILE_DIR = values.profile;
const RUNTIME = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node.js";
const SECRET = process.env.COOKIE_SECRET ?? "an in-process benchmark secret of 32+ chars";
const dir = mkdtempSync(join(tmpdir(), "oak-sessions-inproc-"));

/**
 * The session options of a store's variant (`memory+onEvent` -> `onEvent`),
 * `undefined` for none. A variant whose option this version of the library
 * does not have is skipped with a note (the options are checked by name).
 */
export function sessionOptionsFor(variant: string | undefined): SessionOptions | undefined {
  switch (variant) {
    case undefined:
    case "normal": // a connection setting, not a session option
      return undefined;
    case "onEvent":
      // Someone listens, and does nothing: what remains is the cost of emitting.
      return { onEvent: () => {} } as SessionOptions;
    default:
      throw new Error(`no session options for the variant ${variant}`);
  }
}

/** What the benchmark uses of a checkout's library. */
type Library = Pick<
  typeof ours,
  "CookieStore" | "MemoryStore" | "Session" | "SessionConfigError" | "SqliteStore"
>;

const baseline: Library | undefined = values.baseline === undefined
  ? undefined
  : await import(pathToFileURL(join(values.baseline, "mod.ts")).href);
if (baseline !== undefined && fileURLToPath(import.meta.url).startsWith(values.baseline!)) {
  throw new Error("--baseline names this checkout");
}

/** An open store and how to close it. */
interface Opened {
  store: SessionStore;
  /** How it is set up, for the header. */
  description: string;
  close(): Promise<void>;
}

async function openSqliteStore(
  lib: Library,
  file: string,
  variant?: string,
): Promise<Opened & { sqlite: ours.SqliteStore }> {
  const sql = await openRuntimeSqlite(file);
  const sqlite = new lib.SqliteStore(sql.db);
  if (variant === "normal") sql.db.exec("PRAGMA synchronous = NORMAL");
  const synchronous = ["OFF", "NORMAL", "FULL", "EXTRA"][Number(sql.pragma("synchronous"))];
  return {
    store: sqlite,
    sqlite,
    description: `${sql.driver}, journal_mode ${sql.pragma("journal_mode")}, ` +
      `synchronous ${synchronous}`,
    close: async () => {
      await sqlite.close();
      sql.db.close();
    },
  };
}

async function open(
  kind: string,
  variant: string | undefined,
  lib: Library,
  tag = "",
): Promise<Opened> {
  switch (kind) {
    case "memory": {
      const store = new lib.MemoryStore();
      return { store, description: "MemoryStore", close: () => store.close() };
    }
    case "sqlite": {
      const opened = await openSqliteStore(lib, join(dir, `sessions${tag}.db`), variant);
      return { ...opened, description: `SqliteStore (${opened.description})` };
    }
    case "cookie": {
      const revocations = await openSqliteStore(lib, join(dir, `revocations${tag}.db`), variant);
      return {
        store: new lib.CookieStore(SECRET, { revocations: revocations.sqlite }),
        description: `CookieStore (revocations in SqliteStore, ${revocations.description})`,
        close: revocations.close,
      };
    }
    default: {
      // Stores across a network, on Node.js: for their profiles (the test kit opens them).
      if (lib !== ours) throw new Error(`--baseline: only memory, cookie and sqlite, not ${kind}`);
      const { isStoreKind, openOwnStore } = await import("../test/kit/stores.ts");
      if (!isStoreKind(kind)) throw new Error(`unknown store ${kind}`);
      const opened = await openOwnStore(kind);
      return opened;
    }
  }
}

// deno-lint-ignore no-explicit-any
type Ctx = any;
let counter = 0;
function handler(ctx: Ctx): void {
  const path = ctx.request.url.pathname;
  const session = ctx.state.session as ours.Session | undefined;
  if (path === "/new") session?.set("user", "alice");
  else if (path === "/write") session?.set("n", ++counter);
  else if (path === "/read") ctx.response.body = String(session?.get("user") ?? "none");
  ctx.response.body ??= "ok";
}

function bare(): Application {
  const app = new Application();
  app.use(handler);
  return app;
}

function withSessions(
  lib: Library,
  store: SessionStore,
  options: SessionOptions | undefined,
): Application {
  const app = new Application();
  // deno-lint-ignore no-explicit-any
  app.use(lib.Session.initMiddleware(store as any, options) as any);
  app.use(handler);
  return app;
}

async function once(app: Application, path: string, cookie: string | undefined): Promise<Response> {
  const init = cookie === undefined ? {} : { headers: { cookie } };
  // deno-lint-ignore no-explicit-any
  const res = (await app.handle(new Request("http://localhost" + path, init) as any))!;
  await res.text();
  // Oak's undici Response, typed apart from the DOM's.
  return res as unknown as Response;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function batch(app: Application, path: string, cookie: string | undefined): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < REQUESTS; i++) await once(app, path, cookie);
  return (cpuMicros() - start) / REQUESTS;
}

/** `ROUNDS` batches; their CPU µs per request. */
async function batches(app: Application, path: string, cookie: string | undefined) {
  let sum = 0;
  for (let r = 0; r < ROUNDS; r++) sum += await batch(app, path, cookie);
  return sum / ROUNDS;
}

/** Run `work` under V8's CPU profiler (100 µs sampling) and write the profile to `file`. */
async function profiled<T>(file: string, work: () => Promise<T>): Promise<T> {
  const { Session: Inspector } = await import("node:inspector");
  const inspector = new Inspector();
  inspector.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      inspector.post(method, params, (error, result) => error ? reject(error) : resolve(result))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  const result = await work();
  const { profile } = await post("Profiler.stop") as { profile: object };
  inspector.disconnect();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  return result;
}

/** The session cookie(s) a login sets, as a Cookie header; checked to open its session. */
async function loginCookie(app: Application): Promise<string> {
  const res = await once(app, "/new", undefined);
  const cookie = res.headers.getSetCookie().map((line) => line.split(";")[0]).join("; ");
  const read = await app.handle(
    // deno-lint-ignore no-explicit-any
    new Request("http://localhost/read", { headers: { cookie } }) as any,
  );
  const body = await read!.text();
  if (body !== "alice") throw new Error(`after a login, /read said ${JSON.stringify(body)}`);
  return cookie;
}

const rows: InProcessRow[] = [];
const scenarios = values.scenarios.split(",");
for (const s of scenarios) {
  if (!(IN_PROCESS_SCENARIOS as readonly string[]).includes(s)) {
    throw new Error(`unknown scenario ${s}; scenarios: ${IN_PROCESS_SCENARIOS.join(", ")}`);
  }
}
console.log(
  `${RUNTIME}: ${ROUNDS} rounds of ${REQUESTS} requests per app and scenario, CPU µs per request`,
);
for (const s of scenarios) {
  console.log(`  ${s}: ${IN_PROCESS_SCENARIO_TEXT[s as keyof typeof IN_PROCESS_SCENARIO_TEXT]}`);
}
for (const name of values.stores.split(",")) {
  const [kind, variant] = name.split("+");
  let options: SessionOptions | undefined;
  const opened: Opened[] = [];
  try {
    options = sessionOptionsFor(variant);
    opened.push(await open(kind, variant, ours));
    const a = bare();
    const b = withSessions(ours, opened[0].store, options);
    console.log(`\n${name}: ${opened[0].description}`);
    const cookie = await loginCookie(b);
    // The other checkout's library, on a store of its own.
    let c: Application | undefined;
    let baseCookie: string | undefined;
    if (baseline !== undefined) {
      opened.push(await open(kind, variant, baseline, "-baseline"));
      c = withSessions(baseline, opened[1].store, options);
      baseCookie = await loginCookie(c);
    }
    for (const scenario of scenarios) {
      const path = `/${scenario}`;
      const withCookie = scenario === "read" || scenario === "write";
      const sent = withCookie ? cookie : undefined;
      const baseSent = withCookie ? baseCookie : undefined;
      // Warm-up.
      await batch(a, path, sent);
      await batch(b, path, sent);
      if (c) await batch(c, path, baseSent);
      if (PROFILE_DIR !== undefined) {
        const file = (what: string) => join(PROFILE_DIR, `${name}-${scenario}-${what}.cpuprofile`);
        const x = await profiled(file("bare"), () => batches(a, path, sent));
        const y = await profiled(file("sessions"), () => batches(b, path, sent));
        console.log(
          `  ${file("{bare,sessions}")}: ${ROUNDS * REQUESTS} requests each, ` +
            `CPU ${x.toFixed(1)} and ${y.toFixed(1)} µs/request (under the profiler)`,
        );
        continue;
      }
      const added: number[] = [];
      const before: number[] = [];
      const bareCpu: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const x = await batch(a, path, sent);
        const y = await batch(b, path, sent);
        if (c) before.push((await batch(c, path, baseSent)) - x);
        bareCpu.push(x);
        added.push(y - x);
      }
      const row: InProcessRow = {
        runtime: RUNTIME,
        store: name,
        scenario,
        bare: spread(bareCpu),
        added: spread(added),
        target: inProcessTarget(name, scenario),
        setup: opened[0].description,
      };
      if (c) row.before = spread(before);
      rows.push(row);
      console.log(inProcessTable([row]).split("\n")[2]);
    }
  } catch (error) {
    if (!(error instanceof ours.SessionConfigError) || opened.length === 0) throw error;
    // A variant's option this version does not have (yet): say so and go on.
    console.log(`\n${name}: skipped (${error.message})`);
  } finally {
    for (const o of opened) await o.close();
  }
}
rmSync(dir, { recursive: true, force: true });
if (rows.length > 0) {
  console.log(`\n${inProcessTable(rows)}\n`);
  const checks = inProcessTargets(rows);
  for (const t of checks) console.log(`${t.met ? "✓ met   " : "✗ missed"} ${t.text}`);
  console.log(`Targets met: ${checks.filter((t) => t.met).length} of ${checks.length}.`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows));
process.exit(0);
