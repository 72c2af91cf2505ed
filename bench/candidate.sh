#!/usr/bin/env bash
# The steadfast candidate for ../shared/bench/run-peers.sh: writes a config equivalent to the
# peers' (caching forwarder, upstream A first, then B, packet cache on) into $RUN_DIR and
# execs the release binary, so the harness's PID is steadfast's. Environment from the
# harness: LISTEN_ADDR LISTEN_PORT UPSTREAM_A UPSTREAM_B THREADS RUN_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${STEADFAST_BIN:-$here/../build/release/resolver/app/steadfast}
conf=$RUN_DIR/steadfast.toml
mkdir -p "$RUN_DIR"
cat > "$conf" <<TOML
[server]
listen = ["$LISTEN_ADDR:$LISTEN_PORT"]
workers = $THREADS
allow = ["127.0.0.0/8"]
query_budget = "1500ms"

[cache]
max_memory = "512MiB"

[[tier]]
name = "primary"
policy = "ordered"
upstreams = ["dns://$UPSTREAM_A"]

[[tier]]
name = "union"
policy = "ordered"
upstreams = ["dns://$UPSTREAM_B"]

[report]
listen = "127.0.0.1:${STEADFAST_BENCH_HTTP_PORT:-18153}"

[log]
level = "warn"

[state]
dir = "$RUN_DIR"
TOML
exec "$bin" -c "$conf"
