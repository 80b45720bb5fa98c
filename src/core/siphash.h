/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash for tables whose keys a peer picks.
 * The endpoint's connection-ID table uses it so that a client choosing DCIDs cannot aim them
 * at one bucket (hash flooding). */
#ifndef RQ_CORE_SIPHASH_H
#define RQ_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define RQ_SIPHASH_KEY_LEN 16

/* The 64-bit SipHash-2-4 of data[0 .. len) under a 16-byte key. */
uint64_t rq_siphash24(const uint8_t key[RQ_SIPHASH_KEY_LEN], const uint8_t *data, size_t len);

#endif
