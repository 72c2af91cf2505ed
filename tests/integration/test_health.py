# SPDX-License-Identifier: Apache-2.0
"""Health-checked failover tiers (issue #5), with real processes on loopback: Debian's unbound
(frozen with SIGSTOP to blackhole it) and scripted upstreams, at least two tiers each.

Every scenario runs a bounded fixed-rate load of unique names (LoadClient) and checks what the
clients saw (no failures, which upstream answered, when), the metrics (steadfast_upstream_up,
steadfast_active_tier, steadfast_failovers_total, ...) and the log lines for health and tier
changes. Times are short (interval 200 ms, hold_down 2 s) so the file runs in about a minute.
"""

import contextlib
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.rcode  # noqa: E402

from harness import (LoadClient, ScriptedUpstream, Steadfast, Unbound, answer,  # noqa: E402
                     answer_values, delay, drop, drop_share, ede_codes, http_get,
                     metric_value, parse_metrics, refused, servfail, wait_until)

# -- the timing every scenario uses -----------------------------------------------------------

INTERVAL = 0.2        # [health] interval
PROBE_TIMEOUT = 0.15  # [health] timeout
FALL = 3
RISE = 3
HOLD_DOWN = 2.0       # [health] hold_down
HEALTH = {"interval": "200ms", "timeout": "150ms", "fall": FALL, "rise": RISE,
          "hold_down": "2s"}
BUDGET = 1.5          # [server] query_budget (the harness default)
SLACK = 0.5           # scheduling slack (ASan build, loaded 2-core box, 2 tests in parallel)
# Upper bound on "the health state noticed": fall (or rise) outcomes at the probe interval
# (+10% jitter) plus one probe timeout, plus slack for the loaded box.
NOTICE = FALL * INTERVAL * 1.1 + PROBE_TIMEOUT + 1.0
# Upper bound on "traffic is back on the recovered tier": rise probes, hold_down, slack.
FAILBACK_MAX = RISE * INTERVAL * 1.1 + PROBE_TIMEOUT + HOLD_DOWN + 2.5

ZONE = "lb.test"
PRIMARY_ADDR = "127.0.0.21"
PRIMARY2_ADDR = "127.0.0.23"
UNION_ADDR = "127.0.0.22"

TOKEN = "it-token-0123456789abcdef"


def api_post(d, path, body=None, token=TOKEN, timeout=5.0):
    """(status, parsed JSON body) of POST http://127.0.0.1:HTTP/path on the daemon `d`."""
    data = b"" if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{d.http_port}{path}", data=data,
                                 method="POST")
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")


@contextlib.contextmanager
def token_file():
    """A file holding TOKEN, removed afterwards."""
    tmp = tempfile.mkdtemp(prefix="steadfast-token-")
    path = os.path.join(tmp, "api.token")
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    try:
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- log lines (contract: info level) --------------------------------------------------------

_TS_RX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z?\s")
_HEALTH_RX = re.compile(r"health: (\S+) in tier '([^']*)': (unknown|healthy|unhealthy) -> "
                        r"(unknown|healthy|unhealthy) \(last: ([a-z_]+), (probe|passive)\)")
_TIER_RX = re.compile(r"\b(failover|failback): tier '([^']*)' -> '([^']*)'")


def _log_time(line):
    m = _TS_RX.match(line)
    if not m:
        return None
    return datetime.datetime.fromisoformat(m.group(1)).timestamp()


def health_events(log, uri=None):
    """[(t, uri, tier, from, to, last_outcome, source)] of the health state-change lines."""
    out = []
    for line in log.splitlines():
        m = _HEALTH_RX.search(line)
        if m and (uri is None or m.group(1) == uri):
            out.append((_log_time(line), *m.groups()))
    return out


def tier_events(log):
    """[(t, "failover"|"failback", from, to)] of the tier-change lines."""
    out = []
    for line in log.splitlines():
        m = _TIER_RX.search(line)
        if m:
            out.append((_log_time(line), *m.groups()))
    return out


# -- metrics ------------------------------------------------------------------------------------

def up_value(text, tier, uri):
    return metric_value(text, "steadfast_upstream_up", tier=tier, upstream=uri)


def active_value(text, tier):
    return metric_value(text, "steadfast_active_tier", tier=tier)


def failovers(text, frm, to):
    return metric_value(text, "steadfast_failovers_total", **{"from": frm, "to": to}) or 0.0


def health_metrics(text):
    """The health-related samples, for assertion messages."""
    keep = ("steadfast_upstream_up", "steadfast_active_tier", "steadfast_failovers_total",
            "steadfast_upstream_errors_total", "steadfast_health_probes_total")
    return "\n".join(f"  {n}{lab} {v:g}" for n, lab, v in parse_metrics(text) if n in keep)


