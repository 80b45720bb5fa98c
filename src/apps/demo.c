/* `roamquic demo` (demo.h): one process, one I/O loop, a server on 127.0.0.1 and a client
 * downloading a generated file from it. A third of the way the client moves to a new local
 * port (probe, switch, fresh connection ID: RFC 9000 §9.2, §9.5); two thirds of the way it
 * moves from 127.0.0.1 to 127.0.0.2, like a phone leaving Wi-Fi. The report shows every path
 * the client used and checks the file's SHA-256 against the generator's. */
#define _GNU_SOURCE
#include "apps/demo.h"

#include "apps/args.h"
#include "apps/body.h"
#include "apps/client.h"
#include "apps/server.h"

#include <getopt.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>

typedef struct demo_opts {
    uint64_t size;
    const char *keylog, *qlog_dir;
    bool quiet;
} demo_opts;

static const char demo_usage[] =
    "usage: roamquic demo [--size BYTES] [--keylog FILE] [--qlog-dir DIR] [--quiet]\n"
    "Runs a server and a client on loopback. The client downloads a generated file, moves to\n"
    "a new local port a third of the way and from 127.0.0.1 to 127.0.0.2 two thirds of the\n"
    "way, then reports each path and checks the file's hash. Exits 0 when all of that held.\n"
    "  --size BYTES      the file's size (default 64M)\n"
    "  --keylog FILE     TLS key log (also: SSLKEYLOGFILE)\n"
    "  --qlog-dir DIR    qlog files of both ends (also: QLOGDIR)\n"
    "  --quiet           only the report\n"
    "  --help            this text\n";

static int parse(int argc, char **argv, demo_opts *o, bool *exit_now)
{
    enum { SIZE = 256, KEYLOG, QLOG, QUIET, HELP };
    static const struct option opts[] = {
        {"size", required_argument, 0, SIZE},     {"keylog", required_argument, 0, KEYLOG},
        {"qlog-dir", required_argument, 0, QLOG}, {"quiet", no_argument, 0, QUIET},
        {"help", no_argument, 0, HELP},           {0, 0, 0, 0}};
    *o = (demo_opts){64u << 20, NULL, NULL, false};
    *exit_now = true;
    app_cmd = "demo";
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case SIZE:
            if (app_parse_bytes(optarg, &o->size))
                return 2;
            if (o->size < 3 * 65536) {
                fprintf(stderr,
                        "roamquic demo: --size must be at least 192K (three moves' worth)\n");
                return 2;
            }
            break;
        case KEYLOG:
            o->keylog = optarg;
            break;
        case QLOG:
            o->qlog_dir = optarg;
            break;
        case QUIET:
            o->quiet = true;
            break;
        case HELP:
            fputs(demo_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "roamquic demo: unknown or incomplete option: %s (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "roamquic demo: unexpected argument: %s (see --help)\n", argv[optind]);
        return 2;
    }
    *exit_now = false;
    return 0;
}

static void expected_sha256(uint64_t size, uint8_t out[32])
{
    gnutls_hash_hd_t h;
    uint8_t buf[16384];
    app_body b;
    app_body_generated(&b, size);
    gnutls_hash_init(&h, GNUTLS_DIG_SHA256);
    for (long n; (n = app_body_read(&b, buf, sizeof buf)) > 0;)
        gnutls_hash(h, buf, (size_t)n);
    gnutls_hash_deinit(h, out);
}

