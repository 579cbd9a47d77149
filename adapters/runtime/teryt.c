/* teryt.c - the TERC register from GUS's CSV or eTERYT XML (libcsv,
 * libxml2; Windows-1250 copies decoded by rzcore) */
#include "teryt.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ratusz/core/text.h"
#include "ratusz/errors.h"

struct rz_teryt {
    rz_teryt_unit_t *units;
    size_t n, cap;
    size_t sorted; /* units[0..sorted) are sorted and unique */
    size_t added;  /* units ever added: the next one's order */
};

rz_teryt_t *rz_teryt_new(void)
{
    return calloc(1, sizeof(rz_teryt_t));
}

void rz_teryt_destroy(rz_teryt_t **tp)
{
    if (!tp || !*tp)
        return;
    rz_teryt_t *t = *tp;
    for (size_t i = 0; i < t->n; i++) {
        free(t->units[i].name);
        free(t->units[i].kind);
    }
    free(t->units);
    free(t);
    *tp = NULL;
}

size_t rz_teryt_count(const rz_teryt_t *t)
{
    return t ? t->n : 0;
}

/* ===========================================================================
 * One row (the fields of both formats, by name)
 */

typedef struct s_row {
    const char *woj, *pow, *gmi, *rodz, *nazwa, *nazwa_dod, *sym;
} s_row_t;

