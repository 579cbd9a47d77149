/* terc.c - the TERC register (GUS TERYT units) as a name -> code lookup */
#include "env.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_unit {
    char woj[3], pow[3], gmi[3], rodz[2];
    char code[8]; /* WOJ POW GMI RODZ: 2, 4 or 7 digits */
    char *name;
} s_unit_t;

struct rz_env_terc {
    s_unit_t *units;
    size_t n, cap;
};

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

int rz_env_casecmp(const char *a, const char *b)
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
 * Loading
 */

enum { S_WOJ, S_POW, S_GMI, S_RODZ, S_NAZWA, S_NCOLS };
static const char *const s_cols[S_NCOLS] = {"WOJ", "POW", "GMI", "RODZ",
                                            "NAZWA"};

typedef struct s_load {
    rz_env_terc_t *t;
    int col[S_NCOLS]; /* field index of each column we use */
    int field;        /* index of the field in the current row */
    size_t row;       /* 1-based, header = 1 */
    char *val[S_NCOLS];
    int failed;
    char err[200];
} s_load_t;

static void s_field(void *data, size_t len, void *user)
{
    s_load_t *l = user;
    const char *s = data;
    if (l->failed)
        return;
    if (l->row == 1) {
        /* the header names the columns; a BOM may precede the first */
        if (l->field == 0 && len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
            s += 3;
            len -= 3;
        }
        for (int i = 0; i < S_NCOLS; i++)
            if (strlen(s_cols[i]) == len && !memcmp(s, s_cols[i], len))
                l->col[i] = l->field;
    } else {
        for (int i = 0; i < S_NCOLS; i++) {
            if (l->col[i] != l->field)
                continue;
            free(l->val[i]);
            l->val[i] = strndup(s, len);
            if (!l->val[i]) {
                l->failed = 1;
                snprintf(l->err, sizeof l->err, "out of memory");
            }
        }
    }
    l->field++;
}

static int s_fits(const char *v, size_t n)
{
    size_t len = strlen(v);
    if (len != 0 && len != n)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

static void s_row(int c, void *user)
{
    s_load_t *l = user;
    (void)c;
    if (l->failed)
        goto next;
    if (l->row == 1) {
        for (int i = 0; i < S_NCOLS; i++)
            if (l->col[i] < 0) {
                l->failed = 1;
                snprintf(l->err, sizeof l->err, "header has no column '%s'",
                         s_cols[i]);
                goto next;
            }
        goto next;
    }
    for (int i = 0; i < S_NCOLS; i++)
        if (!l->val[i]) {
            l->failed = 1;
            snprintf(l->err, sizeof l->err, "row %zu: no column '%s'", l->row,
                     s_cols[i]);
            goto next;
        }
    if (!s_fits(l->val[S_WOJ], 2) || !*l->val[S_WOJ] ||
        !s_fits(l->val[S_POW], 2) || !s_fits(l->val[S_GMI], 2) ||
        !s_fits(l->val[S_RODZ], 1)) {
        l->failed = 1;
        snprintf(l->err, sizeof l->err,
                 "row %zu: code '%s;%s;%s;%s' is not "
                 "a TERC code",
                 l->row, l->val[S_WOJ], l->val[S_POW], l->val[S_GMI],
                 l->val[S_RODZ]);
        goto next;
    }
    rz_env_terc_t *t = l->t;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        s_unit_t *u = realloc(t->units, cap * sizeof *u);
        if (!u) {
            l->failed = 1;
            snprintf(l->err, sizeof l->err, "out of memory");
            goto next;
        }
        t->units = u;
        t->cap = cap;
    }
    s_unit_t *u = &t->units[t->n++];
    snprintf(u->woj, sizeof u->woj, "%s", l->val[S_WOJ]);
    snprintf(u->pow, sizeof u->pow, "%s", l->val[S_POW]);
    snprintf(u->gmi, sizeof u->gmi, "%s", l->val[S_GMI]);
    snprintf(u->rodz, sizeof u->rodz, "%s", l->val[S_RODZ]);
    snprintf(u->code, sizeof u->code, "%s%s%s%s", u->woj, u->pow, u->gmi,
             u->rodz);
    u->name = l->val[S_NAZWA];
    l->val[S_NAZWA] = NULL;
next:
    for (int i = 0; i < S_NCOLS; i++) {
        free(l->val[i]);
        l->val[i] = NULL;
    }
    l->field = 0;
    l->row++;
}

