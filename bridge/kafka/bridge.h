/* bridge.h - ratusz-kafka internals: the configuration, the two directions,
 * the component report and a small log.
 *
 *   outbound (mode: out)   broker --FETCH--> bridge --produce--> Kafka
 *                          the broker group's position is committed only
 *                          up to the last event whose every predecessor
 *                          Kafka has acknowledged
 *   inbound  (mode: in)    Kafka --consume--> bridge --publish--> broker
 *                          a partition's offset is committed only up to the
 *                          last record whose every predecessor the broker
 *                          has acked (or that went to quarantine)
 *
 * One process runs one direction: a deployment that needs both runs two,
 * each with its own name in `ratusz stats` ("kafka/out", "kafka/in").
 */
#ifndef RATUSZ_KAFKA_BRIDGE_H
#define RATUSZ_KAFKA_BRIDGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "map.h"
#include "quarantine.h"
#include "ratusz/conf.h"
#include "ratusz/core/log.h"
#include "ratusz/keyopts.h"
#include "ratusz/ratusz.h"

enum rzk_mode { RZK_MODE_OUT = 0, RZK_MODE_IN = 1 };

typedef struct rzk_conf {
    int mode;                 /* enum rzk_mode */
    char *name;               /* component name; "" = "kafka/<mode>" */
    char *broker;             /* front endpoint of ratuszd */
    char *key;                /* CURVE: the bridge's secret key file */
    char *server_key;         /* CURVE: the broker's public key */
    char *data_dir;           /* quarantine store */
    char *group;              /* out: the broker consumer group */
    char *topic_prefix;       /* out: broker topics carried ("" = all) */
    char *topic;              /* out: Kafka topic template */
    int format;               /* out: enum rzk_format */
    rz_conf_list_t topics;    /* in: Kafka topics (a leading ^ is a regex) */
    uint64_t fetch_max;       /* out: events per FETCH */
    uint64_t inflight_max;    /* out: produced, not yet acknowledged */
    uint64_t window;          /* in: rz_client window */
    uint64_t batch;           /* in: events per PUBB */
    uint64_t commit_interval; /* ms between position commits */
    uint64_t report_interval; /* ms between REPORTs */
    uint64_t timeout;         /* ms: broker request timeout */
    int log_level;
    rz_conf_map_t kafka; /* librdkafka properties, passed through */
    /* not options: where the configuration came from, for messages */
    const char *file;
    /* the keys loaded from key and server_key, for every rz_client the
     * bridge makes (NULL: plain) */
    const rz_keyopts_t *keys;
} rzk_conf_t;

extern const rz_conf_option_t rzk_options[];

/* The whole-config check after loading: template, topics, name. */
int rzk_conf_check(rzk_conf_t *c, char *err, size_t err_len);

/* A librdkafka configuration from c->kafka plus the bridge's defaults for
 * its guarantees. A property librdkafka rejects is reported as
 * "FILE:LINE: kafka.KEY: librdkafka's message". NULL with err on failure. */
rd_kafka_conf_t *rzk_kafka_conf(const rzk_conf_t *c, char *err, size_t err_len);

/* ---------------------------------------------------------------------------
 * Component report
 */

#define RZK_HIST_BUCKETS 16

/* Latency in µs, with fixed bucket bounds (1ms .. 60s). */
typedef struct rzk_hist {
    uint64_t counts[RZK_HIST_BUCKETS + 1];
    uint64_t count;
    double sum;
} rzk_hist_t;

void rzk_hist_add(rzk_hist_t *h, double us);

#define RZK_METRICS 16

typedef struct rzk_report {
    rz_client_t *c; /* its own client, with a short timeout, so that a
                       report never holds up the data path for long */
    int64_t started;
    int64_t last;
    char name[128];
    const char *mode;
    struct {
        const char *name, *help;
        double value;
        int counter;
    } m[RZK_METRICS];
    int n;
    rzk_hist_t *hist;
    const char *hist_name;
} rzk_report_t;

int rzk_report_init(rzk_report_t *r, const rzk_conf_t *c);
void rzk_report_close(rzk_report_t *r);
/* Set metric i (declare order is send order). */
void rzk_report_metric(rzk_report_t *r, int i, const char *name, double v,
                       int counter, const char *help);
/* Send when report_interval has passed (or force). */
void rzk_report_send(rzk_report_t *r, const rzk_conf_t *c, const char *status,
                     const char *detail, int force);

/* ---------------------------------------------------------------------------
 * The directions. Each runs until *stop is set (SIGTERM/SIGINT), then
 * finishes what is in flight as far as it can in a few seconds, commits
 * what is safe and returns 0, or a negative code when it could not start.
 */
int rzk_run_out(const rzk_conf_t *c, volatile sig_atomic_t *stop);
int rzk_run_in(const rzk_conf_t *c, volatile sig_atomic_t *stop);

#endif
