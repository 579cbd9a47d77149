/* test_redact.c - personal fields out of events: pseudonyms, what stays,
 * the broker's stamp, bad bytes, and the key file */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ratusz/errors.h"
#include "ratusz/ratusz.h"
#include "redact.h"

#define PESEL "44051401359"
#define NAME "Jan Kowalski"
#define ADDRESS "ul. Długa 5, 00-001 Warszawa"
#define ACCOUNT "ACC-0001-77"
#define NIP "5261040828"
#define REGON "000331501"
#define ORG_NAME "Spółdzielnia Mieszkaniowa Zorza"

typedef struct fx {
    rz_redact_key_t key, other;
    rz_arena_t a;
} fx_t;

/* ------------------------------------------------------------------------
 * Helpers
 */

static void s_key(rz_redact_key_t *k, uint8_t fill)
{
    memset(k, 0, sizeof *k);
    memset(k->key, fill, sizeof k->key);
    snprintf(k->id, sizeof k->id, "%016x", fill);
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    s_key(&f->key, 0x11);
    s_key(&f->other, 0x22);
    rz_arena_init(&f->a);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_arena_close(&f->a);
    free(f);
    return 0;
}

/* A tax event's encoding (malloc'd) for a party of kind, with the broker's
 * stamp appended as the broker stores it. */
static uint8_t *s_tax_event(Ratusz__V1__Party__Kind kind, const char *pesel,
                            const char *name, const char *address, size_t *len)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party party = RATUSZ__V1__PARTY__INIT;
    Ratusz__V1__TaxObject obj = RATUSZ__V1__TAX_OBJECT__INIT;
    Ratusz__V1__TaxObject *objs[] = {&obj};
    ev.id = "DN-1/2024/000017/221101_1.0001.161/8";
    ev.source = "/2211011/tax/dn1";
    ev.type = "pl.gov.gmina.tax.declaration.v1";
    ev.subject = "parcel:221101_1.0001.161/8";
    ev.tenant = "2211011";
    ev.time = 1717000000000000;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &tax;
    tax.document_id = "DN-1/2024/000017";
    tax.form = "DN-1";
    tax.tax_year = 2024;
    tax.taxpayer = &party;
    tax.account = ACCOUNT;
    tax.total_grosze = 123456;
    tax.n_objects = 1;
    tax.objects = objs;
    obj.kind = "grunt";
    obj.parcel_id = "221101_1.0001.161/8";
    party.kind = kind;
    party.pesel = (char *)pesel;
    party.name = (char *)name;
    party.address = (char *)address;
    if (kind == RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION) {
        party.nip = NIP;
        party.regon = REGON;
    }
    /* the stamp, as a separate message appended to the producer's bytes */
    Ratusz__V1__Event stamp = RATUSZ__V1__EVENT__INIT;
    stamp.seq = 4242;
    stamp.ingest_time = 1717000000123456;
    stamp.principal = "adapter-tax";
    size_t n1 = ratusz__v1__event__get_packed_size(&ev);
    size_t n2 = ratusz__v1__event__get_packed_size(&stamp);
    uint8_t *b = malloc(n1 + n2);
    assert_non_null(b);
    ratusz__v1__event__pack(&ev, b);
    ratusz__v1__event__pack(&stamp, b + n1);
    *len = n1 + n2;
    return b;
}

static int s_contains(const uint8_t *b, size_t n, const char *s)
{
    return memmem(b, n, s, strlen(s)) != NULL;
}

static Ratusz__V1__Event *s_decode(const uint8_t *b, size_t n)
{
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(NULL, n, b);
    assert_non_null(e);
    return e;
}

/* Redact and decode a PERSON event's result; caller frees. */
static Ratusz__V1__Event *s_redact_person(fx_t *f, const rz_redact_key_t *k,
                                          const char *pesel)
{
    size_t len, out_len;
    const uint8_t *out;
    uint8_t *b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_PERSON, pesel, NAME,
                             ADDRESS, &len);
    assert_int_equal(rz_redact_event(k, b, len, &f->a, &out, &out_len), 1);
    Ratusz__V1__Event *e = s_decode(out, out_len);
    free(b);
    return e;
}

