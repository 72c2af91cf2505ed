# SPDX-License-Identifier: Apache-2.0
"""The HTTP side: /metrics passes promtool and carries the documented families, /healthz."""

import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.rcode  # noqa: E402

from harness import (LOOPBACK, ScriptedUpstream, Steadfast, answer, http_get,  # noqa: E402
                     make_query, metric_types, metric_value, parse_metrics, read_tcp_message,
                     require_tool, servfail, wait_until)

# family -> (type, labels every sample must carry)
FAMILIES = {
    "steadfast_queries_total": ("counter", {"transport"}),
    "steadfast_responses_total": ("counter", {"rcode", "source"}),
    "steadfast_cache_hits_total": ("counter", set()),
    "steadfast_cache_misses_total": ("counter", set()),
    "steadfast_upstream_queries_total": ("counter", {"tier", "upstream"}),
    "steadfast_upstream_errors_total": ("counter", {"tier", "upstream", "kind"}),
    "steadfast_upstream_rtt_seconds": ("histogram", {"tier", "upstream"}),
    "steadfast_upstream_up": ("gauge", {"tier", "upstream"}),
    "steadfast_active_tier": ("gauge", {"tier"}),
    "steadfast_failovers_total": ("counter", {"from", "to"}),
    "steadfast_health_probes_total": ("counter", {"tier", "upstream", "outcome"}),
    "steadfast_refused_total": ("counter", {"reason"}),
    "steadfast_malformed_queries_total": ("counter", set()),
    "steadfast_dropped_queries_total": ("counter", set()),
    "steadfast_tcp_connections": ("gauge", {"transport"}),
    "steadfast_tcp_connections_rejected_total": ("counter", set()),
    "steadfast_build_info": ("gauge", {"version"}),
}

# spec/interface.md names six kinds; FORMERR, NOTIMP and malformed answers are kinds of their
# own since the failover issue (docs/architecture.md, "Metrics beyond spec/interface.md").
ERROR_KINDS = {"timeout", "servfail", "refused", "formerr", "notimp", "network", "tls",
               "mismatch", "malformed"}


