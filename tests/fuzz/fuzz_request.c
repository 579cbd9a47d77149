/* fuzz_request.c - libFuzzer target for the broker's request decoding.
 *
 * The first input byte picks what the rest is, and each path does what
 * broker/server.c does with a request body, minus the sockets:
 *
 *   0  PUBB body: RawEventBatch, then every event as below
 *   1  PUB body: Event unpack (arena) + rz_event_check + rz_event_topic
 *   2  GET body: GetRequest, then rz_store_get / rz_store_get_id
 *   3  QUERY body: QueryRequest, then rz_store_query with its fields
 *   4  REPLAY body: ReplayRequest, then rz_store_scan with its bounds
 *   5  FETCH body: FetchRequest, then the group lookup and rz_store_scan
 *   6  COMMIT body: CommitRequest (unpack only: the store stays read-only)
 *   7  the rest is a query cursor ("after") for a subject, a topic and a
 *      time query: rz_store_query returns RZ_EBADCURSOR or a count
 *
 * The store is opened once, in a temp dir, and filled with events of a few
 * subjects, topics and times, so that valid-looking cursors walk real
 * index entries. Every event a store read hands out must decode.
 *
 * Seeds: RZ_FUZZ_WRITE_SEEDS=DIR ./fuzz_request writes one valid input of
 * each kind (cursors taken from real query pages) into DIR and exits; the
 * files in tests/fuzz/corpus/fuzz_request were made that way.
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "ratusz/ratusz.h"
#include "redact.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    K_PUBB,
    K_PUB,
    K_GET,
    K_QUERY,
    K_REPLAY,
    K_FETCH,
    K_COMMIT,
    K_CURSOR,
    K_COUNT
};

#define N_EVENTS 300
#define LIMIT_CAP 1000 /* like the broker's query_limit * 10 */
#define CHUNK_CAP 1000

static rz_store_t *s_store;
static char s_dir[256];

static const char *const s_subjects[] = {"parcel:221101_1.0001.161/8",
                                         "station:PL0012A", "unit:1", "", "x"};
static const char *const s_tenants[] = {"1261011", "2211011", "1261", "12"};
static const char *const s_types[] = {
    "pl.gov.gmina.budget.execution.v1", "pl.gov.gmina.env.air_quality.v1",
    "pl.gov.gmina.gis.parcel.v1", "pl.gov.gmina.tax.assessment.v1",
    "org.example.other"};

/* ------------------------------------------------------------------------
 * The store
 */

static int s_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void s_cleanup(void)
{
    rz_store_close(&s_store);
    if (s_dir[0])
        nftw(s_dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Event i of the fill: everything follows from i. */
static void s_fill_one(int i, rz_store_item_t *it, uint8_t *buf, size_t cap,
                       char *id, char *topic)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    snprintf(id, 32, "fz-%d", i);
    ev.id = id;
    ev.source = "/fuzz/seed";
    ev.type = (char *)s_types[i % 5];
    ev.subject = (char *)s_subjects[i % 5];
    ev.tenant = (char *)s_tenants[(i / 5) % 4];
    /* negative, zero, equal and large times */
    ev.time = (int64_t)((i * 7919) % 61 - 20) * 1000000;
    raw.content_type = "text/plain";
    raw.bytes.data = (uint8_t *)id;
    raw.bytes.len = strlen(id);
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    size_t len = ratusz__v1__event__get_packed_size(&ev);
    if (len > cap || rz_event_topic(&ev, topic, RZ_TOPIC_MAX + 1) < 0)
        abort();
    ratusz__v1__event__pack(&ev, buf);
    memset(it, 0, sizeof *it);
    it->bytes = buf;
    it->len = len;
    it->source = ev.source;
    it->source_len = strlen(ev.source);
    it->id = id;
    it->id_len = strlen(id);
    it->subject = ev.subject;
    it->subject_len = strlen(ev.subject);
    it->topic = topic;
    it->topic_len = strlen(topic);
    it->principal = "fuzz";
    it->principal_len = 4;
    it->time = ev.time;
}

static void s_open_store(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/ratusz-fuzz-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(s_dir))
        abort();
    atexit(s_cleanup);
    rz_store_opts_t o = {s_dir, 1 << 20, 64 << 20, RZ_SYNC_OS, 0};
    if (rz_store_open(&s_store, &o) != 0)
        abort();
    for (int i = 0; i < N_EVENTS; i++) {
        uint8_t buf[512];
        char id[32], topic[RZ_TOPIC_MAX + 1];
        rz_store_item_t it;
        s_fill_one(i, &it, buf, sizeof buf, id, topic);
        if (rz_store_append(s_store, &it, 1, 1700000000000000) != 0 ||
            it.code != 0)
            abort();
    }
    if (rz_store_consumer_commit(s_store, "fuzz-group", 17, "1261011.", 1) ||
        rz_store_consumer_commit(s_store, "all", 5, NULL, 1))
        abort();
}

