/* test_envelope.c - what makes an event valid, and its topic */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "ratusz/ratusz.h"

static void s_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be)
{
    rzt_event(ev, be, "/1261011/budget/besti", "e-1", "unit:1", 1, 100);
}

static void test_envelope_valid_event_passes(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    s_event(&ev, &be);
    char why[128];
    assert_int_equal(rz_event_check(&ev, why, sizeof why), 0);
    assert_string_equal(why, "");
}

static void test_envelope_missing_required_attribute_is_named(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char why[128];
    s_event(&ev, &be);
    ev.id = "";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "missing attribute 'id'");
    s_event(&ev, &be);
    ev.source = "";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "missing attribute 'source'");
    s_event(&ev, &be);
    ev.type = "";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "missing attribute 'type'");
}

static void test_envelope_tenant_must_be_terc_code(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char why[128];
    const char *bad[] = {"126101", "12610111", "12a1011", "1", ""};
    const char *good[] = {"02", "0201", "1261011"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_event(&ev, &be);
        ev.tenant = (char *)bad[i];
        assert_int_equal(rz_event_check(&ev, why, sizeof why),
                         RZ_EINVALEVENT);
        assert_non_null(strstr(why, "tenant"));
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        s_event(&ev, &be);
        ev.tenant = (char *)good[i];
        assert_int_equal(rz_event_check(&ev, why, sizeof why), 0);
    }
}

static void test_envelope_type_domain_must_match_data(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char why[128];
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.env.air.measurement.v1";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_non_null(strstr(why, "does not match"));
}

static void test_envelope_oversize_and_control_characters_rejected(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char why[128], big[RZ_ID_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s_event(&ev, &be);
    ev.id = big;
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'id' is too long");
    s_event(&ev, &be);
    ev.subject = "unit:\n1";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_non_null(strstr(why, "control characters"));
}

static void test_envelope_raw_data_needs_content_type(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    char why[128];
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.registry.terc.unit.v1";
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    raw.bytes.data = (uint8_t *)"{}";
    raw.bytes.len = 2;
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    raw.content_type = "application/json";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), 0);
}

static void test_envelope_topic_strips_the_gmina_prefix(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char topic[RZ_TOPIC_MAX + 1];
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.budget.execution.v1";
    assert_int_equal(rz_event_topic(&ev, topic, sizeof topic),
                     (int)strlen("1261011.budget.execution.v1"));
    assert_string_equal(topic, "1261011.budget.execution.v1");
    ev.type = "org.example.thing.v2";
    rz_event_topic(&ev, topic, sizeof topic);
    assert_string_equal(topic, "1261011.org.example.thing.v2");
    assert_int_equal(rz_event_topic(&ev, topic, 5), RZ_EINVAL);
    assert_string_equal(topic, "");
}

static void test_envelope_data_domains(void **state)
{
    (void)state;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    assert_null(rz_event_data_domain(&ev));
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    assert_string_equal(rz_event_data_domain(&ev), "env");
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    assert_string_equal(rz_event_data_domain(&ev), "gis");
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    assert_string_equal(rz_event_data_domain(&ev), "tax");
}

/* ---------------------------------------------------------------------------
 * Strings on the wire (rz_event_check_wire)
 */

#define S_WIRE_MAX 4096

static size_t s_pack(const Ratusz__V1__Event *ev, uint8_t *buf)
{
    size_t n = ratusz__v1__event__get_packed_size(ev);
    assert_true(n <= S_WIRE_MAX);
    return ratusz__v1__event__pack(ev, buf);
}

/* Overwrite the first occurrence of marker in buf with the same number of
 * bytes from with: how bytes protobuf-c would never write get on the wire. */
static void s_patch(uint8_t *buf, size_t len, const char *marker,
                    const char *with)
{
    size_t m = strlen(marker);
    for (size_t i = 0; i + m <= len; i++)
        if (memcmp(buf + i, marker, m) == 0) {
            memcpy(buf + i, with, m);
            return;
        }
    fail_msg("marker %s not in the packed event", marker);
}

