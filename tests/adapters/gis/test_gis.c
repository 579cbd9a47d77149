/* test_gis.c - the gis module on the real GIS files (tests/fixtures/gis/)
 * and on variants made from them here (BOM, CRLF, Windows-1250, cut off
 * mid-record, a corrupted record in the middle), and its GeoJSON sink
 * checked with GDAL's ogrinfo and read back by the module itself.
 */
#include <errno.h>
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gis.h"
#include "harness.h"

#define FIX RZ_SOURCE_DIR "/tests/fixtures/gis/"
#define WOJ FIX "wojewodztwa_JPT_KOD_JE.geojson.json"
#define ZOL FIX "warszawa_dzielnica_zoliborz.geojson"
#define EGIB FIX "egib_dzialka_221101_1.0001.161_8.gml"
#define PRG_JSON FIX "prg_jednostki_2264_epsg2180.geojson"
#define PRG_GML FIX "prg_obreby_226401_1_ogr.gml"
#define OGRINFO "/usr/bin/ogrinfo"
#define TERYT RZ_SOURCE_DIR "/tests/fixtures/teryt/TERC_2020-01-01.csv"

static const char *const s_content_id =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* ---------------------------------------------------------------------------
 * A collector: what the module reports, kept in order
 */

typedef struct rec {
    Ratusz__V1__Event *ev; /* NULL: quarantined */
    int check;             /* rz_event_check of the event */
    char key[64];
    char why[600];
    uint64_t line;
    char *bytes;
    size_t len;
} rec_t;

typedef struct coll {
    rz_out_t out;
    rec_t r[64];
    size_t n, events, quarantined;
} coll_t;

static void s_keep(coll_t *c, const rz_record_ref_t *ref, rec_t **out)
{
    assert_true(c->n < 64);
    rec_t *r = &c->r[c->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", ref->key);
    r->line = ref->line;
    assert_non_null(ref->bytes);
    r->bytes = malloc(ref->len + 1);
    memcpy(r->bytes, ref->bytes, ref->len);
    r->bytes[ref->len] = '\0';
    r->len = ref->len;
    *out = r;
}

static int s_on_event(rz_out_t *o, const rz_record_ref_t *ref,
                      const Ratusz__V1__Event *ev)
{
    coll_t *c = o->user;
    rec_t *r;
    s_keep(c, ref, &r);
    /* a deep copy: the module reuses its buffers */
    size_t n = protobuf_c_message_get_packed_size(&ev->base);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(&ev->base, buf);
    r->ev = ratusz__v1__event__unpack(NULL, n, buf);
    free(buf);
    assert_non_null(r->ev);
    /* no Polish letter read in the wrong encoding, in any event */
    if (rzt_event_mojibake(ev))
        fail_msg("mojibake in event %s", ev->id);
    /* what the runtime adds: the source; then the bus must accept it */
    Ratusz__V1__Event e = *r->ev;
    e.source = "/test/gis";
    if (!e.time)
        e.time = 1;
    char why[200];
    r->check = rz_event_check(&e, why, sizeof(why));
    if (r->check)
        print_message("rz_event_check: %s\n", why);
    c->events++;
    return 0;
}

static int s_on_quarantine(rz_out_t *o, const rz_record_ref_t *ref,
                           const char *why)
{
    coll_t *c = o->user;
    rec_t *r;
    s_keep(c, ref, &r);
    snprintf(r->why, sizeof(r->why), "%s", why);
    c->quarantined++;
    return 0;
}

static coll_t *s_coll(void)
{
    coll_t *c = calloc(1, sizeof(*c));
    c->out.event = s_on_event;
    c->out.quarantine = s_on_quarantine;
    c->out.user = c;
    return c;
}

static void s_coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->r[i].ev)
            ratusz__v1__event__free_unpacked(c->r[i].ev, NULL);
        free(c->r[i].bytes);
    }
    free(c);
}

static const rec_t *s_by_key(const coll_t *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].key, key) == 0)
            return &c->r[i];
    return NULL;
}

static const Ratusz__V1__Event *s_by_subject(const coll_t *c,
                                             const char *subject)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].ev && strcmp(c->r[i].ev->subject, subject) == 0)
            return c->r[i].ev;
    return NULL;
}

static const char *s_prop(const Ratusz__V1__GisFeature *gf, const char *key)
{
    for (size_t i = 0; i < gf->n_properties; i++)
        if (strcmp(gf->properties[i]->key, key) == 0)
            return gf->properties[i]->value;
    return NULL;
}

/* ---------------------------------------------------------------------------
 * The module, as the runtime drives it
 */

/* Open the module with options given as name, value pairs (NULL-ended). */
static void *s_open(const char *opt, ...)
{
    rz_gis_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    assert_int_equal(rz_conf_init(rz_module_gis.options, &conf), 0);
    va_list ap;
    va_start(ap, opt);
    char err[256];
    for (const char *k = opt; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        assert_int_equal(
            rz_conf_set(rz_module_gis.options, &conf, k, v, err, sizeof(err)),
            0);
    }
    va_end(ap);
    void *state = NULL;
    int rc = rz_module_gis.open(&state, &conf, err, sizeof(err));
    if (rc)
        print_message("open: %s\n", err);
    assert_int_equal(rc, 0);
    rz_conf_close(rz_module_gis.options, &conf);
    return state;
}

static int s_parse_as(void *state, const char *name, const char *data,
                      size_t len, coll_t *c, char *err, size_t err_len)
{
    rz_input_t in = {.origin = name,
                     .name = name,
                     .data = (const uint8_t *)data,
                     .len = len,
                     .content_id = s_content_id};
    err[0] = '\0';
    return rz_module_gis.parse(state, &in, &c->out, err, err_len);
}

/* Parse and expect the input as a whole to be read. */
static coll_t *s_parse(void *state, const char *name, const char *data,
                       size_t len)
{
    coll_t *c = s_coll();
    char err[512];
    int rc = s_parse_as(state, name, data, len, c, err, sizeof(err));
    if (rc)
        print_message("parse: %s\n", err);
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < c->n; i++) {
        if (c->r[i].ev)
            assert_int_equal(c->r[i].check, 0);
        else
            print_message("quarantined %s: %s\n", c->r[i].key, c->r[i].why);
    }
    return c;
}

/* Parse an input cut short at byte len: the complete records go out and
 * the input as a whole fails, naming the byte where it ends. */
static coll_t *s_parse_cut(void *state, const char *name, const char *data,
                           size_t len, const char *inside)
{
    coll_t *c = s_coll();
    char err[512], want[300];
    int rc = s_parse_as(state, name, data, len, c, err, sizeof(err));
    assert_int_equal(rc, RZ_EINVAL);
    snprintf(want, sizeof(want),
             "%s: input ends at byte %zu inside %s: the file is cut short",
             name, len, inside);
    assert_string_equal(err, want);
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].ev)
            assert_int_equal(c->r[i].check, 0);
    return c;
}

#define S_ROOT_OBJECT "the root object"
#define S_ROOT_GML "the root element 'gml:FeatureCollection'"

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* s with every from replaced by to (at most max times; 0: all). */
static char *s_replace(const char *s, const char *from, const char *to, int max)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl + 1) + 1), *o = out;
    int done = 0;
    for (const char *p = s;;) {
        const char *q = (max && done >= max) ? NULL : strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
        done++;
    }
    return out;
}

/* The n-th (0-based) occurrence of needle in s. */
static const char *s_nth(const char *s, const char *needle, int n)
{
    const char *p = s;
    for (int i = 0; p; i++, p += strlen(needle)) {
        p = strstr(p, needle);
        if (!p || i == n)
            return p;
    }
    return NULL;
}

static char *s_bom(const char *s, size_t len)
{
    char *b = malloc(len + 4);
    memcpy(b, "\xEF\xBB\xBF", 3);
    memcpy(b + 3, s, len + 1);
    return b;
}

/* ---------------------------------------------------------------------------
 * GeoJSON: the voivodeships (FeatureCollection, 16 features)
 */

static void s_check_woj(const coll_t *c, int bom)
{
    assert_int_equal(c->events, 16);
    assert_int_equal(c->quarantined, 0);

    /* features[2] is dolnośląskie, "02" with its leading zero */
    const Ratusz__V1__Event *e = s_by_subject(c, "terc:02");
    assert_non_null(e);
    assert_string_equal(e->tenant, "02");
    assert_string_equal(e->type, "pl.gov.gmina.gis.boundary.v1");
    assert_string_equal(e->id, "gis:0011223344556677:features[2]");
    assert_true(e->time == INT64_C(1753999200000000)); /* 2025-08-01 CEST */
    assert_int_equal(e->data_case, RATUSZ__V1__EVENT__DATA_GIS);
    const Ratusz__V1__GisFeature *gf = e->gis;
    assert_string_equal(gf->name, "dolnośląskie");
    assert_string_equal(gf->feature_id, "02");
    assert_string_equal(gf->kind, "boundary");
    assert_int_equal(gf->n_properties, 2);
    assert_string_equal(s_prop(gf, "JPT_KOD_JE"), "02");
    assert_string_equal(s_prop(gf, "JPT_NAZWA_"), "dolnośląskie");
    assert_string_equal(gf->geometry->crs, "EPSG:4326");
    assert_string_equal(gf->geometry->axis_order, "xy");
    assert_string_equal(gf->geometry->type, "Polygon");
    assert_int_equal(gf->geometry->n_bbox, 4);
    assert_true(gf->geometry->bbox[0] == 14.8174);
    assert_true(gf->geometry->bbox[1] == 50.0963);
    assert_true(gf->geometry->bbox[2] == 17.7953);
    assert_true(gf->geometry->bbox[3] == 51.8048);

    /* the first feature, where it is in the file, its digits as written */
    const rec_t *r = s_by_key(c, "features[0]");
    assert_non_null(r);
    assert_int_equal(r->line, 11);
    assert_int_equal(r->bytes[0], '{');
    assert_int_equal(r->bytes[r->len - 1], '}');
    assert_string_equal(r->ev->subject, "terc:32");
    assert_string_equal(r->ev->gis->name, "zachodniopomorskie");
    const char *gj = r->ev->gis->geometry->geojson;
    assert_memory_equal(gj,
                        "{\"type\":\"Polygon\",\"coordinates\":[[[16.6985,"
                        "54.5701],[16.6898,54.5702],[16.6169,54.5609]",
                        75);
    (void)bom;

    /* the last one */
    r = s_by_key(c, "features[15]");
    assert_string_equal(r->ev->subject, "terc:06");
    gj = r->ev->gis->geometry->geojson;
    const char *tail = "[23.5439,50.253],[23.5479,50.2518]]]}";
    assert_string_equal(gj + strlen(gj) - strlen(tail), tail);
}

