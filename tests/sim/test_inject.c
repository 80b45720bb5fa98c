/* The injector (copy, spoof, drop, delay, rewrite, forge, insert), the byte ledger and the
 * trace's hook, notes and dumps. */
#include "core/alloc.h"
#include "host.h"
#include "inject.h"
#include "ledger.h"
#include "link.h"
#include "router.h"
#include "rqtest.h"
#include "sim.h"
#include "snode.h"
#include "trace.h"

static const rq_path_addr c2s = {{RQ_AF_INET4, 5000, {10, 0, 0, 2}, 0},
                                 {RQ_AF_INET4, 443, {192, 0, 2, 1}, 0}};
static const rq_addr hole = {RQ_AF_INET4, 7777, {203, 0, 113, 66}, 0};

/* client —10 ms— router —0— server (echoes); router —0— black hole 203.0.113.66. The injector
 * taps client → router. */
typedef struct net {
    sim *s;
    sim_snode *c, *sv;
    sim_host *ch, *sh, *bh;
    sim_link *up;
    sim_injector *inj;
} net;

static int net_new(net *n)
{
    sim_router *r;
    sim_link_cfg d = {.delay = 10 * RQ_MS};
    rq_addr cnet = rq_addr_v4(10, 0, 0, 0, 0), bnet = rq_addr_v4(203, 0, 113, 0, 0);
    int rc = sim_new(1, &n->s);
    if (!rc)
        rc = sim_snode_new(n->s, "client", 1, &n->c, &n->ch);
    if (!rc)
        rc = sim_snode_new(n->s, "server", 1, &n->sv, &n->sh);
    if (!rc)
        rc = sim_host_new(n->s, "hole", 1, NULL, NULL, &n->bh);
    if (!rc)
        rc = sim_router_new(n->s, "r", 3, &r);
    if (!rc)
        rc = sim_host_add_addr(n->ch, &c2s.local, 0);
    if (!rc)
        rc = sim_host_add_addr(n->sh, &c2s.remote, 0);
    if (!rc)
        rc = sim_host_add_addr(n->bh, &hole, 0);
    if (!rc)
        rc =
            sim_connect(n->s, sim_host_elem(n->ch), 0, sim_router_elem(r), 0, &d, &d, &n->up, NULL);
    if (!rc)
        rc = sim_connect(n->s, sim_router_elem(r), 1, sim_host_elem(n->sh), 0, NULL, NULL, NULL,
                         NULL);
    if (!rc)
        rc = sim_connect(n->s, sim_router_elem(r), 2, sim_host_elem(n->bh), 0, NULL, NULL, NULL,
                         NULL);
    if (!rc)
        rc = sim_router_add_route(r, &cnet, 8, 0);
    if (!rc)
        rc = sim_router_add_route(r, &c2s.remote, 32, 1);
    if (!rc)
        rc = sim_router_add_route(r, &bnet, 24, 2);
    if (!rc)
        rc = sim_injector_new(n->s, "attacker", n->up, &n->inj);
    sim_snode_echo(n->sv, true, 0, 0);
    return rc;
}

/* An on-path attacker copies the client's first datagram, spoofs its source to a black hole
 * and sends the copy ahead of the original (MIG-9.3.2-01's setup): the server sees the spoofed
 * copy first, then the original; its echo to the black hole is booked in the ledger. */
static void test_injector_copy_with_spoofed_source_arrives_first(void)
{
    net n;
    RQ_CHECK_ERR(net_new(&n), RQ_OK);
    sim_inj_rule copy = {.action = SIM_INJ_COPY, .set_src = true, .new_src = hole, .max_hits = 1};
    unsigned id;
    RQ_CHECK_ERR(sim_injector_add(n.inj, &copy, &id), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, RQ_MS, 3, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_U64(sim_injector_hits(n.inj, id), 1);
    RQ_CHECK_EQ_U64(sim_injector_seen(n.inj), 3);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 4);
    const sim_snode_rx *first = sim_snode_rx_get(n.sv, 0), *second = sim_snode_rx_get(n.sv, 1);
    RQ_CHECK(rq_addr_eq(&first->path.remote, &hole));
    RQ_CHECK(rq_addr_eq(&second->path.remote, &c2s.local));
    RQ_CHECK_EQ_U64(first->seq, 1);
    RQ_CHECK_EQ_U64(second->seq, 1);
    RQ_CHECK_EQ_U64(first->hash, second->hash);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 3);
    sim_ledger *l = sim_get_ledger(n.s);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &hole, &c2s.remote).recv_bytes, 100);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &hole, &c2s.remote).sent_bytes, 0); /* no host sent it */
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &c2s.remote, &hole).sent_bytes, 100);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &c2s.remote, &hole).recv_bytes, 100);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_NO_NODE), 1);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(n.s), SIM_EV_INJECT), 1);
    sim_free(n.s);
}

