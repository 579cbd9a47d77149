/* rz_load.c - Ratusz load generator (libratusz): ingest, multi, fanout,
 * replay (see load.h) and scale.
 *
 *   rz-bench-load --mode ingest --window 256 --duration 5 \
 *                 --endpoint tcp://127.0.0.1:7600
 *   rz-bench-load --mode scale --count 1000000 --window 4096 --queries 1000
 *
 * --key FILE and --server-key FILE|Z85 (ratusz/keyopts.h) turn CURVE on
 * for every client and subscription the program makes.
 *
 * Events are what an adapter publishes: id, source, type, tenant, subject
 * ("unit:N", spread over --subjects), time, and --size bytes of raw data.
 * "Window N" is rz_client_opts_t.window = N, with batch = min(N, 64)
 * events per PUBB request unless --batch says otherwise.
 *
 * scale: publish --count events (one step of a growing store), then run
 * --queries subject queries (10 events of a random subject since the step
 * began) and print the ingest rate, ack latency and query latency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "ratusz/keyopts.h"
#include "ratusz/ratusz.h"

#define S_SOURCE "/1261011/bench/load"
#define S_TYPE "pl.gov.gmina.bench.load.v1"
#define S_TENANT "1261011"
#define S_TOPIC_PREFIX "1261011.bench."

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */

/* --key/--server-key, loaded once by s_setup before any thread starts;
 * every client borrows its strings. */
static rz_keyopts_t s_keys;

static int s_setup(const bench_opts_t *o)
{
    char err[512] = "";
    if (rz_keyopts_load(&s_keys, o->key, o->server_key, err, sizeof err) < 0) {
        fprintf(stderr, "rz_load: %s\n", err);
        return 2;
    }
    return 0;
}

static void s_teardown(void)
{
    rz_keyopts_close(&s_keys);
}

/* A client of the front with the program's keys. NULL on failure. */
static rz_client_t *s_client_new(const bench_opts_t *o, uint32_t window,
                                 uint32_t batch)
{
    rz_client_opts_t co = {.window = window,
                           .batch = batch,
                           .timeout_ms = (int)(o->timeout * 1000)};
    rz_keyopts_apply(&s_keys, &co);
    return rz_client_new(o->endpoint, &co);
}

/* ------------------------------------------------------------------------ */
/* Publisher                                                                 */

typedef struct s_pub {
    rz_client_t *c;
    bench_pub_ctx_t *ctx;
    uint64_t *sent_ns; /* by slot, the arg of each rz_publish */
    uint64_t mask;
    uint64_t n;
    uint32_t subjects;
    char run[48];
    char id[96];
    char subject[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__RawData raw;
} s_pub_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_pub_t *p = user;
    uint64_t slot = (uint64_t)(uintptr_t)a->arg;
    bench_acked(p->ctx, p->sent_ns[slot & p->mask], a->code == 0);
}

static void *s_pub_new(const bench_opts_t *o, uint32_t window, uint32_t id,
                       bench_pub_ctx_t *ctx)
{
    s_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    uint32_t batch = o->batch ? o->batch : (window < 64 ? window : 64);
    if (batch > window)
        batch = window;
    p->c = s_client_new(o, window, batch);
    uint64_t cap = 1;
    while (cap < 2 * (uint64_t)window)
        cap <<= 1;
    p->sent_ns = calloc(cap, sizeof *p->sent_ns);
    if (!p->c || !p->sent_ns) {
        fprintf(stderr, "rz_load: cannot connect to %s\n", o->endpoint);
        rz_client_destroy(&p->c);
        free(p->sent_ns);
        free(p);
        return NULL;
    }
    p->mask = cap - 1;
    p->ctx = ctx;
    p->subjects = o->subjects;
    rz_client_set_ack_cb(p->c, s_on_ack, p);
    snprintf(p->run, sizeof p->run, "%d-%lld-%u", (int)getpid(),
             (long long)rz_now_us(), id);
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    p->ev = ev;
    p->raw = raw;
    p->ev.source = S_SOURCE;
    p->ev.type = S_TYPE;
    p->ev.tenant = S_TENANT;
    p->ev.id = p->id;
    p->ev.subject = p->subject;
    p->ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    p->ev.raw = &p->raw;
    p->raw.content_type = "application/octet-stream";
    return p;
}

