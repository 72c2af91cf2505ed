# SPDX-License-Identifier: Apache-2.0
"""RPZ over AXFR/IXFR with TSIG from Debian's knotd on loopback, through the driver
steadfast_xfr_fetch (zone transfers are not wired into the daemon yet): AXFR at start, names
added and removed with the serial bumped -> IXFR (the primary's log says IXFR, not AXFR), a
lone SOA when nothing changed, the wrong TSIG key refused with the stored copy kept, the
primary down -> a connection error with the stored copy kept."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (_kill_pid, _pdeathsig, _register_child, free_port, require_tool,  # noqa: E402
                     wait_until)

ZONE = "rpz.example."
SECRET = "c2VjcmV0LWtleS1mb3ItdGhlLXRlc3RzLW9mLXN0ZWFkZmFzdA=="
WRONG = "d3Jvbmcta2V5LWZvci10aGUtdGVzdHMtb2Ytc3RlYWRmYXN0IQ=="
ERRC_CONNECT_FAILED = 1
ERRC_REFUSED = 6


def tool() -> str:
    env = os.environ.get("STEADFAST_XFR_FETCH")
    if env:
        return env
    cand = "build/dev/tests/steadfast_xfr_fetch"
    if os.access(cand, os.X_OK):
        return cand
    raise AssertionError("STEADFAST_XFR_FETCH is not set and no build/dev driver exists")


def zone_text(serial: int, names) -> str:
    lines = [f"$ORIGIN {ZONE}", "$TTL 60",
             f"@ SOA ns.rpz.example. host.rpz.example. {serial} 600 60 86400 60",
             "@ NS ns.rpz.example.", "ns A 127.0.0.1"]
    lines += [f"{n} CNAME ." for n in names]
    return "\n".join(lines) + "\n"


class XfrFetchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.knotd = require_tool("/usr/sbin/knotd", "knot")
        self.knotc = require_tool("/usr/sbin/knotc", "knot")
        self.dir = tempfile.mkdtemp(prefix="sf-xfr-")
        self.state = os.path.join(self.dir, "state")
        self.port = free_port()
        self.zone_file = os.path.join(self.dir, "rpz.zone")
        self.log = os.path.join(self.dir, "knot.log")
        self.sock = os.path.join(self.dir, "knot.sock")
        self.proc = None
        for name, secret in (("good", SECRET), ("wrong", WRONG)):
            with open(os.path.join(self.dir, f"{name}.key"), "w") as f:
                f.write(f'key "xfr-key." {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')

    def tearDown(self) -> None:
        self.stop_knot()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, tsig: bool) -> str:
        conf = os.path.join(self.dir, "knot.conf")
        acl = ("acl:\n  - id: xfr\n    address: 127.0.0.1\n    action: transfer\n" +
               ("    key: xfr-key.\n" if tsig else ""))
        keys = (f"key:\n  - id: xfr-key.\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"
                if tsig else "")
        with open(conf, "w") as f:
            f.write(f"""server:
  rundir: {self.dir}
  listen: 127.0.0.1@{self.port}
log:
  - target: {self.log}
    any: info
database:
  storage: {self.dir}/db
  journal-db: {self.dir}/db/journal
control:
  listen: {self.sock}
{keys}{acl}template:
  - id: default
    storage: {self.dir}
    zonefile-load: difference
    journal-content: all
    semantic-checks: off
zone:
  - domain: {ZONE}
    file: {self.zone_file}
    acl: xfr
