/* The byte ledger: an open-addressing hash table keyed by (source, destination). */
#include "ledger.h"

#include "core/alloc.h"
#include "rng.h"

#include <string.h>

typedef struct ledger_row {
    rq_addr src, dst;
    sim_ledger_sums sums;
    bool used;
} ledger_row;

struct sim_ledger {
    ledger_row *rows;
    size_t cap; /* a power of two */
    size_t used;
};

/* Hashes the meaningful fields only: rq_addr has padding bytes that must not count. */
static uint64_t addr_hash(const rq_addr *a, uint64_t h)
{
    uint8_t b[24];
    size_t n = a->family == RQ_AF_INET4 ? 4 : 16;
    b[0] = a->family;
    b[1] = (uint8_t)(a->port >> 8);
    b[2] = (uint8_t)a->port;
    memcpy(b + 3, a->ip, n);
    memcpy(b + 3 + n, &a->scope, 4);
    return sim_hash_bytes(b, 3 + n + 4, h);
}

static size_t slot_of(const sim_ledger *l, const rq_addr *src, const rq_addr *dst)
{
    size_t i = (size_t)addr_hash(dst, addr_hash(src, 0)) & (l->cap - 1);
    while (l->rows[i].used &&
           !(rq_addr_eq(&l->rows[i].src, src) && rq_addr_eq(&l->rows[i].dst, dst)))
        i = (i + 1) & (l->cap - 1);
    return i;
}

static int grow(sim_ledger *l)
{
    size_t ncap = l->cap ? l->cap * 2 : 64;
    ledger_row *old = l->rows;
    size_t ocap = l->cap;
    l->rows = rq_mem_calloc(ncap, sizeof(*l->rows));
    if (!l->rows) {
        l->rows = old;
        return RQ_ERR_NOMEM;
    }
    l->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            l->rows[slot_of(l, &old[i].src, &old[i].dst)] = old[i];
    rq_mem_free(old);
    return 0;
}

int sim_ledger_create(sim_ledger **out)
{
    sim_ledger *l = rq_mem_calloc(1, sizeof(*l));
    if (!l)
        return RQ_ERR_NOMEM;
    if (grow(l) != 0) {
        rq_mem_free(l);
        return RQ_ERR_NOMEM;
    }
    *out = l;
    return 0;
}

void sim_ledger_destroy(sim_ledger *l)
{
    if (!l)
        return;
    rq_mem_free(l->rows);
    rq_mem_free(l);
}

int sim_ledger_book(sim_ledger *l, const rq_addr *src, const rq_addr *dst, size_t len, bool sent)
{
    if ((l->used + 1) * 2 > l->cap && grow(l) != 0)
        return RQ_ERR_NOMEM;
    ledger_row *r = &l->rows[slot_of(l, src, dst)];
    if (!r->used) {
        r->used = true;
        r->src = *src;
        r->dst = *dst;
        l->used++;
    }
    if (sent) {
        r->sums.sent_bytes += len;
        r->sums.sent_dgrams++;
    } else {
        r->sums.recv_bytes += len;
        r->sums.recv_dgrams++;
    }
    return 0;
}

sim_ledger_sums sim_ledger_pair(const sim_ledger *l, const rq_addr *src, const rq_addr *dst)
{
    sim_ledger_sums none = {0, 0, 0, 0};
    const ledger_row *r = &l->rows[slot_of(l, src, dst)];
    return r->used ? r->sums : none;
}

static void add_sums(sim_ledger_sums *to, const sim_ledger_sums *x)
{
    to->sent_bytes += x->sent_bytes;
    to->sent_dgrams += x->sent_dgrams;
    to->recv_bytes += x->recv_bytes;
    to->recv_dgrams += x->recv_dgrams;
}

static bool addr_match(const rq_addr *pattern, const rq_addr *a)
{
    return pattern->port == 0 ? rq_addr_same_ip(pattern, a) : rq_addr_eq(pattern, a);
}

void sim_ledger_addr(const sim_ledger *l, const rq_addr *a, sim_ledger_sums *from,
                     sim_ledger_sums *to)
{
    sim_ledger_sums f = {0, 0, 0, 0}, t = {0, 0, 0, 0};
    for (size_t i = 0; i < l->cap; i++) {
        const ledger_row *r = &l->rows[i];
        if (!r->used)
            continue;
        if (addr_match(a, &r->src))
            add_sums(&f, &r->sums);
        if (addr_match(a, &r->dst))
            add_sums(&t, &r->sums);
    }
    if (from)
        *from = f;
    if (to)
        *to = t;
}

sim_ledger_sums sim_ledger_total(const sim_ledger *l)
{
    sim_ledger_sums s = {0, 0, 0, 0};
    for (size_t i = 0; i < l->cap; i++)
        if (l->rows[i].used)
            add_sums(&s, &l->rows[i].sums);
    return s;
}
