/* Paths (RFC 9000 §8, §9): which network path a datagram came on, validating a path with
 * PATH_CHALLENGE / PATH_RESPONSE, following a peer whose address changed (NAT rebinding or a
 * client's move, §9.3), and falling back when a new address does not validate (§9.3.2).
 *
 * Choices, documented here and in docs/ARCHITECTURE.md:
 *  - A port-only change keeps the path's RTT estimator and congestion controller (§9.4
 *    allows it: typical NAT rebinding); an address change starts both afresh.
 *  - Either way the old path's packets in flight stop counting at the switch (§9.4): they are
 *    still acknowledged or declared lost for their frames, but their loss is attributed to
 *    the rebinding and is not a congestion signal.
 *  - A server follows a peer's address change only once the handshake is confirmed (§9:
 *    migration is not possible before); earlier packets from a new address are processed but
 *    replies keep going to the address the handshake started on.
 *  - The server keeps its current DCID on the new path: the peer's address changed on its own
 *    and ours did not (§9.5 permits this).
 */
#include "core/conn.h"

#include "core/endpoint.h"

#include <string.h>

void rq_conn_path_init(rq_path *p, uint32_t id, const rq_path_addr *addr, bool validated)
{
    memset(p, 0, sizeof *p);
    p->in_use = true;
    p->id = id;
    p->addr = *addr;
    p->validated = validated;
    p->max_datagram = RQ_CC_INITIAL_DATAGRAM_SIZE;
    rq_rtt_init(&p->rtt);
    rq_cc_init(&p->cc, &rq_cc_newreno_ops, RQ_CC_INITIAL_DATAGRAM_SIZE);
}

const rq_cid *rq_conn_path_dcid(const rq_conn *c, const rq_path *p)
{
    return p->has_dcid ? &p->dcid : &c->dcid;
}

int rq_conn_path_take_cid(rq_conn *c, rq_path *p)
{
    rq_cid cid;
    int rc = rq_cids_take_unused(&c->cids, (int)p->id, &cid);
    if (rc)
        return rc;
    p->dcid = cid;
    p->has_dcid = true;
    p->owns_cid = true;
    if (p->id == c->active_path)
        c->dcid = cid;
    return 0;
}

void rq_conn_paths_reassign_cids(rq_conn *c, uint32_t orphaned)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        if (!(orphaned & (1u << i)))
            continue;
        rq_path *p = &c->paths[i];
        p->has_dcid = false;
        p->owns_cid = false;
        /* RFC 9000 §5.1.2: a retired CID is not used again; the frame that retired it brought
         * at least one new one. */
        (void)rq_conn_path_take_cid(c, p);
    }
}

static void detach(rq_conn *c, rq_path *p, rq_time now);

/* A path we stop using: its own peer CID is retired (RFC 9000 §5.1.2), and its packets still
 * in flight stop counting for it: the slot may hold another path before they are settled. */
static void drop_path(rq_conn *c, rq_path *p, rq_time now)
{
    detach(c, p, now);
    /* A path that had no spare CID of its own borrowed this one (rq_conn_path_new): it keeps
     * it, since retiring a CID still in use is a PROTOCOL_VIOLATION (§19.16). */
    for (uint32_t i = 0; i < RQ_MAX_PATHS && p->owns_cid; i++) {
        rq_path *q = &c->paths[i];
        if (q != p && q->in_use && !q->owns_cid && rq_cid_eq(rq_conn_path_dcid(c, q), &p->dcid)) {
            rq_cids_hand_over(&c->cids, (int)p->id, (int)q->id);
            q->dcid = p->dcid;
            q->has_dcid = q->owns_cid = true;
            p->owns_cid = false;
        }
    }
    if (p->owns_cid)
        (void)rq_cids_retire_path(&c->cids, (int)p->id);
    if (c->qlog) /* quic-events: tuple_assigned without addresses abandons the tuple */
        (void)rq_qlog_tuple_assigned(c->qlog, now, p->id, NULL, NULL, NULL);
    p->in_use = false;
    p->has_dcid = p->owns_cid = false;
}

