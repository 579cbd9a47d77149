/* in.c - inbound: a Kafka consumer group whose records are published to
 * the broker, each partition's offset committed only behind the broker's
 * acks.
 *
 * Every record read takes a slot in a ring, in the order it was read (a
 * partition's records in offset order, partitions interleaved). A slot is
 * done when the broker acked its event (a duplicate counts: the broker
 * already has it) or when the record went to the quarantine. A
 * partition's committable offset is that of its oldest slot not done, or
 * one past its newest when all are done; the ring is scanned for it every
 * commit_interval. A publish that failed for a reason that may pass (the
 * broker timed out, is stopping, is full) makes the bridge rewind: it
 * waits for every outstanding ack, commits what is safe, and seeks each
 * partition back to its oldest record not done. Records the broker already
 * has come back as duplicates and change nothing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

enum { S_PENDING = 0, S_DONE = 1, S_RETRY = 2 };

typedef struct s_rec {
    uint64_t ticket;
    int part; /* index into parts */
    int64_t offset;
    int state;
    int64_t sent_us;
    rd_kafka_message_t *msg; /* kept until the ack: a rejected event is
                                quarantined with its original bytes */
} s_rec_t;

typedef struct s_part {
    char *topic;
    int32_t partition;
    int assigned;
    int64_t committed;     /* what Kafka has (-1: nothing yet) */
    int64_t commit_to;     /* what may be committed now (-1: nothing) */
    int64_t first_pending; /* scan scratch */
    int64_t last;
} s_part_t;

typedef struct s_in {
    const rzk_conf_t *c;
    rz_client_t *bc;
    rd_kafka_t *rk;
    rzk_quarantine_t *q;

    s_rec_t *ring;
    uint64_t mask, head, tail;
    s_part_t *parts;
    int nparts, partcap;

    int rewinding;
    int closed; /* left the group: destroy without closing again */
    int64_t last_commit_us;

    uint64_t n_consumed, n_published, n_duplicates, n_quarantined, n_errors,
        n_rewinds, published_at_report;
    rzk_hist_t lat;

    char kafka_err[256];
    int64_t kafka_err_us;
    char broker_err[256];
    int64_t broker_err_us;
} s_in_t;

static int s_part_find(s_in_t *in, const char *topic, int32_t partition)
{
    for (int i = 0; i < in->nparts; i++)
        if (in->parts[i].partition == partition &&
            !strcmp(in->parts[i].topic, topic))
            return i;
    if (in->nparts == in->partcap) {
        int cap = in->partcap ? in->partcap * 2 : 16;
        s_part_t *p = realloc(in->parts, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        in->parts = p;
        in->partcap = cap;
    }
    s_part_t *p = &in->parts[in->nparts];
    memset(p, 0, sizeof *p);
    p->topic = strdup(topic);
    if (!p->topic)
        return -1;
    p->partition = partition;
    p->committed = -1;
    p->commit_to = -1;
    return in->nparts++;
}

/* ===========================================================================
 * Quarantine
 */

/* The record as the mapping and the quarantine see it; hs is filled from
 * the message's headers (up to hcap). */
static void s_view(const rd_kafka_message_t *m, rzk_in_t *v, rzk_header_t *hs,
                   size_t hcap)
{
    memset(v, 0, sizeof *v);
    v->key = m->key;
    v->key_len = m->key_len;
    v->value = m->payload;
    v->value_len = m->len;
    rd_kafka_headers_t *h = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0;
             n < hcap && rd_kafka_header_get_all(h, i, &name, &val, &size) ==
                             RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            hs[n].name = name;
            hs[n].value = val;
            hs[n].len = size;
            n++;
        }
    }
    v->headers = hs;
    v->n_headers = n;
}

#define S_HEADERS_MAX 64

/* Keep m in the quarantine. Returns 0, or a negative code when it could
 * not be kept (then it is not done: the bridge stops short of it). */
