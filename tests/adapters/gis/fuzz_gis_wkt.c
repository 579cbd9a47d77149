/* fuzz_gis_wkt.c - the sink's WKT reader: what it accepts becomes GeoJSON
 * that jansson reads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gis.h"

/* assert() is gone under NDEBUG (RelWithDebInfo): the fuzzer must see
 * a broken invariant as a crash */
#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x))                                                              \
            abort();                                                           \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *wkt = malloc(len + 1);
    memcpy(wkt, data, len);
    wkt[len] = '\0';
    rzc_buf_t b = {0};
    char err[200];
    if (rz__gis_wkt_to_geojson(wkt, len & 1, &b, err, sizeof(err)) == 0) {
        /* numbers are copied as written: integers may be bigger than
         * jansson's json_int_t */
        json_t *j = json_loads(b.s, JSON_DECODE_INT_AS_REAL, NULL);
        CHECK(json_is_object(j));
        json_decref(j);
    } else {
        CHECK(err[0]);
    }
    rzc_buf_free(&b);
    free(wkt);
    return 0;
}