/* The connection now sends with path p's DCID (RFC 9000 §9.5: a fresh one per path). */
static void switch_dcid(rq_conn *c, const rq_path *p, rq_time now)
{
    rq_cid old = c->dcid;
    c->dcid = *rq_conn_path_dcid(c, p);
    if (c->qlog && !rq_cid_eq(&old, &c->dcid))
        (void)rq_qlog_connection_id_updated(c->qlog, now, p->id, false, &old, &c->dcid);
}

static void path_event(rq_conn *c, rq_event_type type, const rq_path *p)
{
    rq_event ev = {.type = type, .conn = c, .stream_id = -1, .path_id = p->id, .rtt = p->probe_rtt};
    (void)rq_ep_push_event(c->ep, &ev);
}

static bool local_matches(const rq_addr *mine, const rq_addr *seen)
{
    return mine->family == RQ_AF_NONE || seen->family == RQ_AF_NONE || rq_addr_eq(mine, seen);
}

static bool path_matches(const rq_path *p, const rq_path_addr *a)
{
    return p->in_use && rq_addr_eq(&p->addr.remote, &a->remote) &&
           local_matches(&p->addr.local, &a->local);
}

/* 127.0.0.0/8, ::1 and IPv4-mapped 127/8. */
static bool is_loopback(const rq_addr *a)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (a->family == RQ_AF_INET4)
        return a->ip[0] == 127;
    return a->family == RQ_AF_INET6 && (memcmp(a->ip, v6_loopback, 16) == 0 ||
                                        (memcmp(a->ip, v4_mapped, 12) == 0 && a->ip[12] == 127));
}

/* RFC 9000 §21.5.6 (MIG-21.5.6-01): a connection reached over a network does not move to a
 * loopback address, where a forged source or a hostile preferred_address would point it at
 * services on this host. Other addresses, private ones included, are fine (MIG-21.5.6-02). */
static bool loopback_detour(const rq_conn *c, const rq_addr *to)
{
    return is_loopback(to) && !is_loopback(&c->paths[c->active_path].addr.remote);
}

rq_path *rq_conn_path_find(rq_conn *c, const rq_path_addr *addr, bool *fresh)
{
    *fresh = false;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (path_matches(&c->paths[i], addr))
            return &c->paths[i];
    /* A client makes paths itself (rq_conn_probe_path); what arrives on a 4-tuple it left (the
     * server's packets still in flight to an old address) counts for the current path. But a
     * server address it never sent to is no server of this connection: the server cannot
     * migrate in QUIC v1 (RFC 9000 §9, §9.6, MIG-9-05, MIG-9.6-01). */
    if (c->role == RQ_ROLE_CLIENT) {
        for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
            if (c->paths[i].in_use && rq_addr_eq(&c->paths[i].addr.remote, &addr->remote))
                return &c->paths[c->active_path];
        /* After a move to the preferred address the original one is still the server's:
         * what it had in flight, and its checks of the old path, are not strangers'. */
        if (rq_addr_eq(&c->handshake_remote, &addr->remote))
            return &c->paths[c->active_path];
        return NULL;
    }
    *fresh = !loopback_detour(c, &addr->remote);
    return NULL;
}

rq_path *rq_conn_path_new(rq_conn *c, const rq_path_addr *addr, rq_time now)
{
    /* A new 4-tuple: a free slot, else the least recently heard spare one, unvalidated ones
     * first (a peer cannot make us hold more than RQ_MAX_PATHS paths; a NAT that rebinds
     * again and again leaves validated bindings behind that are dead). */
    rq_path *slot = NULL;
    for (uint32_t i = 0; i < RQ_MAX_PATHS && !slot; i++)
        if (!c->paths[i].in_use)
            slot = &c->paths[i];
    for (int pass = 0; pass < 2 && !slot; pass++)
        for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
            rq_path *p = &c->paths[i];
            if (i == c->active_path || i == c->fallback_path || p->validated != (pass == 1))
                continue;
            if (!slot || p->last_recv < slot->last_recv)
                slot = p;
        }
    if (!slot)
        return NULL;
    if (slot->in_use)
        drop_path(c, slot, now);
    uint32_t id = (uint32_t)(slot - c->paths);
    rq_path_addr a = *addr;
    if (a.local.family == RQ_AF_NONE)
        a.local = c->paths[c->active_path].addr.local;
    rq_conn_path_init(slot, id, &a, false);
    slot->last_recv = now;
    /* RFC 9000 §9.5: answer on a new path with a fresh CID when the peer gave us a spare
     * one; without, keep the current one (allowed when only the peer's address changed). */
    if (rq_conn_path_take_cid(c, slot) != 0) {
        slot->dcid = *rq_conn_path_dcid(c, &c->paths[c->active_path]);
        slot->has_dcid = true;
    }
    if (c->qlog)
        (void)rq_qlog_tuple_assigned(c->qlog, now, id, &a, &c->scid, &c->dcid);
    return slot;
}

