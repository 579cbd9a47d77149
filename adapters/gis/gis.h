/* gis.h - internals of the gis module shared by its readers, its sink and
 * its tests (the module's public face is rz_module_gis in gis.c).
 *
 * Two readers turn an input into GisFeature events:
 *   geojson.c  GeoJSON: a FeatureCollection, one Feature, a bare geometry
 *   gml.c      GML 3.2 exports of the land register (EGiB): parcels,
 *              buildings, their cartographic labels
 * and one sink writes GisFeature events back out as GeoJSON (sink.c).
 */
#ifndef RATUSZ_ADAPTER_GIS_H
#define RATUSZ_ADAPTER_GIS_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/adapter.h"
#include "ratusz/core/buf.h"
#include "ratusz/core/time.h"

/* The module (gis.c). */
extern const rz_adapter_module_t rz_module_gis;

/* ---------------------------------------------------------------------------
 * Options and per-adapter state
 */

typedef struct rz_gis_conf {
    char *tenant;      /* for features without a TERYT code of their own */
    char *kind;        /* kind of GeoJSON features: "boundary" */
    char *subject;     /* subject of a feature without identity */
    char *name;        /* name of such a feature */
    char *geojson_crs; /* CRS of GeoJSON that declares none */
    rz_conf_list_t teryt_properties;
    rz_conf_list_t name_properties;
} rz_gis_conf_t;

extern const rz_conf_option_t rz__gis_options[];

typedef struct rz_gis {
    char *tenant, *kind, *subject, *name, *geojson_crs;
    char **teryt_props;
    size_t n_teryt_props;
    char **name_props;
    size_t n_name_props;
} rz_gis_t;

int rz__gis_open(void **state, const void *conf, char *err, size_t err_len);
void rz__gis_close(void *state);

/* The readers. Each reports every record of in to out exactly once and
 * returns 0, or a negative RZ_E* code with err when the input as a whole
 * is not of its format. */
int rz__gis_geojson_parse(rz_gis_t *g, const rz_input_t *in, rz_out_t *out,
                          char *err, size_t err_len);
int rz__gis_gml_parse(rz_gis_t *g, const rz_input_t *in, rz_out_t *out,
                      char *err, size_t err_len);

/* The sink (sink.c). */
int rz__gis_sink_open(void **sink, void *state, const char *target, char *err,
                      size_t err_len);
int rz__gis_sink_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                       size_t err_len);
int rz__gis_sink_flush(void *sink, char *err, size_t err_len);
void rz__gis_sink_close(void *sink);

/* ---------------------------------------------------------------------------
 * A memory pool for one record: everything an event points to is taken
 * from it and freed at once after the event was reported.
 */

typedef struct rz_gis_pool {
    struct rz_gis_block *head;
} rz_gis_pool_t;

