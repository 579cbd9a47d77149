/* server.c - the front loop: requests in, replies and fan-out out.
 *
 * Every request on the ROUTER socket is
 *
 *   [routing id][(empty, from REQ sockets)][command][correlation][body]
 *
 * Publishes are decoded and checked here, then queued to the writer as one
 * job per request; they are answered when the writer hands the job back,
 * after the commit. Reads (GET, QUERY, REPLAY, FETCH, ...) are answered here
 * directly from an LMDB read transaction, which never waits for the writer.
 * Anything malformed is answered with an ERR reply that names the problem,
 * counted, and forgotten: one bad client never stops the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "backup.h"
#include "broker.h"
#include "log.h"
#include "notify.h"
#include "ratusz/core/buf.h"
#include "ratusz/wire.h"
#include "watch.h"

#define S_MAX_FRAMES 8
#define S_CORR_MAX 255
#define S_GROUP_MAX 200

static int s_sigpipe[2] = {-1, -1};

/* A consumer group registered by FETCH whose record the writer has not
 * committed yet: the next FETCH must already see its prefix. */
typedef struct s_binding {
    struct s_binding *next;
    char *group, *prefix;
} s_binding_t;

#define S_JOB_POOL 64

typedef struct s_front {
    rz_broker_t *b;
    s_binding_t *bindings;
    void *front;   /* ROUTER */
    void *stream;  /* XPUB: events as stored */
    void *stream_red; /* XPUB: personal data pseudonymised (or NULL) */
    void *pipe;    /* PAIR to the writer */
    rz_zap_t *zap; /* CURVE: the authentication handler */
    /* a stream is fed once anyone ever subscribed to it */
    int fed, fed_red;
    size_t queued_events; /* in the writer's hands */
    size_t queued_jobs;
    size_t queued_bytes;  /* requests held for the writer (memory budget) */
    int64_t subscriptions;
    uint64_t dropped_replies;
    rz_watches_t watches; /* WATCH: flow-controlled subscriptions */
    uint64_t fanned;      /* every event up to this seq was fanned out */
    struct s_deferred *deferred, *deferred_tail; /* oldest first */
    size_t n_deferred;
    struct rz_backup *backup; /* BACKUP: the copy running, and who asked */
    struct s_req *backup_q;
    rz_notify_t notify; /* systemd */
    int64_t front_max;  /* ZMQ_MAXMSGSIZE of the front, set at its bind */
    /* publish jobs of this burst the front may run itself (s_here_run) */
    struct rz_job **here;
    size_t n_here, cap_here, here_events;
    int busy; /* requests were waiting when the front went to poll */
    /* answered jobs kept for the next requests, each with its arena's
     * first chunk (s_job_new, s_job_release): a request then allocates
     * no job */
    struct rz_job *job_pool[S_JOB_POOL];
    size_t n_job_pool;
} s_front_t;

/* A request being handled: its frames, borrowed from the receive. */
typedef struct s_req {
    zmq_msg_t frames[S_MAX_FRAMES];
    int nframes;    /* frames stored (at most S_MAX_FRAMES) */
    int total;      /* frames received */
    int has_delim;
    int cmd_at;     /* index of the command frame */
    char principal[RZ_PRINCIPAL_MAX];
    char address[64];
    uint64_t acked; /* the highest seq acked when it arrived */
} s_req_t;

/* A read that arrived while LMDB did not hold every acked event yet (the
 * applier is behind the journal): answered once it does. */
typedef struct s_deferred {
    struct s_deferred *next;
    uint64_t until; /* the acked head when it arrived */
    s_req_t q;
} s_deferred_t;

/* Reads held at most; past it the front stops reading requests. */
#define S_DEFER_MAX 1024

/* --------------------------------------------------------------------------
 * Replies
 */

/* Send [rid][delim?][cmd][corr][body]. The reply is dropped (and counted)
 * when the client does not read its replies (high-water mark) or is gone. */
static void s_send_reply(s_front_t *f, zmq_msg_t *rid, int has_delim,
                         const char *cmd, const void *corr, size_t corr_len,
                         zmq_msg_t *body)
{
    zmq_msg_t r;
    zmq_msg_init(&r);
    zmq_msg_copy(&r, rid);
    int rc = zmq_msg_send(&r, f->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(&r);
        zmq_msg_close(body);
        f->dropped_replies++;
        return;
    }
    if (has_delim)
        zmq_send(f->front, "", 0, ZMQ_SNDMORE);
    zmq_send(f->front, cmd, strlen(cmd), ZMQ_SNDMORE);
    zmq_send(f->front, corr, corr_len, ZMQ_SNDMORE);
    if (zmq_msg_send(body, f->front, 0) < 0)
        zmq_msg_close(body);
}

/* Pack m into a fresh message. */
static int s_pack(const ProtobufCMessage *m, zmq_msg_t *out)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (zmq_msg_init_size(out, len) < 0)
        return RZ_ENOMEM;
    protobuf_c_message_pack(m, zmq_msg_data(out));
    return 0;
}

static const void *s_corr(s_req_t *q, size_t *len)
{
    int i = q->cmd_at + 1;
    if (i < q->nframes && zmq_msg_size(&q->frames[i]) <= S_CORR_MAX) {
        *len = zmq_msg_size(&q->frames[i]);
        return zmq_msg_data(&q->frames[i]);
    }
    *len = 0;
    return "";
}

static void s_reply_msg(s_front_t *f, s_req_t *q, const char *cmd,
                        const ProtobufCMessage *m)
{
    zmq_msg_t body;
    if (s_pack(m, &body) < 0)
        return;
    size_t clen;
    const void *corr = s_corr(q, &clen);
    s_send_reply(f, &q->frames[0], q->has_delim, cmd, corr, clen, &body);
}

/* Answer with ERR: code, its name and a message naming the problem. */
static void s_reply_error(s_front_t *f, s_req_t *q, int code,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_reply_error(s_front_t *f, s_req_t *q, int code,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (code != RZ_ENOTFOUND) /* an answer, not a rejected request */
        rz_stats_reject(f->b->stats, code);
    rz_debug("reject %s: %s", rz_err_name(code), msg);
    Ratusz__V1__Error e = RATUSZ__V1__ERROR__INIT;
    e.code = code;
    e.name = (char *)rz_err_name(code);
    e.message = msg;
    s_reply_msg(f, q, "ERR", &e.base);
}

static void s_whoami(s_front_t *f, s_req_t *q, const char *cmd);
static int s_groups_full(s_front_t *f, s_req_t *q, const char *group);
static void s_reload_cmd(s_front_t *f, s_req_t *q);
static void s_backup(s_front_t *f, s_req_t *q, rz_arena_t *a);

/* --------------------------------------------------------------------------
 * Audit and denials
 */

static void s_audit(s_front_t *f, s_req_t *q, const char *action,
                    const char *command, const char *detail,
                    const char *outcome, uint64_t events,
                    const char *const *subjects, size_t n_subjects)
{
    rz_audit_entry_t e = {.principal = q->principal,
                          .address = q->address,
                          .action = action,
                          .command = command,
                          .detail = detail,
                          .outcome = outcome,
                          .events = events,
                          .subjects = subjects,
                          .n_subjects = n_subjects};
    rz_audit_write(f->b->audit, &e);
}

/* Refuse a request by a grant: ERR RZ_EDENIED, counted and audited. */
static void s_deny(s_front_t *f, s_req_t *q, const char *command,
                   const char *detail, const char *why)
{
    atomic_fetch_add(&f->b->denied, 1);
    s_audit(f, q, "denied", command, detail, why, 0, NULL, 0);
    s_reply_error(f, q, RZ_EDENIED, "%s", why);
}

/* --------------------------------------------------------------------------
 * Publish: decode, check, queue to the writer
 */

static rz_job_t *s_job_new(s_front_t *f, s_req_t *q, int kind)
{
    rz_job_t *job;
    if (f->n_job_pool) {
        job = f->job_pool[--f->n_job_pool];
        rz_arena_t arena = job->arena; /* reset, its first chunk kept */
        memset(job, 0, sizeof *job);
        job->arena = arena;
    } else {
        job = calloc(1, sizeof *job);
        if (!job)
            return NULL;
        rz_arena_init(&job->arena);
    }
    job->kind = kind;
    job->reply = 1;
    zmq_msg_init(&job->rid);
    zmq_msg_init(&job->cmd);
    zmq_msg_init(&job->corr);
    zmq_msg_init(&job->body);
    zmq_msg_move(&job->rid, &q->frames[0]);
    job->has_delim = q->has_delim;
    zmq_msg_move(&job->cmd, &q->frames[q->cmd_at]);
    zmq_msg_move(&job->corr, &q->frames[q->cmd_at + 1]);
    zmq_msg_move(&job->body, &q->frames[q->cmd_at + 2]);
    return job;
}

/* The request's frames a job holds, closed. */
static void s_job_close_msgs(rz_job_t *job)
{
    zmq_msg_close(&job->rid);
    zmq_msg_close(&job->cmd);
    zmq_msg_close(&job->corr);
    zmq_msg_close(&job->body);
}

void rz_job_free(rz_job_t *job)
{
    if (!job)
        return;
    s_job_close_msgs(job);
    rz_arena_close(&job->arena);
    free(job);
}

/* Done with a job: into the pool, or freed when the pool is full. */
static void s_job_release(s_front_t *f, rz_job_t *job)
{
    if (!job)
        return;
    if (f->n_job_pool == S_JOB_POOL) {
        rz_job_free(job);
        return;
    }
    s_job_close_msgs(job);
    rz_arena_reset(&job->arena);
    f->job_pool[f->n_job_pool++] = job;
}

/* What a job holds in memory while it waits for the writer. */
static size_t s_job_bytes(const rz_job_t *job)
{
    return sizeof *job + zmq_msg_size((zmq_msg_t *)&job->body) +
           job->arena.used;
}

static void s_job_done(s_front_t *f, rz_job_t *job);

/* Whether requests wait in the front socket already. */
static int s_front_waiting(s_front_t *f)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(f->front, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN);
}

/* Run the publish jobs of the burst (rz_writer_run_here) and answer them,
 * or hand them to the writer: when it is busy, and when requests were
 * waiting at the front's last poll, so that the front reads and checks
 * them while the writer flushes (the front's own work per request, not
 * the flush, is then what limits the rate). */
