/* text.c - UTF-8 checks, Windows-1250 through iconv, a file's text decoded
 * field by field, exact decimal amounts */
#include "ratusz/core/text.h"

#include "ratusz/errors.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==========================================================================
 * UTF-8
 *
 * By hand: iconv can only validate by converting into a second buffer,
 * and every input and every string of every record goes through this.
 */

/* Length of the well-formed sequence at s[0..len), or 0. */
static size_t s_utf8_seq(const uint8_t *s, size_t len)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t rzc_utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0, n;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (!(n = s_utf8_seq(s + i, len - i)))
            return i;
        i += n;
    }
    return len;
}

int rzc_utf8_valid(const uint8_t *s, size_t len)
{
    return rzc_utf8_invalid_at(s, len) == len;
}

size_t rzc_control_at(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') ||
            s[i] == 0x7f)
            return i;
    return len;
}

/* ==========================================================================
 * iconv
 */

int rzc_iconv(const char *to, const char *from, const char *in, size_t len,
              char **out, size_t *out_len, size_t *bad_at)
{
    *out = NULL;
    *bad_at = 0;
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return RZ_EINVAL;
    /* 4 bytes a character covers every target from a single-byte source;
     * E2BIG grows the buffer for the rest */
    size_t cap = len * 4 + 16;
    char *buf = malloc(cap);
    char *ip = (char *)in, *op = buf;
    size_t il = len, ol = cap - 1;
    int rc = buf ? 0 : RZ_ENOMEM;
    while (!rc && iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
        if (errno != E2BIG) {
            *bad_at = (size_t)(ip - in);
            rc = RZ_EINVAL;
            break;
        }
        size_t used = (size_t)(op - buf);
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            rc = RZ_ENOMEM;
            break;
        }
        buf = nb;
        op = buf + used;
        ol += cap;
        cap *= 2;
    }
    iconv_close(cd);
    if (rc) {
        free(buf);
        return rc;
    }
    *op = '\0';
    *out = buf;
    *out_len = (size_t)(op - buf);
    return 0;
}

/* Windows-1250 byte 0x80 + i as UTF-8: length, then the bytes; length 0
 * where the code page leaves the byte undefined. Read from iconv once, so
 * that a field can be decoded without a conversion descriptor of its own. */
static uint8_t s_cp1250[128][4];
static int s_cp1250_ok;
static pthread_once_t s_cp1250_once = PTHREAD_ONCE_INIT;

static void s_cp1250_load(void)
{
    iconv_t cd = iconv_open("UTF-8", "WINDOWS-1250");
    if (cd == (iconv_t)-1)
        return;
    for (int b = 0x80; b <= 0xff; b++) {
        char in = (char)b, outb[8];
        char *ip = &in, *op = outb;
        size_t il = 1, ol = sizeof outb;
        iconv(cd, NULL, NULL, NULL, NULL);
        if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
            continue;
        size_t n = sizeof outb - ol;
        if (n == 0 || n > 3)
            continue;
        s_cp1250[b - 0x80][0] = (uint8_t)n;
        memcpy(&s_cp1250[b - 0x80][1], outb, n);
    }
    iconv_close(cd);
    s_cp1250_ok = 1;
}

static const uint8_t *s_cp1250_char(uint8_t b)
{
    pthread_once(&s_cp1250_once, s_cp1250_load);
    return s_cp1250[b - 0x80];
}

