/* A wire log for connection tests: a trace hook (trace.h) that reads the parts of each QUIC
 * datagram that travel in clear — header form, long-header type and version, connection IDs,
 * an Initial's or a Retry's token, a Version Negotiation packet's version list, the last 16
 * bytes (where a Stateless Reset carries its token) — for every datagram a host sent or
 * received or an injector created. Tests then assert on what went over the wire, not on what
 * an endpoint says about itself. Only the first packet of a datagram is read. */
#ifndef RQ_SIM_QWIRE_H
#define RQ_SIM_QWIRE_H

#include "sim.h"
#include "trace.h"

#include <stdbool.h>
#include <stdint.h>

/* Long-header packet types of QUIC v1 (RFC 9000 §17.2), and two of our own. */
#define QWIRE_INITIAL   0
#define QWIRE_0RTT      1
#define QWIRE_HANDSHAKE 2
#define QWIRE_RETRY     3
#define QWIRE_SHORT     4 /* a short header (1-RTT, or a Stateless Reset) */
#define QWIRE_VN        5 /* Version Negotiation (version 0) */
#define QWIRE_OTHER     6 /* a long header of another version, or unreadable */

#define QWIRE_TOKEN_MAX 128

typedef struct qwire_pkt {
    rq_time t;
    uint8_t kind; /* SIM_EV_SEND, SIM_EV_RECV or SIM_EV_INJECT */
    rq_addr src, dst;
    uint32_t len; /* the whole datagram */
    uint8_t first;
    uint8_t type; /* QWIRE_* */
    uint32_t version;
    uint8_t dcid_len, scid_len; /* long headers only */
    uint8_t dcid[20], scid[20];
    uint16_t token_len; /* Initial and Retry */
    uint8_t token[QWIRE_TOKEN_MAX];
    uint32_t vn_versions[8]; /* Version Negotiation: the first eight */
    uint8_t vn_count;
    uint8_t tail[16]; /* the datagram's last 16 bytes (zero if shorter) */
} qwire_pkt;

typedef struct qwire {
    qwire_pkt *pkts;
    size_t count, cap;
    bool oom;
} qwire;

/* Starts logging every kept trace entry of s into w (which must outlive the run). */
void qwire_attach(qwire *w, sim *s);
void qwire_free(qwire *w);

/* Reads one datagram's clear parts into p (time, kind and addresses are left alone). */
void qwire_parse(const uint8_t *data, size_t len, qwire_pkt *p);

/* The index of the first logged datagram at or after index `from` of this kind, from `src`
 * (family 0: any), of type `type` (-1: any); -1 when there is none. */
long qwire_find(const qwire *w, size_t from, uint8_t kind, const rq_addr *src, int type);

/* How many logged datagrams of this kind (and type, -1 any) came from src (family 0: any)
 * at or after time t. */
size_t qwire_count(const qwire *w, uint8_t kind, const rq_addr *src, int type, rq_time t);

/* The time of the last datagram of this kind from src (family 0: any); 0 when none. */
rq_time qwire_last_time(const qwire *w, uint8_t kind, const rq_addr *src);

#endif
