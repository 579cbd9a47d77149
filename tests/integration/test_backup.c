/* test_backup.c - BACKUP in the middle of a 4-publisher load, `ratusz
 * restore` into a new data dir, and a broker started on it: every event
 * acked before the backup was asked for is there (by seq and by id), both
 * hash chains verify, a consumer group is where it was at backup time.
 * And the refusals: a directory that is not empty or not absolute, a
 * restore over a store in use or a store that is there, a tampered
 * backup, a restored store that does not match its manifest, a store of
 * a newer format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"

#define N_PUB 4
#define PER_PUB_MAX 200000 /* acks recorded per publisher at most */
#define GROUP "backup-g"
#define GROUP_AT 700 /* the group's position at backup time */

typedef struct pub {
    const rzt_broker_t *b;
    int n;
    pthread_mutex_t mu;
    uint64_t *seq; /* acked seqs, by event number */
    uint8_t *acked;
    int n_acked;
    atomic_int *stop;
    int failed;
} pub_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    pub_t *p = user;
    int i = (int)(intptr_t)a->arg;
    if (a->code != 0) {
        p->failed++;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->seq[i] = a->seq;
    p->acked[i] = 1;
    p->n_acked++;
    pthread_mutex_unlock(&p->mu);
}

static void s_id(char *id, size_t len, int pub, int i)
{
    snprintf(id, len, "bk-%d-%06d", pub, i);
}

static const char *s_source(int pub)
{
    static const char *const src[N_PUB] = {
        "/1261011/budget/p0", "/1261011/budget/p1", "/1261011/budget/p2",
        "/1261011/budget/p3"};
    return src[pub];
}

/* Publish with a window until told to stop. */
static void *s_publisher(void *arg)
{
    pub_t *p = arg;
    rz_client_opts_t o = {.window = 256, .batch = 16, .timeout_ms = 30000};
    rz_client_t *c = rz_client_new(p->b->front, &o);
    if (!c) {
        p->failed++;
        return NULL;
    }
    rz_client_set_ack_cb(c, s_on_ack, p);
    for (int i = 0; i < PER_PUB_MAX && !atomic_load(p->stop); i++) {
        char id[32];
        s_id(id, sizeof id, p->n, i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, s_source(p->n), id, "unit:backup",
                  INT64_C(1700000000000000) + i, i);
        if (rz_publish(c, &ev, (void *)(intptr_t)i) < 0) {
            p->failed++;
            break;
        }
    }
    if (rz_flush(c, 30000) < 0)
        p->failed++;
    rz_client_destroy(&c);
    return NULL;
}

static int s_acked(pub_t *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->n_acked;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* An event seen by GET: its id and seq. */
typedef struct seen {
    char id[64];
    uint64_t seq;
    int n;
} seen_t;

static int s_seen(const rz_event_t *e, void *user)
{
    seen_t *s = user;
    snprintf(s->id, sizeof s->id, "%s", e->msg->id);
    s->seq = e->msg->seq;
    s->n++;
    return 0;
}

static void s_mkdtemp(char *dir, size_t len)
{
    assert_int_equal(rzt_tmpdir(dir, len), 0);
}

static int s_restore(const char *backup, const char *data, const char *more,
                     char *out, size_t len)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s restore %s --data-dir %s %s 2>&1",
             RZ_RATUSZ_CLI, backup, data, more ? more : "");
    return rzt_run(cmd, out, len);
}

/* Run ratuszd on dir in the foreground until it exits (it should not
 * start); returns its exit status, its log in out. */
static int s_ratuszd_once(const char *dir, char *out, size_t len)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "timeout 20 %s --data-dir %s --listen tcp://127.0.0.1:%d "
             "--stream tcp://127.0.0.1:%d --metrics off 2>&1",
             RZ_RATUSZD, dir, rzt_free_port(), rzt_free_port());
    return rzt_run(cmd, out, len);
}

