/* Connection IDs on the wire (RFC 9000 §5.1, §19.15), asserted on the decrypted trace: each
 * side gives the other spare CIDs after the handshake, numbered from 1 without gaps, never
 * more than the peer's active_connection_id_limit allows, every value and reset token
 * distinct; an endpoint using zero-length CIDs issues none. */
#include "qpair.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/conn.h"

#include "core/alloc.h"

typedef struct cid_run {
    qpair p;
    qtrace qt;
} cid_run;

static int run_upload(cid_run *r, uint64_t seed, const rq_transport_settings *client_t,
                      const rq_transport_settings *server_t)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000};
    rq_config *c = qpair_config(RQ_ROLE_CLIENT, client_t, 0);
    rq_config *s = qpair_config(RQ_ROLE_SERVER, server_t, 0);
    if (!c || !s)
        return RQ_ERR_NOMEM;
    qtrace_config(&r->qt, c);
    qtrace_config(&r->qt, s);
    int rc = qpair_new(&r->p, seed, &link, c, s, false);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->p.s);
    if (!rc)
        rc = sim_qapp_connect(r->p.client, &QPAIR_SERVER_ADDR, "localhost", 1, 200000);
    if (!rc)
        rc = sim_run_until_pred(r->p.s, qpair_upload_done, &r->p, 20 * RQ_SEC);
    if (!rc) /* a few more round trips for the CIDs' acknowledgements */
        rc = sim_run_until(r->p.s, sim_now(r->p.s) + 200 * RQ_MS);
    return rc;
}

typedef struct issued {
    uint64_t seq[32];
    rq_cid cid[32];
    uint8_t token[32][RQ_RESET_TOKEN_LEN];
    size_t n;
} issued;

/* The distinct NEW_CONNECTION_ID frames one direction carried (repeats after loss folded). */
static void collect(const cid_run *r, int dir, issued *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != dir)
            continue;
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++) {
            const rq_frame *fr = &r->qt.frames[f];
            if (fr->type != RQ_FT_NEW_CONNECTION_ID)
                continue;
            bool seen = false;
            for (size_t k = 0; k < out->n; k++)
                seen |= out->seq[k] == fr->new_cid.seq;
            if (seen || out->n == 32)
                continue;
            out->seq[out->n] = fr->new_cid.seq;
            out->cid[out->n] = fr->new_cid.cid;
            memcpy(out->token[out->n], fr->new_cid.reset_token, RQ_RESET_TOKEN_LEN);
            out->n++;
        }
    }
}

/* MIG-5.1.1-02 (sequence numbers 1, 2, 3... without gaps), MIG-5.1.1-04 (the peer is given
 * spare CIDs up to its limit), MIG-5.1.1-05 (never more than its active_connection_id_limit:
 * limit - 1 besides the handshake CID), MIG-5.1-02 (no CID value twice, the handshake CID
 * included), MIG-10.3.2-04 (no reset token twice). */
static void test_new_cids_on_the_wire_mig_5_1_1_02(void)
{
    cid_run r;
    RQ_CHECK_ERR(run_upload(&r, 0x71, NULL, NULL), RQ_OK);
    RQ_CHECK_EQ_U64(r.qt.st.undecryptable, 0);
    for (int dir = 0; dir < 2; dir++) {
        issued is;
        collect(&r, dir, &is);
        /* The receiver's limit, as advertised on the wire. */
        uint64_t limit = r.qt.tp[1 - dir].active_connection_id_limit;
        RQ_CHECK(limit >= 2);
        uint64_t want = (limit < 8 ? limit : 8) - 1;
        RQ_CHECK_EQ_U64(is.n, want);
        for (size_t k = 0; k < is.n; k++) {
            bool found = false;
            for (size_t j = 0; j < is.n; j++)
                found |= is.seq[j] == k + 1;
            RQ_CHECK(found);
            const rq_cid *hs = &r.qt.tp[dir].initial_scid;
            RQ_CHECK(!rq_cid_eq(&is.cid[k], hs));
            for (size_t j = 0; j < k; j++) {
                RQ_CHECK(!rq_cid_eq(&is.cid[k], &is.cid[j]));
                RQ_CHECK(memcmp(is.token[k], is.token[j], RQ_RESET_TOKEN_LEN) != 0);
            }
        }
        printf("  %s issued %zu CIDs (peer limit %llu)\n", dir ? "server" : "client", is.n,
               (unsigned long long)limit);
    }
    qpair_free(&r.p);
    qtrace_free(&r.qt);
}

