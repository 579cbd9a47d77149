/* redact.h - personal data out of events, for readers without clearance.
 *
 * The schema marks personal fields with the (ratusz.v1.personal) field
 * option (proto/ratusz/v1/options.proto); the build turns the marks into a
 * table, so a new personal field is one annotation. For a reader without
 * personal-data clearance every such string is replaced by a keyed
 * pseudonym: "~" followed by 26 base32 letters of HMAC-SHA256(key, value),
 * the same value giving the same pseudonym, so one taxpayer's records can
 * still be grouped without showing who it is. The event then carries
 * redaction = "hmac-sha256:<key id>".
 */
#ifndef RATUSZ_BROKER_REDACT_H
#define RATUSZ_BROKER_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef struct rz_redact_key {
    uint8_t key[32];
    char id[17]; /* first 16 hex digits of SHA-256(key): names the key */
} rz_redact_key_t;

/* Load the pseudonym secret from path (64 hex digits and a newline). When
 * the file is missing and create is set, make a new random secret there
 * (getrandom, mode 0600, O_EXCL: of two processes creating it at once, the
 * second reads the first one's). Refuses a file with any group or other
 * permission, a symlink, and anything that is not 64 hex digits. Returns 0
 * or RZ_ECONFIG with err naming the file and the problem; *out is zeroed on
 * failure. */
int rz_redact_key_load(const char *path, int create, rz_redact_key_t *out,
                       char *err, size_t err_len);

/* Whether stored event bytes may hold personal data: 1 when the event's
 * data (the last oneof member on the wire, as protobuf decodes it) is a
 * message with personal fields somewhere under it, 0 when it certainly
 * holds none (a wire scan, no decoding). Malformed bytes give 1, so that
 * rz_redact_event refuses them. Thread-safe. */
int rz_redact_needed(const uint8_t *ev, size_t len);

/* Redact one stored event (the producer's bytes and the broker's stamp).
 * Returns 0 with *out = ev, *out_len = len when no field held personal
 * data; 1 with the redacted encoding in a's memory (valid until a is
 * closed) when fields were replaced, redaction set and the stamp kept;
 * RZ_EDECODE when the bytes are not an Event (or decoding ran out of
 * memory) or RZ_ENOMEM, with *out = NULL: the caller then withholds the
 * event (fail closed). Every decoded string, redacted or not, lives in a.
 * Unknown fields (from a newer schema) are passed through as they are: the
 * broker cannot know their marks. Thread-safe. */
int rz_redact_event(const rz_redact_key_t *k, const uint8_t *ev, size_t len,
                    rz_arena_t *a, const uint8_t **out, size_t *out_len);

/* The pseudonym of value (n bytes) into out (at least 28 bytes): "~" and
 * 26 letters of RFC 4648 base32, lower case (a-z, 2-7), of the first 130
 * bits of HMAC-SHA256(key, value); NUL-terminated. */
void rz_redact_pseudonym(const rz_redact_key_t *k, const char *value, size_t n,
                         char out[28]);

/* Called by rz_redact_each with each personal value (n bytes, not empty);
 * non-zero stops the walk and is returned. */
typedef int (*rz_redact_value_fn)(const char *value, size_t n, void *user);

/* Call fn with every string rz_redact_event would replace, in the same
 * walk (empty strings are skipped: they are never replaced). The values
 * live in a. Returns 0, RZ_EDECODE (not an Event), RZ_ENOMEM, or what fn
 * returned. Thread-safe. */
int rz_redact_each(const uint8_t *ev, size_t len, rz_arena_t *a,
                   rz_redact_value_fn fn, void *user);

/* A pseudonym as an index key: the 130 bits of the MAC its 26 letters
 * show, packed most significant first into 17 bytes (the last 6 bits 0). */
#define RZ_PSEUDONYM_RAW 17

/* The raw form of rz_redact_pseudonym(k, value, n). */
void rz_redact_pseudonym_raw(const rz_redact_key_t *k, const char *value,
                             size_t n, uint8_t out[RZ_PSEUDONYM_RAW]);

/* Parse a pseudonym ("~" and 26 letters a-z, 2-7) into its raw form.
 * Returns 0, or RZ_EINVAL with why saying what is wrong (length, first
 * character, or which character is outside the alphabet). */
int rz_redact_pseudonym_parse(const char *text, uint8_t out[RZ_PSEUDONYM_RAW],
                              char *why, size_t why_len);

#endif
