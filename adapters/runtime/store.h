/* store.h - the adapter's local LMDB store: the outbox (events waiting for
 * the broker's ack), the quarantine (records that could not become
 * events) and a little state (counters, file progress, tail offsets).
 *
 * One environment in data_dir with four databases:
 *
 *   outbox      key: seq, 8 bytes big-endian (so LMDB's byte order is
 *               spool order); value: an outbox record (below)
 *   quarantine  key: id, 8 bytes big-endian; value: a quarantine record
 *   state       key: text ("c:read", "file:/srv/drop/x.csv",
 *               "tail:/var/log/x.log"); value: bytes the owner defines
 *   inputs      key: an input's key (64 hex, see rz_kept_put); value: the
 *               whole input a quarantined record came from (quarantine.c)
 *
 * Outbox record:
 *
 *   +-----+----------+----------+----------+--------+------+-----+-------+
 *   | 'O' | spooled  | line     | olen u32 | origin | klen | key | event |
 *   | 1 B | i64 µs   | u64      |          |        | u32  |     | bytes |
 *   +-----+----------+----------+----------+--------+------+-----+-------+
 *
 * integers little-endian; event is the encoded Ratusz__V1__Event.
 *
 * Every count the invariant needs moves in the same transaction as the
 * data it counts, so
 *
 *   records read = events published + duplicates + records quarantined
 *                  + outbox depth
 *
 * holds after any crash: "published" is bumped when an event the broker
 * stored is deleted from the outbox, "duplicates" when it was one the
 * broker already had (same source and id, same content), "quarantined"
 * and "depth" are entry counts. "conflicts" (same source and id,
 * different content: refused and quarantined) is a running count of its
 * own, already in "quarantined" while those records are kept.
 *
 * Several processes may open the same store (the daemon and a `quarantine
 * retry`); LMDB serialises their writers.
 */
#ifndef RZ_ADAPTER_STORE_H
#define RZ_ADAPTER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

typedef struct rz_astore rz_astore_t;

/* Open (creating) the store in dir, which is created if missing. map_size
 * bounds the file (the outbox fills up to it while the broker is down).
 * Returns 0 or a negative code with err. */
int rz_astore_open(rz_astore_t **out, const char *dir, uint64_t map_size,
                   char *err, size_t err_len);
void rz_astore_destroy(rz_astore_t **s);

/* A write transaction with the counter deltas it carries. */
typedef struct rz_atxn {
    rz_astore_t *s;
    MDB_txn *txn;
    int64_t d_read, d_published, d_files_done, d_files_failed;
    int64_t d_duplicates, d_conflicts;
    uint64_t next_seq; /* 0 until the first outbox put */
    uint64_t next_qid;
} rz_atxn_t;

int rz_atxn_begin(rz_astore_t *s, rz_atxn_t *t);
/* Apply the counter deltas and commit. 0 or a negative code. */
int rz_atxn_commit(rz_atxn_t *t);
void rz_atxn_abort(rz_atxn_t *t);

/* ---------------------------------------------------------------------------
 * Outbox
 */

typedef struct rz_orec {
    uint64_t seq;
    int64_t spooled;
    uint64_t line;
    const char *origin; /* not NUL-terminated: olen */
    size_t olen;
    const char *key;
    size_t klen;
    const uint8_t *event;
    size_t len;
} rz_orec_t;

/* Append to the outbox; *seq gets its key. (Records read are counted by
 * the caller: t->d_read.) */
int rz_outbox_put(rz_atxn_t *t, const rz_orec_t *r, uint64_t *seq);

/* How an event left the outbox, for the counters. */
enum rz_outbox_outcome {
    RZ_OUTBOX_GONE = 0,      /* not counted (moved to the quarantine) */
    RZ_OUTBOX_PUBLISHED = 1, /* the broker stored it */
    RZ_OUTBOX_DUPLICATE = 2  /* the broker already had it */
};

/* Delete an acked event, counting it as outcome says. Returns 0, or
 * RZ_ENOTFOUND when it is already gone (another process or an earlier
 * ack took it: not counted again). */
int rz_outbox_del(rz_atxn_t *t, uint64_t seq, int outcome);

/* Get one record inside t; views valid until the transaction ends. */
int rz_outbox_get(rz_atxn_t *t, uint64_t seq, rz_orec_t *r);

/* Call cb for up to max records with seq >= from, in seq order, inside a
 * read transaction (views valid during the call). cb returns non-zero to
 * stop. Returns the number visited or a negative code. */
typedef int (*rz_outbox_cb)(const rz_orec_t *r, void *user);
int rz_outbox_scan(rz_astore_t *s, uint64_t from, size_t max, rz_outbox_cb cb,
                   void *user);

/* 1 if no outbox record has a seq in [first, last], 0 if one has, or a
 * negative code. */
int rz_outbox_range_empty(rz_astore_t *s, uint64_t first, uint64_t last);

/* ---------------------------------------------------------------------------
 * Quarantine
 */

enum rz_qkind {
    RZ_QKIND_RECORD = 0, /* bytes are the module's input: retry re-parses */
    RZ_QKIND_EVENT = 1   /* bytes are an event as CloudEvents JSON that the
                            broker refused: retry publishes it again */
};

typedef struct rz_qrec {
    uint64_t id;
    int64_t time; /* unix µs when quarantined */
    uint64_t line;
    int kind;
    const char *module;
    const char *origin;
    const char *name;
    const char *key;
    const char *reason;
    const char *content_type; /* "" if none */
    const char *content_id;
    const uint8_t *bytes;
    size_t len;
    /* The key of the kept input the record came from ("" if none: an
     * event refused by the broker, a record quarantined before inputs
     * were kept); whole: the record is that whole input, and bytes are
     * empty rather than a second copy of it. */
    const char *input;
    int whole;
    /* Which output of its record this is (0: the first): a record that
     * gives two events the register refused is quarantined twice, as
     * parts 0 and 1, and a retry tells them from the same record
     * quarantined again by a second import. */
    uint32_t part;
} rz_qrec_t;

