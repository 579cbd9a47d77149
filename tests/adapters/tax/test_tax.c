/* test_tax.c - the tax module on its fixtures (tests/fixtures/tax/: DN-1
 * and IN-1 declarations, a batch of them, fixed-width assessment records)
 * and on variants made from them here (Windows-1250, BOM, CRLF, cut off
 * mid-record, a corrupted record in the middle), plus the checks under
 * the mapping: PESEL/NIP/REGON, parcel ids, exact amounts, dates in
 * Europe/Warsaw compared with the system's tz database.
 */

#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "tax.h"

#define FIX RZ_SOURCE_DIR "/tests/fixtures/tax/"
#define DN1 FIX "dn1_2024_hel_spolka.xml"
#define IN1 FIX "in1_2024_testowa_cp1250.xml"
#define BATCH FIX "deklaracje_2024_hel_paczka.xml"
#define FW FIX "decyzje_2024_hel.txt"
#define FW_BAD FIX "decyzje_2024_hel_bledy.txt"

static const char *const s_cid_a =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char *const s_cid_b =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/* 2024-01-15 00:00 CET = 2024-01-14T23:00:00Z, and so on */
#define US(s) ((int64_t)(s)*1000000)
#define T_2024_01_15 US(1705273200) /* 2024-01-14T23:00:00Z */
#define T_2024_04_02 US(1712008800) /* 2024-04-01T22:00:00Z (CEST) */
#define T_2024_02_12 US(1707692400) /* 2024-02-11T23:00:00Z */
#define T_2024_03_15 US(1710457200) /* 2024-03-14T23:00:00Z */
#define T_2024_02_20 US(1708383600) /* 2024-02-19T23:00:00Z */

/* ---------------------------------------------------------------------------
 * A collector: what the module reports, kept in order
 */

typedef struct rec {
    Ratusz__V1__Event *ev; /* NULL: quarantined */
    int check;             /* rz_event_check of the event */
    char key[64];
    char why[600];
    uint64_t line;
    char *bytes;
    size_t len;
} rec_t;

typedef struct coll {
    rz_out_t out;
    const uint8_t *data; /* the input: every ref's bytes lie inside */
    size_t data_len;
    rec_t *r;
    size_t n, cap, events, quarantined;
} coll_t;

static rec_t *s_keep(coll_t *c, const rz_record_ref_t *ref)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->r = realloc(c->r, c->cap * sizeof(*c->r));
        assert_non_null(c->r);
    }
    rec_t *r = &c->r[c->n++];
    memset(r, 0, sizeof(*r));
    assert_non_null(ref->key);
    snprintf(r->key, sizeof(r->key), "%s", ref->key);
    r->line = ref->line;
    assert_non_null(ref->bytes);
    assert_true(ref->bytes >= c->data &&
                ref->bytes + ref->len <= c->data + c->data_len);
    r->bytes = malloc(ref->len + 1);
    memcpy(r->bytes, ref->bytes, ref->len);
    r->bytes[ref->len] = '\0';
    r->len = ref->len;
    return r;
}

static int s_on_event(rz_out_t *o, const rz_record_ref_t *ref,
                      const Ratusz__V1__Event *ev)
{
    coll_t *c = o->user;
    rec_t *r = s_keep(c, ref);
    /* a deep copy: the module reuses its buffers */
    size_t n = protobuf_c_message_get_packed_size(&ev->base);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(&ev->base, buf);
    r->ev = ratusz__v1__event__unpack(NULL, n, buf);
    free(buf);
    assert_non_null(r->ev);
    /* no Polish letter read in the wrong encoding, in any event */
    if (rzt_event_mojibake(ev))
        fail_msg("mojibake in event %s", ev->id);
    /* what the runtime adds: the source; then the bus must accept it */
    Ratusz__V1__Event e = *r->ev;
    e.source = "/2211011/tax/test";
    char why[200];
    r->check = rz_event_check(&e, why, sizeof(why));
    if (r->check)
        print_message("rz_event_check: %s\n", why);
    c->events++;
    return 0;
}

static int s_on_quarantine(rz_out_t *o, const rz_record_ref_t *ref,
                           const char *why)
{
    coll_t *c = o->user;
    rec_t *r = s_keep(c, ref);
    assert_non_null(why);
    assert_true(*why);
    snprintf(r->why, sizeof(r->why), "%s", why);
    c->quarantined++;
    return 0;
}

static void s_coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->r[i].ev)
            ratusz__v1__event__free_unpacked(c->r[i].ev, NULL);
        free(c->r[i].bytes);
    }
    free(c->r);
    free(c);
}

/* ---------------------------------------------------------------------------
 * The module, as the runtime drives it
 */

static void *s_open(const char *tenant, const char *encoding)
{
    rz_tax_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    assert_int_equal(rz_conf_init(rz_module_tax.options, &conf), 0);
    char err[256];
    if (tenant)
        assert_int_equal(rz_conf_set(rz_module_tax.options, &conf, "tenant",
                                     tenant, err, sizeof(err)),
                         0);
    if (encoding)
        assert_int_equal(rz_conf_set(rz_module_tax.options, &conf, "encoding",
                                     encoding, err, sizeof(err)),
                         0);
    void *state = NULL;
    int rc = rz_module_tax.open(&state, &conf, err, sizeof(err));
    if (rc)
        print_message("open: %s\n", err);
    assert_int_equal(rc, 0);
    rz_conf_close(rz_module_tax.options, &conf);
    return state;
}

typedef struct in_opts {
    const char *cid;
    int partial;
    uint64_t first_line;
} in_opts_t;

static int s_parse_as(void *st, const char *data, size_t len, coll_t **out,
                      const in_opts_t *o, char *err, size_t err_len)
{
    coll_t *c = calloc(1, sizeof(*c));
    c->out.event = s_on_event;
    c->out.quarantine = s_on_quarantine;
    c->out.user = c;
    c->data = (const uint8_t *)data;
    c->data_len = len;
    rz_input_t in = {.origin = "test",
                     .name = "test",
                     .data = (const uint8_t *)data,
                     .len = len,
                     .content_id = o && o->cid ? o->cid : s_cid_a,
                     .partial = o ? o->partial : 0,
                     .first_line = o && o->first_line ? o->first_line : 1};
    err[0] = '\0';
    *out = c;
    return rz_module_tax.parse(st, &in, &c->out, err, err_len);
}

/* Parse, expect the input as a whole to be read, every event valid on the
 * bus, and exactly `events` events and `quarantined` quarantined. */
static coll_t *s_parse(void *st, const char *data, size_t len, size_t events,
                       size_t quarantined)
{
    coll_t *c;
    char err[512];
    int rc = s_parse_as(st, data, len, &c, NULL, err, sizeof(err));
    if (rc)
        print_message("parse: %s\n", err);
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < c->n; i++) {
        if (c->r[i].ev)
            assert_int_equal(c->r[i].check, 0);
        else
            print_message("quarantined %s (line %llu): %s\n", c->r[i].key,
                          (unsigned long long)c->r[i].line, c->r[i].why);
    }
    assert_int_equal(c->events, events);
    assert_int_equal(c->quarantined, quarantined);
    return c;
}

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* data with the first `old` replaced by `new` */
static char *s_replace(const char *data, size_t len, const char *old,
                       const char *new, size_t *out_len)
{
    const char *p = memmem(data, len, old, strlen(old));
    assert_non_null(p);
    size_t ol = strlen(old), nl = strlen(new), at = (size_t)(p - data);
    char *b = malloc(len - ol + nl + 1);
    memcpy(b, data, at);
    memcpy(b + at, new, nl);
    memcpy(b + at + nl, p + ol, len - at - ol);
    *out_len = len - ol + nl;
    b[*out_len] = '\0';
    return b;
}

