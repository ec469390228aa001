/**
 * The conformance suite passes for the cookie store, with the properties only
 * a server-side store can give reported as such by the suite. Run twice: with
 * the default options, and with compression and the most chunk cookies.
 */
import { conformance } from "./conformance.ts";
import { CookieStore } from "../src/stores/cookie.ts";

const SECRET = "conformance secret for the cookie store, 32+ chars";

conformance({
  name: "CookieStore",
  makeStore: () => new CookieStore(SECRET),
});

conformance({
  name: "CookieStore (compress, two secrets, maxCookies 4)",
  makeStore: () =>
    new CookieStore([SECRET, "an older secret, still accepted, 32+ chars"], {
      compress: true,
      maxCookies: 4,
      sessionDataCookieName: "app_data",
    }),
});
