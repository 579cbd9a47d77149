/* test_reload.c - live reload (SIGHUP, RELOAD) and systemd's notify
 * protocol against the real broker.
 *
 * A broker started with -c FILE and flags: a reload reads the file again,
 * keeps the flags over it, applies the live settings (checked by what the
 * broker does), names the changed ones that need a restart, and changes
 * nothing at all for a bad file. With CURVE, RELOAD needs the grant and
 * its reply lists the changes. Under a NOTIFY_SOCKET the broker says
 * READY=1, STATUS=..., RELOADING=1, WATCHDOG=1 and STOPPING=1, and its
 * pings stop while the writer is stalled (the test-only hook
 * RATUSZ_TEST_STALL_WRITER).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

typedef struct fx {
    rzt_broker_t b;
    char dir[256];   /* config, keys, the notify socket */
    char conf[320];  /* ratuszd.yaml */
    char stall[320]; /* the writer stalls while this file exists */
    char principals[320];
    char srv_pub[41], srv_sec[41];
    char op_pub[41], op_sec[41]; /* operator: admin reload */
    char rd_pub[41], rd_sec[41]; /* reader: no admin grant */
    int notify;                  /* the notify socket, or -1 */
} fx_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static void s_write(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_write(const char *path, const char *fmt, ...)
{
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* How many times needle is in the broker's log. */
static int s_log_count(const fx_t *f, const char *needle)
{
    FILE *l = fopen(f->b.log, "r");
    if (!l)
        return 0;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, l);
    fclose(l);
    text[n] = '\0';
    int count = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        count++;
    return count;
}

/* SIGHUP and wait for its outcome in the log. Returns 0 when the broker
 * reloaded, -1 when it refused the file. */
static int s_sighup(fx_t *f)
{
    int ok = s_log_count(f, "SIGHUP: configuration reloaded");
    int bad = s_log_count(f, "the configuration was not reloaded");
    kill(f->b.pid, SIGHUP);
    for (int i = 0; i < 200; i++) {
        if (s_log_count(f, "SIGHUP: configuration reloaded") > ok)
            return 0;
        if (s_log_count(f, "the configuration was not reloaded") > bad)
            return -1;
        usleep(100000);
    }
    fail_msg("no outcome of SIGHUP in %s (broker %s)", f->b.log,
             rzt_broker_alive(&f->b) ? "running" : "gone");
    return -1;
}

/* Publish one event whose description is n bytes; the ack's code. */
static int s_publish_size(const fx_t *f, size_t n, const char *id)
{
    char *pad = malloc(n + 1);
    assert_non_null(pad);
    memset(pad, 'p', n);
    pad[n] = '\0';
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    assert_non_null(c);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/reload", id, "", 1, 1);
    be.description = pad;
    int rc = rzt_publish_sync(c, &ev, NULL);
    rz_client_destroy(&c);
    free(pad);
    return rc;
}

static uint64_t s_memory_budget(const fx_t *f)
{
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    assert_non_null(c);
    Ratusz__V1__Stats *s = NULL;
    assert_int_equal(rz_stats(c, &s), 0);
    uint64_t v = s->memory_budget;
    ratusz__v1__stats__free_unpacked(s, NULL);
    rz_client_destroy(&c);
    return v;
}

static fx_t *s_fx_new(void)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->notify = -1;
    assert_int_equal(rzt_tmpdir(f->dir, sizeof f->dir), 0);
    snprintf(f->conf, sizeof f->conf, "%s/ratuszd.yaml", f->dir);
    snprintf(f->stall, sizeof f->stall, "%s/stall", f->dir);
    snprintf(f->principals, sizeof f->principals, "%s/principals.yaml", f->dir);
    return f;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (!f)
        return 0;
    rzt_broker_cleanup(&f->b);
    if (f->notify >= 0)
        close(f->notify);
    rzt_curve(NULL, NULL, NULL);
    rzt_rmtree(f->dir);
    free(f);
    *state = NULL;
    return 0;
}

/* ------------------------------------------------------------------------
 * Without CURVE: SIGHUP
 */

/* The file's listen is overridden by the harness's --listen flag: a
 * reload must keep it so, and not call it a change. */
#define S_CONF_START                                                           \
    "log_level: info\n"                                                        \
    "max_message: 4M\n"                                                        \
    "memory_budget: 256M\n"                                                    \
    "listen: tcp://127.0.0.1:1\n"

static int s_setup_plain(void **state)
{
    fx_t *f = s_fx_new();
    *state = f;
    s_write(f->conf, S_CONF_START);
    static char conf[320];
    snprintf(conf, sizeof conf, "%s", f->conf);
    const char *extra[] = {"-c", conf, NULL};
    return rzt_broker_start(&f->b, extra);
}

