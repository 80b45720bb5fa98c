/* Frame decoder fuzzing with a differential check: every frame decoded from the input is
 * re-encoded, the encoding is decoded again, and the two decoded frames must be equal; the
 * re-encoding must also be canonical (encoding the second decode gives the same bytes) and
 * match rq_frame_encoded_len. Any disagreement aborts. */
#include "core/frame.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* A frame re-encodes to at most its input size plus a little (a non-minimal varint shrinks,
 * never grows); this covers the largest input the fuzzer or the replayer passes. */
static uint8_t out1[(1 << 20) + 64];
static uint8_t out2[(1 << 20) + 64];

static void check_frame(const rq_frame *f, size_t consumed)
{
    size_t len = rq_frame_encoded_len(f);
    if (len == 0 || len > sizeof out1)
        abort(); /* every decoded frame is valid, hence encodable */
    rq_wr w = rq_wr_init(out1, sizeof out1);
    if (rq_frame_encode(&w, f) != 0 || (size_t)(w.p - out1) != len)
        abort();
    /* Shortest encodings everywhere: never longer than the input's encoding. */
    if (len > consumed)
        abort();
    rq_rd r = rq_rd_init(out1, len);
    rq_frame g;
    if (rq_frame_decode(&r, &g) != 0 || rq_rd_left(&r) != 0)
        abort();
    if (!rq_frame_equal(f, &g) || !rq_frame_equal(&g, f))
        abort();
    rq_wr w2 = rq_wr_init(out2, sizeof out2);
    if (rq_frame_encode(&w2, &g) != 0 || (size_t)(w2.p - out2) != len ||
        memcmp(out1, out2, len) != 0)
        abort();
    /* The allowed-table and classifiers accept any decoded type without trouble. */
    for (int pkt = 0; pkt <= RQ_PKT_VERSION_NEGOTIATION; pkt++)
        (void)rq_frame_allowed(f->type, (rq_pkt_type)pkt, RQ_ROLE_SERVER);
    (void)rq_frame_is_ack_eliciting(f->type);
    (void)rq_frame_is_probing(f->type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1 << 20))
        return 0;
    rq_rd r = rq_rd_init(data, size);
    while (rq_rd_left(&r) > 0) {
        const uint8_t *start = r.p;
        rq_frame f;
        int rc = rq_frame_decode(&r, &f);
        if (rc != 0) {
            if (r.p != start) /* a failed decode must not move the reader */
                abort();
            if (rc != RQ_ERR_FRAME_ENCODING && rc != RQ_ERR_PROTOCOL_VIOLATION)
                abort();
            break;
        }
        size_t consumed = (size_t)(r.p - start);
        if (consumed == 0)
            abort(); /* no progress would loop forever */
        if (f.type == RQ_FT_ACK || f.type == RQ_FT_ACK_ECN) {
            /* The iterator walks exactly range_count + 1 validated ranges. */
            rq_ack_iter it;
            rq_ack_range range;
            uint64_t n = 0;
            rq_ack_iter_init(&it, &f.ack);
            while (rq_ack_iter_next(&it, &range))
                n++;
            if (it.invalid || n != f.ack.range_count + 1)
                abort();
        }
        check_frame(&f, consumed);
    }
    return 0;
}