void rq_conn_path_on_challenge(rq_conn *c, rq_path *p, const uint8_t data[8])
{
    (void)c;
    /* RFC 9000 §8.2.2: echo it on the path it came on; a newer challenge replaces an older
     * one not yet answered. */
    memcpy(p->response, data, 8);
    p->response_due = true;
}

static void client_migrate(rq_conn *c, rq_time now, uint32_t path_id);
static void migrate(rq_conn *c, rq_path *p, rq_time now);

/* Whether going from path `from` to `to` changes our own address (a client moving to our
 * preferred address, RFC 9000 §9.6.2); unknown local addresses count as unchanged. */
static bool local_changed(const rq_path *from, const rq_path *to)
{
    return from->addr.local.family != RQ_AF_NONE && !rq_addr_eq(&from->addr.local, &to->addr.local);
}

static rq_time max_time(rq_time a, rq_time b)
{
    return a > b ? a : b;
}

static void start_validation(rq_conn *c, rq_path *p, rq_time now)
{
    p->validating = true;
    p->challenge_due = true;
    p->nchallenges = 0;
    p->challenges_sent = 0;
    /* RFC 9000 §8.2.4: three times the larger of the current PTO and a fresh path's. */
    rq_rtt fresh;
    rq_rtt_init(&fresh);
    p->validation_deadline = now + 3 * max_time(rq_conn_pto(c), rq_rtt_pto_base(&fresh));
}

int rq_conn_path_new_challenge(rq_conn *c, rq_path *p, uint8_t data[8], rq_time now)
{
    /* RFC 9000 §8.2.1: unpredictable data, fresh for every challenge (retransmissions
     * included, §13.3); the last few stay answerable. */
    int rc = rq_ep_random(c->ep, data, 8);
    if (rc)
        return rc;
    memmove(p->challenges[1], p->challenges[0], 2 * 8);
    memmove(&p->challenge_times[1], &p->challenge_times[0], 2 * sizeof p->challenge_times[0]);
    memcpy(p->challenges[0], data, 8);
    p->challenge_times[0] = now;
    p->challenge_small = (uint8_t)((p->challenge_small << 1) & 0x6);
    if (p->nchallenges < 3)
        p->nchallenges++;
    p->challenge_due = false;
    /* §8.2.1: no more often than an Initial on a new connection would go: a PTO apart,
     * doubling each time (RFC 9002 §6.2.1). */
    unsigned shift = p->challenges_sent < 6 ? p->challenges_sent : 6;
    p->challenges_sent++;
    p->next_challenge = now + (rq_rtt_pto_base(&p->rtt) << shift);
    return 0;
}

static void abandon_paths_to(rq_conn *c, const rq_addr *remote, rq_time now)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        rq_path *p = &c->paths[i];
        if (p->in_use && i != c->active_path && i != c->fallback_path &&
            rq_addr_eq(&p->addr.remote, remote))
            drop_path(c, p, now);
    }
}

