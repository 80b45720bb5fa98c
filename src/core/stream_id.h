/* Stream identifiers (RFC 9000 §2.1): the two low bits say who opened a stream and whether it
 * carries data both ways; the rest is the stream's index within its type. */
#ifndef RQ_CORE_STREAM_ID_H
#define RQ_CORE_STREAM_ID_H

#include <stdbool.h>
#include <stdint.h>

#include <roamquic/types.h>

/* RFC 9000 §2.1: a stream ID is a 62-bit integer. */
#define RQ_STREAM_ID_MAX ((uint64_t)0x3fffffffffffffffULL)

/* RFC 9000 §2.1: bit 0 is the initiator (0 client, 1 server), bit 1 the direction (0 bidi,
 * 1 uni). The four types, as the low two bits of an ID: */
#define RQ_STREAM_CLIENT_BIDI 0x0u
#define RQ_STREAM_SERVER_BIDI 0x1u
#define RQ_STREAM_CLIENT_UNI  0x2u
#define RQ_STREAM_SERVER_UNI  0x3u

/* The stream type (RQ_STREAM_CLIENT_BIDI ... RQ_STREAM_SERVER_UNI) of an ID. */
static inline unsigned rq_stream_id_type(uint64_t id)
{
    return (unsigned)(id & 0x3u);
}

/* RFC 9000 §2.1: the 0x02 bit set means unidirectional. */
static inline bool rq_stream_id_is_uni(uint64_t id)
{
    return (id & 0x2u) != 0;
}

static inline bool rq_stream_id_is_bidi(uint64_t id)
{
    return (id & 0x2u) == 0;
}

/* RFC 9000 §2.1: the 0x01 bit set means the server opened the stream. */
static inline rq_role rq_stream_id_initiator(uint64_t id)
{
    return (id & 0x1u) ? RQ_ROLE_SERVER : RQ_ROLE_CLIENT;
}

/* Whether the endpoint playing `role` opened stream `id`. */
static inline bool rq_stream_id_is_local(uint64_t id, rq_role role)
{
    return rq_stream_id_initiator(id) == role;
}

/* The stream's position among the streams of its type: 0 for the first one opened. Stream
 * limits (MAX_STREAMS, RFC 9000 §4.6) count these: index < limit is allowed. */
static inline uint64_t rq_stream_id_index(uint64_t id)
{
    return id >> 2;
}

/* The ID of the index-th stream opened by `initiator` in the given direction. The caller
 * keeps index below 2^60 (RFC 9000 §4.6), so the result stays within 62 bits. */
static inline uint64_t rq_stream_id_make(rq_role initiator, bool uni, uint64_t index)
{
    return (index << 2) | (uni ? 0x2u : 0x0u) | (initiator == RQ_ROLE_SERVER ? 0x1u : 0x0u);
}

/* RFC 9000 §2.1: an endpoint sends on bidirectional streams and on the unidirectional
 * streams it opened. */
static inline bool rq_stream_id_can_send(uint64_t id, rq_role role)
{
    return rq_stream_id_is_bidi(id) || rq_stream_id_is_local(id, role);
}

/* RFC 9000 §2.1: an endpoint receives on bidirectional streams and on the unidirectional
 * streams its peer opened. */
static inline bool rq_stream_id_can_recv(uint64_t id, rq_role role)
{
    return rq_stream_id_is_bidi(id) || !rq_stream_id_is_local(id, role);
}

#endif
