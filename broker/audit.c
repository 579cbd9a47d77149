/* audit.c - the audit log: hash-chained records in an LMDB of its own
 *
 * Named databases of the audit environment (audit.h has the contract):
 *
 *   records  key  id, native uint64 (MDB_INTEGERKEY), put with MDB_APPEND
 *            val  +--------------------------------+------+------+--------+
 *                 | AuditRecord, fields 1-14       | 0x7a | 0x20 | digest |
 *                 | (prev_digest set, no digest)   | field 15, 32 bytes    |
 *                 +--------------------------------+------+------+--------+
 *            protobuf-c packs fields in number order, so the value is the
 *            record packed with its digest, and what the digest covers is
 *            exactly the bytes before the last 34: the record encoded with
 *            digest empty. Verify hashes those stored bytes, not a
 *            re-encoding, so no edit can hide in an encoding detail.
 *
 *   meta     "head"    +----------------+-------------+
 *                      | last id (8 BE) | digest (32) |   the chain goes on
 *                      +----------------+-------------+   from here, also
 *                                                         after a restart
 *                                                         that finds every
 *                                                         record pruned
 *            "oldest"  first id kept (8, BE): retention deleted the ones
 *                      below, so a missing first record is told apart
 *
 * digest(n) = SHA-256(record n encoded with prev_digest = digest(n-1), 32
 * zero bytes for record 1, and digest empty).
 *
 * Record times are the wall clock at rz_audit_write, taken under the queue
 * lock and never earlier than the record before (a clock stepped back
 * holds them): ids and times then sort alike, and a time bound is a
 * binary search over ids.
 *
 * Map growth needs no transaction active in the process: transactions run
 * under a rwlock held shared and a resize takes it exclusively (as in
 * store.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#endif

#include "audit.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/errors.h"
#include "ratusz/ratusz.h"

#define S_DIGEST 32
#define S_TAIL (2 + S_DIGEST) /* field 15: tag, length, digest */
#define S_TAG_DIGEST 0x7a     /* (15 << 3) | 2 */
#define S_MAP_START ((size_t)64 << 20)
#define S_MAP_MAX ((size_t)1 << 40)
#define S_SUBJECTS_MAX 100
#define S_LIMIT_DEFAULT 1000
#define S_LIMIT_MAX 10000
#define S_QUERY_BUDGET 100000 /* records one query page examines at most */
#define S_VERIFY_CHUNK 65536  /* records per read transaction in verify */
#define S_PRUNE_EVERY_US (60 * 1000000LL)
#define S_PRUNE_BATCH 10000 /* records deleted per transaction */
#define S_RESIZE_TRIES 8

/* One queued record: the strings copied into the same allocation. */
typedef struct s_entry {
    int64_t time;
    uint64_t events;
    char *principal, *address, *action, *command, *detail, *outcome;
    char **subjects;
    size_t n_subjects;
} s_entry_t;

struct rz_audit {
    MDB_env *env;
    MDB_dbi records, meta;
    pthread_rwlock_t lock; /* shared: a transaction; exclusive: resize */
    size_t map_size;
    uint64_t retention_us;
    EVP_MD *sha256;

    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread: something queued, or stop */
    pthread_cond_t room; /* writers: the queue has room */
    pthread_cond_t done; /* flushers: committed moved */
    s_entry_t *queue[RZ_AUDIT_QUEUE_MAX];
    size_t q_first, q_n;
    uint64_t queued, committed, failures; /* entries; failed commits */
    int64_t last_time;
    int stopping, hold;
    pthread_t thread;
    int thread_ok, mu_ok, lock_ok;

    /* the audit thread's own */
    uint64_t head_id;
    uint8_t head_digest[S_DIGEST];
    int64_t next_prune; /* monotonic µs */

    _Atomic uint64_t written, lost;
};

/* ------------------------------------------------------------------------
 * Small helpers
 */

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t s_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t s_key_id(const MDB_val *k)
{
    uint64_t id = 0;
    if (k->mv_size == sizeof id)
        memcpy(&id, k->mv_data, sizeof id);
    return id;
}

static int64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Translate an LMDB code once, logging the original. */
static int s_fail(const char *what, int rc)
{
    if (rc == 0 || !rzc_lmdb_is_lmdb(rc))
        return rc;
    rz_error("audit: %s: %s", what, mdb_strerror(rc));
    return rzc_lmdb_code(rc);
}

