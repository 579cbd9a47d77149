/* json.c - CloudEvents JSON (structured mode, spec 1.0) for Ratusz events,
 * on top of a generic protobuf-c message <-> JSON converter.
 *
 * The converter walks ProtobufCMessageDescriptor / ProtobufCFieldDescriptor
 * tables, so every message of the schema (the domain messages inside "data",
 * Stats and ConsumerList for the CLI) maps the same way:
 *
 *   proto                          JSON
 *   -----------------------------  -------------------------------------------
 *   field name (snake_case)        key (lowerCamelCase accepted on input)
 *   int32/uint32/int64 ...         integer (64-bit beyond int64: a string)
 *   int64 marked (ratusz.v1.time)  "2021-01-21T00:00:00Z" (TIME_INSTANT),
 *                                  "2024-03-15" (TIME_DATE: midnight in
 *                                  Warsaw; another instant as RFC 3339);
 *                                  an integer for years RFC 3339 lacks;
 *                                  the integer is read too
 *   double/float                   number; "NaN", "Infinity", "-Infinity"
 *   bool                           true / false
 *   enum                           value name (a number accepted on input)
 *   string                         string (invalid UTF-8 becomes U+FFFD)
 *   bytes                          base64 (RFC 4648; also url-safe on input)
 *   message                        object
 *   repeated                       array
 *   map<K, V> (repeated *Entry)    object keyed by the key as text
 *   oneof member                   present iff it is the set case, even if 0
 *   proto3 default value           omitted; null on input means default
 *
 * Input is strict: an unknown key, a wrong type or two members of one oneof
 * is an error that names the key and where it was ("data.objects[1].kind:
 * expected a string").
 *
 * Reading: the text is parsed once by yajl into a flat node array (jdoc.c;
 * the document buffers of a thread are kept between events), and the
 * event is built over it: its strings are borrowed from the document,
 * "data" is built with malloc in exactly the layout
 * protobuf_c_message_free_unpacked(m, NULL) expects (so a half-built
 * message can always be freed on error). rz_event_from_json_visit hands
 * that borrowed event to a callback, which is how `ratusz pub` and the
 * ndjson adapter publish without a copy; rz_event_from_json packs it and
 * unpacks the bytes with ratusz__v1__event__unpack, so every
 * Ratusz__V1__Event the library hands out came from unpack and
 * rz_event_free has one way to free them all. Writing JSON stays on
 * jansson.
 *
 * Times: the schema marks int64 fields that hold unix microseconds
 * (options.proto; the generated table ratusz/v1/personal.h). Only the JSON
 * form changes: what is read is the same integer the writer started from,
 * so `ratusz sub | ratusz pub` copies events exactly.
 *
 * Numbers: jansson prints every real with 17 significant digits, so 42.1
 * would come out as 42.100000000000001. s_dumps first finds the smallest
 * precision at which every real in the document reads back to the same
 * double, and prints with that.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "jdoc.h"
#include "ratusz/core/text.h"
#include "ratusz/core/time.h"
#include "ratusz/ratusz.h"
#include "ratusz/v1/personal.h"

/* ==========================================================================
 * Errors and where they happened
 */

/* Where the converter is in the document, for error messages:
 * "data.objects[1].kind". Truncated silently if absurdly deep. */
typedef struct s_ctx {
    char *err;
    size_t err_len;
    char path[256];
    size_t path_len;
    /* the time mark of the field being read (s_msg_from_json sets it) */
    rz_time_kind_t time;
} s_ctx_t;

static int s_fail(s_ctx_t *cx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write "path: message" into the caller's buffer and return code. */
static int s_fail(s_ctx_t *cx, int code, const char *fmt, ...)
{
    if (cx->err && cx->err_len) {
        size_t off = 0;
        if (cx->path_len) {
            int n = snprintf(cx->err, cx->err_len, "%s: ", cx->path);
            off = n < 0 ? 0 : (size_t)n;
            if (off >= cx->err_len)
                return code;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cx->err + off, cx->err_len - off, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Append ".name" (or "name" at the top), "[i]" or ".key" to the path and
 * return the old length for s_path_pop. */
static size_t s_path_push(s_ctx_t *cx, const char *name, long index)
{
    size_t old = cx->path_len;
    size_t room = sizeof cx->path - old;
    int n;
    if (name) {
        /* every field of every event passes here: no printf */
        size_t dot = old ? 1 : 0, nl = strlen(name);
        if (dot + nl < room) {
            cx->path[old] = '.';
            memcpy(cx->path + old + dot, name, nl + 1);
            n = (int)(dot + nl);
        } else { /* truncated, as snprintf does it */
            n = snprintf(cx->path + old, room, "%s%s", dot ? "." : "", name);
        }
    } else {
        n = snprintf(cx->path + old, room, "[%ld]", index);
    }
    if (n < 0 || (size_t)n >= room)
        cx->path_len = sizeof cx->path - 1;
    else
        cx->path_len = old + (size_t)n;
    return old;
}

static void s_path_pop(s_ctx_t *cx, size_t old)
{
    cx->path_len = old;
    cx->path[old] = '\0';
}

/* ==========================================================================
 * Base64 (RFC 4648)
 */

static const char s_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode with padding. Returns a malloc'd string or NULL. */
static char *s_b64_encode(const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = s_b64[v >> 18];
        *o++ = s_b64[(v >> 12) & 63];
        *o++ = s_b64[(v >> 6) & 63];
        *o++ = s_b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        *o++ = s_b64[v >> 18];
        *o++ = s_b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int s_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-') /* '-' and '_': the url-safe alphabet */
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode standard or url-safe base64, padding optional. On success *out is
 * malloc'd (NULL when *out_len is 0). Returns 0, RZ_EINVAL or RZ_ENOMEM. */
static int s_b64_decode(const char *s, size_t n, uint8_t **out,
                        size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 3)
        n--, pad++;
    if (n % 4 == 1 || pad > 2 || (pad && (n + pad) % 4))
        return RZ_EINVAL;
    if (n == 0)
        return 0;
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return RZ_ENOMEM;
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(buf);
            return RZ_EINVAL;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[len++] = (uint8_t)(acc >> bits);
        }
    }
    /* The leftover bits of a non-canonical encoding ("QR==" for "A") must
     * be zero, or two texts would decode to the same bytes. */
    if (acc & ((1u << bits) - 1)) {
        free(buf);
        return RZ_EINVAL;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* ==========================================================================
 * JSON text helpers
 */

/* A JSON string for text that should be UTF-8 but may not be (protobuf-c
 * does not check): bad bytes become U+FFFD rather than failing the whole
 * event. NULL only on ENOMEM. */
static json_t *s_jstr(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s), fixed_len;
    if (rzc_utf8_valid((const uint8_t *)s, n))
        return json_stringn(s, n);
    char *fixed = rzc_utf8_repair((const uint8_t *)s, n, &fixed_len);
    json_t *j = fixed ? json_stringn(fixed, fixed_len) : NULL;
    free(fixed);
    return j;
}

/* json_object_set_new, with the same care for the key. Takes v even on
 * failure, as jansson does. */
static int s_jset(json_t *obj, const char *key, json_t *v)
{
    size_t n = strlen(key), fixed_len;
    if (!v)
        return -1;
    if (rzc_utf8_valid((const uint8_t *)key, n))
        return json_object_set_new(obj, key, v);
    char *fixed = rzc_utf8_repair((const uint8_t *)key, n, &fixed_len);
    if (!fixed) {
        json_decref(v);
        return -1;
    }
    int rc = json_object_set_new(obj, fixed, v);
    free(fixed);
    return rc;
}

/* Smallest %g precision (1-17) that reads back as exactly d, and is large
 * enough that %g writes 568100 as such rather than as 5.681e+05 (it only
 * picks the exponent form where it would at any precision). */
static int s_real_precision(double d)
{
    char buf[40];
    double mag = fabs(d);
    bool exp_ok = !isfinite(d) || mag < 1e-4 || mag >= 1e17;
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d && (exp_ok || !strchr(buf, 'e')))
            return p;
    }
    return 17;
}

static int s_max_precision(json_t *j)
{
    int best = 1, p;
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_REAL:
        return s_real_precision(json_real_value(j));
    case JSON_OBJECT:
        json_object_foreach (j, key, v)
            if ((p = s_max_precision(v)) > best)
                best = p;
        return best;
    case JSON_ARRAY:
        json_array_foreach (j, i, v)
            if ((p = s_max_precision(v)) > best)
                best = p;
        return best;
    default:
        return best;
    }
}

