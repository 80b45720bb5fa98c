/* UDP sockets for QUIC (the I/O layer: the only code that makes system calls).
 *
 * A socket is non-blocking, IPv4 or IPv6 (v6-only), with don't-fragment set (IP_MTU_DISCOVER
 * = IP_PMTUDISC_DO) so that datagram sizes are honest, and with IP_PKTINFO /
 * IPV6_RECVPKTINFO on: every received datagram says which local address it came to (a
 * server bound to a wildcard address answers from the address it was reached at, which the
 * preferred address and multi-homed servers need), and a datagram can be sent from a chosen
 * local address. IPv6 flow labels given to rq_udp_send go out where the kernel allows it
 * (IPV6_FLOWINFO_SEND). Errors are negative rq_err codes; RQ_ERR_AGAIN means "nothing now".
 *
 * Batches: rq_udp_recv_batch takes many datagrams in one recvmmsg, rq_udp_send_batch sends
 * many in one sendmmsg. Two kernel offloads, both off when a socket is opened (so that a
 * plain socket sends and receives one datagram per buffer, as a capture expects):
 *  - GSO (UDP_SEGMENT, rq_udp_set_gso): rq_udp_send_batch hands consecutive datagrams of one
 *    path (same local and remote address, same flow label) and one size (the last may be
 *    shorter) to the kernel as one buffer, which the kernel or the NIC cuts into datagrams.
 *    When the kernel refuses such a buffer (EIO: no checksum offload on the route; EINVAL:
 *    a segment larger than the route's MTU), the socket turns GSO off for good and sends the
 *    same datagrams one by one: none is lost.
 *  - GRO (UDP_GRO, rq_udp_set_gro): a received buffer may hold several datagrams of one
 *    sender, `segment` bytes each (the last may be shorter); the caller splits it.
 * ECN: the ECN bits of every received datagram are read (IP_RECVTOS / IPV6_RECVTCLASS) and
 * counted. Datagrams are sent Not-ECT: nothing validates ECN on a path yet (RFC 9000 §13.4.2),
 * so marking ECT would be a claim the stack cannot back. */
#ifndef RQ_IO_UDP_H
#define RQ_IO_UDP_H

#include <roamquic/error.h>
#include <roamquic/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ECN field of an IP header (RFC 3168 §5): the low two bits of the TOS / traffic class. */
typedef enum rq_ecn { RQ_ECN_NOT_ECT = 0, RQ_ECN_ECT1 = 1, RQ_ECN_ECT0 = 2, RQ_ECN_CE = 3 } rq_ecn;

/* The datagrams in one GSO buffer: the kernel's UDP_MAX_SEGMENTS (64 before Linux 6.9). */
#define RQ_UDP_MAX_SEGMENTS 64
/* The bytes in one GSO buffer: the largest UDP payload of an IPv4 packet. */
#define RQ_UDP_MAX_GSO_BYTES 65507
/* Messages per recvmmsg / sendmmsg call. */
#define RQ_UDP_BATCH 64

/* What the I/O layer did, counted where the system calls are made. Datagrams count one per
 * QUIC datagram, whatever buffers carried them. */
typedef struct rq_io_stats {
    uint64_t datagrams_sent;
    uint64_t send_syscalls;  /* sendmsg / sendmmsg calls, failed ones included */
    uint64_t gso_batches;    /* buffers sent holding more than one datagram */
    uint64_t gso_refused;    /* sockets that turned GSO off because the kernel refused it */
    uint64_t send_errors;    /* datagrams dropped because the kernel refused them */
    uint64_t send_no_socket; /* (loop) datagrams dropped: no socket for their local address */
    uint64_t send_blocked;   /* times a full socket buffer stopped sending (sent later) */
    uint64_t datagrams_received;
    uint64_t recv_syscalls;  /* recvmsg / recvmmsg calls, the ones finding nothing included */
    uint64_t gro_batches;    /* received buffers holding more than one datagram */
    uint64_t recv_truncated; /* buffers dropped because they did not fit */
    uint64_t recv_errors;    /* receive calls that failed (not for lack of datagrams) */
    uint64_t ecn[4];         /* received datagrams by ECN codepoint, indexed by rq_ecn */
} rq_io_stats;

