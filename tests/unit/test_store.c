/* test_store.c - the LMDB event log, on real LMDB files in a temp dir */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "store.h"

#define SRC "/1261011/budget/besti"
#define T_BUDGET "1261011.budget.execution.v1"
#define T_PLAN "1261011.budget.plan.v1"
#define T_AIR "1261011.env.air.v1"
#define T_OTHER "1262011.budget.execution.v1"
#define MAX_GOT 4096

typedef struct fx {
    char dir[256];
    rz_store_t *s;
    int next_id; /* for unique event ids */
} fx_t;

/* What a visitor saw, in order. */
typedef struct got {
    uint64_t seq[MAX_GOT];
    int64_t time[MAX_GOT];
    size_t n;
    size_t stop_at; /* the visitor stops after this many (0: never) */
} got_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static rz_store_t *s_open(const char *dir, size_t map, size_t max, int sync)
{
    rz_store_opts_t o = {dir, map, max, sync, 0};
    rz_store_t *s = NULL;
    assert_int_equal(rz_store_open(&s, &o), 0);
    assert_non_null(s);
    return s;
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->dir, sizeof f->dir) != 0)
        return -1;
    rz_store_opts_t o = {f->dir, 1 << 20, 64 << 20, RZ_SYNC_OS, 0};
    if (rz_store_open(&f->s, &o) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_store_close(&f->s);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

/* Encode a real event (raw CSV payload of `payload` bytes) into buf and
 * point it at an item. The item borrows the strings. */
static void s_item(rz_store_item_t *it, uint8_t *buf, size_t cap,
                   const char *source, const char *id, const char *subject,
                   const char *topic, int64_t time, size_t payload)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    static uint8_t fill[8192];

    assert_true(payload <= sizeof fill);
    for (size_t i = 0; i < payload; i++)
        fill[i] = (uint8_t)('a' + i % 26);
    ev.id = (char *)id;
    ev.source = (char *)source;
    ev.type = (char *)"pl.gov.gmina.budget.execution.v1";
    ev.subject = (char *)subject;
    ev.tenant = (char *)"1261011";
    ev.time = time;
    raw.content_type = (char *)"text/csv";
    raw.bytes.len = payload;
    raw.bytes.data = fill;
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    size_t len = ratusz__v1__event__get_packed_size(&ev);
    assert_true(len <= cap);
    ratusz__v1__event__pack(&ev, buf);

    memset(it, 0, sizeof *it);
    it->bytes = buf;
    it->len = len;
    it->source = source;
    it->source_len = strlen(source);
    it->id = id;
    it->id_len = strlen(id);
    it->subject = subject;
    it->subject_len = strlen(subject);
    it->topic = topic;
    it->topic_len = strlen(topic);
    it->principal = "system:besti";
    it->principal_len = strlen(it->principal);
    it->time = time;
}

/* Append one new event with a fresh id; returns its seq. */
static uint64_t s_add(fx_t *f, const char *subject, const char *topic,
                      int64_t time)
{
    uint8_t buf[1024];
    char id[32];
    rz_store_item_t it;

    snprintf(id, sizeof id, "ev-%d", ++f->next_id);
    s_item(&it, buf, sizeof buf, SRC, id, subject, topic, time, 16);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1000), 0);
    assert_int_equal(it.code, 0);
    assert_int_equal(it.duplicate, 0);
    assert_true(it.seq > 0);
    return it.seq;
}

static int s_collect(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    got_t *g = user;
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, len, ev);

    assert_non_null(e);
    assert_int_equal(e->seq, seq);
    assert_true(g->n < MAX_GOT);
    g->seq[g->n] = seq;
    g->time[g->n] = e->time;
    g->n++;
    ratusz__v1__event__free_unpacked(e, NULL);
    return g->stop_at && g->n == g->stop_at;
}

static got_t *s_got(void)
{
    got_t *g = calloc(1, sizeof *g);
    assert_non_null(g);
    return g;
}

/* Run q page by page until the cursor runs out; returns the page count.
 * Every page but the last must be full. */
static size_t s_query_pages(rz_store_t *s, rz_store_query_t q, got_t *g)
{
    uint8_t after[RZ_CURSOR_MAX], next[RZ_CURSOR_MAX];
    size_t next_len = 0, pages = 0;

    q.after = after;
    q.after_len = 0;
    do {
        size_t before = g->n;
        int rc = rz_store_query(s, &q, s_collect, g, next, &next_len);
        assert_true(rc >= 0);
        assert_int_equal((size_t)rc, g->n - before);
        assert_true(next_len <= RZ_CURSOR_MAX);
        if (next_len)
            assert_int_equal(rc, q.limit);
        memcpy(after, next, next_len);
        q.after_len = next_len;
        pages++;
        assert_true(pages < 10000);
    } while (q.after_len);
    return pages;
}

static void s_assert_no_dupes(const got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = i + 1; j < g->n; j++)
            assert_true(g->seq[i] != g->seq[j]);
}

static uint32_t s_rand(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 16;
}

/* ------------------------------------------------------------------------
 * Open, close, options
 */

static void test_store_open_creates_missing_dirs(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_info_t info;

    snprintf(dir, sizeof dir, "%s/a/b/c", f->dir);
    rz_store_t *s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_FULL);
    assert_int_equal(rz_store_head(s), 0);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_int_equal(info.head_seq, 0);
    assert_int_equal(info.events, 0);
    assert_true(info.map_bytes >= (1 << 20));
    assert_int_equal(info.map_max, 4 << 20);
    assert_true(info.used_bytes > 0);
    assert_true(info.used_bytes <= info.map_bytes);
    rz_store_close(&s);
    assert_null(s);
    rz_store_close(&s); /* twice is fine */
    rz_store_close(NULL);
}

static void s_write_file(const char *dir, const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* What a power cut while a store was being made leaves: a half-made
 * data.mdb.new and its lock file, or (from versions that made data.mdb in
 * place) an empty data.mdb. */
static void test_store_open_replaces_a_half_made_environment(void **state)
{
    fx_t *f = *state;
    char dir[400], path[500];
    struct stat st;

    snprintf(dir, sizeof dir, "%s/new", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    s_write_file(dir, "data.mdb.new", "torn");
    s_write_file(dir, "data.mdb.new-lock", "torn");
    s_write_file(dir, "data.mdb", "");
    rz_store_t *s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_FULL);
    assert_int_equal(rz_store_head(s), 0);
    rz_store_close(&s);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
    snprintf(path, sizeof path, "%s/data.mdb.new", dir);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/data.mdb.new-lock", dir);
    assert_int_not_equal(stat(path, &st), 0);
}

/* Put (val non-NULL) or delete meta key in the environment in dir, with
 * LMDB itself, as an older or a newer ratuszd would have left it. */
static void s_meta_raw(const char *dir, const char *key, const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {strlen(key), (void *)key};
    if (val) {
        MDB_val v = {strlen(val), (void *)val};
        assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    } else {
        assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_store_format_is_stamped_on_a_store_without_one(void **state)
{
    fx_t *f = *state;
    char dir[400], copy[500];
    rz_store_summary_t sum;
    struct stat st;

    snprintf(dir, sizeof dir, "%s/fmt-old", f->dir);
    rz_store_t *s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_summary(s, &sum), 0);
    assert_int_equal(sum.format, RZ_STORE_FORMAT);
    rz_store_close(&s);
    /* what every store made before the format was kept looks like: it is
     * format 1, and migrated from there (a copy kept first) */
    s_meta_raw(dir, "format", NULL);
    s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_summary(s, &sum), 0);
    assert_int_equal(sum.format, RZ_STORE_FORMAT);
    rz_store_close(&s);
    snprintf(copy, sizeof copy, "%s/data.mdb.format-1", dir);
    assert_int_equal(stat(copy, &st), 0);
}

static void test_store_refuses_a_newer_format(void **state)
{
    fx_t *f = *state;
    char dir[400];
    char newer[16];

    snprintf(dir, sizeof dir, "%s/fmt-new", f->dir);
    rz_store_t *s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_OS);
    rz_store_close(&s);
    snprintf(newer, sizeof newer, "%d", RZ_STORE_FORMAT + 1);
    s_meta_raw(dir, "format", newer);
    rz_store_opts_t o = {dir, 1 << 20, 4 << 20, RZ_SYNC_OS, 0};
    assert_int_equal(rz_store_open(&s, &o), RZ_ECONFIG);
    assert_null(s);
    /* not a number: a damaged store, not a newer one */
    s_meta_raw(dir, "format", "x");
    assert_int_equal(rz_store_open(&s, &o), RZ_ESTORE);
    /* the current one opens again */
    snprintf(newer, sizeof newer, "%d", RZ_STORE_FORMAT);
    s_meta_raw(dir, "format", newer);
    s = s_open(dir, 1 << 20, 4 << 20, RZ_SYNC_OS);
    rz_store_close(&s);
}

