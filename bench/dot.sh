#!/usr/bin/env bash
# DNS over TLS to a loopback DoT upstream: cache-miss QPS, latency and connections opened per
# 10 000 queries, for steadfast, dnsdist (DoT backend, validateCertificates) and unbound
# (forward-tls-upstream), in the same run, one worker each. Not a test.
#
#   sudo bench/dot.sh [--duration 10] [--latency-queries 3000] [--systems "steadfast dnsdist unbound"]
#
# Everything runs inside a private network namespace (unshare -n, only its own loopback), so
# the TCP PassiveOpens counter of that namespace (/proc/net/snmp) counts exactly the
# connections the system under test opened to the DoT upstream, and nothing can leave the
# machine. The upstream is Debian's unbound serving DoT on 127.0.0.13:8853 with a certificate
# for dot.bench.test from a CA made here with openssl; every name under bench.test gets an A
# record (a redirect zone), so every query of unique name is a miss for the forwarder and cheap
# for the upstream. Upstream and client on core 0, the system under test on core 1.
# Load: ../shared/bench/tools/dnsblast (closed loop, 8 sockets x 32 in flight, unique names,
# bounded by --duration), then a one-at-a-time client for latency (--latency-queries names).
# Output: bench/results/<date>-<time>-dot/{results.json,table.md,env.txt,*.log}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${STEADFAST_SHARED:-$root/../shared}
duration=10
lat_n=3000
systems="steadfast dnsdist unbound"
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --latency-queries) lat_n=$2; shift 2 ;;
    --systems) systems=$2; shift 2 ;;
    --inner) shift; inner=1 ;;
    *) echo "bench/dot.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$duration" -le 60 ] || { echo "bench/dot.sh: --duration at most 60" >&2; exit 2; }
[ "$lat_n" -le 20000 ] || { echo "bench/dot.sh: --latency-queries at most 20000" >&2; exit 2; }

if [ -z "${inner:-}" ]; then
  out=${RESULTS_DIR:-$here/results}/$(date -u +%Y%m%d-%H%M%S)-dot
  mkdir -p "$out"
  export DOT_OUT=$out
  # A private network namespace: its own loopback only.
  exec unshare -n -- bash "$0" --inner --duration "$duration" --latency-queries "$lat_n" \
    --systems "$systems"
fi

out=$DOT_OUT
run=$(mktemp -d /var/tmp/steadfast-dot-XXXXXX)
ip link set lo up
ip addr add 127.0.0.13/8 dev lo 2>/dev/null || true   # inside the namespace only
bin=${STEADFAST_BIN:-$root/build/release/resolver/app/steadfast}
[ -x "$bin" ] || bin=$root/build/dev/resolver/app/steadfast
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

gcc -O2 -o "$run/dnsblast" "$shared/bench/tools/dnsblast.c"

# --- PKI --------------------------------------------------------------------------------------
cd "$run"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj "/CN=bench CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dot.key -out dot.csr \
  -subj "/CN=dot.bench.test" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:dot.bench.test\n' > leaf.ext
openssl x509 -req -in dot.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out dot.pem \
  -extfile leaf.ext 2>/dev/null

# --- upstream: unbound as DoT server -----------------------------------------------------------
cat > up.conf <<CONF
server:
    interface: 127.0.0.13@8853
    tls-port: 8853
    tls-service-key: "$run/dot.key"
    tls-service-pem: "$run/dot.pem"
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$run"
    logfile: ""
    use-syslog: no
    num-threads: 1
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    incoming-num-tcp: 1000
    tcp-idle-timeout: 120000
    local-zone: "bench.test." redirect
    local-data: "bench.test. 300 IN A 127.0.0.99"
remote-control:
    control-enable: no
CONF
taskset -c 0 unbound -d -c up.conf > "$out/upstream.log" 2>&1 &
pids+=($!)
sleep 1

passive_opens() { awk '/^Tcp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }

start_system() {  # start_system NAME PORT -> pid in $spid
  local name=$1 port=$2
  case $name in
    steadfast)
      cat > steadfast.toml <<TOML
[server]
listen = ["127.0.0.1:$port"]
workers = 1
allow = ["127.0.0.0/8"]
query_budget = "1500ms"
[cache]
max_memory = "512MiB"
[health]
probe = "health.bench.test A"
interval = "1s"
timeout = "250ms"
[[tier]]
name = "primary"
policy = "ordered"
ca_file = "$run/ca.pem"
upstreams = ["tls://127.0.0.13:8853#dot.bench.test"]
[last_resort]
enabled = false
[report]
listen = "127.0.0.1:18154"
[log]
level = "warn"
[state]
dir = "$run"
TOML
      taskset -c 1 "$bin" -c steadfast.toml > "$out/steadfast.log" 2>&1 & ;;
    dnsdist)
      cat > dnsdist.conf <<LUA
