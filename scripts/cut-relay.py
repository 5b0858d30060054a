#!/usr/bin/env python3
"""A relay that cuts one of the connections it forwards, as a failing path would.

    cut-relay.py --upstream 127.0.0.1:PORT --cut K --after BYTES [--reset]

Forwards every connection accepted to the upstream, both directions, byte for byte. The
K-th connection (1 = the first accepted) is cut once BYTES bytes of the client's have
been forwarded: both its sockets are closed at once, with an RST (SO_LINGER 0) when
--reset is given, else with a FIN. Other connections are untouched. Prints
`listening on 127.0.0.1:PORT` when ready, `cut connection K after N bytes` when it cuts,
and serves until killed. Used by the multi-connection tests (SPEC.md §16): a session loses
one connection mid-transfer.
"""
import argparse
import socket
import struct
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cut", type=int, required=True)
    ap.add_argument("--after", type=int, required=True)
    ap.add_argument("--reset", action="store_true")
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    count = 0
    while True:
        client, _ = listener.accept()
        count += 1
        upstream = socket.create_connection((host, int(port)))
        Pair(client, upstream, count == args.cut, args.after, args.reset, count).start()


class Pair:
    def __init__(self, client, upstream, doomed, after, reset, number):
        self.client, self.upstream = client, upstream
        self.doomed, self.after, self.reset, self.number = doomed, after, reset, number
        self.forwarded = 0
        self.cut = False
        self.lock = threading.Lock()

    def start(self):
        threading.Thread(target=self.pump, args=(self.client, self.upstream, True), daemon=True).start()
        threading.Thread(target=self.pump, args=(self.upstream, self.client, False), daemon=True).start()

    def kill(self):
        with self.lock:
            if self.cut:
                return
            self.cut = True
        for sock in (self.client, self.upstream):
            try:
                if self.reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        print("cut connection %d after %d bytes" % (self.number, self.forwarded), flush=True)

    def pump(self, source, sink, from_client):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                if from_client and self.doomed:
                    room = self.after - self.forwarded
                    if len(data) >= room:
                        sink.sendall(data[:room])
                        self.forwarded += room
                        self.kill()
                        return
                    self.forwarded += len(data)
                sink.sendall(data)
        except OSError:
            if self.doomed:
                self.kill()
            else:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


if __name__ == "__main__":
    sys.exit(main())
