/* test_store.c - the adapter's outbox, quarantine and state on real LMDB
 * files */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "store.h"

typedef struct fx {
    char dir[256];
    rz_astore_t *s;
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_int_equal(rzt_tmpdir(f->dir, sizeof f->dir), 0);
    char err[256];
    assert_int_equal(rz_astore_open(&f->s, f->dir, 64u << 20, err, sizeof err),
                     0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_astore_destroy(&f->s);
    rz_astore_destroy(&f->s); /* safe twice */
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_reopen(fx_t *f)
{
    char err[256];
    rz_astore_destroy(&f->s);
    assert_int_equal(rz_astore_open(&f->s, f->dir, 64u << 20, err, sizeof err),
                     0);
}

static uint64_t s_put(rz_atxn_t *t, const char *origin, uint64_t line,
                      const char *key, const char *event)
{
    rz_orec_t r = {0,           1700000000000000, line,
                   origin,      strlen(origin),   key,
                   strlen(key), (const uint8_t *)event, strlen(event)};
    uint64_t seq = 0;
    assert_int_equal(rz_outbox_put(t, &r, &seq), 0);
    t->d_read++;
    return seq;
}

typedef struct seen {
    uint64_t seqs[64];
    char events[64][32];
    size_t n;
} seen_t;

static int s_collect(const rz_orec_t *r, void *user)
{
    seen_t *s = user;
    s->seqs[s->n] = r->seq;
    snprintf(s->events[s->n], sizeof s->events[0], "%.*s", (int)r->len,
             (const char *)r->event);
    s->n++;
    return 0;
}

static void test_outbox_keeps_spool_order_across_reopen(void **state)
{
    fx_t *f = *state;
    rz_atxn_t t;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(s_put(&t, "/srv/drop/a.csv", 2, "row 1", "ev-a"), 1);
    assert_int_equal(s_put(&t, "/srv/drop/a.csv", 3, "row 2", "ev-b"), 2);
    assert_int_equal(rz_atxn_commit(&t), 0);
    s_reopen(f);
    /* the sequence goes on after a reopen, it does not start again */
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(s_put(&t, "/srv/drop/b.csv", 1, "row 1", "ev-c"), 3);
    assert_int_equal(rz_atxn_commit(&t), 0);

    seen_t s = {0};
    assert_int_equal(rz_outbox_scan(f->s, 1, 0, s_collect, &s), 3);
    assert_int_equal(s.seqs[0], 1);
    assert_string_equal(s.events[0], "ev-a");
    assert_string_equal(s.events[2], "ev-c");
    memset(&s, 0, sizeof s);
    assert_int_equal(rz_outbox_scan(f->s, 2, 1, s_collect, &s), 1);
    assert_string_equal(s.events[0], "ev-b");

    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    rz_orec_t r;
    assert_int_equal(rz_outbox_get(&t, 2, &r), 0);
    assert_int_equal(r.line, 3);
    assert_int_equal(r.olen, strlen("/srv/drop/a.csv"));
    assert_memory_equal(r.origin, "/srv/drop/a.csv", r.olen);
    assert_memory_equal(r.key, "row 2", r.klen);
    assert_int_equal(r.spooled, 1700000000000000);
    rz_atxn_abort(&t);
}

static void test_outbox_delete_counts_published_once(void **state)
{
    fx_t *f = *state;
    rz_atxn_t t;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    for (int i = 0; i < 5; i++)
        s_put(&t, "x", (uint64_t)i + 1, "k", "e");
    assert_int_equal(rz_atxn_commit(&t), 0);
    assert_int_equal(rz_outbox_range_empty(f->s, 1, 5), 0);

    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_outbox_del(&t, 2, 1), 0);
    assert_int_equal(rz_outbox_del(&t, 2, 1), RZ_ENOTFOUND);
    assert_int_equal(rz_outbox_del(&t, 1, 1), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);
    assert_int_equal(rz_outbox_range_empty(f->s, 1, 2), 1);
    assert_int_equal(rz_outbox_range_empty(f->s, 1, 3), 0);

    rz_acounts_t c;
    assert_int_equal(rz_astore_counts(f->s, &c), 0);
    assert_int_equal(c.read, 5);
    assert_int_equal(c.published, 2);
    assert_int_equal(c.depth, 3);
    assert_int_equal(c.quarantined, 0);
    assert_int_equal(c.read, c.published + c.quarantined + c.depth);

    /* an aborted transaction changes nothing, counters included */
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_outbox_del(&t, 3, 1), 0);
    s_put(&t, "x", 9, "k", "e");
    rz_atxn_abort(&t);
    s_reopen(f);
    assert_int_equal(rz_astore_counts(f->s, &c), 0);
    assert_int_equal(c.published, 2);
    assert_int_equal(c.depth, 3);
    assert_int_equal(c.read, 5);
}

