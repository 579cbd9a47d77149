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
 * refused: nesting deeper than RZ_JDOC_MAX_DEPTH, a number longer than 63
 * characters and a NUL byte anywhere. tests/fuzz/fuzz_jdoc.c holds it to
 * jansson's answers on everything else.
 */
#ifndef RATUSZ_LIB_JDOC_H
#define RATUSZ_LIB_JDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RZ_JDOC_MAX_DEPTH 64

typedef enum rz_jkind {
    RZ_JNULL,
    RZ_JFALSE,
    RZ_JTRUE,
    RZ_JINT,  /* a number without fraction or exponent */
    RZ_JREAL, /* any other number */
    RZ_JSTR,  /* a string, or the key of an object member */
    RZ_JOBJ,
    RZ_JARR
} rz_jkind_t;

typedef struct rz_jnode {
    uint32_t kind; /* rz_jkind_t */
    uint32_t off;  /* RZ_JSTR: offset of its bytes in the text buffer */
    uint32_t len;  /* RZ_JSTR: its length; OBJ/ARR: members, elements */
    uint32_t end;  /* index of the first node after this value */
    union {
        int64_t i; /* RZ_JINT */
        double r;  /* RZ_JREAL */
    } num;
} rz_jnode_t;

typedef struct rz_jdoc {
    rz_jnode_t *nodes;
    uint32_t n, cap;
    char *text; /* the strings, each NUL-terminated */
    size_t text_len, text_cap;
} rz_jdoc_t;

/* A value: a document and a node index; d == NULL is "absent". */
typedef struct rz_jv {
    const rz_jdoc_t *d;
    uint32_t i;
} rz_jv_t;

/* Parse len bytes of text into d (zeroed by the caller, or used before:
 * its buffers are reused). Returns 0, or RZ_EDECODE with err holding
 * "JSON: what, at byte N", or RZ_ENOMEM. */
int rz_jdoc_parse(rz_jdoc_t *d, const char *text, size_t len, char *err,
                  size_t err_len);

/* Free the buffers. Safe twice. */
void rz_jdoc_free(rz_jdoc_t *d);

/* The root value of a parsed document. */
static inline rz_jv_t rz_jdoc_root(const rz_jdoc_t *d)
{
    return (rz_jv_t){d, 0};
}

static inline const rz_jnode_t *rz_jnode(rz_jv_t v)
{
    return &v.d->nodes[v.i];
}

static inline bool rz_jv_absent(rz_jv_t v)
{
    return v.d == NULL;
}

static inline rz_jkind_t rz_jv_kind(rz_jv_t v)
{
    return (rz_jkind_t)rz_jnode(v)->kind;
}

static inline bool rz_jv_is(rz_jv_t v, rz_jkind_t k)
{
    return v.d && rz_jv_kind(v) == k;
}

static inline bool rz_jv_is_null(rz_jv_t v)
{
    return rz_jv_is(v, RZ_JNULL);
}

static inline bool rz_jv_is_number(rz_jv_t v)
{
    return rz_jv_is(v, RZ_JINT) || rz_jv_is(v, RZ_JREAL);
}

/* A string's bytes (NUL-terminated; no NUL inside) and length. */
static inline const char *rz_jv_str(rz_jv_t v)
{
    return v.d->text + rz_jnode(v)->off;
}

static inline size_t rz_jv_len(rz_jv_t v)
{
    return rz_jnode(v)->len;
}

/* A number as a double (an integer converted, as jansson's
 * json_number_value does). */
static inline double rz_jv_number(rz_jv_t v)
{
    return rz_jv_kind(v) == RZ_JINT ? (double)rz_jnode(v)->num.i
                                    : rz_jnode(v)->num.r;
}

/* Members of an object, in document order:
 *   for (rz_jv_t k = rz_jv_first(o); !rz_jv_absent(k); k = rz_jv_next(o, k))
 *       key rz_jv_str(k), value rz_jv_value(k)
 * Elements of an array: the same, without rz_jv_value. */
static inline rz_jv_t rz_jv_first(rz_jv_t c)
{
    return rz_jnode(c)->len ? (rz_jv_t){c.d, c.i + 1} : (rz_jv_t){0};
}

static inline rz_jv_t rz_jv_value(rz_jv_t key)
{
    return (rz_jv_t){key.d, key.i + 1};
}

static inline rz_jv_t rz_jv_next(rz_jv_t c, rz_jv_t at)
{
    uint32_t next = rz_jv_kind(c) == RZ_JOBJ ? rz_jnode(rz_jv_value(at))->end
                                             : rz_jnode(at)->end;
    return next < rz_jnode(c)->end ? (rz_jv_t){c.d, next} : (rz_jv_t){0};
}

/* The value of key in object o, or absent. */
rz_jv_t rz_jv_get(rz_jv_t o, const char *key);

/* "object", "array", "string", "integer", "number", "boolean", "null" */
const char *rz_jv_kind_name(rz_jv_t v);

#endif
