#!/usr/bin/python3
"""A FUSE file system that forgets, at a simulated power loss, whatever was not synced.

After LazyFS (dsrhaslab/lazyfs), in memory, for xfer's power-loss tests (issue 16).

Semantics modelled
------------------
Every inode has two states: the *volatile* one (what processes see while the machine
runs) and the *durable* one (what a power loss leaves). All operations act on the
volatile state; only these promote it to the durable one:

- ``fsync``/``fdatasync`` of a file: the file's content, size and mode become durable
  (both promote the same: fdatasync's "metadata needed to read the data" is the size).
  ``fsync`` (not ``fdatasync``) also makes the file's extended attributes durable, all
  of them as they are now: set, replaced and removed ones (xfer keeps a partial's
  destination in ``user.xfer.name`` and a blocks partial's verified blocks in
  ``user.xfer.blocks``, and syncs the file to keep them).
- ``fsync`` of a directory (FUSE ``fsyncdir``): the directory's entries become durable,
  exactly as they are now: new names (create, mkdir, link, rename's target), removed
  names (unlink, rmdir, rename's source) and replaced names (rename over a file).
  Each directory has its own durable entries: a rename between two directories is
  durable in each only once each is synced (sync only the target, and a power loss
  leaves the file under both names, as hard links of one inode). This is harsher than
  ext4, XFS or btrfs, whose journals make a rename atomic across both directories, and
  allowed by POSIX, which promises nothing about crashes.

Nothing else makes anything durable: not ``close``, not ``sync_file_range`` (never
reaches FUSE), not ``syncfs`` or ``sync`` (the kernel passes them to FUSE daemons only
for virtiofs), not the fsync of a file for its own directory entry (a new file whose
directory is not synced is gone after a power loss, even if its data was synced). A
file whose entry is durable but whose data never was comes back empty, without extended
attributes. Writes may come at any offset (``pwrite``, a hole filled with zeros), from
several threads on one descriptor (the kernel passes them one by one).

A *crash* (the control command ``crash``, or ``arm KIND N``: crash when the Nth
operation of KIND arrives, before it is applied) freezes the file system: that and
every later operation fails with EIO, and the process registered with ``victim PID``
(the receiver) is killed with SIGKILL at once, as a power loss would. ``arm KIND N
kill`` kills the victim there without a power loss: that operation fails with EIO, is
not applied, and the file system goes on with its volatile state (a process crash).
``arm KIND N eio`` fails that one operation with EIO, unapplied, and goes on (a
transient I/O error; the next sync works normally, where Linux may instead have dropped
the dirty pages whose write-back failed: not modelled). ``image DIR``
then writes the durable state into DIR (a plain directory tree) for checking.

Not modelled
------------
Torn or reordered writes within a file (a synced file is all new, an unsynced file all
old), a partly durable directory (all of its entries or none), metadata other than the
mode (times and owners come back as the image writer's), data that the kernel's
write-back would have persisted anyway before the crash (we assume the worst: none), the
journalling behaviour of real file systems (ext4 usually persists a new entry with a
file's fsync; we do not, as POSIX does not promise it), extended attributes of
directories and symbolic links (kept, never durable), limits on attribute names and
sizes, O_TMPFILE (the kernel answers EOPNOTSUPP: pyfuse3 3.2 has no tmpfile
operation), fallocate (EOPNOTSUPP), symbolic links beyond create/read (durable like
other entries), and locks: ``flock`` is not implemented here, so the kernel keeps flock
locks locally, which works between the processes of this machine. ``statfs`` reports a
64 GiB disk less what the files hold, so that free-space checks pass. (With getxattr
implemented, the kernel asks for ``security.capability`` before each write, answered
ENODATA: one more request per write.)

Usage
-----
    lazyfs.py MOUNTPOINT --control SOCKET [--seed DIR]

prints ``lazyfs: ready`` on stdout once mounted. ``--seed DIR`` starts from a copy of
DIR, all of it durable: the user extended attributes of its files too, and its hard links
as links of one inode (an image holds a file under two names when a rename between two
directories was synced at one end only). Control commands, one line each on the UNIX
socket, each answered with one JSON line:

- ``crash``: lose power now.
- ``arm KIND N [kill|eio]``: crash (or kill the victim, or fail with EIO) when the Nth
  operation of KIND arrives; counting restarts here. KIND is a counted operation below,
  ``nonwrite`` (all but ``write``) or ``any``; N = 0 only counts.
- ``disarm``: forget the armed operation (counting goes on).
- ``victim PID``: the process a crash kills (the receiver).
- ``cut PID BYTES``: kill PID with SIGKILL once BYTES more bytes were written (a
  sender cut mid-stream at a known point).
- ``jitter SECONDS [SEED]``: each fsync and fsyncdir first waits a random time up to
  SECONDS while other operations go on (syncs take time on real disks; this varies the
  interleavings of concurrent commits).
- ``slowsync PATH SECONDS``: each fsyncdir of the directory PATH (from the mount
  point, e.g. ``/target``) waits SECONDS first, other operations going on (a window in
  which a concurrent commit can be caught).
- ``stats [log]``: counts since the last ``arm``, whether and where it crashed, and
  with ``log`` the counted operations in order.
- ``sync``: make everything durable now (for setting a scenario up).
- ``image DIR``: write the durable state into DIR (with each file's durable extended
  attributes: DIR must be on a file system with user attributes, as ext4, XFS, btrfs
  and tmpfs since Linux 6.6 are).
- ``quit``: unmount and exit.

Counted operations: create mkdir mknod symlink link rename unlink rmdir setattr setxattr
removexattr write fsync fsyncdir.
"""

