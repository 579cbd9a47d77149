/* test_groups.c - consumer groups have a lifecycle: a cap on their number,
 * deletion, and a reset of the position backwards, from the client library
 * and from `ratusz consumers`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static int s_setup(void **state)
{
    static const char *const extra[] = {"--max-groups", "5", NULL};
    return rzt_setup_with(state, extra);
}

static int s_count(const rz_event_t *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static void s_publish(const rzt_broker_t *b, int n)
{
    rz_client_t *c = rzt_client(b, 64, 8);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "g-%03d", i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/groups", id, "unit:g",
                  INT64_C(1700000000000000) + i, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 10000), 0);
    rz_client_destroy(&c);
}

static void test_groups_are_capped_and_deleted(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, 20);
    rz_client_t *c = rzt_client(b, 1, 1);
    int n = 0;
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        char g[16];
        snprintf(g, sizeof g, "grp-%d", i);
        assert_int_equal(rz_fetch(c, g, NULL, 0, 1, s_count, &n, &last), 1);
        assert_int_equal(rz_commit(c, g, last), 0);
    }
    /* the sixth would be one too many, by FETCH and by COMMIT */
    assert_int_equal(rz_fetch(c, "grp-5", NULL, 0, 1, s_count, &n, &last),
                     RZ_EBUSY);
    assert_non_null(strstr(rz_client_last_error(c), "max_groups"));
    assert_int_equal(rz_commit(c, "grp-6", 1), RZ_EBUSY);
    /* an existing group goes on */
    assert_int_equal(rz_commit(c, "grp-0", 2), 0);
    /* delete one, and there is room again */
    assert_int_equal(rz_consumer_delete(c, "grp-4"), 0);
    assert_int_equal(rz_consumer_delete(c, "grp-4"), RZ_ENOTFOUND);
    assert_int_equal(rz_fetch(c, "grp-5", NULL, 0, 1, s_count, &n, &last), 1);
    assert_int_equal(rz_commit(c, "grp-5", last), 0); /* stored by now */
    Ratusz__V1__ConsumerList *l = NULL;
    assert_int_equal(rz_consumers(c, &l), 0);
    assert_int_equal(l->n_groups, 5);
    for (size_t i = 0; i < l->n_groups; i++)
        assert_string_not_equal(l->groups[i]->name, "grp-4");
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    rz_client_destroy(&c);
}

static void test_reset_moves_a_group_back(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 1, 1);
    assert_int_equal(rz_commit(c, "grp-1", 15), 0);
    int n = 0;
    uint64_t last = 0;
    assert_int_equal(rz_fetch(c, "grp-1", NULL, 0, 100, s_count, &n, &last),
                     5); /* 16..20 */
    /* a commit never moves back; a reset does */
    assert_int_equal(rz_commit(c, "grp-1", 3), 0);
    Ratusz__V1__ConsumerList *l = NULL;
    assert_int_equal(rz_consumers(c, &l), 0);
    for (size_t i = 0; i < l->n_groups; i++)
        if (!strcmp(l->groups[i]->name, "grp-1"))
            assert_int_equal(l->groups[i]->committed_seq, 15);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    assert_int_equal(rz_consumer_reset(c, "grp-1", 3), 0);
    n = 0;
    assert_int_equal(rz_fetch(c, "grp-1", NULL, 0, 100, s_count, &n, &last),
                     17); /* 4..20 again */
    assert_int_equal(rz_consumer_reset(c, "grp-1", 9999), RZ_EBADREQ);
    assert_int_equal(rz_consumer_reset(c, "nobody", 1), RZ_ENOTFOUND);
    rz_client_destroy(&c);
}

static void test_cli_deletes_and_resets(void **state)
{
    rzt_broker_t *b = *state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s -e %s consumers reset grp-2 --to 1 2>&1",
             RZ_RATUSZ_CLI, b->front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "reset to seq 1"));
    snprintf(cmd, sizeof cmd, "%s -e %s consumers delete grp-2 2>&1",
             RZ_RATUSZ_CLI, b->front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "deleted"));
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "%s -e %s consumers reset grp-3 2>&1",
             RZ_RATUSZ_CLI, b->front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s -e %s consumers 2>&1", RZ_RATUSZ_CLI,
             b->front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_null(strstr(out, "grp-2"));
    assert_non_null(strstr(out, "grp-3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_are_capped_and_deleted),
        cmocka_unit_test(test_reset_moves_a_group_back),
        cmocka_unit_test(test_cli_deletes_and_resets),
    };
    return cmocka_run_group_tests(tests, s_setup, rzt_teardown);
}
