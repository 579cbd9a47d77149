/* backup.c - durable copies, SHA-256 and the manifest of a backup */
#include "ratusz/core/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/errors.h"

#define S_BUF (1 << 20)
#define S_MANIFEST_MAX (64 * 1024)

const char *const rzc_backup_names[RZC_BACKUP_FILES] = {
    "data.mdb", "audit/data.mdb", "redaction.key"};

void rzc_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Read src to its end, writing to dst (-1: nowhere) and hashing. */
static int s_pump(int src, int dst, char hex[65], uint64_t *size)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(S_BUF);
    int rc = 0;
    *size = 0;
    if (!md || !buf) {
        rc = RZ_ENOMEM;
        goto out;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = RZ_EIO;
        goto out;
    }
    for (;;) {
        ssize_t n = read(src, buf, S_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        if (!EVP_DigestUpdate(md, buf, (size_t)n)) {
            rc = RZ_EIO;
            goto out;
        }
        for (ssize_t off = 0; dst >= 0 && off < n;) {
            ssize_t w = write(dst, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -errno;
                goto out;
            }
            off += w;
        }
        *size += (uint64_t)n;
    }
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (!EVP_DigestFinal_ex(md, d, &dlen) || dlen != 32)
        rc = RZ_EIO;
    else
        rzc_hex(d, 32, hex);
out:
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

int rzc_sha256_file(const char *path, char hex[65], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = s_pump(fd, -1, hex, size);
    close(fd);
    return rc;
}

int rzc_commit_file(int fd, const char *tmp, const char *dst)
{
    int rc = 0;
    if (fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = -errno;
    if (rc == 0)
        rc = rzc_sync_parent(dst);
    return rc;
}

int rzc_copy_file(const char *src, const char *dst, unsigned mode, char hex[65],
                  uint64_t *size)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (out < 0) {
        int rc = -errno;
        close(in);
        return rc;
    }
    fchmod(out, (mode_t)mode); /* an old tmp keeps its mode otherwise */
    int rc = s_pump(in, out, hex, size);
    close(in);
    if (rc) {
        close(out);
        unlink(tmp);
        return rc;
    }
    rc = rzc_commit_file(out, tmp, dst);
    if (rc)
        unlink(tmp);
    return rc;
}

/* --------------------------------------------------------------------------
 * The manifest
 */

int rzc_manifest_write(const char *path, const rzc_manifest_t *m, char *err,
                       size_t err_len)
{
    json_t *files = json_array(), *o = NULL;
    int rc = RZ_ENOMEM;
    char *text = NULL;
    char tmp[4096];

    if (!files)
        goto fail;
    for (int i = 0; i < RZC_BACKUP_FILES; i++) {
        if (!m->files[i].present)
            continue;
        if (json_array_append_new(
                files, json_pack("{s:s, s:I, s:s}", "name", rzc_backup_names[i],
                                 "size", (json_int_t)m->files[i].size, "sha256",
                                 m->files[i].sha256)))
            goto fail;
    }
    o = json_pack(
        "{s:i, s:i, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I},"
        " s:{s:I, s:I, s:s}, s:I, s:O}",
        "manifest", (int)m->manifest, "store_format", (int)m->store_format,
        "created", m->created, "ratuszd", m->version, "store", "head_seq",
        (json_int_t)m->head_seq, "events", (json_int_t)m->events, "acked_seq",
        (json_int_t)m->acked_seq, "chain_from", (json_int_t)m->chain_from,
        "chain_last", (json_int_t)m->chain_last, "chain_digest",
        m->chain_digest, "consumer_groups", (json_int_t)m->groups, "live_bytes",
        (json_int_t)m->store_bytes, "audit", "head_id",
        (json_int_t)m->audit_head, "records", (json_int_t)m->audit_records,
        "digest", m->audit_digest, "elapsed_us", (json_int_t)m->elapsed_us,
        "files", files);
    if (!o)
        goto fail;
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        goto fail;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        rc = errno ? -errno : RZ_EIO;
        close(fd);
        unlink(tmp);
        goto fail;
    }
    rc = rzc_commit_file(fd, tmp, path);
    if (rc)
        unlink(tmp);
fail:
    if (rc && err && err_len)
        snprintf(err, err_len, "%s: cannot write: %s", path, rz_strerror(rc));
    free(text);
    json_decref(o);
    json_decref(files);
    return rc;
}

