/* All the streams of one connection (RFC 9000 §2–§4): the map from stream ID to stream,
 * stream limits in both directions (§4.6: MAX_STREAMS, STREAMS_BLOCKED, STREAM_LIMIT_ERROR),
 * implicit opening of the peer's lower-numbered streams (§3.2), connection-level flow control
 * (§4.1: MAX_DATA, DATA_BLOCKED) joined with each stream's own, and a round-robin scheduler
 * over the streams that have something to send.
 *
 * Memory a peer can cause: at most max_streams_bidi + max_streams_uni (our configured
 * concurrency) of its streams exist at once, because MAX_STREAMS only grows as its streams
 * finish; their buffered bytes are bounded by the connection window (conn_window_max), each
 * stream's by stream_window_max. The map is a hash table of at most 4x the streams alive.
 *
 * Lifetime: a stream is freed as soon as both its parts are terminal (rq_stream_is_done).
 * Frames that arrive later for it are ignored, and rq_streams_get returns NULL. */
#ifndef RQ_CORE_STREAMS_H
#define RQ_CORE_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/types.h>

#include "core/flowctl.h"
#include "core/frame.h"
#include "core/stream.h"

/* Our side's limits: what we advertise in transport parameters (RFC 9000 §18.2) and the
 * auto-tuning ceilings. */
typedef struct rq_streams_config {
    rq_role role;
    uint64_t max_streams_bidi;          /* initial_max_streams_bidi: the peer's concurrency */
    uint64_t max_streams_uni;           /* initial_max_streams_uni */
    uint64_t stream_window_bidi_local;  /* initial_max_stream_data_bidi_local */
    uint64_t stream_window_bidi_remote; /* initial_max_stream_data_bidi_remote */
    uint64_t stream_window_uni;         /* initial_max_stream_data_uni */
    uint64_t stream_window_max;         /* ceiling of any stream window (>= the three above) */
    uint64_t conn_window;               /* initial_max_data */
    uint64_t conn_window_max;           /* ceiling of the connection window */
    uint64_t send_buffer;               /* bytes the application may queue per stream */
} rq_streams_config;

/* The peer's transport parameters that concern streams (RFC 9000 §18.2). */
typedef struct rq_streams_peer_params {
    uint64_t max_data;
    uint64_t max_stream_data_bidi_local;  /* for streams the peer opens */
    uint64_t max_stream_data_bidi_remote; /* for bidirectional streams we open */
    uint64_t max_stream_data_uni;         /* for unidirectional streams we open */
    uint64_t max_streams_bidi;
    uint64_t max_streams_uni;
} rq_streams_peer_params;

typedef struct rq_streams {
    rq_streams_config cfg;
    rq_streams_peer_params peer;

    rq_stream **slots; /* open addressing, linear probing; nslots is 0 or a power of two */
    size_t nslots;
    size_t count;

    /* Index 0: bidirectional, 1: unidirectional. */
    uint64_t next_local[2];       /* index of the next stream we open */
    uint64_t peer_max_streams[2]; /* how many of each type the peer lets us open */
    uint64_t blocked_at[2];       /* STREAMS_BLOCKED last queued at this limit; UINT64_MAX */
    bool streams_blocked_due[2];
    uint64_t next_remote[2];   /* peer streams with a lower index have been opened */
    uint64_t next_accept[2];   /* peer streams with a lower index were handed to the app */
    uint64_t max_remote[2];    /* the MAX_STREAMS value we advertised */
    uint64_t remote_closed[2]; /* peer streams finished and freed */
    bool max_streams_due[2];   /* an update is due (window moved or a frame was lost) */

    rq_flow_tx txfc; /* the peer's MAX_DATA and our bytes sent */
    rq_flow_rx rxfc; /* our MAX_DATA and the peer's bytes */

    rq_stream *sched_head; /* ring of streams with something to send, head goes next */
} rq_streams;

/* Sets up an empty set of streams with our limits and the peer's transport parameters.
 * Allocates nothing. */
void rq_streams_init(rq_streams *ss, const rq_streams_config *cfg,
                     const rq_streams_peer_params *peer);

/* Frees every stream and the map. */
void rq_streams_free(rq_streams *ss);

/* Sets the peer's transport parameters once they arrive (the connection creates its streams
 * before the handshake tells it the peer's limits). Limits only grow: a value below what is
 * already in force is ignored (RFC 9000 §4.1, §4.6). Streams opened before keep the send
 * limits they started with. */
void rq_streams_set_peer_params(rq_streams *ss, const rq_streams_peer_params *peer);

/* The live stream with this ID, or NULL (never opened, or finished and freed). */
rq_stream *rq_streams_get(const rq_streams *ss, uint64_t id);

/* ---- the application ---- */

/* Opens our next stream of the given direction within the peer's MAX_STREAMS (RFC 9000
 * §4.6) and stores it in *out (owned by ss). Returns 0; RQ_ERR_AGAIN when the limit is
 * reached (a STREAMS_BLOCKED is queued, once per limit value, §19.14); RQ_ERR_NOMEM. */
int rq_streams_open(rq_streams *ss, bool uni, rq_stream **out);

/* The next peer-opened stream the application has not seen yet (in ID order per type,
 * bidirectional first), or false. The stream may already be gone (reset and read). */
bool rq_streams_accept(rq_streams *ss, uint64_t *id);

