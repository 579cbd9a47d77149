/* test_qclass.c - quarantine reasons by class: the class of the reasons
 * the modules give (the real data's and the call sites'), and the counts
 * per class on real LMDB files as records are put, replaced and deleted */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ratusz/core/text.h"
#include "store.h"

/* reason -> class. From ../shared/data/real, deploy/sample and the
 * fixtures (dry runs of the four modules), and the call sites of the
 * modules and the runtime. */
static const struct {
    const char *reason, *cls;
} s_pairs[] = {
    /* environment (GIOŚ) */
    {"lat: 91.2 is not a WGS84 latitude", "lat: … is not a WGS84 latitude"},
    {"lat: -3 is not a WGS84 latitude", "lat: … is not a WGS84 latitude"},
    {"lat: null is not a WGS84 latitude", "lat: … is not a WGS84 latitude"},
    {"lon: 200 is not a WGS84 longitude", "lon: … is not a WGS84 longitude"},
    {"gegrLat: '51.1x' is not a WGS84 latitude",
     "gegrLat: '…' is not a WGS84 latitude"},
    {"value: \"abc\" is not a number", "value: \"…\" is not a number"},
    {"station: sensor 17800 is in no sensor list read so far and there is "
     "no 'station_id' option",
     "station: sensor … is in no sensor list read so far and there is no "
     "'…' option"},
    {"not a GIOŚ station, sensor, measurement or index record (keys: foo, "
     "bar)",
     "not a GIOŚ station, sensor, measurement or index record (keys: …)"},
    {"byte 0xff at offset 1234 is neither UTF-8 nor Windows-1250",
     "byte … at offset … is neither UTF-8 nor Windows-1250"},
    {"stray ',' where a record should start",
     "stray '…' where a record should start"},
    {"truncated: the input ends inside this record",
     "truncated: the input ends inside this record"},
    /* budget (GUS BDL, real data) */
    {"column 'Kod': '010000000000' is a statistical region (NUTS "
     "makroregion, region or podregion), not a unit with a TERC code",
     "column 'Kod': '…' is a statistical region (NUTS makroregion, region "
     "or podregion), not a unit with a TERC code"},
    {"column 'Kod': '000000000000' is POLSKA, the whole country: no "
     "municipality's tenant",
     "column 'Kod': '…' is POLSKA, the whole country: no municipality's "
     "tenant"},
    {"column 'Atrybut': '#' (withheld for statistical confidentiality): no "
     "figure for unit 071412865011 in 2023",
     "column 'Atrybut': '…' (withheld for statistical confidentiality): no "
     "figure for unit … in …"},
    /* tax (sample and fixtures) */
    {"PESEL (columns 38-48): '90123100001': checksum digit is 1, expected 0",
     "PESEL (columns …): '…': checksum digit is …, expected …"},
    {"kwota podatku (columns 189-200): '00000001641O' is not a number",
     "kwota podatku (columns …): '…' is not a number"},
    {"record is 212 characters long, expected 220 (the layout ends with "
     "data decyzji, columns 213-220)",
     "record is … characters long, expected … (the layout ends with data "
     "decyzji, columns …)"},
    {"Podmiot1/OsobaFizyczna/PESEL: '66060600012': checksum digit is 2, "
     "expected 1",
     "Podmiot1/OsobaFizyczna/PESEL: '…': checksum digit is …, expected …"},
    /* gis */
    {"line 3: unexpected character near 'x'",
     "line …: unexpected character near '…'"},
    {"type 'Polygon2' is not Feature", "type '…' is not Feature"},
    {"no geometry (null)", "no geometry (null)"},
    /* the runtime's own */
    {"unknown tenant '1261011' (not in the TERYT TERC register)",
     "unknown tenant '…' (not in the TERYT TERC register)"},
    {"tenant '1261049' is 'Kraków-Nowa Huta' (delegatura), a part of a "
     "gmina: use the gmina's code",
     "tenant '…' is '…' (delegatura), a part of a gmina: use the gmina's "
     "code"},
    {"invalid event: id 'a b' has control characters",
     "invalid event: id '…' has control characters"},
    {"event of 300000 bytes is larger than max_event (262144)",
     "event of … bytes is larger than max_event (…)"},
    /* ndjson */
    {"not JSON: lexical error: invalid char in json text, at byte 2",
     "not JSON: lexical error: invalid char in json text, at byte …"},
    {"not a CloudEvent: time: not RFC 3339: 'yesterday'",
     "not a CloudEvent: time: not RFC 3339: '…'"},
    {"not a CloudEvent: specversion: unsupported '0.3' (expected '1.0')",
     "not a CloudEvent: specversion: unsupported '…' (expected '…')"},
    {"", ""},
};

