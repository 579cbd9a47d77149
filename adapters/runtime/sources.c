/* sources.c - files: one-shot imports, the drop folder and tailed files,
 * driven by a libuv timer
 *
 * A file's records go to the store in transactions of commit_every
 * records, each carrying the file's progress ("file:<path>": content id,
 * records so far, its outbox seqs), so an adapter killed mid-file resumes
 * after the last committed record instead of reading the file again. A
 * dropped file stays where it is until every event of it is acked, then
 * moves to done/; one the module cannot read at all moves to failed/ with
 * <name>.reason beside it.
 *
 * A tailed file's offset is stored in the same transaction as the records
 * of its new lines ("tail:<path>"), so a restart goes on exactly after the
 * last stored line. Its content id (the stable part of every event id)
 * names the file's generation: the path, inode and first line, so that
 * after a rotation the same line numbers make new ids.
 */
#include "sources.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/core/log.h"

#define S_TAIL_CHUNK (4u << 20)
#define S_TAIL_MAX_LINE (16u << 20)

/* ===========================================================================
 * Files
 */

typedef struct s_fctx {
    char key[1100];
    rz_file_state_t st;
    uint64_t base_events, base_quarantined;
} s_fctx_t;

static int s_file_progress(rz_atxn_t *t, uint64_t records,
                           const rz_ingest_result_t *r, int final, void *user)
{
    s_fctx_t *f = user;
    f->st.records = records;
    if (!f->st.first_seq && r->first_seq)
        f->st.first_seq = r->first_seq;
    if (r->last_seq)
        f->st.last_seq = r->last_seq;
    f->st.events = f->base_events + r->events;
    f->st.quarantined = f->base_quarantined + r->quarantined;
    f->st.complete = (uint8_t)final;
    return rz_state_put(t, f->key, &f->st, sizeof f->st);
}

static const char *s_base(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int rz_file_import(rz_rt_t *rt, const char *path, unsigned flags,
                   rz_file_state_t *st, int *bad_input, char *err,
                   size_t err_len)
{
    *bad_input = 0;
    memset(st, 0, sizeof *st);
    uint8_t *data;
    size_t len;
    int rc = rz_read_file_flags(path, flags, &data, &len);
    if (rc) {
        if (rc == -ELOOP && (flags & RZ_READ_NOFOLLOW))
            snprintf(err, err_len, "%s is a symbolic link: not followed, "
                     "not read", path);
        else if (rc == RZ_EINVAL)
            snprintf(err, err_len, "%s is not a regular file: not read",
                     path);
        else
            snprintf(err, err_len, "cannot read %s: %s", path,
                     rz_strerror(rc));
        *bad_input = rc != RZ_ENOMEM;
        return rc;
    }
    s_fctx_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.key, sizeof f.key, "file:%s", path);
    rz_sha256_hex(data, len, f.st.content_id);
    rz_ingest_opts_t o = {.commit_every = rt->conf->commit_every,
                          .progress = s_file_progress,
                          .user = &f};
    rz_file_state_t saved;
    if (!rt->dry_run &&
        rz_state_get(rt->store, NULL, f.key, &saved, sizeof saved) ==
            (int)sizeof saved &&
        !strcmp(saved.content_id, f.st.content_id)) {
        if (saved.complete) {
            *st = saved;
            free(data);
            return 0;
        }
        /* an import a crash interrupted: its first records are stored */
        f.st = saved;
        o.skip = saved.records;
        f.base_events = saved.events;
        f.base_quarantined = saved.quarantined;
    }
    struct stat fst;
    int64_t mtime = 0;
    if (stat(path, &fst) == 0)
        mtime = (int64_t)fst.st_mtim.tv_sec * 1000000 +
                fst.st_mtim.tv_nsec / 1000;
    rz_input_t in = {.origin = path,
                     .name = s_base(path),
                     .data = data,
                     .len = len,
                     .content_id = f.st.content_id,
                     .first_line = 1,
                     .time = mtime};
    rz_ingest_result_t r;
    rc = rz_ingest(rt, &in, &o, &r, err, err_len);
    free(data);
    if (rc < 0) {
        /* the complete records of a file cut short are in the outbox:
         * the caller may wait for them */
        *st = f.st;
        *bad_input = !r.store_failed;
        return rc;
    }
    if (rt->dry_run) {
        f.st.events = r.events;
        f.st.quarantined = r.quarantined;
        f.st.records = r.records;
        f.st.complete = 1;
    }
    *st = f.st;
    return 0;
}

