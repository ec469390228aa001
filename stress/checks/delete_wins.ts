/**
 * Check 3, delete wins: a session that ended is never brought back by a
 * request that was in flight when it ended, and a rotation loses no write.
 * Each race runs in the worst order, which the server arranges every round
 * (see `stress/server.ts`) and reports whether it managed to:
 *
 * - **logout vs write** (rack-session CVE-2025-46336): the slow request loads
 *   the session, the logout commits, then the slow request writes a key;
 * - **logout vs rotate**: the same, but the slow request also moves the
 *   session to a new ID (`regenerate()`, or `ctx.state.rotate_session_key`,
 *   in turn);
 * - **expiry vs rotate**: the session idles past its expiry (the server's
 *   clock moves) between the load and the rotating commit;
 * - **revoke vs rotate**: an admin's `deleteSession(id)` lands in between;
 * - **write vs rotate**: another tab writes another key in between; it must be
 *   in the rotated session (kept), and the old ID must be dead.
 *
 * After an ended session's round, neither its old ID nor any new one may
 * exist in the backend or open a session with data (resurrected = 0), and
 * the slow answer must neither hand the old ID back nor set a new one.
 *
 * @module
 */
import {
  cookieHeader,
  deletesCookie,
  type RawReply,
  setCookieValues,
} from "../../test/kit/http_client.ts";
import type { StoreUnderTest } from "../context.ts";
import { pool } from "../http.ts";
import { type CheckResult, Figures, notApplicable } from "../result.ts";

const TITLE = "delete wins";

/** The races, in the order they run. */
export const RACES = [
  "logout vs write",
  "logout vs rotate",
  "expiry vs rotate",
  "revoke vs rotate",
  "write vs rotate",
] as const;

/** One of {@link RACES}. */
export type Race = typeof RACES[number];

/** What one round found. */
interface RoundOutcome {
  ordered: boolean;
  resurrected: boolean;
  oldCookieSetAgain: boolean;
  newIdHandedOut: boolean;
  lostKeys: number;
  oldIdAlive: boolean;
  error: string;
}

/** The session ID a response set (not a deletion), or `undefined`. */
function setId(reply: RawReply): string | undefined {
  for (const line of reply.setCookies) {
    if (deletesCookie(line)) continue;
    const id = setCookieValues([line]).get("session");
    if (id) return id;
  }
  return undefined;
}

async function exists(sut: StoreUnderTest, id: string): Promise<boolean> {
  return (await sut.control<{ exists: boolean }>(`exists?id=${encodeURIComponent(id)}`)).exists;
}

/** Whether `id`'s cookie opens a session that holds anything of this round. */
async function opensData(sut: StoreUnderTest, id: string): Promise<boolean> {
  const all = await sut.request("GET", "/all", `session=${id}`);
  return all.body.includes("late") || all.body.includes("CANARY") || all.body.includes("tab");
}

