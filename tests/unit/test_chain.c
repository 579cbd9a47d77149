/* test_chain.c - the event log's hash chain, tampered with from outside */
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

#include "harness.h"
#include "store.h"

#define SRC "/1261011/budget/besti"
#define TOPIC "1261011.budget.execution.v1"

typedef struct fx {
    char dir[256];
    rz_store_t *s;
    int next_id;
} fx_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static rz_store_t *s_open(const char *dir)
{
    rz_store_opts_t o = {dir, 1 << 20, 1ull << 30, RZ_SYNC_OS, 0};
    rz_store_t *s = NULL;
    assert_int_equal(rz_store_open(&s, &o), 0);
    return s;
}

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
    rz_store_close(&f->s);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

/* One encoded event with a payload of `payload` bytes. The item borrows
 * id and buf. */
static void s_item(rz_store_item_t *it, uint8_t *buf, size_t cap,
                   const char *id, size_t payload)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    static uint8_t fill[8192];

    assert_true(payload <= sizeof fill);
    for (size_t i = 0; i < payload; i++)
        fill[i] = (uint8_t)('a' + i % 26);
    ev.id = (char *)id;
    ev.source = (char *)SRC;
    ev.type = (char *)"pl.gov.gmina.budget.execution.v1";
    ev.subject = (char *)"parcel:1";
    ev.tenant = (char *)"1261011";
    ev.time = 1000;
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
    it->source = SRC;
    it->source_len = strlen(SRC);
    it->id = id;
    it->id_len = strlen(id);
    it->subject = "parcel:1";
    it->subject_len = 8;
    it->topic = TOPIC;
    it->topic_len = strlen(TOPIC);
    it->principal = "system:besti";
    it->principal_len = strlen(it->principal);
    it->time = 1000;
}

/* Append n new events (and `dups` repeats of the first one's id) in one
 * commit; returns the seq of the first new one. */
static uint64_t s_commit(rz_store_t *s, int *next_id, size_t n, size_t dups,
                         size_t payload)
{
    size_t total = n + dups;
    rz_store_item_t *it = calloc(total, sizeof *it);
    uint8_t(*bufs)[9000] = malloc(total * sizeof *bufs);
    char(*ids)[32] = malloc(total * sizeof *ids);
    assert_true(it && bufs && ids);

    int first_id = *next_id + 1;
    for (size_t i = 0; i < total; i++) {
        int id = i < n ? ++*next_id : first_id;
        snprintf(ids[i], sizeof ids[i], "ev-%d", id);
        s_item(&it[i], bufs[i], sizeof bufs[i], ids[i], payload);
    }
    assert_int_equal(rz_store_append(s, it, total, 1000), 0);
    uint64_t first = it[0].seq;
    for (size_t i = 0; i < total; i++) {
        assert_int_equal(it[i].code, 0);
        assert_int_equal(it[i].duplicate, i >= n);
        assert_int_equal(it[i].seq, i < n ? first + i : first);
    }
    free(ids);
    free(bufs);
    free(it);
    return first;
}

static Ratusz__V1__VerifyResult s_verify(rz_store_t *s, uint64_t from)
{
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_store_verify(s, from, &r), 0);
    assert_non_null(r.reason);
    return r;
}

static void s_expect_ok(rz_store_t *s, uint64_t from, uint64_t first,
                        uint64_t last, uint64_t links)
{
    Ratusz__V1__VerifyResult r = s_verify(s, from);
    if (!r.ok)
        print_error("unexpected break at %llu: %s\n",
                    (unsigned long long)r.first_bad, r.reason);
    assert_true(r.ok);
    assert_int_equal(r.first_bad, 0);
    assert_int_equal(r.first, first);
    assert_int_equal(r.last, last);
    assert_int_equal(r.checked, last >= first ? last - first + 1 : 0);
    assert_int_equal(r.links, links);
    free(r.reason);
    free(r.invalid_reason);
}

