/* test_security.c - CURVE, grants, redaction and audit against the real
 * broker: one ratuszd with a principals file, clients with their own keys.
 *
 *   operator  reads everything, no personal-data clearance, stats
 *   auditor   reads everything with clearance, audit and verify
 *   budget    publishes sources /2261011/budget/..., reads 2261011.budget.,
 *             owns the groups budget-...
 *   tax       publishes sources /2261011/tax/..., reads 2261011.tax.,
 *             clearance
 *   revokee   reads everything; removed by a reload
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define TENANT "2261011"
#define PARCEL "parcel:221101_1.0001.161/8"
#define PESEL "44051401359"
#define PNAME "Jan Kowalski-Nowak"
#define PADDR "ul. Morska 17, 84-150 Hel"
#define PESEL2 "02270803628"
#define T0 INT64_C(1717200000000000)

enum who { OPERATOR, AUDITOR, BUDGET, TAX, REVOKEE, NWHO };

typedef struct sec {
    rzt_broker_t b;
    char keys[256];
    char principals[300];
    char redacted[64]; /* the redacted stream's endpoint */
    char srv_pub[41], srv_sec[41];
    char pub[NWHO][41], sec[NWHO][41];
} sec_t;

static sec_t *S;

/* ------------------------------------------------------------------------
 * Set-up
 */

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The principals file; without `revokee` when drop_revokee. */
static void s_write_principals(sec_t *s, int drop_revokee)
{
    char text[4096];
    snprintf(text, sizeof text,
             "# principals of the test bus\n"
             "principals:\n"
             "  operator:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n"
             "    groups: [\"operator-*\"]\n"
             "    admin: [stats, consumers, reload]\n"
             "  auditor:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n"
             "    personal_data: true\n"
             "    admin: [audit, verify, stats]\n"
             "  adapter-budget:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/2261011/budget/*\"]\n"
             "    publish_tenants: [\"2261011\"]\n"
             "    read: [\"2261011.budget.\"]\n"
             "    groups: [\"budget-*\"]\n"
             "  adapter-tax:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/2261011/tax/*\"]\n"
             "    publish_tenants: [\"2261011\"]\n"
             "    read: [\"2261011.tax.\"]\n"
             "    groups: [\"tax-*\"]\n"
             "    personal_data: true\n"
             "%s%s%s",
             s->pub[OPERATOR], s->pub[AUDITOR], s->pub[BUDGET], s->pub[TAX],
             drop_revokee ? "" : "  revokee:\n    key: \"",
             drop_revokee ? "" : s->pub[REVOKEE],
             drop_revokee ? "" : "\"\n    read: [\"\"]\n");
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->principals);
    s_write(tmp, text);
    assert_int_equal(rename(tmp, s->principals), 0);
}

static int s_setup(void **state)
{
    (void)state;
    S = calloc(1, sizeof *S);
    if (!S || rzt_tmpdir(S->keys, sizeof S->keys) < 0)
        return -1;
    rzt_keypair(S->srv_pub, S->srv_sec);
    for (int i = 0; i < NWHO; i++)
        rzt_keypair(S->pub[i], S->sec[i]);
    char key[300];
    snprintf(key, sizeof key, "%s/ratuszd.key", S->keys);
    if (rzt_write_key(key, "ratuszd", S->srv_pub, S->srv_sec) < 0)
        return -1;
    snprintf(S->principals, sizeof S->principals, "%s/principals.yaml",
             S->keys);
    s_write_principals(S, 0);
    snprintf(S->redacted, sizeof S->redacted, "tcp://127.0.0.1:%d",
             rzt_free_port());
    static char keyarg[300];
    snprintf(keyarg, sizeof keyarg, "%s", key);
    const char *extra[] = {"--server-key",      keyarg,
                           "--principals",      S->principals,
                           "--stream-redacted", S->redacted,
                           NULL};
    /* the harness's readiness probe and rzt_head go as the operator */
    rzt_curve(S->pub[OPERATOR], S->sec[OPERATOR], S->srv_pub);
    return rzt_broker_start(&S->b, extra);
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_broker_cleanup(&S->b);
    rzt_rmtree(S->keys);
    rzt_curve(NULL, NULL, NULL);
    free(S);
    return 0;
}

static rz_client_t *s_client_keys(const char *pub, const char *sec,
                                  const char *srv, int timeout_ms)
{
    rz_client_opts_t o = {0};
    o.window = 64;
    o.batch = 1;
    o.timeout_ms = timeout_ms;
    o.curve_public = pub;
    o.curve_secret = sec;
    o.curve_server = srv;
    rz_client_t *c = rz_client_new(S->b.front, &o);
    assert_non_null(c);
    return c;
}

