#!/usr/bin/env bash
# End-to-end on a real cluster: kind (>= v0.24, whose default CNI kindnet enforces NetworkPolicy), the m87
# image built from this checkout, the Helm chart, one governed job run by a real kubelet, a NetworkPolicy
# probe, and the e2e test tier against that cluster (M87_KUBECONFIG).
#
# IT CANNOT RUN IN THE DEVELOPMENT ENVIRONMENT OF THIS REPOSITORY: there is no container engine there (no
# Docker, so no image build and no kind). There, `npm test` runs everything against the project's own local
# control plane and process node instead (DESIGN §8). This script is for hosts with Docker and for
# .github/workflows/e2e-kind.yaml.
#
# OUT OF DATE, NOT RUN SINCE THE TOOL CATALOGUE: its smoke proposal names the built-in `run_tests` tool, which
# is gone (steps now name Tool objects, each run in its own tool image), and it loads only the m87 image into
# kind, not the tool images (`npm run image -- --tools` builds them offline). It needs rework on a host with
# Docker; until then the workflow runs only when started by hand. What it was for — the chart's controller
# in-cluster, job Pods in real containers, NetworkPolicy enforced by a real CNI — runs in `npm test`'s e2e-real
# tier on the project's own real node (containerd, kubelet, kube-router; docs/real-node.md).
#
# Needs: docker, kind >= v0.24, kubectl, helm 3, Node 24 (via hack/env.sh). Environment knobs:
#   M87_KIND_CLUSTER   kind cluster name                    (default m87-e2e)
#   M87_IMAGE          image reference to build and load    (default ghcr.io/m87/m87:e2e)
#   M87_KEEP_CLUSTER=1 keep the cluster afterwards (default: delete it)
#   M87_SKIP_E2E=1     stop after the smoke job and the NetworkPolicy probe (skip `npm run test:e2e`)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${M87_KIND_CLUSTER:-m87-e2e}"
IMAGE="${M87_IMAGE:-ghcr.io/m87/m87:e2e}"
RELEASE=m87
SYSTEM_NS=m87-system
JOB_NS=m87-e2e          # agents propose here and job Pods run here (Pod Security restricted, from the chart)
PROBE_NS=m87-e2e-netpol # the NetworkPolicy probe (not a job namespace)
MIN_KIND=0.24.0
WORK="$(mktemp -d)"
export KUBECONFIG="$WORK/kubeconfig"

log() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
die() { echo "e2e-kind: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -s "$KUBECONFIG" ]; then
    echo "e2e-kind: failed; controller logs and m87 objects follow" >&2
    kubectl -n "$SYSTEM_NS" logs deploy/m87-controller --tail=200 >&2 || true
    kubectl get m87 -A -o wide >&2 || true
    kubectl -n "$JOB_NS" get pods,networkpolicies -o wide >&2 || true
  fi
  if [ "${M87_KEEP_CLUSTER:-0}" = 1 ]; then
    echo "e2e-kind: keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG)" >&2
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

for tool in docker kind kubectl helm; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required (see the header of this script)"; done
kind_version="$(kind version | sed -E 's/^kind v([0-9]+\.[0-9]+\.[0-9]+).*/\1/')"
if [ "$(printf '%s\n%s\n' "$MIN_KIND" "$kind_version" | sort -V | head -n1)" != "$MIN_KIND" ]; then
  die "kind $kind_version is older than v$MIN_KIND, whose kindnet is the first to enforce NetworkPolicy"
fi

log "kind cluster $CLUSTER (kind v$kind_version)"
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s

log "image $IMAGE"
docker build -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

repository="${IMAGE%:*}"
tag="${IMAGE##*:}"
[ "$repository" != "$IMAGE" ] || die "M87_IMAGE must carry a tag (repository:tag)"

log "helm install $RELEASE into $SYSTEM_NS"
cat >"$WORK/values.yaml" <<EOF
controller:
  image:
    repository: "$repository"
    tag: "$tag"
    pullPolicy: Never   # loaded into the nodes by kind; never pulled
agentProfiles:
  profiles:
    casey:
      enabled: true
      subjects:
        - system:serviceaccount:$JOB_NS:casey
agents:
  namespaces:
    - namespace: $JOB_NS
      serviceAccounts: [casey]
jobNamespaces:
  - $JOB_NS
EOF
helm install "$RELEASE" "$ROOT/charts/m87" --namespace "$SYSTEM_NS" --create-namespace --values "$WORK/values.yaml" --wait --timeout 5m
kubectl -n "$SYSTEM_NS" rollout status deploy/m87-controller --timeout=120s

log "smoke: an allowed proposal runs as a governed job Pod"
kubectl -n "$JOB_NS" create serviceaccount casey
casey_token="$(kubectl -n "$JOB_NS" create token casey --duration=1h)"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$WORK/ca.crt"
as_casey=(kubectl --kubeconfig=/dev/null --server="$server" --certificate-authority="$WORK/ca.crt" --token="$casey_token")
"${as_casey[@]}" -n "$JOB_NS" apply -f - <<EOF
apiVersion: governance.m87.io/v1alpha1
kind: Proposal
metadata:
  name: e2e-kind-smoke
spec:
  agent: casey
  submittedBy: system:serviceaccount:$JOB_NS:casey
  summary: Run the unit suite in a governed job Pod (kind smoke test)
  intent:
    id: e2e-kind-smoke
    goal: Show that an allowed proposal runs as an isolated, verified job Pod on a real kubelet and CNI.
    mode: fix
  effects:
    - RUN_TESTS
  steps:
    - tool: run_tests
      args:
        suite: unit
  truthAccount:
    observations:
      - The cluster was created by hack/e2e-kind.sh a moment ago.
    claims:
      - text: The unit suite prints the Node version and exits 0.
        confidence: 0.9
  riskScore: 0.1
  reversibility:
    class: REVERSIBLE
    executionMode: commit
    cleanupCost: LOW
    rollbackProof:
      description: The suite writes nothing outside the job's scratch workspace, which is discarded with the Pod.
EOF
# Succeeded needs everything: ALLOW decision, signed Job, NetworkPolicy read back, Pod on a real kubelet, the
# runner's verification (signature, DEH, manifest, isolation — including that the API server is unreachable
# under the job's NetworkPolicy, which only an enforcing CNI makes true) and the controller's receipt check.
kubectl -n "$JOB_NS" wait proposal/e2e-kind-smoke --for=jsonpath='{.status.phase}'=Succeeded --timeout=180s
kubectl -n "$JOB_NS" get decision/e2e-kind-smoke -o jsonpath='{.spec.outcome}{"\n"}'
kubectl -n "$JOB_NS" get job.governance.m87.io/e2e-kind-smoke -o jsonpath='{.status.receipt}{"\n"}'

log "NetworkPolicy probe: deny-all egress blocks the API server; without a policy it is reachable"
kubectl create namespace "$PROBE_NS"
kubectl -n "$PROBE_NS" apply -f - <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all-egress
spec:
  podSelector:
    matchLabels:
      probe: blocked
  policyTypes: [Egress]
EOF
probe_pod() { # <name> <label value>
  kubectl -n "$PROBE_NS" apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels:
    probe: $2
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: probe
      image: $IMAGE
      imagePullPolicy: Never
      command: ["/nodejs/bin/node", "-e"]
      args:
        - |
          const s = require('node:net').connect({ host: process.env.KUBERNETES_SERVICE_HOST, port: Number(process.env.KUBERNETES_SERVICE_PORT), timeout: 5000 });
          s.on('connect', () => { console.log('connected'); process.exit(0); });
          s.on('timeout', () => { console.log('timed out'); process.exit(3); });
          s.on('error', (e) => { console.log(e.code); process.exit(3); });
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
EOF
}
probe_pod reachable open
probe_pod blocked blocked
kubectl -n "$PROBE_NS" wait pod/reachable --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s
kubectl -n "$PROBE_NS" wait pod/blocked --for=jsonpath='{.status.phase}'=Failed --timeout=120s
echo "e2e-kind: egress enforcement confirmed (blocked: $(kubectl -n "$PROBE_NS" logs blocked))" >&2

if [ "${M87_SKIP_E2E:-0}" = 1 ]; then
  log "done (M87_SKIP_E2E=1: e2e tier skipped)"
  exit 0
fi

# The e2e tier starts its own controller and identities, as on the local plane; the chart's controller and
# admission policies (which trust only the chart's ServiceAccount) would stand in its way, so the release goes
# first. The CRDs stay (Helm never deletes crds/).
log "e2e tier against the kind cluster"
helm uninstall "$RELEASE" --namespace "$SYSTEM_NS" --wait --timeout 2m
kubectl delete namespace "$JOB_NS" "$PROBE_NS" --ignore-not-found --wait=true --timeout=120s
M87_KUBECONFIG="$KUBECONFIG" npm --prefix "$ROOT" run test:e2e
log "done"
