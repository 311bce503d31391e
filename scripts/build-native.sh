#!/usr/bin/env bash
# Builds the kernel fast path's two artifacts, each only when its sources are newer:
#   bpf/build/raft_xdp.o                  the XDP program (clang -target bpf)
#   native/build/Release/raftkv_bpf.node  the node-addon-api addon over libbpf (node-gyp)
#
# Usage: scripts/build-native.sh [--if-possible] [--force]   (exit 3: a tool is missing)
#   --if-possible  (npm's install script) a missing toolchain or a failed build prints why and
#                  exits 0: the fast path is optional, the install must not fail because of it.
#   --force        rebuild even when up to date.
# Needs: clang, libbpf-dev (pkg-config libbpf, <bpf/bpf_helpers.h>), linux-libc-dev, g++, make,
# python3 (node-gyp) and Node's headers (/usr/include/node, or node-gyp's download cache).
set -euo pipefail
cd "$(dirname "$0")/.."

soft=0
force=0
for a in "$@"; do
  case "$a" in
    --if-possible) soft=1 ;;
    --force) force=1 ;;
    *) echo "usage: scripts/build-native.sh [--if-possible] [--force]" >&2; exit 2 ;;
  esac
done

# skip: a tool is missing (exit 3, so tests can tell "cannot build here" from "broken").
# fail: the build itself failed (exit 1). With --if-possible both print why and exit 0.
skip() {
  if [ "$soft" = 1 ]; then
    echo "raftkv: kernel fast path not built: $* (the node runs without it)" >&2
    exit 0
  fi
  echo "build-native: $*" >&2
  exit 3
}
fail() {
  if [ "$soft" = 1 ]; then
    echo "raftkv: kernel fast path not built: $* (the node runs without it)" >&2
    exit 0
  fi
  echo "build-native: $*" >&2
  exit 1
}

# Tests build on demand and tap runs two files at once: one build at a time.
# (The lock lives in bpf/build: node-gyp rebuild deletes native/build.)
mkdir -p bpf/build
exec 9>bpf/build/.build.lock
flock 9
log=${TMPDIR:-/tmp}/raftkv-native-build.log

command -v clang >/dev/null 2>&1 || skip "clang not found (apt-get install clang llvm)"
pkg-config --exists libbpf 2>/dev/null || skip "libbpf not found by pkg-config (apt-get install libbpf-dev)"
[ -f /usr/include/linux/bpf.h ] || skip "<linux/bpf.h> not found (apt-get install linux-libc-dev)"

# newer TARGET SOURCES…: true when TARGET is missing or older than any source.
stale() {
  local target=$1
  shift
  [ "$force" = 1 ] && return 0
  [ -f "$target" ] || return 0
  for s in "$@"; do [ "$s" -nt "$target" ] && return 0; done
  return 1
}

# ---- the XDP object ----
bpf_obj=bpf/build/raft_xdp.o
if stale "$bpf_obj" bpf/raft_xdp.c bpf/raft_state.h bpf/raft_wire.h; then
  # <linux/types.h> pulls <asm/types.h>, which Debian keeps under the multiarch directory.
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
  if ! clang -O2 -g -Wall -Werror -target bpf -mcpu=v3 \
      -I bpf $(pkg-config --cflags libbpf) -idirafter "/usr/include/$multiarch" \
      -c bpf/raft_xdp.c -o "$bpf_obj.tmp"; then
    rm -f "$bpf_obj.tmp"
    fail "clang failed to build bpf/raft_xdp.c"
  fi
  mv "$bpf_obj.tmp" "$bpf_obj"
  echo "build-native: built $bpf_obj"
fi

# ---- the addon ----
addon=native/build/Release/raftkv_bpf.node
if stale "$addon" native/raftkv_bpf.cc native/binding.gyp; then
  command -v g++ >/dev/null 2>&1 || skip "g++ not found (apt-get install g++ make)"
  command -v make >/dev/null 2>&1 || skip "make not found (apt-get install make)"
  [ -d node_modules/node-addon-api ] || skip "node-addon-api not installed (npm install)"
  # node-gyp: npm puts its own on PATH for lifecycle scripts; otherwise the one npm bundles.
  gyp=()
  npm_root=$(npm root -g 2>/dev/null || true)
  if command -v node-gyp >/dev/null 2>&1; then
    gyp=(node-gyp)
  elif [ -n "$npm_root" ] && [ -f "$npm_root/npm/node_modules/node-gyp/bin/node-gyp.js" ]; then
    gyp=(node "$npm_root/npm/node_modules/node-gyp/bin/node-gyp.js")
  elif [ -f node_modules/node-gyp/bin/node-gyp.js ]; then
    gyp=(node "$PWD/node_modules/node-gyp/bin/node-gyp.js")
  else
    skip "node-gyp not found (it ships with npm)"
  fi
  # Debian's nodejs ships Node's headers under /usr/include/node: use them (no download).
  nodedir=()
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then nodedir=(--nodedir=/usr); fi
  if ! (cd native && "${gyp[@]}" rebuild "${nodedir[@]}" --loglevel=warn >"$log" 2>&1); then
    tail -n 30 "$log" >&2 || true
    fail "node-gyp failed to build the addon (log: $log)"
  fi
  echo "build-native: built $addon"
fi
