#!/usr/bin/env bash
# Side-by-side benchmark (not a test): steadfast against Debian's dnsdist and unbound, in the
# same run of ../shared/bench/run-peers.sh on the same machine, server pinned to its own core.
# Needs root (upstreams on 127.0.0.11/.12:53). Takes ~7 minutes with failover scenarios;
# pass extra run-peers.sh options through, e.g. --no-failover or --quick.
#   sudo bench/run.sh [--peers "dnsdist unbound"] [--tail] [run-peers.sh options]
# --tail: afterwards run bench/failover.sh (failover tail: slow answers, p99/max, time to B and
# back to A) for steadfast and the same peers, with --quick if given (+~1.5 min per system).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${STEADFAST_SHARED:-$root/../shared}
[ -x "$shared/bench/run-peers.sh" ] || { echo "bench/run.sh: $shared/bench/run-peers.sh not found" >&2; exit 2; }
peers="dnsdist unbound"
tail=0
quick=()
pass=()
while [ $# -gt 0 ]; do
  case $1 in
    --peers) peers=$2; shift 2 ;;
    --tail) tail=1; shift ;;
    --quick) quick=(--quick); pass+=("$1"); shift ;;
    *) pass+=("$1"); shift ;;
  esac
done
set -- "${pass[@]}"
"$root/dev.sh" build release
bash "$shared/bench/setup.sh" >/dev/null
export RUN=${RUN:-/var/tmp/steadfast-bench}
export RESULTS_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$RUN" "$RESULTS_DIR"
if [ "$tail" = 0 ]; then
  exec bash "$shared/bench/run-peers.sh" --peers "$peers" \
    --candidate "steadfast:5310:$here/candidate.sh" "$@"
fi
bash "$shared/bench/run-peers.sh" --peers "$peers" --candidate "steadfast:5310:$here/candidate.sh" "$@"
exec bash "$here/failover.sh" --systems "steadfast $peers" "${quick[@]}"
