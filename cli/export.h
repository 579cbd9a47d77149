/* export.h - `ratusz export`: events to open-data files (CSV, JSON lines,
 * GeoJSON) and the metadata file that describes one.
 *
 * The command (cli/ratusz.c) reads the events page by page and hands each
 * to export_event, which writes it at once: nothing is held but the
 * current event and a few counters, so an export of any size runs in the
 * same memory.
 */
#ifndef RATUSZ_CLI_EXPORT_H
#define RATUSZ_CLI_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "ratusz/ratusz.h"

typedef enum export_format {
    EXPORT_CSV,
    EXPORT_JSON,   /* JSON lines: one CloudEvent per line */
    EXPORT_GEOJSON /* a FeatureCollection of the GIS events */
} export_format_t;

typedef struct export_job export_t;

/* What to write, and what to say about it in the metadata. */
typedef struct export_opts {
    export_format_t format;
    const char *topic;    /* the topic prefix asked for ("" = every topic) */
    int64_t since, until; /* event time asked for, unix µs; 0 = open */
    const char *licence;  /* NULL: null in the metadata */
    int raw;              /* 1: raw-data events too (no schema marks reach
                           * them: the operator vouches for their bytes) */
    int crs;              /* GeoJSON: only features in EPSG:crs; 0 = the
                           * CRS of the first feature */
} export_opts_t;

/* An export writing to out (borrowed; the caller closes it). Returns NULL
 * on ENOMEM, or with errno EINVAL for a format it does not know. */
export_t *export_new(const export_opts_t *o, FILE *out);

/* Write one event. Events that do not fit the format (not a GIS feature,
 * or without geometry, in GeoJSON; data of another domain in a CSV of one
 * domain) and raw-data events (unless opts.raw) are skipped and counted.
 * Returns 0, or a negative RZ_E* code with err saying why (RZ_EINVAL: a feature
 * in another CRS than the file's; RZ_EPROTO: personal data came back not
 * pseudonymised; RZ_EIO: out failed). */
int export_event(export_t *x, const Ratusz__V1__Event *ev, char *err,
                 size_t err_len);

/* Finish the file (the header of an empty CSV, the end of a
 * FeatureCollection) and flush out. Returns 0 or RZ_EIO. */
int export_end(export_t *x, char *err, size_t err_len);

/* The metadata file's JSON (pretty-printed, with a trailing newline):
 * source(s), topic, time range asked for and found, count, what was
 * skipped, format, licence, exporter, time made, redaction. file is the
 * data file's name as it goes into the metadata (NULL: standard output).
 * Returns a malloc'd string or NULL on ENOMEM. */
char *export_meta(const export_t *x, const char *file);

/* Events of the range the broker withheld (the grant, or data it could not
 * redact): told to the export for the metadata. */
void export_withheld(export_t *x, uint64_t n);

/* Events written, and skipped. */
uint64_t export_count(const export_t *x);
uint64_t export_skipped(const export_t *x);

/* Safe with NULL and twice. */
void export_destroy(export_t **x);

#endif
