/* test_retention.c - retention rules and passes on a real LMDB store */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "retention.h"
#include "store.h"

#define SRC "/1261011/env/airly"
#define T_AIR "pl.gov.gmina.env.air.v1" /* 1261011.env.air.v1 */
#define T_BUDGET "pl.gov.gmina.budget.execution.v1"
#define DAY INT64_C(86400000000)
#define NOW (INT64_C(1900000000) * 1000000) /* 2030 */

typedef struct fx {
    char dir[256];
    rz_store_t *s;
    rz_retention_t *r;
    int next_id;
} fx_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->dir, sizeof f->dir) != 0)
        return -1;
    rz_store_opts_t o = {f->dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
    if (rz_store_open(&f->s, &o) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_retention_destroy(&f->r);
    rz_store_close(&f->s);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

/* Rules from YAML (the broker's own parser), into a runner over f->s. */
static void s_rules(fx_t *f, const char *yaml)
{
    rz_config_t cfg;
    rz_retention_rules_t rules;
    char err[512] = "";
    assert_int_equal(rz_config_init(&cfg), 0);
    int rc = rz_config_load_string(&cfg, yaml, strlen(yaml), "test.yaml", err,
                                   sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rc = rz_retention_rules_parse(&rules, &cfg, err, sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rz_config_close(&cfg);
    rz_retention_destroy(&f->r);
    assert_int_equal(rz_retention_new(&f->r, f->s, &rules), 0);
    assert_int_equal(rules.n, 0); /* taken */
}

/* The parse error of a YAML text's retention settings ("" when none). */
static void s_parse_err(const char *yaml, char *err, size_t len)
{
    rz_config_t cfg;
    rz_retention_rules_t rules;
    err[0] = '\0';
    assert_int_equal(rz_config_init(&cfg), 0);
    int rc =
        rz_config_load_string(&cfg, yaml, strlen(yaml), "test.yaml", err, len);
    if (rc == 0) {
        rc = rz_retention_rules_parse(&rules, &cfg, err, len);
        if (rc == 0)
            rz_retention_rules_free(&rules);
    }
    rz_config_close(&cfg);
}

/* Append one event of type (tenant 1261011) at time t with a payload of
 * `payload` bytes; id "ev-N" unless given. Returns its seq. */
static uint64_t s_add_id(fx_t *f, const char *type, const char *subject,
                         int64_t t, size_t payload, const char *id_in,
                         int *duplicate)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    static uint8_t fill[4096];
    uint8_t buf[8192];
    char id[32], topic[RZ_TOPIC_MAX + 1];
    rz_store_item_t it;

    if (id_in)
        snprintf(id, sizeof id, "%s", id_in);
    else
        snprintf(id, sizeof id, "ev-%d", ++f->next_id);
    assert_true(payload <= sizeof fill);
    memset(fill, 'x', payload);
    ev.id = id;
    ev.source = (char *)SRC;
    ev.type = (char *)type;
    ev.subject = (char *)subject;
    ev.tenant = (char *)"1261011";
    ev.time = t;
    raw.content_type = (char *)"text/csv";
    raw.bytes.len = payload;
    raw.bytes.data = fill;
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    int tl = rz_event_topic(&ev, topic, sizeof topic);
    assert_true(tl > 0);
    size_t len = ratusz__v1__event__get_packed_size(&ev);
    assert_true(len <= sizeof buf);
    ratusz__v1__event__pack(&ev, buf);

    memset(&it, 0, sizeof it);
    it.bytes = buf;
    it.len = len;
    it.source = SRC;
    it.source_len = strlen(SRC);
    it.id = id;
    it.id_len = strlen(id);
    it.subject = subject;
    it.subject_len = strlen(subject);
    it.topic = topic;
    it.topic_len = (size_t)tl;
    it.principal = "system:airly";
    it.principal_len = strlen(it.principal);
    it.time = t;
    assert_int_equal(rz_store_append(f->s, &it, 1, NOW), 0);
    assert_int_equal(it.code, 0);
    if (duplicate)
        *duplicate = it.duplicate;
    else
        assert_int_equal(it.duplicate, 0);
    return it.seq;
}

static uint64_t s_add(fx_t *f, const char *type, int64_t t, size_t payload)
{
    return s_add_id(f, type, "station:PL0012A", t, payload, NULL, NULL);
}

static int s_count_cb(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    (void)seq;
    (void)ev;
    (void)len;
    (*(int *)user)++;
    return 0;
}

/* Every result of a query, page by page. */
static int s_query_n(fx_t *f, const char *subject, const char *prefix,
                     int64_t since, int64_t until)
{
    uint8_t after[RZ_CURSOR_MAX], next[RZ_CURSOR_MAX];
    size_t next_len = 0;
    int n = 0;
    rz_store_query_t q = {subject, prefix, since, until, 1000, after, 0, NULL};
    do {
        int before = n;
        int rc = rz_store_query(f->s, &q, s_count_cb, &n, next, &next_len);
        assert_int_equal(rc, n - before);
        memcpy(after, next, next_len);
        q.after_len = next_len;
    } while (next_len);
    return n;
}

static int s_present(fx_t *f, uint64_t seq)
{
    int rc = rz_store_get(f->s, seq, NULL, NULL);
    assert_true(rc == 1 || rc == RZ_ENOTFOUND);
    return rc == 1;
}

static void s_expect_verify_ok(fx_t *f, uint64_t checked)
{
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_store_verify(f->s, 0, &r), 0);
    if (!r.ok)
        print_error("verify: %s\n", r.reason);
    assert_true(r.ok);
    assert_int_equal(r.checked, checked);
    free(r.reason);
    free(r.invalid_reason);
}

static const rz_retention_stat_t *s_stat(fx_t *f, const char *prefix,
                                         rz_retention_stat_t **all)
{
    size_t n = 0;
    assert_int_equal(rz_retention_stats(f->r, all, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp((*all)[i].prefix, prefix))
            return &(*all)[i];
    fail_msg("no rule \"%s\"", prefix);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Rules
 */

static void test_retention_rules_parse_longest_prefix_first(void **state)
{
    (void)state;
    rz_config_t cfg;
    rz_retention_rules_t r;
    char err[256];
    const char *y = "retention:\n"
                    "  \"\": {max_bytes: 200G}\n"
                    "  \"0264011.env.\": {max_age: 400d}\n"
                    "  \"0264011.\": {max_age: 12h, max_bytes: 1M}\n"
                    "retention_hold_max: 2w\n"
                    "dedup_window: 90m\n";
    assert_int_equal(rz_config_init(&cfg), 0);
    assert_int_equal(
        rz_config_load_string(&cfg, y, strlen(y), "t.yaml", err, sizeof err),
        0);
    assert_int_equal(rz_retention_rules_parse(&r, &cfg, err, sizeof err), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.rule[0].prefix, "0264011.env.");
    assert_int_equal(r.rule[0].max_age_us, 400 * DAY);
    assert_int_equal(r.rule[0].max_bytes, 0);
    assert_string_equal(r.rule[1].prefix, "0264011.");
    assert_int_equal(r.rule[1].max_age_us, 12 * 3600 * INT64_C(1000000));
    assert_int_equal(r.rule[1].max_bytes, 1 << 20);
    assert_string_equal(r.rule[2].prefix, "");
    assert_int_equal(r.rule[2].max_bytes, UINT64_C(200) << 30);
    assert_int_equal(r.hold_max_us, 14 * DAY);
    assert_int_equal(r.dedup_window_us, 90 * 60 * INT64_C(1000000));
    assert_int_equal(rz_retention_rule_for(&r, "0264011.env.air.v1", 18), 0);
    assert_int_equal(rz_retention_rule_for(&r, "0264011.tax.decl.v1", 19), 1);
    assert_int_equal(rz_retention_rule_for(&r, "1261011.env.air.v1", 18), 2);
    rz_retention_rules_free(&r);
    rz_retention_rules_free(&r); /* twice is safe */
    rz_config_close(&cfg);
}

static void test_retention_rules_errors_name_key_and_line(void **state)
{
    (void)state;
    char err[512];

    s_parse_err("retention:\n  \"a.\": {max_agе: 4d}\n", err, sizeof err);
    assert_non_null(strstr(err, "line 2"));
    assert_non_null(strstr(err, "unknown key 'max_agе'"));

    s_parse_err("retention:\n  \"a.\":\n    max_age: 4 days\n", err,
                sizeof err);
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "retention.\"a.\".max_age"));
    assert_non_null(strstr(err, "'4 days'"));

    s_parse_err("retention:\n  \"\": {max_bytes: lots}\n", err, sizeof err);
    assert_non_null(strstr(err, "max_bytes: 'lots'"));

    s_parse_err("retention:\n  \"b.\": {}\n", err, sizeof err);
    assert_non_null(strstr(err, "no limit"));

    s_parse_err("dedup_window: 3x\n", err, sizeof err);
    assert_non_null(strstr(err, "dedup_window '3x' is not a duration"));

    s_parse_err("retention:\n  \"a.\": {max_age: 1d}\n"
                "retention_hold_max: 0\ndedup_window: 0\n",
                err, sizeof err);
    assert_string_equal(err, "");
}

/* ------------------------------------------------------------------------
 * Passes
 */

static void test_retention_prunes_by_age_with_indexes(void **state)
{
    fx_t *f = *state;
    s_rules(f, "retention:\n  \"1261011.env.\": {max_age: 7d}\n"
               "dedup_window: 0\n");
    uint64_t old[5], young[3], budget;
    for (int i = 0; i < 5; i++)
        old[i] = s_add(f, T_AIR, NOW - 30 * DAY + i, 100);
    budget = s_add(f, T_BUDGET, NOW - 30 * DAY, 100); /* no rule: kept */
    for (int i = 0; i < 3; i++)
        young[i] = s_add(f, T_AIR, NOW - DAY + i, 100);

    assert_int_equal(rz_retention_pass(f->r, NOW), 5);
    for (int i = 0; i < 5; i++) {
        assert_false(s_present(f, old[i]));
        assert_int_equal(rz_store_pruned(f->s, old[i]), 1);
    }
    assert_true(s_present(f, budget));
    assert_int_equal(rz_store_pruned(f->s, budget), 0);
    for (int i = 0; i < 3; i++)
        assert_true(s_present(f, young[i]));

    /* every index forgot them */
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, 0, 0), 4);
    assert_int_equal(s_query_n(f, NULL, "1261011.env.", 0, 0), 3);
    assert_int_equal(s_query_n(f, NULL, NULL, 0, 0), 4);
    assert_int_equal(s_query_n(f, NULL, NULL, NOW - 40 * DAY, NOW - 7 * DAY),
                     1);
    /* dedup_window 0: the id went with the event */
    assert_int_equal(rz_store_id_seq(f->s, SRC, "ev-1"), 0);
    assert_int_equal(rz_store_get_id(f->s, SRC, "ev-1", NULL, NULL),
                     RZ_ENOTFOUND);

    rz_retention_stat_t *all = NULL;
    const rz_retention_stat_t *st = s_stat(f, "1261011.env.", &all);
    assert_int_equal(st->removed_events, 5);
    assert_true(st->removed_bytes > 5 * 100);
    assert_int_equal(st->oldest_seq, young[0]);
    free(all);
    uint64_t ev = 0, by = 0;
    assert_int_equal(rz_store_pruned_totals(f->s, "1261011.env.", &ev, &by), 0);
    assert_int_equal(ev, 5);

    s_expect_verify_ok(f, 4);
    /* a second pass finds nothing more */
    assert_int_equal(rz_retention_pass(f->r, NOW), 0);
}

