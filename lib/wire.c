/* wire.c - protobuf's wire format, field by field (wire.h) */
#include "ratusz/wire.h"

static int s_varint(rz_wire_t *w, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (w->p >= w->end)
            return -1;
        uint8_t b = *w->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

int rz_wire_next(rz_wire_t *w, rz_wire_field_t *f)
{
    if (w->p >= w->end)
        return 0;
    uint64_t key, n;
    if (s_varint(w, &key) != 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    f->number = (uint32_t)(key >> 3);
    f->type = (int)(key & 7);
    f->varint = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->type) {
    case 0:
        return s_varint(w, &f->varint) == 0 ? 1 : -1;
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2:
        if (s_varint(w, &n) != 0)
            return -1;
        break;
    default: return -1;
    }
    if (n > (uint64_t)(w->end - w->p))
        return -1;
    f->data = w->p;
    f->len = (size_t)n;
    w->p += n;
    return 1;
}

int rz_wire_find(const void *buf, size_t len, uint32_t number,
                 const uint8_t **data, size_t *out_len)
{
    rz_wire_t w;
    rz_wire_field_t f;
    int rc, found = 0;
    rz_wire_init(&w, buf, len);
    while ((rc = rz_wire_next(&w, &f)) == 1)
        if (f.number == number && f.type == 2) {
            *data = f.data;
            *out_len = f.len;
            found = 1;
        }
    return rc < 0 ? -1 : found;
}
