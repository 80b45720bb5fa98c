/* What a path shows on the wire besides the packets' protected contents: the latency spin
 * bit (RFC 9000 §17.4) and the IPv6 flow label (§9.7, flowlabel.h). One rq_spin per path
 * (rq_path.spin); all-zero is "not started": it starts lazily, the first time the path sends or
 * receives, and starts again whenever the connection ID the path sends with changes, so that
 * conn_path.c (whose rq_conn_path_init zeroes the path) needs no call of its own.
 *
 * Spin bit (§17.4). The spin value is kept per path and starts at 0 on each new path and each
 * new connection ID used on a path (MIG-17.4-01). A server sets it to the spin bit of the
 * highest-numbered 1-RTT packet received on the path, a client to its inverse; reordered
 * older packets change nothing. Each start (new path or new CID) draws one random byte from
 * the endpoint's injected randomness: with probability RQ_SPIN_DISABLE_IN_256/256 = 1/8 the
 * spin bit is disabled for that path and CID (MIG-17.4-02 asks for at least 1/16; 1/8 keeps
 * the fraction comfortably above that floor on any sample of paths, at the cost of fewer
 * measurable paths: with both ends drawing, about 1 in 4.3 paths does not spin end to end,
 * where the RFC's floor gives 1 in 8). A disabled path sends a value drawn at
 * the same time and kept constant until the next start — the RFC's recommended "random value
 * chosen independently for each connection ID": an observer sees neither a spinning bit (no
 * bogus RTT samples, which random per-packet values would produce) nor a value that marks the
 * path as disabled (both values occur), and no random draw is needed per packet. Incoming
 * values are then ignored. Only 1-RTT packets have the bit. Only packets that arrived on the
 * path's own 4-tuple count (conn_recv.c): a client counts what still reaches an address it
 * left for its active path, but that path's spin must not take the old path's bits.
 *
 * Not yet: disabling the spin bit by configuration (RFC 9000 §17.4 "MUST allow administrators
 * ... to disable the spin bit either globally or on a per-connection basis") needs a setting
 * in config.h; rq_conn_spin_allowed() is where it plugs in.
 *
 * Flow label key: each path draws a random 16-byte SipHash key at its first start (kept for
 * the path's life), so labels of different paths are unrelated and a new CID on the same path
 * changes the label through the hashed DCID. */
#ifndef RQ_CORE_SPIN_H
#define RQ_CORE_SPIN_H

#include "core/cid.h"
#include "core/siphash.h"

#include <roamquic/types.h>

#include <stdbool.h>
#include <stdint.h>

/* Out of 256: the chance that spinning is disabled on a new path or CID (1/8). */
#define RQ_SPIN_DISABLE_IN_256 32

typedef struct rq_spin {
    bool started;     /* false: nothing drawn yet (a fresh, zeroed path) */
    bool disabled;    /* spinning is off for this path and CID (§17.4) */
    bool value;       /* the spin value sent; constant (random) when disabled */
    bool has_largest; /* a 1-RTT packet was received on the path */
    uint64_t largest_pn;
    rq_cid cid; /* the DCID this path sent with when the state (re)started */
    uint8_t flow_key[RQ_SIPHASH_KEY_LEN];
    uint64_t restarts; /* starts for a new CID on the same path (for tests and logs) */
} rq_spin;

/* ---- The state machine (no connection needed; unit-tested directly) ---- */

/* (Re)starts the spin state for a path now sending with `cid`: value 0, disabled when
 * rnd < RQ_SPIN_DISABLE_IN_256, in which case the constant value sent is rnd's low bit
 * (rnd uniform in 0..255). The largest packet number seen on the path is kept: packets
 * older than the change still change nothing. */
void rq_spin_restart(rq_spin *s, const rq_cid *cid, uint8_t rnd);

/* A 1-RTT packet numbered pn with spin bit `bit` arrived on the path: when pn is the highest
 * seen there, a server takes the bit and a client its inverse (unless disabled). */
void rq_spin_on_recv(rq_spin *s, rq_role role, uint64_t pn, bool bit);

/* The spin bit to put in the next 1-RTT packet on the path. */
static inline bool rq_spin_value(const rq_spin *s)
{
    return s->value;
}

/* ---- The connection's glue (spin.c; called from conn_send.c and conn_recv.c) ---- */
struct rq_conn;
struct rq_path;

/* Starts or restarts the path's state if it is fresh or its DCID changed (drawing from the
 * endpoint's randomness), and returns it. */
rq_spin *rq_conn_spin_sync(struct rq_conn *c, struct rq_path *p);
/* The spin bit for a 1-RTT packet about to be sent on p. */
bool rq_conn_spin_tx(struct rq_conn *c, struct rq_path *p);
/* A 1-RTT packet numbered pn, first byte (header protection removed) `first`, authenticated
 * and not a duplicate, arrived on p. */
void rq_conn_spin_on_recv(struct rq_conn *c, struct rq_path *p, uint64_t pn, uint8_t first);
/* The IPv6 flow label for a datagram sent on p (0 for IPv4), see flowlabel.h. */
uint32_t rq_conn_flow_label(struct rq_conn *c, struct rq_path *p);

#ifdef RQ_TEST_HOOKS
/* TEST ONLY (builds with RQ_TEST_HOOKS): mode 1 never disables spinning on a new path or CID,
 * -1 always does, 0 (the default) draws as described above. Process-wide: for single-threaded
 * tests that must see the bit spin whatever the seed. */
void rq_spin_test_force(int mode);
#endif

#endif
