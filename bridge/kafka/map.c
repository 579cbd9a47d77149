/* map.c - Ratusz event <-> Kafka record (see map.h) */
#include "map.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ratusz/core/text.h"
#include "ratusz/core/time.h"

static int s_fail(char *why, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(char *why, size_t len, int code, const char *fmt, ...)
{
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int s_topic_char(int c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-';
}

/* ===========================================================================
 * Topic template
 */

static const struct {
    const char *name;
    int kind;
} s_placeholders[] = {
    {"tenant", RZK_TPL_TENANT},
    {"domain", RZK_TPL_DOMAIN},
    {"type", RZK_TPL_TYPE},
    {"topic", RZK_TPL_TOPIC},
};

int rzk_tpl_compile(rzk_tpl_t *t, const char *text, char *why, size_t len)
{
    memset(t, 0, sizeof *t);
    const char *p = text;
    while (*p) {
        if (t->n == RZK_TPL_PARTS)
            return s_fail(why, len, RZ_EINVAL,
                          "more than %d parts in the topic template",
                          RZK_TPL_PARTS);
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return s_fail(why, len, RZ_EINVAL,
                              "unclosed '{' in the topic template");
            size_t n = (size_t)(end - p - 1);
            int kind = -1;
            for (size_t i = 0;
                 i < sizeof s_placeholders / sizeof *s_placeholders; i++)
                if (strlen(s_placeholders[i].name) == n &&
                    !memcmp(s_placeholders[i].name, p + 1, n))
                    kind = s_placeholders[i].kind;
            if (kind < 0)
                return s_fail(why, len, RZ_EINVAL,
                              "unknown placeholder '{%.*s}' in the topic "
                              "template (known: {tenant} {domain} {type} "
                              "{topic})",
                              (int)(n > 40 ? 40 : n), p + 1);
            t->parts[t->n++].kind = kind;
            p = end + 1;
            continue;
        }
        size_t n = 0;
        while (p[n] && p[n] != '{') {
            if (!s_topic_char((unsigned char)p[n]))
                return s_fail(why, len, RZ_EINVAL,
                              "'%c' is not allowed in a Kafka topic name "
                              "(only a-z A-Z 0-9 . _ -)",
                              p[n]);
            n++;
        }
        if (n > RZK_TOPIC_MAX)
            return s_fail(why, len, RZ_EINVAL, "topic template too long");
        t->parts[t->n].kind = RZK_TPL_TEXT;
        memcpy(t->parts[t->n].text, p, n);
        t->n++;
        p += n;
    }
    if (t->n == 0)
        return s_fail(why, len, RZ_EINVAL, "empty topic template");
    return 0;
}

/* Append s[0..n) to buf at *at, replacing what Kafka does not allow. */
static int s_put(char *buf, size_t *at, const char *s, size_t n, int sanitize)
{
    if (*at + n > RZK_TOPIC_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[(*at)++] =
            sanitize && !s_topic_char((unsigned char)s[i]) ? '_' : s[i];
    return 0;
}

int rzk_tpl_expand(const rzk_tpl_t *t, const Ratusz__V1__Event *ev, char *buf)
{
    char topic[RZ_TOPIC_MAX];
    int tl = rz_event_topic(ev, topic, sizeof topic);
    if (tl < 0)
        return RZ_EINVAL;
    /* "<tenant>.<domain>.<type-suffix>" */
    const char *dom = memchr(topic, '.', (size_t)tl);
    const char *dom_end =
        dom ? memchr(dom + 1, '.', (size_t)(topic + tl - dom - 1)) : NULL;
    size_t at = 0;
    for (int i = 0; i < t->n; i++) {
        int rc = 0;
        switch (t->parts[i].kind) {
        case RZK_TPL_TEXT:
            rc = s_put(buf, &at, t->parts[i].text, strlen(t->parts[i].text), 0);
            break;
        case RZK_TPL_TENANT:
            rc = s_put(buf, &at, ev->tenant, strlen(ev->tenant), 1);
            break;
        case RZK_TPL_DOMAIN:
            if (dom)
                rc = s_put(
                    buf, &at, dom + 1,
                    dom_end ? (size_t)(dom_end - dom - 1) : strlen(dom + 1), 1);
            break;
        case RZK_TPL_TYPE:
            if (dom)
                rc = s_put(buf, &at, dom + 1, strlen(dom + 1), 1);
            break;
        case RZK_TPL_TOPIC: rc = s_put(buf, &at, topic, (size_t)tl, 1); break;
        }
        if (rc < 0) {
            buf[0] = '\0';
            return RZ_EINVAL;
        }
    }
    buf[at] = '\0';
    /* "." and ".." are not topics either */
    if (at == 0 || !strcmp(buf, ".") || !strcmp(buf, ".."))
        return RZ_EINVAL;
    return (int)at;
}

/* ===========================================================================
 * Outbound
 */

int rzk_time_format(int64_t us, char *buf, size_t len)
{
    if (!rzc_rfc3339_writable(us))
        return -1;
    rzc_rfc3339_format(us, buf, len);
    return 0;
}

static void s_header(rzk_out_t *o, const char *name, const char *value)
{
    if (!value || !*value || o->n_headers == RZK_OUT_HEADERS)
        return;
    o->headers[o->n_headers].name = name;
    o->headers[o->n_headers].value = value;
    o->headers[o->n_headers].len = strlen(value);
    o->n_headers++;
}

int rzk_out_map(const rzk_tpl_t *t, int format, const Ratusz__V1__Event *ev,
                const uint8_t *raw, size_t raw_len, rzk_out_t *o, char *why,
                size_t why_len)
{
    memset(o, 0, sizeof *o);
    if (rzk_tpl_expand(t, ev, o->topic) < 0)
        return s_fail(why, why_len, RZ_EINVAL,
                      "no Kafka topic for tenant '%.20s' type '%.60s' "
                      "(empty or longer than %d)",
                      ev->tenant, ev->type, RZK_TOPIC_MAX);
    if (ev->subject && *ev->subject) {
        o->key = ev->subject;
        o->key_len = strlen(ev->subject);
    }
    if (format == RZK_FORMAT_CE_JSON) {
        o->json = rz_event_to_json(ev);
        if (!o->json)
            return s_fail(why, why_len, RZ_ENOMEM, "out of memory");
        o->value = o->json;
        o->value_len = strlen(o->json);
    } else {
        o->value = raw;
        o->value_len = raw_len;
    }
    s_header(o, "ce_specversion", "1.0");
    s_header(o, "ce_id", ev->id);
    s_header(o, "ce_source", ev->source);
    s_header(o, "ce_type", ev->type);
    s_header(o, "ce_subject", ev->subject);
    if (ev->time && rzk_time_format(ev->time, o->time, sizeof o->time) == 0)
        s_header(o, "ce_time", o->time);
    s_header(o, "ce_tenant", ev->tenant);
    if (ev->seq) {
        snprintf(o->seq, sizeof o->seq, "%" PRIu64, ev->seq);
        s_header(o, "ce_seq", o->seq);
    }
    /* a consumer that routes on headers must see that personal fields
     * hold pseudonyms without decoding the value */
    s_header(o, "ce_redaction", ev->redaction);
    s_header(o, "content-type",
             format == RZK_FORMAT_CE_JSON ? RZK_CT_CE_JSON : RZK_CT_PROTOBUF);
    return 0;
}

void rzk_out_clear(rzk_out_t *o)
{
    free(o->json);
    o->json = NULL;
}

/* ===========================================================================
 * Inbound
 */

const rzk_header_t *rzk_header_find(const rzk_in_t *in, const char *name)
{
    for (size_t i = in->n_headers; i-- > 0;)
        if (in->headers[i].name && !strcmp(in->headers[i].name, name))
            return &in->headers[i];
    return NULL;
}

/* Does the header's value start with prefix, ignoring case? */
static int s_ct_is(const rzk_header_t *h, const char *prefix)
{
    size_t n = strlen(prefix);
    return h && h->value && h->len >= n &&
           !strncasecmp((const char *)h->value, prefix, n);
}

/* A header's value as a NUL-terminated copy in buf; -1 if absent, too long
 * or holding a NUL. */
static int s_hval(const rzk_header_t *h, char *buf, size_t len)
{
    if (!h || !h->value || h->len >= len || memchr(h->value, '\0', h->len))
        return -1;
    memcpy(buf, h->value, h->len);
    buf[h->len] = '\0';
    return 0;
}

/* Is the value JSON by its media type ("application/json",
 * "text/json", "application/geo+json; charset=utf-8")? */
static int s_ct_json(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    if (n >= 4 && !strncasecmp(ct + n - 4, "json", 4) &&
        (n == 4 || ct[n - 5] == '/' || ct[n - 5] == '+'))
        return 1;
    return 0;
}

/* Binary mode: the attributes are headers, the value is the data. Build
 * the CloudEvents JSON object and let rz_event_from_json read it, so the
 * data goes into the same domain messages by the same rules as JSON. */
static int s_in_binary(const rzk_in_t *in, Ratusz__V1__Event **out, char *why,
                       size_t why_len)
{
    static const char *const attrs[] = {"id",         "source", "type",
                                        "subject",    "time",   "tenant",
                                        "dataschema", NULL};
    char name[32];
    int rc = RZ_ENOMEM;
    char *text = NULL;
    json_t *o = json_object();
    if (!o)
        return s_fail(why, why_len, RZ_ENOMEM, "out of memory");
    const rzk_header_t *sv = rzk_header_find(in, "ce_specversion");
    if (!sv->value || sv->len != 3 || memcmp(sv->value, "1.0", 3)) {
        rc = s_fail(why, why_len, RZ_EINVALEVENT,
                    "ce_specversion: unsupported '%.*s' (expected '1.0')",
                    (int)(sv->len > 20 ? 20 : sv->len),
                    sv->value ? (const char *)sv->value : "");
        goto done;
    }
    json_object_set_new(o, "specversion", json_string("1.0"));
    for (int i = 0; attrs[i]; i++) {
        snprintf(name, sizeof name, "ce_%s", attrs[i]);
        const rzk_header_t *h = rzk_header_find(in, name);
        if (!h)
            continue;
        json_t *s = h->value ? json_stringn(h->value, h->len) : NULL;
        if (!s) {
            rc = s_fail(why, why_len, RZ_EINVALEVENT,
                        "header %s: not UTF-8 text", name);
            goto done;
        }
        json_object_set_new(o, attrs[i], s);
    }
    const rzk_header_t *cth = rzk_header_find(in, "content-type");
    char ct[256] = "";
    if (cth && s_hval(cth, ct, sizeof ct) < 0) {
        rc = s_fail(why, why_len, RZ_EINVALEVENT,
                    "header content-type: longer than %zu bytes or not text",
                    sizeof ct - 1);
        goto done;
    }
    if (*ct)
        json_object_set_new(o, "datacontenttype", json_string(ct));
    if (in->value && s_ct_json(ct)) {
        json_error_t jerr;
        json_t *data =
            json_loadb(in->value, in->value_len,
                       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!data) {
            rc = s_fail(why, why_len, RZ_EDECODE,
                        "value: content-type '%.60s' but not JSON: %s at "
                        "line %d column %d",
                        ct, jerr.text, jerr.line, jerr.column);
            goto done;
        }
        json_object_set_new(o, "data", data);
    } else if (in->value) {
        /* jansson has no base64; the data travels as bytes inside the
         * JSON string only to be decoded again, so use a plain encoder */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const uint8_t *v = in->value;
        size_t n = in->value_len, o64 = 0;
        char *enc = malloc((n + 2) / 3 * 4 + 1);
        if (!enc)
            goto done;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)v[i] << 16;
            if (i + 1 < n)
                w |= (uint32_t)v[i + 1] << 8;
            if (i + 2 < n)
                w |= v[i + 2];
            enc[o64++] = b64[(w >> 18) & 63];
            enc[o64++] = b64[(w >> 12) & 63];
            enc[o64++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
            enc[o64++] = i + 2 < n ? b64[w & 63] : '=';
        }
        enc[o64] = '\0';
        json_object_set_new(o, "data_base64", json_string(enc));
        free(enc);
    }
    text = json_dumps(o, JSON_COMPACT);
    if (!text)
        goto done;
    rc = rz_event_from_json(text, strlen(text), out, why, why_len);
done:
    free(text);
    json_decref(o);
    return rc;
}

/* Every string field of m and of the messages in it is UTF-8, as proto3
 * requires; *bad names the first one that is not. */
static int s_strings_ok(const ProtobufCMessage *m, const char **bad)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->type != PROTOBUF_C_TYPE_STRING &&
            f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        /* a oneof member counts only when it is the one that is set */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        const void *const *items = (const void *const *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            items = *(const void *const *const *)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++) {
            const void *v = items[k];
            if (!v)
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING
                    ? !rzc_utf8_valid(v, strlen(v))
                    : !s_strings_ok(v, bad)) {
                if (f->type == PROTOBUF_C_TYPE_STRING)
                    *bad = f->name;
                return 0;
            }
        }
    }
    return 1;
}

