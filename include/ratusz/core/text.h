/* text.h - bytes to UTF-8 text for every Ratusz program: UTF-8 checks,
 * Windows-1250 through iconv, a file's encoding decided from its bytes
 * and repaired field by field, and exact amounts of money.
 */
#ifndef RATUSZ_CORE_TEXT_H
#define RATUSZ_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* ==========================================================================
 * UTF-8
 */

/* Offset of the first byte that does not start a well-formed UTF-8
 * sequence (overlong forms, surrogates, code points above U+10FFFF and
 * sequences cut short count as not well-formed), or len when s is UTF-8. */
size_t rzc_utf8_invalid_at(const uint8_t *s, size_t len);

/* 1 when s[0..len) is well-formed UTF-8. */
int rzc_utf8_valid(const uint8_t *s, size_t len);

/* Offset of the first C0 control other than TAB, LF and CR (NUL
 * included) or of DEL, or len when there is none. */
size_t rzc_control_at(const uint8_t *s, size_t len);

/* A malloc'd, NUL-terminated copy of s[0..len) in which every byte that
 * does not belong to a well-formed sequence is replaced by U+FFFD, for
 * text that should be UTF-8 but was never checked (*out_len bytes; the
 * caller frees it). NULL on ENOMEM. */
char *rzc_utf8_repair(const uint8_t *s, size_t len, size_t *out_len);

/* ==========================================================================
 * Windows-1250 and other encodings (iconv)
 */

/* Convert len bytes from encoding `from` to `to` (iconv names) into a
 * malloc'd, NUL-terminated buffer (*out, length *out_len; the caller
 * frees it). Returns 0; RZ_EINVAL when iconv knows either name not
 * (*bad_at = 0) or a byte has no meaning in `from` (*bad_at is its
 * offset); RZ_ENOMEM. */
int rzc_iconv(const char *to, const char *from, const char *in, size_t len,
              char **out, size_t *out_len, size_t *bad_at);

/* Windows-1250 to UTF-8 as rzc_iconv, and when map is not NULL, for each
 * output byte the offset of the input byte it came from (*map has
 * *out_len + 1 entries, the last = len; the caller frees it). Bytes that
 * Windows-1250 leaves undefined (0x81 0x83 0x88 0x90 0x98) are RZ_EINVAL
 * with *bad_at. */
int rzc_cp1250_decode(const uint8_t *in, size_t len, char **out,
                      size_t *out_len, uint32_t **map, size_t *bad_at);

/* UTF-8 to Windows-1250, for systems that read nothing else. Characters
 * Windows-1250 has no code for become '?' and are added to *unmappable.
 * A malloc'd buffer (length *out_len), or NULL on ENOMEM. */
char *rzc_cp1250_encode(const char *s, size_t len, size_t *out_len,
                        uint64_t *unmappable);

/* ==========================================================================
 * A file's text, encoding decided per file and repaired per field
 *
 * The file's encoding is decided from its bytes: with a BOM, or valid, or
 * with more well-formed multi-byte sequences than stray bytes, it is
 * UTF-8; otherwise it is Windows-1250 (enc forces either).
 *
 * In a UTF-8 file, a field that is not UTF-8 never changes how the rest is
 * read. A field here is a run of bytes between two of the separators
 * "\n \r , ; \t | \"" (every ASCII byte means the same in both
 * encodings, so fields are found before decoding). Such a field is decoded
 * on its own as Windows-1250 when it is valid Windows-1250, has no
 * well-formed UTF-8 Latin letter or typographic punctuation of its own
 * (Windows-1250 capitals form other well-formed pairs by accident: "ÓŁ"
 * is D3 A3) and is not a UTF-8 letter cut by the end of the input. Otherwise its bad bytes become U+FFFD and their
 * offsets are listed in bad[]: the reader quarantines the record that
 * holds them, naming the offset. In a Windows-1250 file the undefined
 * bytes are listed the same way.
 *
 * Lines of text and of the input match one to one (both encodings share
 * '\n'), which is how a record's original bytes are found again.
 */

enum { RZC_ENC_AUTO, RZC_ENC_UTF8, RZC_ENC_CP1250 };

typedef struct rzc_text {
    const uint8_t *orig; /* the input, borrowed */
    size_t orig_len;
    size_t bom;       /* bytes of a UTF-8 BOM at the start of orig */
    const char *text; /* UTF-8, no BOM, NUL-terminated when owned */
    size_t len;
    char *owned;          /* text when it is not orig itself */
    const char *encoding; /* "UTF-8", "UTF-8 (BOM)", "windows-1250" */
    size_t repaired;      /* fields decoded as Windows-1250 on their own */
    size_t *bad;          /* offsets in orig of bytes read as U+FFFD */
    size_t n_bad;
} rzc_text_t;

/* Decode data (enc: RZC_ENC_*). t borrows data. Returns 0; RZ_EINVAL with
 * err for UTF-16 input; RZ_ENOMEM. */
int rzc_text_decode(rzc_text_t *t, const uint8_t *data, size_t len, int enc,
                    char *err, size_t err_len);

/* The first bad byte's offset in orig[from..to), or SIZE_MAX. */
size_t rzc_text_bad_in(const rzc_text_t *t, size_t from, size_t to);

/* Free what t owns; safe twice. */
void rzc_text_free(rzc_text_t *t);

/* ==========================================================================
 * Money
 */

/* How rzc_decimal may be written besides digits and one decimal
 * separator. */
enum {
    RZC_DEC_SIGN = 1 << 0,   /* a leading '+' or '-' */
    RZC_DEC_GROUPS = 1 << 1, /* digits grouped by 3 with spaces, NO-BREAK
                                SPACE, NARROW NO-BREAK SPACE, dots or commas
                                ("1 234,56", "1.234.567", "1,234.56") and
                                blanks around the number */
};

/* Why rzc_decimal refused a number. */
enum {
    RZC_DEC_NAN = -1,      /* not a number in the accepted forms */
    RZC_DEC_FRACTION = -2, /* a fraction of the smallest unit */
    RZC_DEC_RANGE = -3,    /* beyond int64_t */
};

/* A decimal number with a comma or dot as the decimal separator ("1234,56",
 * "1234.56", "246"), times mult, as an exact integer: mult 100 gives grosze
 * of złoty, 1000 thousandths. No floating point anywhere. Returns 0 or
 * one of RZC_DEC_*. */
int rzc_decimal(const char *s, int64_t mult, int flags, int64_t *out);

/* An amount in złoty times scale ("w tys. zł": 1000) as grosze, in every
 * form of RZC_DEC_SIGN | RZC_DEC_GROUPS. Returns 0, or -1 with *why ("is
 * not a number", "has fractions of a grosz", "is out of range"). */
int rzc_grosze(const char *s, int64_t scale, int64_t *out, const char **why);

/* ==========================================================================
 * Where decoded text came from
 */

/* For each byte of t->text, the offset in t->orig of the byte it was
 * decoded from: (*map)[i] for text[i], and (*map)[t->len] = t->orig_len,
 * so that a record's bytes text[a..b) came from orig[map[a]..map[b]). The
 * caller frees *map. Returns 0 or RZ_ENOMEM. */
int rzc_text_map(const rzc_text_t *t, size_t **map);

#endif
