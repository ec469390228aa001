/**
 * The public surface is reviewed: every name the package's entries export
 * (mod.ts, oakserver.ts, testing.ts; values and types) is listed in
 * test/public_exports.txt, and nothing else is. Adding or removing an export
 * fails here, naming it, until the list is updated in the same change, so a
 * new export is a decision someone made, never an accident.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ENTRIES = ["mod.ts", "oakserver.ts", "testing.ts"] as const;
const LIST = "test/public_exports.txt";
const root = new URL("../", import.meta.url);

/** What `entry` exports at run time (its values). */
async function valueNames(entry: string): Promise<Set<string>> {
  const module = await import(new URL(entry, root).href);
  return new Set(Object.keys(module));
}

/** Every name each entry exports, values and types, as the type checker sees them. */
function allNames(): Map<string, string[]> {
  const files = ENTRIES.map((entry) => fileURLToPath(new URL(entry, root)));
  const program = ts.createProgram(files, {
    noEmit: true,
    allowImportingTsExtensions: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    types: [],
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const names = new Map<string, string[]>();
  ENTRIES.forEach((entry, i) => {
    const source = program.getSourceFile(files[i]);
    assert.ok(source, `${entry} was not found`);
    const symbol = checker.getSymbolAtLocation(source);
    assert.ok(symbol, `${entry} is not a module`);
    names.set(entry, checker.getExportsOfModule(symbol).map((s) => s.getName()));
  });
  return names;
}

/** The lines the list must hold: `<entry> <name>`, `(type)` after a type-only export. */
async function exportLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const [entry, names] of allNames()) {
    const values = await valueNames(entry);
    for (const name of names) lines.push(`${entry} ${name}${values.has(name) ? "" : " (type)"}`);
    for (const name of values) {
      assert.ok(names.includes(name), `${entry} exports ${name} at run time only`);
    }
  }
  return lines.sort();
}

describe("the public exports are reviewed", () => {
  it(`every export of ${ENTRIES.join(", ")} is in ${LIST}, and nothing else`, async () => {
    const listed = readFileSync(new URL(LIST, root), "utf8").split("\n").filter((l) => l !== "");
    const actual = await exportLines();
    const added = actual.filter((l) => !listed.includes(l));
    const removed = listed.filter((l) => !actual.includes(l));
    const problems: string[] = [];
    if (added.length > 0) problems.push(`exported but not in the list:\n  ${added.join("\n  ")}`);
    if (removed.length > 0) {
      problems.push(`in the list but not exported:\n  ${removed.join("\n  ")}`);
    }
    assert.ok(
      problems.length === 0,
      `${
        problems.join("\n")
      }\nReview the change; if it is meant, update ${LIST} in the same commit.`,
    );
    assert.deepEqual(listed, [...listed].sort(), `${LIST} is sorted`);
  });
});