/* Compact one-line JSON with reals as short as they can be without losing
 * a bit (see the top of the file). */
static char *s_dumps(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
                             JSON_REAL_PRECISION(s_max_precision(j)));
}

/* ==========================================================================
 * Generic protobuf-c message -> JSON
 */

static json_t *s_msg_to_json(const ProtobufCMessage *m);

/* Is md the entry message protoc generates for a map<K, V> field? protobuf-c
 * keeps no map flag in its descriptors, so recognise the shape protoc always
 * gives it: a nested "...Entry" message with exactly key = 1, value = 2. */
static bool s_is_map_entry(const ProtobufCMessageDescriptor *md)
{
    size_t nl = strlen(md->name);
    return md->n_fields == 2 && nl > 5 &&
           strcmp(md->name + nl - 5, "Entry") == 0 &&
           md->fields[0].id == 1 && strcmp(md->fields[0].name, "key") == 0 &&
           md->fields[1].id == 2 && strcmp(md->fields[1].name, "value") == 0;
}

static size_t s_type_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static json_t *s_u64_to_json(uint64_t v)
{
    /* jansson integers are signed 64-bit; the rest goes as text, as the
     * proto3 JSON mapping does for all 64-bit values */
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

static json_t *s_double_to_json(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* Is f a field the time marks may apply to (options.proto)? */
static bool s_is_int64(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_INT64 ||
           f->type == PROTOBUF_C_TYPE_SINT64 ||
           f->type == PROTOBUF_C_TYPE_SFIXED64;
}

/* The time mark of field f of message d. */
static rz_time_kind_t s_time_kind(const ProtobufCMessageDescriptor *d,
                                  const ProtobufCFieldDescriptor *f)
{
    return s_is_int64(f) ? rz__time_mark(d->name, f->id) : RZ_TIME_NONE;
}

/* us as "YYYY-MM-DD" when it is midnight in Warsaw of that day, which is
 * what reads back to it; else 0. us is rzc_rfc3339_writable. */
static int s_warsaw_date(int64_t us, char *buf, size_t len)
{
    int64_t s = us / 1000000 - (us % 1000000 < 0);
    int64_t local = s + rzc_tz_offset(rzc_warsaw(), s);
    int64_t y;
    int m, d;
    rzc_civil(local / 86400 - (local % 86400 < 0), &y, &m, &d);
    if (y < 0 || y > 9999 || rzc_warsaw_midnight_us(y, m, d) != us)
        return 0;
    snprintf(buf, len, "%04d-%02d-%02d", (int)y, m, d);
    return 1;
}

/* A marked time: text people read, or the integer where RFC 3339 has no
 * year for it (as the envelope's time). NULL on ENOMEM. */
static json_t *s_time_to_json(rz_time_kind_t kind, int64_t us)
{
    char buf[96]; /* 28 used; gcc cannot see the fields' ranges */
    if (!rzc_rfc3339_writable(us))
        return json_integer(us);
    if (kind == RZ_TIME_DATE && s_warsaw_date(us, buf, sizeof buf))
        return json_string(buf);
    rzc_rfc3339_format(us, buf, sizeof buf);
    return json_string(buf);
}

/* One value of field f stored at p. NULL on ENOMEM. */
static json_t *s_value_to_json(const ProtobufCFieldDescriptor *f,
                               const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return s_u64_to_json(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: return s_double_to_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return s_double_to_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        /* proto3 enums are open: a number this build does not know stays a
         * number */
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s_jstr(s);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *s = s_b64_encode(b->data, b->len);
        json_t *j = s ? json_string(s) : NULL;
        free(s);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        return sub ? s_msg_to_json(sub) : json_object();
    }
    }
    return NULL;
}

/* A map key as object key text. */
static char *s_map_key(const ProtobufCFieldDescriptor *kf, const void *p)
{
    char buf[32];
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return strdup(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BOOL:
        return strdup(*(const protobuf_c_boolean *)p ? "true" : "false");
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%d", (int)*(const int32_t *)p);
        return strdup(buf);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%u", (unsigned)*(const uint32_t *)p);
        return strdup(buf);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%lld", (long long)*(const int64_t *)p);
        return strdup(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%llu",
                 (unsigned long long)*(const uint64_t *)p);
        return strdup(buf);
    default: /* protoc allows no other key types */
        return strdup("");
    }
}

static json_t *s_map_to_json(const ProtobufCFieldDescriptor *f,
                             ProtobufCMessage *const *entries, size_t n)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &md->fields[0], *vf = &md->fields[1];
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = (const char *)entries[i];
        if (!e)
            continue;
        char *key = s_map_key(kf, e + kf->offset);
        if (!key || s_jset(obj, key, s_value_to_json(vf, e + vf->offset))) {
            free(key);
            json_decref(obj);
            return NULL;
        }
        free(key);
    }
    return obj;
}

