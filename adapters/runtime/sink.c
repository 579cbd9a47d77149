/* sink.c - the sink driver: a durable consumer group on the broker feeding
 * a sink (the module's, or the webhook) in seq order
 *
 * Each round fetches up to sink_batch events after the group's committed
 * position, hands them to the sink one by one, flushes the sink, and only
 * then commits: a sink that was down (or a target that refused an event)
 * starts again from the first event it has not flushed, so it catches up
 * and nothing is skipped. Delivery is at least once: a sink may see an
 * event again after a failure and must write it idempotently.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime.h"

#define S_BACKOFF_MIN_MS 200
#define S_BACKOFF_MAX_MS 30000

struct rz_sink_driver {
    rz_rt_t *rt;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    void *sink;
    int (*event)(void *, const Ratusz__V1__Event *, char *, size_t);
    int (*flush)(void *, char *, size_t);
    void (*close)(void *);
    rz_webhook_opts_t wopts;
};

typedef struct s_round {
    rz_sink_driver_t *d;
    uint32_t n;
    int failed;
    uint64_t last_ok;
    uint64_t failed_seq;
    char err[400];
} s_round_t;

static int s_on_event(const rz_event_t *ev, void *user)
{
    s_round_t *r = user;
    r->err[0] = '\0';
    int rc = r->d->event(r->d->sink, ev->msg, r->err, sizeof r->err);
    if (rc) {
        r->failed = 1;
        r->failed_seq = ev->msg->seq;
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "%s", rz_strerror(rc));
        return 1;
    }
    r->n++;
    r->last_ok = ev->msg->seq;
    r->d->rt->stats.sink_events++;
    return 0;
}

/* Wait ms unless stopped; returns 1 when stopping. */
static int s_wait(rz_sink_driver_t *d, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&d->mu);
    if (!d->stop)
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    int stop = d->stop;
    pthread_mutex_unlock(&d->mu);
    return stop;
}

static void *s_main(void *arg)
{
    rz_sink_driver_t *d = arg;
    rz_rt_t *rt = d->rt;
    const rz_rt_conf_t *cf = rt->conf;
    rz_client_opts_t opts = {.window = 16, .batch = 1, .timeout_ms = (int)cf->timeout_ms};
    rz_keyopts_apply(rt->keys, &opts);
    rz_client_t *c = NULL;
    int backoff = 0;
    const char *prefix = *cf->sink_topic_prefix ? cf->sink_topic_prefix : NULL;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        if (backoff && s_wait(d, backoff))
            break;
        if (!c && !(c = rz_client_new(cf->broker, &opts))) {
            backoff = S_BACKOFF_MAX_MS;
            continue;
        }
        s_round_t r = {.d = d};
        uint64_t last = 0;
        int n = rz_fetch(c, cf->sink_group, prefix, 0, (uint32_t)cf->sink_batch,
                         s_on_event, &r, &last);
        if (n < 0) {
            rz_rt_set_status(rt, rt->sink_status, "sink: broker %s: %s",
                             cf->broker, rz_strerror(n));
            rz_client_destroy(&c);
            backoff = backoff ? backoff * 2 : S_BACKOFF_MIN_MS;
            if (backoff > S_BACKOFF_MAX_MS)
                backoff = S_BACKOFF_MAX_MS;
            continue;
        }
        uint64_t upto = r.failed ? r.last_ok : last;
        if (r.n || upto) {
            char ferr[400] = "";
            int rc = d->flush ? d->flush(d->sink, ferr, sizeof ferr) : 0;
            if (rc) {
                rt->stats.sink_errors++;
                rz_rt_set_status(rt, rt->sink_status, "sink: flush: %s",
                                 ferr[0] ? ferr : rz_strerror(rc));
                backoff = backoff ? backoff * 2 : S_BACKOFF_MIN_MS;
                if (backoff > S_BACKOFF_MAX_MS)
                    backoff = S_BACKOFF_MAX_MS;
                continue;
            }
            if (upto && (rc = rz_commit(c, cf->sink_group, upto)) < 0) {
                rz_rt_set_status(rt, rt->sink_status, "sink: commit: %s",
                                 rz_strerror(rc));
                rz_client_destroy(&c);
                backoff = S_BACKOFF_MIN_MS;
                continue;
            }
            if (upto)
                rt->stats.sink_committed = upto;
        }
        if (r.failed) {
            rt->stats.sink_errors++;
            rz_rt_set_status(rt, rt->sink_status, "sink: seq %llu: %s",
                             (unsigned long long)r.failed_seq, r.err);
            backoff = backoff ? backoff * 2 : S_BACKOFF_MIN_MS;
            if (backoff > S_BACKOFF_MAX_MS)
                backoff = S_BACKOFF_MAX_MS;
            continue;
        }
        backoff = 0;
        rz_rt_set_status(rt, rt->sink_status, "ok");
        if (n == 0 && s_wait(d, (int)cf->poll_ms))
            break;
    }
    rz_client_destroy(&c);
    return NULL;
}

int rz_sink_start(rz_sink_driver_t **out, rz_rt_t *rt, char *err,
                  size_t err_len)
{
    *out = NULL;
    rz_sink_driver_t *d = calloc(1, sizeof *d);
    if (!d)
        return RZ_ENOMEM;
    d->rt = rt;
    int rc;
    if (rt->conf->sink == RZ_SINK_WEBHOOK) {
        d->wopts.attempts = (unsigned)rt->conf->sink_retries;
        d->wopts.timeout_ms = (long)rt->conf->timeout_ms;
        d->event = rz_webhook_event;
        d->flush = rz_webhook_flush;
        d->close = rz_webhook_close;
        rc = rz_webhook_open(&d->sink, &d->wopts, rt->conf->sink_target, err,
                             err_len);
    } else {
        const rz_adapter_module_t *m = rt->mod;
        d->event = m->sink_event;
        d->flush = m->sink_flush;
        d->close = m->sink_close;
        rc = m->sink_open ? m->sink_open(&d->sink, rt->mod_state,
                                         rt->conf->sink_target, err, err_len)
                          : 0;
    }
    if (rc) {
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->th, NULL, s_main, d) != 0) {
        if (d->close)
            d->close(d->sink);
        free(d);
        return RZ_ENOMEM;
    }
    *out = d;
    return 0;
}

void rz_sink_stop(rz_sink_driver_t **dp)
{
    if (!dp || !*dp)
        return;
    rz_sink_driver_t *d = *dp;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    if (d->close)
        d->close(d->sink);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
    *dp = NULL;
}
