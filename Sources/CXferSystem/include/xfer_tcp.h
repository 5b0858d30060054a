#ifndef CXFER_TCP_H
#define CXFER_TCP_H

#include <stdint.h>

/// What the local kernel knows about a TCP connection's send side, for raw mode: how much
/// the peer's TCP has not acknowledged yet. Linux only (SIOCOUTQ, SIOCOUTQNSD, TCP_INFO).
struct xfer_tcp_queue {
    /// Bytes written but not yet acknowledged by the peer's TCP (SIOCOUTQ, which is TIOCOUTQ
    /// on Linux: write_seq - snd_una). After shutdown(SHUT_WR) the FIN counts as one more
    /// byte, so 0 then means every byte and the FIN were acknowledged.
    uint32_t unacknowledged;
    /// Of those, bytes not sent at all yet (SIOCOUTQNSD): held back by the peer's receive
    /// window or by congestion control.
    uint32_t unsent;
    /// The connection's state (tcpi_state: 1 ESTABLISHED, 4 FIN_WAIT1, 5 FIN_WAIT2, 7 CLOSE,
    /// 8 CLOSE_WAIT, 11 CLOSING, ...).
    uint8_t state;
    /// The receive window the peer last advertised, in bytes (tcpi_snd_wnd); UINT32_MAX when
    /// this kernel does not report it. 0 means the peer's application is not reading.
    uint32_t peer_window;
    /// Smoothed round-trip time in microseconds (tcpi_rtt).
    uint32_t rtt_us;
    /// Segments retransmitted over the connection's life (tcpi_total_retrans).
    uint32_t retransmitted;
};

/// Fills `out` for the TCP socket `fd`. Returns 0, or -1 with errno (ENOSYS where the
/// system has no such counters: everywhere but Linux).
int xfer_tcp_queue(int fd, struct xfer_tcp_queue *out);

#endif
