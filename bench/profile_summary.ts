/**
 * The top of a V8 CPU profile (`node --cpu-prof`, or `npm run bench --
 * --profile`): self and total time per function, with file:line.
 *
 *   npx tsx bench/profile_summary.ts bench/profiles/<file>.cpuprofile [--top 30] [--match src/]
 *
 * `--match` keeps the functions whose file contains the text (their total
 * time includes what they call); `--from S --to S` keeps the samples taken
 * in that window (seconds from the profile's start), to leave out start-up.
 * Shares are of the busy (non-idle) time.
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
const profile = JSON.parse(readFileSync(positionals[0], "utf8")) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\//, "").replace(process.cwd() + "/", "");
  return `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let totalUs = 0;
let idleUs = 0;
let at = 0;
const from = Number(values.from) * 1e6;
const to = Number(values.to) * 1e6;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  if (at < from || at > to) return;
  totalUs += dt;
  if (byId.get(id)!.callFrame.functionName === "(idle)") idleUs += dt;
  const leaf = byId.get(id)!;
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + dt);
  // Each function once per sample, however deep its recursion.
  const seen = new Set<string>();
  for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
    const key = name(n);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
});

const top = Number(values.top);
const pct = (us: number) => `${((100 * us) / (totalUs - idleUs)).toFixed(1).padStart(5)}%`;
const keep = (key: string) => !values.match || key.includes(values.match);
process.stdout.write(
  `${positionals[0]}: ${(totalUs / 1e6).toFixed(1)} s sampled, ` +
    `${
      ((totalUs - idleUs) / 1e6).toFixed(1)
    } s busy (shares below are of the busy time)\n\nself time\n`,
);
for (
  const [key, us] of [...self].filter(([k]) => keep(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
) {
  process.stdout.write(`${pct(us)}  ${key}\n`);
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
