#!/usr/bin/python3
"""failover_tail.py - fixed-rate DNS client that keeps every query (loopback only).

Sends one A query for a new name q<i>.<tag>.bench.test every 1/--rate s for --duration s
from one UDP socket, runs the shell commands given with --event T:label:cmd at offset T on
the same clock (labels "fault" and "restore" mark the outage), and records for every query
its send time, its latency and its outcome:

  A / B      NOERROR with the wildcard address of upstream A (192.0.2.11) or B (192.0.2.12)
  OTHER      NOERROR with another or no address
  SERVFAIL, REFUSED, NXDOMAIN, RCODE<n>   the response's rcode
  TIMEOUT    no response within --timeout s (a response arriving later counts as "late")

Latency = kernel receive timestamp (SO_TIMESTAMPNS) - time just before sendto(), both
CLOCK_REALTIME, so a busy client core does not inflate it.  Writes the per-query CSV
(--csv, gzip if it ends in .gz), optionally a per-100 ms timeline CSV (--timeline), and
prints one JSON summary line; bench/README.md defines every summary field.  With
--probe ADDR:PORT a second socket also asks upstream A itself (p<i>.<tag>.bench.test,
50 qps) to see when the fault and the restore take effect on A.

Safety: the server (and the probe) must be a loopback address, duration <= 600 s, rate <= 20000 qps; the
receive loop ends --timeout + 0.5 s after the last query at the latest.
"""
import argparse
import bisect
import gzip
import ipaddress
import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)      # Linux; SCM_TIMESTAMPNS == 35
ADDR_TO_UPSTREAM = {b"\xc0\x00\x02\x0b": "A", b"\xc0\x00\x02\x0c": "B"}
RCODE_NAMES = {2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
GOOD = ("A", "B")


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=2000.0, help="queries per second")
    p.add_argument("--duration", type=float, required=True, help="seconds of sending")
    p.add_argument("--timeout", type=float, default=2.0, help="client timeout (s)")
    p.add_argument("--tag", required=True, help="label making the names unique (one DNS label)")
    p.add_argument("--event", action="append", default=[], metavar="T:LABEL:CMD",
                   help="run shell CMD at T s; LABEL fault / restore mark the outage")
    p.add_argument("--probe", metavar="ADDR:PORT",
                   help="also query upstream A itself (loopback) to see when the fault and the "
                        "restore take effect there")
    p.add_argument("--probe-rate", type=float, default=50.0, help="probe queries per second")
    p.add_argument("--probe-timeout", type=float, default=0.5, help="probe timeout (s)")
    p.add_argument("--csv", help="per-query CSV (gzip if the name ends in .gz)")
    p.add_argument("--timeline", help="per-bin CSV (sent, outcomes, p99/max latency)")
    p.add_argument("--bin", type=float, default=0.1, help="bin width for to_B_s and --timeline (s)")
    p.add_argument("--window", type=float, default=0.5, help="window for back_to_A_s (s)")
    p.add_argument("--step", type=float, default=0.1, help="step of that window (s)")
    p.add_argument("--share", type=float, default=0.9, help="share for to_B_s / back_to_A_s")
    p.add_argument("--fast", type=float, default=0.1, help="'fast' answer for to_B_s (s)")
    p.add_argument("--slow", default="0.1,0.5", help="slow-answer thresholds (s), comma-separated")
    a = p.parse_args()
    if not ipaddress.ip_address(a.server).is_loopback:
        sys.exit("failover_tail: refusing, --server must be a loopback address")
    if not (0 < a.duration <= 600 and 0 < a.rate <= 20000 and 0 < a.timeout <= 10):
        sys.exit("failover_tail: refusing, need 0 < duration <= 600, 0 < rate <= 20000, 0 < timeout <= 10")
    if a.probe:
        host, _, port = a.probe.rpartition(":")
        host = host.strip("[]")
        if not ipaddress.ip_address(host).is_loopback:
            sys.exit("failover_tail: refusing, --probe must be a loopback address")
        if not 0 < a.probe_rate <= 200:
            sys.exit("failover_tail: --probe-rate must be in (0, 200]")
        a.probe = (host, int(port))
    if not (0 < len(a.tag) <= 40 and all(c.isalnum() or c == "-" for c in a.tag)):
        sys.exit("failover_tail: --tag must be 1..40 letters, digits or '-'")
    a.events = []
    for e in a.event:
        t, label, cmd = e.split(":", 2)
        if not 0 <= float(t) <= a.duration:
            sys.exit("failover_tail: event time %s outside the run" % t)
        a.events.append({"t": float(t), "label": label, "cmd": cmd})
    a.events.sort(key=lambda e: e["t"])
    a.slow = [float(x) for x in a.slow.split(",") if x]
    return a