static void s_flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void test_backup_under_load_restores_every_acked_event(void **state)
{
    rzt_broker_t *b = *state;
    char bk[256], bkdir[300], out[8192];
    s_mkdtemp(bk, sizeof bk);
    snprintf(bkdir, sizeof bkdir, "%s/b1", bk);

    rz_client_t *c = rzt_client(b, 0, 0);
    assert_non_null(c);
    /* the group's position before the backup */
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    for (int i = 0; i < GROUP_AT; i++) {
        char id[32];
        snprintf(id, sizeof id, "pre-%04d", i);
        rzt_event(&ev, &be, "/1261011/budget/pre", id, "unit:pre",
                  INT64_C(1700000000000000) + i, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 10000), 0);
    assert_int_equal(rz_commit(c, GROUP, GROUP_AT), 0);

    atomic_int stop = 0;
    pub_t pubs[N_PUB];
    pthread_t th[N_PUB];
    for (int i = 0; i < N_PUB; i++) {
        pubs[i] = (pub_t){.b = b, .n = i, .stop = &stop};
        pthread_mutex_init(&pubs[i].mu, NULL);
        pubs[i].seq = calloc(PER_PUB_MAX, sizeof *pubs[i].seq);
        pubs[i].acked = calloc(PER_PUB_MAX, 1);
        assert_non_null(pubs[i].seq);
        assert_non_null(pubs[i].acked);
        assert_int_equal(pthread_create(&th[i], NULL, s_publisher, &pubs[i]),
                         0);
    }
    /* the load is running: some of every publisher's events are acked */
    for (int i = 0; i < N_PUB; i++)
        while (s_acked(&pubs[i]) < 2000)
            usleep(10000);

    /* what was acked before the request went out */
    uint8_t *before[N_PUB];
    uint64_t max_before = 0;
    int n_before = 0;
    for (int i = 0; i < N_PUB; i++) {
        before[i] = malloc(PER_PUB_MAX);
        assert_non_null(before[i]);
        pthread_mutex_lock(&pubs[i].mu);
        memcpy(before[i], pubs[i].acked, PER_PUB_MAX);
        for (int k = 0; k < PER_PUB_MAX; k++) {
            if (!before[i][k])
                continue;
            n_before++;
            if (pubs[i].seq[k] > max_before)
                max_before = pubs[i].seq[k];
        }
        pthread_mutex_unlock(&pubs[i].mu);
    }
    Ratusz__V1__BackupResult *r = NULL;
    int rc = rz_backup(c, bkdir, 120000, &r);
    if (rc < 0)
        fprintf(stderr, "backup: %s\n", rz_client_last_error(c));
    assert_int_equal(rc, 0);
    /* the group moves on after the backup: the restore must not see it */
    assert_int_equal(rz_commit(c, GROUP, GROUP_AT + 100), 0);
    int acked_during = 0;
    for (int i = 0; i < N_PUB; i++)
        acked_during += s_acked(&pubs[i]);
    atomic_store(&stop, 1);
    for (int i = 0; i < N_PUB; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(pubs[i].failed, 0);
    }
    /* the publishers went on while the copy ran */
    assert_true(acked_during > n_before);

    assert_true(r->acked_seq >= max_before);
    assert_true(r->head_seq >= r->acked_seq);
    assert_int_equal(r->events, r->head_seq); /* gap-free from seq 1 */
    assert_int_equal(r->chain_last, r->head_seq);
    assert_int_equal(strlen(r->chain_digest), 64);
    assert_int_equal(r->store_format, 2);
    assert_int_equal(r->consumer_groups, 1);
    assert_true(r->audit_head >= 1);
    assert_true(r->bytes > 0);
    uint64_t backup_head = r->head_seq;
    printf("backup: %d events acked before the request (up to seq %llu), "
           "copy to seq %llu, %d acked by the time it answered\n",
           n_before, (unsigned long long)max_before,
           (unsigned long long)backup_head, acked_during);
    ratusz__v1__backup_result__free_unpacked(r, NULL);

    /* a second backup into the same directory: not empty */
    assert_int_equal(rz_backup(c, bkdir, 60000, &r), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c), "not empty"));
    assert_int_equal(rz_backup(c, "relative/dir", 60000, &r), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c), "absolute"));
    rz_client_destroy(&c);

    /* restore over the running broker's data dir: refused, untouched */
    assert_int_equal(s_restore(bkdir, b->dir, "--force", out, sizeof out), 1);
    assert_non_null(strstr(out, "in use by ratuszd pid"));

    /* restore into a new data dir and start a broker there */
    rzt_broker_t b2;
    assert_int_equal(rzt_broker_start(&b2, NULL), 0);
    assert_int_equal(rzt_broker_stop(&b2), 0);
    assert_int_equal(s_restore(bkdir, b2.dir, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "already holds a store"));
    rzt_rmtree(b2.dir);
    int st = s_restore(bkdir, b2.dir, NULL, out, sizeof out);
    if (st != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    char marker[400];
    struct stat sb;
    snprintf(marker, sizeof marker, "%s/restored.json", b2.dir);
    assert_int_equal(stat(marker, &sb), 0);
    assert_int_equal(rzt_broker_restart(&b2), 0);
    /* verified at start, then the marker goes */
    assert_int_not_equal(stat(marker, &sb), 0);
    assert_int_equal(rzt_head(&b2), backup_head);

    rz_client_t *c2 = rzt_client(&b2, 0, 0);
    assert_non_null(c2);
    int checked = 0;
    for (int i = 0; i < N_PUB; i++) {
        for (int k = 0; k < PER_PUB_MAX; k++) {
            if (!before[i][k])
                continue;
            char id[32];
            s_id(id, sizeof id, i, k);
            seen_t s = {0};
            assert_int_equal(rz_get_seq(c2, pubs[i].seq[k], s_seen, &s), 1);
            assert_string_equal(s.id, id);
            seen_t t = {0};
            assert_int_equal(rz_get_id(c2, s_source(i), id, s_seen, &t), 1);
            assert_int_equal(t.seq, pubs[i].seq[k]);
            checked++;
        }
    }
    assert_int_equal(checked, n_before);

    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c2, "events", 0, &v), 0);
    assert_true(v->ok);
    assert_int_equal(v->last, backup_head);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    assert_int_equal(rz_verify(c2, "audit", 0, &v), 0);
    assert_true(v->ok);
    ratusz__v1__verify_result__free_unpacked(v, NULL);

    Ratusz__V1__ConsumerList *l = NULL;
    assert_int_equal(rz_consumers(c2, &l), 0);
    assert_int_equal(l->n_groups, 1);
    assert_string_equal(l->groups[0]->name, GROUP);
    assert_int_equal(l->groups[0]->committed_seq, GROUP_AT);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    rz_client_destroy(&c2);

    /* --force over a stopped store: the old one is moved aside */
    assert_int_equal(rzt_broker_stop(&b2), 0);
    assert_int_equal(s_restore(bkdir, b2.dir, "--force", out, sizeof out), 0);
    assert_non_null(strstr(out, "moved"));
    char aside[600];
    snprintf(aside, sizeof aside, "rm -rf %s.replaced-*", b2.dir);
    assert_int_equal(rzt_run(aside, NULL, 0), 0);
    rzt_broker_cleanup(&b2);

    /* a tampered backup is refused before anything is written */
    char data_mdb[400], d3[256], d3mdb[400];
    snprintf(data_mdb, sizeof data_mdb, "%s/data.mdb", bkdir);
    s_flip_byte(data_mdb, 4096 + 100);
    s_mkdtemp(d3, sizeof d3);
    assert_int_equal(s_restore(bkdir, d3, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "SHA-256"));
    assert_non_null(strstr(out, "data.mdb"));
    snprintf(d3mdb, sizeof d3mdb, "%s/data.mdb", d3);
    assert_int_not_equal(stat(d3mdb, &sb), 0);
    rzt_rmtree(d3);

    for (int i = 0; i < N_PUB; i++) {
        free(before[i]);
        free(pubs[i].seq);
        free(pubs[i].acked);
        pthread_mutex_destroy(&pubs[i].mu);
    }
    rzt_rmtree(bk);
}

