/* publisher.c - the outbox to the broker, in order, on its own thread
 *
 * The thread owns the client. It sends outbox records in seq order up to
 * the window, and applies the acks in one transaction per round: an acked
 * event is deleted and counted as published, or as a duplicate when the
 * broker already had it; an event the broker refuses for good (invalid,
 * too big, denied, or a conflict: its source and id are taken by an event
 * with other content) moves to the quarantine with the broker's reason,
 * conflicts counted on their own; anything else
 * (timeout, broker stopping, store full) means the broker is not taking
 * events now: the client is dropped, and after a backoff everything still
 * in the outbox is sent again from the first record, in order. The broker
 * deduplicates by source + id, so resending is safe.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratusz/core/log.h"
#include "runtime.h"

#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000
#define S_IDLE_MS 200
/* Acks are applied (deleted from the outbox, one fsync'd transaction) at
 * most this often, or when this many wait: an ack not yet applied only
 * means the event is sent again after a crash, and the broker drops the
 * duplicate, so one sync per 50 ms is plenty. */
#define S_APPLY_MS 50
#define S_APPLY_MAX 8192

typedef struct s_ok {
    uint64_t seq;
    int duplicate;
    int applied; /* deleted by this round's transaction */
} s_ok_t;

typedef struct s_fail {
    uint64_t seq;
    int code;
    int applied;
    char reason[200];
} s_fail_t;

typedef struct s_slot {
    uint64_t seq;
    int64_t sent;
} s_slot_t;

struct rz_pub {
    rz_rt_t *rt;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, kicked, stop_ms;
    rz_client_t *c;
    uint64_t next_send;
    s_ok_t *oks;
    size_t nok, capok;
    s_fail_t *fails;
    size_t nfail, capfail;
    int transient;
    char transient_why[200];
    s_slot_t *slots;
    size_t nslots; /* a power of two */
    int backoff_ms;
    int64_t backoff_until;
    int64_t next_report;
    int64_t last_apply;
    _Atomic int connected;
    _Atomic uint64_t acks;
};

static int s_permanent(int code)
{
    return code == RZ_EINVALEVENT || code == RZ_ETOOBIG ||
           code == RZ_EDECODE || code == RZ_EDENIED || code == RZ_EBADREQ ||
           code == RZ_ECONFLICT;
}

static void s_on_ack(const rz_ack_t *a, void *user)
{
    rz_pub_t *p = user;
    uint64_t seq = (uint64_t)(uintptr_t)a->arg;
    p->acks++;
    s_slot_t *sl = &p->slots[seq & (p->nslots - 1)];
    if (a->code == 0) {
        if (sl->seq == seq)
            rz_rt_latency(p->rt, rz_now_us() - sl->sent);
        if (p->nok == p->capok) {
            size_t cap = p->capok ? p->capok * 2 : 1024;
            s_ok_t *n = realloc(p->oks, cap * sizeof *n);
            if (!n) {
                /* not deleted now: it is sent again and deduplicated */
                p->transient = 1;
                return;
            }
            p->oks = n;
            p->capok = cap;
        }
        p->oks[p->nok++] = (s_ok_t){seq, a->duplicate, 0};
    } else if (s_permanent(a->code)) {
        if (p->nfail == p->capfail) {
            size_t cap = p->capfail ? p->capfail * 2 : 16;
            s_fail_t *n = realloc(p->fails, cap * sizeof *n);
            if (!n) {
                p->transient = 1;
                return;
            }
            p->fails = n;
            p->capfail = cap;
        }
        s_fail_t *f = &p->fails[p->nfail++];
        f->seq = seq;
        f->code = a->code;
        f->applied = 0;
        snprintf(f->reason, sizeof f->reason, "%s", a->reason ? a->reason : "");
    } else {
        if (!p->transient)
            snprintf(p->transient_why, sizeof p->transient_why, "%s: %s",
                     rz_err_name(a->code),
                     a->reason && *a->reason ? a->reason
                                             : rz_strerror(a->code));
        p->transient = 1;
    }
}

/* Move a refused event to the quarantine, as CloudEvents JSON with the
 * broker's reason, so an operator sees it and can retry it. */
