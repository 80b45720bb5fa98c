/* Connection-ID table: open addressing, linear probing, backward-shift deletion. */
#include "core/cidmap.h"

#include "core/alloc.h"

#include <roamquic/error.h>
#include <string.h>

#define MIN_CAP 16
/* Grow when more than 3/4 full: linear probing stays short below that load. */
#define LOAD_NUM 3
#define LOAD_DEN 4

static uint64_t hash_cid(const uint8_t key[RQ_SIPHASH_KEY_LEN], const uint8_t *data, size_t len)
{
    return rq_siphash24(key, data, len);
}

static bool slot_matches(const rq_cidmap_slot *s, uint64_t h, const uint8_t *data, size_t len)
{
    return s->value && s->hash == h && s->cid.len == len && memcmp(s->cid.data, data, len) == 0;
}

void rq_cidmap_init(rq_cidmap *m, const uint8_t key[RQ_SIPHASH_KEY_LEN], size_t max_entries)
{
    memset(m, 0, sizeof *m);
    memcpy(m->key, key, RQ_SIPHASH_KEY_LEN);
    m->max_entries = max_entries;
}

void rq_cidmap_free(rq_cidmap *m)
{
    rq_mem_free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

/* Places an entry known to be absent into a table with room. */
static void place(rq_cidmap_slot *slots, size_t cap, const rq_cidmap_slot *e)
{
    size_t i = (size_t)e->hash & (cap - 1);
    while (slots[i].value)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

static int grow(rq_cidmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
    rq_cidmap_slot *slots = rq_mem_calloc(cap, sizeof *slots);
    if (!slots)
        return RQ_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].value)
            place(slots, cap, &m->slots[i]);
    rq_mem_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int rq_cidmap_insert(rq_cidmap *m, const rq_cid *cid, void *value)
{
    if (!value || cid->len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    if (rq_cidmap_find(m, cid->data, cid->len))
        return RQ_ERR_INVALID_ARG;
    if (m->count >= m->max_entries)
        return RQ_ERR_LIMIT;
    if ((m->count + 1) * LOAD_DEN > m->cap * LOAD_NUM) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    rq_cidmap_slot e = {value, hash_cid(m->key, cid->data, cid->len), *cid};
    place(m->slots, m->cap, &e);
    m->count++;
    return 0;
}

static size_t find_index(const rq_cidmap *m, const uint8_t *data, size_t len, bool *found)
{
    *found = false;
    if (m->cap == 0 || len > RQ_MAX_CID_LEN)
        return 0;
    uint64_t h = hash_cid(m->key, data, len);
    size_t i = (size_t)h & (m->cap - 1);
    /* The load factor leaves empty slots, so the probe ends. */
    while (m->slots[i].value) {
        if (slot_matches(&m->slots[i], h, data, len)) {
            *found = true;
            return i;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

void *rq_cidmap_find(const rq_cidmap *m, const uint8_t *data, size_t len)
{
    bool found;
    size_t i = find_index(m, data, len, &found);
    return found ? m->slots[i].value : NULL;
}

/* Distance of slot i from the home slot of the entry in it. */
static size_t probe_distance(const rq_cidmap *m, size_t i)
{
    size_t home = (size_t)m->slots[i].hash & (m->cap - 1);
    return (i - home) & (m->cap - 1);
}

bool rq_cidmap_remove(rq_cidmap *m, const rq_cid *cid)
{
    bool found;
    size_t hole = find_index(m, cid->data, cid->len, &found);
    if (!found)
        return false;
    /* Backward-shift deletion: pull later entries of the probe run into the hole while they
     * would be no further from home there, so lookups never need tombstones. */
    size_t mask = m->cap - 1;
    size_t i = (hole + 1) & mask;
    while (m->slots[i].value) {
        size_t dist = probe_distance(m, i);
        size_t gap = (i - hole) & mask;
        if (dist >= gap) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
        i = (i + 1) & mask;
    }
    memset(&m->slots[hole], 0, sizeof m->slots[hole]);
    m->count--;
    return true;
}
