/* The simulator's trace: one entry per datagram event — a host sent it, a link dropped,
 * duplicated, reordered or corrupted it, a NAT or an injector rewrote it, a host received it.
 * Each entry has the virtual time, where it happened, the 4-tuple before and after (they differ
 * only for NAT translations and injector rewrites), the size and the fate.
 *
 * A running digest covers every entry (and the bytes of every sent and received datagram)
 * whether or not entries are kept, so two runs can be compared cheaply: equal seeds and
 * scenarios give equal digests. A hook sees every entry with the datagram's bytes, so that a
 * QUIC-aware decoder can attach decoded frames to it (sim_trace_annotate).
 */
#ifndef RQ_SIM_TRACE_H
#define RQ_SIM_TRACE_H

#include "sim.h"

#include <stdio.h>

/* What happened. */
typedef enum sim_ev_kind {
    SIM_EV_SEND,    /* a host emitted the datagram */
    SIM_EV_RECV,    /* a host took delivery (its node saw it) */
    SIM_EV_DROP,    /* dropped; `reason` says why */
    SIM_EV_NAT,     /* a NAT rewrote the 4-tuple (before → after) */
    SIM_EV_DUP,     /* a link duplicated it; the entry is the copy (parent = original) */
    SIM_EV_REORDER, /* a link held it back by its reorder delay */
    SIM_EV_CORRUPT, /* a link flipped one byte */
    SIM_EV_INJECT,  /* an injector created it (a copy, or a datagram from nowhere) */
    SIM_EV_REWRITE, /* an injector rewrote its addresses or bytes (before → after) */
    SIM_EV_DELAY,   /* an injector held it back */
    SIM_EV_HOP,     /* a link delivered it to its far end (only with hop tracing on) */
    SIM_EV__COUNT
} sim_ev_kind;

/* Why a datagram was dropped. */
typedef enum sim_drop_reason {
    SIM_DROP_NONE,
    SIM_DROP_LINK_DOWN,      /* the link was down when it was offered or in flight */
    SIM_DROP_MTU,            /* larger than the link's MTU */
    SIM_DROP_QUEUE,          /* the link's queue was full (tail drop) */
    SIM_DROP_LOSS,           /* random loss */
    SIM_DROP_MASK,           /* deterministic loss (sim_link_drop_range) */
    SIM_DROP_NO_LINK,        /* sent out of a port with no link */
    SIM_DROP_NO_ROUTE,       /* a router had no route for the destination */
    SIM_DROP_NAT_NO_BINDING, /* inbound to a NAT with no binding for it (unsolicited, expired) */
    SIM_DROP_NAT_STALE,      /* inbound to a binding replaced by a rebind */
    SIM_DROP_NAT_NO_PORT,    /* a NAT had no free outside port or no address of that family */
    SIM_DROP_SRC_NOT_LOCAL,  /* a host sent from an address it does not have */
    SIM_DROP_DST_NOT_LOCAL,  /* delivered to a host that does not have the destination address */
    SIM_DROP_INJECTOR,       /* an injector rule dropped it */
    SIM_DROP_NO_NODE,        /* delivered to a host without a node (a black hole) */
    SIM_DROP__COUNT
} sim_drop_reason;

typedef struct sim_trace_entry {
    rq_time t;
    uint64_t id;              /* datagram id */
    uint64_t parent;          /* the datagram it was copied from, or 0 */
    uint64_t hash;            /* hash of the bytes (SEND, RECV, CORRUPT, REWRITE, INJECT), else 0 */
    rq_addr src, dst;         /* the 4-tuple as it arrived */
    rq_addr src_out, dst_out; /* the 4-tuple as it left (equal unless rewritten) */
    uint32_t where;           /* element or link: sim_trace_where_name */
    uint32_t len;
    uint32_t note;  /* annotation offset + 1, or 0 */
    uint8_t kind;   /* sim_ev_kind */
    uint8_t reason; /* sim_drop_reason */
    uint8_t ecn;
} sim_trace_entry;

/* Called after an entry is appended (kept entries only: see sim_trace_keep), with its index, the
 * entry and the datagram's bytes (the bytes are valid only during the call). May call
 * sim_trace_annotate on `index`. A non-zero return is ignored: the hook observes, it does not
 * steer. */
typedef void (*sim_trace_hook_fn)(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                                  const uint8_t *data, size_t len);

/* Entries are kept (default) or only digested and counted. Turning keeping off makes a bulk
 * transfer cheaper; the digest, the counters and the ledger still see everything. */
void sim_trace_keep(sim_trace *t, bool keep);

/* Also record a SIM_EV_HOP entry each time a link delivers a datagram (default off). */
void sim_trace_hops(sim_trace *t, bool on);

/* Installs (or with fn NULL removes) the entry hook. ctx is the caller's. */
void sim_trace_set_hook(sim_trace *t, sim_trace_hook_fn fn, void *ctx);

/* Kept entries, and entry i (NULL when out of range or not kept). The pointer is valid until
 * the next entry is appended. */
size_t sim_trace_count(const sim_trace *t);
const sim_trace_entry *sim_trace_get(const sim_trace *t, size_t i);

/* Events of a kind, and drops for a reason, counted whether or not entries are kept. */
uint64_t sim_trace_kind_count(const sim_trace *t, sim_ev_kind kind);
uint64_t sim_trace_drop_count(const sim_trace *t, sim_drop_reason reason);

/* Attaches a text note to entry i (copied; a second note is appended after "; ").
 * Errors: RQ_ERR_INVALID_ARG (no such kept entry), RQ_ERR_NOMEM. */
int sim_trace_annotate(sim_trace *t, size_t i, const char *text);

/* Entry i's note, or "" (owned by the trace, valid until the next annotation). */
const char *sim_trace_note(const sim_trace *t, size_t i);

/* The name of an element or link by its trace id ("?" when unknown). */
const char *sim_trace_where_name(const sim_trace *t, uint32_t where);

/* The running digest over every event of the run. */
uint64_t sim_trace_digest(const sim_trace *t);

/* Formats entry e as one line (no newline) into buf; returns buf. Example:
 *   "  12.000400 send      c          10.0.0.2:5000>192.0.2.1:443 1200B id=7" */
char *sim_trace_format(const sim_trace *t, const sim_trace_entry *e, char *buf, size_t cap);

/* Writes kept entries [first, first+count) as lines to f (count is clamped). */
void sim_trace_dump(const sim_trace *t, FILE *f, size_t first, size_t count);

/* Writes the last n kept entries to f: the compact form for failure reports. */
void sim_trace_dump_tail(const sim_trace *t, FILE *f, size_t n);

/* Names for printing ("send", "queue", ...). */
const char *sim_ev_kind_name(int kind);
const char *sim_drop_reason_name(int reason);

/* Appends an event (used by the simulator's elements). `where` is a trace id; out_src/out_dst
 * NULL mean "unchanged". Errors: RQ_ERR_NOMEM (the digest and counters are still updated). */
int sim_trace_add(sim_trace *t, rq_time now, sim_ev_kind kind, sim_drop_reason reason,
                  uint32_t where, const sim_dgram *dg, const rq_addr *out_src,
                  const rq_addr *out_dst);

#endif
