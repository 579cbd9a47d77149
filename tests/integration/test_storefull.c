/* test_storefull.c - a full store refuses publishes, keeps serving reads,
 * and recovers when the map may grow; below map_max the map grows alone */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define SRC "/1261011/budget/fill"
#define SUBJECT "unit:full"
#define PAD 2000 /* bytes of payload per event */

static char s_pad[PAD + 1];

static void s_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
                    char *id, size_t id_len, int i)
{
    snprintf(id, id_len, "fill-%d", i);
    rzt_event(ev, be, SRC, id, SUBJECT, 1700000000000000 + i, i);
    be->description = s_pad;
}

static int s_on_seq(const rz_event_t *e, void *user)
{
    uint64_t *seq = user;
    *seq = e->msg->seq;
    /* the payload is intact */
    assert_int_equal(strlen(e->msg->budget->description), PAD);
    return 0;
}

static int s_count(const rz_event_t *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static void s_health(rz_client_t *c, const char *status, uint64_t head)
{
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(c, &h), 0);
    assert_string_equal(h->status, status);
    assert_int_equal(h->head_seq, head);
    ratusz__v1__health__free_unpacked(h, NULL);
}

static int s_setup(void **state)
{
    memset(s_pad, 'z', PAD);
    s_pad[PAD] = '\0';
    rzt_broker_t *b = calloc(1, sizeof *b);
    *state = b;
    return 0;
}

/* Map size and max have a minimum of 64K; max_message may not exceed
 * map_max, so its 4M default has to come down as well. */
static const char *const s_small[] = {
    "--map-size", "1M", "--map-max", "1M", "--max-message", "256K", NULL};

/* Publish 2 KB events until the store is full; returns how many were
 * acked (each with the next seq), after checking the refusal. */
