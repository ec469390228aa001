/**
 * Check 5, memory bound: a MemoryStore with `maxSessions` holds at most that
 * many sessions however many are created, and its process's memory stays
 * flat once it is full (see `stress/memory_bound.ts`).
 *
 * @module
 */
import { mb } from "../context.ts";
import { type CheckResult, Figures } from "../result.ts";
import { runChild } from "../services.ts";

interface BoundReport {
  sessions: number;
  errors: number;
  bound: number;
  held: number;
  maxHeld: number;
  rssEmpty: number;
  rssFull: number;
  rssAfter: number;
  heapFull: number;
  heapAfter: number;
  perSecond: number;
}

/** Figures of check 5. */
export async function memoryBound(
  sessions: number,
  bound: number,
  deadlineMs: number,
): Promise<CheckResult> {
  const started = Date.now();
  const f = new Figures();
  let report: BoundReport;
  try {
    // The child stops itself at the deadline; the kill after a grace period is for a hang.
    report = await runChild(
      "memory_bound.ts",
      { sessions, bound, deadlineMs },
      deadlineMs + 60_000,
    ) as BoundReport;
  } catch (error) {
    f.fail((error as Error).message);
    return f.result(5, "memory bound", "memory", started);
  }
  f.equal("sessions created", report.sessions, sessions)
    .set("bound", bound)
    .atMost("held", report.held, bound)
    .atMost("most held at any sample", report.maxHeld, bound)
    .equal("errors", report.errors, 0)
    .set("RSS MB empty", mb(report.rssEmpty))
    .set("RSS MB full", mb(report.rssFull))
    .set("RSS MB after", mb(report.rssAfter))
    .set("heap MB full", mb(report.heapFull))
    .set("heap MB after", mb(report.heapAfter))
    .set("sessions/s", report.perSecond);
  return f.result(5, "memory bound", "memory", started);
}
