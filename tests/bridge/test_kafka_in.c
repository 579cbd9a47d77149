/* test_kafka_in.c - mock Kafka cluster -> ratusz-kafka -> broker: every
 * record in the broker once, in per-subject order, from all three value
 * formats; records that map to nothing are quarantined with their topic,
 * partition and offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kharness.h"

#define S_TOPIC "ratusz.in"
#define S_SUBJECTS 1000

typedef struct s_check {
    uint64_t n, count, bad, out_of_order, dups;
    uint8_t *seen;
    int64_t *last;
} s_check_t;

static int s_on_event(const rz_event_t *e, void *user)
{
    s_check_t *c = user;
    const Ratusz__V1__Event *ev = e->msg;
    unsigned long long i;
    c->count++;
    if (sscanf(ev->id, "kin-%llu", &i) != 1 || i >= c->n) {
        c->bad++;
        return 0;
    }
    char subject[32];
    snprintf(subject, sizeof subject, "unit:%llu", i % S_SUBJECTS);
    if (strcmp(ev->subject, subject) || !ev->budget ||
        ev->budget->amount_grosze != (int64_t)i ||
        strcmp(ev->budget->unit, "Urząd Miasta Łodzi") ||
        strcmp(ev->source, "/1261011/budget/kafka") ||
        strcmp(ev->tenant, "1261011"))
        c->bad++;
    /* the two JSON forms carry 10:00 in +02:00; the protobuf one its µs */
    int64_t want = i % 3 == 0 ? INT64_C(1714550400000000) + (int64_t)i
                              : INT64_C(1714550400000000);
    if (ev->time != want)
        c->bad++;
    if (c->seen[i]++)
        c->dups++;
    int k = (int)(i % S_SUBJECTS);
    if ((int64_t)i < c->last[k])
        c->out_of_order++;
    c->last[k] = (int64_t)i;
    return 0;
}

/* Replay the whole store and check every event. */
static void s_check_store(const rzt_broker_t *b, uint64_t n)
{
    s_check_t c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.seen = calloc(n, 1);
    c.last = malloc(S_SUBJECTS * sizeof *c.last);
    for (int i = 0; i < S_SUBJECTS; i++)
        c.last[i] = -1;
    rz_client_t *cl = rzt_client(b, 0, 0);
    rz_replay_t r = {1, 0, NULL, 0, 0};
    int64_t got = rz_replay(cl, &r, s_on_event, &c);
    rz_client_destroy(&cl);
    assert_int_equal(got, (int64_t)n);
    assert_int_equal(c.count, n);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.dups, 0);
    assert_int_equal(c.out_of_order, 0);
    for (uint64_t i = 0; i < n; i++)
        if (c.seen[i] != 1)
            fail_msg("kin-%llu stored %d times", (unsigned long long)i,
                     c.seen[i]);
    free(c.seen);
    free(c.last);
}

typedef struct s_find {
    const char *value;
    int32_t partition;
    int64_t offset;
} s_find_t;

static int s_find(const rd_kafka_message_t *m, void *user)
{
    s_find_t *f = user;
    if (m->len == strlen(f->value) && !memcmp(m->payload, f->value, m->len)) {
        f->partition = m->partition;
        f->offset = m->offset;
    }
    return 0;
}

/* 100k records, half produced before the bridge starts and half while it
 * runs, in three value formats, plus 10 that are not events. */
static void test_in_100k_all_in_broker_once_bad_ones_quarantined(void **state)
{
    rzt_broker_t *b = *state;
    rzk_mock_t m;
    rzk_bridge_t br;
    const char *topics[] = {S_TOPIC ":8:3", NULL};
    char yaml[2048];
    const uint64_t n = 100000;
    assert_int_equal(rzk_mock_start(&m, 3, topics), 0);
    assert_int_equal(
        rzk_produce(m.bootstrap, S_TOPIC, "kin", 0, n / 2, S_SUBJECTS, 10000),
        5);
    snprintf(yaml, sizeof yaml,
             "mode: in\n"
             "broker: %s\n"
             "topics: [" S_TOPIC "]\n"
             "commit_interval: 50\n"
             "report_interval: 200\n"
             "kafka:\n"
             "  bootstrap.servers: %s\n"
             "  group.id: county\n"
             "  log_level: 4\n",
             b->front, m.bootstrap);
    assert_int_equal(rzk_bridge_start(&br, yaml), 0);
    assert_int_equal(rzk_produce(m.bootstrap, S_TOPIC, "kin", n / 2, n / 2,
                                 S_SUBJECTS, 10000),
                     5);
    int rc = rzk_wait_head(b, n, 120);
    if (rc)
        rzk_bridge_cleanup(&br, 1);
    assert_int_equal(rc, 0);
    /* the bridge commits the last offsets, then stops */
    assert_int_equal(rzk_bridge_stop(&br), 0);
    assert_int_equal(rzt_head(b), n);
    s_check_store(b, n);

    assert_true(rzk_component_metric(b, "kafka/in", "events_published") ==
                (double)n);
    assert_true(rzk_component_metric(b, "kafka/in", "duplicates") == 0.0);
    assert_true(rzk_component_metric(b, "kafka/in", "quarantined") == 10.0);
    assert_true(rzk_component_metric(b, "kafka/in", "events_consumed") ==
                (double)(n + 10));
    assert_true(rzk_component_metric(b, "kafka/in", "kafka_lag") == 0.0);
    /* every record read is published or quarantined, and Kafka has the
     * group at the end of every partition */
    assert_int_equal(rzk_kafka_committed(m.bootstrap, "county", S_TOPIC, 8),
                     (int64_t)(n + 10));

    /* the quarantine names where each bad record lives */
    char out[16384], want[512];
    assert_int_equal(rzk_bridge_cmd(&br, "quarantine count", out, sizeof out),
                     0);
    assert_string_equal(out, "10\n");
    assert_int_equal(rzk_bridge_cmd(&br, "quarantine list", out, sizeof out),
                     0);
    s_find_t f = {"not an event 59999", -1, -1};
    assert_int_equal(
        rzk_read_topic(m.bootstrap, S_TOPIC, (int64_t)(n + 10), 60, s_find, &f),
        (int64_t)(n + 10));
    assert_true(f.partition >= 0);
    snprintf(want, sizeof want,
             "\"topic\":\"ratusz.in\",\"partition\":%d,\"offset\":%lld,"
             "\"reason\":\"not a CloudEvent: no content-type "
             "application/cloudevents+json or application/x-protobuf; "
             "messageType=ratusz.v1.Event, and no ce_specversion header\","
             "\"key\":\"unit:999\",\"headers\":{},"
             "\"value\":\"not an event 59999\"}",
             (int)f.partition, (long long)f.offset);
    if (!strstr(out, want))
        fail_msg("expected %s in:\n%s", want, out);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 10);
    rzk_bridge_cleanup(&br, 0);
    rzk_mock_stop(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_100k_all_in_broker_once_bad_ones_quarantined),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
