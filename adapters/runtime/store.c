/* store.c - the adapter's LMDB store: environment, outbox, state and
 * counters (the quarantine is in quarantine.c) */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/errors.h"
#include "store_int.h"

/* ===========================================================================
 * Helpers shared with quarantine.c
 */

int rz__astore_err(int mdb_rc, const char *what)
{
    /* a missing key is an answer, not a failure: no log line */
    if (mdb_rc == MDB_NOTFOUND)
        return RZ_ENOTFOUND;
    return rzc_lmdb_fail(what, mdb_rc);
}

void rz__be64(uint8_t b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t rz__get_be64(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

void rz__le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t rz__get_le64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

void rz__le32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint32_t rz__get_le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

/* ===========================================================================
 * Environment
 */

int rz_astore_open(rz_astore_t **out, const char *dir, uint64_t map_size,
                   char *err, size_t err_len)
{
    *out = NULL;
    rz_astore_t *s = calloc(1, sizeof *s);
    if (!s)
        return RZ_ENOMEM;
    /* outbox, quarantine, state, inputs; NOTLS: read transactions are
     * opened by several threads */
    rzc_lmdb_opts_t o = {.dir = dir,
                         .dir_mode = 0750,
                         .file_mode = 0640,
                         .flags = MDB_NOTLS,
                         .max_dbs = 4,
                         .max_readers = 64,
                         .map_size = (size_t)map_size};
    char why[512];
    int rc = rzc_lmdb_open(&s->env, &o, why, sizeof why);
    if (rc) {
        snprintf(err, err_len, "data_dir %s", why);
        free(s);
        return rc;
    }
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (!mrc)
        mrc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &s->outbox);
    if (!mrc)
        mrc = mdb_dbi_open(txn, "quarantine", MDB_CREATE, &s->quarantine);
    if (!mrc)
        mrc = mdb_dbi_open(txn, "state", MDB_CREATE, &s->state);
    if (!mrc)
        mrc = mdb_dbi_open(txn, "inputs", MDB_CREATE, &s->inputs);
    if (!mrc) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc) {
        snprintf(err, err_len, "data_dir %s: cannot open the store: %s", dir,
                 mdb_strerror(mrc));
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(s->env);
        free(s);
        return rzc_lmdb_code(mrc);
    }
    /* a quarantine kept before its classes were counted is counted now */
    if ((rc = rz__qclass_seed(s))) {
        snprintf(err, err_len, "data_dir %s: cannot count the quarantine: %s",
                 dir, rz_strerror(rc));
        mdb_env_close(s->env);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void rz_astore_destroy(rz_astore_t **sp)
{
    if (!sp || !*sp)
        return;
    mdb_env_close((*sp)->env);
    free(*sp);
    *sp = NULL;
}

/* ===========================================================================
 * Transactions and counters
 */

static const char *const s_counter_names[] = {
    "c:read",       "c:published",  "c:files_done", "c:files_failed",
    "c:duplicates", "c:conflicts"};

static uint64_t s_counter_get(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    if (mdb_get(txn, dbi, &k, &v) || v.mv_size != 8)
        return 0;
    return rz__get_le64(v.mv_data);
}

static int s_counter_add(rz_atxn_t *t, const char *name, int64_t delta)
{
    if (delta == 0)
        return 0;
    uint64_t n = s_counter_get(t->txn, t->s->state, name) + (uint64_t)delta;
    uint8_t b[8];
    rz__le64(b, n);
    MDB_val k = {strlen(name), (void *)name}, v = {8, b};
    return rz__astore_err(mdb_put(t->txn, t->s->state, &k, &v, 0), name);
}

int rz_atxn_begin(rz_astore_t *s, rz_atxn_t *t)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    return rz__astore_err(mdb_txn_begin(s->env, NULL, 0, &t->txn),
                          "begin");
}

int rz_atxn_commit(rz_atxn_t *t)
{
    if (!t->txn)
        return RZ_EINVAL;
    int64_t deltas[] = {t->d_read,         t->d_published,
                        t->d_files_done,   t->d_files_failed,
                        t->d_duplicates,   t->d_conflicts};
    _Static_assert(sizeof deltas / sizeof deltas[0] ==
                       sizeof s_counter_names / sizeof s_counter_names[0],
                   "one name per counter");
    int rc = 0;
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0] && !rc; i++)
        rc = s_counter_add(t, s_counter_names[i], deltas[i]);
    if (!rc && t->next_seq) {
        uint8_t b[8];
        rz__le64(b, t->next_seq);
        MDB_val k = {5, (void *)"c:seq"}, v = {8, b};
        rc = rz__astore_err(mdb_put(t->txn, t->s->state, &k, &v, 0), "seq");
    }
    if (!rc && t->next_qid) {
        uint8_t b[8];
        rz__le64(b, t->next_qid);
        MDB_val k = {5, (void *)"c:qid"}, v = {8, b};
        rc = rz__astore_err(mdb_put(t->txn, t->s->state, &k, &v, 0), "qid");
    }
    if (rc) {
        rz_atxn_abort(t);
        return rc;
    }
    rc = rz__astore_err(mdb_txn_commit(t->txn), "commit");
    t->txn = NULL;
    return rc;
}

