/* bdl.c - GUS Bank Danych Lokalnych CSV exports (relational layout).
 *
 *   "Kod";"Nazwa";"Wskaźniki";"Rok";"Wartosc";"Jednostka miary";"Atrybut";
 *   0200000;"DOLNOŚLĄSKIE";"ogółem";"2002";110;"zł";"";
 *
 * One BudgetEntry per row: the value of one variable for one unit and year.
 * The unit code (WWPPGGR, or the 12-digit BDL form, unit.c) gives the
 * tenant. Rows for POLSKA and the NUTS regions belong to no tenant and
 * are quarantined with that reason: the contract has no "skipped", and
 * the quarantine keeps their bytes, so nothing of the export is lost.
 * Columns other than the known ones are the variable's dimensions
 * ("Wskaźniki", "Płeć", ...) and name the figure. The export does not name its
 * variable; its file name does ("FINA_2416_CREL_20250113230845.csv"), and the
 * id is unit + year + variable so that a later export of the same values
 * publishes nothing new.
 */
#include "budget.h"

#include <stdlib.h>
#include <string.h>

/* Variables whose meaning we know; any other is published with the
 * generic type and its code as the description. */
static const struct s_known {
    const char *var;
    const char *type;
    Ratusz__V1__BudgetSide side;
    const char *desc;
} s_known[] = {
    {"FINA_2416", "pl.gov.gmina.budget.expenditure-per-capita.v1",
     RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE,
     "wydatki budżetu województwa na 1 mieszkańca"},
};

enum { S_KOD, S_NAZWA, S_ROK, S_WARTOSC, S_JM, S_ATRYBUT, S_NKNOWN };
static const char *const s_cols[S_NKNOWN] = {
    "kod", "nazwa", "rok", "wartosc", "jednostka miary", "atrybut"};

typedef struct s_bdl {
    rz_budget_job_t *job;
    int header_done;
    size_t ncols;
    char **names;
    int col[S_NKNOWN];
    int *dim;
    size_t ndim;
    char var[64], var_slug[64];
    const struct s_known *known;
    rz_budget_ev_t e;
    rz_budget_set_t seen;
    uint64_t records;
} s_bdl_t;

/* The variable code in a file name: the first "LETTERS_DIGITS" after a
 * '_' or the start whose letters are all capitals ("FINA_2416"). */
static void s_variable(const char *name, char *out, size_t len)
{
    out[0] = '\0';
    for (const char *p = name; p && *p; p++) {
        if (p != name && p[-1] != '_' && p[-1] != '/')
            continue;
        const char *q = p;
        while (*q >= 'A' && *q <= 'Z')
            q++;
        if (q - p < 2 || *q != '_' || q[1] < '0' || q[1] > '9')
            continue;
        const char *d = q + 1;
        while (*d >= '0' && *d <= '9')
            d++;
        if (*d && *d != '_' && *d != '.')
            continue;
        size_t n = (size_t)(d - p);
        if (n >= len)
            return;
        memcpy(out, p, n);
        out[n] = '\0';
        return;
    }
}

static int s_header(s_bdl_t *b, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = b->job;
    if (row->error) {
        snprintf(job->err, job->err_len,
                 "line %llu: the header cannot be "
                 "read: %s",
                 (unsigned long long)row->line, row->error);
        return RZ_EINVAL;
    }
    size_t n = row->n;
    if (n > 1 && row->f[n - 1][0] == '\0')
        n--; /* every line of a BDL export ends with ';' */
    b->ncols = n;
    b->names = calloc(n, sizeof *b->names);
    b->dim = calloc(n, sizeof *b->dim);
    if (!b->names || !b->dim)
        return RZ_ENOMEM;
    for (int k = 0; k < S_NKNOWN; k++)
        b->col[k] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(b->names[i] = strdup(row->f[i])))
            return RZ_ENOMEM;
        char f[128];
        rz__budget_fold(row->f[i], f, sizeof f);
        int known = 0;
        for (int k = 0; k < S_NKNOWN; k++)
            if (strcmp(f, s_cols[k]) == 0 && b->col[k] < 0) {
                b->col[k] = (int)i;
                known = 1;
            }
        if (!known)
            b->dim[b->ndim++] = (int)i;
    }
    static const int required[] = {S_KOD, S_ROK, S_WARTOSC};
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
        if (b->col[required[k]] < 0) {
            snprintf(job->err, job->err_len,
                     "line %llu: not a GUS BDL "
                     "export: no column '%s' in the header",
                     (unsigned long long)row->line, s_cols[required[k]]);
            return RZ_EINVAL;
        }
    s_variable(job->in->name, b->var, sizeof b->var);
    rz__budget_slug(b->var, b->var_slug, sizeof b->var_slug);
    for (size_t k = 0; k < sizeof s_known / sizeof s_known[0]; k++)
        if (strcmp(s_known[k].var, b->var) == 0)
            b->known = &s_known[k];
    b->header_done = 1;
    return 0;
}

