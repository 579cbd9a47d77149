/* fuzz_gis_gml.c - the EGiB GML reader on arbitrary bytes: no crash, every
 * record reported with bytes inside the input, every event valid on the
 * bus with WKT that the sink turns into GeoJSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

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
    CHECK(ref->bytes >= c->data && ref->bytes + ref->len <= c->data + c->len);
}

static int s_event(rz_out_t *o, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    s_ref(o->user, ref);
    Ratusz__V1__Event e = *ev;
    e.source = "/fuzz/gis";
    char why[256];
    CHECK(rz_event_check(&e, why, sizeof(why)) == 0);
    rzc_buf_t b = {0};
    CHECK(rz__gis_wkt_to_geojson(ev->gis->geometry->wkt, 1, &b, why,
                                 sizeof(why)) == 0);
    json_t *j = json_loads(b.s, JSON_DECODE_INT_AS_REAL, NULL);
    CHECK(json_is_object(j));
    json_decref(j);
    rzc_buf_free(&b);
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
        void *st;
        if (rz__gis_open(&st, &conf, err, sizeof(err)) != 0)
            return 0;
        rz_conf_close(rz__gis_options, &conf);
        g = st;
        xmlInitParser();
    }
    ctx_t c = {data, len};
    rz_out_t out = {.event = s_event, .quarantine = s_quarantine, .user = &c};
    rz_input_t in = {.origin = "fuzz",
                     .name = "fuzz.gml",
                     .data = data,
                     .len = len,
                     .content_id = "00ff00ff00ff00ff00ff"};
    char err[512];
    rz__gis_gml_parse(g, &in, &out, err, sizeof(err));
    return 0;
}