/* Is the singular proto3 field at p at its default (and so omitted)? */
static bool s_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)p == NULL;
    }
    return true;
}

/* Is field f of message base set, by the rules of its label? */
static bool s_is_present(const ProtobufCFieldDescriptor *f, const char *base)
{
    const void *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED: return true;
    case PROTOBUF_C_LABEL_OPTIONAL:
        /* proto2 and proto3 "optional": pointers are their own has-flag */
        if (f->type == PROTOBUF_C_TYPE_STRING ||
            f->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(void *const *)p != NULL;
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    case PROTOBUF_C_LABEL_REPEATED:
        return *(const size_t *)(base + f->quantifier_offset) > 0;
    case PROTOBUF_C_LABEL_NONE: return !s_is_default(f, p);
    }
    return false;
}

static json_t *s_msg_to_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!s_is_present(f, base))
            continue;
        rz_time_kind_t tk = s_time_kind(d, f);
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)(base + f->offset);
            if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                s_is_map_entry(f->descriptor)) {
                v = s_map_to_json(f, (ProtobufCMessage *const *)arr, n);
            } else {
                size_t sz = s_type_size(f->type);
                v = json_array();
                for (size_t k = 0; v && k < n; k++)
                    if (json_array_append_new(
                            v, tk ? s_time_to_json(
                                        tk, *(const int64_t *)(arr + k * sz))
                                  : s_value_to_json(f, arr + k * sz))) {
                        json_decref(v);
                        v = NULL;
                    }
            }
        } else if (tk) {
            v = s_time_to_json(tk, *(const int64_t *)(base + f->offset));
        } else {
            v = s_value_to_json(f, base + f->offset);
        }
        if (!v || json_object_set_new(obj, f->name, v)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

char *rz_message_to_json(const ProtobufCMessage *m)
{
    if (!m) {
        errno = EINVAL;
        return NULL;
    }
    json_t *j = s_msg_to_json(m);
    char *s = j ? s_dumps(j) : NULL;
    json_decref(j);
    if (!s)
        errno = ENOMEM;
    return s;
}

/* ==========================================================================
 * Generic JSON -> protobuf-c message
 *
 * Everything is malloc'd in the layout protobuf_c_message_free_unpacked(m,
 * NULL) frees, and every pointer is stored in the message as soon as it is
 * allocated, so a failure anywhere leaves a message that frees cleanly.
 */

static int s_msg_from_json(const ProtobufCMessageDescriptor *d, rzj_v_t j,
                           ProtobufCMessage **out, s_ctx_t *cx);

/* An integer in [min, max] from a JSON integer, an integral number or a
 * decimal string (the proto3 mapping writes 64-bit values as strings). */
static int s_get_int(rzj_v_t v, int64_t min, int64_t max, int64_t *out,
                     s_ctx_t *cx)
{
    int64_t i;
    if (rzj_v_is(v, RZJ_INT)) {
        i = rzj_node(v)->num.i;
    } else if (rzj_v_is(v, RZJ_REAL)) {
        double d = rzj_node(v)->num.r;
        /* 2^63 is exactly representable: anything below it fits */
        if (d != floor(d) || d < -9223372036854775808.0 ||
            d >= 9223372036854775808.0)
            return s_fail(cx, RZ_EINVALEVENT, "not an integer: %.17g", d);
        i = (int64_t)d;
    } else if (rzj_v_is(v, RZJ_STR)) {
        const char *s = rzj_v_str(v);
        char *end;
        errno = 0;
        long long ll = strtoll(s, &end, 10);
        if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '-') || *end || errno)
            return s_fail(cx, RZ_EINVALEVENT, "not an integer: '%.40s'", s);
        i = ll;
    } else {
        return s_fail(cx, RZ_EINVALEVENT, "expected an integer, got %s",
                      rzj_v_kind_name(v));
    }
    if (i < min || i > max)
        return s_fail(cx, RZ_EINVALEVENT, "%lld out of range",
                      (long long)i);
    *out = i;
    return 0;
}

/* A marked time (cx->time): what s_time_to_json writes, "YYYY-MM-DD"
 * (midnight in Warsaw, for either mark), or an integer as for any int64. */
static int s_get_time(rzj_v_t v, int64_t *out, s_ctx_t *cx)
{
    if (!rzj_v_is(v, RZJ_STR))
        return s_get_int(v, INT64_MIN, INT64_MAX, out, cx);
    const char *s = rzj_v_str(v);
    size_t n = rzj_v_len(v);
    if (n > 0 && strlen(s) == n &&
        strspn(s + (s[0] == '-'), "0123456789") == n - (s[0] == '-'))
        return s_get_int(v, INT64_MIN, INT64_MAX, out, cx);
    int y, m, d;
    if (n == 10 && strlen(s) == n && strspn(s, "0123456789") == 4 &&
        s[4] == '-' && strspn(s + 5, "0123456789") == 2 && s[7] == '-' &&
        strspn(s + 8, "0123456789") == 2 &&
        sscanf(s, "%4d-%2d-%2d", &y, &m, &d) == 3) {
        if (m < 1 || m > 12 || d < 1 || d > rzc_mdays(y, m))
            return s_fail(cx, RZ_EINVALEVENT, "no such date: '%s'", s);
        *out = rzc_warsaw_midnight_us(y, m, d);
        return 0;
    }
    if (strlen(s) != n || rzc_rfc3339_parse(s, out))
        return s_fail(cx, RZ_EINVALEVENT,
                      "not an RFC 3339 time, a date or unix µs: '%.40s'", s);
    return 0;
}

static int s_get_uint64(rzj_v_t v, uint64_t *out, s_ctx_t *cx)
{
    if (rzj_v_is(v, RZJ_STR)) {
        const char *s = rzj_v_str(v);
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end || errno)
            return s_fail(cx, RZ_EINVALEVENT,
                          "not an unsigned integer: '%.40s'", s);
        *out = u;
        return 0;
    }
    int64_t i = 0;
    int rc = s_get_int(v, 0, INT64_MAX, &i, cx);
    if (rc == 0)
        *out = (uint64_t)i;
    return rc;
}