/* Drop the 2nd datagram and hold the 3rd back by 5 ms: the server sees 1, 4, 5, 3. */
static void test_injector_drops_and_delays_chosen_datagrams(void)
{
    net n;
    RQ_CHECK_ERR(net_new(&n), RQ_OK);
    sim_inj_rule drop = {.action = SIM_INJ_DROP, .first = 2, .last = 2};
    sim_inj_rule hold = {.action = SIM_INJ_DELAY, .first = 3, .last = 3, .delay = 5 * RQ_MS};
    RQ_CHECK_ERR(sim_injector_add(n.inj, &drop, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_injector_add(n.inj, &hold, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, RQ_MS, 5, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    static const uint64_t order[] = {1, 4, 5, 3};
    static const rq_time at[] = {10, 13, 14, 17};
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 4);
    for (size_t i = 0; i < 4; i++) {
        RQ_CHECK_EQ_U64(sim_snode_rx_get(n.sv, i)->seq, order[i]);
        RQ_CHECK_EQ_U64(sim_snode_rx_get(n.sv, i)->t, at[i] * RQ_MS);
    }
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_INJECTOR), 1);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(n.s), SIM_EV_DELAY), 1);
    sim_injector_clear(n.inj);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, sim_now(n.s), 0, 1, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 5);
    sim_free(n.s);
}

static bool is_seq2(void *ctx, const sim_dgram *dg)
{
    (void)ctx;
    return dg->len >= 8 && dg->data[7] == 2;
}

static int forge_truncate(void *ctx, sim *s, sim_dgram *dg)
{
    (void)s;
    dg->data[8] = *(const uint8_t *)ctx;
    dg->len = 20;
    return 0;
}

/* A rewrite rule chosen by a match function changes the bytes through the forge hook (the
 * place QUIC-aware forging will plug in) and the destination; the trace shows before → after. */
static void test_injector_rewrites_bytes_and_addresses(void)
{
    net n;
    RQ_CHECK_ERR(net_new(&n), RQ_OK);
    static const uint8_t mark = 0xaa;
    rq_addr to_hole = hole;
    sim_inj_rule rw = {.action = SIM_INJ_REWRITE,
                       .match = is_seq2,
                       .forge = forge_truncate,
                       .forge_ctx = (void *)&mark,
                       .set_dst = true,
                       .new_dst = to_hole};
    sim_inj_rule rw1 = {.action = SIM_INJ_REWRITE,
                        .first = 1,
                        .last = 1,
                        .forge = forge_truncate,
                        .forge_ctx = (void *)&mark};
    RQ_CHECK_ERR(sim_injector_add(n.inj, &rw, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_injector_add(n.inj, &rw1, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, RQ_MS, 3, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 2); /* seq 2 went to the black hole */
    RQ_CHECK_EQ_U64(sim_snode_rx_get(n.sv, 0)->len, 20);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(n.sv, 1)->len, 100);
    RQ_CHECK_EQ_U64(sim_ledger_pair(sim_get_ledger(n.s), &c2s.local, &hole).recv_bytes, 20);
    const sim_trace *t = sim_get_trace(n.s);
    size_t rewrites = 0;
    for (size_t i = 0; i < sim_trace_count(t); i++) {
        const sim_trace_entry *e = sim_trace_get(t, i);
        if (e->kind != SIM_EV_REWRITE)
            continue;
        rewrites++;
        if (e->id == 2) /* the second datagram the client sent */
            RQ_CHECK(rq_addr_eq(&e->dst, &c2s.remote) && rq_addr_eq(&e->dst_out, &hole));
    }
    RQ_CHECK_EQ_INT(rewrites, 2);
    sim_free(n.s);
}

/* A datagram from nowhere, inserted onto a link at a chosen time, is carried like any other:
 * it arrives one link delay later, traced as injected, booked as received only. */
static void test_inject_inserts_datagram_on_link(void)
{
    net n;
    RQ_CHECK_ERR(net_new(&n), RQ_OK);
    sim_snode_echo(n.sv, false, 0, 0);
    uint64_t id = 0;
    RQ_CHECK_ERR(sim_inject(n.s, n.up, 5 * RQ_MS, &hole, &c2s.remote, "hello", 5, &id), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 1);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(n.sv, 0)->t, 15 * RQ_MS);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(n.sv, 0)->path.remote, &hole));
    RQ_CHECK_EQ_U64(sim_injector_seen(n.inj), 0); /* inserted behind the tap */
    const sim_trace_entry *e = sim_trace_get(sim_get_trace(n.s), 0);
    RQ_CHECK_EQ_INT(e->kind, SIM_EV_INJECT);
    RQ_CHECK_EQ_U64(e->id, id);
    sim_ledger_sums from, to;
    sim_ledger_addr(sim_get_ledger(n.s), &hole, &from, &to);
    RQ_CHECK_EQ_U64(from.sent_bytes, 0);
    RQ_CHECK_EQ_U64(from.recv_bytes, 5);
    RQ_CHECK_EQ_U64(to.sent_bytes + to.recv_bytes, 0);
    sim_free(n.s);
}

