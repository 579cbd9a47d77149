/* test_top_rules.c - the problems line of `ratusz top`: each rule of the
 * table on a Stats reply built here, their order, and the cut to the width
 * with "+N more". top.c is compiled into the test for its static rules; no
 * terminal is opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cli/top.c"

#define S_NOW INT64_C(1700000000000000) /* some unix µs */

/* A healthy broker with three sources of one tenant and domain, a group
 * and a component, all current. Everything lives in the fixture. */
typedef struct {
    Ratusz__V1__Stats st;
    Ratusz__V1__Health health;
    Ratusz__V1__Counter counters[3], *pcounters[3];
    Ratusz__V1__ConsumerGroup group, *pgroup;
    Ratusz__V1__Component comps[2], *pcomps[2];
    Ratusz__V1__Metric metric, *pmetric;
    Ratusz__V1__Rejected rejected[2], *prejected[2];
    s_top_t t;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ratusz__v1__stats__init(&f->st);
    ratusz__v1__health__init(&f->health);
    f->health.status = "ok";
    f->health.version = "0.1.0";
    f->st.health = &f->health;
    static const char *const sources[] = {"/1/gios/a", "/1/gios/b",
                                          "/1/gios/c"};
    for (int i = 0; i < 3; i++) {
        ratusz__v1__counter__init(&f->counters[i]);
        f->counters[i].tenant = "1";
        f->counters[i].domain = "env";
        f->counters[i].source = (char *)sources[i];
        f->counters[i].events_in = 10;
        f->counters[i].last_event = S_NOW - 1000000;
        f->pcounters[i] = &f->counters[i];
    }
    f->st.counters = f->pcounters;
    f->st.n_counters = 3;
    ratusz__v1__consumer_group__init(&f->group);
    f->group.name = "g1";
    f->group.lag = 10;
    f->pgroup = &f->group;
    f->st.consumers = &f->pgroup;
    f->st.n_consumers = 1;
    ratusz__v1__metric__init(&f->metric);
    f->metric.name = "records_quarantined";
    f->metric.value = 2;
    f->pmetric = &f->metric;
    for (int i = 0; i < 2; i++) {
        ratusz__v1__component__init(&f->comps[i]);
        f->comps[i].status = "ok";
        f->comps[i].reported = S_NOW - 1000000;
        f->pcomps[i] = &f->comps[i];
    }
    f->comps[0].name = "adapter/gios";
    f->comps[0].metrics = &f->pmetric;
    f->comps[0].n_metrics = 1;
    f->comps[1].name = "kafka/out";
    f->st.components = f->pcomps;
    f->st.n_components = 2;
    for (int i = 0; i < 2; i++) {
        ratusz__v1__rejected__init(&f->rejected[i]);
        f->prejected[i] = &f->rejected[i];
    }
    f->rejected[0].reason = "RZ_ECONFLICT";
    f->rejected[1].reason = "RZ_EINVALEVENT";
    f->st.rejected = f->prejected;

    f->t.cur = &f->st;
    f->t.cur_at = S_NOW;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    for (size_t i = 0; i < S_HISTORY; i++)
        s_point_clear(&f->t.hist[i]);
    free(f);
    return 0;
}

/* Take the current reply as a history point from ago µs back. */
static void s_remember(s_fix_t *f, int64_t ago)
{
    s_point_t *p = &f->t.hist[f->t.hist_end];
    s_point_clear(p);
    s_point_fill(p, &f->st, S_NOW - ago);
    f->t.hist_end = (f->t.hist_end + 1) % S_HISTORY;
    f->t.hist_n++;
}

static void test_top_healthy_broker_has_no_problems(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    s_remember(f, 2000000);
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 0);
}

static void test_top_broker_status_comes_first(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->health.status = "store-full";
    f->comps[1].status = "broker unreachable";
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 2);
    assert_string_equal(it.text[0], "broker store-full");
    assert_string_equal(it.text[1], "kafka/out: broker unreachable");
}

static void test_top_unreachable_broker_is_named(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->t.err = RZ_ETIMEDOUT;
    s_problems(&f->t, &it);
    assert_true(it.n >= 1);
    assert_string_equal(it.text[0], "broker not answering: ETIMEDOUT");
}

static void test_top_stale_component_before_failing_one(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->comps[0].status = "source unreachable";
    f->comps[1].status = "broker unreachable";
    f->comps[1].reported = S_NOW - TOP_STALE_US - 1;
    s_problems(&f->t, &it);
    /* a STALE component's last status is old news: only STALE is shown */
    assert_int_equal(it.n, 2);
    assert_string_equal(it.text[0], "kafka/out STALE");
    assert_string_equal(it.text[1], "adapter/gios: source unreachable");
}

static void test_top_full_store_and_memory(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->st.map_bytes = 1000;
    f->st.store_bytes = 950;
    f->st.memory_budget = 100;
    f->st.memory_queued = 89;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 1);
    assert_string_equal(it.text[0], "store 95% full");
    f->st.memory_queued = 91;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 2);
    assert_string_equal(it.text[1], "memory budget 91% used");
}

