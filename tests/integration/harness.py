# SPDX-License-Identifier: Apache-2.0
"""Integration-test harness for steadfast: the real daemon, scripted upstreams and Debian's
unbound, all on loopback.

Only loopback addresses are ever used (127.0.0.1). Every wait is bounded in time, every process
the harness starts is tracked by PID and ended by PID (also at interpreter exit, and with
PR_SET_PDEATHSIG so a killed test run does not leave daemons behind).

Typical use:

    with ScriptedUpstream() as up, Steadfast(upstreams=[up.uri]) as d:
        up.script("www.example.test", answer("127.0.0.10", ttl=300))
        r = d.query("www.example.test", "A")

Failover scenarios: Unbound(redirect={"lb.test": "127.0.0.21"}) answers every name under a
zone (freeze()/thaw() blackhole it with SIGSTOP/SIGCONT), drop_share() loses a seeded share of
queries, and LoadClient sends a bounded fixed rate of unique names and records every answer.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

LOOPBACK = "127.0.0.1"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# --------------------------------------------------------------------------------------------
# Process bookkeeping: every child we start, so that nothing outlives the test run.
# --------------------------------------------------------------------------------------------

_children_lock = threading.Lock()
_children: Dict[int, subprocess.Popen] = {}


def _register_child(proc: subprocess.Popen) -> None:
    with _children_lock:
        _children[proc.pid] = proc


def _unregister_child(proc: subprocess.Popen) -> None:
    with _children_lock:
        _children.pop(proc.pid, None)


def _kill_pid(proc: subprocess.Popen, term_timeout: float = 5.0) -> Optional[int]:
    """SIGCONT (a SIGSTOPped child could not act on SIGTERM), SIGTERM, bounded wait, then
    SIGKILL, for this one child (by its PID only)."""
    if proc.poll() is None:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=term_timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _unregister_child(proc)
    return proc.returncode


@atexit.register
def _kill_leftover_children() -> None:
    with _children_lock:
        procs = list(_children.values())
    for p in procs:
        _kill_pid(p, term_timeout=2.0)


def _pdeathsig() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort
        pass


def require_tool(path_or_name: str, package: str) -> str:
    """Returns the tool's path; raises AssertionError (never a skip) when it is missing."""
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) \
        else shutil.which(path_or_name)
    if not found:
        raise AssertionError(
            f"required tool {path_or_name!r} is missing: install the Debian package {package!r}")
    return found


def steadfast_bin() -> str:
    """STEADFAST_BIN (set by ctest); for manual runs, a build tree binary."""
    env = os.environ.get("STEADFAST_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise AssertionError(f"STEADFAST_BIN={env!r} is not an executable file")
        return os.path.abspath(env)
    for preset in ("release", "dev"):
        cand = os.path.join(REPO_ROOT, "build", preset, "resolver", "app", "steadfast")
        if os.access(cand, os.X_OK):
            sys.stderr.write(f"[harness] STEADFAST_BIN not set, using {cand}\n")
            return cand
    raise AssertionError("STEADFAST_BIN is not set and no build/*/resolver/app/steadfast exists")


def run_steadfast(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Runs the binary once (e.g. --version, --check-config) with a bounded time."""
    return subprocess.run([steadfast_bin(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------

def free_port(attempts: int = 50) -> int:
    """A loopback port that is free for both UDP and TCP right now."""
    for _ in range(attempts):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((LOOPBACK, 0))
            port = u.getsockname()[1]
            try:
                t.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
        finally:
            u.close()
            t.close()
    raise AssertionError("could not find a port free for both UDP and TCP on 127.0.0.1")


# --------------------------------------------------------------------------------------------
# Bounded waiting
# --------------------------------------------------------------------------------------------

def wait_until(pred: Callable[[], Any], timeout: float, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Polls pred() until it returns a truthy value (returned) or timeout seconds pass
    (AssertionError)."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# DNS client helpers (raw sockets, so tests see exactly what came back: ID, case, flags)
# --------------------------------------------------------------------------------------------

def exchange(wire: bytes, port: int, tcp: bool = False, timeout: float = 3.0,
             host: str = LOOPBACK) -> Optional[bytes]:
    """Sends one DNS message and returns the first reply (bytes), or None on timeout / close."""
    if tcp:
        s = socket.create_connection((host, port), timeout=timeout)
        try:
            s.settimeout(timeout)
            s.sendall(struct.pack("!H", len(wire)) + wire)
            return read_tcp_message(s, timeout)
        finally:
            s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(wire)
        try:
            return s.recv(65535)
        except (socket.timeout, ConnectionRefusedError):
            return None
    finally:
        s.close()


def read_text(path: str) -> str:
    """A log file's text so far ("" if it does not exist yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def read_exact(s: socket.socket, n: int, deadline: float) -> Optional[bytes]:
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            return None
        except (ConnectionResetError, ConnectionAbortedError):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def read_tcp_message(s: socket.socket, timeout: float = 3.0) -> Optional[bytes]:
    """One length-prefixed DNS message from a TCP socket, or None (timeout / EOF / reset)."""
    deadline = time.monotonic() + timeout
    hdr = read_exact(s, 2, deadline)
    if hdr is None:
        return None
    return read_exact(s, struct.unpack("!H", hdr)[0], deadline)


def make_query(name: str, rdtype: str = "A", id: Optional[int] = None, edns: bool = True,
               payload: int = 1232, do: bool = False, rd: bool = True,
               options: Optional[List[dns.edns.Option]] = None) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else None, want_dnssec=do,
                               payload=payload if edns else None, options=options)
    if not rd:
        q.flags &= ~dns.flags.RD
    if id is not None:
        q.id = id
    return q


def parse(wire: bytes) -> dns.message.Message:
    return dns.message.from_wire(wire)


def ede_codes(msg: dns.message.Message) -> List[int]:
    """INFO-CODEs of every Extended DNS Error option (RFC 8914, option code 15)."""
    out = []
    for opt in msg.options:
        if int(opt.otype) == 15:
            code = getattr(opt, "code", None)
            if code is None:
                code = struct.unpack("!H", opt.to_wire()[:2])[0]
            out.append(int(code))
    return out


def answer_values(msg: dns.message.Message, rdtype: str = "A") -> List[str]:
    t = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in msg.answer if rrset.rdtype == t for rd in rrset)