static int s_quarantine(s_in_t *in, const rd_kafka_message_t *m,
                        const char *why)
{
    rzk_header_t hs[S_HEADERS_MAX];
    rzk_in_t v;
    s_view(m, &v, hs, S_HEADERS_MAX);
    const char *topic = rd_kafka_topic_name(m->rkt);
    int rc = rzk_quarantine_put(in->q, topic, m->partition, m->offset, &v, why);
    if (rc < 0) {
        rzc_log(RZC_LOG_ERROR,
                "%s [%d] @%" PRId64 ": %s; quarantine failed: %s", topic,
                (int)m->partition, m->offset, why, rz_strerror(rc));
        return rc;
    }
    if (rc == 1) {
        in->n_quarantined++;
        rzc_log(RZC_LOG_WARN, "%s [%d] @%" PRId64 " quarantined: %s", topic,
                (int)m->partition, m->offset, why);
    }
    return 0;
}

/* ===========================================================================
 * Acks
 */

static int s_rejection(int code)
{
    /* the event itself is wrong or not allowed: sending it again cannot
     * help */
    return code == RZ_EINVALEVENT || code == RZ_EDENIED || code == RZ_ETOOBIG ||
           code == RZ_EDECODE || code == RZ_EBADREQ;
}

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_in_t *in = user;
    uint64_t ticket = (uint64_t)(uintptr_t)a->arg;
    s_rec_t *r = &in->ring[ticket & in->mask];
    if (r->ticket != ticket || ticket < in->tail || ticket >= in->head)
        return;
    if (a->code == 0) {
        r->state = S_DONE;
        in->n_published++;
        if (a->duplicate)
            in->n_duplicates++;
        rzk_hist_add(&in->lat, (double)(rz_now_us() - r->sent_us));
    } else if (s_rejection(a->code) && r->msg) {
        char why[512];
        snprintf(why, sizeof why, "broker rejected the event: %s: %s",
                 rz_err_name(a->code), a->reason ? a->reason : "");
        r->state = s_quarantine(in, r->msg, why) == 0 ? S_DONE : S_RETRY;
    } else {
        r->state = S_RETRY;
        in->n_errors++;
        snprintf(in->broker_err, sizeof in->broker_err, "publish: %s: %s",
                 rz_err_name(a->code), a->reason ? a->reason : "");
        in->broker_err_us = rz_now_us();
        if (!in->rewinding)
            rzc_log(RZC_LOG_WARN,
                    "%s; reading again from the oldest record "
                    "not acked",
                    in->broker_err);
        in->rewinding = 1;
    }
    if (r->state == S_DONE && r->msg) {
        rd_kafka_message_destroy(r->msg);
        r->msg = NULL;
    }
}

/* ===========================================================================
 * Positions
 */

/* Each partition's committable offset; pops done slots off the tail. */
static void s_scan(s_in_t *in)
{
    for (int i = 0; i < in->nparts; i++) {
        in->parts[i].first_pending = -1;
        in->parts[i].last = -1;
    }
    for (uint64_t t = in->tail; t < in->head; t++) {
        s_rec_t *r = &in->ring[t & in->mask];
        s_part_t *p = &in->parts[r->part];
        if (r->state != S_DONE && p->first_pending < 0)
            p->first_pending = r->offset;
        p->last = r->offset;
    }
    for (int i = 0; i < in->nparts; i++) {
        s_part_t *p = &in->parts[i];
        if (p->last < 0)
            continue;
        int64_t to = p->first_pending >= 0 ? p->first_pending : p->last + 1;
        if (to > p->commit_to)
            p->commit_to = to;
    }
    while (in->tail < in->head && in->ring[in->tail & in->mask].state == S_DONE)
        in->tail++;
}

