# SPDX-License-Identifier: Apache-2.0
"""Threat feeds end to end (issue 7): a real unbound upstream (query log on), steadfast with
file:// feeds of the three formats. Checks rcode, EDE code and text of each action, that the
upstream never saw a blocked name, allow over block, exact vs wildcard, sinkhole and local
data, response-IP triggers, SIGHUP with an edited file, hostile updates rejected with the old
blocking kept, the feed metrics (promtool), and that a missing feed file stops the start."""

import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

from harness import (Steadfast, Unbound, make_query, metric_value, parse,  # noqa: E402
                     require_tool, run_steadfast, wait_until)

ZONE = "example.test"

RPZ = """$ORIGIN rpz.local.
$TTL 300
@ IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 60
@ IN NS localhost.
evil.example.test CNAME .
*.wild.example.test CNAME .
nodata.example.test CNAME *.
drop.example.test CNAME rpz-drop.
tcponly.example.test CNAME rpz-tcp-only.
passed.example.test CNAME rpz-passthru.
local.example.test A 192.0.2.55
local.example.test TXT "walled garden"
32.66.0.0.127.rpz-ip CNAME .
"""

DOMAINS = ["listed.example.test", "allowed.example.test"] + [
    f"pad{i}.example.test" for i in range(20)]

HOSTS = """# hosts-file feed
127.0.0.1 localhost
0.0.0.0 hosted.example.test
"""


class LoggingUnbound(Unbound):
    """Debian's unbound with its query log on: the proof that a blocked name never left."""

    def config_text(self) -> str:
        return super().config_text().replace("server:\n", "server:\n    log-queries: yes\n", 1)

    def saw(self, name: str) -> bool:
        return f" {name}. " in self.log()


def records():
    names = ["www", "evil", "wild", "sub.wild", "nodata", "drop", "tcponly", "passed", "local",
             "listed", "sub.listed", "allowed", "hosted", "sub.hosted", "new", "fresh", "fresh2"]
    out = {n: ("A", "127.0.0.10") for n in names}
    out["ipbad"] = ("A", "127.0.0.66")
    return out


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


class FeedsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_tool("promtool", "prometheus")
        cls.unbound = LoggingUnbound(zone=ZONE, records=records()).start()
        cls.tmp = tempfile.mkdtemp(prefix="steadfast-feeds-")
        cls.rpz = os.path.join(cls.tmp, "hub.rpz")
        cls.domains = os.path.join(cls.tmp, "list.txt")
        cls.hosts = os.path.join(cls.tmp, "hosts")
        write(cls.rpz, RPZ)
        write(cls.domains, "\n".join(DOMAINS) + "\n")
        write(cls.hosts, HOSTS)
        cls.sf = Steadfast(
            [cls.unbound.uri],
            policy={"default_action": "nxdomain", "sinkhole_ipv4": "192.0.2.1",
                    "sinkhole_ipv6": "2001:db8::1", "allow": ["allowed.example.test"]},
            feed=[
                {"name": "hub-rpz", "type": "rpz", "source": f"file://{cls.rpz}",
                 "refresh": "1h"},
                {"name": "list", "type": "domains", "source": f"file://{cls.domains}",
                 "action": "sinkhole", "refresh": "1h", "max_shrink": 0.5},
                {"name": "hosts", "type": "hosts", "source": f"file://{cls.hosts}",
                 "refresh": "1h"},
            ])

    @classmethod
    def tearDownClass(cls):
        cls.sf.close()
        cls.unbound.stop()

    def q(self, name, rdtype="A", **kw):
        return self.sf.query(f"{name}.{ZONE}.", rdtype, **kw)

    def assertBlocked(self, msg, rcode, ede, feed):
        self.assertEqual(msg.rcode(), rcode)
        opts = [o for o in msg.options if int(o.otype) == 15]
        self.assertEqual(len(opts), 1, msg)
        self.assertEqual(int(opts[0].code), ede)
        self.assertEqual(opts[0].text, f"blocked by feed {feed}")

    def assertResolved(self, name):
        msg = self.q(name)
        self.assertEqual(msg.rcode(), dns.rcode.NOERROR)
        self.assertEqual([rd.to_text() for rr in msg.answer for rd in rr], ["127.0.0.10"])

    # -- RPZ actions ----------------------------------------------------------------------

    def test_rpz_nxdomain_with_soa_and_ede15(self):
        msg = self.q("evil")
        self.assertBlocked(msg, dns.rcode.NXDOMAIN, 15, "hub-rpz")
        self.assertEqual(len(msg.authority), 1)
        self.assertEqual(msg.authority[0].rdtype, dns.rdatatype.SOA)
        self.assertFalse(self.unbound.saw(f"evil.{ZONE}"))

    def test_wildcard_covers_subdomains_not_the_name(self):
        self.assertBlocked(self.q("sub.wild"), dns.rcode.NXDOMAIN, 15, "hub-rpz")
        self.assertResolved("wild")
        self.assertFalse(self.unbound.saw(f"sub.wild.{ZONE}"))

    def test_nodata(self):
        msg = self.q("nodata")
        self.assertBlocked(msg, dns.rcode.NOERROR, 15, "hub-rpz")
        self.assertEqual(msg.answer, [])
        self.assertEqual(msg.authority[0].rdtype, dns.rdatatype.SOA)

    def test_drop_sends_nothing(self):
        wire = self.sf.exchange(make_query(f"drop.{ZONE}.", "A").to_wire(), timeout=1.0)
        self.assertIsNone(wire)
        self.assertFalse(self.unbound.saw(f"drop.{ZONE}"))

    def test_tcp_only(self):
        udp = self.q("tcponly")
        self.assertTrue(udp.flags & dns.flags.TC)
        self.assertEqual(udp.answer, [])
        self.assertFalse(self.unbound.saw(f"tcponly.{ZONE}"))
        tcp = self.q("tcponly", tcp=True)
        self.assertEqual([rd.to_text() for rr in tcp.answer for rd in rr], ["127.0.0.10"])

    def test_passthru_resolves(self):
        self.assertResolved("passed")

    def test_local_data_is_filtered_ede17(self):
        a = self.q("local")
        self.assertBlocked(a, dns.rcode.NOERROR, 17, "hub-rpz")
        self.assertEqual([rd.to_text() for rr in a.answer for rd in rr], ["192.0.2.55"])
        txt = self.q("local", "TXT")
        self.assertEqual([rd.to_text() for rr in txt.answer for rd in rr], ['"walled garden"'])
        aaaa = self.q("local", "AAAA")  # no AAAA in the local data: NODATA
        self.assertEqual(aaaa.answer, [])
        self.assertFalse(self.unbound.saw(f"local.{ZONE}"))

    def test_response_ip_trigger(self):
        msg = self.q("ipbad")
        self.assertBlocked(msg, dns.rcode.NXDOMAIN, 15, "hub-rpz")

    # -- lists --------------------------------------------------------------------------------

    def test_domain_list_sinkhole_and_subdomains(self):
        a = self.q("listed")
        self.assertBlocked(a, dns.rcode.NOERROR, 17, "list")
        self.assertEqual([rd.to_text() for rr in a.answer for rd in rr], ["192.0.2.1"])
        aaaa = self.q("sub.listed", "AAAA")
        self.assertEqual([rd.to_text() for rr in aaaa.answer for rd in rr], ["2001:db8::1"])
        mx = self.q("listed", "MX")
        self.assertBlocked(mx, dns.rcode.NOERROR, 17, "list")
        self.assertEqual(mx.answer, [])
        self.assertFalse(self.unbound.saw(f"listed.{ZONE}"))

    def test_allow_wins(self):
        self.assertResolved("allowed")

    def test_hosts_file_exact_names(self):
        self.assertBlocked(self.q("hosted"), dns.rcode.NXDOMAIN, 15, "hosts")
        self.assertResolved("sub.hosted")
        self.assertResolved("www")

    # -- updates ------------------------------------------------------------------------------

    def updates(self, feed, result):
        return self.sf.metric("steadfast_feed_updates_total", feed=feed, result=result) or 0

    def reload_and_wait(self, feed, result):
        before = self.updates(feed, result)
        self.sf.signal(signal.SIGHUP)
        wait_until(lambda: self.updates(feed, result) > before, timeout=10)

    def test_sighup_edited_file_then_hostile_updates(self):
        # One method: the steps share the list file and build on each other.
        good = DOMAINS + ["new.example.test"]
        write(self.domains, "\n".join(good) + "\n")
        self.reload_and_wait("list", "ok")
        wait_until(lambda: self.q("new").rcode() == dns.rcode.NOERROR and
                   bool(self.q("new").options), timeout=10)
        self.assertBlocked(self.q("new"), dns.rcode.NOERROR, 17, "list")

        # The root and a TLD in an update are never blocked (the guards drop them).
        write(self.domains, "\n".join(good + [".", "test"]) + "\n")
        self.reload_and_wait("list", "ok")
        self.assertResolved("www")
        self.assertBlocked(self.q("listed"), dns.rcode.NOERROR, 17, "list")

        # Over 5% malformed: rejected whole; the previous copy keeps blocking.
        bad = good + ["fresh.example.test"] + ["bad name %d!" % i for i in range(5)]
        write(self.domains, "\n".join(bad) + "\n")
        self.reload_and_wait("list", "rejected")
        self.assertBlocked(self.q("new"), dns.rcode.NOERROR, 17, "list")
        self.assertResolved("fresh")

        # Shrinking by more than max_shrink (0.5): held back, the old list stays.
        write(self.domains, "fresh2.example.test\n")
        self.reload_and_wait("list", "rejected")
        self.assertBlocked(self.q("listed"), dns.rcode.NOERROR, 17, "list")
        self.assertResolved("fresh2")

        write(self.domains, "\n".join(good) + "\n")  # as before, for the other tests
        self.reload_and_wait("list", "ok")

    # -- metrics ------------------------------------------------------------------------------

    def test_metrics(self):
        self.q("evil")
        text = self.sf.metrics()
        res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertGreaterEqual(
            metric_value(text, "steadfast_blocked_total", feed="hub-rpz", action="nxdomain"), 1)
        self.assertEqual(metric_value(text, "steadfast_blocked_total", feed="hosts",
                                      action="local-data"), 0)
        self.assertGreater(metric_value(text, "steadfast_feed_entries", feed="list"), 0)
        self.assertGreater(metric_value(text, "steadfast_feed_entries", feed="hub-rpz"), 0)
        self.assertGreaterEqual(
            metric_value(text, "steadfast_feed_updates_total", feed="hosts", result="ok"), 1)
        self.assertGreater(metric_value(text, "steadfast_feed_last_success_timestamp_seconds",
                                        feed="hosts"), 1.7e9)
        self.assertGreaterEqual(
            metric_value(text, "steadfast_responses_total", rcode="NXDOMAIN", source="blocked"), 1)


