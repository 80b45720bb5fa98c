/* A sorted set of disjoint byte ranges [start, end), with a hard cap on how many ranges it
 * holds. Shared by receive reassembly (rxbuf: which bytes arrived) and the send buffer (txbuf:
 * which bytes were acknowledged, which must be sent again).
 *
 * Ranges are kept merged: no two overlap or touch. Lookups are binary searches; an insertion
 * or removal moves at most `max` entries, so the work per operation is bounded by the cap
 * however a peer orders its segments or acknowledgements. */
#ifndef RQ_CORE_RANGESET_H
#define RQ_CORE_RANGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rq_range {
    uint64_t start; /* first offset in the range */
    uint64_t end;   /* one past the last offset */
} rq_range;

typedef struct rq_rangeset {
    rq_range *r; /* n ranges in ascending order; owned, allocated through alloc.h */
    size_t n;
    size_t cap; /* entries allocated */
    size_t max; /* the most ranges the set may ever hold (>= 1) */
} rq_rangeset;

/* Starts an empty set that will never hold more than max ranges (max >= 1); allocates
 * nothing until the first insertion. Memory bound: max * 16 bytes. */
void rq_rangeset_init(rq_rangeset *s, size_t max);

/* Frees the set's memory and leaves it empty (still usable). */
void rq_rangeset_free(rq_rangeset *s);

/* The index of the first range whose end is >= off (a range that contains off, touches it
 * from below, or lies above it), or s->n if none. */
size_t rq_rangeset_find(const rq_rangeset *s, uint64_t off);

/* Adds [start, end), merging with every range it overlaps or touches. Empty ranges are a
 * no-op. Returns 0; RQ_ERR_LIMIT (set unchanged) when the range touches nothing and the set
 * already holds max ranges; RQ_ERR_NOMEM (set unchanged). */
int rq_rangeset_add(rq_rangeset *s, uint64_t start, uint64_t end);

/* Like rq_rangeset_add, but when the set is full it never fails for lack of room: the new
 * range is merged with its nearest neighbour, the gap between them included. For sets where
 * covering too much is harmless (bytes to retransmit). Returns 0 or RQ_ERR_NOMEM. */
int rq_rangeset_add_coalesce(rq_rangeset *s, uint64_t start, uint64_t end);

/* Removes [start, end) from the set. Returns 0; RQ_ERR_LIMIT (set unchanged) when that would
 * split one range in two and the set is full; RQ_ERR_NOMEM (set unchanged). */
int rq_rangeset_remove(rq_rangeset *s, uint64_t start, uint64_t end);

/* Whether [start, end) lies wholly inside one range of the set (an empty range: true). */
bool rq_rangeset_contains(const rq_rangeset *s, uint64_t start, uint64_t end);

#endif
