/* Seeded pseudo-random streams for the simulator.
 *
 * Every random decision in a simulation comes from a sim_rng stream derived from the run's
 * seed, the name of the element that owns it and a stream tag. Deriving by name (not by
 * creation order) means that adding an element to a scenario, or turning on one impairment,
 * does not shift the random draws any other element makes: a scenario stays replayable while
 * it grows. The generator is xoshiro256** seeded through splitmix64.
 */
#ifndef RQ_SIM_RNG_H
#define RQ_SIM_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

/* The run's seed: RQ_SIM_SEED from the environment when set (decimal or 0x-hex), else
 * `fallback`. Never fails; an unparsable variable falls back too (and says so on stderr). */
uint64_t sim_seed_from_env(uint64_t fallback);

/* Initialises `r` from (seed, name, stream). `name` may be NULL (treated as ""); it is read,
 * not kept. Equal inputs give equal streams on every platform. */
void sim_rng_init(sim_rng *r, uint64_t seed, const char *name, uint32_t stream);

/* The next 64 random bits. */
uint64_t sim_rng_next(sim_rng *r);

/* A uniform value in [0, n) without modulo bias; n == 0 returns 0. */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);

/* A probability in [0, 1] as a 64-bit threshold for sim_rng_chance: values <= 0 never fire,
 * values >= 1 always fire. Converted once so that every draw is an integer comparison. */
uint64_t sim_prob_threshold(double p);

/* True with the probability `threshold` encodes (from sim_prob_threshold). Draws exactly one
 * value whatever the threshold, except that a zero threshold draws nothing. */
bool sim_rng_chance(sim_rng *r, uint64_t threshold);

/* An rq_random_fn over a sim_rng (ctx is the sim_rng *): lets an endpoint's "random" choices
 * (CIDs, PATH_CHALLENGE data) replay with the seed. Always returns 0. */
int sim_rng_fill(void *ctx, uint8_t *buf, size_t len);

/* A fast, stable 64-bit hash of bytes (not cryptographic), used for trace digests and to name
 * streams. */
uint64_t sim_hash_bytes(const void *data, size_t len, uint64_t h);

#endif
