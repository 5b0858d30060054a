#!/usr/bin/env python3
"""Writes Tests/Vectors/vectors.json from the independent Python encoding in xferproto.py.

Run after a change to the wire format (and update SPEC.md in the same commit):
    python3 scripts/make-vectors.py
    python3 scripts/make-vectors.py --check  # exits 1 if the file is out of date

The JSON conventions are SPEC.md §12's: every record carries its kind and flags as numbers
and its payload fields under their §6 names in snake case; u8/u16/u32 values are JSON
numbers, u64/i64 values decimal strings, byte strings lower-case hex, str16 JSON strings.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

KIND_NAMES = {v: k for k, v in x.KINDS.items()}
TID = bytes(range(0x10, 0x20))
TID2 = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
ZERO = bytes(16)
U64_MAX = (1 << 64) - 1


def u64(n):
    """A u64 or i64 wire value, as a decimal string (exact in every JSON reader)."""
    return str(n)


class Rec:
    """One record: its bytes and the fields they carry (the §12 form)."""

    def __init__(self, raw, kind, flags, fields):
        self.raw, self.kind, self.flags, self.fields = raw, kind, flags, fields

    def entry(self):
        return {"kind": self.kind, "kind_name": KIND_NAMES.get(self.kind), "flags": self.flags,
                "fields": self.fields}


def params(items):
    return [{"id": pid, "value": value.hex()} for pid, value in items]


def hello(items=()):
    return Rec(x.hello(list(items)), 0x01, 0, {"parameters": params(items)})


def welcome(items=()):
    return Rec(x.welcome(list(items)), 0x02, 0, {"parameters": params(items)})


def offer(tid, size, offset, mode, mtime_s, mtime_ns, name, await_answer=False, blocks=False):
    raw = x.offer(tid, size, offset, mode, mtime_s, mtime_ns, name, await_answer, blocks)
    return Rec(raw, 0x03, (1 if await_answer else 0) | (2 if blocks else 0),
               {"transfer_id": tid.hex(), "size": u64(U64_MAX if size is None else size), "offset": u64(offset),
                "mode": mode, "mtime_seconds": u64(mtime_s), "mtime_nanoseconds": mtime_ns, "name": name})


def answer(tid, decision, offset, code, message):
    return Rec(x.answer(tid, decision, offset, code, message), 0x04, 0,
               {"transfer_id": tid.hex(), "decision": x.DECISIONS[decision], "offset": u64(offset), "code": code,
                "message": message})


def data(payload):
    return Rec(x.data(payload), 0x05, 0, {"payload": payload.hex()})


def end(total, dig):
    return Rec(x.end(total, dig), 0x06, 0, {"total_length": u64(total), "digest": u64(dig)})


def end_of(stream):
    return end(len(stream), x.digest(stream))


def cancel(code, message):
    return Rec(x.cancel(code, message), 0x07, 0, {"code": code, "message": message})


def progress(tid, received, durable):
    return Rec(x.progress(tid, received, durable), 0x08, 0,
               {"transfer_id": tid.hex(), "received": u64(received), "durable": u64(durable)})


def ack(tid, length, dig, durable):
    return Rec(x.ack(tid, length, dig, durable), 0x09, 1 if durable else 0,
               {"transfer_id": tid.hex(), "committed_length": u64(length), "digest": u64(dig)})


def ack_of(tid, stream):
    return ack(tid, len(stream), x.digest(stream), True)


def error(code, tid, fatal, message):
    return Rec(x.error(code, tid, fatal, message), 0x0A, 1 if fatal else 0,
               {"code": code, "transfer_id": tid.hex(), "message": message})


def goodbye():
    return Rec(x.goodbye(), 0x0B, 0, {})


def keepalive():
    return Rec(x.keepalive(), 0x80, 0, {})


# SPEC 1.3 (§16)

def session(sid, token, block_size):
    return Rec(x.session(sid, token, block_size), x.SESSION, 0,
               {"session_id": sid.hex(), "token": token.hex(), "block_size": block_size})


def join(sid, token):
    return Rec(x.join(sid, token), x.JOIN, 0, {"session_id": sid.hex(), "token": token.hex()})


def have(tid, count, held):
    return Rec(x.have(tid, count, held), x.HAVE, 0,
               {"transfer_id": tid.hex(), "block_count": count, "bitmap": x.have_bitmap(count, held).hex()})


def block(tid, index):
    return Rec(x.block(tid, index), x.BLOCK, 0, {"transfer_id": tid.hex(), "index": index})


def blockend(dig):
    return Rec(x.blockend(dig), x.BLOCKEND, 0, {"digest": u64(dig)})


def blockack(tid, index):
    return Rec(x.blockack(tid, index), x.BLOCKACK, 0, {"transfer_id": tid.hex(), "index": index})


def unknown(kind, flags, payload):
    return Rec(x.record(kind, payload, flags), kind, flags, {"payload": payload.hex()})


# ---------------------------------------------------------------------------------------
# Single records

records = []


def add(name, rec, sendable=True):
    entry = {"name": name, **rec.entry(), "hex": rec.raw.hex()}
    if not sendable:
        entry["sendable"] = False  # decoders accept it; a conformant peer never sends it
    records.append(entry)


content = b"hello, world\n"
add("hello-empty", hello())
add("hello-agent", hello([(1, b"xfer/1.0")]))
add("welcome-agent", welcome([(1, b"xfer/1.0"), (999, b"\x00\xff")]))
add("offer-file", offer(TID, 13, 0, 0o644, 1700000000, 123456789, "docs/hello.txt"))
add("offer-stream-unknown-size", offer(TID2, None, 0, 0o644, 1700000000, 0, "stdin"))
add("offer-resume-await", offer(TID, 1 << 40, 1 << 20, 0o755, -1, 999999999, "Grüße dir/ünïcode ✓.bin", True))
# A well-formed record whose name a receiver refuses with badName (§9): decoders accept it.
add("offer-name-over-limit", offer(TID, 0, 0, 0o644, 0, 0, "n" * 4097), sendable=False)
# Noncharacters are valid UTF-8 (§2): a decoder accepts them.
add("offer-name-noncharacter", offer(TID, 0, 0, 0o644, 0, 0, "x\ufdd0y"))
add("answer-accept", answer(TID, "accept", 0, 0, ""))
add("answer-resume", answer(TID, "resume", 8388608, 0, ""))
add("answer-already-committed", answer(TID, "alreadyCommitted", 13, 0, ""))
add("answer-refuse", answer(TID, "refuse", 0, 6, "name escapes the target directory"))
add("data-small", data(content))
add("data-one-byte", data(b"\x00"))
add("end", end_of(content))
add("end-empty-stream", end_of(b""))
add("cancel", cancel(15, "read error: Input/output error"))
add("progress", progress(TID, 1 << 30, 1 << 29))
add("ack-durable", ack(TID, 13, x.digest(content), True))
add("ack-not-durable", ack(TID, 0, x.digest(b""), False))
add("error-transfer", error(9, TID, False, "digest mismatch"))
add("error-fatal", error(1, ZERO, True, "expected HELLO"))
# §7.3: the receiver's program refused a committed stream (code 32, consumerFailed).
add("error-consumer-failed", error(32, TID, False, "'db.sql' is committed, but the receiver's --exec program exited with status 3; not acknowledged"))
add("goodbye", goodbye())
add("keepalive", keepalive())

# SPEC 1.3 (§16): sessions and blocks. The worked example of §16.5: 150,000 bytes, byte p is
# p mod 251, in blocks of 65,536 bytes; its last block (index 2) is 18,928 bytes.
SID = bytes.fromhex("5e5510a15e5510a1000102030405060f")
TOKEN = bytes(range(0xC0, 0xE0))
big = bytes(p % 251 for p in range(150000))
big_digests = x.block_digests(big, 1 << 16)
add("hello-streams", hello([(1, b"xfer/1.3"), x.streams_param(8)]))
add("welcome-streams", welcome([(1, b"xfer/1.3"), x.streams_param(4)]))
add("offer-blocks", offer(TID, len(big), 0, 0o644, 1700000000, 0, "big.bin", await_answer=True, blocks=True))
add("session", session(SID, TOKEN, 1 << 24))
add("session-smallest-block", session(SID, TOKEN, x.MIN_BLOCK_SIZE))
add("session-largest-block", session(SID, TOKEN, x.MAX_BLOCK_SIZE))
add("join", join(SID, TOKEN))
# Blocks 0, 1, 2 and 9 of 10: bitmap 07 02, the second byte's bits 2-7 past the last block.
add("have-partial-last-byte", have(TID, 10, [0, 1, 2, 9]))
add("have-whole-bytes", have(TID, 16, range(16)))
add("have-none", have(TID, 3, []))
add("block", block(TID, 2))
add("blockend", blockend(big_digests[2]))
add("blockack", blockack(TID, 2))

preambles = [
    {"name": "version-1", "version": 1, "reserved": 0, "hex": x.preamble(1).hex()},
    {"name": "version-2", "version": 2, "reserved": 0, "hex": x.preamble(2).hex()},
    # Reserved bytes are ignored on receipt (§3).
    {"name": "version-1-reserved-set", "version": 1, "reserved": 0x0102, "hex": (b"XFER" + struct.pack(">HH", 1, 0x0102)).hex()},
]

# The wire code a decoder error is reported with (§12); null: no ERROR can be sent.
CODES = {"badMagic": None, "payloadTooLarge": 4, "checksumMismatch": 3, "unknownKind": 5, "unknownFlags": 1,
         "truncatedField": 1, "trailingBytes": 1, "invalidField": 1, "truncatedInput": None}
invalid = []


def bad(name, raw, err, preamble=False):
    invalid.append({"name": name, "hex": raw.hex(), "preamble": preamble, "error": err, "code": CODES[err]})


def corrupt(raw):
    """The record with the last bit of its CRC flipped."""
    return raw[:9] + bytes([raw[9] ^ 0x01]) + raw[10:]


offer_prefix = TID + struct.pack(">QQIqI", 4, 0, 0o644, 0, 0)
bad("bad-magic", b"HTTP" + bytes(4), "badMagic", preamble=True)
bad("length-over-limit", bytes([5, 0]) + (1048577).to_bytes(4, "big") + bytes(4), "payloadTooLarge")
bad("all-ff-header", b"\xff" * 10, "payloadTooLarge")
bad("checksum-mismatch", x.data(b"hello")[:-1] + b"O", "checksumMismatch")
bad("unknown-critical-kind", x.record(0x42, b""), "unknownKind")
# The order of the checks (§4): length, then CRC, then kind, flags and fields.
bad("unknown-kind-over-limit", bytes([0x42, 0]) + (1048577).to_bytes(4, "big") + bytes(4), "payloadTooLarge")
bad("unknown-kind-bad-checksum", corrupt(x.record(0x42, b"")), "checksumMismatch")
bad("undefined-flag", x.record(0x0B, b"", 0x02), "unknownFlags")
bad("undefined-flag-bad-checksum", corrupt(x.record(0x0B, b"", 0x02)), "checksumMismatch")
bad("undefined-flag-and-trailing-bytes", x.record(0x0B, b"\x00", 0x02), "unknownFlags")
bad("end-truncated", x.record(0x06, bytes(15)), "truncatedField")
bad("goodbye-trailing", x.record(0x0B, b"\x00"), "trailingBytes")
# KEEPALIVE is a known kind in version 1: its layout is checked like any other (§6.11).
bad("keepalive-with-payload", x.record(0x80, b"\x00"), "trailingBytes")
bad("keepalive-with-flag", x.record(0x80, b"", 0x01), "unknownFlags")
bad("empty-data", x.record(0x05, b""), "invalidField")
bad("name-not-utf8", x.record(0x03, TID + bytes(32) + b"\x00\x02\xff\xfe"), "invalidField")
bad("name-overlong-utf8", x.record(0x03, offer_prefix + b"\x00\x02\xc0\xaf"), "invalidField")
bad("name-surrogate", x.record(0x03, offer_prefix + b"\x00\x03\xed\xa0\x80"), "invalidField")
bad("message-not-utf8", x.record(0x0A, struct.pack(">H", 8) + TID + b"\x00\x01\x80", 0x01), "invalidField")
bad("message-over-limit", x.record(0x07, struct.pack(">HH", 14, 1025) + b"m" * 1025), "invalidField")
bad("offer-offset-past-size", x.record(0x03, TID + struct.pack(">QQIqI", 4, 5, 0o644, 0, 0) + x.str16("a")),
    "invalidField")
bad("offer-unknown-size-offset", x.record(0x03, TID + struct.pack(">QQIqI", U64_MAX, 1, 0o644, 0, 0) + x.str16("a")),
    "invalidField")
bad("offer-nanoseconds", x.record(0x03, TID + struct.pack(">QQIqI", 4, 0, 0o644, 0, 1000000000) + x.str16("a")),
    "invalidField")
bad("answer-unknown-decision", x.record(0x04, TID + struct.pack(">BQH", 4, 0, 0) + x.str16("")), "invalidField")
bad("progress-durable-over-received", x.record(0x08, TID + struct.pack(">QQ", 1, 2)), "invalidField")
bad("error-zero-id-not-fatal", x.error(9, ZERO, False, "digest mismatch"), "invalidField")
# All zero names the whole connection: only a fatal ERROR may carry it (§2), never a stream's records.
bad("offer-zero-id", x.record(0x03, ZERO + struct.pack(">QQIqI", 4, 0, 0o644, 0, 0) + x.str16("a")), "invalidField")
bad("answer-zero-id", x.record(0x04, ZERO + struct.pack(">BQH", 0, 0, 0) + x.str16("")), "invalidField")
bad("progress-zero-id", x.record(0x08, ZERO + struct.pack(">QQ", 1, 1)), "invalidField")
bad("ack-zero-id", x.record(0x09, ZERO + struct.pack(">QQ", 0, x.digest(b"")), 0x01), "invalidField")
bad("hello-too-many-parameters", x.record(0x01, struct.pack(">H", 65) + struct.pack(">HH", 7, 0) * 65), "invalidField")
bad("parameter-value-over-limit", x.record(0x01, struct.pack(">HHH", 1, 7, 4097) + bytes(4097)), "invalidField")
bad("cut-inside-record", x.goodbye()[:7], "truncatedInput")

# SPEC 1.3 (§16): the OFFER flag `blocks`, SESSION, JOIN, HAVE, BLOCK, BLOCKEND, BLOCKACK.
def offer_raw(flags, size, offset, tid=TID):
    return x.record(0x03, tid + struct.pack(">QQIqI", size, offset, 0o644, 0, 0) + x.str16("a"), flags)


def session_raw(sid=SID, token=TOKEN, block_size=1 << 24, extra=b"", flags=0):
    return x.record(x.SESSION, x.session_payload(sid, token, block_size) + extra, flags)


bad("offer-blocks-without-await-answer", offer_raw(0x02, 4, 0), "invalidField")
bad("offer-blocks-unknown-size", offer_raw(0x03, U64_MAX, 0), "invalidField")
bad("offer-blocks-offset", offer_raw(0x03, 4, 1), "invalidField")
bad("offer-blocks-size-zero", offer_raw(0x03, 0, 0), "invalidField")
bad("offer-undefined-flag", offer_raw(0x04, 4, 0), "unknownFlags")
bad("session-block-size-not-power-of-two", session_raw(block_size=(1 << 16) + (1 << 15)), "invalidField")
bad("session-block-size-too-small", session_raw(block_size=1 << 15), "invalidField")
bad("session-block-size-too-large", session_raw(block_size=1 << 27), "invalidField")
bad("session-block-size-zero", session_raw(block_size=0), "invalidField")
bad("session-zero-id", session_raw(sid=ZERO), "invalidField")
bad("session-truncated", x.record(x.SESSION, x.session_payload(SID, TOKEN, 1 << 24)[:51]), "truncatedField")
bad("session-trailing", session_raw(extra=b"\x00"), "trailingBytes")
bad("session-with-flag", session_raw(flags=0x01), "unknownFlags")
bad("join-zero-id", x.record(x.JOIN, ZERO + TOKEN), "invalidField")
bad("join-short-token", x.record(x.JOIN, SID + TOKEN[:31]), "truncatedField")
bad("join-trailing", x.record(x.JOIN, SID + TOKEN + b"\x00"), "trailingBytes")
bad("have-bits-past-last-block", x.record(x.HAVE, x.have_payload(TID, 10, b"\x07\x06")), "invalidField")
bad("have-bitmap-too-long", x.record(x.HAVE, x.have_payload(TID, 10, b"\x07\x02\x00")), "invalidField")
bad("have-bitmap-too-short", x.record(x.HAVE, x.have_payload(TID, 10, b"\x07")), "invalidField")
bad("have-zero-blocks", x.record(x.HAVE, x.have_payload(TID, 0, b"")), "invalidField")
bad("have-zero-id", x.record(x.HAVE, x.have_payload(ZERO, 3, b"\x01")), "invalidField")
bad("have-truncated-count", x.record(x.HAVE, TID + b"\x00\x00"), "truncatedField")
bad("block-zero-id", x.record(x.BLOCK, ZERO + struct.pack(">I", 0)), "invalidField")
bad("block-truncated", x.record(x.BLOCK, TID + b"\x00\x00\x02"), "truncatedField")
bad("block-trailing", x.record(x.BLOCK, TID + struct.pack(">IB", 2, 0)), "trailingBytes")
bad("block-with-flag", x.record(x.BLOCK, TID + struct.pack(">I", 2), 0x01), "unknownFlags")
bad("blockend-truncated", x.record(x.BLOCKEND, struct.pack(">Q", big_digests[2])[:7]), "truncatedField")
bad("blockend-trailing", x.record(x.BLOCKEND, struct.pack(">QB", big_digests[2], 0)), "trailingBytes")
bad("blockack-zero-id", x.record(x.BLOCKACK, ZERO + struct.pack(">I", 2)), "invalidField")
bad("blockack-truncated", x.record(x.BLOCKACK, TID + b"\x00"), "truncatedField")
bad("blockack-trailing", x.record(x.BLOCKACK, TID + struct.pack(">IB", 2, 0)), "trailingBytes")

# The Python decoder of §16's kinds agrees with every vector of those kinds: each record
# decodes to its fields, each invalid one (past length and CRC) gives its error.
for entry in records:
    if entry["kind"] in x.PARSERS_1_3 and entry["kind"] != 0x03:
        kind, flags, fields = x.parse_record(bytes.fromhex(entry["hex"]))
        got = {k: (v.hex() if isinstance(v, bytes) else u64(v) if k == "digest" else v) for k, v in fields.items()}
        assert got == entry["fields"], (entry["name"], got)
    elif entry["kind"] == 0x03:
        x.parse_record(bytes.fromhex(entry["hex"]))
for entry in invalid:
    raw = bytes.fromhex(entry["hex"])
    if not entry["preamble"] and len(raw) >= 10 and raw[0] in x.PARSERS_1_3 and entry["code"] == 1:
        try:
            x.parse_record(raw)
        except x.FieldError as e:
            assert e.error == entry["error"], (entry["name"], e)
        else:
            raise AssertionError("%s decoded" % entry["name"])

ignorable = [{"name": "unknown-ignorable-kind", **unknown(0x9C, 0x80, b"future").entry(),
              "hex": unknown(0x9C, 0x80, b"future").raw.hex()}]

# ---------------------------------------------------------------------------------------
# Conversations

# Fields a conformant peer chooses for itself (§12): never compared, and transfer IDs bound.
VARIABLE = {0x01: ["parameters"], 0x02: ["parameters"], 0x04: ["message"], 0x07: ["message"], 0x0A: ["message"]}


def step(direction, note, what, variable=(), optional=None, after=None, conn=None, any_connection=False):
    """One step. PROGRESS and KEEPALIVE are optional unless said otherwise: whether they come
    depends on timing. `conn`: the connection that carries it (1, the first, when absent);
    `any_connection`: a step of a block (BLOCK, its DATA, BLOCKEND, BLOCKACK) that may travel
    on any connection of the session, its BLOCKACK on the one that carried it (§12.1)."""
    if isinstance(what, int):
        entry = {"direction": direction, "note": note, "type": "preamble", "version": what, "hex": x.preamble(what).hex()}
    elif isinstance(what, tuple):  # ("invalid", raw, error name)
        entry = {"direction": direction, "note": note, "type": "invalid", "error": what[2], "code": CODES[what[2]],
                 "hex": what[1].hex()}
    else:
        entry = {"direction": direction, "note": note, "type": "record", **what.entry(), "hex": what.raw.hex()}
        variable = list(VARIABLE.get(what.kind, [])) + [v for v in variable if v not in VARIABLE.get(what.kind, [])]
        if optional is None:
            optional = what.kind in (0x08, 0x80)
    if variable:
        entry["variable"] = list(variable)
    if optional:
        entry["optional"] = True
    if after:
        entry["after_seconds"] = after
    if conn is not None:
        entry["connection"] = conn
    if any_connection:
        entry["any_connection"] = True
    return entry


def c(note, what, **kw):
    return step("client", note, what, **kw)


def s(note, what, **kw):
    return step("server", note, what, **kw)


OFFER_ID = ["transfer_id"]
STDIN = ["transfer_id", "mode", "mtime_seconds", "mtime_nanoseconds"]
T = 1700000000


def opening(client_hello=hello([(1, b"example/1")]), server_welcome=welcome([(1, b"example/1")])):
    return [
        c("preamble, version 1", 1),
        s("preamble, version 1, as soon as the client's preamble is read", 1),
        c("HELLO", client_hello),
        s("WELCOME", server_welcome),
    ]


def file_source(name, stream, outcome="confirmed", mtime=T):
    return {"type": "file", "name": name, "mode": 0o644, "mtime_seconds": u64(mtime), "mtime_nanoseconds": 0,
            "content": [{"hex": stream.hex()}], "outcome": outcome}


conversations = []


def conversation(name, description, conformance, steps, client_sources=None, server_state=None):
    entry = {"name": name, "description": description, "conformance": conformance}
    if client_sources is not None:
        entry["client_sources"] = client_sources
    if server_state is not None:
        entry["server_state"] = server_state
    entry["steps"] = steps
    conversations.append(entry)


fox = b"The quick brown fox jumps over the lazy dog.\n"
tid = bytes.fromhex("5eed5eed5eed5eed0123456789abcdef")

conversation(
    "successful-file",
    "One file, answered and acknowledged durable; the client closes first (§7.6).",
    ["client", "server"],
    opening() + [
        c("OFFER fox.txt, 45 bytes; DATA follows without waiting", offer(tid, len(fox), 0, 0o644, T, 0, "fox.txt"),
          variable=OFFER_ID),
        s("ANSWER accept from 0", answer(tid, "accept", 0, 0, "")),
        c("DATA, first 20 bytes", data(fox[:20])),
        c("DATA, last 25 bytes (record boundaries carry no meaning)", data(fox[20:])),
        c("END: 45 bytes and their XXH64", end_of(fox)),
        s("PROGRESS while syncing", progress(tid, 45, 0)),
        s("ACK: 45 bytes committed, digest, durable", ack_of(tid, fox)),
        c("GOODBYE: no more offers", goodbye()),
        s("GOODBYE: server done; client closes first", goodbye()),
    ],
    client_sources=[file_source("fox.txt", fox)],
    server_state={},
)

damaged = fox.replace(b"lazy", b"LAZY")
bad_tid = ZERO[:8] + tid[8:]
conversation(
    "refused-name-and-digest-mismatch",
    "A name leaving the target is refused while its DATA is already on the way; a stream damaged before framing "
    "fails its digest. The client side is a faulty sender, so only the server side is conformance.",
    ["server"],
    opening(hello(), welcome()) + [
        c("OFFER ../etc/passwd, unsafe name", offer(bad_tid, 4, 0, 0o644, 0, 0, "../etc/passwd")),
        c("DATA for the refused offer (sent before the ANSWER arrived)", data(b"root")),
        c("END for the refused offer", end_of(b"root")),
        c("OFFER fox.txt", offer(tid, len(fox), 0, 0o644, T, 0, "fox.txt")),
        c("DATA: bytes damaged before framing, so the record CRC is valid", data(damaged)),
        c("END with the digest of the bytes the sender read", end_of(fox)),
        s("ANSWER refuse: bad name", answer(bad_tid, "refuse", 0, 6, "name must not contain '..'")),
        s("ANSWER accept", answer(tid, "accept", 0, 0, "")),
        s("ERROR for the transfer: digest mismatch, not fatal",
          error(9, tid, False, "digest mismatch: END says %016x, received bytes give %016x"
                % (x.digest(fox), x.digest(damaged)))),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    server_state={},
)

lines = b"line 1\nline 2\n"
conversation(
    "stream-of-unknown-length",
    "Standard input: size unknown (all ones), mode 0o644 and the time of the offer (§6.2).",
    ["client", "server"],
    opening(hello(), welcome()) + [
        c("OFFER stdin, size unknown", offer(TID2, None, 0, 0o644, T, 0, "stdin"), variable=STDIN),
        s("ANSWER accept", answer(TID2, "accept", 0, 0, "")),
        c("DATA", data(lines[:7])),
        c("KEEPALIVE while standard input is quiet", keepalive()),
        c("DATA", data(lines[7:])),
        c("END: total 14 bytes", end_of(lines)),
        s("ACK", ack_of(TID2, lines)),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    client_sources=[{"type": "stdin", "name": "stdin", "content": [{"hex": lines.hex()}], "outcome": "confirmed"}],
    server_state={},
)

# Resume: the receiver holds the first 8 MiB (zeros) of an 8 MiB + 45 B file.
kept = 8 << 20
resumed = bytes(kept) + fox
rid = bytes.fromhex("0e5e0e5e0e5e0e5e00112233445566ff")
conversation(
    "resume-after-cancel",
    "The receiver holds the first 8 MiB of the stream from an earlier connection: it answers resume; the sender "
    "stops, closes the offer with CANCEL, hashes the kept prefix locally and offers again from there with "
    "awaitAnswer; the digest in END and ACK covers the whole stream (§11).",
    ["client", "server"],
    opening(hello(), welcome()) + [
        c("OFFER resumed.bin from 0, without awaitAnswer", offer(rid, len(resumed), 0, 0o644, T, 0, "resumed.bin"),
          variable=OFFER_ID),
        s("ANSWER resume from 8 MiB: the receiver holds that much", answer(rid, "resume", kept, 0, "")),
        c("DATA the sender had sent before it read the ANSWER: any prefix of the stream, possibly none",
          data(bytes(16)), variable=["payload"], optional=True),
        c("CANCEL: the receiver discards this offer's data anyway", cancel(14, "receiver answered resume")),
        c("OFFER again from 8 MiB, awaitAnswer", offer(rid, len(resumed), kept, 0o644, T, 0, "resumed.bin", True),
          variable=OFFER_ID),
        s("ANSWER accept at 8 MiB, after re-reading the kept prefix into the digest", answer(rid, "accept", kept, 0, "")),
        c("DATA: the 45 bytes after the kept prefix", data(fox)),
        c("END: the whole stream's length and digest, kept prefix included", end_of(resumed)),
        s("ACK: the whole stream", ack_of(rid, resumed)),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    client_sources=[{"type": "file", "name": "resumed.bin", "mode": 0o644, "mtime_seconds": u64(T),
                     "mtime_nanoseconds": 0, "content": [{"zeros": kept}, {"hex": fox.hex()}], "outcome": "confirmed"}],
    server_state={"partials": [{"transfer_id": rid.hex(), "content": [{"zeros": kept}], "locked": False}]},
)

cid = bytes.fromhex("c0aa1770c0aa1770fedcba9876543210")
conversation(
    "already-committed",
    "The receiver committed this transfer ID on an earlier connection (its ACK was lost) and the file is untouched "
    "since: it answers alreadyCommitted and sends the ACK of that commit at once; the sender's pipelined DATA "
    "and END are discarded (§11).",
    ["client", "server"],
    opening(hello(), welcome()) + [
        c("OFFER fox.txt", offer(cid, len(fox), 0, 0o644, T, 0, "fox.txt"), variable=OFFER_ID),
        c("DATA, pipelined", data(fox)),
        c("END, pipelined", end_of(fox)),
        s("ANSWER alreadyCommitted: 45 bytes", answer(cid, "alreadyCommitted", len(fox), 0, "")),
        s("ACK of the earlier commit, right after the ANSWER", ack_of(cid, fox)),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    client_sources=[file_source("fox.txt", fox)],
    server_state={"committed": [{"transfer_id": cid.hex(), "name": "fox.txt", "content": [{"hex": fox.hex()}]}]},
)

aid = bytes.fromhex("a0a0a0a0a0a0a0a00000000000000001")
bid = bytes.fromhex("b0b0b0b0b0b0b0b00000000000000002")
other = b"thirty bytes of something else"
assert len(other) == 30
conversation(
    "refused-await-offer-then-next",
    "Both offers are answered resume; the re-offer of a.txt (awaitAnswer) is refused, so nothing more is sent "
    "for it and the receiver is back in IDLE (§6.2, §7.3): the next OFFER follows at once.",
    ["client", "server"],
    opening(hello(), welcome()) + [
        c("OFFER a.txt", offer(aid, len(fox), 0, 0o644, T, 0, "a.txt"), variable=OFFER_ID),
        c("DATA a.txt, pipelined", data(fox)),
        c("END a.txt", end_of(fox)),
        c("OFFER b.txt", offer(bid, len(other), 0, 0o644, T, 0, "b.txt"), variable=OFFER_ID),
        c("DATA b.txt, pipelined", data(other)),
        c("END b.txt", end_of(other)),
        s("ANSWER resume a.txt from 20", answer(aid, "resume", 20, 0, "")),
        s("ANSWER resume b.txt from 10", answer(bid, "resume", 10, 0, "")),
        c("OFFER a.txt again from 20, awaitAnswer", offer(aid, len(fox), 20, 0o644, T, 0, "a.txt", True),
          variable=OFFER_ID),
        s("ANSWER refuse a.txt: busy (its partial is in use elsewhere)",
          answer(aid, "refuse", 0, 13, "'a.txt' is being written by another process")),
        c("OFFER b.txt again from 10, awaitAnswer: nothing was sent for the refused one",
          offer(bid, len(other), 10, 0o644, T, 0, "b.txt", True), variable=OFFER_ID),
        s("ANSWER accept b.txt at 10", answer(bid, "accept", 10, 0, "")),
        c("DATA b.txt from 10", data(other[10:])),
        c("END b.txt", end_of(other)),
        s("ACK b.txt", ack_of(bid, other)),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    client_sources=[file_source("a.txt", fox, outcome="failed"), file_source("b.txt", other)],
    server_state={"partials": [
        {"transfer_id": aid.hex(), "content": [{"hex": fox[:20].hex()}], "locked": True},
        {"transfer_id": bid.hex(), "content": [{"hex": other[:10].hex()}], "locked": False},
    ]},
)

conversation(
    "checksum-error-from-client",
    "A DATA record whose CRC does not match: the server sends a fatal ERROR checksumMismatch, shuts down its side "
    "and reads to the end (§7.5); the client reads to the end and closes. The client side is faulty, so only the "
    "server side is conformance.",
    ["server"],
    opening(hello(), welcome()) + [
        c("OFFER fox.txt", offer(tid, len(fox), 0, 0o644, T, 0, "fox.txt")),
        s("ANSWER accept", answer(tid, "accept", 0, 0, "")),
        c("DATA with one bit of its CRC flipped", ("invalid", corrupt(x.data(fox)), "checksumMismatch")),
        s("fatal ERROR checksumMismatch for the whole connection",
          error(3, ZERO, True, "DATA record checksum mismatch")),
    ],
    server_state={},
)

conversation(
    "checksum-error-from-server",
    "An ANSWER whose CRC does not match: the client sends a fatal ERROR checksumMismatch, shuts down its side and "
    "reads to the end (§7.5). The server side is faulty, so only the client side is conformance.",
    ["client"],
    opening(hello(), welcome()) + [
        c("OFFER fox.txt", offer(tid, len(fox), 0, 0o644, T, 0, "fox.txt"), variable=OFFER_ID),
        c("DATA, if the client pipelines", data(fox), optional=True),
        c("END, if the client pipelines", end_of(fox), optional=True),
        s("ANSWER with one bit of its CRC flipped",
          ("invalid", corrupt(x.answer(tid, "accept", 0, 0, "")), "checksumMismatch")),
        c("fatal ERROR checksumMismatch", error(3, ZERO, True, "ANSWER record checksum mismatch")),
    ],
    client_sources=[file_source("fox.txt", fox, outcome="failed")],
)

conversation(
    "version-mismatch-newer-client",
    "A client speaking only version 2: the server answers with a preamble of the version it speaks and a fatal "
    "ERROR unsupportedVersion, and reads to the end (§3, §7.5).",
    ["server"],
    [
        c("preamble, version 2", 2),
        s("preamble, version 1: the highest the server speaks", 1),
        s("fatal ERROR unsupportedVersion", error(2, ZERO, True, "this receiver speaks protocol version 1, not 2")),
    ],
    server_state={},
)

conversation(
    "version-mismatch-newer-server",
    "A server speaking only version 2: the client must report the ERROR, send nothing after reading it, and close "
    "after the server's end of stream. What a pipelining client sent before it read them is optional.",
    ["client"],
    [
        c("preamble, version 1", 1),
        c("HELLO, if the client pipelines", hello(), optional=True),
        c("OFFER, if the client pipelines", offer(tid, len(fox), 0, 0o644, T, 0, "fox.txt"), variable=OFFER_ID,
          optional=True),
        c("DATA, if the client pipelines", data(fox), optional=True),
        c("END, if the client pipelines", end_of(fox), optional=True),
        s("preamble, version 2", 2),
        s("fatal ERROR unsupportedVersion", error(2, ZERO, True, "this receiver speaks protocol version 2, not 1")),
    ],
    client_sources=[file_source("fox.txt", fox, outcome="failed")],
)

ticks = b"tick 1\ntick 2\n"
qid = bytes.fromhex("9e1e9e1e9e1e9e1e0000000000000077")
conversation(
    "keepalive-on-a-quiet-stream",
    "Standard input goes quiet for 3.6 s, longer than the receiver's idle timeout (here 2 s): the client's "
    "KEEPALIVEs, each within the timeout, keep the connection (§7.1, §7.3).",
    ["client", "server"],
    opening(hello(), welcome()) + [
        c("OFFER quiet.log, size unknown", offer(qid, None, 0, 0o644, T, 0, "quiet.log"), variable=STDIN),
        s("ANSWER accept", answer(qid, "accept", 0, 0, "")),
        c("DATA", data(ticks[:7])),
        c("KEEPALIVE: the source has nothing to send", keepalive(), optional=False, after=1.2),
        c("KEEPALIVE", keepalive(), optional=False, after=1.2),
        c("KEEPALIVE", keepalive(), optional=False, after=1.2),
        c("DATA: the source has more", data(ticks[7:]), after=0.4),
        c("END", end_of(ticks)),
        s("ACK", ack_of(qid, ticks)),
        c("GOODBYE", goodbye()),
        s("GOODBYE", goodbye()),
    ],
    client_sources=[{"type": "stdin", "name": "quiet.log",
                     "content": [{"hex": ticks[:7].hex()}, {"pause_seconds": 3.6}, {"hex": ticks[7:].hex()}],
                     "outcome": "confirmed"}],
    server_state={"idle_timeout_seconds": 2},
)

# Several connections (§16). The file of §16.5 and §16.11: 150,000 bytes, byte p is p mod 251,
# in blocks of 65,536 (the server's block size, server_state `block_size`). The session ID and
# token are the server's random choice: bound from SESSION and put in JOIN (§12.1). Each
# step names its connection; a block's steps may travel on any connection (the client's
# choice, §16.4), its BLOCKACK on the one that carried it.
B = 1 << 16
big_tree = x.tree_digest(big_digests)
big_source = {"type": "file", "name": "big.bin", "mode": 0o644, "mtime_seconds": u64(T), "mtime_nanoseconds": 0,
              "content": [{"p_mod_251": len(big)}], "outcome": "confirmed"}
SESSION_VARIABLE = ["session_id", "token"]


def c1(note, what, **kw):
    return c(note, what, conn=1, **kw)


def s1(note, what, **kw):
    return s(note, what, conn=1, **kw)


def session_opening(block_size=B):
    return [
        c1("preamble, version 1", 1),
        s1("preamble, version 1", 1),
        c1("HELLO {streams 2}: a session of two connections, please", hello([(1, b"example/1"), x.streams_param(2)])),
        s1("WELCOME {streams 2}: granted", welcome([(1, b"example/1"), x.streams_param(2)])),
        s1("SESSION: its ID and token (the server's random choice, bound here), block size 65,536",
           session(SID, TOKEN, block_size), variable=SESSION_VARIABLE),
    ]


def join_opening():
    return [
        c("connection 2: preamble, version 1", 1, conn=2),
        s("connection 2: preamble, version 1", 1, conn=2),
        c("connection 2: HELLO without streams", hello([(1, b"example/1")]), conn=2),
        s("connection 2: WELCOME without streams", welcome([(1, b"example/1")]), conn=2),
        c("connection 2: JOIN with the session ID and token of SESSION; no answer comes", join(SID, TOKEN), conn=2),
    ]


def block_steps(tid, index, conn):
    offset, length = x.block_range(index, len(big), B)
    return [
        c("BLOCK %d (any connection; here %d)" % (index, conn), block(tid, index), conn=conn, any_connection=True),
        c("DATA: the %d bytes of block %d" % (length, index), data(big[offset:offset + length]), conn=conn,
          any_connection=True),
        c("BLOCKEND: XXH64 of block %d" % index, blockend(big_digests[index]), conn=conn, any_connection=True),
    ]


def blockack_step(tid, index, conn):
    return s("BLOCKACK %d, on the connection that carried the block" % index, blockack(tid, index), conn=conn,
             any_connection=True)


def session_closing(tid):
    return [
        c1("END: 150,000 bytes and the block tree digest, once every block has its BLOCKACK",
           end(len(big), big_tree)),
        s1("PROGRESS while syncing", progress(tid, len(big), 0)),
        s1("ACK: 150,000 bytes, the block tree digest, durable", ack(tid, len(big), big_tree, True)),
        c("connection 2: GOODBYE, nothing more to carry", goodbye(), conn=2),
        s("connection 2: GOODBYE; the client closes first", goodbye(), conn=2),
        c1("GOODBYE: no more offers", goodbye()),
        s1("GOODBYE: server done; the client closes first", goodbye()),
    ]


two_tid = bytes.fromhex("2c0e2c0e2c0e2c0e0000000000150000")
conversation(
    "two-connections",
    "One file over two connections, as §16.11: a session of two granted, a blocks offer on the first connection, "
    "block 1 on the joined connection and blocks 0 and 2 on the first (which block goes where is the client's "
    "choice), each acknowledged on the connection that carried it, END and ACK with the block tree digest "
    "0x3C0E327F9408DF2C, GOODBYE on both.",
    ["client", "server"],
    session_opening() + [
        c1("OFFER big.bin, 150,000 bytes, flags 03 (awaitAnswer, blocks)",
           offer(two_tid, len(big), 0, 0o644, T, 0, "big.bin", True, True), variable=OFFER_ID),
        s1("ANSWER accept from 0", answer(two_tid, "accept", 0, 0, "")),
    ] + join_opening()
    + block_steps(two_tid, 0, 1) + block_steps(two_tid, 1, 2) + block_steps(two_tid, 2, 1) + [
        blockack_step(two_tid, 0, 1),
        blockack_step(two_tid, 1, 2),
        blockack_step(two_tid, 2, 1),
    ] + session_closing(two_tid),
    client_sources=[big_source],
    server_state={"block_size": B},
)
assert big_tree == 0x3C0E327F9408DF2C

have_tid = bytes.fromhex("4a4e4a4e4a4e4a4e0000000000150005")
conversation(
    "two-connections-have",
    "The file of §16.11 again, after an earlier connection left blocks 0 and 2 in a kept partial (§16.10): the "
    "server reads them back, lists them in HAVE right before its ANSWER accept, and the client sends block 1 "
    "only (here on the joined connection; any connection will do) and still ends with the whole file's tree "
    "digest.",
    ["client", "server"],
    session_opening() + [
        c1("OFFER big.bin, 150,000 bytes, flags 03 (awaitAnswer, blocks)",
           offer(have_tid, len(big), 0, 0o644, T, 0, "big.bin", True, True), variable=OFFER_ID),
        s1("HAVE: 3 blocks, bitmap 05 (blocks 0 and 2 held), right before the ANSWER", have(have_tid, 3, [0, 2])),
        s1("ANSWER accept from 0", answer(have_tid, "accept", 0, 0, "")),
    ] + join_opening() + block_steps(have_tid, 1, 2) + [blockack_step(have_tid, 1, 2)] + session_closing(have_tid),
    client_sources=[big_source],
    server_state={"block_size": B, "partials": [{
        "transfer_id": have_tid.hex(),
        "content": [{"p_mod_251": B}, {"zeros": B}, {"p_mod_251": len(big) - 2 * B}],
        "locked": False,
        "blocks": {"block_size": B, "held": [0, 2]},
    }]},
)

# ---------------------------------------------------------------------------------------
# Block tree digests (§16.5): computed values. The content is not stored: byte p of the file
# (from offset 0) is p mod 251.


def block_tree(name, block_size, size):
    content = bytes(p % 251 for p in range(size))
    digests = x.block_digests(content, block_size)
    assert len(digests) == x.block_count(size, block_size)
    blocks = []
    for index, dig in enumerate(digests):
        offset, length = x.block_range(index, size, block_size)
        blocks.append({"index": index, "offset": u64(offset), "length": u64(length), "digest": u64(dig)})
    return {"name": name, "block_size": block_size, "size": u64(size), "content": "p mod 251",
            "block_count": len(digests), "blocks": blocks, "tree_input": x.tree_input(digests).hex(),
            "digest": u64(x.tree_digest(digests)), "stream_digest": u64(x.digest(content))}


block_trees = [
    block_tree("three-blocks-last-short", 1 << 16, 150000),
    block_tree("two-whole-blocks", 1 << 16, 1 << 17),
    block_tree("one-byte", 1 << 16, 1),
    block_tree("same-bytes-larger-blocks", 1 << 17, 150000),
]
assert block_trees[0]["digest"] == u64(x.tree_digest(big_digests))

out = {
    "description": "xfer protocol test vectors for SPEC.md 1.3 (wire version 1). Conventions: SPEC.md §12. "
                   "Generated by scripts/make-vectors.py from an independent Python encoding.",
    "spec_version": "1.3",
    "protocol_version": 1,
    "preambles": preambles,
    "records": records,
    "invalid": invalid,
    "ignorable": ignorable,
    "block_trees": block_trees,
    "conversations": conversations,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "vectors.json")
text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
if "--check" in sys.argv:
    same = os.path.exists(path) and open(path, encoding="utf-8").read() == text
    print("vectors.json is " + ("up to date" if same else "OUT OF DATE"))
    sys.exit(0 if same else 1)
with open(path, "w", encoding="utf-8") as f:
    f.write(text)
print("wrote", os.path.normpath(path), len(records), "records", len(invalid), "invalid", len(block_trees),
      "block trees", len(conversations), "conversations")
