/* IPv6 flow labels (RFC 9000 §9.7): see flowlabel.h. */
#include "core/flowlabel.h"

#include <string.h>

/* family, port (big-endian), 16 address bytes and the scope: the fields, never the padding. */
#define ADDR_BYTES 23

static uint8_t *put_addr(uint8_t *p, const rq_addr *a)
{
    *p++ = a->family;
    *p++ = (uint8_t)(a->port >> 8);
    *p++ = (uint8_t)a->port;
    memcpy(p, a->ip, 16);
    p += 16;
    for (int shift = 24; shift >= 0; shift -= 8)
        *p++ = (uint8_t)(a->scope >> shift);
    return p;
}

uint32_t rq_flow_label(const uint8_t key[RQ_SIPHASH_KEY_LEN], const rq_path_addr *path,
                       const rq_cid *dcid)
{
    if (path->remote.family != RQ_AF_INET6)
        return 0;
    uint8_t msg[2 * ADDR_BYTES + 1 + RQ_MAX_CID_LEN];
    uint8_t *p = put_addr(msg, &path->local);
    p = put_addr(p, &path->remote);
    size_t n = dcid->len <= RQ_MAX_CID_LEN ? dcid->len : RQ_MAX_CID_LEN;
    *p++ = (uint8_t)n;
    memcpy(p, dcid->data, n);
    p += n;
    uint64_t h = rq_siphash24(key, msg, (size_t)(p - msg));
    /* Fold the 64 bits into 20; 0 means "no label", so it becomes 1 (a 2^-20 bias). */
    uint32_t label = (uint32_t)((h ^ (h >> 20) ^ (h >> 40)) & RQ_FLOW_LABEL_MASK);
    return label ? label : 1;
}
