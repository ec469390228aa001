/**
 * Check 2, concurrent tabs: many clients (tabs) share one session and each
 * writes its own key, all at once, one request after another per tab. Every
 * write lands (the store applies changes, not snapshots): each request
 * answers with what its key held before, which must be the tab's previous
 * write; the last write of each tab must be in the session at the end.
 * A store that wrote back whole sessions would revert other tabs' keys and
 * fail both counts.
 *
 * @module
 */
import { cookieHeader, HttpClient } from "../../test/kit/http_client.ts";
import type { StoreUnderTest } from "../context.ts";
import { pool } from "../http.ts";
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
  let requests = 0;
  let confirmed = 0;
  let timedOut = false;
  const last: string[] = [];
  try {
    // One loop per tab, all at once; each tab's requests one after another.
    await pool(clients, clients, deadlineMs, async (c) => {
      let previous: string | null = null;
      for (let r = 0; r < perClient; r++) {
        if (Date.now() >= deadline) {
          timedOut = true;
          return;
        }
        const value = `${c}.${r}`;
        requests++;
        try {
          const reply = await client.request("POST", `/tab?k=t${c}&v=${value}`, cookie);
          sut.track(reply.setCookies);
          if (reply.status !== 200) {
            errors++;
            continue;
          }
          // This tab's previous write survived every other tab's commits.
          const { before } = JSON.parse(reply.body) as { before: string | null };
          if (previous !== null && before === previous) confirmed++;
          previous = value;
        } catch {
          errors++;
        }
      }
      if (previous !== null) last[c] = previous;
    });
  } finally {
    client.close();
  }
  const all = JSON.parse((await sut.request("GET", "/all", cookie)).body) as Record<
    string,
    unknown
  >;
  let keysFound = 0;
  for (let c = 0; c < clients; c++) {
    if (last[c] !== undefined && all[`t${c}`] === last[c]) {
      keysFound++;
      confirmed++;
    }
  }
  const f = new Figures()
    .equal("requests", requests, clients * perClient)
    .set("keys expected", clients)
    .equal("keys found", keysFound, clients)
    .set("writes expected", clients * perClient)
    .equal("writes found", confirmed, clients * perClient)
    .equal("errors", errors, 0)
    .equal("crashed processes", sut.crashes(), 0);
  if (timedOut) f.fail(`stopped at the time bound after ${requests} requests`);
  return f.result(2, TITLE, sut.kind, started);
}
