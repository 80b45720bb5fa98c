/* A small strict JSON parser (RFC 8259) for tests: it builds a tree of nodes so that a test can
 * look fields up, and it rejects everything a lenient parser would let through — trailing
 * garbage, leading zeros, trailing commas, raw control characters in strings, bad escapes, lone
 * surrogates, invalid UTF-8 (RFC 3629), duplicate object keys (I-JSON, RFC 7493 §2.3) and
 * nesting deeper than QJ_MAX_DEPTH. Header-only (static inline) so any test can include it.
 *
 *   qj_doc d;
 *   if (qj_parse(&d, text, len) != 0) fail(d.err);
 *   int data = qj_get(&d, 0, "data");          // node 0 is the root
 *   ...
 *   qj_free(&d);
 */
#ifndef RQ_TESTS_QLOG_JSON_H
#define RQ_TESTS_QLOG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QJ_MAX_DEPTH 64

typedef enum qj_type { QJ_NULL, QJ_BOOL, QJ_NUM, QJ_STR, QJ_ARR, QJ_OBJ } qj_type;

typedef struct qj_node {
    qj_type type;
    int first, last, next; /* children (arrays, objects) and the next sibling; -1: none */
    int count;             /* number of children */
    char *key;             /* member name (decoded, NUL-terminated) when in an object */
    size_t key_len;
    char *str; /* decoded string value, NUL-terminated (may contain NULs: use str_len) */
    size_t str_len;
    bool b;
    double num;
    bool is_uint; /* the number is a non-negative integer that fits uint64_t */
    uint64_t u;
} qj_node;

typedef struct qj_doc {
    qj_node *n;
    int count, cap;
    char err[160];
    /* parser state */
    const unsigned char *s;
    size_t len, pos;
} qj_doc;

static inline int qj_fail(qj_doc *d, const char *what)
{
    snprintf(d->err, sizeof d->err, "%s at byte %zu", what, d->pos);
    return -1;
}

static inline int qj_new_node(qj_doc *d, qj_type t)
{
    if (d->count == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        qj_node *n = realloc(d->n, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        d->n = n;
        d->cap = cap;
    }
    qj_node *x = &d->n[d->count];
    memset(x, 0, sizeof *x);
    x->type = t;
    x->first = x->last = x->next = -1;
    return d->count++;
}

static inline void qj_skip_ws(qj_doc *d)
{
    while (d->pos < d->len && (d->s[d->pos] == ' ' || d->s[d->pos] == '\t' ||
                               d->s[d->pos] == '\n' || d->s[d->pos] == '\r'))
        d->pos++;
}

/* Length of a valid UTF-8 sequence at p (RFC 3629 §4), 0 if invalid. */
static inline size_t qj_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

static inline void qj_put_utf8(char *out, size_t *o, uint32_t cp)
{
    if (cp < 0x80)
        out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xc0 | cp >> 6);
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xe0 | cp >> 12);
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | cp >> 18);
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static inline int qj_hex4(qj_doc *d, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++, d->pos++) {
        if (d->pos >= d->len)
            return qj_fail(d, "truncated \\u escape");
        unsigned char c = d->s[d->pos];
        int x = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (x < 0)
            return qj_fail(d, "bad hex digit in \\u escape");
        *v = *v << 4 | (uint32_t)x;
    }
    return 0;
}

