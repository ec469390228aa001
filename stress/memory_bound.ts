/**
 * Check 5's process: new sessions poured into a `MemoryStore` with
 * `maxSessions`, through a real Oak application and the session middleware
 * (`app.handle(request)`: Oak's own request path, without a socket, which is
 * fast enough for a million sessions). Run by the harness in its own Node
 * process, so its RSS is this workload's alone; prints one JSON line.
 *
 * `STRESS_CONFIG`: `{ "sessions": N, "bound": B, "deadlineMs": D }`.
 *
 * @module
 */
import { Application } from "@oakserver/oak";
import { MemoryStore, Session } from "../mod.ts";

const { sessions, bound, deadlineMs } = JSON.parse(process.env.STRESS_CONFIG ?? "{}") as {
  sessions: number;
  bound: number;
  deadlineMs: number;
};
// Count and time bounded: no new request starts after the deadline.
const deadline = Date.now() + deadlineMs;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const CONCURRENCY = 32;
const SAMPLE_EVERY = 1000;

const store = new MemoryStore({ maxSessions: bound });
const app = new Application({ logErrors: false });
app.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
app.use((ctx) => {
  ctx.state.session.set("user", "u");
  ctx.state.session.set("canary", "CANARY-memory-bound");
  ctx.response.body = "ok";
});

let created = 0;
let errors = 0;
let maxHeld = 0;
async function one(): Promise<void> {
  // Oak's types name undici's Request; the global one is the same class at run time.
  const request = new Request("http://127.0.0.1/login", { method: "POST" });
  const res = await app.handle(request as unknown as Parameters<typeof app.handle>[0]);
  if (res?.status === 200 && res.headers.getSetCookie().length === 1) created++;
  else errors++;
  await res?.body?.cancel();
}

async function pour(n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n && Date.now() < deadline) {
      const i = next++;
      await one();
      if (i % SAMPLE_EVERY === 0) maxHeld = Math.max(maxHeld, store.size);
    }
  }));
  maxHeld = Math.max(maxHeld, store.size);
}

gc();
const rssEmpty = process.memoryUsage().rss;
// First up to the bound: from then on every new session must push an old one out.
await pour(bound);
gc();
const { rss: rssFull, heapUsed: heapFull } = process.memoryUsage();
const started = Date.now();
await pour(sessions - bound);
const seconds = (Date.now() - started) / 1000;
gc();
const { rss: rssAfter, heapUsed: heapAfter } = process.memoryUsage();
console.log(JSON.stringify({
  sessions: created,
  errors,
  bound,
  held: store.size,
  maxHeld,
  rssEmpty,
  rssFull,
  rssAfter,
  heapFull,
  heapAfter,
  perSecond: Math.round((created - bound) / seconds),
}));
