/* `roamquic server`: serves files (and generated bodies) over HTTP/3 and hq-interop. */
#ifndef RQ_APPS_SERVER_H
#define RQ_APPS_SERVER_H

#include "apps/sinks.h"
#include "io/loop.h"

#define APP_MAX_LISTEN 8

typedef struct app_server_opts {
    rq_addr listen[APP_MAX_LISTEN];
    size_t nlisten;
    const char *root; /* NULL: only generated bodies (with gen_max) */
    const char *cert, *key;
    const char *alpn; /* "h3,hq-interop" by default */
    bool retry;
    rq_addr pref4, pref6; /* family RQ_AF_NONE: not advertised */
    bool disable_active_migration;
    uint64_t gen_max;
    bool no_gso;
    const char *keylog, *qlog_dir;
    bool quiet;
} app_server_opts;

typedef struct app_server app_server;

/* Parses `roamquic server ...` (argv[0] is "server"). 0: go on; otherwise the exit status
 * (0 after --help, 2 after a one-line error). */
int app_server_parse(int argc, char **argv, app_server_opts *o, bool *exit_now);

/* Sets up the configuration, endpoint and sockets on loop. 0, or -1 after a one-line error. */
int app_server_start(app_server **out, const app_server_opts *o, rq_io_loop *loop);

/* The i-th socket's address (the --listen ones in order, then the preferred ones), or NULL. */
const rq_addr *app_server_address(const app_server *s, size_t i);

/* Tells every client the server is going away (HTTP/3 GOAWAY), sent in the next turns ... */
void app_server_goaway_all(app_server *s);

/* ... closes every connection (CONNECTION_CLOSE, no error) ... */
void app_server_close_all(app_server *s, rq_time now);
/* ... and the number still open (not yet drained). */
size_t app_server_connections(const app_server *s);

void app_server_free(app_server *s);

/* The whole command: runs until SIGINT or SIGTERM. Returns the exit status. */
int app_server_main(int argc, char **argv);

#endif
