/* conf.c - ratusz-kafka's option table, the whole-config check, and the
 * librdkafka configuration with the bridge's guarantees built in */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"

#define S_OFF(f) offsetof(rzk_conf_t, f)
#define S_U32 UINT64_C(4294967295)

static const char *const s_modes[] = {"out", "in", NULL};
static const char *const s_formats[] = {"protobuf", "cloudevents-json", NULL};
static const char *const s_levels[] = {"error", "warn", "info", "debug", NULL};

const rz_conf_option_t rzk_options[] = {
    {"mode", RZ_CONF_ENUM, S_OFF(mode), "out", s_modes, 0, 0, "out|in",
     "out: broker -> Kafka; in: Kafka -> broker"},
    {"name", RZ_CONF_STRING, S_OFF(name), "", NULL, 0, 0, "NAME",
     "component name in `ratusz stats`; empty: kafka/<mode>"},
    {"broker", RZ_CONF_STRING, S_OFF(broker), RZ_DEFAULT_FRONT, NULL, 0, 0,
     "ENDPOINT", "front endpoint of the broker (ratuszd listen)"},
    {"key", RZ_CONF_STRING, S_OFF(key), "", NULL, 0, 0, "FILE",
     "the bridge's CURVE secret key file (NAME.key from `ratusz keygen`; "
     "empty: plain connections)"},
    {"server_key", RZ_CONF_STRING, S_OFF(server_key), "", NULL, 0, 0,
     "FILE|Z85", "the broker's CURVE public key: its .pub file or 40 Z85 "
     "characters (with key)"},
    {"data_dir", RZ_CONF_STRING, S_OFF(data_dir), "./var/ratusz-kafka", NULL, 0,
     0, "DIR", "the bridge's own state: the quarantine store"},
    {"group", RZ_CONF_STRING, S_OFF(group), "kafka-bridge", NULL, 0, 0, "GROUP",
     "out: durable consumer group on the broker"},
    {"topic_prefix", RZ_CONF_STRING, S_OFF(topic_prefix), "", NULL, 0, 0,
     "PREFIX", "out: carry only broker topics with this prefix (\"\" = all)"},
    {"topic", RZ_CONF_STRING, S_OFF(topic), "ratusz.{tenant}.{domain}", NULL, 0,
     0, "TEMPLATE",
     "out: Kafka topic of an event; {tenant} {domain} {type} {topic}"},
    {"format", RZ_CONF_ENUM, S_OFF(format), "protobuf", s_formats, 0, 0,
     "protobuf|cloudevents-json", "out: the Kafka record's value"},
    {"topics", RZ_CONF_LIST, S_OFF(topics), "", NULL, 0, 0, "TOPIC",
     "in: Kafka topics to consume; a leading ^ makes a regex"},
    /* one FETCH reply is held whole; the broker caps it too */
    {"fetch_max", RZ_CONF_UINT, S_OFF(fetch_max), "2000", NULL, 1, 10000, "N",
     "out: events per FETCH from the broker"},
    /* each record in flight is held by librdkafka and by the bridge until
     * Kafka acks it: 10M is already gigabytes */
    {"inflight_max", RZ_CONF_UINT, S_OFF(inflight_max), "100000", NULL, 1,
     10000000, "N", "out: events produced and not yet acknowledged by Kafka"},
    /* events held until the broker acks them; the broker's max_inflight
     * is at most 10M for everyone */
    {"window", RZ_CONF_UINT, S_OFF(window), "4096", NULL, 1, 1000000, "N",
     "in: events published and not yet acked by the broker"},
    /* at most the broker's max_batch default (10000) */
    {"batch", RZ_CONF_UINT, S_OFF(batch), "256", NULL, 1, 10000, "N",
     "in: events per batch publish (PUBB)"},
    {"commit_interval", RZ_CONF_UINT, S_OFF(commit_interval), "200", NULL, 1,
     60000, "MS", "how often the safe position is committed"},
    {"report_interval", RZ_CONF_UINT, S_OFF(report_interval), "1000", NULL, 100,
     600000, "MS", "how often the state is reported to the broker"},
    {"timeout", RZ_CONF_UINT, S_OFF(timeout), "5000", NULL, 100, 600000, "MS",
     "broker request timeout"},
    {"log_level", RZ_CONF_ENUM, S_OFF(log_level), "info", s_levels, 0, 0,
     "LEVEL", "error, warn, info or debug"},
    {"kafka", RZ_CONF_MAP, S_OFF(kafka), "", NULL, 0, 0, "KEY=VALUE",
     "librdkafka properties, passed through (bootstrap.servers, ...)"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

static int s_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_err(char *err, size_t len, const char *fmt, ...)
{
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return RZ_ECONFIG;
}

int rzk_conf_check(rzk_conf_t *c, char *err, size_t err_len)
{
    char why[256];
    rzk_tpl_t t;
    if (rzk_tpl_compile(&t, c->topic, why, sizeof why) < 0)
        return s_err(err, err_len, "topic: %s", why);
    if (c->mode == RZK_MODE_IN && c->topics.n == 0)
        return s_err(err, err_len,
                     "topics: mode 'in' needs at least one Kafka topic");
    if (!*c->group)
        return s_err(err, err_len, "group: empty");
    if (!rz_conf_map_get(&c->kafka, "bootstrap.servers"))
        return s_err(err, err_len,
                     "kafka: bootstrap.servers is not set (the Kafka "
                     "brokers, host:port,...)");
    if (c->batch > c->window)
        c->batch = c->window;
    return 0;
}

/* Where an entry of the kafka map came from, for messages. */
static void s_where(const rzk_conf_t *c, size_t i, char *buf, size_t len)
{
    if (c->kafka.lines && c->kafka.lines[i])
        snprintf(buf, len, "%s:%u: kafka.%s", c->file ? c->file : "config",
                 c->kafka.lines[i], c->kafka.keys[i]);
    else
        snprintf(buf, len, "--kafka %s", c->kafka.keys[i]);
}

/* Properties the bridge's promise rests on: the user may not turn them. */
static const struct {
    int mode;
    const char *key, *value, *why;
} s_fixed[] = {
    {RZK_MODE_OUT, "enable.idempotence", "true",
     "the bridge re-sends after failures; only the idempotent producer "
     "keeps that from duplicating or reordering records"},
    {RZK_MODE_IN, "enable.auto.commit", "false",
     "offsets are committed by the bridge once the broker acked"},
    {RZK_MODE_IN, "enable.auto.offset.store", "false",
     "offsets are stored by the bridge once the broker acked"},
};

/* Defaults of the bridge, which the user may change. */
static const struct {
    int mode;
    const char *key, *value;
} s_defaults[] = {
    /* keep retrying while Kafka is away rather than fail a record and
     * re-send everything after it */
    {RZK_MODE_OUT, "message.timeout.ms", "0"},
    /* a record that fails for good after later ones were written would
     * reorder a subject; make that a fatal error, which the bridge
     * answers by re-sending from its committed position */
    {RZK_MODE_OUT, "enable.gapless.guarantee", "true"},
    {RZK_MODE_OUT, "linger.ms", "5"},
    {RZK_MODE_OUT, "compression.type", "lz4"},
    {RZK_MODE_IN, "group.id", "ratusz-kafka"},
    {RZK_MODE_IN, "auto.offset.reset", "earliest"},
};

static int s_truthy(const char *v)
{
    return !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "on");
}

rd_kafka_conf_t *rzk_kafka_conf(const rzk_conf_t *c, char *err, size_t err_len)
{
    char kerr[512], where[300];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *name = c->name;
    for (size_t i = 0; i < sizeof s_defaults / sizeof *s_defaults; i++)
        if (s_defaults[i].mode == c->mode &&
            rd_kafka_conf_set(kc, s_defaults[i].key, s_defaults[i].value, kerr,
                              sizeof kerr) != RD_KAFKA_CONF_OK) {
            s_err(err, err_len, "kafka default %s: %s", s_defaults[i].key,
                  kerr);
            goto fail;
        }
    if (rd_kafka_conf_set(kc, "client.id", name, kerr, sizeof kerr) !=
        RD_KAFKA_CONF_OK) {
        s_err(err, err_len, "name: not a Kafka client.id: %s", kerr);
        goto fail;
    }
    for (size_t i = 0; i < c->kafka.n; i++) {
        const char *k = c->kafka.keys[i], *v = c->kafka.values[i];
        s_where(c, i, where, sizeof where);
        for (size_t f = 0; f < sizeof s_fixed / sizeof *s_fixed; f++)
            if (s_fixed[f].mode == c->mode && !strcmp(k, s_fixed[f].key) &&
                s_truthy(v) != s_truthy(s_fixed[f].value)) {
                s_err(err, err_len, "%s: must be %s: %s", where,
                      s_fixed[f].value, s_fixed[f].why);
                goto fail;
            }
        if (rd_kafka_conf_set(kc, k, v, kerr, sizeof kerr) !=
            RD_KAFKA_CONF_OK) {
            s_err(err, err_len, "%s: %s", where, kerr);
            goto fail;
        }
    }
    for (size_t f = 0; f < sizeof s_fixed / sizeof *s_fixed; f++)
        if (s_fixed[f].mode == c->mode &&
            rd_kafka_conf_set(kc, s_fixed[f].key, s_fixed[f].value, kerr,
                              sizeof kerr) != RD_KAFKA_CONF_OK) {
            s_err(err, err_len, "kafka %s: %s", s_fixed[f].key, kerr);
            goto fail;
        }
    return kc;
fail:
    rd_kafka_conf_destroy(kc);
    return NULL;
}
