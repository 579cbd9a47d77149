/* test_pseudonym.c - QUERY by pseudonym against the real broker and its
 * real LMDB store: the pseudonym index built behind the log, paged in seq
 * order under grants and redaction; resumed after a restart, rebuilt for
 * a new redaction key, and emptied of what retention removes.
 *
 *   operator  reads everything, no personal-data clearance, stats
 *   budget    reads 2261011.budget. only
 *   tax       publishes tax and budget sources, reads 2261011.tax., clearance
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "harness.h"

#define TENANT "2261011"
#define PESEL_A "44051401359"
#define NAME_A "Jan Kowalski-Nowak"
#define PESEL_B "02270803628"
#define NAME_B "Anna Zielińska"
#define YEAR_US (INT64_C(365) * 86400 * 1000000)

enum who { OPERATOR, BUDGET, TAX, NWHO };

/* What was published: the seqs of each taxpayer's events, in order. */
typedef struct fx {
    rzt_broker_t b;
    char keys[256], conf[300], principals[300];
    char srv_pub[41], srv_sec[41], pub[NWHO][41], sec[NWHO][41];
    uint64_t a[16], b_seqs[16], budget[8];
    size_t na, nb, nbudget;
    size_t na_old; /* the first na_old of a are three years old */
    int64_t now;
} fx_t;

static fx_t *F;

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The config: retention of the tax domain at 400 days, or none. */
static void s_write_conf(int retention)
{
    s_write(F->conf, retention ? "retention:\n"
                                 "  \"" TENANT ".tax.\": {max_age: 400d}\n"
                                 "retention_interval: 1s\n"
                                 "dedup_window: 0s\n"
                               : "# no retention\n");
}

static int s_setup(void **state)
{
    (void)state;
    F = calloc(1, sizeof *F);
    if (!F || rzt_tmpdir(F->keys, sizeof F->keys) < 0)
        return -1;
    rzt_keypair(F->srv_pub, F->srv_sec);
    for (int i = 0; i < NWHO; i++)
        rzt_keypair(F->pub[i], F->sec[i]);
    static char key[300];
    snprintf(key, sizeof key, "%s/ratuszd.key", F->keys);
    if (rzt_write_key(key, "ratuszd", F->srv_pub, F->srv_sec) < 0)
        return -1;
    snprintf(F->principals, sizeof F->principals, "%s/principals.yaml",
             F->keys);
    char text[2048];
    snprintf(text, sizeof text,
             "principals:\n"
             "  operator:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n"
             "    admin: [stats]\n"
             "  reader-budget:\n"
             "    key: \"%s\"\n"
             "    read: [\"" TENANT ".budget.\"]\n"
             "  adapter-tax:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/" TENANT "/tax/*\", \"/" TENANT
             "/budget/*\"]\n"
             "    publish_tenants: [\"" TENANT "\"]\n"
             "    read: [\"" TENANT ".tax.\"]\n"
             "    personal_data: true\n",
             F->pub[OPERATOR], F->pub[BUDGET], F->pub[TAX]);
    s_write(F->principals, text);
    snprintf(F->conf, sizeof F->conf, "%s/ratuszd.yaml", F->keys);
    s_write_conf(0);
    const char *extra[] = {"-c", F->conf,        "--server-key",
                           key,  "--principals", F->principals,
                           NULL};
    rzt_curve(F->pub[OPERATOR], F->sec[OPERATOR], F->srv_pub);
    F->now = rz_now_us();
    return rzt_broker_start(&F->b, extra);
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_broker_cleanup(&F->b);
    rzt_rmtree(F->keys);
    rzt_curve(NULL, NULL, NULL);
    free(F);
    return 0;
}

static rz_client_t *s_client(enum who w)
{
    rz_client_opts_t o = {0};
    o.window = 64;
    o.batch = 1;
    o.timeout_ms = 5000;
    o.curve_public = F->pub[w];
    o.curve_secret = F->sec[w];
    o.curve_server = F->srv_pub;
    rz_client_t *c = rz_client_new(F->b.front, &o);
    assert_non_null(c);
    return c;
}

