/* Loss detection and PTO over per-space ledgers of sent packets (RFC 9002 §6, Appendix A). */
#include <assert.h>
#include <string.h>

#include "core/alloc.h"
#include "core/recovery.h"

/* Ledger record states. ACKED records stay in the middle of the ledger (until compaction) so
 * that persistent congestion can see an acknowledgment between two losses (§7.6.2). */
enum { ST_LIVE = 0, ST_NEWLY_ACKED = 1, ST_ACKED = 2, ST_GONE = 3 };

struct rq_recovery_entry {
    rq_sent_packet p;
    uint8_t state;
    bool detached; /* its path was detached: no RTT sample (RFC 9000 §9.4) */
    bool ack_gap;  /* an acknowledged record before it was compacted away */
};

#define INITIAL_CAP 64

/* ---- small helpers ---- */

static rq_time sat_add(rq_time a, rq_time b)
{
    return a > RQ_TIME_NEVER - b ? RQ_TIME_NEVER : a + b;
}

/* d × 2^n, saturating at RQ_TIME_NEVER. */
static rq_time backoff(rq_time d, unsigned n)
{
    if (d == 0)
        return 0;
    if (n >= 63 || d > (RQ_TIME_NEVER >> n))
        return RQ_TIME_NEVER;
    return d << n;
}

/* The estimator of `path`, or *fresh (kInitialRtt, no sample) when the connection has none. */
static const rq_rtt *rtt_of(const rq_recovery_env *env, uint32_t path, const rq_rtt *fresh)
{
    rq_rtt *r = env->path_rtt ? env->path_rtt(env->ctx, path) : NULL;
    return r ? r : fresh;
}

/* First index in [head, tail) whose packet number is >= pn (tail if none). */
static size_t lower_bound(const rq_recovery_space *s, uint64_t pn)
{
    size_t lo = s->head, hi = s->tail;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].p.pn < pn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Takes a record out of the in-flight accounting (it was acknowledged, lost or dropped). */
static void settle(rq_recovery_space *s, rq_recovery_entry *e)
{
    if (!e->p.in_flight)
        return;
    assert(s->bytes_in_flight >= e->p.size);
    s->bytes_in_flight -= e->p.size;
    if (e->p.ack_eliciting) {
        assert(s->ack_eliciting_in_flight > 0);
        s->ack_eliciting_in_flight--;
    }
}

/* Drops settled records from the front of the ledger. */
static void compact_head(rq_recovery_space *s)
{
    while (s->head < s->tail && s->e[s->head].state != ST_LIVE)
        s->head++;
    if (s->head == s->tail)
        s->head = s->tail = 0;
}

/* Moves the live records to the front, dropping every settled one. An acknowledged record that
 * disappears leaves its mark on the next live one (ack_gap), so that persistent congestion is
 * never declared across it. */
static void compact_all(rq_recovery_space *s)
{
    size_t w = 0;
    bool gap = false;
    for (size_t i = s->head; i < s->tail; i++) {
        if (s->e[i].state == ST_LIVE) {
            s->e[w] = s->e[i];
            s->e[w].ack_gap |= gap;
            gap = false;
            w++;
        } else if (s->e[i].state == ST_ACKED) {
            gap = true;
        }
    }
    s->head = 0;
    s->tail = w;
}

static void space_reset(rq_recovery_space *s)
{
    rq_mem_free(s->e);
    memset(s, 0, sizeof *s);
    s->largest_acked = RQ_PN_NONE;
    for (size_t i = 0; i < RQ_RECOVERY_PC_PATHS; i++)
        s->path_largest_acked[i] = RQ_PN_NONE;
    s->loss_time = RQ_TIME_NEVER;
}

/* ---- setup ---- */

void rq_recovery_init(rq_recovery *r, size_t max_tracked)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 3; i++)
        space_reset(&r->space[i]);
    r->max_tracked = max_tracked ? max_tracked : RQ_RECOVERY_DEFAULT_MAX_TRACKED;
    r->timer = RQ_TIME_NEVER;
}

