/* rz_load.c - Ratusz load generator (libratusz): ingest, multi, fanout,
 * replay (see load.h), scale and get.
 *
 *   rz-bench-load --mode ingest --window 256 --duration 5 \
 *                 --endpoint tcp://127.0.0.1:7600
 *   rz-bench-load --mode scale --count 1000000 --window 4096 --queries 1000
 *   rz-bench-load --mode get --count 20000 --window 4096 --queries 5000 \
 *                 --key bench.key --server-key ratuszd.pub
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
 *
 * get: publish --count tax assessments whose taxpayer is a person (PESEL,
 * name, address: personal data), then GET --queries of them by seq, one
 * at a time, and print the GET latency and GETs/s. A principal without
 * personal_data gets them pseudonymised ("redacted":true): the program
 * checks that the event's PESEL is then nowhere in the bytes it received,
 * and that an event not redacted does hold it; either failure counts as
 * an error.
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
    int stream = o->sub && !strcmp(o->sub, "stream");
    if (s->c)
        s->s = stream ? rz_sub_new(s->c, o->stream, S_TOPIC_PREFIX)
                      : rz_watch_new(s->c, S_TOPIC_PREFIX, 0);
    if (!s->s) {
        fprintf(stderr, "rz_load: cannot subscribe at %s\n",
                stream ? o->stream : o->endpoint);
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

/* ------------------------------------------------------------------------ */
/* get: one event by seq, with personal data in it                           */

#define S_TAX_SOURCE "/2261011/tax/bench"
#define S_TAX_TYPE "pl.gov.gmina.tax.assessment.v1"
#define S_TAX_TENANT "2261011"
#define S_PESEL_LEN 11

/* The n-th taxpayer's PESEL: a valid one (date of birth 1940-1999, serial,
 * check digit), so the event looks like what the tax adapter sends. */
static void s_pesel(uint64_t n, char out[S_PESEL_LEN + 1])
{
    static const int weight[10] = {1, 3, 7, 9, 1, 3, 7, 9, 1, 3};
    unsigned day = 1 + (unsigned)(n % 28);
    unsigned month = 1 + (unsigned)(n / 28 % 12);
    unsigned year = (unsigned)(40 + n / 336 % 60);
    unsigned serial = (unsigned)(n % 10000);
    snprintf(out, S_PESEL_LEN + 1, "%02u%02u%02u%04u0", year, month, day,
             serial);
    int sum = 0;
    for (int i = 0; i < 10; i++)
        sum += (out[i] - '0') * weight[i];
    out[10] = (char)('0' + (10 - sum % 10) % 10);
}

typedef struct s_tax {
    Ratusz__V1__Event ev;
    Ratusz__V1__TaxAssessment tax;
    Ratusz__V1__Party party;
    Ratusz__V1__TaxObject obj;
    Ratusz__V1__TaxObject *objs[1];
    char run[48];
    char id[96];
    char subject[64];
    char doc[48];
    char parcel[48];
    char pesel[S_PESEL_LEN + 1];
    char name[64];
    char address[96];
    char account[32];
} s_tax_t;

static void s_tax_init(s_tax_t *t)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party party = RATUSZ__V1__PARTY__INIT;
    Ratusz__V1__TaxObject obj = RATUSZ__V1__TAX_OBJECT__INIT;
    t->ev = ev;
    t->tax = tax;
    t->party = party;
    t->obj = obj;
    snprintf(t->run, sizeof t->run, "%d-%lld", (int)getpid(),
             (long long)rz_now_us());
    t->ev.source = S_TAX_SOURCE;
    t->ev.type = S_TAX_TYPE;
    t->ev.tenant = S_TAX_TENANT;
    t->ev.id = t->id;
    t->ev.subject = t->subject;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    t->ev.tax = &t->tax;
    t->tax.document_id = t->doc;
    t->tax.form = "DN-1";
    t->tax.tax_year = 2026;
    t->tax.taxpayer = &t->party;
    t->tax.account = t->account;
    t->objs[0] = &t->obj;
    t->tax.n_objects = 1;
    t->tax.objects = t->objs;
    t->party.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    t->party.pesel = t->pesel;
    t->party.name = t->name;
    t->party.address = t->address;
    t->obj.kind = "grunt";
    t->obj.parcel_id = t->parcel;
    t->obj.use = "mieszkalny";
    t->obj.base_unit = "m2";
    t->obj.rate_grosze = 126000; /* 1.26 PLN per m2, x1000 */
}

