/* Loss detection, PTO and the sent-packet ledger (RFC 9002 §5.1, §6, §7.6; RFC 9000 §9.4,
 * §13.1), driven through a harness that wires each path's RTT estimator and NewReno
 * controller to the recovery callbacks, as the connection will. */
#include "core/alloc.h"
#include "core/cc.h"
#include "core/recovery.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#define NPATHS 3
#define LOGCAP 256

typedef struct ev {
    char kind; /* 'a'cked, 'l'ost, 'd'iscarded, 'p'ersistent congestion, 'e'cn */
    int space;
    uint64_t pn;
    uint32_t path;
    bool in_flight;
    rq_time t;
} ev;

typedef struct harness {
    rq_recovery r;
    rq_recovery_env env;
    rq_rtt rtt[NPATHS];
    rq_cc cc[NPATHS];
    ev log[LOGCAP];
    size_t n;          /* events logged */
    size_t total;      /* events seen (the log keeps the first LOGCAP) */
    size_t kinds[128]; /* events seen per kind */
    uint8_t *done;     /* randomized test: terminal outcomes per App packet number, or NULL */
    size_t done_cap;
    int errors; /* a callback saw something impossible */
} harness;

static void logev(harness *h, char kind, int space, uint64_t pn, uint32_t path, bool in_flight,
                  rq_time t)
{
    if (h->n < LOGCAP)
        h->log[h->n++] = (ev){kind, space, pn, path, in_flight, t};
    h->total++;
    h->kinds[(unsigned char)kind & 127]++;
}

static void settle_once(harness *h, rq_pn_space space, uint64_t pn)
{
    if (!h->done || space != RQ_PN_SPACE_APPLICATION)
        return;
    if (pn >= h->done_cap || h->done[pn])
        h->errors++;
    else
        h->done[pn] = 1;
}

static rq_rtt *cb_rtt(void *ctx, uint32_t path)
{
    harness *h = ctx;
    return path < NPATHS ? &h->rtt[path] : NULL;
}

static void cb_acked(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now)
{
    harness *h = ctx;
    logev(h, 'a', space, p->pn, p->path_id, p->in_flight, now);
    settle_once(h, space, p->pn);
    if (p->in_flight)
        rq_cc_on_acked(&h->cc[p->path_id], p->size, p->time_sent, &h->rtt[p->path_id], now);
}

static void cb_lost(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now)
{
    harness *h = ctx;
    logev(h, 'l', space, p->pn, p->path_id, p->in_flight, now);
    settle_once(h, space, p->pn);
    if (p->in_flight)
        rq_cc_on_lost(&h->cc[p->path_id], p->size, p->time_sent, now);
}

static void cb_discarded(void *ctx, rq_pn_space space, const rq_sent_packet *p)
{
    harness *h = ctx;
    logev(h, 'd', space, p->pn, p->path_id, p->in_flight, 0);
    settle_once(h, space, p->pn);
    if (p->in_flight)
        rq_cc_on_discarded(&h->cc[p->path_id], p->size);
}

static void cb_pc(void *ctx, uint32_t path, rq_time now)
{
    harness *h = ctx;
    logev(h, 'p', -1, 0, path, false, now);
    rq_cc_on_persistent_congestion(&h->cc[path], now);
}

static void cb_ecn(void *ctx, uint32_t path, rq_time time_sent, rq_time now)
{
    harness *h = ctx;
    logev(h, 'e', -1, 0, path, false, time_sent);
    rq_cc_on_congestion_event(&h->cc[path], time_sent, now);
}

/* A server after handshake confirmation unless a test says otherwise. */
static void h_init(harness *h)
{
    memset(h, 0, sizeof *h);
    rq_recovery_init(&h->r, 0);
    for (int i = 0; i < NPATHS; i++) {
        rq_rtt_init(&h->rtt[i]);
        rq_cc_init(&h->cc[i], &rq_cc_newreno_ops, RQ_CC_INITIAL_DATAGRAM_SIZE);
    }
    h->env = (rq_recovery_env){
        .handshake_confirmed = true,
        .peer_address_validated = true,
        .has_handshake_keys = true,
        .max_ack_delay = 25 * RQ_MS,
        .ctx = h,
        .path_rtt = cb_rtt,
        .on_acked = cb_acked,
        .on_lost = cb_lost,
        .on_discarded = cb_discarded,
        .on_persistent_congestion = cb_pc,
        .on_ecn_ce = cb_ecn,
    };
}

static int h_send(harness *h, rq_pn_space sp, uint64_t pn, rq_time t, uint32_t path, uint32_t size,
                  bool ae, bool in_flight)
{
    rq_sent_packet p = {pn, t, pn * 10 + (uint64_t)sp, path, size, ae, in_flight};
    int rc = rq_recovery_on_sent(&h->r, sp, &p, t, &h->env);
    if (rc == 0 && in_flight)
        rq_cc_on_sent(&h->cc[path], size, t);
    return rc;
}

/* A full-sized ack-eliciting packet on path 0. */
static int h_send_ae(harness *h, rq_pn_space sp, uint64_t pn, rq_time t)
{
    return h_send(h, sp, pn, t, 0, 1200, true, true);
}

/* ACK of up to 4 ranges given as (smallest, largest) pairs, descending. */
static int h_ack(harness *h, rq_pn_space sp, rq_time now, rq_time ack_delay, size_t n,
                 const uint64_t *pairs)
{
    rq_ack_range rg[4];
    for (size_t i = 0; i < n; i++) {
        rg[i].smallest = pairs[2 * i];
        rg[i].largest = pairs[2 * i + 1];
    }
    rq_frame_ack f;
    memset(&f, 0, sizeof f);
    f.ranges = rg;
    f.ranges_count = n;
    return rq_recovery_on_ack(&h->r, sp, &f, ack_delay, now, &h->env);
}

