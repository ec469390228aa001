/**
 * In a real Chromium, on every store: one user logged in from three separate
 * browsers (three browser contexts, each with its own cookies and its own
 * User-Agent). "Remember me" gives a cookie that lasts 30 days, without it a
 * browser-session cookie. The "Your sessions" panel lists the three sessions
 * (exactly one "this device", each browser by its User-Agent, escaped),
 * "Log out" on one of them ends exactly that one, and "Log out other
 * devices" ends the others and keeps this one. On the cookie store, which
 * cannot list, the panel says so and "Log out everywhere" ends them all.
 *
 * Each run has a store of its own (a Redis key prefix, a PostgreSQL table,
 * a SQLite file), so the listing shows this test's sessions only, even while
 * other tests log the same demo user in on the shared Redis.
 *
 * Node.js only: `node --import tsx --test test/browser/*.test.ts`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { REMEMBER_ME_SECONDS } from "../../examples/demo/app.ts";
import { STORE_KINDS } from "../kit/stores.ts";
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  logIn,
  readPanel,
  type RunningDemo,
  sessionCookie,
  startDemo,
  submit,
} from "../helpers/browser.ts";

/** One of the three browsers: its own cookies, its own User-Agent, one tab. */
interface Device {
  name: string;
  userAgent: string;
  context: BrowserContext;
  page: Page;
}

const USER_AGENTS = {
  laptop: "Mozilla/5.0 (X11; Linux x86_64) DemoLaptop/1.0",
  phone: "Mozilla/5.0 (Linux; Android 14) DemoPhone/2.0",
  // A User-Agent is whatever the client sends: this one tries to inject markup.
  hostile: `<img src=x onerror="window.injected=1"><b>DemoHostile</b> & "q" 'q'`,
};

/** The listed sessions as the panel shows them. */
async function listed(page: Page) {
  const items = page.locator("#devices li.device");
  const out: Array<{ agent: string; current: boolean; kind: string; here: boolean }> = [];
  for (let i = 0; i < await items.count(); i++) {
    const item = items.nth(i);
    out.push({
      agent: (await item.locator(".device-agent").textContent()) ?? "",
      current: (await item.getAttribute("data-current")) === "true",
      kind: ((await item.locator(".device-kind").textContent()) ?? "").trim(),
      here: (await item.locator(".this-device").count()) === 1,
    });
  }
  return out;
}

async function userOf(device: Device, demo: RunningDemo): Promise<string | undefined> {
  await device.page.goto(`${demo.url}/`);
  return (await readPanel(device.page)).user;
}

async function logInOn(device: Device, demo: RunningDemo, remember: boolean): Promise<void> {
  await device.page.goto(`${demo.url}/`);
  if (remember) await device.page.check("#login-remember");
  assert.equal(await logIn(device.page, "demo", "demo"), 303);
  assert.equal((await readPanel(device.page)).user, "demo", `${device.name} is logged in`);
}

