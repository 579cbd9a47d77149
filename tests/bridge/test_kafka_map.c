/* test_kafka_map.c - the pure mapping between events and Kafka records,
 * the quarantine store, and the librdkafka configuration checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bridge.h"
#include "harness.h"

/* An air-quality event as the GIOŚ adapter makes it. */
static void s_air(Ratusz__V1__Event *ev, Ratusz__V1__AirQualityMeasurement *aq)
{
    ratusz__v1__event__init(ev);
    ratusz__v1__air_quality_measurement__init(aq);
    ev->id = "117-3584-2024-05-01T10:00";
    ev->source = "/0264011/env/gios";
    ev->type = "pl.gov.gmina.env.air.measurement.v1";
    ev->subject = "station:117";
    ev->tenant = "0264011";
    ev->time = INT64_C(1714550400000000); /* 2024-05-01 10:00 in Warsaw */
    ev->seq = 42;
    ev->data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev->air_quality = aq;
    aq->station_code = "DsWrocWybCon";
    aq->station_id = 117;
    aq->sensor_id = 3584;
    aq->parameter = "PM10";
    aq->parameter_name = "pył zawieszony PM10";
    aq->measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
    aq->value = 23.4;
    aq->unit = "ug/m3";
    aq->source_time = "2024-05-01 10:00:00";
    aq->time_zone = "Europe/Warsaw";
}

static const char *s_hv(const rzk_out_t *o, const char *name)
{
    for (size_t i = 0; i < o->n_headers; i++)
        if (!strcmp(o->headers[i].name, name))
            return o->headers[i].value;
    return NULL;
}

static void test_template_fills_tenant_domain_type_and_sanitizes(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__AirQualityMeasurement aq;
    s_air(&ev, &aq);
    rzk_tpl_t t;
    char buf[RZK_TOPIC_MAX + 1], why[256];
    assert_int_equal(
        rzk_tpl_compile(&t, "ratusz.{tenant}.{domain}", why, sizeof why), 0);
    assert_int_equal(rzk_tpl_expand(&t, &ev, buf), 18);
    assert_string_equal(buf, "ratusz.0264011.env");
    assert_int_equal(rzk_tpl_compile(&t, "{type}", why, sizeof why), 0);
    rzk_tpl_expand(&t, &ev, buf);
    assert_string_equal(buf, "env.air.measurement.v1");
    assert_int_equal(rzk_tpl_compile(&t, "all-{topic}", why, sizeof why), 0);
    rzk_tpl_expand(&t, &ev, buf);
    assert_string_equal(buf, "all-0264011.env.air.measurement.v1");
    /* a type outside pl.gov.gmina. keeps its own first segment */
    ev.type = "org.example/łódź v1";
    assert_int_equal(rzk_tpl_compile(&t, "x.{domain}.{type}", why, sizeof why),
                     0);
    rzk_tpl_expand(&t, &ev, buf);
    assert_string_equal(buf, "x.org.org.example_____d___v1");

    assert_int_equal(rzk_tpl_compile(&t, "ratusz.{gmina}", why, sizeof why),
                     RZ_EINVAL);
    assert_string_equal(why,
                        "unknown placeholder '{gmina}' in the topic template "
                        "(known: {tenant} {domain} {type} {topic})");
    assert_int_equal(rzk_tpl_compile(&t, "ratusz/{tenant}", why, sizeof why),
                     RZ_EINVAL);
    assert_string_equal(
        why,
        "'/' is not allowed in a Kafka topic name (only a-z A-Z 0-9 . _ -)");
    assert_int_equal(rzk_tpl_compile(&t, "ratusz.{tenant", why, sizeof why),
                     RZ_EINVAL);
    assert_string_equal(why, "unclosed '{' in the topic template");
}

