/**
 * The report of a run: Markdown tables (bench/RESULTS.md, the section of
 * docs/benchmarks.md and the README's), the console table, and the SVG bar
 * chart (hand-written, no dependencies).
 *
 * The headline figure is the server's CPU time per response: what sessions
 * add to it over the bare framework on the same runtime, and the ratio
 * bare / with. Both are taken per round from a pair measured back to back,
 * and shown as the median with the spread (min–max) over the rounds. req/s
 * is kept beside them, but on a shared machine it moves with everyone
 * else's work far more than CPU time per response does.
 *
 * @module
 */
import type { Counts } from "./counts.ts";
export type { Counts } from "./counts.ts";
import {
  type Runtime,
  RUNTIME_LABEL,
  type Scenario,
  SCENARIO_TEXT,
  type Subject,
  subjectLabel,
} from "./subjects.ts";

/** A figure over rounds: the median, and the lowest and highest round. */
export interface Spread {
  /** The middle round (the mean of the two middle ones for an even count). */
  median: number;
  /** The lowest round. */
  min: number;
  /** The highest round. */
  max: number;
}

/** The spread of `xs` (NaN entries left out; all NaN when none is left). */
export function spread(xs: number[]): Spread {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN };
  const m = s.length >> 1;
  return {
    median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2,
    min: s[0],
    max: s[s.length - 1],
  };
}

/** One row: a subject in a scenario against its bare framework, over every round. */
export interface Row {
  /** The request pattern. */
  scenario: Scenario;
  /** The framework, library and store measured. */
  subject: Subject;
  /** Server CPU µs per response of the bare framework and with sessions, each round. */
  bareCpuRounds: number[];
  /** Server CPU µs per response with sessions, each round. */
  withCpuRounds: number[];
  /** req/s of the bare framework and with sessions, each round. */
  bareRpsRounds: number[];
  /** req/s with sessions, each round. */
  withRpsRounds: number[];
  /** with − bare server CPU µs per response, per round: what sessions add. */
  added: Spread;
  /** bare / with server CPU per response, per round (1 = free; higher is better). */
  ratio: Spread;
  /** Server CPU µs per response of the bare framework, over rounds. */
  bareCpu: Spread;
  /** Server CPU µs per response with sessions, over rounds. */
  withCpu: Spread;
  /** req/s of the bare framework, over rounds. */
  bareRps: Spread;
  /** req/s with sessions, over rounds. */
  withRps: Spread;
  /** Non-2xx responses and socket errors during the measured runs. */
  bad: number;
  /** Median p99 latency with sessions, ms. */
  p99Ms: number;
  /** oak-sessions' target: the most added CPU µs per request, where one applies. */
  target?: number;
}

/** Build a row from its rounds (`bare[i]` and `with[i]` measured back to back). */
export function makeRow(
  scenario: Scenario,
  subject: Subject,
  bare: { cpuMicros: number; rps: number }[],
  runs: { cpuMicros: number; rps: number; bad: number; p99Ms: number }[],
  target: number | undefined,
): Row {
  return {
    scenario,
    subject,
    bareCpuRounds: bare.map((r) => r.cpuMicros),
    withCpuRounds: runs.map((r) => r.cpuMicros),
    bareRpsRounds: bare.map((r) => r.rps),
    withRpsRounds: runs.map((r) => r.rps),
    added: spread(runs.map((r, i) => r.cpuMicros - bare[i].cpuMicros)),
    ratio: spread(runs.map((r, i) => bare[i].cpuMicros / r.cpuMicros)),
    bareCpu: spread(bare.map((r) => r.cpuMicros)),
    withCpu: spread(runs.map((r) => r.cpuMicros)),
    bareRps: spread(bare.map((r) => r.rps)),
    withRps: spread(runs.map((r) => r.rps)),
    bad: runs.reduce((a, r) => a + r.bad, 0),
    p99Ms: spread(runs.map((r) => r.p99Ms)).median,
    target,
  };
}

