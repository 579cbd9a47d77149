/* fuzz_envelope.c - libFuzzer target for the envelope checks.
 *
 * The bytes go to rz_event_check_wire as a published event would. Besides
 * not crashing, it checks what the wire check promises: the answer is one
 * of its three codes with a terminated reason, and an event it accepts
 * loses nothing when protobuf-c decodes it (each envelope attribute keeps
 * the length it had on the wire: no string cut at a NUL), the decoded
 * check finds no bad text in it, and its re-encoding passes again.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/ratusz.h"
#include "ratusz/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *s_attr(const Ratusz__V1__Event *ev, uint32_t number)
{
    switch (number) {
    case 1: return ev->id;
    case 2: return ev->source;
    case 3: return ev->type;
    case 4: return ev->subject;
    case 5: return ev->tenant;
    case 22: return ev->principal;
    case 23: return ev->redaction;
    default: return NULL;
    }
}

static void s_check_accepted(const uint8_t *buf, size_t size)
{
    static const uint32_t attrs[] = {1, 2, 3, 4, 5, 22, 23};
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, size, buf);
    if (!ev)
        return; /* protobuf-c refuses more (wire types, enums, ...) */
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const uint8_t *wire = NULL;
        size_t wire_len = 0;
        int found = rz_wire_find(buf, size, attrs[i], &wire, &wire_len);
        assert(found >= 0);
        const char *v = s_attr(ev, attrs[i]);
        assert(v);
        if (found)
            assert(strlen(v) == wire_len && !memcmp(v, wire, wire_len));
    }
    /* the decoded check may refuse it for other reasons (a missing
     * attribute, a type that does not match), never for its text: of its
     * reasons about one attribute only the length is left */
    char why[256];
    if (rz_event_check(ev, why, sizeof why) < 0 &&
        strncmp(why, "attribute '", 11) == 0) {
        size_t n = strlen(why);
        assert(n > 11 && strcmp(why + n - 11, "is too long") == 0);
    }
    size_t n = ratusz__v1__event__get_packed_size(ev);
    uint8_t *again = malloc(n ? n : 1);
    assert(again);
    assert(ratusz__v1__event__pack(ev, again) == n);
    assert(rz_event_check_wire(again, n, why, sizeof why) == 0);
    free(again);
    ratusz__v1__event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so reading past it is caught */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char why[128];
    memset(why, 'x', sizeof why);
    int rc = rz_event_check_wire(buf, size, why, sizeof why);
    assert(rc == 0 || rc == RZ_EINVALEVENT || rc == RZ_EDECODE);
    assert(memchr(why, '\0', sizeof why));
    if (rc == 0) {
        assert(why[0] == '\0');
        s_check_accepted(buf, size);
    } else {
        assert(why[0] != '\0');
    }
    /* a reason of one byte's room is still terminated */
    char tiny[1] = {'x'};
    assert(rz_event_check_wire(buf, size, tiny, sizeof tiny) == rc);
    assert(tiny[0] == '\0');
    free(buf);
    return 0;
}
