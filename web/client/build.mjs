// Builds dist/emostream.js (readable) and dist/emostream.min.js from src/
// with esbuild: one ES module each, no runtime dependencies.
// Usage: node build.mjs [outdir]   (default dist; check.sh builds elsewhere and compares)
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const outdir = process.argv[2] || "dist";
const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url)));
const banner = `// EmoStream client ${version} (Apache-2.0). Built by web/client/build.mjs from web/client/src; do not edit.`;
const common = { entryPoints: ["src/index.js"], bundle: true, format: "esm", target: "es2022",
  banner: { js: banner }, legalComments: "none", logLevel: "warning" };

await build({ ...common, outfile: `${outdir}/emostream.js` });
await build({ ...common, minify: true, outfile: `${outdir}/emostream.min.js` });
const min = readFileSync(`${outdir}/emostream.min.js`);
console.log(`${outdir}/emostream.min.js: ${min.length} bytes, ${gzipSync(min, { level: 9 }).length} gzipped`);