static void test_out_record_has_key_headers_and_protobuf_value(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__AirQualityMeasurement aq;
    s_air(&ev, &aq);
    uint8_t raw[1024];
    size_t n = ratusz__v1__event__pack(&ev, raw);
    rzk_tpl_t t;
    rzk_out_t o;
    char why[256];
    rzk_tpl_compile(&t, "ratusz.{tenant}.{domain}", NULL, 0);
    assert_int_equal(
        rzk_out_map(&t, RZK_FORMAT_PROTOBUF, &ev, raw, n, &o, why, sizeof why),
        0);
    assert_string_equal(o.topic, "ratusz.0264011.env");
    assert_int_equal(o.key_len, 11);
    assert_memory_equal(o.key, "station:117", 11);
    assert_ptr_equal(o.value, raw);
    assert_int_equal(o.value_len, n);
    assert_int_equal(o.n_headers, 9);
    assert_string_equal(s_hv(&o, "ce_specversion"), "1.0");
    assert_string_equal(s_hv(&o, "ce_id"), "117-3584-2024-05-01T10:00");
    assert_string_equal(s_hv(&o, "ce_source"), "/0264011/env/gios");
    assert_string_equal(s_hv(&o, "ce_type"),
                        "pl.gov.gmina.env.air.measurement.v1");
    assert_string_equal(s_hv(&o, "ce_subject"), "station:117");
    assert_string_equal(s_hv(&o, "ce_time"), "2024-05-01T08:00:00Z");
    assert_string_equal(s_hv(&o, "ce_tenant"), "0264011");
    assert_string_equal(s_hv(&o, "ce_seq"), "42");
    assert_string_equal(s_hv(&o, "content-type"), RZK_CT_PROTOBUF);
    rzk_out_clear(&o);

    /* microseconds survive; no subject, no key and no ce_subject */
    ev.time = INT64_C(1714550400000007);
    ev.subject = "";
    assert_int_equal(
        rzk_out_map(&t, RZK_FORMAT_CE_JSON, &ev, raw, n, &o, why, sizeof why),
        0);
    assert_null(o.key);
    assert_null(s_hv(&o, "ce_subject"));
    assert_string_equal(s_hv(&o, "ce_time"), "2024-05-01T08:00:00.000007Z");
    assert_string_equal(s_hv(&o, "content-type"), RZK_CT_CE_JSON);
    assert_non_null(
        strstr(o.value, "\"parameter_name\":\"pył zawieszony PM10\""));
    assert_non_null(
        strstr(o.value, "\"time\":\"2024-05-01T08:00:00.000007Z\""));
    rzk_out_clear(&o);
}

/* Our own records come back as the same event, minus the broker fields. */
static void test_round_trip_both_formats(void **state)
{
    (void)state;
    Ratusz__V1__Event ev;
    Ratusz__V1__AirQualityMeasurement aq;
    s_air(&ev, &aq);
    ev.ingest_time = 99;
    ev.principal = "gmina-wroclaw";
    uint8_t raw[1024];
    size_t n = ratusz__v1__event__pack(&ev, raw);
    rzk_tpl_t t;
    rzk_tpl_compile(&t, "ratusz.{tenant}", NULL, 0);
    for (int format = 0; format < 2; format++) {
        rzk_out_t o;
        char why[512];
        assert_int_equal(
            rzk_out_map(&t, format, &ev, raw, n, &o, why, sizeof why), 0);
        rzk_in_t in = {o.key,       o.key_len, o.value,
                       o.value_len, o.headers, o.n_headers};
        Ratusz__V1__Event *back = NULL;
        int rc = rzk_in_map(&in, &back, why, sizeof why);
        if (rc)
            fail_msg("format %d: %s", format, why);
        assert_string_equal(back->id, ev.id);
        assert_string_equal(back->source, ev.source);
        assert_string_equal(back->type, ev.type);
        assert_string_equal(back->subject, "station:117");
        assert_string_equal(back->tenant, "0264011");
        assert_int_equal(back->time, INT64_C(1714550400000000));
        assert_int_equal(back->seq, 0);
        assert_int_equal(back->ingest_time, 0);
        assert_string_equal(back->principal, "");
        assert_int_equal(back->data_case, RATUSZ__V1__EVENT__DATA_AIR_QUALITY);
        assert_string_equal(back->air_quality->parameter_name,
                            "pył zawieszony PM10");
        assert_true(back->air_quality->value == 23.4);
        assert_string_equal(back->air_quality->time_zone, "Europe/Warsaw");
        rz_event_free(back);
        rzk_out_clear(&o);
    }
}

