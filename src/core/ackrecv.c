/* Received packet numbers and ACK scheduling (RFC 9000 §13.2, §12.3). */
#include <assert.h>
#include <string.h>

#include "core/ackrecv.h"

void rq_ackrecv_init(rq_ackrecv *a, rq_pn_space space, rq_time max_ack_delay)
{
    memset(a, 0, sizeof *a);
    a->largest = RQ_PN_NONE;
    a->largest_ack_eliciting = RQ_PN_NONE;
    a->deadline = RQ_TIME_NEVER;
    a->max_ack_delay = max_ack_delay;
    a->space = space;
}

/* Index of the first range (in descending order) whose smallest is <= pn; nranges if none.
 * Linear: at most RQ_ACKRECV_MAX_RANGES steps. */
static size_t range_at_or_below(const rq_ackrecv *a, uint64_t pn)
{
    size_t i = 0;
    while (i < a->nranges && a->ranges[i].smallest > pn)
        i++;
    return i;
}

bool rq_ackrecv_is_duplicate(const rq_ackrecv *a, uint64_t pn)
{
    /* RFC 9000 §12.3: everything below the floor is dropped as if already processed. */
    if (pn < a->floor)
        return true;
    size_t i = range_at_or_below(a, pn);
    return i < a->nranges && pn <= a->ranges[i].largest;
}

static void remove_range(rq_ackrecv *a, size_t i)
{
    memmove(&a->ranges[i], &a->ranges[i + 1], (a->nranges - i - 1) * sizeof a->ranges[0]);
    a->nranges--;
}

static void raise_floor(rq_ackrecv *a, uint64_t floor)
{
    if (floor > a->floor)
        a->floor = floor;
}

/* Adds pn (not a duplicate) to the ranges, merging with neighbours. At the cap, the oldest
 * range gives way and the floor rises above it (RFC 9000 §13.2.3). */
static void insert(rq_ackrecv *a, uint64_t pn)
{
    size_t i = range_at_or_below(a, pn);
    bool below = i < a->nranges && a->ranges[i].largest + 1 == pn;
    bool above = i > 0 && a->ranges[i - 1].smallest == pn + 1;
    if (below && above) {
        a->ranges[i - 1].smallest = a->ranges[i].smallest;
        remove_range(a, i);
        return;
    }
    if (below) {
        a->ranges[i].largest = pn;
        return;
    }
    if (above) {
        a->ranges[i - 1].smallest = pn;
        return;
    }
    if (a->nranges == RQ_ACKRECV_MAX_RANGES) {
        if (i == a->nranges) {
            /* Older than every range we keep: it cannot be stored, so it joins the floor. */
            raise_floor(a, pn + 1);
            return;
        }
        raise_floor(a, a->ranges[a->nranges - 1].largest + 1);
        a->nranges--;
    }
    memmove(&a->ranges[i + 1], &a->ranges[i], (a->nranges - i) * sizeof a->ranges[0]);
    a->ranges[i].smallest = a->ranges[i].largest = pn;
    a->nranges++;
}

/* Whether every packet number from `from` up to pn is recorded (pn itself just was). */
static bool contiguous_from(const rq_ackrecv *a, uint64_t from, uint64_t pn)
{
    size_t i = range_at_or_below(a, pn);
    return i < a->nranges && pn <= a->ranges[i].largest && a->ranges[i].smallest <= from;
}

