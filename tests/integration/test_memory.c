/* test_memory.c - the broker's memory stays under its budget whatever a
 * peer sends, and a well-behaved publisher keeps getting acks.
 *
 * The broker runs with the default memory_budget (256 MiB). Its anonymous
 * memory (RssAnon: outside the LMDB map, which is file-backed) is sampled
 * every 20 ms during each attack; the peak must stay under the budget:
 *
 *   1. 100 pipelined publishes of almost 4 MiB each (400 MB) on one
 *      connection that never reads its replies;
 *   2. 256 REPORTs of 4 MiB;
 *   3. 200 subscribers that never read while 50,000 events are published.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define BUDGET_KB (256L * 1024)

/* the bound, except under AddressSanitizer (harness.h) */
#define S_UNDER_BUDGET(kb) (RZT_ASAN || (kb) < BUDGET_KB)

/* Samples the broker's RssAnon until told to stop. */
typedef struct sampler {
    pid_t pid;
    atomic_int stop;
    long peak_kb;
    pthread_t t;
} sampler_t;

static void *s_sample(void *arg)
{
    sampler_t *s = arg;
    while (!atomic_load(&s->stop)) {
        long kb = rzt_status_kb(s->pid, "RssAnon");
        if (kb > s->peak_kb)
            s->peak_kb = kb;
        usleep(20000);
    }
    return NULL;
}

static void s_sampler_start(sampler_t *s, pid_t pid)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    assert_int_equal(pthread_create(&s->t, NULL, s_sample, s), 0);
}

static long s_sampler_stop(sampler_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->t, NULL);
    return s->peak_kb;
}

/* The good publisher: one event at a time for ms milliseconds; returns
 * how many were acked. */
static int s_good_publisher(const rzt_broker_t *b, int ms, int base)
{
    rz_client_t *c = rzt_client(b, 1, 1);
    int acked = 0;
    int64_t end = rz_now_us() + (int64_t)ms * 1000;
    for (int i = 0; rz_now_us() < end; i++) {
        char id[48];
        snprintf(id, sizeof id, "good-%d-%06d", base, i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/good", id, "unit:good",
                  INT64_C(1700000000000000) + i, i);
        if (rzt_publish_sync(c, &ev, NULL) == 0)
            acked++;
    }
    rz_client_destroy(&c);
    return acked;
}

static void test_pipelined_big_publishes(void **state)
{
    rzt_broker_t *b = *state;
    long before = rzt_status_kb(b->pid, "RssAnon");
    /* one valid event of almost 4 MiB */
    size_t n = (4u << 20) - 4096;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    memset(data, 'r', n);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    rzt_event(&ev, &be, "/1261011/budget/big", "big", "", 1, 1);
    raw.content_type = "application/octet-stream";
    raw.bytes.data = data;
    raw.bytes.len = n;
    ev.type = "pl.gov.gmina.budget.blob.v1";
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;

    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(d, b->front), 0);
    size_t len = ratusz__v1__event__get_packed_size(&ev) + 64;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    sampler_t s;
    s_sampler_start(&s, b->pid);
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "big-%03d", i);
        ev.id = id;
        size_t bl = ratusz__v1__event__pack(&ev, buf);
        zmq_send(d, "PUB", 3, ZMQ_SNDMORE);
        zmq_send(d, &i, sizeof i, ZMQ_SNDMORE);
        zmq_send(d, buf, bl, 0);
    }
    int acked = s_good_publisher(b, 3000, 1);
    long peak = s_sampler_stop(&s);
    fprintf(stderr,
            "big publishes: RssAnon %ld KiB before, peak %ld KiB; the good "
            "publisher got %d acks in 3 s\n",
            before, peak, acked);
    assert_true(rzt_broker_alive(b));
    assert_true(S_UNDER_BUDGET(peak));
    assert_true(acked > 0);
    zmq_close(d);
    zmq_ctx_term(ctx);
    free(buf);
    free(data);
}

static void test_big_reports_refused(void **state)
{
    rzt_broker_t *b = *state;
    long before = rzt_status_kb(b->pid, "RssAnon");
    Ratusz__V1__Component comp = RATUSZ__V1__COMPONENT__INIT;
    size_t n = 4u << 20;
    char *detail = malloc(n + 1);
    assert_non_null(detail);
    memset(detail, 'd', n);
    detail[n] = '\0';
    comp.kind = "adapter";
    comp.status = "ok";
    comp.detail = detail;
    rz_client_t *c = rzt_client(b, 1, 1);
    sampler_t s;
    s_sampler_start(&s, b->pid);
    int refused = 0;
    for (int i = 0; i < 256; i++) {
        char name[32];
        snprintf(name, sizeof name, "adapter/flood-%d", i);
        comp.name = name;
        if (rz_report(c, &comp) == RZ_ETOOBIG)
            refused++;
    }
    int acked = s_good_publisher(b, 500, 2);
    long peak = s_sampler_stop(&s);
    int64_t t0 = rz_now_us();
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    int64_t stats_us = rz_now_us() - t0;
    ratusz__v1__stats__free_unpacked(st, NULL);
    rz_client_destroy(&c);
    free(detail);
    fprintf(stderr,
            "4 MiB reports: %d of 256 refused; RssAnon %ld KiB before, peak "
            "%ld KiB; STATS in %lld us; %d acks\n",
            refused, before, peak, (long long)stats_us, acked);
    assert_int_equal(refused, 256);
    assert_true(S_UNDER_BUDGET(peak));
    assert_true(stats_us < 1000000);
    assert_true(acked > 0);
}

static void test_slow_subscribers(void **state)
{
    rzt_broker_t *b = *state;
    void *ctx = zmq_ctx_new();
    enum { SUBS = 200 };
    void *subs[SUBS];
    for (int i = 0; i < SUBS; i++) {
        subs[i] = zmq_socket(ctx, ZMQ_SUB);
        int zero = 0, rcvbuf = 4096;
        zmq_setsockopt(subs[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(subs[i], ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(subs[i], ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
        zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, "", 0);
        assert_int_equal(zmq_connect(subs[i], b->stream), 0);
    }
    usleep(1000000);
    long before = rzt_status_kb(b->pid, "RssAnon");
    sampler_t s;
    s_sampler_start(&s, b->pid);
    /* nobody reads: 50,000 events go out to 200 stalled subscribers */
    rz_client_t *c = rzt_client(b, 4096, 64);
    for (int i = 0; i < 50000; i++) {
        char id[32];
        snprintf(id, sizeof id, "fan-%06d", i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/fan", id, "unit:fan",
                  INT64_C(1700000000000000) + i, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 60000), 0);
    rz_client_destroy(&c);
    int acked = s_good_publisher(b, 500, 3);
    usleep(500000);
    long peak = s_sampler_stop(&s);
    fprintf(stderr,
            "200 stalled subscribers, 50,000 events: RssAnon %ld KiB "
            "before, peak %ld KiB; %d acks after\n",
            before, peak, acked);
    assert_true(rzt_broker_alive(b));
    assert_true(S_UNDER_BUDGET(peak));
    assert_true(acked > 0);
    for (int i = 0; i < SUBS; i++)
        zmq_close(subs[i]);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_big_publishes),
        cmocka_unit_test(test_big_reports_refused),
        cmocka_unit_test(test_slow_subscribers),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