static rz_client_t *s_client(enum who w)
{
    return s_client_keys(S->pub[w], S->sec[w], S->srv_pub, 5000);
}

/* ------------------------------------------------------------------------
 * Events
 */

typedef struct tev {
    Ratusz__V1__Event ev;
    Ratusz__V1__TaxAssessment tax;
    Ratusz__V1__Party party;
    Ratusz__V1__BudgetEntry budget;
    char id[64], source[64];
} tev_t;

static void s_tax(tev_t *t, const char *id, const char *pesel,
                  const char *name, const char *addr)
{
    memset(t, 0, sizeof *t);
    ratusz__v1__event__init(&t->ev);
    ratusz__v1__tax_assessment__init(&t->tax);
    ratusz__v1__party__init(&t->party);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->source, sizeof t->source, "/" TENANT "/tax/podatki");
    t->ev.id = t->id;
    t->ev.source = t->source;
    t->ev.type = "pl.gov.gmina.tax.assessment.v1";
    t->ev.subject = PARCEL;
    t->ev.tenant = TENANT;
    t->ev.time = T0;
    t->party.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    t->party.pesel = (char *)pesel;
    t->party.name = (char *)name;
    t->party.address = (char *)addr;
    t->tax.document_id = t->id;
    t->tax.form = "DN-1";
    t->tax.tax_year = 2024;
    t->tax.taxpayer = &t->party;
    t->tax.total_grosze = 123456;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    t->ev.tax = &t->tax;
}

static void s_budget(tev_t *t, const char *id, const char *source)
{
    memset(t, 0, sizeof *t);
    ratusz__v1__event__init(&t->ev);
    ratusz__v1__budget_entry__init(&t->budget);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->source, sizeof t->source, "%s", source);
    t->ev.id = t->id;
    t->ev.source = t->source;
    t->ev.type = "pl.gov.gmina.budget.execution.v1";
    t->ev.subject = PARCEL;
    t->ev.tenant = TENANT;
    t->ev.time = T0 + 1;
    t->budget.dzial = "700";
    t->budget.amount_grosze = 5000;
    t->ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    t->ev.budget = &t->budget;
}

/* Collected events: raw bytes, concatenated, and the count. */
typedef struct got {
    char buf[1 << 16];
    size_t len;
    int n, n_tax, n_budget, n_backfilled;
    char pesel[8][64]; /* the taxpayer.pesel of each tax event */
} got_t;

static int s_got(const rz_event_t *e, void *user)
{
    got_t *g = user;
    if (g->len + e->raw_len < sizeof g->buf) {
        memcpy(g->buf + g->len, e->raw, e->raw_len);
        g->len += e->raw_len;
    }
    if (e->msg->data_case == RATUSZ__V1__EVENT__DATA_TAX) {
        if (g->n_tax < 8 && e->msg->tax->taxpayer)
            snprintf(g->pesel[g->n_tax], sizeof g->pesel[0], "%s",
                     e->msg->tax->taxpayer->pesel);
        g->n_tax++;
    } else if (e->msg->data_case == RATUSZ__V1__EVENT__DATA_BUDGET) {
        g->n_budget++;
    }
    g->n_backfilled += e->backfilled;
    g->n++;
    return 0;
}

static int s_contains(const got_t *g, const char *needle)
{
    return memmem(g->buf, g->len, needle, strlen(needle)) != NULL;
}

/* No personal value of either taxpayer anywhere in what was returned. */
static void s_assert_no_personal(const got_t *g)
{
    assert_false(s_contains(g, PESEL));
    assert_false(s_contains(g, PESEL2));
    assert_false(s_contains(g, PNAME));
    assert_false(s_contains(g, PADDR));
}

/* Publish the shared fixture once: two tax events of one taxpayer, one of
 * another, two budget events, all about one parcel. Returns the seq of the
 * first tax event. */
static uint64_t s_seed(void)
{
    static uint64_t first;
    if (first)
        return first;
    rz_client_t *tax = s_client(TAX);
    tev_t t;
    s_tax(&t, "dn1-1", PESEL, PNAME, PADDR);
    assert_int_equal(rzt_publish_sync(tax, &t.ev, &first), 0);
    s_tax(&t, "dn1-2", PESEL, PNAME, PADDR);
    assert_int_equal(rzt_publish_sync(tax, &t.ev, NULL), 0);
    s_tax(&t, "dn1-3", PESEL2, "Anna Zielińska", "ul. Wiejska 2, Hel");
    assert_int_equal(rzt_publish_sync(tax, &t.ev, NULL), 0);
    rz_client_destroy(&tax);
    rz_client_t *bud = s_client(BUDGET);
    s_budget(&t, "b-1", "/" TENANT "/budget/besti");
    assert_int_equal(rzt_publish_sync(bud, &t.ev, NULL), 0);
    s_budget(&t, "b-2", "/" TENANT "/budget/besti");
    assert_int_equal(rzt_publish_sync(bud, &t.ev, NULL), 0);
    rz_client_destroy(&bud);
    return first;
}

