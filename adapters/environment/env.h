/* env.h - internals of the environment module (GIOŚ air quality): the
 * TERC lookup that names a station's gmina (the Europe/Warsaw clock is
 * ratusz/core/time.h).
 *
 * Leaf helpers: neither knows about events, inputs or the runtime, so that
 * each is tested on its own.
 */
#ifndef RZ_ENV_H
#define RZ_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/adapter.h"

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