def answer_ttls(msg: dns.message.Message) -> List[int]:
    return [rrset.ttl for rrset in msg.answer]


# --------------------------------------------------------------------------------------------
# Prometheus text parsing
# --------------------------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text: str) -> List[Tuple[str, Dict[str, str], float]]:
    """[(name, labels, value)] for every sample line of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            continue
        labels: Dict[str, str] = {}
        if m.group(3):
            for lm in _LABEL_RE.finditer(m.group(3)):
                labels[lm.group(1)] = (lm.group(2).replace('\\"', '"').replace("\\n", "\n")
                                       .replace("\\\\", "\\"))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def metric_value(text: str, name: str, **labels: str) -> Optional[float]:
    """Sum of every sample called `name` whose labels include `labels`; None when none does."""
    total = None
    for n, lab, v in parse_metrics(text):
        if n == name and all(lab.get(k) == val for k, val in labels.items()):
            total = (total or 0.0) + v
    return total


def metric_types(text: str) -> Dict[str, str]:
    """{family: type} from the # TYPE lines."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            out[parts[2]] = parts[3]
    return out


def http_get(port: int, path: str, timeout: float = 3.0) -> Tuple[int, str, Dict[str, str]]:
    """(status, body, headers) of GET http://127.0.0.1:port/path."""
    url = f"http://{LOOPBACK}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), dict(e.headers or {})


# --------------------------------------------------------------------------------------------
# TOML writing (enough for steadfast's config: tables, arrays of tables, scalars, arrays)
# --------------------------------------------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        esc = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{esc}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(config: Dict[str, Any]) -> str:
    """config: {table: {key: value}} or {table: [{key: value}, ...]} (array of tables).
    A value of None omits the key."""
    lines: List[str] = []
    for table, body in config.items():
        if body is None:
            continue
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{table}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                lines.append("")
        else:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in body.items() if v is not None]
            lines.append("")
    return "\n".join(lines)


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------------------------