static void
test_restored_store_that_differs_from_its_manifest_is_refused(void **state)
{
    rzt_broker_t *b = *state;
    char bk[256], bkdir[300], d[256], out[8192], cmd[1200];
    s_mkdtemp(bk, sizeof bk);
    snprintf(bkdir, sizeof bkdir, "%s/b2", bk);
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__BackupResult *r = NULL;
    assert_int_equal(rz_backup(c, bkdir, 60000, &r), 0);
    uint64_t head = r->head_seq;
    ratusz__v1__backup_result__free_unpacked(r, NULL);
    rz_client_destroy(&c);
    s_mkdtemp(d, sizeof d);
    assert_int_equal(s_restore(bkdir, d, NULL, out, sizeof out), 0);
    /* the marker claims one event more than the store holds */
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"head_seq\": %llu,/\"head_seq\": %llu,/' "
             "%s/restored.json",
             (unsigned long long)head, (unsigned long long)head + 1, d);
    assert_int_equal(rzt_run(cmd, NULL, 0), 0);
    int st = s_ratuszd_once(d, out, sizeof out);
    assert_int_not_equal(st, 0);
    assert_non_null(strstr(out, "restored store: it ends at seq"));
    assert_non_null(strstr(out, "not serving"));
    rzt_rmtree(d);
    rzt_rmtree(bk);
}

