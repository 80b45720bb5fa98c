/* Links: exact delay and bandwidth arithmetic, queue and MTU drops, loss by rate and by mask,
 * reordering, duplication, corruption, ECN bleaching, down/up. */
#include "core/alloc.h"
#include "host.h"
#include "link.h"
#include "rng.h"
#include "rqtest.h"
#include "sim.h"
#include "snode.h"
#include "trace.h"

static const rq_path_addr a2b = {{RQ_AF_INET4, 1000, {10, 0, 0, 1}, 0},
                                 {RQ_AF_INET4, 2000, {10, 0, 0, 2}, 0}};

typedef struct pair {
    sim *s;
    sim_snode *a, *b;
    sim_link *ab;
} pair;

/* a → b over one link configured by cfg (b → a ideal). */
static int pair_new(pair *p, uint64_t seed, const sim_link_cfg *cfg)
{
    sim_host *ha, *hb;
    int rc = sim_new(seed, &p->s);
    if (!rc)
        rc = sim_snode_new(p->s, "a", 1, &p->a, &ha);
    if (!rc)
        rc = sim_snode_new(p->s, "b", 1, &p->b, &hb);
    if (!rc)
        rc = sim_host_add_addr(ha, &a2b.local, 0);
    if (!rc)
        rc = sim_host_add_addr(hb, &a2b.remote, 0);
    if (!rc)
        rc = sim_connect(p->s, sim_host_elem(ha), 0, sim_host_elem(hb), 0, cfg, NULL, &p->ab, NULL);
    return rc;
}

/* 1250-byte datagrams at 10 Mbit/s leave exactly 1 ms apart and arrive delay later; a
 * 1200-byte datagram at 9.6 Mbit/s takes exactly 1 ms too; 100-byte datagrams at 3 Mbit/s
 * (266.67 µs each) keep the remainder so that three take exactly 800 µs. */
static void test_delay_and_bandwidth_are_exact(void)
{
    pair p;
    sim_link_cfg cfg = {.delay = 20 * RQ_MS, .rate_bps = 10000000};
    RQ_CHECK_ERR(pair_new(&p, 1, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 5, 1250), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 5);
    for (size_t i = 0; i < 5; i++) {
        RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, i)->t, 20 * RQ_MS + (i + 1) * RQ_MS);
        RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, i)->seq, i + 1);
    }
    /* idle again: the next datagram starts at once */
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 100 * RQ_MS, 0, 1, 1250), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 5)->t, 121 * RQ_MS);
    sim_free(p.s);

    cfg = (sim_link_cfg){.rate_bps = 3000000};
    RQ_CHECK_ERR(pair_new(&p, 1, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 3, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 0)->t, 266666);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 1)->t, 533333);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 2)->t, 800000);
    sim_free(p.s);
}

/* A queue of 3000 bytes at 1 Mbit/s (8 ms per 1000 bytes): of 10 back-to-back 1000-byte
 * datagrams the first three are queued (one on the wire, two waiting) and the other seven are
 * tail-dropped; once the first has left, a datagram is accepted again. */
static void test_queue_limit_tail_drops(void)
{
    pair p;
    sim_link_cfg cfg = {.delay = RQ_MS, .rate_bps = 1000000, .queue_bytes = 3000};
    RQ_CHECK_ERR(pair_new(&p, 1, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 10, 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(p.s, 0), RQ_OK);
    RQ_CHECK_EQ_U64(sim_link_backlog(p.s, p.ab), 3000);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 8 * RQ_MS, 0, 1, 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    const sim_link_stats *st = sim_link_get_stats(p.ab);
    RQ_CHECK_EQ_U64(st->offered, 11);
    RQ_CHECK_EQ_U64(st->drop_queue, 7);
    RQ_CHECK_EQ_U64(st->delivered, 4);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 4);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 2)->seq, 3);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 2)->t, 25 * RQ_MS);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 3)->seq, 11);
    /* at 8 ms the first has left (2000 bytes queued): accepted, it follows the other two */
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 3)->t, 33 * RQ_MS);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(p.s), SIM_DROP_QUEUE), 7);
    sim_free(p.s);
}

