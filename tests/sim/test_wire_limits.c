/* Flow control and stream limits, asserted on the decrypted wire (qtrace.h, qlimits.h) rather
 * than on an endpoint's own counters: neither side ever sends stream data beyond a stream's
 * or the connection's limit, opens a stream beyond the stream limit, or sends past a final
 * size (RFC 9000 §4). The decoder itself is checked too: it decrypts every packet of clean
 * runs, across 1-RTT key updates (RFC 9001 §6) and after a Retry (RFC 9001 §5.2), and the
 * checker reports violations planted in a synthetic trace. */
#include "inject.h"
#include "qlimits.h"
#include "qpair.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

/* A scene observed by a decrypting trace: both configurations log their keys to it. */
typedef struct wl_run {
    qpair p;
    qtrace qt;
    qlimits_report rep, rep_sent;
} wl_run;

static int wl_new(wl_run *r, uint64_t seed, const sim_link_cfg *link,
                  const rq_transport_settings *t, bool retry)
{
    memset(r, 0, sizeof *r);
    rq_config *c = qpair_config(RQ_ROLE_CLIENT, t, 0);
    rq_config *s = qpair_config(RQ_ROLE_SERVER, t, 0);
    if (!c || !s) {
        rq_config_free(c);
        rq_config_free(s);
        return RQ_ERR_NOMEM;
    }
    qtrace_config(&r->qt, c);
    qtrace_config(&r->qt, s);
    rq_config_set_retry(s, retry);
    int rc = qpair_new(&r->p, seed, link, c, s, false);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->p.s);
    return rc;
}

static void wl_free(wl_run *r)
{
    qpair_free(&r->p);
    qtrace_free(&r->qt);
}

/* Uploads streams x bytes and runs until done; 0 when it arrived whole. */
static int wl_upload(wl_run *r, unsigned streams, uint64_t bytes, rq_time deadline)
{
    int rc = sim_qapp_connect(r->p.client, &QPAIR_SERVER_ADDR, "localhost", streams, bytes);
    if (!rc)
        rc = sim_run_until_pred(r->p.s, qpair_upload_done, &r->p, deadline);
    if (rc)
        return rc;
    if (!sim_qapp_upload_done(r->p.client, r->p.server) ||
        r->p.server->received != (uint64_t)streams * bytes || r->p.server->bad_bytes) {
        fprintf(stderr, "  upload incomplete: received %llu, bad %llu, closed c=%d s=%d\n",
                (unsigned long long)r->p.server->received,
                (unsigned long long)r->p.server->bad_bytes, r->p.client->closed,
                r->p.server->closed);
        return RQ_ERR_INTERNAL;
    }
    return 0;
}

/* What every clean run must show: every datagram a host sent was looked at, every packet in
 * it decrypted and parsed, and the transport parameters read off the wire are the ones the
 * endpoints advertised. */
static int wl_clean(wl_run *r)
{
    const qtrace_stats *st = &r->qt.st;
    sim_trace *t = sim_get_trace(r->p.s);
    qtrace_print_stats(&r->qt, stdout, "  wire: ");
    /* Every datagram either reached a host or was dropped on the way (trace counts). */
    uint64_t undelivered = 0;
    for (size_t i = 0; i < r->qt.count; i++)
        undelivered += r->qt.pkts[i].delivered == QTRACE_NEVER;
    printf("  wire: %llu packets never delivered; link drops %llu\n",
           (unsigned long long)undelivered,
           (unsigned long long)sim_trace_kind_count(t, SIM_EV_DROP));
    if (r->qt.oom || st->datagrams != sim_trace_kind_count(t, SIM_EV_SEND) || st->undecryptable ||
        st->no_keys || st->malformed || st->bad_reserved || st->unknown_dir)
        return 1;
    if (!r->qt.have_tp[QTRACE_C2S] || !r->qt.have_tp[QTRACE_S2C] || !r->p.client->conn ||
        !r->p.server->conn)
        return 2;
    if (!rq_tparams_eq(&r->qt.tp[QTRACE_C2S], &r->p.client->conn->local_tp) ||
        !rq_tparams_eq(&r->qt.tp[QTRACE_S2C], &r->p.server->conn->local_tp))
        return 3;
    return 0;
}