static void test_retention_prunes_subject_runs_and_memory(void **state)
{
    fx_t *f = *state;
    /* runs of 3 events with a subject (store.c): a run is written before
     * the append that finds 3 waiting in memory */
    rz_store_close(&f->s);
    rz_store_opts_t o = {f->dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 3};
    assert_int_equal(rz_store_open(&f->s, &o), 0);
    s_rules(f, "retention:\n  \"1261011.env.\": {max_age: 7d}\n"
               "dedup_window: 0\n");
    s_add(f, T_AIR, NOW - 30 * DAY, 100);    /* 1: run 0, pruned */
    s_add(f, T_AIR, NOW - 30 * DAY, 100);    /* 2: run 0, pruned */
    s_add(f, T_AIR, NOW - 30 * DAY, 100);    /* 3: run 0, pruned */
    s_add(f, T_BUDGET, NOW - 30 * DAY, 100); /* 4: run 1, kept */
    s_add(f, T_AIR, NOW - DAY, 100);         /* 5: run 1, kept */
    s_add(f, T_AIR, NOW - 20 * DAY, 100);    /* 6: run 1, pruned */
    s_add(f, T_AIR, NOW - DAY, 100);         /* 7: memory, kept */
    s_add(f, T_AIR, NOW - 20 * DAY, 100);    /* 8: memory, pruned */
    s_add(f, T_AIR, NOW, 100);               /* 9: memory, the head */
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, 0, 0), 9);
    assert_int_equal(rz_retention_pass(f->r, NOW), 5);
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, 0, 0), 4);
    /* 8's entry goes into the next run with 7 and 9; its event is gone */
    s_add(f, T_AIR, NOW, 100); /* 10: after run 2 = 7, 8, 9 */
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, 0, 0), 5);
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, NOW - 2 * DAY, 0),
                     4);
    s_expect_verify_ok(f, 5);
    rz_retention_destroy(&f->r);
    rz_store_close(&f->s);
    /* the runs kept 4, 5 of run 1 and all of run 2 */
    assert_int_equal(rzt_lmdb_entries(f->dir, "runs"), 3);
    assert_int_equal(rzt_lmdb_entries(f->dir, "subjruns"), 5);
    assert_int_equal(rz_store_open(&f->s, &o), 0);
    assert_int_equal(s_query_n(f, "station:PL0012A", NULL, 0, 0), 5);
}

