/* test_kafka_redaction.c - what an uncleared Kafka bridge writes holds no
 * personal data: only keyed pseudonyms, in both value formats, read back
 * with librdkafka and with kcat; a cleared bridge writes the data, and the
 * broker's audit log says so.
 *
 * One ratuszd with CURVE and these principals:
 *
 *   adapter-tax     publishes sources /2261011/tax/..., clearance
 *   adapter-budget  publishes sources /2261011/budget/...
 *   kafka-out       reads everything, owns kafka-*, no clearance
 *   kafka-cleared   reads everything, owns kafka-*, clearance
 *   auditor         admin audit (and consumers, stats: the harness's
 *                   helpers wait on the bridges' groups with them)
 *
 * Four bridge runs against one mock cluster, each to its own topic:
 *
 *   key            format            group / topic
 *   kafka-out      protobuf          kafka-out-pb      / rz.out.pb
 *   kafka-out      cloudevents-json  kafka-out-json    / rz.out.json
 *   kafka-cleared  protobuf          kafka-cleared-pb  / rz.cleared.pb
 *   kafka-cleared  cloudevents-json  kafka-cleared-json/ rz.cleared.json
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kharness.h"
#include "redact.h"

#define TENANT "2261011"
#define T0 INT64_C(1717200000000000)
#define S_KCAT "/usr/bin/kcat"

/* ------------------------------------------------------------------------
 * The two taxpayers: every personal string is distinct and searchable,
 * with Polish letters in the names and addresses.
 */

enum { S_PESEL, S_NAME, S_ADDRESS, S_ACCOUNT, S_FIELDS };
static const char *const s_field_names[S_FIELDS] = {"pesel", "name", "address",
                                                    "account"};

typedef struct s_payer {
    const char *subject;
    const char *v[S_FIELDS];
    int n_events;
} s_payer_t;

static const s_payer_t s_payers[2] = {
    {"parcel:221101_1.0001.161/8",
     {"44051401359", "Grzegorz Brzęczyszczykiewicz",
      "ul. Źródlana 7 m. 3, 84-150 Hel", "61109010140000071219812874"},
     3},
    {"parcel:221101_1.0001.162/4",
     {"02270803628", "Anna Żółkiewska-Ślęzak", "ul. Łąkowa 12, 80-180 Gdańsk",
      "27114020040000300201355387"},
     2},
};

#define S_TAX_EVENTS 5
#define S_BUDGET_EVENTS 2
#define S_EVENTS (S_TAX_EVENTS + S_BUDGET_EVENTS)

/* ------------------------------------------------------------------------
 * The bridge runs
 */

enum { S_OUT_PB, S_OUT_JSON, S_CLEARED_PB, S_CLEARED_JSON, S_RUNS };

typedef struct s_run {
    const char *principal, *format, *group, *topic;
    int cleared, json;
} s_run_t;

static const s_run_t s_runs[S_RUNS] = {
    {"kafka-out", "protobuf", "kafka-out-pb", "rz.out.pb", 0, 0},
    {"kafka-out", "cloudevents-json", "kafka-out-json", "rz.out.json", 0, 1},
    {"kafka-cleared", "protobuf", "kafka-cleared-pb", "rz.cleared.pb", 1, 0},
    {"kafka-cleared", "cloudevents-json", "kafka-cleared-json",
     "rz.cleared.json", 1, 1},
};

enum { S_TAX, S_BUDGET, S_KOUT, S_KCLEARED, S_AUDITOR, S_WHO };
static const char *const s_who_names[S_WHO] = {
    "adapter-tax", "adapter-budget", "kafka-out", "kafka-cleared", "auditor"};

typedef struct s_fix {
    rzt_broker_t b;
    rzk_mock_t m;
    char keys[256];
    char srv_pub[41], srv_sec[41];
    char pub[S_WHO][41], sec[S_WHO][41];
    rz_redact_key_t rkey; /* the broker's pseudonym secret */
    char pseudo[2][S_FIELDS][28];
    char redaction[40]; /* "hmac-sha256:<key id>" */
    uint64_t head;
    int carried; /* every run reached the head */
} s_fix_t;

static s_fix_t *S;

/* ------------------------------------------------------------------------
 * Set-up: broker, principals, mock cluster, events
 */

