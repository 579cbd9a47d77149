/* qclass.c - quarantine reasons by class: the reason with the values in it
 * replaced by "…", and how many records of each class are in the
 * quarantine, counted in the transaction that puts or deletes them
 *
 * A class is kept in the state database under "qc:" + class:
 *
 *   +-------------+-------------+------------+-----------------+
 *   | records u64 | total u64   | last i64   | example         |
 *   | now in it   | ever put    | unix µs    | the latest      |
 *   |             | in it       |            | reason, as is   |
 *   +-------------+-------------+------------+-----------------+
 *
 * (little-endian), at most RZ_QCLASS_MAX of them; records of any further
 * class are counted under "qo" ("other"). The key "qc" marks a store whose
 * quarantine was counted: one opened without it (made before classes
 * were counted) is counted once, at open. A class with no records left
 * makes room for a new one only while "other" has none, so every record
 * is counted where it was put.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/core/text.h"
#include "ratusz/errors.h"
#include "store.h"
#include "store_int.h"

#define S_HOLE "\xe2\x80\xa6" /* … */
#define S_VHEAD 24
#define S_OTHER_KEY "qo"
#define S_MARK_KEY "qc"

/* ===========================================================================
 * The class of a reason
 */

typedef struct s_out {
    char *p;
    size_t len, o;
    int full; /* cut: nothing more goes in */
} s_out_t;

static void s_put(s_out_t *w, const char *s, size_t n)
{
    if (w->full)
        return;
    /* whole UTF-8 sequences only: a cut class stays valid text */
    if (w->o + n >= w->len) {
        n = w->len - 1 - w->o;
        while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        w->full = 1;
    }
    memcpy(w->p + w->o, s, n);
    w->o += n;
    w->p[w->o] = '\0';
}

/* in as one line of UTF-8 into out (at most len bytes with the NUL, whole
 * characters): a byte outside a well-formed sequence becomes '?', a
 * control character a space. A reason holds the record's own bytes, cut
 * anywhere ("%.60s"), and the broker takes only clean text. */
static void s_clean(const char *in, char *out, size_t len)
{
    const uint8_t *p = (const uint8_t *)in;
    size_t n = strlen(in), o = 0;
    while (n) {
        size_t l = p[0] < 0x80 ? 1 : p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
        char c = 0;
        if (l > n || !rzc_utf8_valid(p, l))
            c = '?', l = 1;
        else if (l == 1 && (p[0] < 0x20 || p[0] == 0x7f))
            c = ' ';
        if (o + l >= len)
            break;
        if (c)
            out[o] = c;
        else
            memcpy(out + o, p, l);
        o += l;
        p += l;
        n -= l;
    }
    out[o] = '\0';
}

static int s_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Words with digits that name a format or a rule, not a value. */
static int s_constant(const char *w, size_t n)
{
    static const char *const k[] = {
        "WGS84", "UTF-8", "Windows-1250", "CP1250",    "ISO-8859-2", "RFC",
        "3339",  "ISO",   "8601",         "EPSG:2180", "EPSG:4326",  "CRS84",
        NULL};
    /* trailing punctuation is not part of the word */
    while (n && strchr(",.;:)", w[n - 1]))
        n--;
    for (size_t i = 0; k[i]; i++)
        if (strlen(k[i]) == n && !memcmp(k[i], w, n))
            return 1;
    return 0;
}

/* The end of a quoted value starting at p (a quote), or NULL when the
 * quote is not closed before the end of the text. */
static const char *s_quote_end(const char *p)
{
    const char *e = strchr(p + 1, *p);
    return e ? e + 1 : NULL;
}

/* The length of the leading field of a reason ("lat", "column 'Kod'",
 * "PESEL (columns 38-48)"): what comes before the first ": " when that is
 * short and names a thing rather than says something (no " is ", no
 * ", "); 0 when there is none. */
static size_t s_field_len(const char *reason)
{
    const char *colon = strstr(reason, ": ");
    if (!colon || colon == reason || colon - reason > 60)
        return 0;
    size_t n = (size_t)(colon - reason);
    static const char *const says[] = {" is ", " has ", ", ", NULL};
    for (size_t i = 0; says[i]; i++) {
        const char *f = strstr(reason, says[i]);
        if (f && f < colon)
            return 0;
    }
    return n;
}

/* A word of the field that is a number or a range ("3", "38-48"), not a
 * name with a digit in it ("Podmiot1"). */
