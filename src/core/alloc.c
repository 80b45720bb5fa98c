/* Counting wrappers around the C allocator. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_llong live_allocations;

void *rq_mem_alloc(size_t size)
{
    if (size == 0)
        return NULL;
    void *p = malloc(size);
    if (p)
        atomic_fetch_add_explicit(&live_allocations, 1, memory_order_relaxed);
    return p;
}

void *rq_mem_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0 || n > SIZE_MAX / size)
        return NULL;
    void *p = calloc(n, size);
    if (p)
        atomic_fetch_add_explicit(&live_allocations, 1, memory_order_relaxed);
    return p;
}

void *rq_mem_realloc(void *p, size_t size)
{
    if (size == 0) {
        rq_mem_free(p);
        return NULL;
    }
    if (!p)
        return rq_mem_alloc(size);
    return realloc(p, size); /* on failure p stays valid and counted */
}

void rq_mem_free(void *p)
{
    if (!p)
        return;
    free(p);
    atomic_fetch_sub_explicit(&live_allocations, 1, memory_order_relaxed);
}

int64_t rq_mem_live(void)
{
    return atomic_load_explicit(&live_allocations, memory_order_relaxed);
}
