/* Fuzzes the receive path from datagram to frames: coalesced header parsing, header
 * protection removal, packet number recovery, AEAD open, reserved bits, frame decoding and the
 * packet-type rules of RFC 9000 §12.4.
 *
 * The first input byte picks the mode:
 *  - even: the rest is a datagram as received by a server. Initial packets are opened with
 *    keys derived from their DCID (RFC 9001 §5.2), other types with fixed keys, Retry tags are
 *    verified. Arbitrary bytes rarely authenticate, so this mode exercises everything before
 *    the AEAD.
 *  - odd: the rest is [dcid_len][dcid][4-byte pn][payload]. The harness builds a client
 *    Initial around the payload and protects it, then receives it as the server would: the
 *    fuzzer's bytes reach the frame decoder, and the packet must round-trip exactly.
 */
#include "core/frame.h"
#include "core/packet.h"
#include "core/pn.h"
#include "crypto/crypto.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define SHORT_DCID_LEN 8
#define MAX_DATAGRAM   1500

struct fixed_keys {
    int ready;
    rq_packet_key key;
    rq_hp_key hp;
    rq_retry_aead retry;
};

/* Keys for non-Initial packets, made once: the fuzzer cannot forge tags anyway. */
static struct fixed_keys *fixed_keys(void)
{
    static struct fixed_keys fk;
    if (!fk.ready) {
        uint8_t secret[32];
        memset(secret, 0x5a, sizeof secret);
        if (rq_packet_key_init(&fk.key, RQ_AEAD_AES_128_GCM, secret, sizeof secret) ||
            rq_hp_key_init(&fk.hp, RQ_AEAD_AES_128_GCM, secret, sizeof secret) ||
            rq_retry_aead_init(&fk.retry))
            abort();
        fk.ready = 1;
    }
    return &fk;
}

/* Initial keys for one direction, from the client's chosen DCID. */
static int initial_keys(const rq_cid *dcid, int client_side, rq_packet_key *k, rq_hp_key *hp)
{
    uint8_t cs[RQ_INITIAL_SECRET_LEN], ss[RQ_INITIAL_SECRET_LEN];
    if (rq_initial_secrets(dcid, cs, ss))
        return -1;
    const uint8_t *s = client_side ? cs : ss;
    if (rq_packet_key_init(k, RQ_AEAD_AES_128_GCM, s, RQ_INITIAL_SECRET_LEN))
        return -1;
    if (rq_hp_key_init(hp, RQ_AEAD_AES_128_GCM, s, RQ_INITIAL_SECRET_LEN)) {
        rq_packet_key_deinit(k);
        return -1;
    }
    return 0;
}

static void decode_frames(const uint8_t *payload, size_t len, rq_pkt_type type)
{
    if (rq_frame_check_payload(len) != 0)
        return; /* RFC 9000 §12.4: no frames is a PROTOCOL_VIOLATION */
    rq_rd r = rq_rd_init(payload, len);
    while (rq_rd_left(&r) > 0) {
        rq_frame f;
        if (rq_frame_decode(&r, &f) < 0)
            return;
        if (rq_frame_allowed(f.type, type, RQ_ROLE_SERVER) < 0)
            return;
        if (rq_frame_is_ack_eliciting(f.type) && f.type == RQ_FT_PADDING)
            abort(); /* §13.2: PADDING alone never elicits an ACK */
        if (f.type == RQ_FT_ACK || f.type == RQ_FT_ACK_ECN) {
            rq_ack_iter it;
            rq_ack_range range;
            uint64_t prev = UINT64_MAX;
            rq_ack_iter_init(&it, &f.ack);
            while (rq_ack_iter_next(&it, &range)) {
                /* Validated ranges descend and never wrap. */
                if (range.smallest > range.largest || range.largest >= prev)
                    abort();
                prev = range.smallest;
            }
        }
    }
}

