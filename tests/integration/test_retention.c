/* test_retention.c - retention in the real broker: events with old times
 * go in the background, a consumer group holds what it has not read, the
 * figures survive a restart */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define SRC "/1261011/env/airly"
#define ENV "1261011.env."
#define DAY INT64_C(86400000000)

typedef struct fx {
    rzt_broker_t b;
    char confdir[256];
    char conf[300];
    int64_t now;
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->confdir, sizeof f->confdir) != 0)
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/ratuszd.yaml", f->confdir);
    FILE *c = fopen(f->conf, "w");
    if (!c)
        return -1;
    fputs("retention:\n"
          "  \"1261011.env.\": {max_age: 7d}\n"
          "retention_hold_max: 20d\n"
          "retention_interval: 1s\n"
          "dedup_window: 1d\n",
          c);
    fclose(c);
    const char *extra[] = {"-c", f->conf, NULL};
    if (rzt_broker_start(&f->b, extra) < 0)
        return -1;
    f->now = rz_now_us();
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rzt_broker_stop(&f->b);
    rzt_broker_cleanup(&f->b);
    rzt_rmtree(f->confdir);
    free(f);
    return 0;
}

/* Publish one event of type at time t; returns its seq. */
static uint64_t s_pub(rz_client_t *c, const char *type, const char *id,
                      int64_t t)
{
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint64_t seq = 0;
    rzt_event(&ev, &be, SRC, id, "station:PL0012A", t, 1);
    if (strstr(type, ".env.")) {
        ev.type = (char *)type;
        ev.data_case = RATUSZ__V1__EVENT__DATA__NOT_SET;
        ev.budget = NULL;
    }
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    return seq;
}

/* The env rule's figures; the caller frees *st. */
static const Ratusz__V1__RetentionRule *s_rule(rz_client_t *c,
                                               Ratusz__V1__Stats **st)
{
    assert_int_equal(rz_stats(c, st), 0);
    for (size_t i = 0; i < (*st)->n_retention; i++)
        if (!strcmp((*st)->retention[i]->prefix, ENV))
            return (*st)->retention[i];
    fail_msg("STATS has no retention rule \"%s\"", ENV);
    return NULL;
}

/* Wait (polling STATS, up to a minute) until the env rule has removed
 * `removed` events and holds `held`; fails with what it saw otherwise. */
static void s_wait(rz_client_t *c, uint64_t removed, uint64_t held)
{
    uint64_t r = 0, h = 0;
    for (int i = 0; i < 600; i++) {
        Ratusz__V1__Stats *st = NULL;
        const Ratusz__V1__RetentionRule *rule = s_rule(c, &st);
        r = rule->removed_events;
        h = rule->held;
        ratusz__v1__stats__free_unpacked(st, NULL);
        if (r == removed && h == held)
            return;
        usleep(100 * 1000);
    }
    fail_msg("retention removed %llu (want %llu), holds %llu (want %llu)",
             (unsigned long long)r, (unsigned long long)removed,
             (unsigned long long)h, (unsigned long long)held);
}

static int s_count(const rz_event_t *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static uint64_t s_lost(rz_client_t *c, const char *group)
{
    Ratusz__V1__ConsumerList *l = NULL;
    uint64_t lost = UINT64_MAX;
    assert_int_equal(rz_consumers(c, &l), 0);
    for (size_t i = 0; i < l->n_groups; i++)
        if (!strcmp(l->groups[i]->name, group))
            lost = l->groups[i]->lost;
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    assert_true(lost != UINT64_MAX);
    return lost;
}

static void s_verify_ok(rz_client_t *c)
{
    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c, "events", 0, &v), 0);
    if (!v->ok)
        print_error("verify: %s\n", v->reason);
    assert_true(v->ok);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
}