static int s_digits(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int s_empty(const char *s)
{
    return !s || !*s;
}

static int s_add(rz_teryt_t *t, const s_row_t *r, const char *where,
                 char *err, size_t err_len)
{
    char code[8];
    if (!s_digits(r->woj, 2)) {
        snprintf(err, err_len, "%s: WOJ '%s' is not 2 digits", where,
                 r->woj ? r->woj : "");
        return RZ_EINVAL;
    }
    if (s_empty(r->pow) && s_empty(r->gmi))
        snprintf(code, sizeof code, "%s", r->woj);
    else if (s_digits(r->pow, 2) && s_empty(r->gmi))
        snprintf(code, sizeof code, "%s%s", r->woj, r->pow);
    else if (s_digits(r->pow, 2) && s_digits(r->gmi, 2) &&
             s_digits(r->rodz, 1))
        snprintf(code, sizeof code, "%s%s%s%s", r->woj, r->pow, r->gmi,
                 r->rodz);
    else {
        snprintf(err, err_len,
                 "%s: POW '%s', GMI '%s', RODZ '%s' do not form a TERC code",
                 where, r->pow ? r->pow : "", r->gmi ? r->gmi : "",
                 r->rodz ? r->rodz : "");
        return RZ_EINVAL;
    }
    if (s_empty(r->nazwa)) {
        snprintf(err, err_len, "%s: unit %s has no NAZWA", where, code);
        return RZ_EINVAL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        rz_teryt_unit_t *u = realloc(t->units, cap * sizeof *u);
        if (!u)
            return RZ_ENOMEM;
        t->units = u;
        t->cap = cap;
    }
    rz_teryt_unit_t *u = &t->units[t->n];
    memcpy(u->code, code, sizeof code);
    u->name = strdup(r->nazwa);
    u->kind = strdup(r->nazwa_dod ? r->nazwa_dod : "");
    /* districts (8) and delegations (9) are parts of a city's gmina, which
     * is the tenant */
    u->tenant = !(strlen(code) == 7 && (code[6] == '8' || code[6] == '9'));
    u->order = t->added++;
    if (!u->name || !u->kind) {
        free(u->name);
        free(u->kind);
        return RZ_ENOMEM;
    }
    t->n++;
    return 0;
}

/* Sort, and keep the last-added unit of each code. */
static int s_cmp(const void *a, const void *b)
{
    const rz_teryt_unit_t *x = a, *y = b;
    int c = strcmp(x->code, y->code);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void s_index(rz_teryt_t *t)
{
    if (t->n == 0)
        return;
    qsort(t->units, t->n, sizeof *t->units, s_cmp);
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (o > 0 && strcmp(t->units[o - 1].code, t->units[i].code) == 0) {
            free(t->units[o - 1].name);
            free(t->units[o - 1].kind);
            t->units[o - 1] = t->units[i];
            continue;
        }
        t->units[o++] = t->units[i];
    }
    t->n = o;
    t->sorted = o;
}

const rz_teryt_unit_t *rz_teryt_find(const rz_teryt_t *t, const char *code)
{
    if (!t || !code)
        return NULL;
    size_t lo = 0, hi = t->sorted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->units[mid].code, code);
        if (c == 0)
            return &t->units[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const rz_teryt_unit_t *rz_teryt_at(const rz_teryt_t *t, size_t i)
{
    return t && i < t->sorted ? &t->units[i] : NULL;
}

/* ===========================================================================
 * CSV
 */

#define S_MAXCOLS 16

typedef struct s_csv {
    rz_teryt_t *t;
    const char *name;
    char *fields[S_MAXCOLS];
    size_t nf;
    int col[7]; /* WOJ POW GMI RODZ NAZWA NAZWA_DOD SYM */
    uint64_t row;
    int rc;
    char *err;
    size_t err_len;
} s_csv_t;

static const char *const s_cols[7] = {"WOJ",   "POW",       "GMI", "RODZ",
                                      "NAZWA", "NAZWA_DOD", "SYM"};

static void s_csv_field(void *data, size_t len, void *user)
{
    s_csv_t *c = user;
    if (c->nf < S_MAXCOLS) {
        char *f = malloc(len + 1);
        if (f) {
            memcpy(f, data, len);
            f[len] = '\0';
            /* trim: some copies pad fields */
            while (len && isspace((unsigned char)f[len - 1]))
                f[--len] = '\0';
        } else if (!c->rc) {
            c->rc = RZ_ENOMEM;
        }
        c->fields[c->nf] = f;
    }
    c->nf++;
}

static const char *s_field(const s_csv_t *c, int which)
{
    int i = c->col[which];
    return i >= 0 && (size_t)i < c->nf && i < S_MAXCOLS ? c->fields[i] : NULL;
}

static void s_csv_row(int term, void *user)
{
    s_csv_t *c = user;
    (void)term;
    c->row++;
    if (c->rc)
        goto out;
    if (c->row == 1) {
        for (int k = 0; k < 7; k++) {
            c->col[k] = -1;
            for (size_t i = 0; i < c->nf && i < S_MAXCOLS; i++) {
                const char *h = c->fields[i] ? c->fields[i] : "";
                if (!strcmp(h, s_cols[k]) ||
                    (k == 5 && !strcmp(h, "NAZDOD")))
                    c->col[k] = (int)i;
            }
        }
        if (c->col[0] < 0 || c->col[4] < 0) {
            snprintf(c->err, c->err_len,
                     "%s: line 1: not a TERC CSV header (want WOJ;POW;GMI;"
                     "RODZ;NAZWA;NAZWA_DOD;STAN_NA)",
                     c->name);
            c->rc = RZ_EINVAL;
        } else if (c->col[6] >= 0) {
            snprintf(c->err, c->err_len,
                     "%s: a SIMC (localities) file, not TERC", c->name);
            c->rc = RZ_EINVAL;
        }
        goto out;
    }
    s_row_t r = {s_field(c, 0), s_field(c, 1), s_field(c, 2), s_field(c, 3),
                 s_field(c, 4), s_field(c, 5), NULL};
    char where[300];
    snprintf(where, sizeof where, "%s: row %llu", c->name,
             (unsigned long long)c->row);
    if (c->nf < 5) {
        snprintf(c->err, c->err_len, "%s: %zu fields, want 7", where, c->nf);
        c->rc = RZ_EINVAL;
        goto out;
    }
    c->rc = s_add(c->t, &r, where, c->err, c->err_len);
out:
    for (size_t i = 0; i < c->nf && i < S_MAXCOLS; i++)
        free(c->fields[i]);
    c->nf = 0;
}

static int s_load_csv(rz_teryt_t *t, const char *name, const char *data,
                      size_t len, char *err, size_t err_len)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0)
        return RZ_ENOMEM;
    csv_set_delim(&p, ';');
    s_csv_t c = {.t = t, .name = name, .err = err, .err_len = err_len};
    size_t before = t->n;
    if (csv_parse(&p, data, len, s_csv_field, s_csv_row, &c) != len &&
        !c.rc) {
        snprintf(err, err_len, "%s: %s", name,
                 csv_strerror(csv_error(&p)));
        c.rc = RZ_EINVAL;
    }
    if (!c.rc)
        csv_fini(&p, s_csv_field, s_csv_row, &c);
    for (size_t i = 0; i < c.nf && i < S_MAXCOLS; i++)
        free(c.fields[i]);
    csv_free(&p);
    if (!c.rc && c.row == 0) {
        snprintf(err, err_len, "%s: empty", name);
        c.rc = RZ_EINVAL;
    }
    return c.rc ? c.rc : (int)(t->n - before);
}

/* ===========================================================================
 * XML
 */

static char *s_text(xmlNode *n)
{
    xmlChar *s = xmlNodeGetContent(n);
    char *r = strdup(s ? (const char *)s : "");
    xmlFree(s);
    if (r) {
        size_t l = strlen(r);
        while (l && isspace((unsigned char)r[l - 1]))
            r[--l] = '\0';
    }
    return r;
}

/* One <row>: children named by their element (2025) or by their name
 * attribute (<column name="WOJ">, 2012). */
