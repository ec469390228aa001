/**
 * autocannon in a process of its own (so it never shares an event loop
 * with the runner): `node --import tsx bench/autocannon_child.ts '<LoadOptions JSON>'`
 * prints one line of LoadResult JSON.
 *
 * @module
 */
import { createRequire } from "node:module";
import type { LoadOptions, LoadResult } from "./load.ts";

interface AutocannonResult {
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p99: number };
}

// autocannon ships no types; this is the part used here.
const autocannon = createRequire(import.meta.url)("autocannon") as (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}) => Promise<AutocannonResult>;

const options = JSON.parse(process.argv[2]) as LoadOptions;
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  headers: options.cookie ? { cookie: options.cookie } : {},
});
const out: LoadResult = {
  rps: result["2xx"] / result.duration,
  requests: result["2xx"] + result.non2xx,
  bad: result.non2xx + result.errors + result.timeouts,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
};
process.stdout.write(JSON.stringify(out) + "\n");
