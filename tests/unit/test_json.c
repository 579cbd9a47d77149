/* test_json.c - CloudEvents JSON <-> Event, and the generic message JSON */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratusz/ratusz.h"

/* ---------------------------------------------------------------------------
 * Helpers
 */

/* Parse text that must be a valid event. */
static Ratusz__V1__Event *s_parse(const char *text)
{
    char err[256] = "";
    Ratusz__V1__Event *ev = NULL;
    int rc = rz_event_from_json(text, strlen(text), &ev, err, sizeof err);
    if (rc != 0)
        print_error("rz_event_from_json: %s (%s)\n", err, rz_err_name(rc));
    assert_int_equal(rc, 0);
    assert_non_null(ev);
    return ev;
}

/* Parse text that must fail; returns the code and leaves the reason in
 * err. */
static int s_parse_fails(const char *text, size_t len, char *err,
                         size_t err_len)
{
    Ratusz__V1__Event *ev = (Ratusz__V1__Event *)1;
    int rc = rz_event_from_json(text, len, &ev, err, err_len);
    assert_true(rc < 0);
    assert_null(ev);
    assert_true(strlen(err) > 0);
    return rc;
}

static void s_assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        print_error("expected %s\n    in %s\n", needle, hay);
    assert_non_null(strstr(hay, needle));
}

/* JSON -> event -> JSON -> event -> JSON: the two texts must be equal. */
static char *s_round_trip(const Ratusz__V1__Event *ev,
                          Ratusz__V1__Event **back)
{
    char *json = rz_event_to_json(ev);
    assert_non_null(json);
    *back = s_parse(json);
    char *again = rz_event_to_json(*back);
    assert_non_null(again);
    assert_string_equal(json, again);
    free(again);
    return json;
}

static void s_envelope(Ratusz__V1__Event *ev, const char *type)
{
    ev->id = "e-1";
    ev->source = "/1061011/test";
    ev->type = (char *)type;
    ev->tenant = "1061011";
    ev->time = 1611417600000000LL; /* 2021-01-23T16:00:00Z */
}

/* ---------------------------------------------------------------------------
 * Domain messages
 */

static void test_json_budget_round_trip_keeps_diacritics(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__BudgetEntry b = RATUSZ__V1__BUDGET_ENTRY__INIT;
    Ratusz__V1__BudgetEntry__AttributesEntry a1 =
        RATUSZ__V1__BUDGET_ENTRY__ATTRIBUTES_ENTRY__INIT;
    Ratusz__V1__BudgetEntry__AttributesEntry *attrs[] = {&a1};
    s_envelope(&ev, "pl.gov.gmina.budget.execution.v1");
    ev.subject = "budget:2024/600/60016/4300";
    b.dzial = "600";
    b.rozdzial = "60016";
    b.paragraf = "4300";
    b.side = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE;
    b.stage = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION;
    b.amount_grosze = 9007199254740993LL; /* 2^53 + 1: not a double */
    b.currency = "PLN";
    b.fiscal_year = 2024;
    b.unit = "Urząd Miasta Łodzi";
    b.description = "Zakup usług pozostałych — Łódź";
    a1.key = "jednostka";
    a1.value = "Zarząd Dróg i Transportu w Łodzi";
    b.n_attributes = 1;
    b.attributes = attrs;
    ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    ev.budget = &b;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"specversion\":\"1.0\"");
    s_assert_contains(json, "\"time\":\"2021-01-23T16:00:00Z\"");
    s_assert_contains(json, "\"datacontenttype\":\"application/json\"");
    s_assert_contains(json, "\"dataschema\":\"ratusz.v1.BudgetEntry\"");
    s_assert_contains(json, "\"amount_grosze\":9007199254740993");
    s_assert_contains(json, "\"side\":\"BUDGET_SIDE_EXPENDITURE\"");
    s_assert_contains(json, "Zakup usług pozostałych — Łódź");
    s_assert_contains(json, "\"attributes\":{\"jednostka\":\"Zarząd Dróg");
    assert_null(strstr(json, "rozchody"));
    assert_null(strstr(json, "task")); /* defaults are left out */

    assert_int_equal(back->data_case, RATUSZ__V1__EVENT__DATA_BUDGET);
    assert_string_equal(back->budget->description,
                        "Zakup usług pozostałych — Łódź");
    assert_true(back->budget->amount_grosze == 9007199254740993LL);
    assert_int_equal(back->budget->side,
                     RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE);
    assert_int_equal(back->budget->n_attributes, 1);
    assert_string_equal(back->budget->attributes[0]->value,
                        "Zarząd Dróg i Transportu w Łodzi");
    assert_string_equal(back->subject, "budget:2024/600/60016/4300");
    assert_true(back->time == ev.time);
    free(json);
    rz_event_free(back);
}