/* Runs the limit checks with the transport parameters as decoded from the wire, in both
 * modes: credit from when the receiver sent it (rep_sent), and the strict one, credit from
 * when it reached the sender (rep). Both must hold. */
static int wl_check(wl_run *r)
{
    int rc = qlimits_check(r->qt.pkts, r->qt.count, r->qt.frames, &r->qt.tp[QTRACE_C2S],
                           &r->qt.tp[QTRACE_S2C], false, &r->rep_sent);
    if (!rc)
        rc = qlimits_check(r->qt.pkts, r->qt.count, r->qt.frames, &r->qt.tp[QTRACE_C2S],
                           &r->qt.tp[QTRACE_S2C], true, &r->rep);
    qlimits_print(&r->rep_sent, r->rep_sent.violations ? stderr : stdout, "  limits (sent): ");
    qlimits_print(&r->rep, r->rep.violations ? stderr : stdout, "  limits (delivered): ");
    return rc ? rc : r->rep_sent.violations ? RQ_ERR_FLOW_CONTROL : 0;
}

static void small_windows(rq_transport_settings *t)
{
    rq_transport_defaults(t);
    t->initial_max_stream_data = 16 * 1024;
    t->initial_max_data = 32 * 1024;
}

/* RFC 9000 §4.1, §4.5: a 3 MB upload on two streams with 16 KiB stream and 32 KiB connection
 * windows (auto-tuned a little upward from there) at 1% loss: flow control binds over and
 * over (the client reaches a limit exactly and says it is blocked, §4.1), and
 * on the wire no STREAM frame of either side goes beyond the limit the receiver had granted
 * when it was sent, and no data follows a FIN beyond its final size. */
static void test_upload_small_windows_loss_rfc9000_4_1(void)
{
    rq_transport_settings t;
    small_windows(&t);
    /* Auto-tuning may double the windows (to 32 KiB per stream, 48 KiB in all), still well
     * below the path's 125 KB bandwidth-delay product: flow control paces the upload. */
    t.max_stream_window = 32 * 1024;
    t.max_connection_window = 48 * 1024;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000, .loss = 0.01};
    wl_run r;
    RQ_CHECK_ERR(wl_new(&r, 0x41f1, &link, &t, false), RQ_OK);
    RQ_CHECK_ERR(wl_upload(&r, 2, 1500000, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_INT(wl_clean(&r), 0);
    RQ_CHECK_ERR(wl_check(&r), RQ_OK);
    RQ_CHECK_EQ_U64(r.rep.violations, 0);
    /* Every payload byte, counted once, on the wire: the sum of highest offsets. */
    RQ_CHECK_EQ_U64(r.rep.bytes[QTRACE_C2S], 3000000);
    RQ_CHECK_EQ_U64(r.rep.bytes[QTRACE_S2C], 0);
    RQ_CHECK_EQ_U64(r.rep.streams[QTRACE_C2S], 2);
    /* The windows mattered: the server granted credit again and again. */
    RQ_CHECK(r.rep.credit_frames[QTRACE_S2C] > 100);
    RQ_CHECK(r.rep.at_limit[QTRACE_C2S] >= 10);
    RQ_CHECK(r.rep.blocked_frames[QTRACE_C2S] >= 10);
    wl_free(&r);
}

/* RFC 9000 §4.6: 20 streams under initial_max_streams_bidi 4 at 1% loss: the client opens
 * streams only as MAX_STREAMS allows; on the wire no stream id beyond the limit in force. */
static void test_many_streams_limit_on_wire_rfc9000_4_6(void)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.initial_max_streams_bidi = 4;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000, .loss = 0.01};
    wl_run r;
    RQ_CHECK_ERR(wl_new(&r, 0x4646, &link, &t, false), RQ_OK);
    RQ_CHECK_ERR(wl_upload(&r, 20, 50000, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_INT(wl_clean(&r), 0);
    RQ_CHECK_EQ_U64(r.qt.tp[QTRACE_S2C].initial_max_streams_bidi, 4);
    RQ_CHECK_ERR(wl_check(&r), RQ_OK);
    RQ_CHECK_EQ_U64(r.rep.violations, 0);
    RQ_CHECK_EQ_U64(r.rep.streams[QTRACE_C2S], 20);
    RQ_CHECK_EQ_U64(r.rep.bytes[QTRACE_C2S], 20 * 50000);
    RQ_CHECK(r.p.client->refused > 0);
    /* The server raised the limit on the wire (MAX_STREAMS) at least 16 streams' worth. */
    uint64_t max_streams = 0;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        for (size_t f = p->first_frame; p->dir == QTRACE_S2C && f < p->first_frame + p->frame_count;
             f++)
            if (r.qt.frames[f].type == RQ_FT_MAX_STREAMS_BIDI &&
                r.qt.frames[f].max_streams.max > max_streams)
                max_streams = r.qt.frames[f].max_streams.max;
    }
    RQ_CHECK(max_streams >= 20);
    wl_free(&r);
}

