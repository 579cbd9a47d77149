/* export.c - events to open-data files: CSV, JSON lines, GeoJSON.
 *
 * Every event goes out the moment it comes in; the export keeps only
 * counters, the time range it saw and a bounded list of sources.
 *
 * CSV (RFC 4180, UTF-8, CRLF, every field quoted by libcsv's csv_fwrite):
 *
 *   seq,id,source,type,subject,tenant,time,<data columns>
 *
 * time is RFC 3339 in UTC ("2024-03-15T08:00:00Z"). A topic prefix that
 * names a domain ("2261011.tax.") holds one message type, so its data
 * columns are that message's fields in schema order, a nested message's
 * with dots ("taxpayer.name"), a repeated field or a map as one column of
 * JSON. Values are what lib/json.c renders, made for spreadsheets:
 * money in grosze becomes decimal złoty in a column named _zl
 * ("amount_grosze" 123456 -> "amount_zl" "1234.56"), thousandths become
 * decimals ("base_milli" -> "base"), the fields the schema marks as times
 * (ratusz.v1.time) are RFC 3339 in UTC or a date ("2024-03-15") as lib/json.c
 * writes them, "" when unset or beyond year 9999,
 * and a field left at its proto3 default is "0", "false" or "" (a value
 * that was not measured, the empty oneof, stays ""). Events of that topic
 * without that message (raw data) are skipped and counted. A prefix
 * without a domain ("2261011.", "") may hold several types: its last two
 * columns are "dataschema" and "data", the data as `ratusz query` prints
 * it.
 *
 * JSON: one CloudEvent per line, exactly as `ratusz query` prints it.
 *
 * GeoJSON: a FeatureCollection of the GisFeature events, geometry as the
 * source wrote it (ratusz/geometry.h), in its own CRS: EPSG:4326 without a
 * crs member (RFC 7946), any other with the 2008 spec's named crs member
 * that GDAL reads. One file has one CRS: the first feature's, or the one
 * asked for (export_opts_t.crs, whose other features are skipped); a
 * feature in another CRS ends the export with an error naming it. Events
 * that are not GIS features, or have no usable geometry, are skipped and
 * counted. Properties: the envelope (seq, id, source, type, subject,
 * tenant, time), the feature's fields (feature_id, kind, name, area,
 * area_unit), then its own properties; one whose name is taken by the
 * former goes in as "properties.NAME".
 *
 * Raw data (RawData: bytes and a media type) has no schema, so no personal
 * marks reach it and the broker sends it as stored: such events are
 * skipped and counted unless export_opts_t.raw says the operator knows
 * what they hold.
 *
 * Personal data: the command asks the broker for pseudonyms (QUERY
 * redact). As a second line of defence every event is checked against
 * the schema's personal marks (the generated table the broker's redaction
 * uses): a marked string that is not a pseudonym ends the export, so an
 * old broker that ignores the flag cannot leak into a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>
#include <jansson.h>

#include "export.h"
#include "ratusz/core/time.h"
#include "ratusz/geometry.h"
#include "ratusz/v1/personal.h"

/* Sources named in the metadata; beyond this many, only counted. */
#define S_SOURCES_MAX 64

/* ==========================================================================
 * The domains a CSV can have columns for
 */

/* The domain a topic prefix names: "2261011.tax." and "2261011.tax" are
 * tax; "2261011.", "2261011.ta" and "" name none. */
static const rz_domain_t *s_domain_of_topic(const char *topic)
{
    const char *dot = strchr(topic, '.');
    if (!dot)
        return NULL;
    return rz_domain_named(dot + 1, strcspn(dot + 1, "."));
}

/* ==========================================================================
 * Values for people: money, thousandths and times
 */

typedef enum {
    S_AS_IS,
    S_ZL,    /* int64 grosze -> "1234.56" */
    S_MILLI, /* int64 thousandths -> "12.345" */
    S_RATE,  /* TaxObject.rate_grosze: zł per unit, or per mille of a PLN
              * base -> percent */
    S_TIME   /* marked (ratusz.v1.time): lib/json.c's text, "" for 0 */
} s_conv_t;

/* Fields whose numbers mean more than they say. Any other int64 field
 * named *_grosze is money too; times are the schema's (time) marks. */
