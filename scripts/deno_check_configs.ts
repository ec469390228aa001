/**
 * `deno check` of the seed's example as Deno users write it, each in a
 * project folder of its own outside this repository: Oak imported inline with
 * `npm:` and no deno.json; Oak under an import-map name of the user's choice;
 * Oak under JSR's name `@oak/oak`; Oak as `@oakserver/oak` with the package's
 * `oakserver.ts` entry (the example unchanged); and npm Oak 12 and 13 (inline,
 * and under an import-map name, from Deno's own npm cache), so each npm Oak
 * the package supports is checked once; and the original library's
 * `makeStore` pattern (every store is a `Store`, `MongoStore` imports). Each program also proves that
 * `ctx.session` and `ctx.state.session` are `Session<T>` (not `any`) in a
 * router handler, and one control proves that without the declaration line
 * `ctx.session` is an error, so the checks could fail.
 *
 * Oak 17 exists only on JSR, which this test cannot reach: the `@oak/oak`
 * project maps that name to npm Oak 14, which has the same `Context` and
 * `Router` types; what it proves is that the declaration follows the name.
 *
 * Run: `node --import tsx scripts/deno_check_configs.ts`. Needs no network,
 * except the first run of the no-deno.json project, which fetches npm Oak into
 * Deno's cache (trusting the system's certificates; DENO_CERT also works).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";
import { makeStore } from "./make_store_program.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const deno = join(repo, "node_modules", ".bin", "deno");
const seed = readFileSync(join(repo, "examples", "seed.ts"), "utf8");

/** A route that fails to check if either name of the session is `any` or untyped. */
const typedRoute = `
type Visits = { pageCount: number };
const typed = new Session<Visits>();
router.get("/typed", typed.initMiddleware(), (ctx) => {
  const a: number | undefined = ctx.session.get("pageCount");
  const b: number | undefined = ctx.state.session.get("pageCount");
  // @ts-expect-error not a key of Visits
  ctx.session.get("nope");
  // @ts-expect-error not a key of Visits
  ctx.state.session.get("nope");
  // @ts-expect-error a string is not a number
  ctx.session.set("pageCount", "x");
  ctx.response.body = String((a ?? 0) + (b ?? 0));
});
`;

/** The line a user adds, naming Oak as their own imports do. */
const declaration = (oak: string) =>
  `declare module "${oak}" { interface Context<S, AS> extends SessionContext<S> {} }\n`;

interface Project {
  name: string;
  /** deno.json's "imports", or null for no deno.json at all. */
  imports: ((lib: string) => Record<string, string>) | null;
  /** The program, given the library's path relative to the project. */
  program: (lib: string) => string;
  /** Whether deno check must pass; a control names the error it must give. */
  expect: "pass" | { fails: string };
  /** npm Oak from Deno's own cache (fetched once) instead of this checkout's node_modules. */
  fetchesOak?: boolean;
}