static int s_sha256(const rz_audit_t *a, const void *p, size_t n,
                    uint8_t out[S_DIGEST])
{
    return EVP_Digest(p, n, out, NULL, a->sha256, NULL) ? 0 : RZ_ESTORE;
}

/* The time field (2) of a packed record, read off the wire; fields 1 and
 * 2 come first. Returns 0 or -1. */
static int s_wire_time(const uint8_t *p, size_t len, int64_t *out)
{
    const uint8_t *end = p + len;
    for (int field = 0; field < 2 && p < end; field++) {
        uint8_t tag = *p++;
        uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (p == end || shift > 63)
                return -1;
            uint8_t b = *p++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if (tag == 0x10) { /* field 2, varint */
            *out = (int64_t)v;
            return 0;
        }
        if (tag != 0x08) /* field 1, varint */
            return -1;
    }
    *out = 0; /* time 0 is left out by proto3 */
    return 0;
}

/* ------------------------------------------------------------------------
 * Transactions
 */

static int s_grow_map(rz_audit_t *a)
{
    pthread_rwlock_wrlock(&a->lock);
    int rc = rzc_lmdb_grow(a->env, S_MAP_MAX, &a->map_size);
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

static int s_read_begin(rz_audit_t *a, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&a->lock);
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, txn);
    if (rc) {
        pthread_rwlock_unlock(&a->lock);
        return s_fail("read transaction", rc);
    }
    return 0;
}

static void s_read_end(rz_audit_t *a, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&a->lock);
}

typedef int (*s_txn_fn)(rz_audit_t *a, MDB_txn *txn, void *arg);

/* Run fn in a write transaction and commit it (synced); a full map is
 * grown and fn run again, so fn must be repeatable. */
static int s_write(rz_audit_t *a, s_txn_fn fn, void *arg)
{
    for (int tries = 0;; tries++) {
        MDB_txn *txn = NULL;
        pthread_rwlock_rdlock(&a->lock);
        int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = fn(a, txn, arg);
            if (rc == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&a->lock);
        if (rc == MDB_MAP_FULL && tries < S_RESIZE_TRIES &&
            (rc = s_grow_map(a)) == 0)
            continue;
        return rc;
    }
}

static int s_put_meta(rz_audit_t *a, MDB_txn *txn, const char *key,
                      const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    return mdb_put(txn, a->meta, &k, &v, 0);
}

static int s_get_meta(rz_audit_t *a, MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, a->meta, &k, v);
}

/* ------------------------------------------------------------------------
 * Committing the queue (the audit thread)
 */

struct s_batch {
    s_entry_t **e;
    size_t n;
    uint64_t head_id; /* after the commit */
    uint8_t head_digest[S_DIGEST];
};

static char *s_str(char *p)
{
    return p ? p : (char *)"";
}

static int s_commit_txn(rz_audit_t *a, MDB_txn *txn, void *arg)
{
    struct s_batch *b = arg;
    MDB_cursor *c = NULL;
    uint64_t id = a->head_id;
    uint8_t digest[S_DIGEST], head[8 + S_DIGEST];
    int rc;

    memcpy(digest, a->head_digest, S_DIGEST);
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        const s_entry_t *e = b->e[i];
        Ratusz__V1__AuditRecord r = RATUSZ__V1__AUDIT_RECORD__INIT;

        r.id = ++id;
        r.time = e->time;
        r.principal = s_str(e->principal);
        r.address = s_str(e->address);
        r.action = s_str(e->action);
        r.command = s_str(e->command);
        r.detail = s_str(e->detail);
        r.outcome = s_str(e->outcome);
        r.events = e->events;
        r.subjects = e->subjects;
        r.n_subjects = e->n_subjects;
        r.prev_digest.data = digest;
        r.prev_digest.len = S_DIGEST;

        size_t len = ratusz__v1__audit_record__get_packed_size(&r);
        MDB_val k = {sizeof id, &id}, v = {len + S_TAIL, NULL};
        if ((rc = mdb_cursor_put(c, &k, &v, MDB_RESERVE | MDB_APPEND)))
            break;
        uint8_t *p = v.mv_data;
        ratusz__v1__audit_record__pack(&r, p);
        if ((rc = s_sha256(a, p, len, digest)))
            break;
        p[len] = S_TAG_DIGEST;
        p[len + 1] = S_DIGEST;
        memcpy(p + len + 2, digest, S_DIGEST);
    }
    mdb_cursor_close(c);
    if (rc)
        return rc;
    s_put_be64(head, id);
    memcpy(head + 8, digest, S_DIGEST);
    if ((rc = s_put_meta(a, txn, "head", head, sizeof head)))
        return rc;
    b->head_id = id;
    memcpy(b->head_digest, digest, S_DIGEST);
    return 0;
}