static void test_sighup_applies_live_settings_names_restart_ones(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_publish_size(f, 100 * 1024, "before"), 0);
    assert_int_equal(s_memory_budget(f), 256u << 20);

    s_write(f->conf, "log_level: debug\n"
                     "max_message: 64K\n"
                     "memory_budget: 128M\n"
                     "listen: tcp://127.0.0.1:1\n"
                     "map_max: 128G\n");
    assert_int_equal(s_sighup(f), 0);

    /* live: a request over the new max_message is refused, the budget
     * is the new one, debug lines are written */
    assert_int_equal(s_publish_size(f, 100 * 1024, "after"), RZ_ETOOBIG);
    assert_int_equal(s_publish_size(f, 1024, "small"), 0);
    assert_int_equal(s_memory_budget(f), 128u << 20);
    assert_int_equal(s_log_count(f, "SIGHUP: max_message: 4M -> 64K"), 1);
    assert_int_equal(s_log_count(f, "SIGHUP: memory_budget: 256M -> 128M"), 1);
    assert_int_equal(s_log_count(f, "SIGHUP: log_level: info -> debug"), 1);
    assert_true(s_log_count(f, " debug: ") > 0);

    /* restart-only: named, and the running value stays */
    assert_int_equal(s_log_count(f, "SIGHUP: map_max: needs a restart "
                                    "(running 64G, file says 128G)"),
                     1);
    char body[65536];
    assert_true(rzt_http_get(f->b.metrics, "/metrics", body, sizeof body) >= 0);
    assert_non_null(strstr(body, "\nratusz_map_max_bytes 68719476736\n"));

    /* the --listen flag still overrides the file: not a change, and the
     * broker still answers there */
    assert_int_equal(s_log_count(f, "listen: needs a restart"), 0);
    assert_true(rzt_head(&f->b) >= 2);

    /* the same file again: nothing changed, map_max still named */
    assert_int_equal(s_sighup(f), 0);
    assert_int_equal(s_log_count(f, "SIGHUP: max_message: 4M -> 64K"), 1);
    assert_int_equal(s_log_count(f, "map_max: needs a restart"), 2);
}

static void test_sighup_bad_file_changes_nothing(void **state)
{
    fx_t *f = *state;
    s_write(f->conf, "max_message: 64K\nmemory_budget: 128M\n");
    assert_int_equal(s_sighup(f), 0);

    static const struct {
        const char *text, *named;
    } bad[] = {
        {"max_message: 1M\nmemory_budget: [512M\n",
         "ratuszd.yaml:3: syntax error"},
        {"max_message: 1M\nmax_mesage: 2M\n",
         "ratuszd.yaml:2: unknown key 'max_mesage'"},
        {"max_message: 1M\nmap_size: 1G\nmap_max: 512M\n",
         "map_max (512M) is smaller than map_size (1G)"},
        /* each value fine on its own, not together */
        {"max_message: 8M\nmemory_budget: 16M\n",
         "max_message (8M) must be at most a quarter of memory_budget (16M)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_write(f->conf, "%s", bad[i].text);
        assert_int_equal(s_sighup(f), -1);
        if (s_log_count(f, bad[i].named) != 1)
            fail_msg("case %zu: '%s' not named once in %s", i, bad[i].named,
                     f->b.log);
        /* nothing changed: 100K is still over max_message, the budget
         * is still 128M */
        assert_int_equal(s_publish_size(f, 100 * 1024, "bad"), RZ_ETOOBIG);
        assert_int_equal(s_memory_budget(f), 128u << 20);
    }
    assert_int_equal(s_log_count(f, "max_message: 64K -> 1M"), 0);
}

/* Retention is live: a broker started without rules gets them by SIGHUP
 * and removes what they say is due; the newest event always stays. */
static void test_sighup_turns_retention_on(void **state)
{
    fx_t *f = *state;
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    assert_non_null(c);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char id[32];
    /* three events of 2001, then one of now */
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "old-%d", i);
        rzt_event(&ev, &be, "/1261011/budget/reload", id, "unit:1",
                  INT64_C(978307200000000) + i, 1);
        assert_int_equal(rzt_publish_sync(c, &ev, NULL), 0);
    }
    rzt_event(&ev, &be, "/1261011/budget/reload", "new", "unit:1",
              rz_now_us(), 1);
    assert_int_equal(rzt_publish_sync(c, &ev, NULL), 0);
    uint64_t head = rzt_head(&f->b);
    assert_true(head >= 4);

    s_write(f->conf, S_CONF_START "retention:\n"
                                  "  \"1261011.budget.\": {max_age: 3650d}\n"
                                  "retention_interval: 1s\n");
    assert_int_equal(s_sighup(f), 0);
    assert_int_equal(s_log_count(f, "SIGHUP: retention: 1 rules from now on"),
                     1);
    /* the old ones go at the next pass; the one of now stays */
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = rz_get_seq(c, head - 3, NULL, NULL) == RZ_ENOTFOUND;
        if (!gone)
            usleep(100000);
    }
    assert_true(gone);
    assert_non_null(strstr(rz_client_last_error(c), "removed by retention"));
    assert_int_equal(rz_get_seq(c, head - 1, NULL, NULL), RZ_ENOTFOUND);
    assert_true(rz_get_seq(c, head, NULL, NULL) >= 0);
    rz_client_destroy(&c);
}

