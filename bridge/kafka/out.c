/* out.c - outbound: a durable consumer group on the broker, each event
 * produced to Kafka, the group's position committed only behind Kafka's
 * acknowledgements.
 *
 * Every fetched event takes a slot in a ring, in seq order:
 *
 *      tail                                   head
 *       v                                      v
 *   ... [seq 41 acked][seq 42 in flight][seq 45 acked] ...
 *
 * Delivery reports mark slots acked (librdkafka reports a partition's
 * records in order, but partitions interleave). The safe position is the
 * seq before the oldest slot not acked yet, or everything fetched when the
 * ring is empty (which covers seqs the group's topic prefix skipped); it
 * is what gets committed. A record Kafka refused makes the bridge rewind:
 * it waits until librdkafka has reported everything in flight, re-creates
 * the producer after a fatal error, and fetches again from the safe
 * position. What was already written is written again, which the
 * idempotent producer (within one producer's life) and the event ids
 * (across restarts) make harmless. enable.gapless.guarantee makes
 * librdkafka turn a hole in a partition into a fatal error, so what a
 * partition holds is always a prefix of what was produced to it: re-sent
 * events follow their originals, and per-subject order survives dedup by
 * id (keeping the first of each).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

enum { S_PENDING = 0, S_ACKED = 1, S_FAILED = 2 };

typedef struct s_slot {
    uint64_t ticket;
    uint64_t seq;
    int64_t sent_us;
    int state;
} s_slot_t;

typedef struct s_out {
    const rzk_conf_t *c;
    rz_client_t *bc;
    rd_kafka_conf_t *kconf; /* template for re-creating the producer */
    rd_kafka_t *rk;
    rzk_tpl_t tpl;
    rzk_quarantine_t *q;

    s_slot_t *ring;
    uint64_t mask, head, tail; /* tickets: head = next, tail = oldest */

    uint64_t fetched;   /* the group position of the next FETCH */
    uint64_t safe;      /* every event <= safe is in Kafka */
    uint64_t committed; /* what the broker has for the group */
    uint64_t broker_head;
    int rewinding;
    int fatal;
    int broker_ok;
    int64_t last_commit_us;

    /* counters */
    uint64_t n_fetched, n_produced, n_errors, n_rewinds, n_quarantined;
    uint64_t produced_at_report;
    rzk_hist_t lat;

    char kafka_err[256];
    int64_t kafka_err_us;
    char broker_err[256];
} s_out_t;

/* ===========================================================================
 * librdkafka callbacks (they run inside rd_kafka_poll / flush, on our
 * thread)
 */

static void s_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                          void *opaque)
{
    (void)rk;
    s_out_t *o = opaque;
    uint64_t ticket = (uint64_t)(uintptr_t)m->_private;
    s_slot_t *s = &o->ring[ticket & o->mask];
    if (s->ticket != ticket || ticket < o->tail || ticket >= o->head)
        return; /* a slot given up by a rewind */
    if (m->err) {
        s->state = S_FAILED;
        o->n_errors++;
        if (m->err == RD_KAFKA_RESP_ERR__FATAL)
            o->fatal = 1;
        snprintf(o->kafka_err, sizeof o->kafka_err,
                 "delivery of seq %" PRIu64 " to %s failed: %s", s->seq,
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        o->kafka_err_us = rz_now_us();
        if (!o->rewinding)
            rzc_log(RZC_LOG_WARN, "%s; re-sending from seq %" PRIu64,
                    o->kafka_err, o->safe + 1);
        o->rewinding = 1;
        return;
    }
    s->state = S_ACKED;
    o->n_produced++;
    rzk_hist_add(&o->lat, (double)(rz_now_us() - s->sent_us));
}

static void s_on_error(rd_kafka_t *rk, int err, const char *reason,
                       void *opaque)
{
    s_out_t *o = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(o->kafka_err, sizeof o->kafka_err, "fatal: %.240s", why);
        o->fatal = 1;
        o->rewinding = 1;
        rzc_log(RZC_LOG_ERROR, "kafka: %s; the producer is re-created",
                o->kafka_err);
    } else {
        snprintf(o->kafka_err, sizeof o->kafka_err, "%s", reason);
        rzc_log(RZC_LOG_WARN, "kafka: %s", reason);
    }
    o->kafka_err_us = rz_now_us();
}

static rd_kafka_t *s_producer(s_out_t *o)
{
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_dup(o->kconf);
    rd_kafka_conf_set_opaque(kc, o);
    rd_kafka_conf_set_dr_msg_cb(kc, s_on_delivery);
    rd_kafka_conf_set_error_cb(kc, s_on_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        rzc_log(RZC_LOG_ERROR, "kafka producer: %s", err);
    }
    return rk;
}

