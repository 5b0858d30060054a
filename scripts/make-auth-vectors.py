#!/usr/bin/env python3
"""Writes Tests/Vectors/auth.json: authenticated handshakes and sealed records of SPEC 1.2
(SPEC.md §13: the sealed record layer of --key mode), one handshake per AEAD suite, computed
with the record layer of scripts/xferproto.py (Python's hashlib, hmac and `cryptography`),
independently of the Swift code the tests check. Deterministic: fixed key, nonces and data.

    scripts/make-auth-vectors.py          # rewrites the file
    scripts/make-auth-vectors.py --check  # exits 1 if the file is out of date

Every sealed record is opened again here, every byte string of "rejections" is checked to
fail to open, and every binding is recomputed from its OFFER, before anything is written.
The layout is in DESCRIPTION below (and in the file's "description").
"""
import hashlib
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "auth.json")

DESCRIPTION = (
    "SPEC 1.2 (SPEC.md §13), the sealed record layer. Byte strings are lower-case hex; "
    "sequences, kinds, flags and lengths are numbers, a u64 digest a decimal string. Top level: key (32 bytes), key_text (the "
    "key file's exact text), client_nonce, server_nonce (32 bytes each, the same for every "
    "handshake), handshakes. handshakes is keyed by suite name ('aes256gcm', 'chacha20poly1305'): "
    "one whole handshake per suite, identical except for the suite the server chose in WELCOME, "
    "so the two have different transcripts and traffic keys. Each handshake: suite (the u16 id, "
    "a number); client_preamble (its reserved field is 0x0005 on purpose: the transcript holds "
    "the exact bytes), hello (agent 'client/1', nonce, suites [1, 2]), server_preamble, welcome "
    "(agent 'server/1', nonce, the one chosen suite), the whole records as sent; hash_t = H(T), "
    "server_proof = HMAC(key, 'xfer-1.2 server proof' || H(T)), server_auth (the AUTH record), "
    "hash_t_auth_s = H(T || AUTH_s), client_proof, client_auth; transcript_hash = h = "
    "H(T || AUTH_s || AUTH_c); client_key, client_iv, server_key, server_iv (HKDF-SHA256, salt "
    "client_nonce || server_nonce). conversation: one file of 1001 bytes after the handshake, "
    "both directions sealed, each step {direction ('client' = client to server, sealed with "
    "client_key/client_iv; 'server' the other way), sequence (per direction, from 0), record "
    "(the plain inner record as an ordinary record: header, CRC, payload), sealed (the outer "
    "SEALED record)}; the ACK in it is bound to the conversation's OFFER. exchange: the same "
    "connection as the bytes on the wire, in lock-step order, each step {direction, what, hex} "
    "(plus sequence on sealed steps): both preambles, HELLO, WELCOME, AUTH_s, AUTH_c, then the "
    "sealed records of conversation; each side also sends one unsealed KEEPALIVE right after its "
    "preamble, which is skipped and is not part of T (the keys are the same as without it). largest: the biggest sealed record, client sequence 0, DATA "
    "of 1,048,558 bytes whose byte i is i % 253: {direction, sequence, inner_payload_length, "
    "content, sealed_length, sealed_sha256}. sealed_records: another stream of one direction-"
    "sequence each, every inner kind once or more: a resumed stream re-offered with awaitAnswer "
    "at a non-zero offset (so the ACK binding shows that the offset is left out); each entry "
    "{direction, sequence, kind, kind_name, flags, nonce, aad, inner_payload, sealed}; the 1 MiB "
    "- 18 DATA gives inner_payload_length, inner_payload_sha256, content, stream_offset, "
    "sealed_length and sealed_sha256 in place of inner_payload and sealed; the ACK also gives "
    "binds_offer (the OFFER payload it answers), binding_input (every byte hashed) and binding. "
    "The stream of sealed_records: byte p (from offset 0 of the stream) is p % 251; "
    "sealed_records_stream gives its size, the offset of the re-offer and its XXH64 digest. "
    "rejections: {note, direction, sequence, sealed}: bytes that MUST NOT open as the client's "
    "first record (client_key/client_iv, sequence 0), each failing for the reason its note "
    "says; a receiver sends nothing about them (no ERROR) and ends the connection. Made by "
    "scripts/make-auth-vectors.py with Python's hashlib, hmac and cryptography."
)