static void test_top_silent_sources_are_counted(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->counters[1].last_event = S_NOW - TOP_SILENT_US - 1;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 1);
    assert_string_equal(it.text[0], "/1/gios/b SILENT");
    f->counters[2].last_event = S_NOW - TOP_SILENT_US - 1;
    s_problems(&f->t, &it);
    assert_string_equal(it.text[0], "2 sources SILENT (/1/gios/b, ...)");
}

static void test_top_lag_and_quarantine_growth_within_a_minute(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    s_remember(f, S_GROWTH_US + 1000000); /* too old to compare with */
    f->group.lag = 25;
    f->metric.value = 4;
    s_remember(f, 30000000);
    f->group.lag = 40;
    f->metric.value = 9;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 2);
    assert_string_equal(it.text[0], "adapter/gios quarantine +5");
    assert_string_equal(it.text[1], "group g1 lag 40 (+15)");
    /* a lag going down is no problem */
    f->group.lag = 20;
    f->metric.value = 4;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 0);
}

/* The problems line names the class with the most records of a growing
 * quarantine, cut on a UTF-8 boundary. */
static void test_top_quarantine_names_its_top_class(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    Ratusz__V1__QuarantineReason q[2], *pq[2] = {&q[0], &q[1]};
    for (int i = 0; i < 2; i++)
        ratusz__v1__quarantine_reason__init(&q[i]);
    q[0].class_ = "id: '…' is not a station id";
    q[0].records = 2;
    q[1].class_ = "lat: … is not a WGS84 latitude";
    q[1].records = 7;
    f->comps[0].quarantine = pq;
    f->comps[0].n_quarantine = 2;
    f->metric.value = 4;
    s_remember(f, 30000000);
    f->metric.value = 9;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 1);
    assert_string_equal(it.text[0], "adapter/gios quarantine +5 (lat: … is "
                                    "not a WGS84 latitude)");
    /* a long class is cut, never inside a character: here bytes 43-45
     * are one "…" and the cut falls at 44 */
    q[1].class_ = "field_with_a_long_name_of_forty_three_bytes…: missing";
    s_problems(&f->t, &it);
    assert_string_equal(it.text[0], "adapter/gios quarantine +5 "
                                    "(field_with_a_long_name_of_forty_three_"
                                    "bytes...)");
    /* no class with records: the count alone */
    q[0].records = q[1].records = 0;
    s_problems(&f->t, &it);
    assert_string_equal(it.text[0], "adapter/gios quarantine +5");
    f->comps[0].n_quarantine = 0;
}

static void test_top_rejected_by_reason_most_first(void **state)
{
    s_fix_t *f = *state;
    s_items_t it;
    f->rejected[0].count = 2;
    f->rejected[1].count = 7;
    f->st.n_rejected = 2;
    s_remember(f, 10000000);
    f->rejected[0].count = 5;
    f->st.denied_total = 3;
    s_problems(&f->t, &it);
    assert_int_equal(it.n, 3);
    assert_string_equal(it.text[0], "rejected RZ_EINVALEVENT 7");
    assert_string_equal(it.text[1], "rejected RZ_ECONFLICT 5 (+3)");
    assert_string_equal(it.text[2], "denied 3 requests");
}

static void test_top_problems_cut_to_the_width_with_more(void **state)
{
    (void)state;
    s_items_t it;
    memset(&it, 0, sizeof it);
    for (int i = 0; i < 5; i++)
        snprintf(it.text[it.n++], sizeof it.text[0], "problem-%d", i);
    char buf[512];
    /* all five: 5 * 9 + 4 * 3 = 57 columns */
    s_problems_fit(&it, " | ", 57, buf, sizeof buf);
    assert_string_equal(buf, "problem-0 | problem-1 | problem-2 | problem-3 "
                             "| problem-4");
    /* 40 columns: two, and room for " | +3 more" */
    s_problems_fit(&it, " | ", 40, buf, sizeof buf);
    assert_string_equal(buf, "problem-0 | problem-1 | +3 more");
    assert_true(text_width(buf) <= 40);
    /* the first is always shown */
    s_problems_fit(&it, " | ", 5, buf, sizeof buf);
    assert_string_equal(buf, "problem-0 | +4 more");
    /* found beyond what the list holds */
    it.dropped = 10;
    s_problems_fit(&it, " | ", 200, buf, sizeof buf);
    assert_string_equal(buf, "problem-0 | problem-1 | problem-2 | problem-3 "
                             "| problem-4 | +10 more");
}

static void test_top_every_rule_has_a_name_and_condition(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_NRULES; i++) {
        assert_non_null(s_rules[i].find);
        assert_true(strlen(s_rules[i].name) > 0 &&
                    strlen(s_rules[i].name) < 11); /* the help's column */
        assert_true(strlen(s_rules[i].condition) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_top_healthy_broker_has_no_problems),
        T(test_top_broker_status_comes_first),
        T(test_top_unreachable_broker_is_named),
        T(test_top_stale_component_before_failing_one),
        T(test_top_full_store_and_memory),
        T(test_top_silent_sources_are_counted),
        T(test_top_lag_and_quarantine_growth_within_a_minute),
        T(test_top_quarantine_names_its_top_class),
        T(test_top_rejected_by_reason_most_first),
        T(test_top_problems_cut_to_the_width_with_more),
        T(test_top_every_rule_has_a_name_and_condition),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