static void test_geojson_collection(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(WOJ, &len);
    assert_int_equal(len, 822724);
    void *g = s_open(NULL);
    coll_t *c = s_parse(g, "wojewodztwa_JPT_KOD_JE.geojson.json", data, len);
    s_check_woj(c, 0);
    s_coll_free(c);
    rz_module_gis.close(g);
    free(data);
}

static void test_geojson_bom_and_crlf(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(WOJ, &len);
    void *g = s_open(NULL);
    coll_t *plain = s_parse(g, "w.json", data, len);

    char *bom = s_bom(data, len);
    coll_t *c = s_parse(g, "w.json", bom, len + 3);
    s_check_woj(c, 1);
    /* the BOM belongs to no record */
    assert_int_equal(s_by_key(c, "features[0]")->bytes[0], '{');
    s_coll_free(c);

    char *crlf = s_replace(data, "\n", "\r\n", 0);
    c = s_parse(g, "w.json", crlf, strlen(crlf));
    s_check_woj(c, 0);
    /* the record keeps its CRLF; the geometry text is the same */
    assert_non_null(strstr(s_by_key(c, "features[3]")->bytes, "\r\n"));
    for (size_t i = 0; i < 16; i++)
        assert_string_equal(c->r[i].ev->gis->geometry->geojson,
                            plain->r[i].ev->gis->geometry->geojson);
    s_coll_free(c);
    s_coll_free(plain);
    free(bom);
    free(crlf);
    rz_module_gis.close(g);
    free(data);
}

static void test_geojson_truncated(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(WOJ, &len);
    void *g = s_open(NULL);
    /* cut 500 bytes into features[9] (małopolskie, line 10710) */
    const char *at = s_nth(data, "\"type\": \"Feature\"", 9);
    assert_non_null(at);
    coll_t *c = s_parse_cut(g, "w.json", data, (size_t)(at - data) + 500,
                            S_ROOT_OBJECT);
    assert_int_equal(c->n, 10);
    assert_int_equal(c->events, 9);
    assert_int_equal(c->quarantined, 1);
    const rec_t *r = s_by_key(c, "features[9]");
    assert_null(r->ev);
    assert_int_equal(r->line, 10710);
    assert_non_null(strstr(r->why, "truncated"));
    assert_non_null(s_by_subject(c, "terc:10")); /* features[8], łódzkie */
    assert_null(s_by_subject(c, "terc:12"));     /* features[9], małopolskie */
    s_coll_free(c);

    /* the bare geometry cut off: the one record is quarantined */
    char *z = s_read(ZOL, &len);
    void *gz = s_open("tenant", "1465011", NULL);
    c = s_parse_cut(gz, "żoliborz.geojson", z, 2000, S_ROOT_OBJECT);
    assert_int_equal(c->events, 0);
    assert_int_equal(c->quarantined, 1);
    assert_string_equal(c->r[0].key, "geometry");
    assert_int_equal(c->r[0].len, 2000);
    assert_non_null(strstr(c->r[0].why, "truncated"));
    s_coll_free(c);
    rz_module_gis.close(gz);
    free(z);

    /* cut where features[8] ends, before and after its ',': nine
     * features, all published, and the failure the only sign of the cut
     * (it used to pass as complete) */
    at = s_nth(data, "\"type\": \"Feature\"", 9);
    while (*at != '{')
        at--; /* features[9] starts here */
    const char *comma = at;
    while (*comma != ',')
        comma--;
    const size_t cuts[] = {(size_t)(comma - data), (size_t)(comma - data) + 1};
    for (size_t i = 0; i < 2; i++) {
        c = s_parse_cut(g, "w.json", data, cuts[i], S_ROOT_OBJECT);
        assert_int_equal(c->n, 9);
        assert_int_equal(c->events, 9);
        assert_int_equal(c->quarantined, 0);
        assert_non_null(s_by_subject(c, "terc:10"));
        s_coll_free(c);
    }
    rz_module_gis.close(g);
    free(data);
}

static void test_geojson_corrupted_features(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(WOJ, &len);
    void *g = s_open(NULL);

    /* features[3]: stray bytes, not JSON any more */
    const char *f3 = s_nth(data, "\"type\": \"Feature\",", 3);
    assert_non_null(f3);
    int off = (int)(f3 - data) + 18; /* after "type": "Feature", */
    char *a = malloc(len + 3);
    sprintf(a, "%.*s@@%s", off, data, data + off);
    /* features[8]: a longitude of 219.8778 degrees */
    char *at = (char *)s_nth(a, "\"coordinates\": [", 8);
    char *digit = at + strcspn(at, "0123456789");
    assert_memory_equal(digit, "19.8778, 52.2891", 16);
    char *b = malloc(strlen(a) + 2);
    memcpy(b, a, (size_t)(digit - a));
    b[digit - a] = '2';
    strcpy(b + (digit - a) + 1, digit);
    /* features[12]: a TERYT code that is not one */
    char *d =
        s_replace(b, "\"JPT_KOD_JE\": \"26\"", "\"JPT_KOD_JE\": \"2X\"", 1);

    coll_t *c = s_parse(g, "w.json", d, strlen(d));
    assert_int_equal(c->events, 13);
    assert_int_equal(c->quarantined, 3);
    const rec_t *r = s_by_key(c, "features[3]");
    assert_null(r->ev);
    assert_int_equal(r->line, 3572);
    assert_int_equal(r->bytes[0], '{');
    assert_non_null(strstr(r->bytes, "@@"));
    assert_non_null(strstr(r->why, "features[3]: not valid JSON at line 3573"));
    r = s_by_key(c, "features[8]");
    assert_null(r->ev);
    assert_non_null(strstr(r->why, "outside EPSG:4326"));
    assert_non_null(strstr(r->why, "(219.87780000000001, 52.289099999999998)"));
    r = s_by_key(c, "features[12]");
    assert_null(r->ev);
    assert_string_equal(r->why,
                        "features[12]: property JPT_KOD_JE: '2X' is not a "
                        "TERYT unit code (a TERC code of 2, 4 or 7 digits, "
                        "WWPPGG_R or WWPPGG_R.OOOO)");
    /* the features after the broken one are whole */
    assert_non_null(s_by_subject(c, "terc:22"));
    assert_string_equal(s_by_key(c, "features[4]")->ev->subject, "terc:22");
    assert_string_equal(s_by_key(c, "features[15]")->ev->subject, "terc:06");
    s_coll_free(c);
    free(a);
    free(b);
    free(d);
    rz_module_gis.close(g);
    free(data);
}

/* Does any text of an event hold what UTF-8 Polish letters become when
 * read as Windows-1250 ("GdaĹ„sk", "dolnoĹ›lÄ…skie", "ĹĂłdĹş")? */
static int s_mojibake(const char *s)
{
    return s && (strstr(s, "Ĺ") || strstr(s, "Ä") || strstr(s, "Ă"));
}

static void s_no_mojibake(const coll_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const Ratusz__V1__Event *e = c->r[i].ev;
        if (!e)
            continue;
        assert_false(s_mojibake(e->gis->name));
        for (size_t k = 0; k < e->gis->n_properties; k++)
            assert_false(s_mojibake(e->gis->properties[k]->value));
    }
}

