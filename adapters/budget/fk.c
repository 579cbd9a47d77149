/* fk.c - a finance system's semicolon CSV export (system
 * finansowo-księgowy), read by its header:
 *
 *   Dział;Rozdział;Paragraf;Nazwa;Plan;Plan po zmianach;Wykonanie
 *   600;60016;4300;"Zakup usług; drogi gminne";150000,00;162000,00;118432,17
 *
 * typically Windows-1250 with decimal commas. Columns are found by name
 * (case, diacritics, '_' and spaces do not matter; budget.columns maps
 * other names). Each amount column of a row (plan, plan po zmianach,
 * wykonanie, zaangażowanie, or kwota with its stage in "etap") is one
 * record and one BudgetEntry; every column is kept in the attributes. The
 * long shape (rok;okres;teryt;...;etap;kwota;...) is what the sink writes,
 * so its files read back to the same entries. Rows have no identity of
 * their own: ids come from the file's content and the row number.
 */
#include "budget.h"

#include <stdlib.h>
#include <string.h>

/* Header names each column answers to, folded (rz__budget_fold). */
static const char *const s_alias[RZ_BUDGET_COL_COUNT][4] = {
    [RZ_BUDGET_COL_ROK] = {"rok"},
    [RZ_BUDGET_COL_OKRES] = {"okres"},
    [RZ_BUDGET_COL_TERYT] = {"teryt", "terc"},
    [RZ_BUDGET_COL_JEDNOSTKA] = {"jednostka"},
    [RZ_BUDGET_COL_DZIAL] = {"dzial"},
    [RZ_BUDGET_COL_ROZDZIAL] = {"rozdzial"},
    [RZ_BUDGET_COL_PARAGRAF] = {"paragraf", "\xc2\xa7", "par"},
    [RZ_BUDGET_COL_STRONA] = {"strona"},
    [RZ_BUDGET_COL_ETAP] = {"etap"},
    [RZ_BUDGET_COL_KWOTA] = {"kwota"},
    [RZ_BUDGET_COL_WALUTA] = {"waluta"},
    [RZ_BUDGET_COL_ZADANIE] = {"zadanie"},
    [RZ_BUDGET_COL_OPIS] = {"opis", "nazwa"},
    [RZ_BUDGET_COL_SPRAWOZDANIE] = {"sprawozdanie"},
    [RZ_BUDGET_COL_PLAN] = {"plan"},
    [RZ_BUDGET_COL_PLAN_PO_ZMIANACH] = {"plan po zmianach"},
    [RZ_BUDGET_COL_WYKONANIE] = {"wykonanie"},
    [RZ_BUDGET_COL_ZAANGAZOWANIE] = {"zaangazowanie"},
};

static const int s_amounts[] = {
    RZ_BUDGET_COL_PLAN, RZ_BUDGET_COL_PLAN_PO_ZMIANACH, RZ_BUDGET_COL_WYKONANIE,
    RZ_BUDGET_COL_ZAANGAZOWANIE, RZ_BUDGET_COL_KWOTA};

int rz__budget_fk_map_header(const rz_budget_state_t *st,
                             const rz_budget_row_t *hdr,
                             int col[RZ_BUDGET_COL_COUNT], char *err,
                             size_t err_len)
{
    char(*folded)[128] = calloc(hdr->n ? hdr->n : 1, sizeof *folded);
    if (!folded)
        return RZ_ENOMEM;
    for (size_t i = 0; i < hdr->n; i++)
        rz__budget_fold(hdr->f[i], folded[i], sizeof folded[i]);
    int rc = 0;
    for (int c = 0; c < RZ_BUDGET_COL_COUNT; c++) {
        col[c] = -1;
        if (st->col_header[c]) {
            char want[128];
            rz__budget_fold(st->col_header[c], want, sizeof want);
            for (size_t i = 0; i < hdr->n && col[c] < 0; i++)
                if (!strcmp(folded[i], want))
                    col[c] = (int)i;
            if (col[c] < 0) {
                snprintf(err, err_len,
                         "line %llu: column '%s' "
                         "(budget.columns.%s) is not in the header",
                         (unsigned long long)hdr->line, st->col_header[c],
                         rz__budget_col_names[c]);
                rc = RZ_EINVAL;
                break;
            }
            continue;
        }
        for (size_t i = 0; i < hdr->n && col[c] < 0; i++)
            for (int a = 0; a < 4 && s_alias[c][a]; a++)
                if (!strcmp(folded[i], s_alias[c][a]))
                    col[c] = (int)i;
    }
    free(folded);
    return rc;
}

