#!/usr/bin/env bash
# Bundles the console into dist/ (embedded by go:embed): npm ci when node_modules is missing or
# older than the lockfile, then esbuild. Called by `make web`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf dist/assets
mkdir -p dist/assets
npx esbuild src/main.js --bundle --minify --sourcemap --target=es2020,chrome100 --loader:.png=file \
  --asset-names='[name]-[hash]' --outdir=dist/assets --entry-names=console --log-level=warning
cp src/index.html dist/index.html
