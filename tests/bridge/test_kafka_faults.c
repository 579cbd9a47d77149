/* test_kafka_faults.c - faults injected into the mock Kafka cluster while
 * the bridge carries events, both ways: a broker down and back, requests
 * failing, partition leaders moving. Nothing is lost, and after dedup by
 * id nothing is doubled and every subject is in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kharness.h"

#define S_SUBJECTS 500

typedef struct s_seen {
    uint64_t n, total, dups, out_of_order, bad;
    uint8_t *ids;
    int64_t *last;
    const char *prefix;
} s_seen_t;

static void s_seen_init(s_seen_t *s, uint64_t n, const char *prefix)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->prefix = prefix;
    s->ids = calloc(n, 1);
    s->last = malloc(S_SUBJECTS * sizeof *s->last);
    for (int i = 0; i < S_SUBJECTS; i++)
        s->last[i] = -1;
}

static void s_seen_free(s_seen_t *s)
{
    free(s->ids);
    free(s->last);
}

/* Dedup by id keeping the first copy: per subject, first copies in order. */
static void s_see(s_seen_t *s, const char *id)
{
    unsigned long long i;
    char fmt[32];
    snprintf(fmt, sizeof fmt, "%s-%%llu", s->prefix);
    s->total++;
    if (sscanf(id, fmt, &i) != 1 || i >= s->n) {
        s->bad++;
        return;
    }
    if (s->ids[i]++) {
        s->dups++;
        return;
    }
    int k = (int)(i % S_SUBJECTS);
    if ((int64_t)i < s->last[k])
        s->out_of_order++;
    s->last[k] = (int64_t)i;
}

static void s_seen_assert_all_once(s_seen_t *s)
{
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->out_of_order, 0);
    for (uint64_t i = 0; i < s->n; i++)
        if (!s->ids[i])
            fail_msg("%s-%llu lost", s->prefix, (unsigned long long)i);
    assert_int_equal(s->total - s->dups, s->n);
}

static int s_on_record(const rd_kafka_message_t *m, void *user)
{
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, m->len, m->payload);
    if (!ev) {
        ((s_seen_t *)user)->bad++;
        return 0;
    }
    s_see(user, ev->id);
    ratusz__v1__event__free_unpacked(ev, NULL);
    return 0;
}

static int s_on_event(const rz_event_t *e, void *user)
{
    s_see(user, e->msg->id);
    return 0;
}

#define S_OUT_TOPIC "ratusz.1261011.budget"

/* Broker -> Kafka while Kafka misbehaves. */
static void test_out_faults_lose_nothing_and_keep_subject_order(void **state)
{
    rzt_broker_t *b = *state;
    rzk_mock_t m;
    rzk_bridge_t br;
    const char *topics[] = {S_OUT_TOPIC ":6:3", NULL};
    char yaml[2048];
    const uint64_t chunk = 15000, n = 4 * chunk;
    assert_int_equal(rzk_mock_start(&m, 3, topics), 0);
    snprintf(yaml, sizeof yaml,
             "mode: out\nbroker: %s\ngroup: faults\ncommit_interval: 50\n"
             "report_interval: 200\n"
             "kafka:\n  bootstrap.servers: %s\n  log_level: 3\n"
             "  retry.backoff.ms: 20\n",
             b->front, m.bootstrap);
    assert_int_equal(rzk_bridge_start(&br, yaml), 0);

    /* each fault lands while the bridge is busy with a chunk */
    assert_int_equal(rzk_publish_n(b, "f", 0, chunk, S_SUBJECTS), 0);
    assert_int_equal(
        rzk_mock_cmd(&m, "errors Produce 8 NOT_LEADER_FOR_PARTITION"), 0);
    assert_int_equal(rzk_mock_cmd(&m, "leader " S_OUT_TOPIC " 0 2"), 0);
    assert_int_equal(rzk_mock_cmd(&m, "leader " S_OUT_TOPIC " 1 3"), 0);

    assert_int_equal(rzk_publish_n(b, "f", chunk, chunk, S_SUBJECTS), 0);
    assert_int_equal(rzk_mock_cmd(&m, "down 1"), 0);
    usleep(1500 * 1000);
    assert_int_equal(rzk_mock_cmd(&m, "up 1"), 0);

    assert_int_equal(rzk_publish_n(b, "f", 2 * chunk, chunk, S_SUBJECTS), 0);
    assert_int_equal(
        rzk_mock_cmd(&m, "errors Produce 6 REQUEST_TIMED_OUT "
                         "NOT_ENOUGH_REPLICAS LEADER_NOT_AVAILABLE "
                         "REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS_AFTER_APPEND "
                         "NOT_LEADER_FOR_PARTITION"),
        0);
    assert_int_equal(rzk_mock_cmd(&m, "leader " S_OUT_TOPIC " 2 1"), 0);

    /* an error Kafka does not retry: the record fails, the bridge rewinds */
    assert_int_equal(rzk_publish_n(b, "f", 3 * chunk, chunk, S_SUBJECTS), 0);
    assert_int_equal(
        rzk_mock_cmd(&m, "errors Produce 1 TOPIC_AUTHORIZATION_FAILED"), 0);

    uint64_t head = rzt_head(b);
    int rc = rzk_wait_group(b, "faults", head, 120);
    if (rc)
        rzk_bridge_cleanup(&br, 1);
    assert_int_equal(rc, 0);
    assert_int_equal(rzk_bridge_stop(&br), 0);

    s_seen_t s;
    s_seen_init(&s, n, "f");
    int64_t got = rzk_read_topic(m.bootstrap, S_OUT_TOPIC, (int64_t)n, 60,
                                 s_on_record, &s);
    assert_true(got >= (int64_t)n);
    s_seen_assert_all_once(&s);
    fprintf(stderr, "out: %llu records for %llu events (%llu re-sent)\n",
            (unsigned long long)s.total, (unsigned long long)n,
            (unsigned long long)s.dups);
    s_seen_free(&s);
    /* the refused batch was seen and answered with a rewind */
    assert_true(rzk_component_metric(b, "kafka/out", "delivery_errors") >= 1.0);
    assert_true(rzk_component_metric(b, "kafka/out", "rewinds") >= 1.0);
    rzk_bridge_cleanup(&br, 0);
    rzk_mock_stop(&m);
}

