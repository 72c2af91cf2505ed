#!/usr/bin/env bash
# Soak (not part of CI): one steadfast (2 workers, by default the ASan+UBSan build) under mixed
# load for SECS seconds while its primary upstream is blackholed and revived and its config
# reloaded; then SIGTERM. Passes when the daemon kept answering, stopped with exit 0 and no
# sanitizer report. Loopback only; every process is started here and stopped by PID.
#   tests/soak/soak.sh [SECS]        (default 120; build first: ./dev.sh build asan)
set -euo pipefail
SECS=${1:-120}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${STEADFAST_BIN:-$root/build/asan/resolver/app/steadfast}
shared=${STEADFAST_SHARED:-$root/../shared}
work=$(mktemp -d /tmp/steadfast-soak.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

[ -x "$bin" ] || { echo "soak: $bin not built (./dev.sh build asan)" >&2; exit 2; }
gcc -O2 -o "$work/dnsblast" "$shared/bench/tools/dnsblast.c"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DNS=$(port); HTTP=$(port); UA=$(port); UB=$(port)

for up in A B; do
  p=$([ $up = A ] && echo "$UA" || echo "$UB")
  { printf 'server:\n  interface: 127.0.0.1@%s\n  port: %s\n  do-daemonize: no\n  username: ""\n' "$p" "$p"
    printf '  chroot: ""\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  do-ip6: no\n'
    printf '  access-control: 127.0.0.0/8 allow\n  module-config: "iterator"\n'
    printf '  local-zone: "example.test." static\n'
    printf '  local-data: "example.test. 60 IN SOA ns.example.test. h.example.test. 1 3600 600 86400 5"\n'
    for i in $(seq 0 499); do printf '  local-data: "n%s.example.test. 2 IN A 10.9.%s.%s"\n' "$i" $((i / 250)) $((i % 250)); done
  } > "$work/unbound-$up.conf"
  /usr/sbin/unbound -d -c "$work/unbound-$up.conf" > "$work/unbound-$up.log" 2>&1 &
  pids+=($!); eval "PID_$up=$!"
done
for i in $(seq 0 499); do echo "n$i.example.test A"; done > "$work/hits.txt"

write_conf() {  # $1: query budget
  cat > "$work/steadfast.toml" <<TOML
[server]
listen = ["127.0.0.1:$DNS"]
workers = 2
query_budget = "$1"
max_tcp_connections = 64
tcp_idle_timeout = "2s"
[cache]
max_memory = "4MiB"
stale_answer_ttl = "5s"
[[tier]]
name = "primary"
policy = "ordered"
upstreams = ["dns://127.0.0.1:$UA"]
[[tier]]
name = "union"
policy = "ordered"
upstreams = ["dns://127.0.0.1:$UB"]
[report]
listen = "127.0.0.1:$HTTP"
[log]
level = "info"
TOML
}
write_conf 1500ms
"$bin" -c "$work/steadfast.toml" > "$work/steadfast.log" 2>&1 &
SF=$!; pids+=($SF)
for _ in $(seq 50); do grep -q "ready" "$work/steadfast.log" && break; sleep 0.1; done

end=$((SECONDS + SECS))
"$work/dnsblast" -s 127.0.0.1 -p "$DNS" -f "$work/hits.txt" -l "$SECS" -c 2 -q 16 > "$work/hits.json" 2>&1 &
pids+=($!); BH=$!
"$work/dnsblast" -s 127.0.0.1 -p "$DNS" -u soak.example.test -l "$SECS" -c 1 -q 8 > "$work/miss.json" 2>&1 &
pids+=($!); BM=$!
# TCP churn: short connections with a few pipelined queries, bounded by the deadline.
/usr/bin/python3 - "$DNS" "$SECS" > "$work/tcp.log" 2>&1 <<'PY' &
import socket, struct, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
end, ok, bad = time.monotonic() + secs, 0, 0
def q(i):
    name = b"".join(bytes([len(l)]) + l for l in f"n{i % 500}.example.test".encode().split(b".")) + b"\0"
    m = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
    return struct.pack("!H", len(m)) + m
i = 0
while time.monotonic() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(b"".join(q(i + k) for k in range(5)))
        if i % 7 == 0:
            s.close(); i += 5; continue          # hang up with answers in flight
        got = 0
        while got < 5:
            h = s.recv(2, socket.MSG_WAITALL); n = struct.unpack("!H", h)[0]
            s.recv(n, socket.MSG_WAITALL); got += 1
        s.close(); ok += 1
    except Exception:
        bad += 1
    i += 5
print(f"tcp ok={ok} failed={bad}")
PY
pids+=($!); TC=$!

while [ $SECONDS -lt $end ]; do
  sleep 4; kill -STOP "$PID_A"                 # primary blackholed: timeouts, hedging, stale
  sleep 3; kill -CONT "$PID_A"
  write_conf "$([ $((SECONDS % 2)) = 0 ] && echo 1200ms || echo 1500ms)"
  kill -HUP "$SF"
done
wait "$BH" "$BM" "$TC" || true
metrics=$(curl -s "127.0.0.1:$HTTP/metrics" || true)
kill -TERM "$SF"; rc=0; wait "$SF" || rc=$?
echo "hits:   $(tail -1 "$work/hits.json")"
echo "misses: $(tail -1 "$work/miss.json")"
tail -1 "$work/tcp.log"
echo "$metrics" | grep -E '^steadfast_(responses_total|upstream_errors_total|overload|cache_inserts_skipped).* [1-9]' | head -30
echo "steadfast exit code: $rc"
if [ "$rc" != 0 ] || grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$work/steadfast.log"; then
  echo "soak: FAILED (log: $work/steadfast.log)"; exit 1
fi
echo "soak: passed ($SECS s)"; rm -rf "$work"
