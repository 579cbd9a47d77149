/* geojson.c - GeoJSON (RFC 7946, and the 2008 spec's "crs" member) to
 * GisFeature events.
 *
 * jansson checks and reads every record. Around it, a small scanner finds
 * where each value starts and ends in the original bytes, because jansson
 * keeps no byte offsets and three things need them:
 *   - the quarantine stores each record's own bytes, with its line;
 *   - a feature broken in the middle of a collection (a stray byte, a lost
 *     quote) must not take the other features with it: the scanner finds
 *     the next intact feature and goes on;
 *   - geometry text is kept as the source wrote it (compacted), so that
 *   "16.6985" stays "16.6985" and does not become "16.698499999999999".
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gis.h"
#include "ratusz/core/text.h"

/* ---------------------------------------------------------------------------
 * Spans
 */

#define S_MAX_DEPTH 256

const char *rz__gis_json_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int s_string_end(const char *p, const char *e, const char **end)
{
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *end = p + 1;
            return RZ_GIS_SPAN_OK;
        }
        if (c == '\\') {
            if (++p >= e)
                break;
        } else if (c < 0x20) {
            *end = p;
            return RZ_GIS_SPAN_SYNTAX;
        }
    }
    *end = e;
    return RZ_GIS_SPAN_EOF;
}

