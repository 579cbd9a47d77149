/* test_conf.c - the configuration engine every program shares: maps,
 * lists, booleans, sections applied later, the command line */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratusz/conf.h"
#include "ratusz/errors.h"

typedef struct s_conf {
    char *broker;
    uint64_t window;
    int follow;
    int mode;
    rz_conf_map_t kafka;
    rz_conf_list_t topics;
    rz_conf_map_t budget; /* a module's section, applied later */
    rz_conf_sections_t users; /* named sections, each applied later */
} s_conf_t;

static const char *const s_modes[] = {"in", "out", NULL};

static const rz_conf_option_t s_opts[] = {
    {"broker", RZ_CONF_STRING, offsetof(s_conf_t, broker),
     "tcp://127.0.0.1:7600", NULL, 0, 0, "ENDPOINT", "broker front"},
    {"window", RZ_CONF_UINT, offsetof(s_conf_t, window), "1024", NULL, 1,
     100000, "N", "events in flight"},
    {"follow", RZ_CONF_BOOL, offsetof(s_conf_t, follow), "false", NULL, 0, 0,
     "BOOL", "keep reading"},
    {"mode", RZ_CONF_ENUM, offsetof(s_conf_t, mode), "out", s_modes, 0, 0,
     "in|out", "direction"},
    {"kafka", RZ_CONF_MAP, offsetof(s_conf_t, kafka), "", NULL, 0, 0,
     "KEY=VALUE", "librdkafka properties"},
    {"topics", RZ_CONF_LIST, offsetof(s_conf_t, topics), "a,b", NULL, 0, 0,
     "TOPIC", "Kafka topics"},
    {"budget", RZ_CONF_MAP, offsetof(s_conf_t, budget), "", NULL, 0, 0,
     "KEY=VALUE", "module options"},
    {"users", RZ_CONF_SECTIONS, offsetof(s_conf_t, users), "", NULL, 0, 0,
     "NAME", "one section per user"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

/* A module's own table, applied from the "budget" section. */
typedef struct s_module {
    char *tenant;
    uint64_t year;
} s_module_t;

static const rz_conf_option_t s_module_opts[] = {
    {"tenant", RZ_CONF_STRING, offsetof(s_module_t, tenant), "", NULL, 0, 0,
     "TERC", "tenant code"},
    {"year", RZ_CONF_UINT, offsetof(s_module_t, year), "2024", NULL, 1990,
     2100, "YEAR", "fiscal year"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

/* A user's own table, applied to each section of "users". */
typedef struct s_user {
    char *key;
    rz_conf_list_t read;
    int admin;
} s_user_t;

static const rz_conf_option_t s_user_opts[] = {
    {"key", RZ_CONF_STRING, offsetof(s_user_t, key), "", NULL, 0, 0, "KEY",
     "public key"},
    {"read", RZ_CONF_LIST, offsetof(s_user_t, read), "", NULL, 0, 0,
     "PREFIX", "topic prefixes"},
    {"admin", RZ_CONF_BOOL, offsetof(s_user_t, admin), "false", NULL, 0, 0,
     "BOOL", "administrator"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

static void test_conf_defaults(void **state)
{
    (void)state;
    s_conf_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);
    assert_string_equal(c.broker, "tcp://127.0.0.1:7600");
    assert_int_equal(c.window, 1024);
    assert_int_equal(c.follow, 0);
    assert_int_equal(c.mode, 1);
    assert_int_equal(c.kafka.n, 0);
    assert_int_equal(c.topics.n, 2);
    assert_string_equal(c.topics.items[1], "b");
    rz_conf_close(s_opts, &c);
    rz_conf_close(s_opts, &c);
}

static void test_conf_yaml_map_list_bool(void **state)
{
    (void)state;
    s_conf_t c;
    char err[256] = "";
    const char *yaml = "broker: tcp://10.0.0.1:7600\n"
                       "follow: yes\n"
                       "kafka:\n"
                       "  bootstrap.servers: 127.0.0.1:9092\n"
                       "  security:\n"
                       "    protocol: ssl\n"
                       "  acks: all\n"
                       "topics: [ratusz.2261011.budget, x]\n"
                       "budget: {tenant: \"2261011\", year: 2023}\n";
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);
    assert_int_equal(rz_conf_load_string(s_opts, &c, yaml, strlen(yaml),
                                         "b.yaml", err, sizeof err),
                     0);
    assert_string_equal(c.broker, "tcp://10.0.0.1:7600");
    assert_int_equal(c.follow, 1);
    assert_int_equal(c.kafka.n, 3);
    assert_string_equal(rz_conf_map_get(&c.kafka, "bootstrap.servers"),
                        "127.0.0.1:9092");
    /* nested mappings flatten with dots, each entry keeps its line */
    assert_string_equal(rz_conf_map_get(&c.kafka, "security.protocol"), "ssl");
    assert_int_equal(c.kafka.lines[1], 6);
    assert_null(rz_conf_map_get(&c.kafka, "security"));
    /* a list from YAML replaces the default */
    assert_int_equal(c.topics.n, 2);
    assert_string_equal(c.topics.items[0], "ratusz.2261011.budget");

    /* the section, applied to the module's own table */
    s_module_t m;
    memset(&m, 0, sizeof m);
    assert_int_equal(rz_conf_init(s_module_opts, &m), 0);
    assert_int_equal(rz_conf_apply_map(s_module_opts, &m, &c.budget, "b.yaml",
                                       "budget", err, sizeof err),
                     0);
    assert_string_equal(m.tenant, "2261011");
    assert_int_equal(m.year, 2023);
    rz_conf_close(s_module_opts, &m);
    rz_conf_close(s_opts, &c);
}

static void test_conf_errors_name_file_line_and_change_nothing(void **state)
{
    (void)state;
    s_conf_t c;
    char err[256] = "";
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);

    const char *bad_bool = "broker: tcp://x:1\nfollow: maybe\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, bad_bool, strlen(bad_bool),
                                         "b.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:2: key 'follow': invalid value 'maybe' "
                             "(want true or false)");
    /* the good line before the bad one was not applied */
    assert_string_equal(c.broker, "tcp://127.0.0.1:7600");

    const char *map_scalar = "kafka: brokers\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, map_scalar,
                                         strlen(map_scalar), "b.yaml", err,
                                         sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:1: key 'kafka': value must be a mapping, "
                             "not a scalar");

    const char *list_of_maps = "topics:\n  - {a: 1}\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, list_of_maps,
                                         strlen(list_of_maps), "b.yaml", err,
                                         sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:2: key 'topics': list items must be "
                             "scalars, not a mapping");

    const char *dup = "kafka:\n  acks: 1\n  acks: all\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, dup, strlen(dup),
                                         "b.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:3: key 'kafka': duplicate entry 'acks'");

    const char *broken = "window: 5\nkafka: {a: 1\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, broken, strlen(broken),
                                         "b.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "syntax error"));
    assert_int_equal(c.window, 1024);

    /* a module section's unknown key names the section and line */
    const char *sec = "budget:\n  tenant: \"2261011\"\n  yaer: 2023\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, sec, strlen(sec),
                                         "b.yaml", err, sizeof err),
                     0);
    s_module_t m;
    memset(&m, 0, sizeof m);
    assert_int_equal(rz_conf_init(s_module_opts, &m), 0);
    assert_int_equal(rz_conf_apply_map(s_module_opts, &m, &c.budget, "b.yaml",
                                       "budget", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:3: unknown key 'budget.yaer'");
    const char *sec2 = "budget:\n  year: 1800\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, sec2, strlen(sec2),
                                         "b.yaml", err, sizeof err),
                     0);
    assert_int_equal(rz_conf_apply_map(s_module_opts, &m, &c.budget, "b.yaml",
                                       "budget", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "b.yaml:2: key 'budget.year': 1800 is below the "
                             "minimum 1990");
    rz_conf_close(s_module_opts, &m);
    rz_conf_close(s_opts, &c);
}

