/* The streams of a connection: ID map, stream limits, connection flow control, scheduler. */
#include "core/streams.h"

#include <assert.h>
#include <string.h>

#include <roamquic/error.h>

#include "core/alloc.h"
#include "core/stream_id.h"

#define RQ_STREAMS_MIN_SLOTS 16

static unsigned dir_of(uint64_t id)
{
    return rq_stream_id_is_uni(id) ? 1u : 0u;
}

void rq_streams_init(rq_streams *ss, const rq_streams_config *cfg,
                     const rq_streams_peer_params *peer)
{
    memset(ss, 0, sizeof *ss);
    ss->cfg = *cfg;
    ss->peer = *peer;
    ss->peer_max_streams[0] = peer->max_streams_bidi;
    ss->peer_max_streams[1] = peer->max_streams_uni;
    ss->max_remote[0] = cfg->max_streams_bidi;
    ss->max_remote[1] = cfg->max_streams_uni;
    ss->blocked_at[0] = ss->blocked_at[1] = UINT64_MAX;
    rq_flow_tx_init(&ss->txfc, peer->max_data);
    rq_flow_rx_init(&ss->rxfc, cfg->conn_window, cfg->conn_window_max);
}

void rq_streams_set_peer_params(rq_streams *ss, const rq_streams_peer_params *peer)
{
    ss->peer = *peer;
    for (int t = 0; t < 2; t++) {
        uint64_t max = t ? peer->max_streams_uni : peer->max_streams_bidi;
        if (max > ss->peer_max_streams[t])
            ss->peer_max_streams[t] = max;
    }
    rq_flow_tx_on_max(&ss->txfc, peer->max_data);
}

void rq_streams_free(rq_streams *ss)
{
    for (size_t i = 0; i < ss->nslots; i++) {
        if (ss->slots[i]) {
            rq_stream_free(ss->slots[i]);
            rq_mem_free(ss->slots[i]);
        }
    }
    rq_mem_free(ss->slots);
    ss->slots = NULL;
    ss->nslots = ss->count = 0;
    ss->sched_head = NULL;
}

/* ---- the ID map: linear probing, backward-shift deletion (no tombstones) ---- */

static size_t slot_of(uint64_t id, size_t nslots)
{
    /* Fibonacci hashing: IDs step by 4, so the low bits alone would cluster. */
    return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (nslots - 1);
}

rq_stream *rq_streams_get(const rq_streams *ss, uint64_t id)
{
    if (ss->nslots == 0)
        return NULL;
    for (size_t i = slot_of(id, ss->nslots);; i = (i + 1) & (ss->nslots - 1)) {
        if (!ss->slots[i])
            return NULL;
        if (ss->slots[i]->id == id)
            return ss->slots[i];
    }
}

static void map_place(rq_stream **slots, size_t nslots, rq_stream *s)
{
    size_t i = slot_of(s->id, nslots);
    while (slots[i])
        i = (i + 1) & (nslots - 1);
    slots[i] = s;
}

/* Keeps the table at most half full. */
static int map_reserve(rq_streams *ss, size_t count)
{
    if (count * 2 <= ss->nslots)
        return 0;
    size_t n = ss->nslots ? ss->nslots : RQ_STREAMS_MIN_SLOTS;
    while (count * 2 > n)
        n *= 2;
    rq_stream **slots = rq_mem_calloc(n, sizeof *slots);
    if (!slots)
        return RQ_ERR_NOMEM;
    for (size_t i = 0; i < ss->nslots; i++)
        if (ss->slots[i])
            map_place(slots, n, ss->slots[i]);
    rq_mem_free(ss->slots);
    ss->slots = slots;
    ss->nslots = n;
    return 0;
}