static void test_store_open_rejects_bad_options(void **state)
{
    fx_t *f = *state;
    char file[400];
    rz_store_t *s = (rz_store_t *)1;
    rz_store_opts_t o = {f->dir, 1 << 20, 1 << 19, RZ_SYNC_FULL, 0};

    assert_int_equal(rz_store_open(&s, &o), RZ_EINVAL); /* max < size */
    assert_null(s);
    o.map_max = 1 << 20;
    o.sync = 7;
    assert_int_equal(rz_store_open(&s, &o), RZ_EINVAL);
    o.sync = RZ_SYNC_FULL;
    o.map_size = 0;
    assert_int_equal(rz_store_open(&s, &o), RZ_EINVAL);
    o.map_size = 1 << 20;
    o.dir = NULL;
    assert_int_equal(rz_store_open(&s, &o), RZ_EINVAL);
    assert_int_equal(rz_store_open(&s, NULL), RZ_EINVAL);

    snprintf(file, sizeof file, "%s/plain-file", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    o.dir = file;
    assert_int_equal(rz_store_open(&s, &o), -ENOTDIR);
    assert_null(s);
}

static void test_store_durability_follows_sync_mode(void **state)
{
    fx_t *f = *state;
    char dir[400];

    /* the fixture store runs with RZ_SYNC_OS */
    assert_int_equal(rz_store_durability(f->s), RZ_DURABILITY_WRITTEN);
    snprintf(dir, sizeof dir, "%s/full", f->dir);
    rz_store_t *s = s_open(dir, 1 << 20, 1 << 20, RZ_SYNC_FULL);
    assert_int_equal(rz_store_durability(s), RZ_DURABILITY_SYNCED);
    rz_store_close(&s);
}

/* ------------------------------------------------------------------------
 * Append
 */

static void test_store_append_assigns_gap_free_seq(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[7][512];
    rz_store_item_t it[7];
    char ids[7][32];
    rz_store_info_t info;

    assert_int_equal(s_add(f, "parcel:1", T_BUDGET, 10), 1);
    assert_int_equal(s_add(f, "parcel:1", T_BUDGET, 5), 2);

    for (int i = 0; i < 7; i++) {
        snprintf(ids[i], sizeof ids[i], "batch-%d", i);
        s_item(&it[i], bufs[i], sizeof bufs[i], SRC, ids[i], "",
               i % 2 ? T_AIR : T_BUDGET, 100 - i, 8);
    }
    /* an item the store cannot key is refused on its own and takes no
     * seq: the others stay gap-free */
    it[3].topic_len = 0;
    assert_int_equal(rz_store_append(f->s, it, 7, 2000), 0);
    uint64_t want = 3;
    for (int i = 0; i < 7; i++) {
        if (i == 3) {
            assert_int_equal(it[i].code, RZ_EINVALEVENT);
            assert_int_equal(it[i].seq, 0);
            assert_null(it[i].stored);
            continue;
        }
        assert_int_equal(it[i].code, 0);
        assert_int_equal(it[i].seq, want++);
    }
    assert_int_equal(s_add(f, "", T_PLAN, 0), 9);
    assert_int_equal(rz_store_head(f->s), 9);
    assert_int_equal(rz_store_info(f->s, &info), 0);
    assert_int_equal(info.events, 9);
    assert_int_equal(info.head_seq, 9);

    /* an empty append is a no-op */
    assert_int_equal(rz_store_append(f->s, NULL, 0, 1), 0);
    assert_int_equal(rz_store_head(f->s), 9);
}

static void test_store_put_duplicate_id_returns_original_seq(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[5][512];
    rz_store_item_t it[5];
    got_t *g = s_got();

    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "a", "s:1", T_BUDGET, 1, 8);
    assert_int_equal(rz_store_append(f->s, it, 1, 1), 0);
    assert_int_equal(it[0].seq, 1);
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "b", "s:1", T_BUDGET, 2, 8);
    assert_int_equal(rz_store_append(f->s, it, 1, 1), 0);
    assert_int_equal(it[0].seq, 2);

    /* in one batch: new c, a from an earlier transaction, c again from
     * this one, the same id under another source, new d; the repeats
     * carry the same bytes */
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "c", "s:1", T_BUDGET, 3, 8);
    s_item(&it[1], bufs[1], sizeof bufs[1], SRC, "a", "s:1", T_BUDGET, 1, 8);
    s_item(&it[2], bufs[2], sizeof bufs[2], SRC, "c", "s:1", T_BUDGET, 3, 8);
    s_item(&it[3], bufs[3], sizeof bufs[3], "/other", "a", "s:1", T_BUDGET, 4,
           8);
    s_item(&it[4], bufs[4], sizeof bufs[4], SRC, "d", "s:1", T_BUDGET, 5, 8);
    assert_int_equal(rz_store_append(f->s, it, 5, 1), 0);
    const uint64_t seq[5] = {3, 1, 3, 4, 5};
    const int dup[5] = {0, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(it[i].code, 0);
        assert_int_equal(it[i].seq, seq[i]);
        assert_int_equal(it[i].duplicate, dup[i]);
        if (dup[i]) {
            assert_null(it[i].stored);
            assert_int_equal(it[i].stored_len, 0);
        } else {
            assert_non_null(it[i].stored);
        }
    }
    assert_int_equal(rz_store_head(f->s), 5);

    /* duplicates stored nothing: not in the log, not in any index */
    rz_store_query_t q = {.subject = "s:1", .limit = 100};
    s_query_pages(f->s, q, g);
    assert_int_equal(g->n, 5);
    assert_int_equal(g->time[0], 1); /* a keeps its first time */
    g->n = 0;
    rz_store_query_t qt = {.topic_prefix = T_AIR, .limit = 100};
    s_query_pages(f->s, qt, g);
    assert_int_equal(g->n, 0);
    free(g);
}

static void test_store_stored_bytes_decode_with_broker_fields(void **state)
{
    fx_t *f = *state;
    uint8_t buf[1024];
    rz_store_item_t it;
    const int64_t ingest = 1700000000123456;

    s_item(&it, buf, sizeof buf, SRC, "e-1", "parcel:221101_1.0001.161/8",
           T_BUDGET, 1690000000000000, 100);
    assert_int_equal(rz_store_append(f->s, &it, 1, ingest), 0);
    assert_int_equal(it.seq, 1);
    assert_non_null(it.stored);
    assert_true(it.stored_len > it.len);
    /* producer bytes first, untouched */
    assert_memory_equal(it.stored, buf, it.len);

    Ratusz__V1__Event *e =
        ratusz__v1__event__unpack(NULL, it.stored_len, it.stored);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    assert_int_equal(e->ingest_time, ingest);
    assert_string_equal(e->principal, "system:besti");
    assert_string_equal(e->id, "e-1");
    assert_string_equal(e->source, SRC);
    assert_string_equal(e->type, "pl.gov.gmina.budget.execution.v1");
    assert_string_equal(e->subject, "parcel:221101_1.0001.161/8");
    assert_string_equal(e->tenant, "1261011");
    assert_int_equal(e->time, 1690000000000000);
    assert_int_equal(e->data_case, RATUSZ__V1__EVENT__DATA_RAW);
    assert_string_equal(e->raw->content_type, "text/csv");
    assert_int_equal(e->raw->bytes.len, 100);
    assert_int_equal(e->raw->bytes.data[99], 'a' + 99 % 26);
    ratusz__v1__event__free_unpacked(e, NULL);

    /* get and a visitor see it the same way */
    got_t *g = s_got();
    assert_int_equal(rz_store_get(f->s, 1, NULL, NULL), 1);
    assert_int_equal(rz_store_get(f->s, 1, s_collect, g), 1);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->time[0], 1690000000000000);
    free(g);
}

static int s_same_bytes(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    const uint8_t **want = user;
    (void)seq;
    assert_int_equal(len, (size_t)(want[1] - want[0]));
    assert_memory_equal(ev, want[0], len);
    return 0;
}

static void test_store_get_returns_the_stored_bytes(void **state)
{
    fx_t *f = *state;
    uint8_t buf[1024], copy[2048];
    rz_store_item_t it;

    s_item(&it, buf, sizeof buf, SRC, "g-1", "x", T_BUDGET, 7, 300);
    assert_int_equal(rz_store_append(f->s, &it, 1, 5), 0);
    memcpy(copy, it.stored, it.stored_len);
    const uint8_t *want[2] = {copy, copy + it.stored_len};
    assert_int_equal(rz_store_get(f->s, it.seq, s_same_bytes, want), 1);
    assert_int_equal(rz_store_get_id(f->s, SRC, "g-1", s_same_bytes, want), 1);
}

static void test_store_stamp_overrides_producer_broker_fields(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    uint8_t buf[512];
    rz_store_item_t it;

    /* a producer that fills in the broker's fields itself */
    ev.id = (char *)"forged";
    ev.source = (char *)SRC;
    ev.type = (char *)"pl.gov.gmina.budget.execution.v1";
    ev.tenant = (char *)"1261011";
    ev.time = 42;
    ev.seq = 999;
    ev.ingest_time = 5;
    ev.principal = (char *)"admin";
    size_t len = ratusz__v1__event__pack(&ev, buf);

    memset(&it, 0, sizeof it);
    it.bytes = buf;
    it.len = len;
    it.source = SRC;
    it.source_len = strlen(SRC);
    it.id = "forged";
    it.id_len = 6;
    it.topic = T_BUDGET;
    it.topic_len = strlen(T_BUDGET);
    it.time = 42;
    /* zero ingest time and empty principal: proto3 would leave both out,
     * yet they must still overwrite the producer's */
    assert_int_equal(rz_store_append(f->s, &it, 1, 0), 0);
    Ratusz__V1__Event *e =
        ratusz__v1__event__unpack(NULL, it.stored_len, it.stored);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    assert_int_equal(e->ingest_time, 0);
    assert_string_equal(e->principal, "");
    assert_int_equal(e->time, 42);
    ratusz__v1__event__free_unpacked(e, NULL);

    it.id = "forged2";
    it.id_len = 7;
    it.principal = "system:x";
    it.principal_len = 8;
    assert_int_equal(rz_store_append(f->s, &it, 1, 77), 0);
    e = ratusz__v1__event__unpack(NULL, it.stored_len, it.stored);
    assert_non_null(e);
    assert_int_equal(e->seq, 2);
    assert_int_equal(e->ingest_time, 77);
    assert_string_equal(e->principal, "system:x");
    ratusz__v1__event__free_unpacked(e, NULL);
}

