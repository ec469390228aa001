/**
 * A SIGTERM or SIGINT sent to `npm start` (as a process manager or a
 * container runtime sends it to the process it started) stops the demo: npm
 * passes the signal to its script's process, which must be the demo itself
 * (`exec`; a shell in between dies of the signal and leaves the demo running
 * with no parent), and the demo closes its port. Node only: it runs npm.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "./kit/ports.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const skip = "Deno" in globalThis ? "npm start runs on Node; checked once, under Node" : false;

/** Whether a TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

async function stopsOn(signal: NodeJS.Signals): Promise<void> {
  const port = await freePort();
  const npm = spawn(process.platform === "win32" ? "npm.cmd" : "npm", ["start"], {
    cwd: ROOT,
    env: { ...process.env, STORE: "memory", PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => npm.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    npm.stdout.on("data", (d) => {
      output += d;
      if (output.includes("Ctrl-C to stop")) resolve();
    });
    npm.stderr.on("data", (d) => (output += d));
    npm.once("exit", () => reject(new Error(`npm start ended before listening:\n${output}`)));
  });
  assert.equal(await refused(port), false, "the demo does not accept connections");
  npm.kill(signal);
  await exited;
  // A demo left running would hold these pipes open, and this test with them.
  npm.stdout.destroy();
  npm.stderr.destroy();
  // npm has exited; the demo closes its port on the next turns of its event
  // loop, or never (10 s bound that).
  const deadline = Date.now() + 10_000;
  let closed = await refused(port);
  while (!closed && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
    closed = await refused(port);
  }
  assert.ok(closed, `the demo still listens on ${port} after npm start got ${signal}`);
}

describe("npm start", { skip }, () => {
  it("stops the demo on SIGTERM", () => stopsOn("SIGTERM"));
  it("stops the demo on SIGINT", () => stopsOn("SIGINT"));
});
