/* quarantine.c - records that could not become events, kept with their
 * original bytes, where they came from and why; and the inputs they came
 * from, so that a retry parses them again in their context
 *
 * Record layout (integers little-endian):
 *
 *   +-----+---------+------+------+---------------------------+-------+
 *   | 'Q' | time µs | line | kind | 7 x (u32 len, text)       | u32   |
 *   | 1 B | i64     | u64  | 1 B  | module origin name key    | len,  |
 *   |     |         |      |      | reason content_type       | bytes |
 *   |     |         |      |      | content_id                |       |
 *   +-----+---------+------+------+---------------------------+-------+
 *   | whole | u32 len, input key | u32 part |   (optional: records
 *   | 1 B   |                    | (later)  |    quarantined before inputs
 *   +-------+--------------------+----------+    were kept end above, and
 *                                                 before parts, after the key)
 *
 * Kept input layout, under its key in the inputs database:
 *
 *   +-----+---------+------------+---------+---------------------+--------+
 *   | 'I' | time µs | first_line | partial | 4 x (u32 len, text) | u64    |
 *   | 1 B | i64     | u64        | 1 B     | origin name         | len,   |
 *   |     |         |            |         | content_type        | data   |
 *   |     |         |            |         | content_id          |        |
 *   +-----+---------+------------+---------+---------------------+--------+
 */
#include <stdlib.h>
#include <string.h>

#include "ratusz/errors.h"
#include "store.h"
#include "store_int.h"

#define S_NSTR 7
#define S_HEAD (1 + 8 + 8 + 1)

static const char *const *s_strs(const rz_qrec_t *r, const char *out[S_NSTR])
{
    out[0] = r->module;
    out[1] = r->origin;
    out[2] = r->name;
    out[3] = r->key;
    out[4] = r->reason;
    out[5] = r->content_type;
    out[6] = r->content_id;
    return out;
}

/* The texts of a record or an input: (u32 len, bytes) each. */
static size_t s_strs_size(const char *const *strs, int n)
{
    size_t size = 0;
    for (int i = 0; i < n; i++)
        size += 4 + (strs[i] ? strlen(strs[i]) : 0);
    return size;
}

static uint8_t *s_put_strs(uint8_t *p, const char *const *strs, int n)
{
    for (int i = 0; i < n; i++) {
        size_t l = strs[i] ? strlen(strs[i]) : 0;
        rz__le32(p, (uint32_t)l);
        if (l)
            memcpy(p + 4, strs[i], l);
        p += 4 + l;
    }
    return p;
}

/* Read n texts from *p (before end) into *o, each NUL-terminated, and
 * point fields at them. 0, or -1 when the bytes end too soon. */
static int s_take_strs(const uint8_t **p, const uint8_t *end, char **o,
                       const char **const *fields, int n)
{
    for (int i = 0; i < n; i++) {
        if (end - *p < 4)
            return -1;
        uint32_t l = rz__get_le32(*p);
        *p += 4;
        if ((size_t)(end - *p) < l)
            return -1;
        memcpy(*o, *p, l);
        (*o)[l] = '\0';
        *fields[i] = *o;
        *o += l + 1;
        *p += l;
    }
    return 0;
}

int rz_quarantine_put(rz_atxn_t *t, const rz_qrec_t *r, int replace,
                      uint64_t *id)
{
    const char *strs[S_NSTR];
    s_strs(r, strs);
    size_t ilen = r->input ? strlen(r->input) : 0;
    size_t size = S_HEAD + 4 + r->len + (ilen ? 1 + 4 + ilen + 4 : 0);
    size += s_strs_size(strs, S_NSTR);
    if (r->len > UINT32_MAX)
        return RZ_ETOOBIG;
    uint64_t n = replace && r->id ? r->id
                                  : rz__atxn_next(t, "c:qid", &t->next_qid);
    int rc = rz__qclass_put(t, r->reason ? r->reason : "", r->time,
                            replace && r->id ? r->id : 0);
    if (rc)
        return rc;
    uint8_t kb[8];
    rz__be64(kb, n);
    MDB_val k = {8, kb}, v = {size, NULL};
    rc = rz__astore_err(mdb_put(t->txn, t->s->quarantine, &k, &v, MDB_RESERVE),
                        "quarantine put");
    if (rc)
        return rc;
    uint8_t *p = v.mv_data;
    *p++ = 'Q';
    rz__le64(p, (uint64_t)r->time);
    p += 8;
    rz__le64(p, r->line);
    p += 8;
    *p++ = (uint8_t)r->kind;
    p = s_put_strs(p, strs, S_NSTR);
    rz__le32(p, (uint32_t)r->len);
    p += 4;
    if (r->len)
        memcpy(p, r->bytes, r->len);
    p += r->len;
    if (ilen) {
        *p++ = r->whole ? 1 : 0;
        rz__le32(p, (uint32_t)ilen);
        memcpy(p + 4, r->input, ilen);
        rz__le32(p + 4 + ilen, r->part);
    }
    if (id)
        *id = n;
    return 0;
}

