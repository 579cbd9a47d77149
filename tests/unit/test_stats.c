/* test_stats.c - counters, rates, histograms, Prometheus text, and the
 * metrics HTTP server */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "metrics.h"
#include "ratusz/errors.h"
#include "stats.h"

#define S_T0 INT64_C(1700000000000000) /* some unix µs */

static void s_in(rz_stats_t *st, const char *tenant, const char *domain,
                 const char *source, int64_t now)
{
    rz_stats_event_in(st, tenant, strlen(tenant), domain, strlen(domain),
                      source, strlen(source), 1, now);
}

static void s_out(rz_stats_t *st, const char *tenant, const char *domain,
                  const char *source)
{
    rz_stats_event_out(st, tenant, strlen(tenant), domain, strlen(domain),
                       source, strlen(source), 1);
}

static void s_near(double got, double want, double eps, const char *what)
{
    if (fabs(got - want) > eps) {
        print_error("%s: got %.12g, want %.12g (+-%g)\n", what, got, want, eps);
        fail();
    }
}

static const Ratusz__V1__Counter *s_counter(const Ratusz__V1__Stats *s,
                                            const char *source)
{
    for (size_t i = 0; i < s->n_counters; i++)
        if (strcmp(s->counters[i]->source, source) == 0)
            return s->counters[i];
    return NULL;
}

/* ===========================================================================
 * Counters and rates
 */

static void test_stats_counts_events_per_tenant_domain_source(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    assert_non_null(st);
    /* views, not NUL-terminated: only the given length counts */
    const char *buf = "1261011budget/1261011/budget/bestiXXXX";
    for (int i = 0; i < 3; i++)
        rz_stats_event_in(st, buf, 7, buf + 7, 6, buf + 13, 21, 1, S_T0 + i);
    s_in(st, "1261011", "env", "/1261011/env/wios", S_T0 + 10);
    s_in(st, "0201011", "budget", "/0201011/budget/besti", S_T0 + 5);
    s_out(st, "1261011", "budget", "/1261011/budget/besti");
    s_out(st, "1261011", "gis", "/1261011/gis/ewid"); /* out only */
    rz_stats_read(st, 10);
    rz_stats_request(st);
    rz_stats_request(st);
    rz_stats_set_subscribers(st, 4);

    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    assert_int_equal(s.n_counters, 4);
    /* sorted by tenant, domain, source */
    assert_string_equal(s.counters[0]->tenant, "0201011");
    assert_string_equal(s.counters[1]->domain, "budget");
    assert_string_equal(s.counters[2]->domain, "env");
    assert_string_equal(s.counters[3]->domain, "gis");

    const Ratusz__V1__Counter *c = s_counter(&s, "/1261011/budget/besti");
    assert_non_null(c);
    assert_string_equal(c->tenant, "1261011");
    assert_int_equal(c->events_in, 3);
    assert_int_equal(c->events_out, 1);
    assert_true(c->last_event == S_T0 + 2);
    c = s_counter(&s, "/1261011/gis/ewid");
    assert_int_equal(c->events_in, 0);
    assert_int_equal(c->events_out, 1);
    assert_true(c->last_event == 0);

    assert_int_equal(s.events_total, 5);
    assert_int_equal(s.events_out_total, 2 + 10);
    assert_int_equal(s.requests_total, 2);
    assert_int_equal(s.subscribers, 4);
    assert_int_equal(s.commits_total, 0);
    assert_null(s.health);
    rz_stats_snapshot_free(&s);
    assert_null(s.counters);
    rz_stats_snapshot_free(&s); /* safe twice */
    rz_stats_destroy(&st);
    assert_null(st);
    rz_stats_destroy(&st);
}

/* 10 events/s, ticked every 5 s: the rates climb as the load average does,
 * and decay once the source goes quiet. */
