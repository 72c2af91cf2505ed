# SPDX-License-Identifier: Apache-2.0
"""Last-resort recursion (issue #6, deliverable 3) with real processes on loopback.

Debian's nsd serves a small root zone, signed at test time with ldns-keygen/ldns-signzone,
with two delegated, signed children: good. (valid) and broken. (its A record changed after
signing, so its signature no longer matches). The root key is steadfast's trust anchor and
[last_resort] root_servers points at nsd: libunbound recurses from this root and validates.
All three zones are on the one nsd, so the referrals (whose glue says port 53) are never
followed: nsd answers each name from the most specific zone it holds.

The only tier is Debian's unbound, frozen with SIGSTOP. Then: a cached name is answered stale
(EDE 3) first; a name never seen comes from the last resort, with AD for a client that set DO;
the broken name is SERVFAIL with EDE 6; metrics and /readyz show the last resort.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

from harness import (Steadfast, Unbound, _kill_pid, _pdeathsig, _register_child,  # noqa: E402
                     answer_values, ede_codes, free_port, http_get, make_query, metric_value,
                     parse, require_tool, wait_until)

NSD_BIN = "/usr/sbin/nsd"
KEYGEN = "/usr/bin/ldns-keygen"
SIGNZONE = "/usr/bin/ldns-signzone"
KEY2DS = "/usr/bin/ldns-key2ds"


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=30).stdout.strip()


class SignedRoot:
    """nsd on 127.0.0.1:PORT serving ".", "good." and "broken.", signed at start."""

    def __init__(self) -> None:
        self.nsd = require_tool(NSD_BIN, "nsd")
        for tool in (KEYGEN, SIGNZONE, KEY2DS):
            require_tool(tool, "ldnsutils")
        self.tmp = tempfile.mkdtemp(prefix="nsd-root-")
        self.port = free_port()
        self.proc = None
        self.anchor = os.path.join(self.tmp, "root.anchor")

    def _write(self, name: str, text: str) -> None:
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(text)

    def _sign(self, zone: str, file: str) -> str:
        key = _run([KEYGEN, "-a", "ECDSAP256SHA256", "-k", zone], self.tmp)
        _run([SIGNZONE, "-n", "-o", zone, file, key], self.tmp)
        return key

    def start(self) -> "SignedRoot":
        root = ("$TTL 300\n"
                ". IN SOA ns. hostmaster. 1 3600 600 86400 300\n"
                ". IN NS ns.\nns. IN A 127.0.0.1\n")
        for child, address in (("good", "192.0.2.10"), ("broken", "192.0.2.20")):
            self._write(f"{child}.zone",
                        f"$TTL 300\n{child}. IN SOA ns.{child}. h.{child}. 1 3600 600 86400 300\n"
                        f"{child}. IN NS ns.{child}.\nns.{child}. IN A 127.0.0.1\n"
                        f"www.{child}. IN A {address}\n")
            key = self._sign(f"{child}.", f"{child}.zone")
            ds = _run([KEY2DS, "-n", "-2", f"{key}.key"], self.tmp)
            root += f"{child}. IN NS ns.{child}.\nns.{child}. IN A 127.0.0.1\n{ds}\n"
        self._write("root.zone", root)
        key = self._sign(".", "root.zone")
        shutil.copy(os.path.join(self.tmp, f"{key}.key"), self.anchor)
        signed = os.path.join(self.tmp, "broken.zone.signed")
        with open(signed) as f:
            text = f.read()
        broken = text.replace("192.0.2.20", "192.0.2.99")
        assert broken != text, "the broken zone's A record was not found"
        with open(signed, "w") as f:
            f.write(broken)
        zones = "".join(f'zone:\n  name: "{z}"\n  zonefile: "{f}"\n' for z, f in
                        ((".", "root.zone.signed"), ("good.", "good.zone.signed"),
                         ("broken.", "broken.zone.signed")))
        self._write("nsd.conf",
                    f"server:\n  ip-address: 127.0.0.1@{self.port}\n  port: {self.port}\n"
                    f'  username: ""\n  chroot: ""\n  zonesdir: "{self.tmp}"\n'
                    f'  database: ""\n  pidfile: "{self.tmp}/nsd.pid"\n'
                    f'  xfrdfile: "{self.tmp}/xfrd.state"\n'
                    f'  zonelistfile: "{self.tmp}/zone.list"\n'
                    f'  logfile: "{self.tmp}/nsd.log"\n  server-count: 1\n'
                    "remote-control:\n  control-enable: no\n" + zones)
        self.proc = subprocess.Popen([self.nsd, "-d", "-c", os.path.join(self.tmp, "nsd.conf")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.tmp,
                                     preexec_fn=_pdeathsig)
        _register_child(self.proc)

        def answers() -> bool:
            from harness import exchange
            wire = exchange(make_query("www.good.", "A").to_wire(), self.port, timeout=0.5)
            return wire is not None and answer_values(parse(wire)) == ["192.0.2.10"]
        wait_until(answers, 10.0, what="nsd serving the signed root")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _kill_pid(self.proc)
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "SignedRoot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


HEALTH = {"interval": "200ms", "timeout": "150ms", "fall": 3, "rise": 3, "hold_down": "2s"}


class LastResortTest(unittest.TestCase):
    def test_stale_first_then_last_resort_validated_and_bogus(self):
        with SignedRoot() as root, Unbound(ttl=1) as ub, Steadfast(
                [ub.uri], health=HEALTH,
                last_resort={"enabled": True, "dnssec": True, "trust_anchor_file": root.anchor,
                             "root_servers": [f"127.0.0.1:{root.port}"]}) as d:
            self.assertEqual(answer_values(d.query("www.example.test")), ["127.0.0.10"])
            self.assertEqual(d.metric("steadfast_active_tier", tier="last_resort"), 0)

            ub.freeze()
            wait_until(lambda: d.metric("steadfast_active_tier", tier="last_resort") == 1, 10.0,
                       what="the last resort active")
            self.assertEqual(d.metric("steadfast_active_tier", tier="primary"), 0)
            status, body, _ = http_get(d.http_port, "/readyz")
            self.assertEqual(status, 200, body)

            # 1. a name in the cache (TTL 1 s, expired by now or soon): the stale answer
            #    comes first (EDE 3), not the last resort
            stale = wait_until(lambda: (lambda m: m if 3 in ede_codes(m) else None)(
                d.query("www.example.test")), 5.0, what="a stale answer")
            self.assertEqual(answer_values(stale), ["127.0.0.10"])
            self.assertIn(3, ede_codes(stale))

            # 2. a signed name never seen: the last resort, validated, AD for a DO client
            good = d.query("www.good.", do=True)
            self.assertEqual(good.rcode(), dns.rcode.NOERROR, good)
            self.assertEqual(answer_values(good), ["192.0.2.10"])
            self.assertTrue(good.flags & dns.flags.AD, good)
            # without DO or AD the answer carries no AD bit
            plain = d.query("www.good.")
            self.assertEqual(answer_values(plain), ["192.0.2.10"])
            self.assertFalse(plain.flags & dns.flags.AD, plain)

            # 3. a name whose signature is broken: SERVFAIL with EDE 6 (DNSSEC Bogus)
            bogus = d.query("www.broken.")
            self.assertEqual(bogus.rcode(), dns.rcode.SERVFAIL, bogus)
            self.assertEqual(answer_values(bogus), [])
            self.assertIn(6, ede_codes(bogus))

            text = d.metrics()
            self.assertGreaterEqual(
                metric_value(text, "steadfast_responses_total", rcode="NOERROR",
                             source="last_resort") or 0, 2, text)
            self.assertGreaterEqual(
                metric_value(text, "steadfast_responses_total", rcode="SERVFAIL",
                             source="last_resort") or 0, 1, text)
            self.assertGreaterEqual(
                metric_value(text, "steadfast_responses_total", rcode="NOERROR",
                             source="stale") or 0, 1, text)

            # the tier comes back: the last resort is no longer active
            ub.thaw()
            wait_until(lambda: d.metric("steadfast_active_tier", tier="last_resort") == 0, 15.0,
                       what="the primary tier back")
            self.assertEqual(d.metric("steadfast_active_tier", tier="primary"), 1)

    def test_disabled_last_resort_is_servfail_and_not_ready(self):
        with SignedRoot() as root, Unbound() as ub, Steadfast(
                [ub.uri], health=HEALTH,
                last_resort={"enabled": False, "root_servers": [f"127.0.0.1:{root.port}"]}) as d:
            ub.freeze()
            wait_until(lambda: http_get(d.http_port, "/readyz")[0] == 503, 10.0,
                       what="/readyz 503 with every tier down")
            self.assertEqual(d.metric("steadfast_active_tier", tier="last_resort"), 0)
            r = d.query("www.good.")
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
            self.assertTrue({22, 23} & set(ede_codes(r)), r)


if __name__ == "__main__":
    unittest.main()
