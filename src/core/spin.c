/* The latency spin bit (RFC 9000 §17.4) and the per-path flow-label key: see spin.h. */
#include "core/spin.h"

#include "core/conn.h"
#include "core/endpoint.h"
#include "core/flowlabel.h"
#include "core/packet.h"

#include <string.h>

#ifdef RQ_TEST_HOOKS
static int test_force;

void rq_spin_test_force(int mode)
{
    test_force = mode;
}
#endif

void rq_spin_restart(rq_spin *s, const rq_cid *cid, uint8_t rnd)
{
    s->started = true;
    s->cid = *cid;
    s->disabled = rnd < RQ_SPIN_DISABLE_IN_256;
#ifdef RQ_TEST_HOOKS
    if (test_force)
        s->disabled = test_force < 0;
#endif
    /* §17.4: 0 on each new path and CID; a disabled one sends a random constant. */
    s->value = s->disabled && (rnd & 1);
}

void rq_spin_on_recv(rq_spin *s, rq_role role, uint64_t pn, bool bit)
{
    if (s->has_largest && pn <= s->largest_pn)
        return; /* not the highest-numbered packet on the path: reordered or late */
    s->has_largest = true;
    s->largest_pn = pn;
    if (s->disabled)
        return; /* §17.4: a disabled endpoint ignores the incoming value */
    s->value = role == RQ_ROLE_SERVER ? bit : !bit;
}

/* Whether this endpoint lets the spin bit spin at all (rq_transport_settings). */
static bool rq_conn_spin_allowed(const rq_conn *c)
{
    /* RFC 9000 §17.4: spinning can be turned off by configuration. */
    return !c->ep->cfg->transport.disable_spin_bit;
}

rq_spin *rq_conn_spin_sync(rq_conn *c, rq_path *p)
{
    rq_spin *s = &p->spin;
    const rq_cid *cid = rq_conn_path_dcid(c, p);
    if (s->started && rq_cid_eq(&s->cid, cid))
        return s;
    uint8_t rnd[1 + RQ_SIPHASH_KEY_LEN];
    bool first = !s->started;
    /* A failed draw (the injected source erred) disables spinning with value 0; the flow key
     * is then all-zero for the path's life: labels stay valid but become linkable. */
    if (rq_ep_random(c->ep, rnd, first ? sizeof rnd : 1) != 0)
        memset(rnd, 0, sizeof rnd);
    if (first)
        memcpy(s->flow_key, rnd + 1, RQ_SIPHASH_KEY_LEN);
    else
        s->restarts++;
    rq_spin_restart(s, cid, rnd[0]);
    if (!rq_conn_spin_allowed(c)) {
        s->disabled = true;
        s->value = false;
    }
    return s;
}

bool rq_conn_spin_tx(rq_conn *c, rq_path *p)
{
    return rq_spin_value(rq_conn_spin_sync(c, p));
}

void rq_conn_spin_on_recv(rq_conn *c, rq_path *p, uint64_t pn, uint8_t first)
{
    rq_spin_on_recv(rq_conn_spin_sync(c, p), c->role, pn, (first & RQ_HDR_SPIN_BIT) != 0);
}

uint32_t rq_conn_flow_label(rq_conn *c, rq_path *p)
{
    rq_spin *s = rq_conn_spin_sync(c, p);
    return rq_flow_label(s->flow_key, &p->addr, rq_conn_path_dcid(c, p));
}