static char *s_to_windows1250(const char *s, size_t len, size_t *out_len)
{
    iconv_t cd = iconv_open("WINDOWS-1250", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char *out = malloc(len + 1), *in = (char *)s, *o = out;
    size_t il = len, ol = len;
    assert_true(iconv(cd, &in, &il, &o, &ol) != (size_t)-1);
    iconv_close(cd);
    *out_len = (size_t)(o - out);
    return out;
}

static void test_geojson_windows1250(void **st)
{
    (void)st;
    size_t len, n;
    char *data = s_read(WOJ, &len);
    char *out = s_to_windows1250(data, len, &n);
    void *g = s_open(NULL);
    /* a layer written by QGIS from a shapefile without its .cpg: the
     * bytes say Windows-1250, every letter comes out right */
    coll_t *c = s_parse(g, "w.json", out, n);
    assert_int_equal(c->n, 16);
    s_check_woj(c, 0);
    assert_string_equal(s_by_subject(c, "terc:12")->gis->name, "małopolskie");
    assert_string_equal(s_prop(s_by_subject(c, "terc:28")->gis, "JPT_NAZWA_"),
                        "warmińsko-mazurskie");
    s_no_mojibake(c);
    /* the record is kept as received (a retry decodes it again) */
    assert_non_null(
        strstr(s_by_key(c, "features[2]")->bytes, "dolno\x9cl\xb9skie"));
    s_coll_free(c);

    /* a UTF-8 file with one field in Windows-1250 stays UTF-8: that field
     * is decoded on its own, every letter of the file is right */
    char *one = s_replace(data, "\"dolnośląskie\"", "\"dolno\x9cl\xb9skie\"", 1);
    c = s_parse(g, "w.json", one, strlen(one));
    assert_int_equal(c->n, 16);
    assert_int_equal(c->events, 16);
    assert_int_equal(c->quarantined, 0);
    const rec_t *r = s_by_key(c, "features[2]");
    assert_non_null(r->ev);
    assert_string_equal(r->ev->gis->name, "dolnośląskie");
    assert_non_null(strstr(r->bytes, "dolno\x9cl\xb9skie"));
    assert_string_equal(s_by_subject(c, "terc:12")->gis->name, "małopolskie");
    s_no_mojibake(c);
    s_coll_free(c);
    free(one);

    /* a byte that is neither: that feature alone, naming the offset */
    one = s_replace(data, "\"dolnośląskie\"", "\"dolno\x81l\xb9skie\"", 1);
    c = s_parse(g, "w.json", one, strlen(one));
    assert_int_equal(c->events, 15);
    assert_int_equal(c->quarantined, 1);
    r = s_by_key(c, "features[2]");
    assert_null(r->ev);
    char want[120];
    snprintf(want, sizeof(want),
             "byte 0x81 at offset %zu is neither UTF-8 nor Windows-1250",
             (size_t)(strstr(one, "\"dolno\x81") - one) + 6);
    assert_non_null(strstr(r->why, want));
    s_no_mojibake(c);
    s_coll_free(c);

    /* cut inside the 'ń' of "warmińsko-mazurskie": the features before
     * it go out in their own letters, the cut one is quarantined */
    const char *letter = strstr(data, "warmi\xc5\x84sko") + 5;
    size_t before = 0;
    for (const char *p = data; (p = strstr(p, "\"type\": \"Feature\"")) &&
                               p < letter;
         p++)
        before++;
    c = s_parse_cut(g, "w.json", data, (size_t)(letter - data) + 1,
                    S_ROOT_OBJECT);
    assert_int_equal(c->events, before - 1);
    assert_int_equal(c->quarantined, 1);
    s_no_mojibake(c);
    s_coll_free(c);
    rz_module_gis.close(g);
    free(one);
    free(out);
    free(data);
}

/* ---------------------------------------------------------------------------
 * GeoJSON: a bare geometry (Żoliborz), single features
 */

static void test_geojson_bare_geometry(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(ZOL, &len);
    assert_int_equal(len, 3394);

    /* as deploy/sample/make-sample.py maps it */
    void *g = s_open("tenant", "1465011", "subject", "district:zoliborz",
                     "name", "Żoliborz", NULL);
    coll_t *c = s_parse(g, "warszawa_dzielnica_zoliborz.geojson", data, len);
    assert_int_equal(c->events, 1);
    assert_int_equal(c->quarantined, 0);
    const Ratusz__V1__Event *e = c->r[0].ev;
    assert_string_equal(c->r[0].key, "geometry");
    assert_int_equal(c->r[0].line, 1);
    assert_int_equal(c->r[0].len, 3394);
    assert_string_equal(e->subject, "district:zoliborz");
    assert_string_equal(e->tenant, "1465011");
    assert_string_equal(e->type, "pl.gov.gmina.gis.boundary.v1");
    assert_true(e->time == 0); /* none in the file: the runtime's now */
    assert_string_equal(e->gis->name, "Żoliborz");
    assert_string_equal(e->gis->feature_id, "zoliborz");
    const Ratusz__V1__Geometry *geo = e->gis->geometry;
    assert_string_equal(geo->crs, "EPSG:4326");
    assert_string_equal(geo->type, "MultiPolygon");
    const char *head =
        "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[20.981027,"
        "52.259436],[20.981605,52.259601]";
    assert_memory_equal(geo->geojson, head, strlen(head));
    assert_null(strchr(geo->geojson, ' '));
    assert_true(geo->bbox[0] == 20.947228 && geo->bbox[1] == 52.254303 &&
                geo->bbox[2] == 21.009374 && geo->bbox[3] == 52.287339);
    assert_int_equal(e->gis->n_properties, 0);
    s_coll_free(c);
    rz_module_gis.close(g);

    /* its original, non-ASCII file name names it */
    g = s_open("tenant", "1465011", NULL);
    c = s_parse(g, "/srv/drop/gis/żoliborz.geojson", data, len);
    assert_int_equal(c->events, 1);
    assert_string_equal(c->r[0].ev->subject, "boundary:zoliborz");
    assert_string_equal(c->r[0].ev->gis->name, "żoliborz");
    s_coll_free(c);
    rz_module_gis.close(g);

    /* without a tenant it cannot be published */
    g = s_open(NULL);
    c = s_parse(g, "żoliborz.geojson", data, len);
    assert_int_equal(c->events, 0);
    assert_int_equal(c->quarantined, 1);
    assert_string_equal(c->r[0].why,
                        "geometry: no tenant: no TERYT code property "
                        "(JPT_KOD_JE, ...) and no gis.tenant option");
    s_coll_free(c);
    rz_module_gis.close(g);
    free(data);
}

/* One GeoJSON text, one record: event (1) or quarantine (0) with reason. */
static coll_t *s_one(void *g, const char *json, int event, const char *why)
{
    coll_t *c = s_parse(g, "one.geojson", json, strlen(json));
    assert_int_equal(c->n, 1);
    assert_int_equal(c->events, (size_t)event);
    if (why && !strstr(c->r[0].why, why)) {
        print_message("reason: %s\n", c->r[0].why);
        fail();
    }
    return c;
}

static void test_geojson_single_features(void **st)
{
    (void)st;
    void *g = s_open("tenant", "1465011", "kind", "poi", NULL);
    /* a Feature with an id, in PL-1992 by the 2008 spec's crs member */
    coll_t *c = s_one(g,
                      "{\"type\":\"Feature\",\"id\":\"ul-1\",\"crs\":{\"type\":"
                      "\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:"
                      "EPSG::2180\"}},\"geometry\":{\"type\":\"Point\","
                      "\"coordinates\":[637300.25, 486700.5]},\"properties\":"
                      "{\"nazwa\":\"Pałac Kultury\",\"wysokosc\":237.0,"
                      "\"pusty\":null,\"tagi\":[\"a\", \"b\"]}}",
                      1, NULL);
    const Ratusz__V1__Event *e = c->r[0].ev;
    assert_string_equal(c->r[0].key, "feature");
    assert_string_equal(e->type, "pl.gov.gmina.gis.poi.v1");
    assert_string_equal(e->subject, "poi:ul-1");
    assert_string_equal(e->tenant, "1465011");
    assert_string_equal(e->gis->feature_id, "ul-1");
    assert_string_equal(e->gis->name, "Pałac Kultury");
    assert_string_equal(e->gis->geometry->crs, "EPSG:2180");
    assert_string_equal(e->gis->geometry->geojson,
                        "{\"type\":\"Point\",\"coordinates\":[637300.25,"
                        "486700.5]}");
    /* numbers as written, null absent, arrays as JSON */
    assert_string_equal(s_prop(e->gis, "wysokosc"), "237.0");
    assert_null(s_prop(e->gis, "pusty"));
    assert_string_equal(s_prop(e->gis, "tagi"), "[\"a\",\"b\"]");
    s_coll_free(c);

    /* the quirks that make a feature unmappable */
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":null,"
                      "\"properties\":{}}",
                      0, "feature: no geometry (null)"));
    s_coll_free(
        s_one(g,
              "{\"type\":\"Feature\",\"crs\":{\"type\":\"name\","
              "\"properties\":{\"name\":\"urn:x:lokalny\"}},"
              "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]}}",
              0, "feature: unknown CRS"));
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
                      "\"coordinates\":[18.6,54.3]},\"properties\":{"
                      "\"TERYT\":2261011}}",
                      0, "property TERYT is 2261011, not a string"));
    /* PL-2000 coordinates with no CRS declared (the Gdańsk POI export) */
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
                      "\"coordinates\":[6542396.52,6029841.1]}}",
                      0, "is outside EPSG:4326"));
    /* declared PL-2000 zone 6, but written northing first */
    s_coll_free(s_one(g,
                      "{\"type\":\"Point\",\"crs\":{\"type\":\"name\","
                      "\"properties\":{\"name\":\"EPSG:2177\"}},"
                      "\"coordinates\":[6053302.31,6551749.01]}",
                      0, "axes swapped?"));
    s_coll_free(s_one(g,
                      "{\"type\":\"Polygon\",\"coordinates\":[[[18,54],[18.1,"
                      "54],[18.1,54.1],[18,54.2]]]}",
                      0, "ring 0: ring is not closed"));
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":{\"type\":"
                      "\"Point\",\"coordinates\":[18,\"54\"]}}",
                      0, "a coordinate is not a number"));
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":{\"type\":"
                      "\"Point\",\"coordinates\":[18,54]},\"id\":1,\"id\":2}",
                      0, "duplicate object key"));
    s_coll_free(s_one(g,
                      "{\"type\":\"Feature\",\"geometry\":{\"type\":"
                      "\"Point\",\"coordinates\":[18,54]},\"properties\":[1]}",
                      0, "feature: properties is not an object"));
    rz_module_gis.close(g);
}

/* Two point features, the second with an id of its own; name_member is
 * the collection's "name" member or NULL. */
static char *s_layer_json(const char *name_member)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"FeatureCollection\",%s%s%s\"features\":["
             "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
             "\"coordinates\":[21.0,52.2]},\"properties\":{}},"
             "{\"type\":\"Feature\",\"id\":\"wlasny-7\",\"geometry\":{"
             "\"type\":\"Point\",\"coordinates\":[21.1,52.3]},"
             "\"properties\":{}}]}",
             name_member ? "\"name\":\"" : "", name_member ? name_member : "",
             name_member ? "\"," : "");
    return strdup(buf);
}

