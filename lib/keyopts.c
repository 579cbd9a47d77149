/* keyopts.c - a program's CURVE options into rz_client_opts_t */
#include "ratusz/keyopts.h"

#include <stdio.h>
#include <string.h>

#include "ratusz/errors.h"

static int s_set(const char *s)
{
    return s && *s;
}

/* "option: why" when why names the file already, else "option FILE: why" */
static void s_fail(char *err, size_t err_len, const char *option,
                   const char *file, const char *why)
{
    if (strstr(why, file))
        snprintf(err, err_len, "%s: %s", option, why);
    else
        snprintf(err, err_len, "%s %s: %s", option, file, why);
}

int rz_keyopts_load(rz_keyopts_t *k, const char *key_file,
                    const char *server_key, char *err, size_t err_len)
{
    char why[512] = "";
    int rc;
    memset(k, 0, sizeof *k);
    if (!s_set(key_file) && !s_set(server_key))
        return 0;
    if (!s_set(key_file)) {
        snprintf(err, err_len,
                 "server_key is set but key is not (this program's secret "
                 "key file, from `ratusz keygen`)");
        return RZ_ECONFIG;
    }
    if (!s_set(server_key)) {
        snprintf(err, err_len,
                 "key %s is set but server_key is not (the broker's .pub "
                 "file or its 40 Z85 characters)",
                 key_file);
        return RZ_ECONFIG;
    }
    if ((rc = rz_key_load_secret(key_file, &k->self, why, sizeof why)) < 0) {
        s_fail(err, err_len, "key", key_file, why);
        goto fail;
    }
    if (!k->self.secret_z85[0] || !k->self.public_z85[0]) {
        snprintf(err, err_len, "key %s: no secret and public key in it",
                 key_file);
        rc = RZ_ECONFIG;
        goto fail;
    }
    if ((rc = rz_key_load_public(server_key, &k->server, why, sizeof why)) <
        0) {
        s_fail(err, err_len, "server_key", server_key, why);
        goto fail;
    }
    if (!k->server.public_z85[0]) {
        snprintf(err, err_len, "server_key %s: no public key in it",
                 server_key);
        rc = RZ_ECONFIG;
        goto fail;
    }
    k->curve = 1;
    return 0;
fail:
    rz_keyopts_close(k);
    return rc;
}

void rz_keyopts_apply(const rz_keyopts_t *k, rz_client_opts_t *opts)
{
    int on = k && k->curve;
    opts->curve_public = on ? k->self.public_z85 : NULL;
    opts->curve_secret = on ? k->self.secret_z85 : NULL;
    opts->curve_server = on ? k->server.public_z85 : NULL;
}

void rz_keyopts_close(rz_keyopts_t *k)
{
    if (!k)
        return;
    explicit_bzero(k, sizeof *k);
}
