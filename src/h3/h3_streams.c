/* HTTP/3: the table of a connection's streams (h3_priv.h). */
#include "core/alloc.h"
#include "h3/h3_priv.h"

h3_stream *h3_find(const app_proto *p, int64_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i]->id == id)
            return p->v[i];
    return NULL;
}

h3_stream *h3_add(app_proto *p, int64_t id, h3_kind kind)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        h3_stream **v = rq_mem_realloc(p->v, cap * sizeof *v);
        if (!v)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    h3_stream *s = rq_mem_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = id;
    s->kind = kind;
    s->body.fd = -1;
    p->v[p->n++] = s;
    return s;
}

void h3_free_stream(app_proto *p, h3_stream *s)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i] == s) {
            p->v[i] = p->v[--p->n];
            break;
        }
    app_body_close(&s->body);
    rq_mem_free(s->chunk);
    rq_mem_free(s);
}
