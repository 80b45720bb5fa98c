/* Command-line values (args.h). */
#define _GNU_SOURCE
#include "apps/args.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *app_cmd = "roamquic";

static int fail(const char *what, const char *s)
{
    fprintf(stderr, "roamquic %s: %s: %s\n", app_cmd, what, s);
    return -1;
}

int app_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    /* Digits only: strtoull would skip blanks and take " -1" as a huge number. */
    if (!isdigit((unsigned char)*s) || *end || errno || v < min || v > max) {
        fprintf(stderr, "roamquic %s: %s wants a number from %llu to %llu, not '%s'\n", app_cmd,
                opt, (unsigned long long)min, (unsigned long long)max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int app_parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (!isdigit((unsigned char)*s))
        return fail("not a byte count (digits, then K, M or G)", s);
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (!*s || *s == '-' || end == s || *end || errno || v > (UINT64_MAX >> shift))
        return fail("not a byte count (digits, then K, M or G)", s);
    *out = (uint64_t)v << shift;
    return 0;
}

static int resolve(const char *host, int family, rq_addr *out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    const struct addrinfo *pick = res;
    memset(out, 0, sizeof *out);
    if (pick->ai_family == AF_INET) {
        const struct sockaddr_in *sa = (const void *)pick->ai_addr;
        out->family = RQ_AF_INET4;
        memcpy(out->ip, &sa->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *sa = (const void *)pick->ai_addr;
        out->family = RQ_AF_INET6;
        memcpy(out->ip, &sa->sin6_addr, 16);
        out->scope = sa->sin6_scope_id;
    }
    freeaddrinfo(res);
    return 0;
}

/* Splits "host:port" / "[v6]:port" / "host" (host copied without brackets). */
static int split_host_port(const char *s, char *host, size_t cap, const char **port)
{
    const char *colon;
    *port = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':') || (size_t)(close - s - 1) >= cap)
            return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        if (close[1] == ':')
            *port = close + 2;
        return 0;
    }
    colon = strrchr(s, ':');
    if (colon && strchr(s, ':') != colon)
        colon = NULL; /* a bare IPv6 address: no port */
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= cap)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (colon)
        *port = colon + 1;
    return 0;
}

int app_parse_addr(const char *s, int family, bool need_port, rq_addr *out)
{
    char host[256];
    const char *port;
    if (split_host_port(s, host, sizeof host, &port) != 0 || !*host)
        return fail("not an address (ADDR:PORT, [V6ADDR]:PORT)", s);
    uint64_t p = 0;
    if (port) {
        char *end;
        errno = 0;
        p = strtoul(port, &end, 10);
        if (!isdigit((unsigned char)*port) || *end || errno || p > 65535)
            return fail("bad port in", s);
    } else if (need_port) {
        return fail("needs a port (ADDR:PORT)", s);
    }
    if (resolve(host, family, out) != 0)
        return fail("cannot resolve", host);
    out->port = (uint16_t)p;
    return 0;
}

int app_parse_url(const char *s, app_url *u)
{
    if (strncmp(s, "https://", 8) != 0)
        return fail("not an https:// URL", s);
    const char *hp = s + 8, *slash = strchr(hp, '/');
    size_t n = slash ? (size_t)(slash - hp) : strlen(hp);
    if (n == 0 || n >= sizeof u->authority)
        return fail("no host in URL", s);
    memcpy(u->authority, hp, n);
    u->authority[n] = '\0';
    const char *port;
    if (split_host_port(u->authority, u->host, sizeof u->host, &port) != 0 || !*u->host)
        return fail("bad host in URL", s);
    u->port = 443;
    if (port) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(port, &end, 10);
        if (!isdigit((unsigned char)*port) || *end || errno || v == 0 || v > 65535)
            return fail("bad port in URL", s);
        u->port = (uint16_t)v;
    }
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof u->path)
        return fail("path too long in URL", s);
    strcpy(u->path, path);
    return 0;
}
