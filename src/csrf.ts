/**
 * Cross-site request forgery protection, step 0 of a request's life: an
 * unsafe request a browser marks as coming from another origin is refused
 * before its session is loaded.
 *
 * The check is the one of Go's `net/http.CrossOriginProtection` and OWASP's
 * "Fetch Metadata" defence: browsers say where a request comes from in
 * `Sec-Fetch-Site` (every current browser) or at least in `Origin`, and a
 * page cannot forge either. A request with neither header is not a browser's
 * (curl, a server calling another), or comes from a browser too old to send
 * them: it passes, unless the app turns on tokens, which then must come with
 * it (`session.csrfToken()`, masked per call, bound to the session).
 *
 * @module
 */
import { SessionConfigError } from "./errors.ts";
import type { OakContextLike } from "./oak_context_like.ts";
import { checkOptionKeys, keysOf } from "./option_keys.ts";

/** Options of CSRF protection (`csrf` in the middleware's options). */
export interface CsrfOptions {
  /**
   * Origins whose requests are let through although they are not this
   * app's own (a front end on another subdomain, say): each a bare origin,
   * `"https://admin.example.com"` or `"http://localhost:5173"`.
   */
  trustedOrigins?: string[];
  /**
   * Paths never checked: an exact path (`"/webhooks/stripe"`), a prefix
   * ending in `*` (`"/api/public/*"`), or a RegExp tested on the path. For
   * routes that other sites are meant to call, and that use no session.
   */
  exemptPaths?: (string | RegExp)[];
  /**
   * Methods never checked, besides GET, HEAD and OPTIONS (which never are).
   * By default every other method is: POST, PUT, PATCH, DELETE and any
   * other.
   */
  exemptMethods?: string[];
  /**
   * Require a token (`session.csrfToken()`) of requests that carry neither
   * `Sec-Fetch-Site` nor `Origin` (old browsers, and any non-browser
   * client), in the `x-csrf-token` header or the `_csrf` field of a form
   * (URL-encoded or multipart), or under the names given. Off by default.
   */
  tokens?: boolean | { header?: string; field?: string };
}

/** Keys of the `csrf` option. */
export const CSRF_OPTION_KEYS: readonly string[] = keysOf<CsrfOptions>({
  trustedOrigins: true,
  exemptPaths: true,
  exemptMethods: true,
  tokens: true,
});

/** Keys of the `csrf.tokens` option. */
export const CSRF_TOKEN_OPTION_KEYS: readonly string[] = keysOf<
  Exclude<NonNullable<CsrfOptions["tokens"]>, boolean>
>({ header: true, field: true });

/** Why a request was refused as a cross-site request forgery. */
export type CsrfRefusalReason =
  /** `Sec-Fetch-Site: cross-site`: a page of another site sent it. */
  | "cross-site"
  /** `Sec-Fetch-Site: same-site`: a page of a sibling origin (another subdomain or port) sent it. */
  | "same-site"
  /** No `Sec-Fetch-Site`, and `Origin` names another host. */
  | "origin-mismatch"
  /** `Origin: null`: a sandboxed frame, a `data:` page, or a redirect across origins. */
  | "null-origin"
  /** Tokens are on and a request with neither header carried none. */
  | "missing-token"
  /** The token does not belong to this session (forged, another session's, or one that ended). */
  | "invalid-token";

/** @internal The `csrf` option, checked. */
export interface ResolvedCsrf {
  /** Trusted origins, as `URL.origin` gives them. */
  readonly trustedOrigins: ReadonlySet<string>;
  readonly exemptExact: ReadonlySet<string>;
  readonly exemptPrefixes: readonly string[];
  readonly exemptPatterns: readonly RegExp[];
  /** Methods (upper case) never checked, with GET, HEAD and OPTIONS. */
  readonly unchecked: ReadonlySet<string>;
  /** Where a token is read from; `undefined`: tokens are off. */
  readonly tokens: { readonly header: string; readonly field: string } | undefined;
}

const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_NAME = METHOD;

function stringList(name: string, value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new SessionConfigError(`csrf.${name} must be an array, got ${typeof value}`);
  }
  return value;
}