/* Make t the n-th assessment. */
static void s_tax_fill(s_tax_t *t, uint64_t n)
{
    static const char *first[] = {"Anna", "Jan", "Maria", "Piotr",
                                  "Katarzyna", "Tomasz", "Agnieszka",
                                  "Paweł"};
    static const char *last[] = {"Nowak", "Kowalski", "Wiśniewska",
                                 "Wójcik", "Kamińska", "Lewandowski",
                                 "Zielińska", "Szymański"};
    unsigned long long u = (unsigned long long)n;
    snprintf(t->id, sizeof t->id, "%s-%012llu", t->run, u);
    snprintf(t->parcel, sizeof t->parcel, "226101_1.%04llu.%llu/%llu",
             u / 100000 % 10000, u % 100000, u % 7 + 1);
    snprintf(t->subject, sizeof t->subject, "parcel:%s", t->parcel);
    snprintf(t->doc, sizeof t->doc, "DN-1/2026/%llu", u);
    s_pesel(n, t->pesel);
    snprintf(t->name, sizeof t->name, "%s %s", first[n % 8],
             last[n / 8 % 8]);
    snprintf(t->address, sizeof t->address,
             "ul. Długa %llu m. %llu, 80-827 Gdańsk", u % 120 + 1,
             u % 40 + 1);
    snprintf(t->account, sizeof t->account, "PT-%010llu", u);
    t->obj.base_milli = (int64_t)(400000 + n % 2000 * 1000);
    t->obj.tax_grosze = t->obj.base_milli * t->obj.rate_grosze / 1000000;
    t->tax.total_grosze = t->obj.tax_grosze;
    t->tax.due_date = 1776211200000000; /* 2026-03-15 */
    t->ev.time = rz_now_us();
}

typedef struct s_get_pub {
    uint64_t *seq; /* by n, 0 until acked */
    uint64_t acked, failed;
} s_get_pub_t;

static void s_get_on_ack(const rz_ack_t *a, void *user)
{
    s_get_pub_t *g = user;
    uint64_t n = (uint64_t)(uintptr_t)a->arg;
    if (a->code == 0) {
        g->seq[n] = a->seq;
        g->acked++;
    } else {
        g->failed++;
    }
}

typedef struct s_get_check {
    uint64_t seq;
    const char *pesel;
    uint64_t redacted; /* replies with Event.redaction set */
    uint64_t leaks;    /* redacted, and the PESEL is in the bytes */
    uint64_t missing;  /* not redacted, and the PESEL is not there */
    uint64_t wrong;    /* another seq, or not a tax assessment */
    uint64_t bytes;
} s_get_check_t;

static int s_get_event(const rz_event_t *e, void *user)
{
    s_get_check_t *k = user;
    const Ratusz__V1__Event *m = e->msg;
    k->bytes += e->raw_len;
    if (m->seq != k->seq || m->data_case != RATUSZ__V1__EVENT__DATA_TAX ||
        !m->tax || !m->tax->taxpayer) {
        k->wrong++;
        return 0;
    }
    int found = memmem(e->raw, e->raw_len, k->pesel, S_PESEL_LEN) != NULL;
    if (m->redaction && *m->redaction) {
        k->redacted++;
        k->leaks += found;
    } else {
        k->missing += !found;
    }
    return 0;
}

/* Publish the assessments (window --window), as fast as acks allow, for
 * at most --duration. Returns 0 or -1. */
static int s_get_fill(const bench_opts_t *o, s_get_pub_t *g, uint64_t *sent,
                      double *secs)
{
    uint32_t batch = o->batch ? o->batch : (o->window < 64 ? o->window : 64);
    if (batch > o->window)
        batch = o->window;
    rz_client_t *c = s_client_new(o, o->window, batch);
    s_tax_t *t = calloc(1, sizeof *t);
    int rc = 0;
    *sent = 0;
    if (!c || !t) {
        fprintf(stderr, "rz_load: cannot connect to %s\n", o->endpoint);
        rc = -1;
        goto out;
    }
    rz_client_set_ack_cb(c, s_get_on_ack, g);
    s_tax_init(t);
    uint64_t t0 = bench_now_ns();
    uint64_t deadline = t0 + (uint64_t)(o->duration * 1e9);
    uint64_t n;
    for (n = 0; n < o->count && bench_now_ns() < deadline; n++) {
        s_tax_fill(t, n);
        int prc = rz_publish(c, &t->ev, (void *)(uintptr_t)n);
        if (prc < 0) {
            fprintf(stderr, "rz_load: publish: %s\n", rz_strerror(prc));
            rc = -1;
            break;
        }
    }
    *sent = n;
    if (rz_flush(c, (int)(o->timeout * 1000)) < 0) {
        fprintf(stderr, "rz_load: %zu events not acked in %.0f s\n",
                rz_inflight(c), o->timeout);
        g->failed += rz_inflight(c);
        rc = -1;
    }
    *secs = (double)(bench_now_ns() - t0) / 1e9;
out:
    rz_client_destroy(&c);
    free(t);
    return rc;
}