static int s_commit(rz_audit_t *a, s_entry_t **e, size_t n)
{
    struct s_batch b = {e, n, 0, {0}};
    int rc = s_write(a, s_commit_txn, &b);
    if (rc) {
        rc = s_fail("commit", rc);
        rz_error("audit: %zu records lost: %s", n, rz_strerror(rc));
        return rc;
    }
    a->head_id = b.head_id;
    memcpy(a->head_digest, b.head_digest, S_DIGEST);
    return 0;
}

/* Delete up to S_PRUNE_BATCH records older than the retention. *more is
 * set when the batch was full. */
static int s_prune_txn(rz_audit_t *a, MDB_txn *txn, void *arg)
{
    int *more = arg;
    int64_t cutoff = rz_now_us() - (int64_t)__atomic_load_n(&a->retention_us,
                                                            __ATOMIC_RELAXED);
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint64_t oldest = 0;
    size_t n = 0;
    int64_t t;
    int rc;

    *more = 0;
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (s_wire_time(v.mv_data, v.mv_size, &t) != 0 || t >= cutoff) {
            oldest = s_key_id(&k);
            break;
        }
        if (n == S_PRUNE_BATCH) {
            *more = 1;
            oldest = s_key_id(&k);
            break;
        }
        if ((rc = mdb_cursor_del(c, 0)))
            break;
        n++;
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
        oldest = a->head_id + 1; /* every record was old */
    }
    if (rc || n == 0)
        return rc;
    uint8_t be[8];
    s_put_be64(be, oldest);
    return s_put_meta(a, txn, "oldest", be, sizeof be);
}

static void s_prune(rz_audit_t *a)
{
    int more = 0;
    int rc = s_write(a, s_prune_txn, &more);
    if (rc)
        s_fail("retention", rc);
    a->next_prune = s_mono_us() + (more ? 0 : S_PRUNE_EVERY_US);
}

static void *s_thread(void *arg)
{
    rz_audit_t *a = arg;
    s_entry_t **batch = malloc(RZ_AUDIT_QUEUE_MAX * sizeof *batch);

    pthread_mutex_lock(&a->mu);
    for (;;) {
        int due = a->retention_us && s_mono_us() >= a->next_prune;
        if (due) {
            pthread_mutex_unlock(&a->mu);
            s_prune(a);
            pthread_mutex_lock(&a->mu);
            continue;
        }
        if (a->q_n == 0 && a->stopping)
            break;
        if (a->q_n == 0 || (a->hold && !a->stopping) || !batch) {
            if (a->retention_us) {
                int64_t wait = a->next_prune - s_mono_us();
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += wait / 1000000;
                ts.tv_nsec += (wait % 1000000) * 1000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&a->work, &a->mu, &ts);
            } else {
                pthread_cond_wait(&a->work, &a->mu);
            }
            if (!batch)
                batch = malloc(RZ_AUDIT_QUEUE_MAX * sizeof *batch);
            continue;
        }

        size_t n = a->q_n;
        for (size_t i = 0; i < n; i++)
            batch[i] = a->queue[(a->q_first + i) % RZ_AUDIT_QUEUE_MAX];
        a->q_first = (a->q_first + n) % RZ_AUDIT_QUEUE_MAX;
        a->q_n = 0;
        pthread_cond_broadcast(&a->room);
        pthread_mutex_unlock(&a->mu);

        int rc = s_commit(a, batch, n);
        for (size_t i = 0; i < n; i++)
            free(batch[i]);
        if (rc)
            atomic_fetch_add(&a->lost, n);
        else
            atomic_fetch_add(&a->written, n);

        pthread_mutex_lock(&a->mu);
        a->committed += n;
        if (rc)
            a->failures++;
        pthread_cond_broadcast(&a->done);
    }
    pthread_mutex_unlock(&a->mu);
    free(batch);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Open and close
 */

