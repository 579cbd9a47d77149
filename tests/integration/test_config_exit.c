/* test_config_exit.c - one exit status, 2, for every usage or configuration
 * error in ratuszd, ratusz-adapter and ratusz-kafka: an unknown key in the
 * file, a flag that does not exist, and a size or count beyond its bound
 * (in the file and as a flag). Each program must stop before it binds,
 * opens a store or talks to anyone, and name what is wrong.
 *
 * ratusz-adapter and ratusz-kafka are found next to ratuszd in the build
 * tree (adapters/runtime/, bridge/kafka/); a program that was not built
 * (the Kafka bridge needs librdkafka) is skipped, and the test says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static char s_dir[256];

static int s_setup(void **state)
{
    (void)state;
    return rzt_tmpdir(s_dir, sizeof s_dir) < 0 ? -1 : 0;
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_rmtree(s_dir);
    return 0;
}

/* The build directory's program at rel ("adapters/runtime/ratusz-adapter"),
 * from where ratuszd is; 0 if it is not there. */
static int s_sibling(const char *rel, char *out, size_t len)
{
    const char *d = RZ_RATUSZD;
    const char *slash = strrchr(d, '/');
    snprintf(out, len, "%.*s/%s", slash ? (int)(slash - d) : 1, slash ? d : ".",
             rel);
    return access(out, X_OK) == 0;
}

static void s_write(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Run "BIN ARGS", expect exit status 2 and want in the output. */
static void s_expect_2(const char *bin, const char *args, const char *want)
{
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1 </dev/null", bin, args);
    int rc = rzt_run(cmd, out, sizeof out);
    if (rc != 2 || !strstr(out, want))
        fprintf(stderr,
                "%s\n-> exit %d, output:\n%s\n(wanted exit 2 and "
                "'%s')\n",
                cmd, rc, out, want);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, want));
}

static void test_ratuszd_exits_2_for_every_config_error(void **state)
{
    (void)state;
    char unknown[400], big[400], args[1000];
    s_write("unknown.yaml", "listen: tcp://127.0.0.1:1\nno_such_key: 1\n",
            unknown, sizeof unknown);
    s_write("big.yaml", "map_max: 99999T\n", big, sizeof big);
    snprintf(args, sizeof args, "-c '%s'", unknown);
    s_expect_2(RZ_RATUSZD, args, "no_such_key");
    s_expect_2(RZ_RATUSZD, "--no-such-flag 1", "no-such-flag");
    snprintf(args, sizeof args, "-c '%s'", big);
    s_expect_2(RZ_RATUSZD, args, "map_max");
    s_expect_2(RZ_RATUSZD, "--max-message 3G", "above the maximum 256M");
    s_expect_2(RZ_RATUSZD, "--query-limit 1000000000", "query-limit");
}

static void test_adapter_exits_2_for_every_config_error(void **state)
{
    (void)state;
    char bin[600], unknown[400], big[400], good[400], args[1200];
    if (!s_sibling("adapters/runtime/ratusz-adapter", bin, sizeof bin)) {
        fprintf(stderr, "skipped: %s is not built\n", bin);
        skip();
    }
    char text[800];
    snprintf(text, sizeof text,
             "system: ndjson\ndata_dir: %s/data\nno_such_key: 1\n", s_dir);
    s_write("a-unknown.yaml", text, unknown, sizeof unknown);
    snprintf(text, sizeof text,
             "system: ndjson\ndata_dir: %s/data\noutbox_size: 99999T\n", s_dir);
    s_write("a-big.yaml", text, big, sizeof big);
    snprintf(text, sizeof text, "system: ndjson\ndata_dir: %s/data\n", s_dir);
    s_write("a-good.yaml", text, good, sizeof good);
    snprintf(args, sizeof args, "-c '%s' --print-config", unknown);
    s_expect_2(bin, args, "no_such_key");
    snprintf(args, sizeof args, "-c '%s' --no-such-flag 1 --print-config",
             good);
    s_expect_2(bin, args, "no-such-flag");
    snprintf(args, sizeof args, "-c '%s' --print-config", big);
    s_expect_2(bin, args, "outbox_size");
    snprintf(args, sizeof args, "-c '%s' --max-event 3G --print-config", good);
    s_expect_2(bin, args, "key 'max-event': 3G is above the maximum");
}

static void test_kafka_bridge_exits_2_for_every_config_error(void **state)
{
    (void)state;
    char bin[600], unknown[400], big[400], good[400], args[1200];
    if (!s_sibling("bridge/kafka/ratusz-kafka", bin, sizeof bin)) {
        fprintf(stderr, "skipped: %s is not built\n", bin);
        skip();
    }
    char text[800];
    snprintf(text, sizeof text,
             "data_dir: %s/k\nkafka:\n  bootstrap.servers: 127.0.0.1:1\n"
             "no_such_key: 1\n",
             s_dir);
    s_write("k-unknown.yaml", text, unknown, sizeof unknown);
    snprintf(text, sizeof text,
             "data_dir: %s/k\nkafka:\n  bootstrap.servers: 127.0.0.1:1\n"
             "inflight_max: 99999999999\n",
             s_dir);
    s_write("k-big.yaml", text, big, sizeof big);
    snprintf(text, sizeof text,
             "data_dir: %s/k\nkafka:\n  bootstrap.servers: 127.0.0.1:1\n",
             s_dir);
    s_write("k-good.yaml", text, good, sizeof good);
    snprintf(args, sizeof args, "-c '%s' check", unknown);
    s_expect_2(bin, args, "no_such_key");
    snprintf(args, sizeof args, "-c '%s' --no-such-flag 1 check", good);
    s_expect_2(bin, args, "no-such-flag");
    snprintf(args, sizeof args, "-c '%s' check", big);
    s_expect_2(bin, args, "inflight_max");
    snprintf(args, sizeof args, "-c '%s' --fetch-max 1000000000 check", good);
    s_expect_2(bin, args, "key 'fetch-max'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratuszd_exits_2_for_every_config_error),
        cmocka_unit_test(test_adapter_exits_2_for_every_config_error),
        cmocka_unit_test(test_kafka_bridge_exits_2_for_every_config_error),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