/* ------------------------------------------------------------------------
 * Audit helpers
 */

typedef struct audit_q {
    const char *action, *principal, *command, *subject;
} audit_q_t;

/* Records matching q (each non-NULL field equal), via the auditor. */
static int s_audit_count(audit_q_t q)
{
    rz_client_t *c = s_client(AUDITOR);
    Ratusz__V1__AuditRequest req = RATUSZ__V1__AUDIT_REQUEST__INIT;
    req.principal = (char *)(q.principal ? q.principal : "");
    req.subject = (char *)(q.subject ? q.subject : "");
    req.limit = 10000;
    Ratusz__V1__AuditList *l = NULL;
    assert_int_equal(rz_audit(c, &req, &l), 0);
    int n = 0;
    for (size_t i = 0; i < l->n_records; i++) {
        Ratusz__V1__AuditRecord *r = l->records[i];
        if (q.action && strcmp(r->action, q.action) != 0)
            continue;
        if (q.command && strcmp(r->command, q.command) != 0)
            continue;
        n++;
    }
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    rz_client_destroy(&c);
    return n;
}

static Ratusz__V1__Stats *s_stats(void)
{
    rz_client_t *c = s_client(OPERATOR);
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    rz_client_destroy(&c);
    return st;
}

/* ------------------------------------------------------------------------
 * Handshake
 */

static void s_expect_refused(rz_client_t *c)
{
    Ratusz__V1__Health *h = NULL;
    int rc = rz_health(c, &h);
    /* refused at the handshake: no request ever reaches the broker */
    assert_true(rc == RZ_EDENIED || rc == RZ_ETIMEDOUT);
    assert_null(h);
}

static void test_handshake_unknown_key_refused(void **state)
{
    (void)state;
    char pub[41], sec[41];
    rzt_keypair(pub, sec);
    uint64_t before = 0;
    Ratusz__V1__Stats *st = s_stats();
    before = st->handshakes_refused;
    ratusz__v1__stats__free_unpacked(st, NULL);

    rz_client_t *c = s_client_keys(pub, sec, S->srv_pub, 1000);
    s_expect_refused(c);
    rz_client_destroy(&c);

    st = s_stats();
    assert_true(st->handshakes_refused > before);
    ratusz__v1__stats__free_unpacked(st, NULL);
    char principal[64];
    snprintf(principal, sizeof principal, "unknown:%s", pub);
    assert_true(s_audit_count((audit_q_t){"handshake-refused", principal,
                                          "ZAP", NULL}) >= 1);
}

static void test_handshake_wrong_server_key_refused(void **state)
{
    (void)state;
    char fake_pub[41], fake_sec[41];
    rzt_keypair(fake_pub, fake_sec);
    Ratusz__V1__Stats *st = s_stats();
    uint64_t before = st->handshakes_refused;
    ratusz__v1__stats__free_unpacked(st, NULL);
    int audited = s_audit_count((audit_q_t){"handshake-refused", "unknown",
                                            NULL, NULL});

    /* a real principal's key, but not this broker's public key */
    rz_client_t *c =
        s_client_keys(S->pub[OPERATOR], S->sec[OPERATOR], fake_pub, 1000);
    s_expect_refused(c);
    rz_client_destroy(&c);

    st = s_stats();
    assert_true(st->handshakes_refused > before);
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_true(s_audit_count((audit_q_t){"handshake-refused", "unknown",
                                          NULL, NULL}) > audited);
}

static void test_handshake_without_curve_refused(void **state)
{
    (void)state;
    Ratusz__V1__Stats *st = s_stats();
    uint64_t before = st->handshakes_refused;
    ratusz__v1__stats__free_unpacked(st, NULL);
    int audited = s_audit_count((audit_q_t){"handshake-refused", "unknown",
                                            NULL, NULL});

    rz_client_t *c = s_client_keys(NULL, NULL, NULL, 1000);
    s_expect_refused(c);
    rz_client_destroy(&c);

    st = s_stats();
    assert_true(st->handshakes_refused > before);
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_true(s_audit_count((audit_q_t){"handshake-refused", "unknown",
                                          NULL, NULL}) > audited);
}

