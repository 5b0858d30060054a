"""The sealed record layer of SPEC.md §13 (protocol 1.2) in Python, written from the text of
SPEC.md, not from the Swift code: the handshake's proofs and traffic keys, SEALED records, and
the ACK binding. Used by scripts/make-auth-vectors.py. Needs Python's `cryptography` package
for the two AEAD suites; everything else is the standard library.
"""
import hashlib
import hmac
import struct

import xferproto as x

AUTH, SEALED, NONCE_ID, SUITES_ID = 0x0C, 0x0E, 2, 3
AES_256_GCM, CHACHA20_POLY1305 = 1, 2
SUITE_NAMES = {AES_256_GCM: "aes256gcm", CHACHA20_POLY1305: "chacha20poly1305"}
MAX_INNER_PAYLOAD = 1048576 - 18


def hkdf(salt, ikm, info, length):
    """HKDF-SHA256 (RFC 5869): extract, then expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def preamble(version=1, reserved=0):
    return b"XFER" + struct.pack(">HH", version, reserved)


def suites_param(suites):
    return (SUITES_ID, b"".join(struct.pack(">H", s) for s in suites))


def proof(key, role, transcript):
    """role: 'server' (over T) or 'client' (over T || AUTH_s)."""
    label = ("xfer-1.2 %s proof" % role).encode()
    return hmac.new(key, label + hashlib.sha256(transcript).digest(), hashlib.sha256).digest()


def traffic(key, client_nonce, server_nonce, transcript):
    """Both directions' key and IV, from the transcript T || AUTH_s || AUTH_c."""
    h = hashlib.sha256(transcript).digest()
    salt = client_nonce + server_nonce
    out = {}
    for role in ("client", "server"):
        out[role + "_key"] = hkdf(salt, key, ("xfer-1.2 %s key" % role).encode() + h, 32)
        out[role + "_iv"] = hkdf(salt, key, ("xfer-1.2 %s iv" % role).encode() + h, 12)
    return out


def nonce(iv, sequence):
    return iv[:4] + bytes(a ^ b for a, b in zip(iv[4:], struct.pack(">Q", sequence)))


def _aead(suite, key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    return {AES_256_GCM: AESGCM, CHACHA20_POLY1305: ChaCha20Poly1305}[suite](key)


def seal(suite, key, iv, sequence, plain_record):
    """A plain record (header, payload, as xferproto makes it) sealed as record `sequence`."""
    inner = plain_record[0:2] + plain_record[10:]
    assert len(inner) - 2 <= MAX_INNER_PAYLOAD
    header = struct.pack(">BBI", SEALED, 0, len(inner) + 16)
    payload = _aead(suite, key).encrypt(nonce(iv, sequence), inner, header)
    return header + struct.pack(">I", x.crc32c(payload, x.crc32c(header))) + payload


def open_sealed(suite, key, iv, sequence, sealed):
    """The plain record inside `sealed`, re-framed with header and CRC; None if it does not open."""
    from cryptography.exceptions import InvalidTag
    header, crc, payload = sealed[:6], struct.unpack(">I", sealed[6:10])[0], sealed[10:]
    if sealed[0] != SEALED or crc != x.crc32c(payload, x.crc32c(header)) or len(payload) < 18:
        return None
    try:
        inner = _aead(suite, key).decrypt(nonce(iv, sequence), payload, header)
    except InvalidTag:
        return None
    return x.record(inner[0], inner[2:], inner[1])


def binding(offer_record, committed_length, dig):
    """SHA-256("xfer-1.2 ack" || OFFER payload without its offset || u64 length || u64 digest)."""
    payload = offer_record[10:]
    return hashlib.sha256(b"xfer-1.2 ack" + payload[:24] + payload[32:]
                          + struct.pack(">QQ", committed_length, dig)).digest()


def bound_ack(tid, length, dig, durable, offer_record):
    """An ACK with the `bound` flag (0x02) and its binding."""
    payload = tid + struct.pack(">QQ", length, dig) + binding(offer_record, length, dig)
    return x.record(x.KINDS["ACK"], payload, (0x01 if durable else 0) | 0x02)
