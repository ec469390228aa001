/**
 * What a check reports: its figures by name, and the figures that broke the
 * property the check proves, in words.
 *
 * @module
 */

/** How big a run is: `small` (seconds per check, run by `npm test`) or `full`. */
export type Size = "small" | "full";

/** The outcome of one check against one store. */
export interface CheckResult {
  /** The check's number in the suite (1 to 9). */
  check: number;
  title: string;
  /** The store it ran against ("memory", "sqlite"...; "-" when none). */
  store: string;
  /** Figures by the name they are printed with, in print order. */
  figures: Record<string, number | string>;
  /** Set when the property does not hold by design for this store: the reason. */
  na?: string;
  /** Each figure that broke its expectation, in words; empty when all held. */
  problems: string[];
  seconds: number;
}

/** Collects figures and checks them against their expectations as they are set. */
export class Figures {
  readonly figures: Record<string, number | string> = {};
  readonly problems: string[] = [];

  /** Record a figure with no expectation. */
  set(name: string, value: number | string): this {
    this.figures[name] = value;
    return this;
  }

  /** Record a figure that must equal `expected`. */
  equal(name: string, value: number, expected: number): this {
    this.figures[name] = value;
    if (value !== expected) this.problems.push(`${name} is ${value}, expected ${expected}`);
    return this;
  }

  /** Record a figure that must be at most `bound`. */
  atMost(name: string, value: number, bound: number): this {
    this.figures[name] = value;
    if (!(value <= bound)) this.problems.push(`${name} is ${value}, expected at most ${bound}`);
    return this;
  }

  /** Record a figure that must be at least `bound`. */
  atLeast(name: string, value: number, bound: number): this {
    this.figures[name] = value;
    if (!(value >= bound)) this.problems.push(`${name} is ${value}, expected at least ${bound}`);
    return this;
  }

  /** Note a problem that is not one figure. */
  fail(problem: string): this {
    this.problems.push(problem);
    return this;
  }

  result(check: number, title: string, store: string, startedAt: number): CheckResult {
    return {
      check,
      title,
      store,
      figures: this.figures,
      problems: this.problems,
      seconds: (Date.now() - startedAt) / 1000,
    };
  }
}

/** A result for a store the property does not apply to, with the reason. */
export function notApplicable(
  check: number,
  title: string,
  store: string,
  reason: string,
): CheckResult {
  return { check, title, store, figures: {}, na: reason, problems: [], seconds: 0 };
}

function show(value: number | string): string {
  return typeof value === "number" && Number.isInteger(value)
    ? value.toLocaleString("en-US")
    : String(value);
}

/** One line: the check, the store, every figure, the time, and ok / FAIL. */
export function formatResult(r: CheckResult): string {
  const head = `${r.check} ${r.title.padEnd(17)} ${r.store.padEnd(7)}`;
  if (r.na) return `${head} n/a: ${r.na}`;
  const figures = Object.entries(r.figures).map(([k, v]) => `${k} ${show(v)}`).join(", ");
  const verdict = r.problems.length ? `FAIL (${r.problems.join("; ")})` : "ok";
  return `${head} ${figures} [${r.seconds.toFixed(1)} s] ${verdict}`;
}
