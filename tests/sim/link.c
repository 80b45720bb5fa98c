/* A unidirectional link: tap, admission (up, MTU, queue), serialization, wire impairments. */
#include "link.h"

#include "core/alloc.h"
#include "rng.h"
#include "sim_internal.h"
#include "trace.h"

#include <stdio.h>
#include <string.h>

/* Stream tags: one random stream per impairment (see rng.h). */
enum { STREAM_LOSS = 1, STREAM_REORDER, STREAM_DUP, STREAM_CORRUPT };

typedef struct qent {
    rq_time finish; /* when its last bit leaves the transmitter */
    uint32_t len;
} qent;

typedef struct drop_range {
    uint64_t first, last;
} drop_range;

struct sim_link {
    char name[2 * SIM_NAME_MAX + 16];
    uint32_t where;
    sim_elem *from, *to;
    unsigned from_port, to_port;

    sim_link_cfg cfg;
    uint64_t thr_loss, thr_reorder, thr_dup, thr_corrupt;
    sim_rng rng_loss, rng_reorder, rng_dup, rng_corrupt;

    bool up;
    uint32_t epoch; /* bumped when the link goes down: in-flight datagrams are lost */

    rq_time busy_until; /* the transmitter is busy until then */
    uint64_t carry;     /* serialization remainder, in bit-nanoseconds, of back-to-back sends */
    qent *q;            /* ring of datagrams not yet fully serialized */
    size_t q_head, q_len, q_cap;
    uint64_t backlog;

    drop_range *drops;
    size_t n_drops;

    sim_link_tap_fn tap;
    void *tap_ctx;
    sim_link_stats stats;
};

static bool prob_ok(double p)
{
    return p >= 0.0 && p <= 1.0;
}

int sim_link_set_cfg(sim_link *l, const sim_link_cfg *cfg)
{
    if (!prob_ok(cfg->loss) || !prob_ok(cfg->reorder) || !prob_ok(cfg->duplicate) ||
        !prob_ok(cfg->corrupt))
        return RQ_ERR_INVALID_ARG;
    l->cfg = *cfg;
    l->thr_loss = sim_prob_threshold(cfg->loss);
    l->thr_reorder = sim_prob_threshold(cfg->reorder);
    l->thr_dup = sim_prob_threshold(cfg->duplicate);
    l->thr_corrupt = sim_prob_threshold(cfg->corrupt);
    return 0;
}

int sim_link_create(sim *s, sim_elem *from, unsigned from_port, sim_elem *to, unsigned to_port,
                    const sim_link_cfg *cfg, sim_link **out)
{
    static const sim_link_cfg ideal;
    sim_link *l = rq_mem_calloc(1, sizeof(*l));
    if (!l)
        return RQ_ERR_NOMEM;
    snprintf(l->name, sizeof(l->name), "%s:%u>%s:%u", from->name, from_port, to->name, to_port);
    l->from = from;
    l->to = to;
    l->from_port = from_port;
    l->to_port = to_port;
    l->up = true;
    int rc = sim_link_set_cfg(l, cfg ? cfg : &ideal);
    if (rc == 0)
        rc = sim_trace_intern(sim_get_trace(s), l->name, &l->where);
    if (rc != 0) {
        rq_mem_free(l);
        return rc;
    }
    uint64_t seed = sim_seed(s);
    sim_rng_init(&l->rng_loss, seed, l->name, STREAM_LOSS);
    sim_rng_init(&l->rng_reorder, seed, l->name, STREAM_REORDER);
    sim_rng_init(&l->rng_dup, seed, l->name, STREAM_DUP);
    sim_rng_init(&l->rng_corrupt, seed, l->name, STREAM_CORRUPT);
    *out = l;
    return 0;
}

void sim_link_destroy(sim *s, sim_link *l)
{
    (void)s;
    if (!l)
        return;
    rq_mem_free(l->q);
    rq_mem_free(l->drops);
    rq_mem_free(l);
}

const sim_link_cfg *sim_link_get_cfg(const sim_link *l)
{
    return &l->cfg;
}

