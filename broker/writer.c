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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "log.h"
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
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return RZ_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
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
static void s_run_group(rz_broker_t *b, void *pipe, s_group_t *g)
{
    size_t start = 0;
    for (size_t j = 0; j <= g->n_jobs; j++) {
        if (j < g->n_jobs && g->jobs[j]->kind == RZ_JOB_PUBLISH)
            continue;
        s_group_t sub = *g;
        sub.jobs = g->jobs + start;
        sub.n_jobs = j - start;
        if (sub.n_jobs)
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
    s_faults_t faults = {0};
    s_group_t g = {.faults = &faults};
    int running = 1;
    while (running) {
        int got;
        rz_job_t *job = s_recv_job(pipe, 0, &got);
        if (!got) {
            if (zmq_errno() == EINTR)
                continue;
            rz_error("writer: queue failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        size_t events = 0;
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
            }
            if (events >= b->cfg->commit_max)
                break;
            job = s_recv_job(pipe, ZMQ_DONTWAIT, &got);
        }
        if (g.n_jobs)
            s_run_group(b, pipe, &g);
    }
    free(g.jobs);
    free(g.items);
    zmq_close(pipe);
    return NULL;
}
