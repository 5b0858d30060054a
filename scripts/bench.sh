#!/usr/bin/env bash
# Builds xfer in release mode and runs the loopback benchmark (scripts/bench.py) against
# nc, nc | dd conv=fsync and an rsync daemon. Needs netcat-openbsd, iproute2 (ss), and
# optionally rsync: installed here if missing (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v ss >/dev/null || need+=(iproute2)
command -v rsync >/dev/null || need+=(rsync)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
swift build -c release --product xfer >/dev/null
exec python3 scripts/bench.py "$@"
