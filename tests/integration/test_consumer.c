/* test_consumer.c - durable consumer groups: fetch, commit, resume */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define SRC "/1261011/budget/test"

typedef struct got {
    size_t n;
    uint64_t seq[2048];
    char topic[2048][64];
} got_t;

static int s_collect(const rz_event_t *e, void *user)
{
    got_t *g = user;
    assert_true(g->n < sizeof g->seq / sizeof g->seq[0]);
    g->seq[g->n] = e->msg->seq;
    char topic[RZ_TOPIC_MAX + 1];
    rz_event_topic(e->msg, topic, sizeof topic);
    snprintf(g->topic[g->n], sizeof g->topic[0], "%.63s", topic);
    g->n++;
    return 0;
}

/* Publish n events "<prefix>-<i>"; every third is an env event when
 * mixed. seq[i] gets event i's seq. */
static void s_publish(rzt_broker_t *b, const char *prefix, int n, int mixed,
                      uint64_t *seq)
{
    rz_client_t *c = rzt_client(b, 64, 8);
    assert_non_null(c);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, SRC, id, "unit:1", 1700000000000000 + i, i);
        if (mixed && i % 3 == 2) {
            ev.type = "pl.gov.gmina.env.test.v1";
            ev.data_case = RATUSZ__V1__EVENT__DATA__NOT_SET;
            ev.budget = NULL;
        }
        uint64_t s = 0;
        assert_int_equal(rzt_publish_sync(c, &ev, &s), 0);
        if (seq)
            seq[i] = s;
    }
    rz_client_destroy(&c);
}

/* Fetch for group and check that it delivered exactly first..last. */
static void s_fetch_expect(rz_client_t *c, const char *group,
                           const char *prefix, uint32_t max, uint64_t first,
                           uint64_t last)
{
    got_t *g = calloc(1, sizeof *g);
    uint64_t last_seq = 12345678;
    int n = rz_fetch(c, group, prefix, 0, max, s_collect, g, &last_seq);
    size_t want = last >= first ? (size_t)(last - first + 1) : 0;
    assert_int_equal(n, want);
    assert_int_equal(g->n, want);
    for (size_t i = 0; i < want; i++)
        assert_int_equal(g->seq[i], first + i);
    if (want)
        assert_int_equal(last_seq, last);
    free(g);
}

/* The group's entry in CONSUMERS, or fail. The caller frees l. */
static Ratusz__V1__ConsumerGroup *s_group(rz_client_t *c, const char *name,
                                          Ratusz__V1__ConsumerList **l)
{
    assert_int_equal(rz_consumers(c, l), 0);
    for (size_t i = 0; i < (*l)->n_groups; i++)
        if (!strcmp((*l)->groups[i]->name, name))
            return (*l)->groups[i];
    fail_msg("group '%s' is not listed", name);
    return NULL;
}

static void test_consumer_fetch_starts_at_committed_position(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "f", 30, 0, NULL);
    rz_client_t *c = rzt_client(b, 0, 0);

    /* a new group starts at the beginning; fetching alone does not move */
    s_fetch_expect(c, "billing", NULL, 10, 1, 10);
    s_fetch_expect(c, "billing", NULL, 10, 1, 10);
    /* commit, then fetch goes on after it */
    assert_int_equal(rz_commit(c, "billing", 10), 0);
    s_fetch_expect(c, "billing", NULL, 10, 11, 20);
    assert_int_equal(rz_commit(c, "billing", 20), 0);
    s_fetch_expect(c, "billing", NULL, 0, 21, 30);
    assert_int_equal(rz_commit(c, "billing", 30), 0);
    /* caught up: nothing, until more arrives */
    got_t *g = calloc(1, sizeof *g);
    uint64_t last = 0;
    assert_int_equal(rz_fetch(c, "billing", NULL, 0, 10, s_collect, g, &last),
                     0);
    assert_int_equal(last, 30);
    free(g);
    s_publish(b, "f2", 5, 0, NULL);
    s_fetch_expect(c, "billing", NULL, 0, 31, 35);

    /* an explicit position overrides the committed one, without moving it */
    g = calloc(1, sizeof *g);
    assert_int_equal(rz_fetch(c, "billing", NULL, 25, 3, s_collect, g, &last),
                     3);
    assert_int_equal(g->seq[0], 26);
    assert_int_equal(last, 28);
    free(g);
    s_fetch_expect(c, "billing", NULL, 0, 31, 35);
    /* another group is independent */
    s_fetch_expect(c, "audit", NULL, 4, 1, 4);
    rz_client_destroy(&c);
}