void rq_recovery_free(rq_recovery *r)
{
    for (int i = 0; i < 3; i++)
        space_reset(&r->space[i]);
    r->timer = RQ_TIME_NEVER;
}

/* ---- sending ---- */

/* Forgets the oldest record that nobody waits for: not in flight and not ack-eliciting (an
 * ACK-only packet). Returns false if there is none. */
static bool evict_ack_only(rq_recovery_space *s, rq_pn_space space, const rq_recovery_env *env)
{
    for (size_t i = s->head; i < s->tail; i++) {
        rq_recovery_entry *e = &s->e[i];
        if (e->state != ST_LIVE || e->p.in_flight || e->p.ack_eliciting)
            continue;
        e->state = ST_GONE;
        if (env && env->on_discarded)
            env->on_discarded(env->ctx, space, &e->p);
        compact_all(s);
        return true;
    }
    return false;
}

/* Makes room for one more record at the tail: compaction, then growth up to the cap, then
 * eviction of an ACK-only record. */
static int make_room(rq_recovery *r, rq_pn_space space, const rq_recovery_env *env)
{
    rq_recovery_space *s = &r->space[space];
    if (s->tail < s->cap)
        return 0;
    compact_all(s);
    if (s->tail < s->cap)
        return 0;
    if (s->cap < r->max_tracked) {
        size_t ncap = s->cap ? s->cap * 2 : INITIAL_CAP;
        if (ncap > r->max_tracked)
            ncap = r->max_tracked;
        rq_recovery_entry *ne = rq_mem_realloc(s->e, ncap * sizeof *ne);
        if (!ne)
            return RQ_ERR_NOMEM;
        s->e = ne;
        s->cap = ncap;
        return 0;
    }
    return evict_ack_only(s, space, env) ? 0 : RQ_ERR_LIMIT;
}

int rq_recovery_on_sent(rq_recovery *r, rq_pn_space space, const rq_sent_packet *p, rq_time now,
                        const rq_recovery_env *env)
{
    if ((unsigned)space > RQ_PN_SPACE_APPLICATION)
        return RQ_ERR_INVALID_ARG;
    rq_recovery_space *s = &r->space[space];
    /* RFC 9000 §12.3: packet numbers in a space only go up, and never past 2^62-1. */
    if (s->discarded || p->pn < s->next_pn || p->pn > RQ_PN_MAX)
        return RQ_ERR_INVALID_ARG;
    int rc = make_room(r, space, env);
    if (rc < 0)
        return rc;
    rq_recovery_entry *e = &s->e[s->tail++];
    memset(e, 0, sizeof *e);
    e->p = *p;
    e->state = ST_LIVE;
    s->next_pn = p->pn + 1;
    if (!p->in_flight)
        return 0;
    /* RFC 9002 A.5: in-flight packets count toward bytes in flight; an ack-eliciting one moves
     * the PTO reference time and re-arms the timer. */
    s->bytes_in_flight += p->size;
    if (p->ack_eliciting) {
        s->ack_eliciting_in_flight++;
        s->last_ack_eliciting_time = now;
        s->last_ack_eliciting_path = p->path_id;
    }
    if (env)
        rq_recovery_set_timer(r, now, env);
    return 0;
}

/* ---- loss detection (RFC 9002 §6.1) and persistent congestion (§7.6) ---- */

/* One path's search for persistent congestion within one batch of losses. */
typedef struct pc_track {
    uint32_t path;
    bool used, started, declared;
    rq_time start; /* send time of the first ack-eliciting lost packet of the current run */
} pc_track;

static pc_track *pc_find(pc_track *t, uint32_t path, bool add)
{
    for (size_t i = 0; i < RQ_RECOVERY_PC_PATHS; i++)
        if (t[i].used && t[i].path == path)
            return &t[i];
    if (!add)
        return NULL;
    for (size_t i = 0; i < RQ_RECOVERY_PC_PATHS; i++)
        if (!t[i].used) {
            t[i].used = true;
            t[i].path = path;
            return &t[i];
        }
    return NULL; /* more paths than trackers: that path is not evaluated (conservative) */
}

