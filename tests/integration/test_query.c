/* test_query.c - subject timelines, topic and time queries, replay */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 INT64_C(1700000000000000) /* 2023-11-14, unix µs */
#define PARCEL "parcel:221101_1.0001.161/8"

/* ------------------------------------------------------------------------
 * Events of every domain, built from the generated structs
 */

enum dom { D_BUDGET, D_GIS, D_TAX, D_ENV, D_PLAN };

/* One event and the domain messages it points to. */
typedef struct qev {
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry budget;
    Ratusz__V1__GisFeature gis;
    Ratusz__V1__Geometry geom;
    Ratusz__V1__TaxAssessment tax;
    Ratusz__V1__TaxObject tobj;
    Ratusz__V1__TaxObject *tobjs[1];
    Ratusz__V1__Party party;
    Ratusz__V1__AirQualityMeasurement air;
    char id[64], source[64], tenant[8], subject[64];
} qev_t;

static const char *s_type[] = {
    [D_BUDGET] = "pl.gov.gmina.budget.execution.v1",
    [D_GIS] = "pl.gov.gmina.gis.parcel.v1",
    [D_TAX] = "pl.gov.gmina.tax.assessment.v1",
    [D_ENV] = "pl.gov.gmina.env.air_quality.v1",
    [D_PLAN] = "pl.gov.gmina.budget.plan.v1",
};

static const char *s_domain[] = {
    [D_BUDGET] = "budget", [D_GIS] = "gis",     [D_TAX] = "tax",
    [D_ENV] = "env",       [D_PLAN] = "budget",
};

static void s_make(qev_t *q, enum dom d, const char *tenant,
                   const char *subject, const char *id, int64_t time)
{
    memset(q, 0, sizeof *q);
    Ratusz__V1__Event *ev = &q->ev;
    ratusz__v1__event__init(ev);
    snprintf(q->id, sizeof q->id, "%s", id);
    snprintf(q->tenant, sizeof q->tenant, "%s", tenant);
    snprintf(q->subject, sizeof q->subject, "%s", subject ? subject : "");
    snprintf(q->source, sizeof q->source, "/%s/%s/test", tenant, s_domain[d]);
    ev->id = q->id;
    ev->source = q->source;
    ev->tenant = q->tenant;
    ev->subject = q->subject;
    ev->type = (char *)s_type[d];
    ev->time = time;
    switch (d) {
    case D_BUDGET:
    case D_PLAN:
        ratusz__v1__budget_entry__init(&q->budget);
        q->budget.dzial = "700";
        q->budget.rozdzial = "70005";
        q->budget.paragraf = "0750";
        q->budget.side = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_INCOME;
        q->budget.stage =
            d == D_PLAN ? RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN
                        : RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION;
        q->budget.amount_grosze = 123456;
        q->budget.currency = "PLN";
        ev->data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
        ev->budget = &q->budget;
        break;
    case D_GIS:
        ratusz__v1__gis_feature__init(&q->gis);
        ratusz__v1__geometry__init(&q->geom);
        q->geom.crs = "EPSG:2177";
        q->geom.type = "Polygon";
        q->geom.wkt = "POLYGON((6020000 6500000,6020010 6500000,"
                      "6020010 6500010,6020000 6500000))";
        q->gis.feature_id = "221101_1.0001.161/8";
        q->gis.kind = "parcel";
        q->gis.geometry = &q->geom;
        q->gis.area = 0.1234;
        q->gis.area_unit = "ha";
        ev->data_case = RATUSZ__V1__EVENT__DATA_GIS;
        ev->gis = &q->gis;
        break;
    case D_TAX:
        ratusz__v1__tax_assessment__init(&q->tax);
        ratusz__v1__tax_object__init(&q->tobj);
        ratusz__v1__party__init(&q->party);
        q->party.kind = RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION;
        q->party.nip = "5840000000";
        q->party.name = "Spółdzielnia";
        q->tobj.kind = "grunt";
        q->tobj.parcel_id = "221101_1.0001.161/8";
        q->tobj.base_milli = 1234000;
        q->tobj.base_unit = "m2";
        q->tobj.rate_grosze = 133;
        q->tobj.tax_grosze = 164122;
        q->tobjs[0] = &q->tobj;
        q->tax.document_id = "DN-1/2024/0042";
        q->tax.form = "DN-1";
        q->tax.tax_year = 2024;
        q->tax.taxpayer = &q->party;
        q->tax.n_objects = 1;
        q->tax.objects = q->tobjs;
        q->tax.total_grosze = 164122;
        ev->data_case = RATUSZ__V1__EVENT__DATA_TAX;
        ev->tax = &q->tax;
        break;
    case D_ENV:
        ratusz__v1__air_quality_measurement__init(&q->air);
        q->air.station_code = "PmGdaLeczkow";
        q->air.station_id = 117;
        q->air.sensor_id = 658;
        q->air.parameter = "PM10";
        q->air.measured_case =
            RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
        q->air.value = 23.4;
        q->air.unit = "ug/m3";
        q->air.period_start = time;
        q->air.period_seconds = 3600;
        ev->data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
        ev->air_quality = &q->air;
        break;
    }
}

