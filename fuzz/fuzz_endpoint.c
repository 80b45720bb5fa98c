/* Fuzzes a server endpoint with hostile datagrams in the middle of a handshake and in the
 * middle of a transfer: "a malformed or hostile packet never crashes an endpoint".
 *
 * Each input builds its own little world: an in-process client and server endpoint that
 * exchange datagrams directly (no simulator) on a virtual clock, with seeded PRNGs as their
 * rq_random_fn. GnuTLS keeps its own randomness, so key bytes differ from run to run; the
 * setup therefore only ever waits for conditions (an event, a byte count), never for exact
 * TLS bytes, and the test certificate (Ed25519) and key exchange keep every datagram's size
 * the same. The first input byte picks the state the world is brought to:
 *
 *   bits 0-1  0: server fresh, nothing received (the client's first flight is captured as a
 *                template but not delivered);
 *             1: mid-handshake: the client's first flight delivered, the server's reply not;
 *             2: established, the client sending a stream to the server;
 *             3: as 2, and the server also sending a large response on that stream.
 *   bit 2     the server validates addresses with Retry first.
 *   bit 3     the client offers only ChaCha20-Poly1305 (the other header-protection cipher).
 *
 * The rest is a list of operations (op byte % OP_COUNT, then its arguments; missing bytes
 * read as zero), at most MAX_OPS of them:
 *
 *   RAW       src, u16 len, bytes: an arbitrary datagram to the server.
 *   TEMPLATE  idx, src|nedits<<2, nedits x (kind, u16 pos, val): a datagram captured during
 *             setup (client's by default, the server's own with idx bit 7), edited, to the
 *             server. Reaches past the header parse with real connection IDs.
 *   FORGE     f1, f2, u16 len, plaintext: a packet sealed with the client connection's own
 *             keys around the fuzzer's frames, so they reach the server's frame handlers.
 *             f2 bit 3 holds the packet to coalesce the next FORGE into the same datagram.
 *   STEP      code: advance the clock, run both endpoints' timers, exchange datagrams.
 *   DROP      n: the server's next datagrams are lost.
 *   CLIENT    n: the client's pending datagrams reach the server, the server's stay queued.
 *   APP       action: an application call on either side (streams, close, key update).
 *
 * Afterwards both endpoints run a few more rounds and are freed; every allocation the library
 * made must be returned (rq_mem_live), on top of what the sanitizers check. Work per input is
 * bounded by MAX_OPS, per-exchange caps and a global budget of endpoint calls.
 */
#include "core/alloc.h"
#include "core/conn.h"
#include "core/packet.h"
#include "core/pn.h"
#include "core/sentlog.h"
#include "crypto/crypto.h"
#include "fuzz.h"

#include <roamquic/config.h>
#include <roamquic/endpoint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT    16384
#define MAX_OPS      64
#define MAX_DG       1500
#define DG_PER_PUMP  24   /* datagrams moved per direction per exchange */
#define CALL_BUDGET  6000 /* endpoint calls per input, setup included */
#define SETUP_ROUNDS 200  /* exchange rounds the setup may take */
#define END_ROUNDS   12   /* exchange rounds after the input */
#define NTPL_CLIENT  6    /* client datagrams kept as templates (the latest) */
#define NTPL_SERVER  2    /* server datagrams kept as templates */
#define MAX_EDITS    16
#define TRANSFER     200000u /* bytes the client sends in the transfer states */
#define SETUP_RECV   32768u  /* ...of which the server has read this many after setup */
#define RESPONSE     150000u /* bytes of the server's response in state 3 */
#define SMALL_REPLY  700u    /* the server's reply on other client-opened bidi streams */
#define MAX_REPLIES  8

enum { ST_FRESH = 0, ST_HANDSHAKE = 1, ST_TRANSFER = 2, ST_BOTH_WAYS = 3 };
enum { OP_RAW, OP_TEMPLATE, OP_FORGE, OP_STEP, OP_DROP, OP_CLIENT, OP_APP, OP_COUNT };

