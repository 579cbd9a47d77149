/* test_lock.c - one broker per data directory: a second ratuszd on the
 * same --data-dir exits at once naming the first one's pid, and takes the
 * directory over once the first has stopped */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start ratuszd on dir with fresh ports, stderr to log; returns its pid. */
static pid_t s_spawn(const char *dir, const char *log)
{
    char front[64], stream[64], metrics[64];
    snprintf(front, sizeof front, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(stream, sizeof stream, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", rzt_free_port());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(RZ_RATUSZD, RZ_RATUSZD, "--data-dir", dir, "--listen", front,
              "--stream", stream, "--metrics", metrics, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait up to secs for pid to exit; its exit status, or -1 if it still
 * runs (then it is killed) or did not exit normally. */
static int s_wait_exit(pid_t pid, double secs, double *took)
{
    double t0 = s_now();
    int status;
    while (s_now() - t0 < secs) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *took = s_now() - t0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    *took = secs;
    return -1;
}

static void s_read(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void
test_lock_second_broker_on_a_dir_exits_naming_the_first(void **state)
{
    rzt_broker_t *b = *state;
    char log[320], text[4096], want[64];
    double took;

    snprintf(log, sizeof log, "%s.second.log", b->dir);
    pid_t second = s_spawn(b->dir, log);
    int rc = s_wait_exit(second, 2.0, &took);
    s_read(log, text, sizeof text);
    printf("  second broker: exit %d after %.2f s: %s", rc, took, text);
    assert_int_equal(rc, 1);
    snprintf(want, sizeof want, "in use by ratuszd pid %ld", (long)b->pid);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "DATA_DIR"));
    /* the first one was not disturbed */
    assert_true(rzt_broker_alive(b));
    assert_true(rzt_head(b) == 0);

    /* once the first has stopped, the directory is free */
    assert_int_equal(rzt_broker_stop(b), 0);
    assert_int_equal(rzt_broker_restart(b), 0);
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint64_t seq = 0;
    rzt_event(&ev, &be, "/1261011/budget/lock", "l-1", "unit:1", 1, 1);
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    assert_int_equal(seq, 1);
    rz_client_destroy(&c);
    unlink(log);
}

static void test_lock_a_killed_broker_leaves_no_stale_lock(void **state)
{
    rzt_broker_t *b = *state;
    rzt_broker_kill(b);
    assert_int_equal(rzt_broker_restart(b), 0);
    assert_true(rzt_broker_alive(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_lock_second_broker_on_a_dir_exits_naming_the_first, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_lock_a_killed_broker_leaves_no_stale_lock, rzt_setup,
            rzt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
