/* fuzz_kafka_map.c - libFuzzer target: a Kafka record (key, headers,
 * value) -> event, as the inbound bridge maps what it reads.
 *
 * The input is split on the byte 0xFF into fields: the key, the value,
 * then header name / header value pairs (a record without the separator
 * is all value). Header names are NUL-terminated copies, so a name with a
 * NUL in it just ends early, as it would coming from librdkafka. When the
 * mapping succeeds, the event must map back out and in again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

#define S_FIELDS 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *f[S_FIELDS];
    size_t len[S_FIELDS], n = 0, start = 0;
    for (size_t i = 0; i <= size && n < S_FIELDS; i++) {
        if (i == size || data[i] == 0xFF) {
            f[n] = data + start;
            len[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    rzk_header_t hs[S_FIELDS / 2];
    char names[S_FIELDS / 2][64];
    size_t nh = 0;
    for (size_t i = 2; i + 1 < n; i += 2) {
        size_t l = len[i] < 63 ? len[i] : 63;
        memcpy(names[nh], f[i], l);
        names[nh][l] = '\0';
        hs[nh].name = names[nh];
        hs[nh].value = len[i + 1] ? f[i + 1] : NULL;
        hs[nh].len = len[i + 1];
        nh++;
    }
    /* copies, so that ASan sees reads past the ends */
    uint8_t *key = n > 1 && len[0] ? malloc(len[0]) : NULL;
    size_t vi = n > 1 ? 1 : 0;
    uint8_t *value = malloc(len[vi] ? len[vi] : 1);
    if (key)
        memcpy(key, f[0], len[0]);
    memcpy(value, f[vi], len[vi]);
    rzk_in_t in = {key, key ? len[0] : 0, value, len[vi], hs, nh};

    Ratusz__V1__Event *ev = NULL;
    char why[512];
    if (rzk_in_map(&in, &ev, why, sizeof why) == 0) {
        /* what maps in must map out and in again */
        size_t plen = ratusz__v1__event__get_packed_size(ev);
        uint8_t *raw = malloc(plen ? plen : 1);
        ratusz__v1__event__pack(ev, raw);
        rzk_tpl_t t;
        rzk_tpl_compile(&t, "ratusz.{tenant}.{domain}", NULL, 0);
        for (int format = 0; format < 2; format++) {
            rzk_out_t o;
            if (rzk_out_map(&t, format, ev, raw, plen, &o, why, sizeof why) ==
                0) {
                rzk_in_t back = {o.key,       o.key_len, o.value,
                                 o.value_len, o.headers, o.n_headers};
                Ratusz__V1__Event *ev2 = NULL;
                if (rzk_in_map(&back, &ev2, why, sizeof why) != 0 ||
                    strcmp(ev2->id, ev->id) || strcmp(ev2->source, ev->source))
                    abort();
                rz_event_free(ev2);
            }
            rzk_out_clear(&o);
        }
        free(raw);
        rz_event_free(ev);
    }
    free(key);
    free(value);
    return 0;
}