/* ===========================================================================
 * The ring and the safe position
 */

static void s_advance(s_out_t *o)
{
    while (o->tail < o->head && o->ring[o->tail & o->mask].state == S_ACKED) {
        o->safe = o->ring[o->tail & o->mask].seq;
        o->tail++;
    }
    if (o->tail == o->head) {
        if (!o->rewinding && o->fetched > o->safe)
            o->safe = o->fetched;
    } else {
        uint64_t before = o->ring[o->tail & o->mask].seq - 1;
        if (before > o->safe)
            o->safe = before;
    }
}

/* After a failure: once librdkafka has reported everything, start again
 * from the safe position (with a new producer after a fatal error). */
static void s_rewind(s_out_t *o)
{
    if (rd_kafka_outq_len(o->rk) > 0)
        return;
    if (o->fatal) {
        rd_kafka_destroy(o->rk);
        o->rk = s_producer(o);
        if (!o->rk)
            return; /* try again on the next turn */
        o->fatal = 0;
    }
    o->tail = o->head;
    o->fetched = o->safe;
    o->rewinding = 0;
    o->n_rewinds++;
    rzc_log(RZC_LOG_INFO, "re-sending from seq %" PRIu64, o->safe + 1);
}

static void s_commit(s_out_t *o, int force)
{
    int64_t now = rz_now_us();
    if (o->safe <= o->committed ||
        (!force &&
         now - o->last_commit_us < (int64_t)o->c->commit_interval * 1000))
        return;
    int rc = rz_commit(o->bc, o->c->group, o->safe);
    o->last_commit_us = now;
    if (rc < 0) {
        snprintf(o->broker_err, sizeof o->broker_err, "commit: %s",
                 rz_strerror(rc));
        o->broker_ok = 0;
        return;
    }
    o->committed = o->safe;
}

/* ===========================================================================
 * Producing
 */

/* Record that Kafka cannot take (too big, no topic can be named for it):
 * kept in the quarantine with its seq, and the position moves on. */
static void s_give_up(s_out_t *o, s_slot_t *s, const char *topic,
                      const rz_event_t *e, const char *why)
{
    rzk_header_t h = {"ce_id", e->msg->id, strlen(e->msg->id)};
    rzk_in_t rec = {
        e->msg->subject, strlen(e->msg->subject), e->raw, e->raw_len, &h, 1};
    int rc =
        rzk_quarantine_put(o->q, topic, -1, (int64_t)e->msg->seq, &rec, why);
    if (rc < 0) {
        /* not kept anywhere: do not move past it */
        rzc_log(RZC_LOG_ERROR, "seq %" PRIu64 ": %s; quarantine failed: %s",
                e->msg->seq, why, rz_strerror(rc));
        s->state = S_FAILED;
        o->rewinding = 1;
        return;
    }
    rzc_log(RZC_LOG_WARN, "seq %" PRIu64 " quarantined: %s", e->msg->seq, why);
    o->n_quarantined++;
    s->state = S_ACKED;
}

static int s_on_event(const rz_event_t *e, void *user)
{
    s_out_t *o = user;
    char why[256];
    rzk_out_t rec;
    uint64_t ticket = o->head++;
    s_slot_t *s = &o->ring[ticket & o->mask];
    s->ticket = ticket;
    s->seq = e->msg->seq;
    s->state = S_PENDING;
    s->sent_us = rz_now_us();
    o->n_fetched++;
    if (o->rewinding) {
        /* a failure reported during this fetch: the rest is re-fetched */
        s->state = S_FAILED;
        return 1;
    }
    if (rzk_out_map(&o->tpl, o->c->format, e->msg, e->raw, e->raw_len, &rec,
                    why, sizeof why) < 0) {
        s_give_up(o, s, "", e, why);
        rzk_out_clear(&rec);
        return 0;
    }
    for (;;) {
        rd_kafka_headers_t *hs = rd_kafka_headers_new(rec.n_headers);
        for (size_t i = 0; i < rec.n_headers; i++)
            rd_kafka_header_add(hs, rec.headers[i].name, -1,
                                rec.headers[i].value,
                                (ssize_t)rec.headers[i].len);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            o->rk, RD_KAFKA_V_TOPIC(rec.topic),
            RD_KAFKA_V_KEY(rec.key, rec.key_len),
            RD_KAFKA_V_VALUE((void *)rec.value, rec.value_len),
            RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)ticket), RD_KAFKA_V_END);
        if (!err)
            break;
        rd_kafka_headers_destroy(hs); /* still ours when producev failed */
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(o->rk, 10);
            continue;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
            err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
            snprintf(why, sizeof why, "Kafka refuses the record: %s",
                     rd_kafka_err2str(err));
            s_give_up(o, s, rec.topic, e, why);
            break;
        }
        /* fatal or unknown: the rest of this fetch is re-fetched */
        snprintf(o->kafka_err, sizeof o->kafka_err, "produce: %s",
                 rd_kafka_err2str(err));
        o->kafka_err_us = rz_now_us();
        if (err == RD_KAFKA_RESP_ERR__FATAL)
            o->fatal = 1;
        s->state = S_FAILED;
        o->rewinding = 1;
        rzk_out_clear(&rec);
        return 1;
    }
    rzk_out_clear(&rec);
    return 0;
}

