/* access.c - who is asking, and may they: the one place access is decided
 *
 * The principals file (docs/SECURITY.md, deploy/principals.example.yaml)
 * is read with the option engine: "principals" is a SECTIONS option, and
 * each principal's section is applied to s_principal_opts below, so that
 * every message names FILE:LINE. Then everything the engine cannot know is
 * checked (names, keys, tenants, actions) and the grants are built into one
 * immutable snapshot, swapped in whole.
 *
 * Threads. The front thread loads and decides; the ZAP thread only calls
 * rz_access_key. s_grants is written by the front thread under s_lock and
 * read by the ZAP thread under s_lock, so the old snapshot is freed only
 * after the swap, when no ZAP lookup can still hold it. The decisions run
 * on the front thread, the only writer, and read s_grants without the lock.
 */
#include "access.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/conf.h"
#include "ratusz/errors.h"
#include "ratusz/wire.h"
#include "ratusz/ratusz.h"
#include "ratusz/v1/api.pb-c.h"

#define S_KEY_Z85_LEN 40

/* ===========================================================================
 * The file's shape
 */

typedef struct s_file {
    rz_conf_sections_t principals;
} s_file_t;

static const rz_conf_option_t s_file_opts[] = {
    {"principals", RZ_CONF_SECTIONS, offsetof(s_file_t, principals), "", NULL,
     0, 0, "NAME", "who may do what: one section per principal"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

typedef struct s_principal_conf {
    char *key;
    char *key_file;
    rz_conf_list_t publish_sources;
    rz_conf_list_t publish_tenants;
    rz_conf_list_t read;
    rz_conf_list_t groups;
    rz_conf_list_t admin;
    int personal_data;
    char *console_password;
} s_principal_conf_t;

static const rz_conf_option_t s_principal_opts[] = {
    {"key", RZ_CONF_STRING, offsetof(s_principal_conf_t, key), "", NULL, 0, 0,
     "Z85", "CURVE public key, 40 Z85 characters"},
    {"key_file", RZ_CONF_STRING, offsetof(s_principal_conf_t, key_file), "",
     NULL, 0, 0, "FILE", ".pub file, relative to the principals file"},
    {"publish_sources", RZ_CONF_LIST,
     offsetof(s_principal_conf_t, publish_sources), "", NULL, 0, 0, "PATTERN",
     "sources it may publish ('*' matches any run)"},
    {"publish_tenants", RZ_CONF_LIST,
     offsetof(s_principal_conf_t, publish_tenants), "", NULL, 0, 0, "TERC",
     "tenants it may publish for ('*' any)"},
    {"read", RZ_CONF_LIST, offsetof(s_principal_conf_t, read), "", NULL, 0, 0,
     "PREFIX", "topic prefixes it may read (\"\" everything)"},
    {"groups", RZ_CONF_LIST, offsetof(s_principal_conf_t, groups), "", NULL, 0,
     0, "PATTERN", "consumer groups it owns ('*' matches any run)"},
    {"admin", RZ_CONF_LIST, offsetof(s_principal_conf_t, admin), "", NULL, 0, 0,
     "ACTION", "admin actions it may use"},
    {"personal_data", RZ_CONF_BOOL, offsetof(s_principal_conf_t, personal_data),
     "false", NULL, 0, 0, "BOOL", "may see personal data unredacted"},
    {"console_password", RZ_CONF_STRING,
     offsetof(s_principal_conf_t, console_password), "", NULL, 0, 0, "HASH",
     "web console login: an Argon2id hash from `ratusz passwd`"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

/* The list options: an empty scalar for one of them ("read:") is refused,
 * as it would otherwise read as [""], everything. */
static const char *const s_list_keys[] = {
    "publish_sources", "publish_tenants", "read", "groups", "admin", NULL};

static const char *const s_actions[] = {
    "stats", "consumers", "report", "reload", "audit", "verify", "backup",
    NULL};

/* ===========================================================================
 * The grants: an immutable snapshot
 */

typedef struct s_principal {
    char *name;
    uint8_t key[32];
    bool has_key; /* false: a console login only, never a CURVE client */
    s_principal_conf_t c; /* as written, for messages and Whoami */
    /* read prefixes without those inside another one: a subscription to
     * each never delivers an event twice */
    const char **reads;
    size_t *read_lens;
    size_t nreads;
    bool read_all;   /* read: [""] */
    bool any_tenant; /* publish_tenants: ["*"] */
    unsigned admin;  /* bit i: s_actions[i] */
} s_principal_t;

typedef struct rz_access_grants {
    size_t n;
    s_principal_t *p;
} s_grants_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_grants_t *s_grants; /* NULL: security off */
/* the front thread's last lookup: the decisions of one request and the
 * per-event checks of a replay all ask about the same principal */
static const s_principal_t *s_last;

static void s_grants_destroy(s_grants_t **gp)
{
    s_grants_t *g = *gp;
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->p[i].name);
        free(g->p[i].reads);
        free(g->p[i].read_lens);
        rz_conf_close(s_principal_opts, &g->p[i].c);
    }
    free(g->p);
    free(g);
    *gp = NULL;
}

/* Publish new grants (NULL: security off) and free the old ones. */
static void s_swap(s_grants_t *g)
{
    pthread_mutex_lock(&s_lock);
    s_grants_t *old = s_grants;
    s_grants = g;
    s_last = NULL;
    pthread_mutex_unlock(&s_lock);
    s_grants_destroy(&old);
}

static const s_principal_t *s_find(const char *name)
{
    const s_grants_t *g = s_grants;
    if (!g || !name)
        return NULL;
    if (s_last && strcmp(s_last->name, name) == 0)
        return s_last;
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->p[i].name, name) == 0) {
            s_last = &g->p[i];
            return s_last;
        }
    }
    return NULL;
}

