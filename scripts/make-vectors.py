#!/usr/bin/env python3
"""Writes Tests/Vectors/vectors.json from the independent Python encoding in xferproto.py.

Run after a change to the wire format (and update SPEC.md in the same commit):
    python3 scripts/make-vectors.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

TID = bytes(range(0x10, 0x20))
TID2 = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
ZERO = bytes(16)


def u64(n):
    return str(n)


records = []


def add(name, kind, fields, raw):
    records.append({"name": name, "kind": kind, "fields": fields, "hex": raw.hex()})


add("hello-empty", "HELLO", {"parameters": []}, x.hello([]))
add("hello-agent", "HELLO", {"parameters": [{"id": 1, "value": b"xfer/1.0".hex()}]}, x.hello([(1, b"xfer/1.0")]))
add("welcome-agent", "WELCOME", {"parameters": [{"id": 1, "value": b"xfer/1.0".hex()}, {"id": 999, "value": "00ff"}]},
    x.welcome([(1, b"xfer/1.0"), (999, b"\x00\xff")]))
add("offer-file", "OFFER",
    {"transfer_id": TID.hex(), "size": u64(13), "offset": u64(0), "mode": 0o644, "mtime_seconds": u64(1700000000),
     "mtime_nanoseconds": 123456789, "name": "docs/hello.txt", "await_answer": False},
    x.offer(TID, 13, 0, 0o644, 1700000000, 123456789, "docs/hello.txt"))
add("offer-stream-unknown-size", "OFFER",
    {"transfer_id": TID2.hex(), "size": None, "offset": u64(0), "mode": 0o600, "mtime_seconds": u64(0),
     "mtime_nanoseconds": 0, "name": "stdin", "await_answer": False},
    x.offer(TID2, None, 0, 0o600, 0, 0, "stdin"))
add("offer-resume-await", "OFFER",
    {"transfer_id": TID.hex(), "size": u64(1 << 40), "offset": u64(1 << 20), "mode": 0o755, "mtime_seconds": u64(-1),
     "mtime_nanoseconds": 999999999, "name": "Grüße dir/ünïcode ✓.bin", "await_answer": True},
    x.offer(TID, 1 << 40, 1 << 20, 0o755, -1, 999999999, "Grüße dir/ünïcode ✓.bin", True))
add("answer-accept", "ANSWER", {"transfer_id": TID.hex(), "decision": "accept", "offset": u64(0), "code": 0, "message": ""},
    x.answer(TID, "accept", 0, 0, ""))
add("answer-resume", "ANSWER",
    {"transfer_id": TID.hex(), "decision": "resume", "offset": u64(8388608), "code": 0, "message": ""},
    x.answer(TID, "resume", 8388608, 0, ""))
add("answer-already-committed", "ANSWER",
    {"transfer_id": TID.hex(), "decision": "alreadyCommitted", "offset": u64(13), "code": 0, "message": ""},
    x.answer(TID, "alreadyCommitted", 13, 0, ""))
add("answer-refuse", "ANSWER",
    {"transfer_id": TID.hex(), "decision": "refuse", "offset": u64(0), "code": 6, "message": "name escapes the target directory"},
    x.answer(TID, "refuse", 0, 6, "name escapes the target directory"))
add("data-small", "DATA", {"payload": b"hello, world\n".hex()}, x.data(b"hello, world\n"))
add("data-one-byte", "DATA", {"payload": "00"}, x.data(b"\x00"))
content = b"hello, world\n"
add("end", "END", {"total_length": u64(len(content)), "digest": u64(x.digest(content))}, x.end(len(content), x.digest(content)))
add("end-empty-stream", "END", {"total_length": u64(0), "digest": u64(x.digest(b""))}, x.end(0, x.digest(b"")))
add("cancel", "CANCEL", {"code": 15, "message": "read error: Input/output error"}, x.cancel(15, "read error: Input/output error"))
add("progress", "PROGRESS", {"transfer_id": TID.hex(), "received": u64(1 << 30), "durable": u64(1 << 29)},
    x.progress(TID, 1 << 30, 1 << 29))
add("ack-durable", "ACK", {"transfer_id": TID.hex(), "committed_length": u64(13), "digest": u64(x.digest(content)), "durable": True},
    x.ack(TID, 13, x.digest(content), True))
add("ack-not-durable", "ACK", {"transfer_id": TID.hex(), "committed_length": u64(0), "digest": u64(x.digest(b"")), "durable": False},
    x.ack(TID, 0, x.digest(b""), False))
add("error-transfer", "ERROR", {"code": 9, "transfer_id": TID.hex(), "fatal": False, "message": "digest mismatch"},
    x.error(9, TID, False, "digest mismatch"))
add("error-fatal", "ERROR", {"code": 1, "transfer_id": ZERO.hex(), "fatal": True, "message": "expected HELLO"},
    x.error(1, ZERO, True, "expected HELLO"))
add("goodbye", "GOODBYE", {}, x.goodbye())
add("keepalive", "KEEPALIVE", {}, x.keepalive())

preambles = [{"name": "version-1", "version": 1, "hex": x.preamble(1).hex()},
             {"name": "version-2", "version": 2, "hex": x.preamble(2).hex()}]

invalid = [
    {"name": "bad-magic", "hex": ("HTTP".encode() + bytes(4)).hex(), "preamble": True, "error": "badMagic"},
    {"name": "length-over-limit", "hex": (bytes([5, 0]) + (1048577).to_bytes(4, "big") + bytes(4)).hex(),
     "preamble": False, "error": "payloadTooLarge"},
    {"name": "all-ff-header", "hex": "ff" * 10, "preamble": False, "error": "payloadTooLarge"},
    {"name": "checksum-mismatch", "hex": (x.data(b"hello")[:-1] + b"O").hex(), "preamble": False, "error": "checksumMismatch"},
    {"name": "unknown-critical-kind", "hex": x.record(0x42, b"").hex(), "preamble": False, "error": "unknownKind"},
    {"name": "undefined-flag", "hex": x.record(0x0B, b"", 0x02).hex(), "preamble": False, "error": "unknownFlags"},
    {"name": "end-truncated", "hex": x.record(0x06, bytes(15)).hex(), "preamble": False, "error": "truncatedField"},
    {"name": "goodbye-trailing", "hex": x.record(0x0B, b"\x00").hex(), "preamble": False, "error": "trailingBytes"},
    {"name": "empty-data", "hex": x.record(0x05, b"").hex(), "preamble": False, "error": "invalidField"},
    {"name": "name-not-utf8", "hex": x.record(0x03, TID + bytes(32) + b"\x00\x02\xff\xfe").hex(), "preamble": False,
     "error": "invalidField"},
]
ignorable = {"name": "unknown-ignorable-kind", "hex": x.record(0x9C, b"future", 0x80).hex(), "kind": 0x9C, "flags": 0x80,
             "payload": b"future".hex()}


def step(direction, note, raw):
    return {"direction": direction, "note": note, "hex": raw.hex()}


tid = bytes.fromhex("5eed5eed5eed5eed0123456789abcdef")
file_bytes = b"The quick brown fox jumps over the lazy dog.\n"
ok = [
    step("client", "preamble, version 1", x.preamble(1)),
    step("client", "HELLO with agent", x.hello([(1, b"example/1")])),
    step("client", "OFFER fox.txt, 45 bytes, data follows without waiting", x.offer(tid, len(file_bytes), 0, 0o644, 1700000000, 0, "fox.txt")),
    step("client", "DATA, first 20 bytes", x.data(file_bytes[:20])),
    step("client", "DATA, last 25 bytes", x.data(file_bytes[20:])),
    step("client", "END: 45 bytes and their XXH64", x.end(len(file_bytes), x.digest(file_bytes))),
    step("client", "GOODBYE: no more offers", x.goodbye()),
    step("server", "preamble, version 1", x.preamble(1)),
    step("server", "WELCOME with agent", x.welcome([(1, b"example/1")])),
    step("server", "ANSWER accept from 0", x.answer(tid, "accept", 0, 0, "")),
    step("server", "PROGRESS while syncing", x.progress(tid, 45, 0)),
    step("server", "ACK: 45 bytes committed, digest, durable", x.ack(tid, 45, x.digest(file_bytes), True)),
    step("server", "GOODBYE: server done; client closes first", x.goodbye()),
]
damaged = file_bytes.replace(b"lazy", b"LAZY")
fail = [
    step("client", "preamble, version 1", x.preamble(1)),
    step("client", "HELLO", x.hello([])),
    step("client", "OFFER ../etc/passwd, unsafe name", x.offer(ZERO[:8] + tid[8:], 4, 0, 0o644, 0, 0, "../etc/passwd")),
    step("client", "DATA for the refused offer (sent before the ANSWER arrived)", x.data(b"root")),
    step("client", "END for the refused offer", x.end(4, x.digest(b"root"))),
    step("client", "OFFER fox.txt", x.offer(tid, len(file_bytes), 0, 0o644, 1700000000, 0, "fox.txt")),
    step("client", "DATA: bytes damaged before framing, so the record CRC is valid", x.data(damaged)),
    step("client", "END with the digest of the bytes the sender read", x.end(len(file_bytes), x.digest(file_bytes))),
    step("client", "GOODBYE", x.goodbye()),
    step("server", "preamble", x.preamble(1)),
    step("server", "WELCOME", x.welcome([])),
    step("server", "ANSWER refuse: bad name", x.answer(ZERO[:8] + tid[8:], "refuse", 0, 6, "name must not contain '..'")),
    step("server", "ANSWER accept", x.answer(tid, "accept", 0, 0, "")),
    step("server", "ERROR for the transfer: digest mismatch, not fatal", x.error(9, tid, False, "digest mismatch: END says %016x, received bytes give %016x" % (x.digest(file_bytes), x.digest(damaged)))),
    step("server", "GOODBYE", x.goodbye()),
]
stream = [
    step("client", "preamble", x.preamble(1)),
    step("client", "HELLO", x.hello([])),
    step("client", "OFFER stdin, size unknown", x.offer(TID2, None, 0, 0o600, 0, 0, "stdin")),
    step("client", "DATA", x.data(b"line 1\n")),
    step("client", "KEEPALIVE while standard input is quiet", x.keepalive()),
    step("client", "DATA", x.data(b"line 2\n")),
    step("client", "END: total 14 bytes", x.end(14, x.digest(b"line 1\nline 2\n"))),
    step("client", "GOODBYE", x.goodbye()),
    step("server", "preamble", x.preamble(1)),
    step("server", "WELCOME", x.welcome([])),
    step("server", "ANSWER accept", x.answer(TID2, "accept", 0, 0, "")),
    step("server", "ACK", x.ack(TID2, 14, x.digest(b"line 1\nline 2\n"), True)),
    step("server", "GOODBYE", x.goodbye()),
]

out = {
    "description": "xfer protocol v1 test vectors; see SPEC.md. Integers of 64 bits are decimal strings; "
                   "byte strings are lower-case hex. Generated by scripts/make-vectors.py.",
    "preambles": preambles,
    "records": records,
    "invalid": invalid,
    "ignorable": ignorable,
    "conversations": [
        {"name": "successful-file", "steps": ok},
        {"name": "refused-name-and-digest-mismatch", "steps": fail},
        {"name": "stream-of-unknown-length", "steps": stream},
    ],
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "vectors.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("wrote", os.path.normpath(path), len(records), "records", len(invalid), "invalid")
