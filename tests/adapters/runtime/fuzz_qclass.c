/* fuzz_qclass.c - libFuzzer target for the class of a quarantine reason
 * (a reason holds a record's own bytes): any bytes in, a class that fits,
 * is NUL-terminated where it says and is one line of valid UTF-8 (what
 * the broker takes in a REPORT), whatever the room */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/core/text.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *reason = malloc(len + 1);
    if (!reason)
        return 0;
    memcpy(reason, data, len);
    reason[len] = '\0';
    static const size_t rooms[] = {1, 2, 4, 7, 40, RZ_QCLASS_LEN};
    for (size_t i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
        char out[RZ_QCLASS_LEN];
        size_t w = rz_qclass(reason, out, rooms[i]);
        assert(w < rooms[i]);
        assert(strlen(out) == w);
        assert(rzc_utf8_valid((const uint8_t *)out, w));
        assert(rzc_control_at((const uint8_t *)out, w) == w);
        assert(!memchr(out, '\t', w) && !memchr(out, '\n', w) &&
               !memchr(out, '\r', w));
    }
    free(reason);
    return 0;
}