static void s_commit(s_in_t *in, int sync)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(in->nparts ? in->nparts : 1);
    for (int i = 0; i < in->nparts; i++) {
        s_part_t *p = &in->parts[i];
        if (p->assigned && p->commit_to > p->committed)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                ->offset = p->commit_to;
    }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, l, !sync);
        if (err) {
            snprintf(in->kafka_err, sizeof in->kafka_err, "commit: %s",
                     rd_kafka_err2str(err));
            in->kafka_err_us = rz_now_us();
        } else if (sync) {
            for (int i = 0; i < l->cnt; i++) {
                int k =
                    s_part_find(in, l->elems[i].topic, l->elems[i].partition);
                if (k >= 0 && !l->elems[i].err)
                    in->parts[k].committed = l->elems[i].offset;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    in->last_commit_us = rz_now_us();
}

static void s_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    s_in_t *in = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        snprintf(in->kafka_err, sizeof in->kafka_err, "commit: %s",
                 rd_kafka_err2str(err));
        in->kafka_err_us = rz_now_us();
        return;
    }
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        if (offsets->elems[i].err || offsets->elems[i].offset < 0)
            continue;
        int k = s_part_find(in, offsets->elems[i].topic,
                            offsets->elems[i].partition);
        if (k >= 0 && offsets->elems[i].offset > in->parts[k].committed)
            in->parts[k].committed = offsets->elems[i].offset;
    }
}

/* Forget every slot (after a flush), releasing the kept messages. */
static void s_drop_all(s_in_t *in)
{
    for (uint64_t t = in->tail; t < in->head; t++) {
        s_rec_t *r = &in->ring[t & in->mask];
        if (r->msg)
            rd_kafka_message_destroy(r->msg);
        r->msg = NULL;
    }
    in->tail = in->head;
}

/* Wait for every outstanding ack, commit what is safe. Returns 0 when
 * every ack arrived. */
static int s_settle(s_in_t *in)
{
    int rc = rz_flush(in->bc, (int)in->c->timeout);
    s_scan(in);
    s_commit(in, 1);
    return rc;
}

/* A publish failed for a passing reason: start each partition again at
 * its oldest record not done. */
