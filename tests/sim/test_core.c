/* The simulator core: event order, determinism and replay, the step bound, failure reports,
 * and leaving nothing allocated. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "core/alloc.h"
#include "host.h"
#include "inject.h"
#include "link.h"
#include "nat.h"
#include "rng.h"
#include "rqtest.h"
#include "sim.h"
#include "snode.h"
#include "trace.h"

#include <roamquic/error.h>

static char order_log[64];
static size_t order_len;

static int note_a(sim *s, void *ctx)
{
    (void)s;
    order_log[order_len++] = *(const char *)ctx;
    return 0;
}

/* Events run by time; events at equal times run in the order they were scheduled, whatever
 * order the heap would otherwise give them. */
static void test_events_run_by_time_then_insertion_order(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
    static const char labels[] = "abcdefghij";
    order_len = 0;
    /* times: 5,1,5,3,1,5,0,3,5,1 */
    static const rq_time at[] = {5, 1, 5, 3, 1, 5, 0, 3, 5, 1};
    for (int i = 0; i < 10; i++)
        RQ_CHECK_ERR(sim_at(s, at[i] * RQ_MS, note_a, (void *)&labels[i]), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    order_log[order_len] = '\0';
    RQ_CHECK_EQ_INT(order_len, 10);
    RQ_CHECK(strcmp(order_log, "gbejdhacfi") == 0);
    RQ_CHECK_EQ_U64(sim_now(s), 5 * RQ_MS);
    RQ_CHECK_EQ_U64(sim_steps(s), 10);
    sim_free(s);
}

static bool after_3ms(sim *s, void *ctx)
{
    (void)ctx;
    return sim_now(s) >= 3 * RQ_MS;
}

static bool never(sim *s, void *ctx)
{
    (void)s, (void)ctx;
    return false;
}

/* run_until stops at the given time (running events at exactly that time) and leaves the
 * clock there; run_until_pred stops as soon as the predicate holds, or at the deadline. */
static void test_run_until_time_and_predicate(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
    static const char labels[] = "xyz";
    order_len = 0;
    RQ_CHECK_ERR(sim_at(s, 2 * RQ_MS, note_a, (void *)&labels[0]), RQ_OK);
    RQ_CHECK_ERR(sim_at(s, 4 * RQ_MS, note_a, (void *)&labels[1]), RQ_OK);
    RQ_CHECK_ERR(sim_at(s, 9 * RQ_MS, note_a, (void *)&labels[2]), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(s, 2 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_INT(order_len, 1);
    RQ_CHECK_EQ_U64(sim_now(s), 2 * RQ_MS);
    RQ_CHECK_ERR(sim_run_until_pred(s, after_3ms, NULL, RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_INT(order_len, 2);
    RQ_CHECK_EQ_U64(sim_now(s), 4 * RQ_MS);
    RQ_CHECK_ERR(sim_run_until(s, 6 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_U64(sim_now(s), 6 * RQ_MS);
    RQ_CHECK_EQ_INT(sim_pending(s), 1);
    RQ_CHECK_ERR(sim_run_until_pred(s, after_3ms, NULL, 0), RQ_OK); /* already true */
    /* a predicate that never holds: stops at the deadline, the 9 ms event still pending */
    RQ_CHECK_ERR(sim_run_until_pred(s, never, NULL, 7 * RQ_MS), RQ_ERR_AGAIN);
    RQ_CHECK_EQ_U64(sim_now(s), 7 * RQ_MS);
    RQ_CHECK_EQ_INT(sim_pending(s), 1);
    RQ_CHECK_ERR(sim_run_until_pred(s, never, NULL, RQ_SEC), RQ_ERR_AGAIN); /* idle */
    RQ_CHECK_EQ_INT(order_len, 3);
    sim_free(s);
}

/* ---- a busy scenario, for determinism ---- */

static const rq_path_addr c2s = {{RQ_AF_INET4, 5000, {10, 0, 0, 2}, 0},
                                 {RQ_AF_INET4, 443, {192, 0, 2, 1}, 0}};

/* client ==(lossy, reordering, duplicating, corrupting)== NAT == server (echoes). Returns the
 * trace dump in a heap buffer (caller frees) and the digest. */
static int run_busy(uint64_t seed, char **dump, size_t *dump_len, uint64_t *digest)
{
    sim *s = NULL;
    int rc = sim_new(seed, &s);
    if (rc)
        return rc;
    sim_snode *c, *sv;
    sim_host *ch, *sh;
    sim_nat *nat;
    sim_nat_cfg nc = {.outside = {rq_addr_v4(198, 51, 100, 7, 0)}, .n_outside = 1};
    sim_link_cfg rough = {.delay = 10 * RQ_MS,
                          .rate_bps = 20000000,
                          .loss = 0.05,
                          .reorder = 0.1,
                          .reorder_delay = 3 * RQ_MS,
                          .duplicate = 0.05,
                          .corrupt = 0.02};
    sim_link_cfg plain = {.delay = 5 * RQ_MS, .rate_bps = 50000000};
    rq_addr cip = c2s.local, sip = c2s.remote;
    if ((rc = sim_snode_new(s, "client", 1, &c, &ch)) ||
        (rc = sim_snode_new(s, "server", 1, &sv, &sh)) || (rc = sim_nat_new(s, "nat", &nc, &nat)) ||
        (rc = sim_host_add_addr(ch, &cip, 0)) || (rc = sim_host_add_addr(sh, &sip, 0)) ||
        (rc = sim_connect(s, sim_host_elem(ch), 0, sim_nat_elem(nat), SIM_NAT_INSIDE, &rough,
                          &rough, NULL, NULL)) ||
        (rc = sim_connect(s, sim_nat_elem(nat), SIM_NAT_OUTSIDE, sim_host_elem(sh), 0, &plain,
                          &plain, NULL, NULL)))
        goto out;
    sim_snode_echo(sv, true, 0, 0);
    if ((rc = sim_snode_send_paced(s, c, &c2s, 0, RQ_MS / 4, 400, 1200)) ||
        (rc = sim_run_until_idle(s)))
        goto out;
    *digest = sim_trace_digest(sim_get_trace(s));
    FILE *f = tmpfile();
    if (!f) {
        rc = RQ_ERR_IO;
        goto out;
    }
    sim_trace_dump(sim_get_trace(s), f, 0, SIZE_MAX);
    long n = ftell(f);
    rewind(f);
    *dump = malloc((size_t)n + 1);
    *dump_len = fread(*dump, 1, (size_t)n, f);
    fclose(f);
out:
    sim_free(s);
    return rc;
}

/* The same seed gives a byte-identical trace (and digest); another seed gives another one. */
static void test_same_seed_gives_byte_identical_trace(void)
{
    uint64_t seed = sim_seed_from_env(SIM_DEFAULT_SEED);
    char *a = NULL, *b = NULL, *c = NULL;
    size_t la = 0, lb = 0, lc = 0;
    uint64_t da = 0, db = 0, dc = 0;
    RQ_CHECK_ERR(run_busy(seed, &a, &la, &da), RQ_OK);
    RQ_CHECK_ERR(run_busy(seed, &b, &lb, &db), RQ_OK);
    RQ_CHECK_ERR(run_busy(seed ^ 0x5eed, &c, &lc, &dc), RQ_OK);
    int same = la == lb && memcmp(a, b, la) == 0;
    int differs = la != lc || memcmp(a, c, la) != 0;
    printf("  trace: %zu bytes, digest 0x%016" PRIx64 " (other seed 0x%016" PRIx64 ")\n", la, da,
           dc);
    free(a);
    free(b);
    free(c);
    RQ_CHECK(la > 10000);
    RQ_CHECK(same);
    RQ_CHECK_EQ_U64(da, db);
    RQ_CHECK(differs);
    RQ_CHECK(da != dc);
}

/* Streams are derived from element names: creating another element (with its own random
 * stream) before the link does not change the link's random choices. */
static void test_new_element_does_not_perturb_other_streams(void)
{
    uint64_t digests[2];
    for (int extra = 0; extra < 2; extra++) {
        sim *s = NULL;
        RQ_CHECK_ERR(sim_new(42, &s), RQ_OK);
        sim_snode *a, *b;
        sim_host *ha, *hb;
        if (extra) {
            sim_nat_cfg nc = {.outside = {rq_addr_v4(198, 51, 100, 9, 0)},
                              .n_outside = 1,
                              .ports = SIM_NAT_PORTS_RANDOM};
            RQ_CHECK_ERR(sim_nat_new(s, "unrelated", &nc, NULL), RQ_OK);
        }
        RQ_CHECK_ERR(sim_snode_new(s, "a", 1, &a, &ha), RQ_OK);
        RQ_CHECK_ERR(sim_snode_new(s, "b", 1, &b, &hb), RQ_OK);
        RQ_CHECK_ERR(sim_host_add_addr(ha, &c2s.local, 0), RQ_OK);
        RQ_CHECK_ERR(sim_host_add_addr(hb, &c2s.remote, 0), RQ_OK);
        sim_link_cfg lossy = {.delay = RQ_MS, .loss = 0.3};
        sim_link *l;
        RQ_CHECK_ERR(
            sim_connect(s, sim_host_elem(ha), 0, sim_host_elem(hb), 0, &lossy, NULL, &l, NULL),
            RQ_OK);
        RQ_CHECK_ERR(sim_snode_send_paced(s, a, &c2s, 0, RQ_MS, 100, 100), RQ_OK);
        RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
        /* the digest covers element ids; compare the received sequence numbers instead */
        uint64_t h = 0;
        for (size_t i = 0; i < sim_snode_rx_count(b); i++)
            h = sim_hash_bytes(&sim_snode_rx_get(b, i)->seq, 8, h);
        digests[extra] = h;
        sim_free(s);
    }
    RQ_CHECK_EQ_U64(digests[0], digests[1]);
}

/* Two echoing nodes ping-pong forever: the step bound ends the run with RQ_ERR_LIMIT and a
 * report that names the livelock and the seed, instead of hanging the suite. */
static void test_step_bound_catches_livelock(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(7, &s), RQ_OK);
    sim_set_quiet(s, true);
    sim_set_step_limit(s, 10000);
    sim_snode *a, *b;
    sim_host *ha, *hb;
    RQ_CHECK_ERR(sim_snode_new(s, "ping", 1, &a, &ha), RQ_OK);
    RQ_CHECK_ERR(sim_snode_new(s, "pong", 1, &b, &hb), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ha, &c2s.local, 0), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(hb, &c2s.remote, 0), RQ_OK);
    sim_link_cfg d = {.delay = RQ_MS};
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(ha), 0, sim_host_elem(hb), 0, &d, &d, NULL, NULL),
                 RQ_OK);
    sim_snode_echo(a, true, 0, 0);
    sim_snode_echo(b, true, 0, 0);
    RQ_CHECK_ERR(sim_snode_send_paced(s, a, &c2s, 0, 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_ERR_LIMIT);
    RQ_CHECK(strstr(sim_failure(s), "step limit of 10000") != NULL);
    RQ_CHECK(strstr(sim_failure(s), "livelock") != NULL);
    /* a failed run stays failed */
    RQ_CHECK_ERR(sim_run_until(s, sim_now(s) + RQ_SEC), RQ_ERR_LIMIT);
    sim_free(s);
}

/* A failure report carries the seed as RQ_SIM_SEED=0x..., so the run can be replayed, and the
 * last trace entries. */
static void test_failure_report_prints_seed_for_replay(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(0xfeedf00dULL, &s), RQ_OK);
    sim_set_quiet(s, true);
    sim_snode *a;
    sim_host *ha;
    RQ_CHECK_ERR(sim_snode_new(s, "a", 1, &a, &ha), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ha, &c2s.local, 0), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(s, a, &c2s, 0, 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK); /* sent out of an unconnected port: dropped */
    RQ_CHECK_EQ_INT(sim_fail(s, RQ_ERR_PROTOCOL_VIOLATION, "scenario check %d failed", 3),
                    RQ_ERR_PROTOCOL_VIOLATION);
    const char *r = sim_failure(s);
    RQ_CHECK(strstr(r, "scenario check 3 failed") != NULL);
    RQ_CHECK(strstr(r, "RQ_SIM_SEED=0xfeedf00d") != NULL);
    RQ_CHECK(strstr(r, "RQ_ERR_PROTOCOL_VIOLATION") != NULL);
    RQ_CHECK(strstr(r, "(no_link)") != NULL); /* the trace tail */
    sim_free(s);
}

static int fail_recv(void *ctx, rq_time now, const rq_path_addr *p, uint8_t ecn, const uint8_t *d,
                     size_t len)
{
    (void)ctx, (void)now, (void)p, (void)ecn, (void)d, (void)len;
    return RQ_ERR_PROTOCOL_VIOLATION;
}

static int none_send(void *ctx, rq_time now, rq_path_addr *p, uint8_t *ecn, uint8_t *buf,
                     size_t cap, size_t *len)
{
    (void)ctx, (void)now, (void)p, (void)ecn, (void)buf, (void)cap;
    *len = 0;
    return 0;
}

/* A node's error stops the run with that error, reported with the seed: errors are never
 * swallowed by the network. */
static void test_node_error_stops_run_with_report(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(3, &s), RQ_OK);
    sim_set_quiet(s, true);
    static const sim_node_ops failing = {fail_recv, none_send, NULL, NULL};
    sim_snode *a;
    sim_host *ha, *hb;
    RQ_CHECK_ERR(sim_snode_new(s, "a", 1, &a, &ha), RQ_OK);
    RQ_CHECK_ERR(sim_host_new(s, "b", 1, &failing, NULL, &hb), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ha, &c2s.local, 0), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(hb, &c2s.remote, 0), RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(ha), 0, sim_host_elem(hb), 0, NULL, NULL, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(s, a, &c2s, RQ_MS, 0, 2, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK(strstr(sim_failure(s), "node b: recv failed") != NULL);
    RQ_CHECK_EQ_U64(sim_now(s), RQ_MS);
    sim_free(s);
}

/* RQ_SIM_SEED overrides the default seed (decimal or hex); garbage falls back. */
static void test_seed_from_environment(void)
{
    const char *orig = getenv("RQ_SIM_SEED");
    char saved[64] = "";
    if (orig)
        snprintf(saved, sizeof(saved), "%s", orig);
    setenv("RQ_SIM_SEED", "0x1234", 1);
    RQ_CHECK_EQ_U64(sim_seed_from_env(99), 0x1234);
    setenv("RQ_SIM_SEED", "77", 1);
    RQ_CHECK_EQ_U64(sim_seed_from_env(99), 77);
    setenv("RQ_SIM_SEED", "x1", 1);
    RQ_CHECK_EQ_U64(sim_seed_from_env(99), 99);
    unsetenv("RQ_SIM_SEED");
    RQ_CHECK_EQ_U64(sim_seed_from_env(99), 99);
    if (orig)
        setenv("RQ_SIM_SEED", saved, 1); /* a replay run keeps its seed for later cases */
}

/* Unbiased bounded draws: every value of a small range comes up, none outside it, and the
 * same seed gives the same sequence. */
static void test_rng_streams_are_replayable(void)
{
    sim_rng a, b, c;
    sim_rng_init(&a, 1, "link", 1);
    sim_rng_init(&b, 1, "link", 1);
    sim_rng_init(&c, 1, "link", 2);
    unsigned seen[7] = {0};
    int diff = 0;
    for (int i = 0; i < 7000; i++) {
        uint64_t x = sim_rng_below(&a, 7);
        RQ_CHECK(x < 7);
        RQ_CHECK_EQ_U64(x, sim_rng_below(&b, 7));
        diff += sim_rng_next(&c) != sim_rng_next(&a);
        sim_rng_next(&b);
        seen[x]++;
    }
    for (int i = 0; i < 7; i++)
        RQ_CHECK(seen[i] > 800 && seen[i] < 1200);
    RQ_CHECK(diff > 6990);
    RQ_CHECK_EQ_U64(sim_prob_threshold(0.0), 0);
    RQ_CHECK_EQ_U64(sim_prob_threshold(1.0), UINT64_MAX);
    RQ_CHECK_EQ_U64(sim_prob_threshold(0.5), 1ULL << 63);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_events_run_by_time_then_insertion_order);
    RQ_RUN(test_run_until_time_and_predicate);
    RQ_RUN(test_same_seed_gives_byte_identical_trace);
    RQ_RUN(test_new_element_does_not_perturb_other_streams);
    RQ_RUN(test_step_bound_catches_livelock);
    RQ_RUN(test_failure_report_prints_seed_for_replay);
    RQ_RUN(test_node_error_stops_run_with_report);
    RQ_RUN(test_seed_from_environment);
    RQ_RUN(test_rng_streams_are_replayable);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations left\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
