/* test_config.c - the option table: defaults, YAML, flags, checks, output */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "harness.h"
#include "ratusz/errors.h"
#include "store.h"

#define S_MIB (UINT64_C(1) << 20)
#define S_GIB (UINT64_C(1) << 30)

/* Load yaml over a fresh default config; returns the rc, err filled. */
static int s_load(rz_config_t *cfg, const char *yaml, char *err, size_t len)
{
    assert_int_equal(rz_config_init(cfg), 0);
    err[0] = '\0';
    return rz_config_load_string(cfg, yaml, strlen(yaml), "test.yaml", err,
                                 len);
}

static void test_config_defaults_are_documented_values(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256] = "";
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_string_equal(cfg.data_dir, "./var/ratusz");
    assert_string_equal(cfg.listen, "tcp://127.0.0.1:7600");
    assert_string_equal(cfg.stream, "tcp://127.0.0.1:7601");
    assert_string_equal(cfg.metrics, "127.0.0.1:7602");
    assert_int_equal(cfg.sync, RZ_SYNC_FULL);
    assert_true(cfg.map_size == 256 * S_MIB);
    assert_true(cfg.map_max == 64 * S_GIB);
    assert_true(cfg.max_message == 4 * S_MIB);
    assert_int_equal(cfg.max_batch, 10000);
    assert_int_equal(cfg.max_inflight, 200000);
    assert_int_equal(cfg.commit_max, 8192);
    assert_int_equal(cfg.query_limit, 1000);
    assert_int_equal(cfg.replay_chunk, 1000);
    assert_int_equal(cfg.stream_hwm, 100000);
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    rz_config_close(&cfg);
    rz_config_close(&cfg); /* safe twice */
}

static void test_config_load_sets_every_kind_of_option(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    const char *yaml = "# a comment\n"
                       "data-dir: /srv/ratusz\n"
                       "listen: \"tcp://0.0.0.0:7600\"\n"
                       "metrics: off\n"
                       "sync: os\n"
                       "map_size: 1GiB\n"
                       "map-max: 2T\n"
                       "max_message: 512K\n"
                       "max_batch: 42\n"
                       "log_level: debug\n"
                       "security: none\n";
    assert_int_equal(s_load(&cfg, yaml, err, sizeof err), 0);
    assert_string_equal(cfg.data_dir, "/srv/ratusz");
    assert_string_equal(cfg.listen, "tcp://0.0.0.0:7600");
    assert_string_equal(cfg.stream, "tcp://127.0.0.1:7601"); /* untouched */
    assert_string_equal(cfg.metrics, "off");
    assert_int_equal(cfg.sync, RZ_SYNC_OS);
    assert_true(cfg.map_size == S_GIB);
    assert_true(cfg.map_max == 2048 * S_GIB);
    assert_int_equal(cfg.max_message, 512 * 1024);
    assert_int_equal(cfg.max_batch, 42);
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    rz_config_close(&cfg);
}

static void test_config_unknown_key_names_key_and_line(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    int rc = s_load(&cfg, "data_dir: /x\n\nfoo: 1\n", err, sizeof err);
    assert_int_equal(rc, RZ_ECONFIG);
    assert_string_equal(err, "test.yaml:3: unknown key 'foo'");
    rz_config_close(&cfg);
}

static void test_config_bad_size_names_key_value_and_line(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    int rc = s_load(&cfg, "sync: full\nmap_size: abc\n", err, sizeof err);
    assert_int_equal(rc, RZ_ECONFIG);
    assert_string_equal(err, "test.yaml:2: key 'map_size': invalid size 'abc'");
    rz_config_close(&cfg);
}

