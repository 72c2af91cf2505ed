# SPDX-License-Identifier: Apache-2.0
"""HTTPS client of resolver/io against Debian's nginx on loopback, through the small driver
steadfast_https_fetch (feed fetching is not wired into the daemon yet): a CA and a server
certificate made with openssl at test time, ETag -> 304, Last-Modified -> 304, an untrusted
certificate rejected, a body over the cap rejected, a redirect to plain http refused, and a
closed port reported as a connection failure."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (_kill_pid, _pdeathsig, _register_child, free_port, require_tool,  # noqa: E402
                     wait_until)

import socket  # noqa: E402

# Errc values of resolver/base/result.h
ERRC_CONNECT_FAILED = 1
ERRC_TLS_FAILED = 2
ERRC_TRUNCATED = 5
ERRC_INVALID_ARGUMENT = 10


def fetch_tool() -> str:
    env = os.environ.get("STEADFAST_HTTPS_FETCH")
    if env:
        return env
    for cand in ("build/dev/tests/steadfast_https_fetch",):
        if os.access(cand, os.X_OK):
            return cand
    raise AssertionError("STEADFAST_HTTPS_FETCH is not set and no build/dev driver exists")


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_ca(d: str, name: str) -> None:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={name}", cwd=d)


def make_server_cert(d: str, ca: str) -> None:
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)


class HttpsFetchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.nginx_bin = require_tool("/usr/sbin/nginx", "nginx-light")
        require_tool("openssl", "openssl")
        cls.tool = fetch_tool()
        cls.dir = tempfile.mkdtemp(prefix="sf-https-")
        d = cls.dir
        make_ca(d, "ca")
        make_ca(d, "otherca")
        make_server_cert(d, "ca")
        www = os.path.join(d, "www")
        os.makedirs(www)
        with open(os.path.join(www, "list.txt"), "w") as f:
            f.write("# test list\nbad.example\nworse.example\n")
        with open(os.path.join(www, "big.txt"), "w") as f:
            f.write("x.example\n" * 20000)  # 200 000 bytes
        cls.port = free_port()
        cls.plain_port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
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
    listen 127.0.0.1:{cls.port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    root {www};
    etag on;
    location = /to-plain {{ return 302 http://127.0.0.1:{cls.plain_port}/list.txt; }}
    location = /to-https {{ return 302 https://127.0.0.1:{cls.port}/list.txt; }}
  }}
  server {{
    listen 127.0.0.1:{cls.plain_port};
    root {www};
  }}
}}
""")
        cls.proc = subprocess.Popen([cls.nginx_bin, "-c", conf, "-p", d],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=_pdeathsig)
        _register_child(cls.proc)

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        if not wait_until(up, 10):
            raise AssertionError("nginx did not start: " + open(f"{d}/error.log").read())

    @classmethod
    def tearDownClass(cls) -> None:
        _kill_pid(cls.proc)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_tool(self, path: str, *opts: str) -> dict:
        url = path if "://" in path else f"https://127.0.0.1:{self.port}{path}"
        p = subprocess.run([self.tool, url, *opts], capture_output=True, text=True, timeout=30)
        line = p.stdout.strip()
        kind, _, rest = line.partition(" ")
        out = {"kind": kind, "rc": p.returncode, "line": line}
        if kind == "error":
            code, _, detail = rest.partition(" ")
            out["code"] = int(code.split("=", 1)[1])
            out["detail"] = detail
        else:
            for part in rest.split(" "):
                k, _, v = part.partition("=")
                out[k] = v
        return out

    def ca(self) -> str:
        return os.path.join(self.dir, "ca.pem")

    def test_etag_and_last_modified_give_304(self) -> None:
        first = self.run_tool("/list.txt", "--ca", self.ca())
        self.assertEqual(first["kind"], "ok", first["line"])
        self.assertEqual(first["status"], "200")
        self.assertEqual(first["bytes"], "38")
        self.assertTrue(first["etag"].startswith('"'), first["line"])
        again = self.run_tool("/list.txt", "--ca", self.ca(), "--etag", first["etag"])
        self.assertEqual(again["status"], "304", again["line"])
        self.assertEqual(again["not_modified"], "1")
        self.assertEqual(again["bytes"], "0")
        stale = self.run_tool("/list.txt", "--ca", self.ca(), "--etag", '"not-the-etag"')
        self.assertEqual(stale["status"], "200", stale["line"])
        # Last-Modified contains blanks; the driver prints it last, so take the raw tail.
        lm = first["line"].split("last_modified=", 1)[1]
        ims = self.run_tool("/list.txt", "--ca", self.ca(), "--ims", lm)
        self.assertEqual(ims["status"], "304", ims["line"])

    def test_untrusted_certificate_rejected(self) -> None:
        system = self.run_tool("/list.txt")
        self.assertEqual(system["kind"], "error", system["line"])
        self.assertEqual(system["code"], ERRC_TLS_FAILED, system["line"])
        other = self.run_tool("/list.txt", "--ca", os.path.join(self.dir, "otherca.pem"))
        self.assertEqual(other["kind"], "error", other["line"])
        self.assertEqual(other["code"], ERRC_TLS_FAILED, other["line"])

    def test_body_over_cap_rejected(self) -> None:
        over = self.run_tool("/big.txt", "--ca", self.ca(), "--max-bytes", "100000")
        self.assertEqual(over["kind"], "error", over["line"])
        self.assertEqual(over["code"], ERRC_TRUNCATED, over["line"])
        fits = self.run_tool("/big.txt", "--ca", self.ca(), "--max-bytes", "200000")
        self.assertEqual(fits["kind"], "ok", fits["line"])
        self.assertEqual(fits["bytes"], "200000")

    def test_redirects_https_only(self) -> None:
        plain = self.run_tool("/to-plain", "--ca", self.ca())
        self.assertEqual(plain["kind"], "error", plain["line"])
        self.assertEqual(plain["code"], ERRC_INVALID_ARGUMENT, plain["line"])
        ok = self.run_tool("/to-https", "--ca", self.ca())
        self.assertEqual(ok["kind"], "ok", ok["line"])
        self.assertEqual(ok["status"], "200")
        direct = self.run_tool(f"http://127.0.0.1:{self.plain_port}/list.txt")
        self.assertEqual(direct["code"], ERRC_INVALID_ARGUMENT, direct["line"])

    def test_closed_port_is_connect_failure(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        try:
            r = self.run_tool(f"https://127.0.0.1:{s.getsockname()[1]}/list.txt",
                              "--ca", self.ca())
        finally:
            s.close()
        self.assertEqual(r["code"], ERRC_CONNECT_FAILED, r["line"])


if __name__ == "__main__":
    unittest.main()