static void test_classes_of_real_reasons(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_pairs / sizeof s_pairs[0]; i++) {
        char c[RZ_QCLASS_LEN];
        rz_qclass(s_pairs[i].reason, c, sizeof c);
        if (strcmp(c, s_pairs[i].cls))
            fail_msg("%s\n  gave %s\n  want %s", s_pairs[i].reason, c,
                     s_pairs[i].cls);
    }
    /* lat counts together, lon does not */
    char a[RZ_QCLASS_LEN], b[RZ_QCLASS_LEN];
    rz_qclass("lat: 91.2 is not a WGS84 latitude", a, sizeof a);
    rz_qclass("lon: 91.2 is not a WGS84 longitude", b, sizeof b);
    assert_string_not_equal(a, b);
}

static void test_class_is_cut_as_utf8(void **state)
{
    (void)state;
    char reason[600], c[40];
    memset(reason, 0, sizeof reason);
    for (size_t i = 0; i + 2 < 500; i += 2)
        memcpy(reason + i, "ó", 2); /* 2 bytes each */
    size_t n = rz_qclass(reason, c, sizeof c);
    assert_true(n < sizeof c);
    assert_int_equal(strlen(c), n);
    assert_true(rzc_utf8_valid((const uint8_t *)c, n));
    /* bytes that are not UTF-8 (a value cut by "%.60s") and controls */
    n = rz_qclass("id: 'Krak\xc3' is not\ta station\n\xff", c, sizeof c);
    assert_string_equal(c, "id: '…' is not a station ?");
    /* an odd cut: a 3-byte placeholder at the end */
    size_t m = rz_qclass("abcdefghijklmnopqrstuvwxyz0123456789 1", c, 38);
    assert_true(rzc_utf8_valid((const uint8_t *)c, m));
}

/* ===========================================================================
 * Counts on a real store
 */

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

static uint64_t s_qput(fx_t *f, const char *reason, int64_t time,
                       uint64_t replace)
{
    rz_atxn_t t;
    rz_qrec_t q = {.id = replace,
                   .time = time,
                   .line = 3,
                   .kind = RZ_QKIND_RECORD,
                   .module = "environment",
                   .origin = "/srv/drop/stations.json",
                   .name = "stations.json",
                   .key = "stations[2]",
                   .reason = reason,
                   .content_type = "",
                   .content_id = "",
                   .bytes = (const uint8_t *)"{}",
                   .len = 2};
    uint64_t id = 0;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_quarantine_put(&t, &q, replace != 0, &id), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);
    return id;
}

static void s_qdel(fx_t *f, uint64_t id)
{
    rz_atxn_t t;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_quarantine_del(&t, id), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);
}

static const rz_qclass_count_t *s_find(const rz_qclass_count_t *c, int n,
                                       const char *cls)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].cls, cls))
            return &c[i];
    return NULL;
}

static void test_counts_follow_put_replace_delete(void **state)
{
    fx_t *f = *state;
    uint64_t a1 = s_qput(f, "lat: 91.2 is not a WGS84 latitude", 100, 0);
    s_qput(f, "lat: -3 is not a WGS84 latitude", 200, 0);
    uint64_t b1 = s_qput(f, "lon: 200 is not a WGS84 longitude", 300, 0);
    s_qput(f, "lon: 999 is not a WGS84 longitude", 400, 0);
    s_qput(f, "lon: 181 is not a WGS84 longitude", 500, 0);

    rz_qclass_count_t c[RZ_QCLASS_MAX + 1];
    int n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_int_equal(n, 2);
    /* most records first */
    assert_string_equal(c[0].cls, "lon: … is not a WGS84 longitude");
    assert_int_equal(c[0].records, 3);
    assert_int_equal(c[0].total, 3);
    assert_int_equal(c[0].last, 500);
    assert_string_equal(c[0].example, "lon: 181 is not a WGS84 longitude");
    assert_string_equal(c[1].cls, "lat: … is not a WGS84 latitude");
    assert_int_equal(c[1].records, 2);

    /* a retry that fails again for the same class: the same count */
    s_qput(f, "lat: 95 is not a WGS84 latitude", 600, a1);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    const rz_qclass_count_t *lat =
        s_find(c, n, "lat: … is not a WGS84 latitude");
    assert_non_null(lat);
    assert_int_equal(lat->records, 2);
    assert_int_equal(lat->total, 2);
    assert_int_equal(lat->last, 600);
    assert_string_equal(lat->example, "lat: 95 is not a WGS84 latitude");

    /* ... and for another: it moves */
    s_qput(f,
           "tenant: unknown tenant '9999999' (not in the TERYT TERC "
           "register)",
           700, a1);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_int_equal(n, 3);
    assert_int_equal(s_find(c, n, "lat: … is not a WGS84 latitude")->records,
                     1);
    assert_int_equal(s_find(c, n,
                            "tenant: unknown tenant '…' (not in the TERYT TERC "
                            "register)")
                         ->records,
                     1);

    /* a record deleted (a retry that published it) leaves its class */
    s_qdel(f, b1);
    s_reopen(f);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    const rz_qclass_count_t *lon =
        s_find(c, n, "lon: … is not a WGS84 longitude");
    assert_int_equal(lon->records, 2);
    assert_int_equal(lon->total, 3); /* ever put */
    rz_acounts_t ac;
    assert_int_equal(rz_astore_counts(f->s, &ac), 0);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += c[i].records;
    assert_int_equal(sum, ac.quarantined);
    assert_int_equal(sum, 4);

    /* the example is kept as clean text too */
    s_qput(f, "id: 'x\xff' is not\na station id", 800, 0);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    const rz_qclass_count_t *id = s_find(c, n, "id: '…' is not a station id");
    assert_non_null(id);
    assert_string_equal(id->example, "id: 'x?' is not a station id");
}