static void test_retention_keeps_the_head(void **state)
{
    fx_t *f = *state;
    s_rules(f, "retention:\n  \"\": {max_age: 1d}\n");
    uint64_t a = s_add(f, T_AIR, NOW - 9 * DAY, 10);
    uint64_t b = s_add(f, T_AIR, NOW - 8 * DAY, 10);
    assert_int_equal(rz_retention_pass(f->r, NOW), 1);
    assert_false(s_present(f, a));
    assert_true(s_present(f, b)); /* the head: seq must not go back */
    assert_int_equal(rz_store_head(f->s), b);
    uint64_t c = s_add(f, T_AIR, NOW, 10);
    assert_int_equal(c, b + 1);
    assert_int_equal(rz_retention_pass(f->r, NOW), 1);
    assert_false(s_present(f, b));
    s_expect_verify_ok(f, 1);
}

static void test_retention_prunes_oldest_past_max_bytes(void **state)
{
    fx_t *f = *state;
    uint64_t seq[20];
    for (int i = 0; i < 20; i++)
        seq[i] = s_add(f, T_BUDGET, NOW - i, 1000); /* times not in order */
    s_rules(f, "retention:\n  \"\": {max_bytes: 10K}\n");
    int64_t got = rz_retention_pass(f->r, NOW);
    assert_true(got > 0);
    /* the oldest by seq went, and what is left fits */
    rz_retention_stat_t *all = NULL;
    const rz_retention_stat_t *st = s_stat(f, "", &all);
    assert_true(st->bytes <= 10 * 1024);
    assert_true(st->bytes > 10 * 1024 - 1200); /* no more than needed */
    assert_int_equal(st->removed_events, (uint64_t)got);
    assert_int_equal(st->oldest_seq, seq[got]);
    free(all);
    for (int i = 0; i < 20; i++)
        assert_int_equal(s_present(f, seq[i]), i >= got);
    s_expect_verify_ok(f, (uint64_t)(20 - got));
    /* new events push the oldest kept ones out */
    s_add(f, T_BUDGET, NOW, 1000);
    s_add(f, T_BUDGET, NOW, 1000);
    assert_int_equal(rz_retention_pass(f->r, NOW), 2);
    assert_false(s_present(f, seq[got + 1]));
}