static void map_remove(rq_streams *ss, uint64_t id)
{
    size_t mask = ss->nslots - 1, i = slot_of(id, ss->nslots);
    while (ss->slots[i]->id != id)
        i = (i + 1) & mask;
    ss->slots[i] = NULL;
    /* Shift back later entries of the probe run that could live at the hole. */
    for (size_t j = (i + 1) & mask; ss->slots[j]; j = (j + 1) & mask) {
        size_t home = slot_of(ss->slots[j]->id, ss->nslots);
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            ss->slots[i] = ss->slots[j];
            ss->slots[j] = NULL;
            i = j;
        }
    }
}

/* ---- creating and freeing streams ---- */

static void limits_for(const rq_streams *ss, uint64_t id, rq_stream_limits *lim)
{
    bool local = rq_stream_id_is_local(id, ss->cfg.role);
    if (rq_stream_id_is_uni(id)) {
        lim->send_limit = ss->peer.max_stream_data_uni;
        lim->recv_window = ss->cfg.stream_window_uni;
    } else if (local) {
        lim->send_limit = ss->peer.max_stream_data_bidi_remote;
        lim->recv_window = ss->cfg.stream_window_bidi_local;
    } else {
        lim->send_limit = ss->peer.max_stream_data_bidi_local;
        lim->recv_window = ss->cfg.stream_window_bidi_remote;
    }
    lim->recv_window_max = ss->cfg.stream_window_max;
    lim->send_buffer = ss->cfg.send_buffer;
}

static int create(rq_streams *ss, uint64_t id, rq_stream **out)
{
    int rc = map_reserve(ss, ss->count + 1);
    if (rc < 0)
        return rc;
    rq_stream *s = rq_mem_alloc(sizeof *s);
    if (!s)
        return RQ_ERR_NOMEM;
    rq_stream_limits lim;
    limits_for(ss, id, &lim);
    rq_stream_init(s, id, ss->cfg.role, &lim);
    map_place(ss->slots, ss->nslots, s);
    ss->count++;
    *out = s;
    return 0;
}

/* ---- scheduler: a circular doubly linked list; sched_head sends next ---- */

static void sched_unlink(rq_streams *ss, rq_stream *s)
{
    if (!s->scheduled)
        return;
    if (s->sched_next == s) {
        ss->sched_head = NULL;
    } else {
        s->sched_prev->sched_next = s->sched_next;
        s->sched_next->sched_prev = s->sched_prev;
        if (ss->sched_head == s)
            ss->sched_head = s->sched_next;
    }
    s->scheduled = false;
    s->sched_next = s->sched_prev = NULL;
}

/* Appends s at the tail (just before the head). */
static void sched_append(rq_streams *ss, rq_stream *s)
{
    if (!ss->sched_head) {
        s->sched_next = s->sched_prev = s;
        ss->sched_head = s;
    } else {
        rq_stream *head = ss->sched_head;
        s->sched_prev = head->sched_prev;
        s->sched_next = head;
        head->sched_prev->sched_next = s;
        head->sched_prev = s;
    }
    s->scheduled = true;
}

/* MAX_STREAMS for the peer's streams of direction d, once its window moved by half. */
static void update_max_streams_due(rq_streams *ss, unsigned d)
{
    uint64_t window = d ? ss->cfg.max_streams_uni : ss->cfg.max_streams_bidi;
    uint64_t want = ss->remote_closed[d] + window;
    if (want > RQ_MAX_STREAMS_LIMIT)
        want = RQ_MAX_STREAMS_LIMIT;
    if (want > ss->max_remote[d] && want - ss->max_remote[d] >= (window + 1) / 2)
        ss->max_streams_due[d] = true;
}

/* After anything happened to s: free it when finished, else (un)schedule it. Connection
 * credit is ignored here: a stream waiting only for MAX_DATA stays in the round. */
