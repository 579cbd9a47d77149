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

/* Open (creating) the audit log in dir and start its thread. retention_us
 * 0 keeps every record. Returns 0 or a negative code with err set. */
int rz_audit_open(rz_audit_t **out, const char *dir, uint64_t retention_us,
                  char *err, size_t err_len);

/* Commit what is queued, stop the thread, close. Safe with NULL, twice. */
void rz_audit_close(rz_audit_t **a);

/* Queue one record (any thread). Returns 0, or RZ_ENOMEM (then counted in
 * rz_audit_lost and logged). */
int rz_audit_write(rz_audit_t *a, const rz_audit_entry_t *e);

/* Wait until everything queued before this call is committed. */
int rz_audit_flush(rz_audit_t *a);

/* Records matching q, oldest first, at most q->limit (default 1000, cap
 * 10000). *out is the caller's: ratusz__v1__audit_list__free_unpacked(*out,
 * NULL). */
int rz_audit_query(rz_audit_t *a, const Ratusz__V1__AuditRequest *q,
                   Ratusz__V1__AuditList **out);

/* Check the chain from record id from (0 = the oldest kept). Fills out
 * (reason points to static or out-owned text valid until the next call on
 * this thread). Returns 0 (out->ok tells the verdict) or a negative code. */
int rz_audit_verify(rz_audit_t *a, uint64_t from, Ratusz__V1__VerifyResult *out);

/* Records written, and entries that could not be queued. */
uint64_t rz_audit_written(const rz_audit_t *a);
uint64_t rz_audit_lost(const rz_audit_t *a);

#endif
