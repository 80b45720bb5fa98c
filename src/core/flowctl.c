/* Flow-control credit accounting. */
#include "core/flowctl.h"

#include <assert.h>

#include <roamquic/error.h>

#include "core/wire.h"

void rq_flow_tx_init(rq_flow_tx *fc, uint64_t initial_limit)
{
    fc->limit = initial_limit;
    fc->sent = 0;
    fc->blocked_at = UINT64_MAX;
    fc->blocked_due = false;
}

bool rq_flow_tx_on_max(rq_flow_tx *fc, uint64_t max)
{
    /* RFC 9000 §4.1: a limit never goes down; smaller values are stale and ignored. */
    if (max <= fc->limit)
        return false;
    fc->limit = max;
    fc->blocked_due = false; /* the old BLOCKED value is moot now */
    return true;
}

void rq_flow_tx_consume(rq_flow_tx *fc, uint64_t n)
{
    assert(n <= rq_flow_tx_credit(fc));
    fc->sent += n;
}

void rq_flow_tx_note_blocked(rq_flow_tx *fc)
{
    /* RFC 9000 §4.1: signal blocking at a given limit once, not on every attempt. */
    if (fc->sent < fc->limit || fc->blocked_at == fc->limit)
        return;
    fc->blocked_at = fc->limit;
    fc->blocked_due = true;
}

bool rq_flow_tx_blocked_due(const rq_flow_tx *fc, uint64_t *limit)
{
    if (!fc->blocked_due)
        return false;
    *limit = fc->limit;
    return true;
}

void rq_flow_tx_on_blocked_sent(rq_flow_tx *fc, uint64_t limit)
{
    if (limit == fc->limit)
        fc->blocked_due = false;
}

void rq_flow_tx_on_blocked_lost(rq_flow_tx *fc, uint64_t limit)
{
    /* RFC 9000 §13.3: resent only while the sender is still blocked at that limit. */
    if (limit == fc->limit && fc->sent >= fc->limit)
        fc->blocked_due = true;
}

void rq_flow_rx_init(rq_flow_rx *fc, uint64_t window, uint64_t window_max)
{
    fc->limit = window;
    fc->received = 0;
    fc->consumed = 0;
    fc->window = window;
    fc->window_max = window_max < window ? window : window_max;
    fc->last_update = RQ_TIME_NEVER;
    fc->resend = false;
}

int rq_flow_rx_on_data(rq_flow_rx *fc, uint64_t end)
{
    /* RFC 9000 §4.1: data beyond the advertised limit is a FLOW_CONTROL_ERROR. */
    if (end > fc->limit)
        return RQ_ERR_FLOW_CONTROL;
    if (end > fc->received)
        fc->received = end;
    return 0;
}

void rq_flow_rx_consume(rq_flow_rx *fc, uint64_t n)
{
    assert(n <= fc->received - fc->consumed);
    fc->consumed += n;
}

bool rq_flow_rx_update_due(const rq_flow_rx *fc)
{
    if (fc->resend)
        return true;
    /* Half the window consumed: the peer has half a window of credit left, enough to keep
     * sending for the round trip the update takes. */
    return fc->limit - fc->consumed <= fc->window / 2 && fc->limit < RQ_VARINT_MAX;
}

/* The window the next update uses: doubled when updates come faster than every 2 RTTs,
 * i.e. the reader drains half a window per 2 RTTs or faster and the window, not the reader,
 * limits the rate. */
static uint64_t tuned_window(const rq_flow_rx *fc, rq_time now, rq_time rtt)
{
    uint64_t w = fc->window;
    if (fc->last_update == RQ_TIME_NEVER || rtt == 0 || now < fc->last_update)
        return w;
    if (now - fc->last_update < 2 * rtt && w < fc->window_max)
        w = w > fc->window_max / 2 ? fc->window_max : w * 2;
    return w;
}

uint64_t rq_flow_rx_next_limit(const rq_flow_rx *fc, rq_time now, rq_time rtt)
{
    uint64_t w = tuned_window(fc, now, rtt);
    uint64_t lim = w > RQ_VARINT_MAX - fc->consumed ? RQ_VARINT_MAX : fc->consumed + w;
    return lim > fc->limit ? lim : fc->limit;
}

void rq_flow_rx_on_update_sent(rq_flow_rx *fc, uint64_t limit, rq_time now)
{
    if (limit > fc->limit) {
        uint64_t w = limit - fc->consumed;
        if (w > fc->window)
            fc->window = w > fc->window_max ? fc->window_max : w;
        fc->limit = limit;
        fc->last_update = now;
    }
    if (limit == fc->limit)
        fc->resend = false;
}

void rq_flow_rx_on_update_lost(rq_flow_rx *fc, uint64_t limit)
{
    /* RFC 9000 §13.3: only the most recent limit is worth resending. */
    if (limit == fc->limit)
        fc->resend = true;
}
