/* jdoc.c - a JSON document read once into a flat array of nodes (jdoc.h).
 *
 * Parsing is yajl's: strict JSON, escapes decoded. This file keeps what
 * its callbacks hand over, and adds the checks jdoc.h lists: those the
 * CloudEvents reader had from jansson, and those yajl leaves out.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "jdoc.h"
#include "ratusz/core/text.h"
#include "ratusz/errors.h"

typedef struct s_parse {
    rzj_doc_t *d;
    yajl_handle h;
    uint32_t open[RZJ_MAX_DEPTH]; /* containers being read */
    unsigned depth;
    size_t top_end; /* where the top-level value ended, when yajl said */
    int rc;         /* set when a callback stops the parse */
    char why[96];   /* and what it found */
} s_parse_t;

static int s_stop(s_parse_t *p, int rc, const char *why)
{
    p->rc = rc;
    snprintf(p->why, sizeof p->why, "%s", why);
    return 0;
}

/* Copy bytes into the text buffer, NUL-terminated; *off is where. */
static int s_text(s_parse_t *p, const void *s, size_t len, uint32_t *off)
{
    rzj_doc_t *d = p->d;
    if (len >= UINT32_MAX - d->text_len)
        return s_stop(p, RZ_ETOOBIG, "document too large");
    if (d->text_len + len + 1 > d->text_cap) {
        size_t cap = d->text_cap ? d->text_cap : 1024;
        while (cap < d->text_len + len + 1)
            cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return s_stop(p, RZ_ENOMEM, "out of memory");
        d->text = t;
        d->text_cap = cap;
    }
    memcpy(d->text + d->text_len, s, len);
    d->text[d->text_len + len] = '\0';
    *off = (uint32_t)d->text_len;
    d->text_len += len + 1;
    return 1;
}

/* Append a node for a value (or, when key is set, an object's key). */
static rzj_node_t *s_node(s_parse_t *p, rzj_kind_t kind, int key)
{
    rzj_doc_t *d = p->d;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        if (cap <= d->cap) {
            s_stop(p, RZ_ETOOBIG, "document too large");
            return NULL;
        }
        rzj_node_t *n = realloc(d->nodes, cap * sizeof *n);
        if (!n) {
            s_stop(p, RZ_ENOMEM, "out of memory");
            return NULL;
        }
        d->nodes = n;
        d->cap = cap;
    }
    /* an object counts its members by their keys, an array its values */
    if (p->depth) {
        rzj_node_t *c = &d->nodes[p->open[p->depth - 1]];
        if (key || c->kind == RZJ_ARR)
            c->len++;
    }
    rzj_node_t *n = &d->nodes[d->n];
    *n = (rzj_node_t){.kind = kind, .end = d->n + 1};
    d->n++;
    if (p->depth == 0 && kind != RZJ_OBJ && kind != RZJ_ARR)
        p->top_end = yajl_get_bytes_consumed(p->h);
    return n;
}

static int s_string_node(s_parse_t *p, const unsigned char *s, size_t len,
                         int key)
{
    if (memchr(s, '\0', len))
        return s_stop(p, RZ_EDECODE, "\\u0000 is not allowed in a string");
    /* yajl's own check lets overlong forms and the like through */
    if (!rzc_utf8_valid(s, len))
        return s_stop(p, RZ_EDECODE, "a string that is not UTF-8");
    rzj_node_t *n = s_node(p, RZJ_STR, key);
    if (!n)
        return 0;
    uint32_t off;
    if (!s_text(p, s, len, &off))
        return 0;
    n->off = off;
    n->len = (uint32_t)len;
    return 1;
}

static int s_on_null(void *ctx)
{
    return s_node(ctx, RZJ_NULL, 0) != NULL;
}

static int s_on_bool(void *ctx, int b)
{
    return s_node(ctx, b ? RZJ_TRUE : RZJ_FALSE, 0) != NULL;
}

static int s_on_number(void *ctx, const char *s, size_t len)
{
    s_parse_t *p = ctx;
    char buf[64];
    if (len >= sizeof buf)
        return s_stop(p, RZ_EDECODE, "number too long");
    memcpy(buf, s, len);
    buf[len] = '\0';
    int real = strpbrk(buf, ".eE") != NULL;
    rzj_node_t *n = s_node(p, real ? RZJ_REAL : RZJ_INT, 0);
    if (!n)
        return 0;
    char *end;
    errno = 0;
    if (real) {
        n->num.r = strtod(buf, &end);
        if (isinf(n->num.r))
            return s_stop(p, RZ_EDECODE, "real number overflow");
    } else {
        n->num.i = strtoll(buf, &end, 10);
        if (errno == ERANGE)
            return s_stop(p, RZ_EDECODE, "too big integer");
    }
    return 1;
}

