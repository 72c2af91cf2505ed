# SPDX-License-Identifier: Apache-2.0
"""Failover between upstreams within the query budget, truncation, spoofed answers,
serve-stale and SERVFAIL with Extended DNS Errors."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

from harness import (ScriptedUpstream, Steadfast, answer, answer_values, drop,  # noqa: E402
                     ede_codes, parse_metrics, refused, servfail, truncate, wrong_id_first)

BUDGET = 1.5          # query_budget in the config below
SLACK = 0.5           # scheduling / loopback slack on top of the budget


def upstream_errors(text, port, kind):
    """steadfast_upstream_errors_total summed over samples whose upstream label names `port`."""
    total = 0.0
    for name, labels, value in parse_metrics(text):
        if (name == "steadfast_upstream_errors_total" and labels.get("kind") == kind
                and labels.get("upstream", "").endswith(f":{port}")):
            total += value
    return total


class Failover(unittest.TestCase):

    def timed_query(self, d, name, **kw):
        t0 = time.monotonic()
        r = d.query(name, timeout=BUDGET + 3, **kw)
        return r, time.monotonic() - t0

    def test_truncated_udp_answer_retried_over_tcp(self):
        data = [f"127.0.1.{i}" for i in range(1, 11)]
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("big.example.test", truncate(answer(*data, ttl=300)))
            r = d.query("big.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertFalse(r.flags & dns.flags.TC, "client got a truncated answer")
            self.assertEqual(answer_values(r), sorted(data))
            self.assertGreaterEqual(len(up.queries_for("big.example.test", transport="udp")), 1)
            self.assertGreaterEqual(len(up.queries_for("big.example.test", transport="tcp")), 1,
                                    "upstream never saw the TCP retry")

    def test_spoofed_wrong_id_ignored(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
            up.script("spoof.example.test",
                      wrong_id_first(answer("127.0.0.77", ttl=300), gap_ms=40,
                                     wrong_rdatas=["127.0.0.66"]))
            before = upstream_errors(d.metrics(), up.port, "mismatch")
            r = d.query("spoof.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.77"],
                             "the answer with the wrong ID was accepted")
            after = upstream_errors(d.metrics(), up.port, "mismatch")
            self.assertGreaterEqual(after - before, 1,
                                    "steadfast_upstream_errors_total{kind=\"mismatch\"} "
                                    "did not move")
            # The accepted (right) answer is what got cached.
            r = d.query("spoof.example.test")
            self.assertEqual(answer_values(r), ["127.0.0.77"])

    def test_dropping_upstream_fails_over_within_budget(self):
        with ScriptedUpstream() as up1, ScriptedUpstream() as up2, \
                Steadfast(upstreams=[up1.uri, up2.uri]) as d:
            up1.script("drop.example.test", drop())
            up2.script("drop.example.test", answer("127.0.0.2", ttl=300))
            r, elapsed = self.timed_query(d, "drop.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.2"])
            self.assertLess(elapsed, BUDGET, f"failover took {elapsed:.2f}s, budget {BUDGET}s")
            self.assertGreaterEqual(len(up1.queries_for("drop.example.test")), 1,
                                    "ordered policy: upstream 1 should be asked first")
            self.assertGreaterEqual(len(up2.queries_for("drop.example.test")), 1)
            first1 = min(q.time for q in up1.queries_for("drop.example.test"))
            first2 = min(q.time for q in up2.queries_for("drop.example.test"))
            # The wait before the next candidate is adaptive: srtt + 4 * rttvar of upstream 1,
            # at least 50 ms (100 ms while never measured), so upstream 2 is not asked at once.
            self.assertGreaterEqual(first2 - first1, 0.04,
                                    f"upstream 2 asked {first2 - first1:.3f}s after upstream 1, "
                                    "before the 50 ms floor of the adaptive wait")
            self.assertLess(first2 - first1, BUDGET)
            self.assertGreaterEqual(upstream_errors(d.metrics(), up1.port, "timeout"), 1)

    def _fails_over_on(self, action, kind):
        with ScriptedUpstream() as up1, ScriptedUpstream() as up2, \
                Steadfast(upstreams=[up1.uri, up2.uri]) as d:
            up1.script("bad.example.test", action)
            up2.script("bad.example.test", answer("127.0.0.3", ttl=300))
            r, elapsed = self.timed_query(d, "bad.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, f"{kind} from upstream 1 not retried")
            self.assertEqual(answer_values(r), ["127.0.0.3"])
            self.assertLess(elapsed, BUDGET)
            self.assertGreaterEqual(len(up1.queries_for("bad.example.test")), 1)
            self.assertGreaterEqual(len(up2.queries_for("bad.example.test")), 1)
            self.assertGreaterEqual(upstream_errors(d.metrics(), up1.port, kind), 1,
                                    f"steadfast_upstream_errors_total{{kind=\"{kind}\"}} "
                                    "did not move")

    def test_servfail_fails_over(self):
        self._fails_over_on(servfail(), "servfail")

    def test_refused_fails_over(self):
        self._fails_over_on(refused(), "refused")

    def test_serve_stale_when_all_upstreams_stop(self):
        up1, up2 = ScriptedUpstream(), ScriptedUpstream()
        with up1, up2, Steadfast(upstreams=[up1.uri, up2.uri],
                                 cache={"serve_stale": True, "stale_answer_ttl": "30s",
                                        "stale_max_age": "1h"}) as d:
            up1.script("stale.example.test", answer("127.0.0.50", ttl=1))
            up2.script("stale.example.test", answer("127.0.0.50", ttl=1))
            r = d.query("stale.example.test")
            self.assertEqual(answer_values(r), ["127.0.0.50"])
            up1.stop()
            up2.stop()
            time.sleep(1.5)
            r, elapsed = self.timed_query(d, "stale.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, f"no stale answer: {r}")
            self.assertEqual(answer_values(r), ["127.0.0.50"])
            self.assertEqual([s.ttl for s in r.answer], [30], "stale TTL must be 30 s")
            self.assertIn(3, ede_codes(r), f"no EDE 3 (Stale Answer) in {r.options}")
            self.assertLess(elapsed, BUDGET + SLACK)

    def test_all_upstreams_down_nothing_cached_servfail_with_ede(self):
        up1, up2 = ScriptedUpstream(), ScriptedUpstream()
        with up1, up2:
            up1.script("*", drop())                  # times out
            with Steadfast(upstreams=[up1.uri, up2.uri]) as d:
                up2.stop()                           # refuses (ICMP port unreachable)
                r, elapsed = self.timed_query(d, "gone.example.test")
                self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
                codes = ede_codes(r)
                # A timeout was seen (upstream 1): 22 (No Reachable Authority), not 23.
                self.assertEqual(codes, [22], f"SERVFAIL with EDE {codes}, want exactly [22]")
                self.assertLess(elapsed, BUDGET + SLACK)
                text = d.metrics()
                self.assertGreaterEqual(upstream_errors(text, up1.port, "timeout"), 1,
                                        "upstream 1 (dropping) was not counted as a timeout")
                self.assertGreaterEqual(upstream_errors(text, up2.port, "network"), 1,
                                        "upstream 2 (closed port) was not counted as a "
                                        "network error")
                # Still alive and serving afterwards.
                self.assertTrue(d.healthz_ok())
                self.assertTrue(d.alive())

    def test_all_upstreams_refuse_servfail_with_ede_network_error(self):
        up1, up2 = ScriptedUpstream(), ScriptedUpstream()
        with up1, up2:
            with Steadfast(upstreams=[up1.uri, up2.uri]) as d:
                up1.stop()                           # both refuse (ICMP port unreachable):
                up2.stop()                           # network errors only, no timeout
                r, elapsed = self.timed_query(d, "refused.example.test")
                self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
                codes = ede_codes(r)
                self.assertEqual(codes, [23], f"SERVFAIL with EDE {codes}, want exactly [23] "
                                 "(Network Error) when every failure was a network error")
                self.assertLess(elapsed, BUDGET + SLACK)
                text = d.metrics()
                for up in (up1, up2):
                    self.assertGreaterEqual(upstream_errors(text, up.port, "network"), 1,
                                            f"upstream {up.port} not counted as a network error")
                    self.assertEqual(upstream_errors(text, up.port, "timeout"), 0,
                                     f"a closed port {up.port} was counted as a timeout")
                self.assertTrue(d.healthz_ok())
                self.assertTrue(d.alive())

    def test_tcp_upstream_uri(self):
        with ScriptedUpstream() as up, Steadfast(upstreams=[up.tcp_uri]) as d:
            up.script("tcp.example.test", answer("127.0.0.60", ttl=300))
            r = d.query("tcp.example.test")            # client over UDP
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(answer_values(r), ["127.0.0.60"])
            self.assertEqual(up.queries_for("tcp.example.test", transport="udp"), [],
                             "tcp:// upstream was queried over UDP")
            self.assertGreaterEqual(len(up.queries_for("tcp.example.test", transport="tcp")), 1)
            r = d.query("tcp2.example.test", tcp=True)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(up.queries_for(transport="udp"), [])

    def test_tls_upstream_never_gets_plain_dns(self):
        # A tls:// upstream pointed at a plain-DNS server (scripted, over UDP and TCP) gets a
        # TLS ClientHello that never completes, never a DNS query in cleartext; the next
        # upstream answers.
        plain, backup = ScriptedUpstream(), ScriptedUpstream()
        with plain, backup:
            backup.script("dot.example.test", answer("127.0.0.70", ttl=300))
            tls_uri = f"tls://127.0.0.1:{plain.port}#dot.example.test"
            with Steadfast(upstreams=[tls_uri, backup.uri]) as d:
                r = d.query("dot.example.test")
                self.assertEqual(answer_values(r), ["127.0.0.70"])
                self.assertEqual(plain.queries_for("dot.example.test"), [],
                                 "plain DNS was sent to a tls:// upstream")


if __name__ == "__main__":
    unittest.main()
