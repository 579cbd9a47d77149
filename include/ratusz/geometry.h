/* geometry.h - GisFeature geometries as GeoJSON, for every program that
 * writes GIS files (the gis adapter's sink, `ratusz export`).
 *
 * A Geometry (proto/ratusz/v1/gis.proto) keeps what its source wrote: a
 * GeoJSON geometry text or WKT, in its own CRS and axis order. GeoJSON is
 * always x, y (easting, northing; longitude, latitude), so a geometry
 * written northing first (axis_order "yx") has its first two ordinates
 * swapped on the way out; the digits stay as written. Nothing here
 * reprojects.
 */
#ifndef RATUSZ_GEOMETRY_H
#define RATUSZ_GEOMETRY_H

#include <stddef.h>

#include "ratusz/v1/gis.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The EPSG code of a CRS name as GeoJSON and GML write them: "EPSG:2177",
 * "urn:ogc:def:crs:EPSG::2177", "urn:ogc:def:crs:EPSG:6.3:2177",
 * "http://www.opengis.net/def/crs/EPSG/0/2177"; OGC CRS84 is 4326 with
 * longitude first (*lonlat set). Returns the code, or 0 when name is none
 * of these. */
int rz_geo_crs_code(const char *name, int *lonlat);

/* The GeoJSON geometry object for wkt (the six simple types and
 * GEOMETRYCOLLECTION; Z, M ordinates kept), first two ordinates swapped
 * when swap is set. On success *out is a malloc'd NUL-terminated compact
 * text (the caller frees it) and 0 is returned; else -1 with a reason in
 * err ("WKT: ')' expected at '...'", "out of memory"). */
int rz_geo_wkt_to_geojson(const char *wkt, int swap, char **out, char *err,
                          size_t err_len);

/* g as a GeoJSON geometry object: its geojson text when set (checked to be
 * a JSON object with a string "type", returned as written), else its WKT
 * converted, swapped when axis_order is "yx" (and the CRS is not CRS84).
 * On success *out is malloc'd, *epsg the CRS's EPSG code, and 0 is
 * returned; -1 with why ("unknown CRS 'X'" (also for g NULL), "no
 * geometry", "geometry.geojson is not a GeoJSON geometry", a WKT error)
 * when there is no GeoJSON for it; RZ_ENOMEM. */
int rz_geo_to_geojson(const Ratusz__V1__Geometry *g, char **out, int *epsg,
                      char *why, size_t why_len);

/* strtod of the whole of [s, s+n) in decimal (no hex, "inf" or "nan"):
 * 0, or -1 when it is not one finite number. */
int rz_geo_number(const char *s, size_t n, double *v);

/* 1 when [s, s+n) is a number in the syntax of RFC 8259, that is what may
 * be written into JSON as it is; else 0. */
int rz_geo_json_number(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