static void test_whoami_names_principal_and_grants(void **state)
{
    (void)state;
    rz_client_t *c = s_client(BUDGET);
    Ratusz__V1__Whoami *w = NULL;
    assert_int_equal(rz_whoami(c, &w), 0);
    assert_string_equal(w->principal, "adapter-budget");
    assert_true(w->security);
    assert_false(w->personal_data);
    assert_int_equal(w->n_read, 1);
    assert_string_equal(w->read[0], "2261011.budget.");
    assert_non_null(strstr(w->address, "127.0.0.1"));
    ratusz__v1__whoami__free_unpacked(w, NULL);
    rz_client_destroy(&c);
}

/* ------------------------------------------------------------------------
 * Grants
 */

static void test_publish_outside_grant_denied_nothing_stored(void **state)
{
    (void)state;
    s_seed();
    uint64_t head = rzt_head(&S->b);
    int denied = s_audit_count((audit_q_t){"denied", "adapter-budget", "PUB",
                                           NULL});
    rz_client_t *bud = s_client(BUDGET);
    tev_t t;
    /* a forged tax decision from the budget system */
    s_tax(&t, "forged-1", PESEL, PNAME, PADDR);
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(bud, &t.ev, &seq), RZ_EDENIED);
    /* its own domain, but another source */
    s_budget(&t, "b-forged", "/2261011/tax/podatki");
    assert_int_equal(rzt_publish_sync(bud, &t.ev, &seq), RZ_EDENIED);
    rz_client_destroy(&bud);
    assert_int_equal(rzt_head(&S->b), head);
    /* one record per refused request */
    assert_int_equal(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                "PUB", NULL}),
                     denied + 2);
}

/* QUERY by hand, to read the withheld count of the reply. */
static Ratusz__V1__RawEventList *s_raw_query(enum who w, const char *subject)
{
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, S->srv_pub, 41);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, S->pub[w], 41);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, S->sec[w], 41);
    assert_int_equal(zmq_connect(d, S->b.front), 0);
    Ratusz__V1__QueryRequest q = RATUSZ__V1__QUERY_REQUEST__INIT;
    q.subject = (char *)subject;
    uint8_t body[512];
    size_t n = ratusz__v1__query_request__pack(&q, body);
    zmq_send(d, "QUERY", 5, ZMQ_SNDMORE);
    zmq_send(d, "12345678", 8, ZMQ_SNDMORE);
    zmq_send(d, body, n, 0);
    char cmd[16];
    int cn = zmq_recv(d, cmd, sizeof cmd, 0);
    assert_int_equal(cn, 5);
    assert_memory_equal(cmd, "QUERY", 5);
    char corr[16];
    assert_int_equal(zmq_recv(d, corr, sizeof corr, 0), 8);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, d, 0) >= 0);
    Ratusz__V1__RawEventList *l = ratusz__v1__raw_event_list__unpack(
        NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    zmq_close(d);
    zmq_ctx_term(ctx);
    assert_non_null(l);
    return l;
}

static void test_query_across_domains_shows_only_granted(void **state)
{
    (void)state;
    s_seed();
    /* the parcel's timeline has 3 tax and 2 budget events */
    Ratusz__V1__RawEventList *l = s_raw_query(BUDGET, PARCEL);
    assert_int_equal(l->n_events, 2);
    assert_int_equal(l->withheld, 3);
    ratusz__v1__raw_event_list__free_unpacked(l, NULL);
    l = s_raw_query(OPERATOR, PARCEL);
    assert_int_equal(l->n_events, 5);
    assert_int_equal(l->withheld, 0);
    ratusz__v1__raw_event_list__free_unpacked(l, NULL);

    /* through the client library: only budget events */
    rz_client_t *c = s_client(BUDGET);
    got_t *g = calloc(1, sizeof *g);
    rz_query_t q = {0};
    q.subject = PARCEL;
    assert_int_equal(rz_query(c, &q, s_got, g), 2);
    assert_int_equal(g->n_budget, 2);
    assert_int_equal(g->n_tax, 0);
    free(g);
    rz_client_destroy(&c);
}

