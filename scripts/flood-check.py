#!/usr/bin/env python3
"""A key holder's sends under a flood of hostile peers, against the real `xfer receive --key`.

Runs inside a network namespace of its own (it re-executes itself under `unshare --net`;
root needed), so its addresses and load touch nothing else:

- `--attack ipv4`: 20 addresses, 127.0.0.2 to 127.0.0.21, 16 connections each (the
  receiver's per-source limit), every connection reopened as soon as it ends: a third
  send a HELLO and then a random AUTH proof (a wrong key), a third connect and say
  nothing, a third trickle the preamble and HELLO one byte every 0.5 s.
- `--attack ipv6`: the same three kinds from 1,000 addresses of one IPv6 /64
  (fd00:1::/64, made local with a `local` route and bound with IP_FREEBIND), one
  connection each.

After `--warmup` seconds of flood, the key holder (127.0.0.1, or ::1 for ipv6: another
source) sends a small file `--sends` times, one after another, with `xfer send --key
--json`. For each: the exit status and the time from starting `xfer send` to its first
`started` event (when the receiver accepted the offer: the send has started). Prints one
JSON object: the figures, the median and max time to start, the success rate, and the
attackers' connection counts (opened, and turned away with "try again later").

    sudo scripts/flood-check.py --xfer .build/debug/xfer --attack ipv4 --sends 40
"""

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xferproto as xp  # noqa: E402

IP_FREEBIND = 15
IPV6_FREEBIND = 78


