/**
 * Users of an app that moves from express-session (with
 * express-mysql-session) to oak-sessions stay logged in: a real express app
 * logs a user in and its browser keeps express-session's signed cookie; the
 * new Oak app's MySqlStore carries the table over, and with
 * `expressSessionCookie` that cookie opens the user's session, which moves to
 * an ID of ours on that first request (the old ID then opens nothing). A
 * cookie with a wrong signature, signed with another secret, or replayed
 * after the move or after a logout opens nothing.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import expressMySqlSession from "express-mysql-session";
import type mysqlPromise from "mysql2/promise";
import { Application } from "@oakserver/oak";
import { Session, SessionConfigError } from "../mod.ts";
import { MySqlStore } from "../src/stores/mysql.ts";
import { CookieClient } from "./kit/http_client.ts";
import { dropTables, rawPool, requireMariaDb, uniqueTable } from "./kit/mysql.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

const MySQLStore = expressMySqlSession(session);

// express and express-session ship no types: the little used of them, loaded with require.
type ExpressHandler = (
  req: { session: Record<string, unknown> },
  res: { send(body: string): void },
) => void;
interface ExpressApp {
  use(middleware: unknown): void;
  get(path: string, handler: ExpressHandler): void;
  listen(port: number, host: string): Server;
}
const require = createRequire(import.meta.url);
const express = require("express") as () => ExpressApp;
const expressSession = require("express-session") as (options: Record<string, unknown>) => unknown;
const SECRET = "the express app's own secret";

/** Log in on a real express app with express-session; returns its `connect.sid` cookie value. */
async function expressLogin(raw: mysqlPromise.Pool, table: string, user: string): Promise<string> {
  const store = new MySQLStore(
    { createDatabaseTable: true, clearExpired: false, schema: { tableName: table } },
    raw,
  );
  await store.onReady();
  const app = express();
  app.use(expressSession({
    secret: SECRET,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 3_600_000 },
  }));
  app.get("/login", (req, res) => {
    req.session.user = user;
    req.session.visits = 4;
    res.send("ok");
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/login`);
    assert.equal(await res.text(), "ok");
    const sid = res.headers.getSetCookie().find((c) => c.startsWith("connect.sid="));
    assert.ok(sid, "express-session set its cookie");
    return sid.slice("connect.sid=".length).split(";")[0];
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  }
}

describe("express-session users stay logged in after the move (MySqlStore)", () => {
  const table = uniqueTable("expcookie");
  let raw: mysqlPromise.Pool;
  let server: RunningServer;
  const cookies: string[] = [];

  before(async () => {
    await requireMariaDb();
    raw = rawPool();
    for (const user of ["ada", "bob", "cy", "dee"]) {
      cookies.push(await expressLogin(raw, table, user));
    }
    const app = new Application();
    app.use(Session.initMiddleware(new MySqlStore(raw, table), {
      expressSessionCookie: { secret: ["a newer secret", SECRET] },
    }));
    app.use(async (ctx, next) => {
      if (ctx.request.url.pathname === "/logout") {
        await ctx.state.session.deleteSession();
        ctx.response.body = "bye";
        return;
      }
      if (ctx.request.url.pathname === "/write") ctx.state.session.set("note", "written");
      await next();
      ctx.response.body = {
        user: ctx.state.session.get("user") ?? null,
        visits: ctx.state.session.get("visits") ?? null,
      };
    });
    server = await serve(app);
  });

  after(async () => {
    await server?.close();
    await dropTables(raw, table, `${table.slice(0, 40)}_express_backup`);
    await raw.end();
  });

  /** A browser holding only express-session's cookie `value`. */
  function browser(value: string): CookieClient {
    const client = new CookieClient(server.url);
    client.cookies.set("connect.sid", value);
    return client;
  }

  it("opens the session express-session kept, and moves it to an ID of ours at once", async () => {
    const b = browser(cookies[0]);
    const first = await b.get("/");
    assert.deepEqual(first.json(), { user: "ada", visits: 4 });
    const ours = first.setCookies.find((c) => c.name === "session");
    assert.ok(ours && /^[A-Za-z0-9_-]{43}$/.test(ours.value), "a cookie of ours was set");
    // The browser keeps both cookies; ours is read from now on.
    assert.deepEqual((await b.get("/")).json(), { user: "ada", visits: 4 });
    // express-session's cookie alone no longer opens it: the old ID holds only the move's marker.
    assert.deepEqual((await browser(cookies[0]).get("/")).json(), { user: null, visits: null });
  });

  it("a late request with only the old cookie neither opens the session nor touches the new cookie", async () => {
    const b = browser(cookies[1]);
    await b.get("/");
    const late = await browser(cookies[1]).get("/write");
    assert.equal(late.status, 409, "a write under the moved ID is refused");
    assert.deepEqual(late.setCookies, []);
    assert.deepEqual((await b.get("/")).json(), { user: "bob", visits: 4 });
  });

  it("a logout holds: the old cookie opens nothing afterwards", async () => {
    const b = browser(cookies[2]);
    assert.deepEqual((await b.get("/")).json(), { user: "cy", visits: 4 });
    assert.equal((await b.get("/logout")).text, "bye");
    assert.deepEqual((await browser(cookies[2]).get("/")).json(), { user: null, visits: null });
  });

  it("a forged, altered or foreign-signed cookie opens nothing, and is left alone", async () => {
    const [id, mac] = decodeURIComponent(cookies[3]).slice(2).split(".");
    const flipped = mac[0] === "A" ? "B" + mac.slice(1) : "A" + mac.slice(1);
    const forged = [
      encodeURIComponent(`s:${id}.${flipped}`),
      encodeURIComponent(`s:${id}x.${mac}`),
      encodeURIComponent(`s:${id}`),
      id,
      "s%3A%E0%A4%A",
      encodeURIComponent(`s:${id}.${mac}=`),
    ];
    for (const value of forged) {
      const reply = await browser(value).get("/");
      assert.deepEqual(reply.json(), { user: null, visits: null }, value);
      assert.deepEqual(reply.setCookies, [], value);
    }
    // The untouched cookie still opens it (so the forgeries failed for their change alone).
    assert.deepEqual((await browser(cookies[3]).get("/")).json(), { user: "dee", visits: 4 });
  });

  it("is checked where it is passed", () => {
    const store = new MySqlStore(raw, table);
    const bad: unknown[] = [
      {},
      { secret: "" },
      { secret: [] },
      { secret: [SECRET, 5] },
      { secret: SECRET, name: "connect sid" },
      { secret: SECRET, nmae: "connect.sid" },
      "secret",
    ];
    for (const option of bad) {
      assert.throws(
        () =>
          Session.initMiddleware(store, {
            expressSessionCookie: option as { secret: string },
          }),
        SessionConfigError,
        JSON.stringify(option),
      );
    }
  });
});
