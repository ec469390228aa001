/**
 * The demo application: a page counter, flash messages, a login that rotates
 * the session ID and binds it to the user (with "remember me"), a cart whose
 * items are separate session keys, a panel showing the session, and one
 * listing the user's sessions on every device, each of which can be logged
 * out. The middleware refuses a POST another site's page sends, and the
 * forms of a session that holds something carry its CSRF token.
 * Runtime-neutral: `main.ts` opens the store and listens; tests build the
 * app in-process on a free port.
 *
 * @module
 */
import { Application, type Context, Router } from "@oakserver/oak";
import { Session, SessionStoreError } from "../../mod.ts";
import type { SessionInfo, SessionStore } from "../../mod.ts";
import { type DevicesView, type Notice, type PageView, renderError, renderPage } from "./pages.ts";

/** The items the cart offers. */
export const CART_ITEMS = ["apple", "pear", "fig", "plum"] as const;

/** The demo's one account (the login page says so). */
export const DEMO_USER = "demo";
/** The password of `DEMO_USER`. */
export const DEMO_PASSWORD = "demo";

/** How long a "remember me" session lasts without a visit: 30 days. */
export const REMEMBER_ME_SECONDS = 30 * 24 * 60 * 60;

/** What the demo keeps in a session. Each cart item is its own key, `cart:<item>` = count. */
export type DemoData = {
  user: string;
  failedLogins: number;
  pageCount: number;
  /** Flash: the seed's message, set by the page counter. */
  message: string;
  /** Flash: set at login, shown once after the redirect. */
  welcome: string;
  /** Flash: set by a failed login. */
  loginError: string;
  /** Flash: what logging out other sessions did. */
  devicesNotice: string;
  [cartKey: `cart:${string}`]: number;
};

/** The Oak state of the demo's requests. */
export type DemoState = { session: Session<DemoData> };

/** Options of `buildDemoApp`. */
export interface DemoOptions {
  /** The line that names the store, shown on every page. */
  storeDescription?: string;
  /** Idle timeout of a session. Default 1800 (30 minutes). */
  expireAfterSeconds?: number;
  /**
   * Awaited by `POST /cart/add` after the session is loaded and before the
   * change is written. Tests use it to hold two requests until both are in
   * flight, so "at the same moment" is certain rather than likely.
   */
  holdCartAdd?: (item: string) => Promise<void>;
}

/**
 * Build the demo's Oak application on an open store.
 *
 * ```ts
 * import { MemoryStore } from "oak-sessions";
 * const app = buildDemoApp(new MemoryStore(), { storeDescription: "MemoryStore" });
 * await app.listen({ port: 8000 });
 * ```
 */
