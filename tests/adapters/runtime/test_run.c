/* test_run.c - ratusz-adapter as a process against the real ratuszd:
 * one-shot imports, dry runs, a broker stopped mid-import, an adapter
 * killed with SIGKILL mid-file, the drop folder, HTTP POSTs, the
 * quarantine CLI and the webhook sink. Every test ends by checking the
 * invariant on the adapter's own store: records read = events published +
 * duplicates + records quarantined + outbox depth. Also: what the drop
 * folder does with links, FIFOs and directories, and conflicts (an id the
 * broker already has with other content). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
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
#include "store.h"

#define TERYT RZ_SOURCE_DIR "/tests/fixtures/teryt/TERC_2020-01-01.csv"

typedef struct fx {
    rzt_broker_t b;
    char dir[256];
    char conf[300];
    char data[300];
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
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rzt_broker_cleanup(&f->b);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_write(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}

/* adapter.yaml: the ndjson system on this broker, with extra lines. */
static void s_conf(fx_t *f, const char *extra)
{
    char text[4096];
    int n = snprintf(text, sizeof text,
                     "system: ndjson\nbroker: %s\ndata_dir: %s\nteryt: %s\n"
                     "timeout_ms: 1000\nreport_ms: 200\n%s",
                     f->b.front, f->data, TERYT, extra ? extra : "");
    s_write(f->conf, text, (size_t)n);
}

/* n events e-<from>..: tenant Kraków, one subject each */
static void s_gen(const char *path, int from, int n, const char *tail)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = from; i < from + n; i++)
        fprintf(fp,
                "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"type\":"
                "\"pl.gov.gmina.budget.test.v1\",\"tenant\":\"1261011\","
                "\"subject\":\"unit:%d\",\"time\":\"2024-01-0%dT12:00:00+01:00\"}\n",
                i, i, 1 + i % 9);
    if (tail)
        fputs(tail, fp);
    fclose(fp);
}

/* Run ratusz-adapter -c conf ARGS; out gets stdout and stderr. */
static int s_adapter(fx_t *f, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' %s 2>&1", RZ_ADAPTER_BIN, f->conf,
             args);
    return rzt_run(cmd, out, len);
}

