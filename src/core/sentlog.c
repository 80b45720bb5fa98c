/* The sent-frame log: a ring of records addressed by ever-increasing sequence numbers. */
#include "core/sentlog.h"

#include "core/alloc.h"

#include <roamquic/error.h>
#include <string.h>

void rq_sentlog_init(rq_sentlog *l, size_t max_records)
{
    memset(l, 0, sizeof *l);
    l->max_records = max_records;
}

void rq_sentlog_free(rq_sentlog *l)
{
    rq_mem_free(l->ring);
    l->ring = NULL;
    l->cap = 0;
    l->head = l->tail;
}

static int grow(rq_sentlog *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    rq_sent_frame *ring = rq_mem_alloc(cap * sizeof *ring);
    if (!ring)
        return RQ_ERR_NOMEM;
    for (uint64_t s = l->head; s < l->tail; s++)
        ring[s & (cap - 1)] = l->ring[s & (l->cap - 1)];
    rq_mem_free(l->ring);
    l->ring = ring;
    l->cap = cap;
    return 0;
}

int rq_sentlog_append(rq_sentlog *l, const rq_sent_frame *f)
{
    size_t used = (size_t)(l->tail - l->head);
    if (used >= l->max_records)
        return RQ_ERR_LIMIT;
    if (used == l->cap) {
        int rc = grow(l);
        if (rc)
            return rc;
    }
    rq_sent_frame *slot = &l->ring[l->tail & (l->cap - 1)];
    *slot = *f;
    slot->released = false;
    l->tail++;
    return 0;
}

rq_sent_frame *rq_sentlog_at(rq_sentlog *l, uint64_t seq)
{
    if (seq < l->head || seq >= l->tail)
        return NULL;
    return &l->ring[seq & (l->cap - 1)];
}

void rq_sentlog_release(rq_sentlog *l, uint64_t token)
{
    uint64_t first = token >> 16, end = first + (token & 0xffff);
    for (uint64_t s = first; s < end; s++) {
        rq_sent_frame *f = rq_sentlog_at(l, s);
        if (f)
            f->released = true;
    }
    while (l->head < l->tail && l->ring[l->head & (l->cap - 1)].released)
        l->head++;
}
