/* QUIC transport parameters: encoding, decoding and validation (RFC 9000 §7.3, §7.4, §18;
 * RFC 9221 §3). See tparams.h for the contract of each function. */
#include "core/tparams.h"

#include "core/wire.h"

#include <roamquic/error.h>

#include <stddef.h>
#include <string.h>

#define TP_ERR RQ_ERR_TRANSPORT_PARAMETER

/* The integer-valued parameters and where each lives in rq_tparams, in id order (the order
 * the encoder writes them in). */
typedef struct int_param {
    uint64_t id;
    size_t offset;
} int_param;

static const int_param int_params[] = {
    {RQ_TP_MAX_IDLE_TIMEOUT, offsetof(rq_tparams, max_idle_timeout)},
    {RQ_TP_MAX_UDP_PAYLOAD_SIZE, offsetof(rq_tparams, max_udp_payload_size)},
    {RQ_TP_INITIAL_MAX_DATA, offsetof(rq_tparams, initial_max_data)},
    {RQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
     offsetof(rq_tparams, initial_max_stream_data_bidi_local)},
    {RQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
     offsetof(rq_tparams, initial_max_stream_data_bidi_remote)},
    {RQ_TP_INITIAL_MAX_STREAM_DATA_UNI, offsetof(rq_tparams, initial_max_stream_data_uni)},
    {RQ_TP_INITIAL_MAX_STREAMS_BIDI, offsetof(rq_tparams, initial_max_streams_bidi)},
    {RQ_TP_INITIAL_MAX_STREAMS_UNI, offsetof(rq_tparams, initial_max_streams_uni)},
    {RQ_TP_ACK_DELAY_EXPONENT, offsetof(rq_tparams, ack_delay_exponent)},
    {RQ_TP_MAX_ACK_DELAY, offsetof(rq_tparams, max_ack_delay)},
    {RQ_TP_ACTIVE_CONNECTION_ID_LIMIT, offsetof(rq_tparams, active_connection_id_limit)},
    {RQ_TP_MAX_DATAGRAM_FRAME_SIZE, offsetof(rq_tparams, max_datagram_frame_size)},
};

#define N_INT_PARAMS (sizeof int_params / sizeof int_params[0])

static uint64_t *int_field(rq_tparams *tp, size_t i)
{
    return (uint64_t *)(void *)((uint8_t *)tp + int_params[i].offset);
}

static uint64_t int_value(const rq_tparams *tp, size_t i)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)tp + int_params[i].offset, sizeof v);
    return v;
}

/* Whether integer parameter `id` may carry value v. The varint range (< 2^62) is the
 * caller's business. */
static bool int_value_valid(uint64_t id, uint64_t v)
{
    switch (id) {
    case RQ_TP_MAX_UDP_PAYLOAD_SIZE:
        /* RFC 9000 §18.2: a maximum UDP payload below 1200 bytes is invalid. */
        return v >= RQ_TP_MIN_MAX_UDP_PAYLOAD_SIZE;
    case RQ_TP_INITIAL_MAX_STREAMS_BIDI:
    case RQ_TP_INITIAL_MAX_STREAMS_UNI:
        /* RFC 9000 §18.2 (and §4.6): a stream count limit above 2^60 cannot be honoured —
         * stream IDs would no longer fit a varint — so it is a parameter error. */
        return v <= RQ_TP_MAX_STREAMS;
    case RQ_TP_ACK_DELAY_EXPONENT:
        /* RFC 9000 §18.2: exponents above 20 are invalid. */
        return v <= RQ_TP_MAX_ACK_DELAY_EXPONENT;
    case RQ_TP_MAX_ACK_DELAY:
        /* RFC 9000 §18.2: a maximum ACK delay of 2^14 ms or more is invalid. */
        return v < RQ_TP_MAX_MAX_ACK_DELAY;
    case RQ_TP_ACTIVE_CONNECTION_ID_LIMIT:
        /* RFC 9000 §18.2: the limit counts the handshake CID too, so it is at least 2. */
        return v >= RQ_TP_MIN_ACTIVE_CONNECTION_ID_LIMIT;
    default:
        return true;
    }
}