void rz_atxn_abort(rz_atxn_t *t)
{
    if (t->txn)
        mdb_txn_abort(t->txn);
    t->txn = NULL;
}

uint64_t rz__atxn_next(rz_atxn_t *t, const char *name, uint64_t *cache)
{
    if (*cache == 0) {
        *cache = s_counter_get(t->txn, t->s->state, name);
        if (*cache == 0)
            *cache = 1;
    }
    return (*cache)++;
}

/* ===========================================================================
 * Outbox
 */

int rz_outbox_put(rz_atxn_t *t, const rz_orec_t *r, uint64_t *seq)
{
    if (r->olen > UINT32_MAX || r->klen > UINT32_MAX)
        return RZ_EINVAL;
    if (t->next_seq == 0) {
        /* the counter, or past the last key should the counter ever lag */
        uint64_t n = rz__atxn_next(t, "c:seq", &t->next_seq);
        MDB_cursor *cur;
        MDB_val lk, lv;
        if (mdb_cursor_open(t->txn, t->s->outbox, &cur) == 0) {
            if (mdb_cursor_get(cur, &lk, &lv, MDB_LAST) == 0 &&
                lk.mv_size == 8 && rz__get_be64(lk.mv_data) >= n)
                t->next_seq = rz__get_be64(lk.mv_data) + 1;
            else
                t->next_seq = n;
            mdb_cursor_close(cur);
        }
    }
    uint64_t n = t->next_seq++;
    uint8_t kb[8];
    rz__be64(kb, n);
    size_t size = 1 + 8 + 8 + 4 + r->olen + 4 + r->klen + r->len;
    MDB_val k = {8, kb}, v = {size, NULL};
    int rc = rz__astore_err(
        mdb_put(t->txn, t->s->outbox, &k, &v, MDB_RESERVE | MDB_APPEND),
        "outbox put");
    if (rc)
        return rc;
    uint8_t *p = v.mv_data;
    *p++ = 'O';
    rz__le64(p, (uint64_t)r->spooled);
    p += 8;
    rz__le64(p, r->line);
    p += 8;
    rz__le32(p, (uint32_t)r->olen);
    p += 4;
    memcpy(p, r->origin, r->olen);
    p += r->olen;
    rz__le32(p, (uint32_t)r->klen);
    p += 4;
    memcpy(p, r->key, r->klen);
    p += r->klen;
    memcpy(p, r->event, r->len);
    if (seq)
        *seq = n;
    return 0;
}

static int s_orec_decode(uint64_t seq, const MDB_val *v, rz_orec_t *r)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    if (v->mv_size < 25 || p[0] != 'O')
        return RZ_ESTORE;
    r->seq = seq;
    r->spooled = (int64_t)rz__get_le64(p + 1);
    r->line = rz__get_le64(p + 9);
    r->olen = rz__get_le32(p + 17);
    p += 21;
    if ((size_t)(end - p) < r->olen + 4)
        return RZ_ESTORE;
    r->origin = (const char *)p;
    p += r->olen;
    r->klen = rz__get_le32(p);
    p += 4;
    if ((size_t)(end - p) < r->klen)
        return RZ_ESTORE;
    r->key = (const char *)p;
    p += r->klen;
    r->event = p;
    r->len = (size_t)(end - p);
    return 0;
}

int rz_outbox_del(rz_atxn_t *t, uint64_t seq, int outcome)
{
    uint8_t kb[8];
    rz__be64(kb, seq);
    MDB_val k = {8, kb};
    int rc = rz__astore_err(mdb_del(t->txn, t->s->outbox, &k, NULL),
                            "outbox del");
    if (rc == 0 && outcome == RZ_OUTBOX_PUBLISHED)
        t->d_published++;
    else if (rc == 0 && outcome == RZ_OUTBOX_DUPLICATE)
        t->d_duplicates++;
    return rc;
}