/* ------------------------------------------------------------------------
 * Redaction
 */

static void test_redact_person_leaves_no_personal_bytes(void **state)
{
    fx_t *f = *state;
    size_t len, out_len;
    const uint8_t *out = NULL;
    uint8_t *b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_PERSON, PESEL, NAME,
                             ADDRESS, &len);
    assert_int_equal(rz_redact_needed(b, len), 1);
    assert_int_equal(rz_redact_event(&f->key, b, len, &f->a, &out, &out_len),
                     1);
    assert_false(s_contains(out, out_len, PESEL));
    assert_false(s_contains(out, out_len, NAME));
    assert_false(s_contains(out, out_len, ADDRESS));
    assert_false(s_contains(out, out_len, ACCOUNT));
    /* what is not personal is still there */
    assert_true(s_contains(out, out_len, "221101_1.0001.161/8"));
    assert_true(s_contains(out, out_len, "DN-1/2024/000017"));

    Ratusz__V1__Event *e = s_decode(out, out_len);
    assert_int_equal(e->data_case, RATUSZ__V1__EVENT__DATA_TAX);
    char want[28];
    rz_redact_pseudonym(&f->key, PESEL, strlen(PESEL), want);
    assert_string_equal(e->tax->taxpayer->pesel, want);
    assert_int_equal(strlen(e->tax->taxpayer->name), 27);
    assert_int_equal(e->tax->taxpayer->name[0], '~');
    assert_string_equal(e->tax->taxpayer->nip, ""); /* empty stays empty */
    assert_string_equal(e->tax->form, "DN-1");
    assert_int_equal(e->tax->total_grosze, 123456);
    assert_string_equal(e->redaction, "hmac-sha256:0000000000000011");
    ratusz__v1__event__free_unpacked(e, NULL);
    free(b);
}

static void test_redact_unspecified_kind_is_redacted(void **state)
{
    fx_t *f = *state;
    size_t len, out_len;
    const uint8_t *out;
    uint8_t *b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_UNSPECIFIED, PESEL,
                             NAME, ADDRESS, &len);
    assert_int_equal(rz_redact_event(&f->key, b, len, &f->a, &out, &out_len),
                     1);
    assert_false(s_contains(out, out_len, PESEL));
    assert_false(s_contains(out, out_len, NAME));
    free(b);
}

static void test_redact_same_pesel_same_pseudonym(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event *e1 = s_redact_person(f, &f->key, PESEL);
    Ratusz__V1__Event *e2 = s_redact_person(f, &f->key, PESEL);
    Ratusz__V1__Event *e3 = s_redact_person(f, &f->key, "02070803628");
    assert_string_equal(e1->tax->taxpayer->pesel, e2->tax->taxpayer->pesel);
    assert_string_not_equal(e1->tax->taxpayer->pesel, e3->tax->taxpayer->pesel);
    ratusz__v1__event__free_unpacked(e1, NULL);
    ratusz__v1__event__free_unpacked(e2, NULL);
    ratusz__v1__event__free_unpacked(e3, NULL);
}

static void test_redact_other_key_other_pseudonym(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event *e1 = s_redact_person(f, &f->key, PESEL);
    Ratusz__V1__Event *e2 = s_redact_person(f, &f->other, PESEL);
    assert_string_not_equal(e1->tax->taxpayer->pesel, e2->tax->taxpayer->pesel);
    assert_string_equal(e2->redaction, "hmac-sha256:0000000000000022");
    ratusz__v1__event__free_unpacked(e1, NULL);
    ratusz__v1__event__free_unpacked(e2, NULL);
}

static void test_redact_pseudonym_form(void **state)
{
    fx_t *f = *state;
    char p[28], q[28];
    rz_redact_pseudonym(&f->key, PESEL, strlen(PESEL), p);
    rz_redact_pseudonym(&f->key, PESEL, strlen(PESEL), q);
    assert_string_equal(p, q);
    assert_int_equal(strlen(p), 27);
    assert_int_equal(p[0], '~');
    assert_int_equal(strspn(p + 1, "abcdefghijklmnopqrstuvwxyz234567"), 26);
}

