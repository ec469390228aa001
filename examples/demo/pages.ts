/**
 * The demo's pages: plain server-rendered HTML, usable without JavaScript.
 * Every value that came from a person or a session is escaped.
 *
 * @module
 */

import type { SessionInfo } from "../../mod.ts";

/** A message shown once at the top of the page. */
export interface Notice {
  kind: "ok" | "error" | "info";
  text: string;
}

/**
 * The "Your sessions" panel: the user's sessions as the store lists them, or,
 * for a store that cannot list (the cookie store), whether it can still log
 * the user out everywhere.
 */
export type DevicesView =
  | { listed: true; sessions: SessionInfo[] }
  | { listed: false; canLogOutEverywhere: boolean; cookieStore: boolean };

/** Everything a page shows. */
export interface PageView {
  /** One line: the store in use. */
  store: string;
  /** The logged-in user, if any. */
  user: string | undefined;
  /** The user's sessions on every device; undefined when nobody is logged in. */
  devices?: DevicesView;
  failedLogins: number;
  notices: Notice[];
  /** The items a person can add, and how many of each the cart holds. */
  cart: Array<{ item: string; count: number }>;
  /** First 8 hex characters of SHA-256 of the session ID; undefined when nothing is stored. */
  fingerprint: string | undefined;
  /** The session's idle timeout, in seconds. */
  idleSeconds: number;
  /** When the stored session ends (ms since the epoch); undefined while it is not stored. */
  expiresAt?: number;
  /** The session's data (flash values excluded). */
  data: Record<string, unknown>;
  /** The page counter's text, on `/session`. */
  headline?: string;
  /**
   * A CSRF token of the session (`session.csrfToken()`), put into every form
   * the page has; undefined while the session holds nothing (see `pageView`).
   */
  csrfToken?: string;
}

/**
 * Escape text for HTML element content and quoted attribute values.
 *
 * ```ts
 * escapeHtml(`<b title="x">&</b>`); // "&lt;b title=&quot;x&quot;&gt;&amp;&lt;/b&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** The hidden field that carries the CSRF token in a form (`_csrf`, the middleware's default). */
function csrfField(token: string | undefined): string {
  return token === undefined
    ? ""
    : `<input type="hidden" name="_csrf" value="${escapeHtml(token)}">`;
}

function minutes(seconds: number): string {
  if (seconds % 60 !== 0) return `${seconds} seconds`;
  const m = seconds / 60;
  return m === 1 ? "1 minute" : `${m} minutes`;
}

const STYLE = `
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1f2328; }
  header { background: #24292f; color: #fff; padding: 12px 24px; display: flex; gap: 16px;
    align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #fff; }
  header .store { color: #c9d1d9; font-size: 13px; }
  main { max-width: 920px; margin: 20px auto; padding: 0 16px; display: grid;
    grid-template-columns: 1fr 1fr; gap: 16px; }
  section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 14px 18px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  .notice { grid-column: 1 / -1; padding: 10px 14px; border-radius: 8px; margin: 0; }
  .notice.ok { background: #dafbe1; border: 1px solid #4ac26b; }
  .notice.error { background: #ffebe9; border: 1px solid #ff8182; }
  .notice.info { background: #ddf4ff; border: 1px solid #54aeff; }
  label { display: block; margin: 6px 0 2px; font-size: 13px; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 6px; }
  button { margin-top: 8px; padding: 6px 12px; border-radius: 6px; border: 1px solid #1f883d;
    background: #1f883d; color: #fff; cursor: pointer; }
  button.plain { background: #f6f8fa; color: #1f2328; border-color: #d0d7de; }
  .items { display: flex; gap: 6px; flex-wrap: wrap; }
  .items form { margin: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
  dt { color: #57606a; }
  dd { margin: 0; }
  pre { background: #f6f8fa; padding: 8px; border-radius: 6px; margin: 8px 0 0; overflow: auto; }
  code { font-family: ui-monospace, monospace; }
  .hint { color: #57606a; font-size: 13px; }
  .remember { display: flex; gap: 6px; align-items: center; margin-top: 8px; }
  .remember label { margin: 0; }
  ul.devices { list-style: none; padding: 0; margin: 0; }
  ul.devices li { border-top: 1px solid #d0d7de; padding: 8px 0; display: flex; gap: 12px;
    justify-content: space-between; align-items: center; }
  ul.devices li:first-child { border-top: none; }
  ul.devices form { margin: 0; }
  ul.devices button { margin: 0; white-space: nowrap; }
  .device-agent { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
  .this-device { background: #ddf4ff; border: 1px solid #54aeff; border-radius: 10px;
    padding: 0 8px; font-size: 12px; }
  .device-times { color: #57606a; font-size: 13px; }
`;

