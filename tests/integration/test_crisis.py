# SPDX-License-Identifier: Apache-2.0
"""Crisis mode (issue #6, deliverable 4) with real processes on loopback: two Debian unbound
upstreams, a primary tier and a `union = true` tier, each answering every name under the zone
with its own address (redirect zones), so each answer tells which upstream served it.

Covered: `[crisis] mode = "union-only"` at start sends client queries only to the union tier;
a directive signed at test time with openssl (Ed25519) switches to union-only, forged, expired
and replayed directives are rejected (mode unchanged, counted), the mode survives a restart
([state] dir/crisis.json), the directive's expiry returns to auto; POST /api/v1/crisis with and
without the token; a bad directive_public_key stops the start and --check-config.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Steadfast, Unbound, answer_values, metric_value, run_steadfast,  # noqa: E402
                     wait_until)

ZONE = "crisis.test"
PRIMARY_ADDR = "127.0.0.31"
UNION_ADDR = "127.0.0.32"
HEALTH = {"interval": "200ms", "timeout": "150ms", "fall": 3, "rise": 3, "hold_down": "2s"}
TOKEN = "crisis-it-token-0123456789abcdef"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def api_post(d, path, body, token=TOKEN, timeout=5.0):
    """(status, parsed JSON body) of POST http://127.0.0.1:HTTP/path on the daemon `d`."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.http_port}{path}",
                                 data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")


