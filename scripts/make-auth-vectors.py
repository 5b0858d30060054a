#!/usr/bin/env python3
"""Writes Tests/Vectors/auth.json: one authenticated handshake and two seals (SPEC.md §13),
computed independently of the Swift code, with Python's hashlib/hmac and the SPEC.md
encoding in xferproto.py. The Swift tests recompute every value and compare.

    scripts/make-auth-vectors.py [--check]
"""
import hashlib
import hmac
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "auth.json")

AUTH, SEAL, NONCE_ID = 0x0C, 0x0D, 2


def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def main():
    key = bytes(range(32))
    client_nonce = bytes(range(0x40, 0x60))
    server_nonce = bytes(range(0x80, 0xA0))
    client_preamble = x.preamble(1)
    hello = x.hello([(1, b"client/1"), (NONCE_ID, client_nonce)])
    server_preamble = x.preamble(1)
    welcome = x.welcome([(1, b"server/1"), (NONCE_ID, server_nonce)])
    transcript = client_preamble + hello + server_preamble + welcome
    server_proof = hmac.new(key, b"xfer-1.1 server proof" + hashlib.sha256(transcript).digest(),
                            hashlib.sha256).digest()
    server_auth = x.record(AUTH, server_proof)
    transcript += server_auth
    client_proof = hmac.new(key, b"xfer-1.1 client proof" + hashlib.sha256(transcript).digest(),
                            hashlib.sha256).digest()
    client_auth = x.record(AUTH, client_proof)
    transcript += client_auth
    session = hkdf(client_nonce + server_nonce, key, b"xfer-1.1 session" + hashlib.sha256(transcript).digest(), 32)
    tid = bytes(range(0xB0, 0xC0))
    ack = x.ack(tid, 13, 0x1122334455667788, True)
    goodbye = x.goodbye()
    seals = []
    for sequence, sealed in enumerate([ack, goodbye]):
        code = hmac.new(session, b"xfer-1.1 seal" + struct.pack(">Q", sequence) + sealed, hashlib.sha256).digest()
        seals.append({"sealed": sealed.hex(), "sequence": sequence, "code": code.hex(),
                      "seal": x.record(SEAL, struct.pack(">Q", sequence) + code).hex()})
    vectors = {
        "description": "SPEC.md §13: an authenticated handshake with fixed key and nonces, and the seals "
                       "of an ACK (sequence 0) and a GOODBYE (sequence 1). Hex strings; made by "
                       "scripts/make-auth-vectors.py with Python's hashlib and hmac.",
        "key": key.hex(),
        "key_text": "xfer-key-1 " + key.hex() + "\n",
        "client_nonce": client_nonce.hex(),
        "server_nonce": server_nonce.hex(),
        "client_preamble": client_preamble.hex(),
        "hello": hello.hex(),
        "server_preamble": server_preamble.hex(),
        "welcome": welcome.hex(),
        "server_proof": server_proof.hex(),
        "server_auth": server_auth.hex(),
        "client_proof": client_proof.hex(),
        "client_auth": client_auth.hex(),
        "session_key": session.hex(),
        "seals": seals,
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
