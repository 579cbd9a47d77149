/* module.c - the budget module: options, format detection, the sink. */
#include "budget.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_formats[] = {"auto", "bdl", "pabulib",
                                        "rb",   "fk",  NULL};
static const char *const s_encodings[] = {"auto", "utf-8", "windows-1250",
                                          NULL};
static const char *const s_sink_encodings[] = {"utf-8", "windows-1250", NULL};
static const char *const s_sides[] = {"auto", "income", "expenditure", NULL};

const rz_conf_option_t rz__budget_options[] = {
    {"format", RZ_CONF_ENUM, offsetof(rz_budget_conf_t, format), "auto",
     s_formats, 0, 0, "auto|bdl|pabulib|rb|fk",
     "input format; auto tells them apart by content"},
    {"encoding", RZ_CONF_ENUM, offsetof(rz_budget_conf_t, encoding), "auto",
     s_encodings, 0, 0, "auto|utf-8|windows-1250",
     "encoding of CSV inputs; auto: UTF-8 (with or without BOM) if valid, "
     "else Windows-1250"},
    {"tenant", RZ_CONF_STRING, offsetof(rz_budget_conf_t, tenant), "", NULL, 0,
     0, "TERC",
     "TERYT TERC code for inputs that name no unit (fk without a 'teryt' "
     "column, Pabulib without META unit); never overrides a named unit"},
    {"tenant_names", RZ_CONF_MAP, offsetof(rz_budget_conf_t, tenant_names), "",
     NULL, 0, 0, "NAME=TERC",
     "TERC code per unit name, for Pabulib files (META unit); before the "
     "adapter's TERC register (teryt), and for names several gminy share; "
     "a named unit found in neither is quarantined"},
    {"year", RZ_CONF_UINT, offsetof(rz_budget_conf_t, year), "0", NULL, 0, 9999,
     "YEAR", "fiscal year of fk files without a 'rok' column (0: none)"},
    {"side", RZ_CONF_ENUM, offsetof(rz_budget_conf_t, side), "auto", s_sides, 0,
     0, "auto|income|expenditure",
     "budget side of fk files without a 'strona' column"},
    {"columns", RZ_CONF_MAP, offsetof(rz_budget_conf_t, columns), "", NULL, 0,
     0, "COLUMN=HEADER",
     "fk files: header name of a column (dzial, rozdzial, paragraf, plan, "
     "plan_po_zmianach, wykonanie, zaangazowanie, kwota, etap, strona, rok, "
     "okres, teryt, jednostka, zadanie, opis, waluta, sprawozdanie)"},
    {"system", RZ_CONF_STRING, offsetof(rz_budget_conf_t, system), "fk", NULL,
     0, 0, "NAME", "finance system's name in fk event sources"},
    {"source", RZ_CONF_STRING, offsetof(rz_budget_conf_t, source), "", NULL, 0,
     0, "URI",
     "event source for every input (default /<tenant>/budget/<system>)"},
    {"sink_encoding", RZ_CONF_ENUM, offsetof(rz_budget_conf_t, sink_encoding),
     "windows-1250", s_sink_encodings, 0, 0, "utf-8|windows-1250",
     "encoding of the CSV the sink writes"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

const char *const rz__budget_col_names[RZ_BUDGET_COL_COUNT] = {
    "rok",       "okres",         "teryt",    "jednostka",
    "dzial",     "rozdzial",      "paragraf", "strona",
    "etap",      "kwota",         "waluta",   "zadanie",
    "opis",      "sprawozdanie",  "plan",     "plan_po_zmianach",
    "wykonanie", "zaangazowanie",
};

static void s_close(void *state)
{
    rz_budget_state_t *st = state;
    if (!st)
        return;
    free(st->tenant);
    free(st->system);
    free(st->source);
    for (size_t i = 0; i < st->n_names; i++) {
        free(st->name_keys[i]);
        free(st->name_codes[i]);
    }
    free(st->name_keys);
    free(st->name_codes);
    for (int i = 0; i < RZ_BUDGET_COL_COUNT; i++)
        free(st->col_header[i]);
    free(st);
}

static int s_open(void **state, const void *conf_, char *err, size_t err_len)
{
    const rz_budget_conf_t *conf = conf_;
    rz_budget_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return RZ_ENOMEM;
    st->format = conf->format;
    st->encoding = conf->encoding;
    st->side = conf->side;
    st->year = conf->year;
    st->sink_encoding =
        conf->sink_encoding == 0 ? RZ_BUDGET_ENC_UTF8 : RZ_BUDGET_ENC_CP1250;
    st->tenant = strdup(conf->tenant ? conf->tenant : "");
    st->system = strdup(conf->system && *conf->system ? conf->system : "fk");
    st->source = strdup(conf->source ? conf->source : "");
    if (!st->tenant || !st->system || !st->source)
        goto nomem;
    if (*st->tenant && !rz__budget_is_terc(st->tenant)) {
        snprintf(err, err_len,
                 "budget.tenant: '%s' is not a TERYT TERC code "
                 "(2, 4 or 7 digits)",
                 st->tenant);
        goto invalid;
    }
    size_t n = conf->tenant_names.n;
    if (n) {
        st->name_keys = calloc(n, sizeof *st->name_keys);
        st->name_codes = calloc(n, sizeof *st->name_codes);
        if (!st->name_keys || !st->name_codes)
            goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        const char *code = conf->tenant_names.values[i];
        if (!rz__budget_is_terc(code)) {
            snprintf(err, err_len,
                     "budget.tenant_names.%s: '%s' is not a "
                     "TERYT TERC code",
                     conf->tenant_names.keys[i], code);
            goto invalid;
        }
        char key[256];
        rz__budget_fold(conf->tenant_names.keys[i], key, sizeof key);
        st->name_keys[i] = strdup(key);
        st->name_codes[i] = strdup(code);
        st->n_names = i + 1;
        if (!st->name_keys[i] || !st->name_codes[i])
            goto nomem;
    }
    for (size_t i = 0; i < conf->columns.n; i++) {
        char key[64];
        rz__budget_fold(conf->columns.keys[i], key, sizeof key);
        int c = -1;
        for (int k = 0; k < RZ_BUDGET_COL_COUNT; k++) {
            char name[64];
            rz__budget_fold(rz__budget_col_names[k], name, sizeof name);
            if (strcmp(name, key) == 0)
                c = k;
        }
        if (c < 0) {
            snprintf(err, err_len,
                     "budget.columns: unknown column '%s' "
                     "(known: dzial, rozdzial, paragraf, plan, "
                     "plan_po_zmianach, wykonanie, zaangazowanie, kwota, "
                     "etap, strona, rok, okres, teryt, jednostka, zadanie, "
                     "opis, waluta, sprawozdanie)",
                     conf->columns.keys[i]);
            goto invalid;
        }
        free(st->col_header[c]);
        st->col_header[c] = strdup(conf->columns.values[i]);
        if (!st->col_header[c])
            goto nomem;
    }
    *state = st;
    return 0;
nomem:
    s_close(st);
    return RZ_ENOMEM;
invalid:
    s_close(st);
    return RZ_ECONFIG;
}

/* ---------------------------------------------------------------------------
 * Format detection: by content, so that a drop folder may get any of them
 */

static int s_starts_xml(const uint8_t *d, size_t len)
{
    size_t i = 0;
    if (len >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf)
        i = 3;
    while (i < len &&
           (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    return i < len && d[i] == '<';
}

/* The first non-blank line of t, folded. */
static void s_first_line(const rz_budget_text_t *t, char *out, size_t len)
{
    size_t pos = 0;
    out[0] = '\0';
    while (pos < t->len) {
        const char *nl = memchr(t->text + pos, '\n', t->len - pos);
        size_t end = nl ? (size_t)(nl - t->text) : t->len;
        char line[512];
        size_t n = end - pos < sizeof line - 1 ? end - pos : sizeof line - 1;
        memcpy(line, t->text + pos, n);
        line[n] = '\0';
        rz__budget_fold(line, out, len);
        if (*out)
            return;
        pos = end + 1;
    }
}

static int s_detect(const rz_budget_state_t *st, const rz_input_t *in)
{
    if (st->format != RZ_BUDGET_FORMAT_AUTO)
        return st->format;
    if (s_starts_xml(in->data, in->len))
        return RZ_BUDGET_FORMAT_RB;
    rz_budget_text_t t;
    char err[16];
    if (rzc_text_decode(&t, in->data, in->len, st->encoding, err, sizeof err))
        return RZ_BUDGET_FORMAT_FK; /* which reports the encoding problem */
    char first[512];
    s_first_line(&t, first, sizeof first);
    rzc_text_free(&t);
    if (strcmp(first, "meta") == 0)
        return RZ_BUDGET_FORMAT_PABULIB;
    /* a GUS BDL export's header names its unit code and value columns */
    if (strstr(first, "\"kod\"") && strstr(first, "\"wartosc\""))
        return RZ_BUDGET_FORMAT_BDL;
    if (strncmp(first, "kod;", 4) == 0 && strstr(first, ";wartosc"))
        return RZ_BUDGET_FORMAT_BDL;
    return RZ_BUDGET_FORMAT_FK;
}

static int s_parse(void *state, const rz_input_t *in, rz_out_t *out, char *err,
                   size_t err_len)
{
    rz_budget_state_t *st = state;
    rz_budget_job_t job = {st, in, out, err, err_len};
    if (err_len)
        err[0] = '\0';
    if (in->partial) {
        snprintf(err, err_len,
                 "budget exports are whole files: a tailed "
                 "input is not supported (use a drop folder)");
        return RZ_EINVAL;
    }
    switch (s_detect(st, in)) {
    case RZ_BUDGET_FORMAT_BDL: return rz__budget_parse_bdl(&job);
    case RZ_BUDGET_FORMAT_PABULIB: return rz__budget_parse_pabulib(&job);
    case RZ_BUDGET_FORMAT_RB: return rz__budget_parse_rb(&job);
    default: return rz__budget_parse_fk(&job);
    }
}

const rz_adapter_module_t rz_module_budget = {
    .name = "budget",
    .description = "budget and finance: GUS BDL CSV, Pabulib participatory "
                   "budgets, MF Rb-27S/Rb-28S XML, finance-system CSV",
    .options = rz__budget_options,
    .conf_size = sizeof(rz_budget_conf_t),
    .open = s_open,
    .close = s_close,
    .parse = s_parse,
    .sink_open = rz__budget_sink_open,
    .sink_event = rz__budget_sink_event,
    .sink_flush = rz__budget_sink_flush,
    .sink_close = rz__budget_sink_close,
};
