/* store.c - the durable event log on LMDB
 *
 * Named databases and their encodings (store.h has the contract):
 *
 *   log        key  seq, native uint64 (MDB_INTEGERKEY), put with MDB_APPEND
 *              val  +------------------------+---------------------------+
 *                   | producer's Event bytes | stamp: Event{20,21,22}    |
 *                   +------------------------+---------------------------+
 *
 *   ids        key  +--------+----+----+     val  +-------------+-------------+
 *                   | source | 00 | id |          | seq (8, BE) | digest (16) |
 *                   +--------+----+----+          +-------------+-------------+
 *              digest = the first 16 bytes of SHA-256 over the producer's
 *              bytes (before the stamp): a republish with other content
 *              is a conflict, not a duplicate. Values of 8 bytes (seq only)
 *              were written before the digest: their content is unknown,
 *              and a republish of their id counts as a duplicate.
 *
 *   subjruns   key  +---------+---------+----+----------------+----------+
 *                   | run (4, | subject | 00 | time^2^63 (8,  | seq (8,  |
 *                   | BE)     |         |    | BE)            | BE)      |
 *                   +---------+---------+----+----------------+----------+
 *              val  (empty)
 *   runs       key  last seq of the run (8, BE)
 *              val  run (4, BE) | entries (8, BE) | earliest and latest
 *                   time^2^63 of its entries (8 + 8, BE)
 *              The subject index, as sorted runs. Run r holds the subject
 *              entries of the events after the run before it, up to its
 *              last seq, written once and whole in key order (MDB_APPEND),
 *              so an entry costs its bytes on an appended page: a B-tree
 *              keyed by subject rewrote a page per event, and more of them
 *              the larger the store grew. The entries of the events after
 *              the last run wait in memory (subjtab.h) until there are
 *              run_events of them; at open they are read again from the
 *              log. A subject query merges its entries from every run and
 *              from memory. Retention deletes an event's entry from its
 *              run; an entry whose event is gone anyway (removed while its
 *              entry was still in memory) is skipped by the query.
 *              Format 1 kept a "subjects" DUPSORT database (subject ->
 *              time | seq): migrating it makes it run 0.
 *   topics     key  topic                   dup (DUPFIXED)  seq (8, BE)
 *   times      key  time^2^63 (BE) | seq (BE), 16 bytes      val  (empty)
 *   consumers  key  group name              val  ConsumerGroup (protobuf)
 *   meta       key  "version"               val  "1"
 *              key  "chain"                 val  first chained seq (8, BE)
 *              key  "pseud.key"             val  the redaction key id the
 *                                                pseudonym index was built
 *                                                with (16 hex digits)
 *              key  "pseud.mark"            val  the index covers every
 *                                                seq up to this (8, BE)
 *
 *   pseudonyms key  raw pseudonym (17: the 130 bits of the MAC that the
 *                   pseudonym's 26 letters show)
 *                                           dup (DUPFIXED)  seq (8, BE)
 *              Built behind the log by the pseudonym indexer (pindex.c),
 *              not by the writer. It was added without a format bump: an
 *              older ratuszd never opens it by name, so to it the store
 *              is unchanged; what it appends lies past pseud.mark and is
 *              indexed when this version runs again; what its retention
 *              removes leaves index entries without their event, which
 *              the query skips.
 *
 *   chain      key  first seq of the commit, native uint64 (MDB_INTEGERKEY),
 *                   put with MDB_APPEND: one link per append transaction
 *              val  +-----------+-------------+-------+--------------------+
 *                   | prev (32) | digest (32) | n (4, | run (8) x n        |
 *                   |           |             |  BE)  |                    |
 *                   +-----------+-------------+-------+--------------------+
 *              covering seqs first .. first+n-1 (an append transaction's new
 *              events are consecutive). digest = SHA-256(prev || for each
 *              event: seq (8, BE) || stored length (8, BE) || stored bytes);
 *              prev is the digest of the link before (32 zero bytes for the
 *              first). run[i] is the first 8 bytes of that same hash taken
 *              after event i, so verify can name the first event that
 *              differs without a second pass over the bytes: one SHA-256
 *              stream per commit, plus one final block per event.
 *
 * Flipping the sign bit of the time makes big-endian bytes sort like the
 * signed number, so LMDB's default memcmp order is (time, seq) order.
 *
 * Query cursor (opaque to clients, at most RZ_CURSOR_MAX bytes):
 *
 *   +------+-----------------+------------------------------------------+
 *   | kind | check (4, BE)   | position of the last entry examined      |
 *   +------+-----------------+------------------------------------------+
 *     'S'    FNV-1a of kind,   subjects dup: flipped time | seq (16)
 *     'A'    key, since,       times key:    flipped time | seq (16)
 *     'T'    until             topic query:  seq (8)
 *     'P'                      pseudonym query: seq (8)
 *
 * The check binds a cursor to the query that made it, so a cursor from
 * another query (or not from us at all) is RZ_EBADCURSOR rather than a
 * silently wrong page.
 *
 * Map growth: mdb_env_set_mapsize needs no transaction to be active in the
 * process, so every transaction (the writer's included) runs under a
 * rwlock held shared, and a resize takes it exclusively. The lock prefers
 * writers, or a steady stream of readers would starve a resize and with it
 * all ingest.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#endif

#include "store.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ratusz/core/lmdb.h"
#include "sha256.h"
#include "subjtab.h"

#define S_MAXDBS 16 /* ours are 11; room for quarantine, ... */
#define S_VERSION "1"
#define S_FILE_MODE 0640 /* tax events carry personal data */
#define S_DIR_MODE 0750
#define S_KEY_BUF 512 /* >= mdb_env_get_maxkeysize() (511) */
#define S_RESIZE_TRIES 8

/* A stamp is at most three tags (2 bytes each), two 10-byte varints and a
 * length-prefixed principal: 2+10 + 2+10 + 2+10 + principal_len. */
#define S_STAMP_MAX RZ_STORE_STAMP_MAX

/* Events a time-bounded topic query examines per page before it returns
 * what it has and a cursor: the topic index has no time, so each candidate
 * is read, and one request must not hold a reader for a whole topic. */
#define S_QUERY_BUDGET 65536

#define S_TIME_BIAS UINT64_C(0x8000000000000000)

/* ids values: seq, then the content digest (see the layout above). */
#define S_ID_DIGEST 16
#define S_ID_VAL (8 + S_ID_DIGEST)
#define S_ID_VAL_OLD 8

/* The lock that keeps a second broker off the data dir. */
#define S_LOCK_FILE "ratuszd.lock"

/* Hash chain links (see the layout above). */
#define S_DIGEST 32
#define S_RUN 8
#define S_LINK_HDR (2 * S_DIGEST + 4)
/* A link retention rewrote (store.h): n's top bit, a seal, and per event
 * a state byte and its own hash. */
#define S_LINK_SEALED UINT32_C(0x80000000)
#define S_SEAL_ENT (1 + S_DIGEST)
#define S_SEALED_SIZE(n) (S_LINK_HDR + S_DIGEST + (size_t)S_SEAL_ENT * (n))
enum { S_ENT_KEPT = 0, S_ENT_PRUNED = 1 };

/* The subject index (see the layout above): a run is written when this
 * many events with a subject came after the last one, unless the store
 * was opened with another count; up to three tables are kept. */
#define S_RUN_EVENTS 65536
#define S_MT_MAX 3
#define S_RUN_NO 4
#define S_SUBJ_KEY(len) (S_RUN_NO + (len) + 1 + 16)
/* the longest subject a run key has room for */
#define S_SUBJ_MAX(s) ((s)->max_key - S_SUBJ_KEY(0))
/* runs: seq (8, BE) -> run number (4, BE), entries (8, BE), the earliest
 * and the latest time in it (8 each, sign bit flipped, BE) */
#define S_RUN_VAL (S_RUN_NO + 8 + 8 + 8)
#define S_RUN_TMIN (S_RUN_NO + 8)
#define S_RUN_TMAX (S_RUN_NO + 16)
/* Tries of a subject query whose snapshot the tables no longer reach */
#define S_QUERY_TRIES 8

/* Events rz_store_verify checks per read transaction: a long verify must
 * not pin old pages, nor hold off a map resize (and with it all ingest). */
#define S_VERIFY_CHUNK 65536

enum {
    S_CUR_SUBJECT = 'S',
    S_CUR_TOPIC = 'T',
    S_CUR_ALL = 'A',
    S_CUR_PSEUD = 'P'
};

/* meta keys of the pseudonym index */
#define S_PSEUD_KEY "pseud.key"
#define S_PSEUD_MARK "pseud.mark"
/* one batch entry: raw pseudonym, then seq (8, BE) */
#define S_PSEUD_ENT (RZ_STORE_PSEUD + 8)
#define S_CUR_HDR 5

struct rz_store {
    MDB_env *env;
    MDB_dbi log, ids, topics, times, consumers, meta, chain;
    MDB_dbi subjruns, runs; /* the subject index: sorted runs */
    MDB_dbi forget; /* ids of pruned events kept for the dedup window */
    MDB_dbi pseud;  /* the pseudonym index: raw pseudonym -> seqs */
    /* what pseudonyms an event has (pindex.c); retention asks too */
    rz_store_pseud_fn pseud_fn;
    void *pseud_user;
    /* the indexer's batch: entries of RZ_STORE_PSEUD + 8 bytes */
    uint8_t *pseud_buf;
    size_t pseud_cap;
    pthread_rwlock_t lock;
    MDB_txn *ids_txn; /* rz_store_ids_find's, reset between its calls */
    int lock_ok;
    /* the subject index past the last run (subjtab.h): mt[0] takes the
     * new events; the tables before it went into runs and stay for the
     * queries that began before those runs were written */
    pthread_mutex_t mt_mu;
    int mt_mu_ok;
    rz_subjtab_t *mt[S_MT_MAX];
    size_t n_mt;
    size_t mt_mark;    /* entries of mt[0] committed before this write */
    int mt_split;      /* this write began mt[0]: undone if it fails */
    size_t run_events; /* a run is written once mt[0] holds this many */
    size_t map_size; /* changed only with lock held exclusively */
    size_t map_max;
    size_t max_key;
    int sync;
    int full_logged; /* "store full" said once until an append works */
    int lock_fd;     /* DATA_DIR/ratuszd.lock, flock'd while open */
    int last_error;  /* LMDB or errno code behind the last failed append */
    /* writer scratch: the stored values of the last append */
    void *arena;
    size_t arena_cap;
    /* hash chain: the writer's SHA-256 state and the link being built */
    rz_sha256_t chain_h; /* the hash chain of the transaction being
                            written (sha256.h: no allocation per event) */
    void *link;
    size_t link_cap;
    uint64_t chain_from; /* seqs below were stored before the chain */
    int chain_off;       /* rz__store_chain_off: benchmarks only */
    /* retention (its own thread): SHA-256 states and a sealed link */
    void *seal;
    size_t seal_cap;
};

/* ------------------------------------------------------------------------
 * Encodings
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

static void s_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint32_t s_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* time | seq as 16 sortable bytes (subjects dups, times keys) */
static void s_time_seq(uint8_t out[16], int64_t time, uint64_t seq)
{
    s_put_be64(out, (uint64_t)time ^ S_TIME_BIAS);
    s_put_be64(out + 8, seq);
}

/* log keys are native uint64 and may sit unaligned in a page */
static uint64_t s_key_seq(const MDB_val *k)
{
    uint64_t seq = 0;
    if (k->mv_size == sizeof seq)
        memcpy(&seq, k->mv_data, sizeof seq);
    return seq;
}

static uint32_t s_fnv(uint32_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t s_query_check(int kind, const char *key, size_t klen,
                              int64_t since, int64_t until)
{
    uint8_t k = (uint8_t)kind, b[16];
    s_put_be64(b, (uint64_t)since);
    s_put_be64(b + 8, (uint64_t)until);
    uint32_t h = s_fnv(2166136261u, &k, 1);
    h = s_fnv(h, key, klen);
    return s_fnv(h, b, sizeof b);
}

static int s_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* The event's time (Event field 6) read straight off the wire, so that a
 * time-bounded topic query does not unpack whole events with their data.
 * The last occurrence wins, as in any protobuf parser. Returns 0, or -1 if
 * the bytes are not well-formed protobuf. */
static int s_event_time(const uint8_t *p, size_t len, int64_t *out)
{
    const uint8_t *end = p + len;
    uint64_t tag, v;

    *out = 0;
    while (p < end) {
        if (s_varint(&p, end, &tag))
            return -1;
        switch (tag & 7) {
        case 0:
            if (s_varint(&p, end, &v))
                return -1;
            if ((tag >> 3) == 6)
                *out = (int64_t)v;
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 2:
            if (s_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            p += v;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        default: return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Errors, locking and transactions
 */

/* rzc_lmdb_code, logging the original once. */
static int s_fail(const char *what, int rc)
{
    if (rzc_lmdb_is_lmdb(rc) && rc != MDB_MAP_FULL)
        rz_error("store: %s: %s", what, mdb_strerror(rc));
    return rzc_lmdb_code(rc);
}

static void s_note_map(rz_store_t *s)
{
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0)
        s->map_size = info.me_mapsize;
}

/* Another process grew the map (MDB_MAP_RESIZED): adopt its size. */
static int s_adopt_map(rz_store_t *s)
{
    pthread_rwlock_wrlock(&s->lock);
    int rc = mdb_env_set_mapsize(s->env, 0);
    if (rc == 0)
        s_note_map(s);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Double the map, up to map_max. Returns 0, MDB_MAP_FULL when it is
 * already at map_max, or an LMDB error. */
static int s_grow_map(rz_store_t *s)
{
    pthread_rwlock_wrlock(&s->lock);
    int rc = rzc_lmdb_grow(s->env, s->map_max, &s->map_size);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Begin a read transaction; on success the lock is held shared until
 * s_read_end. Returns 0 or a translated error. */
static int s_read_begin(rz_store_t *s, MDB_txn **txn)
{
    int rc = 0;

    for (int i = 0; i < S_RESIZE_TRIES; i++) {
        pthread_rwlock_rdlock(&s->lock);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->lock);
        if (rc != MDB_MAP_RESIZED)
            break;
        rc = s_adopt_map(s);
        if (rc != 0)
            break;
        rc = MDB_MAP_RESIZED;
    }
    return s_fail("read transaction", rc);
}

static void s_read_end(rz_store_t *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->lock);
}

typedef int (*s_txn_fn)(rz_store_t *s, MDB_txn *txn, void *arg);

/* Run fn in a write transaction and commit it. A full map is grown and the
 * whole transaction run again (fn must be repeatable: an aborted
 * transaction left nothing behind). Returns 0, MDB_MAP_FULL when the map
 * cannot grow, another LMDB code, or what fn returned. */
static int s_write(rz_store_t *s, s_txn_fn fn, void *arg)
{
    int rc, resized = 0;

    for (;;) {
        MDB_txn *txn = NULL;

        pthread_rwlock_rdlock(&s->lock);
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = fn(s, txn, arg);
            if (rc == 0)
                rc = mdb_txn_commit(txn); /* frees txn, even on failure */
            else
                mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&s->lock);

        if (rc == MDB_MAP_FULL) {
            rc = s_grow_map(s);
            if (rc == 0)
                continue;
        } else if (rc == MDB_MAP_RESIZED && resized++ < S_RESIZE_TRIES) {
            rc = s_adopt_map(s);
            if (rc == 0)
                continue;
        }
        return rc;
    }
}

static int s_reserve(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n);
    if (!p)
        return RZ_ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static int s_head(rz_store_t *s, MDB_txn *txn, uint64_t *head)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;

    *head = 0;
    int rc = mdb_cursor_open(txn, s->log, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0)
        *head = s_key_seq(&k);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    mdb_cursor_close(c);
    return rc;
}

/* ------------------------------------------------------------------------
 * Open and close
 */

/* Take DATA_DIR/ratuszd.lock for this process, with its pid written in
 * it for whoever finds the lock taken. A flock goes with the process: a
 * crashed broker leaves no stale lock, only a stale pid, which the next one
 * overwrites. Returns the fd, or -EBUSY (logged with the holder's pid) or
 * -errno. */
static int s_lock_dir(const char *dir)
{
    long holder = 0;
    int rc = rzc_lock_dir(dir, S_LOCK_FILE, S_FILE_MODE, &holder);
    if (rc == -EBUSY && holder > 0)
        rz_error("store: DATA_DIR %s is in use by ratuszd pid %ld", dir,
                 holder);
    else if (rc == -EBUSY)
        rz_error("store: DATA_DIR %s is in use by another ratuszd", dir);
    else if (rc < 0)
        rz_error("store: %s/%s: %s", dir, S_LOCK_FILE, strerror(-rc));
    return rc;
}

/* s_setup_txn's arg while a migration runs: the store is not stamped */
static const int s_migrating = 1;

static int s_setup_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    const unsigned dup = MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED;
    MDB_val k = {7, (void *)"version"}, v;
    int rc;

    if ((rc = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &s->log)) ||
        (rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &s->ids)) ||
        (rc = mdb_dbi_open(txn, "subjruns", MDB_CREATE, &s->subjruns)) ||
        (rc = mdb_dbi_open(txn, "runs", MDB_CREATE, &s->runs)) ||
        (rc = mdb_dbi_open(txn, "topics", dup, &s->topics)) ||
        (rc = mdb_dbi_open(txn, "times", MDB_CREATE, &s->times)) ||
        (rc = mdb_dbi_open(txn, "consumers", MDB_CREATE, &s->consumers)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(txn, "chain", MDB_CREATE | MDB_INTEGERKEY,
                           &s->chain)) ||
        (rc = mdb_dbi_open(txn, "forget", MDB_CREATE, &s->forget)) ||
        (rc = mdb_dbi_open(txn, "pseudonyms", dup, &s->pseud)))
        return rc;

    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        v.mv_size = strlen(S_VERSION);
        v.mv_data = (void *)S_VERSION;
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != strlen(S_VERSION) ||
                           memcmp(v.mv_data, S_VERSION, v.mv_size) != 0)) {
        rz_error("store: layout version \"%.*s\" is not ours (%s)",
                 (int)(v.mv_size > 32 ? 32 : v.mv_size), (char *)v.mv_data,
                 S_VERSION);
        return RZ_ESTORE;
    }
    if (rc)
        return rc;

    /* rz_store_open refused a newer format and migrated an older one
     * (which stamps each step): what is left to do is to stamp a new
     * store */
    k.mv_size = 6;
    k.mv_data = (void *)"format";
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && arg != &s_migrating) {
        char f[16];
        v.mv_size = (size_t)snprintf(f, sizeof f, "%u", RZ_STORE_FORMAT);
        v.mv_data = f;
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    if (rc)
        return rc;

    /* The chain starts after whatever a version without it stored: the
     * layout is otherwise unchanged, so the version stays "1". */
    k.mv_size = 5;
    k.mv_data = (void *)"chain";
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t be[8];
        uint64_t head;
        if ((rc = s_head(s, txn, &head)))
            return rc;
        s->chain_from = head + 1;
        s_put_be64(be, s->chain_from);
        v.mv_size = sizeof be;
        v.mv_data = be;
        return mdb_put(txn, s->meta, &k, &v, 0);
    }
    if (rc == 0 && v.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        s->chain_from = s_get_be64(v.mv_data);
    return rc;
}