typedef struct rq_udp_socket {
    int fd;           /* -1 when closed */
    rq_addr local;    /* the bound address, with the port the kernel chose for port 0 */
    bool gso;         /* rq_udp_send_batch coalesces datagrams (rq_udp_set_gso) */
    bool gro;         /* received buffers may hold several datagrams (rq_udp_set_gro) */
    bool gso_refused; /* the kernel refused a GSO buffer: never try again on this socket */
    rq_io_stats stats;
} rq_udp_socket;

/* One buffer for rq_udp_recv_batch: the caller sets buf and cap, the call fills the rest. */
typedef struct rq_udp_rx {
    uint8_t *buf;
    size_t cap;
    size_t len;
    size_t segment;    /* GRO: buf holds datagrams of `segment` bytes (the last may be shorter);
                        * 0: buf holds one datagram */
    rq_path_addr path; /* remote: the sender; local: the address it came to */
    uint8_t ecn;       /* rq_ecn of its datagrams */
    bool truncated;    /* it did not fit in cap: drop it (counted in recv_truncated) */
} rq_udp_rx;

/* One datagram for rq_udp_send_batch. */
typedef struct rq_udp_tx {
    const uint8_t *buf;
    size_t len;
    rq_path_addr path;   /* as for rq_udp_send */
    uint32_t flow_label; /* IPv6 only, 0: none */
} rq_udp_tx;

/* Opens a socket bound to `bind_addr` (port 0: any), GSO and GRO off. RQ_ERR_INVALID_ARG (no
 * family), RQ_ERR_IO (the kernel refused: address not available, port in use...). */
int rq_udp_open(rq_udp_socket *s, const rq_addr *bind_addr);

/* Closes it (a closed or never opened socket is fine). */
void rq_udp_close(rq_udp_socket *s);

/* Turns GSO on or off for rq_udp_send_batch. Off always works; on returns RQ_ERR_IO (and
 * leaves it off) when the kernel has no UDP_SEGMENT or refused it on this socket before. */
int rq_udp_set_gso(rq_udp_socket *s, bool on);

/* Turns GRO on or off (UDP_GRO). RQ_ERR_IO when the kernel refuses (no UDP_GRO: then off).
 * With GRO on, receive with rq_udp_recv_batch, which reports the segment size; rq_udp_recv
 * would hand a coalesced buffer over as one datagram. */
int rq_udp_set_gro(rq_udp_socket *s, bool on);

/* Receives one datagram into buf: *len its size (RQ_ERR_BUFFER_TOO_SMALL if it did not fit),
 * path->remote the sender, path->local the address it came to. RQ_ERR_AGAIN when none waits. */
int rq_udp_recv(rq_udp_socket *s, uint8_t *buf, size_t cap, size_t *len, rq_path_addr *path);

/* Receives up to n buffers (at most RQ_UDP_BATCH are used) in one recvmmsg: 0 and *got >= 1,
 * RQ_ERR_AGAIN when none waits, RQ_ERR_IO. *got < n means the socket had no more then. */
int rq_udp_recv_batch(rq_udp_socket *s, rq_udp_rx *rx, size_t n, size_t *got);

/* Sends buf to path->remote, from path->local when it is given (family not RQ_AF_NONE; it must
 * be an address of this host), with an IPv6 flow label when flow_label is not 0.
 * RQ_ERR_AGAIN when the socket buffer is full, RQ_ERR_IO on other failures. */
int rq_udp_send(rq_udp_socket *s, const uint8_t *buf, size_t len, const rq_path_addr *path,
                uint32_t flow_label);

/* Sends n datagrams in order, as few system calls as it can (sendmmsg, GSO when on). *done
 * receives how many were dealt with, a prefix of tx: sent, or dropped because the kernel
 * refused them (counted in send_errors). 0: all were sent. RQ_ERR_AGAIN: the socket buffer
 * filled; tx[*done..n) were not sent, try them again when the socket is writable. RQ_ERR_IO:
 * all were dealt with but some were dropped. */
int rq_udp_send_batch(rq_udp_socket *s, const rq_udp_tx *tx, size_t n, size_t *done);

#ifdef RQ_TEST_HOOKS
/* TEST ONLY (builds with RQ_TEST_HOOKS): while err is not 0, every GSO buffer fails with errno
 * err before it reaches the kernel, as if the kernel refused it (EIO, EINVAL: the fallback
 * path). Process-wide: for single-threaded tests. */
void rq_udp_test_refuse_gso(int err);

/* TEST ONLY: the next n send calls find the socket buffer full (EAGAIN), which loopback never
 * does (its datagrams leave the sender's buffer at once). */
void rq_udp_test_block_sends(int n);
#endif

#endif