static int s_get_double(rzj_v_t v, double *out, s_ctx_t *cx)
{
    if (rzj_v_is_number(v)) {
        *out = rzj_v_number(v);
        return 0;
    }
    if (rzj_v_is(v, RZJ_STR)) {
        const char *s = rzj_v_str(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        /* strtod also reads "inf", "0x1p3" and leading blanks: a JSON
         * number's characters only */
        char *end;
        if (*s && strspn(s, "0123456789+-.eE") == strlen(s)) {
            double d = strtod(s, &end);
            if (!*end && isfinite(d)) {
                *out = d;
                return 0;
            }
        }
        return s_fail(cx, RZ_EINVALEVENT, "not a number: '%.40s'", s);
    }
    return s_fail(cx, RZ_EINVALEVENT, "expected a number, got %s",
                  rzj_v_kind_name(v));
}

static char *s_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Parse one value of field f into p. For strings, bytes and messages the
 * pointer is stored at p only once complete. */
static int s_value_from_json(const ProtobufCFieldDescriptor *f, rzj_v_t v,
                             void *p, s_ctx_t *cx)
{
    int64_t i;
    uint64_t u;
    double d;
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = s_get_int(v, INT32_MIN, INT32_MAX, &i, cx)))
            return rc;
        *(int32_t *)p = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = s_get_int(v, 0, UINT32_MAX, &i, cx)))
            return rc;
        *(uint32_t *)p = (uint32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = cx->time ? s_get_time(v, &i, cx)
                           : s_get_int(v, INT64_MIN, INT64_MAX, &i, cx)))
            return rc;
        *(int64_t *)p = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = s_get_uint64(v, &u, cx)))
            return rc;
        *(uint64_t *)p = u;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = s_get_double(v, &d, cx)))
            return rc;
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return s_fail(cx, RZ_EINVALEVENT, "%g out of range for float", d);
        *(float *)p = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = s_get_double(v, &d, cx)))
            return rc;
        *(double *)p = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!rzj_v_is(v, RZJ_TRUE) && !rzj_v_is(v, RZJ_FALSE))
            return s_fail(cx, RZ_EINVALEVENT, "expected a boolean, got %s",
                          rzj_v_kind_name(v));
        *(protobuf_c_boolean *)p = rzj_v_is(v, RZJ_TRUE);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (rzj_v_is(v, RZJ_STR)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(ed, rzj_v_str(v));
            if (!ev)
                return s_fail(cx, RZ_EINVALEVENT, "unknown %s value '%.60s'",
                              ed->name, rzj_v_str(v));
            *(int *)p = ev->value;
            return 0;
        }
        if (!rzj_v_is(v, RZJ_INT))
            return s_fail(cx, RZ_EINVALEVENT, "expected a %s name, got %s",
                          ed->name, rzj_v_kind_name(v));
        if ((rc = s_get_int(v, INT32_MIN, INT32_MAX, &i, cx)))
            return rc;
        *(int *)p = (int)i;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!rzj_v_is(v, RZJ_STR))
            return s_fail(cx, RZ_EINVALEVENT, "expected a string, got %s",
                          rzj_v_kind_name(v));
        char *s = s_strndup(rzj_v_str(v), rzj_v_len(v));
        if (!s)
            return RZ_ENOMEM;
        *(char **)p = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!rzj_v_is(v, RZJ_STR))
            return s_fail(cx, RZ_EINVALEVENT,
                          "expected a base64 string, got %s",
                          rzj_v_kind_name(v));
        ProtobufCBinaryData *b = p;
        rc = s_b64_decode(rzj_v_str(v), rzj_v_len(v), &b->data, &b->len);
        if (rc == RZ_EINVAL)
            return s_fail(cx, RZ_EINVALEVENT, "not base64");
        return rc;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_msg_from_json(f->descriptor, v, (ProtobufCMessage **)p, cx);
    }
    return s_fail(cx, RZ_EINVALEVENT, "unsupported field type");
}

/* A map key from its object key text into the entry's key field. */
static int s_map_key_from_text(const ProtobufCFieldDescriptor *kf, rzj_v_t k,
                               void *p, s_ctx_t *cx)
{
    const char *key = rzj_v_str(k);
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        char *s = strdup(key);
        if (!s)
            return RZ_ENOMEM;
        *(char **)p = s;
        return 0;
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") && strcmp(key, "false"))
            return s_fail(cx, RZ_EINVALEVENT, "map key is not a boolean");
        *(protobuf_c_boolean *)p = key[0] == 't';
        return 0;
    }
    /* integer keys: read them as the decimal strings they are */
    return s_value_from_json(kf, k, p, cx);
}

static int s_map_from_json(const ProtobufCFieldDescriptor *f, rzj_v_t v,
                           char *base, s_ctx_t *cx)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &md->fields[0], *vf = &md->fields[1];
    if (!rzj_v_is(v, RZJ_OBJ))
        return s_fail(cx, RZ_EINVALEVENT, "expected an object, got %s",
                      rzj_v_kind_name(v));
    size_t n = rzj_v_len(v);
    if (n == 0)
        return 0;
    ProtobufCMessage **arr = calloc(n, sizeof *arr);
    if (!arr)
        return RZ_ENOMEM;
    *(ProtobufCMessage ***)(base + f->offset) = arr;
    *(size_t *)(base + f->quantifier_offset) = n;
    size_t k = 0;
    for (rzj_v_t key = rzj_v_first(v); !rzj_v_absent(key);
         key = rzj_v_next(v, key)) {
        rzj_v_t val = rzj_v_value(key);
        ProtobufCMessage *e = calloc(1, md->sizeof_message);
        if (!e)
            return RZ_ENOMEM;
        md->message_init(e);
        arr[k++] = e;
        size_t old = s_path_push(cx, rzj_v_str(key), 0);
        int rc = s_map_key_from_text(kf, key, (char *)e + kf->offset, cx);
        if (rc == 0 && !rzj_v_is_null(val))
            rc = s_value_from_json(vf, val, (char *)e + vf->offset, cx);
        s_path_pop(cx, old);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_repeated_from_json(const ProtobufCFieldDescriptor *f, rzj_v_t v,
                                char *base, s_ctx_t *cx)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && s_is_map_entry(f->descriptor))
        return s_map_from_json(f, v, base, cx);
    if (!rzj_v_is(v, RZJ_ARR))
        return s_fail(cx, RZ_EINVALEVENT, "expected an array, got %s",
                      rzj_v_kind_name(v));
    size_t n = rzj_v_len(v), sz = s_type_size(f->type);
    if (n == 0)
        return 0;
    char *arr = calloc(n, sz);
    if (!arr)
        return RZ_ENOMEM;
    *(char **)(base + f->offset) = arr;
    *(size_t *)(base + f->quantifier_offset) = n;
    size_t k = 0;
    for (rzj_v_t el = rzj_v_first(v); !rzj_v_absent(el);
         el = rzj_v_next(v, el), k++) {
        size_t old = s_path_push(cx, NULL, (long)k);
        int rc = rzj_v_is_null(el)
                     ? s_fail(cx, RZ_EINVALEVENT, "null in an array")
                     : s_value_from_json(f, el, arr + k * sz, cx);
        s_path_pop(cx, old);
        if (rc)
            return rc;
    }
    return 0;
}

