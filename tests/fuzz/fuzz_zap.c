/* fuzz_zap.c - libFuzzer target for the broker's ZAP handler.
 *
 * The input is cut into frames (each a length byte, then that many bytes),
 * as libzmq would hand them to the handler, and decided against a fixed
 * principals file. Whatever arrives, the answer is a known status; "200"
 * only for the one known key with the CURVE mechanism, naming its
 * principal; every refusal is written to a real audit log.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "access.h"
#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static rz_broker_t s_b;
static uint8_t s_key[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/ratusz-fuzz-zap-XXXXXX", err[512];
    if (!mkdtemp(dir))
        abort();
    if (rz_audit_open(&s_b.audit, dir, 0, err, sizeof err) < 0)
        abort();
    /* a fixed key: 32 bytes 0x01..0x20 */
    for (int i = 0; i < 32; i++)
        s_key[i] = (uint8_t)(i + 1);
    char z85[41], yaml[256];
    zmq_z85_encode(z85, s_key, 32);
    snprintf(yaml, sizeof yaml,
             "principals:\n  adapter-tax:\n    key: \"%s\"\n    read: [\"\"]\n",
             z85);
    if (rz_access_load_string(yaml, strlen(yaml), "fuzz.yaml", err,
                              sizeof err) != 1)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *f[16];
    size_t n[16];
    int frames = 0;
    size_t i = 0;
    while (i < size && frames < 16) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        f[frames] = data + i;
        n[frames++] = len;
        i += len;
    }
    char code[4], text[64], user[RZ_PRINCIPAL_MAX];
    int rc = rz__zap_decide(&s_b, f, n, frames, code, text, sizeof text, user,
                            sizeof user);
    assert(strlen(code) == 3);
    assert(strlen(text) < sizeof text);
    int known = frames == 7 && n[0] == 3 && !memcmp(f[0], "1.0", 3) &&
                n[5] == 5 && !memcmp(f[5], "CURVE", 5) && n[6] == 32 &&
                !memcmp(f[6], s_key, 32);
    if (rc < 0) {
        assert(!strcmp(code, "500"));
    } else if (!strcmp(code, "200")) {
        assert(known);
        assert(!strcmp(user, "adapter-tax"));
    } else {
        assert(!known);
        assert(!strcmp(code, "400"));
        assert(user[0] == '\0');
    }
    return 0;
}