/* Verify fails at seq bad with a reason containing `says`. */
static void s_expect_bad(rz_store_t *s, uint64_t from, uint64_t bad,
                         const char *says)
{
    Ratusz__V1__VerifyResult r = s_verify(s, from);
    if (r.ok || r.first_bad != bad || !strstr(r.reason, says))
        print_error("want a break at %llu (\"%s\"), got ok=%d at %llu: %s\n",
                    (unsigned long long)bad, says, (int)r.ok,
                    (unsigned long long)r.first_bad, r.reason);
    assert_false(r.ok);
    assert_int_equal(r.first_bad, bad);
    assert_non_null(strstr(r.reason, says));
    free(r.reason);
    free(r.invalid_reason);
}

/* ------------------------------------------------------------------------
 * Tampering from outside, on a closed store
 */

static int s_have_tools(void)
{
    return rzt_run("mdb_dump -V >/dev/null 2>&1 && mdb_load -V >/dev/null "
                   "2>&1",
                   NULL, 0) == 0;
}

static void s_hex(char *out, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* With the LMDB tools: dump database db, change one hex digit of the value
 * of key (native uint64) at byte `at`, load it back. */
static void s_tool_edit(const char *dir, const char *db, uint64_t key,
                        size_t at)
{
    char cmd[1024], path[512], want[32];
    int edited = 0, value_next = 0;

    snprintf(path, sizeof path, "%s/dump.txt", dir);
    snprintf(cmd, sizeof cmd, "mdb_dump -s %s '%s' > '%s'", db, dir, path);
    assert_int_equal(rzt_run(cmd, NULL, 0), 0);

    FILE *in = fopen(path, "r");
    snprintf(cmd, sizeof cmd, "%s.new", path);
    FILE *out = fopen(cmd, "w");
    assert_true(in && out);
    want[0] = ' ';
    s_hex(want + 1, &key, sizeof key);
    strcat(want, "\n");
    /* the dump holds long values on one line: a big buffer */
    char *big = malloc(1 << 24);
    assert_non_null(big);
    while (fgets(big, 1 << 24, in)) {
        if (value_next) {
            size_t pos = 1 + 2 * at;
            assert_true(strlen(big) > pos + 1);
            big[pos] = big[pos] == '0' ? '1' : '0';
            edited = 1;
            value_next = 0;
        } else if (!edited && strcmp(big, want) == 0) {
            value_next = 1;
        }
        fputs(big, out);
    }
    free(big);
    fclose(in);
    fclose(out);
    assert_true(edited);
    snprintf(cmd, sizeof cmd, "mdb_load -s %s -f '%s.new' '%s' 2>&1", db, path,
             dir);
    char msg[512];
    int rc = rzt_run(cmd, msg, sizeof msg);
    if (rc)
        print_error("%s: %s\n", cmd, msg);
    assert_int_equal(rc, 0);
    remove(path);
    snprintf(cmd, sizeof cmd, "%s.new", path);
    remove(cmd);
}

/* With the LMDB C API, on a closed store: delete key (native uint64) from
 * db, or, with flip >= 0, flip the bits of value byte flip; with put,
 * store put/put_len under the key. */
static void s_lmdb(const char *dir, const char *db, uint64_t key, int del,
                   long flip, const void *put, size_t put_len)
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
    if (del) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else if (flip >= 0) {
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        assert_true((size_t)flip < v.mv_size);
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[flip] ^= 0xff;
        v.mv_data = copy;
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        free(copy);
    } else {
        v.mv_size = put_len;
        v.mv_data = (void *)put;
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* ------------------------------------------------------------------------
 * Tests
 */

static void test_chain_empty_store_verifies(void **state)
{
    fx_t *f = *state;
    s_expect_ok(f->s, 0, 1, 0, 0);
}

static void test_chain_intact_store_verifies_with_counts(void **state)
{
    fx_t *f = *state;
    size_t sizes[] = {1, 2, 5, 100, 1, 37, 3};
    uint64_t head = 0;

    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        s_commit(f->s, &f->next_id, sizes[i], i % 3, 64 + 50 * i);
        head += sizes[i];
    }
    /* a commit of duplicates only stores nothing and makes no link */
    f->next_id -= 1;
    rz_store_item_t it;
    uint8_t buf[512];
    s_item(&it, buf, sizeof buf, "ev-1", 64);
    assert_int_equal(rz_store_append(f->s, &it, 1, 1), 0);
    assert_int_equal(it.duplicate, 1);
    f->next_id += 1;

    assert_int_equal(rz_store_head(f->s), head);
    s_expect_ok(f->s, 0, 1, head, 7);
    s_expect_ok(f->s, 1, 1, head, 7);

    /* and after a restart, new commits continue the chain */
    rz_store_close(&f->s);
    f->s = s_open(f->dir);
    s_commit(f->s, &f->next_id, 10, 0, 100);
    s_expect_ok(f->s, 0, 1, head + 10, 8);
}

static void test_chain_verify_from_the_middle(void **state)
{
    fx_t *f = *state;

    s_commit(f->s, &f->next_id, 10, 0, 50); /* 1-10 */
    s_commit(f->s, &f->next_id, 10, 0, 50); /* 11-20 */
    s_commit(f->s, &f->next_id, 10, 0, 50); /* 21-30 */

    /* from starts at the link holding it */
    s_expect_ok(f->s, 11, 11, 30, 2);
    s_expect_ok(f->s, 15, 11, 30, 2);
    s_expect_ok(f->s, 20, 11, 30, 2);
    s_expect_ok(f->s, 21, 21, 30, 1);
    s_expect_ok(f->s, 30, 21, 30, 1);
    /* past the head: nothing to check, nothing wrong */
    s_expect_ok(f->s, 31, 31, 0, 0);
    s_expect_ok(f->s, 1000, 1000, 0, 0);
}

static void test_chain_names_an_event_edited_in_the_file(void **state)
{
    fx_t *f = *state;

    if (!s_have_tools())
        skip(); /* mdb_dump/mdb_load: apt-get install lmdb-utils */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    s_commit(f->s, &f->next_id, 20, 2, 80); /* 11-30 */
    s_commit(f->s, &f->next_id, 5, 0, 80);  /* 31-35 */
    rz_store_close(&f->s);

    /* one hex digit of seq 17's payload */
    s_tool_edit(f->dir, "log", 17, 60);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 17, "seq 17 is not the event that was chained");
    s_expect_bad(f->s, 12, 17, "seq 17");
    /* the link after still follows: from there the log is whole */
    s_expect_ok(f->s, 31, 31, 35, 1);
}

