/* test_powerloss.c - acked events survive a power cut at any point
 *
 * 1. Record: ratuszd runs with the shim (shim.c) preloaded on an empty
 *    data dir; a few publishers publish concurrently and note, for each
 *    ack, how long the shim's log was when it arrived. Then kill -9.
 * 2. Crash images: for a cut k (the first k records happened, the power
 *    went out before record k), a file holds every write a sync before k
 *    made durable, plus any subset of the other writes before k, each torn
 *    at 512-byte sectors. The subset is applied in log order: for each
 *    sector only the last version applied counts, so the subsets cover
 *    every order in which the disk could have taken the writes. Names
 *    follow POSIX: a file or directory created, renamed, linked or
 *    unlinked is so for sure only after an fsync of its directory; until
 *    then the image may show the name as it was before.
 * 3. Each image must open as the broker opens it (redaction key, store,
 *    audit log), hold every event acked within the cut at its seq, have
 *    seqs 1..head without gaps, no source+id twice, and a hash chain that
 *    verifies. A sample of the images is also given to the real ratuszd.
 *
 * Environment: RZ_PL_SEED (printed), RZ_PL_IMAGES (default 1000),
 * RZ_PL_BROKER_IMAGES (real broker starts, default 25). A recording
 * depends on thread timing, the images of a recording only on the seed:
 * on a failure the recording is kept (LOG and LOG.acks) and the line to
 * rebuild the same images is printed, RZ_PL_RECORDING=LOG RZ_PL_SEED=N.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "harness.h"
#include "journal.h"
#include "redact.h"
#include "shim.h"
#include "store.h"

#define S_PUBLISHERS 3
#define S_EVENTS 150 /* per publisher */
#define S_SECTOR 512
#define S_MAX_FILES 64

/* ---------------------------------------------------------------------------
 * Recording
 */

typedef struct s_ack {
    int pub, n; /* publisher and event number: source /pl/PUB, id N */
    uint64_t seq;
    int code;
    off_t log_size;  /* the shim's log size when the ack arrived */
    uint64_t before; /* records complete by then (filled in after) */
} s_ack_t;

typedef struct s_pub {
    int no;
    const rzt_broker_t *b;
    const char *log;
    s_ack_t acks[S_EVENTS + 10];
    int n_acks;
    int failed;
} s_pub_t;

static off_t s_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void s_on_ack(const rz_ack_t *ack, void *user)
{
    s_pub_t *p = user;
    if (p->n_acks >= (int)(sizeof p->acks / sizeof p->acks[0]))
        return;
    s_ack_t *a = &p->acks[p->n_acks++];
    a->pub = p->no;
    a->n = (int)(intptr_t)ack->arg;
    a->seq = ack->seq;
    a->code = ack->code;
    a->log_size = s_size(p->log);
}

