#!/usr/bin/env bash
# Runs the C AEAD shim (Sources/CXferCrypto/*.c) under AddressSanitizer and UndefinedBehavior-
# Sanitizer, with scripts/sanitize-crypto-harness.c: the published known answers of
# Tests/Vectors/aead.json (RFC 8439 §2.8.2, GCM test cases 13-16) sealed and opened in place,
# every bit of each one's tag, ciphertext, nonce and AAD flipped (must not open, and the
# plaintext of the forgery must be wiped), the other suite's context, empty texts and AADs
# passed as NULL, and round trips of many lengths (0-4096, 64 KiB, 1 MiB + 17) in exact-size
# heap buffers. Needs clang, python3 and the system's libcrypto.so.3 (OpenSSL 3).
#   scripts/sanitize-crypto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# aead.json -> one tab-separated line per vector: name suite key nonce aad plaintext ciphertext tag
python3 - Tests/Vectors/aead.json >"$work/vectors.txt" <<'PY'
import json, sys
for v in json.load(open(sys.argv[1]))["vectors"]:
    fields = [v["name"], str(v["suite"])] + [v[k] or "-" for k in ("key", "nonce", "aad", "plaintext", "ciphertext", "tag")]
    print("\t".join(fields))
PY

linker=()
command -v ld.lld >/dev/null && linker=(-fuse-ld=lld)
clang -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all "${linker[@]}" \
    -Wall -Wextra -Werror -ISources/CXferCrypto/include Sources/CXferCrypto/*.c scripts/sanitize-crypto-harness.c \
    -ldl -lpthread -o "$work/harness"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 "$work/harness" "$work/vectors.txt"
