/* Receive reassembly for one byte stream: the data of a QUIC stream (RFC 9000 §2.2) or the
 * CRYPTO data of one encryption level (RFC 9000 §19.6, §7.5).
 *
 * Segments arrive at any offset, out of order, overlapping, duplicated; the reader takes bytes
 * in order. Storage is a ring whose size is a power of two, indexed by offset, so every byte is
 * copied exactly once on the way in (only the parts not already held) and once on the way out
 * (or read in place with rq_rxbuf_peek). In-order data extends one range: O(1) per segment.
 *
 * Bounds on what a peer can make us hold:
 *  - bytes: nothing is stored beyond read offset + `bound` (the stream's flow-control window,
 *    or the fixed CRYPTO bound); past it the write fails with the error given at init. The
 *    ring is at most the next power of two >= bound.
 *  - ranges: at most RQ_RXBUF_MAX_RANGES disjoint received ranges (16 bytes each); a segment
 *    that would need one more fails with RQ_ERR_LIMIT and nothing is stored. */
#ifndef RQ_CORE_RXBUF_H
#define RQ_CORE_RXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rangeset.h"

/* The most disjoint received ranges held at once. A sender that loses packets leaves one hole
 * per loss; 1024 holes of full-sized packets is well over a megabyte of reordering window. */
#define RQ_RXBUF_MAX_RANGES 1024
/* RFC 9000 §7.5: the CRYPTO data we buffer beyond the read offset per encryption level. */
#define RQ_CRYPTO_RXBUF_BOUND ((uint64_t)64 * 1024)

typedef struct rq_rxbuf {
    uint8_t *buf;       /* ring of cap bytes (0 or a power of two); owned */
    size_t cap;         /* byte at offset o lives at buf[o & (cap - 1)] */
    uint64_t read_off;  /* bytes handed to the reader so far */
    uint64_t bound;     /* most bytes held beyond read_off */
    int bound_err;      /* returned when a segment ends beyond read_off + bound */
    rq_rangeset ranges; /* offsets received; ranges[0] may start below read_off */
    bool discard;       /* the reader left: record which offsets arrived, store nothing */
} rq_rxbuf;

/* Starts an empty buffer. bound: the most bytes it may hold beyond the read offset (for a
 * stream the largest flow-control window we will ever advertise; for CRYPTO
 * RQ_CRYPTO_RXBUF_BOUND). bound_err: the error a write beyond that returns
 * (RQ_ERR_FLOW_CONTROL, RQ_ERR_CRYPTO_BUFFER_EXCEEDED). Allocates nothing. */
void rq_rxbuf_init(rq_rxbuf *rb, uint64_t bound, int bound_err);

/* Frees all memory. The read offset is kept, so later writes of old data are still
 * recognised as old; a later write of new data allocates again. */
void rq_rxbuf_free(rq_rxbuf *rb);

/* The reader has gone away (STOP_SENDING, RFC 9000 §3.5): frees the ring, skips what was
 * readable, and from now on records only which offsets arrive, moving the read offset over
 * each contiguous prefix as if it were read. rq_rxbuf_read_offset then tells when everything
 * up to a final size has arrived. */
void rq_rxbuf_discard(rq_rxbuf *rb);

/* Raises or lowers the bound (e.g. after flow-control auto-tuning). Data already held is
 * kept even if it now lies beyond the bound. */
void rq_rxbuf_set_bound(rq_rxbuf *rb, uint64_t bound);

/* Stores data[0..len) received at offset `off`. The data is copied; the caller keeps
 * ownership of `data`. Bytes below the read offset or already held are ignored (RFC 9000
 * §2.2: data already received can be discarded).
 * Returns 0, or (nothing stored):
 *   RQ_ERR_FRAME_ENCODING off + len exceeds 2^62 - 1 (RFC 9000 §19.8, §19.6);
 *   bound_err             the segment ends beyond read offset + bound;
 *   RQ_ERR_LIMIT          the segment would be one disjoint range too many (a local limit:
 *                         drop the packet without acknowledging it, the peer sends again);
 *   RQ_ERR_NOMEM. */
int rq_rxbuf_write(rq_rxbuf *rb, uint64_t off, const uint8_t *data, size_t len);

/* Bytes readable now: contiguous from the read offset. */
uint64_t rq_rxbuf_readable(const rq_rxbuf *rb);

/* Points *p at the next readable bytes in place and returns how many are contiguous in
 * memory (<= rq_rxbuf_readable; less at the ring's wrap point). *p stays valid until the next
 * write, consume or free. Returns 0 when nothing is readable. */
size_t rq_rxbuf_peek(const rq_rxbuf *rb, const uint8_t **p);

/* Marks n readable bytes as read (n <= rq_rxbuf_readable). */
void rq_rxbuf_consume(rq_rxbuf *rb, size_t n);

/* Copies up to cap readable bytes into out and consumes them; returns the count. */
size_t rq_rxbuf_read(rq_rxbuf *rb, uint8_t *out, size_t cap);

/* The next offset the reader will get (everything below it was read). */
static inline uint64_t rq_rxbuf_read_offset(const rq_rxbuf *rb)
{
    return rb->read_off;
}

/* One past the highest byte received so far (the read offset if nothing is held). */
uint64_t rq_rxbuf_highest(const rq_rxbuf *rb);

#endif
