/* envelope.c - what makes an Event valid on the bus, and its topic.
 *
 * The broker and every client use these same functions, so a client that
 * checks an event before sending gets the answer the broker would give.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratusz/ratusz.h"
#include "ratusz/wire.h"

#define S_PREFIX_LEN (sizeof(RZ_TYPE_PREFIX) - 1)

int64_t rz_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Every domain with a message, once: the JSON reader and writer, the
 * exporter and the topic all look here. */
static const rz_domain_t s_domains[] = {
    {"budget", &ratusz__v1__budget_entry__descriptor,
     RATUSZ__V1__EVENT__DATA_BUDGET},
    {"env", &ratusz__v1__air_quality_measurement__descriptor,
     RATUSZ__V1__EVENT__DATA_AIR_QUALITY},
    {"tax", &ratusz__v1__tax_assessment__descriptor,
     RATUSZ__V1__EVENT__DATA_TAX},
    {"gis", &ratusz__v1__gis_feature__descriptor, RATUSZ__V1__EVENT__DATA_GIS},
};
#define S_NDOMAINS (sizeof s_domains / sizeof s_domains[0])

const rz_domain_t *rz_domain_named(const char *name, size_t len)
{
    for (size_t i = 0; name && i < S_NDOMAINS; i++)
        if (strlen(s_domains[i].name) == len &&
            memcmp(s_domains[i].name, name, len) == 0)
            return &s_domains[i];
    return NULL;
}

const rz_domain_t *rz_domain_of_case(int data_case)
{
    for (size_t i = 0; i < S_NDOMAINS; i++)
        if ((int)s_domains[i].data_case == data_case)
            return &s_domains[i];
    return NULL;
}

const rz_domain_t *rz_domain_of_schema(const char *schema)
{
    for (size_t i = 0; schema && i < S_NDOMAINS; i++)
        if (strcmp(schema, s_domains[i].message->name) == 0)
            return &s_domains[i];
    return NULL;
}

const char *rz_event_data_domain(const Ratusz__V1__Event *ev)
{
    const rz_domain_t *d = rz_domain_of_case(ev->data_case);
    return d ? d->name : NULL;
}

const ProtobufCMessage *rz_event_data_message(const Ratusz__V1__Event *ev)
{
    /* casts rather than &ev->budget->base: the pointer may be NULL */
    switch (ev->data_case) {
    case RATUSZ__V1__EVENT__DATA_BUDGET:
        return (const ProtobufCMessage *)ev->budget;
    case RATUSZ__V1__EVENT__DATA_AIR_QUALITY:
        return (const ProtobufCMessage *)ev->air_quality;
    case RATUSZ__V1__EVENT__DATA_TAX: return (const ProtobufCMessage *)ev->tax;
    case RATUSZ__V1__EVENT__DATA_GIS: return (const ProtobufCMessage *)ev->gis;
    default: return NULL;
    }
}

/* The type without the well-known prefix, and the length of its first
 * segment (the domain). */
static const char *s_type_suffix(const char *type, size_t *domain_len)
{
    const char *suffix = type;
    if (strncmp(type, RZ_TYPE_PREFIX, S_PREFIX_LEN) == 0)
        suffix = type + S_PREFIX_LEN;
    const char *dot = strchr(suffix, '.');
    *domain_len = dot ? (size_t)(dot - suffix) : strlen(suffix);
    return suffix;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
s_fail(char *why, size_t len, const char *fmt, ...)
{
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return RZ_EINVALEVENT;
}

/* ---------------------------------------------------------------------------
 * Text: what a string of the bus may hold
 *
 * protobuf-c stops a string at its first NUL without a word, and proto3
 * clients (Python's protobuf) refuse a whole message when one string is
 * not UTF-8: so a string with a NUL could alias another id, and one with
 * bad UTF-8 could make a replay chunk unreadable. Envelope attributes are
 * also joined into keys, topics and log lines: no control characters.
 */

enum { S_TEXT_OK, S_TEXT_NUL, S_TEXT_CONTROL, S_TEXT_UTF8 };

/* The first problem of s[0..len): S_TEXT_* with its offset in *at. UTF-8
 * is checked strictly (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. controls: also refuse C0 controls and DEL. */
static int s_text_scan(const uint8_t *s, size_t len, int controls, size_t *at)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0) {
                *at = i;
                return S_TEXT_NUL;
            }
            if (controls && (c < 0x20 || c == 0x7f)) {
                *at = i;
                return S_TEXT_CONTROL;
            }
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            *at = i; /* continuation byte, C0/C1 overlong, F5..FF */
            return S_TEXT_UTF8;
        }
        if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi) {
            *at = i;
            return S_TEXT_UTF8;
        }
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80) {
                *at = i;
                return S_TEXT_UTF8;
            }
        i += n + 1;
    }
    return S_TEXT_OK;
}

