/* fuzz_jdoc.c - libFuzzer target for the JSON reader of lib/jdoc.c,
 * differential against jansson.
 *
 * The CloudEvents reader moved from jansson's json_t tree to yajl and a
 * flat node array; both must agree on what is JSON and on what it says.
 * For every input: if one accepts and the other refuses, that is a bug
 * (apart from the limits jdoc.h documents: nesting beyond
 * RZ_JDOC_MAX_DEPTH and numbers longer than 63 characters; and a NUL byte,
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

static int s_same(rz_jv_t v, const json_t *j)
{
    switch (rz_jv_kind(v)) {
    case RZ_JNULL: return json_is_null(j);
    case RZ_JTRUE: return json_is_true(j);
    case RZ_JFALSE: return json_is_false(j);
    case RZ_JINT:
        return json_is_integer(j) &&
               json_integer_value(j) == rz_jnode(v)->num.i;
    case RZ_JREAL:
        return json_is_real(j) && (json_real_value(j) == rz_jnode(v)->num.r);
    case RZ_JSTR:
        return json_is_string(j) && json_string_length(j) == rz_jv_len(v) &&
               memcmp(json_string_value(j), rz_jv_str(v), rz_jv_len(v)) == 0;
    case RZ_JARR: {
        if (!json_is_array(j) || json_array_size(j) != rz_jv_len(v))
            return 0;
        size_t i = 0;
        for (rz_jv_t e = rz_jv_first(v); !rz_jv_absent(e);
             e = rz_jv_next(v, e), i++)
            if (!s_same(e, json_array_get(j, i)))
                return 0;
        return i == json_array_size(j);
    }
    case RZ_JOBJ: {
        if (!json_is_object(j) || json_object_size(j) != rz_jv_len(v))
            return 0;
        for (rz_jv_t k = rz_jv_first(v); !rz_jv_absent(k);
             k = rz_jv_next(v, k)) {
            const json_t *m = json_object_getn(j, rz_jv_str(k), rz_jv_len(k));
            if (!m || !s_same(rz_jv_value(k), m))
                return 0;
            /* the same node through the lookup the reader uses */
            if (strlen(rz_jv_str(k)) == rz_jv_len(k) &&
                rz_jv_get(v, rz_jv_str(k)).i != rz_jv_value(k).i)
                return 0;
        }
        return 1;
    }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rz_jdoc_t doc; /* reused, as the reader reuses its own */
    char err[160];
    int ours = rz_jdoc_parse(&doc, (const char *)data, size, err, sizeof err);
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
    if (ours == 0 && theirs && !s_same(rz_jdoc_root(&doc), theirs))
        s_differ("different values", data, size);
    json_decref(theirs);
    if (doc.cap > 4096)
        rz_jdoc_free(&doc);
    return 0;
}