static int s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int s_write_principals(const char *path)
{
    char text[4096];
    snprintf(text, sizeof text,
             "principals:\n"
             "  adapter-tax:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/" TENANT "/tax/*\"]\n"
             "    publish_tenants: [\"" TENANT "\"]\n"
             "    personal_data: true\n"
             "  adapter-budget:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/" TENANT "/budget/*\"]\n"
             "    publish_tenants: [\"" TENANT "\"]\n"
             "  kafka-out:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n"
             "    groups: [\"kafka-*\"]\n"
             "    personal_data: false\n"
             "  kafka-cleared:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n"
             "    groups: [\"kafka-*\"]\n"
             "    personal_data: true\n"
             "  auditor:\n"
             "    key: \"%s\"\n"
             "    admin: [audit, consumers, stats]\n",
             S->pub[S_TAX], S->pub[S_BUDGET], S->pub[S_KOUT],
             S->pub[S_KCLEARED], S->pub[S_AUDITOR]);
    return s_write(path, text);
}

static rz_client_t *s_client(int who)
{
    rz_client_opts_t o = {0};
    o.window = 64;
    o.batch = 1;
    o.timeout_ms = 5000;
    o.curve_public = S->pub[who];
    o.curve_secret = S->sec[who];
    o.curve_server = S->srv_pub;
    return rz_client_new(S->b.front, &o);
}

typedef struct s_tev {
    Ratusz__V1__Event ev;
    Ratusz__V1__TaxAssessment tax;
    Ratusz__V1__Party party;
    Ratusz__V1__BudgetEntry budget;
    char id[64];
} s_tev_t;

static void s_tax_event(s_tev_t *t, int payer, int i)
{
    const s_payer_t *p = &s_payers[payer];
    memset(t, 0, sizeof *t);
    ratusz__v1__event__init(&t->ev);
    ratusz__v1__tax_assessment__init(&t->tax);
    ratusz__v1__party__init(&t->party);
    snprintf(t->id, sizeof t->id, "dn1-%c-%d", 'a' + payer, i);
    t->ev.id = t->id;
    t->ev.source = "/" TENANT "/tax/podatki";
    t->ev.type = "pl.gov.gmina.tax.assessment.v1";
    t->ev.subject = (char *)p->subject;
    t->ev.tenant = TENANT;
    t->ev.time = T0 + payer * 10 + i;
    t->party.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    t->party.pesel = (char *)p->v[S_PESEL];
    t->party.name = (char *)p->v[S_NAME];
    t->party.address = (char *)p->v[S_ADDRESS];
    t->tax.account = (char *)p->v[S_ACCOUNT];
    t->tax.document_id = t->id;
    t->tax.form = "DN-1";
    t->tax.tax_year = 2024;
    t->tax.taxpayer = &t->party;
    t->tax.total_grosze = 123400 + i;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    t->ev.tax = &t->tax;
}

static void s_budget_event(s_tev_t *t, int i)
{
    memset(t, 0, sizeof *t);
    ratusz__v1__event__init(&t->ev);
    ratusz__v1__budget_entry__init(&t->budget);
    snprintf(t->id, sizeof t->id, "b-%d", i);
    t->ev.id = t->id;
    t->ev.source = "/" TENANT "/budget/besti";
    t->ev.type = "pl.gov.gmina.budget.execution.v1";
    t->ev.subject = "unit:7";
    t->ev.tenant = TENANT;
    t->ev.time = T0 + 100 + i;
    t->budget.dzial = "700";
    t->budget.unit = "Urząd Gminy Hel";
    t->budget.amount_grosze = 5000 + i;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    t->ev.budget = &t->budget;
}

/* Tax and budget events interleaved: A, A, budget, B, A, budget, B. */
static int s_publish(void)
{
    rz_client_t *tax = s_client(S_TAX), *bud = s_client(S_BUDGET);
    static const int order[S_EVENTS] = {0, 0, -1, 1, 0, -1, 1};
    int seen[2] = {0, 0}, budgets = 0, rc = 0;
    s_tev_t t;
    for (int i = 0; i < S_EVENTS && rc == 0 && tax && bud; i++) {
        if (order[i] < 0) {
            s_budget_event(&t, ++budgets);
            rc = rzt_publish_sync(bud, &t.ev, NULL);
        } else {
            s_tax_event(&t, order[i], ++seen[order[i]]);
            rc = rzt_publish_sync(tax, &t.ev, NULL);
        }
        if (rc)
            fprintf(stderr, "publish %s: %s\n", t.id, rz_strerror(rc));
    }
    if (!tax || !bud)
        rc = -1;
    rz_client_destroy(&tax);
    rz_client_destroy(&bud);
    return rc;
}

