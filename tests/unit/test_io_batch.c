/* Issue 5, item 1: the I/O layer's batches and offloads on loopback (src/io/udp.h, loop.h).
 * GSO: datagrams of one path and size leave as one buffer and arrive as separate datagrams;
 * GRO: such a burst arrives as one buffer that splits back into them; the fallback when the
 * kernel refuses GSO loses nothing; with GSO off each send is one datagram; ECN bits of
 * received datagrams are counted (the I/O layer itself sends Not-ECT). Only loopback
 * addresses are used. GSO/GRO cases skip when the kernel lacks UDP_SEGMENT / UDP_GRO. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "io/loop.h"
#include "io/udp.h"
#include "rqtest.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#define DGRAMS 11 /* ten of SEG bytes and a shorter last one */
#define SEG    1200
#define LAST   500

/* Datagram i of a burst: its size, and bytes that say which datagram and offset they are. */
static size_t dgram_len(size_t i)
{
    return i + 1 == DGRAMS ? LAST : SEG;
}

static uint8_t dgram_byte(size_t i, size_t off)
{
    return (uint8_t)(i * 31 + off * 7 + 1);
}

static uint8_t burst[DGRAMS][SEG];

/* The burst as rq_udp_send_batch takes it, from a to b. */
static void make_burst(rq_udp_tx *tx, const rq_udp_socket *a, const rq_udp_socket *b)
{
    for (size_t i = 0; i < DGRAMS; i++) {
        for (size_t j = 0; j < SEG; j++)
            burst[i][j] = dgram_byte(i, j);
        tx[i] = (rq_udp_tx){burst[i], dgram_len(i), {a->local, b->local}, 0};
    }
}

static void sleep_ms(void)
{
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
}

/* Receives buffers on s (up to a second) until `want` datagrams came, splitting GRO buffers;
 * each datagram's size and bytes are checked against the burst. Returns the datagrams seen
 * (want, unless something went wrong); *buffers receives how many buffers carried them and
 * *max_segment the largest GRO segment size reported. */
static size_t recv_burst(rq_udp_socket *s, size_t want, size_t *buffers, size_t *max_segment)
{
    static uint8_t bufs[RQ_UDP_BATCH][65536];
    rq_udp_rx rx[RQ_UDP_BATCH];
    for (size_t i = 0; i < RQ_UDP_BATCH; i++)
        rx[i] = (rq_udp_rx){.buf = bufs[i], .cap = sizeof bufs[i]};
    size_t seen = 0;
    *buffers = *max_segment = 0;
    for (int tries = 0; tries < 1000 && seen < want; tries++) {
        size_t got = 0;
        int rc = rq_udp_recv_batch(s, rx, RQ_UDP_BATCH, &got);
        if (rc == RQ_ERR_AGAIN) {
            sleep_ms();
            continue;
        }
        if (rc)
            return seen;
        for (size_t b = 0; b < got; b++) {
            if (rx[b].truncated)
                return seen;
            (*buffers)++;
            size_t seg = rx[b].segment ? rx[b].segment : rx[b].len;
            if (rx[b].segment > *max_segment)
                *max_segment = rx[b].segment;
            for (size_t off = 0; off < rx[b].len; off += seg, seen++) {
                size_t len = rx[b].len - off < seg ? rx[b].len - off : seg;
                if (seen >= DGRAMS || len != dgram_len(seen))
                    return seen;
                for (size_t j = 0; j < len; j++)
                    if (rx[b].buf[off + j] != dgram_byte(seen, j))
                        return seen;
            }
        }
    }
    return seen;
}

static bool open_pair(rq_udp_socket *a, rq_udp_socket *b)
{
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    return rq_udp_open(a, &lo) == RQ_OK && rq_udp_open(b, &lo) == RQ_OK;
}

/* Issue 5: GSO send. Eleven datagrams (ten equal, a shorter last) leave in one sendmmsg as one
 * GSO buffer, and a plain socket (no GRO) receives eleven datagrams with the right bytes. */
