/* sink.c - GisFeature events to GeoJSON FeatureCollection files that GIS
 * tools (QGIS, GDAL's ogrinfo) open as they are.
 *
 * The target is one file, say /srv/gis/gmina.geojson, for EPSG:4326 data
 * (RFC 7946: no crs member). A GeoJSON file has one CRS, and nothing is
 * reprojected here (that needs PROJ and would change the coordinates the
 * source wrote), so features in another CRS go to a file beside it, named
 * after the CRS, with the 2008 spec's crs member that GDAL reads:
 *
 *     gmina.geojson              EPSG:4326
 *     gmina.epsg2177.geojson     EPSG:2177 (PL-2000 zone 6)
 *
 * Coordinates keep the digits they came with. GeoJSON is x, y (easting,
 * northing; longitude, latitude) whatever the CRS, so a geometry written
 * northing first (GML in PL-2000, axis_order "yx") has its first two
 * ordinates swapped on the way out; nothing else changes.
 *
 * One feature per subject: the bus holds the history, the file the latest
 * state. An event replaces the feature of its subject unless it is older
 * (by event time); an event without a subject is keyed by source and id.
 * So a replayed event changes nothing, and the sink can restart from any
 * committed position. Each flush rewrites the dirty files atomically
 * (write a temp file, fsync, rename), so a reader always sees a complete
 * FeatureCollection. On open, the files already there are read back.
 *
 * Each feature's properties are the GisFeature's properties, then
 * "ratusz_*" members for the envelope and the GisFeature fields (id,
 * source, type, subject, tenant, time, seq, feature_id, kind, name, area,
 * area_unit, axis_order of the source) so that a round trip loses nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gis.h"
#include "ratusz/geometry.h"

/* ---------------------------------------------------------------------------
 * WKT to GeoJSON: ratusz/geometry.h, shared with `ratusz export`
 */

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

int rz__gis_wkt_to_geojson(const char *wkt, int swap, rzc_buf_t *b, char *err,
                           size_t err_len)
{
    char *text;
    if (rz_geo_wkt_to_geojson(wkt, swap, &text, err, err_len))
        return -1;
    rzc_buf_puts(b, text);
    free(text);
    if (b->oom) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * The sink's state
 */

typedef struct s_file s_file_t;

typedef struct s_feat {
    char *key; /* "s\x1fSUBJECT" or "i\x1fSOURCE\x1fID" */
    int64_t time;
    char *text; /* the Feature, compact JSON */
    s_file_t *file;
    size_t slot;
} s_feat_t;

struct s_file {
    char *path;
    int epsg;
    s_feat_t **slots; /* NULL: moved to another file */
    size_t n, cap;
    int dirty;
};

typedef struct s_sink {
    char *target;
    char *stem; /* target without .geojson / .json */
    s_file_t **files;
    size_t n_files;
    s_feat_t **map; /* open addressing by key */
    size_t map_cap, map_n;
    uint64_t written, replaced, older, skipped;
} s_sink_t;

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static s_feat_t **s_map_slot(s_sink_t *k, const char *key)
{
    size_t mask = k->map_cap - 1;
    for (size_t i = s_hash(key) & mask;; i = (i + 1) & mask)
        if (!k->map[i] || strcmp(k->map[i]->key, key) == 0)
            return &k->map[i];
}

static int s_map_put(s_sink_t *k, s_feat_t *f)
{
    if ((k->map_n + 1) * 2 > k->map_cap) {
        size_t cap = k->map_cap ? 2 * k->map_cap : 1024;
        s_feat_t **old = k->map;
        size_t oc = k->map_cap;
        k->map = calloc(cap, sizeof(*k->map));
        if (!k->map) {
            k->map = old;
            return RZ_ENOMEM;
        }
        k->map_cap = cap;
        for (size_t i = 0; i < oc; i++)
            if (old[i])
                *s_map_slot(k, old[i]->key) = old[i];
        free(old);
    }
    s_feat_t **s = s_map_slot(k, f->key);
    if (!*s)
        k->map_n++;
    *s = f;
    return 0;
}

static s_file_t *s_file(s_sink_t *k, int epsg)
{
    for (size_t i = 0; i < k->n_files; i++)
        if (k->files[i]->epsg == epsg)
            return k->files[i];
    s_file_t *f = calloc(1, sizeof(*f));
    void *n = realloc(k->files, (k->n_files + 1) * sizeof(*k->files));
    if (!f || !n) {
        free(f);
        if (n)
            k->files = n;
        return NULL;
    }
    k->files = n;
    f->epsg = epsg;
    if (epsg == 4326) {
        f->path = strdup(k->target);
    } else {
        size_t len = strlen(k->stem) + 32;
        f->path = malloc(len);
        if (f->path)
            snprintf(f->path, len, "%s.epsg%d.geojson", k->stem, epsg);
    }
    if (!f->path) {
        free(f);
        return NULL;
    }
    k->files[k->n_files++] = f;
    return f;
}

static int s_file_add(s_file_t *f, s_feat_t *ft)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        void *n = realloc(f->slots, cap * sizeof(*f->slots));
        if (!n)
            return RZ_ENOMEM;
        f->slots = n;
        f->cap = cap;
    }
    ft->file = f;
    ft->slot = f->n;
    f->slots[f->n++] = ft;
    f->dirty = 1;
    return 0;
}

