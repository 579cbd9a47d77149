/* store.h - the durable event log on LMDB.
 *
 * One LMDB environment in data_dir holds named databases:
 *
 *   log        seq (uint64, MDB_INTEGERKEY, appended)   -> stored event
 *   ids        source \0 id                              -> seq (u64 BE)
 *                                                           | digest (16)
 *   subjects   subject (DUPSORT, DUPFIXED)   dup: time (i64 BE, sign bit
 *              flipped so negatives sort first) | seq (u64 BE)
 *   topics     topic   (DUPSORT, DUPFIXED)   dup: seq (u64 BE)
 *   times      time (flipped i64 BE) | seq (u64 BE)      -> (empty)
 *   consumers  group name                                -> ConsumerGroup
 *                                                           (protobuf)
 *   meta       "version"                                 -> "1"
 *              "chain"                                   -> first chained
 *                                                           seq (u64 BE)
 *   chain      first seq of a commit (uint64, INTEGERKEY) -> link:
 *
 *              +-----------+-------------+--------+--------------------+
 *              | prev (32) | digest (32) | n (4,  | run (8) x n        |
 *              |           |             |   BE)  |                    |
 *              +-----------+-------------+--------+--------------------+
 *
 *              digest = SHA-256(prev || for each of the n new events of the
 *              commit, in seq order: seq (u64 BE) || stored length (u64 BE)
 *              || stored bytes); prev = the digest of the link before (32
 *              zero bytes for the first); run[i] = the first 8 bytes of the
 *              same hash finished after event i, so that verify can name
 *              the first event that differs. Written in the transaction
 *              that stores the events, so a crash never separates them;
 *              duplicates store nothing and are not chained.
 *
 * The chain is tamper-evidence, not a signature: whoever can rewrite the
 * file can rewrite the links too. Keep a copy of a recent digest
 * elsewhere (rz_store_verify from that seq then proves the rest).
 *
 * A store written by a version without the chain is opened with meta
 * "chain" set to its head + 1: the events below are reported as not
 * chained (verify stays ok). A version without the chain that appends to
 * a chained store leaves events that no link covers, and verify then
 * fails at the first of them.
 *
 * A stored event is the producer's encoded Event followed by an encoded
 * broker stamp (seq, ingest_time, principal as Event fields 20-22): protobuf
 * merges concatenated messages and keeps the last scalar, so the stored
 * bytes decode as one Event whose broker fields are the broker's, and
 * unknown fields from newer producers are kept as they came.
 *
 * Seq is global and gap-free: it is the log's last key + 1, assigned inside
 * the single write transaction, so an aborted transaction assigns nothing.
 *
 * Dedup: ids keeps, with each event's seq, a digest of its producer's
 * bytes (the first 16 bytes of their SHA-256, before the broker stamp). A
 * republish of a source+id with the same bytes is a duplicate; with other
 * bytes it is a conflict (RZ_ECONFLICT), since the producer reused an id
 * for another event and acking it as a duplicate would lose that event in
 * silence. Ids stored by a version without the digest (8-byte values) have
 * unknown content: a republish of one is a duplicate, as it was then.
 *
 * One process per data_dir: rz_store_open takes an exclusive flock on
 * data_dir/ratuszd.lock (holding the opener's pid) until rz_store_close. A
 * second opener, in this process or another, gets -EBUSY.
 *
 * Threads: one writer thread calls rz_store_append (and the other write
 * functions); any thread may read at the same time (LMDB MVCC, MDB_NOTLS).
 * Read functions pass LMDB's own memory to the visitor: it is valid only
 * until the visitor returns. A visitor must not call back into the store:
 * it runs under the lock that a map resize waits for.
 */
#ifndef RATUSZ_BROKER_STORE_H
#define RATUSZ_BROKER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/ratusz.h"

typedef struct rz_store rz_store_t;

