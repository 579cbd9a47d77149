/* backup.h - the files of a backup and of a restore: durable copies,
 * SHA-256 of each, and the manifest that lists them (ratuszd writes a
 * backup, `ratusz restore` checks it and puts it in place).
 *
 * A backup directory:
 *
 *   DIR/data.mdb          the event store, a compacted LMDB copy
 *   DIR/audit/data.mdb    the audit log, a compacted LMDB copy
 *   DIR/redaction.key     the pseudonym secret (0600)
 *   DIR/manifest.json     written last: a directory without it is not a
 *                         backup (a copy that did not finish)
 *
 * Every file is written as NAME.tmp, synced, renamed, and its directory
 * synced, so a power cut leaves either the whole file or none.
 */
#ifndef RATUSZ_CORE_BACKUP_H
#define RATUSZ_CORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#define RZC_BACKUP_MANIFEST "manifest.json"
/* In a data dir after `ratusz restore`: the next ratuszd start checks the
 * store against it (hash chains, heads) before serving, then removes it. */
#define RZC_RESTORE_MARKER "restored.json"
/* The manifest's own layout. */
#define RZC_MANIFEST_VERSION 1
#define RZC_BACKUP_FILES 3

/* The files a backup holds, by role; their names inside DIR. */
enum { RZC_FILE_STORE, RZC_FILE_AUDIT, RZC_FILE_KEY };
extern const char *const rzc_backup_names[RZC_BACKUP_FILES];

typedef struct rzc_backup_file {
    int present;
    uint64_t size;
    char sha256[65]; /* lowercase hex */
} rzc_backup_file_t;

typedef struct rzc_manifest {
    unsigned manifest;     /* RZC_MANIFEST_VERSION */
    unsigned store_format; /* the store's format version */
    char created[40];      /* RFC 3339, UTC */
    char version[32];      /* the ratuszd that made it */
    uint64_t head_seq;     /* last event in the copy */
    uint64_t events;       /* events in the copy */
    uint64_t chain_from;   /* first chained seq */
    uint64_t chain_last;   /* last seq the chain covers */
    char chain_digest[65]; /* the last link's digest, hex ("" no link) */
    uint64_t groups;       /* consumer groups */
    uint64_t acked_seq;    /* every event acked before the request */
    uint64_t audit_head;   /* the audit log's last record id */
    char audit_digest[65]; /* its digest, hex */
    uint64_t audit_records;
    uint64_t store_bytes; /* the live store's pages in use then */
    int64_t elapsed_us;   /* the copy's duration */
    rzc_backup_file_t files[RZC_BACKUP_FILES];
} rzc_manifest_t;

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void rzc_hex(const uint8_t *p, size_t n, char *out);

/* SHA-256 of the file path, in hex, and its size. 0 or -errno
 * (RZ_ENOMEM, RZ_EIO when the hash fails). */
int rzc_sha256_file(const char *path, char hex[65], uint64_t *size);

/* Make dst a copy of src durably (dst.tmp with mode, synced, renamed,
 * dst's directory synced), hashing what was copied. A dst already there
 * is replaced. 0 or -errno. */
int rzc_copy_file(const char *src, const char *dst, unsigned mode, char hex[65],
                  uint64_t *size);

/* Sync fd, close it, rename tmp to dst and sync dst's directory. fd is
 * closed in every case. 0 or -errno. */
int rzc_commit_file(int fd, const char *tmp, const char *dst);

/* Write the manifest as DIR/NAME (durably, mode 0600). 0 or a negative
 * code with err set. */
int rzc_manifest_write(const char *path, const rzc_manifest_t *m, char *err,
                       size_t err_len);

/* Read and check the shape of the manifest in path (bounded: 64 KiB).
 * 0, or a negative code with err naming what is wrong. */
int rzc_manifest_read(const char *path, rzc_manifest_t *m, char *err,
                      size_t err_len);

/* Check every file the manifest lists in dir: present, of its size and
 * SHA-256. 0, or RZ_EINVAL with err naming the first file that differs,
 * or -errno. */
int rzc_manifest_check_files(const char *dir, const rzc_manifest_t *m,
                             char *err, size_t err_len);

#endif
