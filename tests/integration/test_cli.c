/* test_cli.c - the ratusz command line against a real broker */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "harness.h"

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

/* Run "ratusz -e FRONT ARGS", output into out. */
static int s_cli(const char *args, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -e %s -s %s %s", RZ_RATUSZ_CLI, s_b.front,
             s_b.stream, args);
    return rzt_run(cmd, out, len);
}

static int s_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_cli_pub_ndjson_with_ack_log_and_bad_lines(void **state)
{
    (void)state;
    char in[300], acks[300], args[1024];
    snprintf(in, sizeof in, "%s/in.ndjson", s_dir);
    snprintf(acks, sizeof acks, "%s/acks.log", s_dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int i = 0; i < 500; i++)
        fprintf(f,
                "{\"specversion\":\"1.0\",\"id\":\"cli-%d\",\"source\":"
                "\"/1261011/budget/cli\",\"type\":\"pl.gov.gmina.budget."
                "execution.v1\",\"subject\":\"unit:%d\",\"tenant\":\"1261011\","
                "\"time\":\"2024-0%d-01T10:00:00+02:00\",\"data\":{\"dzial\":"
                "\"600\",\"amount_grosze\":%d,\"description\":\"Łódź\"}}\n",
                i, i % 7, 1 + i % 9, i * 100);
    fprintf(f, "this is not json\n");
    fprintf(f, "{\"id\":\"x\",\"type\":\"pl.gov.gmina.budget.x.v1\","
               "\"tenant\":\"1261011\"}\n");
    fclose(f);
    char out[65536];
    snprintf(args, sizeof args, "pub --ack-log %s < %s 2>%s/err.txt", acks,
             in, s_dir);
    /* Two lines failed: exit status 1, but the 500 good ones are in. */
    assert_int_equal(s_cli(args, out, sizeof out), 1);
    snprintf(args, sizeof args, "cat %s/err.txt", s_dir);
    rzt_run(args, out, sizeof out);
    assert_non_null(strstr(out, "stdin:501:"));
    assert_non_null(strstr(out, "stdin:502:"));
    assert_non_null(strstr(out, "source"));
    assert_non_null(strstr(out, "published 500"));

    snprintf(args, sizeof args, "cat %s", acks);
    rzt_run(args, out, sizeof out);
    assert_int_equal(s_count_lines(out), 500);
    /* "ID SEQ" lines */
    unsigned long long seq;
    char id[64];
    assert_int_equal(sscanf(out, "%63s %llu", id, &seq), 2);
    assert_true(seq >= 1 && seq <= 500);
}

/* A broker that does not answer fails every event the same way: pub stops
 * after --max-failures (10) in a row instead of going through its input,
 * says why, and exits 1. */
static void test_cli_pub_stops_after_10_failures_against_dead_broker(
    void **state)
{
    (void)state;
    char in[300], cmd[1024], out[65536];
    snprintf(in, sizeof in, "%s/dead.ndjson", s_dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fprintf(f,
                "{\"specversion\":\"1.0\",\"id\":\"dead-%d\",\"source\":"
                "\"/1261011/budget/cli\",\"type\":\"pl.gov.gmina.budget."
                "execution.v1\",\"tenant\":\"1261011\"}\n",
                i);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s -e tcp://127.0.0.1:%d -t 200 pub < %s 2>&1", RZ_RATUSZ_CLI,
             rzt_free_port(), in);
    int64_t t0 = rz_now_us();
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1);
    assert_true(rz_now_us() - t0 < 5 * 1000000);
    assert_non_null(strstr(out, "stopping after 10 consecutive failures: "
                                "the broker did not answer (RZ_ETIMEDOUT)"));
    /* ten reported one by one, not two hundred */
    assert_non_null(strstr(out, "stdin:10: "));
    assert_null(strstr(out, "stdin:11: "));
    assert_non_null(strstr(out, "published 0, duplicates 0, conflicts 0, "
                                "failed "));
}

static void test_cli_get_and_query_print_cloudevents_json(void **state)
{
    (void)state;
    char out[262144];
    assert_int_equal(s_cli("get --source /1261011/budget/cli --id cli-42", out,
                           sizeof out), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "cli-42");
    assert_string_equal(json_string_value(json_object_get(j, "specversion")),
                        "1.0");
    /* +02:00 on input is UTC on output */
    assert_string_equal(json_string_value(json_object_get(j, "time")),
                        "2024-07-01T08:00:00Z");
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "amount_grosze")),
                     4200);
    assert_string_equal(json_string_value(json_object_get(data, "description")),
                        "Łódź");
    assert_true(json_integer_value(json_object_get(j, "seq")) > 0);
    json_decref(j);

    /* unit:0 has ids 0, 7, 14, ... : 72 events, time-ordered */
    assert_int_equal(s_cli("query --subject unit:0 --all", out, sizeof out), 0);
    assert_int_equal(s_count_lines(out), 72);
    assert_int_equal(s_cli("query --topic 1261011.budget. --limit 10 2>/dev/null",
                           out, sizeof out), 0);
    assert_int_equal(s_count_lines(out), 10);
    assert_int_equal(s_cli("replay --from 101 --max 50", out, sizeof out), 0);
    assert_int_equal(s_count_lines(out), 50);
    j = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 101);
    json_decref(j);
}

