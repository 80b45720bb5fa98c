/* One QUIC stream (RFC 9000 §2, §3, §4): the sending part's state machine (§3.1), the
 * receiving part's (§3.2), their buffers and stream-level flow control, and the rules of the
 * stream frames (§19.4, §19.5, §19.8, §19.10, §19.13) with the connection errors they raise.
 *
 * Three kinds of caller:
 *  - the frame handler passes decoded frames in (rq_stream_on_*), and closes the connection
 *    with rq_err_transport_code(rc) when one fails;
 *  - the application writes, reads, resets and stops (rq_stream_app_write/read/reset/
 *    stop_sending);
 *  - the packet builder asks what the stream wants to send (rq_stream_next_ctrl for
 *    RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED; rq_stream_prepare_frame
 *    for STREAM), reports it sent (rq_stream_on_ctrl_sent, rq_stream_on_frame_sent), and later
 *    reports each as acknowledged or lost.
 * Connection-level flow control lives in streams.[ch], which watches rxfc.received,
 * rxfc.consumed and txfc.sent of each stream change. */
#ifndef RQ_CORE_STREAM_H
#define RQ_CORE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/types.h>

#include "core/flowctl.h"
#include "core/frame.h"
#include "core/rxbuf.h"
#include "core/txbuf.h"

/* RFC 9000 §3.1, Figure 2. NONE: this stream has no sending part (the peer's uni stream). */
typedef enum rq_send_state {
    RQ_SEND_NONE = 0,
    RQ_SEND_READY,
    RQ_SEND_SEND,
    RQ_SEND_DATA_SENT,
    RQ_SEND_DATA_RECVD,
    RQ_SEND_RESET_SENT,
    RQ_SEND_RESET_RECVD
} rq_send_state;

/* RFC 9000 §3.2, Figure 3. NONE: this stream has no receiving part (our own uni stream). */
typedef enum rq_recv_state {
    RQ_RECV_NONE = 0,
    RQ_RECV_RECV,
    RQ_RECV_SIZE_KNOWN,
    RQ_RECV_DATA_RECVD,
    RQ_RECV_DATA_READ,
    RQ_RECV_RESET_RECVD,
    RQ_RECV_RESET_READ
} rq_recv_state;

/* The limits a new stream starts with. */
typedef struct rq_stream_limits {
    uint64_t send_limit;      /* the peer's initial_max_stream_data_* for this stream (§18.2) */
    uint64_t recv_window;     /* our initial_max_stream_data_* for this stream */
    uint64_t recv_window_max; /* auto-tuning ceiling; also the reassembly byte bound */
    uint64_t send_buffer;     /* bytes the application may queue unacknowledged */
} rq_stream_limits;

typedef struct rq_stream {
    uint64_t id;
    rq_send_state send;
    rq_recv_state recv;

    rq_txbuf tx;
    rq_flow_tx txfc; /* txfc.sent == tx.sent_off */
    rq_rxbuf rx;
    rq_flow_rx rxfc; /* rxfc.received: highest offset seen; rxfc.consumed: read or discarded */

    uint64_t final_size; /* the peer's final size, valid when final_known (§4.5) */
    bool final_known;

    bool reset_due; /* a RESET_STREAM is to be sent */
    uint64_t reset_error;
    bool stop_due; /* a STOP_SENDING is to be sent */
    bool stopped;  /* the application stopped reading: incoming data is discarded */
    uint64_t stop_error;

    bool peer_stopped; /* STOP_SENDING received */
    uint64_t peer_stop_error;
    uint64_t peer_reset_error; /* valid in RQ_RECV_RESET_RECVD / RESET_READ */

    /* Scheduler links, owned by streams.c. */
    struct rq_stream *sched_next, *sched_prev;
    bool scheduled;
} rq_stream;

/* Sets up stream `id` for the endpoint playing `role`: the parts that exist start in Ready
 * (§3.1) and Recv (§3.2). Allocates nothing (buffers grow on first use). */
void rq_stream_init(rq_stream *s, uint64_t id, rq_role role, const rq_stream_limits *lim);

/* Frees the stream's buffers (not s itself). */
void rq_stream_free(rq_stream *s);

/* ---- frames from the peer; an error closes the connection ---- */

/* A STREAM frame (RFC 9000 §19.8). data is copied; the caller keeps it. Errors:
 *   RQ_ERR_STREAM_STATE   the stream has no receiving part (our uni stream, §19.8);
 *   RQ_ERR_FRAME_ENCODING offset + length beyond 2^62 - 1 (§19.8);
 *   RQ_ERR_FINAL_SIZE     data beyond a known final size, a FIN that changes it, or a FIN
 *                         below data already received (§4.5);
 *   RQ_ERR_FLOW_CONTROL   data beyond our MAX_STREAM_DATA (§4.1);
 *   RQ_ERR_LIMIT          reassembly ranges exhausted: drop the packet unacknowledged;
 *   RQ_ERR_NOMEM. */
int rq_stream_on_stream(rq_stream *s, uint64_t off, const uint8_t *data, size_t len, bool fin);

/* A RESET_STREAM frame (RFC 9000 §19.4). Errors: RQ_ERR_STREAM_STATE (no receiving part),
 * RQ_ERR_FINAL_SIZE (a final size that differs from a known one or lies below data
 * received, §4.5), RQ_ERR_FLOW_CONTROL (a final size beyond our limit, §4.5). */
int rq_stream_on_reset(rq_stream *s, uint64_t app_error, uint64_t final_size);