static int start(rq_io_loop *loop, const demo_opts *d, app_server **srv, app_client **cli)
{
    app_server_opts so = {0};
    so.listen[0] = rq_addr_v4(127, 0, 0, 1, 0);
    so.nlisten = 1;
    so.alpn = "h3,hq-interop";
    so.gen_max = d->size;
    so.keylog = d->keylog;
    so.qlog_dir = d->qlog_dir;
    so.quiet = d->quiet;
    if (app_server_start(srv, &so, loop) != 0)
        return -1;
    const rq_addr *at = app_server_address(*srv, 0);
    app_client_opts co = {0};
    co.insecure = true;
    co.discard = true;
    co.rebind_port_after = d->size / 3;
    co.nat_rebind_after = APP_NOT_SET;
    co.migrate_to = rq_addr_v4(127, 0, 0, 2, 0);
    co.migrate_after = 2 * (d->size / 3);
    co.keylog = d->keylog;
    co.qlog_dir = d->qlog_dir;
    co.timeout_s = 10;
    co.quiet = d->quiet;
    co.nurls = 1;
    snprintf(co.urls[0].host, sizeof co.urls[0].host, "localhost");
    snprintf(co.urls[0].authority, sizeof co.urls[0].authority, "localhost:%u", at->port);
    snprintf(co.urls[0].path, sizeof co.urls[0].path, "/%llu", (unsigned long long)d->size);
    co.urls[0].port = at->port;
    return app_client_start(cli, &co, loop);
}

/* Prints the paths; true when the client was active on a second port of 127.0.0.1 and then on
 * 127.0.0.2. */
static bool report_paths(const app_client *c)
{
    const app_path_record *p;
    size_t n = app_client_paths(c, &p);
    rq_addr first = {0};
    bool port_moved = false, addr_moved = false;
    printf("  path  client address        server address        validated   rtt       "
           "sent      received\n");
    for (size_t i = 0; i < n; i++) {
        char a[64], b[64], v[32];
        app_addr_str(&p[i].addr.local, a, sizeof a);
        app_addr_str(&p[i].addr.remote, b, sizeof b);
        if (p[i].validated_at)
            snprintf(v, sizeof v, "%8.3f s", (double)p[i].validated_at / 1e9);
        else
            snprintf(v, sizeof v, "%10s", "no");
        printf("  %-4u  %-20s  %-20s  %s  %6.2f ms  %6.1f MB  %6.1f MB%s\n", p[i].id, a, b, v,
               (double)p[i].rtt / 1e6, (double)p[i].bytes_sent / 1e6,
               (double)p[i].bytes_received / 1e6, p[i].was_active ? "" : "  (probe only)");
        if (!p[i].was_active)
            continue;
        if (first.family == RQ_AF_NONE)
            first = p[i].addr.local;
        else if (rq_addr_same_ip(&first, &p[i].addr.local) && first.port != p[i].addr.local.port)
            port_moved = true;
        else if (!rq_addr_same_ip(&first, &p[i].addr.local))
            addr_moved = true;
    }
    printf("  port change: %s; move to another address: %s\n", port_moved ? "yes" : "NO",
           addr_moved ? "yes" : "NO");
    return port_moved && addr_moved;
}

static bool report(const app_client *c, const demo_opts *d, rq_time took)
{
    const app_download *dl = app_client_download(c, 0);
    uint8_t want[32];
    expected_sha256(d->size, want);
    bool hash_ok = dl->complete && memcmp(want, dl->sha256, 32) == 0;
    printf("\nroamquic demo: %.1f MB from 127.0.0.1 in %.2f s (%s)\n", (double)dl->bytes / 1e6,
           (double)took / 1e9, dl->complete ? "complete" : "INCOMPLETE");
    bool moved = report_paths(c);
    char hex[65];
    app_hex(dl->sha256, 32, hex);
    printf("  sha256 %s: %s\n", hex, hash_ok ? "matches the generated file" : "MISMATCH");
    return hash_ok && moved;
}

int app_demo_main(int argc, char **argv)
{
    demo_opts d;
    bool exit_now;
    int rc = parse(argc, argv, &d, &exit_now);
    if (exit_now)
        return rc;
    rq_io_loop *loop = app_loop_new("demo", false);
    app_server *srv = NULL;
    app_client *cli = NULL;
    if (!loop)
        return 1;
    if (start(loop, &d, &srv, &cli) != 0) {
        rq_io_loop_free(loop);
        app_server_free(srv);
        return 1;
    }
    rq_time t0 = rq_io_now();
    rc = app_client_run(cli, loop);
    rq_time took = rq_io_now() - t0;
    bool ok = rc == 0 && app_client_succeeded(cli) && report(cli, &d, took);
    rq_io_loop_free(loop);
    app_client_free(cli);
    app_server_free(srv);
    printf("roamquic demo: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
