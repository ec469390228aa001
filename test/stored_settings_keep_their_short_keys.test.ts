// A session's own settings are stored as JSON text under short keys ("i",
// "a", "p", "ua", "ip"). Sessions already stored carry those keys, so the
// text the code writes must stay exactly as it was, whatever the code calls
// the settings.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { metaText, parseMeta, type SessionMeta } from "../src/session_meta.ts";

describe("stored session settings keep their short keys", () => {
  it("writes each setting under its short key, in the order it was set", () => {
    const meta: SessionMeta = {
      idleSeconds: 60,
      absoluteSeconds: 3600,
      persistent: true,
      userAgent: "UA",
      ip: "10.0.0.1",
    };
    assert.equal(metaText(meta), '{"i":60,"a":3600,"p":true,"ua":"UA","ip":"10.0.0.1"}');
    assert.equal(
      metaText({ userAgent: "UA", ip: "::1", idleSeconds: 5, persistent: false }),
      '{"ua":"UA","ip":"::1","i":5,"p":false}',
    );
    assert.equal(metaText({}), "{}");
  });

  it("reads the short keys back, and what it writes reads back the same", () => {
    const text = '{"ua":"UA","ip":"::1","i":5,"a":9,"p":false}';
    assert.deepEqual(parseMeta(text), {
      idleSeconds: 5,
      absoluteSeconds: 9,
      persistent: false,
      userAgent: "UA",
      ip: "::1",
    });
    const canonical = '{"i":5,"a":9,"p":false,"ua":"UA","ip":"::1"}';
    assert.equal(metaText(parseMeta(canonical)), canonical);
  });
});