def encode_name(name):
    out = bytearray()
    for label in name.split("."):
        out.append(len(label))
        out += label.encode("ascii")
    return bytes(out) + b"\0"


def after_name(msg, pos):
    """offset just past the (possibly compressed) name at pos"""
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n >= 0xC0:
            return pos + 2
        pos += n + 1


class Stream:
    """one UDP socket sending `n` queries q<i>/p<i>.<tag>.bench.test at `rate`, and their results"""

    def __init__(self, prefix, addr, port, rate, n, timeout, tag):
        self.prefix = prefix.encode()
        self.step_ns = 1e9 / rate
        self.n = n
        self.timeout_ns = timeout * 1e9
        self.sent = [None] * n              # send time, ns since start (None: never sent)
        self.lat = [None] * n               # ns, first response
        self.out = [None] * n               # outcome (None until a response arrives)
        self.i = 0                          # next to send
        self.late = 0                       # responses after the client timeout
        self.dupes = 0
        self.foreign = 0                    # datagrams that are no answer to our queries
        self.badid = 0
        self.lag_max = 0                    # ns a send was behind its schedule
        self.suffix = encode_name("%s.bench.test" % tag.lower())[:-1]
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.kernel_ts = True
        except OSError:
            self.kernel_ts = False
        self.sock.connect((addr, port))
        self.sock.setblocking(False)

    def query(self, i):
        # id = low 16 bits of i; RD set; one question; the name carries i in full
        label = self.prefix + b"%d" % i
        return (struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
                + bytes([len(label)]) + label + self.suffix + b"\0\0\1\0\1")

    def send_due(self, t_ns, now, drain_every=64):
        while self.i < self.n and self.i * self.step_ns <= t_ns:
            i = self.i
            pkt = self.query(i)
            ts = now()
            try:
                self.sock.send(pkt)
            except OSError:                 # incl. BlockingIOError, ICMP refused: => TIMEOUT
                pass
            self.sent[i] = ts
            self.lag_max = max(self.lag_max, ts - int(i * self.step_ns))
            self.i += 1
            if self.i % drain_every == 0:
                self.drain()

    def next_due_ns(self):
        return self.i * self.step_ns if self.i < self.n else None

    def classify(self, msg, rx_ns):
        if len(msg) < 12:
            self.foreign += 1
            return
        qid, flags, qdcount, ancount = struct.unpack_from("!HHHH", msg)
        pos = 12
        n = msg[pos]
        label = msg[pos + 1:pos + 1 + n].lower()
        end = after_name(msg, pos)
        lp = len(self.prefix)
        if (qdcount != 1 or label[:lp] != self.prefix or not label[lp:].isdigit()
                or msg[pos + 1 + n:end - 1].lower() != self.suffix):
            self.foreign += 1
            return
        i = int(label[lp:])
        if i >= self.n or self.sent[i] is None:
            self.foreign += 1
            return
        if qid != i & 0xFFFF:
            self.badid += 1
        if self.out[i] is not None:
            self.dupes += 1
            return
        lat = rx_ns - self.t0_real - self.sent[i]
        if lat > self.timeout_ns:
            self.late += 1
            self.out[i] = "TIMEOUT"
            return
        self.lat[i] = lat
        rcode = flags & 0xF
        if rcode:
            self.out[i] = RCODE_NAMES.get(rcode, "RCODE%d" % rcode)
            return
        pos = end + 4
        got = "OTHER"
        for _ in range(ancount):
            pos = after_name(msg, pos)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
            pos += 10
            if rtype == 1 and rdlen == 4:
                got = ADDR_TO_UPSTREAM.get(bytes(msg[pos:pos + 4]), "OTHER")
                break
            pos += rdlen
        self.out[i] = got

    def drain(self):
        while True:
            try:
                if self.kernel_ts:
                    msg, anc, _f, _addr = self.sock.recvmsg(4096, 64)
                    rx = None
                    for lvl, typ, data in anc:
                        if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                            sec, nsec = struct.unpack_from("qq", data)
                            rx = sec * 1_000_000_000 + nsec
                    if rx is None:
                        rx = time.clock_gettime_ns(time.CLOCK_REALTIME)
                else:
                    msg = self.sock.recv(4096)
                    rx = time.clock_gettime_ns(time.CLOCK_REALTIME)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:      # ICMP port unreachable (server not up)
                continue
            try:
                self.classify(msg, rx)
            except (IndexError, struct.error):
                self.foreign += 1

    def finish(self):
        self.n_sent = self.i
        for j in range(self.i):
            if self.out[j] is None:
                self.out[j] = "TIMEOUT"


