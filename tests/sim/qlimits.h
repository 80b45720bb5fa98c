/* Flow-control and stream-limit checks over a decoded wire trace (qtrace.h), per direction:
 * the "sender" is the side whose packets carry the frames, the "receiver" the side whose
 * limits apply. Each frame is judged against what the receiver had put on the wire before
 * the sender's packet left (trace order): a sender cannot use credit it has not been sent,
 * so a limit "in force" is never larger than that, and the check raises no false alarm.
 * The strict mode goes further: credit counts only once the packet carrying it was delivered
 * to the sender (qtrace_pkt.delivered), which is exactly the limit the sender knew — a lost
 * MAX_DATA grants nothing until its retransmission arrives.
 *
 *   stream data   offset + length of STREAM data <= the receiver's limit for the stream:
 *                 initial_max_stream_data_{bidi_local, bidi_remote, uni} (by who opened the
 *                 stream) raised by every MAX_STREAM_DATA the receiver sent (RFC 9000 §4.1);
 *   connection    the sum over streams of the highest offset sent (a RESET_STREAM's final
 *                 size counts as sent) <= initial_max_data raised by MAX_DATA (§4.1, §4.5);
 *   stream IDs    a stream the sender opens has an index below initial_max_streams_{bidi,uni}
 *                 raised by MAX_STREAMS (§4.6); STREAM frames on a unidirectional stream the
 *                 receiver opened are a violation too (§2.1, §19.8);
 *   final size    no data beyond a stream's final size, and no change of final size once a
 *                 FIN or RESET_STREAM gave it (§4.5).
 */
#ifndef RQ_SIM_QLIMITS_H
#define RQ_SIM_QLIMITS_H

#include "qtrace.h"

#include "core/tparams.h"

#include <stdio.h>

typedef enum qlimits_kind {
    QLIMITS_STREAM_DATA,  /* beyond the stream's flow-control limit */
    QLIMITS_CONN_DATA,    /* beyond the connection's flow-control limit */
    QLIMITS_STREAM_ID,    /* a stream beyond the stream limit */
    QLIMITS_FINAL_SIZE,   /* data beyond, or a change of, the final size */
    QLIMITS_WRONG_STREAM, /* STREAM data on the receiver's own unidirectional stream */
    QLIMITS__COUNT
} qlimits_kind;

typedef struct qlimits_violation {
    uint8_t kind; /* qlimits_kind */
    uint8_t dir;  /* the sender: QTRACE_C2S or QTRACE_S2C */
    size_t pkt;   /* index in the packet list */
    size_t frame; /* index in the frame array */
    rq_time t;
    uint64_t pn;
    uint64_t stream_id; /* UINT64_MAX for connection-level */
    uint64_t value;     /* the offset, sum or stream count that broke the limit */
    uint64_t limit;     /* the limit in force */
} qlimits_violation;

#define QLIMITS_KEEP 32

typedef struct qlimits_report {
    uint64_t packets, frames;   /* looked at */
    uint64_t stream_frames;     /* STREAM and RESET_STREAM frames checked */
    uint64_t credit_frames[2];  /* MAX_DATA / MAX_STREAM_DATA / MAX_STREAMS by receiver dir */
    uint64_t blocked_frames[2]; /* *_BLOCKED frames by sender dir (the limits bound) */
    uint64_t at_limit[2];       /* frames that reached a limit exactly, by sender */
    uint64_t streams[2];        /* streams the sender put data on */
    uint64_t bytes[2];          /* connection-level bytes (sum of highest offsets) */
    uint64_t violations;        /* all of them */
    uint64_t by_kind[QLIMITS__COUNT];
    size_t kept;
    qlimits_violation v[QLIMITS_KEEP]; /* the first ones */
} qlimits_report;

/* Checks pkts[0 .. n) (frames in `frames`) against the limits the client advertised in
 * client_tp and the server in server_tp; with `delivered_only`, credit frames take effect when
 * their packet was delivered (at or before the sender's packet's time), else when sent.
 * Returns 0 or RQ_ERR_NOMEM; the report says whether the limits held (violations == 0). */
int qlimits_check(const qtrace_pkt *pkts, size_t n, const rq_frame *frames,
                  const rq_tparams *client_tp, const rq_tparams *server_tp, bool delivered_only,
                  qlimits_report *out);

/* Prints the counters and every kept violation to f. */
void qlimits_print(const qlimits_report *r, FILE *f, const char *prefix);

const char *qlimits_kind_name(int kind);

#endif