static char *s_recode(const char *data, size_t len, const char *from,
                      const char *to, size_t *out_len)
{
    iconv_t cd = iconv_open(to, from);
    assert_true(cd != (iconv_t)-1);
    size_t cap = len * 4 + 4;
    char *b = malloc(cap), *op = b, *ip = (char *)data;
    size_t il = len, ol = cap;
    assert_true(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
    iconv_close(cd);
    *out_len = (size_t)(op - b);
    b[*out_len] = '\0';
    return b;
}

/* LF -> CRLF (the input must have no CR) */
static char *s_crlf(const char *data, size_t len, size_t *out_len)
{
    char *b = malloc(len * 2 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n')
            b[o++] = '\r';
        b[o++] = data[i];
    }
    b[o] = '\0';
    *out_len = o;
    return b;
}

static char *s_bom(const char *data, size_t len, size_t *out_len)
{
    char *b = malloc(len + 4);
    memcpy(b, "\xef\xbb\xbf", 3);
    memcpy(b + 3, data, len);
    *out_len = len + 3;
    b[*out_len] = '\0';
    return b;
}

static const Ratusz__V1__TaxAssessment *s_tax(const rec_t *r)
{
    assert_non_null(r->ev);
    assert_int_equal(r->ev->data_case, RATUSZ__V1__EVENT__DATA_TAX);
    assert_non_null(r->ev->tax);
    return r->ev->tax;
}

static void s_object(const Ratusz__V1__TaxObject *o, const char *kind,
                     const char *parcel, const char *use, int64_t base,
                     const char *unit, int64_t rate, int64_t tax)
{
    assert_string_equal(o->kind, kind);
    assert_string_equal(o->parcel_id, parcel);
    assert_string_equal(o->use, use);
    assert_int_equal(o->base_milli, base);
    assert_string_equal(o->base_unit, unit);
    assert_int_equal(o->rate_grosze, rate);
    assert_int_equal(o->tax_grosze, tax);
}

/* ---------------------------------------------------------------------------
 * DN-1: a legal person, one event per parcel
 */

static void s_check_dn1(const coll_t *c)
{
    const rec_t *r = &c->r[0];
    assert_string_equal(r->key, "Deklaracja[1]");
    assert_int_equal(r->line, 4);
    assert_string_equal(r->ev->id, "DN-1/DN-1/2024/000017/221101_1.0001.161/8");
    assert_string_equal(r->ev->type, "pl.gov.gmina.tax.declaration.v1");
    assert_string_equal(r->ev->subject, "parcel:221101_1.0001.161/8");
    assert_string_equal(r->ev->tenant, "2211011");
    assert_string_equal(r->ev->source, "");
    assert_int_equal(r->ev->time, T_2024_01_15);
    const Ratusz__V1__TaxAssessment *a = s_tax(r);
    assert_string_equal(a->document_id, "DN-1/2024/000017");
    assert_string_equal(a->form, "DN-1");
    assert_int_equal(a->tax_year, 2024);
    assert_string_equal(a->account, "NP/2024/0042");
    assert_int_equal(a->due_date, 0);
    assert_int_equal(a->taxpayer->kind,
                     RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION);
    assert_string_equal(a->taxpayer->nip, "1234563218");
    assert_string_equal(a->taxpayer->regon, "123456785");
    assert_string_equal(a->taxpayer->pesel, "");
    assert_string_equal(a->taxpayer->name, "Przykładowa Spółka z o.o.");
    assert_string_equal(a->taxpayer->address, "ul. Przykładowa 1, 84-150 Hel");
    assert_int_equal(a->n_objects, 2);
    s_object(a->objects[0], "grunt", "221101_1.0001.161/8",
             "związane z prowadzeniem działalności gospodarczej", 246000, "m2",
             134, 32964);
    s_object(a->objects[1], "budynek", "221101_1.0001.161/8",
             "związane z prowadzeniem działalności gospodarczej", 180500, "m2",
             3310, 597455);
    assert_string_equal(a->objects[1]->building_id,
                        "221101_1.0001.161/8.1_BUD");
    assert_int_equal(a->total_grosze, 32964 + 597455);

    r = &c->r[1];
    assert_string_equal(r->key, "Deklaracja[1]");
    assert_string_equal(r->ev->id, "DN-1/DN-1/2024/000017/221101_1.0001.161/9");
    assert_string_equal(r->ev->subject, "parcel:221101_1.0001.161/9");
    a = s_tax(r);
    assert_int_equal(a->n_objects, 2);
    /* budowla: 2 % of 85 000,00 zł, the rate in per mille */
    s_object(a->objects[0], "budowla", "221101_1.0001.161/9", "budowle",
             85000000, "PLN", 20, 170000);
    assert_string_equal(a->objects[0]->building_id,
                        "221101_1.0001.161/9.1_BUDOWLA");
    s_object(a->objects[1], "grunt", "221101_1.0001.161/9", "pozostałe", 512000,
             "m2", 71, 36352);
    assert_int_equal(a->total_grosze, 206352);
}

static void test_dn1_legal_person_one_event_per_parcel(void **state)
{
    size_t len;
    char *d = s_read(DN1, &len);
    coll_t *c = s_parse(*state, d, len, 2, 0);
    s_check_dn1(c);
    /* the record's bytes are the declaration, as in the file */
    assert_memory_equal(c->r[0].bytes, "<Deklaracja>", 12);
    assert_string_equal(c->r[0].bytes + c->r[0].len - 13, "</Deklaracja>");
    s_coll_free(c);
    free(d);
}

static void test_dn1_with_bom_and_crlf_reads_the_same(void **state)
{
    size_t len, l2, l3;
    char *d = s_read(DN1, &len);
    char *crlf = s_crlf(d, len, &l2);
    char *bom = s_bom(crlf, l2, &l3);
    coll_t *c = s_parse(*state, bom, l3, 2, 0);
    s_check_dn1(c);
    assert_non_null(strstr(c->r[0].bytes, "<Naglowek>\r\n"));
    s_coll_free(c);
    free(bom);
    free(crlf);
    free(d);
}

static void test_dn1_recoded_to_windows1250_reads_the_same(void **state)
{
    size_t len, l2, l3;
    char *d = s_read(DN1, &len);
    char *p = s_replace(d, len, "encoding=\"UTF-8\"",
                        "encoding=\"windows-1250\"", &l2);
    char *w = s_recode(p, l2, "UTF-8", "WINDOWS-1250", &l3);
    assert_non_null(memchr(w, 0xf3, l3)); /* ó of Spółka in Windows-1250 */
    coll_t *c = s_parse(*state, w, l3, 2, 0);
    s_check_dn1(c);
    s_coll_free(c);
    /* 0x81 is no character in Windows-1250: "Sp\x81\xb3ka" */
    char *o = memchr(w, 0xf3, l3);
    *o = (char)0x81;
    c = s_parse(*state, w, l3, 0, 1);
    assert_string_equal(c->r[0].why,
                        "not well-formed XML: input conversion failed due to "
                        "input error, bytes 0x81 0xB3 0x6B 0x61");
    s_coll_free(c);
    free(w);
    free(p);
    free(d);
}

/* ---------------------------------------------------------------------------
 * IN-1 in Windows-1250: a natural person, no amounts
 */

static void test_in1_windows1250_person_diacritics_intact(void **state)
{
    size_t len;
    char *d = s_read(IN1, &len);
    coll_t *c = s_parse(*state, d, len, 2, 0);
    const rec_t *r = &c->r[0];
    assert_int_equal(r->line, 4);
    /* the original bytes: Windows-1250 "Źdźbło" (8f 64 9f 62 b3 6f) */
    assert_non_null(memmem(r->bytes, r->len, "\x8f\x64\x9f\x62\xb3\x6f", 6));
    assert_string_equal(r->ev->id, "IN-1/IN-1/2024/000311/221101_1.0001.162");
    assert_string_equal(r->ev->subject, "parcel:221101_1.0001.162");
    /* 2024-04-02 is after the switch to CEST on 31 March */
    assert_int_equal(r->ev->time, T_2024_04_02);
    const Ratusz__V1__TaxAssessment *a = s_tax(r);
    assert_string_equal(a->form, "IN-1");
    assert_int_equal(a->taxpayer->kind, RATUSZ__V1__PARTY__KIND__KIND_PERSON);
    assert_string_equal(a->taxpayer->pesel, "75051500007");
    assert_string_equal(a->taxpayer->name, "Zofia Źdźbło-Testowa");
    assert_string_equal(a->taxpayer->address,
                        "ul. Przykładowa 1/2, 84-150 Hel");
    assert_string_equal(a->account, "");
    assert_int_equal(a->n_objects, 2);
    /* IN-1 carries no amounts: the office computes them in a decision */
    s_object(a->objects[0], "grunt", "221101_1.0001.162", "pozostałe", 350000,
             "m2", 0, 0);
    s_object(a->objects[1], "budynek", "221101_1.0001.162", "mieszkalne", 96400,
             "m2", 0, 0);
    assert_int_equal(a->total_grosze, 0);

    r = &c->r[1];
    assert_string_equal(r->ev->subject, "parcel:221101_1.0001.AR_2.45/1");
    a = s_tax(r);
    assert_int_equal(a->n_objects, 1);
    s_object(a->objects[0], "grunt", "221101_1.0001.AR_2.45/1", "pod wodami",
             1250, "ha", 0, 0);
    s_coll_free(c);
    free(d);
}

/* ---------------------------------------------------------------------------
 * A batch: records one by one
 */

static void s_check_batch(const coll_t *c)
{
    /* 1: IN-1 of Jan Testowy; 2: a DN-1 korekta over two parcels;
     * 3: a bad PESEL; 4: IN-1 of Łucja Żółć-Przykładowa */
    assert_string_equal(c->r[0].key, "Deklaracja[1]");
    assert_int_equal(c->r[0].line, 6);
    assert_string_equal(c->r[0].ev->subject, "parcel:221101_1.0001.170/3");
    const Ratusz__V1__TaxAssessment *a = s_tax(&c->r[0]);
    assert_string_equal(a->taxpayer->pesel, "80010100017");
    assert_string_equal(a->taxpayer->name, "Jan Testowy");
    assert_string_equal(a->taxpayer->address, "ul. Przykładowa 1, 84-150 Hel");
    assert_string_equal(a->account, "IN/0007311");
    assert_int_equal(a->n_objects, 2);
    assert_int_equal(a->objects[1]->base_milli, 142750);

    assert_string_equal(c->r[1].key, "Deklaracja[2]");
    assert_string_equal(c->r[1].ev->type, "pl.gov.gmina.tax.correction.v1");
    assert_string_equal(c->r[1].ev->id,
                        "DN-1/DN-1/2024/000017/K1/221101_1.0001.161/8");
    assert_int_equal(c->r[1].ev->time, T_2024_02_20);
    a = s_tax(&c->r[1]);
    assert_int_equal(a->objects[1]->tax_grosze, 675571);
    assert_int_equal(a->total_grosze, 32964 + 675571);
    assert_string_equal(c->r[2].key, "Deklaracja[2]");
    a = s_tax(&c->r[2]);
    /* "85000.00", "2", "1700.00": dots and a bare percentage */
    s_object(a->objects[0], "budowla", "221101_1.0001.161/9", "budowle",
             85000000, "PLN", 20, 170000);

    assert_null(c->r[3].ev);
    assert_string_equal(c->r[3].key, "Deklaracja[3]");
    assert_string_equal(c->r[3].why,
                        "Podmiot1/OsobaFizyczna/PESEL: '66060600012': "
                        "checksum digit is 2, expected 1");

    assert_string_equal(c->r[4].key, "Deklaracja[4]");
    a = s_tax(&c->r[4]);
    assert_string_equal(a->taxpayer->name, "Łucja Żółć-Przykładowa");
    assert_string_equal(a->taxpayer->nip, "1234563218");
    assert_string_equal(a->taxpayer->address,
                        "ul. Przykładowa 3/14, 84-150 Hel");
}

static void test_batch_each_declaration_a_record(void **state)
{
    size_t len;
    char *d = s_read(BATCH, &len);
    coll_t *c = s_parse(*state, d, len, 4, 1);
    s_check_batch(c);
    /* a village address without a street, in the quarantined record */
    assert_non_null(strstr(c->r[3].bytes, "<Miejscowosc>Jurata"));
    s_coll_free(c);
    free(d);
}

static void test_batch_windows1250_bom_crlf_variants(void **state)
{
    size_t len, l2, l3, l4;
    char *d = s_read(BATCH, &len);
    char *p = s_replace(d, len, "encoding=\"UTF-8\"",
                        "encoding=\"windows-1250\"", &l2);
    char *w = s_recode(p, l2, "UTF-8", "WINDOWS-1250", &l3);
    coll_t *c = s_parse(*state, w, l3, 4, 1);
    s_check_batch(c);
    s_coll_free(c);

    char *crlf = s_crlf(d, len, &l3);
    char *bom = s_bom(crlf, l3, &l4);
    c = s_parse(*state, bom, l4, 4, 1);
    s_check_batch(c);
    s_coll_free(c);
    free(bom);
    free(crlf);
    free(w);
    free(p);
    free(d);
}

static void test_batch_truncated_mid_record(void **state)
{
    size_t len;
    char *d = s_read(BATCH, &len);
    /* cut inside the fourth declaration's taxpayer */
    const char *cut = strstr(d, "<ImiePierwsze>Łucja");
    assert_non_null(cut);
    size_t n = (size_t)(cut - d) + 10;
    coll_t *c = s_parse(*state, d, n, 3, 2);
    assert_string_equal(c->r[3].key, "Deklaracja[3]");
    assert_string_equal(c->r[3].why,
                        "Podmiot1/OsobaFizyczna/PESEL: '66060600012': "
                        "checksum digit is 2, expected 1");
    assert_string_equal(c->r[4].key, "Deklaracja[4]");
    assert_string_equal(c->r[4].why,
                        "truncated: <Deklaracja> has no end tag before the "
                        "end of the input");
    /* its bytes run from its start tag (after the comment) to the end */
    const char *start = strstr(strstr(d, "<!-- an earlier"), "-->");
    start = strstr(start, "<Deklaracja>");
    assert_int_equal(c->r[4].len, n - (size_t)(start - d));
    s_coll_free(c);
    free(d);
}

static void test_batch_corrupted_record_in_the_middle(void **state)
{
    size_t len, l2;
    char *d = s_read(BATCH, &len);
    char *bad = s_replace(d, len, "</PelnaNazwa>", "</PelnaNazw>", &l2);
    coll_t *c = s_parse(*state, bad, l2, 2, 2);
    assert_string_equal(c->r[0].key, "Deklaracja[1]");
    assert_non_null(c->r[0].ev);
    assert_string_equal(c->r[1].key, "Deklaracja[2]");
    assert_null(c->r[1].ev);
    assert_string_equal(c->r[1].why,
                        "not well-formed XML: Opening and ending tag "
                        "mismatch: PelnaNazwa line 58 and PelnaNazw");
    assert_string_equal(c->r[2].key, "Deklaracja[3]");
    assert_null(c->r[2].ev);
    assert_string_equal(c->r[3].key, "Deklaracja[4]");
    assert_non_null(c->r[3].ev);
    s_coll_free(c);
    free(bad);
    free(d);
}

static void test_batch_record_without_end_tag_in_the_middle(void **state)
{
    size_t len, l2;
    char *d = s_read(BATCH, &len);
    /* the first declaration's end tag is lost */
    char *bad = s_replace(d, len, "  </Deklaracja>\n  <Deklaracja>",
                          "\n  <Deklaracja>", &l2);
    coll_t *c = s_parse(*state, bad, l2, 3, 2);
    assert_string_equal(c->r[0].key, "Deklaracja[1]");
    assert_string_equal(c->r[0].why,
                        "truncated: <Deklaracja> has no end tag before the "
                        "next <Deklaracja>");
    assert_int_equal(c->r[0].line, 6);
    assert_string_equal(c->r[1].key, "Deklaracja[2]");
    assert_int_equal(c->r[1].line, 46);
    assert_string_equal(c->r[1].ev->type, "pl.gov.gmina.tax.correction.v1");
    assert_string_equal(c->r[3].key, "Deklaracja[3]");
    assert_null(c->r[3].ev);
    assert_string_equal(c->r[4].key, "Deklaracja[4]");
    assert_non_null(c->r[4].ev);
    s_coll_free(c);
    free(bad);
    free(d);
}

/* A quarantined declaration is retried alone: its bytes, without the
 * prolog that named the encoding. */
static void test_batch_record_retried_alone_without_prolog(void **state)
{
    size_t len, l2, l3;
    char *d = s_read(BATCH, &len);
    char *p = s_replace(d, len, "encoding=\"UTF-8\"",
                        "encoding=\"windows-1250\"", &l2);
    char *w = s_recode(p, l2, "UTF-8", "WINDOWS-1250", &l3);
    coll_t *c = s_parse(*state, w, l3, 4, 1);

    /* the bad PESEL, fixed by an operator, in Windows-1250 */
    char *fixed = s_replace(c->r[3].bytes, c->r[3].len, "66060600012",
                            "66060600011", &l2);
    coll_t *r;
    char err[256];
    in_opts_t o = {.partial = 1, .first_line = c->r[3].line};
    assert_int_equal(s_parse_as(*state, fixed, l2, &r, &o, err, sizeof(err)),
                     0);
    assert_int_equal(r->events, 1);
    assert_int_equal(r->quarantined, 0);
    assert_int_equal(r->r[0].line, c->r[3].line);
    assert_string_equal(r->r[0].ev->subject, "parcel:221101_1.0001.180");
    const Ratusz__V1__TaxAssessment *a = s_tax(&r->r[0]);
    assert_string_equal(a->taxpayer->name, "Grzegorz Próbny");
    assert_string_equal(a->taxpayer->address, "Jurata 12, 84-141 Jastarnia");
    s_coll_free(r);

    /* unfixed, it is quarantined again for the same reason */
    assert_int_equal(s_parse_as(*state, c->r[3].bytes, c->r[3].len, &r, &o, err,
                                sizeof(err)),
                     0);
    assert_int_equal(r->quarantined, 1);
    assert_string_equal(r->r[0].why, c->r[3].why);
    s_coll_free(r);
    free(fixed);
    s_coll_free(c);
    free(w);
    free(p);
    free(d);
}

static void test_declaration_ids_do_not_depend_on_the_export(void **state)
{
    size_t len;
    char *d = s_read(BATCH, &len);
    coll_t *a, *b;
    char err[256];
    in_opts_t oa = {.cid = s_cid_a}, ob = {.cid = s_cid_b};
    assert_int_equal(s_parse_as(*state, d, len, &a, &oa, err, sizeof(err)), 0);
    /* the same declaration in another day's export */
    assert_int_equal(s_parse_as(*state, d, len, &b, &ob, err, sizeof(err)), 0);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->r[i].ev)
            assert_string_equal(a->r[i].ev->id, b->r[i].ev->id);
    s_coll_free(a);
    s_coll_free(b);
    free(d);
}