static int s_number_word(const char *w, size_t n)
{
    int digits = 0;
    for (size_t i = 0; i < n; i++) {
        if ((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z') ||
            (unsigned char)w[i] >= 0x80)
            return 0;
        digits |= s_digit(w[i]);
    }
    return digits;
}

size_t rz_qclass(const char *reason, char *out, size_t len)
{
    s_out_t w = {out, len, 0, 0};
    if (!len)
        return 0;
    out[0] = '\0';
    char clean[1024];
    s_clean(reason ? reason : "", clean, sizeof clean);
    reason = clean;
    /* The field: up to the first ": " (within 80 bytes, no quote opened
     * before it), kept with its quoted name ("column 'Kod'") and its
     * numbers replaced ("line 3" is a place, not a field). */
    const char *p = reason;
    size_t flen = s_field_len(reason);
    const char *body = p + (flen ? flen + 2 : 0);
    int value_next = flen > 0; /* the first word of the body may be one */
    int in_field = flen > 0;
    while (*p) {
        if (in_field && p >= reason + flen) {
            s_put(&w, ": ", 2);
            p = body;
            in_field = 0;
            continue;
        }
        if (*p == ' ') {
            s_put(&w, p++, 1);
            continue;
        }
        /* a quoted value (an apostrophe only where a word starts) */
        if (!in_field && (*p == '\'' || *p == '"') &&
            (p == reason || p[-1] == ' ' || p[-1] == '(')) {
            const char *e = s_quote_end(p);
            if (e) {
                s_put(&w, p, 1);
                s_put(&w, S_HOLE, 3);
                s_put(&w, p, 1);
                p = e;
                value_next = 0;
                continue;
            }
        }
        /* "(keys: a, b, c)": the record's own keys */
        if (!in_field && !strncmp(p, "(keys: ", 7) && strchr(p, ')')) {
            s_put(&w, "(keys: " S_HOLE ")", 11);
            p = strchr(p, ')') + 1;
            continue;
        }
        const char *e = p;
        while (*e && *e != ' ' && !(in_field && e >= reason + flen))
            e++;
        size_t n = (size_t)(e - p);
        int digits = 0;
        for (size_t i = 0; i < n; i++)
            digits |= s_digit(p[i]);
        /* "lat: null is not ...": the word after the field, before "is",
         * is the record's value whatever it is */
        int value = value_next && !strncmp(e, " is ", 4);
        if (!in_field)
            value_next = 0;
        if (in_field ? s_number_word(p, n)
                     : (digits && !s_constant(p, n)) || value) {
            size_t a = 0, b = n;
            while (a < b && strchr("([", p[a]))
                a++;
            while (b > a && strchr(",.;:)]", p[b - 1]))
                b--;
            s_put(&w, p, a);
            s_put(&w, S_HOLE, 3);
            s_put(&w, p + b, n - b);
        } else {
            s_put(&w, p, n);
        }
        p = e;
    }
    return w.o;
}

/* ===========================================================================
 * Counts in the store
 */

typedef struct s_cval {
    uint64_t records, total;
    int64_t last;
} s_cval_t;

static void s_key(char *key, size_t len, const char *cls)
{
    snprintf(key, len, "qc:%s", cls);
}

static int s_cget(rz_atxn_t *t, const char *key, s_cval_t *c)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int mrc = mdb_get(t->txn, t->s->state, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return RZ_ENOTFOUND;
    if (mrc)
        return rz__astore_err(mrc, "quarantine class get");
    if (v.mv_size < S_VHEAD)
        return RZ_ESTORE;
    const uint8_t *b = v.mv_data;
    c->records = rz__get_le64(b);
    c->total = rz__get_le64(b + 8);
    c->last = (int64_t)rz__get_le64(b + 16);
    return 0;
}

/* Write c under key; example NULL keeps the one stored. */
static int s_cput(rz_atxn_t *t, const char *key, const s_cval_t *c,
                  const char *example)
{
    char keep[RZ_QCLASS_EXAMPLE];
    if (!example) {
        keep[0] = '\0';
        MDB_val k = {strlen(key), (void *)key}, v;
        if (!mdb_get(t->txn, t->s->state, &k, &v) && v.mv_size > S_VHEAD) {
            size_t n = v.mv_size - S_VHEAD;
            if (n >= sizeof keep)
                n = sizeof keep - 1;
            memcpy(keep, (const uint8_t *)v.mv_data + S_VHEAD, n);
            keep[n] = '\0';
        }
        example = keep;
    }
    char ex[RZ_QCLASS_EXAMPLE];
    s_clean(example, ex, sizeof ex);
    size_t exl = strlen(ex);
    uint8_t buf[S_VHEAD + RZ_QCLASS_EXAMPLE];
    rz__le64(buf, c->records);
    rz__le64(buf + 8, c->total);
    rz__le64(buf + 16, (uint64_t)c->last);
    memcpy(buf + S_VHEAD, ex, exl);
    MDB_val k = {strlen(key), (void *)key}, v = {S_VHEAD + exl, buf};
    return rz__astore_err(mdb_put(t->txn, t->s->state, &k, &v, 0),
                          "quarantine class put");
}

/* Visit every "qc:" key in t. */
typedef int (*s_each_cb)(const MDB_val *k, const MDB_val *v, void *user);

static int s_each(rz_atxn_t *t, MDB_txn *txn, rz_astore_t *s, s_each_cb cb,
                  void *user)
{
    MDB_cursor *cur;
    int rc = rz__astore_err(mdb_cursor_open(t ? t->txn : txn, s->state, &cur),
                            "cursor");
    if (rc)
        return rc;
    MDB_val k = {3, (void *)"qc:"}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (!rc && mrc == 0 && k.mv_size >= 3 && !memcmp(k.mv_data, "qc:", 3)) {
        rc = cb(&k, &v, user);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc;
}

typedef struct s_room {
    int n;
    int64_t oldest;
    char victim[RZ_QCLASS_LEN + 4];
} s_room_t;

static int s_room_cb(const MDB_val *k, const MDB_val *v, void *user)
{
    s_room_t *r = user;
    r->n++;
    if (v->mv_size < S_VHEAD || rz__get_le64(v->mv_data) != 0)
        return 0;
    int64_t last = (int64_t)rz__get_le64((const uint8_t *)v->mv_data + 16);
    if (!r->victim[0] || last < r->oldest) {
        size_t n = k->mv_size < sizeof r->victim - 1 ? k->mv_size
                                                     : sizeof r->victim - 1;
        memcpy(r->victim, k->mv_data, n);
        r->victim[n] = '\0';
        r->oldest = last;
    }
    return 0;
}

/* One record of reason in (delta 1, at time) or out (delta -1). */
static int s_count(rz_atxn_t *t, const char *reason, int delta, int64_t time)
{
    char cls[RZ_QCLASS_LEN], key[RZ_QCLASS_LEN + 4];
    rz_qclass(reason, cls, sizeof cls);
    s_key(key, sizeof key, cls);
    s_cval_t c = {0};
    int rc = s_cget(t, key, &c);
    if (rc == RZ_ENOTFOUND) {
        s_cval_t o = {0};
        int orc = s_cget(t, S_OTHER_KEY, &o);
        if (orc && orc != RZ_ENOTFOUND)
            return orc;
        if (delta < 0 || o.records) {
            /* counted as other when put (or not at all: leave it) */
            rc = 0;
            strcpy(key, S_OTHER_KEY);
            c = o;
        } else {
            s_room_t room = {0};
            if ((rc = s_each(t, NULL, t->s, s_room_cb, &room)))
                return rc;
            if (room.n >= RZ_QCLASS_MAX && room.victim[0]) {
                MDB_val k = {strlen(room.victim), room.victim};
                if ((rc = rz__astore_err(mdb_del(t->txn, t->s->state, &k, NULL),
                                         "quarantine class del")))
                    return rc;
                room.n--;
            }
            if (room.n >= RZ_QCLASS_MAX) {
                strcpy(key, S_OTHER_KEY);
                c = o;
            }
        }
    } else if (rc) {
        return rc;
    }
    if (delta > 0) {
        c.records++;
        c.total++;
        c.last = time;
        return s_cput(t, key, &c, reason);
    }
    if (c.records)
        c.records--;
    return s_cput(t, key, &c, NULL);
}

/* The reason of the record stored under id in t, into buf. */
static int s_reason_of(rz_atxn_t *t, uint64_t id, char *buf, size_t len)
{
    int rc;
    rz_qrec_t *r = rz__quarantine_get_txn(t, id, &rc);
    if (!r)
        return rc;
    snprintf(buf, len, "%s", r->reason);
    free(r);
    return 0;
}

int rz__qclass_put(rz_atxn_t *t, const char *reason, int64_t time,
                   uint64_t replaces)
{
    if (replaces) {
        char old[1024];
        int rc = s_reason_of(t, replaces, old, sizeof old);
        if (rc == 0) {
            char a[RZ_QCLASS_LEN], b[RZ_QCLASS_LEN];
            rz_qclass(old, a, sizeof a);
            rz_qclass(reason, b, sizeof b);
            if (!strcmp(a, b)) {
                /* the same record, still for the same reason: only the
                 * example and the time move */
                char key[RZ_QCLASS_LEN + 4];
                s_cval_t c;
                s_key(key, sizeof key, a);
                if ((rc = s_cget(t, key, &c)) == RZ_ENOTFOUND)
                    return 0; /* counted as other */
                if (rc)
                    return rc;
                c.last = time;
                return s_cput(t, key, &c, reason);
            }
            if ((rc = s_count(t, old, -1, 0)))
                return rc;
        } else if (rc != RZ_ENOTFOUND && rc != RZ_ESTORE) {
            return rc;
        }
    }
    return s_count(t, reason, 1, time);
}

int rz__qclass_del(rz_atxn_t *t, uint64_t id)
{
    char old[1024];
    int rc = s_reason_of(t, id, old, sizeof old);
    if (rc)
        /* none, or one that does not decode: its delete is not refused
         * for the sake of a count */
        return rc == RZ_ENOTFOUND || rc == RZ_ESTORE ? 0 : rc;
    return s_count(t, old, -1, 0);
}

/* Count a store's quarantine that was never counted. */
static int s_seed_cb(const rz_qrec_t *r, void *user)
{
    rz_atxn_t *t = user;
    return s_count(t, r->reason, 1, r->time) ? 1 : 0;
}

int rz__qclass_seed(rz_astore_t *s)
{
    rz_atxn_t t;
    int rc = rz_atxn_begin(s, &t);
    if (rc)
        return rc;
    MDB_val k = {strlen(S_MARK_KEY), (void *)S_MARK_KEY}, v;
    int mrc = mdb_get(t.txn, s->state, &k, &v);
    if (mrc == 0) {
        rz_atxn_abort(&t);
        return 0;
    }
    rc = rz__quarantine_each_txn(&t, s_seed_cb, &t);
    if (rc >= 0) {
        uint8_t one = 1;
        MDB_val mv = {1, &one};
        rc = rz__astore_err(mdb_put(t.txn, s->state, &k, &mv, 0),
                            "quarantine class mark");
    }
    if (rc < 0) {
        rz_atxn_abort(&t);
        return rc;
    }
    return rz_atxn_commit(&t);
}

/* ===========================================================================
 * Reading them
 */

typedef struct s_list {
    rz_qclass_count_t *out;
    size_t max, n;
} s_list_t;

static void s_take(s_list_t *l, const char *cls, size_t clen, const MDB_val *v)
{
    if (l->n >= l->max || v->mv_size < S_VHEAD)
        return;
    rz_qclass_count_t *c = &l->out[l->n++];
    memset(c, 0, sizeof *c);
    if (clen >= sizeof c->cls)
        clen = sizeof c->cls - 1;
    memcpy(c->cls, cls, clen);
    const uint8_t *b = v->mv_data;
    c->records = rz__get_le64(b);
    c->total = rz__get_le64(b + 8);
    c->last = (int64_t)rz__get_le64(b + 16);
    size_t n = v->mv_size - S_VHEAD;
    if (n >= sizeof c->example)
        n = sizeof c->example - 1;
    memcpy(c->example, b + S_VHEAD, n);
}

static int s_list_cb(const MDB_val *k, const MDB_val *v, void *user)
{
    s_take(user, (const char *)k->mv_data + 3, k->mv_size - 3, v);
    return 0;
}

static int s_cmp(const void *a, const void *b)
{
    const rz_qclass_count_t *x = a, *y = b;
    if (x->other != y->other)
        return x->other - y->other;
    if (x->records != y->records)
        return x->records < y->records ? 1 : -1;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->cls, y->cls);
}

int rz_quarantine_classes(rz_astore_t *s, rz_qclass_count_t *out, size_t max)
{
    MDB_txn *txn;
    int rc =
        rz__astore_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc)
        return rc;
    s_list_t l = {out, max, 0};
    rc = s_each(NULL, txn, s, s_list_cb, &l);
    MDB_val k = {strlen(S_OTHER_KEY), (void *)S_OTHER_KEY}, v;
    if (!rc && !mdb_get(txn, s->state, &k, &v)) {
        size_t before = l.n;
        s_take(&l, "other", 5, &v);
        if (l.n > before)
            out[l.n - 1].other = 1;
    }
    mdb_txn_abort(txn);
    if (rc)
        return rc;
    qsort(out, l.n, sizeof *out, s_cmp);
    return (int)l.n;
}
