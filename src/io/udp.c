/* UDP sockets (udp.h). */
#define _GNU_SOURCE
#include "io/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

/* Don't fragment, and say where each datagram arrived (udp.h). */
static int configure(int fd, bool v6)
{
    int rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 ? 0 : RQ_ERR_IO;
    if (!rc && v6) {
        rc = set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
        /* Flow labels are best effort: an old kernel just sends without them. */
        if (!rc)
            (void)set_opt(fd, IPPROTO_IPV6, IPV6_FLOWINFO_SEND, 1);
    } else if (!rc) {
        rc = set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
        if (!rc)
            rc = set_opt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
    }
    return rc;
}

int rq_udp_open(rq_udp_socket *s, const rq_addr *bind_addr)
{
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

/* The destination address of a received datagram, from its IP_PKTINFO / IPV6_PKTINFO. */
static void local_from_cmsg(struct msghdr *m, const rq_udp_socket *s, rq_addr *local)
{
    *local = s->local;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            memcpy(local->ip, &pi.ipi_addr, 4);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            memcpy(local->ip, &pi.ipi6_addr, 16);
        }
    }
}

int rq_udp_recv(rq_udp_socket *s, uint8_t *buf, size_t cap, size_t *len, rq_path_addr *path)
{
    struct sockaddr_storage from;
    struct iovec iov = {buf, cap};
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } control;
    struct msghdr m = {.msg_name = &from,
                       .msg_namelen = sizeof from,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(s->fd, &m, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? RQ_ERR_AGAIN : RQ_ERR_IO;
    if (m.msg_flags & MSG_TRUNC)
        return RQ_ERR_BUFFER_TOO_SMALL;
    *len = (size_t)n;
    from_sockaddr(&from, &path->remote);
    local_from_cmsg(&m, s, &path->local);
    return 0;
}

/* Attaches one control message (the source address to send from) to m, in control. */
static void put_pktinfo(struct msghdr *m, char *control, int level, int type, const void *pi,
                        size_t len)
{
    m->msg_control = control;
    m->msg_controllen = CMSG_SPACE(len);
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), pi, len);
}

int rq_udp_send(rq_udp_socket *s, const uint8_t *buf, size_t len, const rq_path_addr *path,
                uint32_t flow_label)
{
    struct sockaddr_storage to;
    socklen_t tl = to_sockaddr(&path->remote, &to);
    if (path->remote.family == RQ_AF_INET6 && flow_label)
        ((struct sockaddr_in6 *)&to)->sin6_flowinfo = htonl(flow_label & 0xfffffu);
    struct iovec iov = {(void *)buf, len};
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr m = {.msg_name = &to, .msg_namelen = tl, .msg_iov = &iov, .msg_iovlen = 1};
    /* A chosen source address: the one the peer knows this path by. */
    if (path->local.family == RQ_AF_INET4 && s->local.family == RQ_AF_INET4) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, path->local.ip, 4);
        put_pktinfo(&m, control.buf, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    } else if (path->local.family == RQ_AF_INET6 && s->local.family == RQ_AF_INET6) {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi6_addr, path->local.ip, 16);
        put_pktinfo(&m, control.buf, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    }
    ssize_t n = sendmsg(s->fd, &m, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? RQ_ERR_AGAIN
                                                                           : RQ_ERR_IO;
    return 0;
}