enum rz_sync_mode {
    RZ_SYNC_FULL = 0, /* fsync every commit: acks are SYNCED (default) */
    RZ_SYNC_OS = 1    /* no fsync: acks are WRITTEN; the OS flushes */
};

typedef struct rz_store_opts {
    const char *dir;    /* created if missing */
    size_t map_size;    /* initial LMDB map size, bytes */
    size_t map_max;     /* grow the map up to this, bytes (>= map_size) */
    int sync;           /* enum rz_sync_mode */
    size_t subject_run; /* events with a subject per run of the subject
                           index (store.c); 0: 65536 */
} rz_store_opts_t;

/* Open (creating if needed) the store in opts->dir. Returns 0 and *out, or
 * a negative code: -EBUSY when another store holds the directory (logged:
 * "DATA_DIR <dir> is in use by ratuszd pid N"), RZ_ESTORE with the LMDB
 * error logged, RZ_EDISKFULL when the file system refused the writes,
 * -errno for the directory and the lock file. */
int rz_store_open(rz_store_t **out, const rz_store_opts_t *opts);

/* Close the environment. Safe with NULL and twice. */
void rz_store_close(rz_store_t **s);

/* --- writing (one writer thread) ----------------------------------------- */

/* One event to append, prepared and validated by the caller. The strings are
 * not NUL-terminated views into the caller's memory; they stay valid for the
 * duration of rz_store_append. */
typedef struct rz_store_item {
    /* in */
    const uint8_t *bytes;   /* the producer's encoded Event */
    size_t len;
    const char *source;  size_t source_len;
    const char *id;      size_t id_len;
    const char *subject; size_t subject_len; /* may be 0: not indexed */
    const char *topic;   size_t topic_len;
    const char *principal; size_t principal_len;
    int64_t time;           /* event time, unix µs */
    /* out */
    uint64_t seq;           /* assigned, or the original one if duplicate
                               or RZ_ECONFLICT */
    uint64_t prev_topic_seq;/* seq of the previous event of the same topic,
                               0 if none; set for new events only */
    int duplicate;          /* 1: source+id existed, nothing stored */
    int code;               /* 0 or negative RZ_E*; RZ_ECONFLICT: source+id
                               was stored (at seq) with other bytes,
                               nothing stored */
    const uint8_t *stored;  /* after a successful append of a new event: */
    size_t stored_len;      /* the stored bytes, valid until the next
                               rz_store_append (a buffer owned by the store) */
} rz_store_item_t;

/* Append items in one transaction, in order, and commit it (fsync in
 * RZ_SYNC_FULL). An item whose source+id is already stored, in an earlier
 * transaction or earlier in this one, gets the original seq and stores
 * nothing: with the same producer bytes (or an id stored before digests,
 * whose content is unknown) it is a duplicate (duplicate = 1, code 0);
 * with other bytes its code is RZ_ECONFLICT. ingest_time stamps every new
 * event.
 *
 * If the map is full the store grows it (doubling, up to map_max) and
 * retries; when it cannot grow, every item gets RZ_ESTOREFULL and nothing
 * is stored. When the file system refuses the writes (ENOSPC, EDQUOT, EIO)
 * every item gets RZ_EDISKFULL; on any other LMDB error, RZ_ESTORE; nothing
 * is stored in either case and the store stays usable: the next append
 * succeeds once the disk takes writes again. Failures are not logged here
 * (a full disk fails every commit): see rz_store_last_error. Returns 0 when the transaction committed (items then hold their
 * outcome), or the negative code every item got. An item the store cannot
 * key (empty topic; source+id, subject or topic longer than an LMDB key)
 * gets RZ_EINVALEVENT and takes no seq; the others are stored. */
int rz_store_append(rz_store_t *s, rz_store_item_t *items, size_t n,
                    int64_t ingest_time);

/* --- the journal's path (sync: full; journal.h) --------------------------- */

