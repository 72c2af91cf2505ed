#!/usr/bin/env bash
# Side-by-side benchmark (not a test): steadfast against Debian's dnsdist and unbound, in the
# same run of ../shared/bench/run-peers.sh on the same machine, server pinned to its own core.
# Needs root (upstreams on 127.0.0.11/.12:53). Takes ~7 minutes with failover scenarios;
# pass extra run-peers.sh options through, e.g. --no-failover or --quick.
#   sudo bench/run.sh [--peers "dnsdist unbound"] [run-peers.sh options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${STEADFAST_SHARED:-$root/../shared}
[ -x "$shared/bench/run-peers.sh" ] || { echo "bench/run.sh: $shared/bench/run-peers.sh not found" >&2; exit 2; }
peers="dnsdist unbound"
if [ "${1:-}" = "--peers" ]; then peers=$2; shift 2; fi
"$root/dev.sh" build release
bash "$shared/bench/setup.sh" >/dev/null
export RUN=${RUN:-/var/tmp/steadfast-bench}
export RESULTS_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$RUN" "$RESULTS_DIR"
exec bash "$shared/bench/run-peers.sh" --peers "$peers" \
  --candidate "steadfast:5310:$here/candidate.sh" "$@"