typedef struct pub {
    uint64_t *seq; /* by index */
    size_t acked, failed;
} pub_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    pub_t *p = user;
    if (a->code) {
        p->failed++;
        fprintf(stderr, "ack failed: %s (%s)\n", rz_err_name(a->code),
                a->reason);
        return;
    }
    p->seq[(uintptr_t)a->arg] = a->seq;
    p->acked++;
}

/* Publish n events, all of which must be acked; seq[i] gets event i's. */
static void s_publish(rzt_broker_t *b, qev_t *evs, size_t n, uint64_t *seq)
{
    rz_client_t *c = rzt_client(b, 256, 16);
    assert_non_null(c);
    pub_t p = {seq, 0, 0};
    rz_client_set_ack_cb(c, s_on_ack, &p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rz_publish(c, &evs[i].ev, (void *)(uintptr_t)i), 0);
    assert_int_equal(rz_flush(c, 30000), 0);
    assert_int_equal(p.failed, 0);
    assert_int_equal(p.acked, n);
    rz_client_destroy(&c);
}

/* ------------------------------------------------------------------------
 * What a reader got
 */

typedef struct got {
    size_t n, cap;
    uint64_t *seq;
    int64_t *time;
    int *data_case;
    char (*topic)[RZ_TOPIC_MAX + 1];
    char (*id)[64];
} got_t;

static got_t *s_got(size_t cap)
{
    got_t *g = calloc(1, sizeof *g);
    g->cap = cap;
    g->seq = calloc(cap, sizeof *g->seq);
    g->time = calloc(cap, sizeof *g->time);
    g->data_case = calloc(cap, sizeof *g->data_case);
    g->topic = calloc(cap, sizeof *g->topic);
    g->id = calloc(cap, sizeof *g->id);
    return g;
}

static void s_got_free(got_t *g)
{
    free(g->seq);
    free(g->time);
    free(g->data_case);
    free(g->topic);
    free(g->id);
    free(g);
}

static int s_collect(const rz_event_t *e, void *user)
{
    got_t *g = user;
    assert_true(g->n < g->cap);
    const Ratusz__V1__Event *m = e->msg;
    g->seq[g->n] = m->seq;
    g->time[g->n] = m->time;
    g->data_case[g->n] = m->data_case;
    char topic[RZ_TOPIC_MAX + 1];
    assert_true(rz_event_topic(m, topic, sizeof topic) > 0);
    snprintf(g->topic[g->n], sizeof g->topic[0], "%s", topic);
    snprintf(g->id[g->n], sizeof g->id[0], "%s", m->id);
    g->n++;
    return 0;
}

/* Run q page by page to the end; returns the number of pages. */
static int s_query_all(rz_client_t *c, rz_query_t *q, got_t *g)
{
    int pages = 0;
    q->after_len = 0;
    do {
        size_t before = g->n;
        int rc = rz_query(c, q, s_collect, g);
        assert_true(rc >= 0);
        assert_int_equal((size_t)rc, g->n - before);
        if (q->limit)
            assert_true((uint32_t)rc <= q->limit);
        pages++;
        assert_true(pages < 100000);
    } while (q->after_len);
    return pages;
}

