/* test_budget.c - the budget module on the real files and on the worst
 * their exports do: Windows-1250, BOM, CRLF, truncation, corrupted rows;
 * and the sink's round trip back into the finance system's CSV.
 *
 * The module is driven through its rz_adapter_module_t with a collector
 * of its own in place of the runtime: no broker is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "budget.h"
#include "harness.h"
#include "teryt.h"

extern const rz_adapter_module_t rz_module_budget;

#define FIX RZ_SOURCE_DIR "/tests/fixtures/budget/"
#define BDL "GUS_BDL_FINA_2416_wojewodztwa_2002-2023.csv"
#define PB "poland_gdansk_2020_olszynka.pb"
#define RB "rb_zukowo_2023_q4.xml"
#define RB27 "rb27s_koscierzyna_2023_q2_cp1250.xml"
#define FK "fk_zukowo_2023_wydatki_cp1250.csv"

/* ---------------------------------------------------------------------------
 * Helpers: files, re-encodings, the collector
 */

typedef struct buf {
    uint8_t *p;
    size_t len;
} buf_t;

static buf_t s_read(const char *path)
{
    buf_t b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b.len = (size_t)n;
    return b;
}

static buf_t s_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", FIX, name);
    return s_read(path);
}

static buf_t s_dup(const void *p, size_t n)
{
    buf_t b = {malloc(n + 1), n};
    assert_non_null(b.p);
    memcpy(b.p, p, n);
    return b;
}

static buf_t s_str(const char *s)
{
    return s_dup(s, strlen(s));
}

static buf_t s_bom(buf_t in)
{
    buf_t b = {malloc(in.len + 4), in.len + 3};
    memcpy(b.p, "\xef\xbb\xbf", 3);
    memcpy(b.p + 3, in.p, in.len);
    return b;
}

static buf_t s_crlf(buf_t in)
{
    buf_t b = {malloc(in.len * 2 + 1), 0};
    for (size_t i = 0; i < in.len; i++) {
        if (in.p[i] == '\n' && (i == 0 || in.p[i - 1] != '\r'))
            b.p[b.len++] = '\r';
        b.p[b.len++] = in.p[i];
    }
    return b;
}

static buf_t s_lf(buf_t in)
{
    buf_t b = {malloc(in.len + 1), 0};
    for (size_t i = 0; i < in.len; i++)
        if (in.p[i] != '\r')
            b.p[b.len++] = in.p[i];
    return b;
}

static buf_t s_cp1250(buf_t in)
{
    size_t n;
    uint64_t bad = 0;
    char *c = rzc_cp1250_encode((const char *)in.p, in.len, &n, &bad);
    assert_non_null(c);
    assert_int_equal(bad, 0);
    buf_t b = {(uint8_t *)c, n};
    return b;
}

static buf_t s_utf8(buf_t in)
{
    rz_budget_text_t t;
    char err[256];
    assert_int_equal(rzc_text_decode(&t, in.p, in.len, RZ_BUDGET_ENC_CP1250,
                                     err, sizeof err),
                     0);
    buf_t b = s_dup(t.text, t.len);
    rzc_text_free(&t);
    return b;
}

/* in with the first occurrence of from replaced by to */
static buf_t s_replace(buf_t in, const char *from, const char *to)
{
    uint8_t *at = memmem(in.p, in.len, from, strlen(from));
    assert_non_null(at);
    size_t pre = (size_t)(at - in.p), fl = strlen(from), tl = strlen(to);
    buf_t b = {malloc(in.len - fl + tl + 1), in.len - fl + tl};
    memcpy(b.p, in.p, pre);
    memcpy(b.p + pre, to, tl);
    memcpy(b.p + pre + tl, at + fl, in.len - pre - fl);
    return b;
}

/* in cut just after the first occurrence of after */
static buf_t s_cut_after(buf_t in, const char *after)
{
    uint8_t *at = memmem(in.p, in.len, after, strlen(after));
    assert_non_null(at);
    return s_dup(in.p, (size_t)(at - in.p) + strlen(after));
}

typedef struct col {
    rz_out_t out;
    const buf_t *in;
    size_t nev, nq, cap, qcap;
    Ratusz__V1__Event **ev;
    char **reason, **qkey;
    uint64_t *qline;
} col_t;

static int s_on_event(rz_out_t *out, const rz_record_ref_t *ref,
                      const Ratusz__V1__Event *ev)
{
    col_t *c = out->user;
    char why[256];
    int rc = rz_event_check(ev, why, sizeof why);
    if (rc)
        fail_msg("invalid event %s: %s", ev->id, why);
    assert_non_null(ref->key);
    assert_true(ref->line > 0);
    if (c->nev == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ev = realloc(c->ev, c->cap * sizeof *c->ev);
    }
    /* a copy through the wire format: what the runtime would spool */
    size_t n = ratusz__v1__event__get_packed_size(ev);
    uint8_t *p = malloc(n ? n : 1);
    ratusz__v1__event__pack(ev, p);
    c->ev[c->nev++] = ratusz__v1__event__unpack(NULL, n, p);
    free(p);
    return 0;
}

static int s_on_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                           const char *reason)
{
    col_t *c = out->user;
    assert_non_null(ref->key);
    assert_non_null(reason);
    assert_null(strchr(reason, '\n'));
    if (ref->bytes && c->in && ref->bytes >= c->in->p &&
        ref->bytes < c->in->p + c->in->len)
        assert_true(ref->bytes + ref->len <= c->in->p + c->in->len);
    if (c->nq == c->qcap) {
        c->qcap = c->qcap ? c->qcap * 2 : 16;
        c->reason = realloc(c->reason, c->qcap * sizeof *c->reason);
        c->qkey = realloc(c->qkey, c->qcap * sizeof *c->qkey);
        c->qline = realloc(c->qline, c->qcap * sizeof *c->qline);
    }
    c->reason[c->nq] = strdup(reason);
    c->qkey[c->nq] = strdup(ref->key);
    c->qline[c->nq++] = ref->line;
    return 0;
}

static void s_col_free(col_t *c)
{
    for (size_t i = 0; i < c->nev; i++)
        ratusz__v1__event__free_unpacked(c->ev[i], NULL);
    for (size_t i = 0; i < c->nq; i++) {
        free(c->reason[i]);
        free(c->qkey[i]);
    }
    free(c->ev);
    free(c->reason);
    free(c->qkey);
    free(c->qline);
    memset(c, 0, sizeof *c);
}

/* Parse in as file name with options "key=value" (NULL-terminated);
 * returns parse's code, err filled. */
static int s_run(col_t *c, buf_t in, const char *name, char *err,
                 size_t err_len, ...)
{
    rz_budget_conf_t conf;
    memset(&conf, 0, sizeof conf);
    assert_int_equal(rz_conf_init(rz__budget_options, &conf), 0);
    va_list ap;
    va_start(ap, err_len);
    const char *kv;
    /* "teryt=FILE" is the runtime's register, lent through rz_out_t as
     * the runtime lends the one of the adapter's teryt: option */
    static rz_teryt_t *teryt;
    int lend = 0;
    while ((kv = va_arg(ap, const char *))) {
        char k[64];
        const char *eq = strchr(kv, '=');
        snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
        char e2[256];
        if (!strcmp(k, "teryt")) {
            if (!teryt) {
                assert_non_null(teryt = rz_teryt_new());
                if (rz_teryt_load(teryt, eq + 1, e2, sizeof e2) < 0)
                    fail_msg("teryt: %s", e2);
            }
            lend = 1;
        } else if (rz_conf_set(rz__budget_options, &conf, k, eq + 1, e2,
                               sizeof e2)) {
            fail_msg("option %s: %s", kv, e2);
        }
    }
    va_end(ap);
    void *st = NULL;
    char e[256];
    if (rz_module_budget.open(&st, &conf, e, sizeof e))
        fail_msg("open: %s", e);
    rz_conf_close(rz__budget_options, &conf);

    memset(c, 0, sizeof *c);
    static buf_t keep;
    keep = in;
    c->in = &keep;
    c->out.event = s_on_event;
    c->out.quarantine = s_on_quarantine;
    rz_teryt_lend(lend ? teryt : NULL, &c->out);
    c->out.user = c;
    /* a stand-in for the runtime's SHA-256: stable per content */
    char cid[65];
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < in.len; i++)
        h = (h ^ in.p[i]) * 1099511628211ull;
    snprintf(cid, sizeof cid, "%016llx%048d", (unsigned long long)h, 0);
    rz_input_t input = {"/drop/budget/x", name, in.p, in.len, NULL, cid, 0, 1, 0};
    err[0] = '\0';
    int rc = rz_module_budget.parse(st, &input, &c->out, err, err_len);
    rz_module_budget.close(st);
    return rc;
}

