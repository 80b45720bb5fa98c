/* Send buffer (RFC 9000 §2.2, §13.3, §19.8): send, acknowledge, loss and retransmission order,
 * FIN handling, flow-limited new data, memory release, bounded range bookkeeping, and a
 * randomized check against a model of what the peer must end up with. */
#include "core/alloc.h"
#include "core/txbuf.h"
#include "rqtest.h"

#include <roamquic/error.h>

static uint8_t src[1 << 17];

static void fill_src(void)
{
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 13 + (i >> 9));
}

/* Sends the whole next chunk (up to max bytes) and returns it. */
static rq_txchunk send_next(rq_txbuf *tb, uint64_t limit, size_t max)
{
    rq_txchunk c;
    memset(&c, 0, sizeof c);
    if (!rq_txbuf_next(tb, limit, &c))
        return c;
    if (c.len > max) {
        c.len = max;
        c.fin = false;
    }
    (void)rq_txbuf_on_sent(tb, c.offset, c.len, c.fin);
    return c;
}

/* RFC 9000 §2.2: new data goes out in order; acknowledging it all releases the memory. */
static void test_rfc9000_2_2_send_ack_release(void)
{
    int64_t live0 = rq_mem_live();
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1 << 20);
    size_t acc;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 10000, false, &acc), 0);
    RQ_CHECK_EQ_U64(acc, 10000);
    RQ_CHECK(rq_mem_live() > live0);
    rq_txchunk c;
    RQ_CHECK(rq_txbuf_next(&tb, UINT64_MAX, &c));
    RQ_CHECK_EQ_U64(c.offset, 0);
    RQ_CHECK_EQ_U64(c.len, 10000);
    RQ_CHECK(!c.fin && !c.retransmit);
    RQ_CHECK_MEM(c.data, src, 10000);
    RQ_CHECK_EQ_U64(rq_txbuf_on_sent(&tb, 0, 4000, false), 4000);
    RQ_CHECK_EQ_U64(rq_txbuf_on_sent(&tb, 4000, 6000, false), 6000);
    RQ_CHECK(!rq_txbuf_next(&tb, UINT64_MAX, &c));
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 4000, 6000, false), 0);
    RQ_CHECK_EQ_U64(tb.acked_off, 0);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 4000, false), 0);
    RQ_CHECK_EQ_U64(tb.acked_off, 10000);
    RQ_CHECK(tb.buf == NULL); /* drained: the ring is handed back */
    RQ_CHECK(!rq_txbuf_all_acked(&tb));
    rq_txbuf_free(&tb);
    RQ_CHECK_EQ_INT(rq_mem_live(), live0);
}

/* RFC 9000 §13.3: data declared lost is sent again, lowest first, before any new data, and
 * without consuming flow-control credit; acknowledged parts are not resent. */
static void test_rfc9000_13_3_loss_retransmitted_first(void)
{
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1 << 20);
    size_t acc;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 5000, false, &acc), 0);
    for (int i = 0; i < 4; i++)
        send_next(&tb, UINT64_MAX, 1000); /* 0..4000 sent in four packets */
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 2000, 1000, false), 0);
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 0, 1000, false), 0);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 500, 200, false), 0); /* a retransmission's ack */
    rq_txchunk c = send_next(&tb, UINT64_MAX, 10000);
    RQ_CHECK(c.retransmit);
    RQ_CHECK_EQ_U64(c.offset, 0);
    RQ_CHECK_EQ_U64(c.len, 500);
    c = send_next(&tb, UINT64_MAX, 10000);
    RQ_CHECK_EQ_U64(c.offset, 700);
    RQ_CHECK_EQ_U64(c.len, 300);
    RQ_CHECK_MEM(c.data, src + 700, 300);
    c = send_next(&tb, UINT64_MAX, 400);
    RQ_CHECK_EQ_U64(c.offset, 2000);
    RQ_CHECK_EQ_U64(c.len, 400);
    c = send_next(&tb, UINT64_MAX, 10000);
    RQ_CHECK_EQ_U64(c.offset, 2400);
    RQ_CHECK_EQ_U64(c.len, 600);
    RQ_CHECK(c.retransmit);
    /* Only now new data, and on_sent reports it as fresh credit. */
    RQ_CHECK(rq_txbuf_next(&tb, UINT64_MAX, &c));
    RQ_CHECK(!c.retransmit);
    RQ_CHECK_EQ_U64(c.offset, 4000);
    RQ_CHECK_EQ_U64(rq_txbuf_on_sent(&tb, 4000, 1000, false), 1000);
    RQ_CHECK_EQ_U64(rq_txbuf_on_sent(&tb, 0, 10, false), 0); /* a resend is not fresh */
    /* A loss report for bytes acknowledged since queues nothing. */
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 5000, false), 0);
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 0, 5000, false), 0);
    RQ_CHECK(!rq_txbuf_next(&tb, UINT64_MAX, &c));
    rq_txbuf_free(&tb);
}