setLocal("127.0.0.1:$port")
setACL({"127.0.0.0/8"})
setMaxTCPClientThreads(1)
newServer({address="127.0.0.13:8853", tls="openssl", subjectName="dot.bench.test",
           validateCertificates=true, caStore="$run/ca.pem", checkName="health.bench.test.",
           checkInterval=1})
pc = newPacketCache(1000000, {maxTTL=86400})
getPool(""):setCache(pc)
LUA
      taskset -c 1 dnsdist --supervised --disable-syslog -C dnsdist.conf > "$out/dnsdist.log" 2>&1 & ;;
    unbound)
      cat > fwd.conf <<CONF
server:
    interface: 127.0.0.1@$port
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$run"
    logfile: ""
    use-syslog: no
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    tls-cert-bundle: "$run/ca.pem"
    msg-cache-size: 256m
    rrset-cache-size: 256m
    do-not-query-localhost: no
    local-zone: "test." nodefault   # unbound serves test. itself by default (RFC 6761)
forward-zone:
    name: "."
    forward-addr: 127.0.0.13@8853#dot.bench.test
    forward-tls-upstream: yes
remote-control:
    control-enable: no
CONF
      taskset -c 1 unbound -d -c fwd.conf > "$out/unbound.log" 2>&1 & ;;
  esac
  spid=$!
  pids+=("$spid")
}

latency() {  # latency PORT SUFFIX N -> JSON {p50_ms, p99_ms, mean_ms, lost}
  python3 - "$1" "$2" "$3" <<'PY'
import json, socket, struct, sys, time
port, suffix, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
s.settimeout(1.0)
lat, lost = [], 0
deadline = time.monotonic() + 120
for i in range(n):
    if time.monotonic() > deadline:
        break
    qid = i & 0xFFFF
    name = f"l{i}.{suffix}".encode()
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\x00" + struct.pack(">HH", 1, 1)
    t0 = time.perf_counter()
    s.send(q)
    try:
        while True:
            r = s.recv(600)
            if struct.unpack(">H", r[:2])[0] == qid:
                break
        lat.append((time.perf_counter() - t0) * 1000)
    except socket.timeout:
        lost += 1
lat.sort()
pick = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
print(json.dumps({"p50_ms": pick(0.50), "p99_ms": pick(0.99),
                  "mean_ms": round(sum(lat) / len(lat), 3) if lat else None, "lost": lost,
                  "answered": len(lat)}))
PY
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -r)  cpus: $(nproc)"
  echo "load before: $(cat /proc/loadavg)"
  echo "steadfast: $bin ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "dnsdist: $(dnsdist --version 2>&1 | head -1)"
  echo "unbound: $(unbound -V 2>&1 | head -1)"
  echo "duration: ${duration}s dnsblast (8 sockets x 32 in flight), latency: $lat_n queries one at a time"
} > "$out/env.txt"

port=5320
echo "[" > "$out/results.json"
first=1
for sys in $systems; do
  port=$((port + 1))
  start_system "$sys" "$port"
  # Ready when it answers through the upstream (bounded wait).
  for _ in $(seq 50); do
    if dig +time=1 +tries=1 @127.0.0.1 -p "$port" "ready.$sys.bench.test" A +short 2>/dev/null | grep -q 127.0.0.99; then
      break
    fi
    sleep 0.2
  done
  sleep 1
  o0=$(passive_opens)
  blast=$(taskset -c 0 "$run/dnsblast" -s 127.0.0.1 -p "$port" -u "m.$sys.bench.test" -l "$duration" -c 8 -q 32 -t 2)
  o1=$(passive_opens)
  lat=$(taskset -c 0 bash -c "$(declare -f latency); latency $port lat.$sys.bench.test $lat_n")
  o2=$(passive_opens)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  [ $first = 1 ] || echo "," >> "$out/results.json"
  first=0
  printf '{"system": "%s", "blast": %s, "latency": %s, "opens_blast": %d, "opens_latency": %d, "load": "%s"}\n' \
    "$sys" "$blast" "$lat" $((o1 - o0)) $((o2 - o1)) "$load" >> "$out/results.json"
  sleep 1
done
echo "]" >> "$out/results.json"
echo "load after: $(cat /proc/loadavg)" >> "$out/env.txt"

python3 - "$out/results.json" > "$out/table.md" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print("| system | miss QPS over DoT | lost | p50 ms | p99 ms | conns opened | per 10 000 queries | load (1/5/15) |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    b, l = r["blast"], r["latency"]
    q = b.get("received", 0) + l.get("answered", 0)
    opens = r["opens_blast"] + r["opens_latency"]
    per = opens * 10000 / q if q else float("nan")
    print(f"| {r['system']} | {b['qps']:.0f} | {b.get('lost', 0)} | {l['p50_ms']} | {l['p99_ms']} | "
          f"{opens} | {per:.2f} | {r['load']} |")
PY
cat "$out/table.md"
rm -rf "$run"