static void test_config_bad_values_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"max_batch: 12x\n",
         "test.yaml:1: key 'max_batch': invalid number '12x'"},
        {"max_batch: -1\n",
         "test.yaml:1: key 'max_batch': invalid number '-1'"},
        {"max_batch: 0\n",
         "test.yaml:1: key 'max_batch': 0 is below the minimum 1"},
        {"max_message: 100\n",
         "test.yaml:1: key 'max_message': 100 is below the minimum 1K"},
        {"stream_hwm: 3000000000\n",
         "test.yaml:1: key 'stream_hwm': 3000000000 is above the maximum "
         "10000000"},
        {"sync: sometimes\n", "test.yaml:1: key 'sync': invalid value "
                              "'sometimes' (want full or os)"},
        {"log_level: verbose\n",
         "test.yaml:1: key 'log_level': invalid value 'verbose' (want error, "
         "warn, info or debug)"},
        {"map_size:\n", "test.yaml:1: key 'map_size': invalid size ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rz_config_t cfg;
        char err[256];
        assert_int_equal(s_load(&cfg, cases[i].yaml, err, sizeof err),
                         RZ_ECONFIG);
        assert_string_equal(err, cases[i].err);
        rz_config_close(&cfg);
    }
}

/* Every size and count has a ceiling a machine can hold, and the error
 * names the key and the bound. */
static void test_config_sizes_and_counts_have_upper_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"map_max: 99999T\n",
         "test.yaml:1: key 'map_max': 99999T is above the maximum 64T"},
        {"map_size: 65T\n",
         "test.yaml:1: key 'map_size': 65T is above the maximum 64T"},
        {"max_message: 3G\n",
         "test.yaml:1: key 'max_message': 3G is above the maximum 256M"},
        {"query_limit: 1000000000\n",
         "test.yaml:1: key 'query_limit': 1000000000 is above the maximum "
         "100000"},
        {"replay_chunk: 100001\n",
         "test.yaml:1: key 'replay_chunk': 100001 is above the maximum "
         "100000"},
        {"max_batch: 100001\n",
         "test.yaml:1: key 'max_batch': 100001 is above the maximum 100000"},
        {"max_inflight: 10000001\n",
         "test.yaml:1: key 'max_inflight': 10000001 is above the maximum "
         "10000000"},
        {"commit_max: 1000001\n",
         "test.yaml:1: key 'commit_max': 1000001 is above the maximum "
         "1000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rz_config_t cfg;
        char err[256];
        assert_int_equal(s_load(&cfg, cases[i].yaml, err, sizeof err),
                         RZ_ECONFIG);
        assert_string_equal(err, cases[i].err);
        rz_config_close(&cfg);
    }
    /* the bounds themselves are accepted */
    rz_config_t cfg;
    char err[256];
    assert_int_equal(s_load(&cfg,
                            "map_max: 64T\nmax_message: 256M\n"
                            "query_limit: 100000\nreplay_chunk: 100000\n"
                            "max_batch: 100000\nmax_inflight: 10000000\n"
                            "stream_hwm: 10000000\n"
                            "memory_budget: 1G\n",
                            err, sizeof err),
                     0);
    assert_true(cfg.map_max == UINT64_C(64) << 40);
    assert_true(cfg.max_message == 256 * S_MIB);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    rz_config_close(&cfg);
}

