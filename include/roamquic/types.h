/* roamquic — basic types shared by the public API and the core. */
#ifndef ROAMQUIC_TYPES_H
#define ROAMQUIC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Time in nanoseconds on a monotonic clock chosen by the application. The core never reads a
 * clock: every call that needs the time takes it as an argument. */
typedef uint64_t rq_time;
#define RQ_TIME_NEVER UINT64_MAX
#define RQ_MS         ((rq_time)1000000)
#define RQ_SEC        ((rq_time)1000000000)

/* Which side of a connection an endpoint is. */
typedef enum rq_role { RQ_ROLE_CLIENT = 0, RQ_ROLE_SERVER = 1 } rq_role;

/* An IP address and UDP port, without the OS's socket types (the core is sans-I/O). */
typedef enum rq_family { RQ_AF_NONE = 0, RQ_AF_INET4 = 4, RQ_AF_INET6 = 6 } rq_family;

typedef struct rq_addr {
    uint8_t family; /* rq_family */
    uint16_t port;  /* host byte order */
    uint8_t ip[16]; /* network byte order; IPv4 uses the first 4 bytes, the rest zero */
    uint32_t scope; /* IPv6 scope id (link-local addresses), else 0 */
} rq_addr;

/* A network path as one endpoint sees it: its own address and the peer's. */
typedef struct rq_path_addr {
    rq_addr local;
    rq_addr remote;
} rq_path_addr;

/* Fills buf with len unpredictable bytes; returns 0, or non-zero on failure. Injected so that
 * tests and the simulator can make every stack decision replayable. */
typedef int (*rq_random_fn)(void *ctx, uint8_t *buf, size_t len);

/* rq_addr helpers. */
static inline rq_addr rq_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    rq_addr x = {RQ_AF_INET4, port, {a, b, c, d}, 0};
    return x;
}

static inline bool rq_addr_eq(const rq_addr *x, const rq_addr *y)
{
    if (x->family != y->family || x->port != y->port || x->scope != y->scope)
        return false;
    size_t n = x->family == RQ_AF_INET4 ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (x->ip[i] != y->ip[i])
            return false;
    return true;
}

/* Same IP address, port ignored: RFC 9000 §9.4 treats a port-only change differently. */
static inline bool rq_addr_same_ip(const rq_addr *x, const rq_addr *y)
{
    rq_addr a = *x, b = *y;
    a.port = b.port = 0;
    return rq_addr_eq(&a, &b);
}

#ifdef __cplusplus
}
#endif
#endif