async function playRound(sut: StoreUnderTest, race: Race, i: number): Promise<RoundOutcome> {
  const out: RoundOutcome = {
    ordered: false,
    resurrected: false,
    oldCookieSetAgain: false,
    newIdHandedOut: false,
    lostKeys: 0,
    oldIdAlive: false,
    error: "",
  };
  const session = await sut.login(`CANARY-round${i}`);
  const id = session.cookies[0][1];
  const cookie = cookieHeader(session.cookies);
  const token = `r${i}x${Math.random().toString(36).slice(2)}`;
  const rotate = race === "logout vs write" ? "" : `&rotate=${i % 2 ? "flag" : "regenerate"}`;
  const slowPath = `/slow?k=late&token=${token}${rotate}`;
  const tabValue = `tab-${token}`;
  let slow: RawReply;
  let other: RawReply | undefined;
  switch (race) {
    case "logout vs write":
    case "logout vs rotate":
      [slow, other] = await Promise.all([
        sut.request("POST", slowPath, cookie),
        sut.request("POST", `/logout?token=${token}`, cookie),
      ]);
      break;
    case "revoke vs rotate":
      [slow, other] = await Promise.all([
        sut.request("POST", slowPath, cookie),
        sut.request("POST", `/revoke?token=${token}&id=${encodeURIComponent(id)}`),
      ]);
      break;
    case "write vs rotate":
      [slow, other] = await Promise.all([
        sut.request("POST", slowPath, cookie),
        sut.request("POST", `/write?k=tab&v=${tabValue}&token=${token}`, cookie),
      ]);
      break;
    case "expiry vs rotate":
      slow = await sut.request("POST", `${slowPath}&expire=1`, cookie);
      break;
  }
  if (slow.status !== 200 || (other && other.status !== 200)) {
    out.error = `slow ${slow.status} ${slow.body}` +
      (other ? `, other ${other.status} ${other.body}` : "");
  }
  try {
    out.ordered = (JSON.parse(slow.body) as { ordered: boolean }).ordered === true;
  } catch {
    out.error ||= `slow answered ${JSON.stringify(slow.body.slice(0, 80))}`;
  }
  const newId = setId(slow);
  // The slow answer must not hand the old ID back to the browser.
  out.oldCookieSetAgain = newId === id;
  if (race === "write vs rotate") {
    // The session lives on under a new ID, with every key: the canary, the
    // other tab's write and the slow request's own.
    if (newId === undefined || newId === id) {
      out.lostKeys = 3;
      out.error ||= "the rotating request set no new session ID";
    } else {
      const all = JSON.parse((await sut.request("GET", "/all", `session=${newId}`)).body);
      if (all.canary !== session.canary) out.lostKeys++;
      if (all.tab !== tabValue) out.lostKeys++;
      if (all.late !== "written by the slow request") out.lostKeys++;
    }
    out.oldIdAlive = (await exists(sut, id)) || (await opensData(sut, id));
    return out;
  }
  // The session ended: nothing of it may be reachable, under either ID.
  out.newIdHandedOut = newId !== undefined && newId !== id;
  const ids = newId !== undefined && newId !== id ? [id, newId] : [id];
  for (const each of ids) {
    // An expired session's old key may still sit in the backend until its
    // TTL or sweep; only a key written for it would bring it back.
    const stored = race === "expiry vs rotate" && each === id ? false : await exists(sut, each);
    if (stored || (await opensData(sut, each))) out.resurrected = true;
  }
  return out;
}

/** Figures of check 3 for one store: one result per race. */
export async function deleteWins(
  sut: StoreUnderTest,
  rounds: number,
  deadlineMs: number,
): Promise<CheckResult[]> {
  if (!sut.serverSide) {
    return [notApplicable(
      3,
      TITLE,
      sut.kind,
      "by design for a client-side store: a logout deletes the browser's cookie, but the server " +
        "keeps nothing it could revoke, so a copy of the old cookie (or a slow response's) stays " +
        "valid until it expires",
    )];
  }
  const results: CheckResult[] = [];
  for (const race of RACES) {
    const started = Date.now();
    let ordered = 0;
    let resurrected = 0;
    let reSet = 0;
    let handedOut = 0;
    let lostKeys = 0;
    let oldAlive = 0;
    let errors = 0;
    let firstError = "";
    // The expiry race moves the server's clock, so its rounds go one at a time.
    const concurrency = race === "expiry vs rotate" ? 1 : 25;
    const run = await pool(rounds, concurrency, deadlineMs, async (i) => {
      try {
        const o = await playRound(sut, race, i);
        if (o.ordered) ordered++;
        if (o.resurrected) resurrected++;
        if (o.oldCookieSetAgain) reSet++;
        if (o.newIdHandedOut) handedOut++;
        if (o.oldIdAlive) oldAlive++;
        lostKeys += o.lostKeys;
        if (o.error) {
          errors++;
          firstError ||= o.error;
        }
      } catch (error) {
        errors++;
        firstError ||= (error as Error).message;
      } finally {
        if (race === "expiry vs rotate") await sut.control("clock?offset=0").catch(() => {});
      }
    });
    const f = new Figures()
      .equal("rounds", run.done, rounds)
      .equal("races in the worst order", ordered, rounds);
    if (race === "write vs rotate") {
      f.equal("lost keys", lostKeys, 0).equal("old ID alive", oldAlive, 0);
    } else {
      f.equal("resurrected", resurrected, 0);
      if (race !== "logout vs write") f.equal("new ID handed out", handedOut, 0);
    }
    f.equal("old cookie set again", reSet, 0)
      .equal("errors", errors, 0)
      .equal("crashed processes", sut.crashes(), 0);
    if (firstError) f.set("first error", firstError);
    if (run.timedOut) f.fail(`stopped at the time bound after ${run.done} rounds`);
    results.push(f.result(3, `${TITLE}: ${race}`, sut.kind, started));
  }
  return results;
}