static void test_issue5_gso_send_arrives_as_separate_datagrams(void)
{
    rq_udp_socket a, b;
    RQ_CHECK(open_pair(&a, &b));
    if (rq_udp_set_gso(&a, true) != RQ_OK) {
        printf("  skip: no UDP_SEGMENT\n");
        rq_udp_close(&a);
        rq_udp_close(&b);
        return;
    }
    RQ_CHECK(a.gso && !b.gro);
    rq_udp_tx tx[DGRAMS];
    make_burst(tx, &a, &b);
    size_t done = 0;
    RQ_CHECK_ERR(rq_udp_send_batch(&a, tx, DGRAMS, &done), RQ_OK);
    RQ_CHECK_EQ_U64(done, DGRAMS);
    RQ_CHECK_EQ_U64(a.stats.send_syscalls, 1);
    RQ_CHECK_EQ_U64(a.stats.gso_batches, 1);
    RQ_CHECK_EQ_U64(a.stats.datagrams_sent, DGRAMS);
    size_t buffers, maxseg;
    RQ_CHECK_EQ_U64(recv_burst(&b, DGRAMS, &buffers, &maxseg), DGRAMS);
    RQ_CHECK_EQ_U64(buffers, DGRAMS);
    RQ_CHECK_EQ_U64(maxseg, 0);
    RQ_CHECK_EQ_U64(b.stats.datagrams_received, DGRAMS);
    RQ_CHECK_EQ_U64(b.stats.gro_batches, 0);
    uint8_t buf[16];
    size_t len;
    rq_path_addr got;
    RQ_CHECK_ERR(rq_udp_recv(&b, buf, sizeof buf, &len, &got), RQ_ERR_AGAIN);
    rq_udp_close(&a);
    rq_udp_close(&b);
}

/* Issue 5: GRO receive. The same GSO burst to a socket with GRO on arrives in fewer buffers
 * than datagrams, with the segment size reported, and splits back into the eleven datagrams. */
static void test_issue5_gro_receive_splits_gso_burst(void)
{
    rq_udp_socket a, b;
    RQ_CHECK(open_pair(&a, &b));
    if (rq_udp_set_gso(&a, true) != RQ_OK || rq_udp_set_gro(&b, true) != RQ_OK) {
        printf("  skip: no UDP_SEGMENT or UDP_GRO\n");
        rq_udp_close(&a);
        rq_udp_close(&b);
        return;
    }
    rq_udp_tx tx[DGRAMS];
    make_burst(tx, &a, &b);
    size_t done = 0;
    RQ_CHECK_ERR(rq_udp_send_batch(&a, tx, DGRAMS, &done), RQ_OK);
    RQ_CHECK_EQ_U64(done, DGRAMS);
    size_t buffers, maxseg;
    RQ_CHECK_EQ_U64(recv_burst(&b, DGRAMS, &buffers, &maxseg), DGRAMS);
    RQ_CHECK(buffers < DGRAMS);
    RQ_CHECK_EQ_U64(maxseg, SEG);
    RQ_CHECK(b.stats.gro_batches >= 1);
    RQ_CHECK_EQ_U64(b.stats.datagrams_received, DGRAMS);
    printf("  %d datagrams in %zu buffer(s), %" PRIu64 " receive call(s)\n", DGRAMS, buffers,
           b.stats.recv_syscalls);
    rq_udp_close(&a);
    rq_udp_close(&b);
}

/* Issue 5: GSO off. Each datagram is its own buffer: even a receiver with GRO on gets eleven
 * buffers without a segment size; sendmmsg still sends them in one call. */
static void test_issue5_gso_off_each_send_is_one_datagram(void)
{
    rq_udp_socket a, b;
    RQ_CHECK(open_pair(&a, &b));
    RQ_CHECK(!a.gso); /* off until asked for */
    (void)rq_udp_set_gso(&a, true);
    RQ_CHECK_ERR(rq_udp_set_gso(&a, false), RQ_OK);
    RQ_CHECK(!a.gso);
    bool gro = rq_udp_set_gro(&b, true) == RQ_OK;
    rq_udp_tx tx[DGRAMS];
    make_burst(tx, &a, &b);
    size_t done = 0;
    RQ_CHECK_ERR(rq_udp_send_batch(&a, tx, DGRAMS, &done), RQ_OK);
    RQ_CHECK_EQ_U64(done, DGRAMS);
    RQ_CHECK_EQ_U64(a.stats.gso_batches, 0);
    RQ_CHECK_EQ_U64(a.stats.send_syscalls, 1);
    RQ_CHECK_EQ_U64(a.stats.datagrams_sent, DGRAMS);
    size_t buffers, maxseg;
    RQ_CHECK_EQ_U64(recv_burst(&b, DGRAMS, &buffers, &maxseg), DGRAMS);
    RQ_CHECK_EQ_U64(buffers, DGRAMS);
    RQ_CHECK_EQ_U64(maxseg, 0);
    RQ_CHECK_EQ_U64(b.stats.gro_batches, 0);
    if (!gro)
        printf("  (no UDP_GRO: the receiver could not have coalesced anyway)\n");
    rq_udp_close(&a);
    rq_udp_close(&b);
}