static int s_wire(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
    return rz_event_check_wire(buf, len, why, why_len);
}

static void test_envelope_wire_valid_event_passes(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128];
    s_event(&ev, &be);
    ev.subject = "działka:Łódź/€/\xf4\x8f\xbf\xbf";
    be.description = "zakup\nusług\t(opis z dwóch linii)";
    size_t n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_int_equal(s_wire(NULL, 0, why, sizeof why), 0);
}

static void test_envelope_wire_id_with_nul_is_not_a_duplicate(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128];
    s_event(&ev, &be);
    ev.id = "victim#x";
    size_t n = s_pack(&ev, buf);
    s_patch(buf, n, "victim#x", "victim\0x");
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'id' holds a NUL byte at offset 6");
    /* what protobuf-c makes of it: "victim", the bug this check closes */
    Ratusz__V1__Event *d = ratusz__v1__event__unpack(NULL, n, buf);
    assert_non_null(d);
    assert_string_equal(d->id, "victim");
    ratusz__v1__event__free_unpacked(d, NULL);
}

static void test_envelope_wire_tenant_with_nul_and_markup_rejected(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128];
    s_event(&ev, &be);
    ev.tenant = "1261011#\n<script>";
    size_t n = s_pack(&ev, buf);
    s_patch(buf, n, "1261011#", "1261011\0");
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'tenant' holds a NUL byte at offset 7");

    s_event(&ev, &be);
    ev.tenant = "12a1011";
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'tenant' is not a TERYT TERC code "
                             "(2, 4 or 7 digits)");
}

static void test_envelope_wire_invalid_utf8_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* beyond any code point */
        "\xff",             /* never in UTF-8 */
        "\x80",             /* lone continuation */
        "\xe2\x82",         /* cut short at the end */
        "\xe2\x28\xa1",     /* bad continuation */
    };
    static const char *const good[] = {
        "\xc2\x80",          "\xed\x9f\xbf",     "\xee\x80\x80",
        "\xef\xbf\xbf",      "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        "zażółć gęślą jaźń",
    };
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128], id[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_event(&ev, &be);
        snprintf(id, sizeof id, "ok-%s", bad[i]);
        ev.id = id;
        size_t n = s_pack(&ev, buf);
        assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
        assert_string_equal(why,
                            "attribute 'id' is not valid UTF-8 at offset 3");
        /* the decoded check agrees */
        assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
        assert_string_equal(why,
                            "attribute 'id' is not valid UTF-8 at offset 3");
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        s_event(&ev, &be);
        ev.source = (char *)good[i];
        size_t n = s_pack(&ev, buf);
        assert_int_equal(s_wire(buf, n, why, sizeof why), 0);
        assert_int_equal(rz_event_check(&ev, why, sizeof why), 0);
    }
}

static void test_envelope_wire_control_characters_rejected(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128];
    s_event(&ev, &be);
    ev.source = "/1261011/\x1f";
    size_t n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'source' holds control characters "
                             "(0x1f at offset 9)");
    s_event(&ev, &be);
    ev.principal = "ops\x7f";
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'principal' holds control characters "
                             "(0x7f at offset 3)");
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'principal' holds control characters "
                             "(0x7f at offset 3)");
    s_event(&ev, &be);
    ev.redaction = "x\ny";
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_non_null(strstr(why, "'redaction'"));
}