static void s_rewind(s_in_t *in)
{
    s_settle(in);
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(in->nparts ? in->nparts : 1);
    for (int i = 0; i < in->nparts; i++) {
        s_part_t *p = &in->parts[i];
        if (p->assigned && p->first_pending >= 0)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                ->offset = p->first_pending;
    }
    s_drop_all(in);
    if (l->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, l, 5000);
        if (e) {
            rzc_log(RZC_LOG_ERROR, "seek: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    in->rewinding = 0;
    in->n_rewinds++;
}

static void s_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    s_in_t *in = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int k = s_part_find(in, parts->elems[i].topic,
                                parts->elems[i].partition);
            if (k >= 0) {
                in->parts[k].assigned = 1;
                in->parts[k].committed = -1;
                in->parts[k].commit_to = -1;
            }
        }
        /* the group's offsets, as the base of the lag */
        rd_kafka_topic_partition_list_t *c =
            rd_kafka_topic_partition_list_copy(parts);
        if (rd_kafka_committed(rk, c, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            for (int i = 0; i < c->cnt; i++) {
                int k =
                    s_part_find(in, c->elems[i].topic, c->elems[i].partition);
                if (k >= 0 && c->elems[i].offset >= 0)
                    in->parts[k].committed = in->parts[k].commit_to =
                        c->elems[i].offset;
            }
        rd_kafka_topic_partition_list_destroy(c);
        rzc_log(RZC_LOG_INFO, "assigned %d partition(s)", parts->cnt);
        rd_kafka_assign(rk, parts);
    } else {
        /* finish what was read from them before letting them go */
        s_settle(in);
        s_drop_all(in);
        for (int i = 0; i < parts->cnt; i++) {
            int k = s_part_find(in, parts->elems[i].topic,
                                parts->elems[i].partition);
            if (k >= 0)
                in->parts[k].assigned = 0;
        }
        rzc_log(RZC_LOG_INFO, "revoked %d partition(s)", parts->cnt);
        rd_kafka_assign(rk, NULL);
    }
}

static void s_on_error(rd_kafka_t *rk, int err, const char *reason,
                       void *opaque)
{
    (void)rk;
    (void)err;
    s_in_t *in = opaque;
    snprintf(in->kafka_err, sizeof in->kafka_err, "%s", reason);
    in->kafka_err_us = rz_now_us();
    rzc_log(RZC_LOG_WARN, "kafka: %s", reason);
}

/* ===========================================================================
 * One record
 */

static void s_consume(s_in_t *in, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int part = s_part_find(in, topic, m->partition);
    if (part < 0) {
        rzc_log(RZC_LOG_ERROR, "out of memory");
        rd_kafka_message_destroy(m);
        in->rewinding = 1;
        return;
    }
    uint64_t ticket = in->head++;
    s_rec_t *r = &in->ring[ticket & in->mask];
    r->ticket = ticket;
    r->part = part;
    r->offset = m->offset;
    r->state = S_PENDING;
    r->msg = NULL;
    r->sent_us = rz_now_us();
    in->n_consumed++;

    rzk_header_t hs[S_HEADERS_MAX];
    rzk_in_t v;
    s_view(m, &v, hs, S_HEADERS_MAX);
    Ratusz__V1__Event *ev = NULL;
    char why[512];
    if (rzk_in_map(&v, &ev, why, sizeof why) < 0) {
        r->state = s_quarantine(in, m, why) == 0 ? S_DONE : S_RETRY;
        if (r->state == S_RETRY)
            in->rewinding = 1;
        rd_kafka_message_destroy(m);
        return;
    }
    r->msg = m;
    for (;;) {
        int rc = rz_publish(in->bc, ev, (void *)(uintptr_t)ticket);
        if (rc == 0)
            break;
        if (rc == RZ_ETIMEDOUT) {
            /* no window space: the broker is away; keep the order, wait */
            snprintf(in->broker_err, sizeof in->broker_err, "publish: %s",
                     rz_strerror(rc));
            in->broker_err_us = rz_now_us();
            rzc_log(RZC_LOG_WARN, "broker %s: %s; waiting", in->c->broker,
                    rz_strerror(rc));
            if (in->rewinding)
                break; /* the ack of an earlier one failed: rewind first */
            continue;
        }
        snprintf(why, sizeof why, "cannot publish: %s", rz_strerror(rc));
        r->state = s_quarantine(in, m, why) == 0 ? S_DONE : S_RETRY;
        if (r->state == S_DONE) {
            rd_kafka_message_destroy(m);
            r->msg = NULL;
        }
        break;
    }
    rz_event_free(ev);
}

/* ===========================================================================
 * Report
 */

static void s_report(s_in_t *in, rzk_report_t *rep, int force)
{
    int64_t now = rz_now_us();
    if (!force && now - rep->last < (int64_t)in->c->report_interval * 1000)
        return;
    double secs = rep->last ? (double)(now - rep->last) / 1e6 : 1.0;
    int64_t lag = 0;
    int assigned = 0;
    for (int i = 0; i < in->nparts; i++) {
        s_part_t *p = &in->parts[i];
        if (!p->assigned)
            continue;
        assigned++;
        int64_t lo = 0, hi = 0;
        if (rd_kafka_get_watermark_offsets(in->rk, p->topic, p->partition, &lo,
                                           &hi) != 0 ||
            hi < 0)
            continue;
        int64_t base = p->committed >= 0 ? p->committed : lo;
        if (hi > base)
            lag += hi - base;
    }
    double rate =
        secs > 0 ? (double)(in->n_published - in->published_at_report) / secs
                 : 0;
    in->published_at_report = in->n_published;
    rzk_report_metric(rep, 0, "events_consumed", (double)in->n_consumed, 1,
                      "records read from Kafka (re-reads included)");
    rzk_report_metric(rep, 1, "events_published", (double)in->n_published, 1,
                      "events the broker acked (duplicates included)");
    rzk_report_metric(rep, 2, "duplicates", (double)in->n_duplicates, 1,
                      "events the broker already had");
    rzk_report_metric(rep, 3, "quarantined", (double)in->n_quarantined, 1,
                      "records that do not map to an event, kept aside");
    rzk_report_metric(rep, 4, "publish_errors", (double)in->n_errors, 1,
                      "publishes that failed and were read again");
    rzk_report_metric(rep, 5, "rewinds", (double)in->n_rewinds, 1,
                      "times partitions were read again from the oldest "
                      "record not acked");
    rzk_report_metric(rep, 6, "kafka_lag", (double)lag, 0,
                      "high watermark - committed offset, summed over the "
                      "assigned partitions");
    rzk_report_metric(rep, 7, "broker_inflight", (double)rz_inflight(in->bc), 0,
                      "events published, not yet acked by the broker");
    rzk_report_metric(rep, 8, "publish_rate", rate, 0,
                      "events acked per second since the last report");
    rzk_report_metric(rep, 9, "partitions", (double)assigned, 0,
                      "Kafka partitions assigned to this bridge");
    rep->hist = &in->lat;
    rep->hist_name = "publish_latency_us";
    char status[300] = "ok", detail[300];
    if (in->broker_err_us && now - in->broker_err_us < 10 * INT64_C(1000000))
        snprintf(status, sizeof status, "broker: %.250s", in->broker_err);
    else if (in->kafka_err_us && now - in->kafka_err_us < 10 * INT64_C(1000000))
        snprintf(status, sizeof status, "kafka: %.250s", in->kafka_err);
    snprintf(detail, sizeof detail,
             "kafka %s (%zu topic%s, %d partitions) -> broker, lag %" PRId64
             ", %.0f/s",
             in->c->topics.n ? in->c->topics.items[0] : "", in->c->topics.n,
             in->c->topics.n == 1 ? "" : "s", assigned, lag, rate);
    rzk_report_send(rep, in->c, status, detail, 1);
}

/* ===========================================================================
 * The loop
 */

/* Leave the group, but for a few seconds at most: everything safe is
 * committed already, and a coordinator that does not answer (or a
 * rebalance waiting for a dead member) must not keep the bridge from
 * stopping. */
static void s_close(s_in_t *in)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(in->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(in->rk, q);
    if (e) {
        rzc_log(RZC_LOG_WARN, "leaving the group: %s",
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        int64_t deadline = rz_now_us() + 5 * INT64_C(1000000);
        while (!rd_kafka_consumer_closed(in->rk) && rz_now_us() < deadline) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (!ev)
                continue;
            /* the rebalance callback is not called on this path: let the
             * partitions go here */
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                rd_kafka_assign(in->rk, NULL);
            rd_kafka_event_destroy(ev);
        }
        if (!rd_kafka_consumer_closed(in->rk))
            rzc_log(RZC_LOG_WARN, "the group coordinator did not answer in "
                                  "time; leaving without it");
    }
    rd_kafka_queue_destroy(q);
    in->closed = 1;
}

int rzk_run_in(const rzk_conf_t *c, volatile sig_atomic_t *stop)
{
    s_in_t in;
    rzk_report_t rep;
    char err[512];
    int rc = 0;
    memset(&in, 0, sizeof in);
    memset(&rep, 0, sizeof rep);
    in.c = c;
    uint64_t cap = 1;
    while (cap < 4 * c->window)
        cap <<= 1;
    in.ring = calloc(cap, sizeof *in.ring);
    in.mask = cap - 1;
    rz_client_opts_t co = {.window = (uint32_t)c->window,
                           .batch = (uint32_t)c->batch,
                           .timeout_ms = (int)c->timeout};
    rz_keyopts_apply(c->keys, &co);
    in.bc = rz_client_new(c->broker, &co);
    rd_kafka_conf_t *kc = NULL;
    in.q = rzk_quarantine_open(c->data_dir, err, sizeof err);
    if (!in.q) {
        rzc_log(RZC_LOG_ERROR, "quarantine: %s", err);
        rc = RZ_ESTORE;
        goto done;
    }
    if (!in.ring || !in.bc || rzk_report_init(&rep, c) < 0) {
        rc = RZ_ENOMEM;
        goto done;
    }
    rz_client_set_ack_cb(in.bc, s_on_ack, &in);
    kc = rzk_kafka_conf(c, err, sizeof err);
    if (!kc) {
        rzc_log(RZC_LOG_ERROR, "%s", err);
        rc = RZ_ECONFIG;
        goto done;
    }
    rd_kafka_conf_set_opaque(kc, &in);
    rd_kafka_conf_set_rebalance_cb(kc, s_on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(kc, s_on_commit);
    rd_kafka_conf_set_error_cb(kc, s_on_error);
    in.rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!in.rk) {
        rzc_log(RZC_LOG_ERROR, "kafka consumer: %s", err);
        rc = RZ_ECONFIG;
        goto done;
    }
    kc = NULL; /* the handle owns it */
    rd_kafka_poll_set_consumer(in.rk);
    rd_kafka_topic_partition_list_t *subs =
        rd_kafka_topic_partition_list_new((int)c->topics.n);
    for (size_t i = 0; i < c->topics.n; i++)
        rd_kafka_topic_partition_list_add(subs, c->topics.items[i],
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(in.rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (kerr) {
        rzc_log(RZC_LOG_ERROR, "subscribe: %s", rd_kafka_err2str(kerr));
        rc = RZ_ECONFIG;
        goto done;
    }
    rzc_log(RZC_LOG_INFO, "%s: kafka topics %s%s -> broker %s", c->name,
            c->topics.items[0], c->topics.n > 1 ? ", ..." : "", c->broker);

    unsigned turns = 0;
    while (!*stop) {
        if (in.rewinding)
            s_rewind(&in);
        if (in.head - in.tail >= in.mask) {
            /* the ring is full (records done behind one whose ack is
             * slow): read nothing more until it moves or fails */
            rz_pump(in.bc, 100);
            s_scan(&in);
            continue;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in.rk, 0);
        if (!m) {
            /* nothing to read: send what is batched, collect acks */
            rz_pump(in.bc, 0);
            m = rd_kafka_consumer_poll(in.rk, 20);
        }
        if (m && m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(in.kafka_err, sizeof in.kafka_err, "%s",
                         rd_kafka_message_errstr(m));
                in.kafka_err_us = rz_now_us();
                rzc_log(RZC_LOG_WARN, "kafka: %s", in.kafka_err);
            }
            rd_kafka_message_destroy(m);
        } else if (m) {
            s_consume(&in, m);
        }
        /* collect acks now and then; rz_publish also does when its
         * window is full, and an idle turn above always does */
        if (++turns % 128 == 0)
            rz_pump(in.bc, 0);
        int64_t now = rz_now_us();
        if (now - in.last_commit_us >= (int64_t)c->commit_interval * 1000) {
            s_scan(&in);
            s_commit(&in, 0);
        }
        s_report(&in, &rep, 0);
    }

    rzc_log(RZC_LOG_INFO, "stopping: %zu events in flight", rz_inflight(in.bc));
    s_settle(&in);
    s_report(&in, &rep, 1);
    s_close(&in);
    rzc_log(RZC_LOG_INFO,
            "stopped; %" PRIu64 " records read, %" PRIu64 " published (%" PRIu64
            " duplicates), %" PRIu64 " quarantined",
            in.n_consumed, in.n_published, in.n_duplicates, in.n_quarantined);
done:
    s_drop_all(&in);
    if (in.rk)
        rd_kafka_destroy_flags(
            in.rk, in.closed ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
    if (kc)
        rd_kafka_conf_destroy(kc);
    rzk_report_close(&rep);
    rz_client_destroy(&in.bc);
    rzk_quarantine_close(&in.q);
    for (int i = 0; i < in.nparts; i++)
        free(in.parts[i].topic);
    free(in.parts);
    free(in.ring);
    return rc;
}
