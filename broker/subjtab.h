/* subjtab.h - the newest part of the subject index, in memory.
 *
 * The store keeps a subject's events as sorted runs in LMDB (store.c:
 * "subjruns"), each written once, whole, in key order. The events stored
 * since the last run wait here, by subject, until there are enough of them
 * for the next run: an event's index entry then costs a few bytes appended
 * to a page, where a B-tree keyed by subject would rewrite a page per
 * event (and, as the store grows, several).
 *
 * A table covers the seqs above lo: every event the store holds past lo
 * that has a subject is in it, and nothing else. Entries are added in seq
 * order; the newest ones can be taken back (a transaction that did not
 * commit). Not thread-safe: the store locks around it.
 */
#ifndef RATUSZ_BROKER_SUBJTAB_H
#define RATUSZ_BROKER_SUBJTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct rz_subjtab rz_subjtab_t;

/* A table for the seqs above lo. NULL when out of memory. */
rz_subjtab_t *rz_subjtab_new(uint64_t lo);
void rz_subjtab_free(rz_subjtab_t *t);

uint64_t rz_subjtab_lo(const rz_subjtab_t *t);
/* Entries in the table. */
size_t rz_subjtab_count(const rz_subjtab_t *t);
/* Bytes of memory it holds. */
size_t rz_subjtab_bytes(const rz_subjtab_t *t);

/* Add the event seq (greater than every seq added before) of subject
 * (len bytes, 1 to 65535) at time. Returns 0 or RZ_ENOMEM. */
int rz_subjtab_add(rz_subjtab_t *t, const char *subject, size_t len,
                   int64_t time, uint64_t seq);

/* Take back every entry added after the first n. */
void rz_subjtab_truncate(rz_subjtab_t *t, size_t n);

/* An index entry as the store keys it: time with its sign bit flipped,
 * then seq, both big-endian, so that memcmp sorts by (time, seq). */
#define RZ_SUBJTAB_ENT 16

/* Append the entries of subject whose seq is in (lo, hi] to *buf (n
 * entries of RZ_SUBJTAB_ENT bytes, room for *cap), in no particular
 * order. Returns 0 or RZ_ENOMEM. */
int rz_subjtab_find(const rz_subjtab_t *t, const char *subject, size_t len,
                    uint64_t lo, uint64_t hi, uint8_t **buf, size_t *n,
                    size_t *cap);

/* Call fn for every entry, in the order of the store's run keys: by
 * subject (bytewise, a prefix first), then time, then seq. fn returns 0 to
 * go on; anything else stops the walk and is returned. RZ_ENOMEM when the
 * sort had no memory. */
typedef int (*rz_subjtab_fn)(const char *subject, size_t len,
                             const uint8_t ent[RZ_SUBJTAB_ENT], void *user);
int rz_subjtab_each(const rz_subjtab_t *t, rz_subjtab_fn fn, void *user);

/* The entry of (time, seq). */
void rz_subjtab_ent(uint8_t ent[RZ_SUBJTAB_ENT], int64_t time, uint64_t seq);

#endif
