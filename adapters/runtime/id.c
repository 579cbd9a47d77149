/* id.c - stable event ids for records without an identity of their own */
#include "ratusz/adapter.h"

#include <stdio.h>
#include <string.h>

int rz_adapter_id(char *buf, size_t len, const char *system,
                  const char *content_id, const char *key)
{
    if (!buf || len == 0)
        return RZ_EINVAL;
    /* 16 hex digits (64 bits) of the content hash keep ids short and still
     * tell apart every export a municipality will ever produce */
    int n = snprintf(buf, len, "%s:%.16s:", system ? system : "",
                     content_id ? content_id : "");
    if (n < 0 || (size_t)n >= len)
        return RZ_ETOOBIG;
    size_t o = (size_t)n;
    for (const unsigned char *p = (const unsigned char *)(key ? key : "");
         *p; p++) {
        /* printable ASCII and UTF-8 bytes are kept; controls become '_' */
        char c = (*p < 0x20 || *p == 0x7f) ? '_' : (char)*p;
        if (o + 1 >= len)
            return RZ_ETOOBIG;
        buf[o++] = c;
    }
    buf[o] = '\0';
    if (o > RZ_ID_MAX)
        return RZ_ETOOBIG;
    return (int)o;
}