static void test_replay_filtered_and_denied(void **state)
{
    (void)state;
    s_seed();
    int replay_denied = s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                  "REPLAY", NULL});
    int get_denied = s_audit_count((audit_q_t){"denied", "adapter-budget",
                                               "GET", NULL});
    rz_client_t *c = s_client(BUDGET);
    got_t *g = calloc(1, sizeof *g);
    rz_replay_t r = {0};
    r.from_seq = 1;
    assert_int_equal(rz_replay(c, &r, s_got, g), 2);
    assert_int_equal(g->n_tax, 0);
    s_assert_no_personal(g);
    /* a prefix wholly outside the grant is refused */
    r.topic_prefix = "2261011.tax.";
    memset(g, 0, sizeof *g);
    assert_int_equal(rz_replay(c, &r, s_got, g), RZ_EDENIED);
    assert_int_equal(g->n, 0);
    /* GET of an event outside the grant */
    assert_int_equal(rz_get_seq(c, s_seed(), s_got, g), RZ_EDENIED);
    assert_int_equal(g->n, 0);
    free(g);
    rz_client_destroy(&c);
    assert_int_equal(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                "REPLAY", NULL}),
                     replay_denied + 1);
    assert_int_equal(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                "GET", NULL}),
                     get_denied + 1);
    /* reads of events without personal data leave no read record */
    assert_int_equal(s_audit_count((audit_q_t){"read-personal",
                                                "adapter-budget", NULL, NULL}),
                     0);
}

static void test_groups_belong_to_their_owner(void **state)
{
    (void)state;
    s_seed();
    int commits = s_audit_count((audit_q_t){"denied", "adapter-budget",
                                            "COMMIT", NULL});
    int fetches = s_audit_count((audit_q_t){"denied", "adapter-budget",
                                            "FETCH", NULL});
    rz_client_t *c = s_client(BUDGET);
    got_t *g = calloc(1, sizeof *g);
    uint64_t last = 0;
    assert_int_equal(rz_fetch(c, "tax-sink", NULL, 0, 10, s_got, g, &last),
                     RZ_EDENIED);
    assert_int_equal(rz_commit(c, "tax-sink", 1), RZ_EDENIED);
    /* its own group, bound to everything, delivers only its grant */
    int n = rz_fetch(c, "budget-sink", NULL, 0, 100, s_got, g, &last);
    assert_int_equal(n, 2);
    assert_int_equal(g->n_tax, 0);
    assert_int_equal(rz_commit(c, "budget-sink", last), 0);
    free(g);
    rz_client_destroy(&c);
    assert_int_equal(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                "COMMIT", NULL}),
                     commits + 1);
    assert_int_equal(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                                "FETCH", NULL}),
                     fetches + 1);
}

static void test_admin_actions_need_grant(void **state)
{
    (void)state;
    rz_client_t *c = s_client(BUDGET);
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), RZ_EDENIED);
    Ratusz__V1__AuditList *l = NULL;
    Ratusz__V1__AuditRequest req = RATUSZ__V1__AUDIT_REQUEST__INIT;
    assert_int_equal(rz_audit(c, &req, &l), RZ_EDENIED);
    rz_client_destroy(&c);
    int before = s_audit_count((audit_q_t){"admin", "operator", "STATS",
                                           NULL});
    st = s_stats();
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_int_equal(s_audit_count((audit_q_t){"admin", "operator", "STATS",
                                                NULL}),
                     before + 1);
}

/* ------------------------------------------------------------------------
 * Personal data
 */

static void test_uncleared_reader_gets_pseudonyms_everywhere(void **state)
{
    (void)state;
    uint64_t first = s_seed();
    rz_client_t *c = s_client(OPERATOR);
    got_t *g = calloc(1, sizeof *g);

    /* get */
    assert_int_equal(rz_get_seq(c, first, s_got, g), 1);
    assert_int_equal(g->n_tax, 1);
    s_assert_no_personal(g);
    assert_true(s_contains(g, "hmac-sha256:"));
    assert_int_equal(g->pesel[0][0], '~');
    char token[64];
    snprintf(token, sizeof token, "%s", g->pesel[0]);

    /* query: the same taxpayer, the same pseudonym; another, another */
    memset(g, 0, sizeof *g);
    rz_query_t q = {0};
    q.subject = PARCEL;
    assert_int_equal(rz_query(c, &q, s_got, g), 5);
    s_assert_no_personal(g);
    assert_int_equal(g->n_tax, 3);
    assert_string_equal(g->pesel[0], token);
    assert_string_equal(g->pesel[1], token);
    assert_string_not_equal(g->pesel[2], token);

    /* replay */
    memset(g, 0, sizeof *g);
    rz_replay_t r = {0};
    r.from_seq = 1;
    assert_true(rz_replay(c, &r, s_got, g) >= 5);
    s_assert_no_personal(g);

    /* fetch */
    memset(g, 0, sizeof *g);
    uint64_t last;
    assert_true(rz_fetch(c, "operator-view", NULL, 0, 100, s_got, g, &last) >=
                5);
    s_assert_no_personal(g);
    free(g);
    rz_client_destroy(&c);
}

