"""The sealed record layer of SPEC.md §13 (protocol 1.2) in Python, written from the text of
SPEC.md, not from the Swift code. The implementation now lives in scripts/xferproto.py (its
last section); this module keeps the names that take and return whole plain records, for
scripts that used them. Needs Python's `cryptography` package only to seal and open.
"""
import xferproto as x

AUTH, SEALED, NONCE_ID, SUITES_ID = x.AUTH, x.SEALED, x.NONCE_ID, x.SUITES_ID
AES_256_GCM, CHACHA20_POLY1305 = x.AES_256_GCM, x.CHACHA20_POLY1305
SUITE_NAMES = x.SUITE_NAMES
MAX_INNER_PAYLOAD = x.MAX_INNER_PAYLOAD

hkdf = x.hkdf
preamble = x.preamble
suites_param = x.suites_param
proof = x.proof
nonce = x.sealed_nonce


def traffic(key, client_nonce, server_nonce, transcript):
    """Both directions' key and IV, from the transcript T || AUTH_s || AUTH_c."""
    keys = x.traffic_secrets(key, client_nonce, server_nonce, transcript)
    return {name: keys[name] for name in ("client_key", "client_iv", "server_key", "server_iv")}


def seal(suite, key, iv, sequence, plain_record):
    """A plain record (header, payload, as xferproto makes it) sealed as record `sequence`."""
    return x.seal_record(suite, key, iv, sequence, plain_record)


def open_sealed(suite, key, iv, sequence, sealed):
    """The plain record inside `sealed`, re-framed with header and CRC; None if it does not open."""
    try:
        kind, flags, payload = x.open_sealed(suite, key, iv, sequence, sealed)
    except x.SealBroken:
        return None
    return x.record(kind, payload, flags)


def binding(offer_record, committed_length, dig):
    """SHA-256("xfer-1.2 ack" || OFFER payload without its offset || u64 length || u64 digest)."""
    return x.ack_binding(offer_record[10:], committed_length, dig)


def bound_ack(tid, length, dig, durable, offer_record):
    """An ACK with the `bound` flag (0x02) and its binding."""
    return x.bound_ack(tid, length, dig, durable, offer_record[10:])
