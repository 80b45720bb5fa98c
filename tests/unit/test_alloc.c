/* The counting allocator every module allocates through. */
#include "core/alloc.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static void test_alloc_counts_live_allocations(void)
{
    int64_t base = rq_mem_live();
    void *a = rq_mem_alloc(10), *b = rq_mem_calloc(4, 8);
    RQ_CHECK(a && b);
    RQ_CHECK_EQ_INT(rq_mem_live(), base + 2);
    a = rq_mem_realloc(a, 1000);
    RQ_CHECK(a);
    RQ_CHECK_EQ_INT(rq_mem_live(), base + 2);
    rq_mem_free(a);
    rq_mem_free(b);
    rq_mem_free(NULL);
    RQ_CHECK_EQ_INT(rq_mem_live(), base);
}

static void test_alloc_edge_sizes(void)
{
    int64_t base = rq_mem_live();
    RQ_CHECK(rq_mem_alloc(0) == NULL);
    RQ_CHECK(rq_mem_calloc(0, 8) == NULL);
    RQ_CHECK(rq_mem_calloc(SIZE_MAX / 2, 4) == NULL); /* n * size overflows */
    void *p = rq_mem_realloc(NULL, 16);
    RQ_CHECK(p);
    RQ_CHECK_EQ_INT(rq_mem_live(), base + 1);
    RQ_CHECK(rq_mem_realloc(p, 0) == NULL); /* frees */
    RQ_CHECK_EQ_INT(rq_mem_live(), base);
}

int main(void)
{
    RQ_RUN(test_alloc_counts_live_allocations);
    RQ_RUN(test_alloc_edge_sizes);
    return rq_test_summary();
}
