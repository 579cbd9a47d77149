/* keys.c - CURVE key files: generate, read and check them.
 *
 * The files are small "key: value" texts (the layout is drawn in keys.h).
 * Everything that reads one goes through rz__key_parse, which takes the
 * text from memory, so the fuzzer sees exactly what a loaded file sees.
 */
#include "ratusz/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ratusz/errors.h"

/* A key file is a few hundred bytes; anything much bigger is not one. */
#define S_FILE_MAX 65536

static const char s_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

int rz_key_is_z85(const char *text)
{
    if (!text || strlen(text) != RZ_KEY_Z85_LEN)
        return 0;
    for (const char *p = text; *p; p++)
        if (!strchr(s_z85_chars, *p))
            return 0;
    /* the alphabet alone lets through groups above 2^32 */
    uint8_t bin[32];
    return zmq_z85_decode(bin, text) != NULL;
}

int rz__key_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > RZ_KEY_NAME_MAX)
        return 0;
    /* "." and ".." would make NAME.key a dotfile in a surprising place */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == n;
}

/* ==========================================================================
 * Reading
 */

/* Trim blanks (and a CR left by an editor) at both ends of [*s, *e). */
static void s_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

int rz__key_parse(const char *text, size_t len, const char *where,
                  int need_secret, rz_keypair_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t public_line = 0, secret_line = 0, name_line = 0;
    size_t lineno = 0;
    const char *p = text, *end = text + len;
    int rc = RZ_ECONFIG;
    if (memchr(text, '\0', len)) {
        snprintf(err, err_len, "%s: not a text file (NUL byte)", where);
        goto fail;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p, *e = le;
        p = nl ? nl + 1 : end;
        lineno++;
        s_trim(&s, &e);
        if (s == e || *s == '#')
            continue;
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (!colon) {
            snprintf(err, err_len, "%s:%zu: expected \"key: value\"", where,
                     lineno);
            goto fail;
        }
        const char *ks = s, *ke = colon, *vs = colon + 1, *ve = e;
        s_trim(&ks, &ke);
        s_trim(&vs, &ve);
        size_t klen = (size_t)(ke - ks), vlen = (size_t)(ve - vs);
        char *dest;
        size_t *seen;
        size_t cap;
        if (klen == 4 && !memcmp(ks, "name", 4)) {
            dest = out->name, seen = &name_line, cap = RZ_KEY_NAME_MAX;
        } else if (klen == 6 && !memcmp(ks, "public", 6)) {
            dest = out->public_z85, seen = &public_line, cap = RZ_KEY_Z85_LEN;
        } else if (klen == 6 && !memcmp(ks, "secret", 6)) {
            dest = out->secret_z85, seen = &secret_line, cap = RZ_KEY_Z85_LEN;
        } else {
            snprintf(err, err_len,
                     "%s:%zu: unknown key '%.*s' (name, public "
                     "and secret are known)",
                     where, lineno, klen > 40 ? 40 : (int)klen, ks);
            goto fail;
        }
        if (*seen) {
            snprintf(err, err_len,
                     "%s:%zu: '%.*s' given twice (first on "
                     "line %zu)",
                     where, lineno, (int)klen, ks, *seen);
            goto fail;
        }
        *seen = lineno;
        int ok = vlen <= cap;
        if (ok) {
            memcpy(dest, vs, vlen);
            dest[vlen] = '\0';
            ok =
                dest == out->name ? rz__key_name_ok(dest) : rz_key_is_z85(dest);
        }
        if (!ok) {
            dest[0] = '\0';
            if (seen == &name_line)
                snprintf(err, err_len,
                         "%s:%zu: bad name: 1-%d of "
                         "A-Z a-z 0-9 . _ -",
                         where, lineno, RZ_KEY_NAME_MAX);
            else
                snprintf(err, err_len,
                         "%s:%zu: %s key is not %d Z85 "
                         "characters",
                         where, lineno,
                         seen == &public_line ? "public" : "secret",
                         RZ_KEY_Z85_LEN);
            goto fail;
        }
    }
    if (!public_line) {
        snprintf(err, err_len, "%s: no \"public:\" line", where);
        goto fail;
    }
    if (need_secret && !secret_line) {
        snprintf(err, err_len,
                 "%s: no \"secret:\" line (is this a .pub "
                 "file? the client needs its NAME.key)",
                 where);
        goto fail;
    }
    if (secret_line) {
        char derived[RZ_KEY_Z85_LEN + 1];
        if (zmq_curve_public(derived, out->secret_z85) != 0) {
            snprintf(err, err_len,
                     "%s:%zu: cannot derive the public key: "
                     "%s",
                     where, secret_line, zmq_strerror(zmq_errno()));
            goto fail;
        }
        if (strcmp(derived, out->public_z85) != 0) {
            snprintf(err, err_len,
                     "%s:%zu: public key does not belong to "
                     "the secret key on line %zu",
                     where, public_line, secret_line);
            goto fail;
        }
    }
    return 0;
fail:
    explicit_bzero(out, sizeof *out);
    return rc;
}

/* Read a whole (small) file. On success *text is malloc'd, NUL-ended.
 * When private_only, a file others may read is refused. */