static void test_geojson_layers_without_ids_do_not_collide(void **st)
{
    (void)st;
    void *g = s_open("tenant", "1465011", NULL);
    char *plain = s_layer_json(NULL);
    char *woj = s_layer_json("wojewodztwa");
    char *pow = s_layer_json("powiaty");

    /* two files, no name member: the file's base name */
    coll_t *a = s_parse(g, "/srv/drop/gis/parki.geojson", plain, strlen(plain));
    coll_t *b =
        s_parse(g, "/srv/drop/gis/skwery.geojson", plain, strlen(plain));
    assert_int_equal(a->events, 2);
    assert_int_equal(b->events, 2);
    const Ratusz__V1__Event *ea = s_by_key(a, "features[0]")->ev;
    const Ratusz__V1__Event *eb = s_by_key(b, "features[0]")->ev;
    assert_string_equal(ea->gis->feature_id, "parki/0");
    assert_string_equal(ea->subject, "boundary:parki/0");
    assert_string_equal(eb->gis->feature_id, "skwery/0");
    assert_string_equal(eb->subject, "boundary:skwery/0");
    /* a feature with its own id keeps it, whatever the layer */
    assert_string_equal(s_by_key(a, "features[1]")->ev->gis->feature_id,
                        "wlasny-7");
    assert_string_equal(s_by_key(a, "features[1]")->ev->subject,
                        "boundary:wlasny-7");
    assert_string_equal(s_by_key(b, "features[1]")->ev->subject,
                        "boundary:wlasny-7");
    s_coll_free(a);
    s_coll_free(b);

    /* two layers POSTed to the same endpoint (one input name): the
     * collections' name members tell them apart */
    a = s_parse(g, "gis", woj, strlen(woj));
    b = s_parse(g, "gis", pow, strlen(pow));
    ea = s_by_key(a, "features[0]")->ev;
    eb = s_by_key(b, "features[0]")->ev;
    assert_string_equal(ea->gis->feature_id, "wojewodztwa/0");
    assert_string_equal(ea->subject, "boundary:wojewodztwa/0");
    assert_string_equal(eb->gis->feature_id, "powiaty/0");
    assert_string_equal(eb->subject, "boundary:powiaty/0");
    assert_string_equal(s_by_key(b, "features[1]")->ev->gis->feature_id,
                        "wlasny-7");
    s_coll_free(a);
    s_coll_free(b);

    /* a name member wins over the file name; dots are part of it */
    char *dotted = s_layer_json("PRG.Województwa");
    a = s_parse(g, "export.geojson", dotted, strlen(dotted));
    assert_string_equal(s_by_key(a, "features[0]")->ev->gis->feature_id,
                        "prg-wojewodztwa/0");
    s_coll_free(a);

    free(dotted);
    free(plain);
    free(woj);
    free(pow);
    rz_module_gis.close(g);
}