static void test_chain_names_a_deleted_event(void **state)
{
    fx_t *f = *state;

    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 11-20 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 21-30 */
    rz_store_close(&f->s);
    s_lmdb(f->dir, "log", 14, 1, -1, NULL, 0);
    s_lmdb(f->dir, "log", 30, 1, -1, NULL, 0); /* the head */
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 14, "seq 14 is missing from the log");
    /* from checks the whole link that holds it */
    s_expect_bad(f->s, 15, 14, "seq 14 is missing from the log");
    s_expect_bad(f->s, 21, 30, "seq 30 is missing from the log");
}

static void test_chain_names_events_deleted_with_their_link(void **state)
{
    fx_t *f = *state;

    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    s_commit(f->s, &f->next_id, 3, 0, 80);  /* 11-13 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 14-23 */
    rz_store_close(&f->s);
    for (uint64_t seq = 11; seq <= 13; seq++)
        s_lmdb(f->dir, "log", seq, 1, -1, NULL, 0);
    s_lmdb(f->dir, "chain", 11, 1, -1, NULL, 0);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 11, "seqs 11-13 are missing, with their link");
}

static void test_chain_names_an_extra_event(void **state)
{
    fx_t *f = *state;
    const uint8_t junk[] = {0x0a, 0x01, 'x'};

    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    rz_store_close(&f->s);
    s_lmdb(f->dir, "log", 11, 0, -1, junk, sizeof junk);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 11, "seq 11 is not chained");
}

static void test_chain_names_an_altered_link(void **state)
{
    fx_t *f = *state;

    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 11-20 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 21-30 */
    rz_store_close(&f->s);

    /* link 11's digest (bytes 32-63), with the tools if they are here */
    if (s_have_tools())
        s_tool_edit(f->dir, "chain", 11, 40);
    else
        s_lmdb(f->dir, "chain", 11, 0, 40, NULL, 0);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 11,
                 "the digest of the link of seqs 11-20 was altered");
    /* from the next link on, trusting the altered digest, it is the next
     * link that does not follow */
    s_expect_bad(f->s, 21, 21, "does not follow the link before it");
}

