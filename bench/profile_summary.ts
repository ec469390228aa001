/**
 * The top of a V8 CPU profile (`node --cpu-prof`, or `npm run bench --
 * --profile`): self and total time per function, with file:line.
 *
 *   npx tsx bench/profile_summary.ts bench/profiles/<file>.cpuprofile [--top 30] [--match src/]
 *   npx tsx bench/profile_summary.ts FILE --under src/middleware.ts --requests 40000
 *
 * `--match` keeps the functions whose file contains the text (their total
 * time includes what they call), and sums their self time (`--match src/`:
 * the library's own code, without the drivers and Oak it calls); `--from S --to S` keeps the samples taken
 * in that window (seconds from the profile's start), to leave out start-up.
 * `--minus OTHER.cpuprofile` subtracts another profile's time, function by
 * function (both of the same number of requests: with sessions and bare Oak,
 * as `bench/in_process.ts --profile` writes them), so what is listed is what
 * the first run added.
 * `--under TEXT` keeps only the samples taken inside a function whose name or
 * file contains the text (`src/middleware.ts`: the session middleware and all
 * it calls, Oak's cookie code among them), and lists the functions those
 * samples spent their time in. `--requests N` adds µs per request beside
 * each share (the sampled time over N requests). Shares are of the busy
 * (non-idle) time.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: "string", default: "30" },
    match: { type: "string" },
    from: { type: "string", default: "0" },
    to: { type: "string", default: "Infinity" },
    under: { type: "string" },
    minus: { type: "string" },
    requests: { type: "string" },
  },
});
if (positionals.length !== 1) {
  process.stderr.write(
    "usage: npx tsx bench/profile_summary.ts FILE.cpuprofile [--top N] [--match TEXT]\n",
  );
  process.exit(2);
}
// Piped into `head`: stop quietly when the reader has had enough.
process.stdout.on("error", () => process.exit(0));
const name = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\//, "").replace(process.cwd() + "/", "");
  return `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
};

/** A profile's time (µs) per function, self and with callees, in the window and under `--under`. */
interface Summary {
  self: Map<string, number>;
  inclusive: Map<string, number>;
  totalUs: number;
  idleUs: number;
  underUs: number;
}

function summarise(file: string): Summary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const up = (n: ProfileNode) => byId.get(parent.get(n.id) ?? -1);
  const out: Summary = { self: new Map(), inclusive: new Map(), totalUs: 0, idleUs: 0, underUs: 0 };
  let at = 0;
  const from = Number(values.from) * 1e6;
  const to = Number(values.to) * 1e6;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < from || at > to) return;
    out.totalUs += dt;
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === "(idle)") out.idleUs += dt;
    if (values.under !== undefined) {
      let inside = false;
      for (let n: ProfileNode | undefined = leaf; n && !inside; n = up(n)) {
        inside = name(n).includes(values.under);
      }
      if (!inside) return;
      out.underUs += dt;
    }
    out.self.set(name(leaf), (out.self.get(name(leaf)) ?? 0) + dt);
    // Each function once per sample, however deep its recursion.
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = up(n)) {
      const key = name(n);
      if (seen.has(key)) continue;
      seen.add(key);
      out.inclusive.set(key, (out.inclusive.get(key) ?? 0) + dt);
    }
  });
  return out;
}

const summary = summarise(positionals[0]);
if (values.minus !== undefined) {
  const other = summarise(values.minus);
  for (const what of ["self", "inclusive"] as const) {
    for (const [key, us] of other[what]) summary[what].set(key, (summary[what].get(key) ?? 0) - us);
  }
  summary.underUs -= other.underUs;
}
const { self, inclusive, totalUs, idleUs, underUs } = summary;

const top = Number(values.top);
const requests = values.requests === undefined ? undefined : Number(values.requests);
const pct = (us: number) =>
  `${((100 * us) / (totalUs - idleUs)).toFixed(1).padStart(5)}%` +
  (requests === undefined ? "" : `  ${(us / requests).toFixed(2).padStart(6)} µs/req`);
const keep = (key: string) => !values.match || key.includes(values.match);
process.stdout.write(
  `${positionals[0]}${values.minus ? ` less ${values.minus}` : ""}: ` +
    `${(totalUs / 1e6).toFixed(1)} s sampled, ` +
    `${((totalUs - idleUs) / 1e6).toFixed(1)} s busy (shares below are of the busy time)\n` +
    (values.under === undefined ? "" : `inside ${values.under}: ${pct(underUs)}\n`) +
    "\nself time\n",
);
for (
  const [key, us] of [...self].filter(([k]) => keep(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
) {
  process.stdout.write(`${pct(us)}  ${key}\n`);
}
if (values.match) {
  let sum = 0;
  for (const [key, us] of self) if (keep(key)) sum += us;
  process.stdout.write(`${pct(sum)}  all self time in functions matching ${values.match}\n`);
}
process.stdout.write("\ntotal time (with callees)\n");
for (
  const [key, us] of [...inclusive].filter(([k]) => keep(k)).sort((a, b) => b[1] - a[1]).slice(
    0,
    top,
  )
) {
  process.stdout.write(`${pct(us)}  ${key}\n`);
}