/* RFC 9000 §4.1: new data stops at the flow-control limit; lost data ignores it. */
static void test_rfc9000_4_1_new_data_limited(void)
{
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1 << 20);
    size_t acc;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 3000, true, &acc), 0);
    rq_txchunk c = send_next(&tb, 1000, 5000);
    RQ_CHECK_EQ_U64(c.len, 1000);
    RQ_CHECK(!c.fin); /* the FIN needs the last byte */
    RQ_CHECK(!rq_txbuf_next(&tb, 1000, &c));
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 0, 1000, false), 0);
    RQ_CHECK(rq_txbuf_next(&tb, 1000, &c));
    RQ_CHECK(c.retransmit);
    c = send_next(&tb, 1000, 5000);
    c = send_next(&tb, 3000, 5000);
    RQ_CHECK_EQ_U64(c.offset, 1000);
    RQ_CHECK_EQ_U64(c.len, 2000);
    RQ_CHECK(c.fin);
    RQ_CHECK(rq_txbuf_all_sent(&tb));
    rq_txbuf_free(&tb);
}

/* RFC 9000 §19.8, §13.3: a FIN travels with the last bytes or alone in an empty frame; a lost
 * FIN is resent; the stream is complete when bytes and FIN are all acknowledged. */
static void test_rfc9000_19_8_fin(void)
{
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1 << 20);
    size_t acc;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 100, false, &acc), 0);
    rq_txchunk c = send_next(&tb, UINT64_MAX, 1000);
    RQ_CHECK(!c.fin);
    RQ_CHECK_ERR(rq_txbuf_append(&tb, NULL, 0, true, &acc), 0);
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 1, false, &acc), RQ_ERR_STREAM_STATE);
    c = send_next(&tb, UINT64_MAX, 1000);
    RQ_CHECK_EQ_U64(c.offset, 100);
    RQ_CHECK_EQ_U64(c.len, 0);
    RQ_CHECK(c.fin && !c.retransmit);
    RQ_CHECK(!rq_txbuf_next(&tb, UINT64_MAX, &c));
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 100, 0, true), 0);
    c = send_next(&tb, UINT64_MAX, 1000);
    RQ_CHECK(c.fin && c.retransmit);
    RQ_CHECK_EQ_U64(c.offset, 100);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 100, 0, true), 0);
    RQ_CHECK(!rq_txbuf_all_acked(&tb));
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 100, false), 0);
    RQ_CHECK(rq_txbuf_all_acked(&tb));
    rq_txbuf_free(&tb);
}

/* Appends stop at max_buffered and a FIN with a partial append is not taken; reports for
 * ranges never sent are rejected. */
static void test_txbuf_buffer_bound_and_bad_reports(void)
{
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1000);
    size_t acc;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, 1500, true, &acc), 0);
    RQ_CHECK_EQ_U64(acc, 1000);
    RQ_CHECK(!tb.fin);
    RQ_CHECK_EQ_U64(rq_txbuf_space(&tb), 0);
    send_next(&tb, UINT64_MAX, 600);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 601, false), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, 500, 200, false), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 10, true), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 600, false), 0);
    RQ_CHECK_EQ_U64(rq_txbuf_space(&tb), 600);
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src + 1000, 500, true, &acc), 0);
    RQ_CHECK_EQ_U64(acc, 500);
    RQ_CHECK(tb.fin);
    rq_txchunk c;
    RQ_CHECK(rq_txbuf_next(&tb, UINT64_MAX, &c));
    RQ_CHECK_EQ_U64(c.offset, 600);
    RQ_CHECK_MEM(c.data, src + 600, c.len);
    rq_txbuf_free(&tb);
}

/* Adversarial acknowledgements (every other packet, more than the range cap): bookkeeping
 * stays within RQ_TXBUF_MAX_RANGES, forgotten acknowledgements are resent, and the stream
 * still completes. */
