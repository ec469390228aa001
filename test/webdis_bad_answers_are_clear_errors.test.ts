/**
 * Whatever comes back instead of a Webdis reply fails the request with a
 * `SessionStoreError` (status 503) whose message says what happened, and
 * never crashes: an HTML page, a body that is not JSON, JSON of another
 * shape, an error status, a Redis error reply, a refused connection, a
 * server that never answers. The broken servers are injected faults: small
 * node:http servers written to answer badly. The last tests use a real
 * Webdis with an ACL: refused without the right basic-auth password,
 * served with it. Each transport is tested.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { emptyFields } from "../src/store.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { sparePort } from "./kit/ports.ts";
import { requireSharedRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";

type Answer = { status: number; type: string; body: string } | "never";

/**
 * An HTTP server that answers every request with `answer(command)` (an
 * injected fault); `command` is the Webdis command path, from the URL of a
 * GET or the body of a POST.
 */
async function fakeServer(
  answer: (command: string) => Answer,
): Promise<{ url: string; close(): Promise<void> }> {
  const port = await sparePort();
  const pending = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => body += chunk);
    req.on("end", () => {
      const a = answer(req.method === "POST" ? body : (req.url ?? "/").slice(1));
      if (a === "never") {
        pending.add(() => res.destroy());
        return;
      }
      res.writeHead(a.status, { "content-type": a.type, connection: "close" });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const end of pending) end();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function failure(run: () => Promise<unknown>): Promise<SessionStoreError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof SessionStoreError, `expected SessionStoreError, got ${error}`);
    assert.equal(error.status, 503);
    return error;
  }
  assert.fail("expected the call to fail");
}

