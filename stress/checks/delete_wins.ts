/**
 * Check 3, delete wins: a slow request that writes a key races a logout of
 * the same session, in the worst order (rack-session CVE-2025-46336): the
 * slow request loads the session, the logout commits, then the slow request
 * writes. The server orders each round (see `stress/server.ts`), and reports
 * whether it managed to. Afterwards the session must be gone, in the backend
 * and for its old cookie: sessions resurrected = 0.
 *
 * @module
 */
import { cookieHeader, type StoreUnderTest } from "../context.ts";
import { deletesCookie, pool, setCookieValues } from "../http.ts";
import { type CheckResult, Figures, notApplicable } from "../result.ts";

const TITLE = "delete wins";

/** Figures of check 3 for one store. */
export async function deleteWins(
  sut: StoreUnderTest,
  rounds: number,
  deadlineMs: number,
): Promise<CheckResult> {
  if (!sut.serverSide) {
    return notApplicable(
      3,
      TITLE,
      sut.kind,
      "by design for a client-side store: a logout deletes the browser's cookie, but the server " +
        "keeps nothing it could revoke, so a copy of the old cookie (or a slow response's) stays " +
        "valid until it expires",
    );
  }
  const started = Date.now();
  let ordered = 0;
  let resurrected = 0;
  let reSet = 0;
  let errors = 0;
  let firstError = "";
  const run = await pool(rounds, 25, deadlineMs, async (i) => {
    try {
      const session = await sut.login(`CANARY-round${i}`);
      const id = session.cookies[0][1];
      const cookie = cookieHeader(session.cookies);
      const token = `r${i}x${Math.random().toString(36).slice(2)}`;
      const [slow, logout] = await Promise.all([
        sut.request("POST", `/slow?k=late&token=${token}`, cookie),
        sut.request("POST", `/logout?token=${token}`, cookie),
      ]);
      if (slow.status !== 200 || logout.status !== 200) {
        errors++;
        firstError ||= `slow ${slow.status} ${slow.body}, logout ${logout.status} ${logout.body}`;
      }
      if ((JSON.parse(slow.body) as { ordered: boolean }).ordered) ordered++;
      // The slow answer must not hand the old ID back to the browser.
      for (const line of slow.setCookies) {
        if (!deletesCookie(line) && setCookieValues([line]).get("session") === id) reSet++;
      }
      const after = await sut.request("GET", "/all", cookie);
      const { exists } = await sut.control<{ exists: boolean }>(`exists?id=${id}`);
      if (exists || after.body.includes("late") || after.body.includes("CANARY")) resurrected++;
    } catch (error) {
      errors++;
      firstError ||= (error as Error).message;
    }
  });
  const f = new Figures()
    .equal("rounds", run.done, rounds)
    .equal("races in the worst order", ordered, rounds)
    .equal("resurrected", resurrected, 0)
    .equal("old cookie set again", reSet, 0)
    .equal("errors", errors, 0)
    .equal("crashed processes", sut.crashes(), 0);
  if (firstError) f.set("first error", firstError);
  if (run.timedOut) f.fail(`stopped at the time bound after ${run.done} rounds`);
  return f.result(3, TITLE, sut.kind, started);
}