rz_env_terc_t *rz_env_terc_new(const char *path, char *err, size_t err_len)
{
    s_load_t l = {.row = 1};
    struct csv_parser p;
    char buf[65536];
    FILE *f = NULL;
    int pinit = 0;
    for (int i = 0; i < S_NCOLS; i++)
        l.col[i] = -1;
    l.t = calloc(1, sizeof *l.t);
    if (!l.t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "terc '%s': cannot open", path);
        goto fail;
    }
    if (csv_init(&p, CSV_APPEND_NULL) != 0) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    pinit = 1;
    csv_set_delim(&p, ';');
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, s_field, s_row, &l) != n) {
            snprintf(err, err_len, "terc '%s': %s", path,
                     csv_strerror(csv_error(&p)));
            goto fail;
        }
    csv_fini(&p, s_field, s_row, &l);
    if (l.failed) {
        snprintf(err, err_len, "terc '%s': %s", path, l.err);
        goto fail;
    }
    if (l.t->n == 0) {
        snprintf(err, err_len, "terc '%s': no units", path);
        goto fail;
    }
    csv_free(&p);
    fclose(f);
    return l.t;
fail:
    for (int i = 0; i < S_NCOLS; i++)
        free(l.val[i]);
    if (pinit)
        csv_free(&p);
    if (f)
        fclose(f);
    rz_env_terc_destroy(&l.t);
    return NULL;
}

void rz_env_terc_destroy(rz_env_terc_t **pt)
{
    if (!pt || !*pt)
        return;
    for (size_t i = 0; i < (*pt)->n; i++)
        free((*pt)->units[i].name);
    free((*pt)->units);
    free(*pt);
    *pt = NULL;
}

/* ==========================================================================
 * Lookup (linear: a few thousand rows, once per station record)
 */

const char *rz_env_terc_voivodeship(const rz_env_terc_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->units[i].pow[0] && !rz_env_casecmp(t->units[i].name, name))
            return t->units[i].code;
    return NULL;
}

const char *rz_env_terc_gmina(const rz_env_terc_t *t, const char *woj,
                              const char *district, const char *commune,
                              const char *city)
{
    const char *order = city && !rz_env_casecmp(city, commune) ? "132" : "231";
    /* the powiats carrying the district's name (one, in practice) */
    char pows[8][3];
    size_t n_pows = 0;
    for (size_t i = 0; i < t->n && n_pows < 8; i++) {
        const s_unit_t *p = &t->units[i];
        if (p->pow[0] && !p->gmi[0] && p->woj[0] == woj[0] &&
            p->woj[1] == woj[1] && !rz_env_casecmp(p->name, district))
            memcpy(pows[n_pows++], p->pow, 3);
    }
    const s_unit_t *best = NULL;
    for (size_t i = 0; i < t->n && n_pows; i++) {
        const s_unit_t *g = &t->units[i];
        char r = g->rodz[0];
        if (!g->gmi[0] || (r != '1' && r != '2' && r != '3') ||
            g->woj[0] != woj[0] || g->woj[1] != woj[1])
            continue;
        size_t k;
        for (k = 0; k < n_pows && memcmp(pows[k], g->pow, 2); k++)
            ;
        if (k == n_pows || rz_env_casecmp(g->name, commune))
            continue;
        if (!best || strchr(order, g->rodz[0]) < strchr(order, best->rodz[0]))
            best = g;
    }
    return best ? best->code : NULL;
}
