/* test_watch.c - WATCH: live subscriptions with flow control. Every
 * matching event arrives once and in order; a subscriber that does not keep
 * up is cut off (counted, told) and reads the rest back from the store; what
 * the broker holds for watchers stays within their windows. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"
#include "ratusz/v1/api.pb-c.h"

#define PREFIX "1261011.budget."
#define T_EXEC "pl.gov.gmina.budget.execution.v1"
#define T_PLAN "pl.gov.gmina.budget.plan.v1"
#define T_ENV "pl.gov.gmina.env.test.v1"

/* What a watcher got: each seq once, in delivery order. */
typedef struct got {
    uint64_t max_seq;
    uint8_t *seen;
    size_t n, dupes, foreign, disorder, backfilled;
    uint64_t last;
} got_t;

static got_t *s_got(uint64_t max_seq)
{
    got_t *g = calloc(1, sizeof *g);
    g->max_seq = max_seq;
    g->seen = calloc(max_seq + 1, 1);
    return g;
}

static void s_got_free(got_t *g)
{
    free(g->seen);
    free(g);
}

static int s_on_event(const rz_event_t *e, void *user)
{
    got_t *g = user;
    char topic[RZ_TOPIC_MAX + 1];
    rz_event_topic(e->msg, topic, sizeof topic);
    if (strncmp(topic, PREFIX, strlen(PREFIX)) != 0 || e->msg->seq == 0 ||
        e->msg->seq > g->max_seq) {
        g->foreign++;
        return 0;
    }
    /* one watch: one order over every topic, the store's */
    if (e->msg->seq <= g->last)
        g->disorder++;
    g->last = e->msg->seq;
    if (g->seen[e->msg->seq])
        g->dupes++;
    g->seen[e->msg->seq] = 1;
    g->n++;
    g->backfilled += e->backfilled ? 1 : 0;
    return 0;
}

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
    uint64_t *seq;
    size_t failed;
} acks_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    acks_t *k = user;
    if (a->code)
        k->failed++;
    else
        k->seq[(uintptr_t)a->arg] = a->seq;
}

/* Publish n events (every fourth outside PREFIX) with pad-byte payloads;
 * seq[i] gets their seqs. Returns how many match PREFIX. */
static size_t s_publish(rz_client_t *p, const char *tag, size_t n,
                        const char *pad, uint64_t *seq)
{
    acks_t k = {seq, 0};
    rz_client_set_ack_cb(p, s_on_ack, &k);
    size_t want = 0;
    for (size_t i = 0; i < n; i++) {
        char id[48];
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        snprintf(id, sizeof id, "%s-%zu", tag, i);
        const char *t = i % 4 == 3 ? T_ENV : i % 4 == 2 ? T_PLAN : T_EXEC;
        want += i % 4 != 3;
        s_event(&ev, &be, "1261011", t, id, pad);
        assert_int_equal(rz_publish(p, &ev, (void *)(uintptr_t)i), 0);
    }
    assert_int_equal(rz_flush(p, 60000), 0);
    assert_int_equal(k.failed, 0);
    rz_client_set_ack_cb(p, NULL, NULL);
    return want;
}

/* Receive until want events arrived (or max_ms passed), then make sure
 * nothing more comes. */
static void s_receive(rz_sub_t *s, got_t *g, size_t want, int max_ms)
{
    int64_t deadline = rz_now_us() + (int64_t)max_ms * 1000;
    while (g->n < want && rz_now_us() < deadline)
        assert_true(rz_sub_recv(s, s_on_event, g, 200) >= 0);
    assert_int_equal(rz_sub_recv(s, s_on_event, g, 300), 0);
}

/* Every matching event i was delivered, no other. */
static void s_check(const got_t *g, const uint64_t *seq, size_t n,
                    size_t want)
{
    assert_int_equal(g->n, want);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->foreign, 0);
    assert_int_equal(g->disorder, 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(g->seen[seq[i]], i % 4 != 3);
}

static Ratusz__V1__Stats *s_stats(rz_client_t *c)
{
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    return st;
}

