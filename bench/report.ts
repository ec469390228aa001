/**
 * The report of a run: Markdown tables (bench/RESULTS.md and the section of
 * docs/benchmarks.md), the console table, and the SVG bar chart of ratios
 * (hand-written, no dependencies).
 *
 * @module
 */
import type { Counts } from "./counts.ts";
import { type Scenario, SCENARIO_TEXT, type Subject, subjectLabel } from "./subjects.ts";

/** One throughput row: a subject in a scenario against its bare framework. */
export interface Row {
  scenario: Scenario;
  subject: Subject;
  /** Median req/s of the bare framework, and with sessions. */
  bare: number;
  with: number;
  /** Median over rounds of with / bare, each round's pair measured back to back. */
  ratio: number;
  /** Median over rounds of 1e6/with − 1e6/bare: microseconds sessions add to a request. */
  addedMicros: number;
  /** Every round's figure, for the record. */
  bareRounds: number[];
  withRounds: number[];
  /** Non-2xx responses and socket errors during the measured runs. */
  bad: number;
  p99Ms: number;
  /** Median CPU time (user + system) of the server process per response, bare and with sessions. */
  bareCpuMicros: number;
  withCpuMicros: number;
  /** oak-sessions' target share, where one applies. */
  target?: number;
}

/** Where and how a run was measured. */
export interface RunInfo {
  date: string;
  machine: string;
  load: string;
  elapsedSeconds: number;
  notes: string[];
}

/** A target and whether it was met. */
export interface TargetCheck {
  text: string;
  met: boolean;
}

export const ratioOf = (r: Row) => r.ratio;
export const addedMicros = (r: Row) => r.addedMicros;

const int = (n: number) => Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
const fixed = (n: number, d: number) => Number.isFinite(n) ? n.toFixed(d) : "n/a";

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

function targetCell(r: Row): string {
  if (r.target === undefined) return "";
  return `${ratioOf(r) >= r.target ? "✓" : "✗"} ≥ ${r.target.toFixed(2)}`;
}

/** The throughput table. */
export function throughputTable(rows: Row[]): string {
  return markdownTable(
    [
      "scenario",
      "subject",
      "bare req/s",
      "with sessions req/s",
      "ratio",
      "added µs/req",
      "server CPU µs/req",
      "target",
    ],
    ["l", "l", "r", "r", "r", "r", "r", "l"],
    rows.map((r) => [
      r.scenario,
      subjectLabel(r.subject) + (r.bad > 0 ? ` (${int(r.bad)} errors)` : ""),
      int(r.bare),
      int(r.with),
      fixed(ratioOf(r), 2),
      fixed(addedMicros(r), 1),
      `${fixed(r.bareCpuMicros, 1)} → ${fixed(r.withCpuMicros, 1)}`,
      targetCell(r),
    ]),
  );
}

