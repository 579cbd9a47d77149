/* test_retry.c - `quarantine retry` after a configuration fix, for every
 * module, as an operator runs it: ratusz-adapter imports a real-shaped
 * file into the real ratuszd under a configuration that quarantines some
 * of its records, a retry with the same configuration changes nothing
 * and exits 1, and after the fix `retry --all` publishes them, with exact
 * counts (read = published + quarantined) and exit 0 only when nothing
 * is left. The records of whole-file formats (Pabulib META, the GIOŚ
 * response envelope, the GML root element) are parsed in their input
 * again, which the store keeps until none of its records is
 * quarantined. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "store.h"

#define FIX RZ_SOURCE_DIR "/tests/fixtures"
#define TERYT FIX "/teryt/TERC_2020-01-01.csv"

typedef struct fx {
    rzt_broker_t b;
    char dir[256];
    char conf[300];
    char data[300];
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (rzt_broker_start(&f->b, NULL) != 0)
        return -1;
    rzt_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/adapter.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rzt_broker_cleanup(&f->b);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    fclose(fp);
}

/* adapter.yaml for system on this broker; extra: more lines (the module's
 * section, runtime options). teryt: check tenants against TERC. */
static void s_conf(fx_t *f, const char *system, int teryt, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "system: %s\nbroker: %s\ndata_dir: %s\n%s%s\n"
             "timeout_ms: 1000\nreport_ms: 200\n%s",
             system, f->b.front, f->data, teryt ? "teryt: " : "",
             teryt ? TERYT : "", extra ? extra : "");
    s_write(f->conf, text);
}

/* Run ratusz-adapter -c conf ARGS; out gets stdout and stderr. */
static int s_adapter(fx_t *f, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' %s 2>&1", RZ_ADAPTER_BIN, f->conf,
             args);
    return rzt_run(cmd, out, len);
}

typedef struct counts {
    rz_acounts_t c;
    int kept; /* inputs kept for retries */
} counts_t;

/* The store's counters, checked against the invariant. */
static counts_t s_counts(fx_t *f)
{
    rz_astore_t *s;
    char err[256];
    assert_int_equal(rz_astore_open(&s, f->data, 64u << 20, err, sizeof err),
                     0);
    counts_t k;
    assert_int_equal(rz_astore_counts(s, &k.c), 0);
    k.kept = rz_kept_count(s);
    rz_astore_destroy(&s);
    assert_int_equal(k.c.read, k.c.published + k.c.duplicates +
                                   k.c.quarantined + k.c.depth);
    return k;
}

static int s_lines_with(const char *out, const char *what)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* What one module's case expects. */
typedef struct retry_case {
    const char *system;
    int teryt;          /* runtime TERC check on */
    const char *files;  /* quoted paths for the one-shot import */
    const char *broken; /* extra configuration: records quarantined */
    const char *fixed;  /* extra configuration: the fix */
    uint64_t read, published, quarantined;    /* after the import */
    uint64_t read2, published2, quarantined2; /* after the retry */
} retry_case_t;

static void s_retry_case(fx_t *f, const retry_case_t *t)
{
    char out[65536], arg[1024];
    s_conf(f, t->system, t->teryt, t->broken);
    snprintf(arg, sizeof arg, "%s", t->files);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    counts_t k = s_counts(f);
    assert_int_equal(k.c.read, t->read);
    assert_int_equal(k.c.published, t->published);
    assert_int_equal(k.c.quarantined, t->quarantined);
    assert_int_equal(k.c.depth, 0);
    assert_true(k.kept >= 1);
    assert_int_equal(rzt_head(&f->b), t->published);

    /* unchanged: every record still quarantined, one line each */
    assert_int_equal(s_adapter(f, "quarantine retry --all", out, sizeof out),
                     1);
    assert_int_equal(s_lines_with(out, ": still quarantined: "),
                     (int)t->quarantined);
    assert_null(strstr(out, ": ok: "));
    counts_t same = s_counts(f);
    assert_int_equal(same.c.read, t->read);
    assert_int_equal(same.c.published, t->published);
    assert_int_equal(same.c.quarantined, t->quarantined);
    assert_int_equal(same.kept, k.kept);

    /* fixed */
    s_conf(f, t->system, t->teryt, t->fixed);
    int rc = s_adapter(f, "quarantine retry --all", out, sizeof out);
    assert_int_equal(rc, t->quarantined2 ? 1 : 0);
    k = s_counts(f);
    assert_int_equal(k.c.read, t->read2);
    assert_int_equal(k.c.published, t->published2);
    assert_int_equal(k.c.quarantined, t->quarantined2);
    assert_int_equal(k.c.depth, 0);
    /* records published by the import were not sent again */
    assert_int_equal(k.c.duplicates, 0);
    assert_int_equal(rzt_head(&f->b), t->published2);
    assert_int_equal(k.c.read, k.c.published + k.c.quarantined);
    if (!t->quarantined2) {
        assert_int_equal(k.kept, 0);
        assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
        assert_string_equal(out, "no quarantined records\n");
        /* and again: nothing to do, done */
        assert_int_equal(
            s_adapter(f, "quarantine retry --all", out, sizeof out), 0);
    } else {
        assert_true(k.kept >= 1);
        assert_int_equal(
            s_adapter(f, "quarantine retry --all", out, sizeof out), 1);
        assert_int_equal(s_lines_with(out, ": still quarantined: "),
                         (int)t->quarantined2);
    }
}