/* A field by its proto name, or by the lowerCamelCase name the proto3 JSON
 * mapping prints ("fiscalYear" for fiscal_year). */
static const ProtobufCFieldDescriptor *
s_field_by_name(const ProtobufCMessageDescriptor *d, const char *key)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f)
        return f;
    char snake[128];
    size_t o = 0;
    for (const char *k = key; *k; k++) {
        if (o + 3 > sizeof snake)
            return NULL;
        if (*k >= 'A' && *k <= 'Z') {
            snake[o++] = '_';
            snake[o++] = (char)(*k - 'A' + 'a');
        } else if (*k == '_') {
            return NULL; /* neither snake_case (tried) nor camelCase */
        } else {
            snake[o++] = *k;
        }
    }
    snake[o] = '\0';
    return o ? protobuf_c_message_descriptor_get_field_by_name(d, snake)
             : NULL;
}

static const char *s_oneof_member(const ProtobufCMessageDescriptor *d,
                                  uint32_t id)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(d, id);
    return f ? f->name : "?";
}

/* Parse object j into a new message of type d. On success *out is set;
 * on failure nothing is left allocated. */
static int s_msg_from_json(const ProtobufCMessageDescriptor *d, rzj_v_t j,
                           ProtobufCMessage **out, s_ctx_t *cx)
{
    int rc = 0;
    bool *seen = NULL;
    ProtobufCMessage *m = NULL;
    if (!rzj_v_is(j, RZJ_OBJ))
        return s_fail(cx, RZ_EINVALEVENT, "expected an object for %s, got %s",
                      d->name, rzj_v_kind_name(j));
    m = calloc(1, d->sizeof_message);
    seen = calloc(d->n_fields ? d->n_fields : 1, sizeof *seen);
    if (!m || !seen) {
        free(m);
        m = NULL;
        rc = RZ_ENOMEM;
        goto fail;
    }
    d->message_init(m);
    char *base = (char *)m;

    for (rzj_v_t k = rzj_v_first(j); !rzj_v_absent(k); k = rzj_v_next(j, k)) {
        const char *key = rzj_v_str(k);
        rzj_v_t v = rzj_v_value(k);
        const ProtobufCFieldDescriptor *f = s_field_by_name(d, key);
        if (!f) {
            rc = s_fail(cx, RZ_EINVALEVENT, "unknown field '%.60s' in %s",
                        key, d->name);
            goto fail;
        }
        size_t idx = (size_t)(f - d->fields);
        if (seen[idx]) {
            rc = s_fail(cx, RZ_EINVALEVENT, "field '%s' given twice",
                        f->name);
            goto fail;
        }
        seen[idx] = true;
        if (rzj_v_is_null(v))
            continue; /* proto3 JSON: null is the default value */

        size_t old = s_path_push(cx, f->name, 0);
        /* a message field's own fields set it again as they are read */
        cx->time = s_time_kind(d, f);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            rc = s_repeated_from_json(f, v, base, cx);
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
            if (*which) {
                s_path_pop(cx, old);
                rc = s_fail(cx, RZ_EINVALEVENT,
                            "'%s' and '%s' are members of one oneof",
                            s_oneof_member(d, *which), f->name);
                goto fail;
            }
            rc = s_value_from_json(f, v, base + f->offset, cx);
            /* the case only once the member is complete: free_unpacked
             * looks at the member only when the case selects it */
            if (rc == 0)
                *which = f->id;
        } else {
            rc = s_value_from_json(f, v, base + f->offset, cx);
            if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                f->type != PROTOBUF_C_TYPE_STRING &&
                f->type != PROTOBUF_C_TYPE_MESSAGE)
                *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
        }
        s_path_pop(cx, old);
        cx->time = RZ_TIME_NONE;
        if (rc)
            goto fail;
    }
    free(seen);
    *out = m;
    return 0;

fail:
    free(seen);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* ==========================================================================
 * CloudEvents: the domain messages "data" can hold
 */

/* "pl.gov.gmina.budget.execution.v1" -> budget. */
static const rz_domain_t *s_domain_by_type(const char *type)
{
    size_t pl = sizeof(RZ_TYPE_PREFIX) - 1;
    if (!type || strncmp(type, RZ_TYPE_PREFIX, pl) != 0)
        return NULL;
    const char *dom = type + pl, *dot = strchr(dom, '.');
    return dot ? rz_domain_named(dom, (size_t)(dot - dom)) : NULL;
}

/* Does the media type carry JSON? "application/json", "text/json",
 * "application/cloudevents+json; charset=utf-8". */
static bool s_is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
        (n == 9 && strncasecmp(ct, "text/json", 9) == 0))
        return true;
    return n > 5 && memchr(ct, '/', n) &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Would the JSON text read back as the domain message of this type? */
static bool s_parses_as(const rz_domain_t *dom, const void *text, size_t len)
{
    char scratch[8];
    s_ctx_t cx = {.err = scratch, .err_len = sizeof scratch};
    ProtobufCMessage *m = NULL;
    rzj_doc_t doc = {0};
    bool yes = rzj_doc_parse(&doc, text, len, scratch, sizeof scratch) == 0 &&
               s_msg_from_json(dom->message, rzj_doc_root(&doc), &m, &cx) == 0;
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    rzj_doc_free(&doc);
    return yes;
}

/* ==========================================================================
 * Event -> CloudEvents JSON
 */

static int s_set_str(json_t *obj, const char *key, const char *s)
{
    if (!s || !*s)
        return 0;
    return s_jset(obj, key, s_jstr(s));
}