/* Each seq of g once (sorted copy has no repeats). */
static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_assert_unique(const got_t *g)
{
    uint64_t *s = malloc((g->n + 1) * sizeof *s);
    memcpy(s, g->seq, g->n * sizeof *s);
    qsort(s, g->n, sizeof *s, s_cmp_u64);
    for (size_t i = 1; i < g->n; i++)
        assert_true(s[i - 1] < s[i]);
    free(s);
}

/* (time, seq) pairs, for the expected timeline order */
typedef struct ts {
    int64_t time;
    uint64_t seq;
} ts_t;

static int s_cmp_ts(const void *a, const void *b)
{
    const ts_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A deterministic shuffle of 0..n-1. */
static void s_shuffle(int *v, int n, uint32_t seed)
{
    for (int i = 0; i < n; i++)
        v[i] = i;
    for (int i = n - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)((seed >> 8) % (uint32_t)(i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* ------------------------------------------------------------------------
 * Queries
 */

/* The domain messages come back intact from a subject query. */
static int s_check_domains(const rz_event_t *e, void *user)
{
    int *seen = user;
    const Ratusz__V1__Event *m = e->msg;
    switch (m->data_case) {
    case RATUSZ__V1__EVENT__DATA_BUDGET:
        assert_string_equal(m->budget->rozdzial, "70005");
        assert_int_equal(m->budget->amount_grosze, 123456);
        seen[0]++;
        break;
    case RATUSZ__V1__EVENT__DATA_GIS:
        assert_string_equal(m->gis->feature_id, "221101_1.0001.161/8");
        assert_non_null(m->gis->geometry);
        assert_string_equal(m->gis->geometry->crs, "EPSG:2177");
        seen[1]++;
        break;
    case RATUSZ__V1__EVENT__DATA_TAX:
        assert_int_equal(m->tax->n_objects, 1);
        assert_string_equal(m->tax->objects[0]->parcel_id,
                            "221101_1.0001.161/8");
        assert_int_equal(m->tax->total_grosze, 164122);
        assert_string_equal(m->tax->taxpayer->nip, "5840000000");
        seen[2]++;
        break;
    case RATUSZ__V1__EVENT__DATA_AIR_QUALITY:
        assert_int_equal(m->air_quality->measured_case,
                         RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
        assert_true(m->air_quality->value > 23.39 &&
                    m->air_quality->value < 23.41);
        assert_string_equal(m->air_quality->parameter, "PM10");
        seen[3]++;
        break;
    default: fail_msg("unexpected data case %d", m->data_case);
    }
    assert_string_equal(m->subject, PARCEL);
    assert_string_equal(m->principal, "anonymous");
    assert_true(m->seq > 0 && m->ingest_time > 0);
    return 0;
}

static void
test_query_subject_timeline_across_domains_in_event_time_order(void **state)
{
    rzt_broker_t *b = *state;
    /* published out of time order; two share a time (seq breaks the tie) */
    static const struct {
        enum dom d;
        int64_t dt;
    } plan[] = {
        {D_BUDGET, 30}, {D_GIS, 10},   {D_TAX, 40},
        {D_ENV, 20},    {D_BUDGET, 5}, {D_GIS, 40},
    };
    enum { N = sizeof plan / sizeof plan[0] };
    qev_t *evs = calloc(N + 2, sizeof *evs);
    uint64_t seq[N + 2];
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "tl-%d", i);
        s_make(&evs[i], plan[i].d, "2211011", PARCEL, id,
               T0 + plan[i].dt * 1000000);
    }
    /* noise: another parcel, and an event without a subject */
    s_make(&evs[N], D_GIS, "2211011", "parcel:221101_1.0001.161/9", "tl-x",
           T0 + 15000000);
    s_make(&evs[N + 1], D_BUDGET, "2211011", NULL, "tl-y", T0 + 16000000);
    s_publish(b, evs, N + 2, seq);

    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(64);
    rz_query_t q = {0};
    q.subject = PARCEL;
    assert_int_equal(rz_query(c, &q, s_collect, g), N);
    assert_int_equal(q.after_len, 0);

    /* by time, then seq: 5 budget, 10 gis, 20 env, 30 budget, 40 tax,
     * 40 gis (the tax one was published first) */
    static const int want[] = {4, 1, 3, 0, 2, 5};
    static const int want_case[] = {
        RATUSZ__V1__EVENT__DATA_BUDGET,      RATUSZ__V1__EVENT__DATA_GIS,
        RATUSZ__V1__EVENT__DATA_AIR_QUALITY, RATUSZ__V1__EVENT__DATA_BUDGET,
        RATUSZ__V1__EVENT__DATA_TAX,         RATUSZ__V1__EVENT__DATA_GIS};
    static const char *want_topic[] = {
        "2211011.budget.execution.v1", "2211011.gis.parcel.v1",
        "2211011.env.air_quality.v1",  "2211011.budget.execution.v1",
        "2211011.tax.assessment.v1",   "2211011.gis.parcel.v1"};
    for (int i = 0; i < N; i++) {
        assert_int_equal(g->seq[i], seq[want[i]]);
        assert_int_equal(g->time[i], T0 + plan[want[i]].dt * 1000000);
        assert_int_equal(g->data_case[i], want_case[i]);
        assert_string_equal(g->topic[i], want_topic[i]);
        assert_string_equal(g->id[i], evs[want[i]].id);
    }
    assert_true(g->seq[4] < g->seq[5]); /* the tie, in seq order */

    /* the domain data survives the trip */
    int seen[4] = {0};
    q.after_len = 0;
    assert_int_equal(rz_query(c, &q, s_check_domains, seen), N);
    assert_int_equal(seen[0], 2); /* budget */
    assert_int_equal(seen[1], 2); /* gis */
    assert_int_equal(seen[2], 1); /* tax */
    assert_int_equal(seen[3], 1); /* env */
    free(evs);
    s_got_free(g);
    rz_client_destroy(&c);
}

static void
test_query_subject_pages_with_cursor_return_every_event_once(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 250, NOISE = 40 };
    qev_t *evs = calloc(N + NOISE, sizeof *evs);
    uint64_t *seq = calloc(N + NOISE, sizeof *seq);
    int perm[N];
    s_shuffle(perm, N, 7);
    for (int i = 0; i < N + NOISE; i++) {
        char id[32];
        snprintf(id, sizeof id, "pg-%d", i);
        /* 100 distinct times for 250 events: many ties */
        int64_t t = T0 + (i < N ? perm[i] % 100 : i) * 1000;
        s_make(&evs[i], (enum dom)(i % 4), "2211011",
               i < N ? PARCEL : "parcel:other", id, t);
    }
    s_publish(b, evs, N + NOISE, seq);

    ts_t want[N];
    for (int i = 0; i < N; i++)
        want[i] = (ts_t){evs[i].ev.time, seq[i]};
    qsort(want, N, sizeof want[0], s_cmp_ts);

    rz_client_t *c = rzt_client(b, 0, 0);
    static const uint32_t limits[] = {7, 1, 50, 249, 250, 0};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        got_t *g = s_got(N + 1);
        rz_query_t q = {0};
        q.subject = PARCEL;
        q.limit = limits[l];
        int pages = s_query_all(c, &q, g);
        uint32_t per = limits[l] ? limits[l] : 1000; /* broker default */
        assert_int_equal(pages, (N + per - 1) / per);
        assert_int_equal(g->n, N);
        s_assert_unique(g);
        for (int i = 0; i < N; i++) {
            assert_int_equal(g->seq[i], want[i].seq);
            assert_int_equal(g->time[i], want[i].time);
        }
        s_got_free(g);
    }

    /* every domain is on the parcel's timeline, data intact */
    int seen[4] = {0};
    rz_query_t q = {0};
    q.subject = PARCEL;
    q.limit = 1000;
    assert_int_equal(rz_query(c, &q, s_check_domains, seen), N);
    for (int d = 0; d < 4; d++)
        assert_true(seen[d] >= N / 4);
    free(evs);
    free(seq);
    rz_client_destroy(&c);
}

/* 300 events over topics of two tenants and four domains. */
static void s_mixed(rzt_broker_t *b, qev_t *evs, uint64_t *seq, int n)
{
    static const struct {
        enum dom d;
        const char *tenant;
    } mix[] = {
        {D_BUDGET, "1261011"}, {D_ENV, "1261011"},  {D_BUDGET, "1262011"},
        {D_GIS, "1261011"},    {D_PLAN, "1261011"}, {D_TAX, "1261011"},
        {D_BUDGET, "1261"},    {D_ENV, "12"},
    };
    for (int i = 0; i < n; i++) {
        char id[32], subj[32];
        snprintf(id, sizeof id, "mx-%d", i);
        snprintf(subj, sizeof subj, "unit:%d", i % 5);
        int k = (i * 7 + i / 3) % 8; /* irregular interleaving */
        s_make(&evs[i], mix[k].d, mix[k].tenant, subj, id,
               T0 + (int64_t)((i * 37) % 101) * 1000);
    }
    s_publish(b, evs, (size_t)n, seq);
}

/* The seqs (ascending) of events whose topic starts with prefix. */
static size_t s_expect_prefix(qev_t *evs, const uint64_t *seq, int n,
                              const char *prefix, uint64_t *out)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        char topic[RZ_TOPIC_MAX + 1];
        rz_event_topic(&evs[i].ev, topic, sizeof topic);
        if (!strncmp(topic, prefix, strlen(prefix)))
            out[k++] = seq[i];
    }
    qsort(out, k, sizeof *out, s_cmp_u64);
    return k;
}