static int s_hex_ok(const char *s, int empty_ok)
{
    size_t n = strlen(s);
    if (n == 0)
        return empty_ok;
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int rzc_manifest_read(const char *path, rzc_manifest_t *m, char *err,
                      size_t err_len)
{
    json_error_t je;
    struct stat st;
    memset(m, 0, sizeof *m);
    if (stat(path, &st) != 0) {
        int rc = -errno;
        snprintf(err, err_len, "%s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (not a backup, or one that did not "
                                   "finish)"
                                 : "");
        return rc;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > S_MANIFEST_MAX) {
        snprintf(err, err_len,
                 "%s: not a manifest (a regular file of at "
                 "most %d bytes)",
                 path, S_MANIFEST_MAX);
        return RZ_EINVAL;
    }
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, err_len, "%s:%d: %s", path, je.line, je.text);
        return RZ_EINVAL;
    }
    json_int_t man = 0, fmt = 0, head = 0, events = 0, acked = 0, from = 0,
               last = 0, groups = 0, live = 0, ahead = 0, arec = 0, elapsed = 0;
    const char *created = "", *version = "", *cd = "", *ad = "";
    json_t *files = NULL;
    int rc = RZ_EINVAL;
    if (json_unpack_ex(
            o, &je, 0,
            "{s:I, s:I, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I},"
            " s:{s:I, s:I, s:s}, s:I, s:o}",
            "manifest", &man, "store_format", &fmt, "created", &created,
            "ratuszd", &version, "store", "head_seq", &head, "events", &events,
            "acked_seq", &acked, "chain_from", &from, "chain_last", &last,
            "chain_digest", &cd, "consumer_groups", &groups, "live_bytes",
            &live, "audit", "head_id", &ahead, "records", &arec, "digest", &ad,
            "elapsed_us", &elapsed, "files", &files) < 0) {
        snprintf(err, err_len, "%s: %s", path, je.text);
        goto out;
    }
    if (man != RZC_MANIFEST_VERSION) {
        snprintf(err, err_len,
                 "%s: manifest version %" JSON_INTEGER_FORMAT
                 " (this ratusz reads version %d)",
                 path, man, RZC_MANIFEST_VERSION);
        goto out;
    }
    if (fmt < 1 || head < 0 || events < 0 || acked < 0 || from < 0 ||
        last < 0 || groups < 0 || live < 0 || ahead < 0 || arec < 0 ||
        elapsed < 0 || !s_hex_ok(cd, 1) || !s_hex_ok(ad, 1) ||
        strlen(created) >= sizeof m->created ||
        strlen(version) >= sizeof m->version || !json_is_array(files)) {
        snprintf(err, err_len, "%s: a value is out of range", path);
        goto out;
    }
    m->manifest = (unsigned)man;
    m->store_format = (unsigned)fmt;
    snprintf(m->created, sizeof m->created, "%s", created);
    snprintf(m->version, sizeof m->version, "%s", version);
    m->head_seq = (uint64_t)head;
    m->events = (uint64_t)events;
    m->acked_seq = (uint64_t)acked;
    m->chain_from = (uint64_t)from;
    m->chain_last = (uint64_t)last;
    snprintf(m->chain_digest, sizeof m->chain_digest, "%s", cd);
    m->groups = (uint64_t)groups;
    m->store_bytes = (uint64_t)live;
    m->audit_head = (uint64_t)ahead;
    m->audit_records = (uint64_t)arec;
    snprintf(m->audit_digest, sizeof m->audit_digest, "%s", ad);
    m->elapsed_us = elapsed;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *name = "", *sha = "";
        json_int_t size = -1;
        if (json_unpack_ex(f, &je, 0, "{s:s, s:I, s:s}", "name", &name, "size",
                           &size, "sha256", &sha) < 0) {
            snprintf(err, err_len, "%s: files[%zu]: %s", path, i, je.text);
            goto out;
        }
        int k = 0;
        while (k < RZC_BACKUP_FILES && strcmp(rzc_backup_names[k], name))
            k++;
        /* only names we know: a manifest never leads a restore elsewhere */
        if (k == RZC_BACKUP_FILES || m->files[k].present || size < 0 ||
            !s_hex_ok(sha, 0)) {
            snprintf(err, err_len,
                     "%s: files[%zu]: '%.80s' is not a file of a backup, "
                     "or is listed twice, or has a bad size or sha256",
                     path, i, name);
            goto out;
        }
        m->files[k].present = 1;
        m->files[k].size = (uint64_t)size;
        snprintf(m->files[k].sha256, sizeof m->files[k].sha256, "%s", sha);
    }
    if (!m->files[RZC_FILE_STORE].present) {
        snprintf(err, err_len, "%s: lists no %s", path,
                 rzc_backup_names[RZC_FILE_STORE]);
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int rzc_manifest_check_files(const char *dir, const rzc_manifest_t *m,
                             char *err, size_t err_len)
{
    for (int i = 0; i < RZC_BACKUP_FILES; i++) {
        if (!m->files[i].present)
            continue;
        char path[4096], hex[65];
        uint64_t size;
        if (snprintf(path, sizeof path, "%s/%s", dir, rzc_backup_names[i]) >=
            (int)sizeof path)
            return -ENAMETOOLONG;
        int rc = rzc_sha256_file(path, hex, &size);
        if (rc < 0) {
            snprintf(err, err_len, "%s: %s", path, rz_strerror(rc));
            return rc;
        }
        if (size != m->files[i].size) {
            snprintf(err, err_len,
                     "%s: %" PRIu64 " bytes, the manifest says %" PRIu64
                     ": the backup is damaged",
                     path, size, m->files[i].size);
            return RZ_EINVAL;
        }
        if (strcmp(hex, m->files[i].sha256) != 0) {
            snprintf(err, err_len,
                     "%s: SHA-256 %s, the manifest says %s: the backup is "
                     "damaged or was changed",
                     path, hex, m->files[i].sha256);
            return RZ_EINVAL;
        }
    }
    return 0;
}
