/* Definitions shared by the simulator's modules (not for scenarios: use the public headers).
 * Every element type embeds a sim_elem as its first member and supplies a vtable. */
#ifndef RQ_SIM_INTERNAL_H
#define RQ_SIM_INTERNAL_H

#include "rng.h"
#include "sim.h"

/* sim_dgram.flags */
#define SIM_DG_SKIP_TAP 0x01 /* the next link offer bypasses the link's tap (once) */

/* What an element does. receive takes ownership of dg; destroy frees the element's own
 * resources (not the sim_elem's ports array, which the sim frees). */
typedef struct sim_elem_vt {
    int (*receive)(sim *s, sim_elem *e, unsigned port, sim_dgram *dg);
    void (*destroy)(sim *s, sim_elem *e);
} sim_elem_vt;

struct sim_elem {
    const sim_elem_vt *vt;
    char name[SIM_NAME_MAX];
    uint32_t where; /* the trace's id for this name */
    unsigned nports;
    sim_link **out; /* nports entries: the link leaving each port, or NULL */
};

/* Event kinds in the queue. */
enum sim_ev_type {
    SIM_EVT_DELIVER, /* a: link, b: dgram — the link delivers b to its far end */
    SIM_EVT_OFFER,   /* a: link, b: dgram — b enters link a (held back by an injector) */
    SIM_EVT_TIMER,   /* a: host, aux: timer generation */
    SIM_EVT_WAKE,    /* a: host — poll the node for datagrams to send */
    SIM_EVT_CALL,    /* fn(s, a) */
};

typedef struct sim_event {
    rq_time t;
    uint64_t seq;
    void *a;
    void *b;
    sim_call_fn fn;
    uint32_t type;
    uint32_t aux;
} sim_event;

/* Registers an element: copies the name, allocates `nports` port slots, interns the name in
 * the trace and adds e to the sim's list (the sim frees it with free_fn semantics: vt->destroy
 * then rq_mem_free(e)). Errors: RQ_ERR_INVALID_ARG (empty name, nports 0), RQ_ERR_NOMEM. */
int sim_elem_register(sim *s, sim_elem *e, const sim_elem_vt *vt, const char *name,
                      unsigned nports);

/* Pushes an event; the sim assigns the sequence number. Errors: RQ_ERR_NOMEM. */
int sim_schedule(sim *s, rq_time t, uint32_t type, void *a, void *b, uint32_t aux);

/* Counts one unit of work toward the step bound; returns RQ_ERR_LIMIT (after recording the
 * failure) when the bound is exceeded, else 0. */
int sim_count_step(sim *s);

/* Gives the sim an object to release with destroy(s, obj) in sim_free (after the elements,
 * in reverse order of registration). Errors: RQ_ERR_NOMEM (obj is then not owned). */
int sim_own(sim *s, void *obj, void (*destroy)(sim *s, void *obj));

/* The sim's scratch buffer of SIM_DGRAM_MAX bytes (for nodes to write datagrams into). */
uint8_t *sim_scratch(sim *s);

/* Link hooks the core calls (link.c). */
int sim_link_create(sim *s, sim_elem *from, unsigned from_port, sim_elem *to, unsigned to_port,
                    const struct sim_link_cfg *cfg, sim_link **out);
void sim_link_destroy(sim *s, sim_link *l);
int sim_link_deliver(sim *s, sim_link *l, sim_dgram *dg);
uint32_t sim_link_where(const sim_link *l);

/* Host hooks the core calls (host.c). */
int sim_host_on_timer(sim *s, void *host, uint32_t gen);
int sim_host_on_wake(sim *s, void *host);

/* Trace hooks (trace.c): the sim creates and frees its trace. */
int sim_trace_create(sim *s, sim_trace **out);
void sim_trace_destroy(sim_trace *t);
int sim_trace_intern(sim_trace *t, const char *name, uint32_t *id);

#endif
