/* The datagram trace: entries, counters, running digest, annotations and text dumps. */
#include "trace.h"

#include "core/alloc.h"
#include "rng.h"
#include "sim_internal.h"

#include <inttypes.h>
#include <string.h>

struct sim_trace {
    sim_trace_entry *e;
    size_t n, cap;
    bool keep, hops;

    char **names; /* by `where` id */
    size_t n_names, cap_names;

    char *notes; /* annotations: NUL-terminated strings, referenced by offset + 1 */
    size_t notes_len, notes_cap;

    uint64_t digest;
    uint64_t kinds[SIM_EV__COUNT];
    uint64_t drops[SIM_DROP__COUNT];

    sim_trace_hook_fn hook;
    void *hook_ctx;
};

static const char *const kind_names[SIM_EV__COUNT] = {
    "send", "recv", "drop", "nat", "dup", "reorder", "corrupt", "inject", "rewrite", "delay", "hop",
};

static const char *const drop_names[SIM_DROP__COUNT] = {
    "-",           "link_down",     "mtu",           "queue",          "loss",
    "mask",        "no_link",       "no_route",      "nat_no_binding", "nat_stale",
    "nat_no_port", "src_not_local", "dst_not_local", "injector",       "no_node",
};

const char *sim_ev_kind_name(int kind)
{
    return kind >= 0 && kind < SIM_EV__COUNT ? kind_names[kind] : "?";
}

const char *sim_drop_reason_name(int reason)
{
    return reason >= 0 && reason < SIM_DROP__COUNT ? drop_names[reason] : "?";
}

int sim_trace_create(sim *s, sim_trace **out)
{
    (void)s;
    sim_trace *t = rq_mem_calloc(1, sizeof(*t));
    if (!t)
        return RQ_ERR_NOMEM;
    t->keep = true;
    t->digest = 0xcbf29ce484222325ULL;
    *out = t;
    return 0;
}

void sim_trace_destroy(sim_trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_names; i++)
        rq_mem_free(t->names[i]);
    rq_mem_free(t->names);
    rq_mem_free(t->notes);
    rq_mem_free(t->e);
    rq_mem_free(t);
}

int sim_trace_intern(sim_trace *t, const char *name, uint32_t *id)
{
    if (t->n_names == t->cap_names) {
        size_t ncap = t->cap_names ? t->cap_names * 2 : 32;
        char **n = rq_mem_realloc(t->names, ncap * sizeof(*n));
        if (!n)
            return RQ_ERR_NOMEM;
        t->names = n;
        t->cap_names = ncap;
    }
    size_t len = strlen(name) + 1;
    char *copy = rq_mem_alloc(len);
    if (!copy)
        return RQ_ERR_NOMEM;
    memcpy(copy, name, len);
    t->names[t->n_names] = copy;
    *id = (uint32_t)t->n_names++;
    return 0;
}

const char *sim_trace_where_name(const sim_trace *t, uint32_t where)
{
    return where < t->n_names ? t->names[where] : "?";
}

void sim_trace_keep(sim_trace *t, bool keep)
{
    t->keep = keep;
}

void sim_trace_hops(sim_trace *t, bool on)
{
    t->hops = on;
}

void sim_trace_set_hook(sim_trace *t, sim_trace_hook_fn fn, void *ctx)
{
    t->hook = fn;
    t->hook_ctx = ctx;
}

size_t sim_trace_count(const sim_trace *t)
{
    return t->n;
}

const sim_trace_entry *sim_trace_get(const sim_trace *t, size_t i)
{
    return i < t->n ? &t->e[i] : NULL;
}

uint64_t sim_trace_kind_count(const sim_trace *t, sim_ev_kind kind)
{
    return (unsigned)kind < SIM_EV__COUNT ? t->kinds[kind] : 0;
}

uint64_t sim_trace_drop_count(const sim_trace *t, sim_drop_reason reason)
{
    return (unsigned)reason < SIM_DROP__COUNT ? t->drops[reason] : 0;
}

uint64_t sim_trace_digest(const sim_trace *t)
{
    return t->digest;
}

