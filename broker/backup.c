/* backup.c - BACKUP's copy thread: store, audit log, key, manifest */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ratusz/core/backup.h"
#include "ratusz/core/lmdb.h"
#include "ratusz/core/time.h"

#define S_DIR_MAX 3000

struct rz_backup {
    rz_broker_t *b;
    char dir[S_DIR_MAX + 1];
    char key[4096]; /* the pseudonym key file */
    uint64_t acked;
    int notify_fd;
    pthread_t thread;
    atomic_int finished;
    int rc;
    char err[8800]; /* two paths and a reason */
    rzc_manifest_t m;
};

/* An absolute path without "." and ".." parts, empty parts, or control
 * characters: what the backup writes is where the operator said. */
static int s_dir_ok(const char *dir, char *err, size_t err_len)
{
    size_t n = strlen(dir);
    if (n == 0 || dir[0] != '/') {
        snprintf(err, err_len,
                 "backup directory '%.200s' is not an absolute path (it is a "
                 "path on the broker's machine)",
                 dir);
        return RZ_EBADREQ;
    }
    if (n > S_DIR_MAX) {
        snprintf(err, err_len, "backup directory of %zu bytes (at most %d)", n,
                 S_DIR_MAX);
        return RZ_EBADREQ;
    }
    for (const char *p = dir; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(err, err_len,
                     "backup directory holds a control character");
            return RZ_EBADREQ;
        }
    }
    for (const char *p = dir; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchrnul(p, '/');
        size_t len = (size_t)(e - p);
        if ((len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.')) {
            snprintf(err, err_len,
                     "backup directory '%.200s' has a '.' or '..' part: give "
                     "the path itself",
                     dir);
            return RZ_EBADREQ;
        }
        p = e;
    }
    return 0;
}

/* 1 when dir holds nothing, 0 when it holds something, -errno. */
static int s_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

/* Copy an LMDB environment with copy() into DIR/name durably, then hash
 * it into file. */
static int s_copy_env(rz_backup_t *bk, const char *name,
                      int (*copy)(void *, int), void *env,
                      rzc_backup_file_t *file)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", bk->dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = -errno;
        snprintf(bk->err, sizeof bk->err, "%s: %s", tmp, strerror(errno));
        return rc;
    }
    int rc = copy(env, fd);
    if (rc) {
        close(fd);
        unlink(tmp);
        snprintf(bk->err, sizeof bk->err, "copying %s failed: %s", name,
                 rz_strerror(rc));
        return rc;
    }
    if ((rc = rzc_commit_file(fd, tmp, path)) ||
        (rc = rzc_sha256_file(path, file->sha256, &file->size))) {
        snprintf(bk->err, sizeof bk->err, "%s: %s", path, rz_strerror(rc));
        return rc;
    }
    file->present = 1;
    return 0;
}

static int s_store_copy(void *s, int fd)
{
    return rz_store_backup(s, fd);
}

static int s_audit_copy(void *a, int fd)
{
    return rz_audit_backup(a, fd);
}

static int s_run(rz_backup_t *bk)
{
    rz_broker_t *b = bk->b;
    rzc_manifest_t *m = &bk->m;
    char path[4096];
    int rc;
    int64_t t0 = rz_now_us();

    m->manifest = RZC_MANIFEST_VERSION;
    m->acked_seq = bk->acked;
    snprintf(m->version, sizeof m->version, "%s", RZ_VERSION);
    rz_store_info_t info;
    if (rz_store_info(b->store, &info) == 0)
        m->store_bytes = info.used_bytes;

    /* the event store */
    if ((rc = s_copy_env(bk, rzc_backup_names[RZC_FILE_STORE], s_store_copy,
                         b->store, &m->files[RZC_FILE_STORE])))
        return rc;
    rz_store_summary_t sum;
    snprintf(path, sizeof path, "%s/%s", bk->dir,
             rzc_backup_names[RZC_FILE_STORE]);
    if ((rc = rz_store_summary_file(path, &sum))) {
        snprintf(bk->err, sizeof bk->err, "%s: cannot read the copy: %s", path,
                 rz_strerror(rc));
        return rc;
    }
    if (sum.head_seq < bk->acked) { /* server.c waited for the applier */
        snprintf(bk->err, sizeof bk->err,
                 "the copy ends at seq %llu, before the acked seq %llu",
                 (unsigned long long)sum.head_seq,
                 (unsigned long long)bk->acked);
        return RZ_ESTORE;
    }
    m->store_format = sum.format ? sum.format : RZ_STORE_FORMAT;
    m->head_seq = sum.head_seq;
    m->events = sum.events;
    m->chain_from = sum.chain_from;
    m->chain_last = sum.chain_last;
    m->groups = sum.groups;
    if (sum.chain_last)
        rzc_hex(sum.chain_digest, 32, m->chain_digest);

    /* the audit log: everything asked before the request is in it */
    rz_audit_flush(b->audit);
    snprintf(path, sizeof path, "%s/audit", bk->dir);
    if ((rc = rzc_mkdirs(path, 0700))) {
        snprintf(bk->err, sizeof bk->err, "%s: %s", path, rz_strerror(rc));
        return rc;
    }
    if ((rc = s_copy_env(bk, rzc_backup_names[RZC_FILE_AUDIT], s_audit_copy,
                         b->audit, &m->files[RZC_FILE_AUDIT])))
        return rc;
    uint8_t ad[32];
    snprintf(path, sizeof path, "%s/%s", bk->dir,
             rzc_backup_names[RZC_FILE_AUDIT]);
    if ((rc = rz_audit_summary_file(path, &m->audit_head, ad,
                                    &m->audit_records))) {
        snprintf(bk->err, sizeof bk->err, "%s: cannot read the copy: %s", path,
                 rz_strerror(rc));
        return rc;
    }
    if (m->audit_head)
        rzc_hex(ad, 32, m->audit_digest);

    /* the pseudonym key: the same pseudonyms after a restore */
    snprintf(path, sizeof path, "%s/%s", bk->dir,
             rzc_backup_names[RZC_FILE_KEY]);
    rzc_backup_file_t *kf = &m->files[RZC_FILE_KEY];
    rc = rzc_copy_file(bk->key, path, 0600, kf->sha256, &kf->size);
    if (rc == 0) {
        kf->present = 1;
    } else if (rc != -ENOENT) {
        snprintf(bk->err, sizeof bk->err, "%s: %s", bk->key, rz_strerror(rc));
        return rc;
    }

    m->elapsed_us = rz_now_us() - t0;
    rzc_rfc3339_format(rz_now_us(), m->created, sizeof m->created);
    snprintf(path, sizeof path, "%s/%s", bk->dir, RZC_BACKUP_MANIFEST);
    if ((rc = rzc_manifest_write(path, m, bk->err, sizeof bk->err)))
        return rc;
    return 0;
}