static const Ratusz__V1__Event *s_find(const col_t *c, const char *id)
{
    for (size_t i = 0; i < c->nev; i++)
        if (!strcmp(c->ev[i]->id, id))
            return c->ev[i];
    fail_msg("no event %s", id);
    return NULL;
}

static const char *s_attr(const Ratusz__V1__Event *ev, const char *key)
{
    for (size_t i = 0; i < ev->budget->n_attributes; i++)
        if (!strcmp(ev->budget->attributes[i]->key, key))
            return ev->budget->attributes[i]->value;
    return NULL;
}

static int s_has_reason(const col_t *c, const char *text)
{
    for (size_t i = 0; i < c->nq; i++)
        if (strstr(c->reason[i], text))
            return 1;
    return 0;
}

/* events published under tenant */
static size_t s_count_tenant(const col_t *c, const char *tenant)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nev; i++)
        n += strcmp(c->ev[i]->tenant, tenant) == 0;
    return n;
}

/* 2002-12-31T23:00:00Z and friends */
#define US(s) ((int64_t)(s)*1000000)

/* ---------------------------------------------------------------------------
 * Amounts, dates, codes
 */

static void test_amounts_are_exact_grosze(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t scale, want;
    } ok[] = {
        {"275,74", 1, 27574},
        {"110", 1, 11000},
        {"482,00", 1, 48200},
        {"-0,05", 1, -5},
        {"1 250 000,00", 1, 125000000},
        {"1\xc2\xa0"
         "234,5",
         1, 123450},
        {"1.234,56", 1, 123456},
        {"1234.56", 1, 123456},
        {"1.234.567", 1, 123456700},
        {"1,2345", 1000, 123450},
        {"3", 1000000, 300000000},
        {" 42 ", 1, 4200},
        {"92233720368547758,07", 1, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t g = 0;
        const char *why = NULL;
        if (rzc_grosze(ok[i].in, ok[i].scale, &g, &why))
            fail_msg("'%s': %s", ok[i].in, why);
        assert_int_equal(g, ok[i].want);
    }
    static const char *const bad[] = {
        "abc",   "",    "12,",   ",5",  "1,234.5.6",
        "1,2,3", "12a", "1,234", "--1", "92233720368547758,08",
        "0,001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t g;
        const char *why = NULL;
        if (rzc_grosze(bad[i], 1, &g, &why) == 0)
            fail_msg("'%s' taken as %lld", bad[i], (long long)g);
        assert_non_null(why);
    }
    int64_t g;
    const char *why;
    assert_int_equal(rzc_grosze("0,001", 1, &g, &why), -1);
    assert_string_equal(why, "has fractions of a grosz");
}

static void test_warsaw_time_has_summer_time(void **state)
{
    (void)state;
    /* winter: UTC+1; summer: UTC+2; the switch days themselves */
    assert_int_equal(rzc_warsaw_midnight_us(2003, 1, 1), US(1041375600));
    assert_int_equal(rzc_warsaw_midnight_us(2019, 9, 9), US(1567980000));
    assert_int_equal(rz__budget_period_end_us("2023-Q2"), US(1688162400));
    assert_int_equal(rz__budget_period_end_us("2023-Q4"), US(1704063600));
    assert_int_equal(rz__budget_period_end_us("2023-09"), US(1696111200));
    assert_int_equal(rz__budget_period_end_us("2023"), US(1704063600));
    assert_int_equal(rz__budget_period_end_us("spring"), 0);
    char t[8];
    assert_int_equal(rz__budget_tenant_from_code("0200000", t), 0);
    assert_string_equal(t, "02");
    assert_int_equal(rz__budget_tenant_from_code("2205000", t), 0);
    assert_string_equal(t, "2205");
    assert_int_equal(rz__budget_tenant_from_code("2205083", t), 0);
    assert_string_equal(t, "2205083");
    assert_int_equal(rz__budget_tenant_from_code("0000000", t), -1);
    assert_int_equal(rz__budget_tenant_from_code("2200083", t), -1);
    assert_int_equal(rz__budget_tenant_from_code("020000", t), -1);
}

/* ---------------------------------------------------------------------------
 * GUS BDL
 */

static void s_check_bdl(const col_t *c, size_t events)
{
    assert_int_equal(c->nev, events);
    const Ratusz__V1__Event *e = s_find(c, "bdl-fina-2416-0200000-2002");
    assert_string_equal(e->tenant, "02");
    assert_string_equal(e->source, "/02/budget/gus-bdl");
    assert_string_equal(e->subject, "unit:0200000");
    assert_string_equal(e->type,
                        "pl.gov.gmina.budget.expenditure-per-capita.v1");
    assert_int_equal(e->time, US(1041375600)); /* 2002-12-31T23:00:00Z */
    assert_int_equal(e->data_case, RATUSZ__V1__EVENT__DATA_BUDGET);
    assert_int_equal(e->budget->amount_grosze, 11000);
    assert_int_equal(e->budget->fiscal_year, 2002);
    assert_string_equal(e->budget->unit, "DOLNOŚLĄSKIE");
    assert_string_equal(e->budget->report, "BDL:FINA_2416");
    assert_string_equal(e->budget->description,
                        "wydatki budżetu województwa na 1 mieszkańca (zł): "
                        "ogółem");
    assert_int_equal(e->budget->n_attributes, 7);
    assert_string_equal(s_attr(e, "Wskaźniki"), "ogółem");
    assert_string_equal(s_attr(e, "Atrybut"), "");
    /* precision changes in 2006: two decimals, trailing zeros kept */
    const Ratusz__V1__Event *z = s_find(c, "bdl-fina-2416-3200000-2023");
    assert_int_equal(z->budget->amount_grosze, 84939);
    assert_string_equal(s_attr(z, "Wartosc"), "849,39");
    assert_string_equal(z->budget->unit, "ZACHODNIOPOMORSKIE");
}

static void test_bdl_real_file(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 0);
    s_check_bdl(&c, 352);
    s_col_free(&c);
    free(in.p);
}

static void test_bdl_variants(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    buf_t v[4] = {s_cp1250(in), s_bom(in), s_crlf(in), {0}};
    buf_t crlf = s_crlf(in);
    v[3] = s_cp1250(crlf);
    for (int i = 0; i < 4; i++) {
        col_t c;
        char err[256];
        assert_int_equal(s_run(&c, v[i], BDL, err, sizeof err, NULL), 0);
        assert_int_equal(c.nq, 0);
        s_check_bdl(&c, 352);
        s_col_free(&c);
        free(v[i].p);
    }
    free(crlf.p);
    free(in.p);
}