static int s_read_file(const char *path, int private_only, char **text,
                       size_t *len, char *err, size_t err_len)
{
    int rc;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        goto fail;
    }
    rc = RZ_ECONFIG;
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        goto fail;
    }
    if (private_only && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(err, err_len,
                 "%s: secret key with mode %04o: group or "
                 "others may read it; run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto fail;
    }
    if (st.st_size > S_FILE_MAX) {
        snprintf(err, err_len, "%s: %lld bytes is too big for a key file", path,
                 (long long)st.st_size);
        goto fail;
    }
    buf = malloc(S_FILE_MAX + 1);
    if (!buf) {
        rc = RZ_ENOMEM;
        snprintf(err, err_len, "%s: out of memory", path);
        goto fail;
    }
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, buf + n, S_FILE_MAX + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > S_FILE_MAX) {
            snprintf(err, err_len, "%s: too big for a key file", path);
            goto fail;
        }
    }
    buf[n] = '\0';
    close(fd);
    *text = buf;
    *len = n;
    return 0;
fail:
    if (buf) {
        explicit_bzero(buf, S_FILE_MAX + 1);
        free(buf);
    }
    close(fd);
    return rc;
}

int rz_key_load_secret(const char *path, rz_keypair_t *out, char *err,
                       size_t err_len)
{
    char *text;
    size_t len;
    int rc = s_read_file(path, 1, &text, &len, err, err_len);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    rc = rz__key_parse(text, len, path, 1, out, err, err_len);
    explicit_bzero(text, len);
    free(text);
    return rc;
}

int rz_key_load_public(const char *path_or_z85, rz_keypair_t *out, char *err,
                       size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (rz_key_is_z85(path_or_z85)) {
        memcpy(out->public_z85, path_or_z85, RZ_KEY_Z85_LEN + 1);
        return 0;
    }
    char *text;
    size_t len;
    int rc = s_read_file(path_or_z85, 0, &text, &len, err, err_len);
    if (rc == -ENOENT && !strchr(path_or_z85, '/'))
        snprintf(err, err_len,
                 "%s: no such file, and not a key of %d Z85 "
                 "characters either",
                 path_or_z85, RZ_KEY_Z85_LEN);
    if (rc < 0)
        return rc;
    rc = rz__key_parse(text, len, path_or_z85, 0, out, err, err_len);
    explicit_bzero(text, len);
    free(text);
    /* a .key file works too, but only its public half leaves here */
    explicit_bzero(out->secret_z85, sizeof out->secret_z85);
    return rc;
}

/* ==========================================================================
 * Writing
 */

static int s_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write text to a new file path with exactly mode (umask aside), synced.
 * excl: refuse an existing file. */
static int s_write_file(const char *path, const char *text, mode_t mode,
                        int excl, char *err, size_t err_len)
{
    int flags =
        O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST)
            snprintf(err, err_len,
                     "%s: exists; a key is never overwritten "
                     "(choose another name or remove it)",
                     path);
        else
            snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = 0;
    if (fchmod(fd, mode) < 0 || s_write_all(fd, text, strlen(text)) < 0 ||
        fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        snprintf(err, err_len, "%s: %s", path, strerror(-rc));
    return rc;
}

/* The directory entries of the new files must survive a crash too. */
static void s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int rz_key_generate(const char *dir, const char *name, rz_keypair_t *out,
                    char *err, size_t err_len)
{
    char key_path[4096], pub_path[4096], text[512];
    rz_keypair_t kp;
    int rc;
    memset(&kp, 0, sizeof kp);
    if (!dir || !*dir)
        dir = ".";
    if (!rz__key_name_ok(name)) {
        snprintf(err, err_len, "'%s': a key name is 1-%d of A-Z a-z 0-9 . _ -",
                 name ? name : "", RZ_KEY_NAME_MAX);
        return RZ_EINVAL;
    }
    if ((size_t)snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name) >=
            sizeof key_path ||
        (size_t)snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name) >=
            sizeof pub_path) {
        snprintf(err, err_len, "%s: path too long", dir);
        return RZ_EINVAL;
    }
    if (zmq_curve_keypair(kp.public_z85, kp.secret_z85) != 0) {
        snprintf(err, err_len,
                 "cannot make a key pair: %s (libzmq without "
                 "CURVE?)",
                 zmq_strerror(zmq_errno()));
        return RZ_ECONFIG;
    }
    memcpy(kp.name, name, strlen(name) + 1);

    snprintf(text, sizeof text,
             "# ratusz secret key: keep it private\n"
             "name: %s\npublic: %s\nsecret: %s\n",
             kp.name, kp.public_z85, kp.secret_z85);
    rc = s_write_file(key_path, text, 0600, 1, err, err_len);
    explicit_bzero(text, sizeof text);
    if (rc < 0)
        goto fail;
    snprintf(text, sizeof text, "# ratusz public key\nname: %s\npublic: %s\n",
             kp.name, kp.public_z85);
    rc = s_write_file(pub_path, text, 0644, 0, err, err_len);
    if (rc < 0) {
        /* half a pair is no use, and would block the next try */
        unlink(key_path);
        goto fail;
    }
    s_sync_dir(dir);
    if (out)
        *out = kp;
fail:
    explicit_bzero(&kp, sizeof kp);
    return rc;
}