/* ------------------------------------------------------------------------
 * Format version and migrations
 */

/* meta "format" as a number: 0 when the store has none (a new store, or
 * one made before the key), or -1 when it is not a number. */
static long s_format_parse(const MDB_val *v)
{
    char f[16];
    if (v->mv_size == 0 || v->mv_size >= sizeof f)
        return -1;
    memcpy(f, v->mv_data, v->mv_size);
    f[v->mv_size] = '\0';
    char *end;
    long n = strtol(f, &end, 10);
    return *end || n < 1 ? -1 : n;
}

static int s_format_get(MDB_txn *txn, MDB_dbi meta, long *format)
{
    MDB_val k = {6, (void *)"format"}, v;
    int rc = mdb_get(txn, meta, &k, &v);
    *format = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0)
        *format = s_format_parse(&v); /* -1: not a number */
    return rc;
}

/* One step of the layout, from format `from` to from + 1, in one write
 * transaction (which also stamps from + 1). Format 1 is the first one
 * kept. A new step is a row here and RZ_STORE_FORMAT + 1. */
typedef int (*s_migrate_fn)(rz_store_t *s, MDB_txn *txn);
static int s_migrate_subjects(rz_store_t *s, MDB_txn *txn);
static int s_subj_load(rz_store_t *s);
static const struct {
    unsigned from;
    s_migrate_fn run;
    const char *what;
} s_migrations[] = {
    {1, s_migrate_subjects, "the subject index is kept as sorted runs"},
    {0, NULL, NULL}, /* end */
};

struct s_step {
    s_migrate_fn run;
    unsigned to;
};

static int s_migrate_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_step *st = arg;
    char f[16];
    int rc = st->run(s, txn);
    if (rc)
        return rc;
    MDB_val k = {6, (void *)"format"};
    MDB_val v = {(size_t)snprintf(f, sizeof f, "%u", st->to), f};
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* The copy kept before a migration step: DIR/data.mdb.format-N, synced
 * and named durably. */
static int s_migrate_copy(rz_store_t *s, const char *dir, long from)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb.format-%ld", dir, from) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_FILE_MODE);
    if (fd < 0) {
        rz_error("store: %s: %s", path, strerror(errno));
        return -errno;
    }
    int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
    if (rc == 0 && fsync(fd) != 0)
        rc = errno;
    close(fd);
    if (rc == 0)
        rc = -rzc_sync_dir(dir);
    if (rc)
        return s_fail("copy before migration", rc);
    rz_info("store: format %ld kept as %s before migrating", from, path);
    return 0;
}

/* Refuse a store of a newer format; migrate an older one. */
static int s_format_settle(rz_store_t *s, const char *dir)
{
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    long format = 0;
    int rc = s_read_begin(s, &txn);
    if (rc)
        return rc;
    rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (rc == 0) {
        rc = s_format_get(txn, meta, &format);
        if (rc == 0 && format == 0)
            format = 1; /* made before "format" was kept */
    } else if (rc == MDB_NOTFOUND) {
        rc = 0; /* a new store */
    }
    s_read_end(s, txn);
    if (rc)
        return s_fail("format version", rc);
    if (format < 0) {
        rz_error("store: %s: meta \"format\" is not a version number: the "
                 "store is damaged",
                 dir);
        return RZ_ESTORE;
    }
    if (format > RZ_STORE_FORMAT) {
        rz_error("store: %s holds a store of format %ld, newer than this "
                 "ratuszd %s knows (format %d): run the ratuszd that wrote "
                 "it (or a later one), or restore a backup made with "
                 "format %d",
                 dir, format, RZ_VERSION, RZ_STORE_FORMAT, RZ_STORE_FORMAT);
        return RZ_ECONFIG;
    }
    if (format == 0) /* stamped by s_setup_txn */
        return 0;
    for (long f = format; f < RZ_STORE_FORMAT; f++) {
        size_t i = 0;
        while (s_migrations[i].run && s_migrations[i].from != (unsigned)f)
            i++;
        if (!s_migrations[i].run) {
            rz_error("store: %s: no migration from format %ld to %ld", dir, f,
                     f + 1);
            return RZ_ESTORE;
        }
        if ((rc = s_migrate_copy(s, dir, f)))
            return rc;
        /* the handles, and meta's for the stamp */
        if ((rc = s_write(s, s_setup_txn, (void *)&s_migrating)))
            return s_fail("migration", rc);
        struct s_step st = {s_migrations[i].run, (unsigned)f + 1};
        if ((rc = s_write(s, s_migrate_txn, &st)))
            return s_fail("migration", rc);
        rz_info("store: %s migrated from format %ld to %ld: %s", dir, f, f + 1,
                s_migrations[i].what);
    }
    return 0;
}

int rz_store_open(rz_store_t **out, const rz_store_opts_t *opts)
{
    rz_store_t *s = NULL;
    pthread_rwlockattr_t attr;
    unsigned flags = MDB_NOTLS;
    char why[4200];
    int rc;

    if (!out)
        return RZ_EINVAL;
    *out = NULL;
    if (!opts || !opts->dir || !*opts->dir || opts->map_size == 0 ||
        opts->map_max < opts->map_size ||
        (opts->sync != RZ_SYNC_FULL && opts->sync != RZ_SYNC_OS))
        return RZ_EINVAL;

    rc = rzc_mkdirs(opts->dir, S_DIR_MODE);
    if (rc)
        goto fail;
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = RZ_ENOMEM;
        goto fail;
    }
    s->map_max = opts->map_max;
    s->sync = opts->sync;
    s->lock_fd = s_lock_dir(opts->dir);
    if (s->lock_fd < 0) {
        rc = s->lock_fd;
        goto fail;
    }

    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    s->lock_ok = 1;
    if ((rc = pthread_mutex_init(&s->mt_mu, NULL))) {
        rc = -rc;
        goto fail;
    }
    s->mt_mu_ok = 1;
    s->run_events = opts->subject_run ? opts->subject_run : S_RUN_EVENTS;

    /* An existing environment keeps the map it grew to in earlier runs */
    if (opts->sync == RZ_SYNC_OS)
        flags |= MDB_NOSYNC;
    rzc_lmdb_opts_t env = {.dir = opts->dir,
                           .dir_mode = S_DIR_MODE,
                           .file_mode = S_FILE_MODE,
                           .flags = flags,
                           .max_dbs = S_MAXDBS,
                           .map_size = opts->map_size};
    /* made durably: see rzc_lmdb_open */
    if ((rc = rzc_lmdb_open(&s->env, &env, why, sizeof why))) {
        rz_error("store: %s", why);
        goto fail;
    }
    s_note_map(s);
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->max_key > S_KEY_BUF - 1)
        s->max_key = S_KEY_BUF - 1;

    rc = s_format_settle(s, opts->dir);
    if (rc)
        goto fail;
    rc = s_write(s, s_setup_txn, NULL);
    if (rc == 0)
        rc = s_subj_load(s);
    if (rc)
        goto lmdb_fail;
    *out = s;
    return 0;

lmdb_fail:
    if (rc == MDB_MAP_FULL)
        rz_error("store: %s: map_max %zu bytes is too small", opts->dir,
                 opts->map_max);
    else if (rzc_lmdb_is_lmdb(rc))
        rz_error("store: %s: %s", opts->dir, mdb_strerror(rc));
    rc = rzc_lmdb_code(rc);
fail:
    rz_store_close(&s);
    return rc;
}

void rz_store_close(rz_store_t **sp)
{
    if (!sp || !*sp)
        return;
    rz_store_t *s = *sp;
    *sp = NULL;
    if (s->ids_txn)
        mdb_txn_abort(s->ids_txn);
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_ok)
        pthread_rwlock_destroy(&s->lock);
    if (s->mt_mu_ok)
        pthread_mutex_destroy(&s->mt_mu);
    for (size_t i = 0; i < s->n_mt; i++)
        rz_subjtab_free(s->mt[i]);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* after LMDB: the lock outlives the env */
    free(s->arena);
    free(s->link);
    free(s->seal);
    free(s->pseud_buf);
    free(s);
}

const char *rz_store_last_error(const rz_store_t *s)
{
    if (!s || !s->last_error)
        return "";
    if (rzc_lmdb_is_lmdb(s->last_error))
        return mdb_strerror(s->last_error);
    return rz_strerror(s->last_error);
}

int rz_store_durability(const rz_store_t *s)
{
    return s && s->sync == RZ_SYNC_OS ? RZ_DURABILITY_WRITTEN
                                      : RZ_DURABILITY_SYNCED;
}

/* ------------------------------------------------------------------------
 * Append
 */

struct s_append {
    rz_store_item_t *items;
    size_t n;
    int64_t ingest_time;
};

/* Item checks the store itself needs: every key must fit LMDB's limit and
 * the topic index needs a non-empty key. */
static int s_item_ok(const rz_store_t *s, const rz_store_item_t *it)
{
    return (it->bytes || !it->len) && (it->source || !it->source_len) &&
           (it->id || !it->id_len) && (it->subject || !it->subject_len) &&
           (it->principal || !it->principal_len) && it->topic &&
           it->source_len + 1 + it->id_len <= s->max_key &&
           it->subject_len <= S_SUBJ_MAX(s) && it->topic_len >= 1 &&
           it->topic_len <= s->max_key;
}

/* Write producer bytes + stamp to out; returns the length. proto3 packing
 * leaves out zero values, but a zero ingest_time or an empty principal must
 * still overwrite whatever the producer put in fields 21 and 22, so those
 * are written explicitly. (seq is never 0.) */
size_t rz_store_stamp(uint8_t *out, uint64_t seq, int64_t ingest_time,
                      const char *principal, size_t principal_len)
{
    Ratusz__V1__Event st = RATUSZ__V1__EVENT__INIT;
    char pbuf[256];
    char *p = principal_len < sizeof pbuf ? pbuf : malloc(principal_len + 1);
    if (!p)
        return 0;
    if (principal_len)
        memcpy(p, principal, principal_len);
    p[principal_len] = '\0';
    st.seq = seq;
    st.ingest_time = ingest_time;
    st.principal = p;
    size_t n = ratusz__v1__event__pack(&st, out);
    if (p != pbuf)
        free(p);
    /* proto3 leaves zero and "" out, which would let a producer's own
     * values stand: write them explicitly */
    if (ingest_time == 0) {
        out[n++] = 0xa8; /* field 21, varint */
        out[n++] = 0x01;
        out[n++] = 0x00;
    }
    if (principal_len == 0) {
        out[n++] = 0xb2; /* field 22, length-delimited */
        out[n++] = 0x01;
        out[n++] = 0x00;
    }
    assert(n <= RZ_STORE_STAMP_MAX + principal_len);
    return n;
}

static size_t s_stamp(const rz_store_item_t *it, uint64_t seq,
                      int64_t ingest_time, uint8_t *out)
{
    if (it->len)
        memcpy(out, it->bytes, it->len);
    return it->len + rz_store_stamp(out + it->len, seq, ingest_time,
                                    it->principal, it->principal_len);
}

/* The chain's hash input for one event: seq and stored length, 8 bytes BE
 * each, then the stored bytes. */
static void s_event_hdr(uint8_t hdr[16], uint64_t seq, size_t len)
{
    s_put_be64(hdr, seq);
    s_put_be64(hdr + 8, (uint64_t)len);
}

static void s_hash_event(rz_sha256_t *h, uint64_t seq, const void *bytes,
                         size_t len)
{
    uint8_t hdr[16];
    s_event_hdr(hdr, seq, len);
    rz_sha256_update(h, hdr, sizeof hdr);
    rz_sha256_update(h, bytes, len);
}

/* The first S_RUN bytes of the digest so far, h left to go on. */
static void s_hash_run(const rz_sha256_t *h, uint8_t *out)
{
    uint8_t d[RZ_SHA256_LEN];
    rz_sha256_peek(h, d);
    memcpy(out, d, S_RUN);
}

/* The ids value of a new event: seq, then the digest of its producer's
 * bytes. */
static void s_id_value(const rz_store_item_t *it, uint64_t seq,
                       uint8_t out[S_ID_VAL])
{
    uint8_t d[RZ_SHA256_LEN];
    rz_sha256_t h;
    s_put_be64(out, seq);
    rz_sha256_init(&h);
    rz_sha256_update(&h, it->bytes, it->len);
    rz_sha256_final(&h, d);
    memcpy(out + 8, d, S_ID_DIGEST);
}

/* Start this transaction's link after the last one (its digest is prev). */
static int s_link_begin(rz_store_t *s, MDB_txn *txn)
{
    uint8_t *link = s->link;
    MDB_cursor *c = NULL;
    MDB_val k, v;

    int rc = mdb_cursor_open(txn, s->chain, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && v.mv_size < S_LINK_HDR)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        memcpy(link, (const uint8_t *)v.mv_data + S_DIGEST, S_DIGEST);
    else if (rc == MDB_NOTFOUND)
        memset(link, 0, S_DIGEST), rc = 0;
    mdb_cursor_close(c);
    if (rc)
        return rc;
    rz_sha256_init(&s->chain_h);
    rz_sha256_update(&s->chain_h, link, S_DIGEST);
    return 0;
}

/* Put the link of the n new events from first on (none: no link). */
static int s_link_end(rz_store_t *s, MDB_txn *txn, uint64_t first, size_t n)
{
    uint8_t *link = s->link;
    MDB_val k = {sizeof first, &first};
    MDB_val v = {S_LINK_HDR + S_RUN * n, link};

    if (!n)
        return 0;
    rz_sha256_final(&s->chain_h, link + S_DIGEST);
    s_put_be32(link + 2 * S_DIGEST, (uint32_t)n);
    return mdb_put(txn, s->chain, &k, &v, MDB_APPEND);
}

/* ------------------------------------------------------------------------
 * The subject index: runs, and the tables of what came after them
 * (the layout is at the top; subjtab.h has the tables)
 */

/* The last run: the seq it reaches (0 and *have 0 when there is none) and
 * its number. */
static int s_runs_last(rz_store_t *s, MDB_txn *txn, uint64_t *mark,
                       uint32_t *run, int *have)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;

    *mark = 0;
    *run = 0;
    *have = 0;
    int rc = mdb_cursor_open(txn, s->runs, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && (k.mv_size != 8 || v.mv_size != S_RUN_VAL))
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *mark = s_get_be64(k.mv_data);
        *run = s_get_be32(v.mv_data);
        *have = 1;
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_cursor_close(c);
    return rc;
}

/* A run entry's key: run | subject | 00 | time | seq. */
struct s_run_put {
    MDB_cursor *c;
    size_t max_key;
    uint64_t n;
    uint8_t tmin[8], tmax[8]; /* of the entries put (n > 0) */
    uint8_t key[S_KEY_BUF];   /* the run's number first */
};

