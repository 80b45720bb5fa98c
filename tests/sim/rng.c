/* xoshiro256** streams seeded through splitmix64, and a stable byte hash. */
#include "rng.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_seed_from_env(uint64_t fallback)
{
    const char *s = getenv("RQ_SIM_SEED");
    if (!s || !*s)
        return fallback;
    char *end = NULL;
    uint64_t v = strtoull(s, &end, 0);
    if (!end || *end != '\0') {
        fprintf(stderr, "sim: RQ_SIM_SEED=\"%s\" is not a number; using 0x%" PRIx64 "\n", s,
                fallback);
        return fallback;
    }
    return v;
}

/* Word-at-a-time multiply-xor: quick enough to hash every datagram of a bulk transfer. The
 * tail is read byte by byte so the result never depends on alignment or endianness tricks. */
uint64_t sim_hash_bytes(const void *data, size_t len, uint64_t h)
{
    const uint8_t *p = data;
    h ^= 0x6a09e667f3bcc909ULL ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        h = (h ^ (w * 0x9fb21c651e98df25ULL)) * 0xc2b2ae3d27d4eb4fULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < len; i++)
        t |= (uint64_t)p[i] << (8 * i);
    h = (h ^ (t * 0x9fb21c651e98df25ULL)) * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 32;
    return h;
}

void sim_rng_init(sim_rng *r, uint64_t seed, const char *name, uint32_t stream)
{
    const char *n = name ? name : "";
    uint64_t x = seed ^ sim_hash_bytes(n, strlen(n), 0) ^ ((uint64_t)stream << 32 | stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) /* the one state xoshiro cannot leave */
        r->s[0] = 1;
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Rejection sampling on the top of the range: exact uniformity, with at most a handful of
 * extra draws (each rejection has probability below 1/2). */
uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n; /* largest multiple of n, minus 1 */
    uint64_t x;
    do {
        x = sim_rng_next(r);
    } while (x > limit);
    return x % n;
}

uint64_t sim_prob_threshold(double p)
{
    if (!(p > 0.0))
        return 0;
    if (p >= 1.0)
        return UINT64_MAX;
    double t = p * 18446744073709551616.0; /* 2^64 */
    return t >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)t;
}

bool sim_rng_chance(sim_rng *r, uint64_t threshold)
{
    if (threshold == 0)
        return false;
    uint64_t x = sim_rng_next(r);
    return threshold == UINT64_MAX || x < threshold;
}

int sim_rng_fill(void *ctx, uint8_t *buf, size_t len)
{
    sim_rng *r = ctx;
    while (len > 0) {
        uint64_t x = sim_rng_next(r);
        size_t n = len < 8 ? len : 8;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(x >> (8 * i));
        buf += n;
        len -= n;
    }
    return 0;
}
