/* test_teryt.c - the TERC register from the real GUS files: CSV (as
 * published, re-encoded to Windows-1250, with a BOM) and both eTERYT XML
 * shapes */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "teryt.h"

#define FIX RZ_SOURCE_DIR "/tests/fixtures/teryt/"

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void s_check_2020(const rz_teryt_t *t)
{
    /* 4194 rows, every code once */
    assert_int_equal(rz_teryt_count(t), 4194);
    const rz_teryt_unit_t *u = rz_teryt_find(t, "02");
    assert_non_null(u);
    assert_string_equal(u->name, "DOLNOŚLĄSKIE");
    assert_string_equal(u->kind, "województwo");
    assert_true(u->tenant);
    u = rz_teryt_find(t, "1261011");
    assert_non_null(u);
    assert_string_equal(u->name, "Kraków");
    assert_string_equal(u->kind, "gmina miejska");
    /* the unquoted comma inside a field stays in the field */
    u = rz_teryt_find(t, "1465");
    assert_non_null(u);
    assert_string_equal(u->kind, "miasto stołeczne, na prawach powiatu");
    /* a Warsaw district is in the register but is not a tenant */
    u = rz_teryt_find(t, "1465028");
    assert_non_null(u);
    assert_string_equal(u->name, "Bemowo");
    assert_false(u->tenant);
    assert_null(rz_teryt_find(t, "9999999"));
    assert_null(rz_teryt_find(t, "126101"));
    assert_null(rz_teryt_find(t, ""));
    assert_null(rz_teryt_find(t, NULL));
}

static void test_terc_csv_as_published(void **state)
{
    rz_teryt_t *t = rz_teryt_new();
    char err[256] = "";
    assert_int_equal(rz_teryt_load(t, FIX "TERC_2020-01-01.csv", err,
                                   sizeof err),
                     4194);
    s_check_2020(t);
    rz_teryt_destroy(&t);
    rz_teryt_destroy(&t);
    assert_null(t);
}

static void test_terc_csv_windows1250_with_bom(void **state)
{
    size_t len;
    char *utf8 = s_slurp(FIX "TERC_2020-01-01.csv", &len);
    iconv_t cd = iconv_open("CP1250", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char *out = malloc(len + 3), *o = out + 3;
    memcpy(out, "\xef\xbb\xbf", 3); /* a BOM, then not even UTF-8 after it */
    char *in = utf8;
    size_t ileft = len, oleft = len;
    assert_int_not_equal(iconv(cd, &in, &ileft, &o, &oleft), (size_t)-1);
    iconv_close(cd);
    size_t olen = (size_t)(o - out);
    assert_true(olen < len + 3); /* ś, ą, ł... are one byte now */
    rz_teryt_t *t = rz_teryt_new();
    char err[256] = "";
    assert_int_equal(rz_teryt_load_mem(t, "cp1250.csv", out, olen, err,
                                       sizeof err),
                     4194);
    s_check_2020(t);
    rz_teryt_destroy(&t);
    free(out);
    free(utf8);
}

static void test_eteryt_xml_2025_shape(void **state)
{
    rz_teryt_t *t = rz_teryt_new();
    char err[256] = "";
    assert_int_equal(rz_teryt_load(t, FIX "TERC_Adresowy_2025-04-01_1row.xml",
                                   err, sizeof err),
                     1);
    const rz_teryt_unit_t *u = rz_teryt_find(t, "02");
    assert_non_null(u);
    assert_string_equal(u->name, "DOLNOŚLĄSKIE");
    assert_string_equal(u->kind, "województwo");
    rz_teryt_destroy(&t);
}

static void test_teryt_xml_2012_shape_with_nazdod(void **state)
{
    rz_teryt_t *t = rz_teryt_new();
    char err[256] = "";
    assert_int_equal(
        rz_teryt_load(t, FIX "TERC_2012-05-09_oldformat_first10rows_TRUNCATED.xml",
                      err, sizeof err),
        10);
    const rz_teryt_unit_t *u = rz_teryt_find(t, "0201011");
    assert_non_null(u);
    assert_string_equal(u->name, "Bolesławiec");
    assert_string_equal(u->kind, "gmina miejska");
    u = rz_teryt_find(t, "0201");
    assert_non_null(u);
    assert_string_equal(u->kind, "powiat");
    rz_teryt_destroy(&t);
}

static void test_simc_and_broken_files_are_refused_by_name(void **state)
{
    rz_teryt_t *t = rz_teryt_new();
    char err[256] = "";
    assert_true(rz_teryt_load(t, FIX "SIMC_Urzedowy_2025-04-01_1row.xml", err,
                              sizeof err) < 0);
    assert_non_null(strstr(err, "want <teryt>"));
    assert_non_null(strstr(err, "SIMC_Urzedowy_2025-04-01_1row.xml"));
    /* cut mid-element */
    const char *cut = "<?xml version=\"1.0\"?><teryt><catalog><row><WOJ>02";
    assert_true(rz_teryt_load_mem(t, "cut.xml", cut, strlen(cut), err,
                                  sizeof err) < 0);
    assert_non_null(strstr(err, "cut.xml:1: not well-formed XML"));
    const char *bad = "WOJ;POW;GMI;RODZ;NAZWA;NAZWA_DOD;STAN_NA\r\n"
                      "02;;;;DOLNOŚLĄSKIE;województwo;2020-01-01\r\n"
                      "2;01;;;bolesławiecki;powiat;2020-01-01\r\n";
    assert_true(rz_teryt_load_mem(t, "bad.csv", bad, strlen(bad), err,
                                  sizeof err) < 0);
    assert_string_equal(err, "bad.csv: row 3: WOJ '2' is not 2 digits");
    const char *nohead = "02;;;;DOLNOŚLĄSKIE;województwo;2020-01-01\n";
    assert_true(rz_teryt_load_mem(t, "nohead.csv", nohead, strlen(nohead),
                                  err, sizeof err) < 0);
    assert_non_null(strstr(err, "nohead.csv: line 1: not a TERC CSV header"));
    assert_true(rz_teryt_load(t, FIX "nonexistent.csv", err, sizeof err) < 0);
    assert_non_null(strstr(err, "No such file"));
    rz_teryt_destroy(&t);
}

static void test_later_file_replaces_a_unit(void **state)
{
    rz_teryt_t *t = rz_teryt_new();
    char err[256];
    const char *a = "WOJ;POW;GMI;RODZ;NAZWA;NAZWA_DOD;STAN_NA\n"
                    "12;61;01;1;Krakow;gmina miejska;2012-01-01\n";
    const char *b = "WOJ;POW;GMI;RODZ;NAZWA;NAZWA_DOD;STAN_NA\n"
                    "12;61;01;1;Kraków;gmina miejska;2020-01-01\n";
    assert_int_equal(rz_teryt_load_mem(t, "a", a, strlen(a), err, sizeof err),
                     1);
    assert_int_equal(rz_teryt_load_mem(t, "b", b, strlen(b), err, sizeof err),
                     1);
    assert_int_equal(rz_teryt_count(t), 1);
    assert_string_equal(rz_teryt_find(t, "1261011")->name, "Kraków");
    rz_teryt_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terc_csv_as_published),
        cmocka_unit_test(test_terc_csv_windows1250_with_bom),
        cmocka_unit_test(test_eteryt_xml_2025_shape),
        cmocka_unit_test(test_teryt_xml_2012_shape_with_nazdod),
        cmocka_unit_test(test_simc_and_broken_files_are_refused_by_name),
        cmocka_unit_test(test_later_file_replaces_a_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