/* Every event the store hands out is one it stored: it decodes. */
static int s_visit(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    size_t *n = user;
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, len, ev);
    if (!e || e->seq != seq)
        abort();
    ratusz__v1__event__free_unpacked(e, NULL);
    (*n)++;
    return 0;
}

/* ------------------------------------------------------------------------
 * The request paths
 */

/* What server.c's s_prepare_event does with one encoded event. */
static void s_event(rz_arena_t *a, const uint8_t *p, size_t len)
{
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(&a->pb, len, p);
    if (!ev)
        return;
    char why[256];
    if (rz_event_check(ev, why, sizeof why) < 0) {
        if (!why[0] || strlen(why) >= sizeof why)
            abort(); /* a refusal always says why */
        return;
    }
    char topic[RZ_TOPIC_MAX + 1];
    int tlen = rz_event_topic(ev, topic, sizeof topic);
    /* a valid event has a topic "<tenant>.<domain>..." */
    if (tlen <= 0 || (size_t)tlen != strlen(topic))
        abort();
    size_t tn = strlen(ev->tenant);
    if ((size_t)tlen <= tn || memcmp(topic, ev->tenant, tn) || topic[tn] != '.')
        abort();
    const char *domain = rz_event_data_domain(ev);
    if (domain && strncmp(topic + tn + 1, domain, strlen(domain)))
        abort();
    if (strlen(ev->id) > RZ_ID_MAX || strlen(ev->source) > RZ_SOURCE_MAX ||
        strlen(ev->subject) > RZ_SUBJECT_MAX)
        abort();
}

static void s_query(const Ratusz__V1__QueryRequest *m)
{
    rz_store_query_t q = {m->subject,  m->topic_prefix,           m->since,
                          m->until,    m->limit ? m->limit : 100, m->after.data,
                          m->after.len, NULL};
    uint8_t raw[RZ_PSEUDONYM_RAW];
    char why[160];
    if (*m->pseudonym) { /* as the server: parsed, or refused */
        if (rz_redact_pseudonym_parse(m->pseudonym, raw, why, sizeof why) < 0)
            return;
        q.pseudonym = raw;
    }
    if (q.limit > LIMIT_CAP)
        q.limit = LIMIT_CAP;
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 99, n = 0;
    int rc = rz_store_query(s_store, &q, s_visit, &n, next, &next_len);
    int both = (*m->subject && *m->topic_prefix) ||
               (q.pseudonym && (*m->subject || *m->topic_prefix));
    if (both ? rc != RZ_EINVAL : rc != RZ_EBADCURSOR && rc < 0)
        abort();
    if (rc >= 0 &&
        ((size_t)rc != n || next_len > RZ_CURSOR_MAX || (uint32_t)rc > q.limit))
        abort();
    if (rc < 0)
        return;
    /* a cursor it returned is one it takes back */
    if (next_len) {
        q.after = next;
        q.after_len = next_len;
        uint8_t next2[RZ_CURSOR_MAX];
        size_t next2_len = 0;
        if (rz_store_query(s_store, &q, s_visit, &n, next2, &next2_len) < 0)
            abort();
    }
}

