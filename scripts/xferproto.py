"""A small, independent Python encoding of the xfer v1 wire format, written from SPEC.md.

It generates Tests/Vectors/vectors.json (so the vectors do not come from the Swift code
they check) and serves as a raw peer in tests. Standard library only; the whole-stream
digest (XXH64) needs the `xxhash` package from PyPI, used only when a digest is computed.
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


def digest(data):
    import xxhash
    return xxhash.xxh64(data, seed=0).intdigest()


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
