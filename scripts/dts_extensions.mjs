// After `tsc -p tsconfig.build.json`: the sources import each other as
// "./x.ts" (as Deno wants) and tsc rewrites that to "./x.js" in the emitted
// JavaScript but not in the emitted .d.ts files, which would then name files
// the package does not ship. Rewrite the relative ".ts" specifiers of every
// dist/**/*.d.ts to ".js", which tsc and Deno both resolve to the .d.ts beside it.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../dist/", import.meta.url).pathname;
const specifier =
  /(\bfrom\s*|\bimport\s*\(?\s*|\bdeclare module\s*)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g;

let files = 0;
for (const name of readdirSync(root, { recursive: true })) {
  const path = join(root, String(name));
  if (!path.endsWith(".d.ts")) continue;
  const text = readFileSync(path, "utf8");
  const fixed = text.replace(
    specifier,
    (_, lead, quote, base) => `${lead}${quote}${base}.js${quote}`,
  );
  if (fixed !== text) {
    writeFileSync(path, fixed);
    files++;
  }
}
console.log(`dts_extensions: rewrote .ts imports in ${files} declaration files`);