static int s_run_put(const char *subject, size_t len,
                     const uint8_t ent[RZ_SUBJTAB_ENT], void *user)
{
    struct s_run_put *r = user;
    MDB_val k = {S_SUBJ_KEY(len), r->key}, v = {0, r->key};
    if (k.mv_size > r->max_key)
        return MDB_BAD_VALSIZE; /* refused before it was stored */
    memcpy(r->key + S_RUN_NO, subject, len);
    r->key[S_RUN_NO + len] = 0;
    memcpy(r->key + S_RUN_NO + len + 1, ent, RZ_SUBJTAB_ENT);
    if (!r->n++ || memcmp(ent, r->tmin, 8) < 0)
        memcpy(r->tmin, ent, 8);
    if (r->n == 1 || memcmp(ent, r->tmax, 8) > 0)
        memcpy(r->tmax, ent, 8);
    return mdb_cursor_put(r->c, &k, &v, MDB_APPEND);
}

/* Put the run of number run into txn: the entries each calls for, then
 * its record in runs, reaching seq last. */
static int s_run_write(rz_store_t *s, MDB_txn *txn, uint32_t run, uint64_t last,
                       int (*each)(void *, struct s_run_put *), void *arg)
{
    struct s_run_put r = {.max_key = s->max_key, .tmin = {0}, .tmax = {0}};
    uint8_t kb[8], vb[S_RUN_VAL];
    int rc;

    s_put_be32(r.key, run);
    if ((rc = mdb_cursor_open(txn, s->subjruns, &r.c)))
        return rc;
    rc = each(arg, &r);
    mdb_cursor_close(r.c);
    if (rc)
        return rc;
    s_put_be64(kb, last);
    s_put_be32(vb, run);
    s_put_be64(vb + S_RUN_NO, r.n);
    memcpy(vb + S_RUN_TMIN, r.tmin, 8);
    memcpy(vb + S_RUN_TMAX, r.tmax, 8);
    MDB_val k = {sizeof kb, kb}, v = {sizeof vb, vb};
    return mdb_put(txn, s->runs, &k, &v, MDB_APPEND);
}

static int s_run_from_table(void *arg, struct s_run_put *r)
{
    int rc = rz_subjtab_each(arg, s_run_put, r);
    return rc == RZ_ENOMEM ? ENOMEM : rc;
}

static int s_subj_add(rz_store_t *s, const char *subject, size_t len,
                      int64_t time, uint64_t seq)
{
    pthread_mutex_lock(&s->mt_mu);
    int rc = rz_subjtab_add(s->mt[0], subject, len, time, seq);
    pthread_mutex_unlock(&s->mt_mu);
    return rc ? ENOMEM : 0;
}

/* Before a write that stores events (one thread at a time: the writer,
 * or the applier): what mt[0] holds now is committed. */
static void s_subj_prepare(rz_store_t *s)
{
    s->mt_mark = rz_subjtab_count(s->mt[0]);
    s->mt_split = 0;
}

/* Forget what a try of the write added since s_subj_prepare. */
static void s_subj_undo(rz_store_t *s)
{
    pthread_mutex_lock(&s->mt_mu);
    if (s->mt_split) {
        rz_subjtab_free(s->mt[0]);
        for (size_t i = 1; i < s->n_mt; i++)
            s->mt[i - 1] = s->mt[i];
        s->mt[--s->n_mt] = NULL;
        s->mt_split = 0;
    }
    rz_subjtab_truncate(s->mt[0], s->mt_mark);
    pthread_mutex_unlock(&s->mt_mu);
}

/* After the write: undone when it failed; when it wrote a run, only the
 * table of that run stays behind the new one. */
static void s_subj_end(rz_store_t *s, int committed)
{
    if (!committed) {
        s_subj_undo(s);
        return;
    }
    if (!s->mt_split)
        return;
    pthread_mutex_lock(&s->mt_mu);
    while (s->n_mt > 2) {
        rz_subjtab_free(s->mt[--s->n_mt]);
        s->mt[s->n_mt] = NULL;
    }
    s->mt_split = 0;
    pthread_mutex_unlock(&s->mt_mu);
}

/* First in a write that stores events after head: undo what an earlier
 * try of it left (s_write runs it again after growing the map); then, once
 * mt[0] holds run_events entries, write them as the next run and begin a
 * new table. */
static int s_subj_begin(rz_store_t *s, MDB_txn *txn, uint64_t head)
{
    uint64_t mark;
    uint32_t run;
    int have, rc;

    s_subj_undo(s);
    if (rz_subjtab_count(s->mt[0]) < s->run_events)
        return 0;
    if ((rc = s_runs_last(s, txn, &mark, &run, &have)) ||
        (rc = s_run_write(s, txn, have ? run + 1 : 0, head, s_run_from_table,
                          s->mt[0])))
        return rc;
    rz_subjtab_t *t = rz_subjtab_new(head);
    if (!t)
        return ENOMEM;
    pthread_mutex_lock(&s->mt_mu);
    for (size_t i = s->n_mt; i > 0; i--)
        s->mt[i] = s->mt[i - 1];
    s->mt[0] = t;
    s->n_mt++;
    s->mt_split = 1;
    pthread_mutex_unlock(&s->mt_mu);
    return 0;
}

/* At open: the table of the events after the last run, read again from
 * the log. */
static int s_subj_load(rz_store_t *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint64_t mark, from, bad = 0;
    uint32_t run;
    int have;
    rz_subjtab_t *t = NULL;
    int rc = s_read_begin(s, &txn);
    if (rc)
        return rc;
    if ((rc = s_runs_last(s, txn, &mark, &run, &have)) ||
        (rc = mdb_cursor_open(txn, s->log, &c)))
        goto out;
    if (!(t = rz_subjtab_new(mark))) {
        rc = ENOMEM;
        goto out;
    }
    from = mark + 1;
    k.mv_size = sizeof from;
    k.mv_data = &from;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        Ratusz__V1__Event *ev =
            ratusz__v1__event__unpack(NULL, v.mv_size, v.mv_data);
        if (!ev) {
            bad++; /* damaged in the file: verify names it */
            continue;
        }
        if (ev->subject && *ev->subject &&
            rz_subjtab_add(t, ev->subject, strlen(ev->subject), ev->time,
                           s_key_seq(&k)))
            rc = ENOMEM;
        ratusz__v1__event__free_unpacked(ev, NULL);
        if (rc)
            break;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (bad)
        rz_warn("store: %" PRIu64 " events after seq %" PRIu64 " cannot be "
                "decoded and are left out of the subject index: `ratusz "
                "verify` names them",
                bad, mark);
out:
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    if (rc) {
        rz_subjtab_free(t);
        return rc;
    }
    s->mt[0] = t;
    s->n_mt = 1;
    return 0;
}

/* Retention: delete the entry of seq from the run that holds it. An event
 * after the last run has its entry in memory, where it stays: the query
 * skips it. */
static int s_subj_unindex(rz_store_t *s, MDB_txn *txn, const char *subject,
                          size_t len, const uint8_t ts[16], uint64_t seq)
{
    uint8_t be[8], key[S_KEY_BUF];
    MDB_cursor *c = NULL;
    MDB_val k = {sizeof be, be}, v;
    int rc;

    if (S_SUBJ_KEY(len) > s->max_key)
        return 0; /* never indexed */
    s_put_be64(be, seq);
    if ((rc = mdb_cursor_open(txn, s->runs, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && v.mv_size == S_RUN_VAL) {
        memcpy(key, v.mv_data, S_RUN_NO);
        memcpy(key + S_RUN_NO, subject, len);
        key[S_RUN_NO + len] = 0;
        memcpy(key + S_RUN_NO + len + 1, ts, 16);
        k.mv_size = S_SUBJ_KEY(len);
        k.mv_data = key;
        rc = mdb_del(txn, s->subjruns, &k, NULL);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Format 1 -> 2: the "subjects" DUPSORT database becomes run 0. It yields
 * its keys (subjects) and their dups (time | seq) in the order of run
 * keys already. */
static int s_migrate_each(void *arg, struct s_run_put *r)
{
    MDB_cursor *c = arg;
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size != 16 || !k.mv_size || memchr(k.mv_data, 0, k.mv_size))
            return MDB_CORRUPTED;
        if ((rc = s_run_put(k.mv_data, k.mv_size, v.mv_data, r)))
            return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int s_migrate_subjects(rz_store_t *s, MDB_txn *txn)
{
    MDB_dbi old;
    MDB_cursor *c = NULL;
    uint64_t head;
    int rc = mdb_dbi_open(txn, "subjects", MDB_DUPSORT | MDB_DUPFIXED, &old);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = s_head(s, txn, &head)) ||
        (rc = mdb_cursor_open(txn, old, &c)))
        return rc;
    if (head)
        rc = s_run_write(s, txn, 0, head, s_migrate_each, c);
    mdb_cursor_close(c);
    return rc ? rc : mdb_drop(txn, old, 1);
}

/* What both writing paths store for a new event besides its id and topic
 * entries: the log entry of seq, its hash in the chain's current run (run,
 * NULL when the chain is off), and its subject and time index entries. */
static int s_put_event(rz_store_t *s, MDB_txn *txn, MDB_cursor *logc,
                       MDB_cursor *timc, uint64_t seq, const uint8_t *stored,
                       size_t len, int64_t time, const char *subject,
                       size_t subject_len, uint8_t *run)
{
    uint8_t ts[16];
    MDB_val k = {sizeof seq, &seq}, v = {len, (void *)stored};
    int rc;

    if ((rc = mdb_cursor_put(logc, &k, &v, MDB_APPEND)))
        return rc;
    if (run) {
        s_hash_event(&s->chain_h, seq, stored, len);
        s_hash_run(&s->chain_h, run);
    }

    s_time_seq(ts, time, seq);
    if (subject_len && (rc = s_subj_add(s, subject, subject_len, time, seq)))
        return rc;
    /* events mostly arrive in time order: append, else insert */
    k.mv_size = sizeof ts;
    k.mv_data = ts;
    v.mv_size = 0;
    v.mv_data = ts; /* never NULL, even for 0 bytes */
    rc = mdb_cursor_put(timc, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_cursor_put(timc, &k, &v, 0);
    return rc;
}

static int s_append_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_append *a = arg;
    MDB_cursor *logc = NULL, *topc = NULL, *timc = NULL;
    uint8_t *runs = (uint8_t *)s->link + S_LINK_HDR;
    uint64_t head = 0, first = 0;
    size_t off = 0, chained = 0;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->log, &logc)) ||
        (rc = mdb_cursor_open(txn, s->topics, &topc)) ||
        (rc = mdb_cursor_open(txn, s->times, &timc)) ||
        (rc = s_head(s, txn, &head)) || (rc = s_subj_begin(s, txn, head)) ||
        (!s->chain_off && (rc = s_link_begin(s, txn))))
        goto fail;
    first = head + 1;

    for (size_t i = 0; i < a->n; i++) {
        rz_store_item_t *it = &a->items[i];
        uint8_t idkey[S_KEY_BUF], idval[S_ID_VAL], seqbe[8];
        MDB_val k, v;

        if (it->code && it->code != RZ_ECONFLICT)
            continue; /* refused before the transaction */
        it->code = 0; /* a conflict found by a run that was retried */
        it->seq = 0;
        it->prev_topic_seq = 0;
        it->duplicate = 0;
        it->stored = NULL;
        it->stored_len = 0;

        /* ids first, claiming the next seq: the transaction sees its own
         * writes, so a repeat inside this batch is found as well, and one
         * lookup both checks and inserts */
        if (it->source_len)
            memcpy(idkey, it->source, it->source_len);
        idkey[it->source_len] = 0;
        if (it->id_len)
            memcpy(idkey + it->source_len + 1, it->id, it->id_len);
        MDB_val idk = {it->source_len + 1 + it->id_len, idkey};
        s_id_value(it, head + 1, idval);
        s_put_be64(seqbe, head + 1);
        v.mv_size = sizeof idval;
        v.mv_data = idval;
        rc = mdb_put(txn, s->ids, &idk, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            /* v is the stored value now */
            if (v.mv_size != S_ID_VAL && v.mv_size != S_ID_VAL_OLD) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            it->seq = s_get_be64(v.mv_data);
            if (v.mv_size == S_ID_VAL && memcmp((const uint8_t *)v.mv_data + 8,
                                                idval + 8, S_ID_DIGEST) != 0)
                it->code = RZ_ECONFLICT;
            else
                it->duplicate = 1; /* same content, or content unknown */
            continue;
        }
        if (rc)
            goto fail;

        uint64_t seq = ++head;
        uint8_t *stored = (uint8_t *)s->arena + off;
        size_t len = s_stamp(it, seq, a->ingest_time, stored);
        off += len;

        if ((rc = s_put_event(s, txn, logc, timc, seq, stored, len, it->time,
                              it->subject, it->subject_len,
                              s->chain_off ? NULL : runs + S_RUN * chained)))
            goto fail;
        chained += !s->chain_off;

        /* the topic's last dup before this one is the fan-out's
         * prev_topic_seq */
        k.mv_size = it->topic_len;
        k.mv_data = (void *)it->topic;
        rc = mdb_cursor_get(topc, &k, &v, MDB_SET);
        if (rc == 0)
            rc = mdb_cursor_get(topc, &k, &v, MDB_LAST_DUP);
        if (rc == 0) {
            if (v.mv_size != 8) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            it->prev_topic_seq = s_get_be64(v.mv_data);
        } else if (rc != MDB_NOTFOUND) {
            goto fail;
        }
        /* seqs only grow, so the new dup always goes last */
        k.mv_size = it->topic_len;
        k.mv_data = (void *)it->topic;
        v.mv_size = sizeof seqbe;
        v.mv_data = seqbe;
        if ((rc = mdb_cursor_put(topc, &k, &v,
                                 it->prev_topic_seq ? MDB_APPENDDUP : 0)))
            goto fail;

        it->seq = seq;
        it->stored = stored;
        it->stored_len = len;
    }
    rc = s_link_end(s, txn, first, chained);
fail:
    if (timc)
        mdb_cursor_close(timc);
    if (topc)
        mdb_cursor_close(topc);
    if (logc)
        mdb_cursor_close(logc);
    return rc;
}

int rz_store_append(rz_store_t *s, rz_store_item_t *items, size_t n,
                    int64_t ingest_time)
{
    struct s_append a = {items, n, ingest_time};
    size_t need = 0, valid = 0;
    int rc;

    if (!s || (!items && n))
        return RZ_EINVAL;
    for (size_t i = 0; i < n; i++) {
        rz_store_item_t *it = &items[i];
        it->seq = 0;
        it->prev_topic_seq = 0;
        it->duplicate = 0;
        it->stored = NULL;
        it->stored_len = 0;
        it->code = s_item_ok(s, it) ? 0 : RZ_EINVALEVENT;
        if (it->code)
            continue;
        valid++;
        need += it->len + S_STAMP_MAX + it->principal_len;
    }
    if (!valid)
        return 0;
    /* one arena holds every stored value of this call: item->stored stays
     * valid until the next append */
    if ((rc = s_reserve(&s->arena, &s->arena_cap, need)) ||
        (rc = s_reserve(&s->link, &s->link_cap, S_LINK_HDR + S_RUN * valid))) {
        s->last_error = rc;
        goto fail;
    }

    s_subj_prepare(s);
    rc = s_write(s, s_append_txn, &a);
    s_subj_end(s, rc == 0);
    if (rc) {
        /* no log line here: a full disk fails every commit, and the writer
         * reports failures at most once a second (rz_store_last_error) */
        s->last_error = rc;
        rc = rzc_lmdb_code(rc);
        goto fail;
    }
    s->full_logged = 0;
    s->last_error = 0;
    return 0;

fail:
    if (rc == RZ_ESTOREFULL && !s->full_logged) {
        rz_error("store: full: the map is at map_max (%zu bytes); "
                 "appends fail until it is raised",
                 s->map_max);
        s->full_logged = 1;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].seq = 0;
        items[i].prev_topic_seq = 0;
        items[i].duplicate = 0;
        items[i].stored = NULL;
        items[i].stored_len = 0;
        items[i].code = rc;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Apply: events whose seqs were decided before (the journal's path)
 */

struct s_apply {
    const rz_store_entry_t *e;
    size_t n;
};

static int s_apply_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_apply *a = arg;
    MDB_cursor *logc = NULL, *topc = NULL, *timc = NULL;
    uint8_t *runs = (uint8_t *)s->link + S_LINK_HDR;
    uint64_t head = 0, first = 0, bad = 0, link_first = 0;
    size_t chained = 0;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->log, &logc)) ||
        (rc = mdb_cursor_open(txn, s->topics, &topc)) ||
        (rc = mdb_cursor_open(txn, s->times, &timc)) ||
        (rc = s_head(s, txn, &head)) || (rc = s_subj_begin(s, txn, head)) ||
        (!s->chain_off && (rc = s_link_begin(s, txn))))
        goto fail;
    first = head + 1;

    for (size_t i = 0; i < a->n; i++) {
        const rz_store_entry_t *e = &a->e[i];
        uint8_t idkey[S_KEY_BUF], idval[S_ID_VAL], seqbe[8];
        MDB_val k, v;

        if (e->seq <= head) {
            if (head >= first) { /* out of order inside the call */
                bad = e->seq;
                goto broken;
            }
            continue; /* in the store already: applied before a crash */
        }
        if (e->seq != head + 1) {
            bad = e->seq;
            goto broken;
        }
        uint64_t seq = ++head;

        if (e->source_len)
            memcpy(idkey, e->source, e->source_len);
        idkey[e->source_len] = 0;
        if (e->id_len)
            memcpy(idkey + e->source_len + 1, e->id, e->id_len);
        MDB_val idk = {e->source_len + 1 + e->id_len, idkey};
        s_put_be64(idval, seq);
        memcpy(idval + 8, e->digest, S_ID_DIGEST);
        v.mv_size = sizeof idval;
        v.mv_data = idval;
        rc = mdb_put(txn, s->ids, &idk, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) { /* the writer decided it was new */
            bad = seq;
            goto broken;
        }
        if (rc)
            goto fail;

        if (!s->chain_off && !chained)
            link_first = seq;
        if ((rc = s_put_event(s, txn, logc, timc, seq, e->stored,
                              e->stored_len, e->time, e->subject,
                              e->subject_len,
                              s->chain_off ? NULL : runs + S_RUN * chained)))
            goto fail;
        chained += !s->chain_off;

        /* prev_topic_seq is below seq, so it is in the store by now: the
         * topic has dups exactly when it is set, and seqs only grow */
        s_put_be64(seqbe, seq);
        k.mv_size = e->topic_len;
        k.mv_data = (void *)e->topic;
        v.mv_size = sizeof seqbe;
        v.mv_data = seqbe;
        if ((rc = mdb_cursor_put(topc, &k, &v,
                                 e->prev_topic_seq ? MDB_APPENDDUP : 0)))
            goto fail;

        /* a link per group acked together, as when each group was its own
         * transaction: `verify --from` starts at most one group early */
        if (e->ends_link && chained) {
            if ((rc = s_link_end(s, txn, link_first, chained)) ||
                (rc = s_link_begin(s, txn)))
                goto fail;
            chained = 0;
        }
    }
    rc = s_link_end(s, txn, link_first, chained);
    goto fail;
