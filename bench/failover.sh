#!/usr/bin/env bash
# Failover tail comparison (issue #5): steadfast and the peers, same run, same machine.
# For every system x scenario: failed queries, answers > 100 ms / > 500 ms, p99 and max
# client latency, time until answers flow from B, time until traffic is back on A.
# Uses ../shared/bench (NSD upstreams A/B, peer configs, start/stop by PID, fault commands)
# and its own client tools/failover_tail.py.  Needs root (upstreams on 127.0.0.11/.12:53).
#
#   sudo bench/failover.sh                                   # all: ~7 min
#   sudo bench/failover.sh --quick --systems "steadfast dnsdist" --scenarios blackhole
#
#   --systems "steadfast dnsdist unbound pdns"   (kresd works too)
#   --scenarios "blackhole refused servfail"
#   --rate QPS        client rate (2000)        --timeout S   client timeout (2)
#   --pre S           before the fault (3)      --post S      watched after the restore (15)
#   --outage S        blackhole length (10)     --outage-rc S refused/servfail length (5)
#   --repeat N        run every scenario N times (1)
#   --threads N       server threads (1; 2 = server on both cores, like run-peers.sh)
#   --quick           pre 2, outage 5 / 3, post 8 (smoke test, ~4 min for all)
#   --build           ./dev.sh build release first
# Env: RUN (generated data, default /var/tmp/steadfast-bench), RESULTS_DIR (default
# bench/results), STEADFAST_SHARED (default ../shared), STEADFAST_BIN, STEADFAST_PORT (5310),
# STEADFAST_BENCH_UNION (see candidate.sh), SERVER_CPUS / LOAD_CPUS / UP_CPUS.
# Output: RESULTS_DIR/<date>-<time>-failover/ (see bench/README.md).
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${STEADFAST_SHARED:-$root/../shared}
[ -f "$shared/bench/lib/common.sh" ] || { echo "bench/failover.sh: $shared/bench/lib/common.sh not found" >&2; exit 2; }
BENCH_DIR=$(cd "$shared/bench" && pwd)
export RUN=${RUN:-/var/tmp/steadfast-bench}      # never the shared folder: it is read-only
# shellcheck source=/dev/null
. "$BENCH_DIR/lib/common.sh"

SYSTEMS="steadfast dnsdist unbound pdns"
SCENARIOS="blackhole refused servfail"
RATE=2000 TIMEOUT=2 PRE=3 OUT_BH=10 OUT_RC=5 POST=15 REPEAT=1 THREADS=1 BUILD=0
while [ $# -gt 0 ]; do
    case $1 in
        --systems) SYSTEMS=$2; shift ;;
        --scenarios) SCENARIOS=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --pre) PRE=$2; shift ;;
        --post) POST=$2; shift ;;
        --outage) OUT_BH=$2; shift ;;
        --outage-rc) OUT_RC=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --quick) PRE=2; OUT_BH=5; OUT_RC=3; POST=8 ;;
        --build) BUILD=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "bench/failover.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
for v in RATE TIMEOUT PRE POST OUT_BH OUT_RC REPEAT THREADS; do
    [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench/failover.sh: bad value for $v: ${!v}" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench/failover.sh: needs root (upstreams bind 127.0.0.11/.12:53)" >&2; exit 2; }
for s in $SCENARIOS; do
    case $s in blackhole|refused|servfail) ;; *) echo "bench/failover.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
need=(nsd nsd-control dig taskset /usr/bin/time)
for s in $SYSTEMS; do
    case $s in
        steadfast) ;;
        dnsdist) need+=(dnsdist) ;; unbound) need+=(unbound) ;; pdns) need+=(pdns_recursor) ;; kresd) need+=(kresd) ;;
        *) echo "bench/failover.sh: unknown system $s (steadfast dnsdist unbound pdns kresd)" >&2; exit 2 ;;
    esac
done
for c in "${need[@]}"; do
    command -v "$c" >/dev/null || { echo "bench/failover.sh: $c missing; run: sudo bash $BENCH_DIR/setup.sh" >&2; exit 2; }