static int h_ack1(harness *h, rq_pn_space sp, rq_time now, uint64_t lo, uint64_t hi)
{
    uint64_t pr[2] = {lo, hi};
    return h_ack(h, sp, now, 0, 1, pr);
}

static size_t count_kind(const harness *h, char kind)
{
    size_t c = 0;
    for (size_t i = 0; i < h->n; i++)
        c += h->log[i].kind == kind;
    return c;
}

#define APP RQ_PN_SPACE_APPLICATION
#define HS  RQ_PN_SPACE_HANDSHAKE
#define INI RQ_PN_SPACE_INITIAL
#define MS  RQ_MS

/* RFC 9002 §5.1: a sample is taken when the largest acknowledged is newly acknowledged and an
 * ack-eliciting packet is among the newly acknowledged; never twice for one packet. */
static void test_rfc9002_5_1_rtt_sample_rules(void)
{
    harness h;
    h_init(&h);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 0, 0), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 100 * MS, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[0].latest_rtt, 100 * MS);
    RQ_CHECK_EQ_U64(count_kind(&h, 'a'), 1);
    RQ_CHECK_ERR(h_ack1(&h, APP, 150 * MS, 0, 0), RQ_OK); /* nothing new */
    RQ_CHECK_EQ_U64(h.rtt[0].latest_rtt, 100 * MS);
    RQ_CHECK_EQ_U64(count_kind(&h, 'a'), 1);
    /* An ACK-only packet newly acknowledged alone: no sample. */
    RQ_CHECK_ERR(h_send(&h, APP, 1, 200 * MS, 0, 50, false, false), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 250 * MS, 0, 1), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[0].latest_rtt, 100 * MS);
    RQ_CHECK_EQ_U64(count_kind(&h, 'a'), 2);
    /* Largest newly acknowledged: sample 50 ms; then 2..3 where 3 is old news: no sample. */
    RQ_CHECK_ERR(h_send_ae(&h, APP, 2, 300 * MS), RQ_OK);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 3, 300 * MS), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 350 * MS, 3, 3), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[0].latest_rtt, 50 * MS);
    RQ_CHECK_ERR(h_ack1(&h, APP, 400 * MS, 2, 3), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[0].latest_rtt, 50 * MS);
    RQ_CHECK_EQ_U64(count_kind(&h, 'a'), 4);
    RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §5.1 with several paths (DESIGN: a path's RTT lives in the path): the sample goes
 * to the path the largest newly acknowledged packet was sent on. */
static void test_rfc9002_5_1_sample_goes_to_packet_path(void)
{
    harness h;
    h_init(&h);
    RQ_CHECK_ERR(h_send(&h, APP, 0, 0, 0, 1200, true, true), RQ_OK);
    RQ_CHECK_ERR(h_send(&h, APP, 1, 10 * MS, 1, 1200, true, true), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 60 * MS, 0, 1), RQ_OK);
    RQ_CHECK(h.rtt[1].has_sample);
    RQ_CHECK_EQ_U64(h.rtt[1].latest_rtt, 50 * MS);
    RQ_CHECK(!h.rtt[0].has_sample);
    /* Each path's controller got its own packet back. */
    RQ_CHECK_EQ_U64(h.cc[0].bytes_in_flight, 0);
    RQ_CHECK_EQ_U64(h.cc[1].bytes_in_flight, 0);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §5.3: ack delay is ignored for Initial packets, used (capped after confirmation)
 * elsewhere. First sample 100 ms, second 200 ms with 80 ms delay. */
static void test_rfc9002_5_3_ack_delay_by_space(void)
{
    harness h;
    h_init(&h);
    RQ_CHECK_ERR(h_send_ae(&h, INI, 0, 0), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, INI, 100 * MS, 0, 0), RQ_OK);
    RQ_CHECK_ERR(h_send_ae(&h, INI, 1, 100 * MS), RQ_OK);
    uint64_t pr[2] = {1, 1};
    RQ_CHECK_ERR(h_ack(&h, INI, 300 * MS, 80 * MS, 1, pr), RQ_OK);
    /* Initial: delay ignored, adjusted 200: srtt (700 + 200)/8 = 112.5 ms. */
    RQ_CHECK_EQ_U64(h.rtt[0].smoothed_rtt, 112500000);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 0, 300 * MS), RQ_OK);
    RQ_CHECK_ERR(h_ack(&h, APP, 500 * MS, 80 * MS, 1, (uint64_t[]){0, 0}), RQ_OK);
    /* App, confirmed: delay capped at 25: adjusted 175: srtt (787.5 + 175)/8 = 120.3125 ms. */
    RQ_CHECK_EQ_U64(h.rtt[0].smoothed_rtt, 120312500);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.1.1: a packet is lost once kPacketThreshold (3) later packets are acknowledged;
 * §6.1.2: the others are lost when the time threshold passes: timer at 9/8 × RTT after their
 * send time. Losses are reported before acknowledgments (Appendix A.7). */
