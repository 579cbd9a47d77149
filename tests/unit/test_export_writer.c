/* test_export_writer.c - the writers of `ratusz export` (cli/export.c) on
 * events built in memory: the CSV cells of money, rates and thousandths,
 * the last check for personal data that came back in clear, and the
 * GeoJSON of features without a usable geometry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export.h"

#define PSEUDO "~abcdefghijklmnopqrstuvwxyz" /* 26 letters: a pseudonym */

typedef struct out {
    char *buf;
    size_t len;
    FILE *f;
} out_t;

static void s_open(out_t *o)
{
    memset(o, 0, sizeof *o);
    o->f = open_memstream(&o->buf, &o->len);
    assert_non_null(o->f);
}

static void s_close(out_t *o)
{
    fclose(o->f);
    free(o->buf);
}

typedef struct tax {
    Ratusz__V1__Event ev;
    Ratusz__V1__TaxAssessment ta;
    Ratusz__V1__Party p;
    Ratusz__V1__TaxObject o;
    Ratusz__V1__TaxObject *objs[1];
} tax_t;

static void s_tax(tax_t *t, Ratusz__V1__Party__Kind kind, const char *pesel,
                  const char *nip, const char *account)
{
    ratusz__v1__event__init(&t->ev);
    ratusz__v1__tax_assessment__init(&t->ta);
    ratusz__v1__party__init(&t->p);
    ratusz__v1__tax_object__init(&t->o);
    t->p.kind = kind;
    t->p.pesel = (char *)pesel;
    t->p.nip = (char *)nip;
    t->o.kind = "budowla";
    t->o.base_unit = "PLN";
    t->o.base_milli = 1500;
    t->o.rate_grosze = 20; /* per mille of a PLN base: 2.0 % */
    t->o.tax_grosze = -5;
    t->objs[0] = &t->o;
    t->ta.taxpayer = &t->p;
    t->ta.n_objects = 1;
    t->ta.objects = t->objs;
    t->ta.total_grosze = -123456;
    t->ta.account = (char *)account;
    t->ev.id = "d-1";
    t->ev.source = "/2211011/tax/test";
    t->ev.type = "pl.gov.gmina.tax.assessment.v1";
    t->ev.tenant = "2211011";
    t->ev.time = INT64_C(1710489600000000);
    t->ev.seq = 7;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    t->ev.tax = &t->ta;
}

static void test_csv_money_rates_and_thousandths(void **state)
{
    (void)state;
    out_t o;
    s_open(&o);
    export_opts_t opts = {.format = EXPORT_CSV, .topic = "2211011.tax."};
    export_t *x = export_new(&opts, o.f);
    assert_non_null(x);
    tax_t t;
    s_tax(&t, RATUSZ__V1__PARTY__KIND__KIND_PERSON, PSEUDO, "", PSEUDO);
    char err[300] = "";
    assert_int_equal(export_event(x, &t.ev, err, sizeof err), 0);
    assert_int_equal(export_end(x, err, sizeof err), 0);
    assert_int_equal((int)export_count(x), 1);
    /* negative amounts keep their sign and both decimals */
    assert_non_null(strstr(o.buf, "\"-1234.56\""));
    assert_non_null(strstr(o.buf, "\"\"tax_zl\"\":\"\"-0.05\"\""));
    assert_non_null(strstr(o.buf, "\"\"base\"\":\"\"1.500\"\""));
    assert_non_null(strstr(o.buf, "\"\"rate\"\":\"\"2.0\"\""));
    assert_non_null(strstr(o.buf, "\"2024-03-15T08:00:00Z\""));
    assert_non_null(strstr(o.buf, "\"KIND_PERSON\",\"" PSEUDO "\""));
    export_destroy(&x);
    export_destroy(&x); /* safe twice */
    s_close(&o);
}