typedef struct s_fk {
    rz_budget_job_t *job;
    int header_done;
    size_t ncols;
    char **names;
    int col[RZ_BUDGET_COL_COUNT];
    uint64_t rows;
    rz_budget_ev_t e;
} s_fk_t;

static int s_header(s_fk_t *k, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = k->job;
    const rz_budget_state_t *st = job->st;
    if (row->error) {
        snprintf(job->err, job->err_len,
                 "line %llu: the header cannot be "
                 "read: %s",
                 (unsigned long long)row->line, row->error);
        return RZ_EINVAL;
    }
    k->ncols = row->n;
    if (k->ncols > 1 && row->f[k->ncols - 1][0] == '\0')
        k->ncols--;
    if (!(k->names = calloc(k->ncols, sizeof *k->names)))
        return RZ_ENOMEM;
    for (size_t i = 0; i < k->ncols; i++)
        if (!(k->names[i] = strdup(row->f[i])))
            return RZ_ENOMEM;
    rz_budget_row_t hdr = *row;
    hdr.n = k->ncols;
    int rc = rz__budget_fk_map_header(st, &hdr, k->col, job->err, job->err_len);
    if (rc)
        return rc;
    int amounts = 0;
    for (size_t i = 0; i < sizeof s_amounts / sizeof s_amounts[0]; i++)
        amounts += k->col[s_amounts[i]] >= 0;
    if (!amounts) {
        snprintf(job->err, job->err_len,
                 "line %llu: unknown layout: no "
                 "amount column (plan, plan po zmianach, wykonanie, "
                 "zaangażowanie or kwota; see budget.columns) in the header",
                 (unsigned long long)row->line);
        return RZ_EINVAL;
    }
    if (k->col[RZ_BUDGET_COL_TERYT] < 0 && !*st->tenant) {
        snprintf(job->err, job->err_len,
                 "no tenant: the file has no "
                 "'teryt' column and budget.tenant is not set");
        return RZ_EINVAL;
    }
    if (k->col[RZ_BUDGET_COL_ROK] < 0 && !st->year) {
        snprintf(job->err, job->err_len,
                 "no fiscal year: the file has no "
                 "'rok' column and budget.year is not set");
        return RZ_EINVAL;
    }
    k->header_done = 1;
    return 0;
}

/* A canonical column's cell, "" when the column is not there or the cell
 * means no value (rz__budget_is_missing): every fk column is optional, those a
 * record cannot do without are checked as empty. */
static const char *s_cell(const s_fk_t *k, const rz_budget_row_t *row, int c)
{
    const char *v = k->col[c] >= 0 ? row->f[k->col[c]] : "";
    return rz__budget_is_missing(v) ? "" : v;
}

static int s_side(const char *v, int dflt, Ratusz__V1__BudgetSide *out)
{
    char f[32];
    rz__budget_fold(v, f, sizeof f);
    if (!*f)
        *out = dflt == RZ_BUDGET_SIDE_INCOME
                   ? RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_INCOME
               : dflt == RZ_BUDGET_SIDE_EXPENDITURE
                   ? RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE
                   : RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_UNSPECIFIED;
    else if (!strcmp(f, "dochody") || !strcmp(f, "d"))
        *out = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_INCOME;
    else if (!strcmp(f, "wydatki") || !strcmp(f, "w"))
        *out = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE;
    else if (!strcmp(f, "przychody"))
        *out = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_REVENUE;
    else if (!strcmp(f, "rozchody"))
        *out = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_OUTGOING;
    else
        return -1;
    return 0;
}

static int s_stage(const char *v, Ratusz__V1__BudgetStage *out)
{
    char f[32];
    rz__budget_fold(v, f, sizeof f);
    if (!*f)
        *out = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_UNSPECIFIED;
    else if (!strcmp(f, "plan"))
        *out = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN;
    else if (!strcmp(f, "plan po zmianach"))
        *out = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES;
    else if (!strcmp(f, "wykonanie"))
        *out = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION;
    else if (!strcmp(f, "zaangazowanie"))
        *out = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_COMMITMENTS;
    else
        return -1;
    return 0;
}

