/**
 * What the benchmark measures: the frameworks (each against its own bare
 * app), the session subjects, the scenarios, and oak-sessions' targets.
 *
 * @module
 */
import { PATHS } from "./servers/common.ts";

/** The request patterns measured. */
export const SCENARIOS = ["read", "write", "new", "anonymous"] as const;
/** One of `SCENARIOS`. */
export type Scenario = (typeof SCENARIOS)[number];

/** What each scenario is, for the report. */
export const SCENARIO_TEXT: Record<Scenario, string> = {
  read: "session cookie from a prior login; the handler reads one key, nothing changes",
  write: "session cookie from a prior login; the handler changes one key",
  new: "no cookie; the handler stores one key (a login)",
  anonymous: "no cookie; the handler does not touch the session (static-like traffic)",
};

/** The path each scenario requests. */
export const SCENARIO_PATH: Record<Scenario, string> = {
  read: PATHS.read,
  write: PATHS.write,
  new: PATHS.new,
  anonymous: PATHS.anonymous,
};

/** Whether a scenario's requests carry the cookie of a prior login. */
export const WITH_COOKIE: Record<Scenario, boolean> = {
  read: true,
  write: true,
  new: false,
  anonymous: false,
};

/** The runtime a server runs on. */
export type Runtime = "node" | "deno" | "bun";

/** Its name in the report. */
export const RUNTIME_LABEL: Record<Runtime, string> = { node: "Node.js", deno: "Deno", bun: "Bun" };

/** A framework on a runtime, and its bare server. */
export interface Framework {
  /** Its name in subject names and `--subjects`. */
  id: "oak" | "oak-deno" | "oak-bun" | "express" | "koa" | "fastify" | "hono";
  /** Its name in the report. */
  label: string;
  /** The runtime its servers run on. */
  runtime: Runtime;
  /** Its bare server, a file in bench/servers/. */
  bareServer: string;
}

/** Every framework measured, each with its bare server. */
export const FRAMEWORKS: Framework[] = [
  { id: "oak", label: "Oak", runtime: "node", bareServer: "oak_bare.ts" },
  // The same server file under `deno run`, on Deno.serve (bench/servers/oak_app.ts).
  { id: "oak-deno", label: "Oak on Deno", runtime: "deno", bareServer: "oak_bare.ts" },
  // The same server file under `bun`, on Bun.serve (npm Oak picks it by itself on Bun).
  { id: "oak-bun", label: "Oak on Bun", runtime: "bun", bareServer: "oak_bare.ts" },
  { id: "express", label: "Express", runtime: "node", bareServer: "express_bare.ts" },
  { id: "koa", label: "Koa", runtime: "node", bareServer: "koa_bare.ts" },
  { id: "fastify", label: "Fastify", runtime: "node", bareServer: "fastify_bare.ts" },
  { id: "hono", label: "Hono", runtime: "node", bareServer: "hono_bare.ts" },
];

/** Which outside service a subject needs. */
export type Service = "redis" | "webdis";

/** A framework with a session library on one store. */
export interface Subject {
  /** Unique, e.g. `oak-memory`, `oak-deno-memory`. */
  name: string;
  /** The framework it runs in. */
  framework: Framework["id"];
  /** The runtime its server runs on. */
  runtime: Runtime;
  /** The session library (`oak-sessions`, `express-session`, ...). */
  library: string;
  /** The store, as the library names it (`memory`, `redis`, ...). */
  store: string;
  /** Its server, a file in bench/servers/. */
  server: string;
  /** STORE for the server. */
  storeEnv: string;
  /** The outside service it needs, if any. */
  needs?: Service;
  /** Whether it is oak-sessions. */
  ours: boolean;
  /** The setup, in a few words, for the report. */
  setup: string;
}

const subject = (
  framework: Framework["id"],
  library: string,
  store: string,
  server: string,
  setup: string,
  needs?: Service,
): Subject => ({
  name: `${framework}-${store}`,
  framework,
  runtime: FRAMEWORKS.find((f) => f.id === framework)!.runtime,
  library,
  store,
  server,
  storeEnv: store,
  needs,
  ours: library === "oak-sessions",
  setup,
});

/**
 * oak-sessions' stores, each measured on Node (`oak`), on Deno
 * (`oak-deno`) and on Bun (`oak-bun`). A new store is one line here (its STORE name, as
 * bench/servers/oak_sessions.ts opens it), a target in each of
 * `TARGET_ADDED_CPU`'s scenarios, and, if it needs a service the runner
 * must find first, a `Service`.
 */
