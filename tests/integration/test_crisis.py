# SPDX-License-Identifier: Apache-2.0
"""Crisis mode (issue #6, deliverable 4) with real processes on loopback: two Debian unbound
upstreams, a primary tier and a `union = true` tier, each answering every name under the zone
with its own address (redirect zones), so each answer tells which upstream served it.

Covered so far: `[crisis] mode = "union-only"` at start sends client queries only to the union
tier. Not yet covered (the directive poller is not wired): signed directives, rejection of
forged/expired/replayed ones, the mode across a restart.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Steadfast, Unbound, answer_values, metric_value, wait_until  # noqa: E402

ZONE = "crisis.test"
PRIMARY_ADDR = "127.0.0.31"
UNION_ADDR = "127.0.0.32"
HEALTH = {"interval": "200ms", "timeout": "150ms", "fall": 3, "rise": 3, "hold_down": "2s"}


def two_tiers(primary, union):
    return [{"name": "primary", "policy": "ordered", "upstreams": [primary]},
            {"name": "union", "policy": "ordered", "upstreams": [union], "union": True}]


class CrisisTest(unittest.TestCase):
    def run_mode(self, mode):
        with Unbound(redirect={ZONE: PRIMARY_ADDR}) as p, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u, \
                Steadfast(tier=two_tiers(p.uri, u.uri), health=HEALTH,
                          crisis={"mode": mode}) as d:
            def both_up():
                text = d.metrics()
                return (metric_value(text, "steadfast_upstream_up", tier="primary",
                                     upstream=p.uri) == 1 and
                        metric_value(text, "steadfast_upstream_up", tier="union",
                                     upstream=u.uri) == 1)
            wait_until(both_up, 10.0)
            seen = set()
            for i in range(20):
                r = d.query(f"q{i}.{ZONE}")
                self.assertIsNotNone(r, f"no answer for q{i}\n{d.log()}")
                seen.update(answer_values(r))
            text = d.metrics()
            primary_queries = metric_value(text, "steadfast_upstream_queries_total",
                                           tier="primary", upstream=p.uri) or 0
            return seen, primary_queries, d.log()

    def test_union_only_by_config_sends_nothing_to_the_primary(self):
        seen, primary_queries, log = self.run_mode("union-only")
        self.assertEqual(seen, {UNION_ADDR}, log)
        self.assertEqual(primary_queries, 0, log)
        self.assertIn("crisis mode union-only (by config)", log)

    def test_auto_uses_the_primary(self):
        # The counterpart: the same setup in auto is served by the primary, so the test
        # above can fail.
        seen, primary_queries, log = self.run_mode("auto")
        self.assertEqual(seen, {PRIMARY_ADDR}, log)
        self.assertGreaterEqual(primary_queries, 20, log)


if __name__ == "__main__":
    unittest.main()