/* Receives one parsed packet in place; returns the decrypted payload length or -1. */
static long receive_packet(uint8_t *pkt, const rq_pkt_hdr *h, uint64_t *pn_out,
                           const uint8_t **payload)
{
    struct fixed_keys *fk = fixed_keys();
    if (h->type == RQ_PKT_RETRY) {
        rq_cid odcid;
        if (rq_pkt_hdr_dcid(h, &odcid))
            (void)rq_retry_tag_verify(&fk->retry, &odcid, pkt, h->len);
        return -1;
    }
    if (h->type == RQ_PKT_VERSION_NEGOTIATION) {
        /* Reading every listed version must stay inside the packet (ASan checks). */
        for (size_t i = 0; i < h->num_versions; i++)
            (void)rq_pkt_vn_version(h, i);
        return -1;
    }
    rq_packet_key ik;
    rq_hp_key ihp;
    rq_packet_key *k = &fk->key;
    rq_hp_key *hp = &fk->hp;
    int own_keys = 0;
    if (h->type == RQ_PKT_INITIAL) {
        rq_cid dcid;
        if (!rq_pkt_hdr_dcid(h, &dcid) || initial_keys(&dcid, 1, &ik, &ihp))
            return -1;
        k = &ik;
        hp = &ihp;
        own_keys = 1;
    }
    uint64_t pn;
    size_t hdr_len, plen;
    long result = -1;
    if (rq_packet_unprotect(k, hp, pkt, h->len, h->pn_offset, RQ_PN_NONE, &pn, &hdr_len, &plen) ==
            0 &&
        rq_pkt_check_reserved_bits(pkt[0], h->type) == 0) {
        if (hdr_len + plen > h->len || pn > RQ_PN_MAX)
            abort();
        decode_frames(pkt + hdr_len, plen, h->type);
        *pn_out = pn;
        *payload = pkt + hdr_len;
        result = (long)plen;
    }
    if (own_keys) {
        rq_packet_key_deinit(&ik);
        rq_hp_key_deinit(&ihp);
    }
    return result;
}

static void receive_datagram(uint8_t *dg, size_t len)
{
    size_t off = 0;
    while (off < len) {
        rq_pkt_hdr h;
        if (rq_pkt_parse(dg + off, len - off, SHORT_DCID_LEN, &h) != 0)
            return;
        if (h.len == 0 || h.len > len - off)
            abort(); /* the parser promised to stay inside the datagram */
        uint64_t pn;
        const uint8_t *payload;
        (void)receive_packet(dg + off, &h, &pn, &payload);
        off += h.len;
    }
}

static void roundtrip_initial(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    rq_cid dcid;
    dcid.len = (uint8_t)(data[0] % (RQ_MAX_CID_LEN + 1));
    data++;
    size--;
    if (size < dcid.len + 4u)
        return;
    memcpy(dcid.data, data, dcid.len);
    uint64_t pn = (uint64_t)data[dcid.len] << 24 | (uint64_t)data[dcid.len + 1] << 16 |
                  (uint64_t)data[dcid.len + 2] << 8 | data[dcid.len + 3];
    const uint8_t *payload = data + dcid.len + 4;
    size_t payload_len = size - dcid.len - 4;
    if (payload_len > 1200)
        payload_len = 1200;

    uint8_t pkt[MAX_DATAGRAM];
    rq_wr w = rq_wr_init(pkt, sizeof pkt);
    rq_pkt_wpos pos;
    rq_cid scid = {0};
    if (rq_pkt_write_long(&w, RQ_PKT_INITIAL, RQ_VERSION_1, &dcid, &scid, NULL, 0, pn, 4, 2,
                          &pos) ||
        !rq_wr_bytes(&w, payload, payload_len) ||
        rq_pkt_finish_long(&pos, 4 + payload_len + RQ_AEAD_TAG_LEN))
        abort();
    rq_packet_key k;
    rq_hp_key hp;
    if (initial_keys(&dcid, 1, &k, &hp))
        abort();
    size_t out_len;
    if (rq_packet_protect(&k, &hp, pn, pkt, (size_t)(w.p - pkt), pos.pn_offset, sizeof pkt,
                          &out_len))
        abort();
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);

    rq_pkt_hdr h;
    if (rq_pkt_parse(pkt, out_len, SHORT_DCID_LEN, &h) || h.type != RQ_PKT_INITIAL ||
        h.len != out_len)
        abort();
    uint64_t got_pn;
    const uint8_t *got;
    long got_len = receive_packet(pkt, &h, &got_pn, &got);
    if (got_len < 0) {
        /* Only the reserved-bit check may refuse a packet we protected ourselves, and we
         * never set those bits. */
        abort();
    }
    if (got_pn != pn || (size_t)got_len != payload_len || memcmp(got, payload, payload_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_DATAGRAM + 1)
        return 0;
    if (data[0] & 1) {
        roundtrip_initial(data + 1, size - 1);
        return 0;
    }
    uint8_t dg[MAX_DATAGRAM];
    memcpy(dg, data + 1, size - 1);
    receive_datagram(dg, size - 1);
    return 0;
}