static void test_json_money_int64_extremes_are_exact(void **st)
{
    (void)st;
    Ratusz__V1__Event *ev = s_parse(
        "{\"id\":\"m\",\"source\":\"/s\",\"type\":\"t\","
        "\"dataschema\":\"ratusz.v1.BudgetEntry\","
        "\"data\":{\"amount_grosze\":9223372036854775807}}");
    assert_true(ev->budget->amount_grosze == INT64_MAX);
    char *json = rz_event_to_json(ev);
    s_assert_contains(json, "\"amount_grosze\":9223372036854775807");
    free(json);
    rz_event_free(ev);

    ev = s_parse("{\"id\":\"m\",\"source\":\"/s\",\"type\":\"t\","
                 "\"dataschema\":\"ratusz.v1.BudgetEntry\","
                 "\"data\":{\"amount_grosze\":-9223372036854775808}}");
    assert_true(ev->budget->amount_grosze == INT64_MIN);
    json = rz_event_to_json(ev);
    s_assert_contains(json, "\"amount_grosze\":-9223372036854775808");
    free(json);
    rz_event_free(ev);

    /* the proto3 JSON mapping writes 64-bit values as strings: read them */
    ev = s_parse("{\"id\":\"m\",\"source\":\"/s\",\"type\":\"t\","
                 "\"dataschema\":\"ratusz.v1.BudgetEntry\","
                 "\"data\":{\"amountGrosze\":\"123456789012345678\"}}");
    assert_true(ev->budget->amount_grosze == 123456789012345678LL);
    rz_event_free(ev);

    /* money is never fractional */
    char err[256] = "";
    const char *half = "{\"id\":\"m\",\"source\":\"/s\",\"type\":\"t\","
                       "\"dataschema\":\"ratusz.v1.BudgetEntry\","
                       "\"data\":{\"amount_grosze\":12.5}}";
    s_parse_fails(half, strlen(half), err, sizeof err);
    s_assert_contains(err, "data.amount_grosze: not an integer: 12.5");
}

static void test_json_air_quality_round_trip(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__AirQualityMeasurement aq =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    s_envelope(&ev, "pl.gov.gmina.env.air.measurement.v1");
    aq.station_code = "PL0012A";
    aq.station_id = 114;
    aq.sensor_id = 642;
    aq.parameter = "PM10";
    aq.parameter_name = "pył zawieszony PM10";
    aq.measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
    aq.value = 42.1;
    aq.unit = "ug/m3";
    aq.source_time = "2021-01-23 17:00:00";
    aq.time_zone = "Europe/Warsaw";
    aq.latitude = 51.759445;
    aq.longitude = 19.457216;
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &aq;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"parameter_name\":\"pył zawieszony PM10\"");
    /* reals print as short as they read back exactly */
    s_assert_contains(json, "\"value\":42.1,");
    s_assert_contains(json, "\"latitude\":51.759445,");
    assert_int_equal(back->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
    assert_true(back->air_quality->value == 42.1);
    assert_true(back->air_quality->latitude == 51.759445);
    assert_string_equal(back->air_quality->parameter_name,
                        "pył zawieszony PM10");
    free(json);
    rz_event_free(back);
}

static void test_json_air_value_null_is_unset_and_zero_is_set(void **st)
{
    (void)st;
    const char *head = "{\"id\":\"a\",\"source\":\"/s\","
                       "\"type\":\"pl.gov.gmina.env.air.v1\",\"data\":"
                       "{\"station_code\":\"PL0012A\",\"parameter\":\"PM10\"";
    char text[512];

    snprintf(text, sizeof text, "%s,\"value\":null}}", head);
    Ratusz__V1__Event *ev = s_parse(text);
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_AIR_QUALITY);
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED__NOT_SET);
    char *json = rz_event_to_json(ev);
    assert_null(strstr(json, "\"value\""));
    free(json);
    rz_event_free(ev);

    snprintf(text, sizeof text, "%s}}", head);
    ev = s_parse(text);
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED__NOT_SET);
    rz_event_free(ev);

    snprintf(text, sizeof text, "%s,\"value\":0}}", head);
    ev = s_parse(text);
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
    assert_true(ev->air_quality->value == 0.0);
    json = rz_event_to_json(ev);
    /* zero is a measurement: it is written even though it is the default */
    s_assert_contains(json, "\"value\":0.0");
    Ratusz__V1__Event *back = s_parse(json);
    assert_int_equal(back->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
    free(json);
    rz_event_free(back);
    rz_event_free(ev);
}

