#!/usr/bin/env bash
# The README's quick start: `scripts/quickstart.sh test` runs the test suite,
# `scripts/quickstart.sh start` runs a local cluster. Both set up what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
shift || true
case "$cmd" in
  test)
    scripts/setup.sh
    exec npm test --silent -- "$@"
    ;;
  start)
    scripts/setup.sh
    exec npm start --silent -- "$@"
    ;;
  *)
    echo "usage: scripts/quickstart.sh test|start [args…]" >&2
    exit 2
    ;;
esac
