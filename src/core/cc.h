/* The congestion controller interface (RFC 9002 §7) that NewReno (cc_newreno.c) implements
 * now and CUBIC will later.
 *
 * An rq_cc is a plain value owned by the path it governs ("a path's RTT estimator and
 * congestion controller live in the path", DESIGN.md): no allocation, copyable, one per path.
 * The algorithm is chosen by the ops table passed to rq_cc_init; common state (window, bytes in
 * flight, datagram size) is in the struct so that the sender reads it without an indirect call,
 * and algorithm-private state lives in the `algo` union.
 *
 * How the connection drives it, per path (the recovery module reports each packet's path):
 *   sent a packet that counts in flight      rq_cc_on_sent
 *   an in-flight packet acknowledged         rq_cc_on_acked
 *   an in-flight packet declared lost        rq_cc_on_lost   (congestion event included)
 *   an ECN-CE count increase                 rq_cc_on_congestion_event
 *   persistent congestion (recovery says)    rq_cc_on_persistent_congestion
 *   packet forgotten without a signal        rq_cc_on_discarded (keys discarded, path detached)
 *   nothing more to send, window not full    rq_cc_on_app_limited
 *   path MTU changed                         rq_cc_set_max_datagram_size
 *   peer moved to a new address (§9.4)       rq_cc_reset
 * Packets that do not count in flight (ACK-only) are never passed to the controller.
 * None of these functions fail: byte counts that would underflow are clamped (an internal
 * accounting bug, not a peer's doing, so it is also asserted in debug builds).
 */
#ifndef RQ_CORE_CC_H
#define RQ_CORE_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/types.h>

#include "core/rtt.h"

/* RFC 9000 §14.1: every path starts with 1200-byte datagrams. */
#define RQ_CC_INITIAL_DATAGRAM_SIZE 1200
/* RFC 9002 §7.3.2: kLossReductionFactor = 0.5. */
#define RQ_CC_LOSS_REDUCTION_NUM 1
#define RQ_CC_LOSS_REDUCTION_DEN 2

typedef struct rq_cc rq_cc;

/* One congestion control algorithm. Every entry is required. */
typedef struct rq_cc_ops {
    const char *name; /* "newreno", as qlog names it */
    void (*reset)(rq_cc *cc, uint64_t max_datagram_size);
    void (*on_sent)(rq_cc *cc, uint64_t bytes, rq_time now);
    void (*on_acked)(rq_cc *cc, uint64_t bytes, rq_time time_sent, const rq_rtt *rtt, rq_time now);
    void (*on_lost)(rq_cc *cc, uint64_t bytes, rq_time time_sent, rq_time now);
    void (*on_congestion_event)(rq_cc *cc, rq_time time_sent, rq_time now);
    void (*on_persistent_congestion)(rq_cc *cc, rq_time now);
    void (*on_discarded)(rq_cc *cc, uint64_t bytes);
    void (*on_app_limited)(rq_cc *cc);
    void (*set_max_datagram_size)(rq_cc *cc, uint64_t max_datagram_size);
} rq_cc_ops;

/* NewReno's private state (RFC 9002 Appendix B). */
typedef struct rq_cc_newreno {
    uint64_t ca_acked; /* bytes acknowledged toward the next congestion-avoidance increase */
} rq_cc_newreno;

struct rq_cc {
    const rq_cc_ops *ops;
    uint64_t cwnd;              /* congestion window, bytes */
    uint64_t ssthresh;          /* UINT64_MAX until the first congestion event */
    uint64_t bytes_in_flight;   /* in-flight bytes sent on this path and not yet settled */
    uint64_t max_datagram_size; /* the path's current maximum datagram size */
    rq_time recovery_start;     /* start of the current recovery period (valid if in_recovery) */
    bool in_recovery;           /* a recovery period has started and not been cleared */
    bool cwnd_limited;          /* the window was full since the last app-limited report */
    union {
        rq_cc_newreno newreno;
    } algo;
};

/* The NewReno algorithm (cc_newreno.c). */
extern const rq_cc_ops rq_cc_newreno_ops;

/* RFC 9002 §7.2: initial window min(10 × mds, max(2 × mds, 14720)). */
static inline uint64_t rq_cc_initial_window(uint64_t max_datagram_size)
{
    uint64_t a = 10 * max_datagram_size, b = 2 * max_datagram_size;
    if (b < 14720)
        b = 14720;
    return a < b ? a : b;
}