const record = () => {
  const now = Date.now();
  return { data: emptyFields(), flash: emptyFields(), createdAt: now, expiresAt: now + 60_000 };
};

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): bad answers are clear errors`, () => {
    const cases: Array<[string, Answer, RegExp]> = [
      [
        "an HTML error page",
        { status: 200, type: "text/html", body: "<html><body>Bad gateway</body></html>" },
        /not JSON \(is the url pointing at Webdis\?\).*Bad gateway/,
      ],
      ["a body that is not JSON", { status: 200, type: "text/plain", body: "OK" }, /not JSON/],
      ["an empty body", { status: 200, type: "application/json", body: "" }, /not JSON/],
      [
        "JSON of another shape",
        { status: 200, type: "application/json", body: '{"result":"x"}' },
        /not a Webdis reply \(expected \{"HGETALL": \.\.\.\}\)/,
      ],
      [
        "a JSON array",
        { status: 200, type: "application/json", body: "[1,2]" },
        /not a Webdis reply/,
      ],
      [
        "a hash of the wrong type",
        { status: 200, type: "application/json", body: '{"HGETALL":"text"}' },
        /unexpected reply/,
      ],
      [
        "a Redis error reply",
        {
          status: 200,
          type: "application/json",
          body:
            '{"HGETALL":[false,"WRONGTYPE Operation against a key holding the wrong kind of value"]}',
        },
        /Redis answered with an error: WRONGTYPE/,
      ],
      [
        "HTTP 500",
        { status: 500, type: "text/html", body: "<h1>Internal</h1>" },
        /HTTP 500.*Internal/,
      ],
      [
        "HTTP 503",
        { status: 503, type: "text/plain", body: "" },
        /HTTP 503 \(Webdis cannot reach Redis\)/,
      ],
      [
        "HTTP 403",
        { status: 403, type: "text/plain", body: "" },
        /HTTP 403 \(refused: check username\/password/,
      ],
    ];
    for (const [what, answer, message] of cases) {
      it(`${what}: SessionStoreError, 503`, async () => {
        const server = await fakeServer(() => answer);
        try {
          const store = new WebdisStore({ url: server.url, transport });
          const error = await failure(() => store.get("k", Date.now()));
          assert.match(error.message, /^WebdisStore: /);
          assert.match(error.message, message);
        } finally {
          await server.close();
        }
      });
    }

    it("the script's error reply (not NOSCRIPT) fails the write clearly", async () => {
      const server = await fakeServer((path) =>
        path.startsWith("EVALSHA/")
          ? {
            status: 200,
            type: "application/json",
            body: '{"EVALSHA":[false,"ERR Error running script"]}',
          }
          : { status: 200, type: "application/json", body: '{"HGETALL":{}}' }
      );
      try {
        const store = new WebdisStore({ url: server.url, transport });
        const error = await failure(() => store.create("k", record(), Date.now()));
        assert.match(error.message, /Redis answered with an error: ERR Error running script/);
      } finally {
        await server.close();
      }
    });

    it("a refused connection: SessionStoreError naming the URL", async () => {
      const port = await sparePort(); // nothing listens there
      const store = new WebdisStore({ url: `http://127.0.0.1:${port}`, transport });
      const error = await failure(() => store.get("k", Date.now()));
      assert.match(
        error.message,
        new RegExp(`could not reach Webdis at http://127\\.0\\.0\\.1:${port}`),
      );
    });

    it("a server that never answers: SessionStoreError after timeoutMs", async () => {
      const server = await fakeServer(() => "never");
      try {
        const store = new WebdisStore({ url: server.url, timeoutMs: 200, transport });
        const error = await failure(() =>
          store.update("k", {
            clear: false,
            set: emptyFields(),
            delete: [],
            flash: null,
            expiresAt: Date.now() + 1000,
          }, Date.now())
        );
        assert.match(error.message, /did not answer EVALSHA within 200 ms/);
      } finally {
        await server.close();
      }
    });

    it("bad options are SessionConfigError at construction", () => {
      const bad: unknown[] = [
        undefined,
        "127.0.0.1:7379",
        { url: "127.0.0.1:7379" },
        { url: "ftp://host/" },
        { url: "http://host:7379/?db=1" },
        { url: 7379 },
        { url: "http://h", timeoutMs: 0 },
        { url: "http://h", timeoutMs: "5s" },
        { url: "http://h", keyPrefix: 5 },
        { url: "http://h", keyPrefix: "a\u0000b" },
        { url: "http://h", transport: "xhr" },
        { url: "http://h", transport: 1 },
        { url: "http://h", maxConnections: 0 },
        { url: "http://h", maxConnections: 1.5 },
        { url: "http://h", maxConnections: "4" },
      ];
      for (const options of bad) {
        assert.throws(
          () => new WebdisStore(options as never),
          SessionConfigError,
          JSON.stringify(options),
        );
      }
    });
  });

  describe(`Webdis (${transport}): basic auth for an ACL`, () => {
    let webdis: OwnWebdis;
    before(async () => {
      await requireSharedRedis();
      webdis = await startWebdis({
        redisPort: 6379,
        acl: [
          { disabled: ["*"] },
          { http_basic_auth: "oak:s3cr3t", enabled: ["HGETALL", "EVALSHA", "EVAL", "DEL"] },
        ],
      });
    });
    after(async () => {
      await webdis?.dispose();
    });

    it("without credentials or with a wrong password: 403, as a clear SessionStoreError", async () => {
      for (
        const store of [
          new WebdisStore({ url: webdis.url, transport }),
          new WebdisStore({ url: webdis.url, username: "oak", password: "wrong", transport }),
        ]
      ) {
        const error = await failure(() => store.get("k", Date.now()));
        assert.match(error.message, /HTTP 403 \(refused: check username\/password and the ACL/);
        assert.ok(!error.message.includes("s3cr3t"));
      }
    });

    it("with username/password (or credentials in the URL) every operation works", async () => {
      const url = new URL(webdis.url);
      url.username = "oak";
      url.password = "s3cr3t";
      for (
        const store of [
          new WebdisStore({
            url: webdis.url,
            transport,
            username: "oak",
            password: "s3cr3t",
            keyPrefix: "oaktest_acl_",
          }),
          new WebdisStore({ url: url.href, keyPrefix: "oaktest_acl_", transport }),
        ]
      ) {
        const now = Date.now();
        const key = crypto.randomUUID();
        const r = record();
        r.data.a = "1";
        await store.create(key, r, now);
        assert.equal((await store.get(key, now))?.data.a, "1");
        assert.equal(
          await store.update(key, {
            clear: true,
            set: emptyFields(),
            delete: [],
            flash: null,
            expiresAt: now + 1000,
          }, now),
          true,
        );
        await store.delete(key);
        assert.equal(await store.get(key, now), null);
      }
    });
  });
}