/* Grosze per unit of the "Jednostka miary" column, or 0 if the unit is
 * not an amount of money. */
static int64_t s_scale(const char *unit)
{
    char f[64];
    rz__budget_fold(unit, f, sizeof f);
    if (!*f || !strcmp(f, "zl") || !strcmp(f, "pln"))
        return 1;
    if (!strcmp(f, "tys. zl") || !strcmp(f, "tys.zl") || !strcmp(f, "tys zl"))
        return 1000;
    if (!strcmp(f, "mln zl") || !strcmp(f, "mln. zl"))
        return 1000000;
    return 0;
}

/* What a BDL attribute ("Atrybut", GUS's conventional signs) says when
 * the cell next to it holds no figure, or NULL when it holds one. A
 * withheld or unknown value is often written as 0 or left empty; taking
 * it as an amount would publish a figure GUS did not publish. "-"
 * ("did not occur") and an empty attribute leave the value as it is. */
static const char *s_no_figure(const char *atr)
{
    char f[16];
    rz__budget_fold(atr, f, sizeof f);
    if (!strcmp(f, "#"))
        return "withheld for statistical confidentiality";
    if (!strcmp(f, "."))
        return "no information or no reliable information";
    if (!strcmp(f, "x"))
        return "not applicable";
    return NULL;
}

