/* test_audit.c - the audit log: concurrent writers, queries, the chain */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "harness.h"
#include "ratusz/errors.h"

typedef struct fx {
    char dir[256];
    char audit[300];
    rz_audit_t *a;
} fx_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static rz_audit_t *s_open(const char *dir, uint64_t retention_us)
{
    char err[256];
    rz_audit_t *a = NULL;
    int rc = rz_audit_open(&a, dir, retention_us, err, sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(a);
    return a;
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->dir, sizeof f->dir) != 0)
        return -1;
    snprintf(f->audit, sizeof f->audit, "%s/data/audit", f->dir);
    char err[256];
    if (rz_audit_open(&f->a, f->audit, 0, err, sizeof err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_audit_close(&f->a);
    rz_audit_close(&f->a); /* safe twice */
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_write(rz_audit_t *a, const char *principal, const char *detail,
                    const char *const *subjects, size_t n_subjects)
{
    rz_audit_entry_t e = {
        .principal = principal,
        .address = "tcp://127.0.0.1:5555",
        .action = "read-personal",
        .command = "GET",
        .detail = detail,
        .outcome = "ok",
        .events = n_subjects,
        .subjects = subjects,
        .n_subjects = n_subjects,
    };
    assert_int_equal(rz_audit_write(a, &e), 0);
}

static void s_write_n(rz_audit_t *a, int n, const char *tag)
{
    char detail[64];
    for (int i = 0; i < n; i++) {
        snprintf(detail, sizeof detail, "%s %d", tag, i);
        s_write(a, "user:anna", detail, NULL, 0);
    }
}

/* Every record from after_id on, page by page; returns how many, checking
 * ids follow one another from first_id. */
static uint64_t s_all(rz_audit_t *a, uint64_t first_id, uint32_t limit)
{
    Ratusz__V1__AuditRequest q = RATUSZ__V1__AUDIT_REQUEST__INIT;
    uint64_t n = 0, expect = first_id;

    q.limit = limit;
    do {
        Ratusz__V1__AuditList *l = NULL;
        assert_int_equal(rz_audit_query(a, &q, &l), 0);
        for (size_t i = 0; i < l->n_records; i++) {
            assert_int_equal(l->records[i]->id, expect);
            assert_int_equal(l->records[i]->digest.len, 32);
            assert_int_equal(l->records[i]->prev_digest.len, 32);
            expect++;
        }
        n += l->n_records;
        q.after_id = l->next_id;
        if (l->next_id)
            assert_int_equal(l->n_records, limit ? limit : 1000);
        ratusz__v1__audit_list__free_unpacked(l, NULL);
    } while (q.after_id);
    return n;
}

static void s_expect_ok(rz_audit_t *a, uint64_t from, uint64_t first,
                        uint64_t last)
{
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_audit_verify(a, from, &r), 0);
    if (!r.ok)
        print_error("unexpected break at %llu: %s\n",
                    (unsigned long long)r.first_bad, r.reason);
    assert_true(r.ok);
    assert_int_equal(r.first_bad, 0);
    assert_int_equal(r.first, first);
    assert_int_equal(r.last, last);
    assert_int_equal(r.checked, last >= first ? last - first + 1 : 0);
}

static void s_expect_bad(rz_audit_t *a, uint64_t from, uint64_t bad,
                         const char *says)
{
    Ratusz__V1__VerifyResult r;
    assert_int_equal(rz_audit_verify(a, from, &r), 0);
    if (r.ok || r.first_bad != bad || !strstr(r.reason, says))
        print_error("want a break at %llu (\"%s\"), got ok=%d at %llu: %s\n",
                    (unsigned long long)bad, says, (int)r.ok,
                    (unsigned long long)r.first_bad, r.reason);
    assert_false(r.ok);
    assert_int_equal(r.first_bad, bad);
    assert_non_null(strstr(r.reason, says));
}

enum { S_DEL, S_EDIT_TEXT, S_EDIT_DIGEST };

/* Tamper with record id of a closed audit log with the LMDB C API: delete
 * it, change one byte of its text `text`, or one byte of its digest. */
static void s_tamper(const char *dir, uint64_t id, int how, const char *text)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {sizeof id, &id}, v;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "records", MDB_INTEGERKEY, &dbi), 0);
    if (how == S_DEL) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        if (how == S_EDIT_DIGEST) {
            copy[v.mv_size - 1] ^= 0x01;
        } else {
            uint8_t *at = memmem(copy, v.mv_size, text, strlen(text));
            assert_non_null(at);
            at[0] = at[0] == 'X' ? 'Y' : 'X';
        }
        v.mv_data = copy;
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* ------------------------------------------------------------------------
 * Writing
 */