static void s_here_run(s_front_t *f)
{
    size_t n = f->n_here;
    if (!n)
        return;
    f->n_here = 0;
    f->here_events = 0;
    if (!f->busy && rz_writer_run_here(f->b, f->here, n)) {
        for (size_t i = 0; i < n; i++)
            s_job_done(f, f->here[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        zmq_send(f->pipe, &f->here[i], sizeof f->here[i], 0);
}

/* Keep a publish for the front to run at the end of the burst when
 * nothing waits at the writer (so groups keep the order of their
 * requests); else queue it for the writer, after those kept. */
static void s_queue(s_front_t *f, rz_job_t *job)
{
    f->queued_events += job->kind == RZ_JOB_PUBLISH ? job->n : 1;
    f->queued_jobs++;
    job->held = s_job_bytes(job);
    f->queued_bytes += job->held;
    atomic_store(&f->b->queued_bytes, f->queued_bytes);
    if (job->kind == RZ_JOB_PUBLISH && f->b->journal &&
        f->queued_jobs == f->n_here + 1 &&
        rzc_grow((void **)&f->here, &f->cap_here, f->n_here + 1,
                 sizeof *f->here) == 0) {
        f->here[f->n_here++] = job;
        f->here_events += job->n;
        if (f->here_events >= f->b->cfg->commit_max)
            s_here_run(f);
        return;
    }
    s_here_run(f);
    zmq_send(f->pipe, &job, sizeof job, 0);
}

/* key as the same string at data, when that is exactly it */
static void s_view(const char **key, size_t len, const uint8_t *data, size_t n)
{
    if (data && n == len && len && !memcmp(data, *key, len))
        *key = (const char *)data;
}

/* Point the item's source, id and subject (protobuf-c's copies) at the
 * producer's bytes, where protobuf keeps strings as they are (the last of
 * a field given twice is the one protobuf-c kept): the journal then
 * records their offsets inside the event rather than the bytes again.
 * Field numbers from proto/ratusz/v1/event.proto. */
static void s_keys_in_bytes(rz_store_item_t *it, const uint8_t *bytes,
                            size_t len)
{
    enum { ID = 1, SOURCE = 2, SUBJECT = 4 };
    const uint8_t *at[SUBJECT + 1] = {0};
    size_t n[SUBJECT + 1] = {0};
    rz_wire_t w;
    rz_wire_field_t fl;
    int rc;
    rz_wire_init(&w, bytes, len);
    while ((rc = rz_wire_next(&w, &fl)) == 1)
        if (fl.type == 2 && fl.number <= SUBJECT) {
            at[fl.number] = fl.data;
            n[fl.number] = fl.len;
        }
    if (rc < 0)
        return;
    s_view(&it->source, it->source_len, at[SOURCE], n[SOURCE]);
    s_view(&it->id, it->id_len, at[ID], n[ID]);
    s_view(&it->subject, it->subject_len, at[SUBJECT], n[SUBJECT]);
}

/* Fill item i of job from one encoded event, or set its code and reason. */
static void s_prepare_event(s_req_t *q, rz_job_t *job, size_t i,
                            const char *principal, const uint8_t *bytes,
                            size_t len)
{
    rz_store_item_t *it = &job->items[i];
    rz_job_meta_t *m = &job->meta[i];
    it->bytes = bytes;
    it->len = len;
    /* strings are checked on the wire: protobuf-c cuts a string at its
     * first NUL and accepts any bytes as UTF-8 */
    char why[256];
    int rc = rz_event_check_wire(bytes, len, why, sizeof why);
    if (rc < 0) {
        it->code = rc;
        m->reason = rz_arena_strndup(&job->arena, why, strlen(why));
        return;
    }
    Ratusz__V1__Event *ev =
        ratusz__v1__event__unpack(&job->arena.pb, len, bytes);
    if (!ev) {
        it->code = RZ_EDECODE;
        m->reason = "not a valid Event: truncated or corrupt protobuf";
        return;
    }
    rc = rz_event_check(ev, why, sizeof why);
    if (rc < 0) {
        it->code = rc;
        m->reason = rz_arena_strndup(&job->arena, why, strlen(why));
        return;
    }
    if (*ev->redaction) {
        /* only the broker says an event was redacted, on the way out */
        it->code = RZ_EINVALEVENT;
        m->reason = "redaction is set by the broker on events it sends, "
                    "never by a producer";
        return;
    }
    char topic[RZ_TOPIC_MAX + 1];
    int tlen = rz_event_topic(ev, topic, sizeof topic);
    /* the domain is the topic's second segment */
    size_t tenant_len = strlen(ev->tenant);
    const char *domain = topic + tenant_len + 1;
    const char *dot2 = memchr(domain, '.', (size_t)tlen - tenant_len - 1);
    size_t dlen = dot2 ? (size_t)(dot2 - domain) : strlen(domain);
    char dom[RZ_TOPIC_MAX + 1];
    memcpy(dom, domain, dlen);
    dom[dlen] = '\0';
    rc = rz_access_publish(q->principal, ev->source, ev->tenant, dom, why,
                           sizeof why);
    if (rc < 0) {
        it->code = rc;
        m->reason = rz_arena_strndup(&job->arena, why, strlen(why));
        return;
    }
    it->topic = rz_arena_strndup(&job->arena, topic, (size_t)tlen);
    it->topic_len = (size_t)tlen;
    it->source = ev->source;
    it->source_len = strlen(ev->source);
    it->id = ev->id;
    it->id_len = strlen(ev->id);
    it->subject = ev->subject;
    it->subject_len = strlen(ev->subject);
    s_keys_in_bytes(it, bytes, len);
    it->principal = principal;
    it->principal_len = strlen(principal);
    it->time = ev->time;
    m->tenant = ev->tenant;
    m->tenant_len = tenant_len;
    m->domain = it->topic + m->tenant_len + 1;
    m->domain_len = dlen;
    if (!it->topic) {
        it->code = RZ_ENOMEM;
        m->reason = "out of memory";
    }
}

static void s_publish(s_front_t *f, s_req_t *q, int batch)
{
    rz_config_t *cfg = f->b->cfg;
    if (atomic_load(&f->b->stopping)) {
        s_reply_error(f, q, RZ_ESTOPPING, "the broker is shutting down");
        return;
    }
    rz_job_t *job = s_job_new(f, q, RZ_JOB_PUBLISH);
    if (!job) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory");
        return;
    }
    const uint8_t *body = zmq_msg_data(&job->body);
    size_t len = zmq_msg_size(&job->body);
    Ratusz__V1__RawEventBatch *rb = NULL;
    if (batch) {
        rb = ratusz__v1__raw_event_batch__unpack(&job->arena.pb, len, body);
        if (!rb)
            goto bad_batch;
        job->n = rb->n_events;
    } else {
        job->n = 1;
    }
    if (job->n == 0 || job->n > cfg->max_batch)
        goto bad_count;
    job->items = rz_arena_alloc(&job->arena, job->n * sizeof *job->items);
    job->meta = rz_arena_alloc(&job->arena, job->n * sizeof *job->meta);
    const char *principal =
        rz_arena_strndup(&job->arena, q->principal, strlen(q->principal));
    if (!job->items || !job->meta || !principal)
        goto nomem;
    memset(job->items, 0, job->n * sizeof *job->items);
    memset(job->meta, 0, job->n * sizeof *job->meta);
    size_t denied = 0;
    const char *first_denial = NULL;
    for (size_t i = 0; i < job->n; i++) {
        if (batch)
            s_prepare_event(q, job, i, principal, rb->events[i].data,
                            rb->events[i].len);
        else
            s_prepare_event(q, job, i, principal, body, len);
        if (job->items[i].code)
            rz_stats_reject(f->b->stats, job->items[i].code);
        if (job->items[i].code == RZ_EDENIED && !denied++)
            first_denial = job->meta[i].reason;
    }
    if (denied) {
        /* one record per request: a refused batch is one attempt */
        char detail[96];
        snprintf(detail, sizeof detail, "%zu of %zu events refused", denied,
                 job->n);
        atomic_fetch_add(&f->b->denied, denied);
        s_audit(f, q, "denied", batch ? "PUBB" : "PUB", detail, first_denial,
                0, NULL, 0);
    }
    s_queue(f, job);
    return;

    /* Whole-request failures: answer with the job's own frames. */
    int code;
    const char *why;
bad_batch:
    code = RZ_EDECODE;
    why = "PUBB body is not a valid EventBatch (truncated or corrupt "
          "protobuf)";
    goto fail;
bad_count:
    code = job->n ? RZ_ETOOBIG : RZ_EBADREQ;
    why = job->n ? "too many events in one batch (see max_batch)"
                 : "empty batch";
    goto fail;
nomem:
    code = RZ_ENOMEM;
    why = "out of memory";
fail:
    zmq_msg_move(&q->frames[0], &job->rid);
    zmq_msg_move(&q->frames[q->cmd_at + 1], &job->corr);
    s_reply_error(f, q, code, "%s", why);
    s_job_release(f, job);
}

static s_binding_t *s_binding_find(s_front_t *f, const char *group)
{
    for (s_binding_t *p = f->bindings; p; p = p->next)
        if (!strcmp(p->group, group))
            return p;
    return NULL;
}

static int s_binding_add(s_front_t *f, const char *group, const char *prefix)
{
    s_binding_t *bd = calloc(1, sizeof *bd);
    if (!bd)
        return RZ_ENOMEM;
    bd->group = strdup(group);
    bd->prefix = strdup(prefix);
    if (!bd->group || !bd->prefix) {
        free(bd->group);
        free(bd->prefix);
        free(bd);
        return RZ_ENOMEM;
    }
    bd->next = f->bindings;
    f->bindings = bd;
    return 0;
}

static void s_binding_drop(s_front_t *f, const char *group)
{
    for (s_binding_t **p = &f->bindings; *p; p = &(*p)->next)
        if (!strcmp((*p)->group, group)) {
            s_binding_t *d = *p;
            *p = d->next;
            free(d->group);
            free(d->prefix);
            free(d);
            return;
        }
}

/* [topic][seq|prev][event] on one stream socket; msg is consumed. */
static void s_stream_send(void *sock, const rz_store_item_t *it,
                          const uint8_t pos[16], zmq_msg_t *msg)
{
    zmq_send(sock, it->topic, it->topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(sock, pos, 16, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (zmq_msg_send(msg, sock, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(msg);
}

/* Publish the new events of job on the stream: [topic][seq|prev][event],
 * the event being exactly the stored bytes (producer bytes + stamp). */
static void s_fan_out(s_front_t *f, rz_job_t *job)
{
    const rz_job_meta_t *run = NULL;
    const rz_store_item_t *run_it = NULL;
    uint64_t run_n = 0;
    for (size_t i = 0; i <= job->n; i++) {
        rz_store_item_t *it = i < job->n ? &job->items[i] : NULL;
        rz_job_meta_t *m = i < job->n ? &job->meta[i] : NULL;
        if (it && (it->code || it->duplicate))
            continue;
        /* stats per run of one series, as the writer counts them */
        if (run_n && (!it || !rz_job_same_series(m, it, run, run_it))) {
            rz_stats_event_out(f->b->stats, run->tenant, run->tenant_len,
                               run->domain, run->domain_len, run_it->source,
                               run_it->source_len, run_n);
            run_n = 0;
        }
        if (!it)
            break;
        if (!run_n) {
            run = m;
            run_it = it;
        }
        run_n++;

        uint8_t pos[16];
        for (int k = 0; k < 8; k++) {
            pos[k] = (uint8_t)(it->seq >> (56 - 8 * k));
            pos[8 + k] = (uint8_t)(it->prev_topic_seq >> (56 - 8 * k));
        }
        /* principals are shorter than s_req_t.principal (128 bytes) */
        uint8_t stamp[RZ_STORE_STAMP_MAX + 128];
        size_t sn = rz_store_stamp(stamp, it->seq, job->ingest_time,
                                   it->principal, it->principal_len);
        zmq_msg_t ev, red;
        if (zmq_msg_init_size(&ev, it->len + sn) < 0)
            continue;
        memcpy(zmq_msg_data(&ev), it->bytes, it->len);
        memcpy((uint8_t *)zmq_msg_data(&ev) + it->len, stamp, sn);
        /* the redacted form: the same bytes unless the event holds
         * personal data; one that cannot be redacted is not sent to
         * readers without clearance */
        const uint8_t *rb = zmq_msg_data(&ev);
        size_t rn = zmq_msg_size(&ev);
        int rc = 0;
        if ((f->fed_red || f->watches.redacted) && rz_redact_needed(rb, rn)) {
            rc = rz_redact_event(&f->b->redact_key, rb, rn, &job->arena, &rb,
                                 &rn);
            if (rc == 1)
                atomic_fetch_add(&f->b->redacted, 1);
            else if (rc < 0)
                rz_warn("event seq %llu cannot be redacted (%s): not sent "
                        "to readers without personal-data clearance",
                        (unsigned long long)it->seq, rz_strerror(rc));
        }
        rz_watches_event(&f->watches, it->topic, it->topic_len, it->seq,
                         zmq_msg_data(&ev), zmq_msg_size(&ev),
                         rc < 0 ? NULL : rb, rn);
        if (f->fed_red && rc >= 0) {
            zmq_msg_init(&red);
            if (rc == 0) {
                zmq_msg_copy(&red, &ev);
                s_stream_send(f->stream_red, it, pos, &red);
            } else if (zmq_msg_init_size(&red, rn) == 0) {
                memcpy(zmq_msg_data(&red), rb, rn);
                s_stream_send(f->stream_red, it, pos, &red);
            }
        }
        if (f->fed)
            s_stream_send(f->stream, it, pos, &ev);
        else
            zmq_msg_close(&ev);
    }
    rz_watches_flush(&f->watches);
}

/* A job came back from the writer: answer it and fan its events out. */
static void s_job_done(s_front_t *f, rz_job_t *job)
{
    f->queued_events -= job->kind == RZ_JOB_PUBLISH ? job->n : 1;
    f->queued_jobs--;
    f->queued_bytes -= job->held;
    atomic_store(&f->b->queued_bytes, f->queued_bytes);
    const void *corr = zmq_msg_data(&job->corr);
    size_t clen = zmq_msg_size(&job->corr);
    zmq_msg_t body;

    if (job->kind == RZ_JOB_COMMIT) {
        if (!job->reply) {
            s_binding_drop(f, job->group);
            goto out;
        }
        if (job->op == RZ_CONSUMER_DELETE && job->rc == 0)
            s_binding_drop(f, job->group);
        if (job->rc < 0) {
            Ratusz__V1__Error e = RATUSZ__V1__ERROR__INIT;
            char msg[300];
            snprintf(msg, sizeof msg, "%s: consumer group '%.200s'",
                     rz_strerror(job->rc), job->group);
            e.code = job->rc;
            e.name = (char *)rz_err_name(job->rc);
            e.message = msg;
            if (s_pack(&e.base, &body) == 0)
                s_send_reply(f, &job->rid, job->has_delim, "ERR", corr, clen,
                             &body);
            goto out;
        }
        Ratusz__V1__ConsumerList cl = RATUSZ__V1__CONSUMER_LIST__INIT;
        Ratusz__V1__ConsumerGroup *g = NULL;
        if (rz_store_consumer_get(f->b->store, job->group, &g) == 0) {
            cl.n_groups = 1;
            cl.groups = &g;
        }
        if (s_pack(&cl.base, &body) == 0)
            s_send_reply(f, &job->rid, job->has_delim,
                         job->op ? "GROUP" : "COMMIT", corr, clen, &body);
        if (g)
            ratusz__v1__consumer_group__free_unpacked(g, NULL);
        goto out;
    }

    /* Fan-out first: subscribers see an event as soon as it is durable. */
    if (job->rc == 0 && (f->fed || f->fed_red || f->watches.n))
        s_fan_out(f, job);
    /* a WATCH from now on is sent what comes after these */
    for (size_t i = 0; job->rc == 0 && job->kind == RZ_JOB_PUBLISH &&
                       i < job->n; i++)
        if (!job->items[i].code && !job->items[i].duplicate &&
            job->items[i].seq > f->fanned)
            f->fanned = job->items[i].seq;
    atomic_store(&f->b->acked, f->fanned);

    Ratusz__V1__AckList al = RATUSZ__V1__ACK_LIST__INIT;
    Ratusz__V1__Ack *acks =
        rz_arena_alloc(&job->arena, job->n * sizeof *acks);
    Ratusz__V1__Ack **ptrs =
        rz_arena_alloc(&job->arena, job->n * sizeof *ptrs);
    if (!acks || !ptrs)
        goto out;
    for (size_t i = 0; i < job->n; i++) {
        rz_store_item_t *it = &job->items[i];
        Ratusz__V1__Ack *a = &acks[i];
        ratusz__v1__ack__init(a);
        int code = it->code ? it->code : job->rc;
        if (code) {
            a->code = code;
            a->reason = (char *)(it->code && job->meta[i].reason
                                     ? job->meta[i].reason
                                     : rz_strerror(code));
            if (!job->meta[i].reason) /* not counted by the front */
                rz_stats_reject(f->b->stats, code);
            if (code == RZ_ECONFLICT)
                a->seq = it->seq; /* the original event's */
        } else {
            a->seq = it->seq;
            a->duplicate = it->duplicate;
        }
        ptrs[i] = a;
    }
    al.n_acks = job->n;
    al.acks = ptrs;
    al.durability = job->durability;
    if (s_pack(&al.base, &body) == 0) {
        const char *cmd = zmq_msg_size(&job->cmd) == 3 ? "PUB" : "PUBB";
        s_send_reply(f, &job->rid, job->has_delim, cmd, corr, clen, &body);
    }
out:
    s_job_release(f, job);
}

/* --------------------------------------------------------------------------
 * Reads
 */

/* Events collected for one reply; the bytes are copied out of LMDB.
 *
 * Every event passes the reader's grant on its way out: outside the grant
 * it is withheld (counted, not sent); with personal data and a reader
 * without clearance it is pseudonymised (redact.h); with personal data and
 * a cleared reader its subject is noted for the audit record. */
#define S_AUDIT_SUBJECTS 100

typedef struct s_collect {
    rz_arena_t *arena;
    ProtobufCBinaryData *ev;
    size_t n, cap;
    int failed;
    /* access */
    s_front_t *f;
    const char *principal;
    int filter;          /* check each event's topic against the grant */
    int redact;          /* no clearance: pseudonymise personal data */
    uint64_t withheld;   /* outside the grant, or could not be redacted */
    uint64_t lost;       /* FETCH: the group's events lost to retention */
    uint64_t redacted;
    uint64_t personal;   /* events with personal data sent unredacted */
    const char *subjects[S_AUDIT_SUBJECTS];
    size_t n_subjects;
    char detail[200];    /* what was asked, for the audit */
} s_collect_t;

static void s_collect_init(s_collect_t *c, s_front_t *f, s_req_t *q,
                           rz_arena_t *a, int scope)
{
    memset(c, 0, sizeof *c);
    c->arena = a;
    c->f = f;
    c->principal = q->principal;
    c->filter = scope != RZ_READ_ALL;
    c->redact = !rz_access_personal(q->principal);
}

static int s_collect(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    (void)seq;
    s_collect_t *c = user;
    if (c->filter) {
        char topic[RZ_TOPIC_MAX + 1];
        int tl = rz_access_event_topic(ev, len, topic, sizeof topic);
        if (tl < 0 || !rz_access_topic(c->principal, topic, (size_t)tl)) {
            c->withheld++;
            return 0;
        }
    }
    const uint8_t *out = ev;
    size_t out_len = len;
    int copied = 0;
    if (rz_redact_needed(ev, len)) {
        if (c->redact) {
            int rc = rz_redact_event(&c->f->b->redact_key, ev, len, c->arena,
                                     &out, &out_len);
            if (rc < 0) { /* fail closed */
                c->withheld++;
                return 0;
            }
            if (rc == 1) {
                c->redacted++;
                copied = 1;
            }
        } else {
            const uint8_t *subj;
            size_t sn;
            c->personal++;
            if (c->n_subjects < S_AUDIT_SUBJECTS &&
                rz_wire_find(ev, len, 4, &subj, &sn) == 1) {
                char *dup = rz_arena_strndup(c->arena, (const char *)subj,
                                             sn);
                if (dup)
                    c->subjects[c->n_subjects++] = dup;
            }
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        ProtobufCBinaryData *n = rz_arena_alloc(c->arena, cap * sizeof *n);
        if (!n) {
            c->failed = 1;
            return 1;
        }
        if (c->n)
            memcpy(n, c->ev, c->n * sizeof *n);
        c->ev = n;
        c->cap = cap;
    }
    if (!copied) {
        uint8_t *copy = rz_arena_alloc(c->arena, out_len);
        if (!copy) {
            c->failed = 1;
            return 1;
        }
        memcpy(copy, out, out_len);
        out = copy;
    }
    c->ev[c->n].data = (uint8_t *)out;
    c->ev[c->n].len = out_len;
    c->n++;
    return 0;
}

static void s_reply_events(s_front_t *f, s_req_t *q, const char *cmd,
                           s_collect_t *c, const uint8_t *next,
                           size_t next_len, uint64_t next_seq, int end)
{
    if (c->failed) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory building the reply");
        return;
    }
    Ratusz__V1__RawEventList l = RATUSZ__V1__RAW_EVENT_LIST__INIT;
    l.n_events = c->n;
    l.events = c->ev;
    l.next.data = (uint8_t *)next;
    l.next.len = next_len;
    l.next_seq = next_seq;
    l.end = end;
    l.withheld = c->withheld;
    l.lost = c->lost;
    rz_stats_read(f->b->stats, c->n);
    if (c->redacted)
        atomic_fetch_add(&f->b->redacted, c->redacted);
    if (c->personal) {
        /* accountability: who saw whose personal data */
        s_audit(f, q, "read-personal", cmd, c->detail, "ok", c->personal,
                c->subjects, c->n_subjects);
    }
    s_reply_msg(f, q, cmd, &l.base);
}

/* The read scope of a request for prefix, or a denial already answered
 * (returns < 0). */
static int s_read_scope(s_front_t *f, s_req_t *q, const char *cmd,
                        const char *prefix)
{
    char why[256];
    int scope = rz_access_read_prefix(q->principal, prefix, why, sizeof why);
    if (scope < 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "topic=%.140s", prefix);
        s_deny(f, q, cmd, detail, why);
    }
    return scope;
}

#define S_UNPACK(type, q, arena)                                              \
    type##__unpack(&(arena)->pb, zmq_msg_size(&(q)->frames[(q)->cmd_at + 2]), \
                   zmq_msg_data(&(q)->frames[(q)->cmd_at + 2]))

static void s_get(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__GetRequest *g = S_UNPACK(ratusz__v1__get_request, q, a);
    if (!g) {
        s_reply_error(f, q, RZ_EDECODE, "GET body is not a GetRequest");
        return;
    }
    int scope = s_read_scope(f, q, "GET", "");
    if (scope < 0)
        return;
    s_collect_t c;
    s_collect_init(&c, f, q, a, scope);
    int rc;
    if (g->seq) {
        snprintf(c.detail, sizeof c.detail, "seq=%llu",
                 (unsigned long long)g->seq);
        rc = rz_store_get(f->b->store, g->seq, s_collect, &c);
    } else if (*g->source && *g->id) {
        snprintf(c.detail, sizeof c.detail, "source=%.90s id=%.90s",
                 g->source, g->id);
        rc = rz_store_get_id(f->b->store, g->source, g->id, s_collect, &c);
    } else {
        s_reply_error(f, q, RZ_EBADREQ, "GET needs seq, or source and id");
        return;
    }
    if (rc >= 0 && c.withheld) {
        char why[RZ_PRINCIPAL_MAX + 96];
        snprintf(why, sizeof why,
                 "the event is outside the read grants of principal '%s'",
                 q->principal);
        s_deny(f, q, "GET", c.detail, why);
        return;
    }
    if (rc == RZ_ENOTFOUND) {
        uint64_t seq = g->seq;
        if (!seq && *g->source && *g->id)
            seq = rz_store_id_seq(f->b->store, g->source, g->id);
        if (seq && rz_store_pruned(f->b->store, seq) == 1)
            s_reply_error(f, q, rc,
                          "the event of seq %llu was removed by retention",
                          (unsigned long long)seq);
        else if (g->seq)
            s_reply_error(f, q, rc, "no event with seq %llu",
                          (unsigned long long)g->seq);
        else
            s_reply_error(f, q, rc, "no event with source '%s' and id '%s'",
                          g->source, g->id);
        return;
    }
    if (rc < 0) {
        s_reply_error(f, q, rc, "%s", rz_strerror(rc));
        return;
    }
    s_reply_events(f, q, "GET", &c, NULL, 0, 0, 1);
}

/* QUERY by pseudonym: alone, and well-formed (its raw form into raw).
 * Returns 0, or -1 with the error sent. */
static int s_query_pseudonym(s_front_t *f, s_req_t *q,
                             const Ratusz__V1__QueryRequest *m, uint8_t *raw)
{
    char why[160];
    if (*m->subject || *m->topic_prefix) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "QUERY takes a pseudonym alone, without subject or "
                      "topic_prefix");
        return -1;
    }
    if (rz_redact_pseudonym_parse(m->pseudonym, raw, why, sizeof why) < 0) {
        s_reply_error(f, q, RZ_EBADREQ, "QUERY pseudonym: %s", why);
        return -1;
    }
    return 0;
}

static void s_query(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__QueryRequest *m = S_UNPACK(ratusz__v1__query_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "QUERY body is not a QueryRequest");
        return;
    }
    if (*m->subject && *m->topic_prefix) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "QUERY takes a subject or a topic_prefix, not both");
        return;
    }
    uint8_t raw[RZ_PSEUDONYM_RAW];
    if (*m->pseudonym && s_query_pseudonym(f, q, m, raw) < 0)
        return;
    int scope = s_read_scope(f, q, "QUERY", m->topic_prefix);
    if (scope < 0)
        return;
    uint64_t cap = f->b->cfg->query_limit * 10;
    rz_store_query_t sq = {m->subject, m->topic_prefix, m->since, m->until,
                           m->limit ? m->limit : (uint32_t)f->b->cfg->query_limit,
                           m->after.data, m->after.len, NULL};
    if (sq.limit > cap)
        sq.limit = (uint32_t)cap;
    s_collect_t c;
    s_collect_init(&c, f, q, a, scope);
    if (m->redact) /* asked for: pseudonyms whatever the clearance */
        c.redact = 1;
    if (*m->pseudonym) {
        sq.pseudonym = raw;
        snprintf(c.detail, sizeof c.detail, "pseudonym=%.27s", m->pseudonym);
    } else if (*m->subject)
        snprintf(c.detail, sizeof c.detail, "subject=%.180s", m->subject);
    else if (*m->topic_prefix)
        snprintf(c.detail, sizeof c.detail, "topic=%.180s", m->topic_prefix);
    else
        snprintf(c.detail, sizeof c.detail, "time=%lld-%lld",
                 (long long)m->since, (long long)m->until);
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 0;
    int rc = rz_store_query(f->b->store, &sq, s_collect, &c, next, &next_len);
    if (rc == RZ_EBADCURSOR) {
        s_reply_error(f, q, rc, "the 'after' cursor is not one this broker "
                                "returned for this kind of query");
        return;
    }
    if (rc < 0) {
        s_reply_error(f, q, rc, "query failed: %s", rz_strerror(rc));
        return;
    }
    s_reply_events(f, q, "QUERY", &c, next, next_len, 0, next_len == 0);
}

