/* kafka_bench.c - rz-bench-kafka: throughput of ratusz-kafka, both ways,
 * against a librdkafka mock cluster (in this process) and a real ratuszd
 * (started here on free loopback ports with a temp store).
 *
 *   rz-bench-kafka [--count N] [--subjects N] [--partitions N]
 *                  [--brokers N] [--format protobuf|cloudevents-json]
 *                  [--sync full|os] [--rounds N]
 *
 * out: N events are published to the broker first; then ratusz-kafka
 *      (mode out) starts, and the clock runs from the first committed
 *      position to the last (the broker group's commit follows Kafka's
 *      acknowledgements, so this is events/s delivered into Kafka).
 * in:  N records are produced to Kafka first; then ratusz-kafka (mode in)
 *      starts, and the clock runs from the first event stored to the
 *      last (the broker acks after its LMDB commit).
 *
 * Starting the bridge and joining the consumer group are left out of the
 * clock: the numbers are the steady rate. One JSON line per measurement,
 * as bench/rz_load.c prints, then a line for people.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ratusz/ratusz.h"

typedef struct s_opts {
    uint64_t count;
    uint32_t subjects;
    int partitions;
    int brokers;
    const char *format;
    const char *sync;
    int rounds;
} s_opts_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t s_spawn(const char *const *argv, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void s_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static uint64_t s_head(rz_client_t *c)
{
    Ratusz__V1__Health *h = NULL;
    uint64_t head = 0;
    if (rz_health(c, &h) == 0) {
        head = h->head_seq;
        ratusz__v1__health__free_unpacked(h, NULL);
    }
    return head;
}

static uint64_t s_group(rz_client_t *c, const char *group)
{
    Ratusz__V1__ConsumerList *l = NULL;
    uint64_t seq = 0;
    if (rz_consumers(c, &l) == 0) {
        for (size_t i = 0; i < l->n_groups; i++)
            if (!strcmp(l->groups[i]->name, group))
                seq = l->groups[i]->committed_seq;
        ratusz__v1__consumer_list__free_unpacked(l, NULL);
    }
    return seq;
}

static void s_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
                    char *id, char *subject, const char *run, uint64_t i,
                    uint32_t subjects)
{
    ratusz__v1__event__init(ev);
    ratusz__v1__budget_entry__init(be);
    snprintf(id, 64, "%s-%llu", run, (unsigned long long)i);
    snprintf(subject, 32, "unit:%llu", (unsigned long long)(i % subjects));
    ev->id = id;
    ev->source = "/1261011/budget/bench";
    ev->type = "pl.gov.gmina.budget.execution.v1";
    ev->subject = subject;
    ev->tenant = "1261011";
    ev->time = rz_now_us();
    be->dzial = "600";
    be->rozdzial = "60016";
    be->paragraf = "4300";
    be->amount_grosze = (int64_t)i;
    be->currency = "PLN";
    be->unit = "Urząd Miasta";
    ev->data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    ev->budget = be;
}

static int s_publish(rz_client_t *c, const char *run, uint64_t n,
                     uint32_t subjects)
{
    char id[64], subject[32];
    for (uint64_t i = 0; i < n; i++) {
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        s_event(&ev, &be, id, subject, run, i, subjects);
        if (rz_publish(c, &ev, NULL) < 0)
            return -1;
    }
    return rz_flush(c, 60000);
}

static int s_produce(const char *bootstrap, const char *topic, const char *run,
                     uint64_t n, uint32_t subjects)
{
    char err[512], id[64], subject[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        return -1;
    uint8_t buf[1024];
    for (uint64_t i = 0; i < n; i++) {
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        s_event(&ev, &be, id, subject, run, i, subjects);
        size_t len = ratusz__v1__event__pack(&ev, buf);
        while (
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_KEY(subject, strlen(subject)),
                RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_HEADER(
                    "content-type",
                    "application/x-protobuf; messageType=ratusz.v1.Event", -1),
                RD_KAFKA_V_HEADER("ce_id", id, -1),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
    }
    rd_kafka_flush(rk, 60000);
    int left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    return left ? -1 : 0;
}

static void s_report(const char *direction, const s_opts_t *o, uint64_t events,
                     double secs, int round)
{
    printf("{\"system\":\"ratusz-kafka\",\"mode\":\"%s\",\"format\":\"%s\","
           "\"sync\":\"%s\",\"partitions\":%d,\"brokers\":%d,\"events\":%llu,"
           "\"seconds\":%.4f,\"events_per_s\":%.6g,\"round\":%d}\n",
           direction, o->format, o->sync, o->partitions, o->brokers,
           (unsigned long long)events, secs, (double)events / secs, round);
    fprintf(stderr, "%-4s %-16s %8llu events in %6.2f s = %8.0f events/s\n",
            direction,
            direction[0] == 'o' ? "broker -> Kafka" : "Kafka -> broker",
            (unsigned long long)events, secs, (double)events / secs);
    fflush(stdout);
}

/* Wait for value() to move from start to target; the clock runs from the
 * first movement. Returns the seconds, or -1 after 120 s without reaching
 * it. *moved gets how far it moved while the clock ran. */