/* ------------------------------------------------------------------------
 * Events
 */

static uint64_t s_tax(rz_client_t *c, const char *id, const char *parcel,
                      int year, const char *pesel, const char *name,
                      int64_t time)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party party = RATUSZ__V1__PARTY__INIT;
    char src[64];
    snprintf(src, sizeof src, "/" TENANT "/tax/podatki");
    ev.id = (char *)id;
    ev.source = src;
    ev.type = "pl.gov.gmina.tax.assessment.v1";
    ev.subject = (char *)parcel;
    ev.tenant = TENANT;
    ev.time = time;
    party.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    party.pesel = (char *)pesel;
    party.name = (char *)name;
    party.address = ""; /* empty: never indexed */
    tax.document_id = (char *)id;
    tax.form = "DN-1";
    tax.tax_year = year;
    tax.taxpayer = &party;
    tax.total_grosze = 1000 + year;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &tax;
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static uint64_t s_budget(rz_client_t *c, const char *id)
{
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/" TENANT "/budget/besti", id, "unit:1400000", F->now,
              5000);
    ev.tenant = TENANT;
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
    return seq;
}

static Ratusz__V1__Stats *s_stats(void)
{
    rz_client_t *c = s_client(OPERATOR);
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(c, &st), 0);
    rz_client_destroy(&c);
    return st;
}

/* Wait (bounded) until the index has looked at every event up to the
 * head; returns pseudonym_indexed_total then. */
static uint64_t s_wait_indexed(void)
{
    for (int i = 0; i < 400; i++) {
        Ratusz__V1__Stats *st = s_stats();
        uint64_t lag = st->pseudonym_index_lag;
        uint64_t n = st->pseudonym_indexed_total;
        ratusz__v1__stats__free_unpacked(st, NULL);
        if (lag == 0)
            return n;
        usleep(50000);
    }
    fail_msg("the pseudonym index did not reach the head in 20 s");
    return 0;
}

/* The taxpayer's pesel as an uncleared reader sees it (its pseudonym). */
typedef struct seen {
    char pesel[64];
} seen_t;

static int s_seen(const rz_event_t *e, void *user)
{
    seen_t *s = user;
    assert_int_equal(e->msg->data_case, RATUSZ__V1__EVENT__DATA_TAX);
    snprintf(s->pesel, sizeof s->pesel, "%s", e->msg->tax->taxpayer->pesel);
    return 0;
}

static void s_pseudonym_of(uint64_t seq, char out[64])
{
    rz_client_t *c = s_client(OPERATOR);
    seen_t s = {{0}};
    assert_int_equal(rz_get_seq(c, seq, s_seen, &s), 1);
    rz_client_destroy(&c);
    assert_int_equal(strlen(s.pesel), 27);
    assert_int_equal(s.pesel[0], '~');
    snprintf(out, 64, "%s", s.pesel);
}

/* Every event QUERY returns for a pseudonym, paged by limit. */
typedef struct found {
    uint64_t seq[64];
    size_t n;
    uint64_t withheld;
    int pages;
    int personal; /* a PESEL or name in the clear */
    char pseud[64];
    int other; /* a tax event whose pesel is not pseud */
} found_t;

static int s_found(const rz_event_t *e, void *user)
{
    found_t *f = user;
    if (f->n < 64)
        f->seq[f->n++] = e->msg->seq;
    if (memmem(e->raw, e->raw_len, PESEL_A, strlen(PESEL_A)) ||
        memmem(e->raw, e->raw_len, PESEL_B, strlen(PESEL_B)) ||
        memmem(e->raw, e->raw_len, NAME_A, strlen(NAME_A)))
        f->personal = 1;
    if (e->msg->data_case != RATUSZ__V1__EVENT__DATA_TAX ||
        strcmp(e->msg->tax->taxpayer->pesel, f->pseud) != 0)
        f->other = 1;
    return 0;
}