static int s_setup_txn(rz_audit_t *a, MDB_txn *txn, void *arg)
{
    MDB_cursor *c = NULL;
    MDB_val v, k;
    int rc;

    (void)arg;
    if ((rc = mdb_dbi_open(txn, "records", MDB_CREATE | MDB_INTEGERKEY,
                           &a->records)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &a->meta)))
        return rc;
    a->head_id = 0;
    memset(a->head_digest, 0, S_DIGEST);
    rc = s_get_meta(a, txn, "head", &v);
    if (rc == 0 && v.mv_size != 8 + S_DIGEST)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        a->head_id = s_get_be64(v.mv_data);
        memcpy(a->head_digest, (uint8_t *)v.mv_data + 8, S_DIGEST);
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* times never go back, across a restart too */
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && s_wire_time(v.mv_data, v.mv_size, &a->last_time) != 0)
        a->last_time = 0;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int s_open_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;
    if (err && err_len) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void rz_audit_set_retention(rz_audit_t *a, uint64_t retention_us)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    __atomic_store_n(&a->retention_us, retention_us, __ATOMIC_RELAXED);
    a->next_prune = s_mono_us(); /* a shorter one applies now */
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
}

int rz_audit_open(rz_audit_t **out, const char *dir, uint64_t retention_us,
                  char *err, size_t err_len)
{
    pthread_rwlockattr_t rwattr;
    pthread_condattr_t cattr;
    rz_audit_t *a = NULL;
    int rc;

    if (err && err_len)
        err[0] = '\0';
    if (!out)
        return RZ_EINVAL;
    *out = NULL;
    if (!dir || !*dir)
        return s_open_fail(err, err_len, RZ_EINVAL, "audit: no directory");
    a = calloc(1, sizeof *a);
    if (!a)
        return s_open_fail(err, err_len, RZ_ENOMEM, "audit: out of memory");
    a->retention_us = retention_us;

    pthread_rwlockattr_init(&rwattr);
    pthread_rwlockattr_setkind_np(&rwattr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&a->lock, &rwattr);
    pthread_rwlockattr_destroy(&rwattr);
    if (rc) {
        rc = s_open_fail(err, err_len, -rc, "audit: rwlock: %s", strerror(rc));
        goto fail;
    }
    a->lock_ok = 1;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&a->mu, NULL) ||
        pthread_cond_init(&a->work, &cattr) ||
        pthread_cond_init(&a->room, NULL) ||
        pthread_cond_init(&a->done, NULL)) {
        pthread_condattr_destroy(&cattr);
        rc = s_open_fail(err, err_len, RZ_ENOMEM, "audit: mutex");
        goto fail;
    }
    pthread_condattr_destroy(&cattr);
    a->mu_ok = 1;

    a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!a->sha256) {
        rc = s_open_fail(err, err_len, RZ_ESTORE,
                         "audit: SHA-256 is not available");
        goto fail;
    }

    rzc_lmdb_opts_t env = {.dir = dir,
                           .dir_mode = 0700,
                           .file_mode = 0600,
                           .flags = MDB_NOTLS,
                           .max_dbs = 4,
                           .map_size = S_MAP_START};
    char why[4200];
    if ((rc = rzc_mkdirs(dir, 0700))) {
        rc = s_open_fail(err, err_len, rc, "audit: %s: %s", dir,
                         rz_strerror(rc));
        goto fail;
    }
    /* made durably: see rzc_lmdb_open */
    if ((rc = rzc_lmdb_open(&a->env, &env, why, sizeof why))) {
        rc = s_open_fail(err, err_len, rc, "audit: %s", why);
        goto fail;
    }
    a->map_size = rzc_lmdb_map_size(a->env);
    if ((rc = s_write(a, s_setup_txn, NULL)))
        goto lmdb_fail;

    a->next_prune = s_mono_us(); /* the first pass right away */
    if ((rc = pthread_create(&a->thread, NULL, s_thread, a))) {
        rc = s_open_fail(err, err_len, -rc, "audit: thread: %s", strerror(rc));
        goto fail;
    }
    a->thread_ok = 1;
    *out = a;
    return 0;

lmdb_fail:
    rc = s_open_fail(err, err_len, rzc_lmdb_code(rc), "audit: %s: %s", dir,
                     rzc_lmdb_is_lmdb(rc) ? mdb_strerror(rc) : rz_strerror(rc));
fail:
    rz_audit_close(&a);
    return rc;
}