static void test_conf_sections_keep_names_lists_and_lines(void **state)
{
    (void)state;
    s_conf_t c;
    char err[256] = "";
    const char *yaml = "users:\n"
                       "  alice.b@x:\n"          /* 2 */
                       "    key: abc\n"
                       "    read: [\"\", \"1261011.budget.\"]\n" /* 4 */
                       "  bob:\n"
                       "    read:\n"
                       "      - a.\n"
                       "    admin: yes\n"
                       "  carol:\n";              /* 9: empty section */
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);
    assert_int_equal(rz_conf_load_string(s_opts, &c, yaml, strlen(yaml),
                                         "u.yaml", err, sizeof err),
                     0);
    assert_int_equal(c.users.n, 3);
    /* names are taken as written: dots do not nest */
    assert_string_equal(c.users.s[0].name, "alice.b@x");
    assert_int_equal(c.users.s[0].line, 2);
    assert_string_equal(c.users.s[2].name, "carol");
    assert_int_equal(c.users.s[2].map.n, 0);
    assert_int_equal(rz_conf_map_line(&c.users.s[0].map, "read"), 4);
    /* a list is kept as items, and joined for string readers */
    assert_string_equal(rz_conf_map_get(&c.users.s[0].map, "read"),
                        ",1261011.budget.");
    assert_null(c.users.s[0].lists[0]); /* key: a scalar */
    assert_int_equal(c.users.s[0].lists[1]->n, 2);

    s_user_t u;
    memset(&u, 0, sizeof u);
    assert_int_equal(rz_conf_init(s_user_opts, &u), 0);
    assert_int_equal(rz_conf_apply_section(s_user_opts, &u, &c.users.s[0],
                                           "u.yaml", "users.alice.b@x", err,
                                           sizeof err),
                     0);
    assert_string_equal(u.key, "abc");
    assert_int_equal(u.read.n, 2);
    assert_string_equal(u.read.items[0], "");
    assert_string_equal(u.read.items[1], "1261011.budget.");
    assert_int_equal(rz_conf_apply_section(s_user_opts, &u, &c.users.s[1],
                                           "u.yaml", "users.bob", err,
                                           sizeof err),
                     0);
    assert_int_equal(u.read.n, 1); /* a list replaces */
    assert_string_equal(u.read.items[0], "a.");
    assert_int_equal(u.admin, 1);
    rz_conf_close(s_user_opts, &u);

    /* printed, it reads back the same */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rz_conf_print(s_opts, &c, "test", f);
    fclose(f);
    s_conf_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(rz_conf_init(s_opts, &d), 0);
    assert_int_equal(rz_conf_load_string(s_opts, &d, text, len, "printed",
                                         err, sizeof err),
                     0);
    assert_int_equal(d.users.n, 3);
    assert_string_equal(d.users.s[0].name, "alice.b@x");
    assert_int_equal(d.users.s[0].lists[1]->n, 2);
    assert_string_equal(d.users.s[0].lists[1]->items[1], "1261011.budget.");
    assert_int_equal(d.users.s[2].map.n, 0);
    free(text);
    rz_conf_close(s_opts, &d);
    rz_conf_close(s_opts, &c);
}

