/**
 * Check 8, concurrent increment: many sessions, each hit by many requests at
 * once over many connections, most of them `session.increment("hits")` and
 * the rest `session.set()` of a key of their own. The store applies each
 * increment as an addition in its change set, so none is lost and none is
 * counted twice: at the end each session's counter equals exactly the number
 * of increment requests answered 200, and every key set meanwhile is there
 * (as is the session's canary). A store that wrote back whole sessions, or
 * added to a value read before another request committed, would lose some.
 *
 * Every request answers with the value its own increment reached, as far as
 * it knew; that may lag the stored total, but it is never below 1 nor above
 * the final count.
 *
 * @module
 */
import { cookieHeader, HttpClient } from "../../test/kit/http_client.ts";
import type { RealSession, StoreUnderTest } from "../context.ts";
import { pool } from "../http.ts";
import { type CheckResult, Figures, notApplicable } from "../result.ts";

const TITLE = "concurrent increment";
const COUNTER = "hits";

/** The size of check 8 for one store. */
export interface IncrementLoad {
  /** Sessions, all hit at once. */
  sessions: number;
  /** Increment requests per session. */
  increments: number;
  /** `set()` requests per session, each of a key of its own, spread among the increments. */
  sets: number;
  /** Keep-alive connections, all busy at once (requests in flight). */
  connections: number;
}

/** One request of the load: which session, and an increment or the set of key `s<j>`. */
interface Op {
  session: number;
  set: number | null;
}

/**
 * The requests of one run, in the order they start: the sessions take turns
 * (so each has `connections / sessions` requests in flight at any moment),
 * and each session's `sets` are spread evenly among its increments.
 */
export function plan(load: IncrementLoad): Op[] {
  const perSession = load.increments + load.sets;
  const ops: Op[] = [];
  for (let r = 0; r < perSession; r++) {
    // Bresenham: request r is a set when it crosses the next multiple of perSession / sets.
    const before = Math.floor((r * load.sets) / perSession);
    const after = Math.floor(((r + 1) * load.sets) / perSession);
    for (let s = 0; s < load.sessions; s++) {
      ops.push({ session: s, set: after > before ? before : null });
    }
  }
  return ops;
}

/** The value of set `j` of session `s`. */
function setValue(s: number, j: number): string {
  return `v${s}.${j}`;
}

/** What the requests of one session saw. */
interface Tally {
  /** Increment requests answered 200. */
  counted: number;
  /** What each increment answered (NaN when not a number). */
  answers: number[];
}

/** Figures of check 8 for one store. */
export async function concurrentIncrement(
  sut: StoreUnderTest,
  load: IncrementLoad,
  deadlineMs: number,
): Promise<CheckResult> {
  if (!sut.serverSide) {
    return notApplicable(
      8,
      TITLE,
      sut.kind,
      "by design for a client-side store: the counter travels in the cookie, so each response " +
        "carries the total its own request saw and the last cookie the browser receives wins; " +
        "there is no stored value to add to, and concurrent increments are lost (count in a " +
        "server-side store)",
    );
  }
  const started = Date.now();
  const sessions: RealSession[] = [];
  for (let s = 0; s < load.sessions; s++) sessions.push(await sut.login(`CANARY-incr${s}`));
  const cookies = sessions.map((s) => cookieHeader(s.cookies));
  const tallies: Tally[] = sessions.map(() => ({
    counted: 0,
    answers: [],
  }));
  const ops = plan(load);
  let errors = 0;
  let firstError = "";
  const fail = (what: string) => {
    errors++;
    firstError ||= what;
  };
  const client = new HttpClient(sut.server.port, load.connections);
  const loadStarted = Date.now();
  const run = await pool(ops.length, load.connections, deadlineMs, async (i) => {
    const op = ops[i];
    const tally = tallies[op.session];
    const path = op.set === null
      ? `/incr?k=${COUNTER}`
      : `/set?k=s${op.set}&v=${setValue(op.session, op.set)}`;
    try {
      const reply = await client.request("POST", path, cookies[op.session]);
      sut.track(reply.setCookies);
      if (reply.status !== 200) {
        fail(`${path} answered ${reply.status} ${reply.body.slice(0, 120)}`);
        return;
      }
      if (op.set !== null) return;
      tally.counted++;
      tally.answers.push(Number(reply.body));
    } catch (error) {
      // Unknown whether the store applied it: the exact count below may then be off by it.
      fail(`${path}: ${(error as Error).message}`);
    }
  }).finally(() => client.close());
  const loadSeconds = (Date.now() - loadStarted) / 1000;

  let lost = 0;
  let extra = 0;
  let setsFound = 0;
  let canaries = 0;
  let outOfRange = 0;
  let firstMismatch = "";
  let counted = 0;
  for (let s = 0; s < sessions.length; s++) {
    const tally = tallies[s];
    counted += tally.counted;
    const reply = await sut.request("GET", "/all", cookies[s]);
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(reply.body) as Record<string, unknown>;
    } catch {
      fail(`GET /all answered ${reply.status} ${reply.body.slice(0, 120)}`);
    }
    const stored = all[COUNTER];
    const final = stored === undefined ? 0 : typeof stored === "number" ? stored : NaN;
    if (Number.isNaN(final)) {
      fail(`session ${s}: ${COUNTER} holds ${JSON.stringify(stored)}, not a number`);
      lost += tally.counted;
    } else {
      lost += Math.max(0, tally.counted - final);
      extra += Math.max(0, final - tally.counted);
      if (final !== tally.counted) {
        firstMismatch ||= `session ${s}: ${COUNTER} ${
          stored ?? "missing"
        }, ${tally.counted} answered`;
      }
    }
    // NaN (a broken counter) fails every comparison: all its answers are out of range.
    for (const a of tally.answers) if (!(Number.isInteger(a) && a >= 1 && a <= final)) outOfRange++;
    if (all.canary === sessions[s].canary) canaries++;
    for (let j = 0; j < load.sets; j++) if (all[`s${j}`] === setValue(s, j)) setsFound++;
  }
  if (errors) {
    // The server's own account of what failed (a store error names the backend's problem).
    const stats = await sut.stats().catch(() => undefined);
    if (stats?.lastError) firstError += ` (server: ${stats.lastError})`;
  }
  const increments = load.sessions * load.increments;
  const f = new Figures()
    .set("sessions", load.sessions)
    .set("connections", load.connections)
    .equal("increments answered", counted, increments)
    .equal("lost increments", lost, 0)
    .equal("extra increments", extra, 0)
    .equal("answers out of range", outOfRange, 0)
    .set("sets expected", load.sessions * load.sets)
    .equal("sets found", setsFound, load.sessions * load.sets)
    .equal("canaries intact", canaries, load.sessions)
    .equal("errors", errors, 0)
    .equal("crashed processes", sut.crashes(), 0)
    .set("req/s", Math.round(run.done / loadSeconds))
    .set("increments/s", Math.round(counted / loadSeconds));
  if (firstMismatch) f.set("first mismatch", firstMismatch);
  if (firstError) f.set("first error", firstError);
  if (run.timedOut) f.fail(`stopped at the time bound after ${run.done} of ${ops.length} requests`);
  return f.result(8, TITLE, sut.kind, started);
}