static void test_cleared_reader_gets_data_and_is_audited(void **state)
{
    (void)state;
    uint64_t first = s_seed();
    int before = s_audit_count((audit_q_t){"read-personal", "auditor", "GET",
                                           PARCEL});
    rz_client_t *c = s_client(AUDITOR);
    got_t *g = calloc(1, sizeof *g);
    assert_int_equal(rz_get_seq(c, first, s_got, g), 1);
    assert_true(s_contains(g, PESEL));
    assert_true(s_contains(g, PNAME));
    assert_false(s_contains(g, "hmac-sha256:"));
    free(g);
    rz_client_destroy(&c);
    assert_int_equal(s_audit_count((audit_q_t){"read-personal", "auditor",
                                                "GET", PARCEL}),
                     before + 1);
    /* a budget-only read by a cleared reader is not a personal-data read */
    before = s_audit_count((audit_q_t){"read-personal", "auditor", NULL,
                                       NULL});
    c = s_client(AUDITOR);
    g = calloc(1, sizeof *g);
    assert_int_equal(rz_get_seq(c, first + 3, s_got, g), 1);
    assert_int_equal(g->n_budget, 1);
    free(g);
    rz_client_destroy(&c);
    assert_int_equal(s_audit_count((audit_q_t){"read-personal", "auditor",
                                                NULL, NULL}),
                     before);
}

/* ------------------------------------------------------------------------
 * The live streams
 */

typedef struct live {
    rz_client_t *c;
    rz_sub_t *s;
    got_t g;
} live_t;

static void s_live_open(live_t *l, enum who w, const char *endpoint,
                        const char *prefix)
{
    memset(l, 0, sizeof *l);
    l->c = s_client(w);
    l->s = rz_sub_new(l->c, endpoint, prefix);
    assert_non_null(l->s);
}

static void s_live_close(live_t *l)
{
    rz_sub_destroy(&l->s);
    rz_client_destroy(&l->c);
}

static void test_streams_deliver_by_grant_and_clearance(void **state)
{
    (void)state;
    s_seed();
    live_t *red_op = calloc(1, sizeof *red_op);
    live_t *red_bud = calloc(1, sizeof *red_bud);
    live_t *full_aud = calloc(1, sizeof *full_aud);
    live_t *full_op = calloc(1, sizeof *full_op);
    s_live_open(red_op, OPERATOR, S->redacted, "2261011.");
    s_live_open(red_bud, BUDGET, S->redacted, "");
    s_live_open(full_aud, AUDITOR, S->b.stream, "2261011.");
    s_live_open(full_op, OPERATOR, S->b.stream, "2261011.");
    usleep(500000); /* subscriptions travel to the broker */

    rz_client_t *tax = s_client(TAX);
    rz_client_t *bud = s_client(BUDGET);
    tev_t t;
    s_tax(&t, "live-tax-1", PESEL, PNAME, PADDR);
    assert_int_equal(rzt_publish_sync(tax, &t.ev, NULL), 0);
    s_budget(&t, "live-b-1", "/" TENANT "/budget/besti");
    assert_int_equal(rzt_publish_sync(bud, &t.ev, NULL), 0);
    rz_client_destroy(&tax);
    rz_client_destroy(&bud);

    live_t *all[] = {red_op, red_bud, full_aud, full_op};
    for (int round = 0; round < 30; round++)
        for (int i = 0; i < 4; i++)
            rz_sub_recv(all[i]->s, s_got, &all[i]->g, 100);

    /* live from the streams, not read back from the store */
    assert_int_equal(red_op->g.n_backfilled, 0);
    assert_int_equal(red_bud->g.n_backfilled, 0);
    assert_int_equal(full_aud->g.n_backfilled, 0);
    /* operator on the redacted stream: both, pseudonymised */
    assert_int_equal(red_op->g.n_tax, 1);
    assert_int_equal(red_op->g.n_budget, 1);
    s_assert_no_personal(&red_op->g);
    assert_int_equal(red_op->g.pesel[0][0], '~');
    /* budget subscribed to everything: only its own domain */
    assert_int_equal(red_bud->g.n_tax, 0);
    assert_int_equal(red_bud->g.n_budget, 1);
    /* auditor on the full stream: the data */
    assert_int_equal(full_aud->g.n_tax, 1);
    assert_string_equal(full_aud->g.pesel[0], PESEL);
    /* operator on the full stream: nothing live, no personal data at all */
    s_assert_no_personal(&full_op->g);
    for (int i = 0; i < 4; i++) {
        s_live_close(all[i]);
        free(all[i]);
    }
    assert_true(s_audit_count((audit_q_t){"denied", "operator", "SUBSCRIBE",
                                          NULL}) >= 1);
}

