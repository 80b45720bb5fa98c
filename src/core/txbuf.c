/* Send buffer over a power-of-two ring indexed by stream offset. */
#include "core/txbuf.h"

#include <assert.h>
#include <string.h>

#include <roamquic/error.h>

#include "core/alloc.h"

/* The smallest ring allocated. */
#define RQ_TXBUF_MIN_CAP ((size_t)4096)

void rq_txbuf_init(rq_txbuf *tb, uint64_t max_buffered)
{
    memset(tb, 0, sizeof *tb);
    tb->max_buffered = max_buffered;
    rq_rangeset_init(&tb->acked, RQ_TXBUF_MAX_RANGES);
    rq_rangeset_init(&tb->lost, RQ_TXBUF_MAX_RANGES);
}

void rq_txbuf_free(rq_txbuf *tb)
{
    rq_mem_free(tb->buf);
    tb->buf = NULL;
    tb->cap = 0;
    rq_rangeset_free(&tb->acked);
    rq_rangeset_free(&tb->lost);
}

static void ring_put(uint8_t *ring, size_t cap, uint64_t off, const uint8_t *src, size_t len)
{
    size_t at = (size_t)(off & (cap - 1));
    size_t first = cap - at < len ? cap - at : len;
    memcpy(ring + at, src, first);
    if (len > first)
        memcpy(ring, src + first, len - first);
}

/* Moves the held bytes [acked_off, end) into a new ring of new_cap bytes (>= held). */
static int ring_resize(rq_txbuf *tb, size_t new_cap)
{
    uint8_t *nb = rq_mem_alloc(new_cap);
    if (!nb)
        return RQ_ERR_NOMEM;
    size_t held = (size_t)(tb->end - tb->acked_off);
    if (tb->buf && held) {
        size_t at = (size_t)(tb->acked_off & (tb->cap - 1));
        size_t first = tb->cap - at < held ? tb->cap - at : held;
        ring_put(nb, new_cap, tb->acked_off, tb->buf + at, first);
        ring_put(nb, new_cap, tb->acked_off + first, tb->buf, held - first);
    }
    rq_mem_free(tb->buf);
    tb->buf = nb;
    tb->cap = new_cap;
    return 0;
}

static int ring_reserve(rq_txbuf *tb, uint64_t need)
{
    if (need <= tb->cap)
        return 0;
    size_t cap = tb->cap ? tb->cap : RQ_TXBUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return RQ_ERR_NOMEM;
        cap *= 2;
    }
    return ring_resize(tb, cap);
}

/* Hands memory back as the acknowledged prefix grows: all of it once the buffer is empty,
 * half of it when a quarter or less is in use (the gap between the two thresholds keeps
 * grow/shrink cycles amortised O(1) per byte). */
static void ring_release(rq_txbuf *tb)
{
    uint64_t held = tb->end - tb->acked_off;
    if (held == 0) {
        rq_mem_free(tb->buf);
        tb->buf = NULL;
        tb->cap = 0;
        return;
    }
    if (tb->cap > RQ_TXBUF_MIN_CAP && held <= tb->cap / 4)
        (void)ring_resize(tb, tb->cap / 2); /* on NOMEM keep the larger ring */
}

int rq_txbuf_append(rq_txbuf *tb, const uint8_t *data, size_t len, bool fin, size_t *accepted)
{
    *accepted = 0;
    if (tb->fin)
        return RQ_ERR_STREAM_STATE;
    uint64_t n = rq_txbuf_space(tb);
    if (n > len)
        n = len;
    if (n) {
        int rc = ring_reserve(tb, tb->end + n - tb->acked_off);
        if (rc < 0)
            return rc;
        ring_put(tb->buf, tb->cap, tb->end, data, (size_t)n);
        tb->end += n;
    }
    *accepted = (size_t)n;
    if (fin && n == len)
        tb->fin = true;
    return 0;
}

/* Caps a chunk at the ring's wrap point so that its bytes are contiguous in memory. */
static void chunk_at(const rq_txbuf *tb, uint64_t off, uint64_t len, rq_txchunk *c)
{
    c->offset = off;
    c->data = NULL;
    c->len = 0;
    if (len) {
        size_t at = (size_t)(off & (tb->cap - 1));
        c->data = tb->buf + at;
        c->len = len < tb->cap - at ? (size_t)len : tb->cap - at;
    }
    c->fin = tb->fin && !tb->fin_acked && off + c->len == tb->end;
}

