/* stats.c - broker counters, moving rates, histograms and their Prometheus
 * text rendering */
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/core/text.h"
#include "ratusz/errors.h"
#include "ratusz/wire.h"

/* ===========================================================================
 * Histograms
 *
 * Fixed, log-spaced bucket bounds, so that recording is a short scan and
 * the buckets are the same in every broker and every scrape. The last bound
 * is +Inf: the Histogram message carries as many bounds as counts.
 */

#define S_HIST_MAX 32

/* commit latency, µs: 1-2-5 steps from 1 µs to 10 s */
static const double s_latency_bounds[] = {
    1,   2,   5,   10,  20,  50,  100, 200, 500, 1e3, 2e3,     5e3,
    1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, INFINITY};

/* events per commit: powers of two up to 65536 */
static const double s_batch_bounds[] = {
    1,   2,    4,    8,    16,   32,    64,    128,   256,
    512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, INFINITY};

#define S_NELEM(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(S_NELEM(s_latency_bounds) <= S_HIST_MAX, "S_HIST_MAX");
_Static_assert(S_NELEM(s_batch_bounds) <= S_HIST_MAX, "S_HIST_MAX");

struct s_hist {
    const double *bounds;
    size_t n; /* buckets, including +Inf */
    uint64_t counts[S_HIST_MAX];
    uint64_t count;
    double sum;
    double min, max; /* observed; tighten the quantile estimates */
};

static void s_hist_init(struct s_hist *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n = n;
}

static void s_hist_add(struct s_hist *h, double v)
{
    size_t i = 0;
    while (i + 1 < h->n && v > h->bounds[i])
        i++;
    h->counts[i]++;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
}

/* The q-quantile, interpolated linearly inside the bucket where it falls.
 * The bucket edges are narrowed to the observed min and max, so a
 * histogram of identical values answers that value, and the +Inf bucket
 * has a finite top. */
static double s_hist_quantile(const struct s_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    double rank = q * (double)h->count;
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->counts[i] == 0)
            continue;
        if ((double)(cum + h->counts[i]) >= rank) {
            double lo = i ? h->bounds[i - 1] : 0;
            double hi = h->bounds[i];
            if (lo < h->min)
                lo = h->min;
            if (hi > h->max)
                hi = h->max;
            if (hi < lo)
                hi = lo;
            double frac = (rank - (double)cum) / (double)h->counts[i];
            if (frac < 0)
                frac = 0;
            return lo + (hi - lo) * frac;
        }
        cum += h->counts[i];
    }
    return h->max;
}

/* ===========================================================================
 * Series: one per (tenant, domain, source)
 *
 * Found through an open-addressing table (linear probing, at most half
 * full) of indexes into a dense array, so the per-event cost is one hash
 * and usually one memcmp. The number of series is capped: past the cap,
 * new sources are counted under "_other" so a flood of distinct sources
 * cannot grow memory or the metrics without bound.
 */

#define S_MAX_SERIES 4096
#define S_OTHER "_other"

struct s_series {
    uint64_t hash;
    char *key; /* tenant \0 domain \0 source \0 */
    uint32_t tenant_len, domain_len, source_len;
    uint64_t in, out;
    uint64_t in_at_tick; /* in at the previous tick */
    double rate[3];      /* 1, 5, 15 minutes; events/s */
    int64_t last_event;
};

struct s_reject {
    int code;
    uint64_t count;
};

struct rz_stats {
    pthread_mutex_t lock;

    struct s_series *series;
    size_t nseries, series_cap;
    uint32_t *slots; /* index + 1 into series, 0 = empty */
    size_t nslots;   /* power of two */

    struct s_hist latency;
    struct s_hist batch;

    struct s_reject *rejects;
    size_t nrejects, rejects_cap;

    uint64_t events_in, events_out, reads, commits, requests, subscribers;
    uint64_t watchers, watch_held, watch_cutoffs;
    int64_t last_tick;

    /* the latest REPORT of each component, as received */
    struct s_component {
        char *name;
        uint8_t *body;
        size_t len;
        int64_t received;
    } *components;
    size_t ncomponents;
};

static const double s_windows_s[3] = {60, 300, 900};

static uint64_t s_hash(const char *t, size_t tl, const char *d, size_t dl,
                       const char *s, size_t sl)
{
    /* FNV-1a; the separators keep ("ab","c") and ("a","bc") apart */
    uint64_t h = 0xcbf29ce484222325u;
    const char *parts[3] = {t, d, s};
    size_t lens[3] = {tl, dl, sl};
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < lens[p]; i++) {
            h ^= (unsigned char)parts[p][i];
            h *= 0x100000001b3u;
        }
        h ^= 0xff;
        h *= 0x100000001b3u;
    }
    return h;
}

static bool s_series_is(const struct s_series *e, uint64_t hash, const char *t,
                        size_t tl, const char *d, size_t dl, const char *s,
                        size_t sl)
{
    return e->hash == hash && e->tenant_len == tl && e->domain_len == dl &&
           e->source_len == sl && memcmp(e->key, t, tl) == 0 &&
           memcmp(e->key + tl + 1, d, dl) == 0 &&
           memcmp(e->key + tl + 1 + dl + 1, s, sl) == 0;
}

