/* text.c - numbers written for people (text.h) */
#include "ratusz/text.h"

#include <inttypes.h>
#include <stdio.h>

const char *rz_thousands(char *buf, size_t len, uint64_t n)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%" PRIu64, n);
    size_t o = 0;
    if (!len)
        return buf;
    for (int i = 0; i < nd && o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}
