#!/usr/bin/env bash
# The long power-loss run of issue 16: every crash point of the 1-, 5-, 20-file, nested and
# blocks scenarios (protocol 1.3: one ~6 MiB file in 64 KiB blocks over 4 connections, and
# the same cut mid-way then resumed), a receiver killed before every operation of the nested,
# two-sender and blocks-resume ones (then restarted), every operation of the nested, 5-file and
# blocks-resume ones failing once with EIO, 20 rounds of two senders racing into one new
# directory (power lost at the first ACK), and ROUNDS random rounds (default 500) of every
# scenario, the blocks ones included. Needs root, /dev/fuse, fuse3, python3-pyfuse3 and
# a built xfer (swift build). Prints each violation and a summary; exits 1 on any violation.
#   scripts/powerloss/long-run.sh [ROUNDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 scripts/powerloss/drive.py run --rounds "${1:-500}" --seed "${2:-1}" \
  --enumerate one,five,twenty,nested,blocks,blocks-resume --enumerate-kills nested,two,blocks-resume \
  --enumerate-errors nested,five,blocks-resume --races 20 --jitter 0.05