/* Pabulib: the unit named in META is resolved only once tenant_names
 * names it; each vote needs the META and PROJECTS sections to parse. */
static void test_retry_budget_pabulib_after_tenant_names(void **state)
{
    retry_case_t t = {
        .system = "budget",
        .files = "'" FIX "/budget/pabulib_wroclaw_2018_shaped.pb'",
        .fixed = "budget:\n  tenant_names:\n    Wrocław: \"0264011\"\n",
        .read = 6,
        .published = 0,
        .quarantined = 6,
        .read2 = 6,
        .published2 = 6,
        .quarantined2 = 0,
    };
    s_retry_case(*state, &t);
}

/* GUS BDL CSV: every row's voivodeship is unknown to the adapter's TERC
 * register until the whole register is configured; a row parses only
 * under the file's header. */
static void test_retry_budget_bdl_after_register_completed(void **state)
{
    fx_t *f = *state;
    char small[400], broken[500];
    snprintf(small, sizeof small, "%s/TERC_krakow.csv", f->dir);
    s_write(small, "WOJ;POW;GMI;RODZ;NAZWA;NAZWA_DOD;STAN_NA\n"
                   "12;61;01;1;Kraków;gmina miejska;2020-01-01\n");
    snprintf(broken, sizeof broken, "teryt: %s\n", small);
    retry_case_t t = {
        .system = "budget",
        .files = "'" FIX "/budget/GUS_BDL_FINA_2416_wojewodztwa_2002-2023.csv'",
        .broken = broken,
        .fixed = "teryt: " TERYT "\n",
        .read = 352,
        .published = 0,
        .quarantined = 352,
        .read2 = 352,
        .published2 = 352,
        .quarantined2 = 0,
    };
    s_retry_case(f, &t);
}

/* GIOŚ getData: values of a sensor no sensor list places, until the
 * configuration names its station and the station's tenant; each value
 * needs the response envelope (the sensor's key). */
static void test_retry_environment_after_station_configured(void **state)
{
    retry_case_t t = {
        .system = "environment",
        .teryt = 1,
        .files = "'" FIX "/environment/gios_data_getData_14395_PM10.json'",
        .fixed = "environment:\n  station_id: 530\n  tenant: \"1465011\"\n",
        .read = 65,
        .published = 0,
        .quarantined = 65,
        .read2 = 65,
        .published2 = 65,
        .quarantined2 = 0,
    };
    s_retry_case(*state, &t);
}

/* EGiB GML: a parcel larger than max_event; a feature member parses only
 * inside its root element. The OGR layer next to it was published by the
 * import and is not sent again. */
static void test_retry_gis_gml_after_max_event_raised(void **state)
{
    retry_case_t t = {
        .system = "gis",
        .teryt = 1,
        .files = "'" FIX "/gis/egib_dzialka_221101_1.0001.161_8.gml' '" FIX
                 "/gis/prg_obreby_226401_1_ogr.gml'",
        .broken = "max_event: 2K\n",
        .fixed = "max_event: 64K\n",
        .read = 4,
        .published = 3,
        .quarantined = 1,
        .read2 = 4,
        .published2 = 4,
        .quarantined2 = 0,
    };
    s_retry_case(*state, &t);
}

/* GeoJSON: a district without a TERYT property, until gis.tenant. */
static void test_retry_gis_geojson_after_tenant(void **state)
{
    retry_case_t t = {
        .system = "gis",
        .teryt = 1,
        .files = "'" FIX "/gis/warszawa_dzielnica_zoliborz.geojson'",
        .fixed = "gis:\n  tenant: \"1465011\"\n",
        .read = 1,
        .published = 0,
        .quarantined = 1,
        .read2 = 1,
        .published2 = 1,
        .quarantined2 = 0,
    };
    s_retry_case(*state, &t);
}

/* Declarations for Hel (the declarations name their tax office's TERYT
 * code, which wins over any configured tenant) while the adapter's TERC
 * register does not know Hel yet: each event is refused by the register
 * check (the declaration with two objects gives two), the one with a bad
 * PESEL by the module. After the fix four are published and the bad PESEL
 * stays: retry --all exits 1 while it is there. */
static void test_retry_tax_after_register_completed_one_left(void **state)
{
    fx_t *f = *state;
    char small[400], broken[500];
    snprintf(small, sizeof small, "%s/TERC_krakow.csv", f->dir);
    s_write(small, "WOJ;POW;GMI;RODZ;NAZWA;NAZWA_DOD;STAN_NA\n"
                   "12;61;01;1;Kraków;gmina miejska;2020-01-01\n");
    snprintf(broken, sizeof broken, "teryt: %s\n", small);
    retry_case_t t = {
        .system = "tax",
        .files = "'" FIX "/tax/deklaracje_2024_hel_paczka.xml'",
        .broken = broken,
        .fixed = "teryt: " TERYT "\n",
        .read = 5,
        .published = 0,
        .quarantined = 5,
        .read2 = 5,
        .published2 = 4,
        .quarantined2 = 1,
    };
    s_retry_case(f, &t);
}