static void s_query(enum who w, const char *pseud, uint32_t limit, found_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->pseud, sizeof f->pseud, "%s", pseud);
    rz_client_t *c = s_client(w);
    rz_query_t q;
    memset(&q, 0, sizeof q);
    q.pseudonym = pseud;
    q.limit = limit;
    do {
        int rc = rz_query(c, &q, s_found, f);
        assert_true(rc >= 0);
        f->withheld += q.withheld;
        f->pages++;
    } while (q.after_len && f->pages < 100);
    rz_client_destroy(&c);
}

static void s_assert_seqs(const found_t *f, const uint64_t *want, size_t n)
{
    if (f->n != n)
        fail_msg("found %zu events, want %zu", f->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(f->seq[i], want[i]);
}

/* Entries in the store's "pseudonyms" database (the broker stopped). */
static size_t s_index_entries(void)
{
    return rzt_lmdb_entries(F->b.dir, "pseudonyms");
}

/* ------------------------------------------------------------------------
 * The story, in order: each step builds on the one before
 */

static void test_a_taxpayer_is_found_by_pseudonym(void **state)
{
    (void)state;
    rz_client_t *tax = s_client(TAX);
    const char *parcels[] = {"parcel:221101_1.0001.161/8",
                             "parcel:221101_1.0001.162/1",
                             "parcel:221101_1.0002.17"};
    char id[64];
    int64_t old = F->now - 3 * YEAR_US;
    /* A's two oldest first (retention takes them at the end), then A and
     * B across parcels and years, with budget events in between */
    for (int y = 0; y < 2; y++) {
        snprintf(id, sizeof id, "a-old-%d", y);
        F->a[F->na++] =
            s_tax(tax, id, parcels[y], 2021 + y, PESEL_A, NAME_A, old + y);
    }
    F->na_old = F->na;
    for (int p = 0; p < 3; p++) {
        for (int y = 2024; y <= 2025; y++) {
            snprintf(id, sizeof id, "a-%d-%d", p, y);
            F->a[F->na++] =
                s_tax(tax, id, parcels[p], y, PESEL_A, NAME_A, F->now + y);
            snprintf(id, sizeof id, "bud-%d-%d", p, y);
            if (y == 2024)
                F->budget[F->nbudget++] = s_budget(tax, id);
        }
        snprintf(id, sizeof id, "b-%d", p);
        F->b_seqs[F->nb++] =
            s_tax(tax, id, parcels[p], 2025, PESEL_B, NAME_B, F->now);
    }
    rz_client_destroy(&tax);
    assert_int_equal(s_wait_indexed(), F->na + F->nb); /* budget: none */
    /* the operator reads the same in `ratusz stats` */
    char key[400], cmd[1400], out[16384], want[96];
    snprintf(key, sizeof key, "%s/operator.key", F->keys);
    assert_int_equal(
        rzt_write_key(key, "operator", F->pub[OPERATOR], F->sec[OPERATOR]), 0);
    snprintf(cmd, sizeof cmd, "%s -e %s -k '%s' -K '%s' stats 2>&1",
             RZ_RATUSZ_CLI, F->b.front, key, F->srv_pub);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    snprintf(want, sizeof want,
             "pseudonym index  events with personal data %zu  lag 0\n",
             F->na + F->nb);
    if (!strstr(out, want))
        fail_msg("ratusz stats does not say '%s':\n%s", want, out);

    char pa[64], pb[64], pa2[64];
    s_pseudonym_of(F->a[3], pa);
    s_pseudonym_of(F->a[0], pa2);
    s_pseudonym_of(F->b_seqs[1], pb);
    assert_string_equal(pa, pa2); /* one taxpayer, one pseudonym */
    assert_string_not_equal(pa, pb);

    /* A's events, exactly, in seq order, three pages of 3 */
    found_t f;
    s_query(OPERATOR, pa, 3, &f);
    s_assert_seqs(&f, F->a, F->na);
    assert_int_equal(f.pages, 3);
    assert_false(f.personal); /* the uncleared reader: pseudonyms only */
    assert_false(f.other);
    /* B's: none of A's */
    s_query(OPERATOR, pb, 100, &f);
    s_assert_seqs(&f, F->b_seqs, F->nb);
    assert_false(f.other);
    /* the cleared publisher finds A by the same pseudonym, in the clear */
    s_query(TAX, pa, 100, &f);
    assert_int_equal(f.n, F->na);
    assert_true(f.personal);
    /* a reader without the tax domain: nothing, each one counted */
    s_query(BUDGET, pa, 100, &f);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.withheld, F->na);
    /* a pseudonym of nobody */
    s_query(OPERATOR, "~aaaaaaaaaaaaaaaaaaaaaaaaaa", 100, &f);
    assert_int_equal(f.n, 0);
}