static rzk_in_t s_rec(const char *key, const char *value,
                      const rzk_header_t *hs, size_t nh)
{
    rzk_in_t in = {
        key, key ? strlen(key) : 0, value, value ? strlen(value) : 0, hs, nh};
    return in;
}

#define H(n, v)                                                                \
    {                                                                          \
        n, v, sizeof(v) - 1                                                    \
    }

/* Binary mode from a foreign producer: headers are the attributes, the
 * key stands in for the subject, JSON data becomes the domain message. */
static void test_binary_mode_with_zone_offset_and_key_as_subject(void **state)
{
    (void)state;
    const rzk_header_t hs[] = {
        H("ce_specversion", "1.0"),
        H("ce_id", "bo-2024-17"),
        H("ce_source", "/1465011/budget/pabulib"),
        H("ce_type", "pl.gov.gmina.budget.vote.v1"),
        H("ce_tenant", "1465011"),
        H("ce_time", "2024-03-31T23:30:00+02:00"),
        H("content-type", "application/json; charset=utf-8"),
    };
    rzk_in_t in = s_rec("project:17",
                        "{\"dzial\":\"921\",\"amount_grosze\":125000050,"
                        "\"unit\":\"Zarząd Zieleni Miejskiej\"}",
                        hs, 7);
    Ratusz__V1__Event *ev = NULL;
    char why[512];
    int rc = rzk_in_map(&in, &ev, why, sizeof why);
    if (rc)
        fail_msg("%s", why);
    assert_string_equal(ev->subject, "project:17");
    assert_string_equal(ev->tenant, "1465011");
    assert_int_equal(ev->time, INT64_C(1711920600000000)); /* 21:30Z */
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_BUDGET);
    assert_int_equal(ev->budget->amount_grosze, 125000050);
    assert_string_equal(ev->budget->unit, "Zarząd Zieleni Miejskiej");
    rz_event_free(ev);

    /* data that is not JSON stays raw with its media type */
    const rzk_header_t hcsv[] = {
        H("ce_specversion", "1.0"),
        H("ce_id", "csv-1"),
        H("ce_source", "/1465011/budget/besti"),
        H("ce_type", "pl.gov.gmina.budget.import.v1"),
        H("ce_tenant", "1465011"),
        H("content-type", "text/csv"),
    };
    in = s_rec(NULL, "Dział;Kwota\n600;12,50\n", hcsv, 6);
    assert_int_equal(rzk_in_map(&in, &ev, why, sizeof why), 0);
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(ev->raw->content_type, "text/csv");
    assert_int_equal(ev->raw->bytes.len, 23);
    assert_memory_equal(ev->raw->bytes.data, "Dział;Kwota\n600;12,50\n", 23);
    assert_string_equal(ev->subject, "");
    rz_event_free(ev);
}

static void s_expect_reason(const rzk_in_t *in, int code, const char *reason)
{
    Ratusz__V1__Event *ev = NULL;
    char why[512];
    int rc = rzk_in_map(in, &ev, why, sizeof why);
    assert_null(ev);
    assert_int_equal(rc, code);
    if (!strstr(why, reason))
        fail_msg("expected '%s' in '%s'", reason, why);
}

