/* The limit checks of qlimits.h. One pass over the packets in wire order; per direction the
 * state is what the receiver has granted so far and what the sender has used. */
#include "qlimits.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

/* What one sender did on one stream, and what its receiver allowed. */
typedef struct lim_stream {
    uint64_t id;
    uint64_t highest;  /* highest offset + length sent (or final size reset to) */
    uint64_t max_data; /* the receiver's limit for it so far */
    uint64_t final_size;
    bool has_final;
    bool has_data; /* the sender put data, a FIN or a reset on it */
} lim_stream;

/* One direction: sender `dir`, receiver 1 - dir. */
typedef struct lim_dir {
    const rq_tparams *rx_tp; /* the receiver's transport parameters */
    lim_stream *streams;
    size_t count, cap;
    uint64_t max_data;       /* connection limit granted */
    uint64_t max_streams[2]; /* [bidi, uni] for streams the sender opens */
    uint64_t used;           /* sum of highest offsets */
} lim_dir;

const char *qlimits_kind_name(int kind)
{
    static const char *const names[QLIMITS__COUNT] = {"stream-data", "conn-data", "stream-id",
                                                      "final-size", "wrong-stream"};
    return kind >= 0 && kind < QLIMITS__COUNT ? names[kind] : "?";
}

/* RFC 9000 §2.1: bit 0 of a stream ID says who opened it (0 client), bit 1 whether it is
 * unidirectional. */
static int stream_opener(uint64_t id)
{
    return (id & 1) ? QTRACE_S2C : QTRACE_C2S;
}

static bool stream_uni(uint64_t id)
{
    return (id & 2) != 0;
}

/* The receiver's initial limit for data the sender sends on stream id (RFC 9000 §18.2: "local"
 * and "remote" are from the point of view of the endpoint that advertised them). */
static uint64_t initial_stream_limit(const lim_dir *d, int sender, uint64_t id)
{
    if (stream_uni(id))
        return stream_opener(id) == sender ? d->rx_tp->initial_max_stream_data_uni : 0;
    return stream_opener(id) == sender ? d->rx_tp->initial_max_stream_data_bidi_remote
                                       : d->rx_tp->initial_max_stream_data_bidi_local;
}

static lim_stream *find_stream(lim_dir *d, int sender, uint64_t id, bool *oom)
{
    for (size_t i = d->count; i-- > 0;)
        if (d->streams[i].id == id)
            return &d->streams[i];
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        lim_stream *n = rq_mem_realloc(d->streams, cap * sizeof *n);
        if (!n) {
            *oom = true;
            return NULL;
        }
        d->streams = n;
        d->cap = cap;
    }
    lim_stream *s = &d->streams[d->count++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->max_data = initial_stream_limit(d, sender, id);
    return s;
}

static void violation(qlimits_report *r, qlimits_kind kind, int dir, size_t pi, size_t fi,
                      const qtrace_pkt *p, uint64_t stream_id, uint64_t value, uint64_t limit)
{
    r->violations++;
    r->by_kind[kind]++;
    if (r->kept == QLIMITS_KEEP)
        return;
    r->v[r->kept++] = (qlimits_violation){.kind = (uint8_t)kind,
                                          .dir = (uint8_t)dir,
                                          .pkt = pi,
                                          .frame = fi,
                                          .t = p->t,
                                          .pn = p->pn,
                                          .stream_id = stream_id,
                                          .value = value,
                                          .limit = limit};
}

/* A frame the receiver of direction d sent: credit for the sender. */
static void take_credit(lim_dir *d, int sender, const rq_frame *f, qlimits_report *r, bool *oom)
{
    if (f->type == RQ_FT_MAX_DATA) {
        if (f->max_data.max > d->max_data)
            d->max_data = f->max_data.max;
    } else if (f->type == RQ_FT_MAX_STREAM_DATA) {
        lim_stream *s = find_stream(d, sender, f->max_stream_data.stream_id, oom);
        if (s && f->max_stream_data.max > s->max_data)
            s->max_data = f->max_stream_data.max;
    } else if (f->type == RQ_FT_MAX_STREAMS_BIDI || f->type == RQ_FT_MAX_STREAMS_UNI) {
        int k = f->type == RQ_FT_MAX_STREAMS_UNI;
        if (f->max_streams.max > d->max_streams[k])
            d->max_streams[k] = f->max_streams.max;
    } else {
        return;
    }
    r->credit_frames[1 - sender]++;
}

/* Any frame naming a stream the sender opens must respect the stream limit (§4.6). */
static void check_stream_id(lim_dir *d, int sender, uint64_t id, qlimits_report *r, size_t pi,
                            size_t fi, const qtrace_pkt *p)
{
    if (stream_opener(id) != sender)
        return;
    uint64_t count = (id >> 2) + 1, limit = d->max_streams[stream_uni(id)];
    if (count > limit)
        violation(r, QLIMITS_STREAM_ID, sender, pi, fi, p, id, count, limit);
}

