/* env.h - internals of the environment module (GIOŚ air quality): the
 * Europe/Warsaw clock and the TERC lookup that names a station's gmina.
 *
 * Leaf helpers: neither knows about events, inputs or the runtime, so that
 * each is tested on its own.
 */
#ifndef RZ_ENV_H
#define RZ_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

/* ==========================================================================
 * Time zone: local wall-clock times of one zone (Europe/Warsaw) to UTC.
 *
 * Why not mktime(): it reads the process-wide TZ, so converting a Warsaw
 * time means setenv("TZ") + tzset(), which races with every other thread
 * of the adapter (the HTTP source runs in its own). Instead the zone is
 * read once from the system tz database (the TZif file, RFC 8536) into a
 * table owned by the module: historic transitions from the file, and the
 * POSIX rule in its footer ("CET-1CEST,M3.5.0,M10.5.0/3") for instants
 * after the last one. Lookups only read the table, so they are thread
 * safe.
 */

typedef struct rz_env_tz rz_env_tz_t;

/* Load a TZif file (v2 or later for 64-bit times; v1 accepted). path
 * "builtin" gives the EU rule (CET/CEST, last Sunday of March and of
 * October at 01:00 UTC) for all times: right for Poland from 1996 on, for
 * machines without tzdata. NULL on failure with err set. */
rz_env_tz_t *rz_env_tz_new(const char *path, char *err, size_t err_len);
void rz_env_tz_destroy(rz_env_tz_t **tz);

/* UTC offset in seconds (east positive) in force at unix time t. */
int32_t rz_env_tz_offset(const rz_env_tz_t *tz, int64_t t);

/* Convert a local wall-clock time, given as seconds since 1970-01-01
 * 00:00:00 of the local calendar, to unix time. Returns the number of
 * instants that show this wall-clock time: 1 (out[0]), 2 when the clock
 * went back (out[0] < out[1], e.g. 02:30 on the last Sunday of October),
 * 0 when it skipped over it (the spring gap). */
int rz_env_tz_to_utc(const rz_env_tz_t *tz, int64_t local, int64_t out[2]);

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12). */
int64_t rz_env_days(int64_t y, int m, int d);

/* Parse "YYYY-MM-DD HH:MM:SS" (also with 'T') into local seconds as above.
 * 0, or -1 when it is not such a date or not a valid one. */
int rz_env_parse_local(const char *s, int64_t *local);

/* ==========================================================================
 * TERC: which gmina a station is in, from the names GIOŚ gives
 * (provinceName "DOLNOŚLĄSKIE", districtName "zgorzelecki", communeName
 * "Bogatynia", city "Działoszyn"), the same rules as
 * deploy/sample/make-sample.py (Terc.gmina).
 */

typedef struct rz_env_terc rz_env_terc_t;

/* Load the TERC CSV (GUS, ';'-separated, UTF-8, CRLF or LF, optional BOM).
 * NULL on failure with err naming the file and the problem. */
rz_env_terc_t *rz_env_terc_new(const char *path, char *err, size_t err_len);
void rz_env_terc_destroy(rz_env_terc_t **t);

/* The 2-digit code of the voivodeship named (any case), or NULL. Borrowed
 * from t. */
const char *rz_env_terc_voivodeship(const rz_env_terc_t *t, const char *name);

/* The 7-digit code of gmina `commune` in powiat `district` of voivodeship
 * woj, or NULL. When the name is both an urban and a rural gmina, a station
 * in the town itself (city == commune) is in the urban (1) or urban-rural
 * (3) one, else in the rural one (2). Borrowed from t. */
const char *rz_env_terc_gmina(const rz_env_terc_t *t, const char *woj,
                              const char *district, const char *commune,
                              const char *city);

/* Compare two UTF-8 strings ignoring case for ASCII, Latin-1 and the
 * Polish letters (Ą Ć Ę Ł Ń Ó Ś Ź Ż): the only letters in TERC and GIOŚ
 * names. 0 when equal. Locale-free on purpose (setlocale is process-wide). */
int rz_env_casecmp(const char *a, const char *b);

#endif
