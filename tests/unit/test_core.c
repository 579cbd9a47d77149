/* test_core.c - the shared core: the Warsaw clock, RFC 3339, amounts,
 * UTF-8 and Windows-1250 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratusz/core/buf.h"
#include "ratusz/core/text.h"
#include "ratusz/core/time.h"
#include "ratusz/errors.h"

static int64_t s_warsaw(int y, int m, int d, int h, int mi)
{
    int64_t us = 0;
    assert_int_equal(rzc_warsaw_us(y, m, d, h, mi, 0, &us), 0);
    return us / 1000000;
}

static void test_repeated_hour_is_first_occurrence_cest(void **state)
{
    (void)state;
    int64_t t;
    /* 2024-10-27 and 2025-10-26 02:30 -> 00:30Z */
    assert_int_equal(rzc_rfc3339_parse("2024-10-27T00:30:00Z", &t), 0);
    assert_int_equal(s_warsaw(2024, 10, 27, 2, 30), t / 1000000);
    assert_int_equal(rzc_rfc3339_parse("2025-10-26T00:30:00Z", &t), 0);
    assert_int_equal(s_warsaw(2025, 10, 26, 2, 30), t / 1000000);
    /* around it: 01:59 CEST, 03:00 CET */
    assert_int_equal(rzc_rfc3339_parse("2024-10-26T23:59:00Z", &t), 0);
    assert_int_equal(s_warsaw(2024, 10, 27, 1, 59), t / 1000000);
    assert_int_equal(rzc_rfc3339_parse("2025-10-26T02:00:00Z", &t), 0);
    assert_int_equal(s_warsaw(2025, 10, 26, 3, 0), t / 1000000);
    /* and the same through the timestamp parser of the modules */
    int64_t first;
    assert_int_equal(rzc_time_parse("2024-10-27 02:30:00", &t), 0);
    assert_int_equal(rzc_rfc3339_parse("2024-10-27T00:30:00Z", &first), 0);
    assert_true(t == first);
}

static void test_missing_hour_is_refused(void **state)
{
    (void)state;
    int64_t us, t;
    assert_int_equal(rzc_warsaw_us(2024, 3, 31, 2, 30, 0, &us), RZ_EINVAL);
    assert_int_equal(rzc_warsaw_us(2025, 3, 30, 2, 0, 0, &us), RZ_EINVAL);
    assert_int_equal(rzc_time_parse("2025-03-30T02:59:59", &us), RZ_EINVAL);
    /* 01:59 CET and 03:00 CEST are the same minute apart */
    assert_int_equal(rzc_rfc3339_parse("2024-03-31T00:59:00Z", &t), 0);
    assert_int_equal(s_warsaw(2024, 3, 31, 1, 59), t / 1000000);
    assert_int_equal(rzc_rfc3339_parse("2024-03-31T01:00:00Z", &t), 0);
    assert_int_equal(s_warsaw(2024, 3, 31, 3, 0), t / 1000000);
    assert_int_equal(rzc_rfc3339_parse("2025-03-30T01:00:00Z", &t), 0);
    assert_int_equal(s_warsaw(2025, 3, 30, 3, 0), t / 1000000);
    /* midnight always exists */
    assert_int_equal(rzc_rfc3339_parse("2024-03-30T23:00:00Z", &t), 0);
    assert_true(rzc_warsaw_midnight_us(2024, 3, 31) == t);
}

static void test_rfc3339_round_trip(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "1970-01-01T00:00:00Z", "2024-02-29T23:59:59.000001Z",
        "1969-12-31T23:59:59.500000Z", "2038-01-19T03:14:08Z",
        "2100-03-01T12:00:00Z"};
    char buf[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t us;
        assert_int_equal(rzc_rfc3339_parse(ok[i], &us), 0);
        rzc_rfc3339_format(us, buf, sizeof buf);
        assert_string_equal(buf, ok[i]);
    }
    int64_t a, b;
    assert_int_equal(rzc_rfc3339_parse("2024-07-01T14:00:00+02:00", &a), 0);
    assert_int_equal(rzc_rfc3339_parse("2024-07-01t12:00:00z", &b), 0);
    assert_true(a == b);
    static const char *const bad[] = {
        "2024-07-01T12:00:00", "2024-07-01", "2023-02-29T00:00:00Z",
        "2024-07-01T24:00:00Z", "2024-07-01T12:00:00+2:00", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rzc_rfc3339_parse(bad[i], &a), RZ_EINVAL);
}