/* Start ratusz-adapter in the background; its output goes to log. */
static pid_t s_spawn(fx_t *f, const char *arg, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(RZ_ADAPTER_BIN, RZ_ADAPTER_BIN, "-c", f->conf, arg,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Exit status, or -1 (after killing it) when it ran longer than ms. */
static int s_wait_exit(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        s_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void s_print_log(const char *log)
{
    char out[8192];
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s'", log);
    rzt_run(cmd, out, sizeof out);
    fprintf(stderr, "--- %s\n%s---\n", log, out);
}

/* Wait until the broker's head reaches n. */
static int s_wait_head(fx_t *f, uint64_t n, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (rzt_head(&f->b) >= n)
            return 0;
        s_sleep_ms(20);
    }
    return -1;
}

static int s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int s_wait_file(const char *path, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (s_exists(path))
            return 0;
        s_sleep_ms(20);
    }
    return -1;
}

/* The adapter's counters, read from its store after it stopped, and the
 * invariant they keep. */
static rz_acounts_t s_counts(fx_t *f)
{
    rz_astore_t *s;
    char err[256];
    assert_int_equal(rz_astore_open(&s, f->data, 64u << 20, err, sizeof err),
                     0);
    rz_acounts_t c;
    assert_int_equal(rz_astore_counts(s, &c), 0);
    rz_astore_destroy(&s);
    assert_int_equal(c.read,
                     c.published + c.duplicates + c.quarantined + c.depth);
    return c;
}

/* Every event the broker has, by id: how many, and how many distinct. */
typedef struct ids {
    char **v;
    size_t n, cap;
} ids_t;

static int s_on_replay(const rz_event_t *ev, void *user)
{
    ids_t *ids = user;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 1024;
        ids->v = realloc(ids->v, ids->cap * sizeof *ids->v);
    }
    ids->v[ids->n++] = strdup(ev->msg->id);
    return 0;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t s_distinct_ids(fx_t *f, size_t *total)
{
    rz_client_t *c = rzt_client(&f->b, 64, 1);
    ids_t ids = {0};
    rz_replay_t r = {.from_seq = 1};
    assert_true(rz_replay(c, &r, s_on_replay, &ids) >= 0);
    rz_client_destroy(&c);
    qsort(ids.v, ids.n, sizeof *ids.v, s_cmp);
    size_t d = 0;
    for (size_t i = 0; i < ids.n; i++)
        if (i == 0 || strcmp(ids.v[i], ids.v[i - 1]))
            d++;
    for (size_t i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    *total = ids.n;
    return d;
}

/* ===========================================================================
 * One-shot and dry run
 */

static const char s_bad_tail[] =
    "{\"oops\"\n"
    "{\"specversion\":\"1.0\",\"id\":\"x-1\",\"type\":\"pl.gov.gmina.budget."
    "test.v1\",\"tenant\":\"9999999\"}\n"
    "{\"specversion\":\"1.0\",\"id\":\"x-2\",\"type\":\"pl.gov.gmina.budget."
    "test.v1\",\"tenant\":\"1465028\"}\n";

static void test_oneshot_publishes_quarantines_and_reimport_adds_nothing(
    void **state)
{
    fx_t *f = *state;
    char file[400], out[8192];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_gen(file, 0, 300, s_bad_tail);
    s_conf(f, NULL);
    char arg[500];
    snprintf(arg, sizeof arg, "'%s'", file);
    /* quarantined records make the exit status 1 */
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    assert_non_null(strstr(out, "303 records: 300 published, 0 duplicates, "
                                "0 conflicts, 3 quarantined"));
    assert_int_equal(rzt_head(&f->b), 300);
    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, 303);
    assert_int_equal(c.published, 300);
    assert_int_equal(c.quarantined, 3);
    assert_int_equal(c.depth, 0);

    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
    assert_non_null(strstr(out, "in.ndjson:301 [line 301] not JSON"));
    assert_non_null(strstr(out, "in.ndjson:302 [line 302] unknown tenant "
                                "'9999999' (not in the TERYT TERC register)"));
    assert_non_null(strstr(out, "in.ndjson:303 [line 303] tenant '1465028' is '"
                                "Bemowo' (dzielnica)"));

    /* the same export again: read again, nothing new on the bus, and not
     * said to be published */
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    assert_non_null(strstr(out, "303 records: 0 published, 300 duplicates, "
                                "0 conflicts, 3 quarantined"));
    assert_int_equal(rzt_head(&f->b), 300);
    c = s_counts(f);
    assert_int_equal(c.read, 606);
    assert_int_equal(c.published, 300);
    assert_int_equal(c.duplicates, 300);
}

static void test_dry_run_prints_cloudevents_and_quarantine(void **state)
{
    fx_t *f = *state;
    char file[400], out[65536], cmd[1200];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_gen(file, 0, 3, s_bad_tail);
    s_conf(f, "source: /{tenant}/{domain}/fk\n");
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' --dry-run '%s' 2>/dev/null",
             RZ_ADAPTER_BIN, f->conf, file);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1);
    /* three events, the source from the template, the time in UTC */
    assert_non_null(strstr(out, "\"id\":\"e-2\",\"source\":\"/1261011/budget/"
                                "fk\",\"type\":\"pl.gov.gmina.budget.test.v1\""
                                ",\"subject\":\"unit:2\",\"time\":\"2024-01-03"
                                "T11:00:00Z\""));
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 3);
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' --dry-run '%s' 2>&1 >/dev/null",
             RZ_ADAPTER_BIN, f->conf, file);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "quarantined: "));
    assert_non_null(strstr(out, "in.ndjson:5: line 5: unknown tenant "
                                "'9999999'"));
    assert_non_null(strstr(out, "6 records: 3 events mapped, 3 quarantined"));
    /* no broker, no store */
    assert_int_equal(rzt_head(&f->b), 0);
    assert_false(s_exists(f->data));
}

static void test_config_errors_name_the_problem(void **state)
{
    fx_t *f = *state;
    char out[4096];
    s_conf(f, "budget:\n  delimiter: \";\"\n");
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, "section 'budget' is for another system "
                                "(this one is 'ndjson')"));
    s_conf(f, "ndjson:\n  no_such_key: 1\n");
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown key 'ndjson.no_such_key'"));
    s_conf(f, "windw: 5\n");
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, ":7: unknown key 'windw'"));
}

/* ===========================================================================
 * Failures: the broker stopped, the adapter killed
 */

#define N_BIG 20000