typedef uint64_t (*s_probe)(rz_client_t *c, const char *arg);

static uint64_t s_probe_head(rz_client_t *c, const char *arg)
{
    (void)arg;
    return s_head(c);
}

static double s_measure(rz_client_t *c, s_probe probe, const char *arg,
                        uint64_t start, uint64_t target, uint64_t *moved)
{
    double t0 = 0, deadline = s_now() + 120;
    uint64_t at0 = start, v = start;
    while (s_now() < deadline) {
        v = probe(c, arg);
        if (!t0 && v > start) {
            t0 = s_now();
            at0 = v;
        }
        if (v >= target)
            break;
        usleep(t0 ? 2000 : 1000);
    }
    if (v < target)
        return -1;
    *moved = target - at0;
    return s_now() - t0;
}

int main(int argc, char **argv)
{
    s_opts_t o = {200000, 1000, 16, 3, "protobuf", "full", 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--count") && v)
            o.count = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--subjects") && v)
            o.subjects = (uint32_t)atoi(v), i++;
        else if (!strcmp(a, "--partitions") && v)
            o.partitions = atoi(v), i++;
        else if (!strcmp(a, "--brokers") && v)
            o.brokers = atoi(v), i++;
        else if (!strcmp(a, "--format") && v)
            o.format = v, i++;
        else if (!strcmp(a, "--sync") && v)
            o.sync = v, i++;
        else if (!strcmp(a, "--rounds") && v)
            o.rounds = atoi(v), i++;
        else {
            fprintf(stderr,
                    "usage: %s [--count N] [--subjects N] [--partitions N] "
                    "[--brokers N] [--format protobuf|cloudevents-json] "
                    "[--sync full|os] [--rounds N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!o.count || !o.subjects || o.partitions < 1 || o.brokers < 1 ||
        o.rounds < 1) {
        fprintf(stderr, "%s: counts must be positive\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[256] = "/var/tmp/rz-bench-kafka-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    srand((unsigned)getpid());
    int port = 20000 + rand() % 10000;
    char front[64], stream[64], store[300], log[300], conf[300], err[512];
    snprintf(front, sizeof front, "tcp://127.0.0.1:%d", port);
    snprintf(stream, sizeof stream, "tcp://127.0.0.1:%d", port + 1);
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    const char *bargv[] = {RZ_RATUSZD, "--data-dir", store,  "--listen",
                           front,      "--stream",   stream, "--metrics",
                           "off",      "--sync",     o.sync, NULL};
    pid_t broker = s_spawn(bargv, log);

    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    rd_kafka_mock_cluster_t *mc =
        mrk ? rd_kafka_mock_cluster_new(mrk, o.brokers) : NULL;
    rz_client_opts_t co = {.window = 4096, .batch = 256, .timeout_ms = 10000};
    rz_client_t *c = rz_client_new(front, &co);
    int status = 1;
    if (!mc || !c) {
        fprintf(stderr, "cannot start the mock cluster or the client\n");
        goto done;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    for (int i = 0; i < 100 && s_head(c) == 0; i++) {
        Ratusz__V1__Health *h = NULL;
        if (rz_health(c, &h) == 0) {
            ratusz__v1__health__free_unpacked(h, NULL);
            break;
        }
        usleep(100000);
    }

    for (int round = 1; round <= o.rounds; round++) {
        char run[32], topic_out[64], topic_in[64], group[32];
        snprintf(run, sizeof run, "r%d-%d", (int)getpid(), round);
        snprintf(topic_out, sizeof topic_out, "bench.out.%d", round);
        snprintf(topic_in, sizeof topic_in, "bench.in.%d", round);
        snprintf(group, sizeof group, "bench-%d", round);
        rd_kafka_mock_topic_create(mc, topic_out, o.partitions,
                                   o.brokers < 3 ? o.brokers : 3);
        rd_kafka_mock_topic_create(mc, topic_in, o.partitions,
                                   o.brokers < 3 ? o.brokers : 3);

        /* out */
        uint64_t head0 = s_head(c);
        if (s_publish(c, run, o.count, o.subjects) < 0) {
            fprintf(stderr, "publishing to the broker failed\n");
            goto done;
        }
        FILE *f;
        snprintf(conf, sizeof conf, "%s/out.yaml", dir);
        f = fopen(conf, "w");
        fprintf(f,
                "mode: out\nbroker: %s\ngroup: %s\ndata_dir: %s/bridge\n"
                "topic: %s\nformat: %s\ntopic_prefix: "
                "'1261011.'\ncommit_interval: 5\n"
                "kafka:\n  bootstrap.servers: %s\n",
                front, group, dir, topic_out, o.format, bootstrap);
        fclose(f);
        /* the group starts where the broker was before this round */
        if (head0 && rz_commit(c, group, head0) < 0)
            goto done;
        const char *oargv[] = {RZ_KAFKA_BIN, "-c", conf, NULL};
        pid_t bridge = s_spawn(oargv, log);
        uint64_t moved = 0;
        double secs =
            s_measure(c, s_group, group, head0, head0 + o.count, &moved);
        s_stop(bridge);
        if (secs <= 0) {
            fprintf(stderr,
                    "out: the bridge did not carry every event (see %s)\n",
                    log);
            goto done;
        }
        s_report("out", &o, moved, secs, round);

        /* in */
        char runin[40];
        snprintf(runin, sizeof runin, "%s-in", run);
        if (s_produce(bootstrap, topic_in, runin, o.count, o.subjects) < 0) {
            fprintf(stderr, "producing to Kafka failed\n");
            goto done;
        }
        head0 = s_head(c);
        snprintf(conf, sizeof conf, "%s/in.yaml", dir);
        f = fopen(conf, "w");
        fprintf(f,
                "mode: in\nbroker: %s\ndata_dir: %s/bridge\ntopics: %s\n"
                "kafka:\n  bootstrap.servers: %s\n  group.id: %s\n",
                front, dir, topic_in, bootstrap, group);
        fclose(f);
        const char *iargv[] = {RZ_KAFKA_BIN, "-c", conf, NULL};
        bridge = s_spawn(iargv, log);
        secs = s_measure(c, s_probe_head, NULL, head0, head0 + o.count, &moved);
        s_stop(bridge);
        if (secs <= 0) {
            fprintf(stderr,
                    "in: the bridge did not carry every record (see %s)\n",
                    log);
            goto done;
        }
        s_report("in", &o, moved, secs, round);
    }
    status = 0;
done:
    rz_client_destroy(&c);
    s_stop(broker);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (mrk)
        rd_kafka_destroy(mrk);
    if (status == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return status;
}
