/* load.c - the workloads every load generator runs (see load.h) */
#include "load.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Clock, stamp, histogram                                                   */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Stamp layout (little-endian):
 *
 *   +----------------------+--------------+------------------------+
 *   | sent_ns, u64         | flags, u32   | 'x' filler to len      |
 *   +----------------------+--------------+------------------------+
 *     0                      8              12
 */
void bench_stamp(uint8_t *buf, size_t len, uint64_t sent_ns, uint32_t flags)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(sent_ns >> (8 * i));
    for (int i = 0; i < 4; i++)
        buf[8 + i] = (uint8_t)(flags >> (8 * i));
    if (len > BENCH_STAMP_LEN && buf[BENCH_STAMP_LEN] != 'x')
        memset(buf + BENCH_STAMP_LEN, 'x', len - BENCH_STAMP_LEN);
}

int bench_unstamp(const uint8_t *buf, size_t len, uint64_t *sent_ns,
                  uint32_t *flags)
{
    if (len < BENCH_STAMP_LEN)
        return -1;
    uint64_t t = 0;
    uint32_t f = 0;
    for (int i = 0; i < 8; i++)
        t |= (uint64_t)buf[i] << (8 * i);
    for (int i = 0; i < 4; i++)
        f |= (uint32_t)buf[8 + i] << (8 * i);
    *sent_ns = t;
    *flags = f;
    return 0;
}

/* Bucket of v: values below 64 exactly; above, the power of two and the
 * next 6 bits below the leading one. */
static unsigned s_bucket(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
    unsigned idx =
        (e - 5) * BENCH_HIST_SUB + (unsigned)((v >> (e - 6)) - BENCH_HIST_SUB);
    return idx < BENCH_HIST_LEN ? idx : BENCH_HIST_LEN - 1;
}

/* The middle of bucket idx. */
static uint64_t s_bucket_value(unsigned idx)
{
    unsigned k = idx / BENCH_HIST_SUB, sub = idx % BENCH_HIST_SUB;
    if (k == 0)
        return sub;
    unsigned shift = k + 5 - 6;
    uint64_t lo = (uint64_t)(BENCH_HIST_SUB + sub) << shift;
    return lo + (((uint64_t)1 << shift) >> 1);
}

void bench_hist_add(bench_hist_t *h, uint64_t ns)
{
    h->b[s_bucket(ns)]++;
    h->n++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    for (unsigned i = 0; i < BENCH_HIST_LEN; i++)
        into->b[i] += from->b[i];
    into->n += from->n;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
}

double bench_hist_us(const bench_hist_t *h, double q)
{
    if (!h || h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_LEN; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = s_bucket_value(i);
            return (double)(v < h->max_ns ? v : h->max_ns) / 1e3;
        }
    }
    return (double)h->max_ns / 1e3;
}

static bench_hist_t *s_hist_new(void)
{
    bench_hist_t *h = calloc(1, sizeof *h);
    if (!h) {
        perror("bench: calloc");
        exit(1);
    }
    return h;
}

void bench_acked(bench_pub_ctx_t *ctx, uint64_t sent_ns, int ok)
{
    uint64_t now = bench_now_ns();
    if (ok) {
        ctx->acked++;
        if (ctx->lat)
            bench_hist_add(ctx->lat, now - sent_ns);
    } else {
        ctx->failed++;
    }
    ctx->last_ack_ns = now;
}

/* ------------------------------------------------------------------------ */
/* Result line                                                               */

static void s_num(const char *key, double v)
{
    if (isfinite(v))
        printf(",\"%s\":%.6g", key, v);
}