import argparse
import errno
import json
import os
import random
import signal
import socket
import stat
import threading
import time

import pyfuse3
import trio

COUNTED = (
    "create mkdir mknod symlink link rename unlink rmdir setattr setxattr removexattr write fsync fsyncdir".split()
)
# The most operations the log keeps (the driver names crash points from it).
LOG_LIMIT = 100_000


class Inode:
    """A file, directory or symbolic link: its volatile state and its durable state."""

    def __init__(self, number, mode, uid=0, gid=0):
        self.number = number
        self.mode = mode  # type and permission bits (volatile)
        self.uid, self.gid = uid, gid
        now = time.time_ns()
        self.atime = self.mtime = self.ctime = now
        self.nlink = 0  # volatile links
        self.parent, self.name = None, b""  # one volatile name, for the operation log
        if stat.S_ISDIR(mode):
            self.entries = {}  # name (bytes) -> Inode, volatile
            self.durable_entries = {}  # name -> Inode, as of the last fsyncdir
        else:
            self.data = bytearray()  # volatile content (a link's target for symlinks)
            self.durable_data = None  # content as of the last fsync; None: never synced
        self.durable_mode = mode
        self.xattrs = {}  # name (bytes) -> value (bytes), volatile
        self.durable_xattrs = {}  # as of the last fsync (files only)

    @property
    def is_dir(self):
        return stat.S_ISDIR(self.mode)

    def path(self):
        parts, node = [], self
        while node is not None and node.parent is not None:
            parts.append(node.name.decode(errors="replace"))
            node = node.parent
        return "/" + "/".join(reversed(parts))