static void
test_consumer_killed_before_commit_gets_the_batch_again(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "k", 40, 0, NULL);

    rz_client_t *c = rzt_client(b, 0, 0);
    s_fetch_expect(c, "gis-sync", NULL, 10, 1, 10);
    assert_int_equal(rz_commit(c, "gis-sync", 10), 0);
    s_fetch_expect(c, "gis-sync", NULL, 10, 11, 20);
    /* dies here: 11..20 were fetched, never committed */
    rz_client_destroy(&c);

    rz_client_t *c2 = rzt_client(b, 0, 0);
    s_fetch_expect(c2, "gis-sync", NULL, 10, 11, 20); /* at least once */
    assert_int_equal(rz_commit(c2, "gis-sync", 20), 0);
    s_fetch_expect(c2, "gis-sync", NULL, 100, 21, 40);
    rz_client_destroy(&c2);
}

static void test_consumer_resumes_from_commit_after_broker_sigkill(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "crash", 50, 0, NULL);
    rz_client_t *old = rzt_client(b, 0, 0);
    s_fetch_expect(old, "tax-export", NULL, 30, 1, 30);
    assert_int_equal(rz_commit(old, "tax-export", 30), 0);
    s_fetch_expect(old, "tax-export", NULL, 5, 31, 35); /* not committed */

    rzt_broker_kill(b);
    assert_int_equal(rzt_broker_restart(b), 0);

    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__ConsumerList *l = NULL;
    Ratusz__V1__ConsumerGroup *g = s_group(c, "tax-export", &l);
    assert_int_equal(g->committed_seq, 30);
    assert_int_equal(g->lag, 20);
    assert_true(g->updated > 0);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    s_fetch_expect(c, "tax-export", NULL, 100, 31, 50);

    /* a client from before the crash reconnects by itself */
    s_fetch_expect(old, "tax-export", NULL, 100, 31, 50);
    assert_int_equal(rz_commit(old, "tax-export", 50), 0);
    g = s_group(c, "tax-export", &l);
    assert_int_equal(g->committed_seq, 50);
    assert_int_equal(g->lag, 0);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    rz_client_destroy(&old);
    rz_client_destroy(&c);
}

static void
test_consumer_group_with_topic_prefix_gets_only_that_prefix(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 60 };
    uint64_t seq[N];
    s_publish(b, "px", N, 1, seq);
    uint64_t env[N];
    size_t nenv = 0;
    for (int i = 0; i < N; i++)
        if (i % 3 == 2)
            env[nenv++] = seq[i];
    assert_int_equal(nenv, 20);

    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = calloc(1, sizeof *g);
    uint64_t last = 0;
    /* the first fetch binds the group to the prefix */
    assert_int_equal(
        rz_fetch(c, "air", "1261011.env.", 0, 7, s_collect, g, &last), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(g->seq[i], env[i]);
        assert_string_equal(g->topic[i], "1261011.env.test.v1");
    }
    assert_int_equal(last, env[6]);
    /* later fetches may leave it out and still get only that prefix */
    assert_int_equal(rz_commit(c, "air", last), 0);
    g->n = 0;
    assert_int_equal(rz_fetch(c, "air", NULL, 0, 100, s_collect, g, &last), 13);
    for (size_t i = 0; i < 13; i++) {
        assert_int_equal(g->seq[i], env[7 + i]);
        assert_string_equal(g->topic[i], "1261011.env.test.v1");
    }
    assert_int_equal(rz_commit(c, "air", last), 0);

    Ratusz__V1__ConsumerList *l = NULL;
    Ratusz__V1__ConsumerGroup *grp = s_group(c, "air", &l);
    assert_string_equal(grp->topic_prefix, "1261011.env.");
    assert_int_equal(grp->committed_seq, env[19]);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    free(g);
    rz_client_destroy(&c);
}

/* The prefix given on a group's first fetch binds it at once: the very
 * next fetch, without a prefix, already gets only that prefix. */
static void test_consumer_prefix_binds_before_the_next_fetch(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 30 };
    uint64_t seq[N];
    s_publish(b, "bind", N, 1, seq);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = calloc(1, sizeof *g);
    static const char *groups[] = {"env-1", "env-2", "env-3"};
    for (size_t k = 0; k < 3; k++) {
        g->n = 0;
        assert_int_equal(
            rz_fetch(c, groups[k], "1261011.env.", 0, 3, s_collect, g, NULL),
            3);
        assert_int_equal(g->seq[0], seq[2]);
        g->n = 0;
        assert_int_equal(rz_fetch(c, groups[k], NULL, 0, 3, s_collect, g, NULL),
                         3);
        for (size_t i = 0; i < 3; i++)
            assert_string_equal(g->topic[i], "1261011.env.test.v1");
        assert_int_equal(g->seq[0], seq[2]);
    }
    free(g);
    rz_client_destroy(&c);
}

