#!/usr/bin/env bash
# The steadfast candidate for ../shared/bench/run-peers.sh and bench/failover.sh: writes a
# config equivalent to the peers' (caching forwarder, upstream A first, then B, packet cache
# on, health checks like dnsdist's) into $RUN_DIR and execs the release binary, so the
# harness's PID is steadfast's. Environment from the harness: LISTEN_ADDR LISTEN_PORT
# UPSTREAM_A UPSTREAM_B THREADS RUN_DIR.
#   STEADFAST_BIN             binary (default build/release/resolver/app/steadfast)
#   STEADFAST_BENCH_HTTP_PORT report listener (default 18153)
#   STEADFAST_BENCH_UNION     auto (default): write `union = true` on tier "union" unless the
#                             binary rejects the key (then drop it, warn on stderr and in
#                             $RUN_DIR/candidate-notes.txt); yes: always; no: never.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${STEADFAST_BIN:-$here/../build/release/resolver/app/steadfast}
conf=$RUN_DIR/steadfast.toml
union=${STEADFAST_BENCH_UNION:-auto}
mkdir -p "$RUN_DIR"

write_conf() {  # write_conf UNION_LINE
  cat > "$conf" <<TOML
[server]
listen = ["$LISTEN_ADDR:$LISTEN_PORT"]
workers = $THREADS
allow = ["127.0.0.0/8"]
query_budget = "1500ms"

[cache]
max_memory = "512MiB"

# As dnsdist's checks (conf/dnsdist.conf.in: 1 s interval, 250 ms timeout), but down after
# 3 failures / up after 3 successes, and at least 5 s on the lower tier before failing back.
[health]
probe = "health.bench.test A"
interval = "1s"
timeout = "250ms"
fall = 3
rise = 3
hold_down = "5s"

[[tier]]
name = "primary"
policy = "ordered"
upstreams = ["dns://$UPSTREAM_A"]

[[tier]]
name = "union"
policy = "ordered"
$1
upstreams = ["dns://$UPSTREAM_B"]

[report]
listen = "127.0.0.1:${STEADFAST_BENCH_HTTP_PORT:-18153}"

[log]
level = "warn"

[state]
dir = "$RUN_DIR"
TOML
}

case $union in
  no) write_conf "" ;;
  yes) write_conf "union = true" ;;
  auto)
    write_conf "union = true"
    if ! err=$("$bin" --check-config -c "$conf" 2>&1 >/dev/null) && [[ $err == *"unknown key 'union'"* ]]; then
      note="candidate.sh: $bin does not know [[tier]] union = true; running WITHOUT it"
      echo "$note" >&2
      echo "$note" >> "$RUN_DIR/candidate-notes.txt"
      write_conf ""
    fi ;;
  *) echo "candidate.sh: STEADFAST_BENCH_UNION must be auto, yes or no" >&2; exit 2 ;;
esac
exec "$bin" -c "$conf"