static void test_json_tax_round_trip_nested_and_repeated(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment t = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party p = RATUSZ__V1__PARTY__INIT;
    Ratusz__V1__TaxObject o1 = RATUSZ__V1__TAX_OBJECT__INIT;
    Ratusz__V1__TaxObject o2 = RATUSZ__V1__TAX_OBJECT__INIT;
    Ratusz__V1__TaxObject *objs[] = {&o1, &o2};
    s_envelope(&ev, "pl.gov.gmina.tax.property.assessment.v1");
    p.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    p.name = "Zażółć Gęślą Jaźń";
    p.address = "ul. Piotrkowska 104, 90-926 Łódź";
    o1.kind = "grunt";
    o1.parcel_id = "106101_1.0001.161/8";
    o1.base_milli = 812500;
    o1.rate_grosze = 131;
    o1.tax_grosze = 1064;
    o2.kind = "budynek";
    o2.use = "mieszkalny";
    o2.base_milli = 120000;
    o2.tax_grosze = 11520;
    t.document_id = "DN-1/2024/000123";
    t.form = "DN-1";
    t.tax_year = 2024;
    t.taxpayer = &p;
    t.n_objects = 2;
    t.objects = objs;
    t.total_grosze = 12584;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &t;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"kind\":\"KIND_PERSON\"");
    s_assert_contains(json, "\"name\":\"Zażółć Gęślą Jaźń\"");
    s_assert_contains(json, "\"objects\":[{\"kind\":\"grunt\"");
    Ratusz__V1__TaxAssessment *bt = back->tax;
    assert_non_null(bt->taxpayer);
    assert_string_equal(bt->taxpayer->address,
                        "ul. Piotrkowska 104, 90-926 Łódź");
    assert_int_equal(bt->n_objects, 2);
    assert_string_equal(bt->objects[1]->use, "mieszkalny");
    assert_true(bt->objects[0]->base_milli == 812500);
    assert_true(bt->total_grosze == 12584);
    free(json);
    rz_event_free(back);
}

static void test_json_gis_round_trip_map_and_bbox(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__GisFeature g = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry geo = RATUSZ__V1__GEOMETRY__INIT;
    Ratusz__V1__GisFeature__PropertiesEntry p1 =
        RATUSZ__V1__GIS_FEATURE__PROPERTIES_ENTRY__INIT;
    Ratusz__V1__GisFeature__PropertiesEntry p2 =
        RATUSZ__V1__GIS_FEATURE__PROPERTIES_ENTRY__INIT;
    Ratusz__V1__GisFeature__PropertiesEntry *props[] = {&p1, &p2};
    double bbox[] = {470123.25, 568001.5, 470200.75, 568100};
    s_envelope(&ev, "pl.gov.gmina.gis.parcel.updated.v1");
    geo.crs = "EPSG:2180";
    geo.type = "Polygon";
    geo.wkt = "POLYGON((470123.25 568001.5,470200.75 568001.5,"
              "470200.75 568100,470123.25 568001.5))";
    geo.n_bbox = 4;
    geo.bbox = bbox;
    p1.key = "obręb";
    p1.value = "Śródmieście-Wschód";
    p2.key = "gmina";
    p2.value = "Łódź";
    g.feature_id = "106101_1.0001.161/8";
    g.kind = "parcel";
    g.geometry = &geo;
    g.area = 0.0812;
    g.area_unit = "ha";
    g.n_properties = 2;
    g.properties = props;
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    ev.gis = &g;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"bbox\":[470123.25,568001.5,470200.75,568100.0]");
    s_assert_contains(json, "\"properties\":{\"obręb\":"
                            "\"Śródmieście-Wschód\",\"gmina\":\"Łódź\"}");
    assert_int_equal(back->gis->n_properties, 2);
    assert_string_equal(back->gis->properties[0]->key, "obręb");
    assert_string_equal(back->gis->properties[1]->value, "Łódź");
    assert_int_equal(back->gis->geometry->n_bbox, 4);
    assert_true(back->gis->geometry->bbox[3] == 568100);
    assert_true(back->gis->area == 0.0812);
    free(json);
    rz_event_free(back);
}

/* ---------------------------------------------------------------------------
 * Raw data
 */

