/**
 * WebdisStore's two transports side by side: what one session read (an
 * `HGETALL`) and one session write (the script, by `EVALSHA`) cost this
 * process in CPU time and in wall time, over `node:net` (HTTP/1.1 on
 * kept-alive sockets) and over `fetch`. It starts its own Webdis in front of the Redis
 * at `REDIS_URL` (default 127.0.0.1:6379, database 12; its keys are removed
 * afterwards). Sequential calls, so the figures are per call, not per load;
 * the ops take turns in batches, so load from elsewhere hits them alike. A
 * bare GET of the same key, without the store, shows each client's floor
 * (with `node:http`'s keep-alive agent beside them, the Node transport
 * before `node:net`, and a bare `node:net` round trip, the socket's own).
 *
 * ```sh
 * npx tsx bench/webdis_transports.ts            # 3 rounds of 2,000 calls of each op
 * npx tsx bench/webdis_transports.ts --calls 500 --rounds 1
 * npx deno run -A bench/webdis_transports.ts     # the same on Deno
 * ```
 *
 * @module
 */
import process from "node:process";
import { createClient } from "redis";
import { WebdisStore, type WebdisTransportName } from "../src/stores/webdis.ts";
import { emptyFields } from "../src/store.ts";
import * as nodeHttp from "node:http";
import { connect, type Socket } from "node:net";
import { hasWebdis, startBenchWebdis } from "./processes.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} takes a positive integer, got ${process.argv[i + 1]}`);
  }
  return value;
}

const calls = flag("calls", 2000);
const rounds = flag("rounds", 3);
const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const DB = 12;
const PREFIX = `bench_wdt_${process.pid}_`;

if (!hasWebdis()) {
  console.error("webdis is not installed (apt-get install webdis)");
  process.exit(1);
}
const webdis = await startBenchWebdis(redisUrl.hostname, Number(redisUrl.port || 6379), DB);

/** One measured operation: a name and a call. */
interface Op {
  name: string;
  run: (i: number) => Promise<unknown>;
}

/**
 * CPU (user + system) and wall microseconds per call of each op, in batches
 * of `BATCH` calls that take turns (a, b, c, a, b, c, ...), so that other
 * load on the machine falls on every op alike. Per op: the median batch
 * and the cheapest one.
 */
async function measureInTurns(ops: Op[]): Promise<Map<string, { cpu: number[]; wall: number[] }>> {
  const out = new Map(ops.map((op) => [op.name, { cpu: [] as number[], wall: [] as number[] }]));
  for (const op of ops) for (let i = 0; i < 200; i++) await op.run(i); // warm the JIT and sockets
  const batches = Math.max(1, Math.round(calls / BATCH));
  for (let b = 0; b < batches; b++) {
    for (const op of ops) {
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      for (let i = 0; i < BATCH; i++) await op.run(b * BATCH + i);
      const wall = performance.now() - wall0;
      const cpu = process.cpuUsage(cpu0);
      const r = out.get(op.name)!;
      r.cpu.push((cpu.user + cpu.system) / BATCH);
      r.wall.push((wall * 1000) / BATCH);
    }
  }
  return out;
}

const BATCH = 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const transports: WebdisTransportName[] = ["node:net", "fetch"];
const results = new Map<string, { cpu: number[]; wall: number[] }>();
const now = Date.now();
const data = emptyFields();
data.user = JSON.stringify("ada@example.com");
data.csrf = JSON.stringify("f3a9c2e41d8b6f05e7a1");
// A session key as the app's requests have it (a 43-character hashed ID).
const key = "k".repeat(43);
const readPath = `/HGETALL/${PREFIX}${key}`;
const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 16 });

/** The floor: the same GET with node:http and nothing of the store around it. */
function bareNodeHttpGet(): Promise<string> {
  const { hostname, port } = new URL(webdis.url);
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({ agent, hostname, port, path: readPath }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => text += c);
      res.on("end", () => resolve(text));
    });
    req.on("error", reject);
    req.end();
  });
}

const stores: WebdisStore[] = [];
let rawSocket: Socket | undefined;
try {
  const ops: Op[] = [];
  for (const transport of transports) {
    const store = new WebdisStore({ url: webdis.url, keyPrefix: PREFIX, transport });
    stores.push(store);
    await store.create(
      key,
      { data, flash: emptyFields(), createdAt: now, expiresAt: now + 3.6e6 },
      now,
    );
    ops.push({ name: `read, ${transport}`, run: () => store.get(key, now) });
    ops.push({
      name: `write, ${transport}`,
      run: (i) => {
        const set = emptyFields();
        set.n = String(i);
        return store.update(key, {
          clear: false,
          set,
          delete: [],
          flash: null,
          expiresAt: now + 3.6e6,
        }, now);
      },
    });
  }
  ops.push({ name: "bare GET, node:http", run: bareNodeHttpGet });
  const { hostname, port } = new URL(webdis.url);
  rawSocket = connect({ host: hostname, port: Number(port) });
  rawSocket.setNoDelay(true);
  const request = `GET ${readPath} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`;
  ops.push({
    name: "bare GET, node:net",
    // The floor of a socket round trip: one write, one answer (Webdis's
    // arrives in one segment), no parse.
    run: () =>
      new Promise((resolve) => {
        rawSocket!.once("data", resolve);
        rawSocket!.write(request);
      }),
  });
  ops.push({
    name: "bare GET, fetch",
    run: () => fetch(webdis.url + readPath).then((r) => r.text()),
  });
  for (let round = 0; round < rounds; round++) {
    for (const [name, r] of await measureInTurns(ops)) {
      const all = results.get(name) ?? { cpu: [], wall: [] };
      all.cpu.push(...r.cpu);
      all.wall.push(...r.wall);
      results.set(name, all);
    }
  }
} finally {
  for (const store of stores) await store.close();
  agent.destroy();
  rawSocket?.destroy();
  await webdis.dispose();
  const raw = createClient({ url: redisUrl.href, database: DB });
  raw.on("error", () => {});
  await raw.connect();
  for await (const keys of raw.scanIterator({ MATCH: `${PREFIX}*` })) {
    if (keys.length) await raw.del(keys);
  }
  await raw.close();
}

const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `Node.js ${process.versions.node}`;
console.log(
  `WebdisStore transports on ${runtime}: ${calls} sequential calls per op x ${rounds} round(s), ` +
    `in turns of ${BATCH}; per call: median batch (cheapest batch)\n`,
);
console.log("| call                       | CPU µs / call     | wall µs / call    |");
console.log("| -------------------------- | ----------------: | ----------------: |");
for (const [name, r] of results) {
  const cell = (xs: number[]) =>
    `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)})`.padStart(17);
  const label = name.startsWith("read")
    ? name.replace("read", "read (HGETALL)")
    : name.startsWith("write")
    ? name.replace("write", "write (EVALSHA)")
    : name;
  console.log(`| ${label.padEnd(26)} | ${cell(r.cpu)} | ${cell(r.wall)} |`);
}