static void test_rfc9002_6_1_packet_and_time_threshold(void)
{
    harness h;
    h_init(&h);
    for (uint64_t pn = 0; pn < 5; pn++)
        RQ_CHECK_ERR(h_send_ae(&h, APP, pn, 0), RQ_OK);
    /* Ack 3 at 10 ms: first sample 10 ms, loss delay 11.25 ms. 3 − 0 >= 3: pn 0 lost. */
    RQ_CHECK_ERR(h_ack1(&h, APP, 10 * MS, 3, 3), RQ_OK);
    RQ_CHECK_EQ_U64(h.n, 2);
    RQ_CHECK_EQ_INT(h.log[0].kind, 'l');
    RQ_CHECK_EQ_U64(h.log[0].pn, 0);
    RQ_CHECK_EQ_INT(h.log[1].kind, 'a');
    RQ_CHECK_EQ_U64(h.log[1].pn, 3);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 11250000);
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 11 * MS, &h.env, &pr), RQ_OK); /* early */
    RQ_CHECK_EQ_U64(h.n, 2);
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 11250000, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 0);
    RQ_CHECK_EQ_U64(h.n, 4);
    RQ_CHECK_EQ_U64(h.log[2].pn, 1);
    RQ_CHECK_EQ_U64(h.log[3].pn, 2);
    RQ_CHECK_EQ_INT(h.log[3].kind, 'l');
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 0); /* loss timer: no backoff */
    /* pn 4 remains: PTO armed from its send time: 0 + (srtt 10 + 4 × 5) + 25 = 55 ms. */
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 55 * MS);
    RQ_CHECK_EQ_U64(rq_recovery_bytes_in_flight(&h.r, APP), 1200);
    RQ_CHECK_EQ_U64(h.cc[0].bytes_in_flight, 1200);
    RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.1.2 with per-path RTT: path 0 (srtt 100 ms) waits 112.5 ms, path 1 (10 ms)
 * 11.25 ms. pn 2 is in flight but not ack-eliciting, so its ACK gives no sample. */
static void test_rfc9002_6_1_2_time_threshold_per_path(void)
{
    harness h;
    h_init(&h);
    rq_rtt_update(&h.rtt[0], 100 * MS, 0, 0, false, 0);
    rq_rtt_update(&h.rtt[1], 10 * MS, 0, 0, false, 0);
    RQ_CHECK_ERR(h_send(&h, APP, 0, 1 * MS, 0, 1200, true, true), RQ_OK);
    RQ_CHECK_ERR(h_send(&h, APP, 1, 1 * MS, 1, 1200, true, true), RQ_OK);
    RQ_CHECK_ERR(h_send(&h, APP, 2, 2 * MS, 0, 1200, false, true), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 20 * MS, 2, 2), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 1);
    RQ_CHECK_EQ_U64(h.log[0].pn, 1);
    RQ_CHECK_EQ_U64(h.log[0].path, 1);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1 * MS + 112500000);
    RQ_CHECK_EQ_U64(h.cc[1].bytes_in_flight, 0);
    RQ_CHECK(h.cc[1].in_recovery);
    RQ_CHECK(!h.cc[0].in_recovery);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.2.1: PTO = srtt + max(4 × rttvar, 1 ms) (+ max_ack_delay in Application space),
 * doubled per consecutive PTO; an acknowledgment resets the backoff. srtt 100, rttvar 50:
 * Application 325 ms, Handshake 300 ms. */
static void test_rfc9002_6_2_1_pto_and_backoff(void)
{
    harness h;
    h_init(&h);
    rq_rtt_update(&h.rtt[0], 100 * MS, 0, 0, false, 0);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 0, RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_SEC + 325 * MS);
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, RQ_SEC + 325 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 2);
    RQ_CHECK_EQ_INT(pr.space, APP);
    RQ_CHECK(!pr.anti_deadlock);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 1);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_SEC + 650 * MS);
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, RQ_SEC + 650 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 2);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_SEC + 1300 * MS);
    /* The probe is sent and acknowledged: backoff back to 0; pn 0 is not lost yet
     * (1 − 0 < 3 and the time threshold has not passed since the new sample). */
    RQ_CHECK_ERR(h_send_ae(&h, APP, 1, 2 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, APP, 2 * RQ_SEC + 100 * MS, 1, 1), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 0);
    /* Handshake space: no max_ack_delay. */
    harness g;
    h_init(&g);
    rq_rtt_update(&g.rtt[0], 100 * MS, 0, 0, false, 0);
    RQ_CHECK_ERR(h_send_ae(&g, HS, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&g.r), 300 * MS);
    rq_recovery_free(&h.r);
    rq_recovery_free(&g.r);
}

/* RFC 9002 §6.2.1: no Application-space PTO before the handshake is confirmed; the other
 * spaces still arm it. */
static void test_rfc9002_6_2_1_no_app_pto_before_confirmation(void)
{
    harness h;
    h_init(&h);
    h.env.handshake_confirmed = false;
    RQ_CHECK_ERR(h_send_ae(&h, APP, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER);
    RQ_CHECK_ERR(h_send_ae(&h, HS, 0, 10 * MS), RQ_OK);
    /* Initial RTT: 333 + 4 × 166.5 = 999 ms after the Handshake packet. */
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1009 * MS);
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 1009 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_INT(pr.space, HS);
    /* Once confirmed, the Application packet's PTO counts (0 + (999 + 25) × 2). */
    h.env.handshake_confirmed = true;
    RQ_CHECK_ERR(rq_recovery_discard_space(&h.r, HS, 1100 * MS, &h.env), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1024 * MS); /* backoff reset by discard */
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.2.2.1: a client not yet sure the server validated its address keeps a PTO with
 * nothing in flight, from now; the probe is a padded Initial, or a Handshake packet once it
 * has Handshake keys; an ACK does not reset the backoff until validation. */
static void test_rfc9002_6_2_2_1_client_anti_deadlock(void)
{
    harness h;
    h_init(&h);
    h.env.handshake_confirmed = false;
    h.env.peer_address_validated = false;
    h.env.has_handshake_keys = false;
    rq_recovery_set_timer(&h.r, 50 * MS, &h.env);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1049 * MS);
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 1049 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK(pr.anti_deadlock);
    RQ_CHECK_EQ_U64(pr.count, 1);
    RQ_CHECK_EQ_INT(pr.space, INI);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 1);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), (1049 + 1998) * MS);
    /* An Initial is sent and acknowledged: the backoff stays (address not validated). */
    RQ_CHECK_ERR(h_send_ae(&h, INI, 0, 1100 * MS), RQ_OK);
    RQ_CHECK_ERR(h_ack1(&h, INI, 1200 * MS, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 1);
    /* sample 100 ms → PTO base 300 ms, × 2: from now (1200) = 1800 ms; Handshake keys. */
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1800 * MS);
    h.env.has_handshake_keys = true;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 1800 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK(pr.anti_deadlock);
    RQ_CHECK_EQ_INT(pr.space, HS);
    /* Validated (a Handshake ACK arrived): nothing in flight, no timer. */
    h.env.peer_address_validated = true;
    rq_recovery_set_timer(&h.r, 1900 * MS, &h.env);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.2.2.1 / A.8: a server at its anti-amplification limit arms no PTO. */
