/* writer.c - the single writer: group commit of whatever is queued.
 *
 * The writer blocks for the first job, then takes every job already waiting
 * (up to commit_max events) and appends all their events in one LMDB
 * transaction. While it commits and syncs, the front keeps decoding and
 * queueing, so the next transaction is as large as the load: under load one
 * fsync acks thousands of events, and a lone event is committed at once.
 * Jobs go back to the front in the order they came.
 *
 * A failing disk fails every commit, thousands a second under load: the
 * writer counts the failures and logs them at most once a second, and
 * b->store_full tells the front why publishes fail (1: the map is at
 * map_max, 2: the disk is full or failing) until a commit succeeds again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "ratusz/core/buf.h"
#include "ratusz/text.h"

/* Values of b->store_full. */
enum { S_STORE_OK = 0, S_STORE_MAP_FULL = 1, S_STORE_DISK_FULL = 2 };

#define S_FAULT_LOG_US 1000000 /* at most one line a second */

/* Failed commits not yet logged. */
typedef struct s_faults {
    uint64_t pending;   /* failures since the last line */
    uint64_t first_us;  /* when the first of them failed */
    uint64_t logged_us; /* when the last line was written */
    int failing;        /* a failure was logged: say when it is over */
    int code;           /* the last failure's code and detail */
    char detail[128];
} s_faults_t;

/* One transaction's worth of work. */
typedef struct s_group {
    rz_job_t **jobs;
    size_t n_jobs, cap_jobs;
    rz_store_item_t *items; /* the valid events of all publish jobs */
    size_t n_items, cap_items;
    s_faults_t *faults;
} s_group_t;

static uint64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void s_faults_log(s_faults_t *f, uint64_t now)
{
    char num[32], span[32] = "second";
    if (!f->pending)
        return;
    uint64_t took = now - f->first_us;
    if (took > S_FAULT_LOG_US + S_FAULT_LOG_US / 2)
        snprintf(span, sizeof span, "%.1f s", (double)took / 1e6);
    rz_error("store: %s commit%s failed in the last %s: %s%s%s%s",
             rz_thousands(num, sizeof num, f->pending),
             f->pending == 1 ? "" : "s",
             span, f->code == RZ_EDISKFULL ? "disk full" : rz_strerror(f->code),
             *f->detail ? " (" : "", f->detail, *f->detail ? ")" : "");
    f->pending = 0;
    f->logged_us = now;
    f->failing = 1;
}

/* A commit failed with code (not RZ_ESTOREFULL, said once elsewhere). */
static void s_faults_add(s_faults_t *f, int code, const char *detail,
                         uint64_t now)
{
    if (!f->pending++)
        f->first_us = now;
    f->code = code;
    snprintf(f->detail, sizeof f->detail, "%s", detail ? detail : "");
    if (!f->logged_us || now - f->logged_us >= S_FAULT_LOG_US)
        s_faults_log(f, now);
}

/* A commit succeeded: the rest of the count, and that it is over. */
static void s_faults_clear(s_faults_t *f, uint64_t now)
{
    if (!f->pending && !f->failing)
        return;
    s_faults_log(f, now);
    rz_warn("store: commits succeed again; publishes are accepted");
    f->failing = 0;
}

static rz_job_t *s_recv_job(void *pipe, int flags, int *got)
{
    rz_job_t *job = NULL;
    int n = zmq_recv(pipe, &job, sizeof job, flags);
    *got = n == (int)sizeof job;
    return job;
}

static void s_send_job(void *pipe, rz_job_t *job)
{
    /* inproc with no HWM: this does not fail short of a bug. */
    while (zmq_send(pipe, &job, sizeof job, 0) < 0 && zmq_errno() == EINTR)
        ;
}

static int s_reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    return rzc_grow(arr, cap, need, size) ? RZ_ENOMEM : 0;
}

/* A key of item it that lies inside its bytes (the front points the
 * producer's strings there), as the same place in the copy at stored: the
 * journal then records its offset instead of its bytes. Any other key is
 * returned as it is. */
static const char *s_rebase(const rz_store_item_t *it, const char *key,
                            size_t len, const uint8_t *stored)
{
    if (rzc_inside(it->bytes, it->len, key, len))
        return (const char *)stored + ((uintptr_t)key - (uintptr_t)it->bytes);
    return key;
}

/* Consecutive new events of one tenant, domain and source: counted in the
 * stats at once, since a batch usually comes from one system. */
typedef struct s_run {
    const rz_job_meta_t *m;
    const rz_store_item_t *it;
    uint64_t n;
} s_run_t;

static void s_run_flush(rz_broker_t *b, s_run_t *r, int64_t now)
{
    if (r->n)
        rz_stats_event_in(b->stats, r->m->tenant, r->m->tenant_len,
                          r->m->domain, r->m->domain_len, r->it->source,
                          r->it->source_len, r->n, now);
    r->n = 0;
}

static void s_run_add(rz_broker_t *b, s_run_t *r, const rz_job_meta_t *m,
                      const rz_store_item_t *it, int64_t now)
{
    if (r->n && !rz_job_same_series(m, it, r->m, r->it))
        s_run_flush(b, r, now);
    if (!r->n) {
        r->m = m;
        r->it = it;
    }
    r->n++;
}

/* The ack of a conflict names the event it conflicts with. The front
 * counts a rejection only when it wrote the reason, so this one is counted
 * here. The job is the writer's until it is sent back: its arena too. */
