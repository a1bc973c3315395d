#!/usr/bin/env bash
# Installs the system packages the local real node runs on (dev/cluster/real-node), when they are missing:
#   containerd, runc, containernetworking-plugins (bridge, host-local, loopback in /usr/lib/cni), umoci,
#   iptables, ipset (and iproute2 for `ip`). Debian packages, installed with apt-get as root.
# Where it cannot install (not root, no apt-get), it names what is missing and exits 1.
# Usage: hack/node-packages.sh [--check]    (--check: only report, never install; exit 1 when something is missing)
set -euo pipefail
CHECK=0
for a in "$@"; do case "$a" in --check) CHECK=1 ;; *) echo "unknown flag $a" >&2; exit 2 ;; esac; done

# "<package> <file that proves it is installed>"
REQUIRED=(
  "containerd /usr/bin/containerd"
  "containerd /usr/bin/ctr"
  "runc /usr/sbin/runc"
  "containernetworking-plugins /usr/lib/cni/bridge"
  "containernetworking-plugins /usr/lib/cni/host-local"
  "containernetworking-plugins /usr/lib/cni/loopback"
  "umoci /usr/bin/umoci"
  "iptables /usr/sbin/iptables"
  "ipset /usr/sbin/ipset"
  "iproute2 /usr/sbin/ip"
)

missing_packages() {
  local entry pkg file seen=" "
  for entry in "${REQUIRED[@]}"; do
    pkg="${entry%% *}"; file="${entry#* }"
    # Found at the Debian path or anywhere on PATH (other distributions install elsewhere).
    if [ -x "$file" ] || { [ "${file#/usr/lib/cni/}" = "$file" ] && command -v "$(basename "$file")" >/dev/null 2>&1; }; then continue; fi
    case "$seen" in *" $pkg "*) ;; *) seen="$seen$pkg "; echo "$pkg" ;; esac
  done
}

mapfile -t MISSING < <(missing_packages)
if [ ${#MISSING[@]} -eq 0 ]; then
  echo "m87: the real node's system packages are installed" >&2
  exit 0
fi
if [ "$CHECK" = 1 ]; then
  echo "m87: missing system packages for the real node: ${MISSING[*]} (install them with: sudo bash hack/node-packages.sh)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "m87: missing system packages for the real node: ${MISSING[*]}; not root, so not installing them (run: sudo bash hack/node-packages.sh)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "m87: missing system packages for the real node: ${MISSING[*]}; no apt-get here, install them with your system's package manager" >&2
  exit 1
fi
echo "m87: installing ${MISSING[*]} (Debian packages)…" >&2
t0=$SECONDS
export DEBIAN_FRONTEND=noninteractive
# The packages' services are never started: the real node runs containerd itself, with its own config.
if ! apt-get install -y --no-install-recommends "${MISSING[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null 2>&1 || true
  apt-get install -y --no-install-recommends "${MISSING[@]}" >/dev/null ||
    { echo "m87: apt-get could not install ${MISSING[*]}" >&2; exit 1; }
fi
mapfile -t STILL < <(missing_packages)
if [ ${#STILL[@]} -gt 0 ]; then
  echo "m87: still missing after installing: ${STILL[*]}" >&2
  exit 1
fi
echo "m87: installed in $((SECONDS - t0))s" >&2