static char *s_key(const char *subject, const char *source, const char *id)
{
    size_t n = strlen(subject) + strlen(source) + strlen(id) + 8;
    char *k = malloc(n);
    if (!k)
        return NULL;
    if (*subject)
        snprintf(k, n, "s\x1f%s", subject);
    else
        snprintf(k, n, "i\x1f%s\x1f%s", source, id);
    return k;
}

/* Put a feature (taking key and text) in file f, replacing the feature of
 * its key unless that one is newer. */
static int s_put(s_sink_t *k, s_file_t *f, char *key, int64_t time, char *text)
{
    s_feat_t **slot = k->map_cap ? s_map_slot(k, key) : NULL;
    s_feat_t *old = slot ? *slot : NULL;
    if (old && old->time > time) {
        k->older++;
        free(key);
        free(text);
        return 0;
    }
    if (old) {
        free(key);
        free(old->text);
        old->text = text;
        old->time = time;
        if (old->file == f) {
            f->dirty = 1;
        } else {
            old->file->slots[old->slot] = NULL;
            old->file->dirty = 1;
            if (s_file_add(f, old))
                return RZ_ENOMEM;
        }
        k->replaced++;
        return 0;
    }
    s_feat_t *ft = calloc(1, sizeof(*ft));
    if (!ft) {
        free(key);
        free(text);
        return RZ_ENOMEM;
    }
    ft->key = key;
    ft->time = time;
    ft->text = text;
    if (s_file_add(f, ft) || s_map_put(k, ft)) {
        if (ft->file)
            ft->file->slots[ft->slot] = NULL;
        free(ft->key);
        free(ft->text);
        free(ft);
        return RZ_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Reading back what an earlier run wrote
 */

typedef struct s_load {
    s_sink_t *k;
    s_file_t *f;
    int rc;
} s_load_t;

static int s_load_feature(rz_gis_span_t el, size_t i, void *user)
{
    s_load_t *l = user;
    json_t *j =
        json_loadb(el.p, (size_t)(el.e - el.p), JSON_DECODE_INT_AS_REAL, NULL);
    json_t *props = json_object_get(j, "properties");
    const char *subject =
        json_string_value(json_object_get(props, "ratusz_subject"));
    const char *source =
        json_string_value(json_object_get(props, "ratusz_source"));
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *tstr = json_string_value(json_object_get(props, "ratusz_time"));
    int64_t us = 0;
    if (!subject && !(source && id)) {
        /* a feature this sink did not write: kept as it is */
        char key[64];
        snprintf(key, sizeof(key), "f\x1f%p:%zu", (void *)l->f, i);
        subject = "", source = key, id = "";
    }
    if (tstr)
        rzc_time_parse(tstr, &us);
    rzc_buf_t b = {0};
    rz__gis_json_compact(&b, el.p, el.e);
    char *key =
        s_key(subject ? subject : "", source ? source : "", id ? id : "");
    json_decref(j);
    if (!key || b.oom || !b.s) {
        free(key);
        rzc_buf_free(&b);
        l->rc = RZ_ENOMEM;
        return -1;
    }
    if ((l->rc = s_put(l->k, l->f, key, us, b.s)) != 0)
        return -1;
    return 0;
}

static int s_load(s_sink_t *k, const char *path, int epsg, char *err,
                  size_t err_len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return errno == ENOENT ? 0 : -errno;
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc = 0;
    if (fstat(fileno(fp), &st) == 0 && st.st_size > 0) {
        data = malloc((size_t)st.st_size);
        if (!data)
            rc = RZ_ENOMEM;
        else
            len = fread(data, 1, (size_t)st.st_size, fp);
    }
    fclose(fp);
    if (rc)
        return rc;
    s_file_t *f = s_file(k, epsg);
    rz_gis_span_t doc = {data, data + len}, feats;
    if (!f) {
        rc = RZ_ENOMEM;
    } else if (len == 0) {
        /* an empty file: written from scratch */
    } else if (rz__gis_json_member(doc, "features", &feats) != 0) {
        snprintf(err, err_len,
                 "%s exists and is not a GeoJSON FeatureCollection; not "
                 "overwriting it",
                 path);
        rc = RZ_ECONFIG;
    } else {
        s_load_t l = {k, f, 0};
        if (rz__gis_json_each(feats, s_load_feature, &l) != 0) {
            if (l.rc)
                rc = l.rc;
            else {
                snprintf(err, err_len,
                         "%s: features are not valid JSON; "
                         "not overwriting it",
                         path);
                rc = RZ_ECONFIG;
            }
        }
        f->dirty = 0;
    }
    free(data);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The sink
 */

static void s_sink_free(s_sink_t *k)
{
    for (size_t i = 0; i < k->n_files; i++) {
        s_file_t *f = k->files[i];
        for (size_t j = 0; j < f->n; j++)
            if (f->slots[j]) {
                free(f->slots[j]->key);
                free(f->slots[j]->text);
                free(f->slots[j]);
            }
        free(f->slots);
        free(f->path);
        free(f);
    }
    free(k->files);
    free(k->map);
    free(k->target);
    free(k->stem);
    free(k);
}

int rz__gis_sink_open(void **sink, void *state, const char *target, char *err,
                      size_t err_len)
{
    (void)state;
    *sink = NULL;
    if (!target || !*target) {
        snprintf(err, err_len,
                 "gis sink: the target is a file path "
                 "(.geojson)");
        return RZ_ECONFIG;
    }
    s_sink_t *k = calloc(1, sizeof(*k));
    if (!k || !(k->target = strdup(target)) || !(k->stem = strdup(target))) {
        if (k)
            s_sink_free(k);
        return RZ_ENOMEM;
    }
    size_t n = strlen(k->stem);
    if (n > 8 && strcmp(k->stem + n - 8, ".geojson") == 0)
        k->stem[n - 8] = '\0';
    else if (n > 5 && strcmp(k->stem + n - 5, ".json") == 0)
        k->stem[n - 5] = '\0';

    int rc = s_load(k, k->target, 4326, err, err_len);
    /* and the files of other CRSs: STEM.epsgN.geojson */
    char *dir = strdup(k->stem);
    if (!dir)
        rc = rc ? rc : RZ_ENOMEM;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    const char *base = slash ? slash + 1 : k->stem;
    if (slash)
        *slash = '\0';
    DIR *d = rc == 0 && dir ? opendir(slash ? (*dir ? dir : "/") : ".") : NULL;
    if (rc == 0 && dir && !d) {
        snprintf(err, err_len, "gis sink: %s: %s", slash ? dir : ".",
                 strerror(errno));
        rc = RZ_ECONFIG;
    }
    struct dirent *de;
    size_t bl = strlen(base);
    while (d && rc == 0 && (de = readdir(d))) {
        /* exactly BASE.epsgDIGITS.geojson */
        const char *s = de->d_name;
        if (strncmp(s, base, bl) != 0 || strncmp(s + bl, ".epsg", 5) != 0)
            continue;
        s += bl + 5;
        size_t nd = strspn(s, "0123456789");
        if (nd == 0 || nd > 6 || strcmp(s + nd, ".geojson") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s%s%s", slash ? dir : "",
                 slash ? "/" : "", de->d_name);
        rc = s_load(k, path, atoi(s), err, err_len);
    }
    if (d)
        closedir(d);
    free(dir);
    if (rc < 0 && rc != RZ_ECONFIG && rc != RZ_ENOMEM && !*err)
        snprintf(err, err_len, "gis sink: %s: %s", target, strerror(-rc));
    if (rc) {
        s_sink_free(k);
        return rc;
    }
    *sink = k;
    return 0;
}

int rz__gis_sink_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                       size_t err_len)
{
    s_sink_t *k = sink;
    if (ev->data_case != RATUSZ__V1__EVENT__DATA_GIS || !ev->gis) {
        k->skipped++; /* not spatial: nothing for a GIS file */
        return 0;
    }
    const Ratusz__V1__GisFeature *gf = ev->gis;
    const Ratusz__V1__Geometry *geo = gf->geometry;
    const char *crs = geo && geo->crs ? geo->crs : "";
    int lonlat = 0;
    int epsg = rz__gis_crs_code(crs, &lonlat);
    int yx =
        !lonlat && geo && geo->axis_order && strcmp(geo->axis_order, "yx") == 0;
    char why[200] = "";

    rzc_buf_t g = {0};
    char *text = NULL;
    int geo_epsg;
    int grc = rz_geo_to_geojson(geo, &text, &geo_epsg, why, sizeof(why));
    if (grc == RZ_ENOMEM)
        g.oom = 1;
    else if (grc == 0)
        rz__gis_json_compact(&g, text, text + strlen(text));
    free(text);
    if (g.oom) {
        rzc_buf_free(&g);
        return RZ_ENOMEM;
    }

    /* properties, then the envelope: no event field is lost on the way */
    json_t *p = json_object();
    for (size_t i = 0; p && i < gf->n_properties; i++)
        json_object_set_new(p, gf->properties[i]->key,
                            json_string(gf->properties[i]->value));
    char t[48];
    rzc_rfc3339_format(ev->time, t, sizeof(t));
    json_object_set_new(p, "ratusz_id", json_string(ev->id));
    json_object_set_new(p, "ratusz_source", json_string(ev->source));
    json_object_set_new(p, "ratusz_type", json_string(ev->type));
    json_object_set_new(p, "ratusz_subject", json_string(ev->subject));
    json_object_set_new(p, "ratusz_tenant", json_string(ev->tenant));
    json_object_set_new(p, "ratusz_time", json_string(t));
    if (ev->seq)
        json_object_set_new(p, "ratusz_seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(p, "ratusz_feature_id", json_string(gf->feature_id));
    json_object_set_new(p, "ratusz_kind", json_string(gf->kind));
    json_object_set_new(p, "ratusz_name", json_string(gf->name));
    if (gf->area_unit && *gf->area_unit) {
        json_object_set_new(p, "ratusz_area", json_real(gf->area));
        json_object_set_new(p, "ratusz_area_unit", json_string(gf->area_unit));
    }
    json_object_set_new(p, "ratusz_crs", json_string(crs));
    if (geo && geo->axis_order && *geo->axis_order)
        json_object_set_new(p, "ratusz_axis_order",
                            json_string(geo->axis_order));
    if (*why)
        json_object_set_new(p, "ratusz_error", json_string(why));
    char *props = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                        JSON_REAL_PRECISION(15))
                    : NULL;
    json_decref(p);
    json_t *jid = json_string(ev->id ? ev->id : "");
    char *id = jid ? json_dumps(jid, JSON_ENCODE_ANY) : NULL;
    json_decref(jid);
    rzc_buf_t f = {0};
    if (props && id) {
        rzc_buf_printf(&f, "{\"type\":\"Feature\",\"id\":%s,", id);
        if (!*why && geo && geo->n_bbox == 4) {
            rzc_buf_puts(&f, "\"bbox\":[");
            for (int i = 0; i < 4; i++) {
                if (i)
                    rzc_buf_puts(&f, ",");
                s_put_double(&f, geo->bbox[yx ? i ^ 1 : i]);
            }
            rzc_buf_puts(&f, "],");
        }
        rzc_buf_puts(&f, "\"geometry\":");
        if (*why)
            rzc_buf_puts(&f, "null");
        else
            rzc_buf_put(&f, g.s, g.len);
        rzc_buf_printf(&f, ",\"properties\":%s}", props);
    }
    free(props);
    free(id);
    rzc_buf_free(&g);
    char *key = s_key(ev->subject ? ev->subject : "",
                      ev->source ? ev->source : "", ev->id ? ev->id : "");
    s_file_t *file = s_file(k, *why ? 4326 : (epsg == 4326 ? 4326 : epsg));
    if (f.oom || !f.s || !key || !file) {
        rzc_buf_free(&f);
        free(key);
        snprintf(err, err_len, "gis sink: out of memory");
        return RZ_ENOMEM;
    }
    int rc = s_put(k, file, key, ev->time, f.s);
    if (rc == 0)
        k->written++;
    return rc;
}

static int s_write(s_sink_t *k, s_file_t *f, char *err, size_t err_len)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        goto fail;
    const char *slash = strrchr(k->stem, '/');
    json_t *name = json_string(slash ? slash + 1 : k->stem);
    char *ntext = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
    json_decref(name);
    fprintf(fp, "{\"type\":\"FeatureCollection\",\"name\":%s,\n",
            ntext ? ntext : "\"ratusz\"");
    free(ntext);
    if (f->epsg != 4326)
        fprintf(fp,
                "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
                "\"urn:ogc:def:crs:EPSG::%d\"}},\n",
                f->epsg);
    fputs("\"features\":[", fp);
    int first = 1;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->slots[i])
            continue;
        fputs(first ? "\n" : ",\n", fp);
        fputs(f->slots[i]->text, fp);
        first = 0;
    }
    fputs("\n]}\n", fp);
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        int e = errno;
        fclose(fp);
        unlink(tmp);
        errno = e;
        goto fail;
    }
    if (fclose(fp) != 0 || rename(tmp, f->path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto fail;
    }
    /* the rename itself must survive a crash */
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", f->path);
    char *s = strrchr(dir, '/');
    if (s)
        *(s == dir ? s + 1 : s) = '\0';
    int dfd = open(s ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    f->dirty = 0;
    return 0;
fail:
    snprintf(err, err_len, "gis sink: %s: %s", f->path, strerror(errno));
    return errno ? -errno : RZ_EIO;
}

int rz__gis_sink_flush(void *sink, char *err, size_t err_len)
{
    s_sink_t *k = sink;
    for (size_t i = 0; i < k->n_files; i++)
        if (k->files[i]->dirty) {
            int rc = s_write(k, k->files[i], err, err_len);
            if (rc)
                return rc;
        }
    return 0;
}

void rz__gis_sink_close(void *sink)
{
    if (!sink)
        return;
    char err[256];
    /* what was not flushed is not committed either: the consumer group
     * sends it again, so a failure here loses nothing */
    rz__gis_sink_flush(sink, err, sizeof(err));
    s_sink_free(sink);
}