/* Synthetic trace builder for the checker's self-test. */
typedef struct syn {
    qtrace_pkt pkts[16];
    rq_frame frames[32];
    size_t np, nf;
} syn;

static void syn_pkt(syn *s, int dir)
{
    qtrace_pkt *p = &s->pkts[s->np];
    memset(p, 0, sizeof *p);
    p->t = (rq_time)s->np * RQ_MS;
    p->dir = (uint8_t)dir;
    p->type = RQ_PKT_1RTT;
    p->space = RQ_PN_SPACE_APPLICATION;
    p->pn = s->np;
    p->delivered = p->t; /* delivered at once, unless a case says otherwise */
    p->first_frame = s->nf;
    s->np++;
}

static void syn_frame(syn *s, const rq_frame *f)
{
    s->frames[s->nf++] = *f;
    s->pkts[s->np - 1].frame_count++;
}

static void syn_stream(syn *s, uint64_t id, uint64_t off, size_t len, bool fin)
{
    rq_frame f = {.type = RQ_FT_STREAM | RQ_FT_STREAM_BIT_LEN | RQ_FT_STREAM_BIT_OFF |
                          (fin ? RQ_FT_STREAM_BIT_FIN : 0)};
    f.stream = (rq_frame_stream){.stream_id = id, .offset = off, .length = len, .fin = fin};
    syn_frame(s, &f);
}

/* RFC 9000 §4.1, §4.5, §4.6: the checker is not a rubber stamp. A synthetic trace with one
 * violation of each kind, among frames that are within limits (credit raised by MAX_* frames
 * sent before), reports exactly those violations, each with the packet that broke it. */