static void test_retention_longest_prefix_wins(void **state)
{
    fx_t *f = *state;
    s_rules(f, "retention:\n  \"\": {max_age: 1d}\n"
               "  \"1261011.env.\": {max_age: 400d}\n");
    uint64_t air = s_add(f, T_AIR, NOW - 30 * DAY, 10);
    uint64_t bud = s_add(f, T_BUDGET, NOW - 30 * DAY, 10);
    uint64_t air2 = s_add(f, T_AIR, NOW - 500 * DAY, 10);
    s_add(f, T_BUDGET, NOW, 10); /* head */
    /* bud by the default rule; air2, stored after the younger air, found
     * by the walk's look-ahead */
    assert_int_equal(rz_retention_pass(f->r, NOW), 2);
    assert_true(s_present(f, air));
    assert_false(s_present(f, bud));
    assert_false(s_present(f, air2));
    assert_int_equal(rz_retention_pass(f->r, NOW + 371 * DAY), 1);
    assert_false(s_present(f, air));
    assert_false(s_present(f, air2));
    s_expect_verify_ok(f, 1);
}

static void test_retention_group_holds_until_the_hard_limit(void **state)
{
    fx_t *f = *state;
    uint64_t s1 = s_add(f, T_AIR, NOW - 10 * DAY, 10);
    uint64_t s2 = s_add(f, T_AIR, NOW - 9 * DAY, 10);
    uint64_t s3 = s_add(f, T_AIR, NOW - 3 * DAY, 10);
    s_add(f, T_AIR, NOW, 10);
    /* reads env, has done s1; another group reads budget only */
    assert_int_equal(
        rz_store_consumer_commit(f->s, "portal", s1, "1261011.env.", NOW), 0);
    assert_int_equal(
        rz_store_consumer_commit(f->s, "finance", 0, "1261011.budget.", NOW),
        0);
    s_rules(f, "retention:\n  \"1261011.\": {max_age: 1d}\n"
               "retention_hold_max: 5d\n");
    /* s1 is read: goes; s2 is past the hard limit: goes, lost; s3 held */
    assert_int_equal(rz_retention_pass(f->r, NOW), 2);
    assert_false(s_present(f, s1));
    assert_false(s_present(f, s2));
    assert_true(s_present(f, s3));
    rz_retention_stat_t *all = NULL;
    const rz_retention_stat_t *st = s_stat(f, "1261011.", &all);
    assert_int_equal(st->held, 1);
    assert_int_equal(st->oldest_seq, s3);
    free(all);
    Ratusz__V1__ConsumerGroup *g = NULL;
    assert_int_equal(rz_store_consumer_get(f->s, "portal", &g), 0);
    assert_int_equal(g->lost, 1);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);
    assert_int_equal(rz_store_consumer_get(f->s, "finance", &g), 0);
    assert_int_equal(g->lost, 0);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);
    assert_int_equal(rz_retention_lost_total(f->r), 1);

    /* once the group has read it, it goes */
    assert_int_equal(rz_store_consumer_commit(f->s, "portal", s3, NULL, NOW),
                     0);
    assert_int_equal(rz_retention_pass(f->r, NOW), 1);
    assert_false(s_present(f, s3));
    /* a reset starts the lost count again */
    assert_int_equal(
        rz_store_consumer_admin(f->s, "portal", RZ_CONSUMER_RESET, 0, NOW), 0);
    assert_int_equal(rz_store_consumer_get(f->s, "portal", &g), 0);
    assert_int_equal(g->lost, 0);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);
    s_expect_verify_ok(f, 1);
}