/* Two BACKUP requests back to back on one connection: the first copies,
 * the second is refused with RZ_EBUSY naming the first one's directory. */
static void test_second_backup_while_one_runs_is_busy(void **state)
{
    rzt_broker_t *b = *state;
    char bk[256], d1[300], d2[300];
    s_mkdtemp(bk, sizeof bk);
    snprintf(d1, sizeof d1, "%s/first", bk);
    snprintf(d2, sizeof d2, "%s/second", bk);
    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(raw, b->front), 0);
    const char *dirs[2] = {d1, d2};
    for (int i = 0; i < 2; i++) {
        Ratusz__V1__BackupRequest m = RATUSZ__V1__BACKUP_REQUEST__INIT;
        m.dir = (char *)dirs[i];
        uint8_t body[512];
        size_t n = ratusz__v1__backup_request__pack(&m, body);
        char corr = (char)('a' + i);
        assert_int_equal(zmq_send(raw, "BACKUP", 6, ZMQ_SNDMORE), 6);
        assert_int_equal(zmq_send(raw, &corr, 1, ZMQ_SNDMORE), 1);
        assert_int_equal(zmq_send(raw, body, n, 0), (int)n);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < 2; i++) {
        zmq_pollitem_t it = {raw, 0, ZMQ_POLLIN, 0};
        assert_int_equal(zmq_poll(&it, 1, 60000), 1);
        zmq_msg_t f[3];
        for (int k = 0; k < 3; k++) {
            zmq_msg_init(&f[k]);
            assert_true(zmq_msg_recv(&f[k], raw, 0) >= 0);
            assert_int_equal(zmq_msg_more(&f[k]), k < 2);
        }
        const char *corr = zmq_msg_data(&f[1]);
        if (zmq_msg_size(&f[0]) == 6 &&
            !memcmp(zmq_msg_data(&f[0]), "BACKUP", 6)) {
            assert_int_equal(corr[0], 'a');
            ok++;
        } else {
            assert_int_equal(corr[0], 'b');
            Ratusz__V1__Error *e = ratusz__v1__error__unpack(
                NULL, zmq_msg_size(&f[2]), zmq_msg_data(&f[2]));
            assert_non_null(e);
            assert_int_equal(e->code, RZ_EBUSY);
            assert_non_null(strstr(e->message, d1));
            ratusz__v1__error__free_unpacked(e, NULL);
            busy++;
        }
        for (int k = 0; k < 3; k++)
            zmq_msg_close(&f[k]);
    }
    assert_int_equal(ok, 1);
    assert_int_equal(busy, 1);
    /* the refused one wrote nothing */
    struct stat sb;
    assert_int_not_equal(stat(d2, &sb), 0);
    zmq_close(raw);
    zmq_ctx_term(ctx);
    rzt_rmtree(bk);
}

static void test_ratuszd_refuses_a_store_of_a_newer_format(void **state)
{
    (void)state;
    rzt_broker_t b;
    char out[8192];
    assert_int_equal(rzt_broker_start(&b, NULL), 0);
    assert_int_equal(rzt_broker_stop(&b), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, b.dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {6, (void *)"format"}, v = {2, (void *)"99"};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    /* exit 2, as for a configuration error, naming both versions */
    assert_int_equal(s_ratuszd_once(b.dir, out, sizeof out), 2);
    assert_non_null(strstr(out, "format 99"));
    assert_non_null(strstr(out, "(format 2)"));
    rzt_broker_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_under_load_restores_every_acked_event),
        cmocka_unit_test(
            test_restored_store_that_differs_from_its_manifest_is_refused),
        cmocka_unit_test(test_second_backup_while_one_runs_is_busy),
        cmocka_unit_test(test_ratuszd_refuses_a_store_of_a_newer_format),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