static void s_check_prefix_query(rz_client_t *c, qev_t *evs,
                                 const uint64_t *seq, int n, const char *prefix,
                                 uint32_t limit)
{
    uint64_t *want = calloc((size_t)n, sizeof *want);
    size_t nw = s_expect_prefix(evs, seq, n, prefix, want);
    got_t *g = s_got((size_t)n + 1);
    rz_query_t q = {0};
    q.topic_prefix = prefix;
    q.limit = limit;
    s_query_all(c, &q, g);
    assert_true(nw > 0);
    assert_int_equal(g->n, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(g->seq[i], want[i]); /* seq order */
        assert_int_equal(strncmp(g->topic[i], prefix, strlen(prefix)), 0);
    }
    s_got_free(g);
    free(want);
}

static void
test_query_topic_prefix_returns_only_that_domain_in_seq_order(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 300 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N];
    s_mixed(b, evs, seq, N);
    rz_client_t *c = rzt_client(b, 0, 0);
    /* budget of 1261011: two topics (execution, plan) merged by seq;
     * not 1262011's budget, not the powiat 1261 */
    s_check_prefix_query(c, evs, seq, N, "1261011.budget.", 13);
    s_check_prefix_query(c, evs, seq, N, "1261011.budget.", 0);
    s_check_prefix_query(c, evs, seq, N, "1261011.budget.plan.v1", 4);
    s_check_prefix_query(c, evs, seq, N, "1261011.env.", 1);
    s_check_prefix_query(c, evs, seq, N, "1261011.gis.parcel.v1", 1000);

    /* a prefix no topic has */
    got_t *g = s_got(4);
    rz_query_t q = {0};
    q.topic_prefix = "1261011.budgetx";
    assert_int_equal(rz_query(c, &q, s_collect, g), 0);
    assert_int_equal(q.after_len, 0);
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