/* RFC 9002 §7.2: minimum window 2 × mds. */
static inline uint64_t rq_cc_minimum_window(uint64_t max_datagram_size)
{
    return 2 * max_datagram_size;
}

/* Sets up `cc` with algorithm `ops` for a fresh path whose datagrams are max_datagram_size
 * bytes (RQ_CC_INITIAL_DATAGRAM_SIZE for a new path). `ops` must outlive cc (a static table).
 * Call once per path; rq_cc_reset starts it over. */
static inline void rq_cc_init(rq_cc *cc, const rq_cc_ops *ops, uint64_t max_datagram_size)
{
    cc->ops = ops;
    ops->reset(cc, max_datagram_size);
}

/* Forgets everything, bytes in flight included, as for a new path (RFC 9000 §9.4: the new path
 * starts with a fresh controller unless only the peer's port changed). Detach the old path's
 * packets from the ledger first (rq_recovery_detach_path) so that none is settled twice. */
static inline void rq_cc_reset(rq_cc *cc, uint64_t max_datagram_size)
{
    cc->ops->reset(cc, max_datagram_size);
}

/* A packet of `bytes` that counts in flight was sent on this path at `now`. */
static inline void rq_cc_on_sent(rq_cc *cc, uint64_t bytes, rq_time now)
{
    cc->ops->on_sent(cc, bytes, now);
}

/* An in-flight packet of `bytes` sent at time_sent was acknowledged. `rtt` is this path's
 * estimator after the ACK's sample (read only, during the call). */
static inline void rq_cc_on_acked(rq_cc *cc, uint64_t bytes, rq_time time_sent, const rq_rtt *rtt,
                                  rq_time now)
{
    cc->ops->on_acked(cc, bytes, time_sent, rtt, now);
}

/* An in-flight packet of `bytes` sent at time_sent was declared lost: its bytes leave flight
 * and a congestion event starts unless one already covers time_sent (RFC 9002 §7.3.2).
 * Report lost packets of one detection in ascending packet number order. */
static inline void rq_cc_on_lost(rq_cc *cc, uint64_t bytes, rq_time time_sent, rq_time now)
{
    cc->ops->on_lost(cc, bytes, time_sent, now);
}

/* A congestion signal without a loss, e.g. an increased ECN-CE count, for the packet sent at
 * time_sent (RFC 9002 §7.1, §B.7). One reduction per recovery period. */
static inline void rq_cc_on_congestion_event(rq_cc *cc, rq_time time_sent, rq_time now)
{
    cc->ops->on_congestion_event(cc, time_sent, now);
}

/* Persistent congestion was established on this path (RFC 9002 §7.6.2): collapse to the
 * minimum window. Call after the rq_cc_on_lost calls of the same detection. */
static inline void rq_cc_on_persistent_congestion(rq_cc *cc, rq_time now)
{
    cc->ops->on_persistent_congestion(cc, now);
}

/* In-flight bytes that will never be acknowledged or lost for this controller (their keys were
 * discarded, RFC 9002 §6.4, or their path was detached): removed without a signal. */
static inline void rq_cc_on_discarded(rq_cc *cc, uint64_t bytes)
{
    cc->ops->on_discarded(cc, bytes);
}

/* The sender has nothing more to send although the window has room: until the window is full
 * again, acknowledgments do not grow it (RFC 9002 §7.8). */
static inline void rq_cc_on_app_limited(rq_cc *cc)
{
    cc->ops->on_app_limited(cc);
}

/* The path's maximum datagram size changed (PMTU discovery, RFC 9002 §7.2). */
static inline void rq_cc_set_max_datagram_size(rq_cc *cc, uint64_t max_datagram_size)
{
    cc->ops->set_max_datagram_size(cc, max_datagram_size);
}

/* How many more bytes may be put in flight now (0 when the window is full). RFC 9002 §7: a
 * sender does not exceed the window except for PTO probes (§6.2.4) and the one packet on
 * entering recovery. */
static inline uint64_t rq_cc_bytes_available(const rq_cc *cc)
{
    return cc->cwnd > cc->bytes_in_flight ? cc->cwnd - cc->bytes_in_flight : 0;
}

/* Whether a packet of `bytes` fits in the window. */
static inline bool rq_cc_can_send(const rq_cc *cc, uint64_t bytes)
{
    return bytes <= rq_cc_bytes_available(cc);
}

#endif