/* The ids database's content digest: the first RZ_STORE_DIGEST bytes of
 * SHA-256 over a producer's bytes. */
#define RZ_STORE_DIGEST 16

/* One event whose seq and stored bytes were decided before the store saw
 * it (by the writer, or by a journal record): views into the caller's
 * memory, valid for the duration of the call. */
typedef struct rz_store_entry {
    uint64_t seq;
    uint64_t prev_topic_seq; /* 0: the topic has no event before */
    int64_t time;            /* event time, unix µs */
    const uint8_t *stored;   /* producer's bytes + rz_store_stamp */
    size_t stored_len;
    const char *source;  size_t source_len;
    const char *id;      size_t id_len;
    const char *subject; size_t subject_len;
    const char *topic;   size_t topic_len;
    const uint8_t *digest;   /* RZ_STORE_DIGEST bytes */
    int ends_link;           /* the last of a group acked together: the
                                hash chain's link ends with it */
} rz_store_entry_t;

/* Store n entries in one transaction, with a hash chain link per group
 * (up to each entry with ends_link, and after the last), and commit it (fsync in RZ_SYNC_FULL). Entries at or below the head are
 * skipped (applied before); the others must continue the head without a
 * gap and have new source+ids, or nothing is stored and the result is
 * RZ_ESTORE (logged: the caller's bookkeeping is wrong). A full map is
 * grown up to map_max; then RZ_ESTOREFULL. RZ_EDISKFULL when the file
 * system refuses the writes. Returns 0 or that code; the store stays
 * usable and the same call may be made again. */
int rz_store_apply(rz_store_t *s, const rz_store_entry_t *e, size_t n);

/* Whether the store can key the item (rz_store_append's RZ_EINVALEVENT
 * check). */
int rz_store_item_valid(const rz_store_t *s, const rz_store_item_t *it);

/* The content digest of len producer bytes into out (RZ_STORE_DIGEST
 * bytes). Any thread; no allocation. Returns 0. */
int rz_store_digest(rz_store_t *s, const uint8_t *bytes, size_t len,
                    uint8_t *out);

/* Look up, in one read transaction, the source+id of every item whose
 * code is 0 and found[i] is 0: when stored, found[i] = 1, seq = its seq,
 * and duplicate = 1 (same digest, or stored without one) or code =
 * RZ_ECONFLICT. digests holds RZ_STORE_DIGEST bytes per item. Returns 0
 * or a code. Any thread, one at a time (the writer's groups): the read
 * transaction is kept between calls and renewed, not made again. */
int rz_store_ids_find(rz_store_t *s, rz_store_item_t *items, size_t n,
                      const uint8_t *digests, uint8_t *found);

/* Bytes the map may still take before map_max: map_max less the pages up
 * to the highest one ever used (free pages inside are not counted, so
 * this errs low). */
uint64_t rz_store_room(rz_store_t *s);

/* The broker stamp that rz_store_append puts after a producer's bytes:
 * Event fields 20-22 (seq, ingest_time, principal). Writes at most
 * RZ_STORE_STAMP_MAX + principal_len bytes to out and returns how many, so
 * that the fan-out can rebuild exactly the stored bytes without a copy from
 * the writer. */
#define RZ_STORE_STAMP_MAX 36
size_t rz_store_stamp(uint8_t *out, uint64_t seq, int64_t ingest_time,
                      const char *principal, size_t principal_len);

/* What the last failed rz_store_append ran into, in LMDB's or the OS's
 * words ("No space left on device"), for the caller's log; "" after a
 * success. Static or the store's string: valid until the next append. */
const char *rz_store_last_error(const rz_store_t *s);

/* Durability an acked append reached under this store's sync mode
 * (enum rz_durability). */
int rz_store_durability(const rz_store_t *s);

/* An operator's change to a group (writer thread): RESET sets the committed
 * position to seq, backwards too; DELETE removes the group. Both return
 * RZ_ENOTFOUND for a group that does not exist. */