/* ===========================================================================
 * Report
 */

static void s_report(s_out_t *o, rzk_report_t *r, int force)
{
    int64_t now = rz_now_us();
    if (!force && now - r->last < (int64_t)o->c->report_interval * 1000)
        return;
    double secs = r->last ? (double)(now - r->last) / 1e6 : 1.0;
    Ratusz__V1__Health *h = NULL;
    if (rz_health(r->c, &h) == 0) {
        o->broker_head = h->head_seq;
        ratusz__v1__health__free_unpacked(h, NULL);
    }
    uint64_t lag =
        o->broker_head > o->committed ? o->broker_head - o->committed : 0;
    double rate =
        secs > 0 ? (double)(o->n_produced - o->produced_at_report) / secs : 0;
    o->produced_at_report = o->n_produced;
    rzk_report_metric(r, 0, "events_fetched", (double)o->n_fetched, 1,
                      "events fetched from the broker (re-sends included)");
    rzk_report_metric(r, 1, "events_produced", (double)o->n_produced, 1,
                      "records Kafka acknowledged");
    rzk_report_metric(r, 2, "delivery_errors", (double)o->n_errors, 1,
                      "records Kafka refused or lost (then re-sent)");
    rzk_report_metric(r, 3, "rewinds", (double)o->n_rewinds, 1,
                      "times the bridge re-sent from its safe position");
    rzk_report_metric(r, 4, "quarantined", (double)o->n_quarantined, 1,
                      "events Kafka cannot take, kept in the quarantine");
    rzk_report_metric(r, 5, "broker_lag", (double)lag, 0,
                      "broker head seq - committed seq of the group");
    rzk_report_metric(r, 6, "kafka_inflight", (double)(o->head - o->tail), 0,
                      "events produced, not yet acknowledged by Kafka");
    rzk_report_metric(r, 7, "committed_seq", (double)o->committed, 0,
                      "the group's committed position on the broker");
    rzk_report_metric(r, 8, "produce_rate", rate, 0,
                      "records acknowledged per second since the last report");
    r->hist = &o->lat;
    r->hist_name = "delivery_latency_us";
    char status[300] = "ok", detail[300];
    if (o->kafka_err_us && now - o->kafka_err_us < 10 * INT64_C(1000000))
        snprintf(status, sizeof status, "kafka: %.250s", o->kafka_err);
    snprintf(
        detail, sizeof detail,
        "broker %s -> %s (%s), committed %" PRIu64 ", lag %" PRIu64 ", %.0f/s",
        o->c->group, o->c->topic,
        o->c->format == RZK_FORMAT_CE_JSON ? "cloudevents-json" : "protobuf",
        o->committed, lag, rate);
    rzk_report_send(r, o->c, status, detail, 1);
}

/* ===========================================================================
 * The loop
 */

static uint64_t s_group_position(rz_client_t *bc, const char *group, int *rc)
{
    Ratusz__V1__ConsumerList *l = NULL;
    uint64_t pos = 0;
    *rc = rz_consumers(bc, &l);
    if (*rc < 0)
        return 0;
    for (size_t i = 0; i < l->n_groups; i++)
        if (!strcmp(l->groups[i]->name, group))
            pos = l->groups[i]->committed_seq;
    ratusz__v1__consumer_list__free_unpacked(l, NULL);
    return pos;
}