static const struct {
    const char *msg, *field, *column;
    s_conv_t conv;
} s_convs[] = {
    {"ratusz.v1.TaxObject", "rate_grosze", "rate", S_RATE},
    {"ratusz.v1.TaxObject", "base_milli", "base", S_MILLI},
};

/* How field f of message md is written, and its column name in buf. */
static s_conv_t s_conv_of(const ProtobufCMessageDescriptor *md,
                          const ProtobufCFieldDescriptor *f, char *buf,
                          size_t len)
{
    for (size_t i = 0; i < sizeof s_convs / sizeof s_convs[0]; i++)
        if (strcmp(md->name, s_convs[i].msg) == 0 &&
            strcmp(f->name, s_convs[i].field) == 0) {
            snprintf(buf, len, "%s", s_convs[i].column);
            return s_convs[i].conv;
        }
    if (rz__time_mark(md->name, f->id)) { /* int64 only: personal_gen */
        snprintf(buf, len, "%s", f->name);
        return S_TIME;
    }
    size_t n = strlen(f->name);
    if (f->type == PROTOBUF_C_TYPE_INT64 && n > 7 &&
        strcmp(f->name + n - 7, "_grosze") == 0) {
        snprintf(buf, len, "%.*s_zl", (int)(n - 7), f->name);
        return S_ZL;
    }
    snprintf(buf, len, "%s", f->name);
    return S_AS_IS;
}

/* v / 10^places as an exact decimal: "-12.05". */
static void s_decimal(char *buf, size_t len, int64_t v, int places)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t p = places == 3 ? 1000 : places == 2 ? 100 : 10;
    snprintf(buf, len, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", m / p,
             places, m % p);
}

/* The shortest text that reads back as d. */
static void s_double(char *buf, size_t len, double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static int64_t s_json_int(const json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) /* 64-bit values beyond int64 come as text */
        return (int64_t)strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* A JSON value of lib/json.c's rendering as text for one CSV cell, with
 * conv applied; an absent value (proto3 default) as its default. */
static char *s_cell(const ProtobufCFieldDescriptor *f, const json_t *v,
                    s_conv_t conv, const json_t *sibling_unit)
{
    char buf[64];
    int absent = v == NULL;
    if (absent && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return strdup("");
    switch (conv) {
    case S_ZL: s_decimal(buf, sizeof buf, s_json_int(v), 2); return strdup(buf);
    case S_MILLI:
        s_decimal(buf, sizeof buf, s_json_int(v), 3);
        return strdup(buf);
    case S_RATE: {
        const char *unit = json_string_value(sibling_unit);
        /* per mille of a PLN base: 20 is 2.0 % */
        int pln = unit && strcmp(unit, "PLN") == 0;
        s_decimal(buf, sizeof buf, s_json_int(v), pln ? 1 : 2);
        return strdup(buf);
    }
    case S_TIME:
        /* an integer is a year RFC 3339 cannot write */
        return strdup(json_is_string(v) ? json_string_value(v) : "");
    case S_AS_IS: break;
    }
    if (absent) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_BYTES:
        case PROTOBUF_C_TYPE_MESSAGE: return strdup("");
        case PROTOBUF_C_TYPE_BOOL: return strdup("false");
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *ed = f->descriptor;
            return strdup(ed && ed->n_values ? ed->values[0].name : "");
        }
        default: return strdup("0");
        }
    }
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        s_double(buf, sizeof buf, json_real_value(v));
        return strdup(buf);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The same conversions inside a JSON value that goes into one cell (the
 * elements of a repeated message field): keys renamed, values as text.
 * Returns a new reference, or NULL on ENOMEM. */