static void test_unmappable_records_get_a_reason(void **state)
{
    (void)state;
    rzk_in_t in = s_rec("unit:1", "hello", NULL, 0);
    s_expect_reason(&in, RZ_EINVALEVENT, "not a CloudEvent: no content-type");
    in = s_rec("unit:1", NULL, NULL, 0);
    s_expect_reason(&in, RZ_EINVALEVENT,
                    "a tombstone (no value) carries no event");

    const rzk_header_t v2[] = {H("ce_specversion", "0.3"), H("ce_id", "x")};
    in = s_rec(NULL, "{}", v2, 2);
    s_expect_reason(&in, RZ_EINVALEVENT,
                    "ce_specversion: unsupported '0.3' (expected '1.0')");

    const rzk_header_t notenant[] = {H("ce_specversion", "1.0"),
                                     H("ce_id", "a"), H("ce_source", "/x"),
                                     H("ce_type", "pl.gov.gmina.budget.x.v1")};
    in = s_rec(NULL, "{}", notenant, 4);
    s_expect_reason(&in, RZ_EINVALEVENT, "tenant");

    const rzk_header_t latin2[] = {H("ce_specversion", "1.0"),
                                   {"ce_id", "\xb3\xf3\x64\xbc", 4}};
    in = s_rec(NULL, "{}", latin2, 2);
    s_expect_reason(&in, RZ_EINVALEVENT, "header ce_id: not UTF-8 text");

    const rzk_header_t badjson[] = {H("ce_specversion", "1.0"), H("ce_id", "a"),
                                    H("content-type", "application/json")};
    in = s_rec(NULL, "{\"kwota\": 12,5}", badjson, 3);
    s_expect_reason(&in, RZ_EDECODE,
                    "value: content-type 'application/json' but not JSON");

    const rzk_header_t pb[] = {H("content-type", RZK_CT_PROTOBUF)};
    in = s_rec(NULL, "\xff\xff\xff", pb, 1);
    s_expect_reason(&in, RZ_EDECODE, "not a valid protobuf Event (3 bytes)");

    /* headers that disagree with the protobuf value */
    Ratusz__V1__Event ev;
    Ratusz__V1__AirQualityMeasurement aq;
    s_air(&ev, &aq);
    uint8_t raw[1024];
    size_t n = ratusz__v1__event__pack(&ev, raw);
    const rzk_header_t lie[] = {H("content-type", RZK_CT_PROTOBUF),
                                H("ce_id", "other")};
    rzk_in_t li = {NULL, 0, raw, n, lie, 2};
    s_expect_reason(&li, RZ_EINVALEVENT,
                    "header ce_id 'other' differs from the event's "
                    "'117-3584-2024-05-01T10:00'");

    /* proto3 strings are UTF-8; a Windows-1250 "Łódź" is not */
    aq.parameter_name = "\xa3\xf3\x64\x9f";
    n = ratusz__v1__event__pack(&ev, raw);
    rzk_in_t l2 = {NULL, 0, raw, n, pb, 1};
    s_expect_reason(&l2, RZ_EINVALEVENT,
                    "value: string field 'parameter_name' is not UTF-8");

    const rzk_header_t ce[] = {
        H("content-type", "application/cloudevents+json")};
    in = s_rec(NULL, "{\"id\":\"1\"}", ce, 1);
    s_expect_reason(&in, RZ_EINVALEVENT, "source");
}

/* The quarantine keeps one record per topic/partition/offset, on disk. */
static void test_quarantine_keeps_each_place_once_and_lists_it(void **state)
{
    (void)state;
    char dir[256], why[256];
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    rzk_quarantine_t *q = rzk_quarantine_open(dir, why, sizeof why);
    assert_non_null(q);
    const rzk_header_t hs[] = {H("ce_id", "zł"), {"bin", "\x00\xff", 2}};
    rzk_in_t in = {"unit:7", 6, "\x01\x02", 2, hs, 2};
    assert_int_equal(
        rzk_quarantine_put(q, "ratusz.in", 3, 1234, &in, "no tenant"), 1);
    assert_int_equal(
        rzk_quarantine_put(q, "ratusz.in", 3, 1234, &in, "no tenant"), 0);
    rzk_in_t in2 = {NULL, 0, "Łódź", 7, NULL, 0};
    assert_int_equal(rzk_quarantine_put(q, "ratusz.in", 3, 99, &in2, "why"), 1);
    rzk_quarantine_close(&q);
    q = rzk_quarantine_open(dir, why, sizeof why);
    assert_int_equal(rzk_quarantine_count(q), 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rzk_quarantine_list(q, f), 2);
    fclose(f);
    /* in key order: offset 99 before 1234 */
    const char *second = strchr(buf, '\n') + 1;
    assert_non_null(
        strstr(buf, "\"topic\":\"ratusz.in\",\"partition\":3,\"offset\":99,"
                    "\"reason\":\"why\",\"headers\":{},\"value\":\"Łódź\"}\n"));
    assert_non_null(strstr(second,
                           "\"topic\":\"ratusz.in\",\"partition\":3,"
                           "\"offset\":1234,\"reason\":\"no tenant\","
                           "\"key\":\"unit:7\",\"headers\":{\"ce_id\":\"zł\","
                           "\"bin\":{\"hex\":\"00ff\"}},"
                           "\"value\":\"\\u0001\\u0002\"}\n"));
    free(buf);
    rzk_quarantine_close(&q);
    rzt_rmtree(dir);
}

