/* fuzz_journal.c - libFuzzer target for the journal's record decoder
 * (broker/journal.c), which reads whatever a power cut left in a segment.
 *
 * The input is read as a segment is at recovery: record after record while
 * each parses. Every record that parses must hand out exactly count events
 * whose views lie inside the record, with consecutive seqs, and encoding
 * those events again must give back the same bytes. A record with its CRC
 * fixed up is parsed too, so that the checks behind the CRC get inputs. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_inside(const rz_journal_record_t *r, const void *p, size_t len)
{
    const uint8_t *b = p;
    return b >= r->p && len <= r->len && b - r->p <= (ptrdiff_t)(r->len - len);
}

static void s_check(const uint8_t *p, size_t avail)
{
    rz_journal_record_t r;
    int len = rz_journal_record_parse(p, avail, &r);
    if (len < 0)
        return;
    assert((size_t)len == r.len && r.len <= avail && r.count > 0);
    rz_store_entry_t *e = calloc(r.count, sizeof *e);
    assert(e);
    uint32_t n = 0;
    while (rz_journal_record_next(&r, &e[n])) {
        const rz_store_entry_t *x = &e[n];
        assert(x->seq == r.first + n);
        assert(s_inside(&r, x->stored, x->stored_len));
        assert(s_inside(&r, x->source, x->source_len));
        assert(s_inside(&r, x->id, x->id_len));
        assert(s_inside(&r, x->subject, x->subject_len));
        assert(s_inside(&r, x->topic, x->topic_len) && x->topic_len > 0);
        assert(s_inside(&r, x->digest, RZ_STORE_DIGEST));
        n++;
        assert(n <= r.count);
    }
    assert(n == r.count);
    uint8_t *again = malloc(r.len);
    assert(again);
    size_t alen = rz_journal_record_encode(again, e, n, r.ingest_time);
    assert(alen == r.len && memcmp(again, p, alen) == 0);
    free(again);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as recovery walks a segment */
    size_t off = 0;
    rz_journal_record_t r;
    int len;
    while (off < size &&
           (len = rz_journal_record_parse(data + off, size - off, &r)) > 0) {
        s_check(data + off, size - off);
        off += (size_t)len;
    }
    /* the same bytes with a CRC that matches, to get past it */
    if (size >= RZ_JOURNAL_HDR) {
        uint8_t *copy = malloc(size);
        assert(copy);
        memcpy(copy, data, size);
        memcpy(copy, "RZJ1", 4);
        size_t rlen = (size_t)copy[4] | (size_t)copy[5] << 8 |
                      (size_t)copy[6] << 16 | (size_t)copy[7] << 24;
        if (rlen >= 12 && rlen <= size) {
            uint32_t crc = rz_journal_crc32c(0, copy + 12, rlen - 12);
            for (int i = 0; i < 4; i++)
                copy[8 + i] = (uint8_t)(crc >> (8 * i));
        }
        s_check(copy, size);
        free(copy);
    }
    return 0;
}
