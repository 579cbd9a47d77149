/* terc.c - a station's gmina from its names, in the TERC register the
 * runtime lends (GUS TERYT units: 2-digit voivodeships, 4-digit powiats,
 * 7-digit gminy WOJ POW GMI RODZ) */
#include "env.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ==========================================================================
 * Case folding
 */

/* One code point of s, lowercased when it is a letter we know; advances
 * *s. Invalid bytes are returned as they are, one at a time. */
static uint32_t s_fold_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = p[0];
    int n = 1;
    if (c >= 0xc2 && c <= 0xdf && (p[1] & 0xc0) == 0x80) {
        c = (c & 0x1f) << 6 | (p[1] & 0x3f);
        n = 2;
    }
    *s = p + n;
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) /* Latin-1: À..Þ but × */
        return c + 32;
    switch (c) {
    case 0x104:
    case 0x106:
    case 0x118: /* Ą Ć Ę */
    case 0x141:
    case 0x143:
    case 0x15a: /* Ł Ń Ś */
    case 0x179:
    case 0x17b: /* Ź Ż */ return c + 1;
    default: return c;
    }
}

int rz__env_casecmp(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a;
    const unsigned char *q = (const unsigned char *)b;
    while (*p && *q) {
        uint32_t x = s_fold_next(&p), y = s_fold_next(&q);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (*p != 0) - (*q != 0);
}

/* ==========================================================================
 * Lookup (linear: a few thousand units, once per station)
 */

int rz__env_voivodeship(rz_out_t *out, const char *name, char code[3])
{
    rz_adapter_unit_t u;
    for (size_t i = 0; rz_out_unit_at(out, i, &u) == 0; i++)
        if (strlen(u.code) == 2 && !rz__env_casecmp(u.name, name)) {
            memcpy(code, u.code, 3);
            return 0;
        }
    return RZ_ENOTFOUND;
}

int rz__env_gmina(rz_out_t *out, const char *woj, const char *district,
                  const char *commune, const char *city, char code[8])
{
    const char *order = city && !rz__env_casecmp(city, commune) ? "132" : "231";
    rz_adapter_unit_t u;
    /* the powiats carrying the district's name (one, in practice) */
    char pows[8][3];
    size_t n_pows = 0;
    for (size_t i = 0; n_pows < 8 && rz_out_unit_at(out, i, &u) == 0; i++)
        if (strlen(u.code) == 4 && !memcmp(u.code, woj, 2) &&
            !rz__env_casecmp(u.name, district))
            memcpy(pows[n_pows++], u.code + 2, 3);
    const char *best = NULL;
    for (size_t i = 0; n_pows && rz_out_unit_at(out, i, &u) == 0; i++) {
        if (strlen(u.code) != 7 || !strchr("123", u.code[6]) ||
            memcmp(u.code, woj, 2))
            continue;
        size_t k;
        for (k = 0; k < n_pows && memcmp(pows[k], u.code + 2, 2); k++)
            ;
        if (k == n_pows || rz__env_casecmp(u.name, commune))
            continue;
        if (!best || strchr(order, u.code[6]) < strchr(order, best[6]))
            best = u.code;
    }
    if (!best)
        return RZ_ENOTFOUND;
    memcpy(code, best, 8);
    return 0;
}