static void settle(rq_streams *ss, rq_stream *s)
{
    if (rq_stream_is_done(s)) {
        sched_unlink(ss, s);
        map_remove(ss, s->id);
        ss->count--;
        if (!rq_stream_id_is_local(s->id, ss->cfg.role)) {
            /* RFC 9000 §4.6: a finished peer stream makes room for another. */
            unsigned d = dir_of(s->id);
            ss->remote_closed[d]++;
            update_max_streams_due(ss, d);
        }
        rq_stream_free(s);
        rq_mem_free(s);
        return;
    }
    bool wants = rq_stream_wants_send(s, UINT64_MAX);
    if (wants && !s->scheduled)
        sched_append(ss, s);
    else if (!wants && s->scheduled)
        sched_unlink(ss, s);
}

/* ---- application ---- */

int rq_streams_open(rq_streams *ss, bool uni, rq_stream **out)
{
    unsigned d = uni ? 1u : 0u;
    if (ss->next_local[d] >= ss->peer_max_streams[d]) {
        /* RFC 9000 §4.6, §19.14: tell the peer we are blocked, once per limit value. */
        if (ss->blocked_at[d] != ss->peer_max_streams[d]) {
            ss->blocked_at[d] = ss->peer_max_streams[d];
            ss->streams_blocked_due[d] = true;
        }
        return RQ_ERR_AGAIN;
    }
    uint64_t id = rq_stream_id_make(ss->cfg.role, uni, ss->next_local[d]);
    int rc = create(ss, id, out);
    if (rc < 0)
        return rc;
    ss->next_local[d]++;
    return 0;
}

bool rq_streams_accept(rq_streams *ss, uint64_t *id)
{
    rq_role peer = ss->cfg.role == RQ_ROLE_CLIENT ? RQ_ROLE_SERVER : RQ_ROLE_CLIENT;
    for (unsigned d = 0; d < 2; d++) {
        if (ss->next_accept[d] < ss->next_remote[d]) {
            *id = rq_stream_id_make(peer, d == 1, ss->next_accept[d]++);
            return true;
        }
    }
    return false;
}

/* Applies to the connection the change of a stream's received/consumed counters. */
static void conn_rx_follow(rq_streams *ss, const rq_stream *s, uint64_t recv0, uint64_t cons0)
{
    uint64_t drecv = s->rxfc.received - recv0;
    if (drecv) {
        int rc = rq_flow_rx_on_data(&ss->rxfc, ss->rxfc.received + drecv);
        assert(rc == 0); /* checked before the stream took the data */
        (void)rc;
    }
    rq_flow_rx_consume(&ss->rxfc, s->rxfc.consumed - cons0);
}

int rq_streams_write(rq_streams *ss, uint64_t id, const uint8_t *data, size_t len, bool fin,
                     size_t *accepted)
{
    *accepted = 0;
    rq_stream *s = rq_streams_get(ss, id);
    if (!s)
        return RQ_ERR_INVALID_ARG;
    int rc = rq_stream_app_write(s, data, len, fin, accepted);
    settle(ss, s);
    return rc;
}

int rq_streams_read(rq_streams *ss, uint64_t id, uint8_t *buf, size_t cap, size_t *nread, bool *fin)
{
    *nread = 0;
    *fin = false;
    rq_stream *s = rq_streams_get(ss, id);
    if (!s)
        return RQ_ERR_INVALID_ARG;
    uint64_t recv0 = s->rxfc.received, cons0 = s->rxfc.consumed;
    int rc = rq_stream_app_read(s, buf, cap, nread, fin);
    conn_rx_follow(ss, s, recv0, cons0);
    settle(ss, s);
    return rc;
}

bool rq_streams_take_reset(rq_streams *ss, uint64_t id, uint64_t *app_error)
{
    rq_stream *s = rq_streams_get(ss, id);
    if (!s || !rq_stream_take_reset(s, app_error))
        return false;
    settle(ss, s);
    return true;
}

int rq_streams_reset(rq_streams *ss, uint64_t id, uint64_t app_error)
{
    rq_stream *s = rq_streams_get(ss, id);
    if (!s)
        return RQ_ERR_INVALID_ARG;
    int rc = rq_stream_app_reset(s, app_error);
    settle(ss, s);
    return rc;
}

