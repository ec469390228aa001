/**
 * An app moving from express-session with express-mysql-session keeps its
 * users' sessions: express-mysql-session itself writes real sessions into
 * its table (its own schema, created by it), then a MySqlStore given that
 * table's name carries the live ones over on `initSessionsTable()`, keyed by
 * the SHA-256 of their IDs (no ID at rest in the new table): each session's
 * keys (all but `cookie`), its expiry, and its last write (the cookie's
 * expiry minus its lifetime). Expired ones are left behind; the old table is
 * kept under a backup name with every row, and one line says what happened.
 * A second store on the migrated table finds a MySqlStore table.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import expressMySqlSession from "express-mysql-session";
import type mysqlPromise from "mysql2/promise";
import { sessionKey } from "../src/session_id.ts";
import { MySqlStore } from "../src/stores/mysql.ts";
import { dropTables, rawPool, requireMariaDb, uniqueTable } from "./kit/mysql.ts";

const MySQLStore = expressMySqlSession(session);
const HOUR = 3_600_000;

/** An express-session session object as express-session hands it to its store. */
function expressSession(maxAge: number | null, fields: Record<string, unknown>) {
  const expires = maxAge === null ? null : new Date(Date.now() + maxAge);
  return {
    cookie: {
      originalMaxAge: maxAge,
      expires: expires === null ? null : expires.toISOString(),
      secure: false,
      httpOnly: true,
      path: "/",
    },
    ...fields,
  };
}

describe("MySqlStore carries over express-mysql-session's sessions", () => {
  const table = uniqueTable("express");
  let raw: mysqlPromise.Pool;
  const lines: string[] = [];
  // express-session's IDs: uid-safe(24), 32 characters of base64url.
  const live = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
  const browserSession = "ZyXwVuTsRqPoNmLkJiHgFeDcBa987654";
  const expired = "expired_expired_expired_expired_";

  before(async () => {
    await requireMariaDb();
    raw = rawPool();
    const express = new MySQLStore(
      { createDatabaseTable: true, clearExpired: false, schema: { tableName: table } },
      raw,
    );
    await express.onReady();
    // The callback form express-session calls (its own types may show only the promise form).
    type SetWithCallback = (sid: string, s: unknown, cb: (e?: unknown) => void) => void;
    const setWithCallback = express.set.bind(express) as unknown as SetWithCallback;
    const set = (sid: string, s: unknown) =>
      new Promise<void>((resolve, reject) =>
        setWithCallback(sid, s, (e) => e ? reject(e) : resolve())
      );
    await set(live, expressSession(HOUR, { userId: 7, cart: [{ sku: "a", qty: 2 }], name: "Zoë" }));
    await set(browserSession, expressSession(null, { count: 3 }));
    await set(expired, expressSession(HOUR, { userId: 8 }));
    await raw.query(`UPDATE \`${table}\` SET expires = ? WHERE session_id = ?`, [
      Math.floor(Date.now() / 1000) - 60,
      expired,
    ]);
    // express-mysql-session closes only what it opened; the pool stays ours.
    await express.close();
  });

  after(async () => {
    await dropTables(raw, table, `${table.slice(0, 40)}_express_backup`);
    await raw.end();
  });

  it("reads every live session under the SHA-256 of its ID, as express-session left it", async () => {
    const store = new MySqlStore(raw, table, { log: (line) => lines.push(line) });
    await store.initSessionsTable();
    const now = Date.now();
    const moved = await store.get(await sessionKey(live), now);
    assert.ok(moved, "the live session was carried over");
    assert.deepEqual(JSON.parse(moved.data.userId), 7);
    assert.deepEqual(JSON.parse(moved.data.cart), [{ sku: "a", qty: 2 }]);
    assert.equal(JSON.parse(moved.data.name), "Zoë");
    assert.equal("cookie" in moved.data, false);
    assert.ok(Math.abs(moved.expiresAt - (now + HOUR)) < 5000, "expiry kept");
    assert.ok(Math.abs(moved.lastSeenAt! - now) < 5000, "last write: when the cookie was set");
    const browser = await store.get(await sessionKey(browserSession), now);
    assert.ok(browser, "a browser-session cookie's session was carried over");
    assert.equal(browser.data.count, "3");
    assert.equal(await store.get(await sessionKey(expired), now), null);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /express-mysql-session's layout.*2 live session\(s\) were carried over/);
  });

  it("keeps no ID in the new table, and every row in the backup", async () => {
    const [rows] = await raw.query({ sql: `SELECT * FROM \`${table}\``, rowsAsArray: true });
    const dump = JSON.stringify(rows);
    for (const id of [live, browserSession]) assert.ok(!dump.includes(id));
    const [backup] = await raw.query(
      `SELECT session_id FROM \`${table.slice(0, 40)}_express_backup\` ORDER BY session_id`,
    );
    assert.equal((backup as unknown[]).length, 3);
  });

  it("a store opened on the migrated table finds its own layout and migrates nothing", async () => {
    const again: string[] = [];
    const store = new MySqlStore(raw, { table, log: (line) => again.push(line) });
    await store.initSessionsTable();
    assert.deepEqual(again, []);
    assert.notEqual(await store.get(await sessionKey(live), Date.now()), null);
  });
});