/* ---------------------------------------------------------------------------
 * Declarations that must not be published
 */

static void s_expect_quarantine(void **state, const char *old, const char *new,
                                const char *why)
{
    size_t len, l2;
    char *d = s_read(DN1, &len);
    char *bad = s_replace(d, len, old, new, &l2);
    coll_t *c = s_parse(*state, bad, l2, 0, 1);
    assert_string_equal(c->r[0].why, why);
    assert_string_equal(c->r[0].key, "Deklaracja[1]");
    s_coll_free(c);
    free(bad);
    free(d);
}

static void test_declaration_field_errors_name_the_element(void **state)
{
    s_expect_quarantine(state, "<LacznaKwotaPodatku>8368<",
                        "<LacznaKwotaPodatku>8367<",
                        "LacznaKwotaPodatku: 8367,00 zł is not the objects' "
                        "8367,71 zł rounded to whole złoty (8368)");
    s_expect_quarantine(state, "<KwotaPodatku>329,64<", "<KwotaPodatku>329,6x<",
                        "PrzedmiotyOpodatkowania/Grunt[1]/KwotaPodatku: "
                        "'329,6x' is not a number");
    s_expect_quarantine(state, "<KwotaPodatku>329,64<",
                        "<KwotaPodatku>329,645<",
                        "PrzedmiotyOpodatkowania/Grunt[1]/KwotaPodatku: "
                        "'329,645' has more than 2 decimal places");
    s_expect_quarantine(state, "<NIP>123-456-32-18<", "<NIP>123-456-32-19<",
                        "Podmiot1/OsobaNiefizyczna/NIP: '1234563219': "
                        "checksum digit is 9, expected 8");
    s_expect_quarantine(state, "<REGON>123456785<", "<REGON>123456786<",
                        "Podmiot1/OsobaNiefizyczna/REGON: '123456786': "
                        "checksum digit is 6, expected 5");
    s_expect_quarantine(state, "<IdentyfikatorDzialki>221101_1.0001.161/9<",
                        "<IdentyfikatorDzialki>161/9<",
                        "PrzedmiotyOpodatkowania/Budowla[1]/"
                        "IdentyfikatorDzialki: '161/9' is not an EGiB parcel "
                        "id (WWPPGG_R.OOOO.NR, e.g. 221101_1.0001.161/8)");
    s_expect_quarantine(state, "<IdentyfikatorDzialki>221101_1.0001.161/9<",
                        "<IdentyfikatorDzialki>226101_1.0001.161/9<",
                        "PrzedmiotyOpodatkowania/Budowla[1]/"
                        "IdentyfikatorDzialki: parcel 226101_1.0001.161/9 "
                        "lies in TERYT unit 2261011, not in gmina 2211011 "
                        "of the organ podatkowy");
    s_expect_quarantine(state, "<DataZlozenia>2024-01-15<",
                        "<DataZlozenia>1987-12-31<",
                        "Naglowek/DataZlozenia: '1987-12-31' is before 1988, "
                        "where the Europe/Warsaw rule of this module starts");
    s_expect_quarantine(state, "<DataZlozenia>2024-01-15<",
                        "<DataZlozenia>2024-02-30<",
                        "Naglowek/DataZlozenia: '2024-02-30' is not a date");
    s_expect_quarantine(state, "<Powierzchnia jednostka=\"m2\">512<",
                        "<Powierzchnia jednostka=\"ha\">0,0512<",
                        "PrzedmiotyOpodatkowania/Grunt[2]/Powierzchnia: "
                        "'0,0512' ha has a non-zero 4th decimal place, finer "
                        "than TaxObject.base_milli (thousandths) holds");
    s_expect_quarantine(state, "<Rodzaj>BU<", "<Rodzaj>XX<",
                        "PrzedmiotyOpodatkowania/Budowla[1]/Rodzaj: 'XX' is "
                        "not a category of budowla");
    s_expect_quarantine(state, "<KodFormularza wersjaSchemy=\"1-0\">DN-1<",
                        "<KodFormularza>ZDN-1<",
                        "Naglowek/KodFormularza: 'ZDN-1' is not DN-1 or "
                        "IN-1");
    s_expect_quarantine(state, "  </Podmiot1>",
                        "  </Podmiot1>\n  <Podmiot2 rola=\"Podatnik\"/>",
                        "Podmiot2 (a second taxpayer, e.g. a co-owner) is "
                        "present: TaxAssessment carries one taxpayer");
    s_expect_quarantine(state, "<Deklaracja>",
                        "<!DOCTYPE Deklaracja [<!ENTITY x \"y\">]>"
                        "<Deklaracja>",
                        "a DOCTYPE is not allowed in a declaration");
    s_expect_quarantine(state, "<NumerDokumentu>DN-1/2024/000017<",
                        "<NumerDokumentu> <",
                        "Naglowek/NumerDokumentu is missing");
}