static void test_config_duplicate_key_is_error_in_either_spelling(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    assert_int_equal(s_load(&cfg, "sync: os\nsync: full\n", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(
        err, "test.yaml:2: duplicate key 'sync' (first set at line 1)");
    rz_config_close(&cfg);

    assert_int_equal(
        s_load(&cfg, "data_dir: /a\n# x\ndata-dir: /b\n", err, sizeof err),
        RZ_ECONFIG);
    assert_string_equal(
        err, "test.yaml:3: duplicate key 'data-dir' (first set at line 1)");
    rz_config_close(&cfg);
}

static void test_config_syntax_error_reports_line(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        /* reported as a syntax error, not as the odd value "1G bad" that
         * the lines parse into before the parser fails */
        {"sync: os\nmap_size: 1G\n  bad: [\n",
         "test.yaml:3: syntax error: mapping values are not allowed in this "
         "context"},
        {"sync: os\n\tx: 1\n",
         "test.yaml:2: syntax error: found a tab character that violates "
         "indentation (while scanning a plain scalar from line 1)"},
        {"sync: os\nlisten: \"tcp://a\n",
         "test.yaml:3: syntax error: found unexpected end of stream (while "
         "scanning a quoted scalar from line 2)"},
        {"bogus: 1\nlisten: [a, b\n",
         "test.yaml:3: syntax error: did not find expected ',' or ']' (while "
         "parsing a flow sequence from line 2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rz_config_t cfg;
        char err[256];
        assert_int_equal(s_load(&cfg, cases[i].yaml, err, sizeof err),
                         RZ_ECONFIG);
        assert_string_equal(err, cases[i].err);
        rz_config_close(&cfg);
    }
}

static void test_config_top_level_must_be_a_mapping_of_scalars(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"- a\n- b\n",
         "test.yaml:1: top level must be a mapping of option: value"},
        {"just text\n",
         "test.yaml:1: top level must be a mapping of option: value"},
        {"sync: os\nlisten:\n  - tcp://a:1\n",
         "test.yaml:3: key 'listen': value must be a scalar, not a list"},
        {"data_dir: {a: 1}\n",
         "test.yaml:1: key 'data_dir': value must be a scalar, not a mapping"},
        {"? [a]\n: 1\n", "test.yaml:1: key must be a scalar, not a list"},
        {"sync: os\n---\nsync: full\n",
         "test.yaml:2: more than one YAML document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rz_config_t cfg;
        char err[256];
        assert_int_equal(s_load(&cfg, cases[i].yaml, err, sizeof err),
                         RZ_ECONFIG);
        assert_string_equal(err, cases[i].err);
        rz_config_close(&cfg);
    }
}

static void test_config_empty_document_keeps_defaults(void **state)
{
    (void)state;
    static const char *docs[] = {"", "# only a comment\n", "---\n", "{}\n"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        rz_config_t cfg;
        char err[256];
        assert_int_equal(s_load(&cfg, docs[i], err, sizeof err), 0);
        assert_string_equal(cfg.data_dir, "./var/ratusz");
        rz_config_close(&cfg);
    }
}

static void test_config_failed_load_leaves_config_unchanged(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    /* the first keys are valid and would be applied before the error */
    int rc = s_load(&cfg, "data_dir: /elsewhere\nsync: os\nbogus: 1\n", err,
                    sizeof err);
    assert_int_equal(rc, RZ_ECONFIG);
    assert_string_equal(cfg.data_dir, "./var/ratusz");
    assert_int_equal(cfg.sync, RZ_SYNC_FULL);
    rz_config_close(&cfg);
}

static void test_config_null_value_empties_a_string(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    assert_int_equal(s_load(&cfg, "metrics:\n", err, sizeof err), 0);
    assert_string_equal(cfg.metrics, "");
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    rz_config_close(&cfg);
}

static void test_config_parse_size_accepts_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"0", 0},
        {"1024", 1024},
        {"4K", 4096},
        {"4k", 4096},
        {"4KiB", 4096},
        {"4KB", 4096},
        {"4Ki", 4096},
        {"100B", 100},
        {"256M", 256 * S_MIB},
        {"2 MiB", 2 * S_MIB},
        {"64G", 64 * S_GIB},
        {"1T", 1024 * S_GIB},
        {"18446744073709551615", UINT64_MAX},
        {"16777215T", UINT64_C(16777215) << 40},
    };
    static const char *bad[] = {"",
                                "abc",
                                "1X",
                                "-1",
                                "1.5G",
                                "K",
                                " 1K",
                                "1KK",
                                "1 K B x",
                                "1MiBx",
                                "18446744073709551616",
                                "16777216T"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(rz_config_parse_size(ok[i].text, &v), 0);
        assert_true(v == ok[i].want);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        assert_int_equal(rz_config_parse_size(bad[i], &v), RZ_EINVAL);
        assert_true(v == 7);
    }
}

