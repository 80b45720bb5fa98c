/* The endpoint's table from connection ID to connection (RFC 9000 §5.2: packets are matched to
 * connections by their Destination Connection ID). Open addressing with linear probing and
 * backward-shift deletion (no tombstones), hashed with keyed SipHash-2-4 so that a peer
 * choosing CIDs cannot degrade lookups (the client picks its first DCID). Bounded: at most
 * max_entries entries, fixed when the map is made. */
#ifndef RQ_CORE_CIDMAP_H
#define RQ_CORE_CIDMAP_H

#include "core/cid.h"
#include "core/siphash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rq_cidmap_slot {
    void *value; /* NULL: the slot is empty */
    uint64_t hash;
    rq_cid cid;
} rq_cidmap_slot;

typedef struct rq_cidmap {
    rq_cidmap_slot *slots;
    size_t cap; /* a power of two, or 0 before the first insert */
    size_t count;
    size_t max_entries;
    uint8_t key[RQ_SIPHASH_KEY_LEN];
} rq_cidmap;

/* Prepares an empty map (no allocation until the first insert). key must be secret and
 * random (from the endpoint's random function). max_entries bounds the table. */
void rq_cidmap_init(rq_cidmap *m, const uint8_t key[RQ_SIPHASH_KEY_LEN], size_t max_entries);

/* Frees the table. The values are the caller's and are not touched. */
void rq_cidmap_free(rq_cidmap *m);

/* Adds cid → value (value non-NULL). Returns 0, RQ_ERR_INVALID_ARG (NULL value, CID over 20
 * bytes, or the CID is already in the map: a CID maps to one connection), RQ_ERR_LIMIT
 * (max_entries reached) or RQ_ERR_NOMEM (growing failed; the map is unchanged). */
int rq_cidmap_insert(rq_cidmap *m, const rq_cid *cid, void *value);

/* The value for the CID data[0 .. len), or NULL. */
void *rq_cidmap_find(const rq_cidmap *m, const uint8_t *data, size_t len);

/* Removes cid; true if it was there. */
bool rq_cidmap_remove(rq_cidmap *m, const rq_cid *cid);

static inline size_t rq_cidmap_count(const rq_cidmap *m)
{
    return m->count;
}

#endif
