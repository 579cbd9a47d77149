/* test_subscribe.c - live subscriptions and their gap recovery */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PREFIX "1261011.budget."
#define T_EXEC "pl.gov.gmina.budget.execution.v1" /* 1261011.budget.exe... */
#define T_PLAN "pl.gov.gmina.budget.plan.v1"
#define T_ENV "pl.gov.gmina.env.test.v1"
#define PROBE "pl.gov.gmina.budget.probe" /* + n + ".v1": a topic each */

/* What a subscriber got: every seq once, and in order per topic. */
typedef struct got {
    uint64_t max_seq;
    uint8_t *seen;   /* by seq */
    uint64_t *order; /* seqs in delivery order */
    size_t n, cap;
    size_t backfilled; /* events flagged backfilled */
    size_t dupes;      /* seqs delivered twice */
    size_t foreign;    /* topics outside PREFIX */
    size_t disorder;   /* a seq not above its topic's previous one */
    size_t probes;     /* connection probes seen (not counted in n) */
    uint64_t last_exec, last_plan;
} got_t;

static got_t *s_got(uint64_t max_seq)
{
    got_t *g = calloc(1, sizeof *g);
    g->max_seq = max_seq;
    g->seen = calloc(max_seq + 1, 1);
    g->cap = max_seq + 1;
    g->order = calloc(g->cap, sizeof *g->order);
    return g;
}

static void s_got_free(got_t *g)
{
    free(g->seen);
    free(g->order);
    free(g);
}

static int s_on_event(const rz_event_t *e, void *user)
{
    got_t *g = user;
    const Ratusz__V1__Event *m = e->msg;
    if (!strncmp(m->type, PROBE, strlen(PROBE))) {
        g->probes++;
        return 0;
    }
    char topic[RZ_TOPIC_MAX + 1];
    rz_event_topic(m, topic, sizeof topic);
    if (strncmp(topic, PREFIX, strlen(PREFIX)) != 0)
        g->foreign++;
    uint64_t *last = !strcmp(m->type, T_PLAN) ? &g->last_plan : &g->last_exec;
    if (m->seq <= *last)
        g->disorder++;
    *last = m->seq;
    if (m->seq == 0 || m->seq > g->max_seq) {
        g->foreign++;
        return 0;
    }
    if (g->seen[m->seq])
        g->dupes++;
    g->seen[m->seq] = 1;
    if (g->n < g->cap)
        g->order[g->n] = m->seq;
    g->n++;
    g->backfilled += e->backfilled ? 1 : 0;
    return 0;
}

/* An event of type t in tenant, with a payload of pad bytes. */
static void s_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
                    const char *tenant, const char *t, const char *id,
                    const char *pad)
{
    rzt_event(ev, be, "/1261011/budget/test", id, "unit:7", rz_now_us(), 1);
    ev->tenant = (char *)tenant;
    ev->type = (char *)t;
    be->description = (char *)pad;
    if (!strcmp(t, T_ENV)) {
        ev->data_case = RATUSZ__V1__EVENT__DATA__NOT_SET;
        ev->budget = NULL;
    }
}

typedef struct acks {
    uint64_t *seq; /* by arg */
    size_t failed;
} acks_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    acks_t *k = user;
    if (a->code) {
        k->failed++;
        return;
    }
    k->seq[(uintptr_t)a->arg] = a->seq;
}

/* Wait until the SUB socket is connected and subscribed: publish probes,
 * each in a topic of its own (so that missing the first ones is no gap),
 * until one arrives. */
static void s_settle(rz_sub_t *s, rz_client_t *p, got_t *g)
{
    static int next; /* probe ids are never reused: a duplicate is not
                        fanned out */
    size_t n = g->n;
    for (int i = 0; i < 200 && g->probes == 0; i++, next++) {
        char id[32], type[64];
        snprintf(id, sizeof id, "probe-%d", next);
        snprintf(type, sizeof type, PROBE "%d.v1", next);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/probe", id, "", 1, 1);
        ev.type = type;
        assert_int_equal(rzt_publish_sync(p, &ev, NULL), 0);
        assert_true(rz_sub_recv(s, s_on_event, g, 50) >= 0);
    }
    assert_true(g->probes > 0);
    assert_int_equal(g->n, n); /* only probes */
}

/* Receive until want events arrived (or the deadline), then make sure
 * nothing more comes. */
static void s_receive(rz_sub_t *s, got_t *g, size_t want, int max_ms)
{
    int64_t deadline = rz_now_us() + (int64_t)max_ms * 1000;
    while (g->n < want && rz_now_us() < deadline) {
        int rc = rz_sub_recv(s, s_on_event, g, 200);
        assert_true(rc >= 0);
    }
    assert_int_equal(rz_sub_recv(s, s_on_event, g, 300), 0);
}

static int s_setup_small_hwm(void **state)
{
    static const char *const extra[] = {"--stream-hwm", "100", "--sync", "os",
                                        NULL};
    return rzt_setup_with(state, extra);
}