/* An acknowledged packet of `path` sits between losses: RFC 9002 §7.6.2 requires that none of
 * the packets sent between the two losses was acknowledged, so the run starts over. */
static void pc_break(pc_track *t, uint32_t path)
{
    pc_track *k = pc_find(t, path, false);
    if (k)
        k->started = false;
}

static void pc_break_all(pc_track *t)
{
    for (size_t i = 0; i < RQ_RECOVERY_PC_PATHS; i++)
        t[i].started = false;
}

/* A packet was declared lost: does it close a persistent congestion period for its path? */
static void pc_lost(pc_track *t, const rq_recovery_entry *e, const rq_rtt *rtt,
                    const rq_recovery_env *env)
{
    /* RFC 9002 §7.6.2: only ack-eliciting packets bound the period, and only packets sent
     * after the path's first RTT sample count. Packets no longer in flight (detached) belong
     * to no controller. */
    if (!e->p.ack_eliciting || !e->p.in_flight || !rtt->has_sample ||
        e->p.time_sent <= rtt->first_sample_time)
        return;
    pc_track *k = pc_find(t, e->p.path_id, true);
    if (!k)
        return;
    if (!k->started) {
        k->started = true;
        k->start = e->p.time_sent;
        return;
    }
    /* RFC 9002 §7.6.1: the two send times are further apart than the duration. */
    rq_time dur = rq_rtt_persistent_congestion_duration(rtt, env->max_ack_delay);
    if (e->p.time_sent - k->start > dur)
        k->declared = true;
}

static void declare_lost(rq_recovery_space *s, rq_pn_space space, rq_recovery_entry *e, rq_time now,
                         const rq_recovery_env *env)
{
    e->state = ST_GONE;
    settle(s, e);
    if (env->on_lost)
        env->on_lost(env->ctx, space, &e->p, now);
}

/* RFC 9002 A.10 DetectAndRemoveLostPackets, with each packet's own path RTT, plus the
 * persistent congestion check of B.8 over the packets it declares lost. */
static void detect_lost(rq_recovery *r, rq_pn_space space, rq_time now, const rq_recovery_env *env)
{
    rq_recovery_space *s = &r->space[space];
    s->loss_time = RQ_TIME_NEVER;
    if (s->largest_acked == RQ_PN_NONE)
        return;
    rq_rtt fresh;
    rq_rtt_init(&fresh);
    pc_track pc[RQ_RECOVERY_PC_PATHS];
    memset(pc, 0, sizeof pc);
    for (size_t i = s->head; i < s->tail; i++) {
        rq_recovery_entry *e = &s->e[i];
        /* Only packets at or below the largest acknowledged can be declared lost. */
        if (e->p.pn > s->largest_acked)
            break;
        if (e->ack_gap)
            pc_break_all(pc);
        if (e->state == ST_ACKED || e->state == ST_NEWLY_ACKED) {
            pc_break(pc, e->p.path_id);
            continue;
        }
        if (e->state != ST_LIVE)
            continue;
        const rq_rtt *rtt = rtt_of(env, e->p.path_id, &fresh);
        rq_time lost_at = sat_add(e->p.time_sent, rq_rtt_loss_delay(rtt));
        /* RFC 9002 §6.1.1: kPacketThreshold packets acknowledged after it (on its own path:
         * a newer path's ACKs say nothing about an older path's queue); §6.1.2: sent longer
         * than the time threshold before now. */
        uint64_t la = e->p.path_id < RQ_RECOVERY_PC_PATHS ? s->path_largest_acked[e->p.path_id]
                                                          : s->largest_acked;
        bool reordered = la != RQ_PN_NONE && la >= e->p.pn && la - e->p.pn >= RQ_K_PACKET_THRESHOLD;
        if (lost_at <= now || reordered) {
            declare_lost(s, space, e, now, env);
            pc_lost(pc, e, rtt, env);
        } else if (lost_at < s->loss_time) {
            /* RFC 9002 §6.1.2: arm the timer for the earliest packet not yet lost. */
            s->loss_time = lost_at;
        }
    }
    /* RFC 9002 §B.8: the persistent congestion reset follows the congestion event. */
    for (size_t i = 0; i < RQ_RECOVERY_PC_PATHS; i++)
        if (pc[i].declared && env->on_persistent_congestion)
            env->on_persistent_congestion(env->ctx, pc[i].path, now);
}