static void test_rfc9002_6_2_2_1_amplification_blocked_no_timer(void)
{
    harness h;
    h_init(&h);
    h.env.handshake_confirmed = false;
    h.env.amplification_blocked = true;
    RQ_CHECK_ERR(h_send_ae(&h, INI, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER);
    h.env.amplification_blocked = false; /* a datagram arrived */
    rq_recovery_set_timer(&h.r, 5 * MS, &h.env);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 999 * MS);
    rq_recovery_free(&h.r);
}

/* Sets up path 0 with a sample at 100 ms (srtt 100, rttvar 50, first sample at 100 ms). */
static void pc_setup(harness *h)
{
    h_init(h);
    h_send_ae(h, APP, 0, 0);
    h_ack1(h, APP, 100 * MS, 0, 0);
    h->n = 0;
}

/* RFC 9002 §7.6.2: ack-eliciting pn 1 (200 ms) and pn 3 (1200 ms) both lost, nothing between
 * acknowledged. After the sample from pn 4 (100 ms: rttvar 37.5) the duration is
 * (100 + 150 + 25) × 3 = 825 ms < 1000 ms: persistent congestion, window to 2400. */
static void test_rfc9002_7_6_2_persistent_congestion(void)
{
    harness h;
    pc_setup(&h);
    h_send_ae(&h, APP, 1, 200 * MS);
    h_send_ae(&h, APP, 2, 700 * MS);
    h_send_ae(&h, APP, 3, 1200 * MS);
    h_send_ae(&h, APP, 4, 1300 * MS);
    RQ_CHECK_ERR(h_ack1(&h, APP, 1400 * MS, 4, 4), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 1);
    RQ_CHECK_EQ_INT(h.log[3].kind, 'p'); /* after the losses, before the ack */
    RQ_CHECK_EQ_INT(h.log[4].kind, 'a');
    /* The minimum window; pn 4's ack does not grow it: five packets never filled the window
     * (RFC 9002 §7.8, application-limited). */
    RQ_CHECK_EQ_U64(h.cc[0].cwnd, 2400);
    RQ_CHECK(!h.cc[0].in_recovery);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §7.6.2 preconditions: an acknowledgment between the two losses, a period not
 * longer than the duration, or losses of packets sent before the first RTT sample, each
 * prevent the declaration. */
static void test_rfc9002_7_6_2_persistent_congestion_preconditions(void)
{
    harness h;
    pc_setup(&h); /* pn 2 acknowledged between */
    h_send_ae(&h, APP, 1, 200 * MS);
    h_send_ae(&h, APP, 2, 700 * MS);
    h_send_ae(&h, APP, 3, 1200 * MS);
    h_send_ae(&h, APP, 4, 1300 * MS);
    RQ_CHECK_ERR(h_ack(&h, APP, 1400 * MS, 0, 2, (uint64_t[]){4, 4, 2, 2}), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 2);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 0);
    rq_recovery_free(&h.r);

    pc_setup(&h); /* 800 ms apart: not beyond 825 ms */
    h_send_ae(&h, APP, 1, 200 * MS);
    h_send_ae(&h, APP, 2, 700 * MS);
    h_send_ae(&h, APP, 3, 1000 * MS);
    h_send_ae(&h, APP, 4, 1300 * MS);
    RQ_CHECK_ERR(h_ack1(&h, APP, 1400 * MS, 4, 4), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 0);
    rq_recovery_free(&h.r);

    h_init(&h); /* no RTT sample before the losses: the first comes with this very ACK */
    h_send_ae(&h, APP, 0, 0);
    h_send_ae(&h, APP, 1, 10 * MS);
    h_send_ae(&h, APP, 2, 1100 * MS);
    h_send_ae(&h, APP, 3, 1200 * MS);
    RQ_CHECK_ERR(h_ack1(&h, APP, 1300 * MS, 3, 3), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 0);
    rq_recovery_free(&h.r);

    pc_setup(&h); /* the two losses are on different paths */
    h.rtt[1] = h.rtt[0];
    h_send(&h, APP, 1, 200 * MS, 0, 1200, true, true);
    h_send(&h, APP, 2, 700 * MS, 0, 1200, false, true);
    h_send(&h, APP, 3, 1200 * MS, 1, 1200, true, true);
    h_send_ae(&h, APP, 4, 1300 * MS);
    RQ_CHECK_ERR(h_ack1(&h, APP, 1400 * MS, 4, 4), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 0);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §6.4: discarding Initial keys removes its packets from bytes in flight (reported
 * so the controller follows), clears its timers and the backoff; the space takes no more. */
static void test_rfc9002_6_4_discard_space(void)
{
    harness h;
    h_init(&h);
    h.env.handshake_confirmed = false;
    h_send_ae(&h, INI, 0, 0);
    h_send_ae(&h, INI, 1, 0);
    h_send_ae(&h, HS, 0, 10 * MS);
    RQ_CHECK_EQ_U64(h.cc[0].bytes_in_flight, 3600);
    rq_recovery_probe pr;
    rq_recovery_on_timeout(&h.r, 999 * MS, &h.env, &pr);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 1);
    RQ_CHECK_ERR(rq_recovery_discard_space(&h.r, INI, RQ_SEC, &h.env), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'd'), 2);
    RQ_CHECK_EQ_U64(rq_recovery_bytes_in_flight(&h.r, INI), 0);
    RQ_CHECK_EQ_U64(h.cc[0].bytes_in_flight, 1200);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 0);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1009 * MS); /* Handshake only */
    RQ_CHECK_ERR(h_send_ae(&h, INI, 2, RQ_SEC), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(h_ack1(&h, INI, RQ_SEC, 0, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_recovery_discard_space(&h.r, APP, RQ_SEC, &h.env), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
    rq_recovery_free(&h.r);
}

/* RFC 9000 §9.4, MIG-9.4-01: after a migration, the old path's in-flight packets stop counting
 * (bytes handed back to its controller) but are still reported when acknowledged, as not in
 * flight (so no controller grows on them), and give no RTT sample, even to a path that reuses
 * the old path's id (a connection reuses path slots); the new path's packets count normally. */
static void test_rfc9000_9_4_detach_path(void)
{
    harness h;
    h_init(&h);
    for (uint64_t pn = 0; pn < 3; pn++)
        h_send_ae(&h, APP, pn, 0);
    h_send(&h, APP, 3, 0, 0, 40, false, false); /* an ACK-only packet */
    uint64_t bytes = 0;
    rq_recovery_detach_path(&h.r, 0, 5 * MS, &h.env, &bytes);
    RQ_CHECK_EQ_U64(bytes, 3600);
    rq_cc_on_discarded(&h.cc[0], bytes);
    RQ_CHECK_EQ_U64(rq_recovery_bytes_in_flight(&h.r, APP), 0);
    RQ_CHECK_EQ_U64(rq_recovery_path_bytes_in_flight(&h.r, 0), 0);
    RQ_CHECK(!rq_recovery_ack_eliciting_in_flight(&h.r));
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER); /* nothing to probe for */
    /* The old path's largest acknowledged alone: no sample for path 0. */
    RQ_CHECK_ERR(h_ack1(&h, APP, 50 * MS, 2, 2), RQ_OK);
    RQ_CHECK(!h.rtt[0].has_sample);
    RQ_CHECK_EQ_U64(h.n, 1);
    RQ_CHECK(!h.log[0].in_flight);
    h_send(&h, APP, 4, 60 * MS, 1, 1200, true, true);
    h_send(&h, APP, 5, 60 * MS, 1, 1200, true, true);
    RQ_CHECK_EQ_U64(rq_recovery_path_bytes_in_flight(&h.r, 1), 2400);
    RQ_CHECK_ERR(h_ack1(&h, APP, 90 * MS, 0, 5), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[1].latest_rtt, 30 * MS);
    RQ_CHECK(!h.rtt[0].has_sample);
    RQ_CHECK_EQ_U64(h.cc[0].bytes_in_flight, 0);
    RQ_CHECK_EQ_U64(h.cc[1].bytes_in_flight, 0);
    RQ_CHECK_EQ_U64(h.cc[0].cwnd, 12000); /* old path's controller untouched by the acks */
    RQ_CHECK_EQ_U64(count_kind(&h, 'a'), 6);
    RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
    rq_recovery_free(&h.r);
}

/* RFC 9000 §13.1: an ACK of a packet number never sent is a PROTOCOL_VIOLATION, reported
 * before anything changes; malformed ranges are FRAME_ENCODING. */
static void test_rfc9000_13_1_ack_of_unsent_packet(void)
{
    harness h;
    h_init(&h);
    RQ_CHECK_ERR(h_ack1(&h, APP, 0, 0, 0), RQ_ERR_PROTOCOL_VIOLATION); /* nothing sent */
    for (uint64_t pn = 0; pn < 3; pn++)
        h_send_ae(&h, APP, pn, 0);
    RQ_CHECK_ERR(h_ack(&h, APP, 10 * MS, 0, 2, (uint64_t[]){3, 3, 0, 1}),
                 RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_EQ_U64(h.n, 0);
    RQ_CHECK_EQ_U64(rq_recovery_largest_acked(&h.r, APP), RQ_PN_NONE);
    RQ_CHECK_EQ_U64(rq_recovery_bytes_in_flight(&h.r, APP), 3600);
    RQ_CHECK_ERR(h_ack(&h, APP, 10 * MS, 0, 2, (uint64_t[]){0, 0, 2, 2}), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_EQ_U64(h.n, 0);
    /* A packet number going backwards on send is the caller's bug. */
    RQ_CHECK_ERR(h_send_ae(&h, APP, 2, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(h_send_ae(&h, APP, RQ_PN_MAX + 1, 0), RQ_ERR_INVALID_ARG);
    rq_recovery_free(&h.r);
}

/* RFC 9002 §B.7: a higher ECN-CE count is a congestion event for the path of the largest
 * acknowledged packet, once per increase. */
static void test_rfc9002_b_7_ecn_ce(void)
{
    harness h;
    h_init(&h);
    h_send(&h, APP, 0, 5 * MS, 1, 1200, true, true);
    h_send(&h, APP, 1, 6 * MS, 1, 1200, true, true);
    rq_ack_range rg = {0, 0};
    rq_frame_ack f = {.ranges = &rg, .ranges_count = 1, .ecn_ce = 1};
    RQ_CHECK_ERR(rq_recovery_on_ack(&h.r, APP, &f, 0, 50 * MS, &h.env), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'e'), 1);
    RQ_CHECK_EQ_U64(h.log[0].path, 1);
    RQ_CHECK_EQ_U64(h.log[0].t, 5 * MS);
    RQ_CHECK_EQ_U64(h.cc[1].cwnd, 6000);
    rg = (rq_ack_range){0, 1};
    RQ_CHECK_ERR(rq_recovery_on_ack(&h.r, APP, &f, 0, 60 * MS, &h.env), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'e'), 1);
    rq_recovery_free(&h.r);
}

/* The ledger bound: at the cap an ACK-only record is forgotten (reported as discarded);
 * a ledger full of ack-eliciting packets refuses with RQ_ERR_LIMIT. */
static void test_recovery_ledger_cap(void)
{
    harness h;
    h_init(&h);
    rq_recovery_free(&h.r);
    rq_recovery_init(&h.r, 4);
    h_send(&h, APP, 0, 0, 0, 40, false, false);
    for (uint64_t pn = 1; pn < 4; pn++)
        RQ_CHECK_ERR(h_send_ae(&h, APP, pn, 0), RQ_OK);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 4, 0), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'd'), 1);
    RQ_CHECK_EQ_U64(h.log[0].pn, 0);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 5, 0), RQ_ERR_LIMIT);
    rq_sent_packet p;
    RQ_CHECK(!rq_recovery_find(&h.r, APP, 5, &p));
    RQ_CHECK(rq_recovery_find(&h.r, APP, 4, &p));
    RQ_CHECK_EQ_U64(p.token, 40 + APP);
    /* Acknowledging frees room. */
    RQ_CHECK_ERR(h_ack1(&h, APP, 10 * MS, 1, 1), RQ_OK);
    RQ_CHECK_ERR(h_send_ae(&h, APP, 5, 10 * MS), RQ_OK);
    RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
    rq_recovery_free(&h.r);
}