static void test_query_tenant_prefix_selects_one_tenant(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 300 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N];
    s_mixed(b, evs, seq, N);
    rz_client_t *c = rzt_client(b, 0, 0);
    s_check_prefix_query(c, evs, seq, N, "1261011.", 17); /* gmina */
    s_check_prefix_query(c, evs, seq, N, "1262011.", 17); /* another */
    s_check_prefix_query(c, evs, seq, N, "1261.", 9);     /* its powiat */
    s_check_prefix_query(c, evs, seq, N, "12.", 0);       /* voivodeship */
    s_check_prefix_query(c, evs, seq, N, "1261", 50);     /* both */

    /* the gmina's prefix really excludes the powiat's events */
    uint64_t want_g[N], want_p[N];
    size_t ng = s_expect_prefix(evs, seq, N, "1261011.", want_g);
    size_t np = s_expect_prefix(evs, seq, N, "1261.", want_p);
    size_t nboth = s_expect_prefix(evs, seq, N, "1261", want_g);
    assert_true(np > 0 && ng > 0);
    assert_int_equal(nboth, ng + np);
    free(evs);
    rz_client_destroy(&c);
}

static void test_query_time_range_on_subject_topic_and_all_events(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 100 };
    qev_t *evs = calloc(2 * N, sizeof *evs);
    uint64_t seq[2 * N];
    int perm[N];
    s_shuffle(perm, N, 99);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "tr-%d", i);
        /* the parcel: time k ms, published in shuffled order */
        s_make(&evs[i], (enum dom)(perm[i] % 4), "1261011", PARCEL, id,
               T0 + perm[i] * 1000);
        /* another subject at k ms + 500 µs */
        snprintf(id, sizeof id, "tr-o-%d", i);
        s_make(&evs[N + i], D_BUDGET, "1261011", "unit:9", id,
               T0 + i * 1000 + 500);
    }
    s_publish(b, evs, 2 * N, seq);
    rz_client_t *c = rzt_client(b, 0, 0);
    const int64_t since = T0 + 20 * 1000, until = T0 + 50 * 1000;

    /* subject: [since, until) in time order */
    got_t *g = s_got(2 * N + 1);
    rz_query_t q = {0};
    q.subject = PARCEL;
    q.since = since;
    q.until = until;
    q.limit = 9;
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 30);
    for (size_t i = 0; i < g->n; i++)
        assert_int_equal(g->time[i], T0 + (int64_t)(20 + i) * 1000);

    /* only since, only until */
    g->n = 0;
    q = (rz_query_t){0};
    q.subject = PARCEL;
    q.since = T0 + 90 * 1000;
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 10);
    assert_int_equal(g->time[0], T0 + 90 * 1000);
    g->n = 0;
    q = (rz_query_t){0};
    q.subject = PARCEL;
    q.until = T0 + 5 * 1000;
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 5);
    assert_int_equal(g->time[4], T0 + 4 * 1000);

    /* neither subject nor topic: every event in the range, time order */
    g->n = 0;
    q = (rz_query_t){0};
    q.since = since;
    q.until = until;
    q.limit = 7;
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 60);
    for (size_t i = 0; i < g->n; i++) {
        int64_t want = T0 + (int64_t)(20 + i / 2) * 1000 + (i % 2 ? 500 : 0);
        assert_int_equal(g->time[i], want);
    }
    s_assert_unique(g);

    /* topic prefix: seq order, filtered by event time */
    uint64_t want[2 * N];
    size_t nw = 0;
    for (int i = 0; i < 2 * N; i++)
        if (evs[i].ev.type == s_type[D_BUDGET] && evs[i].ev.time >= since &&
            evs[i].ev.time < until)
            want[nw++] = seq[i];
    qsort(want, nw, sizeof want[0], s_cmp_u64);
    g->n = 0;
    q = (rz_query_t){0};
    q.topic_prefix = "1261011.budget.execution.v1";
    q.since = since;
    q.until = until;
    q.limit = 4;
    s_query_all(c, &q, g);
    assert_true(nw > 30);
    assert_int_equal(g->n, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(g->seq[i], want[i]);
        assert_true(g->time[i] >= since && g->time[i] < until);
    }

    /* times before 1970 sort before the epoch and after each other */
    qev_t old[4];
    uint64_t old_seq[4];
    static const int64_t old_t[4] = {INT64_C(1000000), INT64_C(-1000000), 0,
                                     INT64_C(-2000000)};
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof id, "old-%d", i);
        s_make(&old[i], D_BUDGET, "1261011", "archive:1969", id, old_t[i]);
    }
    s_publish(b, old, 4, old_seq);
    g->n = 0;
    q = (rz_query_t){0};
    q.subject = "archive:1969";
    q.limit = 3;
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 4);
    static const int order[4] = {3, 1, 2, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(g->seq[i], old_seq[order[i]]);
    g->n = 0;
    q.since = INT64_C(-1000000);
    q.until = INT64_C(1000000);
    s_query_all(c, &q, g);
    assert_int_equal(g->n, 2);
    assert_int_equal(g->time[0], INT64_C(-1000000));
    assert_int_equal(g->time[1], 0);

    /* an empty range */
    g->n = 0;
    q = (rz_query_t){0};
    q.subject = PARCEL;
    q.since = until;
    q.until = since;
    assert_int_equal(rz_query(c, &q, s_collect, g), 0);
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

static void test_query_foreign_cursor_is_rejected(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 20 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N];
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "cur-%d", i);
        s_make(&evs[i], D_BUDGET, "1261011", PARCEL, id, T0 + i);
    }
    s_publish(b, evs, N, seq);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(4 * N);

    rz_query_t subj = {0};
    subj.subject = PARCEL;
    subj.limit = 5;
    assert_int_equal(rz_query(c, &subj, s_collect, g), 5);
    assert_true(subj.after_len > 0);

    rz_query_t topic = {0};
    topic.topic_prefix = "1261011.";
    topic.limit = 5;
    assert_int_equal(rz_query(c, &topic, s_collect, g), 5);
    assert_true(topic.after_len > 0);

    /* a subject cursor on a topic query, and the other way round */
    rz_query_t q = topic;
    memcpy(q.after, subj.after, subj.after_len);
    q.after_len = subj.after_len;
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);
    q = subj;
    memcpy(q.after, topic.after, topic.after_len);
    q.after_len = topic.after_len;
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);

    /* the same kind of query, for another subject or another range */
    q = subj;
    q.subject = "parcel:somewhere-else";
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);
    q = subj;
    q.since = T0 + 1;
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);
    /* a time query (no subject) with a subject cursor */
    q = subj;
    q.subject = NULL;
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);

    /* bytes that were never a cursor */
    q = subj;
    memset(q.after, 0xA5, RZ_CURSOR_MAX);
    for (size_t len = 1; len <= RZ_CURSOR_MAX; len += 7) {
        q.after_len = len;
        assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);
    }
    q = subj;
    q.after[0] ^= 0xff;
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);
    q = subj;
    q.after[2] ^= 1; /* the hash of the query it belongs to */
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADCURSOR);

    /* nothing was delivered by the rejected ones, and the right cursor
     * still works */
    assert_int_equal(g->n, 10);
    assert_int_equal(rz_query(c, &subj, s_collect, g), 5);
    assert_int_equal(g->seq[10], seq[5]);
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

