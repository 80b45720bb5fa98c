/* Command-line values shared by the tools: addresses, byte counts, URLs. Each parser returns
 * 0, or -1 after printing one line "roamquic CMD: ..." on stderr. */
#ifndef RQ_APPS_ARGS_H
#define RQ_APPS_ARGS_H

#include <roamquic/types.h>

#include <stdbool.h>
#include <stdint.h>

/* The command being parsed, for error lines ("server", "client"). */
extern const char *app_cmd;

/* "ADDR:PORT", "[V6ADDR]:PORT" or "HOST:PORT" (resolved; `family` 4 or 6 prefers one, 0 any).
 * With need_port false, "ADDR" alone is accepted too (port 0). */
int app_parse_addr(const char *s, int family, bool need_port, rq_addr *out);

/* A byte count: decimal, optionally followed by K, M or G (powers of 1024). */
int app_parse_bytes(const char *s, uint64_t *out);

/* An unsigned decimal in [min, max]. */
int app_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "https://HOST[:PORT]/PATH": host (without brackets), port (443 by default), path ("/" when
 * missing), and the authority as written. */
typedef struct app_url {
    char host[256];
    char authority[300];
    uint16_t port;
    char path[1024];
} app_url;
int app_parse_url(const char *s, app_url *u);

#endif