static json_t *s_convert_json(const ProtobufCMessageDescriptor *md, json_t *obj)
{
    if (!json_is_object(obj))
        return json_incref(obj);
    json_t *out = json_object();
    for (unsigned i = 0; out && i < md->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &md->fields[i];
        json_t *v = json_object_get(obj, f->name);
        if (!v)
            continue;
        char col[128];
        s_conv_t conv = s_conv_of(md, f, col, sizeof col);
        json_t *nv;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            f->label != PROTOBUF_C_LABEL_REPEATED) {
            nv = s_convert_json(f->descriptor, v);
        } else if (conv != S_AS_IS) {
            char *cell = s_cell(f, v, conv, json_object_get(obj, "base_unit"));
            nv = cell ? json_string(cell) : NULL;
            free(cell);
        } else {
            nv = json_incref(v);
        }
        if (!nv || json_object_set_new(out, col, nv)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* ==========================================================================
 * CSV columns: a walk over the message descriptor, with the message's JSON
 * (NULL for the header)
 */

typedef int (*s_col_fn)(const char *name, const char *value, void *user);

static int s_walk(const ProtobufCMessageDescriptor *md, const json_t *obj,
                  const char *prefix, s_col_fn fn, void *user, int depth)
{
    for (unsigned i = 0; i < md->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &md->fields[i];
        char col[128], name[300];
        s_conv_t conv = s_conv_of(md, f, col, sizeof col);
        int nl = snprintf(name, sizeof name, "%s%s%s", prefix,
                          *prefix ? "." : "", col);
        if (nl < 0 || (size_t)nl >= sizeof name)
            return RZ_EINVAL; /* no message of the schema nests that deep */
        json_t *v = obj ? json_object_get(obj, f->name) : NULL;
        int rc;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            f->label != PROTOBUF_C_LABEL_REPEATED && depth < 8) {
            rc = s_walk(f->descriptor, json_is_object(v) ? v : NULL, name, fn,
                        user, depth + 1);
        } else if (!obj) {
            rc = fn(name, NULL, user);
        } else {
            char *cell;
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                /* one cell of JSON: a list, or a map's object */
                /* a map is an object already; a list of messages gets
                 * the conversions of its elements */
                json_t *conv_v = json_incref((json_t *)v);
                if (json_is_array(v) && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                    json_decref(conv_v);
                    conv_v = json_array();
                    size_t k;
                    json_t *el;
                    json_array_foreach(v, k, el)
                    {
                        json_t *c = s_convert_json(f->descriptor, el);
                        if (!c || json_array_append_new(conv_v, c)) {
                            json_decref(conv_v);
                            conv_v = NULL;
                            break;
                        }
                    }
                    if (!conv_v)
                        return RZ_ENOMEM;
                }
                cell = conv_v
                           ? json_dumps(conv_v, JSON_COMPACT | JSON_ENCODE_ANY)
                           : strdup("");
                json_decref(conv_v);
            } else {
                cell = s_cell(f, v, conv, json_object_get(obj, "base_unit"));
            }
            if (!cell)
                return RZ_ENOMEM;
            rc = fn(name, cell, user);
            free(cell);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ==========================================================================
 * Personal data: the last check before a value is written
 */

/* "~" and 26 letters of base32 (a-z, 2-7): what the broker writes. */
static int s_is_pseudonym(const char *s)
{
    if (!s || s[0] != '~' || strlen(s) != 27)
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '2' && *p <= '7')))
            return 0;
    return 1;
}

static const rz_personal_msg_t *s_personal_of(const char *name)
{
    for (size_t i = 0; i < rz_personal_n_msgs; i++)
        if (strcmp(rz_personal_msgs[i]->name, name) == 0)
            return rz_personal_msgs[i];
    return NULL;
}

static int s_has(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* Every string under m (a personal field's whole subtree when marked is
 * set): not empty and not a pseudonym is a leak. Returns 1 with the field's
 * name in where, else 0. */
static int s_leak(const ProtobufCMessage *m, int marked, char *where,
                  size_t len, int depth)
{
    const ProtobufCMessageDescriptor *md = m->descriptor;
    const rz_personal_msg_t *pm = s_personal_of(md->name);
    if (pm && pm->unless_field) {
        const ProtobufCFieldDescriptor *uf =
            protobuf_c_message_descriptor_get_field(md, pm->unless_field);
        if (uf && *(const int32_t *)((const char *)m + uf->offset) ==
                      pm->unless_value)
            pm = NULL;
    }
    for (unsigned i = 0; i < md->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &md->fields[i];
        const char *base = (const char *)m + f->offset;
        int mark = marked || (pm && s_has(pm->fields, pm->n_fields, f->id));
        size_t n = 1;
        const void *const *items = (const void *const *)base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const void *const *const *)base;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) !=
                f->id)
            continue;
        if (f->type != PROTOBUF_C_TYPE_STRING &&
            f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        for (size_t k = 0; k < n; k++) {
            const void *item = items ? items[k] : NULL;
            if (f->type == PROTOBUF_C_TYPE_STRING && mark) {
                const char *s = item;
                if (s && *s && !s_is_pseudonym(s)) {
                    snprintf(where, len, "%s.%s", md->name, f->name);
                    return 1;
                }
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && item &&
                       depth < 16 &&
                       s_leak(item, mark, where, len, depth + 1)) {
                return 1;
            }
        }
    }
    return 0;
}