static int s_quarantine_refused(rz_pub_t *p, rz_atxn_t *t, s_fail_t *f)
{
    rz_orec_t o;
    int rc = rz_outbox_get(t, f->seq, &o);
    if (rc)
        return rc == RZ_ENOTFOUND ? 0 : rc;
    Ratusz__V1__Event *ev =
        ratusz__v1__event__unpack(NULL, o.len, o.event);
    char *json = ev ? rz_event_to_json(ev) : NULL;
    if (ev)
        ratusz__v1__event__free_unpacked(ev, NULL);
    char origin[1024], key[512], reason[400];
    snprintf(origin, sizeof origin, "%.*s", (int)o.olen, o.origin);
    snprintf(key, sizeof key, "%.*s", (int)o.klen, o.key);
    if (f->code == RZ_ECONFLICT)
        /* not retried, not published: someone must say which is right */
        snprintf(reason, sizeof reason,
                 "conflict: the broker has this source and id with "
                 "different content (%s): %s",
                 rz_err_name(f->code),
                 *f->reason ? f->reason : rz_strerror(f->code));
    else
        snprintf(reason, sizeof reason, "refused by the broker: %s: %s",
                 rz_err_name(f->code), f->reason);
    rz_qrec_t q = {
        .time = rz_now_us(),
        .line = o.line,
        .kind = RZ_QKIND_EVENT,
        .module = p->rt->mod->name,
        .origin = origin,
        .name = "",
        .key = key,
        .reason = reason,
        .content_type = "application/cloudevents+json",
        .content_id = "",
        .bytes = json ? (const uint8_t *)json : o.event,
        .len = json ? strlen(json) : o.len,
    };
    if (!json) {
        q.kind = RZ_QKIND_RECORD;
        q.content_type = "application/x-protobuf";
    }
    rc = rz_quarantine_put(t, &q, 0, NULL);
    free(json);
    if (!rc)
        rc = rz_outbox_del(t, f->seq, RZ_OUTBOX_GONE);
    if (!rc) {
        f->applied = 1;
        if (f->code == RZ_ECONFLICT)
            t->d_conflicts++;
        rzc_log(RZC_LOG_WARN, "%s:%llu [%s]: quarantined: %s", origin,
                (unsigned long long)o.line, key, reason);
    }
    return rc == RZ_ENOTFOUND ? 0 : rc;
}

/* Apply the acks gathered so far in one transaction (force: now, else
 * only when S_APPLY_MS passed or S_APPLY_MAX wait). */
static void s_apply(rz_pub_t *p, int force)
{
    if (!p->nok && !p->nfail)
        return;
    int64_t now = rz_now_us();
    if (!force && p->nok < S_APPLY_MAX && !p->nfail &&
        now - p->last_apply < S_APPLY_MS * 1000)
        return;
    p->last_apply = now;
    rz_atxn_t t;
    int rc = rz_atxn_begin(p->rt->store, &t);
    for (size_t i = 0; !rc && i < p->nok; i++) {
        rc = rz_outbox_del(&t, p->oks[i].seq,
                           p->oks[i].duplicate ? RZ_OUTBOX_DUPLICATE
                                               : RZ_OUTBOX_PUBLISHED);
        p->oks[i].applied = rc == 0;
        if (rc == RZ_ENOTFOUND)
            rc = 0;
    }
    for (size_t i = 0; !rc && i < p->nfail; i++)
        rc = s_quarantine_refused(p, &t, &p->fails[i]);
    if (!rc)
        rc = rz_atxn_commit(&t);
    else
        rz_atxn_abort(&t);
    if (rc) {
        /* they stay in the outbox and are sent again */
        rz_rt_set_status(p->rt, p->rt->pub_status, "outbox: %s",
                         rz_strerror(rc));
        rzc_log(RZC_LOG_ERROR, "outbox: cannot record acks: %s",
                rz_strerror(rc));
    }
    if (!rc && p->rt->on_outcome) {
        for (size_t i = 0; i < p->nok; i++)
            if (p->oks[i].applied)
                p->rt->on_outcome(p->oks[i].seq,
                                  p->oks[i].duplicate ? RZ_PUB_DUPLICATE
                                                      : RZ_PUB_PUBLISHED,
                                  p->rt->on_outcome_user);
        for (size_t i = 0; i < p->nfail; i++)
            if (p->fails[i].applied)
                p->rt->on_outcome(p->fails[i].seq,
                                  p->fails[i].code == RZ_ECONFLICT
                                      ? RZ_PUB_CONFLICT
                                      : RZ_PUB_REFUSED,
                                  p->rt->on_outcome_user);
    }
    if (p->nok) {
        p->connected = 1;
        p->backoff_ms = 0;
    }
    p->nok = p->nfail = 0;
    if (p->rt->on_acked)
        p->rt->on_acked(p->rt->on_acked_user);
}

static void s_reset(rz_pub_t *p, const char *why)
{
    rz_client_destroy(&p->c); /* abandons what is in flight */
    p->connected = 0;
    p->transient = 0;
    p->next_send = 1;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (p->backoff_ms > S_BACKOFF_MAX_MS)
        p->backoff_ms = S_BACKOFF_MAX_MS;
    p->backoff_until = rz_now_us() + (int64_t)p->backoff_ms * 1000;
    p->rt->stats.publish_retries++;
    rz_rt_set_status(p->rt, p->rt->pub_status, "broker %s: %s",
                     p->rt->conf->broker, why);
}

typedef struct s_fill {
    rz_pub_t *p;
    int rc;
} s_fill_t;