broken:
    rz_error("store: the event of seq %" PRIu64 " to apply does not continue "
             "the log at seq %" PRIu64 ", or its source and id are stored",
             bad, head);
    rc = RZ_ESTORE;
fail:
    if (timc)
        mdb_cursor_close(timc);
    if (topc)
        mdb_cursor_close(topc);
    if (logc)
        mdb_cursor_close(logc);
    return rc;
}

int rz_store_apply(rz_store_t *s, const rz_store_entry_t *e, size_t n)
{
    struct s_apply a = {e, n};
    int rc;

    if (!s || (!e && n))
        return RZ_EINVAL;
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].source_len + 1 + e[i].id_len > s->max_key ||
            e[i].subject_len > S_SUBJ_MAX(s) || !e[i].topic_len ||
            e[i].topic_len > s->max_key || !e[i].digest)
            return RZ_EINVAL;
    if ((rc = s_reserve(&s->link, &s->link_cap, S_LINK_HDR + S_RUN * n))) {
        s->last_error = rc;
        return rc;
    }
    s_subj_prepare(s);
    rc = s_write(s, s_apply_txn, &a);
    s_subj_end(s, rc == 0);
    if (rc) {
        s->last_error = rc;
        rc = rc == RZ_ESTORE ? rc : rzc_lmdb_code(rc);
        if (rc == RZ_ESTOREFULL && !s->full_logged) {
            rz_error("store: full: the map is at map_max (%zu bytes)",
                     s->map_max);
            s->full_logged = 1;
        }
        return rc;
    }
    s->full_logged = 0;
    s->last_error = 0;
    return 0;
}

int rz_store_item_valid(const rz_store_t *s, const rz_store_item_t *it)
{
    return s && it && s_item_ok(s, it);
}

int rz_store_digest(rz_store_t *s, const uint8_t *bytes, size_t len,
                    uint8_t *out)
{
    rz_store_item_t it = {.bytes = bytes, .len = len};
    uint8_t val[S_ID_VAL];
    (void)s;
    s_id_value(&it, 0, val);
    memcpy(out, val + 8, S_ID_DIGEST);
    return 0;
}

int rz_store_ids_find(rz_store_t *s, rz_store_item_t *items, size_t n,
                      const uint8_t *digests, uint8_t *found)
{
    uint8_t key[S_KEY_BUF];
    MDB_txn *txn;
    int rc;

    if (!s || (n && (!items || !digests || !found)))
        return RZ_EINVAL;
    /* the transaction of the call before, renewed: mdb_txn_begin
     * allocates one each time. After a failed renew (the map was resized,
     * say) a new one the usual way. */
    pthread_rwlock_rdlock(&s->lock);
    txn = s->ids_txn;
    s->ids_txn = NULL;
    if (!txn || mdb_txn_renew(txn) != 0) {
        if (txn)
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&s->lock);
        if ((rc = s_read_begin(s, &txn)))
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        rz_store_item_t *it = &items[i];
        if (it->code || found[i])
            continue;
        if (it->source_len)
            memcpy(key, it->source, it->source_len);
        key[it->source_len] = 0;
        if (it->id_len)
            memcpy(key + it->source_len + 1, it->id, it->id_len);
        MDB_val k = {it->source_len + 1 + it->id_len, key}, v;
        rc = mdb_get(txn, s->ids, &k, &v);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && v.mv_size != S_ID_VAL && v.mv_size != S_ID_VAL_OLD)
            rc = MDB_CORRUPTED;
        if (rc)
            break;
        found[i] = 1;
        it->seq = s_get_be64(v.mv_data);
        if (v.mv_size == S_ID_VAL &&
            memcmp((const uint8_t *)v.mv_data + 8,
                   digests + i * RZ_STORE_DIGEST, S_ID_DIGEST) != 0)
            it->code = RZ_ECONFLICT;
        else
            it->duplicate = 1;
    }
    mdb_txn_reset(txn);
    s->ids_txn = txn;
    pthread_rwlock_unlock(&s->lock);
    return rc ? s_fail("ids look-up", rc) : 0;
}

uint64_t rz_store_room(rz_store_t *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (!s)
        return 0;
    /* both read the meta pages through the map: not while it is resized */
    pthread_rwlock_rdlock(&s->lock);
    int rc = mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st);
    pthread_rwlock_unlock(&s->lock);
    if (rc)
        return 0;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    return used < s->map_max ? s->map_max - used : 0;
}

/* ------------------------------------------------------------------------
 * Consumer groups
 */

struct s_commit {
    const char *group;
    uint64_t seq;
    const char *prefix;
    int64_t now;
};

static int s_commit_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_commit *c = arg;
    Ratusz__V1__ConsumerGroup *old = NULL;
    Ratusz__V1__ConsumerGroup g = RATUSZ__V1__CONSUMER_GROUP__INIT;
    MDB_val k = {strlen(c->group), (void *)c->group}, v;
    int changed = 0;

    int rc = mdb_get(txn, s->consumers, &k, &v);
    if (rc == 0) {
        old = ratusz__v1__consumer_group__unpack(NULL, v.mv_size, v.mv_data);
        if (!old) {
            rc = MDB_CORRUPTED;
            goto fail;
        }
        g = *old; /* strings borrowed from old */
        if (c->seq > g.committed_seq) {
            g.committed_seq = c->seq;
            g.updated = c->now;
            changed = 1;
        }
        if (c->prefix && *c->prefix && !*g.topic_prefix) {
            g.topic_prefix = (char *)c->prefix;
            changed = 1;
        }
    } else if (rc == MDB_NOTFOUND) {
        g.name = (char *)c->group;
        g.committed_seq = c->seq;
        g.topic_prefix = (char *)(c->prefix ? c->prefix : "");
        g.updated = c->now;
        changed = 1;
    } else {
        goto fail;
    }

    rc = 0;
    if (changed) {
        g.lag = 0; /* derived from the head when read */
        v.mv_size = ratusz__v1__consumer_group__get_packed_size(&g);
        v.mv_data = NULL;
        rc = mdb_put(txn, s->consumers, &k, &v, MDB_RESERVE);
        if (rc == 0)
            ratusz__v1__consumer_group__pack(&g, v.mv_data);
    }
fail:
    if (old)
        ratusz__v1__consumer_group__free_unpacked(old, NULL);
    return rc;
}

int rz_store_consumer_commit(rz_store_t *s, const char *group, uint64_t seq,
                             const char *prefix, int64_t now_us)
{
    struct s_commit c = {group, seq, prefix, now_us};

    if (!s || !group || !*group || strlen(group) > s->max_key)
        return RZ_EINVAL;
    return s_fail("consumer commit", s_write(s, s_commit_txn, &c));
}

struct s_admin {
    const char *group;
    int op;
    uint64_t seq;
    int64_t now;
};

static int s_admin_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_admin *a = arg;
    MDB_val k = {strlen(a->group), (void *)a->group}, v;
    int rc = mdb_get(txn, s->consumers, &k, &v);
    if (rc)
        return rc;
    if (a->op == RZ_CONSUMER_DELETE)
        return mdb_del(txn, s->consumers, &k, NULL);
    Ratusz__V1__ConsumerGroup *g =
        ratusz__v1__consumer_group__unpack(NULL, v.mv_size, v.mv_data);
    if (!g)
        return MDB_CORRUPTED;
    g->committed_seq = a->seq;
    g->updated = a->now;
    g->lag = 0;
    g->lost = 0; /* an operator's reset starts the count again */
    v.mv_size = ratusz__v1__consumer_group__get_packed_size(g);
    v.mv_data = NULL;
    rc = mdb_put(txn, s->consumers, &k, &v, MDB_RESERVE);
    if (rc == 0)
        ratusz__v1__consumer_group__pack(g, v.mv_data);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);
    return rc;
}

int rz_store_consumer_admin(rz_store_t *s, const char *group, int op,
                            uint64_t seq, int64_t now_us)
{
    struct s_admin a = {group, op, seq, now_us};
    if (!s || !group || !*group || strlen(group) > s->max_key ||
        (op != RZ_CONSUMER_RESET && op != RZ_CONSUMER_DELETE))
        return RZ_EINVAL;
    int rc = s_write(s, s_admin_txn, &a);
    return rc == MDB_NOTFOUND ? RZ_ENOTFOUND : s_fail("consumer admin", rc);
}

int64_t rz_store_consumer_count(rz_store_t *s)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = s_read_begin(s, &txn);
    if (rc)
        return s_fail("consumer count", rc);
    rc = mdb_stat(txn, s->consumers, &st);
    s_read_end(s, txn);
    return rc ? s_fail("consumer count", rc) : (int64_t)st.ms_entries;
}

static int s_unpack_group(const MDB_val *v, uint64_t head,
                          Ratusz__V1__ConsumerGroup **out)
{
    *out = ratusz__v1__consumer_group__unpack(NULL, v->mv_size, v->mv_data);
    if (!*out)
        return MDB_CORRUPTED;
    (*out)->lag =
        head > (*out)->committed_seq ? head - (*out)->committed_seq : 0;
    return 0;
}

int rz_store_consumer_get(rz_store_t *s, const char *group,
                          Ratusz__V1__ConsumerGroup **out)
{
    MDB_txn *txn;
    MDB_val k, v;
    uint64_t head;
    int rc;

    if (!out)
        return RZ_EINVAL;
    *out = NULL;
    if (!s || !group)
        return RZ_EINVAL;
    if (!*group || strlen(group) > s->max_key)
        return RZ_ENOTFOUND;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    k.mv_size = strlen(group);
    k.mv_data = (void *)group;
    rc = mdb_get(txn, s->consumers, &k, &v);
    if (rc == 0)
        rc = s_head(s, txn, &head);
    if (rc == 0)
        rc = s_unpack_group(&v, head, out);
    s_read_end(s, txn);
    return rc == MDB_NOTFOUND ? RZ_ENOTFOUND : s_fail("consumer get", rc);
}