/* The value is an encoded Event: headers present must agree with it. */
static int s_in_protobuf(const rzk_in_t *in, Ratusz__V1__Event **out, char *why,
                         size_t why_len)
{
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(
        NULL, in->value_len, in->value ? in->value : (const void *)"");
    if (!ev)
        return s_fail(why, why_len, RZ_EDECODE,
                      "value: content-type says ratusz.v1.Event but it is "
                      "not a valid protobuf Event (%zu bytes)",
                      in->value_len);
    const char *bad = "?";
    if (!s_strings_ok(&ev->base, &bad)) {
        s_fail(why, why_len, RZ_EINVALEVENT,
               "value: string field '%s' is not UTF-8 (proto3 strings must be)",
               bad);
        ratusz__v1__event__free_unpacked(ev, NULL);
        return RZ_EINVALEVENT;
    }
    static const char *const names[] = {"ce_id", "ce_source", "ce_type"};
    const char *fields[] = {ev->id, ev->source, ev->type};
    for (int i = 0; i < 3; i++) {
        const rzk_header_t *h = rzk_header_find(in, names[i]);
        if (h && (!h->value || h->len != strlen(fields[i]) ||
                  memcmp(h->value, fields[i], h->len))) {
            s_fail(why, why_len, RZ_EINVALEVENT,
                   "header %s '%.*s' differs from the event's '%.60s'",
                   names[i], (int)(h->len > 60 ? 60 : h->len),
                   h->value ? (const char *)h->value : "", fields[i]);
            ratusz__v1__event__free_unpacked(ev, NULL);
            return RZ_EINVALEVENT;
        }
    }
    *out = ev;
    return 0;
}

