/* UDP sockets (udp.h). */
#define _GNU_SOURCE
#include "io/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33 /* linux/in6.h */
#endif

static socklen_t to_sockaddr(const rq_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == RQ_AF_INET4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->ip, 16);
    in6->sin6_scope_id = a->scope;
    return sizeof *in6;
}

static void from_sockaddr(const struct sockaddr_storage *ss, rq_addr *a)
{
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        a->family = RQ_AF_INET4;
        a->port = ntohs(in->sin_port);
        memcpy(a->ip, &in->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        a->family = RQ_AF_INET6;
        a->port = ntohs(in6->sin6_port);
        memcpy(a->ip, &in6->sin6_addr, 16);
        a->scope = in6->sin6_scope_id;
    }
}

static int set_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : RQ_ERR_IO;
}

/* Don't fragment, say where each datagram arrived and with which ECN bits (udp.h). */
static int configure(int fd, bool v6)
{
    int rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 ? 0 : RQ_ERR_IO;
    if (!rc && v6) {
        rc = set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
        /* Flow labels are best effort: an old kernel just sends without them. */
        if (!rc)
            (void)set_opt(fd, IPPROTO_IPV6, IPV6_FLOWINFO_SEND, 1);
    } else if (!rc) {
        rc = set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IP, IP_RECVTOS, 1);
    }
    return rc;
}

int rq_udp_open(rq_udp_socket *s, const rq_addr *bind_addr)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (!bind_addr || (bind_addr->family != RQ_AF_INET4 && bind_addr->family != RQ_AF_INET6))
        return RQ_ERR_INVALID_ARG;
    bool v6 = bind_addr->family == RQ_AF_INET6;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return RQ_ERR_IO;
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(bind_addr, &ss);
    int rc = configure(fd, v6);
    if (!rc && bind(fd, (struct sockaddr *)&ss, sl) != 0)
        rc = RQ_ERR_IO;
    sl = sizeof ss;
    if (!rc && getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        rc = RQ_ERR_IO;
    if (rc) {
        close(fd);
        return rc;
    }
    from_sockaddr(&ss, &s->local);
    s->fd = fd;
    return 0;
}

void rq_udp_close(rq_udp_socket *s)
{
    if (s && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

int rq_udp_set_gso(rq_udp_socket *s, bool on)
{
    s->gso = false;
    if (!on)
        return 0;
    /* A kernel without UDP_SEGMENT (before 4.18) does not know the option. */
    int v = 0;
    socklen_t vl = sizeof v;
    if (s->fd < 0 || s->gso_refused || getsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &v, &vl) != 0)
        return RQ_ERR_IO;
    s->gso = true;
    return 0;
}

int rq_udp_set_gro(rq_udp_socket *s, bool on)
{
    if (s->fd < 0)
        return RQ_ERR_INVALID_ARG;
    if (set_opt(s->fd, SOL_UDP, UDP_GRO, on) != 0) {
        /* A kernel without UDP_GRO (before 5.0) never coalesces: off is then true anyway. */
        if (on || s->gro)
            return RQ_ERR_IO;
        return 0;
    }
    s->gro = on;
    return 0;
}

/* ---- receiving ---- */

/* Room for every control message a received buffer may carry: its local address (one of the
 * two families), its TOS / traffic class, its GRO segment size. */
#define RX_CONTROL                                                                    \
    (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) + \
     2 * CMSG_SPACE(sizeof(int)))

typedef struct rx_control {
    _Alignas(struct cmsghdr) char buf[RX_CONTROL];
} rx_control;

/* One control message of a received buffer: the local address it came to (IP_PKTINFO /
 * IPV6_PKTINFO), its ECN bits (IP_TOS, one byte / IPV6_TCLASS, an int), its GRO segment size
 * (UDP_GRO, an int). */
static void parse_cmsg(const struct cmsghdr *c, rq_udp_rx *rx)
{
    int v = 0;
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        memcpy(rx->path.local.ip, &pi.ipi_addr, 4);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        memcpy(rx->path.local.ip, &pi.ipi6_addr, 16);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        rx->ecn = *(const uint8_t *)CMSG_DATA(c) & 3u;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        memcpy(&v, CMSG_DATA(c), sizeof v);
        rx->ecn = (uint8_t)(v & 3);
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        memcpy(&v, CMSG_DATA(c), sizeof v);
        rx->segment = v > 0 ? (size_t)v : 0;
    }
}

/* The datagrams a received buffer holds. */
static uint64_t rx_datagrams(const rq_udp_rx *rx)
{
    return rx->segment ? (rx->len + rx->segment - 1) / rx->segment : 1;
}