/* 0, or RZ_EINVALEVENT with a reason naming `what 'name'` (the value itself
 * is never echoed: it may be personal data, and it is not printable). */
static int s_text_check(const uint8_t *s, size_t len, int controls,
                        const char *what, const char *name, char *why,
                        size_t why_len)
{
    size_t at = 0;
    switch (s_text_scan(s, len, controls, &at)) {
    case S_TEXT_OK: return 0;
    case S_TEXT_NUL:
        return s_fail(why, why_len, "%s '%s' holds a NUL byte at offset %zu",
                      what, name, at);
    case S_TEXT_CONTROL:
        return s_fail(why, why_len,
                      "%s '%s' holds control characters (0x%02x at offset "
                      "%zu)",
                      what, name, s[at], at);
    default:
        return s_fail(why, why_len, "%s '%s' is not valid UTF-8 at offset %zu",
                      what, name, at);
    }
}

/* The length of s, and in *plain whether it is 7-bit text without control
 * characters (then it needs no other check). One branch-free pass: this
 * runs on every publish. */
static size_t s_text_len(const char *s, int *plain)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned bad = 0;
    for (; *p; p++)
        bad |= (unsigned)(*p < 0x20) | (unsigned)(*p >= 0x7f);
    *plain = !bad;
    return (size_t)(p - (const unsigned char *)s);
}

int rz_event_check(const Ratusz__V1__Event *ev, char *why, size_t why_len)
{
    static const struct {
        const char *name;
        size_t off;
        size_t max;
        int required;
    } attrs[] = {
        {"id", offsetof(Ratusz__V1__Event, id), RZ_ID_MAX, 1},
        {"source", offsetof(Ratusz__V1__Event, source), RZ_SOURCE_MAX, 1},
        {"type", offsetof(Ratusz__V1__Event, type), RZ_TYPE_MAX, 1},
        /* the TERC check below says more than "too long" would */
        {"tenant", offsetof(Ratusz__V1__Event, tenant), 64, 1},
        {"subject", offsetof(Ratusz__V1__Event, subject), RZ_SUBJECT_MAX, 0},
        {"principal", offsetof(Ratusz__V1__Event, principal), SIZE_MAX, 0},
        {"redaction", offsetof(Ratusz__V1__Event, redaction), SIZE_MAX, 0},
    };
    if (why && why_len)
        why[0] = '\0';
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *v = *(char *const *)((const char *)ev + attrs[i].off);
        if (!v || !*v) {
            if (attrs[i].required)
                return s_fail(why, why_len, "missing attribute '%s'",
                              attrs[i].name);
            continue;
        }
        int plain;
        size_t n = s_text_len(v, &plain);
        if (n > attrs[i].max)
            return s_fail(why, why_len, "attribute '%s' is too long",
                          attrs[i].name);
        int rc;
        if (!plain && (rc = s_text_check((const uint8_t *)v, n, 1, "attribute",
                                         attrs[i].name, why, why_len)) < 0)
            return rc;
    }

    size_t tlen = strlen(ev->tenant);
    int digits = 1;
    for (const char *p = ev->tenant; *p; p++)
        if (*p < '0' || *p > '9')
            digits = 0;
    if (!digits || (tlen != 2 && tlen != 4 && tlen != 7))
        return s_fail(why, why_len,
                      "tenant '%s' is not a TERYT TERC code (2, 4 or 7 "
                      "digits)",
                      ev->tenant);

    size_t dlen;
    const char *suffix = s_type_suffix(ev->type, &dlen);
    if (dlen == 0 || strchr(ev->type, ' '))
        return s_fail(why, why_len, "type '%s' is not reverse-DNS", ev->type);

    const char *domain = rz_event_data_domain(ev);
    if (domain && (strlen(domain) != dlen || memcmp(domain, suffix, dlen)))
        return s_fail(why, why_len,
                      "type '%s' does not match the domain of its data",
                      ev->type);
    if (ev->data_case == RATUSZ__V1__EVENT__DATA_RAW && ev->raw &&
        ev->raw->bytes.len > 0 &&
        (!ev->raw->content_type || !*ev->raw->content_type))
        return s_fail(why, why_len, "raw data without a content_type");

    if (tlen + 1 + strlen(suffix) > RZ_TOPIC_MAX)
        return s_fail(why, why_len, "topic too long");
    return 0;
}

