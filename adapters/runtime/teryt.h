/* teryt.h - the TERYT TERC register (GUS): which tenant codes exist and
 * what they are called.
 *
 * Loaded from the official CSV (TERC_Urzedowy / TERC_Adresowy: ';'
 * separated, UTF-8 or Windows-1250, with or without BOM, CRLF) or from the
 * eTERYT XML in either shape: the current one (<row><WOJ>02</WOJ>...) and
 * the 2012 one (<row><column name="WOJ">02</column>..., NAZDOD for
 * NAZWA_DOD). A code is 2 digits (voivodeship), 4 (powiat) or 7 (gmina:
 * WOJ POW GMI RODZ).
 */
#ifndef RZ_ADAPTER_TERYT_H
#define RZ_ADAPTER_TERYT_H

#include <stddef.h>

#include "ratusz/adapter.h"

typedef struct rz_teryt rz_teryt_t;

typedef struct rz_teryt_unit {
    char code[8]; /* "1261011" */
    char *name;   /* "Kraków" */
    char *kind;   /* "gmina miejska, miasto na prawach powiatu" */
    int tenant;   /* 0 for districts (RODZ 8) and delegations (9): parts
                     of a city's gmina, which is the tenant */
    size_t order; /* load order: the later of two same codes wins */
} rz_teryt_unit_t;

rz_teryt_t *rz_teryt_new(void);
void rz_teryt_destroy(rz_teryt_t **t);

/* Add every unit of a TERC file (CSV or XML, told apart by content).
 * Returns the number of units added, or a negative code with err naming
 * the file and the line or row. A later file's unit replaces an earlier
 * one with the same code. */
int rz_teryt_load(rz_teryt_t *t, const char *path, char *err, size_t err_len);
int rz_teryt_load_mem(rz_teryt_t *t, const char *name, const char *data,
                      size_t len, char *err, size_t err_len);

/* The unit with this code, or NULL. */
const rz_teryt_unit_t *rz_teryt_find(const rz_teryt_t *t, const char *code);

size_t rz_teryt_count(const rz_teryt_t *t);

/* The unit at index i in code order (i < rz_teryt_count), or NULL: for
 * looking units up by something other than their code, e.g. a name. */
const rz_teryt_unit_t *rz_teryt_at(const rz_teryt_t *t, size_t i);

/* Lend t to a module through out (rz_out_t.units, unit, unit_at), or
 * lend none when t is NULL. t must outlive the module's use of out. */
void rz_teryt_lend(const rz_teryt_t *t, rz_out_t *out);

#endif
