/* table.h - aligned text tables and human-readable units for the ratusz CLI.
 *
 * Widths count code points, not bytes, so "Łódź" takes four columns like
 * "Lodz", and ANSI colour sequences ("\033[1;31m") take none. (Every
 * letter of Polish is one column wide; wide CJK characters are not
 * handled.)
 */
#ifndef RATUSZ_CLI_TABLE_H
#define RATUSZ_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct table table_t;

enum table_align { TABLE_LEFT = 0, TABLE_RIGHT = 1 };

/* A table with ncols columns titled headers[0..ncols-1] (copied). Returns
 * NULL and sets errno on failure. */
table_t *table_new(const char *const *headers, size_t ncols);

/* Right-align a column (numbers); columns are left-aligned by default. */
void table_align(table_t *t, size_t col, enum table_align align);

/* Cut cells of a column longer than max_width code points, ending them
 * with "…". 0 = no limit (the default). */
void table_max_width(table_t *t, size_t col, size_t max_width);

/* Append one cell, printf-style; cells fill rows left to right and a row
 * ends after ncols cells. Returns 0 or RZ_ENOMEM. */
int table_add(table_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Rows added so far (complete or not). */
size_t table_rows(const table_t *t);

/* Print the header and the rows, columns two spaces apart, each line
 * starting with indent (may be NULL). The last column is not padded, so
 * lines carry no trailing blanks. */
void table_print(const table_t *t, FILE *out, const char *indent);

/* Safe with NULL and twice. */
void table_destroy(table_t **t);

/* Display width of s: code points outside ANSI escape sequences. */
size_t text_width(const char *s);

/* Print s padded with spaces to width columns. */
void text_pad(FILE *out, const char *s, size_t width, enum table_align align);

/* Human units. Each writes into buf (always NUL-terminated) and returns
 * it, so calls can sit in a printf argument list. */

/* 512 B, 1.5 KiB, 12.3 MiB, 120 GiB */
const char *human_size(char *buf, size_t len, uint64_t bytes);

/* A span of time to the second or two units: 0s, 12s, 3m12s, 2h05m, 3d04h.
 * Negative spans get a leading '-'. */
const char *human_duration(char *buf, size_t len, int64_t us);

/* A latency in microseconds: 850µs, 12.3ms, 1.25s. */
const char *human_micros(char *buf, size_t len, double us);

/* A count with a unit prefix when large: 999, 12.3k, 4.56M, 7.89G. */
const char *human_count(char *buf, size_t len, uint64_t n);

/* How long ago unix-µs when was at now: "3m12s ago", or "never" for 0. */
const char *human_ago(char *buf, size_t len, int64_t when, int64_t now);

/* Two percentiles of a histogram of count samples: "p50 850µs  p99 12.3ms"
 * (micros) or "p50 12  p99 40"; "-" when count is 0. */
const char *human_pcts(char *buf, size_t len, uint64_t count, double p50,
                       double p99, bool micros);

#endif