/* ------------------------------------------------------------------------
 * With CURVE: RELOAD over the socket
 */

static void s_principals(const fx_t *f)
{
    s_write(f->principals,
            "principals:\n"
            "  operator:\n"
            "    key: \"%s\"\n"
            "    read: [\"\"]\n"
            "    admin: [stats, reload]\n"
            "  reader:\n"
            "    key: \"%s\"\n"
            "    read: [\"\"]\n",
            f->op_pub, f->rd_pub);
}

static int s_setup_curve(void **state)
{
    fx_t *f = s_fx_new();
    *state = f;
    rzt_keypair(f->srv_pub, f->srv_sec);
    rzt_keypair(f->op_pub, f->op_sec);
    rzt_keypair(f->rd_pub, f->rd_sec);
    static char key[320];
    snprintf(key, sizeof key, "%s/ratuszd.key", f->dir);
    if (rzt_write_key(key, "ratuszd", f->srv_pub, f->srv_sec) < 0)
        return -1;
    s_principals(f);
    s_write(f->conf, "server_key: %s\nprincipals: %s\n", key, f->principals);
    static char conf[320];
    snprintf(conf, sizeof conf, "%s", f->conf);
    const char *extra[] = {"-c", conf, NULL};
    rzt_curve(f->op_pub, f->op_sec, f->srv_pub);
    return rzt_broker_start(&f->b, extra);
}

static rz_client_t *s_client_as(const fx_t *f, const char *pub, const char *sec)
{
    rzt_curve(pub, sec, f->srv_pub);
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    rzt_curve(f->op_pub, f->op_sec, f->srv_pub);
    assert_non_null(c);
    return c;
}

static void test_reload_command_reports_changes_and_needs_grant(void **state)
{
    fx_t *f = *state;
    char key[320];
    snprintf(key, sizeof key, "%s/ratuszd.key", f->dir);
    s_write(f->conf,
            "server_key: %s\nprincipals: %s\nmax_batch: 500\n"
            "stream_hwm: 5000\n",
            key, f->principals);

    /* without the grant: refused, and nothing changes */
    rz_client_t *rd = s_client_as(f, f->rd_pub, f->rd_sec);
    Ratusz__V1__Whoami *w = NULL;
    assert_int_equal(rz_reload(rd, &w), RZ_EDENIED);
    assert_null(w);
    rz_client_destroy(&rd);

    rz_client_t *op = s_client_as(f, f->op_pub, f->op_sec);
    assert_int_equal(rz_reload(op, &w), 0);
    assert_string_equal(w->principal, "operator");
    assert_int_equal(w->n_changed, 1);
    assert_string_equal(w->changed[0], "max_batch: 10000 -> 500");
    assert_int_equal(w->n_restart, 1);
    assert_string_equal(w->restart[0], "stream_hwm: needs a restart (running "
                                       "100000, file says 5000)");
    ratusz__v1__whoami__free_unpacked(w, NULL);
    assert_int_equal(s_log_count(f, "RELOAD: max_batch: 10000 -> 500"), 1);

    /* a bad file: ERR RZ_ECONFIG naming FILE:LINE, nothing changes */
    s_write(f->conf, "server_key: %s\nprincipals: %s\nmax_batch: 0\n", key,
            f->principals);
    assert_int_equal(rz_reload(op, &w), RZ_ECONFIG);
    assert_null(w);
    assert_non_null(strstr(rz_client_last_error(op), "ratuszd.yaml:3"));
    /* a bad principals file named by a good config: the same */
    s_write(f->principals, "principals:\n  x:\n    kye: 1\n");
    s_write(f->conf, "server_key: %s\nprincipals: %s\nmax_batch: 200\n", key,
            f->principals);
    assert_int_equal(rz_reload(op, &w), RZ_ECONFIG);
    assert_non_null(strstr(rz_client_last_error(op), "principals.yaml:3"));
    assert_int_equal(s_log_count(f, "max_batch: 500 -> 200"), 0);

    /* the good grants again: the reader still works, the operator too */
    s_principals(f);
    assert_int_equal(rz_reload(op, &w), 0);
    assert_int_equal(w->n_changed, 1);
    assert_string_equal(w->changed[0], "max_batch: 500 -> 200");
    ratusz__v1__whoami__free_unpacked(w, NULL);
    rz_client_destroy(&op);
    rd = s_client_as(f, f->rd_pub, f->rd_sec);
    assert_int_equal(rz_whoami(rd, &w), 0);
    assert_string_equal(w->principal, "reader");
    ratusz__v1__whoami__free_unpacked(w, NULL);
    rz_client_destroy(&rd);
}

