#!/usr/bin/env python3
"""A sender that a test steps through: one file at a time on one connection, each answered
(ACK or ERROR) before the next is offered, so that each file is a commit of its own on the
receiver (a test can count the receiver's system calls per commit).

    python3 scripts/xfer-steps.py HOST PORT NAME:SIZE [NAME:SIZE ...]

A file's bytes are its name repeated. For each file, one line on stdout: `ack NAME LENGTH`
or `error NAME CODE MESSAGE`. Exits 0 when every file was ACKed durable with the right
length and digest, 1 otherwise; it closes after the receiver's GOODBYE (SPEC.md §7.4).
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    files = [(spec.rsplit(":", 1)[0], int(spec.rsplit(":", 1)[1])) for spec in sys.argv[3:]]
    sock = socket.create_connection((host, port), timeout=30)
    reader = sock.makefile("rb")
    sock.sendall(x.preamble(1) + x.hello([(1, b"xfer-steps.py/1")]))
    if reader.read(8)[:4] != b"XFER":
        sys.exit("not an xfer receiver")
    records = x.read_records(reader)
    ok = True
    for name, size in files:
        tid = os.urandom(16)
        content = (name.encode() * (size // max(1, len(name)) + 1))[:size]
        sock.sendall(x.offer(tid, size, 0, 0o644, 1_700_000_000, 0, name) + x.data(content)
                     + x.end(size, x.digest(content)))
        outcome = None
        for kind, flags, payload in records:
            if kind == x.KINDS["ACK"] and payload[:16] == tid:
                length, dig = struct.unpack(">QQ", payload[16:32])
                good = length == size and dig == x.digest(content) and flags & 1
                outcome = "ack %s %d" % (name, length) if good else "error %s bad-ack" % name
                ok = ok and bool(good)
                break
            if kind == x.KINDS["ERROR"]:
                code = struct.unpack(">H", payload[:2])[0]
                outcome = "error %s %d %s" % (name, code, payload[20:].decode(errors="replace"))
                ok = False
                if flags & 1 or payload[2:18] == tid:
                    break
        print(outcome or "error %s connection-ended" % name, flush=True)
        if outcome is None:
            sys.exit(1)
    sock.sendall(x.goodbye())
    for kind, _, _ in records:
        if kind == x.KINDS["GOODBYE"]:
            break
    sock.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
