/* A client and a server (qapp.h) joined by one pair of links, with the wire log (qwire.h)
 * optionally attached: the common scene of the connection tests. */
#ifndef RQ_SIM_QPAIR_H
#define RQ_SIM_QPAIR_H

#include "link.h"
#include "qapp.h"
#include "qwire.h"

typedef struct qpair {
    sim *s;
    sim_qapp *client, *server;
    sim_link *c2s, *s2c;
    qwire wire;
} qpair;

extern const rq_addr QPAIR_CLIENT_ADDR;
extern const rq_addr QPAIR_SERVER_ADDR;

/* A test configuration (qnode's certificates and ALPN) for role, with transport settings t
 * (NULL: defaults) and a cipher-suite mask (0: all). NULL on failure. */
rq_config *qpair_config(rq_role role, const rq_transport_settings *t, unsigned ciphers);

/* Builds the scene (the configurations become the nodes'). With `wire` the trace keeps entries
 * and the wire log records them; without, the trace only digests (fast bulk transfers). */
int qpair_new(qpair *p, uint64_t seed, const sim_link_cfg *link, rq_config *ccfg, rq_config *scfg,
              bool wire);
void qpair_free(qpair *p);

/* Run predicates: the upload finished (or either side closed); both sides connected (or
 * either closed); both sides closed. */
bool qpair_upload_done(sim *s, void *ctx);
bool qpair_connected(sim *s, void *ctx);
bool qpair_both_closed(sim *s, void *ctx);

#endif