/* Fills rx from what recvmmsg put in m, and counts it. */
static void finish_rx(rq_udp_socket *s, struct msghdr *m, unsigned len,
                      const struct sockaddr_storage *from, rq_udp_rx *rx)
{
    rx->len = len;
    rx->segment = 0;
    rx->ecn = RQ_ECN_NOT_ECT;
    rx->truncated = (m->msg_flags & MSG_TRUNC) != 0;
    from_sockaddr(from, &rx->path.remote);
    rx->path.local = s->local;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        parse_cmsg(c, rx);
    if (rx->segment >= rx->len)
        rx->segment = 0; /* one datagram, however the kernel labelled it */
    if (rx->truncated) {
        s->stats.recv_truncated++;
        return;
    }
    uint64_t n = rx_datagrams(rx);
    s->stats.datagrams_received += n;
    s->stats.gro_batches += n > 1;
    s->stats.ecn[rx->ecn] += n;
}

int rq_udp_recv_batch(rq_udp_socket *s, rq_udp_rx *rx, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0)
        return RQ_ERR_INVALID_ARG;
    if (n > RQ_UDP_BATCH)
        n = RQ_UDP_BATCH;
    struct mmsghdr mm[RQ_UDP_BATCH];
    struct iovec iov[RQ_UDP_BATCH];
    struct sockaddr_storage from[RQ_UDP_BATCH];
    rx_control control[RQ_UDP_BATCH];
    for (size_t i = 0; i < n; i++) {
        iov[i] = (struct iovec){rx[i].buf, rx[i].cap};
        mm[i].msg_len = 0;
        mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                        .msg_namelen = sizeof from[i],
                                        .msg_iov = &iov[i],
                                        .msg_iovlen = 1,
                                        .msg_control = control[i].buf,
                                        .msg_controllen = sizeof control[i].buf};
    }
    int k;
    do {
        s->stats.recv_syscalls++;
        k = recvmmsg(s->fd, mm, (unsigned)n, 0, NULL);
    } while (k < 0 && errno == EINTR);
    if (k == 0 || (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
        return RQ_ERR_AGAIN;
    if (k < 0) {
        s->stats.recv_errors++;
        return RQ_ERR_IO;
    }
    for (int i = 0; i < k; i++)
        finish_rx(s, &mm[i].msg_hdr, mm[i].msg_len, &from[i], &rx[i]);
    *got = (size_t)k;
    return 0;
}

int rq_udp_recv(rq_udp_socket *s, uint8_t *buf, size_t cap, size_t *len, rq_path_addr *path)
{
    rq_udp_rx rx = {.buf = buf, .cap = cap};
    size_t got;
    int rc = rq_udp_recv_batch(s, &rx, 1, &got);
    if (rc)
        return rc;
    if (rx.truncated)
        return RQ_ERR_BUFFER_TOO_SMALL;
    *len = rx.len;
    *path = rx.path;
    return 0;
}

/* ---- sending ---- */

/* Room for the control messages of one sent buffer: the source address, the GSO size. */
#define TX_CONTROL (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)))
/* Datagrams per sendmmsg call (one iovec each). */
#define TX_IOVS (4 * RQ_UDP_BATCH)

/* One sendmmsg call being put together: each message is one buffer of count[i] datagrams. */
typedef struct tx_call {
    struct mmsghdr mm[RQ_UDP_BATCH];
    struct sockaddr_storage to[RQ_UDP_BATCH];
    struct {
        _Alignas(struct cmsghdr) char buf[TX_CONTROL];
    } control[RQ_UDP_BATCH];
    size_t count[RQ_UDP_BATCH];
    struct iovec iov[TX_IOVS];
    size_t nmsg;
} tx_call;

#ifdef RQ_TEST_HOOKS
static int test_refuse_gso, test_block_sends;

void rq_udp_test_refuse_gso(int err)
{
    test_refuse_gso = err;
}

void rq_udp_test_block_sends(int n)
{
    test_block_sends = n;
}
#endif

/* Appends a control message to m, whose msg_control has TX_CONTROL bytes of room. */
static void put_cmsg(struct msghdr *m, int level, int type, const void *data, size_t len)
{
    struct cmsghdr *c = (struct cmsghdr *)((char *)m->msg_control + m->msg_controllen);
    memset(c, 0, CMSG_SPACE(len)); /* the padding too: the kernel reads the whole space */
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    m->msg_controllen += CMSG_SPACE(len);
}

/* A chosen source address: the one the peer knows this path by. */
static void put_source(struct msghdr *m, const rq_udp_socket *s, const rq_addr *local)
{
    if (local->family == RQ_AF_INET4 && s->local.family == RQ_AF_INET4) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, local->ip, 4);
        put_cmsg(m, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    } else if (local->family == RQ_AF_INET6 && s->local.family == RQ_AF_INET6) {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi6_addr, local->ip, 16);
        put_cmsg(m, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    }
}

static bool same_path(const rq_udp_tx *a, const rq_udp_tx *b)
{
    return a->flow_label == b->flow_label && rq_addr_eq(&a->path.local, &b->path.local) &&
           rq_addr_eq(&a->path.remote, &b->path.remote);
}

/* How many of tx[0..n) one buffer takes: with GSO, the datagrams of tx[0]'s path, flow label
 * and size that follow it (one shorter one may end the run), within the kernel's limits;
 * without, one. */
