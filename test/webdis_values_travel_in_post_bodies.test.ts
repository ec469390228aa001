/**
 * A session value never shows in a request line (what a TLS-terminating
 * proxy writes to its access log): every command that carries one (the
 * write script: create, update, rotate) goes as `POST /` with the command in
 * the body (so does a deletion: the same script), and only `HGETALL` of a hashed key goes as a GET
 * URL.
 * A real Oak app sets a CSRF token and an e-mail address through a
 * WebdisStore whose Webdis sits behind a logging TCP relay that parses what
 * crossed the wire. Each transport is tested.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { emptyFields } from "../src/store.ts";
import { encodeWebdisArg, WebdisStore } from "../src/stores/webdis.ts";
import { startSessionApp } from "./helpers/redis_http.ts";
import { type LoggingProxy, startLoggingProxy } from "./helpers/logging_proxy.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

const CSRF = "csrf-7f3a9c2e41d8b6f05e";
const EMAIL = "alice.secret@example.com";

/** Every form a value could take on the wire: raw, JSON text, percent-encoded. */
function forms(value: string): string[] {
  return [
    value,
    JSON.stringify(value),
    encodeURIComponent(value),
    encodeWebdisArg(value),
    encodeWebdisArg(JSON.stringify(value)),
    value.split("@")[0],
  ];
}

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): values travel in POST bodies, never in request lines`, () => {
    let webdis: OwnWebdis;
    let proxy: LoggingProxy;
    const raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    const prefix = uniquePrefix("wdpost");
    before(async () => {
      await requireSharedRedis();
      await raw.connect();
      webdis = await startWebdis({ redisPort: 6379 });
      proxy = await startLoggingProxy(webdis.port);
    });
    after(async () => {
      await dropPrefix(raw, prefix);
      await raw.close();
      await proxy?.close();
      await webdis?.dispose();
    });

    it("an app's login, update, read and logout: values only in bodies", async () => {
      const store = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
      assert.equal(store.transport, transport);
      const app = await startSessionApp(store);
      try {
        const client = app.client();
        assert.equal((await client.post("/set", { csrf: CSRF, email: EMAIL })).status, 200);
        assert.equal((await client.post("/set", { email: EMAIL + ".uk" })).status, 200);
        const back = await client.get("/get");
        assert.deepEqual(back.json(), { csrf: CSRF, email: EMAIL + ".uk" });
        assert.equal((await client.post("/destroy", {})).status, 200);
      } finally {
        await app.close();
        await store.close();
      }
      // The ID change travels the same way: the rotate script carries values too.
      const now = Date.now();
      const data = emptyFields();
      data.csrf = JSON.stringify(CSRF);
      const rotating = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
      await rotating.create("old", {
        data,
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      const set = emptyFields();
      set.email = JSON.stringify(EMAIL);
      assert.equal(
        await rotating.rotate("old", "new", {
          clear: false,
          set,
          delete: [],
          flash: null,
          expiresAt: now + 60_000,
        }, now),
        true,
      );
      assert.equal((await rotating.get("new", now))?.data.email, JSON.stringify(EMAIL));
      await rotating.close();

      const seen = proxy.requests.splice(0);
      assert.ok(seen.length >= 8, `expected the app's requests, saw ${seen.length}`);
      const secrets = [...forms(CSRF), ...forms(EMAIL)];
      for (const r of seen) {
        for (const s of secrets) {
          assert.ok(!r.requestLine.includes(s), `${JSON.stringify(s)} in ${r.requestLine}`);
          assert.ok(!r.headers.includes(s), `${JSON.stringify(s)} in the headers`);
        }
        const [method, target] = r.requestLine.split(" ");
        if (method === "GET") {
          assert.match(target, /^\/HGETALL\/[A-Za-z0-9_-]+$/, r.requestLine);
        } else {
          assert.equal(method, "POST", r.requestLine);
          assert.equal(target, "/");
          assert.match(r.body, /^(EVALSHA|EVAL|DEL)\//);
        }
      }
      const bodies = seen.map((r) => r.body).join("\n");
      assert.ok(bodies.includes(encodeWebdisArg(JSON.stringify(CSRF))), "the token went in a body");
      assert.ok(
        bodies.includes(encodeWebdisArg(JSON.stringify(EMAIL))),
        "the e-mail went in a body",
      );
      const methods = new Set(seen.map((r) => r.requestLine.split(" ")[0] + " " + commandOf(r)));
      for (const expected of ["GET HGETALL", "POST EVALSHA"]) {
        assert.ok(methods.has(expected), `${expected} seen (saw ${[...methods].join(", ")})`);
      }
    });

    it("after Redis lost its scripts, the EVAL fallback goes in a body too", async () => {
      await raw.scriptFlush();
      const store = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
      const now = Date.now();
      const data = emptyFields();
      data.csrf = JSON.stringify(CSRF);
      await store.create(
        "k",
        { data, flash: emptyFields(), createdAt: now, expiresAt: now + 1000 },
        now,
      );
      await store.close();
      const seen = proxy.requests.splice(0);
      const evals = seen.filter((r) => r.body.startsWith("EVAL/"));
      assert.equal(evals.length, 1, "one EVAL after the NOSCRIPT");
      for (const r of seen) {
        assert.equal(r.requestLine, "POST / HTTP/1.1");
        for (const s of forms(CSRF)) assert.ok(!r.requestLine.includes(s));
      }
    });
  });
}

function commandOf(r: { requestLine: string; body: string }): string {
  const target = r.requestLine.split(" ")[1];
  return (target === "/" ? r.body : target.slice(1)).split("/")[0];
}