enum rz_consumer_op { RZ_CONSUMER_RESET = 1, RZ_CONSUMER_DELETE = 2 };
int rz_store_consumer_admin(rz_store_t *s, const char *group, int op,
                            uint64_t seq, int64_t now_us);

/* How many consumer groups the store holds (any thread). */
int64_t rz_store_consumer_count(rz_store_t *s);

/* Set a consumer group's committed position (only forward: a lower seq is
 * ignored) and, when the group is new or prefix is non-NULL and the group
 * has none, its topic prefix. Returns 0. */
int rz_store_consumer_commit(rz_store_t *s, const char *group,
                             uint64_t seq, const char *prefix,
                             int64_t now_us);

/* --- reading (any thread) ------------------------------------------------- */

/* Called per event: seq, the stored bytes (LMDB memory, valid until return).
 * Return 0 to continue, non-zero to stop. */
typedef int (*rz_store_visit_fn)(uint64_t seq, const uint8_t *ev, size_t len,
                                 void *user);

/* The last seq stored (0 when empty). */
uint64_t rz_store_head(rz_store_t *s);

/* Visit the event with this seq. Returns 1 or RZ_ENOTFOUND. */
int rz_store_get(rz_store_t *s, uint64_t seq, rz_store_visit_fn fn,
                 void *user);

/* Visit the event with this source and id. Returns 1 or RZ_ENOTFOUND. */
int rz_store_get_id(rz_store_t *s, const char *source, const char *id,
                    rz_store_visit_fn fn, void *user);

typedef struct rz_store_query {
    const char *subject;      /* NULL/"" : not by subject */
    const char *topic_prefix; /* NULL/"" : not by topic */
    int64_t since, until;     /* event time; until 0 = open */
    uint32_t limit;           /* > 0 */
    const uint8_t *after;     /* cursor from a previous page */
    size_t after_len;
    /* NULL: not by pseudonym; else RZ_STORE_PSEUD bytes (a raw pseudonym,
     * redact.h): the events holding it, in seq order, from the pseudonym
     * index. Not with subject or topic_prefix (RZ_EINVAL). */
    const uint8_t *pseudonym;
} rz_store_query_t;

/* Run one page of a query (see QueryRequest in api.proto for the orders).
 * On return next/next_len hold the cursor of the next page (next_len 0 when
 * the results are exhausted); next must have RZ_CURSOR_MAX bytes. Returns
 * the number of events visited, RZ_EBADCURSOR for a cursor that is not
 * one of ours, RZ_EINVAL when both subject and topic_prefix are set. A
 * cursor is bound to its query (subject or prefix, since, until). A
 * time-bounded topic query reads at most 65536 candidates per page, so its
 * page may be short, even empty, and still carry a cursor. */
int rz_store_query(rz_store_t *s, const rz_store_query_t *q,
                   rz_store_visit_fn fn, void *user, uint8_t *next,
                   size_t *next_len);

/* Visit, in seq order, up to max events with from <= seq < until (until 0 =
 * no bound) whose topic starts with prefix (NULL or "" = all). *next_seq
 * gets the seq to continue from: one past the last event visited, or
 * `until`/head+1 when the range is exhausted (the lower of the two, and
 * never below from). max 0 visits nothing. Returns the number visited. */
int rz_store_scan(rz_store_t *s, uint64_t from, uint64_t until,
                  const char *prefix, size_t max, rz_store_visit_fn fn,
                  void *user, uint64_t *next_seq);

/* A consumer group's state; RZ_ENOTFOUND if it never committed. The
 * returned message is the caller's (ratusz__v1__consumer_group__free_unpacked). */
int rz_store_consumer_get(rz_store_t *s, const char *group,
                          Ratusz__V1__ConsumerGroup **out);

/* Every consumer group, lag filled in against the head. Caller frees with
 * ratusz__v1__consumer_list__free_unpacked. */
