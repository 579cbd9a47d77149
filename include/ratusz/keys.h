/* keys.h - CURVE key files of Ratusz clients and brokers.
 *
 * Every program on the bus (each adapter, bridge, operator and the broker
 * itself) has its own CURVE key pair (ZeroMQ's CurveZMQ, RFC 26). `ratusz
 * keygen NAME` writes two text files in the same "key: value" form:
 *
 *   NAME.key  (mode 0600, never overwritten)     NAME.pub
 *     # ratusz secret key: keep it private          # ratusz public key
 *     name: NAME                                    name: NAME
 *     public: <40 Z85 characters>                   public: <40 Z85 ...>
 *     secret: <40 Z85 characters>
 *
 * Lines starting with '#' and blank lines are ignored. The broker's grants
 * (the principals file) name each principal's public key; clients need
 * their NAME.key and the broker's public key (its .pub file, or the bare
 * 40 Z85 characters).
 */
#ifndef RATUSZ_KEYS_H
#define RATUSZ_KEYS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RZ_KEY_Z85_LEN 40
#define RZ_KEY_NAME_MAX 100

typedef struct rz_keypair {
    char name[RZ_KEY_NAME_MAX + 1];
    char public_z85[RZ_KEY_Z85_LEN + 1];
    char secret_z85[RZ_KEY_Z85_LEN + 1]; /* empty for a public key */
} rz_keypair_t;

/* Make a new key pair and write dir/NAME.key (0600, refused if it exists)
 * and dir/NAME.pub. name: 1-100 of [A-Za-z0-9._-]. Returns 0 or a negative
 * code with err naming the file and the problem. */
int rz_key_generate(const char *dir, const char *name, rz_keypair_t *out,
                    char *err, size_t err_len);

/* Read a secret key file (refused when group or others may read it).
 * Returns 0, or RZ_ECONFIG / -errno with err naming the file and line. */
int rz_key_load_secret(const char *path, rz_keypair_t *out, char *err,
                       size_t err_len);

/* Read a public key: a .pub (or .key) file path, or 40 Z85 characters
 * given as they are. out->secret_z85 is left empty. */
int rz_key_load_public(const char *path_or_z85, rz_keypair_t *out,
                       char *err, size_t err_len);

/* 1 when text is 40 valid Z85 characters encoding a 32-byte key. */
int rz_key_is_z85(const char *text);

#ifdef __cplusplus
}
#endif
#endif
