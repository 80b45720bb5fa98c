/* IPv6 flow labels (RFC 9000 §9.7, RFC 6437): a 20-bit label per datagram, computed as a
 * keyed hash (SipHash-2-4) over the local address and port, the remote address and port and
 * the Destination Connection ID in use. Datagrams of one path and CID share a label (a flow,
 * as RFC 6437 wants); a new path or CID gets an unrelated one that nobody without the key can
 * link to earlier labels (MIG-9.7-02). The key is the path's own random key (spin.h). */
#ifndef RQ_CORE_FLOWLABEL_H
#define RQ_CORE_FLOWLABEL_H

#include "core/cid.h"
#include "core/siphash.h"

#include <roamquic/types.h>

#include <stdint.h>

#define RQ_FLOW_LABEL_MASK 0xfffffu /* 20 bits */

/* The flow label for datagrams sent on path with dcid: 0 when the remote address is not IPv6
 * (there is no flow label), else a non-zero 20-bit value (RFC 6437 §2: 0 means "no label"). */
uint32_t rq_flow_label(const uint8_t key[RQ_SIPHASH_KEY_LEN], const rq_path_addr *path,
                       const rq_cid *dcid);

#endif