/* ---- acknowledgments (RFC 9002 A.7) ---- */

/* Checks the whole frame before anything changes. */
static int validate_ack(const rq_recovery_space *s, const rq_frame_ack *ack, uint64_t *largest)
{
    rq_ack_iter it;
    rq_ack_range rg;
    rq_ack_iter_init(&it, ack);
    if (!rq_ack_iter_next(&it, &rg))
        return RQ_ERR_FRAME_ENCODING;
    *largest = rg.largest;
    /* RFC 9000 §13.1: acknowledging a packet never sent is a PROTOCOL_VIOLATION. Ranges are
     * descending, so the first range's largest is the frame's largest. */
    if (rg.largest >= s->next_pn)
        return RQ_ERR_PROTOCOL_VIOLATION;
    while (rq_ack_iter_next(&it, &rg))
        ;
    return it.invalid ? RQ_ERR_FRAME_ENCODING : 0;
}

/* Marks live records covered by the ranges as newly acknowledged and settles them; returns
 * the largest such record (NULL if none) and whether any was ack-eliciting. */
static rq_recovery_entry *mark_acked(rq_recovery_space *s, const rq_frame_ack *ack,
                                     bool *any_ack_eliciting, size_t *lo, size_t *hi)
{
    rq_recovery_entry *largest = NULL;
    rq_ack_iter it;
    rq_ack_range rg;
    rq_ack_iter_init(&it, ack);
    /* Bounded: ranges are disjoint, so each record is visited at most once overall. */
    while (rq_ack_iter_next(&it, &rg)) {
        for (size_t i = lower_bound(s, rg.smallest); i < s->tail && s->e[i].p.pn <= rg.largest;
             i++) {
            rq_recovery_entry *e = &s->e[i];
            if (e->state != ST_LIVE)
                continue;
            e->state = ST_NEWLY_ACKED;
            settle(s, e);
            uint64_t *pl =
                e->p.path_id < RQ_RECOVERY_PC_PATHS ? &s->path_largest_acked[e->p.path_id] : NULL;
            if (pl && (*pl == RQ_PN_NONE || e->p.pn > *pl))
                *pl = e->p.pn;
            *any_ack_eliciting |= e->p.ack_eliciting;
            if (!largest || e->p.pn > largest->p.pn)
                largest = e;
            if (i < *lo)
                *lo = i;
            if (i + 1 > *hi)
                *hi = i + 1;
        }
    }
    return largest;
}

/* Reports the records marked by mark_acked (all within [lo, hi)), in ascending packet number
 * order. */
static void report_acked(rq_recovery_space *s, rq_pn_space space, size_t lo, size_t hi, rq_time now,
                         const rq_recovery_env *env)
{
    for (size_t i = lo; i < hi; i++) {
        rq_recovery_entry *e = &s->e[i];
        if (e->state != ST_NEWLY_ACKED)
            continue;
        e->state = ST_ACKED;
        if (env->on_acked)
            env->on_acked(env->ctx, space, &e->p, now);
    }
}

