"""The simulator's own semantics, checked before anything is judged with it (issue 16).

Each case mounts a fresh lazyfs.py, does a few plain system calls on it, loses power
and reads the durable image. `drive.py validate` runs them all and prints one line per
case, then "validation: N of M cases hold"; exit status 1 if any does not.
"""

import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
import threading


def _write(path, data, sync=False, flags=os.O_CREAT | os.O_WRONLY | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def _sync_directory(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def _read(path):
    try:
        with open(path, "rb") as source:
            return source.read()
    except FileNotFoundError:
        return None


# Each case gets the mount point and returns a function that checks the image (or a
# failure message). `after` cases run after the power loss on the frozen mount.


def case_unsynced_write_lost(m):
    _write(f"{m}/f", b"")  # an empty file, its entry made durable
    _sync_directory(m)
    _write(f"{m}/f", b"data", flags=os.O_WRONLY)
    return lambda image: _read(f"{image}/f") == b"" or f"expected an empty f, found {_read(f'{image}/f')!r}"


def case_synced_file_unsynced_directory_vanishes(m):
    _write(f"{m}/f", b"data", sync=True)
    return lambda image: _read(f"{image}/f") is None or "f survived without a sync of its directory"


def case_file_and_directory_synced_survive(m):
    _write(f"{m}/f", b"data", sync=True)
    _sync_directory(m)
    return lambda image: _read(f"{image}/f") == b"data" or f"f is {_read(f'{image}/f')!r}"


def case_directory_synced_data_not(m):
    _write(f"{m}/f", b"data")
    _sync_directory(m)
    return lambda image: _read(f"{image}/f") == b"" or f"f is {_read(f'{image}/f')!r}, expected empty"


def case_rename_needs_parent_sync(m):
    _write(f"{m}/a", b"old", sync=True)
    _sync_directory(m)
    os.rename(f"{m}/a", f"{m}/b")
    return lambda image: (_read(f"{image}/a"), _read(f"{image}/b")) == (b"old", None) or "the rename survived unsynced"


def case_rename_with_parent_sync(m):
    _write(f"{m}/a", b"old", sync=True)
    _sync_directory(m)
    os.rename(f"{m}/a", f"{m}/b")
    _sync_directory(m)
    return lambda image: (_read(f"{image}/a"), _read(f"{image}/b")) == (None, b"old") or "the synced rename was lost"


def case_rename_over_file(m):
    _write(f"{m}/b", b"first", sync=True)
    _write(f"{m}/tmp", b"second", sync=True)
    _sync_directory(m)
    os.rename(f"{m}/tmp", f"{m}/b")
    _sync_directory(m)
    return lambda image: (_read(f"{image}/b"), _read(f"{image}/tmp")) == (b"second", None) or "replace not durable"


def case_rename_across_directories_one_end_synced(m):
    os.mkdir(f"{m}/d")
    _write(f"{m}/a", b"x", sync=True)
    _sync_directory(m)
    os.rename(f"{m}/a", f"{m}/d/a")
    _sync_directory(f"{m}/d")
    # The root still lists a (its removal unsynced), and d/a is durable, but the root's
    # entry for d was synced before the rename, so d itself is durable: both names.
    return lambda image: (
        (_read(f"{image}/a"), _read(f"{image}/d/a")) == (b"x", b"x")
        and os.stat(f"{image}/a").st_ino == os.stat(f"{image}/d/a").st_ino
    ) or "expected a and d/a, one inode"


def case_rename_across_directories_both_synced(m):
    os.mkdir(f"{m}/d")
    _write(f"{m}/a", b"x", sync=True)
    _sync_directory(m)
    os.rename(f"{m}/a", f"{m}/d/a")
    _sync_directory(f"{m}/d")
    _sync_directory(m)  # d's entry in the root, and a's removal from it
    return lambda image: (_read(f"{image}/a"), _read(f"{image}/d/a")) == (None, b"x") or "cross-directory rename"


def case_mkdir_needs_parent_sync(m):
    os.mkdir(f"{m}/d")
    _write(f"{m}/d/f", b"data", sync=True)
    _sync_directory(f"{m}/d")
    return lambda image: not os.path.exists(f"{image}/d") or "d survived without a sync of its parent"


def case_mkdir_with_parent_sync(m):
    os.mkdir(f"{m}/d")
    _write(f"{m}/d/f", b"data", sync=True)
    _sync_directory(f"{m}/d")
    _sync_directory(m)
    return lambda image: _read(f"{image}/d/f") == b"data" or "d/f lost though all was synced"


def case_unlink_needs_parent_sync(m):
    _write(f"{m}/f", b"data", sync=True)
    _sync_directory(m)
    os.unlink(f"{m}/f")
    return lambda image: _read(f"{image}/f") == b"data" or "an unsynced unlink took effect"


def case_syncfs_makes_nothing_durable(m):
    # The kernel does not pass syncfs (or sync) to a FUSE daemon: nothing becomes durable.
    _write(f"{m}/f", b"data")
    fd = os.open(m, os.O_RDONLY | os.O_DIRECTORY)
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syncfs(fd)
    os.close(fd)
    if result != 0:
        return lambda image: f"syncfs failed: {ctypes.get_errno()}"
    return lambda image: _read(f"{image}/f") is None or "syncfs made f durable"


def _attribute(path, name):
    try:
        return os.getxattr(path, name)
    except FileNotFoundError:
        return "no file"
    except OSError as error:
        return None if error.errno == errno.ENODATA else f"getxattr: {error}"


def case_attributes_durable_at_fsync(m):
    # xfer's blocks partial: user.xfer.blocks set, then the file fsynced to keep it; a
    # later change (or removal) without fsync is lost; fdatasync does not make one durable.
    for name in "abcd":
        _write(f"{m}/{name}", b"data", sync=True)
    _sync_directory(m)
    fd = os.open(f"{m}/a", os.O_RDWR)
    os.setxattr(fd, "user.xfer.blocks", b"kept")
    os.fsync(fd)
    os.setxattr(fd, "user.xfer.blocks", b"changed, unsynced")
    os.close(fd)
    os.setxattr(f"{m}/b", "user.xfer.blocks", b"never synced")
    fd = os.open(f"{m}/c", os.O_RDWR)
    os.setxattr(fd, "user.xfer.name", b"c")
    os.fsync(fd)
    os.removexattr(fd, "user.xfer.name")
    os.fsync(fd)
    os.close(fd)
    fd = os.open(f"{m}/d", os.O_RDWR)
    os.setxattr(fd, "user.xfer.name", b"d")
    os.fdatasync(fd)
    problem = None if os.getxattr(fd, "user.xfer.name") == b"d" else "getxattr does not see what setxattr set"
    os.close(fd)

    def check(image):
        found = {name: _attribute(f"{image}/{name}", "user.xfer.blocks" if name in "ab" else "user.xfer.name") for name in "abcd"}
        expected = {"a": b"kept", "b": None, "c": None, "d": None}
        return problem or found == expected or f"attributes in the image: {found}, expected {expected}"

    return check


def case_pwrite_threads_sync_file_range(m):
    # xfer's blocks: pwrite at offsets (a hole first) from several threads on one
    # descriptor, sync_file_range on each block: all seen, nothing durable before fsync.
    block = 65536
    _write(f"{m}/f", b"", sync=True)
    _write(f"{m}/g", b"", sync=True)
    _sync_directory(m)
    libc = ctypes.CDLL(None, use_errno=True)
    results = []
    for name, sync in (("f", True), ("g", False)):
        fd = os.open(f"{m}/{name}", os.O_RDWR)

        def writer(lane):
            for index in range(7 - lane, -1, -4):  # descending: holes filled later
                os.pwrite(fd, bytes([index + 1]) * block, index * block)
                result = libc.sync_file_range(fd, ctypes.c_int64(index * block), ctypes.c_int64(block), 2)
                results.append(result == 0 or ctypes.get_errno())

        threads = [threading.Thread(target=writer, args=(lane,)) for lane in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if sync:
            os.fsync(fd)
        os.close(fd)
    expected = b"".join(bytes([index + 1]) * block for index in range(8))
    problem = None
    if _read(f"{m}/g") != expected:
        problem = "the writes at offsets do not read back"
    elif not all(result is True for result in results):
        problem = f"sync_file_range failed: {results}"
    return lambda image: problem or (_read(f"{image}/f"), _read(f"{image}/g")) == (expected, b"") or (
        f"f has {len(_read(f'{image}/f') or b'')} bytes, g {len(_read(f'{image}/g') or b'')}: expected f all, g empty"
    )


def case_crash_freezes(m):
    _write(f"{m}/f", b"data", sync=True)
    _sync_directory(m)

    def after(mount):
        try:
            os.stat(f"{mount}/f")
        except OSError as error:
            return error.errno == errno.EIO or f"stat after the crash: {error}"
        return "stat worked after the crash"

    return after


def case_flock_statfs_tmpfile(m):
    # What xfer needs of the file system besides data: flock between two open files
    # (the kernel's local locks), a realistic statfs, and O_TMPFILE refused cleanly.
    _write(f"{m}/lock", b"")
    first, second = os.open(f"{m}/lock", os.O_RDWR), os.open(f"{m}/lock", os.O_RDWR)
    fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
        problem = "a second open file took the exclusive flock"
    except BlockingIOError:
        problem = None
    os.close(first)
    os.close(second)
    info = os.statvfs(m)
    if not problem and info.f_bavail * info.f_frsize < 1 << 30:
        problem = f"statfs reports {info.f_bavail * info.f_frsize} bytes free"
    try:
        os.close(os.open(m, os.O_TMPFILE | os.O_RDWR, 0o600))
        problem = problem or "O_TMPFILE worked: the simulator does not model it"
    except OSError as error:
        if error.errno != errno.EOPNOTSUPP:
            problem = problem or f"O_TMPFILE failed with {error}"
    return lambda image: problem or True


CASES = [
    ("write without fsync: lost (file comes back empty)", case_unsynced_write_lost),
    ("fsync of a new file, not of its directory: the file vanishes", case_synced_file_unsynced_directory_vanishes),
    ("fsync of the file and of its directory: it survives", case_file_and_directory_synced_survive),
    ("directory synced, file data not: an empty file", case_directory_synced_data_not),
    ("rename without a sync of the parent: the old name survives", case_rename_needs_parent_sync),
    ("rename, then a sync of the parent: the new name survives", case_rename_with_parent_sync),
    ("rename over an existing file, synced: the new content", case_rename_over_file),
    ("rename across directories, target synced only: both names, one inode", case_rename_across_directories_one_end_synced),
    ("rename across directories, both synced: one name", case_rename_across_directories_both_synced),
    ("mkdir without a sync of its parent: the directory vanishes", case_mkdir_needs_parent_sync),
    ("mkdir with a sync of its parent: it survives with its synced file", case_mkdir_with_parent_sync),
    ("unlink without a sync of the parent: the file survives", case_unlink_needs_parent_sync),
    ("syncfs reaches no FUSE daemon: nothing durable", case_syncfs_makes_nothing_durable),
    ("pwrite at offsets from 4 threads, sync_file_range: read back whole; durable only with fsync", case_pwrite_threads_sync_file_range),
    ("extended attributes (user.xfer.*): durable at fsync, not before, not at fdatasync; removal likewise", case_attributes_durable_at_fsync),
    ("after the crash every operation fails with EIO", case_crash_freezes),
    ("flock is exclusive between open files; statfs sane; O_TMPFILE refused", case_flock_statfs_tmpfile),
]


def case_armed_crash(simulator_class):
    """`arm fsync 2`: the second fsync fails with EIO and is not applied; the first is."""
    workdir = tempfile.mkdtemp(prefix="lazyfs-validate-")
    try:
        simulator = simulator_class(workdir)
        m = simulator.mount
        _write(f"{m}/a", b"", sync=True)
        _write(f"{m}/b", b"", sync=True)
        _sync_directory(m)
        simulator.command("arm fsync 2")
        _write(f"{m}/a", b"first", sync=True, flags=os.O_WRONLY)
        try:
            _write(f"{m}/b", b"second", sync=True, flags=os.O_WRONLY)
            problem = "the armed fsync did not fail"
        except OSError as error:
            problem = None if error.errno == errno.EIO else f"the armed fsync failed with {error}"
        stats = simulator.command("stats")
        image = os.path.join(workdir, "image")
        simulator.image(image)
        simulator.stop()
        if problem:
            return problem
        if not stats["crashed"]:
            return "not crashed"
        if (_read(f"{image}/a"), _read(f"{image}/b")) != (b"first", b""):
            return f"image holds a={_read(f'{image}/a')!r} b={_read(f'{image}/b')!r}"
        return True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def case_seed(simulator_class):
    """A simulator seeded from a directory holds it all durably, user attributes and hard
    links too (an image holds a file under two names after a rename synced at one end)."""
    workdir = tempfile.mkdtemp(prefix="lazyfs-validate-")
    try:
        seed = os.path.join(workdir, "seed")
        os.makedirs(f"{seed}/d/e")
        with open(f"{seed}/d/e/f", "wb") as out:
            out.write(b"seeded")
        os.setxattr(f"{seed}/d/e/f", "user.xfer.blocks", b"seeded too")
        os.link(f"{seed}/d/e/f", f"{seed}/d/link")
        simulator = simulator_class(workdir, seed_from=seed)
        simulator.command("crash")
        image = os.path.join(workdir, "image")
        simulator.image(image)
        simulator.stop()
        if not os.path.exists(f"{image}/d/link") or os.stat(f"{image}/d/link").st_ino != os.stat(f"{image}/d/e/f").st_ino:
            return "the seeded hard link is not one inode with its file in the image"
        if _attribute(f"{image}/d/e/f", "user.xfer.blocks") != b"seeded too":
            return f"the seeded attribute is {_attribute(f'{image}/d/e/f', 'user.xfer.blocks')!r} in the image"
        return _read(f"{image}/d/e/f") == b"seeded" or "the seeded file is not in the image"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def validate(simulator_class, quiet=False):
    held = 0
    results = []
    for name, case in CASES:
        workdir = tempfile.mkdtemp(prefix="lazyfs-validate-")
        simulator = None
        try:
            simulator = simulator_class(workdir)
            check = case(simulator.mount)
            simulator.command("crash")
            if check.__code__.co_varnames[:1] == ("mount",):
                verdict = check(simulator.mount)
            else:
                image = os.path.join(workdir, "image")
                simulator.image(image)
                verdict = check(image)
        except Exception as error:
            verdict = f"error: {error!r}"
        finally:
            if simulator:
                simulator.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        results.append((name, verdict))
    results.append(("arm fsync 2: the second fsync fails with EIO, unapplied; the first holds", case_armed_crash(simulator_class)))
    results.append(("--seed: a seeded tree is all durable, with its files' user attributes and hard links", case_seed(simulator_class)))
    for name, verdict in results:
        if verdict is True:
            held += 1
        if not quiet:
            print(f"holds: {name}" if verdict is True else f"DOES NOT HOLD: {name}: {verdict}")
    if not quiet:
        print(f"validation: {held} of {len(results)} cases hold")
    return 0 if held == len(results) else 1


# Simulators broken on purpose, each in one rule: the validation must fail every one.
MUTANTS = {
    "a file's fsync makes its directory entry durable too (as ext4 often does)": (
        "        inode.durable_data = bytes(inode.data)\n        inode.durable_mode = inode.mode\n\n",
        "        inode.durable_data = bytes(inode.data)\n        inode.durable_mode = inode.mode\n"
        "        if inode.parent is not None:\n            inode.parent.durable_entries[inode.name] = inode\n\n",
    ),
    "fsyncdir makes nothing durable": (
        "        directory.durable_entries = dict(directory.entries)\n        directory.durable_mode = directory.mode\n",
        "        pass\n",
    ),
    "every write is durable at once": (
        "        data[off : off + len(buf)] = buf\n",
        "        data[off : off + len(buf)] = buf\n        inode.durable_data = bytes(data)\n",
    ),
    "a rename is durable at once": (
        "        new_directory.entries[name_new] = inode\n        inode.parent, inode.name = new_directory, name_new\n",
        "        new_directory.entries[name_new] = inode\n        inode.parent, inode.name = new_directory, name_new\n"
        "        old_directory.durable_entries.pop(name_old, None)\n        new_directory.durable_entries[name_new] = inode\n",
    ),
    "a crash does not freeze the file system": ("        self.crashed = True\n", "        self.crashed = False\n"),
    "--seed copies a hard link as a file of its own": (
        "                if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and key in seen:\n",
        "                if False:\n",
    ),
    "a setxattr is durable at once": (
        "        node.xattrs[bytes(name)] = bytes(value)\n",
        "        node.xattrs[bytes(name)] = bytes(value)\n        node.durable_xattrs[bytes(name)] = bytes(value)\n",
    ),
}


def validate_mutants(simulator_class, script):
    """Runs the validation on each mutant of `script`; 0 when every one is caught."""
    with open(script) as source:
        original = source.read()
    caught = 0
    directory = tempfile.mkdtemp(prefix="lazyfs-mutants-")
    try:
        for name, (before, after) in MUTANTS.items():
            if original.count(before) != 1:
                print(f"MUTANT DOES NOT APPLY: {name}")
                continue
            path = os.path.join(directory, "lazyfs.py")
            with open(path, "w") as out:
                out.write(original.replace(before, after))
            status = validate(lambda *a, **k: simulator_class(*a, **k, script=path), quiet=True)
            caught += status != 0
            print(f"{'caught' if status else 'NOT CAUGHT'}: mutant simulator where {name}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"mutants: {caught} of {len(MUTANTS)} caught")
    return 0 if caught == len(MUTANTS) else 1
