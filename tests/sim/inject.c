/* The injector: a link tap running an ordered rule list, and datagrams from nowhere. */
#include "inject.h"

#include "core/alloc.h"
#include "link.h"
#include "sim_internal.h"
#include "trace.h"

#include <stdio.h>

struct sim_injector {
    char name[SIM_NAME_MAX];
    uint32_t where;
    sim_link *link;
    sim_inj_rule *rules;
    uint64_t *hits;
    size_t n, cap;
    uint64_t seen;
};

static bool addr_matches(const rq_addr *pattern, const rq_addr *a)
{
    if (pattern->family == RQ_AF_NONE)
        return true;
    return pattern->port ? rq_addr_eq(pattern, a) : rq_addr_same_ip(pattern, a);
}

static bool rule_matches(const sim_inj_rule *r, const sim_dgram *dg, uint64_t n, rq_time now)
{
    if (r->first && (n < r->first || n > r->last))
        return false;
    if (now < r->from || (r->until && now >= r->until))
        return false;
    if (!addr_matches(&r->src, &dg->src) || !addr_matches(&r->dst, &dg->dst))
        return false;
    return !r->match || r->match(r->match_ctx, dg);
}

/* Applies a rule's address and byte rewriting to dg, tracing `kind` with before → after. */
static int rewrite(sim *s, sim_injector *inj, const sim_inj_rule *r, sim_dgram *dg,
                   sim_ev_kind kind)
{
    if (r->forge) {
        int rc = r->forge(r->forge_ctx, s, dg);
        if (rc < 0)
            return sim_fail(s, rc, "injector %s: forge failed", inj->name);
        if (dg->len > dg->cap)
            return sim_fail(s, RQ_ERR_BUFFER_TOO_SMALL, "injector %s: forged %u bytes into %u",
                            inj->name, dg->len, dg->cap);
    }
    rq_addr src = r->set_src ? r->new_src : dg->src;
    rq_addr dst = r->set_dst ? r->new_dst : dg->dst;
    sim_trace_add(sim_get_trace(s), sim_now(s), kind, SIM_DROP_NONE, inj->where, dg, &src, &dst);
    dg->src = src;
    dg->dst = dst;
    return 0;
}

static int copy(sim *s, sim_injector *inj, const sim_inj_rule *r, sim_link *l, const sim_dgram *dg)
{
    sim_dgram *c = sim_dgram_copy(s, dg);
    if (!c)
        return RQ_ERR_NOMEM;
    int rc = rewrite(s, inj, r, c, SIM_EV_INJECT);
    sim_link *target = r->copy_to ? r->copy_to : l;
    if (target == l)
        c->flags |= SIM_DG_SKIP_TAP; /* this injector does not see its own copies */
    if (rc == 0 && r->delay == 0)
        return sim_link_offer(s, target, c);
    if (rc == 0)
        rc = sim_schedule(s, sim_now(s) + r->delay, SIM_EVT_OFFER, target, c, 0);
    if (rc != 0)
        sim_dgram_free(s, c);
    return rc;
}

