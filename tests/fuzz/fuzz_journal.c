/* fuzz_journal.c - libFuzzer target for the journal's record decoder
 * (broker/journal.c), which reads whatever a power cut left in a segment.
 *
 * The input is read as a segment is at recovery: record after record while
 * each parses (format 1 or 2). Every record that parses must hand out
 * exactly count events whose views lie inside the record, with consecutive
 * seqs, and encoding those events again must give a record that gives back
 * the same events. A record with its CRC
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

static int s_same(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (!alen || !memcmp(a, b, alen));
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
    /* encoded again (format 2, keys inside the stored bytes as offsets,
     * others copied), the record gives back the same events */
    size_t need = RZ_JOURNAL_HDR;
    for (uint32_t i = 0; i < n; i++)
        need += rz_journal_event_size(&e[i]);
    uint8_t *again = malloc(need);
    assert(again);
    size_t alen = rz_journal_record_encode(again, e, n, r.ingest_time);
    assert(alen == need);
    rz_journal_record_t r2;
    assert(rz_journal_record_parse(again, alen, &r2) == (int)alen);
    assert(r2.first == r.first && r2.count == r.count &&
           r2.ingest_time == r.ingest_time);
    for (uint32_t i = 0; i < n; i++) {
        rz_store_entry_t y;
        const rz_store_entry_t *x = &e[i];
        assert(rz_journal_record_next(&r2, &y) == 1);
        assert(y.seq == x->seq && y.time == x->time &&
               y.prev_topic_seq == x->prev_topic_seq);
        assert(s_same(x->stored, x->stored_len, y.stored, y.stored_len));
        assert(s_same(x->source, x->source_len, y.source, y.source_len));
        assert(s_same(x->id, x->id_len, y.id, y.id_len));
        assert(s_same(x->subject, x->subject_len, y.subject, y.subject_len));
        assert(s_same(x->topic, x->topic_len, y.topic, y.topic_len));
        assert(!memcmp(x->digest, y.digest, RZ_STORE_DIGEST));
    }
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
        off += rz_journal_record_span(&r);
    }
    /* the same bytes with a CRC that matches, to get past it */
    if (size >= RZ_JOURNAL_HDR) {
        uint8_t *copy = malloc(size);
        assert(copy);
        memcpy(copy, data, size);
        memcpy(copy, data[3] == '1' ? "RZJ1" : "RZJ2", 4);
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
