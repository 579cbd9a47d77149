/* geometry.c - GisFeature geometries as GeoJSON (see ratusz/geometry.h).
 *
 * No library among the project's dependencies reads WKT (GDAL/GEOS would
 * be a large dependency for the one direction needed); the grammar of the
 * six types the gis adapter's GML reader writes is small.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ratusz/core/buf.h"
#include "ratusz/errors.h"
#include "ratusz/geometry.h"

/* ---------------------------------------------------------------------------
 * Numbers
 */

int rz_geo_number(const char *s, size_t n, double *v)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    *v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(*v))
        return -1;
    /* strtod also takes hex, "inf" and "nan": not numbers in GML or WKT */
    for (size_t i = 0; i < n; i++)
        if (!tmp[i] || !strchr("0123456789+-.eE", tmp[i]))
            return -1;
    return 0;
}

int rz_geo_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !isdigit((unsigned char)s[i]))
            return 0;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !isdigit((unsigned char)s[i]))
            return 0;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    return i == n;
}

/* ---------------------------------------------------------------------------
 * WKT to GeoJSON
 */

typedef struct s_wkt {
    const char *p;
    int swap;
    rzc_buf_t *b;
    char *err;
    size_t err_len;
} s_wkt_t;

static int s_werr(s_wkt_t *w, const char *what)
{
    snprintf(w->err, w->err_len, "WKT: %s at '%.20s'", what, w->p);
    return -1;
}

static void s_wws(s_wkt_t *w)
{
    while (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r')
        w->p++;
}

static int s_wchar(s_wkt_t *w, char c)
{
    s_wws(w);
    if (*w->p != c)
        return 0;
    w->p++;
    return 1;
}

/* The shortest text that reads back as v. */
static void s_put_double(rzc_buf_t *b, double v)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    rzc_buf_puts(b, tmp);
}

static int s_wpos(s_wkt_t *w)
{
    const char *tok[4];
    size_t len[4];
    int n = 0;
    for (;;) {
        s_wws(w);
        const char *t = w->p;
        while (*w->p && strchr("+-.0123456789eE", *w->p))
            w->p++;
        if (w->p == t)
            break;
        if (n == 4)
            return s_werr(w, "more than 4 ordinates");
        tok[n] = t;
        len[n++] = (size_t)(w->p - t);
    }
    if (n < 2)
        return s_werr(w, "a position needs 2 ordinates");
    if (w->swap) {
        const char *t = tok[0];
        size_t l = len[0];
        tok[0] = tok[1], len[0] = len[1];
        tok[1] = t, len[1] = l;
    }
    rzc_buf_puts(w->b, "[");
    for (int i = 0; i < n; i++) {
        double v;
        if (rz_geo_number(tok[i], len[i], &v))
            return s_werr(w, "not a number");
        if (i)
            rzc_buf_puts(w->b, ",");
        if (rz_geo_json_number(tok[i], len[i]))
            rzc_buf_put(w->b, tok[i], len[i]);
        else
            s_put_double(w->b, v); /* "+5", ".5", "5.": valid WKT only */
    }
    rzc_buf_puts(w->b, "]");
    return 0;
}

/* A parenthesised list nested `level` deep above the positions. */
static int s_wlist(s_wkt_t *w, int level, int point_parens)
{
    if (!s_wchar(w, '('))
        return s_werr(w, "'(' expected");
    rzc_buf_puts(w->b, "[");
    int n = 0;
    do {
        if (n++)
            rzc_buf_puts(w->b, ",");
        if (level > 1) {
            if (s_wlist(w, level - 1, 0))
                return -1;
        } else if (point_parens && s_wchar(w, '(')) {
            /* MULTIPOINT((1 2), (3 4)) */
            if (s_wpos(w) || !s_wchar(w, ')'))
                return s_werr(w, "')' expected");
        } else if (s_wpos(w)) {
            return -1;
        }
    } while (s_wchar(w, ','));
    if (!s_wchar(w, ')'))
        return s_werr(w, "')' expected");
    rzc_buf_puts(w->b, "]");
    return 0;
}

