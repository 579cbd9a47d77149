/* fuzz_text.c - libFuzzer target for rzc_text_decode, the one reader of
 * every adapter's bytes, and rzc_utf8_repair.
 *
 * Each input is decoded three times (encoding decided from the bytes,
 * forced UTF-8, forced Windows-1250). Besides not crashing or reading
 * past the input, it checks what text.h promises: UTF-16 is refused with
 * a reason and nothing else is; the text is well-formed UTF-8 with one
 * U+FFFD at least for every byte listed as bad; a bad byte's offset is
 * inside the input, past the BOM, on a byte that is not ASCII (ASCII
 * means the same in both encodings, so it is never bad); lines of text
 * and of the input match one to one; UTF-8 input is passed through as it
 * is; freeing twice is safe.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/core/text.h"
#include "ratusz/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t s_count(const uint8_t *s, size_t len, const char *what,
                      size_t wlen)
{
    size_t n = 0;
    for (size_t i = 0; i + wlen <= len; i++)
        if (memcmp(s + i, what, wlen) == 0)
            n++;
    return n;
}

static void s_check(const uint8_t *in, size_t len, int enc)
{
    rzc_text_t t;
    char err[256];
    err[0] = '\0';
    int rc = rzc_text_decode(&t, in, len, enc, err, sizeof err);
    int utf16 = len >= 2 && ((in[0] == 0xff && in[1] == 0xfe) ||
                             (in[0] == 0xfe && in[1] == 0xff));
    if (utf16) {
        assert(rc == RZ_EINVAL);
        assert(err[0] != '\0');
        rzc_text_free(&t);
        return;
    }
    assert(rc == 0);
    assert(t.orig == in && t.orig_len == len);
    assert(t.bom == 0 || t.bom == 3);
    assert(t.bom <= len);
    assert(t.encoding);
    assert(!strcmp(t.encoding, "UTF-8") || !strcmp(t.encoding, "UTF-8 (BOM)") ||
           !strcmp(t.encoding, "windows-1250"));
    assert(!t.bom || !strcmp(t.encoding, "UTF-8 (BOM)"));

    const uint8_t *text = (const uint8_t *)t.text;
    assert(text || t.len == 0);
    assert(rzc_utf8_valid(text, t.len));
    if (t.owned)
        assert(t.text == t.owned && t.owned[t.len] == '\0');

    const uint8_t *body = in + t.bom;
    size_t blen = len - t.bom;
    for (size_t i = 0; i < t.n_bad; i++) {
        assert(t.bad[i] >= t.bom && t.bad[i] < len);
        assert(in[t.bad[i]] >= 0x80);
    }
    assert(s_count(text, t.len, "\xef\xbf\xbd", 3) >= t.n_bad);
    assert(rzc_text_bad_in(&t, 0, SIZE_MAX) == (t.n_bad ? t.bad[0] : SIZE_MAX));
    for (size_t i = 0; i < t.n_bad; i++)
        assert(rzc_text_bad_in(&t, t.bad[i], t.bad[i] + 1) == t.bad[i]);
    assert(rzc_text_bad_in(&t, len, SIZE_MAX) == SIZE_MAX);
    assert(s_count(text, t.len, "\n", 1) == s_count(body, blen, "\n", 1));

    if (enc != RZC_ENC_CP1250 && rzc_utf8_valid(body, blen)) {
        assert(t.len == blen && memcmp(text, body, blen) == 0);
        assert(t.n_bad == 0 && t.repaired == 0);
        assert(strcmp(t.encoding, "windows-1250") != 0);
    }
    rzc_text_free(&t);
    rzc_text_free(&t);
    assert(!t.owned && !t.bad && t.n_bad == 0);
}

static void s_check_repair(const uint8_t *in, size_t len)
{
    size_t out_len = 0;
    char *out = rzc_utf8_repair(in, len, &out_len);
    assert(out);
    assert(out[out_len] == '\0');
    assert(rzc_utf8_valid((const uint8_t *)out, out_len));
    assert(out_len >= len); /* a bad byte becomes three */
    if (rzc_utf8_valid(in, len))
        assert(out_len == len && memcmp(out, in, len) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of the exact size, so a read past the input is caught */
    uint8_t *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    s_check(in, size, RZC_ENC_AUTO);
    s_check(in, size, RZC_ENC_UTF8);
    s_check(in, size, RZC_ENC_CP1250);
    s_check_repair(in, size);
    free(in);
    return 0;
}