static void *s_publish(void *arg)
{
    s_pub_t *p = arg;
    rz_client_t *c = rzt_client(p->b, 1 + 3 * (uint32_t)p->no, 1);
    char source[32], id[32], subject[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;

    if (!c) {
        p->failed = 1;
        return NULL;
    }
    rz_client_set_ack_cb(c, s_on_ack, p);
    snprintf(source, sizeof source, "/pl/%d", p->no);
    /* the last 10 are republished: duplicates must get their seq back */
    for (int i = 0; i < S_EVENTS + 10; i++) {
        int n = i < S_EVENTS ? i : i - S_EVENTS;
        snprintf(id, sizeof id, "%d", n);
        snprintf(subject, sizeof subject, "parcel-%d", n % 7);
        rzt_event(&ev, &be, source, id, subject, 1700000000000000 + n, n);
        if (rz_publish(c, &ev, (void *)(intptr_t)n) != 0)
            p->failed = 1;
    }
    if (rz_flush(c, 20000) != 0)
        p->failed = 1;
    rz_client_destroy(&c);
    return NULL;
}

/* The log, whole in memory, and what a cut needs to know of it. */
typedef struct s_log {
    uint8_t *buf;
    size_t len;
    rz_pl_rec_t *recs; /* headers, copied (the buffer is unaligned) */
    const uint8_t **data;
    size_t *end;          /* offset just past each record */
    uint64_t *durable_at; /* the sync that made it durable, or UINT64_MAX */
    uint64_t n;
    char names[S_MAX_FILES][256];
    int parent[S_MAX_FILES]; /* file id of the parent directory; -1: the
                                data dir, which the broker never opened */
    int n_files;
} s_log_t;

static int s_find_name(const s_log_t *l, const char *name)
{
    for (int i = 0; i < l->n_files; i++)
        if (strcmp(l->names[i], name) == 0)
            return i;
    return -1;
}

/* Read the log; fail on ops that the images cannot model. */
static void s_log_load(s_log_t *l, const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size > 0);
    l->len = (size_t)size;
    l->buf = malloc(l->len);
    assert_non_null(l->buf);
    assert_int_equal(pread(fd, l->buf, l->len, 0), (ssize_t)l->len);
    close(fd);

    size_t cap = 1024;
    l->recs = malloc(cap * sizeof *l->recs);
    l->data = malloc(cap * sizeof *l->data);
    l->end = malloc(cap * sizeof *l->end);
    for (size_t off = 0; off + sizeof(rz_pl_rec_t) <= l->len;) {
        rz_pl_rec_t h;
        memcpy(&h, l->buf + off, sizeof h);
        size_t data = (h.op == RZ_PL_WRITE || h.op == RZ_PL_NAME) ? h.len : 0;
        if (off + sizeof h + data > l->len)
            break; /* cut off by the kill */
        if (l->n == cap) {
            cap *= 2;
            l->recs = realloc(l->recs, cap * sizeof *l->recs);
            l->data = realloc(l->data, cap * sizeof *l->data);
            l->end = realloc(l->end, cap * sizeof *l->end);
        }
        assert_non_null(l->recs);
        assert_non_null(l->data);
        assert_non_null(l->end);
        l->recs[l->n] = h;
        l->data[l->n] = l->buf + off + sizeof h;
        off += sizeof h + data;
        l->end[l->n] = off;
        l->n++;

        if (h.op == RZ_PL_NAME) {
            assert_int_equal(h.file, l->n_files);
            assert_true(h.file < S_MAX_FILES && h.len < 256);
            memcpy(l->names[h.file], l->buf + off - data, data);
            l->names[h.file][data] = '\0';
            l->n_files++;
        }
        if (h.op == RZ_PL_MSYNC || (h.op == RZ_PL_FALLOC && h.arg != 0) ||
            ((h.op == RZ_PL_RENAME || h.op == RZ_PL_LINK) &&
             h.arg == UINT64_MAX)) {
            fail_msg("record %zu: op %u on '%s' is not modelled by the "
                     "crash images",
                     (size_t)l->n - 1, h.op,
                     h.file < (uint32_t)l->n_files ? l->names[h.file] : "?");
        }
    }
    /* the parent directory of each name ("" is the data dir itself) */
    for (int i = 0; i < l->n_files; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "%s", l->names[i]);
        char *slash = strrchr(dir, '/');
        if (!*l->names[i])
            l->parent[i] = -1; /* the data dir's own entry: not ours */
        else if (!slash)
            l->parent[i] = s_find_name(l, "");
        else {
            *slash = '\0';
            l->parent[i] = s_find_name(l, dir);
        }
    }

    /* durable_at: the first sync record that covers each record. A SYNC
     * of a file covers its writes logged before the sync began (arg); of
     * a directory, the entries created in it; a DSYNC, its one write. */
    l->durable_at = malloc(l->n * sizeof *l->durable_at);
    assert_non_null(l->durable_at);
    for (uint64_t i = 0; i < l->n; i++)
        l->durable_at[i] = UINT64_MAX;
    for (uint64_t s = 0; s < l->n; s++) {
        const rz_pl_rec_t *h = &l->recs[s];
        if (h->op == RZ_PL_DSYNC) {
            if (l->durable_at[h->arg] == UINT64_MAX)
                l->durable_at[h->arg] = s;
            continue;
        }
        if (h->op != RZ_PL_SYNC)
            continue;
        for (uint64_t w = 0; w < h->arg; w++) {
            const rz_pl_rec_t *r = &l->recs[w];
            if (l->durable_at[w] != UINT64_MAX)
                continue;
            int data = (r->op == RZ_PL_WRITE || r->op == RZ_PL_TRUNC ||
                        r->op == RZ_PL_FALLOC) &&
                       r->file == h->file;
            int entry = (r->op == RZ_PL_CREATE || r->op == RZ_PL_MKDIR ||
                         r->op == RZ_PL_RENAME || r->op == RZ_PL_LINK ||
                         r->op == RZ_PL_UNLINK) &&
                        l->parent[r->file] == (int)h->file;
            if (data || entry)
                l->durable_at[w] = s;
        }
    }
}

static void s_log_free(s_log_t *l)
{
    free(l->buf);
    free(l->recs);
    free(l->data);
    free(l->end);
    free(l->durable_at);
}