static size_t gso_run(const rq_udp_socket *s, const rq_udp_tx *tx, size_t n)
{
    size_t seg = tx[0].len, total = seg, k = 1;
    if (!s->gso || seg == 0)
        return 1;
    while (k < n && k < RQ_UDP_MAX_SEGMENTS && tx[k].len <= seg && tx[k].len > 0 &&
           total + tx[k].len <= RQ_UDP_MAX_GSO_BYTES && same_path(&tx[0], &tx[k])) {
        total += tx[k].len;
        if (tx[k++].len < seg)
            break;
    }
    return k;
}

/* Adds one message for tx[0..k) to the call: destination, flow label, source, GSO size. */
static void add_message(tx_call *c, const rq_udp_socket *s, const rq_udp_tx *tx, size_t k,
                        struct iovec *iov)
{
    size_t i = c->nmsg++;
    struct sockaddr_storage *to = &c->to[i];
    socklen_t tl = to_sockaddr(&tx->path.remote, to);
    if (tx->path.remote.family == RQ_AF_INET6 && tx->flow_label)
        ((struct sockaddr_in6 *)to)->sin6_flowinfo = htonl(tx->flow_label & 0xfffffu);
    for (size_t j = 0; j < k; j++)
        iov[j] = (struct iovec){(void *)tx[j].buf, tx[j].len};
    struct msghdr *m = &c->mm[i].msg_hdr;
    *m = (struct msghdr){.msg_name = to, .msg_namelen = tl, .msg_iov = iov, .msg_iovlen = k};
    m->msg_control = c->control[i].buf;
    put_source(m, s, &tx->path.local);
    if (k > 1) {
        uint16_t seg = (uint16_t)tx->len;
        put_cmsg(m, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
    }
    if (m->msg_controllen == 0)
        m->msg_control = NULL;
    c->mm[i].msg_len = 0;
    c->count[i] = k;
}

/* Puts tx[0..n) (as many as fit) into one call; returns the datagrams it holds. */
static size_t build_call(tx_call *c, const rq_udp_socket *s, const rq_udp_tx *tx, size_t n)
{
    size_t used = 0;
    c->nmsg = 0;
    while (used < n && c->nmsg < RQ_UDP_BATCH) {
        size_t k = gso_run(s, tx + used, n - used);
        if (used + k > TX_IOVS)
            break;
        add_message(c, s, tx + used, k, &c->iov[used]);
        used += k;
    }
    return used;
}

/* sendmmsg, or the test hooks' full buffer or refusal of GSO buffers in its place. */
static int send_call(const rq_udp_socket *s, tx_call *c)
{
    unsigned n = (unsigned)c->nmsg;
#ifdef RQ_TEST_HOOKS
    if (test_block_sends > 0) {
        test_block_sends--;
        errno = EAGAIN;
        return -1;
    }
    if (test_refuse_gso) {
        unsigned i = 0;
        while (i < n && c->count[i] == 1)
            i++;
        if (i == 0) {
            errno = test_refuse_gso;
            return -1;
        }
        n = i; /* the kernel would stop before the buffer it refuses */
    }
#endif
    return sendmmsg(s->fd, c->mm, n, 0);
}

/* Counts the first k messages of a call as sent; returns their datagrams. */
static size_t account_sent(rq_udp_socket *s, const tx_call *c, size_t k)
{
    size_t datagrams = 0;
    for (size_t i = 0; i < k; i++) {
        datagrams += c->count[i];
        s->stats.gso_batches += c->count[i] > 1;
    }
    s->stats.datagrams_sent += datagrams;
    return datagrams;
}

/* The kernel refused a GSO buffer: from now on this socket sends datagrams one by one. */
static void refuse_gso(rq_udp_socket *s)
{
    s->gso = false;
    s->gso_refused = true;
    s->stats.gso_refused++;
}

int rq_udp_send_batch(rq_udp_socket *s, const rq_udp_tx *tx, size_t n, size_t *done)
{
    tx_call c;
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        build_call(&c, s, tx + i, n - i);
        s->stats.send_syscalls++;
        int k = send_call(s, &c);
        if (k > 0) {
            i += account_sent(s, &c, (size_t)k);
            continue;
        }
        int e = k == 0 ? EAGAIN : errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            s->stats.send_blocked++;
            rc = RQ_ERR_AGAIN;
            break;
        }
        if ((e == EIO || e == EINVAL) && c.count[0] > 1) {
            refuse_gso(s); /* the same datagrams go again, one by one */
            continue;
        }
        /* Refused for its own sake (no route, too large...): lost, as it would be on the
         * wire, and said so. */
        s->stats.send_errors += c.count[0];
        i += c.count[0];
        rc = RQ_ERR_IO;
    }
    *done = i;
    return rc;
}

int rq_udp_send(rq_udp_socket *s, const uint8_t *buf, size_t len, const rq_path_addr *path,
                uint32_t flow_label)
{
    rq_udp_tx tx = {buf, len, *path, flow_label};
    size_t done;
    return rq_udp_send_batch(s, &tx, 1, &done);
}
