/* The endpoint's connection-ID table (RFC 9000 §5.2) and the keyed hash under it. */
#include "core/alloc.h"
#include "core/cidmap.h"
#include "core/siphash.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

/* SipHash-2-4 reference vectors (key 00..0f, message 00..n-1), from the algorithm's paper. */
static void test_siphash24_reference_vectors(void)
{
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {{0, 0x726fdb47dd0e0e31ULL}, {1, 0x74f839c593dc67fdULL},  {2, 0x0d6c8009d9a94f5aULL},
             {3, 0x85676696d7fb7e2dULL}, {7, 0xab0200f58b01d137ULL},  {8, 0x93f5f5799a932462ULL},
             {9, 0x9e0082df0ba9e4b0ULL}, {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL},
             {63, 0x958a324ceb064572ULL}};
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        RQ_CHECK_EQ_U64(rq_siphash24(key, msg, v[i].len), v[i].want);
}

static rq_cid make_cid(uint64_t *s, size_t len)
{
    rq_cid c;
    c.len = (uint8_t)len;
    for (size_t i = 0; i < len; i++)
        c.data[i] = (uint8_t)rq_test_rand(s);
    return c;
}

static const uint8_t test_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* §5.2: a DCID finds its connection; the same bytes with another length do not; a CID maps
 * to one connection only. */
static void test_cidmap_basic_rfc9000_5_2(void)
{
    rq_cidmap m;
    rq_cidmap_init(&m, test_key, 100);
    int a, b;
    rq_cid c8 = {8, {1, 2, 3, 4, 5, 6, 7, 8}}, c4 = {4, {1, 2, 3, 4}}, c0 = {0, {0}};
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &c8, &a), RQ_OK);
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &c4, &b), RQ_OK);
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &c8, &b), RQ_ERR_INVALID_ARG); /* already mapped */
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &c0, NULL), RQ_ERR_INVALID_ARG);
    RQ_CHECK(rq_cidmap_find(&m, c8.data, 8) == &a);
    RQ_CHECK(rq_cidmap_find(&m, c4.data, 4) == &b);
    RQ_CHECK(rq_cidmap_find(&m, c8.data, 5) == NULL);
    RQ_CHECK(rq_cidmap_find(&m, c8.data, 21) == NULL);
    RQ_CHECK_EQ_INT(rq_cidmap_count(&m), 2);
    RQ_CHECK(rq_cidmap_remove(&m, &c8));
    RQ_CHECK(!rq_cidmap_remove(&m, &c8));
    RQ_CHECK(rq_cidmap_find(&m, c8.data, 8) == NULL);
    RQ_CHECK(rq_cidmap_find(&m, c4.data, 4) == &b);
    rq_cidmap_free(&m);
}

/* The table is bounded: inserts past max_entries are refused, removals make room again. */
static void test_cidmap_bounded(void)
{
    rq_cidmap m;
    rq_cidmap_init(&m, test_key, 50);
    uint64_t s = 7;
    rq_cid cids[51];
    int v;
    for (int i = 0; i < 51; i++)
        cids[i] = make_cid(&s, 8);
    for (int i = 0; i < 50; i++)
        RQ_CHECK_ERR(rq_cidmap_insert(&m, &cids[i], &v), RQ_OK);
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &cids[50], &v), RQ_ERR_LIMIT);
    RQ_CHECK(rq_cidmap_remove(&m, &cids[3]));
    RQ_CHECK_ERR(rq_cidmap_insert(&m, &cids[50], &v), RQ_OK);
    rq_cidmap_free(&m);
}

/* A random sequence of inserts and removals agrees with a plain model at every step, through
 * growth and backward-shift deletions (many collisions in the probe runs). */
static void test_cidmap_random_against_model(void)
{
    enum { N = 600 };
    static rq_cid cids[N];
    static int present[N];
    static int values[N];
    uint64_t s = rq_test_seed();
    int64_t live = rq_mem_live();
    rq_cidmap m;
    rq_cidmap_init(&m, test_key, N);
    /* Short CIDs can repeat: draw again until each is distinct, so the model stays simple. */
    for (int i = 0; i < N; i++) {
        bool dup;
        do {
            cids[i] = make_cid(&s, 1 + rq_test_rand(&s) % 20);
            dup = false;
            for (int j = 0; j < i && !dup; j++)
                dup = rq_cid_eq(&cids[i], &cids[j]);
        } while (dup);
        present[i] = 0;
    }
    unsigned long steps = rq_test_iterations(50000);
    size_t count = 0;
    for (unsigned long k = 0; k < steps; k++) {
        int i = (int)(rq_test_rand(&s) % N);
        if (present[i]) {
            RQ_CHECK(rq_cidmap_remove(&m, &cids[i]));
            present[i] = 0;
            count--;
        } else {
            RQ_CHECK_ERR(rq_cidmap_insert(&m, &cids[i], &values[i]), RQ_OK);
            present[i] = 1;
            count++;
        }
        RQ_CHECK_EQ_INT(rq_cidmap_count(&m), count);
        if (k % 97 == 0)
            for (int j = 0; j < N; j++) {
                void *got = rq_cidmap_find(&m, cids[j].data, cids[j].len);
                RQ_CHECK(got == (present[j] ? &values[j] : NULL));
            }
    }
    rq_cidmap_free(&m);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* The hash is keyed: the same CIDs land in different buckets under different keys, so a
 * peer that does not know the key cannot pick CIDs that collide. */
static void test_cidmap_hash_is_keyed(void)
{
    uint8_t other[16] = {0};
    uint8_t cid[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    RQ_CHECK(rq_siphash24(test_key, cid, 8) != rq_siphash24(other, cid, 8));
}

int main(void)
{
    RQ_RUN(test_siphash24_reference_vectors);
    RQ_RUN(test_cidmap_basic_rfc9000_5_2);
    RQ_RUN(test_cidmap_bounded);
    RQ_RUN(test_cidmap_random_against_model);
    RQ_RUN(test_cidmap_hash_is_keyed);
    return rq_test_summary();
}