static void test_whole_input_errors(void **st)
{
    (void)st;
    void *g = s_open(NULL);
    static const struct {
        const char *data, *err;
    } cases[] = {
        {"", "x: neither GeoJSON nor GML (empty)"},
        {"\xEF\xBB\xBF  \r\n", "x: neither GeoJSON nor GML (empty)"},
        {"[1,2]", "x: neither GeoJSON nor GML"},
        {"{\"type\":\"Topology\",\"objects\":{}}",
         "x: type 'Topology' is not a GeoJSON object type"},
        {"{\"features\":[]}", "x: no \"type\" member: not GeoJSON"},
        {"{\"type\":\"FeatureCollection\"}",
         "x: a FeatureCollection without a \"features\" array"},
        {"{\"type\":\"FeatureCollection\",\"meta\":{\"a\":",
         "x: the input ends or breaks before \"features\""},
        {"<html><body/></html>",
         "x: root element 'html' is not a GML FeatureCollection"},
        {"<gml:FeatureCollection xmlns:gml=\"http://www.opengis.net/gml/3.2\" "
         "a=\"1\" a=\"2\">",
         "x: not XML: Attribute a redefined"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        coll_t *c = s_coll();
        char err[512];
        int rc = s_parse_as(g, "x", cases[i].data, strlen(cases[i].data), c,
                            err, sizeof(err));
        if (rc != RZ_EINVAL ||
            strncmp(err, cases[i].err, strlen(cases[i].err)) != 0) {
            print_message("case %zu: rc %d, err '%s'\n", i, rc, err);
            fail();
        }
        assert_int_equal(c->n, 0);
        s_coll_free(c);
    }
    /* an empty collection is read: no records */
    coll_t *c = s_parse(g, "x",
                        "{\"type\":\"FeatureCollection\","
                        "\"features\":[]}",
                        43);
    assert_int_equal(c->n, 0);
    s_coll_free(c);
    rz_module_gis.close(g);
}

/* ---------------------------------------------------------------------------
 * EGiB GML: the parcel 221101_1.0001.161/8
 */

static void s_check_parcel(const coll_t *c)
{
    assert_int_equal(c->events, 1);
    assert_int_equal(c->quarantined, 0);
    const rec_t *r = &c->r[0];
    assert_string_equal(r->key, "featureMember[0]");
    assert_int_equal(r->line, 13);
    assert_memory_equal(r->bytes, "<gml:featureMember>", 19);
    assert_string_equal(r->bytes + r->len - 20, "</gml:featureMember>");
    const Ratusz__V1__Event *e = r->ev;
    assert_string_equal(e->subject, "parcel:221101_1.0001.161/8");
    assert_string_equal(e->type, "pl.gov.gmina.gis.parcel.v1");
    assert_string_equal(e->tenant, "2211011"); /* Hel, gmina miejska */
    assert_string_equal(e->id, "urn:pzgik:id:PL.PZGiK.1385.EGiB:3fcfb757-2b3e-"
                               "4a2b-b2d3-d578e683624c:2017-03-13T13:09:47");
    assert_true(e->time == INT64_C(1489406987000000)); /* 13:09:47 CET */
    const Ratusz__V1__GisFeature *gf = e->gis;
    assert_string_equal(gf->feature_id, "221101_1.0001.161/8");
    assert_string_equal(gf->kind, "parcel");
    assert_string_equal(gf->name, "161/8"); /* from its label */
    assert_true(gf->area == 0.0246);
    assert_string_equal(gf->area_unit, "ha");
    const Ratusz__V1__Geometry *geo = gf->geometry;
    assert_string_equal(geo->crs, "EPSG:2177");
    assert_string_equal(geo->axis_order, "yx"); /* northing first */
    assert_string_equal(geo->type, "Polygon");
    assert_string_equal(geo->geojson, "");
    assert_string_equal(
        geo->wkt, "POLYGON((6053302.31 6551749.01, 6053298.79 6551750.91, "
                  "6053302.19 6551757.87, 6053296.48 6551760.55, 6053298.36 "
                  "6551764.73, 6053297.24 6551765.32, 6053304.66 6551778.11, "
                  "6053314.29 6551772.28, 6053302.31 6551749.01))");
    assert_int_equal(geo->n_bbox, 4);
    assert_true(geo->bbox[0] == 6053296.48 && geo->bbox[1] == 6551749.01 &&
                geo->bbox[2] == 6053314.29 && geo->bbox[3] == 6551778.11);
    /* nil is absent; references are kept, not fetched */
    assert_null(s_prop(gf, "waznoscOd"));
    assert_null(s_prop(gf, "wartoscGruntu"));
    assert_string_equal(s_prop(gf, "idDzialki"), "221101_1.0001.161/8");
    assert_string_equal(s_prop(gf, "lokalnyId"),
                        "3fcfb757-2b3e-4a2b-b2d3-d578e683624c");
    assert_string_equal(s_prop(gf, "przestrzenNazw"), "PL.PZGiK.1385.EGiB");
    assert_string_equal(s_prop(gf, "startWersjaObiekt"), "2017-03-13T13:09:47");
    assert_string_equal(s_prop(gf, "powierzchniaEwidencyjna"), "0.0246");
    assert_string_equal(s_prop(gf, "srsName"), "urn:ogc:def:crs:EPSG::2177");
    assert_string_equal(s_prop(gf, "lokalizacjaDzialki2"),
                        "urn:pzgik:id:PL.PZGiK.1385.EGiB:f3f8a7cf-5a94-4c95-"
                        "b80d-3d51900a317f");
    const char *pts = s_prop(gf, "punktGranicyDzialki");
    int n = 1;
    for (const char *p = pts; *p; p++)
        n += *p == ' ';
    assert_int_equal(n, 8);
    assert_string_equal(s_prop(gf, "label"), "161/8");
    assert_string_equal(s_prop(gf, "label_pos"), "6053306.43 6551762");
    assert_string_equal(s_prop(gf, "label_angle"), "90.0000");
}

static void test_gml_parcel(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(EGIB, &len);
    assert_int_equal(len, 5299);
    void *g = s_open(NULL);
    coll_t *c = s_parse(g, "221101_1.0001.161_8.gml", data, len);
    s_check_parcel(c);
    s_coll_free(c);

    char *bom = s_bom(data, len);
    c = s_parse(g, "p.gml", bom, len + 3);
    s_check_parcel(c);
    s_coll_free(c);

    char *crlf = s_replace(data, "\n", "\r\n", 0);
    c = s_parse(g, "p.gml", crlf, strlen(crlf));
    s_check_parcel(c);
    s_coll_free(c);

    /* cut off in the middle of the parcel's posList */
    const char *at = strstr(data, "6053298.36");
    c = s_parse_cut(g, "p.gml", data, (size_t)(at - data), S_ROOT_GML);
    assert_int_equal(c->n, 1);
    assert_int_equal(c->events, 0);
    assert_int_equal(c->quarantined, 1);
    assert_string_equal(c->r[0].key, "featureMember[0]");
    assert_int_equal(c->r[0].line, 13);
    assert_non_null(strstr(c->r[0].why, "featureMember[0]: the input ends "
                                        "inside this member (truncated)"));
    s_coll_free(c);

    /* cut after the parcel's member ends (its label is lost with the
     * rest): the parcel goes out, the file fails as cut short */
    at = strstr(data, "</gml:featureMember>") + strlen("</gml:featureMember>");
    for (size_t i = 0; i < 2; i++) {
        size_t n = (size_t)(at - data) + i; /* before and after the '\n' */
        c = s_parse_cut(g, "p.gml", data, n, S_ROOT_GML);
        assert_int_equal(c->n, 1);
        assert_int_equal(c->events, 1);
        assert_int_equal(c->quarantined, 0);
        assert_non_null(s_by_subject(c, "parcel:221101_1.0001.161/8"));
        s_coll_free(c);
    }
    free(bom);
    free(crlf);
    rz_module_gis.close(g);
    free(data);
}

/* A collection made of the real file's parts: its header, parcels made
 * from the real one (number, object id and one change each), its label. */
static char *s_gml_collection(const char *data, const char *const *parcels,
                              size_t n, const char *extra)
{
    const char *m0 = strstr(data, "<gml:featureMember>");
    const char *m1 = strstr(m0 + 1, "<gml:featureMember>");
    const char *end = strstr(data, "</gml:FeatureCollection>");
    char *parcel = strndup(m0, (size_t)(m1 - m0));
    char *label = strndup(m1, (size_t)(end - m1));
    size_t cap = strlen(data) * (n + 2) + 4096;
    char *out = malloc(cap);
    size_t o = (size_t)(m0 - data);
    memcpy(out, data, o);
    for (size_t i = 0; i < n; i++) {
        /* parcels[i]: "NUMBER|FROM|TO": 161/NUMBER, a text replaced */
        char num[16], from[400] = "", to[400] = "";
        sscanf(parcels[i], "%15[^|]|%399[^|]|%399[^\n]", num, from, to);
        char nr[32], uuid[64];
        snprintf(nr, sizeof(nr), "161/%s<", num);
        /* 161/8 keeps its object id: the label is its */
        if (atoi(num) == 8)
            snprintf(uuid, sizeof(uuid), "d578e683624c");
        else
            snprintf(uuid, sizeof(uuid), "%012d", atoi(num));
        char *a = s_replace(parcel, "161/8<", nr, 0);
        char *b = s_replace(a, "d578e683624c", uuid, 0);
        char *c = *from ? s_replace(b, from, to, 0) : strdup(b);
        o += (size_t)sprintf(out + o, "%s", c);
        free(a);
        free(b);
        free(c);
    }
    o += (size_t)sprintf(out + o, "%s%s</gml:FeatureCollection>", label,
                         extra ? extra : "");
    free(parcel);
    free(label);
    return out;
}

static void test_gml_corrupted_members(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(EGIB, &len);
    void *g = s_open(NULL);
    static const char *const parcels[] = {
        "8||",
        /* an end tag lost its name */
        "9|</egb:idDzialki>|</egb:idDzialkx>",
        /* easting written first in PL-2000 */
        "10|6053302.31 6551749.01 6053298.79 6551750.91|6551749.01 "
        "6053302.31 6551750.91 6053298.79",
        "11|urn:ogc:def:crs:EPSG::2177|urn:x:uklad-lokalny",
        /* the area is nil: absent, not zero with a unit */
        "12|<egb:powierzchniaEwidencyjna uom=\"ha\">0.0246</egb:"
        "powierzchniaEwidencyjna>|<egb:powierzchniaEwidencyjna "
        "nilReason=\"unknown\" xsi:nil=\"true\"/>",
        "13|gml:Polygon|gml:Wielokat",
        "14|221101_1.0001.161/14<|2211_1.0001.161/14<",
    };
    /* and a label of an object that is not in the file */
    const char *orphan =
        "<gml:featureMember><bt:KR_ObiektKarto gml:id=\"k2\"><bt:etykieta>"
        "<bt:KR_Etykieta><bt:tekst>99/1</bt:tekst></bt:KR_Etykieta>"
        "</bt:etykieta><bt:obiektPrzedstawiany><bt:BT_ReferencjaDoObiektu>"
        "<bt:idIIP><bt:BT_Identyfikator><bt:lokalnyId>deadbeef</bt:lokalnyId>"
        "</bt:BT_Identyfikator></bt:idIIP></bt:BT_ReferencjaDoObiektu>"
        "</bt:obiektPrzedstawiany></bt:KR_ObiektKarto></gml:featureMember>\n";
    char *gml = s_gml_collection(data, parcels, 7, orphan);
    coll_t *c = s_parse(g, "p.gml", gml, strlen(gml));
    assert_int_equal(c->events, 2);
    assert_int_equal(c->quarantined, 6);
    /* 161/8 still has its label */
    const Ratusz__V1__Event *e = s_by_subject(c, "parcel:221101_1.0001.161/8");
    assert_string_equal(e->gis->name, "161/8");
    e = s_by_subject(c, "parcel:221101_1.0001.161/12");
    assert_non_null(e);
    assert_true(e->gis->area == 0);
    assert_string_equal(e->gis->area_unit, "");
    assert_null(s_prop(e->gis, "powierzchniaEwidencyjna"));
    assert_string_equal(e->gis->name, "221101_1.0001.161/12");

    const rec_t *r = s_by_key(c, "featureMember[1]");
    assert_null(r->ev);
    assert_int_equal(r->line, 59);
    assert_non_null(strstr(r->why, "featureMember[1]: XML error at line 72: "
                                   "Opening and ending tag mismatch: "
                                   "idDzialki line 72 and idDzialkx"));
    assert_int_equal(r->bytes[0], '<');
    r = s_by_key(c, "featureMember[2]");
    assert_non_null(strstr(r->why, "is outside EPSG:2177"));
    assert_non_null(strstr(r->why, "axes swapped?"));
    r = s_by_key(c, "featureMember[3]");
    assert_non_null(strstr(r->why, "unknown CRS: srsName "
                                   "'urn:x:uklad-lokalny'"));
    r = s_by_key(c, "featureMember[5]");
    assert_non_null(strstr(r->why, "EGB_DzialkaEwidencyjna "
                                   "'PL.PZGiK.1385.EGiB_3fcfb757-2b3e-4a2b-"
                                   "b2d3-000000000013_2017-03-13T13-09-47': "
                                   "no geometry"));
    r = s_by_key(c, "featureMember[6]");
    assert_non_null(strstr(r->why, "egb:idDzialki '2211_1.0001.161/14' is "
                                   "not a TERYT parcel id"));
    r = s_by_key(c, "featureMember[8]");
    assert_string_equal(r->why, "featureMember[8]: bt:KR_ObiektKarto: a label "
                                "of object 'deadbeef', which is not in this "
                                "file");
    assert_memory_equal(r->bytes, "<gml:featureMember><bt:KR_ObiektKarto", 37);
    s_coll_free(c);
    free(gml);

    /* three parcels, cut off inside the third */
    static const char *const three[] = {"8||", "20||", "21||"};
    gml = s_gml_collection(data, three, 3, NULL);
    char *cut = (char *)s_nth(gml, "<gml:posList>", 2);
    c = s_parse_cut(g, "p.gml", gml, (size_t)(cut - gml) + 40, S_ROOT_GML);
    assert_int_equal(c->n, 3);
    assert_int_equal(c->events, 2);
    assert_int_equal(c->quarantined, 1);
    assert_non_null(s_by_subject(c, "parcel:221101_1.0001.161/20"));
    assert_non_null(strstr(s_by_key(c, "featureMember[2]")->why, "truncated"));
    s_coll_free(c);
    free(gml);
    rz_module_gis.close(g);
    free(data);
}


/* ---------------------------------------------------------------------------
 * What real producers write: PRG layers from QGIS/OGR, named CRSs, unit
 * codes in every PRG form
 */

/* Every event of c: its subject and tenant, in order ("subject tenant"). */
static void s_check_events(const coll_t *c, const char *const *want, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->r[i].ev)
            continue;
        assert_true(k < n);
        char got[200];
        snprintf(got, sizeof(got), "%s %s", c->r[i].ev->subject,
                 c->r[i].ev->tenant);
        assert_string_equal(got, want[k]);
        k++;
    }
    assert_int_equal(k, n);
}