static void take_rtt_sample(const rq_recovery_entry *largest, rq_pn_space space, rq_time ack_delay,
                            rq_time now, const rq_recovery_env *env)
{
    rq_rtt *rtt = env->path_rtt ? env->path_rtt(env->ctx, largest->p.path_id) : NULL;
    /* RFC 9000 §9.4: a packet of a detached (old) path says nothing about a current path. */
    if (!rtt || largest->detached || now < largest->p.time_sent)
        return;
    /* RFC 9002 §5.3: Initial acknowledgments are not delayed on purpose; ignore the field. */
    if (space == RQ_PN_SPACE_INITIAL)
        ack_delay = 0;
    rq_rtt_update(rtt, now - largest->p.time_sent, ack_delay, env->max_ack_delay,
                  env->handshake_confirmed, now);
}

int rq_recovery_on_ack(rq_recovery *r, rq_pn_space space, const rq_frame_ack *ack,
                       rq_time ack_delay, rq_time now, const rq_recovery_env *env)
{
    if ((unsigned)space > RQ_PN_SPACE_APPLICATION)
        return RQ_ERR_INVALID_ARG;
    rq_recovery_space *s = &r->space[space];
    if (s->discarded)
        return RQ_ERR_INVALID_ARG;
    uint64_t largest_pn;
    int rc = validate_ack(s, ack, &largest_pn);
    if (rc < 0)
        return rc;
    if (s->largest_acked == RQ_PN_NONE || largest_pn > s->largest_acked)
        s->largest_acked = largest_pn;

    bool any_ae = false;
    size_t lo = SIZE_MAX, hi = 0;
    rq_recovery_entry *largest = mark_acked(s, ack, &any_ae, &lo, &hi);
    if (!largest)
        return 0; /* RFC 9002 A.7: nothing newly acknowledged, nothing to do */
    /* RFC 9002 §5.1: a sample only when the largest acknowledged is newly acknowledged and
     * an ack-eliciting packet is among the newly acknowledged. */
    if (largest->p.pn == largest_pn && any_ae)
        take_rtt_sample(largest, space, ack_delay, now, env);
    /* RFC 9002 §B.7: a higher ECN-CE count is a congestion signal for the path of the packet
     * it arrived with. */
    if (ack->ecn_ce > s->ecn_ce) {
        s->ecn_ce = ack->ecn_ce;
        if (env->on_ecn_ce)
            env->on_ecn_ce(env->ctx, largest->p.path_id, largest->p.time_sent, now);
    }
    detect_lost(r, space, now, env);
    report_acked(s, space, lo, hi, now, env);
    /* RFC 9002 §6.2.1: an acknowledgment resets the backoff, except at a client that does
     * not yet know that the server validated its address (§6.2.2.1). */
    if (env->peer_address_validated)
        r->pto_count = 0;
    compact_head(s);
    rq_recovery_set_timer(r, now, env);
    return 0;
}

/* ---- the loss detection timer (RFC 9002 §6.2, A.8, A.9) ---- */

static bool any_ack_eliciting_in_flight(const rq_recovery *r)
{
    for (int i = 0; i < 3; i++)
        if (r->space[i].ack_eliciting_in_flight > 0)
            return true;
    return false;
}

/* RFC 9002 A.8 GetLossTimeAndSpace: the earliest time-threshold deadline. */
static rq_time earliest_loss_time(const rq_recovery *r, rq_pn_space *space)
{
    rq_time t = RQ_TIME_NEVER;
    for (int i = 0; i < 3; i++)
        if (r->space[i].loss_time < t) {
            t = r->space[i].loss_time;
            *space = (rq_pn_space)i;
        }
    return t;
}

/* RFC 9002 A.8 GetPtoTimeAndSpace, with the RTT of the path each space last sent an
 * ack-eliciting packet on. */