/* Serializes an address field by field: padding bytes in rq_addr must not reach the digest. */
static size_t put_addr(uint8_t *b, const rq_addr *a)
{
    b[0] = a->family;
    b[1] = (uint8_t)(a->port >> 8);
    b[2] = (uint8_t)a->port;
    memcpy(b + 3, a->ip, 16);
    return 19;
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void digest_entry(sim_trace *t, const sim_trace_entry *e)
{
    uint8_t b[5 * 8 + 4 * 19 + 8];
    size_t off = 0;
    put_u64(b + off, e->t), off += 8;
    put_u64(b + off, e->id), off += 8;
    put_u64(b + off, e->parent), off += 8;
    put_u64(b + off, e->hash), off += 8;
    put_u64(b + off, (uint64_t)e->where << 32 | e->len), off += 8;
    off += put_addr(b + off, &e->src);
    off += put_addr(b + off, &e->dst);
    off += put_addr(b + off, &e->src_out);
    off += put_addr(b + off, &e->dst_out);
    b[off++] = e->kind;
    b[off++] = e->reason;
    b[off++] = e->ecn;
    t->digest = sim_hash_bytes(b, off, t->digest);
}

static bool hashes_bytes(sim_ev_kind kind)
{
    return kind == SIM_EV_SEND || kind == SIM_EV_RECV || kind == SIM_EV_CORRUPT ||
           kind == SIM_EV_REWRITE || kind == SIM_EV_INJECT;
}

int sim_trace_add(sim_trace *t, rq_time now, sim_ev_kind kind, sim_drop_reason reason,
                  uint32_t where, const sim_dgram *dg, const rq_addr *out_src,
                  const rq_addr *out_dst)
{
    if (kind == SIM_EV_HOP && !t->hops)
        return 0;
    sim_trace_entry e;
    memset(&e, 0, sizeof(e));
    e.t = now;
    e.id = dg->id;
    e.parent = dg->parent;
    e.hash = hashes_bytes(kind) ? sim_hash_bytes(dg->data, dg->len, 0) : 0;
    e.src = dg->src;
    e.dst = dg->dst;
    e.src_out = out_src ? *out_src : dg->src;
    e.dst_out = out_dst ? *out_dst : dg->dst;
    e.where = where;
    e.len = dg->len;
    e.kind = (uint8_t)kind;
    e.reason = (uint8_t)reason;
    e.ecn = dg->ecn;
    digest_entry(t, &e);
    t->kinds[kind]++;
    if (kind == SIM_EV_DROP)
        t->drops[reason]++;
    if (!t->keep)
        return 0;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        sim_trace_entry *n = rq_mem_realloc(t->e, ncap * sizeof(*n));
        if (!n)
            return RQ_ERR_NOMEM;
        t->e = n;
        t->cap = ncap;
    }
    t->e[t->n] = e;
    size_t index = t->n++;
    if (t->hook)
        t->hook(t->hook_ctx, t, index, &t->e[index], dg->data, dg->len);
    return 0;
}

int sim_trace_annotate(sim_trace *t, size_t i, const char *text)
{
    if (i >= t->n || !text)
        return RQ_ERR_INVALID_ARG;
    const char *old = sim_trace_note(t, i);
    size_t old_len = strlen(old), add = strlen(text);
    size_t need = old_len + (old_len ? 2 : 0) + add + 1;
    if (t->notes_len + need > t->notes_cap) {
        size_t ncap = t->notes_cap ? t->notes_cap : 4096;
        while (ncap < t->notes_len + need)
            ncap *= 2;
        char *n = rq_mem_realloc(t->notes, ncap);
        if (!n)
            return RQ_ERR_NOMEM;
        t->notes = n;
        t->notes_cap = ncap;
        old = sim_trace_note(t, i); /* the arena moved */
    }
    /* A new note is written at the end; an old one is copied first (append-only arena). */
    char *dst = t->notes + t->notes_len;
    size_t off = 0;
    if (old_len) {
        memmove(dst, old, old_len);
        memcpy(dst + old_len, "; ", 2);
        off = old_len + 2;
    }
    memcpy(dst + off, text, add + 1);
    t->e[i].note = (uint32_t)(t->notes_len + 1);
    t->notes_len += need;
    return 0;
}

const char *sim_trace_note(const sim_trace *t, size_t i)
{
    if (i >= t->n || t->e[i].note == 0)
        return "";
    return t->notes + t->e[i].note - 1;
}

char *sim_trace_format(const sim_trace *t, const sim_trace_entry *e, char *buf, size_t cap)
{
    char s[64], d[64], so[64], dout[64];
    sim_addr_str(&e->src, s, sizeof(s));
    sim_addr_str(&e->dst, d, sizeof(d));
    int n =
        snprintf(buf, cap, "%4" PRIu64 ".%09" PRIu64 " %-7s %-14s %s>%s", e->t / RQ_SEC,
                 e->t % RQ_SEC, sim_ev_kind_name(e->kind), sim_trace_where_name(t, e->where), s, d);
    size_t off = n < 0 ? 0 : (size_t)n;
    if (!rq_addr_eq(&e->src, &e->src_out) || !rq_addr_eq(&e->dst, &e->dst_out)) {
        sim_addr_str(&e->src_out, so, sizeof(so));
        sim_addr_str(&e->dst_out, dout, sizeof(dout));
        if (off < cap)
            off += (size_t)snprintf(buf + off, cap - off, " => %s>%s", so, dout);
    }
    if (off < cap)
        off += (size_t)snprintf(buf + off, cap - off, " %uB id=%" PRIu64, e->len, e->id);
    if (e->parent && off < cap)
        off += (size_t)snprintf(buf + off, cap - off, " parent=%" PRIu64, e->parent);
    if (e->kind == SIM_EV_DROP && off < cap)
        off += (size_t)snprintf(buf + off, cap - off, " (%s)", sim_drop_reason_name(e->reason));
    if (e->note && off < cap)
        snprintf(buf + off, cap - off, " | %s", t->notes + e->note - 1);
    return buf;
}

void sim_trace_dump(const sim_trace *t, FILE *f, size_t first, size_t count)
{
    char line[512];
    for (size_t i = first; i < t->n && i - first < count; i++)
        fprintf(f, "%s\n", sim_trace_format(t, &t->e[i], line, sizeof(line)));
}

void sim_trace_dump_tail(const sim_trace *t, FILE *f, size_t n)
{
    size_t first = t->n > n ? t->n - n : 0;
    sim_trace_dump(t, f, first, n);
}