static void test_checker_reports_planted_violations_rfc9000_4(void)
{
    rq_tparams ctp, stp;
    rq_tparams_init_defaults(&ctp);
    rq_tparams_init_defaults(&stp);
    stp.initial_max_data = 1000;
    stp.initial_max_stream_data_bidi_remote = 100;
    stp.initial_max_streams_bidi = 2;
    ctp.initial_max_stream_data_uni = 50;
    ctp.initial_max_streams_uni = 1;
    ctp.initial_max_data = 1000;
    syn s = {0};
    /* 0: client fills stream 0 to its initial limit — fine. */
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 0, 0, 100, false);
    /* 1: one byte more on stream 0 — stream-data violation. */
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 0, 100, 1, false);
    /* 2: the server grants stream 0 up to 500 and streams up to 3. */
    syn_pkt(&s, QTRACE_S2C);
    rq_frame msd = {.type = RQ_FT_MAX_STREAM_DATA};
    msd.max_stream_data.stream_id = 0;
    msd.max_stream_data.max = 500;
    syn_frame(&s, &msd);
    rq_frame ms = {.type = RQ_FT_MAX_STREAMS_BIDI};
    ms.max_streams.max = 3;
    syn_frame(&s, &ms);
    /* 3: stream 0 to 500 with FIN, stream 8 (the third) — fine. */
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 0, 101, 399, true);
    syn_stream(&s, 8, 0, 100, false);
    /* 4: stream 12 (the fourth) — stream-id violation; and data past stream 0's FIN. */
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 12, 0, 10, false);
    syn_stream(&s, 0, 500, 1, false);
    /* 5: the server sends on its own uni stream 3: 50 bytes fine; then the client sends on
     * the server's uni stream — wrong stream. */
    syn_pkt(&s, QTRACE_S2C);
    syn_stream(&s, 3, 0, 50, true);
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 3, 0, 1, false);
    /* 7: a RESET_STREAM of stream 8 at the size it reached adds nothing; 8: the server
     * raises stream 4 to 600; 9: 420 bytes on stream 4 fit its window but not the
     * connection's (1000, of which 500 + 100 + 10 were used: the byte past stream 0's final
     * size is reported as that, not counted again). */
    syn_pkt(&s, QTRACE_C2S);
    rq_frame rs = {.type = RQ_FT_RESET_STREAM};
    rs.reset_stream.stream_id = 8;
    rs.reset_stream.final_size = 100;
    syn_frame(&s, &rs);
    syn_pkt(&s, QTRACE_S2C);
    msd.max_stream_data.stream_id = 4;
    msd.max_stream_data.max = 600;
    syn_frame(&s, &msd);
    syn_pkt(&s, QTRACE_C2S);
    syn_stream(&s, 4, 0, 420, false);

    qlimits_report rep;
    RQ_CHECK_ERR(qlimits_check(s.pkts, s.np, s.frames, &ctp, &stp, true, &rep), RQ_OK);
    qlimits_report sent;
    RQ_CHECK_ERR(qlimits_check(s.pkts, s.np, s.frames, &ctp, &stp, false, &sent), RQ_OK);
    RQ_CHECK_EQ_U64(sent.violations, 5);
    RQ_CHECK_MEM(sent.v, rep.v, 5 * sizeof rep.v[0]);
    qlimits_print(&rep, stdout, "  synthetic: ");
    RQ_CHECK_EQ_U64(rep.violations, 5);
    RQ_CHECK_EQ_U64(rep.kept, 5);
    /* stream 0 offset 101 > 100 */
    RQ_CHECK_EQ_INT(rep.v[0].kind, QLIMITS_STREAM_DATA);
    RQ_CHECK_EQ_U64(rep.v[0].pkt, 1);
    RQ_CHECK_EQ_U64(rep.v[0].stream_id, 0);
    RQ_CHECK_EQ_U64(rep.v[0].value, 101);
    RQ_CHECK_EQ_U64(rep.v[0].limit, 100);
    /* the fourth stream with a limit of 3 */
    RQ_CHECK_EQ_INT(rep.v[1].kind, QLIMITS_STREAM_ID);
    RQ_CHECK_EQ_U64(rep.v[1].pkt, 4);
    RQ_CHECK_EQ_U64(rep.v[1].stream_id, 12);
    RQ_CHECK_EQ_U64(rep.v[1].value, 4);
    RQ_CHECK_EQ_U64(rep.v[1].limit, 3);
    /* stream 0: 501 beyond its final size 500 */
    RQ_CHECK_EQ_INT(rep.v[2].kind, QLIMITS_FINAL_SIZE);
    RQ_CHECK_EQ_U64(rep.v[2].pkt, 4);
    RQ_CHECK_EQ_U64(rep.v[2].frame, 7);
    RQ_CHECK_EQ_U64(rep.v[2].value, 501);
    RQ_CHECK_EQ_U64(rep.v[2].limit, 500);
    /* the client writing on the server's unidirectional stream */
    RQ_CHECK_EQ_INT(rep.v[3].kind, QLIMITS_WRONG_STREAM);
    RQ_CHECK_EQ_U64(rep.v[3].pkt, 6);
    RQ_CHECK_EQ_U64(rep.v[3].stream_id, 3);
    /* stream 4: 420 more bytes take the connection from 610 to 1030 > 1000. */
    RQ_CHECK_EQ_INT(rep.v[4].kind, QLIMITS_CONN_DATA);
    RQ_CHECK_EQ_U64(rep.v[4].pkt, 9);
    RQ_CHECK_EQ_U64(rep.v[4].value, 1030);
    RQ_CHECK_EQ_U64(rep.v[4].limit, 1000);
    RQ_CHECK_EQ_U64(rep.bytes[QTRACE_S2C], 50);

    /* Strict mode: had the server's MAX_STREAM_DATA / MAX_STREAMS packet (2) reached the
     * client only after packet 3 left, packet 3 used credit the client did not have yet —
     * stream 0 beyond 100 and a third stream with a limit of 2. Sent-time mode cannot see it. */
    s.pkts[2].delivered = s.pkts[3].t + 1;
    RQ_CHECK_ERR(qlimits_check(s.pkts, s.np, s.frames, &ctp, &stp, true, &rep), RQ_OK);
    RQ_CHECK_EQ_U64(rep.violations, 7);
    RQ_CHECK_EQ_INT(rep.v[1].kind, QLIMITS_STREAM_DATA);
    RQ_CHECK_EQ_U64(rep.v[1].pkt, 3);
    RQ_CHECK_EQ_U64(rep.v[1].value, 500);
    RQ_CHECK_EQ_U64(rep.v[1].limit, 100);
    RQ_CHECK_EQ_INT(rep.v[2].kind, QLIMITS_STREAM_ID);
    RQ_CHECK_EQ_U64(rep.v[2].pkt, 3);
    RQ_CHECK_EQ_U64(rep.v[2].stream_id, 8);
    RQ_CHECK_EQ_U64(rep.v[2].limit, 2);
    RQ_CHECK_ERR(qlimits_check(s.pkts, s.np, s.frames, &ctp, &stp, false, &sent), RQ_OK);
    RQ_CHECK_EQ_U64(sent.violations, 5);
    /* A credit packet that never arrived grants nothing. */
    s.pkts[2].delivered = QTRACE_NEVER;
    RQ_CHECK_ERR(qlimits_check(s.pkts, s.np, s.frames, &ctp, &stp, true, &rep), RQ_OK);
    RQ_CHECK(rep.by_kind[QLIMITS_STREAM_DATA] >= 2);
    RQ_CHECK_EQ_U64(rep.credit_frames[QTRACE_S2C], 1); /* only packet 8's */
}

