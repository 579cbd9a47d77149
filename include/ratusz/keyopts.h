/* keyopts.h - a program's CURVE options (its own key file and the broker's
 * public key) loaded once at start and handed to every rz_client it makes.
 *
 *     rz_keyopts_t k;
 *     if (rz_keyopts_load(&k, conf.key, conf.server_key, err, sizeof err))
 *         ... configuration error: err names the file, exit 2 ...
 *     rz_client_opts_t o = {.window = 64};
 *     rz_keyopts_apply(&k, &o);          (o now borrows k's strings)
 *     rz_client_t *c = rz_client_new(endpoint, &o);
 *     ...
 *     rz_keyopts_close(&k);              (after the last rz_client_new)
 *
 * Used by ratusz-adapter and ratusz-kafka, whose options are named `key`
 * (NAME.key, see ratusz/keys.h) and `server_key` (the broker's .pub file
 * or its 40 Z85 characters).
 */
#ifndef RATUSZ_KEYOPTS_H
#define RATUSZ_KEYOPTS_H

#include <stddef.h>

#include "ratusz/keys.h"
#include "ratusz/ratusz.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares
 * is its exported API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef struct rz_keyopts {
    int curve;           /* 0: plain connections, the fields are empty */
    rz_keypair_t self;   /* this program's key pair (from `key`) */
    rz_keypair_t server; /* the broker's public key (from `server_key`) */
} rz_keyopts_t;

/* Load the key pair from key_file and the broker's public key from
 * server_key into k. Both NULL or empty: k is plain (curve 0) and 0 is
 * returned. One without the other is a configuration error. Returns 0, or
 * RZ_ECONFIG / -errno with err naming the option and the file (the
 * readers in ratusz/keys.h refuse a secret key file that group or others
 * may read). k is always initialised, also on failure. */
int rz_keyopts_load(rz_keyopts_t *k, const char *key_file,
                    const char *server_key, char *err, size_t err_len);

/* Point opts' curve_public, curve_secret and curve_server at k's keys
 * (borrowed: k must outlive every rz_client_new made with opts). With k
 * NULL or plain, opts' curve fields are set to NULL. */
void rz_keyopts_apply(const rz_keyopts_t *k, rz_client_opts_t *opts);

/* Wipe the secret key from memory. Safe twice. */
void rz_keyopts_close(rz_keyopts_t *k);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