#define S_IN_TOPIC "ratusz.faults.in"

/* Kafka -> broker while Kafka misbehaves; the broker's dedup leaves each
 * event stored once. */
static void test_in_faults_lose_nothing_and_keep_subject_order(void **state)
{
    rzt_broker_t *b = *state;
    rzk_mock_t m;
    rzk_bridge_t br;
    const char *topics[] = {S_IN_TOPIC ":6:3", NULL};
    char yaml[2048];
    const uint64_t chunk = 15000, n = 3 * chunk;
    uint64_t head0 = rzt_head(b);
    assert_int_equal(rzk_mock_start(&m, 3, topics), 0);
    snprintf(yaml, sizeof yaml,
             "mode: in\nbroker: %s\ntopics: " S_IN_TOPIC "\n"
             "commit_interval: 50\nreport_interval: 200\n"
             "kafka:\n  bootstrap.servers: %s\n  group.id: faults\n"
             "  log_level: 3\n  retry.backoff.ms: 20\n",
             b->front, m.bootstrap);
    assert_int_equal(rzk_bridge_start(&br, yaml), 0);

    assert_int_equal(
        rzk_produce(m.bootstrap, S_IN_TOPIC, "g", 0, chunk, S_SUBJECTS, 0), 0);
    assert_int_equal(
        rzk_mock_cmd(&m, "errors Fetch 6 NOT_LEADER_FOR_PARTITION"), 0);
    assert_int_equal(rzk_mock_cmd(&m, "leader " S_IN_TOPIC " 0 3"), 0);
    assert_int_equal(
        rzk_mock_cmd(&m, "errors OffsetCommit 3 REQUEST_TIMED_OUT"), 0);

    assert_int_equal(
        rzk_produce(m.bootstrap, S_IN_TOPIC, "g", chunk, chunk, S_SUBJECTS, 0),
        0);
    assert_int_equal(rzk_mock_cmd(&m, "down 2"), 0);
    usleep(1500 * 1000);
    assert_int_equal(rzk_mock_cmd(&m, "up 2"), 0);
    assert_int_equal(rzk_mock_cmd(&m, "leader " S_IN_TOPIC " 3 1"), 0);

    assert_int_equal(rzk_produce(m.bootstrap, S_IN_TOPIC, "g", 2 * chunk, chunk,
                                 S_SUBJECTS, 0),
                     0);
    assert_int_equal(rzk_mock_cmd(&m, "errors Fetch 4 UNKNOWN_TOPIC_OR_PART "
                                      "REQUEST_TIMED_OUT LEADER_NOT_AVAILABLE "
                                      "NOT_LEADER_FOR_PARTITION"),
                     0);
    int rc = rzk_wait_head(b, head0 + n, 120);
    if (rc)
        rzk_bridge_cleanup(&br, 1);
    assert_int_equal(rc, 0);
    assert_int_equal(rzk_bridge_stop(&br), 0);
    assert_int_equal(rzt_head(b), head0 + n);

    s_seen_t s;
    s_seen_init(&s, n, "g");
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_replay_t r = {head0 + 1, 0, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &r, s_on_event, &s), (int64_t)n);
    rz_client_destroy(&c);
    s_seen_assert_all_once(&s);
    assert_int_equal(s.dups, 0); /* the broker kept one of each */
    s_seen_free(&s);
    rzk_bridge_cleanup(&br, 0);
    rzk_mock_stop(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_faults_lose_nothing_and_keep_subject_order),
        cmocka_unit_test(test_in_faults_lose_nothing_and_keep_subject_order),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