static void test_broker_stopped_mid_import_every_record_once(void **state)
{
    fx_t *f = *state;
    char file[400], log[400];
    snprintf(file, sizeof file, "%s/big.ndjson", f->dir);
    snprintf(log, sizeof log, "%s/adapter.log", f->dir);
    s_gen(file, 0, N_BIG, NULL);
    /* small window, one event per request: slow enough to be caught */
    s_conf(f, "window: 16\nbatch: 1\nwait_ms: 60000\n");
    pid_t pid = s_spawn(f, file, log);
    assert_int_equal(s_wait_head(f, 2000, 30000), 0);
    uint64_t at_stop = rzt_head(&f->b);
    assert_true(rzt_broker_stop(&f->b) >= 0);
    assert_true(at_stop < N_BIG);
    s_sleep_ms(1500); /* the adapter goes on: its outbox takes the rest */
    assert_int_equal(rzt_broker_restart(&f->b), 0);
    int st = s_wait_exit(pid, 120000);
    if (st != 0)
        s_print_log(log);
    assert_int_equal(st, 0);
    assert_int_equal(rzt_head(&f->b), N_BIG);
    size_t total;
    assert_int_equal(s_distinct_ids(f, &total), N_BIG);
    assert_int_equal(total, N_BIG);
    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, N_BIG);
    /* an event whose ack was lost is sent again: the broker answers it as
     * a duplicate */
    assert_int_equal(c.published + c.duplicates, N_BIG);
    assert_int_equal(c.depth, 0);
}