/* ==========================================================================
 * The export
 */

struct export_job {
    export_opts_t o;
    FILE *out;
    const rz_domain_t *dom; /* CSV: the one message of the topic, or NULL */
    int started;           /* CSV header / GeoJSON head written */
    int epsg;              /* GeoJSON: the file's CRS */
    uint64_t count;
    uint64_t skip_other_data, skip_not_gis, skip_no_geometry, skip_other_crs;
    uint64_t skip_raw;
    uint64_t withheld; /* by the broker: not readable, or not redactable */
    uint64_t redacted; /* events the broker pseudonymised */
    int64_t first_time, last_time;
    uint64_t first_seq, last_seq;
    char *sources[S_SOURCES_MAX];
    size_t n_sources;
    uint64_t more_sources; /* events of sources beyond the list */
    int io_error;
};

export_t *export_new(const export_opts_t *o, FILE *out)
{
    if (o->format != EXPORT_CSV && o->format != EXPORT_JSON &&
        o->format != EXPORT_GEOJSON) {
        errno = EINVAL;
        return NULL;
    }
    export_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->o = *o;
    x->out = out;
    x->epsg = o->crs;
    x->dom = s_domain_of_topic(o->topic ? o->topic : "");
    return x;
}

void export_destroy(export_t **xp)
{
    export_t *x = xp ? *xp : NULL;
    if (!x)
        return;
    for (size_t i = 0; i < x->n_sources; i++)
        free(x->sources[i]);
    free(x);
    *xp = NULL;
}

void export_withheld(export_t *x, uint64_t n)
{
    x->withheld = n;
}

uint64_t export_count(const export_t *x)
{
    return x->count;
}

uint64_t export_skipped(const export_t *x)
{
    return x->skip_other_data + x->skip_not_gis + x->skip_no_geometry +
           x->skip_other_crs + x->skip_raw;
}

static void s_note_source(export_t *x, const char *src)
{
    for (size_t i = 0; i < x->n_sources; i++)
        if (strcmp(x->sources[i], src) == 0)
            return;
    if (x->n_sources == S_SOURCES_MAX) {
        x->more_sources++;
        return;
    }
    char *dup = strdup(src);
    if (dup)
        x->sources[x->n_sources++] = dup;
}

static void s_note(export_t *x, const Ratusz__V1__Event *ev)
{
    if (!x->count || ev->time < x->first_time)
        x->first_time = ev->time;
    if (!x->count || ev->time > x->last_time)
        x->last_time = ev->time;
    if (!x->first_seq)
        x->first_seq = ev->seq;
    x->last_seq = ev->seq;
    if (*ev->redaction)
        x->redacted++;
    s_note_source(x, ev->source ? ev->source : "");
    x->count++;
}

/* --------------------------------------------------------------------------
 * CSV
 */

typedef struct s_row {
    export_t *x;
    int first;
} s_row_t;

static int s_put_field(s_row_t *r, const char *text)
{
    if (!r->first && fputc(',', r->x->out) == EOF)
        return RZ_EIO;
    r->first = 0;
    return csv_fwrite(r->x->out, text, strlen(text)) ? RZ_EIO : 0;
}

static int s_header_col(const char *name, const char *value, void *user)
{
    (void)value;
    return s_put_field(user, name);
}

static int s_value_col(const char *name, const char *value, void *user)
{
    (void)name;
    return s_put_field(user, value ? value : "");
}

static const char *const s_envelope_cols[] = {
    "seq", "id", "source", "type", "subject", "tenant", "time"};

static int s_csv_header(export_t *x)
{
    s_row_t r = {x, 1};
    int rc = 0;
    for (size_t i = 0; !rc && i < 7; i++)
        rc = s_put_field(&r, s_envelope_cols[i]);
    if (!rc && x->dom)
        rc = s_walk(x->dom->message, NULL, "", s_header_col, &r, 0);
    else if (!rc)
        rc = s_put_field(&r, "dataschema");
    if (!rc && !x->dom)
        rc = s_put_field(&r, "data");
    if (!rc && fputs("\r\n", x->out) == EOF)
        rc = RZ_EIO;
    x->started = 1;
    return rc;
}

