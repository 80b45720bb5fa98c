/* Speed of the simulator: 50,000 datagrams of 1,200 bytes (60 MB) through a bandwidth-limited
 * link and a NAT. Asserts the exact outcome; prints the real time taken (no timing
 * assertion: the machine is shared). */
#include "core/alloc.h"
#include "host.h"
#include "link.h"
#include "nat.h"
#include "rng.h"
#include "rqtest.h"
#include "sim.h"
#include "snode.h"
#include "trace.h"

#include <time.h>

#define N_DGRAMS 50000u
#define DG_LEN   1200u

static double real_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const rq_path_addr c2s = {{RQ_AF_INET4, 5000, {10, 0, 0, 2}, 0},
                                 {RQ_AF_INET4, 443, {192, 0, 2, 1}, 0}};

/* client —100 Mbit/s, 10 ms— NAT —5 ms— server. At 100 Mbit/s a 1200-byte datagram takes
 * exactly 96 µs, so the last of 50,000 sent at once arrives at 4.8 s + 15 ms. */
static void bench_run(bool keep_trace)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(sim_seed_from_env(SIM_DEFAULT_SEED), &s), RQ_OK);
    sim_trace_keep(sim_get_trace(s), keep_trace);
    sim_snode *c, *sv;
    sim_host *ch, *sh;
    sim_nat *nat;
    sim_nat_cfg nc = {.outside = {rq_addr_v4(198, 51, 100, 7, 0)}, .n_outside = 1};
    sim_link_cfg fast = {.delay = 10 * RQ_MS, .rate_bps = 100000000};
    sim_link_cfg hop = {.delay = 5 * RQ_MS};
    RQ_CHECK_ERR(sim_snode_new(s, "client", 1, &c, &ch), RQ_OK);
    RQ_CHECK_ERR(sim_snode_new(s, "server", 1, &sv, &sh), RQ_OK);
    RQ_CHECK_ERR(sim_nat_new(s, "nat", &nc, &nat), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ch, &c2s.local, 0), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(sh, &c2s.remote, 0), RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(ch), 0, sim_nat_elem(nat), SIM_NAT_INSIDE, &fast,
                             &fast, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_nat_elem(nat), SIM_NAT_OUTSIDE, sim_host_elem(sh), 0, &hop,
                             &hop, NULL, NULL),
                 RQ_OK);
    double t0 = real_seconds();
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &c2s, 0, 0, N_DGRAMS, DG_LEN), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    double dt = real_seconds() - t0;
    RQ_CHECK_EQ_INT(sim_snode_rx_count(sv), N_DGRAMS);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(sv, N_DGRAMS - 1)->t, 4800 * RQ_MS + 15 * RQ_MS);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(sv, N_DGRAMS - 1)->seq, N_DGRAMS);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(s), SIM_EV_NAT), N_DGRAMS);
    printf("  %u datagrams x %u B through link + NAT, trace %s: %.3f s real "
           "(%.0f datagrams/s, %" PRIu64 " events, %.2f s virtual)\n",
           N_DGRAMS, DG_LEN, keep_trace ? "kept" : "digest only", dt, N_DGRAMS / dt, sim_steps(s),
           (double)sim_now(s) / RQ_SEC);
    sim_free(s);
}

static void test_bench_50k_datagrams_through_link_and_nat(void)
{
    bench_run(true);
    if (rq_test_case_failed_)
        return;
    bench_run(false);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_bench_50k_datagrams_through_link_and_nat);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations left\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