int rz_outbox_get(rz_atxn_t *t, uint64_t seq, rz_orec_t *r)
{
    uint8_t kb[8];
    rz__be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = rz__astore_err(mdb_get(t->txn, t->s->outbox, &k, &v),
                            "outbox get");
    return rc ? rc : s_orec_decode(seq, &v, r);
}

int rz_outbox_scan(rz_astore_t *s, uint64_t from, size_t max, rz_outbox_cb cb,
                   void *user)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
    if (rc)
        return rc;
    rc = rz__astore_err(mdb_cursor_open(txn, s->outbox, &cur), "cursor");
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint8_t kb[8];
    rz__be64(kb, from);
    MDB_val k = {8, kb}, v;
    int n = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && (max == 0 || (size_t)n < max)) {
        rz_orec_t r;
        if (k.mv_size != 8 || s_orec_decode(rz__get_be64(k.mv_data), &v, &r)) {
            rc = RZ_ESTORE;
            break;
        }
        n++;
        if (cb(&r, user))
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = rz__astore_err(mrc, "outbox scan");
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc ? rc : n;
}

int rz_outbox_range_empty(rz_astore_t *s, uint64_t first, uint64_t last)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
    if (rc)
        return rc;
    rc = rz__astore_err(mdb_cursor_open(txn, s->outbox, &cur), "cursor");
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint8_t kb[8];
    rz__be64(kb, first);
    MDB_val k = {8, kb}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_NOTFOUND)
        rc = 1;
    else if (mrc)
        rc = rz__astore_err(mrc, "outbox range");
    else
        rc = rz__get_be64(k.mv_data) > last;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

/* ===========================================================================
 * State
 */

int rz_state_get(rz_astore_t *s, rz_atxn_t *t, const char *key, void *buf,
                 size_t len)
{
    MDB_txn *txn = t ? t->txn : NULL;
    int rc = 0;
    if (!txn) {
        rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
        if (rc)
            return rc;
    }
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = rz__astore_err(mdb_get(txn, s->state, &k, &v), "state get");
    if (!rc) {
        memcpy(buf, v.mv_data, v.mv_size < len ? v.mv_size : len);
        rc = v.mv_size > INT32_MAX ? INT32_MAX : (int)v.mv_size;
    }
    if (!t)
        mdb_txn_abort(txn);
    return rc;
}

int rz_state_put(rz_atxn_t *t, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    if (k.mv_size == 0 || k.mv_size > 511)
        return RZ_EINVAL;
    return rz__astore_err(mdb_put(t->txn, t->s->state, &k, &v, 0),
                          "state put");
}

int rz_state_del(rz_atxn_t *t, const char *key)
{
    MDB_val k = {strlen(key), (void *)key};
    return rz__astore_err(mdb_del(t->txn, t->s->state, &k, NULL),
                          "state del");
}

int rz_state_scan(rz_astore_t *s, const char *prefix, rz_state_cb cb,
                  void *user)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
    if (rc)
        return rc;
    rc = rz__astore_err(mdb_cursor_open(txn, s->state, &cur), "cursor");
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    size_t plen = strlen(prefix);
    MDB_val k = {plen, (void *)prefix}, v;
    int n = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    char key[512];
    while (mrc == 0 && k.mv_size >= plen &&
           memcmp(k.mv_data, prefix, plen) == 0) {
        size_t kl = k.mv_size < sizeof key - 1 ? k.mv_size : sizeof key - 1;
        memcpy(key, k.mv_data, kl);
        key[kl] = '\0';
        n++;
        if (cb(key, v.mv_data, v.mv_size, user))
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

int rz_astore_counts(rz_astore_t *s, rz_acounts_t *c)
{
    memset(c, 0, sizeof *c);
    MDB_txn *txn;
    int rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
    if (rc)
        return rc;
    MDB_stat st;
    if (mdb_stat(txn, s->outbox, &st) == 0)
        c->depth = st.ms_entries;
    if (mdb_stat(txn, s->quarantine, &st) == 0)
        c->quarantined = st.ms_entries;
    c->read = s_counter_get(txn, s->state, "c:read");
    c->published = s_counter_get(txn, s->state, "c:published");
    c->files_done = s_counter_get(txn, s->state, "c:files_done");
    c->files_failed = s_counter_get(txn, s->state, "c:files_failed");
    c->duplicates = s_counter_get(txn, s->state, "c:duplicates");
    c->conflicts = s_counter_get(txn, s->state, "c:conflicts");
    mdb_txn_abort(txn);
    return 0;
}
