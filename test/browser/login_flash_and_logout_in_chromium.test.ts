/**
 * In a real Chromium, on every store: failed logins are counted and flashed,
 * login rotates the session ID and its welcome flash survives the redirect
 * exactly once, the cookie arrives HttpOnly / SameSite=Lax / Path=/, and
 * logout ends the session. A screenshot of the logged-in page goes to
 * build/screenshots/<store>.png.
 *
 * Node.js only: `node --import tsx --test test/browser/*.test.ts`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { STORE_KINDS } from "../kit/stores.ts";
import type { ServerStore } from "../../src/store.ts";
import { sessionKey } from "../../src/session_id.ts";
import {
  launchChromium,
  logIn,
  readPanel,
  type RunningDemo,
  screenshotPath,
  sessionCookie,
  startDemo,
  submit,
  type TestBrowser,
} from "../helpers/browser.ts";

/** The page the demo serves to a request carrying only `cookie` (no browser involved). */
async function pageWithCookie(demo: RunningDemo, cookie: string): Promise<string> {
  const res = await fetch(`${demo.url}/`, { headers: { cookie: `${demo.cookieName}=${cookie}` } });
  return await res.text();
}

function failedLoginsIn(html: string): number | undefined {
  const match = /id="failed-logins">(\d+)</.exec(html);
  return match ? Number(match[1]) : undefined;
}

for (const kind of STORE_KINDS) {
  describe(`login, flash and logout in Chromium on the ${kind} store`, () => {
    let demo: RunningDemo;
    let browser: TestBrowser;
    let page: Page;
    // Server stores can be asked directly whether a session ID still names a record.
    const serverStore = (): ServerStore | undefined =>
      demo.opened.store.kind === "client" ? undefined : demo.opened.store as ServerStore;
    const recordOf = async (id: string) =>
      await serverStore()!.get(await sessionKey(id), Date.now());

    before(async () => {
      demo = await startDemo(kind);
      browser = await launchChromium();
      page = browser.context.pages()[0] ?? await browser.context.newPage();
    });

    after(async () => {
      await browser?.close();
      await demo?.close();
    });

    it("a wrong password flashes an error and counts each failed attempt", async () => {
      await page.goto(`${demo.url}/`);
      let panel = await readPanel(page);
      assert.equal(panel.failedLogins, 0);
      assert.equal(panel.fingerprint, "none");
      assert.equal(await sessionCookie(browser.context, demo), undefined);

      assert.equal(await logIn(page, "demo", "not-the-password"), 303);
      panel = await readPanel(page);
      assert.equal(panel.failedLogins, 1);
      assert.deepEqual(panel.notices, ["Wrong user or password. Try user demo, password demo."]);
      assert.equal(panel.user, undefined);

      assert.equal(await logIn(page, "someone", "demo"), 303);
      panel = await readPanel(page);
      assert.equal(panel.failedLogins, 2);
      assert.equal(panel.notices.length, 1);

      // The flash was shown once; the count stays.
      await page.reload();
      panel = await readPanel(page);
      assert.equal(panel.failedLogins, 2);
      assert.deepEqual(panel.notices, []);
      assert.deepEqual(panel.data, { failedLogins: 2 });
    });

    it("the right password rotates the session ID and the welcome survives the redirect once", async () => {
      const before = await sessionCookie(browser.context, demo);
      assert.ok(before, "a session cookie after the failed logins");
      const fingerprintBefore = (await readPanel(page)).fingerprint;
      assert.match(fingerprintBefore, /^[0-9a-f]{8}$/);

      // POST /login answers 303; the browser follows it with a GET that shows the flash.
      assert.equal(await logIn(page, "demo", "demo"), 303);
      let panel = await readPanel(page);
      assert.equal(panel.user, "demo");
      assert.deepEqual(panel.notices, [
        "Welcome, demo! You are logged in; your session has a new ID.",
      ]);
      assert.deepEqual(panel.data, { user: "demo" });
      assert.match(panel.fingerprint, /^[0-9a-f]{8}$/);
      assert.notEqual(panel.fingerprint, fingerprintBefore, "the session ID changed at login");
      const after = await sessionCookie(browser.context, demo);
      assert.ok(after);
      assert.notEqual(after.value, before.value, "the browser got a new session cookie at login");
      await page.screenshot({ path: screenshotPath(kind) });

      // The old cookie no longer opens anything the login gave.
      const oldPage = await pageWithCookie(demo, before.value);
      assert.doesNotMatch(oldPage, /id="user"/);
      if (serverStore()) {
        // A server store moved the old ID's record at login: only the move's marker is left
        // under it (no data, no user), and the old cookie opens nothing.
        const marker = await recordOf(before.value);
        assert.ok(marker?.movedAt !== undefined, "no marker of the move under the old ID");
        assert.deepEqual(Object.keys(marker.data), []);
        assert.notEqual(await recordOf(after.value), null);
        assert.equal(failedLoginsIn(oldPage), 0);
      } else {
        // The cookie store keeps the whole session in the cookie, so a copy of the old cookie
        // still reads as the pre-login session (two failed logins, no user): a client-side
        // store cannot revoke a cookie it handed out, only stop issuing it.
        assert.equal(failedLoginsIn(oldPage), 2);
      }

      // The next page view shows no welcome: the flash was consumed.
      await page.goto(`${demo.url}/`);
      panel = await readPanel(page);
      assert.deepEqual(panel.notices, []);
      assert.equal(panel.user, "demo");
    });

    it("the browser holds the session cookie HttpOnly, SameSite=Lax, Path=/", async () => {
      const cookie = await sessionCookie(browser.context, demo);
      assert.ok(cookie);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, "Lax");
      assert.equal(cookie.path, "/");
      // Plain HTTP on loopback: Secure would make the browser drop it.
      assert.equal(cookie.secure, false);
      // Logged in without "remember me": a browser-session cookie (no Expires or Max-Age),
      // gone when the browser closes; the 30-day remembered one is checked in
      // your_sessions_and_remember_me.test.ts.
      assert.equal(cookie.expires, -1, `expires ${cookie.expires}: a browser-session cookie`);
      // HttpOnly as the page sees it: scripts cannot read the session cookie.
      assert.equal(await page.evaluate(() => document.cookie), "");
    });

    it("logging out deletes the session and its cookie", async () => {
      const cookie = await sessionCookie(browser.context, demo);
      assert.ok(cookie);
      if (serverStore()) assert.notEqual(await recordOf(cookie.value), null);

      assert.equal(await submit(page, "#account button[type=submit]", "/logout"), 303);
      const panel = await readPanel(page);
      assert.equal(panel.user, undefined);
      assert.deepEqual(panel.data, {});
      assert.equal(panel.fingerprint, "none");
      assert.equal(panel.failedLogins, 0);
      assert.equal(await sessionCookie(browser.context, demo), undefined);

      if (serverStore()) {
        // Gone from the store: even a copy of the cookie opens nothing now.
        assert.equal(await recordOf(cookie.value), null);
        assert.doesNotMatch(await pageWithCookie(demo, cookie.value), /id="user"/);
      }
      // (The cookie store's session lived only in the cookie, which the browser dropped.)
    });
  });
}
