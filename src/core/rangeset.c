/* Sorted, merged, bounded set of byte ranges. */
#include "core/rangeset.h"

#include <assert.h>
#include <string.h>

#include <roamquic/error.h>

#include "core/alloc.h"

/* The array starts small: most sets hold one or two ranges (in-order data, a lone loss). */
#define RQ_RANGESET_MIN_CAP 4

void rq_rangeset_init(rq_rangeset *s, size_t max)
{
    assert(max >= 1);
    s->r = NULL;
    s->n = 0;
    s->cap = 0;
    s->max = max;
}

void rq_rangeset_free(rq_rangeset *s)
{
    rq_mem_free(s->r);
    s->r = NULL;
    s->n = 0;
    s->cap = 0;
}

size_t rq_rangeset_find(const rq_rangeset *s, uint64_t off)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].end < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Makes room for one more entry (never beyond max). */
static int reserve_one(rq_rangeset *s)
{
    if (s->n < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : RQ_RANGESET_MIN_CAP;
    if (cap > s->max)
        cap = s->max;
    rq_range *r = rq_mem_realloc(s->r, cap * sizeof *r);
    if (!r)
        return RQ_ERR_NOMEM;
    s->r = r;
    s->cap = cap;
    return 0;
}

static void insert_at(rq_rangeset *s, size_t i, uint64_t start, uint64_t end)
{
    memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof s->r[0]);
    s->r[i].start = start;
    s->r[i].end = end;
    s->n++;
}

/* Replaces ranges i..j-1 (j > i) by their union with [start, end). */
static void merge_into(rq_rangeset *s, size_t i, size_t j, uint64_t start, uint64_t end)
{
    if (s->r[i].start < start)
        start = s->r[i].start;
    if (s->r[j - 1].end > end)
        end = s->r[j - 1].end;
    s->r[i].start = start;
    s->r[i].end = end;
    memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof s->r[0]);
    s->n -= j - i - 1;
}

/* First index from i on whose start is beyond `end` (ranges i.. all end >= some start). */
static size_t first_above(const rq_rangeset *s, size_t i, uint64_t end)
{
    size_t lo = i, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].start <= end)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int rq_rangeset_add(rq_rangeset *s, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    size_t i = rq_rangeset_find(s, start);
    /* Fast path for in-order growth: extend the range that ends where this one starts. */
    if (i < s->n && s->r[i].start <= start && s->r[i].end >= start &&
        (i + 1 == s->n || s->r[i + 1].start > end)) {
        if (end > s->r[i].end)
            s->r[i].end = end;
        return 0;
    }
    size_t j = first_above(s, i, end);
    if (j > i) {
        merge_into(s, i, j, start, end);
        return 0;
    }
    if (s->n >= s->max)
        return RQ_ERR_LIMIT;
    int rc = reserve_one(s);
    if (rc < 0)
        return rc;
    insert_at(s, i, start, end);
    return 0;
}

int rq_rangeset_add_coalesce(rq_rangeset *s, uint64_t start, uint64_t end)
{
    int rc = rq_rangeset_add(s, start, end);
    if (rc != RQ_ERR_LIMIT)
        return rc;
    /* Full and disjoint from every range: widen towards the nearer neighbour. i is where the
     * new range would go; ranges i-1 (below) and i (above) are its neighbours. */
    size_t i = rq_rangeset_find(s, start);
    bool has_lo = i > 0, has_hi = i < s->n;
    uint64_t gap_lo = has_lo ? start - s->r[i - 1].end : UINT64_MAX;
    uint64_t gap_hi = has_hi ? s->r[i].start - end : UINT64_MAX;
    if (has_lo && gap_lo <= gap_hi)
        s->r[i - 1].end = end;
    else
        s->r[i].start = start;
    return 0;
}

int rq_rangeset_remove(rq_rangeset *s, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    /* Ranges that merely touch start are unaffected: look for end > start. */
    size_t i = rq_rangeset_find(s, start + 1);
    if (i >= s->n || s->r[i].start >= end)
        return 0;
    if (s->r[i].start < start && s->r[i].end > end) {
        /* The removal punches a hole in one range: it splits in two. */
        if (s->n >= s->max)
            return RQ_ERR_LIMIT;
        int rc = reserve_one(s);
        if (rc < 0)
            return rc;
        insert_at(s, i + 1, end, s->r[i].end);
        s->r[i].end = start;
        return 0;
    }
    size_t first_whole = i;
    if (s->r[i].start < start) {
        s->r[i].end = start; /* keep the part below start */
        first_whole = i + 1;
    }
    size_t j = first_whole;
    while (j < s->n && s->r[j].end <= end)
        j++;
    if (j < s->n && s->r[j].start < end)
        s->r[j].start = end; /* keep the part above end */
    memmove(&s->r[first_whole], &s->r[j], (s->n - j) * sizeof s->r[0]);
    s->n -= j - first_whole;
    return 0;
}

bool rq_rangeset_contains(const rq_rangeset *s, uint64_t start, uint64_t end)
{
    if (start >= end)
        return true;
    size_t i = rq_rangeset_find(s, start + 1);
    return i < s->n && s->r[i].start <= start && s->r[i].end >= end;
}
