/* environment.c - GIOŚ air-quality API responses onto the bus
 *
 * What comes in (files or POSTed JSON bodies, told apart by their keys,
 * never by the file name):
 *
 *   shape             pjp-api (until 2025)            v1 API (2025)
 *   ----------------  ------------------------------  ----------------------
 *   station list      [{"id","stationName","gegrLat", {"Lista stacji
 *                       "gegrLon","city":{..},..}]      pomiarowych":[{
 *                                                       "Identyfikator
 *                                                       stacji","Nazwa
 *                                                       stacji",..}]} or the
 *                                                       bare array
 *   sensors           [{"id","stationId","param":{}}] {"Lista stanowisk
 *                                                       pomiarowych dla
 *                                                       podanej stacji":[..]}
 *                                                       or the bare array
 *   measurement data  {"key":"PM10","values":[        {"Lista danych
 *                       {"date","value"}]}              pomiarowych":[{"Kod
 *                                                       stanowiska","Data",
 *                                                       "Wartość"}]}
 *   air-quality index {"id","stCalcDate",             {"AqIndex":{
 *                       "stIndexLevel",..}              "Identyfikator stacji
 *                                                       pomiarowej",..}}
 *
 * and what goes out (types, subjects and ids follow
 * deploy/sample/make-sample.py):
 *
 *   station record  -> pl.gov.gmina.env.air.station.v1, subject station:<id>,
 *                      raw JSON in the pjp shape (both APIs give the same
 *                      bytes), tenant = the station's gmina (TERC)
 *   sensor record   -> pl.gov.gmina.env.air.sensor.v1, subject station:<id>,
 *                      raw JSON in the pjp shape
 *   value           -> pl.gov.gmina.env.air.measurement.v1, subject
 *                      station:<id>, AirQualityMeasurement; null = no
 *                      measurement (value unset), never 0
 *   index slot      -> pl.gov.gmina.env.air.index.v1, subject station:<id>,
 *                      AirQualityMeasurement with index_level; one record
 *                      per slot: the overall index ("AQI") and each
 *                      pollutant's
 *
 * Event ids (stable: the same record in any export is the same event):
 *
 *   gios-station-117-<fnv64 of the data>   a changed station is a new event
 *   gios-sensor-672-<fnv64 of the data>
 *   gios-14395-2021012317                   sensor + Warsaw hour, as
 *                                           make-sample.py; "+0100"/"+0200"
 *                                           appended in the hour lived twice
 *   gios-14395-2021012317-null              no value: the value that fills
 *                                           the hour later is another event
 *   gios-index-117-pm10-20210123T162016Z    station, slot, calc time (UTC)
 *
 * Where a measurement belongs. A getData response does not name its
 * sensor: the sensor id is the module option sensor_id when set, else the
 * first number standing alone in the input's name ("getData_14395_PM10.json",
 * "14395.json", a POST to ".../getData/14395"), else the v1 record's own
 * "Kod stanowiska". The station is the one the sensor list names for that
 * sensor (sensor lists parsed earlier, or preloaded at open), else the
 * option station_id, else the station whose code begins the v1 "Kod
 * stanowiska"; without one the record is quarantined ("station: ...").
 * The tenant is the station's gmina, else the option tenant. The gmina
 * comes from the station's province, district and commune names, looked
 * up in the TERC register the runtime lends (the adapter's teryt: files,
 * which also check every tenant); the module keeps no register of its
 * own. A preloaded station list is read at open, before any register is
 * lent, so its stations are placed when a record first needs them.
 *
 * Times. The feed writes local times ("2021-01-23 17:00:00") in
 * Europe/Warsaw; they are converted with the system tz database (core/time.h,
 * no TZ global) and kept as written in source_time with time_zone. At the
 * autumn change the hour 02:00-03:00 happens twice: of two equal times in
 * one input the chronologically first is CEST, the second CET, told apart
 * by the order the input runs in (the pjp feed runs newest first); a lone
 * one is taken by that order too (CET when newest first), so an input cut
 * inside that hour may put it an hour off. A time in the spring gap does
 * not exist and is quarantined. Epoch milliseconds (the index's
 * "no2CalcDate") are UTC. period_start is the time the feed writes, as in
 * make-sample.py; period_seconds is 3600 (86400 for a v1 "-24g" sensor).
 * Station and sensor records carry no time: the runtime stamps them.
 * Every event's source is "/<tenant>/env/<system>" (option system).
 *
 * Robustness. jansson parses each record; a small scanner (s_elem_end)
 * only finds where each record starts and ends, so that a corrupted or
 * truncated record is quarantined with its own bytes and line while the
 * records around it still go out. jansson cannot do this by itself: it
 * parses a whole document or nothing. In a pretty-printed array (each
 * record starts a line, its members indented deeper) the scanner also
 * resynchronises after damage: a string not closed on its own line, or a
 * record still open when a line starts the next record in its column, is
 * quarantined as the bytes up to that line, and reading goes on there.
 * Minified input (what the GIOŚ API sends) has no lines, but its records
 * share their first member: a record that does not parse ends where the
 * next "},{<that member>:" begins (s_resync_minified).
 *
 * Encodings. The input's encoding is decided from its bytes (core
 * rzc_text_decode) unless its content type names one; in a UTF-8 input a
 * field in Windows-1250 is decoded on its own, and a record holding a byte
 * that is neither is quarantined naming its offset. A quarantined record
 * keeps its bytes as received (rzc_text_map).
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "env.h"
#include "ratusz/adapter.h"
#include "ratusz/core/text.h"
#include "ratusz/core/time.h"

#define S_TYPE_STATION "pl.gov.gmina.env.air.station.v1"
#define S_TYPE_SENSOR "pl.gov.gmina.env.air.sensor.v1"
#define S_TYPE_MEASUREMENT "pl.gov.gmina.env.air.measurement.v1"
#define S_TYPE_INDEX "pl.gov.gmina.env.air.index.v1"
#define S_ZONE "Europe/Warsaw"
#define S_UNIT "ug/m3" /* every GIOŚ concentration, CO included */

/* ==========================================================================
 * Options
 */

typedef struct s_conf {
    char *tenant;
    char *zoneinfo;
    char *system;
    rz_conf_list_t preload;
    uint64_t sensor_id;
    uint64_t station_id;
} s_conf_t;

static const rz_conf_option_t s_options[] = {
    {"tenant", RZ_CONF_STRING, offsetof(s_conf_t, tenant), "", NULL, 0, 0,
     "TERC",
     "tenant of records whose station's gmina is not known (no TERC "
     "register, the adapter's teryt, or station not in a station list)"},
    {"zoneinfo", RZ_CONF_STRING, offsetof(s_conf_t, zoneinfo),
     "/usr/share/zoneinfo/Europe/Warsaw", NULL, 0, 0, "FILE|builtin",
     "TZif file of Europe/Warsaw; 'builtin' = EU rule (right from 1996)"},
    {"system", RZ_CONF_STRING, offsetof(s_conf_t, system), "gios", NULL, 0, 0,
     "NAME", "last segment of each event's source: /<tenant>/env/<system>"},
    {"preload", RZ_CONF_LIST, offsetof(s_conf_t, preload), "", NULL, 0, 0,
     "FILE[,FILE]",
     "station lists and sensor lists read at start (no events) to place "
     "measurements; comma-separated"},
    {"sensor_id", RZ_CONF_UINT, offsetof(s_conf_t, sensor_id), "0", NULL, 0,
     UINT64_MAX / 2, "ID",
     "sensor of every measurement input (0: from the input's name)"},
    {"station_id", RZ_CONF_UINT, offsetof(s_conf_t, station_id), "0", NULL, 0,
     UINT64_MAX / 2, "ID",
     "station of measurements whose sensor no sensor list names (0: none)"},
    {0}};

/* ==========================================================================
 * State: what the module has learnt about stations and sensors
 */

typedef struct s_station {
    int64_t id;
    char tenant[8]; /* "" until placed */
    /* where GIOŚ says it is, to place it when a register is lent (a
     * preloaded list is read before any is) */
    char *woj, *pow, *gmi, *city;
    int listed;    /* read from a station list */
    char code[48]; /* v1 "Kod stacji", "" if unknown */
    double lat, lon;
    int has_coord;
} s_station_t;

typedef struct s_sensor {
    int64_t id;
    int64_t station;
    char param[24]; /* paramCode: "PM2.5" */
    char *name;     /* paramName: "pył zawieszony PM2.5" */
} s_sensor_t;

typedef struct s_state {
    char *tenant, *system;
    int64_t sensor_id, station_id;
    rzc_tz_t *tz;
    pthread_mutex_t lock; /* one parse at a time: the tables change */
    s_station_t *stations;
    size_t n_stations, cap_stations;
    s_sensor_t *sensors;
    size_t n_sensors, cap_sensors;
} s_state_t;

static s_station_t *s_station_find(s_state_t *st, int64_t id)
{
    for (size_t i = 0; i < st->n_stations; i++)
        if (st->stations[i].id == id)
            return &st->stations[i];
    return NULL;
}