/* ---------------------------------------------------------------------------
 * Crash images
 */

/* xorshift64*: the images of a seed are the same on every machine */
static uint64_t s_rand(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * UINT64_C(2685821657736338717);
}

static int s_coin(uint64_t *st, unsigned keep_pct)
{
    return s_rand(st) % 100 < keep_pct;
}

typedef struct s_image {
    uint64_t cut;      /* records 0..cut-1 happened */
    unsigned keep_pct; /* chance that a write not yet durable is kept */
    uint64_t seed;     /* of its coin flips */
    int exists[S_MAX_FILES];
    size_t kept, dropped; /* sectors of writes that were not durable */
} s_image_t;

static int s_durable(const s_log_t *l, uint64_t rec, uint64_t cut)
{
    return l->durable_at[rec] < cut;
}

/* Apply one data record to the file fd: whole when durable, else each
 * sector's part with the image's chance. */
static void s_apply(const s_log_t *l, s_image_t *im, uint64_t r, int fd,
                    int durable, uint64_t *st)
{
    const rz_pl_rec_t *h = &l->recs[r];
    struct stat sb;

    if (h->op == RZ_PL_TRUNC) {
        if (durable || s_coin(st, im->keep_pct))
            assert_int_equal(ftruncate(fd, (off_t)h->off), 0);
        return;
    }
    if (h->op == RZ_PL_FALLOC) { /* mode 0: the size grows */
        assert_int_equal(fstat(fd, &sb), 0);
        if ((durable || s_coin(st, im->keep_pct)) &&
            (uint64_t)sb.st_size < h->off + h->len)
            assert_int_equal(ftruncate(fd, (off_t)(h->off + h->len)), 0);
        return;
    }
    if (durable) {
        assert_int_equal(pwrite(fd, l->data[r], h->len, (off_t)h->off),
                         (ssize_t)h->len);
        return;
    }
    for (uint64_t at = h->off; at < h->off + h->len;) {
        uint64_t next = (at / S_SECTOR + 1) * S_SECTOR;
        if (next > h->off + h->len)
            next = h->off + h->len;
        if (s_coin(st, im->keep_pct)) {
            assert_int_equal(
                pwrite(fd, l->data[r] + (at - h->off), next - at, (off_t)at),
                (ssize_t)(next - at));
            im->kept++;
        } else {
            im->dropped++;
        }
        at = next;
    }
}

/* Write the image of im into dir (which exists and is empty).
 *
 * Files (inodes) and names are kept apart, as on a disk: a file's data is
 * what reached it, whether or not a name for it survived. The log names
 * files by path, so ino[f] is the file that writes through name f reach
 * (the one the name had when it was opened), and name[f] the file that
 * name f has in the image, or -1. Files are built in a scratch directory
 * beside the image and linked into it at the end under the names that
 * survived, in directories that survived. */
static void s_image_build(const s_log_t *l, s_image_t *im, const char *dir)
{
    uint64_t st = im->seed | 1;
    int ino[S_MAX_FILES], name[S_MAX_FILES], is_dir[S_MAX_FILES];
    int fds[S_MAX_FILES], n_ino = 0;
    char scratch[300], path[600], to[600];

    snprintf(scratch, sizeof scratch, "%s-files", dir);
    assert_int_equal(mkdir(scratch, 0700), 0);
    for (int f = 0; f < S_MAX_FILES; f++) {
        ino[f] = name[f] = fds[f] = -1;
        is_dir[f] = 0;
        im->exists[f] = 0;
    }
    for (uint64_t r = 0; r < im->cut; r++) {
        const rz_pl_rec_t *h = &l->recs[r];
        int f = (int)h->file;
        int keep = 0; /* for a name: durable, or lucky */
        if (h->op == RZ_PL_CREATE || h->op == RZ_PL_MKDIR ||
            h->op == RZ_PL_RENAME || h->op == RZ_PL_LINK ||
            h->op == RZ_PL_UNLINK)
            keep = s_durable(l, r, im->cut) || s_coin(&st, im->keep_pct);
        switch (h->op) {
        case RZ_PL_MKDIR:
            is_dir[f] = 1;
            if (keep)
                name[f] = f; /* any value >= 0: the directory is there */
            break;
        case RZ_PL_CREATE:
            assert_true(n_ino < S_MAX_FILES);
            snprintf(path, sizeof path, "%s/%d", scratch, n_ino);
            fds[n_ino] = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
            assert_true(fds[n_ino] >= 0);
            ino[f] = n_ino++;
            if (keep)
                name[f] = ino[f];
            break;
        case RZ_PL_RENAME:
        case RZ_PL_LINK:
            ino[f] = ino[h->arg];
            if (keep) {
                name[f] = ino[h->arg];
                if (h->op == RZ_PL_RENAME)
                    name[h->arg] = -1;
            }
            break;
        case RZ_PL_UNLINK:
            if (keep)
                name[f] = -1;
            break;
        case RZ_PL_WRITE:
        case RZ_PL_TRUNC:
        case RZ_PL_FALLOC:
            if (ino[f] >= 0)
                s_apply(l, im, r, fds[ino[f]], s_durable(l, r, im->cut), &st);
            break;
        default: break;
        }
    }
    /* the data dir was there before; the others in the order they were
     * first seen, which puts each directory before what it holds */
    for (int f = 0; f < l->n_files; f++)
        im->exists[f] = !*l->names[f];
    for (int f = 0; f < l->n_files; f++) {
        int p = l->parent[f];
        if (!*l->names[f] || name[f] < 0 || (p >= 0 && !im->exists[p]))
            continue;
        snprintf(to, sizeof to, "%s/%s", dir, l->names[f]);
        if (is_dir[f]) {
            assert_int_equal(mkdir(to, 0700), 0);
        } else {
            snprintf(path, sizeof path, "%s/%d", scratch, name[f]);
            assert_int_equal(link(path, to), 0);
        }
        im->exists[f] = 1;
    }
    for (int i = 0; i < n_ino; i++)
        close(fds[i]);
    rzt_rmtree(scratch);
}

