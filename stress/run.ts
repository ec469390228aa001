/**
 * `npm run stress`: the stress and fault suite at full size (about 20 minutes
 * on 2 cores), one line per check and store with its figures. Exit status 1
 * when a figure broke its property.
 *
 * ```sh
 * npm run stress                                # full size, every check, every store
 * npm run stress -- --size small                # the size npm test runs
 * npm run stress -- --checks 1,3 --stores memory,sqlite --seed 42
 * npm run stress -- --json stress-report.json  # also write every figure as JSON
 * ```
 *
 * Needs redis-server and webdis installed (it starts its own, on spare ports)
 * and wrk for the anonymous flood (without it, a slower Node client floods).
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { isStoreKind, type StoreKind } from "../test/kit/stores.ts";
import { runStress } from "./harness.ts";
import type { Size } from "./result.ts";

function usage(problem: string): never {
  console.error(
    `${problem}\nusage: npm run stress -- [--size small|full] [--checks 1,2,...] ` +
      "[--stores memory,cookie,sqlite,redis,webdis,postgres,mysql] [--seed N] [--json FILE]",
  );
  process.exit(2);
}

let size: Size = "full";
let checks: number[] | undefined;
let stores: StoreKind[] | undefined;
let seed: number | undefined;
let json: string | undefined;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split("=", 2);
  const value = () => inline ?? args[++i] ?? usage(`${flag} needs a value`);
  switch (flag) {
    case "--size": {
      const v = value();
      if (v !== "small" && v !== "full") usage(`--size is small or full, not ${v}`);
      size = v;
      break;
    }
    case "--checks":
      checks = value().split(",").map(Number);
      if (checks.some((n) => !Number.isInteger(n) || n < 1 || n > 9)) usage("checks are 1 to 9");
      break;
    case "--stores":
      stores = value().split(",").map((s) => (isStoreKind(s) ? s : usage(`unknown store ${s}`)));
      break;
    case "--seed":
      seed = Number(value());
      if (!Number.isInteger(seed)) usage("--seed takes an integer");
      break;
    case "--json":
      json = value();
      break;
    default:
      usage(`unknown argument ${args[i]}`);
  }
}

// Exit through process.exit, so the services this run started are killed on the way out.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

try {
  const report = await runStress({ size, checks, stores, seed, log: (line) => console.log(line) });
  if (json) {
    writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2));
  }
  process.exit(report.results.some((r) => r.problems.length) ? 1 : 0);
} catch (error) {
  console.error(`stress: ${(error as Error).message}`);
  process.exit(2);
}
