#!/usr/bin/env python3
"""What raw TCP carries over a path: the ceiling xfer is measured against.

    tcp-ceiling.py sink PORT                  # on the receiving side: reads and discards
    tcp-ceiling.py send HOST PORT MIB [N]     # N connections (default 1) share MIB MiB

`send` prints one line: connections, MiB, seconds, MB/s. The time runs from the first
connect to the sink's last byte being acknowledged at application level (the sink writes
one byte back per connection after reading its share), so it is comparable with xfer's
confirmed transfers rather than with what the local kernel took. `rtt` measures the
round-trip time of connects (the path's RTT).
"""
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def sink(port):
    server = socket.create_server(("0.0.0.0", port), backlog=64)
    print("listening", port, flush=True)

    def serve(conn):
        with conn:
            header = b""
            while len(header) < 8:
                header += conn.recv(8 - len(header))
            want = int.from_bytes(header, "big")
            buffer = bytearray(CHUNK)
            got = 0
            while got < want:
                n = conn.recv_into(buffer)
                if n == 0:
                    return
                got += n
            conn.sendall(b"k")

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def send(host, port, mib, count):
    total = mib << 20
    shares = [total // count + (1 if i < total % count else 0) for i in range(count)]
    payload = memoryview(bytes(CHUNK))
    errors = []

    def one(share):
        try:
            with socket.create_connection((host, port)) as conn:
                conn.sendall(share.to_bytes(8, "big"))
                left = share
                while left > 0:
                    n = conn.send(payload[: min(CHUNK, left)])
                    left -= n
                if conn.recv(1) != b"k":
                    errors.append("no confirmation")
        except OSError as error:
            errors.append(str(error))

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    if errors:
        print("tcp-ceiling: failed:", errors[0], file=sys.stderr)
        sys.exit(1)
    print("%d connection(s) %d MiB %.3f s %.1f MB/s" % (count, mib, seconds, total / seconds / 1e6))


def rtt(host, port, rounds=5):
    samples = []
    for _ in range(rounds):
        start = time.monotonic()
        with socket.create_connection((host, port)) as conn:
            samples.append(time.monotonic() - start)
            conn.sendall((0).to_bytes(8, "big"))
            conn.recv(1)
    samples.sort()
    print("rtt %.1f ms (min %.1f, max %.1f)" % (samples[len(samples) // 2] * 1e3, samples[0] * 1e3, samples[-1] * 1e3))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "sink":
        sink(int(sys.argv[2]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif len(sys.argv) >= 4 and sys.argv[1] == "rtt":
        rtt(sys.argv[2], int(sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
