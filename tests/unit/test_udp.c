/* UDP sockets on loopback (src/io/udp.h): datagrams arrive with the local address they came
 * to (IP_PKTINFO / IPV6_PKTINFO, so a wildcard-bound server knows which of its addresses was
 * reached), and leave from a chosen local address; the error cases get their codes. Only
 * loopback addresses are used. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "io/udp.h"
#include "rqtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11 /* linux/in6.h */
#endif

/* Waits (up to a second) for a datagram on s. */
static int recv_wait(rq_udp_socket *s, uint8_t *buf, size_t cap, size_t *len, rq_path_addr *p)
{
    for (int i = 0; i < 1000; i++) {
        int rc = rq_udp_recv(s, buf, cap, len, p);
        if (rc != RQ_ERR_AGAIN)
            return rc;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return RQ_ERR_AGAIN;
}

/* A datagram between two sockets bound to 127.0.0.1: both ends' addresses as the receiver
 * sees them, the bytes intact; nothing more waits afterwards. */
static void test_loopback_v4_roundtrip(void)
{
    rq_udp_socket a, b;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_udp_open(&a, &lo), RQ_OK);
    RQ_CHECK_ERR(rq_udp_open(&b, &lo), RQ_OK);
    RQ_CHECK(a.local.port != 0 && b.local.port != 0 && a.local.port != b.local.port);
    const uint8_t msg[] = "roamquic";
    rq_path_addr to = {a.local, b.local};
    RQ_CHECK_ERR(rq_udp_send(&a, msg, sizeof msg, &to, 0), RQ_OK);
    uint8_t buf[64];
    size_t len = 0;
    rq_path_addr got;
    RQ_CHECK_ERR(recv_wait(&b, buf, sizeof buf, &len, &got), RQ_OK);
    RQ_CHECK_EQ_U64(len, sizeof msg);
    RQ_CHECK(memcmp(buf, msg, len) == 0);
    RQ_CHECK(rq_addr_eq(&got.remote, &a.local));
    RQ_CHECK(rq_addr_eq(&got.local, &b.local));
    RQ_CHECK_ERR(rq_udp_recv(&b, buf, sizeof buf, &len, &got), RQ_ERR_AGAIN);
    rq_udp_close(&a);
    rq_udp_close(&b);
    rq_udp_close(&b); /* twice is fine */
}

/* A server bound to 0.0.0.0 learns which local address a datagram came to (127.0.0.2 here,
 * another address of the loopback network), and answers from it: the client sees the reply
 * come from 127.0.0.2, the address it sent to. */
static void test_wildcard_server_answers_from_reached_address(void)
{
    rq_udp_socket srv, cli;
    rq_addr any = rq_addr_v4(0, 0, 0, 0, 0), lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_udp_open(&srv, &any), RQ_OK);
    RQ_CHECK_ERR(rq_udp_open(&cli, &lo), RQ_OK);
    rq_addr reached = rq_addr_v4(127, 0, 0, 2, srv.local.port);
    rq_path_addr to = {cli.local, reached};
    uint8_t buf[64] = {1, 2, 3};
    RQ_CHECK_ERR(rq_udp_send(&cli, buf, 3, &to, 0), RQ_OK);
    size_t len = 0;
    rq_path_addr got;
    RQ_CHECK_ERR(recv_wait(&srv, buf, sizeof buf, &len, &got), RQ_OK);
    RQ_CHECK(rq_addr_eq(&got.local, &reached));
    RQ_CHECK(rq_addr_eq(&got.remote, &cli.local));
    RQ_CHECK_ERR(rq_udp_send(&srv, buf, len, &got, 0), RQ_OK); /* from got.local */
    rq_path_addr back;
    RQ_CHECK_ERR(recv_wait(&cli, buf, sizeof buf, &len, &back), RQ_OK);
    RQ_CHECK(rq_addr_eq(&back.remote, &reached));
    rq_udp_close(&srv);
    rq_udp_close(&cli);
}

/* The same over IPv6 ::1, with a flow label on the datagram (RFC 9000 §9.7: set where the
 * socket API allows). Skipped when the host has no IPv6 loopback. */