static s_station_t *s_station_by_code(s_state_t *st, const char *code,
                                      size_t len)
{
    for (size_t i = 0; i < st->n_stations; i++)
        if (strlen(st->stations[i].code) == len &&
            !memcmp(st->stations[i].code, code, len))
            return &st->stations[i];
    return NULL;
}

static s_sensor_t *s_sensor_find(s_state_t *st, int64_t id)
{
    for (size_t i = 0; i < st->n_sensors; i++)
        if (st->sensors[i].id == id)
            return &st->sensors[i];
    return NULL;
}

static s_station_t *s_station_put(s_state_t *st, int64_t id)
{
    s_station_t *s = s_station_find(st, id);
    if (s)
        return s;
    if (st->n_stations == st->cap_stations) {
        size_t cap = st->cap_stations ? st->cap_stations * 2 : 256;
        s_station_t *n = realloc(st->stations, cap * sizeof *n);
        if (!n)
            return NULL;
        st->stations = n;
        st->cap_stations = cap;
    }
    s = &st->stations[st->n_stations++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

/* Keep where GIOŚ says station s is (copies; NULLs free them). 0 or
 * RZ_ENOMEM. */
static int s_names(s_station_t *s, const char *woj, const char *pow,
                   const char *gmi, const char *city)
{
    char **dst[4] = {&s->woj, &s->pow, &s->gmi, &s->city};
    const char *src[4] = {woj, pow, gmi, city};
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        free(*dst[i]);
        *dst[i] = src[i] ? strdup(src[i]) : NULL;
        if (src[i] && !*dst[i])
            rc = RZ_ENOMEM;
    }
    return rc;
}

static s_sensor_t *s_sensor_put(s_state_t *st, int64_t id)
{
    s_sensor_t *s = s_sensor_find(st, id);
    if (s)
        return s;
    if (st->n_sensors == st->cap_sensors) {
        size_t cap = st->cap_sensors ? st->cap_sensors * 2 : 256;
        s_sensor_t *n = realloc(st->sensors, cap * sizeof *n);
        if (!n)
            return NULL;
        st->sensors = n;
        st->cap_sensors = cap;
    }
    s = &st->sensors[st->n_sensors++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

/* ==========================================================================
 * One parse
 */

/* One wall-clock time that occurs twice (autumn change) seen in an input. */
typedef struct s_seen {
    int64_t local;
    int count;
} s_seen_t;

typedef struct s_ctx {
    s_state_t *st;
    const rz_input_t *in;
    rz_out_t *out;
    int quiet; /* preload: learn, report nothing */
    const char *base, *end;
    const rzc_text_t *text; /* the input decoded; NULL in a preload */
    const size_t *map;      /* offset in base -> offset in in->data */
    const char *line_pos;   /* line cache for s_line */
    uint64_t line_no;
    /* measurement data */
    int64_t sensor_id;  /* 0: unknown */
    const char *key;    /* pjp "key": the parameter code */
    char last_date[24]; /* order of the file: newest or oldest first */
    int dir;            /* -1 newest first, +1 oldest first, 0 unknown */
    s_seen_t seen[96];  /* minute data has 60 twice-lived times */
    int n_seen;
    int fatal;        /* an RZ_E* the runtime returned that stops us */
    int docs;         /* documents read so far */
    const char *cut;  /* what the input ends inside ("the root array"):
                         the file is cut short; NULL when it is whole */
    char layout[240]; /* why the input is not a GIOŚ response */
    size_t n_bad;     /* preload: records not understood */
    char first_bad[320];
} s_ctx_t;

typedef struct s_rec {
    const char *p; /* the record's bytes */
    size_t len;
    char key[96];
} s_rec_t;

static uint64_t s_line(s_ctx_t *c, const char *pos)
{
    if (!c->line_pos || pos < c->line_pos) {
        c->line_pos = c->base;
        c->line_no = c->in->first_line ? c->in->first_line : 1;
    }
    for (const char *q = c->line_pos; q < pos; q++)
        if (*q == '\n')
            c->line_no++;
    c->line_pos = pos;
    return c->line_no;
}

/* The record as the runtime keeps it: its bytes as they were received,
 * also when the module read a re-encoded copy. */
static void s_ref(s_ctx_t *c, const s_rec_t *r, rz_record_ref_t *ref)
{
    ref->line = s_line(c, r->p);
    ref->key = r->key;
    ref->bytes = (const uint8_t *)r->p;
    ref->len = r->len;
    if (c->map) {
        size_t a = (size_t)(r->p - c->base), b = a + r->len;
        size_t oa = c->map[a], ob = c->map[b];
        ref->bytes = c->in->data + oa;
        ref->len = ob - oa;
    }
}

/* Report r as quarantined. Returns 0, so that a mapper can end with
 * "return s_quarantine(...)". */
static int s_quarantine(s_ctx_t *c, const s_rec_t *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_quarantine(s_ctx_t *c, const s_rec_t *r, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->quiet) {
        /* preload: nothing is reported, but open() says what failed */
        if (c->n_bad++ == 0)
            snprintf(c->first_bad, sizeof c->first_bad, "%.90s: %.200s", r->key,
                     why);
        return 0;
    }
    rz_record_ref_t ref;
    s_ref(c, r, &ref);
    /* a record that could not even be quarantined would be lost: stop,
     * so that the input is not taken as done */
    int rc = rz_out_quarantine(c->out, &ref, why);
    if (rc < 0)
        c->fatal = rc;
    return 0;
}

static void s_emit(s_ctx_t *c, const s_rec_t *r, const Ratusz__V1__Event *ev)
{
    if (c->quiet)
        return;
    rz_record_ref_t ref;
    s_ref(c, r, &ref);
    /* an event the runtime could not take it quarantined itself (the
     * contract in adapter.h): go on with the next record */
    (void)rz_out_event(c->out, &ref, ev);
}

/* ==========================================================================
 * Record boundaries
 */

static const char *s_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Bytes that end a scalar. */
static const unsigned char s_delim[256] = {
    [','] = 1, [']'] = 1, ['}'] = 1,  [':'] = 1,  ['['] = 1, ['{'] = 1,
    ['"'] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1};

/* The end of the JSON value starting at p (p < end), or NULL when the input
 * ends inside it. Only strings and nesting are followed: whether the bytes
 * are valid JSON is jansson's to say. A scalar ends at the first
 * delimiter. Never returns p itself: a stray delimiter is one byte. */
static const char *s_value_end(const char *p, const char *end)
{
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        for (; p < end; p++) {
            if (*p == '"') {
                const char *e = s_value_end(p, end);
                if (!e)
                    return NULL;
                p = e - 1;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return NULL;
    }
    const char *s = p;
    while (p < end && !s_delim[(unsigned char)*p])
        p++;
    return p == s ? s + 1 : p;
}

/* Column of p when only blanks precede it on its line, else -1. */
static long s_col(const char *base, const char *p)
{
    const char *q = p;
    while (q > base && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    return q > base && q[-1] != '\n' ? -1 : (long)(p - q);
}

/* Where a damaged record at p, starting in column col, ends: before the
 * first line after q that starts a record of its own in the same column
 * ('{' or '[') or leaves the array (a column left of it), without the
 * blanks and the ',' before that line. NULL when no such line follows. */
static const char *s_resync(const char *p, const char *q, const char *end,
                            long col)
{
    for (;;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            return NULL;
        const char *n = nl + 1;
        while (n < end && (*n == ' ' || *n == '\t'))
            n++;
        long ncol = (long)(n - (nl + 1));
        if (n < end && *n != '\n' && *n != '\r' &&
            (ncol < col || (ncol == col && (*n == '{' || *n == '[')))) {
            const char *e = nl;
            while (e > p + 1 && strchr(" \t\r\n", e[-1]))
                e--;
            if (e > p + 1 && e[-1] == ',')
                e--;
            return e;
        }
        q = n;
    }
}

/* The end of the array element at p, or NULL when the input ends inside
 * it. A record of a pretty-printed array (it starts a line, and its
 * members are indented deeper) that is damaged is cut off at the next
 * record instead of taking it along: a string that reaches the end of
 * its line is never closed (JSON strings hold no raw line breaks, and
 * following it would turn every quote after it inside out), and a line
 * that starts a record in the record's own column, or a line left of it,
 * while the record is still open means a '}' or ']' is missing. The
 * damaged record then ends before that line (s_resync) and why says what
 * broke; why is "" for a record that is not damaged. Minified arrays
 * have no lines to resynchronise on: s_value_end alone. */
static const char *s_elem_end(s_ctx_t *c, const char *p, char *why,
                              size_t why_len)
{
    const char *end = c->end;
    long col = s_col(c->base, p);
    why[0] = '\0';
    if ((*p != '{' && *p != '[') || col < 0)
        return s_value_end(p, end);
    size_t depth = 0;
    int indented = -1; /* members deeper than the record: unknown yet */
    for (const char *q = p; q < end; q++) {
        if (*q == '"') {
            const char *s = q;
            for (q++; q < end && *q != '"'; q++) {
                if (*q == '\\')
                    q++;
                else if (*q == '\n' || *q == '\r')
                    break;
            }
            if (q >= end)
                return NULL;
            if (*q != '"') {
                snprintf(why, why_len,
                         "not valid JSON: the string at line %" PRIu64
                         " is not closed before the end of its line",
                         s_line(c, s));
                return s_resync(p, q, end, col);
            }
        } else if (*q == '{' || *q == '[') {
            depth++;
        } else if (*q == '}' || *q == ']') {
            if (--depth == 0)
                return q + 1;
        } else if (*q == '\n') {
            const char *n = q + 1;
            while (n < end && (*n == ' ' || *n == '\t'))
                n++;
            if (n >= end || *n == '\n' || *n == '\r')
                continue;
            long ncol = (long)(n - (q + 1));
            if (indented < 0)
                indented = ncol > col;
            if (indented &&
                (ncol < col || (ncol == col && (*n == '{' || *n == '[')))) {
                snprintf(why, why_len,
                         "not valid JSON: the record is not closed (a '}' "
                         "or ']' is missing) before line %" PRIu64
                         ", where the next one begins",
                         s_line(c, n));
                return s_resync(p, q, end, col);
            }
        }
    }
    return NULL;
}

static json_t *s_load(const char *p, size_t len, char *why, size_t why_len)
{
    json_error_t e;
    json_t *j =
        json_loadb(p, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!j)
        snprintf(why, why_len,
                 "not valid JSON (%s, at byte %d of the "
                 "record)",
                 e.text, e.position);
    return j;
}

/* ==========================================================================
 * Field helpers: types as the feeds send them (numbers sometimes as
 * strings, with a decimal comma)
 */

/* An integer id: a JSON integer or a string of digits. */
static int s_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *e;
        if (!*s || !(isdigit((unsigned char)*s) || *s == '-'))
            return -1;
        long long x = strtoll(s, &e, 10);
        if (*e)
            return -1;
        *out = x;
        return 0;
    }
    return -1;
}

/* A decimal: a JSON number, or a string with '.' or a decimal comma. */
static int s_number(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? 0 : -1;
    }
    if (!json_is_string(v))
        return -1;
    char buf[64];
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf)
        return -1;
    for (size_t i = 0; i <= len; i++)
        buf[i] = s[i] == ',' ? '.' : s[i];
    for (const char *q = buf; *q; q++)
        if (!strchr("0123456789.-+eE", *q))
            return -1;
    char *e;
    *out = strtod(buf, &e);
    return *e || !isfinite(*out) ? -1 : 0;
}

static const char *s_str(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A short text of a JSON value for a reason: "'abc'", "true", "{...}". */
static const char *s_show(json_t *v, char *buf, size_t len)
{
    if (!v)
        snprintf(buf, len, "missing");
    else if (json_is_string(v))
        snprintf(buf, len, "'%.60s'", json_string_value(v));
    else if (json_is_object(v) || json_is_array(v))
        snprintf(buf, len, "%s", json_is_object(v) ? "an object" : "an array");
    else {
        char *d = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, len, "%.60s", d ? d : "?");
        free(d);
    }
    return buf;
}

static uint64_t s_fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Where a station is: the gmina its names give in the TERC register the
 * runtime lends (a commune the register does not know falls back to the
 * voivodeship), else the option tenant. 0 with tenant, or -1 with why. */
static int s_place(s_ctx_t *c, int64_t id, const char *woj_name,
                   const char *pow, const char *gmi, const char *city,
                   char tenant[8], char *why, size_t why_len)
{
    char woj[3], g[8];
    if (rz_out_has_units(c->out)) {
        if (!woj_name) {
            snprintf(why, why_len, "no voivodeship name");
            return -1;
        }
        if (rz__env_voivodeship(c->out, woj_name, woj)) {
            snprintf(why, why_len, "'%s' is not a voivodeship in TERC",
                     woj_name);
            return -1;
        }
        int found =
            pow && gmi && !rz__env_gmina(c->out, woj, pow, gmi, city, g);
        snprintf(tenant, 8, "%s", found ? g : woj);
        return 0;
    }
    if (c->st->tenant[0]) {
        snprintf(tenant, 8, "%s", c->st->tenant);
        return 0;
    }
    snprintf(why, why_len,
             "station %" PRId64 " cannot be placed: no TERC register "
             "(teryt) and no 'tenant' option",
             id);
    return -1;
}

/* The tenant of a station: its gmina if known or found now, else the
 * option. NULL with why when there is neither. */
static const char *s_tenant_of(s_ctx_t *c, int64_t station, char *why,
                               size_t why_len)
{
    s_station_t *s = station ? s_station_find(c->st, station) : NULL;
    if (s && !s->tenant[0] && s->listed && rz_out_has_units(c->out)) {
        char place_why[256];
        if (!s_place(c, s->id, s->woj, s->pow, s->gmi, s->city, s->tenant,
                     place_why, sizeof place_why))
            return s->tenant;
        if (!c->st->tenant[0]) {
            snprintf(why, why_len, "station %" PRId64 ": %.200s", station,
                     place_why);
            return NULL;
        }
    }
    if (s && s->tenant[0])
        return s->tenant;
    if (c->st->tenant[0])
        return c->st->tenant;
    if (s && s->listed)
        snprintf(why, why_len,
                 "station %" PRId64 " cannot be placed: no TERC register "
                 "(teryt) and no 'tenant' option",
                 station);
    else
        snprintf(why, why_len,
                 "station %" PRId64 " is in no station list read so far and "
                 "there is no 'tenant' option",
                 station);
    return NULL;
}

/* ==========================================================================
 * Raw events: stations and sensors
 */

static void s_emit_raw(s_ctx_t *c, const s_rec_t *r, const char *type,
                       const char *what, int64_t id, int64_t station,
                       const char *tenant, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        c->fatal = RZ_ENOMEM;
        return;
    }
    char evid[RZ_ID_MAX + 1], source[RZ_SOURCE_MAX + 1], subject[64];
    /* the record's id and a digest of its content: the same station in
     * any export is one event; a changed one (moved, renamed) is new */
    snprintf(evid, sizeof evid, "gios-%s-%" PRId64 "-%016" PRIx64, what, id,
             s_fnv(text));
    snprintf(source, sizeof source, "/%s/env/%s", tenant, c->st->system);
    snprintf(subject, sizeof subject, "station:%" PRId64, station);
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    raw.content_type = (char *)"application/json";
    raw.bytes.data = (uint8_t *)text;
    raw.bytes.len = strlen(text);
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    ev.id = evid;
    ev.source = source;
    ev.type = (char *)type;
    ev.subject = subject;
    ev.tenant = (char *)tenant;
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    s_emit(c, r, &ev);
    free(text);
}

