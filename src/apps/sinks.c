/* Key log, qlog directory and log lines (sinks.h). */
#define _GNU_SOURCE
#include "apps/sinks.h"

#include "io/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void write_keylog(void *ctx, const char *line)
{
    FILE *f = ctx;
    /* One line at a time and flushed, so that a capture can be decrypted while it runs. */
    fprintf(f, "%s\n", line);
    fflush(f);
}

typedef struct qlog_file {
    FILE *f;
} qlog_file;

static void *qlog_open(void *ctx, rq_role role, const uint8_t *odcid, size_t odcid_len)
{
    const app_sinks *s = ctx;
    char hex[41], name[4096];
    app_hex(odcid, odcid_len < 20 ? odcid_len : 20, hex);
    snprintf(name, sizeof name, "%s/%s_%s.sqlog", s->qlog_dir, hex,
             role == RQ_ROLE_SERVER ? "server" : "client");
    FILE *f = fopen(name, "w");
    if (!f)
        app_log(s, "warning: cannot write %s: %s", name, strerror(errno));
    return f;
}

static int qlog_write(void *conn_ctx, const uint8_t *record, size_t len)
{
    return fwrite(record, 1, len, conn_ctx) == len ? 0 : -1;
}

static void qlog_close(void *conn_ctx)
{
    fclose(conn_ctx);
}

static int open_qlog_dir(app_sinks *s, rq_config *cfg, const char *dir)
{
    if (!dir || !*dir)
        return 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create qlog directory %s: %s\n", s->who, dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: qlog directory %s is not a directory\n", s->who, dir);
        return -1;
    }
    s->qlog_dir = dir;
    rq_qlog_callbacks cb = {qlog_open, qlog_write, qlog_close, s};
    rq_config_set_qlog(cfg, &cb);
    return 0;
}

int app_sinks_open(app_sinks *s, rq_config *cfg, const char *keylog, const char *qlog_dir)
{
    if (!keylog)
        keylog = getenv("SSLKEYLOGFILE");
    if (!qlog_dir)
        qlog_dir = getenv("QLOGDIR");
    s->start = rq_io_now();
    if (keylog && *keylog) {
        s->keylog = fopen(keylog, "a");
        if (!s->keylog) {
            fprintf(stderr, "%s: cannot open key log %s: %s\n", s->who, keylog, strerror(errno));
            return -1;
        }
        rq_config_set_keylog(cfg, write_keylog, s->keylog);
    }
    if (open_qlog_dir(s, cfg, qlog_dir) != 0) {
        app_sinks_close(s);
        return -1;
    }
    return 0;
}

void app_sinks_close(app_sinks *s)
{
    if (s->keylog)
        fclose(s->keylog);
    s->keylog = NULL;
}

void app_log(const app_sinks *s, const char *fmt, ...)
{
    if (s->quiet && strncmp(fmt, "warning", 7) != 0 && strncmp(fmt, "error", 5) != 0)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%8.3f] %s: %s\n", (double)(rq_io_now() - s->start) / 1e9, s->who, line);
}

const char *app_addr_str(const rq_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == RQ_AF_INET4)
        inet_ntop(AF_INET, a->ip, ip, sizeof ip);
    else if (a->family == RQ_AF_INET6)
        inet_ntop(AF_INET6, a->ip, ip, sizeof ip);
    snprintf(buf, cap, a->family == RQ_AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
    return buf;
}

const char *app_hex(const uint8_t *b, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

rq_io_loop *app_loop_new(const char *cmd, bool no_gso)
{
    rq_io_loop *loop = rq_io_loop_new();
    if (!loop)
        fprintf(stderr, "roamquic %s: cannot make the I/O loop\n", cmd);
    else if (no_gso)
        rq_io_set_gso(loop, false);
    return loop;
}
