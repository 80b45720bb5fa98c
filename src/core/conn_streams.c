/* The application's stream calls (include/roamquic/endpoint.h) on a connection. */
#include "core/conn.h"
#include "core/wire.h"

static bool usable(const rq_conn *c)
{
    return c && c->state <= RQ_CONN_ESTABLISHED;
}

int rq_stream_open(rq_conn *c, bool bidi, int64_t *stream_id)
{
    if (!usable(c) || !stream_id)
        return RQ_ERR_INVALID_ARG;
    /* Until the peer's transport parameters arrive its stream limit is 0 (RFC 9000 §4.6). */
    rq_stream *s;
    int rc = rq_streams_open(&c->streams, !bidi, &s);
    if (rc == RQ_ERR_AGAIN)
        return RQ_ERR_STREAM_LIMIT;
    if (rc)
        return rc;
    *stream_id = (int64_t)s->id;
    return 0;
}

ptrdiff_t rq_stream_write(rq_conn *c, int64_t stream_id, const void *data, size_t len, bool fin)
{
    if (!usable(c) || stream_id < 0 || (!data && len))
        return RQ_ERR_INVALID_ARG;
    size_t accepted = 0;
    int rc = rq_streams_write(&c->streams, (uint64_t)stream_id, data, len, fin, &accepted);
    return rc ? rc : (ptrdiff_t)accepted;
}

ptrdiff_t rq_stream_read(rq_conn *c, int64_t stream_id, void *buf, size_t cap, bool *fin)
{
    if (!c || stream_id < 0 || !fin || (!buf && cap))
        return RQ_ERR_INVALID_ARG;
    size_t n = 0;
    *fin = false;
    int rc = rq_streams_read(&c->streams, (uint64_t)stream_id, buf, cap, &n, fin);
    return rc ? rc : (ptrdiff_t)n;
}

int rq_stream_reset(rq_conn *c, int64_t stream_id, uint64_t app_error)
{
    if (!usable(c) || stream_id < 0 || app_error > RQ_VARINT_MAX)
        return RQ_ERR_INVALID_ARG;
    return rq_streams_reset(&c->streams, (uint64_t)stream_id, app_error);
}

int rq_stream_stop_sending(rq_conn *c, int64_t stream_id, uint64_t app_error)
{
    if (!usable(c) || stream_id < 0 || app_error > RQ_VARINT_MAX)
        return RQ_ERR_INVALID_ARG;
    return rq_streams_stop_sending(&c->streams, (uint64_t)stream_id, app_error);
}