static void test_json_raw_json_data_is_inline(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    const char *body = "{\"miasto\":\"Łódź\",\"pm10\":[12.5,null]}";
    s_envelope(&ev, "pl.gov.gmina.docs.letter.received.v1");
    raw.content_type = "application/json; charset=utf-8";
    raw.bytes.data = (uint8_t *)body;
    raw.bytes.len = strlen(body);
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json,
                      "\"data\":{\"miasto\":\"Łódź\",\"pm10\":[12.5,null]}");
    s_assert_contains(json, "\"datacontenttype\":"
                            "\"application/json; charset=utf-8\"");
    assert_null(strstr(json, "data_base64"));
    assert_null(strstr(json, "dataschema"));
    assert_int_equal(back->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(back->raw->content_type,
                        "application/json; charset=utf-8");
    assert_int_equal(back->raw->bytes.len, strlen(body));
    assert_memory_equal(back->raw->bytes.data, body, strlen(body));
    free(json);
    rz_event_free(back);

    /* data without a schema or a domain type is raw JSON text */
    Ratusz__V1__Event *e2 = s_parse(
        "{\"id\":\"x\",\"source\":\"/s\",\"type\":\"com.example.thing\","
        "\"data\":[1,2,{\"ą\":true}]}");
    assert_int_equal(e2->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(e2->raw->content_type, "application/json");
    assert_int_equal(e2->raw->bytes.len, strlen("[1,2,{\"ą\":true}]"));
    assert_memory_equal(e2->raw->bytes.data, "[1,2,{\"ą\":true}]",
                        e2->raw->bytes.len);
    rz_event_free(e2);
}

static void test_json_raw_binary_is_base64(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    uint8_t bytes[] = {0x00, 0x01, 0x02, 0xff, 0xfe, 'P', 'K'};
    s_envelope(&ev, "pl.gov.gmina.docs.scan.v1");
    raw.content_type = "application/pdf";
    raw.bytes.data = bytes;
    raw.bytes.len = sizeof bytes;
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;

    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"data_base64\":\"AAEC//5QSw==\"");
    s_assert_contains(json, "\"datacontenttype\":\"application/pdf\"");
    assert_int_equal(back->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_int_equal(back->raw->bytes.len, sizeof bytes);
    assert_memory_equal(back->raw->bytes.data, bytes, sizeof bytes);
    free(json);
    rz_event_free(back);

    /* JSON content type but bytes that are not JSON: still base64 */
    raw.content_type = "application/json";
    json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"data_base64\":\"AAEC//5QSw==\"");
    free(json);
    rz_event_free(back);

    /* url-safe alphabet and no padding are read too */
    back = s_parse("{\"id\":\"b\",\"source\":\"/s\",\"type\":\"t\","
                   "\"data_base64\":\"AAEC__5QSw\"}");
    assert_int_equal(back->raw->bytes.len, sizeof bytes);
    assert_memory_equal(back->raw->bytes.data, bytes, sizeof bytes);
    assert_string_equal(back->raw->content_type, "");
    rz_event_free(back);
}

static void test_json_text_data_with_content_type_is_raw_text(void **st)
{
    (void)st;
    Ratusz__V1__Event *ev = s_parse(
        "{\"id\":\"c\",\"source\":\"/s\","
        "\"type\":\"pl.gov.gmina.budget.csv.v1\","
        "\"datacontenttype\":\"text/csv\","
        "\"data\":\"dział;kwota\\n600;12,50\"}");
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(ev->raw->content_type, "text/csv");
    const char *want = "dział;kwota\n600;12,50";
    assert_int_equal(ev->raw->bytes.len, strlen(want));
    assert_memory_equal(ev->raw->bytes.data, want, strlen(want));
    rz_event_free(ev);
}

static void test_json_domain_type_takes_data_only_if_it_fits(void **st)
{
    (void)st;
    Ratusz__V1__Event *ev = s_parse(
        "{\"id\":\"d\",\"source\":\"/s\","
        "\"type\":\"pl.gov.gmina.budget.plan.v1\","
        "\"data\":{\"dzial\":\"801\",\"fiscalYear\":2025,\"stage\":1}}");
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_BUDGET);
    assert_string_equal(ev->budget->dzial, "801");
    assert_int_equal(ev->budget->fiscal_year, 2025);
    assert_int_equal(ev->budget->stage,
                     RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN);
    rz_event_free(ev);

    /* an env event that is not an air measurement stays raw JSON */
    ev = s_parse("{\"id\":\"w\",\"source\":\"/s\","
                 "\"type\":\"pl.gov.gmina.env.water.level.v1\","
                 "\"data\":{\"river\":\"Ner\",\"level_cm\":212}}");
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(ev->raw->content_type, "application/json");
    char *json = rz_event_to_json(ev);
    s_assert_contains(json, "\"data\":{\"river\":\"Ner\",\"level_cm\":212}");
    free(json);
    rz_event_free(ev);

    /* raw JSON that would read back as the domain message is written as
     * base64, so the event reads back as the same raw event */
    Ratusz__V1__Event raw_ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    s_envelope(&raw_ev, "pl.gov.gmina.budget.plan.v1");
    raw.content_type = "application/json";
    raw.bytes.data = (uint8_t *)"{\"dzial\":\"801\"}";
    raw.bytes.len = strlen("{\"dzial\":\"801\"}");
    raw_ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    raw_ev.raw = &raw;
    Ratusz__V1__Event *back = NULL;
    json = s_round_trip(&raw_ev, &back);
    s_assert_contains(json, "\"data_base64\":");
    assert_int_equal(back->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    free(json);
    rz_event_free(back);
}

