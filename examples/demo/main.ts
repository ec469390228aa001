/**
 * `npm start`: the demo on http://localhost:8000 (Node.js).
 *
 * Environment: `PORT` (default 8000), `HOST` (default 127.0.0.1),
 * `STORE` = memory | cookie | sqlite | redis | webdis | postgres (default
 * sqlite, a file in the working directory), and what that store needs
 * (`SQLITE_FILE`, also where the cookie store keeps its revocations;
 * `REDIS_URL`, `WEBDIS_URL`, `REDIS_KEY_PREFIX`, `COOKIE_SECRET`,
 * `DATABASE_URL`; see examples/stores.ts).
 *
 * @module
 */
import { connect, createServer } from "node:net";
import process from "node:process";
import { isStoreKind, type OpenStore, openStore, STORE_KINDS, StoreSetupError } from "../stores.ts";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const kind = process.env.STORE || "sqlite";
if (!isStoreKind(kind)) fail(`STORE=${kind} is not a store; use one of ${STORE_KINDS.join(", ")}`);

const portText = process.env.PORT || "8000";
const port = Number(portText);
if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
  fail(`PORT=${portText} is not a port number (1 to 65535)`);
}

let opened: OpenStore;
try {
  opened = await openStore(kind, process.env);
} catch (error) {
  if (error instanceof StoreSetupError) fail(error.message);
  throw error;
}

// Oak warns on load under Node that its static-file send() is unavailable; the
// demo does not use it, and a newcomer's first screen should not carry a warning.
const warn = console.warn;
console.warn = (...args: unknown[]) => {
  if (args[0] !== "oak send() does not work under Node.js.") warn(...args);
};
const { buildDemoApp } = await import("./app.ts");
console.warn = warn;

const app = buildDemoApp(opened.store, { storeDescription: opened.description });
const controller = new AbortController();
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  controller.abort();
  try {
    await opened.close();
  } catch (error) {
    console.error(`closing the store failed: ${(error as Error).message}`);
    code = 1;
  }
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const hostname = process.env.HOST || "127.0.0.1";
// Oak on Node starts listening without reporting a busy port (the error
// surfaces later as an uncaught exception), so try the port first.
const busy = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
  const probe = createServer();
  probe.once("error", resolve);
  probe.listen({ port, host: hostname }, () => probe.close(() => resolve(undefined)));
});
if (busy) {
  await opened.close();
  fail(
    busy.code === "EADDRINUSE"
      ? `port ${port} is in use; set PORT to another one (PORT=8001 npm start)`
      : `cannot listen on ${hostname}:${port}: ${busy.message}`,
  );
}

/**
 * Resolves once a TCP connection to the demo's own socket succeeds. Oak's
 * "listen" event comes when Oak has asked Node to listen, and Node binds the
 * socket a moment later (after resolving the host), so a URL printed on the
 * event alone can be refused by a quick first visitor. Each refusal retries
 * on the next turn of the event loop, not after a delay; the bind is
 * already queued, so this ends within a turn or two (10 s bounds a bind
 * that never comes).
 */
async function untilAccepting(host: string, port: number): Promise<void> {
  // A wildcard address is reached through the loopback of its family.
  const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = connect({ host: target, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once("error", resolve);
    });
    if (!error) return;
    if (error.code !== "ECONNREFUSED" || Date.now() > deadline || stopping) throw error;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

app.addEventListener("listen", () => {
  untilAccepting(hostname, port).then(
    () => {
      const host = hostname === "127.0.0.1" ? "localhost" : hostname;
      console.log(`oak-sessions demo: http://${host}:${port}/`);
      console.log(`store: ${opened.description}`);
      console.log("Ctrl-C to stop");
    },
    (error: NodeJS.ErrnoException) => {
      if (stopping) return;
      console.error(`the demo did not start listening on ${hostname}:${port}: ${error.message}`);
      void stop(1);
    },
  );
});

await app.listen({ port, hostname, signal: controller.signal });