def handshake(key, client_nonce, server_nonce, suite):
    client_preamble = x.preamble(1, reserved=0x0005)  # reserved bits set: T holds the exact bytes
    hello = x.hello([(x.AGENT_ID, b"client/1"), (x.NONCE_ID, client_nonce),
                     x.suites_param([x.AES_256_GCM, x.CHACHA20_POLY1305])])
    server_preamble = x.preamble(1)
    welcome = x.welcome([(x.AGENT_ID, b"server/1"), (x.NONCE_ID, server_nonce), x.suite_param(suite)])
    assert x.parse_suites(x.param(x.parse_params(welcome[10:]), x.SUITES_ID)) == [suite]
    transcript = client_preamble + hello + server_preamble + welcome
    hash_t = x.sha256(transcript)
    server_proof = x.proof(key, "server", transcript)
    server_auth = x.auth(server_proof)
    transcript += server_auth
    hash_t_auth_s = x.sha256(transcript)
    client_proof = x.proof(key, "client", transcript)
    client_auth = x.auth(client_proof)
    transcript += client_auth
    keys = x.traffic_secrets(key, client_nonce, server_nonce, transcript)
    assert keys["client_key"] != keys["server_key"] and keys["client_iv"] != keys["server_iv"]
    out = {
        "suite": suite,
        "client_preamble": client_preamble.hex(), "hello": hello.hex(),
        "server_preamble": server_preamble.hex(), "welcome": welcome.hex(),
        "hash_t": hash_t.hex(),
        "server_proof": server_proof.hex(), "server_auth": server_auth.hex(),
        "hash_t_auth_s": hash_t_auth_s.hex(),
        "client_proof": client_proof.hex(), "client_auth": client_auth.hex(),
        "transcript_hash": keys["h"].hex(),
    }
    out.update({name: keys[name].hex() for name in ("client_key", "client_iv", "server_key", "server_iv")})
    # The wire also carries one unsealed KEEPALIVE per side in the handshake: ignorable
    # records are skipped and are not part of T (the keys above are computed without them).
    wire = [("client", "preamble", client_preamble), ("client", "KEEPALIVE (not part of T)", x.keepalive()),
            ("client", "HELLO", hello),
            ("server", "preamble", server_preamble), ("server", "KEEPALIVE (not part of T)", x.keepalive()),
            ("server", "WELCOME", welcome),
            ("server", "AUTH", server_auth), ("client", "AUTH", client_auth)]
    return out, keys, wire


def secret(keys, side):
    return keys[side + "_key"], keys[side + "_iv"]


def sealed_checked(suite, keys, side, sequence, kind, flags, payload):
    """Seals, then opens again (and fails to open under the wrong sequence and direction)."""
    key, iv = secret(keys, side)
    sealed = x.seal(suite, key, iv, sequence, kind, flags, payload)
    assert x.open_sealed(suite, key, iv, sequence, sealed) == (kind, flags, payload)
    assert len(sealed) == 10 + 2 + len(payload) + 16
    other = "server" if side == "client" else "client"
    for wrong in ((key, iv, sequence + 1), (*secret(keys, other), sequence)):
        try:
            x.open_sealed(suite, *wrong, sealed)
            raise AssertionError("opened under the wrong sequence or direction")
        except x.SealBroken:
            pass
    return sealed


def conversation(suite, keys):
    """One file of 1001 bytes after the handshake, both directions sealed, lock-step order."""
    tid = bytes(range(0xB0, 0xC0))
    content = b"x" + bytes(i % 251 for i in range(1000))
    dig = x.digest(content)
    offer = x.offer(tid, len(content), 0, 0o644, 1700000000, 5, "dir/fox.txt")
    plain = [
        ("client", offer), ("client", x.data(content[:1])), ("client", x.data(content[1:])),
        ("client", x.keepalive()), ("client", x.end(len(content), dig)),
        ("server", x.answer(tid, "accept", 0, 0, "")), ("server", x.progress(tid, len(content), 0)),
        ("server", x.bound_ack(tid, len(content), dig, True, offer[10:])),
        ("client", x.goodbye()), ("server", x.goodbye()),
    ]
    sequence = {"client": 0, "server": 0}
    steps = []
    for side, rec in plain:
        sealed = sealed_checked(suite, keys, side, sequence[side], rec[0], rec[1], rec[10:])
        assert x.seal_record(suite, *secret(keys, side), sequence[side], rec) == sealed
        steps.append({"direction": side, "sequence": sequence[side], "record": rec.hex(), "sealed": sealed.hex()})
        sequence[side] += 1
    # The largest sealed record: DATA of 1 MiB - 18 bytes (content byte i is i % 253).
    big = bytes(i % 253 for i in range(x.MAX_INNER_PAYLOAD))
    big_sealed = sealed_checked(suite, keys, "client", 0, x.KINDS["DATA"], 0, big)
    assert len(big_sealed) == 10 + x.MAX_PAYLOAD
    largest = {"direction": "client", "sequence": 0, "inner_payload_length": x.MAX_INNER_PAYLOAD,
               "content": "byte i is i % 253", "sealed_length": len(big_sealed),
               "sealed_sha256": hashlib.sha256(big_sealed).hexdigest()}
    return steps, largest, rejections(suite, keys, offer, steps)