/* RFC 9002 Appendix A invariants under random traffic on two paths: random sends, ACKs
 * (including ACKs of never-sent packet numbers, which must fail with PROTOCOL_VIOLATION and
 * change nothing), timeouts, path detaches and space discards. After every step the ledger's
 * bytes in flight equal the sum over in-flight unsettled records, each path's controller
 * agrees with the ledger, and no packet is settled twice. */
static void test_rfc9002_a_randomized_invariants(void)
{
    static uint8_t done[8192];
    size_t seen[128] = {0};
    uint64_t seed = rq_test_seed();
    unsigned long iters = rq_test_iterations(40);
    for (unsigned long it = 0; it < iters; it++) {
        harness h;
        h_init(&h);
        h.env.handshake_confirmed = (it & 1) != 0;
        memset(done, 0, sizeof done);
        h.done = done;
        h.done_cap = sizeof done;
        uint64_t next[3] = {0, 0, 0};
        rq_time now = 0;
        for (int step = 0; step < 1500; step++) {
            uint64_t r = rq_test_rand(&seed);
            now += (r >> 40) % (20 * MS);
            unsigned op = (unsigned)(r % 100);
            rq_pn_space sp = op % 7 == 0 ? (rq_pn_space)((r >> 8) % 3) : APP;
            if (op < 50) {
                next[sp] += (r >> 12) % 8 == 0 ? 2 : 1; /* sometimes skip a number */
                uint64_t pn = next[sp] - 1;
                bool ae = (r >> 16) % 4 != 0;
                bool inf = ae || (r >> 18) % 2;
                int rc = h_send(&h, sp, pn, now, (uint32_t)((r >> 20) % 2),
                                (uint32_t)(40 + (r >> 24) % 1400), ae, inf);
                RQ_CHECK(rc == RQ_OK || (rc == RQ_ERR_INVALID_ARG && h.r.space[sp].discarded));
            } else if (op < 85) {
                uint64_t hi = (r >> 8) % (next[sp] + 3);
                uint64_t pairs[8];
                size_t n = 0;
                uint64_t top = hi, s2 = r;
                while (n < 4) {
                    s2 = rq_test_rand(&s2);
                    uint64_t len = s2 % 5;
                    uint64_t lo = top >= len ? top - len : 0;
                    pairs[2 * n] = lo;
                    pairs[2 * n + 1] = top;
                    n++;
                    uint64_t gap = 2 + (s2 >> 8) % 4;
                    if (lo < gap)
                        break;
                    top = lo - gap;
                }
                uint64_t before = rq_recovery_bytes_in_flight(&h.r, sp);
                size_t nev = h.total;
                int rc = h_ack(&h, sp, now, (r >> 30) % (50 * MS), n, pairs);
                if (h.r.space[sp].discarded) {
                    RQ_CHECK_ERR(rc, RQ_ERR_INVALID_ARG);
                } else if (hi >= next[sp]) {
                    RQ_CHECK_ERR(rc, RQ_ERR_PROTOCOL_VIOLATION);
                    RQ_CHECK_EQ_U64(rq_recovery_bytes_in_flight(&h.r, sp), before);
                    RQ_CHECK_EQ_U64(h.total, nev);
                } else {
                    RQ_CHECK_ERR(rc, RQ_OK);
                }
            } else if (op < 95) {
                rq_recovery_probe pr;
                rq_time t = rq_recovery_deadline(&h.r);
                if (t != RQ_TIME_NEVER && t > now)
                    now = t;
                RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, now, &h.env, &pr), RQ_OK);
            } else if (op < 98) {
                uint32_t path = (uint32_t)((r >> 8) % 2);
                uint64_t bytes;
                rq_recovery_detach_path(&h.r, path, now, &h.env, &bytes);
                rq_cc_on_discarded(&h.cc[path], bytes);
            } else {
                rq_pn_space d = (r >> 8) % 2 ? HS : INI;
                RQ_CHECK_ERR(rq_recovery_discard_space(&h.r, d, now, &h.env), RQ_OK);
            }
            RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
            RQ_CHECK_EQ_INT(h.errors, 0);
            for (uint32_t p = 0; p < 2; p++)
                RQ_CHECK_EQ_U64(h.cc[p].bytes_in_flight, rq_recovery_path_bytes_in_flight(&h.r, p));
            if (next[APP] >= sizeof done - 16)
                break;
        }
        /* Every Application packet is settled exactly once or still in the ledger. */
        for (uint64_t pn = 0; pn < next[APP]; pn++) {
            rq_sent_packet p;
            bool live = rq_recovery_find(&h.r, APP, pn, &p);
            RQ_CHECK(!(live && done[pn]));
        }
        for (int k = 0; k < 128; k++)
            seen[k] += h.kinds[k];
        rq_recovery_free(&h.r);
    }
    /* The walk reached every kind of outcome. */
    RQ_CHECK(seen['a'] > 0 && seen['l'] > 0 && seen['d'] > 0 && seen['p'] > 0);
}