int rz_store_consumer_list(rz_store_t *s, Ratusz__V1__ConsumerList **out)
{
    Ratusz__V1__ConsumerList *list = NULL;
    MDB_cursor *c = NULL;
    MDB_txn *txn = NULL;
    MDB_stat st;
    MDB_val k, v;
    uint64_t head;
    int rc;

    if (!out)
        return RZ_EINVAL;
    *out = NULL;
    if (!s)
        return RZ_EINVAL;
    list = malloc(sizeof *list);
    if (!list)
        return RZ_ENOMEM;
    ratusz__v1__consumer_list__init(list);
    if ((rc = s_read_begin(s, &txn))) {
        txn = NULL;
        goto fail;
    }
    if ((rc = s_head(s, txn, &head)) ||
        (rc = mdb_stat(txn, s->consumers, &st)) ||
        (rc = mdb_cursor_open(txn, s->consumers, &c)))
        goto fail;
    if (st.ms_entries) {
        list->groups = calloc(st.ms_entries, sizeof *list->groups);
        if (!list->groups) {
            rc = RZ_ENOMEM;
            goto fail;
        }
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0 && list->n_groups < st.ms_entries) {
        rc = s_unpack_group(&v, head, &list->groups[list->n_groups]);
        if (rc)
            goto fail;
        list->n_groups++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
fail:
    if (c)
        mdb_cursor_close(c);
    if (txn)
        s_read_end(s, txn);
    if (rc) {
        ratusz__v1__consumer_list__free_unpacked(list, NULL);
        return s_fail("consumer list", rc);
    }
    *out = list;
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading by seq and id
 */

static int s_is_pruned(rz_store_t *s, MDB_txn *txn, uint64_t seq);

/* Visit the event with seq; MDB_NOTFOUND if there is none. *stop is set
 * when the visitor asks to stop. */
static int s_visit(rz_store_t *s, MDB_txn *txn, uint64_t seq,
                   rz_store_visit_fn fn, void *user, int *stop)
{
    MDB_val k = {sizeof seq, &seq}, v;
    int rc = mdb_get(txn, s->log, &k, &v);
    if (rc == 0 && fn && fn(seq, v.mv_data, v.mv_size, user) && stop)
        *stop = 1;
    return rc;
}

uint64_t rz_store_head(rz_store_t *s)
{
    MDB_txn *txn;
    uint64_t head = 0;

    if (!s || s_read_begin(s, &txn))
        return 0;
    int rc = s_head(s, txn, &head);
    s_read_end(s, txn);
    if (rc)
        s_fail("head", rc);
    return head;
}

int rz_store_get(rz_store_t *s, uint64_t seq, rz_store_visit_fn fn, void *user)
{
    MDB_txn *txn;
    int rc;

    if (!s)
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    rc = s_visit(s, txn, seq, fn, user, NULL);
    s_read_end(s, txn);
    if (rc == MDB_NOTFOUND)
        return RZ_ENOTFOUND;
    return rc ? s_fail("get", rc) : 1;
}

int rz_store_get_id(rz_store_t *s, const char *source, const char *id,
                    rz_store_visit_fn fn, void *user)
{
    uint8_t key[S_KEY_BUF];
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    if (!s || !source || !id)
        return RZ_EINVAL;
    size_t sl = strlen(source), il = strlen(id);
    if (sl + 1 + il > s->max_key)
        return RZ_ENOTFOUND; /* could never have been stored */
    memcpy(key, source, sl);
    key[sl] = 0;
    memcpy(key + sl + 1, id, il);
    k.mv_size = sl + 1 + il;
    k.mv_data = key;

    if ((rc = s_read_begin(s, &txn)))
        return rc;
    rc = mdb_get(txn, s->ids, &k, &v);
    if (rc == 0 && v.mv_size != S_ID_VAL && v.mv_size != S_ID_VAL_OLD)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        uint64_t seq = s_get_be64(v.mv_data);
        rc = s_visit(s, txn, seq, fn, user, NULL);
        /* an id without its event: kept for the dedup window after
         * retention removed the event, else the store is damaged */
        if (rc == MDB_NOTFOUND && s_is_pruned(s, txn, seq) != 1)
            rc = MDB_CORRUPTED;
    }
    s_read_end(s, txn);
    if (rc == MDB_NOTFOUND)
        return RZ_ENOTFOUND;
    return rc ? s_fail("get by id", rc) : 1;
}

/* ------------------------------------------------------------------------
 * Topic merge: every topic key under a prefix, walked in seq order
 *
 * A min-heap holds each matching topic's next seq. One cursor serves all
 * of them: it steps with MDB_NEXT_DUP while the same topic stays at the
 * top (the common case of a prefix that is one topic) and re-seeks with
 * MDB_GET_BOTH_RANGE otherwise. Topic keys point into the map, valid for
 * the read transaction.
 */

struct s_topic_pos {
    uint64_t seq;
    MDB_val key;
};

typedef struct s_merge {
    MDB_cursor *cur;
    struct s_topic_pos *heap;
    size_t n, cap;
    const void *at; /* topic the cursor sits on, at heap[0].seq */
} s_merge_t;

static int s_topic_seek(MDB_cursor *c, struct s_topic_pos *t, uint64_t from)
{
    uint8_t be[8];
    MDB_val k = t->key, v = {sizeof be, be};

    s_put_be64(be, from);
    int rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
    if (rc == 0 && v.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        t->seq = s_get_be64(v.mv_data);
    return rc;
}

static void s_sift_down(s_merge_t *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->n && m->heap[l].seq < m->heap[min].seq)
            min = l;
        if (r < m->n && m->heap[r].seq < m->heap[min].seq)
            min = r;
        if (min == i)
            return;
        struct s_topic_pos t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

static void s_merge_free(s_merge_t *m)
{
    if (m->cur)
        mdb_cursor_close(m->cur);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

/* Position on the first seq >= from of every topic starting with prefix. */
static int s_merge_init(s_merge_t *m, rz_store_t *s, MDB_txn *txn,
                        const char *prefix, size_t plen, uint64_t from)
{
    MDB_val k = {plen, (void *)prefix}, v;
    int rc;

    memset(m, 0, sizeof *m);
    if ((rc = mdb_cursor_open(txn, s->topics, &m->cur)))
        return rc;
    /* LMDB refuses an empty key: "" is every topic */
    rc = mdb_cursor_get(m->cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && k.mv_size >= plen &&
           memcmp(k.mv_data, prefix, plen) == 0) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 16;
            void *p = realloc(m->heap, cap * sizeof *m->heap);
            if (!p)
                return RZ_ENOMEM;
            m->heap = p;
            m->cap = cap;
        }
        m->heap[m->n].seq = 0;
        m->heap[m->n].key = k;
        m->n++;
        rc = mdb_cursor_get(m->cur, &k, &v, MDB_NEXT_NODUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;

    for (size_t i = 0; i < m->n;) {
        rc = s_topic_seek(m->cur, &m->heap[i], from);
        if (rc == MDB_NOTFOUND) {
            m->heap[i] = m->heap[--m->n]; /* nothing left in this topic */
            continue;
        }
        if (rc)
            return rc;
        i++;
    }
    for (size_t i = m->n / 2; i-- > 0;)
        s_sift_down(m, i);
    return 0;
}

/* Move the top topic to its next seq, dropping it when it has none. */
static int s_merge_advance(s_merge_t *m)
{
    struct s_topic_pos *t = &m->heap[0];
    MDB_val k, v;
    int rc;

    if (m->at == t->key.mv_data) {
        rc = mdb_cursor_get(m->cur, &k, &v, MDB_NEXT_DUP);
        if (rc == 0 && v.mv_size != 8)
            rc = MDB_CORRUPTED;
        if (rc == 0)
            t->seq = s_get_be64(v.mv_data);
    } else {
        rc = s_topic_seek(m->cur, t, t->seq + 1);
    }
    if (rc == MDB_NOTFOUND) {
        m->heap[0] = m->heap[--m->n];
        m->at = NULL;
        rc = 0;
    } else if (rc) {
        return rc;
    } else {
        m->at = t->key.mv_data;
    }
    s_sift_down(m, 0);
    return 0;
}

/* ------------------------------------------------------------------------
 * Query
 */

struct s_page {
    const rz_store_query_t *q;
    rz_store_visit_fn fn;
    void *user;
    uint32_t visited;
    int stop; /* the visitor asked to stop */
    int more; /* an entry in range follows the last one examined */
    uint8_t last[16];
};

/* One page in (time, seq) order: the first entry after `after`, else
 * from since; until and the page's limit end it. */
static void s_timed_bounds(const struct s_page *pg, const uint8_t *after,
                           uint8_t start[16], uint8_t until[8])
{
    const rz_store_query_t *q = pg->q;
    if (after)
        memcpy(start, after, 16);
    else
        s_time_seq(start, q->since ? q->since : INT64_MIN, 0);
    s_put_be64(until, (uint64_t)q->until ^ S_TIME_BIAS);
}

/* Whether the page ends before the entry ent (16 bytes, time | seq). */
static int s_timed_stop(struct s_page *pg, const uint8_t *ent,
                        const uint8_t until[8])
{
    if (pg->q->until && memcmp(ent, until, 8) >= 0)
        return 1;
    if (pg->visited == pg->q->limit || pg->stop) {
        pg->more = 1;
        return 1;
    }
    return 0;
}

/* All events: the times keys, 16-byte time | seq in (time, seq) order. */
static int s_query_timed(rz_store_t *s, MDB_txn *txn, const uint8_t *after,
                         struct s_page *pg)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint8_t start[16], until[8];
    int rc;

    s_timed_bounds(pg, after, start, until);
    k.mv_size = sizeof start;
    k.mv_data = start;
    if ((rc = mdb_cursor_open(txn, s->times, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && after && k.mv_size == 16 &&
        memcmp(k.mv_data, after, 16) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* the cursor's own entry */

    while (rc == 0) {
        if (k.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (s_timed_stop(pg, k.mv_data, until))
            break;
        memcpy(pg->last, k.mv_data, 16);
        rc = s_visit(s, txn, s_get_be64(pg->last + 8), pg->fn, pg->user,
                     &pg->stop);
        if (rc == MDB_NOTFOUND)
            rc = MDB_CORRUPTED; /* an index entry without its event */
        if (rc)
            break;
        pg->visited++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    mdb_cursor_close(c);
    return rc;
}

/* A subject query merges one source per run and one from memory, each in
 * (time, seq) order, through a heap on their current entries. */
typedef struct s_subj_src {
    MDB_cursor *c; /* a run's; NULL: the entries from memory */
    uint8_t run[S_RUN_NO];
    const uint8_t *ent;
    size_t at; /* memory: the index of ent */
} s_subj_src_t;

typedef struct s_subj_merge {
    uint8_t key[S_KEY_BUF]; /* run | subject | 00 | entry, to seek */
    size_t plen;            /* up to the entry */
    const uint8_t *mem;     /* the entries from memory, sorted */
    size_t n_mem;
    s_subj_src_t *src;
    s_subj_src_t **heap;
    size_t n_src, n_heap;
} s_subj_merge_t;

static int s_ent16_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void s_subj_sift(s_subj_merge_t *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->n_heap && memcmp(m->heap[l]->ent, m->heap[min]->ent, 16) < 0)
            min = l;
        if (r < m->n_heap && memcmp(m->heap[r]->ent, m->heap[min]->ent, 16) < 0)
            min = r;
        if (min == i)
            return;
        s_subj_src_t *t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* Check what a run's cursor points at: an entry of the subject (1), past
 * them (0), or a key that is no run entry (MDB_CORRUPTED). */
static int s_subj_at(s_subj_merge_t *m, s_subj_src_t *src, const MDB_val *k)
{
    if (k->mv_size != m->plen + 16 ||
        memcmp(k->mv_data, src->run, S_RUN_NO) != 0 ||
        memcmp((const uint8_t *)k->mv_data + S_RUN_NO, m->key + S_RUN_NO,
               m->plen - S_RUN_NO) != 0)
        return 0;
    src->ent = (const uint8_t *)k->mv_data + m->plen;
    return 1;
}

/* Move src to its next entry; drop it from the heap top when it has none.
 * first: position it at the first entry at or after start. */
static int s_subj_next(s_subj_merge_t *m, s_subj_src_t *src,
                       const uint8_t *start, int first)
{
    int rc = 0, more;
    if (!src->c) {
        if (first)
            while (src->at < m->n_mem &&
                   memcmp(m->mem + 16 * src->at, start, 16) < 0)
                src->at++;
        else
            src->at++;
        more = src->at < m->n_mem;
        if (more)
            src->ent = m->mem + 16 * src->at;
    } else {
        MDB_val k, v;
        if (first) {
            memcpy(m->key, src->run, S_RUN_NO);
            memcpy(m->key + m->plen, start, 16);
            k.mv_size = m->plen + 16;
            k.mv_data = m->key;
        }
        rc = mdb_cursor_get(src->c, &k, &v, first ? MDB_SET_RANGE : MDB_NEXT);
        more = rc == 0 && s_subj_at(m, src, &k);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (first) {
        if (more)
            m->heap[m->n_heap++] = src;
    } else if (!more) {
        m->heap[0] = m->heap[--m->n_heap];
    }
    return rc;
}

static void s_subj_merge_free(s_subj_merge_t *m)
{
    for (size_t i = 0; i < m->n_src; i++)
        if (m->src[i].c)
            mdb_cursor_close(m->src[i].c);
    free(m->src);
    free(m->heap);
}

/* A subject's timeline: the entries of every run of the snapshot, and
 * those in memory past the last of them. EAGAIN when the tables in memory
 * no longer reach back to the snapshot's last run (one was written and the
 * table before it dropped since the snapshot was taken): read again. */
static int s_query_subject(rz_store_t *s, MDB_txn *txn, const char *subject,
                           size_t slen, const uint8_t *after, struct s_page *pg)
{
    s_subj_merge_t m = {0};
    uint8_t start[16], until[8], *mem = NULL;
    uint64_t head, mark;
    uint32_t run;
    size_t n_mem = 0, cap_mem = 0, n_runs;
    int have, reach, rc;

    if (S_SUBJ_KEY(slen) > s->max_key)
        return 0; /* no event of such a subject could be stored */
    s_timed_bounds(pg, after, start, until);
    if ((rc = s_head(s, txn, &head)) ||
        (rc = s_runs_last(s, txn, &mark, &run, &have)))
        return rc;
    pthread_mutex_lock(&s->mt_mu);
    reach = s->n_mt && rz_subjtab_lo(s->mt[s->n_mt - 1]) <= mark;
    for (size_t i = 0; reach && !rc && i < s->n_mt; i++)
        rc = rz_subjtab_find(s->mt[i], subject, slen, mark, head, &mem, &n_mem,
                             &cap_mem);
    pthread_mutex_unlock(&s->mt_mu);
    if (!reach || rc) {
        free(mem);
        return !reach ? EAGAIN : ENOMEM;
    }
    if (n_mem)
        qsort(mem, n_mem, 16, s_ent16_cmp);

    n_runs = have ? (size_t)run + 1 : 0; /* numbered from 0, in order */
    m.mem = mem;
    m.n_mem = n_mem;
    m.plen = S_RUN_NO + slen + 1;
    memcpy(m.key + S_RUN_NO, subject, slen);
    m.key[S_RUN_NO + slen] = 0;
    m.src = calloc(n_runs + 1, sizeof *m.src);
    m.heap = calloc(n_runs + 1, sizeof *m.heap);
    if (!m.src || !m.heap)
        rc = ENOMEM;
    /* A run whose times all fall outside the page's range is not read.
     * The others are sought with one cursor, which a run keeps when it
     * has entries of the subject; a new one seeks in the next run. */
    MDB_cursor *runs = NULL, *probe = NULL;
    MDB_val rk, rv;
    if (!rc && !(rc = mdb_cursor_open(txn, s->runs, &runs)))
        rc = mdb_cursor_get(runs, &rk, &rv, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(runs, &rk, &rv, MDB_NEXT)) {
        if (rv.mv_size != S_RUN_VAL || m.n_src == n_runs) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *rval = rv.mv_data;
        if (memcmp(rval + S_RUN_TMAX, start, 8) < 0 ||
            (pg->q->until && memcmp(rval + S_RUN_TMIN, until, 8) >= 0))
            continue;
        if (!probe && (rc = mdb_cursor_open(txn, s->subjruns, &probe)))
            break;
        s_subj_src_t *src = &m.src[m.n_src];
        memcpy(src->run, rval, S_RUN_NO);
        src->c = probe;
        size_t before = m.n_heap;
        if ((rc = s_subj_next(&m, src, start, 1)))
            break;
        if (m.n_heap > before) {
            m.n_src++; /* it keeps the cursor */
            probe = NULL;
        }
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (runs)
        mdb_cursor_close(runs);
    if (probe)
        mdb_cursor_close(probe);
    if (!rc) {
        s_subj_src_t *src = &m.src[m.n_src++]; /* the entries in memory */
        src->c = NULL;
        rc = s_subj_next(&m, src, start, 1);
    }
    for (size_t i = m.n_heap / 2; !rc && i-- > 0;)
        s_subj_sift(&m, i);
    /* the cursor's own entry is where its page ended */
    while (!rc && m.n_heap && after && memcmp(m.heap[0]->ent, after, 16) == 0) {
        rc = s_subj_next(&m, m.heap[0], NULL, 0);
        if (!rc && m.n_heap)
            s_subj_sift(&m, 0);
    }

    while (!rc && m.n_heap) {
        if (s_timed_stop(pg, m.heap[0]->ent, until))
            break;
        memcpy(pg->last, m.heap[0]->ent, 16);
        rc = s_visit(s, txn, s_get_be64(pg->last + 8), pg->fn, pg->user,
                     &pg->stop);
        if (rc == 0)
            pg->visited++;
        else if (rc == MDB_NOTFOUND)
            rc = 0; /* removed while its entry was in memory */
        if (!rc)
            rc = s_subj_next(&m, m.heap[0], NULL, 0);
        if (!rc && m.n_heap)
            s_subj_sift(&m, 0);
    }
    s_subj_merge_free(&m);
    free(mem);
    return rc;
}

static int s_query_topic(rz_store_t *s, MDB_txn *txn, const char *prefix,
                         size_t plen, const uint8_t *after, struct s_page *pg)
{
    const rz_store_query_t *q = pg->q;
    int timed = q->since || q->until;
    size_t examined = 0;
    s_merge_t m;
    int rc;

    uint64_t from = after ? s_get_be64(after) + 1 : 1;
    if (from == 0)
        return 0; /* the cursor was at the last possible seq */

    rc = s_merge_init(&m, s, txn, prefix, plen, from);
    while (rc == 0 && m.n) {
        uint64_t seq = m.heap[0].seq;
        MDB_val k = {sizeof seq, &seq}, v;
        int64_t t;

        if (pg->visited == q->limit || pg->stop || examined == S_QUERY_BUDGET) {
            pg->more = 1;
            break;
        }
        examined++;
        if ((rc = mdb_get(txn, s->log, &k, &v))) {
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;
            break;
        }
        if (!timed ||
            (s_event_time(v.mv_data, v.mv_size, &t) == 0 &&
             (!q->since || t >= q->since) && (!q->until || t < q->until))) {
            pg->visited++;
            if (pg->fn && pg->fn(seq, v.mv_data, v.mv_size, pg->user))
                pg->stop = 1;
        }
        s_put_be64(pg->last, seq);
        rc = s_merge_advance(&m);
    }
    s_merge_free(&m);
    return rc;
}

/* A taxpayer's events: the dups of one pseudonyms key, in seq order. An
 * entry whose event is gone (removed by an older version's retention,
 * which did not know the index) is skipped. Time bounds are read off each
 * candidate, with the topic query's budget. */
static int s_query_pseud(rz_store_t *s, MDB_txn *txn, const uint8_t *key,
                         const uint8_t *after, struct s_page *pg)
{
    const rz_store_query_t *q = pg->q;
    int timed = q->since || q->until;
    size_t examined = 0;
    MDB_cursor *c = NULL;
    uint8_t start[8];
    MDB_val k = {RZ_STORE_PSEUD, (void *)key}, v = {sizeof start, start};
    int rc;

    uint64_t from = after ? s_get_be64(after) + 1 : 1;
    if (from == 0)
        return 0;
    s_put_be64(start, from);
    if ((rc = mdb_cursor_open(txn, s->pseud, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
    while (rc == 0) {
        if (v.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (pg->visited == q->limit || pg->stop || examined == S_QUERY_BUDGET) {
            pg->more = 1;
            break;
        }
        examined++;
        uint64_t seq = s_get_be64(v.mv_data);
        MDB_val lk = {sizeof seq, &seq}, lv;
        int64_t t;
        rc = mdb_get(txn, s->log, &lk, &lv);
        if (rc == 0 &&
            (!timed ||
             (s_event_time(lv.mv_data, lv.mv_size, &t) == 0 &&
              (!q->since || t >= q->since) && (!q->until || t < q->until)))) {
            pg->visited++;
            if (pg->fn && pg->fn(seq, lv.mv_data, lv.mv_size, pg->user))
                pg->stop = 1;
        } else if (rc != MDB_NOTFOUND && rc != 0) {
            break;
        }
        memcpy(pg->last, v.mv_data, 8);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    mdb_cursor_close(c);
    return rc;
}

static int s_cursor_read(const rz_store_query_t *q, int kind, uint32_t check,
                         size_t pos_len, const uint8_t **pos)
{
    *pos = NULL;
    if (q->after_len == 0)
        return 0;
    if (!q->after || q->after_len != S_CUR_HDR + pos_len ||
        q->after[0] != kind || s_get_be32(q->after + 1) != check)
        return RZ_EBADCURSOR;
    *pos = q->after + S_CUR_HDR;
    return 0;
}

int rz_store_query(rz_store_t *s, const rz_store_query_t *q,
                   rz_store_visit_fn fn, void *user, uint8_t *next,
                   size_t *next_len)
{
    struct s_page pg = {q, fn, user, 0, 0, 0, {0}};
    const uint8_t *after;
    const char *key = "";
    size_t klen = 0, pos_len = 16;
    MDB_txn *txn;
    int kind = S_CUR_ALL, rc;

    if (next_len)
        *next_len = 0;
    if (!s || !q || !next || !next_len || q->limit == 0)
        return RZ_EINVAL;
    if (q->subject && *q->subject && q->topic_prefix && *q->topic_prefix)
        return RZ_EINVAL;
    if (q->pseudonym &&
        ((q->subject && *q->subject) || (q->topic_prefix && *q->topic_prefix)))
        return RZ_EINVAL;
    if (q->pseudonym) {
        kind = S_CUR_PSEUD;
        key = (const char *)q->pseudonym;
        pos_len = 8;
    } else if (q->subject && *q->subject) {
        kind = S_CUR_SUBJECT;
        key = q->subject;
    } else if (q->topic_prefix && *q->topic_prefix) {
        kind = S_CUR_TOPIC;
        key = q->topic_prefix;
        pos_len = 8;
    }
    klen = q->pseudonym ? RZ_STORE_PSEUD : strlen(key);
    uint32_t check = s_query_check(kind, key, klen, q->since, q->until);
    if ((rc = s_cursor_read(q, kind, check, pos_len, &after)))
        return rc;
    /* nothing can match: an empty range, or a key LMDB could not hold */
    if ((q->until && q->until <= q->since) || klen > s->max_key)
        return 0;

    for (int tries = 1;; tries++) {
        if ((rc = s_read_begin(s, &txn)))
            return rc;
        if (kind == S_CUR_TOPIC)
            rc = s_query_topic(s, txn, key, klen, after, &pg);
        else if (kind == S_CUR_PSEUD)
            rc = s_query_pseud(s, txn, q->pseudonym, after, &pg);
        else if (kind == S_CUR_SUBJECT)
            rc = s_query_subject(s, txn, key, klen, after, &pg);
        else
            rc = s_query_timed(s, txn, after, &pg);
        s_read_end(s, txn);
        if (rc != EAGAIN || tries == S_QUERY_TRIES)
            break;
    }
    if (rc)
        return s_fail("query", rc);

    if (pg.more) {
        next[0] = (uint8_t)kind;
        s_put_be32(next + 1, check);
        memcpy(next + S_CUR_HDR, pg.last, pos_len);
        *next_len = S_CUR_HDR + pos_len;
    }
    return (int)pg.visited;
}

/* ------------------------------------------------------------------------
 * Scan (replay, fetch)
 */

int rz_store_scan(rz_store_t *s, uint64_t from, uint64_t until,
                  const char *prefix, size_t max, rz_store_visit_fn fn,
                  void *user, uint64_t *next_seq)
{
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    s_merge_t m = {0};
    uint64_t head = 0, last = 0;
    size_t visited = 0;
    int rc, stop = 0, exhausted = 0;

    if (!s)
        return RZ_EINVAL;
    if (from == 0)
        from = 1; /* seqs start at 1 */
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = s_head(s, txn, &head)))
        goto done;

    if (!prefix || !*prefix) {
        MDB_val k = {sizeof from, &from}, v;
        if ((rc = mdb_cursor_open(txn, s->log, &c)))
            goto done;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0) {
            uint64_t seq = s_key_seq(&k);
            if (until && seq >= until) {
                exhausted = 1;
                break;
            }
            if (visited == max || stop)
                break;
            if (fn && fn(seq, v.mv_data, v.mv_size, user))
                stop = 1;
            visited++;
            last = seq;
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    } else if (strlen(prefix) > s->max_key) {
        rc = MDB_NOTFOUND; /* no topic can start with it */
    } else {
        rc = s_merge_init(&m, s, txn, prefix, strlen(prefix), from);
        while (rc == 0) {
            if (!m.n || (until && m.heap[0].seq >= until)) {
                exhausted = 1;
                break;
            }
            if (visited == max || stop)
                break;
            uint64_t seq = m.heap[0].seq;
            rc = s_visit(s, txn, seq, fn, user, &stop);
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;
            if (rc)
                break;
            visited++;
            last = seq;
            rc = s_merge_advance(&m);
        }
    }
    if (rc == MDB_NOTFOUND) {
        exhausted = 1;
        rc = 0;
    }

done:
    s_merge_free(&m);
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    if (rc)
        return s_fail("scan", rc);
    if (next_seq) {
        /* never behind from; never past what exists now, so events that
         * arrive later are not skipped */
        uint64_t bound = until && until <= head + 1 ? until : head + 1;
        if (!exhausted)
            *next_seq = visited ? last + 1 : from;
        else
            *next_seq = bound > from ? bound : from;
    }
    return (int)(visited > INT32_MAX ? INT32_MAX : visited);
}

/* ------------------------------------------------------------------------
 * Topic heads and info
 */

int rz_store_topic_heads(rz_store_t *s,
                         void (*fn)(const char *topic, size_t len,
                                    uint64_t last_seq, void *user),
                         void *user)
{
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k, v, dk;
    int rc;

    if (!s || !fn)
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = mdb_cursor_open(txn, s->topics, &c)))
        goto fail;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        rc = mdb_cursor_get(c, &dk, &v, MDB_LAST_DUP);
        if (rc == 0 && v.mv_size != 8)
            rc = MDB_CORRUPTED;
        if (rc)
            break;
        fn(k.mv_data, k.mv_size, s_get_be64(v.mv_data), user);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
fail:
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    return s_fail("topic heads", rc);
}

int rz_store_topic_last(rz_store_t *s, const char *topic, size_t len,
                        uint64_t *seq)
{
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k = {len, (void *)topic}, v;
    int rc;

    *seq = 0;
    if (!s || !len || len > s->max_key)
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = mdb_cursor_open(txn, s->topics, &c)))
        goto fail;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP);
    if (rc == 0 && v.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        *seq = s_get_be64(v.mv_data);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
fail:
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    return s_fail("topic last", rc);
}

int rz_store_info(rz_store_t *s, rz_store_info_t *out)
{
    MDB_envinfo info;
    MDB_stat env_st, log_st;
    MDB_txn *txn;
    int rc;

    if (!s || !out)
        return RZ_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = mdb_env_info(s->env, &info)) ||
        (rc = mdb_env_stat(s->env, &env_st)) ||
        (rc = mdb_stat(txn, s->log, &log_st)) ||
        (rc = s_head(s, txn, &out->head_seq)))
        goto fail;
    out->events = log_st.ms_entries;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * env_st.ms_psize;
    out->map_bytes = info.me_mapsize;
    out->map_max = s->map_max;
fail:
    s_read_end(s, txn);
    return s_fail("info", rc);
}

/* ------------------------------------------------------------------------
 * Verify the hash chain
 *
 * Links are walked in seq order, each against the log events it covers,
 * in read transactions of about S_VERIFY_CHUNK events. Whatever breaks
 * first is reported, at the lowest seq that shows it.
 */

struct s_link {
    uint64_t first;
    uint32_t n;
    const uint8_t *prev, *digest, *runs;
    int sealed;                 /* retention rewrote it (store.h) */
    const uint8_t *seal, *ents; /* sealed: seal, n x (state | hash) */
};

static int s_link_parse(const MDB_val *k, const MDB_val *v, struct s_link *l)
{
    const uint8_t *p = v->mv_data;

    l->first = s_key_seq(k);
    if (k->mv_size != 8 || v->mv_size < S_LINK_HDR)
        return -1;
    l->prev = p;
    l->digest = p + S_DIGEST;
    l->n = s_get_be32(p + 2 * S_DIGEST);
    l->runs = p + S_LINK_HDR;
    l->sealed = (l->n & S_LINK_SEALED) != 0;
    l->seal = l->ents = NULL;
    if (l->sealed) {
        l->n &= ~S_LINK_SEALED;
        l->seal = p + S_LINK_HDR;
        l->ents = p + S_LINK_HDR + S_DIGEST;
        l->runs = NULL;
        if (l->n == 0 || v->mv_size != S_SEALED_SIZE(l->n) ||
            l->first > UINT64_MAX - l->n)
            return -1;
        return 0;
    }
    if (l->n == 0 || v->mv_size != S_LINK_HDR + (size_t)S_RUN * l->n ||
        l->first > UINT64_MAX - l->n)
        return -1;
    return 0;
}

typedef struct s_verify {
    rz_store_t *s;
    uint8_t prev[S_DIGEST]; /* the digest the next link must follow */
    int have_prev;          /* 0: trust the next link's own prev */
    uint64_t expect;        /* the seq the next link must start at */
    uint64_t checked, links;
    uint64_t bad; /* first_bad, 0 while all is well */
    char why[256];
    uint64_t pruned;                 /* events retention removed */
    uint64_t invalid, first_invalid; /* events with refused strings */
    char invalid_why[256];
    int done;
} s_verify_t;

__attribute__((format(printf, 3, 4))) static void
s_broken(s_verify_t *v, uint64_t seq, const char *fmt, ...)
{
    va_list ap;
    v->bad = seq;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof v->why, fmt, ap);
    va_end(ap);
}

/* Seqs from `from` below `below` (0 = no bound) that no link covers: the
 * first event there is extra; with none, the range is missing. */
static int s_verify_gap(s_verify_t *v, MDB_cursor *logc, uint64_t from,
                        uint64_t below)
{
    MDB_val k = {sizeof from, &from}, d;
    int rc = mdb_cursor_get(logc, &k, &d, MDB_SET_RANGE);

    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && (!below || s_key_seq(&k) < below))
        s_broken(v, s_key_seq(&k), "seq %llu is not chained: no link covers it",
                 (unsigned long long)s_key_seq(&k));
    else if (below)
        s_broken(v, from, "seqs %llu-%llu are missing, with their link",
                 (unsigned long long)from, (unsigned long long)below - 1);
    return 0;
}

/* The seal of a sealed link: SHA-256(prev || digest || n || entries). */
static void s_seal_hash(const uint8_t *link, uint32_t n, uint8_t out[S_DIGEST])
{
    rz_sha256_t h;
    rz_sha256_init(&h);
    rz_sha256_update(&h, link, S_LINK_HDR);
    rz_sha256_update(&h, link + S_LINK_HDR + S_DIGEST, (size_t)S_SEAL_ENT * n);
    rz_sha256_final(&h, out);
}

/* One event's own hash, as a sealed link keeps it. */
static void s_event_hash(uint64_t seq, const void *bytes, size_t len,
                         uint8_t out[S_DIGEST])
{
    rz_sha256_t h;
    rz_sha256_init(&h);
    s_hash_event(&h, seq, bytes, len);
    rz_sha256_final(&h, out);
}

/* A link retention sealed: the seal over its entries, each kept event
 * against its hash, each removed one absent from the log. */
static int s_verify_sealed(s_verify_t *v, MDB_cursor *logc,
                           const struct s_link *l)
{
    uint8_t h[S_DIGEST];
    uint64_t first = l->first, last = l->first + l->n - 1, kept = 0;
    MDB_val k = {sizeof first, &first}, ev;
    int rc;

    s_seal_hash(l->prev, l->n, h);
    if (memcmp(h, l->seal, S_DIGEST) != 0) {
        s_broken(v, first,
                 "the seal of the link of seqs %llu-%llu (rewritten by "
                 "retention) was altered",
                 (unsigned long long)first, (unsigned long long)last);
        return 0;
    }
    rc = mdb_cursor_get(logc, &k, &ev, MDB_SET_RANGE);
    for (uint32_t i = 0; i < l->n; i++) {
        const uint8_t *ent = l->ents + (size_t)S_SEAL_ENT * i;
        uint64_t seq = first + i;
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        int here = rc == 0 && s_key_seq(&k) == seq;
        if (ent[0] == S_ENT_PRUNED) {
            if (here) {
                s_broken(v, seq,
                         "seq %llu is in the log, but its link says "
                         "retention removed it",
                         (unsigned long long)seq);
                return 0;
            }
            v->pruned++;
            continue;
        }
        if (!here) {
            s_broken(v, seq, "seq %llu is missing from the log",
                     (unsigned long long)seq);
            return 0;
        }
        s_event_hash(seq, ev.mv_data, ev.mv_size, h);
        if (memcmp(h, ent + 1, S_DIGEST) != 0) {
            s_broken(v, seq, "seq %llu is not the event that was chained",
                     (unsigned long long)seq);
            return 0;
        }
        char why[256];
        if (rz_event_check_wire(ev.mv_data, ev.mv_size, why, sizeof why) < 0 &&
            !v->invalid++) {
            v->first_invalid = seq;
            snprintf(v->invalid_why, sizeof v->invalid_why, "%s", why);
        }
        kept++;
        rc = mdb_cursor_get(logc, &k, &ev, MDB_NEXT);
    }
    v->checked += kept;
    v->links++;
    memcpy(v->prev, l->digest, S_DIGEST);
    v->have_prev = 1;
    v->expect = last + 1;
    return 0;
}

/* Check one link against the events it covers. */
static int s_verify_link(s_verify_t *v, MDB_cursor *logc,
                         const struct s_link *l)
{
    uint8_t d[RZ_SHA256_LEN], run[S_RUN];
    rz_sha256_t h;
    uint64_t first = l->first, last = l->first + l->n - 1, differs = 0;
    MDB_val k = {sizeof first, &first}, ev;
    int rc;

    if (first > v->expect)
        return s_verify_gap(v, logc, v->expect, first);
    if (first < v->expect) {
        s_broken(v, first, "the link at seq %llu overlaps the link before it",
                 (unsigned long long)first);
        return 0;
    }
    if (v->have_prev && memcmp(l->prev, v->prev, S_DIGEST) != 0) {
        s_broken(v, first,
                 "the link at seq %llu does not follow the link before it "
                 "(its prev is not that link's digest)",
                 (unsigned long long)first);
        return 0;
    }
    if (l->sealed)
        return s_verify_sealed(v, logc, l);
    rz_sha256_init(&h);
    rz_sha256_update(&h, l->prev, S_DIGEST);

    rc = mdb_cursor_get(logc, &k, &ev, MDB_SET_RANGE);
    for (uint32_t i = 0; i < l->n; i++) {
        uint64_t seq = first + i;
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == MDB_NOTFOUND || s_key_seq(&k) != seq) {
            s_broken(v, seq, "seq %llu is missing from the log",
                     (unsigned long long)seq);
            return 0;
        }
        s_hash_event(&h, seq, ev.mv_data, ev.mv_size);
        s_hash_run(&h, run);
        /* what an older version let in: intact, but refused today */
        char why[256];
        if (rz_event_check_wire(ev.mv_data, ev.mv_size, why, sizeof why) <
            0) {
            if (!v->invalid++) {
                v->first_invalid = seq;
                snprintf(v->invalid_why, sizeof v->invalid_why, "%s", why);
            }
        }
        if (!differs && memcmp(run, l->runs + (size_t)S_RUN * i, S_RUN) != 0)
            differs = seq;
        rc = mdb_cursor_get(logc, &k, &ev, MDB_NEXT);
    }
    rz_sha256_final(&h, d);

    int digest_ok = memcmp(d, l->digest, S_DIGEST) == 0;
    if (differs && digest_ok)
        s_broken(v, differs,
                 "the link of seqs %llu-%llu was altered: its hash of seq "
                 "%llu does not match, the events do",
                 (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)differs);
    else if (differs)
        s_broken(v, differs, "seq %llu is not the event that was chained",
                 (unsigned long long)differs);
    else if (!digest_ok)
        s_broken(v, first,
                 "the digest of the link of seqs %llu-%llu was altered",
                 (unsigned long long)first, (unsigned long long)last);
    if (v->bad)
        return 0;
    v->checked += l->n;
    v->links++;
    memcpy(v->prev, l->digest, S_DIGEST);
    v->have_prev = 1;
    v->expect = last + 1;
    return 0;
}

/* One read transaction's worth: links from v->expect on. */
static int s_verify_chunk(s_verify_t *v)
{
    rz_store_t *s = v->s;
    MDB_cursor *chc = NULL, *logc = NULL;
    MDB_txn *txn;
    uint64_t from = v->expect, upto = v->checked + S_VERIFY_CHUNK;
    MDB_val k = {sizeof from, &from}, d;
    struct s_link l;
    int rc;

    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = mdb_cursor_open(txn, s->chain, &chc)) ||
        (rc = mdb_cursor_open(txn, s->log, &logc)))
        goto done;
    rc = mdb_cursor_get(chc, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && !v->bad && v->checked < upto) {
        if (s_link_parse(&k, &d, &l) != 0) {
            s_broken(v, l.first, "the link at seq %llu is malformed",
                     (unsigned long long)l.first);
            break;
        }
        if ((rc = s_verify_link(v, logc, &l)) || v->bad)
            break;
        rc = mdb_cursor_get(chc, &k, &d, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND && !v->bad) {
        /* past the last link: any event left is one no link covers */
        rc = s_verify_gap(v, logc, v->expect, 0);
        v->done = 1;
    }
    if (v->bad)
        v->done = 1;
done:
    if (logc)
        mdb_cursor_close(logc);
    if (chc)
        mdb_cursor_close(chc);
    s_read_end(s, txn);
    return rc;
}

/* Where to start: the link holding seq from, trusting the digest of the
 * link before it. Sets v->expect and v->prev; *old_last gets the last seq
 * stored before the chain existed that verify skips (0: none). */
static int s_verify_start(s_verify_t *v, uint64_t from, uint64_t *old_last)
{
    rz_store_t *s = v->s;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k = {sizeof from, &from}, d;
    struct s_link l;
    int rc;

    *old_last = 0;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if (from < s->chain_from) {
        uint64_t one = 1;
        MDB_val ok = {sizeof one, &one};
        if ((rc = mdb_cursor_open(txn, s->log, &c)))
            goto done;
        rc = mdb_cursor_get(c, &ok, &d, MDB_SET_RANGE);
        if (rc == 0 && s_key_seq(&ok) < s->chain_from)
            *old_last = s->chain_from - 1;
        if (rc == MDB_NOTFOUND)
            rc = 0;
        mdb_cursor_close(c);
        c = NULL;
        if (rc)
            goto done;
        from = s->chain_from;
        /* the first link follows 32 zero bytes */
        memset(v->prev, 0, S_DIGEST);
        v->have_prev = 1;
        v->expect = from;
        goto done;
    }

    v->expect = from;
    if ((rc = mdb_cursor_open(txn, s->chain, &c)))
        goto done;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == 0 && s_key_seq(&k) == from) {
        v->expect = from;
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        /* the link holding from starts before it */
        rc = mdb_cursor_get(c, &k, &d, rc == 0 ? MDB_PREV : MDB_LAST);
        if (rc == 0 && s_link_parse(&k, &d, &l) == 0 && l.first + l.n > from)
            v->expect = l.first;
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc)
        goto done;
    /* trust the digest of the link before, if there is one */
    k.mv_size = sizeof from;
    k.mv_data = &from;
    from = v->expect;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, &d, rc == 0 ? MDB_PREV : MDB_LAST);
    if (rc == 0 && s_link_parse(&k, &d, &l) == 0 && l.first < from) {
        memcpy(v->prev, l.digest, S_DIGEST);
        v->have_prev = 1;
    } else if (from == s->chain_from) {
        memset(v->prev, 0, S_DIGEST);
        v->have_prev = 1;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
done:
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    return rc;
}

int rz_store_verify(rz_store_t *s, uint64_t from, Ratusz__V1__VerifyResult *out)
{
    s_verify_t *v = NULL;
    uint64_t old_last = 0;
    int rc;

    if (!out)
        return RZ_EINVAL;
    ratusz__v1__verify_result__init(out);
    if (!s)
        return RZ_EINVAL;
    v = calloc(1, sizeof *v);
    if (!v)
        return RZ_ENOMEM;
    v->s = s;
    if ((rc = s_verify_start(v, from, &old_last)))
        goto fail;
    out->first = v->expect;
    while (!v->done)
        if ((rc = s_verify_chunk(v)))
            goto fail;

    out->ok = v->bad == 0;
    out->checked = v->checked;
    out->links = v->links;
    out->first_bad = v->bad;
    out->last = v->expect > out->first ? v->expect - 1 : 0;
    if (!v->bad && old_last)
        snprintf(v->why, sizeof v->why,
                 "seqs up to %llu were stored before this store kept a hash "
                 "chain: they are not chained and were not checked",
                 (unsigned long long)old_last);
    else if (!v->bad && v->pruned)
        snprintf(v->why, sizeof v->why,
                 "%llu events were removed by retention: their links' seals "
                 "and hashes were checked",
                 (unsigned long long)v->pruned);
    out->invalid = v->invalid;
    out->first_invalid = v->first_invalid;
    out->reason = strdup(v->why);
    out->invalid_reason = strdup(v->invalid_why);
    if (!out->reason || !out->invalid_reason) {
        free(out->reason);
        free(out->invalid_reason);
        ratusz__v1__verify_result__init(out);
        rc = RZ_ENOMEM;
    }
fail:
    free(v);
    return s_fail("verify", rc);
}

void rz__store_chain_off(rz_store_t *s)
{
    if (s)
        s->chain_off = 1;
}

/* ------------------------------------------------------------------------
 * Backup
 */

int rz_store_backup(rz_store_t *s, int fd)
{
    int rc = 0;

    /* the copy is a read transaction: the map stays as it is meanwhile */
    for (int i = 0; i < S_RESIZE_TRIES; i++) {
        pthread_rwlock_rdlock(&s->lock);
        rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
        pthread_rwlock_unlock(&s->lock);
        if (rc != MDB_MAP_RESIZED)
            break;
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
            rc = errno;
            break;
        }
        if ((rc = s_adopt_map(s)))
            break;
        rc = MDB_MAP_RESIZED;
    }
    return rc ? s_fail("backup copy", rc) : 0;
}