static void test_bdl_truncated_and_corrupted(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    col_t c;
    char err[256];

    /* cut inside a quoted field of the last row */
    buf_t t1 = s_cut_after(in, "3200000;\"ZACHODNIOPOMORSKIE\";\"og\xc3\xb3\xc5"
                               "\x82"
                               "em\";\"2023\";84");
    assert_int_equal(s_run(&c, t1, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 351);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0], "row has 5 fields, the header has 7");
    assert_int_equal(c.qline[0], 353);
    s_col_free(&c);
    buf_t t2 = s_cut_after(in, "3200000;\"ZACHOD");
    t2.len -= 0;
    /* the first ZACHODNIOPOMORSKIE row is 2002: keep the file to there */
    assert_int_equal(s_run(&c, t2, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 330);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0],
                        "the input ends inside a quoted field (truncated?)");
    s_col_free(&c);

    /* three bad rows in the middle: a non-number, a missing field, a
     * broken quote; every other row still arrives */
    buf_t a = s_replace(in, "\"2010\";446,89;", "\"2010\";abc;");
    buf_t b = s_replace(a, "1200000;\"MAŁOPOLSKIE\";\"ogółem\";\"2012\";",
                        "1200000;\"MAŁOPOLSKIE\";\"ogółem\";\"x\";\"2012\";");
    buf_t d =
        s_replace(b, "1400000;\"MAZOWIECKIE\";", "1400000;\"MAZOW\"IECKIE\";");
    assert_int_equal(s_run(&c, d, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 349);
    assert_int_equal(c.nq, 3);
    assert_true(s_has_reason(&c, "column 'Wartosc': 'abc' is not a number"));
    assert_true(s_has_reason(&c, "row has 9 fields, the header has 7"));
    assert_true(s_has_reason(&c, "a quote in the middle of a field"));
    s_col_free(&c);

    /* not money, and a value missing */
    buf_t m = s_replace(in, "\"2003\";114;\"zł\"", "\"2003\";114;\"%\"");
    buf_t m2 = s_replace(m, "\"2004\";144;", "\"2004\";;");
    assert_int_equal(s_run(&c, m2, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 350);
    assert_int_equal(c.nq, 2);
    assert_true(s_has_reason(&c, "column 'Jednostka miary': '%' is not an "
                                 "amount of money"));
    assert_true(s_has_reason(&c, "column 'Wartosc' is empty"));
    s_col_free(&c);

    /* "None" where the value is required is a missing value; "-" as the
     * unit or a dimension is no unit (zł) and no dimension */
    buf_t n1 =
        s_replace(in, "0200000;\"DOLNOŚLĄSKIE\";\"ogółem\";\"2005\";197;",
                  "0200000;\"DOLNOŚLĄSKIE\";\"ogółem\";\"2005\";None;");
    buf_t n2 =
        s_replace(n1, "\"KUJAWSKO-POMORSKIE\";\"ogółem\";\"2005\";179;\"zł\"",
                  "\"KUJAWSKO-POMORSKIE\";\"-\";\"2005\";179;\"NULL\"");
    assert_int_equal(s_run(&c, n2, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev + c.nq, 352);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0], "column 'Wartosc' is 'None': no value "
                                     "for unit 0200000 in 2005");
    s_col_free(&c);
    buf_t *all[] = {&t1, &t2, &a, &b, &d, &m, &m2, &n1, &n2, &in};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
}

/* Every event the adapter makes is the one deploy/sample/make-sample.py
 * made from the same file: same id, envelope and data. */
static void s_same_as_sample(const col_t *c)
{
    buf_t nd = s_read(RZ_SOURCE_DIR "/deploy/sample/events.ndjson");
    size_t matched = 0;
    char *save = NULL;
    nd.p[nd.len] = '\0';
    for (char *line = strtok_r((char *)nd.p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        Ratusz__V1__Event *s = NULL;
        char err[256];
        assert_int_equal(
            rz_event_from_json(line, strlen(line), &s, err, sizeof err), 0);
        const Ratusz__V1__Event *e = NULL;
        for (size_t i = 0; i < c->nev && !e; i++)
            if (!strcmp(c->ev[i]->id, s->id))
                e = c->ev[i];
        if (e) {
            matched++;
            assert_string_equal(e->source, s->source);
            assert_string_equal(e->type, s->type);
            assert_string_equal(e->subject, s->subject);
            assert_string_equal(e->tenant, s->tenant);
            assert_int_equal(e->time, s->time);
            assert_int_equal(e->data_case, s->data_case);
            if (e->data_case == RATUSZ__V1__EVENT__DATA_BUDGET) {
                const Ratusz__V1__BudgetEntry *a = e->budget, *b = s->budget;
                assert_int_equal(a->side, b->side);
                assert_int_equal(a->stage, b->stage);
                assert_int_equal(a->amount_grosze, b->amount_grosze);
                assert_string_equal(a->currency, b->currency);
                assert_int_equal(a->fiscal_year, b->fiscal_year);
                assert_string_equal(a->period, b->period);
                assert_string_equal(a->report, b->report);
                assert_string_equal(a->unit, b->unit);
                assert_string_equal(a->description, b->description);
                assert_string_equal(a->task, b->task);
                assert_int_equal(a->n_attributes, b->n_attributes);
                for (size_t k = 0; k < a->n_attributes; k++) {
                    assert_string_equal(a->attributes[k]->key,
                                        b->attributes[k]->key);
                    assert_string_equal(a->attributes[k]->value,
                                        b->attributes[k]->value);
                }
            } else {
                json_t *x = json_loadb((const char *)e->raw->bytes.data,
                                       e->raw->bytes.len, 0, NULL);
                json_t *y = json_loadb((const char *)s->raw->bytes.data,
                                       s->raw->bytes.len, 0, NULL);
                assert_non_null(x);
                assert_non_null(y);
                assert_true(json_equal(x, y));
                json_decref(x);
                json_decref(y);
            }
        }
        rz_event_free(s);
    }
    assert_int_equal(matched, c->nev);
    free(nd.p);
}

/* No event carries a Polish letter read in the wrong encoding. */
static void s_assert_no_mojibake(const col_t *c)
{
    for (size_t i = 0; i < c->nev; i++)
        if (rzt_event_mojibake(c->ev[i]))
            fail_msg("event %s has mojibake", c->ev[i]->id);
}

static void test_bdl_one_cp1250_field_in_utf8(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    col_t c0, c;
    char err[256];
    assert_int_equal(s_run(&c0, in, BDL, err, sizeof err, NULL), 0);
    s_assert_no_mojibake(&c0);
    /* the 2006 row's indicator saved by a Windows program */
    buf_t mixed = s_replace(in, "\"og\xc3\xb3\xc5\x82" "em\";\"2006\"",
                            "\"og\xf3\xb3" "em\";\"2006\"");
    assert_int_equal(s_run(&c, mixed, BDL, err, sizeof err, NULL), 0);
    s_assert_no_mojibake(&c);
    /* 352 rows: every one published or quarantined, as in the original */
    assert_int_equal(c.nev + c.nq, 352);
    assert_int_equal(c.nev, c0.nev);
    assert_int_equal(c.nq, c0.nq);
    for (size_t i = 0; i < c.nev; i++)
        for (size_t k = 0; k < c.ev[i]->budget->n_attributes; k++)
            assert_false(strchr(c.ev[i]->budget->attributes[k]->value,
                                '\xef'));
    s_col_free(&c0);
    s_col_free(&c);
    free(mixed.p);
    free(in.p);
}

static void test_bdl_cut_inside_a_letter_loses_one_row(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    /* cut after the first byte of the last row's "ó" */
    const char *last = "\"og\xc3\xb3\xc5\x82" "em\";\"2023\"";
    uint8_t *at = NULL;
    for (uint8_t *p = in.p; (p = memmem(p, in.len - (size_t)(p - in.p), last,
                                        strlen(last)));
         p++)
        at = p;
    assert_non_null(at);
    buf_t cut = s_dup(in.p, (size_t)(at - in.p) + 4);
    col_t c0, c;
    char err[256];
    assert_int_equal(s_run(&c0, in, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(s_run(&c, cut, BDL, err, sizeof err, NULL), 0);
    s_assert_no_mojibake(&c);
    assert_int_equal(c.nev + c.nq, 352);
    assert_int_equal(c.nev, c0.nev - 1);
    assert_int_equal(c.nq, c0.nq + 1);
    assert_int_equal(c.qline[c.nq - 1], 353);
    s_col_free(&c0);
    s_col_free(&c);
    free(cut.p);
    free(in.p);
}

static void test_bdl_stray_byte_quarantines_its_row_with_offset(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    /* 0x98 is defined in neither encoding */
    buf_t bad = s_replace(in, "\"og\xc3\xb3\xc5\x82" "em\";\"2006\"",
                          "\"og\xc3\xb3\x98" "em\";\"2006\"");
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, bad, BDL, err, sizeof err, NULL), 0);
    s_assert_no_mojibake(&c);
    assert_int_equal(c.nev + c.nq, 352);
    assert_true(s_has_reason(&c, "byte 0x98 at offset"));
    s_col_free(&c);
    free(bad.p);
    free(in.p);
}

static void test_bdl_matches_sample_events(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL);
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, BDL, err, sizeof err, NULL), 0);
    s_same_as_sample(&c);
    s_col_free(&c);
    free(in.p);
}