static void test_geojson_named_crs_and_prg_unit_codes(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(PRG_JSON, &len);
    /* the configuration's tenant is Warszawa: only the feature that names
     * no unit is Warszawa's */
    void *g = s_open("tenant", "1465011", NULL);
    static const char *const want[] = {
        "terc:2264011 2264011", "terc:2264 2264",
        "precinct:226401_1.0024 2264011", "cadastral-unit:226401_1 2264011",
        "boundary:jednostki/4 1465011"};
    coll_t *c = s_parse(g, "j.geojson", data, len);
    assert_int_equal(c->n, 5);
    assert_int_equal(c->events, 5);
    assert_int_equal(c->quarantined, 0);
    s_check_events(c, want, 5);
    const Ratusz__V1__Event *e = s_by_subject(c, "precinct:226401_1.0024");
    assert_string_equal(e->gis->feature_id, "226401_1.0024");
    assert_string_equal(e->gis->name, "Sopot 0024");
    assert_string_equal(e->gis->geometry->crs, "EPSG:2180");
    assert_string_equal(e->gis->geometry->axis_order, "xy");
    assert_string_equal(s_prop(e->gis, "JPT_KOD_JE"), "226401_1.0024");
    s_coll_free(c);

    /* the same layer as GDAL writes the short name */
    char *shrt = s_replace(data, "urn:ogc:def:crs:EPSG::2180", "EPSG:2180", 1);
    c = s_parse(g, "j.geojson", shrt, strlen(shrt));
    assert_int_equal(c->events, 5);
    assert_int_equal(c->quarantined, 0);
    s_check_events(c, want, 5);
    assert_string_equal(s_by_subject(c, "terc:2264")->gis->geometry->crs,
                        "EPSG:2180");
    s_coll_free(c);
    free(shrt);

    /* an obręb code that is not one: that feature alone is quarantined,
     * never given the configured tenant */
    char *bad = s_replace(data, "\"226401_1.0024\"", "\"226401_1.024\"", 1);
    c = s_parse(g, "j.geojson", bad, strlen(bad));
    assert_int_equal(c->n, 5);
    assert_int_equal(c->events, 4);
    assert_int_equal(c->quarantined, 1);
    static const char *const want_bad[] = {
        "terc:2264011 2264011", "terc:2264 2264",
        "cadastral-unit:226401_1 2264011", "boundary:jednostki/4 1465011"};
    s_check_events(c, want_bad, 4);
    assert_string_equal(s_by_key(c, "features[2]")->why,
                        "features[2]: property JPT_KOD_JE: '226401_1.024' is "
                        "not a TERYT unit code (a TERC code of 2, 4 or 7 "
                        "digits, WWPPGG_R or WWPPGG_R.OOOO)");
    s_coll_free(c);
    free(bad);
    rz_module_gis.close(g);

    /* without a configured tenant the feature that names no unit has none */
    g = s_open(NULL);
    c = s_parse(g, "j.geojson", data, len);
    assert_int_equal(c->events, 4);
    assert_int_equal(c->quarantined, 1);
    assert_non_null(strstr(s_by_key(c, "features[4]")->why, "no tenant"));
    s_coll_free(c);
    free(data);

    /* the voivodeships with an old-style CRS84 crs member: EPSG:4326 */
    data = s_read(WOJ, &len);
    char *crs84 = s_replace(data, "\"type\": \"FeatureCollection\",",
                            "\"type\": \"FeatureCollection\", \"crs\": "
                            "{\"type\": \"name\", \"properties\": {\"name\": "
                            "\"urn:ogc:def:crs:OGC:1.3:CRS84\"}},",
                            1);
    assert_true(strlen(crs84) > len);
    c = s_parse(g, "w.json", crs84, strlen(crs84));
    s_check_woj(c, 0);
    assert_string_equal(s_by_subject(c, "terc:02")->gis->geometry->crs,
                        "EPSG:4326");
    assert_string_equal(s_by_subject(c, "terc:02")->tenant, "02");
    s_coll_free(c);
    free(crs84);
    free(data);
    rz_module_gis.close(g);
}

static void test_gml_ogr_prg_export(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(PRG_GML, &len);
    void *g = s_open("tenant", "1465011", NULL);
    static const char *const want[] = {"precinct:226401_1.0024 2264011",
                                       "precinct:226401_1.0025 2264011",
                                       "cadastral-unit:226401_1 2264011"};
    /* as OGR writes it, and with the member names of other writers */
    static const char *const members[] = {"ogr:featureMember",
                                          "gml:featureMember", "gml:member"};
    for (size_t i = 0; i < 3; i++) {
        char *v = s_replace(data, "ogr:featureMember", members[i], 0);
        coll_t *c = s_parse(g, "prg_obreby.gml", v, strlen(v));
        assert_int_equal(c->n, 3);
        assert_int_equal(c->events, 3);
        assert_int_equal(c->quarantined, 0);
        s_check_events(c, want, 3);
        const Ratusz__V1__Event *e = s_by_subject(c, "precinct:226401_1.0024");
        assert_string_equal(e->type, "pl.gov.gmina.gis.boundary.v1");
        assert_string_equal(e->gis->kind, "boundary");
        assert_string_equal(e->gis->feature_id, "226401_1.0024");
        assert_string_equal(e->gis->name, "Sopot 0024");
        assert_string_equal(e->gis->geometry->crs, "EPSG:2180");
        assert_string_equal(e->gis->geometry->axis_order, "yx");
        assert_string_equal(e->gis->geometry->type, "MultiPolygon");
        assert_string_equal(e->gis->geometry->wkt,
                            "MULTIPOLYGON(((732410.88 471204.33, 732398.1 "
                            "472955.61, 731120.5 472901.07, 731133.27 "
                            "471260.9, 732410.88 471204.33)))");
        assert_string_equal(s_prop(e->gis, "JPT_KOD_JE"), "226401_1.0024");
        assert_string_equal(s_prop(e->gis, "JPT_ID"), "1370248");
        assert_string_equal(s_prop(e->gis, "gml_id"), "obreby.0");
        s_coll_free(c);
        free(v);
    }

    /* a layer with no unit codes: PRG's JPT_ID in the namespace of its
     * layer, the configured tenant */
    char *nocode = s_replace(data, "<ogr:JPT_KOD_JE>", "<ogr:KOD_DAWNY>", 0);
    char *a = s_replace(nocode, "</ogr:JPT_KOD_JE>", "</ogr:KOD_DAWNY>", 0);
    char *b = s_replace(a, "ogr:obreby", "ogr:granice_obrebow", 0);
    coll_t *c = s_parse(g, "prg_obreby.gml", a, strlen(a));
    coll_t *d = s_parse(g, "prg_granice.gml", b, strlen(b));
    static const char *const want_a[] = {"boundary:obreby/1370248 1465011",
                                         "boundary:obreby/1370249 1465011",
                                         "boundary:obreby/1369977 1465011"};
    static const char *const want_b[] = {
        "boundary:granice_obrebow/1370248 1465011",
        "boundary:granice_obrebow/1370249 1465011",
        "boundary:granice_obrebow/1369977 1465011"};
    assert_int_equal(c->events, 3);
    assert_int_equal(d->events, 3);
    s_check_events(c, want_a, 3);
    s_check_events(d, want_b, 3);
    s_coll_free(c);
    s_coll_free(d);
    free(nocode);
    free(a);
    free(b);

    /* a malformed code: that feature is quarantined, not Warszawa's */
    char *bad = s_replace(data, ">226401_1.0025<", ">226401_1.25<", 1);
    c = s_parse(g, "prg_obreby.gml", bad, strlen(bad));
    assert_int_equal(c->n, 3);
    assert_int_equal(c->events, 2);
    assert_int_equal(c->quarantined, 1);
    static const char *const want_bad[] = {"precinct:226401_1.0024 2264011",
                                           "cadastral-unit:226401_1 2264011"};
    s_check_events(c, want_bad, 2);
    assert_string_equal(s_by_key(c, "featureMember[1]")->why,
                        "featureMember[1]: obreby 'obreby.1': JPT_KOD_JE "
                        "'226401_1.25' is not a TERYT unit code (a TERC code "
                        "of 2, 4 or 7 digits, WWPPGG_R or WWPPGG_R.OOOO)");
    s_coll_free(c);
    free(bad);
    rz_module_gis.close(g);
    free(data);
}

/* The i-th ogr:featureMember of an OGR export, with its line break. */
static char *s_ogr_member(const char *data, int i)
{
    const char *p = s_nth(data, "  <ogr:featureMember>", i);
    const char *e = strstr(p, "</ogr:featureMember>\n");
    assert_non_null(e);
    return strndup(p, (size_t)(e - p) + strlen("</ogr:featureMember>\n"));
}

static void test_gml_ogr_bad_features_do_not_stop_the_reader(void **st)
{
    (void)st;
    size_t len;
    char *data = s_read(PRG_GML, &len);
    void *g = s_open("tenant", "1465011", NULL);
    char *m0 = s_ogr_member(data, 0), *m1 = s_ogr_member(data, 1),
         *m2 = s_ogr_member(data, 2);
    /* what goes wrong in real exports, each in a copy of obręb 0024 */
    static const char *const bad[][2] = {
        /* a ring that does not close */
        {"471260.9 732410.88 471204.33<", "471260.9 732410.88 471204.5<"},
        /* a letter O for a zero */
        {"731133.27 471260.9", "731133.27 47126O.9"},
        /* an attribute that is not a unit code */
        {">226401_1.0024<", ">226401_1.00x4<"},
        /* not well-formed: an end tag with another name */
        {"</ogr:JPT_NAZWA_>", "</ogr:JPT_NAZWA>"},
        /* not well-formed: a bare ampersand */
        {">Sopot 0024<", ">Sopot & Kamienny Potok<"},
        /* not well-formed: a lost quote, the rest of the file would be
         * one attribute value */
        {"gml:id=\"obreby.0\">", "gml:id=\"obreby.0>"},
    };
    size_t cap = 16 * len, o = 0;
    char *gml = malloc(cap);
    const char *first = strstr(data, "  <ogr:featureMember>");
    o += (size_t)snprintf(gml, cap, "%.*s%s", (int)(first - data), data, m0);
    for (size_t i = 0; i < 6; i++) {
        char *v = s_replace(m0, bad[i][0], bad[i][1], 1);
        assert_string_not_equal(v, m0);
        o += (size_t)snprintf(gml + o, cap - o, "%s%s", v,
                              i == 2 ? m1 : "");
        free(v);
    }
    o += (size_t)snprintf(gml + o, cap - o, "%s</ogr:FeatureCollection>\n", m2);

    coll_t *c = s_parse(g, "prg_obreby.gml", gml, o);
    /* read 9 = published 3 + quarantined 6 */
    assert_int_equal(c->n, 9);
    assert_int_equal(c->events, 3);
    assert_int_equal(c->quarantined, 6);
    static const char *const want[] = {"precinct:226401_1.0024 2264011",
                                       "precinct:226401_1.0025 2264011",
                                       "cadastral-unit:226401_1 2264011"};
    s_check_events(c, want, 3);
    assert_non_null(s_by_key(c, "featureMember[0]")->ev);
    assert_non_null(strstr(s_by_key(c, "featureMember[1]")->why,
                           "obreby 'obreby.0': invalid geometry: exterior "
                           "ring: ring is not closed"));
    assert_non_null(strstr(s_by_key(c, "featureMember[2]")->why,
                           "invalid geometry: exterior ring: '47126O.9' is "
                           "not a number"));
    assert_non_null(strstr(s_by_key(c, "featureMember[3]")->why,
                           "JPT_KOD_JE '226401_1.00x4' is not a TERYT unit "
                           "code"));
    assert_non_null(s_by_key(c, "featureMember[4]")->ev);
    assert_non_null(strstr(s_by_key(c, "featureMember[5]")->why,
                           "XML error at line"));
    assert_non_null(strstr(s_by_key(c, "featureMember[5]")->why,
                           "Opening and ending tag mismatch: JPT_NAZWA_"));
    assert_non_null(strstr(s_by_key(c, "featureMember[6]")->why,
                           "XML error at line"));
    assert_non_null(strstr(s_by_key(c, "featureMember[7]")->why,
                           "featureMember[7]: the tag at line 165 never "
                           "closes (a lost quote?): XML error at line"));
    assert_null(strstr(s_by_key(c, "featureMember[7]")->why, "truncated"));
    assert_non_null(s_by_key(c, "featureMember[8]")->ev);
    /* each quarantined record is its own member, byte for byte */
    for (size_t i = 0; i < c->n; i++) {
        assert_memory_equal(c->r[i].bytes, "<ogr:featureMember>", 19);
        assert_non_null(strstr(c->r[i].bytes, "</ogr:featureMember>"));
        assert_null(strstr(c->r[i].bytes + 19, "<ogr:featureMember>"));
    }
    s_coll_free(c);
    free(gml);
    free(m0);
    free(m1);
    free(m2);
    rz_module_gis.close(g);
    free(data);
}

