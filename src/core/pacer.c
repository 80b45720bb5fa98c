/* Pacing (pacer.h). */
#include "core/pacer.h"

void rq_pacer_on_sent(rq_pacer *p, rq_time now, uint64_t cwnd, rq_time srtt, size_t bytes)
{
    if (p->next < now)
        p->next = now;
    /* RFC 9002 §7.7: interval = smoothed_rtt * bytes / (N * cwnd), N = 1.25. */
    if (cwnd)
        p->next += (rq_time)((double)srtt * (double)bytes * 4.0 / (5.0 * (double)cwnd));
}
