/* check.c - what both tax readers need: identifier checksums, EGiB parcel
 * ids, exact decimals, dates in Europe/Warsaw, UTF-8 validation.
 *
 * Amounts never pass through floating point: "285,36" is parsed digit by
 * digit into 28536 grosze.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tax.h"

static int s_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_why(char *why, size_t len, const char *fmt, ...)
{
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int s_isdigit(int c)
{
    return c >= '0' && c <= '9';
}

/* All digits and exactly n of them. */
static int s_ndigits(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!s_isdigit((unsigned char)s[i]))
            return 0;
    return i == n;
}

/* ===========================================================================
 * Identifiers
 */

/* PESEL: YYMMDDZZZXC, the month carrying the century (+80 for the 1800s,
 * +20 for the 2000s, +40, +60), C = (10 - sum(w_i * d_i) mod 10) mod 10
 * with weights 1 3 7 9 1 3 7 9 1 3. */
int rz__tax_pesel_check(const char *s, char *why, size_t why_len)
{
    static const int w[] = {1, 3, 7, 9, 1, 3, 7, 9, 1, 3};
    if (!s_ndigits(s, 11))
        return s_why(why, why_len, "'%.32s' is not 11 digits", s);
    int sum = 0;
    for (int i = 0; i < 10; i++)
        sum += w[i] * (s[i] - '0');
    int c = (10 - sum % 10) % 10;
    if (c != s[10] - '0')
        return s_why(why, why_len, "'%s': checksum digit is %c, expected %d", s,
                     s[10], c);
    int yy = (s[0] - '0') * 10 + (s[1] - '0');
    int mm = (s[2] - '0') * 10 + (s[3] - '0');
    int dd = (s[4] - '0') * 10 + (s[5] - '0');
    int century = mm / 20, month = mm % 20;
    static const int base[] = {1900, 2000, 2100, 2200, 1800};
    if (month < 1 || month > 12)
        return s_why(why, why_len, "'%s': month %02d is not a date of birth", s,
                     mm);
    int year = base[century] + yy;
    if (dd < 1 || dd > rzc_mdays(year, month))
        return s_why(why, why_len, "'%s': %04d-%02d-%02d is not a date", s,
                     year, month, dd);
    return 0;
}

/* NIP: 10 digits, the last = sum(w_i * d_i) mod 11 with weights
 * 6 5 7 2 3 4 5 6 7 (a sum giving 10 is never issued). */
int rz__tax_nip_check(const char *s, char *why, size_t why_len)
{
    static const int w[] = {6, 5, 7, 2, 3, 4, 5, 6, 7};
    if (!s_ndigits(s, 10))
        return s_why(why, why_len, "'%.32s' is not 10 digits", s);
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += w[i] * (s[i] - '0');
    int c = sum % 11;
    if (c == 10)
        return s_why(why, why_len, "'%s': no valid NIP has this checksum", s);
    if (c != s[9] - '0')
        return s_why(why, why_len, "'%s': checksum digit is %c, expected %d", s,
                     s[9], c);
    return 0;
}

/* REGON: 9 digits (weights 8 9 2 3 4 5 6 7) or 14 (2 4 8 5 0 9 7 3 6 1 2 4
 * 8); the check digit is sum mod 11, with 10 written as 0. */
int rz__tax_regon_check(const char *s, char *why, size_t why_len)
{
    static const int w9[] = {8, 9, 2, 3, 4, 5, 6, 7};
    static const int w14[] = {2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8};
    size_t n = strlen(s);
    if (!(n == 9 && s_ndigits(s, 9)) && !(n == 14 && s_ndigits(s, 14)))
        return s_why(why, why_len, "'%.32s' is not 9 or 14 digits", s);
    const int *w = n == 9 ? w9 : w14;
    int sum = 0;
    for (size_t i = 0; i + 1 < n; i++)
        sum += w[i] * (s[i] - '0');
    int c = sum % 11 % 10;
    if (c != s[n - 1] - '0')
        return s_why(why, why_len, "'%s': checksum digit is %c, expected %d", s,
                     s[n - 1], c);
    return 0;
}

/* EGiB (rozporządzenie w sprawie ewidencji gruntów i budynków): the
 * parcel id is the TERYT unit "WWPPGG_R", the cadastral district "OOOO"
 * and the parcel number, with an optional map sheet: 221101_1.0001.161/8,
 * 146501_8.0101.AR_12.45/2. */