/* ---------------------------------------------------------------------------
 * Attributes and time
 */

static void test_json_time_with_offset_becomes_utc_micros(void **st)
{
    (void)st;
    static const struct {
        const char *text;
        int64_t us;
    } cases[] = {
        {"2021-01-23T17:00:00+01:00", 1611417600000000LL},
        {"2021-01-23T16:00:00Z", 1611417600000000LL},
        {"2021-01-23t16:00:00z", 1611417600000000LL},
        {"2021-01-23T11:30:00.5-04:30", 1611417600500000LL},
        {"2021-01-23T16:00:00.123456789Z", 1611417600123456LL},
        {"2024-02-29T23:59:59+02:00", 1709243999000000LL},
        {"1969-12-31T23:59:59.999999Z", -1LL},
        {"1970-01-01T00:00:00.000001Z", 1LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"id\":\"t\",\"source\":\"/s\",\"type\":\"t\","
                 "\"time\":\"%s\"}",
                 cases[i].text);
        Ratusz__V1__Event *ev = s_parse(text);
        if (ev->time != cases[i].us)
            print_error("%s: got %lld\n", cases[i].text, (long long)ev->time);
        assert_true(ev->time == cases[i].us);
        rz_event_free(ev);
    }

    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    s_envelope(&ev, "t");
    ev.time = 1611417600500000LL;
    char *json = rz_event_to_json(&ev);
    s_assert_contains(json, "\"time\":\"2021-01-23T16:00:00.500000Z\"");
    free(json);
    ev.time = -1;
    json = rz_event_to_json(&ev);
    s_assert_contains(json, "\"time\":\"1969-12-31T23:59:59.999999Z\"");
    free(json);
}

static void test_json_broker_attributes_and_optional_ones(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    s_envelope(&ev, "pl.gov.gmina.test.v1");
    ev.seq = 12345678901ULL;
    ev.ingest_time = 1611417601000001LL;
    ev.principal = "adapter-besti";
    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"seq\":12345678901");
    s_assert_contains(json, "\"ingesttime\":\"2021-01-23T16:00:01.000001Z\"");
    s_assert_contains(json, "\"principal\":\"adapter-besti\"");
    s_assert_contains(json, "\"tenant\":\"1061011\"");
    assert_null(strstr(json, "subject")); /* empty: left out */
    assert_null(strstr(json, "\"data"));
    assert_true(back->seq == 12345678901ULL);
    assert_true(back->ingest_time == 1611417601000001LL);
    assert_string_equal(back->principal, "adapter-besti");
    free(json);
    rz_event_free(back);

    /* no specversion is fine; extension attributes are ignored */
    back = s_parse("{\"id\":\"i\",\"source\":\"/s\",\"type\":\"t\","
                   "\"traceparent\":\"00-abc\"}");
    assert_string_equal(back->id, "i");
    assert_string_equal(back->subject, "");
    assert_true(back->time == 0);
    rz_event_free(back);
}

/* ---------------------------------------------------------------------------
 * Errors
 */

/* ---------------------------------------------------------------------------
 * Times the schema marks (ratusz.v1.time): text people read, the same µs back
 */

/* The tax event's due date (TIME_DATE) as JSON and back. */
static char *s_due_date_json(int64_t due, int64_t *back_due)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment t = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    s_envelope(&ev, "pl.gov.gmina.tax.property.assessment.v1");
    t.document_id = "DN-1/2024/17";
    t.total_grosze = 434522;
    t.due_date = due;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &t;
    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    *back_due = back->tax->due_date;
    rz_event_free(back);
    return json;
}

