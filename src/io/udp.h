/* UDP sockets for QUIC (the I/O layer: the only code that makes system calls).
 *
 * A socket is non-blocking, IPv4 or IPv6 (v6-only), with don't-fragment set (IP_MTU_DISCOVER
 * = IP_PMTUDISC_DO) so that datagram sizes are honest, and with IP_PKTINFO /
 * IPV6_RECVPKTINFO on: every received datagram says which local address it came to (a
 * server bound to a wildcard address answers from the address it was reached at, which the
 * preferred address and multi-homed servers need), and a datagram can be sent from a chosen
 * local address. IPv6 flow labels given to rq_udp_send go out where the kernel allows it
 * (IPV6_FLOWINFO_SEND). Errors are negative rq_err codes; RQ_ERR_AGAIN means "nothing now". */
#ifndef RQ_IO_UDP_H
#define RQ_IO_UDP_H

#include <roamquic/error.h>
#include <roamquic/types.h>

#include <stddef.h>
#include <stdint.h>

typedef struct rq_udp_socket {
    int fd;        /* -1 when closed */
    rq_addr local; /* the bound address, with the port the kernel chose for port 0 */
} rq_udp_socket;

/* Opens a socket bound to `bind_addr` (port 0: any). RQ_ERR_INVALID_ARG (no family),
 * RQ_ERR_IO (the kernel refused: address not available, port in use...). */
int rq_udp_open(rq_udp_socket *s, const rq_addr *bind_addr);

/* Closes it (a closed or never opened socket is fine). */
void rq_udp_close(rq_udp_socket *s);

/* Receives one datagram into buf: *len its size (RQ_ERR_BUFFER_TOO_SMALL if it did not fit),
 * path->remote the sender, path->local the address it came to. RQ_ERR_AGAIN when none waits. */
int rq_udp_recv(rq_udp_socket *s, uint8_t *buf, size_t cap, size_t *len, rq_path_addr *path);

/* Sends buf to path->remote, from path->local when it is given (family not RQ_AF_NONE; it must
 * be an address of this host), with an IPv6 flow label when flow_label is not 0.
 * RQ_ERR_AGAIN when the socket buffer is full, RQ_ERR_IO on other failures. */
int rq_udp_send(rq_udp_socket *s, const uint8_t *buf, size_t len, const rq_path_addr *path,
                uint32_t flow_label);

#endif
