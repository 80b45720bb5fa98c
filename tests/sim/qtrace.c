/* The decrypting wire trace of qtrace.h: keys, packets and frames. TLS message parsing is in
 * qtrace_tls.c. */
#include "qtrace.h"

#include "core/alloc.h"
#include "core/packet.h"
#include "core/pn.h"

#include <string.h>

/* Key-log labels this observer uses, as (direction, space). */
static const struct {
    const char *name;
    uint8_t dir, space;
} LABELS[] = {
    {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", QTRACE_C2S, RQ_PN_SPACE_HANDSHAKE},
    {"SERVER_HANDSHAKE_TRAFFIC_SECRET", QTRACE_S2C, RQ_PN_SPACE_HANDSHAKE},
    {"CLIENT_TRAFFIC_SECRET_0", QTRACE_C2S, RQ_PN_SPACE_APPLICATION},
    {"SERVER_TRAFFIC_SECRET_0", QTRACE_S2C, RQ_PN_SPACE_APPLICATION},
};
#define NLABELS (sizeof LABELS / sizeof LABELS[0])

static void hook(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                 const uint8_t *data, size_t len)
{
    (void)t;
    if (e->kind == SIM_EV_SEND || e->kind == SIM_EV_INJECT)
        qtrace_datagram(ctx, e, index, data, len);
    else if (e->kind == SIM_EV_RECV)
        qtrace_delivered(ctx, e->parent ? e->parent : e->id, e->t);
}

/* Deliveries follow sends closely, so the datagram is found a short way back from the end
 * (ids are not sorted: an injector may trace a datagram later than it was made). */
void qtrace_delivered(qtrace *qt, uint64_t id, rq_time t)
{
    bool found = false;
    for (size_t i = qt->count; i-- > 0;) {
        qtrace_pkt *p = &qt->pkts[i];
        if (p->dgram_id == id) {
            found = true;
            if (p->delivered == QTRACE_NEVER)
                p->delivered = t;
        } else if (found) {
            return; /* the packets of one datagram are contiguous */
        }
    }
}

int qtrace_attach(qtrace *qt, sim *s)
{
    memset(qt, 0, sizeof *qt);
    qt->cid_len[0] = qt->cid_len[1] = -1;
    for (int d = 0; d < 2; d++)
        for (int sp = 0; sp < 3; sp++)
            qt->keys[d][sp].largest = RQ_PN_NONE;
    qt->work = rq_mem_alloc(SIM_DGRAM_MAX);
    qt->tmp = rq_mem_alloc(SIM_DGRAM_MAX);
    if (!qt->work || !qt->tmp) {
        qtrace_free(qt);
        return RQ_ERR_NOMEM;
    }
    sim_trace_keep(sim_get_trace(s), true);
    sim_trace_set_hook(sim_get_trace(s), hook, qt);
    return 0;
}

static void keys_free(qtrace_keys *k)
{
    rq_packet_key_deinit(&k->key);
    rq_packet_key_deinit(&k->prev);
    rq_hp_key_deinit(&k->hp);
    k->have = k->have_prev = false;
}

const rq_frame *qtrace_pkt_frame(const qtrace *qt, const qtrace_pkt *p, uint64_t type)
{
    for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++)
        if (qt->frames[f].type == type)
            return &qt->frames[f];
    return NULL;
}

bool qtrace_pkt_only_probing(const qtrace *qt, const qtrace_pkt *p)
{
    for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++)
        if (!rq_frame_is_probing(qt->frames[f].type))
            return false;
    return true;
}

void qtrace_free(qtrace *qt)
{
    for (int d = 0; d < 2; d++) {
        for (int sp = 0; sp < 3; sp++)
            keys_free(&qt->keys[d][sp]);
        for (int sp = 0; sp < 2; sp++)
            rq_mem_free(qt->crypto[d][sp]);
    }
    rq_mem_free(qt->pkts);
    rq_mem_free(qt->frames);
    rq_mem_free(qt->work);
    rq_mem_free(qt->tmp);
    /* Secrets are test secrets, but a key log is a key log: wipe it. */
    memset(qt, 0, sizeof *qt);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly n bytes of hex from s; returns the characters read, 0 on a bad digit. */
static size_t unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 2 * n;
}

/* "LABEL <client random: 64 hex> <secret: 64 or 96 hex>". Both endpoints log the same
 * secrets; the first line for a (label, random) wins. */
