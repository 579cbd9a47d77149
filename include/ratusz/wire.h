/* wire.h - reading protobuf's wire format field by field, without a schema.
 *
 * The broker looks at stored events without decoding them (a topic for a
 * grant, a subject for the audit, whether personal data may be inside):
 *
 *   field = key varint (number << 3 | type), then by type
 *     0 varint    1 8 bytes    2 varint length + bytes    5 4 bytes
 *
 * Groups (types 3 and 4) are refused, as protobuf-c refuses them, and so is
 * field number 0. Every read is bounds-checked.
 */
#ifndef RATUSZ_WIRE_H
#define RATUSZ_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rz_wire {
    const uint8_t *p, *end;
} rz_wire_t;

typedef struct rz_wire_field {
    uint32_t number;
    int type;            /* 0, 1, 2 or 5 */
    uint64_t varint;     /* type 0 */
    const uint8_t *data; /* types 1, 2, 5: the value's bytes */
    size_t len;
} rz_wire_field_t;

static inline void rz_wire_init(rz_wire_t *w, const void *buf, size_t len)
{
    w->p = (const uint8_t *)buf;
    w->end = w->p ? w->p + len : w->p;
}

/* The next field into f: 1, or 0 at the end, or -1 when the bytes are not
 * protobuf (f is then undefined and w must not be used again). */
int rz_wire_next(rz_wire_t *w, rz_wire_field_t *f);

/* The last length-delimited field `number` of buf (protobuf keeps the last
 * value): 1 with *data and *len set, 0 when absent, -1 when malformed. */
int rz_wire_find(const void *buf, size_t len, uint32_t number,
                 const uint8_t **data, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