static void test_conf_sections_errors(void **state)
{
    (void)state;
    s_conf_t c;
    char err[256] = "";
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);

    const char *dup = "users:\n  a:\n    key: x\n  a:\n    key: y\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, dup, strlen(dup),
                                         "u.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "u.yaml:4: key 'users': duplicate section 'a' "
                             "(first at line 2)");

    const char *scalar = "users:\n  a: x\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, scalar, strlen(scalar),
                                         "u.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "u.yaml:2: key 'users.a': a section must be a "
                             "mapping, not a scalar");

    const char *nested = "users:\n  a:\n    read: [[x]]\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, nested, strlen(nested),
                                         "u.yaml", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "u.yaml:3: key 'users.a.read': list items must "
                             "be scalars, not a list");

    /* a list where the section's table wants a scalar */
    const char *list = "users:\n  a:\n    key: [x, y]\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, list, strlen(list),
                                         "u.yaml", err, sizeof err),
                     0);
    s_user_t u;
    memset(&u, 0, sizeof u);
    assert_int_equal(rz_conf_init(s_user_opts, &u), 0);
    assert_int_equal(rz_conf_apply_section(s_user_opts, &u, &c.users.s[0],
                                           "u.yaml", "users.a", err,
                                           sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "u.yaml:3: key 'users.a.key': value must be a "
                             "scalar, not a list");
    rz_conf_close(s_user_opts, &u);

    /* a plain map still takes scalars and mappings only */
    const char *map_list = "kafka:\n  servers: [h1, h2]\n";
    assert_int_equal(rz_conf_load_string(s_opts, &c, map_list,
                                         strlen(map_list), "u.yaml", err,
                                         sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "u.yaml:2: key 'kafka': entry 'servers' must be "
                             "a scalar or a mapping, not a list");

    /* sections come from a file only */
    assert_int_equal(rz_conf_set(s_opts, &c, "users", "a", err, sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "key 'users' can only be set in a file");
    rz_conf_close(s_opts, &c);
}

static void test_conf_args(void **state)
{
    (void)state;
    s_conf_t c;
    char err[256] = "";
    char a0[] = "prog", a1[] = "file1.csv", a2[] = "--window", a3[] = "64",
         a4[] = "--kafka", a5[] = "acks=all", a6[] = "--topics=t3",
         a7[] = "file2.csv", a8[] = "--follow=on";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
    int first = 0, what = 0;
    memset(&c, 0, sizeof c);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);
    assert_int_equal(rz_conf_args(s_opts, &c, 9, argv, &first, &what, err,
                                  sizeof err),
                     0);
    assert_int_equal(c.window, 64);
    assert_int_equal(c.follow, 1);
    assert_string_equal(rz_conf_map_get(&c.kafka, "acks"), "all");
    assert_int_equal(c.topics.n, 3); /* a flag appends */
    assert_string_equal(c.topics.items[2], "t3");
    /* the arguments come last, in their order */
    assert_int_equal(first, 7);
    assert_string_equal(argv[7], "file1.csv");
    assert_string_equal(argv[8], "file2.csv");

    char b0[] = "prog", b1[] = "--windw", b2[] = "3";
    char *bad[] = {b0, b1, b2, NULL};
    assert_int_equal(rz_conf_args(s_opts, &c, 3, bad, &first, &what, err,
                                  sizeof err),
                     RZ_ECONFIG);
    assert_string_equal(err, "unknown key 'windw'");

    char h0[] = "prog", h1[] = "--print-config";
    char *pc[] = {h0, h1, NULL};
    assert_int_equal(rz_conf_args(s_opts, &c, 2, pc, &first, &what, err,
                                  sizeof err),
                     1);
    assert_int_equal(what, 'p');
    rz_conf_close(s_opts, &c);
}

static void test_conf_print_round_trips(void **state)
{
    (void)state;
    s_conf_t c, d;
    char err[256] = "", *text = NULL;
    size_t len = 0;
    memset(&c, 0, sizeof c);
    memset(&d, 0, sizeof d);
    assert_int_equal(rz_conf_init(s_opts, &c), 0);
    assert_int_equal(rz_conf_init(s_opts, &d), 0);
    assert_int_equal(rz_conf_set(s_opts, &c, "kafka", "client.id=gmina \"1\"",
                                 err, sizeof err),
                     0);
    assert_int_equal(rz_conf_set(s_opts, &c, "follow", "true", err, sizeof err),
                     0);
    FILE *f = open_memstream(&text, &len);
    rz_conf_print(s_opts, &c, "test", f);
    fclose(f);
    assert_int_equal(rz_conf_load_string(s_opts, &d, text, len, "printed",
                                         err, sizeof err),
                     0);
    assert_string_equal(rz_conf_map_get(&d.kafka, "client.id"), "gmina \"1\"");
    assert_int_equal(d.follow, 1);
    assert_int_equal(d.topics.n, 2);
    free(text);
    rz_conf_close(s_opts, &c);
    rz_conf_close(s_opts, &d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_defaults),
        cmocka_unit_test(test_conf_yaml_map_list_bool),
        cmocka_unit_test(test_conf_errors_name_file_line_and_change_nothing),
        cmocka_unit_test(test_conf_sections_keep_names_lists_and_lines),
        cmocka_unit_test(test_conf_sections_errors),
        cmocka_unit_test(test_conf_args),
        cmocka_unit_test(test_conf_print_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
