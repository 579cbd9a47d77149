/* test_core_log.c - the one log of every program: the two forms of line
 * that operators and tests grep, levels, long messages */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ratusz/core/log.h"

/* Run the logging in fn with stderr going to a file; returns what was
 * written (static, NUL-terminated). */
static const char *s_capture(void (*fn)(void))
{
    static char out[8192];
    char path[] = "/tmp/ratusz-logtest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    fn();
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    assert_true(n >= 0);
    out[n] = '\0';
    return out;
}

static void s_broker_lines(void)
{
    rzc_log_init("ratuszd", RZC_LOG_STAMPED);
    rzc_log_set_level(RZC_LOG_INFO);
    rzc_log(RZC_LOG_WARN, "client %s: %d bad frames", "a", 3);
    rzc_log(RZC_LOG_DEBUG, "not shown at info");
}

static void test_stamped_line_is_utc_millis_program_level(void **state)
{
    (void)state;
    const char *out = s_capture(s_broker_lines);
    /* 2026-12-05T00:26:05.123Z ratuszd warn: client a: 3 bad frames */
    assert_int_equal(strlen(out), 24 + strlen(" ratuszd warn: client a: 3 bad "
                                              "frames\n"));
    assert_true(out[4] == '-' && out[7] == '-' && out[10] == 'T' &&
                out[13] == ':' && out[16] == ':' && out[19] == '.' &&
                out[23] == 'Z');
    assert_string_equal(out + 24, " ratuszd warn: client a: 3 bad frames\n");
}

static void s_adapter_lines(void)
{
    rzc_log_init("ratusz-adapter", RZC_LOG_PLAIN);
    rzc_log_set_level(RZC_LOG_INFO);
    rzc_log(RZC_LOG_ERROR, "%s: %s", "in.csv", "not a file");
    rzc_log(RZC_LOG_INFO, "done");
}

static void test_plain_line_is_program_and_message(void **state)
{
    (void)state;
    assert_string_equal(s_capture(s_adapter_lines),
                        "ratusz-adapter: in.csv: not a file\n"
                        "ratusz-adapter: done\n");
}

static void s_levels(void)
{
    rzc_log_init("p", RZC_LOG_PLAIN);
    rzc_log_set_level(rzc_log_level_parse("error"));
    rzc_log(RZC_LOG_WARN, "dropped");
    rzc_log(RZC_LOG_ERROR, "kept");
    rzc_log_set_level(rzc_log_level_parse("no such level")); /* unchanged */
    rzc_log(RZC_LOG_INFO, "dropped too");
    rzc_log_set_level(rzc_log_level_parse("debug"));
    rzc_log(RZC_LOG_DEBUG, "debug");
}

static void test_level_filters_and_unknown_name_changes_nothing(void **state)
{
    (void)state;
    assert_string_equal(s_capture(s_levels), "p: kept\np: debug\n");
    assert_int_equal(rzc_log_level_parse("warn"), RZC_LOG_WARN);
    assert_int_equal(rzc_log_level_parse(NULL), -1);
    assert_true(rzc_log_enabled(RZC_LOG_DEBUG));
}

static void s_long(void)
{
    static char big[3 * RZC_LOG_LINE];
    memset(big, 'x', sizeof big - 1);
    rzc_log_init("p", RZC_LOG_PLAIN);
    rzc_log(RZC_LOG_ERROR, "%s", big);
    rzc_log(RZC_LOG_ERROR, "next");
}

static void test_long_message_is_cut_to_one_line(void **state)
{
    (void)state;
    const char *out = s_capture(s_long);
    const char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_int_equal(nl - out + 1, RZC_LOG_LINE - 1);
    assert_string_equal(nl + 1, "p: next\n");
}

/* JOURNAL_STREAM set to the device and inode of stderr, as systemd does
 * when it connects stderr to the journal. */
static void s_journal_env_for_stderr(void)
{
    struct stat st;
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    char js[64];
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
}

static void s_journal_lines(void)
{
    s_journal_env_for_stderr();
    rzc_log_init("ratuszd", RZC_LOG_STAMPED);
    rzc_log_set_level(RZC_LOG_DEBUG);
    rzc_log(RZC_LOG_ERROR, "e %d", 1);
    rzc_log(RZC_LOG_WARN, "w");
    rzc_log(RZC_LOG_INFO, "i");
    rzc_log(RZC_LOG_DEBUG, "d");
    rzc_log_init("ratusz-adapter", RZC_LOG_PLAIN);
    rzc_log(RZC_LOG_WARN, "plain");
    rzc_log_set_level(RZC_LOG_INFO);
    unsetenv("JOURNAL_STREAM");
}

static void
test_journal_stderr_gets_priority_prefixes_and_no_stamp(void **state)
{
    (void)state;
    assert_string_equal(s_capture(s_journal_lines),
                        "<3>ratuszd error: e 1\n"
                        "<4>ratuszd warn: w\n"
                        "<6>ratuszd info: i\n"
                        "<7>ratuszd debug: d\n"
                        "<4>ratusz-adapter: plain\n");
}

/* A JOURNAL_STREAM inherited by a program whose stderr went elsewhere
 * (a file) must not prefix its lines. */
static void s_other_stream(void)
{
    setenv("JOURNAL_STREAM", "1:2", 1);
    rzc_log_init("p", RZC_LOG_PLAIN);
    rzc_log(RZC_LOG_ERROR, "not the journal");
    setenv("JOURNAL_STREAM", "garbage", 1);
    rzc_log_set_format(RZC_LOG_FORMAT_AUTO);
    rzc_log(RZC_LOG_ERROR, "nor this");
    rzc_log_set_format(RZC_LOG_FORMAT_JOURNAL); /* the option says so */
    rzc_log(RZC_LOG_ERROR, "forced");
    rzc_log_set_format(RZC_LOG_FORMAT_OWN);
    rzc_log(RZC_LOG_ERROR, "own");
    unsetenv("JOURNAL_STREAM");
}

static void test_journal_prefix_only_for_that_stream_or_when_asked(void **state)
{
    (void)state;
    assert_string_equal(s_capture(s_other_stream), "p: not the journal\n"
                                                   "p: nor this\n"
                                                   "<3>p: forced\n"
                                                   "p: own\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamped_line_is_utc_millis_program_level),
        cmocka_unit_test(test_plain_line_is_program_and_message),
        cmocka_unit_test(test_level_filters_and_unknown_name_changes_nothing),
        cmocka_unit_test(test_long_message_is_cut_to_one_line),
        cmocka_unit_test(
            test_journal_stderr_gets_priority_prefixes_and_no_stamp),
        cmocka_unit_test(
            test_journal_prefix_only_for_that_stream_or_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