/* ---------------------------------------------------------------------------
 * Checks
 */

typedef struct s_ids {
    char **ids;   /* "source id" of seq i + 1 */
    uint64_t cap; /* entries of ids */
    uint64_t n, next;
    int out_of_order;
} s_ids_t;

static int s_collect(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    s_ids_t *x = user;
    if (seq != x->next || x->n == 0) {
        x->out_of_order = 1;
        return 1;
    }
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, len, ev);
    char buf[128] = "(undecodable)";
    if (e)
        snprintf(buf, sizeof buf, "%s %s", e->source, e->id);
    ratusz__v1__event__free_unpacked(e, NULL);
    x->ids[seq - 1] = strdup(buf);
    x->next++;
    x->n--;
    return 0;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int s_found(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    (void)ev;
    (void)len;
    *(uint64_t *)user = seq;
    return 0;
}

/* The subject index: a query of each subject finds each of its events
 * once and nothing else, and every event is found (each has a subject). */
typedef struct s_subj_seen {
    uint8_t *seen; /* by seq */
    uint64_t head;
    const char *subject;
    int bad;
} s_subj_seen_t;

static int s_subj_visit(uint64_t seq, const uint8_t *ev, size_t len,
                        void *user)
{
    s_subj_seen_t *x = user;
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, len, ev);
    if (!e || seq == 0 || seq > x->head || x->seen[seq] ||
        strcmp(e->subject, x->subject) != 0)
        x->bad = 1;
    else
        x->seen[seq] = 1;
    ratusz__v1__event__free_unpacked(e, NULL);
    return 0;
}

static int s_subjects_check(rz_store_t *s, uint64_t head, char *why,
                            size_t why_len)
{
    s_subj_seen_t x = {calloc(head + 1, 1), head, NULL, 0};
    uint8_t after[RZ_CURSOR_MAX], next[RZ_CURSOR_MAX];
    char subject[32];
    int rc = 0;
    for (int k = 0; k < 7 && rc >= 0 && !x.bad; k++) {
        snprintf(subject, sizeof subject, "parcel-%d", k);
        x.subject = subject;
        rz_store_query_t q = {subject, NULL, 0, 0, 100, after, 0, NULL};
        size_t next_len;
        do {
            rc = rz_store_query(s, &q, s_subj_visit, &x, next, &next_len);
            memcpy(after, next, next_len);
            q.after_len = next_len;
        } while (rc >= 0 && next_len && !x.bad);
    }
    uint64_t missing = 0;
    for (uint64_t seq = 1; rc >= 0 && !x.bad && seq <= head; seq++)
        if (!x.seen[seq] && !missing)
            missing = seq;
    free(x.seen);
    if (rc < 0 || x.bad || missing) {
        snprintf(why, why_len,
                 "the subject index is wrong: %s (first missing seq %llu)",
                 rc < 0 ? rz_strerror(rc)
                        : x.bad ? "an event found twice or under another "
                                  "subject"
                                : "an event is not found by its subject",
                 (unsigned long long)missing);
        return -1;
    }
    return 0;
}

