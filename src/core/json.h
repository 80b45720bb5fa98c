/* A tiny JSON writer (RFC 8259) into a fixed caller buffer, for qlog records. Sans-I/O and
 * allocation-free: the writer never grows its buffer; when a value does not fit it sets a sticky
 * `overflow` flag and writes nothing more, so the caller checks once at the end (or rolls back to
 * a mark taken with a struct copy, which is how qlog drops frames that do not fit a record).
 *
 * Commas are placed by the writer: rq_json_key() and every value written inside an array or at
 * the top level add the separator they need. Strings are always emitted as valid UTF-8 with every
 * character RFC 8259 §7 requires escaped; invalid UTF-8 input bytes become U+FFFD, so any byte
 * string a peer sends (a CONNECTION_CLOSE reason) yields valid JSON.
 *
 *   char buf[256];
 *   rq_json j;
 *   rq_json_init(&j, buf, sizeof buf);
 *   rq_json_obj_begin(&j);
 *   rq_json_key(&j, "n");
 *   rq_json_u64(&j, 7);
 *   rq_json_obj_end(&j);          // buf holds {"n":7}, j.len == 7, j.overflow == false
 */
#ifndef RQ_CORE_JSON_H
#define RQ_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting deeper than this is a bug in the caller: it sets overflow. */
#define RQ_JSON_MAX_DEPTH 31

typedef struct rq_json {
    char *buf;
    size_t cap;
    size_t len;
    uint32_t has_item; /* bit d: the container at depth d already holds an item */
    uint8_t depth;     /* 0 = top level */
    bool after_key;    /* a key was written; the next value takes no comma */
    bool overflow;     /* something did not fit (or was misused); sticky */
} rq_json;

/* Starts writing into buf[0..cap). The buffer is borrowed and never NUL-terminated. */
void rq_json_init(rq_json *j, char *buf, size_t cap);

/* Containers. Each begin must be matched by the end of the same kind; the writer does not check
 * the kind, only the depth (unbalanced ends set overflow). */
void rq_json_obj_begin(rq_json *j);
void rq_json_obj_end(rq_json *j);
void rq_json_arr_begin(rq_json *j);
void rq_json_arr_end(rq_json *j);

/* An object member name. `name` is a NUL-terminated ASCII identifier written without escaping
 * (qlog field names are lowercase ASCII): a caller-provided constant, never peer data. */
void rq_json_key(rq_json *j, const char *name);

/* An unsigned integer as a JSON number (all 64 bits: the qlog main schema lets uint64 values
 * exceed I-JSON's 2^53, and QUIC's varints stay below 2^62 anyway). */
void rq_json_u64(rq_json *j, uint64_t v);
/* true or false. */
void rq_json_bool(rq_json *j, bool v);
/* A string from a NUL-terminated constant (escaped like any other string). */
void rq_json_cstr(rq_json *j, const char *s);
/* A string from arbitrary bytes: escaped, invalid UTF-8 replaced by U+FFFD (RFC 3629 rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF). Sets *lossy (when non-NULL) if any
 * byte had to be replaced. */
void rq_json_str(rq_json *j, const uint8_t *s, size_t n, bool *lossy);
/* Bytes as a lowercase hex string ("hexstring" in the qlog drafts). */
void rq_json_hex(rq_json *j, const uint8_t *p, size_t n);
/* A duration in nanoseconds as a JSON number of milliseconds with `decimals` (0..6) fractional
 * digits, trailing zeros trimmed: 1500000 ns with 3 decimals is 1.5. Integer arithmetic only,
 * so output does not depend on the platform's floating point formatting. */
void rq_json_ms(rq_json *j, uint64_t ns, unsigned decimals);
/* Pre-formatted JSON text appended as one value (the caller vouches for its validity). */
void rq_json_raw_value(rq_json *j, const char *text, size_t n);

#endif