#define WRITERS 4
#define PER_WRITER 5000

struct s_writer {
    rz_audit_t *a;
    int n;
};

static void *s_writer(void *arg)
{
    struct s_writer *w = arg;
    char detail[64];
    const char *subjects[2] = {"pesel:85010112345", "parcel:1"};
    char principal[32];

    snprintf(principal, sizeof principal, "writer:%d", w->n);
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(detail, sizeof detail, "writer=%d i=%d", w->n, i);
        s_write(w->a, principal, detail, subjects, (size_t)(i % 3));
    }
    return NULL;
}

static void test_audit_concurrent_writers_get_gap_free_ids(void **state)
{
    fx_t *f = *state;
    pthread_t th[WRITERS];
    struct s_writer w[WRITERS];

    double t0 = s_now();
    for (int i = 0; i < WRITERS; i++) {
        w[i].a = f->a;
        w[i].n = i;
        assert_int_equal(pthread_create(&th[i], NULL, s_writer, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(rz_audit_flush(f->a), 0);
    double t = s_now() - t0;
    printf("  audit: %d records from %d threads in %.3f s: %.0f records/s "
           "(synced commits)\n",
           WRITERS * PER_WRITER, WRITERS, t, WRITERS * PER_WRITER / t);

    assert_int_equal(rz_audit_written(f->a), WRITERS * PER_WRITER);
    assert_int_equal(rz_audit_lost(f->a), 0);
    assert_int_equal(s_all(f->a, 1, 10000), WRITERS * PER_WRITER);
    s_expect_ok(f->a, 0, 1, WRITERS * PER_WRITER);

    /* each writer's records are in the order it wrote them, times never
     * go back */
    Ratusz__V1__AuditRequest q = RATUSZ__V1__AUDIT_REQUEST__INIT;
    int next[WRITERS] = {0};
    int64_t last_time = 0;
    q.limit = 10000;
    do {
        Ratusz__V1__AuditList *l = NULL;
        assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
        for (size_t i = 0; i < l->n_records; i++) {
            int wn, wi;
            const Ratusz__V1__AuditRecord *r = l->records[i];
            assert_int_equal(sscanf(r->detail, "writer=%d i=%d", &wn, &wi), 2);
            assert_int_equal(wi, next[wn]++);
            assert_int_equal(r->n_subjects, (size_t)(wi % 3));
            assert_true(r->time >= last_time);
            last_time = r->time;
        }
        q.after_id = l->next_id;
        ratusz__v1__audit_list__free_unpacked(l, NULL);
    } while (q.after_id);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(next[i], PER_WRITER);
}

/* A lone writer that waits for each record: one synced commit each. */
static void test_audit_flush_after_each_record(void **state)
{
    fx_t *f = *state;

    double t0 = s_now();
    for (int i = 0; i < 200; i++) {
        s_write_n(f->a, 1, "lone");
        assert_int_equal(rz_audit_flush(f->a), 0);
    }
    double t = s_now() - t0;
    printf("  audit: 200 records, each flushed: %.0f records/s\n", 200 / t);
    s_expect_ok(f->a, 0, 1, 200);
}

struct s_filler {
    rz_audit_t *a;
    int n;
    atomic_int done;
};

static void *s_filler(void *arg)
{
    struct s_filler *fl = arg;
    for (int i = 0; i < fl->n; i++) {
        s_write(fl->a, "user:filler", "fill", NULL, 0);
        atomic_fetch_add(&fl->done, 1);
    }
    return NULL;
}

static void test_audit_full_queue_blocks_rather_than_drops(void **state)
{
    fx_t *f = *state;
    struct s_filler fl = {f->a, RZ_AUDIT_QUEUE_MAX + 100, 0};
    pthread_t th;

    rz__audit_hold(f->a, 1);
    assert_int_equal(pthread_create(&th, NULL, s_filler, &fl), 0);
    for (int i = 0; i < 200 && atomic_load(&fl.done) < RZ_AUDIT_QUEUE_MAX; i++)
        usleep(10000);
    usleep(100000);
    /* the queue is full and the writer waits */
    assert_int_equal(atomic_load(&fl.done), RZ_AUDIT_QUEUE_MAX);
    assert_int_equal(rz_audit_written(f->a), 0);
    rz__audit_hold(f->a, 0);
    pthread_join(th, NULL);
    assert_int_equal(rz_audit_flush(f->a), 0);
    assert_int_equal(rz_audit_written(f->a), RZ_AUDIT_QUEUE_MAX + 100);
    assert_int_equal(rz_audit_lost(f->a), 0);
    s_expect_ok(f->a, 0, 1, RZ_AUDIT_QUEUE_MAX + 100);
}

static void test_audit_close_commits_what_is_queued(void **state)
{
    fx_t *f = *state;

    rz__audit_hold(f->a, 1);
    s_write_n(f->a, 50, "queued");
    rz_audit_close(&f->a);
    f->a = s_open(f->audit, 0);
    assert_int_equal(s_all(f->a, 1, 0), 50);
    s_expect_ok(f->a, 0, 1, 50);
}

/* ------------------------------------------------------------------------
 * Query
 */

static void test_audit_query_filters(void **state)
{
    fx_t *f = *state;
    const char *pesel[] = {"pesel:85010112345"};
    const char *both[] = {"parcel:7", "pesel:85010112345"};
    Ratusz__V1__AuditRequest q = RATUSZ__V1__AUDIT_REQUEST__INIT;
    Ratusz__V1__AuditList *l = NULL;

    s_write(f->a, "user:anna", "a1", pesel, 1);  /* 1 */
    s_write(f->a, "user:bartek", "b1", NULL, 0); /* 2 */
    s_write(f->a, "user:anna", "a2", both, 2);   /* 3 */
    assert_int_equal(rz_audit_flush(f->a), 0);
    usleep(2000);
    int64_t mid = rz_now_us();
    usleep(2000);
    s_write(f->a, "user:bartek", "b2", both, 2); /* 4 */
    s_write(f->a, "user:anna", "a3", NULL, 0);   /* 5 */
    assert_int_equal(rz_audit_flush(f->a), 0);

    q.principal = (char *)"user:anna";
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 3);
    assert_int_equal(l->records[0]->id, 1);
    assert_int_equal(l->records[1]->id, 3);
    assert_int_equal(l->records[2]->id, 5);
    assert_string_equal(l->records[1]->detail, "a2");
    assert_string_equal(l->records[1]->action, "read-personal");
    assert_string_equal(l->records[1]->command, "GET");
    assert_string_equal(l->records[1]->outcome, "ok");
    assert_string_equal(l->records[1]->address, "tcp://127.0.0.1:5555");
    assert_int_equal(l->records[1]->events, 2);
    assert_int_equal(l->next_id, 0);
    ratusz__v1__audit_list__free_unpacked(l, NULL);

    q.principal = (char *)"";
    q.subject = (char *)"pesel:85010112345";
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 3);
    assert_int_equal(l->records[0]->id, 1);
    assert_int_equal(l->records[1]->id, 3);
    assert_int_equal(l->records[2]->id, 4);
    ratusz__v1__audit_list__free_unpacked(l, NULL);

    q.subject = (char *)"parcel:7";
    q.principal = (char *)"user:bartek";
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 1);
    assert_int_equal(l->records[0]->id, 4);
    ratusz__v1__audit_list__free_unpacked(l, NULL);

    /* time bounds: since <= time < until */
    q.subject = (char *)"";
    q.principal = (char *)"";
    q.since = mid;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 2);
    assert_int_equal(l->records[0]->id, 4);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    q.since = 0;
    q.until = mid;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 3);
    assert_int_equal(l->records[2]->id, 3);
    assert_int_equal(l->next_id, 0);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    q.since = mid;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 0);
    ratusz__v1__audit_list__free_unpacked(l, NULL);

    /* paging: limit, after_id, next_id */
    q.since = q.until = 0;
    q.limit = 2;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 2);
    assert_int_equal(l->next_id, 2);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    q.after_id = 2;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 2);
    assert_int_equal(l->records[0]->id, 3);
    assert_int_equal(l->next_id, 4);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    q.after_id = 4;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 1);
    assert_int_equal(l->next_id, 0);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
}

