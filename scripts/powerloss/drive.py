#!/usr/bin/python3
"""Power losses under the real xfer receiver (issue 16), on the lazyfs.py simulator.

    drive.py validate        # the simulator's own semantics, case by case (validate.py)
    drive.py run [--rounds N] [--seed S] [--kinds K,...] [--jitter SECONDS]
                 [--enumerate K,...] [--enumerate-kills K,...] [--enumerate-errors K,...]
                 [--races N] [--stride N]
                 [--stride-for K=N,...] [--budget SECONDS]
    drive.py replay KIND SEED CRASH [--keep]   # one round again, with its operation log

`run` mounts lazyfs.py, starts the real `xfer receive` on MOUNT/target (the target made
durable first) and real `xfer send --json` processes against it over loopback. Scenarios
(KIND): one (1 file), five, twenty (one send: the receiver's batch path, syncfs for 8+),
nested (new nested directories), big (20 MiB), resume (a 16 MiB send cut by SIGKILL once
the receiver wrote a random 1-8 MiB, then sent again), two (two senders at once into one
new directory), blocks (one file of about 6 MiB sent with --streams 4 to a receiver with
--block-size 65536: ~96 blocks written at their offsets over 4 connections), blocks-resume
(the same, its first send cut by SIGKILL once the receiver wrote a random 1-4 MiB, then
sent again: the receiver keeps the verified blocks, recorded in the partial's extended
attribute user.xfer.blocks, and the second send sends only the others). Power is lost:

- in random rounds (--rounds): at a random moment of the sends (60%) or right after a
  random ACK (40%), every sync taking a random time up to --jitter seconds meanwhile so
  that concurrent commits interleave differently;
- before every operation (every counted operation but `write`, receiver start-up
  included) of the scenarios named in --enumerate: one run counts them, then one run per
  operation N (every K-th with --stride/--stride-for);
- after the sends, in the scenarios of --enumerate-kills, whose receiver is instead
  killed (SIGKILL, no power loss) before each operation N, restarted on the same file
  system (volatile state and all), and sent every file again;
- after the sends, in the scenarios of --enumerate-errors, whose operation N instead
  fails once with EIO; the same receiver is then sent every file again;
- at the first ACK in --races rounds of two senders into one new directory, every sync
  of the target taking 0.5 s (so that one connection's commit is caught while the other,
  which made the directory, still syncs the target).

At a power loss the receiver is killed with SIGKILL and the file system answers EIO from
then on. The durable image is written out and checked:

1. every file a sender saw `confirmed` is in the image with exactly the bytes sent
   (SHA-256);
2. every file under a final name (outside .xfer) is one the scenario sent, with exactly
   its bytes: nothing partial, empty or foreign;
3. a receiver restarted on the image (a new simulator seeded with it) starts;
4. a resend of every file exits 0, and after a second power loss right after it, every
   file is there with exactly its bytes;
5. blocks scenarios, power not lost during the sends and no fault injected (not in the
   kill and EIO modes): every send but a cut first one exits 0; and in blocks-resume,
   when the receiver said it kept blocks of the cut send ("kept N bytes ... to resume",
   N > 0; the second send waits up to 5 s for that line), a second send that confirmed
   the file sent fewer bytes than it holds (its `done` event's "sent"): the kept blocks
   were reused, not sent again.

Each violation is printed (VIOLATION [scenario seed=S crash=MODE:N] ...), `replay`
runs that round again with its operation log, and the summary counts rounds, crash
points and violations by kind; exit status 1 if there was any violation. Figures that
are not violations are printed too: partials (and blocks partials with their
user.xfer.blocks) and commit-journal lines that survived, resumes and "already committed"
answers after a power loss, blocks resumes. Rounds that depend on thread
timing (random rounds, the two-sender scenario) may not repeat exactly on replay.
"""

import argparse
import atexit
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAZYFS = os.path.join(HERE, "lazyfs.py")
# pyfuse3 comes from Debian's python3-pyfuse3: the system interpreter, whatever is on PATH.
PYTHON = "/usr/bin/python3"
SCENARIOS = ["one", "five", "twenty", "nested", "big", "resume", "two", "blocks", "blocks-resume"]
# Blocks scenarios: the receiver's block size (the smallest allowed, for many blocks) and
# the sender's connections.
BLOCK_SIZE = 65536
STREAMS = 4


# MARK: the simulator

# Simulators still mounted: unmounted at exit however the driver ends (a lazyfs.py left
# behind would keep a mount point that answers nothing).
LIVE = set()
# xfer processes still running, killed at exit likewise.
PROCESSES = set()