class Run:
    def __init__(self, a):
        self.a = a
        self.main = Stream("q", a.server, a.port, a.rate, int(round(a.duration * a.rate)), a.timeout, a.tag)
        self.streams = [self.main]
        self.probe = None
        if a.probe:
            self.probe = Stream("p", a.probe[0], a.probe[1], a.probe_rate,
                                int(round(a.duration * a.probe_rate)), a.probe_timeout, a.tag)
            self.streams.append(self.probe)
        self.kernel_ts = self.main.kernel_ts

    def go(self):
        a, ev = self.a, self.a.events
        procs = []
        t0_real = time.clock_gettime_ns(time.CLOCK_REALTIME)
        for st in self.streams:
            st.t0_real = t0_real
        t0_mono = time.monotonic_ns()
        now = lambda: time.clock_gettime_ns(time.CLOCK_REALTIME) - t0_real
        k = 0
        stop_at = None
        socks = [st.sock for st in self.streams]
        hard_stop = t0_mono + int((a.duration + a.timeout + 5) * 1e9)
        while time.monotonic_ns() < hard_stop:
            t = now()
            while k < len(ev) and t >= ev[k]["t"] * 1e9:
                ev[k]["fired_ns"] = now()
                procs.append((ev[k], subprocess.Popen(ev[k]["cmd"], shell=True, stdin=subprocess.DEVNULL,
                                                      stdout=sys.stderr, stderr=sys.stderr)))
                k += 1
            for st in self.streams:
                st.send_due(t, now)
                st.drain()
            for e, p in procs:
                if "done_ns" not in e and p.poll() is not None:
                    e["done_ns"] = now()
                    e["rc"] = p.returncode
            if stop_at is None and all(st.i >= st.n for st in self.streams):
                stop_at = max(st.sent[-1] for st in self.streams if st.n) + int((a.timeout + 0.3) * 1e9)
            if stop_at is not None and now() >= stop_at and k >= len(ev):
                break
            due = [d for d in (st.next_due_ns() for st in self.streams) if d is not None]
            nxt = min(due) if due else stop_at
            if k < len(ev):
                nxt = min(nxt, ev[k]["t"] * 1e9)
            wait = min(max(0.0, (nxt - now()) / 1e9), 0.002)
            select.select(socks, [], [], wait)
        for st in self.streams:
            st.drain()
        self.mono_vs_real_ms = ((time.monotonic_ns() - t0_mono) - now()) / 1e6
        for e, p in procs:
            if "done_ns" not in e:
                try:
                    e["rc"] = p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    e["rc"] = None
                e["done_ns"] = now()
        for st in self.streams:
            st.finish()


def pct(sorted_vals, q):
    """nearest-rank percentile of a sorted list (None if empty)"""
    if not sorted_vals:
        return None
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


def ms(ns, nd=1):
    return None if ns is None else round(ns / 1e6, nd)