/* A structure declared without a parcel: the declaration is the subject,
 * never the taxpayer's account (personal data), with or without one. */
static void test_object_without_parcel_goes_to_the_document(void **state)
{
    size_t len, l2, l3;
    char *d = s_read(DN1, &len);
    char *np =
        s_replace(d, len,
                  "<IdentyfikatorDzialki>221101_1.0001.161/9"
                  "</IdentyfikatorDzialki>\n      <IdentyfikatorBudowli>",
                  "<IdentyfikatorBudowli>", &l2);
    coll_t *c = s_parse(*state, np, l2, 3, 0);
    assert_string_equal(c->r[0].ev->subject, "parcel:221101_1.0001.161/8");
    assert_string_equal(c->r[1].ev->subject, "document:DN-1/DN-1/2024/000017");
    assert_string_equal(c->r[1].ev->id, "DN-1/DN-1/2024/000017/account");
    const Ratusz__V1__TaxAssessment *a = s_tax(&c->r[1]);
    assert_int_equal(a->n_objects, 1);
    s_object(a->objects[0], "budowla", "", "budowle", 85000000, "PLN", 20,
             170000);
    assert_string_equal(c->r[2].ev->subject, "parcel:221101_1.0001.161/9");
    assert_int_equal(s_tax(&c->r[2])->total_grosze, 36352);
    s_coll_free(c);

    char *na = s_replace(np, l2,
                         "<NumerKontaPodatnika>NP/2024/0042"
                         "</NumerKontaPodatnika>",
                         "", &l3);
    c = s_parse(*state, na, l3, 3, 0);
    assert_string_equal(c->r[1].ev->subject, "document:DN-1/DN-1/2024/000017");
    s_coll_free(c);
    free(na);
    free(np);
    free(d);
}

