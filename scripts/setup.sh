#!/usr/bin/env bash
# Installs what raftkv's build, store and tests need on a Debian machine, then the npm packages.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the C toolchain for the wire-layout check and the BPF programs (clang for the
# XDP object; libbpf-dev, which brings libelf-dev and zlib1g-dev, linux-libc-dev, pkg-config, make,
# g++ and python3 for the node-gyp addon: scripts/build-native.sh, run by npm's install hook),
# iproute2 for network namespaces (and tc), nftables for the fault harness's partitions and
# packet loss on their bridge (test/jepsen/netns.ts), iputils-ping for that harness's own tests,
# redis-tools for the RESP tests and benchmarks, tmux for
# interactive-client tests, chromium for the visualizer's browser test (playwright-core drives
# Debian's /usr/bin/chromium; no browser is downloaded).
APT_PACKAGES=(gcc libc6-dev clang libbpf-dev linux-libc-dev pkg-config make g++ python3 iproute2 nftables iputils-ping redis-tools tmux chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root or install them with apt-get)" >&2
  else
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# npm packages: reinstall when the lock file changed since the last install.
stamp=node_modules/.raftkv-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
