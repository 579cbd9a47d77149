/* env.h - internals of the environment module (GIOŚ air quality): which
 * gmina a station is in, looked up in the TERC register the runtime lends
 * (the Europe/Warsaw clock is ratusz/core/time.h).
 *
 * A leaf: it knows nothing of events or inputs, so it is tested on its
 * own with any register lent through an rz_out_t.
 */
#ifndef RZ_ENV_H
#define RZ_ENV_H

#include "ratusz/adapter.h"

/* ==========================================================================
 * TERC: which gmina a station is in, from the names GIOŚ gives
 * (provinceName "DOLNOŚLĄSKIE", districtName "zgorzelecki", communeName
 * "Bogatynia", city "Działoszyn"), the same rules as
 * deploy/sample/make-sample.py (Terc.gmina). The register is searched
 * from start to end: a station is placed once and remembered.
 */

/* The 2-digit code of the voivodeship named (any case) in the register
 * lent through out: 0, or RZ_ENOTFOUND (also when none is lent). */
int rz__env_voivodeship(rz_out_t *out, const char *name, char code[3]);

/* The 7-digit code of gmina `commune` in powiat `district` of voivodeship
 * woj (2 digits): 0, or RZ_ENOTFOUND. When the name is both an urban and
 * a rural gmina, a station in the town itself (city == commune) is in the
 * urban (1) or urban-rural (3) one, else in the rural one (2). city may be
 * NULL. */
int rz__env_gmina(rz_out_t *out, const char *woj, const char *district,
                  const char *commune, const char *city, char code[8]);

/* Compare two UTF-8 strings ignoring case for ASCII, Latin-1 and the
 * Polish letters (Ą Ć Ę Ł Ń Ó Ś Ź Ż): the only letters in TERC and GIOŚ
 * names. 0 when equal. Locale-free on purpose (setlocale is process-wide). */
int rz__env_casecmp(const char *a, const char *b);

#endif