static void test_store_append_reports_prev_topic_seq(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[4][512];
    rz_store_item_t it[4];

    s_add(f, "", T_BUDGET, 1); /* 1 */
    s_add(f, "", T_AIR, 1);    /* 2 */
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "p0", "", T_BUDGET, 1, 4);
    s_item(&it[1], bufs[1], sizeof bufs[1], SRC, "p1", "", T_PLAN, 1, 4);
    s_item(&it[2], bufs[2], sizeof bufs[2], SRC, "p2", "", T_BUDGET, 1, 4);
    s_item(&it[3], bufs[3], sizeof bufs[3], SRC, "p0", "", T_BUDGET, 1, 4);
    assert_int_equal(rz_store_append(f->s, it, 4, 1), 0);
    assert_int_equal(it[0].seq, 3);
    assert_int_equal(it[0].prev_topic_seq, 1);
    assert_int_equal(it[1].seq, 4);
    assert_int_equal(it[1].prev_topic_seq, 0);
    assert_int_equal(it[2].seq, 5);
    assert_int_equal(it[2].prev_topic_seq, 3); /* earlier in this batch */
    assert_int_equal(it[3].duplicate, 1);
    assert_int_equal(it[3].seq, 3);
    assert_int_equal(it[3].prev_topic_seq, 0); /* new events only */
}

static void test_store_append_refuses_items_that_cannot_be_keyed(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[4][512];
    rz_store_item_t it[4];
    char big[700];

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "k0", "s", T_BUDGET, 1, 4);
    s_item(&it[1], bufs[1], sizeof bufs[1], SRC, "k1", "s", T_BUDGET, 1, 4);
    it[1].subject = big; /* longer than an LMDB key */
    it[1].subject_len = strlen(big);
    s_item(&it[2], bufs[2], sizeof bufs[2], SRC, "k2", "s", T_BUDGET, 1, 4);
    it[2].id = big;
    it[2].id_len = strlen(big);
    s_item(&it[3], bufs[3], sizeof bufs[3], SRC, "k3", "s", T_BUDGET, 1, 4);
    assert_int_equal(rz_store_append(f->s, it, 4, 1), 0);
    assert_int_equal(it[0].code, 0);
    assert_int_equal(it[0].seq, 1);
    assert_int_equal(it[1].code, RZ_EINVALEVENT);
    assert_int_equal(it[2].code, RZ_EINVALEVENT);
    assert_int_equal(it[3].code, 0);
    assert_int_equal(it[3].seq, 2);

    /* a batch of nothing storable commits nothing and returns 0 */
    assert_int_equal(rz_store_append(f->s, &it[1], 1, 1), 0);
    assert_int_equal(it[1].code, RZ_EINVALEVENT);
    assert_int_equal(rz_store_head(f->s), 2);
}

/* ------------------------------------------------------------------------
 * Get
 */

static void test_store_get_by_seq_and_id(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();

    s_add(f, "a", T_BUDGET, 1);
    s_add(f, "b", T_BUDGET, 2);
    assert_int_equal(rz_store_get(f->s, 2, s_collect, g), 1);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->seq[0], 2);
    assert_int_equal(g->time[0], 2);
    assert_int_equal(rz_store_get(f->s, 3, s_collect, g), RZ_ENOTFOUND);
    assert_int_equal(rz_store_get(f->s, 0, s_collect, g), RZ_ENOTFOUND);
    assert_int_equal(g->n, 1);

    assert_int_equal(rz_store_get_id(f->s, SRC, "ev-1", s_collect, g), 1);
    assert_int_equal(g->n, 2);
    assert_int_equal(g->seq[1], 1);
    assert_int_equal(rz_store_get_id(f->s, SRC, "ev-3", s_collect, g),
                     RZ_ENOTFOUND);
    assert_int_equal(rz_store_get_id(f->s, "/elsewhere", "ev-1", s_collect, g),
                     RZ_ENOTFOUND);
    /* the separator keeps source "ab" + id "c" apart from "a" + "bc" */
    assert_int_equal(
        rz_store_get_id(f->s, "/1261011/budget/best", "iev-1", s_collect, g),
        RZ_ENOTFOUND);
    assert_int_equal(g->n, 2);
    free(g);
}

/* ------------------------------------------------------------------------
 * Query
 */

static void test_store_query_subject_orders_by_time_across_topics(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 99;

    s_add(f, "parcel:1", T_BUDGET, 300); /* 1 */
    s_add(f, "parcel:1", T_AIR, 100);    /* 2 */
    s_add(f, "parcel:2", T_BUDGET, 50);  /* 3: another subject */
    s_add(f, "parcel:1", T_PLAN, 200);   /* 4 */
    s_add(f, "parcel:1", T_OTHER, 100);  /* 5: same time as 2 */
    s_add(f, "parcel:1", T_BUDGET, -50); /* 6: before 1970 */
    s_add(f, "parcel:10", T_BUDGET, 1);  /* 7: a longer key, not a dup */

    rz_store_query_t q = {.subject = "parcel:1", .limit = 100};
    int rc = rz_store_query(f->s, &q, s_collect, g, next, &next_len);
    assert_int_equal(rc, 5);
    assert_int_equal(next_len, 0);
    const uint64_t want[] = {6, 2, 5, 4, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(g->seq[i], want[i]);

    g->n = 0;
    q.subject = "parcel:nobody";
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     0);
    assert_int_equal(next_len, 0);
    free(g);
}

/* ------------------------------------------------------------------------
 * The subject index: sorted runs, and what came after them in memory
 */

#define SR_SUBJECTS 5
#define SR_MAX 1500

/* What the subject index must answer: every event, by subject. */
typedef struct sr_model {
    uint64_t seq[SR_MAX];
    int64_t time[SR_MAX];
    int subj[SR_MAX];
    size_t n;
} sr_model_t;

static const char *sr_subject(int i)
{
    static const char *names[SR_SUBJECTS] = {"parcel:1", "parcel:10",
                                             "parcel:1a", "p", "parcel:2"};
    return names[i];
}

static rz_store_t *sr_open(const char *dir, size_t map, size_t max, size_t run)
{
    rz_store_opts_t o = {dir, map, max, RZ_SYNC_OS, run};
    rz_store_t *s = NULL;
    assert_int_equal(rz_store_open(&s, &o), 0);
    return s;
}

/* Append n events (one call) with random subjects and times that mostly
 * rise; returns the rz_store_append code. What was stored goes into m. */
static int sr_append(rz_store_t *s, sr_model_t *m, int *next_id, size_t n,
                     uint32_t *rnd)
{
    static uint8_t bufs[32][512];
    static char ids[32][32];
    rz_store_item_t it[32];
    int subj[32];
    assert_true(n <= 32 && m->n + n <= SR_MAX);
    for (size_t i = 0; i < n; i++) {
        subj[i] = (int)(s_rand(rnd) % SR_SUBJECTS);
        /* a tenth of them back in time; some share a time */
        int64_t t =
            1700000000000000 + (int64_t)(m->n + i) * 1000 -
            (s_rand(rnd) % 10 == 0 ? (int64_t)(s_rand(rnd) % 50) * 1000 : 0);
        snprintf(ids[i], sizeof ids[i], "sr-%d", ++*next_id);
        s_item(&it[i], bufs[i], sizeof bufs[i], SRC, ids[i],
               sr_subject(subj[i]), T_BUDGET, t, 300);
    }
    int rc = rz_store_append(s, it, n, 1000);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        assert_int_equal(it[i].code, 0);
        m->seq[m->n] = it[i].seq;
        m->time[m->n] = it[i].time;
        m->subj[m->n] = subj[i];
        m->n++;
    }
    return rc;
}

/* A subject's whole timeline, page by page (pages of 7), against m. */
static void sr_check(rz_store_t *s, const sr_model_t *m, int subj,
                     int64_t since, int64_t until)
{
    got_t *g = s_got();
    rz_store_query_t q = {
        sr_subject(subj), NULL, since, until, 7, NULL, 0, NULL};
    s_query_pages(s, q, g);
    /* the expected entries in (time, seq) order */
    size_t n = 0;
    uint64_t want_seq[SR_MAX];
    int64_t want_time[SR_MAX];
    for (size_t i = 0; i < m->n; i++) {
        if (m->subj[i] != subj || (since && m->time[i] < since) ||
            (until && m->time[i] >= until))
            continue;
        size_t j = n++;
        while (j > 0 && (want_time[j - 1] > m->time[i] ||
                         (want_time[j - 1] == m->time[i] &&
                          want_seq[j - 1] > m->seq[i]))) {
            want_time[j] = want_time[j - 1];
            want_seq[j] = want_seq[j - 1];
            j--;
        }
        want_time[j] = m->time[i];
        want_seq[j] = m->seq[i];
    }
    if (g->n != n)
        print_error("subject %s: %zu events, want %zu\n", sr_subject(subj),
                    g->n, n);
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->seq[i], want_seq[i]);
        assert_int_equal(g->time[i], want_time[i]);
    }
    free(g);
}

static void sr_check_all(rz_store_t *s, const sr_model_t *m)
{
    for (int j = 0; j < SR_SUBJECTS; j++)
        sr_check(s, m, j, 0, 0);
}