static void test_adapter_killed_mid_file_resumes_every_record_once(
    void **state)
{
    fx_t *f = *state;
    char file[400], log[400];
    snprintf(file, sizeof file, "%s/big.ndjson", f->dir);
    snprintf(log, sizeof log, "%s/adapter.log", f->dir);
    s_gen(file, 0, N_BIG, NULL);
    s_conf(f, "window: 16\nbatch: 1\ncommit_every: 500\nwait_ms: 60000\n");
    pid_t pid = s_spawn(f, file, log);
    assert_int_equal(s_wait_head(f, 3000, 30000), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    uint64_t at_kill = rzt_head(&f->b);
    assert_true(at_kill < N_BIG);
    /* the same command again */
    pid = s_spawn(f, file, log);
    int st = s_wait_exit(pid, 120000);
    if (st != 0)
        s_print_log(log);
    assert_int_equal(st, 0);
    assert_int_equal(rzt_head(&f->b), N_BIG);
    size_t total;
    assert_int_equal(s_distinct_ids(f, &total), N_BIG);
    assert_int_equal(total, N_BIG);
    rz_acounts_t c = s_counts(f);
    /* each record read once: the second run did not read the file again */
    assert_int_equal(c.read, N_BIG);
    assert_int_equal(c.published + c.duplicates, N_BIG);
    assert_int_equal(c.depth, 0);
}

/* ===========================================================================
 * Daemon: drop folder, HTTP
 */

/* The drop folder f->dir/drop, made, and the daemon's log beside it. */
static void s_drop_paths(fx_t *f, char drop[400], char log[400])
{
    snprintf(drop, 400, "%s/drop", f->dir);
    snprintf(log, 400, "%s/adapter.log", f->dir);
    assert_int_equal(mkdir(drop, 0755), 0);
}

/* Start the daemon on drop, polling every 50 ms, a file complete once
 * unchanged for settle_ms, with more configuration lines; it logs to log
 * as name. */
static pid_t s_drop_daemon(fx_t *f, const char *drop, int settle_ms,
                           const char *more, const char *name,
                           const char *log)
{
    char extra[1024], arg[128];
    snprintf(extra, sizeof extra,
             "drop_dir: %s\npoll_ms: 50\ndrop_settle_ms: %d\n%s", drop,
             settle_ms, more);
    s_conf(f, extra);
    snprintf(arg, sizeof arg, "--name=%s", name);
    return s_spawn(f, arg, log);
}

static void test_drop_folder_done_after_acks_and_failed_with_reason(
    void **state)
{
    fx_t *f = *state;
    char drop[400], log[400], path[600], tmp[600], out[2048];
    s_drop_paths(f, drop, log);
    pid_t pid = s_drop_daemon(f, drop, 300, "", "adapter/drop-test", log);

    /* written elsewhere, renamed in: taken at once */
    snprintf(tmp, sizeof tmp, "%s/.good.ndjson.tmp", drop);
    s_gen(tmp, 0, 10, NULL);
    snprintf(path, sizeof path, "%s/good.ndjson", drop);
    assert_int_equal(rename(tmp, path), 0);
    /* a binary file dropped by mistake */
    snprintf(path, sizeof path, "%s/scan.bin", drop);
    s_write(path, "PK\0\x03\x04", 5);

    snprintf(path, sizeof path, "%s/done/good.ndjson", drop);
    assert_int_equal(s_wait_file(path, 10000), 0);
    assert_int_equal(rzt_head(&f->b), 10);
    snprintf(path, sizeof path, "%s/failed/scan.bin.reason", drop);
    assert_int_equal(s_wait_file(path, 10000), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    rzt_run(cmd, out, sizeof out);
    assert_string_equal(out, "binary data (a NUL byte at offset 2): not "
                             "NDJSON\n");
    snprintf(path, sizeof path, "%s/failed/scan.bin", drop);
    assert_true(s_exists(path));

    /* the broker is down: the file waits in the drop folder until its
     * events are acked */
    assert_true(rzt_broker_stop(&f->b) >= 0);
    snprintf(tmp, sizeof tmp, "%s/.more.tmp", drop);
    s_gen(tmp, 10, 5, NULL);
    snprintf(path, sizeof path, "%s/more.ndjson", drop);
    assert_int_equal(rename(tmp, path), 0);
    s_sleep_ms(1500);
    assert_true(s_exists(path));
    assert_int_equal(rzt_broker_restart(&f->b), 0);
    snprintf(path, sizeof path, "%s/done/more.ndjson", drop);
    assert_int_equal(s_wait_file(path, 20000), 0);
    assert_int_equal(rzt_head(&f->b), 15);

    /* the same export under another name: done, nothing new */
    snprintf(tmp, sizeof tmp, "%s/.again.tmp", drop);
    s_gen(tmp, 0, 10, NULL);
    snprintf(path, sizeof path, "%s/again.ndjson", drop);
    assert_int_equal(rename(tmp, path), 0);
    snprintf(path, sizeof path, "%s/done/again.ndjson", drop);
    assert_int_equal(s_wait_file(path, 10000), 0);
    assert_int_equal(rzt_head(&f->b), 15);

    /* its report reached the broker */
    char stats[16384];
    snprintf(cmd, sizeof cmd, "'%s' -e %s stats", RZ_RATUSZ_CLI, f->b.front);
    s_sleep_ms(400);
    assert_int_equal(rzt_run(cmd, stats, sizeof stats), 0);
    assert_non_null(strstr(stats, "adapter/drop-test"));
    assert_non_null(strstr(stats, "records_read 25"));

    kill(pid, SIGTERM);
    int st = s_wait_exit(pid, 20000);
    if (st != 0)
        s_print_log(log);
    assert_int_equal(st, 0);
    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, 25);
    assert_int_equal(c.published, 15);
    assert_int_equal(c.duplicates, 10);
    assert_int_equal(c.files_done, 3);
    assert_int_equal(c.files_failed, 1);
}

/* log_level drops the lines below it (the start and stop of a run are
 * info) and keeps the rest (a file moved to failed/ is a warning). */
static void test_log_level_warn_keeps_warnings_drops_info(void **state)
{
    fx_t *f = *state;
    char drop[400], log[400], path[600], cmd[700], out[8192];
    s_drop_paths(f, drop, log);
    pid_t pid = s_drop_daemon(f, drop, 100, "log_level: warn\n",
                              "adapter/log-test", log);
    snprintf(path, sizeof path, "%s/scan.bin", drop);
    s_write(path, "PK\0\x03\x04", 5);
    snprintf(path, sizeof path, "%s/failed/scan.bin.reason", drop);
    assert_int_equal(s_wait_file(path, 10000), 0);
    kill(pid, SIGTERM);
    int st = s_wait_exit(pid, 20000);
    if (st != 0)
        s_print_log(log);
    assert_int_equal(st, 0);
    snprintf(cmd, sizeof cmd, "cat '%s'", log);
    rzt_run(cmd, out, sizeof out);
    assert_non_null(strstr(out, "ratusz-adapter: "));
    assert_non_null(strstr(out, "scan.bin: binary data (a NUL byte at offset "
                                "2): not NDJSON"));
    assert_null(strstr(out, "SIGTERM, stopping"));
    assert_null(strstr(out, " -> tcp://"));
}

/* Whoever may drop a file may drop a link, a FIFO or a directory instead:
 * each goes to failed/ with a reason saying what it is, and none is read
 * (the link's target, a file the dropper could not read, must not show up
 * in the quarantine). A link planted at failed/NAME.reason is replaced,
 * not followed. */
static void test_drop_folder_never_reads_links_fifos_or_directories(
    void **state)
{
    fx_t *f = *state;
    char drop[400], log[400], path[600], secret[400], victim[400];
    char out[8192], cmd[1400];
    s_drop_paths(f, drop, log);
    snprintf(path, sizeof path, "%s/failed", drop);
    assert_int_equal(mkdir(path, 0755), 0);

    snprintf(secret, sizeof secret, "%s/secret.txt", f->dir);
    s_write(secret, "SECRET-CONTENT-42\n", 18);
    snprintf(victim, sizeof victim, "%s/victim.txt", f->dir);
    s_write(victim, "VICTIM\n", 7);

    snprintf(path, sizeof path, "%s/link.ndjson", drop);
    assert_int_equal(symlink(secret, path), 0);
    snprintf(path, sizeof path, "%s/pipe.ndjson", drop);
    assert_int_equal(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/sub.d", drop);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub.d/inner.ndjson", drop);
    s_gen(path, 0, 1, NULL);
    /* planted before the file it is named after fails */
    snprintf(path, sizeof path, "%s/failed/scan.bin.reason", drop);
    assert_int_equal(symlink(victim, path), 0);
    snprintf(path, sizeof path, "%s/scan.bin", drop);
    s_write(path, "PK\0\x03\x04", 5);

    pid_t pid =
        s_drop_daemon(f, drop, 100, "", "adapter/drop-special", log);

    static const struct {
        const char *name, *reason;
    } want[] = {
        {"link.ndjson", "link.ndjson is a symbolic link, not a regular "
                        "file: not read\n"},
        {"pipe.ndjson", "pipe.ndjson is a FIFO, not a regular file: not "
                        "read\n"},
        {"sub.d", "sub.d is a directory, not a regular file: not read\n"},
        {"scan.bin", "binary data (a NUL byte at offset 2): not NDJSON\n"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(path, sizeof path, "%s/failed/%s.reason", drop,
                 want[i].name);
        if (s_wait_file(path, 10000) != 0)
            s_print_log(log);
        assert_int_equal(s_wait_file(path, 10000), 0);
        s_sleep_ms(50);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        snprintf(cmd, sizeof cmd, "cat '%s'", path);
        rzt_run(cmd, out, sizeof out);
        assert_string_equal(out, want[i].reason);
    }
    /* the link moved as a link, its target untouched and unread */
    struct stat st;
    snprintf(path, sizeof path, "%s/failed/link.ndjson", drop);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    snprintf(path, sizeof path, "%s/failed/pipe.ndjson", drop);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    snprintf(path, sizeof path, "%s/failed/sub.d/inner.ndjson", drop);
    assert_true(s_exists(path));
    snprintf(cmd, sizeof cmd, "cat '%s' '%s'", secret, victim);
    rzt_run(cmd, out, sizeof out);
    assert_string_equal(out, "SECRET-CONTENT-42\nVICTIM\n");

    kill(pid, SIGTERM);
    int rc = s_wait_exit(pid, 20000);
    if (rc != 0)
        s_print_log(log);
    assert_int_equal(rc, 0);
    assert_int_equal(rzt_head(&f->b), 0);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
    assert_string_equal(out, "no quarantined records\n");
    snprintf(cmd, sizeof cmd, "cat '%s'", log);
    rzt_run(cmd, out, sizeof out);
    assert_null(strstr(out, "SECRET-CONTENT-42"));
    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, 0);
    assert_int_equal(c.files_failed, 4);
}

/* A one-shot file argument is the operator's choice: a link is followed. */
static void test_oneshot_file_argument_may_be_a_link(void **state)
{
    fx_t *f = *state;
    char file[400], link[400], arg[900], out[8192];
    snprintf(file, sizeof file, "%s/real.ndjson", f->dir);
    snprintf(link, sizeof link, "%s/link.ndjson", f->dir);
    s_gen(file, 0, 3, NULL);
    assert_int_equal(symlink(file, link), 0);
    s_conf(f, NULL);
    snprintf(arg, sizeof arg, "'%s'", link);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 0);
    assert_non_null(strstr(out, "3 records: 3 published, 0 duplicates, "
                                "0 conflicts, 0 quarantined"));
    assert_int_equal(rzt_head(&f->b), 3);
}