/* Parses a string at d->pos (on the opening quote) into a malloc'd, decoded buffer. */
static inline int qj_string(qj_doc *d, char **out, size_t *out_len)
{
    d->pos++;                                /* opening quote */
    char *buf = malloc(d->len - d->pos + 1); /* decoding never grows the text */
    size_t o = 0;
    if (!buf)
        return qj_fail(d, "out of memory");
    for (;;) {
        if (d->pos >= d->len) {
            free(buf);
            return qj_fail(d, "unterminated string");
        }
        unsigned char c = d->s[d->pos];
        if (c == '"') {
            d->pos++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            return qj_fail(d, "raw control character in string");
        }
        if (c >= 0x80) {
            size_t n = qj_utf8_len(d->s + d->pos, d->len - d->pos);
            if (n == 0) {
                free(buf);
                return qj_fail(d, "invalid UTF-8 in string");
            }
            memcpy(buf + o, d->s + d->pos, n);
            o += n;
            d->pos += n;
            continue;
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            d->pos++;
            continue;
        }
        d->pos++;
        if (d->pos >= d->len) {
            free(buf);
            return qj_fail(d, "truncated escape");
        }
        c = d->s[d->pos++];
        static const char esc[] = "\"\\/bfnrt";
        static const char map[] = "\"\\/\b\f\n\r\t";
        const char *simple = c != 0 ? strchr(esc, c) : NULL;
        if (simple) {
            buf[o++] = map[simple - esc];
            continue;
        }
        uint32_t cp, lo;
        if (c != 'u' || qj_hex4(d, &cp) != 0) {
            free(buf);
            return c == 'u' ? -1 : qj_fail(d, "invalid escape");
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            free(buf);
            return qj_fail(d, "lone low surrogate");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (d->pos + 2 > d->len || d->s[d->pos] != '\\' || d->s[d->pos + 1] != 'u') {
                free(buf);
                return qj_fail(d, "lone high surrogate");
            }
            d->pos += 2;
            if (qj_hex4(d, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                free(buf);
                return d->err[0] ? -1 : qj_fail(d, "bad low surrogate");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        qj_put_utf8(buf, &o, cp);
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return 0;
}

static inline bool qj_digit(const qj_doc *d)
{
    return d->pos < d->len && d->s[d->pos] >= '0' && d->s[d->pos] <= '9';
}

static inline int qj_number(qj_doc *d, int node)
{
    size_t start = d->pos;
    bool neg = false, integral = true;
    if (d->s[d->pos] == '-') {
        neg = true;
        d->pos++;
    }
    if (!qj_digit(d))
        return qj_fail(d, "bad number");
    if (d->s[d->pos] == '0') {
        d->pos++;
        if (qj_digit(d))
            return qj_fail(d, "leading zero");
    } else
        while (qj_digit(d))
            d->pos++;
    if (d->pos < d->len && d->s[d->pos] == '.') {
        integral = false;
        d->pos++;
        if (!qj_digit(d))
            return qj_fail(d, "no digits after decimal point");
        while (qj_digit(d))
            d->pos++;
    }
    if (d->pos < d->len && (d->s[d->pos] == 'e' || d->s[d->pos] == 'E')) {
        integral = false;
        d->pos++;
        if (d->pos < d->len && (d->s[d->pos] == '+' || d->s[d->pos] == '-'))
            d->pos++;
        if (!qj_digit(d))
            return qj_fail(d, "no digits in exponent");
        while (qj_digit(d))
            d->pos++;
    }
    char tmp[64];
    size_t n = d->pos - start;
    if (n >= sizeof tmp)
        return qj_fail(d, "number too long");
    memcpy(tmp, d->s + start, n);
    tmp[n] = 0;
    qj_node *x = &d->n[node];
    x->num = strtod(tmp, NULL);
    if (!neg && integral) {
        uint64_t u = 0;
        bool fits = true;
        for (size_t i = 0; i < n; i++) {
            unsigned dig = (unsigned)(tmp[i] - '0');
            if (u > (UINT64_MAX - dig) / 10)
                fits = false;
            u = u * 10 + dig;
        }
        x->is_uint = fits;
        x->u = u;
    }
    return 0;
}

static inline int qj_value(qj_doc *d, int depth);

static inline void qj_append_child(qj_doc *d, int parent, int child)
{
    qj_node *p = &d->n[parent];
    if (p->last >= 0)
        d->n[p->last].next = child;
    else
        p->first = child;
    p->last = child;
    p->count++;
}

static inline int qj_container(qj_doc *d, int node, int depth, bool is_obj)
{
    char close = is_obj ? '}' : ']';
    d->pos++;
    qj_skip_ws(d);
    if (d->pos < d->len && d->s[d->pos] == close) {
        d->pos++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        qj_skip_ws(d);
        if (is_obj) {
            if (d->pos >= d->len || d->s[d->pos] != '"')
                return qj_fail(d, "expected member name");
            if (qj_string(d, &key, &key_len) != 0)
                return -1;
            for (int c = d->n[node].first; c >= 0; c = d->n[c].next)
                if (d->n[c].key_len == key_len && memcmp(d->n[c].key, key, key_len) == 0) {
                    free(key);
                    return qj_fail(d, "duplicate member name");
                }
            qj_skip_ws(d);
            if (d->pos >= d->len || d->s[d->pos] != ':') {
                free(key);
                return qj_fail(d, "expected ':'");
            }
            d->pos++;
        }
        int child = qj_value(d, depth + 1);
        if (child < 0) {
            free(key);
            return -1;
        }
        d->n[child].key = key;
        d->n[child].key_len = key_len;
        qj_append_child(d, node, child);
        qj_skip_ws(d);
        if (d->pos < d->len && d->s[d->pos] == ',') {
            d->pos++;
            qj_skip_ws(d);
            if (d->pos < d->len && d->s[d->pos] == close)
                return qj_fail(d, "trailing comma");
            continue;
        }
        if (d->pos < d->len && d->s[d->pos] == close) {
            d->pos++;
            return 0;
        }
        return qj_fail(d, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static inline int qj_literal(qj_doc *d, const char *word)
{
    size_t n = strlen(word);
    if (d->len - d->pos < n || memcmp(d->s + d->pos, word, n) != 0)
        return qj_fail(d, "unexpected character");
    d->pos += n;
    return 0;
}

/* Parses one value and returns its node index, or -1. */
static inline int qj_value(qj_doc *d, int depth)
{
    if (depth > QJ_MAX_DEPTH)
        return qj_fail(d, "nesting too deep");
    qj_skip_ws(d);
    if (d->pos >= d->len)
        return qj_fail(d, "unexpected end");
    unsigned char c = d->s[d->pos];
    qj_type t = c == '{'               ? QJ_OBJ
                : c == '['             ? QJ_ARR
                : c == '"'             ? QJ_STR
                : c == 't' || c == 'f' ? QJ_BOOL
                : c == 'n'             ? QJ_NULL
                                       : QJ_NUM;
    int node = qj_new_node(d, t);
    if (node < 0)
        return qj_fail(d, "out of memory");
    int rc;
    switch (t) {
    case QJ_OBJ:
    case QJ_ARR:
        rc = qj_container(d, node, depth, t == QJ_OBJ);
        break;
    case QJ_STR:
        rc = qj_string(d, &d->n[node].str, &d->n[node].str_len);
        break;
    case QJ_BOOL:
        d->n[node].b = c == 't';
        rc = qj_literal(d, c == 't' ? "true" : "false");
        break;
    case QJ_NULL:
        rc = qj_literal(d, "null");
        break;
    default:
        rc = qj_number(d, node);
        break;
    }
    return rc < 0 ? -1 : node;
}

static inline void qj_free(qj_doc *d)
{
    for (int i = 0; i < d->count; i++) {
        free(d->n[i].key);
        free(d->n[i].str);
    }
    free(d->n);
    d->n = NULL;
    d->count = d->cap = 0;
}

/* Parses exactly one JSON text filling s[0..len) (whitespace around it allowed). Returns 0 with
 * the root at node 0, or -1 with a message in d->err (and nothing to free either way but
 * qj_free on success; on failure the doc is already freed). */
static inline int qj_parse(qj_doc *d, const char *s, size_t len)
{
    memset(d, 0, sizeof *d);
    d->s = (const unsigned char *)s;
    d->len = len;
    int root = qj_value(d, 0);
    if (root == 0) {
        qj_skip_ws(d);
        if (d->pos != d->len)
            root = qj_fail(d, "trailing garbage");
    }
    if (root != 0) {
        qj_free(d);
        return -1;
    }
    return 0;
}

/* Member `key` of object node `obj`, or -1. */
static inline int qj_get(const qj_doc *d, int obj, const char *key)
{
    if (obj < 0 || d->n[obj].type != QJ_OBJ)
        return -1;
    size_t n = strlen(key);
    for (int c = d->n[obj].first; c >= 0; c = d->n[c].next)
        if (d->n[c].key_len == n && memcmp(d->n[c].key, key, n) == 0)
            return c;
    return -1;
}

/* Element i of array node `arr`, or -1. */
static inline int qj_at(const qj_doc *d, int arr, int i)
{
    if (arr < 0 || d->n[arr].type != QJ_ARR)
        return -1;
    int c = d->n[arr].first;
    while (c >= 0 && i-- > 0)
        c = d->n[c].next;
    return c;
}

/* Whether node is a string equal to s. */
static inline bool qj_str_is(const qj_doc *d, int node, const char *s)
{
    return node >= 0 && d->n[node].type == QJ_STR && d->n[node].str_len == strlen(s) &&
           memcmp(d->n[node].str, s, d->n[node].str_len) == 0;
}

#endif