/* REC-6.2.2-01 (RFC 9002 §6.2.2): a path with no RTT sample uses kInitialRtt for its PTO even
 * when another path of the connection has a small RTT: path 0 (sampled, 20 ms) and path 1 (new)
 * each arm a PTO from their own estimator. An Application packet on the new path: 333 + 4 ×
 * 166.5 + 25 (max_ack_delay) = 1024 ms; on path 0: 20 + 40 + 25 = 85 ms. The same after path 0
 * is reset (a new address, RFC 9000 §9.4). */
static void test_new_path_pto_uses_initial_rtt_rec_6_2_2_01(void)
{
    harness h;
    h_init(&h);
    h_send(&h, APP, 0, 0, 0, 1200, true, true);
    RQ_CHECK_ERR(h_ack1(&h, APP, 20 * MS, 0, 0), RQ_OK);
    RQ_CHECK_EQ_U64(h.rtt[0].smoothed_rtt, 20 * MS);
    RQ_CHECK(!h.rtt[1].has_sample);
    h_send(&h, APP, 1, 2 * RQ_SEC, 1, 1200, true, true);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 2 * RQ_SEC + 1024 * MS);
    /* The PTO fires there and asks for probes; the backoff doubles the whole period. */
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 2 * RQ_SEC + 1023 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 0);
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 2 * RQ_SEC + 1024 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 2);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 2 * RQ_SEC + 2048 * MS);
    rq_recovery_free(&h.r);

    h_init(&h); /* path 0 sampled, then reset */
    h_send(&h, APP, 0, 0, 0, 1200, true, true);
    RQ_CHECK_ERR(h_ack1(&h, APP, 20 * MS, 0, 0), RQ_OK);
    h_send(&h, APP, 1, 30 * MS, 0, 1200, true, true);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 30 * MS + 85 * MS);
    uint64_t bytes = 0;
    rq_recovery_detach_path(&h.r, 0, 40 * MS, &h.env, &bytes);
    rq_rtt_init(&h.rtt[0]);
    rq_cc_reset(&h.cc[0], RQ_CC_INITIAL_DATAGRAM_SIZE);
    h_send(&h, APP, 2, 50 * MS, 0, 1200, true, true);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 50 * MS + 1024 * MS);
    /* Handshake space on a fresh path: no max_ack_delay, 999 ms. */
    harness g;
    h_init(&g);
    g.env.handshake_confirmed = false;
    RQ_CHECK_ERR(h_send_ae(&g, HS, 0, 7 * MS), RQ_OK);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&g.r), 7 * MS + 999 * MS);
    rq_recovery_free(&h.r);
    rq_recovery_free(&g.r);
}

