/* mock.c - ratusz-kafka-mock: librdkafka's mock Kafka cluster in a process
 * of its own, for tests, benchmarks and trying the bridge without Kafka.
 *
 *   ratusz-kafka-mock [--brokers N] [--topic NAME:PARTITIONS[:RF]]...
 *
 * prints the bootstrap servers ("127.0.0.1:41231,127.0.0.1:35321") as its
 * first line on stdout, and runs until SIGTERM or SIGINT. The cluster
 * speaks the Kafka protocol on loopback, so any client (the bridge, kcat)
 * can use it; it keeps everything in memory.
 *
 * Faults are injected into the running cluster with commands on stdin,
 * one per line, each answered with "ok" or "error: WHY" on stdout:
 *
 *   down BROKER                    the broker stops answering (sockets close)
 *   up BROKER                      and comes back
 *   rtt BROKER MS                  delay every reply of a broker
 *   leader TOPIC PARTITION BROKER  move a partition's leadership
 *   topic NAME PARTITIONS [RF]     create a topic
 *   errors API COUNT ERROR...      the next COUNT requests of API fail with
 *                                  ERROR (one ERROR repeated, or COUNT of them)
 *   clear API                      forget the errors queued for API
 *   topic-error TOPIC ERROR        every request about TOPIC fails
 *
 * API is a name (Produce, Fetch, ListOffsets, Metadata, OffsetCommit,
 * OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup,
 * SyncGroup, InitProducerId) or a number; ERROR is a librdkafka error name
 * without the RD_KAFKA_RESP_ERR_ prefix (NOT_LEADER_FOR_PARTITION,
 * REQUEST_TIMED_OUT, ...) or a number. End of input leaves the cluster
 * running.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static const struct {
    const char *name;
    int16_t key;
} s_apis[] = {
    {"Produce", 0},          {"Fetch", 1},        {"ListOffsets", 2},
    {"Metadata", 3},         {"OffsetCommit", 8}, {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},   {"Heartbeat", 12},
    {"LeaveGroup", 13},      {"SyncGroup", 14},   {"ApiVersions", 18},
    {"InitProducerId", 22},
};

static int s_num(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

static int s_api(const char *s, int16_t *out)
{
    long v;
    for (size_t i = 0; i < sizeof s_apis / sizeof *s_apis; i++)
        if (!strcasecmp(s, s_apis[i].name)) {
            *out = s_apis[i].key;
            return 0;
        }
    if (s_num(s, &v) == 0 && v >= 0 && v < 100) {
        *out = (int16_t)v;
        return 0;
    }
    return -1;
}

static int s_error(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *d;
    size_t n;
    long v;
    rd_kafka_get_err_descs(&d, &n);
    if (!strncmp(s, "RD_KAFKA_RESP_ERR_", 18))
        s += 18;
    for (size_t i = 0; i < n; i++)
        if (d[i].name && !strcasecmp(d[i].name, s)) {
            *out = d[i].code;
            return 0;
        }
    if (s_num(s, &v) == 0) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    return -1;
}

/* Run one command line; writes the answer to out. */
static void s_command(rd_kafka_mock_cluster_t *mc, char *line, char *out,
                      size_t len)
{
    char *argv[64];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < 64;
         tok = strtok(NULL, " \t\r\n"))
        argv[argc++] = tok;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    long a = 0, b = 0, c = 0;
    int16_t api;
    snprintf(out, len, "ok");
    if (argc == 0) {
        snprintf(out, len, "error: empty command");
    } else if (!strcmp(argv[0], "down") && argc == 2 && !s_num(argv[1], &a)) {
        err = rd_kafka_mock_broker_set_down(mc, (int32_t)a);
    } else if (!strcmp(argv[0], "up") && argc == 2 && !s_num(argv[1], &a)) {
        err = rd_kafka_mock_broker_set_up(mc, (int32_t)a);
    } else if (!strcmp(argv[0], "rtt") && argc == 3 && !s_num(argv[1], &a) &&
               !s_num(argv[2], &b)) {
        err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
    } else if (!strcmp(argv[0], "leader") && argc == 4 && !s_num(argv[2], &a) &&
               !s_num(argv[3], &b)) {
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a,
                                                 (int32_t)b);
    } else if (!strcmp(argv[0], "topic") && (argc == 3 || argc == 4) &&
               !s_num(argv[2], &a) && (argc == 3 || !s_num(argv[3], &c))) {
        err = rd_kafka_mock_topic_create(mc, argv[1], (int)a,
                                         argc == 4 ? (int)c : 1);
    } else if (!strcmp(argv[0], "errors") && argc >= 4 &&
               !s_api(argv[1], &api) && !s_num(argv[2], &a) && a > 0 &&
               a <= 10000 && (argc == 4 || argc == 3 + a)) {
        rd_kafka_resp_err_t *errs = calloc((size_t)a, sizeof *errs);
        for (long i = 0; errs && i < a; i++)
            if (s_error(argv[argc == 4 ? 3 : 3 + i], &errs[i]) < 0) {
                snprintf(out, len, "error: unknown error '%s'",
                         argv[argc == 4 ? 3 : 3 + i]);
                free(errs);
                return;
            }
        if (errs)
            rd_kafka_mock_push_request_errors_array(mc, api, (size_t)a, errs);
        free(errs);
    } else if (!strcmp(argv[0], "clear") && argc == 2 &&
               !s_api(argv[1], &api)) {
        rd_kafka_mock_clear_request_errors(mc, api);
    } else if (!strcmp(argv[0], "topic-error") && argc == 3) {
        rd_kafka_resp_err_t e;
        if (s_error(argv[2], &e) < 0) {
            snprintf(out, len, "error: unknown error '%s'", argv[2]);
            return;
        }
        rd_kafka_mock_topic_set_error(mc, argv[1], e);
    } else {
        snprintf(out, len,
                 "error: unknown command or bad arguments: '%s' "
                 "(down, up, rtt, leader, topic, errors, clear, topic-error)",
                 argv[0]);
        return;
    }
    if (err)
        snprintf(out, len, "error: %s", rd_kafka_err2str(err));
}

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: ratusz-kafka-mock [--brokers N] "
                 "[--topic NAME:PARTITIONS[:RF]]...\n"
                 "  or:  ratusz-kafka-mock --version\n"
                 "Runs librdkafka's mock Kafka cluster until SIGTERM; prints "
                 "its bootstrap servers;\nreads fault-injection commands on "
                 "stdin (see the source's header).\n");
}

