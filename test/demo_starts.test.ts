/**
 * `npm start` works as a newcomer meets it: the demo prints its URL and store
 * only once its port accepts connections (a visitor who follows the URL at
 * once is never refused), serves the page, and Ctrl-C stops it with exit
 * code 0 and no stack trace.
 * A missing setting or a busy port ends it with a message, exit code 1, and
 * no stack trace either. Runs on Node and on Deno (it spawns Node either way,
 * as `npm start` does).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "./kit/ports.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

// By its full path: Deno runs a child named plain "node" as Deno itself.
const NODE = spawnSync("sh", ["-c", "command -v node"], { encoding: "utf8" }).stdout.trim();

interface Demo {
  /** Resolves with the printed URL once the demo says where it listens. */
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

function startDemo(env: Record<string, string>): Demo {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(STORE|PORT|HOST|COOKIE_SECRET|SQLITE_FILE)$/.test(key)) {
      clean[key] = value;
    }
  }
  assert.ok(NODE, "node is not on PATH; npm start needs Node.js 20 or later");
  const child = spawn(NODE, ["--import", "tsx", "examples/demo/main.ts"], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<Awaited<Demo["exited"]>>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const url = new Promise<string>((resolve, reject) => {
    // A guard against hanging the run, not a speed check.
    const timer = setTimeout(() => reject(new Error("the demo printed no URL in 60 s")), 60_000);
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      const match = /http:\/\/\S+\//.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (code ${code}) before printing its URL:\n${stderr}`));
    });
  });
  url.catch(() => {});
  // process.kill, not child.kill: Deno's child.kill reports the signal as the way the child
  // ended even when the child handled it and exited with a code of its own.
  const kill = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
  };
  return { url, exited, kill };
}

const STACK = /^\s+at /m;

/** One TCP connection attempt to 127.0.0.1:`port`, no retry: the error code if refused. */
function connectOnce(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("the demo started as npm start does", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`serves its page, then stops on ${signal} with exit code 0 and no stack trace`, async () => {
      const port = await freePort();
      const demo = startDemo({ PORT: String(port), STORE: "memory" });
      try {
        const url = await demo.url;
        // At once, as a newcomer clicking the URL: the port must already accept.
        const refused = await connectOnce(port);
        assert.equal(refused, undefined, "the demo printed its URL before its port accepted");
        assert.equal(url, `http://localhost:${port}/`);
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /oak-sessions demo/);
      } finally {
        demo.kill(signal);
      }
      const { code, stdout, stderr } = await demo.exited;
      assert.match(stdout, /store: MemoryStore/);
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, STACK);
      assert.equal(stderr, "");
    });
  }

  it("a store setting that is missing ends it with a message, exit code 1, no stack", async () => {
    const demo = startDemo({ PORT: String(await freePort()), STORE: "cookie" });
    const { code, stderr } = await demo.exited;
    assert.equal(code, 1);
    assert.match(stderr, /STORE=cookie needs COOKIE_SECRET/);
    assert.doesNotMatch(stderr, STACK);
  });

  it("a busy port ends it with a message, exit code 1, no stack", async () => {
    const busy = createServer();
    const port = await new Promise<number>((resolve) => {
      busy.listen(0, "127.0.0.1", () => resolve((busy.address() as { port: number }).port));
    });
    try {
      const demo = startDemo({ PORT: String(port), STORE: "memory" });
      const { code, stderr } = await demo.exited;
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`port ${port} is in use`));
      assert.doesNotMatch(stderr, STACK);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