/* REC-6.2.2-02 (RFC 9002 §6.2.2): a path seeded with its challenge round trip (40 ms) arms its
 * PTO from the seed (40 + 80 + 25 = 145 ms), yet the seed is no sample: losses before the first
 * ACK sample on that path start no persistent congestion period however far apart (here 1.5 s,
 * beyond the seeded duration of 435 ms), and the first ACK sample replaces the seed. */
static void test_seeded_path_not_sampled_rec_6_2_2_02(void)
{
    harness h;
    h_init(&h);
    rq_rtt_seed(&h.rtt[1], 40 * MS);
    RQ_CHECK_EQ_U64(rq_rtt_persistent_congestion_duration(&h.rtt[1], 25 * MS), 435 * MS);
    h_send(&h, APP, 0, RQ_SEC, 1, 1200, true, true);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_SEC + 145 * MS);
    h_send(&h, APP, 1, RQ_SEC + 500 * MS, 1, 1200, true, true);
    h_send(&h, APP, 2, 2 * RQ_SEC + 500 * MS, 1, 1200, true, true);
    h_send(&h, APP, 3, 2 * RQ_SEC + 600 * MS, 1, 1200, true, true);
    h_send(&h, APP, 4, 2 * RQ_SEC + 700 * MS, 1, 1200, true, true);
    RQ_CHECK_ERR(h_ack1(&h, APP, 2 * RQ_SEC + 750 * MS, 4, 4), RQ_OK);
    /* pn 0 and 1 by packet threshold, 2 and 3 by time (9/8 × 50 ms after the new sample). */
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 4);
    RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 0);
    RQ_CHECK(h.rtt[1].has_sample);
    RQ_CHECK_EQ_U64(h.rtt[1].min_rtt, 50 * MS);
    RQ_CHECK_EQ_U64(h.rtt[1].smoothed_rtt, 50 * MS);
    RQ_CHECK_EQ_U64(h.cc[1].cwnd, 6000); /* one congestion event, no collapse */
    rq_recovery_free(&h.r);
}

/* REC-7.6.2-01 (RFC 9002 §7.6.2): no persistent congestion before the path's first RTT sample,
 * also straight after a reset. Path 0 had a sample (100 ms); the same losses (ack-eliciting,
 * 3.8 s apart, nothing acknowledged between: beyond both the sampled duration of 825 ms and a
 * fresh estimator's 3072 ms) collapse the window when the path keeps its estimator, and do not
 * when the path was reset (new address) before they were sent: the ACK that declares them
 * brings the path's first sample, which postdates them. */
