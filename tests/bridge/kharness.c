/* kharness.c - helpers for the Kafka bridge's tests (see kharness.h) */
#include "kharness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ===========================================================================
 * Children: a failed assertion jumps past the test's clean-up, so every
 * process started here is also killed when the test program exits.
 */

#define S_CHILDREN 64
static pid_t s_children[S_CHILDREN];

static void s_kill_children(void)
{
    for (int i = 0; i < S_CHILDREN; i++)
        if (s_children[i] > 0) {
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
            s_children[i] = 0;
        }
}

static void s_child_add(pid_t pid)
{
    static int registered;
    if (!registered) {
        atexit(s_kill_children);
        registered = 1;
    }
    for (int i = 0; i < S_CHILDREN; i++)
        if (s_children[i] <= 0) {
            s_children[i] = pid;
            return;
        }
}

static void s_child_gone(pid_t pid)
{
    for (int i = 0; i < S_CHILDREN; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

/* ===========================================================================
 * The mock cluster process
 */

int rzk_mock_start(rzk_mock_t *m, int brokers, const char *const *topics)
{
    int to[2], from[2];
    memset(m, 0, sizeof *m);
    if (pipe(to) < 0 || pipe(from) < 0)
        return -1;
    char nb[16];
    snprintf(nb, sizeof nb, "%d", brokers);
    const char *argv[64] = {RZ_KAFKA_MOCK, "--brokers", nb};
    int n = 3;
    for (int i = 0; topics && topics[i] && n < 60; i++) {
        argv[n++] = "--topic";
        argv[n++] = topics[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    s_child_add(pid);
    m->pid = pid;
    m->in = fdopen(to[1], "w");
    m->out = fdopen(from[0], "r");
    if (!m->in || !m->out ||
        !fgets(m->bootstrap, sizeof m->bootstrap, m->out)) {
        rzk_mock_stop(m);
        return -1;
    }
    m->bootstrap[strcspn(m->bootstrap, "\r\n")] = '\0';
    return 0;
}

int rzk_mock_cmd(rzk_mock_t *m, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(m->in, "%s\n", line);
    fflush(m->in);
    char answer[512];
    if (!fgets(answer, sizeof answer, m->out))
        return -1;
    if (strncmp(answer, "ok", 2)) {
        fprintf(stderr, "mock: %s: %s", line, answer);
        return -1;
    }
    return 0;
}

void rzk_mock_stop(rzk_mock_t *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, NULL, 0);
        s_child_gone(m->pid);
        m->pid = 0;
    }
    if (m->in)
        fclose(m->in);
    if (m->out)
        fclose(m->out);
    m->in = m->out = NULL;
}

/* ===========================================================================
 * The bridge process
 */

static int s_spawn(rzk_bridge_t *b)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(RZ_KAFKA_BIN, RZ_KAFKA_BIN, "-c", b->conf, "run", (char *)NULL);
        _exit(127);
    }
    s_child_add(pid);
    b->pid = pid;
    return 0;
}

int rzk_bridge_prepare(rzk_bridge_t *b, const char *yaml)
{
    memset(b, 0, sizeof *b);
    if (rzt_tmpdir(b->dir, sizeof b->dir) < 0)
        return -1;
    snprintf(b->conf, sizeof b->conf, "%s/bridge.yaml", b->dir);
    snprintf(b->log, sizeof b->log, "%s/bridge.log", b->dir);
    FILE *f = fopen(b->conf, "w");
    if (!f)
        return -1;
    if (!strstr(yaml, "data_dir:"))
        fprintf(f, "data_dir: %s/data\n", b->dir);
    fputs(yaml, f);
    fclose(f);
    return 0;
}

int rzk_bridge_start(rzk_bridge_t *b, const char *yaml)
{
    return rzk_bridge_prepare(b, yaml) < 0 ? -1 : s_spawn(b);
}

int rzk_bridge_restart(rzk_bridge_t *b)
{
    return s_spawn(b);
}

