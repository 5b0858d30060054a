"""A small, independent Python encoding of the xfer wire format (SPEC.md 1.3), written from SPEC.md.

It generates Tests/Vectors/vectors.json (so the vectors do not come from the Swift code
they check) and drives scripts/xfer-send.py, a minimal sender that the Swift tests run
against the real receiver. Standard library only, including CRC-32C and XXH64.

The end of the file is the sealed record layer of SPEC 1.2 (--key mode, SPEC.md §13): the
`suites` parameter, the handshake's proofs and traffic keys over the exact bytes of the
transcript, SEALED records (kind 0x0E) and the ACK binding. Only `seal` and `open_sealed`
(and the `Sealer`/`Opener` around them) need Python's `cryptography` package, for the two
AEAD suites; they import it when called, so importing this module needs nothing else.

The last section is SPEC 1.3's sessions and blocks (SPEC.md §16): parameter 32 `streams`,
the OFFER flag `blocks`, the records SESSION, JOIN, HAVE, BLOCK, BLOCKEND and BLOCKACK (to
encode and to decode, with the decoding errors of SPEC.md §12), the block layout and the
block tree digest.
"""
import hashlib
import hmac
import struct

KINDS = {"HELLO": 0x01, "WELCOME": 0x02, "OFFER": 0x03, "ANSWER": 0x04, "DATA": 0x05, "END": 0x06,
         "CANCEL": 0x07, "PROGRESS": 0x08, "ACK": 0x09, "ERROR": 0x0A, "GOODBYE": 0x0B, "KEEPALIVE": 0x80,
         # SPEC 1.3 (§16)
         "SESSION": 0x0F, "JOIN": 0x10, "HAVE": 0x11, "BLOCK": 0x12, "BLOCKEND": 0x13, "BLOCKACK": 0x14}
DECISIONS = {"accept": 0, "resume": 1, "alreadyCommitted": 2, "refuse": 3}
UNKNOWN_SIZE = 0xFFFFFFFFFFFFFFFF


def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_M = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                           0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc, lane):
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


class Digest:
    """XXH64 (SPEC.md §10), incremental, in pure Python so that no package is needed."""

    def __init__(self, seed=0):
        self.seed = seed
        self.v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed, (seed - _P1) & _M]
        self.pending = b""
        self.total = 0

    def update(self, data):
        self.total += len(data)
        data = self.pending + bytes(data)
        whole = len(data) - len(data) % 32
        v0, v1, v2, v3 = self.v
        for a, b, c, d in struct.iter_unpack("<4Q", memoryview(data)[:whole]):
            v0 = (_rotl((v0 + a * _P2) & _M, 31) * _P1) & _M
            v1 = (_rotl((v1 + b * _P2) & _M, 31) * _P1) & _M
            v2 = (_rotl((v2 + c * _P2) & _M, 31) * _P1) & _M
            v3 = (_rotl((v3 + d * _P2) & _M, 31) * _P1) & _M
        self.v = [v0, v1, v2, v3]
        self.pending = data[whole:]
        return self

    def value(self):
        if self.total >= 32:
            v = self.v
            h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
            for k in range(4):
                h = (((h ^ _round(0, v[k])) * _P1) + _P4) & _M
        else:
            h = (self.seed + _P5) & _M
        h = (h + self.total) & _M
        data, i, n = self.pending, 0, len(self.pending)
        while i + 8 <= n:
            h = ((_rotl(h ^ _round(0, int.from_bytes(data[i:i + 8], "little")), 27) * _P1) + _P4) & _M
            i += 8
        if i + 4 <= n:
            h = ((_rotl(h ^ ((int.from_bytes(data[i:i + 4], "little") * _P1) & _M), 23) * _P2) + _P3) & _M
            i += 4
        while i < n:
            h = (_rotl(h ^ ((data[i] * _P5) & _M), 11) * _P1) & _M
            i += 1
        h ^= h >> 33
        h = (h * _P2) & _M
        h ^= h >> 29
        h = (h * _P3) & _M
        h ^= h >> 32
        return h