/* A station record of either API, in the pjp shape. The reason names the
 * field as the record spells it. */
static int s_station(s_ctx_t *c, const s_rec_t *r, json_t *o, int v1)
{
    char show[96];
    const char *k_id = v1 ? "Identyfikator stacji" : "id";
    const char *k_name = v1 ? "Nazwa stacji" : "stationName";
    const char *k_lat = v1 ? "WGS84 φ N" : "gegrLat";
    const char *k_lon = v1 ? "WGS84 λ E" : "gegrLon";
    const char *k_cid = v1 ? "Identyfikator miasta" : "city.id";
    const char *k_city = v1 ? "Nazwa miasta" : "city.name";
    const char *k_gmi = v1 ? "Gmina" : "city.commune.communeName";
    const char *k_pow = v1 ? "Powiat" : "city.commune.districtName";
    const char *k_woj = v1 ? "Województwo" : "city.commune.provinceName";
    const char *k_street = v1 ? "Ulica" : "addressStreet";
    json_t *city = v1 ? NULL : json_object_get(o, "city");
    json_t *commune = city ? json_object_get(city, "commune") : NULL;
    json_t *j_id = json_object_get(o, k_id);
    json_t *j_name = json_object_get(o, k_name);
    json_t *j_lat = json_object_get(o, k_lat);
    json_t *j_lon = json_object_get(o, k_lon);
    json_t *j_cid =
        v1 ? json_object_get(o, k_cid) : json_object_get(city, "id");
    json_t *j_city =
        v1 ? json_object_get(o, k_city) : json_object_get(city, "name");
    json_t *j_gmi = v1 ? json_object_get(o, k_gmi)
                       : json_object_get(commune, "communeName");
    json_t *j_pow = v1 ? json_object_get(o, k_pow)
                       : json_object_get(commune, "districtName");
    json_t *j_woj = v1 ? json_object_get(o, k_woj)
                       : json_object_get(commune, "provinceName");
    json_t *j_street = json_object_get(o, k_street);
    json_t *j_code = v1 ? json_object_get(o, "Kod stacji") : NULL;
    int64_t id;
    double lat, lon;
    if (s_int(j_id, &id) || id <= 0)
        return s_quarantine(c, r, "%s: %s is not a station id", k_id,
                            s_show(j_id, show, sizeof show));
    if (!s_str(j_name) || !*s_str(j_name))
        return s_quarantine(c, r, "%s: %s is not a station name", k_name,
                            s_show(j_name, show, sizeof show));
    if (s_number(j_lat, &lat) || lat < -90 || lat > 90)
        return s_quarantine(c, r, "%s: %s is not a WGS84 latitude", k_lat,
                            s_show(j_lat, show, sizeof show));
    if (s_number(j_lon, &lon) || lon < -180 || lon > 180)
        return s_quarantine(c, r, "%s: %s is not a WGS84 longitude", k_lon,
                            s_show(j_lon, show, sizeof show));
    const char *woj_name = s_str(j_woj), *pow = s_str(j_pow),
               *gmi = s_str(j_gmi), *cityname = s_str(j_city);

    /* where it is: TERC by names, as make-sample.py does; a preloaded
     * list is placed when a measurement needs it, with the register lent
     * then */
    char tenant[8] = "", why[256];
    if (!c->quiet) {
        if (rz_out_has_units(c->out) && !woj_name)
            return s_quarantine(c, r, "%s: %s is not a voivodeship name", k_woj,
                                s_show(j_woj, show, sizeof show));
        if (s_place(c, id, woj_name, pow, gmi, cityname, tenant, why,
                    sizeof why))
            return s_quarantine(c, r, "%s: %s",
                                rz_out_has_units(c->out) ? k_woj : "tenant",
                                why);
    }

    /* the pjp shape, whichever API it came from */
    json_t *d =
        json_pack("{s:I, s:O}", "id", (json_int_t)id, "stationName", j_name);
    json_t *jc = json_object();
    json_t *jm = json_object();
    if (!d || !jc || !jm)
        goto nomem;
    json_object_set(d, "gegrLat", j_lat);
    json_object_set(d, "gegrLon", j_lon);
    json_object_set(jc, "id", j_cid ? j_cid : json_null());
    json_object_set(jc, "name", j_city ? j_city : json_null());
    json_object_set(jm, "communeName", j_gmi ? j_gmi : json_null());
    json_object_set(jm, "districtName", j_pow ? j_pow : json_null());
    json_object_set(jm, "provinceName", j_woj ? j_woj : json_null());
    json_object_set_new(jc, "commune", jm);
    json_object_set_new(d, "city", jc);
    jc = jm = NULL;
    json_object_set(d, "addressStreet", j_street ? j_street : json_null());
    if (s_str(j_code))
        json_object_set(d, "stationCode", j_code);

    s_station_t *s = s_station_put(c->st, id);
    if (!s)
        goto nomem;
    snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
    s->listed = 1;
    if (s_names(s, woj_name, pow, gmi, cityname)) {
        c->fatal = RZ_ENOMEM;
        json_decref(d);
        return 0;
    }
    if (s_str(j_code))
        snprintf(s->code, sizeof s->code, "%s", s_str(j_code));
    s->lat = lat;
    s->lon = lon;
    s->has_coord = 1;
    s_emit_raw(c, r, S_TYPE_STATION, "station", id, id, tenant, d);
    json_decref(d);
    return 0;
nomem:
    json_decref(d);
    json_decref(jc);
    json_decref(jm);
    c->fatal = RZ_ENOMEM;
    return 0;
}