static void test_retention_dedup_window_keeps_ids(void **state)
{
    fx_t *f = *state;
    int dup = 0;
    s_rules(f, "retention:\n  \"\": {max_age: 1d}\ndedup_window: 2d\n");
    uint64_t a =
        s_add_id(f, T_AIR, "station:1", NOW - 5 * DAY, 10, "x-1", NULL);
    s_add(f, T_AIR, NOW, 10);
    assert_int_equal(rz_retention_pass(f->r, NOW), 1);
    assert_false(s_present(f, a));
    /* within the window: a republish is the removed event's duplicate */
    assert_int_equal(rz_store_id_seq(f->s, SRC, "x-1"), a);
    assert_int_equal(rz_store_get_id(f->s, SRC, "x-1", NULL, NULL),
                     RZ_ENOTFOUND);
    assert_int_equal(
        s_add_id(f, T_AIR, "station:1", NOW - 5 * DAY, 10, "x-1", &dup), a);
    assert_int_equal(dup, 1);
    /* a day later, still remembered; three days later, forgotten */
    assert_int_equal(rz_retention_pass(f->r, NOW + DAY), 0);
    assert_int_equal(rz_store_id_seq(f->s, SRC, "x-1"), a);
    assert_int_equal(rz_retention_pass(f->r, NOW + 3 * DAY), 0); /* head */
    assert_int_equal(rz_store_id_seq(f->s, SRC, "x-1"), 0);
    uint64_t again =
        s_add_id(f, T_AIR, "station:1", NOW + 3 * DAY, 10, "x-1", &dup);
    assert_int_equal(dup, 0);
    assert_true(again > a);
}