static void s_replay(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__ReplayRequest *m = S_UNPACK(ratusz__v1__replay_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "REPLAY body is not a ReplayRequest");
        return;
    }
    int scope = s_read_scope(f, q, "REPLAY", m->topic_prefix);
    if (scope < 0)
        return;
    uint64_t head = rz_store_head(f->b->store);
    uint64_t from = m->from_seq ? m->from_seq : 1;
    uint64_t until = m->until_seq ? m->until_seq : head + 1;
    if (until > head + 1)
        until = head + 1;
    uint64_t chunk = m->chunk ? m->chunk : f->b->cfg->replay_chunk;
    if (chunk > f->b->cfg->replay_chunk * 10)
        chunk = f->b->cfg->replay_chunk * 10;
    if (m->max_events && m->max_events < chunk)
        chunk = m->max_events;
    s_collect_t c;
    s_collect_init(&c, f, q, a, scope);
    snprintf(c.detail, sizeof c.detail, "seq=%llu-%llu topic=%.140s",
             (unsigned long long)from, (unsigned long long)until,
             m->topic_prefix);
    uint64_t next = from;
    if (from < until) {
        int rc = rz_store_scan(f->b->store, from, until, m->topic_prefix,
                               chunk, s_collect, &c, &next);
        if (rc < 0) {
            s_reply_error(f, q, rc, "replay failed: %s", rz_strerror(rc));
            return;
        }
    }
    int end = next >= until || (m->max_events && c.n >= m->max_events);
    s_reply_events(f, q, "REPLAY", &c, NULL, 0, next, end);
}

