# SPDX-License-Identifier: Apache-2.0
"""Network feed sources in the daemon (issue 7): an RPZ zone served by Debian's knotd over
axfr:// (setup shared with test_xfr_fetch.py) blocks, and after a bumped serial and SIGHUP the
new name blocks through an IXFR (knot's log); with the primary down, a restart still blocks
from the stored copy, and the primary back is retried with backoff. A domain list served over HTTPS by Debian's
nginx on loopback, with a CA and server certificate made by openssl at test time (setup shared
with test_https_fetch.py). The list blocks; an unchanged list is a 304 (`unchanged`); an edited
list blocks its new name after SIGHUP; a CA that does not sign the server's certificate is a
fetch error and the old list keeps blocking."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.rcode  # noqa: E402

from harness import (Steadfast, Unbound, _kill_pid, _pdeathsig, _register_child,  # noqa: E402
                     free_port, require_tool, wait_until)
from test_https_fetch import make_ca, make_server_cert  # noqa: E402
import test_xfr_fetch as xfr  # noqa: E402

ZONE = "example.test"


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def start_nginx(d: str, www: str, port: int) -> subprocess.Popen:
    conf = os.path.join(d, "nginx.conf")
    write(conf, f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
  types {{ text/plain txt; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    root {www};
    etag on;
  }}
}}
""")
    proc = subprocess.Popen([require_tool("/usr/sbin/nginx", "nginx-light"), "-c", conf, "-p", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_pdeathsig)
    _register_child(proc)

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False
    if not wait_until(up, 10):
        raise AssertionError("nginx did not start: " + open(f"{d}/error.log").read())
    return proc


class HttpsFeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        require_tool("openssl", "openssl")
        cls.dir = tempfile.mkdtemp(prefix="sf-feedsrc-")
        d = cls.dir
        make_ca(d, "ca")
        make_ca(d, "otherca")
        make_server_cert(d, "ca")
        cls.www = os.path.join(d, "www")
        os.makedirs(cls.www)
        cls.list = os.path.join(cls.www, "list.txt")
        write(cls.list, "".join(f"{n}.{ZONE}\n" for n in ["bad"] + [f"pad{i}" for i in range(9)]))
        cls.port = free_port()
        cls.nginx = start_nginx(d, cls.www, cls.port)
        names = ["www", "bad", "newbad", "later", "polled"]
        cls.unbound = Unbound(zone=ZONE, records={n: ("A", "127.0.0.10") for n in names}).start()
        cls.feed = {"name": "web", "type": "domains",
                    "source": f"https://127.0.0.1:{cls.port}/list.txt",
                    "ca_file": os.path.join(d, "ca.pem"), "max_size": "1MiB", "refresh": "1h"}
        write(os.path.join(cls.www, "polled.txt"), f"polled.{ZONE}\n")
        cls.polled = {"name": "polled", "type": "domains",
                      "source": f"https://127.0.0.1:{cls.port}/polled.txt",
                      "ca_file": os.path.join(d, "ca.pem"), "refresh": "1s"}
        cls.sf = Steadfast([cls.unbound.uri], feed=[dict(cls.feed), dict(cls.polled)])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.sf.close()
        cls.unbound.stop()
        _kill_pid(cls.nginx)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def q(self, name: str):
        return self.sf.query(f"{name}.{ZONE}.", "A")

    def updates(self, result: str) -> float:
        return self.sf.metric("steadfast_feed_updates_total", feed="web", result=result) or 0

    def blocked(self, name: str) -> bool:
        msg = self.q(name)
        ede = [o for o in msg.options if int(o.otype) == 15]
        return (msg.rcode() == dns.rcode.NXDOMAIN and len(ede) == 1 and
                ede[0].text == "blocked by feed web")

    def sighup_and_wait(self, result: str) -> None:
        before = self.updates(result)
        self.sf.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.updates(result) > before, timeout=15),
                        self.sf.log())

    def test_https_list_blocks_updates_and_survives_untrusted_cert(self) -> None:
        self.assertTrue(wait_until(lambda: self.updates("ok") >= 1, timeout=15), self.sf.log())
        self.assertTrue(self.blocked("bad"))
        self.assertEqual(self.q("www").rcode(), dns.rcode.NOERROR)
        self.assertEqual(self.sf.metric("steadfast_feed_entries", feed="web"), 10)

        # An edited list: fetched again (a new ETag), the new name blocks.
        write(self.list, read(self.list) + f"newbad.{ZONE}\n")
        self.sighup_and_wait("ok")
        # The counter moves when the copy is accepted, the index is published just after.
        self.assertTrue(wait_until(lambda: self.blocked("newbad"), timeout=15), self.sf.log())
        self.assertTrue(self.blocked("bad"))
        self.assertIn('"GET /list.txt HTTP/1.1" 200',
                      read(os.path.join(self.dir, "access.log")))

        # A CA that did not sign the server certificate: the fetch fails, the old list stays.
        write(self.list, read(self.list) + f"later.{ZONE}\n")
        cfg = dict(self.feed, ca_file=os.path.join(self.dir, "otherca.pem"))
        before = self.updates("error")
        self.sf.reload(feed=[cfg, dict(self.polled)])
        self.assertTrue(wait_until(lambda: self.updates("error") > before, timeout=15),
                        self.sf.log())
        self.assertIn("feed 'web'", self.sf.log())
        self.assertTrue(self.blocked("newbad"))
        self.assertFalse(self.blocked("later"))

        # The right CA again: the list with the later name is taken.
        self.sf.reload(feed=[dict(self.feed), dict(self.polled)])
        self.assertTrue(wait_until(lambda: self.blocked("later"), timeout=15), self.sf.log())


    def test_refresh_sends_conditional_get_and_304_is_unchanged(self) -> None:
        def count(result: str) -> float:
            return self.sf.metric("steadfast_feed_updates_total", feed="polled",
                                  result=result) or 0
        self.assertTrue(wait_until(lambda: count("ok") >= 1, timeout=15), self.sf.log())
        ok, unchanged = count("ok"), count("unchanged")
        # The 1 s schedule polls again: a conditional GET, answered 304, counted unchanged.
        self.assertTrue(wait_until(lambda: count("unchanged") > unchanged, timeout=15),
                        self.sf.log())
        self.assertEqual(count("ok"), ok)
        self.assertIn('"GET /polled.txt HTTP/1.1" 304', read(os.path.join(self.dir, "access.log")))
        self.assertEqual(self.q("polled").rcode(), dns.rcode.NXDOMAIN)


