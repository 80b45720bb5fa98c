/* The deterministic network simulator: virtual clock, event queue, datagrams, elements.
 *
 * A simulation is a graph of elements (hosts, routers, NAT boxes) whose numbered ports are
 * joined by unidirectional links (link.h). Datagrams carry a source and destination rq_addr
 * and their bytes; each element decides what to do with a datagram that reaches one of its
 * ports. Time is virtual (rq_time nanoseconds) and advances only from event to event, so a
 * 50 MB transfer over a 10 ms link costs only the CPU time of its events.
 *
 * Determinism: events are ordered by (time, insertion sequence); every random choice comes
 * from a per-element stream of rng.h derived from the run's seed; nothing reads a real clock.
 * The same seed and the same scenario therefore give the same trace, byte for byte.
 *
 * Ownership: the sim owns every element, link, injector and datagram created through it;
 * sim_free releases them all. A function that takes a sim_dgram * takes ownership of it.
 */
#ifndef RQ_SIM_SIM_H
#define RQ_SIM_SIM_H

#include <roamquic/error.h>
#include <roamquic/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim;
typedef struct sim_elem sim_elem;
typedef struct sim_link sim_link;
typedef struct sim_trace sim_trace;

/* The largest UDP payload (65535 - 8 - 20). */
#define SIM_DGRAM_MAX 65507u

/* Element and link names are truncated to this many bytes (including the terminator). */
#define SIM_NAME_MAX 32u

/* The seed used when RQ_SIM_SEED is not set. */
#define SIM_DEFAULT_SEED 0x726f616d73696d31ULL

/* The default bound on processed events (see sim_set_step_limit). */
#define SIM_DEFAULT_STEP_LIMIT 50000000ULL

/* One UDP datagram in flight. `data` holds `len` bytes (capacity `cap`). `id` is unique in the
 * run; a copy made by duplication or an injector gets a new id and keeps the original's id in
 * `parent`. `ecn` is the IP ECN codepoint (0..3). The remaining fields belong to the sim. */
typedef struct sim_dgram {
    uint64_t id;
    uint64_t parent;
    rq_addr src;
    rq_addr dst;
    rq_time born; /* when it was created */
    uint32_t len;
    uint32_t cap;
    uint8_t ecn;
    uint8_t flags;  /* SIM_DG_* (internal) */
    uint32_t epoch; /* the link epoch it was accepted in (internal) */
    uint8_t data[];
} sim_dgram;

/* A scheduled action: returns 0, or a negative rq_err that stops the run. */
typedef int (*sim_call_fn)(sim *s, void *ctx);

/* A run predicate: true stops sim_run_until_pred. */
typedef bool (*sim_pred_fn)(sim *s, void *ctx);

/* Creates a simulation with virtual time 0 and the given seed (pass
 * sim_seed_from_env(SIM_DEFAULT_SEED) to honour RQ_SIM_SEED). *out is owned by the caller and
 * released with sim_free. Errors: RQ_ERR_INVALID_ARG (out NULL), RQ_ERR_NOMEM. */
int sim_new(uint64_t seed, sim **out);

/* Releases the simulation and everything in it: elements, links, pending datagrams, trace.
 * NULL is ignored. Node contexts (host.h) belong to the caller and are not touched. */
void sim_free(sim *s);

/* The run's seed, the current virtual time, the number of events processed so far. */
uint64_t sim_seed(const sim *s);
rq_time sim_now(const sim *s);
uint64_t sim_steps(const sim *s);

/* The run's trace and byte ledger (trace.h, ledger.h); owned by the sim. */
sim_trace *sim_get_trace(sim *s);

/* Bounds the number of events (and node sends) a run may process: the step that exceeds it
 * stops the run with RQ_ERR_LIMIT and a failure report ("livelock?"). Zero means the default
 * (SIM_DEFAULT_STEP_LIMIT). The bound counts from the creation of the sim. */
void sim_set_step_limit(sim *s, uint64_t steps);

/* When quiet, failures are recorded (sim_failure) but not printed to stderr. Tests that
 * provoke a failure on purpose set this; default false. */
void sim_set_quiet(sim *s, bool quiet);

/* Records a failure: the message, the time, the step count, the seed and how to replay it
 * (RQ_SIM_SEED=0x...), followed by the last trace entries; prints it to stderr unless quiet.
 * Returns `err` so that callers can `return sim_fail(s, rc, "...")`. The first failure wins;
 * later ones are printed but do not replace it. */