int rz_store_consumer_list(rz_store_t *s, Ratusz__V1__ConsumerList **out);

/* The last seq of one topic in the store: 0 and *seq (0 when it has no
 * event), or a code. */
int rz_store_topic_last(rz_store_t *s, const char *topic, size_t len,
                        uint64_t *seq);

/* The last seq of every topic, for the fan-out's prev_topic_seq after a
 * restart: calls fn(topic, len, last_seq, user) per topic. */
int rz_store_topic_heads(rz_store_t *s,
                         void (*fn)(const char *topic, size_t len,
                                    uint64_t last_seq, void *user),
                         void *user);

/* Check the event log's hash chain (the "chain" database: one link per
 * commit, SHA-256 over the previous link's digest and each new event's seq
 * and stored bytes) from the link holding seq from (0 = the first),
 * trusting the digest of the link before it, up to the head.
 *
 * Fills out: ok; checked (events) and links; first and last, the seqs
 * checked; on a break, first_bad and reason: the lowest seq that shows it.
 * It names
 *   - an event whose stored bytes changed          (that seq),
 *   - an event missing from the log                (that seq),
 *   - an event no link covers (extra, or appended by a version without
 *     the chain)                                   (that seq),
 *   - events missing together with their link      (the first of them),
 *   - a link whose digest or run was altered       (its first seq, or the
 *                                                   seq of the altered run),
 *   - a link whose prev is not the digest of the link before
 *                                                  (its first seq).
 * Events stored before the chain existed are skipped: ok stays true and
 * reason says up to which seq. The log is read in transactions of about
 * 65536 events, so a long verify neither pins old pages nor holds off a
 * map resize; commits that land meanwhile are checked too.
 *
 * out->reason is malloc'd, also when empty: free it. Returns 0 (out->ok
 * tells the verdict), RZ_ENOMEM, or RZ_ESTORE (LMDB or SHA-256 failed). */
int rz_store_verify(rz_store_t *s, uint64_t from,
                    Ratusz__V1__VerifyResult *out);

/* Benchmarks only: append without hash chain links from now on (the events
 * appended then fail rz_store_verify as not chained). */
void rz__store_chain_off(rz_store_t *s);

/* --- retention (retention.h decides what goes) ---------------------------- *
 *
 * Pruning removes an event's log entry with its subject, topic and time
 * index entries in one write transaction; its ids entry goes too, or, with
 * keep_ids, stays for the dedup window and is listed in the "forget"
 * database (prune time (8, BE) | seq (8, BE) -> source \0 id) until
 * rz_store_forget removes it.
 *
 * The event at the head is never pruned: seq is the log's last key + 1, so
 * the newest event stays to keep seq from going back.
 *
 * The hash chain: before the first event of a link goes, the link is
 * checked against its events as they are and rewritten in its sealed form
 * (same key, same prev and digest, so the next link still follows it):
 *
 *   +-----------+-------------+------------+-----------+--------------------+
 *   | prev (32) | digest (32) | n | 2^31   | seal (32) | (state (1) |       |
 *   |           |             | (4, BE)    |           |  hash (32)) x n    |
 *   +-----------+-------------+------------+-----------+--------------------+
 *
 * hash = SHA-256(seq (8, BE) || stored length (8, BE) || stored bytes) of
 * each event of the link; state 0 = kept, 1 = removed by retention; seal =
 * SHA-256(prev || digest || n || the n entries). verify checks a kept
 * event against its hash, a removed one's absence from the log, and the
 * seal. A link that does not verify is never sealed: the prune fails with
 * RZ_ESTORE (logged) and nothing of that transaction is removed. */

/* A consumer group that loses events to the hard limit of the hold. */
typedef struct rz_store_lost {
    const char *group;
    uint64_t events;
} rz_store_lost_t;