static int s_sensor(s_ctx_t *c, const s_rec_t *r, json_t *o, int v1)
{
    char show[96];
    json_t *param = v1 ? o : json_object_get(o, "param");
    const char *k_id = v1 ? "Identyfikator stanowiska" : "id";
    const char *k_st = v1 ? "Identyfikator stacji" : "stationId";
    const char *k_code = v1 ? "Wskaźnik - kod" : "param.paramCode";
    json_t *j_id = json_object_get(o, k_id);
    json_t *j_st = json_object_get(o, k_st);
    json_t *j_name = json_object_get(param, v1 ? "Wskaźnik" : "paramName");
    json_t *j_formula =
        json_object_get(param, v1 ? "Wskaźnik - wzór" : "paramFormula");
    json_t *j_code =
        json_object_get(param, v1 ? "Wskaźnik - kod" : "paramCode");
    json_t *j_pid = json_object_get(param, v1 ? "Id wskaźnika" : "idParam");
    int64_t id, station;
    if (s_int(j_id, &id) || id <= 0)
        return s_quarantine(c, r, "%s: %s is not a sensor id", k_id,
                            s_show(j_id, show, sizeof show));
    if (s_int(j_st, &station) || station <= 0)
        return s_quarantine(c, r, "%s: %s is not a station id", k_st,
                            s_show(j_st, show, sizeof show));
    const char *code = s_str(j_code);
    if (!code || !*code || strlen(code) >= sizeof((s_sensor_t *)0)->param)
        return s_quarantine(c, r, "%s: %s is not a parameter code", k_code,
                            s_show(j_code, show, sizeof show));
    /* learnt even if it cannot be published: it places measurements */
    s_sensor_t *s = s_sensor_put(c->st, id);
    if (!s) {
        c->fatal = RZ_ENOMEM;
        return 0;
    }
    s->station = station;
    snprintf(s->param, sizeof s->param, "%s", code);
    free(s->name);
    s->name = s_str(j_name) ? strdup(s_str(j_name)) : NULL;
    if (c->quiet)
        return 0; /* preload: learning it was all */
    char why[256];
    const char *tenant = s_tenant_of(c, station, why, sizeof why);
    if (!tenant)
        return s_quarantine(c, r, "tenant: %s", why);

    json_t *p = json_object();
    json_t *d = json_pack("{s:I, s:I}", "id", (json_int_t)id, "stationId",
                          (json_int_t)station);
    if (!p || !d)
        goto nomem;
    json_object_set(p, "paramName", j_name ? j_name : json_null());
    json_object_set(p, "paramFormula", j_formula ? j_formula : json_null());
    json_object_set(p, "paramCode", j_code);
    json_object_set(p, "idParam", j_pid ? j_pid : json_null());
    json_object_set_new(d, "param", p);
    p = NULL;

    s_emit_raw(c, r, S_TYPE_SENSOR, "sensor", id, station, tenant, d);
    json_decref(d);
    return 0;
nomem:
    json_decref(p);
    json_decref(d);
    c->fatal = RZ_ENOMEM;
    return 0;
}

/* ==========================================================================
 * Measurements
 */

/* The civil date and time of unix time t (proleptic Gregorian). */
static void s_civil(int64_t t, int64_t f[6])
{
    int64_t days = t / 86400 - (t % 86400 < 0);
    int64_t secs = t - days * 86400;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    f[2] = doy - (153 * mp + 2) / 5 + 1;
    f[1] = mp < 10 ? mp + 3 : mp - 9;
    f[0] = yoe + era * 400 + (f[1] <= 2);
    f[3] = secs / 3600;
    f[4] = secs / 60 % 60;
    f[5] = secs % 60;
}

/* The feed's time (a local "YYYY-MM-DD HH:MM:SS" or epoch milliseconds)
 * as unix microseconds, the text as written, and whether the wall-clock
 * time is one of the twice-lived autumn hours (offset then says which). */
typedef struct s_when {
    int64_t us;
    char text[32];
    int ambiguous;
    int32_t offset;
} s_when_t;

/* 0, or -1 with why. order_aware: v is one of a series (getData), so a
 * time shown twice is told apart by the order of the input. */
static int s_when(s_ctx_t *c, json_t *v, s_when_t *w, int order_aware,
                  char *why, size_t why_len)
{
    char show[96];
    memset(w, 0, sizeof *w);
    if (json_is_integer(v)) {
        /* epoch milliseconds, UTC by definition */
        json_int_t ms = json_integer_value(v);
        if (ms < -62135596800000LL || ms > 253402300799000LL) {
            snprintf(why, why_len,
                     "%s is out of range for epoch "
                     "milliseconds",
                     s_show(v, show, sizeof show));
            return -1;
        }
        w->us = (int64_t)ms * 1000;
        snprintf(w->text, sizeof w->text, "%" PRId64, (int64_t)ms);
        /* the wall-clock time it was in Warsaw, for the id */
        int64_t sec = ms / 1000 - (ms % 1000 < 0), t2[2];
        w->offset = rzc_tz_offset(c->st->tz, sec);
        w->ambiguous = rzc_tz_instants(c->st->tz, sec + w->offset, t2) == 2;
        return 0;
    }
    const char *s = s_str(v);
    int64_t local, t[2];
    if (!s || rzc_parse_local(s, &local)) {
        snprintf(why, why_len,
                 "%s is not a date 'YYYY-MM-DD HH:MM:SS' nor "
                 "epoch milliseconds",
                 s_show(v, show, sizeof show));
        return -1;
    }
    snprintf(w->text, sizeof w->text, "%s", s);
    int n = rzc_tz_instants(c->st->tz, local, t);
    if (n == 0) {
        snprintf(why, why_len,
                 "'%s' does not exist in %s (the clock "
                 "skipped that hour)",
                 s, S_ZONE);
        return -1;
    }
    int pick = 0; /* t[0]: the earlier instant, CEST */
    if (n == 2) {
        w->ambiguous = 1;
        if (order_aware) {
            int i, seen = 0;
            for (i = 0; i < c->n_seen && c->seen[i].local != local; i++)
                ;
            if (i == c->n_seen &&
                i < (int)(sizeof c->seen / sizeof c->seen[0])) {
                c->seen[i].local = local;
                c->seen[i].count = 0;
                c->n_seen++;
            }
            if (i == c->n_seen) {
                snprintf(why, why_len,
                         "'%s' is in the hour the clock went "
                         "back, and the input has too many such times to "
                         "tell them apart",
                         s);
                return -1;
            }
            seen = c->seen[i].count++;
            /* chronologically the first showing is CEST, the second CET;
             * a newest-first file shows the CET one first */
            pick = c->dir < 0 ? seen == 0 : seen > 0;
        }
    }
    w->us = t[pick] * 1000000;
    w->offset = (int32_t)(local - t[pick]);
    return 0;
}

