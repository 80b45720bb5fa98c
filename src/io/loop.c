/* The I/O loop (loop.h). */
#define _GNU_SOURCE
#include "io/loop.h"

#include "core/alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* Room for one datagram out: rq_endpoint_send fills at most its path's datagram size. */
#define TX_DGRAM 1500
/* Room for one received buffer: a GRO train (at most 64 KB), or the largest UDP datagram. */
#define RX_BUF 65536
/* Datagrams per socket, and per endpoint, in one turn: a busy peer does not starve the rest. */
#define TURN_DATAGRAMS 1024

typedef struct io_socket {
    rq_udp_socket s;
    size_t ep; /* the endpoint it belongs to */
    bool open;
    bool want_out; /* EPOLLOUT is on: datagrams wait for room in its buffer */
    /* After rq_io_rebind_silently: the address the endpoint still believes it uses. */
    bool has_apparent;
    rq_addr apparent;
} io_socket;

/* An endpoint's datagrams collected for one batch: dg[head..count) still wait to go. */
typedef struct io_tx {
    uint8_t buf[RQ_IO_TX_BATCH][TX_DGRAM];
    rq_udp_tx dg[RQ_IO_TX_BATCH];
    size_t head, count;
} io_tx;

typedef struct io_endpoint {
    rq_endpoint *ep;
    rq_io_events_fn fn;
    void *ctx;
    io_tx tx;
} io_endpoint;

struct rq_io_loop {
    int epfd;
    bool offload; /* GSO and GRO wanted on the sockets (rq_io_set_gso) */
    io_endpoint eps[RQ_IO_MAX_ENDPOINTS];
    size_t neps;
    io_socket socks[RQ_IO_MAX_SOCKETS];
    rq_io_stats retired; /* counters of the sockets closed, and the loop's own */
    uint8_t *rxbuf;      /* RQ_IO_RX_BATCH buffers of RX_BUF bytes, which rx[] point into */
    rq_udp_rx rx[RQ_IO_RX_BATCH];
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
    l->offload = true;
    l->rxbuf = rq_mem_calloc(RQ_IO_RX_BATCH, RX_BUF);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!l->rxbuf || l->epfd < 0) {
        if (l->epfd >= 0)
            close(l->epfd);
        rq_mem_free(l->rxbuf);
        rq_mem_free(l);
        return NULL;
    }
    for (size_t i = 0; i < RQ_IO_RX_BATCH; i++)
        l->rx[i] = (rq_udp_rx){.buf = l->rxbuf + i * RX_BUF, .cap = RX_BUF};
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
    rq_mem_free(l->rxbuf);
    rq_mem_free(l);
}

int rq_io_add_endpoint(rq_io_loop *l, rq_endpoint *ep, rq_io_events_fn fn, void *ctx, size_t *index)
{
    if (!l || !ep || !fn || !index)
        return RQ_ERR_INVALID_ARG;
    if (l->neps == RQ_IO_MAX_ENDPOINTS)
        return RQ_ERR_LIMIT;
    io_endpoint *e = &l->eps[l->neps];
    e->ep = ep;
    e->fn = fn;
    e->ctx = ctx;
    e->tx.head = e->tx.count = 0;
    *index = l->neps++;
    return 0;
}

/* GSO and GRO as the loop wants them. Where the kernel lacks one, the socket goes without:
 * that is "on where supported", not a failure. */
static void apply_offload(const rq_io_loop *l, io_socket *s)
{
    (void)rq_udp_set_gso(&s->s, l->offload);
    (void)rq_udp_set_gro(&s->s, l->offload);
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
    apply_offload(l, slot);
    slot->ep = index;
    slot->open = true;
    slot->want_out = false;
    slot->has_apparent = false;
    if (bound)
        *bound = slot->s.local;
    return 0;
}

