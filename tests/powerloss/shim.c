/* shim.c - LD_PRELOAD recorder of the writes and syncs a process makes
 *
 * For every file under $RZ_PL_DIR this appends to $RZ_PL_LOG what reached
 * the kernel and what the kernel was told to make durable, in the order it
 * happened, so that test_powerloss can rebuild what a disk could hold after
 * a power cut at any point. Every call is passed through to the real one
 * (dlsym RTLD_NEXT); one mutex orders the log, and is held across each
 * write so that the log order is the order the page cache saw. Syncs run
 * outside it and cover only what was logged before they began.
 *
 * The log is a sequence of records; the record's index is its number:
 *
 *   +--------+----------+----------+----------+----------+-------------+
 *   | op (4) | file (4) | off (8)  | len (8)  | arg (8)  | data (len)  |
 *   +--------+----------+----------+----------+----------+-------------+
 *
 *   NAME     file gets the path data (relative to the dir, "" = the dir)
 *   CREATE   file did not exist and open(O_CREAT) made it
 *   MKDIR    file (a directory) was made
 *   WRITE    data was written at off (write, pwrite, writev, pwritev)
 *   DSYNC    the WRITE numbered arg is durable (an O_SYNC/O_DSYNC fd)
 *   SYNC     fsync/fdatasync of file returned: every record numbered
 *            below arg that touched file is durable (for a directory:
 *            its entries)
 *   TRUNC    ftruncate to off
 *   FALLOC   fallocate(mode arg) of off, len
 *   RANGE    sync_file_range of off, len: starts writeback, no barrier
 *   MSYNC    msync: data written through a map, which is not recorded
 *   UNLINK   file's name was removed (arg: the unlinkat flags)
 *   RENAME   file is the new name of the file arg (UINT64_MAX: from
 *            outside the dir)
 *   LINK     file is a new name of the file arg (UINT64_MAX: outside)
 *
 * Each record is one write(2) to an O_APPEND log, so a reader that sees
 * the log's size knows which records were complete at that moment.
 *
 * Not seen: stdio (libc calls its own write, not this one) and stores
 * through a shared map (only msync is logged, and test_powerloss refuses a
 * log that has one). ratuszd uses neither on its data dir: LMDB without
 * MDB_WRITEMAP writes with pwrite and writev, and maps only to read (the
 * reader table in lock.mdb is shared memory, not data).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#define S_MAX_FD 65536
#define S_MAX_FILES 256

/* fd -> file id + 1 (0: not recorded), and its sync-on-write flag */
static int s_fd_file[S_MAX_FD];
static unsigned char s_fd_sync[S_MAX_FD];
/* the inode opened, so that an fd closed behind our back (by libc itself)
 * and reused for something else is not taken for the file */
static ino_t s_fd_ino[S_MAX_FD];

static char s_names[S_MAX_FILES][PATH_MAX];
static int s_n_names;
static char s_dir[PATH_MAX];
static size_t s_dir_len;
static int s_log = -1;
static uint64_t s_n_recs;
static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static int (*r_openat)(int, const char *, int, ...);
static int (*r_close)(int);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*r_ftruncate)(int, off_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off_t, off_t, unsigned);
static int (*r_msync)(void *, size_t, int);
static int (*r_mkdirat)(int, const char *, mode_t);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_linkat)(int, const char *, int, const char *, int);

static void *s_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) { /* stdio: our own write() would wait for this very init */
        fprintf(stderr, "rz_pl_shim: libc has no %s\n", name);
        abort();
    }
    return p;
}

static void s_init(void)
{
    r_openat = s_sym("openat");
    r_close = s_sym("close");
    r_write = s_sym("write");
    r_writev = s_sym("writev");
    r_pwrite = s_sym("pwrite");
    r_pwritev = s_sym("pwritev");
    r_pwritev2 = s_sym("pwritev2");
    r_ftruncate = s_sym("ftruncate");
    r_fallocate = s_sym("fallocate");
    r_fsync = s_sym("fsync");
    r_fdatasync = s_sym("fdatasync");
    r_sync_file_range = s_sym("sync_file_range");
    r_msync = s_sym("msync");
    r_mkdirat = s_sym("mkdirat");
    r_unlinkat = s_sym("unlinkat");
    r_renameat = s_sym("renameat");
    r_linkat = s_sym("linkat");

    const char *dir = getenv("RZ_PL_DIR");
    const char *log = getenv("RZ_PL_LOG");
    if (!dir || !*dir || !log || !*log || strlen(dir) >= sizeof s_dir)
        return;
    snprintf(s_dir, sizeof s_dir, "%s", dir);
    s_dir_len = strlen(s_dir);
    while (s_dir_len > 1 && s_dir[s_dir_len - 1] == '/')
        s_dir[--s_dir_len] = '\0';
    s_log = r_openat(AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                     0600);
}

