/**
 * The checks of options several stores share, each with the same message
 * wherever it is passed (`SqliteStore: cleanupIntervalSeconds must be ...`),
 * and the one constructor convention of the stores:
 * `new XStore(backend, nameOrOptions?)`, where a string is the store's
 * namespace (a SQL table, a key prefix) and an object its options.
 *
 * @module
 */
import { SessionConfigError } from "../../errors.ts";
import { checkOptionKeys, renamedOptions } from "../../option_keys.ts";

/** Options every SQL store takes beside its own. */
export interface SqlStoreOptions {
  /**
   * The store deletes expired sessions at most once per this many seconds,
   * during a normal call. Default `300`; `0` turns the automatic sweep off
   * (call `cleanup()` yourself).
   */
  cleanupIntervalSeconds?: number;
  /**
   * Where the store reports a migration of the original oak_sessions table
   * found under its table name (one line). Default `console.warn`.
   */
  log?: (line: string) => void;
}

/** Options of the stores that carry over sessions the original oak_sessions stored. */
export interface MigratingStoreOptions {
  /**
   * The idle lifetime, in seconds, given to sessions carried over from the
   * original's table that had no expiry (it kept sessions forever by
   * default). Default `86400`.
   */
  migratedIdleSeconds?: number;
}

/**
 * The arguments after the backend, `(nameOrOptions?, options?)`, as one
 * options object with the namespace under `nameKey` (left out when none
 * was given, for the store's default):
 * - `("sessions")` and `("sessions", { ... })`: the name, then the options;
 * - `({ table: "sessions", ... })` (or `keyPrefix`): the options, the name among them.
 *
 * An object as the second argument with a third one, a name given twice, or
 * options that are no object are `SessionConfigError`s. `usage` shows the
 * forms in those messages. `options` is copied, never changed.
 */
export function storeArguments(
  where: string,
  nameKey: string,
  nameOrOptions: unknown,
  options: unknown,
  usage: string,
): Record<string, unknown> {
  if (typeof nameOrOptions === "object" && nameOrOptions !== null) {
    if (options !== undefined) {
      throw new SessionConfigError(`${where}: options given twice; pass ${usage}`);
    }
    return nameOrOptions as Record<string, unknown>;
  }
  const o = optionsObject(where, options);
  if (nameOrOptions === undefined) return o;
  if (Object.hasOwn(o, nameKey)) {
    throw new SessionConfigError(
      `${where}: ${nameKey} is given twice (the second argument and options.${nameKey}); ` +
        "pass it once",
    );
  }
  return { ...o, [nameKey]: nameOrOptions };
}

/** How a SQL store reads the arguments after its driver. */
export interface SqlArgumentRules {
  /** The forms of the constructor, for messages. */
  usage: string;
  /** The option keys the store takes (besides `table`). */
  keys: readonly string[];
  /** Old option names and their new ones (see `renamedOptions`). */
  renames?: Readonly<Record<string, string>>;
  /** Throws a `SessionConfigError` for a table name the database cannot take. */
  checkName: (name: unknown) => void;
}

/** What every SQL store reads from its arguments. */
export interface SqlSettings {
  tableName: string;
  cleanupIntervalMs: number;
  log: (line: string) => void;
  migratedIdleMs: number;
}

/**
 * The arguments after a SQL store's driver, `(table?, options?)` or
 * `({ table, ...options })`: the table (default `"sessions"`), the settings
 * all SQL stores share, and the options, with old names moved to their new
 * ones, for the store's own settings. An object without `table` as the
 * second argument is refused as a table name (options meant for the third).
 */
export function sqlStoreArguments(
  where: string,
  tableOrOptions: unknown,
  options: unknown,
  rules: SqlArgumentRules,
): { settings: SqlSettings; options: Record<string, unknown> } {
  const args = storeArguments(where, "table", tableOrOptions, options, rules.usage);
  const { table = "sessions", ...rest } = args;
  const name = tableOrOptions === args && !Object.hasOwn(args, "table") ? args : table;
  rules.checkName(name);
  checkOptionKeys(where, rest, rules.keys);
  const o = renamedOptions(where, rest, rules.renames ?? {});
  return {
    settings: {
      tableName: name as string,
      cleanupIntervalMs: cleanupIntervalMs(where, o.cleanupIntervalSeconds),
      log: logOption(where, o.log),
      migratedIdleMs: migratedIdleMs(where, o.migratedIdleSeconds),
    },
    options: o,
  };
}

/**
 * The name `options` gives an option renamed from `oldName` to `newName`,
 * so that a message names it as the application wrote it.
 */
export function givenName(options: unknown, oldName: string, newName: string): string {
  return typeof options === "object" && options !== null && Object.hasOwn(options, oldName)
    ? oldName
    : newName;
}

/** `options`, or `{}` when it is `undefined`; a `SessionConfigError` when it is no object. */
export function optionsObject(where: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null) {
    throw new SessionConfigError(`${where}: options must be an object`);
  }
  return options as Record<string, unknown>;
}

/** `cleanupIntervalSeconds` (default `fallback`) in milliseconds: a number of seconds, 0 or more. */
export function cleanupIntervalMs(where: string, value: unknown, fallback = 300): number {
  const seconds = value ?? fallback;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
    throw new SessionConfigError(
      `${where}: cleanupIntervalSeconds must be a number of seconds, 0 or more (0 turns the ` +
        "automatic sweep off)",
    );
  }
  return seconds * 1000;
}

/** `log`, or `console.warn` when it is left out: a function taking one line of text. */
export function logOption(where: string, value: unknown): (line: string) => void {
  const log = value ?? ((line: string) => console.warn(line));
  if (typeof log !== "function") {
    throw new SessionConfigError(`${where}: log must be a function taking one line of text`);
  }
  return log as (line: string) => void;
}

/** `migratedIdleSeconds` (default a day) in milliseconds: a number of seconds, more than 0. */
export function migratedIdleMs(where: string, value: unknown): number {
  const seconds = value ?? 86_400;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new SessionConfigError(
      `${where}: migratedIdleSeconds must be a number of seconds, more than 0`,
    );
  }
  return seconds * 1000;
}

/**
 * A `timeoutMs` of a store that talks to a server (default `fallback`): a
 * whole number of milliseconds from 1 to 2^31 - 1 (the longest timer).
 */
export function timeoutMsOption(where: string, value: unknown, fallback = 5000): number {
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || (ms as number) < 1 || (ms as number) > 2 ** 31 - 1) {
    throw new SessionConfigError(
      `${where}: timeoutMs must be a whole number of milliseconds, 1 or more`,
    );
  }
  return ms as number;
}
