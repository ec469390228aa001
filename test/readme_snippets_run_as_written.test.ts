/**
 * Every program in the README (and in docs/) runs as written and serves
 * sessions.
 *
 * The rule, which README.md's Development section states too: every fenced
 * `ts` block in README.md and docs/*.md is either
 *
 * - a complete program: it calls `.listen(` (on a fixed port, as a user's
 *   first app does). It is taken from the page as it stands, byte for byte,
 *   written to a file inside this checkout (so that "oak-sessions" resolves
 *   to the package itself, through package.json's exports and dist/, and
 *   the drivers to node_modules), and run in its own process with tsx, as the
 *   quick start tells users to, in an empty working directory (SQLite files
 *   land there). The test waits for its port to answer, then proves that the
 *   session works over real HTTP: one client's counter goes n, n+1, n+2 with
 *   its cookie, and a client without a cookie starts at n again. It fails if
 *   the program does not start, exits early, does not serve, or does not
 *   count; or
 * - a fragment, marked by the line `<!-- not a program -->` before its fence
 *   (store constructors, Deno-only or Node 22-only code, pieces of an app).
 *
 * An unmarked block that is no program fails the first test, so a snippet
 * that would exit silently cannot be added unnoticed.
 *
 * The services a program needs come from the environment variables it reads
 * (`process.env.NAME`): SESSION_SECRET gets a random secret, DATABASE_URL a
 * PostgreSQL database made for this run on 127.0.0.1:5432 (dropped after),
 * WEBDIS_URL a Webdis this test starts in front of the Redis on
 * 127.0.0.1:6379, and REDIS_URL is left unset so the program's own default
 * (that Redis) applies. A variable the test knows nothing of fails the test.
 * Programs listen on their fixed port (8000), so they run one at a time, and
 * the port must be free when each starts.
 *
 * Node only: the programs are what Node users run with tsx (Deno users'
 * projects are checked by npm test's `deno check` stage).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { CookieClient } from "./kit/http_client.ts";
import { requireSharedRedis } from "./kit/redis.ts";
import { waitForPort } from "./kit/waiting.ts";
import { type OwnWebdis, startWebdis } from "./kit/webdis.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NOT_A_PROGRAM = "<!-- not a program -->";
const skip = "Deno" in globalThis ? "the README's programs are run with tsx on Node" : false;

/** One fenced `ts` block of a page. */
interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  marked: boolean;
}

/** The fenced ts blocks of `page` (a path relative to the checkout). */
function blocksOf(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    while (end < lines.length && lines[end].trim() !== fence) end++;
    if (lang === "ts" || lang === "typescript") {
      let prev = i - 1;
      while (prev >= 0 && lines[prev].trim() === "") prev--;
      blocks.push({
        page,
        line: i + 1,
        code: lines.slice(i + 1, end).map((l) => l.slice(indent.length)).join("\n") + "\n",
        marked: prev >= 0 && lines[prev].trim() === NOT_A_PROGRAM,
      });
    }
    i = end;
  }
  return blocks;
}

const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) =>
    `docs/${f}`
  ),
];
const blocks = pages.flatMap(blocksOf);
const programs = blocks.filter((b) => !b.marked);

/** The port the program listens on, as written. */
function portOf(code: string): number {
  const m = /\.listen\(\{[^}]*\bport:\s*(\d+)/.exec(code);
  assert.ok(m, "a program must listen on a port written in it (listen({ port: 8000 }))");
  return Number(m[1]);
}

/** The path to request: the first GET route of a router, else "/". */
function pathOf(code: string): string {
  return /router\.get\(\s*"([^"]+)"/.exec(code)?.[1] ?? "/";
}

/** The environment variables the program reads. */
function envNamesOf(code: string): string[] {
  return [
    ...new Set([...code.matchAll(/process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1])),
  ];
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(
      { port, host: "127.0.0.1", exclusive: true },
      () => server.close(() => resolve(true)),
    );
  });
}

/** The number in a counter's answer ("Visited page 3 times", "visit 4"). */
function countIn(text: string): number {
  const m = /-?\d+/.exec(text);
  assert.ok(m, `the answer holds no count: ${JSON.stringify(text.slice(0, 200))}`);
  return Number(m[0]);
}