@atexit.register
def _unmount_leftovers():
    """Ends the xfer processes and simulators still running."""
    for process in list(PROCESSES):
        if process.poll() is None:
            process.kill()
            process.wait()
    for simulator in list(LIVE):
        simulator.process.kill()
        simulator.process.wait()
        subprocess.run(["fusermount3", "-uz", simulator.mount], stderr=subprocess.DEVNULL)
        LIVE.discard(simulator)


class Simulator:
    """One mounted lazyfs.py, driven through its control socket."""

    def __init__(self, workdir, seed_from=None, script=LAZYFS):
        self.mount = os.path.join(workdir, "mnt")
        self.control = os.path.join(workdir, "control.sock")
        os.makedirs(self.mount, exist_ok=True)
        if os.path.exists(self.control):
            os.unlink(self.control)
        command = [PYTHON, script, self.mount, "--control", self.control]
        if seed_from:
            command += ["--seed", seed_from]
        # Its stderr goes to a file: a pipe nobody reads would stop it once full.
        self.log_path = os.path.join(workdir, "lazyfs.log")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        # "lazyfs: ready" is printed once mounted and listening for control commands.
        line = self.process.stdout.readline()
        if "ready" not in line:
            raise RuntimeError(f"lazyfs did not start: {line}{self.log()}")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.connect(self.control)
        self.socket.settimeout(60)  # a simulator that stops answering fails the round, not the run
        self.stream = self.socket.makefile("rwb")
        self.lock = threading.Lock()  # commands come from timers and event readers too
        LIVE.add(self)

    def log(self):
        """The end of what lazyfs.py printed on stderr (Python tracebacks, if any)."""
        with open(self.log_path, errors="replace") as log:
            return log.read()[-2000:]

    def command(self, line):
        with self.lock:
            self.stream.write((line + "\n").encode())
            self.stream.flush()
            answer = json.loads(self.stream.readline())
        if "error" in answer:
            raise RuntimeError(f"lazyfs {line!r}: {answer['error']}")
        return answer

    def image(self, directory):
        os.makedirs(directory)
        return self.command(f"image {directory}")

    def stop(self):
        try:
            self.command("quit")
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            subprocess.run(["fusermount3", "-uz", self.mount], stderr=subprocess.DEVNULL)
        self.socket.close()
        LIVE.discard(self)


# MARK: xfer processes


def xfer_binary():
    path = os.environ.get("XFER_BINARY") or os.path.join(ROOT, ".build", "debug", "xfer")
    if not os.access(path, os.X_OK):
        sys.exit(f"drive.py: no xfer binary at {path}; run `swift build` first")
    return path