void qtrace_keylog_line(void *ctx, const char *line)
{
    qtrace *qt = ctx;
    const char *sp = strchr(line, ' ');
    if (!sp)
        return;
    size_t lab = NLABELS;
    for (size_t i = 0; i < NLABELS; i++)
        if ((size_t)(sp - line) == strlen(LABELS[i].name) &&
            memcmp(line, LABELS[i].name, (size_t)(sp - line)) == 0)
            lab = i;
    if (lab == NLABELS)
        return; /* EXPORTER_SECRET and the like: not packet protection */
    qtrace_keylog k = {.label = (uint8_t)lab};
    const char *p = sp + 1;
    if (unhex(p, k.random, 32) != 64 || p[64] != ' ')
        return;
    p += 65;
    size_t hexlen = strlen(p);
    if (hexlen != 64 && hexlen != 96)
        return;
    k.secret_len = (uint8_t)(hexlen / 2);
    if (unhex(p, k.secret, k.secret_len) != hexlen)
        return;
    for (size_t i = 0; i < qt->keylog_count; i++)
        if (qt->keylog[i].label == k.label && memcmp(qt->keylog[i].random, k.random, 32) == 0)
            return;
    if (qt->keylog_count < QTRACE_KEYLOG_MAX) {
        qt->keylog[qt->keylog_count++] = k;
        qt->st.keylog_lines++;
    }
}

void qtrace_config(qtrace *qt, rq_config *cfg)
{
    rq_config_set_keylog(cfg, qtrace_keylog_line, qt);
}

const qtrace_keylog *qtrace_find_secret(const qtrace *qt, int dir, int space)
{
    if (!qt->have_random)
        return NULL;
    for (size_t i = 0; i < qt->keylog_count; i++) {
        const qtrace_keylog *k = &qt->keylog[i];
        if (LABELS[k->label].dir == dir && LABELS[k->label].space == space &&
            memcmp(k->random, qt->client_random, 32) == 0)
            return k;
    }
    return NULL;
}

/* RFC 9001 §5.2: both directions' Initial keys from the client's (first or post-Retry) DCID. */
static void derive_initial(qtrace *qt, const rq_cid *dcid)
{
    uint8_t sec[2][RQ_INITIAL_SECRET_LEN];
    qt->odcid = *dcid;
    if (rq_initial_secrets(dcid, sec[QTRACE_C2S], sec[QTRACE_S2C]) != 0)
        return;
    for (int d = 0; d < 2; d++) {
        qtrace_keys *k = &qt->keys[d][RQ_PN_SPACE_INITIAL];
        keys_free(k);
        k->largest = RQ_PN_NONE;
        k->have = rq_packet_key_init(&k->key, RQ_AEAD_AES_128_GCM, sec[d], sizeof sec[d]) == 0 &&
                  rq_hp_key_init(&k->hp, RQ_AEAD_AES_128_GCM, sec[d], sizeof sec[d]) == 0;
    }
    memset(sec, 0, sizeof sec);
}

/* Handshake and 1-RTT keys from the key log, once the cipher suite and the client random are
 * known. */
static qtrace_keys *get_keys(qtrace *qt, int dir, int space)
{
    qtrace_keys *k = &qt->keys[dir][space];
    if (k->have || space == RQ_PN_SPACE_INITIAL || !qt->have_alg)
        return k->have ? k : NULL;
    const qtrace_keylog *l = qtrace_find_secret(qt, dir, space);
    if (!l || l->secret_len != rq_aead_alg_secret_len(qt->alg))
        return NULL;
    if (rq_packet_key_init(&k->key, qt->alg, l->secret, l->secret_len) != 0 ||
        rq_hp_key_init(&k->hp, qt->alg, l->secret, l->secret_len) != 0) {
        keys_free(k);
        return NULL;
    }
    k->have = true;
    k->phase = 0;
    return k;
}

/* The side a datagram came from: a host's SEND by the host, an injector's datagram by its
 * source address (or, failing that, its destination). -1 when unknown. */