int rzc_cp1250_decode(const uint8_t *in, size_t len, char **out,
                      size_t *out_len, uint32_t **map, size_t *bad_at)
{
    *out = NULL;
    if (map)
        *map = NULL;
    pthread_once(&s_cp1250_once, s_cp1250_load);
    if (!s_cp1250_ok) {
        *bad_at = 0;
        return RZ_EINVAL;
    }
    if (len > UINT32_MAX / 4)
        return RZ_ENOMEM;
    char *o = malloc(len * 3 + 1);
    uint32_t *m = map ? malloc((len * 3 + 1) * sizeof *m) : NULL;
    size_t n = 0;
    if (!o || (map && !m))
        goto nomem;
    for (size_t i = 0; i < len; i++) {
        if (in[i] < 0x80) {
            if (m)
                m[n] = (uint32_t)i;
            o[n++] = (char)in[i];
            continue;
        }
        const uint8_t *u = s_cp1250_char(in[i]);
        if (u[0] == 0) {
            *bad_at = i;
            free(o);
            free(m);
            return RZ_EINVAL;
        }
        for (int k = 0; k < u[0]; k++) {
            if (m)
                m[n] = (uint32_t)i;
            o[n++] = (char)u[1 + k];
        }
    }
    o[n] = '\0';
    if (m) {
        m[n] = (uint32_t)len;
        *map = m;
    }
    *out = o;
    *out_len = n;
    return 0;
nomem:
    free(o);
    free(m);
    return RZ_ENOMEM;
}

char *rzc_cp1250_encode(const char *s, size_t len, size_t *out_len,
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

/* ==========================================================================
 * A file's text
 */

typedef struct s_out {
    char *p;
    size_t n;
    rzc_text_t *t;
    size_t bad_cap;
} s_out_t;

static void s_put(s_out_t *o, const void *b, size_t n)
{
    memcpy(o->p + o->n, b, n);
    o->n += n;
}

static int s_bad(s_out_t *o, size_t at)
{
    rzc_text_t *t = o->t;
    if (t->n_bad == o->bad_cap) {
        size_t cap = o->bad_cap ? o->bad_cap * 2 : 8;
        size_t *b = realloc(t->bad, cap * sizeof *b);
        if (!b)
            return RZ_ENOMEM;
        t->bad = b;
        o->bad_cap = cap;
    }
    t->bad[t->n_bad++] = at;
    s_put(o, "\xef\xbf\xbd", 3); /* U+FFFD */
    return 0;
}

static int s_is_sep(uint8_t c)
{
    return c == '\n' || c == '\r' || c == ',' || c == ';' || c == '\t' ||
           c == '|' || c == '"';
}

/* Is the well-formed n-byte sequence at s a letter a Latin-script UTF-8
 * text holds (U+00A0..U+024F) or typographic punctuation (U+2000..U+20FF)?
 * Windows-1250 text forms other well-formed pairs by accident: "ÓŁ" in
 * capitals is D3 A3, which UTF-8 reads as a Cyrillic letter. */
static int s_latin(const uint8_t *s, size_t n)
{
    uint32_t cp = n == 2   ? ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu)
                  : n == 3 ? ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) |
                                 (s[2] & 0x3fu)
                           : 0;
    return (cp >= 0xa0 && cp <= 0x24f) || (cp >= 0x2000 && cp <= 0x20ff);
}

/* A field of a UTF-8 file with bytes that are not UTF-8: Windows-1250 if it
 * can only be that, else U+FFFD for each bad byte. */
static int s_field(s_out_t *o, const uint8_t *b, size_t len, size_t base,
                   int at_end)
{
    int letters = 0, cp1250 = 1, cut = 0;
    for (size_t i = 0, n; i < len; i += n) {
        n = b[i] < 0x80 ? 1 : s_utf8_seq(b + i, len - i);
        if (n > 1 && s_latin(b + i, n))
            letters++;
        if (n == 0) {
            n = 1;
            if (!s_cp1250_char(b[i])[0])
                cp1250 = 0;
            /* a lead byte whose letter the end of the input cut off */
            size_t want = (b[i] & 0xe0) == 0xc0   ? 2
                          : (b[i] & 0xf0) == 0xe0 ? 3
                          : (b[i] & 0xf8) == 0xf0 ? 4
                                                  : 0;
            if (at_end && want && i + want > len) {
                size_t k = i + 1;
                while (k < len && (b[k] & 0xc0) == 0x80)
                    k++;
                cut = cut || k == len;
            }
        }
    }
    if (cp1250 && !letters && !cut) {
        for (size_t i = 0; i < len; i++) {
            if (b[i] < 0x80) {
                s_put(o, &b[i], 1);
            } else {
                const uint8_t *u = s_cp1250_char(b[i]);
                s_put(o, u + 1, u[0]);
            }
        }
        o->t->repaired++;
        return 0;
    }
    for (size_t i = 0, n; i < len; i += n) {
        n = b[i] < 0x80 ? 1 : s_utf8_seq(b + i, len - i);
        if (n) {
            s_put(o, b + i, n);
        } else {
            n = 1;
            if (s_bad(o, base + i))
                return RZ_ENOMEM;
        }
    }
    return 0;
}

