// SIOCOUTQ, SIOCOUTQNSD and the newer TCP_INFO fields, which Swift's Glibc module does not
// offer (the ioctl numbers live in <linux/sockios.h>, tcpi_snd_wnd in <linux/tcp.h>).
#include "xfer_tcp.h"

#include <errno.h>
#include <string.h>

#ifdef __linux__
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#endif

int xfer_tcp_queue(int fd, struct xfer_tcp_queue *out) {
#ifdef __linux__
    int unacknowledged = 0, unsent = 0;
    if (ioctl(fd, SIOCOUTQ, &unacknowledged) != 0) return -1;
    if (ioctl(fd, SIOCOUTQNSD, &unsent) != 0) unsent = 0;
    struct tcp_info info;
    memset(&info, 0, sizeof info);
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    out->unacknowledged = unacknowledged < 0 ? 0 : (uint32_t)unacknowledged;
    out->unsent = unsent < 0 ? 0 : (uint32_t)unsent;
    out->state = info.tcpi_state;
    out->peer_window = length >= offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof info.tcpi_snd_wnd
                           ? info.tcpi_snd_wnd
                           : UINT32_MAX;
    out->rtt_us = info.tcpi_rtt;
    out->retransmitted = info.tcpi_total_retrans;
    return 0;
#else
    (void)fd;
    memset(out, 0, sizeof *out);
    errno = ENOSYS;
    return -1;
#endif
}