class FeedConfigErrorTest(unittest.TestCase):
    def test_missing_file_is_a_config_error(self):
        tmp = tempfile.mkdtemp(prefix="steadfast-feeds-cfg-")
        path = os.path.join(tmp, "steadfast.toml")
        write(path, '[[tier]]\nname = "p"\nupstreams = ["dns://127.0.0.1:53"]\n\n'
                    '[[feed]]\nname = "x"\ntype = "domains"\n'
                    f'source = "file://{tmp}/missing.txt"\n')
        res = run_steadfast("--check-config", "-c", path)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn(f"{path}:8:10: 'source' in [[feed]]: cannot read '{tmp}/missing.txt'",
                      res.stdout + res.stderr)
        res = run_steadfast("-c", path)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)

    def test_check_config_describes_the_feeds(self):
        tmp = tempfile.mkdtemp(prefix="steadfast-feeds-cfg-")
        feed = os.path.join(tmp, "list.txt")
        write(feed, "a.example\nb.example\n")
        path = os.path.join(tmp, "steadfast.toml")
        write(path, '[[tier]]\nname = "p"\nupstreams = ["dns://127.0.0.1:53"]\n\n'
                    '[[feed]]\nname = "x"\ntype = "domains"\n'
                    f'source = "file://{feed}"\n')
        res = run_steadfast("--check-config", "-c", path)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("feed 'x': 20 bytes, 2 lines or records", res.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