static void test_query_subject_and_topic_together_is_a_bad_request(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(4);
    rz_query_t q = {0};
    q.subject = PARCEL;
    q.topic_prefix = "1261011.";
    assert_int_equal(rz_query(c, &q, s_collect, g), RZ_EBADREQ);
    assert_int_equal(g->n, 0);
    /* the connection is still good */
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(c, &h), 0);
    assert_string_equal(h->status, "ok");
    ratusz__v1__health__free_unpacked(h, NULL);
    s_got_free(g);
    rz_client_destroy(&c);
}

/* ------------------------------------------------------------------------
 * Replay
 */

static void s_publish_n(rzt_broker_t *b, int n, uint64_t *seq, qev_t *evs)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "rp-%d", i);
        s_make(&evs[i], i % 3 == 0 ? D_ENV : D_BUDGET, "1261011", "unit:1", id,
               T0 + i);
    }
    s_publish(b, evs, (size_t)n, seq);
}

static void test_replay_from_the_middle_returns_exactly_the_rest(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 500 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N];
    s_publish_n(b, N, seq, evs);
    uint64_t head = rzt_head(b);
    assert_int_equal(head, N);
    for (int i = 0; i < N; i++) /* one client's events are stored in order */
        assert_int_equal(seq[i], i + 1);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(N + 1);

    static const uint64_t from[] = {1, 2, 250, 377, 499, 500};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        g->n = 0;
        rz_replay_t r = {from[k], 0, NULL, 0, 0};
        assert_int_equal(rz_replay(c, &r, s_collect, g),
                         (int64_t)(head - from[k] + 1));
        for (size_t i = 0; i < g->n; i++) {
            assert_int_equal(g->seq[i], from[k] + i);
            /* the event is the one that got that seq */
            assert_string_equal(g->id[i], evs[g->seq[i] - 1].id);
        }
    }
    /* past the head: nothing */
    g->n = 0;
    rz_replay_t past = {head + 1, 0, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &past, s_collect, g), 0);
    assert_int_equal(g->n, 0);
    /* a window [100, 200) */
    rz_replay_t win = {100, 200, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &win, s_collect, g), 100);
    for (size_t i = 0; i < g->n; i++)
        assert_int_equal(g->seq[i], 100 + i);
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