int rz_quarantine_del(rz_atxn_t *t, uint64_t id)
{
    int rc = rz__qclass_del(t, id);
    if (rc)
        return rc;
    uint8_t kb[8];
    rz__be64(kb, id);
    MDB_val k = {8, kb};
    return rz__astore_err(mdb_del(t->txn, t->s->quarantine, &k, NULL),
                          "quarantine del");
}

/* Decode v into one malloc'd block: the struct, then every text
 * NUL-terminated, then the bytes. */
static rz_qrec_t *s_decode(uint64_t id, const MDB_val *v)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    if (v->mv_size < S_HEAD || p[0] != 'Q')
        return NULL;
    rz_qrec_t *r = malloc(sizeof *r + v->mv_size + S_NSTR + 2);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    char *o = (char *)(r + 1);
    r->id = id;
    r->time = (int64_t)rz__get_le64(p + 1);
    r->line = rz__get_le64(p + 9);
    r->kind = p[17];
    p += S_HEAD;
    /* the order of s_strs */
    const char **fields[S_NSTR] = {&r->module, &r->origin,
                                   &r->name,   &r->key,
                                   &r->reason, &r->content_type,
                                   &r->content_id};
    if (s_take_strs(&p, end, &o, fields, S_NSTR))
        goto bad;
    if (end - p < 4)
        goto bad;
    uint32_t l = rz__get_le32(p);
    p += 4;
    if ((size_t)(end - p) < l)
        goto bad;
    memcpy(o, p, l);
    r->bytes = (const uint8_t *)o;
    r->len = l;
    o += l;
    p += l;
    r->input = o;
    *o = '\0';
    if (p < end) {
        if (end - p < 5)
            goto bad;
        r->whole = p[0] != 0;
        uint32_t il = rz__get_le32(p + 1);
        p += 5;
        if ((size_t)(end - p) < il)
            goto bad;
        memcpy(o, p, il);
        o[il] = '\0';
        p += il;
        if (p < end) {
            if (end - p != 4)
                goto bad;
            r->part = rz__get_le32(p);
        }
    }
    return r;
bad:
    free(r);
    return NULL;
}

rz_qrec_t *rz_quarantine_get(rz_astore_t *s, uint64_t id, int *rc)
{
    MDB_txn *txn;
    *rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                         "begin");
    if (*rc)
        return NULL;
    uint8_t kb[8];
    rz__be64(kb, id);
    MDB_val k = {8, kb}, v;
    rz_qrec_t *r = NULL;
    *rc = rz__astore_err(mdb_get(txn, s->quarantine, &k, &v), "quarantine get");
    if (!*rc && !(r = s_decode(id, &v)))
        *rc = RZ_ESTORE;
    mdb_txn_abort(txn);
    return r;
}

rz_qrec_t *rz__quarantine_get_txn(rz_atxn_t *t, uint64_t id, int *rc)
{
    uint8_t kb[8];
    rz__be64(kb, id);
    MDB_val k = {8, kb}, v;
    rz_qrec_t *r = NULL;
    *rc = rz__astore_err(mdb_get(t->txn, t->s->quarantine, &k, &v),
                         "quarantine get");
    if (!*rc && !(r = s_decode(id, &v)))
        *rc = RZ_ESTORE;
    return r;
}

int rz__quarantine_each_txn(rz_atxn_t *t, rz_quarantine_cb cb, void *user)
{
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_cursor_open(t->txn, t->s->quarantine, &cur),
                            "cursor");
    if (rc)
        return rc;
    MDB_val k, v;
    int n = 0, mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rz_qrec_t *r =
            k.mv_size == 8 ? s_decode(rz__get_be64(k.mv_data), &v) : NULL;
        if (!r) {
            rc = RZ_ESTORE;
            break;
        }
        n++;
        int stop = cb(r, user);
        free(r);
        if (stop) {
            rc = RZ_ESTORE;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc ? rc : n;
}

int rz_quarantine_list(rz_astore_t *s, uint64_t after, size_t max,
                       rz_quarantine_cb cb, void *user)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn),
                            "begin");
    if (rc)
        return rc;
    rc = rz__astore_err(mdb_cursor_open(txn, s->quarantine, &cur), "cursor");
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint8_t kb[8];
    rz__be64(kb, after + 1);
    MDB_val k = {8, kb}, v;
    int n = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && (max == 0 || (size_t)n < max)) {
        rz_qrec_t *r = k.mv_size == 8 ? s_decode(rz__get_be64(k.mv_data), &v)
                                      : NULL;
        if (!r) {
            rc = RZ_ESTORE;
            break;
        }
        n++;
        int stop = cb(r, user);
        free(r);
        if (stop)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc ? rc : n;
}