class Steadfast:
    """Runs the real steadfast binary on loopback ports with a generated config.

    Steadfast(upstreams=[uri, ...], server={...}, cache={...}, tier=[{...}], health={...},
              failback={...}, last_resort={...}, report={...}, log={...}, state={...},
              ready_timeout=10)

    Keyword sections are merged over the defaults (tables merge key by key; `tier` replaces the
    default single "primary"/"ordered" tier). Last resort recursion is disabled by default so
    that nothing leaves loopback. Use as a context manager; on an exception inside the block
    the daemon log is printed.
    """

    def __init__(self, upstreams: Optional[Iterable[str]] = None, *, ready_timeout: float = 10.0,
                 start: bool = True, binary: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, **sections: Any) -> None:
        self.binary = binary or steadfast_bin()
        self.extra_env = dict(env or {})
        self.tmp = tempfile.mkdtemp(prefix="steadfast-it-")
        self.port = free_port()
        self.http_port = free_port()
        self.ready_timeout = ready_timeout
        self.config_path = os.path.join(self.tmp, "steadfast.toml")
        self.log_path = os.path.join(self.tmp, "steadfast.log")
        self.proc: Optional[subprocess.Popen] = None
        self._log_file = None
        self.returncode: Optional[int] = None
        self.failed = False
        self.keep_tmp = False
        base: Dict[str, Any] = {
            "server": {
                "listen": [f"{LOOPBACK}:{self.port}"],
                "allow": ["127.0.0.0/8", "::1/128"],
                "workers": 1,
                "max_tcp_connections": 1000,
                "tcp_idle_timeout": "10s",
                "query_budget": "1500ms",
                "edns_buffer_size": 1232,
            },
            "cache": {
                "max_memory": "32MiB",
                "serve_stale": True,
                "stale_max_age": "1d",
                "stale_answer_ttl": "30s",
            },
            "tier": [{"name": "primary", "policy": "ordered",
                      "upstreams": list(upstreams or [])}],
            "last_resort": {"enabled": False},
            "report": {"listen": f"{LOOPBACK}:{self.http_port}",
                       "spool_dir": os.path.join(self.tmp, "spool")},
            "log": {"level": "debug"},
            "state": {"dir": os.path.join(self.tmp, "state")},
        }
        self.config = _merge(base, sections)
        self.write_config()
        if start:
            try:
                self.start()
            except BaseException:
                self.close()   # the exception message already carries the log tail
                raise

    # -- configuration ------------------------------------------------------------------------

    def config_text(self) -> str:
        return to_toml(self.config)

    def write_config(self, text: Optional[str] = None) -> str:
        text = self.config_text() if text is None else text
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)
        return text

    # -- life cycle ---------------------------------------------------------------------------

    def spawn(self) -> subprocess.Popen:
        """Starts the process without waiting for it to be ready."""
        os.makedirs(os.path.join(self.tmp, "state"), exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "spool"), exist_ok=True)
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=self._log_file, cwd=self.tmp,
                                     env={**os.environ, **self.extra_env},
                                     preexec_fn=_pdeathsig)
        _register_child(self.proc)
        return self.proc

    def start(self) -> "Steadfast":
        """Starts the process and waits (bounded) until it is ready."""
        self.spawn()
        self.wait_ready(self.ready_timeout)
        return self

    def wait_exit(self, timeout: float = 10.0) -> Optional[int]:
        """Waits (bounded) for the process to exit by itself; its exit code, or None if it is
        still running after `timeout` seconds (it is left running; close() ends it)."""
        assert self.proc is not None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        _unregister_child(self.proc)
        return self.returncode

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return read_text(self.log_path)

    def log_offset(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        """The log from byte `offset` (see log_offset()) on."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 5.0, since: int = 0) -> "re.Match[str]":
        """Waits (bounded) for a log line matching `pattern` after byte offset `since`."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log_since(since)), timeout,
                          what=f"log line matching {pattern!r}")

    def healthz_ok(self) -> bool:
        try:
            return http_get(self.http_port, "/healthz", timeout=0.5)[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 10.0) -> None:
        ready_rx = re.compile(r"\bready\b", re.IGNORECASE)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"steadfast exited with {self.proc.returncode} before it was ready; log:\n"
                    + self.log()[-8000:])
            if ready_rx.search(self.log()) or self.healthz_ok():
                # The HTTP listener may come up a moment after the ready line (or vice versa):
                # give /healthz a short bounded chance, but do not insist on it here.
                wait_end = min(deadline, time.monotonic() + 2.0)
                while not self.healthz_ok() and time.monotonic() < wait_end:
                    time.sleep(0.05)
                return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"steadfast not ready after {timeout:.0f}s (no 'ready' line, /healthz not 200);"
                    f" log:\n" + self.log()[-8000:])
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def reload(self, upstreams: Optional[Iterable[str]] = None, **sections: Any) -> None:
        """Merges new settings into the config, rewrites the file and sends SIGHUP."""
        if upstreams is not None:
            sections = dict(sections)
            sections["tier"] = [{"name": "primary", "policy": "ordered",
                                 "upstreams": list(upstreams)}]
        self.config = _merge(self.config, sections)
        self.write_config()
        self.signal(signal.SIGHUP)

    def reload_text(self, text: str) -> None:
        """Writes `text` verbatim as the config file and sends SIGHUP (e.g. a broken file)."""
        self.write_config(text)
        self.signal(signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, bounded wait; returns the exit code (None if it had to be SIGKILLed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_pid(self.proc, term_timeout=0.1)
                self.returncode = None
                return None
        _unregister_child(self.proc)
        self.returncode = self.proc.returncode
        return self.returncode

    def close(self, failed: bool = False) -> None:
        problem = None
        if self.proc is not None:
            was_running = self.proc.poll() is None
            rc = _kill_pid(self.proc)
            # Every daemon a test leaves running must stop cleanly on SIGTERM: exit 0 (a
            # sanitizer build exits non-zero on a leak or a memory error at shutdown).
            if was_running and rc != 0:
                problem = f"steadfast did not stop cleanly on SIGTERM: exit code {rc}"
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        log_text = self.log()
        for marker in ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:"):
            if marker in log_text:
                problem = f"sanitizer report in the steadfast log ({marker})"
        if problem is not None and not failed:
            self.failed = True
        if failed or self.failed:
            sys.stderr.write(f"\n===== steadfast log ({self.log_path}) =====\n")
            sys.stderr.write(self.log()[-30000:])
            sys.stderr.write("\n===== config =====\n")
            try:
                with open(self.config_path) as f:
                    sys.stderr.write(f.read())
            except OSError:
                pass
            sys.stderr.write("===== end =====\n")
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if problem is not None and not failed:
            raise AssertionError(problem)

    def __enter__(self) -> "Steadfast":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)

    # -- DNS ----------------------------------------------------------------------------------

    def exchange(self, wire: bytes, tcp: bool = False, timeout: float = 3.0) -> Optional[bytes]:
        return exchange(wire, self.port, tcp=tcp, timeout=timeout)

    def query(self, name: str, rdtype: str = "A", tcp: bool = False, id: Optional[int] = None,
              timeout: float = 3.0, **kw: Any) -> dns.message.Message:
        """One query (raw socket; no ID/question checks, the test asserts what it wants).
        kw: edns, payload, do, rd, options (see make_query). Raises AssertionError on no answer."""
        q = make_query(name, rdtype, id=id, **kw)
        wire = self.exchange(q.to_wire(), tcp=tcp, timeout=timeout)
        if wire is None:
            raise AssertionError(f"no answer from steadfast for {name} {rdtype} "
                                 f"({'tcp' if tcp else 'udp'}) within {timeout}s")
        return parse(wire)

    def dig(self, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
        dig = require_tool("dig", "dnsutils")
        return subprocess.run([dig, f"@{LOOPBACK}", "-p", str(self.port), "+time=2",
                               "+tries=1", *args], capture_output=True, text=True,
                              timeout=timeout)

    # -- HTTP ---------------------------------------------------------------------------------

    def metrics(self) -> str:
        status, body, _ = http_get(self.http_port, "/metrics")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}: {body[:500]}")
        return body

    def metric(self, name: str, text: Optional[str] = None, **labels: str) -> Optional[float]:
        return metric_value(self.metrics() if text is None else text, name, **labels)


# --------------------------------------------------------------------------------------------
# Scripted upstream DNS server
# --------------------------------------------------------------------------------------------

@dataclass
class Action:
    kind: str
    params: Dict[str, Any] = field(default_factory=dict)


def answer(*rdatas: str, ttl: int = 300, rdtype: Optional[str] = None, aa: bool = False) -> Action:
    """NOERROR with the given record data (text) of the query's type (or rdtype). No data:
    default data for the query type."""
    return Action("answer", {"rdatas": list(rdatas), "ttl": ttl, "rdtype": rdtype, "aa": aa})


def nxdomain(soa_ttl: int = 3600, soa_minimum: int = 300, zone: Optional[str] = None) -> Action:
    """NXDOMAIN with an SOA in the authority section (negative caching, RFC 2308)."""
    return Action("nxdomain", {"soa_ttl": soa_ttl, "soa_minimum": soa_minimum, "zone": zone})


def nodata(soa_ttl: int = 3600, soa_minimum: int = 300, zone: Optional[str] = None) -> Action:
    return Action("nodata", {"soa_ttl": soa_ttl, "soa_minimum": soa_minimum, "zone": zone})


def servfail() -> Action:
    return Action("rcode", {"rcode": dns.rcode.SERVFAIL})


def refused() -> Action:
    return Action("rcode", {"rcode": dns.rcode.REFUSED})


def drop() -> Action:
    return Action("drop")


def delay(ms: int, then: Optional[Action] = None) -> Action:
    return Action("delay", {"ms": ms, "then": then or answer()})


def truncate(then: Optional[Action] = None) -> Action:
    """UDP: TC=1 with an empty answer section. TCP: `then` (default: answer())."""
    return Action("truncate", {"then": then or answer()})


def wrong_id_first(then: Optional[Action] = None, gap_ms: int = 30,
                   wrong_rdatas: Iterable[str] = ("127.0.0.66",)) -> Action:
    """UDP: first a response with a wrong ID (and different data), `gap_ms` later the right
    one. TCP: just the right one."""
    return Action("wrong_id_first", {"then": then or answer(), "gap_ms": gap_ms,
                                     "wrong_rdatas": list(wrong_rdatas)})


def drop_share(share: float, then: Optional[Action] = None, seed: int = 1) -> Action:
    """Drops a `share` (0..1) of the queries it is used for, chosen by a random generator
    seeded with `seed` (the same sequence of drop decisions every run); the others get `then`
    (default: answer()). One generator per action: script the same action object for several
    names to share it."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"drop_share: share {share} is not within [0, 1]")
    return Action("drop_share", {"share": share, "then": then or answer(),
                                 "rng": random.Random(seed), "lock": threading.Lock()})


def _dropped(act: Action) -> bool:
    """drop_share: the next decision of the action's own generator (True: drop this query)."""
    with act.params["lock"]:
        return act.params["rng"].random() < act.params["share"]


def close_tcp() -> Action:
    """TCP: close the connection without an answer. UDP: no answer."""
    return Action("close_tcp")


DEFAULT_DATA = {
    "A": ["127.0.0.1"],
    "AAAA": ["::1"],
    "TXT": ['"steadfast-test"'],
    "NS": ["ns.upstream.test."],
    "MX": ["10 mx.upstream.test."],
}


@dataclass
class ReceivedQuery:
    transport: str              # "udp" | "tcp"
    src: Tuple[str, int]
    id: int
    name: str                   # as received (case preserved), absolute, e.g. "WwW.example.test."
    rdtype: str
    flags: int
    edns: int                   # -1 without OPT
    payload: int
    do: bool
    options: List[Tuple[int, bytes]]
    time: float
    wire: bytes

    @property
    def src_port(self) -> int:
        return self.src[1]


def _norm(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


class ScriptedUpstream:
    """A DNS server on 127.0.0.1 (UDP and TCP, same port) whose reply to each query is scripted.

        up.script("a.test", answer("127.0.0.5", ttl=60))            # every query for a.test
        up.script("b.test", servfail(), answer())                   # first SERVFAIL, then answer
        up.script("*", drop())                                      # every query (incl. probes)
        up.script("*", drop_share(0.3, answer("127.0.0.5")))        # 30% dropped (seeded RNG)
        up.queries_for("a.test")                                    # what it received

    Actions listed for a name are used one per query; the last one repeats. Lookup order:
    (name, type), (name, any type), ("*", type), ("*", any type), then the default: answer
    with DEFAULT_DATA (so health probes such as ". NS" get an answer unless scripted).
    """

    def __init__(self, port: Optional[int] = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._rules: Dict[Tuple[str, Optional[int]], List[Action]] = {}
        self.queries: List[ReceivedQuery] = []
        self.malformed: List[bytes] = []
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._udp: Optional[socket.socket] = None
        self._tcp: Optional[socket.socket] = None
        self._conns: List[socket.socket] = []
        self.running = False

    @property
    def uri(self) -> str:
        return f"dns://{self.host}:{self.port}"

    @property
    def tcp_uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    # -- scripting ----------------------------------------------------------------------------

    def script(self, name: str, *actions: Action, rdtype: Optional[str] = None) -> None:
        if not actions:
            raise ValueError("script() needs at least one action")
        key = ("*" if name == "*" else _norm(name),
               None if rdtype is None else int(dns.rdatatype.from_text(rdtype)))
        with self._lock:
            self._rules[key] = list(actions)

    def unscript(self, name: str, rdtype: Optional[str] = None) -> None:
        key = ("*" if name == "*" else _norm(name),
               None if rdtype is None else int(dns.rdatatype.from_text(rdtype)))
        with self._lock:
            self._rules.pop(key, None)

    def _next_action(self, name: str, rdtype: int) -> Action:
        n = _norm(name)
        with self._lock:
            for key in ((n, rdtype), (n, None), ("*", rdtype), ("*", None)):
                acts = self._rules.get(key)
                if acts:
                    return acts.pop(0) if len(acts) > 1 else acts[0]
        return answer()

    # -- what was received ----------------------------------------------------------------------

    def queries_for(self, name: Optional[str] = None, rdtype: Optional[str] = None,
                    transport: Optional[str] = None) -> List[ReceivedQuery]:
        n = None if name is None else _norm(name)
        with self._lock:
            qs = list(self.queries)
        return [q for q in qs
                if (n is None or _norm(q.name) == n)
                and (rdtype is None or q.rdtype == rdtype.upper())
                and (transport is None or q.transport == transport)]

    def clear(self) -> None:
        with self._lock:
            self.queries.clear()
            self.malformed.clear()

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> "ScriptedUpstream":
        self._stop.clear()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.host, self.port))
        self._udp.settimeout(0.1)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((self.host, self.port))
        self._tcp.listen(128)
        self._tcp.settimeout(0.1)
        self._threads = [threading.Thread(target=self._udp_loop, daemon=True,
                                          name=f"up-udp-{self.port}"),
                         threading.Thread(target=self._tcp_accept_loop, daemon=True,
                                          name=f"up-tcp-{self.port}")]
        for t in self._threads:
            t.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Closes the sockets (the port then refuses: ICMP port unreachable / RST)."""
        if not self.running:
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        for s in (self._udp, self._tcp):
            try:
                s.close()
            except OSError:
                pass
        self.running = False

    def __enter__(self) -> "ScriptedUpstream":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------------

    def _record(self, wire: bytes, transport: str, src: Tuple[str, int]
                ) -> Optional[dns.message.Message]:
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - the daemon sent garbage; keep it for assertions
            with self._lock:
                self.malformed.append(wire)
            return None
        if len(q.question) != 1:
            with self._lock:
                self.malformed.append(wire)
            return None
        qq = q.question[0]
        rec = ReceivedQuery(
            transport=transport, src=src, id=q.id, name=qq.name.to_text(),
            rdtype=dns.rdatatype.to_text(qq.rdtype), flags=q.flags, edns=q.edns,
            payload=q.payload if q.edns >= 0 else 0,
            do=bool(q.ednsflags & dns.flags.DO) if q.edns >= 0 else False,
            options=[(int(o.otype), o.to_wire() if hasattr(o, "to_wire") else b"")
                     for o in q.options],
            time=time.monotonic(), wire=wire)
        with self._lock:
            self.queries.append(rec)
        return q

    def _build(self, q: dns.message.Message, act: Action) -> dns.message.Message:
        r = dns.message.make_response(q, recursion_available=True, our_payload=1232)
        qq = q.question[0]
        if act.kind == "answer":
            rdtype = dns.rdatatype.from_text(act.params["rdtype"]) if act.params["rdtype"] \
                else qq.rdtype
            rdatas = act.params["rdatas"] or DEFAULT_DATA.get(dns.rdatatype.to_text(rdtype), [])
            if act.params.get("aa"):
                r.flags |= dns.flags.AA
            if rdatas:
                r.answer.append(dns.rrset.from_text_list(qq.name, act.params["ttl"], "IN",
                                                         rdtype, rdatas))
        elif act.kind in ("nxdomain", "nodata"):
            if act.kind == "nxdomain":
                r.set_rcode(dns.rcode.NXDOMAIN)
            zone = act.params["zone"]
            zone_name = dns.name.from_text(zone) if zone else qq.name.parent() \
                if len(qq.name.labels) > 1 else dns.name.root
            soa = (f"ns.{zone_name.to_text()} hostmaster.{zone_name.to_text()} 1 3600 600 "
                   f"86400 {act.params['soa_minimum']}").replace("..", ".")
            r.authority.append(dns.rrset.from_text(zone_name, act.params["soa_ttl"], "IN",
                                                   "SOA", soa))
        elif act.kind == "rcode":
            r.set_rcode(act.params["rcode"])
        else:
            raise ValueError(f"cannot build a response for {act.kind}")
        return r

    @staticmethod
    def _udp_wire(q: dns.message.Message, r: dns.message.Message) -> bytes:
        wire = r.to_wire(max_size=65535)  # full size; truncation is decided below
        limit = max(512, q.payload) if q.edns >= 0 else 512
        if len(wire) > limit:
            t = dns.message.make_response(q, recursion_available=True, our_payload=1232)
            t.set_rcode(r.rcode())
            t.flags |= dns.flags.TC
            wire = t.to_wire()
        return wire

    def _udp_loop(self) -> None:
        sock = self._udp
        while not self._stop.is_set():
            try:
                wire, src = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            q = self._record(wire, "udp", src)
            if q is None:
                continue
            act = self._next_action(q.question[0].name.to_text(), q.question[0].rdtype)
            self._udp_act(sock, q, src, act)

    def _udp_send(self, sock: socket.socket, wire: bytes, dst: Tuple[str, int]) -> None:
        if self._stop.is_set():
            return
        try:
            sock.sendto(wire, dst)
        except OSError:
            pass

    def _later(self, ms: float, fn: Callable[[], None]) -> None:
        t = threading.Timer(ms / 1000.0, fn)
        t.daemon = True
        t.start()

    def _udp_act(self, sock: socket.socket, q: dns.message.Message, src: Tuple[str, int],
                 act: Action) -> None:
        k = act.kind
        if k in ("drop", "close_tcp"):
            return
        if k == "drop_share":
            if not _dropped(act):
                self._udp_act(sock, q, src, act.params["then"])
            return
        if k == "delay":
            self._later(act.params["ms"], lambda: self._udp_act(sock, q, src, act.params["then"]))
            return
        if k == "truncate":
            t = dns.message.make_response(q, recursion_available=True, our_payload=1232)
            t.flags |= dns.flags.TC
            self._udp_send(sock, t.to_wire(), src)
            return
        if k == "wrong_id_first":
            wrong = self._build(q, answer(*act.params["wrong_rdatas"], ttl=300))
            wrong.id = (q.id + 1 + (os.getpid() & 0xFF)) & 0xFFFF
            if wrong.id == q.id:
                wrong.id = (q.id + 7) & 0xFFFF
            self._udp_send(sock, wrong.to_wire(), src)
            right = self._udp_wire(q, self._build(q, act.params["then"]))
            self._later(act.params["gap_ms"], lambda: self._udp_send(sock, right, src))
            return
        self._udp_send(sock, self._udp_wire(q, self._build(q, act)), src)

    def _tcp_accept_loop(self) -> None:
        lsock = self._tcp
        while not self._stop.is_set():
            try:
                conn, src = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._tcp_conn, args=(conn, src), daemon=True,
                             name=f"up-tcpc-{self.port}").start()

    def _tcp_conn(self, conn: socket.socket, src: Tuple[str, int]) -> None:
        wlock = threading.Lock()
        closed = threading.Event()
        idle_deadline = time.monotonic() + 60.0

        def send(wire: bytes) -> None:
            if closed.is_set() or self._stop.is_set():
                return
            with wlock:
                try:
                    conn.sendall(struct.pack("!H", len(wire)) + wire)
                except OSError:
                    pass

        def act_on(q: dns.message.Message, act: Action) -> None:
            k = act.kind
            if k == "drop":
                return
            if k == "drop_share":
                if not _dropped(act):
                    act_on(q, act.params["then"])
                return
            if k == "close_tcp":
                closed.set()
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if k == "delay":
                self._later(act.params["ms"], lambda: act_on(q, act.params["then"]))
                return
            if k in ("truncate", "wrong_id_first"):
                act_on(q, act.params["then"])
                return
            send(self._build(q, act).to_wire(max_size=65535))  # TCP: no payload limit

        buf = b""
        try:
            conn.settimeout(0.1)
            while not self._stop.is_set() and not closed.is_set() \
                    and time.monotonic() < idle_deadline:
                try:
                    chunk = conn.recv(65535)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                idle_deadline = time.monotonic() + 60.0
                buf += chunk
                while len(buf) >= 2:
                    n = struct.unpack("!H", buf[:2])[0]
                    if len(buf) < 2 + n:
                        break
                    wire, buf = buf[2:2 + n], buf[2 + n:]
                    q = self._record(wire, "tcp", src)
                    if q is None:
                        continue
                    act_on(q, self._next_action(q.question[0].name.to_text(),
                                                q.question[0].rdtype))
                    if closed.is_set():
                        break
        finally:
            closed.set()
            try:
                conn.close()
            except OSError:
                pass
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)


# --------------------------------------------------------------------------------------------
# Debian's unbound as a real upstream
# --------------------------------------------------------------------------------------------

UNBOUND_BIN = "/usr/sbin/unbound"


class Unbound:
    """/usr/sbin/unbound in the foreground on 127.0.0.1:PORT serving a local zone.

    It never contacts anything: every name outside `zone` is answered from a static local zone
    for "." (NXDOMAIN), and do-not-query-address covers all of IPv4 and IPv6.

        Unbound(zone="example.test", records={"www": ("A", "127.0.0.10")}, ttl=300)

    redirect={"lb.test": "127.0.0.21"} adds a local zone of type redirect per entry: every
    name under it (e.g. a unique "q17-ab12.lb.test") gets that A record, so a test can tell
    which upstream answered. freeze()/thaw() send SIGSTOP/SIGCONT (a frozen unbound keeps its
    sockets open and answers nothing: a blackholed upstream); stop() thaws first.
    """

    def __init__(self, zone: str = "example.test",
                 records: Optional[Dict[str, Tuple[str, str]]] = None, ttl: int = 300,
                 port: Optional[int] = None,
                 redirect: Optional[Dict[str, str]] = None) -> None:
        self.binary = require_tool(UNBOUND_BIN, "unbound")
        self.zone = zone.rstrip(".")
        self.records = records if records is not None else {
            "www": ("A", "127.0.0.10"),
            "mail": ("A", "127.0.0.11"),
            "txt": ("TXT", '"hello from unbound"'),
        }
        self.ttl = ttl
        self.redirect = {z.rstrip("."): a for z, a in (redirect or {}).items()}
        self.frozen = False
        self.port = port or free_port()
        self.tmp = tempfile.mkdtemp(prefix="unbound-it-")
        self.conf_path = os.path.join(self.tmp, "unbound.conf")
        self.log_path = os.path.join(self.tmp, "unbound.log")
        self.pidfile = os.path.join(self.tmp, "unbound.pid")
        self.proc: Optional[subprocess.Popen] = None
        self._log_file = None

    @property
    def uri(self) -> str:
        return f"dns://{LOOPBACK}:{self.port}"

    def config_text(self) -> str:
        z = self.zone
        lines = [
            "server:",
            "    verbosity: 1",
            f"    interface: {LOOPBACK}",
            f"    port: {self.port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    do-udp: yes",
            "    do-tcp: yes",
            "    do-daemonize: no",
            '    chroot: ""',
            '    username: ""',
            f'    directory: "{self.tmp}"',
            f'    pidfile: "{self.pidfile}"',
            '    logfile: ""',
            "    use-syslog: no",
            "    num-threads: 1",
            "    so-reuseport: no",
            '    module-config: "iterator"',
            "    access-control: 127.0.0.0/8 allow",
            "    do-not-query-localhost: yes",
            "    do-not-query-address: 0.0.0.0/0",
            "    do-not-query-address: ::/0",
            "    prefetch: no",
            "    outgoing-range: 64",
            "    num-queries-per-thread: 64",
            '    local-zone: "." static',
            '    local-data: ". 3600 IN SOA a.root.test. hostmaster.root.test. 1 3600 600 86400 60"',
            '    local-data: ". 3600 IN NS a.root.test."',
            f'    local-zone: "{z}." static',
            f'    local-data: "{z}. {self.ttl} IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 60"',
            f'    local-data: "{z}. {self.ttl} IN NS ns.{z}."',
        ]
        for label, (rtype, data) in self.records.items():
            owner = z if label in ("", "@") else f"{label}.{z}"
            if rtype == "TXT":   # TXT data carries double quotes: single-quote the line
                lines.append(f"    local-data: '{owner}. {self.ttl} IN {rtype} {data}'")
            else:
                lines.append(f'    local-data: "{owner}. {self.ttl} IN {rtype} {data}"')
        for rz, addr in self.redirect.items():
            lines.append(f'    local-zone: "{rz}." redirect')
            lines.append(f'    local-data: "{rz}. {self.ttl} IN A {addr}"')
        lines.append("remote-control:")
        lines.append("    control-enable: no")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> "Unbound":
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-d", "-c", self.conf_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=self._log_file, cwd=self.tmp,
                                     preexec_fn=_pdeathsig)
        _register_child(self.proc)
        q = make_query(f"{self.zone}.", "SOA").to_wire()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"unbound exited with {self.proc.returncode}; log:\n"
                                     + self.log())
            if exchange(q, self.port, timeout=0.3) is not None:
                return self
            if time.monotonic() >= deadline:
                raise AssertionError(f"unbound did not answer within {timeout}s; log:\n"
                                     + self.log())
            time.sleep(0.05)

    def log(self) -> str:
        return read_text(self.log_path)

    def freeze(self) -> None:
        """SIGSTOP: the process stops answering (its sockets stay open: queries time out)."""
        assert self.proc is not None and self.proc.poll() is None, "unbound is not running"
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self) -> Optional[int]:
        rc = None
        if self.proc is not None:
            if self.frozen:
                self.thaw()
            rc = _kill_pid(self.proc)   # SIGCONT, SIGTERM, bounded wait, SIGKILL
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return rc

    def __enter__(self) -> "Unbound":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is not None:
            sys.stderr.write(f"\n===== unbound log =====\n{self.log()[-10000:]}\n")
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Bounded fixed-rate load
# --------------------------------------------------------------------------------------------

@dataclass
class LoadRecord:
    """One query of a LoadClient run. Times are time.monotonic() seconds."""
    index: int
    name: str
    sent: float
    latency: Optional[float] = None      # None: no answer within the client timeout
    rcode: Optional[int] = None
    addresses: List[str] = field(default_factory=list)   # A records of the answer
    ede: List[int] = field(default_factory=list)
    error: str = ""                      # "timeout", "malformed", "refused by socket", ...

    @property
    def received(self) -> Optional[float]:
        return None if self.latency is None else self.sent + self.latency

    @property
    def ok(self) -> bool:
        """NOERROR with at least one address, within the client timeout."""
        return self.latency is not None and self.rcode == dns.rcode.NOERROR \
            and bool(self.addresses)

    def describe(self, t0: float = 0.0) -> str:
        lat = "no answer" if self.latency is None else f"{self.latency * 1000:.1f} ms"
        rc = "-" if self.rcode is None else dns.rcode.to_text(self.rcode)
        return (f"#{self.index} {self.name} sent at +{self.sent - t0:.3f}s: {lat}, {rc}, "
                f"{self.addresses or ''} ede={self.ede or ''} {self.error}").rstrip()


@dataclass
class LoadSummary:
    records: List[LoadRecord]
    started: float                       # monotonic time of the first send
    ended: float
    rate: float
    duration: float

    @property
    def sent(self) -> int:
        return len(self.records)

    def answered(self) -> List[LoadRecord]:
        return [r for r in self.records if r.latency is not None]

    def failures(self) -> List[LoadRecord]:
        """Timeouts, non-NOERROR answers and answers without an address."""
        return [r for r in self.records if not r.ok]

    def latencies(self) -> List[float]:
        return sorted(r.latency for r in self.records if r.latency is not None)

    def quantile(self, q: float) -> Optional[float]:
        lat = self.latencies()
        if not lat:
            return None
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    def max_latency(self) -> Optional[float]:
        lat = self.latencies()
        return lat[-1] if lat else None

    def by_address(self, records: Optional[Iterable[LoadRecord]] = None) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for r in (self.records if records is None else records):
            if r.ok:
                key = ",".join(r.addresses)
                out[key] = out.get(key, 0) + 1
        return out

    def received_between(self, t0: float, t1: float) -> List[LoadRecord]:
        """Answered records whose answer arrived in [t0, t1) (monotonic)."""
        return [r for r in self.records if r.received is not None and t0 <= r.received < t1]

    def sent_between(self, t0: float, t1: float) -> List[LoadRecord]:
        return [r for r in self.records if t0 <= r.sent < t1]

    def first_answer_from(self, address: str, after: float) -> Optional[LoadRecord]:
        """The record with the earliest answer time >= `after` that carries `address`."""
        cands = [r for r in self.records if r.ok and address in r.addresses
                 and r.received is not None and r.received >= after]
        return min(cands, key=lambda r: r.received) if cands else None

    def report(self, t0: Optional[float] = None, max_failures: int = 15) -> str:
        """A few lines for assertion messages: counts, latency quantiles, failures."""
        t0 = self.started if t0 is None else t0
        fails = self.failures()
        rcodes: Dict[str, int] = {}
        for r in self.records:
            k = "no answer" if r.latency is None else dns.rcode.to_text(r.rcode)
            rcodes[k] = rcodes.get(k, 0) + 1
        p50, p99, mx = self.quantile(0.5), self.quantile(0.99), self.max_latency()
        fmt = (lambda v: "-" if v is None else f"{v * 1000:.1f}ms")
        lines = [f"load: {self.sent} queries at {self.rate:g}/s over {self.duration:g}s "
                 f"(ran {self.ended - self.started:.2f}s); rcodes {rcodes}; by address "
                 f"{self.by_address()}; latency p50 {fmt(p50)} p99 {fmt(p99)} max {fmt(mx)}; "
                 f"{len(fails)} failures"]
        for r in fails[:max_failures]:
            lines.append("  " + r.describe(t0))
        if len(fails) > max_failures:
            lines.append(f"  ... and {len(fails) - max_failures} more")
        return "\n".join(lines)


class LoadClient:
    """Sends `rate` queries per second for `duration` seconds to 127.0.0.1:port over UDP, each
    for a unique name under `zone` (so every one is a cache miss), from one non-blocking socket
    driven by select(). Each query is recorded (send time, latency, rcode, A addresses, EDE);
    a query without an answer within `client_timeout` is a timeout.

    Bounded: at most rate * duration queries (and never more than max_queries), and the run
    ends at the latest duration + client_timeout + 2 s after it began.

        summary = LoadClient(d.port, rate=300, duration=10).run()          # blocking
        lc = LoadClient(d.port, rate=300, duration=10).start(); ...; summary = lc.wait()
    """

    def __init__(self, port: int, rate: float, duration: float, zone: str = "lb.test",
                 client_timeout: float = 2.0, rdtype: str = "A", max_queries: int = 20000,
                 prefix: str = "q") -> None:
        if rate <= 0 or duration <= 0:
            raise ValueError("LoadClient: rate and duration must be positive")
        self.port = port
        self.rate = float(rate)
        self.duration = float(duration)
        self.zone = zone.strip(".")
        self.client_timeout = client_timeout
        self.rdtype = rdtype
        self.total = min(int(round(rate * duration)), max_queries)
        self.nonce = f"{os.getpid() & 0xFFFF:x}{random.getrandbits(24):06x}"
        self.prefix = prefix
        self._thread: Optional[threading.Thread] = None
        self._summary: Optional[LoadSummary] = None
        self._error: Optional[BaseException] = None

    def name(self, i: int) -> str:
        return f"{self.prefix}{i}-{self.nonce}.{self.zone}."

    def start(self) -> "LoadClient":
        def body() -> None:
            try:
                self._summary = self.run()
            except BaseException as e:  # noqa: BLE001 - re-raised by wait()
                self._error = e
        self._thread = threading.Thread(target=body, daemon=True, name=f"load-{self.port}")
        self._thread.start()
        return self

    def wait(self) -> LoadSummary:
        """Joins the thread start() began (bounded) and returns its summary."""
        assert self._thread is not None, "start() first"
        self._thread.join(timeout=self.duration + self.client_timeout + 10.0)
        if self._thread.is_alive():
            raise AssertionError("load client did not finish in time")
        if self._error is not None:
            raise self._error
        assert self._summary is not None
        return self._summary

    def run(self) -> LoadSummary:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        sock.connect((LOOPBACK, self.port))
        sock.setblocking(False)
        records: List[LoadRecord] = []
        pending: Dict[Tuple[int, str], LoadRecord] = {}     # (id, lower-case name)
        t0 = time.monotonic()
        hard_end = t0 + self.duration + self.client_timeout + 2.0
        i = 0
        try:
            while True:
                now = time.monotonic()
                # Send every query that is due (catching up if the loop fell behind).
                while i < self.total and t0 + i / self.rate <= now:
                    name = self.name(i)
                    q = make_query(name, self.rdtype, id=i & 0xFFFF)
                    rec = LoadRecord(index=i, name=name, sent=time.monotonic())
                    try:
                        sock.send(q.to_wire())
                    except (BlockingIOError, ConnectionRefusedError) as e:
                        rec.error = f"send failed: {e!r}"
                    records.append(rec)
                    if not rec.error:
                        pending[(q.id, name.lower())] = rec
                    i += 1
                now = time.monotonic()
                # Expire what waited longer than the client timeout.
                for key, rec in list(pending.items()):
                    if now - rec.sent >= self.client_timeout:
                        rec.error = "timeout"
                        del pending[key]
                if (i >= self.total and not pending) or now >= hard_end:
                    break
                next_send = t0 + i / self.rate if i < self.total else hard_end
                oldest = min((r.sent for r in pending.values()), default=hard_end)
                wake = min(next_send, oldest + self.client_timeout, hard_end)
                readable, _, _ = select.select([sock], [], [], max(0.0, wake - now))
                if not readable:
                    continue
                while True:
                    try:
                        wire = sock.recv(65535)
                    except BlockingIOError:
                        break
                    except ConnectionRefusedError:
                        continue   # ICMP from an earlier send; the query times out
                    got = time.monotonic()
                    try:
                        m = dns.message.from_wire(wire)
                    except Exception:  # noqa: BLE001 - counted below as a failure
                        continue
                    if len(m.question) != 1:
                        continue
                    key = (m.id, m.question[0].name.to_text().lower())
                    rec = pending.pop(key, None)
                    if rec is None:
                        continue   # late or unknown answer
                    rec.latency = got - rec.sent
                    rec.rcode = m.rcode()
                    rec.addresses = answer_values(m, "A")
                    rec.ede = ede_codes(m)
            for rec in pending.values():
                rec.error = rec.error or "timeout"
        finally:
            sock.close()
        return LoadSummary(records=records, started=t0, ended=time.monotonic(),
                           rate=self.rate, duration=self.duration)