int rzk_bridge_stop(rzk_bridge_t *b)
{
    if (b->pid <= 0)
        return -1;
    kill(b->pid, SIGTERM);
    int status = 0;
    waitpid(b->pid, &status, 0);
    s_child_gone(b->pid);
    b->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void rzk_bridge_kill(rzk_bridge_t *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    s_child_gone(b->pid);
    b->pid = 0;
}

void rzk_bridge_cleanup(rzk_bridge_t *b, int failed)
{
    if (b->pid > 0)
        rzk_bridge_stop(b);
    if (failed) {
        FILE *f = fopen(b->log, "r");
        char line[1024];
        fprintf(stderr, "--- ratusz-kafka log (%s) ---\n", b->log);
        while (f && fgets(line, sizeof line, f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
    if (b->dir[0])
        rzt_rmtree(b->dir);
    b->dir[0] = '\0';
}

int rzk_bridge_cmd(rzk_bridge_t *b, const char *args, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c %s %s 2>&1", RZ_KAFKA_BIN, b->conf, args);
    return rzt_run(cmd, out, len);
}

/* ===========================================================================
 * The broker
 */

uint64_t rzk_group_seq(const rzt_broker_t *br, const char *group)
{
    rz_client_t *c = rzt_client(br, 0, 0);
    Ratusz__V1__ConsumerList *l = NULL;
    uint64_t seq = 0;
    if (c && rz_consumers(c, &l) == 0) {
        for (size_t i = 0; i < l->n_groups; i++)
            if (!strcmp(l->groups[i]->name, group))
                seq = l->groups[i]->committed_seq;
        ratusz__v1__consumer_list__free_unpacked(l, NULL);
    }
    rz_client_destroy(&c);
    return seq;
}

int rzk_wait_group(const rzt_broker_t *br, const char *group, uint64_t seq,
                   int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (rzk_group_seq(br, group) >= seq)
            return 0;
        usleep(50000);
    }
    return -1;
}

int rzk_wait_head(const rzt_broker_t *br, uint64_t seq, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (rzt_head(br) >= seq)
            return 0;
        usleep(50000);
    }
    return -1;
}

double rzk_component_metric(const rzt_broker_t *br, const char *component,
                            const char *metric)
{
    rz_client_t *c = rzt_client(br, 0, 0);
    Ratusz__V1__Stats *st = NULL;
    double v = NAN;
    if (c && rz_stats(c, &st) == 0) {
        for (size_t i = 0; i < st->n_components; i++) {
            const Ratusz__V1__Component *k = st->components[i];
            if (strcmp(k->name, component))
                continue;
            for (size_t j = 0; j < k->n_metrics; j++)
                if (!strcmp(k->metrics[j]->name, metric))
                    v = k->metrics[j]->value;
        }
        ratusz__v1__stats__free_unpacked(st, NULL);
    }
    rz_client_destroy(&c);
    return v;
}

typedef struct s_pub {
    uint64_t acked, failed;
} s_pub_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_pub_t *p = user;
    if (a->code == 0)
        p->acked++;
    else
        p->failed++;
}

int rzk_publish_n(const rzt_broker_t *br, const char *prefix, uint64_t from,
                  uint64_t n, uint32_t subjects)
{
    rz_client_t *c = rzt_client(br, 4096, 256);
    if (!c)
        return -1;
    s_pub_t p = {0, 0};
    rz_client_set_ack_cb(c, s_on_ack, &p);
    char id[64], subject[32];
    for (uint64_t i = from; i < from + n; i++) {
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        snprintf(id, sizeof id, "%s-%llu", prefix, (unsigned long long)i);
        snprintf(subject, sizeof subject, "unit:%llu",
                 (unsigned long long)(i % subjects));
        rzt_event(&ev, &be, "/1261011/budget/test", id, subject,
                  INT64_C(1714550400000000) + (int64_t)i, (int64_t)i);
        if (rz_publish(c, &ev, NULL) < 0)
            break;
    }
    int rc = rz_flush(c, 30000);
    rz_client_destroy(&c);
    return rc == 0 && p.acked == n && p.failed == 0 ? 0 : -1;
}

/* ===========================================================================
 * Kafka
 */

int64_t rzk_read_topic(const char *bootstrap, const char *topic, int64_t want,
                       int secs, rzk_record_cb cb, void *user)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err,
                          sizeof err) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err,
                          sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", "rzk-test-reader", err,
                          sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err)) {
        fprintf(stderr, "reader: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        return -1;
    /* every partition, from the beginning, without a group */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int nparts = 0;
    for (int i = 0; i < 50 && nparts == 0; i++) {
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                nparts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (!nparts)
            usleep(100000);
    }
    rd_kafka_topic_destroy(rkt);
    if (!nparts) {
        fprintf(stderr, "reader: no partitions for %s\n", topic);
        rd_kafka_destroy(rk);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t got = 0;
    char *at_end = calloc((size_t)nparts, 1);
    int ends = 0, stop = 0;
    time_t deadline = time(NULL) + secs;
    while (!stop && time(NULL) < deadline && (got < want || ends < nparts)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition < nparts && !at_end[m->partition]) {
                at_end[m->partition] = 1;
                ends++;
            }
        } else if (!m->err) {
            if (m->partition < nparts && at_end[m->partition]) {
                at_end[m->partition] = 0;
                ends--;
            }
            got++;
            if (cb && cb(m, user))
                stop = 1;
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

const char *rzk_header(const rd_kafka_message_t *m, const char *name, char *buf,
                       size_t len)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    buf[0] = '\0';
    if (rd_kafka_message_headers(m, &h) == 0 &&
        rd_kafka_header_get_last(h, name, &v, &n) == 0 && v) {
        if (n >= len)
            n = len - 1;
        memcpy(buf, v, n);
        buf[n] = '\0';
    }
    return buf;
}

int64_t rzk_kafka_committed(const char *bootstrap, const char *group,
                            const char *topic, int partitions)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    int64_t sum = -1;
    if (rd_kafka_committed(rk, l, 10000) == 0) {
        sum = 0;
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset > 0)
                sum += l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return sum;
}

/* ===========================================================================
 * Writing to Kafka
 */

static int s_failed_dr;

static void s_on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
    (void)rk;
    (void)op;
    if (m->err && s_failed_dr++ == 0)
        fprintf(stderr, "producer: delivery failed: %s\n",
                rd_kafka_err2str(m->err));
}

