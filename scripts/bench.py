#!/usr/bin/env python3
"""Loopback benchmark: xfer against named baselines, measured in the same run.

    scripts/bench.sh [--rounds N] [--size-mib M] [--files N] [--baseline-xfer PATH]

Sends a 1 GiB file and 10,000 files of 4 KiB with xfer (durable, confirmed) and, in the
same run and interleaved round by round, with:
  nc                 plain netcat, file to file (not durable, nothing confirmed)
  nc | dd fsync      netcat into `dd conv=fsync` (durable, nothing confirmed)
  rsync daemon       rsync to a local rsync daemon, if rsync is installed (not durable)
  tar | nc           for the small files
  xfer baseline      another xfer binary (--baseline-xfer, e.g. a release build of the
                     previous commit), to show a change's effect in the same run
Prints median wall time, CPU seconds (both sides), peak RSS of each side, and ratios
xfer/baseline. Wall time runs from starting the sender until both sides have exited.
"""
import argparse
import os
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError("nothing listens on %d" % port)


TIME = "/usr/bin/time -f '%U %S %M' -o {out} "


def timed(command, out):
    """`command` under GNU time, which writes user s, system s and peak RSS (KiB) to `out`.

    Measuring there, not with wait4 from Python, keeps Python's own pages (inherited across
    fork) out of the peak RSS."""
    return TIME.format(out=out) + command


def usage(out):
    user, system, rss = open(out).read().split()[-3:]
    return float(user) + float(system), int(rss)


class Run:
    def __init__(self, wall, cpu, rss_send, rss_recv, ok):
        self.wall, self.cpu, self.rss_send, self.rss_recv, self.ok = wall, cpu, rss_send, rss_recv, ok


def measure(work, receiver_cmd, sender_cmd, ready):
    """Starts the receiver, waits until `ready(proc)` says it listens, runs the sender;
    wall time from starting the sender until both have exited."""
    recv_out, send_out = os.path.join(work, "recv.time"), os.path.join(work, "send.time")
    recv = subprocess.Popen(timed(receiver_cmd, recv_out), shell=True, stderr=subprocess.PIPE, cwd=work)
    ready(recv)
    sender_cmd = sender_cmd.replace("{port}", str(getattr(recv, "port", "")))
    start = time.monotonic()
    send = subprocess.run(timed(sender_cmd, send_out), shell=True, cwd=work)
    recv.wait()
    wall = time.monotonic() - start
    send_cpu, send_rss = usage(send_out)
    recv_cpu, recv_rss = usage(recv_out)
    return Run(wall, send_cpu + recv_cpu, send_rss, recv_rss, send.returncode == 0 and recv.returncode == 0)


def xfer_ready(proc):
    line = b""
    while b"listening on" not in line:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("receiver did not start")
    proc.port = int(line.rsplit(b":", 1)[1])