/* The DN-1 fixture with only its structure, declared without a parcel:
 * nothing in it names a gmina but the organ's code. */
static char *s_strip_parcels(const char *d, size_t len, size_t *out_len)
{
    const char *g1 = strstr(d, "    <Grunt lp=\"1\">");
    const char *bu = strstr(d, "    <Budowla lp=\"3\">");
    const char *g4 = strstr(d, "    <Grunt lp=\"4\">");
    const char *end = strstr(d, "  </PrzedmiotyOpodatkowania>");
    assert_true(g1 && bu && g4 && end);
    char *o = malloc(len + 1);
    size_t n = (size_t)(g1 - d);
    memcpy(o, d, n);
    memcpy(o + n, bu, (size_t)(g4 - bu));
    n += (size_t)(g4 - bu);
    memcpy(o + n, end, len - (size_t)(end - d));
    n += len - (size_t)(end - d);
    o[n] = '\0';
    size_t l2, l3;
    char *a = s_replace(o, n,
                        "<IdentyfikatorDzialki>221101_1.0001.161/9"
                        "</IdentyfikatorDzialki>\n      <IdentyfikatorBudowli>",
                        "<IdentyfikatorBudowli>", &l2);
    char *b = s_replace(a, l2, "<LacznaKwotaPodatku>8368",
                        "<LacznaKwotaPodatku>1700", &l3);
    free(o);
    free(a);
    *out_len = l3;
    return b;
}

static void test_declaration_tenant_option(void **state)
{
    (void)state;
    size_t len, l2;
    char *d = s_read(DN1, &len);
    /* the organ's code wins over the configured tenant */
    void *gd = s_open("2261011", NULL);
    coll_t *c = s_parse(gd, d, len, 2, 0);
    assert_string_equal(c->r[0].ev->tenant, "2211011");
    assert_string_equal(c->r[1].ev->tenant, "2211011");
    s_coll_free(c);
    /* without the organ's code: the parcel's unit, still not the option */
    char *no = s_replace(d, len, " kodTERYT=\"2211011\"", "", &l2);
    c = s_parse(gd, no, l2, 2, 0);
    assert_string_equal(c->r[0].ev->tenant, "2211011");
    s_coll_free(c);
    c = s_parse(*state, no, l2, 2, 0);
    assert_string_equal(c->r[0].ev->tenant, "2211011");
    s_coll_free(c);
    /* nothing in the declaration names its gmina: the option is the
     * fallback, and without it the declaration is quarantined */
    size_t l4;
    char *none = s_strip_parcels(no, l2, &l4);
    c = s_parse(gd, none, l4, 1, 0);
    assert_string_equal(c->r[0].ev->tenant, "2261011");
    assert_string_equal(c->r[0].ev->subject, "document:DN-1/DN-1/2024/000017");
    s_coll_free(c);
    void *gn = s_open("", NULL);
    c = s_parse(gn, none, l4, 0, 1);
    assert_string_equal(c->r[0].why,
                        "no tenant: no OrganPodatkowy/@kodTERYT, no parcel id "
                        "and no tax.tenant configured");
    s_coll_free(c);
    rz_module_tax.close(gn);
    rz_module_tax.close(gd);
    free(none);
    free(no);
    free(d);

    char err[200];
    void *st = NULL;
    rz_tax_conf_t conf = {.tenant = "22110", .encoding = "auto"};
    assert_int_equal(rz_module_tax.open(&st, &conf, err, sizeof(err)),
                     RZ_ECONFIG);
    assert_string_equal(err, "tax.tenant: '22110' is not the TERC code of a "
                             "gmina (7 digits)");
    conf = (rz_tax_conf_t){.tenant = "", .encoding = "NO-SUCH-CODEPAGE"};
    assert_int_equal(rz_module_tax.open(&st, &conf, err, sizeof(err)),
                     RZ_ECONFIG);
}

static void test_inputs_that_are_not_declarations_fail_whole(void **state)
{
    coll_t *c;
    char err[512];
    const char *html = "<html><body>Deklaracje</body></html>";
    assert_int_equal(
        s_parse_as(*state, html, strlen(html), &c, NULL, err, sizeof(err)),
        RZ_EINVAL);
    assert_string_equal(err, "no <Deklaracja> in the root element <html>: "
                             "not a property-tax declaration");
    assert_int_equal(c->n, 0);
    s_coll_free(c);
    const char *broken = "<?xml version=\"1.0\"?>\n<Deklaracje><a></b>";
    assert_int_equal(
        s_parse_as(*state, broken, strlen(broken), &c, NULL, err, sizeof(err)),
        RZ_EINVAL);
    assert_string_equal(err, "not well-formed XML: Opening and ending tag "
                             "mismatch: a line 2 and b (line 2)");
    s_coll_free(c);
    assert_int_equal(
        s_parse_as(*state, "\xef\xbb\xbf \r\n", 6, &c, NULL, err, sizeof(err)),
        RZ_EINVAL);
    assert_string_equal(err,
                        "empty input: no declaration and no assessment record");
    s_coll_free(c);
}