static void test_stats_rates_follow_load_average(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    int64_t now = S_T0;
    rz_stats_tick(st, now);
    for (int t = 0; t < 12; t++) { /* one minute */
        for (int i = 0; i < 50; i++)
            s_in(st, "1261011", "env", "/s", now);
        now += RZ_STATS_TICK_US;
        rz_stats_tick(st, now);
    }
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    const Ratusz__V1__Counter *c = s.counters[0];
    s_near(c->rate1, 10 * (1 - exp(-1.0)), 1e-9, "rate1 after 1 min");
    s_near(c->rate5, 10 * (1 - exp(-60.0 / 300)), 1e-9, "rate5 after 1 min");
    s_near(c->rate15, 10 * (1 - exp(-60.0 / 900)), 1e-9, "rate15 after 1 min");
    rz_stats_snapshot_free(&s);

    for (int t = 0; t < 12 * 60; t++) { /* an hour more: converged */
        for (int i = 0; i < 50; i++)
            s_in(st, "1261011", "env", "/s", now);
        now += RZ_STATS_TICK_US;
        rz_stats_tick(st, now);
    }
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    s_near(s.counters[0]->rate1, 10, 1e-6, "rate1 converged");
    s_near(s.counters[0]->rate15, 10 * (1 - exp(-3660.0 / 900)), 1e-6,
           "rate15 after 61 min");
    rz_stats_snapshot_free(&s);

    for (int t = 0; t < 12 * 5; t++) { /* five quiet minutes */
        now += RZ_STATS_TICK_US;
        rz_stats_tick(st, now);
    }
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    assert_true(s.counters[0]->rate1 < 0.1);
    assert_true(s.counters[0]->rate5 > 3 && s.counters[0]->rate5 < 4);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

/* A tick that comes a minute late counts the whole minute: the same rates
 * as twelve punctual ticks at a constant rate. */
static void test_stats_late_tick_uses_elapsed_time(void **state)
{
    (void)state;
    rz_stats_t *a = rz_stats_new(), *b = rz_stats_new();
    int64_t now = S_T0;
    rz_stats_tick(a, now);
    rz_stats_tick(b, now);
    for (int t = 0; t < 12; t++) {
        for (int i = 0; i < 50; i++) {
            s_in(a, "1", "d", "s", now);
            s_in(b, "1", "d", "s", now);
        }
        now += RZ_STATS_TICK_US;
        rz_stats_tick(a, now);
    }
    rz_stats_tick(b, now);

    Ratusz__V1__Stats sa = RATUSZ__V1__STATS__INIT,
                      sb = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(a, &sa), 0);
    assert_int_equal(rz_stats_snapshot(b, &sb), 0);
    s_near(sb.counters[0]->rate1, sa.counters[0]->rate1, 1e-9, "rate1");
    s_near(sb.counters[0]->rate5, sa.counters[0]->rate5, 1e-9, "rate5");
    s_near(sb.counters[0]->rate15, sa.counters[0]->rate15, 1e-9, "rate15");

    /* a clock that steps back changes nothing and loses no events */
    rz_stats_tick(b, now - 1000000);
    rz_stats_snapshot_free(&sb);
    assert_int_equal(rz_stats_snapshot(b, &sb), 0);
    s_near(sb.counters[0]->rate1, sa.counters[0]->rate1, 1e-9, "after step");
    rz_stats_snapshot_free(&sa);
    rz_stats_snapshot_free(&sb);
    rz_stats_destroy(&a);
    rz_stats_destroy(&b);
}

/* ===========================================================================
 * Histograms
 */