/* ------------------------------------------------------------------------
 * systemd: the notify socket
 */

static int s_setup_notify(void **state)
{
    fx_t *f = s_fx_new();
    *state = f;
    char path[300];
    snprintf(path, sizeof path, "%s/notify", f->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    f->notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (f->notify < 0 || bind(f->notify, (struct sockaddr *)&sa, sizeof sa))
        return -1;
    s_write(f->conf, "log_level: info\n");
    static char conf[320];
    snprintf(conf, sizeof conf, "%s", f->conf);
    const char *extra[] = {"-c", conf, NULL};
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "4000000", 1); /* a ping every 2 s */
    setenv("RATUSZ_TEST_STALL_WRITER", f->stall, 1);
    int rc = rzt_broker_start(&f->b, extra);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("RATUSZ_TEST_STALL_WRITER");
    return rc;
}

/* The next datagram, or "" after timeout_ms. */
static const char *s_notify_next(fx_t *f, int timeout_ms)
{
    static char msg[4096];
    struct pollfd p = {f->notify, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return "";
    ssize_t n = recv(f->notify, msg, sizeof msg - 1, 0);
    msg[n > 0 ? n : 0] = '\0';
    return msg;
}

/* Read until a message starting with prefix (up to 30 s); a copy. */
static const char *s_notify_until(fx_t *f, const char *prefix)
{
    static char found[4096];
    for (int i = 0; i < 300; i++) {
        const char *m = s_notify_next(f, 100);
        if (!strncmp(m, prefix, strlen(prefix))) {
            snprintf(found, sizeof found, "%s", m);
            return found;
        }
    }
    fail_msg("no '%s' on the notify socket", prefix);
    return NULL;
}

static void test_notify_ready_status_watchdog_and_stalled_writer(void **state)
{
    fx_t *f = *state;
    /* READY=1 came before the broker answered (the harness waited) */
    const char *m = s_notify_until(f, "READY=1");
    m = s_notify_until(f, "STATUS=head ");
    assert_non_null(strstr(m, "events/s in, 0 subscribers, ok"));
    s_notify_until(f, "WATCHDOG=1");
    s_notify_until(f, "WATCHDOG=1");

    /* a reload is bracketed by RELOADING=1 and READY=1 */
    kill(f->b.pid, SIGHUP);
    s_notify_until(f, "RELOADING=1");
    s_notify_until(f, "READY=1");

    /* the writer stalls: the broker says so and stops pinging */
    s_write(f->stall, "stall\n");
    m = s_notify_until(f, "STATUS=");
    while (!strstr(m, "writer not responding"))
        m = s_notify_until(f, "STATUS=");
    assert_int_equal(s_log_count(f, "watchdog: the writer has not moved"), 1);
    /* more than a ping interval (2 s) without a single ping */
    for (int i = 0; i < 30; i++) {
        m = s_notify_next(f, 100);
        if (!strcmp(m, "WATCHDOG=1"))
            fail_msg("WATCHDOG=1 while the writer was stalled");
    }
    /* the writer goes on: pings again, and the events are stored */
    assert_int_equal(unlink(f->stall), 0);
    s_notify_until(f, "WATCHDOG=1");
    assert_int_equal(s_publish_size(f, 100, "after-stall"), 0);

    kill(f->b.pid, SIGTERM);
    s_notify_until(f, "STOPPING=1");
    int status = 0;
    waitpid(f->b.pid, &status, 0);
    f->b.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_sighup_applies_live_settings_names_restart_ones, s_setup_plain,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_sighup_turns_retention_on,
                                        s_setup_plain, s_teardown),
        cmocka_unit_test_setup_teardown(test_sighup_bad_file_changes_nothing,
                                        s_setup_plain, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_reload_command_reports_changes_and_needs_grant, s_setup_curve,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_notify_ready_status_watchdog_and_stalled_writer,
            s_setup_notify, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
