#!/usr/bin/env bash
# Instructions per cache hit of one steadfast binary, counted by callgrind (repeatable, unlike QPS
# on a shared VM): warms 1000 names from a local unbound, then sends HITS hits at 3000 qps
# with dnsperf, and prints the program total. Run it with HITS=0 and HITS=N; the difference
# divided by N is the cost of one hit (user space only). Loopback only; bounded by dnsperf -n.
#   [FEED=LIST] bench/tools/hit_instructions.sh BINARY HITS TAG  (needs unbound, dnsperf, dig, valgrind)
set -euo pipefail
BIN=$1; HITS=$2; TAG=$3
W=${TMPDIR:-/tmp}/steadfast-hit-instr-$TAG; rm -rf $W; mkdir -p $W
UP=5491; DNS=5492; HTTP=18191
{ printf 'server:\n  interface: 127.0.0.1@%s\n  port: %s\n  do-daemonize: no\n  username: ""\n' $UP $UP
  printf '  chroot: ""\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  do-ip6: no\n'
  printf '  access-control: 127.0.0.0/8 allow\n  module-config: "iterator"\n  local-zone: "example.test." static\n'
  for i in $(seq 0 999); do printf '  local-data: "n%s.example.test. 3600 IN A 10.9.%s.%s"\n' $i $((i / 250)) $((i % 250)); done
} > $W/unbound.conf
/usr/sbin/unbound -d -c $W/unbound.conf > $W/unbound.log 2>&1 & UPID=$!
for i in $(seq 0 999); do echo "n$i.example.test A"; done > $W/q.txt
cat > $W/s.toml <<TOML
[server]
listen = ["127.0.0.1:$DNS"]
workers = 1
allow = ["127.0.0.0/8"]
[[tier]]
name = "primary"
policy = "ordered"
upstreams = ["dns://127.0.0.1:$UP"]
[health]
probe = "n1.example.test A"
[report]
listen = "127.0.0.1:$HTTP"
[state]
dir = "$W"
TOML
# FEED=FILE: a domains-list feed none of the queried names is in (the no-match path).
if [ -n "${FEED:-}" ]; then printf '[[feed]]\nname = "bench"\ntype = "domains"\nsource = "file://%s"\n' "$FEED" >> $W/s.toml; fi
sleep 1
valgrind --tool=callgrind --callgrind-out-file=$W/cg.out $BIN -c $W/s.toml > $W/s.log 2>&1 & SPID=$!
for i in $(seq 100); do dig +short +time=1 +tries=1 @127.0.0.1 -p $DNS n1.example.test A >/dev/null 2>&1 && break; sleep 0.5; done
dnsperf -s 127.0.0.1 -p $DNS -d $W/q.txt -n 1 -q 20 > $W/warm.txt 2>&1
if [ "$HITS" -gt 0 ]; then dnsperf -s 127.0.0.1 -p $DNS -d $W/q.txt -n $((HITS / 1000)) -q 20 -Q 3000 > $W/hits.txt 2>&1; fi
kill $SPID; wait $SPID || true; kill $UPID; wait $UPID || true
grep -E "Queries (sent|lost)" $W/hits.txt 2>/dev/null || true
callgrind_annotate $W/cg.out 2>/dev/null | grep -m1 "PROGRAM TOTALS"