/** Where and how a run was measured. */
export interface RunInfo {
  /** When it ended, `2026-01-31 12:00 UTC`. */
  date: string;
  /** Cores, CPU, memory, OS and runtime versions. */
  machine: string;
  /** The load generator and the rounds. */
  load: string;
  /** How the Deno servers serve, when Deno rows are in the run. */
  denoServer?: string;
  /** How long the run took. */
  elapsedSeconds: number;
  /** What a reader should know about this run (left-out rows, failures, load). */
  notes: string[];
  /**
   * The in-process part of the run (`bench/in_process.ts`), as Markdown
   * lines: its table with the targets, met or missed. Empty when left out.
   */
  inProcess: string[];
}

/** A target and whether it was met. */
export interface TargetCheck {
  /** The target and the figure, in words. */
  text: string;
  /** Whether the figure meets it. */
  met: boolean;
}

const int = (n: number) => Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
const fixed = (n: number, d: number) => Number.isFinite(n) ? n.toFixed(d) : "n/a";
/** Microseconds: one decimal below 100, none above. */
const micros = (n: number) => fixed(n, Math.abs(n) < 100 ? 1 : 0);
const signed = (n: number) => (Number.isFinite(n) && n > 0 ? "+" : "") + micros(n);

/** `+12.3 (10.1 to 14.0)`: the median and the spread over rounds. */
function withSpread(
  s: Spread,
  one: (n: number) => string,
  lowHigh: (n: number) => string = one,
): string {
  if (!Number.isFinite(s.median)) return "n/a";
  if (s.min === s.max) return one(s.median);
  return `${one(s.median)} (${lowHigh(s.min)} to ${lowHigh(s.max)})`;
}

/** A per-request figure: `1`, `0.02`, `0`. */
export function perRequest(n: number): string {
  if (Math.abs(n) < 0.005) return "0";
  return Number(n.toFixed(2)).toString();
}

function tally(values: Record<string, number> | undefined): string {
  if (!values) return "n/a";
  const parts = Object.entries(values)
    .filter(([, n]) => Math.abs(n) >= 0.005)
    .map(([name, n]) => (perRequest(n) === "1" ? name : `${perRequest(n)} ${name}`));
  return parts.length === 0 ? "0" : parts.join(" + ");
}

