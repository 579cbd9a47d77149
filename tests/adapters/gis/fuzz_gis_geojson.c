/* fuzz_gis_geojson.c - the GeoJSON reader on arbitrary bytes: no crash,
 * every record reported once with bytes inside the input, every event
 * valid on the bus with GeoJSON text that jansson reads. */
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

typedef struct ctx {
    const uint8_t *data;
    size_t len;
} ctx_t;

static void s_ref(ctx_t *c, const rz_record_ref_t *ref)
{
    CHECK(ref->key && *ref->key);
    /* the record's own bytes, or those of the UTF-8 copy a Windows-1250
     * input is read from (at most 3 bytes for each byte) */
    CHECK(ref->bytes);
    CHECK((ref->bytes >= c->data && ref->bytes + ref->len <= c->data + c->len) ||
          ref->len <= 3 * c->len);
}

static int s_event(rz_out_t *o, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    s_ref(o->user, ref);
    Ratusz__V1__Event e = *ev;
    e.source = "/fuzz/gis";
    char why[256];
    CHECK(rz_event_check(&e, why, sizeof(why)) == 0);
    json_t *j =
        json_loads(ev->gis->geometry->geojson, JSON_DECODE_INT_AS_REAL, NULL);
    CHECK(json_is_object(j));
    json_decref(j);
    return 0;
}

static int s_quarantine(rz_out_t *o, const rz_record_ref_t *ref,
                        const char *why)
{
    s_ref(o->user, ref);
    CHECK(why && *why);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static rz_gis_t *g;
    if (!g) {
        rz_gis_conf_t conf;
        memset(&conf, 0, sizeof(conf));
        rz_conf_init(rz__gis_options, &conf);
        char err[200];
        rz_conf_set(rz__gis_options, &conf, "tenant", "1465011", err,
                    sizeof(err));
        void *st;
        if (rz__gis_open(&st, &conf, err, sizeof(err)) != 0)
            return 0;
        rz_conf_close(rz__gis_options, &conf);
        g = st;
    }
    ctx_t c = {data, len};
    rz_out_t out = {.event = s_event, .quarantine = s_quarantine, .user = &c};
    rz_input_t in = {.origin = "fuzz",
                     .name = "fuzz.geojson",
                     .data = data,
                     .len = len,
                     .content_id = "00ff00ff00ff00ff00ff"};
    char err[512];
    rz__gis_geojson_parse(g, &in, &out, err, sizeof(err));
    return 0;
}
