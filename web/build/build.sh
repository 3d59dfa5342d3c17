#!/usr/bin/env bash
# Vendors hls.js for the player demo (web/static/player.html): its light
# ES module build (dist/hls.light.min.mjs: HLS over Media Source
# Extensions, no subtitles, alternate audio or DRM), pinned in
# package-lock.json, with a header naming its version and licence, and
# its LICENSE beside it. The page loads it from its own origin: no CDN.
# The file is named .js so that every server sends it as text/javascript.
# Usage: web/build/build.sh   (needs node and npm; node_modules stays here, ignored by git)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
pkg=node_modules/hls.js
version=$(node -p "require('./$pkg/package.json').version")
out=../static/vendor/hls.light.min.js
{
  echo "// hls.js ${version} (Apache-2.0, https://github.com/video-dev/hls.js): dist/hls.light.min.mjs, vendored by web/build/build.sh. Do not edit."
  grep -v '^//# sourceMappingURL=' "$pkg/dist/hls.light.min.mjs"
} >"$out"
cp "$pkg/LICENSE" ../static/vendor/hls.js.LICENSE
ls -l "$out" ../static/vendor/hls.js.LICENSE