/** One row of round trips. */
export interface CountRow {
  scenario: Scenario;
  subject: Subject;
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
  out.push("![ratio of bare throughput kept with sessions](results.svg)", "");
  out.push("## Throughput", "");
  out.push(
    "Each subject against its own bare framework (same routes and bodies, no sessions), in the",
    "same run: in every round the bare app is measured right before the subject's scenarios, and",
    "each figure is the median over the interleaved rounds. ratio = with / bare; added µs/req =",
    "1e6/with − 1e6/bare (the time sessions add to one request on a saturated core), both taken",
    "per round from that round's pair. server CPU µs/req is",
    "the server process's own CPU time (user + system) per response, bare → with sessions: it",
    "leaves out the store's server (Redis, Webdis) and varies less than req/s when other work",
    "shares the machine.",
    "",
  );
  out.push(throughputTable(rows), "");
  out.push("## Store round trips per request", "");
  out.push(
    "Counted outside the load, over sequential requests: store calls as the session library",
    "made them, backend round trips (Redis commands a client sent, seen by MONITOR in the bench's",
    "own database; SQL statements run), writes among those, and the share of responses with a",
    "Set-Cookie header.",
    "",
  );
  out.push(countsTable(counts), "");
  out.push("## Targets (oak-sessions)", "");
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
  out.push("", "## Every round (req/s)", "");
  out.push(
    markdownTable(
      ["scenario", "subject", "bare", "with sessions"],
      ["l", "l", "l", "l"],
      rows.map((r) => [
        r.scenario,
        subjectLabel(r.subject),
        r.bareRounds.map(int).join(", "),
        r.withRounds.map(int).join(", "),
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

/** The generated part of docs/benchmarks.md: when, where, the tables, the chart. */
export function docsSection(
  info: RunInfo,
  rows: Row[],
  counts: CountRow[],
  targets: TargetCheck[],
): string {
  return [
    ...measuredOn(info),
    "",
    "![ratio of bare throughput kept with sessions](bench/results.svg)",
    "",
    throughputTable(rows),
    "",
    countsTable(counts),
    "",
    ...targets.map(bullet),
  ].join("\n");
}

/** The table for the console. */
export function consoleTable(rows: Row[]): string {
  return throughputTable(rows);
}

const escapeXml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A horizontal bar chart of the ratios, one group per scenario. */
export function resultsSvg(info: RunInfo, rows: Row[]): string {
  const width = 860;
  const labelWidth = 250;
  const barMax = 480;
  const scaleMax = Math.max(1.1, ...rows.map((r) => Math.min(ratioOf(r), 1.5)));
  const x = (ratio: number) =>
    labelWidth + (Math.max(0, Math.min(ratio, scaleMax)) / scaleMax) * barMax;
  const rowHeight = 18;
  const parts: string[] = [];
  let y = 56;
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const group = rows.filter((r) => r.scenario === scenario);
    parts.push(
      `<text x="12" y="${y + 14}" class="h">${escapeXml(scenario)}</text>`,
      `<text x="${labelWidth}" y="${y + 14}" class="s">${
        escapeXml(SCENARIO_TEXT[scenario])
      }</text>`,
    );
    y += 22;
    const top = y;
    for (const r of group) {
      const ratio = ratioOf(r);
      const fill = r.subject.ours
        ? (r.target !== undefined && ratio < r.target ? "#d9822b" : "#2f6fde")
        : "#9aa3ad";
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 13}" class="l">${
          escapeXml(subjectLabel(r.subject))
        }</text>`,
        `<rect x="${labelWidth}" y="${y + 3}" width="${
          (x(ratio) - labelWidth).toFixed(1)
        }" height="${rowHeight - 6}" fill="${fill}"/>`,
        `<text x="${(x(ratio) + 6).toFixed(1)}" y="${y + 13}" class="v">${fixed(ratio, 2)}</text>`,
      );
      if (r.target !== undefined) {
        const tx = x(r.target).toFixed(1);
        parts.push(
          `<line x1="${tx}" x2="${tx}" y1="${y + 1}" y2="${y + rowHeight - 1}" class="t"/>`,
        );
      }
      y += rowHeight;
    }
    const one = x(1).toFixed(1);
    parts.push(`<line x1="${one}" x2="${one}" y1="${top}" y2="${y}" class="one"/>`);
    y += 14;
  }
  const height = y + 40;
  const legendY = height - 22;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.title{font-size:15px;font-weight:600;fill:#1f2328}
.h{font-size:13px;font-weight:600;fill:#1f2328}
.s{font-size:11px;fill:#59636e}
.l{font-size:12px;fill:#1f2328;text-anchor:end}
.v{font-size:11px;fill:#1f2328}
.f{font-size:11px;fill:#59636e}
.t{stroke:#1f2328;stroke-width:2}
.one{stroke:#59636e;stroke-width:1;stroke-dasharray:3 3}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="24" class="title">Share of bare-framework throughput kept with sessions (higher is better)</text>
<text x="12" y="42" class="f">${escapeXml(`${info.date} · ${info.machine} · ${info.load}`)}</text>
${parts.join("\n")}
<rect x="12" y="${
    legendY - 9
  }" width="10" height="10" fill="#2f6fde"/><text x="28" y="${legendY}" class="f">oak-sessions</text>
<rect x="120" y="${
    legendY - 9
  }" width="10" height="10" fill="#d9822b"/><text x="136" y="${legendY}" class="f">oak-sessions below its target</text>
<rect x="320" y="${
    legendY - 9
  }" width="10" height="10" fill="#9aa3ad"/><text x="336" y="${legendY}" class="f">peers</text>
<line x1="390" x2="390" y1="${legendY - 10}" y2="${
    legendY + 1
  }" class="t"/><text x="398" y="${legendY}" class="f">target</text>
<line x1="460" x2="460" y1="${legendY - 10}" y2="${
    legendY + 1
  }" class="one"/><text x="468" y="${legendY}" class="f">1.0 = bare</text>
</svg>
`;
}