int rzk_run_out(const rzk_conf_t *c, volatile sig_atomic_t *stop)
{
    s_out_t o;
    rzk_report_t rep;
    char err[512];
    int rc = 0;
    memset(&o, 0, sizeof o);
    memset(&rep, 0, sizeof rep);
    o.c = c;
    rzk_tpl_compile(&o.tpl, c->topic, NULL, 0); /* checked with the config */
    uint64_t cap = 1;
    while (cap < c->inflight_max + c->fetch_max)
        cap <<= 1;
    o.ring = calloc(cap, sizeof *o.ring);
    o.mask = cap - 1;
    rz_client_opts_t co = {
        .window = 16, .batch = 1, .timeout_ms = (int)c->timeout};
    rz_keyopts_apply(c->keys, &co);
    o.bc = rz_client_new(c->broker, &co);
    o.q = rzk_quarantine_open(c->data_dir, err, sizeof err);
    if (!o.q) {
        rzc_log(RZC_LOG_ERROR, "quarantine: %s", err);
        rc = RZ_ESTORE;
        goto done;
    }
    if (!o.ring || !o.bc || rzk_report_init(&rep, c) < 0) {
        rc = RZ_ENOMEM;
        goto done;
    }
    o.kconf = rzk_kafka_conf(c, err, sizeof err);
    if (!o.kconf) {
        rzc_log(RZC_LOG_ERROR, "%s", err);
        rc = RZ_ECONFIG;
        goto done;
    }
    o.rk = s_producer(&o);
    if (!o.rk) {
        rc = RZ_ECONFIG;
        goto done;
    }
    /* Where the group stands: the start, and the base of the lag. A
     * grant of fetch and commit is enough to run: without the consumers
     * action the first FETCH asks for seq 0, which the broker reads as the
     * group's committed position, and the lag counts from 0 until the
     * first commit. */
    for (;;) {
        o.committed = s_group_position(o.bc, c->group, &rc);
        if (rc == RZ_EDENIED) {
            o.committed = 0;
            break;
        }
        if (rc == 0 || *stop)
            break;
        rzc_log(RZC_LOG_WARN, "broker %s: %s; retrying", c->broker,
                rz_strerror(rc));
        rd_kafka_poll(o.rk, 1000);
    }
    if (rc == RZ_EDENIED)
        rzc_log(RZC_LOG_INFO,
                "%s: broker %s group '%s' from its committed position (no "
                "'consumers' grant to show it) -> kafka topic %s",
                c->name, c->broker, c->group, c->topic);
    else
        rzc_log(RZC_LOG_INFO,
                "%s: broker %s group '%s' from seq %" PRIu64
                " -> kafka topic %s",
                c->name, c->broker, c->group, o.committed + 1, c->topic);
    rc = 0;
    o.fetched = o.safe = o.committed;
    o.broker_ok = 1;

    while (!*stop) {
        rd_kafka_poll(o.rk, 0);
        s_advance(&o);
        if (o.rewinding)
            s_rewind(&o);
        int idle = 1;
        if (!o.rewinding && o.head - o.tail < c->inflight_max) {
            uint64_t last = o.fetched;
            int n = rz_fetch(o.bc, c->group, c->topic_prefix, o.fetched,
                             (uint32_t)c->fetch_max, s_on_event, &o, &last);
            if (n < 0) {
                if (o.broker_ok)
                    rzc_log(RZC_LOG_WARN, "fetch from %s: %s", c->broker,
                            rz_strerror(n));
                snprintf(o.broker_err, sizeof o.broker_err, "fetch: %s",
                         rz_strerror(n));
                o.broker_ok = 0;
                rd_kafka_poll(o.rk, 500);
                continue;
            }
            if (!o.broker_ok)
                rzc_log(RZC_LOG_INFO, "broker %s is back", c->broker);
            o.broker_ok = 1;
            if (!o.rewinding)
                o.fetched = last;
            idle = n == 0;
        }
        s_advance(&o);
        s_commit(&o, 0);
        if (o.broker_ok)
            s_report(&o, &rep, 0);
        if (idle)
            rd_kafka_poll(o.rk, o.rewinding ? 100 : 20);
    }

    /* Stopping: give Kafka a few seconds for what is in flight, then
     * commit what it acknowledged. */
    rzc_log(RZC_LOG_INFO, "stopping: %d records in flight",
            rd_kafka_outq_len(o.rk));
    rd_kafka_flush(o.rk, 5000);
    s_advance(&o);
    s_commit(&o, 1);
    s_report(&o, &rep, 1);
    rzc_log(RZC_LOG_INFO,
            "stopped at seq %" PRIu64 "; %" PRIu64 " records produced, %" PRIu64
            " re-sends",
            o.committed, o.n_produced, o.n_rewinds);
done:
    if (o.rk)
        rd_kafka_destroy(o.rk);
    if (o.kconf)
        rd_kafka_conf_destroy(o.kconf);
    rzk_report_close(&rep);
    rz_client_destroy(&o.bc);
    rzk_quarantine_close(&o.q);
    free(o.ring);
    return rc;
}
