#!/usr/bin/env bash
# Builds xfer in release mode and runs the loopback benchmark (scripts/bench.py) against
# nc, nc | dd conv=fsync and an rsync daemon. Needs netcat-openbsd, iproute2 (ss), and
# optionally rsync: installed here if missing (Debian). `--wan` runs scripts/wan/bench-wan.py
# instead: xfer, raw TCP and rsync over two network namespaces joined by a delay relay.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v ss >/dev/null || need+=(iproute2)
command -v rsync >/dev/null || need+=(rsync)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
swift build -c release --product xfer >/dev/null
if [ "${1:-}" = "--wan" ]; then
    # Over an emulated long fat network (scripts/wan): see scripts/wan/bench-wan.py.
    shift
    exec python3 scripts/wan/bench-wan.py "$@"
fi
exec python3 scripts/bench.py "$@"
