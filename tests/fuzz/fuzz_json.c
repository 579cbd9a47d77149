/* fuzz_json.c - libFuzzer target for the CloudEvents JSON reader.
 *
 * Besides not crashing, it checks the property the CLI relies on when it
 * pipes "ratusz sub" into "ratusz pub": whatever rz_event_from_json accepts,
 * rz_event_to_json writes in a form that reads back to the same event, so a
 * second trip through JSON gives the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/ratusz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    Ratusz__V1__Event *ev = NULL, *back = NULL;
    if (rz_event_from_json((const char *)data, size, &ev, err, sizeof err))
        return 0;
    char *json = rz_event_to_json(ev);
    if (!json)
        abort(); /* only ENOMEM may fail, and the fuzzer caps memory */
    if (rz_event_from_json(json, strlen(json), &back, err, sizeof err)) {
        fprintf(stderr, "own output does not read back: %s\n%s\n", err, json);
        abort();
    }
    char *again = rz_event_to_json(back);
    if (!again || strcmp(json, again) != 0) {
        fprintf(stderr, "round trip changed the event:\n%s\n%s\n", json,
                again ? again : "(null)");
        abort();
    }
    free(again);
    free(json);
    rz_event_free(back);
    rz_event_free(ev);
    return 0;
}
