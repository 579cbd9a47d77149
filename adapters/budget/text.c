/* text.c - what the budget formats share: encodings, exact amounts, dates
 * in Poland, TERYT codes, ids and event building. */
#include "budget.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Encodings
 */

/* Written by hand because iconv can only validate by converting into a
 * second buffer, and every input goes through this check. */
size_t rzb_utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t min, cp;
        if ((c & 0xe0) == 0xc0) {
            n = 2, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n;
    }
    return len;
}

static int s_iconv_all(const char *to, const char *from, const char *in,
                       size_t len, char **out, size_t *out_len, size_t *bad_at)
{
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return RZ_EINVAL;
    /* one Windows-1250 byte is at most 3 bytes of UTF-8 */
    size_t cap = len * 3 + 1;
    char *buf = malloc(cap);
    if (!buf) {
        iconv_close(cd);
        return RZ_ENOMEM;
    }
    char *ip = (char *)in, *op = buf;
    size_t il = len, ol = cap - 1;
    int rc = 0;
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
        *bad_at = (size_t)(ip - in);
        rc = errno == E2BIG ? RZ_ENOMEM : RZ_EINVAL;
        free(buf);
        buf = NULL;
    } else {
        *op = '\0';
        *out_len = (size_t)(op - buf);
    }
    iconv_close(cd);
    *out = buf;
    return rc;
}

int rzb_text_decode(rzb_text_t *t, const uint8_t *data, size_t len, int enc,
                    char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    t->orig = data;
    t->orig_len = len;
    if (len >= 2 && ((data[0] == 0xff && data[1] == 0xfe) ||
                     (data[0] == 0xfe && data[1] == 0xff))) {
        snprintf(err, err_len,
                 "UTF-16 input (byte order mark %02x %02x) is "
                 "not supported: export as UTF-8 or Windows-1250",
                 data[0], data[1]);
        return RZ_EINVAL;
    }
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf)
        t->bom = 3;
    const uint8_t *body = data + t->bom;
    size_t blen = len - t->bom;
    size_t bad = blen;
    if (enc != RZB_ENC_CP1250)
        bad = rzb_utf8_invalid_at(body, blen);
    if (enc == RZB_ENC_UTF8 || (enc == RZB_ENC_AUTO && bad == blen) ||
        (enc == RZB_ENC_AUTO && t->bom)) {
        if (bad != blen) {
            snprintf(err, err_len,
                     "byte 0x%02x at offset %zu is not valid "
                     "UTF-8%s",
                     body[bad], bad + t->bom,
                     t->bom ? " (the input starts with a UTF-8 BOM)" : "");
            return RZ_EINVAL;
        }
        t->text = (const char *)body;
        t->len = blen;
        t->encoding = t->bom ? "UTF-8 (BOM)" : "UTF-8";
        return 0;
    }
    size_t bad_at = 0;
    int rc = s_iconv_all("UTF-8", "WINDOWS-1250", (const char *)body, blen,
                         &t->owned, &t->len, &bad_at);
    if (rc == RZ_EINVAL) {
        snprintf(err, err_len,
                 "byte 0x%02x at offset %zu is neither UTF-8 "
                 "nor Windows-1250",
                 bad_at < blen ? body[bad_at] : 0, bad_at + t->bom);
        return rc;
    }
    if (rc) {
        snprintf(err, err_len, "out of memory decoding Windows-1250");
        return rc;
    }
    t->text = t->owned;
    t->encoding = "windows-1250";
    return 0;
}

void rzb_text_free(rzb_text_t *t)
{
    free(t->owned);
    t->owned = NULL;
}

char *rzb_to_cp1250(const char *s, size_t len, size_t *out_len,
                    uint64_t *unmappable)
{
    iconv_t cd = iconv_open("WINDOWS-1250", "UTF-8");
    if (cd == (iconv_t)-1)
        return NULL;
    char *buf = malloc(len + 1);
    if (!buf) {
        iconv_close(cd);
        return NULL;
    }
    char *ip = (char *)s, *op = buf;
    size_t il = len, ol = len;
    while (il > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            break;
        if (errno != EILSEQ && errno != EINVAL)
            break; /* E2BIG cannot happen: output never outgrows input */
        /* a character Windows-1250 lacks: '?' for the whole sequence */
        size_t skip = 1;
        while (skip < il && ((uint8_t)ip[skip] & 0xc0) == 0x80)
            skip++;
        ip += skip;
        il -= skip;
        *op++ = '?';
        ol--;
        (*unmappable)++;
    }
    iconv_close(cd);
    *op = '\0';
    *out_len = (size_t)(op - buf);
    return buf;
}

/* ---------------------------------------------------------------------------
 * Numbers
 */