/* Track whether the file runs newest first (the pjp feed does). */
static void s_order(s_ctx_t *c, const char *date)
{
    if (!date || strlen(date) >= sizeof c->last_date)
        return;
    if (c->last_date[0] && c->dir == 0) {
        int cmp = strcmp(date, c->last_date);
        if (cmp)
            c->dir = cmp < 0 ? -1 : 1;
    }
    snprintf(c->last_date, sizeof c->last_date, "%s", date);
}

/* The id's time part: the Warsaw wall-clock time, "2021012317" on the
 * hour (as make-sample.py), "20210123172016" otherwise. */
static void s_stamp(const s_when_t *w, char *out, size_t len)
{
    int64_t f[6];
    int64_t t = w->us / 1000000 - (w->us % 1000000 < 0);
    s_civil(t + w->offset, f);
    if (f[4] == 0 && f[5] == 0)
        snprintf(out, len, "%04" PRId64 "%02" PRId64 "%02" PRId64 "%02" PRId64,
                 f[0], f[1], f[2], f[3]);
    else
        snprintf(out, len,
                 "%04" PRId64 "%02" PRId64 "%02" PRId64 "%02" PRId64
                 "%02" PRId64 "%02" PRId64,
                 f[0], f[1], f[2], f[3], f[4], f[5]);
}

static const char *s_param_name(const char *code)
{
    static const char *const names[][2] = {{"SO2", "dwutlenek siarki"},
                                           {"NO2", "dwutlenek azotu"},
                                           {"CO", "tlenek węgla"},
                                           {"O3", "ozon"},
                                           {"C6H6", "benzen"},
                                           {"PM10", "pył zawieszony PM10"},
                                           {"PM2.5", "pył zawieszony PM2.5"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], code))
            return names[i][1];
    return "";
}

static int s_value(s_ctx_t *c, const s_rec_t *r, json_t *o, int v1)
{
    char show[96], why[256];
    const char *k_date = v1 ? "Data" : "date";
    const char *k_value = v1 ? "Wartość" : "value";
    json_t *j_date = json_object_get(o, k_date);
    json_t *j_value = json_object_get(o, k_value);
    const char *code = v1 ? s_str(json_object_get(o, "Kod stanowiska")) : NULL;
    s_state_t *st = c->st;

    /* the v1 sensor code: <station code>-<parameter>-<averaging> */
    char param[24] = "", stcode[48] = "";
    int32_t period = 3600;
    if (code) {
        const char *last = strrchr(code, '-');
        const char *mid = last ? last - 1 : NULL;
        while (mid && mid > code && *mid != '-')
            mid--;
        if (last && mid && mid > code && last - mid - 1 > 0 &&
            (size_t)(last - mid - 1) < sizeof param &&
            (size_t)(mid - code) < sizeof stcode) {
            snprintf(param, sizeof param, "%.*s", (int)(last - mid - 1),
                     mid + 1);
            snprintf(stcode, sizeof stcode, "%.*s", (int)(mid - code), code);
            if (!strcmp(last + 1, "24g"))
                period = 86400;
        }
    }
    if (!v1 && c->key)
        snprintf(param, sizeof param, "%s", c->key);

    /* sensor, then station, then tenant */
    s_sensor_t *sen = c->sensor_id ? s_sensor_find(st, c->sensor_id) : NULL;
    int64_t station = sen ? sen->station : st->station_id;
    if (!station && stcode[0]) {
        s_station_t *s = s_station_by_code(st, stcode, strlen(stcode));
        station = s ? s->id : 0;
    }
    char sensor[64];
    if (c->sensor_id)
        snprintf(sensor, sizeof sensor, "%" PRId64, c->sensor_id);
    else if (code)
        snprintf(sensor, sizeof sensor, "%.60s", code);
    else
        return s_quarantine(c, r,
                            "sensor: unknown (no 'sensor_id' option "
                            "and no sensor id in the input name '%s')",
                            c->in->name ? c->in->name : "");
    if (!station)
        return s_quarantine(c, r,
                            "station: sensor %s is in no sensor list "
                            "read so far and there is no 'station_id' "
                            "option",
                            sensor);
    if (!param[0] && sen)
        snprintf(param, sizeof param, "%s", sen->param);
    if (!param[0])
        return s_quarantine(c, r, "%s: no parameter code (getData 'key')",
                            v1 ? "Kod stanowiska" : "key");
    if (sen && strcmp(sen->param, param))
        return s_quarantine(c, r,
                            "%s: '%s' but sensor %" PRId64 " measures "
                            "'%s' per its sensor list",
                            v1 ? "Kod stanowiska" : "key", param, sen->id,
                            sen->param);
    const char *tenant = s_tenant_of(c, station, why, sizeof why);
    if (!tenant)
        return s_quarantine(c, r, "tenant: %s", why);

    s_when_t w;
    if (!j_date)
        return s_quarantine(c, r, "%s: missing", k_date);
    s_order(c, s_str(j_date));
    if (s_when(c, j_date, &w, 1, why, sizeof why))
        return s_quarantine(c, r, "%s: %s", k_date, why);
    double value = 0;
    int has_value = !json_is_null(j_value);
    if (!j_value)
        return s_quarantine(c, r,
                            "%s: missing (null is no measurement, an "
                            "absent key is a broken record)",
                            k_value);
    if (has_value && s_number(j_value, &value))
        return s_quarantine(c, r, "%s: %s is not a number", k_value,
                            s_show(j_value, show, sizeof show));

    char evid[RZ_ID_MAX + 1], stamp[48], source[RZ_SOURCE_MAX + 1], subject[64],
        stc[32], off[16] = "";
    s_stamp(&w, stamp, sizeof stamp);
    if (w.ambiguous)
        snprintf(off, sizeof off, "%+03d00", w.offset / 3600);
    /* a null hour and the value that later fills it are two events: the
     * broker would drop the value as a duplicate of the null otherwise */
    snprintf(evid, sizeof evid, "gios-%s-%s%s%s", sensor, stamp, off,
             has_value ? "" : "-null");
    snprintf(source, sizeof source, "/%s/env/%s", tenant, st->system);
    snprintf(subject, sizeof subject, "station:%" PRId64, station);
    snprintf(stc, sizeof stc, "%" PRId64, station);

    Ratusz__V1__AirQualityMeasurement m =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    m.station_code = stc;
    m.station_id = station;
    m.sensor_id = c->sensor_id;
    m.parameter = param;
    m.parameter_name =
        (char *)(sen && sen->name ? sen->name : s_param_name(param));
    if (has_value) {
        m.measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
        m.value = value;
    }
    m.unit = (char *)S_UNIT;
    m.period_start = w.us;
    m.period_seconds = period;
    m.source_time = w.text;
    m.time_zone = (char *)S_ZONE;
    s_station_t *s = s_station_find(st, station);
    if (s && s->has_coord) {
        m.latitude = s->lat;
        m.longitude = s->lon;
    }
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    ev.id = evid;
    ev.source = source;
    ev.type = (char *)S_TYPE_MEASUREMENT;
    ev.subject = subject;
    ev.tenant = (char *)tenant;
    ev.time = w.us;
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &m;
    s_emit(c, r, &ev);
    return 0;
}

/* ==========================================================================
 * Air-quality index
 */

/* The slots of an index: the overall one and each pollutant's, with their
 * keys in both APIs. */
static const struct s_slot {
    const char *pjp; /* key prefix: "so2" -> so2CalcDate */
    const char *v1;  /* "SO2"; NULL = the overall index */
    const char *param;
} s_slots[] = {
    {"st", NULL, "AQI"}, {"so2", "SO2", "SO2"},    {"no2", "NO2", "NO2"},
    {"co", "CO", "CO"},  {"pm10", "PM10", "PM10"}, {"pm25", "PM2.5", "PM2.5"},
    {"o3", "O3", "O3"},  {"c6h6", "C6H6", "C6H6"},
};

typedef struct s_slot_keys {
    char calc[128], level[128], value[128], name[128], name2[128], src[160];
} s_slot_keys_t;

