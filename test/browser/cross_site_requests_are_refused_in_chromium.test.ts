/**
 * In a real Chromium, on every store: a page of another origin cannot make the
 * demo act for the person visiting it.
 *
 * The visitor is logged in on the demo (on 127.0.0.1), and so is a second
 * device of the same user. The visitor then opens an attacker's page which
 * auto-submits hidden forms to "log out other devices" ("log out everywhere"
 * on the cookie store, which cannot list) and to "add to cart", and fires
 * `fetch(url, { method: "POST", credentials: "include", mode: "no-cors" })`
 * at both. The attacker's page is served twice:
 *
 * - from another port of 127.0.0.1: Chromium sends `Sec-Fetch-Site: same-site`
 *   and the session cookie along (SameSite=Lax does not stop a same-site
 *   request; only the CSRF check does);
 * - from `localhost`: `Sec-Fetch-Site: cross-site` (the cookie stays home).
 *
 * Each request is answered 403 "Forbidden" without a cookie, the cart
 * handler never runs, the session cookie, the cart and the other device's
 * login stay as they were. A POST with neither header (the browser's cookies
 * sent from outside it) passes only with the token the demo's forms carry.
 * Then the same actions from the demo's own pages work: the item is added,
 * and the other device is logged out.
 *
 * Node.js only: `node --import tsx --test test/browser/*.test.ts`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { Browser, BrowserContext, Page, Response } from "playwright-core";
import { STORE_KINDS } from "../kit/stores.ts";
import {
  launchChromiumBrowser,
  logIn,
  readPanel,
  type RunningDemo,
  sessionCookie,
  startDemo,
  submit,
} from "../helpers/browser.ts";

/** What the attacker's page does, each aimed at the demo. */
const ATTACKS = [
  { name: "logout", kind: "form" },
  { name: "cart", kind: "form" },
  { name: "logout", kind: "fetch" },
  { name: "cart", kind: "fetch" },
] as const;
type Attack = (typeof ATTACKS)[number];