bool rq_tparams_is_reserved_id(uint64_t id)
{
    /* RFC 9000 §18.1: ids of the form 31 * N + 27 are reserved for greasing. */
    return id >= 27 && (id - 27) % 31 == 0;
}

void rq_tparams_init_defaults(rq_tparams *tp)
{
    memset(tp, 0, sizeof *tp);
    /* RFC 9000 §18.2: the defaults that are not zero. */
    tp->max_udp_payload_size = RQ_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE;
    tp->ack_delay_exponent = RQ_TP_DEFAULT_ACK_DELAY_EXPONENT;
    tp->max_ack_delay = RQ_TP_DEFAULT_MAX_ACK_DELAY;
    tp->active_connection_id_limit = RQ_TP_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT;
}

/* ---- encoding ---- */

/* RFC 9000 §18: every parameter is an id (varint), a length (varint) and that many bytes. */
static bool put_bytes(rq_wr *w, uint64_t id, const void *val, size_t n)
{
    return rq_wr_varint(w, id) && rq_wr_varint(w, n) && rq_wr_bytes(w, val, n);
}

static bool put_int(rq_wr *w, uint64_t id, uint64_t v)
{
    return rq_wr_varint(w, id) && rq_wr_varint(w, rq_varint_len(v)) && rq_wr_varint(w, v);
}

static bool put_cid(rq_wr *w, uint64_t id, const rq_cid *cid)
{
    return put_bytes(w, id, cid->data, cid->len);
}

static bool put_preferred_address(rq_wr *w, const rq_preferred_address *pa)
{
    /* RFC 9000 §18.2 (Figure 22): IPv4 address and port, IPv6 address and port, CID length,
     * CID, stateless reset token. */
    size_t n = RQ_TP_PREFERRED_ADDRESS_FIXED_LEN + pa->cid.len;
    return rq_wr_varint(w, RQ_TP_PREFERRED_ADDRESS) && rq_wr_varint(w, n) &&
           rq_wr_bytes(w, pa->ipv4_addr, sizeof pa->ipv4_addr) && rq_wr_u16(w, pa->ipv4_port) &&
           rq_wr_bytes(w, pa->ipv6_addr, sizeof pa->ipv6_addr) && rq_wr_u16(w, pa->ipv6_port) &&
           rq_wr_u8(w, pa->cid.len) && rq_wr_bytes(w, pa->cid.data, pa->cid.len) &&
           rq_wr_bytes(w, pa->stateless_reset_token, sizeof pa->stateless_reset_token);
}

static bool put_grease(rq_wr *w, uint64_t id)
{
    /* RFC 9000 §18.1: a reserved parameter's value is arbitrary; a few bytes derived from the
     * id keep the encoder deterministic while varying the length from 1 to 8. */
    uint8_t val[8];
    size_t n = 1 + (size_t)((id / 31) % 8);
    for (size_t i = 0; i < n; i++)
        val[i] = (uint8_t)((id >> (8 * i)) ^ (0x5a + 29 * i));
    return put_bytes(w, id, val, n);
}

/* Writes, in id order, the integer parameters from int_params[*next] on whose id is below
 * `limit` and whose value differs from its default (RFC 9000 §18.2: a receiver assumes the
 * default for an absent parameter), advancing *next past them. */
static bool put_ints_below(rq_wr *w, const rq_tparams *tp, size_t *next, uint64_t limit)
{
    rq_tparams defaults;
    rq_tparams_init_defaults(&defaults);
    for (; *next < N_INT_PARAMS && int_params[*next].id < limit; (*next)++) {
        uint64_t v = int_value(tp, *next);
        if (v != int_value(&defaults, *next) && !put_int(w, int_params[*next].id, v))
            return false;
    }
    return true;
}