static int s_all_digits(const char *s, size_t lo, size_t hi)
{
    size_t n = strlen(s);
    if (n < lo || n > hi)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int s_record(s_fk_t *k, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = k->job;
    const rz_budget_state_t *st = job->st;
    rz_out_t *out = job->out;
    char key[64];
    uint64_t rown = ++k->rows;
    snprintf(key, sizeof key, "row %llu", (unsigned long long)rown);
    rz_record_ref_t ref = {row->line, key, row->bytes, row->len};
    if (row->error)
        return rz__budget_quarantine(out, &ref, "%s", row->error);
    if (row->n != k->ncols &&
        !(row->n == k->ncols + 1 && row->f[row->n - 1][0] == '\0'))
        return rz__budget_quarantine(out, &ref,
                                     "row has %zu fields, the header "
                                     "has %zu",
                                     row->n, k->ncols);
#define S_NAME(c) k->names[k->col[c]]
    const char *dz = s_cell(k, row, RZ_BUDGET_COL_DZIAL);
    const char *ro = s_cell(k, row, RZ_BUDGET_COL_ROZDZIAL);
    const char *pa = s_cell(k, row, RZ_BUDGET_COL_PARAGRAF);
    if (*dz && !s_all_digits(dz, 3, 3))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a "
                                     "3-digit section",
                                     S_NAME(RZ_BUDGET_COL_DZIAL), dz);
    if (*ro && (!s_all_digits(ro, 5, 5) || (*dz && strncmp(ro, dz, 3))))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a "
                                     "5-digit chapter%s",
                                     S_NAME(RZ_BUDGET_COL_ROZDZIAL), ro,
                                     *dz ? " of its section" : "");
    if (*pa && !s_all_digits(pa, 3, 4))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a "
                                     "paragraph (3-4 digits)",
                                     S_NAME(RZ_BUDGET_COL_PARAGRAF), pa);
    rz_budget_ev_t *e = &k->e;
    rz__budget_ev_budget(e, "");
    const char *terc = s_cell(k, row, RZ_BUDGET_COL_TERYT);
    if (!*terc)
        terc = st->tenant;
    if (!rz__budget_is_terc(terc))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a "
                                     "TERYT TERC code",
                                     k->col[RZ_BUDGET_COL_TERYT] >= 0
                                         ? S_NAME(RZ_BUDGET_COL_TERYT)
                                         : "teryt",
                                     terc);
    int64_t year = (int64_t)st->year;
    const char *rok = s_cell(k, row, RZ_BUDGET_COL_ROK);
    if (*rok && (rz__budget_uint(rok, 9999, &year) || year < 1900))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a year",
                                     S_NAME(RZ_BUDGET_COL_ROK), rok);
    if (!year)
        return rz__budget_quarantine(out, &ref,
                                     "column '%s' is empty and "
                                     "budget.year is not set",
                                     S_NAME(RZ_BUDGET_COL_ROK));
    Ratusz__V1__BudgetSide side;
    const char *strona = s_cell(k, row, RZ_BUDGET_COL_STRONA);
    if (s_side(strona, st->side, &side))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a side "
                                     "(dochody, wydatki, przychody, rozchody)",
                                     S_NAME(RZ_BUDGET_COL_STRONA), strona);
    Ratusz__V1__BudgetStage kstage =
        RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION;
    const char *etap = s_cell(k, row, RZ_BUDGET_COL_ETAP);
    if (k->col[RZ_BUDGET_COL_ETAP] >= 0 && s_stage(etap, &kstage))
        return rz__budget_quarantine(out, &ref,
                                     "column '%s': '%s' is not a stage "
                                     "(plan, plan po zmianach, wykonanie, "
                                     "zaangażowanie)",
                                     S_NAME(RZ_BUDGET_COL_ETAP), etap);
    char yearbuf[8];
    snprintf(yearbuf, sizeof yearbuf, "%lld", (long long)year);
    const char *period = s_cell(k, row, RZ_BUDGET_COL_OKRES);
    if (!*period)
        period = yearbuf;
    int64_t time = rz__budget_period_end_us(period);
    if (!time)
        time = rzc_warsaw_midnight_us((int)year + 1, 1, 1);
    const char *task = s_cell(k, row, RZ_BUDGET_COL_ZADANIE);

    int records = 0, rc = 0;
    for (size_t a = 0; a < sizeof s_amounts / sizeof s_amounts[0]; a++) {
        int c = s_amounts[a];
        const char *v = s_cell(k, row, c);
        if (k->col[c] < 0 || !*v)
            continue;
        records++;
        char fkey[96];
        snprintf(fkey, sizeof fkey, "row %llu/%s", (unsigned long long)rown,
                 rz__budget_col_names[c]);
        ref.key = fkey;
        int64_t grosze;
        const char *why;
        if (rzc_grosze(v, 1, &grosze, &why)) {
            rz__budget_quarantine(out, &ref, "column '%s': '%s' %s", S_NAME(c),
                                  v, why);
            continue;
        }
        Ratusz__V1__BudgetStage stage =
            c == RZ_BUDGET_COL_PLAN
                ? RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN
            : c == RZ_BUDGET_COL_PLAN_PO_ZMIANACH
                ? RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES
            : c == RZ_BUDGET_COL_WYKONANIE
                ? RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION
            : c == RZ_BUDGET_COL_ZAANGAZOWANIE
                ? RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_COMMITMENTS
                : kstage;
        int plan =
            stage == RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN ||
            stage == RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES;
        rz__budget_ev_budget(e, plan ? "pl.gov.gmina.budget.plan.v1"
                                     : "pl.gov.gmina.budget.execution.v1");
        snprintf(e->tenant, sizeof e->tenant, "%s", terc);
        if ((rc = rz_adapter_id(e->id, sizeof e->id, "budget",
                                job->in->content_id, fkey)) < 0)
            return rc;
        rc = 0;
        e->ev.source = (char *)rz__budget_ev_source(e, st, st->system);
        if (*dz)
            e->ev.subject = rz__budget_ev_own(
                e, rz__budget_printf("budget:%s%s%s%s%s", dz, *ro ? "." : "",
                                     ro, *pa ? "." : "", pa));
        else if (*task)
            e->ev.subject =
                rz__budget_ev_own(e, rz__budget_printf("project:%s", task));
        if (!e->ev.source || ((*dz || *task) && !e->ev.subject))
            return RZ_ENOMEM;
        e->ev.time = time;
        Ratusz__V1__BudgetEntry *b = &e->b;
        b->dzial = (char *)dz;
        b->rozdzial = (char *)ro;
        b->paragraf = (char *)pa;
        b->side = side;
        b->stage = stage;
        b->amount_grosze = grosze;
        const char *cur = s_cell(k, row, RZ_BUDGET_COL_WALUTA);
        b->currency = (char *)(*cur ? cur : "PLN");
        b->fiscal_year = (int32_t)year;
        b->period = (char *)period;
        b->report = (char *)s_cell(k, row, RZ_BUDGET_COL_SPRAWOZDANIE);
        b->unit = (char *)s_cell(k, row, RZ_BUDGET_COL_JEDNOSTKA);
        b->description = (char *)s_cell(k, row, RZ_BUDGET_COL_OPIS);
        b->task = (char *)task;
        for (size_t i = 0; i < k->ncols; i++)
            if (!rz__budget_is_missing(row->f[i]) &&
                (rc = rz__budget_ev_attr(e, k->names[i], row->f[i])))
                return rc;
        rz__budget_emit(out, &ref, &e->ev);
    }