static void test_envelope_wire_data_strings_checked(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint8_t buf[S_WIRE_MAX];
    char why[128];

    /* a budget field, and a map value */
    s_event(&ev, &be);
    be.description = "opis#dalej";
    size_t n = s_pack(&ev, buf);
    s_patch(buf, n, "opis#", "opis\0");
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "field 'budget.description' holds a NUL byte at "
                             "offset 4");
    Ratusz__V1__BudgetEntry__AttributesEntry kv =
        RATUSZ__V1__BUDGET_ENTRY__ATTRIBUTES_ENTRY__INIT;
    Ratusz__V1__BudgetEntry__AttributesEntry *kvs[] = {&kv};
    s_event(&ev, &be);
    kv.key = "kolumna";
    kv.value = "ab\xed\xa0\x80";
    be.n_attributes = 1;
    be.attributes = kvs;
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "field 'budget.attributes.value' is not valid "
                             "UTF-8 at offset 2");

    /* two levels down: tax.taxpayer.name */
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party party = RATUSZ__V1__PARTY__INIT;
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.tax.assessment.v1";
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &tax;
    tax.taxpayer = &party;
    party.name = "Jan\xc0\x80Kowalski";
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "field 'tax.taxpayer.name' is not valid UTF-8 "
                             "at offset 3");
    /* the reason never echoes the value: it may be personal data */
    assert_null(strstr(why, "Kowalski"));

    /* bytes are not text: anything goes */
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.registry.terc.unit.v1";
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    raw.content_type = "application/octet-stream";
    raw.bytes.data = (uint8_t *)"\0\xff\xc0";
    raw.bytes.len = 3;
    n = s_pack(&ev, buf);
    assert_int_equal(s_wire(buf, n, why, sizeof why), 0);
}

static void test_envelope_wire_not_protobuf_is_a_decode_error(void **state)
{
    (void)state;
    char why[128];
    static const uint8_t junk[] = {0x0a, 0x05, 'a', 'b'}; /* cut short */
    assert_int_equal(s_wire(junk, sizeof junk, why, sizeof why), RZ_EDECODE);
    assert_non_null(strstr(why, "not a valid Event"));
    /* a nested message that is not one */
    static const uint8_t nested[] = {0x5a, 0x02, 0x0a, 0x05};
    assert_int_equal(s_wire(nested, sizeof nested, why, sizeof why),
                     RZ_EDECODE);
    assert_string_equal(why, "field 'budget' is not a valid message");
}

static void test_envelope_decoded_check_rejects_bad_text(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char why[128];
    s_event(&ev, &be);
    ev.subject = "dzia\xc5"; /* cut in the middle of ł */
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_string_equal(why, "attribute 'subject' is not valid UTF-8 at "
                             "offset 4");
    s_event(&ev, &be);
    ev.type = "pl.gov.gmina.budget.\x1b[2J";
    assert_int_equal(rz_event_check(&ev, why, sizeof why), RZ_EINVALEVENT);
    assert_non_null(strstr(why, "'type' holds control characters"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_valid_event_passes),
        cmocka_unit_test(test_envelope_missing_required_attribute_is_named),
        cmocka_unit_test(test_envelope_tenant_must_be_terc_code),
        cmocka_unit_test(test_envelope_type_domain_must_match_data),
        cmocka_unit_test(
            test_envelope_oversize_and_control_characters_rejected),
        cmocka_unit_test(test_envelope_raw_data_needs_content_type),
        cmocka_unit_test(test_envelope_topic_strips_the_gmina_prefix),
        cmocka_unit_test(test_envelope_data_domains),
        cmocka_unit_test(test_envelope_wire_valid_event_passes),
        cmocka_unit_test(test_envelope_wire_id_with_nul_is_not_a_duplicate),
        cmocka_unit_test(
            test_envelope_wire_tenant_with_nul_and_markup_rejected),
        cmocka_unit_test(test_envelope_wire_invalid_utf8_rejected),
        cmocka_unit_test(test_envelope_wire_control_characters_rejected),
        cmocka_unit_test(test_envelope_wire_data_strings_checked),
        cmocka_unit_test(test_envelope_wire_not_protobuf_is_a_decode_error),
        cmocka_unit_test(test_envelope_decoded_check_rejects_bad_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