int rzb_uint(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* Grouping characters between digits: ASCII space, NO-BREAK SPACE and
 * NARROW NO-BREAK SPACE (spreadsheets write "1 234,56" with either).
 * Returns the length of the one at s, or 0. */
static size_t s_group_space(const char *s)
{
    const uint8_t *u = (const uint8_t *)s;
    if (u[0] == ' ')
        return 1;
    if (u[0] == 0xc2 && u[1] == 0xa0)
        return 2;
    if (u[0] == 0xe2 && u[1] == 0x80 && u[2] == 0xaf)
        return 3;
    return 0;
}

/* Hand-written: strtod would go through binary floating point, and no
 * library parses Polish decimal text into exact integers. */
int rzb_grosze(const char *s, int64_t scale, int64_t *out, const char **why)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    /* digits into m; remember the separators' positions */
    uint64_t m = 0;
    int digits = 0, frac = -1, dots = 0, commas = 0;
    char last_sep = 0;
    int since_sep = 0;
    for (;;) {
        size_t g;
        if (*p >= '0' && *p <= '9') {
            if (m > (UINT64_MAX - 9) / 10)
                goto range;
            m = m * 10 + (uint64_t)(*p - '0');
            digits++;
            since_sep++;
            p++;
        } else if (*p == ',' || *p == '.') {
            if (!digits)
                goto nan;
            if (*p == ',')
                commas++;
            else
                dots++;
            last_sep = *p;
            since_sep = 0;
            frac = digits;
            p++;
        } else if (digits && (g = s_group_space(p)) && p[g] >= '0' &&
                   p[g] <= '9') {
            p += g;
        } else {
            break;
        }
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p || !digits || since_sep == 0)
        goto nan;
    int fd = 0;
    if (frac >= 0) {
        /* "1.234.567" or "1.234,56": only the last separator may be the
         * decimal one, and only if it occurs once; the others group by 3 */
        int last_count = last_sep == ',' ? commas : dots;
        int other_count = last_sep == ',' ? dots : commas;
        if (last_count == 1) {
            fd = since_sep;
        } else if (other_count == 0 && since_sep == 3) {
            fd = 0; /* only grouping separators */
        } else {
            goto nan;
        }
    }
    /* grosze = m * scale * 100 / 10^fd, which must be a whole number */
    uint64_t num = m, den = 1;
    for (int i = 0; i < fd; i++) {
        if (den > UINT64_MAX / 10)
            goto range;
        den *= 10;
    }
    uint64_t mul = (uint64_t)scale * 100;
    /* cancel common factors of 10 first so that large scales do not
     * overflow before the division */
    while (den > 1 && mul % 10 == 0) {
        mul /= 10;
        den /= 10;
    }
    while (den > 1 && num % 10 == 0) {
        num /= 10;
        den /= 10;
    }
    if (num % den != 0) {
        *why = "has fractions of a grosz";
        return -1;
    }
    num /= den;
    uint64_t v;
    if (__builtin_mul_overflow(num, mul, &v) || v > (uint64_t)INT64_MAX)
        goto range;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
nan:
    *why = "is not a number";
    return -1;
range:
    *why = "is out of range";
    return -1;
}

/* ---------------------------------------------------------------------------
 * Dates in Poland
 */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Unix seconds of 01:00 UTC on the last Sunday of month m. */
static int64_t s_last_sunday_1utc(int y, int m)
{
    int64_t last = s_days(y, m, 31); /* March and October have 31 days */
    int64_t wday = (last + 4) % 7;   /* 1970-01-01 was a Thursday; 0=Sunday */
    if (wday < 0)
        wday += 7;
    return (last - wday) * 86400 + 3600;
}

/* Poland keeps the EU rule (since 1996): CEST, UTC+2, from 01:00 UTC on
 * the last Sunday of March to 01:00 UTC on the last Sunday of October;
 * CET, UTC+1, otherwise. Computed here rather than with localtime and TZ
 * because TZ is process-wide state a library must not change. A local time
 * that occurs twice (the October hour) is taken in summer time. */
int64_t rzb_warsaw_us(int y, int m, int d, int hh, int mi, int ss)
{
    int64_t local = s_days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss;
    int64_t summer = local - 7200;
    if (summer >= s_last_sunday_1utc(y, 3) &&
        summer < s_last_sunday_1utc(y, 10))
        return summer * 1000000;
    return (local - 3600) * 1000000;
}

int64_t rzb_warsaw_day_us(int y, int m, int d, int plus_days)
{
    /* civil date of days-since-epoch (H. Hinnant's algorithm) */
    int64_t days = s_days(y, m, d) + plus_days + 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    int yy = (int)(yoe + era * 400 + (mm <= 2));
    return rzb_warsaw_us(yy, mm, dd, 0, 0, 0);
}

