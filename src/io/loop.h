/* The I/O loop: endpoints, their UDP sockets, one epoll set, the monotonic clock. Each turn
 * waits until a socket is readable or the earliest endpoint timer is due, feeds every
 * waiting datagram to its endpoint (with the local address it came to), runs due timers,
 * lets the application react to events (its callback), then sends everything the endpoints
 * have to send, each datagram from the socket of its path's local address.
 *
 * Datagrams move in batches: many per recvmmsg, and an endpoint's datagrams are collected
 * (up to RQ_IO_TX_BATCH) and sent per socket with sendmmsg, with UDP GSO coalescing those of
 * one path and size into one buffer, and UDP GRO on receive, both where the kernel supports
 * them (rq_io_set_gso turns them off). A full socket buffer does not drop datagrams: the
 * endpoint's collected datagrams wait, in order, until the socket is writable (EPOLLOUT),
 * and the endpoint is not asked for more meanwhile. */
#ifndef RQ_IO_LOOP_H
#define RQ_IO_LOOP_H

#include "io/udp.h"

#include <roamquic/roamquic.h>

#define RQ_IO_MAX_ENDPOINTS 8
#define RQ_IO_MAX_SOCKETS   16
#define RQ_IO_TX_BATCH      64 /* datagrams collected from an endpoint before they go out */
#define RQ_IO_RX_BATCH      32 /* buffers per recvmmsg (each can hold a GRO train) */

typedef struct rq_io_loop rq_io_loop;

/* Called once a turn per endpoint, after its datagrams and timers: poll its events here. */
typedef void (*rq_io_events_fn)(void *ctx, rq_endpoint *ep, rq_time now);

/* The monotonic clock, in nanoseconds: the time every endpoint call of the loop gets. */
rq_time rq_io_now(void);

/* A new loop, or NULL (no memory, or epoll refused). */
rq_io_loop *rq_io_loop_new(void);
void rq_io_loop_free(rq_io_loop *l);

/* Adds an endpoint (borrowed) and its event callback; *index receives its number.
 * RQ_ERR_LIMIT when RQ_IO_MAX_ENDPOINTS are in. */
int rq_io_add_endpoint(rq_io_loop *l, rq_endpoint *ep, rq_io_events_fn fn, void *ctx,
                       size_t *index);

/* Opens a socket bound to `addr` for endpoint `index` (several per endpoint: a client moving
 * between local addresses); *bound (may be NULL) receives the address with its port.
 * RQ_ERR_INVALID_ARG, RQ_ERR_LIMIT, RQ_ERR_IO. */
int rq_io_add_socket(rq_io_loop *l, size_t index, const rq_addr *addr, rq_addr *bound);

/* Closes endpoint `index`'s socket bound to `addr` (an interface that went away). */
void rq_io_remove_socket(rq_io_loop *l, size_t index, const rq_addr *addr);

/* FOR TESTING (the client's --nat-rebind-after): replaces endpoint `index`'s socket known as
 * `addr` by a new one on the same IP address and another port, while the endpoint keeps seeing
 * `addr`: datagrams it sends from addr leave from the new port, datagrams arriving there are
 * handed in as addressed to addr. That is what a NAT rebinding looks like from the peer: same
 * connection ID, a new source port, no probing (RFC 9000 §9.3). *now_from (may be NULL) gets
 * the new address. RQ_ERR_INVALID_ARG (no such socket), RQ_ERR_IO. */
int rq_io_rebind_silently(rq_io_loop *l, size_t index, const rq_addr *addr, rq_addr *now_from);

/* One turn, waiting at most max_wait. 0 or RQ_ERR_IO (epoll failed). */
int rq_io_turn(rq_io_loop *l, rq_time max_wait);

/* Turns the kernel's UDP offloads, GSO on send and GRO on receive, on or off for every socket
 * of the loop, those open and those added later. On by default where the kernel supports
 * them; off, every datagram is its own buffer both ways (what a packet capture wants, the
 * tools' --no-gso). A socket whose kernel refused GSO stays without it. Set it before
 * traffic flows: buffers the kernel coalesced while GRO was on and that are still queued
 * when it is turned off arrive without their segment size (and are lost). */
void rq_io_set_gso(rq_io_loop *l, bool on);

/* The loop's counters (udp.h): those of its open sockets, of the sockets it closed, and its
 * own (send_no_socket). */
void rq_io_get_stats(const rq_io_loop *l, rq_io_stats *st);

#endif
