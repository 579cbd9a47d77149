/* test_qreport.c - an adapter's quarantine by class of reason, as the
 * person on call sees it: a real ratusz-adapter daemon takes a dropped
 * file with broken records of two kinds into the real ratuszd, its
 * REPORT carries the two classes with their counts (STATS, `ratusz
 * stats`, `ratusz stats --json`, /metrics), a `quarantine retry` after
 * the configuration fix takes one class to 0 in the next report, and a
 * report with too many classes or a bad text is refused naming it. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ratusz/errors.h"
#include "store.h"

#define TERYT RZ_SOURCE_DIR "/tests/fixtures/teryt/TERC_2020-01-01.csv"
#define NAME "adapter/qtest"
#define C_TENANT "unknown tenant '…' (not in the TERYT TERC register)"
#define C_TYPE "not a CloudEvent: missing attribute '…'"

typedef struct fx {
    rzt_broker_t b;
    char dir[256];
    char conf[300];
    char data[300];
    char drop[300];
    char log[300];
    pid_t pid; /* the adapter daemon, killed by the teardown if running */
} fx_t;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (rzt_broker_start(&f->b, NULL) != 0)
        return -1;
    rzt_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/adapter.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->drop, sizeof f->drop, "%s/drop", f->dir);
    snprintf(f->log, sizeof f->log, "%s/adapter.log", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    rzt_broker_cleanup(&f->b);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    fclose(fp);
}

static void s_conf(fx_t *f, const char *tenant)
{
    char text[2048];
    snprintf(text, sizeof text,
             "system: ndjson\nname: " NAME "\nbroker: %s\ndata_dir: %s\n"
             "drop_dir: %s\ndrop_settle_ms: 0\nteryt: " TERYT "\n"
             "timeout_ms: 1000\nreport_ms: 100\n"
             "ndjson:\n  default_tenant: \"%s\"\n",
             f->b.front, f->data, f->drop, tenant);
    s_write(f->conf, text);
}

static pid_t s_spawn(fx_t *f)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(RZ_ADAPTER_BIN, RZ_ADAPTER_BIN, "-c", f->conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static const Ratusz__V1__QuarantineReason *
s_class(const Ratusz__V1__Component *c, const char *cls)
{
    for (size_t k = 0; c && k < c->n_quarantine; k++)
        if (!strcmp(c->quarantine[k]->class_, cls))
            return c->quarantine[k];
    return NULL;
}

/* Wait (up to 15 s) for a report of NAME in which class cls has records
 * records; *out is the STATS it came in (free with
 * ratusz__v1__stats__free_unpacked), its component in *comp. */
static Ratusz__V1__Stats *s_wait_class(fx_t *f, const char *cls,
                                       uint64_t records,
                                       const Ratusz__V1__Component **comp)
{
    rz_client_t *c = rzt_client(&f->b, 16, 16);
    assert_non_null(c);
    Ratusz__V1__Stats *st = NULL;
    for (int i = 0; i < 150; i++) {
        if (st)
            ratusz__v1__stats__free_unpacked(st, NULL);
        st = NULL;
        assert_int_equal(rz_stats(c, &st), 0);
        *comp = NULL;
        for (size_t k = 0; k < st->n_components; k++)
            if (!strcmp(st->components[k]->name, NAME))
                *comp = st->components[k];
        const Ratusz__V1__QuarantineReason *q = s_class(*comp, cls);
        if (q && q->records == records)
            break;
        s_sleep_ms(100);
    }
    rz_client_destroy(&c);
    return st;
}

static void test_quarantine_classes_reported_and_retried(void **state)
{
    fx_t *f = *state;
    char cmd[1200], out[32768], path[400], tmp[400];
    s_conf(f, "");
    pid_t pid = f->pid = s_spawn(f);

    /* two lines without a tenant, one without a type, one good */
    snprintf(tmp, sizeof tmp, "%s/.in.tmp", f->drop);
    snprintf(path, sizeof path, "%s/in.ndjson", f->drop);
    for (int i = 0; i < 100 && !s_exists(f->drop); i++)
        s_sleep_ms(50);
    s_write(tmp, "{\"specversion\":\"1.0\",\"source\":\"/q\",\"type\":\"t.q\","
                 "\"id\":\"a\"}\n"
                 "{\"specversion\":\"1.0\",\"source\":\"/q\",\"type\":\"t.q\","
                 "\"id\":\"b\"}\n"
                 "{\"specversion\":\"1.0\",\"source\":\"/q\",\"tenant\":"
                 "\"1261011\",\"id\":\"c\"}\n"
                 "{\"specversion\":\"1.0\",\"source\":\"/q\",\"type\":\"t.q\","
                 "\"tenant\":\"1261011\",\"id\":\"d\"}\n");
    assert_int_equal(rename(tmp, path), 0);

    const Ratusz__V1__Component *comp;
    Ratusz__V1__Stats *st = s_wait_class(f, C_TYPE, 1, &comp);
    assert_non_null(comp);
    assert_int_equal(comp->n_quarantine, 2);
    /* most records first */
    const Ratusz__V1__QuarantineReason *q = comp->quarantine[0];
    assert_string_equal(q->class_, C_TENANT);
    assert_int_equal(q->records, 2);
    assert_int_equal(q->total, 2);
    assert_string_equal(q->example,
                        "unknown tenant '' (not in the TERYT TERC register)");
    assert_true(q->last > 0);
    q = comp->quarantine[1];
    assert_string_equal(q->class_, C_TYPE);
    assert_int_equal(q->records, 1);
    assert_string_equal(q->example,
                        "not a CloudEvent: missing attribute 'type'");
    ratusz__v1__stats__free_unpacked(st, NULL);

    /* what the person on call reads */
    snprintf(cmd, sizeof cmd, "'%s' -e %s stats", RZ_RATUSZ_CLI, f->b.front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "QUARANTINE"));
    assert_non_null(strstr(out, C_TENANT));
    assert_non_null(strstr(out, C_TYPE));
    snprintf(cmd, sizeof cmd, "'%s' -e %s stats --json", RZ_RATUSZ_CLI,
             f->b.front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"quarantine\""));
    assert_non_null(strstr(out, "\"class\":\"" C_TYPE "\""));
    assert_int_equal(rzt_http_get(f->b.metrics, "/metrics", out, sizeof out),
                     200);
    assert_non_null(
        strstr(out, "ratusz_component_quarantine_records{component=\"" NAME
                    "\",class=\"" C_TENANT "\"} 2\n"));
    assert_non_null(strstr(out, "# HELP ratusz_component_quarantine_records "));

    /* the fix: a default tenant; the retry runs beside the daemon */
    s_conf(f, "1261011");
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' quarantine retry --all 2>&1",
             RZ_ADAPTER_BIN, f->conf);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1); /* one is left */
    st = s_wait_class(f, C_TENANT, 0, &comp);
    q = s_class(comp, C_TENANT);
    assert_non_null(q);
    assert_int_equal(q->records, 0);
    assert_int_equal(q->total, 2); /* quarantined since the daemon started */
    q = s_class(comp, C_TYPE);
    assert_non_null(q);
    assert_int_equal(q->records, 1);
    ratusz__v1__stats__free_unpacked(st, NULL);

    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    f->pid = 0;
    assert_true(WIFEXITED(status));

    /* the store agrees: one record left, in its class */
    rz_astore_t *s;
    char err[256];
    assert_int_equal(rz_astore_open(&s, f->data, 64u << 20, err, sizeof err),
                     0);
    rz_acounts_t c;
    assert_int_equal(rz_astore_counts(s, &c), 0);
    assert_int_equal(c.quarantined, 1);
    rz_qclass_count_t qc[RZ_QCLASS_MAX + 1];
    int n = rz_quarantine_classes(s, qc, RZ_QCLASS_MAX + 1);
    assert_int_equal(n, 2);
    assert_string_equal(qc[0].cls, C_TYPE);
    assert_int_equal(qc[0].records, 1);
    assert_int_equal(qc[1].records, 0);
    rz_astore_destroy(&s);
}

