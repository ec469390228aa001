/**
 * Oak's own cookie map over plain headers, for the cookie store's loops too
 * long to run over HTTP. Runs on Node and on Deno.
 *
 * @module
 */
import { Cookies } from "@oakserver/oak";
import type { CookieJar } from "../../src/store.ts";
import { setCookieValues } from "../kit/http_client.ts";

/**
 * Oak's own cookie map over plain headers: the jar a store sees in a request,
 * without the HTTP round trip. `cookies` are the request's cookies.
 */
export function oakJar(
  cookies: Record<string, string>,
): { jar: CookieJar; response: Headers } {
  const request = new Headers();
  const header = Object.entries(cookies).map(([n, v]) => `${n}=${v}`).join("; ");
  if (header) request.set("cookie", header);
  const response = new Headers();
  const jar = new Cookies(request, { response, secure: false }) as unknown as CookieJar;
  return { jar, response };
}

/** The cookies a response's `Set-Cookie` headers set (name to value; `""` deletes). */
export function setCookies(response: Headers): Map<string, string> {
  return setCookieValues(response.getSetCookie());
}