static void
test_replay_topic_prefix_returns_only_matching_in_seq_order(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 300 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N], want[N];
    s_mixed(b, evs, seq, N);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(N + 1);
    static const char *prefixes[] = {"1261011.env.", "1261011.budget.", "1261.",
                                     "1262011.budget.execution.v1"};
    static const uint32_t chunks[] = {0, 7, 1};
    for (size_t p = 0; p < 4; p++) {
        size_t nw = s_expect_prefix(evs, seq, N, prefixes[p], want);
        assert_true(nw > 0);
        for (size_t k = 0; k < 3; k++) {
            g->n = 0;
            rz_replay_t r = {1, 0, prefixes[p], 0, chunks[k]};
            assert_int_equal(rz_replay(c, &r, s_collect, g), (int64_t)nw);
            for (size_t i = 0; i < nw; i++) {
                assert_int_equal(g->seq[i], want[i]);
                assert_int_equal(
                    strncmp(g->topic[i], prefixes[p], strlen(prefixes[p])), 0);
            }
        }
        /* from the middle of the prefix's events */
        g->n = 0;
        rz_replay_t r = {want[nw / 2], 0, prefixes[p], 0, 7};
        assert_int_equal(rz_replay(c, &r, s_collect, g),
                         (int64_t)(nw - nw / 2));
        assert_int_equal(g->seq[0], want[nw / 2]);
        assert_int_equal(g->seq[g->n - 1], want[nw - 1]);
    }
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