static void test_config_set_accepts_flag_spelling(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(rz_config_set(&cfg, "data-dir", "/tmp/x", err, sizeof err),
                     0);
    assert_string_equal(cfg.data_dir, "/tmp/x");
    assert_int_equal(rz_config_set(&cfg, "map_max", "1G", err, sizeof err), 0);
    assert_true(cfg.map_max == S_GIB);
    assert_int_equal(rz_config_set(&cfg, "max-inflight", "5", err, sizeof err),
                     0);
    assert_int_equal(cfg.max_inflight, 5);
    assert_int_equal(rz_config_set(&cfg, "nope", "1", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "unknown key 'nope'");
    assert_int_equal(rz_config_set(&cfg, "data__dir", "1", err, sizeof err),
                     RZ_ECONFIG);
    assert_int_equal(rz_config_set(&cfg, "map-size", "big", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "key 'map-size': invalid size 'big'");
    rz_config_close(&cfg);
}

static void test_config_check_catches_inconsistent_options(void **state)
{
    (void)state;
    rz_config_t cfg;
    char err[256];

    assert_int_equal(rz_config_init(&cfg), 0);
    cfg.map_size = 2 * S_GIB;
    cfg.map_max = S_GIB;
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_string_equal(err, "map_max (1G) is smaller than map_size (2G)");
    rz_config_close(&cfg);

    assert_int_equal(rz_config_init(&cfg), 0);
    free(cfg.log_level);
    cfg.log_level = strdup("loud");
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "log_level"));
    rz_config_close(&cfg);

    assert_int_equal(rz_config_init(&cfg), 0);
    cfg.max_message = 512;
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_string_equal(err, "key 'max_message': 512 is below the minimum 1K");
    rz_config_close(&cfg);

    assert_int_equal(rz_config_init(&cfg), 0);
    cfg.commit_max = 0;
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "commit_max"));
    rz_config_close(&cfg);

    assert_int_equal(rz_config_init(&cfg), 0);
    cfg.sync = 7;
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    rz_config_close(&cfg);

    assert_int_equal(rz_config_init(&cfg), 0);
    cfg.max_inflight = 10;
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_string_equal(err,
                        "max_inflight (10) is smaller than max_batch (10000)");
    rz_config_close(&cfg);

    static const struct {
        const char *name, *value;
    } bad[] = {
        {"listen", "127.0.0.1:7600"}, {"stream", "tcp://127.0.0.1:7600"},
        {"metrics", "localhost"},     {"metrics", "127.0.0.1:99999"},
        {"metrics", "[::1:7602"},     {"data_dir", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rz_config_init(&cfg), 0);
        assert_int_equal(
            rz_config_set(&cfg, bad[i].name, bad[i].value, err, sizeof err), 0);
        assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
        rz_config_close(&cfg);
    }
    static const char *good_metrics[] = {"off", "", ":7602", "[::1]:7602",
                                         "0.0.0.0:0"};
    for (size_t i = 0; i < sizeof good_metrics / sizeof good_metrics[0]; i++) {
        assert_int_equal(rz_config_init(&cfg), 0);
        assert_int_equal(
            rz_config_set(&cfg, "metrics", good_metrics[i], err, sizeof err),
            0);
        assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
        rz_config_close(&cfg);
    }
}

static char *s_print(const rz_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rz_config_print(cfg, f);
    fclose(f);
    return text;
}

