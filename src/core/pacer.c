/* Pacing (pacer.h). */
#include "core/pacer.h"

/* How far the pacer may fall behind a sender that woke late: a timer that fires 1 ms late
 * (an epoll timeout is rounded to the millisecond) may catch up on what that millisecond was
 * owed, in a burst of at most RQ_PACER_MAX_BURST packets. A pause longer than that is not
 * banked: the next packet leaves at once, the ones after it at the paced rate. */
#define RQ_PACER_CATCH_UP  RQ_MS
#define RQ_PACER_MAX_BURST 64

void rq_pacer_on_sent(rq_pacer *p, rq_time now, uint64_t cwnd, rq_time srtt, size_t bytes)
{
    /* RFC 9002 §7.7: interval = smoothed_rtt * bytes / (N * cwnd), N = 1.25. */
    rq_time interval =
        cwnd ? (rq_time)((double)srtt * (double)bytes * 4.0 / (5.0 * (double)cwnd)) : 0;
    rq_time lag = RQ_PACER_MAX_BURST * interval < RQ_PACER_CATCH_UP ? RQ_PACER_MAX_BURST * interval
                                                                    : RQ_PACER_CATCH_UP;
    if (lag >= interval) /* only a lag worth a whole packet is a burst; else none at all */
        lag -= interval;
    else
        lag = 0;
    if (p->next + lag < now)
        p->next = now - lag;
    p->next += interval;
}
