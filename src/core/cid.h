/* Connection IDs (RFC 9000 §5.1) as fixed-size values: no allocation, copyable by assignment. */
#ifndef RQ_CORE_CID_H
#define RQ_CORE_CID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 9000 §17.2: a version 1 connection ID is at most 20 bytes. */
#define RQ_MAX_CID_LEN 20
/* RFC 9000 §10.3: a stateless reset token is 16 bytes. */
#define RQ_RESET_TOKEN_LEN 16

typedef struct rq_cid {
    uint8_t len;
    uint8_t data[RQ_MAX_CID_LEN];
} rq_cid;

/* Sets *cid from bytes; false (and *cid untouched) when len > RQ_MAX_CID_LEN. */
static inline bool rq_cid_set(rq_cid *cid, const uint8_t *data, size_t len)
{
    if (len > RQ_MAX_CID_LEN)
        return false;
    cid->len = (uint8_t)len;
    if (len)
        memcpy(cid->data, data, len);
    return true;
}

static inline bool rq_cid_eq(const rq_cid *a, const rq_cid *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

#endif