static void test_config_print_round_trips(void **state)
{
    (void)state;
    rz_config_t a, b;
    char err[256];
    assert_int_equal(rz_config_init(&a), 0);
    /* values that need quoting in YAML, and Polish in UTF-8 */
    assert_int_equal(rz_config_set(&a, "data_dir",
                                   "/srv/Gmina Łódź: \"dane\" #1\\x\ty", err,
                                   sizeof err),
                     0);
    assert_int_equal(rz_config_set(&a, "metrics", "", err, sizeof err), 0);
    assert_int_equal(rz_config_set(&a, "sync", "os", err, sizeof err), 0);
    assert_int_equal(rz_config_set(&a, "map_size", "1000001", err, sizeof err),
                     0);
    assert_int_equal(rz_config_set(&a, "map_max", "3G", err, sizeof err), 0);
    assert_int_equal(rz_config_set(&a, "max_batch", "7", err, sizeof err), 0);
    assert_int_equal(rz_config_set(&a, "log_level", "warn", err, sizeof err),
                     0);

    char *text = s_print(&a);
    assert_int_equal(rz_config_init(&b), 0);
    int rc = rz_config_load_string(&b, text, strlen(text), "printed", err,
                                   sizeof err);
    if (rc != 0)
        print_error("%s\n---\n%s", err, text);
    assert_int_equal(rc, 0);

    assert_string_equal(b.data_dir, a.data_dir);
    assert_string_equal(b.listen, a.listen);
    assert_string_equal(b.stream, a.stream);
    assert_string_equal(b.metrics, a.metrics);
    assert_int_equal(b.sync, a.sync);
    assert_true(b.map_size == a.map_size);
    assert_true(b.map_max == a.map_max);
    assert_true(b.max_message == a.max_message);
    assert_true(b.max_batch == a.max_batch);
    assert_true(b.max_inflight == a.max_inflight);
    assert_true(b.commit_max == a.commit_max);
    assert_true(b.query_limit == a.query_limit);
    assert_true(b.replay_chunk == a.replay_chunk);
    assert_true(b.stream_hwm == a.stream_hwm);
    assert_string_equal(b.log_level, a.log_level);

    /* each option comes after its description */
    assert_non_null(strstr(text, "map_max: 3G\n"));
    assert_non_null(strstr(text, "map_size: 1000001\n"));
    int options = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (*line != '#' && *line != '\n') {
            options++;
            assert_true(line - text >= 3);
            /* the previous line is a comment */
            char *prev = line - 2;
            while (prev > text && prev[-1] != '\n')
                prev--;
            assert_true(*prev == '#');
        }
        line = nl ? nl + 1 : NULL;
    }
    assert_int_equal(options, 36); /* 28, retention 4, log_format, console 3 */

    /* printing what was loaded gives the same text */
    char *again = s_print(&b);
    assert_string_equal(again, text);
    free(again);
    free(text);
    rz_config_close(&a);
    rz_config_close(&b);
}

static void test_config_usage_lists_every_flag_with_default(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rz_config_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "--data-dir DIR "));
    assert_non_null(strstr(text, "(default: ./var/ratusz)\n"));
    assert_non_null(strstr(text, "--map-max SIZE "));
    assert_non_null(strstr(text, "(default: 64G)\n"));
    assert_non_null(strstr(text, "--sync full|os "));
    assert_non_null(strstr(text, "--log-level LEVEL "));
    assert_non_null(strstr(text, "--journal-segment SIZE "));
    assert_null(strstr(text, "--data_dir"));
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 35); /* 28, retention 3, log_format, console 3 */
    free(text);
}