static int direction(qtrace *qt, const sim_trace_entry *e, const uint8_t *data, size_t len)
{
    if (e->kind == SIM_EV_SEND) {
        if (!qt->have_client && len > 0 && (data[0] & 0xb0) == 0x80) {
            /* The first long-header Initial (type bits 00) any host sends is the client's:
             * servers only ever answer. */
            qt->have_client = true;
            qt->client_where = e->where;
        }
        if (!qt->have_client)
            return -1;
        int dir = e->where == qt->client_where ? QTRACE_C2S : QTRACE_S2C;
        bool known = false;
        for (size_t i = 0; i < qt->side_addr_count[dir]; i++)
            known = known || rq_addr_eq(&qt->side_addr[dir][i], &e->src);
        if (!known && qt->side_addr_count[dir] < 8)
            qt->side_addr[dir][qt->side_addr_count[dir]++] = e->src;
        return dir;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < 2; d++)
            for (size_t i = 0; i < qt->side_addr_count[d]; i++)
                if (rq_addr_eq(&qt->side_addr[d][i], pass == 0 ? &e->src_out : &e->dst_out))
                    return pass == 0 ? d : 1 - d;
    return -1;
}

static qtrace_pkt *add_pkt(qtrace *qt)
{
    if (qt->count == qt->cap) {
        size_t cap = qt->cap ? qt->cap * 2 : 256;
        qtrace_pkt *n = rq_mem_realloc(qt->pkts, cap * sizeof *n);
        if (!n) {
            qt->oom = true;
            return NULL;
        }
        qt->pkts = n;
        qt->cap = cap;
    }
    qtrace_pkt *p = &qt->pkts[qt->count++];
    memset(p, 0, sizeof *p);
    p->first_frame = qt->frame_count;
    p->delivered = QTRACE_NEVER;
    return p;
}

/* A new packet record with what the datagram and the header say. */
static qtrace_pkt *add_pkt_for(qtrace *qt, const sim_trace_entry *e, size_t index, int dir,
                               const rq_pkt_hdr *h)
{
    qtrace_pkt *p = add_pkt(qt);
    if (!p)
        return NULL;
    p->t = e->t;
    p->trace_index = index;
    p->dgram_id = e->id;
    p->src = e->src_out;
    p->dst = e->dst_out;
    p->len = (uint32_t)h->len;
    p->dir = (uint8_t)dir;
    p->type = (uint8_t)h->type;
    p->injected = e->kind == SIM_EV_INJECT;
    if (!rq_pkt_hdr_dcid(h, &p->dcid))
        p->dcid.len = 0;
    return p;
}

/* Keeps a copy of f whose pointers into the packet are cleared (the packet bytes are gone
 * after the hook returns). */
static void add_frame(qtrace *qt, qtrace_pkt *p, const rq_frame *f)
{
    if (qt->frame_count == qt->frame_cap) {
        size_t cap = qt->frame_cap ? qt->frame_cap * 2 : 1024;
        rq_frame *n = rq_mem_realloc(qt->frames, cap * sizeof *n);
        if (!n) {
            qt->oom = true;
            return;
        }
        qt->frames = n;
        qt->frame_cap = cap;
    }
    rq_frame *c = &qt->frames[qt->frame_count++];
    *c = *f;
    if (rq_ft_is_stream(f->type))
        c->stream.data = NULL;
    else if (f->type == RQ_FT_CRYPTO)
        c->crypto.data = NULL;
    else if (f->type == RQ_FT_NEW_TOKEN)
        c->new_token.token = NULL;
    else if (f->type == RQ_FT_CONNECTION_CLOSE || f->type == RQ_FT_CONNECTION_CLOSE_APP)
        c->close.reason = NULL;
    else if (f->type == RQ_FT_ACK || f->type == RQ_FT_ACK_ECN) {
        c->ack.range_bytes = NULL;
        c->ack.range_bytes_len = 0;
    }
    p->frame_count++;
}

static void add_token(qtrace *qt, int issuer, const uint8_t *token)
{
    if (qt->token_count[issuer] < QTRACE_TOKENS_MAX)
        memcpy(qt->tokens[issuer][qt->token_count[issuer]++], token, RQ_RESET_TOKEN_LEN);
}

/* The frames of an opened payload. */
static void decode_frames(qtrace *qt, qtrace_pkt *p, int dir, int space, const uint8_t *payload,
                          size_t len)
{
    rq_rd r = rq_rd_init(payload, len);
    while (rq_rd_left(&r) > 0) {
        rq_frame f;
        if (rq_frame_decode(&r, &f) != 0) {
            qt->st.malformed++;
            return;
        }
        qt->st.frames++;
        if (f.type == RQ_FT_CRYPTO && space != RQ_PN_SPACE_APPLICATION)
            qtrace_crypto_data(qt, dir, space, f.crypto.offset, f.crypto.data, f.crypto.length);
        if (f.type == RQ_FT_NEW_CONNECTION_ID)
            add_token(qt, dir, f.new_cid.reset_token);
        add_frame(qt, p, &f);
    }
}

