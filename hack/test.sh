#!/usr/bin/env bash
# npm test: typecheck, lint, then every test tier. Runs inside hack/env.sh (Node 24 + npm deps on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "typecheck"; tsc --noEmit -p tsconfig.json
step "lint"; eslint .
step "cluster binaries and tools"; bash hack/cluster-binaries.sh
step "unit tests"; vitest run --project unit
step "integration tests"; vitest run --project integration
step "e2e tests"; vitest run --project e2e
step "chaos tests (short form)"; M87_CHAOS=short vitest run --project chaos
step "e2e tests on the real node (containerd, kubelet, kube-router)"; vitest run --project e2e-real