int rz__tax_parcel_check(const char *s, char terc[8], char *why, size_t why_len)
{
    const char *p = s;
    for (int i = 0; i < 6; i++)
        if (!s_isdigit((unsigned char)*p++))
            goto bad;
    if (*p++ != '_' || !s_isdigit((unsigned char)*p++) || *p++ != '.')
        goto bad;
    for (int i = 0; i < 4; i++)
        if (!s_isdigit((unsigned char)*p++))
            goto bad;
    if (*p++ != '.')
        goto bad;
    if (!strncmp(p, "AR_", 3)) {
        p += 3;
        if (!s_isdigit((unsigned char)*p))
            goto bad;
        while (s_isdigit((unsigned char)*p))
            p++;
        if (*p++ != '.')
            goto bad;
    }
    if (!s_isdigit((unsigned char)*p))
        goto bad;
    while (s_isdigit((unsigned char)*p))
        p++;
    if (*p == '/') {
        p++;
        if (!s_isdigit((unsigned char)*p))
            goto bad;
        while (s_isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        goto bad;
    memcpy(terc, s, 6);
    terc[6] = s[7];
    terc[7] = '\0';
    return 0;
bad:
    return s_why(why, why_len,
                 "'%.64s' is not an EGiB parcel id (WWPPGG_R.OOOO.NR, e.g. "
                 "221101_1.0001.161/8)",
                 s);
}

/* ===========================================================================
 * Numbers
 */

int rz__tax_decimal(const char *s, int scale, int64_t *out, char *why,
                    size_t why_len)
{
    int64_t mult = 1;
    for (int i = 0; i < scale; i++)
        mult *= 10;
    if (!*s)
        return s_why(why, why_len, "%s", "is empty");
    switch (rzc_decimal(s, mult, 0, out)) {
    case 0:
        /* 17 digits: what the fixed-width layouts and the schema carry */
        if (*out < 100000000000000000LL)
            return 0;
        /* fall through */
    case RZC_DEC_RANGE:
        return s_why(why, why_len, "'%.32s' is too large", s);
    case RZC_DEC_FRACTION:
        return s_why(why, why_len, "'%.32s' has more than %d decimal places",
                     s, scale);
    default:
        return s_why(why, why_len, "'%.32s' is not a number", s);
    }
}

int rz__tax_digits(const char *s, int64_t *out, char *why, size_t why_len)
{
    int64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (!s_isdigit((unsigned char)s[n]))
            return s_why(why, why_len, "'%.32s' is not a number", s);
        if (n >= 18)
            return s_why(why, why_len, "'%.32s' is too large", s);
        v = v * 10 + (s[n] - '0');
    }
    if (!n)
        return s_why(why, why_len, "%s", "is empty");
    *out = v;
    return 0;
}

int64_t rz__tax_round_zloty(int64_t grosze)
{
    return grosze >= 0 ? (grosze + 50) / 100 : -((-grosze + 50) / 100);
}

/* ===========================================================================
 * Dates
 */

static int s_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!s_isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int rz__tax_date(const char *s, int64_t *us, char *why, size_t why_len)
{
    size_t n = strlen(s);
    int y, m, d;
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        y = s_num(s, 4), m = s_num(s + 5, 2), d = s_num(s + 8, 2);
    } else if (n == 8) {
        y = s_num(s, 4), m = s_num(s + 4, 2), d = s_num(s + 6, 2);
    } else {
        return s_why(why, why_len, "'%.32s' is not a date (YYYY-MM-DD)", s);
    }
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > rzc_mdays(y, m))
        return s_why(why, why_len, "'%.32s' is not a date", s);
    if (y < 1988)
        return s_why(why, why_len,
                     "'%s' is before 1988, where the Europe/Warsaw rule of "
                     "this module starts",
                     s);
    /* Europe/Warsaw from the system's tz database: Poland followed the EU
     * rule from 1988, ending summer time in September up to 1995 */
    *us = rzc_warsaw_midnight_us(y, m, d);
    return 0;
}

/* ===========================================================================
 * Categories (the rows of DN-1 section D and of the decision layout)
 */

typedef struct s_use {
    char kind;
    const char *code, *name;
} s_use_t;

static const s_use_t s_uses[] = {
    {'G', "DG", "związane z prowadzeniem działalności gospodarczej"},
    {'G', "WO", "pod wodami"},
    {'G', "PO", "pozostałe"},
    {'G', "RE", "niezabudowane, objęte obszarem rewitalizacji"},
    {'B', "MI", "mieszkalne"},
    {'B', "DG", "związane z prowadzeniem działalności gospodarczej"},
    {'B', "MS", "obrót kwalifikowanym materiałem siewnym"},
    {'B', "ZD", "udzielanie świadczeń zdrowotnych"},
    {'B', "PO", "pozostałe"},
    {'L', "BU", "budowle"},
};

const char *rz__tax_use(char kind, const char *code)
{
    for (size_t i = 0; i < sizeof(s_uses) / sizeof(s_uses[0]); i++)
        if (s_uses[i].kind == kind && !strcmp(s_uses[i].code, code))
            return s_uses[i].name;
    return NULL;
}

/* ===========================================================================
 * Text
 */

int rz__tax_copy_trim(char *dst, size_t cap, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                   s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    if (len >= cap) {
        if (cap)
            dst[0] = '\0';
        return -1;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}