function seedWith(oak: string, sessions: string, line: string): string {
  const imports = `import { Application, Router } from "${oak}";\n` +
    `import { Session, type SessionContext } from "${sessions}";\n` + line;
  const body = seed.replace(/^import[^\n]*\n/gm, "").replace(/await app\.listen\([^\n]*\n/, "");
  return imports + body + typedRoute + "\nawait app.listen({ port: 8000 });\n";
}

const projects: Project[] = [
  {
    name: "npm: inline, no deno.json",
    imports: null,
    program: (lib) =>
      seedWith("npm:@oakserver/oak@14", `${lib}/mod.ts`, declaration("npm:@oakserver/oak@14")),
    expect: "pass",
  },
  {
    name: 'import map, Oak named "oak"',
    imports: (lib) => ({ "oak": "npm:@oakserver/oak@14", "oak-sessions": `${lib}/mod.ts` }),
    program: () => seedWith("oak", "oak-sessions", declaration("oak")),
    expect: "pass",
  },
  {
    name: 'import map, Oak named "@oak/oak" (JSR\'s name; npm Oak 14 stands in for jsr:@oak/oak)',
    imports: (lib) => ({
      "@oak/oak": "npm:@oakserver/oak@^14.1.0",
      "oak-sessions": `${lib}/mod.ts`,
    }),
    program: () => seedWith("@oak/oak", "oak-sessions", declaration("@oak/oak")),
    expect: "pass",
  },
  {
    name: 'import map, "@oakserver/oak" and the oakserver.ts entry: examples/seed.ts unchanged',
    imports: (lib) => ({
      "@oakserver/oak": "npm:@oakserver/oak@^14.1.0",
      "oak-sessions": `${lib}/oakserver.ts`,
    }),
    program: () => seed + typedRoute,
    expect: "pass",
  },
  {
    name: "the original's makeStore pattern (Store, MongoStore), oakserver.ts entry",
    imports: (lib) => ({
      "@oakserver/oak": "npm:@oakserver/oak@^14.1.0",
      "oak-sessions": `${lib}/oakserver.ts`,
    }),
    program: () => makeStore,
    expect: "pass",
  },
  {
    name: "npm: inline, no deno.json, Oak 12",
    imports: null,
    program: (lib) =>
      seedWith("npm:@oakserver/oak@12", `${lib}/mod.ts`, declaration("npm:@oakserver/oak@12")),
    expect: "pass",
  },
  {
    name: 'import map, Oak 13 named "oak"',
    imports: (lib) => ({ "oak": "npm:@oakserver/oak@13", "oak-sessions": `${lib}/mod.ts` }),
    program: () => seedWith("oak", "oak-sessions", declaration("oak")),
    expect: "pass",
    fetchesOak: true,
  },
  {
    name: "control: mod.ts without the declaration line",
    imports: (lib) => ({ "oak": "npm:@oakserver/oak@14", "oak-sessions": `${lib}/mod.ts` }),
    program: () => seedWith("oak", "oak-sessions", ""),
    expect: { fails: "Property 'session' does not exist" },
  },
];

function run(cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(deno, ["check", "--quiet", "src/main.ts"], {
      cwd,
      // The system's certificates, for the one fetch from npm (as Node trusts them).
      env: { DENO_TLS_CA_STORE: "system", ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", fail);
    child.on("close", (status) => done({ status, output }));
  });
}

async function check(project: Project): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-deno-check-"));
  try {
    const lib = relative(dir, repo).split("\\").join("/");
    if (project.imports !== null && project.fetchesOak) {
      writeFileSync(join(dir, "deno.json"), JSON.stringify({ imports: project.imports(lib) }));
    } else if (project.imports !== null) {
      // npm Oak from this checkout's node_modules: no network.
      symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
      const config = { nodeModulesDir: "manual", imports: project.imports(lib) };
      writeFileSync(join(dir, "deno.json"), JSON.stringify(config, null, 2));
    }
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src", "main.ts"), project.program(`../${lib}`));
    const result = await run(dir);
    const output = result.output;
    if (project.expect === "pass") {
      return result.status === 0 ? null : `deno check failed:\n${output}`;
    }
    if (result.status === 0) return "deno check passed, but this control must fail";
    return output.includes(project.expect.fails)
      ? null
      : `deno check failed without "${project.expect.fails}":\n${output}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Three at a time: each check is mostly the library's own type check.
let failed = 0;
const queue = [...projects];
async function worker(): Promise<void> {
  for (let project = queue.shift(); project; project = queue.shift()) {
    const started = performance.now();
    const problem = await check(project);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${problem === null ? "ok  " : "FAIL"} ${project.name} (${seconds} s)`);
    if (problem !== null) {
      failed++;
      console.log(problem);
    }
  }
}
await Promise.all([worker(), worker(), worker()]);
if (failed > 0) {
  console.log(`${failed} of ${projects.length} Deno projects failed`);
  process.exit(1);
}