/* The broker already has e-0 from this source with other content: the
 * adapter's e-0 is a conflict. It is quarantined with the broker's reason,
 * not published and not retried, counted as a conflict (metric
 * `conflicts`), said so in the summary, and the exit status is 1.
 * (Needs the broker to answer RZ_ECONFLICT: a broker that does not yet
 * answers it as a duplicate, and this test fails.) */
static void test_conflict_is_quarantined_with_the_brokers_reason(void **state)
{
    fx_t *f = *state;
    char file[400], cmd[1400], out[16384];
    snprintf(cmd, sizeof cmd,
             "'%s' -e %s pub --id e-0 --source /1261011/budget/ndjson "
             "--type pl.gov.gmina.budget.test.v1 --tenant 1261011 "
             "--subject unit:other --time 2024-02-02T12:00:00Z 2>&1",
             RZ_RATUSZ_CLI, f->b.front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_int_equal(rzt_head(&f->b), 1);

    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    s_gen(file, 0, 3, NULL);
    s_conf(f, NULL);
    char arg[500];
    snprintf(arg, sizeof arg, "'%s'", file);
    int rc = s_adapter(f, arg, out, sizeof out);
    if (rc != 1 || !strstr(out, "1 conflicts"))
        fprintf(stderr, "--- adapter\n%s---\n", out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "3 records: 2 published, 0 duplicates, "
                                "1 conflicts, 0 quarantined"));
    assert_null(strstr(out, "3 published"));
    assert_int_equal(rzt_head(&f->b), 3);

    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
    assert_non_null(strstr(out, "[line 1]"));
    assert_non_null(strstr(out, "different content"));

    /* its last report says so */
    snprintf(cmd, sizeof cmd, "'%s' -e %s stats", RZ_RATUSZ_CLI, f->b.front);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "conflicts 1"));

    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, 3);
    assert_int_equal(c.published, 2);
    assert_int_equal(c.conflicts, 1);
    assert_int_equal(c.quarantined, 1);
    assert_int_equal(c.depth, 0);
}

