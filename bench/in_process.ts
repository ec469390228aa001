/**
 * What the session middleware itself costs, without the network: Oak's
 * `app.handle(request)` in one process, bare Oak against Oak with
 * oak-sessions, taking turns in many short batches, CPU time per request.
 * No sockets, no load generator and no second process share the CPU, so the
 * added microseconds of the library show up more steadily than in the HTTP
 * benchmark (`bench/run.ts`), whose figures move by tens of µs between runs
 * on a shared machine. For the stores that answer in this process (memory,
 * cookie, SQLite); a store across a network is measured by `bench/run.ts`.
 *
 *   npx tsx bench/in_process.ts [--stores memory,cookie,sqlite] [--requests 4000]
 *   npx deno run -A bench/in_process.ts --stores memory,cookie
 *   npx bun bench/in_process.ts --stores memory
 *
 * Scenarios: `read` (a session exists, one key is read, nothing changes),
 * `write` (one key set), `anonymous` (no cookie, nothing stored).
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Application } from "@oakserver/oak";
import { isStoreKind, type OpenStore, openStore } from "../test/kit/stores.ts";
import { Session } from "../mod.ts";

const { values } = parseArgs({
  options: {
    // better-sqlite3 (what examples/stores.ts opens, for the cookie store's
    // revocations too) does not load on Deno, nor on Bun.
    stores: {
      type: "string",
      default: "Deno" in globalThis
        ? "memory,cookie"
        : "Bun" in globalThis
        ? "memory"
        : "memory,cookie,sqlite",
    },
    requests: { type: "string", default: "4000" },
    rounds: { type: "string", default: "9" },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const RUNTIME = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node.js";
const dir = mkdtempSync(join(tmpdir(), "oak-sessions-inproc-"));

// deno-lint-ignore no-explicit-any
type Ctx = any;
function handler(ctx: Ctx): void {
  const path = ctx.request.url.pathname;
  const session = ctx.state.session as Session | undefined;
  if (path === "/login") session?.set("user", "alice");
  else if (path === "/write") session?.set("n", Math.random());
  else if (path === "/read") ctx.response.body = String(session?.get("user") ?? "none");
  ctx.response.body ??= "ok";
}

function bare(): Application {
  const app = new Application();
  app.use(handler);
  return app;
}

function withSessions(opened: OpenStore): Application {
  const app = new Application();
  app.use(Session.initMiddleware(opened.store));
  app.use(handler);
  return app;
}

async function once(app: Application, path: string, cookie: string | undefined): Promise<string> {
  const init = cookie === undefined ? {} : { headers: { cookie } };
  // deno-lint-ignore no-explicit-any
  const res = await app.handle(new Request("http://localhost" + path, init) as any);
  const text = await res!.text();
  return res!.headers.get("set-cookie") ?? text;
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows: string[] = [];
for (const kind of values.stores.split(",")) {
  if (!isStoreKind(kind)) throw new Error(`unknown store ${kind}`);
  const env = {
    ...process.env,
    SQLITE_FILE: join(dir, "bench.db"),
    COOKIE_SECRET: process.env.COOKIE_SECRET ?? "an in-process benchmark secret of 32+ chars",
    POSTGRES_TABLE: "oak_sessions_inproc_bench",
  };
  const opened = await openStore(kind, env);
  try {
    const a = bare();
    const b = withSessions(opened);
    const login = await once(b, "/login", undefined);
    const cookie = login.split(";")[0];
    for (const scenario of ["read", "write", "anonymous"]) {
      const path = scenario === "anonymous" ? "/anonymous" : `/${scenario}`;
      const sent = scenario === "anonymous" ? undefined : cookie;
      await batch(a, path, sent); // warm-up
      await batch(b, path, sent);
      const added: number[] = [];
      const bareCpu: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const x = await batch(a, path, sent);
        const y = await batch(b, path, sent);
        bareCpu.push(x);
        added.push(y - x);
      }
      const line = `| ${RUNTIME} | ${kind} | ${scenario} | ${median(bareCpu).toFixed(1)} | ` +
        `${median(added).toFixed(1)} | ${Math.min(...added).toFixed(1)} to ${
          Math.max(...added).toFixed(1)
        } |`;
      rows.push(line);
      console.log(line);
    }
  } finally {
    await opened.close();
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(
  "\n| runtime | store | scenario | bare Oak µs/request | added µs (median) | added (min to max) |",
);
console.log("| --- | --- | --- | --: | --: | --- |");
for (const row of rows) console.log(row);
process.exit(0);
