/* The send buffer of one stream (RFC 9000 §2.2, §13.3): bytes the application wrote, kept
 * until the peer acknowledges them.
 *
 * The application appends bytes (and at last a FIN); the packet builder asks for the next
 * chunk — bytes declared lost first (lowest offset first), then new bytes — and reports each
 * chunk it sent; loss recovery later reports each chunk acknowledged or lost. Bytes live in a
 * power-of-two ring from the acknowledged prefix to the end of the written data, so memory is
 * reused as the acknowledged prefix grows and handed back when the buffer drains.
 *
 * Bounds: the ring holds at most max_buffered bytes (what the application may queue; append
 * takes less when full). Acknowledged ranges above the prefix and ranges to retransmit are
 * each capped at RQ_TXBUF_MAX_RANGES: an acknowledgement that would need one range too many
 * is forgotten and its bytes are queued for retransmission instead (resending acknowledged
 * bytes is harmless), and lost ranges merge with a neighbour when full. */
#ifndef RQ_CORE_TXBUF_H
#define RQ_CORE_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rangeset.h"

/* The most disjoint acknowledged (and, separately, lost) ranges tracked per stream. */
#define RQ_TXBUF_MAX_RANGES 256

typedef struct rq_txbuf {
    uint8_t *buf;          /* ring of cap bytes (0 or a power of two); owned */
    size_t cap;            /* byte at offset o lives at buf[o & (cap - 1)] */
    uint64_t max_buffered; /* most bytes held (written but not acknowledged) */
    uint64_t acked_off;    /* every byte below is acknowledged (and released) */
    uint64_t end;          /* bytes written by the application */
    uint64_t sent_off;     /* every byte below was sent at least once */
    rq_rangeset acked;     /* acknowledged ranges above acked_off */
    rq_rangeset lost;      /* ranges to send again, within [acked_off, sent_off) */
    bool fin;              /* the application closed the stream at `end` */
    bool fin_sent;
    bool fin_acked;
    bool fin_lost; /* the FIN was sent and declared lost, not yet resent */
} rq_txbuf;

/* What the stream can send next. data points into the ring (len contiguous bytes, valid
 * until the next append/ack/free). fin: the chunk ends the stream. retransmit: the bytes
 * were sent before (they do not consume flow-control credit). */
typedef struct rq_txchunk {
    uint64_t offset;
    size_t len;
    const uint8_t *data;
    bool fin;
    bool retransmit;
} rq_txchunk;

/* Starts an empty buffer that holds at most max_buffered unacknowledged bytes. Allocates
 * nothing. */
void rq_txbuf_init(rq_txbuf *tb, uint64_t max_buffered);

/* Frees all memory (offsets and flags are kept). */
void rq_txbuf_free(rq_txbuf *tb);

/* Appends up to len bytes of data (copied; the caller keeps `data`), as many as fit under
 * max_buffered, and stores the count in *accepted. fin closes the stream after the last byte
 * and is honoured only if all len bytes were accepted. Returns 0; RQ_ERR_STREAM_STATE if the
 * stream was already closed with a FIN; RQ_ERR_NOMEM (nothing appended). */
int rq_txbuf_append(rq_txbuf *tb, const uint8_t *data, size_t len, bool fin, size_t *accepted);

/* Finds the next chunk to send: the lowest lost range, else new bytes below new_limit (the
 * flow-control limit, as a stream offset), else a lone FIN. The chunk is the longest
 * contiguous run available; the caller sends a prefix of it (rq_stream_frame_fit) and reports
 * what it sent with rq_txbuf_on_sent. Returns false when there is nothing to send. */
bool rq_txbuf_next(const rq_txbuf *tb, uint64_t new_limit, rq_txchunk *c);

/* Records that [off, off + len) (with the FIN if fin) went out in a packet. off must be a
 * chunk's offset from rq_txbuf_next and len at most its length. Returns how many new bytes
 * (never sent before) this added: the flow-control credit it consumed. */
uint64_t rq_txbuf_on_sent(rq_txbuf *tb, uint64_t off, size_t len, bool fin);

/* Records that the peer acknowledged [off, off + len) (and the FIN if fin), releasing memory
 * as the acknowledged prefix grows. Ranges already acknowledged are fine. Returns 0;
 * RQ_ERR_INVALID_ARG if the range was never sent; RQ_ERR_NOMEM. */
int rq_txbuf_on_acked(rq_txbuf *tb, uint64_t off, size_t len, bool fin);

/* Records that the packet carrying [off, off + len) (and the FIN if fin) was lost: the parts
 * not acknowledged since are queued for retransmission. Returns 0; RQ_ERR_INVALID_ARG if the
 * range was never sent; RQ_ERR_NOMEM. */
int rq_txbuf_on_lost(rq_txbuf *tb, uint64_t off, size_t len, bool fin);

/* Whether every byte and the FIN were acknowledged (RFC 9000 §3.1 "Data Recvd"). */
static inline bool rq_txbuf_all_acked(const rq_txbuf *tb)
{
    return tb->fin && tb->fin_acked && tb->acked_off == tb->end;
}

/* Whether every byte and the FIN were sent at least once (RFC 9000 §3.1 "Data Sent"). */
static inline bool rq_txbuf_all_sent(const rq_txbuf *tb)
{
    return tb->fin && tb->fin_sent && tb->sent_off == tb->end;
}

/* Bytes more the application may append now. */
static inline uint64_t rq_txbuf_space(const rq_txbuf *tb)
{
    return tb->max_buffered - (tb->end - tb->acked_off);
}

#endif