static void test_store_subject_runs_answer_like_one_index(void **state)
{
    fx_t *f = *state;
    char dir[400];
    uint32_t rnd = 7;
    int next_id = 0;
    sr_model_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    snprintf(dir, sizeof dir, "%s/runs", f->dir);
    /* a map that must grow many times: the transactions that write a run
     * are run again after each growth */
    rz_store_t *s = sr_open(dir, 1 << 16, 64 << 20, 8);
    while (m->n < 600) {
        assert_int_equal(sr_append(s, m, &next_id, 1 + s_rand(&rnd) % 20, &rnd),
                         0);
        sr_check(s, m, (int)(s_rand(&rnd) % SR_SUBJECTS), 0, 0);
    }
    sr_check_all(s, m);
    /* time bounds cut across runs and memory alike; a run is read only
     * when its times reach into the bounds: each event's own time as
     * since finds that event, whatever the run it is in */
    sr_check(s, m, 0, m->time[100], m->time[400]);
    sr_check(s, m, 3, m->time[250], 0);
    for (size_t i = 0; i < m->n; i++)
        if (m->subj[i] == 1) {
            sr_check(s, m, 1, m->time[i], 0);
            sr_check(s, m, 1, 0, m->time[i] + 1);
        }
    rz_store_close(&s);
    /* a run is written before an append once 8 wait in memory, and an
     * append brings up to 20: runs of 8 to 27, less than 28 left over */
    size_t runs = rzt_lmdb_entries(dir, "runs");
    assert_true(runs >= 600 / 28 && runs <= 600 / 8);
    size_t in_runs = rzt_lmdb_entries(dir, "subjruns");
    assert_true(in_runs > 600 - 28 && in_runs <= 600);

    /* the part in memory is read again from the log; another run size */
    s = sr_open(dir, 1 << 20, 64 << 20, 8);
    sr_check_all(s, m);
    rz_store_close(&s);
    s = sr_open(dir, 1 << 20, 64 << 20, 1000);
    sr_check_all(s, m);
    while (m->n < 800)
        assert_int_equal(sr_append(s, m, &next_id, 10, &rnd), 0);
    sr_check_all(s, m);
    rz_store_close(&s);
    rzt_rmtree(dir);
    free(m);
}

static void test_store_subject_runs_forget_a_failed_append(void **state)
{
    fx_t *f = *state;
    char dir[400];
    uint32_t rnd = 11;
    int next_id = 0, full = 0, after_full = 0;
    sr_model_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    snprintf(dir, sizeof dir, "%s/full", f->dir);
    rz_store_t *s = sr_open(dir, 1 << 16, 1 << 19, 64);
    /* Batches of 32 until one no longer fits the map: it fails part way,
     * after some of its events went into the index in memory. Single
     * events may still fit, and take the seqs it did not get: the index
     * must have forgotten what the failed batch put there. */
    while (full < 3 && m->n < SR_MAX - 64) {
        int rc = sr_append(s, m, &next_id, 32, &rnd);
        assert_true(rc == 0 || rc == RZ_ESTOREFULL);
        if (rc == 0)
            continue;
        full++;
        while (sr_append(s, m, &next_id, 1, &rnd) == 0)
            after_full++;
        sr_check_all(s, m);
    }
    assert_int_equal(full, 3);
    assert_true(after_full > 0);
    sr_check_all(s, m);
    rz_store_close(&s);
    /* more room: the index goes on from what was stored */
    s = sr_open(dir, 1 << 20, 64 << 20, 4);
    sr_check_all(s, m);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sr_append(s, m, &next_id, 5, &rnd), 0);
    sr_check_all(s, m);
    rz_store_close(&s);
    rzt_rmtree(dir);
    free(m);
}

static void test_store_migrates_a_format_1_subject_index(void **state)
{
    fx_t *f = *state;
    char dir[400], copy[500];
    uint32_t rnd = 5;
    int next_id = 0;
    struct stat st;
    sr_model_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    snprintf(dir, sizeof dir, "%s/fmt1", f->dir);
    rz_store_t *s = sr_open(dir, 1 << 20, 64 << 20, 0);
    while (m->n < 300)
        assert_int_equal(sr_append(s, m, &next_id, 10, &rnd), 0);
    rz_store_close(&s);

    /* what format 1 kept: every entry in a "subjects" DUPSORT database,
     * and no runs */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi old, dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "subjects",
                                  MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                                  &old),
                     0);
    for (size_t i = 0; i < m->n; i++) {
        uint8_t ent[16];
        uint64_t t = (uint64_t)m->time[i] ^ UINT64_C(0x8000000000000000);
        for (int b = 0; b < 8; b++) {
            ent[b] = (uint8_t)(t >> (56 - 8 * b));
            ent[8 + b] = (uint8_t)(m->seq[i] >> (56 - 8 * b));
        }
        const char *subj = sr_subject(m->subj[i]);
        MDB_val k = {strlen(subj), (void *)subj}, v = {16, ent};
        assert_int_equal(mdb_put(txn, old, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_dbi_open(txn, "runs", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "subjruns", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    s_meta_raw(dir, "format", "1");

    s = sr_open(dir, 1 << 20, 64 << 20, 0);
    sr_check_all(s, m);
    rz_store_summary_t sum;
    assert_int_equal(rz_store_summary(s, &sum), 0);
    assert_int_equal(sum.format, RZ_STORE_FORMAT);
    while (m->n < 400)
        assert_int_equal(sr_append(s, m, &next_id, 10, &rnd), 0);
    sr_check_all(s, m);
    rz_store_close(&s);
    /* run 0 holds every entry; the old database is gone, a copy kept */
    assert_int_equal(rzt_lmdb_entries(dir, "runs"), 1);
    assert_int_equal(rzt_lmdb_entries(dir, "subjruns"), 300);
    assert_int_equal(rzt_lmdb_entries(dir, "subjects"), 0);
    snprintf(copy, sizeof copy, "%s/data.mdb.format-1", dir);
    assert_int_equal(stat(copy, &st), 0);
    rzt_rmtree(dir);
    free(m);
}

static void test_store_query_all_orders_by_time(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();

    s_add(f, "a", T_BUDGET, 30); /* 1 */
    s_add(f, "", T_AIR, 10);     /* 2: no subject, still in time order */
    s_add(f, "b", T_PLAN, 20);   /* 3 */
    s_add(f, "c", T_BUDGET, 10); /* 4 */
    s_add(f, "a", T_BUDGET, -5); /* 5 */

    rz_store_query_t q = {.limit = 2};
    assert_int_equal(s_query_pages(f->s, q, g), 3);
    assert_int_equal(g->n, 5);
    const uint64_t want[] = {5, 2, 4, 3, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(g->seq[i], want[i]);
    free(g);
}

static void test_store_query_pages_with_cursor(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint32_t r = 7;
    size_t subj = 0, budget = 0;

    for (int i = 0; i < 200; i++) {
        const char *topic = i % 3 == 0 ? T_BUDGET : i % 3 == 1 ? T_PLAN : T_AIR;
        const char *subject = i % 4 ? "station:PL0012A" : "station:other";
        s_add(f, subject, topic, (int64_t)(s_rand(&r) % 20) - 5); /* ties */
        subj += i % 4 != 0;
        budget += i % 3 != 2;
    }

    for (uint32_t limit = 1; limit <= 13; limit += 6) {
        /* subject: (time, seq) order, every event once */
        g->n = 0;
        rz_store_query_t q = {.subject = "station:PL0012A", .limit = limit};
        size_t pages = s_query_pages(f->s, q, g);
        assert_int_equal(g->n, subj);
        /* a page that ends exactly at the last event has no cursor */
        assert_int_equal(pages, (subj + limit - 1) / limit);
        s_assert_no_dupes(g);
        for (size_t i = 1; i < g->n; i++)
            assert_true(
                g->time[i - 1] < g->time[i] ||
                (g->time[i - 1] == g->time[i] && g->seq[i - 1] < g->seq[i]));

        /* topic prefix: seq order across two topics */
        g->n = 0;
        rz_store_query_t qt = {.topic_prefix = "1261011.budget.",
                               .limit = limit};
        s_query_pages(f->s, qt, g);
        assert_int_equal(g->n, budget);
        for (size_t i = 1; i < g->n; i++)
            assert_true(g->seq[i - 1] < g->seq[i]);

        /* everything: (time, seq) order */
        g->n = 0;
        rz_store_query_t qa = {.limit = limit};
        s_query_pages(f->s, qa, g);
        assert_int_equal(g->n, 200);
        s_assert_no_dupes(g);
        for (size_t i = 1; i < g->n; i++)
            assert_true(
                g->time[i - 1] < g->time[i] ||
                (g->time[i - 1] == g->time[i] && g->seq[i - 1] < g->seq[i]));
    }
    free(g);
}

static void test_store_query_cursor_survives_new_events(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len;

    for (int i = 0; i < 6; i++)
        s_add(f, "s", T_BUDGET, i * 10);
    rz_store_query_t q = {.subject = "s", .limit = 3};
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     3);
    assert_true(next_len > 0);
    /* one lands before the cursor (not repeated), one after (seen) */
    s_add(f, "s", T_BUDGET, 5);
    s_add(f, "s", T_BUDGET, 45);
    q.after = next;
    q.after_len = next_len;
    uint8_t next2[RZ_CURSOR_MAX];
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next2, &next_len),
                     3);
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next2, &next_len),
                     3); /* the same cursor again gives the same page */
    assert_int_equal(g->seq[3], 4);
    assert_int_equal(g->seq[4], 5);
    assert_int_equal(g->time[5], 45);
    assert_int_equal(g->seq[6], 4);
    free(g);
}

static void test_store_query_exact_page_has_no_cursor(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 99;

    for (int i = 0; i < 4; i++)
        s_add(f, "s", T_BUDGET, i);
    rz_store_query_t q = {.subject = "s", .limit = 4};
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     4);
    assert_int_equal(next_len, 0);
    q.subject = NULL;
    q.topic_prefix = T_BUDGET;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     4);
    assert_int_equal(next_len, 0);
    q.topic_prefix = NULL;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     4);
    assert_int_equal(next_len, 0);
    /* the bound counts too: the fifth is past until */
    s_add(f, "s", T_BUDGET, 100);
    q.subject = "s";
    q.until = 100;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     4);
    assert_int_equal(next_len, 0);
    free(g);
}

