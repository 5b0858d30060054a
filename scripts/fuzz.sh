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
MAP
for c in Sources/CXferChecksums/*.c; do
    clang -O2 -fsanitize=fuzzer-no-link,address -ISources/CXferChecksums/include -c "$c" -o "$work/$(basename "$c" .c).o"
done
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzDecoder -DFUZZ_ONE_MODULE \
    -Xcc -fmodule-map-file="$work/module/module.modulemap" \
    Sources/Framing/*.swift Fuzz/FuzzDecoder.swift "$work"/*.o -o "$work/fuzz-decoder" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
# Seeds: every vector's bytes, with a leading selector byte (even = expect preamble).
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
PY
"$work/fuzz-decoder" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix=Fuzz/crash- "$work/corpus" 2>&1 | tee "$work/fuzz.log" | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY" || true
grep -q "stat::number_of_executed_units" "$work/fuzz.log"
! grep -q "ERROR: " "$work/fuzz.log"
