#!/usr/bin/env bash
# Rebuilds web/static/vendor/nats.js from npm: the official NATS JavaScript
# client (@nats-io/nats-core, pinned in package-lock.json) bundled by esbuild
# into one ES module, so the page works offline with no CDN.
# Usage: web/build/build.sh   (needs node and npm; node_modules stays here, ignored by git)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
out=../static/vendor/nats.js
version=$(node -p 'require("./node_modules/@nats-io/nats-core/package.json").version')
npx esbuild entry.js --bundle --format=esm --target=es2020 --minify \
  --legal-comments=eof \
  --banner:js="// @nats-io/nats-core ${version} (Apache-2.0, https://github.com/nats-io/nats.js), bundled by web/build/build.sh. Do not edit." \
  --outfile="$out"
ls -l "$out"
