/* table.c - aligned text tables and human-readable units for the ratusz CLI */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/errors.h"
#include "table.h"

struct table {
    size_t ncols;
    char **headers;
    enum table_align *align;
    size_t *max_width;
    char **cells; /* row-major, ncells of them */
    size_t ncells, cap;
};

/* ==========================================================================
 * Text width
 */

/* Length of the ANSI CSI sequence ("\033[...m") at s, or 0. */
static size_t s_escape_len(const char *s)
{
    if (s[0] != '\033' || s[1] != '[')
        return 0;
    size_t i = 2;
    /* parameter bytes until the final byte, 0x40-0x7e ('m' for colours) */
    while (s[i] && ((unsigned char)s[i] < 0x40 || (unsigned char)s[i] > 0x7e))
        i++;
    return s[i] ? i + 1 : i;
}

size_t text_width(const char *s)
{
    size_t w = 0;
    while (*s) {
        size_t esc = s_escape_len(s);
        if (esc) {
            s += esc;
            continue;
        }
        /* UTF-8 continuation bytes (10xxxxxx) do not start a code point */
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
        s++;
    }
    return w;
}

void text_pad(FILE *out, const char *s, size_t width, enum table_align align)
{
    size_t w = text_width(s);
    size_t pad = w < width ? width - w : 0;
    if (align == TABLE_RIGHT)
        fprintf(out, "%*s", (int)pad, "");
    fputs(s, out);
    if (align == TABLE_LEFT)
        fprintf(out, "%*s", (int)pad, "");
}

/* A copy of s cut to max code points, the last one replaced by "…". */
static char *s_truncate(const char *s, size_t max)
{
    if (max == 0 || text_width(s) <= max)
        return NULL;
    size_t keep = max - 1, w = 0;
    const char *p = s;
    while (*p) {
        size_t esc = s_escape_len(p);
        if (esc) {
            p += esc;
            continue;
        }
        if (((unsigned char)*p & 0xc0) != 0x80) {
            if (w == keep)
                break;
            w++;
        }
        p++;
    }
    size_t n = (size_t)(p - s);
    char *out = malloc(n + sizeof "…" + sizeof "\033[0m");
    if (!out)
        return NULL;
    memcpy(out, s, n);
    /* a cut colour sequence would bleed into the next column */
    strcpy(out + n, strchr(s, '\033') ? "…\033[0m" : "…");
    return out;
}

/* ==========================================================================
 * Tables
 */

table_t *table_new(const char *const *headers, size_t ncols)
{
    table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->headers = calloc(ncols, sizeof *t->headers);
    t->align = calloc(ncols, sizeof *t->align);
    t->max_width = calloc(ncols, sizeof *t->max_width);
    if (!t->headers || !t->align || !t->max_width)
        goto fail;
    for (size_t i = 0; i < ncols; i++)
        if (!(t->headers[i] = strdup(headers[i])))
            goto fail;
    return t;
fail:
    table_destroy(&t);
    errno = ENOMEM;
    return NULL;
}

void table_align(table_t *t, size_t col, enum table_align align)
{
    if (col < t->ncols)
        t->align[col] = align;
}

void table_max_width(table_t *t, size_t col, size_t max_width)
{
    if (col < t->ncols)
        t->max_width[col] = max_width;
}

int table_add(table_t *t, const char *fmt, ...)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells)
            return RZ_ENOMEM;
        t->cells = cells;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *cell = NULL;
    int n = vasprintf(&cell, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RZ_ENOMEM;
    size_t col = t->ncells % t->ncols;
    char *cut = s_truncate(cell, t->max_width[col]);
    if (cut) {
        free(cell);
        cell = cut;
    }
    t->cells[t->ncells++] = cell;
    return 0;
}

size_t table_rows(const table_t *t)
{
    return (t->ncells + t->ncols - 1) / t->ncols;
}

