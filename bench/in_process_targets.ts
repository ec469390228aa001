/**
 * The in-process benchmark's figures (`bench/in_process.ts`): its scenarios,
 * oak-sessions' targets for them, one result row, and the tables and
 * met/missed lines that `bench/in_process.ts` prints and `npm run bench`
 * (bench/run.ts) writes into the docs.
 *
 * A target is the most CPU time, in µs per request, that oak-sessions may add
 * to Oak's `app.handle(request)` over bare Oak measured in the same run, on
 * the same runtime.
 *
 * @module
 */
import { markdownTable, type Spread, type TargetCheck } from "./report.ts";

/** The scenarios, in the order they run and are reported. */
export const IN_PROCESS_SCENARIOS = ["read", "write", "new", "anonymous"] as const;
/** One of `IN_PROCESS_SCENARIOS`. */
export type InProcessScenario = (typeof IN_PROCESS_SCENARIOS)[number];

/** What each scenario does, for the reader. */
export const IN_PROCESS_SCENARIO_TEXT: Record<InProcessScenario, string> = {
  read: "the cookie of a prior login; the handler reads one key",
  write: "the cookie of a prior login; the handler changes one key (the cookie is already set)",
  new: "no cookie; the handler stores one key: a first write, with its Set-Cookie",
  anonymous: "no cookie; the handler does not touch the session",
};

/** The stores measured in process. */
export const IN_PROCESS_STORES = ["memory", "cookie", "sqlite"] as const;

/** Targets, in added µs per request, by scenario and store. `anonymous` has none. */
export const IN_PROCESS_TARGETS: Record<string, Record<string, number>> = {
  read: { memory: 3, cookie: 10, sqlite: 10 },
  write: { memory: 8, cookie: 20, sqlite: 25 },
  new: { memory: 12, cookie: 25, sqlite: 35 },
};

/**
 * The target of `store` in `scenario`, if any: a store's variant has its
 * base store's (`sqlite+normal` has SQLite's), but for `+onEvent`, which
 * shows what a listener costs beside the same store without one.
 */
export function inProcessTarget(store: string, scenario: string): number | undefined {
  if (store.endsWith("+onEvent")) return undefined;
  return IN_PROCESS_TARGETS[scenario]?.[store.split("+")[0]];
}

/** One store in one scenario on one runtime, over every round. */
export interface InProcessRow {
  /** `Node.js`, `Deno` or `Bun`. */
  runtime: string;
  /** The store, with its variant when there is one (`memory+onEvent`). */
  store: string;
  scenario: string;
  /** CPU µs per request of bare Oak, over the rounds. */
  bare: Spread;
  /** What sessions add to it, µs per request: per round, with − bare of the pair. */
  added: Spread;
  /** The target, when one applies. */
  target?: number;
  /** The store's set-up (driver, journal mode, synchronous), for the reader. */
  setup?: string;
  /** What another checkout's library added in the same rounds (`--baseline`). */
  before?: Spread;
}

const µs = (n: number) => (n >= 0 ? "+" : "") + n.toFixed(1);

/** `✓ ≤ 8` or `✗ ≤ 8` (empty without a target). */
function targetCell(r: InProcessRow): string {
  if (r.target === undefined) return "";
  return `${r.added.median <= r.target ? "✓ met" : "✗ missed"} (≤ ${r.target})`;
}

const withSpread = (s: Spread) => `${µs(s.median)} (${µs(s.min)} to ${µs(s.max)})`;

/** The rows as one Markdown table (with a `before` column when any row has one). */
export function inProcessTable(rows: InProcessRow[]): string {
  const before = rows.some((r) => r.before !== undefined);
  return markdownTable(
    [
      "runtime",
      "store",
      "scenario",
      "bare Oak µs/req",
      ...(before ? ["added µs/req, before"] : []),
      "added µs/req",
      "target",
    ],
    ["l", "l", "l", "r", ...(before ? ["r" as const] : []), "r", "l"],
    rows.map((r) => [
      r.runtime,
      r.store,
      r.scenario,
      r.bare.median.toFixed(1),
      ...(before ? [r.before ? withSpread(r.before) : ""] : []),
      withSpread(r.added),
      targetCell(r),
    ]),
  );
}

/** Each row with a target, as met or missed. */
export function inProcessTargets(rows: InProcessRow[]): TargetCheck[] {
  return rows.filter((r) => r.target !== undefined).map((r) => ({
    text: `in process, ${r.scenario}, ${r.store} (${r.runtime}): ${
      µs(r.added.median)
    } µs per request over bare Oak (target ≤ ${r.target}; rounds ${r.added.min.toFixed(1)} to ${
      r.added.max.toFixed(1)
    })`,
    met: r.added.median <= r.target!,
  }));
}