static int s_wgeom(s_wkt_t *w, int depth)
{
    static const struct {
        const char *wkt, *geo;
        int level;
    } types[] = {{"POINT", "Point", 0},
                 {"LINESTRING", "LineString", 1},
                 {"POLYGON", "Polygon", 2},
                 {"MULTIPOINT", "MultiPoint", 1},
                 {"MULTILINESTRING", "MultiLineString", 2},
                 {"MULTIPOLYGON", "MultiPolygon", 3},
                 {"GEOMETRYCOLLECTION", "GeometryCollection", -1}};
    s_wws(w);
    const char *t = w->p;
    while ((*w->p >= 'A' && *w->p <= 'Z') || (*w->p >= 'a' && *w->p <= 'z'))
        w->p++;
    size_t tl = (size_t)(w->p - t);
    int k = -1;
    for (int i = 0; i < 7; i++)
        if (strlen(types[i].wkt) == tl && strncasecmp(t, types[i].wkt, tl) == 0)
            k = i;
    if (k < 0) {
        w->p = t;
        return s_werr(w, "unknown geometry type");
    }
    s_wws(w);
    /* Z, M, ZM: the ordinates say it */
    if (strncasecmp(w->p, "ZM", 2) == 0)
        w->p += 2;
    else if ((*w->p == 'Z' || *w->p == 'z' || *w->p == 'M' || *w->p == 'm') &&
             !((w->p[1] >= 'A' && w->p[1] <= 'Z') ||
               (w->p[1] >= 'a' && w->p[1] <= 'z')))
        w->p++;
    s_wws(w);
    if (strncasecmp(w->p, "EMPTY", 5) == 0)
        return s_werr(w, "an EMPTY geometry has no place in GeoJSON");
    rzc_buf_puts(w->b, "{\"type\":\"");
    rzc_buf_puts(w->b, types[k].geo);
    rzc_buf_puts(w->b, "\",");
    if (types[k].level < 0) {
        if (depth > 8)
            return s_werr(w, "collections nested too deep");
        rzc_buf_puts(w->b, "\"geometries\":[");
        if (!s_wchar(w, '('))
            return s_werr(w, "'(' expected");
        int n = 0;
        do {
            if (n++)
                rzc_buf_puts(w->b, ",");
            if (s_wgeom(w, depth + 1))
                return -1;
        } while (s_wchar(w, ','));
        if (!s_wchar(w, ')'))
            return s_werr(w, "')' expected");
        rzc_buf_puts(w->b, "]}");
        return 0;
    }
    rzc_buf_puts(w->b, "\"coordinates\":");
    if (types[k].level == 0) {
        if (!s_wchar(w, '(') || s_wpos(w) || !s_wchar(w, ')'))
            return s_werr(w, "POINT(x y) expected");
    } else if (s_wlist(w, types[k].level, k == 3)) {
        return -1;
    }
    rzc_buf_puts(w->b, "}");
    return 0;
}

int rz_geo_wkt_to_geojson(const char *wkt, int swap, char **out, char *err,
                          size_t err_len)
{
    rzc_buf_t b = {0};
    s_wkt_t w = {wkt, swap, &b, err, err_len};
    *out = NULL;
    if (s_wgeom(&w, 0))
        goto fail;
    s_wws(&w);
    if (*w.p) {
        s_werr(&w, "text after the geometry");
        goto fail;
    }
    if (b.oom || !b.s) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    *out = b.s;
    return 0;
fail:
    free(b.s);
    return -1;
}

/* ---------------------------------------------------------------------------
 * CRS, and a Geometry message as GeoJSON
 */

int rz_geo_crs_code(const char *name, int *lonlat)
{
    static const char *const prefixes[] = {
        "urn:ogc:def:crs:EPSG::",
        "urn:x-ogc:def:crs:EPSG::",
        "http://www.opengis.net/def/crs/EPSG/0/",
        "https://www.opengis.net/def/crs/EPSG/0/",
        "http://www.opengis.net/gml/srs/epsg.xml#",
        "EPSG:",
        "epsg:",
        NULL};
    *lonlat = 0;
    if (!name || !*name)
        return 0;
    if (strcmp(name, "urn:ogc:def:crs:OGC:1.3:CRS84") == 0 ||
        strcmp(name, "urn:ogc:def:crs:OGC::CRS84") == 0 ||
        strcmp(name, "http://www.opengis.net/def/crs/OGC/1.3/CRS84") == 0 ||
        strcmp(name, "OGC:CRS84") == 0 || strcmp(name, "CRS84") == 0) {
        *lonlat = 1;
        return 4326;
    }
    const char *num = NULL;
    for (int i = 0; prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) == 0) {
            num = name + n;
            break;
        }
    }
    /* urn:ogc:def:crs:EPSG:<version>:<code> */
    if (!num && strncmp(name, "urn:ogc:def:crs:EPSG:", 21) == 0) {
        const char *c = strrchr(name, ':');
        num = c + 1;
    }
    if (!num || !*num || strlen(num) > 6 ||
        strspn(num, "0123456789") != strlen(num))
        return 0;
    int code = atoi(num);
    return code > 0 ? code : 0;
}

int rz_geo_to_geojson(const Ratusz__V1__Geometry *g, char **out, int *epsg,
                      char *why, size_t why_len)
{
    *out = NULL;
    *epsg = 0;
    const char *crs = g && g->crs ? g->crs : "";
    int lonlat = 0;
    int code = rz_geo_crs_code(crs, &lonlat);
    if (!code) {
        snprintf(why, why_len, "unknown CRS '%.60s'", crs);
        return -1;
    }
    if ((!g->geojson || !*g->geojson) && (!g->wkt || !*g->wkt)) {
        snprintf(why, why_len, "no geometry");
        return -1;
    }
    *epsg = code;
    if (g->geojson && *g->geojson) {
        json_t *j = json_loads(g->geojson, JSON_DECODE_INT_AS_REAL, NULL);
        int ok =
            json_is_object(j) && json_is_string(json_object_get(j, "type"));
        json_decref(j);
        if (!ok) {
            snprintf(why, why_len,
                     "geometry.geojson is not a GeoJSON geometry");
            return -1;
        }
        *out = strdup(g->geojson);
        return *out ? 0 : RZ_ENOMEM;
    }
    int yx = !lonlat && g->axis_order && strcmp(g->axis_order, "yx") == 0;
    if (rz_geo_wkt_to_geojson(g->wkt, yx, out, why, why_len))
        return strcmp(why, "out of memory") == 0 ? RZ_ENOMEM : -1;
    return 0;
}