int sim_fail(sim *s, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The recorded failure report, or "" when the run has not failed. Owned by the sim. */
const char *sim_failure(const sim *s);

/* Schedules fn(s, ctx) at virtual time t (clamped to now when in the past). Events at equal
 * times run in the order they were scheduled. Errors: RQ_ERR_INVALID_ARG, RQ_ERR_NOMEM. */
int sim_at(sim *s, rq_time t, sim_call_fn fn, void *ctx);

/* Processes the next event. Returns 0, RQ_ERR_AGAIN when no event is pending, or the error
 * that stopped the run (RQ_ERR_LIMIT for the step bound, or a node's / callback's error). */
int sim_step(sim *s);

/* Processes every event with time <= t, then sets the clock to t (never backwards).
 * Returns 0 or the error that stopped the run. */
int sim_run_until(sim *s, rq_time t);

/* Processes events until none is left. Returns 0 or the error that stopped the run; a
 * scenario that never goes idle ends with RQ_ERR_LIMIT from the step bound. */
int sim_run_until_idle(sim *s);

/* Processes events until pred(s, ctx) is true (checked before the first event and after every
 * event). Returns 0 when it became true, RQ_ERR_AGAIN when virtual time would pass `deadline`
 * or no event is left first (the clock then stands at the deadline, or at the last event), or
 * the error that stopped the run. */
int sim_run_until_pred(sim *s, sim_pred_fn pred, void *ctx, rq_time deadline);

/* Number of events waiting in the queue. */
size_t sim_pending(const sim *s);

/* Creates a datagram of `len` bytes copied from `data` (data may be NULL: zero bytes), with a
 * fresh id and born = now. Returns NULL when out of memory or len > SIM_DGRAM_MAX. The caller
 * owns it until it hands it to a function that takes ownership, or frees it. */
sim_dgram *sim_dgram_new(sim *s, const rq_addr *src, const rq_addr *dst, const void *data,
                         size_t len);

/* A copy of dg with a fresh id and parent = dg->id, or NULL when out of memory. */
sim_dgram *sim_dgram_copy(sim *s, const sim_dgram *dg);

/* Returns a datagram to the sim's pool. NULL is ignored. */
void sim_dgram_free(sim *s, sim_dgram *dg);

/* Joins port `pa` of `a` and port `pb` of `b` with two unidirectional links, a→b configured by
 * `ab` and b→a by `ba` (NULL: an ideal link, zero delay and no impairment). Link names are
 * "<a>:<pa>><b>:<pb>" and the reverse. The links are owned by the sim; *lab and *lba (either
 * may be NULL) receive them. Errors: RQ_ERR_INVALID_ARG (a port out of range or already
 * joined), RQ_ERR_NOMEM. */
struct sim_link_cfg;
int sim_connect(sim *s, sim_elem *a, unsigned pa, sim_elem *b, unsigned pb,
                const struct sim_link_cfg *ab, const struct sim_link_cfg *ba, sim_link **lab,
                sim_link **lba);

/* Sends dg out of port `port` of element `e` onto the link joined there (ownership passes).
 * A port with no link drops the datagram (traced, reason "no_link"). Returns 0 or the error of
 * an element further along, or RQ_ERR_INVALID_ARG for a port out of range. */
int sim_elem_send(sim *s, sim_elem *e, unsigned port, sim_dgram *dg);

/* Hands dg directly to port `port` of element `e`, as if a link had just delivered it
 * (ownership passes). For injectors and tests. */
int sim_elem_receive(sim *s, sim_elem *e, unsigned port, sim_dgram *dg);

/* The element's name (owned by the element) and its number of ports. */
const char *sim_elem_name(const sim_elem *e);
unsigned sim_elem_ports(const sim_elem *e);

/* The link leaving port `port` of `e`, or NULL. */
sim_link *sim_elem_link(const sim_elem *e, unsigned port);

/* Formats an address as "1.2.3.4:443" or "[2001:db8::1]:443" into buf (at least 64 bytes
 * recommended; truncated otherwise). Returns buf. */
char *sim_addr_str(const rq_addr *a, char *buf, size_t cap);

/* Builds an IPv6 rq_addr from eight 16-bit groups and a port. */
rq_addr sim_addr_v6(const uint16_t groups[8], uint16_t port);

#endif