static void add_stats(rq_io_stats *to, const rq_io_stats *x)
{
    to->datagrams_sent += x->datagrams_sent;
    to->send_syscalls += x->send_syscalls;
    to->gso_batches += x->gso_batches;
    to->gso_refused += x->gso_refused;
    to->send_errors += x->send_errors;
    to->send_no_socket += x->send_no_socket;
    to->send_blocked += x->send_blocked;
    to->datagrams_received += x->datagrams_received;
    to->recv_syscalls += x->recv_syscalls;
    to->gro_batches += x->gro_batches;
    to->recv_truncated += x->recv_truncated;
    to->recv_errors += x->recv_errors;
    for (size_t i = 0; i < 4; i++)
        to->ecn[i] += x->ecn[i];
}

/* The address the endpoint knows the socket by. */
static const rq_addr *known_as(const io_socket *s)
{
    return s->has_apparent ? &s->apparent : &s->s.local;
}

void rq_io_remove_socket(rq_io_loop *l, size_t index, const rq_addr *addr)
{
    for (size_t i = 0; l && i < RQ_IO_MAX_SOCKETS; i++) {
        io_socket *s = &l->socks[i];
        if (s->open && s->ep == index && rq_addr_eq(known_as(s), addr)) {
            (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->s.fd, NULL);
            add_stats(&l->retired, &s->s.stats);
            rq_udp_close(&s->s);
            s->open = false;
        }
    }
}

void rq_io_set_gso(rq_io_loop *l, bool on)
{
    l->offload = on;
    for (size_t i = 0; i < RQ_IO_MAX_SOCKETS; i++)
        if (l->socks[i].open)
            apply_offload(l, &l->socks[i]);
}

void rq_io_get_stats(const rq_io_loop *l, rq_io_stats *st)
{
    *st = l->retired;
    for (size_t i = 0; i < RQ_IO_MAX_SOCKETS; i++)
        if (l->socks[i].open)
            add_stats(st, &l->socks[i].s.stats);
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
        if (local->family == RQ_AF_NONE || rq_addr_eq(known_as(s), local))
            return s;
        if (s->s.local.family == local->family && s->s.local.port == local->port &&
            memcmp(s->s.local.ip, any, 16) == 0)
            wildcard = s;
    }
    return wildcard;
}

/* Hands a received buffer to the endpoint one datagram at a time (a GRO buffer holds several
 * of `segment` bytes, the last maybe shorter); returns how many. */
static size_t deliver(rq_endpoint *ep, rq_time now, const rq_udp_rx *rx)
{
    size_t seg = rx->segment ? rx->segment : rx->len, off = 0, n = 0;
    do {
        size_t len = rx->len - off < seg ? rx->len - off : seg;
        rq_datagram dg = {rx->path, rx->buf + off, len};
        /* A datagram the endpoint rejects is dropped there (endpoint.h), as on the wire. */
        (void)rq_endpoint_recv(ep, now, &dg);
        off += len;
        n++;
    } while (off < rx->len);
    return n;
}

int rq_io_rebind_silently(rq_io_loop *l, size_t index, const rq_addr *addr, rq_addr *now_from)
{
    io_socket *s = NULL;
    for (size_t i = 0; l && addr && i < RQ_IO_MAX_SOCKETS && !s; i++)
        if (l->socks[i].open && l->socks[i].ep == index && rq_addr_eq(known_as(&l->socks[i]), addr))
            s = &l->socks[i];
    if (!s)
        return RQ_ERR_INVALID_ARG;
    rq_addr any_port = s->s.local;
    any_port.port = 0;
    rq_udp_socket fresh;
    int rc = rq_udp_open(&fresh, &any_port);
    if (rc)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->s.fd, NULL);
    add_stats(&l->retired, &s->s.stats);
    rq_udp_close(&s->s);
    s->s = fresh;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->s.fd, &ev) != 0) {
        rq_udp_close(&s->s);
        s->open = false;
        return RQ_ERR_IO;
    }
    apply_offload(l, s);
    s->want_out = false;
    s->apparent = *addr;
    s->has_apparent = true;
    if (now_from)
        *now_from = s->s.local;
    return 0;
}

