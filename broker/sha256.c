/* sha256.c - SHA-256 with its state in the caller's memory (sha256.h says
 * why these OpenSSL functions and not EVP). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "sha256.h"

#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= RZ_SHA256_STATE,
               "rz_sha256_t too small for SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= 8, "rz_sha256_t alignment");

void rz_sha256_init(rz_sha256_t *h)
{
    SHA256_Init((SHA256_CTX *)h->state);
}

void rz_sha256_update(rz_sha256_t *h, const void *p, size_t len)
{
    SHA256_Update((SHA256_CTX *)h->state, p, len);
}

void rz_sha256_final(rz_sha256_t *h, uint8_t out[RZ_SHA256_LEN])
{
    SHA256_Final(out, (SHA256_CTX *)h->state);
}

void rz_sha256_peek(const rz_sha256_t *h, uint8_t out[RZ_SHA256_LEN])
{
    SHA256_CTX c;
    memcpy(&c, h->state, sizeof c);
    SHA256_Final(out, &c);
}