static void test_personal_value_in_clear_stops_the_export(void **state)
{
    (void)state;
    static const struct {
        Ratusz__V1__Party__Kind kind;
        const char *pesel, *nip, *account, *where; /* NULL: accepted */
    } cases[] = {
        {RATUSZ__V1__PARTY__KIND__KIND_PERSON, "80010100017", "", "",
         "ratusz.v1.Party.pesel"},
        /* an unknown kind counts as a person */
        {RATUSZ__V1__PARTY__KIND__KIND_UNSPECIFIED, "", "1234563218", "",
         "ratusz.v1.Party.nip"},
        /* an organisation's NIP is public */
        {RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION, "", "1234563218", "",
         NULL},
        /* the account is personal whoever pays */
        {RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION, "", "", "IN/0007311",
         "ratusz.v1.TaxAssessment.account"},
        /* a pseudonym's look-alike of the wrong length is no pseudonym */
        {RATUSZ__V1__PARTY__KIND__KIND_PERSON, "~abc", "", "",
         "ratusz.v1.Party.pesel"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int fmt = EXPORT_CSV; fmt <= EXPORT_GEOJSON; fmt++) {
            out_t o;
            s_open(&o);
            export_opts_t opts = {.format = (export_format_t)fmt, .topic = ""};
            export_t *x = export_new(&opts, o.f);
            tax_t t;
            s_tax(&t, cases[i].kind, cases[i].pesel, cases[i].nip,
                  cases[i].account);
            char err[300] = "";
            int rc = export_event(x, &t.ev, err, sizeof err);
            if (cases[i].where) {
                assert_int_equal(rc, RZ_EPROTO);
                assert_non_null(strstr(err, cases[i].where));
                assert_non_null(strstr(err, "event seq 7"));
                assert_int_equal((int)export_count(x), 0);
            } else {
                assert_int_equal(rc, 0);
            }
            export_destroy(&x);
            s_close(&o);
        }
    }
}

static void test_geojson_skips_features_without_geometry(void **state)
{
    (void)state;
    out_t o;
    s_open(&o);
    export_opts_t opts = {.format = EXPORT_GEOJSON, .topic = "2211011.gis."};
    export_t *x = export_new(&opts, o.f);
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__GisFeature gf = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry g = RATUSZ__V1__GEOMETRY__INIT;
    ev.id = "g";
    ev.source = "/2211011/gis/test";
    ev.type = "pl.gov.gmina.gis.parcel.v1";
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    ev.gis = &gf;
    char err[300] = "";
    /* no geometry at all, an unknown CRS, broken WKT, GeoJSON that is not
     * a geometry */
    assert_int_equal(export_event(x, &ev, err, sizeof err), 0);
    gf.geometry = &g;
    g.crs = "WGS84";
    g.wkt = "POINT(1 2)";
    assert_int_equal(export_event(x, &ev, err, sizeof err), 0);
    g.crs = "EPSG:2180";
    g.wkt = "POINT(1 2";
    assert_int_equal(export_event(x, &ev, err, sizeof err), 0);
    g.wkt = "";
    g.geojson = "[1,2]";
    assert_int_equal(export_event(x, &ev, err, sizeof err), 0);
    assert_int_equal((int)export_count(x), 0);
    assert_int_equal((int)export_skipped(x), 4);
    assert_int_equal(export_end(x, err, sizeof err), 0);
    assert_string_equal(
        o.buf, "{\"type\":\"FeatureCollection\",\n\"features\":[\n]}\n");
    char *meta = export_meta(x, NULL);
    assert_non_null(meta);
    assert_non_null(strstr(meta, "\"no_geometry\": 4"));
    assert_non_null(strstr(meta, "\"file\": null"));
    assert_non_null(strstr(meta, "\"crs\": null"));
    free(meta);
    export_destroy(&x);
    s_close(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_money_rates_and_thousandths),
        cmocka_unit_test(test_personal_value_in_clear_stops_the_export),
        cmocka_unit_test(test_geojson_skips_features_without_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
