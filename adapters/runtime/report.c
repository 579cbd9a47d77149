/* report.c - the adapter's state as a Component for REPORT (shown by
 * `ratusz stats` and the broker's /metrics) and as JSON for GET /stats */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "runtime.h"

/* Upper bounds in µs; the last bucket is everything above. */
static const double s_bounds[RZ_LAT_BUCKETS - 1] = {
    100,    250,    500,     1000,    2500,    5000,    10000,  25000,
    50000,  100000, 250000,  500000,  1000000, 2500000, 10000000};

void rz_rt_latency(rz_rt_t *rt, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < RZ_LAT_BUCKETS - 1 && (double)us > s_bounds[b])
        b++;
    rt->stats.lat_counts[b]++;
    rt->stats.lat_count++;
    rt->stats.lat_sum_us += (uint64_t)us;
}

/* The bucket bound below which a fraction q of the samples fall. */
static double s_quantile(const uint64_t *counts, uint64_t total, double q)
{
    if (!total)
        return 0;
    uint64_t want = (uint64_t)((double)total * q + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t b = 0; b < RZ_LAT_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= want)
            return b < RZ_LAT_BUCKETS - 1 ? s_bounds[b]
                                          : s_bounds[RZ_LAT_BUCKETS - 2];
    }
    return s_bounds[RZ_LAT_BUCKETS - 2];
}

typedef struct s_metric_def {
    const char *name;
    int counter;
    const char *help;
} s_metric_def_t;

enum {
    M_READ,
    M_PUBLISHED,
    M_DUPLICATES,
    M_CONFLICTS,
    M_QUARANTINED,
    M_DEPTH,
    M_FILES_DONE,
    M_FILES_FAILED,
    M_HTTP,
    M_HTTP_REJECTED,
    M_HTTP_UNAUTHORIZED,
    M_RETRIES,
    M_SINK_EVENTS,
    M_SINK_ERRORS,
    M_SINK_COMMITTED,
    M_COUNT
};

static const s_metric_def_t s_defs[M_COUNT] = {
    {"records_read", 1, "records the module reported (events + quarantined)"},
    {"events_published", 1, "events the broker acked and stored"},
    {"duplicates", 1, "events the broker acked as already stored (same "
                      "source, id and content): not stored again"},
    {"conflicts", 1, "events the broker refused because their source and "
                     "id are taken by different content (quarantined)"},
    {"records_quarantined", 0, "records in the quarantine"},
    {"outbox_depth", 0, "events waiting for the broker"},
    {"files_done", 1, "dropped files imported and moved to done/"},
    {"files_failed", 1, "dropped files moved to failed/"},
    {"http_requests", 1, "POST requests handled"},
    {"http_rejected", 1, "POST requests answered with an error"},
    {"http_unauthorized", 1, "requests refused with 401: no bearer token "
                             "or a wrong one (also in http_rejected)"},
    {"publish_retries", 1, "times the broker was unreachable and the "
                           "outbox was sent again"},
    {"sink_events", 1, "events delivered by the sink"},
    {"sink_errors", 1, "sink deliveries that failed and were retried"},
    {"sink_committed_seq", 0, "the sink group's committed position"},
};

static void s_values(rz_rt_t *rt, double v[M_COUNT])
{
    rz_acounts_t c = {0};
    if (rt->store)
        rz_astore_counts(rt->store, &c);
    v[M_READ] = (double)c.read;
    v[M_PUBLISHED] = (double)c.published;
    v[M_DUPLICATES] = (double)c.duplicates;
    v[M_CONFLICTS] = (double)c.conflicts;
    v[M_QUARANTINED] = (double)c.quarantined;
    v[M_DEPTH] = (double)c.depth;
    v[M_FILES_DONE] = (double)c.files_done;
    v[M_FILES_FAILED] = (double)c.files_failed;
    v[M_HTTP] = (double)rt->stats.http_requests;
    v[M_HTTP_REJECTED] = (double)rt->stats.http_rejected;
    v[M_HTTP_UNAUTHORIZED] = (double)rt->stats.http_unauthorized;
    v[M_RETRIES] = (double)rt->stats.publish_retries;
    v[M_SINK_EVENTS] = (double)rt->stats.sink_events;
    v[M_SINK_ERRORS] = (double)rt->stats.sink_errors;
    v[M_SINK_COMMITTED] = (double)rt->stats.sink_committed;
}