/* A STOP_SENDING frame (RFC 9000 §19.5): the sending part, unless already finished, resets
 * with the peer's error code (§3.5). Errors: RQ_ERR_STREAM_STATE (no sending part). */
int rq_stream_on_stop_sending(rq_stream *s, uint64_t app_error);

/* A MAX_STREAM_DATA frame (RFC 9000 §19.10). Errors: RQ_ERR_STREAM_STATE (no sending part). */
int rq_stream_on_max_stream_data(rq_stream *s, uint64_t max);

/* A STREAM_DATA_BLOCKED frame (RFC 9000 §19.13): informational. Errors: RQ_ERR_STREAM_STATE
 * (no receiving part). */
int rq_stream_on_stream_data_blocked(rq_stream *s, uint64_t limit);

/* ---- the application ---- */

/* Queues up to len bytes of data (copied) and, if fin and all were taken, the end of the
 * stream. *accepted gets the count (less than len when the send buffer is full).
 * Errors: RQ_ERR_INVALID_ARG (no sending part), RQ_ERR_STREAM_STATE (already finished or
 * reset), RQ_ERR_NOMEM. These are local errors: they do not close the connection. */
int rq_stream_app_write(rq_stream *s, const uint8_t *data, size_t len, bool fin, size_t *accepted);

/* Copies up to cap in-order bytes into buf; *nread gets the count, *fin whether the stream's
 * end has now been read. A stream reset by the peer reads nothing (see rq_stream_take_reset).
 * Errors: RQ_ERR_INVALID_ARG (no receiving part). */
int rq_stream_app_read(rq_stream *s, uint8_t *buf, size_t cap, size_t *nread, bool *fin);

/* If the peer reset the stream and the application has not yet been told, tells it: stores
 * the peer's error code and moves Reset Recvd -> Reset Read (§3.2). Returns false otherwise. */
bool rq_stream_take_reset(rq_stream *s, uint64_t *app_error);

/* Abandons sending (RFC 9000 §3.1, §19.4): queues RESET_STREAM with app_error and the final
 * size sent so far, and drops unsent data. No-op once all data is acknowledged or already
 * reset. Errors: RQ_ERR_INVALID_ARG (no sending part). */
int rq_stream_app_reset(rq_stream *s, uint64_t app_error);

/* Abandons reading (RFC 9000 §3.5, §19.5): queues STOP_SENDING with app_error unless all data
 * has arrived, and discards buffered and future data. Errors: RQ_ERR_INVALID_ARG (no
 * receiving part). */
int rq_stream_app_stop_sending(rq_stream *s, uint64_t app_error);

/* ---- the packet builder ---- */

/* The next control frame the stream wants sent, in priority order RESET_STREAM, STOP_SENDING,
 * MAX_STREAM_DATA (its value auto-tuned from now and the RTT), STREAM_DATA_BLOCKED; fills *f
 * (encoder form). Returns false when none is due. Changes nothing: report what was sent. */
bool rq_stream_next_ctrl(const rq_stream *s, rq_time now, rq_time rtt, rq_frame *f);

/* A frame from rq_stream_next_ctrl was put in a packet at `now`. */
void rq_stream_on_ctrl_sent(rq_stream *s, const rq_frame *f, rq_time now);

/* The packet that carried control frame f was acknowledged / declared lost (RFC 9000 §13.3). */
void rq_stream_on_ctrl_acked(rq_stream *s, const rq_frame *f);
void rq_stream_on_ctrl_lost(rq_stream *s, const rq_frame *f);

/* The next STREAM data the stream could send with conn_credit bytes of connection-level
 * credit (lost data first; new data within both credits). Notes a stream-level block for
 * STREAM_DATA_BLOCKED when the stream's own credit stops new data. Returns false if none. */
bool rq_stream_next_chunk(rq_stream *s, uint64_t conn_credit, rq_txchunk *c);

/* Plans a STREAM frame for a packet with `room` bytes left: picks the next chunk and sizes it
 * with rq_stream_frame_fit (with a Length field if with_len). *f points into the send buffer
 * until the next write/ack. Returns 0; RQ_ERR_AGAIN (nothing to send);
 * RQ_ERR_BUFFER_TOO_SMALL (not even one byte, or a lone FIN, fits). */
int rq_stream_prepare_frame(rq_stream *s, uint64_t conn_credit, size_t room, bool with_len,
                            rq_frame_stream *f);

/* STREAM data [off, off + len) (+FIN) went out. Returns the new bytes, i.e. the
 * connection-level credit it consumed. */
uint64_t rq_stream_on_frame_sent(rq_stream *s, uint64_t off, size_t len, bool fin);

/* STREAM data sent earlier was acknowledged / declared lost. Errors: RQ_ERR_INVALID_ARG (a
 * range never sent), RQ_ERR_NOMEM. Ignored once the stream was reset. */
int rq_stream_on_frame_acked(rq_stream *s, uint64_t off, size_t len, bool fin);
int rq_stream_on_frame_lost(rq_stream *s, uint64_t off, size_t len, bool fin);

/* Whether the stream has something for the packet builder: a control frame, or STREAM data
 * sendable with conn_credit bytes of connection-level credit. */
bool rq_stream_wants_send(const rq_stream *s, uint64_t conn_credit);

/* Whether new (never sent) data waits for credit — for DATA_BLOCKED at connection level. */
bool rq_stream_has_new_data(const rq_stream *s);

/* Whether both parts reached a terminal state (§3.1 Data/Reset Recvd, §3.2 Data/Reset Read)
 * and the stream's state can be discarded. */
bool rq_stream_is_done(const rq_stream *s);

#endif