static void test_redact_organisation_keeps_nip_regon_name(void **state)
{
    fx_t *f = *state;
    size_t len, out_len;
    const uint8_t *out;
    uint8_t *b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION, "",
                             ORG_NAME, ADDRESS, &len);
    /* the account is personal whatever the party */
    assert_int_equal(rz_redact_event(&f->key, b, len, &f->a, &out, &out_len),
                     1);
    assert_true(s_contains(out, out_len, NIP));
    assert_true(s_contains(out, out_len, REGON));
    assert_true(s_contains(out, out_len, ORG_NAME));
    assert_true(s_contains(out, out_len, ADDRESS));
    assert_false(s_contains(out, out_len, ACCOUNT));
    free(b);
}

static void test_redact_stamp_survives(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event *e = s_redact_person(f, &f->key, PESEL);
    assert_int_equal(e->seq, 4242);
    assert_int_equal(e->ingest_time, 1717000000123456);
    assert_string_equal(e->principal, "adapter-tax");
    assert_string_equal(e->id, "DN-1/2024/000017/221101_1.0001.161/8");
    assert_string_equal(e->subject, "parcel:221101_1.0001.161/8");
    assert_int_equal(e->time, 1717000000000000);
    ratusz__v1__event__free_unpacked(e, NULL);
}

/* An event without personal data comes back as the same bytes. */
static void s_assert_untouched(fx_t *f, const Ratusz__V1__Event *ev)
{
    size_t len = ratusz__v1__event__get_packed_size(ev), out_len = 0;
    uint8_t *b = malloc(len);
    const uint8_t *out = NULL;
    assert_non_null(b);
    ratusz__v1__event__pack(ev, b);
    assert_int_equal(rz_redact_needed(b, len), 0);
    assert_int_equal(rz_redact_event(&f->key, b, len, &f->a, &out, &out_len),
                     0);
    assert_ptr_equal(out, b);
    assert_int_equal(out_len, len);
    free(b);
}

static void test_redact_budget_env_gis_unchanged(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/besti", "b-1", "budget:600", 1, 100);
    be.unit = "Jan Kowalski"; /* not a personal field: stays */
    s_assert_untouched(f, &ev);

    Ratusz__V1__AirQualityMeasurement aq =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    aq.station_code = "PL0012A";
    aq.parameter = "PM10";
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &aq;
    s_assert_untouched(f, &ev);

    Ratusz__V1__GisFeature gf = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry g = RATUSZ__V1__GEOMETRY__INIT;
    gf.feature_id = "221101_1.0001.161/8";
    gf.kind = "parcel";
    gf.geometry = &g;
    g.crs = "EPSG:2180";
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    ev.gis = &gf;
    s_assert_untouched(f, &ev);
}

/* ------------------------------------------------------------------------
 * The values redaction replaces, as the pseudonym index sees them
 */

typedef struct vals {
    char v[8][64];
    int n;
} vals_t;

static int s_val(const char *value, size_t n, void *user)
{
    vals_t *v = user;
    assert_true(n > 0);
    if (v->n < 8)
        snprintf(v->v[v->n], sizeof v->v[0], "%.*s", (int)n, value);
    v->n++;
    return 0;
}

static int s_has(const vals_t *v, const char *s)
{
    for (int i = 0; i < v->n && i < 8; i++)
        if (strcmp(v->v[i], s) == 0)
            return 1;
    return 0;
}

