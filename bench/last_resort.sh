#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Last resort: time to the first answer after every tier is frozen (loopback only: nsd with a
# root zone signed at run time, unbound frozen with SIGSTOP). Bounded: ROUNDS (default 3)
# rounds of at most 10 s each. STEADFAST_BIN defaults to the release build, else the dev one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ -z "${STEADFAST_BIN:-}" ]]; then
  STEADFAST_BIN=$here/../build/release/resolver/app/steadfast
  [[ -x $STEADFAST_BIN ]] || STEADFAST_BIN=$here/../build/dev/resolver/app/steadfast
fi
export STEADFAST_BIN
exec /usr/bin/python3 "$here/tools/last_resort.py" "$@"
