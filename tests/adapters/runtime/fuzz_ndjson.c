/* fuzz_ndjson.c - libFuzzer target for the ndjson module's parse: any
 * bytes in, every record reported once (event or quarantine), no crash */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "ratusz/adapter.h"

typedef struct count {
    rz_out_t out;
    size_t events, quarantined;
} count_t;

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    count_t *c = out->user;
    /* what the runtime would do with it */
    char why[256];
    (void)rz_event_check(ev, why, sizeof why);
    char *json = rz_event_to_json(ev);
    free(json);
    if (!ref->key || (ref->bytes && ref->len == 0 && ref->line == 0))
        abort();
    c->events++;
    return 0;
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    count_t *c = out->user;
    if (!reason || !*reason || !ref->key)
        abort();
    c->quarantined++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static rz_ndjson_conf_t conf;
    static int inited;
    if (!inited) {
        rz_conf_init(rz_module_ndjson.options, &conf);
        inited = 1;
    }
    void *state = NULL;
    char err[256];
    if (rz_module_ndjson.open(&state, &conf, err, sizeof err))
        abort();
    count_t c = {.out = {.event = s_event, .quarantine = s_quarantine}};
    c.out.user = &c;
    rz_input_t in = {"fuzz", "fuzz", data, len, NULL,
                     "0000000000000000000000000000000000000000000000000000000000000000",
                     len & 1, 1, 0};
    int rc = rz_module_ndjson.parse(state, &in, &c.out, err, sizeof err);
    /* refusing the whole input reports no record */
    if (rc < 0 && c.events + c.quarantined)
        abort();
    /* never more records than lines */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    if (c.events + c.quarantined > lines)
        abort();
    return 0;
}
