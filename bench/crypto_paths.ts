/**
 * The request path's crypto on both paths side by side, in one run:
 * `node:crypto` (the default where the runtime has it) and Web Crypto (the
 * fallback), with the ratio between them.
 *
 * ```sh
 * npx tsx bench/crypto_paths.ts                    # on Node, about 10 s
 * npx deno run -A bench/crypto_paths.ts            # on Deno
 * npx tsx bench/crypto_paths.ts --rounds 9 --ms 300
 * ```
 *
 * Each operation runs in interleaved rounds (node, web, node, web...) of a
 * fixed duration, one call after the other (each awaited when it returns a
 * promise, as a request would), and the median round is reported: wall time
 * and process CPU time (all threads, so Web Crypto's thread-pool work counts)
 * per call. Never part of the test run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Cookies } from "@oakserver/oak";
import { type CryptoBackend, nodeCryptoBackend, webCryptoBackend } from "../src/crypto_backend.ts";
import { newSessionId } from "../src/session_id.ts";
import { type CookieJar, emptyFields, type SealedSession } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { seal, SealKeys, unseal } from "../src/stores/cookie_seal.ts";

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    ms: { type: "string", default: "150" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log("bench/crypto_paths.ts [--rounds N (5)] [--ms per round and path (150)]");
  process.exit(0);
}
const ROUNDS = Number(flags.rounds);
const ROUND_MS = Number(flags.ms);

const SECRET = "benchmark secret, 32 characters or more, not for production";
const NAME = "session_data";
const NOW = Date.now();

/** A session whose sealed plaintext is about 200 bytes, as a typical login. */
function typicalSession(): SealedSession {
  const data = emptyFields();
  data.user = JSON.stringify({ id: 4711, name: "ada", roles: ["admin", "editor"] });
  data.cart = JSON.stringify([101, 202, 303]);
  data.theme = JSON.stringify("dark");
  return { id: newSessionId(), data, flash: emptyFields(), createdAt: NOW, expiresAt: NOW + 3.6e6 };
}

interface Operation {
  name: string;
  /** One call on `backend`, made ready beforehand by `prepare`. */
  prepare(backend: CryptoBackend): Promise<() => unknown>;
}

const operations: Operation[] = [
  {
    name: "session key: SHA-256 of an ID",
    prepare: async (backend) => {
      const id = newSessionId();
      await backend.sha256Base64Url(id);
      return () => backend.sha256Base64Url(id);
    },
  },
  {
    name: "open a cookie: unseal (about 200 bytes)",
    prepare: async (backend) => {
      const keys = new SealKeys(SECRET, "CookieStore", backend);
      const sealed = await seal(keys, typicalSession(), NAME);
      return () => unseal(keys, sealed, NAME, NOW);
    },
  },
  {
    name: "seal a cookie (about 200 bytes)",
    prepare: async (backend) => {
      const keys = new SealKeys(SECRET, "CookieStore", backend);
      const session = typicalSession();
      await seal(keys, session, NAME);
      return () => seal(keys, session, NAME);
    },
  },
  {
    name: "CookieStore.read of a request (Oak cookie map)",
    prepare: async (backend) => {
      const store = new CookieStore(SECRET, { crypto: backend.name });
      const keys = new SealKeys(SECRET, "CookieStore", backend);
      const header = new Headers({ cookie: `${NAME}=${await seal(keys, typicalSession(), NAME)}` });
      const read = () =>
        store.read(new Cookies(header, { response: new Headers() }) as unknown as CookieJar, NOW);
      if (!(await read())) throw new Error("the benchmark cookie does not open");
      return read;
    },
  },
  {
    name: "derive a secret's keys (once per secret)",
    prepare: (backend) => {
      let n = 0;
      return Promise.resolve(() => {
        // A new secret each call: nothing is cached.
        const keys = new SealKeys(`${SECRET} ${n++}`, "CookieStore", backend);
        return keys.all();
      });
    },
  },
];

interface Sample {
  wallUs: number;
  cpuUs: number;
}

/** Calls `call` one after the other for about `ms`; wall and CPU microseconds per call. */
async function round(call: () => unknown, ms: number): Promise<Sample> {
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  let t = t0;
  while (t < end) {
    // Batches of 64 between clock reads, so reading the clock costs little.
    for (let i = 0; i < 64; i++) {
      const result = call();
      if (result instanceof Promise) await result;
    }
    calls += 64;
    t = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: ((t - t0) * 1000) / calls, cpuUs: (cpu.user + cpu.system) / calls };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const backends = [nodeCryptoBackend, webCryptoBackend].filter((b): b is CryptoBackend =>
  b !== undefined
);
const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `Node.js ${process.versions.node}`;
console.log(
  `${runtime}; ${ROUNDS} rounds of ${ROUND_MS} ms per operation and path; median round\n`,
);
if (!nodeCryptoBackend) console.log("this runtime has no node:crypto: Web Crypto only\n");

const rows: string[][] = [[
  "operation",
  "node µs (CPU)",
  "web µs (CPU)",
  "web/node (CPU)",
  "node µs (wall)",
  "web µs (wall)",
]];
for (const op of operations) {
  const calls = new Map<CryptoBackend, () => unknown>();
  for (const b of backends) calls.set(b, await op.prepare(b));
  const samples = new Map<CryptoBackend, Sample[]>(backends.map((b) => [b, []]));
  // Warm-up, then interleaved rounds so drift hits both paths alike.
  for (const b of backends) await round(calls.get(b)!, ROUND_MS / 2);
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of backends) samples.get(b)!.push(await round(calls.get(b)!, ROUND_MS));
  }
  const cpu = (b: CryptoBackend | undefined) =>
    b ? median(samples.get(b)!.map((s) => s.cpuUs)) : NaN;
  const wall = (b: CryptoBackend | undefined) =>
    b ? median(samples.get(b)!.map((s) => s.wallUs)) : NaN;
  const f = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(1));
  rows.push([
    op.name,
    f(cpu(nodeCryptoBackend)),
    f(cpu(webCryptoBackend)),
    nodeCryptoBackend ? `${(cpu(webCryptoBackend) / cpu(nodeCryptoBackend)).toFixed(1)}x` : "-",
    f(wall(nodeCryptoBackend)),
    f(wall(webCryptoBackend)),
  ]);
}

const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