static rq_time pto_time(const rq_recovery *r, rq_time now, const rq_recovery_env *env,
                        rq_pn_space *space)
{
    rq_rtt fresh;
    rq_rtt_init(&fresh);
    if (!any_ack_eliciting_in_flight(r)) {
        /* RFC 9002 §6.2.2.1: a client that the server may not have validated keeps a timer
         * running with nothing in flight, from now, so that the server is never stuck behind
         * its anti-amplification limit. */
        *space = env->has_handshake_keys ? RQ_PN_SPACE_HANDSHAKE : RQ_PN_SPACE_INITIAL;
        rq_time d = rq_rtt_pto_base(rtt_of(env, env->active_path, &fresh));
        return sat_add(now, backoff(d, r->pto_count));
    }
    rq_time best = RQ_TIME_NEVER;
    *space = RQ_PN_SPACE_INITIAL;
    for (int i = 0; i < 3; i++) {
        const rq_recovery_space *s = &r->space[i];
        if (s->ack_eliciting_in_flight == 0)
            continue;
        rq_time d = rq_rtt_pto_base(rtt_of(env, s->last_ack_eliciting_path, &fresh));
        if (i == RQ_PN_SPACE_APPLICATION) {
            /* RFC 9002 §6.2.1: no Application PTO before the handshake is confirmed. */
            if (!env->handshake_confirmed)
                break;
            /* RFC 9002 §6.2.1: max_ack_delay only counts where the peer may delay ACKs. */
            d = sat_add(d, env->max_ack_delay);
        }
        /* RFC 9002 §6.2.1: exponential backoff, 2^pto_count. */
        rq_time t = sat_add(s->last_ack_eliciting_time, backoff(d, r->pto_count));
        if (t < best) {
            best = t;
            *space = (rq_pn_space)i;
        }
    }
    return best;
}

void rq_recovery_set_timer(rq_recovery *r, rq_time now, const rq_recovery_env *env)
{
    rq_pn_space sp;
    rq_time t = earliest_loss_time(r, &sp);
    if (t != RQ_TIME_NEVER) {
        r->timer = t; /* RFC 9002 §6.1.2: time-threshold loss detection comes first */
        return;
    }
    /* RFC 9002 §6.2.2.1: a server blocked by the anti-amplification limit arms nothing; it is
     * re-armed when a datagram arrives. */
    if (env->amplification_blocked) {
        r->timer = RQ_TIME_NEVER;
        return;
    }
    /* Nothing to detect, and the peer does not need an anti-deadlock probe from us. */
    if (!any_ack_eliciting_in_flight(r) && env->peer_address_validated) {
        r->timer = RQ_TIME_NEVER;
        return;
    }
    r->timer = pto_time(r, now, env, &sp);
}

rq_time rq_recovery_deadline(const rq_recovery *r)
{
    return r->timer;
}

int rq_recovery_on_timeout(rq_recovery *r, rq_time now, const rq_recovery_env *env,
                           rq_recovery_probe *probe)
{
    memset(probe, 0, sizeof *probe);
    if (r->timer == RQ_TIME_NEVER || now < r->timer)
        return 0;
    rq_pn_space sp = RQ_PN_SPACE_INITIAL;
    if (earliest_loss_time(r, &sp) != RQ_TIME_NEVER) {
        /* RFC 9002 A.9: time-threshold losses; no probe, no backoff. */
        detect_lost(r, sp, now, env);
        compact_head(&r->space[sp]);
        rq_recovery_set_timer(r, now, env);
        return 0;
    }
    /* RFC 9002 §6.2.2.1 / A.8: a server blocked by the anti-amplification limit has no PTO. A
     * timer armed before the limit was reached is cancelled rather than fired: no probe that
     * could not be sent anyway, no backoff. A datagram from the peer re-arms it. */
    if (env->amplification_blocked) {
        r->timer = RQ_TIME_NEVER;
        return 0;
    }
    if (!any_ack_eliciting_in_flight(r)) {
        if (env->peer_address_validated) {
            rq_recovery_set_timer(r, now, env); /* the env changed since the timer was armed */
            return 0;
        }
        /* RFC 9002 §6.2.2.1: anti-deadlock probe: a Handshake packet proves address
         * ownership; without Handshake keys, a padded Initial earns amplification credit. */
        probe->anti_deadlock = true;
        probe->space = env->has_handshake_keys ? RQ_PN_SPACE_HANDSHAKE : RQ_PN_SPACE_INITIAL;
        probe->count = 1;
    } else {
        rq_time t = pto_time(r, now, env, &sp);
        if (t == RQ_TIME_NEVER) { /* e.g. only Application data, handshake not confirmed */
            rq_recovery_set_timer(r, now, env);
            return 0;
        }
        /* RFC 9002 §6.2.4: at least one, up to two, ack-eliciting probes in that space. */
        probe->space = sp;
        probe->count = 2;
    }
    r->pto_count++;
    rq_recovery_set_timer(r, now, env);
    return 0;
}

