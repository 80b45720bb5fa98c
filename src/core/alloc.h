/* Heap allocation for the library. Everything the library allocates goes through these, so
 * that tests can check that a scenario leaves nothing behind (rq_mem_live) on top of what the
 * sanitizers find, and so that a custom allocator can be injected later in one place.
 * Every allocation a peer can cause is bounded by the module that makes it. */
#ifndef RQ_CORE_ALLOC_H
#define RQ_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/free with a live-allocation count. rq_mem_alloc(0) returns NULL;
 * rq_mem_free(NULL) does nothing; rq_mem_realloc(p, 0) frees p and returns NULL. Sizes that
 * would overflow (n * size in rq_mem_calloc) return NULL. */
void *rq_mem_alloc(size_t size);
void *rq_mem_calloc(size_t n, size_t size);
void *rq_mem_realloc(void *p, size_t size);
void rq_mem_free(void *p);

/* Allocations made and not yet freed, process-wide (an atomic counter: safe from any thread). */
int64_t rq_mem_live(void);

#endif