/* WATCH over the front: each watcher gets what its grant allows, in the
 * form its clearance allows, from one socket; a prefix wholly outside the
 * grant is refused and audited. */
static void test_watch_delivers_by_grant_and_clearance(void **state)
{
    (void)state;
    s_seed();
    live_t *op = calloc(1, sizeof *op);
    live_t *bud = calloc(1, sizeof *bud);
    live_t *aud = calloc(1, sizeof *aud);
    live_t *all[] = {op, bud, aud};
    enum who who[] = {OPERATOR, BUDGET, AUDITOR};
    for (int i = 0; i < 3; i++) {
        all[i]->c = s_client(who[i]);
        all[i]->s = rz_watch_new(all[i]->c, "", 0);
        assert_non_null(all[i]->s);
    }
    /* the budget system may not watch the tax domain at all */
    rz_client_t *b = s_client(BUDGET);
    assert_null(rz_watch_new(b, "2261011.tax.", 0));
    assert_int_equal(errno, -RZ_EDENIED);
    rz_client_destroy(&b);

    rz_client_t *tax = s_client(TAX);
    rz_client_t *budget = s_client(BUDGET);
    tev_t t;
    s_tax(&t, "watch-tax-1", PESEL, PNAME, PADDR);
    assert_int_equal(rzt_publish_sync(tax, &t.ev, NULL), 0);
    s_budget(&t, "watch-b-1", "/" TENANT "/budget/besti");
    assert_int_equal(rzt_publish_sync(budget, &t.ev, NULL), 0);
    rz_client_destroy(&tax);
    rz_client_destroy(&budget);
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 3; i++)
            rz_sub_recv(all[i]->s, s_got, &all[i]->g, 50);

    /* pushed live, none read back */
    for (int i = 0; i < 3; i++)
        assert_int_equal(all[i]->g.n_backfilled, 0);
    /* operator: both, the tax event pseudonymised */
    assert_int_equal(op->g.n_tax, 1);
    assert_int_equal(op->g.n_budget, 1);
    s_assert_no_personal(&op->g);
    assert_int_equal(op->g.pesel[0][0], '~');
    /* budget watched everything: only its own domain */
    assert_int_equal(bud->g.n_tax, 0);
    assert_int_equal(bud->g.n_budget, 1);
    /* auditor, cleared: the data */
    assert_int_equal(aud->g.n_tax, 1);
    assert_string_equal(aud->g.pesel[0], PESEL);
    for (int i = 0; i < 3; i++) {
        s_live_close(all[i]);
        free(all[i]);
    }
    assert_true(s_audit_count((audit_q_t){"denied", "adapter-budget",
                                          "WATCH", NULL}) >= 1);
}

/* ------------------------------------------------------------------------
 * Reload
 */

static void test_reload_bad_file_keeps_grants_good_file_revokes(void **state)
{
    (void)state;
    rz_client_t *rev = s_client(REVOKEE);
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(rev, &h), 0);
    ratusz__v1__health__free_unpacked(h, NULL);
    got_t *g = calloc(1, sizeof *g);
    assert_true(rz_get_seq(rev, s_seed(), s_got, g) == 1);

    /* a broken file: refused as a whole, the old grants stay */
    char saved[320];
    snprintf(saved, sizeof saved, "%s.good", S->principals);
    assert_int_equal(rename(S->principals, saved), 0);
    s_write(S->principals, "principals:\n  revokee:\n    key: \"not-z85\"\n"
                           "    unknown_key: 1\n");
    kill(S->b.pid, SIGHUP);
    usleep(300000);
    memset(g, 0, sizeof *g);
    assert_int_equal(rz_get_seq(rev, s_seed(), s_got, g), 1);
    assert_true(s_audit_count((audit_q_t){"reload-failed", NULL, "SIGHUP",
                                          NULL}) >= 1);

    /* the same grants without the revokee: cut off within a second */
    assert_int_equal(rename(saved, S->principals), 0);
    s_write_principals(S, 1);
    kill(S->b.pid, SIGHUP);
    usleep(1000000);
    memset(g, 0, sizeof *g);
    assert_int_equal(rz_get_seq(rev, s_seed(), s_got, g), RZ_EDENIED);
    assert_int_equal(g->n, 0);
    rz_client_destroy(&rev);
    /* and a new connection with that key is refused at the handshake */
    rev = s_client_keys(S->pub[REVOKEE], S->sec[REVOKEE], S->srv_pub, 1000);
    s_expect_refused(rev);
    rz_client_destroy(&rev);
    assert_true(s_audit_count((audit_q_t){"reload", NULL, "SIGHUP", NULL}) >=
                1);
    /* everyone else goes on */
    rz_client_t *c = s_client(OPERATOR);
    memset(g, 0, sizeof *g);
    assert_int_equal(rz_get_seq(c, s_seed(), s_got, g), 1);
    rz_client_destroy(&c);
    free(g);
}