/* ---------------------------------------------------------------------------
 * Fixed-width assessment records
 */

/* bytes0: the first record's length in bytes (220 in Windows-1250, a byte
 * per character; 221 in UTF-8 for its "ł") */
static void s_check_fw(const coll_t *c, size_t bytes0)
{
    const rec_t *r = &c->r[0];
    assert_string_equal(r->key, "line 1");
    assert_int_equal(r->line, 1);
    assert_int_equal(r->len, bytes0);
    assert_string_equal(r->ev->id,
                        "decyzja/FN.3120.1.2024.0001/001/221101_1.0001.170/3");
    assert_string_equal(r->ev->type, "pl.gov.gmina.tax.assessment.v1");
    assert_string_equal(r->ev->subject, "parcel:221101_1.0001.170/3");
    assert_string_equal(r->ev->tenant, "2211011");
    assert_int_equal(r->ev->time, T_2024_02_12);
    const Ratusz__V1__TaxAssessment *a = s_tax(r);
    assert_string_equal(a->document_id, "FN.3120.1.2024.0001");
    assert_string_equal(a->form, "decyzja");
    assert_int_equal(a->tax_year, 2024);
    assert_string_equal(a->account, "IN/0007311");
    /* 15 March 2024, the first instalment, starts at 23:00 UTC the day
     * before */
    assert_int_equal(a->due_date, T_2024_03_15);
    assert_int_equal(a->taxpayer->kind, RATUSZ__V1__PARTY__KIND__KIND_PERSON);
    assert_string_equal(a->taxpayer->pesel, "80010100017");
    assert_string_equal(a->taxpayer->name, "JAN TESTOWY");
    assert_string_equal(a->taxpayer->address, "ul. Przykładowa 1, 84-150 Hel");
    assert_int_equal(a->n_objects, 1);
    s_object(a->objects[0], "grunt", "221101_1.0001.170/3", "pozostałe", 612000,
             "m2", 71, 43452);
    assert_int_equal(a->total_grosze, 43452);

    a = s_tax(&c->r[2]);
    assert_string_equal(a->taxpayer->name, "ZOFIA ŹDŹBŁO-TESTOWA");
    assert_string_equal(a->taxpayer->address,
                        "ul. Przykładowa 1/2, 84-150 Hel");
    a = s_tax(&c->r[4]);
    s_object(a->objects[0], "grunt", "221101_1.0001.AR_2.45/1", "pod wodami",
             1250, "ha", 661, 826);
    a = s_tax(&c->r[5]);
    assert_string_equal(a->taxpayer->name, "ŁUCJA ŻÓŁĆ-PRZYKŁADOWA");
    a = s_tax(&c->r[7]);
    assert_string_equal(c->r[7].ev->id,
                        "decyzja/FN.3120.1.2024.0004/002/221101_1.0001.161/8");
    /* a budowla worth 12 000 zł at 2 %: the same subject as the gis
     * module's parcel */
    assert_string_equal(c->r[7].ev->subject, "parcel:221101_1.0001.161/8");
    s_object(a->objects[0], "budowla", "221101_1.0001.161/8", "budowle",
             12000000, "PLN", 20, 24000);
    assert_string_equal(c->r[8].key, "line 9");
}

static void test_fixed_width_windows1250_crlf_blank_trailing_lines(void **state)
{
    size_t len;
    char *d = s_read(FW, &len);
    coll_t *c = s_parse(*state, d, len, 9, 0);
    s_check_fw(c, 220);
    /* the original bytes, without the line end: "ŹDŹBŁO" in Windows-1250 */
    assert_memory_equal(c->r[2].bytes + 48, "\x8f\x44\x8f\x42\xa3\x4f", 6);
    s_coll_free(c);
    free(d);
}

static void test_fixed_width_utf8_bom_lf_and_dos_eof_variants(void **state)
{
    size_t len, l2, l3;
    char *d = s_read(FW, &len);
    char *u = s_recode(d, len, "WINDOWS-1250", "UTF-8", &l2);
    char *bom = s_bom(u, l2, &l3);
    coll_t *c = s_parse(*state, bom, l3, 9, 0);
    assert_int_equal(c->r[2].len, 224); /* Ź, Ź, Ł, ł: two bytes each */
    assert_string_equal(s_tax(&c->r[2])->taxpayer->name,
                        "ZOFIA ŹDŹBŁO-TESTOWA");
    s_coll_free(c);

    /* LF only, and a DOS end-of-file mark */
    char *lf = malloc(len + 2);
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (d[i] != '\r')
            lf[o++] = d[i];
    lf[o++] = 0x1a;
    c = s_parse(*state, lf, o, 9, 0);
    s_check_fw(c, 220);
    s_coll_free(c);

    /* UTF-8 without a BOM is recognised too (the encoding option's auto) */
    c = s_parse(*state, u, l2, 9, 0);
    s_check_fw(c, 221);
    s_coll_free(c);
    free(lf);
    free(bom);
    free(u);
    free(d);
}

/* A UTF-8 export with one field in Windows-1250 keeps every letter; a
 * byte that is neither quarantines its record only; a file cut inside a
 * two-byte letter loses only the record it cuts. */
static void test_encoding_is_decided_per_field(void **state)
{
    size_t len, l2, l3, l4;
    char *d = s_read(FW, &len);
    char *u = s_recode(d, len, "WINDOWS-1250", "UTF-8", &l2);
    const char *surname = "ŻÓŁĆ-PRZYKŁADOWA";
    char *cp = s_recode(surname, strlen(surname), "UTF-8", "WINDOWS-1250", &l3);
    char *mixed = s_replace(u, l2, surname, cp, &l4);
    coll_t *c = s_parse(*state, mixed, l4, 9, 0);
    assert_string_equal(s_tax(&c->r[5])->taxpayer->name,
                        "ŁUCJA ŻÓŁĆ-PRZYKŁADOWA");
    assert_string_equal(s_tax(&c->r[2])->taxpayer->name,
                        "ZOFIA ŹDŹBŁO-TESTOWA");
    /* the record as received: its Windows-1250 bytes */
    assert_non_null(memmem(c->r[5].bytes, c->r[5].len, cp, l3));
    s_coll_free(c);
    free(mixed);
    free(cp);

    /* 0x81 is neither */
    char *bad = s_replace(u, l2, "WZORCOWY", "W\x81ORCOWY", &l4);
    size_t at = (size_t)(strstr(u, "WZORCOWY") - u) + 1;
    c = s_parse(*state, bad, l4, 8, 1);
    assert_string_equal(c->r[6].key, "line 7");
    char want[120];
    snprintf(want, sizeof(want),
             "byte 0x81 at offset %zu is neither UTF-8 nor Windows-1250", at);
    assert_string_equal(c->r[6].why, want);
    assert_non_null(c->r[7].ev);
    s_coll_free(c);
    free(bad);

    /* cut after the first byte of the last line's Ć */
    const char *last = strstr(u, "ĆMA-TESTOWA");
    assert_non_null(last);
    size_t cut = (size_t)(last - u) + 1;
    c = s_parse(*state, u, cut, 8, 1);
    assert_string_equal(c->r[8].key, "line 9");
    snprintf(want, sizeof(want),
             "byte 0xc4 at offset %zu is neither UTF-8 nor Windows-1250",
             cut - 1);
    assert_string_equal(c->r[8].why, want);
    s_coll_free(c);

    /* a DN-1 in UTF-8 with the company's name in Windows-1250 */
    free(d);
    d = s_read(DN1, &len);
    const char *name = "Przykładowa Spółka z o.o.";
    cp = s_recode(name, strlen(name), "UTF-8", "WINDOWS-1250", &l3);
    mixed = s_replace(d, len, name, cp, &l4);
    c = s_parse(*state, mixed, l4, 2, 0);
    assert_string_equal(s_tax(&c->r[0])->taxpayer->name, name);
    assert_string_equal(s_tax(&c->r[1])->taxpayer->name, name);
    s_coll_free(c);
    free(mixed);
    free(cp);
    bad = s_replace(d, len, "Spółka", "Sp\x81łka", &l4);
    at = (size_t)(strstr(d, "Spółka") - d) + 2;
    c = s_parse(*state, bad, l4, 0, 1);
    snprintf(want, sizeof(want),
             "byte 0x81 at offset %zu is neither UTF-8 nor Windows-1250", at);
    assert_string_equal(c->r[0].why, want);
    s_coll_free(c);
    free(bad);
    free(u);
    free(d);
}

