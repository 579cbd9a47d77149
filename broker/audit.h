/* audit.h - the audit log: who read personal data, who was refused.
 *
 * A separate LMDB environment (data_dir/audit unless configured), never
 * touched by event retention: every read that returned personal data
 * unredacted, every denied request, every refused handshake, every admin
 * action and every grant reload becomes one AuditRecord (api.proto).
 * Records are numbered without gaps and hash-chained (SHA-256 over each
 * record with the previous digest inside it), so an edited or removed
 * record breaks the chain and rz_audit_verify names it.
 *
 * Writing never blocks the caller on the disk: rz_audit_write copies the
 * entry into a bounded queue and the audit thread commits what is queued
 * in one transaction (synced), normally within a few milliseconds. When
 * the queue is full the entry is still written: the caller waits for room
 * (accountability beats latency). Records older than the retention are
 * pruned by the audit thread; the chain then starts at the oldest kept.
 */
#ifndef RATUSZ_BROKER_AUDIT_H
#define RATUSZ_BROKER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/v1/api.pb-c.h"

typedef struct rz_audit rz_audit_t;

/* One record to write; every string may be NULL. Copied by rz_audit_write. */
typedef struct rz_audit_entry {
    const char *principal;
    const char *address;
    const char *action;  /* "read-personal", "denied", "handshake-refused",
                            "admin", "reload", "reload-failed" */
    const char *command; /* "GET", "ZAP", "SIGHUP", ... */
    const char *detail;  /* what was asked */
    const char *outcome; /* "ok" or the reason */
    uint64_t events;
    const char *const *subjects; /* the first 100 are kept */
    size_t n_subjects;
} rz_audit_entry_t;

/* Open (creating, mode 0700) the audit log in dir and start its thread.
 * retention_us 0 keeps every record; else the thread deletes records older
 * than that, at open and then at most once a minute, 10000 a transaction.
 * Returns 0, or a negative code (-errno for the directory, RZ_ESTORE for
 * LMDB, RZ_ENOMEM) with err set. */
int rz_audit_open(rz_audit_t **out, const char *dir, uint64_t retention_us,
                  char *err, size_t err_len);

/* Change the retention of an open log (a reload); the thread prunes by
 * it at once. */
void rz_audit_set_retention(rz_audit_t *a, uint64_t retention_us);

/* Commit what is queued, stop the thread, close. Safe with NULL, twice.
 * No rz_audit_write may run or start meanwhile. */
void rz_audit_close(rz_audit_t **a);

/* Entries the queue holds; rz_audit_write waits for room beyond that. */
#define RZ_AUDIT_QUEUE_MAX 4096

/* Queue one record (any thread): the entry is copied, its time is now
 * (never earlier than the record queued before), its id is given when it
 * is committed, in queue order. When the queue is full the caller waits
 * until the audit thread has taken it; nothing is dropped. Returns 0, or
 * RZ_ENOMEM when the copy cannot be made (then counted in rz_audit_lost
 * and logged), RZ_EINVAL for NULL. */
int rz_audit_write(rz_audit_t *a, const rz_audit_entry_t *e);

/* Wait until everything queued before this call is committed. Returns 0,
 * or RZ_ESTORE when a commit failed meanwhile (its records are lost,
 * counted and logged). */
int rz_audit_flush(rz_audit_t *a);

/* Records matching q, oldest first: since <= time < until (0 = open),
 * principal equal, one of the subjects equal, id > after_id; at most
 * q->limit (0 = 1000, cap 10000). One page examines at most 100000
 * records, so a page with filters may be short, even empty, and still have
 * out->next_id: the after_id to ask for next, 0 when no more. *out is the
 * caller's: ratusz__v1__audit_list__free_unpacked(*out, NULL). Returns 0,
 * RZ_EINVAL, RZ_ENOMEM or RZ_ESTORE. */
int rz_audit_query(rz_audit_t *a, const Ratusz__V1__AuditRequest *q,
                   Ratusz__V1__AuditList **out);

/* Check the chain from record id from (0 = the oldest kept) to the last
 * record: each record's digest over its stored bytes, each prev_digest
 * against the record before, ids without gaps, and the last against the
 * head kept in the log's meta data. Starting at from > the oldest kept, the
 * stored digest of record from-1 is trusted; starting at the oldest kept
 * after retention removed older records, its prev_digest is trusted and
 * reason says so (ok stays true).
 *
 * Fills out: ok, checked and links (both the records checked), first and
 * last, and for a break first_bad (the first id that breaks: edited
 * content, an edited digest, a missing id, a prev_digest that does not
 * follow) with the reason. out->reason points to a buffer of the calling
 * thread, valid until its next rz_audit_verify; do not free it. Returns 0
 * (out->ok tells the verdict) or a negative code (RZ_ESTORE). */
int rz_audit_verify(rz_audit_t *a, uint64_t from, Ratusz__V1__VerifyResult *out);

/* Records written, and entries lost (no memory for the copy, or a commit
 * that failed). */
uint64_t rz_audit_written(const rz_audit_t *a);
uint64_t rz_audit_lost(const rz_audit_t *a);

/* Tests only: while held, the audit thread commits nothing (so that a test
 * can fill the queue); rz_audit_close still commits what is queued. */
void rz__audit_hold(rz_audit_t *a, int hold);

/* Copy the audit environment, compacted, into fd (a new, empty file)
 * while records go on being written (one read transaction's snapshot;
 * call rz_audit_flush first for everything queued before). The caller
 * syncs and closes fd. Returns 0, RZ_EDISKFULL or RZ_ESTORE (logged). */
int rz_audit_backup(rz_audit_t *a, int fd);

/* The head of the audit log in the environment file path (a copy that no
 * process writes): the last record's id (0: none), its digest, and how
 * many records are kept. Returns 0, RZ_ESTORE (logged) or -errno. */
int rz_audit_summary_file(const char *path, uint64_t *head_id,
                          uint8_t digest[32], uint64_t *records);

#endif