#undef S_NAME
    if (!records) {
        ref.key = key;
        return rz__budget_quarantine(out, &ref,
                                     "no amount in the row's amount "
                                     "columns");
    }
    return 0;
}

static int s_row(void *ctx, const rz_budget_row_t *row)
{
    s_fk_t *k = ctx;
    return k->header_done ? s_record(k, row) : s_header(k, row);
}

int rz__budget_parse_fk(rz_budget_job_t *job)
{
    rz_budget_text_t t;
    int rc = rzc_text_decode(&t, job->in->data, job->in->len, job->st->encoding,
                             job->err, job->err_len);
    if (rc)
        return rc;
    s_fk_t k;
    memset(&k, 0, sizeof k);
    k.job = job;
    rz__budget_ev_init(&k.e);
    rc = rz__budget_csv_each(&t, ';', s_row, &k);
    if (rc == 0 && !k.header_done) {
        snprintf(job->err, job->err_len, "empty input: no header line");
        rc = RZ_EINVAL;
    }
    if (rc == RZ_ENOMEM && job->err_len && !job->err[0])
        snprintf(job->err, job->err_len, "out of memory");
    for (size_t i = 0; i < k.ncols; i++)
        free(k.names[i]);
    free(k.names);
    rz__budget_ev_free(&k.e);
    rzc_text_free(&t);
    return rc;
}
