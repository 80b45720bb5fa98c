/* A roamquic endpoint plugged into the simulator as a node (host.h's sim_node_ops). */
#include "qnode.h"

#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

static void pump_writes(sim_qnode *n)
{
    uint8_t buf[16384];
    while (n->conn && n->stream >= 0 && !n->fin_written) {
        uint64_t left = n->to_send - n->sent;
        size_t len = left < sizeof buf ? (size_t)left : sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = sim_qnode_pattern(n->sent + i);
        bool fin = len == left;
        ptrdiff_t w = rq_stream_write(n->conn, n->stream, buf, len, fin);
        if (w < 0)
            return;
        n->sent += (uint64_t)w;
        if (fin && (uint64_t)w == len) {
            n->fin_written = true;
            return;
        }
        if ((size_t)w < len)
            return; /* buffer full: wait for RQ_EV_STREAM_WRITABLE */
    }
}

static void drain_stream(sim_qnode *n, rq_conn *c, int64_t id)
{
    uint8_t buf[16384];
    for (;;) {
        bool fin = false;
        ptrdiff_t r = rq_stream_read(c, id, buf, sizeof buf, &fin);
        if (r < 0)
            return;
        for (ptrdiff_t i = 0; i < r; i++)
            if (buf[i] != sim_qnode_pattern(n->received + (uint64_t)i))
                n->bad_bytes++;
        n->received += (uint64_t)r;
        if (fin)
            n->fin_received = true;
        if (r == 0 || fin)
            return;
    }
}

static void handle_events(sim_qnode *n)
{
    rq_event ev;
    while (rq_endpoint_poll_event(n->ep, &ev)) {
        switch (ev.type) {
        case RQ_EV_CONNECTED:
            n->connected = true;
            if (n->to_send && n->stream < 0 && rq_stream_open(ev.conn, true, &n->stream) != 0)
                n->stream = -1;
            break;
        case RQ_EV_ACCEPTED:
            n->accepted++;
            n->conn = ev.conn;
            break;
        case RQ_EV_STREAM_OPENED:
            n->streams_opened++;
            break;
        case RQ_EV_STREAM_READABLE:
            drain_stream(n, ev.conn, ev.stream_id);
            break;
        case RQ_EV_CLOSED:
            n->closed = true;
            n->close_code = ev.error_code;
            n->close_app = ev.app_error;
            n->close_by_peer = ev.by_peer;
            if (ev.conn == n->conn)
                n->conn = NULL;
            break;
        default:
            break;
        }
    }
    pump_writes(n);
}

static void on_events(void *owner)
{
    handle_events(owner);
}

int sim_qnode_new(sim *s, const char *name, rq_config *cfg, const rq_addr *addr, sim_qnode **out)
{
    sim_qnode *n = rq_mem_calloc(1, sizeof *n);
    if (!n)
        return RQ_ERR_NOMEM;
    n->s = s;
    n->cfg = cfg;
    n->addr = *addr;
    n->glue = (sim_epglue){&n->ep, &n->addr, on_events, n};
    n->stream = -1;
    sim_rng_init(&n->rng, sim_seed(s), name, 0x51);
    int err = 0;
    n->ep = rq_endpoint_new(cfg, sim_rng_fill, &n->rng, &err);
    if (!n->ep) {
        rq_mem_free(n);
        return err;
    }
    int rc = sim_host_new(s, name, 1, &sim_epglue_ops, &n->glue, &n->host);
    if (!rc)
        rc = sim_host_add_addr(n->host, addr, 0);
    if (rc) {
        sim_qnode_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void sim_qnode_free(sim_qnode *n)
{
    if (!n)
        return;
    rq_endpoint_free(n->ep);
    rq_config_free(n->cfg);
    rq_mem_free(n);
}

int sim_qnode_connect(sim_qnode *n, const rq_addr *server, const char *sni, uint64_t to_send)
{
    rq_path_addr path = {n->addr, *server};
    n->to_send = to_send;
    int rc = rq_connect(n->ep, sim_now(n->s), &path, sni, &n->conn);
    if (rc)
        return rc;
    return sim_host_wake(n->s, n->host);
}

static void cert_path(char *out, size_t cap, const char *name)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(out, cap, "%.*s/../certs/%s", dir, slash ? file : ".", name);
}

rq_config *sim_qnode_server_config(void)
{
    static const char *const alpn[] = {"rq-test"};
    char cert[512], key[512];
    cert_path(cert, sizeof cert, "server.pem");
    cert_path(key, sizeof key, "server-key.pem");
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    if (cfg &&
        (rq_config_set_alpn(cfg, alpn, 1) != 0 || rq_config_load_cert_files(cfg, cert, key) != 0)) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

rq_config *sim_qnode_client_config(void)
{
    static const char *const alpn[] = {"rq-test"};
    char ca[512];
    cert_path(ca, sizeof ca, "ca.pem");
    rq_config *cfg = rq_config_new(RQ_ROLE_CLIENT);
    if (cfg && (rq_config_set_alpn(cfg, alpn, 1) != 0 || rq_config_trust_ca_file(cfg, ca) != 0)) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}