static void s_print_row(const table_t *t, FILE *out, const char *indent,
                        char *const *row, size_t n, const size_t *width)
{
    fputs(indent ? indent : "", out);
    for (size_t c = 0; c < n; c++) {
        bool last = c + 1 == n;
        if (last && t->align[c] == TABLE_LEFT)
            fputs(row[c], out);
        else
            text_pad(out, row[c], width[c], t->align[c]);
        if (!last)
            fputs("  ", out);
    }
    fputc('\n', out);
}

void table_print(const table_t *t, FILE *out, const char *indent)
{
    size_t *width = calloc(t->ncols, sizeof *width);
    if (!width)
        return;
    for (size_t c = 0; c < t->ncols; c++)
        width[c] = text_width(t->headers[c]);
    for (size_t i = 0; i < t->ncells; i++) {
        size_t w = text_width(t->cells[i]);
        if (w > width[i % t->ncols])
            width[i % t->ncols] = w;
    }
    s_print_row(t, out, indent, t->headers, t->ncols, width);
    for (size_t i = 0; i < t->ncells; i += t->ncols) {
        size_t n = t->ncells - i < t->ncols ? t->ncells - i : t->ncols;
        s_print_row(t, out, indent, t->cells + i, n, width);
    }
    free(width);
}

void table_destroy(table_t **tp)
{
    if (!tp || !*tp)
        return;
    table_t *t = *tp;
    for (size_t i = 0; t->headers && i < t->ncols; i++)
        free(t->headers[i]);
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->headers);
    free(t->align);
    free(t->max_width);
    free(t->cells);
    free(t);
    *tp = NULL;
}

/* ==========================================================================
 * Human units
 */

const char *human_size(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB",
                                        "EiB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%u B", (unsigned)bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    /* three significant digits: 1.50 KiB would claim more than we know */
    if (v < 10)
        snprintf(buf, len, "%.1f %s", v, units[u]);
    else
        snprintf(buf, len, "%.0f %s", v, units[u]);
    return buf;
}

const char *human_duration(char *buf, size_t len, int64_t us)
{
    /* dividing first keeps INT64_MIN from overflowing on negation */
    int64_t whole = us / 1000000;
    const char *sign = whole < 0 ? "-" : "";
    uint64_t s = whole < 0 ? (uint64_t)-whole : (uint64_t)whole;
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60,
                       sec = s % 60;
    if (d)
        snprintf(buf, len, "%s%llud%02lluh", sign, d, h);
    else if (h)
        snprintf(buf, len, "%s%lluh%02llum", sign, h, m);
    else if (m)
        snprintf(buf, len, "%s%llum%02llus", sign, m, sec);
    else
        snprintf(buf, len, "%s%llus", sign, sec);
    return buf;
}

const char *human_micros(char *buf, size_t len, double us)
{
    if (us < 1000)
        snprintf(buf, len, "%.0fµs", us);
    else if (us < 10000)
        snprintf(buf, len, "%.2fms", us / 1000);
    else if (us < 1000000)
        snprintf(buf, len, "%.1fms", us / 1000);
    else
        snprintf(buf, len, "%.2fs", us / 1000000);
    return buf;
}

const char *human_count(char *buf, size_t len, uint64_t n)
{
    static const char units[] = "kMGTPE";
    if (n < 10000) {
        snprintf(buf, len, "%u", (unsigned)n);
        return buf;
    }
    double v = (double)n / 1000;
    size_t u = 0;
    while (v >= 1000 && u + 1 < sizeof units - 1) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
    return buf;
}

const char *human_ago(char *buf, size_t len, int64_t when, int64_t now)
{
    if (when <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    char d[32];
    snprintf(buf, len, "%s ago", human_duration(d, sizeof d, now - when));
    return buf;
}

const char *human_pcts(char *buf, size_t len, uint64_t count, double p50,
                       double p99, bool micros)
{
    if (count == 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    char a[24], b[24];
    if (micros)
        snprintf(buf, len, "p50 %s  p99 %s", human_micros(a, sizeof a, p50),
                 human_micros(b, sizeof b, p99));
    else
        snprintf(buf, len, "p50 %.0f  p99 %.0f", p50, p99);
    return buf;
}