static int s_csv_event(export_t *x, const Ratusz__V1__Event *ev, char *err,
                       size_t err_len)
{
    const ProtobufCMessage *m = rz_event_data_message(ev);
    if (x->dom && (ev->data_case != x->dom->data_case || !m)) {
        x->skip_other_data++;
        return 0;
    }
    int rc = x->started ? 0 : s_csv_header(x);
    if (rc)
        return rc;
    char seq[24], t[48] = "";
    snprintf(seq, sizeof seq, "%" PRIu64, ev->seq);
    if (ev->time && rzc_rfc3339_writable(ev->time))
        rzc_rfc3339_format(ev->time, t, sizeof t);
    const char *env[7] = {seq,         ev->id,     ev->source, ev->type,
                          ev->subject, ev->tenant, t};
    s_row_t r = {x, 1};
    for (size_t i = 0; !rc && i < 7; i++)
        rc = s_put_field(&r, env[i] ? env[i] : "");
    if (rc)
        return rc;
    if (x->dom) {
        char *text = rz_message_to_json(m);
        json_t *j = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (!j)
            return RZ_ENOMEM;
        rc = s_walk(x->dom->message, j, "", s_value_col, &r, 0);
        json_decref(j);
    } else {
        /* mixed types: the data as `ratusz query` prints it */
        char *text = rz_event_to_json(ev);
        json_t *j = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (!j)
            return RZ_ENOMEM;
        json_t *data = json_object_get(j, "data");
        const char *schema =
            json_string_value(json_object_get(j, "dataschema"));
        if (!data)
            data = json_object_get(j, "data_base64");
        char *cell = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY)
                          : strdup("");
        if (!cell)
            rc = RZ_ENOMEM;
        else if (!(rc = s_put_field(&r, schema ? schema : "")))
            rc = s_put_field(&r, cell);
        free(cell);
        json_decref(j);
    }
    if (!rc && fputs("\r\n", x->out) == EOF)
        rc = RZ_EIO;
    if (rc == RZ_EIO)
        snprintf(err, err_len, "writing the CSV: %s", strerror(errno));
    return rc;
}

/* --------------------------------------------------------------------------
 * GeoJSON
 */

static int s_geo_head(export_t *x)
{
    fputs("{\"type\":\"FeatureCollection\",\n", x->out);
    if (x->epsg && x->epsg != 4326)
        fprintf(x->out,
                "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
                "\"urn:ogc:def:crs:EPSG::%d\"}},\n",
                x->epsg);
    fputs("\"features\":[", x->out);
    x->started = 1;
    return ferror(x->out) ? RZ_EIO : 0;
}