static int s_get(const bench_opts_t *o)
{
    int rc = 0;
    s_get_pub_t g = {calloc(o->count ? o->count : 1, sizeof(uint64_t)), 0, 0};
    bench_hist_t *lat = calloc(1, sizeof *lat);
    rz_client_t *c = NULL;
    if (!g.seq || !lat) {
        fprintf(stderr, "rz_load: no memory for %llu seqs\n",
                (unsigned long long)o->count);
        rc = 1;
        goto out;
    }
    uint64_t sent = 0;
    double fill_secs = 0;
    if (s_get_fill(o, &g, &sent, &fill_secs) < 0)
        rc = 1;

    /* The reader: one request at a time. WHOAMI first, which also makes
     * the connection (and the CURVE handshake) before the clock starts. */
    c = s_client_new(o, 1, 1);
    char principal[128] = "?";
    int cleared = -1;
    Ratusz__V1__Whoami *w = NULL;
    if (c && rz_whoami(c, &w) == 0) {
        snprintf(principal, sizeof principal, "%s", w->principal);
        cleared = w->personal_data;
        ratusz__v1__whoami__free_unpacked(w, NULL);
    }
    s_get_check_t k = {0};
    uint64_t ok = 0, failed = 0, done = 0;
    double secs = 0;
    uint64_t *acked = c && g.acked ? malloc(g.acked * sizeof *acked) : NULL;
    if (acked) {
        /* the events acked, by publishing order n: n gives the PESEL,
         * g.seq[n] the seq */
        uint64_t nacked = 0;
        for (uint64_t n = 0; n < sent && nacked < g.acked; n++)
            if (g.seq[n])
                acked[nacked++] = n;
        uint64_t rnd = 88172645463325252ull ^ (uint64_t)rz_now_us();
        uint64_t warm = nacked < 20 ? nacked : 20;
        uint64_t t0 = 0, deadline = 0;
        char pesel[S_PESEL_LEN + 1];
        for (uint64_t i = 0; i < warm + o->queries; i++) {
            if (i == warm) {
                k = (s_get_check_t){0};
                t0 = bench_now_ns();
                deadline = t0 + (uint64_t)(o->duration * 1e9);
            } else if (i > warm && bench_now_ns() >= deadline) {
                break;
            }
            /* xorshift64: an acked event at random */
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            uint64_t n = acked[rnd % nacked];
            s_pesel(n, pesel);
            k.pesel = pesel;
            k.seq = g.seq[n];
            uint64_t t = bench_now_ns();
            int grc = rz_get_seq(c, k.seq, s_get_event, &k);
            uint64_t dt = bench_now_ns() - t;
            if (i < warm)
                continue;
            done++;
            bench_hist_add(lat, dt);
            if (grc == 1) {
                ok++;
            } else {
                failed++;
                if (failed <= 3)
                    fprintf(stderr, "rz_load: get seq %llu: %s %s\n",
                            (unsigned long long)k.seq, rz_strerror(grc),
                            rz_client_last_error(c));
            }
        }
        if (t0)
            secs = (double)(bench_now_ns() - t0) / 1e9;
        free(acked);
    } else {
        fprintf(stderr, "rz_load: nothing to get (%llu events acked)\n",
                (unsigned long long)g.acked);
        rc = 1;
    }
    if (k.leaks)
        fprintf(stderr,
                "rz_load: %llu redacted events still held their PESEL\n",
                (unsigned long long)k.leaks);
    if (k.missing || k.wrong)
        fprintf(stderr,
                "rz_load: %llu unredacted events without their PESEL, %llu "
                "of another seq or kind\n",
                (unsigned long long)k.missing, (unsigned long long)k.wrong);
    char extra[768];
    snprintf(extra, sizeof extra,
             "\"principal\":\"%s\",\"personal_data\":%s,"
             "\"published\":%llu,\"publish_failed\":%llu,"
             "\"publish_events_per_s\":%.6g,\"queries\":%llu,"
             "\"get_failed\":%llu,\"redacted\":%s,\"redacted_gets\":%llu,"
             "\"pesel_leaks\":%llu,\"pesel_missing\":%llu,"
             "\"wrong_events\":%llu,\"get_bytes\":%.6g",
             principal,
             cleared < 0 ? "null" : cleared ? "true" : "false",
             (unsigned long long)g.acked, (unsigned long long)g.failed,
             fill_secs > 0 ? (double)g.acked / fill_secs : 0,
             (unsigned long long)done, (unsigned long long)failed,
             ok && k.redacted == ok ? "true" : "false",
             (unsigned long long)k.redacted, (unsigned long long)k.leaks,
             (unsigned long long)k.missing, (unsigned long long)k.wrong,
             ok ? (double)k.bytes / (double)ok : 0);
    bench_result_t r = {"get",
                        ok,
                        failed + g.failed + k.leaks + k.missing + k.wrong,
                        secs,
                        secs > 0 ? (double)ok / secs : 0,
                        lat,
                        -1,
                        -1,
                        extra};
    bench_result_print(o, &r);
    if (r.errors)
        rc = 1;
out:
    rz_client_destroy(&c);
    free(g.seq);
    free(lat);
    return rc;
}

static int s_own_mode(const bench_opts_t *o)
{
    if (!strcmp(o->mode, "scale"))
        return s_scale(o);
    if (!strcmp(o->mode, "get"))
        return s_get(o);
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
