#!/usr/bin/env python3
"""Resource figures of `xfer receive` under hostile and heavy load, on 127.0.0.1.

Every figure comes from real `xfer receive` and `xfer send` processes (readiness: the
"xfer: listening on HOST:PORT" line on stderr); receiver figures from /proc/PID/status
(VmRSS sampled every 50 ms, its peak; VmHWM; Threads) and /proc/PID/fd. Numbers are the
median of the rounds made, with min-max; exit statuses are listed with their counts.

0. Start-up: `xfer receive` on an empty directory, time to "listening on", idle figures;
   and SIGTERM sent the moment "listening on" is read (30 tries; README and --help
   promise a clean stop and exit 0).
1. Silent connections (5 rounds): 5,000 clients connect and send nothing, each bound to
   a source address of its own (127.0.0.2, 127.0.0.3, ..., 127.0.19.194: all of 127/8
   is loopback on Linux), so the per-address limit (--max-per-address, default 16) never
   applies; the receiver has its defaults but --handshake-timeout 3. Connects go in
   waves of 64, each when the receiver's listen queue (128) has room for it, so no SYN
   is dropped (the kernel's ListenOverflows count is reported). The 128 handshake slots
   (not settable on the command line) take the first connections and the accepting
   thread turns the rest away: a client counts as turned away when the receiver's
   preamble and fatal ERROR `busy` arrived, as served when nothing did (or only the end
   of stream after the timeout); the receiver's own log lines are counted beside.
   Figures while the 5,000 are connected and again after the handshake timeout; a
   legitimate `xfer send` of a small file as soon as they are connected (exit status,
   seconds), then retried every 0.25 s until it exits 0 (attempts, seconds); and one
   more after the timeout.
2. Trickling peers (3 rounds): 64 clients, each from its own address, send the preamble
   and then a HELLO one byte every 0.5 s (64 bytes: it cannot finish within the default
   10 s handshake timeout, which this receiver keeps); a legitimate `xfer send` 2 s into
   the trickle (exit status, seconds); receiver figures during the trickle; when the
   receiver dropped the tricklers (seconds after they connected) and how.
3. Many commits (once): 80,000 files of 16 bytes in 80 directories x 1000, sent with one
   `xfer send --quiet DIR 127.0.0.1:PORT` to a receiver (--quiet) (seconds); its VmRSS and
   VmHWM after; the size of DIR/.xfer/commits (du -sb), its buckets and lines; then
   SIGTERM, and 5 restarts on the same --dir (time from starting `xfer receive` to
   "listening on", VmRSS right after); then the same directory sent again with --json
   (seconds), counting `confirmed` events with already_committed true and reading the
   `done` event.

4. Handshake memory (once): `xfer receive --key`; 256 connections (two per address) send
   a HELLO and stay in their handshake, then 256 send a header declaring a 1 MiB HELLO
   and 64 KiB of it: VmRSS before, at the peak, per connection, and after.
5. Long names (once): four connections one after another, each pipelining 5,000 empty
   files with 4 KiB names: VmRSS at each burst's peak and idle after it.

A table of every figure is printed at the end. Every process started is stopped and
every temporary directory (xfer-figures-* under $TMPDIR or /tmp) removed on exit, also
on failure, Ctrl-C or SIGTERM. The script raises its own RLIMIT_NOFILE for the client
sockets (beyond the hard limit only as root).

Run from anywhere, after `swift build -c release --product xfer` (2-3 minutes on 2 cores):

    scripts/resource-figures.py
    scripts/resource-figures.py --rounds 1 --files 8000        # a quick look
    scripts/resource-figures.py --only 3 --xfer /path/to/xfer  # one part, another binary

Linux only (/proc); Python 3 standard library only.
"""

import argparse
import collections
import errno
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROCESSES = []  # every Popen started, stopped in cleanup()
TEMPORARY = []  # every temporary directory made, removed in cleanup()