static int s_setup(void **state)
{
    (void)state;
    char path[320], err[256];
    S = calloc(1, sizeof *S);
    if (!S || rzt_tmpdir(S->keys, sizeof S->keys) < 0)
        return -1;
    rzt_keypair(S->srv_pub, S->srv_sec);
    for (int i = 0; i < S_WHO; i++)
        rzt_keypair(S->pub[i], S->sec[i]);
    snprintf(path, sizeof path, "%s/ratuszd.key", S->keys);
    if (rzt_write_key(path, "ratuszd", S->srv_pub, S->srv_sec) < 0)
        return -1;
    /* the bridges' secret keys, as `ratusz keygen` writes them */
    for (int i = S_KOUT; i <= S_KCLEARED; i++) {
        snprintf(path, sizeof path, "%s/%s.key", S->keys, s_who_names[i]);
        if (rzt_write_key(path, s_who_names[i], S->pub[i], S->sec[i]) < 0)
            return -1;
    }
    static char keyarg[320], principals[320];
    snprintf(keyarg, sizeof keyarg, "%s/ratuszd.key", S->keys);
    snprintf(principals, sizeof principals, "%s/principals.yaml", S->keys);
    if (s_write_principals(principals) < 0)
        return -1;
    const char *extra[] = {"--server-key", keyarg, "--principals", principals,
                           NULL};
    /* the harness's probe, rzt_head and rzk_wait_group go as the auditor */
    rzt_curve(S->pub[S_AUDITOR], S->sec[S_AUDITOR], S->srv_pub);
    if (rzt_broker_start(&S->b, extra) < 0)
        return -1;

    /* the secret the broker made on its first start: the pseudonyms the
     * uncleared bridge must write are computed here from the values */
    snprintf(path, sizeof path, "%s/redaction.key", S->b.dir);
    if (rz_redact_key_load(path, 0, &S->rkey, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < S_FIELDS; f++)
            rz_redact_pseudonym(&S->rkey, s_payers[p].v[f],
                                strlen(s_payers[p].v[f]), S->pseudo[p][f]);
    snprintf(S->redaction, sizeof S->redaction, "hmac-sha256:%s", S->rkey.id);

    const char *topics[S_RUNS + 1];
    static char tnames[S_RUNS][64];
    for (int i = 0; i < S_RUNS; i++) {
        snprintf(tnames[i], sizeof tnames[i], "%s:2:1", s_runs[i].topic);
        topics[i] = tnames[i];
    }
    topics[S_RUNS] = NULL;
    if (rzk_mock_start(&S->m, 1, topics) < 0)
        return -1;
    if (s_publish() < 0)
        return -1;
    S->head = rzt_head(&S->b);
    return S->head == S_EVENTS ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    rzk_mock_stop(&S->m);
    rzt_broker_cleanup(&S->b);
    rzt_rmtree(S->keys);
    rzt_curve(NULL, NULL, NULL);
    free(S);
    return 0;
}

/* ------------------------------------------------------------------------
 * Running the bridges
 */

static void s_yaml(char *buf, size_t len, const s_run_t *r)
{
    snprintf(buf, len,
             "mode: out\n"
             "name: kafka/%s\n"
             "broker: %s\n"
             "key: %s/%s.key\n"
             "server_key: \"%s\"\n"
             "group: %s\n"
             "topic: %s\n"
             "format: %s\n"
             "commit_interval: 50\n"
             "report_interval: 200\n"
             "kafka:\n"
             "  bootstrap.servers: %s\n"
             "  log_level: 4\n",
             r->group, S->b.front, S->keys, r->principal, S->srv_pub, r->group,
             r->topic, r->format, S->m.bootstrap);
}

/* All four bridges at once, each until its group's committed position is
 * the broker's head, that is until Kafka acknowledged every event. */
static void test_bridges_carry_every_event_to_kafka(void **state)
{
    (void)state;
    rzk_bridge_t br[S_RUNS];
    char yaml[2048];
    for (int i = 0; i < S_RUNS; i++) {
        s_yaml(yaml, sizeof yaml, &s_runs[i]);
        assert_int_equal(rzk_bridge_start(&br[i], yaml), 0);
    }
    int failed = 0;
    for (int i = 0; i < S_RUNS; i++)
        if (rzk_wait_group(&S->b, s_runs[i].group, S->head, 20) < 0) {
            fprintf(stderr, "group %s did not reach seq %llu\n",
                    s_runs[i].group, (unsigned long long)S->head);
            failed = 1;
        }
    for (int i = 0; i < S_RUNS; i++) {
        int rc = rzk_bridge_stop(&br[i]);
        if (rc != 0) {
            fprintf(stderr, "bridge %s exited with %d\n", s_runs[i].group, rc);
            failed = 1;
        }
    }
    for (int i = 0; i < S_RUNS; i++)
        rzk_bridge_cleanup(&br[i], failed);
    assert_int_equal(failed, 0);
    S->carried = 1;
}

/* ------------------------------------------------------------------------
 * Reading back with librdkafka
 */

typedef struct s_seen {
    const s_run_t *run;
    int n, n_tax, n_budget;
    int n_bad;           /* value not an event, or not the expected one */
    int leaks;           /* records with a personal value anywhere */
    int personal;        /* cleared: records with every value of the payer */
    int redaction_value; /* tax records whose event says it was redacted */
    int redaction_json;  /* ... whose JSON text has the attribute */
    int redaction_header;
    int redaction_budget; /* budget records marked redacted: none */
    int wrong_pseudonym;  /* a field that is not the value's pseudonym */
    int payer_events[2];
} s_seen_t;

static int s_has(const void *hay, size_t n, const char *needle)
{
    return hay && memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Which personal value (payer * S_FIELDS + field) occurs in the bytes, or
 * -1. */
static int s_leak(const void *hay, size_t n)
{
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < S_FIELDS; f++)
            if (s_has(hay, n, s_payers[p].v[f]))
                return p * S_FIELDS + f;
    return -1;
}

static void s_report_leak(const rd_kafka_message_t *m, const char *where,
                          int which)
{
    fprintf(stderr,
            "%s partition %d offset %lld: %s of taxpayer %c in the %s\n",
            rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset,
            s_field_names[which % S_FIELDS], 'A' + which / S_FIELDS, where);
}

/* Any personal value in the key, a header name or value, or the value?
 * Each one found is printed unless quiet. */
static int s_record_leaks(const rd_kafka_message_t *m, int quiet)
{
    int which, leaks = 0;
    if ((which = s_leak(m->key, m->key_len)) >= 0) {
        if (!quiet)
            s_report_leak(m, "key", which);
        leaks++;
    }
    if ((which = s_leak(m->payload, m->len)) >= 0) {
        if (!quiet)
            s_report_leak(m, "value", which);
        leaks++;
    }
    rd_kafka_headers_t *hs = NULL;
    if (rd_kafka_message_headers(m, &hs) == 0) {
        const char *name;
        const void *v;
        size_t n;
        for (size_t i = 0; !rd_kafka_header_get_all(hs, i, &name, &v, &n); i++)
            if ((which = s_leak(name, strlen(name))) >= 0 ||
                (which = s_leak(v, n)) >= 0) {
                if (!quiet)
                    s_report_leak(m, "headers", which);
                leaks++;
            }
    }
    return leaks;
}

static int s_on_record(const rd_kafka_message_t *m, void *user)
{
    s_seen_t *s = user;
    s->n++;
    if (s_record_leaks(m, s->run->cleared))
        s->leaks++;
    Ratusz__V1__Event *ev = NULL;
    char err[256];
    if (s->run->json) {
        if (rz_event_from_json(m->payload, m->len, &ev, err, sizeof err) < 0)
            fprintf(stderr, "%s offset %lld: %s\n", s->run->topic,
                    (long long)m->offset, err);
    } else {
        ev = ratusz__v1__event__unpack(NULL, m->len, m->payload);
    }
    if (!ev) {
        s->n_bad++;
        return 0;
    }
    char hv[128];
    const char *hred = rzk_header(m, "ce_redaction", hv, sizeof hv);
    if (ev->data_case == RATUSZ__V1__EVENT__DATA_BUDGET) {
        s->n_budget++;
        if (*ev->redaction || *hred)
            s->redaction_budget++;
    } else if (ev->data_case == RATUSZ__V1__EVENT__DATA_TAX &&
               ev->tax->taxpayer && ev->id[0] && ev->id[4] >= 'a' &&
               ev->id[4] <= 'b') {
        int p = ev->id[4] - 'a';
        const Ratusz__V1__Party *py = ev->tax->taxpayer;
        const char *got[S_FIELDS] = {py->pesel, py->name, py->address,
                                     ev->tax->account};
        s->n_tax++;
        s->payer_events[p]++;
        if (strcmp(ev->subject, s_payers[p].subject))
            s->n_bad++;
        int all = 1;
        for (int f = 0; f < S_FIELDS; f++) {
            const char *want =
                s->run->cleared ? s_payers[p].v[f] : S->pseudo[p][f];
            if (strcmp(got[f], want)) {
                fprintf(stderr, "%s %s: %s is '%s', expected '%s'\n",
                        s->run->topic, ev->id, s_field_names[f], got[f], want);
                s->wrong_pseudonym++;
                all = 0;
            }
        }
        s->personal += s->run->cleared && all;
        if (!strcmp(ev->redaction, S->redaction))
            s->redaction_value++;
        if (s->run->json && s_has(m->payload, m->len, "\"redaction\":\"") &&
            s_has(m->payload, m->len, S->redaction))
            s->redaction_json++;
        if (!strcmp(hred, S->redaction))
            s->redaction_header++;
    } else {
        s->n_bad++;
    }
    if (s->run->json)
        rz_event_free(ev);
    else
        ratusz__v1__event__free_unpacked(ev, NULL);
    return 0;
}

static void s_read(int run, s_seen_t *s)
{
    assert_true(S->carried);
    memset(s, 0, sizeof *s);
    s->run = &s_runs[run];
    int64_t got = rzk_read_topic(S->m.bootstrap, s_runs[run].topic, S_EVENTS,
                                 20, s_on_record, s);
    assert_int_equal(got, S_EVENTS);
    assert_int_equal(s->n_bad, 0);
    assert_int_equal(s->n_tax, S_TAX_EVENTS);
    assert_int_equal(s->n_budget, S_BUDGET_EVENTS);
    assert_int_equal(s->payer_events[0], s_payers[0].n_events);
    assert_int_equal(s->payer_events[1], s_payers[1].n_events);
    assert_int_equal(s->redaction_budget, 0);
    /* every field is exactly what this reader should see: for the
     * uncleared bridge the pseudonym of the value, the same in each of the
     * taxpayer's records; for the cleared one the value */
    assert_int_equal(s->wrong_pseudonym, 0);
}

static void s_assert_uncleared(int run)
{
    s_seen_t s;
    s_read(run, &s);
    assert_int_equal(s.leaks, 0);
    assert_int_equal(s.redaction_value, S_TAX_EVENTS);
    if (s_runs[run].json)
        assert_int_equal(s.redaction_json, S_TAX_EVENTS);
    /* the extension travels as a header like ce_tenant and ce_seq */
    assert_int_equal(s.redaction_header, S_TAX_EVENTS);
}

static void test_uncleared_protobuf_records_hold_pseudonyms_only(void **state)
{
    (void)state;
    s_assert_uncleared(S_OUT_PB);
}

static void
test_uncleared_cloudevents_records_hold_pseudonyms_only(void **state)
{
    (void)state;
    s_assert_uncleared(S_OUT_JSON);
}

/* The control: the same search finds the data the cleared bridge wrote, so
 * the assertions above can fail. */
static void test_cleared_records_hold_personal_data(void **state)
{
    (void)state;
    for (int run = S_CLEARED_PB; run <= S_CLEARED_JSON; run++) {
        s_seen_t s;
        s_read(run, &s);
        assert_int_equal(s.leaks, S_TAX_EVENTS);
        assert_int_equal(s.personal, S_TAX_EVENTS);
        assert_int_equal(s.redaction_value, 0);
        assert_int_equal(s.redaction_header, 0);
    }
}

/* ------------------------------------------------------------------------
 * Reading back with kcat, as a Kafka consumer outside Ratusz would
 */

#define S_REC "@@rec@@"

/* Every record of a topic as kcat prints it: key, headers, value. The
 * values are binary (protobuf), so the output is read with its length. */
static char *s_kcat(const char *topic, size_t *len)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             S_KCAT " -C -b %s -t %s -e -q -f '" S_REC "%%p:%%o|%%k|%%h|%%s\\n'"
                    " 2>/dev/null",
             S->m.bootstrap, topic);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, p);
        if (r == 0)
            break;
        n += r;
    }
    assert_int_equal(pclose(p), 0);
    *len = n;
    return buf;
}

