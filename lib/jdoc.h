/* jdoc.h - a JSON document read once into a flat array of nodes (internal
 * to libratusz: the CloudEvents reader of json.c).
 *
 * yajl parses (strict JSON, escapes decoded; this file checks UTF-8);
 * its callbacks append one node per value to an array, in document order,
 * numbers already converted, and copy strings into one buffer. An object is its
 * node followed by key, value, key, value ...; an array its node followed by
 * its elements; every node knows where its subtree ends, so a value is
 * skipped in one step. Two allocations per document, however many values
 * it holds, where a tree of json_t costs one or more per value.
 *
 * It refuses what jansson refused when the reader was built on it: a key
 * given twice in one object, a string holding U+0000, an integer beyond
 * int64, a real beyond double; and three things yajl lets through: bytes
 * that are not UTF-8 (overlong forms, encoded surrogates), a \u escape of
 * half a surrogate pair, form feed and vertical tab as white space. Also
 * refused: nesting deeper than RZJ_MAX_DEPTH, a number longer than 63
 * characters and a NUL byte anywhere. tests/fuzz/fuzz_jdoc.c holds it to
 * jansson's answers on everything else.
 */
#ifndef RATUSZ_LIB_JDOC_H
#define RATUSZ_LIB_JDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RZJ_MAX_DEPTH 64

typedef enum rzj_kind {
    RZJ_NULL,
    RZJ_FALSE,
    RZJ_TRUE,
    RZJ_INT,  /* a number without fraction or exponent */
    RZJ_REAL, /* any other number */
    RZJ_STR,  /* a string, or the key of an object member */
    RZJ_OBJ,
    RZJ_ARR
} rzj_kind_t;

typedef struct rzj_node {
    uint32_t kind; /* rzj_kind_t */
    uint32_t off;  /* RZJ_STR: offset of its bytes in the text buffer */
    uint32_t len;  /* RZJ_STR: its length; OBJ/ARR: members, elements */
    uint32_t end;  /* index of the first node after this value */
    union {
        int64_t i; /* RZJ_INT */
        double r;  /* RZJ_REAL */
    } num;
} rzj_node_t;

typedef struct rzj_doc {
    rzj_node_t *nodes;
    uint32_t n, cap;
    char *text; /* the strings, each NUL-terminated */
    size_t text_len, text_cap;
} rzj_doc_t;

/* A value: a document and a node index; d == NULL is "absent". */
typedef struct rzj_v {
    const rzj_doc_t *d;
    uint32_t i;
} rzj_v_t;

/* Parse len bytes of text into d (zeroed by the caller, or used before:
 * its buffers are reused). Returns 0, or RZ_EDECODE with err holding
 * "JSON: what, at byte N", or RZ_ENOMEM. */
int rzj_doc_parse(rzj_doc_t *d, const char *text, size_t len, char *err,
                  size_t err_len);

/* Free the buffers. Safe twice. */
void rzj_doc_free(rzj_doc_t *d);

/* The root value of a parsed document. */
static inline rzj_v_t rzj_doc_root(const rzj_doc_t *d)
{
    return (rzj_v_t){d, 0};
}

static inline const rzj_node_t *rzj_node(rzj_v_t v)
{
    return &v.d->nodes[v.i];
}

static inline bool rzj_v_absent(rzj_v_t v)
{
    return v.d == NULL;
}

static inline rzj_kind_t rzj_v_kind(rzj_v_t v)
{
    return (rzj_kind_t)rzj_node(v)->kind;
}

static inline bool rzj_v_is(rzj_v_t v, rzj_kind_t k)
{
    return v.d && rzj_v_kind(v) == k;
}

static inline bool rzj_v_is_null(rzj_v_t v)
{
    return rzj_v_is(v, RZJ_NULL);
}

static inline bool rzj_v_is_number(rzj_v_t v)
{
    return rzj_v_is(v, RZJ_INT) || rzj_v_is(v, RZJ_REAL);
}

/* A string's bytes (NUL-terminated; no NUL inside) and length. */
static inline const char *rzj_v_str(rzj_v_t v)
{
    return v.d->text + rzj_node(v)->off;
}

static inline size_t rzj_v_len(rzj_v_t v)
{
    return rzj_node(v)->len;
}

/* A number as a double (an integer converted, as jansson's
 * json_number_value does). */
static inline double rzj_v_number(rzj_v_t v)
{
    return rzj_v_kind(v) == RZJ_INT ? (double)rzj_node(v)->num.i
                                    : rzj_node(v)->num.r;
}

/* Members of an object, in document order:
 *   for (rzj_v_t k = rzj_v_first(o); !rzj_v_absent(k); k = rzj_v_next(o, k))
 *       key rzj_v_str(k), value rzj_v_value(k)
 * Elements of an array: the same, without rzj_v_value. */
static inline rzj_v_t rzj_v_first(rzj_v_t c)
{
    return rzj_node(c)->len ? (rzj_v_t){c.d, c.i + 1} : (rzj_v_t){0};
}

static inline rzj_v_t rzj_v_value(rzj_v_t key)
{
    return (rzj_v_t){key.d, key.i + 1};
}

static inline rzj_v_t rzj_v_next(rzj_v_t c, rzj_v_t at)
{
    uint32_t next = rzj_v_kind(c) == RZJ_OBJ ? rzj_node(rzj_v_value(at))->end
                                             : rzj_node(at)->end;
    return next < rzj_node(c)->end ? (rzj_v_t){c.d, next} : (rzj_v_t){0};
}

/* The value of key in object o, or absent. */
rzj_v_t rzj_v_get(rzj_v_t o, const char *key);

/* "object", "array", "string", "integer", "number", "boolean", "null" */
const char *rzj_v_kind_name(rzj_v_t v);

#endif