/* Datagrams above the MTU are dropped (reason mtu); at the MTU they pass. */
static void test_mtu_drops_larger_datagrams(void)
{
    pair p;
    sim_link_cfg cfg = {.mtu = 1280};
    RQ_CHECK_ERR(pair_new(&p, 1, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 1, 1280), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 1, 1281), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, 1, 1500), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 1);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 0)->len, 1280);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->drop_mtu, 2);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(p.s), SIM_DROP_MTU), 2);
    sim_free(p.s);
}

static uint64_t lost_with(uint64_t seed, double rate, uint64_t n)
{
    pair p;
    sim_link_cfg cfg = {.delay = RQ_MS, .loss = rate};
    if (pair_new(&p, seed, &cfg) != 0 || sim_snode_send_paced(p.s, p.a, &a2b, 0, 0, n, 64) != 0 ||
        sim_run_until_idle(p.s) != 0)
        return UINT64_MAX;
    uint64_t lost = sim_link_get_stats(p.ab)->drop_loss;
    if (lost + sim_snode_rx_count(p.b) != n)
        lost = UINT64_MAX;
    sim_free(p.s);
    return lost;
}

/* Random loss at 10 % over 20,000 datagrams: the count is the same in every run with the same
 * seed, within 4.5 sigma of the expectation (2000 ± 190) for any seed. */
static void test_random_loss_is_exact_and_plausible(void)
{
    uint64_t seed = sim_seed_from_env(SIM_DEFAULT_SEED);
    uint64_t a = lost_with(seed, 0.10, 20000), b = lost_with(seed, 0.10, 20000);
    printf("  seed 0x%" PRIx64 ": %" PRIu64 " of 20000 lost at 10%%\n", seed, a);
    RQ_CHECK(a != UINT64_MAX);
    RQ_CHECK_EQ_U64(a, b);
    RQ_CHECK(a > 1810 && a < 2190);
    RQ_CHECK_EQ_U64(lost_with(seed, 0.0, 1000), 0);
    RQ_CHECK_EQ_U64(lost_with(seed, 1.0, 1000), 1000);
}

/* "Drop the 3rd and 7th datagram, and the 10th to 12th": exactly those are lost. */
static void test_mask_drops_exact_datagrams(void)
{
    pair p;
    RQ_CHECK_ERR(pair_new(&p, 1, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_link_drop_range(p.ab, 3, 3), RQ_OK);
    RQ_CHECK_ERR(sim_link_drop_range(p.ab, 7, 7), RQ_OK);
    RQ_CHECK_ERR(sim_link_drop_range(p.ab, 10, 12), RQ_OK);
    RQ_CHECK_ERR(sim_link_drop_range(p.ab, 0, 1), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, RQ_MS, 15, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    static const uint64_t expect[] = {1, 2, 4, 5, 6, 8, 9, 13, 14, 15};
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 10);
    for (size_t i = 0; i < 10; i++)
        RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, i)->seq, expect[i]);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->drop_mask, 5);
    sim_free(p.s);
}

/* Reordering holds back a seeded fraction of datagrams: the count is replayable, and each
 * held-back datagram arrives after its successors. Duplication delivers copies right after
 * the originals. */
