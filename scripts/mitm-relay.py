#!/usr/bin/env python3
"""An attacker on the path between `xfer send` and `xfer receive` that does NOT hold the key.

It forwards both directions record by record (SPEC.md §3-§4: an 8-byte preamble, then
10-byte headers with a CRC-32C and payloads), and applies one attack, as anyone on the path
could. It knows what an attacker may know: the file's plaintext content and name (given by
the test), and every byte it has seen, on this connection and earlier ones. After the
handshake every record is SEALED (kind 0x0E; SPEC.md §13.4), so it works blind, at the
places where the records it wants must be (the first client record is the OFFER; DATA are the
big ones; END is 36 bytes long, a bound ACK 84), and XORs known plaintext differences into
the ciphertext (AES-GCM and ChaCha20 are stream ciphers: without the tag check that would
succeed). It fixes every CRC it breaks. Where records are plain (a peer without the layer),
it does the same attack on the plain fields.

    mitm-relay.py --upstream 127.0.0.1:PORT --attack NAME [--known FILE --name NAME]
                  [--forged-name NAME] [--capture FILE]

Prints `listening on 127.0.0.1:PORT` when ready; serves connections until killed.
Attacks: none, rename, forge, inject-after-ack, drop:c2s, drop:s2c, reorder:c2s,
reorder:s2c, duplicate:c2s, duplicate:s2c, replay:c2s, replay:s2c, flip-data, flip:s2c,
truncate:c2s, truncate:s2c, flip-auth.
"""
import argparse
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as x  # noqa: E402

SEALED, OFFER, DATA, END, ACK, GOODBYE = 0x0E, 0x03, 0x05, 0x06, 0x09, 0x0B
END_SEALED_LENGTH = 16 + 18  # END's payload, inner kind and flags, tag
ACK_SEALED_LENGTH = 64 + 18  # a bound ACK


def refit(record):
    """Fixes the length and CRC of a record the relay changed."""
    record = bytearray(record)
    record[2:6] = struct.pack(">I", len(record) - 10)
    record[6:10] = struct.pack(">I", x.crc32c(bytes(record[10:]), x.crc32c(bytes(record[:6]))))
    return bytes(record)


def xor_into(record, offset, old, new):
    """XORs old^new into record at offset (the blind edit of a stream cipher's output)."""
    record = bytearray(record)
    for i, (a, b) in enumerate(zip(old, new)):
        record[offset + i] ^= a ^ b
    return refit(record)


def read_exact(sock, count):
    out = b""
    while len(out) < count:
        piece = sock.recv(count - len(out))
        if not piece:
            return None
        out += piece
    return out