static int s_send_one(const rz_orec_t *r, void *user)
{
    s_fill_t *f = user;
    rz_pub_t *p = f->p;
    int rc = rz_publish_raw(p->c, r->event, r->len, (void *)(uintptr_t)r->seq);
    if (rc) {
        f->rc = rc;
        return 1;
    }
    s_slot_t *sl = &p->slots[r->seq & (p->nslots - 1)];
    sl->seq = r->seq;
    sl->sent = rz_now_us();
    p->next_send = r->seq + 1;
    return 0;
}

/* Send outbox records up to the window. Returns how many. */
static int s_fill(rz_pub_t *p)
{
    size_t in = rz_inflight(p->c);
    size_t window = (size_t)p->rt->conf->window;
    if (in >= window)
        return 0;
    s_fill_t f = {p, 0};
    int n = rz_outbox_scan(p->rt->store, p->next_send, window - in, s_send_one,
                           &f);
    if (f.rc) {
        snprintf(p->transient_why, sizeof p->transient_why, "publish: %s",
                 rz_strerror(f.rc));
        p->transient = 1;
    }
    return n < 0 ? 0 : n;
}

static void s_report(rz_pub_t *p)
{
    Ratusz__V1__Component *comp = rz_rt_component(p->rt);
    if (!comp)
        return;
    int rc = rz_report(p->c, comp);
    rz_rt_component_free(comp);
    if (rc == RZ_ETIMEDOUT) {
        snprintf(p->transient_why, sizeof p->transient_why,
                 "no reply to REPORT in %llu ms",
                 (unsigned long long)p->rt->conf->timeout_ms);
        p->transient = 1;
    } else if (rc == 0) {
        p->connected = 1;
    }
}

static void s_wait(rz_pub_t *p, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&p->mu);
    if (!p->kicked && !p->stop)
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    p->kicked = 0;
    pthread_mutex_unlock(&p->mu);
}

static void *s_main(void *arg)
{
    rz_pub_t *p = arg;
    rz_rt_t *rt = p->rt;
    rz_client_opts_t opts = {.window = (uint32_t)rt->conf->window,
                             .batch = (uint32_t)rt->conf->batch,
                             .timeout_ms = (int)rt->conf->timeout_ms};
    rz_keyopts_apply(rt->keys, &opts);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        int64_t now = rz_now_us();
        if (!p->c && now >= p->backoff_until) {
            p->c = rz_client_new(rt->conf->broker, &opts);
            if (!p->c) {
                s_reset(p, "cannot create a client");
                continue;
            }
            rz_client_set_ack_cb(p->c, s_on_ack, p);
            p->next_send = 1;
        }
        int sent = 0;
        if (p->c)
            sent = s_fill(p);
        if (p->c && rz_inflight(p->c))
            rz_pump(p->c, 20);
        s_apply(p, p->transient || !p->c || !rz_inflight(p->c));
        if (p->c && !p->transient && p->connected &&
            strcmp(rt->pub_status, "ok")) {
            rz_rt_set_status(rt, rt->pub_status, "ok");
        }
        if (p->c && !p->transient && rt->conf->report_ms &&
            now >= p->next_report) {
            p->next_report = now + (int64_t)rt->conf->report_ms * 1000;
            s_report(p);
        }
        if (p->transient)
            s_reset(p, p->transient_why);
        if (!sent && (!p->c || !rz_inflight(p->c))) {
            int ms = S_IDLE_MS;
            if (!p->c) {
                int64_t left = (p->backoff_until - rz_now_us()) / 1000;
                ms = left < 1 ? 1 : left < ms ? (int)left : ms;
            }
            s_wait(p, ms);
        }
    }
    if (p->c) {
        rz_flush(p->c, p->stop_ms);
        s_apply(p, 1);
        if (rt->conf->report_ms && !p->transient)
            s_report(p);
        rz_client_destroy(&p->c);
    }
    return NULL;
}

rz_pub_t *rz_pub_start(rz_rt_t *rt)
{
    rz_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->rt = rt;
    p->nslots = 1;
    while (p->nslots < rt->conf->window * 4)
        p->nslots <<= 1;
    p->slots = calloc(p->nslots, sizeof *p->slots);
    p->next_send = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!p->slots || pthread_create(&p->th, NULL, s_main, p) != 0) {
        free(p->slots);
        free(p);
        return NULL;
    }
    return p;
}

void rz_pub_kick(rz_pub_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->kicked = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void rz_pub_stop(rz_pub_t **pp, int ms)
{
    if (!pp || !*pp)
        return;
    rz_pub_t *p = *pp;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    p->stop_ms = ms;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->oks);
    free(p->fails);
    free(p->slots);
    free(p);
    *pp = NULL;
}

int rz_pub_connected(rz_pub_t *p)
{
    return p && p->connected;
}

uint64_t rz_pub_acks(rz_pub_t *p)
{
    return p ? p->acks : 0;
}