int64_t rzb_period_end_us(const char *period)
{
    int64_t y, n;
    char ybuf[5];
    if (strlen(period) < 4)
        return 0;
    memcpy(ybuf, period, 4);
    ybuf[4] = '\0';
    if (rzb_uint(ybuf, 9999, &y) || y < 1900)
        return 0;
    const char *rest = period + 4;
    if (!*rest)
        return rzb_warsaw_us((int)y + 1, 1, 1, 0, 0, 0);
    if (rest[0] == '-' && (rest[1] == 'Q' || rest[1] == 'q') &&
        rzb_uint(rest + 2, 4, &n) == 0 && n >= 1) {
        int m = (int)n * 3 + 1;
        return m > 12 ? rzb_warsaw_us((int)y + 1, 1, 1, 0, 0, 0)
                      : rzb_warsaw_us((int)y, m, 1, 0, 0, 0);
    }
    if (rest[0] == '-' && strlen(rest) == 3 &&
        rzb_uint(rest + 1, 12, &n) == 0 && n >= 1) {
        return n == 12 ? rzb_warsaw_us((int)y + 1, 1, 1, 0, 0, 0)
                       : rzb_warsaw_us((int)y, (int)n + 1, 1, 0, 0, 0);
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * TERYT, names, ids
 */

int rzb_is_missing(const char *s)
{
    static const char *const words[] = {"-", "none", "null", "nan"};
    if (!s)
        return 1;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = 0;
        while (k < n && words[i][k] &&
               (s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]) == words[i][k])
            k++;
        if (k == n && !words[i][k])
            return 1;
    }
    return 0;
}

int rzb_is_terc(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return 0;
    return n == 2 || n == 4 || n == 7;
}

int rzb_tenant_from_code(const char *code, char out[8])
{
    if (strlen(code) != 7)
        return -1;
    for (int i = 0; i < 7; i++)
        if (code[i] < '0' || code[i] > '9')
            return -1;
    int pow0 = code[2] == '0' && code[3] == '0';
    int gmi0 = code[4] == '0' && code[5] == '0' && code[6] == '0';
    if (code[0] == '0' && code[1] == '0')
        return -1; /* the whole country: no tenant */
    if (pow0 && !gmi0)
        return -1;
    size_t n = pow0 ? 2 : gmi0 ? 4 : 7;
    memcpy(out, code, n);
    out[n] = '\0';
    return 0;
}

/* ASCII for a UTF-8 Polish letter at s (length in *n), or 0. */
static char s_fold_pl(const uint8_t *s, size_t *n)
{
    static const struct {
        uint8_t a, b;
        char c;
    } map[] = {
        {0xc4, 0x85, 'a'}, {0xc4, 0x84, 'a'}, {0xc4, 0x87, 'c'},
        {0xc4, 0x86, 'c'}, {0xc4, 0x99, 'e'}, {0xc4, 0x98, 'e'},
        {0xc5, 0x82, 'l'}, {0xc5, 0x81, 'l'}, {0xc5, 0x84, 'n'},
        {0xc5, 0x83, 'n'}, {0xc3, 0xb3, 'o'}, {0xc3, 0x93, 'o'},
        {0xc5, 0x9b, 's'}, {0xc5, 0x9a, 's'}, {0xc5, 0xba, 'z'},
        {0xc5, 0xb9, 'z'}, {0xc5, 0xbc, 'z'}, {0xc5, 0xbb, 'z'},
    };
    if (s[0] < 0x80) {
        *n = 1;
        char c = (char)s[0];
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (s[0] == map[i].a && s[1] == map[i].b) {
            *n = 2;
            return map[i].c;
        }
    *n = 1;
    return 0;
}

void rzb_fold(const char *s, char *out, size_t len)
{
    size_t o = 0;
    int space = 0;
    const uint8_t *p = (const uint8_t *)s;
    if (!len)
        return;
    while (*p) {
        size_t n;
        char c = s_fold_pl(p, &n);
        if (c == 0) { /* other non-ASCII: kept as is ("§") */
            if (o + 1 < len)
                out[o++] = (char)*p;
            p++;
            continue;
        }
        p += n;
        if (c == ' ' || c == '_' || c == '\t' || c == '\r' || c == '\n') {
            space = o > 0;
            continue;
        }
        if (space && o + 1 < len)
            out[o++] = ' ';
        space = 0;
        if (o + 1 < len)
            out[o++] = c;
    }
    out[o] = '\0';
}

void rzb_slug(const char *s, char *out, size_t len)
{
    size_t o = 0;
    int dash = 0;
    const uint8_t *p = (const uint8_t *)s;
    if (!len)
        return;
    while (*p) {
        size_t n;
        char c = s_fold_pl(p, &n);
        p += n;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o > 0 && o + 1 < len)
                out[o++] = '-';
            dash = 0;
            if (o + 1 < len)
                out[o++] = c;
        } else {
            dash = 1;
        }
    }
    out[o] = '\0';
}