static void test_json_due_date_prints_as_a_date_and_reads_back(void **st)
{
    (void)st;
    int64_t back = 0;
    /* 2024-03-15 00:00 in Warsaw (CET) is 2024-03-14T23:00:00Z */
    char *json = s_due_date_json(INT64_C(1710457200000000), &back);
    s_assert_contains(json, "\"due_date\":\"2024-03-15\"");
    assert_true(back == INT64_C(1710457200000000));
    /* the envelope's time and unmarked integers are as before */
    s_assert_contains(json, "\"time\":\"2021-01-23T16:00:00Z\"");
    s_assert_contains(json, "\"total_grosze\":434522");
    free(json);

    /* summer time: 2024-07-01 00:00 CEST is 2024-06-30T22:00:00Z */
    json = s_due_date_json(INT64_C(1719784800000000), &back);
    s_assert_contains(json, "\"due_date\":\"2024-07-01\"");
    assert_true(back == INT64_C(1719784800000000));
    free(json);

    /* not a midnight in Warsaw: a date would lose the hour */
    json = s_due_date_json(INT64_C(1710457200000001), &back);
    s_assert_contains(json, "\"due_date\":\"2024-03-14T23:00:00.000001Z\"");
    assert_true(back == INT64_C(1710457200000001));
    free(json);
    json = s_due_date_json(INT64_C(1710489600000000), &back);
    s_assert_contains(json, "\"due_date\":\"2024-03-15T08:00:00Z\"");
    assert_true(back == INT64_C(1710489600000000));
    free(json);

    /* a year RFC 3339 cannot hold stays an integer, and reads back */
    json = s_due_date_json(INT64_C(253402300800000000), &back);
    s_assert_contains(json, "\"due_date\":253402300800000000");
    assert_true(back == INT64_C(253402300800000000));
    free(json);
    json = s_due_date_json(INT64_C(-62167219200000001), &back);
    s_assert_contains(json, "\"due_date\":-62167219200000001");
    assert_true(back == INT64_C(-62167219200000001));
    free(json);
}

static void test_json_period_start_prints_rfc3339_and_reads_back(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__AirQualityMeasurement aq =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    s_envelope(&ev, "pl.gov.gmina.env.air.measurement.v1");
    aq.station_code = "PL0012A";
    aq.station_id = 114;
    aq.period_start = INT64_C(1611417600123456);
    aq.period_seconds = 3600;
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &aq;
    Ratusz__V1__Event *back = NULL;
    char *json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"period_start\":\"2021-01-23T16:00:00.123456Z\"");
    s_assert_contains(json, "\"station_id\":114");
    assert_true(back->air_quality->period_start == INT64_C(1611417600123456));
    free(json);
    rz_event_free(back);

    /* a midnight is still an instant for a TIME_INSTANT field */
    aq.period_start = INT64_C(1710457200000000);
    json = s_round_trip(&ev, &back);
    s_assert_contains(json, "\"period_start\":\"2024-03-14T23:00:00Z\"");
    free(json);
    rz_event_free(back);
}

static void test_json_marked_times_read_every_form(void **st)
{
    (void)st;
    static const struct {
        const char *data;
        int64_t due;
    } cases[] = {
        /* what older versions wrote, and the proto3 string form */
        {"{\"due_date\":1710457200000000}", INT64_C(1710457200000000)},
        {"{\"due_date\":\"1710457200000000\"}", INT64_C(1710457200000000)},
        {"{\"due_date\":-5}", -5},
        {"{\"due_date\":\"2024-03-15\"}", INT64_C(1710457200000000)},
        {"{\"due_date\":\"2024-03-14T23:00:00Z\"}", INT64_C(1710457200000000)},
        {"{\"due_date\":\"2024-03-15T00:00:00+01:00\"}",
         INT64_C(1710457200000000)},
        {"{\"due_date\":\"2024-03-15T08:00:00.5Z\"}",
         INT64_C(1710489600500000)},
        {"{\"dueDate\":\"2024-07-01\"}", INT64_C(1719784800000000)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                 "\"dataschema\":\"ratusz.v1.TaxAssessment\",\"data\":%s}",
                 cases[i].data);
        Ratusz__V1__Event *ev = s_parse(text);
        assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_TAX);
        if (ev->tax->due_date != cases[i].due)
            print_error("case %zu: %lld\n", i, (long long)ev->tax->due_date);
        assert_true(ev->tax->due_date == cases[i].due);
        rz_event_free(ev);
    }
    /* the air measurement's time in the sample's form (an integer) */
    Ratusz__V1__Event *ev =
        s_parse("{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                "\"dataschema\":\"ratusz.v1.AirQualityMeasurement\","
                "\"data\":{\"period_start\":1611187200000000}}");
    assert_true(ev->air_quality->period_start == INT64_C(1611187200000000));
    char *json = rz_event_to_json(ev);
    s_assert_contains(json, "\"period_start\":\"2021-01-21T00:00:00Z\"");
    free(json);
    rz_event_free(ev);
}