def digest(data, seed=0):
    """XXH64 of `data` (SPEC.md §10)."""
    return Digest(seed).update(data).value()


def preamble(version=1, reserved=0):
    """The 8-byte preamble (SPEC.md §3); `reserved` is sent as 0 by conformant peers."""
    return b"XFER" + struct.pack(">HH", version, reserved)


def str16(text):
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def record(kind, payload=b"", flags=0):
    head = struct.pack(">BBI", kind, flags, len(payload))
    return head + struct.pack(">I", crc32c(payload, crc32c(head))) + payload


def params(items):
    out = struct.pack(">H", len(items))
    for pid, value in items:
        out += struct.pack(">HH", pid, len(value)) + value
    return out


def hello(parameters):
    return record(KINDS["HELLO"], params(parameters))


def welcome(parameters):
    return record(KINDS["WELCOME"], params(parameters))


def offer_payload(tid, size, offset, mode, mtime_s, mtime_ns, name):
    """The payload of an OFFER (SPEC.md §6.2); a size of None is the unknown size."""
    size = UNKNOWN_SIZE if size is None else size
    return tid + struct.pack(">QQIqI", size, offset, mode, mtime_s, mtime_ns) + str16(name)


def offer(tid, size, offset, mode, mtime_s, mtime_ns, name, await_answer=False, blocks=False):
    """An OFFER; `blocks` (SPEC 1.3, §16.3) sets flag 0x02 and needs `await_answer`, a known
    size of at least 1 and offset 0 (asserted: see `offer_blocks`)."""
    payload = offer_payload(tid, size, offset, mode, mtime_s, mtime_ns, name)
    assert not blocks or (await_answer and size is not None and size >= 1 and offset == 0)
    flags = (OFFER_AWAIT_ANSWER if await_answer else 0) | (OFFER_BLOCKS if blocks else 0)
    return record(KINDS["OFFER"], payload, flags)


def answer(tid, decision, offset, code, message):
    return record(KINDS["ANSWER"], tid + struct.pack(">BQH", DECISIONS[decision], offset, code) + str16(message))


def data(payload):
    return record(KINDS["DATA"], payload)


def end(total, dig):
    return record(KINDS["END"], struct.pack(">QQ", total, dig))


def cancel(code, message):
    return record(KINDS["CANCEL"], struct.pack(">H", code) + str16(message))


def progress(tid, received, durable):
    return record(KINDS["PROGRESS"], tid + struct.pack(">QQ", received, durable))


def ack(tid, length, dig, durable, binding=None):
    """An ACK; with a 32-byte `binding` (SPEC 1.2, sealed connections only) it has flag 0x02
    `bound` and a 64-byte payload (see `ack_binding`)."""
    flags = (ACK_DURABLE if durable else 0) | (ACK_BOUND if binding is not None else 0)
    return record(KINDS["ACK"], ack_payload(tid, length, dig, binding), flags)


def error(code, tid, fatal, message):
    return record(KINDS["ERROR"], struct.pack(">H", code) + tid + str16(message), 0x01 if fatal else 0)


def goodbye():
    return record(KINDS["GOODBYE"])


def keepalive():
    return record(KINDS["KEEPALIVE"])


def read_records(sock_file):
    """Yields (kind, flags, payload) from a binary file object until EOF; checks CRCs."""
    while True:
        head = sock_file.read(10)
        if not head:
            return
        if len(head) < 10:
            raise ValueError("truncated header")
        kind, flags, length, crc = struct.unpack(">BBII", head)
        if length > 1 << 20:
            raise ValueError("length over limit")
        payload = sock_file.read(length)
        if len(payload) < length:
            raise ValueError("truncated payload")
        if crc32c(payload, crc32c(head[:6])) != crc:
            raise ValueError("checksum mismatch")
        yield kind, flags, payload


# ---------------------------------------------------------------------------------------------
# SPEC 1.2: the sealed record layer (--key mode, SPEC.md §13)
# ---------------------------------------------------------------------------------------------