void rq_conn_path_on_response(rq_conn *c, const uint8_t data[8], rq_time now)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        rq_path *p = &c->paths[i];
        for (unsigned k = 0; p->in_use && k < p->nchallenges; k++) {
            if (memcmp(p->challenges[k], data, 8) != 0)
                continue;
            /* RFC 9000 §8.2.3: the path the challenge went out on is validated. */
            bool was = p->validated, small = (p->challenge_small >> k) & 1;
            p->probe_rtt = now - p->challenge_times[k];
            p->validated = true;
            p->validating = false;
            p->challenge_due = false;
            p->nchallenges = 0;
            p->mtu_unproven = small;
            /* §8.2.1 (MIG-8.2.1-05): a second validation, padded, checks the path's size. */
            if (small)
                start_validation(c, p, now);
            else
                path_event(c, RQ_EV_PATH_VALIDATED, p);
            /* §9.6.1: once the preferred address answers, all packets go there; §9.6.3: the
             * validation of the original address from elsewhere is abandoned. */
            if (p->preferred && i != c->active_path && c->state == RQ_CONN_ESTABLISHED) {
                rq_addr original = c->paths[c->active_path].addr.remote;
                client_migrate(c, now, i);
                abandon_paths_to(c, &original, now);
                return;
            }
            if (p->migrate_when_validated && i != c->active_path) {
                migrate(c, p, now);
                return;
            }
            if (i == c->active_path && !small) {
                c->fallback_path = i;
                /* §9.3 (MIG-9.3-05): a token for the client's new address. */
                if (c->role == RQ_ROLE_SERVER && !was)
                    c->new_token_pending = true;
                if (c->qlog)
                    (void)rq_qlog_migration_state_updated(c->qlog, now, i, RQ_QLOG_MIGRATION_NONE,
                                                          RQ_QLOG_MIGRATION_COMPLETE);
            }
            return;
        }
    }
    /* §8.2.2: a response matching no challenge is ignored. */
}

/* Stops counting the in-flight packets of path p (RFC 9000 §9.4). Those of a path that was
 * never validated are lost outright: it did not answer, so they will not arrive either. */
static void detach(rq_conn *c, rq_path *p, rq_time now)
{
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    if (!p->validated)
        rq_recovery_lose_path(&c->rec, p->id, now, &env);
    uint64_t bytes = 0;
    rq_recovery_detach_path(&c->rec, p->id, now, &env, &bytes);
    rq_cc_on_discarded(&p->cc, bytes);
}

static void migrate(rq_conn *c, rq_path *p, rq_time now)
{
    rq_path *old = &c->paths[c->active_path];
    if (local_changed(old, p)) {
        c->has_left_local = true;
        c->left_local = old->addr.local;
        c->left_local_pn = c->largest_nonprobing;
    }
    bool port_only = rq_addr_same_ip(&old->addr.remote, &p->addr.remote) &&
                     rq_addr_eq(&old->addr.local, &p->addr.local);
    if (!p->validated && port_only) {
        /* §9.4: a port-only change may keep congestion and RTT state. It is the same network
         * path: its packets in flight become the new path's for loss detection (the packet
         * threshold finds those the stale binding swallowed), but their loss is the
         * rebinding's, not congestion (they no longer count in flight). */
        uint64_t own = rq_recovery_path_bytes_in_flight(&c->rec, p->id), moved = 0;
        detach(c, old, now);
        rq_recovery_move_path(&c->rec, old->id, p->id, &moved);
        p->rtt = old->rtt;
        p->cc = old->cc;
        p->cc.bytes_in_flight += own; /* its own probes are still out */
    } else {
        detach(c, old, now);
    }
    if (old->validated)
        c->fallback_path = old->id;
    c->active_path = p->id;
    switch_dcid(c, p, now);
    path_event(c, RQ_EV_PATH_ACTIVE, p);
    /* §9.3: all later packets go to the new address; validate it if it is not already. */
    if (!p->validated && !p->validating)
        start_validation(c, p, now);
    /* §9.3.3: an apparent migration may be an attacker forwarding packets: check that the
     * old address still answers, so that it can be returned to. */
    if (old->validated && !old->validating &&
        !rq_addr_eq(&old->addr.remote, &p->addr.remote)) /* not when only our address changed */
        start_validation(c, old, now);
    if (c->qlog)
        (void)rq_qlog_migration_state_updated(c->qlog, now, p->id, RQ_QLOG_MIGRATION_NONE,
                                              RQ_QLOG_MIGRATION_STARTED);
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    rq_recovery_set_timer(&c->rec, now, &env);
}

