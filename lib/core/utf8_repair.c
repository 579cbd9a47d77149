/* utf8_repair.c - text that should be UTF-8 made so: bad bytes to U+FFFD */
#include "ratusz/core/text.h"

#include <stdlib.h>
#include <string.h>

char *rzc_utf8_repair(const uint8_t *s, size_t len, size_t *out_len)
{
    /* at worst every byte becomes the three of U+FFFD */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t good = rzc_utf8_invalid_at(s + i, len - i);
        memcpy(buf + o, s + i, good);
        o += good;
        i += good;
        if (i < len) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    buf[o] = '\0';
    *out_len = o;
    return buf;
}