/* A property librdkafka refuses names the file and the line. */
static void test_kafka_property_errors_name_file_and_line(void **state)
{
    (void)state;
    rzk_conf_t c;
    char err[600];
    const char *yaml = "mode: out\n"
                       "kafka:\n"
                       "  bootstrap.servers: k1:9092,k2:9092\n"
                       "  security:\n"
                       "    protocol: plaintext\n"
                       "  acks: most\n";
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(rzk_options, &c), 0);
    assert_int_equal(rz_conf_load_string(rzk_options, &c, yaml, strlen(yaml),
                                         "kafka-out.yaml", err, sizeof err),
                     0);
    c.file = "kafka-out.yaml";
    rz_conf_set(rzk_options, &c, "name", "kafka/out", err, sizeof err);
    assert_int_equal(rzk_conf_check(&c, err, sizeof err), 0);
    assert_null(rzk_kafka_conf(&c, err, sizeof err));
    assert_string_equal(err,
                        "kafka-out.yaml:6: kafka.acks: Invalid value for "
                        "configuration property \"request.required.acks\"");
    rz_conf_close(rzk_options, &c);

    /* nested keys are flattened, and the bridge's defaults are in */
    yaml = "kafka:\n  bootstrap.servers: k1:9092\n  security:\n    protocol: "
           "plaintext\n";
    memset(&c, 0, sizeof c);
    rz_conf_init(rzk_options, &c);
    assert_int_equal(rz_conf_load_string(rzk_options, &c, yaml, strlen(yaml),
                                         "x", err, sizeof err),
                     0);
    rz_conf_set(rzk_options, &c, "name", "kafka/out", err, sizeof err);
    rd_kafka_conf_t *kc = rzk_kafka_conf(&c, err, sizeof err);
    assert_non_null(kc);
    char v[64];
    size_t vl = sizeof v;
    assert_int_equal(rd_kafka_conf_get(kc, "security.protocol", v, &vl),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(v, "plaintext");
    vl = sizeof v;
    rd_kafka_conf_get(kc, "enable.idempotence", v, &vl);
    assert_string_equal(v, "true");
    vl = sizeof v;
    rd_kafka_conf_get(kc, "message.timeout.ms", v, &vl);
    assert_string_equal(v, "0");
    vl = sizeof v;
    rd_kafka_conf_get(kc, "client.id", v, &vl);
    assert_string_equal(v, "kafka/out");
    rd_kafka_conf_destroy(kc);
    rz_conf_close(rzk_options, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_fills_tenant_domain_type_and_sanitizes),
        cmocka_unit_test(test_out_record_has_key_headers_and_protobuf_value),
        cmocka_unit_test(test_round_trip_both_formats),
        cmocka_unit_test(test_binary_mode_with_zone_offset_and_key_as_subject),
        cmocka_unit_test(test_unmappable_records_get_a_reason),
        cmocka_unit_test(test_quarantine_keeps_each_place_once_and_lists_it),
        cmocka_unit_test(test_kafka_property_errors_name_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