static int s_set_time(json_t *obj, const char *key, int64_t us)
{
    char buf[96]; /* 28 used; gcc cannot see the fields' ranges */
    if (us == 0)
        return 0;
    /* outside what RFC 3339 can write: unix µs, which the reader accepts */
    if (!rzc_rfc3339_writable(us))
        return s_jset(obj, key, json_integer(us));
    rzc_rfc3339_format(us, buf, sizeof buf);
    return s_jset(obj, key, json_string(buf));
}

/* "data" (or "data_base64") and its datacontenttype / dataschema. */
static int s_set_data(json_t *obj, const Ratusz__V1__Event *ev)
{
    if (ev->data_case == RATUSZ__V1__EVENT__DATA_RAW) {
        const Ratusz__V1__RawData *raw = ev->raw;
        if (!raw)
            return 0;
        const char *ct = raw->content_type;
        if (s_set_str(obj, "datacontenttype", ct))
            return -1;
        if (s_is_json_type(ct) && raw->bytes.len > 0) {
            json_t *j = json_loadb((const char *)raw->bytes.data,
                                   raw->bytes.len,
                                   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                                   NULL);
            const rz_domain_t *dom = s_domain_by_type(ev->type);
            /* Keep the bytes as base64 when "data" would not read back as
             * this same raw event: JSON null reads as no data, and an
             * object that fits the type's domain message reads as that
             * message. */
            if (j && !json_is_null(j) &&
                !(dom && json_is_object(j) &&
                  s_parses_as(dom, raw->bytes.data, raw->bytes.len)))
                return s_jset(obj, "data", j);
            json_decref(j);
        }
        char *b64 = s_b64_encode(raw->bytes.data, raw->bytes.len);
        if (!b64)
            return -1;
        int rc = s_jset(obj, "data_base64", json_string(b64));
        free(b64);
        return rc;
    }
    const rz_domain_t *dom = rz_domain_of_case(ev->data_case);
    const ProtobufCMessage *m = rz_event_data_message(ev);
    if (!dom || !m)
        return 0;
    if (s_jset(obj, "datacontenttype", json_string("application/json")) ||
        s_jset(obj, "dataschema", json_string(dom->message->name)))
        return -1;
    return s_jset(obj, "data", s_msg_to_json(m));
}

char *rz_event_to_json(const Ratusz__V1__Event *ev)
{
    char *out = NULL;
    json_t *obj = json_object();
    if (!obj || !ev)
        goto fail;
    if (s_jset(obj, "specversion", json_string("1.0")) ||
        s_jset(obj, "id", s_jstr(ev->id)) ||
        s_jset(obj, "source", s_jstr(ev->source)) ||
        s_jset(obj, "type", s_jstr(ev->type)) ||
        s_set_str(obj, "subject", ev->subject) ||
        s_set_time(obj, "time", ev->time) ||
        s_set_str(obj, "tenant", ev->tenant) ||
        (ev->seq && s_jset(obj, "seq", s_u64_to_json(ev->seq))) ||
        s_set_time(obj, "ingesttime", ev->ingest_time) ||
        s_set_str(obj, "principal", ev->principal) ||
        s_set_str(obj, "redaction", ev->redaction) || s_set_data(obj, ev))
        goto fail;
    out = s_dumps(obj);
fail:
    json_decref(obj);
    if (!out)
        errno = ev ? ENOMEM : EINVAL;
    return out;
}

/* ==========================================================================
 * CloudEvents JSON -> Event
 */

/* A string attribute: absent or null leaves *out alone. */
/* A string attribute: absent or null leaves *out alone. (The document
 * holds no string with a NUL inside: rzj_doc_parse refuses them.) */
static int s_attr_str(rzj_v_t root, const char *name, bool required,
                      const char **out, s_ctx_t *cx)
{
    rzj_v_t v = rzj_v_get(root, name);
    if (rzj_v_absent(v) || rzj_v_is_null(v)) {
        if (required)
            return s_fail(cx, RZ_EINVALEVENT, "missing attribute '%s'", name);
        return 0;
    }
    if (!rzj_v_is(v, RZJ_STR))
        return s_fail(cx, RZ_EINVALEVENT, "%s: expected a string, got %s", name,
                      rzj_v_kind_name(v));
    if (required && rzj_v_len(v) == 0)
        return s_fail(cx, RZ_EINVALEVENT, "attribute '%s' is empty", name);
    *out = rzj_v_str(v);
    return 0;
}

/* The same with a default (when not NULL or "") for when the attribute is
 * absent, null or "". */
static int s_attr_or(rzj_v_t root, const char *name, bool required,
                     const char *dflt, const char **out, s_ctx_t *cx)
{
    rzj_v_t v = rzj_v_get(root, name);
    if (dflt && *dflt &&
        (rzj_v_absent(v) || rzj_v_is_null(v) ||
         (rzj_v_is(v, RZJ_STR) && rzj_v_len(v) == 0))) {
        *out = dflt;
        return 0;
    }
    return s_attr_str(root, name, required, out, cx);
}

static int s_attr_time(rzj_v_t root, const char *name, int64_t *out,
                       s_ctx_t *cx)
{
    rzj_v_t v = rzj_v_get(root, name);
    if (rzj_v_absent(v) || rzj_v_is_null(v))
        return 0;
    /* what s_set_time writes for years RFC 3339 cannot hold */
    if (rzj_v_is(v, RZJ_INT)) {
        *out = rzj_node(v)->num.i;
        return 0;
    }
    if (!rzj_v_is(v, RZJ_STR))
        return s_fail(cx, RZ_EINVALEVENT, "%s: expected a string, got %s", name,
                      rzj_v_kind_name(v));
    if (rzc_rfc3339_parse(rzj_v_str(v), out))
        return s_fail(cx, RZ_EINVALEVENT, "%s: not RFC 3339: '%.60s'", name,
                      rzj_v_str(v));
    return 0;
}

/* The event being read. Its strings are borrowed from the JSON document:
 * it is only packed, never freed, so only what the builder allocates for
 * "data" is freed afterwards. */
typedef struct s_build {
    Ratusz__V1__Event ev;
    Ratusz__V1__RawData raw;
    ProtobufCMessage *domain; /* malloc'd, freed with free_unpacked */
    char *raw_bytes;          /* malloc'd */
} s_build_t;

