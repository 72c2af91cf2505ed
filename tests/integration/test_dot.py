#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""DNS over TLS upstreams (RFC 7858, RFC 8310 strict) with real processes on loopback.

A test CA and certificates are made at test time with the `openssl` command line; the DoT
servers are Debian's unbound with tls-service-key/tls-service-pem on a tls-port, logging every
query it receives (over TLS or in cleartext). Behind steadfast, a good certificate answers; a
wrong name, an expired certificate, an unknown CA, a self-signed certificate and a pin mismatch
with a CA-valid certificate each get 0 queries through that upstream and no cleartext DNS (the
server's query log stays empty), while the next upstream (plain unbound) serves the clients.
One DoT connection carries many queries: the server side sees the worker's connection and the
health prober's, and steadfast_upstream_connections_opened_total{transport="tls"} (the worker's)
stays at 1 over 200 queries.
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (LOOPBACK, Steadfast, Unbound, answer_values, free_port,  # noqa: E402
                     require_tool, wait_until)

OPENSSL = require_tool("/usr/bin/openssl", "openssl")
SS = require_tool("/usr/bin/ss", "iproute2")

CA_CNF = """[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::LEAF_SAN
"""


class Pki:
    """A test CA, a second CA nobody trusts, and leaf certificates made with openssl."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="dot-pki-")
        with open(self.path("ca.cnf"), "w") as f:
            f.write(CA_CNF)
        self.ca = self.make_ca("ca", "steadfast test CA")
        self.other_ca = self.make_ca("other-ca", "unknown CA")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def run(self, *args: str, env=None) -> None:
        subprocess.run([OPENSSL, *args], cwd=self.dir, check=True, capture_output=True,
                       timeout=30, env=env)

    def make_ca(self, name: str, cn: str) -> str:
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(self.path(f"{name}.index"), "w"):
            pass
        with open(self.path(f"{name}.serial"), "w") as f:
            f.write("01\n")
        return self.path(f"{name}.pem")

    def leaf(self, name: str, san: str, ca: str = "ca", expired: bool = False) -> tuple:
        """Key and certificate files for a server, signed by `ca`."""
        self.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=dot server")
        dates = (["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired
                 else ["-days", "2"])
        env = dict(os.environ, LEAF_SAN=san)
        # Each CA keeps its own database and serial file.
        shutil.copy(self.path(f"{ca}.index"), self.path("index.txt"))
        shutil.copy(self.path(f"{ca}.serial"), self.path("serial"))
        self.run("ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.pem", "-keyfile",
                 f"{ca}.key", "-in", f"{name}.csr", "-out", f"{name}.pem", "-extensions", "leaf",
                 "-notext", *dates, env=env)
        shutil.copy(self.path("index.txt"), self.path(f"{ca}.index"))
        shutil.copy(self.path("serial"), self.path(f"{ca}.serial"))
        return self.path(f"{name}.key"), self.path(f"{name}.pem")

    def self_signed(self, name: str, san: str) -> tuple:
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                 "-subj", "/CN=dot server", "-addext", f"subjectAltName={san}")
        return self.path(f"{name}.key"), self.path(f"{name}.pem")

    def pin(self, cert: str) -> str:
        """sha256/BASE64 of the certificate's SubjectPublicKeyInfo (RFC 7858 section 4.2)."""
        pub = subprocess.run([OPENSSL, "x509", "-in", cert, "-noout", "-pubkey"], check=True,
                             capture_output=True, timeout=30).stdout
        der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"], input=pub,
                             check=True, capture_output=True, timeout=30).stdout
        return "sha256/" + base64.b64encode(hashlib.sha256(der).digest()).decode()

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class DotUnbound(Unbound):
    """Debian's unbound serving DoT on `tls_port` (and plain DNS on `port`), logging queries."""

    def __init__(self, key: str, cert: str, **kw) -> None:
        super().__init__(**kw)
        self.key, self.cert = key, cert
        self.tls_port = free_port()

    def config_text(self) -> str:
        text = super().config_text()
        extra = "\n".join([
            f"    interface: {LOOPBACK}@{self.tls_port}",
            f"    tls-port: {self.tls_port}",
            f'    tls-service-key: "{self.key}"',
            f'    tls-service-pem: "{self.cert}"',
            "    log-queries: yes",
            "    incoming-num-tcp: 100",
            "    tcp-idle-timeout: 60000",
        ])
        return text.replace("remote-control:", extra + "\nremote-control:", 1)

    def uri(self, name: str = "dot.test", pin: str = "") -> str:  # type: ignore[override]
        return f"tls://{LOOPBACK}:{self.tls_port}#{name}" + (f"?pin={pin}" if pin else "")

    def queries_logged(self) -> int:
        """Queries unbound received on any port (log-queries lines carry ' IN')."""
        return len(re.findall(r"info: 127\.0\.0\.1 \S+ \S+ IN", self.log()))

    def tls_connections(self) -> int:
        """Established connections to the DoT port, as the server side's kernel sees them."""
        out = subprocess.run([SS, "-Htn", "state", "established", f"( sport = :{self.tls_port} )"],
                             check=True, capture_output=True, text=True, timeout=10).stdout
        return len([line for line in out.splitlines() if line.strip()])


