/* report.c - the bridge's state as a ratusz.v1.Component, sent with
 * rz_report about once a second so that `ratusz stats` shows it */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

/* Upper bounds in µs: 1 ms .. 60 s, and everything above in the last. */
static const double s_bounds[RZK_HIST_BUCKETS] = {1e3, 2e3, 5e3, 1e4, 2e4, 5e4,
                                                  1e5, 2e5, 5e5, 1e6, 2e6, 5e6,
                                                  1e7, 2e7, 3e7, 6e7};

void rzk_hist_add(rzk_hist_t *h, double us)
{
    int i = 0;
    while (i < RZK_HIST_BUCKETS && us > s_bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += us;
}

/* The bound of the bucket where the q-th fraction of the counts falls. */
static double s_quantile(const rzk_hist_t *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)((double)h->count * q + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (int i = 0; i <= RZK_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want)
            return i < RZK_HIST_BUCKETS ? s_bounds[i]
                                        : s_bounds[RZK_HIST_BUCKETS - 1];
    }
    return s_bounds[RZK_HIST_BUCKETS - 1];
}

int rzk_report_init(rzk_report_t *r, const rzk_conf_t *c)
{
    memset(r, 0, sizeof *r);
    rz_client_opts_t o = {.window = 16, .batch = 1, .timeout_ms = 1000};
    rz_keyopts_apply(c->keys, &o);
    r->c = rz_client_new(c->broker, &o);
    if (!r->c)
        return RZ_ENOMEM;
    r->started = rz_now_us();
    snprintf(r->name, sizeof r->name, "%s", c->name);
    r->mode = c->mode == RZK_MODE_OUT ? "out" : "in";
    return 0;
}

void rzk_report_close(rzk_report_t *r)
{
    rz_client_destroy(&r->c);
}

void rzk_report_metric(rzk_report_t *r, int i, const char *name, double v,
                       int counter, const char *help)
{
    if (i < 0 || i >= RZK_METRICS)
        return;
    r->m[i].name = name;
    r->m[i].value = v;
    r->m[i].counter = counter;
    r->m[i].help = help;
    if (i >= r->n)
        r->n = i + 1;
}

void rzk_report_send(rzk_report_t *r, const rzk_conf_t *c, const char *status,
                     const char *detail, int force)
{
    int64_t now = rz_now_us();
    if (!force && now - r->last < (int64_t)c->report_interval * 1000)
        return;
    r->last = now;
    Ratusz__V1__Component comp = RATUSZ__V1__COMPONENT__INIT;
    Ratusz__V1__Metric ms[RZK_METRICS], *mp[RZK_METRICS];
    for (int i = 0; i < r->n; i++) {
        ratusz__v1__metric__init(&ms[i]);
        ms[i].name = (char *)r->m[i].name;
        ms[i].value = r->m[i].value;
        ms[i].counter = r->m[i].counter;
        ms[i].help = (char *)(r->m[i].help ? r->m[i].help : "");
        mp[i] = &ms[i];
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    comp.name = r->name;
    comp.kind = "kafka-bridge";
    comp.version = RZ_VERSION;
    comp.status = (char *)(status ? status : "ok");
    comp.started = r->started;
    comp.metrics = mp;
    comp.n_metrics = (size_t)r->n;
    comp.host = host;
    comp.pid = getpid();
    comp.detail = (char *)(detail ? detail : "");

    Ratusz__V1__Histogram hg = RATUSZ__V1__HISTOGRAM__INIT, *hp = &hg;
    if (r->hist) {
        /* the count past the last bound is the +Inf bucket */
        hg.name = (char *)r->hist_name;
        hg.bounds = (double *)s_bounds;
        hg.n_bounds = RZK_HIST_BUCKETS;
        hg.counts = r->hist->counts;
        hg.n_counts = RZK_HIST_BUCKETS + 1;
        hg.count = r->hist->count;
        hg.sum = r->hist->sum;
        hg.p50 = s_quantile(r->hist, 0.5);
        hg.p99 = s_quantile(r->hist, 0.99);
        comp.histograms = &hp;
        comp.n_histograms = 1;
    }
    int rc = rz_report(r->c, &comp);
    if (rc < 0)
        rzc_log(RZC_LOG_DEBUG, "report to %s: %s", c->broker, rz_strerror(rc));
}