static void test_store_query_visitor_stop_returns_cursor(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len;

    for (int i = 0; i < 5; i++)
        s_add(f, "s", T_BUDGET, i);
    g->stop_at = 2;
    rz_store_query_t q = {.subject = "s", .limit = 10};
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     2);
    assert_true(next_len > 0);
    g->stop_at = 0;
    q.after = next;
    q.after_len = next_len;
    uint8_t next2[RZ_CURSOR_MAX];
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next2, &next_len),
                     3);
    assert_int_equal(next_len, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(g->seq[i], i + 1);
    free(g);
}

static void test_store_query_rejects_foreign_cursor(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t cur[RZ_CURSOR_MAX], next[RZ_CURSOR_MAX], bad[RZ_CURSOR_MAX + 8];
    size_t cur_len, next_len;

    for (int i = 0; i < 4; i++)
        s_add(f, "s", T_BUDGET, i);
    rz_store_query_t q = {.subject = "s", .limit = 1};
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, cur, &cur_len), 1);
    assert_true(cur_len > 0 && cur_len <= RZ_CURSOR_MAX);

    /* not ours at all */
    q.after = (const uint8_t *)"hello";
    q.after_len = 5;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    memset(bad, 0xff, sizeof bad);
    q.after = bad;
    q.after_len = sizeof bad;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    /* truncated, or one bit flipped */
    q.after = cur;
    q.after_len = cur_len - 1;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    memcpy(bad, cur, cur_len);
    bad[2] ^= 1;
    q.after = bad;
    q.after_len = cur_len;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    /* ours, but from another query */
    q.after = cur;
    q.after_len = cur_len;
    q.subject = "t";
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    q.subject = NULL;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    q.topic_prefix = "s";
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    q.topic_prefix = NULL;
    q.subject = "s";
    q.since = 1;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     RZ_EBADCURSOR);
    /* and the real one still works */
    q.since = 0;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     1);
    assert_int_equal(g->n, 2);

    /* bad requests */
    rz_store_query_t both = {.subject = "s", .topic_prefix = "1", .limit = 1};
    assert_int_equal(rz_store_query(f->s, &both, s_collect, g, next, &next_len),
                     RZ_EINVAL);
    rz_store_query_t zero = {.subject = "s"};
    assert_int_equal(rz_store_query(f->s, &zero, s_collect, g, next, &next_len),
                     RZ_EINVAL);
    free(g);
}

static void test_store_query_topic_prefix_merges_in_seq_order(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    const char *topics[] = {T_BUDGET, T_PLAN, T_AIR, T_OTHER};
    char topic_of[64][64];
    uint32_t r = 3;

    for (int i = 1; i <= 60; i++) {
        const char *t = topics[s_rand(&r) % 4];
        /* times run backwards: the merge must not follow them */
        assert_int_equal(s_add(f, "", t, 1000 - i), (uint64_t)i);
        snprintf(topic_of[i], sizeof topic_of[i], "%s", t);
    }

    struct {
        const char *prefix;
        size_t limit;
    } cases[] = {{"1261011.budget.", 100},
                 {"1261011.", 7},
                 {T_AIR, 4},
                 {"1262011", 1},
                 {"1", 11},
                 {"1261011.budget.plan.v1", 60}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        g->n = 0;
        rz_store_query_t q = {.topic_prefix = cases[c].prefix,
                              .limit = (uint32_t)cases[c].limit};
        s_query_pages(f->s, q, g);
        size_t k = 0, plen = strlen(cases[c].prefix);
        for (int i = 1; i <= 60; i++) {
            if (strncmp(topic_of[i], cases[c].prefix, plen) != 0)
                continue;
            assert_true(k < g->n);
            assert_int_equal(g->seq[k], i);
            k++;
        }
        assert_int_equal(k, g->n);
    }

    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 9;
    g->n = 0;
    rz_store_query_t none = {.topic_prefix = "9", .limit = 5};
    assert_int_equal(rz_store_query(f->s, &none, s_collect, g, next, &next_len),
                     0);
    assert_int_equal(next_len, 0);
    /* a prefix past every topic key */
    none.topic_prefix = "zzz";
    assert_int_equal(rz_store_query(f->s, &none, s_collect, g, next, &next_len),
                     0);
    free(g);
}

static void test_store_query_time_range(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len;
    const int64_t times[] = {30, -10, 10, 50, 20, 40, 20};

    for (int i = 0; i < 7; i++)
        s_add(f, "s", i % 2 ? T_BUDGET : T_PLAN, times[i]); /* seq i+1 */
    s_add(f, "other", T_AIR, 25);                           /* 8 */

    /* since inclusive, until exclusive */
    rz_store_query_t q = {
        .subject = "s", .since = 20, .until = 40, .limit = 100};
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     3);
    assert_int_equal(g->seq[0], 5); /* 20 */
    assert_int_equal(g->seq[1], 7); /* 20 */
    assert_int_equal(g->seq[2], 1); /* 30 */

    /* since 0 is open: negative times are in */
    g->n = 0;
    q.since = 0;
    q.until = 20;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     2);
    assert_int_equal(g->time[0], -10);
    assert_int_equal(g->time[1], 10);

    /* until 0 is open */
    g->n = 0;
    q.since = 40;
    q.until = 0;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     2);

    /* every event */
    g->n = 0;
    rz_store_query_t qa = {.since = 20, .until = 31, .limit = 100};
    assert_int_equal(rz_store_query(f->s, &qa, s_collect, g, next, &next_len),
                     4);
    assert_int_equal(g->seq[2], 8); /* 25, the other subject */

    /* topic prefix: seq order, filtered by the event's own time */
    g->n = 0;
    rz_store_query_t qt = {.topic_prefix = "1261011.budget.",
                           .since = 10,
                           .until = 41,
                           .limit = 2};
    s_query_pages(f->s, qt, g);
    assert_int_equal(g->n, 5);
    const uint64_t want[] = {1, 3, 5, 6, 7};
    for (int i = 0; i < 5; i++)
        assert_int_equal(g->seq[i], want[i]);

    /* an empty range */
    g->n = 0;
    q.since = 30;
    q.until = 30;
    assert_int_equal(rz_store_query(f->s, &q, s_collect, g, next, &next_len),
                     0);
    assert_int_equal(next_len, 0);
    free(g);
}

/* A time-bounded topic query reads each candidate, so one page stops after
 * a budget of them: the page may come back empty, but its cursor goes on
 * from where it stopped. */
static void
test_store_query_topic_time_range_pages_past_long_misses(void **state)
{
    fx_t *f = *state;
    static uint8_t bufs[500][128];
    static rz_store_item_t it[500];
    static char ids[500][16];
    uint8_t after[RZ_CURSOR_MAX], next[RZ_CURSOR_MAX];
    size_t next_len;
    got_t *g = s_got();
    int n = 0;

    for (int b = 0; b < 140; b++) { /* 70000 events outside the range */
        for (int i = 0; i < 500; i++) {
            snprintf(ids[i], sizeof ids[i], "m%d", n++);
            s_item(&it[i], bufs[i], sizeof bufs[i], SRC, ids[i], "", T_BUDGET,
                   1, 0);
        }
        assert_int_equal(rz_store_append(f->s, it, 500, 1), 0);
    }
    uint64_t hit = s_add(f, "", T_BUDGET, 100);

    rz_store_query_t q = {.topic_prefix = T_BUDGET, .since = 50, .limit = 10};
    int pages = 0, rc;
    do {
        rc = rz_store_query(f->s, &q, s_collect, g, next, &next_len);
        assert_true(rc >= 0);
        memcpy(after, next, next_len);
        q.after = after;
        q.after_len = next_len;
        pages++;
    } while (next_len && pages < 10);
    assert_int_equal(pages, 2);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->seq[0], hit);
    free(g);
}

/* ------------------------------------------------------------------------
 * Scan
 */

static void test_store_scan_from_middle(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint64_t next = 0;

    for (int i = 0; i < 20; i++)
        s_add(f, "", i % 2 ? T_BUDGET : T_AIR, i);

    assert_int_equal(rz_store_scan(f->s, 8, 0, NULL, 5, s_collect, g, &next),
                     5);
    assert_int_equal(next, 13);
    for (int i = 0; i < 5; i++)
        assert_int_equal(g->seq[i], 8 + i);
    assert_int_equal(rz_store_scan(f->s, next, 0, "", 100, s_collect, g, &next),
                     8);
    assert_int_equal(next, 21); /* exhausted: head + 1 */
    assert_int_equal(g->n, 13);
    assert_int_equal(g->seq[12], 20);
    assert_int_equal(
        rz_store_scan(f->s, next, 0, NULL, 100, s_collect, g, &next), 0);
    assert_int_equal(next, 21);

    /* from 0 is from the start; until stops before it */
    g->n = 0;
    assert_int_equal(rz_store_scan(f->s, 0, 4, NULL, 100, s_collect, g, &next),
                     3);
    assert_int_equal(next, 4);
    assert_int_equal(g->seq[0], 1);

    /* max reached exactly at the end of the range */
    g->n = 0;
    assert_int_equal(rz_store_scan(f->s, 18, 0, NULL, 3, s_collect, g, &next),
                     3);
    assert_int_equal(next, 21);

    /* from past the head: nothing, and next never goes back */
    assert_int_equal(rz_store_scan(f->s, 30, 0, NULL, 100, s_collect, g, &next),
                     0);
    assert_int_equal(next, 30);
    /* until past the head: next stops at head + 1 */
    assert_int_equal(
        rz_store_scan(f->s, 19, 1000, NULL, 100, s_collect, g, &next), 2);
    assert_int_equal(next, 21);

    /* the visitor stops: next is one past the last it saw */
    g->n = 0;
    g->stop_at = 2;
    assert_int_equal(rz_store_scan(f->s, 5, 0, NULL, 100, s_collect, g, &next),
                     2);
    assert_int_equal(next, 7);
    free(g);
}