static const uint8_t s_bytes[] = "2416;\"Kraków\";\0;\"zł\"";

static void s_qput(fx_t *f, const char *reason, uint64_t *id)
{
    rz_atxn_t t;
    rz_qrec_t q = {.time = 1700000000123456,
                   .line = 17,
                   .kind = RZ_QKIND_RECORD,
                   .module = "budget",
                   .origin = "/srv/drop/GUS_BDL.csv",
                   .name = "GUS_BDL.csv",
                   .key = "row 16",
                   .reason = reason,
                   .content_type = "",
                   .content_id = "ab12",
                   .bytes = s_bytes,
                   .len = sizeof s_bytes - 1};
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_quarantine_put(&t, &q, 0, id), 0);
    t.d_read++;
    assert_int_equal(rz_atxn_commit(&t), 0);
}

typedef struct qseen {
    uint64_t ids[16];
    char reasons[16][64];
    size_t n;
} qseen_t;

static int s_qcollect(const rz_qrec_t *r, void *user)
{
    qseen_t *s = user;
    s->ids[s->n] = r->id;
    snprintf(s->reasons[s->n], sizeof s->reasons[0], "%s", r->reason);
    s->n++;
    return 0;
}

static void test_quarantine_keeps_original_bytes_and_where(void **state)
{
    fx_t *f = *state;
    uint64_t a, b;
    s_qput(f, "column 'Wartosc': 'abc' is not a number", &a);
    s_qput(f, "unknown tenant '9999999'", &b);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    s_reopen(f);
    int rc;
    rz_qrec_t *r = rz_quarantine_get(f->s, 1, &rc);
    assert_non_null(r);
    assert_int_equal(r->id, 1);
    assert_int_equal(r->time, 1700000000123456);
    assert_int_equal(r->line, 17);
    assert_int_equal(r->kind, RZ_QKIND_RECORD);
    assert_string_equal(r->module, "budget");
    assert_string_equal(r->origin, "/srv/drop/GUS_BDL.csv");
    assert_string_equal(r->name, "GUS_BDL.csv");
    assert_string_equal(r->key, "row 16");
    assert_string_equal(r->reason, "column 'Wartosc': 'abc' is not a number");
    assert_string_equal(r->content_type, "");
    assert_string_equal(r->content_id, "ab12");
    /* bytes as they were: the NUL and the UTF-8 of "Kraków" intact */
    assert_int_equal(r->len, sizeof s_bytes - 1);
    assert_memory_equal(r->bytes, s_bytes, r->len);
    free(r);
    assert_null(rz_quarantine_get(f->s, 3, &rc));
    assert_int_equal(rc, RZ_ENOTFOUND);

    qseen_t s = {0};
    assert_int_equal(rz_quarantine_list(f->s, 0, 0, s_qcollect, &s), 2);
    assert_int_equal(s.ids[1], 2);
    assert_string_equal(s.reasons[1], "unknown tenant '9999999'");
    memset(&s, 0, sizeof s);
    assert_int_equal(rz_quarantine_list(f->s, 1, 0, s_qcollect, &s), 1);
    assert_int_equal(s.ids[0], 2);
}

