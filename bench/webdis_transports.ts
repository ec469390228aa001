/**
 * WebdisStore's two transports side by side: what one session read (an
 * `HGETALL`) and one session write (the script, by `EVALSHA`) cost this
 * process in CPU time and in wall time, over `node:http` (a keep-alive
 * agent) and over `fetch`. It starts its own Webdis in front of the Redis
 * at `REDIS_URL` (default 127.0.0.1:6379, database 12; its keys are removed
 * afterwards). Sequential calls, so the figures are per call, not per load.
 *
 * ```sh
 * npx tsx bench/webdis_transports.ts            # 3 rounds of 2,000 calls each way
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
import { hasWebdis, startWebdis } from "./processes.ts";

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
const webdis = await startWebdis(redisUrl.hostname, Number(redisUrl.port || 6379), DB);

interface Figures {
  cpuUs: number;
  wallUs: number;
}

/** CPU (user + system) and wall microseconds per call of `op`, over `calls` sequential calls. */
async function measure(op: (i: number) => Promise<unknown>): Promise<Figures> {
  for (let i = 0; i < 200; i++) await op(i); // warm the JIT and the connection
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < calls; i++) await op(i);
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / calls, wallUs: (wall * 1000) / calls };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const transports: WebdisTransportName[] = ["node:http", "fetch"];
const results = new Map<string, { cpu: number[]; wall: number[] }>();
const now = Date.now();
const data = emptyFields();
data.user = JSON.stringify("ada@example.com");
data.csrf = JSON.stringify("f3a9c2e41d8b6f05e7a1");

try {
  for (let round = 0; round < rounds; round++) {
    for (const transport of transports) {
      const store = new WebdisStore({ url: webdis.url, keyPrefix: PREFIX, transport });
      // A session as the app's read and write scenarios see it (a 43-character hashed key).
      const key = "k".repeat(43);
      await store.create(key, {
        data,
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 3.6e6,
      }, now);
      const read = await measure(() => store.get(key, now));
      const write = await measure((i) => {
        const set = emptyFields();
        set.n = String(i);
        return store.update(key, {
          clear: false,
          set,
          delete: [],
          flash: null,
          expiresAt: now + 3.6e6,
        }, now);
      });
      for (const [op, f] of [["read", read], ["write", write]] as const) {
        const name = `${op} ${transport}`;
        const r = results.get(name) ?? { cpu: [], wall: [] };
        r.cpu.push(f.cpuUs);
        r.wall.push(f.wallUs);
        results.set(name, r);
      }
      await store.close();
    }
  }
} finally {
  await webdis.stop();
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
  `WebdisStore transports on ${runtime}: ${calls} sequential calls x ${rounds} round(s), medians\n`,
);
console.log("| call                        | CPU µs / call | wall µs / call |");
console.log("| --------------------------- | ------------: | -------------: |");
for (const [name, r] of results) {
  const [op, transport] = name.split(" ");
  const what = op === "read" ? "read (HGETALL)" : "write (EVALSHA)";
  console.log(
    `| ${`${what}, ${transport}`.padEnd(27)} | ${median(r.cpu).toFixed(1).padStart(13)} | ${
      median(r.wall).toFixed(1).padStart(14)
    } |`,
  );
}
