/* csvread.c - rows of a semicolon CSV with their lines and original bytes.
 *
 * libcsv does the splitting (quotes, doubled quotes, separators and
 * newlines inside quotes, CR/LF). It does not tell where a row began, so
 * the text is fed to it one physical line at a time: a row is the lines
 * fed between two row ends. Decoded and original input have the same
 * lines, so the row's original bytes are those lines of the input, which is
 * what the quarantine keeps.
 *
 * Recovery: in strict mode libcsv stops at a quote that cannot be right
 * ("a"b, or a quote never closed). The row is then reported with an error,
 * but only its first line when it ran over several: an unbalanced quote
 * would otherwise make every following line part of one field. Reading
 * restarts with a fresh parser at the next line.
 */
#include "budget.h"

#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_reader {
    struct csv_parser p;
    const rz_budget_text_t *t;
    rz__budget_row_fn fn;
    void *ctx;
    int rc;
    /* fields of the row being read: NUL-separated in buf */
    char *buf;
    size_t len, cap;
    size_t *off;
    size_t n, ncap;
    char **f;
    size_t fcap;
    /* where the row being read began */
    int in_row;
    size_t rec_pos, rec_opos;
    uint64_t rec_line;
    /* the line being fed */
    size_t line_end, oline_end; /* just past its '\n' (or the end) */
    uint64_t rows;
    char why[96]; /* a row's undecodable byte */
} s_reader_t;

static void s_field(void *s, size_t len, void *data)
{
    s_reader_t *r = data;
    if (r->rc)
        return;
    if (r->n == r->ncap) {
        size_t cap = r->ncap ? r->ncap * 2 : 16;
        size_t *o = realloc(r->off, cap * sizeof *o);
        if (!o) {
            r->rc = RZ_ENOMEM;
            return;
        }
        r->off = o;
        r->ncap = cap;
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) {
            r->rc = RZ_ENOMEM;
            return;
        }
        r->buf = b;
        r->cap = cap;
    }
    r->off[r->n++] = r->len;
    if (len)
        memcpy(r->buf + r->len, s, len);
    r->len += len;
    r->buf[r->len++] = '\0';
}

static int s_emit(s_reader_t *r, size_t opos, size_t oend, uint64_t line,
                  const char *error)
{
    rz_budget_row_t row = {0};
    size_t bad = rzc_text_bad_in(r->t, opos, oend);
    if (!error && bad != SIZE_MAX) {
        snprintf(r->why, sizeof r->why,
                 "byte 0x%02x at offset %zu is neither UTF-8 nor "
                 "Windows-1250",
                 r->t->orig[bad], bad);
        error = r->why;
    }
    if (!error) {
        if (r->n > r->fcap) {
            char **f = realloc(r->f, r->n * sizeof *f);
            if (!f)
                return RZ_ENOMEM;
            r->f = f;
            r->fcap = r->n;
        }
        for (size_t i = 0; i < r->n; i++)
            r->f[i] = r->buf + r->off[i];
        row.n = r->n;
        row.f = r->f;
    }
    row.line = line;
    row.index = ++r->rows;
    row.bytes = r->t->orig + opos;
    row.len = oend - opos;
    /* a row's bytes end before its line break */
    while (row.len &&
           (row.bytes[row.len - 1] == '\n' || row.bytes[row.len - 1] == '\r'))
        row.len--;
    row.error = error;
    r->n = 0;
    r->len = 0;
    return r->fn(r->ctx, &row);
}

static void s_row_end(int c, void *data)
{
    s_reader_t *r = data;
    (void)c;
    if (r->rc)
        return;
    r->in_row = 0;
    int rc = s_emit(r, r->rec_opos, r->oline_end, r->rec_line, NULL);
    if (rc)
        r->rc = rc;
}

static int s_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static void s_parser_init(s_reader_t *r, char delim)
{
    csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_delim(&r->p, (unsigned char)delim);
    r->n = 0;
    r->len = 0;
    r->in_row = 0;
}

int rz__budget_csv_each(const rz_budget_text_t *t, char delim,
                        rz__budget_row_fn fn, void *ctx)
{
    s_reader_t r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.fn = fn;
    r.ctx = ctx;
    s_parser_init(&r, delim);

    const char *text = t->text;
    const char *otext = (const char *)t->orig;
    size_t pos = 0, opos = t->bom;
    uint64_t line = 1;
    for (;;) {
        while (pos < t->len && !r.rc) {
            const char *nl = memchr(text + pos, '\n', t->len - pos);
            r.line_end = nl ? (size_t)(nl - text) + 1 : t->len;
            const char *onl = memchr(otext + opos, '\n', t->orig_len - opos);
            r.oline_end = onl ? (size_t)(onl - otext) + 1 : t->orig_len;
            size_t llen = r.line_end - pos;
            if (!r.in_row && s_blank(text + pos, llen)) {
                pos = r.line_end, opos = r.oline_end, line++;
                continue;
            }
            if (!r.in_row) {
                r.in_row = 1;
                r.rec_pos = pos, r.rec_opos = opos, r.rec_line = line;
            }
            size_t used =
                csv_parse(&r.p, text + pos, llen, s_field, s_row_end, &r);
            if (r.rc)
                break;
            if (used == llen && csv_error(&r.p) == CSV_SUCCESS) {
                pos = r.line_end, opos = r.oline_end, line++;
                continue;
            }
            if (csv_error(&r.p) == CSV_ENOMEM) {
                r.rc = RZ_ENOMEM;
                break;
            }
            /* broken quoting: report the row (its first line only if it
             * ran over several) and go on after it */
            csv_free(&r.p);
            s_parser_init(&r, delim);
            if (r.rec_line < line) {
                const char *rnl =
                    memchr(otext + r.rec_opos, '\n', t->orig_len - r.rec_opos);
                size_t rend = rnl ? (size_t)(rnl - otext) + 1 : t->orig_len;
                const char *tnl =
                    memchr(text + r.rec_pos, '\n', t->len - r.rec_pos);
                size_t tend = tnl ? (size_t)(tnl - text) + 1 : t->len;
                r.rc = s_emit(&r, r.rec_opos, rend, r.rec_line,
                              "a quoted field is not closed before the "
                              "next line");
                pos = tend, opos = rend, line = r.rec_line + 1;
            } else {
                r.rc = s_emit(&r, r.rec_opos, r.oline_end, r.rec_line,
                              "a quote in the middle of a field (quotes "
                              "inside a quoted field must be doubled)");
                pos = r.line_end, opos = r.oline_end, line++;
            }
        }
        if (r.rc)
            break;
        if (csv_fini(&r.p, s_field, s_row_end, &r) == 0 || r.rc)
            break;
        /* the input ended inside a quoted field */
        csv_free(&r.p);
        s_parser_init(&r, delim);
        const char *rnl =
            memchr(otext + r.rec_opos, '\n', t->orig_len - r.rec_opos);
        size_t rend = rnl ? (size_t)(rnl - otext) + 1 : t->orig_len;
        const char *tnl = memchr(text + r.rec_pos, '\n', t->len - r.rec_pos);
        size_t tend = tnl ? (size_t)(tnl - text) + 1 : t->len;
        r.rc = s_emit(&r, r.rec_opos, rend, r.rec_line,
                      rend < t->orig_len
                          ? "a quoted field is not closed before the next "
                            "line"
                          : "the input ends inside a quoted field "
                            "(truncated?)");
        if (r.rc || tend >= t->len)
            break;
        pos = tend, opos = rend, line = r.rec_line + 1;
    }
    csv_free(&r.p);
    free(r.buf);
    free(r.off);
    free(r.f);
    return r.rc;
}