static int tap(void *ctx, sim *s, sim_link *l, sim_dgram *dg)
{
    sim_injector *inj = ctx;
    uint64_t n = ++inj->seen;
    sim_trace *t = sim_get_trace(s);
    for (size_t i = 0; i < inj->n; i++) {
        const sim_inj_rule *r = &inj->rules[i];
        if ((r->max_hits && inj->hits[i] >= r->max_hits) || !rule_matches(r, dg, n, sim_now(s)))
            continue;
        inj->hits[i]++;
        int rc = 0;
        switch (r->action) {
        case SIM_INJ_DROP:
            sim_trace_add(t, sim_now(s), SIM_EV_DROP, SIM_DROP_INJECTOR, inj->where, dg, NULL,
                          NULL);
            sim_dgram_free(s, dg);
            return SIM_TAP_TAKEN;
        case SIM_INJ_DELAY:
            sim_trace_add(t, sim_now(s), SIM_EV_DELAY, SIM_DROP_NONE, inj->where, dg, NULL, NULL);
            dg->flags |= SIM_DG_SKIP_TAP;
            rc = sim_schedule(s, sim_now(s) + r->delay, SIM_EVT_OFFER, l, dg, 0);
            if (rc != 0)
                return rc; /* the link frees dg */
            return SIM_TAP_TAKEN;
        case SIM_INJ_REWRITE:
            rc = rewrite(s, inj, r, dg, SIM_EV_REWRITE);
            break;
        case SIM_INJ_COPY:
            rc = copy(s, inj, r, l, dg);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return SIM_TAP_PASS;
}

static void injector_destroy(sim *s, void *obj)
{
    (void)s;
    sim_injector *inj = obj;
    rq_mem_free(inj->rules);
    rq_mem_free(inj->hits);
    rq_mem_free(inj);
}

int sim_injector_new(sim *s, const char *name, sim_link *on, sim_injector **out)
{
    if (!s || !on || !name || !*name)
        return RQ_ERR_INVALID_ARG;
    sim_injector *inj = rq_mem_calloc(1, sizeof(*inj));
    if (!inj)
        return RQ_ERR_NOMEM;
    snprintf(inj->name, sizeof(inj->name), "%s", name);
    inj->link = on;
    int rc = sim_trace_intern(sim_get_trace(s), inj->name, &inj->where);
    if (rc == 0)
        rc = sim_own(s, inj, injector_destroy);
    if (rc != 0) {
        injector_destroy(s, inj);
        return rc;
    }
    sim_link_set_tap(on, tap, inj);
    if (out)
        *out = inj;
    return 0;
}

int sim_injector_add(sim_injector *inj, const sim_inj_rule *rule, unsigned *id)
{
    if (rule->action > SIM_INJ_COPY || (rule->first && rule->first > rule->last))
        return RQ_ERR_INVALID_ARG;
    if (inj->n == inj->cap) {
        size_t ncap = inj->cap ? inj->cap * 2 : 4;
        sim_inj_rule *r = rq_mem_realloc(inj->rules, ncap * sizeof(*r));
        if (!r)
            return RQ_ERR_NOMEM;
        inj->rules = r;
        uint64_t *h = rq_mem_realloc(inj->hits, ncap * sizeof(*h));
        if (!h)
            return RQ_ERR_NOMEM;
        inj->hits = h;
        inj->cap = ncap;
    }
    inj->rules[inj->n] = *rule;
    inj->hits[inj->n] = 0;
    if (id)
        *id = (unsigned)inj->n;
    inj->n++;
    return 0;
}

void sim_injector_clear(sim_injector *inj)
{
    inj->n = 0; /* hit counts of rules added later start from zero (sim_injector_add) */
}

uint64_t sim_injector_hits(const sim_injector *inj, unsigned id)
{
    return id < inj->n ? inj->hits[id] : 0;
}

uint64_t sim_injector_seen(const sim_injector *inj)
{
    return inj->seen;
}

int sim_inject(sim *s, sim_link *l, rq_time at, const rq_addr *src, const rq_addr *dst,
               const void *data, size_t len, uint64_t *id)
{
    if (len > SIM_DGRAM_MAX)
        return RQ_ERR_INVALID_ARG;
    sim_dgram *dg = sim_dgram_new(s, src, dst, data, len);
    if (!dg)
        return RQ_ERR_NOMEM;
    dg->flags |= SIM_DG_SKIP_TAP;
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_INJECT, SIM_DROP_NONE, sim_link_where(l), dg,
                  NULL, NULL);
    if (id)
        *id = dg->id;
    int rc = sim_schedule(s, at, SIM_EVT_OFFER, l, dg, 0);
    if (rc != 0)
        sim_dgram_free(s, dg);
    return rc;
}