def refit(raw):
    """`raw` with its length field and CRC made right again, as an attacker would."""
    raw = bytearray(raw)
    raw[2:6] = struct.pack(">I", len(raw) - 10)
    raw[6:10] = struct.pack(">I", x.crc32c(bytes(raw[10:]), x.crc32c(bytes(raw[:6]))))
    return bytes(raw)


def rejections(suite, keys, offer, steps):
    """Bytes that must not open as the client's first record (sequence 0)."""
    first = bytes.fromhex(steps[0]["sealed"])
    flipped_text = bytearray(first)
    flipped_text[10 + 2 + 48 + 2] ^= 0x20  # the first byte of the name: a relay's rename
    flipped_tag = bytearray(first)
    flipped_tag[-1] ^= 0x01
    wrong_crc = bytearray(first)
    wrong_crc[9] ^= 0x01
    flagged = bytearray(first)
    flagged[1] = 0x01
    too_short = bytes([x.SEALED, 0]) + b"\0" * 8 + first[10:10 + 17]
    over = bytes([x.SEALED, 0]) + struct.pack(">I", x.MAX_PAYLOAD + 1)
    over += struct.pack(">I", x.crc32c(over))  # only the header: the length is checked first
    out = [
        ("a name byte flipped (CRC fixed): a rename", refit(flipped_text)),
        ("a tag bit flipped (CRC fixed)", refit(flipped_tag)),
        ("the client's second record first: dropped, reordered or replayed", bytes.fromhex(steps[1]["sealed"])),
        ("the OFFER sealed with the server's key: reflected or from the other direction",
         x.seal_record(suite, *secret(keys, "server"), 0, offer)),
        ("the tag cut to 15 bytes (length and CRC fixed)", refit(first[:-1])),
        ("the OFFER unsealed", offer),
        # Added with SPEC 1.2's vectors: the outer record's own checks once the layer is on.
        ("the outer CRC wrong (ciphertext and tag intact)", bytes(wrong_crc)),
        ("outer flag 0x01 set (CRC fixed; the flags are in the AAD)", refit(flagged)),
        ("a SEALED record of 17 bytes, shorter than kind, flags and tag (CRC fixed)", refit(too_short)),
        ("an empty SEALED record (CRC fixed)", refit(bytes([x.SEALED, 0]) + b"\0" * 8)),
        ("an outer length of 1 MiB + 1: header only, refused before any payload", over),
        ("an unsealed KEEPALIVE: ignorable records are sealed too", x.keepalive()),
    ]
    for note, raw in out:
        try:
            x.open_sealed(suite, *secret(keys, "client"), 0, raw)
            raise AssertionError("opened: " + note)
        except x.SealBroken:
            pass
    return [{"note": note, "direction": "client", "sequence": 0, "sealed": raw.hex()} for note, raw in out]


def stream_bytes(start, end):
    """Bytes start..end-1 of the sealed_records stream: byte p is p % 251."""
    block = bytes(range(251))
    first = start - start % 251
    reps = (end - first) // 251 + 2
    return (block * reps)[start - first:end - first]


