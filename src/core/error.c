/* The error table of include/roamquic/error.h turned into lookups. */
#include <roamquic/roamquic.h>

#include <stddef.h>

struct err_entry {
    int code;
    int64_t quic;
    const char *name;
    const char *msg;
};

static const struct err_entry err_table[] = {
#define RQ_ERR_ROW_(name, value, quic, msg) {(value), (quic), #name, (msg)},
    RQ_ERROR_TABLE(RQ_ERR_ROW_)
#undef RQ_ERR_ROW_
};

static const struct err_entry *find_err(int err)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == err)
            return &err_table[i];
    return NULL;
}

const char *rq_strerror(int err)
{
    const struct err_entry *e = find_err(err);
    return e ? e->msg : "unknown error";
}

const char *rq_err_name(int err)
{
    const struct err_entry *e = find_err(err);
    return e ? e->name : "RQ_ERR_UNKNOWN";
}

int64_t rq_err_transport_code(int err)
{
    const struct err_entry *e = find_err(err);
    return e ? e->quic : RQ_QUIC_INTERNAL_ERROR;
}

const char *rq_version(void)
{
    return RQ_VERSION_STRING;
}