static void test_store_scan_prefix(void **state)
{
    fx_t *f = *state;
    got_t *g = s_got();
    uint64_t next = 0;
    uint64_t env[20];
    size_t n_env = 0;

    for (int i = 1; i <= 30; i++) {
        const char *t = i % 3 == 0 ? T_AIR : i % 3 == 1 ? T_BUDGET : T_OTHER;
        s_add(f, "", t, 0);
        if (i % 3 == 0)
            env[n_env++] = (uint64_t)i;
    }
    s_add(f, "", T_BUDGET, 0); /* 31: not env, the head */

    /* chunks of 3 from the start, as REPLAY does */
    uint64_t from = 1;
    int chunks = 0;
    do {
        int rc = rz_store_scan(f->s, from, 0, "1261011.env.", 3, s_collect, g,
                               &next);
        assert_true(rc >= 0 && rc <= 3);
        assert_true(next > from || rc == 0);
        if (rc == 0)
            break;
        from = next;
        chunks++;
    } while (chunks < 100);
    assert_int_equal(g->n, n_env);
    for (size_t i = 0; i < n_env; i++)
        assert_int_equal(g->seq[i], env[i]);
    assert_int_equal(next, 32); /* skipped the tail up to the head */

    /* bounded: [4, 16) */
    g->n = 0;
    assert_int_equal(
        rz_store_scan(f->s, 4, 16, "1261011.env.", 100, s_collect, g, &next),
        4);
    assert_int_equal(g->seq[0], 6);
    assert_int_equal(g->seq[3], 15);
    assert_int_equal(next, 16);

    /* a prefix of two topics merges them in seq order */
    g->n = 0;
    assert_int_equal(
        rz_store_scan(f->s, 1, 0, "126", 1000, s_collect, g, &next), 31);
    for (size_t i = 0; i < g->n; i++)
        assert_int_equal(g->seq[i], i + 1);

    /* no topic matches */
    assert_int_equal(rz_store_scan(f->s, 1, 0, "7777", 10, s_collect, g, &next),
                     0);
    assert_int_equal(next, 32);
    free(g);
}

/* ------------------------------------------------------------------------
 * Restart
 */

struct heads {
    char topic[8][64];
    uint64_t seq[8];
    int n;
};

static void s_head_cb(const char *topic, size_t len, uint64_t seq, void *user)
{
    struct heads *h = user;
    assert_true(h->n < 8 && len < 64);
    memcpy(h->topic[h->n], topic, len);
    h->topic[h->n][len] = 0;
    h->seq[h->n] = seq;
    h->n++;
}

static void test_store_reopen_keeps_head_and_topic_heads(void **state)
{
    fx_t *f = *state;
    struct heads h = {0};
    uint8_t buf[512];
    rz_store_item_t it;

    s_add(f, "a", T_BUDGET, 1); /* 1 */
    s_add(f, "a", T_AIR, 2);    /* 2 */
    s_add(f, "b", T_BUDGET, 3); /* 3 */
    s_add(f, "c", T_PLAN, 4);   /* 4 */
    s_add(f, "c", T_AIR, 5);    /* 5 */
    assert_int_equal(rz_store_consumer_commit(f->s, "g", 3, "1261011.", 9), 0);
    rz_store_close(&f->s);

    f->s = s_open(f->dir, 1 << 20, 64 << 20, RZ_SYNC_FULL);
    assert_int_equal(rz_store_head(f->s), 5);
    assert_int_equal(rz_store_topic_heads(f->s, s_head_cb, &h), 0);
    assert_int_equal(h.n, 3); /* in key order */
    assert_string_equal(h.topic[0], T_BUDGET);
    assert_int_equal(h.seq[0], 3);
    assert_string_equal(h.topic[1], T_PLAN);
    assert_int_equal(h.seq[1], 4);
    assert_string_equal(h.topic[2], T_AIR);
    assert_int_equal(h.seq[2], 5);

    /* seq, prev_topic_seq and dedup carry on */
    s_item(&it, buf, sizeof buf, SRC, "ev-1", "a", T_BUDGET, 1, 16);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1), 0);
    assert_int_equal(it.duplicate, 1);
    assert_int_equal(it.seq, 1);
    s_item(&it, buf, sizeof buf, SRC, "new", "a", T_BUDGET, 1, 4);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1), 0);
    assert_int_equal(it.seq, 6);
    assert_int_equal(it.prev_topic_seq, 3);

    Ratusz__V1__ConsumerGroup *cg = NULL;
    assert_int_equal(rz_store_consumer_get(f->s, "g", &cg), 0);
    assert_int_equal(cg->committed_seq, 3);
    assert_int_equal(cg->lag, 3);
    ratusz__v1__consumer_group__free_unpacked(cg, NULL);

    /* an empty store has no topic heads */
    char dir[400];
    struct heads none = {0};
    snprintf(dir, sizeof dir, "%s/empty", f->dir);
    rz_store_t *e = s_open(dir, 1 << 20, 1 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_topic_heads(e, s_head_cb, &none), 0);
    assert_int_equal(none.n, 0);
    rz_store_close(&e);
}

/* ------------------------------------------------------------------------
 * Consumer groups
 */

static void test_store_consumer_commit_only_moves_forward(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__ConsumerGroup *g = NULL;
    Ratusz__V1__ConsumerList *l = NULL;

    for (int i = 0; i < 10; i++)
        s_add(f, "", T_BUDGET, i);
    assert_int_equal(rz_store_consumer_get(f->s, "gis-sync", &g), RZ_ENOTFOUND);
    assert_null(g);
    assert_int_equal(rz_store_consumer_list(f->s, &l), 0);
    assert_int_equal(l->n_groups, 0);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);

    assert_int_equal(
        rz_store_consumer_commit(f->s, "gis-sync", 5, "1261011.gis.", 100), 0);
    assert_int_equal(rz_store_consumer_get(f->s, "gis-sync", &g), 0);
    assert_string_equal(g->name, "gis-sync");
    assert_int_equal(g->committed_seq, 5);
    assert_string_equal(g->topic_prefix, "1261011.gis.");
    assert_int_equal(g->updated, 100);
    assert_int_equal(g->lag, 5);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);

    /* backwards is ignored; the prefix, once set, stays */
    assert_int_equal(rz_store_consumer_commit(f->s, "gis-sync", 3, "x", 200),
                     0);
    assert_int_equal(rz_store_consumer_get(f->s, "gis-sync", &g), 0);
    assert_int_equal(g->committed_seq, 5);
    assert_int_equal(g->updated, 100);
    assert_string_equal(g->topic_prefix, "1261011.gis.");
    ratusz__v1__consumer_group__free_unpacked(g, NULL);

    assert_int_equal(rz_store_consumer_commit(f->s, "gis-sync", 8, NULL, 300),
                     0);
    assert_int_equal(rz_store_consumer_get(f->s, "gis-sync", &g), 0);
    assert_int_equal(g->committed_seq, 8);
    assert_int_equal(g->updated, 300);
    assert_int_equal(g->lag, 2);
    assert_string_equal(g->topic_prefix, "1261011.gis.");
    ratusz__v1__consumer_group__free_unpacked(g, NULL);

    /* a group made without a prefix gets one later */
    assert_int_equal(rz_store_consumer_commit(f->s, "audit", 0, NULL, 1), 0);
    assert_int_equal(rz_store_consumer_commit(f->s, "audit", 0, "1261011.", 2),
                     0);
    assert_int_equal(rz_store_consumer_get(f->s, "audit", &g), 0);
    assert_string_equal(g->topic_prefix, "1261011.");
    assert_int_equal(g->committed_seq, 0);
    assert_int_equal(g->lag, 10);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);

    assert_int_equal(rz_store_consumer_list(f->s, &l), 0);
    assert_int_equal(l->n_groups, 2);
    assert_string_equal(l->groups[0]->name, "audit");
    assert_int_equal(l->groups[0]->lag, 10);
    assert_string_equal(l->groups[1]->name, "gis-sync");
    assert_int_equal(l->groups[1]->committed_seq, 8);
    assert_int_equal(l->groups[1]->lag, 2);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);

    assert_int_equal(rz_store_consumer_commit(f->s, "", 1, NULL, 1), RZ_EINVAL);
}

/* ------------------------------------------------------------------------
 * Map size
 */

/* The id-th event of a fill: everything about it follows from id. */
static void s_fill_item(rz_store_item_t *it, uint8_t *buf, size_t cap, char *id,
                        size_t id_cap, int n, size_t payload)
{
    snprintf(id, id_cap, "fill-%d", n);
    s_item(it, buf, cap, SRC, id, n % 2 ? "parcel:1" : "parcel:2",
           n % 2 ? T_BUDGET : T_AIR, n, payload);
}

/* Append events first_id.. of `payload` bytes, `batch` per append, up to
 * n; returns how many were stored before the first failure, and that
 * failure in *err. */
static int s_fill(rz_store_t *s, int first_id, int n, size_t payload, int batch,
                  int *err)
{
    static uint8_t bufs[4][8192];
    rz_store_item_t it[4];
    char ids[4][32];
    int stored = 0;

    assert_true(batch >= 1 && batch <= 4);
    *err = 0;
    for (int i = 0; i < n; i += batch) {
        int k = n - i < batch ? n - i : batch;
        for (int j = 0; j < k; j++)
            s_fill_item(&it[j], bufs[j], sizeof bufs[j], ids[j], sizeof ids[j],
                        first_id + i + j, payload);
        int rc = rz_store_append(s, it, (size_t)k, 1);
        if (rc) {
            for (int j = 0; j < k; j++) {
                assert_int_equal(it[j].code, rc);
                assert_int_equal(it[j].seq, 0);
                assert_null(it[j].stored);
            }
            *err = rc;
            return stored;
        }
        for (int j = 0; j < k; j++)
            assert_int_equal(it[j].seq, (uint64_t)(first_id + i + j));
        stored += k;
    }
    return stored;
}