/* ---------------------------------------------------------------------------
 * Helpers
 */

static void test_times_and_names(void **st)
{
    (void)st;
    int64_t us;
    assert_int_equal(rzc_time_parse("2017-03-13T13:09:47", &us), 0);
    assert_true(us == INT64_C(1489406987000000));
    assert_int_equal(rzc_time_parse("2025-08", &us), 0);
    assert_true(us == INT64_C(1753999200000000));
    /* the last hour of CEST and the first of CET, 2024-10-27 */
    assert_int_equal(rzc_time_parse("2024-10-27 01:59:59", &us), 0);
    assert_true(us == INT64_C(1729987199000000));
    assert_int_equal(rzc_time_parse("2024-10-27T03:00:00", &us), 0);
    assert_true(us == INT64_C(1729994400000000));
    assert_int_equal(rzc_time_parse("2024-07-01T12:00:00.5+02:00", &us), 0);
    assert_true(us == INT64_C(1719828000500000));
    assert_int_equal(rzc_time_parse("2024-07-01T12:00:00Z", &us), 0);
    assert_true(us == INT64_C(1719835200000000));
    assert_int_equal(rzc_time_parse("13.03.2017", &us), RZ_EINVAL);
    assert_int_equal(rzc_time_parse("2017-13-01", &us), RZ_EINVAL);

    char s[64];
    rz__gis_slug("żoliborz.geojson", s, sizeof(s));
    assert_string_equal(s, "zoliborz");
    rz__gis_slug("/srv/x/praga północ.geojson", s, sizeof(s));
    assert_string_equal(s, "praga-polnoc");
    rz__gis_slug("warszawa_dzielnica_zoliborz.geojson", s, sizeof(s));
    assert_string_equal(s, "warszawa_dzielnica_zoliborz");

    int lonlat;
    assert_int_equal(rz__gis_crs_code("urn:ogc:def:crs:EPSG::2177", &lonlat),
                     2177);
    assert_int_equal(rz__gis_crs_code("urn:ogc:def:crs:EPSG:6.3:2180", &lonlat),
                     2180);
    assert_int_equal(rz__gis_crs_code("http://www.opengis.net/def/crs/EPSG/"
                                      "0/2178",
                                      &lonlat),
                     2178);
    assert_int_equal(rz__gis_crs_code("urn:ogc:def:crs:OGC:1.3:CRS84", &lonlat),
                     4326);
    assert_int_equal(lonlat, 1);
    assert_int_equal(rz__gis_crs_code("WGS84", &lonlat), 0);
    assert_int_equal(rz__gis_crs_code("EPSG:21x", &lonlat), 0);
}

static void test_wkt_to_geojson(void **st)
{
    (void)st;
    static const struct {
        const char *wkt;
        int swap;
        const char *json;
    } ok[] = {
        {"POINT(6053306.43 6551762)", 1,
         "{\"type\":\"Point\",\"coordinates\":[6551762,6053306.43]}"},
        {"POINT Z (1 2 3)", 0, "{\"type\":\"Point\",\"coordinates\":[1,2,3]}"},
        {"MULTIPOINT((1 2), (3 4))", 0,
         "{\"type\":\"MultiPoint\",\"coordinates\":[[1,2],[3,4]]}"},
        {"LINESTRING(1 2, .5 +3)", 0,
         "{\"type\":\"LineString\",\"coordinates\":[[1,2],[0.5,3]]}"},
        {"MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5), (5.1 "
         "5.1, 5.2 5.1, 5.2 5.2, 5.1 5.1)))",
         0,
         "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],[0,"
         "0]]],[[[5,5],[6,5],[6,6],[5,5]],[[5.1,5.1],[5.2,5.1],[5.2,5.2],[5.1,"
         "5.1]]]]}"},
        {"GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(1 2, 3 4))", 0,
         "{\"type\":\"GeometryCollection\",\"geometries\":[{\"type\":\"Point\","
         "\"coordinates\":[1,2]},{\"type\":\"LineString\",\"coordinates\":[[1,"
         "2],[3,4]]}]}"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        rzc_buf_t b = {0};
        char err[200];
        int rc =
            rz__gis_wkt_to_geojson(ok[i].wkt, ok[i].swap, &b, err, sizeof(err));
        if (rc)
            print_message("%s: %s\n", ok[i].wkt, err);
        assert_int_equal(rc, 0);
        assert_string_equal(b.s, ok[i].json);
        rzc_buf_free(&b);
    }
    static const struct {
        const char *wkt, *err;
    } bad[] = {
        {"POLYGON((1 2, 3))", "WKT: a position needs 2 ordinates at '))'"},
        {"CIRCLE(1 2)", "WKT: unknown geometry type at 'CIRCLE(1 2)'"},
        {"POINT EMPTY", "WKT: an EMPTY geometry has no place in GeoJSON"},
        {"POINT(1 2) x", "WKT: text after the geometry at 'x'"},
        {"LINESTRING(1 2, 0x10 3)", "WKT: a position needs 2 ordinates"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rzc_buf_t b = {0};
        char err[200];
        assert_int_equal(
            rz__gis_wkt_to_geojson(bad[i].wkt, 0, &b, err, sizeof(err)), -1);
        if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
            print_message("%s: '%s'\n", bad[i].wkt, err);
            fail();
        }
        rzc_buf_free(&b);
    }
}

/* ---------------------------------------------------------------------------
 * The sink: events -> GeoJSON -> ogrinfo, and back through the module
 */

/* ogrinfo's summary of a file: exit status 0 and its stdout. */
static void s_ogrinfo(const char *path, char *out, size_t len)
{
    assert_int_equal(access(OGRINFO, X_OK), 0);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), OGRINFO " -ro -al -so '%s' 2>&1", path);
    int rc = rzt_run(cmd, out, len);
    if (rc != 0)
        print_message("%s\n", out);
    assert_int_equal(rc, 0);
}

static void s_feature_count(const char *path, int n)
{
    char out[16384], want[64];
    s_ogrinfo(path, out, sizeof(out));
    snprintf(want, sizeof(want), "Feature Count: %d\n", n);
    if (!strstr(out, want)) {
        print_message("%s: want '%s' in:\n%s\n", path, want, out);
        fail();
    }
}

static void s_sink_all(void *sink, const coll_t *c)
{
    char err[256];
    for (size_t i = 0; i < c->n; i++) {
        if (!c->r[i].ev)
            continue;
        Ratusz__V1__Event e = *c->r[i].ev;
        e.source = "/test/gis";
        e.seq = i + 1;
        assert_int_equal(rz_module_gis.sink_event(sink, &e, err, sizeof(err)),
                         0);
    }
}

