/**
 * Check 4, anonymous flood: requests without a cookie to a route that does
 * not touch the session cost nothing: no session stored (counted by the
 * backend itself), no Set-Cookie sent, and the server's memory stays flat.
 * Driven by wrk (keep-alive, many connections) with a Lua script that counts
 * Set-Cookie headers; the server counts them too.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { HttpClient } from "../../test/kit/http_client.ts";
import { mb, type StoreUnderTest } from "../context.ts";
import { pool } from "../http.ts";
import { type CheckResult, Figures } from "../result.ts";
import { ROOT } from "../services.ts";

const TITLE = "anonymous flood";
const CONNECTIONS = 64;

interface FloodCounts {
  answers: number;
  setCookie: number;
  status5xx: number;
  otherStatus: number;
  socketErrors: number;
  driver: string;
}

function hasWrk(): boolean {
  return spawnSync("sh", ["-c", "command -v wrk"]).status === 0;
}

function wrk(url: string, total: number, deadlineMs: number): Promise<FloodCounts> {
  const threads = 1;
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", [
      `-t${threads}`,
      `-c${CONNECTIONS}`,
      `-d${Math.ceil(deadlineMs / 1000)}s`,
      "--timeout",
      "10s",
      "-s",
      join(ROOT, "stress", "flood.lua"),
      `${url}/anon`,
      "--",
      String(Math.ceil(total / threads)),
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let interrupted = false;
    child.stdout!.on("data", (d) => {
      out += d.toString();
      // Every thread reached its share (one thread): stop wrk before its duration ends.
      if (!interrupted && out.includes("LIMIT\n")) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    child.stderr!.on("data", (d) => (out += d.toString()));
    child.on("exit", () => {
      const m =
        /FLOOD answers=(\d+) set_cookie=(\d+) status_5xx=(\d+) other_status=(\d+) socket_errors=(\d+)/
          .exec(out);
      if (!m) return reject(new Error(`wrk gave no counts: ${out}`));
      resolve({
        answers: Number(m[1]),
        setCookie: Number(m[2]),
        status5xx: Number(m[3]),
        otherStatus: Number(m[4]),
        socketErrors: Number(m[5]),
        driver: "wrk",
      });
    });
  });
}

/** Without wrk: the same flood from this process (slower). */
async function nodeFlood(port: number, total: number, deadlineMs: number): Promise<FloodCounts> {
  const client = new HttpClient(port, CONNECTIONS);
  const counts: FloodCounts = {
    answers: 0,
    setCookie: 0,
    status5xx: 0,
    otherStatus: 0,
    socketErrors: 0,
    driver: "node:http",
  };
  try {
    await pool(total, CONNECTIONS, deadlineMs, async () => {
      try {
        const reply = await client.request("GET", "/anon");
        counts.answers++;
        if (reply.setCookies.length) counts.setCookie++;
        if (reply.status >= 500) counts.status5xx++;
        else if (reply.status !== 200) counts.otherStatus++;
      } catch {
        counts.socketErrors++;
      }
    });
  } finally {
    client.close();
  }
  return counts;
}

/** Figures of check 4 for one store; run it first, on an empty backend. */
export async function anonymousFlood(
  sut: StoreUnderTest,
  total: number,
  deadlineMs: number,
): Promise<CheckResult> {
  const started = Date.now();
  // A short warm-up, so the RSS before is the server's working size, not its start-up size.
  await nodeFlood(sut.server.port, Math.min(2000, Math.ceil(total / 4)), deadlineMs);
  await sut.control("gc");
  await sut.control("reset");
  const before = await sut.stats();
  const floodStarted = Date.now();
  const counts = hasWrk()
    ? await wrk(sut.server.url, total, deadlineMs)
    : await nodeFlood(sut.server.port, total, deadlineMs);
  const floodSeconds = (Date.now() - floodStarted) / 1000;
  await sut.control("gc");
  const after = await sut.stats();
  const f = new Figures()
    .atLeast("requests", counts.answers, total)
    .equal("sessions stored", sut.serverSide ? await sut.stored() : 0, 0)
    .equal("Set-Cookie", counts.setCookie, 0)
    .equal("Set-Cookie counted by the server", after.setCookieResponses, 0)
    .equal("5xx", counts.status5xx, 0)
    .equal("other statuses", counts.otherStatus, 0)
    .equal("crashed processes", sut.crashes(), 0)
    .set("RSS MB before", mb(before.rss))
    .set("RSS MB after", mb(after.rss))
    .set("RSS growth MB", mb(after.rss) - mb(before.rss))
    // RSS keeps what the heap once grew to; the live heap after a full GC shows what is held.
    .set("heap MB before", mb(before.heapUsed))
    .set("heap MB after", mb(after.heapUsed))
    .set("req/s", Math.round(counts.answers / floodSeconds))
    .set("driver", counts.driver);
  if (counts.socketErrors) f.set("socket errors", counts.socketErrors);
  return f.result(4, TITLE, sut.kind, started);
}
