/* The scripted application node of qapp.h. */
#include "qapp.h"

#include "core/alloc.h"

#include <string.h>

static void note_error(sim_qapp *a, int err)
{
    if (!a->error)
        a->error = err;
}

/* Opens the streams the script still wants, as far as the peer's limit allows; the rest wait
 * for MAX_STREAMS (no event announces it: we try again after every endpoint call). */
static void open_streams(sim_qapp *a)
{
    while (a->conn && a->connected && a->opened < a->want_streams && a->opened < QAPP_MAX_STREAMS) {
        int64_t id;
        int rc = rq_stream_open(a->conn, true, &id);
        if (rc == RQ_ERR_STREAM_LIMIT) {
            if (!a->refused++)
                a->opened_at_first_refusal = a->opened;
            return;
        }
        if (rc) {
            note_error(a, rc);
            return;
        }
        qapp_stream *st = &a->out[a->opened++];
        memset(st, 0, sizeof *st);
        st->id = id;
    }
}

static void pump_writes(sim_qapp *a)
{
    uint8_t buf[16384];
    for (unsigned i = 0; a->conn && i < a->opened; i++) {
        qapp_stream *st = &a->out[i];
        unsigned k = (unsigned)(st->id >> 2);
        while (!st->fin_written) {
            uint64_t left = a->stream_bytes - st->sent;
            size_t len = left < sizeof buf ? (size_t)left : sizeof buf;
            for (size_t j = 0; j < len; j++)
                buf[j] = qapp_pattern(k, st->sent + j);
            bool fin = len == left;
            ptrdiff_t w = rq_stream_write(a->conn, st->id, buf, len, fin);
            if (w < 0) {
                note_error(a, (int)w);
                break;
            }
            st->sent += (uint64_t)w;
            if ((size_t)w < len)
                break; /* the send buffer is full: later */
            st->fin_written = fin;
        }
    }
}

static void drain(sim_qapp *a, rq_conn *c, int64_t id)
{
    uint8_t buf[16384];
    uint64_t k = (uint64_t)id >> 2;
    if (k >= QAPP_MAX_STREAMS)
        return note_error(a, RQ_ERR_LIMIT);
    qapp_stream *st = &a->in[k];
    st->id = id;
    while (!st->fin_read) {
        bool fin = false;
        ptrdiff_t r = rq_stream_read(c, id, buf, sizeof buf, &fin);
        if (r < 0)
            return; /* a stream already finished and freed */
        for (ptrdiff_t i = 0; i < r; i++)
            if (buf[i] != qapp_pattern((unsigned)k, st->received + (uint64_t)i))
                st->bad++, a->bad_bytes++;
        st->received += (uint64_t)r;
        a->received += (uint64_t)r;
        if (fin) {
            st->fin_read = true;
            a->fins_read++;
            /* A server finishes its half of the peer's bidirectional stream, so that the
             * stream ends and its credit returns as MAX_STREAMS (RFC 9000 §4.6). */
            if (!a->is_client && (id & 1) == 0 && rq_stream_write(c, id, NULL, 0, true) < 0)
                note_error(a, RQ_ERR_STREAM_STATE);
        }
        if (r == 0)
            return;
    }
}

static void handle_events(sim_qapp *a)
{
    rq_event ev;
    rq_time now = sim_now(a->s);
    while (rq_endpoint_poll_event(a->ep, &ev)) {
        switch (ev.type) {
        case RQ_EV_CONNECTED:
            a->connected = true;
            a->connected_at = now;
            break;
        case RQ_EV_ACCEPTED:
            a->accepted++;
            a->conn = ev.conn;
            if (a->keepalive)
                rq_conn_set_keepalive(ev.conn, a->keepalive);
            break;
        case RQ_EV_STREAM_OPENED:
            a->peer_streams++;
            break;
        case RQ_EV_STREAM_READABLE:
            drain(a, ev.conn, ev.stream_id);
            break;
        case RQ_EV_CLOSED:
            if (!a->closed) {
                a->closed = true;
                a->closed_at = now;
                a->close_code = ev.error_code;
                a->close_app = ev.app_error;
                a->close_by_peer = ev.by_peer;
            }
            if (ev.conn == a->conn)
                a->conn = NULL;
            break;
        default:
            break;
        }
    }
    open_streams(a);
    pump_writes(a);
}

