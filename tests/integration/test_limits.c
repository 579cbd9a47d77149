/* test_limits.c - monitoring and connections under pressure.
 *
 *   - 500 slow HTTP connections (a slowloris) do not starve /healthz;
 *   - at a low open-file limit the broker refuses what it cannot accept,
 *     says so in its log, and serves again once the crowd leaves.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

static void test_slowloris_does_not_starve_healthz(void **state)
{
    rzt_broker_t *b = *state;
    int port = rzt_endpoint_port(b->metrics);
    enum { SLOW = 500 };
    int *fds = calloc(SLOW, sizeof *fds);
    int open_n = 0;
    for (int i = 0; i < SLOW; i++) {
        fds[i] = rzt_tcp_connect(port);
        if (fds[i] < 0)
            continue;
        open_n++;
        /* a request that never ends */
        ssize_t n = send(fds[i], "GET /metrics HTTP/1.1\r\nX-a: ", 28,
                         MSG_NOSIGNAL);
        (void)n;
    }
    assert_true(open_n >= SLOW - 10);
    int answered = 0;
    for (int i = 0; i < 10; i++) {
        char body[256];
        int64_t t0 = rz_now_us();
        int status = rzt_http_get(b->metrics, "/healthz", body, sizeof body);
        if (status == 200 && rz_now_us() - t0 < 2000000)
            answered++;
        /* and the slow ones trickle on */
        for (int k = 0; k < SLOW; k += 50)
            if (fds[k] >= 0) {
                ssize_t n = send(fds[k], "b", 1, MSG_NOSIGNAL);
                (void)n;
            }
        usleep(100000);
    }
    fprintf(stderr, "%d slow connections: /healthz answered %d of 10\n",
            open_n, answered);
    assert_int_equal(answered, 10);
    for (int i = 0; i < SLOW; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    assert_true(rzt_broker_alive(b));
}

/* A broker of our own, started under an open-file limit of 64. */
static void test_fd_exhaustion_is_logged_and_recovered(void **state)
{
    (void)state;
    char dir[256], log[300], front[64], stream[64];
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(log, sizeof log, "%s/ratuszd.log", dir);
    snprintf(front, sizeof front, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(stream, sizeof stream, "tcp://127.0.0.1:%d", rzt_free_port());
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit r = {64, 64};
        setrlimit(RLIMIT_NOFILE, &r);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execl(RZ_RATUSZD, RZ_RATUSZD, "--data-dir", data, "--listen", front,
              "--stream", stream, "--metrics", "off", (char *)NULL);
        _exit(127);
    }
    /* ready? */
    rz_client_opts_t o = {.window = 1, .batch = 1, .timeout_ms = 300};
    int ready = 0;
    for (int i = 0; i < 50 && !ready; i++) {
        rz_client_t *c = rz_client_new(front, &o);
        Ratusz__V1__Health *h = NULL;
        if (rz_health(c, &h) == 0) {
            ready = 1;
            ratusz__v1__health__free_unpacked(h, NULL);
        }
        rz_client_destroy(&c);
        if (!ready)
            usleep(100000);
    }
    assert_true(ready);

    /* a crowd larger than the limit */
    enum { CROWD = 120 };
    int fds[CROWD], n = 0;
    for (int i = 0; i < CROWD; i++)
        if ((fds[n] = rzt_tcp_connect(rzt_endpoint_port(front))) >= 0)
            n++;
    usleep(1500000);
    char text[1 << 16];
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    size_t got = fread(text, 1, sizeof text - 1, f);
    text[got] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "connection(s) refused in the last second"));
    assert_non_null(strstr(text, "open-file limit 64"));
    for (int i = 0; i < n; i++)
        close(fds[i]);
    usleep(500000);
    /* served again */
    rz_client_opts_t o2 = {.window = 1, .batch = 1, .timeout_ms = 3000};
    rz_client_t *c = rz_client_new(front, &o2);
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(c, &h), 0);
    ratusz__v1__health__free_unpacked(h, NULL);
    rz_client_destroy(&c);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slowloris_does_not_starve_healthz),
        cmocka_unit_test(test_fd_exhaustion_is_logged_and_recovered),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
