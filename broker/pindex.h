/* pindex.h - the pseudonym index, built behind the log.
 *
 * A thread of its own reads the events the log holds past the index's mark
 * (store.h: rz_store_pseud_batch) in batches of at most RZ_PINDEX_BATCH,
 * skips those without personal data with a wire scan (rz_redact_needed),
 * and indexes, for the others, the pseudonym of every non-empty personal
 * value the redaction would replace (rz_redact_each): QUERY by pseudonym
 * then finds a taxpayer's events without anyone learning who it is.
 *
 * It polls: after a full batch it goes on at once, otherwise it looks
 * again RZ_PINDEX_POLL_MS later. Both the writer (sync: os) and the
 * journal's applier (sync: full) put events into LMDB; a read transaction
 * a few times a second costs microseconds, and the publish path is not
 * touched at all. The index then trails the log by at most about that
 * interval plus a batch.
 *
 * The index belongs to the redaction key: started with another key than
 * the one it was built with, it is emptied and built again from seq 1
 * (logged). Retention removes the entries of the events it removes (the
 * store calls this module's hook in the prune's transaction).
 */
#ifndef RATUSZ_BROKER_PINDEX_H
#define RATUSZ_BROKER_PINDEX_H

#include <stdint.h>

#include "redact.h"
#include "store.h"

/* Events per write transaction, at most. */
#define RZ_PINDEX_BATCH 250
/* Between looks at the log while the index is at its head. */
#define RZ_PINDEX_POLL_MS 200

typedef struct rz_pindex rz_pindex_t;

/* Bind the store's index to key (rebuilding it when it was made with
 * another), set the store's hook, and start the thread. key must outlive
 * the indexer. Returns 0 or a code. */
int rz_pindex_start(rz_pindex_t **out, rz_store_t *store,
                    const rz_redact_key_t *key);

/* Stop the thread and unset the store's hook. Call it after retention is
 * stopped (retention calls the hook). Safe with NULL and twice. */
void rz_pindex_destroy(rz_pindex_t **p);

typedef struct rz_pindex_stat {
    uint64_t events;  /* events looked at since start */
    uint64_t indexed; /* of them, with personal values (indexed) */
    uint64_t entries; /* index entries written since start */
    uint64_t mark;    /* every seq up to this is indexed */
} rz_pindex_stat_t;

/* Counters for STATS (zeros with NULL). */
void rz_pindex_stats(rz_pindex_t *p, rz_pindex_stat_t *out);

/* The raw pseudonyms of one stored event (rz_store_pseud_fn, user = a
 * const rz_redact_key_t *): exposed for tests. */
int rz__pindex_pseudonyms(const uint8_t *ev, size_t len, uint8_t *out,
                          size_t max, void *user);

#endif