/* "1261011 Kraków 1200, 02 DOLNOŚLĄSKIE 16" */
static void s_tenants(rz_rt_t *rt, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&rt->status_lock);
    for (size_t i = 0; i < RZ_RT_TENANTS && o + 1 < len; i++) {
        if (!rt->tenants[i].code[0])
            continue;
        const rz_teryt_unit_t *u =
            rt->teryt ? rz_teryt_find(rt->teryt, rt->tenants[i].code) : NULL;
        int w = snprintf(buf + o, len - o, "%s%s%s%s %llu", o ? ", " : "",
                         rt->tenants[i].code, u ? " " : "", u ? u->name : "",
                         (unsigned long long)rt->tenants[i].n);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    pthread_mutex_unlock(&rt->status_lock);
    if (o >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

/* The quarantine by class: the classes with records in it now or
 * quarantined since the start, most records first, "other" last. */
static void s_quarantine(rz_rt_t *rt, rz_qclass_count_t *qc,
                         Ratusz__V1__QuarantineReason *qr,
                         Ratusz__V1__QuarantineReason **ptrs,
                         Ratusz__V1__Component *comp)
{
    int n =
        rt->store ? rz_quarantine_classes(rt->store, qc, RZ_QCLASS_MAX + 1) : 0;
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t since = qc[i].total;
        for (size_t j = 0; j < rt->qbase_n; j++)
            if (!strcmp(rt->qbase[j].cls, qc[i].cls)) {
                /* a class counted afresh since (its records all gone and
                 * its place taken) counts from 0 */
                if (qc[i].total >= rt->qbase[j].total)
                    since = qc[i].total - rt->qbase[j].total;
                break;
            }
        if (!qc[i].records && !since)
            continue;
        ratusz__v1__quarantine_reason__init(&qr[k]);
        qr[k].class_ = qc[i].cls;
        qr[k].records = qc[i].records;
        qr[k].total = since;
        qr[k].example = qc[i].example;
        qr[k].last = qc[i].last;
        ptrs[k] = &qr[k];
        k++;
    }
    comp->n_quarantine = k;
    comp->quarantine = k ? ptrs : NULL;
}

Ratusz__V1__Component *rz_rt_component(rz_rt_t *rt)
{
    /* one block: the message, its metrics and histogram, and the texts */
    struct block {
        Ratusz__V1__Component comp;
        Ratusz__V1__Metric metrics[M_COUNT];
        Ratusz__V1__Metric *mptrs[M_COUNT];
        Ratusz__V1__Histogram hist;
        Ratusz__V1__Histogram *hptr;
        double bounds[RZ_LAT_BUCKETS - 1];
        uint64_t counts[RZ_LAT_BUCKETS];
        char status[420];
        char detail[600];
        char host[128];
        rz_qclass_count_t qc[RZ_QCLASS_MAX + 1];
        Ratusz__V1__QuarantineReason qr[RZ_QCLASS_MAX + 1];
        Ratusz__V1__QuarantineReason *qrptrs[RZ_QCLASS_MAX + 1];
    } *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    ratusz__v1__component__init(&b->comp);
    b->comp.name = rt->conf->name;
    b->comp.kind = (char *)"adapter";
    b->comp.version = (char *)RZ_VERSION;
    b->comp.started = rt->started;
    b->comp.pid = (int64_t)getpid();
    if (gethostname(b->host, sizeof b->host - 1) != 0)
        b->host[0] = '\0';
    b->comp.host = b->host;
    double v[M_COUNT];
    s_values(rt, v);
    for (size_t i = 0; i < M_COUNT; i++) {
        ratusz__v1__metric__init(&b->metrics[i]);
        b->metrics[i].name = (char *)s_defs[i].name;
        b->metrics[i].value = v[i];
        b->metrics[i].counter = s_defs[i].counter;
        b->metrics[i].help = (char *)s_defs[i].help;
        b->mptrs[i] = &b->metrics[i];
    }
    b->comp.n_metrics = M_COUNT;
    b->comp.metrics = b->mptrs;
    ratusz__v1__histogram__init(&b->hist);
    b->hist.name = (char *)"publish_latency_us";
    memcpy(b->bounds, s_bounds, sizeof s_bounds);
    for (size_t i = 0; i < RZ_LAT_BUCKETS; i++)
        b->counts[i] = rt->stats.lat_counts[i];
    b->hist.n_bounds = RZ_LAT_BUCKETS - 1;
    b->hist.bounds = b->bounds;
    b->hist.n_counts = RZ_LAT_BUCKETS;
    b->hist.counts = b->counts;
    b->hist.count = rt->stats.lat_count;
    b->hist.sum = (double)rt->stats.lat_sum_us;
    b->hist.p50 = s_quantile(b->counts, b->hist.count, 0.5);
    b->hist.p99 = s_quantile(b->counts, b->hist.count, 0.99);
    b->hptr = &b->hist;
    b->comp.n_histograms = 1;
    b->comp.histograms = &b->hptr;
    pthread_mutex_lock(&rt->status_lock);
    if (rt->sink_status[0] && strcmp(rt->sink_status, "ok"))
        snprintf(b->status, sizeof b->status, "%s%s%s",
                 strcmp(rt->pub_status, "ok") ? rt->pub_status : "",
                 strcmp(rt->pub_status, "ok") ? "; " : "", rt->sink_status);
    else
        snprintf(b->status, sizeof b->status, "%s", rt->pub_status);
    pthread_mutex_unlock(&rt->status_lock);
    b->comp.status = b->status;
    char tenants[300];
    s_tenants(rt, tenants, sizeof tenants);
    snprintf(b->detail, sizeof b->detail,
             "%s: %.0f read, %.0f published, %.0f duplicates, %.0f "
             "conflicts, %.0f quarantined, outbox %.0f%s%s",
             rt->mod->name, v[M_READ], v[M_PUBLISHED], v[M_DUPLICATES],
             v[M_CONFLICTS], v[M_QUARANTINED], v[M_DEPTH],
             tenants[0] ? "; tenants " : "", tenants);
    b->comp.detail = b->detail;
    s_quarantine(rt, b->qc, b->qr, b->qrptrs, &b->comp);
    return &b->comp;
}

void rz_rt_component_free(Ratusz__V1__Component *c)
{
    free(c); /* the block starts with the message */
}

char *rz_rt_stats_json(rz_rt_t *rt)
{
    double v[M_COUNT];
    s_values(rt, v);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(rt->conf->name));
    json_object_set_new(o, "system", json_string(rt->mod->name));
    for (size_t i = 0; i < M_COUNT; i++)
        json_object_set_new(o, s_defs[i].name, json_integer((json_int_t)v[i]));
    pthread_mutex_lock(&rt->status_lock);
    json_object_set_new(o, "status", json_string(rt->pub_status));
    pthread_mutex_unlock(&rt->status_lock);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
