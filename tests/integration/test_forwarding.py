# SPDX-License-Identifier: Apache-2.0
"""Forwarding and caching through the real daemon: scripted upstreams, Debian's unbound, dig."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

from harness import (ScriptedUpstream, Steadfast, Unbound, answer, answer_values,  # noqa: E402
                     free_port, nxdomain, require_tool)


class Forwarding(unittest.TestCase):

    def test_answer_forwarded(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("www.example.test", answer("127.0.0.10", "127.0.0.11", ttl=300))
            r = d.query("www.example.test", "A", id=0x1234)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(r.id, 0x1234)
            self.assertTrue(r.flags & dns.flags.QR)
            self.assertEqual(answer_values(r), ["127.0.0.10", "127.0.0.11"])
            self.assertTrue(all(0 < ttl <= 300 for ttl in (s.ttl for s in r.answer)))
            self.assertEqual(len(up.queries_for("www.example.test", "A")), 1)

    def test_second_answer_from_cache_with_ttl_counted_down(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("cached.example.test", answer("127.0.0.20", ttl=300))
            r1 = d.query("cached.example.test")
            self.assertEqual(answer_values(r1), ["127.0.0.20"])
            ttl1 = r1.answer[0].ttl
            time.sleep(1.1)
            r2 = d.query("cached.example.test")
            self.assertEqual(r2.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r2), ["127.0.0.20"])
            ttl2 = r2.answer[0].ttl
            self.assertLess(ttl2, ttl1, f"TTL not counted down: first {ttl1}, then {ttl2}")
            self.assertGreaterEqual(ttl2, ttl1 - 3)
            # TCP client is served from the same cache.
            r3 = d.query("cached.example.test", tcp=True)
            self.assertEqual(answer_values(r3), ["127.0.0.20"])
            self.assertEqual(len(up.queries_for("cached.example.test")), 1,
                             "upstream should have seen exactly one query")

    def test_qname_case_and_id_restored(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("case.example.test", answer("127.0.0.30", ttl=300))
            # Cache miss: mixed case in, same case out.
            r = d.query("CaSe.ExAmPlE.test", id=0x4321)
            self.assertEqual(r.id, 0x4321)
            self.assertEqual(r.question[0].name.to_text(), "CaSe.ExAmPlE.test.")
            self.assertEqual(answer_values(r), ["127.0.0.30"])
            # Cache hit with another spelling and ID.
            r = d.query("cAsE.eXaMpLe.TEST", id=0x0007)
            self.assertEqual(r.id, 0x0007)
            self.assertEqual(r.question[0].name.to_text(), "cAsE.eXaMpLe.TEST.")
            self.assertEqual(r.answer[0].name.to_text().lower(), "case.example.test.")
            self.assertEqual(answer_values(r), ["127.0.0.30"])
            r = d.query("case.example.test", id=0xFFFF, tcp=True)
            self.assertEqual(r.id, 0xFFFF)
            self.assertEqual(r.question[0].name.to_text(), "case.example.test.")
            self.assertEqual(len(up.queries_for("case.example.test")), 1)

    def test_nxdomain_cached_bounded_by_soa_minimum(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("nx.example.test", nxdomain(soa_ttl=3600, soa_minimum=2))
            r = d.query("nx.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            self.assertTrue(any(s.rdtype == dns.rdatatype.SOA for s in r.authority),
                            f"no SOA in the authority section: {r}")
            r = d.query("nx.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            soa = [s for s in r.authority if s.rdtype == dns.rdatatype.SOA]
            self.assertTrue(soa, "cached NXDOMAIN lost its SOA")
            self.assertLessEqual(soa[0].ttl, 2, "negative TTL must be min(SOA TTL, MINIMUM)")
            self.assertEqual(len(up.queries_for("nx.example.test")), 1,
                             "the NXDOMAIN was not cached")
            time.sleep(2.6)
            r = d.query("nx.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            self.assertGreaterEqual(len(up.queries_for("nx.example.test")), 2,
                                    "negative entry outlived the SOA minimum (2 s)")

    def test_do_bit_and_edns_buffer_size_sent_upstream(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            r = d.query("do.example.test", "A", do=True, payload=4096)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            qs = up.queries_for("do.example.test")
            self.assertEqual(len(qs), 1)
            self.assertGreaterEqual(qs[0].edns, 0, "no EDNS OPT record in the upstream query")
            self.assertTrue(qs[0].do, "client's DO bit not passed upstream")
            self.assertEqual(qs[0].payload, 1232,
                             "upstream query must advertise edns_buffer_size (1232)")
            # Also without DO from the client, EDNS 1232 is advertised.
            d.query("nodo.example.test", "A", edns=False)
            qs = up.queries_for("nodo.example.test")
            self.assertEqual(len(qs), 1)
            self.assertGreaterEqual(qs[0].edns, 0)
            self.assertEqual(qs[0].payload, 1232)

    def test_client_subnet_only_to_tiers_that_ask(self):
        # RFC 7871 option from the client: removed by default (a forwarder must not leak the
        # client's network to every upstream), passed on by a tier with send_client_subnet.
        # ScriptedUpstream records the raw query: Debian has no server that reports ECS.
        ecs = dns.edns.ECSOption("198.51.100.0", 24)
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            r = d.query("ecs-off.example.test", "A", options=[ecs])
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            qs = up.queries_for("ecs-off.example.test")
            self.assertEqual(len(qs), 1)
            self.assertGreaterEqual(qs[0].edns, 0)
            self.assertEqual([code for code, _ in qs[0].options], [],
                             "client EDNS options must not reach the upstream")
        with ScriptedUpstream() as up, Steadfast(tier=[{
                "name": "primary", "policy": "ordered", "upstreams": [up.uri],
                "send_client_subnet": True}]) as d:
            r = d.query("ecs-on.example.test", "A", options=[ecs])
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            qs = up.queries_for("ecs-on.example.test")
            self.assertEqual(len(qs), 1)
            self.assertEqual(qs[0].options, [(8, ecs.to_wire())])
            # A client without the option: none is made up.
            d.query("ecs-none.example.test", "A")
            self.assertEqual(up.queries_for("ecs-none.example.test")[0].options, [])
            # A malformed ECS option (scope set in a query) is FORMERR, RFC 7871 7.1.1.
            bad = dns.edns.GenericOption(8, bytes([0, 1, 24, 24, 198, 51, 100]))
            r = d.query("ecs-bad.example.test", "A", options=[bad])
            self.assertEqual(r.rcode(), dns.rcode.FORMERR)
            self.assertEqual(up.queries_for("ecs-bad.example.test"), [])

    def test_upstream_ids_and_source_ports_vary(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            n = 50
            for i in range(n):
                r = d.query(f"rand{i}.example.test", timeout=3)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            qs = [q for q in up.queries_for(transport="udp") if q.name.lower().startswith("rand")]
            self.assertGreaterEqual(len(qs), n)
            ports = {q.src_port for q in qs}
            ids = {q.id for q in qs}
            self.assertGreater(len(ports), 40, f"only {len(ports)} distinct source ports")
            self.assertGreater(len(ids), 40, f"only {len(ids)} distinct IDs")
            # Not sequential IDs either.
            seq = sorted(q.id for q in qs)
            self.assertFalse(all(b - a == 1 for a, b in zip(seq, seq[1:])), "IDs are sequential")

    def test_dig_and_kdig_as_clients(self):
        require_tool("dig", "dnsutils")
        kdig = require_tool("kdig", "knot-dnsutils")
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("dig.example.test", answer("127.0.0.40", ttl=120))
            up.script("dig.example.test", answer('"via dig"', ttl=120), rdtype="TXT")
            res = d.dig("dig.example.test", "A", "+short")
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            self.assertEqual(res.stdout.split(), ["127.0.0.40"])
            res = d.dig("dig.example.test", "A")
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            self.assertIn("status: NOERROR", res.stdout)
            res = d.dig("+tcp", "dig.example.test", "TXT", "+short")
            self.assertEqual(res.stdout.strip(), '"via dig"', res.stdout + res.stderr)
            res = subprocess.run([kdig, "@127.0.0.1", "-p", str(d.port), "+tcp", "+short",
                                  "+time=2", "+retry=0", "dig.example.test", "A"],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(res.stdout.split(), ["127.0.0.40"], res.stdout + res.stderr)

    def test_ipv6_listener(self):
        dig = require_tool("dig", "dnsutils")
        with ScriptedUpstream() as up:
            port = free_port()
            with Steadfast(upstreams=[up.uri],
                           server={"listen": [f"[::1]:{port}", f"127.0.0.1:{port}"],
                                   "allow": ["::1/128", "127.0.0.0/8"]}):
                up.script("six.example.test", answer("127.0.0.66", ttl=120))
                for transport in ("+notcp", "+tcp"):
                    res = subprocess.run([dig, "@::1", "-p", str(port), transport, "+short",
                                          "+time=2", "+tries=1", "six.example.test", "A"],
                                         capture_output=True, text=True, timeout=10)
                    self.assertEqual(res.stdout.split(), ["127.0.0.66"],
                                     f"{transport}: {res.stdout}{res.stderr}")

    def test_unbound_as_real_upstream(self):
        with Unbound(zone="example.test", ttl=300,
                     records={"www": ("A", "127.0.0.10"), "mail": ("A", "127.0.0.11")}) as ub, \
                Steadfast(upstreams=[ub.uri]) as d:
            r = d.query("www.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.10"])
            self.assertLessEqual(r.answer[0].ttl, 300)
            r = d.query("MAIL.example.test", tcp=True)
            self.assertEqual(answer_values(r), ["127.0.0.11"])
            self.assertEqual(r.question[0].name.to_text(), "MAIL.example.test.")
            r = d.query("missing.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            res = d.dig("www.example.test", "+short")
            self.assertEqual(res.stdout.split(), ["127.0.0.10"], res.stdout + res.stderr)


if __name__ == "__main__":
    unittest.main()