static void s_scan(uint64_t from, uint64_t until, const char *prefix,
                   uint64_t max)
{
    size_t n = 0;
    uint64_t next = 0;
    int rc = rz_store_scan(s_store, from, until, prefix, (size_t)max, s_visit,
                           &n, &next);
    if (rc < 0 || (size_t)rc != n || n > max)
        abort();
    if (next < (from ? from : 1))
        abort(); /* the continuation never goes back */
}

static void s_replay(const Ratusz__V1__ReplayRequest *m)
{
    uint64_t head = rz_store_head(s_store);
    uint64_t from = m->from_seq ? m->from_seq : 1;
    uint64_t until = m->until_seq ? m->until_seq : head + 1;
    if (until > head + 1)
        until = head + 1;
    uint64_t chunk = m->chunk ? m->chunk : 100;
    if (chunk > CHUNK_CAP)
        chunk = CHUNK_CAP;
    if (m->max_events && m->max_events < chunk)
        chunk = m->max_events;
    if (from < until)
        s_scan(from, until, m->topic_prefix, chunk);
}

static void s_fetch(const Ratusz__V1__FetchRequest *m)
{
    Ratusz__V1__ConsumerGroup *g = NULL;
    uint64_t after = m->after_seq;
    const char *prefix = m->topic_prefix;
    size_t glen = strlen(m->group);
    if (glen == 0 || glen > 200)
        return; /* the broker refuses these first */
    int rc = rz_store_consumer_get(s_store, m->group, &g);
    if (rc == 0) {
        if (!after)
            after = g->committed_seq;
        if (!*prefix)
            prefix = g->topic_prefix;
    } else if (rc != RZ_ENOTFOUND) {
        abort();
    }
    uint64_t max = m->max ? m->max : 100;
    if (max > CHUNK_CAP)
        max = CHUNK_CAP;
    if (after < UINT64_MAX)
        s_scan(after + 1, 0, prefix, max);
    if (g)
        ratusz__v1__consumer_group__free_unpacked(g, NULL);
}