typedef struct rz_store_prune {
    const char *prefix;   /* the rule's topic prefix: meta counters */
    const uint64_t *seqs; /* ascending */
    size_t n;
    int keep_ids;                /* 1: keep the ids for the dedup window */
    int64_t now;                 /* unix µs: the prune time of kept ids */
    const rz_store_lost_t *lost; /* added to the groups' lost counts */
    size_t n_lost;
    /* out */
    uint64_t removed; /* events removed (seqs already gone, or the
                         head, are skipped) */
    uint64_t bytes;   /* their stored bytes */
} rz_store_prune_t;

/* Remove p->seqs in one write transaction (writer or retention thread:
 * LMDB serialises it with the other writers). Adds removed and bytes to
 * the prefix's counters in meta, in the same transaction. Returns 0, or
 * RZ_ESTORE (a link that does not verify; logged), RZ_ESTOREFULL,
 * RZ_EDISKFULL, RZ_ENOMEM. */
int rz_store_prune(rz_store_t *s, rz_store_prune_t *p);

/* Remove the ids that rz_store_prune kept at or before `before` (unix µs),
 * at most max of them in one transaction. Returns how many, or a code. */
int rz_store_forget(rz_store_t *s, int64_t before, size_t max);

/* What retention removed under prefix (since the store was made). */
int rz_store_pruned_totals(rz_store_t *s, const char *prefix, uint64_t *events,
                           uint64_t *bytes);

/* 1 when seq was removed by retention, 0 when not (never stored, or
 * stored), or a code. */
int rz_store_pruned(rz_store_t *s, uint64_t seq);

/* The seq the ids database holds for source+id (also of an event removed
 * by retention, during the dedup window), or 0. */
uint64_t rz_store_id_seq(rz_store_t *s, const char *source, const char *id);

/* Called per event by rz_store_scan_topics: its seq, topic (LMDB memory,
 * valid until return), event time and stored length. */
typedef int (*rz_store_topic_visit_fn)(uint64_t seq, const char *topic,
                                       size_t topic_len, int64_t time,
                                       size_t len, void *user);

/* rz_store_scan's prefix walk, in seq order from `from`, visiting at most
 * max events with their topic; *next_seq as there. Returns how many. */
int rz_store_scan_topics(rz_store_t *s, uint64_t from, const char *prefix,
                         size_t max, rz_store_topic_visit_fn fn, void *user,
                         uint64_t *next_seq);

typedef struct rz_store_info {
    uint64_t head_seq;
    uint64_t events;      /* entries in the log */
    uint64_t used_bytes;  /* pages in use * page size */
    uint64_t map_bytes;   /* current map size */
    uint64_t map_max;
} rz_store_info_t;

int rz_store_info(rz_store_t *s, rz_store_info_t *out);

/* --- format version, backup ----------------------------------------------- */

/* The store's layout version, kept in meta "format" (decimal text). A
 * store without it (made before it was kept) is format 1 and is stamped
 * at open. rz_store_open refuses a store of a newer format with
 * RZ_ECONFIG (logged, naming both versions), and migrates an older one
 * step by step (N to N+1), each step after a copy of the environment is
 * made next to it as data.mdb.format-N. */
#define RZ_STORE_FORMAT 2

/* Copy the environment, compacted, into fd (a new, empty file) while the
 * writers go on: LMDB copies one read transaction's snapshot. The map
 * cannot grow while the copy runs: an append that needs it waits for the
 * copy. The caller syncs and closes fd. Returns 0, RZ_EDISKFULL (the file
 * system refused the writes) or RZ_ESTORE (logged). Any thread. */
int rz_store_backup(rz_store_t *s, int fd);

/* What a store holds, read in one transaction. */
typedef struct rz_store_summary {
    unsigned format;        /* meta "format" (0: not stamped) */
    uint64_t head_seq;      /* last seq stored, 0 when empty */
    uint64_t events;        /* entries in the log */
    uint64_t chain_from;    /* seqs below were stored before the chain */
    uint64_t chain_last;    /* last seq the chain covers, 0: no link */
    uint8_t chain_digest[32]; /* the digest of the last link */
    uint64_t groups;        /* consumer groups */
} rz_store_summary_t;