class Signer:
    """An Ed25519 key made by openssl, and directives written and signed with it."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.key = os.path.join(tmp, "k.pem")
        self.pub = os.path.join(tmp, "pub.pem")
        self.path = os.path.join(tmp, "d.json")
        self.url = "file://" + self.path
        subprocess.run([OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", self.key],
                       check=True, capture_output=True, timeout=10)
        subprocess.run([OPENSSL, "pkey", "-in", self.key, "-pubout", "-out", self.pub],
                       check=True, capture_output=True, timeout=10)

    def write(self, mode, issued_at, expires_at, issuer="it-ops", sign=True):
        doc = {"mode": mode, "issued_at": int(issued_at), "expires_at": int(expires_at),
               "issuer": issuer, "reason": "integration test"}
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        if sign:
            subprocess.run([OPENSSL, "pkeyutl", "-sign", "-rawin", "-inkey", self.key,
                            "-in", tmp, "-out", self.path + ".sig.new"],
                           check=True, capture_output=True, timeout=10)
            os.replace(self.path + ".sig.new", self.path + ".sig")
        os.replace(tmp, self.path)


@contextlib.contextmanager
def tempdir():
    tmp = tempfile.mkdtemp(prefix="steadfast-crisis-")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def mode_is(d, mode):
    return metric_value(d.metrics(), "steadfast_crisis_mode", mode=mode) == 1


def results(d, result):
    return metric_value(d.metrics(), "steadfast_crisis_directives_total", result=result) or 0


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



class CrisisDirectiveTest(unittest.TestCase):
    def wait_both_up(self, d, p, u):
        def both_up():
            text = d.metrics()
            return (metric_value(text, "steadfast_upstream_up", tier="primary",
                                 upstream=p.uri) == 1 and
                    metric_value(text, "steadfast_upstream_up", tier="union",
                                 upstream=u.uri) == 1)
        wait_until(both_up, 10.0)

    def served_by(self, d, p, tag):
        """The answer addresses of 10 queries and how many reached the primary meanwhile."""
        before = metric_value(d.metrics(), "steadfast_upstream_queries_total", tier="primary",
                              upstream=p.uri) or 0
        seen = set()
        for i in range(10):
            r = d.query(f"{tag}{i}.{ZONE}")
            self.assertIsNotNone(r, f"no answer for {tag}{i}\n{d.log()}")
            seen.update(answer_values(r))
        after = metric_value(d.metrics(), "steadfast_upstream_queries_total", tier="primary",
                             upstream=p.uri) or 0
        return seen, after - before

    def wait_count(self, d, result, above):
        wait_until(lambda: results(d, result) > above, 10.0)

    def test_signed_directive_rejections_restart_and_expiry(self):
        with tempdir() as tmp, Unbound(redirect={ZONE: PRIMARY_ADDR}) as p, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u:
            s = Signer(tmp)
            now = int(time.time())
            s.write("union-only", now, now + 600)
            crisis = {"directive_url": s.url, "directive_public_key": s.pub,
                      "directive_interval": "200ms"}
            with Steadfast(tier=two_tiers(p.uri, u.uri), health=HEALTH, crisis=crisis) as d:
                self.wait_both_up(d, p, u)
                wait_until(lambda: mode_is(d, "union-only"), 10.0)
                self.assertFalse(mode_is(d, "auto"))
                self.assertGreaterEqual(results(d, "accepted"), 1)
                self.assertIn("crisis mode union-only (by directive:it-ops)", d.log())
                seen, primary = self.served_by(d, p, "signed")
                self.assertEqual(seen, {UNION_ADDR}, d.log())
                self.assertEqual(primary, 0, d.log())

                # Forged: an auto directive whose signature is the old one's.
                sig = open(s.path + ".sig", "rb").read()
                s.write("auto", now + 10, now + 600, sign=False)
                with open(s.path + ".sig", "wb") as f:
                    f.write(sig)
                n = results(d, "bad_signature")
                self.wait_count(d, "bad_signature", n)
                # Expired: signed, but already over.
                n = results(d, "expired")
                s.write("auto", now - 100, now - 1)
                self.wait_count(d, "expired", n)
                # Replayed: signed, valid, but not newer than the accepted one.
                n = results(d, "replayed")
                s.write("auto", now - 60, now + 600)
                self.wait_count(d, "replayed", n)
                self.assertTrue(mode_is(d, "union-only"), d.log())
                self.assertEqual(results(d, "accepted"), 1)
                self.assertIn("bad_signature", d.log())

                # A restart keeps the directive in force (crisis.json), before any poll.
                self.assertEqual(d.stop(), 0)
                state = os.path.join(d.tmp, "state", "crisis.json")
                self.assertTrue(os.path.exists(state))
                off = d.log_offset()
                d.start()
                self.assertTrue(mode_is(d, "union-only"), d.log_since(off))
                self.assertIn("crisis mode union-only (by directive) at start", d.log_since(off))
                self.wait_both_up(d, p, u)
                seen, primary = self.served_by(d, p, "restarted")
                self.assertEqual(seen, {UNION_ADDR}, d.log())
                self.assertEqual(primary, 0, d.log())

                # A newer directive that expires soon: accepted, then back to auto.
                t = time.time()
                s.write("union-only", now + 1, int(t) + 3)
                n = results(d, "accepted")
                self.wait_count(d, "accepted", n)
                wait_until(lambda: mode_is(d, "auto"), 10.0)
                self.assertIn("directive expired", d.log())
                wait_until(lambda: self.served_by(d, p, "expired")[0] == {PRIMARY_ADDR}, 10.0)

    def test_api_crisis_needs_the_token_and_survives_a_restart(self):
        with tempdir() as tmp, Unbound(redirect={ZONE: PRIMARY_ADDR}) as p, \
                Unbound(redirect={ZONE: UNION_ADDR}) as u:
            tf = os.path.join(tmp, "api.token")
            with open(tf, "w") as f:
                f.write(TOKEN + "\n")
            with Steadfast(tier=two_tiers(p.uri, u.uri), health=HEALTH,
                           report={"api_token_file": tf}) as d:
                self.wait_both_up(d, p, u)
                status, body = api_post(d, "/api/v1/crisis", {"mode": "union-only"}, token=None)
                self.assertEqual(status, 401, body)
                status, body = api_post(d, "/api/v1/crisis", {"mode": "union-only"},
                                        token="wrong-token-0123456789abcdef")
                self.assertEqual(status, 401, body)
                status, body = api_post(d, "/api/v1/crisis", {"mode": "union_only"})
                self.assertEqual(status, 400, body)
                self.assertTrue(mode_is(d, "auto"))
                seen, _ = self.served_by(d, p, "before")
                self.assertEqual(seen, {PRIMARY_ADDR})

                status, body = api_post(d, "/api/v1/crisis", {"mode": "union-only"})
                self.assertEqual(status, 200, body)
                self.assertEqual(body.get("mode"), "union-only", body)
                self.assertEqual(body.get("source"), "operator", body)
                self.assertTrue(mode_is(d, "union-only"))
                seen, primary = self.served_by(d, p, "api")
                self.assertEqual(seen, {UNION_ADDR}, d.log())
                self.assertEqual(primary, 0, d.log())
                self.assertIn("crisis mode union-only (by operator:api)", d.log())

                self.assertEqual(d.stop(), 0)
                d.start()
                self.assertTrue(mode_is(d, "union-only"), d.log())
                status, body = api_post(d, "/api/v1/crisis", {"mode": "auto"})
                self.assertEqual(status, 200, body)
                self.assertTrue(mode_is(d, "auto"))

    def test_bad_public_key_stops_the_start_and_check_config(self):
        with tempdir() as tmp, Unbound(redirect={ZONE: UNION_ADDR}) as u:
            bad = os.path.join(tmp, "bad.pem")
            with open(bad, "w") as f:
                f.write("not a key\n")
            crisis = {"directive_url": "file://" + os.path.join(tmp, "d.json"),
                      "directive_public_key": bad}
            d = Steadfast(upstreams=[u.uri], crisis=crisis, start=False)
            with d:
                d.spawn()
                self.assertEqual(d.wait_exit(10.0), 1, d.log())
                self.assertIn(bad, d.log())
                r = run_steadfast("--check-config", "-c", d.config_path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(bad, r.stderr)


if __name__ == "__main__":
    unittest.main()