/* Opens one protected packet pkt[0 .. plen) (already header-unprotected into qt->work at
 * `pkt`) under k into qt->tmp; true on success. A failed open scribbles over its buffer,
 * hence the copy per attempt. */
static bool try_open(qtrace *qt, rq_packet_key *k, const uint8_t *pkt, size_t plen, size_t hdr_len,
                     uint64_t pn, size_t *payload_len)
{
    memcpy(qt->tmp, pkt, plen);
    return rq_payload_open(k, qt->tmp, plen, hdr_len, pn, payload_len) == 0;
}

/* RFC 9001 §6: a 1-RTT packet whose key phase bit differs from the current phase is either
 * the next phase (derive it from the current secret with "quic ku") or, arriving late, the
 * previous one. */
static bool open_1rtt(qtrace *qt, int dir, qtrace_keys *k, uint8_t phase, const uint8_t *pkt,
                      size_t plen, size_t hdr_len, uint64_t pn, size_t *payload_len)
{
    if (phase == k->phase)
        return try_open(qt, &k->key, pkt, plen, hdr_len, pn, payload_len);
    uint8_t next_secret[RQ_MAX_SECRET_LEN];
    rq_packet_key next = {0};
    bool ok =
        rq_key_update_secret(k->key.alg, k->key.secret, k->key.secret_len, next_secret) == 0 &&
        rq_packet_key_init(&next, k->key.alg, next_secret, k->key.secret_len) == 0;
    memset(next_secret, 0, sizeof next_secret);
    if (ok && try_open(qt, &next, pkt, plen, hdr_len, pn, payload_len)) {
        rq_packet_key_deinit(&k->prev);
        k->prev = k->key;
        k->key = next;
        k->have_prev = true;
        k->phase = phase;
        qt->st.key_updates[dir]++;
        return true;
    }
    rq_packet_key_deinit(&next);
    if (k->have_prev && try_open(qt, &k->prev, pkt, plen, hdr_len, pn, payload_len)) {
        qt->st.old_phase_packets++;
        return true;
    }
    return false;
}

static bool is_reset(const qtrace *qt, int dir, const uint8_t *data, size_t len)
{
    if (len < 21)
        return false;
    for (size_t i = 0; i < qt->token_count[dir]; i++)
        if (memcmp(data + len - RQ_RESET_TOKEN_LEN, qt->tokens[dir][i], RQ_RESET_TOKEN_LEN) == 0)
            return true;
    return false;
}

/* One Initial, Handshake or 1-RTT packet at pkt[0 .. h->len) inside qt->work. */
static void open_packet(qtrace *qt, const sim_trace_entry *e, size_t index, int dir,
                        const rq_pkt_hdr *h, uint8_t *pkt, const uint8_t *dgram, size_t dgram_len)
{
    int space = h->type == RQ_PKT_INITIAL     ? RQ_PN_SPACE_INITIAL
                : h->type == RQ_PKT_HANDSHAKE ? RQ_PN_SPACE_HANDSHAKE
                                              : RQ_PN_SPACE_APPLICATION;
    qtrace_keys *k = get_keys(qt, dir, space);
    if (!k) {
        if (h->type == RQ_PKT_1RTT && is_reset(qt, dir, dgram, dgram_len))
            qt->st.resets++;
        else
            qt->st.no_keys++;
        return;
    }
    rq_hp_result hr;
    size_t plen = 0;
    bool ok = rq_header_unprotect(&k->hp, pkt, h->len, h->pn_offset, &hr) == 0;
    uint64_t pn = ok ? rq_pn_decode(k->largest, hr.truncated_pn, 8u * hr.pn_len) : 0;
    uint8_t phase = ok ? (uint8_t)((hr.first_byte & RQ_HDR_KEY_PHASE) != 0) : 0;
    if (ok && h->type == RQ_PKT_1RTT)
        ok = open_1rtt(qt, dir, k, phase, pkt, h->len, hr.hdr_len, pn, &plen);
    else if (ok)
        ok = try_open(qt, &k->key, pkt, h->len, hr.hdr_len, pn, &plen);
    if (!ok) {
        if (h->type == RQ_PKT_1RTT && is_reset(qt, dir, dgram, dgram_len))
            qt->st.resets++;
        else
            qt->st.undecryptable++;
        return;
    }
    if (k->largest == RQ_PN_NONE || pn > k->largest)
        k->largest = pn;
    if (rq_pkt_check_reserved_bits(hr.first_byte, h->type) != 0)
        qt->st.bad_reserved++;
    qtrace_pkt *p = add_pkt_for(qt, e, index, dir, h);
    if (!p)
        return;
    p->space = (uint8_t)space;
    p->key_phase = h->type == RQ_PKT_1RTT ? phase : 0;
    p->pn = pn;
    qt->st.packets++;
    decode_frames(qt, p, dir, space, qt->tmp + hr.hdr_len, plen);
}