void bench_result_print(const bench_opts_t *o, const bench_result_t *r)
{
    printf("{\"system\":\"%s\",\"mode\":\"%s\",\"window\":%u,\"size\":%zu",
           o->label, r->mode, o->window, o->size);
    if (!strcmp(r->mode, "multi"))
        printf(",\"publishers\":%u", o->publishers);
    if (!strcmp(r->mode, "fanout"))
        printf(",\"subscribers\":%u,\"rate\":%.0f", o->subscribers, o->rate);
    printf(",\"events\":%llu,\"errors\":%llu", (unsigned long long)r->events,
           (unsigned long long)r->errors);
    s_num("seconds", r->seconds);
    s_num("events_per_s", r->events_per_s);
    if (r->lat && r->lat->n) {
        s_num("p50_us", bench_hist_us(r->lat, 0.50));
        s_num("p99_us", bench_hist_us(r->lat, 0.99));
        s_num("p999_us", bench_hist_us(r->lat, 0.999));
        s_num("max_us", (double)r->lat->max_ns / 1e3);
    }
    if (r->pub_events_per_s >= 0)
        s_num("pub_events_per_s", r->pub_events_per_s);
    if (r->expected >= 0)
        printf(",\"expected\":%lld", (long long)r->expected);
    if (r->extra && *r->extra)
        printf(",%s", r->extra);
    /* the load generator's own CPU time, all threads, whole run: where
     * the broker and its clients share few cores, it says which of them
     * ran out */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s_num("client_cpu_s",
              (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    printf("}\n");
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Publishing                                                                */

/* Wait until fewer than window events are in flight, up to timeout_ns.
 * Returns 0 or -1. */
static int s_wait_room(const bench_ops_t *ops, void *p, uint64_t window,
                       uint64_t timeout_ns)
{
    uint64_t until = bench_now_ns() + timeout_ns;
    while (ops->pub_inflight(p) >= window) {
        if (bench_now_ns() > until) {
            fprintf(stderr, "bench: no ack in %.0f s\n", timeout_ns / 1e9);
            return -1;
        }
        if (ops->pub_poll(p, 100) < 0)
            return -1;
    }
    return 0;
}

/* Wait for every outstanding ack, up to timeout_ns; what is still out then
 * counts as failed. Returns 0 or -1. */
static int s_drain(const bench_ops_t *ops, void *p, bench_pub_ctx_t *ctx,
                   uint64_t timeout_ns)
{
    if (s_wait_room(ops, p, 1, timeout_ns) == 0)
        return 0;
    ctx->failed += ops->pub_inflight(p);
    return -1;
}

int bench_publish(const bench_ops_t *ops, void *p, const bench_opts_t *o,
                  bench_pub_ctx_t *ctx, uint64_t count, double duration,
                  uint64_t *sent, double *seconds)
{
    uint8_t *buf = malloc(o->size);
    if (!buf)
        return -1;
    memset(buf, 'x', o->size);
    uint64_t timeout_ns = (uint64_t)(o->timeout * 1e9);
    uint64_t t0 = bench_now_ns();
    uint64_t deadline = t0 + (uint64_t)(duration * 1e9);
    uint64_t n = 0;
    int rc = 0;
    while (n < count) {
        if (ops->pub_inflight(p) >= o->window &&
            s_wait_room(ops, p, o->window, timeout_ns) < 0) {
            rc = -1;
            break;
        }
        uint64_t now = bench_now_ns();
        if (now >= deadline)
            break;
        bench_stamp(buf, o->size, now, BENCH_MEASURED);
        if (ops->pub_send(p, buf, o->size, now) < 0) {
            rc = -1;
            break;
        }
        n++;
    }
    if (s_drain(ops, p, ctx, timeout_ns) < 0)
        rc = -1;
    free(buf);
    *sent = n;
    uint64_t end = ctx->last_ack_ns > t0 ? ctx->last_ack_ns : bench_now_ns();
    *seconds = (double)(end - t0) / 1e9;
    return rc;
}

/* Publish at rate events/s (paced; when it falls behind it catches up as
 * fast as the window allows) until duration passes, count events are sent,
 * or *stop turns non-zero. Stamps sent events with flags. */
static int s_publish_paced(const bench_ops_t *ops, void *p,
                           const bench_opts_t *o, double rate, double duration,
                           uint64_t count, uint32_t flags, atomic_int *stop,
                           uint64_t *sent)
{
    uint8_t *buf = malloc(o->size);
    if (!buf)
        return -1;
    memset(buf, 'x', o->size);
    uint64_t interval = (uint64_t)(1e9 / rate);
    if (interval == 0)
        interval = 1;
    uint64_t timeout_ns = (uint64_t)(o->timeout * 1e9);
    uint64_t t0 = bench_now_ns(), next = t0;
    uint64_t deadline = t0 + (uint64_t)(duration * 1e9);
    uint64_t n = 0;
    int rc = 0;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (now >= deadline || n >= count || (stop && atomic_load(stop)))
            break;
        while (next <= now && n < count && bench_now_ns() < deadline) {
            if (ops->pub_inflight(p) >= o->window &&
                s_wait_room(ops, p, o->window, timeout_ns) < 0) {
                rc = -1;
                goto out;
            }
            uint64_t ts = bench_now_ns();
            bench_stamp(buf, o->size, ts, flags);
            if (ops->pub_send(p, buf, o->size, ts) < 0) {
                rc = -1;
                goto out;
            }
            n++;
            next += interval;
        }
        if (ops->pub_poll(p, 0) < 0) {
            rc = -1;
            break;
        }
        now = bench_now_ns();
        if (next > now)
            bench_sleep_ns(next - now < 1000000 ? next - now : 1000000);
    }
out:
    free(buf);
    *sent = n;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Modes                                                                     */

static int s_ingest(const bench_ops_t *ops, const bench_opts_t *o)
{
    bench_pub_ctx_t ctx = {s_hist_new(), 0, 0, 0};
    void *p = ops->pub_new(o, o->window, 0, &ctx);
    if (!p) {
        free(ctx.lat);
        return 1;
    }
    uint64_t sent = 0;
    double secs = 0;
    int rc =
        bench_publish(ops, p, o, &ctx, o->count, o->duration, &sent, &secs);
    ops->pub_destroy(p);
    bench_result_t r = {"ingest",
                        ctx.acked,
                        ctx.failed,
                        secs,
                        secs > 0 ? (double)ctx.acked / secs : 0,
                        ctx.lat,
                        -1,
                        -1,
                        NULL};
    bench_result_print(o, &r);
    free(ctx.lat);
    return rc < 0 || ctx.failed ? 1 : 0;
}

typedef struct s_multi_pub {
    const bench_ops_t *ops;
    const bench_opts_t *o;
    pthread_barrier_t *go;
    uint32_t id;
    bench_pub_ctx_t ctx;
    void *p;
    uint64_t sent;
    double secs;
    int rc;
} s_multi_pub_t;

static void *s_multi_thread(void *arg)
{
    s_multi_pub_t *m = arg;
    uint64_t per = (m->o->count + m->o->publishers - 1) / m->o->publishers;
    pthread_barrier_wait(m->go);
    if (m->p)
        m->rc = bench_publish(m->ops, m->p, m->o, &m->ctx, per, m->o->duration,
                              &m->sent, &m->secs);
    return NULL;
}

static int s_multi(const bench_ops_t *ops, const bench_opts_t *o)
{
    uint32_t np = o->publishers;
    s_multi_pub_t *m = calloc(np, sizeof *m);
    pthread_t *th = calloc(np, sizeof *th);
    pthread_barrier_t go;
    int rc = 0;
    if (!m || !th)
        return 1;
    pthread_barrier_init(&go, NULL, np);
    /* Open every connection first, so that they all start together. */
    for (uint32_t i = 0; i < np; i++) {
        m[i] = (s_multi_pub_t){ops,  o, &go, i, {s_hist_new(), 0, 0, 0},
                               NULL, 0, 0,   0};
        m[i].p = ops->pub_new(o, o->window, i, &m[i].ctx);
        if (!m[i].p)
            rc = 1;
    }
    for (uint32_t i = 0; i < np; i++)
        pthread_create(&th[i], NULL, s_multi_thread, &m[i]);
    bench_hist_t *lat = s_hist_new();
    uint64_t acked = 0, failed = 0;
    double secs = 0;
    for (uint32_t i = 0; i < np; i++) {
        pthread_join(th[i], NULL);
        if (m[i].p)
            ops->pub_destroy(m[i].p);
        if (m[i].rc < 0)
            rc = 1;
        bench_hist_merge(lat, m[i].ctx.lat);
        acked += m[i].ctx.acked;
        failed += m[i].ctx.failed;
        if (m[i].secs > secs)
            secs = m[i].secs;
        free(m[i].ctx.lat);
    }
    pthread_barrier_destroy(&go);
    bench_result_t r = {
        "multi", acked, failed, secs, secs > 0 ? (double)acked / secs : 0,
        lat,     -1,    -1,     NULL};
    bench_result_print(o, &r);
    free(lat);
    free(m);
    free(th);
    return rc || failed ? 1 : 0;
}

/* --- fanout -----------------------------------------------------------------
 */

typedef struct s_sub {
    const bench_ops_t *ops;
    const bench_opts_t *o;
    uint32_t id;
    atomic_int *stop;
    uint64_t hard_deadline;
    atomic_uint_fast64_t warm, measured;
    atomic_uint_fast64_t last_ns;
    atomic_int opened; /* 1 open, -1 failed */
    bench_hist_t *lat;
} s_sub_t;

static void s_sub_deliver(const uint8_t *payload, size_t len, void *user)
{
    s_sub_t *s = user;
    uint64_t sent, now = bench_now_ns();
    uint32_t flags;
    if (bench_unstamp(payload, len, &sent, &flags) < 0)
        return;
    if (flags & BENCH_MEASURED) {
        bench_hist_add(s->lat, now - sent);
        atomic_fetch_add(&s->measured, 1);
        atomic_store(&s->last_ns, now);
    } else {
        atomic_fetch_add(&s->warm, 1);
    }
}

static void *s_sub_thread(void *arg)
{
    s_sub_t *s = arg;
    void *h = s->ops->sub_new(s->o, s->id);
    atomic_store(&s->opened, h ? 1 : -1);
    if (!h)
        return NULL;
    while (!atomic_load(s->stop) && bench_now_ns() < s->hard_deadline) {
        if (s->ops->sub_recv(h, 50, s_sub_deliver, s) < 0) {
            fprintf(stderr, "bench: subscriber %u failed\n", s->id);
            break;
        }
    }
    s->ops->sub_destroy(h);
    return NULL;
}

static int s_subs_all(s_sub_t *subs, uint32_t n, int warm)
{
    for (uint32_t i = 0; i < n; i++) {
        if (atomic_load(&subs[i].opened) < 0)
            return -1;
        if (warm ? atomic_load(&subs[i].warm) == 0
                 : atomic_load(&subs[i].opened) == 0)
            return 0;
    }
    return 1;
}

static int s_fanout(const bench_ops_t *ops, const bench_opts_t *o)
{
    if (!ops->sub_new) {
        fprintf(stderr, "bench: %s has no live subscribers\n", ops->system);
        return 2;
    }
    uint32_t ns = o->subscribers ? o->subscribers : 1;
    atomic_int stop = 0;
    uint64_t timeout_ns = (uint64_t)(o->timeout * 1e9);
    /* Warm-up (at most 10 s), the measured phase, the wait for deliveries:
     * nothing runs past this. */
    uint64_t hard =
        bench_now_ns() + (uint64_t)((o->duration + 20) * 1e9) + 2 * timeout_ns;
    s_sub_t *subs = calloc(ns, sizeof *subs);
    pthread_t *th = calloc(ns, sizeof *th);
    if (!subs || !th)
        return 1;
    for (uint32_t i = 0; i < ns; i++) {
        s_sub_t *s = &subs[i];
        s->ops = ops;
        s->o = o;
        s->id = i;
        s->stop = &stop;
        s->hard_deadline = hard;
        atomic_init(&s->warm, 0);
        atomic_init(&s->measured, 0);
        atomic_init(&s->last_ns, 0);
        atomic_init(&s->opened, 0);
        s->lat = s_hist_new();
        pthread_create(&th[i], NULL, s_sub_thread, s);
    }
    bench_pub_ctx_t ctx = {NULL, 0, 0, 0};
    void *p = NULL;
    int rc = 0, ready;
    uint64_t until = bench_now_ns() + 10000000000u;
    while ((ready = s_subs_all(subs, ns, 0)) == 0 && bench_now_ns() < until)
        bench_sleep_ns(1000000);
    if (ready != 1) {
        fprintf(stderr, "bench: subscribers did not open\n");
        rc = 1;
        goto out;
    }
    p = ops->pub_new(o, o->window, 0, &ctx);
    if (!p) {
        rc = 1;
        goto out;
    }

    /* Warm up: publish until every subscriber has received something, so
     * the subscriptions are in place before the clock starts. */
    uint64_t sent = 0;
    double warm_rate = o->rate > 0 ? o->rate : 1000;
    for (int tries = 0; tries < 100; tries++) {
        uint64_t n = 0;
        if (s_publish_paced(ops, p, o, warm_rate, 0.1, UINT64_MAX, 0, NULL,
                            &n) < 0) {
            rc = 1;
            goto out;
        }
        if (s_subs_all(subs, ns, 1) == 1)
            break;
    }
    if (s_subs_all(subs, ns, 1) != 1) {
        fprintf(stderr, "bench: subscribers receive nothing\n");
        rc = 1;
        goto out;
    }
    if (s_drain(ops, p, &ctx, timeout_ns) < 0) {
        rc = 1;
        goto out;
    }
    uint64_t failed_before = ctx.failed;

    /* Measured phase. */
    uint64_t t0 = bench_now_ns();
    double pub_secs = 0;
    if (o->rate > 0) {
        rc = s_publish_paced(ops, p, o, o->rate, o->duration, o->count,
                             BENCH_MEASURED, NULL, &sent) < 0;
        if (s_drain(ops, p, &ctx, timeout_ns) < 0)
            rc = 1;
        pub_secs = (double)(bench_now_ns() - t0) / 1e9;
    } else {
        rc = bench_publish(ops, p, o, &ctx, o->count, o->duration, &sent,
                           &pub_secs) < 0;
    }
    uint64_t pub_end = bench_now_ns();
    /* Wait for every subscriber to have everything, up to the timeout. */
    uint64_t wait_until = pub_end + timeout_ns;
    for (;;) {
        int all = 1;
        for (uint32_t i = 0; i < ns; i++)
            if (atomic_load(&subs[i].measured) < sent)
                all = 0;
        if (all || bench_now_ns() > wait_until)
            break;
        bench_sleep_ns(2000000);
    }
    atomic_store(&stop, 1);
    for (uint32_t i = 0; i < ns; i++)
        pthread_join(th[i], NULL);
    bench_hist_t *lat = s_hist_new();
    uint64_t delivered = 0, last = t0;
    for (uint32_t i = 0; i < ns; i++) {
        bench_hist_merge(lat, subs[i].lat);
        delivered += atomic_load(&subs[i].measured);
        uint64_t l = atomic_load(&subs[i].last_ns);
        if (l > last)
            last = l;
    }
    uint64_t expected = sent * ns;
    double secs = (double)(last - t0) / 1e9;
    bench_result_t r = {"fanout",
                        delivered,
                        (expected > delivered ? expected - delivered : 0) +
                            (ctx.failed - failed_before),
                        secs,
                        secs > 0 ? (double)delivered / ns / secs : 0,
                        lat,
                        pub_secs > 0 ? (double)sent / pub_secs : 0,
                        (int64_t)expected,
                        NULL};
    bench_result_print(o, &r);
    free(lat);
    ops->pub_destroy(p);
    for (uint32_t i = 0; i < ns; i++)
        free(subs[i].lat);
    free(subs);
    free(th);
    return rc || r.errors ? 1 : 0;
out:
    atomic_store(&stop, 1);
    for (uint32_t i = 0; i < ns; i++)
        pthread_join(th[i], NULL);
    if (p)
        ops->pub_destroy(p);
    for (uint32_t i = 0; i < ns; i++)
        free(subs[i].lat);
    free(subs);
    free(th);
    return rc;
}

/* --- replay -----------------------------------------------------------------
 */

typedef struct s_replay_count {
    uint64_t n, bytes;
} s_replay_count_t;

static void s_replay_one(const uint8_t *payload, size_t len, void *user)
{
    s_replay_count_t *c = user;
    c->n++;
    c->bytes += len;
}

static int s_replay(const bench_ops_t *ops, const bench_opts_t *o)
{
    if (!ops->replay) {
        fprintf(stderr, "bench: %s cannot replay\n", ops->system);
        return 2;
    }
    s_replay_count_t c = {0, 0};
    uint64_t t0 = bench_now_ns();
    int64_t got = ops->replay(o, o->count, s_replay_one, &c);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    char extra[64];
    snprintf(extra, sizeof extra, "\"payload_bytes\":%llu",
             (unsigned long long)c.bytes);
    bench_result_t r = {"replay",
                        c.n,
                        c.n < o->count ? o->count - c.n : 0,
                        secs,
                        secs > 0 ? (double)c.n / secs : 0,
                        NULL,
                        -1,
                        -1,
                        extra};
    bench_result_print(o, &r);
    return got < 0 || c.n < o->count ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

static void s_usage(FILE *f, const char *prog, const bench_ops_t *ops)
{
    fprintf(f,
            "usage: %s --mode MODE [options]\n"
            "  --mode M          ingest | multi | fanout | replay%s\n"
            "  --window N        events in flight before waiting (1)\n"
            "  --batch N         ratusz: events per PUBB request (min(window, "
            "64))\n"
            "  --count N         most events to publish or read (10000000)\n"
            "  --duration S      most seconds to publish (5)\n"
            "  --size BYTES      payload size (256)\n"
            "  --publishers N    multi: concurrent publishers (16)\n"
            "  --subscribers N   fanout: subscribers (1)\n"
            "  --rate R          fanout: events/s, 0 = as fast as it goes\n"
            "  --queries N       scale: queries per step; get: GETs (1000)\n"
            "  --subjects N      distinct subjects (10000)\n"
            "  --timeout S       wait for acks/deliveries at the end (30)\n"
            "  --label NAME      system name in the output (%s)\n"
            "  --endpoint EP     ratusz front (tcp://127.0.0.1:7600)\n"
            "  --stream EP       ratusz stream (tcp://127.0.0.1:7601)\n"
            "  --host H --port P redis, mqtt (127.0.0.1)\n"
            "  --url U           nats (nats://127.0.0.1:4222)\n"
            "  --key FILE        ratusz: this client's secret key (CURVE)\n"
            "  --server-key K    ratusz: the broker's .pub file or Z85 key\n"
            "  --sub watch|stream  ratusz: subscribers use WATCH on the front\n"
            "                    (default) or SUB on the stream socket\n"
            "Prints one JSON line of results.\n",
            prog, ops->own_mode ? " | scale | get" : "", ops->system);
}

static int s_parse_u(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int s_parse_d(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0))
        return -1;
    *out = v;
    return 0;
}

/* The exit status of the mode, or -2 when there is no such mode. */
static int s_run_mode(const bench_ops_t *ops, const bench_opts_t *o)
{
    if (!strcmp(o->mode, "ingest"))
        return s_ingest(ops, o);
    if (!strcmp(o->mode, "multi"))
        return s_multi(ops, o);
    if (!strcmp(o->mode, "fanout"))
        return s_fanout(ops, o);
    if (!strcmp(o->mode, "replay"))
        return s_replay(ops, o);
    return ops->own_mode ? ops->own_mode(o) : -2;
}

int bench_main(const bench_ops_t *ops, int argc, char **argv)
{
    bench_opts_t o = {
        .mode = "ingest",
        .label = ops->system,
        .window = 1,
        .count = 10000000,
        .duration = 5,
        .size = 256,
        .publishers = 16,
        .subscribers = 1,
        .rate = 0,
        .queries = 1000,
        .subjects = 10000,
        .endpoint = "tcp://127.0.0.1:7600",
        .stream = "tcp://127.0.0.1:7601",
        .host = "127.0.0.1",
        .port = 0,
        .url = "nats://127.0.0.1:4222",
        .timeout = 30,
    };
    static const struct option lopts[] = {
        {"mode", required_argument, 0, 'm'},
        {"window", required_argument, 0, 'w'},
        {"batch", required_argument, 0, 'b'},
        {"count", required_argument, 0, 'n'},
        {"duration", required_argument, 0, 'd'},
        {"size", required_argument, 0, 's'},
        {"publishers", required_argument, 0, 'P'},
        {"subscribers", required_argument, 0, 'S'},
        {"rate", required_argument, 0, 'r'},
        {"queries", required_argument, 0, 'q'},
        {"subjects", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, 't'},
        {"label", required_argument, 0, 'l'},
        {"endpoint", required_argument, 0, 'e'},
        {"stream", required_argument, 0, 'E'},
        {"sub", required_argument, 0, 'B'},
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"url", required_argument, 0, 'u'},
        {"key", required_argument, 0, 'k'},
        {"server-key", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c, li = 0;
    uint64_t u = 0;
    while ((c = getopt_long(argc, argv, "h", lopts, &li)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': o.mode = optarg; break;
        case 'w':
            bad = s_parse_u(optarg, 1u << 20, &u) || u == 0;
            o.window = (uint32_t)u;
            break;
        case 'b':
            bad = s_parse_u(optarg, 10000, &u);
            o.batch = (uint32_t)u;
            break;
        case 'n': bad = s_parse_u(optarg, UINT64_MAX, &o.count); break;
        case 'd': bad = s_parse_d(optarg, &o.duration); break;
        case 's':
            bad = s_parse_u(optarg, 1u << 20, &u) || u < BENCH_STAMP_LEN;
            o.size = (size_t)u;
            break;
        case 'P':
            bad = s_parse_u(optarg, 1024, &u) || u == 0;
            o.publishers = (uint32_t)u;
            break;
        case 'S':
            bad = s_parse_u(optarg, 1024, &u) || u == 0;
            o.subscribers = (uint32_t)u;
            break;
        case 'r': bad = s_parse_d(optarg, &o.rate); break;
        case 'q':
            bad = s_parse_u(optarg, 10000000, &u);
            o.queries = (uint32_t)u;
            break;
        case 'j':
            bad = s_parse_u(optarg, 100000000, &u) || u == 0;
            o.subjects = (uint32_t)u;
            break;
        case 't': bad = s_parse_d(optarg, &o.timeout); break;
        case 'l': o.label = optarg; break;
        case 'e': o.endpoint = optarg; break;
        case 'E': o.stream = optarg; break;
        case 'B':
            bad = strcmp(optarg, "watch") && strcmp(optarg, "stream");
            o.sub = optarg;
            break;
        case 'H': o.host = optarg; break;
        case 'p':
            bad = s_parse_u(optarg, 65535, &u);
            o.port = (int)u;
            break;
        case 'u': o.url = optarg; break;
        case 'k': o.key = optarg; break;
        case 'K': o.server_key = optarg; break;
        case 'h': s_usage(stdout, argv[0], ops); return 0;
        default: s_usage(stderr, argv[0], ops); return 2;
        }
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for --%s\n", argv[0], optarg,
                    lopts[li].name);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
                argv[optind]);
        return 2;
    }
    if (!ops->setup && (o.key || o.server_key)) {
        fprintf(stderr, "%s: %s takes no --key or --server-key\n", argv[0],
                ops->system);
        return 2;
    }
    int rc = ops->setup ? ops->setup(&o) : 0;
    if (rc)
        return rc;
    rc = s_run_mode(ops, &o);
    if (rc == -2) {
        fprintf(stderr, "%s: unknown mode '%s'\n", argv[0], o.mode);
        s_usage(stderr, argv[0], ops);
        rc = 2;
    }
    if (ops->teardown)
        ops->teardown();
    return rc;
}