/* A value of the document as a jansson value, for s_dumps. */
static json_t *s_jv_to_json(rzj_v_t v)
{
    switch (rzj_v_kind(v)) {
    case RZJ_NULL: return json_null();
    case RZJ_FALSE: return json_false();
    case RZJ_TRUE: return json_true();
    case RZJ_INT: return json_integer(rzj_node(v)->num.i);
    case RZJ_REAL: return json_real(rzj_node(v)->num.r);
    case RZJ_STR: return json_stringn_nocheck(rzj_v_str(v), rzj_v_len(v));
    case RZJ_OBJ: {
        json_t *o = json_object();
        for (rzj_v_t k = rzj_v_first(v); o && !rzj_v_absent(k);
             k = rzj_v_next(v, k)) {
            json_t *m = s_jv_to_json(rzj_v_value(k));
            if (!m || json_object_setn_new_nocheck(o, rzj_v_str(k),
                                                   rzj_v_len(k), m)) {
                json_decref(o);
                o = NULL;
            }
        }
        return o;
    }
    case RZJ_ARR: {
        json_t *a = json_array();
        for (rzj_v_t e = rzj_v_first(v); a && !rzj_v_absent(e);
             e = rzj_v_next(v, e)) {
            if (json_array_append_new(a, s_jv_to_json(e))) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    }
    return NULL;
}

/* Raw data from "data" that is not (or not cleanly) a domain message. */
static int s_raw_from_data(s_build_t *b, rzj_v_t data, const char *ct)
{
    if (rzj_v_is(data, RZJ_STR) && ct && !s_is_json_type(ct)) {
        /* CloudEvents: non-JSON data travels as a JSON string */
        b->raw.bytes.data = (uint8_t *)rzj_v_str(data);
        b->raw.bytes.len = rzj_v_len(data);
    } else {
        json_t *j = s_jv_to_json(data);
        b->raw_bytes = j ? s_dumps(j) : NULL;
        json_decref(j);
        if (!b->raw_bytes)
            return RZ_ENOMEM;
        b->raw.bytes.data = (uint8_t *)b->raw_bytes;
        b->raw.bytes.len = strlen(b->raw_bytes);
        if (!ct)
            ct = "application/json";
    }
    b->raw.content_type = (char *)ct;
    b->ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    b->ev.raw = &b->raw;
    return 0;
}

static void s_set_domain(s_build_t *b, const rz_domain_t *dom,
                         ProtobufCMessage *m)
{
    b->domain = m;
    b->ev.data_case = dom->data_case;
    switch (dom->data_case) {
    case RATUSZ__V1__EVENT__DATA_BUDGET:
        b->ev.budget = (Ratusz__V1__BudgetEntry *)m;
        break;
    case RATUSZ__V1__EVENT__DATA_AIR_QUALITY:
        b->ev.air_quality = (Ratusz__V1__AirQualityMeasurement *)m;
        break;
    case RATUSZ__V1__EVENT__DATA_TAX:
        b->ev.tax = (Ratusz__V1__TaxAssessment *)m;
        break;
    case RATUSZ__V1__EVENT__DATA_GIS:
        b->ev.gis = (Ratusz__V1__GisFeature *)m;
        break;
    default: break;
    }
}

static int s_data_from_json(s_build_t *b, rzj_v_t root, s_ctx_t *cx)
{
    const char *ct = NULL, *schema = NULL;
    int rc;
    if ((rc = s_attr_str(root, "datacontenttype", false, &ct, cx)) ||
        (rc = s_attr_str(root, "dataschema", false, &schema, cx)))
        return rc;
    rzj_v_t data = rzj_v_get(root, "data");
    rzj_v_t b64 = rzj_v_get(root, "data_base64");
    if (rzj_v_is_null(data))
        data = (rzj_v_t){0};
    if (rzj_v_is_null(b64))
        b64 = (rzj_v_t){0};
    if (!rzj_v_absent(data) && !rzj_v_absent(b64))
        return s_fail(cx, RZ_EINVALEVENT,
                      "both 'data' and 'data_base64' are set");

    if (!rzj_v_absent(b64)) {
        if (!rzj_v_is(b64, RZJ_STR))
            return s_fail(cx, RZ_EINVALEVENT,
                          "data_base64: expected a string, got %s",
                          rzj_v_kind_name(b64));
        rc = s_b64_decode(rzj_v_str(b64), rzj_v_len(b64), &b->raw.bytes.data,
                          &b->raw.bytes.len);
        if (rc == RZ_EINVAL)
            return s_fail(cx, RZ_EINVALEVENT, "data_base64: not base64");
        if (rc)
            return rc;
        b->raw_bytes = (char *)b->raw.bytes.data;
        b->raw.content_type = (char *)(ct ? ct : "");
        b->ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
        b->ev.raw = &b->raw;
        return 0;
    }
    if (rzj_v_absent(data))
        return 0;

    const rz_domain_t *dom = schema ? rz_domain_of_schema(schema) : NULL;
    ProtobufCMessage *m = NULL;
    if (dom) {
        /* the producer named the message: it must fit exactly */
        size_t old = s_path_push(cx, "data", 0);
        rc = s_msg_from_json(dom->message, data, &m, cx);
        s_path_pop(cx, old);
        if (rc)
            return rc;
        s_set_domain(b, dom, m);
        return 0;
    }
    dom = schema ? NULL : s_domain_by_type(b->ev.type);
    if (dom && rzj_v_is(data, RZJ_OBJ) && (!ct || s_is_json_type(ct))) {
        /* a guess from the type: take it only if the data fits; a domain
         * may have kinds of events that have no message yet */
        char scratch[8];
        s_ctx_t quiet = {.err = scratch, .err_len = sizeof scratch};
        rc = s_msg_from_json(dom->message, data, &m, &quiet);
        if (rc == RZ_ENOMEM)
            return rc;
        if (rc == 0) {
            s_set_domain(b, dom, m);
            return 0;
        }
    }
    return s_raw_from_data(b, data, ct);
}

/* The document buffers of each thread, kept between events while small:
 * reading a line then costs no allocation for them. A thread-specific
 * key, not _Thread_local, so that a thread's buffers are freed when it
 * ends. A callback that reads JSON again gets a document of its own. */
#define S_DOC_KEEP (256u * 1024)
typedef struct s_tdoc {
    rzj_doc_t doc;
    int busy;
} s_tdoc_t;
static pthread_key_t s_doc_key;
static int s_doc_key_ok;
static pthread_once_t s_doc_once = PTHREAD_ONCE_INIT;

static void s_tdoc_free(void *p)
{
    s_tdoc_t *t = p;
    rzj_doc_free(&t->doc);
    free(t);
}

static void s_doc_key_make(void)
{
    s_doc_key_ok = pthread_key_create(&s_doc_key, s_tdoc_free) == 0;
}

/* This thread's kept document, or NULL (then the caller uses its own). */
static s_tdoc_t *s_tdoc(void)
{
    pthread_once(&s_doc_once, s_doc_key_make);
    if (!s_doc_key_ok)
        return NULL;
    s_tdoc_t *t = pthread_getspecific(s_doc_key);
    if (!t && (t = calloc(1, sizeof *t)) && pthread_setspecific(s_doc_key, t)) {
        free(t);
        t = NULL;
    }
    return t && !t->busy ? t : NULL;
}

int rz_event_from_json_visit(const char *text, size_t len,
                             const Ratusz__V1__Event *defaults, rz_event_fn fn,
                             void *user, char *err, size_t err_len)
{
    static const Ratusz__V1__Event none = RATUSZ__V1__EVENT__INIT;
    const Ratusz__V1__Event *dflt = defaults ? defaults : &none;
    s_ctx_t cx = {.err = err, .err_len = err_len};
    s_build_t b = {.ev = RATUSZ__V1__EVENT__INIT,
                   .raw = RATUSZ__V1__RAW_DATA__INIT};
    s_tdoc_t *kept = s_tdoc();
    rzj_doc_t own = {0}, *doc = kept ? &kept->doc : &own;
    const char *s;
    int rc;

    if (err && err_len)
        err[0] = '\0';
    if (!fn || (!text && len))
        return s_fail(&cx, RZ_EINVAL, "no callback or no text");
    if (kept)
        kept->busy = 1;

    char jerr[160];
    rc = rzj_doc_parse(doc, text ? text : "", len, jerr, sizeof jerr);
    if (rc) {
        rc = s_fail(&cx, rc == RZ_ENOMEM ? rc : RZ_EDECODE, "%s", jerr);
        goto fail;
    }
    rzj_v_t root = rzj_doc_root(doc);
    if (!rzj_v_is(root, RZJ_OBJ)) {
        rc = s_fail(&cx, RZ_EDECODE, "JSON: not an object");
        goto fail;
    }

    /* specversion may be left out (many producers do); a different one
     * means a different format we do not read */
    s = NULL;
    if ((rc = s_attr_str(root, "specversion", false, &s, &cx)))
        goto fail;
    if (s && strcmp(s, "1.0") != 0) {
        rc = s_fail(&cx, RZ_EINVALEVENT,
                    "specversion: unsupported '%.20s' (expected '1.0')", s);
        goto fail;
    }
    const char *id = NULL, *source = NULL, *type = NULL;
    if ((rc = s_attr_or(root, "id", true, dflt->id, &id, &cx)) ||
        (rc = s_attr_or(root, "source", true, dflt->source, &source, &cx)) ||
        (rc = s_attr_or(root, "type", true, dflt->type, &type, &cx)))
        goto fail;
    b.ev.id = (char *)id;
    b.ev.source = (char *)source;
    b.ev.type = (char *)type;
    s = NULL;
    if ((rc = s_attr_str(root, "subject", false, &s, &cx)))
        goto fail;
    if (s)
        b.ev.subject = (char *)s;
    s = NULL;
    if ((rc = s_attr_or(root, "tenant", false, dflt->tenant, &s, &cx)))
        goto fail;
    if (s)
        b.ev.tenant = (char *)s;
    s = NULL;
    if ((rc = s_attr_str(root, "principal", false, &s, &cx)))
        goto fail;
    if (s)
        b.ev.principal = (char *)s;
    /* Read back like principal, so that JSON carries every attribute the
     * broker sets; the broker, not this reader, decides what a producer's
     * copy of these fields is worth. */
    s = NULL;
    if ((rc = s_attr_str(root, "redaction", false, &s, &cx)))
        goto fail;
    if (s)
        b.ev.redaction = (char *)s;
    if ((rc = s_attr_time(root, "time", &b.ev.time, &cx)) ||
        (rc = s_attr_time(root, "ingesttime", &b.ev.ingest_time, &cx)))
        goto fail;
    rzj_v_t seq = rzj_v_get(root, "seq");
    if (!rzj_v_absent(seq) && !rzj_v_is_null(seq)) {
        size_t old = s_path_push(&cx, "seq", 0);
        rc = s_get_uint64(seq, &b.ev.seq, &cx);
        s_path_pop(&cx, old);
        if (rc)
            goto fail;
    }
    /* Other attributes are CloudEvents extensions the envelope has no
     * field for; like any CloudEvents consumer we ignore them. */
    if ((rc = s_data_from_json(&b, root, &cx)))
        goto fail;
    rc = fn(&b.ev, user);
fail:
    if (b.domain)
        protobuf_c_message_free_unpacked(b.domain, NULL);
    free(b.raw_bytes);
    if (!kept || doc->cap * sizeof *doc->nodes + doc->text_cap > S_DOC_KEEP)
        rzj_doc_free(doc);
    if (kept)
        kept->busy = 0;
    return rc;
}

/* rz_event_from_json's callback: a copy of the borrowed event, by packing
 * and unpacking it, so that every event the library hands out is freed
 * the one way rz_event_free does. */
static int s_copy_event(const Ratusz__V1__Event *ev, void *user)
{
    Ratusz__V1__Event **out = user;
    size_t n = ratusz__v1__event__get_packed_size(ev);
    uint8_t stackbuf[2048];
    uint8_t *packed = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!packed)
        return RZ_ENOMEM;
    ratusz__v1__event__pack(ev, packed);
    *out = ratusz__v1__event__unpack(NULL, n, packed);
    if (packed != stackbuf)
        free(packed);
    /* our own encoding does not decode: only ENOMEM is plausible */
    return *out ? 0 : RZ_ENOMEM;
}

int rz_event_from_json(const char *text, size_t len, Ratusz__V1__Event **out,
                       char *err, size_t err_len)
{
    if (!out) {
        if (err && err_len)
            snprintf(err, err_len, "no output");
        return RZ_EINVAL;
    }
    *out = NULL;
    int rc = rz_event_from_json_visit(text, len, NULL, s_copy_event, out, err,
                                      err_len);
    if (rc == RZ_ENOMEM && err && err_len && !err[0])
        snprintf(err, err_len, "out of memory");
    return rc;
}

void rz_event_free(Ratusz__V1__Event *ev)
{
    if (ev)
        ratusz__v1__event__free_unpacked(ev, NULL);
}