static int s_skip(const char *p, const char *e, const char **end, int depth)
{
    p = rz__gis_json_ws(p, e);
    if (p >= e) {
        *end = e;
        return RZ_GIS_SPAN_EOF;
    }
    if (*p == '"')
        return s_string_end(p, e, end);
    if (*p == '{' || *p == '[') {
        int obj = *p == '{';
        char close = obj ? '}' : ']';
        int rc;
        if (depth >= S_MAX_DEPTH) {
            *end = p;
            return RZ_GIS_SPAN_SYNTAX;
        }
        p = rz__gis_json_ws(p + 1, e);
        if (p < e && *p == close) {
            *end = p + 1;
            return RZ_GIS_SPAN_OK;
        }
        for (;;) {
            if (p >= e) {
                *end = e;
                return RZ_GIS_SPAN_EOF;
            }
            if (obj) {
                if (*p != '"') {
                    *end = p;
                    return RZ_GIS_SPAN_SYNTAX;
                }
                if ((rc = s_string_end(p, e, &p)) != RZ_GIS_SPAN_OK) {
                    *end = p;
                    return rc;
                }
                p = rz__gis_json_ws(p, e);
                if (p >= e) {
                    *end = e;
                    return RZ_GIS_SPAN_EOF;
                }
                if (*p++ != ':') {
                    *end = p - 1;
                    return RZ_GIS_SPAN_SYNTAX;
                }
            }
            if ((rc = s_skip(p, e, &p, depth + 1)) != RZ_GIS_SPAN_OK) {
                *end = p;
                return rc;
            }
            p = rz__gis_json_ws(p, e);
            if (p >= e) {
                *end = e;
                return RZ_GIS_SPAN_EOF;
            }
            if (*p == ',') {
                p = rz__gis_json_ws(p + 1, e);
                continue;
            }
            if (*p == close) {
                *end = p + 1;
                return RZ_GIS_SPAN_OK;
            }
            *end = p;
            return RZ_GIS_SPAN_SYNTAX;
        }
    }
    /* a number or a literal: jansson checks its spelling */
    const char *s = p;
    while (p < e && ((*p && strchr("+-.0123456789", *p)) ||
                     (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        p++;
    *end = p;
    return p == s ? RZ_GIS_SPAN_SYNTAX : RZ_GIS_SPAN_OK;
}

int rz__gis_json_skip(const char *p, const char *e, const char **end)
{
    return s_skip(p, e, end, 0);
}

/* A JSON string span ("...") decoded; malloc'd, or NULL. */
static char *s_decode(const char *p, const char *e)
{
    if (e - p < 2 || *p != '"')
        return NULL;
    if (!memchr(p, '\\', (size_t)(e - p))) {
        char *s = malloc((size_t)(e - p) - 1);
        if (s) {
            memcpy(s, p + 1, (size_t)(e - p) - 2);
            s[e - p - 2] = '\0';
        }
        return s;
    }
    json_t *j = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY, NULL);
    char *s = json_is_string(j) ? strdup(json_string_value(j)) : NULL;
    json_decref(j);
    return s;
}

static int s_key_is(const char *p, const char *e, const char *key)
{
    size_t n = strlen(key);
    if (!memchr(p, '\\', (size_t)(e - p)))
        return (size_t)(e - p) == n + 2 && memcmp(p + 1, key, n) == 0;
    char *s = s_decode(p, e);
    int same = s && strcmp(s, key) == 0;
    free(s);
    return same;
}

/* Iterate the members of an object: on each call *k and *v get the next
 * key and value spans. Returns 1, 0 at the end, or a negative span error. */
typedef struct s_iter {
    const char *p, *e;
    int started;
} s_iter_t;

static int s_next_member(s_iter_t *it, rz_gis_span_t *k, rz_gis_span_t *v)
{
    const char *p = rz__gis_json_ws(it->p, it->e), *e = it->e;
    int rc;
    if (!it->started) {
        if (p >= e || *p != '{')
            return RZ_GIS_SPAN_SYNTAX;
        p = rz__gis_json_ws(p + 1, e);
        it->started = 1;
        if (p < e && *p == '}') {
            it->p = p + 1;
            return 0;
        }
    } else {
        if (p >= e)
            return RZ_GIS_SPAN_EOF;
        if (*p == '}') {
            it->p = p + 1;
            return 0;
        }
        if (*p != ',')
            return RZ_GIS_SPAN_SYNTAX;
        p = rz__gis_json_ws(p + 1, e);
    }
    if (p >= e)
        return RZ_GIS_SPAN_EOF;
    if (*p != '"')
        return RZ_GIS_SPAN_SYNTAX;
    k->p = p;
    if ((rc = s_string_end(p, e, &p)) != RZ_GIS_SPAN_OK) {
        it->p = p;
        return rc;
    }
    k->e = p;
    p = rz__gis_json_ws(p, e);
    if (p >= e)
        return RZ_GIS_SPAN_EOF;
    if (*p != ':') {
        it->p = p;
        return RZ_GIS_SPAN_SYNTAX;
    }
    v->p = rz__gis_json_ws(p + 1, e);
    if ((rc = rz__gis_json_skip(v->p, e, &p)) != RZ_GIS_SPAN_OK) {
        it->p = p;
        return rc;
    }
    v->e = p;
    it->p = p;
    return 1;
}

int rz__gis_json_member(rz_gis_span_t obj, const char *key, rz_gis_span_t *val)
{
    s_iter_t it = {obj.p, obj.e, 0};
    rz_gis_span_t k, v;
    while (s_next_member(&it, &k, &v) == 1)
        if (s_key_is(k.p, k.e, key)) {
            *val = v;
            return 0;
        }
    return -1;
}

int rz__gis_json_each(rz_gis_span_t arr, rz_gis_elem_fn fn, void *user)
{
    const char *p = rz__gis_json_ws(arr.p, arr.e), *e = arr.e;
    if (p >= e || *p != '[')
        return RZ_GIS_SPAN_SYNTAX;
    p = rz__gis_json_ws(p + 1, e);
    if (p < e && *p == ']')
        return 0;
    for (size_t i = 0;; i++) {
        rz_gis_span_t el = {rz__gis_json_ws(p, e), NULL};
        int rc = rz__gis_json_skip(el.p, e, &el.e);
        if (rc != RZ_GIS_SPAN_OK)
            return rc;
        if ((rc = fn(el, i, user)) != 0)
            return rc;
        p = rz__gis_json_ws(el.e, e);
        if (p >= e)
            return RZ_GIS_SPAN_EOF;
        if (*p == ']')
            return 0;
        if (*p != ',')
            return RZ_GIS_SPAN_SYNTAX;
        p++;
    }
}

void rz__gis_json_compact(rzc_buf_t *b, const char *p, const char *e)
{
    const char *run = p;
    while (p < e) {
        if (*p == '"') {
            const char *q;
            s_string_end(p, e, &q);
            p = q;
        } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            rzc_buf_put(b, run, (size_t)(p - run));
            p = rz__gis_json_ws(p, e);
            run = p;
        } else {
            p++;
        }
    }
    rzc_buf_put(b, run, (size_t)(p - run));
}

/* ---------------------------------------------------------------------------
 * The reader
 */

typedef struct s_elem {
    const char *p, *e;  /* the record's bytes */
    const char *errpos; /* broken: where the scanner gave up */
    int broken;         /* 0, RZ_GIS_SPAN_SYNTAX or RZ_GIS_SPAN_EOF */
} s_elem_t;

typedef struct s_ctx {
    rz_gis_t *g;
    const rz_input_t *in;
    rz_out_t *out;
    const char *b, *e;      /* the input decoded (core rzc_text_decode) */
    const rzc_text_t *text; /* its bad bytes */
    const size_t *map;      /* offset in b -> in in->data; NULL: the same */
    const char *line_at;    /* line counting, monotonic */
    uint64_t line;
    int single; /* the input is one record */
    int epsg;   /* CRS of the collection (0: crs_err) */
    char crs_err[160];
    int64_t time; /* 0: the runtime's now */
    /* the namespace of features with no identifier of their own: the
     * collection's "name" member, else the input's base name, as a slug */
    char layer[128];
    s_elem_t *elems;
    size_t n_elems, cap_elems;
} s_ctx_t;

static uint64_t s_line(s_ctx_t *c, const char *pos)
{
    if (pos < c->line_at) {
        c->line_at = c->b;
        c->line = c->in->first_line ? c->in->first_line : 1;
    }
    for (const char *p = c->line_at; p < pos; p++)
        c->line += *p == '\n';
    c->line_at = pos;
    return c->line;
}

/* The record at [p, e) of the decoded text as the runtime keeps it: its
 * bytes as received. */
static rz_record_ref_t s_ref(s_ctx_t *c, const char *p, const char *e,
                             const char *key)
{
    rz_record_ref_t ref = {s_line(c, p), key, (const uint8_t *)p,
                           (size_t)(e - p)};
    if (c->map) {
        size_t a = c->map[p - c->b], b = c->map[e - c->b];
        ref.bytes = c->in->data + a;
        ref.len = b - a;
    }
    return ref;
}

static int s_push(s_ctx_t *c, const char *p, const char *e, int broken,
                  const char *errpos)
{
    if (c->n_elems == c->cap_elems) {
        size_t cap = c->cap_elems ? 2 * c->cap_elems : 64;
        void *n = realloc(c->elems, cap * sizeof(*c->elems));
        if (!n)
            return RZ_ENOMEM;
        c->elems = n;
        c->cap_elems = cap;
    }
    s_elem_t el = {p, e, errpos, broken};
    c->elems[c->n_elems++] = el;
    return 0;
}

/* Is the object at [p, e) a Feature? */
static int s_is_feature(const char *p, const char *e)
{
    rz_gis_span_t v, obj = {p, e};
    return rz__gis_json_member(obj, "type", &v) == 0 &&
           s_key_is(v.p, v.e, "Feature");
}

/* After a broken feature: the next '{' from p that starts an intact
 * Feature which is an element of the array (not a member value), or NULL. */
static const char *s_resync(const char *p, const char *start, const char *e)
{
    for (; p < e; p++) {
        if (*p != '{')
            continue;
        const char *before = p;
        while (before > start && before[-1] && strchr(" \t\r\n", before[-1]))
            before--;
        if (before > start && before[-1] == ':')
            continue;
        const char *q;
        if (rz__gis_json_skip(p, e, &q) != RZ_GIS_SPAN_OK)
            continue;
        const char *after = rz__gis_json_ws(q, e);
        if (after < e && (*after == ',' || *after == ']') && s_is_feature(p, q))
            return p;
    }
    return NULL;
}

/* Scan the features array at p ('['): one element per feature, broken or
 * not. Returns where the array ends (after ']'), or NULL when the input
 * ends or breaks inside it. */
static const char *s_scan_features(s_ctx_t *c, const char *p, int *rc)
{
    const char *e = c->e;
    *rc = 0;
    p = rz__gis_json_ws(p + 1, e);
    if (p < e && *p == ']')
        return p + 1;
    for (;;) {
        const char *q;
        p = rz__gis_json_ws(p, e);
        if (p >= e)
            return NULL; /* "[ ... ," and nothing more: no record lost */
        int st = rz__gis_json_skip(p, e, &q);
        if (st == RZ_GIS_SPAN_OK) {
            if ((*rc = s_push(c, p, q, 0, NULL)) != 0)
                return NULL;
            const char *after = rz__gis_json_ws(q, e);
            if (after >= e)
                return NULL;
            if (*after == ']')
                return after + 1;
            if (*after == ',') {
                p = after + 1;
                continue;
            }
            /* something between two elements: it starts a broken one */
            p = after;
            st = RZ_GIS_SPAN_SYNTAX;
            q = after;
            const char *next = s_resync(p, c->b, e);
            if (next == p)
                continue;
            if ((*rc = s_push(c, p, next ? next : e, st, q)) != 0 || !next)
                return NULL;
            p = next;
            continue;
        }
        if (st == RZ_GIS_SPAN_EOF) {
            *rc = s_push(c, p, e, st, e);
            return NULL;
        }
        const char *next = s_resync(p + 1, c->b, e);
        const char *end = next ? next : e;
        /* the broken record ends before the separator of the next one */
        while (next && end > p && end[-1] && strchr(" \t\r\n,", end[-1]))
            end--;
        if ((*rc = s_push(c, p, end, st, q)) != 0 || !next)
            return NULL;
        p = next;
    }
}

/* ---------------------------------------------------------------------------
 * Geometry
 */

typedef struct s_geo {
    int epsg;
    double bb[4];
    int have;
    size_t n_pos;
    char *why;
    size_t why_len;
} s_geo_t;

static int s_why(s_geo_t *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_why(s_geo_t *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->why, g->why_len, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_pos(s_geo_t *g, json_t *pos, const char *where)
{
    if (!json_is_array(pos) || json_array_size(pos) < 2)
        return s_why(g, "%s: a position must be an array of 2 or 3 numbers",
                     where);
    for (size_t i = 0; i < json_array_size(pos); i++)
        if (!json_is_number(json_array_get(pos, i)))
            return s_why(g, "%s: a coordinate is not a number", where);
    double x = json_number_value(json_array_get(pos, 0));
    double y = json_number_value(json_array_get(pos, 1));
    char buf[200];
    const char *bad = rz__gis_check_pos(g->epsg, 0, x, y, buf, sizeof(buf));
    if (bad)
        return s_why(g, "%s: %s", where, bad);
    if (!g->have) {
        g->bb[0] = g->bb[2] = x;
        g->bb[1] = g->bb[3] = y;
        g->have = 1;
    }
    g->bb[0] = fmin(g->bb[0], x);
    g->bb[1] = fmin(g->bb[1], y);
    g->bb[2] = fmax(g->bb[2], x);
    g->bb[3] = fmax(g->bb[3], y);
    g->n_pos++;
    return 0;
}

/* A line (min positions) or a ring (closed, at least 4). */
static int s_line_of(s_geo_t *g, json_t *a, size_t min, int ring,
                     const char *where)
{
    if (!json_is_array(a))
        return s_why(g, "%s: not an array of positions", where);
    if (json_array_size(a) < min)
        return s_why(g, "%s: %zu positions, at least %zu needed", where,
                     json_array_size(a), min);
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n; i++)
        if (s_pos(g, json_array_get(a, i), where))
            return -1;
    if (ring) {
        json_t *f = json_array_get(a, 0), *l = json_array_get(a, n - 1);
        if (json_number_value(json_array_get(f, 0)) !=
                json_number_value(json_array_get(l, 0)) ||
            json_number_value(json_array_get(f, 1)) !=
                json_number_value(json_array_get(l, 1)))
            return s_why(g,
                         "%s: ring is not closed (first position is not "
                         "the last)",
                         where);
    }
    return 0;
}

static int s_polygon(s_geo_t *g, json_t *a, const char *where)
{
    if (!json_is_array(a))
        return s_why(g, "%s: a polygon must be an array of rings", where);
    char w[96];
    for (size_t i = 0; i < json_array_size(a); i++) {
        snprintf(w, sizeof(w), "%s ring %zu", where, i);
        if (s_line_of(g, json_array_get(a, i), 4, 1, w))
            return -1;
    }
    return 0;
}

static int s_geometry(s_geo_t *g, json_t *geom, const char **type, int depth)
{
    if (!json_is_object(geom))
        return s_why(g, "geometry is not an object");
    const char *t = json_string_value(json_object_get(geom, "type"));
    if (!t)
        return s_why(g, "geometry has no type");
    *type = t;
    if (strcmp(t, "GeometryCollection") == 0) {
        json_t *gs = json_object_get(geom, "geometries");
        if (!json_is_array(gs))
            return s_why(g, "GeometryCollection without a geometries array");
        if (depth > 8)
            return s_why(g, "GeometryCollections nested too deep");
        const char *mt;
        for (size_t i = 0; i < json_array_size(gs); i++)
            if (s_geometry(g, json_array_get(gs, i), &mt, depth + 1))
                return -1;
        return 0;
    }
    json_t *co = json_object_get(geom, "coordinates");
    if (!co)
        return s_why(g, "%s without coordinates", t);
    if (!json_is_array(co))
        return s_why(g, "%s: coordinates is not an array", t);
    char w[96];
    if (strcmp(t, "Point") == 0)
        return s_pos(g, co, "Point");
    if (strcmp(t, "MultiPoint") == 0) {
        for (size_t i = 0; i < json_array_size(co); i++)
            if (s_pos(g, json_array_get(co, i), "MultiPoint"))
                return -1;
        return 0;
    }
    if (strcmp(t, "LineString") == 0)
        return s_line_of(g, co, 2, 0, "LineString");
    if (strcmp(t, "MultiLineString") == 0) {
        for (size_t i = 0; i < json_array_size(co); i++) {
            snprintf(w, sizeof(w), "MultiLineString line %zu", i);
            if (s_line_of(g, json_array_get(co, i), 2, 0, w))
                return -1;
        }
        return 0;
    }
    if (strcmp(t, "Polygon") == 0)
        return s_polygon(g, co, "Polygon");
    if (strcmp(t, "MultiPolygon") == 0) {
        for (size_t i = 0; i < json_array_size(co); i++) {
            snprintf(w, sizeof(w), "MultiPolygon polygon %zu", i);
            if (s_polygon(g, json_array_get(co, i), w))
                return -1;
        }
        return 0;
    }
    return s_why(g, "'%s' is not a GeoJSON geometry type", t);
}

static int s_is_geometry_type(const char *t)
{
    static const char *const types[] = {
        "Point",   "MultiPoint",   "LineString",         "MultiLineString",
        "Polygon", "MultiPolygon", "GeometryCollection", NULL};
    for (int i = 0; types[i]; i++)
        if (strcmp(t, types[i]) == 0)
            return 1;
    return 0;
}

/* The CRS a "crs" member names (2008 spec: {"type":"name","properties":
 * {"name":"urn:ogc:def:crs:EPSG::2180"}}). Returns the EPSG code, or 0
 * with a reason. */
static int s_crs_member(json_t *crs, char *why, size_t len)
{
    json_t *props = json_object_get(crs, "properties");
    const char *type = json_string_value(json_object_get(crs, "type"));
    const char *name = json_string_value(json_object_get(props, "name"));
    if (type && strcmp(type, "EPSG") == 0) {
        /* the 2008 draft's {"type":"EPSG","properties":{"code":2180}} */
        json_t *code = json_object_get(props, "code");
        if (json_is_number(code) && json_number_value(code) > 0 &&
            json_number_value(code) < 1e6)
            return (int)json_number_value(code);
    }
    int lonlat;
    int code = name ? rz__gis_crs_code(name, &lonlat) : 0;
    if (code > 0)
        return code;
    char *text = json_dumps(crs, JSON_COMPACT);
    snprintf(why, len, "unknown CRS: crs %.100s is not a named EPSG CRS",
             text ? text : "?");
    free(text);
    return 0;
}

/* ---------------------------------------------------------------------------
 * One record
 */

static int s_quarantine(s_ctx_t *c, const char *p, const char *e,
                        const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int s_quarantine(s_ctx_t *c, const char *p, const char *e,
                        const char *key, const char *fmt, ...)
{
    char why[512];
    int n = snprintf(why, sizeof(why), "%s: ", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + n, sizeof(why) - (size_t)n, fmt, ap);
    va_end(ap);
    rz_record_ref_t ref = s_ref(c, p, e, key);
    int rc = rz_out_quarantine(c->out, &ref, why);
    return rc == RZ_ENOMEM ? rc : 0;
}

/* The text of a property value as kept in GisFeature.properties: strings
 * decoded, numbers and literals as written, objects and arrays as compact
 * JSON, null absent (NULL). malloc'd. */
static char *s_prop_text(rz_gis_span_t v)
{
    if (*v.p == '"')
        return s_decode(v.p, v.e);
    if (*v.p == 'n')
        return NULL;
    rzc_buf_t b = {0};
    rz__gis_json_compact(&b, v.p, v.e);
    if (b.oom || !b.s) {
        rzc_buf_free(&b);
        return strdup("");
    }
    return b.s;
}

/* The layer's slug (s_ctx_t.layer) from the collection's "name" member
 * (as GDAL writes it) when that is a string, else from the input's name.
 * The member's dots and slashes are part of the name, not an extension or
 * a directory. */
static void s_layer(s_ctx_t *c, rz_gis_span_t name)
{
    char *n = name.p && *name.p == '"' ? s_decode(name.p, name.e) : NULL;
    for (char *q = n; q && *q; q++)
        if (*q == '.' || *q == '/')
            *q = '-';
    c->layer[0] = '\0';
    if (n)
        rz__gis_slug(n, c->layer, sizeof(c->layer));
    if (!c->layer[0])
        rz__gis_slug(c->in->name, c->layer, sizeof(c->layer));
    if (!c->layer[0])
        snprintf(c->layer, sizeof(c->layer), "feature");
    free(n);
}

/* "dir/żoliborz.geojson" -> "żoliborz" */
static const char *s_base_name(rz_gis_pool_t *pool, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strchr(b, '.');
    return rz__gis_strndup(pool, b,
                           dot && dot != b ? (size_t)(dot - b) : strlen(b));
}

static int s_map(s_ctx_t *c, const char *p, const char *e, const char *key,
                 size_t index)
{
    rz_gis_t *g = c->g;
    json_error_t je;
    rz_gis_span_t rec_span = {p, e};
    if (c->text->n_bad) {
        /* a field that is neither encoding: this feature, not the file */
        size_t a = (size_t)(p - c->b), b = (size_t)(e - c->b);
        size_t at = rzc_text_bad_in(c->text, c->map ? c->map[a] : a,
                                    c->map ? c->map[b] : b);
        if (at != SIZE_MAX)
            return s_quarantine(c, p, e, key,
                                "byte 0x%02x at offset %zu is neither UTF-8 "
                                "nor Windows-1250",
                                c->in->data[at], at);
    }
    json_t *root =
        json_loadb(p, (size_t)(e - p),
                   JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return s_quarantine(
            c, p, e, key, "line %" PRIu64 ": %s",
            s_line(c, p) + (uint64_t)(je.line > 0 ? je.line - 1 : 0), je.text);

    int rc = 0;
    rz_gis_rec_t r;
    rz__gis_rec_init(&r);
    rzc_buf_t gtext = {0};
    char why[400] = "";
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *geom = root;
    rz_gis_span_t gspan = rec_span, props = {NULL, NULL}, idspan = {NULL, NULL};
    int epsg = c->epsg;
    const char *crs_err = c->crs_err;
    char crs_buf[200];

    if (!json_is_object(root)) {
        rc = s_quarantine(c, p, e, key, "not a JSON object");
        goto done;
    }
    if (!type) {
        rc = s_quarantine(c, p, e, key, "no \"type\" member");
        goto done;
    }
    if (strcmp(type, "Feature") == 0) {
        geom = json_object_get(root, "geometry");
        if (!geom || json_is_null(geom)) {
            rc = s_quarantine(c, p, e, key, "no geometry (%s)",
                              geom ? "null" : "missing");
            goto done;
        }
        rz__gis_json_member(rec_span, "geometry", &gspan);
        rz__gis_json_member(rec_span, "properties", &props);
        rz__gis_json_member(rec_span, "id", &idspan);
    } else if (!c->single || !s_is_geometry_type(type)) {
        rc = s_quarantine(c, p, e, key, "type '%.60s' is not %s", type,
                          c->single ? "a Feature or a geometry" : "Feature");
        goto done;
    }
    /* a crs on the feature or its geometry overrides the collection's */
    json_t *crs = json_object_get(geom, "crs");
    if (!crs || json_is_null(crs))
        crs = geom != root ? json_object_get(root, "crs") : NULL;
    if (crs && !json_is_null(crs)) {
        epsg = s_crs_member(crs, crs_buf, sizeof(crs_buf));
        crs_err = crs_buf;
    }
    if (!epsg) {
        rc = s_quarantine(c, p, e, key, "%s", crs_err);
        goto done;
    }

    s_geo_t sg = {.epsg = epsg, .why = why, .why_len = sizeof(why)};
    const char *gtype = NULL;
    if (s_geometry(&sg, geom, &gtype, 0)) {
        rc = s_quarantine(c, p, e, key, "invalid geometry: %s", why);
        goto done;
    }
    if (!sg.n_pos) {
        rc = s_quarantine(c, p, e, key, "empty %s: no positions", gtype);
        goto done;
    }

    /* properties, in the order written */
    if (props.p && *props.p != '{' && *props.p != 'n') {
        rc = s_quarantine(c, p, e, key, "properties is not an object");
        goto done;
    }
    if (props.p && *props.p == '{') {
        s_iter_t it = {props.p, props.e, 0};
        rz_gis_span_t k, v;
        while (s_next_member(&it, &k, &v) == 1) {
            char *name = s_decode(k.p, k.e), *val = s_prop_text(v);
            if (name && val)
                rz__gis_rec_prop(&r, name, val);
            free(name);
            free(val);
        }
    }

    /* tenant: the unit a TERYT code property names, else the option */
    const char *code = NULL, *code_prop = NULL;
    char terc[8] = "";
    int form = 0;
    for (size_t i = 0; props.p && i < g->n_teryt_props && !code_prop; i++) {
        rz_gis_span_t v;
        if (rz__gis_json_member(props, g->teryt_props[i], &v) != 0 ||
            *v.p == 'n')
            continue;
        code_prop = g->teryt_props[i];
        code = rz__gis_rec_prop_get(&r, code_prop);
        if (*v.p != '"') {
            rc = s_quarantine(c, p, e, key,
                              "property %s is %.40s, not a string: a TERYT "
                              "code keeps its leading zeros (\"02\")",
                              code_prop, code ? code : "?");
            goto done;
        }
        form = code ? rz__gis_unit_terc(code, terc) : -1;
        if (form < 0) {
            rc = s_quarantine(c, p, e, key,
                              "property %s: '%.40s' is not a TERYT unit code "
                              "(a TERC code of 2, 4 or 7 digits, WWPPGG_R or "
                              "WWPPGG_R.OOOO)",
                              code_prop, code ? code : "");
            goto done;
        }
    }
    const char *tenant = code ? terc : g->tenant;
    if (!*tenant) {
        rc = s_quarantine(c, p, e, key,
                          "no tenant: no TERYT code property (%s%s) and no "
                          "gis.tenant option",
                          g->n_teryt_props ? g->teryt_props[0] : "",
                          g->n_teryt_props > 1 ? ", ..." : "");
        goto done;
    }

    /* identity: the TERYT code, the feature's id, the subject option, or
     * the layer (collection name or file name) and the feature's place:
     * two layers without ids of their own must not share subjects */
    char idx[32] = "";
    if (!c->single)
        snprintf(idx, sizeof(idx), "/%zu", index);
    const char *fid, *subject;
    char *idtext = idspan.p && *idspan.p != 'n' ? s_prop_text(idspan) : NULL;
    if (code) {
        fid = code;
        subject =
            rz__gis_printf(&r.pool, "%s:%s", rz__gis_unit_kind(form), code);
    } else if (idtext && *idtext) {
        fid = rz__gis_strndup(&r.pool, idtext, strlen(idtext));
        subject = rz__gis_printf(&r.pool, "%s:%s", g->kind, idtext);
    } else if (*g->subject) {
        const char *colon = strchr(g->subject, ':');
        fid = rz__gis_printf(&r.pool, "%s%s", colon ? colon + 1 : g->subject,
                             idx);
        subject = rz__gis_printf(&r.pool, "%s%s", g->subject, idx);
    } else {
        fid = rz__gis_printf(&r.pool, "%s%s", c->layer, idx);
        subject = rz__gis_printf(&r.pool, "%s:%s", g->kind, fid);
    }
    free(idtext);
    if (!fid || !subject) {
        rc = RZ_ENOMEM;
        goto done;
    }
    for (const char *s = subject; *s; s++)
        if ((unsigned char)*s < 0x20) {
            rc = s_quarantine(c, p, e, key, "the id has control characters");
            goto done;
        }
    if (strlen(subject) > RZ_SUBJECT_MAX) {
        rc = s_quarantine(c, p, e, key, "subject longer than %d bytes",
                          RZ_SUBJECT_MAX);
        goto done;
    }

    const char *name = NULL;
    for (size_t i = 0; i < g->n_name_props && !name; i++)
        name = rz__gis_rec_prop_get(&r, g->name_props[i]);
    if (!name && !code && (!idspan.p || *idspan.p == 'n')) {
        if (*g->name)
            name = g->name;
        else if (c->single && c->in->name)
            name = s_base_name(&r.pool, c->in->name);
    }
    if (!name)
        name = fid;

    if (rz_adapter_id(r.id, sizeof(r.id), "gis", c->in->content_id, key) < 0) {
        rc = s_quarantine(c, p, e, key, "no stable id fits in %d bytes",
                          RZ_ID_MAX);
        goto done;
    }
    rz__gis_json_compact(&gtext, gspan.p, gspan.e);
    if (gtext.oom || !gtext.s) {
        rc = RZ_ENOMEM;
        goto done;
    }
    r.ev.type = rz__gis_printf(&r.pool, "pl.gov.gmina.gis.%s.v1", g->kind);
    r.ev.subject = (char *)subject;
    r.ev.tenant = rz__gis_strndup(&r.pool, tenant, strlen(tenant));
    r.ev.time = c->time;
    r.gf.feature_id = (char *)fid;
    r.gf.kind = g->kind;
    r.gf.name = rz__gis_strndup(&r.pool, name, strlen(name));
    r.geo.crs = rz__gis_printf(&r.pool, "EPSG:%d", epsg);
    r.geo.type = rz__gis_strndup(&r.pool, gtype, strlen(gtype));
    r.geo.geojson = gtext.s;
    /* GeoJSON is x, y (longitude, latitude) whatever the CRS says */
    r.geo.axis_order = "xy";
    memcpy(r.bbox, sg.bb, sizeof(r.bbox));
    if (!r.ev.type || !r.ev.tenant || !r.gf.name || !r.geo.crs || !r.geo.type)
        r.oom = 1;
    rz_record_ref_t ref = s_ref(c, p, e, key);
    rc = rz__gis_rec_emit(&r, c->out, &ref);
    if (rc != RZ_ENOMEM)
        rc = 0;
done:
    rzc_buf_free(&gtext);
    rz__gis_rec_free(&r);
    json_decref(root);
    return rc;
}

/* meta.lastUpdate ("2025-08"), a non-standard member of the PRG exports:
 * the time of the features. */
static void s_meta_time(s_ctx_t *c, rz_gis_span_t meta)
{
    rz_gis_span_t v;
    if (rz__gis_json_member(meta, "lastUpdate", &v) != 0 || *v.p != '"')
        return;
    char *s = s_decode(v.p, v.e);
    int64_t t;
    if (s && rzc_time_parse(s, &t) == 0)
        c->time = t;
    free(s);
}

static int s_whole_error(s_ctx_t *c, char *err, size_t err_len,
                         const char *what)
{
    json_error_t je;
    json_t *j = json_loadb(c->b, (size_t)(c->e - c->b), 0, &je);
    if (j) {
        json_decref(j);
        snprintf(err, err_len, "%s: %s", c->in->name ? c->in->name : "input",
                 what);
    } else {
        snprintf(err, err_len, "%s: %s (line %d: %s)",
                 c->in->name ? c->in->name : "input", what, je.line, je.text);
    }
    return RZ_EINVAL;
}

/* The root object is not closed: its complete features went out, the
 * input as a whole fails so that a cut file is never taken as done. A
 * tailed chunk is whole lines, not a file: its cut record is enough. */
static int s_cut(s_ctx_t *c, char *err, size_t err_len)
{
    if (c->in->partial)
        return 0;
    snprintf(err, err_len,
             "%s: input ends at byte %zu inside the root object: the file "
             "is cut short",
             c->in->name ? c->in->name : "input", c->in->len);
    return RZ_EINVAL;
}

static int s_parse_text(rz_gis_t *g, const rz_input_t *in,
                        const rzc_text_t *text, const size_t *map,
                        rz_out_t *out, char *err, size_t err_len)
{
    s_ctx_t c = {.g = g, .in = in, .out = out, .text = text, .map = map};
    c.b = text->text;
    c.e = c.b + text->len;
    c.line_at = c.b;
    c.line = in->first_line ? in->first_line : 1;
    int lonlat;
    c.epsg = rz__gis_crs_code(g->geojson_crs, &lonlat);

    const char *start = c.b;
    if (c.e - start >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3; /* the BOM is no part of the first record */
    start = rz__gis_json_ws(start, c.e);

    /* the top level, member by member; the features array is scanned
     * element by element so that a broken feature stays one record */
    rz_gis_span_t type = {0}, crs = {0}, meta = {0}, name = {0};
    int have_features = 0, rc = 0, top = RZ_GIS_SPAN_OK;
    const char *p = start, *end = NULL;
    if (p >= c.e || *p != '{') {
        snprintf(err, err_len, "%s: not a GeoJSON object (%s)",
                 in->name ? in->name : "input",
                 p >= c.e ? "no JSON" : "does not start with '{'");
        return RZ_EINVAL;
    }
    p = rz__gis_json_ws(p + 1, c.e);
    if (p < c.e && *p == '}')
        end = p + 1;
    while (!end) {
        if (p >= c.e) {
            top = RZ_GIS_SPAN_EOF;
            break;
        }
        rz_gis_span_t k = {p, NULL}, v;
        if (*p != '"' || s_string_end(p, c.e, &k.e) != RZ_GIS_SPAN_OK) {
            top = RZ_GIS_SPAN_SYNTAX;
            break;
        }
        p = rz__gis_json_ws(k.e, c.e);
        if (p >= c.e || *p != ':') {
            top = p >= c.e ? RZ_GIS_SPAN_EOF : RZ_GIS_SPAN_SYNTAX;
            break;
        }
        v.p = rz__gis_json_ws(p + 1, c.e);
        if (s_key_is(k.p, k.e, "features") && v.p < c.e && *v.p == '[' &&
            !have_features) {
            have_features = 1;
            v.e = s_scan_features(&c, v.p, &rc);
            if (rc) {
                free(c.elems);
                return rc;
            }
            if (!v.e) {
                top = RZ_GIS_SPAN_EOF;
                break;
            }
        } else {
            int st = rz__gis_json_skip(v.p, c.e, &v.e);
            if (st != RZ_GIS_SPAN_OK) {
                top = st;
                break;
            }
            if (s_key_is(k.p, k.e, "type"))
                type = v;
            else if (s_key_is(k.p, k.e, "crs"))
                crs = v;
            else if (s_key_is(k.p, k.e, "meta"))
                meta = v;
            else if (s_key_is(k.p, k.e, "name"))
                name = v;
        }
        p = rz__gis_json_ws(v.e, c.e);
        if (p < c.e && *p == ',') {
            p = rz__gis_json_ws(p + 1, c.e);
        } else if (p < c.e && *p == '}') {
            end = p + 1;
        } else {
            top = p >= c.e ? RZ_GIS_SPAN_EOF : RZ_GIS_SPAN_SYNTAX;
            break;
        }
    }

    char *t = type.p ? s_decode(type.p, type.e) : NULL;
    if (!t) {
        rc = top != RZ_GIS_SPAN_OK
                 ? s_whole_error(&c, err, err_len, "not valid JSON")
                 : s_whole_error(&c, err, err_len,
                                 "no \"type\" member: not GeoJSON");
        goto done;
    }
    /* a lone Feature's "name" is one of its foreign members, not a layer */
    if (strcmp(t, "FeatureCollection") != 0)
        name.p = NULL;
    s_layer(&c, name);
    if (strcmp(t, "FeatureCollection") != 0) {
        if (strcmp(t, "Feature") != 0 && !s_is_geometry_type(t)) {
            snprintf(err, err_len,
                     "%s: type '%.60s' is not a GeoJSON object type",
                     in->name ? in->name : "input", t);
            rc = RZ_EINVAL;
            goto done;
        }
        /* one record: the whole input */
        c.single = 1;
        const char *re = end ? end : c.e;
        const char *key = strcmp(t, "Feature") == 0 ? "feature" : "geometry";
        if (top != RZ_GIS_SPAN_OK)
            rc = s_quarantine(&c, start, re, key, "%s",
                              top == RZ_GIS_SPAN_EOF
                                  ? "the input ends inside it (truncated)"
                                  : "not valid JSON");
        else
            rc = s_map(&c, start, re, key, 0);
        if (rc == 0 && top == RZ_GIS_SPAN_EOF)
            rc = s_cut(&c, err, err_len);
        goto done;
    }

    if (!have_features) {
        rc = top != RZ_GIS_SPAN_OK
                 ? s_whole_error(&c, err, err_len,
                                 "the input ends or breaks before "
                                 "\"features\"")
                 : s_whole_error(&c, err, err_len,
                                 "a FeatureCollection without a "
                                 "\"features\" array");
        goto done;
    }
    if (crs.p && *crs.p != 'n') {
        json_t *j = json_loadb(crs.p, (size_t)(crs.e - crs.p), 0, NULL);
        c.epsg = j ? s_crs_member(j, c.crs_err, sizeof(c.crs_err)) : 0;
        if (!j)
            snprintf(c.crs_err, sizeof(c.crs_err),
                     "unknown CRS: the "
                     "collection's crs member "
                     "is not valid JSON");
        json_decref(j);
    }
    if (meta.p)
        s_meta_time(&c, meta);

    for (size_t i = 0; i < c.n_elems && rc == 0; i++) {
        s_elem_t *el = &c.elems[i];
        char key[48];
        snprintf(key, sizeof(key), "features[%zu]", i);
        if (el->broken == RZ_GIS_SPAN_EOF)
            rc = s_quarantine(&c, el->p, el->e, key,
                              "the input ends inside this feature "
                              "(truncated)");
        else if (el->broken)
            rc = s_quarantine(&c, el->p, el->e, key,
                              "not valid JSON at line %" PRIu64 " (byte "
                              "%zu of the feature)",
                              s_line(&c, el->errpos),
                              (size_t)(el->errpos - el->p));
        else
            rc = s_map(&c, el->p, el->e, key, i);
    }
    if (rc == 0 && top == RZ_GIS_SPAN_EOF)
        rc = s_cut(&c, err, err_len);
done:
    free(t);
    free(c.elems);
    return rc;
}

/* GeoJSON is UTF-8 (RFC 7946), but QGIS and ogr2ogr write a layer in the
 * encoding of its source, and PRG shapefiles opened without a .cpg are
 * Windows-1250. The core decides the file's encoding from its bytes and
 * decodes a stray Windows-1250 field of a UTF-8 file on its own, so that
 * one such field neither turns the other letters into mojibake nor costs
 * its feature; a feature with a byte that is neither is quarantined. */
int rz__gis_geojson_parse(rz_gis_t *g, const rz_input_t *in, rz_out_t *out,
                          char *err, size_t err_len)
{
    rzc_text_t text;
    size_t *map = NULL;
    int rc = rzc_text_decode(&text, in->data, in->len, RZC_ENC_AUTO, err,
                             err_len);
    if (rc)
        return rc;
    if ((const uint8_t *)text.text != in->data && rzc_text_map(&text, &map)) {
        rzc_text_free(&text);
        return RZ_ENOMEM;
    }
    rc = s_parse_text(g, in, &text, map, out, err, err_len);
    free(map);
    rzc_text_free(&text);
    return rc;
}
