/**
 * What `set()`'s value check costs beside `JSON.stringify`, which runs right
 * after it on every `set`/`flash`. The check walks the whole value once, so
 * it should stay within a small factor of the serialisation itself, on deep
 * values as on wide ones.
 *
 * ```sh
 * npx tsx bench/json_check.ts            # Node.js
 * npx deno run bench/json_check.ts       # Deno
 * ```
 *
 * It exits with status 1 when, on the deep values (the shape of a 200 KB
 * value of 50 branches 2,000 deep, brought within MAX_VALUE_DEPTH), the
 * check takes more than twice as long as `JSON.stringify`, or when a value
 * over the limit is refused with anything but a SessionValueError. The
 * other shapes are printed for comparison; each figure is a median of runs
 * taken in turn with `JSON.stringify`'s, but a loaded machine still moves
 * them: run it again before reading much into one figure.
 *
 * @module
 */
import { checkJsonValue, MAX_VALUE_DEPTH, toJson } from "../src/json_value.ts";
import { SessionValueError } from "../src/errors.ts";
import process from "node:process";

/** `branches` arrays, each nesting `depth` arrays: 2 bytes of JSON per level. */
function deep(branches: number, depth: number): unknown[] {
  const out: unknown[] = [];
  for (let b = 0; b < branches; b++) {
    let v: unknown[] = [];
    for (let d = 1; d < depth; d++) v = [v];
    out.push(v);
  }
  return out;
}

/** A wide, realistic value: a cart of items, about `bytes` of JSON. */
function wide(bytes: number): Record<string, unknown> {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < bytes; i++) {
    items.push({
      sku: `sku-${i}`,
      qty: i % 7,
      price: 9.99 + i,
      tags: ["a", "b"],
      gift: i % 2 === 0,
    });
  }
  return { user: { id: "u1", roles: ["admin"] }, items };
}

/** `count` linked lists `{ value, next }`, each `length` long. */
function lists(count: number, length: number): unknown[] {
  return Array.from({ length: count }, () => {
    let list: unknown = null;
    for (let i = 0; i < length; i++) list = { value: i, next: list };
    return list;
  });
}

/** A full binary tree of `levels` levels: every inner node branches. */
function tree(levels: number): unknown {
  return levels === 0 ? [] : { l: tree(levels - 1), r: tree(levels - 1) };
}

/**
 * Median milliseconds of one run of `a` and of `b`, run in turn over about
 * `budgetMs`, so that load from other processes falls on both alike.
 */
function medians(a: () => void, b: () => void, budgetMs = 600): [number, number] {
  a();
  b();
  const ta: number[] = [];
  const tb: number[] = [];
  const end = performance.now() + budgetMs;
  while (performance.now() < end || ta.length < 7) {
    let t = performance.now();
    a();
    ta.push(performance.now() - t);
    t = performance.now();
    b();
    tb.push(performance.now() - t);
  }
  const mid = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1];
  return [mid(ta), mid(tb)];
}

function row(name: string, value: unknown): number {
  const json = JSON.stringify(value);
  const [stringify, check] = medians(
    () => JSON.stringify(value),
    () => checkJsonValue("k", value),
  );
  const ratio = check / stringify;
  console.log(
    `${name.padEnd(44)} ${(json.length / 1024).toFixed(0).padStart(5)} KB  ` +
      `stringify ${stringify.toFixed(2).padStart(7)} ms  check ${
        check.toFixed(2).padStart(7)
      } ms  ` +
      `check/stringify ${ratio.toFixed(2)}`,
  );
  return ratio;
}

const depth = MAX_VALUE_DEPTH;
const gated = [
  row(`100 branches, ${depth} deep in all (the limit)`, deep(100, depth - 1)),
  row(`50 branches, ${depth} deep in all`, deep(50, depth - 1)),
];
row("a wide object (a cart of items)", wide(200 * 1024));
row(`linked lists, ${depth} deep in all`, lists(10, depth - 1));
row("a binary tree 14 levels deep", tree(14));

// The value of the report: deeper than the limit, so refused; what matters is
// that refusing it is quick and is a SessionValueError, not a RangeError.
const tooDeep = deep(50, 2000);
let refused = "";
const [refusing] = medians(() => {
  try {
    toJson("k", tooDeep);
    refused = "nothing";
  } catch (e) {
    refused = e instanceof SessionValueError ? "SessionValueError" : String(e);
  }
}, () => {});
console.log(
  `${"50 branches, 2001 deep in all (over the limit)".padEnd(44)} ${
    (JSON.stringify(tooDeep).length / 1024).toFixed(0).padStart(5)
  } KB  refused in ${refusing.toFixed(2)} ms with ${refused}`,
);

const worst = Math.max(...gated);
console.log(
  worst <= 2
    ? `ok: on the deep values the check is within 2x of JSON.stringify (worst ${worst.toFixed(2)})`
    : `slow: on the deep values the check takes ${worst.toFixed(2)}x JSON.stringify`,
);
if (worst > 2 || refused !== "SessionValueError") process.exitCode = 1;