def summarize(run):
    a, r = run.a, run.main
    n = r.n_sent
    S = [x / 1e9 for x in r.sent[:n]]          # s since start
    L, O = r.lat, r.out
    ev = {e["label"]: e for e in a.events if "fired_ns" in e}
    t_end = a.duration
    t_f = ev["fault"]["fired_ns"] / 1e9 if "fault" in ev else None
    t_r = ev["restore"]["fired_ns"] / 1e9 if "restore" in ev else None
    if t_f is not None and t_r is None:
        t_r = t_end
    res = {"sent": n, "rate": a.rate, "duration_s": a.duration, "timeout_s": a.timeout,
           "latency_clock": "kernel SO_TIMESTAMPNS" if run.kernel_ts else "user space",
           "events": {lb: {"at_s": round(e["fired_ns"] / 1e9, 3),
                           "cmd_ms": ms(e.get("done_ns", e["fired_ns"]) - e["fired_ns"]),
                           "rc": e.get("rc")} for lb, e in ev.items()},
           "late_answers": r.late, "duplicate_answers": r.dupes, "foreign_datagrams": r.foreign,
           "id_mismatch": r.badid, "client_lag_max_ms": ms(r.lag_max),
           "clock_drift_ms": round(run.mono_vs_real_ms, 1)}
    counts = {}
    for o in O[:n]:
        counts[o] = counts.get(o, 0) + 1
    res["outcomes"] = counts

    def idx(lo, hi):            # queries sent in [lo, hi); S is ascending
        return range(bisect.bisect_left(S, lo), bisect.bisect_left(S, hi))

    def lat_stats(ks, prefix):
        ls = sorted(L[k] for k in ks if L[k] is not None)
        res[prefix + "_answers"] = len(ls)
        res["p50_ms_" + prefix] = ms(pct(ls, 0.50), 2)
        res["p99_ms_" + prefix] = ms(pct(ls, 0.99), 2)
        res["max_ms_" + prefix] = ms(ls[-1] if ls else None, 2)
        return ls

    def failed(ks):
        return [k for k in ks if O[k] not in GOOD]

    everything = list(range(n))
    lat_stats(everything, "run")
    if t_f is None:
        res["failed_run"] = len(failed(everything))
        return res
    pre, outage, post = idx(0, t_f), idx(t_f, t_r), idx(t_r, t_end + 1)
    fault_on = range(outage.start, post.stop)
    res["outage_s"] = round(t_r - t_f, 3)
    res["post_s"] = round(t_end - t_r, 3)
    res["failed_pre"] = len(failed(pre))
    res["failed_outage"] = len(failed(outage))
    res["failed_post"] = len(failed(post))
    res["failed"] = res["failed_outage"] + res["failed_post"]
    kinds = {}
    for k in failed(fault_on):
        kinds[O[k]] = kinds.get(O[k], 0) + 1
    res["failed_kinds"] = kinds
    fo = failed(outage)
    res["failed_window_s"] = [round(S[fo[0]] - t_f, 3), round(S[fo[-1]] - t_f, 3)] if fo else None
    ls_out = lat_stats(outage, "outage")
    lat_stats(post, "post")
    lat_stats(fault_on, "fault_on")
    for th in a.slow:
        key = "%d" % round(th * 1000)
        for name, ks in (("outage", outage), ("post", post)):
            ans = [L[k] for k in ks if L[k] is not None]
            c = sum(1 for x in ans if x > th * 1e9)
            res["slow%s_%s" % (key, name)] = c
            res["slow%s_%s_pct" % (key, name)] = round(100.0 * c / len(ans), 2) if ans else None

    def share(ks, want, fast_ns=None):
        if not ks:
            return None
        good = sum(1 for k in ks if O[k] == want and (fast_ns is None or L[k] <= fast_ns))
        return good / len(ks)

    res["share_A_pre"] = round(share(idx(min(0.5, t_f / 2), t_f), "A") or 0, 3)
    res["share_B_outage_last1s"] = round(share(idx(t_r - 1, t_r), "B") or 0, 3)
    res["share_A_last2s"] = round(share(idx(t_end - 2, t_end + 1), "A") or 0, 3)

    # to_B_s: first bin of the outage in which >= share of the queries sent were answered by B
    # within `fast`; to_B_stable_s: first such bin from which every later outage bin qualifies
    ok_bins = []
    nb = max(0, int(round((t_r - t_f) / a.bin)))        # the last bin ends at t_r
    for b in range(nb):
        ks = idx(t_f + b * a.bin, min(t_f + (b + 1) * a.bin, t_r))
        sh = share(ks, "B", a.fast * 1e9)
        ok_bins.append(sh is not None and sh >= a.share)
    first = next((b for b, ok in enumerate(ok_bins) if ok), None)
    res["to_B_s"] = None if first is None else round(first * a.bin, 2)
    stable = None
    for b in range(len(ok_bins) - 1, -1, -1):
        if not ok_bins[b]:
            break
        stable = b
    res["to_B_stable_s"] = None if stable is None else round(stable * a.bin, 2)

    # back_to_A_s: first window [t_r + w, t_r + w + window) (w = 0, step, 2 step...) in which
    # >= share of the queries sent were answered by A; _stable_s: every later window too
    if "restore" in ev:
        okw = []
        w = 0.0
        while t_r + w + a.window <= t_end + 1e-9:
            sh = share(idx(t_r + w, t_r + w + a.window), "A")
            okw.append((round(w, 2), sh is not None and sh >= a.share))
            w += a.step
        res["back_to_A_s"] = next((w for w, ok in okw if ok), None)
        stable = None
        for w, ok in reversed(okw):
            if not ok:
                break
            stable = w
        res["back_to_A_stable_s"] = stable
        firstA = next((k for k in post if O[k] == "A"), None)
        res["first_A_after_restore_s"] = None if firstA is None else round(S[firstA] - t_r, 3)

    # upstream A itself (--probe): when did the fault and the restore take effect there?
    pr = run.probe
    if pr is not None:
        PS = [x / 1e9 for x in pr.sent[:pr.n_sent]]
        res["A_probe"] = {"sent": pr.n_sent, "ok": sum(1 for o in pr.out[:pr.n_sent] if o == "A"),
                          "failed_pre": sum(1 for k in range(pr.n_sent) if PS[k] < t_f and pr.out[k] != "A")}
        k = next((k for k in range(pr.n_sent) if PS[k] >= t_f and pr.out[k] != "A"), None)
        res["A_fault_effective_s"] = None if k is None else round(PS[k] - t_f, 3)
        if "restore" in ev:
            k = next((k for k in range(pr.n_sent) if PS[k] >= t_r and pr.out[k] == "A"), None)
            res["A_restore_effective_s"] = None if k is None else round(PS[k] - t_r, 3)
    return res