/* rq_stream_app_write on stream id, which is then scheduled. Errors: those of rq_stream_app_write;
 * RQ_ERR_INVALID_ARG for an unknown or freed stream. */
int rq_streams_write(rq_streams *ss, uint64_t id, const uint8_t *data, size_t len, bool fin,
                     size_t *accepted);

/* rq_stream_app_read on stream id, returning the connection-level credit. Errors: those of
 * rq_stream_app_read; RQ_ERR_INVALID_ARG for an unknown or freed stream. */
int rq_streams_read(rq_streams *ss, uint64_t id, uint8_t *buf, size_t cap, size_t *nread,
                    bool *fin);

/* rq_stream_take_reset on stream id (false for an unknown stream). */
bool rq_streams_take_reset(rq_streams *ss, uint64_t id, uint64_t *app_error);

/* rq_stream_app_reset / rq_stream_app_stop_sending on stream id. Errors: theirs; RQ_ERR_INVALID_ARG
 * for an unknown or freed stream. */
int rq_streams_reset(rq_streams *ss, uint64_t id, uint64_t app_error);
int rq_streams_stop_sending(rq_streams *ss, uint64_t id, uint64_t app_error);

/* ---- frames from the peer; an error closes the connection ---- */

/* STREAM (RFC 9000 §19.8). Errors: RQ_ERR_STREAM_STATE (our uni stream, or our stream not
 * yet opened), RQ_ERR_STREAM_LIMIT (a peer stream beyond our MAX_STREAMS, §4.6),
 * RQ_ERR_FLOW_CONTROL (stream or connection limit, §4.1), and those of rq_stream_on_stream. */
int rq_streams_on_stream(rq_streams *ss, const rq_frame_stream *f);

/* RESET_STREAM (§19.4), STOP_SENDING (§19.5), MAX_STREAM_DATA (§19.10),
 * STREAM_DATA_BLOCKED (§19.13): errors as for STREAM (a frame for the wrong direction is
 * RQ_ERR_STREAM_STATE) plus those of the matching rq_stream_on_* function. */
int rq_streams_on_reset(rq_streams *ss, uint64_t id, uint64_t app_error, uint64_t final_size);
int rq_streams_on_stop_sending(rq_streams *ss, uint64_t id, uint64_t app_error);
int rq_streams_on_max_stream_data(rq_streams *ss, uint64_t id, uint64_t max);
int rq_streams_on_stream_data_blocked(rq_streams *ss, uint64_t id, uint64_t limit);

/* MAX_DATA (§19.9) and DATA_BLOCKED (§19.12): never fail. */
void rq_streams_on_max_data(rq_streams *ss, uint64_t max);
void rq_streams_on_data_blocked(rq_streams *ss, uint64_t limit);

/* MAX_STREAMS (§19.11) and STREAMS_BLOCKED (§19.14). Errors: RQ_ERR_FRAME_ENCODING for a
 * count above 2^60. */
int rq_streams_on_max_streams(rq_streams *ss, bool uni, uint64_t max);
int rq_streams_on_streams_blocked(rq_streams *ss, bool uni, uint64_t limit);

/* ---- the packet builder ---- */

/* The next connection-level control frame due — MAX_DATA, DATA_BLOCKED, MAX_STREAMS,
 * STREAMS_BLOCKED — in encoder form; false if none. Changes nothing. */
bool rq_streams_next_conn_ctrl(const rq_streams *ss, rq_time now, rq_time rtt, rq_frame *f);

/* A connection-level control frame was put in a packet at now / its packet was lost. */
void rq_streams_on_conn_ctrl_sent(rq_streams *ss, const rq_frame *f, rq_time now);
void rq_streams_on_conn_ctrl_lost(rq_streams *ss, const rq_frame *f);

/* The stream whose turn it is: the first in round-robin order with a control frame or data
 * it can send now (within connection credit). Ask it with rq_stream_next_ctrl and
 * rq_stream_prepare_frame (conn_credit: rq_streams_conn_credit). NULL when none can send;
 * then, if data waits only for connection credit, a DATA_BLOCKED is queued (§4.1). */
rq_stream *rq_streams_next_sender(rq_streams *ss);

/* The connection-level credit left for new stream data. */
static inline uint64_t rq_streams_conn_credit(const rq_streams *ss)
{
    return rq_flow_tx_credit(&ss->txfc);
}

/* A stream control frame from rq_stream_next_ctrl was put in a packet at now. Like every
 * rq_streams_on_* call, this may free s (both parts finished): do not use s afterwards. */
void rq_streams_on_stream_ctrl_sent(rq_streams *ss, rq_stream *s, const rq_frame *f, rq_time now);

/* A STREAM frame was put in a packet: charges connection credit and ends the stream's turn
 * (it moves to the back of the round). */
void rq_streams_on_stream_frame_sent(rq_streams *ss, rq_stream *s, uint64_t off, size_t len,
                                     bool fin);

/* A packet with a stream frame (STREAM, RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA,
 * STREAM_DATA_BLOCKED; encoder or decoder form) was acknowledged / lost. Streams freed since
 * are ignored. Errors: RQ_ERR_INVALID_ARG (STREAM data never sent), RQ_ERR_NOMEM. */
int rq_streams_on_frame_acked(rq_streams *ss, const rq_frame *f);
int rq_streams_on_frame_lost(rq_streams *ss, const rq_frame *f);

#endif
