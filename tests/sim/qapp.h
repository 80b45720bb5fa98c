/* A roamquic endpoint as a simulator node with a scripted application richer than qnode's:
 * a client uploads a known pattern on several bidirectional streams (opening more as the
 * peer's stream limit allows, RFC 9000 §4.6), a server checks every stream's bytes and
 * answers each finished stream with its own FIN, keep-alive, a close on request, and an
 * endpoint that can be replaced (a server restart) while the host and its address stay.
 * Tests read the outcome from the struct. */
#ifndef RQ_SIM_QAPP_H
#define RQ_SIM_QAPP_H

#include "epglue.h"
#include "host.h"
#include "rng.h"
#include "sim.h"

#include <roamquic/roamquic.h>

#define QAPP_MAX_STREAMS 64

typedef struct qapp_stream {
    int64_t id;
    uint64_t sent;     /* bytes written (client) */
    uint64_t received; /* bytes read */
    uint64_t bad;      /* read bytes that differ from the pattern */
    bool fin_written;
    bool fin_read;
} qapp_stream;

typedef struct sim_qapp {
    sim *s;
    sim_host *host;
    rq_endpoint *ep;
    rq_config *cfg; /* owned */
    sim_rng rng;
    rq_addr addr;
    rq_conn *conn;
    bool is_client; /* set by sim_qapp_connect */

    /* Client script: `want_streams` streams of `stream_bytes` each. */
    unsigned want_streams;
    uint64_t stream_bytes;
    unsigned opened;  /* streams opened so far */
    unsigned refused; /* rq_stream_open answered RQ_ERR_STREAM_LIMIT */
    unsigned opened_at_first_refusal;
    rq_time keepalive; /* set on the connection once it exists (0: none) */
    qapp_stream out[QAPP_MAX_STREAMS];

    /* Server side (and the client's reading of the server's FINs). */
    qapp_stream in[QAPP_MAX_STREAMS]; /* by stream index (id >> 2) */
    unsigned peer_streams;            /* RQ_EV_STREAM_OPENED */
    unsigned fins_read;
    uint64_t received, bad_bytes;

    /* Outcome. */
    bool connected;
    rq_time connected_at;
    unsigned accepted;
    bool closed;
    rq_time closed_at;
    uint64_t close_code;
    bool close_app, close_by_peer;
    int error;       /* the first unexpected API error */
    sim_epglue glue; /* the node operations (epglue.h) */
} sim_qapp;

/* The byte at offset off of the stream with index k (id >> 2). */
static inline uint8_t qapp_pattern(unsigned k, uint64_t off)
{
    return (uint8_t)(((off + (uint64_t)k * 1000003u) * 2654435761u) >> 13);
}

/* Makes the node: an endpoint with cfg (owned from then on, freed in sim_qapp_free, also on
 * failure), a host named `name` with `addr` on one interface. */
int sim_qapp_new(sim *s, const char *name, rq_config *cfg, const rq_addr *addr, sim_qapp **out);
void sim_qapp_free(sim_qapp *a);

/* Client: connects to server and, once connected, uploads streams x stream_bytes. */
int sim_qapp_connect(sim_qapp *a, const rq_addr *server, const char *sni, unsigned streams,
                     uint64_t stream_bytes);

/* Client: `more` streams of stream_bytes each on top of those asked for before (opened now
 * if the connection is up). */
int sim_qapp_upload_more(sim_qapp *a, unsigned more);

/* Closes the connection with an application error (RFC 9000 §10.2) at the current time. */
int sim_qapp_close(sim_qapp *a, uint64_t app_error, const char *reason);

/* Replaces the endpoint by a fresh one from the same configuration, dropping every
 * connection without a word (a crash and restart); stream and outcome state is cleared. */
int sim_qapp_restart(sim_qapp *a);

/* Bytes of every client stream read by the server, with FIN, and the server's FIN read back by
 * the client: the whole upload is done. */
bool sim_qapp_upload_done(const sim_qapp *client, const sim_qapp *server);

#endif