/* ---------------------------------------------------------------------------
 * The log (s_mu held)
 */

/* Append one record; WRITE and NAME carry len bytes from data. */
static void s_append(uint32_t op, int file, uint64_t off, uint64_t len,
                     uint64_t arg, const struct iovec *data, int n_data)
{
    rz_pl_rec_t h = {op, (uint32_t)file, off, len, arg};
    struct iovec iov[1 + 64];
    size_t total = sizeof h, left = n_data > 0 ? len : 0;
    int n = 0;

    iov[n++] = (struct iovec){&h, sizeof h};
    for (int i = 0; i < n_data && left > 0 && n < 65; i++) {
        size_t take = data[i].iov_len < left ? data[i].iov_len : left;
        iov[n++] = (struct iovec){data[i].iov_base, take};
        total += take;
        left -= take;
    }
    /* one writev per record, so a record is in the log whole or not at all
     * for a reader that looks at the size (a regular file takes it whole);
     * LMDB writes at most 64 pages at once */
    if (left != 0 || r_writev(s_log, iov, n) != (ssize_t)total) {
        static const char msg[] =
            "rz_pl_shim: cannot write the log (or more than 64 pieces)\n";
        (void)!r_write(2, msg, sizeof msg - 1);
        abort();
    }
    s_n_recs++;
}

/* The id of a path relative to the dir, named in the log when new. */
static int s_file_id(const char *rel)
{
    for (int i = 0; i < s_n_names; i++)
        if (strcmp(s_names[i], rel) == 0)
            return i;
    if (s_n_names == S_MAX_FILES)
        abort();
    snprintf(s_names[s_n_names], PATH_MAX, "%s", rel);
    struct iovec d = {(void *)rel, strlen(rel)};
    s_append(RZ_PL_NAME, s_n_names, 0, d.iov_len, 0, &d, 1);
    return s_n_names++;
}

/* The path of (dirfd, path) relative to the dir, or NULL when outside. */
static const char *s_rel(int dirfd, const char *path, char *buf, size_t len)
{
    char base[PATH_MAX];

    if (s_log < 0 || !path)
        return NULL;
    if (path[0] == '/') {
        snprintf(buf, len, "%s", path);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                return NULL;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n < 0)
                return NULL;
            base[n] = '\0';
        }
        snprintf(buf, len, "%s/%s", base, path);
    }
    if (strncmp(buf, s_dir, s_dir_len) != 0)
        return NULL;
    if (buf[s_dir_len] == '\0')
        return "";
    if (buf[s_dir_len] != '/')
        return NULL;
    return buf + s_dir_len + 1;
}

static int s_tracked(int fd)
{
    struct stat st;
    if (fd < 0 || fd >= S_MAX_FD || s_fd_file[fd] == 0)
        return -1;
    if (fstat(fd, &st) != 0 || st.st_ino != s_fd_ino[fd]) {
        s_fd_file[fd] = 0;
        return -1;
    }
    return s_fd_file[fd] - 1;
}

/* ---------------------------------------------------------------------------
 * Opening and closing
 */

static int s_open(int dirfd, const char *path, int flags, mode_t mode)
{
    char buf[2 * PATH_MAX];
    struct stat st;

    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    const char *rel = s_rel(dirfd, path, buf, sizeof buf);
    int existed = rel && fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
    int fd = r_openat(dirfd, path, flags, mode);
    if (rel && fd >= 0 && fd < S_MAX_FD) {
        int id = s_file_id(rel);
        if ((flags & O_CREAT) && !existed)
            s_append(RZ_PL_CREATE, id, 0, 0, 0, NULL, 0);
        s_fd_file[fd] = id + 1;
        s_fd_sync[fd] = (flags & (O_SYNC | O_DSYNC)) != 0;
        s_fd_ino[fd] = fstat(fd, &st) == 0 ? st.st_ino : 0;
    }
    pthread_mutex_unlock(&s_mu);
    return fd;
}