/* RFC 9000 §4.1: on a real decoded run the checker bites as well — judged against windows
 * half the size the server really advertised, the same wire shows stream and connection
 * violations. */
static void test_checker_bites_on_real_trace_rfc9000_4_1(void)
{
    rq_transport_settings t;
    small_windows(&t);
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000};
    wl_run r;
    RQ_CHECK_ERR(wl_new(&r, 0x41f2, &link, &t, false), RQ_OK);
    RQ_CHECK_ERR(wl_upload(&r, 1, 200000, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_INT(wl_clean(&r), 0);
    RQ_CHECK_ERR(wl_check(&r), RQ_OK);
    RQ_CHECK_EQ_U64(r.rep.violations, 0);
    rq_tparams stp = r.qt.tp[QTRACE_S2C];
    stp.initial_max_stream_data_bidi_remote /= 2;
    stp.initial_max_data /= 2;
    qlimits_report rep;
    RQ_CHECK_ERR(
        qlimits_check(r.qt.pkts, r.qt.count, r.qt.frames, &r.qt.tp[QTRACE_C2S], &stp, true, &rep),
        RQ_OK);
    printf("  halved windows: %llu violations (stream-data %llu, conn-data %llu)\n",
           (unsigned long long)rep.violations, (unsigned long long)rep.by_kind[QLIMITS_STREAM_DATA],
           (unsigned long long)rep.by_kind[QLIMITS_CONN_DATA]);
    RQ_CHECK(rep.by_kind[QLIMITS_STREAM_DATA] > 0);
    RQ_CHECK_EQ_INT(rep.v[0].kind, QLIMITS_STREAM_DATA);
    RQ_CHECK_EQ_U64(rep.v[0].limit, 8 * 1024);
    RQ_CHECK_EQ_INT(r.qt.pkts[rep.v[0].pkt].dir, QTRACE_C2S);
    wl_free(&r);
}

static int client_updates(sim *s, void *ctx)
{
    wl_run *r = ctx;
    int rc = r->p.client->conn ? rq_conn_update_keys(r->p.client->conn, sim_now(s)) : -1;
    if (rc)
        return rc;
    return sim_host_wake(s, r->p.client->host);
}

static int server_updates(sim *s, void *ctx)
{
    wl_run *r = ctx;
    int rc = r->p.server->conn ? rq_conn_update_keys(r->p.server->conn, sim_now(s)) : -1;
    if (rc)
        return rc;
    return sim_host_wake(s, r->p.server->host);
}

/* RFC 9001 §5.2, §6, §17.2.5 of RFC 9000: the decoder follows a Retry (new Initial keys from
 * its SCID) and two key updates (one by each side, each answered), decrypting every packet
 * both sides sent over a lossy, reordering link — and the limits hold throughout. */
static void test_decoder_retry_and_key_updates_rfc9001_6(void)
{
    rq_transport_settings t;
    small_windows(&t);
    sim_link_cfg link = {.delay = 10 * RQ_MS,
                         .rate_bps = 50000000,
                         .loss = 0.01,
                         .reorder = 0.02,
                         .reorder_delay = 5 * RQ_MS};
    wl_run r;
    RQ_CHECK_ERR(wl_new(&r, 0x6001, &link, &t, true), RQ_OK);
    RQ_CHECK_ERR(sim_at(r.p.s, 150 * RQ_MS, client_updates, &r), RQ_OK);
    RQ_CHECK_ERR(sim_at(r.p.s, 400 * RQ_MS, server_updates, &r), RQ_OK);
    RQ_CHECK_ERR(wl_upload(&r, 1, 2000000, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_INT(wl_clean(&r), 0);
    RQ_CHECK_EQ_U64(r.qt.st.retries, 1);
    /* Each direction changed phase twice: its own update, and its answer to the peer's. */
    RQ_CHECK_EQ_U64(r.qt.st.key_updates[QTRACE_C2S], 2);
    RQ_CHECK_EQ_U64(r.qt.st.key_updates[QTRACE_S2C], 2);
    RQ_CHECK_EQ_U64(r.p.client->conn->key_updates, 2);
    /* The server's parameters carry the Retry's SCID (RFC 9000 §7.3), read off the wire. */
    RQ_CHECK(r.qt.tp[QTRACE_S2C].has_retry_scid);
    RQ_CHECK_EQ_INT(r.qt.tp[QTRACE_S2C].retry_scid.len, r.qt.odcid.len);
    RQ_CHECK_MEM(r.qt.tp[QTRACE_S2C].retry_scid.data, r.qt.odcid.data, r.qt.odcid.len);
    /* Both key phases appear on the wire in both directions. */
    uint64_t phase1[2] = {0, 0};
    for (size_t i = 0; i < r.qt.count; i++)
        if (r.qt.pkts[i].type == RQ_PKT_1RTT && r.qt.pkts[i].key_phase)
            phase1[r.qt.pkts[i].dir]++;
    RQ_CHECK(phase1[QTRACE_C2S] > 0 && phase1[QTRACE_S2C] > 0);
    RQ_CHECK_ERR(wl_check(&r), RQ_OK);
    RQ_CHECK_EQ_U64(r.rep.violations, 0);
    RQ_CHECK_EQ_U64(r.rep.bytes[QTRACE_C2S], 2000000);
    wl_free(&r);
}

/* Three forged 1-RTT datagrams "from the client" (the connection's DCID, then bytes no key
 * opens) injected on the client-to-server link. */
static int inject_forgeries(sim *s, void *ctx)
{
    wl_run *r = ctx;
    const rq_cid *dcid = &r->p.client->conn->dcid;
    for (unsigned i = 0; i < 3; i++) {
        uint8_t d[80];
        d[0] = 0x41; /* short header, fixed bit (RFC 9000 §17.3.1) */
        memcpy(d + 1, dcid->data, dcid->len);
        for (size_t k = 1 + dcid->len; k < sizeof d; k++)
            d[k] = (uint8_t)(k * 37u + i * 101u);
        int rc = sim_inject(s, r->p.c2s, sim_now(s), &QPAIR_CLIENT_ADDR, &QPAIR_SERVER_ADDR, d,
                            sizeof d, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* RFC 9001 §5.3, RFC 9000 §12.2: the decoder's failure count is exact — forged datagrams an
 * injector put on the wire, and only they, fail to decrypt; every packet either endpoint
 * sent still opens (and the server, which drops the forgeries, finishes the upload). */
static void test_decoder_counts_only_forgeries_rfc9001_5_3(void)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000};
    wl_run r;
    RQ_CHECK_ERR(wl_new(&r, 0x5305, &link, NULL, false), RQ_OK);
    RQ_CHECK_ERR(sim_qapp_connect(r.p.client, &QPAIR_SERVER_ADDR, "localhost", 1, 300000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.p.s, qpair_connected, &r.p, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.p.client->connected);
    RQ_CHECK_ERR(sim_at(r.p.s, sim_now(r.p.s) + 20 * RQ_MS, inject_forgeries, &r), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.p.s, qpair_upload_done, &r.p, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK(sim_qapp_upload_done(r.p.client, r.p.server));
    RQ_CHECK_EQ_U64(r.p.server->received, 300000);
    qtrace_print_stats(&r.qt, stdout, "  wire: ");
    const qtrace_stats *st = &r.qt.st;
    sim_trace *t = sim_get_trace(r.p.s);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(t, SIM_EV_INJECT), 3);
    RQ_CHECK_EQ_U64(st->datagrams, sim_trace_kind_count(t, SIM_EV_SEND) + 3);
    RQ_CHECK_EQ_U64(st->undecryptable, 3);
    RQ_CHECK_EQ_U64(st->no_keys + st->malformed + st->unknown_dir + st->resets, 0);
    for (size_t i = 0; i < r.qt.count; i++)
        RQ_CHECK(!r.qt.pkts[i].injected);
    RQ_CHECK_ERR(wl_check(&r), RQ_OK);
    RQ_CHECK_EQ_U64(r.rep.violations, 0);
    wl_free(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_upload_small_windows_loss_rfc9000_4_1);
    RQ_RUN(test_many_streams_limit_on_wire_rfc9000_4_6);
    RQ_RUN(test_checker_reports_planted_violations_rfc9000_4);
    RQ_RUN(test_checker_bites_on_real_trace_rfc9000_4_1);
    RQ_RUN(test_decoder_retry_and_key_updates_rfc9001_6);
    RQ_RUN(test_decoder_counts_only_forgeries_rfc9001_5_3);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