static void test_retention_removes_old_events_in_the_background(void **state)
{
    fx_t *f = *state;
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    assert_non_null(c);
    const char *air = "pl.gov.gmina.env.air.v1";
    uint64_t lost[2], held[3], budget[2], young[2];
    int got = 0;

    /* a group reading env that has read nothing yet */
    assert_int_equal(rz_fetch(c, "portal", ENV, 0, 1, s_count, &got, NULL), 0);
    lost[0] = s_pub(c, air, "a-1", f->now - 40 * DAY);
    lost[1] = s_pub(c, air, "a-2", f->now - 39 * DAY);
    held[0] = s_pub(c, air, "a-3", f->now - 10 * DAY);
    held[1] = s_pub(c, air, "a-4", f->now - 10 * DAY);
    held[2] = s_pub(c, air, "a-5", f->now - 9 * DAY);
    budget[0] = s_pub(c, "budget", "b-1", f->now - 40 * DAY); /* no rule */
    budget[1] = s_pub(c, "budget", "b-2", f->now - 40 * DAY);
    young[0] = s_pub(c, air, "a-6", f->now - DAY);
    young[1] = s_pub(c, air, "a-7", f->now);

    /* past retention_hold_max: removed, and the group told; the rest held */
    s_wait(c, 2, 3);
    assert_int_equal(s_lost(c, "portal"), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rz_get_seq(c, lost[i], NULL, NULL), RZ_ENOTFOUND);
        assert_non_null(strstr(rz_client_last_error(c), "removed by retention"));
    }
    assert_int_equal(rz_get_id(c, SRC, "a-1", NULL, NULL), RZ_ENOTFOUND);
    assert_non_null(strstr(rz_client_last_error(c), "removed by retention"));
    assert_int_equal(rz_get_seq(c, held[0], NULL, NULL), 1);

    /* the group reads them: they go */
    assert_int_equal(rz_commit(c, "portal", held[2]), 0);
    s_wait(c, 5, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rz_get_seq(c, held[i], NULL, NULL), RZ_ENOTFOUND);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rz_get_seq(c, budget[i], NULL, NULL), 1);
        assert_int_equal(rz_get_seq(c, young[i], NULL, NULL), 1);
    }

    /* queries and replay go past them */
    rz_query_t q = {.topic_prefix = ENV};
    got = 0;
    assert_int_equal(rz_query(c, &q, s_count, &got), 2);
    rz_query_t qs = {.subject = "station:PL0012A"};
    got = 0;
    assert_int_equal(rz_query(c, &qs, s_count, &got), 4);
    rz_replay_t r = {.from_seq = 1};
    got = 0;
    assert_int_equal(rz_replay(c, &r, s_count, &got), 4);

    /* within the dedup window a republish is the removed event */
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint64_t seq = 0;
    rzt_event(&ev, &be, SRC, "a-1", "station:PL0012A", f->now - 40 * DAY, 1);
    ev.type = (char *)air;
    ev.data_case = RATUSZ__V1__EVENT__DATA__NOT_SET;
    ev.budget = NULL;
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    assert_int_equal(seq, lost[0]);

    Ratusz__V1__Stats *st = NULL;
    const Ratusz__V1__RetentionRule *rule = s_rule(c, &st);
    assert_int_equal(rule->oldest_seq, young[0]);
    assert_int_equal(rule->max_age_us, 7 * DAY);
    assert_true(rule->removed_bytes > 0);
    uint64_t removed_bytes = rule->removed_bytes;
    ratusz__v1__stats__free_unpacked(st, NULL);
    s_verify_ok(c);
    rz_client_destroy(&c);

    /* a restart keeps what was removed and goes on from the head */
    assert_int_equal(rzt_broker_stop(&f->b), 0);
    assert_int_equal(rzt_broker_restart(&f->b), 0);
    c = rzt_client(&f->b, 0, 0);
    assert_non_null(c);
    assert_int_equal(s_pub(c, air, "a-8", f->now), young[1] + 1);
    s_wait(c, 5, 0);
    rule = s_rule(c, &st);
    assert_int_equal(rule->removed_bytes, removed_bytes);
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_int_equal(s_lost(c, "portal"), 2);
    assert_int_equal(rz_get_seq(c, held[0], NULL, NULL), RZ_ENOTFOUND);
    s_verify_ok(c);

    /* the figures are on /metrics too */
    char *body = malloc(1 << 20);
    assert_non_null(body);
    assert_int_equal(rzt_http_get(f->b.metrics, "/metrics", body, 1 << 20),
                     200);
    assert_non_null(strstr(body, "ratusz_retention_pruned_events_total"
                                 "{prefix=\"1261011.env.\"} 5\n"));
    assert_non_null(strstr(body, "ratusz_consumer_lost_events_total"
                                 "{group=\"portal\"} 2\n"));
    char oldest[96];
    snprintf(oldest, sizeof oldest,
             "ratusz_retention_oldest_seq{prefix=\"1261011.env.\"} %llu\n",
             (unsigned long long)young[0]);
    assert_non_null(strstr(body, oldest));
    free(body);
    rz_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_retention_removes_old_events_in_the_background, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
