/* Connection IDs issued and received (RFC 9000 §5.1, §19.15, §19.16). */
#include "core/cids.h"

#include "core/reset.h"

#include <roamquic/error.h>
#include <string.h>

void rq_cids_init(rq_cids *c, uint64_t local_limit)
{
    memset(c, 0, sizeof *c);
    c->local_limit = local_limit < RQ_CIDS_MAX_PEER ? local_limit : RQ_CIDS_MAX_PEER;
}

void rq_cids_set_local0(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    rq_local_cid *l = &c->local[0];
    memset(l, 0, sizeof *l);
    l->cid = *cid;
    memcpy(l->token, token, RQ_RESET_TOKEN_LEN);
    l->acked = true; /* RFC 9000 §5.1.1: the handshake carried it, as sequence 0 */
    if (c->nlocal == 0)
        c->nlocal = 1;
    if (c->next_seq == 0)
        c->next_seq = 1;
}

void rq_cids_set_peer0(rq_cids *c, const rq_cid *cid, const uint8_t *token)
{
    rq_peer_cid *p = &c->peer[0];
    memset(p, 0, sizeof *p);
    p->cid = *cid;
    if (token) {
        memcpy(p->token, token, RQ_RESET_TOKEN_LEN);
        p->has_token = true;
    }
    p->path = 0; /* the handshake's path sends with it */
    if (c->npeer == 0)
        c->npeer = 1;
}

bool rq_cids_path_dcid(const rq_cids *c, int path_id, rq_cid *out)
{
    for (size_t i = 0; i < c->npeer; i++)
        if (c->peer[i].path == path_id) {
            *out = c->peer[i].cid;
            return true;
        }
    return false;
}

int rq_cids_take_unused(rq_cids *c, int path_id, rq_cid *out)
{
    rq_peer_cid *best = NULL;
    for (size_t i = 0; i < c->npeer; i++)
        if (c->peer[i].path < 0 && (!best || c->peer[i].seq < best->seq))
            best = &c->peer[i];
    if (!best)
        return RQ_ERR_AGAIN;
    best->path = path_id;
    *out = best->cid;
    return 0;
}

size_t rq_cids_spare(const rq_cids *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->npeer; i++)
        n += c->peer[i].path < 0;
    return n;
}

size_t rq_cids_room(const rq_cids *c, uint64_t peer_limit)
{
    /* RFC 9000 §5.1.1: never more active than the peer's active_connection_id_limit; those
     * below our Retire Prior To do not count (they may exceed it until retired). */
    size_t active = 0;
    for (size_t i = 0; i < c->nlocal; i++)
        active += c->local[i].seq >= c->local_rpt;
    /* Half the table at most, so that a rotation always has room for a full new set. */
    uint64_t limit = peer_limit < RQ_CIDS_MAX_LOCAL / 2 ? peer_limit : RQ_CIDS_MAX_LOCAL / 2;
    size_t room = limit > active ? (size_t)(limit - active) : 0;
    size_t free_slots = RQ_CIDS_MAX_LOCAL - c->nlocal;
    return room < free_slots ? room : free_slots;
}

int rq_cids_rotate(rq_cids *c)
{
    for (size_t i = 0; i < c->nlocal; i++)
        if (c->local[i].seq < c->local_rpt)
            return RQ_ERR_AGAIN;
    c->local_rpt = c->next_seq;
    return 0;
}

int rq_cids_issue(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    if (c->nlocal >= RQ_CIDS_MAX_LOCAL)
        return RQ_ERR_LIMIT;
    rq_local_cid *l = &c->local[c->nlocal++];
    memset(l, 0, sizeof *l);
    /* RFC 9000 §5.1.1: each new CID's sequence number is one more than the last. */
    l->seq = c->next_seq++;
    l->cid = *cid;
    memcpy(l->token, token, RQ_RESET_TOKEN_LEN);
    l->send_pending = true;
    return 0;
}

int rq_cids_issue_in_tp(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    int rc = rq_cids_issue(c, cid, token);
    if (rc)
        return rc;
    c->local[c->nlocal - 1].send_pending = false;
    c->local[c->nlocal - 1].acked = true; /* it travels in the handshake */
    return 0;
}

static rq_local_cid *find_local(rq_cids *c, uint64_t seq)
{
    for (size_t i = 0; i < c->nlocal; i++)
        if (c->local[i].seq == seq)
            return &c->local[i];
    return NULL;
}

