/* lmdb.h - opening an LMDB environment, growing its map, and the one
 * translation of LMDB's codes into RZ_E*, for every Ratusz store (the
 * broker's log and audit trail, the bridge's and the adapter's own).
 *
 * Errors: LMDB returns its own codes (MDB_KEYEXIST .. MDB_LAST_ERRCODE,
 * all negative) and the positive errno values of the system calls under
 * it. Ours are negative and outside LMDB's band, so the two never meet;
 * rzc_lmdb_code() turns the first into the second once, at the boundary.
 */
#ifndef RATUSZ_CORE_LMDB_H
#define RATUSZ_CORE_LMDB_H

#include <stddef.h>

#include <lmdb.h>

/* fsync the directory dir, so that the entries made in it survive a
 * power cut (fsync of a file does not make its name durable). 0 or
 * -errno. */
int rzc_sync_dir(const char *dir);

/* rzc_sync_dir of the directory that holds path ("." for a bare name). */
int rzc_sync_parent(const char *path);

/* Make dir and its missing parents, each with mode (mkdir -p), each made
 * durable (its parent synced): a power cut can take a directory entry
 * that was never synced, and everything stored under it. Returns 0,
 * -ENOTDIR when dir is there but is not a directory, or -errno. */
int rzc_mkdirs(const char *dir, unsigned mode);

/* Take an exclusive flock on DIR/NAME (made with mode if missing) and
 * write this process's pid in it, for whoever finds it taken. A flock goes
 * with the process: a crashed holder leaves no stale lock. Returns the
 * open fd (close it to let go), -EBUSY when another process (or another
 * open file in this one) holds it, with *holder set to the pid written
 * there (0 when unknown), or -errno. */
int rzc_lock_dir(const char *dir, const char *name, unsigned mode,
                 long *holder);

typedef struct rzc_lmdb_opts {
    const char *dir;      /* the environment's directory, made if missing */
    unsigned dir_mode;    /* for the directories made (0700, 0750) */
    unsigned file_mode;   /* for data.mdb and lock.mdb (0600, 0640) */
    unsigned flags;       /* mdb_env_open's: MDB_NOTLS, MDB_NOSYNC, ... */
    unsigned max_dbs;     /* named databases; 0 for the main one only */
    unsigned max_readers; /* 0 for LMDB's default (126) */
    size_t map_size;      /* the least map; see rzc_lmdb_open */
} rzc_lmdb_opts_t;

/* Open the environment in o->dir, creating the directory and the files.
 * A new environment gets o->map_size; an existing one keeps the map it
 * grew to in earlier runs when that is larger (LMDB would otherwise
 * shrink it to the size asked), else it grows to o->map_size. Reader
 * slots left by crashed processes are freed. The files are LMDB's own:
 * nothing of their layout is decided here.
 *
 * Durable from the first byte: LMDB writes a new data.mdb's first meta
 * pages without syncing them and never syncs the directory, so a power
 * cut could leave no data.mdb (with every commit in it) or one LMDB
 * refuses ever after. A new environment is therefore made as
 * data.mdb.new, synced, renamed into place, and the directory synced; the
 * directory is synced again at every open, for a process that died
 * before it did. (o->flags must not hold MDB_NOSUBDIR.)
 *
 * Returns 0 with *env open (the caller closes it with mdb_env_close), or
 * with *env NULL: -errno when the directory cannot be made, or
 * rzc_lmdb_code() of LMDB's error, and err set to "DIR: reason". */
int rzc_lmdb_open(MDB_env **env, const rzc_lmdb_opts_t *o, char *err,
                  size_t err_len);

/* The size of env's map now, or 0 when LMDB cannot say. */
size_t rzc_lmdb_map_size(MDB_env *env);

/* Double env's map, to max at the most, and set *map_size to the new
 * size. LMDB allows this only while this process has no transaction
 * open in env: the caller holds what keeps them out. Returns 0,
 * MDB_MAP_FULL when the map is already max, or an LMDB code. */
int rzc_lmdb_grow(MDB_env *env, size_t max, size_t *map_size);

/* Is rc one of LMDB's codes or an errno it passed up (not one of ours)? */
int rzc_lmdb_is_lmdb(int rc);

/* The one translation: 0 and our own codes pass through; MDB_MAP_FULL is
 * RZ_ESTOREFULL (the map is at its limit); ENOSPC, EDQUOT and EIO are
 * RZ_EDISKFULL (the file system refused to keep the data); any other
 * LMDB code is RZ_ESTORE. */
int rzc_lmdb_code(int rc);

/* rzc_lmdb_code(rc), first logging LMDB's own words ("WHAT: reason", at
 * error level), which the code loses. A full map is not logged: the
 * caller grows it or reports RZ_ESTOREFULL in its own words. */
int rzc_lmdb_fail(const char *what, int rc);

#endif