/* Safe by default: without CURVE the broker serves this machine only. */
static void test_config_refuses_open_endpoints_without_curve(void **state)
{
    (void)state;
    char err[512];
    rz_config_t cfg;
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    assert_int_equal(rz_config_set(&cfg, "stream", "tcp://*:7601", err,
                                   sizeof err),
                     0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "refusing to serve tcp://*:7601 without CURVE"));
    assert_non_null(strstr(err, "security: none"));
    assert_int_equal(rz_config_set(&cfg, "security", "none", err, sizeof err),
                     0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    /* CURVE needs both halves */
    assert_int_equal(rz_config_set(&cfg, "security", "curve", err, sizeof err),
                     0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "server_key"));
    assert_int_equal(rz_config_set(&cfg, "server_key", "/k/ratuszd.key", err,
                                   sizeof err),
                     0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "principals is missing"));
    assert_int_equal(rz_config_set(&cfg, "principals", "/k/p.yaml", err,
                                   sizeof err),
                     0);
    assert_int_equal(rz_config_check(&cfg, err, sizeof err), 0);
    rz_config_close(&cfg);

    assert_true(rz_config_endpoint_local("tcp://127.0.0.1:1"));
    assert_true(rz_config_endpoint_local("tcp://127.8.9.10:1"));
    assert_true(rz_config_endpoint_local("tcp://localhost:1"));
    assert_true(rz_config_endpoint_local("tcp://[::1]:1"));
    assert_true(rz_config_endpoint_local("ipc:///run/ratusz/front"));
    assert_false(rz_config_endpoint_local("tcp://0.0.0.0:1"));
    assert_false(rz_config_endpoint_local("tcp://*:1"));
    assert_false(rz_config_endpoint_local("tcp://127.0.0.1.evil.example:1"));
    assert_false(rz_config_endpoint_local("tcp://eth0:1"));
    assert_false(rz_config_endpoint_local("tcp://[::]:1"));
}

static void test_config_load_file_names_the_file(void **state)
{
    (void)state;
    char dir[256], path[300], err[512];
    rz_config_t cfg;
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/ratuszd.yaml", dir);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\xef\xbb\xbf# BOM and CRLF, as a Windows editor saves it\r\n"
          "sync: os\r\nreplay_chunk: 50\r\n",
          f);
    fclose(f);
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(rz_config_load_file(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.sync, RZ_SYNC_OS);
    assert_int_equal(cfg.replay_chunk, 50);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("sync: os\nreplay-chunk: 5\nwhat: 1\n", f);
    fclose(f);
    assert_int_equal(rz_config_load_file(&cfg, path, err, sizeof err),
                     RZ_ECONFIG);
    char want[400];
    snprintf(want, sizeof want, "%s:3: unknown key 'what'", path);
    assert_string_equal(err, want);
    assert_int_equal(cfg.replay_chunk, 50);

    snprintf(path, sizeof path, "%s/missing.yaml", dir);
    assert_int_equal(rz_config_load_file(&cfg, path, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "missing.yaml: cannot open"));
    rz_config_close(&cfg);
    rzt_rmtree(dir);
}

/* Reload: live values move into the running config, restart-only ones are
 * named and stay, and the mix is checked before anything moves. */
