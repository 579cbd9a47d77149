/* time.c - Europe/Warsaw and RFC 3339 for every program: one time zone from
 * the system tz database, without the TZ global
 *
 * No library reads a TZif file into a value the caller owns (libc keeps one
 * zone per process), so this does, by the layout of RFC 8536:
 *
 *   header   "TZif" version(1) unused(15) isutcnt isstdcnt leapcnt timecnt
 *            typecnt charcnt                      (six 32-bit big-endian)
 *   v1 data  timecnt x int32 times, timecnt x uint8 type index,
 *            typecnt x {int32 utoff, uint8 isdst, uint8 abbr}, charcnt,
 *            leapcnt x 8, isstdcnt, isutcnt
 *   v2+      a second header and the same data with 64-bit times (leap
 *            records 12 bytes), then "\n" POSIX-TZ-string "\n"
 *
 * The footer rule covers instants after the last transition; only its
 * Mm.w.d form is read (the one every European zone uses).
 */
#include "ratusz/core/time.h"

#include "ratusz/errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_rule_day {
    int month, week, wday; /* Mm.w.d: week 5 = the last */
    int32_t time;          /* local seconds after midnight */
} s_rule_day_t;

struct rzc_tz {
    size_t n;           /* transitions */
    int64_t *at;        /* unix times, ascending */
    int32_t *off_after; /* offset in force from at[i] on */
    int32_t first_off;  /* before the first transition */
    int has_rule;
    int32_t std_off, dst_off;
    s_rule_day_t start, end;
    int32_t offs[16]; /* every distinct offset, for local -> UTC */
    int n_offs;
};

/* ==========================================================================
 * Calendar
 */

