/* Flow-control credit for one stream or for the whole connection (RFC 9000 §4.1, §4.2).
 *
 * Sending side (rq_flow_tx): the peer's limit, the bytes we sent against it, and when to tell
 * the peer we are blocked (DATA_BLOCKED / STREAM_DATA_BLOCKED, §4.1) — once per limit value.
 *
 * Receiving side (rq_flow_rx): the limit we advertised, the highest offset the peer reached
 * (FLOW_CONTROL_ERROR beyond the limit), what the application consumed, and when to raise the
 * limit (MAX_DATA / MAX_STREAM_DATA): once half the window is consumed, to consumed + window.
 * The window auto-tunes (§4.2 leaves the strategy to us): when the previous update was less
 * than two round trips ago the window doubles, up to a configured maximum, so that it follows
 * the rate at which the application reads. Time and the RTT come in as arguments. */
#ifndef RQ_CORE_FLOWCTL_H
#define RQ_CORE_FLOWCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <roamquic/types.h>

/* ---- sending side ---- */

typedef struct rq_flow_tx {
    uint64_t limit;      /* the peer's limit: we may send bytes below it */
    uint64_t sent;       /* bytes sent against it (highest offset, or sum over streams) */
    uint64_t blocked_at; /* the limit we last signalled blocked at; UINT64_MAX: none */
    bool blocked_due;    /* a BLOCKED frame carrying `limit` should be sent */
} rq_flow_tx;

/* Starts with the peer's initial limit (transport parameter, RFC 9000 §18.2). */
void rq_flow_tx_init(rq_flow_tx *fc, uint64_t initial_limit);

/* Bytes we may still send. */
static inline uint64_t rq_flow_tx_credit(const rq_flow_tx *fc)
{
    return fc->limit - fc->sent;
}

/* Applies a MAX_DATA / MAX_STREAM_DATA value. RFC 9000 §4.1: a value that does not raise the
 * limit is ignored (frames can arrive out of order). Returns true if the limit rose. */
bool rq_flow_tx_on_max(rq_flow_tx *fc, uint64_t max);

/* Records n bytes sent (n <= credit: an internal invariant). */
void rq_flow_tx_consume(rq_flow_tx *fc, uint64_t n);

/* Call when there is data to send but no credit. RFC 9000 §4.1: a sender SHOULD say it is
 * blocked; it is said once per limit value, so repeated calls at the same limit do nothing. */
void rq_flow_tx_note_blocked(rq_flow_tx *fc);

/* Whether a DATA_BLOCKED / STREAM_DATA_BLOCKED is due; *limit gets the value to carry. */
bool rq_flow_tx_blocked_due(const rq_flow_tx *fc, uint64_t *limit);

/* The BLOCKED frame carrying `limit` was put in a packet. */
void rq_flow_tx_on_blocked_sent(rq_flow_tx *fc, uint64_t limit);

/* The packet carrying a BLOCKED frame with `limit` was lost: send it again only if we are
 * still blocked at that same limit (RFC 9000 §13.3). */
void rq_flow_tx_on_blocked_lost(rq_flow_tx *fc, uint64_t limit);

/* ---- receiving side ---- */

typedef struct rq_flow_rx {
    uint64_t limit;      /* the limit we advertised */
    uint64_t received;   /* highest offset (stream) or total bytes (connection) received */
    uint64_t consumed;   /* bytes the application consumed (or that were discarded) */
    uint64_t window;     /* current window: an update sets limit = consumed + window */
    uint64_t window_max; /* auto-tuning never grows the window beyond this */
    rq_time last_update; /* when the limit was last raised; RQ_TIME_NEVER: never */
    bool resend;         /* the frame carrying the current limit was lost */
} rq_flow_rx;

/* Starts with limit = window (our initial transport parameter) and a ceiling window_max
 * (>= window) for auto-tuning. */
void rq_flow_rx_init(rq_flow_rx *fc, uint64_t window, uint64_t window_max);

/* The peer's data now reaches `end` (stream: the frame's end offset; connection: the new
 * total). Lower values than already seen are fine (retransmissions). Returns 0, or
 * RQ_ERR_FLOW_CONTROL (RFC 9000 §4.1) when end exceeds our limit, leaving fc unchanged. */
int rq_flow_rx_on_data(rq_flow_rx *fc, uint64_t end);

/* The application consumed (read or discarded) n more bytes; consumed never passes received
 * (an internal invariant). */
void rq_flow_rx_consume(rq_flow_rx *fc, uint64_t n);

/* Whether a MAX_DATA / MAX_STREAM_DATA is due: half the window or more is consumed, or the
 * frame carrying the current limit was lost. */
bool rq_flow_rx_update_due(const rq_flow_rx *fc);

/* The limit the next update should carry, given the time and the path's RTT: consumed plus
 * the window, doubled (up to window_max) when the last update was under 2 RTTs ago. Does not
 * change fc (the caller may lack room for the frame). Never below the current limit. */
uint64_t rq_flow_rx_next_limit(const rq_flow_rx *fc, rq_time now, rq_time rtt);

/* The update carrying `limit` (from rq_flow_rx_next_limit) was put in a packet at `now`:
 * adopt it, and with it the (possibly grown) window. */
void rq_flow_rx_on_update_sent(rq_flow_rx *fc, uint64_t limit, rq_time now);

/* The packet carrying an update with `limit` was lost: resend if it is still the latest. */
void rq_flow_rx_on_update_lost(rq_flow_rx *fc, uint64_t limit);

#endif