static void test_fixed_width_errors_name_field_and_columns(void **state)
{
    size_t len;
    char *d = s_read(FW_BAD, &len);
    coll_t *c = s_parse(*state, d, len, 2, 3);
    assert_non_null(c->r[0].ev);
    assert_string_equal(c->r[1].key, "line 2");
    assert_string_equal(c->r[1].why,
                        "record is 212 characters long, expected 220 (the "
                        "layout ends with data decyzji, columns 213-220)");
    assert_int_equal(c->r[1].len, 212);
    assert_string_equal(c->r[2].key, "line 3");
    assert_string_equal(c->r[2].why, "kwota podatku (columns 189-200): "
                                     "'00000001641O' is not a number");
    assert_string_equal(c->r[3].why, "PESEL (columns 38-48): '90123100001': "
                                     "checksum digit is 1, expected 0");
    assert_non_null(c->r[4].ev);
    assert_string_equal(c->r[4].key, "line 5");
    s_coll_free(c);
    free(d);
}

static void test_fixed_width_truncated_and_corrupted_variants(void **state)
{
    size_t len, l2;
    char *d = s_read(FW, &len);
    /* cut in the middle of the fifth record */
    size_t cut = 4 * 222 + 100;
    coll_t *c = s_parse(*state, d, cut, 4, 1);
    assert_string_equal(c->r[4].key, "line 5");
    assert_string_equal(c->r[4].why,
                        "record is 100 characters long, expected 220 (the "
                        "layout ends with data decyzji, columns 213-220)");
    s_coll_free(c);

    /* a corrupted record in the middle: blanks over the fifth one's amount,
     * a tab in the sixth, an unknown category in the seventh */
    char *b = malloc(len);
    memcpy(b, d, len);
    memcpy(b + 4 * 222 + 188, "            ", 12);
    b[5 * 222 + 60] = '\t';
    memcpy(b + 6 * 222 + 165, "XX", 2);
    c = s_parse(*state, b, len, 6, 3);
    assert_string_equal(c->r[4].why, "kwota podatku (columns 189-200): "
                                     "'            ' is not a number");
    assert_string_equal(c->r[5].why, "control character 0x09 at column 61");
    assert_string_equal(c->r[6].why, "kod rodzaju (columns 166-167): 'XX' is "
                                     "not a category of budynek");
    s_coll_free(c);

    /* a blank line between records is reported, not skipped */
    char *gap = s_replace(d, len, "\r\nDWFN.3120.1.2024.0003",
                          "\r\n\r\nDWFN.3120.1.2024.0003", &l2);
    c = s_parse(*state, gap, l2, 9, 1);
    assert_string_equal(c->r[5].key, "line 6");
    assert_string_equal(c->r[5].why, "blank line between records");
    assert_string_equal(c->r[6].key, "line 7");
    s_coll_free(c);

    /* bytes that are not Windows-1250 (0x98 is unassigned) */
    memcpy(b, d, len);
    b[222 + 60] = (char)0x98;
    c = s_parse(*state, b, len, 8, 1);
    assert_string_equal(
        c->r[1].why,
        "byte 0x98 at offset 282 is neither UTF-8 nor Windows-1250");
    s_coll_free(c);
    free(gap);
    free(b);
    free(d);
}

static void test_fixed_width_retry_and_tail_chunks(void **state)
{
    size_t len, l2;
    char *d = s_read(FW_BAD, &len);
    coll_t *c = s_parse(*state, d, len, 2, 3);
    /* the line with the letter O, fixed by an operator and retried */
    char *fixed = s_replace(c->r[2].bytes, c->r[2].len, "1641O", "16416", &l2);
    coll_t *r;
    char err[256];
    in_opts_t o = {.partial = 1, .first_line = 3};
    assert_int_equal(s_parse_as(*state, fixed, l2, &r, &o, err, sizeof(err)),
                     0);
    assert_int_equal(r->events, 1);
    assert_string_equal(r->r[0].key, "line 3");
    assert_string_equal(r->r[0].ev->id,
                        "decyzja/FN.3120.1.2024.0001/002/221101_1.0001.170/3");
    assert_int_equal(s_tax(&r->r[0])->objects[0]->tax_grosze, 16416);
    s_coll_free(r);
    /* a short line in a tailed chunk is a quarantined record, not a failed
     * input */
    assert_int_equal(s_parse_as(*state, c->r[1].bytes, c->r[1].len, &r, &o, err,
                                sizeof(err)),
                     0);
    assert_int_equal(r->quarantined, 1);
    assert_string_equal(r->r[0].why, c->r[1].why);
    s_coll_free(r);
    free(fixed);
    s_coll_free(c);
    free(d);
}

static void test_fixed_width_ids_stable_and_tenant_checked(void **state)
{
    size_t len;
    char *d = s_read(FW, &len);
    coll_t *a, *b;
    char err[256];
    in_opts_t oa = {.cid = s_cid_a}, ob = {.cid = s_cid_b};
    assert_int_equal(s_parse_as(*state, d, len, &a, &oa, err, sizeof(err)), 0);
    assert_int_equal(s_parse_as(*state, d, len, &b, &ob, err, sizeof(err)), 0);
    assert_int_equal(a->events, 9);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->r[i].ev->id, b->r[i].ev->id);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a->r[i].ev->id, a->r[j].ev->id);
    }
    s_coll_free(a);
    s_coll_free(b);

    /* the parcel names the gmina; the option is only a fallback */
    void *g = s_open("2261011", NULL);
    a = s_parse(g, d, len, 9, 0);
    for (size_t i = 0; i < a->n; i++)
        assert_string_equal(a->r[i].ev->tenant, "2211011");
    s_coll_free(a);
    rz_module_tax.close(g);

    const char *csv = "konto;pesel;kwota\r\nIN/1;80010100017;434,52\r\n";
    assert_int_equal(
        s_parse_as(*state, csv, strlen(csv), &a, NULL, err, sizeof(err)),
        RZ_EINVAL);
    assert_string_equal(err, "not a fixed-width assessment export: no line "
                             "is 220 characters long (line 1 is 17)");
    assert_int_equal(a->n, 0);
    s_coll_free(a);
    free(d);
}

/* ---------------------------------------------------------------------------
 * Checks and conversions
 */