static void s_keys(const struct s_slot *sl, int v1, s_slot_keys_t *k)
{
    memset(k, 0, sizeof *k);
    if (!v1) {
        snprintf(k->calc, sizeof k->calc, "%sCalcDate", sl->pjp);
        snprintf(k->level, sizeof k->level, "%sIndexLevel", sl->pjp);
        snprintf(k->src, sizeof k->src, "%sSourceDataDate", sl->pjp);
        return;
    }
    if (!sl->v1) {
        snprintf(k->calc, sizeof k->calc, "Data wykonania obliczeń indeksu");
        snprintf(k->value, sizeof k->value, "Wartość indeksu");
        snprintf(k->name, sizeof k->name, "Nazwa kategorii indeksu");
        snprintf(k->src, sizeof k->src,
                 "Data danych źródłowych, z których "
                 "policzono wartość indeksu dla wskaźnika st");
        return;
    }
    snprintf(k->calc, sizeof k->calc,
             "Data wykonania obliczeń indeksu dla wskaźnika %s", sl->v1);
    snprintf(k->value, sizeof k->value, "Wartość indeksu dla wskaźnika %s",
             sl->v1);
    /* the API spells it "wskażnika" here; the right spelling is accepted
     * too in case GIOŚ fixes it */
    snprintf(k->name, sizeof k->name,
             "Nazwa kategorii indeksu dla wskażnika %s", sl->v1);
    snprintf(k->name2, sizeof k->name2,
             "Nazwa kategorii indeksu dla wskaźnika %s", sl->v1);
    snprintf(k->src, sizeof k->src,
             "Data danych źródłowych, z których "
             "policzono wartość indeksu dla wskaźnika %s",
             sl->v1);
}

static int s_index(s_ctx_t *c, s_rec_t *whole, json_t *o, int v1)
{
    char show[96], why[256];
    const char *k_id = v1 ? "Identyfikator stacji pomiarowej" : "id";
    json_t *j_id = json_object_get(o, k_id);
    int64_t station;
    if (s_int(j_id, &station) || station <= 0)
        return s_quarantine(c, whole, "%s: %s is not a station id", k_id,
                            s_show(j_id, show, sizeof show));
    const char *tenant = s_tenant_of(c, station, why, sizeof why);
    if (!tenant)
        return s_quarantine(c, whole, "tenant: %s", why);
    s_slot_keys_t st_keys;
    s_keys(&s_slots[0], v1, &st_keys);
    json_t *st_calc = json_object_get(o, st_keys.calc);
    json_t *st_src = json_object_get(o, st_keys.src);
    s_station_t *sta = s_station_find(c->st, station);

    for (size_t i = 0; i < sizeof s_slots / sizeof s_slots[0]; i++) {
        const struct s_slot *sl = &s_slots[i];
        s_slot_keys_t k;
        s_keys(sl, v1, &k);
        json_t *calc = json_object_get(o, k.calc);
        json_t *src = json_object_get(o, k.src);
        json_t *level = k.level[0] ? json_object_get(o, k.level) : NULL;
        json_t *value = k.value[0] ? json_object_get(o, k.value) : NULL;
        json_t *name = k.name[0] ? json_object_get(o, k.name) : NULL;
        if (!name && k.name2[0])
            name = json_object_get(o, k.name2);
        if (!calc && !src && !level && !value && !name)
            continue; /* the slot is not in this index */
        s_rec_t r = *whole;
        snprintf(r.key, sizeof r.key, "%.80s.%.8s", whole->key, sl->pjp);

        /* level: pjp {"id":0,"indexLevelName":"Bardzo dobry"}, v1 two keys;
         * a negative id is the "Brak indeksu" sentinel: no value */
        int64_t lvl = -1;
        const char *lvl_name = NULL;
        if (!v1 && level && !json_is_null(level)) {
            json_t *lid = json_object_get(level, "id");
            lvl_name = s_str(json_object_get(level, "indexLevelName"));
            if (!json_is_object(level) || s_int(lid, &lvl)) {
                s_quarantine(c, &r, "%s: %s has no integer 'id'", k.level,
                             s_show(level, show, sizeof show));
                continue;
            }
        } else if (v1 && value && !json_is_null(value)) {
            if (s_int(value, &lvl)) {
                s_quarantine(c, &r, "%s: %s is not an index value", k.value,
                             s_show(value, show, sizeof show));
                continue;
            }
        }
        if (v1)
            lvl_name = s_str(name);

        /* calc: when the index was computed (the event's time); source:
         * the hour of data it is about (period_start); a slot without its
         * own takes the overall one */
        s_when_t wc, ws;
        json_t *jc = calc && !json_is_null(calc) ? calc : st_calc;
        json_t *js = src && !json_is_null(src) ? src : st_src;
        const char *kc = calc && !json_is_null(calc) ? k.calc : st_keys.calc;
        const char *ks = src && !json_is_null(src) ? k.src : st_keys.src;
        if (!jc || json_is_null(jc)) {
            s_quarantine(c, &r, "%s: no date (null, and no overall one)",
                         k.calc);
            continue;
        }
        if (s_when(c, jc, &wc, 0, why, sizeof why)) {
            s_quarantine(c, &r, "%s: %s", kc, why);
            continue;
        }
        if (!js || json_is_null(js)) {
            ws = wc;
        } else if (s_when(c, js, &ws, 0, why, sizeof why)) {
            s_quarantine(c, &r, "%s: %s", ks, why);
            continue;
        }

        char evid[RZ_ID_MAX + 1], source[RZ_SOURCE_MAX + 1], subject[64],
            stc[32], pname[96], lower[16];
        int64_t f[6]; /* the calc time in UTC: unique, unlike Warsaw's */
        s_civil(wc.us / 1000000 - (wc.us % 1000000 < 0), f);
        size_t n = 0;
        for (const char *p = sl->param; *p && n < sizeof lower - 1; p++)
            lower[n++] = (char)tolower((unsigned char)*p);
        lower[n] = '\0';
        snprintf(evid, sizeof evid,
                 "gios-index-%" PRId64 "-%s-%04" PRId64 "%02" PRId64
                 "%02" PRId64 "T%02" PRId64 "%02" PRId64 "%02" PRId64 "Z",
                 station, lower, f[0], f[1], f[2], f[3], f[4], f[5]);
        snprintf(source, sizeof source, "/%s/env/%s", tenant, c->st->system);
        snprintf(subject, sizeof subject, "station:%" PRId64, station);
        snprintf(stc, sizeof stc, "%" PRId64, station);
        if (sl->v1)
            snprintf(pname, sizeof pname, "indeks jakości powietrza: %s",
                     sl->param);
        else
            snprintf(pname, sizeof pname, "indeks jakości powietrza");

        Ratusz__V1__AirQualityMeasurement m =
            RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
        m.station_code = stc;
        m.station_id = station;
        m.parameter = (char *)sl->param;
        m.parameter_name = pname;
        if (lvl >= 0) {
            m.measured_case =
                RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
            m.value = (double)lvl;
        }
        m.unit = (char *)"";
        m.period_start = ws.us;
        m.period_seconds = 3600;
        m.source_time = ws.text;
        m.time_zone = (char *)S_ZONE;
        m.index_level = (char *)(lvl_name ? lvl_name : "");
        if (sta && sta->has_coord) {
            m.latitude = sta->lat;
            m.longitude = sta->lon;
        }
        Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
        ev.id = evid;
        ev.source = source;
        ev.type = (char *)S_TYPE_INDEX;
        ev.subject = subject;
        ev.tenant = (char *)tenant;
        ev.time = wc.us;
        ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
        ev.air_quality = &m;
        s_emit(c, &r, &ev);
    }
    return 0;
}

/* ==========================================================================
 * Records by their keys
 */

static void s_record(s_ctx_t *c, s_rec_t *r, int in_data)
{
    char why[256];
    if (c->text && c->text->n_bad) {
        /* a field that is neither: its record, not the file */
        size_t a = (size_t)(r->p - c->base);
        size_t at = rzc_text_bad_in(c->text, c->map[a], c->map[a + r->len]);
        if (at != SIZE_MAX) {
            s_quarantine(c, r,
                         "byte 0x%02x at offset %zu is neither UTF-8 nor "
                         "Windows-1250",
                         c->in->data[at], at);
            return;
        }
    }
    json_t *o = s_load(r->p, r->len, why, sizeof why);
    if (!o) {
        s_quarantine(c, r, "%s", why);
        return;
    }
    if (!json_is_object(o)) {
        s_quarantine(c, r, "not an object but %s",
                     json_is_array(o) ? "an array" : "a scalar");
        goto done;
    }
#define HAS(k) (json_object_get(o, k) != NULL)
    /* most telling keys first: an archival v1 value also has "Nazwa
     * stacji" */
    if (HAS("stationName") || HAS("gegrLat"))
        s_station(c, r, o, 0);
    else if (HAS("Identyfikator stanowiska") || HAS("Wskaźnik - kod"))
        s_sensor(c, r, o, 1);
    else if (HAS("Kod stanowiska") || HAS("Data") || HAS("Wartość"))
        s_value(c, r, o, 1);
    else if (HAS("Nazwa stacji") || HAS("WGS84 φ N"))
        s_station(c, r, o, 1);
    else if (HAS("stationId") || HAS("param"))
        s_sensor(c, r, o, 0);
    else if (HAS("date") || HAS("value") || in_data)
        s_value(c, r, o, 0);
    else if (HAS("stIndexLevel") || HAS("stCalcDate"))
        s_index(c, r, o, 0);
    else if (HAS("Identyfikator stacji pomiarowej"))
        s_index(c, r, o, 1);
    else {
        char keys[200] = "";
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            (void)v;
            int w =
                snprintf(keys + n, sizeof keys - n, "%s'%s'", n ? ", " : "", k);
            if (w < 0 || (size_t)w >= sizeof keys - n)
                break;
            n += (size_t)w;
        }
        s_quarantine(c, r,
                     "not a GIOŚ station, sensor, measurement or "
                     "index record (keys: %s)",
                     n ? keys : "none");
    }