static void
test_subscribe_prefix_receives_live_events_in_seq_order(void **state)
{
    rzt_broker_t *b = *state;
    /* events before the subscription are not delivered */
    rz_client_t *p = rzt_client(b, 64, 1);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    uint64_t before = 0;
    s_event(&ev, &be, "1261011", T_EXEC, "before", "");
    assert_int_equal(rzt_publish_sync(p, &ev, &before), 0);

    rz_client_t *c = rzt_client(b, 0, 0);
    rz_sub_t *s = rz_sub_new(c, b->stream, PREFIX);
    assert_non_null(s);
    got_t *g = s_got(1000);
    s_settle(s, p, g);

    enum { N = 200 };
    static const struct {
        const char *tenant, *type;
        int match;
    } kinds[] = {
        {"1261011", T_EXEC, 1}, {"1261011", T_ENV, 0}, {"1262011", T_EXEC, 0},
        {"1261011", T_PLAN, 1}, {"1261", T_EXEC, 0},   {"12", T_PLAN, 0},
    };
    enum { K = sizeof kinds / sizeof kinds[0] };
    uint64_t seq[N];
    acks_t k = {seq, 0};
    rz_client_set_ack_cb(p, s_on_ack, &k);
    size_t want = 0;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "live-%d", i);
        s_event(&ev, &be, kinds[i % K].tenant, kinds[i % K].type, id, "");
        assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)i), 0);
        want += kinds[i % K].match;
    }
    assert_int_equal(rz_flush(p, 10000), 0);
    assert_int_equal(k.failed, 0);

    s_receive(s, g, want, 10000);
    assert_int_equal(g->n, want);
    assert_int_equal(g->foreign, 0);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->disorder, 0);
    /* exactly the matching ones, in seq order (one stream, no gaps) */
    size_t j = 0;
    for (int i = 0; i < N; i++) {
        if (!kinds[i % K].match) {
            assert_false(g->seen[seq[i]]);
            continue;
        }
        assert_int_equal(g->order[j++], seq[i]);
    }
    rz_sub_stats_t st;
    rz_sub_stats(s, &st);
    assert_int_equal(st.gaps, 0);
    assert_int_equal(st.received, want + g->probes);
    assert_int_equal(g->backfilled, 0);
    assert_false(g->seen[before]);

    s_got_free(g);
    rz_sub_destroy(&s);
    rz_sub_destroy(&s); /* safe twice */
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* Events published before the SUB socket is connected are read back from
 * the store once a later event of their topic shows the gap. */
static void
test_subscribe_events_before_the_connection_are_backfilled(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_client_t *p = rzt_client(b, 64, 1);
    rz_sub_t *s = rz_sub_new(c, b->stream, PREFIX);
    assert_non_null(s);
    enum { N = 30 };
    uint64_t seq[N + 1];
    acks_t k = {seq, 0};
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rz_client_set_ack_cb(p, s_on_ack, &k);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "early-%d", i);
        s_event(&ev, &be, "1261011", i % 2 ? T_PLAN : T_EXEC, id, "");
        assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)i), 0);
    }
    assert_int_equal(rz_flush(p, 10000), 0);
    usleep(200000); /* the connection is surely up by now */
    /* one more of each topic reveals anything missed */
    s_event(&ev, &be, "1261011", T_EXEC, "late-exec", "");
    assert_int_equal(rzt_publish_sync(p, &ev, NULL), 0);
    s_event(&ev, &be, "1261011", T_PLAN, "late-plan", "");
    assert_int_equal(rzt_publish_sync(p, &ev, NULL), 0);

    got_t *g = s_got(N + 2);
    s_receive(s, g, N + 2, 10000);
    assert_int_equal(g->n, N + 2);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->disorder, 0);
    assert_int_equal(g->foreign, 0);
    for (uint64_t q = 1; q <= N + 2; q++)
        assert_true(g->seen[q]);
    rz_sub_stats_t st;
    rz_sub_stats(s, &st);
    assert_int_equal(st.backfilled, g->backfilled);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* Publish n events "<prefix>-<i>" of T_EXEC, seq[i] gets their seqs. */
static void s_publish_exec(rz_client_t *p, const char *prefix, int n,
                           uint64_t *seq)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        s_event(&ev, &be, "1261011", T_EXEC, id, "");
        assert_int_equal(rzt_publish_sync(p, &ev, &seq[i]), 0);
    }
}

/* After a broker crash the SUB socket reconnects by itself and the
 * subscription goes on; the broker's per-topic "previous seq" survives the
 * restart, so nothing looks like a gap. */
