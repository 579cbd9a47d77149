/* gis.c - the gis module: spatial data (GeoJSON, EGiB GML 3.2) onto the
 * bus as GisFeature events, and GisFeature events back out as GeoJSON.
 *
 * What an input becomes:
 *
 *   GeoJSON FeatureCollection   one event per feature  (key "features[i]")
 *   GeoJSON Feature             one event              (key "feature")
 *   GeoJSON geometry            one event              (key "geometry")
 *   GML FeatureCollection       one event per feature member
 *                               ("featureMember[i]"); a cartographic label
 *                               (KR_ObiektKarto) is part of the object it
 *                               labels, not a record of its own
 *
 * Each event is type pl.gov.gmina.gis.<kind>.v1: "boundary" (the kind
 * option) for GeoJSON, "parcel" or "building" for EGiB objects. CRS and
 * axis order are always explicit: GeoJSON is EPSG:4326 unless it declares
 * a "crs" member (RFC 7946 dropped it; the 2008 spec had it), GML says so
 * in srsName, and the coordinates are kept exactly as written, in the
 * CRS's own order for GML (EPSG:2177: northing first, axis_order "yx") and
 * x,y for GeoJSON (axis_order "xy").
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis.h"
#include "ratusz/geometry.h"

/* ---------------------------------------------------------------------------
 * Options
 */

const rz_conf_option_t rz__gis_options[] = {
    {"tenant", RZ_CONF_STRING, offsetof(rz_gis_conf_t, tenant), "", NULL, 0, 0,
     "TERC", "tenant of features without a TERYT code property (e.g. 1465011)"},
    {"kind", RZ_CONF_STRING, offsetof(rz_gis_conf_t, kind), "boundary", NULL, 0,
     0, "KIND",
     "kind of GeoJSON features; their type is pl.gov.gmina.gis.KIND.v1"},
    {"subject", RZ_CONF_STRING, offsetof(rz_gis_conf_t, subject), "", NULL, 0,
     0, "SUBJECT",
     "subject of a feature with no TERYT code and no id (a bare geometry), "
     "e.g. district:zoliborz; empty: KIND:<file name>"},
    {"name", RZ_CONF_STRING, offsetof(rz_gis_conf_t, name), "", NULL, 0, 0,
     "NAME", "name of such a feature; empty: the file name"},
    {"geojson_crs", RZ_CONF_STRING, offsetof(rz_gis_conf_t, geojson_crs),
     "EPSG:4326", NULL, 0, 0, "CRS",
     "CRS of GeoJSON without a crs member (RFC 7946: EPSG:4326)"},
    {"teryt_properties", RZ_CONF_LIST,
     offsetof(rz_gis_conf_t, teryt_properties), "JPT_KOD_JE,TERYT,TERC", NULL,
     0, 0, "NAME", "GeoJSON properties holding a TERYT TERC code"},
    {"name_properties", RZ_CONF_LIST, offsetof(rz_gis_conf_t, name_properties),
     "JPT_NAZWA_,NAZWA,nazwa,name", NULL, 0, 0, "NAME",
     "GeoJSON properties holding the feature's name"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL}};

static int s_fail(char *err, size_t len, const char *fmt, const char *arg)
{
    if (err && len)
        snprintf(err, len, fmt, arg);
    return RZ_ECONFIG;
}