static int s_decode_utf8(s_out_t *o, const uint8_t *b, size_t len, size_t base)
{
    size_t i = 0;
    while (i < len) {
        if (s_is_sep(b[i])) {
            s_put(o, &b[i++], 1);
            continue;
        }
        size_t e = i;
        while (e < len && !s_is_sep(b[e]))
            e++;
        if (rzc_utf8_valid(b + i, e - i))
            s_put(o, b + i, e - i);
        else if (s_field(o, b + i, e - i, base + i, e == len))
            return RZ_ENOMEM;
        i = e;
    }
    return 0;
}

static int s_decode_cp1250(s_out_t *o, const uint8_t *b, size_t len,
                           size_t base)
{
    for (size_t i = 0; i < len; i++) {
        if (b[i] < 0x80) {
            s_put(o, &b[i], 1);
            continue;
        }
        const uint8_t *u = s_cp1250_char(b[i]);
        if (u[0])
            s_put(o, u + 1, u[0]);
        else if (s_bad(o, base + i))
            return RZ_ENOMEM;
    }
    return 0;
}

int rzc_text_decode(rzc_text_t *t, const uint8_t *data, size_t len, int enc,
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
    /* the file's encoding, from its bytes */
    size_t letters = 0, stray = 0;
    for (size_t i = 0, n; i < blen; i += n) {
        n = body[i] < 0x80 ? 1 : s_utf8_seq(body + i, blen - i);
        if (n > 1)
            letters++;
        if (n == 0) {
            stray++;
            n = 1;
        }
    }
    int utf8 = enc == RZC_ENC_UTF8 || t->bom ||
               (enc == RZC_ENC_AUTO && (stray == 0 || letters > stray));
    t->encoding = !utf8 ? "windows-1250" : t->bom ? "UTF-8 (BOM)" : "UTF-8";
    if (utf8 && stray == 0) {
        t->text = (const char *)body;
        t->len = blen;
        return 0;
    }
    s_out_t o = {.t = t};
    if (!(o.p = malloc(blen * 3 + 1)))
        goto nomem;
    if ((utf8 ? s_decode_utf8 : s_decode_cp1250)(&o, body, blen, t->bom))
        goto nomem;
    o.p[o.n] = '\0';
    t->owned = o.p;
    t->text = o.p;
    t->len = o.n;
    return 0;
nomem:
    free(o.p);
    rzc_text_free(t);
    snprintf(err, err_len, "out of memory decoding %zu bytes", len);
    return RZ_ENOMEM;
}

size_t rzc_text_bad_in(const rzc_text_t *t, size_t from, size_t to)
{
    for (size_t i = 0; i < t->n_bad; i++)
        if (t->bad[i] >= from && t->bad[i] < to)
            return t->bad[i];
    return SIZE_MAX;
}

void rzc_text_free(rzc_text_t *t)
{
    free(t->owned);
    free(t->bad);
    t->owned = NULL;
    t->bad = NULL;
    t->n_bad = 0;
}