/* With the LMDB C API on a closed store: flip a byte of a value, or
 * delete the key, in an INTEGERKEY database. */
static void s_tamper(const char *dir, const char *db, uint64_t key, long flip)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {sizeof key, &key}, v;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, MDB_INTEGERKEY, &dbi), 0);
    if (flip < 0) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[flip] ^= 0xff;
        v.mv_data = copy;
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void s_reopen_expect_bad(fx_t *f, uint64_t bad, const char *says)
{
    rz_store_opts_t o = {f->dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_store_open(&f->s, &o), 0);
    assert_int_equal(rz_store_verify(f->s, 0, &r), 0);
    if (r.ok || r.first_bad != bad || !strstr(r.reason, says))
        print_error("want %llu \"%s\", got ok=%d %llu: %s\n",
                    (unsigned long long)bad, says, (int)r.ok,
                    (unsigned long long)r.first_bad, r.reason);
    assert_false(r.ok);
    assert_int_equal(r.first_bad, bad);
    assert_non_null(strstr(r.reason, says));
    free(r.reason);
    free(r.invalid_reason);
}

static void
test_retention_verify_still_finds_what_retention_did_not(void **state)
{
    fx_t *f = *state;
    /* one commit of 6 events: a link retention seals when it prunes 2 */
    rz_store_item_t it[6];
    uint8_t bufs[6][512];
    char ids[6][16];
    for (int i = 0; i < 6; i++) {
        Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
        snprintf(ids[i], sizeof ids[i], "b-%d", i);
        ev.id = ids[i];
        ev.source = (char *)SRC;
        ev.type = (char *)(i % 2 ? T_AIR : T_BUDGET);
        ev.tenant = (char *)"1261011";
        ev.subject = (char *)"station:1";
        ev.time = NOW - (i % 2 ? 30 : 0) * DAY;
        size_t len = ratusz__v1__event__pack(&ev, bufs[i]);
        static char topics[6][64];
        int tl = rz_event_topic(&ev, topics[i], sizeof topics[i]);
        it[i] = (rz_store_item_t){.bytes = bufs[i],
                                  .len = len,
                                  .source = SRC,
                                  .source_len = strlen(SRC),
                                  .id = ids[i],
                                  .id_len = strlen(ids[i]),
                                  .subject = "station:1",
                                  .subject_len = 9,
                                  .topic = topics[i],
                                  .topic_len = (size_t)tl,
                                  .time = ev.time};
    }
    assert_int_equal(rz_store_append(f->s, it, 6, NOW), 0);
    s_add(f, T_BUDGET, NOW, 10); /* 7, head */
    s_rules(f, "retention:\n  \"1261011.env.\": {max_age: 7d}\n");
    /* 2 and 4 go; 6 stays behind... no: 2, 4, 6 are all old env events */
    assert_int_equal(rz_retention_pass(f->r, NOW), 3);
    s_expect_verify_ok(f, 4);
    /* from inside the sealed link: the whole link is checked */
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_store_verify(f->s, 4, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.first, 1);
    assert_int_equal(r.last, 7);
    assert_int_equal(r.checked, 4);
    assert_int_equal(r.links, 2);
    assert_non_null(strstr(r.reason, "3 events were removed by retention"));
    free(r.reason);
    free(r.invalid_reason);
    rz_retention_destroy(&f->r);
    rz_store_close(&f->s);

    /* a kept event of the sealed link edited in the file */
    s_tamper(f->dir, "log", 3, 5);
    s_reopen_expect_bad(f, 3, "seq 3 is not the event that was chained");
    rz_store_close(&f->s);
    s_tamper(f->dir, "log", 3, 5); /* back */

    /* a kept event of the sealed link deleted: not retention's doing */
    s_tamper(f->dir, "log", 5, -1);
    s_reopen_expect_bad(f, 5, "seq 5 is missing from the log");
    rz_store_close(&f->s);

    /* the seal altered */
    s_tamper(f->dir, "chain", 1, 2 * 32 + 4 + 3);
    s_reopen_expect_bad(f, 1, "seal");
}