struct s_dbis {
    MDB_dbi log, consumers, meta, chain;
};

static int s_summary_txn(MDB_txn *txn, const struct s_dbis *d,
                         rz_store_summary_t *out)
{
    MDB_cursor *c = NULL;
    MDB_stat st;
    MDB_val k, v;
    long format;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = s_format_get(txn, d->meta, &format)))
        return rc;
    if (format < 0)
        return MDB_CORRUPTED;
    out->format = (unsigned)format;
    if ((rc = mdb_stat(txn, d->log, &st)))
        return rc;
    out->events = st.ms_entries;
    if ((rc = mdb_stat(txn, d->consumers, &st)))
        return rc;
    out->groups = st.ms_entries;
    k.mv_size = 5;
    k.mv_data = (void *)"chain";
    rc = mdb_get(txn, d->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        out->chain_from = s_get_be64(v.mv_data);
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_cursor_open(txn, d->log, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0)
        out->head_seq = s_key_seq(&k);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_cursor_open(txn, d->chain, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0) {
        struct s_link l;
        if (s_link_parse(&k, &v, &l) == 0) {
            out->chain_last = l.first + l.n - 1;
            memcpy(out->chain_digest, l.digest, S_DIGEST);
        } else {
            rc = MDB_CORRUPTED;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int rz_store_summary(rz_store_t *s, rz_store_summary_t *out)
{
    MDB_txn *txn;
    struct s_dbis d = {s->log, s->consumers, s->meta, s->chain};
    int rc = s_read_begin(s, &txn);
    if (rc)
        return rc;
    rc = s_summary_txn(txn, &d, out);
    s_read_end(s, txn);
    return rc ? s_fail("summary", rc) : 0;
}

int rz_store_summary_file(const char *path, rz_store_summary_t *out)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    struct s_dbis d;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = mdb_env_create(&env)))
        goto out;
    if ((rc = mdb_env_set_maxdbs(env, S_MAXDBS)) ||
        (rc = mdb_env_open(env, path,
                           MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                           0600)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        goto out;
    if ((rc = mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &d.log)) ||
        (rc = mdb_dbi_open(txn, "consumers", 0, &d.consumers)) ||
        (rc = mdb_dbi_open(txn, "meta", 0, &d.meta)) ||
        (rc = mdb_dbi_open(txn, "chain", MDB_INTEGERKEY, &d.chain)))
        goto out;
    rc = s_summary_txn(txn, &d, out);
out:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc && rzc_lmdb_is_lmdb(rc))
        rz_error("store: %s: %s", path, mdb_strerror(rc));
    return rzc_lmdb_code(rc);
}