static void test_money_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {{"1 234,56", 123456}, {"1234.56", 123456}, {"1.234,56", 123456},
              {"1,234.56", 123456}, {"-0,05", -5},       {"110", 11000},
              {"1\xc2\xa0" "234,5", 123450}, {"1\xe2\x80\xaf" "000", 100000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t g;
        const char *why = NULL;
        if (rzc_grosze(ok[i].in, 1, &g, &why))
            fail_msg("'%s': %s", ok[i].in, why);
        assert_int_equal(g, ok[i].want);
    }
    int64_t v;
    assert_int_equal(rzc_decimal("1,2500", 1000, 0, &v), 0);
    assert_int_equal(v, 1250);
    assert_int_equal(rzc_decimal("1 234", 100, 0, &v), RZC_DEC_NAN);
    assert_int_equal(rzc_decimal("-1", 100, 0, &v), RZC_DEC_NAN);
    assert_int_equal(rzc_decimal("0,001", 100, 0, &v), RZC_DEC_FRACTION);
    assert_int_equal(rzc_decimal("92233720368547758,08", 100, 0, &v),
                     RZC_DEC_RANGE);
}

static void test_utf8_edge_cases(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t bad; /* SIZE_MAX: valid */
    } c[] = {
        {"Gda\xc5\x84sk", SIZE_MAX},
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"a\xe0\x80\xaf", 1},    /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
        {"ok\xc5", 2},           /* cut */
        {"\xe2\x82", 0},         /* cut */
        {"\x80", 0},             /* lone continuation */
        {"\xf0\x9f\x98\x80", SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t n = strlen(c[i].s);
        size_t at = rzc_utf8_invalid_at((const uint8_t *)c[i].s, n);
        assert_int_equal(at, c[i].bad == SIZE_MAX ? n : c[i].bad);
    }
    assert_int_equal(rzc_control_at((const uint8_t *)"a\tb\r\n", 5), 5);
    assert_int_equal(rzc_control_at((const uint8_t *)"a\0b", 3), 1);
}

static void test_cp1250_field_decoded_alone(void **state)
{
    (void)state;
    rzc_text_t t;
    char err[128];
    /* UTF-8 file, one field in Windows-1250 */
    const char in[] = "Gda\xc5\x84sk;\xa3\xf3" "d\x9f;Krak\xc3\xb3w;"
                      "Pozna\xc5\x84;Wroc\xc5\x82" "aw\n";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)in, strlen(in),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_string_equal(t.encoding, "UTF-8");
    assert_int_equal(t.repaired, 1);
    assert_int_equal(t.n_bad, 0);
    assert_string_equal(t.text, "Gda\xc5\x84sk;\xc5\x81\xc3\xb3" "d\xc5\xba;"
                                "Krak\xc3\xb3w;Pozna\xc5\x84;Wroc\xc5\x82" "aw\n");
    rzc_text_free(&t);
    rzc_text_free(&t); /* safe twice */
    /* cut inside a letter at the end: bad, not Windows-1250 */
    const char cut[] = "Gda\xc5\x84sk\nPozna\xc5\x84\nKrak\xc3";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)cut, strlen(cut),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_int_equal(t.n_bad, 1);
    assert_int_equal(t.bad[0], strlen(cut) - 1);
    assert_int_equal(rzc_text_bad_in(&t, 0, 16), SIZE_MAX);
    rzc_text_free(&t);
    /* capitals whose Windows-1250 bytes pair up as UTF-8 (D3 A3) */
    const char caps[] = "Gda\xc5\x84sk;\xaf\xd3\xa3\xc6-TESTOWA;"
                        "Krak\xc3\xb3w\n";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)caps, strlen(caps),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_int_equal(t.n_bad, 0);
    assert_string_equal(t.text, "Gda\xc5\x84sk;\xc5\xbb\xc3\x93\xc5\x81"
                                "\xc4\x86-TESTOWA;Krak\xc3\xb3w\n");
    rzc_text_free(&t);
    /* a Windows-1250 file stays one */
    const char cp[] = "\xa3\xf3" "d\x9f;Gda\xf1sk\n";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)cp, strlen(cp),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_string_equal(t.encoding, "windows-1250");
    assert_string_equal(t.text, "\xc5\x81\xc3\xb3" "d\xc5\xba;Gda\xc5\x84sk\n");
    rzc_text_free(&t);
}