int rq_streams_stop_sending(rq_streams *ss, uint64_t id, uint64_t app_error)
{
    rq_stream *s = rq_streams_get(ss, id);
    if (!s)
        return RQ_ERR_INVALID_ARG;
    uint64_t recv0 = s->rxfc.received, cons0 = s->rxfc.consumed;
    int rc = rq_stream_app_stop_sending(s, app_error);
    conn_rx_follow(ss, s, recv0, cons0);
    settle(ss, s);
    return rc;
}

/* ---- frames from the peer ---- */

/* Finds the stream a peer's frame names, opening the peer's streams up to it. *out is NULL
 * for a stream that existed and is finished: the frame is then ignored. */
static int lookup_for_frame(rq_streams *ss, uint64_t id, rq_stream **out)
{
    *out = NULL;
    if (id > RQ_STREAM_ID_MAX)
        return RQ_ERR_FRAME_ENCODING;
    unsigned d = dir_of(id);
    uint64_t idx = rq_stream_id_index(id);
    if (rq_stream_id_is_local(id, ss->cfg.role)) {
        /* RFC 9000 §19.8, §19.5, §19.10: a frame for one of our streams that we have not
         * opened yet is a STREAM_STATE_ERROR. */
        if (idx >= ss->next_local[d])
            return RQ_ERR_STREAM_STATE;
        *out = rq_streams_get(ss, id);
        return 0;
    }
    /* RFC 9000 §4.6: a peer stream beyond the limit we advertised. */
    if (idx >= ss->max_remote[d])
        return RQ_ERR_STREAM_LIMIT;
    /* RFC 9000 §3.2: opening a stream opens every lower-numbered one of its type. At most
     * our advertised window of streams is created here (see the header). */
    rq_role peer = rq_stream_id_initiator(id);
    while (ss->next_remote[d] <= idx) {
        rq_stream *s;
        int rc = create(ss, rq_stream_id_make(peer, d == 1, ss->next_remote[d]), &s);
        if (rc < 0)
            return rc;
        ss->next_remote[d]++;
    }
    *out = rq_streams_get(ss, id);
    return 0;
}

/* RFC 9000 §4.1: bytes beyond a stream's highest offset count against MAX_DATA. */
static int conn_rx_check(const rq_streams *ss, const rq_stream *s, uint64_t end)
{
    if (end <= s->rxfc.received)
        return 0;
    if (end - s->rxfc.received > ss->rxfc.limit - ss->rxfc.received)
        return RQ_ERR_FLOW_CONTROL;
    return 0;
}

int rq_streams_on_stream(rq_streams *ss, const rq_frame_stream *f)
{
    /* RFC 9000 §19.8: STREAM for a send-only stream. */
    if (!rq_stream_id_can_recv(f->stream_id, ss->cfg.role))
        return RQ_ERR_STREAM_STATE;
    if (f->offset > RQ_VARINT_MAX || f->length > RQ_VARINT_MAX - f->offset)
        return RQ_ERR_FRAME_ENCODING;
    rq_stream *s;
    int rc = lookup_for_frame(ss, f->stream_id, &s);
    if (rc < 0 || !s)
        return rc;
    rc = conn_rx_check(ss, s, f->offset + f->length);
    if (rc < 0)
        return rc;
    uint64_t recv0 = s->rxfc.received, cons0 = s->rxfc.consumed;
    rc = rq_stream_on_stream(s, f->offset, f->data, f->length, f->fin);
    if (rc < 0)
        return rc;
    conn_rx_follow(ss, s, recv0, cons0);
    settle(ss, s);
    return 0;
}