char *rzb_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int rzb_quarantine(rz_out_t *out, const rz_record_ref_t *ref, const char *fmt,
                   ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* the reason is one line */
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* a failure here is the runtime's to handle (see adapter.h) */
    (void)rz_out_quarantine(out, ref, why);
    return 0;
}

int rzb_emit(rz_out_t *out, const rz_record_ref_t *ref,
             const Ratusz__V1__Event *ev)
{
    /* an event the bus would refuse (rz_out_event checks it), or one the
     * runtime could not take, has its record quarantined; the module goes
     * on with the next one */
    (void)rz_out_event(out, ref, ev);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Events
 */

void rzb_ev_init(rzb_ev_t *e)
{
    memset(e, 0, sizeof *e);
    rzb_ev_budget(e, "");
}

static void s_ev_clear(rzb_ev_t *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    e->n_owned = 0;
    ratusz__v1__event__init(&e->ev);
    ratusz__v1__budget_entry__init(&e->b);
    ratusz__v1__raw_data__init(&e->raw);
    e->id[0] = '\0';
    e->tenant[0] = '\0';
    e->ev.id = e->id;
    e->ev.tenant = e->tenant;
}

void rzb_ev_budget(rzb_ev_t *e, const char *type)
{
    s_ev_clear(e);
    e->ev.type = (char *)type;
    e->ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    e->ev.budget = &e->b;
    e->b.currency = "PLN";
    e->b.attributes = e->attrp;
}

void rzb_ev_raw(rzb_ev_t *e, const char *type, const char *content_type,
                const uint8_t *bytes, size_t len)
{
    s_ev_clear(e);
    e->ev.type = (char *)type;
    e->ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    e->ev.raw = &e->raw;
    e->raw.content_type = (char *)content_type;
    e->raw.bytes.data = (uint8_t *)bytes;
    e->raw.bytes.len = len;
}

int rzb_ev_attr(rzb_ev_t *e, const char *key, const char *value)
{
    size_t n = e->b.n_attributes;
    if (n == e->attr_cap) {
        size_t cap = e->attr_cap ? e->attr_cap * 2 : 16;
        Ratusz__V1__BudgetEntry__AttributesEntry *a = malloc(cap * sizeof *a);
        Ratusz__V1__BudgetEntry__AttributesEntry **ap =
            malloc(cap * sizeof *ap);
        if (!a || !ap) {
            free(a);
            free(ap);
            return RZ_ENOMEM;
        }
        if (n)
            memcpy(a, e->attr, n * sizeof *a);
        for (size_t i = 0; i < cap; i++)
            ap[i] = &a[i];
        free(e->attr);
        free(e->attrp);
        e->attr = a;
        e->attrp = ap;
        e->attr_cap = cap;
        e->b.attributes = ap;
    }
    ratusz__v1__budget_entry__attributes_entry__init(&e->attr[n]);
    e->attr[n].key = (char *)key;
    e->attr[n].value = (char *)value;
    e->b.n_attributes = n + 1;
    return 0;
}

char *rzb_ev_own(rzb_ev_t *e, char *s)
{
    if (!s)
        return NULL;
    if (e->n_owned == e->owned_cap) {
        size_t cap = e->owned_cap ? e->owned_cap * 2 : 8;
        char **o = realloc(e->owned, cap * sizeof *o);
        if (!o) {
            free(s);
            return NULL;
        }
        e->owned = o;
        e->owned_cap = cap;
    }
    e->owned[e->n_owned++] = s;
    return s;
}

void rzb_ev_free(rzb_ev_t *e)
{
    s_ev_clear(e);
    free(e->owned);
    free(e->attr);
    free(e->attrp);
    memset(e, 0, sizeof *e);
}

const char *rzb_ev_source(rzb_ev_t *e, const rzb_state_t *st,
                          const char *system)
{
    if (st->source && *st->source)
        return st->source;
    return rzb_ev_own(e, rzb_printf("/%s/budget/%s", e->tenant, system));
}

/* ---------------------------------------------------------------------------
 * A set of strings (open addressing, FNV-1a)
 */

static uint64_t s_hash(const char *k)
{
    uint64_t h = 14695981039346656037ull;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return h;
}

int rzb_set_add(rzb_set_t *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return RZ_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t j = s_hash(s->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t j = s_hash(key) & (s->cap - 1);
    while (s->slot[j]) {
        if (strcmp(s->slot[j], key) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    if (!(s->slot[j] = strdup(key)))
        return RZ_ENOMEM;
    s->n++;
    return 0;
}

int rzb_set_has(const rzb_set_t *s, const char *key)
{
    if (!s->cap)
        return 0;
    size_t j = s_hash(key) & (s->cap - 1);
    while (s->slot[j]) {
        if (strcmp(s->slot[j], key) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

void rzb_set_free(rzb_set_t *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}