done

if [ "$BUILD" = 1 ]; then "$root/dev.sh" build release || exit 1; fi
SF_BIN=${STEADFAST_BIN:-$root/build/release/resolver/app/steadfast}
export STEADFAST_BIN=$SF_BIN
PEER_PORT[steadfast]=${STEADFAST_PORT:-5310}
CAND_CMD[steadfast]="$here/candidate.sh"
if [[ " $SYSTEMS " == *" steadfast "* ]] && [ ! -x "$SF_BIN" ]; then
    echo "bench/failover.sh: $SF_BIN not built (./dev.sh build release, or --build)" >&2; exit 2
fi
if [ "$THREADS" -ge 2 ]; then SERVER_CPUS=0-1; LOAD_CPUS=0-1; UP_CPUS=0-1; fi

RUN_ID=$(date +%Y%m%d-%H%M%S)
RES="${RESULTS_DIR:-$here/results}/$RUN_ID-failover"
mkdir -p "$RES" "$RUN"
RES=$(cd "$RES" && pwd)
exec 2> >(tee -a "$RES/run.log" >&2)
trap 'cleanup_all' EXIT
trap 'exit 130' INT TERM

log "failover run $RUN_ID: systems [$SYSTEMS] scenarios [$SCENARIOS] rate=$RATE pre=${PRE}s outage=${OUT_BH}s/${OUT_RC}s post=${POST}s repeat=$REPEAT -> $RES"
{
    echo "date: $(date -Is)"; uname -srm; echo "cores: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
    for pkg in dnsdist unbound pdns-recursor knot-resolver nsd python3; do
        echo "$pkg: $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo missing)"
    done
    if [ -x "$SF_BIN" ]; then
        echo "steadfast: $("$SF_BIN" --version 2>/dev/null | head -1)"
        echo "steadfast binary: $SF_BIN, built $(date -Is -r "$SF_BIN"), sha256 $(sha256sum "$SF_BIN" | cut -c1-16)"
        newer=$(find "$root/resolver" "$root/failover" \( -name '*.cpp' -o -name '*.h' \) -newer "$SF_BIN" 2>/dev/null | wc -l)
        [ "$newer" = 0 ] || echo "steadfast WARNING: $newer source files are newer than the binary"
    fi
    echo "git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null) ($(git -C "$root" status --porcelain 2>/dev/null | grep -vc '^??' ) modified tracked files)"
    echo "settings: RATE=$RATE TIMEOUT=$TIMEOUT PRE=$PRE OUT_BLACKHOLE=$OUT_BH OUT_REFUSED_SERVFAIL=$OUT_RC POST=$POST REPEAT=$REPEAT THREADS=$THREADS SERVER_CPUS=$SERVER_CPUS LOAD_CPUS=$LOAD_CPUS UP_CPUS=$UP_CPUS"
    echo "systems: $SYSTEMS"; echo "scenarios: $SCENARIOS"
} > "$RES/env.txt"
[ -z "${newer:-}" ] || [ "$newer" = 0 ] || log "WARNING: $newer steadfast sources are newer than $SF_BIN (rebuild, or --build)"

# zones only (run-peers.sh's gen_data also writes ~1.4M query names we do not need)
mkdir -p "$RUN/zones"
if [ ! -s "$RUN/zones/bench-A.zone" ] || [ ! -s "$RUN/zones/bench-B.zone" ]; then
    log "generating zones"
    $PY "$BENCH_DIR/tools/gen_data.py" --out "$RUN/zones" --what zones || exit 1
fi
up_start A || exit 1
up_start B || exit 1
cp "$RUN/nsd-A/nsd.conf" "$RES/nsd-A.conf"; cp "$RUN/nsd-B/nsd.conf" "$RES/nsd-B.conf"