const sim_link_stats *sim_link_get_stats(const sim_link *l)
{
    return &l->stats;
}

const char *sim_link_name(const sim_link *l)
{
    return l->name;
}

sim_elem *sim_link_from(const sim_link *l)
{
    return l->from;
}

sim_elem *sim_link_to(const sim_link *l)
{
    return l->to;
}

uint32_t sim_link_where(const sim_link *l)
{
    return l->where;
}

bool sim_link_is_up(const sim_link *l)
{
    return l->up;
}

void sim_link_set_tap(sim_link *l, sim_link_tap_fn fn, void *ctx)
{
    l->tap = fn;
    l->tap_ctx = ctx;
}

int sim_link_drop_range(sim_link *l, uint64_t first, uint64_t last)
{
    if (first == 0 || first > last)
        return RQ_ERR_INVALID_ARG;
    drop_range *d = rq_mem_realloc(l->drops, (l->n_drops + 1) * sizeof(*d));
    if (!d)
        return RQ_ERR_NOMEM;
    l->drops = d;
    l->drops[l->n_drops].first = first;
    l->drops[l->n_drops].last = last;
    l->n_drops++;
    return 0;
}

static void queue_clear(sim_link *l)
{
    l->q_head = l->q_len = 0;
    l->backlog = 0;
    l->busy_until = 0;
    l->carry = 0;
}

void sim_link_set_up(sim *s, sim_link *l, bool up)
{
    (void)s;
    if (l->up == up)
        return;
    l->up = up;
    if (!up) {
        l->epoch++;
        queue_clear(l);
    }
}

/* Forgets datagrams whose serialization finished by `now`. */
static void queue_drain(sim_link *l, rq_time now)
{
    while (l->q_len > 0 && l->q[l->q_head].finish <= now) {
        l->backlog -= l->q[l->q_head].len;
        l->q_head = (l->q_head + 1) % l->q_cap;
        l->q_len--;
    }
}

static int queue_push(sim_link *l, rq_time finish, uint32_t len)
{
    if (l->q_len == l->q_cap) {
        size_t ncap = l->q_cap ? l->q_cap * 2 : 64;
        qent *n = rq_mem_alloc(ncap * sizeof(*n));
        if (!n)
            return RQ_ERR_NOMEM;
        for (size_t i = 0; i < l->q_len; i++)
            n[i] = l->q[(l->q_head + i) % l->q_cap];
        rq_mem_free(l->q);
        l->q = n;
        l->q_cap = ncap;
        l->q_head = 0;
    }
    l->q[(l->q_head + l->q_len) % l->q_cap] = (qent){finish, len};
    l->q_len++;
    l->backlog += len;
    return 0;
}

uint64_t sim_link_backlog(sim *s, sim_link *l)
{
    queue_drain(l, sim_now(s));
    return l->backlog;
}

/* When the last bit of a len-byte datagram offered now leaves the transmitter. The carry keeps
 * back-to-back datagrams exact: n datagrams take exactly n*len*8/rate seconds in total. */
static rq_time serialize(sim_link *l, rq_time now, uint32_t len)
{
    if (l->cfg.rate_bps == 0)
        return now;
    rq_time start = l->busy_until;
    if (now > l->busy_until) {
        start = now;
        l->carry = 0;
    }
    uint64_t num = (uint64_t)len * 8u * RQ_SEC + l->carry;
    l->carry = num % l->cfg.rate_bps;
    l->busy_until = start + num / l->cfg.rate_bps;
    return l->busy_until;
}

static bool drop_rule_hits(const sim_link *l, uint64_t n)
{
    for (size_t i = 0; i < l->n_drops; i++)
        if (n >= l->drops[i].first && n <= l->drops[i].last)
            return true;
    return false;
}

static int drop(sim *s, sim_link *l, sim_dgram *dg, sim_drop_reason why, uint64_t *counter)
{
    (*counter)++;
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_DROP, why, l->where, dg, NULL, NULL);
    sim_dgram_free(s, dg);
    return 0;
}

