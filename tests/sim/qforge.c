/* Forged packets (qforge.h), built with the library's own codecs and crypto. */
#include "qforge.h"

#include "core/frame.h"
#include "core/packet.h"
#include "core/pn.h"
#include "core/wire.h"
#include "crypto/crypto.h"

#include <string.h>

int qforge_initial_resize(uint8_t *d, size_t *len, size_t cap, size_t target)
{
    rq_pkt_hdr h;
    rq_cid dcid;
    if (rq_pkt_parse(d, *len, 0, &h) != 0 || h.type != RQ_PKT_INITIAL || h.len != *len ||
        !rq_pkt_hdr_dcid(&h, &dcid) || target > cap || h.pn_offset < 2 ||
        (d[h.pn_offset - 2] & 0xc0) != 0x40)
        return RQ_ERR_INVALID_ARG;
    uint8_t cs[RQ_INITIAL_SECRET_LEN], ss[RQ_INITIAL_SECRET_LEN];
    rq_packet_key k = {0};
    rq_hp_key hp = {0};
    int rc = rq_initial_secrets(&dcid, cs, ss);
    if (!rc)
        rc = rq_packet_key_init(&k, RQ_AEAD_AES_128_GCM, cs, sizeof cs);
    if (!rc)
        rc = rq_hp_key_init(&hp, RQ_AEAD_AES_128_GCM, cs, sizeof cs);
    uint64_t pn = 0;
    size_t hdr_len = 0, payload_len = 0;
    if (!rc)
        rc = rq_packet_unprotect(&k, &hp, d, *len, h.pn_offset, RQ_PN_NONE, &pn, &hdr_len,
                                 &payload_len);
    /* The frames before the trailing PADDING are what the client said. */
    size_t used = 0;
    rq_rd r = rq_rd_init(d + hdr_len, payload_len);
    while (!rc && rq_rd_left(&r) > 0) {
        rq_frame f;
        rc = rq_frame_decode(&r, &f);
        if (!rc && f.type != RQ_FT_PADDING)
            used = payload_len - rq_rd_left(&r);
    }
    size_t new_payload = target - hdr_len - RQ_AEAD_TAG_LEN;
    if (!rc && (target < hdr_len + RQ_AEAD_TAG_LEN || new_payload < used))
        rc = RQ_ERR_INVALID_ARG;
    if (!rc) {
        memset(d + hdr_len + used, 0, new_payload - used);
        /* The two-byte Length field counts packet number, payload and tag (RFC 9000 §17.2). */
        size_t length = hdr_len - h.pn_offset + new_payload + RQ_AEAD_TAG_LEN;
        d[h.pn_offset - 2] = (uint8_t)(0x40 | (length >> 8));
        d[h.pn_offset - 1] = (uint8_t)length;
        rc = rq_packet_protect(&k, &hp, pn, d, hdr_len + new_payload, h.pn_offset, cap, len);
    }
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
    return rc;
}

int qforge_retry(const uint8_t *initial, size_t len, const rq_cid *scid, const uint8_t *token,
                 size_t token_len, uint8_t *out, size_t cap, size_t *out_len)
{
    rq_pkt_hdr h;
    rq_cid odcid, client_scid;
    if (rq_pkt_parse(initial, len, 0, &h) != 0 || h.type != RQ_PKT_INITIAL ||
        !rq_pkt_hdr_dcid(&h, &odcid) || !rq_pkt_hdr_scid(&h, &client_scid) ||
        cap < RQ_RETRY_TAG_LEN)
        return RQ_ERR_INVALID_ARG;
    rq_wr w = rq_wr_init(out, cap - RQ_RETRY_TAG_LEN);
    int rc = rq_pkt_write_retry(&w, RQ_VERSION_1, &client_scid, scid, token, token_len, 0x5);
    if (rc)
        return rc;
    size_t n = (size_t)(w.p - out);
    rq_retry_aead ra;
    rc = rq_retry_aead_init(&ra);
    if (rc)
        return rc;
    rc = rq_retry_tag_compute(&ra, &odcid, out, n, out + n);
    rq_retry_aead_deinit(&ra);
    if (!rc)
        *out_len = n + RQ_RETRY_TAG_LEN;
    return rc;
}