int rz_file_forget(rz_rt_t *rt, const char *path, int done, int failed)
{
    char key[1100];
    snprintf(key, sizeof key, "file:%s", path);
    rz_atxn_t t;
    int rc = rz_atxn_begin(rt->store, &t);
    if (rc)
        return rc;
    rc = rz_state_del(&t, key);
    if (rc && rc != RZ_ENOTFOUND) {
        rz_atxn_abort(&t);
        return rc;
    }
    t.d_files_done = done;
    t.d_files_failed = failed;
    return rz_atxn_commit(&t);
}

/* ===========================================================================
 * Drop folder and tails
 */

typedef struct s_pending {
    char *path;
    char *name;
    uint64_t first, last;
    struct s_pending *next;
} s_pending_t;

typedef struct s_tail_state {
    uint64_t ino, offset, line;
    char gen[65];
} s_tail_state_t;

struct rz_sources {
    rz_rt_t *rt;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_async_t async;
    int open_handles;
    char drop[1024], done[1100], failed[1100];
    s_pending_t *pending;
    char last_err[512];
};

static void s_log_once(rz_sources_t *s, const char *msg)
{
    if (strcmp(s->last_err, msg)) {
        rzc_log(RZC_LOG_ERROR, "%s", msg);
        snprintf(s->last_err, sizeof s->last_err, "%s", msg);
    }
}

static int s_is_pending(rz_sources_t *s, const char *path)
{
    for (s_pending_t *p = s->pending; p; p = p->next)
        if (!strcmp(p->path, path))
            return 1;
    return 0;
}

/* Rename from to to, never replacing what is there: whoever can write
 * to the drop folder can also plant names in done/ and failed/. -EEXIST
 * when to is taken. */
static int s_rename_noreplace(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* a file system without RENAME_NOREPLACE: look, then rename */
#endif
    struct stat st;
    if (lstat(to, &st) == 0)
        return -EEXIST;
    return rename(from, to) == 0 ? 0 : -errno;
}

/* Move path into dir, as name or, if taken, name.1, name.2 ... Writes the
 * final path to out. A symbolic link moves as the link: its target is
 * never touched. */
static int s_move(const char *path, const char *dir, const char *name,
                  char *out, size_t out_len)
{
    int rc = -EEXIST;
    for (int i = 0; i < 10000 && rc == -EEXIST; i++) {
        if (i == 0)
            snprintf(out, out_len, "%s/%s", dir, name);
        else
            snprintf(out, out_len, "%s/%s.%d", dir, name, i);
        rc = s_rename_noreplace(path, out);
    }
    return rc;
}

/* Write text to path as a new file: into a temporary file of our own in
 * the same directory (O_CREAT | O_EXCL | O_NOFOLLOW: a name planted there
 * is never opened), then renamed over path, so a symbolic link planted at
 * path is replaced, never followed, and a reader never sees half a file.
 * 0 or -errno. */