static int s_group_ok(const char *g)
{
    size_t n = strlen(g);
    if (n == 0 || n > S_GROUP_MAX)
        return 0;
    for (; *g; g++)
        if ((unsigned char)*g < 0x20)
            return 0;
    return 1;
}

/* Hand a change of a consumer group to the writer (COMMIT: op 0; GROUP:
 * RZ_CONSUMER_RESET or _DELETE); the reply goes out when it is done. */
static void s_queue_group(s_front_t *f, s_req_t *q, const char *group,
                          uint64_t seq, int op)
{
    rz_job_t *job = s_job_new(f, q, RZ_JOB_COMMIT);
    if (!job) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory");
        return;
    }
    job->group = rz_arena_strndup(&job->arena, group, strlen(group));
    job->seq = seq;
    job->op = op;
    if (!job->group) {
        s_job_release(f, job);
        return;
    }
    s_queue(f, job);
}

/* 1 when group is a valid name; else answered with RZ_EBADREQ. */
static int s_group_checked(s_front_t *f, s_req_t *q, const char *cmd,
                           const char *group)
{
    if (s_group_ok(group))
        return 1;
    s_reply_error(f, q, RZ_EBADREQ,
                  "%s needs a group name of 1-%d printable bytes", cmd,
                  S_GROUP_MAX);
    return 0;
}

static void s_fetch(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__FetchRequest *m = S_UNPACK(ratusz__v1__fetch_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "FETCH body is not a FetchRequest");
        return;
    }
    if (!s_group_checked(f, q, "FETCH", m->group))
        return;
    char why[256], detail[220];
    snprintf(detail, sizeof detail, "group=%.200s", m->group);
    if (rz_access_group(q->principal, m->group, why, sizeof why) < 0) {
        s_deny(f, q, "FETCH", detail, why);
        return;
    }
    Ratusz__V1__ConsumerGroup *g = NULL;
    uint64_t after = m->after_seq;
    const char *prefix = m->topic_prefix;
    int known = rz_store_consumer_get(f->b->store, m->group, &g) == 0;
    s_binding_t *bound = s_binding_find(f, m->group);
    if (known) {
        if (!after)
            after = g->committed_seq;
        if (!*prefix)
            prefix = rz_arena_strndup(a, g->topic_prefix,
                                      strlen(g->topic_prefix));
    }
    if (!*prefix && bound) /* bound a moment ago, not yet committed */
        prefix = rz_arena_strndup(a, bound->prefix, strlen(bound->prefix));
    int remember = !bound && (!known || (*m->topic_prefix &&
                                         !*g->topic_prefix));
    uint64_t lost = g ? g->lost : 0;
    if (g)
        ratusz__v1__consumer_group__free_unpacked(g, NULL);
    if (!prefix) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory");
        return;
    }
    int scope = s_read_scope(f, q, "FETCH", prefix);
    if (scope < 0)
        return;
    if (!known && !bound && s_groups_full(f, q, m->group))
        return;
    if (remember && !atomic_load(&f->b->stopping)) {
        /* Register the group (and its prefix) so CONSUMERS shows it and
         * later fetches without a prefix keep it. Nobody waits for it. */
        rz_job_t *job = calloc(1, sizeof *job);
        if (job) {
            job->kind = RZ_JOB_COMMIT;
            rz_arena_init(&job->arena);
            zmq_msg_init(&job->rid);
            zmq_msg_init(&job->cmd);
            zmq_msg_init(&job->corr);
            zmq_msg_init(&job->body);
            job->group = rz_arena_strndup(&job->arena, m->group,
                                          strlen(m->group));
            job->prefix = rz_arena_strndup(&job->arena, m->topic_prefix,
                                           strlen(m->topic_prefix));
            job->seq = 0;
            if (job->group && job->prefix &&
                s_binding_add(f, m->group, m->topic_prefix) == 0)
                s_queue(f, job);
            else
                s_job_release(f, job);
        }
    }
    uint64_t max = m->max ? m->max : f->b->cfg->replay_chunk;
    if (max > f->b->cfg->replay_chunk * 10)
        max = f->b->cfg->replay_chunk * 10;
    s_collect_t c;
    s_collect_init(&c, f, q, a, scope);
    snprintf(c.detail, sizeof c.detail, "group=%.120s after=%llu topic=%.40s",
             m->group, (unsigned long long)after, prefix);
    c.lost = lost;
    if (after == UINT64_MAX) { /* nothing can follow it */
        s_reply_events(f, q, "FETCH", &c, NULL, 0, 0, 0);
        return;
    }
    uint64_t next = after + 1;
    int rc = rz_store_scan(f->b->store, after + 1, 0, prefix, max, s_collect,
                           &c, &next);
    if (rc < 0) {
        s_reply_error(f, q, rc, "fetch failed: %s", rz_strerror(rc));
        return;
    }
    s_reply_events(f, q, "FETCH", &c, NULL, 0, next, 0);
}

static void s_commit(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__CommitRequest *m = S_UNPACK(ratusz__v1__commit_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "COMMIT body is not a CommitRequest");
        return;
    }
    if (!s_group_checked(f, q, "COMMIT", m->group))
        return;
    char why[256];
    if (rz_access_group(q->principal, m->group, why, sizeof why) < 0) {
        char detail[220];
        snprintf(detail, sizeof detail, "group=%.200s", m->group);
        s_deny(f, q, "COMMIT", detail, why);
        return;
    }
    if (m->seq > rz_store_head(f->b->store)) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "COMMIT seq %llu is past the head of the log",
                      (unsigned long long)m->seq);
        return;
    }
    if (atomic_load(&f->b->stopping)) {
        s_reply_error(f, q, RZ_ESTOPPING, "the broker is shutting down");
        return;
    }
    Ratusz__V1__ConsumerGroup *known = NULL;
    if (rz_store_consumer_get(f->b->store, m->group, &known) == 0)
        ratusz__v1__consumer_group__free_unpacked(known, NULL);
    else if (!s_binding_find(f, m->group) && s_groups_full(f, q, m->group))
        return;
    s_queue_group(f, q, m->group, m->seq, 0);
}

/* A request that would make one more consumer group than max_groups is
 * refused; the reply says how to make room. */
static int s_groups_full(s_front_t *f, s_req_t *q, const char *group)
{
    int64_t n = rz_store_consumer_count(f->b->store);
    if (n < 0 || (uint64_t)n < f->b->cfg->max_groups)
        return 0;
    s_reply_error(f, q, RZ_EBUSY,
                  "consumer group '%.200s' would be one more than max_groups "
                  "(%llu): delete groups nobody uses (ratusz consumers "
                  "delete GROUP)",
                  group, (unsigned long long)f->b->cfg->max_groups);
    return 1;
}

/* GROUP: delete a consumer group, or reset its position (backwards too). */
static void s_group(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__GroupRequest *m = S_UNPACK(ratusz__v1__group_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "GROUP body is not a GroupRequest");
        return;
    }
    if (!s_group_checked(f, q, "GROUP", m->group))
        return;
    int op = !strcmp(m->action, "delete") ? RZ_CONSUMER_DELETE
             : !strcmp(m->action, "reset") ? RZ_CONSUMER_RESET
                                            : 0;
    if (!op) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "GROUP action must be \"delete\" or \"reset\", not "
                      "'%.40s'",
                      m->action);
        return;
    }
    if (op == RZ_CONSUMER_RESET && m->seq > rz_store_head(f->b->store)) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "cannot reset to seq %llu: past the head of the log",
                      (unsigned long long)m->seq);
        return;
    }
    if (atomic_load(&f->b->stopping)) {
        s_reply_error(f, q, RZ_ESTOPPING, "the broker is shutting down");
        return;
    }
    s_queue_group(f, q, m->group, m->seq, op);
}

