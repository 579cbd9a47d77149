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
 * (mode 0600, O_EXCL). Refuses a file others can read. Returns 0 or
 * RZ_ECONFIG with err naming the file and the problem. */
int rz_redact_key_load(const char *path, int create, rz_redact_key_t *out,
                       char *err, size_t err_len);

/* Whether stored event bytes may hold personal data: 1 when the event's
 * data is a message with personal fields somewhere under it, 0 when it
 * certainly holds none (a wire scan, no decoding). */
int rz_redact_needed(const uint8_t *ev, size_t len);

/* Redact one stored event. Returns 0 with *out = ev, *out_len = len when no
 * field held personal data; 1 with the redacted encoding in a's memory
 * when fields were replaced; RZ_EDECODE when the bytes are not an Event or
 * RZ_ENOMEM: the caller then withholds the event (fail closed). */
int rz_redact_event(const rz_redact_key_t *k, const uint8_t *ev, size_t len,
                    rz_arena_t *a, const uint8_t **out, size_t *out_len);

/* The pseudonym of value (n bytes) into out (at least 28 bytes): "~" and
 * 26 base32 letters, NUL-terminated. */
void rz_redact_pseudonym(const rz_redact_key_t *k, const char *value,
                         size_t n, char out[28]);

#endif