AUTH, SEALED = 0x0C, 0x0E  # record kinds; 0x0D (1.1's SEAL) is retired, an unknown critical kind
AGENT_ID, NONCE_ID, SUITES_ID = 1, 2, 3  # HELLO/WELCOME parameter ids
NONCE_LENGTH = 32
UNAUTHENTICATED = 17  # error code
CONSUMER_FAILED = 32  # error code (§7.3, §8)
ACK_DURABLE, ACK_BOUND = 0x01, 0x02  # ACK flags; `bound` only on sealed connections
BINDING_LENGTH = 32

AES_256_GCM, CHACHA20_POLY1305 = 0x0001, 0x0002  # suite ids (u16 on the wire)
SUITES = {"aes256gcm": AES_256_GCM, "chacha20poly1305": CHACHA20_POLY1305}
SUITE_NAMES = {value: name for name, value in SUITES.items()}
KEY_LENGTH, IV_LENGTH, TAG_LENGTH = 32, 12, 16  # the same for both suites
MAX_PAYLOAD = 1 << 20  # SPEC.md §4, for every record, the outer SEALED record included
MAX_INNER_PAYLOAD = MAX_PAYLOAD - 2 - TAG_LENGTH  # 1,048,558: the outer length stays <= 1 MiB
# Kinds that never travel inside a SEALED record (a protocolViolation there).
NOT_SEALABLE = (KINDS["HELLO"], KINDS["WELCOME"], AUTH, 0x0D, SEALED)


class SealBroken(ValueError):
    """A record that must not be accepted once the sealed record layer is on: not SEALED, a
    wrong outer length or CRC, or a tag that does not verify. Nothing is sent about it."""


# --- HELLO / WELCOME parameters ----------------------------------------------------------------

def suites_value(suites):
    """The value of parameter 3 `suites`: each suite id as a u16, in order of preference."""
    return b"".join(struct.pack(">H", suite) for suite in suites)


def suites_param(suites):
    """(3, value) for HELLO: the client's suites, best first (2..32 bytes, no duplicates)."""
    assert 1 <= len(suites) <= 16 and len(set(suites)) == len(suites)
    return (SUITES_ID, suites_value(suites))


def suite_param(suite):
    """(3, value) for WELCOME: exactly one u16, the suite the server chose."""
    return (SUITES_ID, suites_value([suite]))


def parse_suites(value):
    """The suite ids of a `suites` value; None when the value is not a valid list (odd or
    outside 2..32 bytes, or a duplicate)."""
    if len(value) % 2 or not 2 <= len(value) <= 32:
        return None
    suites = [struct.unpack(">H", value[i:i + 2])[0] for i in range(0, len(value), 2)]
    return suites if len(set(suites)) == len(suites) else None


def parse_params(payload):
    """The (id, value) pairs of a HELLO or WELCOME payload, in order (SPEC.md §6.1)."""
    count, at, out = struct.unpack(">H", payload[:2])[0], 2, []
    for _ in range(count):
        pid, length = struct.unpack(">HH", payload[at:at + 4])
        out.append((pid, bytes(payload[at + 4:at + 4 + length])))
        at += 4 + length
    if at != len(payload):
        raise ValueError("parameters: bytes left over")
    return out


def param(params_list, pid):
    """The value of the first parameter `pid` (a repeat is ignored, SPEC.md §6.1), or None."""
    return next((value for key, value in params_list if key == pid), None)


def choose_suite(client_suites, supported=(AES_256_GCM, CHACHA20_POLY1305)):
    """The server's choice: the first suite of the client's list that it supports, or None."""
    return next((suite for suite in client_suites if suite in supported), None)


# --- the handshake: transcript, proofs, traffic keys --------------------------------------------

def auth(proof_bytes):
    """An AUTH record (kind 0x0C): a 32-byte proof."""
    assert len(proof_bytes) == 32
    return record(AUTH, proof_bytes)


def sha256(data):
    return hashlib.sha256(data).digest()


