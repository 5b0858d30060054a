#!/usr/bin/env python3
"""A small xfer sender in Python, written from SPEC.md alone, to show (and test) that the
specification is enough to interoperate: sends one file and exits 0 only on a matching,
durable ACK.

    python3 scripts/xfer-send.py HOST PORT PATH [NAME]

It follows SPEC.md §7.1: a second thread reads the receiver's records while the main thread
streams the file (never both waiting on each other, whatever the file's size), it stops and
sends CANCEL when the receiver declines or fails the stream, and it closes only after the
receiver's GOODBYE, so the close sends FIN, never RST. It does not resume (a `resume` answer
fails the run) and sends no KEEPALIVE (a file is never quiet); the transfer ID is random.
"""
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

PIECE = 256 * 1024


class Replies:
    """What the reading thread learned, shared with the sending thread."""

    def __init__(self):
        self.lock = threading.Condition()
        self.answer = None  # (decision, offset, code, message)
        self.ack = None  # (flags, length, digest)
        self.errors = []  # (fatal, code, message)
        self.goodbye = False
        self.ended = None  # why reading stopped early, if it did

    def stop_sending(self):
        """Whether the stream must stop: declined, failed, or the connection is over."""
        with self.lock:
            declined = self.answer is not None and self.answer[0] != 0
            return declined or bool(self.errors) or self.ended is not None


def read_replies(sock, tid, replies):
    reader = sock.makefile("rb")
    try:
        if reader.read(8)[:4] != b"XFER":
            raise ValueError("not an xfer receiver")
        for kind, flags, payload in x.read_records(reader):
            with replies.lock:
                if kind == x.KINDS["ANSWER"] and payload[:16] == tid:
                    decision, offset, code = struct.unpack(">BQH", payload[16:27])
                    replies.answer = (decision, offset, code, payload[29:].decode())
                elif kind == x.KINDS["ACK"] and payload[:16] == tid:
                    length, dig = struct.unpack(">QQ", payload[16:32])
                    replies.ack = (flags, length, dig)
                elif kind == x.KINDS["ERROR"]:
                    code = struct.unpack(">H", payload[:2])[0]
                    replies.errors.append((bool(flags & 1), code, payload[20:].decode()))
                    if flags & 1:
                        replies.ended = "fatal ERROR"
                elif kind == x.KINDS["GOODBYE"]:
                    replies.goodbye = True
                replies.lock.notify_all()
                if replies.goodbye or replies.ended:
                    break
        if replies.ended:
            # After a fatal ERROR: send nothing more, read to the end (SPEC.md §7.5).
            sock.shutdown(socket.SHUT_WR)
            while reader.read(65536):
                pass
    except (OSError, ValueError) as error:
        with replies.lock:
            replies.ended = replies.ended or str(error)
    with replies.lock:
        if not replies.goodbye and replies.ended is None:
            replies.ended = "the receiver closed the connection"
        replies.lock.notify_all()


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    name = sys.argv[4] if len(sys.argv) > 4 else os.path.basename(path)
    tid = os.urandom(16)
    source = open(path, "rb")
    st = os.fstat(source.fileno())
    size = st.st_size
    sock = socket.create_connection((host, port), timeout=30)
    replies = Replies()
    reader = threading.Thread(target=read_replies, args=(sock, tid, replies), daemon=True)
    reader.start()

    digest = x.Digest()
    sent = 0
    try:
        sent = send(sock, source, tid, st, name, digest, replies)
    except OSError as error:  # the receiver went away, or did not read for 30 s
        with replies.lock:
            replies.ended = replies.ended or "sending failed: %s" % error
        sock.shutdown(socket.SHUT_RDWR)
    reader.join(timeout=60)
    sock.close()  # after the server's GOODBYE (or its end): the client closes first (§7.4)
    report(replies, size, digest.value(), sent == size)


def send(sock, source, tid, st, name, digest, replies):
    """Streams the file; returns how many of its bytes were sent."""
    size, sent = st.st_size, 0
    sock.sendall(x.preamble(1) + x.hello([(1, b"xfer-send.py/1.1")])
                 + x.offer(tid, size, 0, st.st_mode & 0o7777, int(st.st_mtime), st.st_mtime_ns % 10**9, name))
    while sent < size and not replies.stop_sending():
        piece = source.read(min(PIECE, size - sent))
        if not piece:
            break
        digest.update(piece)
        sock.sendall(x.data(piece))  # blocks while the receiver does not read; the reader goes on
        sent += len(piece)
    with replies.lock:
        if replies.ended is not None:
            return sent  # a fatal ERROR: send nothing more (§7.5)
    if sent == size and not replies.stop_sending() and os.fstat(source.fileno()).st_size == size:
        sock.sendall(x.end(size, digest.value()))
    else:
        sock.sendall(x.cancel(14, "stopped: the receiver declined or failed the stream"))
    # The ANSWER before GOODBYE (SPEC.md §7.1); then the reader waits for the ACK and GOODBYE.
    with replies.lock:
        replies.lock.wait_for(lambda: replies.answer is not None or replies.ended is not None, timeout=30)
    sock.sendall(x.goodbye())
    return sent


def report(replies, size, value, complete):
    ok = False
    if replies.answer and replies.answer[0] != 0:
        decision, _, code, message = replies.answer
        print("not accepted (decision %d, code %d): %s" % (decision, code, message), file=sys.stderr)
    for fatal, code, message in replies.errors:
        print("ERROR %d%s: %s" % (code, " (fatal)" if fatal else "", message), file=sys.stderr)
    if replies.ack:
        flags, length, dig = replies.ack
        ok = length == size and dig == value and flags & 1 == 1 and complete
        print("ACK: %d bytes, digest %016x, durable %s" % (length, dig, bool(flags & 1)))
    if replies.ended and not replies.goodbye:
        print("connection: %s" % replies.ended, file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