/** The attacker's site: one port, reached as 127.0.0.1 (same site) or localhost (cross-site). */
interface AttackerSite {
  readonly port: number;
  /** Resolves with what the page reports once every form's frame loaded and every fetch settled. */
  nextReport(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Serve `GET /` (the attack on `targets`) and `POST /report` (the page saying it
 * is done) on a free loopback port.
 */
async function startAttackerSite(targets: { logout: string; cart: string }): Promise<AttackerSite> {
  let report: ((results: string[]) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (req.method === "POST" && req.url === "/report") {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        res.end();
        report?.(JSON.parse(body));
      });
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(attackPage(targets));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    nextReport: () => new Promise((resolve) => (report = resolve)),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The attacker's page: a hidden form per target, each submitted into a frame of
 * its own as soon as the page runs, and a no-cors fetch with credentials per
 * target; then it reports to its own server.
 */
function attackPage(targets: { logout: string; cart: string }): string {
  const fields = { logout: {}, cart: { item: "plum" } };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>You won a prize</title></head>
<body>
<p>Claim your prize!</p>
<script>
const targets = ${JSON.stringify(targets)};
const fields = ${JSON.stringify(fields)};
const done = [];
for (const name of ["logout", "cart"]) {
  const frame = document.createElement("iframe");
  frame.name = name;
  document.body.append(frame);
  done.push(new Promise((resolve) =>
    frame.addEventListener("load", () => resolve("form " + name + " answered"), { once: true })
  ));
  const form = document.createElement("form");
  form.method = "post";
  form.action = targets[name];
  form.target = name;
  for (const [key, value] of Object.entries(fields[name])) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = key;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}
for (const name of ["logout", "cart"]) {
  done.push(fetch(targets[name], {
    method: "POST",
    credentials: "include",
    mode: "no-cors",
    body: new URLSearchParams(fields[name]),
  }).then((res) => "fetch " + name + " " + res.type, (error) => "fetch " + name + " " + error));
}
Promise.all(done).then((results) =>
  fetch("/report", { method: "POST", body: JSON.stringify(results) })
);
</script>
</body></html>
`;
}

/** A browser context of its own: another device with its own cookies. */
interface Device {
  context: BrowserContext;
  page: Page;
}

async function userOf(device: Device, demo: RunningDemo): Promise<string | undefined> {
  await device.page.goto(`${demo.url}/`);
  return (await readPanel(device.page)).user;
}

for (const kind of STORE_KINDS) {
  describe(`cross-site requests are refused in Chromium on the ${kind} store`, () => {
    let demo: RunningDemo;
    let browser: Browser;
    let visitor: Device;
    let otherDevice: Device;
    let attacker: AttackerSite;
    // The cookie store cannot list sessions, so it offers "log out everywhere" instead.
    const logoutPath = kind === "cookie"
      ? "/sessions/logout-everywhere"
      : "/sessions/logout-others";

    before(async () => {
      // A store of its own: "log out other devices" must meet only this test's sessions.
      demo = await startDemo(kind, { ownKeys: true });
      browser = await launchChromiumBrowser();
      const device = async (): Promise<Device> => {
        const context = await browser.newContext({ viewport: { width: 960, height: 760 } });
        return { context, page: await context.newPage() };
      };
      visitor = await device();
      otherDevice = await device();
      for (const { page } of [visitor, otherDevice]) {
        await page.goto(`${demo.url}/`);
        assert.equal(await logIn(page, "demo", "demo"), 303);
        assert.equal((await readPanel(page)).user, "demo");
      }
      attacker = await startAttackerSite({
        logout: `${demo.url}${logoutPath}`,
        cart: `${demo.url}/cart/add`,
      });
    });

    after(async () => {
      await browser?.close();
      await attacker?.close();
      await demo?.close();
    });

    for (
      const { host, site } of [
        { host: "127.0.0.1", site: "same-site" },
        { host: "localhost", site: "cross-site" },
      ] as const
    ) {
      it(`a ${site} page's forms and fetches are refused with 403 and change nothing`, async () => {
        await visitor.page.goto(`${demo.url}/`);
        const before = await readPanel(visitor.page);
        assert.equal(before.user, "demo");
        const cookieBefore = await sessionCookie(visitor.context, demo);
        assert.ok(cookieBefore, "the visitor holds a session cookie");
        const handlerRuns = demo.cartGate.arrivals;

        const page = await visitor.context.newPage();
        try {
          const answered = ATTACKS.map((attack) =>
            page.waitForResponse((res) => isAnswerTo(res, attack, demo, logoutPath))
          );
          const reported = attacker.nextReport();
          const origin = `http://${host}:${attacker.port}`;
          await page.goto(`${origin}/`);
          // The page's own word that every form's frame loaded and every fetch settled.
          assert.deepEqual((await reported).sort(), [
            "fetch cart opaque",
            "fetch logout opaque",
            "form cart answered",
            "form logout answered",
          ]);

          for (const [i, response] of (await Promise.all(answered)).entries()) {
            const what = `${ATTACKS[i].kind} to ${new URL(response.url()).pathname}`;
            const sent = await response.request().allHeaders();
            // The browser said what the request was: the check had its cue.
            assert.equal(sent["sec-fetch-site"], site, `${what}: Sec-Fetch-Site`);
            assert.equal(sent["origin"], origin, `${what}: Origin`);
            const cookieSent = (sent["cookie"] ?? "").includes(`${demo.cookieName}=`);
            // Same site: the SameSite=Lax cookie went along, so only the CSRF check stood in
            // the way. Cross-site: Chromium kept the cookie home.
            assert.equal(cookieSent, site === "same-site", `${what}: session cookie sent`);
            assert.equal(response.status(), 403, `${what}: status`);
            const answer = await response.allHeaders();
            assert.equal(answer["set-cookie"], undefined, `${what}: no cookie set or cleared`);
            if (ATTACKS[i].kind === "fetch") {
              assert.match(await response.text(), /^Forbidden/, `${what}: body`);
            }
          }
          // What the attacker's frames show (the page itself cannot read them).
          for (const name of ["logout", "cart"]) {
            const text = await page.frame({ name })?.textContent("body");
            assert.match(text ?? "", /^Forbidden/, `form ${name}: the frame shows the refusal`);
          }
        } finally {
          await page.close();
        }

        assert.equal(demo.cartGate.arrivals, handlerRuns, "the cart handler never ran");
        const cookieAfter = await sessionCookie(visitor.context, demo);
        assert.equal(cookieAfter?.value, cookieBefore.value, "the session cookie is unchanged");
        await visitor.page.goto(`${demo.url}/`);
        const after = await readPanel(visitor.page);
        assert.equal(after.user, "demo", "the visitor is still logged in");
        assert.deepEqual(after.data, before.data, "the session (and its cart) is unchanged");
        assert.equal(await visitor.page.locator("#cart-empty").count(), 1, "the cart is empty");
        assert.equal(
          await userOf(otherDevice, demo),
          "demo",
          "the other device is still logged in",
        );
      });
    }