/* The input as the cursor of three kinds of query. */
static void s_cursor(const uint8_t *p, size_t len)
{
    static const Ratusz__V1__QueryRequest base =
        RATUSZ__V1__QUERY_REQUEST__INIT;
    Ratusz__V1__QueryRequest q[3] = {base, base, base};
    q[0].subject = (char *)s_subjects[0];
    q[1].topic_prefix = "1261011.";
    q[2].since = -5000000;
    for (int i = 0; i < 3; i++) {
        q[i].after.data = (uint8_t *)p;
        q[i].after.len = len;
        q[i].limit = 7;
        s_query(&q[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] % K_COUNT;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    rz_arena_t a;
    rz_arena_init(&a);
    switch (kind) {
    case K_PUBB: {
        Ratusz__V1__RawEventBatch *rb =
            ratusz__v1__raw_event_batch__unpack(&a.pb, len, p);
        for (size_t i = 0; rb && i < rb->n_events; i++)
            s_event(&a, rb->events[i].data, rb->events[i].len);
        break;
    }
    case K_PUB: s_event(&a, p, len); break;
    case K_GET: {
        Ratusz__V1__GetRequest *g =
            ratusz__v1__get_request__unpack(&a.pb, len, p);
        size_t n = 0;
        int rc = 0;
        if (g && g->seq)
            rc = rz_store_get(s_store, g->seq, s_visit, &n);
        else if (g && *g->source && *g->id)
            rc = rz_store_get_id(s_store, g->source, g->id, s_visit, &n);
        if (rc != 0 && rc != 1 && rc != RZ_ENOTFOUND)
            abort();
        if (rc == 1 && n != 1)
            abort();
        break;
    }
    case K_QUERY: {
        Ratusz__V1__QueryRequest *q =
            ratusz__v1__query_request__unpack(&a.pb, len, p);
        if (q)
            s_query(q);
        break;
    }
    case K_REPLAY: {
        Ratusz__V1__ReplayRequest *r =
            ratusz__v1__replay_request__unpack(&a.pb, len, p);
        if (r)
            s_replay(r);
        break;
    }
    case K_FETCH: {
        Ratusz__V1__FetchRequest *f =
            ratusz__v1__fetch_request__unpack(&a.pb, len, p);
        if (f)
            s_fetch(f);
        break;
    }
    case K_COMMIT: {
        Ratusz__V1__CommitRequest *c =
            ratusz__v1__commit_request__unpack(&a.pb, len, p);
        if (c && !c->group)
            abort();
        break;
    }
    case K_CURSOR: s_cursor(p, len); break;
    }
    rz_arena_close(&a);
    return 0;
}

/* ------------------------------------------------------------------------
 * Seeds
 */

static void s_seed(const char *dir, const char *name, int kind,
                   const ProtobufCMessage *m, const uint8_t *raw,
                   size_t raw_len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    uint8_t k = (uint8_t)kind;
    fwrite(&k, 1, 1, f);
    if (m) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n + 1);
        protobuf_c_message_pack(m, buf);
        fwrite(buf, 1, n, f);
        free(buf);
    } else {
        fwrite(raw, 1, raw_len, f);
    }
    fclose(f);
}