/* The ledger books every host datagram under its (source, destination) pair; address totals
 * (port 0 = any port) and the grand total add up. */
static void test_ledger_sums_match_traffic(void)
{
    net n;
    RQ_CHECK_ERR(net_new(&n), RQ_OK);
    rq_path_addr other = c2s;
    other.local.port = 5001;
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, RQ_MS, 10, 1000), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &other, 0, RQ_MS, 5, 300), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    sim_ledger *l = sim_get_ledger(n.s);
    sim_ledger_sums p = sim_ledger_pair(l, &c2s.local, &c2s.remote);
    RQ_CHECK_EQ_U64(p.sent_bytes, 10000);
    RQ_CHECK_EQ_U64(p.sent_dgrams, 10);
    RQ_CHECK_EQ_U64(p.recv_bytes, 10000);
    sim_ledger_sums from, to;
    rq_addr cip = c2s.local;
    cip.port = 0;
    sim_ledger_addr(l, &cip, &from, &to);
    RQ_CHECK_EQ_U64(from.sent_bytes, 11500);
    RQ_CHECK_EQ_U64(to.recv_bytes, 11500);
    RQ_CHECK_EQ_U64(to.recv_dgrams, 15);
    sim_ledger_addr(l, &other.local, &from, NULL);
    RQ_CHECK_EQ_U64(from.sent_bytes, 1500);
    sim_ledger_sums all = sim_ledger_total(l);
    RQ_CHECK_EQ_U64(all.sent_bytes, 23000);
    RQ_CHECK_EQ_U64(all.recv_bytes, 23000);
    RQ_CHECK_EQ_U64(all.sent_dgrams, 30);
    sim_free(n.s);
}

static void annotate_sends(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                           const uint8_t *data, size_t len)
{
    (void)ctx;
    if (e->kind != SIM_EV_SEND || len < 8)
        return;
    char note[32];
    snprintf(note, sizeof(note), "seq=%u", data[7]);
    sim_trace_annotate(t, index, note);
    if (data[7] == 2)
        sim_trace_annotate(t, index, "second");
}

/* The trace hook sees each entry with its bytes and can attach notes (as a QUIC decoder will
 * attach frames); the dump shows them. Turning entry keeping off keeps the digest. */
static void test_trace_hook_notes_and_dump(void)
{
    uint64_t digest[2];
    for (int keep = 1; keep >= 0; keep--) {
        net n;
        RQ_CHECK_ERR(net_new(&n), RQ_OK);
        sim_trace *t = sim_get_trace(n.s);
        sim_trace_keep(t, keep != 0);
        sim_trace_set_hook(t, annotate_sends, NULL);
        RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, RQ_MS, 3, 100), RQ_OK);
        RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
        digest[keep] = sim_trace_digest(t);
        RQ_CHECK_EQ_U64(sim_trace_kind_count(t, SIM_EV_SEND), 6);
        if (!keep) {
            RQ_CHECK_EQ_INT(sim_trace_count(t), 0);
            sim_free(n.s);
            continue;
        }
        RQ_CHECK_EQ_INT(sim_trace_count(t), 12); /* 6 sends, 6 receives */
        RQ_CHECK(strcmp(sim_trace_note(t, 0), "seq=1") == 0);
        FILE *f = tmpfile();
        RQ_CHECK(f != NULL);
        sim_trace_dump(t, f, 0, SIZE_MAX);
        rewind(f);
        char buf[4096];
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[got] = '\0';
        printf("%s", buf);
        RQ_CHECK(strstr(buf, "   0.000000000 send    client         10.0.0.2:5000>192.0.2.1:443 "
                             "100B id=1 | seq=1\n") != NULL);
        RQ_CHECK(strstr(buf, "| seq=2; second\n") != NULL);
        RQ_CHECK(strstr(buf, "   0.010000000 recv    server") != NULL);
        sim_free(n.s);
    }
    RQ_CHECK_EQ_U64(digest[0], digest[1]);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_injector_copy_with_spoofed_source_arrives_first);
    RQ_RUN(test_injector_drops_and_delays_chosen_datagrams);
    RQ_RUN(test_injector_rewrites_bytes_and_addresses);
    RQ_RUN(test_inject_inserts_datagram_on_link);
    RQ_RUN(test_ledger_sums_match_traffic);
    RQ_RUN(test_trace_hook_notes_and_dump);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations left\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
