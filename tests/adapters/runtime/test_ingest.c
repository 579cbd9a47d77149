/* test_ingest.c - the ingest path in-process: a file import that resumes
 * after the last committed record, the runtime's own quarantine reasons
 * (TERYT, invalid event, too big), the source template, and a tailed
 * chunk the module cannot read at all */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ndjson.h"
#include "runtime.h"
#include "sources.h"

#define TERYT RZ_SOURCE_DIR "/tests/fixtures/teryt/TERC_2020-01-01.csv"

static const rz_adapter_module_t *const s_mods[] = {&rz_module_ndjson, NULL};

typedef struct fx {
    char dir[256];
    char file[300];
    rz_conf_option_t *opts;
    rz_rt_conf_t conf;
    rz_rt_t rt;
} fx_t;

static void s_set(fx_t *f, const char *k, const char *v)
{
    char err[256];
    assert_int_equal(rz_conf_set(f->opts, &f->conf, k, v, err, sizeof err),
                     0);
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_int_equal(rzt_tmpdir(f->dir, sizeof f->dir), 0);
    snprintf(f->file, sizeof f->file, "%s/in.ndjson", f->dir);
    f->opts = rz_rt_conf_options(s_mods);
    assert_int_equal(rz_conf_init(f->opts, &f->conf), 0);
    char data[300];
    snprintf(data, sizeof data, "%s/data", f->dir);
    s_set(f, "system", "ndjson");
    s_set(f, "data_dir", data);
    s_set(f, "teryt", TERYT);
    s_set(f, "commit_every", "7");
    s_set(f, "max_event", "2K");
    s_set(f, "source", "/{tenant}/{domain}/{system}-x");
    char err[256];
    assert_int_equal(
        rz_rt_conf_finish(&f->conf, s_mods, NULL, 1, err, sizeof err), 0);
    assert_int_equal(rz_rt_open(&f->rt, &f->conf, NULL, &rz_module_ndjson,
                                &f->conf.sections[0], 0, err, sizeof err),
                     0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_rt_close(&f->rt);
    rz_conf_close(f->opts, &f->conf);
    free(f->opts);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_gen(const char *path, int n, const char *tail)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < n; i++)
        fprintf(fp,
                "{\"id\":\"e-%d\",\"type\":\"pl.gov.gmina.budget.test.v1\","
                "\"tenant\":\"1261011\"}\n",
                i);
    if (tail)
        fputs(tail, fp);
    fclose(fp);
}

typedef struct first {
    char id[64];
    char source[64];
    uint64_t seq;
    int n;
} first_t;

static int s_first(const rz_orec_t *r, void *user)
{
    first_t *f = user;
    if (f->n++ == 0) {
        Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, r->len,
                                                          r->event);
        assert_non_null(ev);
        snprintf(f->id, sizeof f->id, "%s", ev->id);
        snprintf(f->source, sizeof f->source, "%s", ev->source);
        f->seq = r->seq;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    return 0;
}

static void test_import_resumes_after_the_last_committed_record(void **state)
{
    fx_t *f = *state;
    s_gen(f->file, 100, NULL);
    /* what a run killed after committing 42 records left behind */
    uint8_t *data;
    size_t len;
    assert_int_equal(rz_read_file(f->file, &data, &len), 0);
    rz_file_state_t st = {0};
    rz_sha256_hex(data, len, st.content_id);
    free(data);
    st.records = 42;
    st.events = 42;
    st.first_seq = 1;
    st.last_seq = 42;
    rz_atxn_t t;
    char key[400];
    snprintf(key, sizeof key, "file:%s", f->file);
    assert_int_equal(rz_atxn_begin(f->rt.store, &t), 0);
    assert_int_equal(rz_state_put(&t, key, &st, sizeof st), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);

    int bad;
    char err[256];
    rz_file_state_t got;
    assert_int_equal(rz_file_import(&f->rt, f->file, 0, &got, &bad, err,
                                    sizeof err),
                     0);
    assert_int_equal(got.complete, 1);
    assert_int_equal(got.records, 100);
    assert_int_equal(got.events, 100);
    assert_int_equal(got.first_seq, 1); /* from the first run */
    first_t fr = {0};
    assert_int_equal(rz_outbox_scan(f->rt.store, 0, 0, s_first, &fr), 58);
    assert_string_equal(fr.id, "e-42");
    assert_string_equal(fr.source, "/1261011/budget/ndjson-x");
    assert_int_equal(got.last_seq, fr.seq + 57);
    rz_acounts_t c;
    rz_astore_counts(f->rt.store, &c);
    assert_int_equal(c.read, 58); /* the first 42 were counted before */
    assert_int_equal(c.depth, 58);

    /* complete: importing it again reads nothing */
    assert_int_equal(rz_file_import(&f->rt, f->file, 0, &got, &bad, err,
                                    sizeof err),
                     0);
    rz_astore_counts(f->rt.store, &c);
    assert_int_equal(c.read, 58);
    assert_int_equal(rz_file_forget(&f->rt, f->file, 1, 0), 0);
    rz_astore_counts(f->rt.store, &c);
    assert_int_equal(c.files_done, 1);
}

