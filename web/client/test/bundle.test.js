// The built module: it loads, exports what emostream.d.ts declares, and
// holds no eval.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const dts = readFileSync(new URL("../emostream.d.ts", import.meta.url), "utf8");
const declared = [...dts.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort();

for (const file of ["emostream.js", "emostream.min.js"]) {
  test(`dist/${file} exports what the types declare, and nothing evaluates code`, async () => {
    const mod = await import(`../dist/${file}`);
    assert.deepEqual(Object.keys(mod).sort(), declared);
    const src = readFileSync(new URL(`../dist/${file}`, import.meta.url), "utf8");
    assert.doesNotMatch(src, /\beval\(|new Function\(|\bimport\(/);
    assert.doesNotMatch(src, /https?:\/\//, "loads nothing from another host");
  });
}