function origin(value: unknown): string {
  let url: URL | undefined;
  try {
    if (typeof value === "string") url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username !== "" || url.password !== "" || url.pathname !== "/" || url.search !== "" ||
    url.hash !== "" || /[?#]|[^/]\/+[^/]/.test(String(value).replace(/^[a-z]+:\/\//i, ""))
  ) {
    throw new SessionConfigError(
      `csrf.trustedOrigins: each must be an origin alone, scheme and host (and port), like ` +
        `"https://admin.example.com", with no path, query or credentials; got ${
          JSON.stringify(value)
        }`,
    );
  }
  return url.origin;
}

/** @internal `options` checked (`undefined`: protection is off); throws `SessionConfigError`. */
export function resolveCsrf(options: CsrfOptions | false | undefined): ResolvedCsrf | undefined {
  if (options === false) return undefined;
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new SessionConfigError(
      "csrf must be an object of options ({ trustedOrigins, exemptPaths, exemptMethods, tokens }) " +
        "or false to turn the protection off",
    );
  }
  checkOptionKeys("csrf", options, CSRF_OPTION_KEYS);
  const trustedOrigins = new Set(stringList("trustedOrigins", options.trustedOrigins).map(origin));
  const exemptExact = new Set<string>();
  const exemptPrefixes: string[] = [];
  const exemptPatterns: RegExp[] = [];
  for (const path of stringList("exemptPaths", options.exemptPaths)) {
    if (path instanceof RegExp) exemptPatterns.push(path);
    else if (typeof path === "string" && path.startsWith("/")) {
      if (path.endsWith("*")) exemptPrefixes.push(path.slice(0, -1));
      else exemptExact.add(path);
    } else {
      throw new SessionConfigError(
        "csrf.exemptPaths: each must be a path starting with / (ending in * for a prefix) or a " +
          `RegExp, got ${JSON.stringify(path)}`,
      );
    }
  }
  const unchecked = new Set(SAFE_METHODS);
  for (const method of stringList("exemptMethods", options.exemptMethods)) {
    if (typeof method !== "string" || !METHOD.test(method)) {
      throw new SessionConfigError(
        `csrf.exemptMethods: each must be an HTTP method name, got ${JSON.stringify(method)}`,
      );
    }
    unchecked.add(method.toUpperCase());
  }
  return {
    trustedOrigins,
    exemptExact,
    exemptPrefixes,
    exemptPatterns,
    unchecked,
    tokens: resolveTokens(options.tokens),
  };
}

function resolveTokens(tokens: CsrfOptions["tokens"]): ResolvedCsrf["tokens"] {
  if (tokens === undefined || tokens === false) return undefined;
  if (tokens === true) return { header: "x-csrf-token", field: "_csrf" };
  if (typeof tokens !== "object" || tokens === null) {
    throw new SessionConfigError(
      "csrf.tokens must be true, false, or { header?: string, field?: string }",
    );
  }
  checkOptionKeys("csrf.tokens", tokens, CSRF_TOKEN_OPTION_KEYS);
  const header = tokens.header ?? "x-csrf-token";
  const field = tokens.field ?? "_csrf";
  if (typeof header !== "string" || !HEADER_NAME.test(header)) {
    throw new SessionConfigError(
      `csrf.tokens.header must be a header name, got ${JSON.stringify(header)}`,
    );
  }
  if (typeof field !== "string" || field === "") {
    throw new SessionConfigError(
      `csrf.tokens.field must be a non-empty form field name, got ${JSON.stringify(field)}`,
    );
  }
  return { header: header.toLowerCase(), field };
}

/**
 * @internal What the headers say of an unsafe request: `"same-origin"` (the
 * browser vouches for it, or its origin is trusted), `"unmarked"` (neither
 * header: not a browser's, or an old browser's), or why it is refused.
 * `undefined` for a request the protection does not check (a safe or exempt
 * method, an exempt path).
 */
