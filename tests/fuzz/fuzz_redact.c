/* fuzz_redact.c - libFuzzer target for broker/redact.c.
 *
 * The input is stored event bytes. Besides not crashing:
 *
 *   - rz_redact_needed saying 0 means rz_redact_event finds nothing (the
 *     broker skips the decode on that answer);
 *   - an error is RZ_EDECODE (or RZ_ENOMEM) exactly when protobuf-c refuses
 *     the bytes, with no output;
 *   - otherwise the output decodes as an Event; each personal field that
 *     held something holds its pseudonym; everything else, once the
 *     personal fields and redaction are blanked, encodes exactly as the
 *     input does; and no personal value of the input occurs in the output
 *     bytes unless it also occurs in what is not personal.
 *
 * Which fields are personal is written out here by hand from tax.proto
 * (Party unless an organisation; TaxAssessment.account), not taken from
 * the generated table, so that the table is checked too: a new mark in
 * the schema needs a line here.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ratusz/errors.h"
#include "ratusz/ratusz.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_MAX_PERSONAL 6

/* The personal string fields of ev, by hand from tax.proto. */
static size_t s_personal(Ratusz__V1__Event *ev, char **at[S_MAX_PERSONAL])
{
    size_t n = 0;
    if (ev->data_case != RATUSZ__V1__EVENT__DATA_TAX || !ev->tax)
        return 0;
    Ratusz__V1__TaxAssessment *t = ev->tax;
    at[n++] = &t->account;
    Ratusz__V1__Party *p = t->taxpayer;
    if (p && p->kind != RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION) {
        at[n++] = &p->pesel;
        at[n++] = &p->nip;
        at[n++] = &p->regon;
        at[n++] = &p->name;
        at[n++] = &p->address;
    }
    return n;
}

/* ev packed with its personal fields and redaction blanked (malloc'd). */
static uint8_t *s_rest(Ratusz__V1__Event *ev, size_t *len)
{
    static char blank[] = "";
    char **at[S_MAX_PERSONAL], *saved[S_MAX_PERSONAL];
    size_t n = s_personal(ev, at);
    for (size_t i = 0; i < n; i++) {
        saved[i] = *at[i];
        *at[i] = blank;
    }
    char *redaction = ev->redaction;
    ev->redaction = blank;
    *len = ratusz__v1__event__get_packed_size(ev);
    uint8_t *b = malloc(*len ? *len : 1);
    assert(b);
    ratusz__v1__event__pack(ev, b);
    ev->redaction = redaction;
    for (size_t i = 0; i < n; i++)
        *at[i] = saved[i];
    return b;
}

static int s_has(const uint8_t *b, size_t n, const char *s)
{
    return memmem(b, n, s, strlen(s)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rz_redact_key_t key = {.id = "0123456789abcdef"};
    rz_arena_t a;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    memset(key.key, 0x5a, sizeof key.key);
    rz_arena_init(&a);

    int needed = rz_redact_needed(data, size);
    int rc = rz_redact_event(&key, data, size, &a, &out, &out_len);
    Ratusz__V1__Event *in = ratusz__v1__event__unpack(NULL, size, data);
    assert(needed == 0 || needed == 1);
    if (rc < 0) {
        assert(rc == RZ_EDECODE || rc == RZ_ENOMEM);
        assert(!out);
        if (in) {
            /* refused although it decodes: only when protobuf-c refuses
             * its own re-encoding of it (unknown fields it should have
             * refused in the first place) */
            size_t n = ratusz__v1__event__get_packed_size(in);
            uint8_t *b = malloc(n ? n : 1);
            assert(b);
            ratusz__v1__event__pack(in, b);
            Ratusz__V1__Event *again = ratusz__v1__event__unpack(NULL, n, b);
            assert(!again);
            free(b);
        }
        goto done;
    }
    assert(in);
    char **at[S_MAX_PERSONAL];
    size_t n = s_personal(in, at), filled = 0;
    for (size_t i = 0; i < n; i++)
        filled += **at[i] != '\0';
    if (rc == 0) {
        assert(out == data && out_len == size);
        assert(filled == 0);
        goto done;
    }
    assert(rc == 1 && needed == 1 && filled > 0);
    Ratusz__V1__Event *red = ratusz__v1__event__unpack(NULL, out_len, out);
    assert(red);
    assert(strcmp(red->redaction, "hmac-sha256:0123456789abcdef") == 0);
    assert(red->seq == in->seq && red->ingest_time == in->ingest_time);
    assert(strcmp(red->principal, in->principal) == 0);
    char **rat[S_MAX_PERSONAL];
    assert(s_personal(red, rat) == n);
    for (size_t i = 0; i < n; i++) {
        const char *was = *at[i], *now = *rat[i];
        char want[28];
        if (!*was) {
            assert(!*now);
            continue;
        }
        rz_redact_pseudonym(&key, was, strlen(was), want);
        assert(strcmp(now, want) == 0);
    }
    size_t in_rest_len, red_rest_len;
    uint8_t *in_rest = s_rest(in, &in_rest_len);
    uint8_t *red_rest = s_rest(red, &red_rest_len);
    assert(in_rest_len == red_rest_len &&
           memcmp(in_rest, red_rest, in_rest_len) == 0);
    /* A value can also be inside what stays (a subject naming the
     * account), in the tag, or by chance in a pseudonym's letters. */
    for (size_t i = 0; i < n; i++) {
        const char *v = *at[i];
        if (strlen(v) < 4 || s_has(in_rest, in_rest_len, v) ||
            strstr(red->redaction, v) ||
            strspn(v, "~abcdefghijklmnopqrstuvwxyz234567") == strlen(v))
            continue;
        if (s_has(out, out_len, v)) {
            fprintf(stderr, "personal value %s left in the output\n", v);
            abort();
        }
    }
    free(in_rest);
    free(red_rest);
    ratusz__v1__event__free_unpacked(red, NULL);
done:
    if (in)
        ratusz__v1__event__free_unpacked(in, NULL);
    rz_arena_close(&a);
    return 0;
}