/* ==========================================================================
 * Decimal numbers
 */

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
int rzc_decimal(const char *s, int64_t mult, int flags, int64_t *out)
{
    const char *p = s;
    int groups = flags & RZC_DEC_GROUPS;
    while (groups && (*p == ' ' || *p == '\t'))
        p++;
    int neg = 0;
    if ((flags & RZC_DEC_SIGN) && (*p == '-' || *p == '+')) {
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
                return RZC_DEC_RANGE;
            m = m * 10 + (uint64_t)(*p - '0');
            digits++;
            since_sep++;
            p++;
        } else if (*p == ',' || *p == '.') {
            if (!digits)
                return RZC_DEC_NAN;
            if (*p == ',')
                commas++;
            else
                dots++;
            last_sep = *p;
            since_sep = 0;
            frac = digits;
            p++;
        } else if (groups && digits && (g = s_group_space(p)) &&
                   p[g] >= '0' && p[g] <= '9') {
            p += g;
        } else {
            break;
        }
    }
    while (groups && (*p == ' ' || *p == '\t'))
        p++;
    if (*p || !digits || since_sep == 0)
        return RZC_DEC_NAN;
    int fd = 0;
    if (frac >= 0) {
        /* "1.234.567" or "1.234,56": only the last separator may be the
         * decimal one, and only if it occurs once; the others group by 3 */
        int last_count = last_sep == ',' ? commas : dots;
        int other_count = last_sep == ',' ? dots : commas;
        if (last_count == 1 && (groups || other_count == 0))
            fd = since_sep;
        else if (groups && other_count == 0 && since_sep == 3)
            fd = 0; /* only grouping separators */
        else
            return RZC_DEC_NAN;
    }
    /* value = m * mult / 10^fd, which must be a whole number */
    uint64_t num = m, den = 1;
    for (int i = 0; i < fd; i++) {
        if (den > UINT64_MAX / 10)
            return RZC_DEC_RANGE;
        den *= 10;
    }
    uint64_t mul = (uint64_t)mult;
    /* cancel common factors of 10 first so that large multipliers do not
     * overflow before the division */
    while (den > 1 && mul % 10 == 0) {
        mul /= 10;
        den /= 10;
    }
    while (den > 1 && num % 10 == 0) {
        num /= 10;
        den /= 10;
    }
    if (num % den != 0)
        return RZC_DEC_FRACTION;
    num /= den;
    uint64_t v;
    if (__builtin_mul_overflow(num, mul, &v) || v > (uint64_t)INT64_MAX)
        return RZC_DEC_RANGE;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int rzc_grosze(const char *s, int64_t scale, int64_t *out, const char **why)
{
    int64_t mult;
    int rc = RZC_DEC_RANGE;
    if (!__builtin_mul_overflow(scale, (int64_t)100, &mult))
        rc = rzc_decimal(s, mult, RZC_DEC_SIGN | RZC_DEC_GROUPS, out);
    switch (rc) {
    case 0:
        return 0;
    case RZC_DEC_FRACTION:
        *why = "has fractions of a grosz";
        break;
    case RZC_DEC_RANGE:
        *why = "is out of range";
        break;
    default:
        *why = "is not a number";
    }
    return -1;
}

/* ==========================================================================
 * Where decoded text came from
 */

/* The decoding is replayed over orig and text side by side: an ASCII byte
 * is itself, a bad byte is U+FFFD, a UTF-8 letter that text repeats is
 * itself (a field repaired as Windows-1250 has none of its own), and
 * anything else is one Windows-1250 byte. */
int rzc_text_map(const rzc_text_t *t, size_t **map)
{
    size_t *m = malloc((t->len + 1) * sizeof *m);
    *map = m;
    if (!m)
        return RZ_ENOMEM;
    const uint8_t *o = t->orig, *x = (const uint8_t *)t->text;
    int cp1250 = t->encoding && !strcmp(t->encoding, "windows-1250");
    size_t i = t->bom, j = 0, k = 0;
    while (j < t->len && i < t->orig_len) {
        size_t in = 1, out = 1, n;
        if (o[i] >= 0x80) {
            if (k < t->n_bad && t->bad[k] == i) {
                out = 3;
                k++;
            } else if (!cp1250 &&
                       (n = s_utf8_seq(o + i, t->orig_len - i)) > 0 &&
                       j + n <= t->len && !memcmp(x + j, o + i, n)) {
                in = out = n;
            } else {
                out = s_cp1250_char(o[i])[0];
                out = out ? out : 1;
            }
        }
        for (size_t q = 0; q < out && j < t->len; q++)
            m[j++] = i;
        i += in;
    }
    while (j <= t->len)
        m[j++] = t->orig_len;
    return 0;
}