static void test_reload_command_needs_grant_and_a_good_file(void **state)
{
    (void)state;
    rz_client_t *c = s_client(BUDGET);
    Ratusz__V1__Whoami *w = NULL;
    assert_int_equal(rz_reload(c, &w), RZ_EDENIED);
    rz_client_destroy(&c);

    c = s_client(OPERATOR);
    assert_int_equal(rz_reload(c, &w), 0);
    assert_string_equal(w->principal, "operator");
    ratusz__v1__whoami__free_unpacked(w, NULL);
    assert_true(s_audit_count((audit_q_t){"reload", "operator", "RELOAD",
                                          NULL}) >= 1);
    /* a broken file: ERR RZ_ECONFIG naming FILE:LINE, nothing changes */
    char saved[320];
    snprintf(saved, sizeof saved, "%s.good", S->principals);
    assert_int_equal(rename(S->principals, saved), 0);
    s_write(S->principals, "principals:\n  x:\n    kye: 1\n");
    assert_int_equal(rz_reload(c, &w), RZ_ECONFIG);
    assert_null(w);
    assert_non_null(strstr(rz_client_last_error(c), "principals.yaml:3"));
    assert_int_equal(rename(saved, S->principals), 0);
    assert_int_equal(rz_whoami(c, &w), 0);
    assert_string_equal(w->principal, "operator");
    ratusz__v1__whoami__free_unpacked(w, NULL);
    rz_client_destroy(&c);
    assert_true(s_audit_count((audit_q_t){"reload-failed", "operator",
                                          "RELOAD", NULL}) >= 1);
}

/* ------------------------------------------------------------------------
 * Chains
 */

static void test_audit_chain_verifies(void **state)
{
    (void)state;
    rz_client_t *c = s_client(AUDITOR);
    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c, "audit", 0, &v), 0);
    assert_true(v->ok);
    assert_true(v->checked >= 10);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    assert_int_equal(rz_verify(c, "events", 0, &v), 0);
    assert_true(v->ok);
    assert_int_equal(v->checked, rzt_head(&S->b));
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    rz_client_destroy(&c);
    /* the operator has no verify grant */
    c = s_client(OPERATOR);
    assert_int_equal(rz_verify(c, "events", 0, &v), RZ_EDENIED);
    rz_client_destroy(&c);
}

/* BACKUP is an admin action: refused without the grant, audited, and
 * nothing is written. */
static void test_backup_needs_grant(void **state)
{
    (void)state;
    char dir[256], bkdir[300];
    struct stat st;
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(bkdir, sizeof bkdir, "%s/denied", dir);
    rz_client_t *c = s_client(OPERATOR);
    Ratusz__V1__BackupResult *r = NULL;
    assert_int_equal(rz_backup(c, bkdir, 10000, &r), RZ_EDENIED);
    assert_null(r);
    rz_client_destroy(&c);
    assert_int_not_equal(stat(bkdir, &st), 0);
    assert_true(s_audit_count((audit_q_t){"denied", "operator", "BACKUP",
                                          NULL}) >= 1);
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_unknown_key_refused),
        cmocka_unit_test(test_handshake_wrong_server_key_refused),
        cmocka_unit_test(test_handshake_without_curve_refused),
        cmocka_unit_test(test_whoami_names_principal_and_grants),
        cmocka_unit_test(test_publish_outside_grant_denied_nothing_stored),
        cmocka_unit_test(test_query_across_domains_shows_only_granted),
        cmocka_unit_test(test_replay_filtered_and_denied),
        cmocka_unit_test(test_groups_belong_to_their_owner),
        cmocka_unit_test(test_admin_actions_need_grant),
        cmocka_unit_test(test_uncleared_reader_gets_pseudonyms_everywhere),
        cmocka_unit_test(test_cleared_reader_gets_data_and_is_audited),
        cmocka_unit_test(test_streams_deliver_by_grant_and_clearance),
        cmocka_unit_test(test_watch_delivers_by_grant_and_clearance),
        cmocka_unit_test(test_audit_chain_verifies),
        cmocka_unit_test(test_backup_needs_grant),
        cmocka_unit_test(test_reload_command_needs_grant_and_a_good_file),
        cmocka_unit_test(test_reload_bad_file_keeps_grants_good_file_revokes),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
