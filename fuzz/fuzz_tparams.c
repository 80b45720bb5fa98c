/* Fuzzes the transport parameter decoder (RFC 9000 §18) as received from a client and from a
 * server. Whatever decodes must re-encode, and the re-encoding must decode to the same set:
 * a difference means the encoder and decoder disagree, and aborts. */
#include "fuzz.h"

#include "core/tparams.h"

#include <roamquic/error.h>

#include <stdlib.h>

static void check_role(const uint8_t *data, size_t size, rq_role role)
{
    rq_tparams a, b;
    int rc = rq_tparams_decode(&a, role, data, size);
    if (rc != 0) {
        /* Every failure on peer bytes must be the one wire error the RFC prescribes. */
        if (rc != RQ_ERR_TRANSPORT_PARAMETER)
            abort();
        return;
    }
    /* A GREASE id that depends on the input, sometimes none. */
    uint64_t grease = size % 3 == 0 ? 0 : 27 + 31 * (uint64_t)size;
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 0;
    if (rq_tparams_encode(&a, role, buf, sizeof buf, &len, grease) != 0)
        abort();
    if (rq_tparams_decode(&b, role, buf, len) != 0)
        abort();
    if (!rq_tparams_eq(&a, &b))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_role(data, size, RQ_ROLE_CLIENT);
    check_role(data, size, RQ_ROLE_SERVER);
    return 0;
}
