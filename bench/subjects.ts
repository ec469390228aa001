/**
 * What the benchmark measures: the frameworks (each against its own bare
 * app), the session subjects, the scenarios, and oak-sessions' targets.
 *
 * @module
 */
import { PATHS } from "./servers/common.ts";

/** The request patterns measured. */
export const SCENARIOS = ["read", "write", "new", "anonymous"] as const;
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

/** A framework and its bare server. */
export interface Framework {
  id: "oak" | "express" | "koa" | "fastify" | "hono";
  label: string;
  bareServer: string;
}

export const FRAMEWORKS: Framework[] = [
  { id: "oak", label: "Oak", bareServer: "oak_bare.ts" },
  { id: "express", label: "Express", bareServer: "express_bare.ts" },
  { id: "koa", label: "Koa", bareServer: "koa_bare.ts" },
  { id: "fastify", label: "Fastify", bareServer: "fastify_bare.ts" },
  { id: "hono", label: "Hono", bareServer: "hono_bare.ts" },
];

/** Which outside service a subject needs. */
export type Service = "redis" | "webdis";

/** A framework with a session library on one store. */
export interface Subject {
  /** Unique, e.g. `oak-memory`. */
  name: string;
  framework: Framework["id"];
  library: string;
  store: string;
  server: string;
  /** STORE for the server. */
  storeEnv: string;
  needs?: Service;
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
  library,
  store,
  server,
  storeEnv: store,
  needs,
  ours: library === "oak-sessions",
  setup,
});

export const SUBJECTS: Subject[] = [
  subject("oak", "oak-sessions", "memory", "oak_sessions.ts", "MemoryStore, defaults"),
  subject(
    "oak",
    "oak-sessions",
    "cookie",
    "oak_sessions.ts",
    "CookieStore (AES-256-GCM), defaults",
  ),
  subject(
    "oak",
    "oak-sessions",
    "sqlite",
    "oak_sessions.ts",
    "SqliteStore on better-sqlite3, WAL file",
  ),
  subject("oak", "oak-sessions", "redis", "oak_sessions.ts", "RedisStore on node-redis", "redis"),
  subject("oak", "oak-sessions", "webdis", "oak_sessions.ts", "WebdisStore over fetch", "webdis"),
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

/** oak-sessions' target share of bare Oak on read and anonymous, by store. */
export const TARGET_RATIO: Record<string, number> = {
  memory: 0.9,
  cookie: 0.8,
  sqlite: 0.8,
  redis: 0.7,
  webdis: 0.5,
};

/** The scenarios the ratio targets apply to. */
export const TARGET_SCENARIOS: Scenario[] = ["read", "anonymous"];

/** The label of a subject in tables and the chart. */
export function subjectLabel(s: Subject): string {
  return `${s.library} (${s.store})`;
}

/**
 * Whether `token` picks `s`: its name (`oak-memory`), framework (`oak`),
 * library (`express-session`) or store (`redis`).
 */
export function matches(s: Subject, token: string): boolean {
  const t = token.toLowerCase();
  return t === s.name || t === s.framework || t === s.library || t === s.store;
}
