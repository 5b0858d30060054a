#!/usr/bin/env bash
# Checks the README's promise for the installed binary: `scripts/install.sh` gives one
# stripped file of at most 10 MiB that runs on a Linux machine without Swift.
#
#   scripts/static-check.sh [WORK]     (root: it uses a mount namespace)
#
# Installs into WORK (a scratch directory), then, in a mount namespace where every
# directory holding the toolchain's libraries is covered by an empty tmpfs (what a
# machine without Swift looks like to the dynamic linker), runs the installed binary:
# --version, `xfer demo`, and a send to a receiver that hands the file to --exec.
# Prints the size and the libraries the binary needs; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
started=$(date +%s)
DESTDIR="$work/root" bash scripts/install.sh /usr >/dev/null
binary="$work/root/usr/bin/xfer"
size=$(stat -c %s "$binary")
echo "static-check: installed in $(( $(date +%s) - started )) s: $binary, $size bytes ($((size / 1048576)) MiB)"
[ "$size" -le $((10 * 1048576)) ] || { echo "static-check: over 10 MiB" >&2; exit 1; }
echo "static-check: needs $(objdump -p "$binary" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')"

# Every directory with a Swift runtime library in it, hidden.
swift_dirs=$(dirname "$(readlink -f "$(command -v swift)")")/..
hidden=$(find / -xdev \( -path /proc -o -path "$work" \) -prune -o -name 'libswiftCore.so*' -print 2>/dev/null \
    | xargs -r -n1 dirname | sort -u || true)
hidden="$hidden $(readlink -f "$swift_dirs")"
echo "static-check: hiding $hidden"

unshare -m bash -s "$binary" "$work" $hidden <<'INNER'
set -euo pipefail
binary=$1; work=$2; shift 2
for directory in "$@"; do mount -t tmpfs none "$directory"; done
if (find / -xdev -path /proc -prune -o -name 'libswiftCore.so*' -print 2>/dev/null || true) | grep -q .; then
    echo "static-check: a Swift runtime is still visible" >&2; exit 1
fi
if command -v swift >/dev/null 2>&1 && swift --version >/dev/null 2>&1; then
    echo "static-check: the toolchain still runs" >&2; exit 1
fi
"$binary" --version
"$binary" demo --size 8388608 >/dev/null 2>"$work/demo.log" || { cat "$work/demo.log"; exit 1; }
mkdir -p "$work/in" "$work/out"
head -c 3000000 /dev/urandom > "$work/in/payload.bin"
"$binary" receive --listen 127.0.0.1:0 --dir "$work/out" --once \
    --exec 'sha256sum > "$XFER_PATH.consumed"' 2>"$work/receiver.log" &
receiver=$!
for _ in $(seq 200); do grep -q "listening on" "$work/receiver.log" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/receiver.log")
"$binary" send --quiet "$work/in/payload.bin" "127.0.0.1:$port"
wait "$receiver"
cmp "$work/in/payload.bin" "$work/out/payload.bin"
[ "$(cut -d' ' -f1 "$work/out/payload.bin.consumed")" = "$(sha256sum < "$work/in/payload.bin" | cut -d' ' -f1)" ]
echo "static-check: without Swift: --version, demo, and a send confirmed through --exec: ok"
INNER