static mode_t s_mode(int flags, va_list ap)
{
    int needs = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
    return needs ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE entry points */
int __open_2(const char *path, int flags)
{
    return s_open(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return s_open(AT_FDCWD, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
    return s_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return s_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int close(int fd)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_close(fd);
    if (fd >= 0 && fd < S_MAX_FD)
        s_fd_file[fd] = 0;
    pthread_mutex_unlock(&s_mu);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Writing
 */

/* Log n > 0 bytes written at off from iov, then DSYNC for a sync fd. */
static void s_wrote(int fd, int id, off_t off, const struct iovec *iov,
                    int iovcnt, ssize_t n)
{
    if (n <= 0)
        return;
    uint64_t at = s_n_recs;
    s_append(RZ_PL_WRITE, id, (uint64_t)off, (uint64_t)n, 0, iov, iovcnt);
    if (s_fd_sync[fd])
        s_append(RZ_PL_DSYNC, id, (uint64_t)off, (uint64_t)n, at, NULL, 0);
}

/* The offset a write() on fd lands at (s_mu held). */
static off_t s_cur(int fd)
{
    struct stat st;
    if ((fcntl(fd, F_GETFL) & O_APPEND) && fstat(fd, &st) == 0)
        return st.st_size;
    return lseek(fd, 0, SEEK_CUR);
}

static ssize_t s_writev_at(int fd, const struct iovec *iov, int iovcnt,
                           off_t off, int flags, int positioned)
{
    pthread_once(&s_once, s_init);
    int id = s_tracked(fd);
    if (id < 0)
        return positioned ? r_pwritev2(fd, iov, iovcnt, off, flags)
                          : r_writev(fd, iov, iovcnt);
    pthread_mutex_lock(&s_mu);
    off_t at = positioned ? off : s_cur(fd);
    ssize_t n = positioned ? r_pwritev2(fd, iov, iovcnt, off, flags)
                           : r_writev(fd, iov, iovcnt);
    int saved = errno;
    s_wrote(fd, id, at, iov, iovcnt, n);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    pthread_once(&s_once, s_init);
    if (s_tracked(fd) < 0)
        return r_write(fd, buf, len);
    struct iovec v = {(void *)buf, len};
    return s_writev_at(fd, &v, 1, -1, 0, 0);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    return s_writev_at(fd, iov, iovcnt, -1, 0, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    pthread_once(&s_once, s_init);
    if (s_tracked(fd) < 0)
        return r_pwrite(fd, buf, len, off);
    struct iovec v = {(void *)buf, len};
    return s_writev_at(fd, &v, 1, off, 0, 1);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite(fd, buf, len, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return s_writev_at(fd, iov, iovcnt, off, 0, 1);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return s_writev_at(fd, iov, iovcnt, off, 0, 1);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                 int flags)
{
    /* off -1: the current offset, as writev */
    return s_writev_at(fd, iov, iovcnt, off, flags, off != -1);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                    int flags)
{
    return pwritev2(fd, iov, iovcnt, off, flags);
}

int ftruncate(int fd, off_t len)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_ftruncate(fd, len), saved = errno, id = s_tracked(fd);
    if (rc == 0 && id >= 0)
        s_append(RZ_PL_TRUNC, id, (uint64_t)len, 0, 0, NULL, 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_fallocate(fd, mode, off, len), saved = errno;
    int id = s_tracked(fd);
    if (rc == 0 && id >= 0)
        s_append(RZ_PL_FALLOC, id, (uint64_t)off, (uint64_t)len, (uint64_t)mode,
                 NULL, 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

/* ---------------------------------------------------------------------------
 * Syncing
 */

static int s_sync(int fd, int data_only)
{
    pthread_once(&s_once, s_init);
    int (*real)(int) = data_only ? r_fdatasync : r_fsync;
    int id = s_tracked(fd);
    if (id < 0)
        return real(fd);
    pthread_mutex_lock(&s_mu);
    uint64_t before = s_n_recs;
    pthread_mutex_unlock(&s_mu);
    int rc = real(fd), saved = errno;
    if (rc == 0) {
        pthread_mutex_lock(&s_mu);
        s_append(RZ_PL_SYNC, id, 0, 0, before, NULL, 0);
        pthread_mutex_unlock(&s_mu);
    }
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    return s_sync(fd, 0);
}

int fdatasync(int fd)
{
    return s_sync(fd, 1);
}

int sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
    pthread_once(&s_once, s_init);
    int rc = r_sync_file_range(fd, off, len, flags), saved = errno;
    int id = s_tracked(fd);
    if (rc == 0 && id >= 0) {
        pthread_mutex_lock(&s_mu);
        s_append(RZ_PL_RANGE, id, (uint64_t)off, (uint64_t)len, flags, NULL, 0);
        pthread_mutex_unlock(&s_mu);
    }
    errno = saved;
    return rc;
}

int msync(void *addr, size_t len, int flags)
{
    pthread_once(&s_once, s_init);
    int rc = r_msync(addr, len, flags), saved = errno;
    if (s_log >= 0) {
        pthread_mutex_lock(&s_mu);
        s_append(RZ_PL_MSYNC, 0, (uint64_t)(uintptr_t)addr, len,
                 (uint64_t)flags, NULL, 0);
        pthread_mutex_unlock(&s_mu);
    }
    errno = saved;
    return rc;
}

/* ---------------------------------------------------------------------------
 * Directories
 */

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    char buf[2 * PATH_MAX];
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_mkdirat(dirfd, path, mode), saved = errno;
    const char *rel = rc == 0 ? s_rel(dirfd, path, buf, sizeof buf) : NULL;
    if (rel)
        s_append(RZ_PL_MKDIR, s_file_id(rel), 0, 0, 0, NULL, 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int mkdir(const char *path, mode_t mode)
{
    return mkdirat(AT_FDCWD, path, mode);
}

/* The id of (dirfd, path) if under the dir, else -1 (s_mu held). */
static int s_path_id(int dirfd, const char *path)
{
    char buf[2 * PATH_MAX];
    const char *rel = s_rel(dirfd, path, buf, sizeof buf);
    return rel ? s_file_id(rel) : -1;
}

int unlinkat(int dirfd, const char *path, int flags)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_unlinkat(dirfd, path, flags), saved = errno;
    int id = rc == 0 ? s_path_id(dirfd, path) : -1;
    if (id >= 0)
        s_append(RZ_PL_UNLINK, id, 0, 0, (uint64_t)flags, NULL, 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int unlink(const char *path)
{
    return unlinkat(AT_FDCWD, path, 0);
}

int rmdir(const char *path)
{
    return unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd,
             const char *newpath)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_renameat(olddirfd, oldpath, newdirfd, newpath), saved = errno;
    int from = rc == 0 ? s_path_id(olddirfd, oldpath) : -1;
    int to = rc == 0 ? s_path_id(newdirfd, newpath) : -1;
    if (from >= 0 && to >= 0)
        s_append(RZ_PL_RENAME, to, 0, 0, (uint64_t)from, NULL, 0);
    else if (from >= 0 || to >= 0) /* in or out of the dir: not modelled */
        s_append(RZ_PL_RENAME, from >= 0 ? from : to, 0, 0, UINT64_MAX, NULL,
                 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int rename(const char *oldpath, const char *newpath)
{
    return renameat(AT_FDCWD, oldpath, AT_FDCWD, newpath);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
           int flags)
{
    pthread_once(&s_once, s_init);
    pthread_mutex_lock(&s_mu);
    int rc = r_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
    int saved = errno;
    int from = rc == 0 ? s_path_id(olddirfd, oldpath) : -1;
    int to = rc == 0 ? s_path_id(newdirfd, newpath) : -1;
    if (to >= 0)
        s_append(RZ_PL_LINK, to, 0, 0, from >= 0 ? (uint64_t)from : UINT64_MAX,
                 NULL, 0);
    pthread_mutex_unlock(&s_mu);
    errno = saved;
    return rc;
}

int link(const char *oldpath, const char *newpath)
{
    return linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}
