/**
 * The conformance suite passes for the cookie store on the Web Crypto path
 * too (the fallback for runtimes without `node:crypto`), asked for
 * explicitly, so it stays tested where `node:crypto` is the default.
 */
import { conformance } from "./conformance.ts";
import { CookieStore } from "../src/stores/cookie.ts";

const SECRET = "conformance secret for the cookie store, 32+ chars";

conformance({
  name: "CookieStore (Web Crypto)",
  makeStore: () => new CookieStore(SECRET, { crypto: "web" }),
});

conformance({
  name: "CookieStore (Web Crypto, compress, two secrets, maxCookies 4)",
  makeStore: () =>
    new CookieStore([SECRET, "an older secret, still accepted, 32+ chars"], {
      crypto: "web",
      compress: true,
      maxCookies: 4,
      sessionDataCookieName: "app_data",
    }),
});