static void test_reorder_and_duplicate_counts(void)
{
    pair p;
    sim_link_cfg cfg = {
        .delay = 10 * RQ_MS, .reorder = 0.2, .reorder_delay = 5 * RQ_MS, .duplicate = 0.1};
    RQ_CHECK_ERR(pair_new(&p, 11, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, RQ_MS, 1000, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    const sim_link_stats *st = sim_link_get_stats(p.ab);
    printf("  reordered %" PRIu64 ", duplicated %" PRIu64 " of 1000\n", st->reordered,
           st->duplicated);
    RQ_CHECK(st->reordered > 150 && st->reordered < 250);
    RQ_CHECK(st->duplicated > 60 && st->duplicated < 140);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 1000 + st->duplicated);
    uint64_t inversions = 0, dups = 0, max_seq = 0;
    for (size_t i = 0; i < sim_snode_rx_count(p.b); i++) {
        uint64_t seq = sim_snode_rx_get(p.b, i)->seq;
        if (seq < max_seq)
            inversions++;
        if (i > 0 && seq == sim_snode_rx_get(p.b, i - 1)->seq)
            dups++;
        max_seq = seq > max_seq ? seq : max_seq;
    }
    /* a held-back datagram (5 ms) lands behind the 4-5 sent after it: each one is overtaken */
    RQ_CHECK(inversions >= st->reordered);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(p.s), SIM_EV_REORDER), st->reordered);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(p.s), SIM_EV_DUP), st->duplicated);
    RQ_CHECK(dups > 0);
    uint64_t reordered = st->reordered, duplicated = st->duplicated;
    sim_free(p.s);
    /* replay */
    RQ_CHECK_ERR(pair_new(&p, 11, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, RQ_MS, 1000, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->reordered, reordered);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->duplicated, duplicated);
    sim_free(p.s);
}

/* Corruption changes exactly one byte of each corrupted datagram, and nothing else. */
static void test_corruption_changes_exactly_one_byte(void)
{
    pair p;
    sim_link_cfg cfg = {.corrupt = 1.0};
    RQ_CHECK_ERR(pair_new(&p, 5, &cfg), RQ_OK);
    sim_snode_keep_bytes(p.b, true);
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, RQ_MS, 200, 300), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 200);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->corrupted, 200);
    uint8_t want[300];
    for (size_t i = 0; i < 200; i++) {
        const sim_snode_rx *r = sim_snode_rx_get(p.b, i);
        uint64_t seq = i + 1;
        for (int k = 0; k < 8; k++)
            want[k] = (uint8_t)(seq >> (56 - 8 * k));
        memset(want + 8, (int)(seq & 0xff), sizeof(want) - 8);
        unsigned diff = 0;
        for (size_t k = 0; k < 300; k++)
            diff += r->data[k] != want[k];
        RQ_CHECK_EQ_INT(diff, 1);
    }
    sim_free(p.s);
}

/* A link taken down drops what is offered and what is in flight; brought up, it carries
 * traffic again. */
static void test_link_down_and_up(void)
{
    pair p;
    sim_link_cfg cfg = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(pair_new(&p, 1, &cfg), RQ_OK);
    /* seq 1 at 0 ms (arrives 10 ms); seq 2 at 5 ms is in flight at the 12 ms... */
    RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, 5 * RQ_MS, 6, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(p.s, 12 * RQ_MS), RQ_OK); /* sent: 0, 5, 10 ms */
    sim_link_set_up(p.s, p.ab, false);                   /* seq 2 and 3 are in flight */
    RQ_CHECK(!sim_link_is_up(p.ab));
    RQ_CHECK_ERR(sim_run_until(p.s, 17 * RQ_MS), RQ_OK); /* seq 4 at 15 ms: offered while down */
    sim_link_set_up(p.s, p.ab, true);
    RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK); /* seq 5, 6 at 20, 25 ms */
    RQ_CHECK_EQ_INT(sim_snode_rx_count(p.b), 3);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 0)->seq, 1);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 1)->seq, 5);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(p.b, 2)->seq, 6);
    RQ_CHECK_EQ_U64(sim_link_get_stats(p.ab)->drop_down, 3);
    sim_free(p.s);
}

