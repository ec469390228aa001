/**
 * The parts of Bun's own module (`import ... from "bun"`) the Bun tests use,
 * typed here so the type check needs no Bun types, and loaded only on Bun:
 * these tests run with `bun test test/bun/`, and fail loudly anywhere else.
 *
 * @module
 */

/** Bun's `RedisClient` (`new RedisClient(url)`), as far as the tests use it. */
export interface BunRedisClient {
  readonly connected: boolean;
  connect(): Promise<void>;
  send(command: string, args: string[]): Promise<unknown>;
  close(): void;
}

/** Bun's `SQL` instance (`new SQL(url)`): a tagged-template function. */
export interface BunSql {
  (strings: TemplateStringsArray, ...values: unknown[]): Promise<unknown>;
  unsafe(
    query: string,
    params?: unknown[],
  ): Promise<unknown[]> & { values(): Promise<unknown[][]> };
  begin(fn: (tx: unknown) => unknown): Promise<unknown>;
  end(options?: { timeout?: number }): Promise<void>;
  close(options?: { timeout?: number }): Promise<void>;
}

/** What the tests take from `bun`. */
export interface BunModule {
  readonly version: string;
  RedisClient: new (url: string, options?: Record<string, unknown>) => BunRedisClient;
  SQL: new (url: string, options?: Record<string, unknown>) => BunSql;
}

/** Whether this process is Bun. */
export const isBun = "Bun" in globalThis;

/** Bun's module; throws, saying how to run these tests, anywhere but Bun. */
export async function bun(): Promise<BunModule> {
  if (!isBun) {
    throw new Error("test/bun/ holds Bun's own tests: run them with `npx bun test test/bun/`");
  }
  const spec = "bun";
  return (await import(spec)) as BunModule;
}
