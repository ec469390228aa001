// The seed README's first example, with only its import lines changed
// (examples/seed.ts), runs as a process of the runtime running this test
// (Node with tsx, Deno, or Bun, which runs TypeScript itself) and behaves as
// the seed says.
// It listens on port 8000 as written, so port 8000 must be free.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { CookieClient } from "./kit/http_client.ts";
import { waitForPort } from "./kit/waiting.ts";

const isDeno = "Deno" in globalThis;
const isBun = "Bun" in globalThis;

describe("the seed's example (examples/seed.ts)", () => {
  let child: ChildProcess;
  let stderr = "";
  const base = "http://127.0.0.1:8000";

  before(async () => {
    const [cmd, args] = isDeno
      ? [process.execPath, ["run", "-A", "examples/seed.ts"]]
      : isBun
      ? [process.execPath, ["examples/seed.ts"]]
      : [process.execPath, ["--import", "tsx", "examples/seed.ts"]];
    child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d) => (stderr += d));
    try {
      await waitForPort(8000, 20_000);
    } catch (error) {
      child.kill();
      throw new Error(`examples/seed.ts did not start on port 8000 (${error}); stderr: ${stderr}`);
    }
  });

  after(() => {
    child?.kill("SIGKILL");
  });

  it("counts page views 0, 1, 2 for one client, from 0 again for another", async () => {
    const ann = new CookieClient(base);
    for (const n of [0, 1, 2]) {
      assert.equal((await ann.get("/session")).text, `Visited page ${n} times`);
    }
    const bob = new CookieClient(base);
    assert.equal((await bob.get("/session")).text, "Visited page 0 times");
    assert.equal((await ann.get("/session")).text, "Visited page 3 times");
  });

  it("after POST /delete the old cookie gets a fresh session", async () => {
    const ann = new CookieClient(base);
    await ann.get("/session");
    await ann.get("/session");
    const kept = ann.clone();
    const reply = await ann.post("/delete");
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.get("location"), "/");
    // Even a client that ignored the cleared cookie gets a fresh session.
    assert.equal((await kept.get("/session")).text, "Visited page 0 times");
    assert.equal((await ann.get("/session")).text, "Visited page 0 times");
  });

  it("the process stayed up without errors", () => {
    assert.equal(child.exitCode, null);
    assert.doesNotMatch(stderr, /Error|error:/);
  });
});
