/* fuzz_tax.c - one tax reader on arbitrary bytes: no crash, every record
 * reported with bytes inside the input and a reason when quarantined,
 * every event valid on the bus. Built twice: fuzz_tax_declaration (the
 * DN-1/IN-1 XML reader) and fuzz_tax_assessment (fixed-width records),
 * RZ_FUZZ_ASSESSMENT telling which. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tax.h"

/* assert() is gone under NDEBUG (RelWithDebInfo): check in every build */
#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #x);                                                       \
            abort();                                                           \
        }                                                                      \
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
    e.source = "/fuzz/tax";
    char why[256];
    CHECK(rz_event_check(&e, why, sizeof(why)) == 0);
    CHECK(ev->tax && ev->tax->n_objects >= 1);
    CHECK(!strncmp(ev->subject, "parcel:", 7) ||
          !strncmp(ev->subject, "account:", 8));
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
    static void *st;
    if (!st) {
        rz_tax_conf_t conf = {.tenant = "", .encoding = "auto"};
        char err[200];
        if (rz__tax_open(&st, &conf, err, sizeof(err)) != 0)
            return 0;
    }
    ctx_t c = {data, len};
    rz_out_t out = {.event = s_event, .quarantine = s_quarantine, .user = &c};
    char err[512];
    for (int partial = 0; partial < 2; partial++) {
        rz_input_t in = {.origin = "fuzz",
#ifdef RZ_FUZZ_ASSESSMENT
                         .name = "fuzz.txt",
#else
                         .name = "fuzz.xml",
#endif
                         .data = data,
                         .len = len,
                         .content_id = "00ff00ff00ff00ff00ff",
                         .partial = partial,
                         .first_line = 1};
#ifdef RZ_FUZZ_ASSESSMENT
        int rc = rz__tax_assessment_parse(st, &in, &out, err, sizeof(err));
#else
        int rc = rz__tax_declaration_parse(st, &in, &out, err, sizeof(err));
#endif
        CHECK(rc == 0 || *err);
    }
    return 0;
}