static void test_cli_errors_exit_nonzero_with_a_reason(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(s_cli("get 999999 2>&1", out, sizeof out), 1);
    assert_non_null(strstr(out, "RZ_ENOTFOUND"));
    assert_int_equal(s_cli("query --bogus 2>&1", out, sizeof out), 2);
    assert_int_equal(s_cli("nosuchcommand 2>&1", out, sizeof out), 2);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s -e tcp://127.0.0.1:%d -t 300 health 2>&1", RZ_RATUSZ_CLI,
             rzt_free_port());
    assert_int_equal(rzt_run(cmd, out, sizeof out), 1);
}

static void test_cli_stats_json_counts_the_source(void **state)
{
    (void)state;
    char out[262144];
    assert_int_equal(s_cli("stats --json", out, sizeof out), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    json_t *counters = json_object_get(j, "counters");
    size_t i;
    json_t *c;
    int found = 0;
    json_array_foreach(counters, i, c)
    {
        const char *src = json_string_value(json_object_get(c, "source"));
        if (src && !strcmp(src, "/1261011/budget/cli")) {
            assert_int_equal(json_integer_value(json_object_get(c, "events_in")),
                             500);
            assert_string_equal(json_string_value(json_object_get(c, "domain")),
                                "budget");
            found = 1;
        }
    }
    assert_true(found);
    json_decref(j);
    /* The table names the source too. */
    assert_int_equal(s_cli("stats", out, sizeof out), 0);
    assert_non_null(strstr(out, "/1261011/budget/cli"));
}

static void test_cli_fetch_commit_and_consumers(void **state)
{
    (void)state;
    char out[262144];
    assert_int_equal(s_cli("fetch billing --max 5 --commit", out, sizeof out),
                     0);
    assert_int_equal(s_count_lines(out), 5);
    assert_int_equal(s_cli("consumers", out, sizeof out), 0);
    assert_non_null(strstr(out, "billing"));
    assert_int_equal(s_cli("fetch billing --max 1", out, sizeof out), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 6);
    json_decref(j);
}

/* sub watches over the front (no --stream): it prints the live events of
 * its prefix, and none of before it started or of other prefixes. */
static void test_cli_sub_prints_live_events_of_its_prefix(void **state)
{
    (void)state;
    char cmd[1024], out[65536], in[300];
    snprintf(cmd, sizeof cmd,
             "%s -e %s sub 1261011.budget. --count 3 -t 10000 > %s/sub.out "
             "2>&1 &",
             RZ_RATUSZ_CLI, s_b.front, s_dir);
    assert_int_equal(system(cmd), 0);
    /* the watch is open once STATS counts it */
    rz_client_t *c = rzt_client(&s_b, 0, 0);
    uint64_t open = 0;
    for (int i = 0; i < 100 && !open; i++) {
        Ratusz__V1__Stats *st = NULL;
        assert_int_equal(rz_stats(c, &st), 0);
        open = st->watchers;
        ratusz__v1__stats__free_unpacked(st, NULL);
        if (!open)
            usleep(50000);
    }
    assert_int_equal(open, 1);
    rz_client_destroy(&c);
    snprintf(in, sizeof in, "%s/live.ndjson", s_dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int i = 0; i < 4; i++)
        fprintf(f,
                "{\"specversion\":\"1.0\",\"id\":\"sub-%d\",\"source\":"
                "\"/1261011/budget/cli\",\"type\":\"pl.gov.gmina.%s."
                "execution.v1\",\"tenant\":\"1261011\"}\n",
                i, i == 1 ? "env" : "budget");
    fclose(f);
    snprintf(cmd, sizeof cmd, "pub < %s", in);
    assert_int_equal(s_cli(cmd, out, sizeof out), 0);
    /* sub exits after its three events */
    int lines = 0;
    for (int i = 0; i < 100 && lines < 3; i++) {
        usleep(50000);
        snprintf(cmd, sizeof cmd, "cat %s/sub.out", s_dir);
        rzt_run(cmd, out, sizeof out);
        lines = s_count_lines(out);
    }
    assert_int_equal(lines, 3);
    assert_non_null(strstr(out, "\"sub-0\""));
    assert_null(strstr(out, "\"sub-1\"")); /* another prefix */
    assert_non_null(strstr(out, "\"sub-2\""));
    assert_non_null(strstr(out, "\"sub-3\""));
    assert_null(strstr(out, "\"cli-")); /* published before it started */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_pub_ndjson_with_ack_log_and_bad_lines),
        cmocka_unit_test(
            test_cli_pub_stops_after_10_failures_against_dead_broker),
        cmocka_unit_test(test_cli_get_and_query_print_cloudevents_json),
        cmocka_unit_test(test_cli_errors_exit_nonzero_with_a_reason),
        cmocka_unit_test(test_cli_stats_json_counts_the_source),
        cmocka_unit_test(test_cli_fetch_commit_and_consumers),
        cmocka_unit_test(test_cli_sub_prints_live_events_of_its_prefix),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
