#!/usr/bin/env bash
# Runs the C AEAD shim (Sources/CXferCrypto) under AddressSanitizer and UndefinedBehavior-
# Sanitizer: the known answers of RFC 8439 and the GCM spec, every tag bit forged, in-place
# and empty inputs, many lengths, and a context per key freed and made again.
#   scripts/sanitize-crypto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
linker=()
command -v ld.lld >/dev/null && linker=(-fuse-ld=lld)
clang -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all "${linker[@]}" \
    -ISources/CXferCrypto/include Sources/CXferCrypto/aead.c scripts/sanitize-crypto-harness.c \
    -ldl -o "$work/harness"
"$work/harness"