#define BDL2 "GUS_BDL_FINA_2417_CREL_variant_POLSKA_12digit.csv"

/* Another variable: 12-digit unit codes, POLSKA and NUTS rows, Atrybut
 * signs. Every row is published or quarantined with the reason. */
static void test_bdl_other_variable_polska_and_attributes(void **state)
{
    (void)state;
    buf_t in = s_fixture(BDL2);
    col_t c;
    char err[256];
    assert_int_equal(
        s_run(&c, in, BDL2, err, sizeof err, "tenant=1261011", NULL), 0);
    assert_int_equal(c.nev + c.nq, 17);
    assert_int_equal(c.nev, 10);
    assert_int_equal(c.nq, 7);
    assert_int_equal(s_count_tenant(&c, "12"), 3);
    assert_int_equal(s_count_tenant(&c, "1261011"), 1);
    assert_int_equal(s_count_tenant(&c, "02"), 2);
    assert_int_equal(s_count_tenant(&c, "14"), 3);
    assert_int_equal(s_count_tenant(&c, "1465011"), 1);
    static const char *const polska =
        "column 'Kod': '000000000000' is POLSKA, the whole country: no "
        "municipality's tenant";
    for (int i = 0; i < 3; i++)
        assert_string_equal(c.reason[i], polska);
    assert_string_equal(c.qkey[0], "row 1");
    assert_int_equal(c.qline[0], 2);
    assert_string_equal(c.reason[3],
                        "column 'Kod': '010000000000' is a statistical region "
                        "(NUTS makroregion, region or podregion), not a unit "
                        "with a TERC code");
    assert_string_equal(
        c.reason[4], "column 'Atrybut': '.' (no information or no reliable "
                     "information): no figure for unit 050200000000 in 2023");
    assert_non_null(strstr(c.reason[5], "'071410000000' is a statistical"));
    assert_string_equal(c.reason[6],
                        "column 'Atrybut': '#' (withheld for statistical "
                        "confidentiality): no figure for unit 071412865011 "
                        "in 2023");
    /* the generic type for a variable the module has no meaning for */
    const Ratusz__V1__Event *w = s_find(&c, "bdl-fina-2417-071412865011-2022");
    assert_string_equal(w->tenant, "1465011");
    assert_string_equal(w->type, "pl.gov.gmina.budget.bdl.v1");
    assert_string_equal(w->source, "/1465011/budget/gus-bdl");
    assert_int_equal(w->budget->amount_grosze, 134420);
    assert_string_equal(w->budget->report, "BDL:FINA_2417");
    assert_string_equal(s_attr(w, "Wartość"), "1344,20");
    /* "-" (did not occur) leaves the value standing */
    const Ratusz__V1__Event *m = s_find(&c, "bdl-fina-2417-071400000000-2023");
    assert_string_equal(m->tenant, "14");
    assert_int_equal(m->budget->amount_grosze, 112843);
    s_col_free(&c);

    /* the 7-digit form of the real file with a POLSKA row */
    buf_t r = s_fixture(BDL);
    buf_t p = s_replace(r, "0200000;\"DOLNO",
                        "0000000;\"POLSKA\";\"ogółem\";\"2002\";151;\"zł\";"
                        "\"\";\n0200000;\"DOLNO");
    assert_int_equal(s_run(&c, p, BDL, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 352);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0],
                        "column 'Kod': '0000000' is POLSKA, the whole country: "
                        "no municipality's tenant");
    s_col_free(&c);
    free(p.p);
    free(r.p);
    free(in.p);
}

/* ---------------------------------------------------------------------------
 * Pabulib
 */

static void s_check_pb(const col_t *c, size_t events)
{
    assert_int_equal(c->nev, events);
    const Ratusz__V1__Event *p =
        s_find(c, "pabulib-gdansk-2020-olszynka-project-OLS/0006");
    assert_string_equal(p->tenant, "2261011");
    assert_string_equal(p->subject, "project:OLS/0006");
    assert_int_equal(p->budget->amount_grosze, 11200000);
    assert_int_equal(p->budget->fiscal_year, 2020);
    assert_int_equal(p->time, US(1567980000)); /* 2019-09-08T22:00:00Z */
    assert_string_equal(p->budget->unit, "Gdańsk / OLSZYNKA");
    assert_string_equal(p->budget->description,
                        "Mała architektura, inteligentne oświetlenie oraz "
                        "czujniki jakości powietrza przy bastionach (na "
                        "wysokości ul. Zuchów)");
    const Ratusz__V1__Event *v =
        s_find(c, "pabulib-gdansk-2020-olszynka-vote-691");
    assert_string_equal(v->subject, "ballot:691");
    assert_int_equal(v->time, US(1569276000)); /* 2019-09-23T22:00:00Z */
    assert_int_equal(v->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    json_t *j = json_loadb((const char *)v->raw->bytes.data, v->raw->bytes.len,
                           0, NULL);
    assert_non_null(j);
    /* "3,2" is two points, not a decimal comma */
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(j, "points"), 1)), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(j, "vote"), 0)),
        "OLS/0006");
    assert_int_equal(json_integer_value(json_object_get(j, "age")), 34);
    json_decref(j);
}

static const char *const s_gdansk = "tenant_names=Gdańsk=2261011";

static void test_pabulib_real_file(void **state)
{
    (void)state;
    buf_t in = s_fixture(PB);
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, PB, err, sizeof err, s_gdansk, NULL), 0);
    assert_int_equal(c.nq, 0);
    s_check_pb(&c, 4 + 449);
    s_same_as_sample(&c);
    s_col_free(&c);
    /* a unit nothing resolves: every record quarantined, none published */
    assert_int_equal(s_run(&c, in, PB, err, sizeof err, NULL), 0);
    assert_int_equal(c.nev, 0);
    assert_int_equal(c.nq, 4 + 449);
    assert_string_equal(c.reason[0],
                        "Pabulib unit 'Gdańsk' is not in budget.tenant_names "
                        "and no TERC register is loaded (teryt)");
    s_col_free(&c);
    free(in.p);
}

#define TERC RZ_SOURCE_DIR "/tests/fixtures/teryt/TERC_2020-01-01.csv"
#define PB_WAW "pabulib_warszawa_2019_bielany_shaped.pb"
#define PB_WRO "pabulib_wroclaw_2018_shaped.pb"

/* What deploy/adapters/budget.yaml configures: Kraków as the fallback,
 * the TERC register for names. */
static const char *const s_krakow = "tenant=1261011";
static const char *const s_terc = "teryt=" TERC;