int rq_ackrecv_on_packet(rq_ackrecv *a, uint64_t pn, bool ack_eliciting, rq_time now)
{
    if (pn > RQ_PN_MAX)
        return RQ_ERR_INVALID_ARG;
    if (rq_ackrecv_is_duplicate(a, pn))
        return 0;
    insert(a, pn);
    if (pn < a->report_floor)
        a->report_floor = pn;
    if (a->largest == RQ_PN_NONE || pn > a->largest) {
        a->largest = pn;
        a->largest_time = now; /* RFC 9000 §13.2.5: ACK Delay is measured from here */
    }
    a->unreported = true;
    if (!ack_eliciting)
        return 0; /* RFC 9000 §13.2.1: non-ack-eliciting packets alone never trigger an ACK */

    uint64_t lae = a->largest_ack_eliciting;
    /* RFC 9000 §13.2.1: acknowledge at once an ack-eliciting packet that arrives below
     * another ack-eliciting one, or above it with missing packets in between. */
    bool reordered = lae != RQ_PN_NONE && pn < lae;
    bool gap = lae != RQ_PN_NONE && pn > lae + 1 && !contiguous_from(a, lae + 1, pn);
    if (lae == RQ_PN_NONE || pn > lae)
        a->largest_ack_eliciting = pn;
    a->ack_eliciting_unacked++;
    /* RFC 9000 §13.2.1: Initial and Handshake ack-eliciting packets are acknowledged
     * immediately; §13.2.2: 1-RTT after the second ack-eliciting packet, else within
     * max_ack_delay. */
    bool now_due = a->space != RQ_PN_SPACE_APPLICATION || reordered || gap ||
                   a->ack_eliciting_unacked >= RQ_ACKRECV_ACK_ELICITING_THRESHOLD;
    rq_time due = now_due                                  ? now
                  : now > RQ_TIME_NEVER - a->max_ack_delay ? RQ_TIME_NEVER
                                                           : now + a->max_ack_delay;
    if (due < a->deadline)
        a->deadline = due;
    return 0;
}

rq_time rq_ackrecv_deadline(const rq_ackrecv *a)
{
    return a->deadline;
}

bool rq_ackrecv_wants_ack(const rq_ackrecv *a)
{
    return a->unreported && a->nranges > 0;
}

uint64_t rq_ack_delay_encode(rq_time delay, unsigned exponent)
{
    if (exponent > RQ_ACK_DELAY_EXPONENT_MAX)
        exponent = RQ_ACK_DELAY_EXPONENT_MAX;
    return (delay / 1000) >> exponent;
}

rq_time rq_ack_delay_decode(uint64_t field, unsigned exponent)
{
    if (exponent > RQ_ACK_DELAY_EXPONENT_MAX)
        exponent = RQ_ACK_DELAY_EXPONENT_MAX;
    /* field < 2^62 and exponent <= 20: check before each multiplication. */
    if (field > (RQ_TIME_NEVER >> exponent) / 1000)
        return RQ_TIME_NEVER;
    return (field << exponent) * 1000;
}

int rq_ackrecv_build(const rq_ackrecv *a, rq_time now, unsigned ack_delay_exponent,
                     rq_ack_range *out, size_t out_cap, rq_frame_ack *f)
{
    if (out_cap == 0 || ack_delay_exponent > RQ_ACK_DELAY_EXPONENT_MAX)
        return RQ_ERR_INVALID_ARG;
    size_t live = 0;
    while (live < a->nranges && a->ranges[live].largest >= a->report_floor)
        live++;
    if (live == 0)
        return RQ_ERR_AGAIN;
    /* RFC 9000 §13.2.3: when not all ranges fit, the newest ones are kept. */
    size_t n = live < out_cap ? live : out_cap;
    memcpy(out, a->ranges, n * sizeof out[0]);
    if (out[n - 1].smallest < a->report_floor)
        out[n - 1].smallest = a->report_floor;
    /* The first range always holds the largest received (RFC 9000 §13.2.3 SHOULD). */
    assert(out[0].largest == a->largest);
    memset(f, 0, sizeof *f);
    f->largest = out[0].largest;
    f->ranges = out;
    f->ranges_count = n;
    f->ack_delay =
        now > a->largest_time ? rq_ack_delay_encode(now - a->largest_time, ack_delay_exponent) : 0;
    return 0;
}

void rq_ackrecv_on_ack_sent(rq_ackrecv *a)
{
    a->ack_eliciting_unacked = 0;
    a->unreported = false;
    a->deadline = RQ_TIME_NEVER;
}

void rq_ackrecv_on_ack_acked(rq_ackrecv *a, uint64_t largest_acked)
{
    /* We never acknowledged beyond our largest; a larger value is a caller bug, capped. */
    if (a->largest == RQ_PN_NONE)
        return;
    if (largest_acked > a->largest)
        largest_acked = a->largest;
    /* RFC 9000 §13.2.4: the peer has seen everything up to largest_acked acknowledged. */
    if (largest_acked + 1 > a->report_floor)
        a->report_floor = largest_acked + 1;
}

uint64_t rq_ackrecv_largest(const rq_ackrecv *a)
{
    return a->largest;
}