/* MIG-19.15-02: an endpoint using zero-length CIDs sends no NEW_CONNECTION_ID. */
static void test_zero_length_cid_issues_none_mig_19_15_02(void)
{
    cid_run r;
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = 0;
    RQ_CHECK_ERR(run_upload(&r, 0x72, &t, NULL), RQ_OK);
    issued is;
    collect(&r, QTRACE_C2S, &is);
    RQ_CHECK_EQ_INT(is.n, 0);
    /* The server still gives the client spare CIDs of its own: the client sends to
     * non-zero-length CIDs, so it may receive NEW_CONNECTION_ID (§19.15). */
    collect(&r, QTRACE_S2C, &is);
    RQ_CHECK_EQ_INT(is.n, 3);
    qpair_free(&r.p);
    qtrace_free(&r.qt);
}

/* MIG-10.3-04: every packet is at least 22 bytes longer than the CID its sender asked the
 * peer to use, so that a Stateless Reset cannot be told from a packet by its size. The server
 * asks for 20-byte CIDs while the client's are zero-length: the server's short-header packets
 * (1 + 0 + pn + frames + 16) would be shorter than 42 bytes without padding. */
static void test_packets_longer_than_reset_floor_mig_10_3_04(void)
{
    cid_run r;
    rq_transport_settings ct, st;
    rq_transport_defaults(&ct);
    rq_transport_defaults(&st);
    ct.local_cid_len = 0;
    st.local_cid_len = 20;
    RQ_CHECK_ERR(run_upload(&r, 0x1034, &ct, &st), RQ_OK);
    RQ_CHECK(sim_qapp_upload_done(r.p.client, r.p.server));
    RQ_CHECK_EQ_U64(r.p.server->bad_bytes, 0);
    uint32_t min_len[2] = {UINT32_MAX, UINT32_MAX};
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->len < min_len[p->dir])
            min_len[p->dir] = p->len;
    }
    RQ_CHECK(min_len[QTRACE_S2C] >= 20 + 22);
    RQ_CHECK(min_len[QTRACE_C2S] >= 0 + 22);
    printf("  smallest packets: client %u B, server %u B\n", min_len[QTRACE_C2S],
           min_len[QTRACE_S2C]);
    qpair_free(&r.p);
    qtrace_free(&r.qt);
}

static bool upload_half_done(sim *s, void *ctx)
{
    (void)s;
    cid_run *r = ctx;
    return r->p.server->received >= 1000000 || r->p.client->closed || r->p.server->closed;
}

/* The server's packets carrying NEW_CONNECTION_ID with Retire Prior To rpt: the first one's
 * send time (RQ_TIME_NEVER if none). */
static rq_time first_rpt(const cid_run *r, uint64_t rpt)
{
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        for (size_t f = p->first_frame; p->dir == QTRACE_S2C && f < p->first_frame + p->frame_count;
             f++)
            if (r->qt.frames[f].type == RQ_FT_NEW_CONNECTION_ID &&
                r->qt.frames[f].new_cid.retire_prior_to == rpt)
                return p->t;
    }
    return RQ_TIME_NEVER;
}

/* MIG-5.1.2-02: the server rotates its CIDs in the middle of an upload (rq_conn_rotate_cids:
 * new CIDs with Retire Prior To above the old ones). The client's packets still carrying an
 * old CID (sent before the client took the new ones) are processed, no Stateless Reset goes
 * out, the client retires every old CID and the upload completes. MIG-5.1.2-06: a second
 * rotation is refused until those retirements arrived; once they did, it goes out, and its
 * NEW_CONNECTION_ID frames follow the last RETIRE_CONNECTION_ID of the first range. */