static void on_events(void *owner)
{
    handle_events(owner);
}

static void clear_state(sim_qapp *a)
{
    a->conn = NULL;
    a->opened = a->refused = a->opened_at_first_refusal = 0;
    memset(a->out, 0, sizeof a->out);
    memset(a->in, 0, sizeof a->in);
    a->peer_streams = a->fins_read = 0;
    a->received = a->bad_bytes = 0;
    a->connected = a->closed = a->close_app = a->close_by_peer = false;
    a->connected_at = a->closed_at = 0;
    a->accepted = 0;
    a->close_code = 0;
    a->error = 0;
}

int sim_qapp_new(sim *s, const char *name, rq_config *cfg, const rq_addr *addr, sim_qapp **out)
{
    sim_qapp *a = cfg ? rq_mem_calloc(1, sizeof *a) : NULL;
    if (!a) {
        rq_config_free(cfg);
        return cfg ? RQ_ERR_NOMEM : RQ_ERR_INVALID_ARG;
    }
    a->s = s;
    a->cfg = cfg;
    a->addr = *addr;
    a->glue = (sim_epglue){&a->ep, &a->addr, on_events, a};
    sim_rng_init(&a->rng, sim_seed(s), name, 0x51);
    int err = 0;
    a->ep = rq_endpoint_new(cfg, sim_rng_fill, &a->rng, &err);
    int rc = a->ep ? 0 : err;
    if (!rc)
        rc = sim_host_new(s, name, 1, &sim_epglue_ops, &a->glue, &a->host);
    if (!rc)
        rc = sim_host_add_addr(a->host, addr, 0);
    if (rc) {
        sim_qapp_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sim_qapp_free(sim_qapp *a)
{
    if (!a)
        return;
    rq_endpoint_free(a->ep);
    rq_config_free(a->cfg);
    rq_mem_free(a);
}

int sim_qapp_connect(sim_qapp *a, const rq_addr *server, const char *sni, unsigned streams,
                     uint64_t stream_bytes)
{
    rq_path_addr path = {a->addr, *server};
    a->is_client = true;
    a->want_streams = streams;
    a->stream_bytes = stream_bytes;
    int rc = rq_connect(a->ep, sim_now(a->s), &path, sni, &a->conn);
    if (rc)
        return rc;
    if (a->keepalive)
        rq_conn_set_keepalive(a->conn, a->keepalive);
    return sim_host_wake(a->s, a->host);
}

int sim_qapp_upload_more(sim_qapp *a, unsigned more)
{
    a->want_streams += more;
    handle_events(a);
    return sim_host_wake(a->s, a->host);
}

int sim_qapp_close(sim_qapp *a, uint64_t app_error, const char *reason)
{
    if (!a->conn)
        return RQ_ERR_INVALID_ARG;
    int rc = rq_conn_close(a->conn, sim_now(a->s), app_error, reason);
    if (rc)
        return rc;
    return sim_host_wake(a->s, a->host);
}

int sim_qapp_restart(sim_qapp *a)
{
    rq_endpoint_free(a->ep);
    clear_state(a);
    int err = 0;
    a->ep = rq_endpoint_new(a->cfg, sim_rng_fill, &a->rng, &err);
    /* A NULL endpoint would crash the next node call: report it instead. */
    return a->ep ? 0 : (err ? err : RQ_ERR_NOMEM);
}

bool sim_qapp_upload_done(const sim_qapp *client, const sim_qapp *server)
{
    if (client->opened < client->want_streams || server->fins_read < client->want_streams)
        return false;
    for (unsigned i = 0; i < client->opened; i++) {
        const qapp_stream *st = &client->out[i];
        uint64_t k = (uint64_t)st->id >> 2;
        if (k >= QAPP_MAX_STREAMS || !server->in[k].fin_read || !client->in[k].fin_read)
            return false;
    }
    return true;
}