class Metrics(unittest.TestCase):

    def test_metrics_pass_promtool_and_have_the_families(self):
        promtool = require_tool("promtool", "prometheus")
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("m.example.test", answer("127.0.0.80", ttl=300))
            up.script("sf.example.test", servfail())
            # Traffic: a miss, hits, TCP, an upstream SERVFAIL, a malformed query, garbage.
            self.assertEqual(d.query("m.example.test").rcode(), dns.rcode.NOERROR)
            for _ in range(3):
                self.assertEqual(d.query("m.example.test").rcode(), dns.rcode.NOERROR)
            self.assertEqual(d.query("m.example.test", tcp=True).rcode(), dns.rcode.NOERROR)
            self.assertEqual(d.query("sf.example.test").rcode(), dns.rcode.SERVFAIL)
            formerr = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07exa"
            self.assertIsNotNone(d.exchange(formerr, timeout=2), "no FORMERR for a bad body")
            self.assertIsNone(d.exchange(b"\x01\x02\x03", timeout=0.5))
            # Keep one TCP connection open while scraping.
            held = socket.create_connection((LOOPBACK, d.port), timeout=5)
            try:
                w = make_query("m.example.test", id=99).to_wire()
                held.sendall(len(w).to_bytes(2, "big") + w)
                self.assertIsNotNone(read_tcp_message(held, 3))

                def scraped():
                    text = d.metrics()
                    v = metric_value(text, "steadfast_malformed_queries_total")
                    return text if v and v >= 1 else None
                text = wait_until(scraped, 3, what="counters to reflect the traffic")
            finally:
                held.close()

            res = subprocess.run([promtool, "check", "metrics"], input=text,
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(res.returncode, 0,
                             f"promtool check metrics failed:\n{res.stdout}{res.stderr}")
            self.assertEqual((res.stdout + res.stderr).strip(), "",
                             f"promtool reported problems:\n{res.stdout}{res.stderr}")

            types = metric_types(text)
            samples = parse_metrics(text)
            for fam, (typ, labels) in FAMILIES.items():
                base = fam[:-len("_total")] if fam.endswith("_total") else fam
                declared = types.get(fam) or types.get(base)
                self.assertEqual(declared, typ, f"{fam}: # TYPE is {declared!r}, want {typ}")
                for name, lab, _ in samples:
                    if name == fam:
                        self.assertTrue(labels <= set(lab),
                                        f"{fam} sample lacks labels {labels - set(lab)}: {lab}")

            def v(name, **labels):
                x = metric_value(text, name, **labels)
                return 0.0 if x is None else x

            self.assertGreaterEqual(v("steadfast_queries_total", transport="udp"), 5)
            self.assertGreaterEqual(v("steadfast_queries_total", transport="tcp"), 2)
            self.assertGreaterEqual(v("steadfast_responses_total", source="upstream"), 1)
            self.assertGreaterEqual(v("steadfast_responses_total", source="cache"), 3)
            self.assertGreaterEqual(v("steadfast_responses_total", rcode="NOERROR")
                                    + v("steadfast_responses_total", rcode="noerror"), 4)
            self.assertGreaterEqual(v("steadfast_cache_hits_total"), 3)
            self.assertGreaterEqual(v("steadfast_cache_misses_total"), 2)
            up_q = [(lab, val) for n, lab, val in samples
                    if n == "steadfast_upstream_queries_total" and lab.get("tier") == "primary"
                    and lab.get("upstream", "").endswith(f":{up.port}")]
            self.assertTrue(up_q, "no steadfast_upstream_queries_total for the primary upstream")
            self.assertGreaterEqual(sum(val for _, val in up_q), 2)
            kinds = {lab.get("kind") for n, lab, _ in samples
                     if n == "steadfast_upstream_errors_total"}
            self.assertTrue(kinds <= ERROR_KINDS, f"unknown error kinds {kinds - ERROR_KINDS}")
            self.assertGreaterEqual(v("steadfast_upstream_errors_total", kind="servfail"), 1)
            self.assertGreaterEqual(v("steadfast_malformed_queries_total"), 1)
            self.assertGreaterEqual(v("steadfast_dropped_queries_total"), 1)
            self.assertEqual(v("steadfast_refused_total", reason="acl"), 0)
            self.assertGreaterEqual(v("steadfast_tcp_connections", transport="tcp"), 1,
                                    "an open TCP connection is not counted")
            self.assertEqual(v("steadfast_tcp_connections_rejected_total"), 0)
            # The failover plan: one healthy upstream, its tier active, last resort not.
            self.assertEqual(v("steadfast_upstream_up", tier="primary",
                               upstream=f"dns://127.0.0.1:{up.port}"), 1)
            self.assertEqual(v("steadfast_active_tier", tier="primary"), 1)
            self.assertEqual(v("steadfast_active_tier", tier="last_resort"), 0)
            self.assertGreaterEqual(v("steadfast_health_probes_total", tier="primary",
                                      outcome="ok"), 1, "no successful health probe counted")
            build = [lab for n, lab, val in samples if n == "steadfast_build_info" and val == 1]
            self.assertTrue(build and build[0].get("version"), "steadfast_build_info{version}=1")
            for n, lab, val in samples:
                if n.endswith("_total"):
                    self.assertGreaterEqual(val, 0, f"negative counter {n}{lab}")

            # Counters only go up.
            d.query("m.example.test")
            again = d.metrics()
            self.assertGreater(metric_value(again, "steadfast_queries_total"),
                               metric_value(text, "steadfast_queries_total"))

    def test_healthz_and_content_type(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            status, _, _ = http_get(d.http_port, "/healthz")
            self.assertEqual(status, 200)
            status, body, headers = http_get(d.http_port, "/metrics")
            self.assertEqual(status, 200)
            ctype = {k.lower(): val for k, val in headers.items()}.get("content-type", "")
            self.assertTrue(ctype.startswith("text/plain"), f"Content-Type {ctype!r}")
            self.assertIn("steadfast_build_info", body)

    def test_readyz_needs_a_usable_upstream(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            status, _, _ = http_get(d.http_port, "/readyz")
            self.assertEqual(status, 200)
        # A tls:// upstream with nothing listening on its port cannot answer: once its probes
        # have failed it is down and the process is not ready, while it is itself healthy.
        with Steadfast(upstreams=["tls://127.0.0.1:853#dot.example.test"]) as d:
            wait_until(lambda: http_get(d.http_port, "/readyz")[0] == 503, timeout=15)
            status, _, _ = http_get(d.http_port, "/healthz")
            self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
