/**
 * A real Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core)
 * and the demo app running in-process on a real store, for the browser tests.
 * Node.js only.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Cookie,
  type Page,
} from "playwright-core";
import { buildDemoApp, DEMO_USER } from "../../examples/demo/app.ts";
import { serve } from "../kit/oak_server.ts";
import { openOwnStore, type OwnStore, type StoreKind } from "../kit/stores.ts";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags a headless Chromium needs as root in a container, and quiet ones for tests. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where each run's screenshots go (build/ is not committed). */
export const SCREENSHOT_DIR = fileURLToPath(new URL("../../build/screenshots/", import.meta.url));

/** A headless Chromium with its own fresh profile. */
export interface TestBrowser {
  /** The one browser context: pages of it are tabs sharing cookies. */
  readonly context: BrowserContext;
  /** Close the browser and remove its profile. */
  close(): Promise<void>;
}

/** Start Chromium headless with a fresh user-data dir; fails saying how to install it. */
export async function launchChromium(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "oak-sessions-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 960, height: 760 },
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw notStarted(error);
  }
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Start Chromium headless for several browser contexts (separate "devices",
 * each with its own cookies); fails saying how to install it.
 */
export async function launchChromiumBrowser(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  } catch (error) {
    throw notStarted(error);
  }
}

function notStarted(error: unknown): Error {
  return new Error(
    `Chromium did not start from ${CHROMIUM_PATH}; the browser tests need it: ` +
      `apt-get install chromium\n${(error as Error).message}`,
  );
}

/**
 * Holds requests until `count` of them wait, then lets them all go: two
 * requests held this way were both in flight at once, by construction.
 */
export class Gate {
  #count = 0;
  #waiting: Array<() => void> = [];
  #arrivals = 0;

  /** How many requests reached `pass`: the `POST /cart/add` requests whose handler ran. */
  get arrivals(): number {
    return this.#arrivals;
  }

  /** Make the next `count` calls of `pass` wait for each other. */
  arm(count: number): void {
    this.#count = count;
  }

  /** The demo's `holdCartAdd`: passes at once unless armed. */
  pass = (): Promise<void> => {
    this.#arrivals++;
    if (this.#count === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#count = 0;
        reject(new Error("Gate: the other request of the pair never arrived (not concurrent)"));
      }, 10_000);
      this.#waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
      if (this.#waiting.length === this.#count) {
        this.#count = 0;
        for (const release of this.#waiting.splice(0)) release();
      }
    });
  };
}

/** The demo app on a free port, on one store. */
export interface RunningDemo {
  readonly kind: StoreKind;
  readonly url: string;
  readonly opened: OwnStore;
  /** Armed by a test to hold `POST /cart/add` requests until all of them are in flight. */
  readonly cartGate: Gate;
  /** Name of the cookie that carries the session (`session_data` for the cookie store). */
  readonly cookieName: string;
  /** Stop the server, close the store, stop Webdis, remove temp files. */
  close(): Promise<void>;
}

/**
 * Start the demo on a store of `kind` opened by `openOwnStore` (resources of
 * its own, removed at close). `ownKeys`: a Redis key prefix of its own too,
 * and the demo user's sessions deleted at close, for a test that lists that
 * user's sessions while other tests log the same user in on the shared Redis.
 */
export async function startDemo(
  kind: StoreKind,
  { ownKeys = false }: { ownKeys?: boolean } = {},
): Promise<RunningDemo> {
  const opened = await openOwnStore(kind, { ownKeys });
  const cleanups: Array<() => unknown> = [() => opened.close()];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step();
  };
  try {
    const store = opened.store;
    if (ownKeys && store.kind !== "client") {
      // Nothing of this run is left behind in the shared Redis (remembered ones last 30 days).
      cleanups.push(() => store.deleteByUser?.(DEMO_USER, [], Date.now()));
    }
    const cartGate = new Gate();
    const app = buildDemoApp(opened.store, {
      storeDescription: opened.description,
      holdCartAdd: cartGate.pass,
    });
    const server = await serve(app);
    cleanups.push(() => server.close());
    return {
      kind,
      url: server.url,
      opened,
      cartGate,
      cookieName: kind === "cookie" ? "session_data" : "session",
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** The session cookie as the browser holds it, or undefined. */
export async function sessionCookie(
  context: BrowserContext,
  demo: RunningDemo,
): Promise<Cookie | undefined> {
  const cookies = await context.cookies(demo.url);
  return cookies.find((c) => c.name === demo.cookieName);
}

/** What the demo's session panel and login box show. */
export interface Panel {
  fingerprint: string;
  data: Record<string, unknown>;
  notices: string[];
  user: string | undefined;
  failedLogins: number | undefined;
}

/** Read the panel of the page now shown. */
export async function readPanel(page: Page): Promise<Panel> {
  const user = page.locator("#user");
  const failed = page.locator("#failed-logins");
  return {
    fingerprint: (await page.locator("#fingerprint").textContent())?.trim() ?? "",
    data: JSON.parse((await page.locator("#session-data").textContent()) ?? "null"),
    notices: (await page.locator(".notice").allTextContents()).map((t) => t.trim()),
    user: (await user.count()) ? (await user.textContent()) ?? "" : undefined,
    failedLogins: (await failed.count()) ? Number(await failed.textContent()) : undefined,
  };
}

/**
 * Click what submits a form to `action` and wait until the page it redirects
 * to has loaded. Resolves to the status of the POST's own answer.
 */
export async function submit(page: Page, selector: string, action: string): Promise<number> {
  const answered = page.waitForResponse((r) =>
    r.request().method() === "POST" && new URL(r.url()).pathname === action
  );
  const navigated = page.waitForEvent("framenavigated", {
    predicate: (frame) => frame === page.mainFrame(),
  });
  await page.click(selector);
  const status = (await answered).status();
  await navigated;
  await page.waitForLoadState("load");
  return status;
}

/** Fill the login form and submit it; resolves to the POST's status once the next page loaded. */
export async function logIn(page: Page, user: string, password: string): Promise<number> {
  await page.fill("#login-user", user);
  await page.fill("#login-password", password);
  return await submit(page, "#account button[type=submit]", "/login");
}

/** Make the screenshot folder and give the path for `name`. */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}
