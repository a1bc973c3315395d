#!/usr/bin/env bash
# Provides the binaries of the local control plane and the chart tools, cached per version outside the repo:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (built from Go modules through
#   the committed wrapper modules in hack/tools/{etcd,k8s,netpol}), helm, netpolicy (np-guard netpol-analyzer),
#   promtool and prometheus (extracted from Debian's prometheus package; the e2e-real tier's Prometheus server,
#   whose service is thus never installed or started);
# and the real node's own pieces (dev/cluster/real-node): kubelet (same wrapper module and flags as the
#   control plane), kube-router (NetworkPolicy engine, go install from the module proxy), and the node's
#   images built locally from hack/tools/node-images (pause = containerd's sandbox image, netcheck = the
#   real-node tests' program), each a static Go binary packed as an OCI image with umoci.
# The system packages the real node runs on (containerd, runc, CNI plugins, umoci, iptables, ipset) are
# hack/node-packages.sh's business.
# KUBEBUILDER_ASSETS, when set, supplies etcd/kube-apiserver/kubectl (and any other binary found there).
# Usage: hack/cluster-binaries.sh [--quiet-if-cached] [--print-dir]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/hack/versions.env"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/m87"
QUIET=0; PRINT_DIR=0
for a in "$@"; do case "$a" in --quiet-if-cached) QUIET=1 ;; --print-dir) PRINT_DIR=1 ;; *) echo "unknown flag $a" >&2; exit 2 ;; esac; done

K8S_BIN="$CACHE/k8s-$K8S_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"
HELM_BIN="$CACHE/helm-$HELM_VERSION/bin"
NETPOL_BIN="$CACHE/netpol-analyzer-$NETPOL_ANALYZER_VERSION/bin"
PROMTOOL_BIN="$CACHE/promtool/bin"
KUBE_ROUTER_BIN="$CACHE/kube-router-$KUBE_ROUTER_VERSION/bin"
NODE_IMAGES_SRC="$ROOT/hack/tools/node-images"