/* The shipped configuration published these as Kraków's (1261011). */
static void test_pabulib_named_unit_wins_over_fallback(void **state)
{
    (void)state;
    static const struct {
        const char *file, *tenant, *id;
        size_t events;
    } cases[] = {
        {PB_WAW, "1465011", "pabulib-warszawa-2019-bielany-project-230", 3 + 4},
        {PB_WRO, "0264011", "pabulib-wroclaw-2018-vote-w-3", 3 + 3},
        {PB, "2261011", "pabulib-gdansk-2020-olszynka-vote-691", 4 + 449},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t in = s_fixture(cases[i].file);
        col_t c;
        char err[256];
        assert_int_equal(s_run(&c, in, cases[i].file, err, sizeof err, s_krakow,
                               s_terc, NULL),
                         0);
        assert_int_equal(c.nq, 0);
        assert_int_equal(c.nev, cases[i].events);
        assert_int_equal(s_count_tenant(&c, cases[i].tenant), cases[i].events);
        const Ratusz__V1__Event *e = s_find(&c, cases[i].id);
        char source[64];
        snprintf(source, sizeof source, "/%s/budget/pabulib", cases[i].tenant);
        assert_string_equal(e->source, source);
        s_col_free(&c);
        /* tenant_names alone, without the register, says the same */
        char names[64];
        snprintf(names, sizeof names, "tenant_names=%s=%s",
                 i == 0   ? "Warszawa"
                 : i == 1 ? "Wrocław"
                          : "Gdańsk",
                 cases[i].tenant);
        assert_int_equal(s_run(&c, in, cases[i].file, err, sizeof err, s_krakow,
                               names, NULL),
                         0);
        assert_int_equal(c.nq, 0);
        assert_int_equal(s_count_tenant(&c, cases[i].tenant), cases[i].events);
        s_col_free(&c);
        free(in.p);
    }
    /* missing values in the Warszawa file: absent, not errors */
    buf_t in = s_fixture(PB_WAW);
    col_t c;
    char err[256];
    assert_int_equal(
        s_run(&c, in, PB_WAW, err, sizeof err, s_krakow, s_terc, NULL), 0);
    const Ratusz__V1__Event *p =
        s_find(&c, "pabulib-warszawa-2019-bielany-project-230");
    assert_null(s_attr(p, "target"));
    assert_string_equal(s_attr(p, "district"), "Bielany");
    assert_string_equal(p->budget->unit, "Warszawa / Bielany");
    const Ratusz__V1__Event *v =
        s_find(&c, "pabulib-warszawa-2019-bielany-vote-2");
    assert_null(memmem(v->raw->bytes.data, v->raw->bytes.len, "age", 3));
    s_col_free(&c);
    free(in.p);
}

/* The fallback is for files that name no unit; a named unit that
 * resolves to no gmina is quarantined whole, with the reason. */
static void test_pabulib_unresolved_unit_is_quarantined(void **state)
{
    (void)state;
    buf_t in = s_fixture(PB);
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"unit;Gdańsk\n", "unit;Gdańsk-Oliwa\n",
         "Pabulib unit 'Gdańsk-Oliwa' is no gmina in the TERC register nor "
         "in budget.tenant_names"},
        {"unit;Gdańsk\n", "unit;Bolesławiec\n",
         "Pabulib unit 'Bolesławiec' names 3 gminy in the TERC register "
         "(0201011, 0201022, 1018012): say which in budget.tenant_names"},
        {"country;Poland\nunit;Gdańsk\n",
         "country;Netherlands\nunit;Amsterdam\n",
         "Pabulib unit 'Amsterdam' is in 'Netherlands', not in Poland: it "
         "has no TERC code"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t v = s_replace(in, cases[i].from, cases[i].to);
        col_t c;
        char err[256];
        assert_int_equal(
            s_run(&c, v, PB, err, sizeof err, s_krakow, s_terc, NULL), 0);
        assert_int_equal(c.nev, 0);
        assert_int_equal(c.nq, 4 + 449);
        for (size_t k = 0; k < c.nq; k++)
            assert_string_equal(c.reason[k], cases[i].reason);
        assert_string_equal(c.qkey[0], "PROJECTS row 1");
        assert_string_equal(c.qkey[c.nq - 1], "VOTES row 449");
        s_col_free(&c);
        free(v.p);
    }
    /* the operator decides a shared name */
    buf_t b = s_replace(in, "unit;Gdańsk\n", "unit;Bolesławiec\n");
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, b, PB, err, sizeof err, s_krakow, s_terc,
                           "tenant_names=Bolesławiec=0201011", NULL),
                     0);
    assert_int_equal(c.nq, 0);
    assert_int_equal(s_count_tenant(&c, "0201011"), 453);
    s_col_free(&c);
    free(b.p);
    /* a file that names no unit takes the configured tenant */
    buf_t u = s_replace(in, "unit;Gdańsk\n", "");
    assert_int_equal(s_run(&c, u, PB, err, sizeof err, s_krakow, s_terc, NULL),
                     0);
    assert_int_equal(c.nq, 0);
    assert_int_equal(s_count_tenant(&c, "1261011"), 453);
    s_col_free(&c);
    /* and is refused whole when there is none */
    assert_int_equal(s_run(&c, u, PB, err, sizeof err, s_terc, NULL),
                     RZ_EINVAL);
    assert_string_equal(err, "line 20: the Pabulib META names no unit and "
                             "budget.tenant is not set");
    assert_int_equal(c.nev + c.nq, 0);
    s_col_free(&c);
    free(u.p);
    free(in.p);
}

static void test_pabulib_variants(void **state)
{
    (void)state;
    buf_t in = s_fixture(PB);
    /* the original was CRLF with a BOM (SOURCES.md) */
    buf_t crlf = s_crlf(in);
    buf_t v[3] = {s_bom(crlf), s_cp1250(in), s_cp1250(crlf)};
    for (int i = 0; i < 3; i++) {
        col_t c;
        char err[256];
        assert_int_equal(s_run(&c, v[i], PB, err, sizeof err, s_gdansk, NULL),
                         0);
        assert_int_equal(c.nq, 0);
        s_check_pb(&c, 453);
        s_col_free(&c);
        free(v[i].p);
    }
    free(crlf.p);
    free(in.p);
}

static void test_pabulib_truncated_and_corrupted(void **state)
{
    (void)state;
    buf_t in = s_fixture(PB);
    col_t c;
    char err[256];
    buf_t t = s_cut_after(in, "31527;OLS/00");
    assert_int_equal(s_run(&c, t, PB, err, sizeof err, s_gdansk, NULL), 0);
    assert_int_equal(c.nev, 452);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0],
                        "row has 2 fields, the VOTES header has 5");
    assert_string_equal(c.qkey[0], "VOTES row 449");
    assert_int_equal(c.qline[0], 476);
    s_col_free(&c);

    buf_t a = s_replace(in, "OLS/0005;19975;", "OLS/0005;19975 zł;");
    buf_t b =
        s_replace(a, "691;OLS/0006,OLS/0004;3,2;", "691;OLS/0006,OLS/0004;3;");
    buf_t d = s_replace(b, "789;OLS/0004,OLS/0005;", "789;OLS/0004,OLS/0009;");
    buf_t e = s_replace(d, "1267;OLS/0004;5;F;58", "1267;OLS/0004;5;F;\"58");
    assert_int_equal(s_run(&c, e, PB, err, sizeof err, s_gdansk, NULL), 0);
    assert_int_equal(c.nq, 4);
    assert_int_equal(c.nev, 453 - 4);
    assert_true(s_has_reason(&c, "column 'cost': '19975 zł' is not a number"));
    assert_true(s_has_reason(&c, "column 'points': 1 points for 2 projects"));
    assert_true(s_has_reason(&c, "project 'OLS/0009' is not in PROJECTS"));
    assert_true(s_has_reason(&c, "a quoted field is not closed"));
    s_col_free(&c);
    buf_t *all[] = {&t, &a, &b, &d, &e, &in};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
}