static void
test_replay_max_events_and_small_chunks_cross_chunk_boundaries(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 500 };
    qev_t *evs = calloc(N, sizeof *evs);
    uint64_t seq[N];
    s_publish_n(b, N, seq, evs);
    rz_client_t *c = rzt_client(b, 0, 0);
    got_t *g = s_got(N + 1);
    static const struct {
        uint64_t from, max;
        uint64_t want_n;
        uint64_t requests; /* REPLAYs of 7 that hold the events wanted */
    } cases[] = {
        {1, 50, 50, 8}, /* 7 * 7 + 1 */
        {1, 49, 49, 7}, /* exactly seven full chunks */
        {1, 7, 7, 1},       {1, 1, 1, 1},
        {33, 100, 100, 15}, {490, 50, 11, 2}, /* more asked than there is */
        {1, 0, N, 72}, /* everything: 71 full chunks + 3 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        g->n = 0;
        rz_client_stats_t s0, s1;
        rz_client_stats(c, &s0);
        rz_replay_t r = {cases[k].from, 0, NULL, cases[k].max, 7};
        assert_int_equal(rz_replay(c, &r, s_collect, g),
                         (int64_t)cases[k].want_n);
        rz_client_stats(c, &s1);
        assert_int_equal(g->n, cases[k].want_n);
        for (size_t i = 0; i < g->n; i++)
            assert_int_equal(g->seq[i], cases[k].from + i);
        /* An unfiltered replay keeps up to 4 ranges in flight, so past
         * the head it may ask for up to 3 empty ranges and then once
         * more where the head was; it never asks for less. */
        assert_in_range(s1.requests - s0.requests, cases[k].requests,
                        cases[k].requests + 4);
    }

    /* with a prefix, the limit counts matching events only */
    uint64_t want[N];
    size_t nw = 0;
    for (int i = 0; i < N; i++)
        if (evs[i].ev.type == s_type[D_ENV])
            want[nw++] = seq[i];
    qsort(want, nw, sizeof want[0], s_cmp_u64);
    g->n = 0;
    rz_replay_t r = {1, 0, "1261011.env.", 20, 7};
    assert_int_equal(rz_replay(c, &r, s_collect, g), 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(g->seq[i], want[i]);
    s_got_free(g);
    free(evs);
    rz_client_destroy(&c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, rzt_setup, rzt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_query_subject_timeline_across_domains_in_event_time_order),
        T(test_query_subject_pages_with_cursor_return_every_event_once),
        T(test_query_topic_prefix_returns_only_that_domain_in_seq_order),
        T(test_query_tenant_prefix_selects_one_tenant),
        T(test_query_time_range_on_subject_topic_and_all_events),
        T(test_query_foreign_cursor_is_rejected),
        T(test_query_subject_and_topic_together_is_a_bad_request),
        T(test_replay_from_the_middle_returns_exactly_the_rest),
        T(test_replay_topic_prefix_returns_only_matching_in_seq_order),
        T(test_replay_max_events_and_small_chunks_cross_chunk_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