int rq_streams_on_reset(rq_streams *ss, uint64_t id, uint64_t app_error, uint64_t final_size)
{
    /* RFC 9000 §19.4: RESET_STREAM for a send-only stream. */
    if (!rq_stream_id_can_recv(id, ss->cfg.role))
        return RQ_ERR_STREAM_STATE;
    rq_stream *s;
    int rc = lookup_for_frame(ss, id, &s);
    if (rc < 0 || !s)
        return rc;
    /* RFC 9000 §4.5: the final size counts against connection flow control. */
    rc = conn_rx_check(ss, s, final_size);
    if (rc < 0)
        return rc;
    uint64_t recv0 = s->rxfc.received, cons0 = s->rxfc.consumed;
    rc = rq_stream_on_reset(s, app_error, final_size);
    if (rc < 0)
        return rc;
    conn_rx_follow(ss, s, recv0, cons0);
    settle(ss, s);
    return 0;
}

int rq_streams_on_stop_sending(rq_streams *ss, uint64_t id, uint64_t app_error)
{
    /* RFC 9000 §19.5: STOP_SENDING for a receive-only stream. */
    if (!rq_stream_id_can_send(id, ss->cfg.role))
        return RQ_ERR_STREAM_STATE;
    rq_stream *s;
    int rc = lookup_for_frame(ss, id, &s);
    if (rc < 0 || !s)
        return rc;
    rc = rq_stream_on_stop_sending(s, app_error);
    settle(ss, s);
    return rc;
}

int rq_streams_on_max_stream_data(rq_streams *ss, uint64_t id, uint64_t max)
{
    /* RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream. */
    if (!rq_stream_id_can_send(id, ss->cfg.role))
        return RQ_ERR_STREAM_STATE;
    rq_stream *s;
    int rc = lookup_for_frame(ss, id, &s);
    if (rc < 0 || !s)
        return rc;
    rc = rq_stream_on_max_stream_data(s, max);
    settle(ss, s);
    return rc;
}

int rq_streams_on_stream_data_blocked(rq_streams *ss, uint64_t id, uint64_t limit)
{
    /* RFC 9000 §19.13: STREAM_DATA_BLOCKED for a send-only stream. */
    if (!rq_stream_id_can_recv(id, ss->cfg.role))
        return RQ_ERR_STREAM_STATE;
    rq_stream *s;
    int rc = lookup_for_frame(ss, id, &s);
    if (rc < 0 || !s)
        return rc;
    rc = rq_stream_on_stream_data_blocked(s, limit);
    settle(ss, s);
    return rc;
}

void rq_streams_on_max_data(rq_streams *ss, uint64_t max)
{
    (void)rq_flow_tx_on_max(&ss->txfc, max);
}

void rq_streams_on_data_blocked(rq_streams *ss, uint64_t limit)
{
    /* RFC 9000 §19.12: informational; our MAX_DATA schedule does not depend on it. */
    (void)ss;
    (void)limit;
}

int rq_streams_on_max_streams(rq_streams *ss, bool uni, uint64_t max)
{
    /* RFC 9000 §19.11: a count above 2^60 is a FRAME_ENCODING_ERROR. */
    if (max > RQ_MAX_STREAMS_LIMIT)
        return RQ_ERR_FRAME_ENCODING;
    unsigned d = uni ? 1u : 0u;
    /* RFC 9000 §4.6: a MAX_STREAMS that does not raise the limit is ignored. */
    if (max > ss->peer_max_streams[d]) {
        ss->peer_max_streams[d] = max;
        ss->streams_blocked_due[d] = false;
    }
    return 0;
}

int rq_streams_on_streams_blocked(rq_streams *ss, bool uni, uint64_t limit)
{
    /* RFC 9000 §19.14: a count above 2^60 is a FRAME_ENCODING_ERROR. */
    if (limit > RQ_MAX_STREAMS_LIMIT)
        return RQ_ERR_FRAME_ENCODING;
    unsigned d = uni ? 1u : 0u;
    uint64_t window = d ? ss->cfg.max_streams_uni : ss->cfg.max_streams_bidi;
    /* The peer waits for us: hand out whatever room finished streams made, at once. */
    if (limit >= ss->max_remote[d] && ss->remote_closed[d] + window > ss->max_remote[d] &&
        ss->max_remote[d] < RQ_MAX_STREAMS_LIMIT)
        ss->max_streams_due[d] = true;
    return 0;
}