/* every byte of the text points at the byte of the input it came from */
static void test_text_map_points_into_the_input(void **state)
{
    (void)state;
    rzc_text_t t;
    char err[128];
    size_t *map;
    /* BOM, a UTF-8 letter, a Windows-1250 field, a bad byte (0x81 is
     * undefined in Windows-1250) */
    const char in[] = "\xef\xbb\xbf" "Gda\xc5\x84sk;\xa3\xf3" "d\x9f;"
                      "Krak\xc3\xb3w;a\x81z\n";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)in, strlen(in),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_int_equal(t.n_bad, 1);
    assert_int_equal(rzc_text_map(&t, &map), 0);
    const char *x = t.text;
    size_t n = strlen(in);
    assert_int_equal(map[0], 3);                          /* G after BOM */
    assert_int_equal(map[strchr(x, ';') - x], 10);        /* first ';' */
    const char *lodz = strchr(x, ';') + 1;                /* "Łódź" */
    assert_int_equal(map[lodz - x], 11);
    assert_int_equal(map[lodz - x + 1], 11);              /* Ł: 2 bytes */
    assert_int_equal(map[lodz - x + 2], 12);              /* ó */
    const char *krak = strstr(x, "Krak");
    assert_int_equal(map[krak - x], 16);
    assert_int_equal(map[krak - x + 4], 20);              /* ó, UTF-8 */
    assert_int_equal(map[krak - x + 5], 20);
    const char *fffd = strstr(x, "\xef\xbf\xbd");
    assert_int_equal(map[fffd - x], t.bad[0]);
    assert_int_equal(map[fffd - x + 3], t.bad[0] + 1);    /* z */
    assert_int_equal(map[t.len], n);
    free(map);
    rzc_text_free(&t);
    /* a whole Windows-1250 file */
    const char cp[] = "\xa3\xf3" "d\x9f;Gda\xf1sk\n";
    assert_int_equal(rzc_text_decode(&t, (const uint8_t *)cp, strlen(cp),
                                     RZC_ENC_AUTO, err, sizeof err),
                     0);
    assert_int_equal(rzc_text_map(&t, &map), 0);
    assert_int_equal(map[strchr(t.text, ';') - t.text], 4);
    assert_int_equal(map[t.len - 1], strlen(cp) - 1);
    assert_int_equal(map[t.len], strlen(cp));
    free(map);
    rzc_text_free(&t);
}

/* rzc_inside: a view inside a buffer, at its edges, and out of it. */
static void test_inside_is_exact_at_the_edges(void **state)
{
    (void)state;
    char buf[16] = {0};
    assert_true(rzc_inside(buf, sizeof buf, buf, 16));
    assert_true(rzc_inside(buf, sizeof buf, buf + 15, 1));
    assert_false(rzc_inside(buf, sizeof buf, buf + 15, 2));
    assert_false(rzc_inside(buf, sizeof buf, buf + 16, 1));
    assert_false(rzc_inside(buf, sizeof buf, buf + 3, 0));
    assert_false(rzc_inside(buf + 1, 8, buf, 1));
    assert_false(rzc_inside(buf, sizeof buf, NULL, 1));
    assert_false(rzc_inside(buf, sizeof buf, buf + 4, SIZE_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_hour_is_first_occurrence_cest),
        cmocka_unit_test(test_missing_hour_is_refused),
        cmocka_unit_test(test_rfc3339_round_trip),
        cmocka_unit_test(test_inside_is_exact_at_the_edges),
        cmocka_unit_test(test_money_forms),
        cmocka_unit_test(test_utf8_edge_cases),
        cmocka_unit_test(test_cp1250_field_decoded_alone),
        cmocka_unit_test(test_text_map_points_into_the_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
