/* test_ndjson.c - the ndjson module's parse, driven with an rz_out_t that
 * collects what it reports */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ndjson.h"
#include "ratusz/adapter.h"

typedef struct got {
    rz_out_t out;
    int events, quarantined;
    char ids[16][RZ_ID_MAX + 1];
    char sources[16][64];
    char tenants[16][8];
    char subjects[16][64];
    int64_t times[16];
    uint64_t ev_lines[16];
    uint64_t q_lines[16];
    char q_keys[16][32];
    char q_bytes[16][128];
    char reasons[16][256];
} got_t;

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    got_t *g = out->user;
    int i = g->events++;
    snprintf(g->ids[i], sizeof g->ids[i], "%s", ev->id);
    snprintf(g->sources[i], sizeof g->sources[i], "%s", ev->source);
    snprintf(g->tenants[i], sizeof g->tenants[i], "%s", ev->tenant);
    snprintf(g->subjects[i], sizeof g->subjects[i], "%s", ev->subject);
    g->times[i] = ev->time;
    g->ev_lines[i] = ref->line;
    return 0;
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    got_t *g = out->user;
    int i = g->quarantined++;
    g->q_lines[i] = ref->line;
    snprintf(g->q_keys[i], sizeof g->q_keys[i], "%s", ref->key);
    snprintf(g->q_bytes[i], sizeof g->q_bytes[i], "%.*s", (int)ref->len,
             (const char *)ref->bytes);
    snprintf(g->reasons[i], sizeof g->reasons[i], "%s", reason);
    return 0;
}

static int s_parse(const char *text, size_t len, int partial,
                   uint64_t first_line, const char *tenant, got_t *g,
                   char *err, size_t err_len)
{
    memset(g, 0, sizeof *g);
    g->out.event = s_event;
    g->out.quarantine = s_quarantine;
    g->out.user = g;
    const rz_adapter_module_t *m = &rz_module_ndjson;
    rz_ndjson_conf_t conf;
    memset(&conf, 0, sizeof conf);
    assert_int_equal(rz_conf_init(m->options, &conf), 0);
    if (tenant) {
        free(conf.default_tenant);
        conf.default_tenant = strdup(tenant);
    }
    void *state = NULL;
    assert_int_equal(m->open(&state, &conf, err, err_len), 0);
    rz_input_t in = {"/srv/drop/x.ndjson", "x.ndjson", (const uint8_t *)text,
                     len, NULL,
                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                     partial, first_line, 0};
    int rc = m->parse(state, &in, &g->out, err, err_len);
    if (m->close)
        m->close(state);
    rz_conf_close(m->options, &conf);
    return rc;
}

#define EV(id, extra)                                                       \
    "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"/1261011/b/x\"," \
    "\"type\":\"pl.gov.gmina.budget.test.v1\",\"tenant\":\"1261011\""       \
    extra "}"

static void test_every_line_is_one_event_or_one_quarantined_record(void **s)
{
    const char text[] =
        "\xef\xbb\xbf" EV("a-1", ",\"subject\":\"unit:Kraków\","
                                 "\"time\":\"2024-03-31T01:30:00+02:00\"")
        "\r\n"
        "\r\n"                     /* blank: not a record */
        "{\"id\": \"broken\"\r\n"  /* cut mid-object */
        "[1,2,3]\n"                /* JSON, but not an object */
        EV("a-2", "") "\n"
        "   \n"
        "{\"id\":\"b\",\"source\":\"/x\"}\n" /* no type */
        EV("a-3", "");                        /* no newline at the end */
    got_t g;
    char err[256] = "";
    assert_int_equal(s_parse(text, sizeof text - 1, 0, 0, NULL, &g, err,
                             sizeof err),
                     0);
    assert_int_equal(g.events, 3);
    assert_int_equal(g.quarantined, 3);
    assert_string_equal(g.ids[0], "a-1");
    assert_string_equal(g.subjects[0], "unit:Kraków");
    /* 01:30 in Warsaw's summer time is 23:30 UTC the day before */
    assert_int_equal(g.times[0], INT64_C(1711841400000000));
    assert_int_equal(g.ev_lines[0], 1);
    assert_int_equal(g.ev_lines[1], 5);
    assert_int_equal(g.ev_lines[2], 8);
    assert_string_equal(g.ids[2], "a-3");
    assert_int_equal(g.q_lines[0], 3);
    assert_string_equal(g.q_keys[0], "line 3");
    /* the original bytes, CR included */
    assert_string_equal(g.q_bytes[0], "{\"id\": \"broken\"\r");
    assert_non_null(strstr(g.reasons[0], "not JSON"));
    assert_int_equal(g.q_lines[1], 4);
    assert_string_equal(g.reasons[1], "not a JSON object");
    assert_int_equal(g.q_lines[2], 7);
    assert_string_equal(g.reasons[2],
                        "not a CloudEvent: missing attribute 'type'");
}

static void test_missing_id_and_source_are_derived(void **s)
{
    const char text[] =
        "{\"type\":\"pl.gov.gmina.env.test.v1\",\"subject\":\"station:117\"}\n"
        "{\"type\":\"pl.gov.gmina.env.test.v1\",\"tenant\":\"0201011\"}\n";
    got_t g;
    char err[256];
    assert_int_equal(s_parse(text, sizeof text - 1, 1, 41, "1465011", &g, err,
                             sizeof err),
                     0);
    assert_int_equal(g.events, 2);
    /* stable: the input's content id and the line (a tailed chunk goes on
     * from line 41) */
    assert_string_equal(g.ids[0], "ndjson:0123456789abcdef:line 41");
    assert_string_equal(g.ids[1], "ndjson:0123456789abcdef:line 42");
    /* left empty for the runtime to fill */
    assert_string_equal(g.sources[0], "");
    assert_string_equal(g.tenants[0], "1465011");
    assert_string_equal(g.tenants[1], "0201011");
}

static void test_binary_input_is_refused_whole(void **s)
{
    const char text[] = EV("a-1", "") "\n\0\x01\x02";
    got_t g;
    char err[256] = "";
    assert_int_equal(s_parse(text, sizeof text - 1, 0, 0, NULL, &g, err,
                             sizeof err),
                     RZ_EINVAL);
    assert_int_equal(g.events + g.quarantined, 0);
    assert_string_equal(err, "binary data (a NUL byte at offset 113): not "
                             "NDJSON");
}

static void test_empty_input_has_no_records(void **s)
{
    got_t g;
    char err[256];
    assert_int_equal(s_parse("", 0, 0, 0, NULL, &g, err, sizeof err), 0);
    assert_int_equal(g.events + g.quarantined, 0);
    assert_int_equal(s_parse("\n\r\n  \n", 6, 0, 0, NULL, &g, err, sizeof err),
                     0);
    assert_int_equal(g.events + g.quarantined, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_line_is_one_event_or_one_quarantined_record),
        cmocka_unit_test(test_missing_id_and_source_are_derived),
        cmocka_unit_test(test_binary_input_is_refused_whole),
        cmocka_unit_test(test_empty_input_has_no_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