static int s_on_string(void *ctx, const unsigned char *s, size_t len)
{
    return s_string_node(ctx, s, len, 0);
}

static int s_on_key(void *ctx, const unsigned char *s, size_t len)
{
    return s_string_node(ctx, s, len, 1);
}

static int s_open(s_parse_t *p, rzj_kind_t kind)
{
    if (p->depth == RZJ_MAX_DEPTH)
        return s_stop(p, RZ_EDECODE, "nested too deep");
    rzj_node_t *n = s_node(p, kind, 0);
    if (!n)
        return 0;
    p->open[p->depth++] = (uint32_t)(n - p->d->nodes);
    return 1;
}

static int s_on_start_map(void *ctx)
{
    return s_open(ctx, RZJ_OBJ);
}

static int s_on_start_array(void *ctx)
{
    return s_open(ctx, RZJ_ARR);
}

typedef struct s_key {
    const char *s;
    uint32_t len;
} s_key_t;

static int s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->s, y->s, x->len);
}

/* A key given twice in the object that ends now? Pairwise for the small
 * objects events are made of, sorted for large ones. */
static int s_unique_keys(s_parse_t *p, uint32_t obj)
{
    const rzj_doc_t *d = p->d;
    rzj_v_t o = {d, obj};
    uint32_t n = d->nodes[obj].len;
    if (n < 2)
        return 1;
    if (n <= 16) {
        for (rzj_v_t a = rzj_v_first(o); !rzj_v_absent(a); a = rzj_v_next(o, a))
            for (rzj_v_t b = rzj_v_next(o, a); !rzj_v_absent(b);
                 b = rzj_v_next(o, b))
                if (rzj_v_len(a) == rzj_v_len(b) &&
                    memcmp(rzj_v_str(a), rzj_v_str(b), rzj_v_len(a)) == 0)
                    return s_stop(p, RZ_EDECODE, "duplicate object key");
        return 1;
    }
    s_key_t *keys = malloc(n * sizeof *keys);
    if (!keys)
        return s_stop(p, RZ_ENOMEM, "out of memory");
    uint32_t k = 0;
    for (rzj_v_t a = rzj_v_first(o); !rzj_v_absent(a); a = rzj_v_next(o, a))
        keys[k++] = (s_key_t){rzj_v_str(a), (uint32_t)rzj_v_len(a)};
    qsort(keys, k, sizeof *keys, s_key_cmp);
    int ok = 1;
    for (uint32_t i = 1; i < k && ok; i++)
        if (s_key_cmp(&keys[i - 1], &keys[i]) == 0)
            ok = s_stop(p, RZ_EDECODE, "duplicate object key");
    free(keys);
    return ok;
}

static int s_close(s_parse_t *p)
{
    uint32_t c = p->open[--p->depth];
    p->d->nodes[c].end = p->d->n;
    if (p->depth == 0)
        p->top_end = yajl_get_bytes_consumed(p->h);
    return p->d->nodes[c].kind == RZJ_OBJ ? s_unique_keys(p, c) : 1;
}

static int s_on_end(void *ctx)
{
    return s_close(ctx);
}

static const yajl_callbacks s_callbacks = {
    .yajl_null = s_on_null,
    .yajl_boolean = s_on_bool,
    .yajl_number = s_on_number,
    .yajl_string = s_on_string,
    .yajl_start_map = s_on_start_map,
    .yajl_map_key = s_on_key,
    .yajl_end_map = s_on_end,
    .yajl_start_array = s_on_start_array,
    .yajl_end_array = s_on_end,
};

static int s_hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (x == 16)
            return 0;
        v = v << 4 | x;
    }
    *out = v;
    return 1;
}

/* yajl decodes a \u escape of half a surrogate pair that has no other
 * half into '?' instead of failing: find them first. In JSON a backslash
 * only ever starts an escape, so escapes are found without knowing where
 * strings are. Returns the offset of the first unpaired one, or len. */
static size_t s_lone_surrogate(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while ((p = memchr(p, '\\', (size_t)(end - p))) && end - p >= 2) {
        unsigned u, lo;
        if (p[1] != 'u' || !s_hex4(p + 2, end, &u)) {
            p += 2; /* \" \\ \n ...; a bad one is yajl's to report */
            continue;
        }
        if (u >= 0xDC00 && u <= 0xDFFF)
            return (size_t)(p - text);
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
                !s_hex4(p + 8, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return (size_t)(p - text);
            p += 12;
            continue;
        }
        p += 6;
    }
    return len;
}