/* ---- discarding state (RFC 9002 §6.4; RFC 9000 §9.4) ---- */

int rq_recovery_discard_space(rq_recovery *r, rq_pn_space space, rq_time now,
                              const rq_recovery_env *env)
{
    /* RFC 9002 §6.4: only Initial and Handshake keys are discarded with their state. */
    if (space != RQ_PN_SPACE_INITIAL && space != RQ_PN_SPACE_HANDSHAKE)
        return RQ_ERR_INVALID_ARG;
    rq_recovery_space *s = &r->space[space];
    for (size_t i = s->head; i < s->tail; i++) {
        rq_recovery_entry *e = &s->e[i];
        if (e->state != ST_LIVE)
            continue;
        e->state = ST_GONE;
        settle(s, e);
        if (env->on_discarded)
            env->on_discarded(env->ctx, space, &e->p);
    }
    uint64_t next = s->next_pn, largest = s->largest_acked;
    space_reset(s);
    s->next_pn = next;
    s->largest_acked = largest;
    s->path_largest_acked[0] = largest;
    s->discarded = true;
    /* RFC 9002 A.11: the backoff restarts and the timer is re-armed without this space. */
    r->pto_count = 0;
    rq_recovery_set_timer(r, now, env);
    return 0;
}

/* The newest ack-eliciting record still in flight sets the space's PTO reference. */
static void refresh_last_ack_eliciting(rq_recovery_space *s)
{
    for (size_t i = s->tail; i > s->head; i--) {
        const rq_recovery_entry *e = &s->e[i - 1];
        if (e->state == ST_LIVE && e->p.in_flight && e->p.ack_eliciting) {
            s->last_ack_eliciting_time = e->p.time_sent;
            s->last_ack_eliciting_path = e->p.path_id;
            return;
        }
    }
}

void rq_recovery_detach_path(rq_recovery *r, uint32_t path_id, rq_time now,
                             const rq_recovery_env *env, uint64_t *bytes)
{
    uint64_t total = 0;
    for (int sp = 0; sp < 3; sp++) {
        rq_recovery_space *s = &r->space[sp];
        for (size_t i = s->head; i < s->tail; i++) {
            rq_recovery_entry *e = &s->e[i];
            if (e->state != ST_LIVE || e->p.path_id != path_id)
                continue;
            /* RFC 9000 §9.4: the old path's packets no longer count in flight nor give RTT
             * samples, but their acknowledgment or loss is still reported. */
            e->detached = true;
            if (e->p.in_flight) {
                total += e->p.size;
                settle(s, e);
                e->p.in_flight = false;
            }
        }
        refresh_last_ack_eliciting(s);
    }
    if (bytes)
        *bytes = total;
    rq_recovery_set_timer(r, now, env);
}

void rq_recovery_move_path(rq_recovery *r, uint32_t from, uint32_t to, uint64_t *bytes)
{
    uint64_t total = 0;
    for (int sp = 0; sp < 3; sp++) {
        rq_recovery_space *s = &r->space[sp];
        for (size_t i = s->head; i < s->tail; i++) {
            rq_recovery_entry *e = &s->e[i];
            if (e->state != ST_LIVE || e->p.path_id != from)
                continue;
            e->p.path_id = to;
            if (e->p.in_flight)
                total += e->p.size;
        }
        if (from < RQ_RECOVERY_PC_PATHS && to < RQ_RECOVERY_PC_PATHS &&
            s->path_largest_acked[from] != RQ_PN_NONE &&
            (s->path_largest_acked[to] == RQ_PN_NONE ||
             s->path_largest_acked[from] > s->path_largest_acked[to]))
            s->path_largest_acked[to] = s->path_largest_acked[from];
        if (s->last_ack_eliciting_path == from)
            s->last_ack_eliciting_path = to;
    }
    *bytes = total;
}

