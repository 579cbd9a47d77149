/* test_publish.c - pipelined publish, acks, dedup, get, graceful stop */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define N_EVENTS 100000

typedef struct acks {
    uint64_t *seq_of;   /* by event index */
    size_t n, failed, dups;
    int durability;
} acks_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    acks_t *k = user;
    size_t i = (size_t)(uintptr_t)a->arg;
    if (a->code) {
        k->failed++;
        fprintf(stderr, "ack %zu failed: %s (%s)\n", i, rz_err_name(a->code),
                a->reason);
        return;
    }
    k->seq_of[i] = a->seq;
    k->n++;
    k->dups += a->duplicate ? 1 : 0;
    k->durability = a->durability;
}

static int s_count(const rz_event_t *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

/* Publish n events with ids "<prefix>-<i>", window w, batch bsz. */
static void s_publish(rzt_broker_t *b, acks_t *k, const char *prefix,
                      size_t n, uint32_t w, uint32_t bsz)
{
    rz_client_t *c = rzt_client(b, w, bsz);
    assert_non_null(c);
    rz_client_set_ack_cb(c, s_on_ack, k);
    for (size_t i = 0; i < n; i++) {
        char id[64], subj[32];
        snprintf(id, sizeof id, "%s-%zu", prefix, i);
        snprintf(subj, sizeof subj, "unit:%zu", i % 100);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/test", id, subj,
                  1700000000000000 + (int64_t)i, (int64_t)i * 100);
        assert_int_equal(rz_publish(c, &ev, (void *)(uintptr_t)i), 0);
    }
    assert_int_equal(rz_flush(c, 60000), 0);
    assert_int_equal(rz_inflight(c), 0);
    rz_client_destroy(&c);
}

static void test_publish_pipelined_100k_all_acked_gap_free(void **state)
{
    rzt_broker_t *b = *state;
    acks_t k = {calloc(N_EVENTS, sizeof(uint64_t)), 0, 0, 0, 0};
    s_publish(b, &k, "p", N_EVENTS, 4096, 64);
    assert_int_equal(k.n, N_EVENTS);
    assert_int_equal(k.failed, 0);
    assert_int_equal(k.dups, 0);
    assert_int_equal(k.durability, RZ_DURABILITY_SYNCED);
    /* Seqs are exactly 1..N, each once. */
    char *seen = calloc(N_EVENTS + 1, 1);
    for (size_t i = 0; i < N_EVENTS; i++) {
        assert_true(k.seq_of[i] >= 1 && k.seq_of[i] <= N_EVENTS);
        assert_false(seen[k.seq_of[i]]);
        seen[k.seq_of[i]] = 1;
    }
    free(seen);

    /* Every one is readable by seq and by id. */
    rz_client_t *c = rzt_client(b, 0, 0);
    for (size_t i = 0; i < N_EVENTS; i += 997) {
        int got = 0;
        assert_int_equal(rz_get_seq(c, k.seq_of[i], s_count, &got), 1);
        char id[64];
        snprintf(id, sizeof id, "p-%zu", i);
        assert_int_equal(rz_get_id(c, "/1261011/budget/test", id, s_count,
                                   &got), 1);
        assert_int_equal(got, 2);
    }
    /* Full replay sees all of them. */
    int total = 0;
    rz_replay_t rp = {1, 0, NULL, 0, 0};
    assert_int_equal(rz_replay(c, &rp, s_count, &total), N_EVENTS);
    assert_int_equal(total, N_EVENTS);
    rz_client_destroy(&c);
    free(k.seq_of);
}

typedef struct check_ev {
    uint64_t seq;
    const char *id;
    int64_t amount;
    int ok;
} check_ev_t;

static int s_check(const rz_event_t *e, void *user)
{
    check_ev_t *c = user;
    const Ratusz__V1__Event *m = e->msg;
    c->ok = m->seq == c->seq && !strcmp(m->id, c->id) &&
            !strcmp(m->principal, "anonymous") && m->ingest_time > 0 &&
            m->data_case == RATUSZ__V1__EVENT__DATA_BUDGET &&
            m->budget->amount_grosze == c->amount &&
            !strcmp(m->budget->rozdzial, "60016");
    return 0;
}

