/**
 * In a real Chromium, on every store: two tabs of one browser add different
 * items to the cart at the same moment, and (on a server store) both items
 * are kept, because a request writes only the keys it changed.
 *
 * "At the same moment" is made certain: the demo holds each `POST /cart/add`
 * (after its session was loaded, before its change is written) until both
 * have arrived, so both requests read the same session and both write.
 *
 * Node.js only: `node --import tsx --test test/browser/*.test.ts`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { STORE_KINDS } from "../kit/stores.ts";
import {
  launchChromium,
  logIn,
  readPanel,
  type RunningDemo,
  startDemo,
  submit,
  type TestBrowser,
} from "../helpers/browser.ts";

for (const kind of STORE_KINDS) {
  describe(`two tabs adding to the cart at once in Chromium on the ${kind} store`, () => {
    let demo: RunningDemo;
    let browser: TestBrowser;
    let tab1: Page;
    let tab2: Page;

    before(async () => {
      demo = await startDemo(kind);
      browser = await launchChromium();
      tab1 = browser.context.pages()[0] ?? await browser.context.newPage();
      await tab1.goto(`${demo.url}/`);
      // A stored session first: two requests without one would each start their own.
      assert.equal(await logIn(tab1, "demo", "demo"), 303);
      tab2 = await browser.context.newPage();
      await tab2.goto(`${demo.url}/`);
      assert.equal((await readPanel(tab2)).user, "demo", "the second tab shares the session");
    });

    after(async () => {
      // Log out so no session is left behind in a shared Redis.
      if (tab1 && demo) {
        await tab1.goto(`${demo.url}/`);
        await submit(tab1, "#account button[type=submit]", "/logout");
      }
      await browser?.close();
      await demo?.close();
    });

    it(
      kind === "cookie"
        ? "the cookie store keeps exactly one of the two items: the cookie answered last wins"
        : "both items are kept",
      async () => {
        demo.cartGate.arm(2);
        const statuses = await Promise.all([
          submit(tab1, "#add-apple", "/cart/add"),
          submit(tab2, "#add-pear", "/cart/add"),
        ]);
        assert.deepEqual(statuses, [303, 303]);

        await tab1.goto(`${demo.url}/`);
        const { data, user } = await readPanel(tab1);
        assert.equal(user, "demo");
        if (kind !== "cookie") {
          assert.deepEqual(data, { user: "demo", "cart:apple": 1, "cart:pear": 1 });
        } else {
          // The cookie store's session is the cookie itself: each answer carries a whole
          // session (user plus its own item) and the browser keeps the one it got last.
          // No server-side merge is possible without server-side state, which is what the
          // other stores are for.
          const items = Object.keys(data).filter((key) => key.startsWith("cart:"));
          assert.equal(items.length, 1, `one item kept, got ${JSON.stringify(data)}`);
          assert.ok(["cart:apple", "cart:pear"].includes(items[0]));
          assert.equal(data[items[0]], 1);
        }
      },
    );

    it("a later add from the other tab builds on what the first tab sees", async () => {
      const before = (await readPanel(tab1)).data["cart:fig"];
      assert.equal(before, undefined);
      await tab2.goto(`${demo.url}/`);
      await submit(tab2, "#add-fig", "/cart/add");
      await submit(tab2, "#add-fig", "/cart/add");
      await tab1.reload();
      assert.equal((await readPanel(tab1)).data["cart:fig"], 2);
      assert.equal(await tab1.locator('#cart li[data-item="fig"] .count').textContent(), "2");
    });
  });
}