static int s_write_new(const char *dir, const char *path, const char *text)
{
    static _Atomic unsigned counter;
    char tmp[1600];
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        snprintf(tmp, sizeof tmp, "%s/.reason.%ld.%u.tmp", dir, (long)getpid(),
                 counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0640);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static void s_fail_file(rz_sources_t *s, const char *path, const char *name,
                        const char *reason)
{
    char to[1400], rpath[1500], text[1100];
    int rc = s_move(path, s->failed, name, to, sizeof to);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%.200s: cannot move to %.200s: %s", path,
                 s->failed, strerror(-rc));
        s_log_once(s, msg);
        return;
    }
    snprintf(rpath, sizeof rpath, "%s.reason", to);
    snprintf(text, sizeof text, "%s\n", reason);
    if ((rc = s_write_new(s->failed, rpath, text)))
        rzc_log(RZC_LOG_ERROR, "%s: %s", rpath, strerror(-rc));
    rzc_log(RZC_LOG_WARN, "%s -> %s: %s", path, to, reason);
    rz_file_forget(s->rt, path, 0, 1);
}

/* What a drop-folder entry that is not a regular file is, for its
 * .reason. */
static const char *s_kind(mode_t m)
{
    return S_ISLNK(m)    ? "a symbolic link"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISDIR(m)  ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

static void s_check_done(rz_sources_t *s)
{
    for (s_pending_t **pp = &s->pending; *pp;) {
        s_pending_t *p = *pp;
        int empty = p->first == 0
                        ? 1
                        : rz_outbox_range_empty(s->rt->store, p->first, p->last);
        if (empty != 1) {
            pp = &p->next;
            continue;
        }
        char to[1400];
        int rc = s_move(p->path, s->done, p->name, to, sizeof to);
        if (rc && rc != -ENOENT) {
            char msg[512];
            snprintf(msg, sizeof msg, "%.200s: cannot move to %.200s: %s",
                     p->path, s->done, strerror(-rc));
            s_log_once(s, msg);
            pp = &p->next;
            continue;
        }
        rz_file_forget(s->rt, p->path, 1, 0);
        *pp = p->next;
        free(p->path);
        free(p->name);
        free(p);
    }
}

static int s_skip_name(const char *n)
{
    size_t l = strlen(n);
    static const char *const temp[] = {".tmp", ".part", ".partial", ".swp",
                                       "~", NULL};
    if (n[0] == '.')
        return 1; /* ., .., and hidden files being written (rsync) */
    for (int i = 0; temp[i]; i++) {
        size_t t = strlen(temp[i]);
        if (l >= t && !strcmp(n + l - t, temp[i]))
            return 1;
    }
    return 0;
}

static int s_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void s_scan_drop(rz_sources_t *s)
{
    DIR *d = opendir(s->drop);
    if (!d) {
        char msg[512];
        snprintf(msg, sizeof msg, "drop_dir %.400s: %s", s->drop,
                 strerror(errno));
        s_log_once(s, msg);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (s_skip_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, s_cmp_names);
    int64_t now = rz_now_us();
    for (size_t i = 0; i < n; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", s->drop, names[i]);
        struct stat st;
        if (lstat(path, &st) != 0 || s_is_pending(s, path))
            continue;
        /* our own done/ and failed/ live in the drop folder */
        if (S_ISDIR(st.st_mode) &&
            (!strcmp(path, s->done) || !strcmp(path, s->failed)))
            continue;
        if (!S_ISREG(st.st_mode)) {
            /* never read: a link would import whatever it points at (a
             * file the adapter may read and the dropper may not), a FIFO
             * or device would hang or never end */
            char reason[300];
            snprintf(reason, sizeof reason,
                     "%s is %s, not a regular file: not read",
                     names[i], s_kind(st.st_mode));
            s_fail_file(s, path, names[i], reason);
            continue;
        }
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000 +
                        st.st_mtim.tv_nsec / 1000;
        /* still being written: wait until it has settled (a file renamed
         * in keeps its old mtime and is taken at once) */
        if (now - mtime < (int64_t)s->rt->conf->drop_settle_ms * 1000)
            continue;
        rz_file_state_t fs;
        int bad;
        char err[512];
        int rc = rz_file_import(s->rt, path, RZ_READ_NOFOLLOW, &fs, &bad, err,
                                sizeof err);
        if (rc < 0) {
            if (bad)
                s_fail_file(s, path, names[i], err);
            else
                s_log_once(s, err); /* ours: try again next time */
            continue;
        }
        s_pending_t *p = calloc(1, sizeof *p);
        if (!p || !(p->path = strdup(path)) ||
            !(p->name = strdup(names[i]))) {
            if (p)
                free(p->path);
            free(p);
            continue;
        }
        p->first = fs.first_seq;
        p->last = fs.last_seq;
        p->next = s->pending;
        s->pending = p;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

typedef struct s_tctx {
    char key[1100];
    s_tail_state_t st;
} s_tctx_t;

static int s_tail_progress(rz_atxn_t *t, uint64_t records,
                           const rz_ingest_result_t *r, int final, void *user)
{
    s_tctx_t *c = user;
    return rz_state_put(t, c->key, &c->st, sizeof c->st);
}

/* Import the complete lines appended to path since last time. */
static void s_scan_tail(rz_sources_t *s, const char *path)
{
    rz_rt_t *rt = s->rt;
    s_tctx_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "tail:%s", path);
    s_tail_state_t cur;
    int have = rz_state_get(rt->store, NULL, c.key, &cur, sizeof cur) ==
               (int)sizeof cur;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return; /* not there (yet): logs come and go */
    if (!have || cur.ino != (uint64_t)st.st_ino ||
        (uint64_t)st.st_size < cur.offset) {
        /* new, rotated or truncated: a new generation from the start */
        memset(&cur, 0, sizeof cur);
        cur.ino = (uint64_t)st.st_ino;
        cur.line = 1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    uint8_t *buf = NULL;
    for (int rounds = 0; rounds < 64; rounds++) {
        if (fstat(fd, &st) != 0 || (uint64_t)st.st_size <= cur.offset)
            break;
        uint64_t avail = (uint64_t)st.st_size - cur.offset;
        size_t want = avail > S_TAIL_MAX_LINE ? S_TAIL_MAX_LINE : (size_t)avail;
        free(buf);
        if (!(buf = malloc(want)))
            break;
        ssize_t got = pread(fd, buf, want, (off_t)cur.offset);
        if (got <= 0)
            break;
        /* complete lines only, and not more than a chunk of them */
        size_t take = 0;
        for (size_t i = 0; i < (size_t)got; i++) {
            if (buf[i] == '\n') {
                take = i + 1;
                if (take >= S_TAIL_CHUNK)
                    break;
            }
        }
        if (take == 0) {
            if ((size_t)got >= S_TAIL_MAX_LINE) {
                char msg[512];
                snprintf(msg, sizeof msg,
                         "%.300s: line %llu is longer than %u bytes: waiting",
                         path, (unsigned long long)cur.line, S_TAIL_MAX_LINE);
                s_log_once(s, msg);
            }
            break;
        }
        if (!cur.gen[0]) {
            /* path, inode and the first line name this generation */
            size_t first = (size_t)((uint8_t *)memchr(buf, '\n', take) - buf);
            size_t hl = strlen(path) + 64 + first;
            char *h = malloc(hl);
            if (!h)
                break;
            int w = snprintf(h, hl, "tail\n%s\n%llu\n", path,
                             (unsigned long long)cur.ino);
            memcpy(h + w, buf, first);
            rz_sha256_hex(h, (size_t)w + first, cur.gen);
            free(h);
        }
        uint64_t lines = 0;
        for (size_t i = 0; i < take; i++)
            lines += buf[i] == '\n';
        rz_input_t in = {.origin = path,
                         .name = s_base(path),
                         .data = buf,
                         .len = take,
                         .content_id = cur.gen,
                         .partial = 1,
                         .first_line = cur.line};
        c.st = cur;
        c.st.offset = cur.offset + take;
        c.st.line = cur.line + lines;
        rz_ingest_opts_t o = {.progress = s_tail_progress, .user = &c};
        rz_ingest_result_t r;
        char err[512];
        int rc = rz_ingest(rt, &in, &o, &r, err, sizeof err);
        if (rc < 0 && !r.store_failed) {
            /* the module could not read these lines at all: keep them as
             * one quarantined record and go on after them */
            char reason[700];
            snprintf(reason, sizeof reason, "lines %llu-%llu: %s",
                     (unsigned long long)cur.line,
                     (unsigned long long)(cur.line + lines - 1), err);
            rc = rz_ingest_reject(rt, &in, reason, &o, &r, err, sizeof err);
        }
        if (rc < 0) {
            s_log_once(s, err);
            break;
        }
        cur = c.st;
    }
    free(buf);
    close(fd);
}

static void s_on_timer(uv_timer_t *t)
{
    rz_sources_t *s = t->data;
    if (s->drop[0]) {
        s_scan_drop(s);
        s_check_done(s);
    }
    for (size_t i = 0; i < s->rt->conf->tail.n; i++)
        s_scan_tail(s, s->rt->conf->tail.items[i]);
}

static void s_on_async(uv_async_t *a)
{
    rz_sources_t *s = a->data;
    if (s->drop[0])
        s_check_done(s);
}

void rz_sources_acked(void *sources)
{
    rz_sources_t *s = sources;
    uv_async_send(&s->async);
}

/* Create done/ or failed/; one that is there must be a directory of its
 * own, not a symbolic link someone planted to have files moved elsewhere. */
static int s_mkdir(const char *path, char *err, size_t err_len)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        int e = errno;
        snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s is %s, not a directory: remove it", path,
                 s_kind(st.st_mode));
        return RZ_ECONFIG;
    }
    return 0;
}

int rz_sources_start(rz_sources_t **out, rz_rt_t *rt, uv_loop_t *loop,
                     char *err, size_t err_len)
{
    *out = NULL;
    rz_sources_t *s = calloc(1, sizeof *s);
    if (!s)
        return RZ_ENOMEM;
    s->rt = rt;
    s->loop = loop;
    const char *drop = rt->conf->drop_dir;
    if (*drop) {
        /* created like data_dir, so a fresh install needs no mkdir */
        int rc = rzc_mkdirs(drop, 0750);
        if (rc) {
            snprintf(err, err_len, "drop_dir %s: %s", drop, strerror(-rc));
            free(s);
            return rc;
        }
        /* one path per file, the same after a restart: the progress key */
        char *real = realpath(drop, NULL);
        if (!real) {
            rc = -errno;
            snprintf(err, err_len, "drop_dir %s: %s", drop, strerror(-rc));
            free(s);
            return rc;
        }
        snprintf(s->drop, sizeof s->drop, "%s", real);
        free(real);
        snprintf(s->done, sizeof s->done, "%s/done", s->drop);
        snprintf(s->failed, sizeof s->failed, "%s/failed", s->drop);
        if ((rc = s_mkdir(s->done, err, err_len)) ||
            (rc = s_mkdir(s->failed, err, err_len))) {
            free(s);
            return rc;
        }
    }
    uv_timer_init(loop, &s->timer);
    uv_async_init(loop, &s->async, s_on_async);
    s->timer.data = s;
    s->async.data = s;
    s->open_handles = 2;
    uv_timer_start(&s->timer, s_on_timer, 0, rt->conf->poll_ms);
    *out = s;
    return 0;
}

static void s_on_close(uv_handle_t *h)
{
    rz_sources_t *s = h->data;
    if (--s->open_handles > 0)
        return;
    while (s->pending) {
        s_pending_t *p = s->pending;
        s->pending = p->next;
        free(p->path);
        free(p->name);
        free(p);
    }
    free(s);
}

void rz_sources_close(rz_sources_t *s)
{
    if (!s)
        return;
    uv_close((uv_handle_t *)&s->timer, s_on_close);
    uv_close((uv_handle_t *)&s->async, s_on_close);
}