#ifdef RQ_TEST_HOOKS
/* Issue 5: GSO fallback. The kernel refuses a GSO buffer (EIO, then EINVAL, forced through the
 * test hook): the socket turns GSO off for good and the same datagrams go one by one, none
 * lost, in order. A first datagram of another size leaves first (the refusal stops the call
 * before the GSO buffer, as sendmmsg would). */
static void fallback_case(int err)
{
    rq_udp_socket a, b;
    RQ_CHECK(open_pair(&a, &b));
    if (rq_udp_set_gso(&a, true) != RQ_OK) {
        printf("  skip: no UDP_SEGMENT\n");
        rq_udp_close(&a);
        rq_udp_close(&b);
        return;
    }
    rq_udp_tx tx[DGRAMS + 1];
    make_burst(tx + 1, &a, &b);
    static const uint8_t first[300] = {0x42};
    tx[0] = (rq_udp_tx){first, sizeof first, {a.local, b.local}, 0};
    rq_udp_test_refuse_gso(err);
    size_t done = 0;
    int rc = rq_udp_send_batch(&a, tx, DGRAMS + 1, &done);
    rq_udp_test_refuse_gso(0);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK_EQ_U64(done, DGRAMS + 1);
    RQ_CHECK(!a.gso && a.gso_refused);
    RQ_CHECK_EQ_U64(a.stats.gso_refused, 1);
    RQ_CHECK_EQ_U64(a.stats.gso_batches, 0);
    RQ_CHECK_EQ_U64(a.stats.send_errors, 0);
    RQ_CHECK_EQ_U64(a.stats.datagrams_sent, DGRAMS + 1);
    /* the single first datagram, the refused GSO buffer, then the eleven one by one */
    RQ_CHECK_EQ_U64(a.stats.send_syscalls, 3);
    uint8_t buf[400];
    size_t len = 0;
    rq_path_addr got;
    for (int i = 0; i < 1000 && rq_udp_recv(&b, buf, sizeof buf, &len, &got) == RQ_ERR_AGAIN; i++)
        sleep_ms();
    RQ_CHECK_EQ_U64(len, sizeof first);
    RQ_CHECK_EQ_INT(buf[0], 0x42);
    size_t buffers, maxseg;
    RQ_CHECK_EQ_U64(recv_burst(&b, DGRAMS, &buffers, &maxseg), DGRAMS);
    RQ_CHECK_EQ_U64(buffers, DGRAMS);
    /* Refused once, refused for good: asking for GSO again does not turn it back on. */
    RQ_CHECK_ERR(rq_udp_set_gso(&a, true), RQ_ERR_IO);
    RQ_CHECK(!a.gso);
    rq_udp_close(&a);
    rq_udp_close(&b);
}

static void test_issue5_gso_fallback_on_eio(void)
{
    fallback_case(EIO);
}

static void test_issue5_gso_fallback_on_einval(void)
{
    fallback_case(EINVAL);
}
#endif

/* Sends n datagrams of 100 bytes from a fresh 127.0.0.1 socket with IP_TOS `tos` to `to`. */
static int send_with_tos(int tos, const rq_addr *to, int n)
{
    rq_udp_socket a;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    int rc = rq_udp_open(&a, &lo);
    if (!rc && setsockopt(a.fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos) != 0)
        rc = RQ_ERR_IO;
    uint8_t msg[100] = {0};
    rq_path_addr p = {a.local, *to};
    for (int i = 0; i < n && !rc; i++)
        rc = rq_udp_send(&a, msg, sizeof msg, &p, 0);
    rq_udp_close(&a);
    return rc;
}

/* Issue 5: ECN. The ECN bits a sender set (IP_TOS ECT(0), then CE, then none) are read on
 * receive (IP_RECVTOS) and counted per codepoint. */