/* Check the image in dir; on a problem, fill why and return -1. Returns
 * 1 when an event acked within the cut was only in the journal, so that
 * recovering the journal is what kept it. */
static int s_image_check(const char *dir, s_ack_t *const *acks, size_t n_acks,
                         uint64_t cut, char *why, size_t why_len)
{
    rz_journal_t *j = NULL;
    uint64_t stored = 0; /* LMDB's head before the journal is recovered */
    int from_journal = 0;
    char path[512], err[512];
    rz_redact_key_t key;
    rz_store_t *s = NULL;
    rz_audit_t *a = NULL;
    s_ids_t x = {0};
    Ratusz__V1__VerifyResult vr = RATUSZ__V1__VERIFY_RESULT__INIT;
    int rc = -1, verified = 0;

    *why = '\0';
    snprintf(path, sizeof path, "%s/redaction.key", dir);
    if (rz_redact_key_load(path, 1, &key, err, sizeof err) != 0) {
        snprintf(why, why_len, "the redaction key does not load: %s", err);
        goto done;
    }
    rz_store_opts_t o = {.dir = dir,
                         .map_size = 1 << 20,
                         .map_max = 64 << 20,
                         .sync = RZ_SYNC_OS,
                         .subject_run = 40};
    if (rz_store_open(&s, &o) != 0) {
        snprintf(why, why_len, "the store does not open");
        goto done;
    }
    /* as ratuszd starts: what the journal acked past LMDB's head first */
    stored = rz_store_head(s);
    int jrc = rz_journal_open(&j, dir, 64 << 10);
    if (jrc == 0)
        jrc = rz_journal_recover(j, s);
    if (jrc < 0) {
        snprintf(why, why_len, "the journal does not recover: %s",
                 rz_strerror(jrc));
        goto done;
    }
    uint64_t head = rz_store_head(s);
    x.ids = calloc(head + 1, sizeof *x.ids);
    x.cap = head;
    x.n = head;
    x.next = 1;
    uint64_t next = 0;
    int seen = rz_store_scan(s, 1, 0, NULL, head, s_collect, &x, &next);
    if (seen != (int)head || x.out_of_order) {
        snprintf(why, why_len, "seqs 1..%llu are not all there (%d read)",
                 (unsigned long long)head, seen);
        goto done;
    }
    for (size_t i = 0; i < n_acks; i++) {
        const s_ack_t *k = acks[i];
        char want[128];
        uint64_t got = 0;
        if (k->code != 0 || k->before > cut)
            continue;
        if (k->seq > stored)
            from_journal = 1;
        snprintf(want, sizeof want, "/pl/%d %d", k->pub, k->n);
        if (k->seq > head || strcmp(x.ids[k->seq - 1], want) != 0) {
            snprintf(why, why_len,
                     "acked event %s (seq %llu) is missing; head %llu", want,
                     (unsigned long long)k->seq, (unsigned long long)head);
            goto done;
        }
        char source[32], id[32];
        snprintf(source, sizeof source, "/pl/%d", k->pub);
        snprintf(id, sizeof id, "%d", k->n);
        if (rz_store_get_id(s, source, id, s_found, &got) != 1 ||
            got != k->seq) {
            snprintf(why, why_len, "%s is not found by its id at seq %llu",
                     want, (unsigned long long)k->seq);
            goto done;
        }
    }
    if (s_subjects_check(s, head, why, why_len) < 0)
        goto done;
    qsort(x.ids, head, sizeof *x.ids, s_cmp_str);
    for (uint64_t i = 1; i < head; i++)
        if (strcmp(x.ids[i - 1], x.ids[i]) == 0) {
            snprintf(why, why_len, "%s is stored twice", x.ids[i]);
            goto done;
        }
    verified = rz_store_verify(s, 0, &vr) == 0;
    if (!verified || !vr.ok) {
        snprintf(why, why_len, "the hash chain does not verify: %s",
                 vr.reason ? vr.reason : "(error)");
        goto done;
    }
    snprintf(path, sizeof path, "%s/audit", dir);
    if (rz_audit_open(&a, path, 0, err, sizeof err) != 0) {
        snprintf(why, why_len, "the audit log does not open: %s", err);
        goto done;
    }
    Ratusz__V1__VerifyResult avr = RATUSZ__V1__VERIFY_RESULT__INIT;
    if (rz_audit_verify(a, 0, &avr) != 0 || !avr.ok) {
        snprintf(why, why_len, "the audit log does not verify: %s",
                 avr.reason ? avr.reason : "(error)");
        goto done;
    }
    rc = from_journal;
done:
    rz_audit_close(&a);
    rz_journal_close(&j);
    rz_store_close(&s);
    if (verified)
        free(vr.reason); /* malloc'd by rz_store_verify */
    if (x.ids) {
        for (uint64_t i = 0; i < x.cap; i++)
            free(x.ids[i]);
        free(x.ids);
    }
    return rc;
}