int rq_cids_on_retire(rq_cids *c, uint64_t seq, const rq_cid *pkt_dcid, rq_cid *retired,
                      bool *found)
{
    *found = false;
    /* RFC 9000 §19.16: a sequence number we never issued is a PROTOCOL_VIOLATION. */
    if (seq >= c->next_seq)
        return RQ_ERR_PROTOCOL_VIOLATION;
    rq_local_cid *l = find_local(c, seq);
    if (!l)
        return 0; /* already retired: a repeat is harmless */
    /* §19.16: it may not retire the CID the packet carrying it was sent to. */
    if (rq_cid_eq(&l->cid, pkt_dcid))
        return RQ_ERR_PROTOCOL_VIOLATION;
    *retired = l->cid;
    *found = true;
    size_t i = (size_t)(l - c->local);
    memmove(&c->local[i], &c->local[i + 1], (c->nlocal - i - 1) * sizeof c->local[0]);
    c->nlocal--;
    return 0;
}

static bool retiring_has(const rq_cids *c, uint64_t seq)
{
    for (size_t i = 0; i < c->nretiring; i++)
        if (c->retiring[i].seq == seq)
            return true;
    return false;
}

/* Queues a RETIRE_CONNECTION_ID for seq (once). */
static int queue_retire(rq_cids *c, uint64_t seq)
{
    if (retiring_has(c, seq))
        return 0;
    /* RFC 9000 §5.1.2: tracking is bounded; going past it may be a CONNECTION_ID_LIMIT_ERROR
     * rather than forgetting a CID without retiring it. */
    if (c->nretiring >= RQ_CIDS_MAX_RETIRING)
        return RQ_ERR_CONNECTION_ID_LIMIT;
    c->retiring[c->nretiring].seq = seq;
    c->retiring[c->nretiring].send_pending = true;
    c->nretiring++;
    return 0;
}

static void remove_peer(rq_cids *c, size_t i)
{
    memmove(&c->peer[i], &c->peer[i + 1], (c->npeer - i - 1) * sizeof c->peer[0]);
    c->npeer--;
}

/* Retires every peer CID below rpt (RFC 9000 §5.1.2), noting the paths that lose theirs. */
static int retire_below(rq_cids *c, uint64_t rpt, uint32_t *orphaned)
{
    for (size_t i = 0; i < c->npeer;) {
        if (c->peer[i].seq >= rpt) {
            i++;
            continue;
        }
        int rc = queue_retire(c, c->peer[i].seq);
        if (rc)
            return rc;
        if (c->peer[i].path >= 0 && c->peer[i].path < 32)
            *orphaned |= 1u << c->peer[i].path;
        remove_peer(c, i);
    }
    return 0;
}

int rq_cids_retire_path(rq_cids *c, int path_id)
{
    for (size_t i = 0; i < c->npeer;) {
        if (c->peer[i].path != path_id) {
            i++;
            continue;
        }
        int rc = queue_retire(c, c->peer[i].seq);
        if (rc)
            return rc;
        remove_peer(c, i);
    }
    return 0;
}

void rq_cids_hand_over(rq_cids *c, int from, int to)
{
    for (size_t i = 0; i < c->npeer; i++)
        if (c->peer[i].path == from)
            c->peer[i].path = to;
}

/* Checks a NEW_CONNECTION_ID against what we hold: 1 = an exact repeat, 0 = new, or an
 * error. */
static int check_conflicts(const rq_cids *c, uint64_t seq, const rq_cid *cid,
                           const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    for (size_t i = 0; i < c->npeer; i++) {
        const rq_peer_cid *p = &c->peer[i];
        bool same_cid = rq_cid_eq(&p->cid, cid);
        if (p->seq == seq) {
            /* RFC 9000 §19.15: a repeat of the same frame is fine; the same sequence number
             * with other contents is not. */
            bool same_token = !p->has_token || memcmp(p->token, token, RQ_RESET_TOKEN_LEN) == 0;
            return same_cid && same_token ? 1 : RQ_ERR_PROTOCOL_VIOLATION;
        }
        if (same_cid)
            return RQ_ERR_PROTOCOL_VIOLATION; /* one CID value, two sequence numbers */
    }
    return 0;
}