/* The first byte at or after i that is not JSON white space. */
static size_t s_space(const char *text, size_t i, size_t len)
{
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
                       text[i] == '\r'))
        i++;
    return i;
}

int rzj_doc_parse(rzj_doc_t *d, const char *text, size_t len, char *err,
                  size_t err_len)
{
    s_parse_t p = {.d = d};
    d->n = 0;
    d->text_len = 0;
    if (len >= UINT32_MAX) {
        snprintf(err, err_len, "JSON: document too large");
        return RZ_ETOOBIG;
    }
    /* yajl skips these as white space; JSON has them nowhere (inside a
     * string they would have to be escaped) */
    const char *ff = memchr(text, '\f', len), *vt = memchr(text, '\v', len);
    if (ff || vt) {
        const char *c = !ff ? vt : !vt ? ff : ff < vt ? ff : vt;
        snprintf(err, err_len, "JSON: invalid character %s, at byte %zu",
                 *c == '\f' ? "form feed" : "vertical tab", (size_t)(c - text));
        return RZ_EDECODE;
    }
    size_t lone = s_lone_surrogate(text, len);
    if (lone < len) {
        snprintf(err, err_len,
                 "JSON: invalid Unicode escape (half a "
                 "surrogate pair), at byte %zu",
                 lone);
        return RZ_EDECODE;
    }
    p.h = yajl_alloc(&s_callbacks, NULL, &p);
    if (!p.h) {
        snprintf(err, err_len, "JSON: out of memory");
        return RZ_ENOMEM;
    }
    yajl_config(p.h, yajl_dont_validate_strings, 1); /* s_string_node does */
    yajl_status st = yajl_parse(p.h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(p.h);
    int rc = 0;
    size_t at;
    if (st != yajl_status_ok) {
        at = yajl_get_bytes_consumed(p.h);
        if (p.rc) {
            rc = p.rc;
            snprintf(err, err_len, "JSON: %s, at byte %zu", p.why, at);
        } else {
            unsigned char *e = yajl_get_error(p.h, 0, NULL, 0);
            /* "lexical error: invalid char in json text.\n" */
            const char *m = e ? (const char *)e : "parse error";
            size_t ml = strcspn(m, "\n");
            while (ml && m[ml - 1] == '.')
                ml--;
            snprintf(err, err_len, "JSON: %.*s, at byte %zu", (int)ml, m, at);
            if (e)
                yajl_free_error(p.h, e);
            rc = RZ_EDECODE;
        }
    } else if (d->n == 0) {
        snprintf(err, err_len, "JSON: no value");
        rc = RZ_EDECODE;
    } else if (p.top_end && (at = s_space(text, p.top_end, len)) < len) {
        /* yajl takes an unfinished string after the value for the
         * start of more input (top_end is 0 when the value ended at the
         * end of the text) */
        snprintf(err, err_len, "JSON: end of file expected, at byte %zu", at);
        rc = RZ_EDECODE;
    }
    yajl_free(p.h);
    return rc;
}

void rzj_doc_free(rzj_doc_t *d)
{
    if (!d)
        return;
    free(d->nodes);
    free(d->text);
    *d = (rzj_doc_t){0};
}

rzj_v_t rzj_v_get(rzj_v_t o, const char *key)
{
    if (!rzj_v_is(o, RZJ_OBJ))
        return (rzj_v_t){0};
    size_t kl = strlen(key);
    for (rzj_v_t k = rzj_v_first(o); !rzj_v_absent(k); k = rzj_v_next(o, k))
        if (rzj_v_len(k) == kl && memcmp(rzj_v_str(k), key, kl) == 0)
            return rzj_v_value(k);
    return (rzj_v_t){0};
}

const char *rzj_v_kind_name(rzj_v_t v)
{
    static const char *const names[] = {
        [RZJ_NULL] = "null",   [RZJ_FALSE] = "boolean", [RZJ_TRUE] = "boolean",
        [RZJ_INT] = "integer", [RZJ_REAL] = "number",   [RZJ_STR] = "string",
        [RZJ_OBJ] = "object",  [RZJ_ARR] = "array"};
    return rzj_v_absent(v) ? "nothing" : names[rzj_v_kind(v)];
}
