"""A small, independent Python encoding of the xfer wire format (SPEC.md 1.1), written from SPEC.md.

It generates Tests/Vectors/vectors.json (so the vectors do not come from the Swift code
they check) and drives scripts/xfer-send.py, a minimal sender that the Swift tests run
against the real receiver. Standard library only, including CRC-32C and XXH64.
"""
import struct

KINDS = {"HELLO": 0x01, "WELCOME": 0x02, "OFFER": 0x03, "ANSWER": 0x04, "DATA": 0x05, "END": 0x06,
         "CANCEL": 0x07, "PROGRESS": 0x08, "ACK": 0x09, "ERROR": 0x0A, "GOODBYE": 0x0B, "KEEPALIVE": 0x80}
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


def preamble(version=1):
    return b"XFER" + struct.pack(">HH", version, 0)


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


def offer(tid, size, offset, mode, mtime_s, mtime_ns, name, await_answer=False):
    size = UNKNOWN_SIZE if size is None else size
    payload = tid + struct.pack(">QQIqI", size, offset, mode, mtime_s, mtime_ns) + str16(name)
    return record(KINDS["OFFER"], payload, 0x01 if await_answer else 0)


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


def ack(tid, length, dig, durable):
    return record(KINDS["ACK"], tid + struct.pack(">QQ", length, dig), 0x01 if durable else 0)


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
