/* The I/O loop (loop.h). */
#define _GNU_SOURCE
#include "io/loop.h"

#include "core/alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct io_socket {
    rq_udp_socket s;
    size_t ep; /* the endpoint it belongs to */
    bool open;
} io_socket;

typedef struct io_endpoint {
    rq_endpoint *ep;
    rq_io_events_fn fn;
    void *ctx;
} io_endpoint;

struct rq_io_loop {
    int epfd;
    io_endpoint eps[RQ_IO_MAX_ENDPOINTS];
    size_t neps;
    io_socket socks[RQ_IO_MAX_SOCKETS];
};

rq_time rq_io_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rq_time)ts.tv_sec * 1000000000u + (rq_time)ts.tv_nsec;
}

rq_io_loop *rq_io_loop_new(void)
{
    rq_io_loop *l = rq_mem_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        rq_mem_free(l);
        return NULL;
    }
    return l;
}

void rq_io_loop_free(rq_io_loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < RQ_IO_MAX_SOCKETS; i++)
        if (l->socks[i].open)
            rq_udp_close(&l->socks[i].s);
    close(l->epfd);
    rq_mem_free(l);
}

int rq_io_add_endpoint(rq_io_loop *l, rq_endpoint *ep, rq_io_events_fn fn, void *ctx, size_t *index)
{
    if (!l || !ep || !fn || !index)
        return RQ_ERR_INVALID_ARG;
    if (l->neps == RQ_IO_MAX_ENDPOINTS)
        return RQ_ERR_LIMIT;
    l->eps[l->neps] = (io_endpoint){ep, fn, ctx};
    *index = l->neps++;
    return 0;
}

int rq_io_add_socket(rq_io_loop *l, size_t index, const rq_addr *addr, rq_addr *bound)
{
    if (!l || index >= l->neps || !addr)
        return RQ_ERR_INVALID_ARG;
    io_socket *slot = NULL;
    for (size_t i = 0; i < RQ_IO_MAX_SOCKETS && !slot; i++)
        if (!l->socks[i].open)
            slot = &l->socks[i];
    if (!slot)
        return RQ_ERR_LIMIT;
    int rc = rq_udp_open(&slot->s, addr);
    if (rc)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = slot};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, slot->s.fd, &ev) != 0) {
        rq_udp_close(&slot->s);
        return RQ_ERR_IO;
    }
    slot->ep = index;
    slot->open = true;
    if (bound)
        *bound = slot->s.local;
    return 0;
}

void rq_io_remove_socket(rq_io_loop *l, size_t index, const rq_addr *addr)
{
    for (size_t i = 0; l && i < RQ_IO_MAX_SOCKETS; i++) {
        io_socket *s = &l->socks[i];
        if (s->open && s->ep == index && rq_addr_eq(&s->s.local, addr)) {
            (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->s.fd, NULL);
            rq_udp_close(&s->s);
            s->open = false;
        }
    }
}

/* The socket of endpoint `index` a datagram from `local` leaves by: the one bound to that
 * address and port, else one bound to the wildcard address on that port (IP_PKTINFO then
 * picks the source); with no local address given, the endpoint's first socket. */
static io_socket *socket_for(rq_io_loop *l, size_t index, const rq_addr *local)
{
    static const uint8_t any[16];
    io_socket *wildcard = NULL;
    for (size_t i = 0; i < RQ_IO_MAX_SOCKETS; i++) {
        io_socket *s = &l->socks[i];
        if (!s->open || s->ep != index)
            continue;
        if (local->family == RQ_AF_NONE || rq_addr_eq(&s->s.local, local))
            return s;
        if (s->s.local.family == local->family && s->s.local.port == local->port &&
            memcmp(s->s.local.ip, any, 16) == 0)
            wildcard = s;
    }
    return wildcard;
}

static void receive_from(rq_io_loop *l, io_socket *s, rq_time now)
{
    uint8_t buf[65536];
    for (int i = 0; i < 1024; i++) {
        size_t len;
        rq_path_addr path;
        int rc = rq_udp_recv(&s->s, buf, sizeof buf, &len, &path);
        if (rc == RQ_ERR_AGAIN || rc == RQ_ERR_IO)
            return;
        if (rc == 0) {
            rq_datagram dg = {path, buf, len};
            (void)rq_endpoint_recv(l->eps[s->ep].ep, now, &dg);
        }
    }
}

static void send_all(rq_io_loop *l, size_t index, rq_time now)
{
    uint8_t buf[1500];
    for (int i = 0; i < 1024; i++) {
        rq_datagram_out out = {.buf = buf, .cap = sizeof buf};
        if (rq_endpoint_send(l->eps[index].ep, now, &out) != 1)
            return;
        io_socket *s = socket_for(l, index, &out.path.local);
        /* No socket for that address (an interface that went away): the datagram is lost, as
         * it would be on the wire. */
        if (s)
            (void)rq_udp_send(&s->s, buf, out.len, &out.path, out.flow_label);
    }
}

int rq_io_turn(rq_io_loop *l, rq_time max_wait)
{
    rq_time now = rq_io_now(), due = now + max_wait;
    for (size_t i = 0; i < l->neps; i++) {
        rq_time t = rq_endpoint_next_timeout(l->eps[i].ep);
        if (t < due)
            due = t;
    }
    int ms = due <= now ? 0 : (int)((due - now + 999999) / 1000000);
    struct epoll_event evs[RQ_IO_MAX_SOCKETS];
    int n = epoll_wait(l->epfd, evs, RQ_IO_MAX_SOCKETS, ms);
    if (n < 0 && errno != EINTR)
        return RQ_ERR_IO;
    now = rq_io_now();
    for (int i = 0; i < n; i++)
        receive_from(l, evs[i].data.ptr, now);
    for (size_t i = 0; i < l->neps; i++) {
        rq_endpoint *ep = l->eps[i].ep;
        if (rq_endpoint_next_timeout(ep) <= now)
            rq_endpoint_on_timeout(ep, now);
        l->eps[i].fn(l->eps[i].ctx, ep, now);
        send_all(l, i, now);
    }
    return 0;
}