def two_tiers(primary, union, policy="ordered"):
    return [{"name": "primary", "policy": policy, "upstreams": list(primary)},
            {"name": "union", "policy": "ordered", "upstreams": list(union), "union": True}]


def script_answers(up, address):
    """A ScriptedUpstream that answers every A query with `address` and probes normally."""
    up.unscript("*")
    up.script("*", answer(address, ttl=300), rdtype="A")


def script_everything(up, action):
    """Every query (client traffic and the ". NS" probe) gets `action`."""
    up.script("*", action)
    up.script("*", action, rdtype="A")


class Health(unittest.TestCase):

    # -- helpers ----------------------------------------------------------------------------

    def setUp(self):
        self.events = []
        self.t_base = time.monotonic()

    def tearDown(self):
        if os.environ.get("STEADFAST_TEST_VERBOSE"):
            sys.stderr.write(f"\n[{self.id()}] {self.timeline()}\n")

    def mark(self, what):
        self.events.append((time.monotonic(), what))

    def timeline(self, t0=None):
        t0 = self.t_base if t0 is None else t0
        return "timeline: " + "; ".join(f"+{t - t0:.3f}s {w}" for t, w in self.events)

    def ctx(self, d, summary=None):
        """Context for an assertion message: timeline, load summary, health metrics, log lines."""
        parts = [self.timeline(summary.started if summary else None)]
        if summary is not None:
            parts.append(summary.report())
        try:
            parts.append("metrics:\n" + health_metrics(d.metrics()))
        except Exception as e:  # noqa: BLE001 - diagnostics only
            parts.append(f"metrics unavailable: {e!r}")
        log = d.log()
        lines = [ln for ln in log.splitlines()
                 if _HEALTH_RX.search(ln) or _TIER_RX.search(ln)]
        parts.append("health/tier log lines:\n  " + "\n  ".join(lines[-40:]))
        return "\n".join(parts)

    def wait_healthy(self, d, tier, uris, timeout=5.0):
        """Every upstream has left Unknown for Healthy (log) and reports up 1."""
        def ok():
            log = d.log()
            text = d.metrics()
            for uri in uris:
                if not any(e[4] == "healthy" for e in health_events(log, uri)):
                    return False
                if up_value(text, tier, uri) != 1:
                    return False
            return True
        try:
            wait_until(ok, timeout, what=f"{uris} in tier {tier!r} to become healthy")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.ctx(d)}") from None

    def wait_metric(self, d, pred, timeout, what):
        """Polls /metrics until pred(text) holds; returns the seconds it took."""
        t0 = time.monotonic()
        try:
            wait_until(lambda: pred(d.metrics()), timeout, interval=0.02, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.ctx(d)}") from None
        return time.monotonic() - t0

    def assert_no_failures(self, d, s, what=""):
        fails = s.failures()
        self.assertEqual(len(fails), 0,
                         f"{what}{len(fails)} client queries failed (timeout, SERVFAIL or no "
                         f"address)\n{self.ctx(d, s)}")
        self.assertLess(s.max_latency(), BUDGET + SLACK,
                        f"{what}an answer took longer than query_budget\n{self.ctx(d, s)}")

    def assert_only(self, d, s, records, address, what):
        others = [r for r in records if r.addresses != [address]]
        self.assertTrue(records, f"{what}: no answers in that window\n{self.ctx(d, s)}")
        self.assertEqual(others, [],
                         f"{what}: {len(others)} of {len(records)} answers not from {address}, "
                         f"e.g. {[r.describe(s.started) for r in others[:5]]}\n{self.ctx(d, s)}")

    def assert_mostly(self, d, s, records, address, what, share=0.95):
        """At least `share` of `records` came from `address`. For windows where another
        upstream could still answer first when the expected one stalls for longer than the
        adaptive wait (50 ms floor) on a loaded box."""
        hits = [r for r in records if r.addresses == [address]]
        self.assertTrue(records, f"{what}: no answers in that window\n{self.ctx(d, s)}")
        self.assertGreaterEqual(len(hits), share * len(records),
                                f"{what}: only {len(hits)} of {len(records)} answers from "
                                f"{address}\n{self.ctx(d, s)}")

    def assert_failback_after_hold_down(self, d, s, t_recovered, what):
        """The first primary answer after the primary recovered (at t_recovered) comes no
        earlier than hold_down and no later than FAILBACK_MAX, and traffic then stays there."""
        first = s.first_answer_from(PRIMARY_ADDR, after=t_recovered)
        self.assertIsNotNone(first, f"{what}: no answer from the primary after it recovered "
                             f"(load ran {s.ended - t_recovered:.1f}s longer)\n{self.ctx(d, s)}")
        back = first.received - t_recovered
        self.mark(f"first primary answer after recovery (+{back:.3f}s after it)")
        self.assertGreaterEqual(back, HOLD_DOWN - 0.02,
                                f"{what}: traffic went back to the primary {back:.3f}s after it "
                                f"recovered, before hold_down {HOLD_DOWN}s\n{self.ctx(d, s)}")
        self.assertLessEqual(back, FAILBACK_MAX,
                             f"{what}: traffic back on the primary only {back:.3f}s after it "
                             f"recovered (rise {RISE} x {INTERVAL}s + hold_down {HOLD_DOWN}s)"
                             f"\n{self.ctx(d, s)}")
        self.assert_mostly(d, s, s.received_between(first.received + 0.5, s.ended + 1),
                           PRIMARY_ADDR, f"{what}: after failback")

    def assert_one_failover_and_failback(self, d, s, primary_uri, kind, what):
        text = d.metrics()
        log = d.log()
        self.assertEqual(failovers(text, "primary", "union"), 1,
                         f"{what}: failovers_total{{from=primary,to=union}}\n{self.ctx(d, s)}")
        self.assertEqual(failovers(text, "union", "primary"), 1,
                         f"{what}: failovers_total{{from=union,to=primary}}\n{self.ctx(d, s)}")
        self.assertEqual(active_value(text, "primary"), 1, f"{what}\n{self.ctx(d, s)}")
        self.assertEqual(active_value(text, "union"), 0, f"{what}\n{self.ctx(d, s)}")
        self.assertEqual(active_value(text, "last_resort"), 0, f"{what}\n{self.ctx(d, s)}")
        self.assertEqual(up_value(text, "primary", primary_uri), 1, f"{what}\n{self.ctx(d, s)}")
        ev = health_events(log, primary_uri)
        downs = [e for e in ev if e[3] == "healthy" and e[4] == "unhealthy"]
        self.assertTrue(downs, f"{what}: no 'healthy -> unhealthy' line for {primary_uri}"
                        f"\n{self.ctx(d, s)}")
        self.assertEqual(downs[0][5], kind,
                         f"{what}: the down transition names last outcome {downs[0][5]!r}, "
                         f"want {kind!r}\n{self.ctx(d, s)}")
        self.assertEqual(downs[0][2], "primary")
        ups = [e for e in ev if e[3] == "unhealthy" and e[4] == "healthy"]
        self.assertTrue(ups, f"{what}: no 'unhealthy -> healthy' line\n{self.ctx(d, s)}")
        tiers = [(e[1], e[2], e[3]) for e in tier_events(log)]
        self.assertEqual(tiers, [("failover", "primary", "union"),
                                 ("failback", "union", "primary")],
                         f"{what}: tier-change log lines\n{self.ctx(d, s)}")

    # -- 1. primary frozen with SIGSTOP ---------------------------------------------------------

    def test_frozen_primary_fails_over_without_client_failures_and_fails_back(self):
        rate, duration = 300, 12.0
        freeze_at, thaw_at = 1.5, 5.0
        with Unbound(redirect={ZONE: PRIMARY_ADDR}) as p, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u, \
                Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                          failback={"mode": "auto"}) as d:
            self.wait_healthy(d, "primary", [p.uri])
            self.wait_healthy(d, "union", [u.uri])
            text = d.metrics()
            self.assertEqual(active_value(text, "primary"), 1, self.ctx(d))
            self.assertEqual(active_value(text, "union"), 0, self.ctx(d))

            lc = LoadClient(d.port, rate, duration, zone=ZONE).start()
            t_load = time.monotonic()
            self.t_base = t_load
            self.mark("load started")
            try:
                time.sleep(max(0.0, t_load + freeze_at - time.monotonic()))
                p.freeze()
                t_freeze = time.monotonic()
                self.mark("primary frozen (SIGSTOP)")
                took = self.wait_metric(
                    d, lambda t: up_value(t, "primary", p.uri) == 0, FALL * INTERVAL + 3.0,
                    "steadfast_upstream_up of the frozen primary to drop to 0")
                self.mark(f"upstream_up(primary) == 0 after {took:.3f}s")
                self.assertLessEqual(took, NOTICE,
                                     f"the frozen primary was marked down only after {took:.2f}s"
                                     f" (fall {FALL} x interval {INTERVAL}s)\n{self.ctx(d)}")
                time.sleep(max(0.0, t_load + thaw_at - 0.3 - time.monotonic()))
                text = d.metrics()
                self.assertEqual(active_value(text, "union"), 1,
                                 f"union is not the active tier while the primary is frozen\n"
                                 f"{self.ctx(d)}")
                self.assertEqual(active_value(text, "primary"), 0, self.ctx(d))
                self.assertEqual(failovers(text, "primary", "union"), 1, self.ctx(d))
                time.sleep(max(0.0, t_load + thaw_at - time.monotonic()))
            finally:
                p.thaw()
            t_thaw = time.monotonic()
            self.mark("primary thawed (SIGCONT)")
            s = lc.wait()
            self.mark("load done")

            self.assert_no_failures(d, s)
            self.assert_only(d, s, s.received_between(t_freeze + 0.3, t_thaw), UNION_ADDR,
                             "while the primary was frozen")
            self.assert_mostly(d, s, s.received_between(s.started, t_freeze - 0.05),
                               PRIMARY_ADDR, "before the freeze")
            self.assert_failback_after_hold_down(d, s, t_thaw, "after SIGCONT")
            self.assert_one_failover_and_failback(d, s, p.uri, "timeout", "frozen primary")
            text = d.metrics()
            self.assertGreaterEqual(
                metric_value(text, "steadfast_upstream_errors_total", tier="primary",
                             upstream=p.uri, kind="timeout") or 0, 1, self.ctx(d, s))
            self.assertGreaterEqual(
                metric_value(text, "steadfast_health_probes_total", tier="primary",
                             upstream=p.uri, outcome="timeout") or 0, 1,
                f"no probe timed out in {thaw_at - freeze_at}s frozen\n{self.ctx(d, s)}")
            self.assertGreaterEqual(
                metric_value(text, "steadfast_health_probes_total", tier="primary",
                             upstream=p.uri, outcome="ok") or 0, RISE, self.ctx(d, s))
            self.assertGreaterEqual(
                metric_value(text, "steadfast_upstream_rtt_seconds_count", tier="primary",
                             upstream=p.uri) or 0, 1,
                f"no steadfast_upstream_rtt_seconds samples for the primary\n{self.ctx(d, s)}")

    # -- 2. primary answers SERVFAIL / REFUSED ---------------------------------------------------

    def _failing_primary(self, action, kind):
        rate, duration = 300, 10.5
        fail_at, recover_at = 1.5, 4.0
        with ScriptedUpstream() as p, Unbound(redirect={ZONE: UNION_ADDR}) as u:
            script_answers(p, PRIMARY_ADDR)
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                           failback={"mode": "auto"}) as d:
                self.wait_healthy(d, "primary", [p.uri])
                self.wait_healthy(d, "union", [u.uri])
                lc = LoadClient(d.port, rate, duration, zone=ZONE).start()
                t_load = time.monotonic()
                self.t_base = t_load
                time.sleep(max(0.0, t_load + fail_at - time.monotonic()))
                script_everything(p, action)
                t_fail = time.monotonic()
                self.mark(f"primary answers {kind}")
                took = self.wait_metric(
                    d, lambda t: up_value(t, "primary", p.uri) == 0, FALL * INTERVAL + 3.0,
                    f"steadfast_upstream_up of the {kind} primary to drop to 0")
                self.mark(f"upstream_up(primary) == 0 after {took:.3f}s")
                self.assertLessEqual(took, NOTICE, self.ctx(d))
                time.sleep(max(0.0, t_load + recover_at - time.monotonic()))
                self.assertEqual(active_value(d.metrics(), "union"), 1, self.ctx(d))
                script_answers(p, PRIMARY_ADDR)
                t_recover = time.monotonic()
                self.mark("primary answers again")
                s = lc.wait()
                self.mark("load done")

                self.assert_no_failures(d, s, f"{kind} primary: ")
                self.assert_only(d, s, s.received_between(t_fail + 0.3, t_recover), UNION_ADDR,
                                 f"while the primary answered {kind}")
                self.assert_failback_after_hold_down(d, s, t_recover, f"{kind} primary")
                self.assert_one_failover_and_failback(d, s, p.uri, kind, f"{kind} primary")
                text = d.metrics()
                self.assertGreaterEqual(
                    metric_value(text, "steadfast_upstream_errors_total", tier="primary",
                                 upstream=p.uri, kind=kind) or 0, FALL, self.ctx(d, s))
                self.assertGreaterEqual(
                    metric_value(text, "steadfast_health_probes_total", tier="primary",
                                 upstream=p.uri, outcome=kind) or 0, 1,
                    f"no probe saw {kind}\n{self.ctx(d, s)}")

    def test_servfail_primary_fails_over_and_back(self):
        self._failing_primary(servfail(), "servfail")

    def test_refused_primary_fails_over_and_back(self):
        self._failing_primary(refused(), "refused")

    # -- 3. primary drops 30% -----------------------------------------------------------------

    def test_lossy_primary_no_client_failures_no_flapping(self):
        rate, duration = 300, 10.0
        t_start = time.monotonic()
        with ScriptedUpstream() as p, Unbound(redirect={ZONE: UNION_ADDR}) as u:
            p.script("*", drop_share(0.3, answer(PRIMARY_ADDR, ttl=300), seed=5), rdtype="A")
            p.script("*", drop_share(0.3, seed=6))                # the ". NS" probes
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                           failback={"mode": "auto"}) as d:
                s = LoadClient(d.port, rate, duration, zone=ZONE).run()
                self.t_base = s.started
                text = d.metrics()
                log = d.log()
                elapsed = time.monotonic() - t_start
                self.assert_no_failures(d, s, "30% loss: ")

                fo = failovers(text, "primary", "union")
                fb = failovers(text, "union", "primary")
                # 3000 queries, 30% lost: fall consecutive losses happen; else nothing was tested.
                self.assertGreaterEqual(fo, 1, f"never failed over\n{self.ctx(d, s)}")
                # Every failback needs hold_down on the lower tier; every later failover needs a
                # failback before it.
                self.assertLessEqual(fb, elapsed / HOLD_DOWN,
                                     f"{fb:g} failbacks in {elapsed:.1f}s with hold_down "
                                     f"{HOLD_DOWN}s\n{self.ctx(d, s)}")
                self.assertLessEqual(fo, fb + 1, self.ctx(d, s))
                self.assertGreaterEqual(fo, fb, self.ctx(d, s))
                self.assertLessEqual(fo, elapsed / HOLD_DOWN + 1, self.ctx(d, s))

                # The log agrees with the counters, and each failback came hold_down after the
                # primary last became healthy (and after the failover before it).
                tiers = tier_events(log)
                self.assertEqual(tiers[0][1:] if tiers else None, ("failover", "primary", "union"),
                                 self.ctx(d, s))
                self.assertEqual(sum(1 for e in tiers if e[1:] == ("failover", "primary", "union")),
                                 fo, self.ctx(d, s))
                self.assertEqual(sum(1 for e in tiers if e[1:] == ("failback", "union", "primary")),
                                 fb, self.ctx(d, s))
                ev = health_events(log, p.uri)
                for prev, cur in zip(ev, ev[1:]):
                    self.assertEqual(prev[4], cur[3], f"health lines do not chain: {prev} then "
                                     f"{cur}\n{self.ctx(d, s)}")
                    self.assertNotEqual(cur[3], cur[4], self.ctx(d, s))
                last_failover = None
                for t, kind, frm, to in tiers:
                    self.assertIsNotNone(t, "a tier log line without a timestamp")
                    if kind == "failover":
                        last_failover = t
                        continue
                    self.assertIsNotNone(last_failover, f"failback before any failover\n"
                                         f"{self.ctx(d, s)}")
                    self.assertGreaterEqual(t - last_failover, HOLD_DOWN - 0.02,
                                            f"failback {t - last_failover:.3f}s after the "
                                            f"failover\n{self.ctx(d, s)}")
                    before = [e for e in ev if e[0] <= t]
                    self.assertTrue(before and before[-1][4] == "healthy",
                                    f"failback while the primary was not healthy\n"
                                    f"{self.ctx(d, s)}")
                    self.assertGreaterEqual(t - before[-1][0], HOLD_DOWN - 0.02,
                                            f"failback {t - before[-1][0]:.3f}s after the primary"
                                            f" became healthy, hold_down {HOLD_DOWN}s\n"
                                            f"{self.ctx(d, s)}")

                # Hysteresis: each down transition needs `fall` failures, each up transition
                # `rise` successes (failures and successes over-counted, so the bounds hold).
                failures = sum(v for n, lab, v in parse_metrics(text)
                               if lab.get("upstream") == p.uri and (
                                   n == "steadfast_upstream_errors_total" or (
                                       n == "steadfast_health_probes_total"
                                       and lab.get("outcome") != "ok")))
                successes = (metric_value(text, "steadfast_health_probes_total", tier="primary",
                                          upstream=p.uri, outcome="ok") or 0) + \
                    (metric_value(text, "steadfast_upstream_queries_total", tier="primary",
                                  upstream=p.uri) or 0)
                downs = [e for e in ev if e[4] == "unhealthy"]
                ups = [e for e in ev if e[4] == "healthy" and e[3] == "unhealthy"]
                self.mark(f"{fo:g} failovers, {fb:g} failbacks, {len(downs)} down and "
                          f"{len(ups)} up transitions in {elapsed:.1f}s; failures {failures:g}, "
                          f"successes <= {successes:g}; {s.by_address()}")
                self.assertGreaterEqual(len(downs), 1, self.ctx(d, s))
                self.assertLessEqual(len(downs) * FALL, failures,
                                     f"{len(downs)} down transitions from {failures:g} failures"
                                     f"\n{self.ctx(d, s)}")
                self.assertLessEqual(len(ups) * RISE, successes,
                                     f"{len(ups)} up transitions from {successes:g} successes"
                                     f"\n{self.ctx(d, s)}")

    # -- 4. eight frozen primaries -------------------------------------------------------------

    def test_eight_frozen_primaries_union_answers_within_budget(self):
        with contextlib.ExitStack() as stack:
            prims = [stack.enter_context(Unbound(redirect={ZONE: f"127.0.0.{31 + i}"}))
                     for i in range(8)]
            union = stack.enter_context(Unbound(redirect={ZONE: UNION_ADDR}))
            uris = [ub.uri for ub in prims]
            d = stack.enter_context(Steadfast(tier=two_tiers(uris, [union.uri]), health=HEALTH,
                                              failback={"mode": "auto"}))
            self.wait_healthy(d, "primary", uris)
            self.wait_healthy(d, "union", [union.uri])
            for ub in prims:
                ub.freeze()          # Unbound.stop() (on the way out) thaws before SIGTERM
            t_freeze = time.monotonic()
            self.t_base = t_freeze
            self.mark("8 primaries frozen")
            # Before health has caught up: the first queries meet 4 frozen primaries first.
            lc = LoadClient(d.port, 300, 2.0, zone=ZONE).start()
            took = self.wait_metric(
                d, lambda t: all(up_value(t, "primary", uri) == 0 for uri in uris),
                FALL * INTERVAL + 4.0, "all 8 frozen primaries to be marked down")
            t_down = t_freeze + took
            self.mark(f"all 8 down after {took:.3f}s")
            before = lc.wait()
            self.mark("load 1 done")
            after = LoadClient(d.port, 100, 2.0, zone=ZONE, prefix="r").run()
            self.mark("load 2 done")
            for what, s in (("before and while health marked them down", before),
                            ("after health marked them down", after)):
                self.assert_no_failures(d, s, f"{what}: ")
                slow = [r for r in s.records if r.latency is None or r.latency >= BUDGET]
                self.assertEqual(slow, [], f"{what}: answers not within query_budget "
                                 f"{BUDGET}s\n{self.ctx(d, s)}")
                self.assert_only(d, s, s.answered(), UNION_ADDR, what)
            early = before.sent_between(t_freeze, t_down)
            self.assertTrue(early, f"no query was sent before the primaries were marked "
                            f"down\n{self.ctx(d, before)}")
            self.assertLess(after.quantile(0.5), 0.25,
                            f"with the primaries down the union tier should be asked first"
                            f"\n{self.ctx(d, after)}")
            text = d.metrics()
            self.assertEqual(active_value(text, "union"), 1, self.ctx(d, after))
            self.assertEqual(failovers(text, "primary", "union"), 1, self.ctx(d, after))

    # -- 5. /readyz ------------------------------------------------------------------------------

    def test_readyz_503_when_every_tier_is_down_200_when_one_recovers(self):
        with ScriptedUpstream() as p, ScriptedUpstream() as u:
            script_answers(p, PRIMARY_ADDR)
            script_answers(u, UNION_ADDR)
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                           failback={"mode": "auto"}) as d:
                self.wait_healthy(d, "primary", [p.uri])
                self.wait_healthy(d, "union", [u.uri])
                status, body, _ = http_get(d.http_port, "/readyz")
                self.assertEqual(status, 200, body)

                script_everything(p, drop())
                script_everything(u, drop())
                self.mark("every upstream drops everything")
                took = self.wait_metric(
                    d, lambda t: http_get(d.http_port, "/readyz", timeout=1.0)[0] == 503,
                    NOTICE + 1.0, "/readyz to answer 503")
                self.mark(f"/readyz 503 after {took:.3f}s")
                text = d.metrics()
                self.assertEqual(up_value(text, "primary", p.uri), 0, self.ctx(d))
                self.assertEqual(up_value(text, "union", u.uri), 0, self.ctx(d))
                self.assertTrue(d.healthz_ok(), "/healthz must stay 200")
                # A query now: SERVFAIL with EDE 22 (timeouts seen), within the budget.
                t0 = time.monotonic()
                r = d.query(f"down-{os.getpid()}.{ZONE}", timeout=BUDGET + 3)
                elapsed = time.monotonic() - t0
                self.assertEqual(r.rcode(), dns.rcode.SERVFAIL, str(r))
                self.assertEqual(ede_codes(r), [22], f"{r}\n{self.ctx(d)}")
                self.assertLess(elapsed, BUDGET + SLACK)

                script_answers(u, UNION_ADDR)
                self.mark("union answers again")
                took = self.wait_metric(
                    d, lambda t: http_get(d.http_port, "/readyz", timeout=1.0)[0] == 200,
                    RISE * INTERVAL * 1.1 + PROBE_TIMEOUT + 2.0, "/readyz to answer 200")
                self.mark(f"/readyz 200 after {took:.3f}s")
                self.assertEqual(up_value(d.metrics(), "union", u.uri), 1, self.ctx(d))
                self.assertEqual(up_value(d.metrics(), "primary", p.uri), 0, self.ctx(d))
                r = d.query(f"back-{os.getpid()}.{ZONE}", timeout=BUDGET + 3)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, str(r))
                self.assertEqual(answer_values(r), [UNION_ADDR])
                self.assertEqual(active_value(d.metrics(), "union"), 1, self.ctx(d))

    # -- 6. policies -----------------------------------------------------------------------------

    def test_round_robin_spreads_over_two_healthy_primaries(self):
        with ScriptedUpstream() as a, ScriptedUpstream() as b, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u:
            script_answers(a, PRIMARY_ADDR)
            script_answers(b, PRIMARY2_ADDR)
            with Steadfast(tier=two_tiers([a.uri, b.uri], [u.uri], policy="round-robin"),
                           health=HEALTH, failback={"mode": "auto"}) as d:
                self.wait_healthy(d, "primary", [a.uri, b.uri])
                s = LoadClient(d.port, 100, 3.0, zone=ZONE).run()
                self.t_base = s.started
                self.assert_no_failures(d, s)
                n = s.sent
                by = s.by_address()
                asked_a = len([q for q in a.queries_for() if q.name.endswith(f".{ZONE}.")])
                asked_b = len([q for q in b.queries_for() if q.name.endswith(f".{ZONE}.")])
                detail = f"answers {by}, asked a={asked_a} b={asked_b}\n{self.ctx(d, s)}"
                self.mark(f"round-robin: {n} queries, answers {by}, asked a={asked_a} "
                          f"b={asked_b}")
                for addr in (PRIMARY_ADDR, PRIMARY2_ADDR):
                    self.assertGreaterEqual(by.get(addr, 0), 0.35 * n, detail)
                self.assertLessEqual(by.get(UNION_ADDR, 0), 0.05 * n, detail)
                self.assertGreaterEqual(asked_a, 0.35 * n, detail)
                self.assertGreaterEqual(asked_b, 0.35 * n, detail)

    def test_fastest_prefers_the_faster_primary_and_still_measures_the_slower(self):
        with ScriptedUpstream() as slow, ScriptedUpstream() as fast, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u:
            slow.script("*", delay(30, answer(PRIMARY_ADDR, ttl=300)), rdtype="A")
            slow.script("*", delay(30, answer()))                 # probes are slow too
            script_answers(fast, PRIMARY2_ADDR)
            with Steadfast(tier=two_tiers([slow.uri, fast.uri], [u.uri], policy="fastest"),
                           health=HEALTH, failback={"mode": "auto"}) as d:
                self.wait_healthy(d, "primary", [slow.uri, fast.uri])
                time.sleep(RISE * INTERVAL * 1.1 + 0.3)            # a few probe RTTs each
                s = LoadClient(d.port, 200, 5.0, zone=ZONE).run()
                self.t_base = s.started
                self.assert_no_failures(d, s)
                n = s.sent
                by = s.by_address()
                asked_slow = len([q for q in slow.queries_for()
                                  if q.name.endswith(f".{ZONE}.")])
                detail = (f"answers {by}, the slower upstream was asked {asked_slow} times"
                          f"\n{self.ctx(d, s)}")
                self.mark(f"fastest: {n} queries, answers {by}, slower asked {asked_slow}")
                self.assertGreaterEqual(by.get(PRIMARY2_ADDR, 0), 0.75 * n, detail)
                self.assertGreaterEqual(asked_slow, 0.01 * n,
                                        f"fastest never re-measures the slower upstream: "
                                        f"{detail}")
                self.assertLessEqual(asked_slow, 0.25 * n, detail)
                self.assertLessEqual(by.get(UNION_ADDR, 0), 0.05 * n, detail)

    # -- 7. manual failback ----------------------------------------------------------------------

    def test_manual_failback_stays_on_union_after_primary_recovers(self):
        rate = 100
        fail_at, recover_at = 1.0, 2.5
        watch = RISE * INTERVAL + HOLD_DOWN + 2.5
        duration = recover_at + watch
        with ScriptedUpstream() as p, Unbound(redirect={ZONE: UNION_ADDR}) as u:
            script_answers(p, PRIMARY_ADDR)
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                           failback={"mode": "manual"}) as d:
                self.wait_healthy(d, "primary", [p.uri])
                lc = LoadClient(d.port, rate, duration, zone=ZONE).start()
                t_load = time.monotonic()
                self.t_base = t_load
                time.sleep(max(0.0, t_load + fail_at - time.monotonic()))
                script_everything(p, drop())
                self.mark("primary drops everything")
                self.wait_metric(d, lambda t: failovers(t, "primary", "union") == 1,
                                 NOTICE, "the failover to the union tier")
                self.mark("failed over")
                time.sleep(max(0.0, t_load + recover_at - time.monotonic()))
                script_answers(p, PRIMARY_ADDR)
                t_recover = time.monotonic()
                self.mark("primary answers again")
                took = self.wait_metric(
                    d, lambda t: up_value(t, "primary", p.uri) == 1,
                    RISE * INTERVAL * 1.1 + PROBE_TIMEOUT + 2.0, "the primary to be up again")
                self.mark(f"primary up after {took:.3f}s")
                s = lc.wait()
                self.mark("load done")
                self.assertGreaterEqual(s.ended - t_recover, watch - 0.5)

                self.assert_no_failures(d, s, "manual failback: ")
                self.assert_mostly(d, s, s.received_between(t_recover + 0.3, s.ended + 1),
                                   UNION_ADDR, "after the primary recovered (manual failback)")
                text = d.metrics()
                self.assertEqual(failovers(text, "primary", "union"), 1, self.ctx(d, s))
                self.assertEqual(failovers(text, "union", "primary"), 0, self.ctx(d, s))
                self.assertEqual(active_value(text, "union"), 1, self.ctx(d, s))
                self.assertEqual(active_value(text, "primary"), 0, self.ctx(d, s))
                self.assertEqual(up_value(text, "primary", p.uri), 1, self.ctx(d, s))
                self.assertEqual([e[1] for e in tier_events(d.log())], ["failover"],
                                 self.ctx(d, s))

    def test_operator_failback_and_drain_through_the_api(self):
        with token_file() as tf, ScriptedUpstream() as p, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u:
            script_answers(p, PRIMARY_ADDR)
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH,
                           failback={"mode": "manual"}, report={"api_token_file": tf}) as d:
                self.wait_healthy(d, "primary", [p.uri])
                # Writes need the token: none, or a wrong one, is refused and changes nothing.
                status, body = api_post(d, "/api/v1/failback", token=None)
                self.assertEqual(status, 401, body)
                status, body = api_post(d, "/api/v1/upstreams/drain",
                                        {"upstream": p.uri, "drain": True},
                                        token="wrong-token-0123456789")
                self.assertEqual(status, 401, body)
                self.assertEqual(active_value(d.metrics(), "primary"), 1)

                # Drain the primary: the union tier serves at once (no hold-down going down).
                status, body = api_post(d, "/api/v1/upstreams/drain",
                                        {"upstream": p.uri, "drain": True})
                self.assertEqual(status, 200, body)
                self.assertEqual(body.get("active_tier"), "union", body)
                r = d.query(f"drained.{ZONE}")
                self.assertEqual(answer_values(r), [UNION_ADDR], "a drained upstream was asked")
                self.assertEqual(p.queries_for(f"drained.{ZONE}"), [])
                self.assertEqual(failovers(d.metrics(), "primary", "union"), 1)
                status, body = api_post(d, "/api/v1/upstreams/drain",
                                        {"upstream": "dns://127.0.0.9:9", "drain": True})
                self.assertEqual(status, 404, body)

                # Undrain: with manual failback traffic stays on the union tier ...
                status, body = api_post(d, "/api/v1/upstreams/drain",
                                        {"upstream": p.uri, "drain": False})
                self.assertEqual(status, 200, body)
                time.sleep(HOLD_DOWN + 0.5)
                r = d.query(f"undrained.{ZONE}")
                self.assertEqual(answer_values(r), [UNION_ADDR], "failed back without an operator")
                # ... until the operator says so.
                status, body = api_post(d, "/api/v1/failback")
                self.assertEqual(status, 200, body)
                self.assertEqual(body.get("active_tier"), "primary", body)
                self.assertIs(body.get("changed"), True, body)
                r = d.query(f"back.{ZONE}")
                self.assertEqual(answer_values(r), [PRIMARY_ADDR])
                text = d.metrics()
                self.assertEqual(active_value(text, "primary"), 1)
                self.assertEqual(failovers(text, "union", "primary"), 1)
                self.assertIsNotNone(re.search(r"failback requested by an operator", d.log()))

    def test_a_token_file_too_short_stops_the_start(self):
        tmp = tempfile.mkdtemp(prefix="steadfast-token-")
        try:
            path = os.path.join(tmp, "short.token")
            with open(path, "w") as f:
                f.write("short\n")
            with ScriptedUpstream() as p:
                d = Steadfast(upstreams=[p.uri], report={"api_token_file": path}, start=False)
                with d:
                    d.spawn()
                    rc = d.wait_exit(10.0)
                    self.assertEqual(rc, 1, "a bad token file must be a bad configuration")
                    self.assertIn(path, d.log())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_api_is_disabled_without_a_token_file(self):
        with ScriptedUpstream() as p, ScriptedUpstream() as u:
            with Steadfast(tier=two_tiers([p.uri], [u.uri]), health=HEALTH) as d:
                status, body = api_post(d, "/api/v1/failback")
                self.assertEqual(status, 403, body)
                self.assertIn("api_token_file", body.get("error", ""))


if __name__ == "__main__":
    unittest.main()
