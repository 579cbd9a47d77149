/* backup.h - BACKUP: a consistent copy of the store while the broker
 * serves.
 *
 * The front thread checks the directory and starts the copy on a thread
 * of its own (one backup at a time); the thread copies the event store
 * (LMDB's compacting copy: one read transaction, so writers go on), the
 * audit log and the pseudonym key, hashes each file, writes the manifest
 * last (ratusz/core/backup.h has the layout) and wakes the front by
 * writing one byte to notify_fd. The front started the copy only once
 * LMDB held every event acked before the request (server.c defers it like
 * a read), so the copy holds all of them.
 */
#ifndef RATUSZ_BROKER_BACKUP_H
#define RATUSZ_BROKER_BACKUP_H

#include <stdint.h>

#include "broker.h"

typedef struct rz_backup rz_backup_t;

/* Check dir (absolute, no "." or ".." part, missing or an empty
 * directory), make it (mode 0700) and start the copy. acked: the highest
 * seq acked before the request, for the manifest. Returns 0 and *out, or
 * RZ_EBADREQ (dir refused), -errno, RZ_ENOMEM, with err set. */
int rz_backup_start(rz_backup_t **out, rz_broker_t *b, const char *dir,
                    uint64_t acked, int notify_fd, char *err, size_t err_len);

/* 1 once the copy has finished (well or not). Any thread. */
int rz_backup_finished(rz_backup_t *bk);

/* After rz_backup_finished: the outcome. 0 with *out filled (its strings
 * belong to bk), or the code the copy failed with and *err (bk's) saying
 * which step failed. */
int rz_backup_result(rz_backup_t *bk, Ratusz__V1__BackupResult *out,
                     const char **err);

/* The directory asked for (bk's). */
const char *rz_backup_dir(const rz_backup_t *bk);

/* Wait for the copy to finish and free it. Safe with NULL, twice. */
void rz_backup_destroy(rz_backup_t **bk);

#endif