static void test_audit_query_default_limit_and_cap(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__AuditRequest q = RATUSZ__V1__AUDIT_REQUEST__INIT;
    Ratusz__V1__AuditList *l = NULL;

    s_write_n(f->a, 10500, "bulk");
    assert_int_equal(rz_audit_flush(f->a), 0);
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 1000);
    assert_int_equal(l->next_id, 1000);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    q.limit = 50000;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 10000);
    assert_int_equal(l->next_id, 10000);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
}

/* ------------------------------------------------------------------------
 * The chain
 */

static void test_audit_reopen_continues_the_chain(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__AuditRequest q = RATUSZ__V1__AUDIT_REQUEST__INIT;
    Ratusz__V1__AuditList *l = NULL;

    s_write_n(f->a, 100, "before");
    rz_audit_close(&f->a);
    f->a = s_open(f->audit, 0);
    s_write_n(f->a, 100, "after");
    assert_int_equal(rz_audit_flush(f->a), 0);
    assert_int_equal(s_all(f->a, 1, 0), 200);
    s_expect_ok(f->a, 0, 1, 200);
    s_expect_ok(f->a, 101, 101, 200);
    s_expect_ok(f->a, 200, 200, 200);
    s_expect_ok(f->a, 201, 201, 0);

    q.after_id = 99;
    q.limit = 2;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_int_equal(l->n_records, 2);
    assert_int_equal(l->records[1]->prev_digest.len, 32);
    assert_memory_equal(l->records[1]->prev_digest.data,
                        l->records[0]->digest.data, 32);
    ratusz__v1__audit_list__free_unpacked(l, NULL);

    /* the first record follows 32 zero bytes */
    const uint8_t zero[32] = {0};
    q.after_id = 0;
    q.limit = 1;
    assert_int_equal(rz_audit_query(f->a, &q, &l), 0);
    assert_memory_equal(l->records[0]->prev_digest.data, zero, 32);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
}

