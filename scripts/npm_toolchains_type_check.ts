/**
 * `tsc --strict` of what an npm user writes, in scratch projects outside this
 * repository, over the toolchains they install: TypeScript 5, 6 and 7,
 * `@types/node` 20, 22, 24 and the latest, and none (TypeScript's own DOM
 * lib), and npm Oak 12, 13 and 14. Each project gets the package as
 * `npm pack` builds it (the current dist/: npm test builds first) and checks
 * two programs: the README's seed example, as the README has it, and the
 * original library's `makeStore` pattern (`Promise<Store | CookieStore>`
 * returning whichever store, `app.use(session.initMiddleware())`, an import
 * of `MongoStore`). Declaration files are checked too (no skipLibCheck).
 *
 * The set covers each version of each axis at least once and the newest of
 * each together, not every combination; `TOOLCHAINS=all` runs them all. Two
 * rows cannot work, for reasons in Oak's own declaration files, and name the
 * error tsc must give (docs/api.md says why), so the check fails if that ever
 * changes: Oak 12's declarations import files without extensions (TS2834
 * under `moduleResolution: nodenext`) that it does not ship (TS2307 under
 * `bundler`), and Oak's declarations reference `@types/node`: Oak 12, and
 * any Oak without `@types/node`, check only with `skipLibCheck`.
 *
 * Projects are installed from the npm registry under the system's temp
 * directory and reused by later runs while the versions match (the range of
 * each axis is resolved against the registry on every run); a fresh machine
 * installs them all (a few minutes). Only the package itself is replaced on
 * each run.
 *
 * A script stage of npm test rather than a test file: it needs the registry,
 * runs once (not once per runtime, as test/ does under Node and Deno), and
 * prints one line per toolchain.
 *
 * Run: `node --import tsx scripts/npm_toolchains_type_check.ts`.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeStore } from "./make_store_program.ts";

const exec = promisify(execFile);
const repo = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const cache = join(tmpdir(), "oak-sessions-npm-toolchains");

/** One toolchain: npm version ranges, `null` for no `@types/node` at all. */
interface Toolchain {
  typescript: string;
  typesNode: string | null;
  oak: string;
  /**
   * tsconfig's `skipLibCheck`: Oak's own declarations need it without
   * `@types/node`, and Oak 12's always (they import files it does not ship).
   */
  skipLibCheck: boolean;
  /** Whether tsc must pass; else the error it must report (docs/api.md says why). */
  expect: "pass" | { fails: string };
}

const TYPESCRIPTS = ["^5", "^6", "^7"];
const TYPES_NODE = ["^20", "^22", "^24", "latest", null];
const OAKS = ["^12", "^13", "^14"];

/** Whether a toolchain needs `skipLibCheck` for Oak's own declarations. */
function skipsLibCheck(typesNode: string | null, oak: string): boolean {
  return typesNode === null || oak === "^12";
}

const row = (typescript: string, typesNode: string | null, oak: string): Toolchain => ({
  typescript,
  typesNode,
  oak,
  skipLibCheck: skipsLibCheck(typesNode, oak),
  expect: "pass",
});

/** Each version of each axis at least once, and the newest of each together (first). */
const covering: Toolchain[] = [
  row("^7", "latest", "^14"),
  row("^7", null, "^13"),
  row("^7", "^24", "^12"),
  row("^6", "^22", "^14"),
  row("^5", "^20", "^12"),
  row("^5", "latest", "^13"),
  // What cannot work, with the error docs/api.md quotes for each.
  {
    ...row("^7", "latest", "^12"),
    skipLibCheck: false,
    expect: { fails: "oak/esm/application.d.ts(5,65): error TS2834" },
  },
  {
    ...row("^7", null, "^14"),
    skipLibCheck: false,
    expect: { fails: "error TS2688: Cannot find type definition file for 'node'" },
  },
];

function everyToolchain(): Toolchain[] {
  const all: Toolchain[] = [];
  for (const typescript of TYPESCRIPTS) {
    for (const typesNode of TYPES_NODE) {
      for (const oak of OAKS) {
        const known = covering.find((t) =>
          t.typescript === typescript && t.typesNode === typesNode && t.oak === oak
        );
        all.push(known ?? row(typescript, typesNode, oak));
      }
    }
  }
  return all;
}

/** The README's seed example: its first `ts` block that calls `deleteSession(ctx)`. */
function readmeSeed(): string {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  for (const [, block] of readme.matchAll(/```ts\n([\s\S]*?)```/g)) {
    if (block.includes("session.initMiddleware()") && block.includes("deleteSession(ctx)")) {
      return block;
    }
  }
  throw new Error("README.md has no ts block with session.initMiddleware() and deleteSession(ctx)");
}

/** The highest version of `name` in npm range `range` (or dist-tag). */
async function resolve(name: string, range: string): Promise<string> {
  const { stdout } = await exec(npm, ["view", `${name}@${range}`, "version", "--json"]);
  const found = JSON.parse(stdout) as string | string[];
  const versions = Array.isArray(found) ? found : [found];
  const key = (v: string) => v.split(/[.-]/).slice(0, 3).map(Number);
  versions.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  const newest = versions.at(-1);
  if (newest === undefined) throw new Error(`no version of ${name} matches ${range}`);
  return newest;
}