/* Records a packet that carries no frames (Retry, Version Negotiation). */
static void add_bare(qtrace *qt, const sim_trace_entry *e, size_t index, int dir,
                     const rq_pkt_hdr *h)
{
    qtrace_pkt *p = add_pkt_for(qt, e, index, dir, h);
    if (!p)
        return;
    p->space = QTRACE_SPACE_NONE;
    qt->st.packets++;
}

void qtrace_datagram(qtrace *qt, const sim_trace_entry *e, size_t trace_index, const uint8_t *data,
                     size_t len)
{
    if (!qt->work || len == 0 || len > SIM_DGRAM_MAX)
        return;
    qt->st.datagrams++;
    int dir = direction(qt, e, data, len);
    if (dir < 0) {
        qt->st.unknown_dir++;
        return;
    }
    memcpy(qt->work, data, len);
    size_t off = 0;
    while (off < len) {
        uint8_t *pkt = qt->work + off;
        /* A short header's DCID was issued by the receiver: its length is the one the
         * receiver uses in its own long headers' SCID. */
        int dcid_len = qt->cid_len[1 - dir];
        rq_pkt_hdr h;
        int rc = rq_pkt_parse(pkt, len - off, dcid_len < 0 ? 0 : (size_t)dcid_len, &h);
        if (rc != 0) {
            qt->st.malformed++;
            return;
        }
        if (h.type != RQ_PKT_1RTT && h.type != RQ_PKT_VERSION_NEGOTIATION)
            qt->cid_len[dir] = (int)h.scid_len;
        if (h.type == RQ_PKT_INITIAL && dir == QTRACE_C2S && qt->odcid.len == 0 &&
            !qt->keys[QTRACE_C2S][RQ_PN_SPACE_INITIAL].have) {
            rq_cid dcid;
            if (rq_pkt_hdr_dcid(&h, &dcid))
                derive_initial(qt, &dcid);
        }
        if (h.type == RQ_PKT_RETRY || h.type == RQ_PKT_VERSION_NEGOTIATION) {
            if (h.type == RQ_PKT_RETRY && dir == QTRACE_S2C && !(e->kind == SIM_EV_INJECT)) {
                /* RFC 9001 §5.2: the client's next Initials go to the Retry's SCID, and
                 * both sides' Initial keys follow from it. */
                rq_cid scid;
                if (rq_pkt_hdr_scid(&h, &scid))
                    derive_initial(qt, &scid);
                qt->st.retries++;
            }
            add_bare(qt, e, trace_index, dir, &h);
        } else if (h.type == RQ_PKT_0RTT) {
            qt->st.no_keys++; /* no 0-RTT in roamquic yet: CLIENT_EARLY_TRAFFIC_SECRET unused */
        } else if (h.type == RQ_PKT_1RTT && dcid_len < 0) {
            qt->st.no_keys++;
        } else {
            open_packet(qt, e, trace_index, dir, &h, pkt, data, len);
        }
        off += h.len;
    }
}

void qtrace_print_stats(const qtrace *qt, FILE *f, const char *prefix)
{
    const qtrace_stats *s = &qt->st;
    fprintf(f,
            "%sdatagrams %llu, packets %llu, frames %llu; undecryptable %llu, no keys %llu, "
            "malformed %llu, resets %llu, retries %llu, key updates c=%llu s=%llu "
            "(old-phase %llu)\n",
            prefix, (unsigned long long)s->datagrams, (unsigned long long)s->packets,
            (unsigned long long)s->frames, (unsigned long long)s->undecryptable,
            (unsigned long long)s->no_keys, (unsigned long long)s->malformed,
            (unsigned long long)s->resets, (unsigned long long)s->retries,
            (unsigned long long)s->key_updates[0], (unsigned long long)s->key_updates[1],
            (unsigned long long)s->old_phase_packets);
}