void rz_audit_close(rz_audit_t **ap)
{
    if (!ap || !*ap)
        return;
    rz_audit_t *a = *ap;
    *ap = NULL;
    if (a->thread_ok) {
        pthread_mutex_lock(&a->mu);
        a->stopping = 1;
        pthread_cond_signal(&a->work);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    if (a->env)
        mdb_env_close(a->env);
    if (a->mu_ok) {
        pthread_cond_destroy(&a->done);
        pthread_cond_destroy(&a->room);
        pthread_cond_destroy(&a->work);
        pthread_mutex_destroy(&a->mu);
    }
    if (a->lock_ok)
        pthread_rwlock_destroy(&a->lock);
    EVP_MD_free(a->sha256);
    free(a);
}

/* ------------------------------------------------------------------------
 * Writing
 */

/* One allocation: the entry, the subject pointers, then the strings. */
static s_entry_t *s_entry_copy(const rz_audit_entry_t *e)
{
    const char *s[6] = {e->principal, e->address, e->action,
                        e->command,   e->detail,  e->outcome};
    size_t n_subjects =
        e->n_subjects < S_SUBJECTS_MAX ? e->n_subjects : S_SUBJECTS_MAX;
    size_t need = sizeof(s_entry_t) + n_subjects * sizeof(char *);

    if (!e->subjects)
        n_subjects = 0;
    for (int i = 0; i < 6; i++)
        need += (s[i] ? strlen(s[i]) : 0) + 1;
    for (size_t i = 0; i < n_subjects; i++)
        need += (e->subjects[i] ? strlen(e->subjects[i]) : 0) + 1;

    s_entry_t *c = malloc(need);
    if (!c)
        return NULL;
    char **subjects = (char **)(c + 1);
    char *p = (char *)(subjects + n_subjects);
    char **dst[6] = {&c->principal, &c->address, &c->action,
                     &c->command,   &c->detail,  &c->outcome};
    for (int i = 0; i < 6; i++) {
        size_t len = s[i] ? strlen(s[i]) : 0;
        *dst[i] = p;
        memcpy(p, s[i] ? s[i] : "", len + 1);
        p += len + 1;
    }
    for (size_t i = 0; i < n_subjects; i++) {
        const char *sub = e->subjects[i] ? e->subjects[i] : "";
        size_t len = strlen(sub);
        subjects[i] = p;
        memcpy(p, sub, len + 1);
        p += len + 1;
    }
    c->subjects = subjects;
    c->n_subjects = n_subjects;
    c->events = e->events;
    c->time = 0;
    return c;
}

int rz_audit_write(rz_audit_t *a, const rz_audit_entry_t *e)
{
    if (!a || !e)
        return RZ_EINVAL;
    s_entry_t *c = s_entry_copy(e);
    if (!c) {
        atomic_fetch_add(&a->lost, 1);
        rz_error("audit: out of memory: a record of %s by %s is "
                 "lost",
                 e->action ? e->action : "?",
                 e->principal ? e->principal : "?");
        return RZ_ENOMEM;
    }
    pthread_mutex_lock(&a->mu);
    while (a->q_n == RZ_AUDIT_QUEUE_MAX)
        pthread_cond_wait(&a->room, &a->mu);
    int64_t now = rz_now_us();
    c->time = now > a->last_time ? now : a->last_time;
    a->last_time = c->time;
    a->queue[(a->q_first + a->q_n) % RZ_AUDIT_QUEUE_MAX] = c;
    a->q_n++;
    a->queued++;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int rz_audit_flush(rz_audit_t *a)
{
    if (!a)
        return RZ_EINVAL;
    pthread_mutex_lock(&a->mu);
    uint64_t target = a->queued, failures = a->failures;
    while (a->committed < target)
        pthread_cond_wait(&a->done, &a->mu);
    int rc = a->failures != failures ? RZ_ESTORE : 0;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void rz__audit_hold(rz_audit_t *a, int hold)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->hold = hold;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
}

uint64_t rz_audit_written(const rz_audit_t *a)
{
    return a ? atomic_load(&((rz_audit_t *)a)->written) : 0;
}

uint64_t rz_audit_lost(const rz_audit_t *a)
{
    return a ? atomic_load(&((rz_audit_t *)a)->lost) : 0;
}

/* ------------------------------------------------------------------------
 * Query
 */

/* The time of the first record with id >= id, or INT64_MAX for none. */
static int s_time_at(MDB_cursor *c, uint64_t id, int64_t *t)
{
    MDB_val k = {sizeof id, &id}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        *t = INT64_MAX;
        return 0;
    }
    if (rc == 0 && s_wire_time(v.mv_data, v.mv_size, t) != 0)
        rc = MDB_CORRUPTED;
    return rc;
}

/* The lowest id whose record has time >= since: times grow with ids. */
static int s_first_since(MDB_cursor *c, int64_t since, uint64_t *out)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc)
        return rc;
    uint64_t lo = s_key_id(&k);
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)))
        return rc;
    uint64_t hi = s_key_id(&k) + 1; /* the first id past every record */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int64_t t;
        if ((rc = s_time_at(c, mid, &t)))
            return rc;
        if (t >= since)
            hi = mid;
        else
            lo = mid + 1;
    }
    *out = lo;
    return 0;
}