int rz_event_topic(const Ratusz__V1__Event *ev, char *buf, size_t len)
{
    /* on every publish: plain copies, no printf */
    size_t dlen;
    const char *tenant = ev->tenant ? ev->tenant : "";
    const char *suffix = s_type_suffix(ev->type ? ev->type : "", &dlen);
    size_t tl = strlen(tenant), sl = strlen(suffix), n = tl + 1 + sl;
    if (n >= len || n > RZ_TOPIC_MAX) {
        if (len)
            buf[0] = '\0';
        return RZ_EINVAL;
    }
    memcpy(buf, tenant, tl);
    buf[tl] = '.';
    memcpy(buf + tl + 1, suffix, sl + 1);
    return (int)n;
}

/* ---------------------------------------------------------------------------
 * The check on the wire bytes
 *
 * Walks the encoded Event with the wire reader, using the protobuf-c
 * descriptors only to know which length-delimited fields are strings and
 * which are messages (the oneof data and what it nests, map entries
 * included). Unknown fields, bytes and packed scalars are not looked at.
 */

/* The schema does not nest deeper than a handful of levels; an unknown
 * descriptor graph must still not recurse without end. */
#define S_WIRE_DEPTH 16

/* The envelope attributes (Event fields that are strings), checked with
 * control characters refused. */
static const char *s_attr_name(uint32_t number)
{
    switch (number) {
    case 1: return "id";
    case 2: return "source";
    case 3: return "type";
    case 4: return "subject";
    case 5: return "tenant";
    case 22: return "principal";
    case 23: return "redaction";
    default: return NULL;
    }
}

static int s_tenant_wire_ok(const uint8_t *s, size_t len)
{
    if (len != 2 && len != 4 && len != 7)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int s_wire_message(const ProtobufCMessageDescriptor *desc,
                          const uint8_t *buf, size_t len, char *path,
                          size_t path_len, int depth, char *why, size_t why_len)
{
    rz_wire_t w;
    rz_wire_field_t f;
    int rc;

    if (depth > S_WIRE_DEPTH)
        return s_fail(why, why_len, "field '%s' is nested too deeply", path);
    rz_wire_init(&w, buf, len);
    while ((rc = rz_wire_next(&w, &f)) == 1) {
        if (f.type != 2)
            continue;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, f.number);
        if (!fd)
            continue; /* unknown: kept as it came, never decoded by us */
        if (depth == 0 && fd->type == PROTOBUF_C_TYPE_STRING) {
            const char *attr = s_attr_name(f.number);
            if (!attr)
                attr = fd->name;
            if ((rc = s_text_check(f.data, f.len, 1, "attribute", attr, why,
                                   why_len)) < 0)
                return rc;
            if (f.number == 5 && !s_tenant_wire_ok(f.data, f.len))
                return s_fail(why, why_len,
                              "attribute 'tenant' is not a TERYT TERC code "
                              "(2, 4 or 7 digits)");
            continue;
        }
        if (fd->type != PROTOBUF_C_TYPE_STRING &&
            fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t base = strlen(path);
        snprintf(path + base, path_len - base, "%s%s", base ? "." : "",
                 fd->name);
        if (fd->type == PROTOBUF_C_TYPE_STRING)
            rc = s_text_check(f.data, f.len, 0, "field", path, why, why_len);
        else
            rc = s_wire_message(fd->descriptor, f.data, f.len, path, path_len,
                                depth + 1, why, why_len);
        path[base] = '\0';
        if (rc < 0)
            return rc;
    }
    if (rc < 0) {
        if (why && why_len)
            snprintf(why, why_len, "%s%s%s", depth ? "field '" : "",
                     depth ? path : "",
                     depth ? "' is not a valid message"
                           : "not a valid Event: truncated or corrupt "
                             "protobuf");
        return RZ_EDECODE;
    }
    return 0;
}

int rz_event_check_wire(const uint8_t *ev, size_t len, char *why,
                        size_t why_len)
{
    char path[160] = "";
    if (why && why_len)
        why[0] = '\0';
    if (!ev && len)
        return s_fail(why, why_len, "no event bytes");
    return s_wire_message(&ratusz__v1__event__descriptor, ev, len, path,
                          sizeof path, 0, why, why_len);
}
