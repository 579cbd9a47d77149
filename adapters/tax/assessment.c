/* assessment.c - fixed-width records of property-tax assessments
 * (decyzje wymiarowe) as the mainframe-era tax systems export them.
 *
 * One line is one item of a decision: one taxed object of one taxpayer
 * in one year. Lines end in CRLF (LF alone is read too), the text is
 * Windows-1250 unless the file starts with a UTF-8 BOM (see the encoding
 * option), blank lines and a DOS end-of-file mark (0x1A) may follow the
 * last record. Columns count characters, not bytes, 1-based:
 *
 *   col  len  field                  format
 *     1    2  typ rekordu            "DW" (decyzja wymiarowa)
 *     3   20  numer decyzji          text, left-aligned, blank-padded
 *    23    3  pozycja                digits: the item's number in the
 *                                    decision
 *    26   12  konto podatnika        text
 *    38   11  PESEL                  11 digits, checksum checked
 *    49   30  nazwisko               text
 *    79   20  imię                   text
 *    99   40  adres                  text ("ul. Przykładowa 1/2, 84-150
 *                                    Hel")
 *   139   26  identyfikator działki  EGiB id "221101_1.0001.161/8"
 *   165    1  rodzaj przedmiotu      G grunt, B budynek, L budowla
 *   166    2  kod rodzaju            category (README.md, "Categories")
 *   168   12  podstawa               digits, 3 implied decimals
 *                                    (PIC 9(9)V999): 000000120500 = 120,5
 *   180    2  jednostka              M2, HA (grunt), ZL (budowla)
 *   182    7  stawka                 digits, 2 implied decimals: złoty
 *                                    per unit (0000116 = 1,16 zł), or
 *                                    percent for ZL (0000200 = 2 %)
 *   189   12  kwota podatku          grosze, digits
 *   201    4  rok podatkowy          YYYY
 *   205    8  termin płatności       YYYYMMDD, the first instalment
 *   213    8  data decyzji           YYYYMMDD
 *   220       (end: a record is exactly 220 characters)
 *
 * Numbers are zero-filled and unsigned (no COBOL overpunched sign: a
 * negative amount is not a number here and is quarantined). A record of
 * another length, a non-numeric number or a bad PESEL is quarantined with
 * a reason naming the field and its columns.
 *
 * This is read by hand: it is fixed columns, which no parsing library
 * does better than a table of offsets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tax.h"

const rz_tax_field_t rz__tax_layout[RZ_TAXF_COUNT] = {
    [RZ_TAXF_TYPE] = {"typ rekordu", 1, 2},
    [RZ_TAXF_DOCUMENT] = {"numer decyzji", 3, 20},
    [RZ_TAXF_ITEM] = {"pozycja", 23, 3},
    [RZ_TAXF_ACCOUNT] = {"konto podatnika", 26, 12},
    [RZ_TAXF_PESEL] = {"PESEL", 38, 11},
    [RZ_TAXF_SURNAME] = {"nazwisko", 49, 30},
    [RZ_TAXF_GIVEN] = {"imię", 79, 20},
    [RZ_TAXF_ADDRESS] = {"adres", 99, 40},
    [RZ_TAXF_PARCEL] = {"identyfikator działki", 139, 26},
    [RZ_TAXF_KIND] = {"rodzaj przedmiotu", 165, 1},
    [RZ_TAXF_USE] = {"kod rodzaju", 166, 2},
    [RZ_TAXF_BASE] = {"podstawa", 168, 12},
    [RZ_TAXF_UNIT] = {"jednostka", 180, 2},
    [RZ_TAXF_RATE] = {"stawka", 182, 7},
    [RZ_TAXF_AMOUNT] = {"kwota podatku", 189, 12},
    [RZ_TAXF_YEAR] = {"rok podatkowy", 201, 4},
    [RZ_TAXF_DUE] = {"termin płatności", 205, 8},
    [RZ_TAXF_ISSUED] = {"data decyzji", 213, 8},
};

/* One line decoded to UTF-8, with the byte offset of every character. */
typedef struct s_line {
    char *text;
    size_t len, cap;
    size_t off[RZ_TAX_RECORD_LEN + 1];
    size_t chars;
} s_line_t;