/* ===========================================================================
 * Matching
 */

/* '*' matches any run of characters, '/' and '.' included; every other
 * character itself. Backtracks only to the last star: linear enough. */
static bool s_glob(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool s_glob_any(const rz_conf_list_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (s_glob(l->items[i], s))
            return true;
    return false;
}

static bool s_has(const rz_conf_list_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* "a, b, c" (or "none") for a reason. */
static void s_list_text(const rz_conf_list_t *l, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    if (l->n == 0)
        snprintf(buf, len, "none");
    for (size_t i = 0; i < l->n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s%s", i ? ", " : "",
                         l->items[i][0] ? l->items[i] : "\"\"");
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

static int s_deny(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_deny(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return RZ_EDENIED;
}

static void s_allow(char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
}

/* ===========================================================================
 * Loading
 */

typedef struct s_load {
    const char *file; /* for messages */
    char dir[4096];   /* key files are relative to it ("" = cwd) */
    char *err;
    size_t err_len;
} s_load_t;

static int s_fail(s_load_t *l, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(s_load_t *l, uint32_t line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->err && l->err_len)
        snprintf(l->err, l->err_len, "%s:%u: %s", l->file, line ? line : 1,
                 msg);
    return RZ_ECONFIG;
}

static bool s_name_ok(const char *name)
{
    for (const char *c = name; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' ||
                  *c == '@' || *c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool s_tenant_ok(const char *t)
{
    size_t n = strlen(t);
    if (strcmp(t, "*") == 0)
        return true;
    if (n != 2 && n != 4 && n != 7)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return false;
    return true;
}

/* 40 Z85 characters to 32 bytes; a short reason on failure. */
static const char *s_z85(const char *text, uint8_t key[32])
{
    if (strlen(text) != S_KEY_Z85_LEN)
        return "is not 40 Z85 characters";
    if (!zmq_z85_decode(key, text))
        return "is not valid Z85";
    return NULL;
}

/* A .pub file: "# comment" and blank lines, "name: NAME", "public: Z85".
 * A file holding "secret:" is refused: the broker has no business with a
 * client's secret key, and a copy of it here is a leak. */
static int s_read_pub(s_load_t *l, uint32_t line, const char *who,
                      const char *rel, uint8_t key[32])
{
    char path[4096 + 256], buf[512];
    int rc = RZ_ECONFIG;
    bool have = false;
    unsigned n = 0;
    if (rel[0] != '/' && l->dir[0])
        snprintf(path, sizeof path, "%s/%s", l->dir, rel);
    else
        snprintf(path, sizeof path, "%s", rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return s_fail(l, line, "principal '%s': key_file '%s': cannot open: %s",
                      who, path, strerror(errno));
    while (fgets(buf, sizeof buf, f)) {
        n++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            s_fail(l, line, "principal '%s': key_file '%s' line %u: too long",
                   who, path, n);
            goto out;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            buf[--len] = '\0';
        char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *colon = strchr(p, ':');
        if (!colon) {
            s_fail(l, line,
                   "principal '%s': key_file '%s' line %u: not "
                   "'key: value'",
                   who, path, n);
            goto out;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcmp(p, "secret") == 0) {
            s_fail(l, line,
                   "principal '%s': key_file '%s' holds a secret "
                   "key: give the .pub file",
                   who, path);
            goto out;
        }
        if (strcmp(p, "public") == 0) {
            const char *bad = have ? NULL : s_z85(v, key);
            if (have || bad) {
                s_fail(l, line, "principal '%s': key_file '%s' line %u: %s%s",
                       who, path, n,
                       have ? "a second public key" : "public key ",
                       have ? "" : bad);
                goto out;
            }
            have = true;
        } else if (strcmp(p, "name") != 0) {
            s_fail(l, line,
                   "principal '%s': key_file '%s' line %u: unknown "
                   "key '%s'",
                   who, path, n, p);
            goto out;
        }
    }
    if (ferror(f)) {
        s_fail(l, line, "principal '%s': key_file '%s': cannot read: %s", who,
               path, strerror(errno));
        goto out;
    }
    if (!have) {
        s_fail(l, line, "principal '%s': key_file '%s' has no 'public:' line",
               who, path);
        goto out;
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

/* Everything the option engine cannot know about one principal. */
static int s_check(s_load_t *l, s_principal_t *p, const rz_conf_section_t *sec)
{
    const s_principal_conf_t *c = &p->c;
    const char *who = p->name;
    const rz_conf_map_t *m = &sec->map;
    rz_conf_list_t *const *lists = sec->lists;
    uint32_t line = sec->line;
    uint32_t at;

    for (int i = 0; s_list_keys[i]; i++) {
        for (size_t j = 0; j < m->n; j++) {
            if (strcmp(m->keys[j], s_list_keys[i]) == 0 &&
                !(lists && lists[j]) && m->values[j][0] == '\0')
                return s_fail(l, m->lines[j],
                              "principal '%s': %s is empty: "
                              "write [] for nothing, [\"\"] for everything",
                              who, s_list_keys[i]);
        }
    }

    bool has_key = c->key[0] != '\0', has_file = c->key_file[0] != '\0';
    bool has_pw = c->console_password[0] != '\0';
    if (has_key && has_file)
        return s_fail(l, rz_conf_map_line(m, "key_file"),
                      "principal '%s': give key or key_file, not both", who);
    if (has_pw && strncmp(c->console_password, "$argon2id$", 10) != 0)
        return s_fail(l, rz_conf_map_line(m, "console_password"),
                      "principal '%s': console_password is not an Argon2id "
                      "hash (make one with `ratusz passwd`)",
                      who);
    if (!has_key && !has_file && !has_pw)
        return s_fail(l, line,
                      "principal '%s': no key (give key or key_file, or "
                      "console_password for a web console login only)",
                      who);
    p->has_key = has_key || has_file;
    if (!p->has_key) {
        /* a console login only: no CURVE key can name it */
    } else if (has_key) {
        const char *bad = s_z85(c->key, p->key);
        if (bad)
            return s_fail(l, rz_conf_map_line(m, "key"),
                          "principal '%s': key %s", who, bad);
    } else {
        int rc = s_read_pub(l, rz_conf_map_line(m, "key_file"), who,
                            c->key_file, p->key);
        if (rc)
            return rc;
    }

    at = rz_conf_map_line(m, "publish_sources");
    for (size_t i = 0; i < c->publish_sources.n; i++)
        if (c->publish_sources.items[i][0] == '\0')
            return s_fail(l, at,
                          "principal '%s': publish_sources: an empty "
                          "pattern",
                          who);
    at = rz_conf_map_line(m, "publish_tenants");
    for (size_t i = 0; i < c->publish_tenants.n; i++) {
        const char *t = c->publish_tenants.items[i];
        if (!s_tenant_ok(t))
            return s_fail(l, at,
                          "principal '%s': publish_tenants: '%s' is "
                          "not a TERC code (2, 4 or 7 digits) or '*'",
                          who, t);
        if (strcmp(t, "*") == 0)
            p->any_tenant = true;
    }
    /* one without the other can never publish: surely a mistake */
    if (!c->publish_sources.n != !c->publish_tenants.n)
        return s_fail(
            l,
            c->publish_sources.n ? rz_conf_map_line(m, "publish_sources") : at,
            "principal '%s': publish_sources and publish_tenants "
            "go together (one without the other allows nothing)",
            who);
    at = rz_conf_map_line(m, "groups");
    for (size_t i = 0; i < c->groups.n; i++)
        if (c->groups.items[i][0] == '\0')
            return s_fail(l, at, "principal '%s': groups: an empty pattern",
                          who);
    at = rz_conf_map_line(m, "admin");
    for (size_t i = 0; i < c->admin.n; i++) {
        int k = 0;
        while (s_actions[k] && strcmp(s_actions[k], c->admin.items[i]))
            k++;
        if (!s_actions[k])
            return s_fail(l, at,
                          "principal '%s': admin: unknown action '%s' "
                          "(want stats, consumers, report, reload, audit, "
                          "verify or backup)",
                          who, c->admin.items[i]);
        p->admin |= 1u << k;
    }

    /* the read prefixes that no other one contains */
    p->reads = calloc(c->read.n + 1, sizeof *p->reads);
    p->read_lens = calloc(c->read.n + 1, sizeof *p->read_lens);
    if (!p->reads || !p->read_lens)
        return RZ_ENOMEM;
    for (size_t i = 0; i < c->read.n; i++) {
        const char *r = c->read.items[i];
        size_t rl = strlen(r);
        bool inside = false;
        for (size_t j = 0; j < c->read.n && !inside; j++) {
            const char *o = c->read.items[j];
            size_t ol = strlen(o);
            /* strictly inside another, or a repeat of an earlier one */
            inside = j != i && ol <= rl && memcmp(o, r, ol) == 0 &&
                     (ol < rl || j < i);
        }
        if (!inside) {
            p->reads[p->nreads] = r;
            p->read_lens[p->nreads++] = rl;
        }
        if (rl == 0)
            p->read_all = true;
    }
    return 0;
}

/* Build the grants of a parsed file, every check passed, or fail. */
static int s_build(s_load_t *l, s_file_t *file, s_grants_t **out)
{
    const rz_conf_sections_t *sec = &file->principals;
    int rc;
    if (sec->n == 0)
        return s_fail(l, 1,
                      "no principals (a 'principals:' mapping of name: "
                      "grants is needed)");
    s_grants_t *g = calloc(1, sizeof *g);
    if (!g || !(g->p = calloc(sec->n, sizeof *g->p))) {
        free(g);
        return RZ_ENOMEM;
    }
    for (size_t i = 0; i < sec->n; i++) {
        const char *name = sec->s[i].name;
        uint32_t line = sec->s[i].line;
        s_principal_t *p = &g->p[i];
        if ((rc = rz_conf_init(s_principal_opts, &p->c)) != 0)
            goto fail;
        g->n = i + 1; /* from here on p is freed with g */
        if (!(p->name = strdup(name))) {
            rc = RZ_ENOMEM;
            goto fail;
        }
        if (name[0] == '\0') {
            rc = s_fail(l, line, "a principal with an empty name");
            goto fail;
        }
        if (!s_name_ok(name)) {
            rc = s_fail(l, line,
                        "principal '%s': a name may only hold "
                        "A-Z a-z 0-9 . _ @ -",
                        name);
            goto fail;
        }
        if (strlen(name) >= RZ_PRINCIPAL_MAX) {
            rc = s_fail(l, line,
                        "principal '%.40s...': a name is at most %d "
                        "characters",
                        name, RZ_PRINCIPAL_MAX - 1);
            goto fail;
        }
        if (strcmp(name, "anonymous") == 0) {
            rc = s_fail(l, line,
                        "principal 'anonymous': the name is reserved "
                        "for clients without CURVE");
            goto fail;
        }
        char section[RZ_PRINCIPAL_MAX + 16];
        snprintf(section, sizeof section, "principals.%s", name);
        rc = rz_conf_apply_section(s_principal_opts, &p->c, &sec->s[i], l->file,
                                   section, l->err, l->err_len);
        if (rc)
            goto fail;
        if ((rc = s_check(l, p, &sec->s[i])) != 0)
            goto fail;
        for (size_t j = 0; j < i && p->has_key; j++) {
            if (g->p[j].has_key &&
                memcmp(g->p[j].key, p->key, sizeof p->key) == 0) {
                rc = s_fail(l, line,
                            "principal '%s': same key as principal "
                            "'%s' (line %u)",
                            name, g->p[j].name, sec->s[j].line);
                goto fail;
            }
        }
    }
    *out = g;
    return (int)g->n;
fail:
    s_grants_destroy(&g);
    return rc;
}

/* Build the grants of a parsed file into *out. */
static int s_build_checked(s_load_t *l, s_file_t *file, s_grants_t **out)
{
    *out = NULL;
    int rc = s_build(l, file, out);
    if (rc == RZ_ENOMEM && l->err && l->err_len)
        snprintf(l->err, l->err_len, "%s: out of memory", l->file);
    if (rc < 0)
        return rc == RZ_ENOMEM ? rc : RZ_ECONFIG;
    return rc;
}

static int s_load_parsed(s_load_t *l, s_file_t *file)
{
    s_grants_t *g = NULL;
    int rc = s_build_checked(l, file, &g);
    if (rc >= 0)
        s_swap(g);
    return rc;
}

static void s_load_init(s_load_t *l, const char *file, char *err,
                        size_t err_len)
{
    l->file = file && *file ? file : "<principals>";
    l->err = err;
    l->err_len = err_len;
    const char *slash = strrchr(l->file, '/');
    if (slash && (size_t)(slash - l->file) < sizeof l->dir)
        snprintf(l->dir, sizeof l->dir, "%.*s",
                 slash == l->file ? 1 : (int)(slash - l->file), l->file);
    else
        l->dir[0] = '\0';
}

int rz_access_load(const char *path, char *err, size_t err_len)
{
    rz_access_grants_t *g = NULL;
    int rc = rz_access_parse(path, &g, err, err_len);
    if (rc >= 0)
        s_swap(g); /* none for an empty path */
    return rc;
}

int rz_access_parse(const char *path, rz_access_grants_t **out, char *err,
                    size_t err_len)
{
    *out = NULL;
    if (!path || !*path)
        return 0;
    s_file_t file;
    s_load_t l;
    s_load_init(&l, path, err, err_len);
    if (rz_conf_init(s_file_opts, &file) != 0)
        return RZ_ENOMEM;
    int rc = rz_conf_load_file(s_file_opts, &file, path, err, err_len);
    if (rc == 0)
        rc = s_build_checked(&l, &file, out);
    rz_conf_close(s_file_opts, &file);
    return rc;
}

void rz_access_install(rz_access_grants_t **grants)
{
    s_swap(*grants);
    *grants = NULL;
}

void rz_access_grants_destroy(rz_access_grants_t **grants)
{
    s_grants_destroy(grants);
}

int rz_access_load_string(const char *yaml, size_t len, const char *name,
                          char *err, size_t err_len)
{
    s_file_t file;
    s_load_t l;
    s_load_init(&l, name, err, err_len);
    if (rz_conf_init(s_file_opts, &file) != 0)
        return RZ_ENOMEM;
    int rc = rz_conf_load_string(s_file_opts, &file, yaml, len, l.file, err,
                                 err_len);
    if (rc == 0)
        rc = s_load_parsed(&l, &file);
    rz_conf_close(s_file_opts, &file);
    return rc;
}

void rz_access_shutdown(void)
{
    s_swap(NULL);
}

int rz_access_enabled(void)
{
    pthread_mutex_lock(&s_lock);
    int on = s_grants != NULL;
    pthread_mutex_unlock(&s_lock);
    return on;
}

/* ===========================================================================
 * Identity
 */

int rz_access_key(const uint8_t key[32], char *name, size_t name_len)
{
    int rc = RZ_EDENIED;
    if (name && name_len)
        name[0] = '\0';
    pthread_mutex_lock(&s_lock);
    const s_grants_t *g = s_grants;
    for (size_t i = 0; g && i < g->n; i++) {
        if (g->p[i].has_key && memcmp(g->p[i].key, key, 32) == 0) {
            if (name && name_len)
                snprintf(name, name_len, "%s", g->p[i].name);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void rz_access_principal(zmq_msg_t *msg, char *out, size_t len)
{
    const char *user = zmq_msg_gets(msg, "User-Id");
    snprintf(out, len, "%s", user && *user ? user : "anonymous");
}

/* ===========================================================================
 * Decisions
 */

/* The first step of every decision: 1 when security is off (allowed), 0
 * with *p set, or RZ_EDENIED for a principal not in the file. */
static int s_who(const char *principal, const s_principal_t **p, char *why,
                 size_t why_len)
{
    if (!s_grants) {
        s_allow(why, why_len);
        return 1;
    }
    *p = s_find(principal);
    if (!*p)
        return s_deny(why, why_len,
                      "principal '%s' is not in the principals file",
                      principal ? principal : "");
    return 0;
}

int rz_access_publish(const char *principal, const char *source,
                      const char *tenant, const char *domain, char *why,
                      size_t why_len)
{
    char grants[256];
    (void)domain; /* the source patterns say which domains */
    const s_principal_t *p = NULL;
    int who = s_who(principal, &p, why, why_len);
    if (who)
        return who < 0 ? who : 0;
    source = source ? source : "";
    tenant = tenant ? tenant : "";
    if (!s_glob_any(&p->c.publish_sources, source)) {
        s_list_text(&p->c.publish_sources, grants, sizeof grants);
        return s_deny(why, why_len,
                      "principal '%s' may not publish source "
                      "'%s' (grants: %s)",
                      p->name, source, grants);
    }
    if (!p->any_tenant && !s_has(&p->c.publish_tenants, tenant)) {
        s_list_text(&p->c.publish_tenants, grants, sizeof grants);
        return s_deny(why, why_len,
                      "principal '%s' may not publish for "
                      "tenant '%s' (grants: %s)",
                      p->name, tenant, grants);
    }
    s_allow(why, why_len);
    return 0;
}

int rz_access_admin(const char *principal, const char *action, char *why,
                    size_t why_len)
{
    char grants[256];
    const s_principal_t *p = NULL;
    int who = s_who(principal, &p, why, why_len);
    if (who)
        return who < 0 ? who : 0;
    action = action ? action : "";
    for (int k = 0; s_actions[k]; k++) {
        if (strcmp(s_actions[k], action) == 0 && (p->admin & (1u << k))) {
            s_allow(why, why_len);
            return 0;
        }
    }
    s_list_text(&p->c.admin, grants, sizeof grants);
    return s_deny(why, why_len,
                  "principal '%s' may not use admin action '%s' "
                  "(grants: %s)",
                  p->name, action, grants);
}

int rz_access_group(const char *principal, const char *group, char *why,
                    size_t why_len)
{
    char grants[256];
    const s_principal_t *p = NULL;
    int who = s_who(principal, &p, why, why_len);
    if (who)
        return who < 0 ? who : 0;
    group = group ? group : "";
    if (s_glob_any(&p->c.groups, group)) {
        s_allow(why, why_len);
        return 0;
    }
    s_list_text(&p->c.groups, grants, sizeof grants);
    return s_deny(why, why_len,
                  "principal '%s' may not use consumer group "
                  "'%s' (grants: %s)",
                  p->name, group, grants);
}

int rz_access_personal(const char *principal)
{
    if (!s_grants)
        return 1;
    const s_principal_t *p = s_find(principal);
    return p && p->c.personal_data;
}

int rz_access_read_prefix(const char *principal, const char *prefix, char *why,
                          size_t why_len)
{
    char grants[256];
    const s_principal_t *p = NULL;
    int who = s_who(principal, &p, why, why_len);
    if (who)
        return who < 0 ? who : RZ_READ_ALL;
    prefix = prefix ? prefix : "";
    size_t n = strlen(prefix);
    bool some = false;
    for (size_t i = 0; i < p->nreads; i++) {
        size_t gl = p->read_lens[i];
        if (gl <= n && memcmp(p->reads[i], prefix, gl) == 0) {
            s_allow(why, why_len);
            return RZ_READ_ALL; /* the prefix lies inside this grant */
        }
        if (gl > n && memcmp(p->reads[i], prefix, n) == 0)
            some = true; /* this grant lies under the prefix */
    }
    if (some) {
        s_allow(why, why_len);
        return RZ_READ_SOME;
    }
    s_list_text(&p->c.read, grants, sizeof grants);
    return s_deny(why, why_len, "principal '%s' may not read '%s' (grants: %s)",
                  p->name, prefix, grants);
}

/* Per event in replays and fetches: no allocation, and a principal that
 * reads everything answers at once. */
int rz_access_topic(const char *principal, const char *topic, size_t len)
{
    if (!s_grants)
        return 1;
    const s_principal_t *p = s_find(principal);
    if (!p)
        return 0;
    if (p->read_all)
        return 1;
    for (size_t i = 0; i < p->nreads; i++) {
        size_t gl = p->read_lens[i];
        if (gl <= len && memcmp(p->reads[i], topic, gl) == 0)
            return 1;
    }
    return 0;
}

int rz_access_subscribe(const char *principal, const char *prefix, size_t len,
                        void (*add)(const char *p, size_t n, void *user),
                        void *user)
{
    if (!s_grants) {
        add(prefix, len, user);
        return 1;
    }
    const s_principal_t *p = s_find(principal);
    if (!p)
        return 0;
    for (size_t i = 0; i < p->nreads; i++) {
        size_t gl = p->read_lens[i];
        if (gl <= len && memcmp(p->reads[i], prefix, gl) == 0) {
            add(prefix, len, user); /* inside a grant: as asked */
            return 1;
        }
    }
    /* wider than the grants: the granted prefixes under it (none of them
     * inside another, so no event comes twice) */
    int added = 0;
    for (size_t i = 0; i < p->nreads; i++) {
        if (p->read_lens[i] > len && memcmp(p->reads[i], prefix, len) == 0) {
            add(p->reads[i], p->read_lens[i], user);
            added++;
        }
    }
    return added;
}

void rz_access_whoami(const char *principal, struct Ratusz__V1__Whoami *out)
{
    /* security off: everything, said in the grants' own words */
    static char *any[] = {(char *)"*"};
    static char *all[] = {(char *)""};
    static char *actions[] = {(char *)"stats",  (char *)"consumers",
                              (char *)"report", (char *)"reload",
                              (char *)"audit",  (char *)"verify",
                              (char *)"backup"};
    ratusz__v1__whoami__init(out);
    out->principal = (char *)(principal ? principal : "");
    if (!s_grants) {
        out->personal_data = 1;
        out->n_publish_sources = out->n_publish_tenants = out->n_groups = 1;
        out->publish_sources = out->publish_tenants = out->groups = any;
        out->n_read = 1;
        out->read = all;
        out->n_admin = sizeof actions / sizeof actions[0];
        out->admin = actions;
        return;
    }
    out->security = 1;
    const s_principal_t *p = s_find(principal);
    if (!p)
        return;
    out->personal_data = p->c.personal_data ? 1 : 0;
    out->n_publish_sources = p->c.publish_sources.n;
    out->publish_sources = p->c.publish_sources.items;
    out->n_publish_tenants = p->c.publish_tenants.n;
    out->publish_tenants = p->c.publish_tenants.items;
    out->n_read = p->c.read.n;
    out->read = p->c.read.items;
    out->n_groups = p->c.groups.n;
    out->groups = p->c.groups.items;
    out->n_admin = p->c.admin.n;
    out->admin = p->c.admin.items;
}

/* ===========================================================================
 * The topic of stored event bytes
 *
 * A stored event is the producer's Event bytes with the broker's stamp
 * appended (seq = 20, ingest_time = 21, principal = 22); protobuf lets a
 * field repeat, the last value winning, so the scan keeps the last tenant
 * (5) and type (3) and skips everything else by its wire type:
 *
 *   tag varint (field << 3 | wire type), then by wire type
 *     0 varint   1 8 bytes   2 varint length + bytes   5 4 bytes
 *
 * Groups (3, 4) are refused, as protobuf-c refuses them.
 */

int rz_access_event_topic(const uint8_t *ev, size_t len, char *buf,
                          size_t buf_len)
{
    static const char prefix[] = RZ_TYPE_PREFIX;
    const size_t plen = sizeof prefix - 1;
    const uint8_t *tenant = NULL, *type = NULL;
    size_t tl = 0, yl = 0;

    if (buf_len)
        buf[0] = '\0';
    if (!ev)
        return RZ_EDECODE;
    rz_wire_t w;
    rz_wire_field_t f;
    int rc;
    rz_wire_init(&w, ev, len);
    while ((rc = rz_wire_next(&w, &f)) == 1) {
        if (f.number != 3 && f.number != 5)
            continue;
        if (f.type != 2)
            return RZ_EDECODE;
        if (f.number == 3) {
            type = f.data;
            yl = f.len;
        } else {
            tenant = f.data;
            tl = f.len;
        }
    }
    if (rc < 0)
        return RZ_EDECODE;
    /* a decoded string ends at its first NUL, as rz_event_topic sees it */
    const uint8_t *nul;
    if (tenant && (nul = memchr(tenant, 0, tl)))
        tl = (size_t)(nul - tenant);
    if (type && (nul = memchr(type, 0, yl)))
        yl = (size_t)(nul - type);
    if (!tenant || !type || tl == 0 || yl == 0)
        return RZ_EDECODE;
    if (yl >= plen && memcmp(type, prefix, plen) == 0) {
        type += plen;
        yl -= plen;
    }
    size_t n = tl + 1 + yl;
    if (n >= buf_len || n > RZ_TOPIC_MAX)
        return RZ_EINVAL;
    memcpy(buf, tenant, tl);
    buf[tl] = '.';
    memcpy(buf + tl + 1, type, yl);
    buf[n] = '\0';
    return (int)n;
}

/* ===========================================================================
 * The web console (console.c): its own thread, so every answer is a copy
 * made under the lock, never a pointer into grants a reload may free
 */

int rz_access_console_hash(const char *principal, char *hash, size_t len)
{
    int rc = RZ_EDENIED;
    if (len)
        hash[0] = '\0';
    pthread_mutex_lock(&s_lock);
    const s_grants_t *g = s_grants;
    for (size_t i = 0; g && principal && i < g->n; i++) {
        const s_principal_t *p = &g->p[i];
        if (strcmp(p->name, principal) == 0) {
            if (p->c.console_password[0] &&
                strlen(p->c.console_password) < len) {
                snprintf(hash, len, "%s", p->c.console_password);
                rc = 0;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void rz_access_view_free(rz_access_view_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nreads; i++)
        free(v->reads[i]);
    free(v->reads);
    memset(v, 0, sizeof *v);
}

int rz_access_view(const char *principal, rz_access_view_t *v)
{
    int rc = RZ_EDENIED;
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&s_lock);
    const s_grants_t *g = s_grants;
    for (size_t i = 0; g && principal && i < g->n; i++) {
        const s_principal_t *p = &g->p[i];
        if (strcmp(p->name, principal) != 0)
            continue;
        /* a login whose console_password was removed is logged out */
        if (!p->c.console_password[0])
            break;
        rc = 0;
        v->personal = p->c.personal_data ? 1 : 0;
        v->read_all = p->read_all;
        v->stats = (p->admin & 1u) != 0; /* s_actions[0]: "stats" */
        v->reads = calloc(p->nreads + 1, sizeof *v->reads);
        if (!v->reads) {
            rc = RZ_ENOMEM;
            break;
        }
        for (size_t j = 0; j < p->nreads; j++) {
            if (!(v->reads[j] = strdup(p->reads[j]))) {
                rc = RZ_ENOMEM;
                break;
            }
            v->nreads = j + 1;
        }
        break;
    }
    pthread_mutex_unlock(&s_lock);
    if (rc < 0)
        rz_access_view_free(v);
    return rc;
}

int rz_access_view_topic(const rz_access_view_t *v, const char *topic,
                         size_t len)
{
    if (v->read_all)
        return 1;
    for (size_t i = 0; i < v->nreads; i++) {
        size_t rl = strlen(v->reads[i]);
        if (rl <= len && memcmp(v->reads[i], topic, rl) == 0)
            return 1;
    }
    return 0;
}

int rz_access_view_prefix(const rz_access_view_t *v, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (v->read_all || rz_access_view_topic(v, prefix, pl))
        return RZ_READ_ALL;
    for (size_t i = 0; i < v->nreads; i++)
        if (strncmp(v->reads[i], prefix, pl) == 0)
            return RZ_READ_SOME;
    return RZ_EDENIED;
}