def sealed_records(suite, keys):
    """Every inner kind the brief asks for, on a stream resumed at a non-zero offset."""
    tid = bytes(range(0xD0, 0xE0))
    pieces = [1, 1000, x.MAX_INNER_PAYLOAD]
    offset = 4096
    size = offset + sum(pieces)
    dig = x.digest(stream_bytes(0, size))
    offer_payload = x.offer_payload(tid, size, offset, 0o600, 1733390000, 123456789, "dir/sub/résumé.bin")
    binding = x.ack_binding(offer_payload, size, dig)
    data, at = [], offset
    for n in pieces:
        data.append(stream_bytes(at, at + n))
        at += n
    K = x.KINDS
    plan = [
        ("client", K["KEEPALIVE"], 0, b""),
        ("client", K["OFFER"], 0x01, offer_payload),  # awaitAnswer: a re-offer after resume
        ("server", K["ANSWER"], 0, tid + struct.pack(">BQH", 0, offset, 0) + x.str16("")),
        ("client", K["DATA"], 0, data[0]),
        ("client", K["DATA"], 0, data[1]),
        ("client", K["DATA"], 0, data[2]),
        ("client", K["END"], 0, struct.pack(">QQ", size, dig)),
        ("server", K["PROGRESS"], 0, tid + struct.pack(">QQ", size, offset)),
        ("server", K["ACK"], x.ACK_DURABLE | x.ACK_BOUND, x.ack_payload(tid, size, dig, binding)),
        ("client", K["GOODBYE"], 0, b""),
        ("server", K["GOODBYE"], 0, b""),
    ]
    names = {v: k for k, v in K.items()}
    sequence = {"client": 0, "server": 0}
    out = []
    for side, kind, flags, payload in plan:
        n = sequence[side]
        sealed = sealed_checked(suite, keys, side, n, kind, flags, payload)
        entry = {"direction": side, "sequence": n, "kind": kind, "kind_name": names[kind], "flags": flags,
                 "nonce": x.sealed_nonce(secret(keys, side)[1], n).hex(), "aad": sealed[:6].hex()}
        if len(payload) > 4096:
            entry.update({
                "inner_payload_length": len(payload),
                "inner_payload_sha256": hashlib.sha256(payload).hexdigest(),
                "content": "stream bytes %d..%d: byte p of the stream is p %% 251" % (offset + 1001,
                                                                                     offset + 1001 + len(payload) - 1),
                "stream_offset": offset + 1001,
                "sealed_length": len(sealed),
                "sealed_sha256": hashlib.sha256(sealed).hexdigest(),
            })
        else:
            entry.update({"inner_payload": payload.hex(), "sealed": sealed.hex()})
        if kind == K["ACK"]:
            assert payload[32:] == hashlib.sha256(x.ack_binding_input(offer_payload, size, dig)).digest()
            entry.update({"binds_offer": offer_payload.hex(),
                          "binding_input": x.ack_binding_input(offer_payload, size, dig).hex(),
                          "binding": binding.hex()})
        out.append(entry)
        sequence[side] += 1
    stream = {"size": size, "offer_offset": offset, "content": "byte p of the stream is p % 251",
              "digest": str(dig), "transfer_id": tid.hex()}
    return out, stream


def main():
    key = bytes(range(32))
    client_nonce = bytes(range(0x40, 0x60))
    server_nonce = bytes(range(0x80, 0xA0))
    handshakes = {}
    for suite in (x.AES_256_GCM, x.CHACHA20_POLY1305):
        fields, keys, wire = handshake(key, client_nonce, server_nonce, suite)
        steps, largest, rejected = conversation(suite, keys)
        fields["conversation"], fields["largest"], fields["rejections"] = steps, largest, rejected
        exchange = [{"direction": side, "what": what, "hex": raw.hex()} for side, what, raw in wire]
        for step in steps:
            inner = bytes.fromhex(step["record"])
            name = {v: k for k, v in x.KINDS.items()}[inner[0]]
            exchange.append({"direction": step["direction"], "what": "SEALED " + name,
                             "sequence": step["sequence"], "hex": step["sealed"]})
        fields["exchange"] = exchange
        fields["sealed_records"], fields["sealed_records_stream"] = sealed_records(suite, keys)
        handshakes[x.SUITE_NAMES[suite]] = fields
    vectors = {
        "description": DESCRIPTION,
        "key": key.hex(),
        "key_text": "xfer-key-1 " + key.hex() + "\n",
        "client_nonce": client_nonce.hex(),
        "server_nonce": server_nonce.hex(),
        "handshakes": handshakes,
    }
    text = json.dumps(vectors, indent=2) + "\n"
    if "--check" in sys.argv:
        same = os.path.exists(OUT) and open(OUT).read() == text
        print("auth.json is " + ("up to date" if same else "OUT OF DATE"))
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s" % os.path.normpath(OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