/** A time as the page shows it: `2026-01-31 12:00:00 UTC`. */
function when(ms: number): string {
  const text = new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  return `<time datetime="${new Date(ms).toISOString()}">${text} UTC</time>`;
}

function loginSection(view: PageView): string {
  if (view.user !== undefined) {
    return `<section id="account">
  <h2>Logged in</h2>
  <p>You are <strong id="user">${escapeHtml(view.user)}</strong>.</p>
  <form method="post" action="/logout">
    ${csrfField(view.csrfToken)}
    <button type="submit" class="plain">Log out</button>
  </form>
  <p class="hint">Logging out deletes the session in the store and clears its cookie.</p>
</section>`;
  }
  return `<section id="account">
  <h2>Log in</h2>
  <form method="post" action="/login">
    ${csrfField(view.csrfToken)}
    <label for="login-user">User</label>
    <input id="login-user" name="user" type="text" autocomplete="username">
    <label for="login-password">Password</label>
    <input id="login-password" name="password" type="password" autocomplete="current-password">
    <div class="remember">
      <input id="login-remember" name="remember" type="checkbox" value="yes">
      <label for="login-remember">Remember me</label>
    </div>
    <button type="submit">Log in</button>
  </form>
  <p class="hint">Use user <code>demo</code> and password <code>demo</code>. Logging in gives the
  session a new ID (watch the fingerprint change). Remember me keeps you logged in for 30 days
  without a visit, across browser restarts; without it the cookie ends with the browser.</p>
  <p>Failed login attempts: <strong id="failed-logins">${view.failedLogins}</strong></p>
</section>`;
}

function deviceItem(info: SessionInfo, csrfToken: string | undefined): string {
  const agent = info.userAgent === undefined
    ? `<span class="device-agent hint">browser not recorded</span>`
    : `<span class="device-agent">${escapeHtml(info.userAgent)}</span>`;
  const here = info.current ? ` <span class="this-device">this device</span>` : "";
  const kind = info.persistent
    ? `<span class="device-kind">remember me</span>`
    : `<span class="device-kind">browser session</span>`;
  // The fingerprint names the session for revokeSession; it is not its ID.
  const action = info.current ? "" : `<form method="post" action="/sessions/logout-one">
        ${csrfField(csrfToken)}
        <input type="hidden" name="fingerprint" value="${escapeHtml(info.fingerprint)}">
        <button type="submit" class="plain logout-one">Log out</button>
      </form>`;
  return `<li class="device" data-current="${info.current}">
      <div>
        ${agent}${here}<br>
        ${kind}
        <span class="device-times">created ${when(info.createdAt)}, last seen ${
    when(info.lastSeenAt)
  }, expires ${when(info.expiresAt)}</span>
      </div>
      ${action}
    </li>`;
}

function devicesSection(view: PageView): string {
  const devices = view.devices;
  if (devices === undefined) return "";
  if (!devices.listed) {
    const why = devices.cookieStore
      ? `This store keeps each session in its own browser's cookie, not on the server, so the
  server cannot list your sessions or log out one of them.`
      : `This session store keeps no index of a user's sessions, so it cannot list them.`;
    const everywhere = devices.canLogOutEverywhere
      ? `<p>It can still log you out everywhere at once, this browser included: every session
  you logged in before now stops working.</p>
  <form method="post" action="/sessions/logout-everywhere">
    ${csrfField(view.csrfToken)}
    <button type="submit" id="logout-everywhere" class="plain">Log out everywhere</button>
  </form>`
      : "";
    return `<section id="devices-panel" class="wide">
  <h2>Your sessions</h2>
  <p id="devices-unlisted">${why}</p>
  ${everywhere}
</section>`;
  }
  const others = devices.sessions.some((info) => !info.current);
  return `<section id="devices-panel" class="wide">
  <h2>Your sessions</h2>
  <ul id="devices" class="devices">
    ${devices.sessions.map((info) => deviceItem(info, view.csrfToken)).join("\n    ")}
  </ul>
  ${
    others
      ? `<form method="post" action="/sessions/logout-others">
    ${csrfField(view.csrfToken)}
    <button type="submit" id="logout-others" class="plain">Log out other devices</button>
  </form>`
      : `<p class="hint" id="no-other-devices">You are logged in nowhere else.</p>`
  }
</section>`;
}