/* ------------------------------------------------------------------------
 * Retention: pruning events, their indexes, their ids later
 *
 * Runs on the retention thread only (its own SHA-256 states and buffer):
 * LMDB serialises its write transactions with the writer's and the
 * applier's, and each is kept small by the caller.
 */

/* meta key of a rule's counters: "pruned:" prefix -> events | bytes */
#define S_PRUNED_KEY "pruned:"

static int s_pruned_key(rz_store_t *s, const char *prefix, uint8_t *key,
                        size_t *klen)
{
    size_t pl = prefix ? strlen(prefix) : 0, hl = strlen(S_PRUNED_KEY);
    if (hl + pl > s->max_key)
        return RZ_EINVAL;
    memcpy(key, S_PRUNED_KEY, hl);
    if (pl)
        memcpy(key + hl, prefix, pl);
    *klen = hl + pl;
    return 0;
}

/* The link covering seq: its key and value (LMDB memory). MDB_NOTFOUND
 * when no link covers it. */
static int s_link_of(rz_store_t *s, MDB_txn *txn, uint64_t seq,
                     struct s_link *l, MDB_val *val)
{
    MDB_cursor *c = NULL;
    MDB_val k = {sizeof seq, &seq};
    int rc = mdb_cursor_open(txn, s->chain, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, val, MDB_SET_RANGE);
    if (rc == 0 && s_key_seq(&k) != seq)
        rc = mdb_cursor_get(c, &k, val, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, val, MDB_LAST);
    if (rc == 0 && s_link_parse(&k, val, l) != 0)
        rc = MDB_CORRUPTED;
    if (rc == 0 && (l->first > seq || l->first + l->n <= seq))
        rc = MDB_NOTFOUND;
    mdb_cursor_close(c);
    return rc;
}

/* Seal the link l (value val) in s->seal: check it against its events as
 * they are now, and build its sealed form with every entry kept. Returns
 * 0, RZ_ESTORE when the link does not verify (logged), or a code. */
static int s_seal_build(rz_store_t *s, MDB_txn *txn, const struct s_link *l,
                        const MDB_val *val)
{
    uint8_t d[RZ_SHA256_LEN], *out;
    rz_sha256_t h;
    uint64_t first = l->first;
    MDB_cursor *c = NULL;
    MDB_val k = {sizeof first, &first}, ev;
    int rc;

    if ((rc = s_reserve(&s->seal, &s->seal_cap, S_SEALED_SIZE(l->n))))
        return rc;
    out = s->seal;
    if (l->sealed) { /* its seal is checked before it is changed */
        memcpy(out, val->mv_data, val->mv_size);
        s_seal_hash(out, l->n, d);
        if (memcmp(d, l->seal, S_DIGEST) != 0)
            goto broken;
        return 0;
    }
    memcpy(out, l->prev, S_DIGEST);
    memcpy(out + S_DIGEST, l->digest, S_DIGEST);
    s_put_be32(out + 2 * S_DIGEST, l->n | S_LINK_SEALED);
    rz_sha256_init(&h);
    rz_sha256_update(&h, l->prev, S_DIGEST);
    if ((rc = mdb_cursor_open(txn, s->log, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &ev, MDB_SET_RANGE);
    for (uint32_t i = 0; i < l->n; i++) {
        uint8_t *ent = out + S_LINK_HDR + S_DIGEST + (size_t)S_SEAL_ENT * i;
        uint64_t seq = first + i;
        if (rc && rc != MDB_NOTFOUND)
            goto done;
        if (rc == MDB_NOTFOUND || s_key_seq(&k) != seq) {
            rc = 0;
            mdb_cursor_close(c);
            goto broken;
        }
        s_hash_event(&h, seq, ev.mv_data, ev.mv_size);
        s_event_hash(seq, ev.mv_data, ev.mv_size, ent + 1);
        ent[0] = S_ENT_KEPT;
        rc = mdb_cursor_get(c, &k, &ev, MDB_NEXT);
    }
    rc = 0;
    rz_sha256_final(&h, d);
    mdb_cursor_close(c);
    c = NULL;
    if (memcmp(d, l->digest, S_DIGEST) != 0)
        goto broken;
    return 0;
done:
    if (c)
        mdb_cursor_close(c);
    return rc;
broken:
    rz_error("store: retention: the link of seqs %llu-%llu does not verify "
             "against its events; nothing is pruned until `ratusz verify` "
             "is clean",
             (unsigned long long)first, (unsigned long long)(first + l->n - 1));
    return RZ_ESTORE;
}

/* Mark seq removed in the link that covers it (sealing it first). No link
 * (events stored before the chain, or with it off): nothing to do. */
static int s_link_prune(rz_store_t *s, MDB_txn *txn, uint64_t seq)
{
    struct s_link l;
    MDB_val val;
    int rc = s_link_of(s, txn, seq, &l, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = s_seal_build(s, txn, &l, &val)))
        return rc;
    uint8_t *out = s->seal;
    out[S_LINK_HDR + S_DIGEST + (size_t)S_SEAL_ENT * (seq - l.first)] =
        S_ENT_PRUNED;
    s_seal_hash(out, l.n, out + S_LINK_HDR);
    uint64_t first = l.first;
    MDB_val k = {sizeof first, &first}, v = {S_SEALED_SIZE(l.n), out};
    return mdb_put(txn, s->chain, &k, &v, 0);
}

/* Add to a group's lost count. A group deleted meanwhile loses nothing. */
static int s_group_lost(rz_store_t *s, MDB_txn *txn, const rz_store_lost_t *l)
{
    MDB_val k = {strlen(l->group), (void *)l->group}, v;
    if (!k.mv_size || k.mv_size > s->max_key)
        return 0;
    int rc = mdb_get(txn, s->consumers, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    Ratusz__V1__ConsumerGroup *g =
        ratusz__v1__consumer_group__unpack(NULL, v.mv_size, v.mv_data);
    if (!g)
        return MDB_CORRUPTED;
    g->lost += l->events;
    g->lag = 0;
    v.mv_size = ratusz__v1__consumer_group__get_packed_size(g);
    v.mv_data = NULL;
    rc = mdb_put(txn, s->consumers, &k, &v, MDB_RESERVE);
    if (rc == 0)
        ratusz__v1__consumer_group__pack(g, v.mv_data);
    ratusz__v1__consumer_group__free_unpacked(g, NULL);
    return rc;
}

/* Remove one event (its log value is v) and its index entries. */
static int s_pseud_unindex(rz_store_t *s, MDB_txn *txn, uint64_t seq,
                           const MDB_val *v);

static int s_prune_event(rz_store_t *s, MDB_txn *txn, rz_store_prune_t *p,
                         uint64_t seq, const MDB_val *v, uint64_t pmark)
{
    Ratusz__V1__Event *ev =
        ratusz__v1__event__unpack(NULL, v->mv_size, v->mv_data);
    char topic[RZ_TOPIC_MAX + 1];
    uint8_t ts[16], be[8], idkey[S_KEY_BUF], fk[16];
    size_t len = v->mv_size;
    MDB_val k, d;
    int rc;

    if (!ev)
        return MDB_CORRUPTED;
    int tl = rz_event_topic(ev, topic, sizeof topic);
    const char *src = ev->source ? ev->source : "";
    const char *id = ev->id ? ev->id : "";
    const char *subj = ev->subject ? ev->subject : "";
    size_t sl = strlen(src), il = strlen(id), jl = strlen(subj);
    if (tl <= 0 || sl + 1 + il > s->max_key || jl > s->max_key) {
        rc = MDB_CORRUPTED; /* the writer never stored such an event */
        goto done;
    }
    /* the pseudonym index, where the indexer got to this event: first,
     * while v still points at the event's bytes */
    if (seq <= pmark && (rc = s_pseud_unindex(s, txn, seq, v)))
        goto done;
    if ((rc = s_link_prune(s, txn, seq)))
        goto done;
    k.mv_size = sizeof seq;
    k.mv_data = &seq;
    if ((rc = mdb_del(txn, s->log, &k, NULL)))
        goto done;

    /* the index entries s_put_event and the topic put wrote; one that is
     * gone already is not an error (an older version's crash) */
    s_time_seq(ts, ev->time, seq);
    if (jl && (rc = s_subj_unindex(s, txn, subj, jl, ts, seq)))
        goto done;
    k.mv_size = sizeof ts;
    k.mv_data = ts;
    rc = mdb_del(txn, s->times, &k, NULL);
    if (rc && rc != MDB_NOTFOUND)
        goto done;
    s_put_be64(be, seq);
    k.mv_size = (size_t)tl;
    k.mv_data = topic;
    d.mv_size = sizeof be;
    d.mv_data = be;
    rc = mdb_del(txn, s->topics, &k, &d);
    if (rc && rc != MDB_NOTFOUND)
        goto done;

    /* ids: only the entry that points at this event */
    memcpy(idkey, src, sl);
    idkey[sl] = 0;
    memcpy(idkey + sl + 1, id, il);
    k.mv_size = sl + 1 + il;
    k.mv_data = idkey;
    rc = mdb_get(txn, s->ids, &k, &d);
    if (rc == 0 && d.mv_size >= 8 && s_get_be64(d.mv_data) == seq) {
        if (p->keep_ids) {
            MDB_val fkv = {sizeof fk, fk};
            s_put_be64(fk, (uint64_t)p->now ^ S_TIME_BIAS);
            s_put_be64(fk + 8, seq);
            rc = mdb_put(txn, s->forget, &fkv, &k, 0);
        } else {
            rc = mdb_del(txn, s->ids, &k, NULL);
        }
    } else if (rc == MDB_NOTFOUND || rc == 0) {
        rc = 0;
    }
    if (rc)
        goto done;
    p->removed++;
    p->bytes += len;
done:
    ratusz__v1__event__free_unpacked(ev, NULL);
    return rc;
}

static int s_pseud_mark(rz_store_t *s, MDB_txn *txn, uint64_t *mark);

static int s_prune_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    rz_store_prune_t *p = arg;
    uint8_t key[S_KEY_BUF], val[16];
    uint64_t head = 0, events = 0, bytes = 0, pmark = 0;
    size_t klen;
    MDB_val k, v;
    int rc;

    p->removed = p->bytes = 0; /* a retried transaction starts again */
    if ((rc = s_head(s, txn, &head)))
        return rc;
    if (s->pseud_fn && (rc = s_pseud_mark(s, txn, &pmark)))
        return rc;
    for (size_t i = 0; i < p->n; i++) {
        uint64_t seq = p->seqs[i];
        if (seq >= head) /* the head stays: seq never goes back */
            continue;
        k.mv_size = sizeof seq;
        k.mv_data = &seq;
        rc = mdb_get(txn, s->log, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc || (rc = s_prune_event(s, txn, p, seq, &v, pmark)))
            return rc;
    }
    for (size_t i = 0; i < p->n_lost; i++)
        if ((rc = s_group_lost(s, txn, &p->lost[i])))
            return rc;
    if (!p->removed)
        return 0;
    if ((rc = s_pruned_key(s, p->prefix, key, &klen)))
        return rc;
    k.mv_size = klen;
    k.mv_data = key;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof val) {
        events = s_get_be64(v.mv_data);
        bytes = s_get_be64((const uint8_t *)v.mv_data + 8);
    } else if (rc && rc != MDB_NOTFOUND) {
        return rc;
    }
    s_put_be64(val, events + p->removed);
    s_put_be64(val + 8, bytes + p->bytes);
    v.mv_size = sizeof val;
    v.mv_data = val;
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int rz_store_prune(rz_store_t *s, rz_store_prune_t *p)
{
    uint8_t key[S_KEY_BUF];
    size_t klen;

    if (!s || !p || (!p->seqs && p->n) || (!p->lost && p->n_lost) ||
        s_pruned_key(s, p->prefix, key, &klen))
        return RZ_EINVAL;
    for (size_t i = 0; i < p->n_lost; i++)
        if (!p->lost[i].group)
            return RZ_EINVAL;
    int rc = s_write(s, s_prune_txn, p);
    if (rc) {
        p->removed = p->bytes = 0;
        return rc == RZ_ESTORE ? rc : s_fail("prune", rc);
    }
    return 0;
}

struct s_forget {
    int64_t before;
    size_t max, done;
};

static int s_forget_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_forget *f = arg;
    MDB_cursor *c = NULL;
    MDB_val k, v, d;
    uint8_t until[8];
    int rc;

    f->done = 0;
    s_put_be64(until, (uint64_t)f->before ^ S_TIME_BIAS);
    if ((rc = mdb_cursor_open(txn, s->forget, &c)))
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0 && f->done < f->max) {
        if (k.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (memcmp(k.mv_data, until, 8) > 0)
            break;
        uint64_t seq = s_get_be64((const uint8_t *)k.mv_data + 8);
        /* the id may have been published again since: that entry stays */
        rc = mdb_get(txn, s->ids, &v, &d);
        if (rc == 0 && d.mv_size >= 8 && s_get_be64(d.mv_data) == seq)
            rc = mdb_del(txn, s->ids, &v, NULL);
        else if (rc == 0 || rc == MDB_NOTFOUND)
            rc = 0;
        if (rc || (rc = mdb_cursor_del(c, 0)))
            break;
        f->done++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    mdb_cursor_close(c);
    return rc;
}

int rz_store_forget(rz_store_t *s, int64_t before, size_t max)
{
    struct s_forget f = {before, max, 0};
    if (!s)
        return RZ_EINVAL;
    if (!max)
        return 0;
    int rc = s_write(s, s_forget_txn, &f);
    if (rc)
        return s_fail("forget ids", rc);
    return (int)(f.done > INT32_MAX ? INT32_MAX : f.done);
}

int rz_store_pruned_totals(rz_store_t *s, const char *prefix, uint64_t *events,
                           uint64_t *bytes)
{
    uint8_t key[S_KEY_BUF];
    size_t klen;
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    if (events)
        *events = 0;
    if (bytes)
        *bytes = 0;
    if (!s || s_pruned_key(s, prefix, key, &klen))
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    k.mv_size = klen;
    k.mv_data = key;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 16) {
        if (events)
            *events = s_get_be64(v.mv_data);
        if (bytes)
            *bytes = s_get_be64((const uint8_t *)v.mv_data + 8);
    }
    s_read_end(s, txn);
    return rc == MDB_NOTFOUND ? 0 : s_fail("pruned totals", rc);
}