static int s_pub_send(void *ph, const uint8_t *payload, size_t len,
                      uint64_t sent_ns)
{
    s_pub_t *p = ph;
    uint64_t n = p->n++;
    snprintf(p->id, sizeof p->id, "%s-%012llu", p->run, (unsigned long long)n);
    snprintf(p->subject, sizeof p->subject, "unit:%llu",
             (unsigned long long)(n % p->subjects));
    p->ev.time = rz_now_us();
    p->raw.bytes.data = (uint8_t *)payload;
    p->raw.bytes.len = len;
    p->sent_ns[n & p->mask] = sent_ns;
    int rc = rz_publish(p->c, &p->ev, (void *)(uintptr_t)(n & p->mask));
    if (rc < 0) {
        fprintf(stderr, "rz_load: publish: %s\n", rz_strerror(rc));
        return -1;
    }
    return 0;
}

static int s_pub_poll(void *ph, int timeout_ms)
{
    s_pub_t *p = ph;
    int rc = rz_pump(p->c, timeout_ms);
    if (rc < 0 && rc != RZ_ETIMEDOUT) {
        fprintf(stderr, "rz_load: pump: %s\n", rz_strerror(rc));
        return -1;
    }
    return rc < 0 ? 0 : rc;
}

static uint64_t s_pub_inflight(void *ph)
{
    s_pub_t *p = ph;
    return rz_inflight(p->c);
}