static void test_audit_verify_names_an_edited_record(void **state)
{
    fx_t *f = *state;

    s_write_n(f->a, 30, "record");
    rz_audit_close(&f->a);
    s_tamper(f->audit, 17, S_EDIT_TEXT, "record 16");
    f->a = s_open(f->audit, 0);
    s_expect_bad(f->a, 0, 17, "record 17 was altered");
    s_expect_bad(f->a, 10, 17, "record 17 was altered");
    /* from the next record on, trusting the edited record's digest, the
     * rest is whole */
    s_expect_ok(f->a, 18, 18, 30);
}

static void test_audit_verify_names_an_edited_digest(void **state)
{
    fx_t *f = *state;

    s_write_n(f->a, 30, "record");
    rz_audit_close(&f->a);
    s_tamper(f->audit, 9, S_EDIT_DIGEST, NULL);
    f->a = s_open(f->audit, 0);
    s_expect_bad(f->a, 0, 9, "the digest of record 9 was altered");
    s_expect_bad(f->a, 10, 10, "record 10 does not follow");
}

static void test_audit_verify_names_a_deleted_record(void **state)
{
    fx_t *f = *state;

    s_write_n(f->a, 30, "record");
    rz_audit_close(&f->a);
    s_tamper(f->audit, 12, S_DEL, NULL);
    f->a = s_open(f->audit, 0);
    s_expect_bad(f->a, 0, 12, "record 12 is missing");
    rz_audit_close(&f->a);

    /* the first and the last, too */
    s_tamper(f->audit, 1, S_DEL, NULL);
    s_tamper(f->audit, 30, S_DEL, NULL);
    f->a = s_open(f->audit, 0);
    s_expect_bad(f->a, 0, 1, "record 1 is missing");
    s_expect_bad(f->a, 13, 30, "records 30-30 are missing");

    /* and the chain goes on from the head it kept, not the last left */
    s_write_n(f->a, 1, "more");
    assert_int_equal(rz_audit_flush(f->a), 0);
    s_expect_bad(f->a, 13, 30, "record 30 is missing");
}

