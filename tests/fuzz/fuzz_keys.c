/* fuzz_keys.c - libFuzzer target for the CURVE key file reader.
 *
 * The text goes through rz__key_parse, the reader behind both
 * rz_key_load_secret and rz_key_load_public, once as a secret key file and
 * once as a public one. Besides not crashing, it checks what the loaders
 * promise: whatever is accepted holds valid Z85 keys and a valid name (or
 * none), a secret comes with the public key that belongs to it, and a
 * failure leaves nothing behind and says where.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ratusz/errors.h"
#include "ratusz/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const char *text, size_t len, int need_secret)
{
    rz_keypair_t kp;
    char err[512];
    err[0] = '\0';
    int rc = rz__key_parse(text, len, "fuzz.key", need_secret, &kp, err,
                           sizeof err);
    if (rc != 0) {
        assert(rc == RZ_ECONFIG);
        assert(strncmp(err, "fuzz.key", 8) == 0);
        static const rz_keypair_t zero;
        assert(memcmp(&kp, &zero, sizeof kp) == 0);
        return;
    }
    assert(rz_key_is_z85(kp.public_z85));
    assert(kp.name[0] == '\0' || rz__key_name_ok(kp.name));
    if (need_secret || kp.secret_z85[0]) {
        assert(rz_key_is_z85(kp.secret_z85));
        char derived[RZ_KEY_Z85_LEN + 1];
        assert(zmq_curve_public(derived, kp.secret_z85) == 0);
        assert(strcmp(derived, kp.public_z85) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so reading past it is caught */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    s_check(text, size, 1);
    s_check(text, size, 0);
    free(text);
    return 0;
}
