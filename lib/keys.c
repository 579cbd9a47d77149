/* keys.c - CURVE key files (placeholder) */
#include "ratusz/keys.h"

#include <stdio.h>

#include "ratusz/errors.h"

int rz_key_generate(const char *dir, const char *name, rz_keypair_t *out,
                    char *err, size_t err_len)
{
    (void)dir, (void)out;
    snprintf(err, err_len, "%s: key generation is not supported yet", name);
    return RZ_ECONFIG;
}

int rz_key_load_secret(const char *path, rz_keypair_t *out, char *err,
                       size_t err_len)
{
    (void)out;
    snprintf(err, err_len, "%s: key files are not supported yet", path);
    return RZ_ECONFIG;
}

int rz_key_load_public(const char *path_or_z85, rz_keypair_t *out,
                       char *err, size_t err_len)
{
    (void)out;
    snprintf(err, err_len, "%s: key files are not supported yet",
             path_or_z85);
    return RZ_ECONFIG;
}

int rz_key_is_z85(const char *text)
{
    (void)text;
    return 0;
}
