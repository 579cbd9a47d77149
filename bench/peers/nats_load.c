/* nats_load.c - NATS JetStream load generator (libnats): ingest, multi,
 * fanout, replay (see ../load.h).
 *
 *   nats-bench-load --mode ingest --window 16 --url nats://127.0.0.1:4222
 *
 * Events go to subject bench.load of stream BENCH (file storage, created
 * if missing). Publish is js_PublishAsync with PublishAsync.MaxPending =
 * window; the pub-ack arrives on a library thread, which hands it to the
 * driver under a mutex. Subscribers are ordered push consumers delivering
 * new messages (the message is stored before it is delivered, as with the
 * others); replay is an ordered consumer from the first message.
 *
 * JetStream acks once the message is in its file store's write buffer:
 * it does not fsync before acking (the server flushes periodically).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "load.h"

#define S_STREAM "BENCH"
#define S_SUBJECT "bench.load"

/* Connect and get a JetStream context whose async publishes go to
 * ack/closure (NULL for none); make sure the stream exists. */
static int s_open(const bench_opts_t *o, int64_t max_pending,
                  jsPubAckHandler ack, void *closure, natsConnection **nc,
                  jsCtx **js)
{
    natsOptions *no = NULL;
    natsStatus st = natsOptions_Create(&no);
    if (st == NATS_OK)
        st = natsOptions_SetURL(no, o->url);
    /* Subscribers must not drop messages as slow consumers. */
    if (st == NATS_OK)
        st = natsOptions_SetMaxPendingMsgs(no, 10000000);
    if (st == NATS_OK)
        st = natsConnection_Connect(nc, no);
    natsOptions_Destroy(no);
    if (st != NATS_OK) {
        fprintf(stderr, "nats_load: connect %s: %s\n", o->url,
                natsStatus_GetText(st));
        return -1;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = (int64_t)(o->timeout * 1000);
    if (ack) {
        jo.PublishAsync.MaxPending = max_pending;
        jo.PublishAsync.AckHandler = ack;
        jo.PublishAsync.AckHandlerClosure = closure;
        jo.PublishAsync.StallWait = (int64_t)(o->timeout * 1000);
    }
    st = natsConnection_JetStream(js, *nc, &jo);
    if (st != NATS_OK) {
        fprintf(stderr, "nats_load: JetStream: %s\n", natsStatus_GetText(st));
        natsConnection_Destroy(*nc);
        return -1;
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[] = {"bench.>"};
    cfg.Name = S_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    st = js_AddStream(&si, *js, &cfg, NULL, &jerr);
    if (st != NATS_OK && jerr == JSStreamNameExistErr)
        st = NATS_OK; /* made by another client of this run */
    jsStreamInfo_Destroy(si);
    if (st != NATS_OK) {
        fprintf(stderr, "nats_load: add stream: %s (%d)\n",
                natsStatus_GetText(st), (int)jerr);
        jsCtx_Destroy(*js);
        natsConnection_Destroy(*nc);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Publisher                                                                 */

typedef struct s_pub {
    natsConnection *nc;
    jsCtx *js;
    bench_pub_ctx_t *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    uint64_t inflight;
} s_pub_t;

/* Runs on the library's thread. */
static void s_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                     void *closure)
{
    s_pub_t *p = closure;
    uint64_t sent = bench_now_ns();
    uint32_t flags;
    bench_unstamp((const uint8_t *)natsMsg_GetData(msg),
                  (size_t)natsMsg_GetDataLength(msg), &sent, &flags);
    if (pae)
        fprintf(stderr, "nats_load: publish failed: %s\n",
                pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    pthread_mutex_lock(&p->mu);
    bench_acked(p->ctx, sent, pa != NULL && pae == NULL);
    p->inflight--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    natsMsg_Destroy(msg);
}

static void *s_pub_new(const bench_opts_t *o, uint32_t window, uint32_t id,
                       bench_pub_ctx_t *ctx)
{
    s_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->mu, NULL);
    p->ctx = ctx;
    if (s_open(o, window, s_on_ack, p, &p->nc, &p->js) < 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

static int s_pub_send(void *ph, const uint8_t *payload, size_t len,
                      uint64_t sent_ns)
{
    s_pub_t *p = ph;
    pthread_mutex_lock(&p->mu);
    p->inflight++;
    pthread_mutex_unlock(&p->mu);
    natsStatus st = js_PublishAsync(p->js, S_SUBJECT, payload, (int)len, NULL);
    if (st != NATS_OK) {
        fprintf(stderr, "nats_load: publish: %s\n", natsStatus_GetText(st));
        pthread_mutex_lock(&p->mu);
        p->inflight--;
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    return 0;
}

static int s_pub_poll(void *ph, int timeout_ms)
{
    s_pub_t *p = ph;
    pthread_mutex_lock(&p->mu);
    uint64_t before = p->ctx->acked + p->ctx->failed;
    if (p->inflight && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (p->inflight && p->ctx->acked + p->ctx->failed == before)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &ts))
                break;
    }
    int n = (int)(p->ctx->acked + p->ctx->failed - before);
    pthread_mutex_unlock(&p->mu);
    return n;
}

static uint64_t s_pub_inflight(void *ph)
{
    s_pub_t *p = ph;
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->inflight;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void s_pub_destroy(void *ph)
{
    s_pub_t *p = ph;
    jsCtx_Destroy(p->js);
    natsConnection_Destroy(p->nc);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Ordered consumers: subscriber and replay                                  */

typedef struct s_sub {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
} s_sub_t;

static s_sub_t *s_consumer(const bench_opts_t *o, jsDeliverPolicy policy)
{
    s_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (s_open(o, 0, NULL, NULL, &s->nc, &s->js) < 0) {
        free(s);
        return NULL;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    so.Config.DeliverPolicy = policy;
    jsErrCode jerr = 0;
    natsStatus st =
        js_SubscribeSync(&s->sub, s->js, S_SUBJECT, NULL, &so, &jerr);
    if (st == NATS_OK)
        st = natsSubscription_SetPendingLimits(s->sub, -1, -1);
    if (st != NATS_OK) {
        fprintf(stderr, "nats_load: subscribe: %s (%d)\n",
                natsStatus_GetText(st), (int)jerr);
        natsSubscription_Destroy(s->sub);
        jsCtx_Destroy(s->js);
        natsConnection_Destroy(s->nc);
        free(s);
        return NULL;
    }
    return s;
}

static void *s_sub_new(const bench_opts_t *o, uint32_t id)
{
    return s_consumer(o, js_DeliverNew);
}

/* Deliver what arrives within timeout_ms, then what is already pending
 * (at most 10000). Returns the count or -1. */
static int s_consume(s_sub_t *s, int timeout_ms, bench_deliver_fn cb,
                     void *user, uint64_t max)
{
    int n = 0;
    for (uint64_t i = 0; i < max && i < 10000; i++) {
        natsMsg *m = NULL;
        natsStatus st =
            natsSubscription_NextMsg(&m, s->sub, i == 0 ? timeout_ms : 0);
        if (st == NATS_TIMEOUT)
            break;
        if (st != NATS_OK) {
            fprintf(stderr, "nats_load: next message: %s\n",
                    natsStatus_GetText(st));
            return -1;
        }
        cb((const uint8_t *)natsMsg_GetData(m),
           (size_t)natsMsg_GetDataLength(m), user);
        natsMsg_Destroy(m);
        n++;
    }
    return n;
}

static int s_sub_recv(void *sh, int timeout_ms, bench_deliver_fn cb, void *user)
{
    return s_consume(sh, timeout_ms, cb, user, UINT64_MAX);
}

static void s_sub_destroy(void *sh)
{
    s_sub_t *s = sh;
    natsSubscription_Unsubscribe(s->sub);
    natsSubscription_Destroy(s->sub);
    jsCtx_Destroy(s->js);
    natsConnection_Destroy(s->nc);
    free(s);
}

static int64_t s_replay(const bench_opts_t *o, uint64_t count,
                        bench_deliver_fn cb, void *user)
{
    s_sub_t *s = s_consumer(o, js_DeliverAll);
    if (!s)
        return -1;
    int64_t total = 0;
    while ((uint64_t)total < count) {
        /* A second without a message: the stream has no more. */
        int n = s_consume(s, 1000, cb, user, count - (uint64_t)total);
        if (n < 0) {
            total = -1;
            break;
        }
        if (n == 0)
            break;
        total += n;
    }
    s_sub_destroy(s);
    return total;
}

static const bench_ops_t s_ops = {
    .system = "nats",
    .pub_new = s_pub_new,
    .pub_send = s_pub_send,
    .pub_poll = s_pub_poll,
    .pub_inflight = s_pub_inflight,
    .pub_destroy = s_pub_destroy,
    .sub_new = s_sub_new,
    .sub_recv = s_sub_recv,
    .sub_destroy = s_sub_destroy,
    .replay = s_replay,
};

int main(int argc, char **argv)
{
    int rc = bench_main(&s_ops, argc, argv);
    nats_Close();
    return rc;
}