static void test_json_errors_name_the_problem(void **st)
{
    (void)st;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}",
         "missing attribute 'source'"},
        {"{\"source\":\"/s\",\"type\":\"t\"}", "missing attribute 'id'"},
        {"{\"id\":\"1\",\"source\":\"/s\"}", "missing attribute 'type'"},
        {"{\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}",
         "attribute 'id' is empty"},
        {"{\"id\":1,\"source\":\"/s\",\"type\":\"t\"}",
         "id: expected a string, got integer"},
        {"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\","
         "\"type\":\"t\"}",
         "specversion: unsupported '0.3'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"time\":\"yesterday\"}",
         "time: not RFC 3339: 'yesterday'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"time\":\"2021-02-29T00:00:00Z\"}",
         "time: not RFC 3339: '2021-02-29T00:00:00Z'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"time\":\"2021-01-23T16:00:00\"}",
         "time: not RFC 3339"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.BudgetEntry\",\"data\":{\"foo\":1}}",
         "data: unknown field 'foo' in ratusz.v1.BudgetEntry"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"objects\":[{\"kind\":\"grunt\"},{\"kind\":7}]}}",
         "data.objects[1].kind: expected a string, got integer"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"taxpayer\":{\"kind\":\"KIND_ALIEN\"}}}",
         "data.taxpayer.kind: unknown ratusz.v1.Party.Kind value 'KIND_ALIEN'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.BudgetEntry\","
         "\"data\":{\"fiscal_year\":3000000000}}",
         "data.fiscal_year: 3000000000 out of range"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.BudgetEntry\","
         "\"data\":{\"fiscal_year\":2024,\"fiscalYear\":2025}}",
         "data: field 'fiscal_year' given twice"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.GisFeature\","
         "\"data\":{\"properties\":{\"a\":1}}}",
         "data.properties.a: expected a string, got integer"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.AirQualityMeasurement\","
         "\"data\":[1]}",
         "data: expected an object for ratusz.v1.AirQualityMeasurement"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":1,"
         "\"data_base64\":\"AA==\"}",
         "both 'data' and 'data_base64' are set"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"data_base64\":\"A===\"}",
         "data_base64: not base64"},
        {"{\"id\":\"1\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"}",
         "duplicate object key"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"seq\":-1}",
         "seq: -1 out of range"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"due_date\":\"soon\"}}",
         "data.due_date: not an RFC 3339 time, a date or unix µs: 'soon'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"due_date\":\"2024-02-30\"}}",
         "data.due_date: no such date: '2024-02-30'"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"due_date\":\"-024-03-15\"}}",
         "data.due_date: not an RFC 3339 time, a date or unix µs"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.AirQualityMeasurement\","
         "\"data\":{\"period_start\":\"2021-01-23 16:00\"}}",
         "data.period_start: not an RFC 3339 time, a date or unix µs"},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.AirQualityMeasurement\","
         "\"data\":{\"period_start\":true}}",
         "data.period_start: expected an integer, got boolean"},
        /* an unmarked int64 reads no time text */
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"dataschema\":\"ratusz.v1.TaxAssessment\","
         "\"data\":{\"total_grosze\":\"2024-03-15\"}}",
         "data.total_grosze: not an integer: '2024-03-15'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        s_parse_fails(cases[i].text, strlen(cases[i].text), err, sizeof err);
        if (!strstr(err, cases[i].why))
            print_error("case %zu: want '%s', got '%s'\n", i, cases[i].why,
                        err);
        assert_non_null(strstr(err, cases[i].why));
    }
}

static void test_json_garbage_returns_error_without_crashing(void **st)
{
    (void)st;
    static const char *const texts[] = {
        "", "{", "}", "[]", "null", "42", "\"id\"", "{\"id\":}",
        "{\"id\":\"\xc3\x28\",\"source\":\"/s\",\"type\":\"t\"}",
        "{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"} trailing",
        "{\"id\":\"a\\u0000b\",\"source\":\"/s\",\"type\":\"t\"}",
    };
    char err[128];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        err[0] = '\0';
        s_parse_fails(texts[i], strlen(texts[i]), err, sizeof err);
    }
    /* binary with a NUL inside, and a length that stops mid-document */
    s_parse_fails("\xff\xfe\x00\x01", 4, err, sizeof err);
    s_parse_fails("{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", 20, err,
                  sizeof err);

    /* deep nesting in data: jansson's depth limit, not our stack */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 64);
    assert_non_null(deep);
    size_t o = (size_t)sprintf(
        deep, "{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":");
    memset(deep + o, '[', depth);
    memset(deep + o + depth, ']', depth);
    strcpy(deep + o + 2 * depth, "}");
    s_parse_fails(deep, strlen(deep), err, sizeof err);
    free(deep);

    /* a tiny error buffer is still NUL-terminated */
    char tiny[4] = "xxx";
    Ratusz__V1__Event *ev = NULL;
    assert_true(rz_event_from_json("{", 1, &ev, tiny, sizeof tiny) < 0);
    assert_int_equal(strlen(tiny), 3);
    assert_true(rz_event_from_json("{", 1, &ev, NULL, 0) < 0);
    assert_null(rz_event_to_json(NULL));
    rz_event_free(NULL);
}