/* Store r (r->id ignored) under a new id, returned in *id; r->id != 0
 * with replace = 1 overwrites that record instead (a retry that failed
 * again). */
int rz_quarantine_put(rz_atxn_t *t, const rz_qrec_t *r, int replace,
                      uint64_t *id);
/* Delete a record; RZ_ENOTFOUND if there is none. */
int rz_quarantine_del(rz_atxn_t *t, uint64_t id);
/* A malloc'd copy (one block; free() it), or NULL with *rc set. */
rz_qrec_t *rz_quarantine_get(rz_astore_t *s, uint64_t id, int *rc);
/* Records with id > after, in id order, up to max (0 = all). */
typedef int (*rz_quarantine_cb)(const rz_qrec_t *r, void *user);
int rz_quarantine_list(rz_astore_t *s, uint64_t after, size_t max,
                       rz_quarantine_cb cb, void *user);

/* Quarantine classes (qclass.c). The class of a reason is the reason with
 * the values in it replaced by "…": quoted text, words with digits, and
 * the word right after the leading "FIELD: " when "is" follows it; the
 * field itself is kept with its quoted name. So "lat: 91.2 is not a WGS84
 * latitude" and "lat: -3 is not a WGS84 latitude" are one class, "lat: …
 * is not a WGS84 latitude", and "lon: ..." another. Writes at most len
 * bytes (whole UTF-8 sequences) and returns the length. */
#define RZ_QCLASS_MAX 16      /* classes per store, plus "other" */
#define RZ_QCLASS_LEN 160     /* bytes of a class, NUL included */
#define RZ_QCLASS_EXAMPLE 256 /* bytes of an example reason, NUL included */
size_t rz_qclass(const char *reason, char *out, size_t len);

/* One class: records of it now in the quarantine, records ever put in it
 * (while the class was counted), the latest reason and when. */
typedef struct rz_qclass_count {
    char cls[RZ_QCLASS_LEN];
    uint64_t records, total;
    int64_t last; /* unix µs */
    char example[RZ_QCLASS_EXAMPLE];
    int other; /* the records of classes beyond RZ_QCLASS_MAX */
} rz_qclass_count_t;

/* The classes counted in s (at most max; RZ_QCLASS_MAX + 1 is all), most
 * records first, "other" last. Returns how many, or a negative code. The
 * counts move with rz_quarantine_put and rz_quarantine_del in their
 * transaction; a store whose quarantine was never counted is counted at
 * rz_astore_open. */
int rz_quarantine_classes(rz_astore_t *s, rz_qclass_count_t *out, size_t max);

/* ---------------------------------------------------------------------------
 * Kept inputs: what a quarantined record needs to be parsed again
 *
 * A record of a whole-file format (a Pabulib file with its META section, a
 * CSV with its header, a GIOŚ response with its envelope, a GML document
 * with its root element) cannot be parsed out of its input, so the first
 * time a record of an input is quarantined the whole input is kept here,
 * once, however many of its records are quarantined; a retry parses it
 * again whole. It is deleted when none of its records is quarantined any
 * more (rz_kept_release).
 */

typedef struct rz_kept {
    int64_t time; /* the rz_input_t fields, as first ingested */
    uint64_t first_line;
    int partial;
    const char *origin;
    const char *name;
    const char *content_type; /* "" if none */
    const char *content_id;
    const uint8_t *data;
    size_t len;
} rz_kept_t;

/* Keep k under key (64 characters) unless an input is kept under it
 * already: the key names the content, so that one is the same. 0 or a
 * negative code. */
int rz_kept_put(rz_atxn_t *t, const char *key, const rz_kept_t *k);
/* A malloc'd copy (one block; free() it), or NULL with *rc set
 * (RZ_ENOTFOUND). */
rz_kept_t *rz_kept_get(rz_astore_t *s, const char *key, int *rc);
/* Delete the inputs kept under keys[0..n) that no quarantined record
 * names any more. Returns how many were deleted, or a negative code. */
int rz_kept_release(rz_astore_t *s, const char *const *keys, size_t n);
/* How many inputs are kept, or a negative code. */
int rz_kept_count(rz_astore_t *s);

/* ---------------------------------------------------------------------------
 * State
 */

/* Get a value into buf (at most len bytes); returns its length (which may
 * exceed len: then it is cut) or RZ_ENOTFOUND. t may be NULL for a read
 * of the committed state. */
int rz_state_get(rz_astore_t *s, rz_atxn_t *t, const char *key, void *buf,
                 size_t len);
int rz_state_put(rz_atxn_t *t, const char *key, const void *val, size_t len);
int rz_state_del(rz_atxn_t *t, const char *key);
/* Keys starting with prefix, with their values. */
typedef int (*rz_state_cb)(const char *key, const void *val, size_t len,
                           void *user);
int rz_state_scan(rz_astore_t *s, const char *prefix, rz_state_cb cb,
                  void *user);

typedef struct rz_acounts {
    uint64_t read, published, quarantined, depth, files_done, files_failed;
    uint64_t duplicates; /* acked as already stored: not published again */
    uint64_t conflicts;  /* refused as conflicts, ever (also quarantined) */
} rz_acounts_t;

int rz_astore_counts(rz_astore_t *s, rz_acounts_t *c);

#endif
