/* roamquic — a QUIC version 1 transport library (RFC 9000, 9001, 9002).
 *
 * This is the umbrella header: configuration (config.h), endpoints, connections, streams and
 * events (endpoint.h), errors (error.h), basic types (types.h). Migration calls come next.
 *
 * Threading: nothing in roamquic keeps global mutable state; an object is used by one thread
 * at a time.
 */
#ifndef ROAMQUIC_H
#define ROAMQUIC_H

#include <roamquic/config.h>
#include <roamquic/endpoint.h>
#include <roamquic/error.h>
#include <roamquic/types.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RQ_VERSION_STRING "0.1.0"
#define RQ_QUIC_VERSION_1 0x00000001u

/* The library's version string, e.g. "0.1.0". */
RQ_API const char *rq_version(void);

#ifdef __cplusplus
}
#endif
#endif