static void s_consumers(s_front_t *f, s_req_t *q)
{
    Ratusz__V1__ConsumerList *l = NULL;
    int rc = rz_store_consumer_list(f->b->store, &l);
    if (rc < 0) {
        s_reply_error(f, q, rc, "%s", rz_strerror(rc));
        return;
    }
    s_reply_msg(f, q, "CONSUMERS", &l->base);
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
}

const char *rz_broker_status(rz_broker_t *b)
{
    if (atomic_load(&b->stopping))
        return "stopping";
    int full = atomic_load(&b->store_full);
    if (full == 2)
        return "disk-full";
    if (full)
        return "store-full";
    return "ok";
}

static void s_health_fill(rz_broker_t *b, Ratusz__V1__Health *h)
{
    h->status = (char *)rz_broker_status(b);
    h->version = RZ_VERSION;
    h->protocol = RZ_PROTOCOL;
    /* acked events LMDB does not hold yet are in the journal */
    uint64_t stored = rz_store_head(b->store), acked = atomic_load(&b->acked);
    h->head_seq = acked > stored ? acked : stored;
    h->uptime_us = rz_now_us() - b->started_us;
}

/* This process's anonymous resident memory, bytes (0 if unknown). */
static uint64_t s_rss_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8))
            kb = strtoull(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return kb * 1024;
}

/* Stats.retention from the retention runner's figures (none: no rules). */
static void s_retention_stats(rz_broker_t *b, Ratusz__V1__Stats *s)
{
    rz_retention_stat_t *st = NULL;
    size_t n = 0;
    if (rz_retention_stats(b->retention, &st, &n) < 0 || !n)
        return;
    s->retention = calloc(n, sizeof *s->retention);
    for (size_t i = 0; s->retention && i < n; i++) {
        Ratusz__V1__RetentionRule *r = malloc(sizeof *r);
        char *prefix = strdup(st[i].prefix);
        if (!r || !prefix) {
            free(r);
            free(prefix);
            break;
        }
        ratusz__v1__retention_rule__init(r);
        r->prefix = prefix;
        r->max_age_us = st[i].max_age_us;
        r->max_bytes = st[i].max_bytes;
        r->oldest_seq = st[i].oldest_seq;
        r->bytes = st[i].bytes;
        r->removed_events = st[i].removed_events;
        r->removed_bytes = st[i].removed_bytes;
        r->held = st[i].held;
        s->retention[s->n_retention++] = r;
    }
    free(st);
}

/* Stats.pseudonym_index_*: the index's lag behind the log's head. */
static void s_pindex_stats(rz_broker_t *b, Ratusz__V1__Stats *s)
{
    rz_pindex_stat_t st;
    uint64_t mark = 0, head = 0;
    rz_pindex_stats(b->pindex, &st);
    s->pseudonym_indexed_total = st.indexed;
    /* the indexer's own mark: the stored one may trail it (store.h) */
    if (rz_store_pseud_state(b->store, &mark, &head) == 0) {
        if (st.mark > mark)
            mark = st.mark;
        if (head > mark)
            s->pseudonym_index_lag = head - mark;
    }
}

int rz_broker_stats(rz_broker_t *b, Ratusz__V1__Stats *s)
{
    ratusz__v1__stats__init(s);
    int rc = rz_stats_snapshot(b->stats, s);
    if (rc < 0)
        return rc;
    s->health = calloc(1, sizeof *s->health);
    if (s->health) {
        ratusz__v1__health__init(s->health);
        s_health_fill(b, s->health);
    }
    s->memory_budget = rz_config_u64(&b->cfg->memory_budget);
    s->memory_queued = atomic_load(&b->queued_bytes);
    s->memory_resident = s_rss_anon();
    s->handshakes_refused = atomic_load(&b->handshakes_refused);
    s->denied_total = atomic_load(&b->denied);
    s->redacted_total = atomic_load(&b->redacted);
    rz_store_info_t info;
    if (rz_store_info(b->store, &info) == 0) {
        s->store_bytes = info.used_bytes;
        s->map_bytes = info.map_bytes;
    }
    s->map_max_bytes = b->cfg->map_max; /* restart-only: never changes */
    Ratusz__V1__ConsumerList *l = NULL;
    if (rz_store_consumer_list(b->store, &l) == 0) {
        s->n_consumers = l->n_groups;
        s->consumers = l->groups;
        l->n_groups = 0;
        l->groups = NULL;
        ratusz__v1__consumer_list__free_unpacked(l, NULL);
    }
    s_retention_stats(b, s);
    s_pindex_stats(b, s);
    return 0;
}

void rz_broker_stats_free(Ratusz__V1__Stats *s)
{
    free(s->health);
    s->health = NULL;
    for (size_t i = 0; i < s->n_consumers; i++)
        ratusz__v1__consumer_group__free_unpacked(s->consumers[i], NULL);
    free(s->consumers);
    s->consumers = NULL;
    s->n_consumers = 0;
    for (size_t i = 0; i < s->n_retention; i++)
        ratusz__v1__retention_rule__free_unpacked(s->retention[i], NULL);
    free(s->retention);
    s->retention = NULL;
    s->n_retention = 0;
    rz_stats_snapshot_free(s);
}

/* The watches' numbers, for STATS and /metrics. */
static void s_watch_stats(s_front_t *f)
{
    rz_stats_set_watches(f->b->stats, f->watches.n, f->watches.held,
                         f->watches.cutoffs);
}

static void s_stats(s_front_t *f, s_req_t *q)
{
    Ratusz__V1__Stats s;
    s_watch_stats(f);
    if (rz_broker_stats(f->b, &s) < 0) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory");
        return;
    }
    s_reply_msg(f, q, "STATS", &s.base);
    rz_broker_stats_free(&s);
}

/* REPORT: a component's whole state, kept until its next report. */
#define S_REPORT_MAX 65536

static void s_report(s_front_t *f, s_req_t *q)
{
    zmq_msg_t *body = &q->frames[q->cmd_at + 2];
    if (zmq_msg_size(body) > S_REPORT_MAX) {
        s_reply_error(f, q, RZ_ETOOBIG,
                      "REPORT body of %zu bytes (at most %d): send fewer "
                      "metrics or shorter texts",
                      zmq_msg_size(body), S_REPORT_MAX);
        return;
    }
    Ratusz__V1__Component *c = ratusz__v1__component__unpack(
        NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!c) {
        rz_stats_reject(f->b->stats, RZ_EDECODE);
        s_reply_error(f, q, RZ_EDECODE,
                      "REPORT body of %zu bytes is not a Component message",
                      zmq_msg_size(body));
        return;
    }
    char why[640];
    int rc = rz_stats_component_check(c, why, sizeof why);
    if (rc == 0)
        rc = rz_stats_component_body_check(zmq_msg_data(body),
                                           zmq_msg_size(body), why, sizeof why);
    if (rc == 0)
        rc = rz_stats_component(f->b->stats, c->name, zmq_msg_data(body),
                                zmq_msg_size(body), rz_now_us());
    ratusz__v1__component__free_unpacked(c, NULL);
    if (rc < 0) {
        rz_stats_reject(f->b->stats, rc);
        s_reply_error(f, q, rc, "%s", rc == RZ_ENOMEM ? "out of memory" : why);
        return;
    }
    /* the reply tells the component how the broker is */
    Ratusz__V1__Health h = RATUSZ__V1__HEALTH__INIT;
    s_health_fill(f->b, &h);
    s_reply_msg(f, q, "REPORT", &h.base);
}

static void s_health(s_front_t *f, s_req_t *q)
{
    Ratusz__V1__Health h = RATUSZ__V1__HEALTH__INIT;
    s_health_fill(f->b, &h);
    s_reply_msg(f, q, "HEALTH", &h.base);
}

/* Who the connection is; the reply of WHOAMI and RELOAD (cmd, with what
 * the reload changed and what needs a restart). */
static void s_whoami_diff(s_front_t *f, s_req_t *q, const char *cmd,
                          const rz_config_diff_t *diff)
{
    Ratusz__V1__Whoami w;
    rz_access_whoami(q->principal, &w);
    w.security = f->b->curve;
    w.address = q->address;
    if (diff) {
        w.n_changed = diff->n_changed;
        w.changed = diff->changed;
        w.n_restart = diff->n_restart;
        w.restart = diff->restart;
    }
    s_reply_msg(f, q, cmd, &w.base);
}

static void s_whoami(s_front_t *f, s_req_t *q, const char *cmd)
{
    s_whoami_diff(f, q, cmd, NULL);
}

static void s_audit_cmd(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__AuditRequest *m = S_UNPACK(ratusz__v1__audit_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "AUDIT body is not an AuditRequest");
        return;
    }
    /* everything asked before this request is in the answer */
    rz_audit_flush(f->b->audit);
    Ratusz__V1__AuditList *l = NULL;
    int rc = rz_audit_query(f->b->audit, m, &l);
    if (rc < 0) {
        s_reply_error(f, q, rc, "audit query failed: %s", rz_strerror(rc));
        return;
    }
    s_reply_msg(f, q, "AUDIT", &l->base);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
}

static void s_verify(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__VerifyRequest *m = S_UNPACK(ratusz__v1__verify_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "VERIFY body is not a VerifyRequest");
        return;
    }
    Ratusz__V1__VerifyResult r;
    int rc;
    if (!*m->log || !strcmp(m->log, "events")) {
        rc = rz_store_verify(f->b->store, m->from, &r);
        if (rc == 0) {
            s_reply_msg(f, q, "VERIFY", &r.base);
            if (r.reason != protobuf_c_empty_string)
                free(r.reason);
            if (r.invalid_reason != protobuf_c_empty_string)
                free(r.invalid_reason);
        }
    } else if (!strcmp(m->log, "audit")) {
        rz_audit_flush(f->b->audit);
        rc = rz_audit_verify(f->b->audit, m->from, &r);
        if (rc == 0)
            s_reply_msg(f, q, "VERIFY", &r.base);
    } else {
        s_reply_error(f, q, RZ_EBADREQ,
                      "VERIFY log must be \"events\" or \"audit\", not "
                      "'%.40s'",
                      m->log);
        return;
    }
    if (rc < 0)
        s_reply_error(f, q, rc, "verify failed: %s", rz_strerror(rc));
}

/* --------------------------------------------------------------------------
 * BACKUP (backup.h): deferred like a read until LMDB holds every acked
 * event, then copied on a thread of its own; answered when it is done.
 */

static void s_req_close(s_req_t *q);

static void s_backup(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__BackupRequest *m = S_UNPACK(ratusz__v1__backup_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "BACKUP body is not a BackupRequest");
        return;
    }
    if (f->backup) {
        s_reply_error(f, q, RZ_EBUSY, "a backup is running (into %s)",
                      rz_backup_dir(f->backup));
        return;
    }
    if (atomic_load(&f->b->stopping)) {
        s_reply_error(f, q, RZ_ESTOPPING, "the broker is shutting down");
        return;
    }
    s_req_t *kept = malloc(sizeof *kept);
    if (!kept) {
        s_reply_error(f, q, RZ_ENOMEM, "out of memory");
        return;
    }
    char err[512];
    int rc = rz_backup_start(&f->backup, f->b, m->dir, q->acked, s_sigpipe[1],
                             err, sizeof err);
    if (rc < 0) {
        free(kept);
        s_reply_error(f, q, rc, "%s", err);
        return;
    }
    *kept = *q; /* the plain fields; the frames move below */
    for (int i = 0; i < q->nframes; i++) {
        zmq_msg_init(&kept->frames[i]);
        zmq_msg_move(&kept->frames[i], &q->frames[i]);
    }
    f->backup_q = kept;
}