void rq_conn_path_on_nonprobing(rq_conn *c, rq_path *p, uint64_t pn, rq_time now)
{
    /* RFC 9000 §9.3: only the highest-numbered non-probing packet so far says where the peer
     * is, so that a reordered older packet cannot pull the path back. */
    if (c->has_nonprobing && pn < c->largest_nonprobing)
        return;
    c->has_nonprobing = true;
    c->largest_nonprobing = pn;
    if (p->id == c->active_path || c->role != RQ_ROLE_SERVER || !c->handshake_confirmed)
        return;
    /* §9.6.2: a client arriving at our preferred address (another local address) is followed
     * only once that path is validated: until then everything leaves from the old one. */
    if (!p->validated && local_changed(&c->paths[c->active_path], p)) {
        p->migrate_when_validated = true;
        if (!p->validating)
            start_validation(c, p, now);
        return;
    }
    migrate(c, p, now);
}

bool rq_conn_path_left_behind(const rq_conn *c, const rq_addr *local, uint64_t pn)
{
    /* §9.6.2: SHOULD drop the newer ones; MAY still process delayed ones. */
    return c->has_left_local && pn > c->left_local_pn && rq_addr_eq(local, &c->left_local) &&
           !rq_addr_eq(&c->paths[c->active_path].addr.local, &c->left_local); /* fell back */
}

static void fail_validation(rq_conn *c, rq_path *p, rq_time now)
{
    p->validating = false;
    p->challenge_due = false;
    p->nchallenges = 0;
    /* RFC 9000 §14.2 (MIG-14.2-02): a path whose padded challenges never came back cannot
     * carry 1200-byte datagrams: it is given up like one that never answered. */
    if (p->mtu_unproven)
        p->validated = p->mtu_unproven = false;
    path_event(c, RQ_EV_PATH_FAILED, p);
    if (p->id != c->active_path) {
        /* An old path that no longer answers is no longer a place to fall back to. */
        if (c->fallback_path == p->id)
            c->fallback_path = c->active_path;
        drop_path(c, p, now);
        return;
    }
    rq_path *fb = &c->paths[c->fallback_path];
    if (c->fallback_path != p->id && fb->in_use && fb->validated) {
        /* RFC 9000 §9.3.2: back to the last validated address. */
        detach(c, p, now);
        c->active_path = fb->id;
        switch_dcid(c, fb, now);
        path_event(c, RQ_EV_PATH_ACTIVE, fb);
        drop_path(c, p, now);
        if (c->qlog)
            (void)rq_qlog_migration_state_updated(c->qlog, now, p->id, RQ_QLOG_MIGRATION_NONE,
                                                  RQ_QLOG_MIGRATION_ABANDONED);
        return;
    }
    /* §9.3.2: no validated address to return to: close silently, sending nothing. */
    c->close_code = 0;
    c->close_app = false;
    rq_conn_become_closed(c, now, RQ_QLOG_CLOSE_UNSPECIFIED);
}

void rq_conn_paths_on_timeout(rq_conn *c, rq_time now)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS && c->state < RQ_CONN_CLOSING; i++) {
        rq_path *p = &c->paths[i];
        if (!p->in_use || !p->validating)
            continue;
        if (now >= p->validation_deadline)
            fail_validation(c, p, now);
        else if (p->nchallenges && now >= p->next_challenge)
            p->challenge_due = true;
    }
}

rq_time rq_conn_paths_next_timeout(const rq_conn *c)
{
    rq_time t = RQ_TIME_NEVER;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        const rq_path *p = &c->paths[i];
        if (!p->in_use || !p->validating)
            continue;
        if (p->validation_deadline < t)
            t = p->validation_deadline;
        if (p->nchallenges && !p->challenge_due && p->next_challenge < t)
            t = p->next_challenge;
    }
    return t;
}

/* ---- the client's own moves (RFC 9000 §9.1, §9.2) ---- */

static bool migration_allowed(const rq_conn *c)
{
    /* §9: not before the handshake is confirmed; §18.2: not when the server forbids it; §9.5:
     * not towards zero-length CIDs (the paths would be trivially linked). */
    return c->role == RQ_ROLE_CLIENT && c->state == RQ_CONN_ESTABLISHED && c->have_peer_tp &&
           !c->peer_tp.disable_active_migration && c->dcid.len > 0;
}

