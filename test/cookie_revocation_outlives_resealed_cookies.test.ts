/**
 * A cookie store's revocation outlives every cookie sealed before it, on
 * every revocations backend, through a real Oak server over HTTP (the app's
 * clock moved by the test; requests held mid-flight at gates):
 *
 * - a request that loaded the session before "log out everywhere" and
 *   writes after it hands out no cookie at all;
 * - a request whose write slipped in before the revocation record landed
 *   (the record's write held at a gate) re-seals the cookie with a later
 *   expiry, and that cookie still does not open once the time a revocation
 *   used to last (`notBefore + idle`) has passed: with an absolute limit the
 *   record lasts `maxAbsoluteSeconds`, without one it lasts the idle timeout
 *   (and a margin) from when its write was seen done.
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
const MINUTE = 60_000;

for (const backend of REVOCATIONS_BACKENDS) {
  for (const absolute of [ABSOLUTE, undefined]) {
    const limit = absolute === undefined ? "no absolute limit" : `absolute limit ${absolute}s`;
    describe(`cookie store revocations in a ${backend.name}, ${limit}`, () => {
      let app: RevocationApp;
      let users = 0;
      const newUser = () => `user-${++users}-${Math.random().toString(36).slice(2, 8)}`;
      before(async () => {
        app = await startRevocationApp(backend, IDLE, absolute);
      });
      after(() => app?.close());

      it("a request in flight when the user is revoked writes no cookie, and its copy never opens again", async () => {
        const user = newUser();
        const victim = app.client();
        await login(victim, user);
        const attacker = victim.clone();
        app.clock += 1000;
        const g = app.gate("after-landed");
        const slow = attacker.post("/slow-set?gate=after-landed");
        await g.entered;
        const revokedAt = app.clock;
        assert.equal((await app.client().post(`/revoke-all?user=${user}`)).status, 200);
        app.clock += 5 * MINUTE;
        g.release();
        const reply = await slow;
        assert.equal(reply.status, 200);
        assert.equal(await whoami(attacker.clone()), null, "revoked");
        // Past when the record used to end (notBefore + idle), before the
        // idle expiry a re-seal by the slow request would carry.
        app.clock = revokedAt + IDLE * 1000 + 2 * MINUTE;
        assert.equal(await whoami(attacker.clone()), null, "still revoked");
        assert.equal(await whoami(victim), null);
        assert.deepEqual(
          reply.setCookies.filter((c) => !c.deletes).map((c) => c.name),
          [],
          "no fresh cookie of the revoked session",
        );
      });

      it("a cookie re-sealed before the record landed still does not open after notBefore + idle", async () => {
        const user = newUser();
        const victim = app.client();
        await login(victim, user);
        const attacker = victim.clone();
        app.clock += 1000;
        const g = app.gate("before-landed");
        const slow = attacker.post("/slow-set?gate=before-landed");
        await g.entered;
        const hold = app.holdNextRevocationWrite();
        const revokedAt = app.clock;
        const revoking = app.client().post(`/revoke-all?user=${user}`);
        await hold.entered;
        // The slow request writes while the revocation is not in the store yet.
        app.clock += 5 * MINUTE;
        g.release();
        const reply = await slow;
        assert.equal(reply.status, 200);
        assert.ok(
          reply.setCookies.some((c) => !c.deletes),
          "re-sealed: the revocation had not landed",
        );
        hold.release();
        assert.equal((await revoking).status, 200);
        assert.equal(await whoami(attacker.clone()), null, "revoked once it landed");
        // The re-sealed cookie carries an expiry of (revokedAt + 5 min + idle).
        for (const at of [IDLE * 1000 + 2 * MINUTE, IDLE * 1000 + 5 * MINUTE - 1000]) {
          app.clock = revokedAt + at;
          assert.equal(await whoami(attacker.clone()), null, `still revoked at +${at} ms`);
        }
        // A new login of the user opens as ever.
        const again = app.client();
        await login(again, user);
        assert.equal(await whoami(again), user);
      });
    });
  }
}
