/* journal.h - the synced append journal in front of the LMDB store.
 *
 * With `sync: full` an event is acked once it is in the journal and the
 * journal is fdatasync'd: one flush, where an LMDB commit costs two (its
 * data pages, then its meta page). LMDB, still the store of record, is
 * brought up to date behind the acks in large transactions (writer.c),
 * and after a crash rz_journal_recover applies what the journal holds
 * past LMDB's head before the broker serves.
 *
 * Segments: DATA_DIR/journal/NNNNNNNN.seg, made zero-filled and synced
 * (file and directory) before their first use, so that an append is an
 * overwrite of allocated blocks and its fdatasync has no metadata to
 * write. A segment whose events are all in LMDB is written again from
 * its start. A record never spans two segments; a record larger than a
 * segment gets a segment of its own size.
 *
 * Records begin on 4 KiB boundaries: the next one starts on the page
 * after the one the last ended in, and the rest of that page is left as
 * it is. A page that holds an acked record is therefore never written
 * again until its segment is (a write torn by a power cut cannot reach
 * an acked record), and each group's flush writes only pages of its own,
 * where appending right behind the last record wrote that record's last
 * page again with every group.
 *
 * One record per group of events the writer acks together:
 *
 *   +-------+--------+--------+-------+-----------+-------------+
 *   | magic | length | crc32c | count | first seq | ingest time |
 *   | "RZJ2"| (4)    | (4)    | (4)   | (8)       | (8)         |
 *   +-------+--------+--------+-------+-----------+-------------+
 *   then count times, the event of seq first + i:
 *   +----------------+----------+------------+-----------+
 *   | prev topic seq | time (8) | stored len | extra len |
 *   | (8)            |          | (4)        | (4)       |
 *   +----------------+----------+------------+-----------+
 *   | offset (4) of source, id, subject, topic           |
 *   | length (2) of source, id, subject, topic           |
 *   +----------------------------------------------------+
 *   | digest (16): the ids database's content digest of  |
 *   | the producer's bytes                               |
 *   +----------------------------------------------------+
 *   then the stored bytes (producer's Event + broker stamp) and extra
 *   len bytes more. The four keys are views into those stored len +
 *   extra len bytes, at their offsets: a producer's source, id and
 *   subject are inside its Event's bytes, where protobuf keeps strings,
 *   and are not written twice; the topic (derived) and any key that is
 *   not inside are in the extra bytes.
 *
 * Format 1 ("RZJ1", an older broker's) had a 44-byte fixed part without
 * the offsets and extra len, each key copied after the stored bytes, and
 * its records one right after the other. Recovery reads both.
 *
 * All integers little-endian. length covers the whole record; the CRC-32C
 * covers everything after it (count to the last byte).
 *
 * Recovery reads every segment from its start, record by record, while
 * the records are whole, pass their CRC and continue each other's seqs;
 * the first that does not ends the segment (a torn tail, or what a
 * recycled segment held before). It then follows the seqs from LMDB's
 * head + 1 through the records of all segments: a record is written only
 * after the one before it was synced, so nothing valid lies past the
 * first gap.
 *
 * A segment is made ahead of need: when the writer has no free one left
 * to go on in, it takes the one rz_journal_prepare made (from another
 * thread, the applier's), and only makes one itself, the acks waiting for
 * its zero-fill (about 95 ms for 64 MiB on a virtio disk), when there is
 * none ready. One is made ahead for a journal of one segment, and again
 * whenever the writer finds none free among two or more (LMDB is behind
 * by a segment or more).
 *
 * Threads: one thread at a time (the writer; before it, the opener), and
 * rz_journal_prepare from one other thread at any time.
 */
#ifndef RATUSZ_BROKER_JOURNAL_H
#define RATUSZ_BROKER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define RZ_JOURNAL_HDR 32   /* record header */
#define RZ_JOURNAL_EVENT 64 /* fixed part of one event */
#define RZ_JOURNAL_ALIGN 4096 /* where records begin in a segment */

typedef struct rz_journal rz_journal_t;

/* Open (creating if missing) DATA_DIR/journal, segments of seg_size
 * bytes (smaller when the file system has less than 8 segments' worth
 * free, never under 64 KiB). Returns 0 and *out, or -errno. */