/* The checks the encoder shares with the decoder's view of a complete, valid set. */
static int validate_for_encode(const rq_tparams *tp, bool server, uint64_t grease_id)
{
    for (size_t i = 0; i < N_INT_PARAMS; i++) {
        uint64_t v = int_value(tp, i);
        if (v > RQ_VARINT_MAX || !int_value_valid(int_params[i].id, v))
            return RQ_ERR_INVALID_ARG;
    }
    /* RFC 9000 §7.3: both sides send initial_source_connection_id. */
    if (!tp->has_initial_scid || tp->initial_scid.len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    if (server) {
        /* RFC 9000 §7.3: a server always sends original_destination_connection_id. */
        if (!tp->has_original_dcid || tp->original_dcid.len > RQ_MAX_CID_LEN)
            return RQ_ERR_INVALID_ARG;
        if (tp->has_retry_scid && tp->retry_scid.len > RQ_MAX_CID_LEN)
            return RQ_ERR_INVALID_ARG;
        if (tp->has_preferred_address) {
            /* RFC 9000 §18.2: the preferred address carries a non-empty CID, and a server
             * using zero-length CIDs cannot offer one. */
            const rq_cid *c = &tp->preferred_address.cid;
            if (c->len == 0 || c->len > RQ_MAX_CID_LEN || tp->initial_scid.len == 0)
                return RQ_ERR_INVALID_ARG;
        }
    }
    if (grease_id != 0 && (grease_id > RQ_VARINT_MAX || !rq_tparams_is_reserved_id(grease_id)))
        return RQ_ERR_INVALID_ARG;
    return 0;
}

int rq_tparams_encode(const rq_tparams *tp, rq_role sender, uint8_t *buf, size_t cap, size_t *len,
                      uint64_t grease_id_or_0)
{
    if (!tp || !len || (!buf && cap) || (sender != RQ_ROLE_CLIENT && sender != RQ_ROLE_SERVER))
        return RQ_ERR_INVALID_ARG;
    bool server = sender == RQ_ROLE_SERVER;
    int rc = validate_for_encode(tp, server, grease_id_or_0);
    if (rc)
        return rc;

    uint8_t dummy;
    rq_wr w = buf ? rq_wr_init(buf, cap) : rq_wr_init(&dummy, 0);
    const uint8_t *start = w.p;
    bool ok = true;
    size_t next_int = 0;

    /* RFC 9000 §18.2: a client must not send the server-only parameters, so it never does. */
    if (server)
        ok = put_cid(&w, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, &tp->original_dcid);
    ok = ok && put_ints_below(&w, tp, &next_int, RQ_TP_STATELESS_RESET_TOKEN);
    if (ok && server && tp->has_stateless_reset_token)
        ok = put_bytes(&w, RQ_TP_STATELESS_RESET_TOKEN, tp->stateless_reset_token,
                       RQ_RESET_TOKEN_LEN);
    ok = ok && put_ints_below(&w, tp, &next_int, RQ_TP_DISABLE_ACTIVE_MIGRATION);
    if (ok && tp->disable_active_migration)
        ok = put_bytes(&w, RQ_TP_DISABLE_ACTIVE_MIGRATION, NULL, 0);
    if (ok && server && tp->has_preferred_address)
        ok = put_preferred_address(&w, &tp->preferred_address);
    ok = ok && put_ints_below(&w, tp, &next_int, RQ_TP_INITIAL_SOURCE_CONNECTION_ID);
    if (ok)
        ok = put_cid(&w, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, &tp->initial_scid);
    if (ok && server && tp->has_retry_scid)
        ok = put_cid(&w, RQ_TP_RETRY_SOURCE_CONNECTION_ID, &tp->retry_scid);
    ok = ok && put_ints_below(&w, tp, &next_int, UINT64_MAX);
    if (ok && grease_id_or_0 != 0)
        ok = put_grease(&w, grease_id_or_0);
    if (!ok)
        return RQ_ERR_BUFFER_TOO_SMALL;
    *len = (size_t)(w.p - start);
    return 0;
}

/* ---- decoding ---- */

/* RFC 9000 §18: an integer parameter's value is exactly one varint — the value's length must
 * be the length the varint's first byte announces. */
static int get_int(const uint8_t *val, size_t n, uint64_t *v)
{
    if (n == 0 || rq_varint_len_from_first(val[0]) != n)
        return TP_ERR;
    rq_rd r = rq_rd_init(val, n);
    return rq_rd_varint(&r, v) ? 0 : TP_ERR;
}

static int get_cid(const uint8_t *val, size_t n, rq_cid *cid)
{
    /* RFC 9000 §18.2 (via §17.2): a version 1 connection ID is at most 20 bytes. */
    return rq_cid_set(cid, val, n) ? 0 : TP_ERR;
}

static int get_preferred_address(const uint8_t *val, size_t n, rq_preferred_address *pa)
{
    rq_rd r = rq_rd_init(val, n);
    uint8_t cid_len = 0;
    if (!rq_rd_copy(&r, sizeof pa->ipv4_addr, pa->ipv4_addr) || !rq_rd_u16(&r, &pa->ipv4_port) ||
        !rq_rd_copy(&r, sizeof pa->ipv6_addr, pa->ipv6_addr) || !rq_rd_u16(&r, &pa->ipv6_port) ||
        !rq_rd_u8(&r, &cid_len))
        return TP_ERR;
    /* RFC 9000 §18.2: the CID here is 1..20 bytes — a zero-length one is forbidden and a
     * client treats it as a parameter error — and the value holds exactly the CID and the
     * 16-byte token after it, nothing more. */
    if (cid_len == 0 || cid_len > RQ_MAX_CID_LEN || rq_rd_left(&r) != (size_t)cid_len + 16)
        return TP_ERR;
    pa->cid.len = cid_len;
    if (!rq_rd_copy(&r, cid_len, pa->cid.data) ||
        !rq_rd_copy(&r, RQ_RESET_TOKEN_LEN, pa->stateless_reset_token))
        return TP_ERR;
    return 0;
}

/* Decodes one parameter whose id is known or unknown; duplicates are already excluded. */
static int decode_param(rq_tparams *tp, bool from_client, uint64_t id, const uint8_t *val, size_t n)
{
    for (size_t i = 0; i < N_INT_PARAMS; i++) {
        if (int_params[i].id != id)
            continue;
        uint64_t v;
        if (get_int(val, n, &v) != 0)
            return TP_ERR;
        /* RFC 9000 §7.4: a value outside the parameter's range is a parameter error. */
        if (!int_value_valid(id, v))
            return TP_ERR;
        *int_field(tp, i) = v;
        return 0;
    }

    switch (id) {
    case RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID:
    case RQ_TP_STATELESS_RESET_TOKEN:
    case RQ_TP_PREFERRED_ADDRESS:
    case RQ_TP_RETRY_SOURCE_CONNECTION_ID:
        /* RFC 9000 §18.2: only a server sends these four; a server receiving any of them
         * from a client fails the handshake with TRANSPORT_PARAMETER_ERROR. */
        if (from_client)
            return TP_ERR;
        break;
    default:
        break;
    }

    switch (id) {
    case RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID:
        tp->has_original_dcid = true;
        return get_cid(val, n, &tp->original_dcid);
    case RQ_TP_STATELESS_RESET_TOKEN:
        /* RFC 9000 §18.2: the token is exactly 16 bytes. */
        if (n != RQ_RESET_TOKEN_LEN)
            return TP_ERR;
        memcpy(tp->stateless_reset_token, val, RQ_RESET_TOKEN_LEN);
        tp->has_stateless_reset_token = true;
        return 0;
    case RQ_TP_DISABLE_ACTIVE_MIGRATION:
        /* RFC 9000 §18.2: this flag parameter has an empty value. */
        if (n != 0)
            return TP_ERR;
        tp->disable_active_migration = true;
        return 0;
    case RQ_TP_PREFERRED_ADDRESS:
        tp->has_preferred_address = true;
        return get_preferred_address(val, n, &tp->preferred_address);
    case RQ_TP_INITIAL_SOURCE_CONNECTION_ID:
        tp->has_initial_scid = true;
        return get_cid(val, n, &tp->initial_scid);
    case RQ_TP_RETRY_SOURCE_CONNECTION_ID:
        tp->has_retry_scid = true;
        return get_cid(val, n, &tp->retry_scid);
    default:
        /* RFC 9000 §7.4.2 and §18.1: parameters this endpoint does not know, reserved
         * (GREASE) ones included, are ignored. */
        return 0;
    }
}

int rq_tparams_decode(rq_tparams *tp, rq_role sender, const uint8_t *buf, size_t len)
{
    if (!tp || (!buf && len) || (sender != RQ_ROLE_CLIENT && sender != RQ_ROLE_SERVER))
        return RQ_ERR_INVALID_ARG;
    bool from_client = sender == RQ_ROLE_CLIENT;

    rq_tparams out;
    rq_tparams_init_defaults(&out);
    /* Duplicate detection (RFC 9000 §7.4): ids below 64 — every known one among them — in a
     * bitmask, larger ids in a bounded list (see RQ_TP_MAX_TRACKED_UNKNOWN). */
    uint64_t seen_low = 0;
    uint64_t seen_high[RQ_TP_MAX_TRACKED_UNKNOWN];
    size_t n_high = 0;

    static const uint8_t empty = 0;
    rq_rd r = buf ? rq_rd_init(buf, len) : rq_rd_init(&empty, 0);
    while (rq_rd_left(&r) > 0) {
        uint64_t id, n;
        const uint8_t *val;
        /* RFC 9000 §18: a truncated id, length or value is malformed. */
        if (!rq_rd_varint(&r, &id) || !rq_rd_varint(&r, &n) || n > rq_rd_left(&r) ||
            !rq_rd_bytes(&r, (size_t)n, &val))
            return TP_ERR;

        /* RFC 9000 §7.4: a parameter appears at most once; receiving one twice is treated
         * as a parameter error. */
        if (id < 64) {
            uint64_t bit = (uint64_t)1 << id;
            if (seen_low & bit)
                return TP_ERR;
            seen_low |= bit;
        } else {
            for (size_t i = 0; i < n_high; i++)
                if (seen_high[i] == id)
                    return TP_ERR;
            if (n_high < RQ_TP_MAX_TRACKED_UNKNOWN)
                seen_high[n_high++] = id;
        }

        int rc = decode_param(&out, from_client, id, val, (size_t)n);
        if (rc)
            return rc;
    }

    /* RFC 9000 §7.3: initial_source_connection_id is mandatory from both endpoints, and
     * original_destination_connection_id is mandatory from a server. */
    if (!out.has_initial_scid || (!from_client && !out.has_original_dcid))
        return TP_ERR;
    /* RFC 9000 §18.2: a server that uses a zero-length connection ID must not offer a
     * preferred address; a client treats that as a parameter error. */
    if (out.has_preferred_address && out.initial_scid.len == 0)
        return TP_ERR;

    *tp = out;
    return 0;
}

/* ---- RFC 9000 §7.3 connection ID authentication ---- */

/* rq_cid_eq() that also refuses (rather than over-reads) a hand-built CID longer than 20. */
static bool cid_same(const rq_cid *a, const rq_cid *b)
{
    return a->len <= RQ_MAX_CID_LEN && b->len <= RQ_MAX_CID_LEN && rq_cid_eq(a, b);
}

int rq_tparams_check_cids(const rq_tparams *peer, rq_role peer_role,
                          const rq_cid *expected_initial_scid, const rq_cid *expected_odcid,
                          const rq_cid *expected_retry_scid)
{
    if (!peer || !expected_initial_scid ||
        (peer_role != RQ_ROLE_CLIENT && peer_role != RQ_ROLE_SERVER))
        return RQ_ERR_INVALID_ARG;
    if (peer_role == RQ_ROLE_SERVER && !expected_odcid)
        return RQ_ERR_INVALID_ARG;

    /* RFC 9000 §7.3: each endpoint's initial_source_connection_id must repeat the Source
     * Connection ID of its Initial packets. */
    if (!peer->has_initial_scid || !cid_same(&peer->initial_scid, expected_initial_scid))
        return TP_ERR;

    if (peer_role == RQ_ROLE_CLIENT) {
        /* RFC 9000 §18.2: a client's set never holds the server-only parameters (decode
         * already refuses them; this guards hand-built structs). */
        if (peer->has_original_dcid || peer->has_retry_scid || peer->has_preferred_address ||
            peer->has_stateless_reset_token)
            return TP_ERR;
        return 0;
    }

    /* RFC 9000 §7.3: the server's original_destination_connection_id must repeat the
     * Destination Connection ID of the client's first Initial packet. */
    if (!peer->has_original_dcid || !cid_same(&peer->original_dcid, expected_odcid))
        return TP_ERR;

    /* RFC 9000 §7.3: after a Retry, retry_source_connection_id must be present and repeat
     * the Retry packet's Source Connection ID; without a Retry it must be absent. Either
     * failure may be TRANSPORT_PARAMETER_ERROR or PROTOCOL_VIOLATION; we use the former. */
    if (expected_retry_scid) {
        if (!peer->has_retry_scid || !cid_same(&peer->retry_scid, expected_retry_scid))
            return TP_ERR;
    } else if (peer->has_retry_scid) {
        return TP_ERR;
    }
    return 0;
}

/* ---- comparison ---- */

static bool pa_eq(const rq_preferred_address *a, const rq_preferred_address *b)
{
    return memcmp(a->ipv4_addr, b->ipv4_addr, sizeof a->ipv4_addr) == 0 &&
           a->ipv4_port == b->ipv4_port &&
           memcmp(a->ipv6_addr, b->ipv6_addr, sizeof a->ipv6_addr) == 0 &&
           a->ipv6_port == b->ipv6_port && cid_same(&a->cid, &b->cid) &&
           memcmp(a->stateless_reset_token, b->stateless_reset_token, RQ_RESET_TOKEN_LEN) == 0;
}

bool rq_tparams_eq(const rq_tparams *a, const rq_tparams *b)
{
    for (size_t i = 0; i < N_INT_PARAMS; i++)
        if (int_value(a, i) != int_value(b, i))
            return false;
    if (a->has_original_dcid != b->has_original_dcid ||
        a->has_stateless_reset_token != b->has_stateless_reset_token ||
        a->disable_active_migration != b->disable_active_migration ||
        a->has_preferred_address != b->has_preferred_address ||
        a->has_initial_scid != b->has_initial_scid || a->has_retry_scid != b->has_retry_scid)
        return false;
    if (a->has_original_dcid && !cid_same(&a->original_dcid, &b->original_dcid))
        return false;
    if (a->has_stateless_reset_token &&
        memcmp(a->stateless_reset_token, b->stateless_reset_token, RQ_RESET_TOKEN_LEN) != 0)
        return false;
    if (a->has_preferred_address && !pa_eq(&a->preferred_address, &b->preferred_address))
        return false;
    if (a->has_initial_scid && !cid_same(&a->initial_scid, &b->initial_scid))
        return false;
    if (a->has_retry_scid && !cid_same(&a->retry_scid, &b->retry_scid))
        return false;
    return true;
}