def hkdf(salt, ikm, info, length):
    """HKDF-SHA256 (RFC 5869): extract, then expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def proof(key, role, transcript):
    """proof_s = HMAC(key, "xfer-1.2 server proof" || H(T)) with role "server" and `transcript`
    = T; proof_c = HMAC(key, "xfer-1.2 client proof" || H(T || AUTH_s)) with role "client"
    and `transcript` = T || AUTH_s. T is the exact bytes as they crossed the wire: client
    preamble, client HELLO record, server preamble, server WELCOME record (KEEPALIVE and
    unknown ignorable records among them left out); AUTH_s the server's whole AUTH record."""
    assert role in ("server", "client")
    label = ("xfer-1.2 %s proof" % role).encode()
    return hmac.new(key, label + sha256(transcript), hashlib.sha256).digest()


def traffic_secrets(key, client_nonce, server_nonce, transcript):
    """Both directions' AEAD key (32 bytes) and IV (12 bytes), from `transcript` =
    T || AUTH_s || AUTH_c: {"h", "client_key", "client_iv", "server_key", "server_iv"}.
    client_* protect client -> server records, server_* server -> client."""
    assert len(client_nonce) == NONCE_LENGTH and len(server_nonce) == NONCE_LENGTH
    h = sha256(transcript)
    salt = client_nonce + server_nonce
    out = {"h": h}
    for role in ("client", "server"):
        out[role + "_key"] = hkdf(salt, key, ("xfer-1.2 %s key" % role).encode() + h, KEY_LENGTH)
        out[role + "_iv"] = hkdf(salt, key, ("xfer-1.2 %s iv" % role).encode() + h, IV_LENGTH)
    return out


# --- SEALED records ------------------------------------------------------------------------------

def sealed_nonce(iv, sequence):
    """The AEAD nonce of record `sequence`: iv XOR (4 zero bytes || u64 big-endian sequence)."""
    assert len(iv) == IV_LENGTH and 0 <= sequence < (1 << 64) - 1
    return bytes(a ^ b for a, b in zip(iv, b"\0\0\0\0" + struct.pack(">Q", sequence)))


def sealed_header(inner_payload_length):
    """Outer header bytes 0-5 (kind 0x0E, flags 0, u32 length = n + 18): the AEAD's AAD."""
    return struct.pack(">BBI", SEALED, 0, inner_payload_length + 2 + TAG_LENGTH)


def _aead(suite, key):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    if suite not in SUITE_NAMES:
        raise ValueError("unknown suite %r" % suite)
    assert len(key) == KEY_LENGTH
    return (AESGCM if suite == AES_256_GCM else ChaCha20Poly1305)(bytes(key))


def seal(suite, key, iv, sequence, kind, flags, payload, strict=True):
    """The outer SEALED record (header, CRC, ciphertext || tag) that carries the inner record
    (kind, flags, payload) as record `sequence` of its direction. Needs `cryptography`.
    strict=False seals what a conformant side never does (a HELLO inside, a payload over
    1,048,558 bytes), for tests of the reader."""
    assert not strict or (kind not in NOT_SEALABLE and len(payload) <= MAX_INNER_PAYLOAD)
    header = sealed_header(len(payload))
    body = _aead(suite, key).encrypt(sealed_nonce(iv, sequence), bytes([kind, flags]) + bytes(payload), header)
    return header + struct.pack(">I", crc32c(body, crc32c(header))) + body


def seal_record(suite, key, iv, sequence, plain_record, strict=True):
    """`seal` for a plain record as `record()` makes it (its length and CRC are dropped)."""
    return seal(suite, key, iv, sequence, plain_record[0], plain_record[1], plain_record[10:], strict)