/* Summary of the open store. Returns 0 or RZ_ESTORE. */
int rz_store_summary(rz_store_t *s, rz_store_summary_t *out);

/* Summary of the environment in the file path (a copy: no other process
 * may write it), opened read-only. Returns 0, RZ_ESTORE (logged) or
 * -errno. */
int rz_store_summary_file(const char *path, rz_store_summary_t *out);

/* --- the pseudonym index (pindex.h runs it) -------------------------------
 *
 * "pseudonyms": raw pseudonym (RZ_STORE_PSEUD bytes) -> the seqs of the
 * events holding it, built behind the log; meta "pseud.mark" is the seq up
 * to which every event was looked at, "pseud.key" the id of the redaction
 * key the entries were made with. Retention removes an event's entries
 * with it (through the hook). */

#define RZ_STORE_PSEUD 17
/* Pseudonyms indexed per event, at most (distinct values; more are not
 * indexed). */
#define RZ_STORE_PSEUD_EVENT_MAX 64

/* The raw pseudonyms of the stored event (ev, len) into out (max of them,
 * RZ_STORE_PSEUD bytes each, distinct): returns how many, 0 when it holds
 * no personal value, or a negative code when the bytes cannot be read.
 * Called from the indexer's and retention's threads: thread-safe. */
typedef int (*rz_store_pseud_fn)(const uint8_t *ev, size_t len, uint8_t *out,
                                 size_t max, void *user);

/* Set the hook before the indexer or retention starts. */
void rz_store_pseud_hook(rz_store_t *s, rz_store_pseud_fn fn, void *user);

/* Bind the index to the redaction key key_id: when meta names another key
 * (or none), the index is emptied and its mark set to 0, in one write
 * transaction. *mark gets the mark. Returns 0 (kept), 1 (emptied: it was
 * made with another key), 2 (new), or a code. */
int rz_store_pseud_bind(rz_store_t *s, const char *key_id, uint64_t *mark);

typedef struct rz_store_pseud_batch {
    uint64_t events;     /* events looked at */
    uint64_t indexed;    /* of them, with at least one pseudonym */
    uint64_t entries;    /* index entries written */
    uint64_t unreadable; /* events the hook could not read (not indexed) */
    uint64_t mark;       /* every seq up to this is looked at */
    int written;         /* 1: entries and mark written */
} rz_store_pseud_batch_t;

/* The stored mark may trail the indexer's by at most this many events,
 * all without personal data (looked at again after a crash: a wire scan
 * each, well under a second). Every write of the mark is an LMDB commit
 * with its two flushes beside the applier's: at 4,096 it cost 40 commits
 * a second at full ingest and showed in the ack p99. */
#define RZ_STORE_PSEUD_MARK_EVERY 262144

/* Index up to max events after seq `after` (the indexer's mark, or the
 * stored one when that is further): the hook's pseudonyms are read in a
 * read transaction, and written with the new mark in one write
 * transaction. A batch without personal data writes nothing (the publish
 * path shares the single LMDB writer, and a small map its pages) unless
 * the stored mark trails by RZ_STORE_PSEUD_MARK_EVERY. Entries are only
 * ever stored together with a mark at or past their seq. Returns the
 * number of events looked at (0: at the head), or a code. The indexer's
 * thread only. */
int rz_store_pseud_batch(rz_store_t *s, uint64_t after, size_t max,
                         rz_store_pseud_batch_t *out);

/* Store the indexer's mark (when it is past the stored one): at stop. */
int rz_store_pseud_flush(rz_store_t *s, uint64_t mark);

/* The index's mark and the log's head, read together. */
int rz_store_pseud_state(rz_store_t *s, uint64_t *mark, uint64_t *head);

#endif