static void *s_thread(void *arg)
{
    rz_backup_t *bk = arg;
    bk->rc = s_run(bk);
    if (bk->rc)
        rz_error("backup into %s failed: %s", bk->dir, bk->err);
    else
        rz_info("backup into %s: %llu events up to seq %llu in %.1f s", bk->dir,
                (unsigned long long)bk->m.events,
                (unsigned long long)bk->m.head_seq,
                (double)bk->m.elapsed_us / 1e6);
    atomic_store(&bk->finished, 1);
    ssize_t n = write(bk->notify_fd, "b", 1);
    (void)n;
    return NULL;
}

int rz_backup_start(rz_backup_t **out, rz_broker_t *b, const char *dir,
                    uint64_t acked, int notify_fd, char *err, size_t err_len)
{
    struct stat st;
    int rc = s_dir_ok(dir, err, err_len);
    *out = NULL;
    if (rc)
        return rc;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, err_len, "%s exists and is not a directory", dir);
            return RZ_EBADREQ;
        }
        if ((rc = s_dir_empty(dir)) != 1) {
            if (rc == 0)
                snprintf(err, err_len,
                         "%s exists and is not empty: give a new directory",
                         dir);
            else
                snprintf(err, err_len, "%s: %s", dir, strerror(-rc));
            return rc == 0 ? RZ_EBADREQ : rc;
        }
    } else if (errno != ENOENT) {
        rc = -errno;
        snprintf(err, err_len, "%s: %s", dir, strerror(errno));
        return rc;
    } else if ((rc = rzc_mkdirs(dir, 0700))) {
        snprintf(err, err_len, "cannot make %s: %s", dir, rz_strerror(rc));
        return rc;
    }
    rz_backup_t *bk = calloc(1, sizeof *bk);
    if (!bk) {
        snprintf(err, err_len, "out of memory");
        return RZ_ENOMEM;
    }
    bk->b = b;
    snprintf(bk->dir, sizeof bk->dir, "%s", dir);
    if (*b->cfg->redaction_key)
        snprintf(bk->key, sizeof bk->key, "%s", b->cfg->redaction_key);
    else
        snprintf(bk->key, sizeof bk->key, "%s/redaction.key", b->cfg->data_dir);
    bk->acked = acked;
    bk->notify_fd = notify_fd;
    if ((rc = pthread_create(&bk->thread, NULL, s_thread, bk))) {
        snprintf(err, err_len, "cannot start the backup thread: %s",
                 strerror(rc));
        free(bk);
        return -rc;
    }
    rz_info("backup into %s started (acked up to seq %llu)", dir,
            (unsigned long long)acked);
    *out = bk;
    return 0;
}

int rz_backup_finished(rz_backup_t *bk)
{
    return bk && atomic_load(&bk->finished);
}

const char *rz_backup_dir(const rz_backup_t *bk)
{
    return bk ? bk->dir : "";
}

int rz_backup_result(rz_backup_t *bk, Ratusz__V1__BackupResult *out,
                     const char **err)
{
    const rzc_manifest_t *m = &bk->m;
    ratusz__v1__backup_result__init(out);
    *err = bk->err;
    if (bk->rc)
        return bk->rc;
    out->dir = bk->dir;
    out->created = (char *)m->created;
    out->store_format = m->store_format;
    out->head_seq = m->head_seq;
    out->events = m->events;
    out->acked_seq = m->acked_seq;
    out->chain_last = m->chain_last;
    out->chain_digest = (char *)m->chain_digest;
    out->consumer_groups = m->groups;
    out->audit_head = m->audit_head;
    out->audit_digest = (char *)m->audit_digest;
    for (int i = 0; i < RZC_BACKUP_FILES; i++)
        out->bytes += m->files[i].size;
    out->store_bytes = m->store_bytes;
    out->elapsed_us = m->elapsed_us;
    return 0;
}

void rz_backup_destroy(rz_backup_t **bkp)
{
    if (!bkp || !*bkp)
        return;
    pthread_join((*bkp)->thread, NULL);
    free(*bkp);
    *bkp = NULL;
}