static void test_issue5_ecn_bits_read_and_counted(void)
{
    rq_udp_socket b;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_udp_open(&b, &lo), RQ_OK);
    RQ_CHECK_ERR(send_with_tos(RQ_ECN_ECT0, &b.local, 3), RQ_OK);
    RQ_CHECK_ERR(send_with_tos(0xb8 | RQ_ECN_CE, &b.local, 1), RQ_OK); /* EF DSCP, CE */
    RQ_CHECK_ERR(send_with_tos(0, &b.local, 2), RQ_OK);
    static const uint8_t want[6] = {RQ_ECN_ECT0, RQ_ECN_ECT0,    RQ_ECN_ECT0,
                                    RQ_ECN_CE,   RQ_ECN_NOT_ECT, RQ_ECN_NOT_ECT};
    uint8_t buf[6][200];
    rq_udp_rx rx[6];
    size_t seen = 0;
    for (int tries = 0; tries < 1000 && seen < 6; tries++) {
        for (size_t i = 0; i < 6; i++)
            rx[i] = (rq_udp_rx){.buf = buf[i], .cap = sizeof buf[i]};
        size_t got = 0;
        if (rq_udp_recv_batch(&b, rx, 6 - seen, &got) != RQ_OK) {
            sleep_ms();
            continue;
        }
        for (size_t i = 0; i < got; i++, seen++)
            RQ_CHECK_EQ_INT(rx[i].ecn, want[seen]);
    }
    RQ_CHECK_EQ_U64(seen, 6);
    RQ_CHECK_EQ_U64(b.stats.ecn[RQ_ECN_ECT0], 3);
    RQ_CHECK_EQ_U64(b.stats.ecn[RQ_ECN_CE], 1);
    RQ_CHECK_EQ_U64(b.stats.ecn[RQ_ECN_NOT_ECT], 2);
    RQ_CHECK_EQ_U64(b.stats.ecn[RQ_ECN_ECT1], 0);
    RQ_CHECK_EQ_U64(b.stats.datagrams_received, 6);
    rq_udp_close(&b);
}

/* Issue 5: ECN over IPv6 (IPV6_RECVTCLASS): an ECT(1) traffic class is read. Skipped without
 * an IPv6 loopback. */
static void test_issue5_ecn_ipv6_traffic_class(void)
{
    rq_udp_socket a, b;
    rq_addr lo6 = {RQ_AF_INET6, 0, {[15] = 1}, 0};
    if (rq_udp_open(&a, &lo6) != RQ_OK) {
        printf("  skip: no IPv6 loopback\n");
        return;
    }
    RQ_CHECK_ERR(rq_udp_open(&b, &lo6), RQ_OK);
    int tclass = RQ_ECN_ECT1;
    RQ_CHECK(setsockopt(a.fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass) == 0);
    uint8_t msg[100] = {0}, buf[200];
    rq_path_addr p = {a.local, b.local};
    RQ_CHECK_ERR(rq_udp_send(&a, msg, sizeof msg, &p, 0x54321), RQ_OK);
    rq_udp_rx rx = {.buf = buf, .cap = sizeof buf};
    size_t got = 0;
    for (int i = 0; i < 1000 && rq_udp_recv_batch(&b, &rx, 1, &got) == RQ_ERR_AGAIN; i++)
        sleep_ms();
    RQ_CHECK_EQ_U64(got, 1);
    RQ_CHECK_EQ_INT(rx.ecn, RQ_ECN_ECT1);
    RQ_CHECK(rq_addr_eq(&rx.path.local, &b.local));
    RQ_CHECK_EQ_U64(b.stats.ecn[RQ_ECN_ECT1], 1);
    rq_udp_close(&a);
    rq_udp_close(&b);
}

/* Batched receive: many datagrams waiting come in one recvmmsg; a buffer too small for its
 * datagram is flagged and counted, not handed on as data. */
static void test_issue5_recvmmsg_batch_and_truncation(void)
{
    rq_udp_socket a, b;
    RQ_CHECK(open_pair(&a, &b));
    rq_udp_tx tx[DGRAMS];
    make_burst(tx, &a, &b);
    size_t done = 0;
    RQ_CHECK_ERR(rq_udp_send_batch(&a, tx, DGRAMS, &done), RQ_OK);
    static uint8_t bufs[DGRAMS + 1][SEG];
    rq_udp_rx rx[DGRAMS + 1];
    for (size_t i = 0; i <= DGRAMS; i++)
        rx[i] = (rq_udp_rx){.buf = bufs[i], .cap = i == 0 ? 100 : SEG};
    size_t got = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = rq_udp_recv_batch(&b, rx, DGRAMS + 1, &got);
        if (rc != RQ_ERR_AGAIN)
            break;
        sleep_ms();
    }
    /* On loopback the burst is queued whole before sendmmsg returns: one call takes it. */
    RQ_CHECK_EQ_U64(got, DGRAMS);
    RQ_CHECK_EQ_U64(b.stats.recv_syscalls, 1);
    RQ_CHECK(rx[0].truncated);
    RQ_CHECK_EQ_U64(b.stats.recv_truncated, 1);
    RQ_CHECK_EQ_U64(b.stats.datagrams_received, DGRAMS - 1);
    for (size_t i = 1; i < DGRAMS; i++) {
        RQ_CHECK(!rx[i].truncated);
        RQ_CHECK_EQ_U64(rx[i].len, dgram_len(i));
        RQ_CHECK_EQ_INT(rx[i].buf[5], dgram_byte(i, 5));
    }
    RQ_CHECK_ERR(rq_udp_recv_batch(&b, rx, 1, &got), RQ_ERR_AGAIN);
    RQ_CHECK_EQ_U64(got, 0);
    rq_udp_close(&a);
    rq_udp_close(&b);
}