/* Data (or a final size) up to `end` on a stream: flow control at both levels (§4.1). */
static void use_credit(lim_dir *d, int sender, lim_stream *s, uint64_t end, qlimits_report *r,
                       size_t pi, size_t fi, const qtrace_pkt *p)
{
    if (!s->has_data)
        r->streams[sender]++;
    s->has_data = true;
    if (end > s->max_data)
        violation(r, QLIMITS_STREAM_DATA, sender, pi, fi, p, s->id, end, s->max_data);
    else if (end == s->max_data && end > s->highest)
        r->at_limit[sender]++;
    if (end > s->highest) {
        d->used += end - s->highest;
        s->highest = end;
        if (d->used > d->max_data)
            violation(r, QLIMITS_CONN_DATA, sender, pi, fi, p, UINT64_MAX, d->used, d->max_data);
        else if (d->used == d->max_data)
            r->at_limit[sender]++;
    }
}

/* A FIN or RESET_STREAM fixing the final size at `final` (§4.5). */
static void set_final(lim_stream *s, int sender, uint64_t final, qlimits_report *r, size_t pi,
                      size_t fi, const qtrace_pkt *p)
{
    if (s->has_final && s->final_size != final)
        violation(r, QLIMITS_FINAL_SIZE, sender, pi, fi, p, s->id, final, s->final_size);
    else if (!s->has_final && final < s->highest)
        violation(r, QLIMITS_FINAL_SIZE, sender, pi, fi, p, s->id, final, s->highest);
    if (!s->has_final) {
        s->has_final = true;
        s->final_size = final;
    }
}

/* A frame the sender of direction d sent. */
static void check_frame(lim_dir *d, int sender, const rq_frame *f, qlimits_report *r, size_t pi,
                        size_t fi, const qtrace_pkt *p, bool *oom)
{
    if (f->type == RQ_FT_DATA_BLOCKED || f->type == RQ_FT_STREAM_DATA_BLOCKED ||
        f->type == RQ_FT_STREAMS_BLOCKED_BIDI || f->type == RQ_FT_STREAMS_BLOCKED_UNI)
        r->blocked_frames[sender]++;
    uint64_t id;
    if (rq_ft_is_stream(f->type))
        id = f->stream.stream_id;
    else if (f->type == RQ_FT_RESET_STREAM)
        id = f->reset_stream.stream_id;
    else if (f->type == RQ_FT_STREAM_DATA_BLOCKED)
        id = f->stream_data_blocked.stream_id;
    else if (f->type == RQ_FT_STOP_SENDING)
        id = f->stop_sending.stream_id;
    else
        return; /* MAX_STREAM_DATA from the sender is credit for the other direction */
    check_stream_id(d, sender, id, r, pi, fi, p);
    if (!rq_ft_is_stream(f->type) && f->type != RQ_FT_RESET_STREAM)
        return;
    r->stream_frames++;
    if (stream_uni(id) && stream_opener(id) != sender) {
        violation(r, QLIMITS_WRONG_STREAM, sender, pi, fi, p, id, 0, 0);
        return;
    }
    lim_stream *s = find_stream(d, sender, id, oom);
    if (!s)
        return;
    if (f->type == RQ_FT_RESET_STREAM) {
        set_final(s, sender, f->reset_stream.final_size, r, pi, fi, p);
        use_credit(d, sender, s, f->reset_stream.final_size, r, pi, fi, p);
        return;
    }
    uint64_t end = f->stream.offset + f->stream.length;
    if (s->has_final && end > s->final_size) {
        /* Reported as what it is; its bytes do not count against the windows as well. */
        violation(r, QLIMITS_FINAL_SIZE, sender, pi, fi, p, id, end, s->final_size);
        return;
    }
    if (f->stream.fin)
        set_final(s, sender, end, r, pi, fi, p);
    use_credit(d, sender, s, end, r, pi, fi, p);
}

/* Orders credit-carrying packets by delivery time, then by wire order. */
typedef struct credit_ev {
    rq_time at;
    size_t pkt;
} credit_ev;

static int credit_cmp(const void *a, const void *b)
{
    const credit_ev *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->pkt < y->pkt ? -1 : x->pkt > y->pkt;
}

static bool carries_credit(const qtrace_pkt *p, const rq_frame *frames)
{
    for (size_t fi = p->first_frame; fi < p->first_frame + p->frame_count; fi++) {
        uint64_t t = frames[fi].type;
        if (t == RQ_FT_MAX_DATA || t == RQ_FT_MAX_STREAM_DATA || t == RQ_FT_MAX_STREAMS_BIDI ||
            t == RQ_FT_MAX_STREAMS_UNI)
            return true;
    }
    return false;
}