function cartSection(view: PageView): string {
  const csrf = csrfField(view.csrfToken);
  const buttons = view.cart.map(({ item }) => {
    const name = escapeHtml(item);
    const fields = `${csrf}<input type="hidden" name="item" value="${name}">`;
    const button = `<button type="submit" id="add-${name}">Add ${name}</button>`;
    return `<form method="post" action="/cart/add">${fields}${button}</form>`;
  }).join("\n    ");
  const held = view.cart.filter((line) => line.count > 0);
  const list = held.length === 0
    ? `<p id="cart-empty">The cart is empty.</p>`
    : `<ul id="cart">${
      held.map(({ item, count }) =>
        `<li data-item="${escapeHtml(item)}">${
          escapeHtml(item)
        } &times; <span class="count">${count}</span></li>`
      ).join("")
    }</ul>`;
  return `<section id="cart-panel">
  <h2>Cart</h2>
  <div class="items">
    ${buttons}
  </div>
  ${list}
  <p class="hint">Each item is its own session key, so two tabs adding different items at the
  same moment both keep theirs.</p>
</section>`;
}

function sessionSection(view: PageView): string {
  const fingerprint = view.fingerprint === undefined
    ? `<span id="fingerprint">none</span> <span class="hint">(a session is stored once it holds data)</span>`
    : `<code id="fingerprint">${view.fingerprint}</code>`;
  return `<section id="session-panel" class="wide">
  <h2>This session</h2>
  <dl>
    <dt>ID fingerprint</dt><dd>${fingerprint}
      <span class="hint">first 8 hex digits of SHA-256 of the ID; the ID itself stays in the
      HttpOnly cookie</span></dd>
    <dt>Expiry</dt><dd id="expiry">${
    view.expiresAt === undefined
      ? "not stored yet"
      : `<time>${new Date(view.expiresAt).toISOString().replace("T", " ").slice(0, 19)} UTC</time>`
  } <span class="hint">after ${
    minutes(view.idleSeconds)
  } without a visit (30 days with remember me); use pushes it back (written at most every ${
    minutes(view.idleSeconds / 10)
  })</span></dd>
  </dl>
  <pre id="session-data">${escapeHtml(JSON.stringify(view.data, null, 2))}</pre>
</section>`;
}

/**
 * The whole page: notices, login, cart, page counter, the user's sessions
 * (when logged in) and the session panel.
 *
 * ```ts
 * const html = renderPage({
 *   store: "MemoryStore", user: undefined, failedLogins: 0, notices: [],
 *   cart: [{ item: "apple", count: 0 }], fingerprint: undefined, idleSeconds: 1800, data: {},
 *   csrfToken: "token-from-session.csrfToken()",
 * });
 * ```
 */
export function renderPage(view: PageView): string {
  const notices = view.notices.map((n) =>
    `<p class="notice ${n.kind}" role="status">${escapeHtml(n.text)}</p>`
  ).join("\n  ");
  const headline = view.headline === undefined
    ? ""
    : `<section class="wide"><h2 id="headline">${escapeHtml(view.headline)}</h2></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oak-sessions demo</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1><a href="/">oak-sessions demo</a></h1>
  <a href="/session">page counter</a>
  <span class="store" id="store">${escapeHtml(view.store)}</span>
</header>
<main>
  ${notices}
  ${headline}
  ${loginSection(view)}
  ${cartSection(view)}
  ${devicesSection(view)}
  ${sessionSection(view)}
</main>
</body>
</html>
`;
}

/**
 * A page for a request that failed (store down: 503).
 *
 * ```ts
 * renderError(503, "session store failed while reading a session: connection refused");
 * ```
 */
export function renderError(status: number, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>oak-sessions demo: error ${status}</title>
<style>${STYLE}</style></head>
<body>
<header><h1><a href="/">oak-sessions demo</a></h1></header>
<main><p class="notice error" role="alert">Error ${status}: ${escapeHtml(message)}</p></main>
</body>
</html>
`;
}
