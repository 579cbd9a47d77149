/* test_kafka_out.c - broker -> ratusz-kafka -> mock Kafka cluster: every
 * event in Kafka once, in per-subject order, with the CloudEvents headers;
 * read back with librdkafka and with kcat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kharness.h"

#define S_TOPIC "ratusz.1261011.budget"
#define S_SUBJECTS 1000

/* What one read-back saw. */
typedef struct s_seen {
    uint64_t n;
    uint64_t total;
    uint8_t *ids;         /* by event number: times seen */
    int64_t *last_by_key; /* by subject: last event number */
    int32_t *part_by_key; /* by subject: its partition */
    uint64_t out_of_order, wrong_partition, bad_value, dups;
    uint64_t base; /* seq of event number 0 */
} s_seen_t;

static void s_seen_init(s_seen_t *s, uint64_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->ids = calloc(n, 1);
    s->last_by_key = malloc(S_SUBJECTS * sizeof *s->last_by_key);
    s->part_by_key = malloc(S_SUBJECTS * sizeof *s->part_by_key);
    for (int i = 0; i < S_SUBJECTS; i++) {
        s->last_by_key[i] = -1;
        s->part_by_key[i] = -1;
    }
}

static void s_seen_free(s_seen_t *s)
{
    free(s->ids);
    free(s->last_by_key);
    free(s->part_by_key);
}

/* Every record: an Event whose id, key and headers agree; per subject, the
 * first copy of each event comes after the first copies of the earlier
 * ones (dedup by id keeping the first). */
static int s_check(const rd_kafka_message_t *m, void *user)
{
    s_seen_t *s = user;
    s->total++;
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, m->len, m->payload);
    unsigned long long i;
    char hid[128], key[64];
    if (!ev || sscanf(ev->id, "out-%llu", &i) != 1 || i >= s->n) {
        s->bad_value++;
        if (ev)
            ratusz__v1__event__free_unpacked(ev, NULL);
        return 0;
    }
    snprintf(key, sizeof key, "unit:%llu", i % S_SUBJECTS);
    if (strcmp(rzk_header(m, "ce_id", hid, sizeof hid), ev->id) ||
        m->key_len != strlen(key) || memcmp(m->key, key, m->key_len) ||
        ev->budget == NULL || ev->budget->amount_grosze != (int64_t)i)
        s->bad_value++;
    ratusz__v1__event__free_unpacked(ev, NULL);
    int k = (int)(i % S_SUBJECTS);
    if (s->part_by_key[k] < 0)
        s->part_by_key[k] = m->partition;
    else if (s->part_by_key[k] != m->partition)
        s->wrong_partition++;
    if (s->ids[i]++) {
        s->dups++;
        return 0;
    }
    if ((int64_t)i < s->last_by_key[k])
        s->out_of_order++;
    s->last_by_key[k] = (int64_t)i;
    return 0;
}

static void s_yaml(char *buf, size_t len, const rzt_broker_t *b,
                   const rzk_mock_t *m, const char *extra)
{
    snprintf(buf, len,
             "mode: out\n"
             "broker: %s\n"
             "group: to-kafka\n"
             "commit_interval: 50\n"
             "report_interval: 200\n"
             "kafka:\n"
             "  bootstrap.servers: %s\n"
             "  log_level: 4\n"
             "%s",
             b->front, m->bootstrap, extra ? extra : "");
}

/* 100k events, half published before the bridge starts and half while it
 * runs, all land in Kafka exactly once and in per-subject order. */
static void test_out_100k_all_in_kafka_once_in_subject_order(void **state)
{
    rzt_broker_t *b = *state;
    rzk_mock_t m;
    rzk_bridge_t br;
    const char *topics[] = {S_TOPIC ":8:3", NULL};
    char yaml[2048];
    const uint64_t n = 100000;
    assert_int_equal(rzk_mock_start(&m, 3, topics), 0);
    assert_int_equal(rzk_publish_n(b, "out", 0, n / 2, S_SUBJECTS), 0);
    s_yaml(yaml, sizeof yaml, b, &m, NULL);
    assert_int_equal(rzk_bridge_start(&br, yaml), 0);
    assert_int_equal(rzk_publish_n(b, "out", n / 2, n / 2, S_SUBJECTS), 0);
    int rc = rzk_wait_group(b, "to-kafka", n, 120);
    if (rc)
        rzk_bridge_cleanup(&br, 1);
    assert_int_equal(rc, 0);
    assert_int_equal(rzk_bridge_stop(&br), 0);

    s_seen_t s;
    s_seen_init(&s, n);
    int64_t got =
        rzk_read_topic(m.bootstrap, S_TOPIC, (int64_t)n, 60, s_check, &s);
    assert_int_equal(got, (int64_t)n);
    assert_int_equal(s.bad_value, 0);
    assert_int_equal(s.dups, 0);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(s.wrong_partition, 0);
    for (uint64_t i = 0; i < n; i++)
        if (s.ids[i] != 1)
            fail_msg("event out-%llu seen %d times", (unsigned long long)i,
                     s.ids[i]);
    s_seen_free(&s);

    /* what ratusz stats shows of the bridge: its last report at exit */
    assert_true(rzk_component_metric(b, "kafka/out", "events_produced") ==
                (double)n);
    assert_true(rzk_component_metric(b, "kafka/out", "committed_seq") ==
                (double)n);
    assert_true(rzk_component_metric(b, "kafka/out", "broker_lag") == 0.0);
    assert_true(rzk_component_metric(b, "kafka/out", "quarantined") == 0.0);
    rzk_bridge_cleanup(&br, 0);
    rzk_mock_stop(&m);
}