typedef struct old_env {
    uint64_t head;
    int old, young;
} old_env_t;

static int s_old_env(uint64_t seq, const char *topic, size_t tl, int64_t time,
                     size_t len, void *user)
{
    old_env_t *o = user;
    (void)topic;
    (void)tl;
    (void)len;
    if (time < NOW - DAY && seq != o->head)
        o->old++;
    else
        o->young++;
    return 0;
}

/* A process killed in the middle of appending and pruning leaves a store
 * whose indexes point only at events it has, whose chain verifies, and
 * whose next pass goes on. */
static void test_retention_survives_a_killed_pruner(void **state)
{
    fx_t *f = *state;
    char dir[400];
    const char *rules = "retention:\n  \"1261011.env.\": {max_age: 1d}\n"
                        "dedup_window: 1d\n";

    snprintf(dir, sizeof dir, "%s/killed", f->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rz_store_opts_t o = {dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
        rz_store_close(&f->s); /* the parent's: not used across fork */
        f->r = NULL;
        if (rz_store_open(&f->s, &o) != 0)
            _exit(1);
        s_rules(f, rules);
        for (int64_t i = 0;; i++) {
            for (int k = 0; k < 50; k++)
                s_add(f, k % 2 ? T_AIR : T_BUDGET, NOW - (k % 3) * DAY, 64);
            rz_retention_pass(f->r, NOW + i);
        }
    }
    usleep(500000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    rz_store_close(&f->s);
    rz_store_opts_t o = {dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
    assert_int_equal(rz_store_open(&f->s, &o), 0);
    uint64_t head = rz_store_head(f->s);
    assert_true(head > 0);
    /* every index entry has its event (a query would fail otherwise) */
    int by_subject = s_query_n(f, "station:PL0012A", NULL, 0, 0);
    int by_topic = s_query_n(f, NULL, "1261011.", 0, 0);
    int by_time = s_query_n(f, NULL, NULL, 0, 0);
    assert_int_equal(by_subject, by_topic);
    assert_int_equal(by_subject, by_time);
    rz_store_info_t info;
    assert_int_equal(rz_store_info(f->s, &info), 0);
    assert_int_equal(info.events, (uint64_t)by_time);
    s_expect_verify_ok(f, info.events);

    /* the next pass finishes the job: no env event older than a day is
     * left but the head */
    s_rules(f, rules);
    assert_true(rz_retention_pass(f->r, NOW) >= 0);
    rz_store_info_t after;
    assert_int_equal(rz_store_info(f->s, &after), 0);
    old_env_t old = {head, 0, 0};
    uint64_t from = 1, next = 0;
    for (;;) {
        int n = rz_store_scan_topics(f->s, from, "1261011.env.", 1000,
                                     s_old_env, &old, &next);
        assert_true(n >= 0);
        if (n == 0)
            break;
        from = next;
    }
    assert_int_equal(old.old, 0);
    assert_true(old.young > 0);
    s_expect_verify_ok(f, after.events);
    rz_store_close(&f->s);
    rz_store_opts_t back = {f->dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
    assert_int_equal(rz_store_open(&f->s, &back), 0);
}

static double s_secs(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* How long a pass holds LMDB's write lock per transaction (printed, not
 * asserted: the machine is shared). 20000 events of 300 bytes in commits
 * of 100, every other one due. */
static void test_retention_prune_rate(void **state)
{
    fx_t *f = *state;
    enum { N = 20000, COMMIT = 100 };
    static rz_store_item_t it[COMMIT];
    static uint8_t bufs[COMMIT][600];
    static char ids[COMMIT][32], topics[COMMIT][64];
    static uint8_t fill[300];
    memset(fill, 'x', sizeof fill);
    for (int c = 0; c < N / COMMIT; c++) {
        for (int i = 0; i < COMMIT; i++) {
            Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
            Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
            snprintf(ids[i], sizeof ids[i], "r-%d", c * COMMIT + i);
            ev.id = ids[i];
            ev.source = (char *)SRC;
            ev.type = (char *)(i % 2 ? T_AIR : T_BUDGET);
            ev.tenant = (char *)"1261011";
            ev.subject = (char *)"station:1";
            ev.time = NOW - (i % 2 ? 30 : 0) * DAY;
            raw.content_type = (char *)"text/csv";
            raw.bytes.len = sizeof fill;
            raw.bytes.data = fill;
            ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
            ev.raw = &raw;
            size_t len = ratusz__v1__event__pack(&ev, bufs[i]);
            int tl = rz_event_topic(&ev, topics[i], sizeof topics[i]);
            it[i] = (rz_store_item_t){.bytes = bufs[i],
                                      .len = len,
                                      .source = SRC,
                                      .source_len = strlen(SRC),
                                      .id = ids[i],
                                      .id_len = strlen(ids[i]),
                                      .subject = "station:1",
                                      .subject_len = 9,
                                      .topic = topics[i],
                                      .topic_len = (size_t)tl,
                                      .time = ev.time};
        }
        assert_int_equal(rz_store_append(f->s, it, COMMIT, NOW), 0);
    }
    s_rules(f, "retention:\n  \"1261011.env.\": {max_age: 7d}\n");
    double t0 = s_secs();
    int64_t n = rz_retention_pass(f->r, NOW);
    double dt = s_secs() - t0;
    assert_int_equal(n, N / 2 - 1); /* the head is an old env event: kept */
    print_message("retention: %lld events removed in %.3f s (%.0f/s, %.2f ms "
                  "per transaction of %d)\n",
                  (long long)n, dt, (double)n / dt,
                  dt * 1000 / ((double)n / RZ_RETENTION_TXN), RZ_RETENTION_TXN);
    s_expect_verify_ok(f, N / 2 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_rules_parse_longest_prefix_first),
        cmocka_unit_test(test_retention_rules_errors_name_key_and_line),
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_retention_prunes_by_age_with_indexes),
        T(test_retention_keeps_the_head),
        T(test_retention_prunes_oldest_past_max_bytes),
        T(test_retention_longest_prefix_wins),
        T(test_retention_group_holds_until_the_hard_limit),
        T(test_retention_dedup_window_keeps_ids),
        T(test_retention_verify_still_finds_what_retention_did_not),
        T(test_retention_prunes_subject_runs_and_memory),
        T(test_retention_survives_a_killed_pruner),
        T(test_retention_prune_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