static void test_loopback_v6_with_flow_label(void)
{
    rq_udp_socket a, b;
    rq_addr lo6 = {RQ_AF_INET6, 0, {[15] = 1}, 0};
    if (rq_udp_open(&a, &lo6) != RQ_OK) {
        printf("  skip: no IPv6 loopback\n");
        return;
    }
    RQ_CHECK_ERR(rq_udp_open(&b, &lo6), RQ_OK);
    uint8_t msg[1200];
    memset(msg, 0x5a, sizeof msg);
    rq_path_addr to = {a.local, b.local};
    RQ_CHECK_ERR(rq_udp_send(&a, msg, sizeof msg, &to, 0x12345), RQ_OK);
    uint8_t buf[1500];
    size_t len = 0;
    rq_path_addr got;
    RQ_CHECK_ERR(recv_wait(&b, buf, sizeof buf, &len, &got), RQ_OK);
    RQ_CHECK_EQ_U64(len, sizeof msg);
    RQ_CHECK(rq_addr_eq(&got.remote, &a.local));
    RQ_CHECK(rq_addr_eq(&got.local, &b.local));
    rq_udp_close(&a);
    rq_udp_close(&b);
}

/* The flow label a datagram arrived with, read by a plain socket that asks the kernel for it
 * (IPV6_FLOWINFO); -1 when nothing arrived or the kernel did not say. */
static long received_flow_label(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1)
        return -1;
    uint8_t buf[1500];
    union {
        struct cmsghdr align;
        uint8_t b[256];
    } ctl;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.b;
    m.msg_controllen = sizeof ctl.b;
    if (recvmsg(fd, &m, 0) < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_FLOWINFO) {
            uint32_t v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            return (long)(ntohl(v) & 0xfffffu);
        }
    return -1;
}

/* MIG-9.7-01: over IPv6 the label the core chose is the one on the wire (where the kernel
 * lets sockets set it: IPV6_FLOWINFO_SEND), read back by the receiving socket. Two paths'
 * labels arrive as given, so the keyed per-path labels of MIG-9.7-02 reach the network. */
static void test_flow_label_on_the_wire_mig_9_7_01(void)
{
    rq_udp_socket a;
    rq_addr lo6 = {RQ_AF_INET6, 0, {[15] = 1}, 0};
    if (rq_udp_open(&a, &lo6) != RQ_OK) {
        printf("  skip: no IPv6 loopback\n");
        return;
    }
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_in6 sa = {0};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    socklen_t sl = sizeof sa;
    RQ_CHECK(fd >= 0);
    RQ_CHECK(setsockopt(fd, IPPROTO_IPV6, IPV6_FLOWINFO, &on, sizeof on) == 0);
    RQ_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    RQ_CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    rq_path_addr to = {a.local, lo6};
    to.remote.port = ntohs(sa.sin6_port);
    uint8_t msg[1200];
    memset(msg, 0x33, sizeof msg);
    const uint32_t labels[] = {0x12345, 0xabcde};
    for (size_t i = 0; i < 2; i++) {
        RQ_CHECK_ERR(rq_udp_send(&a, msg, sizeof msg, &to, labels[i]), RQ_OK);
        long got = received_flow_label(fd);
        printf("  sent flow label 0x%05x, received 0x%05lx\n", labels[i], (unsigned long)got);
        RQ_CHECK_EQ_U64((uint64_t)got, labels[i]);
    }
    close(fd);
    rq_udp_close(&a);
}

/* Bad input: no family, an address this host does not have, a port already in use, a buffer
 * too small for the datagram that waits. */
static void test_udp_errors(void)
{
    rq_udp_socket s, t;
    rq_addr none = {0};
    RQ_CHECK_ERR(rq_udp_open(&s, &none), RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_INT(s.fd, -1);
    rq_addr foreign = rq_addr_v4(192, 0, 2, 1, 0); /* TEST-NET-1: never local */
    RQ_CHECK_ERR(rq_udp_open(&s, &foreign), RQ_ERR_IO);
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_udp_open(&s, &lo), RQ_OK);
    RQ_CHECK_ERR(rq_udp_open(&t, &s.local), RQ_ERR_IO); /* in use */
    RQ_CHECK_ERR(rq_udp_open(&t, &lo), RQ_OK);
    uint8_t big[100] = {0};
    rq_path_addr to = {t.local, s.local};
    RQ_CHECK_ERR(rq_udp_send(&t, big, sizeof big, &to, 0), RQ_OK);
    uint8_t small[10];
    size_t len = 0;
    rq_path_addr got;
    RQ_CHECK_ERR(recv_wait(&s, small, sizeof small, &len, &got), RQ_ERR_BUFFER_TOO_SMALL);
    rq_udp_close(&s);
    rq_udp_close(&t);
}

int main(void)
{
    RQ_RUN(test_loopback_v4_roundtrip);
    RQ_RUN(test_wildcard_server_answers_from_reached_address);
    RQ_RUN(test_loopback_v6_with_flow_label);
    RQ_RUN(test_flow_label_on_the_wire_mig_9_7_01);
    RQ_RUN(test_udp_errors);
    return rq_test_summary();
}
