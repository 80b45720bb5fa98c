/* Packet types (RFC 9000 §17) and endpoint roles, shared by the packet, frame and transport
 * parameter codecs. */
#ifndef RQ_CORE_PKT_TYPE_H
#define RQ_CORE_PKT_TYPE_H

#include <roamquic/types.h> /* rq_role */

typedef enum rq_pkt_type {
    RQ_PKT_INITIAL = 0,   /* long header type 0x0 */
    RQ_PKT_0RTT = 1,      /* long header type 0x1 */
    RQ_PKT_HANDSHAKE = 2, /* long header type 0x2 */
    RQ_PKT_RETRY = 3,     /* long header type 0x3 */
    RQ_PKT_1RTT = 4,      /* short header */
    RQ_PKT_VERSION_NEGOTIATION = 5
} rq_pkt_type;

/* The three packet number spaces (RFC 9000 §12.3). */
typedef enum rq_pn_space {
    RQ_PN_SPACE_INITIAL = 0,
    RQ_PN_SPACE_HANDSHAKE = 1,
    RQ_PN_SPACE_APPLICATION = 2
} rq_pn_space;

#endif