static int s_xml_row(rz_teryt_t *t, xmlNode *row, const char *where,
                     char *err, size_t err_len)
{
    char *vals[7] = {0};
    int rc = 0;
    for (xmlNode *c = row->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *attr = NULL;
        const char *field = (const char *)c->name;
        if (!strcmp(field, "column")) {
            attr = xmlGetProp(c, (const xmlChar *)"name");
            field = attr ? (const char *)attr : "";
        }
        for (int k = 0; k < 7; k++) {
            if (!strcmp(field, s_cols[k]) ||
                (k == 5 && !strcmp(field, "NAZDOD"))) {
                free(vals[k]);
                vals[k] = s_text(c);
            }
        }
        xmlFree(attr);
    }
    if (vals[6]) {
        snprintf(err, err_len, "%s: a SIMC (localities) row, not TERC", where);
        rc = RZ_EINVAL;
    } else {
        s_row_t r = {vals[0], vals[1], vals[2], vals[3], vals[4], vals[5],
                     NULL};
        rc = s_add(t, &r, where, err, err_len);
    }
    for (int k = 0; k < 7; k++)
        free(vals[k]);
    return rc;
}

static int s_xml_walk(rz_teryt_t *t, xmlNode *n, const char *name,
                      uint64_t *rows, char *err, size_t err_len)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (!strcmp((const char *)n->name, "row")) {
            char where[300];
            ++*rows;
            snprintf(where, sizeof where, "%s: row %llu (line %ld)", name,
                     (unsigned long long)*rows, xmlGetLineNo(n));
            int rc = s_xml_row(t, n, where, err, err_len);
            if (rc)
                return rc;
            continue;
        }
        int rc = s_xml_walk(t, n->children, name, rows, err, err_len);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_load_xml(rz_teryt_t *t, const char *name, const char *data,
                      size_t len, char *err, size_t err_len)
{
    if (len > INT32_MAX)
        return RZ_ETOOBIG;
    xmlDoc *doc = xmlReadMemory(data, (int)len, name, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR |
                                    XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        snprintf(err, err_len, "%s:%d: not well-formed XML: %s", name,
                 e ? e->line : 0, e && e->message ? e->message : "?");
        size_t l = strlen(err);
        if (l && err[l - 1] == '\n')
            err[l - 1] = '\0';
        return RZ_EINVAL;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    int rc = 0;
    uint64_t rows = 0;
    size_t before = t->n;
    if (!root || strcmp((const char *)root->name, "teryt") != 0) {
        snprintf(err, err_len, "%s: root element <%s>, want <teryt> (a TERC "
                 "catalogue)", name, root ? (const char *)root->name : "");
        rc = RZ_EINVAL;
    } else {
        rc = s_xml_walk(t, root->children, name, &rows, err, err_len);
        if (!rc && rows == 0) {
            snprintf(err, err_len, "%s: no <row> elements", name);
            rc = RZ_EINVAL;
        }
    }
    xmlFreeDoc(doc);
    return rc ? rc : (int)(t->n - before);
}

/* ===========================================================================
 * Loading
 */

int rz_teryt_load_mem(rz_teryt_t *t, const char *name, const char *data,
                      size_t len, char *err, size_t err_len)
{
    char *conv = NULL;
    int rc;
    if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        data += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i < len && data[i] == '<') {
        /* XML declares its own encoding */
        rc = s_load_xml(t, name, data, len, err, err_len);
    } else {
        /* GUS also publishes in Windows-1250 */
        if (!rzc_utf8_valid((const uint8_t *)data, len)) {
            size_t clen, bad_at;
            rc = rzc_cp1250_decode((const uint8_t *)data, len, &conv, &clen,
                                   NULL, &bad_at);
            if (rc == RZ_EINVAL)
                snprintf(err, err_len,
                         "%s: neither UTF-8 nor Windows-1250 text", name);
            else if (rc)
                snprintf(err, err_len, "%s: %s", name, rz_strerror(rc));
            if (rc)
                return rc;
            data = conv;
            len = clen;
        }
        rc = s_load_csv(t, name, data, len, err, err_len);
    }
    free(conv);
    s_index(t);
    return rc;
}

int rz_teryt_load(rz_teryt_t *t, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 256 * 1024;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = RZ_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, err_len, "%s: %s", path, strerror(errno));
                rc = RZ_EIO;
            }
            break;
        }
    }
    fclose(f);
    if (!rc)
        rc = rz_teryt_load_mem(t, path, buf, len, err, err_len);
    free(buf);
    return rc;
}

/* ===========================================================================
 * The register lent to modules (ratusz/adapter.h)
 */

static int s_lend(const rz_teryt_unit_t *t, rz_adapter_unit_t *u)
{
    if (!t)
        return RZ_ENOTFOUND;
    u->code = t->code;
    u->name = t->name;
    u->kind = t->kind;
    u->tenant = t->tenant;
    return 0;
}

static int s_unit(const void *units, const char *code, rz_adapter_unit_t *u)
{
    return s_lend(rz_teryt_find(units, code), u);
}

static int s_unit_at(const void *units, size_t i, rz_adapter_unit_t *u)
{
    return s_lend(rz_teryt_at(units, i), u);
}

void rz_teryt_lend(const rz_teryt_t *t, rz_out_t *out)
{
    out->units = t;
    out->unit = t ? s_unit : NULL;
    out->unit_at = t ? s_unit_at : NULL;
}
