#!/usr/bin/env bash
# Builds Examples/Embedding, a separate package that depends on the Framing and Transfer
# products by path (as another package would by URL), and runs it: a Framing round trip,
# then files sent through an in-process receiver, each verdict checked and the bytes
# compared. Proves the products can be embedded: public API enough, no unsafeFlags.
set -euo pipefail
cd "$(dirname "$0")/../Examples/Embedding"
work=$(mktemp -d /tmp/xfer-embed-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/target"
head -c 300000 /dev/urandom > "$work/one.bin"
printf 'two\n' > "$work/two.txt"
start=$(date +%s)
swift build -q
output=$(swift run -q EmbedXfer "$work/target" "$work/one.bin" "$work/two.txt")
echo "$output"
grep -q "framing: END of 5 bytes" <<<"$output"
grep -q "confirmed one.bin: 300000 bytes, durable" <<<"$output"
grep -q "confirmed two.txt: 4 bytes, durable" <<<"$output"
cmp "$work/one.bin" "$work/target/one.bin"
cmp "$work/two.txt" "$work/target/two.txt"
echo "embed-check: a separate package built on Framing and Transfer sent 2 files, both confirmed and identical ($(( $(date +%s) - start )) s)"