static void s_write_seeds(const char *dir)
{
    /* events: one of each domain, and a batch of them */
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__BudgetEntry be = RATUSZ__V1__BUDGET_ENTRY__INIT;
    Ratusz__V1__AirQualityMeasurement air =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    Ratusz__V1__GisFeature gis = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry geom = RATUSZ__V1__GEOMETRY__INIT;
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    ev.id = "seed-1";
    ev.source = "/1261011/budget/besti";
    ev.type = "pl.gov.gmina.budget.execution.v1";
    ev.subject = "parcel:221101_1.0001.161/8";
    ev.tenant = "1261011";
    ev.time = 1700000000000000;
    be.dzial = "600";
    be.rozdzial = "60016";
    be.paragraf = "4300";
    be.amount_grosze = 1234500;
    be.currency = "PLN";
    ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    ev.budget = &be;
    uint8_t enc[4][512];
    ProtobufCBinaryData list[4];
    list[0].len = ratusz__v1__event__pack(&ev, enc[0]);
    list[0].data = enc[0];
    s_seed(dir, "pub-budget", K_PUB, &ev.base, NULL, 0);

    ev.id = "seed-2";
    ev.type = "pl.gov.gmina.env.air_quality.v1";
    ev.tenant = "2211011";
    air.station_code = "PL0012A";
    air.parameter = "PM10";
    air.measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
    air.value = 23.4;
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &air;
    list[1].len = ratusz__v1__event__pack(&ev, enc[1]);
    list[1].data = enc[1];
    s_seed(dir, "pub-env", K_PUB, &ev.base, NULL, 0);

    ev.id = "seed-3";
    ev.type = "pl.gov.gmina.gis.parcel.v1";
    geom.crs = "EPSG:2177";
    geom.type = "Point";
    geom.wkt = "POINT(6020000 6500000)";
    gis.feature_id = "221101_1.0001.161/8";
    gis.kind = "parcel";
    gis.geometry = &geom;
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    ev.gis = &gis;
    list[2].len = ratusz__v1__event__pack(&ev, enc[2]);
    list[2].data = enc[2];
    s_seed(dir, "pub-gis", K_PUB, &ev.base, NULL, 0);

    ev.id = "seed-4";
    ev.type = "pl.gov.gmina.tax.assessment.v1";
    tax.document_id = "DN-1/2024/1";
    tax.form = "DN-1";
    tax.tax_year = 2024;
    tax.total_grosze = 164122;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &tax;
    list[3].len = ratusz__v1__event__pack(&ev, enc[3]);
    list[3].data = enc[3];
    s_seed(dir, "pub-tax", K_PUB, &ev.base, NULL, 0);

    Ratusz__V1__RawEventBatch rb = RATUSZ__V1__RAW_EVENT_BATCH__INIT;
    rb.n_events = 4;
    rb.events = list;
    s_seed(dir, "pubb-4", K_PUBB, &rb.base, NULL, 0);

    Ratusz__V1__GetRequest g = RATUSZ__V1__GET_REQUEST__INIT;
    g.seq = 42;
    s_seed(dir, "get-seq", K_GET, &g.base, NULL, 0);
    g.seq = 0;
    g.source = "/fuzz/seed";
    g.id = "fz-7";
    s_seed(dir, "get-id", K_GET, &g.base, NULL, 0);

    Ratusz__V1__QueryRequest q = RATUSZ__V1__QUERY_REQUEST__INIT;
    q.subject = (char *)s_subjects[0];
    q.limit = 5;
    s_seed(dir, "query-subject", K_QUERY, &q.base, NULL, 0);
    /* and with a real cursor of page 1 */
    rz_store_query_t sq = {q.subject, "", 0, 0, 5, NULL, 0, NULL};
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 0, n = 0;
    if (rz_store_query(s_store, &sq, s_visit, &n, next, &next_len) != 5 ||
        !next_len)
        abort();
    q.after.data = next;
    q.after.len = next_len;
    s_seed(dir, "query-subject-page2", K_QUERY, &q.base, NULL, 0);
    s_seed(dir, "cursor-subject", K_CURSOR, NULL, next, next_len);

    Ratusz__V1__QueryRequest qt = RATUSZ__V1__QUERY_REQUEST__INIT;
    qt.topic_prefix = "1261011.";
    qt.since = -10000000;
    qt.until = 30000000;
    qt.limit = 3;
    s_seed(dir, "query-topic-time", K_QUERY, &qt.base, NULL, 0);
    sq = (rz_store_query_t){"", "1261011.", 0, 0, 7, NULL, 0, NULL};
    if (rz_store_query(s_store, &sq, s_visit, &n, next, &next_len) != 7 ||
        !next_len)
        abort();
    s_seed(dir, "cursor-topic", K_CURSOR, NULL, next, next_len);
    sq = (rz_store_query_t){"", "", -5000000, 0, 7, NULL, 0, NULL};
    if (rz_store_query(s_store, &sq, s_visit, &n, next, &next_len) != 7 ||
        !next_len)
        abort();
    s_seed(dir, "cursor-time", K_CURSOR, NULL, next, next_len);

    Ratusz__V1__ReplayRequest r = RATUSZ__V1__REPLAY_REQUEST__INIT;
    r.from_seq = 100;
    r.topic_prefix = "2211011.env.";
    r.chunk = 7;
    r.max_events = 20;
    s_seed(dir, "replay", K_REPLAY, &r.base, NULL, 0);

    Ratusz__V1__FetchRequest fr = RATUSZ__V1__FETCH_REQUEST__INIT;
    fr.group = "fuzz-group";
    fr.max = 10;
    s_seed(dir, "fetch", K_FETCH, &fr.base, NULL, 0);

    Ratusz__V1__CommitRequest c = RATUSZ__V1__COMMIT_REQUEST__INIT;
    c.group = "fuzz-group";
    c.seq = 20;
    s_seed(dir, "commit", K_COMMIT, &c.base, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_open_store();
    const char *seeds = getenv("RZ_FUZZ_WRITE_SEEDS");
    if (seeds && *seeds) {
        s_write_seeds(seeds);
        exit(0);
    }
    return 0;
}