int64_t rzk_produce(const char *bootstrap, const char *topic,
                    const char *prefix, uint64_t from, uint64_t n,
                    uint32_t subjects, uint64_t bad_every)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err,
                          sizeof err) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err,
                          sizeof err) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err)) {
        fprintf(stderr, "producer: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, s_on_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        return -1;
    s_failed_dr = 0;
    int64_t bad = 0;
    char id[64], subject[32], json[1024], data[128], amount[32];
    for (uint64_t i = from; i < from + n; i++) {
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        snprintf(id, sizeof id, "%s-%llu", prefix, (unsigned long long)i);
        snprintf(subject, sizeof subject, "unit:%llu",
                 (unsigned long long)(i % subjects));
        snprintf(amount, sizeof amount, "%llu", (unsigned long long)i);
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        const void *value;
        size_t len;
        uint8_t pb[512];
        switch (i % 3) {
        case 0:
            rzt_event(&ev, &be, "/1261011/budget/kafka", id, subject,
                      INT64_C(1714550400000000) + (int64_t)i, (int64_t)i);
            be.unit = "Urząd Miasta Łodzi";
            len = ratusz__v1__event__pack(&ev, pb);
            value = pb;
            rd_kafka_header_add(h, "ce_id", -1, id, -1);
            rd_kafka_header_add(h, "content-type", -1,
                                "application/x-protobuf; "
                                "messageType=ratusz.v1.Event",
                                -1);
            break;
        case 1:
            snprintf(json, sizeof json,
                     "{\"specversion\":\"1.0\",\"id\":\"%s\","
                     "\"source\":\"/1261011/budget/kafka\","
                     "\"type\":\"pl.gov.gmina.budget.test.v1\","
                     "\"subject\":\"%s\",\"tenant\":\"1261011\","
                     "\"time\":\"2024-05-01T10:00:00+02:00\","
                     "\"data\":{\"dzial\":\"600\",\"amount_grosze\":%s,"
                     "\"unit\":\"Urząd Miasta Łodzi\"}}",
                     id, subject, amount);
            value = json;
            len = strlen(json);
            rd_kafka_header_add(h, "content-type", -1,
                                "application/cloudevents+json", -1);
            break;
        default:
            snprintf(data, sizeof data,
                     "{\"dzial\":\"600\",\"amount_grosze\":%s,"
                     "\"unit\":\"Urząd Miasta Łodzi\"}",
                     amount);
            value = data;
            len = strlen(data);
            rd_kafka_header_add(h, "ce_specversion", -1, "1.0", -1);
            rd_kafka_header_add(h, "ce_id", -1, id, -1);
            rd_kafka_header_add(h, "ce_source", -1, "/1261011/budget/kafka",
                                -1);
            rd_kafka_header_add(h, "ce_type", -1, "pl.gov.gmina.budget.test.v1",
                                -1);
            rd_kafka_header_add(h, "ce_tenant", -1, "1261011", -1);
            rd_kafka_header_add(h, "ce_time", -1, "2024-05-01T10:00:00+02:00",
                                -1);
            rd_kafka_header_add(h, "content-type", -1, "application/json", -1);
            break;
        }
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_KEY(subject, strlen(subject)),
                RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                rd_kafka_headers_destroy(h);
                s_failed_dr++;
            }
            break;
        }
        if (bad_every && (i - from + 1) % bad_every == 0) {
            snprintf(json, sizeof json, "not an event %llu",
                     (unsigned long long)i);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(subject, strlen(subject)),
                                     RD_KAFKA_V_VALUE(json, strlen(json)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
            bad++;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    int left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    if (left || s_failed_dr)
        fprintf(stderr, "producer: %d records not delivered, %d failed\n", left,
                s_failed_dr);
    return left || s_failed_dr ? -1 : bad;
}
