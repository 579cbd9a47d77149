/* sha256.h - SHA-256 with its state in the caller's memory.
 *
 * The store hashes every event it appends twice: the digest of the
 * producer's bytes for the ids database, and the hash chain, whose digest
 * it also takes after each event. OpenSSL 3.0's EVP interface allocates a
 * provider context at every EVP_DigestInit_ex and EVP_MD_CTX_copy_ex
 * (measured with libssl3 3.0.19: one malloc each), which made those two
 * heap allocations per event on the publish path. OpenSSL's SHA256_*
 * functions run the same code with the state in a struct the caller owns
 * (copying it takes the digest so far); OpenSSL 3.0 deprecates them in
 * favour of EVP, so they are used in sha256.c alone. The store's verify
 * and retention hash through them too: one way to compute the chain.
 */
#ifndef RATUSZ_BROKER_SHA256_H
#define RATUSZ_BROKER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define RZ_SHA256_LEN 32
#define RZ_SHA256_STATE 112 /* sizeof (SHA256_CTX), checked in sha256.c */

typedef struct rz_sha256 {
    _Alignas(8) unsigned char state[RZ_SHA256_STATE];
} rz_sha256_t;

void rz_sha256_init(rz_sha256_t *h);
void rz_sha256_update(rz_sha256_t *h, const void *p, size_t len);
/* The digest; h must be initialized again before it is used again. */
void rz_sha256_final(rz_sha256_t *h, uint8_t out[RZ_SHA256_LEN]);
/* The digest of what h has taken so far; h goes on unchanged. */
void rz_sha256_peek(const rz_sha256_t *h, uint8_t out[RZ_SHA256_LEN]);

#endif