static int s_one(const rz_event_t *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

/* s_image_check in a child process: LMDB trusts its file, and a damaged
 * one can crash the reader, which must fail this image, not the test.
 * Returns what s_image_check returned. */
static int s_image_check_apart(const char *dir, s_ack_t *const *acks,
                               size_t n_acks, uint64_t cut, char *why,
                               size_t why_len)
{
    int fds[2], status = 0;
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int rc = s_image_check(dir, acks, n_acks, cut, why, why_len);
        if (rc < 0)
            (void)!write(fds[1], why, strlen(why));
        _exit(rc < 0 ? 1 : rc == 1 ? 2 : 0);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], why, why_len - 1);
    why[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        snprintf(why, why_len, "reading the store crashed (signal %d)",
                 WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 1)
        return -1;
    return WEXITSTATUS(status) == 2;
}

/* Start the real ratuszd on the image, as an operator would after the
 * power came back: it must answer, serve the last acked event and pass
 * `ratusz verify`, and stop cleanly. */
static int s_broker_check(const char *dir, const s_ack_t *last, char *why,
                          size_t why_len)
{
    static const char *const extra[] = {"--metrics", "off", "--map-size", "1M",
                                        NULL};
    rzt_broker_t b;
    char cmd[1024], out[512];
    int rc = -1;

    memset(&b, 0, sizeof b);
    snprintf(b.dir, sizeof b.dir, "%s", dir);
    snprintf(b.log, sizeof b.log, "%s.log", dir);
    for (int i = 0; extra[i]; i++)
        b.extra[i] = extra[i];
    snprintf(b.front, sizeof b.front, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(b.stream, sizeof b.stream, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(b.metrics, sizeof b.metrics, "off");
    if (rzt_broker_restart(&b) != 0) {
        snprintf(why, why_len, "ratuszd does not start (log %s)", b.log);
        return -1;
    }
    if (last) {
        rz_client_t *c = rzt_client(&b, 16, 1);
        int got = rz_get_seq(c, last->seq, s_one, NULL);
        rz_client_destroy(&c);
        if (got != 1) {
            snprintf(why, why_len, "ratuszd does not serve seq %llu: %s",
                     (unsigned long long)last->seq, rz_strerror(got));
            goto done;
        }
    }
    snprintf(cmd, sizeof cmd, "%s -e %s verify 2>&1", RZ_RATUSZ_CLI, b.front);
    if (rzt_run(cmd, out, sizeof out) != 0) {
        snprintf(why, why_len, "ratusz verify fails: %s", out);
        goto done;
    }
    rc = 0;
done:
    if (rzt_broker_stop(&b) != 0 && rc == 0) {
        snprintf(why, why_len, "ratuszd does not stop cleanly (log %s)", b.log);
        rc = -1;
    }
    if (rc == 0)
        unlink(b.log);
    return rc;
}

static unsigned long s_env(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 0) : dflt;
}

/* Record a run of the broker under the shim into log (a path outside
 * dir); fills pubs with the acks. */
static void s_record(const char *dir, const char *log, s_pub_t *pubs)
{
    /* a small map, so that the store grows it (a meta page with a new map
     * size) while the events come in */
    /* and small journal segments, so that they are written again and
     * again while the events come in */
    /* and short runs of the subject index, so that runs are written (and
     * what waits for a run is read back from the log at each start) */
    static const char *const extra[] = {
        "--metrics",         "off", "--map-size",    "128K",
        "--journal-segment", "64K", "--subject-run", "40", NULL};
    rzt_broker_t b;
    pthread_t th[S_PUBLISHERS];

    memset(&b, 0, sizeof b);
    snprintf(b.dir, sizeof b.dir, "%s", dir);
    snprintf(b.log, sizeof b.log, "%s.log", dir);
    for (int i = 0; extra[i]; i++)
        b.extra[i] = extra[i];
    snprintf(b.front, sizeof b.front, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(b.stream, sizeof b.stream, "tcp://127.0.0.1:%d", rzt_free_port());
    snprintf(b.metrics, sizeof b.metrics, "off");
    setenv("LD_PRELOAD", RZ_PL_SHIM, 1);
    setenv("RZ_PL_DIR", dir, 1);
    setenv("RZ_PL_LOG", log, 1);
    int started = rzt_broker_restart(&b);
    unsetenv("LD_PRELOAD");
    unsetenv("RZ_PL_DIR");
    unsetenv("RZ_PL_LOG");
    assert_int_equal(started, 0);

    for (int i = 0; i < S_PUBLISHERS; i++) {
        pubs[i].no = i;
        pubs[i].b = &b;
        pubs[i].log = log;
        assert_int_equal(pthread_create(&th[i], NULL, s_publish, &pubs[i]), 0);
    }
    for (int i = 0; i < S_PUBLISHERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(pubs[i].failed, 0);
        assert_int_equal(pubs[i].n_acks, S_EVENTS + 10);
    }
    rzt_broker_kill(&b);
    unlink(b.log);
}

/* The acks of a recording, beside its log (LOG.acks), one a line:
 * "publisher number seq code log_size". */
static void s_acks_save(const char *log, const s_pub_t *pubs)
{
    char path[320];
    snprintf(path, sizeof path, "%s.acks", log);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int p = 0; p < S_PUBLISHERS; p++)
        for (int i = 0; i < pubs[p].n_acks; i++) {
            const s_ack_t *a = &pubs[p].acks[i];
            fprintf(fp, "%d %d %llu %d %lld\n", a->pub, a->n,
                    (unsigned long long)a->seq, a->code,
                    (long long)a->log_size);
        }
    assert_int_equal(fclose(fp), 0);
}

static void s_acks_load(const char *log, s_pub_t *pubs)
{
    char path[320];
    s_ack_t a;
    unsigned long long seq;
    long long size;
    snprintf(path, sizeof path, "%s.acks", log);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("RZ_PL_RECORDING: no %s", path);
    memset(&a, 0, sizeof a);
    while (fscanf(fp, "%d %d %llu %d %lld", &a.pub, &a.n, &seq, &a.code,
                  &size) == 5) {
        assert_true(a.pub >= 0 && a.pub < S_PUBLISHERS);
        s_pub_t *p = &pubs[a.pub];
        assert_true(p->n_acks < (int)(sizeof p->acks / sizeof p->acks[0]));
        a.seq = seq;
        a.log_size = (off_t)size;
        p->acks[p->n_acks++] = a;
    }
    fclose(fp);
}

static void
test_powerloss_keeps_every_acked_event_in_every_crash_image(void **state)
{
    (void)state;
    unsigned long images = s_env("RZ_PL_IMAGES", 1000);
    unsigned long on_broker = s_env("RZ_PL_BROKER_IMAGES", 25);
    uint64_t seed = s_env("RZ_PL_SEED", 0);
    if (seed == 0)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    printf("power-loss test: RZ_PL_SEED=%llu, %lu images (%lu on ratuszd)\n",
           (unsigned long long)seed, images, on_broker);

    char dir[256], log[300];
    static s_pub_t pubs[S_PUBLISHERS];
    memset(pubs, 0, sizeof pubs);
    const char *again = getenv("RZ_PL_RECORDING");
    if (again && *again) {
        snprintf(log, sizeof log, "%s", again);
        s_acks_load(log, pubs);
    } else {
        assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
        snprintf(log, sizeof log, "%s.pl-log", dir);
        s_record(dir, log, pubs);
        rzt_rmtree(dir); /* the images are built from the log alone */
        s_acks_save(log, pubs);
    }

    s_log_t l;
    memset(&l, 0, sizeof l);
    s_log_load(&l, log);

    /* each ack: the records complete when it arrived */
    s_ack_t *acks[S_PUBLISHERS * (S_EVENTS + 10)];
    size_t n_acks = 0;
    uint64_t syncs = 0;
    for (int p = 0; p < S_PUBLISHERS; p++)
        for (int i = 0; i < pubs[p].n_acks; i++) {
            s_ack_t *a = &pubs[p].acks[i];
            assert_int_equal(a->code, 0);
            uint64_t lo = 0, hi = l.n; /* records with end <= log_size */
            while (lo < hi) {
                uint64_t mid = (lo + hi) / 2;
                if ((off_t)l.end[mid] <= a->log_size)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            a->before = lo;
            acks[n_acks++] = a;
        }
    uint64_t *sync_at = malloc(l.n * sizeof *sync_at);
    assert_non_null(sync_at);
    for (uint64_t r = 0; r < l.n; r++)
        if (l.recs[r].op == RZ_PL_SYNC || l.recs[r].op == RZ_PL_DSYNC)
            sync_at[syncs++] = r;
    uint64_t store_end = 0; /* how far data.mdb grew */
    int store = s_find_name(&l, "data.mdb");
    for (uint64_t r = 0; r < l.n; r++)
        if (l.recs[r].op == RZ_PL_WRITE && (int)l.recs[r].file == store &&
            l.recs[r].off + l.recs[r].len > store_end)
            store_end = l.recs[r].off + l.recs[r].len;
    printf("recorded %llu records (%zu bytes), %llu syncs, %zu acks; "
           "data.mdb %llu KiB\n",
           (unsigned long long)l.n, l.len, (unsigned long long)syncs, n_acks,
           (unsigned long long)(store_end >> 10));

    static const unsigned keep[] = {0, 10, 50, 90, 100};
    uint64_t st = seed;
    size_t failures = 0, kept = 0, dropped = 0, from_journal = 0;
    for (unsigned long i = 0; i < images; i++) {
        s_image_t im;
        memset(&im, 0, sizeof im);
        /* half the cuts fall just after a sync, where an ack can go out;
         * the rest anywhere, mid-commit included */
        if (i % 2 == 0 && syncs > 0)
            im.cut = sync_at[s_rand(&st) % syncs] + 1;
        else
            im.cut = s_rand(&st) % (l.n + 1);
        im.keep_pct = keep[s_rand(&st) % (sizeof keep / sizeof keep[0])];
        im.seed = s_rand(&st);

        char img[256], why[1024];
        assert_int_equal(rzt_tmpdir(img, sizeof img), 0);
        s_image_build(&l, &im, img);
        kept += im.kept;
        dropped += im.dropped;

        const s_ack_t *last = NULL;
        for (size_t k = 0; k < n_acks; k++)
            if (acks[k]->before <= im.cut &&
                (!last || acks[k]->seq > last->seq))
                last = acks[k];
        int bad = 0;
        if (on_broker && i % ((images + on_broker - 1) / on_broker) == 0)
            bad = s_broker_check(img, last, why, sizeof why) != 0;
        if (!bad) {
            int got =
                s_image_check_apart(img, acks, n_acks, im.cut, why, sizeof why);
            bad = got < 0;
            from_journal += got == 1;
        }
        if (bad && ++failures <= 3) { /* the first few kept to look at */
            printf("image %lu (RZ_PL_SEED=%llu): cut at record %llu of "
                   "%llu, %u%% of unsynced sectors kept (%zu kept, %zu "
                   "dropped): %s; kept in %s\n",
                   i, (unsigned long long)seed, (unsigned long long)im.cut,
                   (unsigned long long)l.n, im.keep_pct, im.kept, im.dropped,
                   why, img);
            for (int f = 0; f < l.n_files; f++)
                printf("  %-16s %s\n", *l.names[f] ? l.names[f] : ".",
                       im.exists[f] ? "present" : "lost");
        } else {
            if (bad)
                printf("image %lu: %s\n", i, why);
            char blog[300];
            snprintf(blog, sizeof blog, "%s.log", img); /* ratuszd's */
            unlink(blog);
            rzt_rmtree(img);
        }
    }
    printf("%lu images, %zu failed; unsynced sectors kept %zu, dropped %zu; "
           "%zu held acked events only in the journal\n",
           images, failures, kept, dropped, from_journal);
    free(sync_at);
    s_log_free(&l);
    char acks_path[320];
    snprintf(acks_path, sizeof acks_path, "%s.acks", log);
    if (failures == 0 && !(again && *again)) {
        unlink(log);
        unlink(acks_path);
    } else if (failures) {
        printf("the same images again: RZ_PL_RECORDING=%s RZ_PL_SEED=%llu "
               "RZ_PL_IMAGES=%lu RZ_PL_BROKER_IMAGES=%lu\n",
               log, (unsigned long long)seed, images, on_broker);
    }
    assert_int_equal(failures, 0);
    /* the cuts between a journal sync and the next LMDB commit, where
     * only recovering the journal keeps the acks */
    if (images >= 100)
        assert_true(from_journal > 0);
}

int main(void)
{
    if (RZT_ASAN) {
        /* ASan's runtime must come first in a process, before any preload */
        printf("skipped: the LD_PRELOAD shim does not run under ASan\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_powerloss_keeps_every_acked_event_in_every_crash_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