static void drain_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    (void)ctx;
    (void)now;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev))
        ;
}

/* Issue 5: the loop's ECN counters. Datagrams with IP_TOS ECT(0) reach a server endpoint's
 * socket (they are not QUIC: the endpoint drops them); rq_io_get_stats counts them by
 * codepoint, with the receive calls that took them. The switch works on a loop with no
 * traffic yet. */
static void test_issue5_loop_counts_ecn(void)
{
    static const char *const alpn[] = {"rq-test"};
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    RQ_CHECK(cfg);
    RQ_CHECK_ERR(rq_config_set_alpn(cfg, alpn, 1), RQ_OK);
    RQ_CHECK_ERR(rq_config_make_ephemeral_cert(cfg, "localhost"), RQ_OK);
    rq_endpoint *ep = rq_endpoint_new(cfg, NULL, NULL, NULL);
    rq_io_loop *l = rq_io_loop_new();
    RQ_CHECK(ep && l);
    size_t idx;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0), bound;
    RQ_CHECK_ERR(rq_io_add_endpoint(l, ep, drain_events, NULL, &idx), RQ_OK);
    rq_io_set_gso(l, false);
    rq_io_set_gso(l, true);
    RQ_CHECK_ERR(rq_io_add_socket(l, idx, &lo, &bound), RQ_OK);
    RQ_CHECK_ERR(send_with_tos(RQ_ECN_ECT0, &bound, 2), RQ_OK);
    RQ_CHECK_ERR(send_with_tos(RQ_ECN_NOT_ECT, &bound, 1), RQ_OK);
    rq_io_stats st;
    rq_time start = rq_io_now();
    do {
        RQ_CHECK_ERR(rq_io_turn(l, 10 * RQ_MS), RQ_OK);
        rq_io_get_stats(l, &st);
    } while (st.datagrams_received < 3 && rq_io_now() - start < RQ_SEC);
    RQ_CHECK_EQ_U64(st.datagrams_received, 3);
    RQ_CHECK_EQ_U64(st.ecn[RQ_ECN_ECT0], 2);
    RQ_CHECK_EQ_U64(st.ecn[RQ_ECN_NOT_ECT], 1);
    RQ_CHECK_EQ_U64(st.ecn[RQ_ECN_CE] + st.ecn[RQ_ECN_ECT1], 0);
    RQ_CHECK(st.recv_syscalls >= 1 && st.recv_syscalls <= 3);
    /* Counters outlive the socket they came from. */
    rq_io_remove_socket(l, idx, &bound);
    rq_io_stats after;
    rq_io_get_stats(l, &after);
    RQ_CHECK_EQ_U64(after.ecn[RQ_ECN_ECT0], 2);
    RQ_CHECK_EQ_U64(after.datagrams_received, 3);
    rq_io_loop_free(l);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

int main(void)
{
    RQ_RUN(test_issue5_gso_send_arrives_as_separate_datagrams);
    RQ_RUN(test_issue5_gro_receive_splits_gso_burst);
    RQ_RUN(test_issue5_gso_off_each_send_is_one_datagram);
#ifdef RQ_TEST_HOOKS
    RQ_RUN(test_issue5_gso_fallback_on_eio);
    RQ_RUN(test_issue5_gso_fallback_on_einval);
#endif
    RQ_RUN(test_issue5_ecn_bits_read_and_counted);
    RQ_RUN(test_issue5_ecn_ipv6_traffic_class);
    RQ_RUN(test_issue5_recvmmsg_batch_and_truncation);
    RQ_RUN(test_issue5_loop_counts_ecn);
    return rq_test_summary();
}