/* Answer the BACKUP once its copy has finished. */
static void s_backup_done(s_front_t *f)
{
    if (!rz_backup_finished(f->backup))
        return;
    Ratusz__V1__BackupResult r;
    const char *err;
    char detail[3100];
    s_req_t *q = f->backup_q;
    int rc = rz_backup_result(f->backup, &r, &err);
    snprintf(detail, sizeof detail, "dir=%s", rz_backup_dir(f->backup));
    if (rc == 0) {
        s_reply_msg(f, q, "BACKUP", &r.base);
        char outcome[96];
        snprintf(outcome, sizeof outcome, "ok: seq 1-%llu",
                 (unsigned long long)r.head_seq);
        s_audit(f, q, "backup", "BACKUP", detail, outcome, r.events, NULL, 0);
    } else {
        s_reply_error(f, q, rc, "backup failed: %s", err);
        s_audit(f, q, "backup", "BACKUP", detail, err, 0, NULL, 0);
    }
    rz_backup_destroy(&f->backup);
    s_req_close(q);
    free(q);
    f->backup_q = NULL;
}

/* --------------------------------------------------------------------------
 * WATCH, CREDIT, UNWATCH: flow-controlled subscriptions (watch.h)
 */

#define S_WATCH_PREFIXES 64

typedef struct s_prefixes {
    char *p[S_WATCH_PREFIXES];
    size_t n;
} s_prefixes_t;

static void s_prefix_add(const char *p, size_t n, void *user)
{
    s_prefixes_t *l = user;
    if (l->n < S_WATCH_PREFIXES)
        l->p[l->n] = strndup(p, n), l->n += l->p[l->n] != NULL;
}

static void s_watch(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    if (q->has_delim) {
        s_reply_error(f, q, RZ_EBADREQ,
                      "WATCH needs a DEALER socket: a REQ socket cannot "
                      "take the pushes that follow the reply");
        return;
    }
    Ratusz__V1__WatchRequest *m = S_UNPACK(ratusz__v1__watch_request, q, a);
    if (!m) {
        s_reply_error(f, q, RZ_EDECODE, "WATCH body is not a WatchRequest");
        return;
    }
    /* a byte prefix of a topic: it may end inside a letter, but holds no
     * control characters (they reach the log and the audit) */
    size_t plen = strlen(m->topic_prefix);
    int controls = 0;
    for (size_t i = 0; i < plen; i++)
        controls |= (uint8_t)m->topic_prefix[i] < 0x20 ||
                    m->topic_prefix[i] == 0x7f;
    if (plen > RZ_TOPIC_MAX || controls) {
        s_reply_error(f, q, RZ_EINVAL,
                      "WATCH topic_prefix is not a topic prefix (at most %d "
                      "bytes, no control characters)",
                      RZ_TOPIC_MAX);
        return;
    }
    s_prefixes_t l = {{NULL}, 0};
    int added = rz_access_subscribe(q->principal, m->topic_prefix, plen,
                                    s_prefix_add, &l);
    if (added <= 0) {
        char why[RZ_PRINCIPAL_MAX + 64];
        snprintf(why, sizeof why, "principal '%s' may not read this prefix",
                 q->principal);
        s_deny(f, q, "WATCH", m->topic_prefix, why);
        return;
    }
    zmq_msg_t *rid = &q->frames[0];
    size_t clen;
    const void *corr = s_corr(q, &clen);
    rz_watch_spec_t spec = {
        zmq_msg_data(rid), zmq_msg_size(rid), corr, clen,
        q->principal, q->address, !rz_access_personal(q->principal),
        l.p, l.n, m->window, f->fanned};
    int64_t win = rz_watches_open(&f->watches, &spec);
    if (win == RZ_EBUSY) {
        s_reply_error(f, q, RZ_EBUSY, "%zu watches are open (max_watchers)",
                      f->watches.max);
    } else if (win < 0) {
        s_reply_error(f, q, (int)win, "cannot open a watch: %s",
                      rz_strerror((int)win));
    } else {
        Ratusz__V1__WatchReply r = RATUSZ__V1__WATCH_REPLY__INIT;
        r.head_seq = f->fanned;
        r.window = (uint64_t)win;
        r.prefixes = l.p;
        r.n_prefixes = l.n;
        r.redacted = spec.redacted;
        s_reply_msg(f, q, "WATCH", &r.base);
        rz_debug("watch of %s at %s: prefix '%s', %zu granted, window %lld, "
                 "from seq %llu",
                 q->principal, q->address, m->topic_prefix, l.n,
                 (long long)win, (unsigned long long)f->fanned);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.p[i]);
}

/* CREDIT has no reply: it only moves the window. */
static void s_credit(s_front_t *f, s_req_t *q, rz_arena_t *a)
{
    Ratusz__V1__Credit *m = S_UNPACK(ratusz__v1__credit, q, a);
    zmq_msg_t *rid = &q->frames[0];
    if (m)
        rz_watches_credit(&f->watches, zmq_msg_data(rid), zmq_msg_size(rid),
                          m->consumed);
}

static void s_unwatch(s_front_t *f, s_req_t *q)
{
    zmq_msg_t *rid = &q->frames[0];
    rz_watches_remove(&f->watches, zmq_msg_data(rid), zmq_msg_size(rid));
    Ratusz__V1__WatchReply r = RATUSZ__V1__WATCH_REPLY__INIT;
    r.head_seq = f->fanned;
    s_reply_msg(f, q, "UNWATCH", &r.base);
}

/* --------------------------------------------------------------------------
 * Dispatch
 */

static int s_cmd_is(zmq_msg_t *m, const char *cmd)
{
    size_t n = strlen(cmd);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), cmd, n) == 0;
}

/* Printable text of a command frame for an error message. */
static void s_printable(zmq_msg_t *m, char *out, size_t len)
{
    const uint8_t *p = zmq_msg_data(m);
    size_t n = zmq_msg_size(m), o = 0;
    for (size_t i = 0; i < n && o + 5 < len; i++)
        o += (size_t)snprintf(out + o, len - o,
                              p[i] >= 0x20 && p[i] < 0x7f ? "%c" : "\\x%02x",
                              p[i]);
    out[o] = '\0';
}

static void s_handle(s_front_t *f, s_req_t *q)
{
    rz_broker_t *b = f->b;
    rz_stats_request(b->stats);
    /* [rid][delim?][cmd][corr][body] */
    q->has_delim = q->nframes > 1 && zmq_msg_size(&q->frames[1]) == 0;
    q->cmd_at = 1 + q->has_delim;
    int parts = q->total - q->cmd_at;
    /* the connection's properties come with the frames read off the wire,
     * not with the routing id the ROUTER made up */
    zmq_msg_t *wire = &q->frames[q->nframes - 1];
    rz_access_principal(wire, q->principal, sizeof q->principal);
    const char *addr = zmq_msg_gets(wire, "Peer-Address");
    snprintf(q->address, sizeof q->address, "%s", addr ? addr : "");
    if (parts != 3) {
        s_reply_error(f, q, RZ_EBADFRAME,
                      "expected 3 frames [command][correlation][body], got %d",
                      parts);
        return;
    }
    zmq_msg_t *cmd = &q->frames[q->cmd_at];
    if (zmq_msg_size(&q->frames[q->cmd_at + 1]) > S_CORR_MAX) {
        s_reply_error(f, q, RZ_EBADFRAME,
                      "correlation frame of %zu bytes (at most %d)",
                      zmq_msg_size(&q->frames[q->cmd_at + 1]), S_CORR_MAX);
        return;
    }
    size_t body_len = zmq_msg_size(&q->frames[q->cmd_at + 2]);
    if (body_len > b->cfg->max_message) {
        s_reply_error(f, q, RZ_ETOOBIG,
                      "body of %zu bytes exceeds max_message (%llu bytes)",
                      body_len, (unsigned long long)b->cfg->max_message);
        return;
    }
    int is_pub = s_cmd_is(cmd, "PUB"), is_pubb = s_cmd_is(cmd, "PUBB");
    if (is_pub || is_pubb) {
        s_publish(f, q, is_pubb);
        return;
    }
    /* admin actions: allowed by the grant, and audited */
    static const struct {
        const char *cmd, *action;
    } admin[] = {{"STATS", "stats"},   {"CONSUMERS", "consumers"},
                 {"REPORT", "report"}, {"AUDIT", "audit"},
                 {"VERIFY", "verify"},  {"RELOAD", "reload"},
                 {"GROUP", "consumers"}, {"BACKUP", "backup"}};
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
        if (!s_cmd_is(cmd, admin[i].cmd))
            continue;
        char why[256];
        if (rz_access_admin(q->principal, admin[i].action, why,
                            sizeof why) < 0) {
            if (!strcmp(admin[i].action, "report")) {
                /* a component without the grant reports every second:
                 * counted, answered, but not one audit record a second */
                atomic_fetch_add(&f->b->denied, 1);
                s_reply_error(f, q, RZ_EDENIED, "%s", why);
            } else {
                s_deny(f, q, admin[i].cmd, "", why);
            }
            return;
        }
        /* a component reporting its own state every second is not an
         * operator's action */
        if (strcmp(admin[i].action, "report") != 0)
            s_audit(f, q, "admin", admin[i].cmd, "", "ok", 0, NULL, 0);
        break;
    }
    rz_arena_t a;
    rz_arena_init(&a);
    if (s_cmd_is(cmd, "GET"))
        s_get(f, q, &a);
    else if (s_cmd_is(cmd, "QUERY"))
        s_query(f, q, &a);
    else if (s_cmd_is(cmd, "REPLAY"))
        s_replay(f, q, &a);
    else if (s_cmd_is(cmd, "FETCH"))
        s_fetch(f, q, &a);
    else if (s_cmd_is(cmd, "COMMIT"))
        s_commit(f, q, &a);
    else if (s_cmd_is(cmd, "CONSUMERS"))
        s_consumers(f, q);
    else if (s_cmd_is(cmd, "STATS"))
        s_stats(f, q);
    else if (s_cmd_is(cmd, "HEALTH"))
        s_health(f, q);
    else if (s_cmd_is(cmd, "REPORT"))
        s_report(f, q);
    else if (s_cmd_is(cmd, "WHOAMI"))
        s_whoami(f, q, "WHOAMI");
    else if (s_cmd_is(cmd, "AUDIT"))
        s_audit_cmd(f, q, &a);
    else if (s_cmd_is(cmd, "VERIFY"))
        s_verify(f, q, &a);
    else if (s_cmd_is(cmd, "RELOAD"))
        s_reload_cmd(f, q);
    else if (s_cmd_is(cmd, "GROUP"))
        s_group(f, q, &a);
    else if (s_cmd_is(cmd, "BACKUP"))
        s_backup(f, q, &a);
    else if (s_cmd_is(cmd, "CREDIT"))
        s_credit(f, q, &a);
    else if (s_cmd_is(cmd, "WATCH"))
        s_watch(f, q, &a);
    else if (s_cmd_is(cmd, "UNWATCH"))
        s_unwatch(f, q);
    else {
        char name[80];
        s_printable(cmd, name, sizeof name);
        s_reply_error(f, q, RZ_EUNKNOWNCMD, "unknown command '%s'", name);
    }
    rz_arena_close(&a);
}

/* Receive one request's frames; returns 0, or -1 when nothing was there. */
static int s_recv_request(s_front_t *f, s_req_t *q)
{
    q->nframes = q->total = 0;
    q->acked = f->fanned;
    int more = 1;
    while (more) {
        zmq_msg_t tmp, *m = q->nframes < S_MAX_FRAMES
                                ? &q->frames[q->nframes]
                                : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, f->front, q->total ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            return q->total ? 0 : -1;
        }
        more = zmq_msg_more(m);
        q->total++;
        if (m == &tmp)
            zmq_msg_close(m);
        else
            q->nframes++;
    }
    return 0;
}