static int s_record(s_bdl_t *b, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = b->job;
    char key[48];
    snprintf(key, sizeof key, "row %llu", (unsigned long long)++b->records);
    rz_record_ref_t ref = {row->line, key, row->bytes, row->len};
    if (row->error)
        return rz__budget_quarantine(job->out, &ref, "%s", row->error);
    if (row->n != b->ncols &&
        !(row->n == b->ncols + 1 && row->f[row->n - 1][0] == '\0'))
        return rz__budget_quarantine(job->out, &ref,
                                     "row has %zu fields, the "
                                     "header has %zu",
                                     row->n, b->ncols);
    const char *kod = row->f[b->col[S_KOD]];
    const char *rok = row->f[b->col[S_ROK]];
    const char *val = row->f[b->col[S_WARTOSC]];
    const char *jm =
        b->col[S_JM] >= 0 && !rz__budget_is_missing(row->f[b->col[S_JM]])
            ? row->f[b->col[S_JM]]
            : "";
    const char *kod_name = b->names[b->col[S_KOD]];
    const char *rok_name = b->names[b->col[S_ROK]];
    const char *val_name = b->names[b->col[S_WARTOSC]];

    rz_budget_ev_t *e = &b->e;
    rz__budget_ev_budget(e, b->known ? b->known->type
                                     : "pl.gov.gmina.budget.bdl.v1");
    const char *not_unit;
    if (rz__budget_tenant_from_bdl(kod, e->tenant, &not_unit))
        return rz__budget_quarantine(job->out, &ref, "column '%s': '%s' %s",
                                     kod_name, kod, not_unit);
    int64_t year;
    if (rz__budget_uint(rok, 9999, &year) || year < 1900)
        return rz__budget_quarantine(job->out, &ref,
                                     "column '%s': '%s' is not a "
                                     "year",
                                     rok_name, rok);
    int64_t scale = s_scale(jm);
    if (!scale)
        return rz__budget_quarantine(job->out, &ref,
                                     "column '%s': '%s' is not an "
                                     "amount of money (zł, tys. zł, mln zł)",
                                     b->names[b->col[S_JM]], jm);
    const char *atr = b->col[S_ATRYBUT] >= 0 ? row->f[b->col[S_ATRYBUT]] : "";
    const char *no_figure = s_no_figure(atr);
    if (no_figure)
        return rz__budget_quarantine(
            job->out, &ref,
            "column '%s': '%s' (%s): no figure for unit %s "
            "in %lld",
            b->names[b->col[S_ATRYBUT]], atr, no_figure, kod, (long long)year);
    if (rz__budget_is_missing(val) && !*val)
        return rz__budget_quarantine(job->out, &ref,
                                     "column '%s' is empty: no "
                                     "value for unit %s in %lld",
                                     val_name, kod, (long long)year);
    if (rz__budget_is_missing(val))
        return rz__budget_quarantine(job->out, &ref,
                                     "column '%s' is '%s': no "
                                     "value for unit %s in %lld",
                                     val_name, val, kod, (long long)year);
    const char *why;
    int64_t grosze;
    if (rzc_grosze(val, scale, &grosze, &why))
        return rz__budget_quarantine(job->out, &ref, "column '%s': '%s' %s",
                                     val_name, val, why);

    /* the figure's name: the dimension values, "ogółem" being the total */
    char dims[512] = "", dslug[128] = "";
    for (size_t i = 0; i < b->ndim; i++) {
        const char *v = row->f[b->dim[i]];
        if (rz__budget_is_missing(v))
            continue;
        size_t l = strlen(dims);
        snprintf(dims + l, sizeof dims - l, "%s%s", l ? ", " : "", v);
    }
    char folded[32];
    rz__budget_fold(dims, folded, sizeof folded);
    if (*dims && strcmp(folded, "ogolem") != 0)
        rz__budget_slug(dims, dslug, sizeof dslug);

    int rc;
    if (b->var[0]) {
        snprintf(e->id, sizeof e->id, "bdl-%s-%s-%lld%s%s", b->var_slug, kod,
                 (long long)year, *dslug ? "-" : "", dslug);
    } else {
        char k[256];
        snprintf(k, sizeof k, "bdl/%s/%lld/%s", kod, (long long)year, dslug);
        if ((rc = rz_adapter_id(e->id, sizeof e->id, "budget",
                                job->in->content_id, k)) < 0)
            return rz__budget_quarantine(job->out, &ref, "no id: %s",
                                         rz_strerror(rc));
    }
    if ((rc = rz__budget_set_add(&b->seen, e->id)) < 0)
        return rc;
    if (rc == 1)
        return rz__budget_quarantine(job->out, &ref,
                                     "unit %s, year %lld%s%s "
                                     "appears twice in the export",
                                     kod, (long long)year, *dims ? ", " : "",
                                     dims);

    e->ev.source = (char *)rz__budget_ev_source(e, job->st, "gus-bdl");
    e->ev.subject = rz__budget_ev_own(e, rz__budget_printf("unit:%s", kod));
    e->ev.time = rzc_warsaw_midnight_us((int)year + 1, 1, 1);
    Ratusz__V1__BudgetEntry *be = &e->b;
    be->side = b->known ? b->known->side
                        : RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_UNSPECIFIED;
    be->stage = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION;
    be->amount_grosze = grosze;
    be->fiscal_year = (int32_t)year;
    be->period = (char *)rok;
    be->report = rz__budget_ev_own(
        e, rz__budget_printf("BDL%s%s", b->var[0] ? ":" : "", b->var));
    be->unit = b->col[S_NAZWA] >= 0 ? row->f[b->col[S_NAZWA]] : (char *)kod;
    be->description = rz__budget_ev_own(
        e, rz__budget_printf("%s (%s)%s%s",
                             b->known    ? b->known->desc
                             : b->var[0] ? b->var
                                         : "BDL",
                             *jm ? jm : "zł", *dims ? ": " : "", dims));
    if (!e->ev.source || !e->ev.subject || !be->report || !be->description)
        return RZ_ENOMEM;
    for (size_t i = 0; i < b->ncols; i++)
        if ((rc = rz__budget_ev_attr(e, b->names[i], row->f[i])))
            return rc;
    return rz__budget_emit(job->out, &ref, &e->ev);
}

static int s_row(void *ctx, const rz_budget_row_t *row)
{
    s_bdl_t *b = ctx;
    return b->header_done ? s_record(b, row) : s_header(b, row);
}

int rz__budget_parse_bdl(rz_budget_job_t *job)
{
    rz_budget_text_t t;
    int rc = rzc_text_decode(&t, job->in->data, job->in->len, job->st->encoding,
                             job->err, job->err_len);
    if (rc)
        return rc;
    s_bdl_t b;
    memset(&b, 0, sizeof b);
    b.job = job;
    rz__budget_ev_init(&b.e);
    rc = rz__budget_csv_each(&t, ';', s_row, &b);
    if (rc == 0 && !b.header_done) {
        snprintf(job->err, job->err_len, "empty input: no header line");
        rc = RZ_EINVAL;
    }
    if (rc == RZ_ENOMEM && job->err_len && !job->err[0])
        snprintf(job->err, job->err_len, "out of memory");
    for (size_t i = 0; i < b.ncols; i++)
        free(b.names[i]);
    free(b.names);
    free(b.dim);
    rz__budget_ev_free(&b.e);
    rz__budget_set_free(&b.seen);
    rzc_text_free(&t);
    return rc;
}
