/* JSON writer into a fixed buffer (see json.h). */
#include "core/json.h"

#include <string.h>

void rq_json_init(rq_json *j, char *buf, size_t cap)
{
    memset(j, 0, sizeof *j);
    j->buf = buf;
    j->cap = cap;
}

/* Appends n bytes, or marks overflow and appends nothing (so a record never ends mid-token). */
static void put(rq_json *j, const char *s, size_t n)
{
    if (j->overflow)
        return;
    if (n > j->cap - j->len) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static void put_c(rq_json *j, char c)
{
    put(j, &c, 1);
}

/* Writes the separator a new item at the current depth needs: none right after a key, none for
 * the first item of a container, a comma otherwise. */
static void begin_item(rq_json *j)
{
    uint32_t bit = (uint32_t)1 << j->depth;
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->has_item & bit)
        put_c(j, ',');
    j->has_item |= bit;
}

static void open_container(rq_json *j, char c)
{
    begin_item(j);
    if (j->depth >= RQ_JSON_MAX_DEPTH) {
        j->overflow = true;
        return;
    }
    put_c(j, c);
    j->depth++;
    j->has_item &= ~((uint32_t)1 << j->depth);
}

static void close_container(rq_json *j, char c)
{
    if (j->depth == 0 || j->after_key) {
        j->overflow = true; /* misuse: nothing open, or a key without its value */
        return;
    }
    j->depth--;
    put_c(j, c);
}

void rq_json_obj_begin(rq_json *j)
{
    open_container(j, '{');
}

void rq_json_obj_end(rq_json *j)
{
    close_container(j, '}');
}

void rq_json_arr_begin(rq_json *j)
{
    open_container(j, '[');
}

void rq_json_arr_end(rq_json *j)
{
    close_container(j, ']');
}

void rq_json_key(rq_json *j, const char *name)
{
    begin_item(j);
    put_c(j, '"');
    put(j, name, strlen(name));
    put(j, "\":", 2);
    j->after_key = true;
}

/* Decimal digits of v, without the item separator. */
static void put_u64(rq_json *j, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(j, tmp + sizeof tmp - n, n);
}

void rq_json_u64(rq_json *j, uint64_t v)
{
    begin_item(j);
    put_u64(j, v);
}

void rq_json_bool(rq_json *j, bool v)
{
    begin_item(j);
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

void rq_json_raw_value(rq_json *j, const char *text, size_t n)
{
    begin_item(j);
    put(j, text, n);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when s[0] does not start one
 * (RFC 3629 §4 table: this is what rules out overlongs, surrogates and > U+10FFFF). */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* One ASCII byte, escaped as RFC 8259 §7 requires (quote, backslash, controls). */
static void put_ascii_escaped(rq_json *j, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        put(j, "\\\"", 2);
        return;
    case '\\':
        put(j, "\\\\", 2);
        return;
    case '\n':
        put(j, "\\n", 2);
        return;
    case '\r':
        put(j, "\\r", 2);
        return;
    case '\t':
        put(j, "\\t", 2);
        return;
    default:
        break;
    }
    if (c < 0x20) {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(j, esc, sizeof esc);
        return;
    }
    put_c(j, (char)c);
}

void rq_json_str(rq_json *j, const uint8_t *s, size_t n, bool *lossy)
{
    begin_item(j);
    put_c(j, '"');
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            put_ascii_escaped(j, s[i]);
            i++;
            continue;
        }
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0) {
            put(j, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
            if (lossy)
                *lossy = true;
            i++;
            continue;
        }
        put(j, (const char *)s + i, len);
        i += len;
    }
    put_c(j, '"');
}

void rq_json_cstr(rq_json *j, const char *s)
{
    rq_json_str(j, (const uint8_t *)s, strlen(s), NULL);
}

void rq_json_hex(rq_json *j, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    begin_item(j);
    put_c(j, '"');
    for (size_t i = 0; i < n; i++) {
        char pair[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        put(j, pair, 2);
    }
    put_c(j, '"');
}

void rq_json_ms(rq_json *j, uint64_t ns, unsigned decimals)
{
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (decimals > 6)
        decimals = 6;
    begin_item(j);
    put_u64(j, ns / 1000000);
    /* the fraction, rounded down to `decimals` digits, trailing zeros dropped */
    uint64_t frac = (ns % 1000000) / pow10[6 - decimals];
    unsigned digits = decimals;
    while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (digits == 0)
        return;
    char tmp[7];
    tmp[0] = '.';
    for (unsigned d = digits; d > 0; d--) {
        tmp[d] = (char)('0' + frac % 10);
        frac /= 10;
    }
    put(j, tmp, digits + 1);
}