    it("a request with neither Sec-Fetch-Site nor Origin passes only with the token the forms carry", async () => {
      // The browser's cookies, sent from outside it: no Sec-Fetch-Site, no Origin (as curl, or
      // a browser too old to send them). The demo turns tokens on, so such a POST needs one.
      const tokenOf = async (page: Page) => {
        await page.goto(`${demo.url}/`);
        const fields = page.locator('form[action="/cart/add"] input[name="_csrf"]');
        assert.equal(await fields.count(), 4, "every cart form carries a token");
        const token = await fields.first().getAttribute("value");
        assert.ok(token, "a token in the form");
        return token;
      };
      const token = await tokenOf(visitor.page);
      const othersToken = await tokenOf(otherDevice.page);
      const handlerRuns = demo.cartGate.arrivals;
      const post = (form: Record<string, string>, headers: Record<string, string> = {}) =>
        visitor.context.request.post(`${demo.url}/cart/add`, { form, headers, maxRedirects: 0 });

      for (
        const [why, form] of [
          ["no token", { item: "fig" }],
          ["another session's token", { item: "fig", _csrf: othersToken }],
          // Its first character changed: the mask no longer matches the masked secret.
          ["a forged token", {
            item: "fig",
            _csrf: (token[0] === "A" ? "B" : "A") + token.slice(1),
          }],
        ] as const
      ) {
        const res = await post(form);
        assert.equal(res.status(), 403, why);
        assert.match(await res.text(), /^Forbidden.*CSRF token/, why);
      }
      assert.equal(demo.cartGate.arrivals, handlerRuns, "the cart handler never ran");

      // The form's own token, in the form or in the x-csrf-token header.
      assert.equal((await post({ item: "fig", _csrf: token })).status(), 303);
      assert.equal((await post({ item: "pear" }, { "x-csrf-token": token })).status(), 303);
      assert.equal(demo.cartGate.arrivals, handlerRuns + 2);
      await visitor.page.goto(`${demo.url}/`);
      const { data } = await readPanel(visitor.page);
      assert.equal(data["cart:fig"], 1);
      assert.equal(data["cart:pear"], 1);
    });

    it("the same actions from the demo's own pages work", async () => {
      await visitor.page.goto(`${demo.url}/`);
      const handlerRuns = demo.cartGate.arrivals;
      assert.equal(await submit(visitor.page, "#add-plum", "/cart/add"), 303);
      assert.equal(demo.cartGate.arrivals, handlerRuns + 1);
      assert.equal((await readPanel(visitor.page)).data["cart:plum"], 1);
      assert.equal(
        await visitor.page.locator('#cart li[data-item="plum"] .count').textContent(),
        "1",
      );

      if (kind !== "cookie") {
        assert.equal(await submit(visitor.page, "#logout-others", logoutPath), 303);
        const panel = await readPanel(visitor.page);
        assert.deepEqual(panel.notices, ["Logged out 1 other session."]);
        assert.equal(panel.user, "demo", "this browser stays logged in");
        assert.equal(await userOf(otherDevice, demo), undefined, "the other device is logged out");
        // Log out too, so nothing of this run is left in a shared store.
        await submit(visitor.page, "#account button[type=submit]", "/logout");
      } else {
        assert.equal(await submit(visitor.page, "#logout-everywhere", logoutPath), 303);
        assert.equal((await readPanel(visitor.page)).user, undefined, "this browser is logged out");
        assert.equal(await userOf(otherDevice, demo), undefined, "the other device is logged out");
      }
    });
  });
}

/** Whether `res` is the demo's answer to `attack` (a frame's form POST, or a fetch). */
function isAnswerTo(res: Response, attack: Attack, demo: RunningDemo, logoutPath: string): boolean {
  const url = new URL(res.url());
  const request = res.request();
  return url.origin === demo.url && request.method() === "POST" &&
    url.pathname === (attack.name === "logout" ? logoutPath : "/cart/add") &&
    request.resourceType() === (attack.kind === "form" ? "document" : "fetch");
}