static void test_audit_retention_prunes_and_verify_still_passes(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__VerifyResult r;

    s_write_n(f->a, 50, "old");
    rz_audit_close(&f->a);
    usleep(300000);
    /* 0.2 s: the 50 are older; the pass at open removes them */
    f->a = s_open(f->audit, 200000);
    s_write_n(f->a, 5, "new");
    assert_int_equal(rz_audit_flush(f->a), 0);
    assert_int_equal(s_all(f->a, 51, 0), 5);
    assert_int_equal(rz_audit_verify(f->a, 0, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.first, 51);
    assert_int_equal(r.last, 55);
    assert_int_equal(r.checked, 5);
    assert_non_null(strstr(r.reason, "records up to 50 were removed"));
    rz_audit_close(&f->a);

    /* every record pruned: the chain still goes on from the kept head */
    usleep(300000);
    f->a = s_open(f->audit, 200000);
    s_write_n(f->a, 1, "newer");
    assert_int_equal(rz_audit_flush(f->a), 0);
    assert_int_equal(s_all(f->a, 56, 0), 1);
    s_expect_ok(f->a, 0, 56, 56);
    rz_audit_close(&f->a);

    /* deleting the oldest kept record by hand is not retention */
    f->a = s_open(f->audit, 0);
    s_write_n(f->a, 3, "kept");
    rz_audit_close(&f->a);
    s_tamper(f->audit, 56, S_DEL, NULL);
    f->a = s_open(f->audit, 0);
    s_expect_bad(f->a, 0, 56, "record 56 is missing");
}

static void test_audit_open_reports_a_bad_directory(void **state)
{
    fx_t *f = *state;
    char path[400], err[256];
    rz_audit_t *a = NULL;

    snprintf(path, sizeof path, "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_true(rz_audit_open(&a, path, 0, err, sizeof err) < 0);
    assert_null(a);
    assert_non_null(strstr(err, path));
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_audit_concurrent_writers_get_gap_free_ids),
        T(test_audit_flush_after_each_record),
        T(test_audit_full_queue_blocks_rather_than_drops),
        T(test_audit_close_commits_what_is_queued),
        T(test_audit_query_filters),
        T(test_audit_query_default_limit_and_cap),
        T(test_audit_reopen_continues_the_chain),
        T(test_audit_verify_names_an_edited_record),
        T(test_audit_verify_names_an_edited_digest),
        T(test_audit_verify_names_a_deleted_record),
        T(test_audit_retention_prunes_and_verify_still_passes),
        T(test_audit_open_reports_a_bad_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