static void test_txbuf_ack_range_bound(void)
{
    rq_txbuf tb;
    rq_txbuf_init(&tb, 1 << 20);
    size_t acc;
    uint64_t n = 3 * RQ_TXBUF_MAX_RANGES;
    RQ_CHECK_ERR(rq_txbuf_append(&tb, src, (size_t)(n * 10), true, &acc), 0);
    for (uint64_t i = 0; i < n; i++)
        send_next(&tb, UINT64_MAX, 10);
    for (uint64_t i = 1; i < n; i += 2)
        RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, i * 10, 10, false), 0);
    RQ_CHECK(tb.acked.n <= RQ_TXBUF_MAX_RANGES);
    RQ_CHECK(tb.lost.n <= RQ_TXBUF_MAX_RANGES);
    for (uint64_t i = 0; i < n; i += 2)
        RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, i * 10, 10, i + 1 == n), 0);
    RQ_CHECK(tb.lost.n <= RQ_TXBUF_MAX_RANGES);
    /* Resend everything queued, acknowledging each resend. */
    rq_txchunk c;
    int guard = 0;
    while (rq_txbuf_next(&tb, UINT64_MAX, &c) && guard++ < 10000) {
        RQ_CHECK_MEM(c.data, src + c.offset, c.len);
        (void)rq_txbuf_on_sent(&tb, c.offset, c.len, c.fin);
        RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, c.offset, c.len, c.fin), 0);
    }
    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, 0, 0, true), 0);
    RQ_CHECK(rq_txbuf_all_acked(&tb));
    rq_txbuf_free(&tb);
}

/* RFC 9000 §2.2, §13.3, randomized: appends, partial sends, reordered acknowledgements and
 * losses of random in-flight chunks. Every chunk's bytes match the source at its offset, and
 * with every chunk eventually acknowledged the peer has had every byte and the FIN. */
static void test_txbuf_random_model(void)
{
    uint64_t seed = rq_test_seed();
    unsigned long iters = rq_test_iterations(200);
    int64_t live0 = rq_mem_live();
    enum { LEN = 60000, MAXF = 4096 };
    static uint8_t got[LEN];
    static struct {
        uint64_t off;
        size_t len;
        bool fin;
    } fl[MAXF];
    for (unsigned long it = 0; it < iters; it++) {
        rq_txbuf tb;
        rq_txbuf_init(&tb, 8192 + rq_test_rand(&seed) % 30000);
        memset(got, 0, sizeof got);
        size_t written = 0, nfl = 0, steps = 0;
        bool fin_got = false;
        while (!rq_txbuf_all_acked(&tb)) {
            RQ_CHECK(steps++ < 1000000);
            uint64_t r = rq_test_rand(&seed);
            unsigned op = (unsigned)(r % 8);
            if (op == 0 && written < LEN) {
                size_t acc, want = (size_t)((r >> 8) % 5000);
                if (want > LEN - written)
                    want = LEN - written;
                bool fin = written + want == LEN;
                RQ_CHECK_ERR(rq_txbuf_append(&tb, src + written, want, fin, &acc), 0);
                written += acc;
            } else if (op <= 3 && nfl < MAXF) {
                rq_txchunk c;
                uint64_t limit = tb.sent_off + (r >> 8) % 3000;
                if (!rq_txbuf_next(&tb, limit, &c))
                    continue;
                size_t len = c.len ? 1 + (size_t)((r >> 24) % c.len) : 0;
                bool fin = c.fin && len == c.len;
                RQ_CHECK_MEM(c.data, src + c.offset, len);
                (void)rq_txbuf_on_sent(&tb, c.offset, len, fin);
                fl[nfl].off = c.offset, fl[nfl].len = len, fl[nfl++].fin = fin;
            } else if (nfl > 0) {
                size_t k = (size_t)((r >> 8) % nfl);
                if (op <= 6) {
                    RQ_CHECK_ERR(rq_txbuf_on_acked(&tb, fl[k].off, fl[k].len, fl[k].fin), 0);
                    memset(got + fl[k].off, 1, fl[k].len);
                    fin_got |= fl[k].fin;
                } else {
                    RQ_CHECK_ERR(rq_txbuf_on_lost(&tb, fl[k].off, fl[k].len, fl[k].fin), 0);
                }
                fl[k] = fl[--nfl];
            }
        }
        RQ_CHECK(fin_got);
        for (size_t i = 0; i < LEN; i++)
            RQ_CHECK(got[i]);
        rq_txbuf_free(&tb);
    }
    RQ_CHECK_EQ_INT(rq_mem_live(), live0);
}

int main(void)
{
    fill_src();
    RQ_RUN(test_rfc9000_2_2_send_ack_release);
    RQ_RUN(test_rfc9000_13_3_loss_retransmitted_first);
    RQ_RUN(test_rfc9000_4_1_new_data_limited);
    RQ_RUN(test_rfc9000_19_8_fin);
    RQ_RUN(test_txbuf_buffer_bound_and_bad_reports);
    RQ_RUN(test_txbuf_ack_range_bound);
    RQ_RUN(test_txbuf_random_model);
    return rq_test_summary();
}