def open_sealed(suite, key, iv, sequence, outer):
    """(kind, flags, payload) of the inner record of the whole outer record `outer` (header,
    CRC, payload), opened as record `sequence` of its direction; raises SealBroken when it is
    not a SEALED record, its length or CRC is wrong, or its tag does not verify. The inner
    record's kind, flags and fields are not checked here (SPEC.md §4 steps 3-5 apply to it as
    to any record). Needs `cryptography`."""
    from cryptography.exceptions import InvalidTag
    outer = bytes(outer)
    if len(outer) < 10:
        raise SealBroken("shorter than a header")
    kind, flags, length, crc = struct.unpack(">BBII", outer[:10])
    if length > MAX_PAYLOAD:
        raise SealBroken("outer length %d over the limit" % length)
    if length != len(outer) - 10:
        raise SealBroken("outer length %d, but %d payload bytes" % (length, len(outer) - 10))
    if crc32c(outer[10:], crc32c(outer[:6])) != crc:
        raise SealBroken("outer CRC mismatch")
    if kind != SEALED:
        raise SealBroken("an unsealed record (kind 0x%02x)" % kind)
    if length < 2 + TAG_LENGTH:
        raise SealBroken("outer length %d, below 18" % length)
    # The outer flags are not checked on their own: they are part of the AAD, so any bit set
    # (a conformant side sends 0) makes the tag fail.
    try:
        inner = _aead(suite, key).decrypt(sealed_nonce(iv, sequence), outer[10:], outer[:6])
    except InvalidTag:
        raise SealBroken("sealed record %d did not open" % sequence) from None
    return inner[0], inner[1], inner[2:]


class Sealer:
    """One direction's sealing side: a suite, that direction's key and IV, and the sequence."""

    def __init__(self, suite, key, iv):
        self.suite, self.key, self.iv, self.sequence = suite, key, iv, 0

    def seal(self, kind, flags, payload):
        out = seal(self.suite, self.key, self.iv, self.sequence, kind, flags, payload)
        self.sequence += 1
        return out

    def seal_record(self, plain_record):
        return self.seal(plain_record[0], plain_record[1], plain_record[10:])


class Opener:
    """One direction's opening side. After a SealBroken it stays broken: the connection is over."""

    def __init__(self, suite, key, iv):
        self.suite, self.key, self.iv, self.sequence, self.broken = suite, key, iv, 0, False

    def open(self, outer):
        if self.broken:
            raise SealBroken("the connection is over")
        try:
            inner = open_sealed(self.suite, self.key, self.iv, self.sequence, outer)
        except SealBroken:
            self.broken = True
            raise
        self.sequence += 1
        return inner


# --- the ACK binding -----------------------------------------------------------------------------

def ack_binding_input(offer_payload_bytes, committed_length, dig):
    """What the binding hashes: "xfer-1.2 ack" || the OFFER payload without bytes 24..31 (its
    u64 offset) || u64 committed length || u64 digest."""
    p = bytes(offer_payload_bytes)
    assert len(p) >= 50
    return b"xfer-1.2 ack" + p[:24] + p[32:] + struct.pack(">QQ", committed_length, dig)


def ack_binding(offer_payload_bytes, committed_length, dig):
    """binding = SHA-256(ack_binding_input(...)), 32 bytes. `offer_payload_bytes` is the
    payload (not the record) of the OFFER the ACK answers: for an alreadyCommitted ACK the
    offer answered so, after a resume the re-offer."""
    return sha256(ack_binding_input(offer_payload_bytes, committed_length, dig))


def ack_payload(tid, length, dig, binding=None):
    """An ACK's payload: id16, u64 committed length, u64 digest (32 bytes), then the 32-byte
    binding when there is one (64 bytes, flag 0x02 `bound`)."""
    assert len(tid) == 16 and (binding is None or len(binding) == BINDING_LENGTH)
    return tid + struct.pack(">QQ", length, dig) + (binding or b"")


def bound_ack(tid, length, dig, durable, offer_payload_bytes):
    """An ACK with flag 0x02 `bound` and the binding computed from the OFFER's payload."""
    return ack(tid, length, dig, durable, ack_binding(offer_payload_bytes, length, dig))


# ---------------------------------------------------------------------------------------------
# SPEC 1.3: one transfer over several connections (SPEC.md §16)
# ---------------------------------------------------------------------------------------------

