/**
 * Regenerates docs/demo.png, the README's picture of the demo: the page just
 * after logging in, on the default SQLite store, with a few cart items.
 * Needs Debian's `chromium`. Run from the repository root:
 *
 *   node --import tsx examples/demo/screenshot.ts
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { launchChromium, logIn, submit } from "../../test/helpers/browser.ts";
import { serve } from "../../test/kit/oak_server.ts";
import { openStore } from "../stores.ts";
import { buildDemoApp } from "./app.ts";

const output = fileURLToPath(new URL("../../docs/demo.png", import.meta.url));
const dir = mkdtempSync(`${tmpdir()}/oak-sessions-screenshot-`);
// The store line on the page then names the file as `npm start` would.
process.chdir(dir);
const opened = await openStore("sqlite", {});
const server = await serve(buildDemoApp(opened.store, { storeDescription: opened.description }));
const browser = await launchChromium();
try {
  const page = browser.context.pages()[0] ?? await browser.context.newPage();
  await page.setViewportSize({ width: 900, height: 600 });
  await page.goto(`${server.url}/`);
  for (const item of ["apple", "apple", "fig"]) await submit(page, `#add-${item}`, "/cart/add");
  await logIn(page, "demo", "demo");
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  server.close();
  await opened.close();
  rmSync(dir, { recursive: true, force: true });
}