const OUR_STORES: {
  store: string;
  node: string;
  deno: string;
  bun: string;
  needs?: Service;
}[] = [
  {
    store: "memory",
    node: "MemoryStore, defaults",
    deno: "MemoryStore, defaults",
    bun: "MemoryStore, defaults",
  },
  {
    store: "cookie",
    node: "CookieStore (AES-256-GCM), defaults",
    deno: "CookieStore (AES-256-GCM), defaults",
    bun: "CookieStore (AES-256-GCM), defaults",
  },
  {
    store: "sqlite",
    node: "SqliteStore on better-sqlite3, WAL file",
    deno: "SqliteStore on node:sqlite (built into Deno), WAL file",
    bun: "SqliteStore on bun:sqlite (built into Bun), WAL file",
  },
  {
    store: "redis",
    node: "RedisStore on node-redis",
    deno: "RedisStore on node-redis",
    bun: "RedisStore on node-redis",
    needs: "redis",
  },
  {
    store: "webdis",
    node:
      "WebdisStore, its default transport on Node.js (node:net: HTTP/1.1 on kept-alive sockets)",
    deno: "WebdisStore, its default transport on Deno (fetch)",
    bun: "WebdisStore, its default transport on Bun (fetch)",
    needs: "webdis",
  },
  // The machine's PostgreSQL (DATABASE_URL); bench/run.ts leaves these rows out when it
  // cannot reach it.
  {
    store: "postgres",
    node: "PostgresStore on postgres.js",
    deno: "PostgresStore on postgres.js",
    bun: "PostgresStore on postgres.js",
  },
  // The machine's MariaDB or MySQL (MYSQL_URL); left out likewise when unreachable.
  {
    store: "mysql",
    node: "MySqlStore on a mysql2 pool",
    deno: "MySqlStore on a mysql2 pool",
    bun: "MySqlStore on a mysql2 pool",
  },
];

/** Every subject measured: oak-sessions on each store and runtime, then the peers. */
export const SUBJECTS: Subject[] = [
  ...OUR_STORES.map((o) =>
    subject("oak", "oak-sessions", o.store, "oak_sessions.ts", o.node, o.needs)
  ),
  ...OUR_STORES.map((o) =>
    subject("oak-deno", "oak-sessions", o.store, "oak_sessions.ts", o.deno, o.needs)
  ),
  ...OUR_STORES.map((o) =>
    subject("oak-bun", "oak-sessions", o.store, "oak_sessions.ts", o.bun, o.needs)
  ),
  subject(
    "express",
    "express-session",
    "memory",
    "express_session.ts",
    "MemoryStore, resave: false, saveUninitialized: false",
  ),
  subject(
    "express",
    "express-session",
    "redis",
    "express_session.ts",
    "connect-redis on node-redis, resave: false, saveUninitialized: false",
    "redis",
  ),
  subject("koa", "koa-session", "cookie", "koa_session.ts", "signed cookie (its default)"),
  subject(
    "fastify",
    "@fastify/session",
    "memory",
    "fastify_session.ts",
    "MemoryStore, saveUninitialized: false, rolling: false",
  ),
  subject("hono", "hono-sessions", "memory", "hono_sessions.ts", "MemoryStore, no encryptionKey"),
  subject(
    "hono",
    "hono-sessions",
    "cookie",
    "hono_sessions.ts",
    "CookieStore (iron), encryptionKey",
  ),
];

/**
 * oak-sessions' targets: the most server CPU time, in microseconds, a
 * session may add to one request over bare Oak on the same runtime, by
 * scenario and store. Reported beside the figures, never asserted in tests.
 */
export const TARGET_ADDED_CPU: Partial<Record<Scenario, Record<string, number>>> = {
  read: { memory: 5, cookie: 15, sqlite: 15, redis: 30, webdis: 60, postgres: 100, mysql: 100 },
  write: { memory: 10, cookie: 30, sqlite: 40, redis: 40, webdis: 100, postgres: 150, mysql: 150 },
  new: { memory: 10, cookie: 30, sqlite: 40, redis: 40, webdis: 100, postgres: 150, mysql: 150 },
};

/** The added-CPU target of `s` in `scenario`, if one applies. */
export function targetOf(s: Subject, scenario: Scenario): number | undefined {
  return s.ours ? TARGET_ADDED_CPU[scenario]?.[s.store] : undefined;
}

/** The label of a subject in tables and the chart. */
export function subjectLabel(s: Subject): string {
  return `${s.library} (${s.store}${s.runtime === "node" ? "" : `, ${RUNTIME_LABEL[s.runtime]}`})`;
}

/**
 * Whether `token` picks `s`: its name (`oak-memory`, `oak-deno-memory`),
 * framework (`oak`, `oak-deno`, `oak-bun`), library (`express-session`),
 * store (`redis`) or runtime (`node`, `deno`, `bun`).
 */
export function matches(s: Subject, token: string): boolean {
  const t = token.toLowerCase();
  return t === s.name || t === s.framework || t === s.library || t === s.store ||
    t === s.runtime;
}
