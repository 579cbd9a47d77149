/* redact.c - personal data out of events (placeholder: nothing marked) */
#include "redact.h"

#include <stdio.h>
#include <string.h>

#include "ratusz/errors.h"

int rz_redact_key_load(const char *path, int create, rz_redact_key_t *out,
                       char *err, size_t err_len)
{
    (void)path, (void)create, (void)err, (void)err_len;
    memset(out, 0, sizeof *out);
    return 0;
}

int rz_redact_needed(const uint8_t *ev, size_t len)
{
    (void)ev, (void)len;
    return 0;
}

int rz_redact_event(const rz_redact_key_t *k, const uint8_t *ev, size_t len,
                    rz_arena_t *a, const uint8_t **out, size_t *out_len)
{
    (void)k, (void)a;
    *out = ev;
    *out_len = len;
    return 0;
}

void rz_redact_pseudonym(const rz_redact_key_t *k, const char *value,
                         size_t n, char out[28])
{
    (void)k, (void)value, (void)n;
    snprintf(out, 28, "~");
}
