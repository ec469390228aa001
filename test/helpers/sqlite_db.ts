/**
 * Real SQLite databases for the SqliteStore tests: files in a temp dir,
 * opened with the driver this runtime has (better-sqlite3 on Node 20,
 * node:sqlite's DatabaseSync on Deno 2), worker processes that share a file,
 * and an object of the x/sqlite `DB` shape over a real connection.
 *
 * Runtime-specific code lives here, in the tests, never in src/.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { SessionRecord } from "../../src/store.ts";

/** Whether the tests run on Deno. */
export const isDeno = "Deno" in globalThis;

/** Whether the tests run on Bun (which cannot load better-sqlite3's addon). */
export const isBun = "Bun" in globalThis;

/** The driver the tests use on this runtime. */
export const nativeDriver = isDeno ? "node:sqlite" : isBun ? "bun:sqlite" : "better-sqlite3";

/** The part of better-sqlite3 and node:sqlite the tests use directly. */
export interface RawStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
  reader?: boolean;
}

/** A connection of this runtime's driver. */
export interface RawDb {
  prepare(sql: string): RawStatement;
  exec(sql: string): void;
  close(): void;
}

/**
 * Opens `path` with this runtime's driver. The module names are variables so
 * neither runtime loads the other's driver (node:sqlite does not exist on
 * Node 20; Deno does not need better-sqlite3's native addon).
 */
export async function openDb(path: string, options: { readonly?: boolean } = {}): Promise<RawDb> {
  const readonly = options.readonly ?? false;
  if (isDeno) {
    const spec = "node:sqlite";
    const { DatabaseSync } = await import(spec);
    return new DatabaseSync(path, { readOnly: readonly }) as RawDb;
  }
  if (isBun) {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    return new Database(path, readonly ? { readonly: true } : {}) as RawDb;
  }
  const spec = "better-sqlite3";
  const Database = (await import(spec)).default;
  return new Database(path, { readonly }) as RawDb;
}

/** A fresh temp dir; `remove()` deletes it with everything in it. */
export function tempDir(): { path: string; file(name: string): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), "oak-sessions-sqlite-"));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** A session record with `data` given as plain values (stored as JSON text). */
export function record(
  data: Record<string, unknown>,
  times: { createdAt: number; expiresAt: number },
  flash: Record<string, unknown> = {},
): SessionRecord {
  const fields = (o: Record<string, unknown>) => {
    const out: Record<string, string> = Object.create(null);
    for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
    return out;
  };
  return { data: fields(data), flash: fields(flash), ...times };
}

/** A record's fields as plain values, for comparing. */
export function values(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) out[k] = JSON.parse(fields[k]);
  return out;
}

/**
 * An object of the x/sqlite `DB` shape (deno.land/x/sqlite) over a real
 * connection of this runtime's driver: `query(sql, params)` answers rows as
 * arrays and `execute(sql)` runs SQL. That shape is the whole contract
 * SqliteStore relies on for x/sqlite, so a real connection behind it tests
 * the adapter honestly.
 *
 * `version: 3` adds `execute(sql)` and `prepareQuery(sql)` (x/sqlite 3's
 * prepared queries). `version: 2` is the bare minimum: only `query`, which
 * answers with an iterable of rows instead of an array, as x/sqlite 2's
 * `Rows` did. Neither has a `changes` property, so the adapter's
 * `SELECT changes()` path runs too.
 */
export function xsqliteShape(raw: RawDb, version: 2 | 3): {
  query(sql: string, params?: unknown[]): unknown;
  execute?(sql: string): void;
  prepareQuery?(sql: string): { all(params?: unknown[]): unknown[][]; finalize(): void };
  prepared: number;
  finalized: number;
} {
  const rowsOf = (stmt: RawStatement, params: unknown[]): unknown[][] => {
    // better-sqlite3 refuses all() on statements that return no rows.
    if (stmt.reader === false) {
      stmt.run(...params);
      return [];
    }
    return stmt.all(...params).map((row) => Object.values(row as object));
  };
  const db = {
    prepared: 0,
    finalized: 0,
    query(sql: string, params: unknown[] = []): unknown {
      const rows = rowsOf(raw.prepare(sql), params);
      return version === 3 ? rows : rows[Symbol.iterator]();
    },
  };
  if (version === 2) return db;
  return Object.assign(db, {
    execute(sql: string): void {
      raw.exec(sql);
    },
    prepareQuery(sql: string) {
      const stmt = raw.prepare(sql);
      db.prepared++;
      return {
        all: (params: unknown[] = []) => rowsOf(stmt, params),
        finalize: () => {
          db.finalized++;
        },
      };
    },
  });
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const workerScript = fileURLToPath(new URL("./sqlite_worker.ts", import.meta.url));

/** A worker process running test/helpers/sqlite_worker.ts. */
export interface Worker {
  /** Resolves when the worker prints `line`. */
  waitFor(line: string): Promise<void>;
  /** Sends `line` to the worker's stdin. */
  send(line: string): void;
  /** The last line it printed, parsed as JSON, once it exits with status 0. */
  result<T>(): Promise<T>;
  child: ChildProcess;
}

/**
 * Starts a worker in a new OS process of this runtime: `node --import tsx`
 * on Node, `deno run -A` on Deno.
 */
export function startWorker(args: string[]): Worker {
  const [command, prefix] = isDeno
    ? [(globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath(), [
      "run",
      "-A",
    ]]
    : isBun
    ? [process.execPath, []]
    : [process.execPath, ["--import", "tsx"]];
  const child = spawn(command, [...prefix, workerScript, ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters: { line: string; resolve: () => void }[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    for (const w of waiters.filter((w) => w.line === line)) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const failure = (what: string, code: number | null) =>
    new Error(`worker ${args.join(" ")} ${what} (exit ${code}):\n${stderr}`);
  return {
    child,
    waitFor(line) {
      if (lines.includes(line)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ line, resolve });
        exited.then((code) => reject(failure(`exited before printing ${line}`, code)));
      });
    },
    send(line) {
      child.stdin!.write(line + "\n");
    },
    async result<T>() {
      const code = await exited;
      if (code !== 0) throw failure("failed", code);
      return JSON.parse(lines[lines.length - 1]) as T;
    },
  };
}

/** Kills workers still running (after a failed test), so none outlives the tests. */
export function killWorkers(workers: Worker[]): void {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  }
}