static void test_publish_get_returns_event_with_broker_fields(void **state)
{
    rzt_broker_t *b = *state;
    acks_t k = {calloc(1, sizeof(uint64_t)), 0, 0, 0, 0};
    s_publish(b, &k, "one", 1, 1, 1);
    assert_int_equal(k.n, 1);
    rz_client_t *c = rzt_client(b, 0, 0);
    check_ev_t ch = {k.seq_of[0], "one-0", 0, 0};
    assert_int_equal(rz_get_seq(c, k.seq_of[0], s_check, &ch), 1);
    assert_true(ch.ok);
    assert_int_equal(rz_get_seq(c, 999999999, s_check, &ch), RZ_ENOTFOUND);
    assert_int_equal(rz_get_id(c, "/nope", "x", s_check, &ch), RZ_ENOTFOUND);
    rz_client_destroy(&c);
    free(k.seq_of);
}

static void test_publish_republish_same_id_returns_original_seq(void **state)
{
    rzt_broker_t *b = *state;
    acks_t k1 = {calloc(50, sizeof(uint64_t)), 0, 0, 0, 0};
    acks_t k2 = {calloc(50, sizeof(uint64_t)), 0, 0, 0, 0};
    s_publish(b, &k1, "dup", 50, 16, 8);
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__Health *h;
    assert_int_equal(rz_health(c, &h), 0);
    uint64_t head = h->head_seq;
    ratusz__v1__health__free_unpacked(h, NULL);
    s_publish(b, &k2, "dup", 50, 16, 1);
    assert_int_equal(k1.dups, 0);
    assert_int_equal(k2.dups, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(k2.seq_of[i], k1.seq_of[i]);
    /* Nothing new was stored. */
    assert_int_equal(rz_health(c, &h), 0);
    assert_int_equal(h->head_seq, head);
    ratusz__v1__health__free_unpacked(h, NULL);
    rz_client_destroy(&c);
    free(k1.seq_of);
    free(k2.seq_of);
}

static void s_on_ack_codes(const rz_ack_t *a, void *user)
{
    int *codes = user;
    codes[(uintptr_t)a->arg] = a->code ? a->code : 1;
}

static void test_publish_batch_with_one_invalid_event_acks_the_rest(void **state)
{
    rzt_broker_t *b = *state;
    rz_client_t *c = rzt_client(b, 16, 3);
    int codes[3] = {0};
    rz_client_set_ack_cb(c, s_on_ack_codes, codes);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/test", "mix-0", "", 1, 1);
    assert_int_equal(rz_publish(c, &ev, (void *)0), 0);
    /* Bypass the client's check to send a bad tenant to the broker. */
    ev.id = "mix-1";
    ev.tenant = "Warszawa";
    size_t len = ratusz__v1__event__get_packed_size(&ev);
    uint8_t buf[512];
    ratusz__v1__event__pack(&ev, buf);
    assert_int_equal(rz_publish_raw(c, buf, len, (void *)1), 0);
    ev.id = "mix-2";
    ev.tenant = "1261011";
    assert_int_equal(rz_publish(c, &ev, (void *)2), 0);
    assert_int_equal(rz_flush(c, 10000), 0);
    assert_int_equal(codes[0], 1);
    assert_int_equal(codes[1], RZ_EINVALEVENT);
    assert_int_equal(codes[2], 1);
    rz_client_destroy(&c);
}

static void test_publish_sigterm_exits_zero_and_keeps_everything(void **state)
{
    rzt_broker_t *b = *state;
    acks_t k = {calloc(1000, sizeof(uint64_t)), 0, 0, 0, 0};
    s_publish(b, &k, "term", 1000, 256, 16);
    assert_int_equal(rzt_broker_stop(b), 0);
    assert_int_equal(rzt_broker_restart(b), 0);
    rz_client_t *c = rzt_client(b, 0, 0);
    for (int i = 0; i < 1000; i += 111) {
        char id[32];
        int got = 0;
        snprintf(id, sizeof id, "term-%d", i);
        assert_int_equal(rz_get_id(c, "/1261011/budget/test", id, s_count,
                                   &got), 1);
    }
    rz_client_destroy(&c);
    free(k.seq_of);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_pipelined_100k_all_acked_gap_free),
        cmocka_unit_test(test_publish_get_returns_event_with_broker_fields),
        cmocka_unit_test(test_publish_republish_same_id_returns_original_seq),
        cmocka_unit_test(test_publish_batch_with_one_invalid_event_acks_the_rest),
        cmocka_unit_test(test_publish_sigterm_exits_zero_and_keeps_everything),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
