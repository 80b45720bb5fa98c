/* `roamquic client` (client.h). */
#define _GNU_SOURCE
#include "apps/client.h"

#include "apps/proto.h"
#include "core/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct cli_req {
    app_download d;
    gnutls_hash_hd_t hash;
    int fd;
    bool sent;
} cli_req;

/* A planned move of the client's local address (RFC 9000 §9.2). */
typedef enum move_state { MOVE_NONE, MOVE_WAITING, MOVE_PROBING, MOVE_DONE } move_state;

typedef struct cli_move {
    const char *what; /* for the log */
    move_state state;
    uint64_t after; /* bytes received first */
    rq_addr local;  /* where to (port 0: any) */
    rq_addr bound;  /* the new socket's address */
    uint32_t probe_id;
} cli_move;

struct app_client {
    app_client_opts o;
    app_sinks sinks;
    rq_config *cfg;
    rq_endpoint *ep;
    rq_io_loop *loop;
    size_t index;
    rq_conn *conn;
    const app_proto_ops *ops;
    app_proto *proto;
    rq_addr server, local;
    cli_req reqs[APP_MAX_URLS];
    uint64_t received;
    cli_move moves[2]; /* the port change, then the move to --migrate-to */
    bool nat_rebound;
    bool connected, closed, closing, failed;
    rq_time last_progress, last_progress_line, close_sent;
    app_path_record paths[APP_MAX_PATHS];
    size_t npaths;
    bool tty;
};

static const char client_usage[] =
    "usage: roamquic client [options] URL [URL ...]\n"
    "Downloads every URL (https://HOST:PORT/PATH, one server) over one connection,\n"
    "one stream each, concurrently. Exits 0 when every file arrived whole with status 200.\n"
    "  --insecure               do not verify the server's certificate\n"
    "  --ca FILE                trust the CAs in FILE (default: the system's store)\n"
    "  --output DIR             where files go (default: the current directory)\n"
    "  --discard                count and hash bodies without writing them\n"
    "  --alpn h3|hq-interop     the protocol to ask for (default: h3, then hq-interop)\n"
    "  --rebind-port-after BYTES  then move to a new local port: probe, switch, fresh CID\n"
    "  --migrate-to ADDR        move to this local address ...\n"
    "  --migrate-after BYTES    ... once BYTES arrived (default 0: right after the handshake)\n"
    "  --nat-rebind-after BYTES   FOR TESTING: change the local port silently, as a NAT would\n"
    "                           (same CID, no probe; breaks RFC 9000 section 9.5 on purpose)\n"
    "  --no-preferred-address   ignore the server's preferred_address\n"
    "  --prefer-family 4|6      the address family to use when there is a choice\n"
    "  --no-gso                 one datagram per send (for packet captures)\n"
    "  --keylog FILE            TLS key log (also: SSLKEYLOGFILE)\n"
    "  --qlog-dir DIR           a qlog file for the connection (also: QLOGDIR)\n"
    "  --timeout SECONDS        give up after this long without progress (default 10)\n"
    "  --quiet                  log only warnings and errors\n"
    "  --help                   this text\n";

