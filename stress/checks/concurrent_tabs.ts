/**
 * Check 2, concurrent tabs: many clients share one session and each writes
 * its own keys, all at once. Every write lands (the store applies changes,
 * not snapshots): keys found = keys expected.
 *
 * @module
 */
import { cookieHeader, type StoreUnderTest } from "../context.ts";
import { HttpClient, pool } from "../http.ts";
import { type CheckResult, Figures, notApplicable } from "../result.ts";

const TITLE = "concurrent tabs";

/** Figures of check 2 for one store. */
export async function concurrentTabs(
  sut: StoreUnderTest,
  clients: number,
  perClient: number,
  deadlineMs: number,
): Promise<CheckResult> {
  if (!sut.serverSide) {
    return notApplicable(
      2,
      TITLE,
      sut.kind,
      "by design for a client-side store: each response carries the whole session in its " +
        "cookie and the last cookie the browser receives wins, so tabs writing at once lose " +
        "each other's keys (use a server-side store for that)",
    );
  }
  const started = Date.now();
  const session = await sut.login("CANARY-tabs");
  const cookie = cookieHeader(session.cookies);
  const client = new HttpClient(sut.server.port, clients);
  const deadline = Date.now() + deadlineMs;
  let errors = 0;
  let done = 0;
  let timedOut = false;
  try {
    // One loop per client (a tab), all at once; each tab's requests one after another.
    await pool(clients, clients, deadlineMs, async (c) => {
      for (let r = 0; r < perClient; r++) {
        if (Date.now() >= deadline) {
          timedOut = true;
          return;
        }
        try {
          const reply = await client.request("POST", `/set?k=t${c}_${r}&v=${c}.${r}`, cookie);
          sut.track(reply.setCookies);
          if (reply.status !== 200) errors++;
          else done++;
        } catch {
          errors++;
        }
      }
    });
  } finally {
    client.close();
  }
  const all = JSON.parse((await sut.request("GET", "/all", cookie)).body) as Record<
    string,
    unknown
  >;
  let found = 0;
  for (let c = 0; c < clients; c++) {
    for (let r = 0; r < perClient; r++) if (all[`t${c}_${r}`] === `${c}.${r}`) found++;
  }
  const f = new Figures()
    .set("clients", clients)
    .equal("requests", done + errors, clients * perClient)
    .set("keys expected", clients * perClient)
    .equal("keys found", found, clients * perClient)
    .equal("errors", errors, 0)
    .equal("crashed processes", sut.crashes(), 0);
  if (timedOut) f.fail(`stopped at the time bound after ${done + errors} requests`);
  return f.result(2, TITLE, sut.kind, started);
}