/* The credit of packet p applied to the direction whose receiver sent it. */
static void apply_credit(lim_dir dirs[2], const qtrace_pkt *p, const rq_frame *frames,
                         qlimits_report *r, bool *oom)
{
    int data_sender = 1 - p->dir;
    for (size_t fi = p->first_frame; fi < p->first_frame + p->frame_count; fi++)
        take_credit(&dirs[data_sender], data_sender, &frames[fi], r, oom);
}

/* Strict mode: the credit packets that were delivered, in delivery order. */
static credit_ev *credit_events(const qtrace_pkt *pkts, size_t n, const rq_frame *frames,
                                size_t *count, bool *oom)
{
    size_t k = 0;
    credit_ev *ev = rq_mem_calloc(n ? n : 1, sizeof *ev);
    if (!ev) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (pkts[i].delivered != QTRACE_NEVER && carries_credit(&pkts[i], frames))
            ev[k++] = (credit_ev){pkts[i].delivered, i};
    qsort(ev, k, sizeof *ev, credit_cmp);
    *count = k;
    return ev;
}

int qlimits_check(const qtrace_pkt *pkts, size_t n, const rq_frame *frames,
                  const rq_tparams *client_tp, const rq_tparams *server_tp, bool delivered_only,
                  qlimits_report *out)
{
    memset(out, 0, sizeof *out);
    lim_dir dirs[2];
    memset(dirs, 0, sizeof dirs);
    for (int s = 0; s < 2; s++) {
        lim_dir *d = &dirs[s];
        d->rx_tp = s == QTRACE_C2S ? server_tp : client_tp;
        d->max_data = d->rx_tp->initial_max_data;
        d->max_streams[0] = d->rx_tp->initial_max_streams_bidi;
        d->max_streams[1] = d->rx_tp->initial_max_streams_uni;
    }
    bool oom = false;
    size_t nev = 0, next_ev = 0;
    credit_ev *ev = delivered_only ? credit_events(pkts, n, frames, &nev, &oom) : NULL;
    for (size_t pi = 0; pi < n && !oom; pi++) {
        const qtrace_pkt *p = &pkts[pi];
        int sender = p->dir;
        /* Credit delivered by the time this packet left (a host acting on a delivery at the
         * same instant may send before or after it: counting it keeps the check sound). */
        while (next_ev < nev && ev[next_ev].at <= p->t)
            apply_credit(dirs, &pkts[ev[next_ev++].pkt], frames, out, &oom);
        /* Otherwise credit counts from when it was sent: the receiver's own packet. */
        if (!delivered_only)
            apply_credit(dirs, p, frames, out, &oom);
        out->packets++;
        for (size_t fi = p->first_frame; fi < p->first_frame + p->frame_count; fi++) {
            out->frames++;
            check_frame(&dirs[sender], sender, &frames[fi], out, pi, fi, p, &oom);
        }
    }
    rq_mem_free(ev);
    for (int s = 0; s < 2; s++) {
        out->bytes[s] = dirs[s].used;
        rq_mem_free(dirs[s].streams);
    }
    return oom ? RQ_ERR_NOMEM : 0;
}

void qlimits_print(const qlimits_report *r, FILE *f, const char *prefix)
{
    fprintf(f,
            "%spackets %llu, frames %llu (stream/reset %llu); credit frames c=%llu s=%llu, "
            "blocked frames c=%llu s=%llu, at-limit c=%llu s=%llu; streams c=%llu s=%llu, "
            "bytes c=%llu s=%llu; violations %llu\n",
            prefix, (unsigned long long)r->packets, (unsigned long long)r->frames,
            (unsigned long long)r->stream_frames, (unsigned long long)r->credit_frames[0],
            (unsigned long long)r->credit_frames[1], (unsigned long long)r->blocked_frames[0],
            (unsigned long long)r->blocked_frames[1], (unsigned long long)r->at_limit[0],
            (unsigned long long)r->at_limit[1], (unsigned long long)r->streams[0],
            (unsigned long long)r->streams[1], (unsigned long long)r->bytes[0],
            (unsigned long long)r->bytes[1], (unsigned long long)r->violations);
    for (size_t i = 0; i < r->kept; i++) {
        const qlimits_violation *v = &r->v[i];
        fprintf(f,
                "%s  %s by %s at t=%.6f pn %llu (packet %zu, frame %zu): stream %lld value %llu "
                "> limit %llu\n",
                prefix, qlimits_kind_name(v->kind), v->dir == QTRACE_C2S ? "client" : "server",
                (double)v->t / 1e9, (unsigned long long)v->pn, v->pkt, v->frame,
                v->stream_id == UINT64_MAX ? -1LL : (long long)v->stream_id,
                (unsigned long long)v->value, (unsigned long long)v->limit);
    }
}
