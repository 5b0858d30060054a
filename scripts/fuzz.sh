#!/usr/bin/env bash
# Fuzzes Framing's RecordDecoder with libFuzzer for a bounded time.
#   scripts/fuzz.sh [SECONDS]     (default 60)
# Seeds come from the test vectors; crash inputs land in Fuzz/crash-* (replay: .build-fuzz/fuzz-decoder FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
work=.build-fuzz
mkdir -p "$work/module" "$work/corpus"
cat > "$work/module/module.modulemap" <<MAP
module CXferChecksums {
    header "$(pwd)/Sources/CXferChecksums/include/CXferChecksums.h"
    export *
}
module CXferCrypto {
    header "$(pwd)/Sources/CXferCrypto/include/CXferCrypto.h"
    export *
}
MAP
for c in Sources/CXferChecksums/*.c Sources/CXferCrypto/*.c; do
    clang -O2 -fsanitize=fuzzer-no-link,address -ISources/CXferChecksums/include -ISources/CXferCrypto/include \
        -c "$c" -o "$work/$(basename "$c" .c).o"
done
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzDecoder -DFUZZ_ONE_MODULE \
    -Xcc -fmodule-map-file="$work/module/module.modulemap" \
    Sources/Framing/*.swift Fuzz/FuzzDecoder.swift "$work"/*.o -ldl -o "$work/fuzz-decoder" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
# Seeds: every vector's bytes, with a leading selector byte (bit 0 clear = expect a preamble;
# bit 1 set = open SEALED records with the fuzzer's fixed traffic secret, Fuzz/FuzzDecoder.swift).
python3 - "$work/corpus" <<'PY'
import json, sys, os
v = json.load(open("Tests/Vectors/vectors.json"))
out = sys.argv[1]
n = 0
def put(b):
    global n
    open(os.path.join(out, "seed-%03d" % n), "wb").write(b); n += 1
for r in v["records"]: put(b"\x01" + bytes.fromhex(r["hex"]))
for r in v["invalid"]: put((b"\x00" if r["preamble"] else b"\x01") + bytes.fromhex(r["hex"]))
for c in v["conversations"]:
    for side in ("client", "server"):
        put(b"\x00" + b"".join(bytes.fromhex(s["hex"]) for s in c["steps"] if s["direction"] == side))
# Sealed seeds: each record vector inside a SEALED record (sequence 0) under the fuzzer's
# fixed secret (key 00..1f, IV 00..0b), so the fuzzer starts past the tag check.
try:
    import struct, sys as _sys
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    _sys.path.insert(0, "scripts")
    from xferproto import crc32c
    aead = AESGCM(bytes(range(32)))
    for r in v["records"]:
        raw = bytes.fromhex(r["hex"])
        inner = raw[0:2] + raw[10:]
        if len(inner) - 2 > 1048558:
            continue
        header = bytes([0x0E, 0]) + struct.pack(">I", len(inner) + 16)
        sealed = aead.encrypt(bytes(range(12)), inner, header)
        put(b"\x03" + header + struct.pack(">I", crc32c(header + sealed)) + sealed)
except ImportError:
    print("fuzz: no python cryptography package; no sealed seeds")
PY
"$work/fuzz-decoder" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix=Fuzz/crash- "$work/corpus" 2>&1 | tee "$work/fuzz.log" | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY" || true
grep -q "stat::number_of_executed_units" "$work/fuzz.log"
! grep -q "ERROR: " "$work/fuzz.log"
