/**
 * The in-process benchmark as a part of `npm run bench`: `bench/in_process.ts`
 * run in a child process on Node.js (through tsx) and on Deno, its progress
 * shown as it goes, its rows read back from a JSON file.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { InProcessRow } from "./in_process_targets.ts";
import { DENO } from "./processes.ts";

const SCRIPT = fileURLToPath(new URL("./in_process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** How many rounds of how many requests per app and scenario. */
export interface InProcessSize {
  rounds: number;
  requests: number;
}

/**
 * The rows of one in-process run on `runtime`; `undefined` (with the reason
 * on stderr) when it failed.
 */
export function runInProcess(
  runtime: "node" | "deno",
  size: InProcessSize,
): InProcessRow[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-inproc-json-"));
  const json = join(dir, "rows.json");
  const args = [
    "--rounds",
    String(size.rounds),
    "--requests",
    String(size.requests),
    "--json",
    json,
  ];
  const [command, prefix] = runtime === "deno"
    ? [DENO, ["run", "-A", "--quiet", SCRIPT]]
    : [process.execPath, ["--import", "tsx", SCRIPT]];
  try {
    const done = spawnSync(command, [...prefix, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (done.status !== 0) {
      process.stderr.write(`in-process benchmark on ${runtime} failed (exit ${done.status})\n`);
      return undefined;
    }
    return JSON.parse(readFileSync(json, "utf8")) as InProcessRow[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