/* NDJSON: the middle line has no tenant until default_tenant; the lines
 * around it were published by the import and are not sent again. */
static void test_retry_ndjson_after_default_tenant(void **state)
{
    fx_t *f = *state;
    char file[400], files[420];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_write(file, "{\"id\":\"n-1\",\"type\":\"pl.gov.gmina.budget.test.v1\","
                  "\"tenant\":\"1261011\"}\n"
                  "{\"id\":\"n-2\",\"type\":\"pl.gov.gmina.budget.test.v1\","
                  "\"subject\":\"unit:Łódź\"}\n"
                  "{\"id\":\"n-3\",\"type\":\"pl.gov.gmina.budget.test.v1\","
                  "\"tenant\":\"1261011\"}\n");
    snprintf(files, sizeof files, "'%s'", file);
    retry_case_t t = {
        .system = "ndjson",
        .teryt = 1,
        .files = files,
        .fixed = "ndjson:\n  default_tenant: \"1061011\"\n",
        .read = 3,
        .published = 2,
        .quarantined = 1,
        .read2 = 3,
        .published2 = 3,
        .quarantined2 = 0,
    };
    s_retry_case(f, &t);
}

/* retry ID retries that record only: the input's other quarantined
 * record stays, and so does the kept input. */
static void test_retry_one_id_leaves_the_others(void **state)
{
    fx_t *f = *state;
    char file[400], arg[420], out[8192];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_write(file,
            "{\"id\":\"m-1\",\"type\":\"pl.gov.gmina.budget.test.v1\"}\n"
            "{\"id\":\"m-2\",\"type\":\"pl.gov.gmina.budget.test.v1\"}\n");
    s_conf(f, "ndjson", 1, NULL);
    snprintf(arg, sizeof arg, "'%s'", file);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    s_conf(f, "ndjson", 1, "ndjson:\n  default_tenant: \"1061011\"\n");
    assert_int_equal(s_adapter(f, "quarantine retry 2", out, sizeof out), 0);
    assert_non_null(strstr(out, "2: ok: 1 event(s) spooled for the broker"));
    assert_null(strstr(out, "1: "));
    counts_t k = s_counts(f);
    assert_int_equal(k.c.read, 2);
    assert_int_equal(k.c.published, 1);
    assert_int_equal(k.c.quarantined, 1);
    assert_int_equal(k.kept, 1);
    assert_int_equal(s_adapter(f, "quarantine retry 1", out, sizeof out), 0);
    k = s_counts(f);
    assert_int_equal(k.c.published, 2);
    assert_int_equal(k.c.quarantined, 0);
    assert_int_equal(k.kept, 0);
    assert_int_equal(rzt_head(&f->b), 2);
}

/* A file imported twice has each bad record quarantined twice: the retry
 * publishes the record once and counts the second entry as a duplicate,
 * so nothing is left and retry --all exits 0. */
static void test_retry_file_imported_twice_publishes_once(void **state)
{
    fx_t *f = *state;
    char file[400], arg[420], out[8192];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_write(file,
            "{\"id\":\"d-1\",\"type\":\"pl.gov.gmina.budget.test.v1\","
            "\"tenant\":\"1261011\"}\n"
            "{\"id\":\"d-2\",\"type\":\"pl.gov.gmina.budget.test.v1\"}\n");
    s_conf(f, "ndjson", 1, NULL);
    snprintf(arg, sizeof arg, "'%s'", file);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    counts_t k = s_counts(f);
    assert_int_equal(k.c.read, 4);
    assert_int_equal(k.c.published, 1);
    assert_int_equal(k.c.duplicates, 1);
    assert_int_equal(k.c.quarantined, 2);
    assert_int_equal(k.kept, 1);

    s_conf(f, "ndjson", 1, "ndjson:\n  default_tenant: \"1061011\"\n");
    assert_int_equal(s_adapter(f, "quarantine retry --all", out, sizeof out),
                     0);
    assert_non_null(strstr(out, "1: ok: 1 event(s) spooled for the broker"));
    assert_non_null(strstr(out, "2: ok: the same record as 1, read again"));
    k = s_counts(f);
    assert_int_equal(k.c.read, 4);
    assert_int_equal(k.c.published, 2);
    assert_int_equal(k.c.duplicates, 2);
    assert_int_equal(k.c.quarantined, 0);
    assert_int_equal(k.kept, 0);
    assert_int_equal(rzt_head(&f->b), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_retry_budget_pabulib_after_tenant_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_budget_bdl_after_register_completed, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_environment_after_station_configured, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_gis_gml_after_max_event_raised, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_gis_geojson_after_tenant,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_tax_after_register_completed_one_left, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_ndjson_after_default_tenant,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_one_id_leaves_the_others,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_file_imported_twice_publishes_once, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
