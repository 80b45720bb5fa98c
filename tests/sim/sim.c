/* The simulator core: virtual clock, event heap, run loop, failure reports, datagram pool and
 * the element registry. */
#include "sim.h"

#include "core/alloc.h"
#include "ledger.h"
#include "link.h"
#include "sim_internal.h"
#include "trace.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Datagrams up to this capacity are recycled through a free list: almost every datagram of a
 * QUIC scenario fits, so a bulk transfer allocates only while its window grows. */
#define POOL_CAP  2048u
#define POOL_KEEP 4096u

#define FAILURE_MAX 6144u

typedef struct owned {
    void *obj;
    void (*destroy)(sim *s, void *obj);
} owned;

struct sim {
    uint64_t seed;
    rq_time now;
    uint64_t steps, step_limit;
    uint64_t next_id, next_seq;

    sim_event *heap;
    size_t heap_len, heap_cap;

    sim_elem **elems;
    size_t n_elems, cap_elems;
    sim_link **links;
    size_t n_links, cap_links;
    owned *owned;
    size_t n_owned, cap_owned;

    sim_dgram **pool;
    size_t n_pool;

    sim_trace *trace;
    sim_ledger *ledger;
    uint8_t *scratch;

    int failed_err;
    bool quiet;
    char failure[FAILURE_MAX];
};

/* ---- the event heap: a binary min-heap on (time, sequence) ---- */

