#!/usr/bin/env python3
"""Writes Tests/Vectors/auth.json: authenticated handshakes and sealed conversations of SPEC.md
§13 (protocol 1.2), one per AEAD suite, computed with scripts/xfersealed.py (Python's hashlib,
hmac and cryptography), independently of the Swift code the tests check.

    scripts/make-auth-vectors.py [--check]
"""
import hashlib
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402
import xfersealed as s  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "auth.json")


def handshake(key, client_nonce, server_nonce, suite):
    client_preamble = s.preamble(1, reserved=0x0005)  # reserved bits set: T holds the exact bytes
    hello = x.hello([(1, b"client/1"), (s.NONCE_ID, client_nonce), s.suites_param([1, 2])])
    server_preamble = s.preamble(1)
    welcome = x.welcome([(1, b"server/1"), (s.NONCE_ID, server_nonce), s.suites_param([suite])])
    transcript = client_preamble + hello + server_preamble + welcome
    server_proof = s.proof(key, "server", transcript)
    server_auth = x.record(s.AUTH, server_proof)
    transcript += server_auth
    client_proof = s.proof(key, "client", transcript)
    client_auth = x.record(s.AUTH, client_proof)
    transcript += client_auth
    keys = s.traffic(key, client_nonce, server_nonce, transcript)
    out = {
        "suite": suite,
        "client_preamble": client_preamble.hex(), "hello": hello.hex(),
        "server_preamble": server_preamble.hex(), "welcome": welcome.hex(),
        "server_proof": server_proof.hex(), "server_auth": server_auth.hex(),
        "client_proof": client_proof.hex(), "client_auth": client_auth.hex(),
        "transcript_hash": hashlib.sha256(transcript).hexdigest(),
    }
    out.update({name: value.hex() for name, value in keys.items()})
    return out, keys


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
        ("server", s.bound_ack(tid, len(content), dig, True, offer)),
        ("client", x.goodbye()), ("server", x.goodbye()),
    ]
    sequence = {"client": 0, "server": 0}
    steps = []
    for side, record in plain:
        sealed = s.seal(suite, keys[side + "_key"], keys[side + "_iv"], sequence[side], record)
        assert s.open_sealed(suite, keys[side + "_key"], keys[side + "_iv"], sequence[side], sealed) == record
        steps.append({"direction": side, "sequence": sequence[side], "record": record.hex(), "sealed": sealed.hex()})
        sequence[side] += 1
    # The largest sealed record: DATA of 1 MiB - 18 bytes (content byte i is i % 253).
    big = x.data(bytes(i % 253 for i in range(s.MAX_INNER_PAYLOAD)))
    big_sealed = s.seal(suite, keys["client_key"], keys["client_iv"], 0, big)
    largest = {"direction": "client", "sequence": 0, "inner_payload_length": s.MAX_INNER_PAYLOAD,
               "content": "byte i is i % 253", "sealed_length": len(big_sealed),
               "sealed_sha256": hashlib.sha256(big_sealed).hexdigest()}
    # Bytes that must not open as the client's first record (sequence 0).
    first = bytearray(bytes.fromhex(steps[0]["sealed"]))

    def refit(raw):
        raw = bytearray(raw)
        raw[2:6] = struct.pack(">I", len(raw) - 10)
        raw[6:10] = struct.pack(">I", x.crc32c(bytes(raw[10:]), x.crc32c(bytes(raw[:6]))))
        return bytes(raw)

    flipped_text = bytearray(first)
    flipped_text[10 + 2 + 48 + 2] ^= 0x20  # the first byte of the name: a relay's rename
    flipped_tag = bytearray(first)
    flipped_tag[-1] ^= 0x01
    rejections = [
        {"note": "a name byte flipped (CRC fixed): a rename", "sealed": refit(flipped_text).hex()},
        {"note": "a tag bit flipped (CRC fixed)", "sealed": refit(flipped_tag).hex()},
        {"note": "the client's second record first: dropped, reordered or replayed", "sealed": steps[1]["sealed"]},
        {"note": "the OFFER sealed with the server's key: reflected or from the other direction",
         "sealed": s.seal(suite, keys["server_key"], keys["server_iv"], 0, offer).hex()},
        {"note": "the tag cut to 15 bytes (length and CRC fixed)", "sealed": refit(first[:-1]).hex()},
        {"note": "the OFFER unsealed", "sealed": offer.hex()},
    ]
    return steps, largest, rejections


def main():
    key = bytes(range(32))
    client_nonce = bytes(range(0x40, 0x60))
    server_nonce = bytes(range(0x80, 0xA0))
    handshakes = {}
    for suite in (s.AES_256_GCM, s.CHACHA20_POLY1305):
        fields, keys = handshake(key, client_nonce, server_nonce, suite)
        fields["conversation"], fields["largest"], fields["rejections"] = conversation(suite, keys)
        handshakes[s.SUITE_NAMES[suite]] = fields
    vectors = {
        "description": "SPEC.md §13 (protocol 1.2): for each AEAD suite, an authenticated handshake with "
                       "fixed key and nonces (the client's preamble has reserved bits set: the transcript "
                       "holds exact bytes), both proofs, the transcript hash h, each direction's traffic key "
                       "and IV, a whole sealed conversation (each step: direction, per-direction sequence, "
                       "the plain record and its SEALED bytes), the largest sealed record (by SHA-256), and "
                       "bytes that must not open as the client's first record. Hex strings; made by "
                       "scripts/make-auth-vectors.py with Python's hashlib, hmac and cryptography.",
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