int rq_cids_on_new(rq_cids *c, uint64_t seq, uint64_t rpt, const rq_cid *cid,
                   const uint8_t token[RQ_RESET_TOKEN_LEN], uint32_t *orphaned)
{
    *orphaned = 0;
    int rc = check_conflicts(c, seq, cid, token);
    if (rc)
        return rc < 0 ? rc : 0;
    /* RFC 9000 §19.15: a Retire Prior To not above the largest seen changes nothing. */
    if (rpt > c->peer_rpt) {
        c->peer_rpt = rpt;
        rc = retire_below(c, rpt, orphaned);
        if (rc)
            return rc;
    }
    if (seq < c->peer_rpt) {
        /* §19.15: a CID already covered by Retire Prior To is retired at once, not used. */
        rc = queue_retire(c, seq);
        if (rc)
            return rc;
    } else {
        /* §5.1.1: more active CIDs than we allow is a CONNECTION_ID_LIMIT_ERROR. */
        if (c->npeer >= c->local_limit || c->npeer >= RQ_CIDS_MAX_PEER)
            return RQ_ERR_CONNECTION_ID_LIMIT;
        rq_peer_cid *p = &c->peer[c->npeer++];
        p->seq = seq;
        p->cid = *cid;
        memcpy(p->token, token, RQ_RESET_TOKEN_LEN);
        p->has_token = true;
        p->path = -1;
    }
    return 0;
}

bool rq_cids_reset_matches(const rq_cids *c, const uint8_t *dg, size_t len)
{
    bool match = false;
    for (size_t i = 0; i < c->npeer; i++)
        if (c->peer[i].has_token && rq_reset_matches(dg, len, c->peer[i].token))
            match = true;
    return match;
}

bool rq_cids_next_new(const rq_cids *c, rq_frame *f)
{
    for (size_t i = 0; i < c->nlocal; i++) {
        const rq_local_cid *l = &c->local[i];
        if (!l->send_pending)
            continue;
        memset(f, 0, sizeof *f);
        f->type = RQ_FT_NEW_CONNECTION_ID;
        f->new_cid.seq = l->seq;
        f->new_cid.retire_prior_to = c->local_rpt;
        f->new_cid.cid = l->cid;
        memcpy(f->new_cid.reset_token, l->token, RQ_RESET_TOKEN_LEN);
        return true;
    }
    return false;
}

bool rq_cids_next_retire(const rq_cids *c, rq_frame *f)
{
    for (size_t i = 0; i < c->nretiring; i++) {
        if (!c->retiring[i].send_pending)
            continue;
        memset(f, 0, sizeof *f);
        f->type = RQ_FT_RETIRE_CONNECTION_ID;
        f->retire_cid.seq = c->retiring[i].seq;
        return true;
    }
    return false;
}

void rq_cids_on_new_sent(rq_cids *c, uint64_t seq)
{
    rq_local_cid *l = find_local(c, seq);
    if (l)
        l->send_pending = false;
}

void rq_cids_on_new_acked(rq_cids *c, uint64_t seq)
{
    rq_local_cid *l = find_local(c, seq);
    if (l)
        l->acked = true;
}

void rq_cids_on_new_lost(rq_cids *c, uint64_t seq)
{
    /* RFC 9000 §13.3: sent again while the CID is still active and unacknowledged. */
    rq_local_cid *l = find_local(c, seq);
    if (l && !l->acked)
        l->send_pending = true;
}

static rq_retiring *find_retiring(rq_cids *c, uint64_t seq)
{
    for (size_t i = 0; i < c->nretiring; i++)
        if (c->retiring[i].seq == seq)
            return &c->retiring[i];
    return NULL;
}

void rq_cids_on_retire_sent(rq_cids *c, uint64_t seq)
{
    rq_retiring *r = find_retiring(c, seq);
    if (r)
        r->send_pending = false;
}

void rq_cids_on_retire_acked(rq_cids *c, uint64_t seq)
{
    rq_retiring *r = find_retiring(c, seq);
    if (!r)
        return;
    size_t i = (size_t)(r - c->retiring);
    memmove(&c->retiring[i], &c->retiring[i + 1], (c->nretiring - i - 1) * sizeof c->retiring[0]);
    c->nretiring--;
}

void rq_cids_on_retire_lost(rq_cids *c, uint64_t seq)
{
    rq_retiring *r = find_retiring(c, seq);
    if (r)
        r->send_pending = true;
}
