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

/* The library is built with hidden visibility: what this header declares
 * is its exported API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define RZ_KEY_Z85_LEN 40
#define RZ_KEY_NAME_MAX 100

typedef struct rz_keypair {
    char name[RZ_KEY_NAME_MAX + 1];
    char public_z85[RZ_KEY_Z85_LEN + 1];
    char secret_z85[RZ_KEY_Z85_LEN + 1]; /* empty for a public key */
} rz_keypair_t;

/* Make a new key pair and write dir/NAME.key (0600, refused if it exists)
 * and dir/NAME.pub (0644, replaced), both synced to disk. dir NULL or ""
 * is the current directory. name: 1-100 of [A-Za-z0-9._-], not "." or "..".
 * out (may be NULL) gets the pair. Returns 0, or with err naming the file
 * and the problem: RZ_EINVAL for a bad name, -EEXIST when NAME.key exists,
 * RZ_ECONFIG when libzmq has no CURVE, another -errno from the file
 * system (nothing is left behind then). */
int rz_key_generate(const char *dir, const char *name, rz_keypair_t *out,
                    char *err, size_t err_len);

/* Read a secret key file (refused when group or others may read it, with
 * "chmod 600 FILE" in err). The public key in it must belong to the
 * secret key. Returns 0, or RZ_ECONFIG (a bad file: err names FILE:LINE)
 * or -errno (cannot read it: err names FILE). */
int rz_key_load_secret(const char *path, rz_keypair_t *out, char *err,
                       size_t err_len);

/* Read a public key: a .pub (or .key) file path, or 40 Z85 characters
 * given as they are. out->secret_z85 is left empty. Returns 0, RZ_ECONFIG
 * or -errno like rz_key_load_secret. */
int rz_key_load_public(const char *path_or_z85, rz_keypair_t *out,
                       char *err, size_t err_len);

/* 1 when text is 40 valid Z85 characters encoding a 32-byte key. */
int rz_key_is_z85(const char *text);

/* Internal, for the tests and the fuzzer: the reader behind both loaders.
 * Parses len bytes of key file text, naming it `where` in err; need_secret
 * makes a missing "secret:" line an error. Checks every value and, when a
 * secret is there, that the public key belongs to it. Returns 0 or
 * RZ_ECONFIG (out is then zeroed). */
int rz__key_parse(const char *text, size_t len, const char *where,
                  int need_secret, rz_keypair_t *out, char *err,
                  size_t err_len);

/* Internal: 1 when name is a valid key name. */
int rz__key_name_ok(const char *name);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