static int s_count(const char *buf, size_t len, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (const char *p = buf, *end = buf + len;
         (p = memmem(p, (size_t)(end - p), needle, k)) != NULL; p += k)
        n++;
    return n;
}

static void test_kcat_finds_no_personal_data_from_uncleared_bridge(void **state)
{
    (void)state;
    if (access(S_KCAT, X_OK) != 0) {
        fprintf(stderr, "kcat not installed (deploy/install-deps.sh "
                        "--with-test-tools)\n");
        skip();
    }
    assert_true(S->carried);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "ce_redaction=%s", S->redaction);
    for (int run = 0; run < S_RUNS; run++) {
        size_t len;
        char *out = s_kcat(s_runs[run].topic, &len);
        assert_int_equal(s_count(out, len, S_REC), S_EVENTS);
        for (int p = 0; p < 2; p++)
            for (int f = 0; f < S_FIELDS; f++) {
                int values = s_count(out, len, s_payers[p].v[f]);
                int pseudonyms = s_count(out, len, S->pseudo[p][f]);
                if (s_runs[run].cleared) {
                    assert_int_equal(values, s_payers[p].n_events);
                    assert_int_equal(pseudonyms, 0);
                } else {
                    if (values)
                        fail_msg("%s: %s of taxpayer %c in kcat's output",
                                 s_runs[run].topic, s_field_names[f], 'A' + p);
                    assert_int_equal(pseudonyms, s_payers[p].n_events);
                }
            }
        int marked = s_runs[run].cleared ? 0 : S_TAX_EVENTS;
        assert_int_equal(s_count(out, len, hdr), marked);
        if (s_runs[run].json)
            assert_int_equal(s_count(out, len, "\"redaction\":\"hmac-sha256:"),
                             marked);
        free(out);
    }
}

