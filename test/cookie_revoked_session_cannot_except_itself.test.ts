/**
 * A session revoked after its request loaded it cannot except itself: with
 * the cookie store, a request of a copied cookie held in flight while the
 * user logs out the other devices (or everywhere) and then calling
 * `revokeSessions(user, { except: ctx })` is not excepted, not bound again,
 * and ends; it records no revocation, so the user's own session and a login
 * made meanwhile stay. On every revocations backend, through a real Oak
 * server over HTTP, the request held mid-flight at a gate. A session that
 * was not revoked still excepts itself.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  login,
  type RevocationApp,
  REVOCATIONS_BACKENDS,
  startRevocationApp,
  whoami,
} from "./helpers/cookie_revocation_app.ts";

const IDLE = 600;
const ABSOLUTE = 3600;

for (const backend of REVOCATIONS_BACKENDS) {
  describe(`cookie store revocations in a ${backend.name}: a revoked session cannot except itself`, () => {
    let app: RevocationApp;
    let users = 0;
    const newUser = () => `user-${++users}-${Math.random().toString(36).slice(2, 8)}`;
    before(async () => {
      app = await startRevocationApp(backend, IDLE, ABSOLUTE);
    });
    after(() => app?.close());

    it("a late request of the browser that logged out the others, with its cookie from before, leaves the kept cookie alone", async () => {
      const user = newUser();
      const browser = app.client();
      await login(browser, user);
      const before = browser.clone(); // sent before the answer below arrived
      app.clock += 1000;
      assert.equal((await browser.post(`/slow-revoke-others?user=${user}`)).status, 200);
      const late = await before.get("/whoami");
      assert.equal(late.status, 200);
      assert.equal(late.json().user, null, "the cookie from before opens nothing");
      assert.deepEqual(late.setCookies, [], "the late answer set or cleared a cookie");
      assert.equal(await whoami(browser), user, "the kept session stays");
    });

    it("after the user logs out the other devices, the copied cookie's in-flight 'log out others' ends only itself", async () => {
      const user = newUser();
      const owner = app.client();
      await login(owner, user);
      const attacker = owner.clone();
      app.clock += 1000;
      const g = app.gate("others-then-attacker");
      const slow = attacker.post(`/slow-revoke-others?gate=others-then-attacker&user=${user}`);
      await g.entered;
      const mine = await owner.post(`/slow-revoke-others?user=${user}`);
      assert.equal(mine.status, 200, mine.text);
      app.clock += 1000;
      g.release();
      assert.equal((await slow).status, 200);
      assert.equal(await whoami(attacker), null, "the attacker is out");
      assert.equal(await whoami(owner), user, "the user stays logged in");
      // Later, too: the attacker's call recorded nothing the user's session falls under.
      app.clock += 60_000;
      assert.equal(await whoami(owner), user);
    });

    it("after 'log out everywhere', the in-flight 'log out others' neither keeps itself nor ends a login made since", async () => {
      const user = newUser();
      const owner = app.client();
      await login(owner, user);
      const attacker = owner.clone();
      app.clock += 1000;
      const g = app.gate("all-then-attacker");
      const slow = attacker.post(`/slow-revoke-others?gate=all-then-attacker&user=${user}`);
      await g.entered;
      assert.equal((await app.client().post(`/revoke-all?user=${user}`)).status, 200);
      assert.equal(await whoami(owner.clone()), null, "everywhere");
      app.clock += 1000;
      const fresh = app.client();
      await login(fresh, user);
      app.clock += 1000;
      g.release();
      const reply = await slow;
      assert.equal(reply.status, 200);
      assert.equal(await whoami(fresh), user, "the login made since stays");
      assert.equal(await whoami(attacker), null, "not excepted, not bound again");
      assert.ok(
        reply.setCookies.some((c) => c.deletes) && !reply.setCookies.some((c) => !c.deletes),
        "the attacker's cookie is cleared, none handed out",
      );
    });

    it("a session not revoked since it loaded still excepts itself", async () => {
      const user = newUser();
      const a = app.client();
      await login(a, user);
      const b = app.client();
      await login(b, user);
      app.clock += 1000;
      const g = app.gate("not-revoked");
      const slow = a.post(`/slow-revoke-others?gate=not-revoked&user=${user}`);
      await g.entered;
      app.clock += 1000;
      g.release();
      assert.equal((await slow).status, 200);
      assert.equal(await whoami(a), user, "kept");
      assert.equal(await whoami(b), null, "the other device is out");
    });
  });
}