log() { [ "$QUIET" = 1 ] && [ "${FORCE_LOG:-0}" = 0 ] && return 0; echo "m87: $*" >&2; }
have_asset() { [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; }

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<MSG
m87: cannot provide '$1': no Go toolchain found and it is not in KUBEBUILDER_ASSETS.
     Either install Go >= 1.26 (https://go.dev/dl) so the binaries can be built once and cached in $CACHE,
     or set KUBEBUILDER_ASSETS to a directory holding etcd, kube-apiserver, kube-controller-manager,
     kube-scheduler and kubectl for Kubernetes $K8S_VERSION.
MSG
    exit 1
  fi
}

# timed <label> <command...>: prints progress and the time the step took.
timed() {
  local label="$1"; shift
  FORCE_LOG=1 log "$label (first run only)…"
  local t0=$SECONDS
  if ! "$@"; then echo "m87: FAILED: $label" >&2; exit 1; fi
  FORCE_LOG=1 log "  done in $((SECONDS - t0))s"
}

go_env() { export CGO_ENABLED=0 GOFLAGS=-mod=mod; unset GOTOOLCHAIN_FORCE; }

build_k8s() { # <command>
  local cmd="$1" minor ldf tmp
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  ldf="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$K8S_BIN"; tmp="$K8S_BIN/.$cmd.tmp.$$"
  (cd "$ROOT/hack/tools/k8s" && go_env && go build -trimpath -ldflags "$ldf" -o "$tmp" "k8s.io/kubernetes/cmd/$cmd") \
    && mv -f "$tmp" "$K8S_BIN/$cmd"
}

build_etcd() {
  local tmp; mkdir -p "$ETCD_BIN"; tmp="$ETCD_BIN/.etcd.tmp.$$"
  (cd "$ROOT/hack/tools/etcd" && go_env && go build -trimpath -ldflags "-s -w" -o "$tmp" go.etcd.io/etcd/server/v3) \
    && mv -f "$tmp" "$ETCD_BIN/etcd"
}

go_install() { # <bin dir> <name> <package@version>
  local dir="$1" name="$2" pkg="$3" tmp rc=0
  tmp="$(mktemp -d)"
  (export GOBIN="$tmp"; go_env; go install -trimpath -ldflags "-s -w" "$pkg") && mkdir -p "$dir" && mv -f "$tmp/$name" "$dir/$name" || rc=$?
  rm -rf "$tmp"
  return "$rc" # a failed build must fail the step, not be masked by the cleanup's status
}

# The checksum database does not know np-guard's modules, so the committed go.sum of the wrapper module
# is what pins their content (GONOSUMDB only skips the lookup; go.sum is still enforced).
build_netpol() {
  local tmp; mkdir -p "$NETPOL_BIN"; tmp="$NETPOL_BIN/.netpolicy.tmp.$$"
  (cd "$ROOT/hack/tools/netpol" && go_env && export GONOSUMDB=github.com/np-guard GOFLAGS=-mod=readonly &&
    go build -trimpath -ldflags "-s -w" -o "$tmp" github.com/np-guard/netpol-analyzer/cmd/netpolicy) \
    && mv -f "$tmp" "$NETPOL_BIN/netpolicy"
}

fetch_promtool() {
  local tmp rc=0; tmp="$(mktemp -d)"
  (
    cd "$tmp"
    if ! apt-get download "$PROMTOOL_DEB" >/dev/null 2>&1; then
      apt-get update >/dev/null 2>&1 || true
      apt-get download "$PROMTOOL_DEB" >/dev/null
    fi
    dpkg-deb -x ./*.deb x
  ) && mkdir -p "$PROMTOOL_BIN" && mv -f "$tmp/x/usr/bin/promtool" "$PROMTOOL_BIN/promtool" \
    && mv -f "$tmp/x/usr/bin/prometheus" "$PROMTOOL_BIN/prometheus" || rc=$?
  rm -rf "$tmp"
  return "$rc"
}

# The node images are cached per content of their sources (dev/cluster/real-node/images.ts computes the
# same hash): "<path>\n<content>" of every file, in byte order of the paths.
node_images_hash() {
  (cd "$NODE_IMAGES_SRC" && find . -type f \( -name '*.go' -o -name go.mod \) | LC_ALL=C sort |
    while IFS= read -r f; do printf '%s\n' "$f"; cat "$f"; done) | sha256sum | cut -c1-16
}

# build_node_images <dir> <tag>: static binaries in <dir>/bin, one OCI layout per program packed into
# <dir>/<name>.oci.tar (what `ctr images import` reads), entrypoint /<name>, non-root user.
build_node_images() {
  local dir="$1" tag="$2" tmp rc=0 rootless=()
  [ "$(id -u)" = 0 ] || rootless=(--rootless)
  tmp="$(mktemp -d)"
  (
    set -e
    cd "$NODE_IMAGES_SRC" && go_env
    for name in pause netcheck; do go build -trimpath -ldflags "-s -w" -o "$tmp/bin/$name" "./$name"; done
    for name in pause netcheck; do
      local layout="$tmp/$name-layout" bundle="$tmp/$name-bundle"
      umoci init --layout "$layout"
      umoci new --image "$layout:$tag"
      umoci unpack "${rootless[@]}" --image "$layout:$tag" "$bundle"
      install -m 0755 "$tmp/bin/$name" "$bundle/rootfs/$name"
      umoci repack --image "$layout:$tag" "$bundle"
      umoci config --image "$layout:$tag" --config.entrypoint "/$name" --config.user 65532:65532 \
        --config.workingdir / --config.env PATH=/
      umoci gc --layout "$layout"
      tar -C "$layout" -cf "$tmp/$name.oci.tar" .
    done
  ) || rc=$?
  if [ "$rc" = 0 ]; then
    mkdir -p "$dir/bin" && mv -f "$tmp/bin/pause" "$tmp/bin/netcheck" "$dir/bin/" &&
      mv -f "$tmp/pause.oci.tar" "$tmp/netcheck.oci.tar" "$dir/" || rc=$?
  fi
  rm -rf "$tmp"
  return "$rc"
}

provide() { # <name> <target path> <builder...>
  local name="$1" target="$2"; shift 2
  if have_asset "$name"; then log "$name: using KUBEBUILDER_ASSETS"; return 0; fi
  if [ -x "$target" ]; then log "$name: cached at $target"; return 0; fi
  [ "$name" = promtool ] || [ "$name" = prometheus ] || need_go "$name"
  timed "$1" "${@:2}" || exit 1
}

# System tools the process node uses to isolate job Pods: ip (network namespaces, veth), nft (NetworkPolicy
# egress rules inside the Pod's namespace), setpriv/nsenter (drop to the Pod's uid, enter its namespace).
ensure_system_tools() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  { command -v setpriv >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1; } || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "m87: missing system packages: ${missing[*]} (install them; the process node needs them)" >&2
    return 0
  fi
  FORCE_LOG=1 log "installing system packages: ${missing[*]} (first run only)…"
  { apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }; } ||
    { echo "m87: could not install ${missing[*]}" >&2; exit 1; }
}

T0=$SECONDS
# One provisioning at a time per cache: a second `npm test`/`npm run demo`/bench started meanwhile waits and
# then finds everything cached, instead of building the same binaries again on the same cores.
mkdir -p "$CACHE"
exec 9>"$CACHE/.cluster-binaries.lock"
if ! flock -n 9; then
  FORCE_LOG=1 log "another hack/cluster-binaries.sh is provisioning $CACHE; waiting for it…"
  flock 9
fi
ensure_system_tools
# The real node's packages (containerd, runc, CNI plugins, umoci, iptables, ipset): installed when missing and
# root, else named; the control plane does not need them, so their absence does not fail this script.
bash "$ROOT/hack/node-packages.sh" --check >/dev/null 2>&1 || bash "$ROOT/hack/node-packages.sh" || true
provide etcd "$ETCD_BIN/etcd" "building etcd $ETCD_VERSION" build_etcd
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  provide "$c" "$K8S_BIN/$c" "building $c $K8S_VERSION" build_k8s "$c"
done
provide helm "$HELM_BIN/helm" "building helm $HELM_VERSION" go_install "$HELM_BIN" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
provide netpolicy "$NETPOL_BIN/netpolicy" "building netpol-analyzer $NETPOL_ANALYZER_VERSION" build_netpol
provide promtool "$PROMTOOL_BIN/promtool" "extracting promtool from Debian's $PROMTOOL_DEB package" fetch_promtool
provide prometheus "$PROMTOOL_BIN/prometheus" "extracting prometheus from Debian's $PROMTOOL_DEB package" fetch_promtool
# The real node's pieces.
provide kubelet "$K8S_BIN/kubelet" "building kubelet $K8S_VERSION" build_k8s kubelet
provide kube-router "$KUBE_ROUTER_BIN/kube-router" "building kube-router $KUBE_ROUTER_VERSION" go_install "$KUBE_ROUTER_BIN" kube-router \
  "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
NODE_IMAGES_TAG="$(node_images_hash)"
NODE_IMAGES_DIR="$CACHE/node-images-$NODE_IMAGES_TAG"
if [ -f "$NODE_IMAGES_DIR/pause.oci.tar" ] && [ -f "$NODE_IMAGES_DIR/netcheck.oci.tar" ]; then
  log "node images: cached at $NODE_IMAGES_DIR"
elif ! command -v umoci >/dev/null 2>&1; then
  echo "m87: not building the real node's images (pause, netcheck): umoci is missing; run hack/node-packages.sh (as root) and then this script again" >&2
else
  need_go "node images"
  timed "building the real node's images (pause, netcheck) $NODE_IMAGES_TAG" build_node_images "$NODE_IMAGES_DIR" "$NODE_IMAGES_TAG"
fi
log "all binaries ready ($((SECONDS - T0))s)"
if [ "$PRINT_DIR" = 1 ]; then echo "$CACHE"; fi