static void test_stats_quantiles_from_histogram(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    for (int i = 0; i < 90; i++)
        rz_stats_commit(st, 100, 1);
    for (int i = 0; i < 10; i++)
        rz_stats_commit(st, 5000, 1000);

    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    const Ratusz__V1__Histogram *h = s.commit_latency_us;
    assert_non_null(h);
    assert_string_equal(h->name, "commit_latency_us");
    assert_int_equal(h->n_bounds, h->n_counts);
    assert_true(isinf(h->bounds[h->n_bounds - 1]));
    for (size_t i = 1; i < h->n_bounds; i++)
        assert_true(h->bounds[i] > h->bounds[i - 1]);
    assert_int_equal(h->count, 100);
    s_near(h->sum, 90 * 100 + 10 * 5000, 1e-9, "latency sum");
    uint64_t total = 0;
    for (size_t i = 0; i < h->n_counts; i++) {
        total += h->counts[i];
        if (h->bounds[i] == 100)
            assert_int_equal(h->counts[i], 90);
        if (h->bounds[i] == 5000)
            assert_int_equal(h->counts[i], 10);
    }
    assert_int_equal(total, 100);
    /* p50 falls among the 90 at 100 µs; p99 in the (2000, 5000] bucket */
    s_near(h->p50, 100, 1e-9, "p50");
    assert_true(h->p99 > 2000 && h->p99 <= 5000);

    const Ratusz__V1__Histogram *b = s.batch_size;
    assert_string_equal(b->name, "batch_size");
    assert_int_equal(b->count, 100);
    s_near(b->p50, 1, 1e-9, "batch p50");
    assert_true(b->p99 > 512 && b->p99 <= 1000);
    assert_int_equal(s.commits_total, 100);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

static void test_stats_quantile_of_identical_values_is_that_value(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;

    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    s_near(s.commit_latency_us->p99, 0, 0, "empty p99");
    rz_stats_snapshot_free(&s);

    for (int i = 0; i < 7; i++)
        rz_stats_commit(st, 3, 3);
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    s_near(s.commit_latency_us->p50, 3, 1e-9, "p50 of 3s");
    s_near(s.commit_latency_us->p99, 3, 1e-9, "p99 of 3s");
    s_near(s.batch_size->p50, 3, 1e-9, "batch p50");
    rz_stats_snapshot_free(&s);

    rz_stats_commit(st, 60000000, 100000); /* past the last bounds */
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    /* the +Inf bucket tops out at the largest value seen */
    assert_true(s.commit_latency_us->p99 > 1e7 &&
                s.commit_latency_us->p99 <= 6e7);
    assert_true(s.batch_size->p99 > 65536 && s.batch_size->p99 <= 100000);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

static void test_stats_rejections_counted_by_error_name(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    rz_stats_reject(st, RZ_EINVALEVENT);
    rz_stats_reject(st, RZ_ETOOBIG);
    rz_stats_reject(st, RZ_EINVALEVENT);
    rz_stats_reject(st, -31999); /* not in the table */
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    assert_int_equal(s.n_rejected, 3);
    /* sorted by name */
    assert_string_equal(s.rejected[0]->reason, "RZ_E?");
    assert_string_equal(s.rejected[1]->reason, "RZ_EINVALEVENT");
    assert_int_equal(s.rejected[1]->count, 2);
    assert_string_equal(s.rejected[2]->reason, "RZ_ETOOBIG");
    assert_int_equal(s.rejected[2]->count, 1);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

static void test_stats_series_are_capped_into_other(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    char src[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(src, sizeof src, "/1/x/%d", i);
        s_in(st, "1", "x", src, S_T0);
    }
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    assert_true(s.n_counters <= 4097);
    const Ratusz__V1__Counter *other = s_counter(&s, "_other");
    assert_non_null(other);
    uint64_t sum = 0;
    for (size_t i = 0; i < s.n_counters; i++)
        sum += s.counters[i]->events_in;
    assert_int_equal(sum, 5000);
    assert_int_equal(s.events_total, 5000);
    assert_int_equal(other->events_in, 5000 - (s.n_counters - 1));
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

struct s_hammer {
    rz_stats_t *st;
    int id;
};

static void *s_hammer_run(void *arg)
{
    struct s_hammer *h = arg;
    char src[16];
    snprintf(src, sizeof src, "/t/%d", h->id % 2);
    for (int i = 0; i < 20000; i++) {
        s_in(h->st, "1261011", "env", src, S_T0 + i);
        if (i % 100 == 0) {
            rz_stats_commit(h->st, (uint64_t)i, 100);
            rz_stats_tick(h->st, S_T0 + i * 1000);
        }
    }
    return NULL;
}

static void test_stats_concurrent_updates_are_all_counted(void **state)
{
    (void)state;
    rz_stats_t *st = rz_stats_new();
    pthread_t th[4];
    struct s_hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct s_hammer){st, i};
        assert_int_equal(pthread_create(&th[i], NULL, s_hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 20; i++) { /* a scraper meanwhile */
        Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
        assert_int_equal(rz_stats_snapshot(st, &s), 0);
        free(rz_stats_prometheus(&s));
        rz_stats_snapshot_free(&s);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    Ratusz__V1__Stats s = RATUSZ__V1__STATS__INIT;
    assert_int_equal(rz_stats_snapshot(st, &s), 0);
    assert_int_equal(s.n_counters, 2);
    assert_int_equal(s.counters[0]->events_in + s.counters[1]->events_in,
                     80000);
    assert_int_equal(s.commits_total, 800);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

/* ===========================================================================
 * Prometheus text
 */

/* A Stats message with every part set, labels that need escaping, and
 * Polish and broken UTF-8. Free with s_full_free. */
static rz_stats_t *s_full(Ratusz__V1__Stats *s, Ratusz__V1__Health *health,
                          Ratusz__V1__ConsumerGroup *groups,
                          Ratusz__V1__ConsumerGroup **gp)
{
    rz_stats_t *st = rz_stats_new();
    assert_non_null(st);
    int64_t now = S_T0;
    rz_stats_tick(st, now);
    for (int i = 0; i < 3; i++)
        s_in(st, "1261011", "budget", "/1261011/budget/besti", now);
    s_in(st, "1261011", "env", "Łódź – stacja \"PL0012A\"", now);
    s_in(st, "1261011", "gis", "back\\slash\nnew line", now);
    s_in(st, "1261011", "tax", "bad \xff\xfe utf8 \xc3", now);
    s_out(st, "1261011", "budget", "/1261011/budget/besti");
    rz_stats_tick(st, now + RZ_STATS_TICK_US);
    rz_stats_commit(st, 180, 3);
    rz_stats_commit(st, 4200, 2);
    rz_stats_commit(st, 20000000, 1);
    rz_stats_reject(st, RZ_EINVALEVENT);
    rz_stats_reject(st, RZ_ETOOBIG);
    rz_stats_request(st);
    rz_stats_set_subscribers(st, 2);

    ratusz__v1__stats__init(s);
    assert_int_equal(rz_stats_snapshot(st, s), 0);
    ratusz__v1__health__init(health);
    health->status = (char *)"ok";
    health->version = (char *)"0.1.0";
    health->protocol = 1;
    health->head_seq = 6;
    health->uptime_us = 12500000;
    s->health = health;
    ratusz__v1__consumer_group__init(&groups[0]);
    groups[0].name = (char *)"gis-sync";
    groups[0].committed_seq = 4;
    groups[0].lag = 2;
    groups[0].updated = now;
    ratusz__v1__consumer_group__init(&groups[1]);
    groups[1].name = (char *)"księgowość \"main\"";
    gp[0] = &groups[0];
    gp[1] = &groups[1];
    s->consumers = gp;
    s->n_consumers = 2;
    s->store_bytes = 1 << 20;
    s->map_bytes = 256 << 20;
    return st;
}

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_stats_prometheus_renders_every_family_once(void **state)
{
    (void)state;
    Ratusz__V1__Stats s;
    Ratusz__V1__Health health;
    Ratusz__V1__ConsumerGroup groups[2], *gp[2];
    rz_stats_t *st = s_full(&s, &health, groups, gp);
    char *text = rz_stats_prometheus(&s);
    assert_non_null(text);

    static const char *families[] = {
        "ratusz_up gauge",
        "ratusz_build_info gauge",
        "ratusz_health_status gauge",
        "ratusz_uptime_seconds gauge",
        "ratusz_head_seq gauge",
        "ratusz_events_in_total counter",
        "ratusz_events_out_total counter",
        "ratusz_events_rate gauge",
        "ratusz_source_last_event_timestamp_seconds gauge",
        "ratusz_events_stored_total counter",
        "ratusz_events_sent_total counter",
        "ratusz_commits_total counter",
        "ratusz_requests_total counter",
        "ratusz_rejected_total counter",
        "ratusz_subscribers gauge",
        "ratusz_commit_latency_seconds histogram",
        "ratusz_batch_size histogram",
        "ratusz_store_bytes gauge",
        "ratusz_store_map_bytes gauge",
        "ratusz_consumer_lag gauge",
        "ratusz_consumer_committed_seq gauge",
        "ratusz_consumer_last_commit_timestamp_seconds gauge",
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "# TYPE %s\n", families[i]);
        if (s_count(text, line) != 1) {
            print_error("want once: %s---\n%s", line, text);
            fail();
        }
    }

    assert_non_null(strstr(
        text, "ratusz_events_in_total{tenant=\"1261011\",domain=\"budget\","
              "source=\"/1261011/budget/besti\"} 3\n"));
    assert_non_null(strstr(
        text, "ratusz_events_out_total{tenant=\"1261011\",domain=\"budget\","
              "source=\"/1261011/budget/besti\"} 1\n"));
    assert_non_null(
        strstr(text, "source=\"/1261011/budget/besti\",window=\"15m\"} "));
    assert_non_null(strstr(
        text, "ratusz_commit_latency_seconds_bucket{le=\"0.0002\"} 1\n"));
    assert_non_null(
        strstr(text, "ratusz_commit_latency_seconds_bucket{le=\"10\"} 2\n"));
    assert_non_null(
        strstr(text, "ratusz_commit_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "ratusz_commit_latency_seconds_count 3\n"));
    assert_non_null(
        strstr(text, "ratusz_commit_latency_seconds_sum 20.00438\n"));
    assert_non_null(strstr(text, "ratusz_batch_size_bucket{le=\"4\"} 3\n"));
    assert_non_null(strstr(text, "ratusz_batch_size_sum 6\n"));
    assert_non_null(
        strstr(text, "ratusz_rejected_total{reason=\"RZ_EINVALEVENT\"} 1\n"));
    assert_non_null(
        strstr(text, "ratusz_consumer_lag{group=\"gis-sync\"} 2\n"));
    assert_non_null(strstr(text, "ratusz_health_status{status=\"ok\"} 1\n"));
    assert_non_null(strstr(text, "ratusz_head_seq 6\n"));
    assert_non_null(strstr(text, "ratusz_store_map_bytes 268435456\n"));
    assert_non_null(strstr(text, "ratusz_uptime_seconds 12.5\n"));
    assert_non_null(strstr(
        text,
        "ratusz_source_last_event_timestamp_seconds{tenant=\"1261011\",domain="
        "\"budget\",source=\"/1261011/budget/besti\"} 1700000000.000000\n"));
    free(text);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

/* A NUL inside a quarantine class or example is refused from the bytes
 * (protobuf-c would cut the text there), and the labels are escaped. */
static void test_stats_quarantine_nul_refused_and_labels_escaped(void **state)
{
    (void)state;
    Ratusz__V1__Component c = RATUSZ__V1__COMPONENT__INIT;
    c.name = "adapter/q";
    Ratusz__V1__QuarantineReason q = RATUSZ__V1__QUARANTINE_REASON__INIT,
                                 *pq = &q;
    q.class_ = "lat: \"…\" is not aXb";
    q.example = "lat: \"x\" is not aXb";
    q.records = 3;
    c.quarantine = &pq;
    c.n_quarantine = 1;
    char why[256];
    assert_int_equal(rz_stats_component_check(&c, why, sizeof why), 0);
    uint8_t buf[512];
    size_t n = ratusz__v1__component__pack(&c, buf);
    assert_true(n < sizeof buf);
    assert_int_equal(rz_stats_component_body_check(buf, n, why, sizeof why), 0);
    /* the same bytes with the class's X a NUL */
    uint8_t *x = memchr(buf, 'X', n);
    assert_non_null(x);
    *x = 0;
    assert_int_equal(rz_stats_component_body_check(buf, n, why, sizeof why),
                     RZ_EBADREQ);
    assert_string_equal(why, "REPORT: a quarantine class holds a NUL byte");
    *x = 'X';
    x = memchr(x + 1, 'X', n - (size_t)(x + 1 - buf));
    assert_non_null(x);
    *x = 0;
    assert_int_equal(rz_stats_component_body_check(buf, n, why, sizeof why),
                     RZ_EBADREQ);
    assert_string_equal(why, "REPORT: a quarantine example holds a NUL byte");
    /* cut short: not a Component */
    assert_int_equal(rz_stats_component_body_check(buf, n - 3, why, sizeof why),
                     RZ_EDECODE);

    Ratusz__V1__Component *pc = &c;
    Ratusz__V1__Stats st = RATUSZ__V1__STATS__INIT;
    st.components = &pc;
    st.n_components = 1;
    char *text = rz_stats_prometheus(&st);
    assert_non_null(text);
    assert_non_null(strstr(text, "ratusz_component_quarantine_records{"
                                 "component=\"adapter/q\",class=\"lat: "
                                 "\\\"…\\\" is not aXb\"} 3\n"));
    free(text);
}

static void test_stats_prometheus_escapes_label_values(void **state)
{
    (void)state;
    Ratusz__V1__Stats s;
    Ratusz__V1__Health health;
    Ratusz__V1__ConsumerGroup groups[2], *gp[2];
    rz_stats_t *st = s_full(&s, &health, groups, gp);
    char *text = rz_stats_prometheus(&s);
    assert_non_null(text);
    assert_non_null(strstr(text, "source=\"back\\\\slash\\nnew line\"} 1\n"));
    assert_non_null(
        strstr(text, "source=\"Łódź – stacja \\\"PL0012A\\\"\"} 1\n"));
    assert_non_null(strstr(text, "group=\"księgowość \\\"main\\\"\"} 0\n"));
    /* broken UTF-8 becomes U+FFFD rather than spoiling the scrape */
    assert_non_null(strstr(text, "source=\"bad \xef\xbf\xbd\xef\xbf\xbd utf8 "
                                 "\xef\xbf\xbd\"} 1\n"));
    free(text);
    rz_stats_snapshot_free(&s);
    rz_stats_destroy(&st);
}

static void test_stats_prometheus_passes_promtool(void **state)
{
    (void)state;
    const char *promtool = "/usr/bin/promtool";
    if (access(promtool, X_OK) != 0) {
        print_message("promtool not found at %s: skipping the check\n",
                      promtool);
        skip();
    }
    char dir[256], path[300], cmd[1024];
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);

    /* the full message, and an empty one (fresh broker, no health) */
    for (int round = 0; round < 2; round++) {
        Ratusz__V1__Stats s;
        Ratusz__V1__Health health;
        Ratusz__V1__ConsumerGroup groups[2], *gp[2];
        rz_stats_t *st;
        if (round == 0) {
            st = s_full(&s, &health, groups, gp);
        } else {
            st = rz_stats_new();
            ratusz__v1__stats__init(&s);
            assert_int_equal(rz_stats_snapshot(st, &s), 0);
        }
        char *text = rz_stats_prometheus(&s);
        assert_non_null(text);

        snprintf(path, sizeof path, "%s/metrics-%d.txt", dir, round);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s check metrics < '%s' > '%s.out' 2>&1",
                 promtool, path, path);
        int rc = system(cmd);
        if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
            char out[4096] = "";
            snprintf(cmd, sizeof cmd, "%s.out", path);
            FILE *o = fopen(cmd, "r");
            if (o) {
                size_t n = fread(out, 1, sizeof out - 1, o);
                out[n] = '\0';
                fclose(o);
            }
            print_error("promtool failed (%d):\n%s\n--- input:\n%s", rc, out,
                        text);
            fail();
        }
        free(text);
        rz_stats_snapshot_free(&s);
        rz_stats_destroy(&st);
    }
    rzt_rmtree(dir);
}

/* ===========================================================================
 * The metrics HTTP server
 */

struct s_app {
    int healthy;
    int renders;
};

static char *s_render(void *user)
{
    struct s_app *app = user;
    app->renders++;
    return strdup("# HELP x_total A test.\n# TYPE x_total counter\n"
                  "x_total{name=\"żółw\"} 1\n");
}

static int s_health(void *user, char *status, size_t len)
{
    struct s_app *app = user;
    if (app->healthy)
        return 0;
    snprintf(status, len, "store-full");
    return 1;
}

/* One HTTP/1.0 exchange; returns the status code, the whole reply in buf. */
static int s_http(int port, const char *request, char *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t n = strlen(request);
    assert_int_equal(send(fd, request, n, MSG_NOSIGNAL), (ssize_t)n);
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, len - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == len - 1)
            break;
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static const char *s_body(const char *reply)
{
    const char *p = strstr(reply, "\r\n\r\n");
    return p ? p + 4 : "";
}

static void test_metrics_serves_metrics_and_healthz(void **state)
{
    (void)state;
    struct s_app app = {1, 0};
    rz_metrics_t *m = NULL;
    char err[256] = "", buf[8192];
    int rc = rz_metrics_start(&m, "127.0.0.1:0", s_render, s_health, &app, err,
                              sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    int port = rz_metrics_port(m);
    assert_true(port > 0);

    assert_int_equal(
        s_http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof buf), 200);
    assert_non_null(strcasestr(
        buf, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_string_equal(s_body(buf), "# HELP x_total A test.\n# TYPE x_total "
                                     "counter\nx_total{name=\"żółw\"} 1\n");
    assert_int_equal(app.renders, 1);

    assert_int_equal(
        s_http(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf), 200);
    assert_string_equal(s_body(buf), "ok\n");

    app.healthy = 0;
    assert_int_equal(
        s_http(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf), 503);
    assert_string_equal(s_body(buf), "store-full\n");

    /* HEAD answers like GET, without a body */
    assert_int_equal(
        s_http(port, "HEAD /metrics HTTP/1.0\r\n\r\n", buf, sizeof buf), 200);
    assert_string_equal(s_body(buf), "");

    rz_metrics_stop(&m);
    assert_null(m);
    rz_metrics_stop(&m); /* safe twice */
}

static void test_metrics_unknown_path_404_and_post_405(void **state)
{
    (void)state;
    struct s_app app = {1, 0};
    rz_metrics_t *m = NULL;
    char err[256], buf[4096];
    assert_int_equal(rz_metrics_start(&m, "127.0.0.1:0", s_render, NULL, &app,
                                      err, sizeof err),
                     0);
    int port = rz_metrics_port(m);
    assert_int_equal(
        s_http(port, "GET /nope HTTP/1.0\r\n\r\n", buf, sizeof buf), 404);
    assert_int_equal(
        s_http(port, "GET /metrics/x HTTP/1.0\r\n\r\n", buf, sizeof buf), 404);
    assert_int_equal(s_http(port,
                            "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n"
                            "\r\nabc",
                            buf, sizeof buf),
                     405);
    assert_non_null(strcasestr(buf, "Allow: GET, HEAD\r\n"));
    assert_int_equal(
        s_http(port, "DELETE /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf), 405);
    /* no health callback: always healthy */
    assert_int_equal(
        s_http(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf), 200);
    assert_int_equal(app.renders, 0);
    rz_metrics_stop(&m);
}

static char *s_render_null(void *user)
{
    (void)user;
    return NULL;
}

static void test_metrics_render_failure_is_500(void **state)
{
    (void)state;
    rz_metrics_t *m = NULL;
    char err[256], buf[4096];
    assert_int_equal(rz_metrics_start(&m, "127.0.0.1:0", s_render_null, NULL,
                                      NULL, err, sizeof err),
                     0);
    assert_int_equal(s_http(rz_metrics_port(m), "GET /metrics HTTP/1.0\r\n\r\n",
                            buf, sizeof buf),
                     500);
    rz_metrics_stop(&m);
}

static void test_metrics_port_in_use_names_the_address(void **state)
{
    (void)state;
    struct s_app app = {1, 0};
    rz_metrics_t *a = NULL, *b = NULL;
    char err[256] = "", hp[64], want[128];
    assert_int_equal(rz_metrics_start(&a, "127.0.0.1:0", s_render, s_health,
                                      &app, err, sizeof err),
                     0);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", rz_metrics_port(a));
    int rc =
        rz_metrics_start(&b, hp, s_render, s_health, &app, err, sizeof err);
    assert_int_equal(rc, -EADDRINUSE);
    assert_null(b);
    snprintf(want, sizeof want,
             "metrics: cannot listen on %s: Address already in use", hp);
    assert_string_equal(err, want);
    rz_metrics_stop(&a);

    /* once stopped, the port is free again */
    rc = rz_metrics_start(&b, hp, s_render, s_health, &app, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rz_metrics_stop(&b);
}

static void test_metrics_bad_address_and_off(void **state)
{
    (void)state;
    rz_metrics_t *m = (rz_metrics_t *)&m; /* must be overwritten */
    char err[256];
    assert_int_equal(
        rz_metrics_start(&m, "off", s_render, NULL, NULL, err, sizeof err), 0);
    assert_null(m);
    assert_int_equal(
        rz_metrics_start(&m, "", s_render, NULL, NULL, err, sizeof err), 0);
    assert_null(m);
    assert_int_equal(rz_metrics_port(m), 0);
    rz_metrics_stop(&m);

    static const char *bad[] = {"localhost", "127.0.0.1:", "127.0.0.1:http",
                                "127.0.0.1:70000", "[::1:7602"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            rz_metrics_start(&m, bad[i], s_render, NULL, NULL, err, sizeof err),
            RZ_ECONFIG);
        assert_null(m);
        assert_non_null(strstr(err, bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_counts_events_per_tenant_domain_source),
        cmocka_unit_test(test_stats_rates_follow_load_average),
        cmocka_unit_test(test_stats_late_tick_uses_elapsed_time),
        cmocka_unit_test(test_stats_quantiles_from_histogram),
        cmocka_unit_test(test_stats_quantile_of_identical_values_is_that_value),
        cmocka_unit_test(test_stats_rejections_counted_by_error_name),
        cmocka_unit_test(test_stats_series_are_capped_into_other),
        cmocka_unit_test(test_stats_concurrent_updates_are_all_counted),
        cmocka_unit_test(test_stats_prometheus_renders_every_family_once),
        cmocka_unit_test(test_stats_prometheus_escapes_label_values),
        cmocka_unit_test(test_stats_quarantine_nul_refused_and_labels_escaped),
        cmocka_unit_test(test_stats_prometheus_passes_promtool),
        cmocka_unit_test(test_metrics_serves_metrics_and_healthz),
        cmocka_unit_test(test_metrics_unknown_path_404_and_post_405),
        cmocka_unit_test(test_metrics_render_failure_is_500),
        cmocka_unit_test(test_metrics_port_in_use_names_the_address),
        cmocka_unit_test(test_metrics_bad_address_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