class Receiver:
    """`xfer receive` on 127.0.0.1, port learnt from its "listening on" line."""

    def __init__(self, directory, simulator=None, options=()):
        self.process = subprocess.Popen(
            [xfer_binary(), "receive", "--listen", "127.0.0.1:0", "--dir", directory, "--timeout", "10", *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        PROCESSES.add(self.process)
        if simulator:
            # Killed at the power loss, as the machine's power would kill it.
            simulator.command(f"victim {self.process.pid}")
        self.log = []
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.process.stderr:
                self.log.append(line)
                if self.port is None and "listening on" in line:
                    self.port = int(line.rsplit(":", 1)[1])
                    ready.set()
            ready.set()  # ended without listening

        threading.Thread(target=read, daemon=True).start()
        ready.wait(30)

    def wait_kept(self, seconds):
        """The bytes of its first "kept N bytes of 'NAME' to resume" line, waiting up to
        `seconds` for one (None if none came, or the receiver ended)."""
        deadline = time.monotonic() + seconds
        while True:
            for line in list(self.log):
                if " kept " in line and " to resume" in line:
                    return int(line.split(" kept ", 1)[1].split(" ", 1)[0])
            if time.monotonic() > deadline or self.process.poll() is not None:
                return None
            time.sleep(0.02)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        PROCESSES.discard(self.process)


class Sender:
    """`xfer send --json` of some paths; collects its events."""

    def __init__(self, paths, port, on_event=None, options=()):
        self.process = subprocess.Popen(
            [xfer_binary(), "send", "--json", "--timeout", "10", *options, *paths, f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        PROCESSES.add(self.process)
        self.events = []
        self.stderr = ""

        def read():
            for line in self.process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                self.events.append(event)
                if on_event:
                    on_event(self, event)

        def read_errors():
            self.stderr = self.process.stderr.read()

        self.readers = [threading.Thread(target=read, daemon=True), threading.Thread(target=read_errors, daemon=True)]
        for reader in self.readers:
            reader.start()

    def wait(self, timeout=120):
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self.readers:
            reader.join(10)
        PROCESSES.discard(self.process)
        return self.process.returncode

    def confirmed(self):
        """Names the receiver confirmed durable."""
        return [e["name"] for e in self.events if e.get("event") == "confirmed" and e.get("durable")]

    def count(self, field):
        return sum(1 for e in self.events if e.get("event") == "confirmed" and e.get(field))

    def sent(self):
        """Bytes it sent (its `done` event), or None if it did not get that far."""
        done = [e for e in self.events if e.get("event") == "done"]
        return done[-1].get("sent") if done else None

    def reused_blocks(self):
        """Whether it sent fewer bytes than the files it newly confirmed (not "already
        committed") hold: the receiver's kept blocks were reused. None when it cannot
        tell: no file newly confirmed, or no `done` event."""
        confirmed = [e for e in self.events if e.get("event") == "confirmed" and e.get("durable")]
        done = [e for e in self.events if e.get("event") == "done"]
        fresh = sum(e.get("bytes", 0) for e in confirmed if not e.get("already_committed"))
        if not done or not fresh or "sent" not in done[-1]:
            return None
        return done[-1]["sent"] < fresh


# MARK: scenarios


class Scenario:
    """Files made from a seed, and the sends (one list of paths per sender) that carry
    them. `files` maps each name on the receiver to its SHA-256."""

    def __init__(self, kind, seed, workdir):
        self.kind, self.seed = kind, seed
        self.source = os.path.join(workdir, "source")
        self.files = {}
        self.sends = []  # [[path, ...], ...]: concurrent senders
        self.cut = None  # resume: cut the first send after this many bytes
        self.receiver_options = []  # for every receiver of the round
        self.sender_options = []  # for every send of the round (resends too: same transfer IDs)
        rng = random.Random(f"{kind}:{seed}")

        def make(name, size):
            path = os.path.join(self.source, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = rng.randbytes(size)
            with open(path, "wb") as out:
                out.write(data)
            return path, data

        def small():
            return rng.choice([0, 1, 100, 4096, rng.randrange(1, 300_000)])

        def flat(count, directory=None):
            paths = []
            for index in range(count):
                name = f"f{index:02d}-{seed}.bin"
                if directory:
                    name = f"{directory}/{name}"
                path, data = make(name, small())
                self.files[name] = hashlib.sha256(data).hexdigest()
                paths.append(path)
            return paths

        if kind == "one":
            self.sends = [flat(1)]
        elif kind == "five":
            self.sends = [flat(5)]
        elif kind == "twenty":
            # 20 files in one send: the receiver commits them as batches (syncfs for 8+).
            self.sends = [flat(20)]
        elif kind == "nested":
            top = f"n{seed}"
            for name in ["a/x.bin", "a/b/y.bin", "a/b/c/z.bin", "d/e/w.bin"]:
                path, data = make(f"{top}/{name}", small())
                self.files[f"{top}/{name}"] = hashlib.sha256(data).hexdigest()
            self.sends = [[os.path.join(self.source, top)]]
        elif kind == "big":
            path, data = make(f"big-{seed}.bin", 20 << 20)
            self.files[f"big-{seed}.bin"] = hashlib.sha256(data).hexdigest()
            self.sends = [[path]]
        elif kind == "resume":
            path, data = make(f"resume-{seed}.bin", 16 << 20)
            self.files[f"resume-{seed}.bin"] = hashlib.sha256(data).hexdigest()
            self.sends = [[path]]
            self.cut = rng.randrange(1 << 20, 8 << 20)
        elif kind in ("blocks", "blocks-resume"):
            # About 6 MiB in 64 KiB blocks (the last one often short) over 4 connections:
            # written at offsets, from several receiver threads into one partial.
            name = f"{kind}-{seed}.bin"
            path, data = make(name, rng.randrange((6 << 20) - BLOCK_SIZE + 1, (6 << 20) + 1))
            self.files[name] = hashlib.sha256(data).hexdigest()
            self.sends = [[path]]
            self.receiver_options = ["--block-size", str(BLOCK_SIZE)]
            self.sender_options = ["--streams", str(STREAMS)]
            if kind == "blocks-resume":
                self.cut = rng.randrange(1 << 20, 4 << 20)
        elif kind == "two":
            # Two senders, each with its own files, into one new directory at once.
            shared = f"shared-{seed}"
            paths = []
            for side in "ab":
                side_paths = []
                for index in range(rng.choice([1, 3, 6])):
                    name = f"{shared}/{side}{index}.bin"
                    path, data = make(os.path.join(side, name), small())
                    self.files[name] = hashlib.sha256(data).hexdigest()
                os.makedirs(os.path.join(self.source, side, shared), exist_ok=True)
                paths.append([os.path.join(self.source, side, shared)])
            self.sends = paths
        else:
            raise ValueError(kind)

    def send(self, port, simulator, on_event=None, receiver=None):
        """Runs the scenario's sends against `port`; returns the senders (finished) and
        whether a resume scenario's first send was cut before its confirmation. For
        blocks-resume, `kept` is then the bytes the receiver said it kept of the cut send
        before the second one started (None: it said nothing)."""
        senders = []
        was_cut = False
        self.kept = None
        if self.cut is not None:
            # Resume: a first send killed (by the simulator, exactly) once the receiver
            # has written `cut` bytes, then the same send again: it resumes from what the
            # receiver kept. The file is larger than the socket buffers hold beyond the
            # cut, so the first send cannot have delivered it all.
            first = Sender(self.sends[0], port, on_event, self.sender_options)
            simulator.command(f"cut {first.process.pid} {self.cut}")
            first.wait()
            senders.append(first)
            was_cut = not first.confirmed()
            if receiver is not None and self.sender_options:
                # Blocks: the second send must find what the receiver kept, so it waits
                # (a few seconds at most) for the receiver to have kept it, synced.
                self.kept = receiver.wait_kept(5)
        running = [Sender(paths, port, on_event, self.sender_options) for paths in self.sends]
        for sender in running:
            sender.wait()
        return senders + running, was_cut


# MARK: checks


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def final_files(target):
    """Regular files under final names (outside .xfer), relative to `target`."""
    found = {}
    for directory, subdirectories, names in os.walk(target):
        if directory == target and ".xfer" in subdirectories:
            subdirectories.remove(".xfer")
        for name in names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, target)] = path
    return found


def check_image(target, scenario, confirmed, all_required=False):
    """Violations of the promise in a durable image of the target directory."""
    violations = []
    present = final_files(target) if os.path.isdir(target) else {}
    required = scenario.files if all_required else {name: scenario.files.get(name) for name in confirmed}
    for name, expected in sorted(required.items()):
        if expected is None:
            violations.append(f"confirmed '{name}', which the scenario never sent")
        elif name not in present:
            violations.append(f"confirmed '{name}' is missing after the power loss")
        elif sha256(present[name]) != expected:
            size = os.path.getsize(present[name])
            violations.append(f"confirmed '{name}' has other bytes after the power loss ({size} bytes)")
    for name, path in sorted(present.items()):
        if name in required:
            continue
        if name not in scenario.files:
            violations.append(f"foreign file '{name}' under a final name")
        elif sha256(path) != scenario.files[name]:
            size = os.path.getsize(path)
            violations.append(f"'{name}' under its final name is partial or wrong ({size} bytes)")
    return violations


def check_blocks_sends(scenario, senders, crashed, totals):
    """Blocks scenarios, power on and no fault injected: every send but a cut one
    confirmed its file; after a cut, the second send reused the blocks the receiver said
    it kept (it confirmed the file having sent fewer bytes than it holds)."""
    violations = []
    second = senders[-1]
    if scenario.cut is not None and len(senders) == 2 and scenario.kept:
        totals.blocks_kept += 1
        reused = second.reused_blocks()
        if reused:
            totals.blocks_resumed += 1
        elif reused is False:
            violations.append(
                f"the second send sent {second.sent()} bytes of {second.events[-1].get('bytes')} though the "
                f"receiver kept {scenario.kept} bytes of blocks of the cut first send: no blocks resume"
            )
    if not crashed:
        for sender in senders[1:] if scenario.cut is not None else senders:
            if sender.process.returncode != 0:
                violations.append(
                    f"a send failed with power on and no fault injected (exit {sender.process.returncode}): "
                    f"{sender.stderr.strip()[-300:]}"
                )
    return violations


def state_figures(target):
    """Partials and journal lines the receiver's .xfer kept."""
    state = os.path.join(target, ".xfer")
    partials = journal = blocks = 0
    if os.path.isdir(state):
        partials = sum(1 for name in os.listdir(state) if name.endswith(".part") and os.path.getsize(os.path.join(state, name)) > 0)
        blocks = sum(1 for name in os.listdir(state) if name.endswith(".part") and "user.xfer.blocks" in os.listxattr(os.path.join(state, name)))
        commits = os.path.join(state, "commits")
        if os.path.isdir(commits):
            for name in os.listdir(commits):
                with open(os.path.join(commits, name), "rb") as log:
                    journal += log.read().count(b"\n")
    return partials, journal, blocks


# MARK: one round


class Totals:
    def __init__(self):
        self.rounds = 0
        self.crash_points = 0
        self.crashed_mid = 0  # power lost while the scenario ran (not after it)
        self.kill_points = 0
        self.error_points = 0
        self.cuts = 0  # resume scenarios whose first send was cut before its confirmation
        self.confirmed = 0
        self.violations = []  # (label, text)
        self.by_kind = {}  # kind -> [rounds, rounds with a violation]
        self.by_mode = {}  # crash mode (count, op, time, confirm, kill, eio) -> the same
        self.partials_kept = 0
        self.partials_seen = 0
        self.resumed = 0
        self.already = 0
        self.journal_lines = 0
        self.blocks_partials_kept = 0  # partials in the image with user.xfer.blocks
        self.blocks_kept = 0  # blocks-resume: the receiver kept blocks of the cut send
        self.blocks_resumed = 0  # ... and the second send reused them
        self.blocks_resumed_after = 0  # blocks resends after a power loss that reused kept blocks


def one_round(kind, seed, crash, totals, keep=False, verbose=False, jitter=0.0):
    """Runs `kind` with files from `seed` and loses power; `crash` says when:

    ("count",)        after the sends (and counts the operations they made);
    ("op", n)         just before the nth counted operation other than a write;
    ("time", s)       s seconds after the sends started (or after they ended);
    ("confirm", f)    as soon as a sender reports the kth confirmation, k = 1 + f x the
                      number of files (power lost right after an ACK, while other
                      commits may be under way);
    ("race", _)       two senders into one new directory (KIND two), every sync of the
                      target directory taking 0.5 s, power lost at the first ACK: a
                      commit that leaves the new directory's entry to the connection
                      that made it is caught while that one still syncs;
    ("eio", n)        the nth operation fails with EIO (once, unapplied); after the
                      sends, the same receiver gets every file again; power is lost
                      after that;
    ("kill", n)       the receiver is killed (a process crash, no power loss) just
                      before the nth operation; a receiver restarted on the same file
                      system gets every file again; power is lost after that.

    With `jitter`, every sync waits a random time up to that many seconds first.
    Records violations in `totals`; returns the counted operations and how long the
    sends took."""
    workdir = tempfile.mkdtemp(prefix=f"xfer-powerloss-{kind}-")
    label = f"{kind} seed={seed} crash={':'.join(map(str, crash))}"
    violations = []
    counted = None
    send_seconds = 0.0
    try:
        scenario = Scenario(kind, seed, workdir)
        simulator = Simulator(workdir)
        target = os.path.join(simulator.mount, "target")
        os.mkdir(target)
        simulator.command("sync")  # the target directory exists, durable, before xfer starts
        if jitter:
            simulator.command(f"jitter {jitter} {seed}")
        if crash[0] in ("op", "kill", "eio"):
            simulator.command(f"arm nonwrite {crash[1]} {'crash' if crash[0] == 'op' else crash[0]}")
        else:
            simulator.command("arm nonwrite 0")
        receiver = Receiver(target, simulator, scenario.receiver_options)
        senders = []
        timer = None
        on_event = None
        if crash[0] == "race":
            simulator.command("slowsync /target 0.5")
        if crash[0] in ("confirm", "race"):
            confirmations = [0]
            wanted = 1 if crash[0] == "race" else min(len(scenario.files), 1 + int(crash[1] * len(scenario.files)))

            def on_event(sender, event):
                if event.get("event") == "confirmed":
                    with simulator.lock:  # counted under the lock the crash command takes
                        confirmations[0] += 1
                        now = confirmations[0] == wanted
                    if now:
                        simulator.command("crash")

        if receiver.port is not None:
            if crash[0] == "time":
                timer = threading.Timer(crash[1], lambda: simulator.command("crash"))
                timer.start()
            began = time.monotonic()
            senders, was_cut = scenario.send(receiver.port, simulator, on_event, receiver)
            totals.cuts += was_cut
            send_seconds = time.monotonic() - began
            if timer:
                timer.cancel()
                timer.join()
            if scenario.sender_options and crash[0] not in ("kill", "eio"):
                violations += check_blocks_sends(scenario, senders, simulator.command("stats")["crashed"], totals)
        if crash[0] in ("kill", "eio"):
            # After a kill at operation n (if the sends got that far) a new receiver on
            # the same file system, volatile state and all; after an I/O error the same
            # one: every file again, which must now succeed. The armed operation must
            # not come round again in the new receiver's operations.
            simulator.command("disarm")
            if crash[0] == "kill" or receiver.port is None:
                # (A receiver whose start-up met the I/O error never listened: that is right.)
                receiver.stop()
                receiver = Receiver(target, simulator, scenario.receiver_options)
            if receiver.port is None:
                violations.append(
                    f"a receiver restarted after the {crash[0]} did not start: " + "".join(receiver.log)[-500:]
                )
            else:
                again = [Sender(paths, receiver.port, options=scenario.sender_options) for paths in scenario.sends]
                for sender in again:
                    status = sender.wait()
                    if status != 0:
                        violations.append(
                            f"the resend after the {crash[0]} exited {status}: {sender.stderr.strip()[-300:]}"
                        )
                senders += again
        stats = simulator.command("stats log")
        crashed_mid = stats["crashed"]
        counted = stats["counts"].get("nonwrite", 0)
        simulator.command("crash")  # power lost now, if not already
        receiver.stop()
        image = os.path.join(workdir, "image")
        simulator.image(image)
        simulator.stop()
        if verbose:
            print(f"  {label}: {stats.get('killed') or stats.get('failed') or stats.get('reason')}; {stats['counts']}")
            if keep:
                print(f"  work directory kept: {workdir}")
                print("  operations (writes left out):")
                for index, line in enumerate(op for op in (stats.get("log") or []) if not op.startswith("write")):
                    print(f"    {index + 1:4d} {line}")

        confirmed = [name for sender in senders for name in sender.confirmed()]
        totals.rounds += 1
        totals.crashed_mid += crashed_mid
        totals.confirmed += len(set(confirmed))
        image_target = os.path.join(image, "target")
        where = f" (power lost {stats.get('reason') or 'after the sends'})"
        if stats.get("killed"):
            where = f" (receiver killed {stats['killed']}, restarted, power lost after the resend)"
        if stats.get("failed"):
            where = f" (EIO {stats['failed']}, power lost after the resend)"
        violations += [v + where for v in check_image(image_target, scenario, confirmed)]
        partials, journal, blocks = state_figures(image_target)
        totals.partials_kept += partials
        totals.journal_lines += journal
        totals.blocks_partials_kept += blocks

        # A receiver restarted on what survived, and every file sent again.
        restart_dir = os.path.join(workdir, "restart")
        os.makedirs(restart_dir)
        second = Simulator(restart_dir, seed_from=image)
        target2 = os.path.join(second.mount, "target")
        if not os.path.isdir(target2):
            os.mkdir(target2)  # never made durable: cannot happen (set up synced), but be plain
            second.command("sync")
        restarted = Receiver(target2, second, scenario.receiver_options)
        if restarted.port is None:
            violations.append("a receiver restarted on the durable image did not start: " + "".join(restarted.log)[-500:])
        else:
            resent = [Sender(paths, restarted.port, options=scenario.sender_options) for paths in scenario.sends]
            for sender in resent:
                status = sender.wait()
                if status != 0:
                    violations.append(f"the resend after the power loss exited {status}: {sender.stderr.strip()[-300:]}")
                totals.resumed += sender.count("resumed_from")
                totals.already += sender.count("already_committed")
                if scenario.sender_options:
                    totals.blocks_resumed_after += bool(sender.reused_blocks())
            second.command("crash")
            restarted.stop()
            image2 = os.path.join(restart_dir, "image")
            second.image(image2)
            violations += [
                v + " (after the resend and a second power loss)"
                for v in check_image(os.path.join(image2, "target"), scenario, [], all_required=True)
            ]
        restarted.stop()
        second.stop()
    except Exception as error:  # a driver failure is reported, never hidden
        violations.append(f"driver error: {error!r}")
    finally:
        # After a driver error, what this round started is still running: end it before
        # its directory goes (rounds run one at a time, so all that is live is this round's).
        _unmount_leftovers()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for violation in violations:
        totals.violations.append((label, violation))
        print(f"VIOLATION [{label}] {violation}", flush=True)
    for key, table in ((kind, totals.by_kind), (crash[0], totals.by_mode)):
        tally = table.setdefault(key, [0, 0])
        tally[0] += 1
        tally[1] += bool(violations)
    return counted, send_seconds


# MARK: commands


def violation_class(violation):
    """A violation's kind without its file names, for the summary."""
    stage = " after the resend" if "after the resend" in violation else ""
    for needle, text in [
        ("is missing", "confirmed file missing"),
        ("has other bytes", "confirmed file with other bytes"),
        ("partial or wrong", "partial or wrong file under a final name"),
        ("foreign", "foreign file under a final name"),
        ("did not start", "restarted receiver did not start"),
        ("resend after", "resend failed"),
        ("driver error", "driver error"),
        ("no blocks resume", "blocks kept but not reused"),
        ("with power on and no fault", "send failed with power on"),
    ]:
        if needle in violation:
            return text + stage
    return violation


def run(arguments):
    totals = Totals()
    started = time.monotonic()
    rng = random.Random(arguments.seed)
    deadline = started + arguments.budget if arguments.budget else None
    durations = {}
    strides = {k: int(v) for k, v in (item.split("=") for item in arguments.stride_for.split(",") if item)}

    def out_of_time():
        return deadline is not None and time.monotonic() > deadline

    # Enumerated crash points: one counting run, then one run per operation.
    for kind in [k for k in arguments.enumerate.split(",") if k]:
        seed = arguments.seed
        total, durations[kind] = one_round(kind, seed, ("count",), totals)
        stride = strides.get(kind, arguments.stride)
        points = list(range(1, (total or 0) + 1, stride))
        print(f"{kind}: {total} operations counted (receiver start-up included); crashing at {len(points)} of them", flush=True)
        for n in points:
            if out_of_time():
                print("time budget spent: enumeration cut short", flush=True)
                break
            one_round(kind, seed, ("op", n), totals, verbose=arguments.verbose)
            totals.crash_points += 1

    # Enumerated process crashes (the receiver killed before each operation, restarted)
    # and I/O errors (each operation failing once).
    for mode, kinds, doing in [
        ("kill", arguments.enumerate_kills, "killing the receiver at"),
        ("eio", arguments.enumerate_errors, "failing with EIO"),
    ]:
        for kind in [k for k in kinds.split(",") if k]:
            seed = arguments.seed
            total, durations[kind] = one_round(kind, seed, ("count",), totals)
            points = list(range(1, (total or 0) + 1, strides.get(kind, arguments.stride)))
            print(f"{kind}: {total} operations counted; {doing} {len(points)} of them", flush=True)
            for n in points:
                if out_of_time():
                    print("time budget spent: enumeration cut short", flush=True)
                    break
                one_round(kind, seed, (mode, n), totals, verbose=arguments.verbose)
                if mode == "kill":
                    totals.kill_points += 1
                else:
                    totals.error_points += 1

    # Two senders racing into one new directory, power lost at the first ACK.
    for index in range(arguments.races):
        if out_of_time():
            break
        one_round("two", arguments.seed + index, ("race", 0), totals, verbose=arguments.verbose)

    # Random rounds: a random scenario, power lost at a random moment of its sends.
    kinds = arguments.kinds.split(",")
    for index in range(arguments.rounds):
        if out_of_time():
            print("time budget spent: random rounds cut short", flush=True)
            break
        kind = rng.choice(kinds)
        seed = rng.randrange(1 << 30)
        if kind not in durations:
            _, durations[kind] = one_round(kind, seed, ("count",), totals)
        if rng.random() < 0.6:
            # A moment while the sends run (as long as they took without a crash), a few after.
            crash = ("time", round(rng.uniform(0, max(0.05, durations[kind] * 1.1)), 3))
        else:
            # Right after the kth ACK, with other commits possibly half done.
            crash = ("confirm", round(rng.random(), 3))
        one_round(kind, seed, crash, totals, verbose=arguments.verbose, jitter=arguments.jitter)

    seconds = time.monotonic() - started
    print()
    print(f"power-loss simulator: {totals.rounds} rounds in {seconds:.0f} s ({totals.crash_points} enumerated crash points, "
          f"{totals.kill_points} enumerated receiver kills, {totals.error_points} enumerated I/O errors, "
          f"{totals.crashed_mid} power losses during a send, the rest after it)")
    print(f"  files confirmed before a power loss: {totals.confirmed}; resume scenarios cut mid-stream: {totals.cuts}")
    print(f"  after a power loss: partials kept {totals.partials_kept}, commit journal lines kept "
          f"{totals.journal_lines} (of {totals.confirmed} confirmed); on resend, resumed {totals.resumed}, "
          f"already committed {totals.already} (never expected here: the restarted receiver runs on a new mount, "
          f"whose device number the journal's identity check sees change)")
    if totals.by_kind.get("blocks") or totals.by_kind.get("blocks-resume"):
        print(f"  blocks: cut sends whose blocks the receiver kept {totals.blocks_kept}, reused by the second send "
              f"{totals.blocks_resumed}; blocks partials (with user.xfer.blocks) in images {totals.blocks_partials_kept}; "
              f"resends after a power loss that reused kept blocks {totals.blocks_resumed_after}")
    for kind, (rounds, bad) in sorted(totals.by_kind.items()):
        print(f"  {kind:>13}: {rounds} rounds, {bad} with a violation")
    modes = {
        "count": "power lost after the sends",
        "op": "power lost before an enumerated operation",
        "time": "power lost at a random moment",
        "confirm": "power lost right after a random ACK",
        "kill": "receiver killed before an operation, restarted",
        "eio": "an operation failed once (EIO)",
        "race": "two senders into one new directory, power lost at the first ACK",
    }
    for mode, (rounds, bad) in sorted(totals.by_mode.items()):
        print(f"  {modes.get(mode, mode)}: {rounds} rounds, {bad} with a violation")
    print(f"  violations: {len(totals.violations)}")
    by_class = {}
    for label, violation in totals.violations:
        by_class.setdefault(violation_class(violation), []).append(label)
    for text, labels in sorted(by_class.items()):
        print(f"    {len(labels)} x {text}, in {len(set(labels))} rounds; first: {labels[0]}")
    return 1 if totals.violations else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    validating = sub.add_parser("validate", help="check the simulator's own semantics")
    validating.add_argument("--mutants", action="store_true", help="and that broken simulators fail the checks")
    replay = sub.add_parser("replay", help="one round again, with its operation log, e.g. replay two 135994927 confirm:0.384")
    replay.add_argument("kind", choices=SCENARIOS)
    replay.add_argument("seed", type=int)
    replay.add_argument("crash", help="count | op:N | kill:N | eio:N | time:SECONDS | confirm:FRACTION | race:0")
    replay.add_argument("--jitter", type=float, default=0.02)
    replay.add_argument("--keep", action="store_true", help="keep the work directory (images, sources)")
    runner = sub.add_parser("run", help="power losses under the real receiver")
    runner.add_argument("--rounds", type=int, default=20, help="random rounds (default 20)")
    runner.add_argument("--seed", type=int, default=1)
    runner.add_argument("--kinds", default=",".join(SCENARIOS), help="scenarios for random rounds")
    runner.add_argument("--enumerate", default="", help="scenarios whose every crash point is tried, comma-separated")
    runner.add_argument("--stride", type=int, default=1, help="try every K-th crash point only")
    runner.add_argument("--stride-for", default="", help="per scenario, e.g. five=3,twenty=4 (overrides --stride)")
    runner.add_argument("--races", type=int, default=0, help="rounds of the two scenario in race mode (see one_round)")
    runner.add_argument("--enumerate-errors", default="", help="scenarios whose every operation fails once with EIO, then every file is sent again")
    runner.add_argument("--enumerate-kills", default="", help="scenarios whose receiver is killed before each operation, then restarted")
    runner.add_argument("--jitter", type=float, default=0.02, help="random rounds: each sync waits up to this many seconds (default 0.02)")
    runner.add_argument("--budget", type=float, default=0, help="stop starting rounds after this many seconds")
    runner.add_argument("--verbose", action="store_true")
    arguments = parser.parse_args()
    # SIGTERM (a test runner giving up) ends the driver through its exit handlers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        sys.exit("drive.py: needs root and /dev/fuse")
    if arguments.command == "validate":
        from validate import validate, validate_mutants

        status = validate(Simulator)
        if arguments.mutants:
            status |= validate_mutants(Simulator, LAZYFS)
        sys.exit(status)
    if arguments.command == "replay":
        mode, _, value = arguments.crash.partition(":")
        crash = (mode,) if mode == "count" else (mode, float(value) if mode in ("time", "confirm") else int(value))
        totals = Totals()
        one_round(arguments.kind, arguments.seed, crash, totals, keep=arguments.keep, verbose=True,
                  jitter=arguments.jitter if mode in ("time", "confirm") else 0.0)
        print(f"replay: {len(totals.violations)} violations")
        sys.exit(1 if totals.violations else 0)
    sys.exit(run(arguments))


if __name__ == "__main__":
    main()