void rq_recovery_lose_path(rq_recovery *r, uint32_t path_id, rq_time now,
                           const rq_recovery_env *env)
{
    for (int sp = 0; sp < 3; sp++) {
        rq_recovery_space *s = &r->space[sp];
        for (size_t i = s->head; i < s->tail; i++)
            if (s->e[i].state == ST_LIVE && s->e[i].p.path_id == path_id)
                declare_lost(s, (rq_pn_space)sp, &s->e[i], now, env);
        refresh_last_ack_eliciting(s);
    }
    rq_recovery_set_timer(r, now, env);
}

/* ---- queries ---- */

uint64_t rq_recovery_bytes_in_flight(const rq_recovery *r, rq_pn_space space)
{
    return (unsigned)space <= RQ_PN_SPACE_APPLICATION ? r->space[space].bytes_in_flight : 0;
}

uint64_t rq_recovery_path_bytes_in_flight(const rq_recovery *r, uint32_t path_id)
{
    uint64_t total = 0;
    for (int sp = 0; sp < 3; sp++) {
        const rq_recovery_space *s = &r->space[sp];
        for (size_t i = s->head; i < s->tail; i++)
            if (s->e[i].state == ST_LIVE && s->e[i].p.in_flight && s->e[i].p.path_id == path_id)
                total += s->e[i].p.size;
    }
    return total;
}

bool rq_recovery_ack_eliciting_in_flight(const rq_recovery *r)
{
    return any_ack_eliciting_in_flight(r);
}

uint64_t rq_recovery_largest_acked(const rq_recovery *r, rq_pn_space space)
{
    return (unsigned)space <= RQ_PN_SPACE_APPLICATION ? r->space[space].largest_acked : RQ_PN_NONE;
}

unsigned rq_recovery_pto_count(const rq_recovery *r)
{
    return r->pto_count;
}

bool rq_recovery_find(const rq_recovery *r, rq_pn_space space, uint64_t pn, rq_sent_packet *out)
{
    if ((unsigned)space > RQ_PN_SPACE_APPLICATION)
        return false;
    const rq_recovery_space *s = &r->space[space];
    size_t i = lower_bound(s, pn);
    if (i >= s->tail || s->e[i].p.pn != pn || s->e[i].state != ST_LIVE)
        return false;
    *out = s->e[i].p;
    return true;
}

static int check_space(const rq_recovery_space *s)
{
    uint64_t bytes = 0, ae = 0;
    if (s->head > s->tail || s->tail > s->cap)
        return RQ_ERR_INTERNAL;
    for (size_t i = s->head; i < s->tail; i++) {
        const rq_recovery_entry *e = &s->e[i];
        if ((i > s->head && e->p.pn <= s->e[i - 1].p.pn) || e->p.pn >= s->next_pn)
            return RQ_ERR_INTERNAL;
        if (e->state == ST_NEWLY_ACKED)
            return RQ_ERR_INTERNAL; /* only exists inside rq_recovery_on_ack */
        if (e->state != ST_LIVE || !e->p.in_flight)
            continue;
        bytes += e->p.size;
        ae += e->p.ack_eliciting;
    }
    return bytes == s->bytes_in_flight && ae == s->ack_eliciting_in_flight ? 0 : RQ_ERR_INTERNAL;
}

int rq_recovery_check(const rq_recovery *r)
{
    for (int sp = 0; sp < 3; sp++) {
        int rc = check_space(&r->space[sp]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