def write_csv(run, path):
    r = run.main
    # row k (after the header) is query q<k>; send_s to 0.1 ms, lat_ms to 10 us
    f = gzip.open(path, "wt", compresslevel=9) if path.endswith(".gz") else open(path, "w")
    with f:
        f.write("send_s,lat_ms,outcome\n")
        for k in range(r.n_sent):
            lat = "" if r.lat[k] is None else "%.2f" % (r.lat[k] / 1e6)
            f.write("%.4f,%s,%s\n" % (r.sent[k] / 1e9, lat, r.out[k]))


def write_timeline(run, path):
    r = run.main
    cols = ["A", "B", "SERVFAIL", "REFUSED", "TIMEOUT", "OTHER"]
    bins = {}
    for k in range(r.n_sent):
        b = int(r.sent[k] / 1e9 / run.a.bin)
        row = bins.setdefault(b, {"lat": []})
        o = r.out[k] if r.out[k] in cols else "OTHER"
        row[o] = row.get(o, 0) + 1
        if r.lat[k] is not None:
            row["lat"].append(r.lat[k])
    with open(path, "w") as f:
        f.write("t_s,sent," + ",".join(cols) + ",p99_ms,max_ms\n")
        for b in sorted(bins):
            row = bins[b]
            ls = sorted(row["lat"])
            sent = sum(row.get(c, 0) for c in cols)
            f.write("%.1f,%d,%s,%s,%s\n" % (b * run.a.bin, sent, ",".join(str(row.get(c, 0)) for c in cols),
                                            "" if not ls else "%.1f" % (pct(ls, 0.99) / 1e6),
                                            "" if not ls else "%.1f" % (ls[-1] / 1e6)))


def main():
    a = options()
    r = Run(a)
    r.go()
    res = summarize(r)
    if a.csv:
        write_csv(r, a.csv)
    if a.timeline:
        write_timeline(r, a.timeline)
    print(json.dumps(res, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