static char **s_list_dup(const rz_conf_list_t *l, size_t *n)
{
    char **v = calloc(l->n ? l->n : 1, sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (!(v[i] = strdup(l->items[i]))) {
            while (i--)
                free(v[i]);
            free(v);
            return NULL;
        }
    *n = l->n;
    return v;
}

int rz__gis_open(void **state, const void *conf_, char *err, size_t err_len)
{
    const rz_gis_conf_t *conf = conf_;
    *state = NULL;
    const char *tenant = conf->tenant ? conf->tenant : "";
    const char *kind = conf->kind ? conf->kind : "";
    const char *crs = conf->geojson_crs ? conf->geojson_crs : "";
    if (*tenant && !rz__gis_is_terc(tenant))
        return s_fail(err, err_len,
                      "gis.tenant: '%s' is not a TERYT TERC code (2, 4 or 7 "
                      "digits)",
                      tenant);
    /* the kind is a segment of the event type */
    if (!*kind ||
        strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(kind))
        return s_fail(err, err_len,
                      "gis.kind: '%s' must be lowercase letters, digits "
                      "and '-'",
                      kind);
    int lonlat;
    if (rz__gis_crs_code(crs, &lonlat) <= 0)
        return s_fail(err, err_len, "gis.geojson_crs: '%s' is not an EPSG CRS",
                      crs);
    for (const char *p = conf->subject ? conf->subject : ""; *p; p++)
        if ((unsigned char)*p < 0x20)
            return s_fail(err, err_len, "gis.subject: %s",
                          "control characters are not allowed");

    rz_gis_t *g = calloc(1, sizeof(*g));
    if (!g)
        return RZ_ENOMEM;
    g->tenant = strdup(tenant);
    g->kind = strdup(kind);
    g->subject = strdup(conf->subject ? conf->subject : "");
    g->name = strdup(conf->name ? conf->name : "");
    g->geojson_crs = strdup(crs);
    g->teryt_props = s_list_dup(&conf->teryt_properties, &g->n_teryt_props);
    g->name_props = s_list_dup(&conf->name_properties, &g->n_name_props);
    if (!g->tenant || !g->kind || !g->subject || !g->name || !g->geojson_crs ||
        !g->teryt_props || !g->name_props) {
        rz__gis_close(g);
        return RZ_ENOMEM;
    }
    *state = g;
    return 0;
}

void rz__gis_close(void *state)
{
    rz_gis_t *g = state;
    if (!g)
        return;
    free(g->tenant);
    free(g->kind);
    free(g->subject);
    free(g->name);
    free(g->geojson_crs);
    for (size_t i = 0; g->teryt_props && i < g->n_teryt_props; i++)
        free(g->teryt_props[i]);
    free(g->teryt_props);
    for (size_t i = 0; g->name_props && i < g->n_name_props; i++)
        free(g->name_props[i]);
    free(g->name_props);
    free(g);
}

/* Which reader: by Content-Type when the input came over HTTP, else by
 * the first character after a BOM and white space. */
static int s_parse(void *state, const rz_input_t *in, rz_out_t *out, char *err,
                   size_t err_len)
{
    rz_gis_t *g = state;
    const char *ct = in->content_type ? in->content_type : "";
    if (strstr(ct, "json"))
        return rz__gis_geojson_parse(g, in, out, err, err_len);
    if (strstr(ct, "xml") || strstr(ct, "gml"))
        return rz__gis_gml_parse(g, in, out, err, err_len);
    const uint8_t *p = in->data, *e = in->data + in->len;
    if (e - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        p += 3;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p < e && *p == '{')
        return rz__gis_geojson_parse(g, in, out, err, err_len);
    if (p < e && *p == '<')
        return rz__gis_gml_parse(g, in, out, err, err_len);
    if (err && err_len)
        snprintf(err, err_len, "%s: neither GeoJSON nor GML (%s)",
                 in->name ? in->name : "input",
                 p == e ? "empty" : "does not start with '{' or '<'");
    return RZ_EINVAL;
}

const rz_adapter_module_t rz_module_gis = {
    .name = "gis",
    .description = "spatial data: GeoJSON and EGiB GML 3.2 parcels; "
                   "sink: GeoJSON FeatureCollection",
    .options = rz__gis_options,
    .conf_size = sizeof(rz_gis_conf_t),
    .open = rz__gis_open,
    .close = rz__gis_close,
    .parse = s_parse,
    .sink_open = rz__gis_sink_open,
    .sink_event = rz__gis_sink_event,
    .sink_flush = rz__gis_sink_flush,
    .sink_close = rz__gis_sink_close,
};

/* ---------------------------------------------------------------------------
 * Pool and buffers
 */

struct rz_gis_block {
    struct rz_gis_block *next;
    max_align_t data[];
};

void *rz__gis_alloc(rz_gis_pool_t *p, size_t n)
{
    struct rz_gis_block *b = malloc(sizeof(*b) + n);
    if (!b)
        return NULL;
    b->next = p->head;
    p->head = b;
    return b->data;
}

char *rz__gis_strndup(rz_gis_pool_t *p, const char *s, size_t n)
{
    char *d = rz__gis_alloc(p, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *rz__gis_printf(rz_gis_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = rz__gis_alloc(p, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void rz__gis_pool_free(rz_gis_pool_t *p)
{
    while (p->head) {
        struct rz_gis_block *n = p->head->next;
        free(p->head);
        p->head = n;
    }
}

/* ---------------------------------------------------------------------------
 * Records
 */

void rz__gis_rec_init(rz_gis_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__GisFeature gf = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry geo = RATUSZ__V1__GEOMETRY__INIT;
    r->ev = ev;
    r->gf = gf;
    r->geo = geo;
}

void rz__gis_rec_free(rz_gis_rec_t *r)
{
    rz__gis_pool_free(&r->pool);
    free(r->props);
    r->props = NULL;
    r->n_props = r->cap_props = 0;
}

void rz__gis_rec_prop(rz_gis_rec_t *r, const char *key, const char *value)
{
    if (!value)
        return;
    char *v = rz__gis_strndup(&r->pool, value, strlen(value));
    if (!v) {
        r->oom = 1;
        return;
    }
    for (size_t i = 0; i < r->n_props; i++)
        if (strcmp(r->props[i]->key, key) == 0) {
            r->props[i]->value = v;
            return;
        }
    if (r->n_props == r->cap_props) {
        size_t cap = r->cap_props ? 2 * r->cap_props : 16;
        void *np = realloc(r->props, cap * sizeof(*r->props));
        if (!np) {
            r->oom = 1;
            return;
        }
        r->props = np;
        r->cap_props = cap;
    }
    Ratusz__V1__GisFeature__PropertiesEntry *pe =
        rz__gis_alloc(&r->pool, sizeof(*pe));
    char *k = rz__gis_strndup(&r->pool, key, strlen(key));
    if (!pe || !k) {
        r->oom = 1;
        return;
    }
    Ratusz__V1__GisFeature__PropertiesEntry init =
        RATUSZ__V1__GIS_FEATURE__PROPERTIES_ENTRY__INIT;
    *pe = init;
    pe->key = k;
    pe->value = v;
    r->props[r->n_props++] = pe;
}

const char *rz__gis_rec_prop_get(const rz_gis_rec_t *r, const char *key)
{
    for (size_t i = 0; i < r->n_props; i++)
        if (strcmp(r->props[i]->key, key) == 0)
            return r->props[i]->value;
    return NULL;
}

void rz__gis_rec_prop_append(rz_gis_rec_t *r, const char *key,
                             const char *value, const char *sep)
{
    const char *old = rz__gis_rec_prop_get(r, key);
    if (!old) {
        rz__gis_rec_prop(r, key, value);
        return;
    }
    char *v = rz__gis_printf(&r->pool, "%s%s%s", old, sep, value);
    if (!v) {
        r->oom = 1;
        return;
    }
    rz__gis_rec_prop(r, key, v);
}

int rz__gis_rec_emit(rz_gis_rec_t *r, rz_out_t *out, const rz_record_ref_t *ref)
{
    if (r->oom)
        return RZ_ENOMEM;
    r->geo.bbox = r->bbox;
    r->geo.n_bbox = 4;
    r->gf.geometry = &r->geo;
    r->gf.properties = r->props;
    r->gf.n_properties = r->n_props;
    r->ev.id = r->id;
    r->ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    r->ev.gis = &r->gf;
    return rz_out_event(out, ref, &r->ev);
}

/* ---------------------------------------------------------------------------
 * CRS
 */

int rz__gis_crs_code(const char *name, int *lonlat)
{
    return rz_geo_crs_code(name, lonlat);
}

int rz__gis_crs_axis(int epsg)
{
    /* The CRSs Polish data comes in. EPSG orders the axes of PL-1992
     * (2180), PL-2000 (2176-2179), PL-1965 (2172-2175, 3120) and of the
     * geographic CRSs (4326 WGS 84, 4258 ETRS89) northing (latitude)
     * first; web mercator and UTM easting first. */
    if ((epsg >= 2172 && epsg <= 2180) || epsg == 3120 || epsg == 4326 ||
        epsg == 4258)
        return 'y';
    if (epsg == 3857 || (epsg >= 32601 && epsg <= 32660) ||
        (epsg >= 25828 && epsg <= 25838))
        return 'x';
    return 0;
}

const char *rz__gis_check_pos(int epsg, int yx, double a, double b, char *buf,
                              size_t len)
{
    double n = yx ? a : b, east = yx ? b : a;
    if (!isfinite(a) || !isfinite(b))
        return "not a finite number";
    if (epsg == 4326 || epsg == 4258) {
        if (n < -90 || n > 90 || east < -180 || east > 180) {
            snprintf(buf, len,
                     "(%.17g, %.17g) is outside EPSG:%d (%s); is the CRS "
                     "declared?",
                     a, b, epsg,
                     yx ? "latitude -90..90, longitude -180..180"
                        : "longitude -180..180, latitude -90..90");
            return buf;
        }
    } else if (epsg >= 2176 && epsg <= 2179) {
        /* PL-2000 zone z (5..8) prefixes the easting with z; Poland's
         * northings are 5.4 to 6.1 million metres. A position that fails
         * this is most often written in the other axis order. */
        int zone = epsg - 2176 + 5;
        double e0 = zone * 1e6;
        if (n < 5.3e6 || n > 6.2e6 || east < e0 || east >= e0 + 1e6) {
            snprintf(buf, len,
                     "(%.17g, %.17g) is outside EPSG:%d (northing "
                     "5300000..6200000, easting %.0f..%.0f, %s first); axes "
                     "swapped?",
                     a, b, epsg, e0, e0 + 999999.99,
                     yx ? "northing" : "easting");
            return buf;
        }
    }
    return NULL;
}

int rz__gis_is_terc(const char *s)
{
    size_t n = strlen(s);
    return (n == 2 || n == 4 || n == 7) && strspn(s, "0123456789") == n;
}

int rz__gis_unit_terc(const char *code, char terc[8])
{
    size_t n = strlen(code);
    if (rz__gis_is_terc(code)) {
        memcpy(terc, code, n + 1);
        return RZ_GIS_UNIT_TERC;
    }
    /* WWPPGG_R, then .OOOO for the obręb; RODZ is 1 to 9 */
    if (n < 8 || strspn(code, "0123456789") != 6 || code[6] != '_' ||
        code[7] < '1' || code[7] > '9')
        return -1;
    int form;
    if (n == 8)
        form = RZ_GIS_UNIT_JEWID;
    else if (n == 13 && code[8] == '.' &&
             strspn(code + 9, "0123456789") == 4)
        form = RZ_GIS_UNIT_OBREB;
    else
        return -1;
    memcpy(terc, code, 6);
    terc[6] = code[7];
    terc[7] = '\0';
    return form;
}

const char *rz__gis_unit_kind(int form)
{
    return form == RZ_GIS_UNIT_OBREB   ? "precinct"
           : form == RZ_GIS_UNIT_JEWID ? "cadastral-unit"
                                       : "terc";
}

/* ---------------------------------------------------------------------------
 * Numbers and names
 */

int rz__gis_number(const char *s, size_t n, double *v)
{
    return rz_geo_number(s, n, v);
}

int rz__gis_json_number(const char *s, size_t n)
{
    return rz_geo_json_number(s, n);
}

size_t rz__gis_slug(const char *name, char *buf, size_t len)
{
    /* Polish letters in UTF-8 and their ASCII letters */
    static const struct {
        const char *utf8;
        char ascii;
    } fold[] = {{"ą", 'a'}, {"ć", 'c'}, {"ę", 'e'}, {"ł", 'l'}, {"ń", 'n'},
                {"ó", 'o'}, {"ś", 's'}, {"ź", 'z'}, {"ż", 'z'}, {"Ą", 'a'},
                {"Ć", 'c'}, {"Ę", 'e'}, {"Ł", 'l'}, {"Ń", 'n'}, {"Ó", 'o'},
                {"Ś", 's'}, {"Ź", 'z'}, {"Ż", 'z'}};
    if (!len)
        return 0;
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : (name ? name : "");
    const char *dot = strchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < len;) {
        unsigned char c = (unsigned char)base[i];
        char a = 0;
        size_t adv = 1;
        if (c < 0x80) {
            a = isalnum(c)               ? (char)tolower(c)
                : (c == '_' || c == '-') ? (char)c
                                         : '-';
        } else {
            for (size_t f = 0; f < sizeof(fold) / sizeof(fold[0]); f++) {
                size_t fl = strlen(fold[f].utf8);
                if (i + fl <= n && memcmp(base + i, fold[f].utf8, fl) == 0) {
                    a = fold[f].ascii;
                    adv = fl;
                    break;
                }
            }
            if (!a) {
                /* another non-ASCII character: skip its bytes */
                adv = 1;
                while (i + adv < n &&
                       ((unsigned char)base[i + adv] & 0xC0) == 0x80)
                    adv++;
                a = '-';
            }
        }
        i += adv;
        if (a == '-' && (o == 0 || buf[o - 1] == '-'))
            continue;
        buf[o++] = a;
    }
    while (o > 0 && buf[o - 1] == '-')
        o--;
    buf[o] = '\0';
    return o;
}
