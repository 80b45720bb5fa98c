/* The wire log: clear-text header fields of every datagram, gathered by a trace hook. */
#include "qwire.h"

#include <stdlib.h>
#include <string.h>

/* A bounds-checked reader over one datagram. */
typedef struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd;

static uint8_t rd_u8(rd *r)
{
    if (r->left < 1) {
        r->bad = true;
        return 0;
    }
    r->left--;
    return *r->p++;
}

static const uint8_t *rd_bytes(rd *r, size_t n)
{
    if (r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t rd_u32(rd *r)
{
    const uint8_t *p = rd_bytes(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

/* RFC 9000 §16: a variable-length integer. */
static uint64_t rd_varint(rd *r)
{
    uint8_t b = rd_u8(r);
    size_t n = (size_t)1 << (b >> 6);
    uint64_t v = b & 0x3f;
    for (size_t i = 1; i < n; i++)
        v = v << 8 | rd_u8(r);
    return v;
}

/* A CID of up to 255 bytes (RFC 8999); kept when it fits 20. */
static void rd_cid(rd *r, uint8_t *out, uint8_t *out_len)
{
    uint8_t n = rd_u8(r);
    const uint8_t *p = rd_bytes(r, n);
    *out_len = n;
    if (p && n <= 20)
        memcpy(out, p, n);
}

void qwire_parse(const uint8_t *data, size_t len, qwire_pkt *p)
{
    rd r = {data, len, false};
    p->len = (uint32_t)len;
    p->type = QWIRE_OTHER;
    if (len >= 16)
        memcpy(p->tail, data + len - 16, 16);
    p->first = rd_u8(&r);
    if (r.bad)
        return;
    if (!(p->first & 0x80)) {
        p->type = QWIRE_SHORT;
        return;
    }
    p->version = rd_u32(&r);
    rd_cid(&r, p->dcid, &p->dcid_len);
    rd_cid(&r, p->scid, &p->scid_len);
    if (r.bad)
        return;
    if (p->version == 0) {
        p->type = QWIRE_VN;
        while (r.left >= 4) {
            uint32_t v = rd_u32(&r);
            if (p->vn_count < 8)
                p->vn_versions[p->vn_count] = v;
            p->vn_count++;
        }
        return;
    }
    if (p->version != 1)
        return;
    p->type = (uint8_t)((p->first >> 4) & 3);
    size_t tl = 0;
    const uint8_t *tok = NULL;
    if (p->type == QWIRE_INITIAL) {
        tl = (size_t)rd_varint(&r);
        tok = rd_bytes(&r, tl);
    } else if (p->type == QWIRE_RETRY && r.left >= 16) {
        tl = r.left - 16; /* the Retry Integrity Tag ends the packet (§17.2.5) */
        tok = r.p;
    }
    if (tok && tl <= QWIRE_TOKEN_MAX) {
        memcpy(p->token, tok, tl);
        p->token_len = (uint16_t)tl;
    }
}

static void hook(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                 const uint8_t *data, size_t len)
{
    qwire *w = ctx;
    (void)t;
    (void)index;
    if (e->kind != SIM_EV_SEND && e->kind != SIM_EV_RECV && e->kind != SIM_EV_INJECT)
        return;
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        qwire_pkt *n = realloc(w->pkts, cap * sizeof *n);
        if (!n) {
            w->oom = true;
            return;
        }
        w->pkts = n;
        w->cap = cap;
    }
    qwire_pkt *p = &w->pkts[w->count++];
    memset(p, 0, sizeof *p);
    p->t = e->t;
    p->kind = e->kind;
    p->src = e->src_out;
    p->dst = e->dst_out;
    qwire_parse(data, len, p);
}

void qwire_attach(qwire *w, sim *s)
{
    memset(w, 0, sizeof *w);
    sim_trace_set_hook(sim_get_trace(s), hook, w);
}

void qwire_free(qwire *w)
{
    free(w->pkts);
    memset(w, 0, sizeof *w);
}

static bool matches(const qwire_pkt *p, uint8_t kind, const rq_addr *src, int type)
{
    return p->kind == kind && (!src || src->family == RQ_AF_NONE || rq_addr_eq(&p->src, src)) &&
           (type < 0 || p->type == type);
}

long qwire_find(const qwire *w, size_t from, uint8_t kind, const rq_addr *src, int type)
{
    for (size_t i = from; i < w->count; i++)
        if (matches(&w->pkts[i], kind, src, type))
            return (long)i;
    return -1;
}

size_t qwire_count(const qwire *w, uint8_t kind, const rq_addr *src, int type, rq_time t)
{
    size_t n = 0;
    for (size_t i = 0; i < w->count; i++)
        if (w->pkts[i].t >= t && matches(&w->pkts[i], kind, src, type))
            n++;
    return n;
}

rq_time qwire_last_time(const qwire *w, uint8_t kind, const rq_addr *src)
{
    rq_time t = 0;
    for (size_t i = 0; i < w->count; i++)
        if (matches(&w->pkts[i], kind, src, -1))
            t = w->pkts[i].t;
    return t;
}
