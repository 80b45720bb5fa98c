/* HTTP/3 (placeholder until src/h3 lands: no ALPN matches it). */
#include "apps/proto.h"

static app_proto *h3_attach(rq_conn *conn, bool server, const app_hooks *hooks)
{
    (void)conn;
    (void)server;
    (void)hooks;
    return NULL;
}

const app_proto_ops app_h3 = {"h3-placeholder", h3_attach, NULL, NULL, NULL, NULL, NULL};
