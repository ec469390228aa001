/**
 * No WebdisStore error, at construction or at run time, holds the password
 * (nor a piece of it): not in its message, its stack, its causes or what
 * `util.inspect` prints. Every malformed URL shape is tried, with the
 * password in the URL's user-info (encoded or not) or in a query; then the
 * run-time failures (refused, refused by the ACL, timed out, answered
 * garbage) with the credentials in the URL and in the options, on each
 * transport. The server that never answers and the one that answers
 * garbage are injected faults; the ACL refusal comes from a real Webdis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { inspect } from "node:util";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { sparePort } from "./kit/ports.ts";
import { requireSharedRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";

const PASSWORD = "Tr0ub4dor-x9";

/** The password and every piece of it of 4 characters or more (split at URL delimiters). */
function pieces(password: string): string[] {
  const parts = password.split(/[/?#@:%\s]+/).filter((p) => p.length >= 4);
  return [password, encodeURIComponent(password), ...parts];
}

/** Everything a log line could show of `error`. */
function everything(error: unknown): string {
  const out: string[] = [inspect(error, { depth: 6 })];
  let e: unknown = error;
  for (let depth = 0; e && depth < 6; depth++) {
    out.push(String(e), String((e as Error).stack ?? ""), String((e as Error).message ?? ""));
    e = (e as { cause?: unknown }).cause;
  }
  return out.join("\n");
}

function assertHidden(error: unknown, password: string, shape: string): void {
  const text = everything(error);
  for (const piece of pieces(password)) {
    assert.ok(!text.includes(piece), `${shape}: ${JSON.stringify(piece)} shows in:\n${text}`);
  }
}

// [shape, url, the password it holds]
const MALFORMED: Array<[string, string, string]> = [
  ["a webdis:// scheme", `webdis://app:${PASSWORD}@host:7379`, PASSWORD],
  ["a redis:// scheme", `redis://app:${PASSWORD}@127.0.0.1:6379`, PASSWORD],
  ["file://", `file://app:${PASSWORD}@host/x`, PASSWORD],
  ["mailto:", `mailto:app:${PASSWORD}@host`, PASSWORD],
  ["no scheme (parses as scheme app:)", `app:${PASSWORD}@host:7379`, PASSWORD],
  ["no scheme, // only", `//app:${PASSWORD}@host:7379`, PASSWORD],
  ["no scheme, host first", `host:7379@app:${PASSWORD}`, PASSWORD],
  ["a leading space and a wrong scheme", ` webdis://app:${PASSWORD}@host`, PASSWORD],
  ["no host", `http://app:${PASSWORD}@`, PASSWORD],
  ["no host but a port", `http://app:${PASSWORD}@:7379`, PASSWORD],
  ["a port out of range", `http://app:${PASSWORD}@host:99999`, PASSWORD],
  ["a port that is not a number", `http://app:${PASSWORD}@host:port`, PASSWORD],
  ["an unclosed IPv6 bracket", `http://app:${PASSWORD}@[::1:7379`, PASSWORD],
  ["a space in the host", `http://app:${PASSWORD}@my host:7379`, PASSWORD],
  ["a password with a raw /", "http://app:Tr0ub/4dor-x9@host:7379", "Tr0ub/4dor-x9"],
  ["a password starting with digits and a raw /", "http://app:4242/s3cr3t@host", "4242/s3cr3t"],
  ["a password with a raw ?", "http://app:Tr0ub?4dor-x9@host:7379", "Tr0ub?4dor-x9"],
  ["a password with a raw #", "http://app:Tr0ub#4dor-x9@host:7379", "Tr0ub#4dor-x9"],
  ["a password of digits with a raw #", "http://app:4242#s3cr3t@host", "4242#s3cr3t"],
  ["a password with a malformed %-escape", "http://app:Tr0ub%E0%A4%A-x9@host", "Tr0ub%E0%A4%A-x9"],
  ["a user with a malformed %-escape", `http://a%zzpp:${PASSWORD}@host`, PASSWORD],
  ["a query", `http://app:${PASSWORD}@host:7379/?db=1`, PASSWORD],
  ["a fragment", `http://app:${PASSWORD}@host:7379/#top`, PASSWORD],
  ["a password in the query", `http://host:7379/?password=${PASSWORD}`, PASSWORD],
  ["a password in the fragment", `http://host:7379/#${PASSWORD}`, PASSWORD],
  ["an @ in the path", `http://host:7379/app:${PASSWORD}@x`, PASSWORD],
  ["a newline inside", `http://app:${PASSWORD}@ho\nst:7379?x`, PASSWORD],
];

describe("Webdis: no error shows a password", () => {
  for (const [shape, url, password] of MALFORMED) {
    it(`url with ${shape}: SessionConfigError without the password`, () => {
      let caught: unknown;
      try {
        new WebdisStore({ url });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof SessionConfigError, `${shape}: expected SessionConfigError`);
      assert.match((caught as Error).message, /^WebdisStore: /);
      assertHidden(caught, password, shape);
    });
  }

  it("bad options beside a URL with credentials: the error does not show them", () => {
    const url = `http://app:${PASSWORD}@127.0.0.1:7379`;
    const bad: Array<Record<string, unknown>> = [
      { url, username: 5 },
      { url, password: {} },
      { url, password: null },
      { url, transport: "curl" },
      { url, transport: PASSWORD },
      { url, maxConnections: 0 },
      { url, timeoutMs: -1 },
      { url, keyPrefix: 7 },
      { url: PASSWORD },
      { url: new URL(url) },
    ];
    for (const options of bad) {
      let caught: unknown;
      try {
        new WebdisStore(options as never);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof SessionConfigError, JSON.stringify(Object.keys(options)));
      assertHidden(caught, PASSWORD, JSON.stringify(Object.keys(options)));
    }
  });

  it("a URL whose password holds a raw @ still works, and its password never shows", async () => {
    const port = await sparePort(); // nothing listens: a refused connection
    const store = new WebdisStore({ url: `http://app:Tr0ub@4dor@127.0.0.1:${port}` });
    await assert.rejects(() => store.get("k", Date.now()), (error: unknown) => {
      assert.ok(error instanceof SessionStoreError);
      assertHidden(error, "Tr0ub@4dor", "raw @");
      return true;
    });
  });
});

/** An injected fault: a server that answers every request with `status` and `body`, or never. */
async function faultServer(
  answer: { status: number; body: string } | "never",
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const port = await sparePort();
  const hung = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    req.resume();
    if (answer === "never") {
      hung.add(() => res.destroy());
      return;
    }
    res.writeHead(answer.status, { "content-type": "text/html" });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      for (const end of hung) end();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): run-time errors do not show the password`, () => {
    let webdis: OwnWebdis;
    before(async () => {
      await requireSharedRedis();
      webdis = await startWebdis({
        redisPort: 6379,
        acl: [{ disabled: ["*"] }, {
          http_basic_auth: `app:${PASSWORD}`,
          enabled: ["HGETALL", "EVALSHA", "EVAL", "DEL"],
        }],
      });
    });
    after(async () => {
      await webdis?.dispose();
    });

    /** The store with the credentials in its URL, and with them in the options. */
    function stores(base: string, password: string, timeoutMs = 5000): WebdisStore[] {
      const withCredentials = new URL(base);
      withCredentials.username = "app";
      withCredentials.password = password;
      return [
        new WebdisStore({ url: withCredentials.href, transport, timeoutMs }),
        new WebdisStore({ url: base, username: "app", password, transport, timeoutMs }),
      ];
    }

    async function check(store: WebdisStore, password: string, shape: string): Promise<void> {
      const now = Date.now();
      const record = { data: {}, flash: {}, createdAt: now, expiresAt: now + 1000 };
      for (const call of [() => store.get("k", now), () => store.create("k", record, now)]) {
        try {
          await call();
          assert.fail(`${shape}: expected a failure`);
        } catch (error) {
          assert.ok(error instanceof SessionStoreError, `${shape}: ${error}`);
          assertHidden(error, password, shape);
        }
      }
      await store.close();
    }

    it("a refused connection", async () => {
      const base = `http://127.0.0.1:${await sparePort()}`;
      for (const store of stores(base, PASSWORD)) await check(store, PASSWORD, "refused");
    });

    it("the ACL refuses a wrong password (403)", async () => {
      for (const store of stores(webdis.url, "Wr0ng-pa55word")) {
        await check(store, "Wr0ng-pa55word", "403");
      }
    });

    it("a server that never answers (timeout) and one that answers garbage", async () => {
      const hung = await faultServer("never");
      const garbage = await faultServer({ status: 502, body: "<h1>Bad gateway</h1>" });
      try {
        for (const store of stores(hung.url, PASSWORD, 150)) {
          await check(store, PASSWORD, "timeout");
        }
        for (const store of stores(garbage.url, PASSWORD)) await check(store, PASSWORD, "502");
      } finally {
        await hung.close();
        await garbage.close();
      }
    });

    it("the right password works (the ACL is real)", async () => {
      for (const store of stores(webdis.url, PASSWORD)) {
        assert.equal(await store.get("oaktest_nopw_" + crypto.randomUUID(), Date.now()), null);
        await store.close();
      }
    });
  });
}
