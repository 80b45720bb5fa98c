/* A decrypting wire trace: a passive observer of one QUIC v1 connection that holds the
 * connection's key log, as a tester with SSLKEYLOGFILE and a packet capture would. It sees
 * every datagram a host sent or an injector created (a trace hook, trace.h), derives the
 * Initial keys from the client's first Destination Connection ID (again from a Retry's Source
 * Connection ID, RFC 9001 §5.2), takes the Handshake and 1-RTT secrets from the NSS key-log
 * lines both endpoints emit (rq_config_set_keylog), follows 1-RTT key phases (§6), removes
 * header protection, recovers packet numbers per direction and space (RFC 9000 §A.3), opens
 * every coalesced packet and decodes its frames.
 *
 * Tests then assert on what the endpoints put on the wire, not on their own counters: the
 * result is a list of decoded packets (qtrace_pkt) whose frames live in one array
 * (qtrace.frames), plus counts of what could not be decoded — which must be zero in a clean
 * run, except for datagrams a test forged or a link corrupted on purpose.
 *
 * From the cleartext TLS messages inside CRYPTO frames it also reads the client random (to
 * pick this connection's key-log lines), the negotiated cipher suite (ServerHello) and both
 * sides' transport parameters (ClientHello, EncryptedExtensions), so that limit checks
 * (qlimits.h) can use the limits as advertised on the wire.
 *
 * Each packet also gets the time its datagram (or a copy of it) was first delivered to a host,
 * from the trace's RECV entries: when the other side could first have acted on it.
 *
 * One connection per qtrace (the first client Initial seen defines it). Datagrams a link
 * duplicated, reordered, corrupted or delivered are the same bytes seen again and are not
 * decoded; only SEND (a host emitted it) and INJECT (an injector created it) entries are.
 */
#ifndef RQ_SIM_QTRACE_H
#define RQ_SIM_QTRACE_H

#include "sim.h"
#include "trace.h"

#include "core/frame.h"
#include "core/tparams.h"
#include "crypto/crypto.h"

#include <roamquic/config.h>

#include <stdbool.h>
#include <stdint.h>

/* Directions: which side's packets. */
#define QTRACE_C2S 0 /* sent by the client */
#define QTRACE_S2C 1 /* sent by the server */

/* Packet number spaces (RFC 9000 §12.3), and "none" for Retry and Version Negotiation. */
#define QTRACE_SPACE_NONE 0xff

/* A packet's delivery time when no host ever took delivery of it (lost, dropped). */
#define QTRACE_NEVER UINT64_MAX

/* One decoded packet. Its frames are frames[first_frame .. first_frame + frame_count) of the
 * qtrace. A frame's pointers into packet bytes are not kept (the bytes are gone after the
 * hook returns): STREAM and CRYPTO data, NEW_TOKEN tokens, CONNECTION_CLOSE reasons and ACK
 * range bytes are NULL with their lengths and counts kept (range_bytes_len is 0). */
typedef struct qtrace_pkt {
    rq_time t;
    size_t trace_index; /* the trace entry of its datagram */
    uint64_t dgram_id;
    rq_addr src, dst;
    uint32_t len; /* this packet's bytes on the wire (header, payload, tag) */
    uint8_t dir;  /* QTRACE_C2S or QTRACE_S2C */
    uint8_t type; /* rq_pkt_type */
    uint8_t space;
    uint8_t key_phase; /* 1-RTT only: the key phase bit */
    bool injected;     /* created by an injector (SIM_EV_INJECT) */
    uint64_t pn;       /* full packet number (0 for Retry / VN) */
    rq_cid dcid;       /* the Destination Connection ID it was sent with */
    rq_time delivered; /* when a host first took delivery of it (or a copy); QTRACE_NEVER */
    size_t first_frame, frame_count;
} qtrace_pkt;

/* What could not be decoded, and a few facts learnt along the way. */
typedef struct qtrace_stats {
    uint64_t datagrams;         /* SEND and INJECT datagrams looked at */
    uint64_t packets;           /* packets decrypted (plus Retry and VN packets) */
    uint64_t frames;            /* frames decoded */
    uint64_t undecryptable;     /* header protection or AEAD failed with every candidate key */
    uint64_t no_keys;           /* no key known (yet) for the space, e.g. before the key log */
    uint64_t malformed;         /* unparseable header, or a frame that does not decode */
    uint64_t bad_reserved;      /* decrypted, but reserved header bits set (RFC 9000 §17.2) */
    uint64_t resets;            /* short-header datagrams ending with a known reset token */
    uint64_t unknown_dir;       /* injected datagrams from an address of neither side */
    uint64_t retries;           /* Retry packets (Initial keys re-derived after each) */
    uint64_t key_updates[2];    /* 1-RTT key phase changes seen per direction */
    uint64_t keylog_lines;      /* lines taken (both endpoints log the same secrets) */
    uint64_t old_phase_packets; /* opened with the previous phase's key (late packets) */
} qtrace_stats;