/* ---- the input ------------------------------------------------------------------------ */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned in_u8(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned in_u16(input *in)
{
    unsigned hi = in_u8(in);
    return hi << 8 | in_u8(in);
}

/* Up to want bytes (fewer at the end of the input). */
static const uint8_t *in_bytes(input *in, size_t want, size_t *got)
{
    const uint8_t *p = in->p;
    *got = want < in->n ? want : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

/* ---- deterministic randomness for the endpoints --------------------------------------- */

typedef struct prng {
    uint64_t s;
} prng;

/* splitmix64: tiny, and every endpoint decision it feeds (CIDs, tokens, SipHash keys) must
 * replay identically for the same input. */
static uint64_t prng_next(prng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int prng_fill(void *ctx, uint8_t *buf, size_t len)
{
    prng *r = ctx;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = prng_next(r);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(v >> (8 * j));
    }
    return 0;
}

/* ---- configurations: loaded once, shared read-only by every input ------------------- */

static void cert_path(char *out, size_t cap, const char *name)
{
    /* The committed test certificates, found next to this source file. */
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(out, cap, "%.*s/../tests/certs/%s", dir, slash ? file : ".", name);
}

static const char *const alpn[] = {"rq-test"};

static rq_config *make_server_config(bool retry)
{
    char cert[1024], key[1024];
    cert_path(cert, sizeof cert, "server.pem");
    cert_path(key, sizeof key, "server-key.pem");
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    if (!cfg || rq_config_set_alpn(cfg, alpn, 1) != 0)
        abort();
    /* Fall back to a generated certificate when the tree is not where it was built. */
    if (rq_config_load_cert_files(cfg, cert, key) != 0 &&
        rq_config_make_ephemeral_cert(cfg, "localhost") != 0)
        abort();
    rq_config_set_retry(cfg, retry);
    return cfg;
}

static rq_config *make_client_config(bool chacha)
{
    char ca[1024];
    cert_path(ca, sizeof ca, "ca.pem");
    rq_config *cfg = rq_config_new(RQ_ROLE_CLIENT);
    if (!cfg || rq_config_set_alpn(cfg, alpn, 1) != 0)
        abort();
    if (rq_config_trust_ca_file(cfg, ca) != 0 && rq_config_set_insecure(cfg, true) != 0)
        abort();
    if (chacha && rq_config_set_ciphers(cfg, RQ_CIPHER_CHACHA20_POLY1305) != 0)
        abort();
    return cfg;
}

/* [retry] and [chacha]; never freed, so LeakSanitizer sees them as reachable. */
static rq_config *server_cfg[2], *client_cfg[2];

static void load_configs(void)
{
    if (server_cfg[0])
        return;
    for (int i = 0; i < 2; i++) {
        server_cfg[i] = make_server_config(i == 1);
        client_cfg[i] = make_client_config(i == 1);
    }
}

/* ---- the world -------------------------------------------------------------------------- */

typedef struct captured {
    size_t len;
    uint8_t data[MAX_DG];
} captured;

typedef struct world {
    rq_time now;
    unsigned budget;
    int state;
    prng crng, srng;
    rq_endpoint *cli, *srv;
    rq_addr srv_addr, cli_addr;
    rq_addr src[4]; /* where injected datagrams claim to come from */

    /* Client application. */
    rq_conn *cconn; /* NULL once its RQ_EV_CLOSED was polled */
    bool c_connected;
    int64_t c_stream;
    uint64_t c_to_send, c_sent;
    bool c_fin_written;
    int64_t c_opened[MAX_REPLIES]; /* bidi streams the client application opened */
    unsigned c_nopened;

    /* Server application. */
    rq_conn *sconn;
    bool s_connected;
    uint64_t s_received;
    int64_t s_resp_stream;
    uint64_t s_resp_left;
    unsigned s_replies;

    /* Templates: the latest datagrams each side sent during setup. */
    captured ctpl[NTPL_CLIENT], stpl[NTPL_SERVER];
    size_t nctpl, nstpl;
    bool capture;

    /* A datagram of forged packets being coalesced. */
    uint8_t pending[MAX_DG];
    size_t pending_len;
    unsigned pending_src;
} world;

static void pattern(uint8_t *buf, size_t len, uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((off + i) * 131u >> 3);
}

static bool spend(world *w)
{
    if (!w->budget)
        return false;
    w->budget--;
    return true;
}

static void keep(captured *ring, size_t cap, size_t *n, const uint8_t *data, size_t len)
{
    /* Shift so the ring holds the latest `cap` datagrams in order: index 0 is the oldest. */
    if (*n == cap) {
        memmove(&ring[0], &ring[1], (cap - 1) * sizeof *ring);
        (*n)--;
    }
    ring[*n].len = len;
    memcpy(ring[*n].data, data, len);
    (*n)++;
}

static void client_pump_writes(world *w)
{
    uint8_t buf[4096];
    while (w->cconn && w->c_stream >= 0 && !w->c_fin_written) {
        uint64_t left = w->c_to_send - w->c_sent;
        size_t len = left < sizeof buf ? (size_t)left : sizeof buf;
        pattern(buf, len, w->c_sent);
        bool fin = len == left;
        ptrdiff_t n = rq_stream_write(w->cconn, w->c_stream, buf, len, fin);
        if (n < 0 || (n == 0 && len > 0))
            return;
        w->c_sent += (uint64_t)n;
        if (fin && (size_t)n == len) {
            w->c_fin_written = true;
            return;
        }
        if ((size_t)n < len)
            return; /* send buffer full: RQ_EV_STREAM_WRITABLE will come */
    }
}

static void server_pump_writes(world *w)
{
    uint8_t buf[4096];
    while (w->sconn && w->s_resp_stream >= 0 && w->s_resp_left) {
        size_t len = w->s_resp_left < sizeof buf ? (size_t)w->s_resp_left : sizeof buf;
        pattern(buf, len, 0);
        bool fin = len == w->s_resp_left;
        ptrdiff_t n = rq_stream_write(w->sconn, w->s_resp_stream, buf, len, fin);
        if (n <= 0)
            return;
        w->s_resp_left -= (uint64_t)n;
        if ((size_t)n < len)
            return;
    }
}

/* Reads everything readable; returns the byte count. */
static uint64_t drain(rq_conn *c, int64_t id)
{
    uint8_t buf[8192];
    uint64_t total = 0;
    for (int i = 0; i < 64; i++) {
        bool fin = false;
        ptrdiff_t r = rq_stream_read(c, id, buf, sizeof buf, &fin);
        if (r <= 0)
            break;
        total += (uint64_t)r;
        if (fin)
            break;
    }
    return total;
}

static void client_events(world *w)
{
    rq_event ev;
    while (rq_endpoint_poll_event(w->cli, &ev)) {
        if (ev.conn != w->cconn || !w->cconn)
            continue;
        switch (ev.type) {
        case RQ_EV_CONNECTED:
            w->c_connected = true;
            break;
        case RQ_EV_STREAM_READABLE:
            (void)drain(ev.conn, ev.stream_id);
            break;
        case RQ_EV_STREAM_WRITABLE:
            client_pump_writes(w);
            break;
        case RQ_EV_CLOSED:
            /* The pointer dies at the next endpoint call. */
            w->cconn = NULL;
            break;
        default:
            break;
        }
    }
}

static void client_opened(world *w, int64_t id)
{
    if (w->c_nopened < MAX_REPLIES)
        w->c_opened[w->c_nopened++] = id;
}

static void server_on_stream_opened(world *w, rq_conn *c, int64_t id)
{
    /* The streams the client application opened get a reply: a large one on the transfer
     * stream in the both-ways state, small ones elsewhere. Streams only forged packets
     * opened get none: the real client would rightly close the connection on data for a
     * stream it never opened (RFC 9000 §19.8), ending the run early for the wrong reason. */
    bool known = false;
    for (unsigned i = 0; i < w->c_nopened; i++)
        known |= w->c_opened[i] == id;
    if (!known || w->s_replies >= MAX_REPLIES)
        return;
    w->s_replies++;
    if (w->state == ST_BOTH_WAYS && w->s_resp_stream < 0) {
        w->s_resp_stream = id;
        w->s_resp_left = RESPONSE;
        server_pump_writes(w);
        return;
    }
    uint8_t buf[SMALL_REPLY];
    pattern(buf, sizeof buf, (uint64_t)id);
    (void)rq_stream_write(c, id, buf, sizeof buf, true);
}

static void server_events(world *w)
{
    rq_event ev;
    while (rq_endpoint_poll_event(w->srv, &ev)) {
        switch (ev.type) {
        case RQ_EV_ACCEPTED:
            /* The latest accepted connection is "the" server connection. */
            w->sconn = ev.conn;
            w->s_connected = false;
            w->s_resp_stream = -1;
            break;
        case RQ_EV_CONNECTED:
            if (ev.conn == w->sconn)
                w->s_connected = true;
            break;
        case RQ_EV_STREAM_OPENED:
            if (ev.conn == w->sconn)
                server_on_stream_opened(w, ev.conn, ev.stream_id);
            break;
        case RQ_EV_STREAM_READABLE:
            if (ev.conn == w->sconn)
                w->s_received += drain(ev.conn, ev.stream_id);
            break;
        case RQ_EV_STREAM_WRITABLE:
            if (ev.conn == w->sconn)
                server_pump_writes(w);
            break;
        case RQ_EV_CLOSED:
            if (ev.conn == w->sconn)
                w->sconn = NULL;
            break;
        default:
            break;
        }
    }
}

static void to_server(world *w, unsigned src, const uint8_t *data, size_t len)
{
    if (!spend(w))
        return;
    rq_datagram dg = {{w->srv_addr, w->src[src & 3]}, data, len};
    (void)rq_endpoint_recv(w->srv, w->now, &dg);
    server_events(w);
}

static void to_client(world *w, const uint8_t *data, size_t len)
{
    if (!spend(w))
        return;
    rq_datagram dg = {{w->cli_addr, w->srv_addr}, data, len};
    (void)rq_endpoint_recv(w->cli, w->now, &dg);
    client_events(w);
}

/* Moves up to max datagrams from the server; deliver=false loses them. Returns the count. */
static unsigned server_out(world *w, unsigned max, bool deliver)
{
    uint8_t buf[MAX_DG];
    unsigned n = 0;
    while (n < max && spend(w)) {
        rq_datagram_out out = {.buf = buf, .cap = sizeof buf};
        int rc = rq_endpoint_send(w->srv, w->now, &out);
        server_events(w);
        if (rc != 1)
            break;
        n++;
        if (out.len > sizeof buf)
            abort(); /* the endpoint wrote past the buffer it was given */
        if (w->capture)
            keep(w->stpl, NTPL_SERVER, &w->nstpl, buf, out.len);
        /* Only what is addressed to the client's IP reaches it (a rebinding port too). */
        if (deliver && rq_addr_same_ip(&out.path.remote, &w->cli_addr))
            to_client(w, buf, out.len);
    }
    return n;
}

static unsigned client_out(world *w, unsigned max, bool deliver)
{
    uint8_t buf[MAX_DG];
    unsigned n = 0;
    while (n < max && spend(w)) {
        rq_datagram_out out = {.buf = buf, .cap = sizeof buf};
        int rc = rq_endpoint_send(w->cli, w->now, &out);
        client_events(w);
        if (rc != 1)
            break;
        n++;
        if (out.len > sizeof buf)
            abort();
        if (w->capture)
            keep(w->ctpl, NTPL_CLIENT, &w->nctpl, buf, out.len);
        if (deliver)
            to_server(w, 0, buf, out.len);
    }
    return n;
}

static void run_timers(world *w)
{
    if (rq_endpoint_next_timeout(w->srv) <= w->now && spend(w)) {
        rq_endpoint_on_timeout(w->srv, w->now);
        server_events(w);
    }
    if (rq_endpoint_next_timeout(w->cli) <= w->now && spend(w)) {
        rq_endpoint_on_timeout(w->cli, w->now);
        client_events(w);
    }
}

static unsigned exchange(world *w)
{
    unsigned n = server_out(w, DG_PER_PUMP, true);
    return n + client_out(w, DG_PER_PUMP, true);
}

static void advance(world *w, rq_time dt)
{
    w->now += dt;
    run_timers(w);
}

/* Advances to the earlier endpoint timer, at most `cap` ahead and at least 1 ms. */
static void advance_to_timer(world *w, rq_time cap)
{
    rq_time t = rq_endpoint_next_timeout(w->srv);
    rq_time tc = rq_endpoint_next_timeout(w->cli);
    if (tc < t)
        t = tc;
    rq_time dt = t > w->now ? t - w->now : 0;
    if (dt > cap)
        dt = cap;
    if (dt < RQ_MS)
        dt = RQ_MS;
    advance(w, dt);
}

/* ---- setup ------------------------------------------------------------------------------- */

static bool setup(world *w, unsigned mode)
{
    w->state = (int)(mode & 3);
    w->now = 1000 * RQ_SEC;
    w->budget = CALL_BUDGET;
    w->crng.s = 0x636c69656e74ULL ^ mode;
    w->srng.s = 0x736572766572ULL ^ mode;
    w->srv_addr = rq_addr_v4(10, 0, 0, 1, 4433);
    w->cli_addr = rq_addr_v4(10, 0, 0, 2, 50000);
    w->src[0] = w->cli_addr;
    w->src[1] = rq_addr_v4(10, 0, 0, 2, 50001); /* the client behind a rebinding NAT */
    w->src[2] = rq_addr_v4(192, 0, 2, 7, 443);  /* an unrelated host */
    rq_addr v6 = {RQ_AF_INET6, 4433, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, 0};
    w->src[3] = v6;
    w->c_stream = -1;
    w->s_resp_stream = -1;
    w->capture = true;

    w->srv = rq_endpoint_new(server_cfg[(mode >> 2) & 1], prng_fill, &w->srng, NULL);
    w->cli = rq_endpoint_new(client_cfg[(mode >> 3) & 1], prng_fill, &w->crng, NULL);
    if (!w->srv || !w->cli)
        return false;
    rq_path_addr path = {w->cli_addr, w->srv_addr};
    if (rq_connect(w->cli, w->now, &path, "localhost", &w->cconn) != 0)
        return false;

    if (w->state == ST_FRESH) {
        /* The client's first flight exists only as templates. */
        (void)client_out(w, DG_PER_PUMP, false);
        w->capture = false;
        return true;
    }
    if (w->state == ST_HANDSHAKE) {
        /* Deliver the client's flights until the server holds a connection (with Retry the
         * client's second Initial), then stop: the server's reply stays queued. */
        for (int i = 0; i < 4 && !w->sconn; i++) {
            (void)client_out(w, DG_PER_PUMP, true);
            if (!w->sconn)
                (void)server_out(w, DG_PER_PUMP, true);
        }
        w->capture = false;
        return true;
    }
    for (int i = 0; i < SETUP_ROUNDS; i++) {
        if (w->c_connected && w->s_connected && w->c_stream < 0 && w->cconn) {
            if (rq_stream_open(w->cconn, true, &w->c_stream) != 0)
                w->c_stream = -1;
            else
                client_opened(w, w->c_stream);
            w->c_to_send = TRANSFER;
            client_pump_writes(w);
        }
        if (w->c_stream >= 0 && w->s_received >= SETUP_RECV)
            break;
        if (exchange(w) == 0)
            advance_to_timer(w, 50 * RQ_MS);
        else
            advance(w, 2 * RQ_MS); /* a short round trip */
    }
    w->capture = false;
    return true;
}

/* ---- operations ---------------------------------------------------------------------- */

static void flush_pending(world *w)
{
    if (!w->pending_len)
        return;
    to_server(w, w->pending_src, w->pending, w->pending_len);
    w->pending_len = 0;
}

static void op_raw(world *w, input *in)
{
    unsigned src = in_u8(in);
    size_t len;
    const uint8_t *p = in_bytes(in, in_u16(in) % (MAX_DG + 1), &len);
    to_server(w, src, p, len);
}

static void op_template(world *w, input *in)
{
    unsigned idx = in_u8(in), b = in_u8(in);
    unsigned nedits = (b >> 2) % (MAX_EDITS + 1);
    const captured *t = NULL;
    if (idx & 0x80 && w->nstpl)
        t = &w->stpl[idx % w->nstpl];
    else if (w->nctpl)
        t = &w->ctpl[idx % w->nctpl];
    uint8_t dg[MAX_DG];
    size_t len = t ? t->len : 0;
    if (t)
        memcpy(dg, t->data, len);
    for (unsigned i = 0; i < nedits; i++) {
        unsigned kind = in_u8(in), pos = in_u16(in), val = in_u8(in);
        if (!len)
            continue;
        switch (kind & 3) {
        case 0: /* anywhere */
            dg[pos % len] ^= (uint8_t)val;
            break;
        case 1: /* the header: first byte, version, CID lengths, CIDs, token, Length */
            dg[pos % (len < 64 ? len : 64)] = (uint8_t)val;
            break;
        case 2: /* cut the datagram short */
            len = pos % len + 1;
            break;
        default: /* grow it with bytes (a coalesced tail of garbage) */
            if (len < sizeof dg) {
                size_t add = pos % 64 + 1;
                if (add > sizeof dg - len)
                    add = sizeof dg - len;
                memset(dg + len, (int)val, add);
                len += add;
            }
            break;
        }
    }
    if (len)
        to_server(w, b, dg, len);
}

/* The keys the client connection would seal a packet of space `want` with; falls back to
 * another space that has keys. */
static int forge_space(rq_conn *c, unsigned want)
{
    for (unsigned i = 0; i < 3; i++) {
        unsigned sp = (want + i) % 3;
        if (c->spaces[sp].has_tx && !c->spaces[sp].discarded)
            return (int)sp;
    }
    return -1;
}

/* f1: bits 0-1 space (0 Initial, 1 Handshake, 2 1-RTT), bits 2-3 packet number (0-1 the
 * next, 2 an old one, 3 a jump ahead), bits 4-5 packet number length (0: what the client
 * would use), bit 6 1-RTT: the next key phase (a key update), bit 7 spin bit.
 * f2: bits 0-1 source, bit 2 pad the datagram to 1200 bytes, bit 3 hold for coalescing,
 * bit 4 set the reserved header bits. */
static void op_forge(world *w, input *in)
{
    unsigned f1 = in_u8(in), f2 = in_u8(in), extra = in_u8(in);
    size_t plen;
    const uint8_t *plain = in_bytes(in, in_u16(in) % (MAX_DG + 1), &plen);
    rq_conn *c = w->cconn;
    int sp = c ? forge_space(c, (f1 & 3) % 3) : -1;
    if (sp < 0)
        return;
    if (w->pending_len && w->pending_src != (f2 & 3))
        flush_pending(w);
    w->pending_src = f2 & 3;
    rq_space *s = &c->spaces[sp];

    uint64_t next = s->next_pn, pn;
    bool fresh = true;
    switch ((f1 >> 2) & 3) {
    case 2:
        fresh = false;
        pn = next > extra ? next - 1 - extra : 0;
        break;
    case 3:
        pn = next + ((uint64_t)extra << 4);
        break;
    default:
        pn = next;
        break;
    }
    uint64_t largest_acked = rq_recovery_largest_acked(&c->rec, (rq_pn_space)sp);
    size_t pn_len = (f1 >> 4) & 3 ? ((f1 >> 4) & 3) + 1 : rq_pn_encode_len(pn, largest_acked);
    if (pn_len == 0)
        pn_len = 4;

    uint8_t *pkt = w->pending + w->pending_len;
    size_t room = sizeof w->pending - w->pending_len;
    if (room < 64) {
        flush_pending(w);
        pkt = w->pending;
        room = sizeof w->pending;
    }
    rq_wr wr = rq_wr_init(pkt, room - RQ_AEAD_TAG_LEN);
    rq_pkt_wpos pos;
    int rc;
    if (sp == RQ_PN_SPACE_APPLICATION) {
        bool phase = c->tx_phase ^ ((f1 >> 6) & 1);
        rc = rq_pkt_write_short(&wr, &c->dcid, (f1 >> 7) & 1, phase, pn, pn_len, &pos);
    } else {
        bool initial = sp == RQ_PN_SPACE_INITIAL;
        rc = rq_pkt_write_long(&wr, initial ? RQ_PKT_INITIAL : RQ_PKT_HANDSHAKE, RQ_VERSION_1,
                               &c->dcid, &c->scid, initial ? c->retry_token : NULL,
                               initial ? c->retry_token_len : 0, pn, pn_len, 2, &pos);
    }
    if (rc)
        return;
    size_t hdr_len = (size_t)(wr.p - pkt);
    size_t left = rq_wr_left(&wr);
    if (plen > left)
        plen = left;
    (void)rq_wr_bytes(&wr, plain, plen);
    /* PADDING frames: the header-protection sample needs 4 bytes of packet number and
     * payload (RFC 9001 §5.4.2), and Initial-carrying datagrams 1200 bytes (§14.1). */
    size_t body = plen;
    size_t want_total = f2 & 4 ? RQ_MIN_INITIAL_DATAGRAM : 0;
    while (rq_wr_left(&wr) > 0 &&
           (pn_len + body < 4 || w->pending_len + hdr_len + body + RQ_AEAD_TAG_LEN < want_total)) {
        (void)rq_wr_u8(&wr, 0);
        body++;
    }
    if (pn_len + body < 4)
        return;
    if (f2 & 16)
        pkt[0] |= sp == RQ_PN_SPACE_APPLICATION ? 0x18 : 0x0c;
    if (sp != RQ_PN_SPACE_APPLICATION && rq_pkt_finish_long(&pos, pn_len + body + RQ_AEAD_TAG_LEN))
        return;

    rq_packet_key next_key;
    rq_packet_key *key = &s->tx;
    bool own = false;
    if (sp == RQ_PN_SPACE_APPLICATION && (f1 & 0x40)) {
        if (rq_packet_key_init_next(&next_key, &s->tx) != 0)
            return;
        key = &next_key;
        own = true;
    }
    size_t out_len;
    rc = rq_packet_protect(key, &s->tx_hp, pn, pkt, (size_t)(wr.p - pkt), pos.pn_offset, room,
                           &out_len);
    if (own)
        rq_packet_key_deinit(&next_key);
    if (rc)
        return;
    w->pending_len += out_len;

    if (fresh && pn >= next) {
        /* The client's own numbering moves past the forged packet, and its recovery learns
         * of it (carrying no frames, not in flight), so the server acknowledging it is no
         * acknowledgement of a packet never sent (RFC 9000 §13.1). */
        s->next_pn = pn + 1;
        rq_recovery_env env;
        rq_conn_recovery_env(c, &env);
        uint64_t mark = rq_sentlog_mark(&c->sentlog);
        rq_sent_packet sent = {
            .pn = pn,
            .time_sent = w->now,
            .token = rq_sentlog_token(mark, mark),
            .path_id = c->active_path,
            .size = (uint32_t)out_len,
        };
        (void)rq_recovery_on_sent(&c->rec, (rq_pn_space)sp, &sent, w->now, &env);
    }
    if (!(f2 & 8))
        flush_pending(w);
}

static void op_step(world *w, input *in)
{
    unsigned code = in_u8(in);
    /* 0-127 ms in steps of 1 ms; above, up to ~64 s in steps of 500 ms (past the idle and
     * handshake timeouts). */
    rq_time dt = code < 128 ? code * RQ_MS : (rq_time)(code - 127) * 500 * RQ_MS;
    advance(w, dt);
    (void)exchange(w);
}

static void op_app(world *w, input *in)
{
    unsigned a = in_u8(in);
    unsigned arg = in_u8(in);
    rq_conn *c = w->cconn, *s = w->sconn;
    uint8_t buf[2048];
    int64_t id;
    switch (a % 10) {
    case 0: /* client: a new stream, a little data */
    case 1:
        if (c && rq_stream_open(c, a % 10 == 0, &id) == 0) {
            if (a % 10 == 0)
                client_opened(w, id);
            size_t len = (arg * 8u) % sizeof buf;
            pattern(buf, len, 0);
            (void)rq_stream_write(c, id, buf, len, arg & 1);
        }
        break;
    case 2:
        if (c && w->c_stream >= 0)
            (void)rq_stream_reset(c, w->c_stream, arg);
        break;
    case 3:
        if (c && w->c_stream >= 0)
            (void)rq_stream_stop_sending(c, w->c_stream, arg);
        break;
    case 4:
        if (c)
            (void)rq_conn_close(c, w->now, arg, "fuzz");
        break;
    case 5:
        if (s)
            (void)rq_conn_close(s, w->now, arg, "fuzz");
        break;
    case 6:
        if (c)
            (void)rq_conn_update_keys(c, w->now);
        break;
    case 7:
        if (s)
            (void)rq_conn_update_keys(s, w->now);
        break;
    case 8:
        if (s && w->c_stream >= 0) {
            (void)rq_stream_stop_sending(s, w->c_stream, arg);
            (void)rq_stream_reset(s, w->c_stream, arg);
        }
        break;
    default:
        if (c)
            rq_conn_set_keepalive(c, (rq_time)arg * 10 * RQ_MS);
        break;
    }
    client_events(w);
    server_events(w);
}

static void run_ops(world *w, input *in)
{
    for (int i = 0; i < MAX_OPS && in->n > 0 && w->budget; i++) {
        unsigned op = in_u8(in) % OP_COUNT;
        if (op != OP_FORGE)
            flush_pending(w);
        switch (op) {
        case OP_RAW:
            op_raw(w, in);
            break;
        case OP_TEMPLATE:
            op_template(w, in);
            break;
        case OP_FORGE:
            op_forge(w, in);
            break;
        case OP_STEP:
            op_step(w, in);
            break;
        case OP_DROP:
            (void)server_out(w, in_u8(in) % DG_PER_PUMP + 1, false);
            break;
        case OP_CLIENT:
            (void)client_out(w, in_u8(in) % DG_PER_PUMP + 1, true);
            break;
        default:
            op_app(w, in);
            break;
        }
    }
    flush_pending(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    load_configs();
    int64_t live = rq_mem_live();
    /* The world is large (templates, the coalescing buffer): keep it off the stack. */
    world *w = calloc(1, sizeof *w);
    if (!w)
        return 0;
    input in = {data + 1, size - 1};
    if (setup(w, data[0])) {
        run_ops(w, &in);
        /* Let the consequences play out: replies, retransmissions, closes. */
        for (int i = 0; i < END_ROUNDS && w->budget; i++) {
            if (exchange(w) == 0)
                advance_to_timer(w, 200 * RQ_MS);
            else
                advance(w, 2 * RQ_MS);
        }
    }
    rq_endpoint_free(w->cli);
    rq_endpoint_free(w->srv);
    free(w);
    /* Everything the library allocated for this input must be gone with the endpoints. */
    if (rq_mem_live() != live)
        abort();
    return 0;
}