static void test_store_map_grows_when_full(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_info_t info;
    got_t *g = s_got();
    uint64_t next;
    int err;

    snprintf(dir, sizeof dir, "%s/grow", f->dir);
    rz_store_t *s = s_open(dir, 64 << 10, 8 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_int_equal(info.map_bytes, 64 << 10);

    assert_int_equal(s_fill(s, 1, 300, 1000, 4, &err), 300);
    assert_int_equal(err, 0);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_true(info.used_bytes > (64 << 10));
    assert_true(info.map_bytes > (64 << 10));
    assert_true(info.map_bytes <= (8 << 20));
    assert_true(info.used_bytes <= info.map_bytes);
    assert_int_equal(info.events, 300);
    assert_int_equal(rz_store_scan(s, 1, 0, NULL, 1000, s_collect, g, &next),
                     300);
    assert_int_equal(next, 301);
    uint64_t grown = info.map_bytes;
    rz_store_close(&s);

    /* the map it grew to is kept, though the options say 64 KiB */
    s = s_open(dir, 64 << 10, 8 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_int_equal(info.map_bytes, grown);
    assert_int_equal(info.head_seq, 300);
    rz_store_close(&s);

    /* and a larger configured map wins over a smaller stored one */
    s = s_open(dir, 16 << 20, 32 << 20, RZ_SYNC_OS);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_int_equal(info.map_bytes, 16 << 20);
    rz_store_close(&s);
    free(g);
}

static void test_store_full_rejects_and_reads_still_work(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_info_t info;
    got_t *g = s_got();
    uint8_t buf[2048], next[RZ_CURSOR_MAX];
    size_t next_len;
    rz_store_item_t it;
    int err;

    snprintf(dir, sizeof dir, "%s/full", f->dir);
    rz_store_t *s = s_open(dir, 128 << 10, 128 << 10, RZ_SYNC_FULL);
    int stored = s_fill(s, 1, 2000, 1000, 4, &err);
    assert_int_equal(err, RZ_ESTOREFULL);
    /* then one at a time, until not even one fits */
    stored += s_fill(s, stored + 1, 2000, 1000, 1, &err);
    assert_int_equal(err, RZ_ESTOREFULL);
    /* 32 pages: each named database (eight, with the hash chain) takes
     * a page or two of them, copied on write */
    assert_true(stored > 5);
    /* the failed append left nothing behind */
    assert_int_equal(rz_store_head(s), (uint64_t)stored);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_int_equal(info.events, (uint64_t)stored);
    assert_int_equal(info.map_bytes, 128 << 10);

    /* the event that did not fit is refused again */
    char late[32];
    s_fill_item(&it, buf, sizeof buf, late, sizeof late, stored + 1, 1000);
    assert_int_equal(rz_store_append(s, &it, 1, 1), RZ_ESTOREFULL);
    assert_int_equal(it.code, RZ_ESTOREFULL);
    assert_int_equal(it.seq, 0);

    /* a retry of a stored event still gets its seq: it writes nothing */
    s_item(&it, buf, sizeof buf, SRC, "fill-1", "parcel:1", T_BUDGET, 1, 1000);
    assert_int_equal(rz_store_append(s, &it, 1, 1), 0);
    assert_int_equal(it.duplicate, 1);
    assert_int_equal(it.seq, 1);

    /* reads work */
    assert_int_equal(rz_store_get(s, 1, s_collect, g), 1);
    assert_int_equal(rz_store_get(s, (uint64_t)stored, s_collect, g), 1);
    assert_int_equal(rz_store_get_id(s, SRC, "fill-2", s_collect, g), 1);
    rz_store_query_t q = {.subject = "parcel:1", .limit = 3};
    assert_int_equal(rz_store_query(s, &q, s_collect, g, next, &next_len), 3);
    rz_store_close(&s);

    /* after a restart everything acked is there, and it is still full */
    s = s_open(dir, 128 << 10, 128 << 10, RZ_SYNC_FULL);
    assert_int_equal(rz_store_head(s), (uint64_t)stored);
    g->n = 0;
    uint64_t nx;
    assert_int_equal(rz_store_scan(s, 1, 0, NULL, 100000, s_collect, g, &nx),
                     stored);
    for (size_t i = 0; i < g->n; i++)
        assert_int_equal(g->seq[i], i + 1);
    s_fill_item(&it, buf, sizeof buf, late, sizeof late, stored + 1, 1000);
    assert_int_equal(rz_store_append(s, &it, 1, 1), RZ_ESTOREFULL);
    rz_store_close(&s);

    /* given room, it takes events again, gap-free */
    s = s_open(dir, 128 << 10, 1 << 20, RZ_SYNC_FULL);
    assert_int_equal(rz_store_append(s, &it, 1, 1), 0);
    assert_int_equal(it.seq, (uint64_t)stored + 1);
    rz_store_close(&s);
    free(g);
}

/* Readers on another thread while the writer grows the map under them:
 * every event they see must decode and carry its own seq. */
struct reader {
    rz_store_t *s;
    atomic_int done;
    atomic_int bad;
    atomic_long seen;
};

static int s_check(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    struct reader *r = user;
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, len, ev);
    if (!e || e->seq != seq)
        atomic_fetch_add(&r->bad, 1);
    if (e)
        ratusz__v1__event__free_unpacked(e, NULL);
    atomic_fetch_add(&r->seen, 1);
    return 0;
}

static void *s_reader(void *arg)
{
    struct reader *r = arg;
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len;
    uint64_t nx;

    while (!atomic_load(&r->done)) {
        uint64_t head = rz_store_head(r->s);
        if (rz_store_scan(r->s, head > 50 ? head - 50 : 1, 0, NULL, 100,
                          s_check, r, &nx) < 0)
            atomic_fetch_add(&r->bad, 1);
        rz_store_query_t q = {.topic_prefix = "1261011.", .limit = 20};
        if (rz_store_query(r->s, &q, s_check, r, next, &next_len) < 0)
            atomic_fetch_add(&r->bad, 1);
        rz_store_query_t qs = {.subject = "parcel:1", .limit = 20};
        if (rz_store_query(r->s, &qs, s_check, r, next, &next_len) < 0)
            atomic_fetch_add(&r->bad, 1);
    }
    return NULL;
}

static void test_store_readers_run_while_the_map_grows(void **state)
{
    fx_t *f = *state;
    char dir[400];
    pthread_t th[2];
    rz_store_info_t info;
    int err;

    snprintf(dir, sizeof dir, "%s/threads", f->dir);
    struct reader r = {.s = s_open(dir, 64 << 10, 64 << 20, RZ_SYNC_OS)};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_reader, &r), 0);
    assert_int_equal(s_fill(r.s, 1, 1200, 2000, 4, &err), 1200);
    assert_int_equal(err, 0);
    atomic_store(&r.done, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.seen) > 0);
    assert_int_equal(rz_store_info(r.s, &info), 0);
    assert_true(info.map_bytes >= (2 << 20)); /* grew several times */
    rz_store_close(&r.s);
}

/* Another process (say, a second ratuszd started by mistake, or a tool)
 * grows the map: this one sees MDB_MAP_RESIZED and adopts the new size. */
static void test_store_adopts_a_map_grown_by_another_process(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_info_t info;
    uint8_t buf[2048];
    rz_store_item_t it;
    int status = -1, err;

    /* the store may not grow past 64 KiB itself: only by adopting the map
     * another process grew (and filled past 64 KiB) can it take 300 events
     * of 1000 bytes. That process is not a store (the data dir lock keeps
     * a second one out) but LMDB itself, as a repair tool would be. */
    snprintf(dir, sizeof dir, "%s/shared", f->dir);
    rz_store_t *s = s_open(dir, 64 << 10, 64 << 10, RZ_SYNC_OS);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_dbi dbi;
        static char big[2000];
        char key[16];
        MDB_val k = {0, key}, v = {sizeof big, big};
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
            mdb_env_set_mapsize(env, 8 << 20) ||
            mdb_env_open(env, dir, MDB_NOTLS, 0640) ||
            mdb_txn_begin(env, NULL, 0, &txn) ||
            mdb_dbi_open(txn, "test", MDB_CREATE, &dbi))
            _exit(2);
        for (int i = 0; i < 100; i++) {
            k.mv_size = (size_t)snprintf(key, sizeof key, "k%d", i);
            if (mdb_put(txn, dbi, &k, &v, 0))
                _exit(3);
        }
        if (mdb_txn_commit(txn))
            _exit(4);
        mdb_env_close(env);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(s_fill(s, 1, 300, 1000, 4, &err), 300);
    assert_int_equal(err, 0);
    assert_int_equal(rz_store_head(s), 300);
    assert_int_equal(rz_store_info(s, &info), 0);
    assert_true(info.map_bytes > (64 << 10));
    got_t *g = s_got();
    assert_int_equal(rz_store_get(s, 300, s_collect, g), 1);
    s_fill_item(&it, buf, sizeof buf, (char[32]){0}, 32, 301, 1000);
    assert_int_equal(rz_store_append(s, &it, 1, 1), 0);
    assert_int_equal(it.seq, 301);
    rz_store_close(&s);
    free(g);
}

/* ------------------------------------------------------------------------
 * Dedup by content, the data dir lock, the append rate
 */

