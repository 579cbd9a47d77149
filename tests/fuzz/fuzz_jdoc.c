/* fuzz_jdoc.c - libFuzzer target for the JSON reader of lib/jdoc.c,
 * differential against jansson.
 *
 * The CloudEvents reader moved from jansson's json_t tree to yajl and a
 * flat node array; both must agree on what is JSON and on what it says.
 * For every input: if one accepts and the other refuses, that is a bug
 * (apart from the limits jdoc.h documents: nesting beyond
 * RZJ_MAX_DEPTH and numbers longer than 63 characters; and a NUL byte,
 * which jansson takes for the end of the text); if both
 * accept, every value must be the same: kinds, strings byte for byte,
 * integers, doubles, members by key, elements in order.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_differ(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "jdoc and jansson differ: %s\ninput: %.*s\n", what,
            (int)(size > 400 ? 400 : size), (const char *)data);
    abort();
}

static int s_same(rzj_v_t v, const json_t *j)
{
    switch (rzj_v_kind(v)) {
    case RZJ_NULL: return json_is_null(j);
    case RZJ_TRUE: return json_is_true(j);
    case RZJ_FALSE: return json_is_false(j);
    case RZJ_INT:
        return json_is_integer(j) &&
               json_integer_value(j) == rzj_node(v)->num.i;
    case RZJ_REAL:
        return json_is_real(j) && (json_real_value(j) == rzj_node(v)->num.r);
    case RZJ_STR:
        return json_is_string(j) && json_string_length(j) == rzj_v_len(v) &&
               memcmp(json_string_value(j), rzj_v_str(v), rzj_v_len(v)) == 0;
    case RZJ_ARR: {
        if (!json_is_array(j) || json_array_size(j) != rzj_v_len(v))
            return 0;
        size_t i = 0;
        for (rzj_v_t e = rzj_v_first(v); !rzj_v_absent(e);
             e = rzj_v_next(v, e), i++)
            if (!s_same(e, json_array_get(j, i)))
                return 0;
        return i == json_array_size(j);
    }
    case RZJ_OBJ: {
        if (!json_is_object(j) || json_object_size(j) != rzj_v_len(v))
            return 0;
        for (rzj_v_t k = rzj_v_first(v); !rzj_v_absent(k);
             k = rzj_v_next(v, k)) {
            const json_t *m = json_object_getn(j, rzj_v_str(k), rzj_v_len(k));
            if (!m || !s_same(rzj_v_value(k), m))
                return 0;
            /* the same node through the lookup the reader uses */
            if (strlen(rzj_v_str(k)) == rzj_v_len(k) &&
                rzj_v_get(v, rzj_v_str(k)).i != rzj_v_value(k).i)
                return 0;
        }
        return 1;
    }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rzj_doc_t doc; /* reused, as the reader reuses its own */
    char err[160];
    int ours = rzj_doc_parse(&doc, (const char *)data, size, err, sizeof err);
    json_error_t je;
    json_t *theirs = json_loadb((const char *)data, size,
                                JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (ours == 0 && !theirs) {
        fprintf(stderr, "jansson: %s\n", je.text);
        s_differ("jdoc accepts what jansson refuses", data, size);
    }
    if (ours != 0 && theirs) {
        /* jdoc's own, documented limits; and jansson ends the text at a
         * NUL byte, where jdoc refuses it */
        if (!strstr(err, "nested too deep") &&
            !strstr(err, "number too long") && !memchr(data, '\0', size)) {
            fprintf(stderr, "jdoc: %s\n", err);
            s_differ("jdoc refuses what jansson accepts", data, size);
        }
    }
    if (ours == 0 && theirs && !s_same(rzj_doc_root(&doc), theirs))
        s_differ("different values", data, size);
    json_decref(theirs);
    if (doc.cap > 4096)
        rzj_doc_free(&doc);
    return 0;
}