/** A Markdown table in the layout `deno fmt` gives it. */
export function markdownTable(header: string[], align: ("l" | "r")[], rows: string[][]): string {
  const cells = [header, ...rows].map((r) => r.map((c) => c.replaceAll("|", "\\|")));
  const width = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "| " +
    r.map((c, i) => (align[i] === "r" ? c.padStart(width[i]) : c.padEnd(width[i]))).join(" | ") +
    " |";
  const rule = "| " +
    width.map((w, i) => (align[i] === "r" ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ") +
    " |";
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

/** Whether a row meets its added-CPU target (undefined: none applies). */
export function meetsTarget(r: Row): boolean | undefined {
  return r.target === undefined ? undefined : r.added.median <= r.target;
}

function targetCell(r: Row): string {
  const met = meetsTarget(r);
  return met === undefined ? "" : `${met ? "✓" : "✗"} ≤ ${r.target}`;
}

/** The headline table of one runtime's rows. */
export function cpuTable(rows: Row[]): string {
  return markdownTable(
    [
      "scenario",
      "subject",
      "added CPU µs/req",
      "CPU ratio bare/with",
      "server CPU µs/req, bare → with",
      "req/s, bare → with",
      "target",
    ],
    ["l", "l", "r", "r", "r", "r", "l"],
    rows.map((r) => [
      r.scenario,
      subjectLabel(r.subject) + (r.bad > 0 ? ` (${int(r.bad)} errors)` : ""),
      withSpread(r.added, signed, micros),
      withSpread(r.ratio, (n) => fixed(n, 2)),
      `${micros(r.bareCpu.median)} → ${micros(r.withCpu.median)}`,
      `${int(r.bareRps.median)} → ${int(r.withRps.median)}`,
      targetCell(r),
    ]),
  );
}

/** The runtimes among `rows`, Node.js first. */
function runtimesOf(rows: { subject: Subject }[]): Runtime[] {
  return (["node", "deno", "bun"] as const).filter((rt) =>
    rows.some((r) => r.subject.runtime === rt)
  );
}

/** One `### Node.js` / `### Deno` / `### Bun` block per runtime, each with its table. */
function perRuntime(rows: Row[], level: string, intro: (rt: Runtime) => string[]): string[] {
  const out: string[] = [];
  for (const rt of runtimesOf(rows)) {
    out.push(`${level} ${RUNTIME_LABEL[rt]}`, "", ...intro(rt));
    out.push(cpuTable(rows.filter((r) => r.subject.runtime === rt)), "");
  }
  return out;
}

const runtimeIntro = (info: RunInfo) => (rt: Runtime): string[] =>
  rt === "deno" && info.denoServer ? [wrap(info.denoServer), ""] : [];

/** One row of round trips. */
export interface CountRow {
  /** The request pattern. */
  scenario: Scenario;
  /** The framework, library and store counted. */
  subject: Subject;
  /** What one request cost, on average. */
  counts: Counts;
}

/** The round-trips table. */
export function countsTable(rows: CountRow[]): string {
  return markdownTable(
    [
      "scenario",
      "subject",
      "store calls/req",
      "backend round trips/req",
      "writes/req",
      "Set-Cookie",
    ],
    ["l", "l", "l", "l", "r", "r"],
    rows.map(({ scenario, subject, counts }) => {
      let backend = counts.backend ? tally(counts.backend) : "none";
      const script = tally(counts.scriptCommands);
      if (counts.scriptCommands && script !== "0") backend += ` (script ran: ${script})`;
      const writes = counts.backendWrites ?? counts.writeOps;
      return [
        scenario,
        subjectLabel(subject) + (counts.failures > 0 ? ` (${counts.failures} failed)` : ""),
        counts.ops && Object.keys(counts.ops).length > 0 ? tally(counts.ops) : "no store",
        backend,
        writes === undefined ? "n/a" : perRequest(writes),
        `${Math.round(counts.setCookie * 100)}%`,
      ];
    }),
  );
}

const HOW_TO_READ = [
  "Each subject against its own bare framework on the same runtime (same routes and bodies, no",
  "sessions), in the same run: in every round the bare app is measured right before the subject's",
  "scenarios. server CPU µs/req is the server process's own CPU time (user + system, every thread)",
  "per response under load; added CPU µs/req = with − bare, and CPU ratio = bare / with, both",
  "taken per round from that round's pair and shown as the median (min–max over the rounds). It",
  "leaves out the store's own server (Redis, Webdis). req/s is the median throughput, kept for",
  "reference: on a shared machine it moves with other work far more than CPU time does.",
];

/** The whole RESULTS.md. */
export function resultsMarkdown(
  info: RunInfo,
  rows: Row[],
  counts: CountRow[],
  targets: TargetCheck[],
  subjects: Subject[],
): string {
  const out: string[] = [];
  out.push("# oak-sessions benchmark results", "");
  out.push(...measuredOn(info), "");
  out.push(`![${CHART_ALT}](results.svg)`, "");
  if (info.inProcess.length > 0) out.push("## In process", "", ...info.inProcess, "");
  out.push("## Server CPU per request", "");
  out.push(wrap(HOW_TO_READ.join(" ")), "");
  out.push(...perRuntime(rows, "###", runtimeIntro(info)));
  out.push("## Store round trips per request", "");
  out.push(
    wrap(
      "Counted outside the load, over sequential requests: store calls as the session library " +
        "made them, backend round trips (Redis commands a client sent, seen by MONITOR in the " +
        "bench's own database; SQL statements run), writes among those, and the share of " +
        "responses with a Set-Cookie header.",
    ),
    "",
  );
  out.push(countsTable(counts), "");
  out.push("## Targets (oak-sessions)", "");
  out.push(targetSummary(targets), "");
  for (const t of targets) out.push(bullet(t));
  out.push("", "## Scenarios", "");
  for (const [name, text] of Object.entries(SCENARIO_TEXT)) {
    out.push(wrap(`**${name}**: ${text}`, "- "));
  }
  out.push("", "## Subjects", "");
  for (const s of subjects) out.push(wrap(`${subjectLabel(s)}: ${s.setup}`, "- "));
  if (info.notes.length > 0) {
    out.push("", "## Notes", "");
    for (const n of info.notes) out.push(wrap(n, "- "));
  }
  out.push("", "## Every round", "");
  out.push(
    markdownTable(
      [
        "scenario",
        "subject",
        "server CPU µs/req, bare",
        "server CPU µs/req, with",
        "req/s, bare",
        "req/s, with",
      ],
      ["l", "l", "l", "l", "l", "l"],
      rows.map((r) => [
        r.scenario,
        subjectLabel(r.subject),
        r.bareCpuRounds.map(micros).join(", "),
        r.withCpuRounds.map(micros).join(", "),
        r.bareRpsRounds.map(int).join(", "),
        r.withRpsRounds.map(int).join(", "),
      ]),
    ),
    "",
  );
  return out.join("\n");
}

function measuredOn(info: RunInfo): string[] {
  return [
    wrap(`Measured ${info.date} on ${info.machine}.`),
    "",
    wrap(`Load: ${info.load}. The run took ${Math.round(info.elapsedSeconds)} s.`),
  ];
}

/** Prose filled to 100 columns as `deno fmt` does (`first` starts the first line, e.g. "- "). */
export function wrap(text: string, first = "", width = 100): string {
  const indent = " ".repeat(first.length);
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const blank = line === first || line === indent;
    if (!blank && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line += (blank ? "" : " ") + word;
    }
  }
  lines.push(line);
  return lines.join("\n");
}

const bullet = (t: TargetCheck) => wrap(`${t.met ? "✓" : "✗"} ${t.text}`, "- ");

/** "Targets met: 40 of 52." */
export function targetSummary(targets: TargetCheck[]): string {
  const met = targets.filter((t) => t.met).length;
  return `Targets met: ${met} of ${targets.length} (✓ met, ✗ missed).`;
}

/** The generated part of docs/benchmarks.md: when, where, the tables, the chart, the targets. */
export function docsSection(
  info: RunInfo,
  rows: Row[],
  counts: CountRow[],
  targets: TargetCheck[],
): string {
  return [
    ...measuredOn(info),
    "",
    `![${CHART_ALT}](../bench/results.svg)`,
    "",
    ...(info.inProcess.length > 0 ? ["#### In process", "", ...info.inProcess, ""] : []),
    "#### Over HTTP",
    "",
    wrap(HOW_TO_READ.join(" ")),
    "",
    ...perRuntime(rows, "####", runtimeIntro(info)),
    "#### Store round trips",
    "",
    countsTable(counts),
    "",
    "#### Targets",
    "",
    targetSummary(targets),
    "",
    ...targets.map(bullet),
  ].join("\n");
}

/** The generated part of the README: the in-process table with its targets, and the tally. */
export function readmeSection(info: RunInfo, targets: TargetCheck[]): string {
  return [
    ...measuredOn(info),
    "",
    ...info.inProcess,
    "",
    wrap(
      `${targetSummary(targets)} Over HTTP, oak-sessions' server CPU per request against bare ` +
        `Oak, and the peers (express-session, koa-session, @fastify/session, hono-sessions) ` +
        `against their own bare frameworks, are in ` +
        "[docs/benchmarks.md](docs/benchmarks.md#latest-results) and " +
        "[bench/RESULTS.md](bench/RESULTS.md); what each " +
        "missed target is spent on, from CPU profiles, in " +
        "[docs/benchmarks.md](docs/benchmarks.md#what-a-session-still-costs-and-why).",
    ),
  ].join("\n");
}

/** The table for the console. */
export function consoleTable(rows: Row[]): string {
  return runtimesOf(rows).map((rt) =>
    `${RUNTIME_LABEL[rt]}\n${cpuTable(rows.filter((r) => r.subject.runtime === rt))}`
  ).join("\n\n");
}

const CHART_ALT = "server CPU per request, bare / with sessions, by scenario and runtime";

const escapeXml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const COLOR = {
  node: "#2f6fde",
  deno: "#12a37f",
  bun: "#8250df",
  missed: "#b35900",
  peer: "#9aa3ad",
};

/**
 * A horizontal bar chart of the CPU ratio bare / with, one group per
 * scenario, with the spread over rounds as a whisker and the added µs as
 * the label; oak-sessions rows that miss their target are orange.
 */
export function resultsSvg(info: RunInfo, rows: Row[]): string {
  const width = 900;
  const labelWidth = 270;
  const barMax = 470;
  const scaleMax = Math.max(1.1, ...rows.map((r) => Math.min(r.ratio.max, 1.5)));
  const x = (ratio: number) =>
    labelWidth + (Math.max(0, Math.min(Number.isFinite(ratio) ? ratio : 0, scaleMax)) / scaleMax) *
      barMax;
  const rowHeight = 18;
  const parts: string[] = [];
  let y = 66;
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    // Ours first (Node.js, then Deno, then Bun), then the peers.
    const order = { node: 0, deno: 1, bun: 2 };
    const group = rows.filter((r) => r.scenario === scenario).sort((a, b) =>
      Number(b.subject.ours) - Number(a.subject.ours) ||
      order[a.subject.runtime] - order[b.subject.runtime]
    );
    parts.push(
      `<text x="12" y="${y + 14}" class="h">${escapeXml(scenario)}</text>`,
      `<text x="${labelWidth}" y="${y + 14}" class="s">${
        escapeXml(SCENARIO_TEXT[scenario])
      }</text>`,
    );
    y += 22;
    const top = y;
    for (const r of group) {
      const fill = r.subject.ours ? COLOR[r.subject.runtime] : COLOR.peer;
      const met = meetsTarget(r);
      const end = x(r.ratio.median);
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 13}" class="l">${
          escapeXml(subjectLabel(r.subject))
        }</text>`,
        `<rect x="${labelWidth}" y="${y + 3}" width="${(end - labelWidth).toFixed(1)}" height="${
          rowHeight - 6
        }" fill="${fill}"/>`,
      );
      if (r.ratio.min !== r.ratio.max) {
        parts.push(
          `<line x1="${x(r.ratio.min).toFixed(1)}" x2="${x(r.ratio.max).toFixed(1)}" y1="${
            y + 9
          }" y2="${y + 9}" class="w"/>`,
        );
      }
      const label = `${fixed(r.ratio.median, 2)} · ${signed(r.added.median)} µs` +
        (met === undefined ? "" : ` ${met ? "✓" : "✗"} ≤ ${r.target}`);
      parts.push(
        `<text x="${(Math.max(end, x(r.ratio.max)) + 6).toFixed(1)}" y="${y + 13}" class="${
          met === false ? "v x" : "v"
        }">${escapeXml(label)}</text>`,
      );
      y += rowHeight;
    }
    const one = x(1).toFixed(1);
    parts.push(`<line x1="${one}" x2="${one}" y1="${top}" y2="${y}" class="one"/>`);
    y += 14;
  }
  const height = y + 40;
  const legendY = height - 22;
  const legend: [string, string][] = [
    [COLOR.node, "oak-sessions, Node.js"],
    [COLOR.deno, "oak-sessions, Deno"],
    ...(rows.some((r) => r.subject.runtime === "bun")
      ? [[COLOR.bun, "oak-sessions, Bun"] as [string, string]]
      : []),
    [COLOR.peer, "peers (Node.js)"],
  ];
  let lx = 12;
  const legendParts: string[] = [];
  for (const [color, text] of legend) {
    legendParts.push(
      `<rect x="${lx}" y="${legendY - 9}" width="10" height="10" fill="${color}"/><text x="${
        lx + 16
      }" y="${legendY}" class="f">${escapeXml(text)}</text>`,
    );
    lx += 30 + text.length * 6;
  }
  legendParts.push(
    `<line x1="${lx}" x2="${lx + 16}" y1="${legendY - 4}" y2="${legendY - 4}" class="w"/><text x="${
      lx + 22
    }" y="${legendY}" class="f">min–max over rounds</text>`,
    `<text x="${lx + 160}" y="${legendY}" class="f">✓ / ✗ added-µs target met / missed</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.title{font-size:15px;font-weight:600;fill:#1f2328}
.h{font-size:13px;font-weight:600;fill:#1f2328}
.s{font-size:11px;fill:#59636e}
.l{font-size:12px;fill:#1f2328;text-anchor:end}
.v{font-size:11px;fill:#1f2328}
.x{fill:${COLOR.missed};font-weight:600}
.f{font-size:11px;fill:#59636e}
.w{stroke:#1f2328;stroke-width:1.5}
.one{stroke:#59636e;stroke-width:1;stroke-dasharray:3 3}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="24" class="title">Server CPU per request, bare / with sessions (1.0 = free; label: ratio · added µs, target)</text>
<text x="12" y="40" class="f">${escapeXml(`${info.date} · ${info.machine}`)}</text>
<text x="12" y="54" class="f">${escapeXml(info.load)}</text>
${parts.join("\n")}
${legendParts.join("\n")}
</svg>
`;
}