def enter_namespace():
    """Re-runs this script in a new network namespace (loopback up), unless it is in one."""
    if os.environ.get("XFER_FLOOD_NS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    env = dict(os.environ, XFER_FLOOD_NS="1")
    os.execvpe("unshare", ["unshare", "--net", sys.executable] + sys.argv, env)


class Counts:
    def __init__(self):
        self.opened = 0
        self.busy = 0
        self.named_block = 0
        self.failures = 0


def note_refusal(counts, reply):
    """Counts a refusal ("try again later"), and whether it named the attackers' /64."""
    counts.busy += b"try again later" in reply
    counts.named_block += b"fd00:1::/64" in reply


async def read_some(reader, seconds):
    try:
        return await asyncio.wait_for(reader.read(65536), seconds)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        return b""


async def attacker(kind, family, source, port, counts, stop):
    """One hostile connection, reopened whenever it ends, until `stop` is set."""
    host = "::1" if family == socket.AF_INET6 and source.startswith("fd00") else "127.0.0.1"
    if family == socket.AF_INET6:
        host = "fd00:1::1"
    while not stop.is_set():
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        sock.setblocking(False)
        try:
            sock.bind((source, 0))
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError:
            counts.failures += 1
            sock.close()
            await asyncio.sleep(0.05)
            continue
        counts.opened += 1
        try:
            if kind == "wrong-proof":
                nonce = os.urandom(xp.NONCE_LENGTH)
                writer.write(xp.preamble() + xp.hello([(xp.NONCE_ID, nonce), xp.suites_param([xp.AES_256_GCM])]))
                await writer.drain()
                reply = await read_some(reader, 5)
                if b"try again later" in reply or len(reply) < 40:
                    note_refusal(counts, reply)
                else:
                    writer.write(xp.auth(os.urandom(32)))
                    await writer.drain()
            elif kind == "trickle":
                message = xp.preamble() + xp.hello([(xp.NONCE_ID, os.urandom(32))])
                for byte in message:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    reply = await read_some(reader, 0.5)
                    if reply:
                        note_refusal(counts, reply)
                        break
            # Silent (and the others, after their part): wait for the receiver to end it.
            while not stop.is_set():
                reply = await read_some(reader, 1)
                if reader.at_eof():
                    note_refusal(counts, reply)
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def flood(args, port, key_path, sources, family, sample):
    stop = asyncio.Event()
    counts = Counts()
    kinds = args.kinds.split(",")
    tasks = []
    for index, source in enumerate(sources):
        for copy in range(args.per_source):
            kind = kinds[(index + copy) % len(kinds)]
            tasks.append(asyncio.create_task(attacker(kind, family, source, port, counts, stop)))
    await asyncio.sleep(args.warmup)
    host = "[::1]" if family == socket.AF_INET6 else "127.0.0.1"
    results = []
    for attempt in range(args.sends):
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            args.xfer, "send", "--key", key_path, "--json", "--timeout", "10",
            os.path.join(os.path.dirname(sample), f"legit-{attempt}.bin"), f"{host}:{port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        first = None
        async for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "started" and first is None:
                first = time.monotonic() - started
        stderr = await process.stderr.read()
        status = await process.wait()
        results.append({"status": status, "start_seconds": first, "seconds": time.monotonic() - started,
                        "error": stderr.decode(errors="replace").strip()[-200:] if status else ""})
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xfer", required=True)
    parser.add_argument("--attack", choices=["ipv4", "ipv6"], default="ipv4")
    parser.add_argument("--sends", type=int, default=40)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--per-source", type=int, default=None)
    parser.add_argument("--kinds", default="wrong-proof,silent,trickle",
                        help="the attackers' kinds, dealt out in turn (default: all three)")
    args = parser.parse_args()
    args.xfer = os.path.abspath(args.xfer)
    enter_namespace()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 8192), max(hard, 8192)))
    if args.attack == "ipv4":
        sources = [f"127.0.0.{2 + index}" for index in range(20)]
        family = socket.AF_INET
        args.per_source = args.per_source or 16
    else:
        subprocess.run(["ip", "-6", "addr", "add", "fd00:1::1/128", "dev", "lo"], check=True)
        subprocess.run(["ip", "-6", "route", "add", "local", "fd00:1::/64", "dev", "lo"], check=True)
        sources = [f"fd00:1::{0x1000 + index:x}" for index in range(1000)]
        family = socket.AF_INET6
        args.per_source = args.per_source or 1
    work = tempfile.mkdtemp(prefix="xfer-flood-")
    target = os.path.join(work, "target")
    os.mkdir(target)
    key_path = os.path.join(work, "key")
    subprocess.run([args.xfer, "keygen", key_path], check=True, capture_output=True)
    sample = os.path.join(work, "sample.bin")
    with open(sample, "wb") as file:
        file.write(os.urandom(64 * 1024))
    for index in range(args.sends):
        os.link(sample, os.path.join(work, f"legit-{index}.bin"))
    receiver = subprocess.Popen(
        [args.xfer, "receive", "--listen", "[::]:0", "--dir", target, "--key", key_path, "--quiet"],
        stderr=subprocess.PIPE)
    line = receiver.stderr.readline().decode()
    if "listening on" not in line:
        print(json.dumps({"error": f"receiver did not start: {line!r}"}))
        sys.exit(2)
    port = int(line.rsplit(":", 1)[1])
    try:
        results, counts = asyncio.run(flood(args, port, key_path, sources, family, sample))
    finally:
        receiver.terminate()
        receiver.wait()
    ok = [r for r in results if r["status"] == 0]
    starts = sorted(r["start_seconds"] for r in results if r["start_seconds"] is not None)
    intact = sum(
        1 for index in range(args.sends)
        if os.path.exists(os.path.join(target, f"legit-{index}.bin"))
        and open(os.path.join(target, f"legit-{index}.bin"), "rb").read() == open(sample, "rb").read())
    report = {
        "attack": args.attack, "kinds": args.kinds, "sources": len(sources), "connections_per_source": args.per_source,
        "sends": args.sends, "succeeded": len(ok), "intact_files": intact,
        "started_within_2s": sum(1 for s in starts if s <= 2.0),
        "start_median_s": round(statistics.median(starts), 3) if starts else None,
        "start_min_s": round(starts[0], 3) if starts else None,
        "start_max_s": round(starts[-1], 3) if starts else None,
        "attacker_connections": counts.opened, "attacker_turned_away_busy": counts.busy,
        "refusals_naming_the_block": counts.named_block,
        "failures": [r["error"] for r in results if r["status"]][:5],
        "statuses": sorted({r["status"] for r in results}),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
