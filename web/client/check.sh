#!/usr/bin/env bash
# Checks the client: the committed dist/ is exactly what the sources build
# to, the types describe a usable API (tsc --noEmit), the node tests pass,
# and the minified module fits its budget (20 KiB gzipped).
# Usage: web/client/check.sh   (needs node and npm; node_modules stays here, ignored by git)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node build.mjs "$tmp"
for f in emostream.js emostream.min.js; do
  if ! cmp -s "dist/$f" "$tmp/$f"; then
    echo "web/client/dist/$f differs from a fresh build of src/: run 'npm run build' in web/client and commit dist/" >&2
    exit 1
  fi
done
npx tsc -p types/tsconfig.json
node --test test/
size=$(gzip -9c dist/emostream.min.js | wc -c)
echo "dist/emostream.min.js: $(wc -c <dist/emostream.min.js) bytes, $size gzipped (budget 20480)"
[ "$size" -le 20480 ] || { echo "over the 20 KiB budget" >&2; exit 1; }