static void test_consumer_commit_only_moves_forward(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "fw", 30, 0, NULL);
    rz_client_t *c = rzt_client(b, 0, 0);
    assert_int_equal(rz_commit(c, "fw", 20), 0);
    assert_int_equal(rz_commit(c, "fw", 5), 0); /* accepted, ignored */
    Ratusz__V1__ConsumerList *l = NULL;
    Ratusz__V1__ConsumerGroup *g = s_group(c, "fw", &l);
    assert_int_equal(g->committed_seq, 20);
    assert_int_equal(g->lag, 10);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    s_fetch_expect(c, "fw", NULL, 100, 21, 30);

    /* past the head, and without a group name: refused, nothing moves */
    assert_int_equal(rz_commit(c, "fw", 31), RZ_EBADREQ);
    assert_int_equal(rz_commit(c, "", 3), RZ_EBADREQ);
    g = s_group(c, "fw", &l);
    assert_int_equal(g->committed_seq, 20);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    rz_client_destroy(&c);
}

static void test_consumer_list_shows_committed_seq_and_lag(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "ls", 40, 1, NULL);
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__ConsumerList *l = NULL;
    assert_int_equal(rz_consumers(c, &l), 0);
    assert_int_equal(l->n_groups, 0);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);

    got_t *g = calloc(1, sizeof *g);
    assert_int_equal(rz_commit(c, "a-budget", 10), 0);
    assert_true(
        rz_fetch(c, "b-env", "1261011.env.", 0, 1, s_collect, g, NULL) == 1);
    assert_int_equal(rz_commit(c, "b-env", 40), 0);
    assert_true(rz_fetch(c, "c-new", NULL, 0, 1, s_collect, g, NULL) == 1);
    /* a commit after the fetch: the writer has registered c-new by now */
    assert_int_equal(rz_commit(c, "a-budget", 12), 0);
    free(g);

    static const struct {
        const char *name, *prefix;
        uint64_t committed, lag;
    } want[] = {
        {"a-budget", "", 12, 28},
        {"b-env", "1261011.env.", 40, 0},
        {"c-new", "", 0, 40},
    };
    assert_int_equal(rz_consumers(c, &l), 0);
    assert_int_equal(l->n_groups, 3);
    for (size_t i = 0; i < 3; i++) {
        Ratusz__V1__ConsumerGroup *grp = NULL;
        for (size_t j = 0; j < l->n_groups; j++)
            if (!strcmp(l->groups[j]->name, want[i].name))
                grp = l->groups[j];
        assert_non_null(grp);
        assert_int_equal(grp->committed_seq, want[i].committed);
        assert_int_equal(grp->lag, want[i].lag);
        assert_string_equal(grp->topic_prefix, want[i].prefix);
        if (want[i].committed)
            assert_true(grp->updated > 1700000000000000);
    }
    ratusz__v1__consumer_list__free_unpacked(l, NULL);

    /* lag follows the head */
    s_publish(b, "ls2", 5, 0, NULL);
    Ratusz__V1__ConsumerGroup *grp = s_group(c, "b-env", &l);
    assert_int_equal(grp->lag, 5);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);

    /* STATS carries the same groups */
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    assert_int_equal(st->n_consumers, 3);
    ratusz__v1__stats__free_unpacked(st, NULL);
    rz_client_destroy(&c);
}

/* A position at the very end of the seq space has nothing after it (the
 * broker must not wrap around to seq 1). */
static void
test_consumer_fetch_after_the_last_possible_seq_is_empty(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "end", 5, 0, NULL);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = calloc(1, sizeof *g);
    int n = rz_fetch(c, "edge", NULL, UINT64_MAX, 10, s_collect, g, NULL);
    if (n != 0)
        fail_msg("fetch after seq %llu delivered %d events, from seq %llu",
                 (unsigned long long)UINT64_MAX, n,
                 (unsigned long long)g->seq[0]);
    free(g);
    rz_client_destroy(&c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, rzt_setup, rzt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_consumer_fetch_starts_at_committed_position),
        T(test_consumer_killed_before_commit_gets_the_batch_again),
        T(test_consumer_resumes_from_commit_after_broker_sigkill),
        T(test_consumer_group_with_topic_prefix_gets_only_that_prefix),
        T(test_consumer_prefix_binds_before_the_next_fetch),
        T(test_consumer_commit_only_moves_forward),
        T(test_consumer_list_shows_committed_seq_and_lag),
        T(test_consumer_fetch_after_the_last_possible_seq_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
