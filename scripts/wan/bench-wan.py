#!/usr/bin/env python3
"""xfer over an emulated long fat network, against the path's ceiling and the rsync daemon.

    scripts/bench.sh --wan [--rounds 3] [--size-mib 1024] [--files 10000] [--delay-ms 25]
                           [--loss 0] [--rate-mbit 0] [--connections 8] [--xfer PATH]

Brings up scripts/wan/wan.sh (two network namespaces joined by a TUN delay relay), then runs,
interleaved round by round so that every contender sees the same machine:
  raw TCP, 1 connection      the single-connection ceiling (Linux's tcp_wmem bounds a window)
  raw TCP, N connections     what the path carries (N = --connections)
  xfer, 1 connection         `--streams 1` when this xfer has the option, else plain xfer
  xfer (default)             plain `xfer send`, however many connections it chooses
  disk, write + fdatasync    dd of the same file into the target, synced: the disk's ceiling
  rsync daemon               rsync:// into the other namespace (does not sync)
for one file of --size-mib MiB and for --files files of 4 KiB, and prints medians with
min-max and the ratios the multi-connection work is judged by. Raw TCP times run to an
application-level confirmation from the sink (tcp-ceiling.py), xfer's to its exit 0
(confirmed, durable).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from bench import make_inputs  # noqa: E402  (the loopback benchmark's inputs, the same files)
A, B = "xfer-wan-a", "xfer-wan-b"
A_IP, B_IP = "10.77.0.1", "10.77.0.2"


def in_ns(ns, command):
    return ["ip", "netns", "exec", ns] + command


def wait_for_line(proc, needle, timeout=20):
    deadline = time.monotonic() + timeout
    line = b""
    while needle not in line:
        if time.monotonic() > deadline:
            raise RuntimeError("no %r from %s" % (needle, proc.args))
        line = proc.stderr.readline() if proc.stderr else proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("%s ended before %r" % (proc.args, needle))
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--delay-ms", type=float, default=25)
    ap.add_argument("--loss", type=float, default=0)
    ap.add_argument("--rate-mbit", type=float, default=0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/xfer-bench-wan"))
    ap.add_argument("--xfer", default=os.path.join(ROOT, ".build", "release", "xfer"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench --wan: needs root (network namespaces, /dev/net/tun)")

    work = args.dir
    os.makedirs(work, exist_ok=True)
    big, small = make_inputs(work, args.size_mib, args.files)
    target = os.path.join(work, "target")
    key = os.path.join(work, "wan.key")
    if not os.path.exists(key):
        subprocess.check_call([args.xfer, "keygen", key], stderr=subprocess.DEVNULL)
    has_streams = "--streams" in subprocess.run([args.xfer, "send", "--help"], capture_output=True, text=True).stdout

    wan = [os.path.join(HERE, "wan.sh"), "up", "--delay-ms", str(args.delay_ms), "--loss", str(args.loss),
           "--rate-mbit", str(args.rate_mbit)]
    print(subprocess.check_output(wan, text=True).strip())
    helpers = []
    try:
        sink = subprocess.Popen(in_ns(B, [sys.executable, os.path.join(HERE, "tcp-ceiling.py"), "sink", "5001"]),
                                stdout=subprocess.PIPE, start_new_session=True)
        helpers.append(sink)
        wait_for_line(sink, b"listening")
        rtt = subprocess.check_output(in_ns(A, [sys.executable, os.path.join(HERE, "tcp-ceiling.py"), "rtt", B_IP,
                                                "5001"]), text=True).strip()
        have_rsync = shutil.which("rsync") is not None
        if have_rsync:
            conf = os.path.join(work, "rsyncd.conf")
            with open(conf, "w") as f:
                f.write("port = 8730\naddress = %s\nuse chroot = no\npid file = %s/rsyncd.pid\n"
                        "[bench]\npath = %s\nread only = no\nuid = root\ngid = root\n" % (B_IP, work, target))
            rsync = subprocess.Popen(in_ns(B, ["rsync", "--daemon", "--no-detach", "--config=" + conf]),
                                     start_new_session=True)
            helpers.append(rsync)

        def fresh_target():
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target)
            subprocess.call("sync")

        def raw(mib, count):
            def run():
                start = time.monotonic()
                subprocess.check_call(in_ns(A, [sys.executable, os.path.join(HERE, "tcp-ceiling.py"), "send", B_IP,
                                                "5001", str(mib), str(count)]), stdout=subprocess.DEVNULL)
                return time.monotonic() - start
            return run

        def xfer(paths, extra):
            def run():
                fresh_target()
                # Not --once: that serves one connection and grants no session, and the
                # default sender would use one connection. Stopped once the sender exited.
                receiver = subprocess.Popen(in_ns(B, [args.xfer, "receive", "--listen", B_IP + ":7390", "--dir", target,
                                                      "--quiet", "--key", key]),
                                            stderr=subprocess.PIPE, start_new_session=True)
                try:
                    wait_for_line(receiver, b"listening on")
                    start = time.monotonic()
                    status = subprocess.call(in_ns(A, [args.xfer, "send", "--quiet", "--key", key] + extra + paths
                                                   + [B_IP + ":7390"]))
                    wall = time.monotonic() - start
                finally:
                    if receiver.poll() is None:
                        os.killpg(receiver.pid, signal.SIGTERM)
                    receiver.wait()
                if status != 0:
                    raise RuntimeError("xfer send exited %d; receiver said:\n%s" % (
                        status, receiver.stderr.read().decode(errors="replace")))
                return wall
            return run

        def disk(path):
            # The receiver's disk, written and synced as xfer's commit syncs it: when it is
            # slower than the path, it and not the protocol bounds xfer (raw TCP never writes).
            def run():
                fresh_target()
                start = time.monotonic()
                subprocess.check_call(["dd", "if=" + path, "of=" + os.path.join(target, "dd.bin"), "bs=8M",
                                       "conv=fdatasync", "status=none"])
                return time.monotonic() - start
            return run

        def rsync_case(source):
            def run():
                fresh_target()
                start = time.monotonic()
                subprocess.check_call(in_ns(A, ["rsync", "-a", "--whole-file", source,
                                                "rsync://%s:8730/bench/" % B_IP]))
                return time.monotonic() - start
            return run

        small_dirs = sorted(os.path.join(small, d) for d in os.listdir(small))
        one = ["--streams", "1"] if has_streams else []
        suites = [
            ("%d MiB file" % args.size_mib, [
                ("raw TCP, 1 connection", raw(args.size_mib, 1)),
                ("raw TCP, %d connections" % args.connections, raw(args.size_mib, args.connections)),
                ("xfer, 1 connection", xfer([big], one)),
                ("xfer (default)", xfer([big], [])),
                ("disk, write + fdatasync", disk(big)),
            ] + ([("rsync daemon", rsync_case(big))] if have_rsync else [])),
            ("%d files of 4 KiB" % args.files, [
                ("xfer (default)", xfer(small_dirs, [])),
            ] + ([("rsync daemon", rsync_case(small + "/"))] if have_rsync else [])),
        ]
        print("xfer over an emulated WAN: %s; %d interleaved rounds, medians (min-max); --key on xfer" % (rtt, args.rounds))
        if not has_streams:
            print("(this xfer has no --streams: 'xfer, 1 connection' and 'xfer (default)' run the same command)")
        for title, cases in suites:
            times = {name: [] for name, _ in cases}
            for _ in range(args.rounds):
                for name, run in cases:
                    times[name].append(run())
            print("\n" + title)
            med = {}
            for name, samples in times.items():
                med[name] = statistics.median(samples)
                mb = (args.size_mib << 20) / med[name] / 1e6 if "MiB" in title else None
                print("  %-28s %8.3f s  (%.3f-%.3f)%s" % (name, med[name], min(samples), max(samples),
                                                        "  %7.1f MB/s" % mb if mb else ""))
            if "MiB" in title:
                n = "raw TCP, %d connections" % args.connections
                print("  xfer (default) / xfer, 1 connection   speed %.2fx" % (med["xfer, 1 connection"] / med["xfer (default)"]))
                print("  xfer (default) / %-20s speed %.2fx" % (n, med[n] / med["xfer (default)"]))
                print("  raw TCP N / raw TCP 1 (the path's gain) speed %.2fx" % (med["raw TCP, 1 connection"] / med[n]))
                ceiling = max(med[n], med["disk, write + fdatasync"])
                print("  xfer (default) / max(raw TCP N, disk)   speed %.2fx  (the slower of path and disk)"
                      % (ceiling / med["xfer (default)"]))
            if "rsync daemon" in med:
                print("  xfer (default) / rsync daemon         wall %.2fx" % (med["xfer (default)"] / med["rsync daemon"]))
    finally:
        for proc in helpers:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait()
        print(subprocess.run([os.path.join(HERE, "wan.sh"), "stats"], capture_output=True, text=True).stdout.strip())
        subprocess.call([os.path.join(HERE, "wan.sh"), "down"])


if __name__ == "__main__":
    main()