export function buildDemoApp(
  store: SessionStore,
  options: DemoOptions = {},
): Application<DemoState> {
  const idleSeconds = options.expireAfterSeconds ?? 1800;
  const storeLine = options.storeDescription ?? "session store";
  const app = new Application<DemoState>({ logErrors: false });

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const status = error instanceof SessionStoreError ? error.status : 500;
      // The store's message names servers and keys: for the console, not the visitor.
      console.error(`${ctx.request.method} ${ctx.request.url.pathname}: ${String(error)}`);
      ctx.response.status = status;
      ctx.response.type = "html";
      ctx.response.headers.set("cache-control", "no-store");
      ctx.response.body = renderError(
        status,
        status === 503
          ? "the session store is not answering; try again in a moment"
          : "something went wrong",
      );
    }
  });

  // Browsers ask for it on every page; it needs no session (and no store read).
  app.use(async (ctx, next) => {
    if (ctx.request.url.pathname === "/favicon.ico") {
      ctx.response.status = 204;
      return;
    }
    await next();
  });

  app.use(Session.initMiddleware(store, {
    expireAfterSeconds: idleSeconds,
    // "Remember me" may keep a session for 30 days without a visit.
    maxIdleSeconds: Math.max(idleSeconds, REMEMBER_ME_SECONDS),
    // "Your sessions" names each device by the browser it was logged in from (not its IP).
    recordDevice: { userAgent: true },
    // A POST another site's page sends is refused (Sec-Fetch-Site, else Origin): the
    // default. Tokens too: a POST with neither header must carry the one the forms hold.
    csrf: { tokens: true },
  }));

  const router = new Router<DemoState>();
  const page: PageContext = { store, storeLine, idleSeconds };

  router.get("/", async (ctx) => {
    const session = ctx.state.session;
    sendPage(ctx, await pageView(session, page, readNotices(session)));
  });

  // The seed's page counter: counts visits and flashes a message for the next page.
  router.get("/session", async (ctx) => {
    const session = ctx.state.session;
    const notices = readNotices(session);
    // Added in the store: visits from several tabs at once all count.
    const count = session.increment("pageCount");
    session.flash("message", "I am good for form validation errors, success messages, etc.");
    const view = await pageView(session, page, notices);
    view.headline = `Visited page ${count} ${count === 1 ? "time" : "times"}`;
    sendPage(ctx, view);
  });

  router.post("/login", async (ctx) => {
    const form = await readForm(ctx);
    if (form === undefined) return;
    const session = ctx.state.session;
    const user = form.get("user") ?? "";
    if (user === DEMO_USER && form.get("password") === DEMO_PASSWORD) {
      // A new ID when privileges change, so an ID planted before login is worthless after.
      await session.regenerate();
      // Bound to the user: listed under "Your sessions", ended by "Log out other devices".
      session.setUser(user);
      session.set("user", user);
      session.delete("failedLogins");
      // Checked: a cookie that outlives the browser, for 30 days without a visit.
      // Unchecked: a browser-session cookie, gone when the browser closes.
      session.setLifetime(
        form.get("remember") === "yes"
          ? { idleSeconds: REMEMBER_ME_SECONDS, persistent: true }
          : { persistent: false },
      );
      session.flash("welcome", `Welcome, ${user}! You are logged in; your session has a new ID.`);
    } else {
      session.set("failedLogins", (session.get("failedLogins") ?? 0) + 1);
      session.flash("loginError", "Wrong user or password. Try user demo, password demo.");
    }
    seeOther(ctx, "/");
  });

  router.post("/logout", async (ctx) => {
    await ctx.state.session.deleteSession();
    seeOther(ctx, "/");
  });

  // "Your sessions": end one session of the user, found by its fingerprint in the list.
  router.post("/sessions/logout-one", async (ctx) => {
    const form = await readForm(ctx);
    if (form === undefined) return;
    const session = ctx.state.session;
    const user = session.userId;
    const target = form.get("fingerprint") ?? "";
    if (user !== undefined && canList(store) && target !== "") {
      const ended = await session.revokeSession(user, target);
      // Ending this very session logs this browser out too: no flash to keep then.
      if (session.userId !== undefined) {
        session.flash(
          "devicesNotice",
          ended ? "That session is logged out." : "That session had already ended.",
        );
      }
    }
    seeOther(ctx, "/");
  });

  router.post("/sessions/logout-others", async (ctx) => {
    if (await readForm(ctx) === undefined) return;
    const session = ctx.state.session;
    const user = session.userId;
    if (user !== undefined && canList(store)) {
      const ended = await session.revokeSessions(user, { except: ctx });
      session.flash(
        "devicesNotice",
        ended === 0
          ? "There were no other sessions to log out."
          : `Logged out ${ended} other ${ended === 1 ? "session" : "sessions"}.`,
      );
    }
    seeOther(ctx, "/");
  });

  // For the cookie store, which cannot list: every session of the user, this one too.
  router.post("/sessions/logout-everywhere", async (ctx) => {
    if (await readForm(ctx) === undefined) return;
    const session = ctx.state.session;
    const user = session.userId;
    if (user !== undefined && canRevokeAll(store)) await session.revokeSessions(user);
    seeOther(ctx, "/");
  });

  router.post("/cart/add", async (ctx) => {
    const form = await readForm(ctx);
    if (form === undefined) return;
    const item = form.get("item") ?? "";
    if (!(CART_ITEMS as readonly string[]).includes(item)) {
      ctx.response.status = 400;
      ctx.response.body = `unknown item; choose one of ${CART_ITEMS.join(", ")}`;
      return;
    }
    const session = ctx.state.session;
    await options.holdCartAdd?.(item);
    const key = `cart:${item}` as const;
    session.set(key, (session.get(key) ?? 0) + 1);
    seeOther(ctx, "/");
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

type DemoContext = Context<DemoState>;

function sendPage(ctx: DemoContext, view: PageView): void {
  ctx.response.type = "html";
  // The page shows one person's session: never from a shared cache.
  ctx.response.headers.set("cache-control", "no-store");
  ctx.response.body = renderPage(view);
}

/** POST -> 303 -> GET: a reload does not repeat the POST. */
function seeOther(ctx: DemoContext, location: string): void {
  ctx.response.status = 303;
  ctx.response.headers.set("location", location);
}

async function readForm(ctx: DemoContext): Promise<URLSearchParams | undefined> {
  try {
    return await ctx.request.body.form();
  } catch {
    ctx.response.status = 400;
    ctx.response.body = "expected an HTML form (application/x-www-form-urlencoded)";
    return undefined;
  }
}

/** The flash messages the previous request left; reading them consumes them. */
function readNotices(session: Session<DemoData>): Notice[] {
  const notices: Notice[] = [];
  const welcome = session.get("welcome");
  if (welcome !== undefined) notices.push({ kind: "ok", text: welcome });
  const error = session.get("loginError");
  if (error !== undefined) notices.push({ kind: "error", text: error });
  const message = session.get("message");
  if (message !== undefined) notices.push({ kind: "info", text: message });
  const devices = session.get("devicesNotice");
  if (devices !== undefined) notices.push({ kind: "ok", text: devices });
  return notices;
}

/** Whether `store` can list a user's sessions (and end one of them). */
function canList(store: SessionStore): boolean {
  return store.kind !== "client" && typeof store.listByUser === "function" &&
    typeof store.deleteByUser === "function";
}

/** Whether `store`, which cannot list, can still end every session of a user at once. */
function canRevokeAll(store: SessionStore): boolean {
  return store.kind === "client" && typeof store.revokeUser === "function";
}

/** What the page needs of the app. */
interface PageContext {
  store: SessionStore;
  storeLine: string;
  idleSeconds: number;
}

/** The "Your sessions" panel of a logged-in user. */
async function devicesView(
  session: Session<DemoData>,
  store: SessionStore,
  user: string,
): Promise<DevicesView> {
  if (!canList(store)) {
    return {
      listed: false,
      canLogOutEverywhere: canRevokeAll(store),
      cookieStore: store.kind === "client",
    };
  }
  const sessions: SessionInfo[] = await session.listSessions(user);
  return { listed: true, sessions };
}

async function pageView(
  session: Session<DemoData>,
  app: PageContext,
  notices: Notice[],
): Promise<PageView> {
  const data = session.all() as Record<string, unknown>;
  const stored = Object.keys(data).length > 0;
  const user = session.userId;
  return {
    store: app.storeLine,
    user,
    devices: user === undefined ? undefined : await devicesView(session, app.store, user),
    failedLogins: session.get("failedLogins") ?? 0,
    notices,
    cart: CART_ITEMS.map((item) => ({ item, count: session.get(`cart:${item}`) ?? 0 })),
    fingerprint: stored ? await fingerprint(session.id) : undefined,
    idleSeconds: app.idleSeconds,
    expiresAt: session.expiresAt,
    data,
    // A token's secret is kept with the session, so handing one out stores the session:
    // only once it holds something anyway, so a visitor who only looks gets no cookie.
    csrfToken: stored ? session.csrfToken() : undefined,
  };
}

/**
 * First 8 hex digits of SHA-256 of a session ID: enough to see it change,
 * useless for taking the session over.
 *
 * ```ts
 * await fingerprint("some-session-id"); // e.g. "3f0a9c12"
 * ```
 */
export async function fingerprint(id: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id)),
  );
  return [...digest.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