#define QTRACE_KEYLOG_MAX  16
#define QTRACE_CRYPTO_KEEP 8192 /* prefix of each CRYPTO stream kept for TLS parsing */
#define QTRACE_TOKENS_MAX  16

/* Keys of one direction in one packet number space. For 1-RTT, `key` is the current phase
 * (bit `phase`), `prev` the one before it (for late packets, RFC 9001 §6.5). */
typedef struct qtrace_keys {
    bool have;
    bool have_prev;
    uint8_t phase;
    rq_packet_key key, prev;
    rq_hp_key hp;
    uint64_t largest; /* largest packet number opened (RQ_PN_NONE) */
} qtrace_keys;

/* The cleartext prefix of one CRYPTO stream (direction, space). */
typedef struct qtrace_crypto {
    uint8_t buf[QTRACE_CRYPTO_KEEP];
    uint8_t have[QTRACE_CRYPTO_KEEP / 8]; /* which bytes arrived */
    size_t contiguous;                    /* bytes from offset 0 all present */
    bool parsed;
} qtrace_crypto;

typedef struct qtrace_keylog {
    uint8_t label; /* internal index */
    uint8_t random[32];
    uint8_t secret[RQ_MAX_SECRET_LEN];
    uint8_t secret_len;
} qtrace_keylog;

typedef struct qtrace {
    qtrace_pkt *pkts;
    size_t count, cap;
    rq_frame *frames;
    size_t frame_count, frame_cap;
    qtrace_stats st;
    bool oom;

    /* What the observer learnt. */
    bool have_client;
    uint32_t client_where; /* trace id of the client's host (SEND entries) */
    rq_addr side_addr[2][8];
    size_t side_addr_count[2];
    rq_cid odcid; /* the client's first DCID, then a Retry's SCID */
    bool have_random;
    uint8_t client_random[32];
    bool have_alg;
    rq_aead_alg alg; /* from the ServerHello */
    bool have_tp[2];
    rq_tparams tp[2]; /* by sender: QTRACE_C2S = the client's parameters */
    int cid_len[2];   /* by issuer: the CID length each side uses (-1: unknown) */
    uint8_t tokens[2][QTRACE_TOKENS_MAX][RQ_RESET_TOKEN_LEN];
    size_t token_count[2];

    qtrace_keys keys[2][3];      /* [direction][space] */
    qtrace_crypto *crypto[2][2]; /* [direction][Initial, Handshake], allocated when needed */
    qtrace_keylog keylog[QTRACE_KEYLOG_MAX];
    size_t keylog_count;
    uint8_t *work, *tmp; /* scratch: a datagram copy, a packet copy per key attempt */
} qtrace;

/* Starts observing s (keeps trace entries and installs the trace hook, replacing any other;
 * qt must outlive the run). 0 or RQ_ERR_NOMEM. */
int qtrace_attach(qtrace *qt, sim *s);

/* The key-log callback (ctx: the qtrace). qtrace_config installs it on a configuration. */
void qtrace_keylog_line(void *ctx, const char *line);
void qtrace_config(qtrace *qt, rq_config *cfg);

/* Frees everything and wipes the key material. */
void qtrace_free(qtrace *qt);

/* Decodes one datagram (what the hook does for SEND and INJECT entries; exposed so that a
 * test can feed bytes of its own). */
void qtrace_datagram(qtrace *qt, const sim_trace_entry *e, size_t trace_index, const uint8_t *data,
                     size_t len);

/* Marks the packets of datagram `id` delivered at t (what the hook does for RECV entries). */
void qtrace_delivered(qtrace *qt, uint64_t id, rq_time t);

/* Decodes a CRYPTO frame's bytes into the stream of (dir, space) and parses TLS messages from
 * it once complete (qtrace_tls.c). */
void qtrace_crypto_data(qtrace *qt, int dir, int space, uint64_t offset, const uint8_t *data,
                        size_t len);

/* The secret a key-log line gave for (dir, space 1 or 2) of this connection, or NULL. */
const qtrace_keylog *qtrace_find_secret(const qtrace *qt, int dir, int space);

/* The first frame of `type` in packet p, or NULL. */
const rq_frame *qtrace_pkt_frame(const qtrace *qt, const qtrace_pkt *p, uint64_t type);

/* Whether every frame of p is a probing frame (RFC 9000 §9.1). */
bool qtrace_pkt_only_probing(const qtrace *qt, const qtrace_pkt *p);

/* Prints a one-line summary of the counters to f with a prefix. */
void qtrace_print_stats(const qtrace *qt, FILE *f, const char *prefix);

#endif
