/**
 * WebdisStore reuses its connections to Webdis, bounds them, gives up on a
 * request after `timeoutMs` with a `SessionStoreError` (503) and goes on
 * working afterwards, drops its connections on `close()`, and never keeps
 * the process alive with an idle one. A logging TCP relay in front of a
 * real Webdis counts the connections; the server that stops answering is
 * an injected fault (a small node:http server that hangs while told to).
 * Each transport is tested.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { createClient } from "redis";
import { SessionStoreError } from "../src/errors.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { type LoggingProxy, startLoggingProxy } from "./helpers/logging_proxy.ts";
import { sparePort } from "./kit/ports.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

const record = (now: number) => ({ data: {}, flash: {}, createdAt: now, expiresAt: now + 60_000 });

/** An injected fault: answers like Webdis (an empty hash) except while `hang` is set. */
async function hangingServer(): Promise<
  { url: string; hang: boolean; answered: number; close(): Promise<void> }
> {
  const port = await sparePort();
  const hung = new Set<() => void>();
  const state = {
    url: `http://127.0.0.1:${port}`,
    hang: false,
    answered: 0,
    close: () => {
      for (const end of hung) end();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    if (state.hang) {
      hung.add(() => res.destroy());
      return;
    }
    state.answered++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"HGETALL":{}}');
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return state;
}

/** Run the idle child on this runtime; resolves with its exit code and output, or rejects if it lingers. */
function runIdleChild(
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; ms: number }> {
  const file = fileURLToPath(new URL("./helpers/webdis_idle_child.ts", import.meta.url));
  const deno = "Deno" in globalThis;
  const args = deno ? ["run", "-A", "--no-check", file] : ["--import", "tsx", file];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c) => out += c);
  child.stderr!.on("data", (c) => out += c);
  return new Promise((resolve, reject) => {
    let doneAt = 0;
    child.stdout!.on("data", () => {
      if (!doneAt && out.includes("done")) doneAt = Date.now();
    });
    // Generous for a loaded machine; a kept-alive socket that holds the
    // process would hold it for the agent's idle timeout (a minute) or forever.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the process did not exit 20 s after its work (output: ${out})`));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: doneAt ? Date.now() - doneAt : -1 });
    });
  });
}

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): connections are kept alive, bounded and released`, () => {
    let webdis: OwnWebdis;
    let proxy: LoggingProxy;
    const raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    const prefix = uniquePrefix("wdkeep");
    before(async () => {
      await requireSharedRedis();
      await raw.connect();
      webdis = await startWebdis({ redisPort: 6379 });
    });
    after(async () => {
      await dropPrefix(raw, prefix);
      await raw.close();
      await webdis?.dispose();
    });

    it("40 requests one after another reuse their connection", async () => {
      proxy = await startLoggingProxy(webdis.port);
      const store = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
      try {
        const now = Date.now();
        for (let i = 0; i < 20; i++) {
          await store.create(`seq${i}`, record(now), now);
          assert.notEqual(await store.get(`seq${i}`, now), null);
        }
        assert.equal(proxy.requests.length, 40);
        if (transport === "node:net") {
          assert.equal(proxy.connections(), 1, "every request on the first connection");
        } else {
          // Node's fetch (undici) keeps a second socket beside one that has
          // just carried a POST; each is reused all the same.
          assert.ok(proxy.connections() <= 2, `${proxy.connections()} connections for 40 requests`);
        }
      } finally {
        await store.close();
        await proxy.close();
      }
    });

    if (transport === "node:net") {
      it('the former name "node:http" selects this transport', async () => {
        proxy = await startLoggingProxy(webdis.port);
        const store = new WebdisStore({
          url: proxy.url,
          keyPrefix: prefix,
          transport: "node:http",
        });
        try {
          assert.equal(store.transport, "node:net");
          const now = Date.now();
          await store.create("alias", record(now), now);
          assert.notEqual(await store.get("alias", now), null);
          assert.equal(proxy.connections(), 1, "both requests on one kept-alive connection");
        } finally {
          await store.close();
          await proxy.close();
        }
      });

      it("concurrent requests never open more than maxConnections", async () => {
        proxy = await startLoggingProxy(webdis.port);
        const store = new WebdisStore({
          url: proxy.url,
          keyPrefix: prefix,
          transport,
          maxConnections: 3,
        });
        try {
          const now = Date.now();
          await Promise.all(
            Array.from({ length: 60 }, (_, i) => store.create(`par${i}`, record(now), now)),
          );
          const back = await Promise.all(
            Array.from({ length: 60 }, (_, i) => store.get(`par${i}`, now)),
          );
          assert.ok(back.every((r) => r !== null), "every session stored and read");
          assert.equal(proxy.requests.length, 120);
          assert.ok(proxy.connections() <= 3, `${proxy.connections()} connections for 3 allowed`);
          assert.ok(proxy.connections() >= 2, "the pool was used in parallel");
        } finally {
          await store.close();
          await proxy.close();
        }
      });

      it("a kept-alive socket the server hangs up on is retried once, on a new one", async () => {
        // An injected fault: a server that answers the first request of each
        // connection and hangs up on any later one without answering, as a
        // server closing an idle connection just as a request arrives.
        const port = await sparePort();
        const served = new WeakSet<object>();
        let answered = 0;
        let hungUp = 0;
        const server: Server = createServer((req, res) => {
          req.resume();
          if (served.has(req.socket)) {
            hungUp++;
            req.socket.destroy();
            return;
          }
          served.add(req.socket);
          answered++;
          res.writeHead(200, { "content-type": "application/json" });
          res.end('{"EVALSHA":1}');
        });
        await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
        const store = new WebdisStore({ url: `http://127.0.0.1:${port}`, transport });
        try {
          const now = Date.now();
          for (let i = 0; i < 5; i++) await store.create(`retry${i}`, record(now), now);
          assert.equal(answered, 5, "each call answered once");
          assert.equal(hungUp, 4, "each reuse of a socket was hung up on, then retried");
        } finally {
          await store.close();
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });

      it("close() drops every connection, and later calls fail clearly", async () => {
        proxy = await startLoggingProxy(webdis.port);
        const store = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
        const now = Date.now();
        await Promise.all([1, 2, 3].map((i) => store.get(`close${i}`, now)));
        assert.ok(proxy.open() >= 1, "kept-alive connections are open before close()");
        await store.close();
        await proxy.allClosed();
        await assert.rejects(() => store.get("close1", now), (error: unknown) => {
          assert.ok(error instanceof SessionStoreError);
          assert.match(error.message, /was closed/);
          return true;
        });
        await proxy.close();
      });
    }

    it("a request that outlives timeoutMs fails with a 503, and the next one works", async () => {
      const server = await hangingServer();
      const store = new WebdisStore({ url: server.url, transport, timeoutMs: 200 });
      try {
        assert.equal(await store.get("t", Date.now()), null);
        server.hang = true;
        const started = Date.now();
        await assert.rejects(() => store.get("t", Date.now()), (error: unknown) => {
          assert.ok(error instanceof SessionStoreError, String(error));
          assert.equal(error.status, 503);
          assert.match(error.message, /did not answer HGETALL within 200 ms/);
          return true;
        });
        const waited = Date.now() - started;
        assert.ok(waited >= 190 && waited < 5000, `gave up after ${waited} ms`);
        server.hang = false;
        assert.equal(await store.get("t", Date.now()), null, "the next request works");
        assert.equal(server.answered, 2, "the timed-out request was not sent again");
      } finally {
        await store.close();
        await server.close();
      }
    });

    it("an idle kept-alive connection does not keep the process alive", async () => {
      proxy = await startLoggingProxy(webdis.port);
      try {
        const { code, out, ms } = await runIdleChild({
          WEBDIS_URL: proxy.url,
          WEBDIS_PREFIX: prefix,
          WEBDIS_TRANSPORT: transport,
        });
        assert.equal(code, 0, out);
        assert.match(out, new RegExp(`done ${transport.replace(":", ":")}`));
        assert.ok(proxy.requests.length >= 2, "the child spoke to Webdis");
        assert.ok(ms >= 0 && ms < 10_000, `exited ${ms} ms after its work`);
      } finally {
        await proxy.close();
      }
    });
  });
}