static void s_conflict(rz_broker_t *b, rz_job_t *job, size_t i)
{
    char why[96];
    int n = snprintf(why, sizeof why,
                     "same source and id as seq %" PRIu64 ", different content",
                     job->items[i].seq);
    job->meta[i].reason = rz_arena_strndup(&job->arena, why, (size_t)n);
    if (job->meta[i].reason)
        rz_stats_reject(b->stats, RZ_ECONFLICT);
}

/* Append every valid event of the publish jobs in g in one transaction and
 * hand the outcomes back to the jobs. */
static void s_commit_publishes(rz_broker_t *b, s_group_t *g)
{
    g->n_items = 0;
    size_t total = 0;
    for (size_t j = 0; j < g->n_jobs; j++)
        total += g->jobs[j]->n;
    if (s_reserve((void **)&g->items, &g->cap_items, total + 1,
                  sizeof *g->items) < 0) {
        for (size_t j = 0; j < g->n_jobs; j++)
            g->jobs[j]->rc = RZ_ENOMEM;
        return;
    }
    for (size_t j = 0; j < g->n_jobs; j++) {
        rz_job_t *job = g->jobs[j];
        for (size_t i = 0; i < job->n; i++)
            if (job->items[i].code == 0)
                g->items[g->n_items++] = job->items[i];
    }
    int rc = 0;
    int64_t ingest_time = rz_now_us();
    uint64_t t0 = s_mono_us();
    if (g->n_items)
        rc = rz_store_append(b->store, g->items, g->n_items, ingest_time);
    uint64_t t1 = s_mono_us();
    int durability = rz_store_durability(b->store);
    if (g->n_items && rc == 0) {
        rz_stats_commit(b->stats, t1 - t0, g->n_items);
        atomic_store(&b->store_full, S_STORE_OK);
        s_faults_clear(g->faults, t1);
    } else if (rc == RZ_ESTOREFULL) {
        if (atomic_exchange(&b->store_full, S_STORE_MAP_FULL) !=
            S_STORE_MAP_FULL)
            rz_error("store full: the map cannot grow past map_max; "
                     "publishes are rejected, reads keep working");
    } else if (rc < 0) {
        if (rc == RZ_EDISKFULL &&
            atomic_exchange(&b->store_full, S_STORE_DISK_FULL) !=
                S_STORE_DISK_FULL)
            rz_error("store: the disk is full or failing; publishes are "
                     "rejected until a commit succeeds, reads keep working");
        s_faults_add(g->faults, rc, rz_store_last_error(b->store), t1);
    }

    size_t k = 0;
    s_run_t run = {0};
    for (size_t j = 0; j < g->n_jobs; j++) {
        rz_job_t *job = g->jobs[j];
        job->rc = rc;
        job->durability = durability;
        job->ingest_time = ingest_time;
        for (size_t i = 0; i < job->n; i++) {
            rz_store_item_t *it = &job->items[i];
            if (it->code != 0)
                continue;
            *it = g->items[k++];
            it->stored = NULL; /* the store's scratch; the front rebuilds */
            if (it->code == RZ_ECONFLICT)
                s_conflict(b, job, i);
            if (!it->code && !it->duplicate)
                s_run_add(b, &run, &job->meta[i], it, ingest_time);
        }
    }
    s_run_flush(b, &run, ingest_time);
}

/* ------------------------------------------------------------------------
 * sync: full: the journal in front of LMDB (journal.h)
 *
 * The writer decides every event of a group (duplicate, conflict or new)
 * against LMDB and against what it journaled that LMDB does not hold yet
 * (a map of source+id), gives the new ones their seqs and stamps, appends
 * one journal record, syncs it, and hands the jobs back: their acks go
 * out after one flush. The record then goes to the applier, which stores
 * records in LMDB in large transactions and says how far it got
 * (b->applied); the writer frees what was applied at the start of its next
 * group. The record is the applier's input as it is recovery's, so the
 * path after a crash is the path of every day.
 */

#define S_MAP_MIN 1024 /* buckets of the pending map at first */

/* Room kept free in the map and on the disk beyond what the journaled
 * events will take: a transaction copies the pages it changes, and LMDB's
 * own bookkeeping grows with it. An acked event must never be refused by
 * LMDB, so the journal refuses first. */
#define S_MAP_RESERVE (256 * 1024)
#define S_DISK_RESERVE (512 * 1024)

/* A source+id journaled and not yet applied. */
typedef struct s_node {
    struct s_node *next;
    uint64_t hash;
    uint64_t seq;
    const char *source, *id;
    size_t source_len, id_len;
    const uint8_t *digest;
} s_node_t;

/* A topic's last seq, for prev_topic_seq. The map holds every topic while
 * there are at most S_TOPICS_MAX; past that, those whose last seq LMDB has
 * (seq <= applied) are dropped, and a topic not in the map is looked up in
 * LMDB: publishers that make up new topics cannot grow the writer's
 * memory (at most about S_TOPICS_MAX x (48 + RZ_TOPIC_MAX) bytes = 20 MB,
 * plus the topics of events not applied yet). */
#define S_TOPICS_MAX 65536
typedef struct s_topic {
    struct s_topic *next;
    uint64_t hash;
    uint64_t seq;
    size_t len;
    char name[];
} s_topic_t;

/* One journal record and the map entries of its events: the writer's
 * until it frees it, read by the applier in between. */
typedef struct s_batch {
    struct s_batch *next;   /* the writer's, oldest first */
    struct s_batch *queued; /* the applier's queue */
    uint64_t first, last;
    uint64_t queued_us; /* when it went to the applier */
    size_t n, bytes;    /* events; the whole allocation */
    uint64_t cost;      /* estimated LMDB bytes */
    uint8_t *rec;
    size_t len;
    s_node_t nodes[];
} s_batch_t;