#undef HAS
done:
    json_decref(o);
}

/* ==========================================================================
 * Documents
 */

static const char *const s_list_keys[] = {
    "values",
    "Lista stacji pomiarowych",
    "Lista stanowisk pomiarowych dla podanej stacji",
    "Lista danych pomiarowych",
    "Lista archiwalnych wyników pomiarów",
    NULL};

/* Minified input has no lines to resynchronise on, but the records of a
 * list repeat one shape: they all begin with the same member ({"id": in
 * a GIOŚ station list). When the record at p does not parse on its own
 * (e is where following its quotes and brackets ended, NULL at the end of
 * the input: a lost quote turns every quote after it inside out), it ends
 * where the next record begins, the first "},{<its first member name>:"
 * after it, or the last one before the "}]" that ends the input. Returns
 * that end, with why saying what was wrong; NULL when the record parses,
 * or no end is to be found. */
static const char *s_resync_minified(s_ctx_t *c, const char *p,
                                     const char *e, char *why,
                                     size_t why_len)
{
    const char *limit = e ? e : c->end;
    if (s_col(c->base, p) >= 0 || limit - p < 4 || p[0] != '{' ||
        p[1] != '"')
        return NULL;
    size_t span = (size_t)(limit - p) < 66 ? (size_t)(limit - p) : 66;
    const char *q = memchr(p + 2, '"', span - 2);
    if (!q || q + 1 >= limit || q[1] != ':')
        return NULL;
    if (e) {
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY, &err);
        if (j) {
            json_decref(j);
            return NULL;
        }
    }
    char pat[72];
    size_t klen = (size_t)(q + 2 - p); /* {"id": */
    pat[0] = '}';
    pat[1] = ',';
    memcpy(pat + 2, p, klen);
    const char *b = memmem(p + klen, (size_t)(limit - (p + klen)), pat,
                           klen + 2);
    if (!b && !e) {
        /* the last record of a root list: it ends before the list's ']',
         * the input's last byte but blanks */
        const char *z = c->end;
        while (z > p && strchr(" \t\r\n", z[-1]))
            z--;
        if (z - p > 2 && z[-1] == ']' && z[-2] == '}')
            b = z - 2;
    }
    if (!b)
        return NULL;
    json_t *j = s_load(p, (size_t)(b + 1 - p), why, why_len);
    if (j) { /* whole after all: the damage was after it */
        json_decref(j);
        why[0] = '\0';
    }
    return b + 1;
}

/* The elements of the array at p ('['): each one a record. Returns the end
 * of the array, or NULL when the input ends inside it. dry: only find
 * the end, reporting nothing (the end of a wrapper's list, which is
 * found the same way as its records are read). */
static const char *s_array(s_ctx_t *c, const char *p, const char *prefix,
                           int in_data, int dry)
{
    const char *end = c->end;
    size_t i = 0;
    p++;
    for (;;) {
        p = s_ws(p, end);
        if (c->fatal)
            return NULL;
        if (p >= end) {
            if (!c->cut && !dry)
                c->cut = "the root array";
            return NULL;
        }
        if (*p == ']')
            return p + 1;
        s_rec_t r = {.p = p};
        snprintf(r.key, sizeof r.key, "%s[%zu]", prefix, i++);
        char damage[256];
        const char *e = s_elem_end(c, p, damage, sizeof damage);
        if (!dry && !damage[0]) {
            const char *b =
                s_resync_minified(c, p, e, damage, sizeof damage);
            if (b)
                e = b;
        }
        if (dry) {
            if (!e)
                return NULL;
        } else if (!e) {
            r.len = (size_t)(end - p);
            s_quarantine(c, &r,
                         "truncated: the input ends inside this "
                         "record");
            if (!c->cut)
                c->cut = "the root array";
            return NULL;
        }
        r.len = (size_t)(e - p);
        if (dry) {
            /* only the end is wanted */
        } else if (damage[0]) {
            s_quarantine(c, &r, "%s", damage);
        } else if (*p == ',' || *p == ':' || *p == '}') {
            s_quarantine(c, &r, "stray '%c' where a record should start", *p);
        } else {
            s_record(c, &r, in_data);
        }
        p = s_ws(e, end);
        if (p < end && *p == ',')
            p++;
    }
}

/* A top-level object: a wrapper around a list of records (getData, the v1
 * lists), or itself one record (an index). */