int main(int argc, char **argv)
{
    long brokers = 3;
    char errstr[512];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            s_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("ratusz-kafka-mock %s\n", RZK_MOCK_VERSION);
            return 0;
        }
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            if (s_num(argv[++i], &brokers) < 0 || brokers < 1 || brokers > 64) {
                fprintf(stderr, "ratusz-kafka-mock: --brokers: 1..64\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
            i++; /* created below, once the cluster is up */
        } else {
            s_usage(stderr);
            return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: fgets returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The cluster lives inside a client handle; a producer is the lightest. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "ratusz-kafka-mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, "ratusz-kafka-mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") || i + 1 >= argc)
            continue;
        char spec[512], out[256];
        snprintf(spec, sizeof spec, "topic %s", argv[++i]);
        for (char *p = spec + 6; *p; p++)
            if (*p == ':')
                *p = ' ';
        s_command(mc, spec, out, sizeof out);
        if (strcmp(out, "ok")) {
            fprintf(stderr, "ratusz-kafka-mock: --topic %s: %s\n", argv[i],
                    out);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 2;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[4096], out[512];
    while (!s_stop && fgets(line, sizeof line, stdin)) {
        s_command(mc, line, out, sizeof out);
        printf("%s\n", out);
        fflush(stdout);
    }
    while (!s_stop)
        usleep(100000); /* a signal cuts it short */
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