static void s_pub_destroy(void *ph)
{
    s_pub_t *p = ph;
    rz_client_destroy(&p->c);
    free(p->sent_ns);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Subscriber and replay                                                     */

typedef struct s_sub {
    rz_client_t *c; /* for gap backfill */
    rz_sub_t *s;
} s_sub_t;

typedef struct s_deliver {
    bench_deliver_fn cb;
    void *user;
} s_deliver_t;

static int s_on_event(const rz_event_t *e, void *user)
{
    s_deliver_t *d = user;
    if (e->msg->data_case == RATUSZ__V1__EVENT__DATA_RAW && e->msg->raw)
        d->cb(e->msg->raw->bytes.data, e->msg->raw->bytes.len, d->user);
    return 0;
}

static void *s_sub_new(const bench_opts_t *o, uint32_t id)
{
    s_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = s_client_new(o, 1024, 1);
    if (s->c)
        s->s = rz_sub_new(s->c, o->stream, S_TOPIC_PREFIX);
    if (!s->s) {
        fprintf(stderr, "rz_load: cannot subscribe at %s\n", o->stream);
        rz_client_destroy(&s->c);
        free(s);
        return NULL;
    }
    return s;
}

static int s_sub_recv(void *sh, int timeout_ms, bench_deliver_fn cb, void *user)
{
    s_sub_t *s = sh;
    s_deliver_t d = {cb, user};
    int rc = rz_sub_recv(s->s, s_on_event, &d, timeout_ms);
    if (rc < 0 && rc != RZ_EGAP && rc != RZ_ETIMEDOUT) {
        fprintf(stderr, "rz_load: subscription: %s\n", rz_strerror(rc));
        return -1;
    }
    return rc < 0 ? 0 : rc;
}

static void s_sub_destroy(void *sh)
{
    s_sub_t *s = sh;
    rz_sub_destroy(&s->s);
    rz_client_destroy(&s->c);
    free(s);
}

static int64_t s_replay(const bench_opts_t *o, uint64_t count,
                        bench_deliver_fn cb, void *user)
{
    rz_client_t *c = s_client_new(o, 1024, 1);
    if (!c)
        return -1;
    s_deliver_t d = {cb, user};
    rz_replay_t r = {1, 0, NULL, count, 1000};
    int64_t n = rz_replay(c, &r, s_on_event, &d);
    if (n < 0)
        fprintf(stderr, "rz_load: replay: %s\n", rz_strerror((int)n));
    rz_client_destroy(&c);
    return n;
}

/* ------------------------------------------------------------------------ */
/* scale: one step of a growing store                                        */

static const bench_ops_t s_ops;

typedef struct s_query_count {
    uint64_t n;
} s_query_count_t;

static int s_count_event(const rz_event_t *e, void *user)
{
    s_query_count_t *q = user;
    q->n++;
    return 0;
}

static int s_scale(const bench_opts_t *o)
{
    int rc = 0;
    int64_t since = rz_now_us();
    bench_hist_t *lat = calloc(1, sizeof *lat);
    bench_hist_t *qlat = calloc(1, sizeof *qlat);
    bench_pub_ctx_t ctx = {lat, 0, 0, 0};
    if (!lat || !qlat)
        return 1;
    void *p = s_pub_new(o, o->window, 0, &ctx);
    if (!p) {
        free(lat);
        free(qlat);
        return 1;
    }
    uint64_t sent = 0;
    double secs = 0;
    if (bench_publish(&s_ops, p, o, &ctx, o->count, o->duration, &sent, &secs) <
        0)
        rc = 1;
    s_pub_destroy(p);

    rz_client_t *c = s_client_new(o, 1024, 1);
    uint64_t qevents = 0, qfail = 0, head = 0;
    Ratusz__V1__Health *h = NULL;
    if (c && rz_health(c, &h) == 0) {
        head = h->head_seq;
        ratusz__v1__health__free_unpacked(h, NULL);
    }
    uint64_t seed = 88172645463325252ull ^ (uint64_t)since;
    for (uint32_t i = 0; c && i < o->queries; i++) {
        /* xorshift64: a subject at random, the same way every run */
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        char subject[32];
        snprintf(subject, sizeof subject, "unit:%llu",
                 (unsigned long long)(seed % o->subjects));
        rz_query_t q = {0};
        q.subject = subject;
        q.since = since;
        q.limit = 10;
        s_query_count_t n = {0};
        uint64_t t = bench_now_ns();
        int got = rz_query(c, &q, s_count_event, &n);
        bench_hist_add(qlat, bench_now_ns() - t);
        if (got <= 0)
            qfail++;
        else
            qevents += (uint64_t)got;
    }
    rz_client_destroy(&c);
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"head_seq\":%llu,\"queries\":%u,\"query_failed\":%llu,"
             "\"query_events\":%.2f,\"query_p50_us\":%.6g,"
             "\"query_p99_us\":%.6g,\"query_p999_us\":%.6g",
             (unsigned long long)head, o->queries, (unsigned long long)qfail,
             o->queries ? (double)qevents / o->queries : 0,
             bench_hist_us(qlat, 0.50), bench_hist_us(qlat, 0.99),
             bench_hist_us(qlat, 0.999));
    bench_result_t r = {"scale",
                        ctx.acked,
                        ctx.failed + qfail,
                        secs,
                        secs > 0 ? (double)ctx.acked / secs : 0,
                        lat,
                        -1,
                        -1,
                        extra};
    bench_result_print(o, &r);
    free(lat);
    free(qlat);
    return rc || r.errors ? 1 : 0;
}

static int s_own_mode(const bench_opts_t *o)
{
    if (!strcmp(o->mode, "scale"))
        return s_scale(o);
    return -2;
}

static const bench_ops_t s_ops = {
    .system = "ratusz",
    .pub_new = s_pub_new,
    .pub_send = s_pub_send,
    .pub_poll = s_pub_poll,
    .pub_inflight = s_pub_inflight,
    .pub_destroy = s_pub_destroy,
    .sub_new = s_sub_new,
    .sub_recv = s_sub_recv,
    .sub_destroy = s_sub_destroy,
    .replay = s_replay,
    .own_mode = s_own_mode,
    .setup = s_setup,
    .teardown = s_teardown,
};

int main(int argc, char **argv)
{
    return bench_main(&s_ops, argc, argv);
}