static void test_malformed_pseudonyms_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *p, *why;
    } bad[] = {
        {"~abc", "got 4 characters"},
        {"~abcdefghijklmnopqrstuvwxyza", "got 28 characters"},
        {"xabcdefghijklmnopqrstuvwxyz", "not starting with '~'"},
        {"~abcdefghijklmnopqrstuvwxy1", "character 27"},
        {"~Abcdefghijklmnopqrstuvwxyz", "character 2"},
        {"~abcdefghijklm opqrstuvwxyz", "character 15"},
    };
    rz_client_t *c = s_client(OPERATOR);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rz_query_t q;
        memset(&q, 0, sizeof q);
        q.pseudonym = bad[i].p;
        assert_int_equal(rz_query(c, &q, NULL, NULL), RZ_EBADREQ);
        const char *e = rz_client_last_error(c);
        if (!strstr(e, "pseudonym") || !strstr(e, bad[i].why))
            fail_msg("'%s': error '%s' does not say '%s'", bad[i].p, e,
                     bad[i].why);
    }
    /* not with a subject or a topic */
    rz_query_t q;
    memset(&q, 0, sizeof q);
    q.pseudonym = "~aaaaaaaaaaaaaaaaaaaaaaaaaa";
    q.subject = "parcel:221101_1.0001.161/8";
    assert_int_equal(rz_query(c, &q, NULL, NULL), RZ_EBADREQ);
    assert_non_null(strstr(rz_client_last_error(c), "pseudonym alone"));
    q.subject = NULL;
    q.topic_prefix = TENANT ".tax.";
    assert_int_equal(rz_query(c, &q, NULL, NULL), RZ_EBADREQ);
    rz_client_destroy(&c);
    /* the CLI refuses the combination before it connects */
    char cmd[512], out[1024];
    snprintf(cmd, sizeof cmd,
             "%s query --pseudonym '~aaaaaaaaaaaaaaaaaaaaaaaaaa' "
             "--subject parcel:1 2>&1",
             RZ_RATUSZ_CLI);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--pseudonym alone"));
}

static void test_restart_resumes_without_reindexing(void **state)
{
    (void)state;
    char pa[64];
    s_pseudonym_of(F->a[0], pa);
    assert_int_equal(rzt_broker_stop(&F->b), 0);
    size_t entries = s_index_entries();
    /* pesel and name of each tax event (the empty address is not kept) */
    assert_int_equal(entries, 2 * (F->na + F->nb));
    assert_int_equal(rzt_broker_restart(&F->b), 0);
    /* nothing indexed again: the mark survived */
    assert_int_equal(s_wait_indexed(), 0);
    rz_client_t *tax = s_client(TAX);
    F->a[F->na++] = s_tax(tax, "a-after-restart", "parcel:221101_1.0002.17",
                          2026, PESEL_A, NAME_A, F->now);
    rz_client_destroy(&tax);
    assert_int_equal(s_wait_indexed(), 1);
    found_t f;
    s_query(OPERATOR, pa, 100, &f);
    s_assert_seqs(&f, F->a, F->na); /* no duplicates, the new one last */

    /* a crash after events without personal data (whose batches store no
     * mark): they are looked at again, and nothing is indexed twice */
    tax = s_client(TAX);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "bud-crash-%d", i);
        F->budget[F->nbudget++ % 8] = s_budget(tax, id);
    }
    rz_client_destroy(&tax);
    assert_int_equal(s_wait_indexed(), 1); /* since start: a-after-restart */
    rzt_broker_kill(&F->b);
    assert_int_equal(rzt_broker_restart(&F->b), 0);
    assert_int_equal(s_wait_indexed(), 0);
    s_query(OPERATOR, pa, 100, &f);
    s_assert_seqs(&f, F->a, F->na);
}