static void test_classes_beyond_the_bound_are_other(void **state)
{
    fx_t *f = *state;
    char reason[64];
    uint64_t ids[RZ_QCLASS_MAX + 4];
    for (int i = 0; i < RZ_QCLASS_MAX + 4; i++) {
        snprintf(reason, sizeof reason, "field%c: missing", 'a' + i);
        ids[i] = s_qput(f, reason, 10 + i, 0);
    }
    rz_qclass_count_t c[RZ_QCLASS_MAX + 1];
    int n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_int_equal(n, RZ_QCLASS_MAX + 1);
    assert_true(c[n - 1].other);
    assert_string_equal(c[n - 1].cls, "other");
    assert_int_equal(c[n - 1].records, 4);
    assert_string_equal(c[n - 1].example, "field"
                                          "t: missing");

    /* emptying a class makes no room while "other" has records ... */
    s_qdel(f, ids[0]);
    uint64_t nid = s_qput(f, "brand new: class", 99, 0);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_null(s_find(c, n, "brand new: class"));
    assert_int_equal(c[n - 1].records, 5);
    /* ... and does once "other" is empty: the emptied class goes */
    for (int i = RZ_QCLASS_MAX; i < RZ_QCLASS_MAX + 4; i++)
        s_qdel(f, ids[i]);
    s_qdel(f, nid);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_int_equal(c[n - 1].records, 0);
    s_qput(f, "brand new: class", 100, 0);
    n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_non_null(s_find(c, n, "brand new: class"));
    assert_int_equal(s_find(c, n, "brand new: class")->records, 1);
    assert_null(s_find(c, n, "fielda: missing"));
    assert_int_equal(c[n - 1].records, 0); /* other */
}

/* A store whose quarantine was kept before classes were counted is
 * counted when opened. */
static void test_uncounted_store_is_counted_at_open(void **state)
{
    fx_t *f = *state;
    s_qput(f, "lat: 1000 is not a WGS84 latitude", 1, 0);
    s_qput(f, "lat: 2000 is not a WGS84 latitude", 2, 0);
    s_qput(f, "id: 'x' is not a station id", 3, 0);
    /* forget the counts, as an older store never had them */
    rz_atxn_t t;
    assert_int_equal(rz_atxn_begin(f->s, &t), 0);
    assert_int_equal(rz_state_del(&t, "qc"), 0);
    assert_int_equal(rz_state_del(&t, "qc:lat: … is not a WGS84 latitude"), 0);
    assert_int_equal(rz_state_del(&t, "qc:id: '…' is not a station id"), 0);
    assert_int_equal(rz_atxn_commit(&t), 0);
    rz_qclass_count_t c[RZ_QCLASS_MAX + 1];
    assert_int_equal(rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1), 0);
    s_reopen(f);
    int n = rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].cls, "lat: … is not a WGS84 latitude");
    assert_int_equal(c[0].records, 2);
    assert_string_equal(c[0].example, "lat: 2000 is not a WGS84 latitude");
    assert_int_equal(c[1].records, 1);
    /* and only once */
    s_reopen(f);
    assert_int_equal(rz_quarantine_classes(f->s, c, RZ_QCLASS_MAX + 1), 2);
    assert_int_equal(c[0].records, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_of_real_reasons),
        cmocka_unit_test(test_class_is_cut_as_utf8),
        cmocka_unit_test_setup_teardown(test_counts_follow_put_replace_delete,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_classes_beyond_the_bound_are_other,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_uncounted_store_is_counted_at_open,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