typedef struct s_reader {
    rz_tax_t *t;
    const char *iconv_name; /* a code page the core does not decide, or
                               NULL: the lines are UTF-8 already */
    s_line_t line;
    char why[512];
} s_reader_t;

static int s_why(s_reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_why(s_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------------------------------------------------------------------
 * Decoding one line
 */

static int s_reserve(s_line_t *l, size_t need)
{
    if (need <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 256;
    while (cap < need)
        cap *= 2;
    char *n = realloc(l->text, cap);
    if (!n)
        return RZ_ENOMEM;
    l->text = n;
    l->cap = cap;
    return 0;
}

/* b[0..len) into r->line: the text and the offsets of its first
 * RZ_TAX_RECORD_LEN + 1 characters. b is UTF-8 already, unless the
 * encoding option names a code page other than UTF-8 and Windows-1250. */
static int s_decode(s_reader_t *r, const uint8_t *b, size_t len)
{
    s_line_t *l = &r->line;
    char *conv = NULL;
    if (r->iconv_name) {
        size_t n, at;
        int rc = rzc_iconv("UTF-8", r->iconv_name, (const char *)b, len, &conv,
                           &n, &at);
        if (rc == RZ_ENOMEM)
            return rc;
        if (rc)
            return s_why(r, "byte 0x%02x at column %zu is not valid %s",
                         at < len ? b[at] : 0, at + 1, r->iconv_name);
        b = (const uint8_t *)conv;
        len = n;
    }
    if (s_reserve(l, len + 1)) {
        free(conv);
        return RZ_ENOMEM;
    }
    memcpy(l->text, b, len);
    l->len = len;
    free(conv);
    l->text[l->len] = '\0';
    l->chars = 0;
    for (size_t i = 0; i < l->len; i++) {
        if (((uint8_t)l->text[i] & 0xc0) == 0x80)
            continue;
        if (l->chars <= RZ_TAX_RECORD_LEN)
            l->off[l->chars] = i;
        l->chars++;
    }
    if (l->chars <= RZ_TAX_RECORD_LEN)
        l->off[l->chars] = l->len;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Fields
 */

/* Field f of the current line, blanks trimmed, into buf. */
static int s_field(s_reader_t *r, int f, char *buf, size_t cap)
{
    const rz_tax_field_t *d = &rz__tax_layout[f];
    size_t a = r->line.off[d->col - 1], b = r->line.off[d->col - 1 + d->len];
    if (rz__tax_copy_trim(buf, cap, r->line.text + a, b - a))
        return s_why(r, "%s (columns %d-%d) is too long", d->name, d->col,
                     d->col + d->len - 1);
    return 0;
}

static int s_required(s_reader_t *r, int f, char *buf, size_t cap)
{
    if (s_field(r, f, buf, cap))
        return -1;
    if (!*buf) {
        const rz_tax_field_t *d = &rz__tax_layout[f];
        return s_why(r, "%s (columns %d-%d) is blank", d->name, d->col,
                     d->col + d->len - 1);
    }
    return 0;
}

/* A zero-filled unsigned number: every column a digit. */
static int s_number(s_reader_t *r, int f, int64_t *v)
{
    const rz_tax_field_t *d = &rz__tax_layout[f];
    size_t a = r->line.off[d->col - 1], b = r->line.off[d->col - 1 + d->len];
    char buf[32], why[128];
    if (b - a >= sizeof(buf) || b - a != (size_t)d->len) {
        snprintf(why, sizeof(why), "%s", "is not a number");
        goto bad;
    }
    memcpy(buf, r->line.text + a, b - a);
    buf[b - a] = '\0';
    if (rz__tax_digits(buf, v, why, sizeof(why)))
        goto bad;
    return 0;
bad:
    return s_why(r, "%s (columns %d-%d): '%.*s' is not a number", d->name,
                 d->col, d->col + d->len - 1, (int)(b - a), r->line.text + a);
}

static int s_date(s_reader_t *r, int f, int64_t *us)
{
    const rz_tax_field_t *d = &rz__tax_layout[f];
    char buf[32], why[160];
    if (s_field(r, f, buf, sizeof(buf)))
        return -1;
    if (rz__tax_date(buf, us, why, sizeof(why)))
        return s_why(r, "%s (columns %d-%d): %s", d->name, d->col,
                     d->col + d->len - 1, why);
    return 0;
}

/* ---------------------------------------------------------------------------
 * One record
 */

static int s_record(s_reader_t *r, rz_tax_doc_t *doc)
{
    char buf[RZ_TAX_TEXT], given[RZ_TAX_TEXT], surname[RZ_TAX_TEXT];
    char why[256];
    int64_t v;

    memset(doc, 0, offsetof(rz_tax_doc_t, objects));
    rz_tax_object_t *o = &doc->objects[0];
    memset(o, 0, sizeof(*o));
    doc->n_objects = 1;
    doc->type = "pl.gov.gmina.tax.assessment.v1";
    doc->person = 1;
    snprintf(doc->form, sizeof(doc->form), "%s", "decyzja");

    if (s_field(r, RZ_TAXF_TYPE, buf, sizeof(buf)))
        return -1;
    if (strcmp(buf, "DW"))
        return s_why(r,
                     "typ rekordu (columns 1-2): '%s' is not DW "
                     "(decyzja wymiarowa)",
                     buf);
    if (s_required(r, RZ_TAXF_DOCUMENT, doc->document_id,
                   sizeof(doc->document_id)))
        return -1;
    int64_t item;
    if (s_number(r, RZ_TAXF_ITEM, &item))
        return -1;
    if (s_required(r, RZ_TAXF_ACCOUNT, doc->account, sizeof(doc->account)))
        return -1;
    if (s_field(r, RZ_TAXF_PESEL, doc->pesel, sizeof(doc->pesel)))
        return -1;
    if (rz__tax_pesel_check(doc->pesel, why, sizeof(why)))
        return s_why(r, "PESEL (columns 38-48): %s", why);
    if (s_required(r, RZ_TAXF_SURNAME, surname, sizeof(surname)) ||
        s_required(r, RZ_TAXF_GIVEN, given, sizeof(given)) ||
        s_required(r, RZ_TAXF_ADDRESS, doc->address, sizeof(doc->address)))
        return -1;
    /* 20 + 30 columns: always fits */
    if (snprintf(doc->name, sizeof(doc->name), "%s %s", given, surname) < 0)
        return s_why(r, "%s", "the name cannot be formatted");

    char terc[8];
    if (s_required(r, RZ_TAXF_PARCEL, o->parcel_id, sizeof(o->parcel_id)))
        return -1;
    if (rz__tax_parcel_check(o->parcel_id, terc, why, sizeof(why)))
        return s_why(r, "identyfikator działki (columns 139-164): %s", why);
    /* the parcel names its gmina, whatever tax.tenant says */
    memcpy(doc->tenant, terc, 8);

    if (s_field(r, RZ_TAXF_KIND, buf, sizeof(buf)))
        return -1;
    char kind = buf[0] && !buf[1] ? buf[0] : '?';
    const char *kname = kind == 'G'   ? "grunt"
                        : kind == 'B' ? "budynek"
                        : kind == 'L' ? "budowla"
                                      : NULL;
    if (!kname)
        return s_why(r,
                     "rodzaj przedmiotu (column 165): '%s' is not G, B "
                     "or L",
                     buf);
    snprintf(o->kind, sizeof(o->kind), "%s", kname);
    if (s_field(r, RZ_TAXF_USE, buf, sizeof(buf)))
        return -1;
    const char *use = rz__tax_use(kind, buf);
    if (!use)
        return s_why(r,
                     "kod rodzaju (columns 166-167): '%s' is not a "
                     "category of %s",
                     buf, kname);
    snprintf(o->use, sizeof(o->use), "%s", use);

    if (s_number(r, RZ_TAXF_BASE, &o->base_milli))
        return -1;
    if (s_field(r, RZ_TAXF_UNIT, buf, sizeof(buf)))
        return -1;
    int pln = 0;
    if (!strcmp(buf, "M2") && kind != 'L')
        snprintf(o->base_unit, sizeof(o->base_unit), "%s", "m2");
    else if (!strcmp(buf, "HA") && kind == 'G')
        snprintf(o->base_unit, sizeof(o->base_unit), "%s", "ha");
    else if (!strcmp(buf, "ZL") && kind == 'L')
        snprintf(o->base_unit, sizeof(o->base_unit), "%s", "PLN"), pln = 1;
    else
        return s_why(r,
                     "jednostka (columns 180-181): '%s' is not a unit of "
                     "%s (M2, HA for grunt, ZL for budowla)",
                     buf, kname);
    if (s_number(r, RZ_TAXF_RATE, &v))
        return -1;
    if (pln) {
        /* percent with 2 decimals -> per mille (TaxObject.rate_grosze of a
         * PLN base holds the rate x 1000) */
        if (v % 10)
            return s_why(r,
                         "stawka (columns 182-188): %lld.%02lld %% is "
                         "finer than 0.1 %%, which rate_grosze cannot "
                         "hold for a PLN base",
                         (long long)(v / 100), (long long)(v % 100));
        o->rate_grosze = v / 10;
    } else {
        o->rate_grosze = v;
    }
    if (s_number(r, RZ_TAXF_AMOUNT, &o->tax_grosze) ||
        s_number(r, RZ_TAXF_YEAR, &v))
        return -1;
    if (v < 1988)
        return s_why(r,
                     "rok podatkowy (columns 201-204): %lld is before "
                     "1988",
                     (long long)v);
    doc->tax_year = (int)v;
    if (s_date(r, RZ_TAXF_DUE, &doc->due_date) ||
        s_date(r, RZ_TAXF_ISSUED, &doc->time))
        return -1;
    /* the decision's own identity: its number and the item's number */
    if (snprintf(doc->id_prefix, sizeof(doc->id_prefix), "decyzja/%s/%03lld",
                 doc->document_id, (long long)item) < 0)
        return s_why(r, "%s", "the id cannot be formatted");
    return 0;
}

/* ---------------------------------------------------------------------------
 * The input
 */

static int s_blank(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r')
            return 0;
    return 1;
}

/* The first control character of the decoded line, or -1. */
static long s_control(const s_line_t *l)
{
    size_t ch = 0;
    for (size_t i = 0; i < l->len; i++) {
        uint8_t c = (uint8_t)l->text[i];
        if ((c & 0xc0) == 0x80)
            continue;
        if (c < 0x20 || c == 0x7f)
            return (long)ch;
        ch++;
    }
    return -1;
}

/* A UTF-8 line that the core could not read whole, word by word: the
 * fields are blank-padded, so a run between blanks is a field, and each is
 * decoded on its own (a name in Windows-1250 next to an address in UTF-8).
 * b[0..len) is the line as received, at the end of the input when at_end
 * (so that a letter cut by the end stays bad). *bad is the offset in b of
 * the first byte that is neither encoding, or SIZE_MAX. */
static int s_words(const uint8_t *b, size_t len, int at_end, char **out,
                   size_t *out_len, size_t *bad)
{
    char *o = malloc(len * 3 + 1), err[120];
    uint8_t *w = malloc(len + 1);
    size_t k = 0;
    int rc = 0;
    *bad = SIZE_MAX;
    if (!o || !w) {
        rc = RZ_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < len;) {
        if (b[i] == ' ') {
            o[k++] = b[i++];
            continue;
        }
        size_t e = i;
        while (e < len && b[e] != ' ')
            e++;
        /* a line end after the word: the word is not the input's end */
        memcpy(w, b + i, e - i);
        size_t wl = e - i;
        if (!(at_end && e == len))
            w[wl++] = '\n';
        rzc_text_t t;
        rc = rzc_text_decode(&t, w, wl, RZC_ENC_UTF8, err, sizeof(err));
        if (rc == RZ_ENOMEM)
            goto done;
        if (rc || t.n_bad) {
            if (*bad == SIZE_MAX)
                *bad = i + (rc ? 0 : t.bad[0]);
            rc = 0;
        } else {
            size_t tl = t.len - (wl > e - i);
            memcpy(o + k, t.text, tl);
            k += tl;
        }
        rzc_text_free(&t);
        i = e;
    }
    o[k] = '\0';
    *out = o;
    *out_len = k;
    o = NULL;
done:
    free(o);
    free(w);
    return rc;
}

typedef struct s_span {
    size_t a, b; /* bytes of the line, without its end */
} s_span_t;

int rz__tax_assessment_parse(rz_tax_t *t, const rz_input_t *in, rz_out_t *out,
                             char *err, size_t err_len)
{
    const uint8_t *data = in->data;
    size_t len = in->len;
    s_reader_t r = {.t = t};
    /* a DOS end-of-file mark after the last line */
    while (len > 0 && data[len - 1] == 0x1a)
        len--;
    /* UTF-8 and Windows-1250 are decided by the core, field by field (a
     * field is a run between blanks here: names and addresses are
     * blank-padded); any other code page is the file's, line by line */
    rzc_text_t text = {0};
    size_t *map = NULL;
    const uint8_t *src = data;
    size_t start = 0;
    int enc = rz__tax_encoding(t->encoding);
    if (enc >= 0) {
        int rc = rzc_text_decode(&text, data, len, enc, err, err_len);
        if (rc)
            return rc;
        if (rzc_text_map(&text, &map)) {
            rzc_text_free(&text);
            snprintf(err, err_len, "%s", "out of memory");
            return RZ_ENOMEM;
        }
        src = (const uint8_t *)text.text;
        len = text.len;
    } else {
        r.iconv_name = t->encoding;
        if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
            start = 3;
    }

    /* the lines, and where the blank lines at the end begin */
    size_t n = 0, cap = 0, last = 0;
    s_span_t *lines = NULL;
    int rc = 0;
    for (size_t p = start; p < len;) {
        const uint8_t *nl = memchr(src + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - src) : len;
        size_t b = e > p && src[e - 1] == '\r' ? e - 1 : e;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            s_span_t *nw = realloc(lines, cap * sizeof(*lines));
            if (!nw) {
                rc = RZ_ENOMEM;
                snprintf(err, err_len, "%s", "out of memory");
                goto done;
            }
            lines = nw;
        }
        lines[n++] = (s_span_t){p, b};
        if (!s_blank(src + p, b - p))
            last = n;
        p = nl ? e + 1 : len;
    }
    uint64_t first = in->first_line ? in->first_line : 1;

    /* An input where no line has the record's length is another format
     * (or another layout) altogether: the drop folder's failed/, not a
     * quarantine full of lines. A tailed chunk or a retried record is
     * judged line by line. */
    if (!in->partial) {
        size_t i = 0;
        for (; i < last; i++) {
            if (s_decode(&r, src + lines[i].a, lines[i].b - lines[i].a))
                continue;
            if (r.line.chars == RZ_TAX_RECORD_LEN)
                break;
        }
        if (i == last) {
            size_t c0 = 0;
            if (last &&
                !s_decode(&r, src + lines[0].a, lines[0].b - lines[0].a))
                c0 = r.line.chars;
            snprintf(err, err_len,
                     "not a fixed-width assessment export: no line is %d "
                     "characters long (line %llu is %zu)",
                     RZ_TAX_RECORD_LEN, (unsigned long long)first, c0);
            rc = RZ_EINVAL;
            goto done;
        }
    }

    char *words = NULL; /* the current line, decoded word by word */
    rz_tax_doc_t *doc = malloc(sizeof(*doc));
    if (!doc) {
        rc = RZ_ENOMEM;
        snprintf(err, err_len, "%s", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < last; i++) {
        char key[40];
        snprintf(key, sizeof(key), "line %llu",
                 (unsigned long long)(first + i));
        /* the record as received: the line's bytes in the input */
        size_t a = lines[i].a, b = lines[i].b;
        size_t oa = map ? map[a] : a, ob = map ? map[b] : b;
        rz_record_ref_t ref = {first + i, key, data + oa, ob - oa};
        r.why[0] = '\0';
        if (s_blank(src + a, b - a)) {
            rz_out_quarantine(out, &ref, "blank line between records");
            continue;
        }
        size_t bad = text.n_bad ? rzc_text_bad_in(&text, oa, ob) : SIZE_MAX;
        const uint8_t *line_text = src + a;
        size_t line_len = b - a;
        free(words);
        words = NULL;
        if (bad != SIZE_MAX && strncmp(text.encoding, "UTF-8", 5) == 0) {
            size_t wbad;
            if (s_words(data + oa, ob - oa, ob == in->len, &words, &line_len,
                        &wbad)) {
                rc = RZ_ENOMEM;
                snprintf(err, err_len, "%s", "out of memory");
                break;
            }
            line_text = (const uint8_t *)words;
            bad = wbad == SIZE_MAX ? SIZE_MAX : oa + wbad;
        }
        if (bad != SIZE_MAX) {
            if (enc == RZC_ENC_AUTO)
                s_why(&r,
                      "byte 0x%02x at offset %zu is neither UTF-8 nor "
                      "Windows-1250",
                      data[bad], bad);
            else
                s_why(&r, "byte 0x%02x at offset %zu is not valid %s",
                      data[bad], bad, text.encoding);
            rz_out_quarantine(out, &ref, r.why);
            continue;
        }
        int d = s_decode(&r, line_text, line_len);
        if (d == RZ_ENOMEM) {
            rc = d;
            snprintf(err, err_len, "%s", "out of memory");
            break;
        }
        if (d) {
            rz_out_quarantine(out, &ref, r.why);
            continue;
        }
        if (r.line.chars != RZ_TAX_RECORD_LEN) {
            s_why(&r,
                  "record is %zu characters long, expected %d (the "
                  "layout ends with data decyzji, columns 213-220)",
                  r.line.chars, RZ_TAX_RECORD_LEN);
            rz_out_quarantine(out, &ref, r.why);
            continue;
        }
        long c = s_control(&r.line);
        if (c >= 0) {
            s_why(&r, "control character 0x%02x at column %ld",
                  (uint8_t)r.line.text[r.line.off[c]], c + 1);
            rz_out_quarantine(out, &ref, r.why);
            continue;
        }
        if (s_record(&r, doc)) {
            rz_out_quarantine(out, &ref, r.why);
            continue;
        }
        char why[300];
        int e = rz__tax_emit(doc, &ref, out, why, sizeof(why));
        if (e == RZ_ENOMEM) {
            rc = e;
            snprintf(err, err_len, "%s", "out of memory");
            break;
        }
        if (e < 0)
            rz_out_quarantine(out, &ref, why);
    }
    free(doc);
    free(words);
done:
    free(lines);
    free(r.line.text);
    free(map);
    rzc_text_free(&text);
    return rc;
}