static void receive_from(rq_io_loop *l, io_socket *s, rq_time now)
{
    size_t datagrams = 0;
    while (datagrams < TURN_DATAGRAMS) {
        size_t got = 0;
        /* RQ_ERR_AGAIN: nothing waits; RQ_ERR_IO is counted in the socket's recv_errors. */
        if (rq_udp_recv_batch(&s->s, l->rx, RQ_IO_RX_BATCH, &got) != 0)
            return;
        for (size_t i = 0; i < got; i++) {
            if (s->has_apparent) /* the translation a NAT would do */
                l->rx[i].path.local = s->apparent;
            if (!l->rx[i].truncated) /* else counted in recv_truncated */
                datagrams += deliver(l->eps[s->ep].ep, now, &l->rx[i]);
        }
        /* Fewer than asked for: the socket had no more, so spare the call that would say so. */
        if (got < RQ_IO_RX_BATCH)
            return;
    }
}

/* Asks epoll to report when s has room again (on), or stops asking (off): a level-triggered
 * EPOLLOUT left on would wake every turn. */
static void want_out(rq_io_loop *l, io_socket *s, bool on)
{
    if (s->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = s};
    /* Cannot fail for a registered socket; if it did, the next turn's timeout retries. */
    (void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->s.fd, &ev);
    s->want_out = on;
}

/* Sends endpoint `index`'s waiting datagrams in order, each run for one socket in one batch.
 * False when a socket buffer filled: the rest waits for the next turn. */
static bool flush(rq_io_loop *l, size_t index)
{
    io_tx *t = &l->eps[index].tx;
    while (t->head < t->count) {
        io_socket *s = socket_for(l, index, &t->dg[t->head].path.local);
        if (!s) {
            /* No socket for that address (an interface that went away): the datagram is lost,
             * as it would be on the wire. */
            l->retired.send_no_socket++;
            t->head++;
            continue;
        }
        size_t run = 1, done = 0;
        while (t->head + run < t->count &&
               socket_for(l, index, &t->dg[t->head + run].path.local) == s)
            run++;
        int rc = rq_udp_send_batch(&s->s, &t->dg[t->head], run, &done);
        if (rc == RQ_ERR_AGAIN) {
            t->head += done;
            want_out(l, s, true);
            return false;
        }
        /* Otherwise all were dealt with; those the kernel refused are in send_errors. */
        t->head += run;
        want_out(l, s, false);
    }
    t->head = t->count = 0;
    return true;
}

/* Takes datagrams from the endpoint into its batch until the batch is full or the endpoint
 * has nothing more; returns how many the batch holds. */
static size_t collect(io_endpoint *e, rq_time now)
{
    io_tx *t = &e->tx;
    while (t->count < RQ_IO_TX_BATCH) {
        rq_datagram_out out = {.buf = t->buf[t->count], .cap = TX_DGRAM};
        if (rq_endpoint_send(e->ep, now, &out) != 1)
            break;
        t->dg[t->count++] = (rq_udp_tx){out.buf, out.len, out.path, out.flow_label};
    }
    return t->count;
}

static void send_all(rq_io_loop *l, size_t index, rq_time now)
{
    /* What waited since an earlier turn goes first; while it cannot, the endpoint keeps the
     * rest (its pacing and congestion control see a slower link, not losses). */
    if (!flush(l, index))
        return;
    for (size_t sent = 0; sent < TURN_DATAGRAMS; sent += RQ_IO_TX_BATCH) {
        size_t n = collect(&l->eps[index], now);
        if (!flush(l, index) || n < RQ_IO_TX_BATCH)
            return;
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
    /* EPOLLOUT needs nothing here: every turn ends by sending what waits. */
    for (int i = 0; i < n; i++)
        if (evs[i].events & (EPOLLIN | EPOLLERR))
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
