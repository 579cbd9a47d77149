/* test_verify.c - the event log's hash chain, checked by `ratusz verify`
 * against the real broker: intact after many commits, intact after a
 * kill -9 in the middle of publishing, and broken, at exactly the right
 * seq, after one byte of one stored event is changed with the LMDB tools.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define N_EVENTS 3000

static int s_verify_cli(const rzt_broker_t *b, uint64_t from, char *out,
                        size_t len)
{
    char cmd[512], opt[40] = "";
    if (from)
        snprintf(opt, sizeof opt, " --from %llu", (unsigned long long)from);
    snprintf(cmd, sizeof cmd, "%s -e %s verify%s 2>&1", RZ_RATUSZ_CLI,
             b->front, opt);
    return rzt_run(cmd, out, len);
}

/* Publish n events in batches of varying size, so the log holds commits of
 * different lengths. */
static void s_publish(const rzt_broker_t *b, const char *prefix, int n)
{
    rz_client_t *c = rzt_client(b, 512, 7);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%05d", prefix, i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/verify", id, "unit:1",
                  INT64_C(1700000000000000) + i, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
        if (i % 97 == 0)
            assert_int_equal(rz_flush(c, 10000), 0);
    }
    assert_int_equal(rz_flush(c, 10000), 0);
    rz_client_stats_t st;
    rz_client_stats(c, &st);
    assert_int_equal(st.failed, 0);
    rz_client_destroy(&c);
}

static void test_verify_intact_and_from_the_middle(void **state)
{
    rzt_broker_t *b = *state;
    s_publish(b, "ok", N_EVENTS);
    char out[4096];
    assert_int_equal(s_verify_cli(b, 0, out, sizeof out), 0);
    assert_non_null(strstr(out, "intact"));
    assert_int_equal(s_verify_cli(b, N_EVENTS / 2, out, sizeof out), 0);
    assert_non_null(strstr(out, "intact"));

    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c, "events", 0, &v), 0);
    assert_true(v->ok);
    assert_int_equal(v->checked, N_EVENTS);
    assert_true(v->links > 1);
    assert_int_equal(v->first, 1);
    assert_int_equal(v->last, N_EVENTS);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    rz_client_destroy(&c);
}

static void test_verify_after_kill_and_restart(void **state)
{
    rzt_broker_t *b = *state;
    /* a publisher in its own process, killed broker under it */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rz_client_t *c = rzt_client(b, 256, 16);
        for (int i = 0; i < 200000; i++) {
            char id[64];
            snprintf(id, sizeof id, "kill-%06d", i);
            Ratusz__V1__Event ev;
            Ratusz__V1__BudgetEntry be;
            rzt_event(&ev, &be, "/1261011/budget/verify", id, "unit:2",
                      INT64_C(1700000000000000) + i, i);
            if (rz_publish(c, &ev, NULL) < 0)
                break;
        }
        rz_client_destroy(&c);
        _exit(0);
    }
    usleep(700000);
    rzt_broker_kill(b);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(rzt_broker_restart(b), 0);
    char out[4096];
    assert_int_equal(s_verify_cli(b, 0, out, sizeof out), 0);
    assert_non_null(strstr(out, "intact"));
}

/* Change the last byte of the stored event with this seq, through
 * mdb_dump and mdb_load. */
static void s_tamper(const char *dir, uint64_t seq)
{
    char path[512], cmd[1600];
    snprintf(path, sizeof path, "%s.dump", dir);
    snprintf(cmd, sizeof cmd, "mdb_dump -s log '%s' > '%s'", dir, path);
    assert_int_equal(rzt_run(cmd, NULL, 0), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0, len = 0;
    char line[1 << 16];
    /* the key is the seq in the machine's byte order (MDB_INTEGERKEY) */
    char key[17];
    const uint8_t *k = (const uint8_t *)&seq;
    for (int i = 0; i < 8; i++)
        snprintf(key + 2 * i, 3, "%02x", k[i]);
    int hit = 0, next_is_value = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (next_is_value) {
            /* " <hex>\n": bump the last hex digit of the value */
            assert_true(n > 3);
            char *d = &line[n - 2];
            *d = *d == 'f' ? 'e' : (*d == '9' ? 'a' : (char)(*d + 1));
            next_is_value = 0;
            hit = 1;
        } else if (n == 18 && line[0] == ' ' && !strncmp(line + 1, key, 16)) {
            next_is_value = 1;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + len, line, n);
        len += n;
    }
    fclose(f);
    assert_true(hit);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
    snprintf(cmd, sizeof cmd, "mdb_load -s log -f '%s' '%s'", path, dir);
    assert_int_equal(rzt_run(cmd, NULL, 0), 0);
    unlink(path);
}

static void test_verify_names_the_changed_seq(void **state)
{
    rzt_broker_t *b = *state;
    uint64_t head = rzt_head(b);
    assert_true(head > 1234);
    assert_int_equal(rzt_broker_stop(b), 0);
    s_tamper(b->dir, 1234);
    assert_int_equal(rzt_broker_restart(b), 0);
    char out[4096];
    assert_int_equal(s_verify_cli(b, 0, out, sizeof out), 1);
    assert_non_null(strstr(out, "BROKEN at seq 1234"));
    /* from after the change, the rest still verifies */
    assert_int_equal(s_verify_cli(b, 2000, out, sizeof out), 0);
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c, "events", 0, &v), 0);
    assert_false(v->ok);
    assert_int_equal(v->first_bad, 1234);
    assert_true(strlen(v->reason) > 0);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    rz_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_intact_and_from_the_middle),
        cmocka_unit_test(test_verify_after_kill_and_restart),
        cmocka_unit_test(test_verify_names_the_changed_seq),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