static const char *s_object(s_ctx_t *c, const char *start)
{
    const char *end = c->end, *p = start + 1;
    const char *list = NULL, *list_key = NULL, *aq = NULL, *aq_end = NULL;
    char why[256] = "";
    json_t *key = NULL;
    const char *doc_end = NULL;
    for (;;) {
        p = s_ws(p, end);
        if (p >= end)
            break;
        if (*p == '}') {
            doc_end = p + 1;
            break;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        const char *ke = s_value_end(p, end);
        if (*p != '"' || !ke) {
            if (!why[0])
                snprintf(why, sizeof why,
                         "line %" PRIu64 ": expected a "
                         "member name",
                         s_line(c, p));
            p = ke ? ke : end;
            continue;
        }
        json_t *k = s_load(p, (size_t)(ke - p), why, sizeof why);
        p = s_ws(ke, end);
        if (p < end && *p == ':')
            p = s_ws(p + 1, end);
        if (!k || p >= end) {
            json_decref(k);
            if (!why[0])
                snprintf(why, sizeof why, "truncated member");
            break;
        }
        const char *ks = json_string_value(k);
        const char *ve = NULL;
        for (const char *const *lk = s_list_keys; *lk; lk++)
            if (!strcmp(ks, *lk) && *p == '[') {
                list = p;
                list_key = *lk;
                /* a damaged record inside must not hide its end */
                ve = s_array(c, p, *lk, 0, 1);
            }
        if (list != p)
            ve = s_value_end(p, end);
        if (!strcmp(ks, "AqIndex") && *p == '{') {
            aq = p;
            aq_end = ve;
        }
        if (!strcmp(ks, "key")) {
            json_decref(key);
            key = ve ? s_load(p, (size_t)(ve - p), why, sizeof why) : NULL;
        }
        json_decref(k);
        if (!ve)
            break;
        p = ve;
    }

    if (list) {
        /* getData: "key" names the parameter (it may follow the list) */
        int data = !strcmp(list_key, "values") ||
                   !strncmp(list_key, "Lista danych", 12) ||
                   !strncmp(list_key, "Lista archiwalnych", 18);
        c->key = s_str(key);
        c->last_date[0] = '\0';
        c->dir = 0;
        c->n_seen = 0;
        s_array(c, list, list_key, data, 0);
        c->key = NULL;
    } else if (aq) {
        s_rec_t r = {.p = aq, .len = (size_t)((aq_end ? aq_end : end) - aq)};
        snprintf(r.key, sizeof r.key, "AqIndex");
        if (!aq_end)
            s_quarantine(c, &r, "truncated: the input ends inside AqIndex");
        else
            s_record(c, &r, 0);
    } else {
        /* the object is the record (a pjp index) */
        s_rec_t r = {.p = start,
                     .len = (size_t)((doc_end ? doc_end : end) - start)};
        snprintf(r.key, sizeof r.key, "index");
        json_t *o = doc_end ? json_loadb(r.p, r.len, 0, NULL) : NULL;
        if (o && c->docs == 0 && !json_object_get(o, "stIndexLevel") &&
            !json_object_get(o, "stCalcDate") &&
            !json_object_get(o, "Identyfikator stacji pomiarowej")) {
            /* valid JSON of no GIOŚ shape: the input as a whole is not
             * what this module reads */
            char keys[160] = "";
            size_t n = 0;
            const char *k;
            json_t *v;
            json_object_foreach(o, k, v)
            {
                (void)v;
                int w = snprintf(keys + n, sizeof keys - n, "%s'%s'",
                                 n ? ", " : "", k);
                if (w < 0 || (size_t)w >= sizeof keys - n)
                    break;
                n += (size_t)w;
            }
            snprintf(c->layout, sizeof c->layout,
                     "not a GIOŚ response: an "
                     "object with keys %s",
                     n ? keys : "(none)");
        } else if (!doc_end) {
            s_quarantine(c, &r,
                         "truncated: the input ends inside the "
                         "object");
        } else {
            s_record(c, &r, 0);
        }
        json_decref(o);
    }
    json_decref(key);
    if (!doc_end)
        c->cut = "the root object";
    return doc_end ? doc_end : end;
}

/* The number standing alone in a name: "gios_data_getData_14395_PM10.json"
 * -> 14395 (PM10's 10 is glued to letters, so it does not count). */
static int64_t s_name_number(const char *name)
{
    if (!name)
        return 0;
    for (const char *p = name; *p; p++) {
        if (!isdigit((unsigned char)*p) ||
            (p > name && isalnum((unsigned char)p[-1])))
            continue;
        const char *e = p;
        while (isdigit((unsigned char)*e))
            e++;
        if (!isalnum((unsigned char)*e) && e - p <= 15)
            return strtoll(p, NULL, 10);
        p = e - 1;
    }
    return 0;
}

static int s_parse_doc(s_ctx_t *c, char *err, size_t err_len)
{
    const char *p = c->base, *end = c->end;
    if (!c->text && end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3;
    /* several documents one after another (NDJSON, a tailed file) are
     * read one by one */
    for (;;) {
        p = s_ws(p, end);
        if (p >= end || c->fatal)
            break;
        if (*p == '[') {
            p = s_array(c, p, "", 0, 0);
            if (!p)
                p = end;
        } else if (*p == '{') {
            p = s_object(c, p);
        } else if (c->docs == 0) {
            snprintf(err, err_len,
                     "not a GIOŚ JSON response: expected '[' "
                     "or '{' at line %" PRIu64 ", found '%c'",
                     s_line(c, p), isprint((unsigned char)*p) ? *p : '?');
            return RZ_EINVAL;
        } else {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            s_rec_t r = {.p = p, .len = (size_t)((nl ? nl : end) - p)};
            snprintf(r.key, sizeof r.key, "document %d", c->docs + 1);
            s_quarantine(c, &r, "not a JSON object or array");
            p = nl ? nl + 1 : end;
        }
        if (c->layout[0]) {
            snprintf(err, err_len, "%s", c->layout);
            return RZ_EINVAL;
        }
        c->docs++;
        if (c->cut)
            break;
    }
    if (c->docs == 0) {
        snprintf(err, err_len, "empty input: no JSON document");
        return RZ_EINVAL;
    }
    if (c->fatal) {
        snprintf(err, err_len, "the runtime refused a record: %s",
                 rz_strerror(c->fatal));
        return c->fatal;
    }
    /* the records before the cut went out; the file as a whole is not
     * done, or half a series would pass for all of it. A tailed chunk is
     * whole lines: a document spanning them is not a cut file. */
    if (c->cut && !c->in->partial) {
        snprintf(err, err_len,
                 "input ends at byte %zu inside %s: the file is cut short",
                 c->in->len, c->cut);
        return RZ_EINVAL;
    }
    return 0;
}

/* ==========================================================================
 * Encodings: JSON is UTF-8 (RFC 8259), but a file saved on a Polish
 * Windows desk may be Windows-1250
 */

/* The charset parameter of a content type, lowercased, or "". */
static void s_charset(const char *ct, char *out, size_t len)
{
    out[0] = '\0';
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = 0;
    while (*p && *p != ';' && *p != '"' && *p != ' ' && n + 1 < len)
        out[n++] = (char)tolower((unsigned char)*p++);
    out[n] = '\0';
}

/* "application/json", "application/ld+json; charset=utf-8" (the v1 API),
 * "text/json", "application/x-ndjson": a media type ending in "json". */
static int s_json_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n >= 4 && strncasecmp(ct + n - 4, "json", 4) == 0;
}

static int s_parse(void *state, const rz_input_t *in, rz_out_t *out, char *err,
                   size_t err_len)
{
    s_state_t *st = state;
    s_ctx_t c = {.st = st, .in = in, .out = out};
    if (in->content_type && !s_json_type(in->content_type)) {
        snprintf(err, err_len, "content type '%.80s' is not JSON",
                 in->content_type);
        return RZ_EINVAL;
    }
    /* the file's encoding from its bytes unless its content type names
     * one; a stray Windows-1250 field is decoded on its own, and a field
     * that is neither quarantines its record (s_record) */
    char charset[32];
    s_charset(in->content_type, charset, sizeof charset);
    int enc = !strcmp(charset, "windows-1250") || !strcmp(charset, "cp1250")
                  ? RZC_ENC_CP1250
              : !strcmp(charset, "utf-8") || !strcmp(charset, "utf8")
                  ? RZC_ENC_UTF8
                  : RZC_ENC_AUTO;
    rzc_text_t text;
    size_t *map = NULL;
    int rc = rzc_text_decode(&text, in->data, in->len, enc, err, err_len);
    if (rc)
        return rc;
    if (rzc_text_map(&text, &map)) {
        rzc_text_free(&text);
        snprintf(err, err_len, "out of memory mapping %zu bytes", in->len);
        return RZ_ENOMEM;
    }
    c.text = &text;
    c.map = map;
    c.base = text.text;
    c.end = text.text + text.len;
    c.sensor_id = st->sensor_id ? st->sensor_id : s_name_number(in->name);
    if (!c.sensor_id && in->origin && strncmp(in->origin, "http", 4) == 0)
        c.sensor_id = s_name_number(strrchr(in->origin, '/'));
    pthread_mutex_lock(&st->lock);
    rc = s_parse_doc(&c, err, err_len);
    pthread_mutex_unlock(&st->lock);
    rzc_text_free(&text);
    free(map);
    return rc;
}

/* ==========================================================================
 * Lifecycle
 */

static void s_close(void *state)
{
    s_state_t *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_sensors; i++)
        free(st->sensors[i].name);
    free(st->sensors);
    for (size_t i = 0; i < st->n_stations; i++)
        s_names(&st->stations[i], NULL, NULL, NULL, NULL);
    free(st->stations);
    rzc_tz_destroy(&st->tz);
    pthread_mutex_destroy(&st->lock);
    free(st->tenant);
    free(st->system);
    free(st);
}

static int s_preload(s_state_t *st, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "preload '%s': cannot open", path);
        return RZ_ECONFIG;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return RZ_ENOMEM;
    }
    const char *slash = strrchr(path, '/');
    rz_input_t in = {.origin = path,
                     .name = slash ? slash + 1 : path,
                     .data = (const uint8_t *)buf,
                     .len = len};
    s_ctx_t c = {.st = st, .in = &in, .quiet = 1};
    c.base = buf;
    c.end = buf + len;
    char why[256];
    int rc = s_parse_doc(&c, why, sizeof why);
    free(buf);
    if (rc) {
        snprintf(err, err_len, "preload '%s': %s", path, why);
        return RZ_ECONFIG;
    }
    if (c.n_bad) {
        snprintf(err, err_len,
                 "preload '%s': %zu record(s) not understood, "
                 "the first: %s",
                 path, c.n_bad, c.first_bad);
        return RZ_ECONFIG;
    }
    return 0;
}

static int s_open(void **state, const void *conf, char *err, size_t err_len)
{
    const s_conf_t *cf = conf;
    s_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return RZ_ENOMEM;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->tenant = strdup(cf->tenant ? cf->tenant : "");
    st->system = strdup(cf->system && *cf->system ? cf->system : "gios");
    st->sensor_id = (int64_t)cf->sensor_id;
    st->station_id = (int64_t)cf->station_id;
    int rc = RZ_ENOMEM;
    if (!st->tenant || !st->system) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    rc = RZ_ECONFIG;
    size_t tl = strlen(st->tenant);
    if (tl && (strspn(st->tenant, "0123456789") != tl ||
               (tl != 2 && tl != 4 && tl != 7))) {
        snprintf(err, err_len,
                 "environment.tenant: '%s' is not a TERC code "
                 "(2, 4 or 7 digits)",
                 st->tenant);
        goto fail;
    }
    if (strchr(st->system, '/') || strlen(st->system) > 64) {
        snprintf(err, err_len,
                 "environment.system: '%s' is not one path "
                 "segment",
                 st->system);
        goto fail;
    }
    rc = RZ_ECONFIG;
    st->tz = rzc_tz_new(
        cf->zoneinfo && *cf->zoneinfo ? cf->zoneinfo : "builtin", err, err_len);
    if (!st->tz)
        goto fail;
    /* each item may hold several paths separated by commas: a module's
     * YAML section is a map of scalars, so a list has to be one */
    for (size_t i = 0; i < cf->preload.n; i++) {
        const char *p = cf->preload.items[i];
        while (*p) {
            size_t n = strcspn(p, ",");
            char path[4096];
            snprintf(path, sizeof path, "%.*s", (int)n, p);
            if (n && (rc = s_preload(st, path, err, err_len)) != 0)
                goto fail;
            p += n + (p[n] == ',');
        }
    }
    *state = st;
    return 0;
fail:
    s_close(st);
    return rc;
}

const rz_adapter_module_t rz_module_environment = {
    .name = "environment",
    .description = "GIOŚ air quality: stations, sensors, hourly "
                   "measurements and the air-quality index (pjp-api and v1)",
    .options = s_options,
    .conf_size = sizeof(s_conf_t),
    .open = s_open,
    .close = s_close,
    .parse = s_parse,
};