static int s_rehash(rz_stats_t *st, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return RZ_ENOMEM;
    for (size_t i = 0; i < st->nseries; i++) {
        size_t j = st->series[i].hash & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(st->slots);
    st->slots = slots;
    st->nslots = nslots;
    return 0;
}

/* The series for the key, created if new; NULL when out of memory (the
 * event then goes uncounted: stats never fail the caller). Lock held. */
static struct s_series *s_series_get(rz_stats_t *st, const char *t, size_t tl,
                                     const char *d, size_t dl, const char *s,
                                     size_t sl, bool over_cap)
{
    if (!t)
        tl = 0;
    if (!d)
        dl = 0;
    if (!s)
        sl = 0;
    t = tl ? t : "";
    d = dl ? d : "";
    s = sl ? s : "";
    uint64_t hash = s_hash(t, tl, d, dl, s, sl);
    size_t j = hash & (st->nslots - 1);
    for (; st->slots[j]; j = (j + 1) & (st->nslots - 1)) {
        struct s_series *e = &st->series[st->slots[j] - 1];
        if (s_series_is(e, hash, t, tl, d, dl, s, sl))
            return e;
    }

    if (st->nseries >= S_MAX_SERIES && !over_cap) {
        const size_t ol = sizeof S_OTHER - 1;
        return s_series_get(st, S_OTHER, ol, S_OTHER, ol, S_OTHER, ol, true);
    }
    /* keep an empty slot, or the probe above would never end (only if a
     * rehash failed for memory) */
    if (st->nseries + 2 > st->nslots)
        return NULL;
    if (tl > UINT32_MAX || dl > UINT32_MAX || sl > UINT32_MAX)
        return NULL;
    if (st->nseries == st->series_cap) {
        size_t cap = st->series_cap ? st->series_cap * 2 : 16;
        struct s_series *n = realloc(st->series, cap * sizeof *n);
        if (!n)
            return NULL;
        st->series = n;
        st->series_cap = cap;
    }
    char *key = malloc(tl + dl + sl + 3);
    if (!key)
        return NULL;
    memcpy(key, t, tl);
    key[tl] = '\0';
    memcpy(key + tl + 1, d, dl);
    key[tl + 1 + dl] = '\0';
    memcpy(key + tl + 1 + dl + 1, s, sl);
    key[tl + dl + sl + 2] = '\0';

    struct s_series *e = &st->series[st->nseries];
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->key = key;
    e->tenant_len = (uint32_t)tl;
    e->domain_len = (uint32_t)dl;
    e->source_len = (uint32_t)sl;
    st->slots[j] = (uint32_t)(++st->nseries);

    if (st->nseries * 2 > st->nslots && s_rehash(st, st->nslots * 2) != 0) {
        /* the table is still valid, only fuller than we like */
    }
    return e;
}

/* ===========================================================================
 * Recording
 */

rz_stats_t *rz_stats_new(void)
{
    rz_stats_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return NULL;
    }
    if (s_rehash(st, 64) != 0) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return NULL;
    }
    s_hist_init(&st->latency, s_latency_bounds, S_NELEM(s_latency_bounds));
    s_hist_init(&st->batch, s_batch_bounds, S_NELEM(s_batch_bounds));
    return st;
}

void rz_stats_destroy(rz_stats_t **pst)
{
    if (!pst || !*pst)
        return;
    rz_stats_t *st = *pst;
    for (size_t i = 0; i < st->nseries; i++)
        free(st->series[i].key);
    free(st->series);
    free(st->slots);
    free(st->rejects);
    for (size_t i = 0; i < st->ncomponents; i++) {
        free(st->components[i].name);
        free(st->components[i].body);
    }
    free(st->components);
    pthread_mutex_destroy(&st->lock);
    free(st);
    *pst = NULL;
}