static void test_subscribe_resumes_after_a_broker_restart(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_client_t *p = rzt_client(b, 64, 1);
    rz_sub_t *s = rz_sub_new(c, b->stream, PREFIX);
    assert_non_null(s);
    got_t *g = s_got(1024);
    s_settle(s, p, g);
    uint64_t seq[20];
    s_publish_exec(p, "before", 10, seq);
    s_receive(s, g, 10, 10000);
    assert_int_equal(g->n, 10);

    rzt_broker_kill(b);
    assert_int_equal(rzt_broker_restart(b), 0);
    g->probes = 0;
    s_settle(s, p, g); /* reading lets the SUB socket subscribe again */
    s_publish_exec(p, "after", 10, seq + 10);
    s_receive(s, g, 20, 10000);
    assert_int_equal(g->n, 20);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->disorder, 0);
    for (int i = 0; i < 20; i++)
        assert_true(g->seen[seq[i]]);
    rz_sub_stats_t st;
    rz_sub_stats(s, &st);
    assert_int_equal(st.gaps, 0);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* Events published while the subscriber was cut off (here: the broker
 * restarted and the subscriber was busy, so ZeroMQ had not subscribed
 * again yet) reach it when it reads again, not only once a later event of
 * the same topic happens to show the gap: a quiet topic may have none for
 * hours. */
static void test_subscribe_catches_up_after_a_broker_restart(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_client_t *p = rzt_client(b, 64, 1);
    rz_sub_t *s = rz_sub_new(c, b->stream, PREFIX);
    assert_non_null(s);
    got_t *g = s_got(1024);
    s_settle(s, p, g);
    uint64_t seq[20];
    s_publish_exec(p, "before", 10, seq);
    s_receive(s, g, 10, 10000);

    rzt_broker_kill(b);
    assert_int_equal(rzt_broker_restart(b), 0);
    s_publish_exec(p, "after", 10, seq + 10);
    int64_t deadline = rz_now_us() + 5000000;
    while (g->n < 20 && rz_now_us() < deadline)
        assert_true(rz_sub_recv(s, s_on_event, g, 200) >= 0);
    if (g->n != 20)
        fail_msg("%zu of the 10 events published during the restart "
                 "arrived within 5 s",
                 g->n - 10);
    assert_int_equal(g->dupes, 0);
    for (int i = 0; i < 20; i++)
        assert_true(g->seen[seq[i]]);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

static void test_subscribe_gap_recovery_delivers_every_event_once(void **state)
{
    rzt_broker_t *b = *state;
    enum { N = 200000 };
    /* ~300-byte events: the subscriber's 100000-message queue plus the TCP
     * buffers hold less than the 150000 it subscribes to */
    char pad[241];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';

    rz_client_t *c = rzt_client(b, 0, 0);
    rz_sub_t *s = rz_sub_new(c, b->stream, PREFIX);
    assert_non_null(s);
    rz_client_t *p = rzt_client(b, 4096, 256);
    got_t *g = s_got(N + 2 + 256); /* room for the probes' seqs */
    s_settle(s, p, g);

    uint64_t *seq = calloc(N + 2, sizeof *seq);
    acks_t k = {seq, 0};
    rz_client_set_ack_cb(p, s_on_ack, &k);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    size_t want = 0;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "g-%d", i);
        const char *t = i % 4 == 3 ? T_ENV : i % 4 == 2 ? T_PLAN : T_EXEC;
        want += i % 4 != 3;
        s_event(&ev, &be, "1261011", t, id, pad);
        assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)i), 0);
    }
    assert_int_equal(rz_flush(p, 60000), 0);
    assert_int_equal(k.failed, 0);
    assert_int_equal(want, 150000);

    /* now read: what the stream dropped comes back from the store */
    while (rz_sub_recv(s, s_on_event, g, 500) > 0)
        ;
    /* the last events of a topic can only be missed until the next one
     * arrives: one more of each */
    s_event(&ev, &be, "1261011", T_EXEC, "tail-exec", "");
    assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)N), 0);
    s_event(&ev, &be, "1261011", T_PLAN, "tail-plan", "");
    assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)(N + 1)), 0);
    assert_int_equal(rz_flush(p, 10000), 0);
    want += 2;
    s_receive(s, g, want, 30000);

    rz_sub_stats_t st;
    rz_sub_stats(s, &st);
    fprintf(stderr, "received %llu live, %llu gaps, %llu backfilled\n",
            (unsigned long long)st.received, (unsigned long long)st.gaps,
            (unsigned long long)st.backfilled);
    assert_true(st.gaps > 0); /* messages really were dropped */
    assert_true(st.backfilled > 0);
    assert_true(st.received < want + g->probes);
    assert_int_equal(g->backfilled, st.backfilled);
    assert_int_equal(g->n, want);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->foreign, 0);
    assert_int_equal(g->disorder, 0);
    for (size_t i = 0; i < N + 2; i++) {
        int match = i >= N || i % 4 != 3;
        assert_int_equal(g->seen[seq[i]], match);
    }
    free(seq);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_subscribe_prefix_receives_live_events_in_seq_order, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe_events_before_the_connection_are_backfilled, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe_resumes_after_a_broker_restart, rzt_setup, rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe_catches_up_after_a_broker_restart, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe_gap_recovery_delivers_every_event_once,
            s_setup_small_hwm, rzt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