static int s_record_matches(const Ratusz__V1__AuditRecord *r,
                            const Ratusz__V1__AuditRequest *q)
{
    if (q->principal && *q->principal && strcmp(r->principal, q->principal))
        return 0;
    if (q->subject && *q->subject) {
        for (size_t i = 0; i < r->n_subjects; i++)
            if (strcmp(r->subjects[i], q->subject) == 0)
                return 1;
        return 0;
    }
    return 1;
}

int rz_audit_query(rz_audit_t *a, const Ratusz__V1__AuditRequest *q,
                   Ratusz__V1__AuditList **out)
{
    Ratusz__V1__AuditList *list = NULL;
    MDB_cursor *c = NULL;
    MDB_txn *txn = NULL;
    MDB_val k, v;
    size_t examined = 0;
    int rc;

    if (!out)
        return RZ_EINVAL;
    *out = NULL;
    if (!a || !q)
        return RZ_EINVAL;
    uint32_t limit = q->limit ? q->limit : S_LIMIT_DEFAULT;
    if (limit > S_LIMIT_MAX)
        limit = S_LIMIT_MAX;

    list = malloc(sizeof *list);
    if (!list)
        return RZ_ENOMEM;
    ratusz__v1__audit_list__init(list);
    list->records = calloc(limit, sizeof *list->records);
    if (!list->records) {
        rc = RZ_ENOMEM;
        goto fail;
    }
    if (q->until && q->until <= q->since)
        goto done_ok; /* an empty range */
    if (q->after_id == UINT64_MAX)
        goto done_ok;
    if ((rc = s_read_begin(a, &txn))) {
        txn = NULL;
        goto fail;
    }
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        goto fail;

    uint64_t start = q->after_id + 1;
    if (q->since) {
        uint64_t first;
        rc = s_first_since(c, q->since, &first);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            goto done;
        }
        if (rc)
            goto fail;
        if (first > start)
            start = first;
    }
    k.mv_size = sizeof start;
    k.mv_data = &start;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        int64_t t;
        uint64_t id = s_key_id(&k);
        if (s_wire_time(v.mv_data, v.mv_size, &t) != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (q->until && t >= q->until)
            break; /* times grow with ids: nothing later matches */
        if (list->n_records == limit || examined == S_QUERY_BUDGET) {
            /* more may follow: continue after what was looked at */
            list->next_id = list->n_records == limit
                                ? list->records[limit - 1]->id
                                : id - 1;
            break;
        }
        examined++;
        if (t >= q->since) {
            Ratusz__V1__AuditRecord *r =
                ratusz__v1__audit_record__unpack(NULL, v.mv_size, v.mv_data);
            if (!r) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (s_record_matches(r, q))
                list->records[list->n_records++] = r;
            else
                ratusz__v1__audit_record__free_unpacked(r, NULL);
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        goto fail;
done:
    mdb_cursor_close(c);
    c = NULL;
    s_read_end(a, txn);
    txn = NULL;
done_ok:
    *out = list;
    return 0;

fail:
    if (c)
        mdb_cursor_close(c);
    if (txn)
        s_read_end(a, txn);
    ratusz__v1__audit_list__free_unpacked(list, NULL);
    return s_fail("query", rc);
}

/* ------------------------------------------------------------------------
 * Verify
 */

typedef struct s_verify {
    rz_audit_t *a;
    uint64_t expect; /* the next id */
    uint8_t prev[S_DIGEST];
    int have_prev; /* 0: trust the next record's own prev_digest */
    uint64_t checked, last;
    uint64_t bad;
    char *why;
    size_t why_len;
    int done;
} s_verify_t;

static _Thread_local char s_reason[256];

__attribute__((format(printf, 3, 4))) static void
s_broken(s_verify_t *v, uint64_t id, const char *fmt, ...)
{
    va_list ap;
    v->bad = id;
    va_start(ap, fmt);
    vsnprintf(v->why, v->why_len, fmt, ap);
    va_end(ap);
}

/* The digest a stored record carries, and what its bytes hash to. */
static int s_record_digests(const rz_audit_t *a, const MDB_val *v,
                            const uint8_t **stored, uint8_t computed[S_DIGEST])
{
    const uint8_t *p = v->mv_data;
    size_t len = v->mv_size;
    if (len < S_TAIL || p[len - S_TAIL] != S_TAG_DIGEST ||
        p[len - S_TAIL + 1] != S_DIGEST)
        return 1;
    *stored = p + len - S_DIGEST;
    return s_sha256(a, p, len - S_TAIL, computed) ? -1 : 0;
}

static int s_verify_record(s_verify_t *v, MDB_cursor *c, const MDB_val *k,
                           const MDB_val *val)
{
    uint64_t id = s_key_id(k);
    uint8_t computed[S_DIGEST];
    const uint8_t *stored;
    Ratusz__V1__AuditRecord *r = NULL;
    int rc;

    if (id != v->expect) {
        s_broken(v, v->expect, "record %llu is missing",
                 (unsigned long long)v->expect);
        return 0;
    }
    rc = s_record_digests(v->a, val, &stored, computed);
    if (rc < 0)
        return RZ_ESTORE;
    if (rc == 0)
        r = ratusz__v1__audit_record__unpack(NULL, val->mv_size - S_TAIL,
                                             val->mv_data);
    if (!r) {
        s_broken(v, id, "record %llu is not a valid record",
                 (unsigned long long)id);
        return 0;
    }
    if (r->id != id)
        s_broken(v, id, "record %llu says it is record %llu",
                 (unsigned long long)id, (unsigned long long)r->id);
    else if (r->prev_digest.len != S_DIGEST ||
             (v->have_prev && memcmp(r->prev_digest.data, v->prev, S_DIGEST)))
        s_broken(v, id,
                 "record %llu does not follow the record before it (its "
                 "prev_digest is not that record's digest)",
                 (unsigned long long)id);
    ratusz__v1__audit_record__free_unpacked(r, NULL);
    if (v->bad)
        return 0;

    if (memcmp(computed, stored, S_DIGEST) != 0) {
        /* the content or the digest? the next record still holds the
         * digest as it was */
        MDB_val nk, nv;
        const uint8_t *np = NULL;
        int next_follows = 0;
        if (mdb_cursor_get(c, &nk, &nv, MDB_NEXT) == 0 &&
            s_key_id(&nk) == id + 1) {
            Ratusz__V1__AuditRecord *n = NULL;
            if (nv.mv_size > S_TAIL)
                n = ratusz__v1__audit_record__unpack(NULL, nv.mv_size - S_TAIL,
                                                     nv.mv_data);
            if (n && n->prev_digest.len == S_DIGEST) {
                np = n->prev_digest.data;
                next_follows = memcmp(np, computed, S_DIGEST) == 0;
            }
            if (n)
                ratusz__v1__audit_record__free_unpacked(n, NULL);
        }
        if (next_follows)
            s_broken(v, id, "the digest of record %llu was altered",
                     (unsigned long long)id);
        else
            s_broken(v, id,
                     "record %llu was altered: its content does not match "
                     "its digest",
                     (unsigned long long)id);
        return 0;
    }
    memcpy(v->prev, stored, S_DIGEST);
    v->have_prev = 1;
    v->checked++;
    v->last = id;
    v->expect = id + 1;
    return 0;
}

/* Records from v->expect on, one read transaction's worth. At the end the
 * last record must be the head the meta database names. */
static int s_verify_chunk(s_verify_t *v)
{
    rz_audit_t *a = v->a;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    uint64_t from = v->expect, upto = v->checked + S_VERIFY_CHUNK;
    MDB_val k = {sizeof from, &from}, val;
    int rc;

    if ((rc = s_read_begin(a, &txn)))
        return rc;
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        goto done;
    rc = mdb_cursor_get(c, &k, &val, MDB_SET_RANGE);
    while (rc == 0 && !v->bad && v->checked < upto) {
        if ((rc = s_verify_record(v, c, &k, &val)) || v->bad)
            break;
        rc = mdb_cursor_get(c, &k, &val, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND && !v->bad) {
        rc = s_get_meta(a, txn, "head", &val);
        if (rc == 0 && val.mv_size != 8 + S_DIGEST)
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            uint64_t head = s_get_be64(val.mv_data);
            if (head >= v->expect)
                s_broken(v, v->expect, "records %llu-%llu are missing",
                         (unsigned long long)v->expect,
                         (unsigned long long)head);
            else if (v->have_prev && v->checked &&
                     memcmp(v->prev, (uint8_t *)val.mv_data + 8, S_DIGEST))
                s_broken(v, v->last,
                         "record %llu is not the head the log recorded",
                         (unsigned long long)v->last);
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
        v->done = 1;
    }
    if (v->bad)
        v->done = 1;
done:
    if (c)
        mdb_cursor_close(c);
    s_read_end(a, txn);
    return rc;
}

/* Where to start and what to trust there. Sets *pruned to the last id
 * retention removed when the check starts at the oldest kept record. */
static int s_verify_start(s_verify_t *v, uint64_t from, uint64_t *pruned)
{
    rz_audit_t *a = v->a;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k, val;
    uint64_t oldest = 1;
    int rc;

    *pruned = 0;
    if ((rc = s_read_begin(a, &txn)))
        return rc;
    rc = s_get_meta(a, txn, "oldest", &val);
    if (rc == 0 && val.mv_size == 8)
        oldest = s_get_be64(val.mv_data);
    if ((rc = mdb_cursor_open(txn, a->records, &c)))
        goto done;

    if (from <= oldest) {
        v->expect = oldest;
        if (oldest == 1) {
            memset(v->prev, 0, S_DIGEST); /* the very first record */
            v->have_prev = 1;
        } else {
            *pruned = oldest - 1; /* trust the oldest kept prev_digest */
        }
        rc = 0;
        goto done;
    }
    /* trust the digest of the record before from */
    v->expect = from;
    uint64_t before = from - 1;
    k.mv_size = sizeof before;
    k.mv_data = &before;
    rc = mdb_cursor_get(c, &k, &val, MDB_SET_KEY);
    if (rc == 0 && val.mv_size >= S_TAIL) {
        memcpy(v->prev, (uint8_t *)val.mv_data + val.mv_size - S_DIGEST,
               S_DIGEST);
        v->have_prev = 1;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
done:
    if (c)
        mdb_cursor_close(c);
    s_read_end(a, txn);
    return rc;
}

int rz_audit_verify(rz_audit_t *a, uint64_t from, Ratusz__V1__VerifyResult *out)
{
    s_verify_t v;
    uint64_t pruned = 0;
    int rc;

    if (!out)
        return RZ_EINVAL;
    ratusz__v1__verify_result__init(out);
    if (!a)
        return RZ_EINVAL;
    memset(&v, 0, sizeof v);
    v.a = a;
    v.why = s_reason;
    v.why_len = sizeof s_reason;
    s_reason[0] = '\0';
    if ((rc = s_verify_start(&v, from, &pruned)))
        return s_fail("verify", rc);
    out->first = v.expect;
    while (!v.done)
        if ((rc = s_verify_chunk(&v)))
            return s_fail("verify", rc);
    out->ok = v.bad == 0;
    out->checked = v.checked;
    out->links = v.checked; /* every record is a link */
    out->first_bad = v.bad;
    out->last = v.last;
    if (!v.bad && pruned)
        snprintf(s_reason, sizeof s_reason,
                 "records up to %llu were removed by retention: checked from "
                 "record %llu, trusting its prev_digest",
                 (unsigned long long)pruned, (unsigned long long)pruned + 1);
    out->reason = s_reason;
    return 0;
}

/* ------------------------------------------------------------------------
 * Backup
 */

int rz_audit_backup(rz_audit_t *a, int fd)
{
    pthread_rwlock_rdlock(&a->lock);
    int rc = mdb_env_copyfd2(a->env, fd, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&a->lock);
    return s_fail("backup copy", rc);
}

int rz_audit_summary_file(const char *path, uint64_t *head_id,
                          uint8_t digest[32], uint64_t *records)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi rec, meta;
    MDB_stat st;
    MDB_val k = {4, (void *)"head"}, v;
    int rc;

    *head_id = *records = 0;
    memset(digest, 0, S_DIGEST);
    if ((rc = mdb_env_create(&env)))
        goto out;
    if ((rc = mdb_env_set_maxdbs(env, 4)) ||
        (rc = mdb_env_open(env, path,
                           MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                           0600)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
        (rc = mdb_dbi_open(txn, "records", MDB_INTEGERKEY, &rec)) ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) ||
        (rc = mdb_stat(txn, rec, &st)))
        goto out;
    *records = st.ms_entries;
    rc = mdb_get(txn, meta, &k, &v);
    if (rc == 0 && v.mv_size != 8 + S_DIGEST)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *head_id = s_get_be64(v.mv_data);
        memcpy(digest, (uint8_t *)v.mv_data + 8, S_DIGEST);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
out:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc && rzc_lmdb_is_lmdb(rc))
        rz_error("audit: %s: %s", path, mdb_strerror(rc));
    return rzc_lmdb_code(rc);
}