/* ===========================================================================
 * Kept inputs
 */

#define S_KSTR 4
#define S_KHEAD (1 + 8 + 8 + 1)

int rz_kept_put(rz_atxn_t *t, const char *key, const rz_kept_t *k)
{
    const char *strs[S_KSTR] = {k->origin, k->name, k->content_type,
                                k->content_id};
    size_t size = S_KHEAD + 8 + k->len;
    size += s_strs_size(strs, S_KSTR);
    MDB_val kv = {strlen(key), (void *)key}, v = {size, NULL};
    int mrc =
        mdb_put(t->txn, t->s->inputs, &kv, &v, MDB_RESERVE | MDB_NOOVERWRITE);
    if (mrc == MDB_KEYEXIST)
        return 0;
    int rc = rz__astore_err(mrc, "inputs put");
    if (rc)
        return rc;
    uint8_t *p = v.mv_data;
    *p++ = 'I';
    rz__le64(p, (uint64_t)k->time);
    rz__le64(p + 8, k->first_line);
    p += 16;
    *p++ = k->partial ? 1 : 0;
    p = s_put_strs(p, strs, S_KSTR);
    rz__le64(p, k->len);
    if (k->len)
        memcpy(p + 8, k->data, k->len);
    return 0;
}

rz_kept_t *rz_kept_get(rz_astore_t *s, const char *key, int *rc)
{
    MDB_txn *txn;
    *rc =
        rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "begin");
    if (*rc)
        return NULL;
    MDB_val kv = {strlen(key), (void *)key}, v;
    rz_kept_t *k = NULL;
    *rc = rz__astore_err(mdb_get(txn, s->inputs, &kv, &v), "inputs get");
    if (*rc)
        goto done;
    const uint8_t *p = v.mv_data, *end = p + v.mv_size;
    *rc = RZ_ESTORE;
    if (v.mv_size < S_KHEAD || p[0] != 'I')
        goto done;
    if (!(k = malloc(sizeof *k + v.mv_size + S_KSTR))) {
        *rc = RZ_ENOMEM;
        goto done;
    }
    char *o = (char *)(k + 1);
    k->time = (int64_t)rz__get_le64(p + 1);
    k->first_line = rz__get_le64(p + 9);
    k->partial = p[17];
    p += S_KHEAD;
    const char **fields[S_KSTR] = {&k->origin, &k->name, &k->content_type,
                                   &k->content_id};
    if (s_take_strs(&p, end, &o, fields, S_KSTR))
        goto bad;
    if (end - p < 8 || (uint64_t)(end - p - 8) != rz__get_le64(p))
        goto bad;
    k->len = (size_t)(end - p - 8);
    memcpy(o, p + 8, k->len);
    k->data = (const uint8_t *)o;
    *rc = 0;
    goto done;
bad:
    free(k);
    k = NULL;
done:
    mdb_txn_abort(txn);
    return k;
}

int rz_kept_release(rz_astore_t *s, const char *const *keys, size_t n)
{
    if (!n)
        return 0;
    char *named = calloc(n, 1);
    if (!named)
        return RZ_ENOMEM;
    /* one write transaction: no record naming one of them can be added
     * between the scan and the delete */
    rz_atxn_t t;
    MDB_cursor *cur = NULL;
    int rc = rz_atxn_begin(s, &t), deleted = 0;
    if (!rc)
        rc = rz__astore_err(mdb_cursor_open(t.txn, s->quarantine, &cur),
                            "cursor");
    MDB_val k, v;
    int mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; !rc && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rz_qrec_t *r =
            k.mv_size == 8 ? s_decode(rz__get_be64(k.mv_data), &v) : NULL;
        if (!r) {
            rc = RZ_ESTORE;
            break;
        }
        for (size_t i = 0; i < n && *r->input; i++)
            if (!named[i] && !strcmp(r->input, keys[i]))
                named[i] = 1;
        free(r);
    }
    if (cur)
        mdb_cursor_close(cur);
    for (size_t i = 0; !rc && i < n; i++) {
        if (named[i])
            continue;
        MDB_val kv = {strlen(keys[i]), (void *)keys[i]};
        rc = rz__astore_err(mdb_del(t.txn, s->inputs, &kv, NULL), "inputs del");
        if (rc == RZ_ENOTFOUND) /* two of keys were one */
            rc = 0;
        else if (!rc)
            deleted++;
    }
    free(named);
    if (rc) {
        if (t.txn)
            rz_atxn_abort(&t);
        return rc;
    }
    rc = rz_atxn_commit(&t);
    return rc ? rc : deleted;
}

int rz_kept_count(rz_astore_t *s)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc =
        rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc)
        return rc;
    rc = rz__astore_err(mdb_stat(txn, s->inputs, &st), "inputs stat");
    mdb_txn_abort(txn);
    return rc ? rc : (int)st.ms_entries;
}