/* Applied batches kept for the next groups (s_batch_get, s_batch_put):
 * small ones only, so that a small group (window 1: one event) allocates
 * nothing; at most S_SPARE x S_SPARE_MAX bytes. */
#define S_SPARE 64
#define S_SPARE_MAX 16384

typedef struct s_journal_writer {
    rz_broker_t *b;
    s_batch_t *spare[S_SPARE];
    size_t n_spare;
    /* pending source+ids */
    s_node_t **ids;
    size_t ids_mask, n_ids;
    /* topics */
    s_topic_t **topics;
    size_t topics_mask, n_topics;
    int topics_partial; /* some were dropped: look up a miss in LMDB */
    /* journaled, not freed yet */
    s_batch_t *head, *tail;
    uint64_t pending_bytes, pending_cost;
    uint64_t next_seq;
    uint64_t full_room; /* the map's room when it was last found full */
    uint64_t full_disk; /* the disk's room then */
    atomic_uint_fast64_t flush_avg_us; /* moving average of an append */
    /* scratch of one group */
    rz_store_entry_t *entries;
    size_t cap_entries;
    uint8_t *digests, *found;
    size_t cap_digests, cap_found;
    s_node_t **added;
    size_t cap_added;
    /* the applier */
    pthread_t applier;
    int applier_on;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue changed, or applied moved */
    s_batch_t *q_head, *q_tail;
    uint64_t q_events, q_bytes; /* in the queue */
    int wants_room;             /* the writer waits for the applier */
    int stop;
} s_journal_writer_t;