interface Resolved {
  typescript: string;
  "@types/node"?: string;
  "@oakserver/oak": string;
}

/** A project with these exact versions installed, reused when it already is. */
async function project(versions: Resolved): Promise<string> {
  const name = Object.entries(versions).map(([k, v]) => `${k.replace("/", "+")}@${v}`).join("_");
  const dir = join(cache, name);
  const done = join(dir, "installed.json");
  if (existsSync(done) && readFileSync(done, "utf8") === JSON.stringify(versions)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module", dependencies: versions }),
  );
  await exec(npm, [
    "install",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    "--no-package-lock",
    "--loglevel=error",
  ], { cwd: dir });
  writeFileSync(done, JSON.stringify(versions));
  return dir;
}

/** The package, as `npm pack` makes it, unpacked into the project's node_modules. */
async function install(tarball: string, dir: string): Promise<void> {
  const target = join(dir, "node_modules", "oak-sessions");
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  await exec("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
}

function tsconfig(t: Toolchain): string {
  const compilerOptions = {
    target: "ES2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    skipLibCheck: t.skipLibCheck,
    noEmit: true,
    types: t.typesNode === null ? [] : ["node"],
  };
  return JSON.stringify({ compilerOptions, include: ["seed.ts", "make_store.ts"] }, null, 2);
}

function describe(t: Toolchain, v: Resolved): string {
  const node = v["@types/node"] ? `@types/node ${v["@types/node"]}` : "no @types/node";
  const options = t.skipLibCheck ? ", skipLibCheck" : "";
  return `TypeScript ${v.typescript}, ${node}, Oak ${v["@oakserver/oak"]}${options}`;
}

async function check(
  t: Toolchain,
  tarball: string,
  seed: string,
): Promise<[string, string | null]> {
  const [typescript, typesNode, oak] = await Promise.all([
    resolve("typescript", t.typescript),
    t.typesNode === null ? undefined : resolve("@types/node", t.typesNode),
    resolve("@oakserver/oak", t.oak),
  ]);
  const versions: Resolved = { typescript, "@oakserver/oak": oak };
  if (typesNode !== undefined) versions["@types/node"] = typesNode;
  const title = describe(t, versions);
  const dir = await project(versions);
  await install(tarball, dir);
  writeFileSync(join(dir, "seed.ts"), seed);
  writeFileSync(join(dir, "make_store.ts"), makeStore);
  writeFileSync(join(dir, "tsconfig.json"), tsconfig(t));
  const tsc = join(dir, "node_modules", ".bin", "tsc");
  let output = "";
  let passed = true;
  try {
    await exec(tsc, ["-p", "tsconfig.json"], { cwd: dir });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    passed = false;
    output = `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message;
  }
  if (t.expect === "pass") {
    return [title, passed ? null : `tsc --strict failed in ${dir}:\n${output}`];
  }
  if (passed) return [title, `tsc passed in ${dir}, but this toolchain must fail`];
  return [
    title,
    output.includes(t.expect.fails)
      ? null
      : `tsc failed in ${dir} without "${t.expect.fails}":\n${output}`,
  ];
}

const toolchains = process.env.TOOLCHAINS === "all" ? everyToolchain() : covering;
for (
  const [axis, values] of [
    ["typescript", TYPESCRIPTS],
    ["typesNode", TYPES_NODE],
    ["oak", OAKS],
  ] as const
) {
  for (const value of values) {
    if (!toolchains.some((t) => t[axis] === value)) {
      throw new Error(`no toolchain covers ${axis} ${value}`);
    }
  }
}

if (!existsSync(join(repo, "dist", "oakserver.d.ts"))) {
  throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
}
const packDir = mkdtempSync(join(tmpdir(), "oak-sessions-pack-"));
let failed = 0;
try {
  // --ignore-scripts: pack the dist/ npm test just built instead of building again.
  const packed = await exec(npm, [
    "pack",
    "--ignore-scripts",
    "--json",
    "--pack-destination",
    packDir,
  ], { cwd: repo });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  const tarball = join(packDir, filename);
  const seed = readmeSeed();

  // Two at a time: installs wait on the network, checks on the CPU.
  const queue = [...toolchains];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const started = performance.now();
      const [title, problem] = await check(t, tarball, seed);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const expected = t.expect === "pass" ? "" : " (fails as docs/api.md says)";
      console.log(`${problem === null ? "ok  " : "FAIL"} ${title}${expected} (${seconds} s)`);
      if (problem !== null) {
        failed++;
        console.log(problem);
      }
    }
  };
  await Promise.all([worker(), worker()]);
} finally {
  rmSync(packDir, { recursive: true, force: true });
}
if (failed > 0) {
  console.log(`${failed} of ${toolchains.length} toolchains failed`);
  process.exit(1);
}
