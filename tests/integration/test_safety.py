# SPDX-License-Identifier: Apache-2.0
"""Safety: ACL, malformed packets, TCP limits and RFC 7766 behaviour, signals, config errors,
exit codes."""

import os
import re
import resource
import selectors
import signal
import socket
import struct
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.rcode  # noqa: E402

from harness import (LOOPBACK, exchange, ScriptedUpstream, Steadfast, answer, answer_values,  # noqa: E402
                     delay, free_port, make_query, parse, read_tcp_message, run_steadfast,
                     wait_until)

# --------------------------------------------------------------------------------------------
# Raw packet building for the malformed-packet test
# --------------------------------------------------------------------------------------------

QID = 0x5A5A


def hdr(flags=0x0100, qd=1, an=0, ns=0, ar=0, id=QID):
    return struct.pack("!HHHHHH", id, flags, qd, an, ns, ar)


def qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


QUESTION = qname("mal.example.test") + struct.pack("!HH", 1, 1)          # A IN
SOA_QUESTION = qname("example.test") + struct.pack("!HH", 6, 1)          # SOA IN


def opt(payload=1232, rdata=b"", owner=b"\x00", rdlen=None):
    return owner + struct.pack("!HHIH", 41, payload, 0,
                               len(rdata) if rdlen is None else rdlen) + rdata


def opcode_flags(opcode):
    return (opcode << 11) | 0x0100


MALFORMED = [
    # (description, wire, expected: "drop" | "formerr" | "notimp")
    ("empty datagram", b"", "drop"),
    ("1 byte", b"\x5a", "drop"),
    ("5 bytes", b"\x5a\x5a\x01\x00\x00", "drop"),
    ("11 bytes", hdr()[:11], "drop"),
    ("QR=1 (a response)", hdr(flags=0x8180) + QUESTION, "drop"),
    ("opcode IQUERY", hdr(flags=opcode_flags(1)) + QUESTION, "notimp"),
    ("opcode NOTIFY", hdr(flags=opcode_flags(4) | 0x0400) + SOA_QUESTION, "notimp"),
    ("opcode UPDATE", hdr(flags=opcode_flags(5)) + SOA_QUESTION, "notimp"),
    ("qdcount 0", hdr(qd=0), "formerr"),
    ("qdcount 2", hdr(qd=2) + QUESTION + QUESTION, "formerr"),
    ("truncated qname", hdr() + b"\x03mal\x07exa", "formerr"),
    ("label type 01 (length 64)", hdr() + b"\x40" + b"a" * 64 + b"\x00" + b"\x00\x01\x00\x01",
     "formerr"),
    ("label type 10 (reserved)", hdr() + b"\x80\x01" + b"\x00\x01\x00\x01", "formerr"),
    ("name longer than 255", hdr() + (b"\x3f" + b"a" * 63) * 5 + b"\x00" + b"\x00\x01\x00\x01",
     "formerr"),
    ("compression loop", hdr() + b"\xc0\x0c" + b"\x00\x01\x00\x01", "formerr"),
    ("forward compression pointer", hdr() + b"\xc0\x12" + b"\x00\x01\x00\x01" + qname("fwd.test"),
     "formerr"),
    ("truncated qtype", hdr() + qname("mal.example.test") + b"\x00", "formerr"),
    ("truncated qclass", hdr() + qname("mal.example.test") + b"\x00\x01\x00", "formerr"),
    ("ancount past end", hdr(an=1) + QUESTION, "formerr"),
    ("truncated OPT", hdr(ar=1) + QUESTION + opt()[:5], "formerr"),
    ("two OPT RRs", hdr(ar=2) + QUESTION + opt() + opt(), "formerr"),
    ("OPT with non-root owner", hdr(ar=1) + QUESTION + opt(owner=qname("opt.test")),
     "formerr"),
    ("OPT rdlength past end", hdr(ar=1) + QUESTION + opt(rdata=b"\x00\x0a", rdlen=10),
     "formerr"),
    ("EDNS option length past rdata", hdr(ar=1) + QUESTION
     + opt(rdata=struct.pack("!HH", 10, 8)), "formerr"),
]