""")
        return conf

    def start_knot(self, tsig: bool = False) -> None:
        conf = self.write_conf(tsig)
        os.makedirs(os.path.join(self.dir, "db", "journal"), exist_ok=True)
        self.proc = subprocess.Popen([self.knotd, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_pdeathsig)
        _register_child(self.proc)

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return False
            return "loaded" in self.knot_log()
        if not wait_until(up, 15):
            raise AssertionError("knotd did not start: " + self.knot_log())
        self.conf = conf

    def stop_knot(self) -> None:
        if self.proc is not None:
            _kill_pid(self.proc)
            self.proc = None

    def knot_log(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def reload(self, serial: int) -> None:
        subprocess.run([self.knotc, "-c", self.conf, "zone-reload", ZONE], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        try:
            wait_until(lambda: f"-> {serial}," in self.knot_log(), 15)
        except AssertionError:
            raise AssertionError("knotd did not load serial %d: %s" % (serial, self.knot_log()))

    def fetch(self, *extra: str) -> dict:
        p = subprocess.run([tool(), f"axfr://127.0.0.1:{self.port}/{ZONE}", self.state, "hub-rpz",
                            *extra], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        self.assertTrue(lines, p.stderr)
        kind, _, rest = lines[0].partition(" ")
        out = {"kind": kind, "line": lines[0],
               "rrs": sorted(l[3:].split(" ")[0] for l in lines[1:] if l.startswith("rr "))}
        for part in rest.split(" "):
            k, _, v = part.partition("=")
            if k in ("code", "serial", "records", "kept_serial", "kept_records"):
                out[k] = int(v)
            elif k in ("kind",):
                out["xfr"] = v
        return out

    def test_axfr_then_ixfr_then_uptodate_then_primary_down(self) -> None:
        with open(self.zone_file, "w") as f:
            f.write(zone_text(1, ["bad", "*.worse"]))
        self.start_knot()
        first = self.fetch()
        self.assertEqual(first["kind"], "ok", first["line"])
        self.assertEqual(first["xfr"], "full")
        self.assertEqual(first["serial"], 1)
        self.assertIn("bad.rpz.example.", first["rrs"])
        self.assertIn("*.worse.rpz.example.", first["rrs"])
        self.assertIn("AXFR", self.knot_log())

        with open(self.zone_file, "w") as f:
            f.write(zone_text(2, ["*.worse", "new"]))
        self.reload(2)
        second = self.fetch()
        self.assertEqual(second["kind"], "ok", second["line"])
        self.assertEqual(second["xfr"], "incremental", second["line"])
        self.assertEqual(second["serial"], 2)
        self.assertNotIn("bad.rpz.example.", second["rrs"])
        self.assertIn("new.rpz.example.", second["rrs"])
        log = self.knot_log()
        self.assertIn("IXFR", log)
        # Exactly one AXFR was served (the first fetch); the second was IXFR.
        axfr_started = [l for l in log.splitlines() if "AXFR" in l and "started" in l]
        self.assertEqual(len(axfr_started), 1, log)

        third = self.fetch()
        self.assertEqual(third["xfr"], "uptodate", third["line"])
        self.assertEqual(third["serial"], 2)

        self.stop_knot()
        down = self.fetch()
        self.assertEqual(down["kind"], "error", down["line"])
        self.assertEqual(down["code"], ERRC_CONNECT_FAILED, down["line"])
        self.assertEqual(down["kept_serial"], 2)
        self.assertEqual(down["kept_records"], second["records"])

    def test_tsig_right_and_wrong_key(self) -> None:
        with open(self.zone_file, "w") as f:
            f.write(zone_text(5, ["bad"]))
        self.start_knot(tsig=True)
        unsigned = self.fetch()
        self.assertEqual(unsigned["kind"], "error", unsigned["line"])
        self.assertEqual(unsigned["code"], ERRC_REFUSED, unsigned["line"])
        good = self.fetch("--tsig", os.path.join(self.dir, "good.key"))
        self.assertEqual(good["kind"], "ok", good["line"])
        self.assertEqual(good["serial"], 5)
        wrong = self.fetch("--tsig", os.path.join(self.dir, "wrong.key"))
        self.assertEqual(wrong["kind"], "error", wrong["line"])
        self.assertEqual(wrong["code"], ERRC_REFUSED, wrong["line"])
        self.assertEqual(wrong["kept_serial"], 5)


if __name__ == "__main__":
    unittest.main()