SESSION, JOIN, HAVE, BLOCK, BLOCKEND, BLOCKACK = 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14  # record kinds
STREAMS_ID = 32  # HELLO/WELCOME parameter id: u16, the number of connections
MIN_STREAMS, MAX_STREAMS = 2, 16
OFFER_AWAIT_ANSWER, OFFER_BLOCKS = 0x01, 0x02  # OFFER flags
SESSION_ID_LENGTH, TOKEN_LENGTH = 16, 32
MIN_BLOCK_SIZE, MAX_BLOCK_SIZE = 1 << 16, 1 << 26  # 64 KiB .. 64 MiB, a power of two
HAVE_FIXED_LENGTH = 20  # transfer ID (16) and block count (4), then the bitmap
# The most blocks a `blocks` offer may have: its HAVE must fit in a sealed record's inner
# payload (1,048,558 bytes, §13.4): (1,048,558 - 20) * 8.
MAX_BLOCK_COUNT = (MAX_INNER_PAYLOAD - HAVE_FIXED_LENGTH) * 8
# The flag bits each kind defines (§5); any other bit is `unknownFlags`.
DEFINED_FLAGS = {KINDS["OFFER"]: OFFER_AWAIT_ANSWER | OFFER_BLOCKS, KINDS["ACK"]: ACK_DURABLE | ACK_BOUND,
                 KINDS["ERROR"]: 0x01}


class FieldError(ValueError):
    """A decoding error of a record's flags or payload (SPEC.md §4 steps 4-5), named as in
    §12's table: `unknownFlags`, `truncatedField`, `trailingBytes` or `invalidField`. All are
    reported with a fatal ERROR `protocolViolation` (1)."""

    def __init__(self, error, message):
        super().__init__("%s: %s" % (error, message))
        self.error = error


# --- the parameter ------------------------------------------------------------------------------

def streams_param(count):
    """(32, value): parameter `streams`, a u16. In HELLO the connections the client would use
    (2..16); in WELCOME the connections granted (2..what the HELLO asked)."""
    return (STREAMS_ID, struct.pack(">H", count))


def parse_streams(value):
    """The count of a `streams` value, or None when it is not exactly 2 bytes (= absent)."""
    if value is None or len(value) != 2:
        return None
    return struct.unpack(">H", value)[0]


# --- block layout and the block tree digest (§16.4, §16.5) --------------------------------------

def valid_block_size(size):
    """A power of two from 65,536 to 67,108,864."""
    return MIN_BLOCK_SIZE <= size <= MAX_BLOCK_SIZE and size & (size - 1) == 0


def block_count(size, block_size):
    """n = ceil(size / block size): the blocks of a file of `size` >= 1 bytes."""
    return (size + block_size - 1) // block_size


def block_range(index, size, block_size):
    """(offset, length) of block `index`: bytes index*B ..< min((index+1)*B, size)."""
    offset = index * block_size
    assert 0 <= offset < size
    return offset, min(block_size, size - offset)


def block_digests(data, block_size):
    """XXH64 (seed 0) of each block of `data`, in index order."""
    return [digest(data[i:i + block_size]) for i in range(0, len(data), block_size)]


def tree_input(digests):
    """What the block tree digest hashes: each block's XXH64 as a u64 big-endian, in order."""
    return b"".join(struct.pack(">Q", d) for d in digests)


def tree_digest(digests):
    """The block tree digest: XXH64 (seed 0) of `tree_input(digests)`."""
    return digest(tree_input(digests))


def tree_digest_of(data, block_size):
    """The block tree digest of a whole file's bytes, cut into blocks of `block_size`."""
    assert len(data) >= 1
    return tree_digest(block_digests(data, block_size))


# --- records -------------------------------------------------------------------------------------

def session_payload(session_id, token, block_size):
    return bytes(session_id) + bytes(token) + struct.pack(">I", block_size)


def session(session_id, token, block_size):
    """SESSION (0x0F), server -> client: session ID (16, not all zero), token (32), block size (u32)."""
    assert len(session_id) == SESSION_ID_LENGTH and any(session_id) and len(token) == TOKEN_LENGTH
    assert valid_block_size(block_size)
    return record(SESSION, session_payload(session_id, token, block_size))


