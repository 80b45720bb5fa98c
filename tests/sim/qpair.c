/* The client-server scene of qpair.h. */
#include "qpair.h"

#include "qnode.h"

#include <string.h>

const rq_addr QPAIR_CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
const rq_addr QPAIR_SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

rq_config *qpair_config(rq_role role, const rq_transport_settings *t, unsigned ciphers)
{
    rq_config *cfg = role == RQ_ROLE_SERVER ? sim_qnode_server_config() : sim_qnode_client_config();
    if (cfg && ((t && rq_config_set_transport(cfg, t) != 0) ||
                (ciphers && rq_config_set_ciphers(cfg, ciphers) != 0))) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

int qpair_new(qpair *p, uint64_t seed, const sim_link_cfg *link, rq_config *ccfg, rq_config *scfg,
              bool wire)
{
    memset(p, 0, sizeof *p);
    int rc = sim_new(seed, &p->s);
    if (rc) {
        rq_config_free(ccfg);
        rq_config_free(scfg);
        return rc;
    }
    sim_trace_keep(sim_get_trace(p->s), wire);
    if (wire)
        qwire_attach(&p->wire, p->s);
    rc = sim_qapp_new(p->s, "client", ccfg, &QPAIR_CLIENT_ADDR, &p->client);
    if (rc)
        rq_config_free(scfg);
    if (!rc)
        rc = sim_qapp_new(p->s, "server", scfg, &QPAIR_SERVER_ADDR, &p->server);
    if (!rc)
        rc = sim_connect(p->s, sim_host_elem(p->client->host), 0, sim_host_elem(p->server->host), 0,
                         link, link, &p->c2s, &p->s2c);
    return rc;
}

void qpair_free(qpair *p)
{
    sim_free(p->s);
    sim_qapp_free(p->client);
    sim_qapp_free(p->server);
    qwire_free(&p->wire);
    memset(p, 0, sizeof *p);
}

bool qpair_upload_done(sim *s, void *ctx)
{
    (void)s;
    qpair *p = ctx;
    return sim_qapp_upload_done(p->client, p->server) || p->client->closed || p->server->closed;
}

bool qpair_connected(sim *s, void *ctx)
{
    (void)s;
    qpair *p = ctx;
    return (p->client->connected && p->server->connected) || p->client->closed || p->server->closed;
}

bool qpair_both_closed(sim *s, void *ctx)
{
    (void)s;
    qpair *p = ctx;
    return p->client->closed && p->server->closed;
}