/* Changes exactly one byte: a random position XOR a random non-zero value. */
static void corrupt(sim *s, sim_link *l, sim_dgram *dg)
{
    if (dg->len == 0)
        return;
    uint64_t pos = sim_rng_below(&l->rng_corrupt, dg->len);
    dg->data[pos] ^= (uint8_t)(1 + sim_rng_below(&l->rng_corrupt, 255));
    l->stats.corrupted++;
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_CORRUPT, SIM_DROP_NONE, l->where, dg, NULL,
                  NULL);
}

static int duplicate(sim *s, sim_link *l, const sim_dgram *dg, rq_time at)
{
    sim_dgram *c = sim_dgram_copy(s, dg);
    if (!c)
        return RQ_ERR_NOMEM;
    c->epoch = l->epoch;
    l->stats.duplicated++;
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_DUP, SIM_DROP_NONE, l->where, c, NULL, NULL);
    int rc = sim_schedule(s, at, SIM_EVT_DELIVER, l, c, 0);
    if (rc != 0)
        sim_dgram_free(s, c);
    return rc;
}

/* Everything after admission: the wire. */
static int transmit(sim *s, sim_link *l, sim_dgram *dg, rq_time finish)
{
    if (drop_rule_hits(l, l->stats.offered))
        return drop(s, l, dg, SIM_DROP_MASK, &l->stats.drop_mask);
    if (sim_rng_chance(&l->rng_loss, l->thr_loss))
        return drop(s, l, dg, SIM_DROP_LOSS, &l->stats.drop_loss);
    rq_time at = finish + l->cfg.delay;
    if (sim_rng_chance(&l->rng_reorder, l->thr_reorder)) {
        at += l->cfg.reorder_delay;
        l->stats.reordered++;
        sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_REORDER, SIM_DROP_NONE, l->where, dg,
                      NULL, NULL);
    }
    if (sim_rng_chance(&l->rng_corrupt, l->thr_corrupt))
        corrupt(s, l, dg);
    if (l->cfg.ecn_bleach)
        dg->ecn = 0;
    dg->epoch = l->epoch;
    int rc = sim_schedule(s, at, SIM_EVT_DELIVER, l, dg, 0);
    if (rc != 0) {
        sim_dgram_free(s, dg);
        return rc;
    }
    if (sim_rng_chance(&l->rng_dup, l->thr_dup))
        return duplicate(s, l, dg, at);
    return 0;
}

int sim_link_offer(sim *s, sim_link *l, sim_dgram *dg)
{
    if (l->tap && !(dg->flags & SIM_DG_SKIP_TAP)) {
        int v = l->tap(l->tap_ctx, s, l, dg);
        if (v < 0) {
            sim_dgram_free(s, dg);
            return v;
        }
        if (v == SIM_TAP_TAKEN)
            return 0;
    }
    dg->flags &= (uint8_t)~SIM_DG_SKIP_TAP;
    l->stats.offered++;
    if (!l->up)
        return drop(s, l, dg, SIM_DROP_LINK_DOWN, &l->stats.drop_down);
    if (l->cfg.mtu && dg->len > l->cfg.mtu)
        return drop(s, l, dg, SIM_DROP_MTU, &l->stats.drop_mtu);
    rq_time now = sim_now(s);
    queue_drain(l, now);
    if (l->cfg.queue_bytes && l->backlog + dg->len > l->cfg.queue_bytes)
        return drop(s, l, dg, SIM_DROP_QUEUE, &l->stats.drop_queue);
    rq_time finish = serialize(l, now, dg->len);
    if (finish > now && queue_push(l, finish, dg->len) != 0) {
        sim_dgram_free(s, dg);
        return RQ_ERR_NOMEM;
    }
    return transmit(s, l, dg, finish);
}

int sim_link_deliver(sim *s, sim_link *l, sim_dgram *dg)
{
    if (!l->up || dg->epoch != l->epoch)
        return drop(s, l, dg, SIM_DROP_LINK_DOWN, &l->stats.drop_down);
    l->stats.delivered++;
    l->stats.delivered_bytes += dg->len;
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_HOP, SIM_DROP_NONE, l->where, dg, NULL,
                  NULL);
    return sim_elem_receive(s, l->to, l->to_port, dg);
}