def make_inputs(work, size_mib, files):
    """The inputs in `work`, made once and kept between runs: `big.bin` (`size_mib` MiB of
    random bytes) and `small/dNN/fNNNNN` (`files` files of 4 KiB, 1,000 per directory).
    Returns their paths."""
    big = os.path.join(work, "big.bin")
    if not os.path.exists(big) or os.path.getsize(big) != size_mib << 20:
        subprocess.check_call("head -c %d /dev/urandom > %s" % (size_mib << 20, big), shell=True)
    small = os.path.join(work, "small")
    if not os.path.isdir(small) or sum(len(names) for _, _, names in os.walk(small)) != files:
        shutil.rmtree(small, ignore_errors=True)
        for i in range(files):
            d = os.path.join(small, "d%02d" % (i // 1000))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%05d" % i), "wb") as f:
                f.write(os.urandom(4096))
    return big, small


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/xfer-bench"))
    ap.add_argument("--baseline-xfer", help="another xfer binary to measure in the same run")
    ap.add_argument("--connections", type=int, default=100, help="connections in the handshake suite")
    args = ap.parse_args()
    xfer = os.path.join(ROOT, ".build", "release", "xfer")
    work = args.dir
    os.makedirs(work, exist_ok=True)
    big, small = make_inputs(work, args.size_mib, args.files)
    target = os.path.join(work, "target")
    have_rsync = shutil.which("rsync") is not None
    rsync_port = free_port()
    rsync_proc = None
    if have_rsync:
        conf = os.path.join(work, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write("port = %d\naddress = 127.0.0.1\nuse chroot = no\npid file = %s/rsyncd.pid\n"
                    "[bench]\npath = %s\nread only = no\nuid = root\ngid = root\n" % (rsync_port, work, target))
        rsync_proc = subprocess.Popen(["rsync", "--daemon", "--no-detach", "--config=" + conf])
        wait_for_port(rsync_port)

    trash = os.path.join(work, "trash")
    shutil.rmtree(trash, ignore_errors=True)
    os.makedirs(trash)
    aside = {"keep": False, "count": 0}

    def fresh_target():
        """An empty target for the next run, the same for every contender.

        In the many-files suite the last run's output is moved aside, not deleted, until
        the suite ends. On an ext4 without a journal (as on this VM), the inode allocator
        skips each inode freed in the last 60 s or more (recently_deleted() in
        fs/ext4/ialloc.c, which reads the inode table for every candidate): perf showed
        that scan take 70-80 % of the receiver's CPU for 10,000 files created right after
        10,000 were deleted, whichever contender ran, and it swung from run to run by the
        deletions before (2-6x). Deleting large files is harmless: few inodes."""
        if os.path.exists(target):
            if aside["keep"]:
                aside["count"] += 1
                os.rename(target, os.path.join(trash, str(aside["count"])))
            else:
                shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        subprocess.call("sync")  # earlier runs' dirty pages must not slow this one

    def nc_port_ready(port):
        return lambda proc: wait_for_port_nc(proc, port)

    def wait_for_port_nc(proc, port):
        # netcat -l has no readiness line on all builds; poll the listening socket state.
        deadline = time.time() + 10
        while time.time() < deadline:
            out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True, text=True).stdout
            if out.strip():
                return
            time.sleep(0.005)
        raise RuntimeError("nc did not listen")

    key = os.path.join(work, "bench.key")
    if not os.path.exists(key):
        subprocess.check_call([xfer, "keygen", key], stderr=subprocess.DEVNULL)

    def xfer_case(paths, binary=xfer, keyed=False):
        option = " --key %s" % key if keyed else ""
        def run():
            fresh_target()
            return measure(work, "%s receive --listen 127.0.0.1:0 --dir %s --once --quiet%s" % (binary, target, option),
                           "%s send --quiet%s %s 127.0.0.1:{port}" % (binary, option, " ".join(paths)), xfer_ready)
        return run

    def handshakes(count, keyed):
        """`count` sends of a 1-byte file, one connection each, to one receiver: wall time."""
        tiny = os.path.join(work, "tiny.bin")
        with open(tiny, "wb") as f:
            f.write(b"x")
        option = " --key %s" % key if keyed else ""
        def run():
            fresh_target()
            recv_out = os.path.join(work, "recv.time")
            # A session of its own: stopping it stops the receiver, not only the time(1) wrapper
            # (which would leave the receiver running, holding this script's output open).
            recv = subprocess.Popen(timed("%s receive --listen 127.0.0.1:0 --dir %s --quiet%s" % (xfer, target, option),
                                          recv_out), shell=True, stderr=subprocess.PIPE, cwd=work,
                                    start_new_session=True)
            xfer_ready(recv)
            start = time.monotonic()
            ok = True
            for _ in range(count):
                # --no-resume: a fresh ID each time, so every connection does the whole exchange.
                ok &= subprocess.call([xfer, "send", "--quiet", "--no-resume"] + option.split() + [tiny,
                                      "127.0.0.1:%d" % recv.port]) == 0
            wall = time.monotonic() - start
            os.killpg(recv.pid, signal.SIGTERM)
            recv.wait()
            return Run(wall, 0, 0, 0, ok)
        return run

    def baseline(paths):
        if not args.baseline_xfer:
            return []
        return [("xfer baseline (durable)", xfer_case(paths, os.path.abspath(args.baseline_xfer)))]

    def shell_case(recv_tmpl, send_tmpl):
        def run():
            fresh_target()
            port = free_port()
            return measure(work, "sh -c '%s'" % recv_tmpl.format(port=port, target=target),
                           "sh -c '%s'" % send_tmpl.format(port=port, target=target), nc_port_ready(port))
        return run

    def rsync_case(source):
        def run():
            fresh_target()
            out = os.path.join(work, "send.time")
            start = time.monotonic()
            send = subprocess.run(timed("rsync -a %s rsync://127.0.0.1:%d/bench/" % (source, rsync_port), out),
                                  shell=True, cwd=work)
            wall = time.monotonic() - start
            cpu, rss = usage(out)
            # The daemon forks a child per connection: its side is not measured here.
            return Run(wall, cpu, rss, 0, send.returncode == 0)
        return run

    suites = [
        ("1 GiB file" if args.size_mib == 1024 else "%d MiB file" % args.size_mib, [
            ("xfer (durable, confirmed)", xfer_case([big])),
            ("nc (not durable)", shell_case("nc -l 127.0.0.1 {port} > {target}/big.bin", "nc -N 127.0.0.1 {port} < big.bin")),
            ("nc | dd conv=fsync (durable)", shell_case(
                "nc -l 127.0.0.1 {port} | dd of={target}/big.bin bs=1M conv=fsync status=none",
                "nc -N 127.0.0.1 {port} < big.bin")),
        ] + ([("rsync daemon (not durable)", rsync_case("big.bin"))] if have_rsync else []) + baseline([big])
          + [("xfer --key (authenticated)", xfer_case([big], keyed=True))]),
        ("%d files of 4 KiB" % args.files, [
            ("xfer (durable, confirmed)", xfer_case([small])),
            ("tar | nc (not durable)", shell_case("nc -l 127.0.0.1 {port} | tar -C {target} -xf -",
                                                  "tar -cf - small | nc -N 127.0.0.1 {port}")),
        ] + ([("rsync daemon (not durable)", rsync_case("small"))] if have_rsync else []) + baseline([small])
          + [("xfer --key (authenticated)", xfer_case([small], keyed=True))]),
    ]
    suites.append(("%d connections, one 1-byte file each (handshake cost)" % args.connections, [
        ("xfer, no key", handshakes(args.connections, False)),
        ("xfer --key (authenticated)", handshakes(args.connections, True)),
    ]))
    print("xfer loopback benchmark: %d interleaved rounds, medians; machine: %d cores" % (args.rounds, os.cpu_count()))
    for title, cases in suites:
        results = {name: [] for name, _ in cases}
        aside["keep"] = "files of" in title
        for _ in range(args.rounds):
            for name, run in cases:
                r = run()
                if not r.ok:
                    print("  %s: FAILED run" % name)
                results[name].append(r)
        aside["keep"] = False
        shutil.rmtree(trash, ignore_errors=True)  # outside any timing
        os.makedirs(trash)
        print("\n%s" % title)
        print("  %-30s %9s %15s %9s %11s %11s" % ("", "wall s", "(min-max)", "CPU s", "RSS send", "RSS recv"))
        med = {}
        for name, runs in results.items():
            wall = statistics.median(r.wall for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            med[name] = (wall, cpu)
            span = "(%.3f-%.3f)" % (min(r.wall for r in runs), max(r.wall for r in runs))
            print("  %-30s %9.3f %15s %9.3f %8.1f MiB %8.1f MiB" % (
                name, wall, span, cpu, max(r.rss_send for r in runs) / 1024, max(r.rss_recv for r in runs) / 1024))
        handshake = title.startswith("%d connections" % args.connections)
        if handshake:
            print("  (handshakes: wall time only; CPU and RSS are not measured)")
            for name, (wall, _) in med.items():
                print("  %-30s %.0f connections/s" % (name, args.connections / wall))
        elif have_rsync:
            print("  (rsync: the daemon's side is not in CPU or RSS)")
        xw, xc = med[cases[0][0]]
        for name, (wall, cpu) in list(med.items())[1:]:
            cpu_ratio = "   CPU %.2fx" % (xc / cpu) if cpu else ""
            print("  xfer / %-28s wall %.2fx%s" % (name, xw / wall, cpu_ratio))
        keyed = "xfer --key (authenticated)"
        if keyed in med and not handshake:
            # What the sealed record layer costs: the keyed run over the plain one (goal <= 1.35x
            # for one large file, <= 1.2x for many small ones).
            kw, kc = med[keyed]
            print("  %-35s wall %.2fx   CPU %.2fx" % ("xfer --key / xfer (the seal's cost)", kw / xw, kc / xc if xc else 0))
    if rsync_proc:
        rsync_proc.terminate()
        rsync_proc.wait()
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