def tcp_send_query(sock, name, id):
    w = make_query(name, id=id).to_wire()
    sock.sendall(struct.pack("!H", len(w)) + w)


def closed_by_peer(sock, timeout):
    """True if the peer closes (EOF / reset) within `timeout` without sending a DNS message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return True
        if not data:
            return True
        return False  # it answered: not closed
    return False


def metric_or_zero(d, name, **labels):
    v = d.metric(name, **labels)
    return 0.0 if v is None else v


class Safety(unittest.TestCase):

    # -- ACL ---------------------------------------------------------------------------------

    def test_refused_outside_acl(self):
        with ScriptedUpstream() as up, \
                Steadfast(upstreams=[up.uri], server={"allow": ["10.255.0.0/16"]}) as d:
            before = metric_or_zero(d, "steadfast_refused_total", reason="acl")
            r = d.query("acl.example.test", id=0x0ACE)
            self.assertEqual(r.rcode(), dns.rcode.REFUSED)
            self.assertEqual(r.id, 0x0ACE)
            r = d.query("acl.example.test", tcp=True)
            self.assertEqual(r.rcode(), dns.rcode.REFUSED)
            self.assertEqual(up.queries_for("acl.example.test"), [],
                             "a refused client's query reached the upstream")
            wait_until(lambda: metric_or_zero(d, "steadfast_refused_total", reason="acl")
                       - before >= 2, 3, what='steadfast_refused_total{reason="acl"} += 2')

    # -- malformed packets ---------------------------------------------------------------------

    def test_malformed_packets(self):
        self.assertGreaterEqual(len(MALFORMED), 20)
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            self.assertEqual(d.query("ok.example.test").rcode(), dns.rcode.NOERROR)
            m0 = metric_or_zero(d, "steadfast_malformed_queries_total")
            d0 = metric_or_zero(d, "steadfast_dropped_queries_total")
            problems = []
            for desc, wire, expect in MALFORMED:
                reply = exchange(wire, d.port, tcp=False, timeout=0.6 if expect == "drop" else 2.0)
                if expect == "drop":
                    if reply is not None:
                        problems.append(f"{desc}: expected no answer, got {reply[:16].hex()}")
                    continue
                if reply is None:
                    problems.append(f"{desc}: expected {expect.upper()}, got no answer")
                    continue
                if len(reply) < 12:
                    problems.append(f"{desc}: short reply {reply.hex()}")
                    continue
                rid, flags = struct.unpack("!HH", reply[:4])
                want = dns.rcode.FORMERR if expect == "formerr" else dns.rcode.NOTIMP
                if not flags & 0x8000:
                    problems.append(f"{desc}: reply without QR")
                if rid != QID:
                    problems.append(f"{desc}: reply ID {rid:#x} != {QID:#x}")
                if flags & 0xF != want:
                    problems.append(f"{desc}: rcode {dns.rcode.to_text(flags & 0xF)}, "
                                    f"expected {dns.rcode.to_text(want)}")
            self.assertTrue(d.alive(), "steadfast died on malformed input")
            r = d.query("after.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.1"])
            r = d.query("after.example.test", tcp=True)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(problems, [], "\n".join(problems))
            n_formerr = sum(1 for _, _, e in MALFORMED if e == "formerr")
            n_drop = sum(1 for _, _, e in MALFORMED if e == "drop")

            def counted():
                dm = metric_or_zero(d, "steadfast_malformed_queries_total") - m0
                dd = metric_or_zero(d, "steadfast_dropped_queries_total") - d0
                return dm >= 1 and dd >= 1 and dm + dd >= n_formerr + n_drop
            wait_until(counted, 3, what=f"malformed+dropped counters to grow by "
                                        f">= {n_formerr + n_drop} (each >= 1)")
            self.assertEqual(up.malformed, [], "garbage was forwarded upstream")

    # -- TCP -----------------------------------------------------------------------------------

    def test_500_tcp_connections_at_once(self):
        n = 500
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        self.assertGreaterEqual(resource.getrlimit(resource.RLIMIT_NOFILE)[0], n + 100,
                                "RLIMIT_NOFILE too low for 500 connections")
        with ScriptedUpstream() as up, \
                Steadfast(upstreams=[up.uri],
                          server={"max_tcp_connections": 1000, "workers": 2}) as d:
            up.script("conn.example.test", answer("127.0.0.70", ttl=300))
            self.assertEqual(answer_values(d.query("conn.example.test")), ["127.0.0.70"])
            socks = []
            sel = selectors.DefaultSelector()
            try:
                deadline = time.monotonic() + 30
                for i in range(n):
                    s = socket.create_connection((LOOPBACK, d.port), timeout=5)
                    socks.append(s)
                    self.assertLess(time.monotonic(), deadline, "connecting took too long")
                for i, s in enumerate(socks):
                    tcp_send_query(s, "conn.example.test", id=i)
                bufs = {}
                for i, s in enumerate(socks):
                    s.setblocking(False)
                    sel.register(s, selectors.EVENT_READ, i)
                    bufs[i] = b""
                answered = {}
                while len(answered) < n and time.monotonic() < deadline:
                    for key, _ in sel.select(timeout=0.5):
                        i = key.data
                        try:
                            chunk = key.fileobj.recv(4096)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            chunk = b""
                        if not chunk:
                            sel.unregister(key.fileobj)
                            answered.setdefault(i, None)
                            continue
                        bufs[i] += chunk
                        if len(bufs[i]) >= 2:
                            ln = struct.unpack("!H", bufs[i][:2])[0]
                            if len(bufs[i]) >= 2 + ln:
                                answered[i] = parse(bufs[i][2:2 + ln])
                                sel.unregister(key.fileobj)
                open_gauge = d.metric("steadfast_tcp_connections", transport="tcp")
                good = [i for i, m in answered.items()
                        if m is not None and m.id == i and answer_values(m) == ["127.0.0.70"]]
                self.assertEqual(len(good), n,
                                 f"only {len(good)} of {n} concurrent TCP connections answered "
                                 f"({sum(1 for m in answered.values() if m is None)} closed)")
                self.assertIsNotNone(open_gauge, "no steadfast_tcp_connections{transport=tcp}")
                self.assertGreaterEqual(open_gauge, n * 0.9,
                                        "steadfast_tcp_connections gauge does not count the "
                                        "open connections")
            finally:
                sel.close()
                for s in socks:
                    s.close()

    def test_tcp_connection_limit(self):
        with ScriptedUpstream() as up, \
                Steadfast(upstreams=[up.uri],
                          server={"max_tcp_connections": 10, "tcp_idle_timeout": "30s"}) as d:
            before = metric_or_zero(d, "steadfast_tcp_connections_rejected_total")
            kept, extra = [], []
            try:
                for i in range(10):
                    s = socket.create_connection((LOOPBACK, d.port), timeout=5)
                    kept.append(s)
                    tcp_send_query(s, "limit.example.test", id=i)
                    m = read_tcp_message(s, 3)
                    self.assertIsNotNone(m, f"connection {i + 1} of 10 not answered")
                    self.assertEqual(parse(m).id, i)
                for j in range(5):
                    try:
                        s = socket.create_connection((LOOPBACK, d.port), timeout=5)
                    except OSError:
                        continue  # refused outright also keeps the cap
                    extra.append(s)
                    try:
                        tcp_send_query(s, "limit.example.test", id=100 + j)
                    except OSError:
                        continue
                    self.assertTrue(closed_by_peer(s, 3),
                                    f"connection {11 + j} over max_tcp_connections=10 was "
                                    "not closed")
                wait_until(lambda: metric_or_zero(d, "steadfast_tcp_connections_rejected_total")
                           - before >= 5, 3,
                           what="steadfast_tcp_connections_rejected_total += 5")
                # The 10 admitted connections still work.
                for i, s in enumerate(kept):
                    tcp_send_query(s, "limit.example.test", id=200 + i)
                    m = read_tcp_message(s, 3)
                    self.assertIsNotNone(m, f"admitted connection {i + 1} stopped answering")
                    self.assertEqual(parse(m).id, 200 + i)
                # A slot freed is a slot reusable.
                kept.pop().close()

                def new_conn_answered():
                    s = socket.create_connection((LOOPBACK, d.port), timeout=2)
                    extra.append(s)
                    tcp_send_query(s, "limit.example.test", id=999)
                    m = read_tcp_message(s, 1)
                    return m is not None and parse(m).id == 999
                wait_until(new_conn_answered, 5, interval=0.2,
                           what="a new connection after one was closed")
            finally:
                for s in kept + extra:
                    s.close()

    def test_pipelined_queries_on_one_connection(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("p3.example.test", delay(200, answer("127.0.0.3")))
            up.script("p7.example.test", delay(100, answer("127.0.0.7")))
            for i in (0, 1, 2):   # some answers come from cache
                up.script(f"p{i}.example.test", answer(f"127.0.0.{i}"))
                d.query(f"p{i}.example.test")
            for i in (4, 5, 6, 8, 9):
                up.script(f"p{i}.example.test", answer(f"127.0.0.{i}"))
            blob = b""
            for i in range(10):
                w = make_query(f"p{i}.example.test", id=1000 + i).to_wire()
                blob += struct.pack("!H", len(w)) + w
            s = socket.create_connection((LOOPBACK, d.port), timeout=5)
            try:
                s.sendall(blob)
                got = {}
                order = []
                deadline = time.monotonic() + 5
                while len(got) < 10 and time.monotonic() < deadline:
                    m = read_tcp_message(s, max(0.1, deadline - time.monotonic()))
                    if m is None:
                        break
                    msg = parse(m)
                    got[msg.id] = msg
                    order.append(msg.id)
            finally:
                s.close()
            self.assertEqual(sorted(got), [1000 + i for i in range(10)],
                             f"pipelined answers missing: got IDs {sorted(got)}")
            # RFC 7766 6.2.1.1: answers go out as they are ready, so the 200 ms-delayed p3
            # comes after p4 and p5, which were sent after it.
            self.assertGreater(order.index(1003), order.index(1004), f"arrival order {order}")
            self.assertGreater(order.index(1003), order.index(1005), f"arrival order {order}")
            for i in range(10):
                msg = got[1000 + i]
                self.assertEqual(msg.question[0].name.to_text(), f"p{i}.example.test.")
                self.assertEqual(answer_values(msg), [f"127.0.0.{i}"])

    def test_tcp_client_that_does_not_read_is_throttled_not_buffered(self):
        # 3000 pipelined queries for a ~2.4 KB answer = ~7 MB of answers, far more than the
        # socket buffers hold while the client is not reading: steadfast must write what fits,
        # queue a bounded amount, stop reading the connection, and resume once the client
        # drains it. Every answer must arrive whole and in order (cache hits are answered in
        # query order).
        ips = [f"127.1.{i // 250}.{i % 250}" for i in range(150)]
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri],
                                                 server={"tcp_idle_timeout": "10s"}) as d:
            up.script("big.example.test", answer(*ips, ttl=300))
            first = d.query("big.example.test", tcp=True)
            self.assertEqual(len(answer_values(first)), 150)
            full_len = len(first.to_wire(max_size=65535))
            n = 3000
            blob = b"".join(
                struct.pack("!H", len(w)) + w
                for w in (make_query("big.example.test", id=i).to_wire() for i in range(n)))
            s = socket.create_connection((LOOPBACK, d.port), timeout=10)
            try:
                s.sendall(blob)
                time.sleep(1.0)   # the server fills the socket buffers and must back off
                ids = []
                deadline = time.monotonic() + 30
                while len(ids) < n and time.monotonic() < deadline:
                    m = read_tcp_message(s, max(0.1, deadline - time.monotonic()))
                    if m is None:
                        break
                    # Raw checks (parsing 3000 large messages in Python would dominate the
                    # test's time): the ID, 150 answer records, and the full length.
                    msg_id, ancount = struct.unpack("!H4xH", m[:8])
                    self.assertEqual(ancount, 150, f"answer {msg_id} has {ancount} records")
                    self.assertEqual(len(m), full_len, f"answer {msg_id} cut short")
                    ids.append(msg_id)
            finally:
                s.close()
            self.assertEqual(ids, list(range(n)), "answers missing or out of order")
            self.assertTrue(d.healthz_ok())

    def test_idle_tcp_connection_closed(self):
        with ScriptedUpstream() as up, \
                Steadfast(upstreams=[up.uri], server={"tcp_idle_timeout": "2s"}) as d:
            used = socket.create_connection((LOOPBACK, d.port), timeout=5)
            silent = socket.create_connection((LOOPBACK, d.port), timeout=5)
            try:
                t_silent = time.monotonic()
                tcp_send_query(used, "idle.example.test", id=77)
                m = read_tcp_message(used, 3)
                self.assertIsNotNone(m)
                t_used = time.monotonic()
                self.assertTrue(closed_by_peer(used, 6), "idle connection not closed within 6s")
                el = time.monotonic() - t_used
                self.assertGreater(el, 1.5, f"closed after {el:.2f}s, tcp_idle_timeout is 2s")
                self.assertTrue(closed_by_peer(silent, 6), "silent connection never closed")
                el = time.monotonic() - t_silent
                self.assertLess(el, 6.0)
            finally:
                used.close()
                silent.close()

    # -- signals ---------------------------------------------------------------------------------

    def test_sighup_changes_upstream(self):
        with ScriptedUpstream() as up_a, ScriptedUpstream() as up_b, \
                Steadfast(upstreams=[up_a.uri]) as d:
            up_a.script("*", answer("127.0.0.101", ttl=300), rdtype="A")
            up_b.script("*", answer("127.0.0.102", ttl=300), rdtype="A")
            self.assertEqual(answer_values(d.query("hup0.example.test")), ["127.0.0.101"])
            pid = d.pid
            d.reload(upstreams=[up_b.uri])
            counter = iter(range(1, 10_000))

            def switched():
                r = d.query(f"hup{next(counter)}.example.test")
                return answer_values(r) == ["127.0.0.102"]
            wait_until(switched, 5, interval=0.1, what="SIGHUP to switch to the new upstream")
            r = d.query("after-hup.example.test")
            self.assertEqual(answer_values(r), ["127.0.0.102"])
            self.assertEqual(up_a.queries_for("after-hup.example.test"), [])
            self.assertTrue(d.alive())
            self.assertEqual(d.pid, pid)

    def test_sighup_with_broken_config_keeps_serving(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("*", answer("127.0.0.111", ttl=300), rdtype="A")
            self.assertEqual(answer_values(d.query("pre.example.test")), ["127.0.0.111"])
            lines = d.config_text().splitlines()
            at = lines.index("[server]") + 1            # insert right after [server]
            lines.insert(at, "no_such_key_xyz = 1")
            bad_line = at + 1                            # 1-based
            offset = d.log_offset()
            d.reload_text("\n".join(lines) + "\n")
            d.wait_log(re.escape(d.config_path) + rf":{bad_line}:\d+:", timeout=5, since=offset)
            self.assertTrue(d.alive(), "a broken config on SIGHUP stopped the daemon")
            r = d.query("post.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.111"])
            self.assertTrue(d.healthz_ok())

    def test_sigterm_answers_in_flight_and_exits_0(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            # 300 ms: long enough to send SIGTERM meanwhile, shorter than one upstream attempt.
            up.script("inflight.example.test", delay(300, answer("127.0.0.121", ttl=300)))
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.settimeout(4)
                s.connect((LOOPBACK, d.port))
                s.send(make_query("inflight.example.test", id=0x7E57).to_wire())
                wait_until(lambda: up.queries_for("inflight.example.test"), 2,
                           what="the query to reach the upstream")
                d.signal(signal.SIGTERM)
                try:
                    reply = s.recv(65535)
                except socket.timeout:
                    reply = None
            finally:
                s.close()
            rc = d.wait_exit(10)
            self.assertIsNotNone(reply, "in-flight query not answered after SIGTERM")
            msg = parse(reply)
            self.assertEqual(msg.id, 0x7E57)
            self.assertEqual(answer_values(msg), ["127.0.0.121"])
            self.assertEqual(rc, 0, "SIGTERM must exit 0")

    # -- command line ----------------------------------------------------------------------------

    def _bad_config(self, tmpdir, key_line):
        """A valid config with `key_line` put into [server] (replacing that key's line if the
        key is there already). Returns (path, 1-based line number of key_line)."""
        good = Steadfast(upstreams=[f"dns://127.0.0.1:{free_port()}"], start=False)
        lines = good.config_text().splitlines()
        good.close()
        key = key_line.split("=")[0].strip()
        start = lines.index("[server]") + 1
        at = next((i for i in range(start, len(lines))
                   if lines[i].split("=")[0].strip() == key), None)
        if at is None:
            at = start
            lines.insert(at, key_line)
        else:
            lines[at] = key_line
        path = os.path.join(tmpdir, "bad.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, at + 1

    def test_systemd_notify_ready_reloading_stopping(self):
        # Type=notify: systemd hands the daemon a datagram socket in NOTIFY_SOCKET. This test
        # plays systemd and reads what libsystemd's sd_notify sends.
        tmp = tempfile.mkdtemp(prefix="steadfast-notify-")
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        try:
            with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri],
                                                     env={"NOTIFY_SOCKET": path}) as d:
                self.assertIn("READY=1", sock.recv(4096).decode())
                d.signal(signal.SIGHUP)
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                self.assertIn("READY=1", sock.recv(4096).decode())
                self.assertEqual(d.stop(), 0)
                self.assertIn("STOPPING=1", sock.recv(4096).decode())
        finally:
            sock.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_check_config(self):
        with tempfile.TemporaryDirectory(prefix="steadfast-cc-") as tmp:
            d = Steadfast(upstreams=[f"dns://127.0.0.1:{free_port()}"], start=False)
            try:
                res = run_steadfast("--check-config", "-c", d.config_path)
                self.assertEqual(res.returncode, 0,
                                 f"valid config rejected:\n{res.stdout}{res.stderr}\n"
                                 f"{d.config_text()}")
            finally:
                d.close()
            for key_line in ("no_such_key_xyz = 1", 'workers = "two"',
                             'query_budget = "soon"'):
                path, line = self._bad_config(tmp, key_line)
                res = run_steadfast("--check-config", "-c", path)
                out = res.stdout + res.stderr
                self.assertEqual(res.returncode, 1, f"{key_line!r}: exit {res.returncode}\n{out}")
                self.assertRegex(out, re.escape(path) + rf":{line}:\d+: \S",
                                 f"{key_line!r}: no FILE:LINE:COL: message")

    def test_version(self):
        res = run_steadfast("--version")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertTrue((res.stdout + res.stderr).strip(), "--version printed nothing")

    def test_bad_config_exits_1(self):
        with Steadfast(upstreams=[f"dns://127.0.0.1:{free_port()}"], start=False) as d:
            lines = d.config_text().splitlines()
            at = lines.index("[server]") + 1
            lines.insert(at, "no_such_key_xyz = 1")
            d.write_config("\n".join(lines) + "\n")
            d.spawn()
            rc = d.wait_exit(10)
            self.assertEqual(rc, 1, "bad config must exit 1")
            self.assertRegex(d.log(), re.escape(d.config_path) + rf":{at + 1}:\d+:")

    def test_address_in_use_exits_2(self):
        with Steadfast(upstreams=[f"dns://127.0.0.1:{free_port()}"], start=False) as d:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                u.bind((LOOPBACK, d.port))
                t.bind((LOOPBACK, d.port))
                t.listen(1)
                d.spawn()
                rc = d.wait_exit(10)
                self.assertEqual(rc, 2, "cannot bind must exit 2")
                # The error names the DNS address (and is not, say, an HTTP start failure).
                self.assertIn(f"127.0.0.1:{d.port}", d.log(),
                              "the bind error does not name the DNS listen address")
            finally:
                u.close()
                t.close()


if __name__ == "__main__":
    unittest.main()