static void test_identifier_checksums(void **state)
{
    (void)state;
    char why[200];
    assert_int_equal(rz__tax_pesel_check("80010100017", why, sizeof(why)), 0);
    assert_int_equal(rz__tax_pesel_check("01220300013", why, sizeof(why)), 0);
    assert_int_equal(rz__tax_pesel_check("44051401359", why, sizeof(why)), 0);
    assert_int_equal(rz__tax_pesel_check("44051401358", why, sizeof(why)), -1);
    assert_string_equal(why, "'44051401358': checksum digit is 8, expected 9");
    assert_int_equal(rz__tax_pesel_check("8001010001", why, sizeof(why)), -1);
    assert_string_equal(why, "'8001010001' is not 11 digits");
    /* a valid checksum on a month that is no month (13) */
    assert_int_equal(rz__tax_pesel_check("80130100012", why, sizeof(why)), -1);
    assert_string_equal(why, "'80130100012': month 13 is not a date of birth");
    assert_int_equal(rz__tax_nip_check("1234563218", why, sizeof(why)), 0);
    assert_int_equal(rz__tax_nip_check("123456321", why, sizeof(why)), -1);
    assert_int_equal(rz__tax_regon_check("123456785", why, sizeof(why)), 0);
    assert_int_equal(rz__tax_regon_check("12345678512347", why, sizeof(why)),
                     0);
    assert_int_equal(rz__tax_regon_check("12345678512346", why, sizeof(why)),
                     -1);
    char terc[8];
    assert_int_equal(
        rz__tax_parcel_check("221101_1.0001.161/8", terc, why, sizeof(why)), 0);
    assert_string_equal(terc, "2211011");
    assert_int_equal(rz__tax_parcel_check("146501_8.0101.AR_12.45/2", terc, why,
                                          sizeof(why)),
                     0);
    assert_string_equal(terc, "1465018");
    assert_int_equal(
        rz__tax_parcel_check("221101_1.0001.161/", terc, why, sizeof(why)), -1);
    assert_int_equal(
        rz__tax_parcel_check("221101_1.001.161", terc, why, sizeof(why)), -1);
}

static void test_amounts_are_exact(void **state)
{
    (void)state;
    char why[200];
    int64_t v;
    assert_int_equal(rz__tax_decimal("285,36", 2, &v, why, sizeof(why)), 0);
    assert_int_equal(v, 28536);
    assert_int_equal(rz__tax_decimal("0.1", 2, &v, why, sizeof(why)), 0);
    assert_int_equal(v, 10);
    assert_int_equal(rz__tax_decimal("1,000", 2, &v, why, sizeof(why)), 0);
    assert_int_equal(v, 100);
    assert_int_equal(rz__tax_decimal("1,2500", 3, &v, why, sizeof(why)), 0);
    assert_int_equal(v, 1250);
    assert_int_equal(
        rz__tax_decimal("99999999999999,99", 2, &v, why, sizeof(why)), 0);
    assert_int_equal(v, 9999999999999999LL);
    assert_int_equal(rz__tax_decimal("1,005", 2, &v, why, sizeof(why)), -1);
    assert_string_equal(why, "'1,005' has more than 2 decimal places");
    const char *bad[] = {"-1",    "1e5", ",5",   "5,", "1 234,00",
                         "1,2,3", "",    "0x10", "１"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rz__tax_decimal(bad[i], 2, &v, why, sizeof(why)), -1);
    assert_int_equal(
        rz__tax_decimal("123456789012345678", 0, &v, why, sizeof(why)), -1);
    assert_string_equal(why, "'123456789012345678' is too large");
    assert_int_equal(rz__tax_round_zloty(836771), 8368);
    assert_int_equal(rz__tax_round_zloty(836749), 8367);
    assert_int_equal(rz__tax_round_zloty(836750), 8368);
    assert_int_equal(rz__tax_round_zloty(49), 0);
}

/* Every day's midnight from 1988 to 2037 against the system's tz
 * database. */
static void test_dates_are_europe_warsaw_midnight(void **state)
{
    (void)state;
    int64_t us;
    char why[200];
    assert_int_equal(rz__tax_date("20240315", &us, why, sizeof(why)), 0);
    assert_int_equal(us, T_2024_03_15);
    /* the spring and autumn Sundays themselves: midnight is still the
     * zone of the day before */
    assert_int_equal(rz__tax_date("2024-03-31", &us, why, sizeof(why)), 0);
    assert_int_equal(us, US(1711839600)); /* 2024-03-30T23:00:00Z */
    assert_int_equal(rz__tax_date("2024-10-27", &us, why, sizeof(why)), 0);
    assert_int_equal(us, US(1729980000)); /* 2024-10-26T22:00:00Z */
    assert_int_equal(rz__tax_date("1995-09-24", &us, why, sizeof(why)), 0);
    assert_int_equal(us, US(811893600)); /* CEST ended in September then */
    assert_int_equal(rz__tax_date("2024-13-01", &us, why, sizeof(why)), -1);
    assert_int_equal(rz__tax_date("2024-3-1", &us, why, sizeof(why)), -1);

    if (access("/usr/share/zoneinfo/Europe/Warsaw", R_OK) != 0) {
        print_message("no tz database here: the day-by-day comparison is "
                      "skipped\n");
        return;
    }
    setenv("TZ", "Europe/Warsaw", 1);
    tzset();
    int days = 0;
    for (int y = 1988; y <= 2037; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 31; d++) {
                if (d > rzc_mdays(y, m))
                    continue;
                us = rzc_warsaw_midnight_us(y, m, d);
                struct tm tm = {.tm_year = y - 1900,
                                .tm_mon = m - 1,
                                .tm_mday = d,
                                .tm_isdst = -1};
                time_t t = mktime(&tm);
                if ((int64_t)t * 1000000 != us)
                    print_message("%04d-%02d-%02d: %lld != %lld\n", y, m, d,
                                  (long long)t, (long long)(us / 1000000));
                assert_int_equal((int64_t)t * 1000000, us);
                days++;
            }
    assert_int_equal(days, 18263);
    unsetenv("TZ");
    tzset();
}

/* ---------------------------------------------------------------------------
 */

static int s_setup(void **state)
{
    *state = s_open(NULL, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    rz_module_tax.close(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dn1_legal_person_one_event_per_parcel),
        cmocka_unit_test(test_dn1_with_bom_and_crlf_reads_the_same),
        cmocka_unit_test(test_dn1_recoded_to_windows1250_reads_the_same),
        cmocka_unit_test(test_in1_windows1250_person_diacritics_intact),
        cmocka_unit_test(test_batch_each_declaration_a_record),
        cmocka_unit_test(test_batch_windows1250_bom_crlf_variants),
        cmocka_unit_test(test_batch_truncated_mid_record),
        cmocka_unit_test(test_batch_corrupted_record_in_the_middle),
        cmocka_unit_test(test_batch_record_without_end_tag_in_the_middle),
        cmocka_unit_test(test_batch_record_retried_alone_without_prolog),
        cmocka_unit_test(test_declaration_ids_do_not_depend_on_the_export),
        cmocka_unit_test(test_declaration_field_errors_name_the_element),
        cmocka_unit_test(test_object_without_parcel_goes_to_the_document),
        cmocka_unit_test(test_declaration_tenant_option),
        cmocka_unit_test(test_inputs_that_are_not_declarations_fail_whole),
        cmocka_unit_test(
            test_fixed_width_windows1250_crlf_blank_trailing_lines),
        cmocka_unit_test(test_fixed_width_utf8_bom_lf_and_dos_eof_variants),
        cmocka_unit_test(test_encoding_is_decided_per_field),
        cmocka_unit_test(test_fixed_width_errors_name_field_and_columns),
        cmocka_unit_test(test_fixed_width_truncated_and_corrupted_variants),
        cmocka_unit_test(test_fixed_width_retry_and_tail_chunks),
        cmocka_unit_test(test_fixed_width_ids_stable_and_tenant_checked),
        cmocka_unit_test(test_identifier_checksums),
        cmocka_unit_test(test_amounts_are_exact),
        cmocka_unit_test(test_dates_are_europe_warsaw_midnight),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
