/* buf.h - a growable string (malloc'd, NUL-terminated), and room in a
 * growable array.
 *
 * A failed allocation sets oom and every later call does nothing, so a
 * writer checks once at the end instead of after every piece.
 */
#ifndef RATUSZ_CORE_BUF_H
#define RATUSZ_CORE_BUF_H

#include <stddef.h>

typedef struct rzc_buf {
    char *s;
    size_t len, cap;
    int oom;
} rzc_buf_t;

void rzc_buf_put(rzc_buf_t *b, const char *s, size_t n);
void rzc_buf_puts(rzc_buf_t *b, const char *s);
void rzc_buf_printf(rzc_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Free the text and start again empty. */
void rzc_buf_free(rzc_buf_t *b);

/* Room for need elements of size bytes in the array *arr of *cap
 * elements: its capacity doubles (from 64) until it holds them. Returns 0,
 * or -1 (out of memory, or too large) with *arr and *cap as they were. */
int rzc_grow(void **arr, size_t *cap, size_t need, size_t size);

/* Whether the len bytes at p (len > 0) lie inside the n bytes at base.
 * The addresses are compared as integers: p may point anywhere. */
int rzc_inside(const void *base, size_t n, const void *p, size_t len);

#endif
