#!/usr/bin/python3
"""failover_report.py RESULTS_DIR... -> markdown table of bench/failover.sh runs (stdout).

One row per system x scenario (x repetition) from RESULTS_DIR/metrics.jsonl; the fields are
those of tools/failover_tail.py, defined in bench/README.md.
"""
import json
import os
import sys

SCEN_ORDER = ["blackhole", "refused", "servfail"]
SCEN_TEXT = {"blackhole": "A SIGSTOPped (no answer at all)", "refused": "A answers REFUSED",
             "servfail": "A answers SERVFAIL"}
NAMES = {"pdns": "pdns-recursor"}


def num(v, nd=0):
    if v is None:
        return "–"
    if nd == 0:
        return "%d" % round(v)
    return ("%%.%df" % nd) % v


def secs(v):
    return "never" if v is None else "%.1f" % v


def lat(v):
    if v is None:
        return "–"
    return "%.0f" % v if v >= 10 else "%.1f" % v


def lat3(v):
    return "–" if v is None else "%.2f" % v


def count_share(m, key):
    c, p = m.get(key), m.get(key + "_pct")
    if c is None:
        return "–"
    return "%d (%s %%)" % (c, "–" if p is None else ("%.1f" % p if p < 99.95 else "100"))


def kinds(m):
    k = m.get("failed_kinds") or {}
    return ", ".join("%s %d" % (n, k[n]) for n in sorted(k, key=lambda x: -k[x])) or "–"


def p99_cell(m):
    """p99 over answers; dagger if > 1 % of the fault-on queries timed out (p99 of all queries
    would then be a timeout)"""
    tmo = (m.get("failed_kinds") or {}).get("TIMEOUT", 0)
    total = (m.get("fault_on_answers") or 0) + tmo
    mark = " †" if total and tmo > 0.01 * total else ""
    return "%s / %s%s" % (lat(m.get("p99_ms_fault_on")), lat(m.get("p99_ms_run")), mark)


def flags(m):
    f = []
    if m.get("foreign_cpu_pct", 0) > 10 or m.get("unaccounted_cpu_pct", 0) > 25:
        f.append("(!)")
    if (m.get("client_lag_max_ms") or 0) > 50:
        f.append("(lag)")
    if m.get("failed_pre"):
        f.append("(pre)")
    return " ".join(f)


def env_lines(d):
    try:
        with open(os.path.join(d, "env.txt")) as fh:
            return [l.rstrip("\n") for l in fh]
    except OSError:
        return []


def report(d):
    rows = []
    with open(os.path.join(d, "metrics.jsonl")) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    systems = []
    for m in rows:
        if m.get("system") not in systems:
            systems.append(m.get("system"))
    rows.sort(key=lambda m: (SCEN_ORDER.index(m["scenario"]) if m.get("scenario") in SCEN_ORDER else 9,
                             systems.index(m.get("system")), m.get("rep", 1)))
    out = ["# Failover tail: %s" % os.path.basename(os.path.normpath(d)), ""]
    env = env_lines(d)
    if env:
        out += ["```"] + env + ["```", ""]
    reps = any(m.get("rep", 1) > 1 for m in rows)
    out += ["Fault on upstream A at the start of the outage; restore at its end. *failed* = no answer "
            "within the client timeout, or SERVFAIL / REFUSED / other error. Latency columns: "
            "*outage+after* = queries sent from the fault to the end, *run* = all queries. "
            "*to B* = first 100 ms bin after the fault with >= 90 % of its queries answered by B "
            "within 100 ms / first bin from which every bin until the restore is so. *back to A* = "
            "first 0.5 s window (0.1 s steps) after the restore with >= 90 % of its queries answered "
            "by A / first window from which all later ones are so. *A itself* = how long after the "
            "command upstream A's own answers (queried directly, 50 qps) changed: the NSD zone "
            "reload of refused / servfail takes 0.1-0.4 s. Exact definitions: bench/README.md.",
            ""]
    head = ["system", "scenario"] + (["#"] if reps else []) + [
        "failed (outage + after)", "failed kinds", "> 100 ms (of outage answers)", "> 500 ms",
        "p99 ms outage+after / run", "max ms outage+after / run", "to B s (first / stable)",
        "back to A s (first / stable)", "A itself: fault / restore s", "A share before / at end", "CPU % server / client / foreign", ""]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for m in rows:
        sysname = NAMES.get(m.get("system"), m.get("system"))
        if sysname == "steadfast":
            sysname = "**steadfast**"
        cells = [sysname, "%s %ss" % (m.get("scenario"), num(m.get("outage_s"), 0))]
        if reps:
            cells.append(str(m.get("rep", 1)))
        if "error" in m:
            cells += [m["error"]] + [""] * (len(head) - len(cells) - 1)
            out.append("| " + " | ".join(cells) + " |")
            continue
        cells += [
            "%d (%d + %d)" % (m.get("failed", 0), m.get("failed_outage", 0), m.get("failed_post", 0)),
            kinds(m),
            count_share(m, "slow100_outage"),
            count_share(m, "slow500_outage"),
            p99_cell(m),
            "%s / %s" % (lat(m.get("max_ms_fault_on")), lat(m.get("max_ms_run"))),
            "%s / %s" % (secs(m.get("to_B_s")), secs(m.get("to_B_stable_s"))),
            "%s / %s" % (secs(m.get("back_to_A_s")), secs(m.get("back_to_A_stable_s"))),
            "%s / %s" % (lat3(m.get("A_fault_effective_s")), lat3(m.get("A_restore_effective_s"))),
            "%s / %s" % (num(m.get("share_A_pre"), 2), num(m.get("share_A_last2s"), 2)),
            "%s / %s / %s" % (num(m.get("srv_cpu_pct")), num(m.get("gen_cpu_pct")), num(m.get("foreign_cpu_pct"))),
            flags(m),
        ]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Flags: (!) other CPU use on the machine during the measurement (foreign > 10 % or "
            "unaccounted > 25 %); (lag) the client sent more than 50 ms behind its schedule; "
            "(pre) queries failed before the fault. "
            "† p99 and max are over answers; more than 1 % of the queries from the fault on got no "
            "answer at all, so counting those the p99 would be the client timeout.",
            "Scenarios: " + "; ".join("%s = %s" % (k, v) for k, v in SCEN_TEXT.items()) + ".",
            "Per query: `<system>.<scenario>.queries.csv.gz`; per 100 ms: `<system>.<scenario>.timeline.csv`.", ""]
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("\n".join(report(d) for d in sys.argv[1:]))


if __name__ == "__main__":
    main()
