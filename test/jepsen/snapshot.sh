#!/usr/bin/env bash
# Exports a commit (default HEAD) of this repository to a directory, with the tree's node_modules
# linked in, and prints the directory: run the harness against it with JEPSEN_SRC=<dir>, so the
# nodes under test are a fixed version even while the working tree is being edited.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rev="${1:-HEAD}"
dir="${2:-$(mktemp -d /tmp/raftkv-jepsen-src-XXXXXX)}"
git -C "$root" archive "$rev" | tar -x -C "$dir"
ln -sfn "$root/node_modules" "$dir/node_modules"
# Built artefacts are not in git: the native addon and the XDP object (for --offload on).
for b in native/build bpf/build; do
  if [ -d "$root/$b" ]; then ln -sfn "$root/$b" "$dir/$b"; fi
done
echo "$dir"