def join(session_id, token):
    """JOIN (0x10), client -> server: session ID (16, not all zero), token (32)."""
    assert len(session_id) == SESSION_ID_LENGTH and any(session_id) and len(token) == TOKEN_LENGTH
    return record(JOIN, bytes(session_id) + bytes(token))


def have_bitmap(count, held):
    """The bitmap of `count` blocks: block i held <=> bit (i mod 8) of byte (i div 8), least
    significant bit first."""
    bitmap = bytearray((count + 7) // 8)
    for i in held:
        assert 0 <= i < count
        bitmap[i // 8] |= 1 << (i % 8)
    return bytes(bitmap)


def have_held(count, bitmap):
    """The indexes of the blocks a bitmap holds, in order."""
    return [i for i in range(count) if bitmap[i // 8] >> (i % 8) & 1]


def have_payload(tid, count, bitmap):
    return bytes(tid) + struct.pack(">I", count) + bytes(bitmap)


def have(tid, count, held):
    """HAVE (0x11), server -> client: transfer ID, block count n (>= 1), the bitmap of the
    blocks in `held` (ceil(n / 8) bytes)."""
    assert any(tid) and count >= 1
    return record(HAVE, have_payload(tid, count, have_bitmap(count, held)))


def block(tid, index):
    """BLOCK (0x12), client -> server: transfer ID and block index (u32); DATA follows."""
    assert any(tid)
    return record(BLOCK, bytes(tid) + struct.pack(">I", index))


def blockend(dig):
    """BLOCKEND (0x13), client -> server: XXH64 (seed 0) of the block's bytes."""
    return record(BLOCKEND, struct.pack(">Q", dig))


def blockack(tid, index):
    """BLOCKACK (0x14), server -> client: the block's bytes matched and are written."""
    assert any(tid)
    return record(BLOCKACK, bytes(tid) + struct.pack(">I", index))


def offer_blocks(tid, size, mode, mtime_s, mtime_ns, name):
    """An OFFER with flags 0x03 (`awaitAnswer`, `blocks`): known size >= 1, offset 0."""
    return offer(tid, size, 0, mode, mtime_s, mtime_ns, name, await_answer=True, blocks=True)


# --- decoding (SPEC.md §4 steps 4-5 for these kinds; the CRC and length are already checked) ----

class _Reader:
    def __init__(self, payload):
        self.payload, self.at = bytes(payload), 0

    def take(self, count, field):
        if self.at + count > len(self.payload):
            raise FieldError("truncatedField", "the payload ends inside %s" % field)
        out = self.payload[self.at:self.at + count]
        self.at += count
        return out

    def u(self, fmt, field):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt), field))[0]

    def remaining(self):
        return len(self.payload) - self.at

    def finish(self):
        if self.at != len(self.payload):
            raise FieldError("trailingBytes", "%d bytes after the last field" % (len(self.payload) - self.at))


def _check_flags(kind, flags):
    undefined = flags & ~DEFINED_FLAGS.get(kind, 0) & 0xFF
    if undefined:
        raise FieldError("unknownFlags", "kind 0x%02x, undefined flags 0x%02x" % (kind, undefined))


def _stream_id(reader):
    tid = reader.take(16, "transfer id")
    if not any(tid):
        raise FieldError("invalidField", "an all-zero transfer ID, which only a fatal ERROR may carry")
    return tid


def _session_id(reader):
    sid = reader.take(SESSION_ID_LENGTH, "session id")
    if not any(sid):
        raise FieldError("invalidField", "an all-zero session ID")
    return sid


def parse_offer(flags, payload):
    """The fields of an OFFER, as a dict; raises FieldError (§6.2, and §16.3 for `blocks`)."""
    _check_flags(KINDS["OFFER"], flags)
    r = _Reader(payload)
    tid = _stream_id(r)
    size, offset, mode, seconds, nanoseconds = (r.u("Q", "size"), r.u("Q", "offset"), r.u("I", "mode"),
                                                r.u("q", "mtime seconds"), r.u("I", "mtime nanoseconds"))
    name = r.take(r.u("H", "name length"), "name")
    try:
        name = name.decode("utf-8")  # Python's decoder refuses overlong forms and surrogates
    except UnicodeDecodeError:
        raise FieldError("invalidField", "a name that is not UTF-8") from None
    if nanoseconds >= 1000000000:
        raise FieldError("invalidField", "nanoseconds not below 10^9")
    if size != UNKNOWN_SIZE and offset > size:
        raise FieldError("invalidField", "offset past the size")
    if flags & OFFER_BLOCKS and not (flags & OFFER_AWAIT_ANSWER and size not in (0, UNKNOWN_SIZE) and offset == 0):
        raise FieldError("invalidField", "blocks needs awaitAnswer, a known size of at least 1 and offset 0")
    if size == UNKNOWN_SIZE and offset != 0:
        raise FieldError("invalidField", "an offset for a stream of unknown size")
    r.finish()
    return {"transfer_id": tid, "size": None if size == UNKNOWN_SIZE else size, "offset": offset, "mode": mode,
            "mtime_seconds": seconds, "mtime_nanoseconds": nanoseconds, "name": name,
            "await_answer": bool(flags & OFFER_AWAIT_ANSWER), "blocks": bool(flags & OFFER_BLOCKS)}


def parse_session(flags, payload):
    _check_flags(SESSION, flags)
    r = _Reader(payload)
    sid = _session_id(r)
    token = r.take(TOKEN_LENGTH, "token")
    block_size = r.u("I", "block size")
    if not valid_block_size(block_size):
        raise FieldError("invalidField", "block size %d is not a power of two from 65536 to 67108864" % block_size)
    r.finish()
    return {"session_id": sid, "token": token, "block_size": block_size}


def parse_join(flags, payload):
    _check_flags(JOIN, flags)
    r = _Reader(payload)
    sid = _session_id(r)
    token = r.take(TOKEN_LENGTH, "token")
    r.finish()
    return {"session_id": sid, "token": token}


def parse_have(flags, payload):
    """HAVE: the bitmap's length follows from n, so a payload of any other length than
    20 + ceil(n / 8) is `invalidField` (not truncatedField or trailingBytes), and so is n = 0."""
    _check_flags(HAVE, flags)
    r = _Reader(payload)
    tid = _stream_id(r)
    count = r.u("I", "block count")
    need = (count + 7) // 8
    if count == 0 or r.remaining() != need:
        raise FieldError("invalidField", "%d bitmap bytes for %d blocks" % (r.remaining(), count))
    bitmap = r.take(need, "bitmap")
    if count % 8 and bitmap[-1] >> (count % 8):
        raise FieldError("invalidField", "bits set past block %d" % (count - 1))
    return {"transfer_id": tid, "block_count": count, "bitmap": bitmap}


def parse_block(flags, payload, kind=BLOCK):
    _check_flags(kind, flags)
    r = _Reader(payload)
    tid = _stream_id(r)
    index = r.u("I", "index")
    r.finish()
    return {"transfer_id": tid, "index": index}


def parse_blockend(flags, payload):
    _check_flags(BLOCKEND, flags)
    r = _Reader(payload)
    dig = r.u("Q", "digest")
    r.finish()
    return {"digest": dig}


def parse_blockack(flags, payload):
    return parse_block(flags, payload, BLOCKACK)


PARSERS_1_3 = {KINDS["OFFER"]: parse_offer, SESSION: parse_session, JOIN: parse_join, HAVE: parse_have,
               BLOCK: parse_block, BLOCKEND: parse_blockend, BLOCKACK: parse_blockack}


def parse_record(raw):
    """(kind, flags, fields) of one whole record of a kind in PARSERS_1_3; raises FieldError."""
    kind, flags, length, crc = struct.unpack(">BBII", raw[:10])
    assert length == len(raw) - 10 and crc32c(raw[10:], crc32c(raw[:6])) == crc
    return kind, flags, PARSERS_1_3[kind](flags, raw[10:])
