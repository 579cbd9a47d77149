/* test_metrics.c - /metrics (Prometheus text) and /healthz over HTTP */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PROMTOOL "/usr/bin/promtool"
#define BODY_MAX (1 << 20)

#define BESTI "/1261011/budget/besti"
#define GIOS "/2211011/env/gios"

/* The value of the series whose text (name and labels) is exactly
 * `series`, or -1 when there is no such line. */
static double s_value(const char *body, const char *series)
{
    size_t n = strlen(series);
    const char *p = body;
    while (p && *p) {
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static void s_budget(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
                     const char *id)
{
    /* a fixed time: a republish is the same event, a duplicate (with
     * other content it would be a conflict) */
    rzt_event(ev, be, BESTI, id, "unit:1", INT64_C(1717200000000000), 100);
}

static void s_air(Ratusz__V1__Event *ev, Ratusz__V1__AirQualityMeasurement *m,
                  const char *id)
{
    ratusz__v1__event__init(ev);
    ratusz__v1__air_quality_measurement__init(m);
    ev->id = (char *)id;
    ev->source = GIOS;
    ev->type = "pl.gov.gmina.env.air_quality.v1";
    ev->subject = "station:PmGdaLeczkow";
    ev->tenant = "2211011";
    ev->time = rz_now_us();
    m->station_code = "PmGdaLeczkow";
    m->parameter = "PM10";
    m->measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
    m->value = 31.5;
    m->unit = "ug/m3";
    ev->data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev->air_quality = m;
}

/* The text passes promtool's format check (when promtool is here). */
static void s_promtool(const char *body)
{
    if (access(PROMTOOL, X_OK) == 0) {
        char dir[256], path[300], cmd[400], out[4096];
        assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
        snprintf(path, sizeof path, "%s/metrics.txt", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(body, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s 2>&1", path);
        int rc = rzt_run(cmd, out, sizeof out);
        if (rc != 0)
            fail_msg("promtool check metrics: exit %d\n%s", rc, out);
        rzt_rmtree(dir);
    } else {
        fprintf(stderr,
                "note: %s not found, Prometheus format not checked "
                "with promtool\n",
                PROMTOOL);
    }
}

static void
test_metrics_counts_events_per_tenant_domain_and_source(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 64, 4);
    char *body = malloc(BODY_MAX);

    /* before anything: the broker is up, nothing counted */
    assert_int_equal(rzt_http_get(b->metrics, "/metrics", body, BODY_MAX), 200);
    assert_true(s_value(body, "ratusz_up") == 1);
    assert_true(s_value(body, "ratusz_events_stored_total") == 0);

    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    Ratusz__V1__AirQualityMeasurement air;
    char id[32];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        s_budget(&ev, &be, id);
        assert_int_equal(rzt_publish_sync(c, &ev, NULL), 0);
    }
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "a-%d", i);
        s_air(&ev, &air, id);
        assert_int_equal(rzt_publish_sync(c, &ev, NULL), 0);
    }
    /* duplicates are not new events; invalid ones are refusals */
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        s_budget(&ev, &be, id);
        assert_int_equal(rzt_publish_sync(c, &ev, NULL), 0);
    }
    s_budget(&ev, &be, "bad");
    ev.tenant = "0";
    uint8_t buf[512];
    size_t len = ratusz__v1__event__pack(&ev, buf);
    assert_int_equal(rz_publish_raw(c, buf, len, NULL), 0);
    assert_int_equal(rz_publish_raw(c, buf, len, NULL), 0);
    assert_int_equal(rz_flush(c, 10000), 0);

    assert_int_equal(rzt_http_get(b->metrics, "/metrics", body, BODY_MAX), 200);
    double budget = s_value(
        body, "ratusz_events_in_total{tenant=\"1261011\",domain=\"budget\","
              "source=\"" BESTI "\"}");
    double env = s_value(
        body, "ratusz_events_in_total{tenant=\"2211011\",domain=\"env\","
              "source=\"" GIOS "\"}");
    if (budget != 30 || env != 12)
        fail_msg("events_in: budget %g (want 30), env %g (want 12)\n%s", budget,
                 env, body);
    assert_true(s_value(body, "ratusz_events_stored_total") == 42);
    assert_true(s_value(body, "ratusz_head_seq") == 42);
    assert_true(
        s_value(body, "ratusz_rejected_total{reason=\"RZ_EINVALEVENT\"}") == 2);
    assert_true(s_value(body, "ratusz_health_status{status=\"ok\"}") == 1);
    assert_non_null(strstr(body, "# TYPE ratusz_events_in_total counter\n"));
    /* one series per (tenant, domain, source): no third one */
    size_t series = 0;
    for (const char *p = body; (p = strstr(p, "\nratusz_events_in_total{"));
         p++)
        series++;
    assert_int_equal(series, 2);

    s_promtool(body);
    free(body);
    rz_client_destroy(&c);
}