/* A REPORT whose quarantine breaks the rules is refused, naming why. */
static void test_bad_quarantine_report_is_refused(void **state)
{
    fx_t *f = *state;
    rz_client_t *c = rzt_client(&f->b, 16, 16);
    assert_non_null(c);
    Ratusz__V1__Component comp = RATUSZ__V1__COMPONENT__INIT;
    comp.name = (char *)"adapter/bad";
    comp.kind = (char *)"adapter";
    comp.status = (char *)"ok";
    Ratusz__V1__QuarantineReason q[18], *pq[18];
    char names[18][16];
    for (int i = 0; i < 18; i++) {
        ratusz__v1__quarantine_reason__init(&q[i]);
        snprintf(names[i], sizeof names[i], "class %c", 'a' + i);
        q[i].class_ = names[i];
        q[i].records = 1;
        pq[i] = &q[i];
    }
    comp.quarantine = pq;
    comp.n_quarantine = 18;
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c),
                           "component 'adapter/bad': 18 quarantine classes "
                           "(at most 17)"));

    /* 17 is the bound */
    comp.n_quarantine = 17;
    assert_int_equal(rz_report(c, &comp), 0);

    /* not UTF-8 */
    q[3].class_ = (char *)"lat: \xff is not";
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c),
                           "quarantine class 4 must be one printable line of "
                           "UTF-8 (1-159 bytes)"));
    q[3].class_ = names[3];

    /* an example too long */
    char longer[300];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    q[0].example = longer;
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c),
                           "quarantine class 'class a': the example must be "
                           "one printable line of UTF-8 (at most 255 bytes)"));
    q[0].example = (char *)"";

    /* the same class twice */
    q[1].class_ = names[0];
    assert_int_equal(rz_report(c, &comp), RZ_EBADREQ);
    assert_non_null(
        strstr(rz_client_last_error(c), "quarantine class 'class a' twice"));
    rz_client_destroy(&c);

    /* the broker kept the last good one */
    char out[16384];
    assert_int_equal(rzt_http_get(f->b.metrics, "/metrics", out, sizeof out),
                     200);
    assert_non_null(strstr(out, "ratusz_component_quarantine_records{"
                                "component=\"adapter/bad\",class=\"class q\"} "
                                "1\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_quarantine_classes_reported_and_retried, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_quarantine_report_is_refused,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