/* ---- the packet builder ---- */

static uint64_t max_streams_value(const rq_streams *ss, unsigned d)
{
    uint64_t window = d ? ss->cfg.max_streams_uni : ss->cfg.max_streams_bidi;
    uint64_t v = ss->remote_closed[d] + window;
    if (v > RQ_MAX_STREAMS_LIMIT)
        v = RQ_MAX_STREAMS_LIMIT;
    return v > ss->max_remote[d] ? v : ss->max_remote[d];
}

bool rq_streams_next_conn_ctrl(const rq_streams *ss, rq_time now, rq_time rtt, rq_frame *f)
{
    memset(f, 0, sizeof *f);
    uint64_t limit;
    if (rq_flow_rx_update_due(&ss->rxfc)) {
        f->type = RQ_FT_MAX_DATA;
        f->max_data.max = rq_flow_rx_next_limit(&ss->rxfc, now, rtt);
        return true;
    }
    if (rq_flow_tx_blocked_due(&ss->txfc, &limit)) {
        f->type = RQ_FT_DATA_BLOCKED;
        f->data_blocked.limit = limit;
        return true;
    }
    for (unsigned d = 0; d < 2; d++) {
        if (ss->max_streams_due[d]) {
            f->type = d ? RQ_FT_MAX_STREAMS_UNI : RQ_FT_MAX_STREAMS_BIDI;
            f->max_streams.max = max_streams_value(ss, d);
            return true;
        }
        if (ss->streams_blocked_due[d]) {
            f->type = d ? RQ_FT_STREAMS_BLOCKED_UNI : RQ_FT_STREAMS_BLOCKED_BIDI;
            f->streams_blocked.limit = ss->peer_max_streams[d];
            return true;
        }
    }
    return false;
}

void rq_streams_on_conn_ctrl_sent(rq_streams *ss, const rq_frame *f, rq_time now)
{
    unsigned d = (f->type == RQ_FT_MAX_STREAMS_UNI || f->type == RQ_FT_STREAMS_BLOCKED_UNI);
    switch (f->type) {
    case RQ_FT_MAX_DATA:
        rq_flow_rx_on_update_sent(&ss->rxfc, f->max_data.max, now);
        break;
    case RQ_FT_DATA_BLOCKED:
        rq_flow_tx_on_blocked_sent(&ss->txfc, f->data_blocked.limit);
        break;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        if (f->max_streams.max > ss->max_remote[d])
            ss->max_remote[d] = f->max_streams.max;
        if (f->max_streams.max == ss->max_remote[d])
            ss->max_streams_due[d] = false;
        break;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        if (f->streams_blocked.limit == ss->peer_max_streams[d])
            ss->streams_blocked_due[d] = false;
        break;
    default:
        break;
    }
}

void rq_streams_on_conn_ctrl_lost(rq_streams *ss, const rq_frame *f)
{
    unsigned d = (f->type == RQ_FT_MAX_STREAMS_UNI || f->type == RQ_FT_STREAMS_BLOCKED_UNI);
    /* RFC 9000 §13.3: resend only what is still the latest and still true. */
    switch (f->type) {
    case RQ_FT_MAX_DATA:
        rq_flow_rx_on_update_lost(&ss->rxfc, f->max_data.max);
        break;
    case RQ_FT_DATA_BLOCKED:
        rq_flow_tx_on_blocked_lost(&ss->txfc, f->data_blocked.limit);
        break;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        if (f->max_streams.max == ss->max_remote[d])
            ss->max_streams_due[d] = true;
        break;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        if (f->streams_blocked.limit == ss->peer_max_streams[d] &&
            ss->next_local[d] >= ss->peer_max_streams[d])
            ss->streams_blocked_due[d] = true;
        break;
    default:
        break;
    }
}