static void test_new_key_rebuilds_the_index(void **state)
{
    (void)state;
    char old[64], now[64], path[400];
    s_pseudonym_of(F->a[0], old);
    assert_int_equal(rzt_broker_stop(&F->b), 0);
    snprintf(path, sizeof path, "%s/redaction.key", F->b.dir);
    assert_int_equal(unlink(path), 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    const char *key =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    assert_int_equal(write(fd, key, strlen(key)), (ssize_t)strlen(key));
    close(fd);
    assert_int_equal(rzt_broker_restart(&F->b), 0);
    /* every tax event indexed again, for the new key */
    assert_int_equal(s_wait_indexed(), F->na + F->nb);
    char log[1 << 16];
    FILE *l = fopen(F->b.log, "r");
    assert_non_null(l);
    size_t n = fread(log, 1, sizeof log - 1, l);
    fclose(l);
    log[n] = '\0';
    assert_non_null(strstr(log, "made with another redaction key"));

    s_pseudonym_of(F->a[0], now);
    assert_string_not_equal(old, now);
    found_t f;
    s_query(OPERATOR, old, 100, &f);
    assert_int_equal(f.n, 0);
    s_query(OPERATOR, now, 4, &f);
    s_assert_seqs(&f, F->a, F->na);
    assert_int_equal(rzt_broker_stop(&F->b), 0);
    assert_int_equal(s_index_entries(), 2 * (F->na + F->nb));
    assert_int_equal(rzt_broker_restart(&F->b), 0);
}

static void test_retention_takes_the_entries_with_the_events(void **state)
{
    (void)state;
    char pa[64];
    s_pseudonym_of(F->a[F->na - 1], pa);
    assert_int_equal(rzt_broker_stop(&F->b), 0);
    s_write_conf(1);
    assert_int_equal(rzt_broker_restart(&F->b), 0);
    /* wait (bounded) until retention removed A's two old events */
    rz_client_t *c = s_client(OPERATOR);
    int gone = 0;
    for (int i = 0; i < 400 && gone < (int)F->na_old; i++) {
        gone = 0;
        for (size_t k = 0; k < F->na_old; k++)
            gone += rz_get_seq(c, F->a[k], NULL, NULL) == RZ_ENOTFOUND;
        if (gone < (int)F->na_old)
            usleep(50000);
    }
    rz_client_destroy(&c);
    assert_int_equal(gone, F->na_old);
    found_t f;
    s_query(OPERATOR, pa, 100, &f);
    s_assert_seqs(&f, F->a + F->na_old, F->na - F->na_old);
    /* and the index holds no entry of theirs */
    assert_int_equal(rzt_broker_stop(&F->b), 0);
    assert_int_equal(s_index_entries(), 2 * (F->na - F->na_old + F->nb));
    assert_int_equal(rzt_broker_restart(&F->b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_taxpayer_is_found_by_pseudonym),
        cmocka_unit_test(test_malformed_pseudonyms_are_refused),
        cmocka_unit_test(test_restart_resumes_without_reindexing),
        cmocka_unit_test(test_new_key_rebuilds_the_index),
        cmocka_unit_test(test_retention_takes_the_entries_with_the_events),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