static int s_set(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

static int s_geo_event(export_t *x, const Ratusz__V1__Event *ev, char *err,
                       size_t err_len)
{
    const Ratusz__V1__GisFeature *gf = ev->gis;
    if (ev->data_case != RATUSZ__V1__EVENT__DATA_GIS || !gf) {
        x->skip_not_gis++;
        return 0;
    }
    char *geom = NULL, why[200];
    int epsg;
    int rc = rz_geo_to_geojson(gf->geometry, &geom, &epsg, why, sizeof why);
    if (rc == RZ_ENOMEM)
        return rc;
    if (rc) {
        x->skip_no_geometry++;
        return 0;
    }
    if (x->o.crs && epsg != x->o.crs) {
        free(geom);
        x->skip_other_crs++;
        return 0;
    }
    if (x->started && epsg != x->epsg) {
        free(geom);
        snprintf(err, err_len,
                 "event seq %" PRIu64 " (source '%s', id '%s') is in "
                 "EPSG:%d, the features before it in EPSG:%d; a GeoJSON "
                 "file holds one CRS: export each with --crs",
                 ev->seq, ev->source, ev->id, epsg, x->epsg);
        return RZ_EINVAL;
    }
    if (!x->started) {
        x->epsg = epsg;
        if ((rc = s_geo_head(x))) {
            free(geom);
            return rc;
        }
    }
    json_t *p = json_object();
    char t[48] = "";
    if (ev->time && rzc_rfc3339_writable(ev->time))
        rzc_rfc3339_format(ev->time, t, sizeof t);
    int bad = !p || s_set(p, "seq", json_integer((json_int_t)ev->seq)) ||
              s_set(p, "id", json_string(ev->id)) ||
              s_set(p, "source", json_string(ev->source)) ||
              s_set(p, "type", json_string(ev->type)) ||
              s_set(p, "subject", json_string(ev->subject)) ||
              s_set(p, "tenant", json_string(ev->tenant)) ||
              s_set(p, "time", json_string(t)) ||
              s_set(p, "feature_id", json_string(gf->feature_id)) ||
              s_set(p, "kind", json_string(gf->kind)) ||
              s_set(p, "name", json_string(gf->name));
    if (!bad && gf->area_unit && *gf->area_unit)
        bad = s_set(p, "area", json_real(gf->area)) ||
              s_set(p, "area_unit", json_string(gf->area_unit));
    for (size_t i = 0; !bad && i < gf->n_properties; i++) {
        const char *k = gf->properties[i]->key;
        char taken[300];
        if (json_object_get(p, k)) {
            snprintf(taken, sizeof taken, "properties.%s", k);
            k = taken;
        }
        bad = s_set(p, k, json_string(gf->properties[i]->value));
    }
    char *props = bad ? NULL
                      : json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                          JSON_REAL_PRECISION(15));
    json_decref(p);
    if (!props) {
        free(geom);
        return RZ_ENOMEM;
    }
    fprintf(x->out,
            "%s\n{\"type\":\"Feature\",\"id\":%" PRIu64
            ",\"geometry\":%s,\"properties\":%s}",
            x->count ? "," : "", ev->seq, geom, props);
    free(geom);
    free(props);
    if (ferror(x->out)) {
        snprintf(err, err_len, "writing the GeoJSON: %s", strerror(errno));
        return RZ_EIO;
    }
    return 0;
}

/* --------------------------------------------------------------------------
 * Events in, and the end
 */

int export_event(export_t *x, const Ratusz__V1__Event *ev, char *err,
                 size_t err_len)
{
    const ProtobufCMessage *m = rz_event_data_message(ev);
    char where[200];
    if (!m && !x->o.raw) {
        /* no schema, no marks: nobody can say what the bytes hold */
        x->skip_raw++;
        return 0;
    }
    if (m && s_leak(m, 0, where, sizeof where, 0)) {
        snprintf(err, err_len,
                 "event seq %" PRIu64 " came back with personal data in %s "
                 "not pseudonymised (does the broker know QUERY redact?)",
                 ev->seq, where);
        return RZ_EPROTO;
    }
    int rc;
    switch (x->o.format) {
    case EXPORT_CSV: {
        uint64_t skipped = x->skip_other_data;
        rc = s_csv_event(x, ev, err, err_len);
        if (!rc && skipped == x->skip_other_data)
            s_note(x, ev);
        break;
    }
    case EXPORT_GEOJSON: {
        uint64_t skipped = export_skipped(x);
        rc = s_geo_event(x, ev, err, err_len);
        if (!rc && skipped == export_skipped(x))
            s_note(x, ev);
        break;
    }
    default: {
        char *json = rz_event_to_json(ev);
        if (!json)
            return RZ_ENOMEM;
        rc = fputs(json, x->out) == EOF || fputc('\n', x->out) == EOF ? RZ_EIO
                                                                      : 0;
        free(json);
        if (rc)
            snprintf(err, err_len, "writing: %s", strerror(errno));
        else
            s_note(x, ev);
    }
    }
    if (rc == RZ_ENOMEM)
        snprintf(err, err_len, "out of memory");
    if (rc == RZ_EIO)
        x->io_error = 1;
    return rc;
}

int export_end(export_t *x, char *err, size_t err_len)
{
    int rc = 0;
    if (x->o.format == EXPORT_CSV && !x->started)
        rc = s_csv_header(x);
    if (x->o.format == EXPORT_GEOJSON) {
        if (!x->started)
            rc = s_geo_head(x);
        if (fputs("\n]}\n", x->out) == EOF)
            rc = RZ_EIO;
    }
    if (fflush(x->out) == EOF || ferror(x->out))
        rc = RZ_EIO;
    if (rc)
        snprintf(err, err_len, "writing: %s", strerror(errno));
    return rc;
}

/* --------------------------------------------------------------------------
 * The metadata
 */