static void s_req_close(s_req_t *q)
{
    for (int i = 0; i < q->nframes; i++)
        zmq_msg_close(&q->frames[i]);
    q->nframes = 0;
}

/* One subscription change applied on a subscriber's behalf. */
typedef struct s_sub_ctx {
    void *sock;
    int option; /* ZMQ_SUBSCRIBE or ZMQ_UNSUBSCRIBE */
} s_sub_ctx_t;

static void s_sub_apply(const char *p, size_t n, void *user)
{
    s_sub_ctx_t *x = user;
    zmq_setsockopt(x->sock, x->option, p, n);
}

/* Subscriptions arrive on an XPUB socket as \x01prefix / \x00prefix. The
 * sockets are in manual mode: a subscription takes effect only when the
 * broker applies it (to the subscriber it came from), so the grants decide
 * what each subscriber receives. The full stream needs personal-data
 * clearance; the redacted one only a read grant. */
static void s_stream_in(s_front_t *f, void *sock, int full)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        const uint8_t *p = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        if (n >= 1 && (p[0] == 1 || p[0] == 0)) {
            s_req_t q; /* principal and address, for the audit */
            rz_access_principal(&m, q.principal, sizeof q.principal);
            const char *addr = zmq_msg_gets(&m, "Peer-Address");
            snprintf(q.address, sizeof q.address, "%s", addr ? addr : "");
            rz_debug("%s %s stream: %zu-byte prefix from %s (%s)",
                     p[0] ? "subscription to" : "unsubscription from",
                     full ? "the full" : "the redacted", n - 1, q.principal,
                     q.address);
            s_sub_ctx_t x = {sock, p[0] ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE};
            const char *prefix = (const char *)p + 1;
            int added = 0;
            if (p[0] && full && !rz_access_personal(q.principal)) {
                added = -1;
            } else {
                added = rz_access_subscribe(q.principal, prefix, n - 1,
                                            s_sub_apply, &x);
            }
            if (p[0] && added > 0) {
                f->subscriptions += added;
                if (full)
                    f->fed = 1;
                else
                    f->fed_red = 1;
            } else if (p[0]) {
                char detail[200], why[RZ_PRINCIPAL_MAX + 120];
                size_t shown = n - 1 > 120 ? 120 : n - 1;
                snprintf(detail, sizeof detail, "stream=%s topic=%.*s",
                         full ? "full" : "redacted", (int)shown, prefix);
                for (char *c = detail; *c; c++)
                    if ((unsigned char)*c < 0x20)
                        *c = '?';
                if (added < 0)
                    snprintf(why, sizeof why,
                             "principal '%s' has no personal-data clearance: "
                             "subscribe to the redacted stream",
                             q.principal);
                else
                    snprintf(why, sizeof why,
                             "principal '%s' may not read this prefix",
                             q.principal);
                atomic_fetch_add(&f->b->denied, 1);
                s_audit(f, &q, "denied", "SUBSCRIBE", detail, why, 0, NULL,
                        0);
                rz_info("subscription refused: %s", why);
            } else if (added > 0 && f->subscriptions >= added) {
                f->subscriptions -= added;
            }
        }
        zmq_msg_close(&m);
    }
    rz_stats_set_subscribers(f->b->stats, (uint64_t)f->subscriptions);
}

/* Whether q reads the log, the indexes or the consumer groups, and so
 * must see every event acked before it came. */
static int s_reads_log(s_req_t *q)
{
    int delim = q->nframes > 1 && zmq_msg_size(&q->frames[1]) == 0;
    if (q->nframes <= 1 + delim)
        return 0;
    zmq_msg_t *cmd = &q->frames[1 + delim];
    static const char *const reads[] = {
        "GET",   "QUERY", "REPLAY",    "FETCH",  "COMMIT",
        "GROUP", "WATCH", "CONSUMERS", "VERIFY", "STATS", "BACKUP"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (s_cmd_is(cmd, reads[i]))
            return 1;
    return 0;
}

/* Keep q (its frames move) when it must wait for the applier: LMDB does
 * not hold every acked event yet, or reads wait already (their order is
 * kept). While the applier is failing, reads are answered from LMDB as it
 * is: the acked events it lacks are safe in the journal. Returns 1 when
 * q was kept. */
static int s_defer(s_front_t *f, s_req_t *q)
{
    uint64_t applied = atomic_load(&f->b->applied);
    if ((!f->deferred && applied >= f->fanned) ||
        atomic_load(&f->b->apply_failing) || !s_reads_log(q))
        return 0;
    s_deferred_t *d = malloc(sizeof *d);
    if (!d)
        return 0; /* answered now, perhaps without the newest events */
    d->next = NULL;
    d->until = f->fanned;
    d->q = *q; /* the plain fields; the frames move below */
    for (int i = 0; i < q->nframes; i++) {
        zmq_msg_init(&d->q.frames[i]);
        zmq_msg_move(&d->q.frames[i], &q->frames[i]);
    }
    if (f->deferred_tail)
        f->deferred_tail->next = d;
    else
        f->deferred = d;
    f->deferred_tail = d;
    f->n_deferred++;
    atomic_store(&f->b->read_waiting, 1); /* the applier: no time to wait */
    return 1;
}

/* Answer the kept reads that LMDB can answer now. */
static void s_deferred_run(s_front_t *f)
{
    while (f->deferred) {
        s_deferred_t *d = f->deferred;
        if (d->until > atomic_load(&f->b->applied) &&
            !atomic_load(&f->b->apply_failing))
            break;
        f->deferred = d->next;
        if (!f->deferred)
            f->deferred_tail = NULL;
        f->n_deferred--;
        s_handle(f, &d->q);
        s_req_close(&d->q);
        free(d);
    }
    if (!f->deferred)
        atomic_store(&f->b->read_waiting, 0);
}

static void s_pipe_in(s_front_t *f)
{
    for (;;) {
        rz_job_t *job = NULL;
        if (zmq_recv(f->pipe, &job, sizeof job, ZMQ_DONTWAIT) !=
            (int)sizeof job)
            break;
        s_job_done(f, job);
    }
}

/* --------------------------------------------------------------------------
 * Life cycle
 */

static void s_on_signal(int sig)
{
    (void)sig;
    rz_server_stop();
}

static void s_on_hup(int sig)
{
    (void)sig;
    int saved = errno;
    if (s_sigpipe[1] >= 0) {
        ssize_t n = write(s_sigpipe[1], "h", 1);
        (void)n;
    }
    errno = saved;
}

void rz_server_stop(void)
{
    int saved = errno;
    if (s_sigpipe[1] >= 0) {
        ssize_t n = write(s_sigpipe[1], "x", 1);
        (void)n;
    }
    errno = saved;
}

/* Memory held per connection inside ZeroMQ is at most (RCVHWM + 1)
 * messages of ZMQ_MAXMSGSIZE: a message up to twice max_message plus 64
 * KiB is read and answered (RZ_ETOOBIG past max_message); a longer one
 * drops the connection. RCVHWM gives each connection at most an eighth of
 * the budget; the rest waits in TCP. Set once, before the bind: ZeroMQ's
 * I/O threads use them from then on, and changing them on a bound socket
 * races with those threads (a reload keeps them; see s_reload). */
static void s_front_limits(s_front_t *f, void *s)
{
    int64_t max = (int64_t)f->b->cfg->max_message * 2 + 65536;
    f->front_max = max;
    uint64_t per = f->b->cfg->memory_budget / 8 / (uint64_t)max;
    int hwm = per < 4 ? 4 : per > 1000 ? 1000 : (int)per;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
}

static void *s_socket(s_front_t *f, int type, const char *endpoint,
                      const char *what)
{
    void *s = zmq_socket(f->b->zctx, type);
    if (!s)
        return NULL;
    int linger = 2000, on = 1, hwm;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_ROUTER) {
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
        s_front_limits(f, s);
        /* replies a client does not read are dropped past this (counted) */
        hwm = 1000;
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    } else {
        /* a subscription is a prefix of a topic; the limit also applies
         * to the handshake's commands (CURVE's INITIATE carries metadata),
         * so it leaves room for those */
        int64_t max = 4096;
        /* A subscriber that does not read holds up to SNDHWM messages of
         * about 200 bytes each inside ZeroMQ (three frames; the event's
         * bytes are shared by every subscriber). The streams get a quarter
         * of the memory budget, spread over up to 256 slow subscribers;
         * past that a subscriber misses events and reads them back from
         * the store (the seq/prev frame tells it). */
        uint64_t cap = f->b->cfg->memory_budget / 4 / 256 / 200;
        hwm = (int)(f->b->cfg->stream_hwm < cap ? f->b->cfg->stream_hwm
                                                 : cap);
        if (hwm < 100)
            hwm = 100;
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
        zmq_setsockopt(s, ZMQ_XPUB_VERBOSER, &on, sizeof on);
        zmq_setsockopt(s, ZMQ_XPUB_MANUAL, &on, sizeof on);
    }
    if (f->b->curve) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, f->b->server_secret, 41);
        zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, what, strlen(what));
    }
    rz_zap_watch(f->zap, s, what);
    /* a stream rebound after a reload may find its port still closing */
    for (int tries = 0;; tries++) {
        if (zmq_bind(s, endpoint) == 0)
            return s;
        if (zmq_errno() != EADDRINUSE || tries == 50)
            break;
        usleep(20000);
    }
    rz_error("cannot listen on %s (%s): %s", endpoint, what,
             zmq_strerror(zmq_errno()));
    zmq_close(s);
    return NULL;
}

/* Backpressure: while the writer holds this many events, or the requests
 * waiting for it this many bytes (a quarter of the memory budget: a job
 * holds its request and the decoded copy of it, and the writer one more
 * copy while it stores it; socket buffers, the streams and replies have
 * the rest), requests stay in the socket and in TCP instead of in the
 * broker's memory. */
static int s_full(const s_front_t *f)
{
    return f->queued_events >= f->b->cfg->max_inflight ||
           f->queued_bytes >= f->b->cfg->memory_budget / 4 ||
           f->n_deferred >= S_DEFER_MAX;
}

/* SIGHUP and RELOAD: build the configuration again from the same command
 * line (the file, then the flags over it), check it whole and parse the
 * principals file it names. If anything fails nothing changes. Else the
 * live values are put in force (config.c names them), and those that need
 * a restart and differ are named and keep their running values. With
 * CURVE the grants are put in force and the streams bound anew, so that
 * every subscriber shakes hands again under them (a revoked key is cut
 * off; the others reconnect and backfill what they missed); watches were
 * granted under the old grants and each watches again. diff gets the
 * lines (close it after). */
/* Retention's settings are live: parse them again from the running
 * configuration (rz_config_check has accepted them) and hand them to its
 * thread. */
static void s_reload_retention(rz_broker_t *b, const rz_config_diff_t *diff,
                               const char *cmd)
{
    int changed = 0;
    for (size_t i = 0; i < diff->n_changed; i++)
        changed |= strncmp(diff->changed[i], "retention", 9) == 0 ||
                    strncmp(diff->changed[i], "dedup_window", 12) == 0;
    if (!changed || !b->retention)
        return;
    char err[512];
    rz_retention_rules_t rules;
    int rc = rz_retention_rules_parse(&rules, b->cfg, err, sizeof err);
    if (rc == 0 && (rc = rz_retention_set_rules(b->retention, &rules)) < 0)
        snprintf(err, sizeof err, "%s", rz_strerror(rc));
    if (rc < 0)
        rz_error("%s: retention keeps its rules: %s", cmd, err);
    else
        rz_info("%s: retention: %zu rules from now on", cmd,
                rz_retention_rule_count(b->retention));
    rz_retention_rules_free(&rules);
}