typedef struct reasons {
    char v[8][200];
    uint64_t lines[8];
    int n;
} reasons_t;

static int s_reason(const rz_qrec_t *r, void *user)
{
    reasons_t *s = user;
    snprintf(s->v[s->n], sizeof s->v[0], "%s", r->reason);
    s->lines[s->n++] = r->line;
    return 0;
}

static void test_runtime_quarantines_what_it_cannot_take(void **state)
{
    fx_t *f = *state;
    char big[3997]; /* 3996 base64 characters: 2997 bytes */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char tail[6000];
    snprintf(tail, sizeof tail,
             "{\"id\":\"t-1\",\"type\":\"pl.gov.gmina.budget.test.v1\","
             "\"tenant\":\"12\"}\n"
             "{\"id\":\"t-2\",\"type\":\"pl.gov.gmina.budget.test.v1\","
             "\"tenant\":\"1261099\"}\n"
             "{\"id\":\"t-3\",\"type\":\"pl.gov.gmina.budget.test.v1\","
             "\"tenant\":\"1261011\",\"subject\":\"%s\"}\n"
             "{\"id\":\"t-4\",\"type\":\"pl.gov.gmina.budget.test.v1\","
             "\"tenant\":\"1261011\",\"datacontenttype\":\"application/"
             "octet-stream\",\"data_base64\":\"%s\"}\n"
             "{\"id\":\"t-5\",\"type\":\"pl.gov.gmina.budget.test.v1\","
             "\"tenant\":\"1261011\",\"data_base64\":\"eHl6\"}\n",
             "s", big);
    s_gen(f->file, 2, tail);
    int bad;
    char err[256];
    rz_file_state_t got;
    assert_int_equal(rz_file_import(&f->rt, f->file, 0, &got, &bad, err,
                                    sizeof err),
                     0);
    assert_int_equal(got.records, 7);
    assert_int_equal(got.events, 4);
    assert_int_equal(got.quarantined, 3);
    reasons_t r = {0};
    assert_int_equal(rz_quarantine_list(f->rt.store, 0, 0, s_reason, &r), 3);
    assert_int_equal(r.lines[0], 4);
    assert_string_equal(r.v[0], "unknown tenant '1261099' (not in the TERYT "
                                "TERC register)");
    assert_int_equal(r.lines[1], 6);
    assert_non_null(strstr(r.v[1], "larger than max_event (2048)"));
    assert_int_equal(r.lines[2], 7);
    assert_string_equal(r.v[2], "invalid event: raw data without a "
                                "content_type");
    rz_acounts_t c;
    rz_astore_counts(f->rt.store, &c);
    assert_int_equal(c.read, 7);
    assert_int_equal(c.read, c.published + c.quarantined + c.depth);
}

static int s_tail_progress(rz_atxn_t *t, uint64_t records,
                           const rz_ingest_result_t *r, int final, void *user)
{
    return rz_state_put(t, "tail:test", "7", 1);
}

static void test_unreadable_chunk_is_kept_as_one_record(void **state)
{
    fx_t *f = *state;
    const char chunk[] = "{\"a\":1}\n\0\0\n";
    rz_input_t in = {"/var/log/x.log", "x.log", (const uint8_t *)chunk,
                     sizeof chunk - 1, NULL, "abcd", 1, 31, 0};
    rz_ingest_opts_t o = {.progress = s_tail_progress};
    rz_ingest_result_t r;
    char err[256];
    assert_true(rz_ingest(&f->rt, &in, &o, &r, err, sizeof err) < 0);
    assert_false(r.store_failed);
    /* nothing of it was kept, the offset did not move */
    char v[4];
    assert_int_equal(rz_state_get(f->rt.store, NULL, "tail:test", v, 4),
                     RZ_ENOTFOUND);
    char reason[256];
    snprintf(reason, sizeof reason, "%s", err);
    assert_int_equal(rz_ingest_reject(&f->rt, &in, reason, &o, &r, err,
                                      sizeof err),
                     0);
    assert_int_equal(r.records, 1);
    assert_int_equal(r.quarantined, 1);
    assert_int_equal(rz_state_get(f->rt.store, NULL, "tail:test", v, 4), 1);
    int rc;
    rz_qrec_t *q = rz_quarantine_get(f->rt.store, 1, &rc);
    assert_non_null(q);
    assert_int_equal(q->line, 31);
    assert_string_equal(q->key, "input");
    /* the record is the whole chunk: kept once, as the input */
    assert_true(q->whole);
    assert_int_equal(q->len, 0);
    rz_kept_t *k = rz_kept_get(f->rt.store, q->input, &rc);
    assert_non_null(k);
    assert_int_equal(k->len, sizeof chunk - 1);
    assert_memory_equal(k->data, chunk, k->len);
    assert_int_equal(k->first_line, 31);
    assert_string_equal(k->content_id, "abcd");
    free(k);
    assert_string_equal(q->reason, "binary data (a NUL byte at offset 8): "
                                   "not NDJSON");
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_import_resumes_after_the_last_committed_record, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_runtime_quarantines_what_it_cannot_take, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_unreadable_chunk_is_kept_as_one_record, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