static json_t *s_time_or_null(int64_t us)
{
    char buf[48];
    if (!us || !rzc_rfc3339_writable(us))
        return json_null();
    rzc_rfc3339_format(us, buf, sizeof buf);
    return json_string(buf);
}

char *export_meta(const export_t *x, const char *file)
{
    static const char *const formats[] = {"csv", "json", "geojson"};
    static const char *const media[] = {"text/csv; charset=utf-8",
                                        "application/x-ndjson",
                                        "application/geo+json"};
    json_t *m = json_object();
    json_t *src = json_array();
    json_t *asked = json_object();
    json_t *found = json_object();
    json_t *skipped = json_object();
    json_t *red = json_object();
    char *out = NULL;
    if (!m || !src || !asked || !found || !skipped || !red)
        goto done;
    for (size_t i = 0; i < x->n_sources; i++)
        json_array_append_new(src, json_string(x->sources[i]));
    s_set(asked, "since", s_time_or_null(x->o.since));
    s_set(asked, "until", s_time_or_null(x->o.until));
    s_set(found, "first", s_time_or_null(x->count ? x->first_time : 0));
    s_set(found, "last", s_time_or_null(x->count ? x->last_time : 0));
    s_set(found, "first_seq", json_integer((json_int_t)x->first_seq));
    s_set(found, "last_seq", json_integer((json_int_t)x->last_seq));
    if (x->skip_other_data)
        s_set(skipped, "other_data",
              json_integer((json_int_t)x->skip_other_data));
    if (x->skip_not_gis)
        s_set(skipped, "not_gis", json_integer((json_int_t)x->skip_not_gis));
    if (x->skip_no_geometry)
        s_set(skipped, "no_geometry",
              json_integer((json_int_t)x->skip_no_geometry));
    if (x->skip_raw)
        s_set(skipped, "raw_data", json_integer((json_int_t)x->skip_raw));
    if (x->skip_other_crs)
        s_set(skipped, "other_crs",
              json_integer((json_int_t)x->skip_other_crs));
    s_set(red, "applied", json_true());
    s_set(red, "method",
          json_string("personal fields of the schema replaced by keyed "
                      "pseudonyms (HMAC-SHA256) by the broker"));
    s_set(red, "events_with_pseudonyms", json_integer((json_int_t)x->redacted));
    char now[48];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rzc_rfc3339_format((int64_t)ts.tv_sec * 1000000, now, sizeof now);
    if (s_set(m, "file", file ? json_string(file) : json_null()) ||
        s_set(m, "format", json_string(formats[x->o.format])) ||
        s_set(m, "media_type", json_string(media[x->o.format])) ||
        s_set(m, "topic", json_string(x->o.topic ? x->o.topic : "")) ||
        s_set(m, "sources", json_incref(src)) ||
        s_set(m, "sources_not_listed",
              json_integer((json_int_t)x->more_sources)) ||
        s_set(m, "time_asked", json_incref(asked)) ||
        s_set(m, "time_found", json_incref(found)) ||
        s_set(m, "time_zone", json_string("UTC")) ||
        s_set(m, "count", json_integer((json_int_t)x->count)) ||
        s_set(m, "skipped", json_incref(skipped)) ||
        s_set(m, "withheld_by_broker", json_integer((json_int_t)x->withheld)) ||
        s_set(m, "licence",
              x->o.licence ? json_string(x->o.licence) : json_null()) ||
        s_set(m, "exporter", json_string("ratusz " RZ_VERSION)) ||
        s_set(m, "created", json_string(now)) ||
        s_set(m, "redaction", json_incref(red)))
        goto done;
    if (x->o.format == EXPORT_GEOJSON) {
        char crs[32];
        snprintf(crs, sizeof crs, "EPSG:%d", x->epsg);
        if (s_set(m, "crs", x->epsg ? json_string(crs) : json_null()))
            goto done;
    }
    out = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (out) {
        size_t n = strlen(out);
        char *nl = realloc(out, n + 2);
        if (!nl) {
            free(out);
            out = NULL;
        } else {
            out = nl;
            memcpy(out + n, "\n", 2);
        }
    }
done:
    json_decref(m);
    json_decref(src);
    json_decref(asked);
    json_decref(found);
    json_decref(skipped);
    json_decref(red);
    return out;
}