void *rz__gis_alloc(rz_gis_pool_t *p, size_t n); /* NULL on ENOMEM */
char *rz__gis_strndup(rz_gis_pool_t *p, const char *s, size_t n);
char *rz__gis_printf(rz_gis_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rz__gis_pool_free(rz_gis_pool_t *p);

/* ---------------------------------------------------------------------------
 * One record being built into an event
 */

typedef struct rz_gis_rec {
    rz_gis_pool_t pool;
    Ratusz__V1__Event ev;
    Ratusz__V1__GisFeature gf;
    Ratusz__V1__Geometry geo;
    double bbox[4];
    Ratusz__V1__GisFeature__PropertiesEntry **props;
    size_t n_props, cap_props;
    char id[RZ_ID_MAX + 1];
    int oom;
} rz_gis_rec_t;

void rz__gis_rec_init(rz_gis_rec_t *r);
void rz__gis_rec_free(rz_gis_rec_t *r);
/* Set (or replace) a property; both strings are copied into the pool.
 * value NULL removes nothing and adds nothing. */
void rz__gis_rec_prop(rz_gis_rec_t *r, const char *key, const char *value);
/* Append to a property, separated by sep, or add it. */
void rz__gis_rec_prop_append(rz_gis_rec_t *r, const char *key,
                             const char *value, const char *sep);
const char *rz__gis_rec_prop_get(const rz_gis_rec_t *r, const char *key);
/* Report the record as an event (wires up the pointers first). */
int rz__gis_rec_emit(rz_gis_rec_t *r, rz_out_t *out,
                     const rz_record_ref_t *ref);

/* ---------------------------------------------------------------------------
 * Shared helpers (gis.c)
 */

/* "EPSG:2177" for the CRS names GeoJSON and GML use: "EPSG:2177",
 * "urn:ogc:def:crs:EPSG::2177", "urn:ogc:def:crs:EPSG:6.3:2177",
 * "http://www.opengis.net/def/crs/EPSG/0/2177"; OGC CRS84 is EPSG:4326
 * with longitude first (*lonlat set). Returns the EPSG code, or 0 when
 * name is not one of these. */
int rz__gis_crs_code(const char *name, int *lonlat);

/* The axis order the EPSG CRS itself declares: 'y' for northing (or
 * latitude) first, 'x' for easting (or longitude) first, 0 when unknown. */
int rz__gis_crs_axis(int epsg);

/* Check one position (in the order it is written: a, b) against the CRS's
 * area of use. yx: the first value is the northing (latitude). Returns
 * NULL or a reason (static or in buf). */
const char *rz__gis_check_pos(int epsg, int yx, double a, double b, char *buf,
                              size_t len);

/* A TERYT TERC code: 2, 4 or 7 ASCII digits. */
int rz__gis_is_terc(const char *s);

/* What a unit code in the data (PRG's JPT_KOD_JE, a TERYT property) names. */
enum {
    RZ_GIS_UNIT_TERC = 1,  /* "02", "2264", "2264011": the unit itself */
    RZ_GIS_UNIT_JEWID = 2, /* "226401_1": a jednostka ewidencyjna */
    RZ_GIS_UNIT_OBREB = 3  /* "226401_1.0024": an obręb ewidencyjny */
};

/* The TERC code of the unit that code belongs to, by the TERYT rule: a
 * TERC code is its own; the cadastral forms WWPPGG_R and WWPPGG_R.OOOO
 * are in gmina WWPPGGR ("226401_1.0024" -> "2264011"). Returns one of
 * RZ_GIS_UNIT_* with terc set, or -1 when code is none of these forms. */
int rz__gis_unit_terc(const char *code, char terc[8]);

/* The subject prefix of a unit of that form: "terc", "cadastral-unit" or
 * "precinct" (the kinds the EGiB reader gives the same units). */
const char *rz__gis_unit_kind(int form);

/* strtod of the whole of [s, s+n): 0, or -1 when it is not one finite
 * number. */
int rz__gis_number(const char *s, size_t n, double *v);

/* A JSON number in the syntax of RFC 8259 (what may be written into
 * GeoJSON as it is). */
int rz__gis_json_number(const char *s, size_t n);

/* The name of an input without directories and extensions, as an ASCII
 * slug: "warszawa_dzielnica_zoliborz.geojson" -> "warszawa_dzielnica_zoliborz",
 * "żoliborz.geojson" -> "zoliborz", "praga północ.geojson" ->
 * "praga-polnoc". Returns the length written. */
size_t rz__gis_slug(const char *name, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * JSON spans (geojson.c): where each value is in the original bytes. jansson
 * parses every value; it keeps no byte offsets, which the quarantine (the
 * record's own bytes), line numbers, and the recovery from a corrupted
 * feature in the middle of a collection need.
 */

typedef struct rz_gis_span {
    const char *p, *e;
} rz_gis_span_t;

enum { RZ_GIS_SPAN_OK = 0, RZ_GIS_SPAN_SYNTAX = -1, RZ_GIS_SPAN_EOF = -2 };

/* Skip one JSON value at p (after white space). Returns RZ_GIS_SPAN_OK with
 * *end after it, or an error with *end at the problem. */
int rz__gis_json_skip(const char *p, const char *e, const char **end);
const char *rz__gis_json_ws(const char *p, const char *e);

/* Find the value of member key in the object spanned by obj. Returns 0 and
 * *val, or -1 when absent (or obj is not an object). */
int rz__gis_json_member(rz_gis_span_t obj, const char *key, rz_gis_span_t *val);

/* Copy a JSON text without the white space between tokens. */
void rz__gis_json_compact(rzc_buf_t *b, const char *p, const char *e);

/* Call fn for each element of the array spanned by arr (stops on the first
 * syntax error: returns it, or 0). */
typedef int (*rz_gis_elem_fn)(rz_gis_span_t elem, size_t i, void *user);
int rz__gis_json_each(rz_gis_span_t arr, rz_gis_elem_fn fn, void *user);

/* ---------------------------------------------------------------------------
 * WKT to GeoJSON (sink.c), for the WKT the GML reader writes.
 */

/* Write the GeoJSON geometry object for wkt into b, swapping the first two
 * ordinates when swap is set. Returns 0 or -1 with a reason in err. */
int rz__gis_wkt_to_geojson(const char *wkt, int swap, rzc_buf_t *b, char *err,
                           size_t err_len);

#endif