int rz_journal_open(rz_journal_t **out, const char *data_dir, size_t seg_size);

/* Close the segments. Safe with NULL and twice. */
void rz_journal_close(rz_journal_t **j);

/* Apply to the store every event the journal holds past the store's
 * head, in one store transaction per record, with the store's sync.
 * Afterwards every segment may be written again. Returns the number of
 * events applied, or a negative code from rz_store_apply. Makes the first
 * segment of a new journal. */
int rz_journal_recover(rz_journal_t *j, rz_store_t *store);

/* Append one encoded record (rz_journal_record_*) and fdatasync it.
 * Segments whose events are all at or below applied are written again.
 * Returns 0; RZ_EDISKFULL when no segment could be made for it (the
 * journal stays usable); RZ_ESTORE when a write or sync failed: the
 * journal then refuses every later append (what reached the disk is
 * unknown, and its seqs may not be written twice), until a restart
 * recovers it. */
int rz_journal_append(rz_journal_t *j, const uint8_t *rec, size_t len,
                      uint64_t last_seq, uint64_t applied);

/* Make the segment the writer will need next, if it wants one (see
 * above). For one thread other than the writer's,
 * off the acks' path. Returns 1 when it made one, 0 when none was wanted,
 * or -errno (wanted still: the next call tries again). */
int rz_journal_prepare(rz_journal_t *j);

/* Whether an append failed in a way that only a restart mends. */
int rz_journal_broken(const rz_journal_t *j);

/* --- records ------------------------------------------------------------ */

/* The bytes one event takes in a record. */
size_t rz_journal_event_size(const rz_store_entry_t *e);

/* Encode count events (seqs first .. first + count - 1, in order) into
 * out, which has room for RZ_JOURNAL_HDR plus rz_journal_event_size of
 * each. Returns the record's length. An event's stored bytes may already
 * be where the record keeps them (RZ_JOURNAL_EVENT bytes after the end of
 * the event before, the first after RZ_JOURNAL_HDR): they are not copied
 * then. A key (source, id, subject, topic) that lies inside the event's
 * stored bytes is recorded as its offset there; any other is copied. */
size_t rz_journal_record_encode(uint8_t *out, const rz_store_entry_t *e,
                                size_t count, int64_t ingest_time);

/* A record checked by rz_journal_record_parse: a view into its bytes. */
typedef struct rz_journal_record {
    const uint8_t *p; /* the record */
    size_t len;
    uint64_t first; /* seq of the first event */
    uint32_t count;
    int64_t ingest_time;
    int format; /* 1 or 2: the magic's */
    size_t at;  /* rz_journal_record_next: offset of the next event */
    uint32_t i; /* and its index */
} rz_journal_record_t;

/* Check the record at p (at most avail bytes): magic, length, CRC, and
 * that every event's lengths fit the record exactly. Returns its length
 * and fills out, or RZ_EDECODE. */
int rz_journal_record_parse(const uint8_t *p, size_t avail,
                            rz_journal_record_t *out);

/* A record this process encoded and kept in memory (the writer's map, the
 * applier's input): the same view as rz_journal_record_parse without
 * checking it again, which costs a pass over every byte. Returns 0, or
 * RZ_EDECODE when the header is not a record's (a bug). */
int rz_journal_record_open(const uint8_t *p, size_t len,
                           rz_journal_record_t *out);

/* The next event of a parsed record into e (views into the record;
 * ends_link set on the record's last). Returns 1, or 0 after the last. */
int rz_journal_record_next(rz_journal_record_t *r, rz_store_entry_t *e);

/* The bytes a parsed record takes in its segment, up to where the next
 * one begins: its length, up to a whole RZ_JOURNAL_ALIGN (format 1: its
 * length). */
size_t rz_journal_record_span(const rz_journal_record_t *r);

/* CRC-32C (Castagnoli) of len bytes, continuing crc (0 to start): the
 * processor's crc32 instruction where it has one (SSE 4.2), else tables. */
uint32_t rz_journal_crc32c(uint32_t crc, const void *p, size_t len);

/* The same with tables only, whatever the processor (for the unit test). */
uint32_t rz__journal_crc32c_table(uint32_t crc, const void *p, size_t len);

#endif