static void test_redact_each_names_what_redaction_replaces(void **state)
{
    fx_t *f = *state;
    size_t len, out_len;
    const uint8_t *out;
    vals_t v = {0};
    uint8_t *b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_PERSON, PESEL, NAME,
                             ADDRESS, &len);
    assert_int_equal(rz_redact_each(b, len, &f->a, s_val, &v), 0);
    /* pesel, name, address, account; the empty nip and regon are not */
    assert_int_equal(v.n, 4);
    assert_true(s_has(&v, PESEL) && s_has(&v, NAME) && s_has(&v, ADDRESS) &&
                s_has(&v, ACCOUNT));
    /* each one's pseudonym is what redaction writes in its place */
    assert_int_equal(rz_redact_event(&f->key, b, len, &f->a, &out, &out_len),
                     1);
    for (int i = 0; i < v.n; i++) {
        char p[28];
        rz_redact_pseudonym(&f->key, v.v[i], strlen(v.v[i]), p);
        assert_true(s_contains(out, out_len, p));
    }
    free(b);

    /* an organisation keeps nip, regon, name and address: only the
     * account is personal */
    memset(&v, 0, sizeof v);
    b = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION, "", ORG_NAME,
                    ADDRESS, &len);
    assert_int_equal(rz_redact_each(b, len, &f->a, s_val, &v), 0);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.v[0], ACCOUNT);
    free(b);

    /* bytes that are not an Event: a decode error */
    assert_int_equal(
        rz_redact_each((const uint8_t *)"\xff\xff\xff", 3, &f->a, s_val, &v),
        RZ_EDECODE);
}

static void test_redact_pseudonym_raw_and_parse_agree(void **state)
{
    fx_t *f = *state;
    const char *values[] = {PESEL, NAME, ADDRESS, "x", "02270803628"};
    char why[160];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char p[28];
        uint8_t raw[RZ_PSEUDONYM_RAW], parsed[RZ_PSEUDONYM_RAW];
        rz_redact_pseudonym(&f->key, values[i], strlen(values[i]), p);
        rz_redact_pseudonym_raw(&f->key, values[i], strlen(values[i]), raw);
        assert_int_equal(rz_redact_pseudonym_parse(p, parsed, why, sizeof why),
                         0);
        assert_memory_equal(raw, parsed, sizeof raw);
        assert_int_equal(raw[16] & 0x3f, 0); /* only 130 bits */
    }
    /* the last letter's 5 bits: '7' is all ones */
    uint8_t r[RZ_PSEUDONYM_RAW];
    assert_int_equal(rz_redact_pseudonym_parse("~aaaaaaaaaaaaaaaaaaaaaaaaa7", r,
                                               why, sizeof why),
                     0);
    assert_int_equal(r[15], 0x07);
    assert_int_equal(r[16], 0xc0);
    static const char *bad[] = {"",
                                "~",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaa",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaa8",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaaA",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaa=",
                                "~aaaaaaaaaaaaaaaaaaaaaaaaa\xc5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(r, 0xee, sizeof r);
        assert_int_equal(rz_redact_pseudonym_parse(bad[i], r, why, sizeof why),
                         RZ_EINVAL);
        assert_non_null(strstr(why, "a pseudonym is '~' and 26 letters"));
    }
}

/* Protobuf keeps the last member of a oneof: a tax member followed by a
 * budget member is a budget event, and the reverse a tax one. */
static void test_redact_needed_last_oneof_member_wins(void **state)
{
    (void)state;
    size_t tlen;
    uint8_t *tax = s_tax_event(RATUSZ__V1__PARTY__KIND__KIND_PERSON, PESEL,
                               NAME, ADDRESS, &tlen);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/besti", "b-1", "budget:600", 1, 100);
    size_t blen = ratusz__v1__event__get_packed_size(&ev);
    uint8_t *both = malloc(tlen + blen);
    assert_non_null(both);
    memcpy(both, tax, tlen);
    ratusz__v1__event__pack(&ev, both + tlen);
    assert_int_equal(rz_redact_needed(both, tlen + blen), 0);
    ratusz__v1__event__pack(&ev, both);
    memcpy(both + blen, tax, tlen);
    assert_int_equal(rz_redact_needed(both, tlen + blen), 1);
    free(both);
    free(tax);
}

static void test_redact_garbage_is_a_decode_error(void **state)
{
    fx_t *f = *state;
    static const uint8_t junk[] = {0x6a, 0x50, 0x01, 0x02}; /* tax, cut off */
    static const uint8_t junk2[] = {0xff, 0xff, 0xff};
    const uint8_t *out = junk;
    size_t out_len = 1;
    assert_int_equal(rz_redact_needed(junk, sizeof junk), 1);
    assert_int_equal(
        rz_redact_event(&f->key, junk, sizeof junk, &f->a, &out, &out_len),
        RZ_EDECODE);
    assert_null(out);
    assert_int_equal(
        rz_redact_event(&f->key, junk2, sizeof junk2, &f->a, &out, &out_len),
        RZ_EDECODE);
}