static void test_quarantine_replace_and_delete(void **state)
{
    fx_t *f = *state;
    uint64_t a;
    s_qput(f, "first reason", &a);
    rz_atxn_t t;
    rz_qrec_t q = {.id = a, .module = "budget", .origin = "o", .name = "n",
                   .key = "row 1", .reason = "second reason",
                   .content_type = "text/csv", .content_id = "ab12",
                   .bytes = (const uint8_t *)"x", .len = 1};
    uint64_t got = 0;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_quarantine_put(&t, &q, 1, &got), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);
    assert_int_equal(got, a);
    int rc;
    rz_qrec_t *r = rz_quarantine_get(f->s, a, &rc);
    assert_non_null(r);
    assert_string_equal(r->reason, "second reason");
    assert_string_equal(r->content_type, "text/csv");
    free(r);
    rz_acounts_t c;
    rz_astore_counts(f->s, &c);
    assert_int_equal(c.quarantined, 1);
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_quarantine_del(&t, a), 0);
    assert_int_equal(rz_quarantine_del(&t, a), RZ_ENOTFOUND);
    assert_int_equal(rz_atxn_commit(&t), 0);
    rz_astore_counts(f->s, &c);
    assert_int_equal(c.quarantined, 0);
    /* ids are not reused */
    uint64_t b;
    s_qput(f, "third", &b);
    assert_int_equal(b, a + 1);
}

static int s_state_cb(const char *key, const void *val, size_t len,
                      void *user)
{
    char *out = user;
    strcat(out, key);
    strncat(out, val, len);
    strcat(out, ";");
    return 0;
}

static void test_state_put_get_scan(void **state)
{
    fx_t *f = *state;
    rz_atxn_t t;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_state_put(&t, "tail:/var/log/b.log", "B", 1), 0);
    assert_int_equal(rz_state_put(&t, "tail:/var/log/a.log", "A", 1), 0);
    assert_int_equal(rz_state_put(&t, "file:/srv/x", "X", 1), 0);
    char buf[8];
    /* visible inside the transaction before it commits */
    assert_int_equal(rz_state_get(f->s, &t, "file:/srv/x", buf, sizeof buf),
                     1);
    assert_int_equal(rz_state_get(f->s, NULL, "file:/srv/x", buf, sizeof buf),
                     RZ_ENOTFOUND);
    assert_int_equal(rz_atxn_commit(&t), 0);
    assert_int_equal(rz_state_get(f->s, NULL, "file:/srv/x", buf, sizeof buf),
                     1);
    assert_int_equal(buf[0], 'X');
    char all[256] = "";
    assert_int_equal(rz_state_scan(f->s, "tail:", s_state_cb, all), 2);
    assert_string_equal(all, "tail:/var/log/a.logA;tail:/var/log/b.logB;");
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_state_del(&t, "file:/srv/x"), 0);
    assert_int_equal(rz_state_del(&t, "file:/srv/x"), RZ_ENOTFOUND);
    assert_int_equal(rz_atxn_commit(&t), 0);
}

static void test_full_outbox_is_store_full_not_a_crash(void **state)
{
    char dir[256], err[256];
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    rz_astore_t *s;
    assert_int_equal(rz_astore_open(&s, dir, 1u << 20, err, sizeof err), 0);
    static char big[64 * 1024];
    memset(big, 'x', sizeof big - 1);
    int rc = 0, n = 0;
    while (rc == 0 && n < 100) {
        rz_atxn_t t;
        assert_int_equal(rz_atxn_begin(s, &t), 0);
        rz_orec_t r = {0, 0, 1, "o", 1, "k", 1, (const uint8_t *)big,
                       sizeof big - 1};
        rc = rz_outbox_put(&t, &r, NULL);
        if (rc == 0)
            rc = rz_atxn_commit(&t);
        else
            rz_atxn_abort(&t);
        n++;
    }
    assert_int_equal(rc, RZ_ESTOREFULL);
    assert_true(n > 1 && n < 20);
    rz_acounts_t c;
    assert_int_equal(rz_astore_counts(s, &c), 0);
    assert_int_equal(c.depth, (uint64_t)(n - 1));
    rz_astore_destroy(&s);
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_outbox_keeps_spool_order_across_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_delete_counts_published_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_quarantine_keeps_original_bytes_and_where, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_replace_and_delete,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_state_put_get_scan, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_full_outbox_is_store_full_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