def rpz_text(serial: int, names) -> str:
    lines = [f"$ORIGIN {xfr.ZONE}", "$TTL 60",
             f"@ SOA ns.rpz.example. host.rpz.example. {serial} 600 60 86400 60",
             "@ NS ns.rpz.example."]
    lines += [f"{n}.{ZONE} CNAME ." for n in names]
    return "\n".join(lines) + "\n"


class AxfrFeedTest(unittest.TestCase):
    """knotd as the RPZ primary; the knot setup methods of test_xfr_fetch.XfrFetchTest."""
    write_conf = xfr.XfrFetchTest.write_conf
    start_knot = xfr.XfrFetchTest.start_knot
    stop_knot = xfr.XfrFetchTest.stop_knot
    knot_log = xfr.XfrFetchTest.knot_log
    reload = xfr.XfrFetchTest.reload

    def setUp(self) -> None:
        xfr.XfrFetchTest.setUp(self)
        self.unbound = Unbound(zone=ZONE, records={n: ("A", "127.0.0.10")
                                                   for n in ("www", "bad", "new", "later")}).start()
        self.sf = None

    def tearDown(self) -> None:
        if self.sf is not None:
            self.sf.close()
        self.unbound.stop()
        xfr.XfrFetchTest.tearDown(self)

    def blocked(self, name: str) -> bool:
        msg = self.sf.query(f"{name}.{ZONE}.", "A")
        ede = [o for o in msg.options if int(o.otype) == 15]
        return (msg.rcode() == dns.rcode.NXDOMAIN and len(ede) == 1 and
                ede[0].text == "blocked by feed hub-rpz")

    def test_axfr_then_ixfr_after_sighup(self) -> None:
        write(self.zone_file, rpz_text(1, ["bad", "pad1", "pad2"]))
        self.start_knot()
        feed = [{"name": "hub-rpz", "type": "rpz", "refresh": "1h",
                 "source": f"axfr://127.0.0.1:{self.port}/{xfr.ZONE}"}]
        state = {"dir": os.path.join(self.dir, "sf-state")}
        os.makedirs(state["dir"])
        self.sf = Steadfast([self.unbound.uri], feed=feed, state=state)
        self.assertTrue(wait_until(lambda: self.blocked("bad"), timeout=15), self.sf.log())
        self.assertFalse(self.blocked("new"))
        self.assertIn("AXFR", self.knot_log())

        write(self.zone_file, rpz_text(2, ["bad", "pad1", "pad2", "new"]))
        self.reload(2)
        self.sf.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.blocked("new"), timeout=15), self.sf.log())
        self.assertTrue(self.blocked("bad"))
        log = self.knot_log()
        self.assertIn("IXFR", log)
        axfr_started = [ln for ln in log.splitlines() if "AXFR" in ln and "started" in ln]
        self.assertEqual(len(axfr_started), 1, log)

        # Every accepted copy is stored: a restart with the primary down still blocks both
        # names from disk, and the failed transfer is an error, not a config error.
        self.assertTrue(os.path.exists(os.path.join(state["dir"], "feeds", "hub-rpz.feed")))
        self.stop_knot()
        self.sf.close()
        self.sf = Steadfast([self.unbound.uri], feed=feed, state=state)
        self.assertTrue(self.blocked("new"), self.sf.log())
        self.assertTrue(self.blocked("bad"))
        self.assertGreaterEqual(self.sf.metric("steadfast_feed_updates_total", feed="hub-rpz",
                                               result="error") or 0, 1)

        # The primary back with serial 3: the failed feed is retried with backoff (2 s, 4 s,
        # ...), long before its 1 h refresh, and the new name blocks without a SIGHUP.
        write(self.zone_file, rpz_text(3, ["bad", "pad1", "pad2", "new", "later"]))
        self.start_knot()
        self.assertTrue(wait_until(lambda: self.blocked("later"), timeout=40), self.sf.log())


