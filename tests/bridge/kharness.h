/* kharness.h - helpers for the Kafka bridge's tests: the mock cluster
 * process (ratusz-kafka-mock) with its fault-injection commands, the
 * bridge process (ratusz-kafka), and a Kafka reader and writer on
 * librdkafka. The broker comes from tests/harness. */
#ifndef RATUSZ_TEST_KHARNESS_H
#define RATUSZ_TEST_KHARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"

typedef struct rzk_mock {
    pid_t pid;
    FILE *in;  /* commands */
    FILE *out; /* answers */
    char bootstrap[512];
} rzk_mock_t;

/* Start ratusz-kafka-mock with brokers brokers and the topics given as
 * "name:partitions:rf" (NULL-terminated, may be NULL). 0 or -1. */
int rzk_mock_start(rzk_mock_t *m, int brokers, const char *const *topics);

/* Send one command ("down 1"); 0 when the answer is "ok". */
int rzk_mock_cmd(rzk_mock_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void rzk_mock_stop(rzk_mock_t *m);

typedef struct rzk_bridge {
    pid_t pid;
    char dir[256]; /* temp dir: config, data_dir */
    char conf[320];
    char log[320];
} rzk_bridge_t;

/* Write yaml to a config file in a fresh temp dir (data_dir is set to a
 * folder in it unless yaml sets one) and start ratusz-kafka -c on it. */
int rzk_bridge_start(rzk_bridge_t *b, const char *yaml);

/* Only write the config (for rzk_bridge_cmd). */
int rzk_bridge_prepare(rzk_bridge_t *b, const char *yaml);

/* Start it again with the same config and data dir. */
int rzk_bridge_restart(rzk_bridge_t *b);

/* SIGTERM, wait; the exit status, or -1. */
int rzk_bridge_stop(rzk_bridge_t *b);

/* SIGKILL, wait. */
void rzk_bridge_kill(rzk_bridge_t *b);

/* Stop if running, print the log when failed is set, remove the dir. */
void rzk_bridge_cleanup(rzk_bridge_t *b, int failed);

/* Run ratusz-kafka with args (after -c the bridge's config) and capture
 * stdout. The exit status. */
int rzk_bridge_cmd(rzk_bridge_t *b, const char *args, char *out, size_t len);

/* The committed seq of a broker consumer group (0 if none). */
uint64_t rzk_group_seq(const rzt_broker_t *br, const char *group);

/* Wait until the group's committed seq reaches seq (up to secs).
 * 0 or -1. */
int rzk_wait_group(const rzt_broker_t *br, const char *group, uint64_t seq,
                   int secs);

/* Wait until the broker's head reaches seq. 0 or -1. */
int rzk_wait_head(const rzt_broker_t *br, uint64_t seq, int secs);

/* One metric of a component as the broker last got it (NaN if absent). */
double rzk_component_metric(const rzt_broker_t *br, const char *component,
                            const char *metric);

/* Called for every record read back; return non-zero to stop. */
typedef int (*rzk_record_cb)(const rd_kafka_message_t *m, void *user);

/* Read every partition of topic from the beginning, until want records
 * were read and every partition is at its end (or secs passed). Returns
 * the number of records read, or -1. */
int64_t rzk_read_topic(const char *bootstrap, const char *topic, int64_t want,
                       int secs, rzk_record_cb cb, void *user);

/* A header's value as a NUL-terminated string in buf ("" if absent). */
const char *rzk_header(const rd_kafka_message_t *m, const char *name, char *buf,
                       size_t len);

/* Publish n budget events to the broker, fast: ids "<prefix>-<i>",
 * subjects "unit:<i % subjects>", amount i, source /1261011/budget/test.
 * Returns 0 when all were acked. */
int rzk_publish_n(const rzt_broker_t *br, const char *prefix, uint64_t from,
                  uint64_t n, uint32_t subjects);

/* The committed offsets of a Kafka consumer group on topic, summed over
 * its partitions (-1 on error). */
int64_t rzk_kafka_committed(const char *bootstrap, const char *group,
                            const char *topic, int partitions);

#endif

/* Produce n good records to topic (idempotent producer, key = subject
 * "unit:<i % subjects>"): event i has id "<prefix>-<i>", amount i, source
 * /1261011/budget/kafka; by i % 3 a protobuf Event, CloudEvents JSON
 * (structured) or binary mode (ce_* headers, JSON data). After every
 * bad_every-th good one (0: never) comes one record that maps to nothing
 * (no CloudEvents headers). Returns the number of bad ones, or -1. */
int64_t rzk_produce(const char *bootstrap, const char *topic,
                    const char *prefix, uint64_t from, uint64_t n,
                    uint32_t subjects, uint64_t bad_every);
