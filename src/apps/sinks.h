/* Where the tools' side output goes: the TLS key log (SSLKEYLOGFILE), one qlog file per
 * connection in a directory (QLOGDIR), and the readable log on stderr. */
#ifndef RQ_APPS_SINKS_H
#define RQ_APPS_SINKS_H

#include "io/loop.h"

#include <roamquic/roamquic.h>

#include <stdbool.h>
#include <stdio.h>

typedef struct app_sinks {
    FILE *keylog;
    const char *qlog_dir;
    const char *who; /* "server", "client": the prefix of log lines */
    bool quiet;      /* only warnings and errors */
    rq_time start;   /* log lines carry the seconds since then */
} app_sinks;

/* Opens the key log (file, else $SSLKEYLOGFILE, else none) and checks the qlog directory
 * (dir, else $QLOGDIR, else none; created if missing), then installs both on cfg. Returns 0,
 * or -1 after printing a one-line error. */
int app_sinks_open(app_sinks *s, rq_config *cfg, const char *keylog, const char *qlog_dir);
void app_sinks_close(app_sinks *s);

/* A log line: "[  1.234] who: message". */
void app_log(const app_sinks *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lower-case hex of len bytes into out (2 * len + 1 bytes); returns out. */
const char *app_hex(const uint8_t *b, size_t len, char *out);

/* The tool's I/O loop, GSO/GRO off with no_gso; NULL after a one-line error naming cmd. */
rq_io_loop *app_loop_new(const char *cmd, bool no_gso);

/* "1.2.3.4:5" or "[::1]:5" into buf (at least 64 bytes). */
const char *app_addr_str(const rq_addr *a, char *buf, size_t cap);

#endif