static void test_metrics_healthz_says_ok(void **state)
{
    rzt_broker_t *b = *state;
    char body[256];
    assert_int_equal(rzt_http_get(b->metrics, "/healthz", body, sizeof body),
                     200);
    assert_string_equal(body, "ok\n");
    assert_int_equal(rzt_http_get(b->metrics, "/nope", body, sizeof body), 404);
}

/* An adapter reporting its state: kept by name, shown by STATS, /metrics
 * and `ratusz stats`; a malformed report is refused with a reason. */
static void test_metrics_components_report_their_state(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 64, 1);
    Ratusz__V1__Metric read = RATUSZ__V1__METRIC__INIT,
                       queued = RATUSZ__V1__METRIC__INIT;
    Ratusz__V1__Metric *metrics[] = {&read, &queued};
    read.name = "records_read";
    read.value = 5354;
    read.counter = 1;
    read.help = "Records read from every input.";
    queued.name = "outbox_depth";
    queued.value = 17;
    Ratusz__V1__Component comp = RATUSZ__V1__COMPONENT__INIT;
    comp.name = "adapter/budget";
    comp.kind = "adapter";
    comp.status = "ok";
    comp.detail = "drop folder /srv/drop/budget";
    comp.n_metrics = 2;
    comp.metrics = metrics;
    int64_t before = rz_now_us();
    assert_int_equal(rz_report(c, &comp), 0);
    /* the latest report replaces the previous one */
    read.value = 6000;
    assert_int_equal(rz_report(c, &comp), 0);

    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    assert_int_equal(st->n_components, 1);
    const Ratusz__V1__Component *got = st->components[0];
    assert_string_equal(got->name, "adapter/budget");
    assert_string_equal(got->detail, "drop folder /srv/drop/budget");
    assert_true(got->reported >= before && got->reported <= rz_now_us());
    assert_int_equal(got->n_metrics, 2);
    assert_true(got->metrics[0]->value == 6000);
    ratusz__v1__stats__free_unpacked(st, NULL);

    char *body = malloc(BODY_MAX);
    assert_int_equal(rzt_http_get(b->metrics, "/metrics", body, BODY_MAX), 200);
    assert_true(s_value(body, "ratusz_component_records_read_total{component="
                              "\"adapter/budget\",kind=\"adapter\"}") == 6000);
    assert_true(s_value(body, "ratusz_component_outbox_depth{component="
                              "\"adapter/budget\",kind=\"adapter\"}") == 17);
    assert_non_null(
        strstr(body, "# TYPE ratusz_component_records_read_total counter\n"));
    s_promtool(body);
    free(body);

    /* a metric name Prometheus could not carry is refused, by name */
    read.name = "Records Read";
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);
    read.name = "records_read";
    comp.name = "";
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);

    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "%s stats -e %s 2>&1", RZ_RATUSZ_CLI, b->front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "adapter/budget") || !strstr(out, "records_read 6") ||
        !strstr(out, "drop folder /srv/drop/budget"))
        fail_msg("ratusz stats does not show the component:\n%s", out);
    rz_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_metrics_counts_events_per_tenant_domain_and_source),
        cmocka_unit_test(test_metrics_healthz_says_ok),
        cmocka_unit_test(test_metrics_components_report_their_state),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