static void test_watch_delivers_every_matching_event_once_in_order(
    void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *p = rzt_client(b, 64, 1);
    uint64_t before[4];
    s_publish(p, "before", 4, "", before); /* not delivered: before */

    rz_client_t *c = rzt_client(b, 0, 0);
    rz_sub_t *s = rz_watch_new(c, PREFIX, 0);
    assert_non_null(s);
    Ratusz__V1__Stats *st = s_stats(c);
    assert_int_equal(st->watchers, 1);
    ratusz__v1__stats__free_unpacked(st, NULL);

    enum { N = 400 };
    uint64_t seq[N];
    size_t want = s_publish(p, "live", N, "", seq);
    got_t *g = s_got(N + 8);
    s_receive(s, g, want, 10000);
    s_check(g, seq, N, want);
    for (int i = 0; i < 4; i++)
        assert_false(g->seen[before[i]]);
    rz_sub_stats_t ss;
    rz_sub_stats(s, &ss);
    assert_int_equal(ss.cutoffs, 0);
    assert_int_equal(ss.backfilled, 0);
    assert_int_equal(ss.received, want);

    /* UNWATCH on destroy: the broker forgets it */
    rz_sub_destroy(&s);
    int64_t deadline = rz_now_us() + 3000000;
    uint64_t open = 1;
    while (open && rz_now_us() < deadline) {
        usleep(50000);
        st = s_stats(c);
        open = st->watchers;
        ratusz__v1__stats__free_unpacked(st, NULL);
    }
    assert_int_equal(open, 0);
    s_got_free(g);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

static int s_setup_small_window(void **state)
{
    static const char *const extra[] = {"--watch-window", "64K", "--sync",
                                        "os", NULL};
    return rzt_setup_with(state, extra);
}

/* A watcher that stops reading is cut off once a window is unacknowledged:
 * counted in STATS, told with CUTOFF; rz_sub_recv then reads the rest back
 * from the store, and every event arrives once, in order. */
static void test_watch_slow_subscriber_is_cut_off_and_reads_back(
    void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_sub_t *s = rz_watch_new(c, PREFIX, 0);
    assert_non_null(s);
    rz_client_t *p = rzt_client(b, 4096, 64);

    /* ~300-byte events, 20000 of them: 6 MB, a hundred windows */
    enum { N = 20000 };
    char pad[241];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    uint64_t *seq = calloc(N, sizeof *seq);
    size_t want = s_publish(p, "slow", N, pad, seq);

    Ratusz__V1__Stats *st = s_stats(c);
    fprintf(stderr, "after %d events: %llu watchers, %llu bytes held, "
                    "%llu cut off\n",
            N, (unsigned long long)st->watchers,
            (unsigned long long)st->watch_held,
            (unsigned long long)st->watch_cutoffs);
    assert_int_equal(st->watch_cutoffs, 1);
    assert_int_equal(st->watchers, 0);
    assert_int_equal(st->watch_held, 0);
    ratusz__v1__stats__free_unpacked(st, NULL);

    got_t *g = s_got(N + 8);
    s_receive(s, g, want, 30000);
    s_check(g, seq, N, want);
    rz_sub_stats_t ss;
    rz_sub_stats(s, &ss);
    fprintf(stderr, "delivered %zu: %llu pushed, %llu read back, %llu "
                    "cut-offs\n",
            g->n, (unsigned long long)ss.received,
            (unsigned long long)ss.backfilled,
            (unsigned long long)ss.cutoffs);
    assert_int_equal(ss.cutoffs, 1);
    assert_true(ss.backfilled > 0);
    assert_int_equal(ss.backfilled, g->backfilled);
    assert_int_equal(ss.received + ss.backfilled, want);
    /* at most a window (and one push) was in flight when it was cut */
    assert_true(ss.received * 300 <= 64 * 1024 + 64 * 1024 + 4096);

    /* and it watches again: live events are pushed, not read back */
    uint64_t more[8];
    size_t want2 = s_publish(p, "again", 8, "", more);
    g->max_seq = N + 8;
    size_t had = g->n, back = g->backfilled;
    s_receive(s, g, had + want2, 10000);
    assert_int_equal(g->n, had + want2);
    assert_int_equal(g->backfilled, back);

    free(seq);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* Watchers that never read: each holds at most its window in the broker,
 * all of them at most a quarter of the memory budget; every one is cut off
 * and the publisher keeps getting acks. */
static void test_watch_stalled_watchers_hold_bounded_memory(void **state)
{
    rzt_broker_t *b = *state;
    enum { W = 100, N = 20000 };
    void *ctx = zmq_ctx_new();
    void *w[W];
    for (int i = 0; i < W; i++) {
        w[i] = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(w[i], ZMQ_LINGER, &zero, sizeof zero);
        assert_int_equal(zmq_connect(w[i], b->front), 0);
        Ratusz__V1__WatchRequest m = RATUSZ__V1__WATCH_REQUEST__INIT;
        m.topic_prefix = (char *)"";
        uint8_t body[64];
        size_t n = ratusz__v1__watch_request__pack(&m, body);
        zmq_send(w[i], "WATCH", 5, ZMQ_SNDMORE);
        zmq_send(w[i], "12345678", 8, ZMQ_SNDMORE);
        zmq_send(w[i], body, n, 0);
    }
    rz_client_t *c = rzt_client(b, 0, 0);
    int64_t deadline = rz_now_us() + 5000000;
    uint64_t open = 0;
    while (open < W && rz_now_us() < deadline) {
        Ratusz__V1__Stats *st = s_stats(c);
        open = st->watchers;
        ratusz__v1__stats__free_unpacked(st, NULL);
    }
    assert_int_equal(open, W);
    long rss0 = rzt_status_kb(b->pid, "RssAnon");

    rz_client_t *p = rzt_client(b, 4096, 64);
    char pad[241];
    memset(pad, 'y', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    uint64_t *seq = calloc(N, sizeof *seq);
    s_publish(p, "stall", N, pad, seq); /* every event acked */
    long rss1 = rzt_status_kb(b->pid, "RssAnon");
    Ratusz__V1__Stats *st = s_stats(c);
    fprintf(stderr, "%d stalled watchers, %d events: RssAnon %ld -> %ld "
                    "KiB, %llu cut off, %llu bytes held\n",
            W, N, rss0, rss1, (unsigned long long)st->watch_cutoffs,
            (unsigned long long)st->watch_held);
    assert_int_equal(st->watch_cutoffs, W);
    assert_int_equal(st->watchers, 0);
    ratusz__v1__stats__free_unpacked(st, NULL);
    /* 100 windows of 64 KiB plus a push each: well under 64 MiB more
     * (AddressSanitizer keeps freed memory in quarantine: twice that) */
    assert_true(rss1 - rss0 < (RZT_ASAN ? 128 : 64) * 1024);

    for (int i = 0; i < W; i++)
        zmq_close(w[i]);
    zmq_ctx_term(ctx);
    free(seq);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* A broker that restarted has forgotten the watch: a quiet watch checks
 * the head and watches again, reading back what it missed. */
static void test_watch_resumes_after_a_broker_restart(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_client_t *p = rzt_client(b, 64, 1);
    rz_sub_t *s = rz_watch_new(c, PREFIX, 0);
    assert_non_null(s);
    uint64_t seq[40];
    size_t want = s_publish(p, "before", 20, "", seq);
    got_t *g = s_got(200);
    s_receive(s, g, want, 10000);
    assert_int_equal(g->n, want);

    rzt_broker_kill(b);
    assert_int_equal(rzt_broker_restart(b), 0);
    want += s_publish(p, "after", 20, "", seq + 20);
    s_receive(s, g, want, 10000);
    assert_int_equal(g->n, want);
    assert_int_equal(g->dupes, 0);
    assert_int_equal(g->disorder, 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(g->seen[seq[i]], i % 20 % 4 != 3);
    s_got_free(g);
    rz_sub_destroy(&s);
    rz_client_destroy(&c);
    rz_client_destroy(&p);
}

/* Send one raw request on a socket of type type; the reply's command and
 * error code (0 for a non-ERR reply). */
static int s_raw(const rzt_broker_t *b, int type, const char *cmd,
                 const void *body, size_t len, char *reply_cmd)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, type);
    int zero = 0, wait = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &wait, sizeof wait);
    assert_int_equal(zmq_connect(s, b->front), 0);
    zmq_send(s, cmd, strlen(cmd), ZMQ_SNDMORE);
    zmq_send(s, "c", 1, ZMQ_SNDMORE);
    zmq_send(s, body, len, 0);
    char buf[4096];
    int n = zmq_recv(s, reply_cmd, 15, 0);
    assert_true(n > 0);
    reply_cmd[n] = '\0';
    zmq_recv(s, buf, sizeof buf, 0); /* correlation */
    n = zmq_recv(s, buf, sizeof buf, 0);
    int code = 0;
    if (!strcmp(reply_cmd, "ERR")) {
        Ratusz__V1__Error *e =
            ratusz__v1__error__unpack(NULL, (size_t)n, (uint8_t *)buf);
        assert_non_null(e);
        code = e->code;
        ratusz__v1__error__free_unpacked(e, NULL);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return code;
}

static int s_setup_two_watchers(void **state)
{
    static const char *const extra[] = {"--max-watchers", "2", NULL};
    return rzt_setup_with(state, extra);
}

static void test_watch_refuses_what_it_cannot_serve(void **state)
{
    rzt_broker_t *b = *state;
    char cmd[16];
    Ratusz__V1__WatchRequest m = RATUSZ__V1__WATCH_REQUEST__INIT;
    uint8_t body[512];
    m.topic_prefix = (char *)PREFIX;
    size_t n = ratusz__v1__watch_request__pack(&m, body);
    /* a REQ socket cannot take pushes */
    assert_int_equal(s_raw(b, ZMQ_REQ, "WATCH", body, n, cmd), RZ_EBADREQ);
    /* not a WatchRequest */
    assert_int_equal(s_raw(b, ZMQ_DEALER, "WATCH", "\xff\xff", 2, cmd),
                     RZ_EDECODE);
    /* control characters in the prefix */
    m.topic_prefix = (char *)"1261011\n";
    n = ratusz__v1__watch_request__pack(&m, body);
    assert_int_equal(s_raw(b, ZMQ_DEALER, "WATCH", body, n, cmd), RZ_EINVAL);
    /* max_watchers: two open, the third is refused, one leaving makes
     * room */
    rz_client_t *c = rzt_client(b, 0, 0);
    rz_sub_t *one = rz_watch_new(c, PREFIX, 0);
    rz_sub_t *two = rz_watch_new(c, PREFIX, 0);
    assert_non_null(one);
    assert_non_null(two);
    assert_null(rz_watch_new(c, PREFIX, 0));
    assert_int_equal(errno, -RZ_EBUSY);
    rz_sub_destroy(&two);
    rz_sub_t *three = NULL;
    for (int i = 0; i < 50 && !three; i++) {
        usleep(20000);
        three = rz_watch_new(c, PREFIX, 0);
    }
    assert_non_null(three);
    /* a CREDIT gets no reply, and one for bytes never sent changes
     * nothing */
    Ratusz__V1__Credit cr = RATUSZ__V1__CREDIT__INIT;
    cr.consumed = 1u << 30;
    n = ratusz__v1__credit__pack(&cr, body);
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, wait = 300;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &wait, sizeof wait);
    zmq_connect(d, b->front);
    zmq_send(d, "CREDIT", 6, ZMQ_SNDMORE);
    zmq_send(d, "c", 1, ZMQ_SNDMORE);
    zmq_send(d, body, n, 0);
    char buf[64];
    assert_int_equal(zmq_recv(d, buf, sizeof buf, 0), -1);
    zmq_close(d);
    zmq_ctx_term(ctx);
    Ratusz__V1__Stats *st = s_stats(c);
    assert_int_equal(st->watchers, 2);
    /* only the empty pushes that asked whether the full table's watchers
     * were still there: a few bytes each, never a gigabyte of credit */
    assert_true(st->watch_held < 64);
    ratusz__v1__stats__free_unpacked(st, NULL);
    rz_sub_destroy(&one);
    rz_sub_destroy(&three);
    rz_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_watch_delivers_every_matching_event_once_in_order, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_watch_slow_subscriber_is_cut_off_and_reads_back,
            s_setup_small_window, rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_watch_stalled_watchers_hold_bounded_memory,
            s_setup_small_window, rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_watch_resumes_after_a_broker_restart, rzt_setup,
            rzt_teardown),
        cmocka_unit_test_setup_teardown(
            test_watch_refuses_what_it_cannot_serve, s_setup_two_watchers,
            rzt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