/* A path to validate; the caller has checked that the client may move. */
static int start_probe(rq_conn *c, rq_time now, const rq_path_addr *addr, uint32_t *path_id)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (path_matches(&c->paths[i], addr))
            return RQ_ERR_INVALID_ARG;
    /* §9.5: a new path needs a CID of the server's that no other path uses. */
    if (rq_cids_spare(&c->cids) == 0)
        return RQ_ERR_AGAIN;
    rq_path *slot = NULL;
    for (uint32_t i = 0; i < RQ_MAX_PATHS && !slot; i++)
        if (!c->paths[i].in_use)
            slot = &c->paths[i];
    if (!slot)
        return RQ_ERR_LIMIT;
    uint32_t id = (uint32_t)(slot - c->paths);
    rq_conn_path_init(slot, id, addr, false);
    slot->last_recv = now;
    if (rq_conn_path_take_cid(c, slot) != 0) {
        slot->in_use = false;
        return RQ_ERR_AGAIN;
    }
    start_validation(c, slot, now);
    if (c->qlog) {
        (void)rq_qlog_tuple_assigned(c->qlog, now, id, addr, &c->scid, &slot->dcid);
        (void)rq_qlog_migration_state_updated(c->qlog, now, id, RQ_QLOG_MIGRATION_NONE,
                                              RQ_QLOG_PROBING_STARTED);
    }
    *path_id = id;
    return 0;
}

/* The preferred address's path while the client has not moved there yet, or NULL. */
static rq_path *pending_preferred(rq_conn *c)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && c->paths[i].preferred && i != c->active_path)
            return &c->paths[i];
    return NULL;
}

/* RFC 9000 §9.6.3 (MIG-9.6.3-01): a client leaving its local address before it reached the
 * preferred address validates both server addresses from the new one; the probe of the
 * preferred address from the old local address is abandoned (its CID retired). */
static void rehome_preferred(rq_conn *c, rq_time now, const rq_path_addr *addr)
{
    rq_path *old = pending_preferred(c);
    if (!old || rq_addr_eq(&old->addr.local, &addr->local) ||
        !rq_addr_eq(&addr->remote, &c->paths[c->active_path].addr.remote))
        return;
    rq_path_addr to_pref = {.local = addr->local, .remote = old->addr.remote};
    uint32_t id;
    if (start_probe(c, now, &to_pref, &id) != 0)
        return;
    c->paths[id].preferred = true;
    drop_path(c, old, now);
}

int rq_conn_probe_path(rq_conn *c, rq_time now, const rq_path_addr *addr, uint32_t *path_id)
{
    if (!c || !addr || !path_id)
        return RQ_ERR_INVALID_ARG;
    if (c->role == RQ_ROLE_CLIENT && c->state == RQ_CONN_ESTABLISHED && !c->handshake_confirmed)
        return RQ_ERR_AGAIN;
    if (!migration_allowed(c))
        return RQ_ERR_INVALID_ARG;
    int rc = start_probe(c, now, addr, path_id);
    if (!rc)
        rehome_preferred(c, now, addr);
    return rc;
}

static void client_migrate(rq_conn *c, rq_time now, uint32_t path_id)
{
    rq_path *p = &c->paths[path_id], *old = &c->paths[c->active_path];
    /* Break before make: the application moves before the new path answered because the old
     * one is dead; what is in flight there is lost, and waiting for the loss timers (a
     * fresh path's, once the old path is gone) would stall for several round trips. */
    if (!p->validated) {
        rq_recovery_env env;
        rq_conn_recovery_env(c, &env);
        rq_recovery_lose_path(&c->rec, old->id, now, &env);
    }
    /* §9.4: packets sent on the old path no longer count; the new path starts afresh, its
     * initial RTT the probe's round trip, which is no RTT sample (RFC 9002 §6.2.2,
     * REC-6.2.2-02: min_rtt and persistent congestion wait for an ACK). */
    detach(c, old, now);
    rq_rtt_seed(&p->rtt, p->probe_rtt);
    c->active_path = path_id;
    switch_dcid(c, p, now);
    if (p->validated)
        c->fallback_path = path_id;
    else if (!p->validating)
        start_validation(c, p, now);
    /* §5.1.2: the old path's CID goes once the old path is left. */
    drop_path(c, old, now);
    if (c->fallback_path == old->id)
        c->fallback_path = path_id;
    path_event(c, RQ_EV_PATH_ACTIVE, p);
    if (c->qlog)
        (void)rq_qlog_migration_state_updated(c->qlog, now, path_id, RQ_QLOG_MIGRATION_NONE,
                                              RQ_QLOG_MIGRATION_COMPLETE);
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    rq_recovery_set_timer(&c->rec, now, &env);
}

