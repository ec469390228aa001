// What an npm user gets: `npm pack` of this checkout, installed into a fresh
// project outside the repository, type-checks under `tsc --strict` (our .d.ts
// files checked too: no skipLibCheck) with `ctx.session` and
// `ctx.state.session` typed in a router handler, and runs as a real Oak
// server over HTTP. Packs the current dist/ (npm test builds first).
//
// The fresh project gets the tarball by `npm install <file>` (it has no
// dependencies of its own, so no network); Oak, TypeScript and @types/node,
// which it would fetch from the registry, are linked from this checkout's
// node_modules instead.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { promisify } from "node:util";
import { CookieClient } from "./kit/http_client.ts";
import { freePort } from "./kit/ports.ts";
import { waitForPort } from "./kit/waiting.ts";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const node = process.execPath;
// The tarball is what Node users install, and this runs it on Node; Deno's
// users are served by the JSR package, checked by npm test's deno publish
// --dry-run and deno check stages. Once per npm test is enough.
const skip = "Deno" in globalThis ? "the npm tarball is checked on Node" : false;

const app = `import { Application, Router } from "@oakserver/oak";
import { MemoryStore, Session } from "oak-sessions";

type Visits = { count: number };
const session = new Session<Visits>(new MemoryStore());
const router = new Router();
router.get("/count", session.initMiddleware(), async (ctx) => {
  const count: number = (ctx.session.get("count") ?? 0) + 1;
  ctx.state.session.set("count", count);
  ctx.response.body = \`visit \${count}\`;
});
// Never requested: tsc must find both errors, or the check fails.
router.get("/types", session.initMiddleware(), (ctx) => {
  // @ts-expect-error not a key of Visits
  ctx.session.get("nope");
  // @ts-expect-error a string is not a number
  ctx.state.session.set("count", "x");
});
router.post("/logout", async (ctx) => {
  await session.deleteSession(ctx);
  ctx.response.body = "bye";
});

const app = new Application();
app.use(router.routes());
app.use(router.allowedMethods());
const port = Number(process.env.PORT);
app.addEventListener("listen", () => console.log("listening"));
await app.listen({ hostname: "127.0.0.1", port });
`;

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: false,
    types: ["node"],
    outDir: "build",
  },
  include: ["main.ts"],
};

describe("the npm tarball in a fresh project", { skip }, () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let stderr = "";

  before(() => {
    assert.ok(
      existsSync(join(repo, "dist", "oakserver.d.ts")),
      "dist/ is missing: run `npm run build` first (npm test does)",
    );
    dir = mkdtempSync(join(tmpdir(), "oak-sessions-npm-"));
  });

  after(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("packs, installs, type-checks with tsc --strict and serves sessions", async () => {
    // --ignore-scripts: pack the dist/ npm test just built instead of building again.
    const packed = await run(
      npm,
      ["pack", "--ignore-scripts", "--json", "--pack-destination", dir],
      {
        cwd: repo,
      },
    );
    const [{ filename, files }] = JSON.parse(packed.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    const paths = files.map((f) => f.path);
    for (const wanted of ["LICENSE", "dist/oakserver.js", "dist/oakserver.d.ts", "dist/mod.d.ts"]) {
      assert.ok(paths.includes(wanted), `the tarball lacks ${wanted}`);
    }
    assert.ok(
      !paths.some((p) => /^(test|bench|stress)\//.test(p)),
      "tests, bench or stress packed",
    );
    // The JSR package (deno.json) and the npm package must be one release.
    const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
    const jsr = JSON.parse(readFileSync(join(repo, "deno.json"), "utf8"));
    assert.deepEqual([jsr.version, jsr.license], [pkg.version, pkg.license]);

    const project = join(dir, "app");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "fresh-app", private: true, type: "module" }),
    );
    await run(npm, [
      "install",
      join(dir, filename),
      "--offline",
      "--no-audit",
      "--no-fund",
      "--legacy-peer-deps",
      "--no-package-lock",
    ], { cwd: project });
    assert.ok(existsSync(join(project, "node_modules", "oak-sessions", "dist", "oakserver.js")));
    // Linked after the install, which would prune them as extraneous.
    mkdirSync(join(project, "node_modules", "@oakserver"), { recursive: true });
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    for (const link of ["@oakserver/oak", "@types/node", "typescript"]) {
      symlinkSync(join(repo, "node_modules", link), join(project, "node_modules", link), "dir");
    }

    writeFileSync(join(project, "main.ts"), app);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
    try {
      await run(node, [tsc, "-p", "tsconfig.json"], { cwd: project });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      assert.fail(`tsc --strict failed in the fresh project:\n${e.stdout}${e.stderr}`);
    }

    const port = await freePort();
    server = spawn(node, [join(project, "build", "main.js")], {
      cwd: project,
      env: { ...process.env, PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    server.stderr?.on("data", (d) => (stderr += d));
    await waitForPort(port, 20_000).catch((error) => {
      throw new Error(`the fresh project did not start (${error}); stderr: ${stderr}`);
    });
    const ann = new CookieClient(`http://127.0.0.1:${port}`);
    assert.equal((await ann.get("/count")).text, "visit 1");
    assert.equal((await ann.get("/count")).text, "visit 2");
    assert.equal((await new CookieClient(ann.baseUrl).get("/count")).text, "visit 1");
    assert.equal((await ann.post("/logout")).text, "bye");
    assert.equal((await ann.get("/count")).text, "visit 1");
  });
});
