/* fuzz_budget.c - libFuzzer target for one of the budget module's parsers
 * (RZ_FUZZ_FORMAT: bdl, pabulib, rb or fk; one executable each).
 *
 * Besides not crashing, every input must be answered the way the runtime
 * relies on: either the input is refused as a whole with a reason, or
 * every record is reported, each event valid for the bus (rz_event_check)
 * and each quarantine with a one-line reason and a key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "teryt.h"

extern const rz_adapter_module_t rz_module_budget;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *s_data;
static size_t s_size;
static rz_teryt_t *s_teryt;

static void s_check_ref(const rz_record_ref_t *ref)
{
    if (!ref->key)
        abort();
    /* record bytes from the input must lie inside it */
    if (ref->bytes && ref->bytes >= s_data && ref->bytes < s_data + s_size &&
        ref->bytes + ref->len > s_data + s_size)
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; ref->bytes && i < ref->len; i++)
        sink ^= ref->bytes[i];
    (void)sink;
}

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    char why[256];
    (void)out;
    s_check_ref(ref);
    if (rz_event_check(ev, why, sizeof why)) {
        fprintf(stderr, "invalid event '%s': %s\n", ev->id, why);
        abort();
    }
    uint8_t buf[1 << 16];
    size_t n = ratusz__v1__event__get_packed_size(ev);
    if (n <= sizeof buf)
        ratusz__v1__event__pack(ev, buf);
    return 0;
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    (void)out;
    s_check_ref(ref);
    if (!reason || !*reason || strchr(reason, '\n'))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *st;
    char err[512];
    if (!st) {
        rz_budget_conf_t conf;
        memset(&conf, 0, sizeof conf);
        rz_conf_init(rz__budget_options, &conf);
        rz_conf_set(rz__budget_options, &conf, "format", RZ_FUZZ_FORMAT, err,
                    sizeof err);
        rz_conf_set(rz__budget_options, &conf, "tenant", "2205083", err,
                    sizeof err);
        rz_conf_set(rz__budget_options, &conf, "year", "2023", err, sizeof err);
        if (rz_module_budget.open(&st, &conf, err, sizeof err))
            abort();
        /* unit names resolve through the runtime's register, lent as in
         * deployment */
        if (!(s_teryt = rz_teryt_new()) ||
            rz_teryt_load(s_teryt,
                          RZ_SOURCE_DIR
                          "/tests/fixtures/teryt/TERC_2020-01-01.csv",
                          err, sizeof err) < 0)
            abort();
        rz_conf_close(rz__budget_options, &conf);
    }
    s_data = data;
    s_size = size;
    rz_out_t out = {.event = s_event, .quarantine = s_quarantine};
    rz_teryt_lend(s_teryt, &out);
    rz_input_t in = {"fuzz",
                     "GUS_BDL_FINA_2416_fuzz.csv",
                     data,
                     size,
                     NULL,
                     "0123456789abcdef0123456789abcdef0123456789abcdef"
                     "0123456789abcdef",
                     0,
                     1, 0};
    err[0] = '\0';
    int rc = rz_module_budget.parse(st, &in, &out, err, sizeof err);
    if (rc && !err[0]) {
        fprintf(stderr, "refused without a reason: %d\n", rc);
        abort();
    }
    return 0;
}