def dot_steadfast(pki: Pki, dot_uri: str, backup_uri: str, **kw) -> Steadfast:
    return Steadfast(tier=[{"name": "primary", "policy": "ordered", "ca_file": pki.ca,
                            "upstreams": [dot_uri, backup_uri]}], **kw)


class DotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.pki = Pki()
        cls.backup = Unbound(zone="backup.test", redirect={"lb.test": "127.0.0.99"}).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.backup.stop()
        cls.pki.close()

    def test_good_certificate_answers_over_one_connection(self) -> None:
        key, cert = self.pki.leaf("good", "DNS:dot.test")
        with DotUnbound(key, cert, zone="dot.test", redirect={"lb.test": "127.0.0.53"}) as dot:
            with dot_steadfast(self.pki, dot.uri(), self.backup.uri) as d:
                for i in range(200):
                    r = d.query(f"q{i}.lb.test")
                    self.assertEqual(answer_values(r), ["127.0.0.53"], f"query {i}")
                # One connection from the worker, one from the health prober (same transport).
                self.assertLessEqual(dot.tls_connections(), 2)
                opened = d.metric("steadfast_upstream_connections_opened_total",
                                  upstream=dot.uri(), transport="tls")
                self.assertEqual(opened, 1.0)
                self.assertGreaterEqual(dot.queries_logged(), 200)
                self.assertEqual(d.metric("steadfast_upstream_errors_total", upstream=dot.uri(),
                                          kind="tls"), 0.0)

    def test_pin_that_matches_answers(self) -> None:
        key, cert = self.pki.leaf("pinned", "DNS:dot.test")
        with DotUnbound(key, cert, zone="dot.test", redirect={"lb.test": "127.0.0.54"}) as dot:
            with dot_steadfast(self.pki, dot.uri(pin=self.pki.pin(cert)), self.backup.uri) as d:
                self.assertEqual(answer_values(d.query("p1.lb.test")), ["127.0.0.54"])

    def check_rejected(self, key: str, cert: str, uri_name: str = "dot.test",
                       pin: str = "") -> None:
        with DotUnbound(key, cert, zone="dot.test", redirect={"lb.test": "127.0.0.53"}) as dot:
            uri = dot.uri(uri_name, pin)
            # The harness's own readiness query (plain UDP SOA) is the only one before ours.
            before = dot.queries_logged()
            with dot_steadfast(self.pki, uri, self.backup.uri) as d:
                for i in range(20):
                    r = d.query(f"r{i}.lb.test")
                    self.assertEqual(answer_values(r), ["127.0.0.99"], f"query {i}")
                self.assertIsNotNone(d.wait_log(r"TLS failed"))
                # Counted as kind tls: by the probe (which usually meets it first and takes the
                # upstream out of use) or by the queries that met it.
                wait_until(lambda: (d.metric("steadfast_upstream_errors_total", upstream=uri,
                                             kind="tls") or 0)
                           + (d.metric("steadfast_health_probes_total", upstream=uri,
                                       outcome="tls") or 0) >= 1, timeout=5)
                self.assertEqual(dot.queries_logged(), before,
                                 "a rejected DoT server received DNS queries")

    def test_wrong_name_rejected(self) -> None:
        self.check_rejected(*self.pki.leaf("wrongname", "DNS:other.test"))

    def test_expired_certificate_rejected(self) -> None:
        self.check_rejected(*self.pki.leaf("expired", "DNS:dot.test", expired=True))

    def test_unknown_ca_rejected(self) -> None:
        self.check_rejected(*self.pki.leaf("unknownca", "DNS:dot.test", ca="other-ca"))

    def test_self_signed_rejected(self) -> None:
        self.check_rejected(*self.pki.self_signed("selfsigned", "DNS:dot.test"))

    def test_pin_mismatch_with_valid_chain_rejected(self) -> None:
        key, cert = self.pki.leaf("pinmismatch", "DNS:dot.test")
        _, other = self.pki.leaf("pinother", "DNS:dot.test")
        self.check_rejected(key, cert, pin=self.pki.pin(other))


if __name__ == "__main__":
    unittest.main()