bool rq_txbuf_next(const rq_txbuf *tb, uint64_t new_limit, rq_txchunk *c)
{
    /* RFC 9000 §13.3: lost data is sent again in new frames, before new data. */
    if (tb->lost.n) {
        const rq_range *r = &tb->lost.r[0];
        assert(r->start >= tb->acked_off && r->end <= tb->sent_off);
        chunk_at(tb, r->start, r->end - r->start, c);
        c->retransmit = true;
        return true;
    }
    if (tb->sent_off < tb->end && tb->sent_off < new_limit) {
        uint64_t lim = tb->end < new_limit ? tb->end : new_limit;
        chunk_at(tb, tb->sent_off, lim - tb->sent_off, c);
        c->retransmit = false;
        return true;
    }
    /* A FIN alone: never sent, or its packet lost (RFC 9000 §19.8 allows an empty frame). */
    if (tb->fin && !tb->fin_acked && tb->sent_off == tb->end && (!tb->fin_sent || tb->fin_lost)) {
        chunk_at(tb, tb->end, 0, c);
        c->retransmit = tb->fin_sent;
        return true;
    }
    return false;
}

uint64_t rq_txbuf_on_sent(rq_txbuf *tb, uint64_t off, size_t len, bool fin)
{
    uint64_t end = off + len, fresh = 0;
    assert(off <= tb->sent_off && end <= tb->end);
    if (end > tb->sent_off) {
        fresh = end - tb->sent_off;
        tb->sent_off = end;
    }
    /* Chunks come from the front of the lowest lost range, so this removes a prefix and
     * cannot need a split; if a caller sent from the middle and the set is full, the bytes
     * simply stay queued (one spare retransmission). */
    (void)rq_rangeset_remove(&tb->lost, off, end);
    if (fin) {
        tb->fin_sent = true;
        tb->fin_lost = false;
    }
    return fresh;
}

/* Moves acked_off over every acknowledged range that now touches it. */
static void advance_prefix(rq_txbuf *tb)
{
    rq_rangeset *a = &tb->acked;
    size_t k = 0;
    while (k < a->n && a->r[k].start <= tb->acked_off) {
        if (a->r[k].end > tb->acked_off)
            tb->acked_off = a->r[k].end;
        k++;
    }
    if (k) {
        memmove(&a->r[0], &a->r[k], (a->n - k) * sizeof a->r[0]);
        a->n -= k;
    }
    /* Removing a prefix never splits a range, so this cannot fail. */
    (void)rq_rangeset_remove(&tb->lost, 0, tb->acked_off);
}

int rq_txbuf_on_acked(rq_txbuf *tb, uint64_t off, size_t len, bool fin)
{
    uint64_t end = off + len;
    if (end > tb->sent_off || end < off || (fin && !tb->fin_sent))
        return RQ_ERR_INVALID_ARG;
    if (fin) {
        tb->fin_acked = true;
        tb->fin_lost = false;
    }
    if (end <= tb->acked_off)
        return 0;
    uint64_t start = off < tb->acked_off ? tb->acked_off : off;
    if (start == tb->acked_off) {
        tb->acked_off = end; /* the common case: the prefix grows, no range to store */
    } else {
        int rc = rq_rangeset_add(&tb->acked, start, end);
        if (rc == RQ_ERR_LIMIT)
            return rq_rangeset_add_coalesce(&tb->lost, start, end); /* see header: bounds */
        if (rc < 0)
            return rc;
    }
    /* A range acknowledged needs no retransmission; if the split does not fit, the bytes
     * are merely sent once more. */
    (void)rq_rangeset_remove(&tb->lost, start, end);
    advance_prefix(tb);
    ring_release(tb);
    return 0;
}

int rq_txbuf_on_lost(rq_txbuf *tb, uint64_t off, size_t len, bool fin)
{
    uint64_t end = off + len;
    if (end > tb->sent_off || end < off || (fin && !tb->fin_sent))
        return RQ_ERR_INVALID_ARG;
    if (fin && !tb->fin_acked)
        tb->fin_lost = true;
    uint64_t cur = off < tb->acked_off ? tb->acked_off : off;
    /* Queue only the gaps between ranges acknowledged meanwhile (by a retransmission). */
    const rq_rangeset *a = &tb->acked;
    for (size_t j = rq_rangeset_find(a, cur); j < a->n && a->r[j].start < end; j++) {
        if (a->r[j].start > cur) {
            int rc = rq_rangeset_add_coalesce(&tb->lost, cur, a->r[j].start);
            if (rc < 0)
                return rc;
        }
        if (a->r[j].end > cur)
            cur = a->r[j].end;
    }
    if (cur < end)
        return rq_rangeset_add_coalesce(&tb->lost, cur, end);
    return 0;
}
