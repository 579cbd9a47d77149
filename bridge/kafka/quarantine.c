/* quarantine.c - unmappable Kafka records, kept in LMDB (see quarantine.h) */
#include "quarantine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lmdb.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/errors.h"

struct rzk_quarantine {
    MDB_env *env;
    MDB_dbi dbi;
};

/* Records are small and rare: a 1 GiB map is years of them. */
#define S_MAP_SIZE ((size_t)1 << 30)

rzk_quarantine_t *rzk_quarantine_open(const char *dir, char *err,
                                      size_t err_len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/quarantine", dir) >= (int)sizeof path) {
        if (err && err_len)
            snprintf(err, err_len, "%s: %s", dir, strerror(ENAMETOOLONG));
        return NULL;
    }
    rzk_quarantine_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    rzc_lmdb_opts_t env = {.dir = path,
                           .dir_mode = 0750,
                           .file_mode = 0640,
                           .map_size = S_MAP_SIZE};
    if (rzc_lmdb_open(&q->env, &env, err, err_len) != 0) {
        free(q);
        return NULL;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(q->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &q->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        if (err && err_len)
            snprintf(err, err_len, "%s: %s", path, mdb_strerror(rc));
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(q->env);
        free(q);
        return NULL;
    }
    return q;
}

void rzk_quarantine_close(rzk_quarantine_t **qp)
{
    if (!qp || !*qp)
        return;
    mdb_env_close((*qp)->env);
    free(*qp);
    *qp = NULL;
}

/* Bytes as a JSON string when they are UTF-8 text, else NULL. */
static json_t *s_text(const void *p, size_t n)
{
    return p ? json_stringn(p, n) : NULL;
}

static json_t *s_hex(const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *h = malloc(2 * n + 1);
    if (!h)
        return NULL;
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = digits[b[i] >> 4];
        h[2 * i + 1] = digits[b[i] & 15];
    }
    h[2 * n] = '\0';
    json_t *s = json_string(h);
    free(h);
    return s;
}

/* "name" and "name_hex": text when it is text, hex otherwise. */
static void s_bytes(json_t *o, const char *name, const void *p, size_t n)
{
    if (!p)
        return;
    json_t *s = s_text(p, n);
    if (s) {
        json_object_set_new(o, name, s);
        return;
    }
    char hexname[32];
    snprintf(hexname, sizeof hexname, "%s_hex", name);
    json_object_set_new(o, hexname, s_hex(p, n));
}

int rzk_quarantine_put(rzk_quarantine_t *q, const char *topic,
                       int32_t partition, int64_t offset, const rzk_in_t *rec,
                       const char *reason)
{
    size_t tl = strlen(topic);
    uint8_t key[512];
    if (tl + 13 > sizeof key)
        tl = sizeof key - 13; /* topic names are at most 249 bytes */
    memcpy(key, topic, tl);
    key[tl] = 0;
    uint32_t p = (uint32_t)partition;
    uint64_t o = (uint64_t)offset;
    for (int i = 0; i < 4; i++)
        key[tl + 1 + i] = (uint8_t)(p >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        key[tl + 5 + i] = (uint8_t)(o >> (56 - 8 * i));

    json_t *j = json_object();
    if (!j)
        return RZ_ENOMEM;
    json_object_set_new(j, "time", json_integer(rz_now_us()));
    json_object_set_new(j, "topic", json_string(topic));
    json_object_set_new(j, "partition", json_integer(partition));
    json_object_set_new(j, "offset", json_integer(offset));
    json_object_set_new(j, "reason", json_string(reason ? reason : ""));
    if (rec) {
        s_bytes(j, "key", rec->key, rec->key_len);
        json_t *hs = json_object();
        for (size_t i = 0; hs && i < rec->n_headers; i++) {
            const rzk_header_t *h = &rec->headers[i];
            if (!h->name)
                continue;
            json_t *v = h->value ? s_text(h->value, h->len) : json_null();
            if (!v) {
                v = json_object();
                json_object_set_new(v, "hex", s_hex(h->value, h->len));
            }
            json_object_set_new(hs, h->name, v);
        }
        json_object_set_new(j, "headers", hs);
        s_bytes(j, "value", rec->value, rec->value_len);
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return RZ_ENOMEM;

    MDB_txn *txn;
    int rc = mdb_txn_begin(q->env, NULL, 0, &txn);
    if (rc == 0) {
        MDB_val k = {tl + 13, key}, v = {strlen(text), text};
        rc = mdb_put(txn, q->dbi, &k, &v, MDB_NOOVERWRITE);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    free(text);
    if (rc == MDB_KEYEXIST)
        return 0;
    return rc == 0 ? 1 : rzc_lmdb_fail("quarantine", rc);
}

int64_t rzk_quarantine_list(rzk_quarantine_t *q, FILE *out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn) != 0)
        return RZ_ESTORE;
    if (mdb_cursor_open(txn, q->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return RZ_ESTORE;
    }
    MDB_val k, v;
    int64_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        fwrite(v.mv_data, 1, v.mv_size, out);
        fputc('\n', out);
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

uint64_t rzk_quarantine_count(rzk_quarantine_t *q)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    int rc = mdb_stat(txn, q->dbi, &st);
    mdb_txn_abort(txn);
    return rc == 0 ? st.ms_entries : 0;
}