static int s_reload(s_front_t *f, s_req_t *by, rz_config_diff_t *diff,
                    char *err, size_t err_len)
{
    rz_broker_t *b = f->b;
    rz_config_t *cfg = b->cfg;
    s_req_t sig;
    const char *cmd = by ? "RELOAD" : "SIGHUP";
    if (!by) {
        memset(&sig, 0, sizeof sig);
        snprintf(sig.principal, sizeof sig.principal, "(signal)");
        snprintf(sig.address, sizeof sig.address, "SIGHUP");
        by = &sig;
    }
    memset(diff, 0, sizeof *diff);
    rz_notify_reloading(&f->notify);
    rz_config_t fresh;
    rz_access_grants_t *grants = NULL;
    int principals = 0;
    int rc = rz_config_init(&fresh);
    if (rc < 0)
        snprintf(err, err_len, "out of memory");
    if (rc == 0)
        rc = rz_config_from_args(&fresh, b->argc, b->argv, err, err_len);
    if (rc == 0)
        rc = rz_config_check(&fresh, err, err_len);
    if (rc == 0 && b->curve && *fresh.principals) {
        principals = rz_access_parse(fresh.principals, &grants, err, err_len);
        rc = principals < 0 ? principals : 0;
    }
    if (rc == 0)
        rc = rz_config_reload(cfg, &fresh, diff, err, err_len);
    rz_config_close(&fresh); /* the replaced values */
    if (rc < 0) {
        rz_access_grants_destroy(&grants);
        rz_error("%s: the configuration was not reloaded, everything stays "
                 "as it runs: %s",
                 cmd, err);
        s_audit(f, by, "reload-failed", cmd, cfg->principals, err, 0, NULL, 0);
        rz_notify_reloaded(&f->notify);
        return rc;
    }
    rz_log_set_level(cfg->log_level);
    rzc_log_set_format(cfg->log_format);
    rz_audit_set_retention(b->audit,
                           cfg->audit_retention_days * UINT64_C(86400000000));
    if ((int64_t)cfg->max_message * 2 + 65536 > f->front_max)
        rz_warn("%s: max_message %llu is over what the front socket was "
                "bound for: ZeroMQ drops requests over %lld bytes (closing "
                "the connection) until a restart",
                cmd, (unsigned long long)cfg->max_message,
                (long long)f->front_max);
    f->watches.max = cfg->max_watchers;
    f->watches.window_max = cfg->watch_window;
    f->watches.held_max = cfg->memory_budget / 4;
    s_reload_retention(b, diff, cmd);
    for (size_t i = 0; i < diff->n_changed; i++)
        rz_info("%s: %s", cmd, diff->changed[i]);
    for (size_t i = 0; i < diff->n_restart; i++)
        rz_warn("%s: %s", cmd, diff->restart[i]);
    char summary[128];
    snprintf(summary, sizeof summary,
             "%zu setting(s) changed, %zu need a restart", diff->n_changed,
             diff->n_restart);
    if (b->curve) {
        rz_access_install(&grants);
        rz_info("%s: %d principals loaded from %s; %s", cmd, principals,
                cfg->principals, summary);
    } else {
        rz_info("%s: configuration reloaded: %s", cmd, summary);
    }
    s_audit(f, by, "reload", cmd, cfg->principals, summary, 0, NULL, 0);
    if (b->curve) {
        zmq_close(f->stream);
        f->stream = s_socket(f, ZMQ_XPUB, cfg->stream, "stream");
        if (f->stream_red) {
            zmq_close(f->stream_red);
            f->stream_red =
                s_socket(f, ZMQ_XPUB, cfg->stream_redacted, "stream-redacted");
        }
        f->subscriptions = 0;
        rz_watches_close(&f->watches, "reload");
        rz_watches_init(&f->watches, f->front, cfg->max_watchers,
                        cfg->watch_window, cfg->memory_budget / 4);
        if (!f->stream || (*cfg->stream_redacted && !f->stream_red)) {
            rz_error("%s: cannot listen on the streams again: stopping", cmd);
            atomic_store(&b->stopping, 1);
        }
    }
    rz_notify_reloaded(&f->notify);
    return 0;
}

/* RELOAD: the same as SIGHUP, asked by a principal with the grant. The
 * reply tells the caller who it now is, what changed and what needs a
 * restart; a bad file is ERR RZ_ECONFIG with FILE:LINE. */
static void s_reload_cmd(s_front_t *f, s_req_t *q)
{
    char err[512];
    rz_config_diff_t diff;
    if (s_reload(f, q, &diff, err, sizeof err) < 0) {
        s_reply_error(f, q, RZ_ECONFIG, "%s", err);
        return;
    }
    s_whoami_diff(f, q, "RELOAD", &diff);
    rz_config_diff_close(&diff);
}

int rz_server_run(rz_broker_t *b)
{
    s_front_t f = {.b = b};
    int rc = -1;
    if (pipe2(s_sigpipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    f.pipe = zmq_socket(b->zctx, ZMQ_PAIR);
    int hwm = 0;
    zmq_setsockopt(f.pipe, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f.pipe, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(f.pipe, RZ_WRITER_ENDPOINT) < 0)
        goto out;
    /* with sync: os the writer acks what LMDB holds: no read waits */
    atomic_store(&b->applied,
                 b->journal ? rz_store_head(b->store) : UINT64_MAX);
    atomic_store(&b->acked, rz_store_head(b->store));
    if (pthread_create(&b->writer, NULL, rz_writer_main, b) != 0)
        goto out;
    if (rz_zap_start(&f.zap, b) < 0)
        goto stop_writer;
    f.front = s_socket(&f, ZMQ_ROUTER, b->cfg->listen, "front");
    f.stream = s_socket(&f, ZMQ_XPUB, b->cfg->stream, "stream");
    if (*b->cfg->stream_redacted)
        f.stream_red = s_socket(&f, ZMQ_XPUB, b->cfg->stream_redacted,
                                "stream-redacted");
    if (!f.front || !f.stream ||
        (*b->cfg->stream_redacted && !f.stream_red))
        goto stop_writer;
    /* the watches share a quarter of the budget with the streams' queues */
    rz_watches_init(&f.watches, f.front, b->cfg->max_watchers,
                    b->cfg->watch_window, b->cfg->memory_budget / 4);
    f.fanned = rz_store_head(b->store);
    rz_notify_init(&f.notify);
    rz_info("ratuszd %s ready: front %s, stream %s%s%s, data %s (sync %s, "
            "%s)",
            RZ_VERSION, b->cfg->listen, b->cfg->stream,
            f.stream_red ? ", redacted stream " : "",
            f.stream_red ? b->cfg->stream_redacted : "", b->cfg->data_dir,
            b->cfg->sync == RZ_SYNC_FULL ? "full" : "os",
            b->curve ? "CURVE with grants" : "no authentication");
    /* the store is open, the journal replayed, the sockets bound */
    rz_notify_ready(&f.notify, b, 0);

    int64_t next_tick = rz_now_us() + RZ_STATS_TICK_US;
    int wait_ms = 1000;
    for (;;) {
        int stopping = atomic_load(&b->stopping);
        if (stopping && f.queued_jobs == 0 && !f.deferred && !f.backup)
            break;
        /* Backpressure: while the writer is this far behind, leave
         * requests in the socket (and TCP) instead of queueing more. While
         * stopping, requests are still answered: publishes and commits with
         * RZ_ESTOPPING, reads as usual, HEALTH with "stopping". */
        int take = !s_full(&f);
        zmq_pollitem_t items[] = {
            {f.pipe, 0, ZMQ_POLLIN, 0},
            {f.stream, 0, ZMQ_POLLIN, 0},
            {NULL, s_sigpipe[0], ZMQ_POLLIN, 0},
            {f.stream_red, 0, ZMQ_POLLIN, 0},
            {f.front, 0, ZMQ_POLLIN, 0},
        };
        /* without a redacted stream its slot polls nothing */
        if (!f.stream_red)
            items[3] = (zmq_pollitem_t){NULL, -1, 0, 0};
        /* kept reads wait for the applier, which does not wake us */
        f.busy = take && s_front_waiting(&f);
        int n = zmq_poll(items, take ? 5 : 4, f.deferred ? 1 : wait_ms);
        if (n < 0 && zmq_errno() != EINTR) {
            rz_error("poll failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            char buf[16];
            ssize_t got;
            int stop = 0, hup = 0;
            while ((got = read(s_sigpipe[0], buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < got; i++)
                    if (buf[i] == 'h')
                        hup = 1;
                    else if (buf[i] != 'b') /* 'b': a backup finished */
                        stop = 1;
            if (stop && !stopping) {
                rz_info("stopping: committing and acking %zu queued events",
                        f.queued_events);
                rz_notify_stopping(&f.notify, "committing queued events");
            }
            if (stop)
                atomic_store(&b->stopping, 1);
            char err[512];
            rz_config_diff_t diff;
            if (hup && !stop && s_reload(&f, NULL, &diff, err, sizeof err) == 0)
                rz_config_diff_close(&diff);
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_pipe_in(&f);
        if (items[1].revents & ZMQ_POLLIN)
            s_stream_in(&f, f.stream, 1);
        if (f.stream_red && (items[3].revents & ZMQ_POLLIN))
            s_stream_in(&f, f.stream_red, 0);
        if (take && (items[4].revents & ZMQ_POLLIN)) {
            /* A bounded burst, so acks and fan-out keep flowing. */
            for (int i = 0; i < 256; i++) {
                s_req_t q;
                if (s_recv_request(&f, &q) < 0)
                    break;
                if (!s_defer(&f, &q))
                    s_handle(&f, &q);
                s_req_close(&q);
                if (s_full(&f))
                    break;
            }
        }
        s_here_run(&f);
        s_deferred_run(&f);
        s_here_run(&f);
        s_backup_done(&f);
        int64_t now = rz_now_us();
        s_watch_stats(&f);
        if (now >= next_tick) {
            rz_stats_tick(b->stats, now);
            next_tick = now + RZ_STATS_TICK_US;
        }
        wait_ms = rz_notify_tick(&f.notify, b,
                                 (uint64_t)f.subscriptions + f.watches.n);
    }
    rc = 0;
stop_writer: {
    s_here_run(&f);
    rz_job_t *stop = NULL;
    zmq_send(f.pipe, &stop, sizeof stop, 0);
    pthread_join(b->writer, NULL);
    /* Jobs the writer finished while it was being stopped. */
    s_pipe_in(&f);
}
out:
    rz_backup_destroy(&f.backup); /* the loop failed: wait for the copy */
    if (f.backup_q) {
        s_req_close(f.backup_q);
        free(f.backup_q);
    }
    free(f.here);
    while (f.n_job_pool) { /* their messages closed when they came back */
        rz_job_t *job = f.job_pool[--f.n_job_pool];
        rz_arena_close(&job->arena);
        free(job);
    }
    while (f.deferred) { /* the loop failed: nobody answers them */
        s_deferred_t *d = f.deferred;
        f.deferred = d->next;
        s_req_close(&d->q);
        free(d);
    }
    rz_watches_close(&f.watches, "stopping");
    if (f.front)
        zmq_close(f.front);
    if (f.stream)
        zmq_close(f.stream);
    if (f.stream_red)
        zmq_close(f.stream_red);
    rz_zap_stop(&f.zap);
    if (f.pipe)
        zmq_close(f.pipe);
    close(s_sigpipe[0]);
    close(s_sigpipe[1]);
    s_sigpipe[0] = s_sigpipe[1] = -1;
    if (f.dropped_replies)
        rz_warn("%llu replies were dropped for clients that did not read them",
                (unsigned long long)f.dropped_replies);
    return rc;
}