class FeedConfigTest(unittest.TestCase):
    def test_bad_credentials_and_tsig_files_are_config_errors(self) -> None:
        from harness import run_steadfast
        tmp = tempfile.mkdtemp(prefix="sf-feedsrc-cfg-")
        creds = os.path.join(tmp, "creds")
        write(creds, "password hunter2\n")
        path = os.path.join(tmp, "steadfast.toml")
        write(path, '[[tier]]\nname = "p"\nupstreams = ["dns://127.0.0.1:53"]\n\n'
                    '[[feed]]\nname = "x"\ntype = "domains"\n'
                    'source = "https://127.0.0.1:1/list.txt"\n'
                    f'credentials_file = "{creds}"\n'
                    'max_size = "1MiB"\n')
        res = run_steadfast("--check-config", "-c", path)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn(f"{path}:9:20: 'credentials_file' in [[feed]]", res.stdout + res.stderr)
        # An unreachable https source is not a config error.
        write(creds, "bearer t0ken\n")
        res = run_steadfast("--check-config", "-c", path)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        # A malformed tsig_file: the error names the key file's line and column.
        key = os.path.join(tmp, "bad.key")
        write(key, 'key "k." {\n\talgorithm hmac-md5;\n\tsecret "AAAA";\n};\n')
        write(path, '[[tier]]\nname = "p"\nupstreams = ["dns://127.0.0.1:53"]\n\n'
                    '[[feed]]\nname = "x"\ntype = "rpz"\n'
                    'source = "axfr://127.0.0.1:1/rpz.example"\n'
                    f'tsig_file = "{key}"\n')
        res = run_steadfast("--check-config", "-c", path)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn(f"{path}:9:13: 'tsig_file' in [[feed]]: {key}:2:", res.stdout + res.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