class Connection:
    """One relayed connection: both directions' records, and the attack's state."""

    history = []  # sealed records of earlier connections: (direction, index, bytes)

    def __init__(self, args, client, server, number):
        self.args, self.client, self.server, self.number = args, client, server, number
        self.sealed = {"c2s": [], "s2c": []}
        self.held = {"c2s": None, "s2c": None}
        self.acked = threading.Event()
        self.known = open(args.known, "rb").read() if args.known else b""
        self.forged = bytes((b + 1) % 256 for b in self.known)
        self.position = 0  # stream offset of the next DATA byte (client side)
        self.capture = open(args.capture, "ab") if args.capture else None
        self.lock = threading.Lock()

    def transform(self, direction, record):
        """The records to send in place of `record`."""
        attack = self.args.attack
        kind = record[0]
        if kind != SEALED:
            return self.plain(direction, record)
        n = len(self.sealed[direction])
        self.sealed[direction].append(record)
        Connection.history.append((self.number, direction, n, record))
        length = len(record) - 10
        if attack == "rename" and direction == "c2s" and n == 0:
            old, new = self.args.name.encode(), self.args.forged_name.encode()
            return [xor_into(record, 10 + 2 + 48 + 2, old, new)]
        if attack == "forge":
            if direction == "c2s" and n > 0 and length > END_SEALED_LENGTH + 64:  # DATA
                count = length - 18
                start = self.position
                self.position += count
                return [xor_into(record, 12, self.known[start:start + count], self.forged[start:start + count])]
            if direction == "c2s" and length == END_SEALED_LENGTH:  # END: the digest field
                return [xor_into(record, 12 + 8, struct.pack(">Q", x.digest(self.known)),
                                 struct.pack(">Q", x.digest(self.forged)))]
            if direction == "s2c" and length == ACK_SEALED_LENGTH:  # ACK: the digest back
                return [xor_into(record, 12 + 24, struct.pack(">Q", x.digest(self.forged)),
                                 struct.pack(">Q", x.digest(self.known)))]
        if attack == "flip-data" and direction == "c2s" and n == 2:
            flipped = bytearray(record)
            flipped[10 + length // 2] ^= 0x04
            return [refit(flipped)]
        if attack == "flip:s2c" and direction == "s2c" and length == ACK_SEALED_LENGTH:
            flipped = bytearray(record)
            flipped[12 + 16 + 7] ^= 0x01  # the committed length's low byte
            return [refit(flipped)]
        if attack == "drop:" + direction and n == 1:
            return []
        if attack == "duplicate:" + direction and n == 1:
            return [record, record]
        if attack == "reorder:" + direction and n in (1, 2):
            if n == 1:
                self.held[direction] = record
                return []
            return [record, self.held[direction]]
        if attack == "replay:" + direction and self.number > 0:
            # Connection 1's first OFFER (client) or first ACK (server) in place of this one's.
            wanted = (lambda i, r: i == 0) if direction == "c2s" else (
                lambda i, r: len(r) - 10 == ACK_SEALED_LENGTH)
            earlier = [r for (c, d, i, r) in Connection.history if c == 0 and d == direction and wanted(i, r)]
            if earlier and wanted(n, record):
                return [earlier[0]]
        if direction == "s2c" and length == ACK_SEALED_LENGTH:
            self.acked.set()
            self.ack_index = n
        goodbye = length == 18 and n > 0  # an empty inner record: GOODBYE (or a KEEPALIVE)
        if attack == "inject-after-ack" and direction == "c2s" and goodbye and self.acked.wait(10):
            # The client's GOODBYE is held back; the relay speaks instead, after the last ACK:
            # the client's own earlier sealed records again, then a plain OFFER of its own.
            return self.sealed["c2s"][:3] + self.evil() + [record]
        if attack == "truncate:c2s" and direction == "c2s" and goodbye and self.acked.wait(10):
            return None  # cut both ways before the client's GOODBYE
        if attack == "truncate:s2c" and direction == "s2c" and goodbye and n > getattr(self, "ack_index", n):
            return None  # cut both ways before the receiver's GOODBYE
        return [record]

    @staticmethod
    def evil():
        script = b"#!/bin/sh\necho owned\n"
        return [x.offer(b"\xee" * 16, len(script), 0, 0o755, 0, 0, "evil.sh"), x.data(script),
                x.end(len(script), x.digest(script))]

    def plain(self, direction, record):
        """The same attacks on records a peer without the layer sends in the clear."""
        attack, kind = self.args.attack, record[0]
        if attack == "flip-auth" and kind == 0x0C and direction == "c2s":
            flipped = bytearray(record)
            flipped[10] ^= 0x01  # the client's proof: the receiver must refuse it
            return [refit(flipped)]
        if kind == ACK and direction == "s2c":
            self.acked.set()
        if attack == "rename" and kind == OFFER and direction == "c2s":
            payload = record[10:]
            name = self.args.forged_name.encode()
            return [refit(record[:10] + payload[:48] + struct.pack(">H", len(name)) + name)]
        if attack == "forge" and direction == "c2s" and kind == DATA:
            count = len(record) - 10
            start = self.position
            self.position += count
            return [refit(record[:10] + self.forged[start:start + count])]
        if attack == "forge" and direction == "c2s" and kind == END:
            return [refit(record[:10] + struct.pack(">QQ", len(self.forged), x.digest(self.forged)))]
        if attack == "inject-after-ack" and direction == "c2s" and kind == GOODBYE and self.acked.wait(10):
            return self.evil() + [record]
        if attack == "truncate:c2s" and direction == "c2s" and kind == GOODBYE and self.acked.wait(10):
            return None
        if attack == "truncate:s2c" and direction == "s2c" and kind == GOODBYE:
            return None
        return [record]

    def pump(self, source, target, direction):
        try:
            preamble = read_exact(source, 8)
            if preamble is None:
                return
            self.send(target, direction, preamble)
            while True:
                header = read_exact(source, 10)
                if header is None:
                    break
                length = struct.unpack(">I", header[2:6])[0]
                if length > 1 << 20:
                    self.send(target, direction, header)  # not ours to judge: pass it on raw
                    continue
                payload = read_exact(source, length)
                if payload is None:
                    break
                records = self.transform(direction, header + payload)
                if records is None:  # truncation: cut both ways
                    break
                for record in records:
                    self.send(target, direction, record)
        except OSError:
            pass
        finally:
            for sock in (self.client, self.server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def send(self, target, direction, data):
        if self.capture and direction == "c2s":
            with self.lock:
                self.capture.write(data)
                self.capture.flush()
        target.sendall(data)

    def run(self):
        threads = [threading.Thread(target=self.pump, args=(self.client, self.server, "c2s")),
                   threading.Thread(target=self.pump, args=(self.server, self.client, "s2c"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.client.close()
        self.server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--attack", default="none")
    ap.add_argument("--known", help="the file's content, as the attacker knows it")
    ap.add_argument("--name", default="", help="the file's name, as the attacker knows it")
    ap.add_argument("--forged-name", default="")
    ap.add_argument("--capture", help="append every client byte to this file")
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    number = 0
    while True:
        client, _ = listener.accept()
        server = socket.create_connection((host, int(port)))
        Connection(args, client, server, number).run()  # one at a time: "earlier" is well defined
        number += 1


if __name__ == "__main__":
    sys.exit(main())