static void test_missing_value_spellings(void **state)
{
    (void)state;
    static const char *const no[] = {"",    "-",   "None",   "NULL", "null",
                                     "NaN", "nan", " None ", "\t-"};
    static const char *const yes[] = {"0", "-5", "Nonee", "n", "NA", "x-"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_true(rz__budget_is_missing(no[i]));
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_false(rz__budget_is_missing(yes[i]));
}

static void test_pabulib_missing_values(void **state)
{
    (void)state;
    buf_t in = s_str("META\n"
                     "key;value\n"
                     "unit;Gdańsk\n"
                     "instance;2020\n"
                     "district;None\n"
                     "PROJECTS\n"
                     "project_id;cost;votes;name\n"
                     "P1;1000;5;None\n"
                     "P2;2000;NaN;\n"
                     "P3;None;1;Trzeci\n"
                     "None;10;1;Bez id\n"
                     "VOTES\n"
                     "voter_id;vote;points;sex;age\n"
                     "1;P1;None;NULL;None\n"
                     "2;P1,P2;-;null;NaN\n"
                     "3;P2;;;\n"
                     "4;None;1;F;30\n"
                     "NULL;P1;1;M;40\n"
                     "5;P1; None ;-;\n");
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, "x.pb", err, sizeof err, s_gdansk, NULL), 0);
    /* 4 projects + 6 ballots read */
    assert_int_equal(c.nev, 2 + 4);
    assert_int_equal(c.nq, 2 + 2);
    assert_int_equal(c.nev + c.nq, 4 + 6);
    assert_true(s_has_reason(&c, "column 'cost' is 'None': no value"));
    assert_true(s_has_reason(&c, "column 'project_id' is 'None': no value"));
    assert_true(s_has_reason(&c, "column 'vote' is 'None': no value"));
    assert_true(s_has_reason(&c, "column 'voter_id' is 'NULL': no value"));

    /* district "None" is no district: not in the id, the unit or the
     * attributes */
    const Ratusz__V1__Event *p1 = s_find(&c, "pabulib-gdansk-2020-project-P1");
    assert_string_equal(p1->budget->unit, "Gdańsk");
    assert_string_equal(p1->budget->description, "");
    assert_null(s_attr(p1, "name"));
    assert_null(s_attr(p1, "district"));
    assert_string_equal(s_attr(p1, "votes"), "5");
    const Ratusz__V1__Event *p2 = s_find(&c, "pabulib-gdansk-2020-project-P2");
    assert_int_equal(p2->budget->amount_grosze, 200000);
    assert_null(s_attr(p2, "votes"));
    assert_null(s_attr(p2, "name"));

    static const char *const ballots[] = {"1", "2", "3", "5"};
    for (size_t i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "pabulib-gdansk-2020-vote-%s", ballots[i]);
        const Ratusz__V1__Event *v = s_find(&c, id);
        json_t *j = json_loadb((const char *)v->raw->bytes.data,
                               v->raw->bytes.len, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "voter_id")),
                            ballots[i]);
        assert_non_null(json_object_get(j, "vote"));
        assert_null(json_object_get(j, "points"));
        assert_null(json_object_get(j, "sex"));
        assert_null(json_object_get(j, "age"));
        assert_null(json_object_get(j, "district"));
        json_decref(j);
    }
    s_col_free(&c);
    free(in.p);
}

/* ---------------------------------------------------------------------------
 * Rb-27S / Rb-28S XML
 */

static void s_check_rb(const col_t *c)
{
    assert_int_equal(c->nev, 8 * 3 + 6 * 2);
    const Ratusz__V1__Event *e =
        s_find(c, "rb28s-191675540-2023-q4-v1-600-60016-4300-ww");
    assert_string_equal(e->tenant, "2205083");
    assert_string_equal(e->source, "/2205083/budget/mf-rb");
    assert_string_equal(e->type, "pl.gov.gmina.budget.execution.v1");
    assert_string_equal(e->subject, "budget:600.60016.4300");
    assert_int_equal(e->time, US(1704063600)); /* 2023-12-31T23:00:00Z */
    const Ratusz__V1__BudgetEntry *b = e->budget;
    assert_int_equal(b->amount_grosze, 115287123);
    assert_int_equal(b->stage,
                     RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION);
    assert_int_equal(b->side, RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE);
    assert_string_equal(b->dzial, "600");
    assert_string_equal(b->rozdzial, "60016");
    assert_string_equal(b->paragraf, "4300");
    assert_string_equal(b->period, "2023-Q4");
    assert_int_equal(b->fiscal_year, 2023);
    assert_string_equal(b->report, "Rb-28S");
    assert_string_equal(b->unit, "Gmina Żukowo");
    assert_string_equal(s_attr(e, "ZO"), "27473.27");
    const Ratusz__V1__Event *p =
        s_find(c, "rb28s-191675540-2023-q4-v1-600-60016-6057-pl");
    assert_int_equal(p->budget->amount_grosze, 340000000);
    assert_int_equal(p->budget->stage,
                     RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES);
    assert_string_equal(p->type, "pl.gov.gmina.budget.plan.v1");
    const Ratusz__V1__Event *i =
        s_find(c, "rb27s-191675540-2023-q4-v1-756-75615-0310-dw");
    assert_int_equal(i->budget->side,
                     RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_INCOME);
    assert_int_equal(i->budget->amount_grosze, 991234567);
}

static void test_rb_sample(void **state)
{
    (void)state;
    buf_t in = s_fixture(RB);
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, RB, err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 0);
    s_check_rb(&c);
    s_col_free(&c);

    /* a figure written as a missing value is absent, not an error */
    assert_int_equal(s_run(&c, in, RB, err, sizeof err, NULL), 0);
    size_t figures = c.nev;
    s_col_free(&c);
    buf_t none = s_replace(in, "WW=\"1152871.23\"", "WW=\"None\"");
    assert_int_equal(s_run(&c, none, RB, err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 0);
    assert_int_equal(c.nev, figures - 1);
    s_col_free(&c);
    free(none.p);

    /* BOM, CRLF, Windows-1250 declared, Windows-1250 undeclared */
    buf_t crlf = s_crlf(in);
    buf_t bom = s_bom(in);
    buf_t decl =
        s_replace(in, "encoding=\"UTF-8\"", "encoding=\"windows-1250\"");
    buf_t cp = s_cp1250(decl);
    buf_t nodecl0 =
        s_replace(in, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "");
    buf_t nodecl = s_cp1250(nodecl0);
    buf_t *v[] = {&crlf, &bom, &cp, &nodecl};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        assert_int_equal(s_run(&c, *v[k], RB, err, sizeof err, NULL), 0);
        assert_int_equal(c.nq, 0);
        s_check_rb(&c);
        s_col_free(&c);
    }
    buf_t *all[] = {&crlf, &bom, &decl, &cp, &nodecl0, &nodecl, &in};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]->p);
}

static void test_rb_elements_cp1250(void **state)
{
    (void)state;
    buf_t in = s_fixture(RB27);
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, RB27, err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 0);
    assert_int_equal(c.nev, 8);
    const Ratusz__V1__Event *e =
        s_find(&c, "rb27s-191675467-2023-q2-v2-010-01095-0830-dw");
    assert_string_equal(e->tenant, "2206042");
    assert_int_equal(e->budget->amount_grosze, 742050);
    assert_string_equal(e->budget->unit, "Gmina Kościerzyna");
    assert_string_equal(e->budget->description,
                        "Wpływy z usług – dzierżawa obwodów łowieckich");
    assert_int_equal(e->time, US(1688162400)); /* 2023-06-30T22:00:00Z */
    assert_int_equal(e->budget->fiscal_year, 2023);
    assert_string_equal(e->budget->period, "2023-Q2");
    s_col_free(&c);
    free(in.p);
}

static void test_rb_truncated_and_corrupted(void **state)
{
    (void)state;
    buf_t in = s_fixture(RB);
    col_t c;
    char err[256];
    /* a truncated XML document cannot be read as a whole */
    buf_t t = s_cut_after(in, "<Pozycja Dzial=\"750\" Rozdzial=\"750");
    assert_int_equal(s_run(&c, t, RB, err, sizeof err, NULL), RZ_EINVAL);
    assert_non_null(strstr(err, "not well-formed XML: line 27:"));
    assert_int_equal(c.nev + c.nq, 0);
    s_col_free(&c);

    buf_t a = s_replace(in, "WW=\"41250.00\"", "WW=\"41 250,00 zł\"");
    buf_t b = s_replace(a, "Rozdzial=\"92116\"", "Rozdzial=\"9211\"");
    buf_t d = s_replace(b, "<Rb-27s>", "<Rb-NDS><Pozycje/></Rb-NDS><Rb-27s>");
    assert_int_equal(s_run(&c, d, RB, err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 3);
    assert_int_equal(c.nev, 36 - 1 - 3);
    assert_true(s_has_reason(&c, "WW: '41 250,00 zł' is not a number"));
    assert_true(s_has_reason(&c, "Rozdzial: '9211' is not a 5-digit chapter"));
    assert_true(s_has_reason(&c, "report Rb-NDS is not supported"));
    assert_string_equal(c.qkey[0], "Jednostka[1]/Rb-28S/Pozycja[5]/WW");
    assert_int_equal(c.qline[0], 29);
    s_col_free(&c);

    buf_t x = s_str("<?xml version=\"1.0\"?><root><a/></root>");
    assert_int_equal(s_run(&c, x, "x.xml", err, sizeof err, NULL), RZ_EINVAL);
    assert_non_null(strstr(err, "no Jednostka element"));
    s_col_free(&c);
    buf_t *all[] = {&t, &a, &b, &d, &x, &in};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]->p);
}