static void test_no_persistent_congestion_before_sample_after_reset_rec_7_6_2_01(void)
{
    for (int reset = 0; reset < 2; reset++) {
        harness h;
        pc_setup(&h);
        RQ_CHECK(h.rtt[0].has_sample);
        if (reset) {
            rq_rtt_init(&h.rtt[0]);
            rq_cc_reset(&h.cc[0], RQ_CC_INITIAL_DATAGRAM_SIZE);
        }
        h_send_ae(&h, APP, 1, 200 * MS);
        h_send_ae(&h, APP, 2, 2 * RQ_SEC);
        h_send_ae(&h, APP, 3, 4 * RQ_SEC);
        h_send_ae(&h, APP, 4, 4100 * MS);
        RQ_CHECK_ERR(h_ack1(&h, APP, 4200 * MS, 4, 4), RQ_OK);
        RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
        RQ_CHECK_EQ_U64(count_kind(&h, 'p'), reset ? 0 : 1);
        RQ_CHECK_EQ_U64(h.cc[0].cwnd, reset ? 6000 : 2400);
        RQ_CHECK_EQ_INT(h.cc[0].in_recovery, reset);
        if (reset) {
            RQ_CHECK_EQ_U64(h.rtt[0].first_sample_time, 4200 * MS);
            /* Once sampled, the path can be in persistent congestion again: two losses 1.2 s
             * apart (duration now (100 + 200 + 25) × 3 = 975 ms) collapse it. */
            h.n = 0;
            h_send_ae(&h, APP, 5, 4300 * MS);
            h_send_ae(&h, APP, 6, 5000 * MS);
            h_send_ae(&h, APP, 7, 5500 * MS);
            h_send_ae(&h, APP, 8, 5550 * MS);
            RQ_CHECK_ERR(h_ack1(&h, APP, 5650 * MS, 8, 8), RQ_OK);
            RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 3);
            RQ_CHECK_EQ_U64(count_kind(&h, 'p'), 1);
            RQ_CHECK_EQ_U64(h.cc[0].cwnd, 2400);
        }
        RQ_CHECK_ERR(rq_recovery_check(&h.r), RQ_OK);
        rq_recovery_free(&h.r);
    }
}

/* REC-6.2.2.1-01 (RFC 9002 §6.2.2.1 / A.8), as it applies to a server on an unvalidated
 * migrated path: a PTO armed while the server could still send (a fresh path: 1024 ms) is not
 * fired once the server is blocked by the 3x limit: no probe is asked for, the backoff does not
 * grow, the timer is disarmed. A datagram from the client lifts the block and re-arms it from
 * the last ack-eliciting packet; the probe then goes out. Time-threshold loss detection is
 * not a PTO and still runs while blocked. */
static void test_blocked_server_pto_cancelled_rec_6_2_2_1_01(void)
{
    harness h;
    h_init(&h);
    h_send(&h, APP, 0, 0, 1, 1200, true, true); /* the PATH_CHALLENGE on the new path 1 */
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1024 * MS);
    h.env.amplification_blocked = true; /* that datagram used the whole budget */
    rq_recovery_probe pr;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 1024 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 0);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 0);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER);
    h.env.amplification_blocked = false; /* the client sent more */
    rq_recovery_set_timer(&h.r, 1500 * MS, &h.env);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 1024 * MS);
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 1500 * MS, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(pr.count, 2);
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&h.r), 1);
    rq_recovery_free(&h.r);

    h_init(&h); /* a time-threshold loss while blocked is still declared */
    h_send(&h, APP, 0, 0, 0, 1200, true, true);
    h_send(&h, APP, 1, 10 * MS, 0, 1200, true, true);
    RQ_CHECK_ERR(h_ack1(&h, APP, 110 * MS, 1, 1), RQ_OK); /* sample 100 ms; pn 0 not yet lost */
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), 112500 * RQ_MS / 1000);
    h.env.amplification_blocked = true;
    RQ_CHECK_ERR(rq_recovery_on_timeout(&h.r, 112500 * RQ_MS / 1000, &h.env, &pr), RQ_OK);
    RQ_CHECK_EQ_U64(count_kind(&h, 'l'), 1);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&h.r), RQ_TIME_NEVER);
    rq_recovery_free(&h.r);
}

int main(void)
{
    int64_t base = rq_mem_live();
    RQ_RUN(test_rfc9002_5_1_rtt_sample_rules);
    RQ_RUN(test_rfc9002_5_1_sample_goes_to_packet_path);
    RQ_RUN(test_rfc9002_5_3_ack_delay_by_space);
    RQ_RUN(test_rfc9002_6_1_packet_and_time_threshold);
    RQ_RUN(test_rfc9002_6_1_2_time_threshold_per_path);
    RQ_RUN(test_rfc9002_6_2_1_pto_and_backoff);
    RQ_RUN(test_rfc9002_6_2_1_no_app_pto_before_confirmation);
    RQ_RUN(test_rfc9002_6_2_2_1_client_anti_deadlock);
    RQ_RUN(test_rfc9002_6_2_2_1_amplification_blocked_no_timer);
    RQ_RUN(test_rfc9002_7_6_2_persistent_congestion);
    RQ_RUN(test_rfc9002_7_6_2_persistent_congestion_preconditions);
    RQ_RUN(test_rfc9002_6_4_discard_space);
    RQ_RUN(test_rfc9000_9_4_detach_path);
    RQ_RUN(test_rfc9000_13_1_ack_of_unsent_packet);
    RQ_RUN(test_rfc9002_b_7_ecn_ce);
    RQ_RUN(test_recovery_ledger_cap);
    RQ_RUN(test_rfc9002_a_randomized_invariants);
    RQ_RUN(test_new_path_pto_uses_initial_rtt_rec_6_2_2_01);
    RQ_RUN(test_seeded_path_not_sampled_rec_6_2_2_02);
    RQ_RUN(test_no_persistent_congestion_before_sample_after_reset_rec_7_6_2_01);
    RQ_RUN(test_blocked_server_pto_cancelled_rec_6_2_2_1_01);
    if (rq_mem_live() != base) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - base));
        return 1;
    }
    return rq_test_summary();
}
