/**
 * Check 6, store outage: with clients writing their sessions all along, the
 * store's server is killed (SIGKILL) mid-load and started again. The Oak
 * process never crashes; requests fail (503) only while the store is away;
 * and the first request after the store's return succeeds without a restart
 * of the app. For Webdis two outages: Webdis itself, then the Redis behind it.
 *
 * The Redis here runs without persistence (`--save "" --appendonly no`), so
 * the sessions it held are gone after the kill: clients then get new ones,
 * which is not an error.
 *
 * @module
 */
import { deletesCookie, HttpClient, setCookieValues } from "../../test/kit/http_client.ts";
import { StoreUnderTest } from "../context.ts";
import { letTimePass, waitFor } from "../../test/kit/waiting.ts";
import { type CheckResult, Figures } from "../result.ts";
import {
  type ChildServer,
  type Service,
  startChild,
  startSuiteRedis,
  startSuiteWebdis,
} from "../services.ts";

const TITLE = "store outage";
const CLIENTS = 16;

interface Event {
  /** Which load client sent it (each sends one request at a time). */
  client: number;
  start: number;
  end: number;
  status: number;
}

interface Outage {
  what: string;
  killAt: number;
  returnAt: number;
  firstSuccessAt: number | null;
}

/** How long each phase lasts. */
export interface OutageTiming {
  /** Load before the first kill, and between outages. */
  steadyMs: number;
  /** How long the store stays dead. */
  downMs: number;
  /** Longest wait for the first success after the store is back. */
  recoverMs: number;
  /** A cap on requests per client (the loop is count and time bounded). */
  maxRequestsPerClient: number;
}

/** The Redis (and Webdis) an outage check owns, and the Oak server in front of them. */
export interface OutageRig {
  kind: "redis" | "webdis";
  redis: Service;
  webdis?: Service;
  server: ChildServer;
  dispose(): Promise<void>;
}

/** Start the services of the outage check for `kind` (done early, while other checks run). */
export async function prepareOutage(kind: "redis" | "webdis"): Promise<OutageRig> {
  const redis = await startSuiteRedis();
  let webdis: Service | undefined;
  try {
    if (kind === "webdis") webdis = await startSuiteWebdis(redis.port, 0);
    const redisUrl = `redis://127.0.0.1:${redis.port}`;
    const server = await startChild("server.ts", {
      kind,
      env: kind === "redis"
        ? { REDIS_URL: redisUrl }
        : { WEBDIS_URL: `http://127.0.0.1:${webdis!.port}` },
      inspectRedisUrl: redisUrl,
      expireAfterSeconds: 3600,
    }, kind);
    return {
      kind,
      redis,
      webdis,
      server,
      dispose: async () => {
        await server.stop();
        await webdis?.dispose();
        await redis.dispose();
      },
    };
  } catch (error) {
    await webdis?.dispose();
    await redis.dispose();
    throw error;
  }
}

/** Figures of check 6 for the rig's store; disposes the rig. */
export async function storeOutage(rig: OutageRig, timing: OutageTiming): Promise<CheckResult> {
  const started = Date.now();
  const f = new Figures();
  const { kind, redis, webdis, server } = rig;
  try {
    // Only for the harness endpoints; the load has its own client.
    const sut = new StoreUnderTest(kind, server, "session");
    const client = new HttpClient(server.port, CLIENTS);
    const events: Event[] = [];
    let stop = false;
    const load = Promise.all(Array.from({ length: CLIENTS }, async (_, clientIndex) => {
      let cookie: string | undefined;
      for (let n = 0; n < timing.maxRequestsPerClient && !stop; n++) {
        const start = Date.now();
        let status = 0;
        try {
          const reply = await client.request("POST", "/bump", cookie, 15_000);
          status = reply.status;
          for (const line of reply.setCookies) {
            const value = setCookieValues([line]).get("session");
            if (value === undefined) continue;
            cookie = deletesCookie(line) ? undefined : `session=${value}`;
          }
        } catch {
          // No answer at all: counted as status 0.
        }
        events.push({ client: clientIndex, start, end: Date.now(), status });
        // A failing request answers at once; pace the retries a little.
        if (status !== 200) await letTimePass(20);
      }
    }));

    const outages: Outage[] = [];
    const targets: [string, Service][] = kind === "redis"
      ? [["redis-server killed", redis]]
      : [["webdis killed", webdis!], ["redis behind webdis killed", redis]];
    for (const [what, target] of targets) {
      await letTimePass(timing.steadyMs);
      const killAt = Date.now();
      await target.kill();
      await letTimePass(timing.downMs);
      await target.start();
      const outage: Outage = { what, killAt, returnAt: Date.now(), firstSuccessAt: null };
      outages.push(outage);
      outage.firstSuccessAt = await waitFor(
        () => events.find((e) => e.status === 200 && e.end >= outage.returnAt)?.end,
        { timeoutMs: timing.recoverMs },
      ).catch(() => null);
    }
    await letTimePass(timing.steadyMs);
    stop = true;
    await load;
    client.close();

    // A request is inside an outage's window when it overlaps [kill, the
    // moment every client has had a success after the return]. Not the first
    // success of any one client: a store with several connections comes back
    // one connection at a time (Webdis reconnects each of its threads to a
    // restarted Redis on its own), so for a few ms a request can still fail on
    // a connection not yet back. What must never happen is a failure once every
    // client has seen the store work again.
    const settledAt = (o: Outage) => {
      let last = o.firstSuccessAt ?? Infinity;
      for (let client = 0; client < CLIENTS; client++) {
        const first = events.find((e) =>
          e.client === client && e.status === 200 && e.end >= o.returnAt
        );
        last = Math.max(last, first?.end ?? Infinity);
      }
      return last;
    };
    const settled = outages.map(settledAt);
    const inside = (e: Event) => outages.some((o, i) => e.end >= o.killAt && e.start <= settled[i]);
    const failed = events.filter((e) => e.status !== 200);
    const statuses: Record<string, number> = {};
    for (const e of failed) {
      statuses[e.status || "no answer"] = (statuses[e.status || "no answer"] ?? 0) + 1;
    }
    const stats = await sut.stats();
    f.set("requests", events.length)
      .equal("crashed processes", sut.crashes(), 0)
      .equal("errors outside the outage", failed.filter((e) => !inside(e)).length, 0)
      .set("errors during it", failed.filter(inside).length)
      .set(
        "their statuses",
        Object.entries(statuses).map(([s, n]) => `${s}x${n}`).join(" ") || "none",
      )
      .equal("unhandled rejections", stats.unhandledRejections, 0);
    for (const o of outages) {
      if (o.firstSuccessAt === null) {
        f.fail(`${o.what}: no success within ${timing.recoverMs} ms of its return`);
      } else {
        f.set(`${o.what}: ms from return to first success`, o.firstSuccessAt - o.returnAt);
      }
    }
    sut.client.close();
  } finally {
    await rig.dispose();
  }
  return f.result(6, TITLE, kind, started);
}
