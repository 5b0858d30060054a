#!/usr/bin/env bash
# The long power-loss run of issue 16: every crash point of the 1-, 5-, 20-file and nested
# scenarios, a receiver killed before every operation of the nested and two-sender ones (then
# restarted), every operation of the nested and 5-file ones failing once with EIO, 20 rounds of
# two senders racing into one new directory (power lost at the first ACK),
# and ROUNDS random rounds (default 500). Needs root, /dev/fuse, fuse3, python3-pyfuse3 and
# a built xfer (swift build). Prints each violation and a summary; exits 1 on any violation.
#   scripts/powerloss/long-run.sh [ROUNDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 scripts/powerloss/drive.py run --rounds "${1:-500}" --seed "${2:-1}" \
  --enumerate one,five,twenty,nested --enumerate-kills nested,two --enumerate-errors nested,five --races 20 --jitter 0.05