static int s_fill(rz_client_t *c)
{
    int acked = 0, rc = 0;
    uint64_t seq = 0;
    char id[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    for (int i = 0; i < 2000; i++) {
        s_event(&ev, &be, id, sizeof id, i);
        rc = rzt_publish_sync(c, &ev, &seq);
        if (rc != 0)
            break;
        assert_int_equal(seq, (uint64_t)i + 1);
        acked++;
    }
    assert_int_equal(rc, RZ_ESTOREFULL);
    /* 1 MiB, 2 KB each: fewer when readers (the pseudonym indexer's, in
     * the background) keep LMDB from reusing freed pages at that moment */
    assert_true(acked > 50 && acked < 500);
    return acked;
}

static void test_storefull_rejects_publishes_and_keeps_reads(void **state)
{
    rzt_broker_t *b = *state;
    assert_int_equal(rzt_broker_start(b, s_small), 0);
    rz_client_t *c = rzt_client(b, 0, 0);
    int acked = s_fill(c);
    uint64_t seq = 0;
    char id[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    /* it stays full, and says so */
    s_event(&ev, &be, id, sizeof id, 5000);
    assert_int_equal(rzt_publish_sync(c, &ev, NULL), RZ_ESTOREFULL);
    s_health(c, "store-full", (uint64_t)acked);
    char body[256];
    assert_int_equal(rzt_http_get(b->metrics, "/healthz", body, sizeof body),
                     503);
    assert_string_equal(body, "store-full\n");

    /* reads work */
    uint64_t got = 0;
    assert_int_equal(rz_get_id(c, SRC, "fill-0", s_on_seq, &got), 1);
    assert_int_equal(got, 1);
    assert_int_equal(rz_get_seq(c, (uint64_t)acked, s_on_seq, &got), 1);
    assert_int_equal(got, (uint64_t)acked);
    int n = 0;
    rz_query_t q = {0};
    q.subject = SUBJECT;
    assert_int_equal(rz_query(c, &q, s_count, &n), acked);
    assert_int_equal(n, acked);
    n = 0;
    rz_replay_t rp = {1, 0, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &rp, s_count, &n), acked);
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    assert_true(st->map_bytes <= 1 << 20);
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_true(rzt_broker_alive(b));
    rz_client_destroy(&c);

    /* a clean stop, and a restart that lets the map grow */
    assert_int_equal(rzt_broker_stop(b), 0);
    static const char *const big[] = {
        "--map-size", "1M", "--map-max", "64M", "--max-message", "256K", NULL};
    size_t e = 0;
    for (; big[e]; e++)
        b->extra[e] = big[e];
    b->extra[e] = NULL;
    assert_int_equal(rzt_broker_restart(b), 0);
    c = rzt_client(b, 0, 0);
    s_health(c, "ok", (uint64_t)acked);
    for (int i = acked; i < acked + 200; i++) {
        s_event(&ev, &be, id, sizeof id, i);
        assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
        assert_int_equal(seq, (uint64_t)i + 1);
    }
    /* everything acked before is intact */
    for (int i = 0; i < acked; i++) {
        snprintf(id, sizeof id, "fill-%d", i);
        got = 0;
        assert_int_equal(rz_get_id(c, SRC, id, s_on_seq, &got), 1);
        assert_int_equal(got, (uint64_t)i + 1);
    }
    s_health(c, "ok", (uint64_t)acked + 200);
    rz_client_destroy(&c);
}

/* Publishes refused for a full store show in STATS (and so in
 * ratusz_rejected_total{reason="RZ_ESTOREFULL"}), like every other
 * refusal. */
static void test_storefull_refusals_are_counted_in_stats(void **state)
{
    rzt_broker_t *b = *state;
    assert_int_equal(rzt_broker_start(b, s_small), 0);
    rz_client_t *c = rzt_client(b, 0, 0);
    s_fill(c); /* one refusal */
    char id[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    s_event(&ev, &be, id, sizeof id, 5000);
    assert_int_equal(rzt_publish_sync(c, &ev, NULL), RZ_ESTOREFULL);
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    uint64_t full = 0;
    for (size_t i = 0; i < st->n_rejected; i++)
        if (!strcmp(st->rejected[i]->reason, "RZ_ESTOREFULL"))
            full = st->rejected[i]->count;
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_int_equal(full, 2);
    rz_client_destroy(&c);
}

typedef struct acks {
    size_t ok, failed;
} acks_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    acks_t *k = user;
    if (a->code) {
        k->failed++;
        fprintf(stderr, "ack failed: %s (%s)\n", rz_err_name(a->code),
                a->reason);
    } else {
        k->ok++;
    }
}

static void test_storefull_map_grows_up_to_map_max_by_itself(void **state)
{
    rzt_broker_t *b = *state;
    static const char *const grow[] = {"--map-size", "1M", "--map-max", "64M",
                                       NULL};
    assert_int_equal(rzt_broker_start(b, grow), 0);
    enum { N = 4000 }; /* ~8 MB */
    rz_client_t *c = rzt_client(b, 256, 16);
    acks_t k = {0, 0};
    rz_client_set_ack_cb(c, s_on_ack, &k);
    char id[32];
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    for (int i = 0; i < N; i++) {
        s_event(&ev, &be, id, sizeof id, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 60000), 0);
    assert_int_equal(k.failed, 0);
    assert_int_equal(k.ok, N);
    s_health(c, "ok", N);

    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    assert_true(st->map_bytes >= 8u << 20);
    assert_true(st->map_bytes <= 64u << 20);
    assert_true(st->store_bytes >= (uint64_t)N * PAD);
    assert_int_equal(st->n_rejected, 0);
    ratusz__v1__stats__free_unpacked(st, NULL);

    int n = 0;
    rz_replay_t rp = {1, 0, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &rp, s_count, &n), N);
    uint64_t got = 0;
    assert_int_equal(rz_get_id(c, SRC, "fill-3999", s_on_seq, &got), 1);
    assert_int_equal(got, N);
    rz_client_destroy(&c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, rzt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_storefull_rejects_publishes_and_keeps_reads),
        T(test_storefull_map_grows_up_to_map_max_by_itself),
        T(test_storefull_refusals_are_counted_in_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