typedef struct resp {
    char body[4096];
    size_t len;
} resp_t;

static size_t s_on_body(char *d, size_t size, size_t n, void *user)
{
    resp_t *r = user;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;
    size_t take = len < room ? len : room;
    memcpy(r->body + r->len, d, take);
    r->len += take;
    r->body[r->len] = '\0';
    return len;
}

static long s_http(const char *method, const char *url, const char *body,
                   size_t len, resp_t *r)
{
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_http_post_202_after_spooling_and_errors_named(void **state)
{
    fx_t *f = *state;
    char log[400], extra[300], url[200], stats[200];
    snprintf(log, sizeof log, "%s/adapter.log", f->dir);
    int port = rzt_free_port();
    snprintf(extra, sizeof extra, "http: 127.0.0.1:%d\nhttp_max_body: 4K\n",
             port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/air/measurements", port);
    snprintf(stats, sizeof stats, "http://127.0.0.1:%d/stats", port);
    s_conf(f, extra);
    pid_t pid = s_spawn(f, "--poll-ms=50", log);
    resp_t r;
    long st = -1;
    for (int i = 0; i < 200 && st < 0; i++) {
        st = s_http("GET", stats, NULL, 0, &r);
        if (st < 0)
            s_sleep_ms(25);
    }
    assert_int_equal(st, 200);

    char file[400];
    snprintf(file, sizeof file, "%s/two.ndjson", f->dir);
    s_gen(file, 0, 2, NULL);
    char body[1024];
    FILE *fp = fopen(file, "rb");
    size_t n = fread(body, 1, sizeof body, fp);
    fclose(fp);
    assert_int_equal(s_http("POST", url, body, n, &r), 202);
    assert_string_equal(r.body, "{\"records\":2,\"events\":2,"
                                "\"quarantined\":0}\n");

    s_gen(file, 2, 1, "{\"nope\":\n");
    fp = fopen(file, "rb");
    n = fread(body, 1, sizeof body, fp);
    fclose(fp);
    assert_int_equal(s_http("POST", url, body, n, &r), 422);
    assert_non_null(strstr(r.body, "\"records\":2,\"events\":1,"
                                   "\"quarantined\":1"));
    assert_non_null(strstr(r.body, "not JSON"));

    assert_int_equal(s_http("POST", url, "\0\1", 2, &r), 400);
    assert_string_equal(r.body, "{\"error\":\"binary data (a NUL byte at "
                                "offset 0): not NDJSON\"}\n");
    assert_int_equal(s_http("POST", url, "", 0, &r), 400);
    assert_string_equal(r.body, "{\"error\":\"empty body\"}\n");
    static char big[5000];
    memset(big, ' ', sizeof big);
    assert_int_equal(s_http("POST", url, big, sizeof big, &r), 413);
    assert_int_equal(s_http("GET", url, NULL, 0, &r), 405);

    assert_int_equal(s_wait_head(f, 3, 10000), 0);
    assert_int_equal(s_http("GET", stats, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "\"records_read\":4"));
    assert_non_null(strstr(r.body, "\"records_quarantined\":1"));

    kill(pid, SIGTERM);
    assert_int_equal(s_wait_exit(pid, 20000), 0);
    assert_int_equal(rzt_head(&f->b), 3);
    rz_acounts_t c = s_counts(f);
    assert_int_equal(c.read, 4);
    assert_int_equal(c.published, 3);
    assert_int_equal(c.quarantined, 1);
}

/* ===========================================================================
 * Quarantine workflow
 */

static int s_on_tenant(const rz_event_t *ev, void *user)
{
    snprintf(user, 16, "%s", ev->msg->tenant);
    return 0;
}

static void test_quarantine_show_and_retry_after_mapping_fix(void **state)
{
    fx_t *f = *state;
    char file[400], out[8192], arg[500];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    /* the second line has no tenant: not mappable as configured */
    s_gen(file, 0, 1,
          "{\"specversion\":\"1.0\",\"id\":\"w-1\",\"type\":\"pl.gov.gmina."
          "budget.test.v1\",\"subject\":\"unit:Łódź\"}\n");
    s_conf(f, NULL);
    snprintf(arg, sizeof arg, "'%s'", file);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 1);
    assert_int_equal(rzt_head(&f->b), 1);

    assert_int_equal(s_adapter(f, "quarantine show 1", out, sizeof out), 0);
    assert_non_null(strstr(out, "line:         2\n"));
    assert_non_null(strstr(out, "key:          line 2\n"));
    assert_non_null(strstr(out, "reason:       unknown tenant ''"));
    /* the original bytes, diacritics intact */
    assert_non_null(strstr(out, "\"subject\":\"unit:Łódź\"}\n"));
    assert_int_equal(s_adapter(f, "quarantine show 7", out, sizeof out), 1);
    assert_non_null(strstr(out, "quarantine 7: not found"));

    /* retried unchanged: still quarantined, nothing published */
    assert_int_equal(s_adapter(f, "quarantine retry 1", out, sizeof out), 1);
    assert_non_null(strstr(out, "1: still quarantined: unknown tenant ''"));

    /* the fix: a default tenant for lines without one */
    s_conf(f, "ndjson:\n  default_tenant: \"1061011\"\n");
    assert_int_equal(s_adapter(f, "quarantine retry --all", out, sizeof out),
                     0);
    assert_non_null(strstr(out, "1: ok: 1 event(s) spooled for the broker"));
    assert_int_equal(rzt_head(&f->b), 2);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
    assert_string_equal(out, "no quarantined records\n");

    rz_client_t *c = rzt_client(&f->b, 16, 1);
    rz_query_t q = {.subject = "unit:Łódź"};
    char tenant[16] = "";
    assert_int_equal(rz_query(c, &q, s_on_tenant, tenant), 1);
    rz_client_destroy(&c);
    assert_string_equal(tenant, "1061011");
    rz_acounts_t k = s_counts(f);
    assert_int_equal(k.read, 2);
    assert_int_equal(k.published, 2);
    assert_int_equal(k.quarantined, 0);
}

/* ===========================================================================
 * Webhook sink
 */

typedef struct hook {
    pthread_mutex_t mu;
    int requests;
    int fail_first;
    int delivered;
    char ids[64][16];
    char ctype[128];
    int bad_body;
} hook_t;

typedef struct hreq {
    char body[8192];
    size_t len;
} hreq_t;

static enum MHD_Result s_hook(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    hook_t *h = cls;
    hreq_t *q = *con_cls;
    if (!q) {
        *con_cls = calloc(1, sizeof(hreq_t));
        return MHD_YES;
    }
    if (*upload_len) {
        size_t n = *upload_len;
        if (q->len + n < sizeof q->body) {
            memcpy(q->body + q->len, upload, n);
            q->len += n;
        }
        *upload_len = 0;
        return MHD_YES;
    }
    unsigned status = 204;
    pthread_mutex_lock(&h->mu);
    h->requests++;
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 "Content-Type");
    snprintf(h->ctype, sizeof h->ctype, "%s", ct ? ct : "");
    if (h->requests <= h->fail_first) {
        status = 503;
    } else {
        const char *p = strstr(q->body, "\"id\":\"");
        if (!p || !strstr(q->body, "\"specversion\":\"1.0\"") ||
            h->delivered >= 64) {
            h->bad_body++;
        } else {
            p += 6;
            snprintf(h->ids[h->delivered], sizeof h->ids[0], "%.*s",
                     (int)strcspn(p, "\""), p);
            h->delivered++;
        }
    }
    pthread_mutex_unlock(&h->mu);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void s_hook_done(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode t)
{
    free(*con_cls);
    *con_cls = NULL;
}

static void test_webhook_sink_catches_up_in_order_after_target_was_down(
    void **state)
{
    fx_t *f = *state;
    char file[400], out[4096], arg[500], log[400];
    snprintf(file, sizeof file, "%s/in.ndjson", f->dir);
    snprintf(log, sizeof log, "%s/adapter.log", f->dir);
    s_gen(file, 0, 20, NULL);
    s_conf(f, NULL);
    snprintf(arg, sizeof arg, "'%s'", file);
    assert_int_equal(s_adapter(f, arg, out, sizeof out), 0);

    hook_t h = {.fail_first = 3};
    pthread_mutex_init(&h.mu, NULL);
    int port = rzt_free_port();
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, (uint16_t)port, NULL,
        NULL, s_hook, &h, MHD_OPTION_NOTIFY_COMPLETED, s_hook_done, NULL,
        MHD_OPTION_END);
    assert_non_null(d);
    char extra[400];
    /* two attempts per round: the first round fails, the sink backs off
     * and starts again from the first event */
    snprintf(extra, sizeof extra,
             "sink: webhook\nsink_target: http://127.0.0.1:%d/hook\n"
             "sink_retries: 2\nsink_batch: 8\npoll_ms: 50\n",
             port);
    s_conf(f, extra);
    pid_t pid = s_spawn(f, "--name=adapter/hook-test", log);
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&h.mu);
        int n = h.delivered;
        pthread_mutex_unlock(&h.mu);
        if (n >= 20)
            break;
        s_sleep_ms(20);
    }
    s_sleep_ms(300); /* nothing more should come */
    kill(pid, SIGTERM);
    int st = s_wait_exit(pid, 20000);
    MHD_stop_daemon(d);
    if (st != 0 || h.delivered != 20)
        s_print_log(log);
    assert_int_equal(st, 0);
    assert_int_equal(h.bad_body, 0);
    assert_int_equal(h.delivered, 20);
    assert_int_equal(h.requests, 23);
    assert_string_equal(h.ctype, "application/cloudevents+json; "
                                 "charset=utf-8");
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof want, "e-%d", i);
        assert_string_equal(h.ids[i], want);
    }
    /* the group is at the head: a restarted sink sends nothing again */
    rz_client_t *c = rzt_client(&f->b, 16, 1);
    char last[16] = "";
    int n = rz_fetch(c, "sink-ndjson", NULL, 0, 100, s_on_tenant, last, NULL);
    rz_client_destroy(&c);
    assert_int_equal(n, 0);
    pthread_mutex_destroy(&h.mu);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_oneshot_publishes_quarantines_and_reimport_adds_nothing,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_dry_run_prints_cloudevents_and_quarantine, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_config_errors_name_the_problem,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_broker_stopped_mid_import_every_record_once, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_adapter_killed_mid_file_resumes_every_record_once, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_drop_folder_done_after_acks_and_failed_with_reason, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_log_level_warn_keeps_warnings_drops_info, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_drop_folder_never_reads_links_fifos_or_directories, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_oneshot_file_argument_may_be_a_link, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_conflict_is_quarantined_with_the_brokers_reason, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_http_post_202_after_spooling_and_errors_named, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_quarantine_show_and_retry_after_mapping_fix, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_webhook_sink_catches_up_in_order_after_target_was_down,
            s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
