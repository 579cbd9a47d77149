/* lmdb.c - opening LMDB environments, growing maps, one error translation */
#include "ratusz/core/lmdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratusz/core/log.h"
#include "ratusz/errors.h"

int rzc_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int rzc_sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return rzc_sync_dir(".");
    if (slash == path)
        return rzc_sync_dir("/");
    if ((size_t)(slash - path) >= sizeof dir)
        return -ENAMETOOLONG;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return rzc_sync_dir(dir);
}

int rzc_lock_dir(const char *dir, const char *name, unsigned mode, long *holder)
{
    char path[4096], pid[32];
    int fd, rc;

    *holder = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = -errno;
        if (rc == -EWOULDBLOCK) {
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            if (n > 0) {
                pid[n] = '\0';
                *holder = strtol(pid, NULL, 10);
            }
            rc = -EBUSY;
        }
        close(fd);
        return rc;
    }
    /* one write of a fixed width replaces the old pid at once */
    int n = snprintf(pid, sizeof pid, "%-20ld\n", (long)getpid());
    if (pwrite(fd, pid, (size_t)n, 0) != n || ftruncate(fd, n) != 0)
        rzc_log(RZC_LOG_WARN, "%s: cannot write the pid: %s", path,
                strerror(errno));
    return fd;
}

int rzc_mkdirs(const char *dir, unsigned mode)
{
    struct stat st;
    int rc = 0;
    char *p = strdup(dir);

    if (!p)
        return RZ_ENOMEM;
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char save = *c;
        *c = '\0';
        if (mkdir(p, (mode_t)mode) == 0) {
            /* the new entry is durable only once its parent is synced */
            if ((rc = rzc_sync_parent(p)))
                goto fail;
        } else if (errno != EEXIST) {
            rc = -errno;
            goto fail;
        }
        *c = save;
        if (!save)
            break;
    }
    if (stat(dir, &st) != 0)
        rc = -errno;
    else if (!S_ISDIR(st.st_mode))
        rc = -ENOTDIR;
fail:
    free(p);
    return rc;
}

/* Does dir hold an environment already? */
static int s_env_exists(const char *dir)
{
    struct stat st;
    char path[4096];

    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return 0;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* A new, empty environment in dir (see rzc_lmdb_open): made as
 * data.mdb.new, synced, renamed into place. 0 or an LMDB code (errno
 * values positive, as LMDB returns them). */
static int s_env_new(const rzc_lmdb_opts_t *o)
{
    char tmp[4096], lock[4096], path[4096];
    MDB_env *env = NULL;
    int rc;

    if (snprintf(path, sizeof path, "%s/data.mdb", o->dir) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp ||
        snprintf(lock, sizeof lock, "%s-lock", tmp) >= (int)sizeof lock)
        return ENAMETOOLONG;
    /* what a crash in here left behind */
    if ((unlink(tmp) != 0 && errno != ENOENT) ||
        (unlink(lock) != 0 && errno != ENOENT))
        return errno;
    if ((rc = mdb_env_create(&env)))
        return rc;
    if ((o->max_dbs && (rc = mdb_env_set_maxdbs(env, o->max_dbs))) ||
        (rc = mdb_env_set_mapsize(env, o->map_size)) ||
        (rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOTLS,
                           (mdb_mode_t)o->file_mode)) ||
        (rc = mdb_env_sync(env, 1))) {
        mdb_env_close(env);
        return rc;
    }
    mdb_env_close(env);
    if (rename(tmp, path) != 0 || (unlink(lock) != 0 && errno != ENOENT))
        return errno;
    return -rzc_sync_dir(o->dir);
}

int rzc_lmdb_open(MDB_env **env, const rzc_lmdb_opts_t *o, char *err,
                  size_t err_len)
{
    MDB_envinfo info;
    int rc, dead = 0;

    *env = NULL;
    if ((rc = rzc_mkdirs(o->dir, o->dir_mode))) {
        if (err && err_len)
            snprintf(err, err_len, "%s: %s", o->dir, strerror(-rc));
        return rc;
    }
    if ((rc = mdb_env_create(env))) {
        *env = NULL;
        goto fail;
    }
    if (!s_env_exists(o->dir) && (rc = s_env_new(o)))
        goto fail;
    if ((rc = -rzc_sync_dir(o->dir)))
        goto fail;
    if (o->max_dbs && (rc = mdb_env_set_maxdbs(*env, o->max_dbs)))
        goto fail;
    if (o->max_readers && (rc = mdb_env_set_maxreaders(*env, o->max_readers)))
        goto fail;
    /* LMDB uses the size persisted in the file unless one is set */
    if (!s_env_exists(o->dir) && (rc = mdb_env_set_mapsize(*env, o->map_size)))
        goto fail;
    if ((rc = mdb_env_open(*env, o->dir, o->flags, (mdb_mode_t)o->file_mode)))
        goto fail;
    if ((rc = mdb_env_info(*env, &info)))
        goto fail;
    if (info.me_mapsize < o->map_size &&
        (rc = mdb_env_set_mapsize(*env, o->map_size)))
        goto fail;
    /* reader slots of crashed processes would pin old pages forever */
    mdb_reader_check(*env, &dead);
    return 0;

fail:
    if (err && err_len)
        snprintf(err, err_len, "%s: %s", o->dir, mdb_strerror(rc));
    if (*env)
        mdb_env_close(*env);
    *env = NULL;
    return rzc_lmdb_code(rc);
}

size_t rzc_lmdb_map_size(MDB_env *env)
{
    MDB_envinfo info;
    return mdb_env_info(env, &info) == 0 ? info.me_mapsize : 0;
}

int rzc_lmdb_grow(MDB_env *env, size_t max, size_t *map_size)
{
    size_t now = rzc_lmdb_map_size(env);
    if (now == 0 || now >= max)
        return MDB_MAP_FULL;
    int rc = mdb_env_set_mapsize(env, now <= max / 2 ? now * 2 : max);
    if (rc == 0)
        *map_size = rzc_lmdb_map_size(env);
    return rc;
}

int rzc_lmdb_is_lmdb(int rc)
{
    return rc > 0 || (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE);
}

int rzc_lmdb_code(int rc)
{
    if (rc == 0 || !rzc_lmdb_is_lmdb(rc))
        return rc;
    if (rc == MDB_MAP_FULL)
        return RZ_ESTOREFULL;
    if (rc == ENOSPC || rc == EDQUOT || rc == EIO)
        return RZ_EDISKFULL;
    return RZ_ESTORE;
}

int rzc_lmdb_fail(const char *what, int rc)
{
    if (rzc_lmdb_is_lmdb(rc) && rc != MDB_MAP_FULL)
        rzc_log(RZC_LOG_ERROR, "%s: %s", what, mdb_strerror(rc));
    return rzc_lmdb_code(rc);
}