static void
test_config_reload_applies_live_names_restart_checks_mix(void **state)
{
    (void)state;
    char err[512];
    rz_config_t run, fresh;
    rz_config_diff_t d;
    assert_int_equal(s_load(&run, "map_max: 1G\n", err, sizeof err), 0);
    assert_int_equal(s_load(&fresh,
                            "map_max: 2G\nmax_message: 64K\n"
                            "log_level: debug\nlisten: tcp://127.0.0.1:9\n",
                            err, sizeof err),
                     0);
    assert_int_equal(rz_config_reload(&run, &fresh, &d, err, sizeof err), 0);
    assert_int_equal(d.n_changed, 2);
    assert_string_equal(d.changed[0], "max_message: 4M -> 64K");
    assert_string_equal(d.changed[1], "log_level: info -> debug");
    assert_int_equal(d.n_restart, 2);
    assert_string_equal(d.restart[0], "listen: needs a restart (running "
                                      "tcp://127.0.0.1:7600, file says "
                                      "tcp://127.0.0.1:9)");
    assert_string_equal(d.restart[1],
                        "map_max: needs a restart (running 1G, file says 2G)");
    assert_int_equal(run.max_message, 64 * 1024);
    assert_string_equal(run.log_level, "debug");
    assert_int_equal(run.map_max, S_GIB);
    assert_string_equal(run.listen, "tcp://127.0.0.1:7600");
    /* fresh holds the replaced values, to be freed */
    assert_string_equal(fresh.log_level, "info");
    rz_config_diff_close(&d);
    rz_config_diff_close(&d); /* safe twice */
    rz_config_close(&fresh);

    /* fine on its own, not with the running map_max: refused, and
     * nothing moved */
    rz_config_close(&run);
    assert_int_equal(s_load(&run,
                            "map_size: 1M\nmap_max: 2M\nmax_message: 1M\n", err,
                            sizeof err),
                     0);
    assert_int_equal(s_load(&fresh,
                            "map_max: 1G\nmax_message: 4M\n"
                            "memory_budget: 512M\n",
                            err, sizeof err),
                     0);
    assert_int_equal(rz_config_check(&fresh, err, sizeof err), 0);
    assert_int_equal(rz_config_reload(&run, &fresh, &d, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(
        strstr(err, "max_message (4M) is larger than map_max (2M)"));
    assert_int_equal(d.n_changed + d.n_restart, 0);
    assert_int_equal(run.max_message, S_MIB);
    assert_int_equal(run.memory_budget, 256 * S_MIB);
    rz_config_close(&fresh);
    rz_config_close(&run);

    assert_true(rz_config_is_live("memory_budget"));
    assert_true(rz_config_is_live("principals"));
    assert_false(rz_config_is_live("data_dir"));
    assert_false(rz_config_is_live("stream_hwm"));
    assert_false(rz_config_is_live("no_such_option"));
}

/* The command line as the start and every reload read it: the file first,
 * wherever -c is, then the flags over it. */
static void test_config_from_args_flags_override_the_file(void **state)
{
    (void)state;
    char dir[256], path[300], err[512];
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/ratuszd.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("replay_chunk: 50\nquery_limit: 7\n", f);
    fclose(f);
    char *argv[] = {"ratuszd",
                    "--replay-chunk=9",
                    "--print-config",
                    "--query_limit",
                    "8",
                    "-c",
                    path,
                    NULL};
    rz_config_t cfg;
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(rz_config_from_args(&cfg, 7, argv, err, sizeof err), 0);
    assert_int_equal(cfg.replay_chunk, 9);
    assert_int_equal(cfg.query_limit, 8);
    rz_config_close(&cfg);

    char *bad[] = {"ratuszd", "stray", NULL};
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(rz_config_from_args(&cfg, 2, bad, err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "unexpected argument 'stray' (see --help)");
    char *novalue[] = {"ratuszd", "--max-batch", NULL};
    assert_int_equal(rz_config_from_args(&cfg, 2, novalue, err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "option --max-batch needs a value");
    rz_config_close(&cfg);
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_documented_values),
        cmocka_unit_test(test_config_load_sets_every_kind_of_option),
        cmocka_unit_test(test_config_unknown_key_names_key_and_line),
        cmocka_unit_test(test_config_bad_size_names_key_value_and_line),
        cmocka_unit_test(test_config_bad_values_name_the_key),
        cmocka_unit_test(test_config_sizes_and_counts_have_upper_bounds),
        cmocka_unit_test(test_config_duplicate_key_is_error_in_either_spelling),
        cmocka_unit_test(test_config_syntax_error_reports_line),
        cmocka_unit_test(test_config_top_level_must_be_a_mapping_of_scalars),
        cmocka_unit_test(test_config_empty_document_keeps_defaults),
        cmocka_unit_test(test_config_failed_load_leaves_config_unchanged),
        cmocka_unit_test(test_config_null_value_empties_a_string),
        cmocka_unit_test(test_config_parse_size_accepts_suffixes),
        cmocka_unit_test(test_config_set_accepts_flag_spelling),
        cmocka_unit_test(test_config_check_catches_inconsistent_options),
        cmocka_unit_test(test_config_print_round_trips),
        cmocka_unit_test(test_config_usage_lists_every_flag_with_default),
        cmocka_unit_test(test_config_refuses_open_endpoints_without_curve),
        cmocka_unit_test(test_config_load_file_names_the_file),
        cmocka_unit_test(
            test_config_reload_applies_live_names_restart_checks_mix),
        cmocka_unit_test(test_config_from_args_flags_override_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
