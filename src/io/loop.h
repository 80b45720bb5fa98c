/* The I/O loop: endpoints, their UDP sockets, one epoll set, the monotonic clock. Each turn
 * waits until a socket is readable or the earliest endpoint timer is due, feeds every
 * waiting datagram to its endpoint (with the local address it came to), runs due timers,
 * lets the application react to events (its callback), then sends everything the endpoints
 * have to send, each datagram from the socket of its path's local address. */
#ifndef RQ_IO_LOOP_H
#define RQ_IO_LOOP_H

#include "io/udp.h"

#include <roamquic/roamquic.h>

#define RQ_IO_MAX_ENDPOINTS 8
#define RQ_IO_MAX_SOCKETS   16

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

/* One turn, waiting at most max_wait. 0 or RQ_ERR_IO (epoll failed). */
int rq_io_turn(rq_io_loop *l, rq_time max_wait);

#endif