/* The same records as a real Kafka client sees them: kcat reads the
 * CloudEvents JSON values, keys and ce_* headers from the mock cluster. */
static void test_out_cloudevents_json_read_by_kcat(void **state)
{
    rzt_broker_t *b = *state;
    if (access("/usr/bin/kcat", X_OK) != 0) {
        fprintf(stderr, "kcat not installed (deploy/install-deps.sh "
                        "--with-test-tools)\n");
        skip();
    }
    rzk_mock_t m;
    rzk_bridge_t br;
    const char *topics[] = {"gmina.1261011.budget.test.v1:2:1", NULL};
    char yaml[2048];
    assert_int_equal(rzk_mock_start(&m, 1, topics), 0);
    uint64_t head = rzt_head(b);
    assert_int_equal(rzk_publish_n(b, "kc", 0, 1000, 10), 0);
    s_yaml(yaml, sizeof yaml, b, &m,
           "format: cloudevents-json\n"
           "topic: gmina.{tenant}.{type}\n"
           "topic_prefix: '1261011.budget.'\n"
           "name: kafka/kcat\n");
    /* a new group starts after what the first test already carried */
    assert_int_equal(rzk_bridge_start(&br, yaml), 0);
    int rc = rzk_wait_group(b, "to-kafka", head + 1000, 60);
    if (rc)
        rzk_bridge_cleanup(&br, 1);
    assert_int_equal(rc, 0);
    assert_int_equal(rzk_bridge_stop(&br), 0);

    char cmd[1024];
    static char out[1 << 20];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/kcat -C -b %s -t gmina.1261011.budget.test.v1 -e -q "
             "-f '%%k|%%h|%%s\\n' 2>&1",
             m.bootstrap);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    int lines = 0, found = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        if (!strstr(line, "ce_id=kc-7,"))
            continue;
        found++;
        assert_non_null(strstr(line, "unit:7|ce_specversion=1.0,ce_id=kc-7,"
                                     "ce_source=/1261011/budget/test,"
                                     "ce_type=pl.gov.gmina.budget.test.v1,"
                                     "ce_subject=unit:7,"
                                     "ce_time=2024-05-01T08:00:00.000007Z,"
                                     "ce_tenant=1261011,"));
        assert_non_null(strstr(line, "content-type=application/"
                                     "cloudevents+json; charset=UTF-8|"));
        assert_non_null(strstr(line, "\"id\":\"kc-7\""));
        assert_non_null(
            strstr(line, "\"time\":\"2024-05-01T08:00:00.000007Z\""));
        assert_non_null(strstr(line, "\"amount_grosze\":7"));
    }
    assert_int_equal(lines, 1000);
    assert_int_equal(found, 1);
    rzk_bridge_cleanup(&br, 0);
    rzk_mock_stop(&m);
}

/* A bad librdkafka property is reported with the file and line. */
static void test_out_bad_kafka_property_names_file_and_line(void **state)
{
    (void)state;
    rzk_bridge_t br;
    char out[4096], want[600];
    assert_int_equal(rzk_bridge_prepare(&br,
                                        "mode: out\n"
                                        "kafka:\n"
                                        "  bootstrap.servers: 127.0.0.1:1\n"
                                        "  linger.ms: soon\n"),
                     0);
    assert_int_equal(rzk_bridge_cmd(&br, "check", out, sizeof out), 2);
    /* line 1 is the data_dir the harness writes first */
    snprintf(want, sizeof want,
             "%s:5: kafka.linger.ms: Invalid value for configuration "
             "property \"queue.buffering.max.ms\"",
             br.conf);
    if (!strstr(out, want))
        fail_msg("expected '%s' in: %s", want, out);
    rzk_bridge_cleanup(&br, 0);

    /* what the bridge's promise rests on cannot be turned off, by the
     * file or by a flag */
    assert_int_equal(rzk_bridge_prepare(&br,
                                        "kafka:\n"
                                        "  bootstrap.servers: 127.0.0.1:1\n"
                                        "  enable.idempotence: false\n"),
                     0);
    assert_int_equal(rzk_bridge_cmd(&br, "check", out, sizeof out), 2);
    snprintf(want, sizeof want, "%s:4: kafka.enable.idempotence: must be true",
             br.conf);
    if (!strstr(out, want))
        fail_msg("expected '%s' in: %s", want, out);
    assert_int_equal(rzk_bridge_cmd(&br,
                                    "check --mode in --topics t "
                                    "--kafka enable.auto.commit=true",
                                    out, sizeof out),
                     2);
    assert_non_null(strstr(out, "--kafka enable.auto.commit: must be false"));
    assert_int_equal(rzk_bridge_cmd(&br, "check --mode in", out, sizeof out),
                     2);
    assert_non_null(
        strstr(out, "topics: mode 'in' needs at least one Kafka topic"));
    assert_int_equal(
        rzk_bridge_cmd(&br, "check --topic 'ratusz.{gmina}'", out, sizeof out),
        2);
    assert_non_null(strstr(out, "topic: unknown placeholder '{gmina}'"));
    rzk_bridge_cleanup(&br, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_100k_all_in_kafka_once_in_subject_order),
        cmocka_unit_test(test_out_cloudevents_json_read_by_kcat),
        cmocka_unit_test(test_out_bad_kafka_property_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