static bool ev_before(const sim_event *x, const sim_event *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static int heap_push(sim *s, const sim_event *ev)
{
    if (s->heap_len == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 256;
        sim_event *n = rq_mem_realloc(s->heap, ncap * sizeof(*n));
        if (!n)
            return RQ_ERR_NOMEM;
        s->heap = n;
        s->heap_cap = ncap;
    }
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(ev, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *ev;
    return 0;
}

static sim_event heap_pop(sim *s)
{
    sim_event top = s->heap[0];
    sim_event last = s->heap[--s->heap_len];
    size_t i = 0, n = s->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

int sim_schedule(sim *s, rq_time t, uint32_t type, void *a, void *b, uint32_t aux)
{
    sim_event ev = {t < s->now ? s->now : t, s->next_seq++, a, b, NULL, type, aux};
    return heap_push(s, &ev);
}

int sim_at(sim *s, rq_time t, sim_call_fn fn, void *ctx)
{
    if (!s || !fn)
        return RQ_ERR_INVALID_ARG;
    sim_event ev = {t < s->now ? s->now : t, s->next_seq++, ctx, NULL, fn, SIM_EVT_CALL, 0};
    return heap_push(s, &ev);
}

/* ---- creation and release ---- */

int sim_new(uint64_t seed, sim **out)
{
    if (!out)
        return RQ_ERR_INVALID_ARG;
    sim *s = rq_mem_calloc(1, sizeof(*s));
    if (!s)
        return RQ_ERR_NOMEM;
    s->seed = seed;
    s->step_limit = SIM_DEFAULT_STEP_LIMIT;
    s->next_id = 1;
    s->scratch = rq_mem_alloc(SIM_DGRAM_MAX);
    s->pool = rq_mem_calloc(POOL_KEEP, sizeof(*s->pool));
    if (!s->scratch || !s->pool || sim_trace_create(s, &s->trace) != 0 ||
        sim_ledger_create(&s->ledger) != 0) {
        sim_free(s);
        return RQ_ERR_NOMEM;
    }
    *out = s;
    return 0;
}

static void free_event(sim *s, sim_event *ev)
{
    if (ev->type == SIM_EVT_DELIVER || ev->type == SIM_EVT_OFFER)
        sim_dgram_free(s, ev->b);
}

void sim_free(sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->heap_len; i++)
        free_event(s, &s->heap[i]);
    rq_mem_free(s->heap);
    for (size_t i = s->n_owned; i-- > 0;)
        s->owned[i].destroy(s, s->owned[i].obj);
    rq_mem_free(s->owned);
    for (size_t i = 0; i < s->n_elems; i++) {
        sim_elem *e = s->elems[i];
        if (e->vt->destroy)
            e->vt->destroy(s, e);
        rq_mem_free(e->out);
        rq_mem_free(e);
    }
    rq_mem_free(s->elems);
    for (size_t i = 0; i < s->n_links; i++)
        sim_link_destroy(s, s->links[i]);
    rq_mem_free(s->links);
    for (size_t i = 0; i < s->n_pool; i++)
        rq_mem_free(s->pool[i]);
    rq_mem_free(s->pool);
    sim_trace_destroy(s->trace);
    sim_ledger_destroy(s->ledger);
    rq_mem_free(s->scratch);
    rq_mem_free(s);
}

/* Appends p to a growable array of pointers-sized items. */
static int grow_array(void **arr, size_t *cap, size_t n, size_t item)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *a = rq_mem_realloc(*arr, ncap * item);
    if (!a)
        return RQ_ERR_NOMEM;
    *arr = a;
    *cap = ncap;
    return 0;
}

int sim_own(sim *s, void *obj, void (*destroy)(sim *s, void *obj))
{
    if (grow_array((void **)&s->owned, &s->cap_owned, s->n_owned, sizeof(*s->owned)) != 0)
        return RQ_ERR_NOMEM;
    s->owned[s->n_owned].obj = obj;
    s->owned[s->n_owned].destroy = destroy;
    s->n_owned++;
    return 0;
}

uint64_t sim_seed(const sim *s)
{
    return s->seed;
}

rq_time sim_now(const sim *s)
{
    return s->now;
}

uint64_t sim_steps(const sim *s)
{
    return s->steps;
}

size_t sim_pending(const sim *s)
{
    return s->heap_len;
}

sim_trace *sim_get_trace(sim *s)
{
    return s->trace;
}

sim_ledger *sim_get_ledger(sim *s)
{
    return s->ledger;
}

uint8_t *sim_scratch(sim *s)
{
    return s->scratch;
}

void sim_set_step_limit(sim *s, uint64_t steps)
{
    s->step_limit = steps ? steps : SIM_DEFAULT_STEP_LIMIT;
}

void sim_set_quiet(sim *s, bool quiet)
{
    s->quiet = quiet;
}

/* ---- failures ---- */

static size_t append_fmt(char *buf, size_t cap, size_t off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static size_t append_fmt(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
    if (off >= cap)
        return off;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + off, cap - off, fmt, ap);
    va_end(ap);
    if (n < 0)
        return off;
    return off + (size_t)n >= cap ? cap - 1 : off + (size_t)n;
}

/* The last trace entries go into the report: they usually show what the network did just
 * before things went wrong. */
static size_t append_trace_tail(sim *s, char *buf, size_t cap, size_t off)
{
    size_t n = sim_trace_count(s->trace), first = n > 16 ? n - 16 : 0;
    char line[256];
    if (n > 0)
        off = append_fmt(buf, cap, off, "last %zu of %zu trace entries:\n", n - first, n);
    for (size_t i = first; i < n; i++)
        off =
            append_fmt(buf, cap, off, "%s\n",
                       sim_trace_format(s->trace, sim_trace_get(s->trace, i), line, sizeof(line)));
    return off;
}

int sim_fail(sim *s, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char report[FAILURE_MAX];
    size_t off = append_fmt(report, sizeof(report), 0,
                            "sim: FAILED: %s (%s) at t=%" PRIu64 ".%09" PRIu64 " s, step %" PRIu64
                            "\nsim: seed 0x%" PRIx64 " — replay with RQ_SIM_SEED=0x%" PRIx64 "\n",
                            msg, rq_err_name(err), s->now / RQ_SEC, s->now % RQ_SEC, s->steps,
                            s->seed, s->seed);
    append_trace_tail(s, report, sizeof(report), off);
    if (!s->quiet)
        fputs(report, stderr);
    if (s->failed_err == 0) {
        s->failed_err = err;
        memcpy(s->failure, report, sizeof(report));
    }
    return err;
}

const char *sim_failure(const sim *s)
{
    return s->failure;
}

int sim_count_step(sim *s)
{
    if (++s->steps <= s->step_limit)
        return 0;
    return sim_fail(s, RQ_ERR_LIMIT,
                    "step limit of %" PRIu64 " events reached (livelock? %zu events pending)",
                    s->step_limit, s->heap_len);
}

/* ---- the run loop ---- */

static int dispatch(sim *s, sim_event *ev)
{
    switch (ev->type) {
    case SIM_EVT_DELIVER:
        return sim_link_deliver(s, ev->a, ev->b);
    case SIM_EVT_OFFER:
        return sim_link_offer(s, ev->a, ev->b);
    case SIM_EVT_TIMER:
        return sim_host_on_timer(s, ev->a, ev->aux);
    case SIM_EVT_WAKE:
        return sim_host_on_wake(s, ev->a);
    case SIM_EVT_CALL:
        return ev->fn(s, ev->a);
    default:
        return RQ_ERR_INTERNAL;
    }
}

int sim_step(sim *s)
{
    if (s->failed_err)
        return s->failed_err;
    if (s->heap_len == 0)
        return RQ_ERR_AGAIN;
    sim_event ev = heap_pop(s);
    if (ev.t > s->now)
        s->now = ev.t;
    int rc = sim_count_step(s);
    if (rc != 0) {
        free_event(s, &ev);
        return rc;
    }
    rc = dispatch(s, &ev);
    if (rc < 0 && s->failed_err == 0)
        sim_fail(s, rc, "an event handler returned %s", rq_strerror(rc));
    return rc < 0 ? s->failed_err : 0;
}

int sim_run_until(sim *s, rq_time t)
{
    while (s->heap_len > 0 && s->heap[0].t <= t) {
        int rc = sim_step(s);
        if (rc != 0)
            return rc;
    }
    if (s->failed_err)
        return s->failed_err;
    if (t > s->now)
        s->now = t;
    return 0;
}

int sim_run_until_idle(sim *s)
{
    int rc;
    while ((rc = sim_step(s)) == 0)
        ;
    return rc == RQ_ERR_AGAIN ? 0 : rc;
}

int sim_run_until_pred(sim *s, sim_pred_fn pred, void *ctx, rq_time deadline)
{
    if (s->failed_err)
        return s->failed_err;
    while (!pred(s, ctx)) {
        if (s->heap_len == 0)
            return RQ_ERR_AGAIN;
        if (s->heap[0].t > deadline) {
            if (deadline > s->now)
                s->now = deadline;
            return RQ_ERR_AGAIN;
        }
        int rc = sim_step(s);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- datagrams ---- */

sim_dgram *sim_dgram_new(sim *s, const rq_addr *src, const rq_addr *dst, const void *data,
                         size_t len)
{
    if (len > SIM_DGRAM_MAX)
        return NULL;
    sim_dgram *dg;
    if (len <= POOL_CAP && s->n_pool > 0) {
        dg = s->pool[--s->n_pool];
    } else {
        uint32_t cap = len <= POOL_CAP ? POOL_CAP : (uint32_t)len;
        dg = rq_mem_alloc(sizeof(*dg) + cap);
        if (!dg)
            return NULL;
        dg->cap = cap;
    }
    dg->id = s->next_id++;
    dg->parent = 0;
    dg->src = *src;
    dg->dst = *dst;
    dg->born = s->now;
    dg->len = (uint32_t)len;
    dg->ecn = 0;
    dg->flags = 0;
    dg->epoch = 0;
    if (len > 0)
        memcpy(dg->data, data, len);
    return dg;
}

sim_dgram *sim_dgram_copy(sim *s, const sim_dgram *dg)
{
    sim_dgram *c = sim_dgram_new(s, &dg->src, &dg->dst, dg->data, dg->len);
    if (!c)
        return NULL;
    c->parent = dg->id;
    c->ecn = dg->ecn;
    c->born = dg->born;
    return c;
}

void sim_dgram_free(sim *s, sim_dgram *dg)
{
    if (!dg)
        return;
    if (dg->cap == POOL_CAP && s->n_pool < POOL_KEEP)
        s->pool[s->n_pool++] = dg;
    else
        rq_mem_free(dg);
}

/* ---- elements ---- */

int sim_elem_register(sim *s, sim_elem *e, const sim_elem_vt *vt, const char *name, unsigned nports)
{
    if (!name || !*name || nports == 0)
        return RQ_ERR_INVALID_ARG;
    e->vt = vt;
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->nports = nports;
    e->out = rq_mem_calloc(nports, sizeof(*e->out));
    if (!e->out)
        return RQ_ERR_NOMEM;
    int rc = sim_trace_intern(s->trace, e->name, &e->where);
    if (rc == 0)
        rc = grow_array((void **)&s->elems, &s->cap_elems, s->n_elems, sizeof(*s->elems));
    if (rc != 0) {
        rq_mem_free(e->out);
        e->out = NULL;
        return rc;
    }
    s->elems[s->n_elems++] = e;
    return 0;
}

const char *sim_elem_name(const sim_elem *e)
{
    return e->name;
}

unsigned sim_elem_ports(const sim_elem *e)
{
    return e->nports;
}

sim_link *sim_elem_link(const sim_elem *e, unsigned port)
{
    return port < e->nports ? e->out[port] : NULL;
}

int sim_connect(sim *s, sim_elem *a, unsigned pa, sim_elem *b, unsigned pb, const sim_link_cfg *ab,
                const sim_link_cfg *ba, sim_link **lab, sim_link **lba)
{
    if (!s || !a || !b || pa >= a->nports || pb >= b->nports || a->out[pa] || b->out[pb])
        return RQ_ERR_INVALID_ARG;
    if (grow_array((void **)&s->links, &s->cap_links, s->n_links + 1, sizeof(*s->links)) != 0)
        return RQ_ERR_NOMEM;
    sim_link *x = NULL, *y = NULL;
    int rc = sim_link_create(s, a, pa, b, pb, ab, &x);
    if (rc != 0)
        return rc;
    s->links[s->n_links++] = x;
    rc = sim_link_create(s, b, pb, a, pa, ba, &y);
    if (rc != 0)
        return rc; /* x stays registered and is freed with the sim */
    s->links[s->n_links++] = y;
    a->out[pa] = x;
    b->out[pb] = y;
    if (lab)
        *lab = x;
    if (lba)
        *lba = y;
    return 0;
}

int sim_elem_send(sim *s, sim_elem *e, unsigned port, sim_dgram *dg)
{
    if (port >= e->nports) {
        sim_dgram_free(s, dg);
        return RQ_ERR_INVALID_ARG;
    }
    if (!e->out[port]) {
        sim_trace_add(s->trace, s->now, SIM_EV_DROP, SIM_DROP_NO_LINK, e->where, dg, NULL, NULL);
        sim_dgram_free(s, dg);
        return 0;
    }
    return sim_link_offer(s, e->out[port], dg);
}

int sim_elem_receive(sim *s, sim_elem *e, unsigned port, sim_dgram *dg)
{
    if (port >= e->nports) {
        sim_dgram_free(s, dg);
        return RQ_ERR_INVALID_ARG;
    }
    return e->vt->receive(s, e, port, dg);
}

/* ---- addresses ---- */

char *sim_addr_str(const rq_addr *a, char *buf, size_t cap)
{
    if (a->family == RQ_AF_INET4) {
        snprintf(buf, cap, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3], a->port);
    } else if (a->family == RQ_AF_INET6) {
        /* Plain eight groups (no :: compression): unambiguous and stable for diffs. */
        char ip[48];
        size_t off = 0;
        for (int i = 0; i < 8; i++)
            off += (size_t)snprintf(ip + off, sizeof(ip) - off, i ? ":%x" : "%x",
                                    (unsigned)a->ip[2 * i] << 8 | a->ip[2 * i + 1]);
        snprintf(buf, cap, "[%s]:%u", ip, a->port);
    } else {
        snprintf(buf, cap, "-");
    }
    return buf;
}

rq_addr sim_addr_v6(const uint16_t groups[8], uint16_t port)
{
    rq_addr a;
    memset(&a, 0, sizeof(a));
    a.family = RQ_AF_INET6;
    a.port = port;
    for (int i = 0; i < 8; i++) {
        a.ip[2 * i] = (uint8_t)(groups[i] >> 8);
        a.ip[2 * i + 1] = (uint8_t)groups[i];
    }
    return a;
}