static int opt_error(const char *msg, const char *arg)
{
    fprintf(stderr, "roamquic client: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

/* The file a URL's body goes to: the last component of its path ("index.html" for none). */
static const char *output_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : "index.html";
    return strcmp(base, "..") == 0 || strcmp(base, ".") == 0 ? "index.html" : base;
}

/* Two downloads into one file would interleave: refuse it up front. */
static int check_output_names(const app_client_opts *o)
{
    for (size_t i = 0; !o->discard && i < o->nurls; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(output_name(o->urls[i].path), output_name(o->urls[j].path)) == 0)
                return opt_error("two URLs would write the same file",
                                 output_name(o->urls[i].path));
    return 0;
}

static int check_opts(app_client_opts *o, int argc, char **argv)
{
    if (optind == argc)
        return opt_error("no URL given", NULL);
    for (int i = optind; i < argc; i++) {
        if (o->nurls == APP_MAX_URLS)
            return opt_error("too many URLs", NULL);
        if (app_parse_url(argv[i], &o->urls[o->nurls]))
            return 2;
        const app_url *u = &o->urls[o->nurls++], *first = &o->urls[0];
        if (strcmp(u->host, first->host) != 0 || u->port != first->port)
            return opt_error("all URLs must name the same server", argv[i]);
    }
    if (o->insecure && o->ca)
        return opt_error("--insecure and --ca exclude each other", NULL);
    if (o->migrate_to.family == RQ_AF_NONE && o->migrate_after != APP_NOT_SET)
        return opt_error("--migrate-after needs --migrate-to", NULL);
    if (o->alpn && strcmp(o->alpn, "h3") != 0 && strcmp(o->alpn, "hq-interop") != 0)
        return opt_error("--alpn takes h3 or hq-interop", o->alpn);
    return check_output_names(o);
}

int app_client_parse(int argc, char **argv, app_client_opts *o, bool *exit_now)
{
    enum {
        INSECURE = 256,
        CA,
        OUTPUT,
        DISCARD,
        ALPN,
        REBIND,
        MIGTO,
        MIGAFTER,
        NAT,
        NOPREF,
        FAMILY,
        NOGSO,
        KEYLOG,
        QLOG,
        TIMEOUT,
        QUIET,
        HELP
    };
    static const struct option opts[] = {{"insecure", no_argument, 0, INSECURE},
                                         {"ca", required_argument, 0, CA},
                                         {"output", required_argument, 0, OUTPUT},
                                         {"discard", no_argument, 0, DISCARD},
                                         {"alpn", required_argument, 0, ALPN},
                                         {"rebind-port-after", required_argument, 0, REBIND},
                                         {"migrate-to", required_argument, 0, MIGTO},
                                         {"migrate-after", required_argument, 0, MIGAFTER},
                                         {"nat-rebind-after", required_argument, 0, NAT},
                                         {"no-preferred-address", no_argument, 0, NOPREF},
                                         {"prefer-family", required_argument, 0, FAMILY},
                                         {"no-gso", no_argument, 0, NOGSO},
                                         {"keylog", required_argument, 0, KEYLOG},
                                         {"qlog-dir", required_argument, 0, QLOG},
                                         {"timeout", required_argument, 0, TIMEOUT},
                                         {"quiet", no_argument, 0, QUIET},
                                         {"help", no_argument, 0, HELP},
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->rebind_port_after = o->nat_rebind_after = o->migrate_after = APP_NOT_SET;
    o->timeout_s = 10;
    *exit_now = true;
    app_cmd = "client";
    optind = 0;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case INSECURE:
            o->insecure = true;
            break;
        case CA:
            o->ca = optarg;
            break;
        case OUTPUT:
            o->output = optarg;
            break;
        case DISCARD:
            o->discard = true;
            break;
        case ALPN:
            o->alpn = optarg;
            break;
        case REBIND:
            if (app_parse_bytes(optarg, &o->rebind_port_after))
                return 2;
            break;
        case MIGTO:
            if (app_parse_addr(optarg, 0, false, &o->migrate_to))
                return 2;
            break;
        case MIGAFTER:
            if (app_parse_bytes(optarg, &o->migrate_after))
                return 2;
            break;
        case NAT:
            if (app_parse_bytes(optarg, &o->nat_rebind_after))
                return 2;
            break;
        case NOPREF:
            o->no_preferred = true;
            break;
        case FAMILY:
            if (app_parse_uint("--prefer-family", optarg, 4, 6, &v) || v == 5)
                return v == 5 ? opt_error("--prefer-family takes 4 or 6", optarg) : 2;
            o->prefer_family = (int)v;
            break;
        case NOGSO:
            o->no_gso = true;
            break;
        case KEYLOG:
            o->keylog = optarg;
            break;
        case QLOG:
            o->qlog_dir = optarg;
            break;
        case TIMEOUT:
            if (app_parse_uint("--timeout", optarg, 1, 86400, &o->timeout_s))
                return 2;
            break;
        case QUIET:
            o->quiet = true;
            break;
        case HELP:
            fputs(client_usage, stdout);
            return 0;
        default:
            return opt_error("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (o->migrate_to.family && o->migrate_after == APP_NOT_SET)
        o->migrate_after = 0;
    int rc = check_opts(o, argc, argv);
    *exit_now = rc != 0;
    return rc;
}

/* ---- downloads ---- */

static void open_output(app_client *c, size_t i)
{
    cli_req *r = &c->reqs[i];
    const char *base = output_name(c->o.urls[i].path);
    char name[4096];
    snprintf(name, sizeof name, "%s/%s", c->o.output ? c->o.output : ".", base);
    r->fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        app_log(&c->sinks, "error: cannot write %s: %s", name, strerror(errno));
        r->d.status = -1; /* counts as a failure */
    }
}

static void on_status(void *ctx, uint64_t req, int status)
{
    app_client *c = ctx;
    cli_req *r = &c->reqs[req];
    r->d.status = status;
    if (status == 200 && !c->o.discard)
        open_output(c, req);
}

static void on_data(void *ctx, uint64_t req, const uint8_t *data, size_t len)
{
    app_client *c = ctx;
    cli_req *r = &c->reqs[req];
    r->d.bytes += len;
    c->received += len;
    c->last_progress = rq_io_now();
    gnutls_hash(r->hash, data, len);
    while (r->fd >= 0 && len) {
        ssize_t w = write(r->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            app_log(&c->sinks, "error: writing %s: %s", c->o.urls[req].path, strerror(errno));
            close(r->fd);
            r->fd = -1;
            r->d.status = -1;
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

static void on_done(void *ctx, uint64_t req, bool complete)
{
    app_client *c = ctx;
    cli_req *r = &c->reqs[req];
    if (r->d.done)
        return;
    r->d.done = true;
    r->d.complete = complete && r->d.status == 200;
    gnutls_hash_output(r->hash, r->d.sha256);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    app_log(&c->sinks, "%s: %s, %llu bytes", c->o.urls[req].path,
            r->d.complete ? "complete" : "FAILED", (unsigned long long)r->d.bytes);
}

static void send_requests(app_client *c)
{
    for (size_t i = 0; i < c->o.nurls; i++) {
        cli_req *r = &c->reqs[i];
        if (r->sent || r->d.done)
            continue;
        int rc = c->ops->request(c->proto, c->o.urls[i].authority, c->o.urls[i].path, i);
        if (rc == RQ_ERR_STREAM_LIMIT)
            return; /* the rest waits for RQ_EV_STREAMS_AVAILABLE */
        r->sent = true;
        if (rc) {
            app_log(&c->sinks, "error: cannot request %s: %s", c->o.urls[i].path, rq_strerror(rc));
            on_done(c, i, false);
        }
    }
}

/* ---- paths and moves ---- */

static app_path_record *path_record(app_client *c, uint32_t id, const rq_path_addr *addr)
{
    for (size_t i = c->npaths; i-- > 0;)
        if (c->paths[i].id == id && rq_addr_eq(&c->paths[i].addr.local, &addr->local) &&
            rq_addr_eq(&c->paths[i].addr.remote, &addr->remote))
            return &c->paths[i];
    if (c->npaths == APP_MAX_PATHS)
        return NULL;
    app_path_record *p = &c->paths[c->npaths++];
    *p = (app_path_record){.id = id, .addr = *addr};
    return p;
}

/* Samples every live path's figures (paths vanish when dropped: keep the last sample). */
static void sample_paths(app_client *c)
{
    for (uint32_t id = 0; c->conn && !c->closed && id < 8; id++) {
        rq_path_stats st;
        if (rq_conn_path_stats(c->conn, id, &st) != 0)
            continue;
        app_path_record *p = path_record(c, id, &st.addr);
        if (!p)
            continue;
        p->bytes_sent = st.bytes_sent;
        p->bytes_received = st.bytes_received;
        p->was_active |= st.active;
        if (st.validated && st.smoothed_rtt)
            p->rtt = st.smoothed_rtt;
        if (st.validated && !p->validated_at)
            p->validated_at = rq_io_now() - c->sinks.start;
    }
}

static bool active_path(const app_client *c, rq_path_stats *st)
{
    for (uint32_t id = 0; id < 8; id++)
        if (rq_conn_path_stats(c->conn, id, st) == 0 && st->active)
            return true;
    return false;
}

static void start_move(app_client *c, cli_move *m, rq_time now)
{
    rq_path_stats cur;
    char a[64];
    if (!active_path(c, &cur))
        return;
    rq_addr want = m->local;
    if (want.family == RQ_AF_NONE) { /* a port change: same address, any new port */
        want = cur.addr.local;
        want.port = 0;
    }
    if (rq_io_add_socket(c->loop, c->index, &want, &m->bound) != 0) {
        app_log(&c->sinks, "warning: %s: cannot open a socket on %s", m->what,
                app_addr_str(&want, a, sizeof a));
        m->state = MOVE_DONE;
        return;
    }
    rq_path_addr p = {m->bound, cur.addr.remote};
    int rc = rq_conn_probe_path(c->conn, now, &p, &m->probe_id);
    if (rc == RQ_ERR_AGAIN) { /* no spare connection ID yet: try again next turn */
        rq_io_remove_socket(c->loop, c->index, &m->bound);
        return;
    }
    if (rc) {
        app_log(&c->sinks, "warning: %s: cannot probe: %s", m->what, rq_strerror(rc));
        rq_io_remove_socket(c->loop, c->index, &m->bound);
        m->state = MOVE_DONE;
        return;
    }
    m->state = MOVE_PROBING;
    app_log(&c->sinks, "%s: probing %s after %llu bytes", m->what,
            app_addr_str(&m->bound, a, sizeof a), (unsigned long long)c->received);
}

static void finish_move(app_client *c, cli_move *m, rq_time now, bool validated)
{
    rq_path_stats old;
    bool have_old = active_path(c, &old);
    m->state = MOVE_DONE;
    if (!validated) {
        app_log(&c->sinks, "warning: %s: the new path did not validate; staying", m->what);
        rq_io_remove_socket(c->loop, c->index, &m->bound);
        return;
    }
    int rc = rq_conn_migrate(c->conn, now, m->probe_id);
    if (rc) {
        app_log(&c->sinks, "warning: %s: cannot move: %s", m->what, rq_strerror(rc));
        rq_io_remove_socket(c->loop, c->index, &m->bound);
        return;
    }
    /* The old local address goes away at once, like an interface that went down: the server
     * has to follow (what it had in flight to the old one is lost). */
    if (have_old && !rq_addr_eq(&old.addr.local, &m->bound))
        rq_io_remove_socket(c->loop, c->index, &old.addr.local);
}

static void nat_rebind(app_client *c)
{
    rq_path_stats cur;
    char a[64], b[64];
    c->nat_rebound = true;
    if (!active_path(c, &cur))
        return;
    rq_addr now_from;
    if (rq_io_rebind_silently(c->loop, c->index, &cur.addr.local, &now_from) != 0) {
        app_log(&c->sinks, "warning: silent rebinding failed");
        return;
    }
    app_log(&c->sinks, "silent rebinding after %llu bytes: %s now leaves from %s",
            (unsigned long long)c->received, app_addr_str(&cur.addr.local, a, sizeof a),
            app_addr_str(&now_from, b, sizeof b));
}

static void drive_moves(app_client *c, rq_time now)
{
    if (!c->connected || c->closing)
        return;
    for (size_t i = 0; i < 2; i++) {
        cli_move *m = &c->moves[i];
        /* One move at a time, in order. */
        if (m->state == MOVE_PROBING || (m->state == MOVE_WAITING && c->received >= m->after)) {
            if (m->state == MOVE_WAITING)
                start_move(c, m, now);
            return;
        }
    }
    if (!c->nat_rebound && c->o.nat_rebind_after != APP_NOT_SET &&
        c->received >= c->o.nat_rebind_after)
        nat_rebind(c);
}

static void on_path_event(app_client *c, const rq_event *ev, rq_time now)
{
    rq_path_stats st;
    char a[64], b[64];
    if (rq_conn_path_stats(ev->conn, ev->path_id, &st) == 0) {
        const char *what = ev->type == RQ_EV_PATH_VALIDATED ? "validated"
                           : ev->type == RQ_EV_PATH_FAILED  ? "failed validation"
                                                            : "now carries the connection";
        app_log(&c->sinks, "path %u %s -> %s %s", ev->path_id,
                app_addr_str(&st.addr.local, a, sizeof a),
                app_addr_str(&st.addr.remote, b, sizeof b), what);
    }
    for (size_t i = 0; i < 2; i++) {
        cli_move *m = &c->moves[i];
        if (m->state == MOVE_PROBING && m->probe_id == ev->path_id &&
            (ev->type == RQ_EV_PATH_VALIDATED || ev->type == RQ_EV_PATH_FAILED))
            finish_move(c, m, now, ev->type == RQ_EV_PATH_VALIDATED);
    }
}

/* ---- events ---- */

static void attach(app_client *c, rq_time now)
{
    size_t len;
    const uint8_t *alpn = rq_conn_alpn(c->conn, &len);
    c->ops = app_proto_for_alpn(alpn, len);
    app_hooks hooks = {.on_status = on_status, .on_data = on_data, .on_done = on_done, .ctx = c};
    c->proto = c->ops ? c->ops->attach(c->conn, false, &hooks) : NULL;
    if (!c->proto) {
        app_log(&c->sinks, "error: no protocol for the negotiated ALPN");
        rq_conn_close(c->conn, now, 0x0101, "no application protocol");
        c->closing = true;
        return;
    }
    app_log(&c->sinks, "connected (%s)", c->ops->alpn);
    send_requests(c);
}

static void on_closed(app_client *c, const rq_event *ev)
{
    c->closed = true;
    const char *kind = ev->app_error ? "application" : "transport";
    if (!c->connected) {
        /* The one line a failed start gets (the log lines above it are context). */
        c->failed = true;
        if (ev->by_peer || ev->error_code)
            fprintf(stderr, "roamquic client: the handshake with %s failed: %s error 0x%llx\n",
                    c->o.urls[0].authority, kind, (unsigned long long)ev->error_code);
        else
            fprintf(stderr, "roamquic client: no answer from %s within %llu s: giving up\n",
                    c->o.urls[0].authority, (unsigned long long)c->o.timeout_s);
    } else if (!c->closing || ev->by_peer) {
        if (ev->error_code)
            app_log(&c->sinks, "error: connection closed%s: %s error 0x%llx",
                    ev->by_peer ? " by the server" : "", kind, (unsigned long long)ev->error_code);
        else
            app_log(&c->sinks, "connection closed%s", ev->by_peer ? " by the server" : "");
    }
    if (c->proto)
        c->ops->detach(c->proto); /* unfinished downloads fail */
    c->proto = NULL;
}

static void client_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    app_client *c = ctx;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        switch (ev.type) {
        case RQ_EV_CONNECTED:
            c->connected = true;
            c->last_progress = now;
            sample_paths(c);
            attach(c, now);
            break;
        case RQ_EV_PATH_VALIDATED:
        case RQ_EV_PATH_FAILED:
        case RQ_EV_PATH_ACTIVE:
            sample_paths(c);
            on_path_event(c, &ev, now);
            break;
        case RQ_EV_CLOSED:
            sample_paths(c);
            on_closed(c, &ev);
            break;
        default:
            if (c->proto)
                c->ops->on_event(c->proto, &ev);
            break;
        }
    }
    if (!c->proto)
        return;
    send_requests(c);
    c->ops->flush(c->proto);
    uint64_t err = c->ops->error(c->proto);
    if (err && !c->closing) {
        app_log(&c->sinks, "error: %s protocol error 0x%llx", c->ops->alpn,
                (unsigned long long)err);
        rq_conn_close(c->conn, now, err, "protocol error");
        c->closing = true;
        c->failed = true;
    }
    sample_paths(c);
    drive_moves(c, now);
}

/* ---- set-up ---- */

/* The local address the kernel would send from towards the server (a connected probe
 * socket tells), so that the first path has a concrete local address to move away from. */
static int pick_local(const rq_addr *server, rq_addr *local)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int fam = server->family == RQ_AF_INET4 ? AF_INET : AF_INET6;
    if (fam == AF_INET) {
        struct sockaddr_in *sa = (void *)&ss;
        sa->sin_family = AF_INET;
        sa->sin_port = htons(server->port);
        memcpy(&sa->sin_addr, server->ip, 4);
        len = sizeof *sa;
    } else {
        struct sockaddr_in6 *sa = (void *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(server->port);
        memcpy(&sa->sin6_addr, server->ip, 16);
        sa->sin6_scope_id = server->scope;
        len = sizeof *sa;
    }
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    len = sizeof ss;
    if (rc == 0)
        rc = getsockname(fd, (struct sockaddr *)&ss, &len);
    close(fd);
    if (rc != 0)
        return -1;
    memset(local, 0, sizeof *local);
    local->family = server->family;
    if (fam == AF_INET)
        memcpy(local->ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else {
        memcpy(local->ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        local->scope = ((struct sockaddr_in6 *)&ss)->sin6_scope_id;
    }
    return 0;
}

static int fail_start(app_client *c, const char *what, const char *detail)
{
    fprintf(stderr, "roamquic client: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    app_client_free(c);
    return -1;
}

static int make_config(app_client *c)
{
    const app_client_opts *o = &c->o;
    static const char *const both[] = {"h3", "hq-interop"};
    const char *one[] = {o->alpn};
    c->cfg = rq_config_new(RQ_ROLE_CLIENT);
    if (!c->cfg || rq_config_set_alpn(c->cfg, o->alpn ? one : both, o->alpn ? 1 : 2) != 0)
        return fail_start(c, "out of memory", NULL);
    int rc = o->insecure ? rq_config_set_insecure(c->cfg, true)
             : o->ca     ? rq_config_trust_ca_file(c->cfg, o->ca)
                         : rq_config_trust_system(c->cfg);
    if (rc)
        return fail_start(c, o->ca ? "cannot use the CA file" : "cannot load the trust store",
                          o->ca ? o->ca : rq_strerror(rc));
    rq_config_follow_preferred_address(c->cfg, !o->no_preferred,
                                       o->prefer_family == 6 ? RQ_AF_INET6 : RQ_AF_INET4);
    rq_transport_settings ts;
    rq_transport_defaults(&ts);
    ts.handshake_timeout_ms = o->timeout_s * 1000;
    if (rq_config_set_transport(c->cfg, &ts) != 0)
        return fail_start(c, "bad transport settings", NULL);
    if (app_sinks_open(&c->sinks, c->cfg, o->keylog, o->qlog_dir) != 0) {
        app_client_free(c);
        return -1;
    }
    return 0;
}

static int check_output_dir(app_client *c)
{
    struct stat st;
    if (c->o.discard || !c->o.output)
        return 0;
    if (mkdir(c->o.output, 0755) != 0 && errno != EEXIST)
        return fail_start(c, "cannot create the output directory", c->o.output);
    if (stat(c->o.output, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail_start(c, "--output is not a directory", c->o.output);
    return 0;
}

static void plan_moves(app_client *c)
{
    const app_client_opts *o = &c->o;
    c->moves[0] = (cli_move){"port change", MOVE_NONE, o->rebind_port_after, {0}, {0}, 0};
    c->moves[1] = (cli_move){"move", MOVE_NONE, o->migrate_after, o->migrate_to, {0}, 0};
    for (size_t i = 0; i < 2; i++)
        if (c->moves[i].after != APP_NOT_SET)
            c->moves[i].state = MOVE_WAITING;
}

int app_client_start(app_client **out, const app_client_opts *o, rq_io_loop *loop)
{
    app_client *c = rq_mem_calloc(1, sizeof *c);
    if (!c)
        return fail_start(NULL, "out of memory", NULL);
    c->o = *o;
    c->loop = loop;
    c->sinks.who = "client";
    c->sinks.quiet = o->quiet;
    c->tty = isatty(STDERR_FILENO) && !o->quiet;
    for (size_t i = 0; i < APP_MAX_URLS; i++)
        c->reqs[i].fd = -1;
    for (size_t i = 0; i < o->nurls; i++)
        if (gnutls_hash_init(&c->reqs[i].hash, GNUTLS_DIG_SHA256) != 0)
            return fail_start(c, "cannot start SHA-256", NULL);
    plan_moves(c);
    if (check_output_dir(c) != 0 || make_config(c) != 0)
        return -1;
    const app_url *u = &o->urls[0];
    if (app_parse_addr(u->host, o->prefer_family, false, &c->server) != 0) {
        app_client_free(c);
        return -1;
    }
    c->server.port = u->port;
    if (pick_local(&c->server, &c->local) != 0)
        return fail_start(c, "no route to", u->authority);
    int err = 0;
    c->ep = rq_endpoint_new(c->cfg, NULL, NULL, &err);
    if (!c->ep)
        return fail_start(c, "cannot make the endpoint", rq_strerror(err));
    if (rq_io_add_endpoint(loop, c->ep, client_events, c, &c->index) != 0)
        return fail_start(c, "too many endpoints on the loop", NULL);
    if (rq_io_add_socket(loop, c->index, &c->local, &c->local) != 0)
        return fail_start(c, "cannot open a UDP socket", NULL);
    c->last_progress = rq_io_now();
    rq_path_addr path = {c->local, c->server};
    int rc = rq_connect(c->ep, c->last_progress, &path, u->host, &c->conn);
    if (rc)
        return fail_start(c, "cannot connect", rq_strerror(rc));
    char a[64];
    app_log(&c->sinks, "connecting to %s from %s", u->authority,
            app_addr_str(&c->local, a, sizeof a));
    *out = c;
    return 0;
}

/* ---- running ---- */

static bool all_done(const app_client *c)
{
    for (size_t i = 0; i < c->o.nurls; i++)
        if (!c->reqs[i].d.done)
            return false;
    return true;
}

static void progress_line(app_client *c, rq_time now, bool last)
{
    if (!c->tty || (!last && now - c->last_progress_line < 250 * RQ_MS))
        return;
    double secs = (double)(now - c->sinks.start) / 1e9;
    fprintf(stderr, "\r  %9.1f MB received, %7.1f MB/s%s", (double)c->received / 1e6,
            secs > 0 ? (double)c->received / 1e6 / secs : 0.0, last ? "\n" : "");
    c->last_progress_line = now;
}

bool app_client_step(app_client *c, rq_time now)
{
    if (c->closed)
        return true;
    progress_line(c, now, false);
    if (c->closing)
        /* CONNECTION_CLOSE went out in the turn that closed; the draining period is the
         * server's business. A short wait lets a lost close be repeated on its retransmission. */
        return now - c->close_sent > 50 * RQ_MS;
    if (c->proto && all_done(c)) {
        progress_line(c, now, true);
        rq_conn_close(c->conn, now, c->ops->no_error, "done");
        c->closing = true;
        c->close_sent = now;
        return false;
    }
    if (now - c->last_progress > c->o.timeout_s * RQ_SEC) {
        fprintf(stderr, "roamquic client: no progress from %s for %llu s: giving up\n",
                c->o.urls[0].authority, (unsigned long long)c->o.timeout_s);
        c->failed = true;
        return true;
    }
    return false;
}

bool app_client_succeeded(const app_client *c)
{
    if (c->failed)
        return false;
    for (size_t i = 0; i < c->o.nurls; i++)
        if (!c->reqs[i].d.complete)
            return false;
    return true;
}

const app_download *app_client_download(const app_client *c, size_t i)
{
    return i < c->o.nurls ? &c->reqs[i].d : NULL;
}

size_t app_client_paths(const app_client *c, const app_path_record **paths)
{
    *paths = c->paths;
    return c->npaths;
}

void app_client_summary(const app_client *c, FILE *f)
{
    for (size_t i = 0; i < c->o.nurls; i++) {
        const app_download *d = &c->reqs[i].d;
        char hex[65];
        app_hex(d->sha256, 32, hex);
        fprintf(f, "%s %s status %d, %llu bytes, sha256 %s\n", d->complete ? "ok  " : "FAIL",
                c->o.urls[i].path, d->status, (unsigned long long)d->bytes, d->done ? hex : "-");
    }
}

void app_client_free(app_client *c)
{
    if (!c)
        return;
    if (c->proto)
        c->ops->detach(c->proto);
    for (size_t i = 0; i < APP_MAX_URLS; i++) {
        if (c->reqs[i].fd >= 0)
            close(c->reqs[i].fd);
        if (c->reqs[i].hash)
            gnutls_hash_deinit(c->reqs[i].hash, NULL);
    }
    rq_endpoint_free(c->ep);
    rq_config_free(c->cfg);
    app_sinks_close(&c->sinks);
    rq_mem_free(c);
}

int app_client_run(app_client *c, rq_io_loop *loop)
{
    int rc = 0;
    while (rc == 0 && !app_client_step(c, rq_io_now()))
        rc = rq_io_turn(loop, 50 * RQ_MS);
    if (rc)
        fprintf(stderr, "roamquic client: the I/O loop failed: %s\n", rq_strerror(rc));
    return rc;
}

int app_client_main(int argc, char **argv)
{
    app_client_opts o;
    bool exit_now;
    int rc = app_client_parse(argc, argv, &o, &exit_now);
    if (exit_now)
        return rc;
    rq_io_loop *loop = app_loop_new("client", o.no_gso);
    app_client *c = NULL;
    if (!loop)
        return 1;
    if (app_client_start(&c, &o, loop) != 0) {
        rq_io_loop_free(loop);
        return 1;
    }
    rc = app_client_run(c, loop);
    app_client_summary(c, stdout);
    bool ok = rc == 0 && app_client_succeeded(c);
    rq_io_loop_free(loop);
    app_client_free(c);
    return ok ? 0 : 1;
}
