/* `roamquic client`: downloads URLs over HTTP/3 or hq-interop, and can move while it does. */
#ifndef RQ_APPS_CLIENT_H
#define RQ_APPS_CLIENT_H

#include "apps/args.h"
#include "apps/sinks.h"
#include "io/loop.h"

#include <stdio.h>

#define APP_MAX_URLS  64
#define APP_NOT_SET   UINT64_MAX
#define APP_MAX_PATHS 16

typedef struct app_client_opts {
    bool insecure;
    const char *ca;
    const char *output;         /* a directory; NULL: the current one */
    const char *alpn;           /* NULL: offer h3, then hq-interop */
    uint64_t rebind_port_after; /* APP_NOT_SET, or bytes received before an active port move */
    uint64_t nat_rebind_after;  /* ... before a silent port change (testing) */
    uint64_t migrate_after;     /* ... before moving to migrate_to */
    rq_addr migrate_to;
    bool no_preferred;
    int prefer_family; /* 0, 4 or 6 */
    bool discard;
    bool no_gso;
    const char *keylog, *qlog_dir;
    uint64_t timeout_s; /* give up after this long without progress */
    bool quiet;
    app_url urls[APP_MAX_URLS];
    size_t nurls;
} app_client_opts;

/* One path as the client saw it, for reports. */
typedef struct app_path_record {
    uint32_t id;
    rq_path_addr addr;
    rq_time validated_at; /* since the start; 0: not validated */
    rq_time rtt;
    uint64_t bytes_sent, bytes_received;
    bool was_active;
} app_path_record;

/* One download. */
typedef struct app_download {
    int status; /* 0 until known */
    uint64_t bytes;
    uint8_t sha256[32];
    bool done, complete;
} app_download;

typedef struct app_client app_client;

/* Parses `roamquic client ...` (argv[0] is "client"); like app_server_parse. */
int app_client_parse(int argc, char **argv, app_client_opts *o, bool *exit_now);

/* Opens the socket and starts the connection on loop. 0, or -1 after a one-line error. */
int app_client_start(app_client **out, const app_client_opts *o, rq_io_loop *loop);

/* Drives timeouts and the end of the run; true once finished (every download ended, or the
 * connection failed, or nothing moved for the timeout). */
bool app_client_step(app_client *c, rq_time now);

/* Turns loop until app_client_step says the run is over: 0, or the loop's error (printed). */
int app_client_run(app_client *c, rq_io_loop *loop);

/* Whether every download completed with status 200. */
bool app_client_succeeded(const app_client *c);

const app_download *app_client_download(const app_client *c, size_t i);
size_t app_client_paths(const app_client *c, const app_path_record **paths);

/* Prints one line per download on f. */
void app_client_summary(const app_client *c, FILE *f);

void app_client_free(app_client *c);

int app_client_main(int argc, char **argv);

#endif
