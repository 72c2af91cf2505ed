#!/usr/bin/env python3
"""Checks the module graph of DESIGN.md: every #include "x/y.h" of our own code may only
name a box the including box is allowed to use. Each box is also its own CMake library,
so a third-party header (uv.h, ldns) outside its box fails to compile; this test covers
our own headers, which all share the repository root as include path."""
import pathlib
import re
import sys

# box -> boxes it may include (itself always allowed)
ALLOWED = {
    "resolver/base": set(),
    "resolver/wire": {"resolver/base"},
    "resolver/io": {"resolver/base"},
    "failover": {"resolver/base"},
    "threatfeed/core": {"resolver/base", "resolver/wire"},
    "threatfeed/fetch": {"resolver/base", "resolver/wire", "resolver/io", "threatfeed/core"},
    "resolver/cache": {"resolver/base", "resolver/wire"},
    "resolver/upstream": {"resolver/base", "resolver/wire", "resolver/io", "failover"},
    "resolver/recursion": {"resolver/base", "resolver/wire", "resolver/io"},
    "resolver/pipeline": {"resolver/base", "resolver/wire", "resolver/io", "failover",
                          "threatfeed/core", "resolver/cache", "resolver/upstream",
                          "resolver/recursion"},
    "resolver/listen": {"resolver/base", "resolver/wire", "resolver/io", "resolver/cache",
                        "resolver/pipeline"},
    "resolver/report": {"resolver/base", "resolver/io", "resolver/pipeline", "failover",
                        "threatfeed/core"},
    "resolver/app": None,  # may use everything; nothing may include app/
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def box_of(rel: str):
    for box in sorted(ALLOWED, key=len, reverse=True):
        if rel == box or rel.startswith(box + "/"):
            return box
    return None


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    errors = []
    checked = 0
    for path in list(root.glob("resolver/**/*")) + list(root.glob("failover/**/*")) + \
            list(root.glob("threatfeed/**/*")):
        if path.suffix not in (".h", ".cpp", ".in") or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        src_box = box_of(rel)
        if src_box is None:
            continue
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            checked += 1
            target = box_of(m.group(1))
            if target is None or target == src_box:
                continue
            if target == "resolver/app":
                errors.append(f"{rel}:{lineno}: nothing may include resolver/app ({m.group(1)})")
                continue
            allowed = ALLOWED[src_box]
            if allowed is not None and target not in allowed:
                errors.append(f"{rel}:{lineno}: {src_box} may not include {m.group(1)}")
    for e in errors:
        print(e)
    print(f"layering: {checked} includes checked, {len(errors)} violations")
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
