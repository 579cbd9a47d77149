/* test_topics.c - the journal writer's map of topics stays bounded.
 *
 * Publishers choose topics (tenant, domain, type), so a publisher making up
 * a new type for every event would grow the writer's map of each topic's
 * last seq without end. Past 65,536 topics the writer drops those whose
 * last seq LMDB already has, and looks a dropped one up in LMDB when it
 * comes back: the stream's position frame (seq, previous seq of the same
 * topic) must say the same as if nothing had been dropped.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define S_TOPICS 70000 /* past the writer's 65,536 */

static int s_setup(void **state)
{
    static const char *const extra[] = {"--log-level", "debug", NULL};
    return rzt_setup_with(state, extra);
}

/* Publish one event of type pl.gov.gmina.budget.<kind>.v1 (topic
 * 1261011.budget.<kind>.v1) and return its seq. */
static uint64_t s_publish(rz_client_t *c, const char *kind, const char *id)
{
    char type[96];
    snprintf(type, sizeof type, "pl.gov.gmina.budget.%s.v1", kind);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/topics", id, "unit:1", 1, 1);
    ev.type = type;
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    return seq;
}

static int s_log_has(const rzt_broker_t *b, const char *needle)
{
    FILE *f = fopen(b->log, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_dropped_topic_keeps_its_previous_seq(void **state)
{
    rzt_broker_t *b = *state;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    static const char prefix[] = "1261011.budget.first.";
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    assert_int_equal(zmq_connect(sub, b->stream), 0);
    usleep(300000);

    rz_client_t *c = rzt_client(b, 4096, 256);
    assert_non_null(c);
    uint64_t first = s_publish(c, "first", "first-1");

    /* S_TOPICS events, each of a topic of its own */
    for (int i = 0; i < S_TOPICS; i++) {
        char kind[32], id[32];
        snprintf(kind, sizeof kind, "t%d", i);
        snprintf(id, sizeof id, "many-%d", i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        char type[96];
        snprintf(type, sizeof type, "pl.gov.gmina.budget.%s.v1", kind);
        rzt_event(&ev, &be, "/1261011/budget/topics", id, "unit:1", 1, 1);
        ev.type = type;
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 60000), 0);
    rz_client_stats_t st;
    rz_client_stats(c, &st);
    assert_int_equal(st.acked, S_TOPICS + 1);
    /* a GET waits until LMDB holds everything acked */
    uint64_t head = rzt_head(b);
    assert_int_equal(rz_get_seq(c, head, NULL, NULL), 1);

    /* the next group trims the map: "first" goes, and comes back from
     * LMDB with its last seq */
    uint64_t again = s_publish(c, "first", "first-2");
    assert_true(again > head);
    assert_true(s_log_has(b, "dropped from memory"));
    /* and a third one follows the second, from the map again */
    uint64_t third = s_publish(c, "first", "first-3");
    assert_true(third > again);

    /* the stream: [topic][seq, prev (big-endian)][event], three times */
    uint64_t seen[3][2] = {{0}};
    for (int k = 0; k < 3; k++) {
        zmq_msg_t m;
        int timeout = 10000;
        zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        for (int part = 0; part < 3; part++) {
            zmq_msg_init(&m);
            assert_true(zmq_msg_recv(&m, sub, 0) >= 0);
            if (part == 1) {
                assert_int_equal(zmq_msg_size(&m), 16);
                const uint8_t *p = zmq_msg_data(&m);
                for (int j = 0; j < 8; j++) {
                    seen[k][0] = seen[k][0] << 8 | p[j];
                    seen[k][1] = seen[k][1] << 8 | p[8 + j];
                }
            }
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (!more)
                break;
        }
    }
    assert_int_equal(seen[0][0], first);
    assert_int_equal(seen[0][1], 0);
    assert_int_equal(seen[1][0], again);
    assert_int_equal(seen[1][1], first);
    assert_int_equal(seen[2][0], third);
    assert_int_equal(seen[2][1], again);
    rz_client_destroy(&c);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_dropped_topic_keeps_its_previous_seq, s_setup, rzt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