/* ---------------------------------------------------------------------------
 * Finance-system CSV
 */

#define FK_OPTS "tenant=2205083", "year=2023", "side=expenditure"

static void s_check_fk(const col_t *c)
{
    assert_int_equal(c->nev, 8 * 3 - 1);
    assert_int_equal(c->nq, 0);
    const Ratusz__V1__Event *e = NULL;
    for (size_t i = 0; i < c->nev; i++)
        if (!strcmp(c->ev[i]->subject, "budget:600.60016.4300") &&
            c->ev[i]->budget->stage ==
                RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION)
            e = c->ev[i];
    assert_non_null(e);
    assert_int_equal(e->budget->amount_grosze, 115287123);
    assert_string_equal(e->budget->description,
                        "Zakup usług pozostałych; drogi gminne");
    assert_int_equal(e->budget->side,
                     RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE);
    assert_string_equal(e->tenant, "2205083");
    assert_string_equal(e->source, "/2205083/budget/fk");
    assert_int_equal(e->time, US(1704063600));
    assert_string_equal(s_attr(e, "Dział"), "600");
    int quoted = 0, strings = 0;
    for (size_t i = 0; i < c->nev; i++) {
        quoted += !strcmp(c->ev[i]->budget->description,
                          "Odbiór odpadów komunalnych \"Czysta Gmina\"");
        strings += c->ev[i]->budget->amount_grosze == 679912044;
    }
    assert_int_equal(quoted, 3);
    assert_int_equal(strings, 1);
}

static void test_fk_sample_and_variants(void **state)
{
    (void)state;
    buf_t in = s_fixture(FK);
    buf_t u = s_utf8(in);
    buf_t v[] = {in, u, s_bom(u), s_lf(u), s_lf(in)};
    char *first_ids = NULL;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        col_t c;
        char err[256];
        assert_int_equal(s_run(&c, v[i], FK, err, sizeof err, FK_OPTS, NULL),
                         0);
        s_check_fk(&c);
        if (i == 0)
            first_ids = strdup(c.ev[5]->id);
        s_col_free(&c);
    }
    /* the same export again gives the same ids: nothing new on the bus */
    col_t c;
    char err[256];
    assert_int_equal(s_run(&c, in, FK, err, sizeof err, FK_OPTS, NULL), 0);
    assert_string_equal(c.ev[5]->id, first_ids);
    assert_non_null(strstr(first_ids, "budget:"));
    assert_non_null(strstr(first_ids, ":row 2/wykonanie"));
    s_col_free(&c);
    free(first_ids);
    for (size_t i = 1; i < sizeof v / sizeof v[0]; i++)
        free(v[i].p);

    /* no tenant: the file as a whole is refused, with the reason */
    assert_int_equal(s_run(&c, in, FK, err, sizeof err, "year=2023", NULL),
                     RZ_EINVAL);
    assert_string_equal(err, "no tenant: the file has no 'teryt' column and "
                             "budget.tenant is not set");
    s_col_free(&c);
    free(in.p);
}

static void test_fk_truncated_and_corrupted(void **state)
{
    (void)state;
    buf_t in0 = s_fixture(FK);
    buf_t in = s_utf8(in0);
    col_t c;
    char err[256];
    buf_t t = s_cut_after(in, "926;92601;6050;Budowa boiska wielofunkcyjnego "
                              "w Łapinie;2 100 000,00;2 2");
    assert_int_equal(s_run(&c, t, FK, err, sizeof err, FK_OPTS, NULL), 0);
    assert_int_equal(c.nev, 20);
    assert_int_equal(c.nq, 1);
    assert_string_equal(c.reason[0], "row has 6 fields, the header has 7");
    assert_int_equal(c.qline[0], 9);
    s_col_free(&c);

    buf_t a = s_replace(in, "48 000,00;41 250,00", "48 000,00;abc");
    buf_t b = s_replace(a, "750;75023;4010;", "750;75023;4010;x;");
    buf_t d = s_replace(b, "801;80101;", "801;8101;");
    assert_int_equal(s_run(&c, d, FK, err, sizeof err, FK_OPTS, NULL), 0);
    assert_int_equal(c.nq, 3);
    assert_int_equal(c.nev, 23 - 1 - 3 - 3);
    assert_true(s_has_reason(&c, "column 'Wykonanie': 'abc' is not a number"));
    assert_true(s_has_reason(&c, "row has 9 fields, the header has 7"));
    assert_true(s_has_reason(&c, "column 'Rozdział': '8101' is not a 5-digit "
                                 "chapter of its section"));
    s_col_free(&c);

    /* other header names through budget.columns */
    buf_t m = s_str("Dz.;Rozdz.;\xc2\xa7;Treść;Plan pierwotny;Wykonanie "
                    "narastająco\n"
                    "600;60016;4300;Remonty dróg;100,00;\"55,5\"\n");
    assert_int_equal(s_run(&c, m, "m.csv", err, sizeof err, FK_OPTS,
                           "columns=dzial=Dz.", "columns=rozdzial=Rozdz.",
                           "columns=opis=Treść", "columns=plan=Plan pierwotny",
                           "columns=wykonanie=wykonanie narastajaco", NULL),
                     0);
    assert_int_equal(c.nev, 2);
    assert_int_equal(c.ev[1]->budget->amount_grosze, 5550);
    assert_string_equal(c.ev[1]->budget->description, "Remonty dróg");
    assert_string_equal(c.ev[1]->budget->paragraf, "4300");
    s_col_free(&c);
    /* an unknown layout is refused as a whole */
    buf_t g = s_str("imie;nazwisko\nJan;Kowalski\n");
    assert_int_equal(s_run(&c, g, "g.csv", err, sizeof err, FK_OPTS, NULL),
                     RZ_EINVAL);
    assert_non_null(strstr(err, "unknown layout: no amount column"));
    s_col_free(&c);
    buf_t w = s_str("\xff\xfeX\0");
    assert_int_equal(s_run(&c, w, "w.csv", err, sizeof err, FK_OPTS, NULL),
                     RZ_EINVAL);
    assert_non_null(strstr(err, "UTF-16"));
    s_col_free(&c);
    buf_t *all[] = {&t, &a, &b, &d, &m, &g, &w, &in, &in0};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]->p);
}

/* ---------------------------------------------------------------------------
 * Sink
 */

static void s_append(col_t *dst, col_t *src)
{
    for (size_t i = 0; i < src->nev; i++) {
        if (dst->nev == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 64;
            dst->ev = realloc(dst->ev, dst->cap * sizeof *dst->ev);
        }
        dst->ev[dst->nev++] = src->ev[i];
    }
    src->nev = 0;
}

static void s_same_entry(const Ratusz__V1__Event *x, const Ratusz__V1__Event *y)
{
    const Ratusz__V1__BudgetEntry *a = x->budget, *b = y->budget;
    assert_string_equal(x->tenant, y->tenant);
    assert_string_equal(a->dzial, b->dzial);
    assert_string_equal(a->rozdzial, b->rozdzial);
    assert_string_equal(a->paragraf, b->paragraf);
    assert_int_equal(a->side, b->side);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->amount_grosze, b->amount_grosze);
    assert_string_equal(a->currency, b->currency);
    assert_int_equal(a->fiscal_year, b->fiscal_year);
    assert_string_equal(a->period, b->period);
    assert_string_equal(a->report, b->report);
    assert_string_equal(a->unit, b->unit);
    assert_string_equal(a->description, b->description);
    assert_string_equal(a->task, b->task);
    /* the CSV has no dates: the time is the end of the period, which is
     * when every entry but a participatory project happened */
    if (strcmp(a->report, "pabulib") != 0)
        assert_int_equal(x->time, y->time);
}

