/* What each sent packet carried that matters after it is acknowledged or lost: the frame
 * records of RFC 9000 §13.3 ("retransmission of information"). Recovery keeps one opaque
 * token per packet; the token names a run of records in this log.
 *
 * Records are appended in send order into a ring; a packet's records are released when the
 * packet is acknowledged, lost or forgotten, and the ring's head advances over released
 * records. Memory is bounded by what we send (the recovery ledger's cap times the frames per
 * packet), never by what a peer sends. */
#ifndef RQ_CORE_SENTLOG_H
#define RQ_CORE_SENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One record: the frame type (RQ_FT_*, STREAM normalised to RQ_FT_STREAM) and its fields.
 *   ACK            a = Largest Acknowledged, b = packet number space
 *   CRYPTO         a = packet number space, b = offset, c = length
 *   STREAM         a = stream id, b = offset, c = length, fin
 *   RESET_STREAM   a = stream id, b = application error, c = final size
 *   STOP_SENDING   a = stream id, b = application error
 *   MAX_DATA, DATA_BLOCKED                  a = value
 *   MAX_STREAM_DATA, STREAM_DATA_BLOCKED    a = stream id, b = value
 *   MAX_STREAMS_*, STREAMS_BLOCKED_*        a = value (the type says which direction)
 *   NEW_CONNECTION_ID, RETIRE_CONNECTION_ID a = sequence number
 *   HANDSHAKE_DONE, PING                    - */
typedef struct rq_sent_frame {
    uint64_t type;
    uint64_t a, b, c;
    bool fin;
    bool released;
} rq_sent_frame;

typedef struct rq_sentlog {
    rq_sent_frame *ring; /* cap entries, cap a power of two (or 0) */
    size_t cap;
    uint64_t head; /* sequence number of the oldest record still held */
    uint64_t tail; /* sequence number of the next record */
    size_t max_records;
} rq_sentlog;

/* An empty log holding at most max_records unreleased-or-unreclaimed records. */
void rq_sentlog_init(rq_sentlog *l, size_t max_records);
void rq_sentlog_free(rq_sentlog *l);

/* Appends a record; returns 0, RQ_ERR_LIMIT (log full: do not send) or RQ_ERR_NOMEM. */
int rq_sentlog_append(rq_sentlog *l, const rq_sent_frame *f);

/* The sequence number the next append gets (a packet's first record). */
static inline uint64_t rq_sentlog_mark(const rq_sentlog *l)
{
    return l->tail;
}

/* A packet's token: its first record's sequence number and its record count. */
static inline uint64_t rq_sentlog_token(uint64_t first, uint64_t end)
{
    return (first << 16) | (end - first);
}

/* The record at sequence seq (NULL if already reclaimed). */
rq_sent_frame *rq_sentlog_at(rq_sentlog *l, uint64_t seq);

/* Marks the records of a token released and reclaims released records at the head. */
void rq_sentlog_release(rq_sentlog *l, uint64_t token);

#endif