M="$RES/metrics.jsonl"
# scenario SYSTEM SCENARIO REP -> one JSON line on stdout
scenario() {
    local name=$1 sc=$2 rep=$3 port=${PEER_PORT[$1]} fault restore out base tag j frag
    case $sc in
        blackhole) fault=$(up_cmd_signal A STOP); restore=$(up_cmd_signal A CONT); out=$OUT_BH ;;
        refused)   fault=$(up_cmd_mode A refused); restore=$(up_cmd_mode A good); out=$OUT_RC ;;
        servfail)  fault=$(up_cmd_mode A servfail); restore=$(up_cmd_mode A good); out=$OUT_RC ;;
    esac
    local dur t_restore
    dur=$(awk -v a="$PRE" -v b="$out" -v c="$POST" 'BEGIN{print a+b+c}')
    t_restore=$(awk -v a="$PRE" -v b="$out" 'BEGIN{print a+b}')
    base="$name.$sc"; [ "$REPEAT" -gt 1 ] && base="$base.r$rep"
    tag="$name-$sc-r$rep-${RUN_ID//-/}"
    meas_begin "$name"
    j=$(/usr/bin/time -f '%U %S' -o "$RES/.client.time" taskset -c "$LOAD_CPUS" \
        $PY "$here/tools/failover_tail.py" --server "$PEER_ADDR" --port "$port" \
        --rate "$RATE" --duration "$dur" --timeout "$TIMEOUT" --tag "$tag" --probe "$UPA_IP:$UP_PORT" \
        --event "$PRE:fault:$fault" --event "$t_restore:restore:$restore" \
        --csv "$RES/$base.queries.csv.gz" --timeline "$RES/$base.timeline.csv" 2>>"$RES/$base.stderr")
    frag=$(meas_end "$RES/.client.time")
    [[ $j == \{* ]] || j='{"error":"client failed, see '"$base"'.stderr"}'
    add_json "{\"system\":\"$name\",\"scenario\":\"$sc\",\"rep\":$rep,${j#\{}" "$frag"
    [ -s "$RES/$base.stderr" ] || rm -f "$RES/$base.stderr"
    # A healthy and answering again before anything else
    bash -c "$(up_cmd_signal A CONT)" 2>/dev/null
    [ "$sc" = blackhole ] || up_set_mode A good
    wait_answer "$UPA_IP" "$UP_PORT" 10 || log "WARNING: upstream A not answering after $sc"
}

for p in $SYSTEMS; do
    log "=== $p"
    for sc in $SCENARIOS; do
        for rep in $(seq "$REPEAT"); do
            # a fresh server per scenario: no upstream state carried over
            if ! any_start "$p" "$THREADS"; then
                echo "{\"system\":\"$p\",\"scenario\":\"$sc\",\"rep\":$rep,\"error\":\"did not start\"}" >> "$M"
                peer_stop "$p"; continue
            fi
            for f in "$RUN/peer-$p/"*.conf "$RUN/peer-$p/"*.toml "$RUN/peer-$p/candidate-notes.txt"; do
                [ -f "$f" ] && cp "$f" "$RES/$(basename "$f")"
            done
            sleep 1
            log "$p: $sc$([ "$REPEAT" -gt 1 ] && echo " #$rep") (${RATE} qps, timeout ${TIMEOUT}s)"
            scenario "$p" "$sc" "$rep" | tee -a "$M" >&2
            cp "$RUN/peer-$p/stdout" "$RES/$p.$sc.server.log" 2>/dev/null
            [ -s "$RES/$p.$sc.server.log" ] || rm -f "$RES/$p.$sc.server.log"
            peer_stop "$p"
        done
    done
done
cleanup_all
rm -f "$RES/.client.time"
if [ -f "$RES/steadfast.toml" ]; then
    if grep -q '^union = true' "$RES/steadfast.toml"; then u=yes; else u="NO (binary rejected the key)"; fi
    echo "steadfast config: tier union with union = true: $u" >> "$RES/env.txt"
fi
$PY "$here/tools/failover_report.py" "$RES" > "$RES/report.md"
cat "$RES/report.md"
log "results in $RES"