static void test_chain_names_an_altered_run_and_prev(void **state)
{
    fx_t *f = *state;

    s_commit(f->s, &f->next_id, 10, 0, 80); /* 1-10 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 11-20 */
    s_commit(f->s, &f->next_id, 10, 0, 80); /* 21-30 */
    rz_store_close(&f->s);

    /* the run of seq 13 (link 11, value byte 68 + 2 * 8) */
    s_lmdb(f->dir, "chain", 11, 0, 68 + 2 * 8 + 3, NULL, 0);
    /* link 21's prev (bytes 0-31) */
    s_lmdb(f->dir, "chain", 21, 0, 5, NULL, 0);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, 13, "the link of seqs 11-20 was altered");
    s_expect_bad(f->s, 21, 21, "does not follow the link before it");
}

static void test_chain_many_commits_of_different_sizes(void **state)
{
    fx_t *f = *state;
    uint32_t x = 12345;
    uint64_t head = 0;
    size_t links = 0;

    while (head < 70000) { /* more than one verify transaction */
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 16) % 700;
        size_t payload = (x >> 8) % 600;
        if ((x >> 4) % 10 == 0)
            n = 1;
        s_commit(f->s, &f->next_id, n, (x >> 20) % 3, payload);
        head += n;
        links++;
    }
    s_expect_ok(f->s, 0, 1, head, links);

    rz_store_close(&f->s);
    uint64_t bad = head - 12345;
    s_lmdb(f->dir, "log", bad, 0, 7, NULL, 0);
    f->s = s_open(f->dir);
    s_expect_bad(f->s, 0, bad, "is not the event that was chained");
}

/* A writer killed mid-stream leaves links and events together: each link
 * is in the transaction of its events. */