/* The redacted copy in CloudEvents JSON: redaction is an extension
 * attribute like principal, and reads back. */
static void test_redact_json_has_redaction_attribute(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Event *e = s_redact_person(f, &f->key, PESEL);
    char *json = rz_event_to_json(e), err[256];
    assert_non_null(json);
    assert_non_null(
        strstr(json, "\"redaction\":\"hmac-sha256:0000000000000011\""));
    assert_null(strstr(json, PESEL));
    Ratusz__V1__Event *back = NULL;
    assert_int_equal(
        rz_event_from_json(json, strlen(json), &back, err, sizeof err), 0);
    assert_string_equal(back->redaction, e->redaction);
    assert_string_equal(back->principal, "adapter-tax");
    rz_event_free(back);
    free(json);
    ratusz__v1__event__free_unpacked(e, NULL);
}

/* ------------------------------------------------------------------------
 * Key file
 */

static void s_write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void test_redact_key_create_then_reload_same(void **state)
{
    (void)state;
    char dir[256], path[300], err[256];
    rz_redact_key_t k1, k2;
    struct stat st;
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/redact.key", dir);
    assert_int_equal(rz_redact_key_load(path, 0, &k1, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, path));
    assert_int_equal(rz_redact_key_load(path, 1, &k1, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(strlen(k1.id), 16);
    assert_int_equal(rz_redact_key_load(path, 1, &k2, err, sizeof err), 0);
    assert_memory_equal(k1.key, k2.key, sizeof k1.key);
    assert_string_equal(k1.id, k2.id);
    /* written beside it, then linked: nothing else is left */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid());
    assert_int_not_equal(stat(tmp, &st), 0);
    rzt_rmtree(dir);
}

static void test_redact_key_refuses_readable_file(void **state)
{
    (void)state;
    char dir[256], path[300], err[256];
    rz_redact_key_t k;
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/redact.key", dir);
    s_write(path,
            "00112233445566778899aabbccddeeff"
            "00112233445566778899aabbccddeeff\n",
            0644);
    assert_int_equal(rz_redact_key_load(path, 1, &k, err, sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(rz_redact_key_load(path, 0, &k, err, sizeof err), 0);
    assert_int_equal(k.key[1], 0x11);
    rzt_rmtree(dir);
}

static void test_redact_key_refuses_bad_hex(void **state)
{
    (void)state;
    char dir[256], path[300], err[256];
    rz_redact_key_t k;
    static const char *const bad[] = {
        "", "0011\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\n",
        "00112233445566778899aabbccddeeff 0112233445566778899aabbccddeeff\n"};
    assert_int_equal(rzt_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/redact.key", dir);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_write(path, bad[i], 0600);
        assert_int_equal(rz_redact_key_load(path, 1, &k, err, sizeof err),
                         RZ_ECONFIG);
        assert_non_null(strstr(err, "hex"));
    }
    rzt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_redact_person_leaves_no_personal_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_redact_unspecified_kind_is_redacted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_same_pesel_same_pseudonym,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_other_key_other_pseudonym,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_pseudonym_form, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_redact_organisation_keeps_nip_regon_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_stamp_survives, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_budget_env_gis_unchanged,
                                        s_setup, s_teardown),
        cmocka_unit_test(test_redact_needed_last_oneof_member_wins),
        cmocka_unit_test_setup_teardown(
            test_redact_each_names_what_redaction_replaces, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_redact_pseudonym_raw_and_parse_agree, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redact_garbage_is_a_decode_error,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_redact_json_has_redaction_attribute, s_setup, s_teardown),
        cmocka_unit_test(test_redact_key_create_then_reload_same),
        cmocka_unit_test(test_redact_key_refuses_readable_file),
        cmocka_unit_test(test_redact_key_refuses_bad_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
