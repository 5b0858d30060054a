#!/usr/bin/env python3
"""A plain TCP peer that half-closes at once (issue 16, item 6), for raw-mode tests.

    half-close-peer.py [--read] [--close-after SECONDS] [--connections N]

Listens on 127.0.0.1 (a kernel-chosen port, printed as "listening PORT"), and for each
connection: shuts its sending side down at once (its FIN goes before any data arrives),
prints "half-closed", then either never reads and closes after --close-after seconds
(default 0.2; with our data unread, the close resets the connection), or with --read reads
until the end of stream and closes cleanly, printing "read N bytes".
"""
import argparse
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--read", action="store_true")
parser.add_argument("--close-after", type=float, default=0.2)
parser.add_argument("--connections", type=int, default=1)
arguments = parser.parse_args()

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(8)
print(f"listening {listener.getsockname()[1]}", flush=True)  # one write: readers wait for the line
for _ in range(arguments.connections):
    connection, _ = listener.accept()
    connection.shutdown(socket.SHUT_WR)
    print("half-closed", flush=True)
    if arguments.read:
        received = 0
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        print("read", received, "bytes", flush=True)
    else:
        time.sleep(arguments.close_after)
    connection.close()
sys.stdout.flush()