/* An event from another producer may carry bytes that are not UTF-8: they
 * print as U+FFFD instead of failing the whole line. */
static void test_json_invalid_utf8_from_protobuf_is_replaced(void **st)
{
    (void)st;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    s_envelope(&ev, "t");
    ev.subject = "dzia\xb3ka"; /* Windows-1250 "działka" */
    char *json = rz_event_to_json(&ev);
    assert_non_null(json);
    s_assert_contains(json, "\"subject\":\"dzia\xef\xbf\xbdka\"");
    free(json);
}

/* ---------------------------------------------------------------------------
 * Generic message JSON
 */

static void test_json_message_to_json_renders_stats(void **st)
{
    (void)st;
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    Ratusz__V1__Health h = RATUSZ__V1__HEALTH__INIT;
    Ratusz__V1__Counter c = RATUSZ__V1__COUNTER__INIT;
    Ratusz__V1__Counter *cs[] = {&c};
    Ratusz__V1__Histogram lat = RATUSZ__V1__HISTOGRAM__INIT;
    double bounds[] = {100, 1000, NAN};
    uint64_t counts[] = {5, 0, 1};
    h.status = "ok";
    h.version = "0.1.0";
    h.protocol = 1;
    h.head_seq = 18446744073709551615ULL;
    c.tenant = "1061011";
    c.domain = "env";
    c.events_in = 10;
    c.rate1 = 0.25;
    lat.name = "commit_latency_us";
    lat.n_bounds = 3;
    lat.bounds = bounds;
    lat.n_counts = 3;
    lat.counts = counts;
    s.health = &h;
    s.n_counters = 1;
    s.counters = cs;
    s.commit_latency_us = &lat;
    s.store_bytes = 4096;

    char *json = rz_message_to_json(&s.base);
    assert_non_null(json);
    s_assert_contains(json, "\"health\":{\"status\":\"ok\","
                            "\"version\":\"0.1.0\",\"protocol\":1,"
                            "\"head_seq\":\"18446744073709551615\"}");
    s_assert_contains(json, "\"counters\":[{\"tenant\":\"1061011\",\"domain\":"
                            "\"env\",\"events_in\":10,\"rate1\":0.25}]");
    s_assert_contains(json, "\"bounds\":[100.0,1000.0,\"NaN\"]");
    s_assert_contains(json, "\"counts\":[5,0,1]");
    s_assert_contains(json, "\"store_bytes\":4096");
    assert_null(strstr(json, "batch_size"));
    free(json);
    assert_null(rz_message_to_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_budget_round_trip_keeps_diacritics),
        cmocka_unit_test(test_json_money_int64_extremes_are_exact),
        cmocka_unit_test(test_json_air_quality_round_trip),
        cmocka_unit_test(test_json_air_value_null_is_unset_and_zero_is_set),
        cmocka_unit_test(test_json_tax_round_trip_nested_and_repeated),
        cmocka_unit_test(test_json_gis_round_trip_map_and_bbox),
        cmocka_unit_test(test_json_raw_json_data_is_inline),
        cmocka_unit_test(test_json_raw_binary_is_base64),
        cmocka_unit_test(test_json_text_data_with_content_type_is_raw_text),
        cmocka_unit_test(test_json_domain_type_takes_data_only_if_it_fits),
        cmocka_unit_test(test_json_time_with_offset_becomes_utc_micros),
        cmocka_unit_test(test_json_broker_attributes_and_optional_ones),
        cmocka_unit_test(test_json_due_date_prints_as_a_date_and_reads_back),
        cmocka_unit_test(test_json_period_start_prints_rfc3339_and_reads_back),
        cmocka_unit_test(test_json_marked_times_read_every_form),
        cmocka_unit_test(test_json_errors_name_the_problem),
        cmocka_unit_test(test_json_garbage_returns_error_without_crashing),
        cmocka_unit_test(test_json_invalid_utf8_from_protobuf_is_replaced),
        cmocka_unit_test(test_json_message_to_json_renders_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
