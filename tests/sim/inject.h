/* The injector: an attacker, or a test's hand, on a link — "through the datagram path".
 *
 * An injector taps one link and sees every datagram offered to it before the link does. Its
 * rules are tried in order on each datagram; every matching rule acts:
 *   DROP     the datagram is gone (traced: dropped, "injector"); no later rule sees it
 *   DELAY    it is held back and offered to the link again after `delay`; no later rule acts
 *   REWRITE  its source and/or destination (and bytes, via `forge`) are changed in place
 *   COPY     a copy (addresses and bytes rewritten as for REWRITE) enters `copy_to` (or this
 *            link) after `delay`; the original goes on — with delay 0 on this link the copy
 *            travels just ahead of it
 * A datagram a DELAY rule held is not shown to the rules again when it comes back.
 * sim_inject puts a datagram from nowhere onto any link at any time.
 *
 * The `forge` hook is where QUIC-aware attacks plug in once endpoints exist: it may rewrite the
 * bytes (e.g. decrypt with the session keys, change frames, re-encrypt) within dg->cap.
 */
#ifndef RQ_SIM_INJECT_H
#define RQ_SIM_INJECT_H

#include "sim.h"

typedef struct sim_injector sim_injector;

typedef enum sim_inj_action {
    SIM_INJ_DROP,
    SIM_INJ_DELAY,
    SIM_INJ_REWRITE,
    SIM_INJ_COPY,
} sim_inj_action;

/* Extra matching: true to match. ctx is the rule's. */
typedef bool (*sim_inj_match_fn)(void *ctx, const sim_dgram *dg);

/* Rewrites a datagram's bytes in place (dg->len may change, up to dg->cap). Returns 0 or a
 * negative rq_err that stops the run. */
typedef int (*sim_inj_forge_fn)(void *ctx, sim *s, sim_dgram *dg);

/* A rule. Zero fields mean "any": all-zero matches every datagram and drops it. */
typedef struct sim_inj_rule {
    /* what it matches */
    uint64_t first, last; /* 1-based numbers of datagrams this injector saw; 0,0 = all */
    rq_time from, until;  /* offer time window [from, until); until 0 = forever */
    rq_addr src, dst;     /* family 0 = any address; port 0 = any port of that IP */
    sim_inj_match_fn match;
    void *match_ctx;
    uint64_t max_hits; /* the rule acts at most this often; 0 = no limit */
    /* what it does */
    sim_inj_action action;
    rq_time delay;         /* DELAY: hold time; COPY: when the copy enters its link */
    bool set_src, set_dst; /* REWRITE, COPY: replace source / destination */
    rq_addr new_src, new_dst;
    sim_link *copy_to;      /* COPY: the link the copy enters (NULL: this link) */
    sim_inj_forge_fn forge; /* REWRITE, COPY: rewrite the bytes */
    void *forge_ctx;
} sim_inj_rule;

/* Creates an injector tapping `on` (one per link). The sim owns it; *out may be NULL.
 * Errors: RQ_ERR_INVALID_ARG (the link already has a tap), RQ_ERR_NOMEM. */
int sim_injector_new(sim *s, const char *name, sim_link *on, sim_injector **out);

/* Appends a rule (copied); *id (may be NULL) receives its index for sim_injector_hits.
 * Errors: RQ_ERR_INVALID_ARG (unknown action), RQ_ERR_NOMEM. */
int sim_injector_add(sim_injector *inj, const sim_inj_rule *rule, unsigned *id);

/* Removes every rule and its hit count. The injector then passes everything (and still
 * counts what it sees). */
void sim_injector_clear(sim_injector *inj);

/* How often rule `id` acted; datagrams the injector saw. */
uint64_t sim_injector_hits(const sim_injector *inj, unsigned id);
uint64_t sim_injector_seen(const sim_injector *inj);

/* Puts a new datagram (len bytes of data, ECN 0) onto link `l` at time `at` (now if in the
 * past), bypassing the link's tap; traced as "inject". *id (may be NULL) receives its datagram
 * id. Errors: RQ_ERR_INVALID_ARG (len > SIM_DGRAM_MAX), RQ_ERR_NOMEM. */
int sim_inject(sim *s, sim_link *l, rq_time at, const rq_addr *src, const rq_addr *dst,
               const void *data, size_t len, uint64_t *id);

#endif