void rz_stats_event_in(rz_stats_t *st, const char *tenant, size_t tenant_len,
                       const char *domain, size_t domain_len,
                       const char *source, size_t source_len, uint64_t n,
                       int64_t now_us)
{
    pthread_mutex_lock(&st->lock);
    struct s_series *e = s_series_get(st, tenant, tenant_len, domain,
                                      domain_len, source, source_len, false);
    if (e) {
        e->in += n;
        if (now_us > e->last_event)
            e->last_event = now_us;
    }
    st->events_in += n;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_event_out(rz_stats_t *st, const char *tenant, size_t tenant_len,
                        const char *domain, size_t domain_len,
                        const char *source, size_t source_len, uint64_t n)
{
    pthread_mutex_lock(&st->lock);
    struct s_series *e = s_series_get(st, tenant, tenant_len, domain,
                                      domain_len, source, source_len, false);
    if (e)
        e->out += n;
    st->events_out += n;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_commit(rz_stats_t *st, uint64_t latency_us, size_t events)
{
    pthread_mutex_lock(&st->lock);
    s_hist_add(&st->latency, (double)latency_us);
    s_hist_add(&st->batch, (double)events);
    st->commits++;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_reject(rz_stats_t *st, int code)
{
    pthread_mutex_lock(&st->lock);
    size_t i = 0;
    while (i < st->nrejects && st->rejects[i].code != code)
        i++;
    if (i == st->nrejects) {
        if (st->nrejects == st->rejects_cap) {
            size_t cap = st->rejects_cap ? st->rejects_cap * 2 : 16;
            struct s_reject *n = realloc(st->rejects, cap * sizeof *n);
            if (!n)
                goto out;
            st->rejects = n;
            st->rejects_cap = cap;
        }
        st->rejects[i].code = code;
        st->rejects[i].count = 0;
        st->nrejects++;
    }
    st->rejects[i].count++;
out:
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_request(rz_stats_t *st)
{
    pthread_mutex_lock(&st->lock);
    st->requests++;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_read(rz_stats_t *st, uint64_t events)
{
    pthread_mutex_lock(&st->lock);
    st->reads += events;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_set_subscribers(rz_stats_t *st, uint64_t n)
{
    pthread_mutex_lock(&st->lock);
    st->subscribers = n;
    pthread_mutex_unlock(&st->lock);
}

void rz_stats_set_watches(rz_stats_t *st, uint64_t n, uint64_t held,
                          uint64_t cutoffs)
{
    pthread_mutex_lock(&st->lock);
    st->watchers = n;
    st->watch_held = held;
    st->watch_cutoffs = cutoffs;
    pthread_mutex_unlock(&st->lock);
}

/* The load-average recurrence with the real elapsed time dt, not the
 * nominal 5 s: rate = delta/dt over the interval, weighted by 1 - e^(-dt/W).
 * A late tick then counts its longer interval fully, an early one little. */
void rz_stats_tick(rz_stats_t *st, int64_t now_us)
{
    pthread_mutex_lock(&st->lock);
    double dt = st->last_tick ? (double)(now_us - st->last_tick) / 1e6
                              : RZ_STATS_TICK_US / 1e6;
    st->last_tick = now_us;
    /* a clock that stepped back: start a new interval; the events since the
     * last tick stay pending and count in the next one */
    if (dt <= 0)
        goto out;
    double keep[3];
    for (int w = 0; w < 3; w++)
        keep[w] = exp(-dt / s_windows_s[w]);
    for (size_t i = 0; i < st->nseries; i++) {
        struct s_series *e = &st->series[i];
        double r = (double)(e->in - e->in_at_tick) / dt;
        for (int w = 0; w < 3; w++)
            e->rate[w] = e->rate[w] * keep[w] + r * (1 - keep[w]);
        e->in_at_tick = e->in;
    }
out:
    pthread_mutex_unlock(&st->lock);
}

/* ===========================================================================
 * Snapshot
 *
 * Each repeated field is one allocation: the pointer array, then the
 * messages, then (for counters) their strings, so freeing is one free()
 * per field and a failed snapshot leaves nothing behind.
 */

struct s_hist_msg {
    Ratusz__V1__Histogram msg;
    double bounds[S_HIST_MAX];
    uint64_t counts[S_HIST_MAX];
};

static Ratusz__V1__Histogram *s_hist_msg(const struct s_hist *h,
                                         const char *name)
{
    struct s_hist_msg *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    ratusz__v1__histogram__init(&m->msg);
    m->msg.name = (char *)name; /* static; snapshot_free knows */
    memcpy(m->bounds, h->bounds, h->n * sizeof m->bounds[0]);
    memcpy(m->counts, h->counts, h->n * sizeof m->counts[0]);
    m->msg.n_bounds = m->msg.n_counts = h->n;
    m->msg.bounds = m->bounds;
    m->msg.counts = m->counts;
    m->msg.count = h->count;
    m->msg.sum = h->sum;
    m->msg.p50 = s_hist_quantile(h, 0.50);
    m->msg.p99 = s_hist_quantile(h, 0.99);
    return &m->msg;
}

static int s_cmp_counter(const void *a, const void *b)
{
    const Ratusz__V1__Counter *x = *(Ratusz__V1__Counter *const *)a;
    const Ratusz__V1__Counter *y = *(Ratusz__V1__Counter *const *)b;
    int c = strcmp(x->tenant, y->tenant);
    if (!c)
        c = strcmp(x->domain, y->domain);
    if (!c)
        c = strcmp(x->source, y->source);
    return c;
}

static int s_cmp_rejected(const void *a, const void *b)
{
    const Ratusz__V1__Rejected *x = *(Ratusz__V1__Rejected *const *)a;
    const Ratusz__V1__Rejected *y = *(Ratusz__V1__Rejected *const *)b;
    return strcmp(x->reason, y->reason);
}

int rz_stats_snapshot(rz_stats_t *st, Ratusz__V1__Stats *out)
{
    int rc = RZ_ENOMEM;
    void *cblk = NULL, *rblk = NULL;
    Ratusz__V1__Histogram *lat = NULL, *bat = NULL;

    pthread_mutex_lock(&st->lock);

    size_t n = st->nseries, strbytes = 0;
    for (size_t i = 0; i < n; i++)
        strbytes += st->series[i].tenant_len + st->series[i].domain_len +
                    st->series[i].source_len + 3;
    size_t head =
        n * (sizeof(Ratusz__V1__Counter *) + sizeof(Ratusz__V1__Counter));
    cblk = malloc(head + strbytes + 1);
    if (!cblk)
        goto fail;
    Ratusz__V1__Counter **cp = cblk;
    Ratusz__V1__Counter *cs = (Ratusz__V1__Counter *)(cp + n);
    char *sp = (char *)cblk + head;
    for (size_t i = 0; i < n; i++) {
        const struct s_series *e = &st->series[i];
        size_t klen = e->tenant_len + e->domain_len + e->source_len + 3;
        Ratusz__V1__Counter *c = &cs[i];
        ratusz__v1__counter__init(c);
        memcpy(sp, e->key, klen);
        c->tenant = sp;
        c->domain = sp + e->tenant_len + 1;
        c->source = c->domain + e->domain_len + 1;
        sp += klen;
        c->events_in = e->in;
        c->events_out = e->out;
        c->rate1 = e->rate[0];
        c->rate5 = e->rate[1];
        c->rate15 = e->rate[2];
        c->last_event = e->last_event;
        cp[i] = c;
    }

    size_t nr = st->nrejects;
    rblk = malloc(
        nr * (sizeof(Ratusz__V1__Rejected *) + sizeof(Ratusz__V1__Rejected)) +
        1);
    if (!rblk)
        goto fail;
    Ratusz__V1__Rejected **rp = rblk;
    Ratusz__V1__Rejected *rs = (Ratusz__V1__Rejected *)(rp + nr);
    for (size_t i = 0; i < nr; i++) {
        ratusz__v1__rejected__init(&rs[i]);
        rs[i].reason = (char *)rz_err_name(st->rejects[i].code); /* static */
        rs[i].count = st->rejects[i].count;
        rp[i] = &rs[i];
    }

    lat = s_hist_msg(&st->latency, "commit_latency_us");
    bat = s_hist_msg(&st->batch, "batch_size");
    if (!lat || !bat)
        goto fail;

    out->events_total = st->events_in;
    out->commits_total = st->commits;
    out->requests_total = st->requests;
    out->subscribers = st->subscribers;
    out->watchers = st->watchers;
    out->watch_held = st->watch_held;
    out->watch_cutoffs = st->watch_cutoffs;
    /* every event that left the broker: live, to groups, and in replies */
    out->events_out_total = st->events_out + st->reads;
    Ratusz__V1__Component **comps = NULL;
    size_t ncomps = 0;
    if (st->ncomponents) {
        comps = calloc(st->ncomponents, sizeof *comps);
        for (size_t i = 0; comps && i < st->ncomponents; i++) {
            const struct s_component *c = &st->components[i];
            Ratusz__V1__Component *m =
                ratusz__v1__component__unpack(NULL, c->len, c->body);
            if (!m)
                continue; /* checked when stored: only memory fails here */
            m->reported = c->received;
            comps[ncomps++] = m;
        }
    }
    pthread_mutex_unlock(&st->lock);
    out->components = comps;
    out->n_components = ncomps;

    /* sorted outside the lock: the order makes scrapes diffable */
    qsort(cp, n, sizeof *cp, s_cmp_counter);
    qsort(rp, nr, sizeof *rp, s_cmp_rejected);
    out->n_counters = n;
    out->counters = cp;
    out->n_rejected = nr;
    out->rejected = rp;
    out->commit_latency_us = lat;
    out->batch_size = bat;
    return 0;

fail:
    pthread_mutex_unlock(&st->lock);
    free(cblk);
    free(rblk);
    free(lat); /* msg is the first member of struct s_hist_msg */
    free(bat);
    return rc;
}

void rz_stats_snapshot_free(Ratusz__V1__Stats *out)
{
    if (!out)
        return;
    /* the blocks start at the pointer arrays and the message (offset 0) */
    free(out->counters);
    out->counters = NULL;
    out->n_counters = 0;
    free(out->rejected);
    out->rejected = NULL;
    out->n_rejected = 0;
    free(out->commit_latency_us);
    out->commit_latency_us = NULL;
    free(out->batch_size);
    out->batch_size = NULL;
    for (size_t i = 0; i < out->n_components; i++)
        ratusz__v1__component__free_unpacked(out->components[i], NULL);
    free(out->components);
    out->components = NULL;
    out->n_components = 0;
}

/* ===========================================================================
 * Components (REPORT)
 */

static bool s_metric_name_ok(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z'))
        return false;
    size_t len = 0;
    for (; *n; n++, len++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return false;
    return len <= RZ_COMPONENT_NAME_MAX;
}

static bool s_text_ok(const char *t, size_t max)
{
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++, len++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return len <= max;
}

/* One printable line of valid UTF-8, at most max bytes. */
static bool s_line_ok(const char *t, size_t max)
{
    return s_text_ok(t, max) && rzc_utf8_valid((const uint8_t *)t, strlen(t));
}

/* Component.quarantine: at most RZ_COMPONENT_QUARANTINE_MAX classes, each
 * a class and an example of one printable UTF-8 line. */
static int s_quarantine_check(const Ratusz__V1__Component *c, char *why,
                              size_t why_len)
{
    if (c->n_quarantine > RZ_COMPONENT_QUARANTINE_MAX) {
        snprintf(why, why_len,
                 "component '%s': %zu quarantine classes (at most %d)", c->name,
                 c->n_quarantine, RZ_COMPONENT_QUARANTINE_MAX);
        return RZ_EBADREQ;
    }
    for (size_t i = 0; i < c->n_quarantine; i++) {
        const Ratusz__V1__QuarantineReason *q = c->quarantine[i];
        if (!*q->class_ || !s_line_ok(q->class_, RZ_COMPONENT_CLASS_MAX)) {
            snprintf(why, why_len,
                     "component '%s': quarantine class %zu must be one "
                     "printable line of UTF-8 (1-%d bytes)",
                     c->name, i + 1, RZ_COMPONENT_CLASS_MAX);
            return RZ_EBADREQ;
        }
        if (!s_line_ok(q->example, RZ_COMPONENT_EXAMPLE_MAX)) {
            snprintf(why, why_len,
                     "component '%s': quarantine class '%s': the example "
                     "must be one printable line of UTF-8 (at most %d bytes)",
                     c->name, q->class_, RZ_COMPONENT_EXAMPLE_MAX);
            return RZ_EBADREQ;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->quarantine[j]->class_, q->class_)) {
                snprintf(why, why_len,
                         "component '%s': quarantine class '%s' twice", c->name,
                         q->class_);
                return RZ_EBADREQ;
            }
    }
    return 0;
}

int rz_stats_component_body_check(const uint8_t *body, size_t len, char *why,
                                  size_t why_len)
{
    rz_wire_t w;
    rz_wire_field_t f;
    int r;
    rz_wire_init(&w, body, len);
    while ((r = rz_wire_next(&w, &f)) == 1) {
        if (f.number != 12 || f.type != 2)
            continue;
        rz_wire_t q;
        rz_wire_field_t g;
        rz_wire_init(&q, f.data, f.len);
        while ((r = rz_wire_next(&q, &g)) == 1)
            if ((g.number == 1 || g.number == 4) && g.type == 2 &&
                memchr(g.data, '\0', g.len)) {
                snprintf(why, why_len,
                         "REPORT: a quarantine %s holds a NUL byte",
                         g.number == 1 ? "class" : "example");
                return RZ_EBADREQ;
            }
        if (r < 0)
            break;
    }
    if (r < 0) {
        snprintf(why, why_len, "REPORT body is not a Component message");
        return RZ_EDECODE;
    }
    return 0;
}

int rz_stats_component_check(const Ratusz__V1__Component *c, char *why,
                             size_t why_len)
{
    if (!*c->name || !s_text_ok(c->name, RZ_COMPONENT_NAME_MAX)) {
        snprintf(why, why_len,
                 "component name must be 1-%d printable characters",
                 RZ_COMPONENT_NAME_MAX);
        return RZ_EBADREQ;
    }
    if (!s_text_ok(c->kind, RZ_COMPONENT_NAME_MAX) ||
        !s_text_ok(c->version, RZ_COMPONENT_NAME_MAX) ||
        !s_text_ok(c->host, RZ_COMPONENT_NAME_MAX) ||
        !s_text_ok(c->status, RZ_COMPONENT_TEXT_MAX) ||
        !s_text_ok(c->detail, RZ_COMPONENT_TEXT_MAX)) {
        snprintf(why, why_len,
                 "component '%s': kind, version, host, status and detail must "
                 "be one printable line (at most %d bytes)",
                 c->name, RZ_COMPONENT_TEXT_MAX);
        return RZ_EBADREQ;
    }
    if (c->n_metrics > RZ_COMPONENT_METRICS_MAX ||
        c->n_histograms > RZ_COMPONENT_METRICS_MAX) {
        snprintf(why, why_len, "component '%s': more than %d metrics",
                 c->name, RZ_COMPONENT_METRICS_MAX);
        return RZ_EBADREQ;
    }
    for (size_t i = 0; i < c->n_metrics; i++) {
        if (!s_metric_name_ok(c->metrics[i]->name)) {
            snprintf(why, why_len,
                     "component '%s': metric name '%.64s' is not "
                     "lower_snake_case (a-z, 0-9, _)",
                     c->name, c->metrics[i]->name);
            return RZ_EBADREQ;
        }
        if (!s_text_ok(c->metrics[i]->help, RZ_COMPONENT_TEXT_MAX)) {
            snprintf(why, why_len, "component '%s': metric '%s': help must "
                     "be one printable line", c->name, c->metrics[i]->name);
            return RZ_EBADREQ;
        }
    }
    int qrc = s_quarantine_check(c, why, why_len);
    if (qrc)
        return qrc;
    for (size_t i = 0; i < c->n_histograms; i++) {
        const Ratusz__V1__Histogram *h = c->histograms[i];
        if (!s_metric_name_ok(h->name)) {
            snprintf(why, why_len,
                     "component '%s': histogram name '%.64s' is not "
                     "lower_snake_case", c->name, h->name);
            return RZ_EBADREQ;
        }
        if (h->n_counts > h->n_bounds + 1 || h->n_bounds > 64) {
            snprintf(why, why_len,
                     "component '%s': histogram '%s' has %zu counts for %zu "
                     "bounds", c->name, h->name, h->n_counts, h->n_bounds);
            return RZ_EBADREQ;
        }
    }
    return 0;
}

int rz_stats_component(rz_stats_t *st, const char *name, const uint8_t *body,
                       size_t len, int64_t now_us)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return RZ_ENOMEM;
    memcpy(copy, body, len);
    pthread_mutex_lock(&st->lock);
    struct s_component *c = NULL;
    for (size_t i = 0; i < st->ncomponents; i++)
        if (!strcmp(st->components[i].name, name))
            c = &st->components[i];
    if (!c && st->ncomponents == RZ_COMPONENTS_MAX) {
        /* full: the component silent the longest makes room */
        c = &st->components[0];
        for (size_t i = 1; i < st->ncomponents; i++)
            if (st->components[i].received < c->received)
                c = &st->components[i];
        free(c->name);
        c->name = NULL;
    }
    if (!c) {
        struct s_component *n = realloc(
            st->components, (st->ncomponents + 1) * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&st->lock);
            free(copy);
            return RZ_ENOMEM;
        }
        st->components = n;
        c = &n[st->ncomponents++];
        memset(c, 0, sizeof *c);
    }
    if (!c->name && !(c->name = strdup(name))) {
        /* drop the slot rather than keep one without a name */
        free(c->body);
        *c = st->components[--st->ncomponents];
        pthread_mutex_unlock(&st->lock);
        free(copy);
        return RZ_ENOMEM;
    }
    free(c->body);
    c->body = copy;
    c->len = len;
    c->received = now_us;
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* ===========================================================================
 * Prometheus text format 0.0.4
 */

struct s_buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static bool s_reserve(struct s_buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void s_put(struct s_buf *b, const char *s, size_t n)
{
    if (!s_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void s_puts(struct s_buf *b, const char *s)
{
    s_put(b, s, strlen(s));
}

static void s_printf(struct s_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_printf(struct s_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        s_put(b, tmp, (size_t)n);
        return;
    }
    if (!s_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A label value: \\, \" and \n escaped as the format wants; bytes that are
 * not UTF-8 become U+FFFD, because Prometheus rejects the whole scrape
 * over one bad label and sources are not ours to trust. */
static void s_label_value(struct s_buf *b, const char *v)
{
    if (!v)
        v = "";
    const uint8_t *p = (const uint8_t *)v;
    size_t n = strlen(v);
    while (n) {
        size_t good = rzc_utf8_invalid_at(p, n);
        for (size_t i = 0; i < good; i++) {
            if (p[i] == '\\')
                s_puts(b, "\\\\");
            else if (p[i] == '"')
                s_puts(b, "\\\"");
            else if (p[i] == '\n')
                s_puts(b, "\\n");
            else
                s_put(b, (const char *)p + i, 1);
        }
        p += good;
        n -= good;
        if (n) {
            s_puts(b, "\xef\xbf\xbd");
            p++;
            n--;
        }
    }
}

static void s_double(struct s_buf *b, double v)
{
    if (isnan(v))
        s_puts(b, "NaN");
    else if (isinf(v))
        s_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        s_printf(b, "%.15g", v);
}

static void s_family(struct s_buf *b, const char *name, const char *type,
                     const char *help)
{
    s_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{tenant="..",domain="..",source=".."[,extra="value"]} */
static void s_series_name(struct s_buf *b, const char *name,
                          const Ratusz__V1__Counter *c, const char *extra,
                          const char *extra_value)
{
    s_printf(b, "%s{tenant=\"", name);
    s_label_value(b, c->tenant);
    s_puts(b, "\",domain=\"");
    s_label_value(b, c->domain);
    s_puts(b, "\",source=\"");
    s_label_value(b, c->source);
    if (extra) {
        s_printf(b, "\",%s=\"", extra);
        s_label_value(b, extra_value);
    }
    s_puts(b, "\"} ");
}

static void s_one_label(struct s_buf *b, const char *name, const char *label,
                        const char *value)
{
    s_printf(b, "%s{%s=\"", name, label);
    s_label_value(b, value);
    s_puts(b, "\"} ");
}

/* A Histogram message as a Prometheus histogram, scaled (µs -> s). Bounds
 * that are +Inf, or counts past the bounds, fold into the +Inf bucket. */
static void s_histogram(struct s_buf *b, const char *name, const char *help,
                        const Ratusz__V1__Histogram *h, double scale)
{
    s_family(b, name, "histogram", help);
    uint64_t cum = 0;
    size_t n = h->n_bounds < h->n_counts ? h->n_bounds : h->n_counts;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(h->bounds[i]))
            break;
        cum += h->counts[i];
        s_printf(b, "%s_bucket{le=\"", name);
        s_double(b, h->bounds[i] / scale);
        s_printf(b, "\"} %llu\n", (unsigned long long)cum);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < h->n_counts; i++)
        total += h->counts[i];
    if (h->count > total)
        total = h->count;
    s_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
             (unsigned long long)total);
    s_printf(b, "%s_sum ", name);
    s_double(b, h->sum / scale);
    s_printf(b, "\n%s_count %llu\n", name, (unsigned long long)total);
}

static void s_scalar(struct s_buf *b, const char *name, const char *type,
                     const char *help, uint64_t v)
{
    s_family(b, name, type, help);
    s_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* name{component="...",kind="..."} */
static void s_component_series(struct s_buf *b, const char *name,
                               const Ratusz__V1__Component *c)
{
    s_printf(b, "%s{component=\"", name);
    s_label_value(b, c->name);
    s_puts(b, "\",kind=\"");
    s_label_value(b, c->kind);
    s_puts(b, "\"} ");
}

/* Component.quarantine: records now in each class, one series per
 * component and class (at most RZ_COMPONENT_QUARANTINE_MAX a component). */
static void s_quarantine_series(struct s_buf *b, const Ratusz__V1__Stats *s)
{
    bool any = false;
    for (size_t i = 0; i < s->n_components && !any; i++)
        any = s->components[i]->n_quarantine > 0;
    if (!any)
        return;
    s_family(b, "ratusz_component_quarantine_records", "gauge",
             "Records in the component's quarantine, by class of reason "
             "(the reason with its values replaced by ...; \"other\": the "
             "classes beyond the first 16).");
    for (size_t i = 0; i < s->n_components; i++) {
        const Ratusz__V1__Component *c = s->components[i];
        for (size_t k = 0; k < c->n_quarantine; k++) {
            s_puts(b, "ratusz_component_quarantine_records{component=\"");
            s_label_value(b, c->name);
            s_puts(b, "\",class=\"");
            s_label_value(b, c->quarantine[k]->class_);
            s_printf(b, "\"} %llu\n",
                     (unsigned long long)c->quarantine[k]->records);
        }
    }
}

/* What components reported: one family per metric name, every component
 * that reports it a series (the text format wants a family's samples
 * together). Counters get the _total suffix if they lack it. */
static void s_components(struct s_buf *b, const Ratusz__V1__Stats *s)
{
    int64_t now = 0;
    for (size_t i = 0; i < s->n_components; i++)
        if (s->components[i]->reported > now)
            now = s->components[i]->reported;
    s_family(b, "ratusz_component_last_report_timestamp_seconds", "gauge",
             "Unix time of the component's last REPORT to the broker.");
    for (size_t i = 0; i < s->n_components; i++) {
        s_component_series(b, "ratusz_component_last_report_timestamp_seconds",
                           s->components[i]);
        s_printf(b, "%.6f\n", (double)s->components[i]->reported / 1e6);
    }
    for (size_t i = 0; i < s->n_components; i++) {
        const Ratusz__V1__Component *c = s->components[i];
        for (size_t m = 0; m < c->n_metrics; m++) {
            const Ratusz__V1__Metric *x = c->metrics[m];
            /* the first component (in order) with this name and type
             * writes the family */
            bool seen = false;
            for (size_t j = 0; j <= i && !seen; j++) {
                const Ratusz__V1__Component *o = s->components[j];
                size_t lim = j == i ? m : o->n_metrics;
                for (size_t k = 0; k < lim && !seen; k++)
                    seen = !strcmp(o->metrics[k]->name, x->name) &&
                           o->metrics[k]->counter == x->counter;
            }
            if (seen)
                continue;
            size_t nl = strlen(x->name);
            bool suffix = x->counter &&
                          (nl < 6 || strcmp(x->name + nl - 6, "_total"));
            char fam[160];
            snprintf(fam, sizeof fam, "ratusz_component_%s%s", x->name,
                     suffix ? "_total" : "");
            s_family(b, fam, x->counter ? "counter" : "gauge",
                     *x->help ? x->help : "Reported by the component.");
            for (size_t j = i; j < s->n_components; j++) {
                const Ratusz__V1__Component *o = s->components[j];
                for (size_t k = 0; k < o->n_metrics; k++) {
                    if (strcmp(o->metrics[k]->name, x->name) ||
                        o->metrics[k]->counter != x->counter)
                        continue;
                    s_component_series(b, fam, o);
                    s_double(b, o->metrics[k]->value);
                    s_puts(b, "\n");
                    break;
                }
            }
        }
    }
    s_quarantine_series(b, s);
    (void)now;
}

/* Retention: one series per rule, labelled with its topic prefix. */
static void s_retention(struct s_buf *b, const Ratusz__V1__Stats *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"ratusz_retention_pruned_events_total", "counter",
         "Events retention removed under the rule's topic prefix."},
        {"ratusz_retention_pruned_bytes_total", "counter",
         "Stored bytes retention removed under the rule's topic prefix."},
        {"ratusz_retention_oldest_seq", "gauge",
         "Seq of the oldest event the rule keeps (0: none)."},
        {"ratusz_retention_bytes", "gauge",
         "Stored bytes of the rule's events (rules with max_bytes)."},
        {"ratusz_retention_held_events", "gauge",
         "Events due for removal that a consumer group holds."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        s_family(b, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < s->n_retention; i++) {
            const Ratusz__V1__RetentionRule *r = s->retention[i];
            uint64_t v[] = {r->removed_events, r->removed_bytes, r->oldest_seq,
                            r->bytes, r->held};
            s_one_label(b, fam[f].name, "prefix", r->prefix);
            s_printf(b, "%llu\n", (unsigned long long)v[f]);
        }
    }
}

char *rz_stats_prometheus(const Ratusz__V1__Stats *s)
{
    struct s_buf b = {0};
    static const char *const windows[3] = {"1m", "5m", "15m"};

    if (!s_reserve(&b, 16384))
        return NULL;

    s_scalar(&b, "ratusz_up", "gauge", "1 while the broker serves requests.",
             1);

    const Ratusz__V1__Health *h = s->health;
    if (h) {
        s_family(&b, "ratusz_build_info", "gauge",
                 "Version and protocol of the broker; always 1.");
        s_puts(&b, "ratusz_build_info{version=\"");
        s_label_value(&b, h->version);
        s_printf(&b, "\",protocol=\"%u\"} 1\n", (unsigned)h->protocol);
        s_family(&b, "ratusz_health_status", "gauge",
                 "Health of the broker (ok, store-full, stopping); 1 for the "
                 "current status.");
        s_one_label(&b, "ratusz_health_status", "status",
                    h->status && *h->status ? h->status : "unknown");
        s_puts(&b, "1\n");
        s_family(&b, "ratusz_uptime_seconds", "gauge",
                 "Seconds since the broker started.");
        s_puts(&b, "ratusz_uptime_seconds ");
        s_double(&b, (double)h->uptime_us / 1e6);
        s_puts(&b, "\n");
        s_scalar(&b, "ratusz_head_seq", "gauge",
                 "Seq of the last stored event.", h->head_seq);
    }

    if (s->n_counters) {
        s_family(&b, "ratusz_events_in_total", "counter",
                 "Events accepted and stored, per tenant, domain and source.");
        for (size_t i = 0; i < s->n_counters; i++) {
            s_series_name(&b, "ratusz_events_in_total", s->counters[i], NULL,
                          NULL);
            s_printf(&b, "%llu\n",
                     (unsigned long long)s->counters[i]->events_in);
        }
        s_family(&b, "ratusz_events_out_total", "counter",
                 "Events sent on the live stream or to consumer groups, per "
                 "tenant, domain and source.");
        for (size_t i = 0; i < s->n_counters; i++) {
            s_series_name(&b, "ratusz_events_out_total", s->counters[i], NULL,
                          NULL);
            s_printf(&b, "%llu\n",
                     (unsigned long long)s->counters[i]->events_out);
        }
        s_family(&b, "ratusz_events_rate", "gauge",
                 "Events accepted per second, 1, 5 and 15-minute moving "
                 "averages.");
        for (size_t i = 0; i < s->n_counters; i++) {
            const Ratusz__V1__Counter *c = s->counters[i];
            double r[3] = {c->rate1, c->rate5, c->rate15};
            for (int w = 0; w < 3; w++) {
                s_series_name(&b, "ratusz_events_rate", c, "window",
                              windows[w]);
                s_double(&b, r[w]);
                s_puts(&b, "\n");
            }
        }
        bool any = false;
        for (size_t i = 0; i < s->n_counters; i++) {
            const Ratusz__V1__Counter *c = s->counters[i];
            if (c->last_event <= 0)
                continue;
            if (!any)
                s_family(&b, "ratusz_source_last_event_timestamp_seconds",
                         "gauge",
                         "Unix time of the last event accepted from the "
                         "source.");
            any = true;
            s_series_name(&b, "ratusz_source_last_event_timestamp_seconds", c,
                          NULL, NULL);
            s_printf(&b, "%.6f\n", (double)c->last_event / 1e6);
        }
    }

    s_scalar(&b, "ratusz_events_stored_total", "counter",
             "Events accepted and stored, all sources.", s->events_total);
    s_scalar(&b, "ratusz_events_sent_total", "counter",
             "Events sent out: live stream, consumer groups and read replies.",
             s->events_out_total);
    s_scalar(&b, "ratusz_commits_total", "counter",
             "LMDB write transactions committed.", s->commits_total);
    s_scalar(&b, "ratusz_requests_total", "counter",
             "Requests received on the front socket.", s->requests_total);

    if (s->n_rejected) {
        s_family(&b, "ratusz_rejected_total", "counter",
                 "Requests and events refused, by error.");
        for (size_t i = 0; i < s->n_rejected; i++) {
            s_one_label(&b, "ratusz_rejected_total", "reason",
                        s->rejected[i]->reason);
            s_printf(&b, "%llu\n", (unsigned long long)s->rejected[i]->count);
        }
    }

    s_scalar(&b, "ratusz_subscribers", "gauge",
             "Live subscriptions on the stream socket.", s->subscribers);
    s_scalar(&b, "ratusz_watchers", "gauge",
             "Open WATCH subscriptions (flow-controlled, on the front "
             "socket).",
             s->watchers);
    s_scalar(&b, "ratusz_watch_held_bytes", "gauge",
             "Bytes sent to WATCH subscribers and not yet acknowledged.",
             s->watch_held);
    s_scalar(&b, "ratusz_watch_cutoffs_total", "counter",
             "WATCH subscriptions cut off for falling a window behind.",
             s->watch_cutoffs);
    s_scalar(&b, "ratusz_memory_budget_bytes", "gauge",
             "Memory the broker may hold outside the LMDB map "
             "(memory_budget).",
             s->memory_budget);
    s_scalar(&b, "ratusz_memory_queued_bytes", "gauge",
             "Memory held by requests waiting for the writer; past a quarter "
             "of the budget the broker stops reading requests.",
             s->memory_queued);
    s_scalar(&b, "ratusz_memory_resident_bytes", "gauge",
             "Anonymous resident memory of the broker (outside the LMDB "
             "map).",
             s->memory_resident);
    s_scalar(&b, "ratusz_handshakes_refused_total", "counter",
             "Connections refused at the CURVE handshake (unknown key, no "
             "CURVE, wrong server key).",
             s->handshakes_refused);
    s_scalar(&b, "ratusz_denied_total", "counter",
             "Requests, events and subscriptions refused by a grant.",
             s->denied_total);
    s_scalar(&b, "ratusz_redacted_total", "counter",
             "Events sent with personal data replaced by pseudonyms.",
             s->redacted_total);

    if (s->commit_latency_us)
        s_histogram(&b, "ratusz_commit_latency_seconds",
                    "Time from the start of a write transaction to its "
                    "commit.",
                    s->commit_latency_us, 1e6);
    if (s->batch_size)
        s_histogram(&b, "ratusz_batch_size",
                    "Events per committed transaction.", s->batch_size, 1);

    s_scalar(&b, "ratusz_store_bytes", "gauge", "Bytes of the LMDB map in use.",
             s->store_bytes);
    s_scalar(&b, "ratusz_store_map_bytes", "gauge",
             "Current size of the LMDB map.", s->map_bytes);
    s_scalar(&b, "ratusz_map_max_bytes", "gauge",
             "Largest the LMDB map may grow to (map_max); at it publishes "
             "are refused.",
             s->map_max_bytes);

    if (s->n_consumers) {
        s_family(&b, "ratusz_consumer_lag", "gauge",
                 "Events stored after the group's committed position.");
        for (size_t i = 0; i < s->n_consumers; i++) {
            s_one_label(&b, "ratusz_consumer_lag", "group",
                        s->consumers[i]->name);
            s_printf(&b, "%llu\n", (unsigned long long)s->consumers[i]->lag);
        }
        s_family(&b, "ratusz_consumer_committed_seq", "gauge",
                 "Last seq the group committed.");
        for (size_t i = 0; i < s->n_consumers; i++) {
            s_one_label(&b, "ratusz_consumer_committed_seq", "group",
                        s->consumers[i]->name);
            s_printf(&b, "%llu\n",
                     (unsigned long long)s->consumers[i]->committed_seq);
        }
        bool any = false;
        for (size_t i = 0; i < s->n_consumers; i++) {
            if (s->consumers[i]->updated <= 0)
                continue;
            if (!any)
                s_family(&b, "ratusz_consumer_last_commit_timestamp_seconds",
                         "gauge", "Unix time of the group's last commit.");
            any = true;
            s_one_label(&b, "ratusz_consumer_last_commit_timestamp_seconds",
                        "group", s->consumers[i]->name);
            s_printf(&b, "%.6f\n", (double)s->consumers[i]->updated / 1e6);
        }
    }

    if (s->n_consumers) {
        s_family(&b, "ratusz_consumer_lost_events_total", "counter",
                 "Events retention removed before the group had read them "
                 "(past retention_hold_max).");
        for (size_t i = 0; i < s->n_consumers; i++) {
            s_one_label(&b, "ratusz_consumer_lost_events_total", "group",
                        s->consumers[i]->name);
            s_printf(&b, "%llu\n", (unsigned long long)s->consumers[i]->lost);
        }
    }
    if (s->n_retention)
        s_retention(&b, s);
    s_scalar(&b, "ratusz_pseudonym_index_lag", "gauge",
             "Events the pseudonym index has not looked at yet (head seq "
             "less its mark).",
             s->pseudonym_index_lag);
    s_scalar(&b, "ratusz_pseudonym_indexed_total", "counter",
             "Events with personal values the pseudonym index indexed "
             "since start.",
             s->pseudonym_indexed_total);

    if (s->n_components)
        s_components(&b, s);

    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