static void test_cid_rotation_mig_5_1_2_02(void)
{
    cid_run r;
    memset(&r, 0, sizeof r);
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000};
    rq_config *c = qpair_config(RQ_ROLE_CLIENT, NULL, 0),
              *s = qpair_config(RQ_ROLE_SERVER, NULL, 0);
    RQ_CHECK(c && s);
    qtrace_config(&r.qt, c);
    qtrace_config(&r.qt, s);
    RQ_CHECK_ERR(qpair_new(&r.p, 0x5122, &link, c, s, false), RQ_OK);
    RQ_CHECK_ERR(qtrace_attach(&r.qt, r.p.s), RQ_OK);
    RQ_CHECK_ERR(sim_qapp_connect(r.p.client, &QPAIR_SERVER_ADDR, "localhost", 1, 3000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.p.s, upload_half_done, &r, 20 * RQ_SEC), RQ_OK);
    rq_conn *sc = r.p.server->conn;
    RQ_CHECK(sc && sc->handshake_confirmed);
    uint64_t rpt = sc->cids.next_seq;
    rq_time rotated_at = sim_now(r.p.s);
    RQ_CHECK_ERR(rq_conn_rotate_cids(sc, rotated_at), RQ_OK);
    RQ_CHECK_ERR(rq_conn_rotate_cids(sc, rotated_at), RQ_ERR_AGAIN); /* -06: not yet */
    RQ_CHECK_ERR(sim_host_wake(r.p.s, r.p.server->host), RQ_OK);
    /* Wait for every CID below rpt to be retired, trying the second rotation meanwhile. */
    rq_time second_at = RQ_TIME_NEVER;
    while (second_at == RQ_TIME_NEVER && sim_now(r.p.s) < rotated_at + 5 * RQ_SEC) {
        RQ_CHECK_ERR(sim_run_until(r.p.s, sim_now(r.p.s) + RQ_MS), RQ_OK);
        bool old_left = false;
        for (size_t i = 0; i < sc->cids.nlocal; i++)
            old_left |= sc->cids.local[i].seq < rpt;
        int rc = rq_conn_rotate_cids(sc, sim_now(r.p.s));
        RQ_CHECK_ERR(rc, old_left ? RQ_ERR_AGAIN : RQ_OK);
        if (rc == RQ_OK) {
            second_at = sim_now(r.p.s);
            RQ_CHECK_ERR(sim_host_wake(r.p.s, r.p.server->host), RQ_OK);
        }
    }
    RQ_CHECK(second_at != RQ_TIME_NEVER);
    uint64_t rpt2 = sc->cids.local_rpt;
    RQ_CHECK(rpt2 > rpt);
    RQ_CHECK_ERR(sim_run_until_pred(r.p.s, qpair_upload_done, &r.p, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.p.s, sim_now(r.p.s) + 500 * RQ_MS), RQ_OK);
    RQ_CHECK(sim_qapp_upload_done(r.p.client, r.p.server));
    RQ_CHECK_EQ_U64(r.p.server->bad_bytes, 0);
    RQ_CHECK(!r.p.client->closed && !r.p.server->closed);
    RQ_CHECK_EQ_U64(r.qt.st.resets, 0);
    /* The CIDs the server had issued before the rotation (the handshake one included). */
    issued before;
    collect(&r, QTRACE_S2C, &before);
    rq_time rpt_sent = first_rpt(&r, rpt), rpt2_sent = first_rpt(&r, rpt2);
    RQ_CHECK(rpt_sent != RQ_TIME_NEVER && rpt2_sent != RQ_TIME_NEVER);
    bool old_after_rotation = false, retired[64] = {false};
    rq_time last_retire_delivered = 0;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir != QTRACE_C2S || p->type != RQ_PKT_1RTT)
            continue;
        /* A client packet to an old CID that reached the server after the rotation left. */
        bool old = rq_cid_eq(&p->dcid, &sc->scid);
        for (size_t k = 0; k < before.n; k++)
            old |= before.seq[k] < rpt && rq_cid_eq(&p->dcid, &before.cid[k]);
        if (old && p->delivered != QTRACE_NEVER && p->delivered > rpt_sent)
            old_after_rotation = true;
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++) {
            const rq_frame *fr = &r.qt.frames[f];
            if (fr->type != RQ_FT_RETIRE_CONNECTION_ID || fr->retire_cid.seq >= rpt)
                continue;
            if (fr->retire_cid.seq < 64)
                retired[fr->retire_cid.seq] = true;
            if (p->delivered != QTRACE_NEVER && p->delivered > last_retire_delivered)
                last_retire_delivered = p->delivered;
        }
    }
    RQ_CHECK(old_after_rotation); /* -02: still accepted, no reset (resets == 0 above) */
    for (uint64_t q = 0; q < rpt && q < 64; q++)
        RQ_CHECK(retired[q]);
    RQ_CHECK(rpt2_sent >= last_retire_delivered); /* -06 */
    printf("  rotation at %.3f s (rpt %llu), retired by %.3f s, second rotation at %.3f s "
           "(rpt %llu)\n",
           (double)rotated_at / 1e9, (unsigned long long)rpt, (double)last_retire_delivered / 1e9,
           (double)second_at / 1e9, (unsigned long long)rpt2);
    qpair_free(&r.p);
    qtrace_free(&r.qt);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_new_cids_on_the_wire_mig_5_1_1_02);
    RQ_RUN(test_packets_longer_than_reset_floor_mig_10_3_04);
    RQ_RUN(test_cid_rotation_mig_5_1_2_02);
    RQ_RUN(test_zero_length_cid_issues_none_mig_19_15_02);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