static void test_store_republish_with_other_content_is_a_conflict(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[2][512];
    rz_store_item_t it[2];

    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "a", "s:1", T_BUDGET, 1, 8);
    assert_int_equal(rz_store_append(f->s, it, 1, 1), 0);
    assert_int_equal(it[0].seq, 1);
    s_add(f, "s:2", T_AIR, 2); /* 2 */

    /* the same bytes again: a duplicate */
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "a", "s:1", T_BUDGET, 1, 8);
    assert_int_equal(rz_store_append(f->s, it, 1, 1), 0);
    assert_int_equal(it[0].code, 0);
    assert_int_equal(it[0].duplicate, 1);
    assert_int_equal(it[0].seq, 1);

    /* other bytes under the same source and id: a conflict that names the
     * original seq and stores nothing */
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "a", "s:1", T_BUDGET, 1, 9);
    s_item(&it[1], bufs[1], sizeof bufs[1], SRC, "a", "s:1", T_BUDGET, 7, 8);
    assert_int_equal(rz_store_append(f->s, it, 2, 1), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(it[i].code, RZ_ECONFLICT);
        assert_int_equal(it[i].duplicate, 0);
        assert_int_equal(it[i].seq, 1);
        assert_null(it[i].stored);
    }
    assert_int_equal(rz_store_head(f->s), 2);
    got_t *g = s_got();
    assert_int_equal(rz_store_get_id(f->s, SRC, "a", s_collect, g), 1);
    assert_int_equal(g->seq[0], 1);
    assert_int_equal(g->time[0], 1); /* the first content stays */
    free(g);
}

static void test_store_conflict_within_one_batch(void **state)
{
    fx_t *f = *state;
    uint8_t bufs[4][512];
    rz_store_item_t it[4];

    /* new x, x with other bytes, x with the first bytes, new y */
    s_item(&it[0], bufs[0], sizeof bufs[0], SRC, "x", "s:1", T_BUDGET, 1, 8);
    s_item(&it[1], bufs[1], sizeof bufs[1], SRC, "x", "s:1", T_BUDGET, 2, 8);
    s_item(&it[2], bufs[2], sizeof bufs[2], SRC, "x", "s:1", T_BUDGET, 1, 8);
    s_item(&it[3], bufs[3], sizeof bufs[3], SRC, "y", "s:1", T_BUDGET, 3, 8);
    assert_int_equal(rz_store_append(f->s, it, 4, 1), 0);
    const int code[4] = {0, RZ_ECONFLICT, 0, 0};
    const int dup[4] = {0, 0, 1, 0};
    const uint64_t seq[4] = {1, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(it[i].code, code[i]);
        assert_int_equal(it[i].duplicate, dup[i]);
        assert_int_equal(it[i].seq, seq[i]);
    }
    assert_int_equal(rz_store_head(f->s), 2);
}

/* Overwrite the ids value of source+id with an 8-byte seq, as a version
 * without content digests wrote it. The store must be closed. */
static void s_write_old_id(const char *dir, const char *source, const char *id,
                           uint64_t seq)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint8_t key[256], val[8];
    size_t sl = strlen(source), il = strlen(id);

    assert_true(sl + 1 + il <= sizeof key);
    memcpy(key, source, sl);
    key[sl] = 0;
    memcpy(key + sl + 1, id, il);
    for (int i = 0; i < 8; i++)
        val[i] = (uint8_t)(seq >> (56 - 8 * i));
    MDB_val k = {sl + 1 + il, key}, v = {sizeof val, val};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "ids", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_store_old_id_without_digest_is_a_duplicate(void **state)
{
    fx_t *f = *state;
    uint8_t buf[512];
    rz_store_item_t it;

    s_item(&it, buf, sizeof buf, SRC, "old", "s:1", T_BUDGET, 1, 8);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1), 0);
    assert_int_equal(it.seq, 1);
    rz_store_close(&f->s);
    s_write_old_id(f->dir, SRC, "old", 1);
    f->s = s_open(f->dir, 1 << 20, 64 << 20, RZ_SYNC_OS);

    /* content unknown: a republish is a duplicate, whatever its bytes */
    s_item(&it, buf, sizeof buf, SRC, "old", "s:1", T_BUDGET, 5, 30);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1), 0);
    assert_int_equal(it.code, 0);
    assert_int_equal(it.duplicate, 1);
    assert_int_equal(it.seq, 1);
    got_t *g = s_got();
    assert_int_equal(rz_store_get_id(f->s, SRC, "old", s_collect, g), 1);
    assert_int_equal(g->seq[0], 1);
    free(g);
    /* new ids get digests as before */
    s_add(f, "s:1", T_BUDGET, 2);
}

static void test_store_open_refuses_a_dir_in_use(void **state)
{
    fx_t *f = *state;
    rz_store_opts_t o = {f->dir, 1 << 20, 64 << 20, RZ_SYNC_OS, 0};
    rz_store_t *second = NULL;
    char path[400], text[64] = {0};

    /* f->s holds the dir: a second store, even in this process, is out */
    assert_int_equal(rz_store_open(&second, &o), -EBUSY);
    assert_null(second);
    /* the lock file names the holder */
    snprintf(path, sizeof path, "%s/ratuszd.lock", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_true(fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    assert_int_equal(strtol(text, NULL, 10), (long)getpid());

    /* and a child process is refused too */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rz_store_t *c = NULL;
        _exit(rz_store_open(&c, &o) == -EBUSY ? 0 : 3);
    }
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* once closed, the dir is free again */
    rz_store_close(&f->s);
    f->s = s_open(f->dir, 1 << 20, 64 << 20, RZ_SYNC_OS);
}

#define BENCH_EVENTS 200000
#define BENCH_BATCH 4096

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds to append it[0..BENCH_EVENTS) at BENCH_BATCH a commit. */
static double s_bench_append(rz_store_t *s, rz_store_item_t *it)
{
    double t0 = s_now();
    for (size_t i = 0; i < BENCH_EVENTS; i += BENCH_BATCH) {
        size_t n =
            BENCH_EVENTS - i < BENCH_BATCH ? BENCH_EVENTS - i : BENCH_BATCH;
        assert_int_equal(rz_store_append(s, it + i, n, 1000), 0);
    }
    return s_now() - t0;
}

/* Prints, asserts nothing about speed: new events, then every one of them
 * republished (a duplicate each, its digest compared). */
static void test_store_append_rate(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_item_t *it = calloc(BENCH_EVENTS, sizeof *it);
    uint8_t(*bufs)[512] = malloc(BENCH_EVENTS * sizeof *bufs);
    char(*ids)[16] = malloc(BENCH_EVENTS * sizeof *ids);
    double best[2] = {1e9, 1e9};

    assert_true(it && bufs && ids);
    snprintf(dir, sizeof dir, "%s/bench", f->dir);
    for (size_t i = 0; i < BENCH_EVENTS; i++) {
        snprintf(ids[i], sizeof ids[i], "b-%07zu", i);
        s_item(&it[i], bufs[i], sizeof bufs[i], SRC, ids[i], "parcel:1",
               T_BUDGET, 1000, 180);
    }
    for (int round = 0; round < 3; round++) {
        rzt_rmtree(dir);
        rz_store_t *s = s_open(dir, 64 << 20, 1 << 30, RZ_SYNC_OS);
        double t[2];
        t[0] = s_bench_append(s, it);
        t[1] = s_bench_append(s, it);
        for (int k = 0; k < 2; k++)
            if (t[k] < best[k])
                best[k] = t[k];
        assert_int_equal(rz_store_head(s), BENCH_EVENTS);
        rz_store_close(&s);
    }
    printf("  append %d events of %zu bytes, %d a commit (best of 3):\n"
           "    new          %.0f events/s\n"
           "    republished  %.0f events/s\n",
           BENCH_EVENTS, it[0].len, BENCH_BATCH, BENCH_EVENTS / best[0],
           BENCH_EVENTS / best[1]);
    rzt_rmtree(dir);
    free(ids);
    free(bufs);
    free(it);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_open_creates_missing_dirs),
        T(test_store_open_replaces_a_half_made_environment),
        T(test_store_open_rejects_bad_options),
        T(test_store_format_is_stamped_on_a_store_without_one),
        T(test_store_refuses_a_newer_format),
        T(test_store_durability_follows_sync_mode),
        T(test_store_append_assigns_gap_free_seq),
        T(test_store_put_duplicate_id_returns_original_seq),
        T(test_store_stored_bytes_decode_with_broker_fields),
        T(test_store_get_returns_the_stored_bytes),
        T(test_store_stamp_overrides_producer_broker_fields),
        T(test_store_append_reports_prev_topic_seq),
        T(test_store_append_refuses_items_that_cannot_be_keyed),
        T(test_store_get_by_seq_and_id),
        T(test_store_query_subject_orders_by_time_across_topics),
        T(test_store_query_all_orders_by_time),
        T(test_store_query_pages_with_cursor),
        T(test_store_query_cursor_survives_new_events),
        T(test_store_query_exact_page_has_no_cursor),
        T(test_store_query_visitor_stop_returns_cursor),
        T(test_store_query_rejects_foreign_cursor),
        T(test_store_query_topic_prefix_merges_in_seq_order),
        T(test_store_query_time_range),
        T(test_store_subject_runs_answer_like_one_index),
        T(test_store_subject_runs_forget_a_failed_append),
        T(test_store_migrates_a_format_1_subject_index),
        T(test_store_query_topic_time_range_pages_past_long_misses),
        T(test_store_scan_from_middle),
        T(test_store_scan_prefix),
        T(test_store_reopen_keeps_head_and_topic_heads),
        T(test_store_consumer_commit_only_moves_forward),
        T(test_store_map_grows_when_full),
        T(test_store_full_rejects_and_reads_still_work),
        T(test_store_readers_run_while_the_map_grows),
        T(test_store_adopts_a_map_grown_by_another_process),
        T(test_store_republish_with_other_content_is_a_conflict),
        T(test_store_conflict_within_one_batch),
        T(test_store_old_id_without_digest_is_a_duplicate),
        T(test_store_open_refuses_a_dir_in_use),
        T(test_store_append_rate),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