/* Replace a protobuf-c string field with a malloc'd copy of s[0..n). */
static int s_set_string(char **field, const void *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return RZ_ENOMEM;
    memcpy(copy, s, n);
    copy[n] = '\0';
    if (*field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

int rzk_in_map(const rzk_in_t *in, Ratusz__V1__Event **out, char *why,
               size_t why_len)
{
    Ratusz__V1__Event *ev = NULL;
    int rc;
    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    const rzk_header_t *ct = rzk_header_find(in, "content-type");
    if (!in->value)
        return s_fail(why, why_len, RZ_EINVALEVENT,
                      "a tombstone (no value) carries no event");
    if (s_ct_is(ct, "application/cloudevents+json")) {
        rc = rz_event_from_json(in->value, in->value_len, &ev, why, why_len);
    } else if (s_ct_is(ct, "application/x-protobuf") && ct->len >= 31 &&
               memmem(ct->value, ct->len, "messageType=ratusz.v1.Event", 27)) {
        rc = s_in_protobuf(in, &ev, why, why_len);
    } else if (rzk_header_find(in, "ce_specversion")) {
        rc = s_in_binary(in, &ev, why, why_len);
    } else {
        return s_fail(why, why_len, RZ_EINVALEVENT,
                      "not a CloudEvent: no content-type "
                      "application/cloudevents+json or %s, and no "
                      "ce_specversion header",
                      RZK_CT_PROTOBUF);
    }
    if (rc < 0)
        return rc;
    /* Kafka's key is the subject by this bridge's convention; when it is
     * text it stands in for a missing one */
    if (!*ev->subject && in->key && in->key_len &&
        !memchr(in->key, '\0', in->key_len) && in->key_len <= RZ_SUBJECT_MAX &&
        rzc_utf8_valid(in->key, in->key_len) &&
        s_set_string(&ev->subject, in->key, in->key_len) < 0) {
        rz_event_free(ev);
        return s_fail(why, why_len, RZ_ENOMEM, "out of memory");
    }
    /* set by the receiving broker; a stale value must not travel */
    ev->seq = 0;
    ev->ingest_time = 0;
    if (*ev->principal) {
        if (ev->principal != protobuf_c_empty_string)
            free(ev->principal);
        ev->principal = (char *)protobuf_c_empty_string;
    }
    rc = rz_event_check(ev, why, why_len);
    if (rc < 0) {
        rz_event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}