export function crossOriginVerdict(
  ctx: OakContextLike,
  csrf: ResolvedCsrf,
): "same-origin" | "unmarked" | CsrfRefusalReason | undefined {
  const request = ctx.request;
  // Methods are case-sensitive: "get" is not GET, and is checked.
  if (csrf.unchecked.has(request.method ?? "GET")) return undefined;
  if (isExempt(request.url?.pathname ?? "/", csrf)) return undefined;
  const headers = request.headers;
  const site = headers?.get("sec-fetch-site") ?? null;
  if (site === "same-origin" || site === "none") return "same-origin";
  const from = headers?.get("origin") ?? null;
  if (from !== null && csrf.trustedOrigins.has(from)) return "same-origin";
  if (site !== null) return site === "same-site" ? "same-site" : "cross-site";
  if (from === null) return "unmarked";
  if (from === "null") return "null-origin";
  return originHost(from) === request.url?.host ? "same-origin" : "origin-mismatch";
}

function isExempt(path: string, csrf: ResolvedCsrf): boolean {
  if (csrf.exemptExact.has(path)) return true;
  for (const prefix of csrf.exemptPrefixes) if (path.startsWith(prefix)) return true;
  for (const pattern of csrf.exemptPatterns) {
    pattern.lastIndex = 0;
    if (pattern.test(path)) return true;
  }
  return false;
}

/** The host (and port) of an `Origin` header's value; `undefined` when it is not a URL. */
function originHost(value: string): string | undefined {
  try {
    return new URL(value).host;
  } catch {
    return undefined;
  }
}

/** The largest form body read for its token: more is not a form a page posts with a token. */
const MAX_FORM_BYTES = 1 << 20;

/**
 * @internal The request's token: its header, else its form field (the body
 * is read, and handed back to Oak whole so the handler reads it as it
 * would have). `undefined` when it carries none.
 */
export async function requestToken(
  ctx: OakContextLike,
  names: { header: string; field: string },
): Promise<string | undefined> {
  const header = ctx.request.headers?.get(names.header);
  if (header !== null && header !== undefined) return header;
  // Lower case to tell the type only: a multipart boundary is case-sensitive.
  const type = ctx.request.headers?.get("content-type") ?? "";
  const lower = type.toLowerCase();
  const urlencoded = lower.startsWith("application/x-www-form-urlencoded");
  if (!urlencoded && !lower.startsWith("multipart/form-data")) return undefined;
  const length = Number(ctx.request.headers?.get("content-length") ?? 0);
  if (!(length <= MAX_FORM_BYTES)) return undefined;
  const bytes = await readBodyKeepingIt(ctx, urlencoded);
  if (bytes === undefined) return undefined;
  try {
    const value = urlencoded
      ? new URLSearchParams(new TextDecoder().decode(bytes)).get(names.field)
      : (await new Response(bytes, { headers: { "content-type": type } }).formData())
        .get(names.field);
    return typeof value === "string" ? value : undefined;
  } catch {
    // A malformed body carries no token.
    return undefined;
  }
}

// deno-lint-ignore no-explicit-any
type AnyBody = any;

/**
 * The request body's bytes, read so the handler can still read it: Oak 13
 * and later read a body once, so its `Body` is replaced by one of the same
 * class over the bytes read; Oak 12 keeps what it read (`body({ type })`) of
 * a URL-encoded form. `undefined` when the body cannot be read this way (it
 * is left unread, and the token must come in the header).
 */
async function readBodyKeepingIt(
  ctx: OakContextLike,
  urlencoded: boolean,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const request = ctx.request as AnyBody;
  const body = request.body;
  if (typeof body === "function") {
    // Oak 12 keeps the bytes it read for the handler's body({ type: "form" }),
    // but reads multipart forms from the stream: there, only the header counts.
    if (!urlencoded) return undefined;
    const read = body.call(request, { type: "bytes" });
    return read?.value instanceof Promise ? new Uint8Array(await read.value) : undefined;
  }
  if (body === null || typeof body !== "object" || typeof body.arrayBuffer !== "function") {
    return undefined;
  }
  if (body.used === true) return undefined;
  const bytes = new Uint8Array(await body.arrayBuffer());
  const url = String(request.url);
  const replay = new Request(url, {
    method: request.method,
    headers: request.headers,
    body: bytes,
  });
  const Body = body.constructor as new (serverRequest: { request: Request }) => unknown;
  Object.defineProperty(request, "body", {
    value: new Body({ request: replay }),
    configurable: true,
    enumerable: true,
  });
  return bytes;
}