static void test_chain_survives_a_killed_writer(void **state)
{
    fx_t *f = *state;
    char dir[400];

    snprintf(dir, sizeof dir, "%s/killed", f->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rz_store_t *s = s_open(dir);
        int next_id = 0;
        for (size_t i = 0;; i++)
            s_commit(s, &next_id, 1 + i % 97, 0, 200);
    }
    usleep(400000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    rz_store_t *s = s_open(dir);
    uint64_t head = rz_store_head(s);
    assert_true(head > 0);
    Ratusz__V1__VerifyResult r = s_verify(s, 0);
    assert_true(r.ok);
    assert_int_equal(r.checked, head);
    assert_int_equal(r.last, head);
    free(r.reason);
    free(r.invalid_reason);
    rz_store_close(&s);
}

/* A store from a version without the chain: no "chain" database, no meta
 * key. Its events are not chained; the ones stored after are. */
static void
test_chain_events_from_before_the_chain_are_not_chained(void **state)
{
    fx_t *f = *state;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {5, (void *)"chain"};

    s_commit(f->s, &f->next_id, 10, 0, 80);
    rz_store_close(&f->s);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "chain", MDB_INTEGERKEY, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    f->s = s_open(f->dir);
    s_commit(f->s, &f->next_id, 5, 0, 80);
    Ratusz__V1__VerifyResult r = s_verify(f->s, 0);
    assert_true(r.ok);
    assert_int_equal(r.first, 11);
    assert_int_equal(r.last, 15);
    assert_int_equal(r.checked, 5);
    assert_non_null(strstr(r.reason, "up to 10 were stored before"));
    free(r.reason);
    free(r.invalid_reason);
    s_expect_ok(f->s, 11, 11, 15, 1);
}

/* ------------------------------------------------------------------------
 * The writer's cost (printed, not asserted: the machine is shared)
 */

#define BENCH_EVENTS 200000
#define BENCH_BATCH 4096

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds to append BENCH_EVENTS 256-byte events at BENCH_BATCH a commit
 * to a fresh store. */
static double s_bench(const char *dir, int chain, rz_store_item_t *it,
                      uint8_t (*bufs)[512], char (*ids)[16])
{
    rzt_rmtree(dir);
    rz_store_t *s = s_open(dir);
    if (!chain)
        rz__store_chain_off(s);
    /* producer events of exactly 256 encoded bytes */
    size_t pad = 0;
    snprintf(ids[0], sizeof ids[0], "b-%07d", 0);
    for (;; pad++) {
        s_item(&it[0], bufs[0], sizeof bufs[0], ids[0], pad);
        if (it[0].len >= 256)
            break;
    }
    for (size_t i = 0; i < BENCH_EVENTS; i++) {
        snprintf(ids[i], sizeof ids[i], "b-%07zu", i);
        s_item(&it[i], bufs[i], sizeof bufs[i], ids[i], pad);
    }
    double t0 = s_now();
    for (size_t i = 0; i < BENCH_EVENTS; i += BENCH_BATCH) {
        size_t n =
            BENCH_EVENTS - i < BENCH_BATCH ? BENCH_EVENTS - i : BENCH_BATCH;
        assert_int_equal(rz_store_append(s, it + i, n, 1000), 0);
    }
    double t = s_now() - t0;
    if (chain) {
        t0 = s_now();
        s_expect_ok(s, 0, 1, BENCH_EVENTS,
                    (BENCH_EVENTS + BENCH_BATCH - 1) / BENCH_BATCH);
        printf("  verify: %.0f events/s\n", BENCH_EVENTS / (s_now() - t0));
    }
    rz_store_close(&s);
    return t;
}

static void test_chain_append_rate(void **state)
{
    fx_t *f = *state;
    char dir[400];
    rz_store_item_t *it = calloc(BENCH_EVENTS, sizeof *it);
    uint8_t(*bufs)[512] = malloc(BENCH_EVENTS * sizeof *bufs);
    char(*ids)[16] = malloc(BENCH_EVENTS * sizeof *ids);
    double best[2] = {1e9, 1e9};

    assert_true(it && bufs && ids);
    snprintf(dir, sizeof dir, "%s/bench", f->dir);
    for (int round = 0; round < 3; round++)
        for (int chain = 0; chain < 2; chain++) {
            double t = s_bench(dir, chain, it, bufs, ids);
            if (t < best[chain])
                best[chain] = t;
        }
    printf("  append %d events of %zu bytes, %d a commit (best of 3):\n"
           "    without the chain %.0f events/s\n"
           "    with the chain    %.0f events/s (%+.1f%% time)\n",
           BENCH_EVENTS, it[0].len, BENCH_BATCH, BENCH_EVENTS / best[0],
           BENCH_EVENTS / best[1], 100.0 * (best[1] - best[0]) / best[0]);
    free(ids);
    free(bufs);
    free(it);
}

/* Events an older version let in (a NUL inside one id, a byte that is not
 * UTF-8 in another) are intact, so the chain verifies, but verify counts them
 * and names the first. */
static void test_chain_counts_events_with_refused_strings(void **state)
{
    fx_t *f = *state;
    rz_store_item_t it[3];
    uint8_t buf[3][512];
    s_item(&it[0], buf[0], sizeof buf[0], "fine-1", 16);
    s_item(&it[1], buf[1], sizeof buf[1], "nulXid", 16);
    s_item(&it[2], buf[2], sizeof buf[2], "badYidentity", 16);
    /* change the bytes after packing: a NUL in the id, 0xff in it too */
    uint8_t *p = memmem(buf[1], it[1].len, "nulXid", 6);
    assert_non_null(p);
    p[3] = 0;
    p = memmem(buf[2], it[2].len, "badYidentity", 11);
    assert_non_null(p);
    p[3] = 0xff;
    assert_int_equal(rz_store_append(f->s, it, 3, 1), 0);
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_store_verify(f->s, 0, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.checked, 3);
    assert_int_equal(r.invalid, 2);
    assert_int_equal(r.first_invalid, 2);
    assert_non_null(strstr(r.invalid_reason, "'id'"));
    free(r.reason);
    free(r.invalid_reason);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_chain_empty_store_verifies),
        T(test_chain_intact_store_verifies_with_counts),
        T(test_chain_verify_from_the_middle),
        T(test_chain_names_an_event_edited_in_the_file),
        T(test_chain_names_a_deleted_event),
        T(test_chain_names_events_deleted_with_their_link),
        T(test_chain_names_an_extra_event),
        T(test_chain_names_an_altered_link),
        T(test_chain_names_an_altered_run_and_prev),
        T(test_chain_many_commits_of_different_sizes),
        T(test_chain_survives_a_killed_writer),
        T(test_chain_events_from_before_the_chain_are_not_chained),
        T(test_chain_counts_events_with_refused_strings),
        T(test_chain_append_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
