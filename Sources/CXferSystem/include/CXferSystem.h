#ifndef CXFER_SYSTEM_H
#define CXFER_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xfer_tcp.h"

/// Starts write-back of a file range without waiting (Linux `sync_file_range` with
/// SYNC_FILE_RANGE_WRITE); elsewhere a no-op. Returns 0 or -1 with errno.
int xfer_start_writeback(int fd, int64_t offset, int64_t length);

/// Waits until write-back of a file range has completed (SYNC_FILE_RANGE_WAIT_BEFORE |
/// WRITE | WAIT_AFTER). Not a durability promise: metadata and the device cache are not
/// flushed; `fsync` does that. Returns 0 or -1 with errno.
int xfer_wait_writeback(int fd, int64_t offset, int64_t length);

/// Syncs the whole file system holding `fd` (Linux `syncfs`); elsewhere `sync()`.
/// One call commits a batch of files. Returns 0 or -1 with errno.
int xfer_sync_filesystem(int fd);

/// The ID of the mount holding `fd` (Linux `statx` STATX_MNT_ID, 5.8+): two directories
/// on one file system but different mounts (a bind mount) cannot rename into each other.
/// Returns 0 or -1 with errno (ENOSYS/EINVAL where the kernel cannot tell).
int xfer_mount_id(int fd, uint64_t *mount_id);

/// Gives the kernel back the free pages inside every malloc arena (glibc `malloc_trim(0)`,
/// which since 2.8 also releases whole free pages in the middle of a heap); elsewhere a
/// no-op. A thread's arena keeps what a burst freed until then. Returns 1 if memory was
/// released.
int xfer_release_free_memory(void);

/// The type of the file system holding `fd` (`fstatfs`'s f_type, as an unsigned 32-bit
/// magic number): whether `syncfs` is a data barrier there depends on it.
/// Returns 0 or -1 with errno.
int xfer_filesystem_type(int fd, uint64_t *type);

/// Extended attributes of an open file (Linux `fsetxattr`, `fgetxattr`, `fremovexattr`;
/// elsewhere -1 with ENOTSUP). Return as those do: 0, or the value's length, or -1 with errno.
int xfer_set_attribute(int fd, const char *name, const void *value, size_t size);
long xfer_get_attribute(int fd, const char *name, void *value, size_t size);
int xfer_remove_attribute(int fd, const char *name);


/// accept4 with SOCK_CLOEXEC: an accepted connection is never inherited by a program the
/// receiver starts (`--exec`). Returns the descriptor, or -1 with errno.
int xfer_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length);

#endif