int64_t rzc_days(int64_t y, int m, int d)
{
    /* days_from_civil (H. Hinnant): exact for any proleptic Gregorian date */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void rzc_civil(int64_t days, int64_t *y, int *m, int *d)
{
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int rzc_mdays(int64_t y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rzc_parse_local(const char *s, int64_t *local)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' ||
        (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
        return -1;
    if (s_digits(s, 4, &y) || s_digits(s + 5, 2, &mo) ||
        s_digits(s + 8, 2, &d) || s_digits(s + 11, 2, &h) ||
        s_digits(s + 14, 2, &mi) || s_digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > rzc_mdays(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    *local = rzc_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* ==========================================================================
 * The POSIX rule of the footer
 */

/* [+-]hh[:mm[:ss]] -> seconds; returns the characters read or -1. */
static int s_parse_hms(const char *p, int32_t *out)
{
    const char *s = p;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t part[3] = {0, 0, 0};
    for (int f = 0; f < 3; f++) {
        if (*p < '0' || *p > '9')
            return -1;
        for (int k = 0; *p >= '0' && *p <= '9'; k++) {
            if (k == 3)
                return -1;
            part[f] = part[f] * 10 + (*p++ - '0');
        }
        if (*p != ':' || f == 2)
            break;
        p++;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return (int)(p - s);
}

static int s_parse_name(const char **pp)
{
    const char *p = *pp;
    if (*p == '<') {
        const char *q = strchr(p, '>');
        if (!q)
            return -1;
        *pp = q + 1;
        return 0;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    if (p - *pp < 3)
        return -1;
    *pp = p;
    return 0;
}

static int s_parse_rule_day(const char **pp, s_rule_day_t *r)
{
    const char *p = *pp;
    if (*p++ != 'M')
        return -1; /* Jn and n forms: not used by European zones */
    char *e;
    long m = strtol(p, &e, 10);
    if (e == p || *e != '.' || m < 1 || m > 12)
        return -1;
    p = e + 1;
    long w = strtol(p, &e, 10);
    if (e == p || *e != '.' || w < 1 || w > 5)
        return -1;
    p = e + 1;
    long d = strtol(p, &e, 10);
    if (e == p || d < 0 || d > 6)
        return -1;
    p = e;
    r->month = (int)m;
    r->week = (int)w;
    r->wday = (int)d;
    r->time = 7200;
    if (*p == '/') {
        int n = s_parse_hms(p + 1, &r->time);
        if (n < 0)
            return -1;
        p += 1 + n;
    }
    *pp = p;
    return 0;
}

/* "CET-1CEST,M3.5.0,M10.5.0/3" (POSIX offsets are west-positive). */
static int s_parse_footer(rzc_tz_t *tz, const char *s)
{
    const char *p = s;
    int32_t off;
    int n;
    if (s_parse_name(&p) || (n = s_parse_hms(p, &off)) < 0)
        return -1;
    p += n;
    tz->std_off = -off;
    if (!*p) {
        /* no DST: a fixed offset */
        tz->dst_off = tz->std_off;
        tz->has_rule = 1;
        tz->start.month = 0;
        return 0;
    }
    if (s_parse_name(&p))
        return -1;
    tz->dst_off = tz->std_off + 3600;
    if (*p && *p != ',') {
        if ((n = s_parse_hms(p, &off)) < 0)
            return -1;
        p += n;
        tz->dst_off = -off;
    }
    if (*p++ != ',' || s_parse_rule_day(&p, &tz->start) || *p++ != ',' ||
        s_parse_rule_day(&p, &tz->end) || *p)
        return -1;
    tz->has_rule = 1;
    return 0;
}

/* Unix time of a rule's change in year y; the rule's time is local time in
 * the offset in force before the change. */
static int64_t s_rule_at(const s_rule_day_t *r, int64_t y, int32_t before)
{
    int64_t first = rzc_days(y, r->month, 1);
    int wd1 = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was Thursday */
    int day = 1 + (r->wday - wd1 + 7) % 7 + (r->week - 1) * 7;
    while (day > rzc_mdays(y, r->month))
        day -= 7;
    return (first + day - 1) * 86400 + r->time - before;
}

static int32_t s_rule_offset(const rzc_tz_t *tz, int64_t t)
{
    if (tz->start.month == 0)
        return tz->std_off;
    /* the year of t in standard time is close enough: the changes are
     * months away from New Year */
    int64_t days = (t + tz->std_off) / 86400 - ((t + tz->std_off) % 86400 < 0);
    int64_t y;
    int m, d;
    rzc_civil(days, &y, &m, &d);
    int64_t a = s_rule_at(&tz->start, y, tz->std_off);
    int64_t b = s_rule_at(&tz->end, y, tz->dst_off);
    if (a < b)
        return (t >= a && t < b) ? tz->dst_off : tz->std_off;
    return (t >= b && t < a) ? tz->std_off : tz->dst_off; /* southern */
}

/* ==========================================================================
 * TZif
 */

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t s_be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)s_be32(p) << 32 | s_be32(p + 4));
}

static void s_add_off(rzc_tz_t *tz, int32_t off)
{
    for (int i = 0; i < tz->n_offs; i++)
        if (tz->offs[i] == off)
            return;
    if (tz->n_offs < (int)(sizeof tz->offs / sizeof tz->offs[0]))
        tz->offs[tz->n_offs++] = off;
}

static int s_load_tzif(rzc_tz_t *tz, const uint8_t *b, size_t len, char *err,
                       size_t err_len)
{
    const char *why = "not a TZif file";
    if (len < 44 || memcmp(b, "TZif", 4))
        goto fail;
    int version = b[4] ? b[4] - '0' : 1;
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = s_be32(b + 20 + 4 * i);
    /* c: isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
    size_t tsz = 4, lsz = 8;
    size_t off = 44;
    if (version >= 2) {
        size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] +
                    (size_t)c[2] * 8 + c[1] + c[0];
        off += v1;
        why = "truncated v2 header";
        if (off + 44 > len || memcmp(b + off, "TZif", 4))
            goto fail;
        for (int i = 0; i < 6; i++)
            c[i] = s_be32(b + off + 20 + 4 * i);
        off += 44;
        tsz = 8;
        lsz = 12;
    }
    size_t timecnt = c[3], typecnt = c[4];
    size_t need =
        timecnt * (tsz + 1) + typecnt * 6 + c[5] + c[2] * lsz + c[1] + c[0];
    why = "truncated data block";
    if (typecnt == 0 || typecnt > 256 || off + need > len)
        goto fail;
    const uint8_t *times = b + off;
    const uint8_t *idx = times + timecnt * tsz;
    const uint8_t *types = idx + timecnt;
    tz->at = malloc((timecnt + 1) * sizeof *tz->at);
    tz->off_after = malloc((timecnt + 1) * sizeof *tz->off_after);
    why = "out of memory";
    if (!tz->at || !tz->off_after)
        goto fail;
    why = "transition with an unknown type";
    for (size_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt)
            goto fail;
        tz->at[i] =
            tsz == 8 ? s_be64(times + 8 * i) : (int32_t)s_be32(times + 4 * i);
        tz->off_after[i] = (int32_t)s_be32(types + 6 * idx[i]);
        s_add_off(tz, tz->off_after[i]);
    }
    tz->n = timecnt;
    /* RFC 8536 3.2: local time before the first transition is type 0 */
    tz->first_off = (int32_t)s_be32(types);
    s_add_off(tz, tz->first_off);
    off += need;
    if (version >= 2 && off < len && b[off] == '\n') {
        const uint8_t *nl = memchr(b + off + 1, '\n', len - off - 1);
        if (nl && nl > b + off + 1) {
            char rule[128];
            size_t rl = (size_t)(nl - (b + off + 1));
            why = "footer rule not understood";
            if (rl >= sizeof rule)
                goto fail;
            memcpy(rule, b + off + 1, rl);
            rule[rl] = '\0';
            if (s_parse_footer(tz, rule))
                goto fail;
            s_add_off(tz, tz->std_off);
            s_add_off(tz, tz->dst_off);
        }
    }
    return 0;
fail:
    snprintf(err, err_len, "%s", why);
    return -1;
}

rzc_tz_t *rzc_tz_new(const char *path, char *err, size_t err_len)
{
    rzc_tz_t *tz = calloc(1, sizeof *tz);
    uint8_t *buf = NULL;
    FILE *f = NULL;
    char why[160];
    if (!tz) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (strcmp(path, "builtin") == 0) {
        if (s_parse_footer(tz, "CET-1CEST,M3.5.0,M10.5.0/3"))
            goto fail_quiet;
        tz->first_off = tz->std_off;
        s_add_off(tz, tz->std_off);
        s_add_off(tz, tz->dst_off);
        return tz;
    }
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len,
                 "zoneinfo '%s': cannot open (install tzdata, or set "
                 "zoneinfo: builtin)",
                 path);
        goto fail;
    }
    /* TZif files are a few KB; 1 MB is far beyond any real zone */
    size_t cap = 1 << 20, len;
    buf = malloc(cap);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    len = fread(buf, 1, cap, f);
    if (s_load_tzif(tz, buf, len, why, sizeof why)) {
        snprintf(err, err_len, "zoneinfo '%s': %s", path, why);
        goto fail;
    }
    free(buf);
    fclose(f);
    return tz;
fail_quiet:
    snprintf(err, err_len, "built-in zone rule not understood");
fail:
    free(buf);
    if (f)
        fclose(f);
    rzc_tz_destroy(&tz);
    return NULL;
}

void rzc_tz_destroy(rzc_tz_t **ptz)
{
    if (!ptz || !*ptz)
        return;
    free((*ptz)->at);
    free((*ptz)->off_after);
    free(*ptz);
    *ptz = NULL;
}

int32_t rzc_tz_offset(const rzc_tz_t *tz, int64_t t)
{
    if (tz->n == 0)
        return tz->has_rule ? s_rule_offset(tz, t) : tz->first_off;
    if (t < tz->at[0])
        return tz->first_off;
    if (t >= tz->at[tz->n - 1] && tz->has_rule)
        return s_rule_offset(tz, t);
    size_t lo = 0, hi = tz->n; /* last at[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off_after[lo];
}

int rzc_tz_instants(const rzc_tz_t *tz, int64_t local, int64_t out[2])
{
    /* A wall-clock time L shows at t = L - o for every offset o that is in
     * force at t: none in a gap, two where the clock went back. */
    int n = 0;
    for (int i = 0; i < tz->n_offs; i++) {
        int64_t t = local - tz->offs[i];
        if (rzc_tz_offset(tz, t) != tz->offs[i])
            continue;
        if (n == 1 && out[0] == t)
            continue;
        if (n < 2)
            out[n++] = t;
    }
    if (n == 2 && out[0] > out[1]) {
        int64_t x = out[0];
        out[0] = out[1];
        out[1] = x;
    }
    return n;
}

int rzc_tz_to_utc(const rzc_tz_t *tz, int64_t local, int64_t *utc)
{
    int64_t t[2];
    if (rzc_tz_instants(tz, local, t) == 0)
        return RZ_EINVAL; /* the missing hour */
    *utc = t[0];          /* the only one, or the first of the repeated hour */
    return 0;
}

/* ==========================================================================
 * Europe/Warsaw
 */

static rzc_tz_t *s_warsaw;
static pthread_once_t s_warsaw_once = PTHREAD_ONCE_INIT;

static void s_warsaw_load(void)
{
    char err[160];
    s_warsaw = rzc_tz_new(RZC_WARSAW_TZIF, err, sizeof err);
    if (!s_warsaw)
        s_warsaw = rzc_tz_new("builtin", err, sizeof err);
}

const rzc_tz_t *rzc_warsaw(void)
{
    pthread_once(&s_warsaw_once, s_warsaw_load);
    return s_warsaw;
}

int rzc_warsaw_us(int64_t y, int m, int d, int hh, int mi, int ss,
                  int64_t *us)
{
    if (m < 1 || m > 12 || d < 1 || d > rzc_mdays(y, m) || hh < 0 ||
        hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60)
        return RZ_EINVAL;
    int64_t utc;
    int64_t local = rzc_days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss;
    if (rzc_tz_to_utc(rzc_warsaw(), local, &utc))
        return RZ_EINVAL;
    *us = utc * 1000000;
    return 0;
}

int64_t rzc_warsaw_midnight_us(int64_t y, int m, int d)
{
    int64_t utc, local = rzc_days(y, m, d) * 86400;
    if (rzc_tz_to_utc(rzc_warsaw(), local, &utc))
        utc = local - rzc_tz_offset(rzc_warsaw(), local - 86400);
    return utc * 1000000;
}

/* ==========================================================================
 * RFC 3339
 */

/* What a timestamp may leave out: rzc_rfc3339_parse needs every part. */
enum { S_STRICT = 1 };

static int s_parse_time(const char *s, int strict, int64_t *us)
{
    int y, mo, d = 1, h = 0, mi = 0, sec = 0;
    if (s_digits(s, 4, &y) || s[4] != '-' || s_digits(s + 5, 2, &mo))
        return RZ_EINVAL;
    const char *p = s + 7;
    int has_time = 0;
    if (*p == '-') {
        if (s_digits(p + 1, 2, &d))
            return RZ_EINVAL;
        p += 3;
        if (*p == 'T' || *p == 't' || *p == ' ') {
            if (s_digits(p + 1, 2, &h) || p[3] != ':' ||
                s_digits(p + 4, 2, &mi))
                return RZ_EINVAL;
            p += 6;
            has_time = 1;
            if (*p == ':') {
                if (s_digits(p + 1, 2, &sec))
                    return RZ_EINVAL;
                p += 3;
                has_time = 2;
            }
        }
    }
    if (strict && has_time != 2)
        return RZ_EINVAL;
    int64_t frac = 0;
    if (*p == '.' && has_time == 2) {
        int digits = 0;
        if (p[1] < '0' || p[1] > '9')
            return RZ_EINVAL;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        while (digits++ < 6)
            frac *= 10;
    }
    /* 60: a leap second, read as the first second of the next minute */
    if (mo < 1 || mo > 12 || d < 1 || d > rzc_mdays(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return RZ_EINVAL;
    int64_t t = rzc_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        /* UTC */
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (s_digits(p + 1, 2, &oh) || s_digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return RZ_EINVAL;
        t -= (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else if (*p == '\0' && !strict) {
        if (rzc_tz_to_utc(rzc_warsaw(), t, &t))
            return RZ_EINVAL;
    } else {
        return RZ_EINVAL;
    }
    *us = t * 1000000 + frac;
    return 0;
}

int rzc_rfc3339_parse(const char *s, int64_t *us)
{
    return s_parse_time(s, S_STRICT, us);
}

int rzc_time_parse(const char *s, int64_t *us)
{
    return s_parse_time(s, 0, us);
}

int rzc_rfc3339_format(int64_t us, char *buf, size_t len)
{
    int64_t s = us / 1000000 - (us % 1000000 < 0);
    int64_t frac = us - s * 1000000;
    int64_t days = s / 86400 - (s % 86400 < 0);
    int64_t sod = s - days * 86400;
    int64_t y;
    int m, d;
    rzc_civil(days, &y, &m, &d);
    char f[16] = "";
    if (frac)
        snprintf(f, sizeof f, ".%06d", (int)frac);
    return snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", (int)y, m, d,
                    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                    f);
}
