/* fuzz_environment.c - libFuzzer target for the GIOŚ air-quality module.
 *
 * Besides not crashing, it checks what the runtime relies on: parse either
 * fails as a whole with a reason, or reports records whose refs point into
 * the input, with a reason for each quarantined one, and every event it
 * makes passes the bus's own check (id, tenant, type, limits).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/adapter.h"
#include "teryt.h"

extern const rz_adapter_module_t rz_module_environment;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    rz_out_t out;
    const uint8_t *data;
    size_t size;
} fz_t;

static void s_check_ref(const fz_t *f, const rz_record_ref_t *ref)
{
    if (!ref->key)
        abort();
    if (ref->bytes &&
        (ref->bytes < f->data || ref->bytes + ref->len > f->data + f->size))
        abort();
}

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    char why[256];
    s_check_ref(out->user, ref);
    if (rz_event_check(ev, why, sizeof why) != 0) {
        fprintf(stderr, "module made an invalid event %s: %s\n",
                ev->id ? ev->id : "?", why);
        abort();
    }
    /* the runtime spools it: it must pack */
    size_t n = ratusz__v1__event__get_packed_size(ev);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || ratusz__v1__event__pack(ev, buf) != n)
        abort();
    free(buf);
    return 0;
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    s_check_ref(out->user, ref);
    if (!reason || !*reason)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const opts[][2] = {
        {"zoneinfo", "builtin"}, {"tenant", "0264011"}, {"station_id", "117"}};
    const rz_adapter_module_t *m = &rz_module_environment;
    char err[512];
    void *conf = calloc(1, m->conf_size), *state = NULL;
    if (!conf || rz_conf_init(m->options, conf))
        abort();
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (rz_conf_set(m->options, conf, opts[i][0], opts[i][1], err,
                        sizeof err))
            abort();
    if (m->open(&state, conf, err, sizeof err))
        abort();
    /* stations are placed through the runtime's register, lent as in
     * deployment */
    static rz_teryt_t *teryt;
    if (!teryt && (!(teryt = rz_teryt_new()) ||
                   rz_teryt_load(teryt, RZ_ENV_FIXTURES "/TERC_2020-01-01.csv",
                                 err, sizeof err) < 0))
        abort();
    fz_t f = {.out = {.event = s_event, .quarantine = s_quarantine},
              .data = data,
              .size = size};
    f.out.user = &f;
    rz_teryt_lend(teryt, &f.out);
    /* the input as a station list, sensor list, getData of sensor 14395
     * and index: the shape is in the bytes, the name gives the sensor */
    rz_input_t in = {.origin = "fuzz",
                     .name = "getData_14395.json",
                     .data = data,
                     .len = size,
                     .content_id = "0000000000000000"};
    err[0] = '\0';
    int rc = m->parse(state, &in, &f.out, err, sizeof err);
    if (rc != 0 && !err[0])
        abort(); /* a failed input always says why */
    m->close(state);
    rz_conf_close(m->options, conf);
    free(conf);
    return 0;
}