for (const kind of STORE_KINDS) {
  describe(`your sessions and remember me in Chromium on the ${kind} store`, () => {
    let demo: RunningDemo;
    let browser: Browser;
    let laptop: Device;
    let phone: Device;
    let hostile: Device;

    before(async () => {
      demo = await startDemo(kind, { ownKeys: true });
      try {
        browser = await chromium.launch({
          executablePath: CHROMIUM_PATH,
          headless: true,
          args: CHROMIUM_ARGS,
        });
      } catch (error) {
        throw new Error(
          `Chromium did not start from ${CHROMIUM_PATH}; the browser tests need it: ` +
            `apt-get install chromium\n${(error as Error).message}`,
        );
      }
      const device = async (name: keyof typeof USER_AGENTS): Promise<Device> => {
        const userAgent = USER_AGENTS[name];
        const context = await browser.newContext({
          userAgent,
          viewport: { width: 960, height: 760 },
        });
        return { name, userAgent, context, page: await context.newPage() };
      };
      laptop = await device("laptop");
      phone = await device("phone");
      hostile = await device("hostile");
    });

    after(async () => {
      await browser?.close();
      await demo?.close();
    });

    it("remember me gives a cookie that lasts 30 days; without it, a browser-session cookie", async () => {
      await logInOn(laptop, demo, true);
      const remembered = await sessionCookie(laptop.context, demo);
      assert.ok(remembered, "the laptop holds a session cookie");
      const expected = Date.now() / 1000 + REMEMBER_ME_SECONDS;
      assert.equal(REMEMBER_ME_SECONDS, 30 * 24 * 3600);
      assert.ok(
        remembered.expires > expected - 120 && remembered.expires <= expected + 5,
        `expires ${remembered.expires} is about 30 days out (${expected})`,
      );

      for (const device of [phone, hostile]) {
        await logInOn(device, demo, false);
        const cookie = await sessionCookie(device.context, demo);
        assert.ok(cookie, `${device.name} holds a session cookie`);
        assert.equal(cookie.expires, -1, `${device.name}'s cookie ends with the browser session`);
      }
      // Three separate browsers, three sessions: the laptop is still logged in.
      assert.equal(await userOf(laptop, demo), "demo");
    });

    if (kind !== "cookie") {
      it("the panel lists the three sessions, exactly one of them this device", async () => {
        await laptop.page.goto(`${demo.url}/`);
        const sessions = await listed(laptop.page);
        assert.equal(sessions.length, 3, JSON.stringify(sessions));
        assert.equal(sessions.filter((s) => s.here).length, 1, "exactly one 'this device'");
        assert.equal(sessions.filter((s) => s.current).length, 1);
        const here = sessions.find((s) => s.here)!;
        assert.equal(here.current, true);
        assert.equal(here.agent, laptop.userAgent);
        assert.equal(here.kind, "remember me");
        // The User-Agents arrive as text: the hostile one shows as written, injects nothing.
        assert.deepEqual(
          sessions.map((s) => s.agent).sort(),
          [laptop.userAgent, phone.userAgent, hostile.userAgent].sort(),
        );
        for (const s of sessions.filter((s) => !s.here)) assert.equal(s.kind, "browser session");
        assert.equal(await laptop.page.locator("#devices img, #devices b").count(), 0);
        assert.equal(await laptop.page.evaluate(() => "injected" in window), false);
        // One "Log out" per other session, none for this one; one "Log out other devices".
        assert.equal(await laptop.page.locator("#devices .logout-one").count(), 2);
        assert.equal(await laptop.page.locator("#logout-others").count(), 1);
        assert.equal(await laptop.page.locator("#logout-everywhere").count(), 0);

        // Each browser sees the same three, with itself as this device.
        await hostile.page.goto(`${demo.url}/`);
        const seen = await listed(hostile.page);
        assert.equal(seen.length, 3);
        assert.deepEqual(seen.filter((s) => s.here).map((s) => s.agent), [hostile.userAgent]);
      });

      it("Log out on one listed session ends exactly that one", async () => {
        await laptop.page.goto(`${demo.url}/`);
        const phoneAt = await indexOf(laptop.page, phone.userAgent);
        const button = `#devices li.device >> nth=${phoneAt} >> .logout-one`;
        assert.equal(await submit(laptop.page, button, "/sessions/logout-one"), 303);
        assert.deepEqual((await readPanel(laptop.page)).notices, ["That session is logged out."]);
        const left = await listed(laptop.page);
        assert.deepEqual(
          left.map((s) => s.agent).sort(),
          [laptop.userAgent, hostile.userAgent].sort(),
        );

        assert.equal(await userOf(phone, demo), undefined, "the phone is logged out");
        assert.equal(await userOf(hostile, demo), "demo", "the other browser is still logged in");
        assert.equal(await userOf(laptop, demo), "demo", "this browser is still logged in");
      });

      it("Log out other devices ends the others and keeps this one", async () => {
        await logInOn(phone, demo, false);
        await laptop.page.goto(`${demo.url}/`);
        assert.equal((await listed(laptop.page)).length, 3);

        assert.equal(await submit(laptop.page, "#logout-others", "/sessions/logout-others"), 303);
        const panel = await readPanel(laptop.page);
        assert.equal(panel.user, "demo");
        assert.deepEqual(panel.notices, ["Logged out 2 other sessions."]);
        const left = await listed(laptop.page);
        assert.equal(left.length, 1);
        assert.equal(left[0].here, true);
        assert.equal(left[0].agent, laptop.userAgent);
        assert.equal(await laptop.page.locator("#logout-others").count(), 0);
        assert.equal(await laptop.page.locator("#no-other-devices").count(), 1);

        assert.equal(await userOf(phone, demo), undefined, "the phone is logged out");
        assert.equal(await userOf(hostile, demo), undefined, "the third browser is logged out");
        // Reloaded, this browser is still logged in, and still alone.
        assert.equal(await userOf(laptop, demo), "demo");
        assert.equal((await listed(laptop.page)).length, 1);
      });
    } else {
      it("the panel says the cookie store cannot list sessions, and offers Log out everywhere", async () => {
        await laptop.page.goto(`${demo.url}/`);
        const text = (await laptop.page.locator("#devices-unlisted").textContent()) ?? "";
        assert.match(text, /keeps each session in its own browser's cookie/);
        assert.match(text, /cannot list your sessions or log out one of them/);
        assert.equal(await laptop.page.locator("#devices").count(), 0);
        assert.equal(await laptop.page.locator(".logout-one").count(), 0);
        assert.equal(await laptop.page.locator("#logout-others").count(), 0);
        assert.equal(await laptop.page.locator("#logout-everywhere").count(), 1);
      });

      it("Log out everywhere logs out every browser, this one too", async () => {
        await laptop.page.goto(`${demo.url}/`);
        assert.equal(
          await submit(laptop.page, "#logout-everywhere", "/sessions/logout-everywhere"),
          303,
        );
        assert.equal((await readPanel(laptop.page)).user, undefined, "this browser is logged out");
        assert.equal(await userOf(phone, demo), undefined, "the phone is logged out");
        assert.equal(await userOf(hostile, demo), undefined, "the third browser is logged out");
        assert.equal(await userOf(laptop, demo), undefined);

        // A login after it opens as usual.
        await logInOn(phone, demo, false);
        assert.equal(await userOf(phone, demo), "demo");
      });
    }
  });
}

/** The position in the list of the session whose User-Agent is `agent`. */
async function indexOf(page: Page, agent: string): Promise<number> {
  const index = (await listed(page)).findIndex((s) => s.agent === agent);
  assert.ok(index >= 0, `a listed session has User-Agent ${agent}`);
  return index;
}