class LazyFS(pyfuse3.Operations):
    enable_writeback_cache = False  # every write reaches us, in order

    def __init__(self):
        super().__init__()
        self.inodes = {}  # number -> Inode (kept for the life of the mount: no forget)
        self.next_inode = pyfuse3.ROOT_INODE
        self.root = self._new(stat.S_IFDIR | 0o755)
        self.root.nlink = 2
        self.handles = {}  # file handle -> Inode, or a directory listing
        self.next_handle = 1
        self.crashed = False
        self.victim = None
        self.counts = {}
        self.armed = None  # (kind, n, action): action "crash", "kill" or "eio"
        self.jitter = 0.0  # syncs wait up to this many seconds first (see "jitter")
        self.slow = {}  # directory path -> seconds each of its fsyncdir waits (see "slowsync")
        self.random = random.Random(0)
        self.log = []
        self.cut = None  # [pid, bytes]: kill pid once this many more bytes were written

    # MARK: the state machine

    def _new(self, mode, ctx=None):
        inode = Inode(self.next_inode, mode, ctx.uid if ctx else 0, ctx.gid if ctx else 0)
        self.inodes[inode.number] = inode
        self.next_inode += 1
        return inode

    def _operation(self, kind, inode=None, name=b"", to=None, attribute=None):
        """Called first by every operation: EIO once crashed; counts, logs and crashes
        when the armed operation arrives (before applying it)."""
        if self.crashed:
            raise pyfuse3.FUSEError(errno.EIO)
        if kind not in COUNTED:
            return
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.counts["any"] = self.counts.get("any", 0) + 1
        if kind != "write":
            self.counts["nonwrite"] = self.counts.get("nonwrite", 0) + 1
        where = inode.path() if inode is not None else ""
        if name:
            where = where.rstrip("/") + "/" + name.decode(errors="replace")
        if attribute is not None:
            where += " " + attribute.decode(errors="replace")
        if to is not None:
            where += " -> " + to[0].path().rstrip("/") + "/" + to[1].decode(errors="replace")
        if len(self.log) < LOG_LIMIT:
            self.log.append(f"{kind} {where}")
        if self.armed and self.armed[1] > 0 and self.counts.get(self.armed[0], 0) == self.armed[1]:
            what = f"at {self.armed[0]} #{self.armed[1]}: {kind} {where}"
            if self.armed[2] == "eio":
                # A transient I/O error: this operation alone fails, unapplied.
                self.error_reason = what
            elif self.armed[2] == "kill":
                # A process crash, not a power loss: the victim dies, the file system
                # (and its volatile state) lives on.
                self.kill_reason = what
                self._kill_victim()
            else:
                self.crash(what)
            raise pyfuse3.FUSEError(errno.EIO)

    async def _jitter(self):
        """A sync takes time on a real disk, and other operations go on meanwhile: a
        random wait (with "jitter" set) lets the driver meet other interleavings."""
        if self.jitter:
            await trio.sleep(self.random.uniform(0, self.jitter))

    def crash(self, why="on command"):
        if self.crashed:
            return
        self.crashed = True
        self.crash_reason = why
        self._kill_victim()

    def _kill_victim(self):
        if self.victim:
            try:
                os.kill(self.victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.victim = None

    def sync_all(self):
        """Makes the whole volatile state durable (for setting a scenario up)."""
        for inode in self.inodes.values():
            if inode.is_dir:
                inode.durable_entries = dict(inode.entries)
            else:
                inode.durable_data = bytes(inode.data)
                inode.durable_xattrs = dict(inode.xattrs)
            inode.durable_mode = inode.mode

    def write_image(self, target):
        """Writes the durable tree into `target` (an existing empty directory). An inode
        reachable under several names becomes hard links; a directory reachable twice (a
        directory rename synced at one end only) is written once."""
        written = {}  # inode number -> first path written
        counts = {"files": 0, "directories": 0, "hard_links": 0, "skipped_directories": 0, "attributes": 0}

        def walk(directory, path):
            for name, inode in sorted(directory.durable_entries.items()):
                child = os.path.join(path, os.fsdecode(name))
                if inode.is_dir:
                    if inode.number in written:
                        counts["skipped_directories"] += 1
                        continue
                    written[inode.number] = child
                    os.mkdir(child, 0o700)
                    walk(inode, child)
                    os.chmod(child, stat.S_IMODE(inode.durable_mode))
                    counts["directories"] += 1
                elif inode.number in written:
                    os.link(written[inode.number], child)
                    counts["hard_links"] += 1
                elif stat.S_ISLNK(inode.mode):
                    os.symlink(bytes(inode.durable_data or b""), child)
                    written[inode.number] = child
                else:
                    with open(child, "wb") as out:
                        out.write(inode.durable_data or b"")
                    for key, value in sorted(inode.durable_xattrs.items()):
                        os.setxattr(child, key, value)
                        counts["attributes"] += 1
                    os.chmod(child, stat.S_IMODE(inode.durable_mode))
                    written[inode.number] = child
                    counts["files"] += 1

        walk(self.root, target)
        return counts

    def seed(self, source):
        """Copies the tree at `source` in, all durable. Hard links stay links of one inode
        (as an image writes a file left under two names by a rename synced at one end)."""
        seen = {}  # (device, inode number) in `source` -> Inode

        def load(directory, path):
            for entry in os.scandir(path):
                info = entry.stat(follow_symlinks=False)
                key = (info.st_dev, info.st_ino)
                if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and key in seen:
                    self._link(directory, os.fsencode(entry.name), seen[key])
                    continue
                inode = self._new(info.st_mode)
                seen[key] = inode
                self._link(directory, os.fsencode(entry.name), inode)
                if entry.is_dir(follow_symlinks=False):
                    inode.nlink += 1
                    directory.nlink += 1
                    load(inode, entry.path)
                elif entry.is_symlink():
                    inode.data = bytearray(os.fsencode(os.readlink(entry.path)))
                else:
                    with open(entry.path, "rb") as source_file:
                        inode.data = bytearray(source_file.read())
                    for key in os.listxattr(entry.path):
                        if key.startswith("user."):
                            inode.xattrs[os.fsencode(key)] = os.getxattr(entry.path, key)

        load(self.root, source)
        self.sync_all()

    def _link(self, directory, name, inode):
        directory.entries[name] = inode
        inode.nlink += 1
        inode.parent, inode.name = directory, name

    def _unlink(self, directory, name):
        inode = directory.entries.pop(name)
        inode.nlink -= 1
        if inode.is_dir:
            inode.nlink -= 1  # its "."
            directory.nlink -= 1  # its ".."
        inode.ctime = time.time_ns()
        return inode

    def _child(self, parent_inode, name):
        directory = self.inodes[parent_inode]
        if not directory.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return directory, directory.entries.get(name)

    def _attributes(self, inode):
        entry = pyfuse3.EntryAttributes()
        entry.st_ino = inode.number
        entry.generation = 0
        entry.entry_timeout = entry.attr_timeout = 1.0
        entry.st_mode = inode.mode
        entry.st_nlink = max(inode.nlink, 0)
        entry.st_uid, entry.st_gid = inode.uid, inode.gid
        entry.st_rdev = 0
        entry.st_size = 0 if inode.is_dir else len(inode.data)
        entry.st_blksize = 4096
        entry.st_blocks = (entry.st_size + 511) // 512
        entry.st_atime_ns, entry.st_mtime_ns, entry.st_ctime_ns = inode.atime, inode.mtime, inode.ctime
        return entry

    # MARK: FUSE operations

    async def lookup(self, parent_inode, name, ctx=None):
        self._operation("lookup")
        _, inode = self._child(parent_inode, name)
        if inode is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attributes(inode)

    async def getattr(self, inode, ctx=None):
        self._operation("getattr")
        return self._attributes(self.inodes[inode])

    async def setattr(self, inode, attr, fields, fh, ctx):
        node = self.inodes[inode]
        self._operation("setattr", node)
        if fields.update_size:
            size = attr.st_size
            del node.data[size:]
            node.data.extend(bytes(size - len(node.data)))
            node.mtime = time.time_ns()
        if fields.update_mode:
            node.mode = stat.S_IFMT(node.mode) | stat.S_IMODE(attr.st_mode)
        if fields.update_uid:
            node.uid = attr.st_uid
        if fields.update_gid:
            node.gid = attr.st_gid
        if fields.update_atime:
            node.atime = attr.st_atime_ns
        if fields.update_mtime:
            node.mtime = attr.st_mtime_ns
        node.ctime = time.time_ns()
        return self._attributes(node)

    async def access(self, inode, mode, ctx):
        self._operation("access")
        return True

    async def statfs(self, ctx):
        self._operation("statfs")
        info = pyfuse3.StatvfsData()
        used = sum(len(i.data) for i in self.inodes.values() if not i.is_dir)
        info.f_bsize = info.f_frsize = 4096
        info.f_blocks = (64 << 30) // 4096  # a 64 GiB disk: free-space checks pass
        info.f_bfree = info.f_bavail = info.f_blocks - (used + 4095) // 4096
        info.f_files = 1 << 20
        info.f_ffree = info.f_favail = info.f_files - len(self.inodes)
        info.f_namemax = 255
        return info

    async def mkdir(self, parent_inode, name, mode, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("mkdir", directory, name)
        if existing is not None:
            raise pyfuse3.FUSEError(errno.EEXIST)
        inode = self._new(stat.S_IFDIR | stat.S_IMODE(mode), ctx)
        self._link(directory, name, inode)
        inode.nlink += 1  # "."
        directory.nlink += 1  # ".."
        directory.mtime = directory.ctime = time.time_ns()
        return self._attributes(inode)

    async def mknod(self, parent_inode, name, mode, rdev, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("mknod", directory, name)
        if existing is not None:
            raise pyfuse3.FUSEError(errno.EEXIST)
        if not stat.S_ISREG(mode):
            raise pyfuse3.FUSEError(errno.EPERM)
        inode = self._new(mode, ctx)
        self._link(directory, name, inode)
        return self._attributes(inode)

    async def symlink(self, parent_inode, name, target, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("symlink", directory, name)
        if existing is not None:
            raise pyfuse3.FUSEError(errno.EEXIST)
        inode = self._new(stat.S_IFLNK | 0o777, ctx)
        inode.data = bytearray(target)
        self._link(directory, name, inode)
        return self._attributes(inode)

    async def readlink(self, inode, ctx):
        self._operation("readlink")
        return bytes(self.inodes[inode].data)

    async def link(self, inode, new_parent_inode, new_name, ctx):
        directory, existing = self._child(new_parent_inode, new_name)
        self._operation("link", directory, new_name)
        if existing is not None:
            raise pyfuse3.FUSEError(errno.EEXIST)
        node = self.inodes[inode]
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EPERM)
        self._link(directory, new_name, node)
        node.ctime = time.time_ns()
        return self._attributes(node)

    async def unlink(self, parent_inode, name, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("unlink", directory, name)
        if existing is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        if existing.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        self._unlink(directory, name)
        directory.mtime = directory.ctime = time.time_ns()

    async def rmdir(self, parent_inode, name, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("rmdir", directory, name)
        if existing is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        if not existing.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if existing.entries:
            raise pyfuse3.FUSEError(errno.ENOTEMPTY)
        self._unlink(directory, name)
        directory.mtime = directory.ctime = time.time_ns()

    async def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        old_directory, inode = self._child(parent_inode_old, name_old)
        new_directory, existing = self._child(parent_inode_new, name_new)
        self._operation("rename", old_directory, name_old, to=(new_directory, name_new))
        if inode is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        if flags & pyfuse3.RENAME_EXCHANGE:
            if existing is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            old_directory.entries[name_old], new_directory.entries[name_new] = existing, inode
            existing.parent, existing.name = old_directory, name_old
            inode.parent, inode.name = new_directory, name_new
            return
        if existing is not None:
            if flags & pyfuse3.RENAME_NOREPLACE:
                raise pyfuse3.FUSEError(errno.EEXIST)
            if existing is inode:
                return
            if inode.is_dir != existing.is_dir:
                raise pyfuse3.FUSEError(errno.EISDIR if existing.is_dir else errno.ENOTDIR)
            if existing.is_dir and existing.entries:
                raise pyfuse3.FUSEError(errno.ENOTEMPTY)
            self._unlink(new_directory, name_new)
        if inode.is_dir:
            # A directory may not move into itself or below.
            node = new_directory
            while node is not None:
                if node is inode:
                    raise pyfuse3.FUSEError(errno.EINVAL)
                node = node.parent
        # Keep link counts as _link/_unlink would, without counting the move twice.
        del old_directory.entries[name_old]
        new_directory.entries[name_new] = inode
        inode.parent, inode.name = new_directory, name_new
        if inode.is_dir and old_directory is not new_directory:
            old_directory.nlink -= 1
            new_directory.nlink += 1
        now = time.time_ns()
        inode.ctime = old_directory.mtime = new_directory.mtime = now

    async def opendir(self, inode, ctx):
        self._operation("opendir")
        directory = self.inodes[inode]
        if not directory.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = (directory, None)
        return handle

    async def readdir(self, fh, start_id, token):
        self._operation("readdir")
        directory, listing = self.handles[fh]
        if listing is None or start_id == 0:
            # A listing fixed at the first read, so offsets stay meaningful.
            listing = sorted(directory.entries.items())
            self.handles[fh] = (directory, listing)
        for index in range(start_id, len(listing)):
            name, inode = listing[index]
            if not pyfuse3.readdir_reply(token, name, self._attributes(inode), index + 1):
                break

    async def releasedir(self, fh):
        self.handles.pop(fh, None)

    async def fsyncdir(self, fh, datasync):
        await self._jitter()
        directory, _ = self.handles[fh]
        if directory.path() in self.slow:
            await trio.sleep(self.slow[directory.path()])
        self._operation("fsyncdir", directory)
        directory.durable_entries = dict(directory.entries)
        directory.durable_mode = directory.mode

    async def open(self, inode, flags, ctx):
        self._operation("open")
        node = self.inodes[inode]
        if flags & os.O_TRUNC:
            self._operation("setattr", node)
            node.data.clear()
            node.mtime = node.ctime = time.time_ns()
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = node
        return pyfuse3.FileInfo(fh=handle)

    async def create(self, parent_inode, name, mode, flags, ctx):
        directory, existing = self._child(parent_inode, name)
        self._operation("create", directory, name)
        if existing is not None:
            raise pyfuse3.FUSEError(errno.EEXIST)
        inode = self._new(stat.S_IFREG | stat.S_IMODE(mode), ctx)
        self._link(directory, name, inode)
        directory.mtime = directory.ctime = time.time_ns()
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = inode
        return pyfuse3.FileInfo(fh=handle), self._attributes(inode)

    async def read(self, fh, off, size):
        self._operation("read")
        return bytes(self.handles[fh].data[off : off + size])

    async def write(self, fh, off, buf):
        inode = self.handles[fh]
        self._operation("write", inode)
        if self.cut:
            self.cut[1] -= len(buf)
            if self.cut[1] <= 0:
                # A sender cut mid-stream, at a point known in the receiver's writes.
                try:
                    os.kill(self.cut[0], signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.cut = None
        data = inode.data
        if off > len(data):
            data.extend(bytes(off - len(data)))
        data[off : off + len(buf)] = buf
        inode.mtime = inode.ctime = time.time_ns()
        return len(buf)

    async def flush(self, fh):
        self._operation("flush")

    async def release(self, fh):
        self.handles.pop(fh, None)

    async def fsync(self, fh, datasync):
        await self._jitter()
        inode = self.handles[fh]
        self._operation("fsync", inode)
        if not datasync:
            # Extended attributes are metadata that reading the data does not need.
            inode.durable_xattrs = dict(inode.xattrs)
        inode.durable_data = bytes(inode.data)
        inode.durable_mode = inode.mode

    # Extended attributes: volatile until the file's fsync (see the module's doc).

    async def setxattr(self, inode, name, value, ctx):
        node = self.inodes[inode]
        self._operation("setxattr", node, attribute=name)
        node.xattrs[bytes(name)] = bytes(value)
        node.ctime = time.time_ns()

    async def getxattr(self, inode, name, ctx):
        self._operation("getxattr")
        value = self.inodes[inode].xattrs.get(bytes(name))
        if value is None:
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR)
        return value

    async def listxattr(self, inode, ctx):
        self._operation("listxattr")
        return list(self.inodes[inode].xattrs)

    async def removexattr(self, inode, name, ctx):
        node = self.inodes[inode]
        self._operation("removexattr", node, attribute=name)
        if node.xattrs.pop(bytes(name), None) is None:
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR)
        node.ctime = time.time_ns()

    # MARK: control

    def command(self, line):
        """Runs one control command (in the trio thread: no FUSE operation runs meanwhile)."""
        words = line.split()
        if not words:
            return {"error": "empty command"}
        verb, arguments = words[0], words[1:]
        if verb == "crash":
            self.crash()
            return {"ok": True}
        if verb == "arm":
            kind, n = arguments[0], int(arguments[1])
            action = arguments[2] if len(arguments) > 2 else "crash"
            self.armed, self.counts, self.log = (kind, n, action), {}, []
            return {"ok": True}
        if verb == "slowsync":
            self.slow[arguments[0]] = float(arguments[1])
            return {"ok": True}
        if verb == "disarm":
            self.armed = None
            return {"ok": True}
        if verb == "jitter":
            self.jitter = float(arguments[0])
            self.random.seed(int(arguments[1]) if len(arguments) > 1 else 0)
            return {"ok": True}
        if verb == "cut":
            self.cut = [int(arguments[0]), int(arguments[1])]
            return {"ok": True}
        if verb == "victim":
            self.victim = int(arguments[0])
            return {"ok": True}
        if verb == "stats":
            return {
                "ok": True,
                "crashed": self.crashed,
                "reason": getattr(self, "crash_reason", None),
                "killed": getattr(self, "kill_reason", None),
                "failed": getattr(self, "error_reason", None),
                "counts": self.counts,
                "log": self.log if "log" in arguments else None,
            }
        if verb == "sync":
            self.sync_all()
            return {"ok": True}
        if verb == "image":
            return {"ok": True, **self.write_image(arguments[0])}
        return {"error": f"unknown command {verb!r}"}


def serve_control(fs, listener, token):
    """Answers control commands on a UNIX socket, each run inside the trio loop."""
    while True:
        connection, _ = listener.accept()
        with connection, connection.makefile("rwb") as stream:
            for raw in stream:
                line = raw.decode().strip()
                if line == "quit":
                    stream.write(b'{"ok": true}\n')
                    stream.flush()
                    trio.from_thread.run_sync(pyfuse3.terminate, trio_token=token)
                    return
                try:
                    answer = trio.from_thread.run_sync(fs.command, line, trio_token=token)
                except Exception as error:  # report, keep serving
                    answer = {"error": repr(error)}
                stream.write((json.dumps(answer) + "\n").encode())
                stream.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mountpoint")
    parser.add_argument("--control", required=True, help="UNIX socket for control commands")
    parser.add_argument("--seed", help="start from a copy of this directory, all durable")
    arguments = parser.parse_args()

    fs = LazyFS()
    if arguments.seed:
        fs.seed(arguments.seed)
    options = set(pyfuse3.default_options)
    options.add("fsname=lazyfs")
    options.discard("default_permissions")  # root does everything; we check nothing
    # Listening before "ready" is printed: the driver may connect as soon as it reads it.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(arguments.control)
    listener.listen(8)
    pyfuse3.init(fs, arguments.mountpoint, options)

    async def run():
        token = trio.lowlevel.current_trio_token()
        threading.Thread(
            target=serve_control, args=(fs, listener, token), daemon=True
        ).start()
        print("lazyfs: ready", flush=True)
        await pyfuse3.main()

    try:
        trio.run(run)
    finally:
        pyfuse3.close(unmount=True)


if __name__ == "__main__":
    main()