rq_stream *rq_streams_next_sender(rq_streams *ss)
{
    rq_stream *head = ss->sched_head, *s = head;
    if (!head)
        return NULL;
    uint64_t credit = rq_flow_tx_credit(&ss->txfc);
    do {
        if (rq_stream_wants_send(s, credit))
            return s;
        /* RFC 9000 §4.1: data held back by MAX_DATA alone: DATA_BLOCKED. */
        if (credit == 0 && rq_stream_has_new_data(s) && rq_flow_tx_credit(&s->txfc) > 0)
            rq_flow_tx_note_blocked(&ss->txfc);
        s = s->sched_next;
    } while (s != head);
    return NULL;
}

void rq_streams_on_stream_ctrl_sent(rq_streams *ss, rq_stream *s, const rq_frame *f, rq_time now)
{
    rq_stream_on_ctrl_sent(s, f, now);
    settle(ss, s);
}

void rq_streams_on_stream_frame_sent(rq_streams *ss, rq_stream *s, uint64_t off, size_t len,
                                     bool fin)
{
    uint64_t fresh = rq_stream_on_frame_sent(s, off, len, fin);
    rq_flow_tx_consume(&ss->txfc, fresh);
    /* Round robin: one STREAM frame per turn, then to the back of the round. */
    if (s->scheduled) {
        if (ss->sched_head == s)
            ss->sched_head = s->sched_next;
        else {
            sched_unlink(ss, s);
            sched_append(ss, s);
        }
    }
    settle(ss, s);
}

static bool is_conn_ctrl(uint64_t type)
{
    return type == RQ_FT_MAX_DATA || type == RQ_FT_DATA_BLOCKED ||
           (type >= RQ_FT_MAX_STREAMS_BIDI && type <= RQ_FT_MAX_STREAMS_UNI) ||
           (type >= RQ_FT_STREAMS_BLOCKED_BIDI && type <= RQ_FT_STREAMS_BLOCKED_UNI);
}

/* The stream a stream-level frame names (NULL: not a stream frame, or stream gone). */
static rq_stream *frame_stream(const rq_streams *ss, const rq_frame *f)
{
    if (rq_ft_is_stream(f->type))
        return rq_streams_get(ss, f->stream.stream_id);
    switch (f->type) {
    case RQ_FT_RESET_STREAM:
        return rq_streams_get(ss, f->reset_stream.stream_id);
    case RQ_FT_STOP_SENDING:
        return rq_streams_get(ss, f->stop_sending.stream_id);
    case RQ_FT_MAX_STREAM_DATA:
        return rq_streams_get(ss, f->max_stream_data.stream_id);
    case RQ_FT_STREAM_DATA_BLOCKED:
        return rq_streams_get(ss, f->stream_data_blocked.stream_id);
    default:
        return NULL;
    }
}

int rq_streams_on_frame_acked(rq_streams *ss, const rq_frame *f)
{
    rq_stream *s = frame_stream(ss, f);
    if (!s)
        return 0;
    int rc = 0;
    if (rq_ft_is_stream(f->type))
        rc = rq_stream_on_frame_acked(s, f->stream.offset, f->stream.length, f->stream.fin);
    else
        rq_stream_on_ctrl_acked(s, f);
    settle(ss, s);
    return rc;
}

int rq_streams_on_frame_lost(rq_streams *ss, const rq_frame *f)
{
    if (is_conn_ctrl(f->type)) {
        rq_streams_on_conn_ctrl_lost(ss, f);
        return 0;
    }
    rq_stream *s = frame_stream(ss, f);
    if (!s)
        return 0;
    int rc = 0;
    if (rq_ft_is_stream(f->type))
        rc = rq_stream_on_frame_lost(s, f->stream.offset, f->stream.length, f->stream.fin);
    else
        rq_stream_on_ctrl_lost(s, f);
    settle(ss, s);
    return rc;
}
