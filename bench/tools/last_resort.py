#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Time to the first last-resort answer after every tier is frozen (issue #6), on loopback.

Starts Debian's nsd with a root zone signed at run time (tests/integration/test_last_resort.py's
SignedRoot), Debian's unbound as the only tier, and steadfast with the last resort pointed at
nsd. Each round: warm nothing, freeze unbound (SIGSTOP), then send a unique name under good.
every 10 ms (answers are signed NXDOMAINs, validated) and record when the first answer that is
not SERVFAIL arrives, and the latency of the last-resort answers after it. Bounded: ROUNDS
rounds, at most 10 s and 1000 queries each. Prints one line per round and a summary.
"""

import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "integration"))

import dns.rcode  # noqa: E402

from harness import Steadfast, Unbound, exchange, make_query, parse, wait_until  # noqa: E402
from test_last_resort import HEALTH, SignedRoot  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
GAP = 0.01
ROUND_LIMIT = 10.0
MAX_QUERIES = 1000


def one_round(d: Steadfast, ub: Unbound, n: int):
    ub.freeze()
    t0 = time.monotonic()
    first = None
    latencies = []
    for i in range(MAX_QUERIES):
        now = time.monotonic()
        if now - t0 > ROUND_LIMIT or len(latencies) >= 50:
            break
        sent = time.monotonic()
        wire = exchange(make_query(f"r{n}-q{i}.good.", "A").to_wire(), d.port, timeout=3.0)
        got = time.monotonic()
        if wire is not None and parse(wire).rcode() != dns.rcode.SERVFAIL:
            if first is None:
                first = got - t0
            latencies.append(got - sent)
        time.sleep(max(0.0, GAP - (time.monotonic() - sent)))
    ub.thaw()
    wait_until(lambda: d.metric("steadfast_active_tier", tier="last_resort") == 0, 15.0,
               what="the tier back")
    return first, latencies


def main() -> int:
    with SignedRoot() as root, Unbound() as ub, Steadfast(
            [ub.uri], health=HEALTH,
            last_resort={"enabled": True, "dnssec": True, "trust_anchor_file": root.anchor,
                         "root_servers": [f"127.0.0.1:{root.port}"]}) as d:
        firsts = []
        all_lat = []
        for n in range(ROUNDS):
            first, lat = one_round(d, ub, n)
            firsts.append(first)
            all_lat += lat
            p50 = statistics.median(lat) * 1000 if lat else float("nan")
            print(f"round {n}: first last-resort answer {first * 1000:.0f} ms after the freeze, "
                  f"{len(lat)} answers, median {p50:.1f} ms" if first is not None else
                  f"round {n}: no answer within {ROUND_LIMIT} s")
        ok = [f for f in firsts if f is not None]
        if ok:
            lat = sorted(all_lat)
            print(f"summary: first answer after freeze min {min(ok) * 1000:.0f} ms, "
                  f"max {max(ok) * 1000:.0f} ms over {len(ok)}/{ROUNDS} rounds; "
                  f"last-resort answer latency median {statistics.median(lat) * 1000:.1f} ms, "
                  f"max {lat[-1] * 1000:.1f} ms ({len(lat)} answers)")
        return 0 if len(ok) == ROUNDS else 1


if __name__ == "__main__":
    sys.exit(main())
