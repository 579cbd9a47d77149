/* test_keys_cli.c - ratusz keygen, and --key/--server-key (and their
 * environment variables) on the command line, against a real broker */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ratusz/keys.h"

static rzt_broker_t s_b;
static char s_dir[256];

static int s_setup(void **state)
{
    (void)state;
    if (rzt_tmpdir(s_dir, sizeof s_dir) < 0)
        return -1;
    return rzt_broker_start(&s_b, NULL);
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_broker_cleanup(&s_b);
    rzt_rmtree(s_dir);
    return 0;
}

/* Run "[env] ratusz -e FRONT ARGS 2>&1" in the test's directory. */
static int s_cli_env(const char *env, const char *args, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s -e %s -s %s %s 2>&1", s_dir,
             env ? env : "", RZ_RATUSZ_CLI, s_b.front, s_b.stream, args);
    return rzt_run(cmd, out, len);
}

static int s_cli(const char *args, char *out, size_t len)
{
    return s_cli_env(NULL, args, out, len);
}

static mode_t s_mode(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* A key pair made with the CLI, for the tests that need one. */
static void s_keygen(const char *name)
{
    char args[256], out[4096];
    snprintf(args, sizeof args, "keygen %s", name);
    assert_int_equal(s_cli(args, out, sizeof out), 0);
}

static void test_keys_cli_keygen_writes_key_0600_and_pub_0644(void **state)
{
    (void)state;
    char out[4096], args[512], path[512], err[512];
    snprintf(args, sizeof args, "keygen adapter-budget --dir %s/keys", s_dir);
    snprintf(path, sizeof path, "%s/keys", s_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(s_cli(args, out, sizeof out), 0);
    assert_int_equal(s_mode("keys/adapter-budget.key"), 0600);
    assert_int_equal(s_mode("keys/adapter-budget.pub"), 0644);
    /* the printed public key is the one in the files, and both paths */
    rz_keypair_t pub;
    snprintf(path, sizeof path, "%s/keys/adapter-budget.pub", s_dir);
    assert_int_equal(rz_key_load_public(path, &pub, err, sizeof err), 0);
    assert_non_null(strstr(out, pub.public_z85));
    assert_non_null(strstr(out, "adapter-budget.key"));
    assert_non_null(strstr(out, "adapter-budget.pub"));
    rz_keypair_t sec;
    snprintf(path, sizeof path, "%s/keys/adapter-budget.key", s_dir);
    assert_int_equal(rz_key_load_secret(path, &sec, err, sizeof err), 0);
    assert_string_equal(sec.public_z85, pub.public_z85);
}

static void test_keys_cli_keygen_refuses_an_existing_name(void **state)
{
    (void)state;
    char out[4096];
    s_keygen("twice");
    assert_int_equal(s_cli("keygen twice", out, sizeof out), 1);
    assert_non_null(strstr(out, "twice.key"));
    assert_non_null(strstr(out, "exists"));
}

static void test_keys_cli_keygen_refuses_a_bad_name(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(s_cli("keygen 'a/b'", out, sizeof out), 2);
    assert_non_null(strstr(out, "a/b"));
    assert_int_equal(s_cli("keygen 'spaced name'", out, sizeof out), 2);
    assert_int_equal(s_cli("keygen ..", out, sizeof out), 2);
    assert_int_equal(s_cli("keygen", out, sizeof out), 2);
    char path[512];
    snprintf(path, sizeof path, "%s/a", s_dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_keys_cli_a_key_others_may_read_is_a_usage_error(void **state)
{
    (void)state;
    char out[4096], path[512];
    s_keygen("open");
    snprintf(path, sizeof path, "%s/open.key", s_dir);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(
        s_cli("--key open.key --server-key open.pub health", out, sizeof out),
        2);
    assert_non_null(strstr(out, "open.key"));
    assert_non_null(strstr(out, "chmod 600 open.key"));
    /* after the command name too */
    assert_int_equal(s_cli("health -k open.key -K open.pub", out, sizeof out),
                     2);
    assert_non_null(strstr(out, "chmod 600 open.key"));
    /* a key file that is not one */
    assert_int_equal(
        s_cli("-k no-such.key -K open.pub health", out, sizeof out), 2);
    assert_non_null(strstr(out, "no-such.key"));
}

static void test_keys_cli_ratusz_key_from_the_environment(void **state)
{
    (void)state;
    char out[4096], path[512];
    s_keygen("env");
    snprintf(path, sizeof path, "%s/env.key", s_dir);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(s_cli_env("RATUSZ_KEY=env.key RATUSZ_SERVER_KEY=env.pub",
                               "health", out, sizeof out),
                     2);
    assert_non_null(strstr(out, "RATUSZ_KEY"));
    assert_non_null(strstr(out, "chmod 600 env.key"));
    /* the option wins over the environment */
    s_keygen("env2");
    assert_int_equal(s_cli_env("RATUSZ_KEY=env.key RATUSZ_SERVER_KEY=env.pub",
                               "--key env2.key health", out, sizeof out),
                     1);
    assert_null(strstr(out, "chmod"));
    /* half a pair is a usage error */
    assert_int_equal(
        s_cli_env("RATUSZ_SERVER_KEY=env.pub", "health", out, sizeof out), 2);
    assert_non_null(strstr(out, "--key"));
}

static void
test_keys_cli_broker_without_curve_refuses_a_keyed_client(void **state)
{
    (void)state;
    char out[4096];
    /* no keys: as before */
    assert_int_equal(s_cli("health", out, sizeof out), 0);
    s_keygen("keyed");
    s_keygen("not-the-broker");
    /* this broker has no CURVE: the handshake fails, and says so well
     * before the timeout */
    int64_t t0 = rz_now_us();
    assert_int_equal(s_cli("-t 8000 -k keyed.key -K not-the-broker.pub health",
                           out, sizeof out),
                     1);
    assert_true(rz_now_us() - t0 < 6000 * 1000);
    assert_non_null(strstr(out, "refused this client's key"));
    assert_non_null(strstr(out, "RZ_EDENIED"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_cli_keygen_writes_key_0600_and_pub_0644),
        cmocka_unit_test(test_keys_cli_keygen_refuses_an_existing_name),
        cmocka_unit_test(test_keys_cli_keygen_refuses_a_bad_name),
        cmocka_unit_test(test_keys_cli_a_key_others_may_read_is_a_usage_error),
        cmocka_unit_test(test_keys_cli_ratusz_key_from_the_environment),
        cmocka_unit_test(
            test_keys_cli_broker_without_curve_refuses_a_keyed_client),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
