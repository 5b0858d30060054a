// GNU extensions that Swift's Glibc module does not import (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include "CXferSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/stat.h>
#include <sys/vfs.h>
#endif

int xfer_start_writeback(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int xfer_wait_writeback(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    return sync_file_range(fd, offset, length,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int xfer_sync_filesystem(int fd) {
#ifdef __linux__
    return syncfs(fd);
#else
    (void)fd;
    sync();
    return 0;
#endif
}

int xfer_mount_id(int fd, uint64_t *mount_id) {
#if defined(__linux__) && defined(STATX_MNT_ID)
    struct statx info;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &info) != 0) return -1;
    if (!(info.stx_mask & STATX_MNT_ID)) { errno = EINVAL; return -1; }
    *mount_id = info.stx_mnt_id;
    return 0;
#else
    (void)fd; (void)mount_id;
    errno = ENOSYS;
    return -1;
#endif
}

int xfer_filesystem_type(int fd, uint64_t *type) {
#ifdef __linux__
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    *type = (uint64_t)(uint32_t)info.f_type;
    return 0;
#else
    (void)fd; (void)type;
    errno = ENOSYS;
    return -1;
#endif
}

#ifdef __linux__
#include <sys/xattr.h>
#endif

int xfer_set_attribute(int fd, const char *name, const void *value, size_t size) {
#ifdef __linux__
    return fsetxattr(fd, name, value, size, 0);
#else
    (void)fd; (void)name; (void)value; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

long xfer_get_attribute(int fd, const char *name, void *value, size_t size) {
#ifdef __linux__
    return (long)fgetxattr(fd, name, value, size);
#else
    (void)fd; (void)name; (void)value; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

int xfer_remove_attribute(int fd, const char *name) {
#ifdef __linux__
    return fremovexattr(fd, name);
#else
    (void)fd; (void)name;
    errno = ENOTSUP;
    return -1;
#endif
}

int xfer_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_CLOEXEC);
}