def log(message):
    print(f"# {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- processes

def proc_figures(pid):
    """VmRSS and VmHWM in KiB, threads and open descriptors of a running process."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0])
            elif key == "Threads":
                figures[key] = int(value)
    figures["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return figures


class Sampler:
    """Samples a process every `interval` seconds in a thread; `window()` gives the peaks
    since the last call (VmRSS, fds, Threads) and the VmHWM at the end."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.lock = threading.Lock()
        self.peak = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self):
        try:
            figures = proc_figures(self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return None
        with self.lock:
            for key, value in figures.items():
                self.peak[key] = max(self.peak.get(key, 0), value)
        return figures

    def window(self):
        last = self.sample() or {}
        with self.lock:
            peak, self.peak = self.peak, {}
        peak["VmHWM"] = last.get("VmHWM", peak.get("VmHWM", 0))
        return peak

    def stop(self):
        self.stopped.set()
        self.thread.join()


class Receiver:
    """A running `xfer receive --listen 127.0.0.1:0`, its stderr read by a thread."""

    def __init__(self, xfer, directory, *extra):
        self.lines = collections.deque(maxlen=40)
        self.turned_away = 0
        self.handshake_drops = 0
        self.counts_lock = threading.Lock()
        self.ready = threading.Event()
        self.port = None
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [xfer, "receive", "--listen", "127.0.0.1:0", "--dir", directory, *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        PROCESSES.append(self.proc)
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        if not self.ready.wait(60):
            raise RuntimeError(f"xfer receive did not say 'listening on' in 60 s: {list(self.lines)}")
        if self.port is None:
            raise RuntimeError(f"xfer receive exited {self.proc.poll()}: {list(self.lines)}")
        self.startup = self.ready_at - started
        self.pid = self.proc.pid

    def read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.port is None and "listening on " in line:
                self.ready_at = time.monotonic()
                self.port = int(line.rsplit(":", 1)[1])
                self.ready.set()
                continue
            self.lines.append(line)
            with self.counts_lock:
                if "turned away:" in line:
                    self.turned_away += 1
                elif "dropped: no complete handshake" in line:
                    self.handshake_drops += 1
        self.ready.set()  # exited before listening

    def counts(self):
        with self.counts_lock:
            return self.turned_away, self.handshake_drops

    def stop(self):
        """SIGTERM; returns the exit status (killed after 20 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                log(f"receiver {self.pid} ignored SIGTERM for 20 s; killing it")
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        return self.proc.returncode


def run_send(xfer, *arguments, timeout=300):
    """Runs `xfer send ARGUMENTS`; returns (exit status, seconds, stdout, stderr)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [xfer, "send", *arguments], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    PROCESSES.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, time.monotonic() - started, out.decode(errors="replace"), "timed out: " + err.decode(errors="replace")
    return proc.returncode, time.monotonic() - started, out.decode(errors="replace"), err.decode(errors="replace")


def make_temporary(label):
    path = tempfile.mkdtemp(prefix=f"xfer-figures-{label}-")
    TEMPORARY.append(path)
    return path


def remove_temporary(path):
    shutil.rmtree(path, ignore_errors=True)
    if path in TEMPORARY:
        TEMPORARY.remove(path)


def cleanup():
    for proc in PROCESSES:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                log(f"process {proc.pid} did not die")
    for path in list(TEMPORARY):
        remove_temporary(path)


# ---------------------------------------------------------------------------- clients

def source_address(index):
    """The index-th client address: 127.0.0.2, 127.0.0.3, ..., 127.0.0.254, 127.0.1.2, ..."""
    high, low = divmod(index, 253)
    return f"127.{high // 256}.{high % 256}.{low + 2}"


def listen_overflows():
    """The kernel's count of connections dropped because a listen queue was full."""
    with open("/proc/net/netstat") as netstat:
        lines = netstat.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table.get("ListenOverflows", 0))
    return 0


def accept_queue(port):
    """Connections waiting in the listen queue of 127.0.0.1:PORT (its rx_queue in
    /proc/net/tcp; listening sockets are listed first)."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[3] != "0A":
                break
            if fields[1] == f"0100007F:{port:04X}":
                return int(fields[4].split(":")[1], 16)
    return 0


def open_silent(port, count, first_address, wave=64, backlog=128, deadline_seconds=60):
    """Connects `count` sockets, each from its own address, in waves of `wave` non-blocking
    connects; before each wave it waits (at most 1 s) until the receiver's listen queue
    has room for the wave, so that no SYN is dropped and retransmitted a second later.
    Returns (connected sockets, failures)."""
    connected, failures = [], collections.Counter()
    deadline = time.monotonic() + deadline_seconds
    for start in range(0, count, wave):
        settle = time.monotonic() + 1
        while accept_queue(port) > backlog - wave and time.monotonic() < settle:
            time.sleep(0.002)
        pending = {}
        for index in range(start, min(start + wave, count)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((source_address(first_address + index), 0))
                sock.setblocking(False)
                code = sock.connect_ex(("127.0.0.1", port))
            except OSError as error:
                failures[errno.errorcode.get(error.errno, str(error.errno))] += 1
                sock.close()
                continue
            if code in (0, errno.EINPROGRESS):
                pending[sock.fileno()] = sock
            else:
                failures[errno.errorcode.get(code, str(code))] += 1
                sock.close()
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        while pending and time.monotonic() < deadline:
            for fd, _ in poller.poll(1000):
                sock = pending.pop(fd)
                poller.unregister(fd)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code == 0:
                    connected.append(sock)
                else:
                    failures[errno.errorcode.get(code, str(code))] += 1
                    sock.close()
        for sock in pending.values():
            failures["connect timeout"] += 1
            sock.close()
    return connected, failures


def classify(sockets):
    """Per socket, without blocking: 'turned_away' (the receiver's preamble arrived),
    'closed' (end of stream, nothing else), 'silent' (nothing yet), 'reset' or other."""
    kinds = collections.Counter()
    for sock in sockets:
        try:
            data = sock.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            kinds["silent"] += 1
            continue
        except ConnectionResetError:
            kinds["reset"] += 1
            continue
        except OSError as error:
            kinds[errno.errorcode.get(error.errno, "error")] += 1
            continue
        if not data:
            kinds["closed"] += 1
        elif data.startswith(b"XFER"):
            kinds["turned_away" if b"busy" in data or b"too many" in data else "greeted"] += 1
        else:
            kinds["other data"] += 1
    return kinds


def close_all(sockets):
    for sock in sockets:
        sock.close()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def trickle_bytes():
    """The preamble and a HELLO with a 40-byte agent parameter (SPEC.md §3, §6.1): 64
    bytes, 32 s at one byte every 0.5 s."""
    agent = b"resource-figures trickling peer/1.0 ...."
    payload = (1).to_bytes(2, "big") + (1).to_bytes(2, "big") + len(agent).to_bytes(2, "big") + agent
    head = bytes([0x01, 0x00]) + len(payload).to_bytes(4, "big")
    return b"XFER\x00\x01\x00\x00" + head + crc32c(payload, crc32c(head)).to_bytes(4, "big") + payload


# ---------------------------------------------------------------------------- figures

class Figures:
    """Named lists of per-round values: numbers summarised as median (min-max, rounds),
    text (exit statuses, messages) as each distinct value with how often it came."""

    def __init__(self):
        self.values = collections.OrderedDict()
        self.units = {}

    def add(self, name, value, unit=""):
        self.values.setdefault(name, []).append(value)
        self.units[name] = unit

    def status(self, name, code):
        if code is None:
            text = "none (timed out)"
        elif isinstance(code, int) and code < 0:
            text = f"{code} (killed by {signal.Signals(-code).name})"
        else:
            text = str(code)
        self.add(name, text)

    def text(self, name):
        values = self.values[name]
        unit = self.units[name]
        if any(isinstance(v, str) for v in values):
            counts = collections.Counter(str(v) for v in values)
            if len(values) == 1:
                return str(values[0])
            return ", ".join(f"{value} x{count}" for value, count in counts.items())
        numbers = [v for v in values if v is not None]
        if not numbers:
            return "n/a"

        def show(v):
            if unit == "s":
                return f"{v:.3f}"
            if unit == "MiB":
                return f"{v:.1f}"
            return f"{v:g}" if isinstance(v, float) else f"{v}"

        text = show(statistics.median(numbers)) + (f" {unit}" if unit else "")
        if len(numbers) > 1:
            text += f" ({show(min(numbers))}-{show(max(numbers))}, {len(numbers)} rounds)"
        return text

    def table(self):
        names = sorted(self.values, key=lambda name: name.split()[0])  # by part, stable
        width = max(len(name) for name in names)
        return "\n".join(f"{name.ljust(width)}  {self.text(name)}" for name in names)


def add_process(figures, prefix, window):
    figures.add(f"{prefix}: VmRSS peak", window.get("VmRSS", 0) / 1024, "MiB")
    figures.add(f"{prefix}: VmHWM", window.get("VmHWM", 0) / 1024, "MiB")
    figures.add(f"{prefix}: open fds peak", window.get("fds", 0))
    figures.add(f"{prefix}: threads peak", window.get("Threads", 0))


def small_file(directory):
    path = os.path.join(directory, "legit.txt")
    with open(path, "wb") as out:
        out.write(b"a legitimate sender's small file\n" * 32)
    return path


def last_line(text):
    """The sender's first error line (its reason), else its last line."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reasons = [line for line in lines if "not confirmed" not in line]
    return (reasons or lines or ["(nothing on stderr)"])[0]


def legit_send(args, figures, label, legit, port):
    status, seconds, _, err = run_send(args.xfer, "--timeout", "30", legit, f"127.0.0.1:{port}")
    figures.status(f"{label}: exit", status)
    figures.add(f"{label}: seconds", seconds, "s")
    if status != 0:
        figures.add(f"{label}: message", last_line(err))
    return status, seconds


def silent_round(args, figures, number):
    work = make_temporary("silent")
    inbox = os.path.join(work, "inbox")
    os.mkdir(inbox)
    legit = small_file(work)
    timeout = args.handshake_timeout
    receiver = Receiver(args.xfer, inbox, "--handshake-timeout", f"{timeout:g}")
    sockets = []
    try:
        figures.add("0 receiver start to listening (empty dir)", receiver.startup, "s")
        idle = proc_figures(receiver.pid)
        figures.add("0 idle receiver VmRSS", idle["VmRSS"] / 1024, "MiB")
        figures.add("0 idle receiver open fds", idle["fds"])
        figures.add("0 idle receiver threads", idle["Threads"])
        sampler = Sampler(receiver.pid)
        overflows = listen_overflows()
        began = time.monotonic()
        sockets, failures = open_silent(receiver.port, args.connections, first_address=0)
        connected_at = time.monotonic()
        figures.add("1 connect phase", connected_at - began, "s")
        figures.add("1 clients connected", len(sockets))
        figures.add("1 listen queue overflows (kernel)", listen_overflows() - overflows)
        if failures:
            figures.add("1 client connect failures", ", ".join(f"{k} {v}" for k, v in failures.items()))
        # A legitimate sender while the silent ones are connected, then again every 0.25 s
        # until one is served.
        status, seconds = legit_send(args, figures, "1 legit send while connected", legit, receiver.port)
        attempts = 1
        while status != 0 and time.monotonic() < connected_at + timeout + 5:
            time.sleep(0.25)
            attempts += 1
            status, _, _, _ = run_send(args.xfer, "--timeout", "30", legit, f"127.0.0.1:{receiver.port}")
        figures.add("1 legit send: attempts (0.25 s apart) until exit 0", attempts)
        figures.add("1 legit send: first exit 0 after flood connected", time.monotonic() - connected_at, "s")
        kinds = classify(sockets)
        during = sampler.window()
        add_process(figures, "1 while connected", during)
        away, drops = receiver.counts()
        figures.add("1 turned away (client saw busy ERROR)", kinds.get("turned_away", 0))
        figures.add("1 served (client got no answer, or only a close)", kinds.get("silent", 0) + kinds.get("closed", 0))
        other = {k: v for k, v in kinds.items() if k not in ("turned_away", "silent", "closed")}
        if other:
            figures.add("1 clients other (client view)", ", ".join(f"{k} {v}" for k, v in sorted(other.items())))
        figures.add("1 turned away (receiver log, incl. refused legit sends)", away)
        log(f"round {number}: {len(sockets)} connected in {connected_at - began:.2f} s; client view {dict(kinds)}; "
            f"receiver log: {away} turned away, {drops} handshake drops so far; "
            f"legit send exit 0 after {attempts} attempt(s)")
        # Past the handshake timeout (and the 1 s the receiver drains each dropped one).
        served = kinds.get("silent", 0) + kinds.get("closed", 0)
        wait_until = time.monotonic() + timeout + 5
        while time.monotonic() < wait_until:
            if receiver.counts()[1] >= served and classify(sockets).get("silent", 0) == 0:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # the last drains end, their threads exit
        sampler.window()  # discard the transition
        time.sleep(1.0)
        add_process(figures, "1 after handshake timeout", sampler.window())
        kinds_after = classify(sockets)
        figures.add("1 dropped by handshake timeout (receiver log)", receiver.counts()[1])
        figures.add("1 clients still unanswered after timeout", kinds_after.get("silent", 0))
        legit_send(args, figures, "1 legit send after timeout", legit, receiver.port)
        sampler.stop()
    finally:
        close_all(sockets)
        code = receiver.stop()
        figures.status("0 receiver exit on SIGTERM (phases 1-2)", code)
        remove_temporary(work)


def trickle_round(args, figures, number):
    work = make_temporary("trickle")
    inbox = os.path.join(work, "inbox")
    os.mkdir(inbox)
    legit = small_file(work)
    receiver = Receiver(args.xfer, inbox)  # default --handshake-timeout 10
    payload = trickle_bytes()
    sockets = []
    try:
        sampler = Sampler(receiver.pid)
        # Addresses 127.0.100.2...: apart from the silent clients' ones.
        sockets, failures = open_silent(receiver.port, args.tricklers, first_address=253 * 100)
        connected_at = time.monotonic()
        if failures or len(sockets) != args.tricklers:
            raise RuntimeError(f"only {len(sockets)} trickling peers connected: {dict(failures)}")
        by_fd = {sock.fileno(): sock for sock in sockets}
        received = collections.Counter()
        ended = {}  # fd -> (seconds after connecting, how)
        stop = threading.Event()

        def trickle():
            poller = select.poll()
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            offset, tick = 0, time.monotonic()
            while not stop.is_set() and len(ended) < len(by_fd):
                if time.monotonic() >= tick:
                    for fd, sock in by_fd.items():
                        if fd not in ended and offset < len(payload):
                            try:
                                sock.send(payload[offset:offset + 1], socket.MSG_DONTWAIT)
                            except OSError as error:
                                ended[fd] = (time.monotonic() - connected_at, f"send {error.strerror}")
                                poller.unregister(fd)
                    offset += 1
                    tick += 0.5
                for fd, _ in poller.poll(max(0, int((tick - time.monotonic()) * 1000))):
                    if fd in ended:
                        continue
                    try:
                        data = by_fd[fd].recv(4096)
                    except OSError as error:
                        data, how = None, error.strerror
                    if data:
                        received[fd] += len(data)
                        if received[fd] > 8:  # more than the receiver's preamble: its ERROR
                            ended[fd] = (time.monotonic() - connected_at, "fatal ERROR")
                            poller.unregister(fd)
                        continue
                    ended[fd] = (time.monotonic() - connected_at, how if data is None else "closed")
                    poller.unregister(fd)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        time.sleep(2.0)
        sampler.window()
        legit_send(args, figures, "2 legit send during trickle", legit, receiver.port)
        time.sleep(max(0.0, connected_at + 8.0 - time.monotonic()))
        add_process(figures, "2 during trickle", sampler.window())
        trickler.join(30)
        stop.set()
        trickler.join()
        times = sorted(t for t, _ in ended.values())
        hows = collections.Counter(how for _, how in ended.values())
        figures.add("2 trickle bytes sent per peer before the drop", statistics.median(
            [min(len(payload), int(t / 0.5) + 1) for t in times]) if times else 0)
        figures.add("2 tricklers dropped", len(times))
        figures.add("2 how they were dropped", ", ".join(f"{k} {v}" for k, v in hows.items()))
        if times:
            figures.add("2 trickler dropped after connecting (first)", times[0], "s")
            figures.add("2 trickler dropped after connecting (last)", times[-1], "s")
        figures.add("2 dropped by handshake timeout (receiver log)", receiver.counts()[1])
        log(f"round {number}: {len(times)} tricklers dropped {times[0] if times else 0:.2f}-"
            f"{times[-1] if times else 0:.2f} s after connecting ({dict(hows)})")
        sampler.stop()
    finally:
        close_all(sockets)
        code = receiver.stop()
        figures.status("0 receiver exit on SIGTERM (phases 1-2)", code)
        remove_temporary(work)


def sigterm_race(args, figures, tries=30):
    """SIGTERM sent the moment the "listening on" line is read (as a supervisor that waits
    for readiness and then stops the receiver would): README and --help promise a clean
    stop and exit 0."""
    work = make_temporary("sigterm")
    try:
        for _ in range(tries):
            proc = subprocess.Popen(
                [args.xfer, "receive", "--listen", "127.0.0.1:0", "--dir", work],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            PROCESSES.append(proc)
            line = proc.stderr.readline()
            if b"listening on" in line:
                proc.send_signal(signal.SIGTERM)
            else:
                proc.kill()
            proc.stderr.read()
            try:
                code = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = f"hung, killed ({proc.wait()})"
            proc.stderr.close()
            figures.status(f"0 exit on SIGTERM sent at once on 'listening on' ({tries} tries)", code)
    finally:
        remove_temporary(work)


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def commits_phase(args, figures):
    work = make_temporary("commits")
    source = os.path.join(work, "src")
    inbox = os.path.join(work, "inbox")
    os.mkdir(inbox)
    directories = 80
    per_directory = -(-args.files // directories)
    made = 0
    started = time.monotonic()
    for d in range(directories):
        os.makedirs(os.path.join(source, f"d{d:03d}"))
        for f in range(per_directory):
            if made == args.files:
                break
            with open(os.path.join(source, f"d{d:03d}", f"f{f:04d}"), "wb") as out:
                out.write(f"{d:03d}/{f:04d} 16 B\n".encode().ljust(16, b".")[:16])
            made += 1
    log(f"made {made} files of 16 bytes in {time.monotonic() - started:.1f} s")
    figures.add("3 files sent (16 bytes each, 80 dirs)", made)
    receiver = Receiver(args.xfer, inbox, "--quiet")
    try:
        figures.add("3 receiver start to listening (empty dir)", receiver.startup, "s")
        sampler = Sampler(receiver.pid, interval=0.2)
        status, seconds, _, err = run_send(args.xfer, "--quiet", source, f"127.0.0.1:{receiver.port}", timeout=900)
        window = sampler.window()
        sampler.stop()
        figures.status("3 first send: exit", status)
        figures.add("3 first send: seconds", seconds, "s")
        figures.add("3 first send: files/s", round(made / seconds) if seconds else None)
        if status != 0:
            figures.add("3 first send: message", last_line(err))
        figures.add("3 receiver after first send: VmRSS", proc_figures(receiver.pid)["VmRSS"] / 1024, "MiB")
        figures.add("3 receiver after first send: VmHWM", window["VmHWM"] / 1024, "MiB")
        figures.add("3 receiver during first send: open fds peak", window.get("fds", 0))
        figures.add("3 receiver during first send: threads peak", window.get("Threads", 0))
        commits = os.path.join(inbox, ".xfer", "commits")
        figures.add("3 .xfer/commits du -sb (bytes)", du_bytes(commits))
        buckets = [name for name in os.listdir(commits) if name.endswith(".log")]
        figures.add("3 .xfer/commits bucket files", len(buckets))
        lines = 0
        for name in buckets:
            with open(os.path.join(commits, name), "rb") as bucket:
                lines += bucket.read().count(b"\n")
        figures.add("3 .xfer/commits lines", lines)
        received = sum(len(files) for path, dirs, files in os.walk(inbox) if not
                       os.path.relpath(path, inbox).split(os.sep)[0] == ".xfer")
        figures.add("3 files in the receiver's directory", received)
        log(f"first send: exit {status} in {seconds:.1f} s; {lines} journal lines in {len(buckets)} buckets")
        figures.status("3 receiver exit on SIGTERM after serving", receiver.stop())
        for round_number in range(args.restarts):
            receiver = Receiver(args.xfer, inbox, "--quiet")
            figures.add(f"3 restart to listening ({lines} commits)", receiver.startup, "s")
            figures.add("3 restarted receiver: VmRSS right after start", proc_figures(receiver.pid)["VmRSS"] / 1024, "MiB")
            if round_number < args.restarts - 1:
                # SIGTERM right after "listening on", as a supervisor might.
                figures.status("3 receiver exit on SIGTERM right after 'listening on'", receiver.stop())
        sampler = Sampler(receiver.pid, interval=0.2)
        status, seconds, out, err = run_send(args.xfer, "--json", source, f"127.0.0.1:{receiver.port}", timeout=900)
        window = sampler.window()
        sampler.stop()
        events = []
        for line in out.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        confirmed = [e for e in events if e.get("event") == "confirmed"]
        already = sum(1 for e in confirmed if e.get("already_committed") is True)
        done = next((e for e in reversed(events) if e.get("event") == "done"), {})
        figures.status("3 second send (--json): exit", status)
        figures.add("3 second send: seconds", seconds, "s")
        figures.add("3 second send: confirmed events", len(confirmed))
        figures.add("3 second send: of them already_committed true", already)
        figures.add("3 second send: done.already_committed", done.get("already_committed"))
        figures.add("3 second send: done.sent_files", done.get("sent_files"))
        figures.add("3 second send: done.sent (bytes written)", done.get("sent"))
        figures.add("3 receiver after second send: VmHWM", window["VmHWM"] / 1024, "MiB")
        if status != 0:
            figures.add("3 second send: message", last_line(err))
        log(f"second send: exit {status} in {seconds:.1f} s; {already} of {len(confirmed)} already committed")
    finally:
        code = receiver.stop()
        figures.status("3 receiver exit on SIGTERM after serving", code)
        remove_temporary(work)


def rss_kib(pid):
    return proc_figures(pid)["VmRSS"]


def settle_rss(pid, seconds=2.0):
    """The receiver's VmRSS once it stops falling (freed memory returned), in KiB."""
    last = rss_kib(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = rss_kib(pid)
        if now >= last:
            return now
        last = now
    return last


def handshake_memory_phase(args, figures):
    """4: what unauthenticated peers cost. `xfer receive --key`; 256 connections from
    addresses of their own (two per address, under every limit but the handshake table)
    each send the preamble and a HELLO and then stay in the handshake (they never prove
    the key); then 256 more that send a record header declaring a 1 MiB payload and 64 KiB
    of it. VmRSS before, at the peak, and after they are dropped."""
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import xferproto as xp
    work = make_temporary("handshakes")
    key = os.path.join(work, "key")
    subprocess.run([args.xfer, "keygen", key], check=True, capture_output=True)
    os.mkdir(os.path.join(work, "target"))
    receiver = Receiver(args.xfer, os.path.join(work, "target"), "--key", key, "--quiet", "--handshake-timeout", "30")
    sampler = Sampler(receiver.pid)
    idle = settle_rss(receiver.pid)
    figures.add("4: idle VmRSS before", idle / 1024, "MiB")
    hello = xp.preamble() + xp.hello([(xp.NONCE_ID, os.urandom(32)), xp.suites_param([xp.AES_256_GCM])])
    big = xp.preamble() + struct.pack(">BBII", xp.KINDS["HELLO"], 0, 1 << 20, 0) + b"\0" * 65536
    for label, message in (("HELLO, waiting", hello), ("1 MiB header + 64 KiB", big)):
        sampler.window()
        sockets = []
        for index in range(256):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source_address(5000 + index // 2), 0))
            sock.connect(("127.0.0.1", receiver.port))
            sock.sendall(message)
            sockets.append(sock)
        time.sleep(1.0)  # a sample of the peak: the receiver has read what each sent
        window = sampler.window()
        peak = max(window.get("VmRSS", 0), rss_kib(receiver.pid))
        figures.add(f"4: {label}: VmRSS peak", peak / 1024, "MiB")
        figures.add(f"4: {label}: per connection", (peak - idle) / 256, "KiB")
        close_all(sockets)
        after = settle_rss(receiver.pid, 4)
        figures.add(f"4: {label}: VmRSS after", after / 1024, "MiB")
    sampler.stop()
    receiver.stop()


def long_names_phase(args, figures):
    """5: four connections, one after another, each pipelining 5,000 empty files with 4 KiB
    names (15 shared components of 255 bytes and a unique leaf): VmRSS at the peak, and
    idle after each burst and at the end (the issue saw 64-100 MiB idle after four)."""
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import xferproto as xp
    work = make_temporary("names")
    os.mkdir(os.path.join(work, "target"))
    receiver = Receiver(args.xfer, os.path.join(work, "target"), "--quiet")
    sampler = Sampler(receiver.pid)
    idle = settle_rss(receiver.pid)
    figures.add("5: idle VmRSS before", idle / 1024, "MiB")
    prefix = "/".join(f"{index:02d}" + "n" * 253 for index in range(15))
    for burst in range(4):
        sock = socket.create_connection(("127.0.0.1", receiver.port))
        replies = bytearray()

        def read_replies():
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return
                replies.extend(chunk)

        reader = threading.Thread(target=read_replies, daemon=True)
        reader.start()
        out = bytearray(xp.preamble() + xp.hello([]))
        empty = xp.digest(b"")
        for index in range(5000):
            name = f"{prefix}/{burst}-{index:05d}-" + "x" * 100
            tid = struct.pack(">QQ", burst + 1, index + 1)
            out += xp.offer(tid, 0, 0, 0o644, 0, 0, name) + xp.end(0, empty)
        out += xp.goodbye()
        sock.sendall(out)
        sock.shutdown(socket.SHUT_WR)
        reader.join(120)
        sock.close()
        window = sampler.window()
        figures.add(f"5: burst {burst + 1}: VmRSS peak", window.get("VmRSS", 0) / 1024, "MiB")
        figures.add(f"5: burst {burst + 1}: idle VmRSS after", settle_rss(receiver.pid, 4) / 1024, "MiB")
    committed = sum(len(files) for _, _, files in os.walk(os.path.join(work, "target")) if files)
    figures.add("5: files committed", committed)
    sampler.stop()
    receiver.stop()


def raise_descriptor_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            needed = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xfer", default=os.path.join(REPO, ".build", "release", "xfer"))
    parser.add_argument("--rounds", type=int, default=5, help="rounds of part 1 (default 5); part 2 makes at most 3")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--handshake-timeout", type=float, default=3)
    parser.add_argument("--tricklers", type=int, default=64)
    parser.add_argument("--files", type=int, default=80000)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--only", choices=["1", "2", "3", "4", "5"], action="append")
    args = parser.parse_args()
    if not os.access(args.xfer, os.X_OK):
        sys.exit(f"no xfer binary at {args.xfer}: run `swift build -c release --product xfer`")
    limit = raise_descriptor_limit(args.connections + 1000)
    if limit < args.connections + 100:
        sys.exit(f"RLIMIT_NOFILE is {limit}: too few for {args.connections} client sockets")

    def terminated(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    figures = Figures()
    phases = args.only or ["1", "2", "3", "4", "5"]
    started = time.monotonic()
    try:
        sigterm_race(args, figures)
        if "1" in phases:
            log(f"1: {args.connections} silent connections, --handshake-timeout {args.handshake_timeout:g}")
            for number in range(1, args.rounds + 1):
                silent_round(args, figures, number)
        if "2" in phases:
            log(f"2: {args.tricklers} trickling peers")
            for number in range(1, max(1, min(args.rounds, 3)) + 1):
                trickle_round(args, figures, number)
        if "3" in phases:
            log(f"3: {args.files} commits")
            commits_phase(args, figures)
        if "4" in phases:
            log("4: memory of unauthenticated handshakes")
            handshake_memory_phase(args, figures)
        if "5" in phases:
            log("5: four bursts of 5,000 empty files with 4 KiB names")
            long_names_phase(args, figures)
    finally:
        cleanup()
        print(f"\nxfer resource figures ({os.path.relpath(args.xfer)}; {os.cpu_count()} CPUs; "
              f"median (min-max) of rounds; {time.monotonic() - started:.0f} s)\n")
        if figures.values:
            print(figures.table())
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as interruption:
        log(f"interrupted ({interruption or 'Ctrl-C'}): processes stopped, temporary directories removed")
        sys.exit(130)