static uint64_t s_hash(const void *a, size_t al, const void *b2, size_t bl)
{
    uint64_t h = 1469598103934665603u;
    const uint8_t *p = a;
    for (size_t i = 0; i < al; i++)
        h = (h ^ p[i]) * 1099511628211u;
    h = (h ^ 0) * 1099511628211u;
    p = b2;
    for (size_t i = 0; i < bl; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* Double a chained table of 2^k buckets; the next pointer comes first in
 * both node types. */
typedef struct s_chain {
    struct s_chain *next;
    uint64_t hash;
} s_chain_t;

static int s_table_grow(void ***tab, size_t *mask, size_t n)
{
    size_t size = *tab ? *mask + 1 : 0;
    if (*tab && n < size)
        return 0;
    size_t nsize = size ? 2 * size : S_MAP_MIN;
    s_chain_t **nt = calloc(nsize, sizeof *nt);
    if (!nt)
        return RZ_ENOMEM;
    for (size_t i = 0; i < size; i++) {
        s_chain_t *c = (*tab)[i];
        while (c) {
            s_chain_t *next = c->next;
            size_t at = c->hash & (nsize - 1);
            c->next = nt[at];
            nt[at] = c;
            c = next;
        }
    }
    free(*tab);
    *tab = (void **)nt;
    *mask = nsize - 1;
    return 0;
}

static s_node_t *s_id_find(s_journal_writer_t *w, const rz_store_item_t *it,
                           uint64_t h)
{
    if (!w->ids)
        return NULL;
    for (s_node_t *n = w->ids[h & w->ids_mask]; n; n = n->next)
        if (n->hash == h && n->source_len == it->source_len &&
            n->id_len == it->id_len &&
            (!it->source_len ||
             !memcmp(n->source, it->source, it->source_len)) &&
            (!it->id_len || !memcmp(n->id, it->id, it->id_len)))
            return n;
    return NULL;
}

static void s_id_remove(s_journal_writer_t *w, s_node_t *node)
{
    s_node_t **p = &w->ids[node->hash & w->ids_mask];
    while (*p && *p != node)
        p = &(*p)->next;
    if (*p) {
        *p = node->next;
        w->n_ids--;
    }
}

static s_topic_t *s_topic_get(s_journal_writer_t *w, const char *t, size_t len,
                              int add)
{
    uint64_t h = s_hash(t, len, "", 0);
    if (w->topics)
        for (s_topic_t *x = w->topics[h & w->topics_mask]; x; x = x->next)
            if (x->hash == h && x->len == len && !memcmp(x->name, t, len))
                return x;
    uint64_t last = 0;
    if (!add ||
        s_table_grow((void ***)&w->topics, &w->topics_mask, w->n_topics + 1) <
            0 ||
        (w->topics_partial && rz_store_topic_last(w->b->store, t, len, &last)))
        return NULL;
    s_topic_t *x = malloc(sizeof *x + len);
    if (!x)
        return NULL;
    x->hash = h;
    x->seq = last;
    x->len = len;
    memcpy(x->name, t, len);
    x->next = w->topics[h & w->topics_mask];
    w->topics[h & w->topics_mask] = x;
    w->n_topics++;
    return x;
}

static void s_topic_head(const char *topic, size_t len, uint64_t last_seq,
                         void *user)
{
    s_topic_t *x = s_topic_get(user, topic, len, 1);
    if (x)
        x->seq = last_seq;
}

/* Past S_TOPICS_MAX topics, drop those LMDB knows the last seq of. */
static void s_topics_trim(s_journal_writer_t *w, uint64_t applied)
{
    if (w->n_topics <= S_TOPICS_MAX)
        return;
    size_t before = w->n_topics;
    for (size_t i = 0; i <= w->topics_mask; i++)
        for (s_topic_t **p = &w->topics[i]; *p;) {
            s_topic_t *x = *p;
            if (x->seq > applied) {
                p = &x->next;
                continue;
            }
            *p = x->next;
            free(x);
            w->n_topics--;
        }
    w->topics_partial = 1;
    rz_debug("writer: %zu topics, %zu of them dropped from memory (LMDB has "
             "their last seq)",
             before, before - w->n_topics);
}

/* Free the batches the applier has stored (their seqs <= applied). */
/* A batch of at least bytes: a spare one that is big enough, or a new
 * one. Its bytes are what it holds. */
static s_batch_t *s_batch_get(s_journal_writer_t *w, size_t bytes)
{
    for (size_t i = w->n_spare; i-- > 0;)
        if (w->spare[i]->bytes >= bytes) {
            s_batch_t *bt = w->spare[i];
            w->spare[i] = w->spare[--w->n_spare];
            return bt;
        }
    /* in whole pages, so that groups of about one size share spares */
    if (bytes <= S_SPARE_MAX)
        bytes = (bytes + 4095) & ~(size_t)4095;
    s_batch_t *bt = malloc(bytes);
    if (bt)
        bt->bytes = bytes;
    return bt;
}

/* Done with a batch: a spare, or freed. */
static void s_batch_put(s_journal_writer_t *w, s_batch_t *bt)
{
    if (bt && bt->bytes <= S_SPARE_MAX && w->n_spare < S_SPARE)
        w->spare[w->n_spare++] = bt;
    else
        free(bt);
}

static void s_prune(s_journal_writer_t *w, uint64_t applied)
{
    while (w->head && w->head->last <= applied) {
        s_batch_t *bt = w->head;
        for (size_t i = 0; i < bt->n; i++)
            s_id_remove(w, &bt->nodes[i]);
        w->head = bt->next;
        if (!w->head)
            w->tail = NULL;
        w->pending_bytes -= bt->bytes;
        w->pending_cost -= bt->cost;
        s_batch_put(w, bt);
    }
}

/* What an event will take in LMDB, generously: its value and keys in the
 * log and the four indexes, B-tree slack, and the copy-on-write of the
 * transaction that stores it. */
static uint64_t s_cost(const rz_store_item_t *it)
{
    return 2 * ((uint64_t)it->len + RZ_STORE_STAMP_MAX + it->principal_len +
                2 * (it->source_len + it->id_len) + it->subject_len +
                it->topic_len + 256);
}

/* 0, or the code the group is refused with: LMDB or the disk would not
 * take it together with what is journaled and not applied yet. */
static int s_room(s_journal_writer_t *w, uint64_t cost)
{
    rz_broker_t *b = w->b;
    uint64_t need = w->pending_cost + cost;
    int failing = atomic_load(&w->b->apply_failing);
    if (failing)
        return failing;
    /* once full, full until the room grows (map_max raised): the guess
     * errs high, so the room left after the applier caught up would
     * otherwise let the next event in, and the one after it out */
    uint64_t room = rz_store_room(b->store);
    if (room < need + S_MAP_RESERVE || (w->full_room && room <= w->full_room)) {
        w->full_room = room ? room : 1;
        return RZ_ESTOREFULL;
    }
    w->full_room = 0;
    /* the same for the disk: full until it has more room than then */
    struct statvfs vf;
    if (statvfs(b->cfg->data_dir, &vf) == 0) {
        uint64_t avail = (uint64_t)vf.f_bavail * vf.f_frsize;
        if (avail < need + S_DISK_RESERVE ||
            (w->full_disk && avail <= w->full_disk)) {
            w->full_disk = avail ? avail : 1;
            return RZ_EDISKFULL;
        }
        w->full_disk = 0;
    }
    return 0;
}

/* Say why publishes are refused (once per change), or that they are not. */
static void s_store_state(rz_broker_t *b, int rc, s_faults_t *f)
{
    uint64_t now = s_mono_us();
    if (rc == 0) {
        atomic_store(&b->store_full, S_STORE_OK);
        s_faults_clear(f, now);
    } else if (rc == RZ_ESTOREFULL) {
        if (atomic_exchange(&b->store_full, S_STORE_MAP_FULL) !=
            S_STORE_MAP_FULL)
            rz_error("store full: the map cannot grow past map_max; "
                     "publishes are rejected, reads keep working");
    } else {
        if (rc == RZ_EDISKFULL &&
            atomic_exchange(&b->store_full, S_STORE_DISK_FULL) !=
                S_STORE_DISK_FULL)
            rz_error("store: the disk is full or failing; publishes are "
                     "rejected until there is room, reads keep working");
        s_faults_add(f, rc, rc == RZ_EDISKFULL ? "" : "journal", now);
    }
}

/* Journal the valid events of the publish jobs of g as one record. */
static int s_apply_now(s_journal_writer_t *w);

static void s_journal_publishes(s_journal_writer_t *w, s_group_t *g)
{
    rz_broker_t *b = w->b;
    size_t total = 0;
    for (size_t j = 0; j < g->n_jobs; j++)
        total += g->jobs[j]->n;
    g->n_items = 0;
    int rc = s_reserve((void **)&g->items, &g->cap_items, total + 1,
                       sizeof *g->items);
    for (size_t j = 0; j < g->n_jobs && !rc; j++) {
        rz_job_t *job = g->jobs[j];
        for (size_t i = 0; i < job->n; i++) {
            rz_store_item_t *it = &job->items[i];
            if (it->code)
                continue;
            if (!rz_store_item_valid(b->store, it)) {
                it->code = RZ_EINVALEVENT;
                continue;
            }
            it->seq = it->prev_topic_seq = 0;
            it->duplicate = 0;
            it->stored = NULL;
            it->stored_len = 0;
            g->items[g->n_items++] = *it;
        }
    }
    size_t n = g->n_items;
    uint64_t cost = 0, first = w->next_seq;
    size_t n_new = 0, rec_len = RZ_JOURNAL_HDR;
    int64_t ingest_time = rz_now_us();
    s_batch_t *bt = NULL;
    if (rc || !n)
        goto out;
    for (size_t i = 0; i < n; i++)
        cost += s_cost(&g->items[i]);
    s_prune(w, atomic_load(&b->applied));
    s_topics_trim(w, atomic_load(&b->applied));
    if ((rc = s_room(w, cost)))
        goto out;
    if ((rc = s_reserve((void **)&w->entries, &w->cap_entries, n,
                     sizeof *w->entries)) ||
        (rc = s_reserve((void **)&w->digests, &w->cap_digests, n * RZ_STORE_DIGEST,
                     1)) ||
        (rc = s_reserve((void **)&w->found, &w->cap_found, n, 1)) ||
        (rc = s_reserve((void **)&w->added, &w->cap_added, n, sizeof *w->added)))
        goto out;
    for (size_t i = 0; i < n && !rc; i++)
        rc = rz_store_digest(b->store, g->items[i].bytes, g->items[i].len,
                             w->digests + i * RZ_STORE_DIGEST);
    memset(w->found, 0, n);
    /* after the prune: what it dropped is in this read's snapshot */
    if (rc ||
        (rc = rz_store_ids_find(b->store, g->items, n, w->digests, w->found)))
        goto out;

    /* the batch, with room for a node per event and the record */
    for (size_t i = 0; i < n; i++)
        if (!w->found[i])
            rec_len += RZ_JOURNAL_EVENT + g->items[i].len + RZ_STORE_STAMP_MAX +
                       g->items[i].principal_len + g->items[i].source_len +
                       g->items[i].id_len + g->items[i].subject_len +
                       g->items[i].topic_len;
    bt = s_batch_get(w, sizeof *bt + n * sizeof(s_node_t) + rec_len);
    if (!bt) {
        rc = RZ_ENOMEM;
        goto out;
    }
    bt->n = 0;
    bt->rec = (uint8_t *)&bt->nodes[n];

    /* each event's stored bytes are written where the record keeps them
     * (rz_journal_record_encode leaves them in place): no other copy */
    uint8_t *at = bt->rec + RZ_JOURNAL_HDR;
    for (size_t i = 0; i < n && !rc; i++) {
        rz_store_item_t *it = &g->items[i];
        const uint8_t *dg = w->digests + i * RZ_STORE_DIGEST;
        uint64_t h = s_hash(it->source, it->source_len, it->id, it->id_len);
        s_node_t *node = s_id_find(w, it, h);
        if (node) { /* journaled before, or earlier in this group */
            w->found[i] = 1;
            it->code = 0;
            it->duplicate = 0;
            it->seq = node->seq;
            if (memcmp(node->digest, dg, RZ_STORE_DIGEST) != 0)
                it->code = RZ_ECONFLICT;
            else
                it->duplicate = 1;
        }
        if (w->found[i])
            continue;
        s_topic_t *tp = s_topic_get(w, it->topic, it->topic_len, 1);
        if (!tp ||
            s_table_grow((void ***)&w->ids, &w->ids_mask, w->n_ids + 1) < 0) {
            rc = RZ_ENOMEM;
            break;
        }
        it->seq = w->next_seq++;
        it->prev_topic_seq = tp->seq;
        tp->seq = it->seq;
        rz_store_entry_t *e = &w->entries[n_new];
        uint8_t *st = at + RZ_JOURNAL_EVENT;
        if (it->len)
            memcpy(st, it->bytes, it->len);
        size_t slen =
            it->len + rz_store_stamp(st + it->len, it->seq, ingest_time,
                                     it->principal, it->principal_len);
        *e = (rz_store_entry_t){
            .seq = it->seq,
            .prev_topic_seq = it->prev_topic_seq,
            .time = it->time,
            .stored = st,
            .stored_len = slen,
            .source = s_rebase(it, it->source, it->source_len, st),
            .source_len = it->source_len,
            .id = s_rebase(it, it->id, it->id_len, st),
            .id_len = it->id_len,
            .subject = s_rebase(it, it->subject, it->subject_len, st),
            .subject_len = it->subject_len,
            .topic = it->topic,
            .topic_len = it->topic_len,
            .digest = dg};
        at += rz_journal_event_size(e);
        node = &bt->nodes[n_new];
        *node =
            (s_node_t){NULL,           h,          it->seq, it->source, it->id,
                       it->source_len, it->id_len, dg};
        node->next = w->ids[h & w->ids_mask];
        w->ids[h & w->ids_mask] = node;
        w->n_ids++;
        w->added[n_new++] = node;
    }
    if (!rc && n_new) {
        bt->len =
            rz_journal_record_encode(bt->rec, w->entries, n_new, ingest_time);
        bt->first = first;
        bt->last = w->next_seq - 1;
        uint64_t t0 = s_mono_us();
        rc = rz_journal_append(b->journal, bt->rec, bt->len, bt->last,
                               atomic_load(&b->applied));
        uint64_t took = s_mono_us() - t0;
        if (!rc) /* a group commit, as STATS counts them: the ack's flush */
            rz_stats_commit(b->stats, took, n);
        uint64_t avg = atomic_load(&w->flush_avg_us);
        atomic_store(&w->flush_avg_us, avg - avg / 8 + took / 8);
    }
    if (rc) {
        /* nothing of this group is journaled: forget it, newest first */
        for (size_t i = n_new; i-- > 0;) {
            s_id_remove(w, w->added[i]);
            s_topic_t *tp =
                s_topic_get(w, w->entries[i].topic, w->entries[i].topic_len, 0);
            if (tp)
                tp->seq = w->entries[i].prev_topic_seq;
        }
        w->next_seq = first;
        goto out;
    }
    if (n_new) {
        /* the map now points into the record, which outlives the jobs */
        rz_journal_record_t r;
        rz_store_entry_t e;
        if (rz_journal_record_open(bt->rec, bt->len, &r) < 0)
            abort(); /* we just encoded it */
        for (size_t i = 0; rz_journal_record_next(&r, &e); i++) {
            bt->nodes[i].source = e.source;
            bt->nodes[i].id = e.id;
            bt->nodes[i].digest = e.digest;
        }
        bt->n = n_new;
        bt->cost = cost;
        bt->next = NULL;
        bt->queued = NULL;
        if (w->tail)
            w->tail->next = bt;
        else
            w->head = bt;
        w->tail = bt;
        w->pending_bytes += bt->bytes;
        w->pending_cost += bt->cost;
        pthread_mutex_lock(&w->mu);
        bt->queued_us = s_mono_us();
        if (w->q_tail)
            w->q_tail->queued = bt;
        else
            w->q_head = bt;
        w->q_tail = bt;
        w->q_events += n_new;
        w->q_bytes += bt->len;
        /* an idle applier sleeps for a second: it learns of the first
         * record at once; after that it looks every millisecond, and is
         * woken only when the queue must go now */
        if (w->q_head == bt || s_apply_now(w))
            pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        bt = NULL;
    }
out:
    s_batch_put(w, bt);
    if (n)
        s_store_state(b, rc, g->faults);
    size_t k = 0;
    s_run_t run = {0};
    for (size_t j = 0; j < g->n_jobs; j++) {
        rz_job_t *job = g->jobs[j];
        job->rc = rc;
        job->durability = RZ_DURABILITY_SYNCED;
        job->ingest_time = ingest_time;
        for (size_t i = 0; i < job->n; i++) {
            rz_store_item_t *it = &job->items[i];
            if (it->code != 0)
                continue;
            if (rc) {
                k++;
                continue;
            }
            *it = g->items[k++];
            it->stored = NULL;
            if (it->code == RZ_ECONFLICT)
                s_conflict(b, job, i);
            if (!it->code && !it->duplicate)
                s_run_add(b, &run, &job->meta[i], it, ingest_time);
        }
    }
    s_run_flush(b, &run, ingest_time);
}

/* Bytes of journal records in one group, waiting for the applier, and in
 * one LMDB transaction, each at most (a group or transaction still takes
 * one request or record whole): a sixteenth of the memory budget. The
 * front holds up to a quarter in requests and their decoded copies, and a
 * record being written, one being applied and the transaction's dirty
 * pages come on top. */
static uint64_t s_journal_share(const rz_broker_t *b)
{
    return rz_config_u64(&b->cfg->memory_budget) / 16;
}

/* How long the applier lets records gather before it stores them, unless
 * a read waits for them, the writer waits for room, or commit_max events
 * are there. Each LMDB commit writes every B-tree page it touches and
 * flushes twice: applying every small record at once would cost the disk
 * (and the journal's flushes, which share it) more than the acks gain.
 * The longer the wait, the more a commit writes, and a journal flush that
 * queues behind it on the disk waits that much longer. Measured on a
 * virtio disk (interleaved, 3 rounds): 20 ms gave window 16 an ack p99 of
 * 1.8-2.0 ms and fan-out at 20k events/s 1.5-1.6 ms; 5 ms 0.86-0.98 and
 * 1.1-1.5 ms, at the same rates and 3-5 % more CPU an event at window 16;
 * 2 ms took window 16 to 0.7 ms, but cost 4 % of its rate and 7 % more
 * CPU at windows 1 and 16. */
#define S_APPLY_DELAY_US 5000

/* Whether the applier should take the queue now (w->mu held). */
static int s_apply_now(s_journal_writer_t *w)
{
    rz_broker_t *b = w->b;
    if (!w->q_head)
        return w->stop;
    return w->stop || w->wants_room || atomic_load(&b->read_waiting) ||
           w->q_events >= rz_config_u64(&b->cfg->commit_max) ||
           w->q_bytes >= s_journal_share(b) ||
           s_mono_us() - w->q_head->queued_us >= S_APPLY_DELAY_US;
}

/* Wait for the queue to change (w->mu held); with records queued, for at
 * most a millisecond, to see a waiting read or their age soon enough;
 * idle, for at most a second. Each wait is a beat of the watchdog. */
static void s_apply_wait(s_journal_writer_t *w)
{
    atomic_fetch_add(&w->b->beat_applier, 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (!w->q_head) {
        /* idle: wake once a second all the same, for the watchdog */
        ts.tv_sec += 1;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        return;
    }
    ts.tv_nsec += 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

/* The applier: stores journaled records in LMDB, up to commit_max events
 * per transaction, and publishes how far it got. A failed transaction is
 * tried again (the writer refuses publishes meanwhile); when stopping, what
 * could not be stored stays in the journal for the next start. */
static void *s_applier_main(void *arg)
{
    s_journal_writer_t *w = arg;
    rz_broker_t *b = w->b;
    rz_store_entry_t *entries = NULL;
    size_t cap = 0;
    s_faults_t faults = {0};
    pthread_setname_np(pthread_self(), "rz-applier");
    for (;;) {
        atomic_fetch_add(&b->beat_applier, 1);
        /* the writer's next journal segment, before it needs it */
        (void)rz_journal_prepare(b->journal);
        pthread_mutex_lock(&w->mu);
        while (!s_apply_now(w))
            s_apply_wait(w);
        s_batch_t *first = w->q_head, *last = first;
        size_t events = first ? first->last - first->first + 1 : 0;
        uint64_t bytes = first ? first->len : 0;
        while (last && last->queued &&
               events < rz_config_u64(&b->cfg->commit_max) &&
               bytes < s_journal_share(b)) {
            last = last->queued;
            events += last->last - last->first + 1;
            bytes += last->len;
        }
        pthread_mutex_unlock(&w->mu);
        if (!first)
            break; /* stopping, and nothing left */

        int rc = 0;
        size_t n = 0;
        if (s_reserve((void **)&entries, &cap, events, sizeof *entries) < 0)
            rc = RZ_ENOMEM;
        for (s_batch_t *bt = first; !rc; bt = bt->queued) {
            rz_journal_record_t r;
            if (rz_journal_record_open(bt->rec, bt->len, &r) < 0)
                abort(); /* the writer's own bytes */
            while (rz_journal_record_next(&r, &entries[n]))
                n++;
            if (bt == last)
                break;
        }
        if (!rc)
            rc = rz_store_apply(b->store, entries, n);
        uint64_t t1 = s_mono_us();
        if (rc) {
            atomic_store(&b->apply_failing,
                         rc == RZ_ESTOREFULL || rc == RZ_EDISKFULL ? rc
                                                                   : RZ_ESTORE);
            s_faults_add(&faults, rc, rz_store_last_error(b->store), t1);
            /* the front answers reads from LMDB as it is meanwhile */
            atomic_store(&b->store_full, rc == RZ_ESTOREFULL
                                             ? S_STORE_MAP_FULL
                                             : S_STORE_DISK_FULL);
            pthread_mutex_lock(&w->mu);
            int stop = w->stop;
            pthread_cond_broadcast(&w->cv); /* a writer waiting for room */
            pthread_mutex_unlock(&w->mu);
            if (stop)
                break;
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (atomic_exchange(&b->apply_failing, 0))
            s_faults_clear(&faults, t1);
        pthread_mutex_lock(&w->mu);
        for (s_batch_t *bt = first;; bt = bt->queued) {
            w->q_events -= bt->n;
            w->q_bytes -= bt->len;
            if (bt == last)
                break;
        }
        w->q_head = last->queued;
        if (!w->q_head)
            w->q_tail = NULL;
        /* after this store the writer may free the batches */
        atomic_store(&b->applied, last->last);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    free(entries);
    return NULL;
}

static int s_journal_start(s_journal_writer_t *w, rz_broker_t *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    uint64_t head = rz_store_head(b->store);
    w->next_seq = head + 1;
    atomic_store(&b->applied, head);
    if (rz_store_topic_heads(b->store, s_topic_head, w) < 0)
        return RZ_ESTORE;
    pthread_condattr_t ca;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->applier, NULL, s_applier_main, w) != 0)
        return RZ_ENOMEM;
    w->applier_on = 1;
    return 0;
}

/* Wait while the journaled events LMDB does not hold yet take more than
 * their share of the memory budget: the front stops reading meanwhile. */
static void s_journal_backpressure(s_journal_writer_t *w)
{
    uint64_t limit = s_journal_share(w->b);
    s_prune(w, atomic_load(&w->b->applied));
    if (w->pending_bytes <= limit)
        return;
    /* the applier moves b->applied under the mutex: checked under it, a
     * wake-up cannot fall between the check and the wait */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        s_prune(w, atomic_load(&w->b->applied));
        if (w->pending_bytes <= limit || atomic_load(&w->b->apply_failing))
            break;
        w->wants_room = 1;
        pthread_cond_broadcast(&w->cv); /* the applier: no time to wait */
        /* waiting for the applier is alive: its own beat tells whether
         * it is stuck */
        atomic_fetch_add(&w->b->beat_writer, 1);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    w->wants_room = 0;
    pthread_mutex_unlock(&w->mu);
}

static void s_journal_stop(s_journal_writer_t *w)
{
    if (w->applier_on) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->applier, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    s_prune(w, UINT64_MAX);
    while (w->n_spare)
        free(w->spare[--w->n_spare]);
    for (size_t i = 0; w->topics && i <= w->topics_mask; i++)
        for (s_topic_t *x = w->topics[i], *next; x; x = next) {
            next = x->next;
            free(x);
        }
    free(w->topics);
    free(w->ids);
    free(w->entries);
    free(w->digests);
    free(w->found);
    free(w->added);
}

static void s_commit_consumer(rz_broker_t *b, rz_job_t *job)
{
    if (job->op)
        job->rc = rz_store_consumer_admin(b->store, job->group, job->op,
                                          job->seq, rz_now_us());
    else
        job->rc = rz_store_consumer_commit(b->store, job->group, job->seq,
                                           job->prefix, rz_now_us());
}

/* Run g: publishes up to each commit job in one transaction, then the
 * commit job, in queue order; then give every job back. */
static void s_run_group(rz_broker_t *b, void *pipe, s_group_t *g,
                        s_journal_writer_t *w)
{
    size_t start = 0;
    for (size_t j = 0; j <= g->n_jobs; j++) {
        if (j < g->n_jobs && g->jobs[j]->kind == RZ_JOB_PUBLISH)
            continue;
        s_group_t sub = *g;
        sub.jobs = g->jobs + start;
        sub.n_jobs = j - start;
        if (sub.n_jobs && w)
            s_journal_publishes(w, &sub);
        else if (sub.n_jobs)
            s_commit_publishes(b, &sub);
        g->items = sub.items;
        g->cap_items = sub.cap_items;
        if (j < g->n_jobs)
            s_commit_consumer(b, g->jobs[j]);
        start = j + 1;
    }
    for (size_t j = 0; j < g->n_jobs; j++)
        s_send_job(pipe, g->jobs[j]);
    g->n_jobs = 0;
}

/* ------------------------------------------------------------------------
 * Groups run by the front (sync: full)
 *
 * A request that finds the writer idle would cross two threads and back
 * for its ack: the front hands it to the writer, which wakes, journals
 * and flushes it, and hands it back, waking the front. Instead the front
 * runs such a group itself, as a single-threaded server does, under the
 * lock the writer holds for each of its own groups: the writer's state
 * (the pending map, the topics, the journal) has one owner at a time, and
 * as the front does this only when it has nothing queued for the writer,
 * groups still run in the order their requests came. While the front
 * flushes it reads no requests; those that arrive meanwhile make the next
 * group. On a disk whose appends take more than S_HERE_MAX_US on average,
 * the front leaves the flushing to the writer and keeps serving reads.
 */

#define S_HERE_MAX_US 1000

struct rz_writer_here {
    pthread_mutex_t run; /* held while a group runs */
    s_journal_writer_t *w;
    s_group_t g;       /* the front's scratch */
    s_faults_t faults; /* shared by both: one log line a second */
};

int rz_writer_run_here(rz_broker_t *b, rz_job_t **jobs, size_t n)
{
    struct rz_writer_here *h = atomic_load(&b->here);
    if (!h || b->test_stall_writer || atomic_load(&b->stopping))
        return 0;
    if (pthread_mutex_trylock(&h->run))
        return 0; /* the writer is busy: queue behind it */
    s_journal_writer_t *w = h->w;
    int ran = 0;
    if (atomic_load(&w->flush_avg_us) < S_HERE_MAX_US &&
        w->pending_bytes <= s_journal_share(b)) {
        h->g.jobs = jobs;
        h->g.n_jobs = n;
        s_journal_publishes(w, &h->g);
        h->g.jobs = NULL;
        h->g.n_jobs = 0;
        atomic_fetch_add(&b->beat_writer, 1);
        ran = 1;
    }
    pthread_mutex_unlock(&h->run);
    return ran;
}

/* Test only (RATUSZ_TEST_STALL_WRITER): while the file exists, sleep
 * without beating, as a writer stuck in fdatasync would. */
static void s_test_stall(const char *path)
{
    while (access(path, F_OK) == 0) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void *rz_writer_main(void *arg)
{
    rz_broker_t *b = arg;
    pthread_setname_np(pthread_self(), "rz-writer");
    void *pipe = zmq_socket(b->zctx, ZMQ_PAIR);
    int hwm = 0;
    zmq_setsockopt(pipe, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(pipe, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(pipe, RZ_WRITER_ENDPOINT) < 0) {
        rz_error("writer: cannot connect its queue: %s",
                 zmq_strerror(zmq_errno()));
        zmq_close(pipe);
        return NULL;
    }
    struct rz_writer_here here = {.run = PTHREAD_MUTEX_INITIALIZER};
    here.g.faults = &here.faults;
    s_group_t g = {.faults = &here.faults};
    s_journal_writer_t jw, *w = NULL;
    if (b->journal) {
        if (s_journal_start(&jw, b) < 0) {
            rz_error("writer: cannot start the journal's applier");
            s_journal_stop(&jw);
            zmq_close(pipe);
            return NULL;
        }
        w = &jw;
        here.w = w;
        atomic_store(&b->here, &here);
    }
    /* idle, the writer still wakes once a second to beat (notify.h) */
    int beat_ms = 1000;
    zmq_setsockopt(pipe, ZMQ_RCVTIMEO, &beat_ms, sizeof beat_ms);
    int running = 1;
    while (running) {
        int got;
        atomic_fetch_add(&b->beat_writer, 1);
        if (b->test_stall_writer)
            s_test_stall(b->test_stall_writer);
        if (w) {
            pthread_mutex_lock(&here.run);
            s_journal_backpressure(w);
            pthread_mutex_unlock(&here.run);
        }
        rz_job_t *job = s_recv_job(pipe, 0, &got);
        if (!got) {
            if (zmq_errno() == EINTR || zmq_errno() == EAGAIN)
                continue;
            rz_error("writer: queue failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        size_t events = 0;
        uint64_t bytes = 0;
        while (got) {
            if (!job) {
                running = 0; /* stop after this group */
                break;
            }
            if (s_reserve((void **)&g.jobs, &g.cap_jobs, g.n_jobs + 1,
                          sizeof *g.jobs) < 0) {
                job->rc = RZ_ENOMEM;
                s_send_job(pipe, job);
            } else {
                g.jobs[g.n_jobs++] = job;
                events += job->kind == RZ_JOB_PUBLISH ? job->n : 1;
                bytes += job->held;
            }
            if (events >= rz_config_u64(&b->cfg->commit_max) ||
                (w && bytes >= s_journal_share(b)))
                break;
            job = s_recv_job(pipe, ZMQ_DONTWAIT, &got);
        }
        if (g.n_jobs) {
            pthread_mutex_lock(&here.run);
            s_run_group(b, pipe, &g, w);
            pthread_mutex_unlock(&here.run);
        }
    }
    if (w) {
        pthread_mutex_lock(&here.run);
        atomic_store(&b->here, NULL);
        pthread_mutex_unlock(&here.run);
        s_journal_stop(w); /* the applier stores what is left first */
    }
    pthread_mutex_destroy(&here.run);
    free(g.jobs);
    free(g.items);
    free(here.g.items);
    zmq_close(pipe);
    return NULL;
}