/* ------------------------------------------------------------------------
 * The audit log
 */

/* read-personal records of a principal, through the auditor. */
static int s_read_personal(const char *principal, const char *command)
{
    rz_client_t *c = s_client(S_AUDITOR);
    assert_non_null(c);
    Ratusz__V1__AuditRequest req = RATUSZ__V1__AUDIT_REQUEST__INIT;
    req.principal = (char *)principal;
    req.limit = 10000;
    Ratusz__V1__AuditList *l = NULL;
    assert_int_equal(rz_audit(c, &req, &l), 0);
    int n = 0;
    for (size_t i = 0; i < l->n_records; i++) {
        const Ratusz__V1__AuditRecord *r = l->records[i];
        assert_string_equal(r->principal, principal);
        if (strcmp(r->action, "read-personal") ||
            (command && strcmp(r->command, command)))
            continue;
        n++;
    }
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    rz_client_destroy(&c);
    return n;
}

static void test_audit_has_personal_reads_of_cleared_bridge_only(void **state)
{
    (void)state;
    assert_true(S->carried);
    /* the audit thread commits within milliseconds of the reply */
    int cleared = 0;
    for (int i = 0; i < 40 && cleared < 2; i++) {
        cleared = s_read_personal("kafka-cleared", "FETCH");
        if (cleared < 2)
            usleep(50000);
    }
    /* at least one FETCH per cleared run */
    assert_true(cleared >= 2);
    assert_int_equal(s_read_personal("kafka-out", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridges_carry_every_event_to_kafka),
        cmocka_unit_test(test_uncleared_protobuf_records_hold_pseudonyms_only),
        cmocka_unit_test(
            test_uncleared_cloudevents_records_hold_pseudonyms_only),
        cmocka_unit_test(test_cleared_records_hold_personal_data),
        cmocka_unit_test(
            test_kcat_finds_no_personal_data_from_uncleared_bridge),
        cmocka_unit_test(test_audit_has_personal_reads_of_cleared_bridge_only),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