describe("README and docs programs run as written", { skip }, () => {
  let dir: string;
  let webdis: OwnWebdis | undefined;
  let admin: ReturnType<typeof postgres> | undefined;
  let database: string | undefined;
  const env: Record<string, string> = {};

  before(async () => {
    // Inside the checkout (build/ is ignored by git), so that imports resolve as in a user's project.
    mkdirSync(join(ROOT, "build"), { recursive: true });
    dir = mkdtempSync(join(ROOT, "build", "snippets-"));
    const wanted = new Set(programs.flatMap((p) => envNamesOf(p.code)));
    if (wanted.has("SESSION_SECRET")) env.SESSION_SECRET = randomBytes(32).toString("base64url");
    if (wanted.has("WEBDIS_URL")) {
      await requireSharedRedis();
      webdis = await startWebdis();
      env.WEBDIS_URL = webdis.url;
    }
    if (wanted.has("DATABASE_URL")) {
      admin = postgres("postgres://postgres@127.0.0.1:5432/test", {
        max: 1,
        connect_timeout: 5,
        onnotice: () => {},
      });
      database = `readme_snippets_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
      try {
        await admin.unsafe(`CREATE DATABASE ${database}`);
      } catch (error) {
        throw new Error(
          "The PostgreSQL programs need PostgreSQL on 127.0.0.1:5432 (user postgres, database " +
            `test); creating a database for them failed: ${(error as Error).message}`,
        );
      }
      env.DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${database}`;
    }
    if (programs.some((p) => /from "redis"|from "ioredis"/.test(p.code))) {
      await requireSharedRedis();
    }
  });

  after(async () => {
    await webdis?.dispose();
    if (admin && database) {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    }
    await admin?.end({ timeout: 2 });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("every ts block is a complete program or marked <!-- not a program -->", () => {
    const unmarked = blocks.filter((b) => !b.marked && !b.code.includes(".listen("));
    assert.deepEqual(
      unmarked.map((b) => `${b.page}:${b.line}`),
      [],
      `these blocks neither listen nor carry "${NOT_A_PROGRAM}" before their fence`,
    );
    // The extraction itself works: the README's quick start and stores are programs.
    assert.ok(programs.filter((p) => p.page === "README.md").length >= 6);
  });

  for (const program of programs) {
    const where = `${program.page}:${program.line}`;
    const path = pathOf(program.code);
    it(`${where} starts, serves GET ${path} and counts per session`, async () => {
      const port = portOf(program.code);
      const known = new Set(["SESSION_SECRET", "WEBDIS_URL", "DATABASE_URL", "REDIS_URL"]);
      for (const name of envNamesOf(program.code)) {
        assert.ok(known.has(name), `${where} reads ${name}, for which this test has no value`);
      }
      assert.ok(
        await portIsFree(port),
        `port ${port} is in use; ${where} listens on it as written, so free it first`,
      );

      const file = join(dir, `${program.page.replace(/\W/g, "_")}_${program.line}.ts`);
      writeFileSync(file, program.code);
      const cwd = mkdtempSync(join(tmpdir(), "oak-sessions-snippet-"));
      const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
      delete childEnv.REDIS_URL;
      delete childEnv.PORT;
      // tsx from this checkout: the working directory is empty, as a new project's would be.
      const tsx = import.meta.resolve("tsx");
      const child: ChildProcess = spawn(process.execPath, ["--import", tsx, file], {
        cwd,
        env: childEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout?.on("data", (d) => (output += d));
      child.stderr?.on("data", (d) => (output += d));
      const exited = new Promise<string>((resolve) =>
        child.once("exit", (code, signal) => resolve(`exited (code ${code}, signal ${signal})`))
      );
      try {
        const started = await Promise.race([
          waitForPort(port, 30_000).then(() => "listening"),
          exited,
        ]);
        assert.equal(started, "listening", `${where} ${started} before listening:\n${output}`);

        const base = `http://127.0.0.1:${port}`;
        const ann = new CookieClient(base);
        const first = await ann.get(path);
        assert.equal(first.status, 200, `${where}: GET ${path} answered ${first.status}`);
        const start = countIn(first.text);
        for (const n of [start + 1, start + 2]) {
          const reply = await ann.get(path);
          assert.equal(reply.status, 200);
          assert.equal(
            countIn(reply.text),
            n,
            `${where}: the counter did not go up with the cookie`,
          );
        }
        const bob = new CookieClient(base);
        assert.equal(countIn((await bob.get(path)).text), start, "a new client starts afresh");
        assert.equal(
          countIn((await ann.get(path)).text),
          start + 3,
          "the first client's count kept",
        );

        assert.equal(child.exitCode, null, `${where} exited while serving:\n${output}`);
        assert.doesNotMatch(output, /\bError\b|error:|Unhandled/, `${where} printed:\n${output}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});
