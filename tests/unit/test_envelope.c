/* test_envelope.c - what makes an event valid, and its topic */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_valid_event_passes),
        cmocka_unit_test(test_envelope_missing_required_attribute_is_named),
        cmocka_unit_test(test_envelope_tenant_must_be_terc_code),
        cmocka_unit_test(test_envelope_type_domain_must_match_data),
        cmocka_unit_test(test_envelope_oversize_and_control_characters_rejected),
        cmocka_unit_test(test_envelope_raw_data_needs_content_type),
        cmocka_unit_test(test_envelope_topic_strips_the_gmina_prefix),
        cmocka_unit_test(test_envelope_data_domains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