int rq_conn_migrate(rq_conn *c, rq_time now, uint32_t path_id)
{
    if (!c || path_id >= RQ_MAX_PATHS || !c->paths[path_id].in_use || !migration_allowed(c) ||
        !c->handshake_confirmed)
        return RQ_ERR_INVALID_ARG;
    if (path_id != c->active_path)
        client_migrate(c, now, path_id);
    return 0;
}

/* ---- the server's preferred address (RFC 9000 §9.6) ---- */

/* The preferred address of the family the client uses (§9.6.1: the family decides), or of the
 * configured family when the client's own address does not say; false if there is none. */
static bool preferred_remote(const rq_conn *c, rq_addr *out)
{
    const rq_preferred_address *pa = &c->peer_tp.preferred_address;
    static const uint8_t zero[16];
    bool v4 = memcmp(pa->ipv4_addr, zero, 4) != 0 && pa->ipv4_port != 0;
    bool v6 = memcmp(pa->ipv6_addr, zero, 16) != 0 && pa->ipv6_port != 0;
    uint8_t fam = c->paths[c->active_path].addr.local.family;
    if (fam == RQ_AF_NONE)
        fam = c->ep->cfg->prefer_family == RQ_AF_INET6 ? RQ_AF_INET6 : RQ_AF_INET4;
    memset(out, 0, sizeof *out);
    if (fam == RQ_AF_INET4 && v4) {
        out->family = RQ_AF_INET4;
        memcpy(out->ip, pa->ipv4_addr, 4);
        out->port = pa->ipv4_port;
        return true;
    }
    if (fam == RQ_AF_INET6 && v6) {
        out->family = RQ_AF_INET6;
        memcpy(out->ip, pa->ipv6_addr, 16);
        out->port = pa->ipv6_port;
        return true;
    }
    return false;
}

void rq_conn_follow_preferred_address(rq_conn *c, rq_time now)
{
    /* §9.6: only a client follows, only after confirmation, and not over zero-length CIDs.
     * disable_active_migration does not apply here (§18.2). */
    if (c->role != RQ_ROLE_CLIENT || !c->have_peer_tp || !c->peer_tp.has_preferred_address ||
        c->ep->cfg->ignore_preferred || c->state != RQ_CONN_ESTABLISHED || c->dcid.len == 0)
        return;
    rq_path_addr addr = {.local = c->paths[c->active_path].addr.local};
    if (!preferred_remote(c, &addr.remote) || loopback_detour(c, &addr.remote))
        return;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && c->paths[i].preferred)
            return;
    uint32_t id;
    if (start_probe(c, now, &addr, &id) == 0)
        c->paths[id].preferred = true;
}

int rq_conn_path_info(const rq_conn *c, uint32_t path_id, rq_path_addr *addr, rq_time *smoothed_rtt,
                      bool *validated)
{
    rq_path_stats st;
    int rc = rq_conn_path_stats(c, path_id, &st);
    if (rc)
        return rc;
    if (addr)
        *addr = st.addr;
    if (smoothed_rtt)
        *smoothed_rtt = st.smoothed_rtt;
    if (validated)
        *validated = st.validated;
    return 0;
}

int rq_conn_path_stats(const rq_conn *c, uint32_t path_id, rq_path_stats *st)
{
    if (!c || !st || path_id >= RQ_MAX_PATHS || !c->paths[path_id].in_use)
        return RQ_ERR_INVALID_ARG;
    const rq_path *p = &c->paths[path_id];
    *st =
        (rq_path_stats){p->addr,       p->rtt.smoothed_rtt, p->validated, c->active_path == path_id,
                        p->bytes_sent, p->bytes_received};
    return 0;
}
