#!/usr/bin/env python3
"""A minimal xfer sender in Python, written from SPEC.md alone, to show (and test) that the
specification is enough to interoperate: sends one file and exits 0 only on a matching ACK.

    python3 scripts/xfer-send.py HOST PORT PATH [NAME]
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    name = sys.argv[4] if len(sys.argv) > 4 else os.path.basename(path)
    data = open(path, "rb").read()
    tid = os.urandom(16)
    st = os.stat(path)
    sock = socket.create_connection((host, port), timeout=30)
    out = x.preamble(1) + x.hello([(1, b"xfer-send.py/1")])
    out += x.offer(tid, len(data), 0, st.st_mode & 0o777, int(st.st_mtime), 0, name)
    for i in range(0, len(data), 65536):
        out += x.data(data[i:i + 65536])
    out += x.end(len(data), x.digest(data)) + x.goodbye()
    sock.sendall(out)
    reader = sock.makefile("rb")
    if reader.read(8)[:4] != b"XFER":
        sys.exit("not an xfer receiver")
    ok = False
    for kind, flags, payload in x.read_records(reader):
        if kind == x.KINDS["ANSWER"] and payload[16] != 0:
            print("refused:", payload[29:].decode(), file=sys.stderr)
        elif kind == x.KINDS["ACK"]:
            length, dig = struct.unpack(">QQ", payload[16:32])
            ok = payload[:16] == tid and length == len(data) and dig == x.digest(data) and flags & 1 == 1
            print("ACK: %d bytes, digest %016x, durable %s" % (length, dig, bool(flags & 1)))
        elif kind == x.KINDS["ERROR"]:
            print("ERROR %d: %s" % (struct.unpack(">H", payload[:2])[0], payload[20:].decode()), file=sys.stderr)
        elif kind == x.KINDS["GOODBYE"]:
            break
    sock.close()  # after the server's GOODBYE: the client closes first (SPEC.md §7.4)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