static int send_ect(void *ctx, rq_time now, rq_path_addr *path, uint8_t *ecn, uint8_t *buf,
                    size_t cap, size_t *len)
{
    int *left = ctx;
    (void)now, (void)cap;
    *len = 0;
    if (*left == 0)
        return 0;
    (*left)--;
    *path = a2b;
    *ecn = 2; /* ECT(0) */
    memset(buf, 0, 32);
    *len = 32;
    return 0;
}

static int recv_ignore(void *ctx, rq_time now, const rq_path_addr *p, uint8_t ecn, const uint8_t *d,
                       size_t len)
{
    (void)ctx, (void)now, (void)p, (void)ecn, (void)d, (void)len;
    return 0;
}

/* ECN codepoints travel with the datagram; a bleaching link clears them. */
static void test_ecn_bleaching(void)
{
    for (int bleach = 0; bleach < 2; bleach++) {
        sim *s = NULL;
        RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
        int left = 2;
        static const sim_node_ops ops = {recv_ignore, send_ect, NULL, NULL};
        sim_host *ha, *hb;
        sim_snode *b;
        RQ_CHECK_ERR(sim_host_new(s, "a", 1, &ops, &left, &ha), RQ_OK);
        RQ_CHECK_ERR(sim_snode_new(s, "b", 1, &b, &hb), RQ_OK);
        RQ_CHECK_ERR(sim_host_add_addr(ha, &a2b.local, 0), RQ_OK);
        RQ_CHECK_ERR(sim_host_add_addr(hb, &a2b.remote, 0), RQ_OK);
        sim_link_cfg cfg = {.ecn_bleach = bleach != 0};
        RQ_CHECK_ERR(
            sim_connect(s, sim_host_elem(ha), 0, sim_host_elem(hb), 0, &cfg, NULL, NULL, NULL),
            RQ_OK);
        RQ_CHECK_ERR(sim_host_wake(s, ha), RQ_OK);
        RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
        RQ_CHECK_EQ_INT(sim_snode_rx_count(b), 2);
        RQ_CHECK_EQ_INT(sim_snode_rx_get(b, 1)->ecn, bleach ? 0 : 2);
        sim_free(s);
    }
}

/* Each impairment has its own random stream: turning duplication on does not change which
 * datagrams random loss drops. */
static void test_impairment_streams_are_independent(void)
{
    uint64_t h[2];
    for (int dup = 0; dup < 2; dup++) {
        pair p;
        sim_link_cfg cfg = {.delay = RQ_MS, .loss = 0.2, .duplicate = dup ? 0.3 : 0.0};
        RQ_CHECK_ERR(pair_new(&p, 9, &cfg), RQ_OK);
        RQ_CHECK_ERR(sim_snode_send_paced(p.s, p.a, &a2b, 0, RQ_MS, 500, 64), RQ_OK);
        RQ_CHECK_ERR(sim_run_until_idle(p.s), RQ_OK);
        h[dup] = 0;
        uint64_t last = 0;
        for (size_t i = 0; i < sim_snode_rx_count(p.b); i++) {
            uint64_t seq = sim_snode_rx_get(p.b, i)->seq;
            if (seq != last) /* skip the duplicates */
                h[dup] = sim_hash_bytes(&seq, sizeof(seq), h[dup]);
            last = seq;
        }
        sim_free(p.s);
    }
    RQ_CHECK_EQ_U64(h[0], h[1]);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_delay_and_bandwidth_are_exact);
    RQ_RUN(test_queue_limit_tail_drops);
    RQ_RUN(test_mtu_drops_larger_datagrams);
    RQ_RUN(test_random_loss_is_exact_and_plausible);
    RQ_RUN(test_mask_drops_exact_datagrams);
    RQ_RUN(test_reorder_and_duplicate_counts);
    RQ_RUN(test_corruption_changes_exactly_one_byte);
    RQ_RUN(test_link_down_and_up);
    RQ_RUN(test_ecn_bleaching);
    RQ_RUN(test_impairment_streams_are_independent);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations left\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