/* Whether the link covering seq marks it removed (txn open). */
static int s_is_pruned(rz_store_t *s, MDB_txn *txn, uint64_t seq)
{
    struct s_link l;
    MDB_val val;
    int rc = s_link_of(s, txn, seq, &l, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    return l.sealed &&
           l.ents[(size_t)S_SEAL_ENT * (seq - l.first)] == S_ENT_PRUNED;
}

int rz_store_pruned(rz_store_t *s, uint64_t seq)
{
    MDB_txn *txn;
    int rc;
    if (!s)
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    rc = s_is_pruned(s, txn, seq);
    s_read_end(s, txn);
    return rc < 0 || rc > 1 ? s_fail("pruned", rc) : rc;
}

int rz_store_scan_topics(rz_store_t *s, uint64_t from, const char *prefix,
                         size_t max, rz_store_topic_visit_fn fn, void *user,
                         uint64_t *next_seq)
{
    s_merge_t m = {0};
    MDB_txn *txn;
    uint64_t head = 0, last = 0;
    size_t visited = 0, plen = prefix ? strlen(prefix) : 0;
    int rc, stop = 0, exhausted = 0;

    if (!s || !fn)
        return RZ_EINVAL;
    if (from == 0)
        from = 1;
    if (plen > s->max_key) {
        if (next_seq)
            *next_seq = from;
        return 0;
    }
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = s_head(s, txn, &head)))
        goto done;
    rc = s_merge_init(&m, s, txn, prefix ? prefix : "", plen, from);
    while (rc == 0) {
        if (!m.n) {
            exhausted = 1;
            break;
        }
        if (visited == max || stop)
            break;
        uint64_t seq = m.heap[0].seq;
        MDB_val k = {sizeof seq, &seq}, v;
        int64_t t = 0;
        if ((rc = mdb_get(txn, s->log, &k, &v))) {
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;
            break;
        }
        (void)s_event_time(v.mv_data, v.mv_size, &t);
        if (fn(seq, m.heap[0].key.mv_data, m.heap[0].key.mv_size, t, v.mv_size,
               user))
            stop = 1;
        visited++;
        last = seq;
        rc = s_merge_advance(&m);
    }
    if (rc == MDB_NOTFOUND) {
        exhausted = 1;
        rc = 0;
    }
done:
    s_merge_free(&m);
    s_read_end(s, txn);
    if (rc)
        return s_fail("scan topics", rc);
    if (next_seq) {
        if (!exhausted)
            *next_seq = visited ? last + 1 : from;
        else
            *next_seq = head + 1 > from ? head + 1 : from;
    }
    return (int)(visited > INT32_MAX ? INT32_MAX : visited);
}

uint64_t rz_store_id_seq(rz_store_t *s, const char *source, const char *id)
{
    uint8_t key[S_KEY_BUF];
    uint64_t seq = 0;
    MDB_txn *txn;
    MDB_val k, v;

    if (!s || !source || !id)
        return 0;
    size_t sl = strlen(source), il = strlen(id);
    if (sl + 1 + il > s->max_key)
        return 0;
    memcpy(key, source, sl);
    key[sl] = 0;
    memcpy(key + sl + 1, id, il);
    k.mv_size = sl + 1 + il;
    k.mv_data = key;
    if (s_read_begin(s, &txn))
        return 0;
    if (mdb_get(txn, s->ids, &k, &v) == 0 && v.mv_size >= 8)
        seq = s_get_be64(v.mv_data);
    s_read_end(s, txn);
    return seq;
}

/* ------------------------------------------------------------------------
 * The pseudonym index (store.h; pindex.c runs it)
 *
 * The indexer reads a batch of events after pseud.mark in a read
 * transaction and asks the hook for their pseudonyms there (the HMACs are
 * the cost, and they run outside the single LMDB writer), then writes the
 * entries and the new mark in one short write transaction. An event
 * retention removed in between is not indexed: its log entry is checked
 * in the write transaction, which LMDB serialises with the prune's.
 */

static int s_pseud_mark(rz_store_t *s, MDB_txn *txn, uint64_t *mark)
{
    MDB_val k = {sizeof S_PSEUD_MARK - 1, (void *)S_PSEUD_MARK}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    *mark = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && v.mv_size != 8)
        return MDB_CORRUPTED;
    if (rc == 0)
        *mark = s_get_be64(v.mv_data);
    return rc;
}

static int s_pseud_mark_put(rz_store_t *s, MDB_txn *txn, uint64_t mark)
{
    uint8_t be[8];
    s_put_be64(be, mark);
    MDB_val k = {sizeof S_PSEUD_MARK - 1, (void *)S_PSEUD_MARK};
    MDB_val v = {sizeof be, be};
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* Remove the index entries of the event (its log value v). */
static int s_pseud_unindex(rz_store_t *s, MDB_txn *txn, uint64_t seq,
                           const MDB_val *v)
{
    uint8_t keys[RZ_STORE_PSEUD_EVENT_MAX * RZ_STORE_PSEUD], be[8];
    if (!s->pseud_fn)
        return 0;
    int n = s->pseud_fn(v->mv_data, v->mv_size, keys, RZ_STORE_PSEUD_EVENT_MAX,
                        s->pseud_user);
    if (n <= 0)
        return 0; /* nothing indexed, or nothing the indexer could read */
    s_put_be64(be, seq);
    for (int i = 0; i < n; i++) {
        MDB_val k = {RZ_STORE_PSEUD, keys + (size_t)i * RZ_STORE_PSEUD};
        MDB_val d = {sizeof be, be};
        int rc = mdb_del(txn, s->pseud, &k, &d);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

void rz_store_pseud_hook(rz_store_t *s, rz_store_pseud_fn fn, void *user)
{
    if (!s)
        return;
    s->pseud_fn = fn;
    s->pseud_user = user;
}

struct s_bind {
    const char *key_id;
    uint64_t mark;
    int rebuilt; /* 1: emptied for another key, 2: new */
};

static int s_bind_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_bind *b = arg;
    MDB_val k = {sizeof S_PSEUD_KEY - 1, (void *)S_PSEUD_KEY}, v;
    size_t idl = strlen(b->key_id);
    int rc = mdb_get(txn, s->meta, &k, &v);
    b->rebuilt = 0;
    if (rc == 0 && v.mv_size == idl && memcmp(v.mv_data, b->key_id, idl) == 0)
        return s_pseud_mark(s, txn, &b->mark);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    b->rebuilt = rc == MDB_NOTFOUND ? 2 : 1;
    b->mark = 0;
    if ((rc = mdb_drop(txn, s->pseud, 0)) || (rc = s_pseud_mark_put(s, txn, 0)))
        return rc;
    v.mv_size = idl;
    v.mv_data = (void *)b->key_id;
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int rz_store_pseud_bind(rz_store_t *s, const char *key_id, uint64_t *mark)
{
    if (!s || !key_id || !*key_id || strlen(key_id) > 64)
        return RZ_EINVAL;
    struct s_bind b = {key_id, 0, 0};
    int rc = s_write(s, s_bind_txn, &b);
    if (rc)
        return s_fail("pseudonym index", rc);
    if (mark)
        *mark = b.mark;
    return b.rebuilt;
}

int rz_store_pseud_state(rz_store_t *s, uint64_t *mark, uint64_t *head)
{
    MDB_txn *txn;
    int rc;
    if (!s)
        return RZ_EINVAL;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    rc = s_pseud_mark(s, txn, mark);
    if (rc == 0 && head)
        rc = s_head(s, txn, head);
    s_read_end(s, txn);
    return rc ? s_fail("pseudonym index", rc) : 0;
}

struct s_pseud_write {
    uint64_t mark;
    size_t n;   /* entries in s->pseud_buf */
    size_t put; /* out: entries written */
};

static int s_pseud_txn(rz_store_t *s, MDB_txn *txn, void *arg)
{
    struct s_pseud_write *w = arg;
    uint64_t mark, checked = 0;
    int gone = 0, rc;

    w->put = 0;
    if ((rc = s_pseud_mark(s, txn, &mark)))
        return rc;
    for (size_t i = 0; i < w->n; i++) {
        uint8_t *e = s->pseud_buf + i * S_PSEUD_ENT;
        uint64_t seq = s_get_be64(e + RZ_STORE_PSEUD);
        if (seq != checked) { /* one look per event: entries come grouped */
            MDB_val lk = {sizeof seq, &seq}, lv;
            rc = mdb_get(txn, s->log, &lk, &lv);
            if (rc && rc != MDB_NOTFOUND)
                return rc;
            gone = rc == MDB_NOTFOUND; /* retention took it meanwhile */
            checked = seq;
        }
        if (gone)
            continue;
        MDB_val k = {RZ_STORE_PSEUD, e};
        MDB_val d = {8, e + RZ_STORE_PSEUD};
        rc = mdb_put(txn, s->pseud, &k, &d, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST) /* the same value twice in one event */
            rc = 0;
        else if (rc == 0)
            w->put++;
        if (rc)
            return rc;
    }
    return w->mark > mark ? s_pseud_mark_put(s, txn, w->mark) : 0;
}

int rz_store_pseud_flush(rz_store_t *s, uint64_t mark)
{
    struct s_pseud_write w = {mark, 0, 0};
    int rc = s ? s_write(s, s_pseud_txn, &w) : RZ_EINVAL;
    return rc ? s_fail("pseudonym index", rc) : 0;
}

int rz_store_pseud_batch(rz_store_t *s, uint64_t after, size_t max,
                         rz_store_pseud_batch_t *out)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint64_t stored = 0, mark = after;
    size_t n = 0;
    int rc;

    if (!s || !out || !s->pseud_fn || max == 0)
        return RZ_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = s_reserve((void **)&s->pseud_buf, &s->pseud_cap,
                        RZ_STORE_PSEUD_EVENT_MAX * S_PSEUD_ENT)))
        return rc;
    if ((rc = s_read_begin(s, &txn)))
        return rc;
    if ((rc = s_pseud_mark(s, txn, &stored)) ||
        (rc = mdb_cursor_open(txn, s->log, &c)))
        goto read_done;
    if (stored > after)
        after = mark = stored;
    uint64_t first = after + 1;
    k.mv_size = sizeof first;
    k.mv_data = &first;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && out->events < max) {
        uint64_t seq = s_key_seq(&k);
        /* room for one more event's entries */
        if ((rc = s_reserve((void **)&s->pseud_buf, &s->pseud_cap,
                            (n + RZ_STORE_PSEUD_EVENT_MAX) * S_PSEUD_ENT)))
            break;
        uint8_t *at = s->pseud_buf + n * S_PSEUD_ENT;
        /* the hook writes packed keys; spread them into entries from the
         * end so that none is overwritten before it is moved */
        int got = s->pseud_fn(v.mv_data, v.mv_size, at,
                              RZ_STORE_PSEUD_EVENT_MAX, s->pseud_user);
        if (got < 0) {
            out->unreadable++;
            got = 0;
        }
        for (int i = got - 1; i >= 0; i--) {
            memmove(at + (size_t)i * S_PSEUD_ENT,
                    at + (size_t)i * RZ_STORE_PSEUD, RZ_STORE_PSEUD);
            s_put_be64(at + (size_t)i * S_PSEUD_ENT + RZ_STORE_PSEUD, seq);
        }
        n += (size_t)got;
        if (got > 0)
            out->indexed++;
        out->events++;
        mark = seq;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
read_done:
    if (c)
        mdb_cursor_close(c);
    s_read_end(s, txn);
    if (rc)
        return s_fail("pseudonym index", rc);
    out->mark = mark;
    if (out->events == 0)
        return 0;
    /* events without personal data need no write: the mark moves on in
     * the caller's memory, and is written with the next entries, every
     * RZ_STORE_PSEUD_MARK_EVERY events, or by rz_store_pseud_flush */
    if (n == 0 && mark - stored < RZ_STORE_PSEUD_MARK_EVERY)
        return (int)out->events;
    struct s_pseud_write w = {mark, n, 0};
    if ((rc = s_write(s, s_pseud_txn, &w)))
        return s_fail("pseudonym index", rc);
    out->entries = w.put;
    out->written = 1;
    return (int)out->events;
}