static void s_round_trip(const char *enc)
{
    col_t all = {0}, c;
    char err[256];
    const char *names[] = {BDL, RB, PB, RB27};
    for (size_t i = 0; i < 4; i++) {
        buf_t in = s_fixture(names[i]);
        assert_int_equal(
            s_run(&c, in, names[i], err, sizeof err, s_gdansk, NULL), 0);
        s_append(&all, &c);
        s_col_free(&c);
        free(in.p);
    }
    assert_int_equal(all.nev, 352 + 36 + 453 + 8);

    char dir[] = "/tmp/rzbudget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/import.csv", dir);
    rz_budget_conf_t conf;
    assert_int_equal(rz_conf_init(rz__budget_options, &conf), 0);
    assert_int_equal(rz_conf_set(rz__budget_options, &conf, "sink_encoding",
                                 enc, err, sizeof err),
                     0);
    void *st, *sink;
    assert_int_equal(rz_module_budget.open(&st, &conf, err, sizeof err), 0);
    rz_conf_close(rz__budget_options, &conf);
    assert_int_equal(
        rz_module_budget.sink_open(&sink, st, path, err, sizeof err), 0);
    size_t half = all.nev / 2;
    for (size_t i = 0; i < all.nev; i++) {
        all.ev[i]->seq = i + 1;
        assert_int_equal(
            rz_module_budget.sink_event(sink, all.ev[i], err, sizeof err), 0);
        if (i + 1 == half)
            assert_int_equal(rz_module_budget.sink_flush(sink, err, sizeof err),
                             0);
    }
    /* a crash before the second flush finished: rows may be in the file
     * but not in the .pos, so they never happened */
    rz_module_budget.sink_close(sink);
    FILE *junk = fopen(path, "ab");
    assert_non_null(junk);
    fputs("2099;\"2099\";02;\"half a row", junk);
    fclose(junk);
    assert_int_equal(
        rz_module_budget.sink_open(&sink, st, path, err, sizeof err), 0);
    /* the runtime delivers again from the committed position, and the
     * first half once more (its commit was lost too) */
    for (size_t i = 0; i < all.nev; i++)
        assert_int_equal(
            rz_module_budget.sink_event(sink, all.ev[i], err, sizeof err), 0);
    assert_int_equal(rz_module_budget.sink_flush(sink, err, sizeof err), 0);
    rz_module_budget.sink_close(sink);
    rz_module_budget.close(st);

    buf_t out = s_read(path);
    /* the import shape */
    const char *hdr = "rok;okres;teryt;jednostka;dzial;rozdzial;paragraf;"
                      "strona;etap;kwota;waluta;zadanie;opis;sprawozdanie\r\n";
    assert_memory_equal(out.p, hdr, strlen(hdr));
    assert_non_null(memmem(out.p, out.len, ";1152871,23;", 12));
    int cp = !strcmp(enc, "windows-1250");
    assert_int_equal(rzc_utf8_invalid_at(out.p, out.len) == out.len, !cp);
    /* back in: votes are not budget entries, every other event is one row */
    assert_int_equal(s_run(&c, out, "import.csv", err, sizeof err, NULL), 0);
    assert_int_equal(c.nq, 0);
    assert_int_equal(c.nev, all.nev - 449);
    size_t k = 0;
    for (size_t i = 0; i < all.nev; i++) {
        if (all.ev[i]->data_case != RATUSZ__V1__EVENT__DATA_BUDGET)
            continue;
        s_same_entry(all.ev[i], c.ev[k++]);
    }
    assert_int_equal(k, c.nev);
    s_col_free(&c);
    free(out.p);
    for (size_t i = 0; i < all.nev; i++)
        ratusz__v1__event__free_unpacked(all.ev[i], NULL);
    free(all.ev);
    char rm[160];
    snprintf(rm, sizeof rm, "%s/import.csv.pos", dir);
    unlink(rm);
    unlink(path);
    rmdir(dir);
}

static void test_sink_round_trip_cp1250(void **state)
{
    (void)state;
    s_round_trip("windows-1250");
}

static void test_sink_round_trip_utf8(void **state)
{
    (void)state;
    s_round_trip("utf-8");
}

static void test_sink_refuses_foreign_file(void **state)
{
    (void)state;
    char path[] = "/tmp/rzbudget-foreign-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x;y\n", 4), 4);
    close(fd);
    rz_budget_conf_t conf;
    char err[512];
    assert_int_equal(rz_conf_init(rz__budget_options, &conf), 0);
    void *st, *sink = NULL;
    assert_int_equal(rz_module_budget.open(&st, &conf, err, sizeof err), 0);
    rz_conf_close(rz__budget_options, &conf);
    assert_int_equal(
        rz_module_budget.sink_open(&sink, st, path, err, sizeof err),
        RZ_EINVAL);
    assert_non_null(strstr(err, "was not written by this sink"));
    rz_module_budget.close(st);
    unlink(path);
}

static void test_open_rejects_bad_options(void **state)
{
    (void)state;
    rz_budget_conf_t conf;
    char err[512];
    void *st = NULL;
    assert_int_equal(rz_conf_init(rz__budget_options, &conf), 0);
    assert_int_equal(rz_conf_set(rz__budget_options, &conf, "columns",
                                 "kwota2=X", err, sizeof err),
                     0);
    assert_int_equal(rz_module_budget.open(&st, &conf, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "unknown column 'kwota2'"));
    rz_conf_close(rz__budget_options, &conf);
    assert_int_equal(rz_conf_init(rz__budget_options, &conf), 0);
    assert_int_equal(rz_conf_set(rz__budget_options, &conf, "tenant", "22050",
                                 err, sizeof err),
                     0);
    assert_int_equal(rz_module_budget.open(&st, &conf, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "'22050' is not a TERYT TERC code"));
    rz_conf_close(rz__budget_options, &conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts_are_exact_grosze),
        cmocka_unit_test(test_warsaw_time_has_summer_time),
        cmocka_unit_test(test_bdl_real_file),
        cmocka_unit_test(test_bdl_one_cp1250_field_in_utf8),
        cmocka_unit_test(test_bdl_cut_inside_a_letter_loses_one_row),
        cmocka_unit_test(test_bdl_stray_byte_quarantines_its_row_with_offset),
        cmocka_unit_test(test_bdl_variants),
        cmocka_unit_test(test_bdl_truncated_and_corrupted),
        cmocka_unit_test(test_bdl_matches_sample_events),
        cmocka_unit_test(test_bdl_other_variable_polska_and_attributes),
        cmocka_unit_test(test_pabulib_real_file),
        cmocka_unit_test(test_pabulib_named_unit_wins_over_fallback),
        cmocka_unit_test(test_pabulib_unresolved_unit_is_quarantined),
        cmocka_unit_test(test_pabulib_variants),
        cmocka_unit_test(test_pabulib_truncated_and_corrupted),
        cmocka_unit_test(test_missing_value_spellings),
        cmocka_unit_test(test_pabulib_missing_values),
        cmocka_unit_test(test_rb_sample),
        cmocka_unit_test(test_rb_elements_cp1250),
        cmocka_unit_test(test_rb_truncated_and_corrupted),
        cmocka_unit_test(test_fk_sample_and_variants),
        cmocka_unit_test(test_fk_truncated_and_corrupted),
        cmocka_unit_test(test_sink_round_trip_cp1250),
        cmocka_unit_test(test_sink_round_trip_utf8),
        cmocka_unit_test(test_sink_refuses_foreign_file),
        cmocka_unit_test(test_open_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