static void test_sink_geojson(void **st)
{
    (void)st;
    char dir[256], target[300], path[400], err[256];
    assert_int_equal(rzt_tmpdir(dir, sizeof(dir)), 0);
    snprintf(target, sizeof(target), "%s/gmina.geojson", dir);

    size_t len;
    char *woj = s_read(WOJ, &len);
    void *g = s_open(NULL);
    coll_t *cw = s_parse(g, "w.json", woj, len);
    char *egib = s_read(EGIB, &len);
    coll_t *cp = s_parse(g, "p.gml", egib, len);
    void *gt = s_open("tenant", "1465011", NULL);
    const char *poi =
        "{\"type\":\"Feature\",\"id\":\"pkin\",\"crs\":{\"type\":\"name\","
        "\"properties\":{\"name\":\"EPSG:2180\"}},\"geometry\":{\"type\":"
        "\"Point\",\"coordinates\":[637300.25,486700.5]},\"properties\":{"
        "\"nazwa\":\"Pałac Kultury i Nauki\"}}";
    coll_t *cx = s_parse(gt, "pkin.geojson", poi, strlen(poi));

    void *sink = NULL;
    assert_int_equal(
        rz_module_gis.sink_open(&sink, g, target, err, sizeof(err)), 0);
    s_sink_all(sink, cw);
    s_sink_all(sink, cp);
    s_sink_all(sink, cx);
    /* an event that is not spatial is not for this sink */
    Ratusz__V1__Event air = RATUSZ__V1__EVENT__INIT;
    air.id = "a1", air.source = "/1465011/env/gios";
    assert_int_equal(rz_module_gis.sink_event(sink, &air, err, sizeof(err)), 0);
    assert_int_equal(rz_module_gis.sink_flush(sink, err, sizeof(err)), 0);

    /* GDAL opens each file: the count, the CRS, the axis order */
    s_feature_count(target, 16);
    snprintf(path, sizeof(path), "%s/gmina.epsg2177.geojson", dir);
    s_feature_count(path, 1);
    char out[16384];
    s_ogrinfo(path, out, sizeof(out));
    assert_non_null(strstr(out, "Poland CS2000 zone 6"));
    /* easting first in the file, as GeoJSON wants */
    assert_non_null(strstr(out, "Extent: (6551749.010000, 6053296.480000) - "
                                "(6551778.110000, 6053314.290000)"));
    snprintf(path, sizeof(path), "%s/gmina.epsg2180.geojson", dir);
    s_feature_count(path, 1);
    s_ogrinfo(path, out, sizeof(out));
    assert_non_null(strstr(out, "Poland CS92"));
    assert_non_null(strstr(out, "Extent: (637300.250000, 486700.500000)"));

    /* back through the module: the same features */
    char *back = s_read(target, &len);
    coll_t *cb = s_parse(g, "gmina.geojson", back, len);
    assert_int_equal(cb->events, 16);
    assert_int_equal(cb->quarantined, 0);
    for (size_t i = 0; i < 16; i++) {
        const Ratusz__V1__Event *a = cw->r[i].ev;
        const Ratusz__V1__Event *b = s_by_subject(cb, a->subject);
        assert_non_null(b);
        assert_string_equal(b->tenant, a->tenant);
        assert_string_equal(b->gis->name, a->gis->name);
        assert_string_equal(b->gis->geometry->geojson,
                            a->gis->geometry->geojson);
        assert_memory_equal(b->gis->geometry->bbox, a->gis->geometry->bbox,
                            4 * sizeof(double));
        assert_string_equal(s_prop(b->gis, "ratusz_id"), a->id);
        assert_string_equal(s_prop(b->gis, "ratusz_time"),
                            "2025-07-31T22:00:00Z");
    }
    free(back);

    /* the parcel: its geometry swapped to x, y, everything else kept */
    snprintf(path, sizeof(path), "%s/gmina.epsg2177.geojson", dir);
    back = s_read(path, &len);
    void *gp = s_open("tenant", "2211011", NULL);
    coll_t *cpb = s_parse(gp, "gmina.epsg2177.geojson", back, len);
    assert_int_equal(cpb->events, 1);
    const Ratusz__V1__Event *a = cp->r[0].ev, *b = cpb->r[0].ev;
    assert_string_equal(b->gis->geometry->crs, "EPSG:2177");
    assert_string_equal(b->gis->geometry->axis_order, "xy");
    assert_string_equal(
        b->gis->geometry->geojson,
        "{\"type\":\"Polygon\",\"coordinates\":[[[6551749.01,6053302.31],"
        "[6551750.91,6053298.79],[6551757.87,6053302.19],[6551760.55,"
        "6053296.48],[6551764.73,6053298.36],[6551765.32,6053297.24],"
        "[6551778.11,6053304.66],[6551772.28,6053314.29],[6551749.01,"
        "6053302.31]]]}");
    for (int i = 0; i < 4; i++)
        assert_true(b->gis->geometry->bbox[i] == a->gis->geometry->bbox[i ^ 1]);
    for (size_t i = 0; i < a->gis->n_properties; i++)
        assert_string_equal(s_prop(b->gis, a->gis->properties[i]->key),
                            a->gis->properties[i]->value);
    assert_string_equal(s_prop(b->gis, "ratusz_subject"),
                        "parcel:221101_1.0001.161/8");
    assert_string_equal(s_prop(b->gis, "ratusz_tenant"), "2211011");
    assert_string_equal(s_prop(b->gis, "ratusz_area"), "0.0246");
    assert_string_equal(s_prop(b->gis, "ratusz_area_unit"), "ha");
    assert_string_equal(s_prop(b->gis, "ratusz_axis_order"), "yx");
    assert_string_equal(s_prop(b->gis, "ratusz_time"), "2017-03-13T12:09:47Z");
    assert_string_equal(b->id, "gis:0011223344556677:features[0]");
    s_coll_free(cpb);
    rz_module_gis.close(gp);
    free(back);

    /* the same events again change nothing */
    s_sink_all(sink, cw);
    assert_int_equal(rz_module_gis.sink_flush(sink, err, sizeof(err)), 0);
    s_feature_count(target, 16);
    rz_module_gis.sink_close(sink);

    /* a restarted sink reads its files back: a newer version of a subject
     * replaces the feature, an older one does not */
    assert_int_equal(
        rz_module_gis.sink_open(&sink, g, target, err, sizeof(err)), 0);
    Ratusz__V1__Event e = *cw->r[2].ev;
    Ratusz__V1__GisFeature gf = *e.gis;
    e.gis = &gf;
    e.source = "/test/gis";
    e.time += 1000000;
    gf.name = "Dolny Śląsk";
    assert_int_equal(rz_module_gis.sink_event(sink, &e, err, sizeof(err)), 0);
    e.time -= 2000000;
    gf.name = "stara wersja";
    assert_int_equal(rz_module_gis.sink_event(sink, &e, err, sizeof(err)), 0);
    assert_int_equal(rz_module_gis.sink_flush(sink, err, sizeof(err)), 0);
    s_feature_count(target, 16);
    snprintf(path, sizeof(path), "%s/gmina.epsg2177.geojson", dir);
    s_feature_count(path, 1);
    back = s_read(target, &len);
    s_coll_free(cb);
    cb = s_parse(g, "gmina.geojson", back, len);
    assert_int_equal(cb->events, 16);
    const Ratusz__V1__Event *d = s_by_subject(cb, "terc:02");
    assert_string_equal(s_prop(d->gis, "ratusz_name"), "Dolny Śląsk");
    assert_string_equal(s_prop(d->gis, "ratusz_time"), "2025-07-31T22:00:01Z");
    /* it kept its place in the file */
    assert_string_equal(s_by_key(cb, "features[2]")->ev->subject, "terc:02");
    rz_module_gis.sink_close(sink);
    free(back);

    /* a file that is not the sink's is never overwritten */
    snprintf(path, sizeof(path), "%s/notes.geojson", dir);
    FILE *f = fopen(path, "w");
    fputs("to nie jest GeoJSON\n", f);
    fclose(f);
    assert_int_equal(rz_module_gis.sink_open(&sink, g, path, err, sizeof(err)),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "not overwriting it"));

    s_coll_free(cb);
    s_coll_free(cw);
    s_coll_free(cp);
    s_coll_free(cx);
    rz_module_gis.close(g);
    rz_module_gis.close(gt);
    free(woj);
    free(egib);
    rzt_rmtree(dir);
}

/* ---------------------------------------------------------------------------
 * The real one-shot run: ratusz-adapter FILE against the real ratuszd
 */

static void s_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A collection cut at a feature boundary: its nine complete features
 * reach the bus, the run exits 1 naming the byte, and a second run (the
 * file's progress is not complete) fails the same way, adding nothing. */
static void test_oneshot_cut_file_publishes_what_is_whole_and_exits_1(void **st)
{
    (void)st;
    rzt_broker_t b;
    if (rzt_broker_start(&b, NULL) != 0)
        fail_msg("ratuszd did not start");
    char dir[256], conf[300], file[300], text[1024], cmd[1200], out[4096];
    assert_int_equal(rzt_tmpdir(dir, sizeof(dir)), 0);
    snprintf(conf, sizeof(conf), "%s/gis.yaml", dir);
    snprintf(file, sizeof(file), "%s/w.json", dir);
    int n = snprintf(text, sizeof(text),
                     "system: gis\nbroker: %s\ndata_dir: %s/data\n"
                     "teryt: %s\ntimeout_ms: 1000\nreport_ms: 200\n"
                     "gis:\n  tenant: \"1465011\"\n",
                     b.front, dir, TERYT);
    s_write_file(conf, text, (size_t)n);

    size_t len;
    char *data = s_read(WOJ, &len);
    const char *at = s_nth(data, "\"type\": \"Feature\"", 9);
    while (*at != ',')
        at--; /* before the ',' that would start features[9] */
    size_t cut = (size_t)(at - data);
    s_write_file(file, data, cut);
    char want[200];
    snprintf(want, sizeof(want),
             "w.json: input ends at byte %zu inside the root object: the "
             "file is cut short",
             cut);

    snprintf(cmd, sizeof(cmd), "'%s' -c '%s' '%s' 2>&1", RZ_ADAPTER_BIN, conf,
             file);
    int rc = rzt_run(cmd, out, sizeof(out));
    if (rc != 1)
        print_message("%s\n", out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, want));
    assert_int_equal(rzt_head(&b), 9);

    assert_int_equal(rzt_run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, want));
    assert_int_equal(rzt_head(&b), 9);

    free(data);
    rzt_broker_cleanup(&b);
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geojson_collection),
        cmocka_unit_test(test_geojson_bom_and_crlf),
        cmocka_unit_test(test_geojson_truncated),
        cmocka_unit_test(test_geojson_corrupted_features),
        cmocka_unit_test(test_geojson_windows1250),
        cmocka_unit_test(test_geojson_bare_geometry),
        cmocka_unit_test(test_geojson_single_features),
        cmocka_unit_test(test_geojson_layers_without_ids_do_not_collide),
        cmocka_unit_test(test_whole_input_errors),
        cmocka_unit_test(test_gml_parcel),
        cmocka_unit_test(test_gml_corrupted_members),
        cmocka_unit_test(test_geojson_named_crs_and_prg_unit_codes),
        cmocka_unit_test(test_gml_ogr_prg_export),
        cmocka_unit_test(test_gml_ogr_bad_features_do_not_stop_the_reader),
        cmocka_unit_test(test_times_and_names),
        cmocka_unit_test(test_wkt_to_geojson),
        cmocka_unit_test(test_sink_geojson),
        cmocka_unit_test(
            test_oneshot_cut_file_publishes_what_is_whole_and_exits_1),
    };
    return cmocka_run_group_tests_name("gis", tests, NULL, NULL);
}
