/* config.c - ratuszd configuration: one option table drives defaults, the
 * YAML loader, flags, --help and --print-config */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "ratusz/errors.h"
#include "store.h" /* enum rz_sync_mode only */

/* The sync choices below are indexed by the enum value. */
_Static_assert(RZ_SYNC_FULL == 0 && RZ_SYNC_OS == 1, "s_sync_names order");

/* ===========================================================================
 * The option table
 */

enum s_type {
    S_STRING, /* char *, malloc'd */
    S_SIZE,   /* uint64_t, bytes, K/M/G/T suffixes */
    S_UINT,   /* uint64_t */
    S_ENUM    /* int, index into choices */
};

struct s_option {
    const char *name; /* YAML key; the flag is --name with '-' for '_' */
    enum s_type type;
    size_t offset;              /* into rz_config_t */
    const char *def;            /* default, as text: parsed like any value */
    const char *const *choices; /* S_ENUM: the names; S_STRING: allowed
                                   values (NULL = any) */
    uint64_t min, max;          /* S_SIZE, S_UINT: inclusive bounds */
    const char *arg;            /* metavariable in --help */
    const char *desc;           /* one line, for --help and --print-config */
};

static const char *const s_sync_names[] = {"full", "os", NULL};
static const char *const s_log_levels[] = {"error", "warn", "info", "debug",
                                           NULL};

#define S_OFF(field) offsetof(rz_config_t, field)
#define S_KIB UINT64_C(1024)
#define S_U32 UINT64_C(4294967295)

static const struct s_option s_options[] = {
    {"data_dir", S_STRING, S_OFF(data_dir), "./var/ratusz", NULL, 0, 0, "DIR",
     "directory of the LMDB event store, created if missing"},
    {"listen", S_STRING, S_OFF(listen), "tcp://127.0.0.1:7600", NULL, 0, 0,
     "ENDPOINT", "ZeroMQ endpoint of the request socket (ROUTER)"},
    {"stream", S_STRING, S_OFF(stream), "tcp://127.0.0.1:7601", NULL, 0, 0,
     "ENDPOINT", "ZeroMQ endpoint of the live event stream (XPUB)"},
    {"metrics", S_STRING, S_OFF(metrics), "127.0.0.1:7602", NULL, 0, 0,
     "HOST:PORT", "HTTP address of /metrics and /healthz; \"off\" for none"},
    {"sync", S_ENUM, S_OFF(sync), "full", s_sync_names, 0, 0, "full|os",
     "full: fsync every commit, acks survive power loss; os: the OS flushes"},
    {"map_size", S_SIZE, S_OFF(map_size), "256M", NULL, 64 * S_KIB, UINT64_MAX,
     "SIZE", "initial size of the LMDB map"},
    {"map_max", S_SIZE, S_OFF(map_max), "64G", NULL, 64 * S_KIB, UINT64_MAX,
     "SIZE",
     "largest the LMDB map may grow to; then publishes get "
     "RZ_ESTOREFULL"},
    {"max_message", S_SIZE, S_OFF(max_message), "4M", NULL, S_KIB, UINT32_MAX,
     "SIZE", "largest request body accepted"},
    {"max_batch", S_UINT, S_OFF(max_batch), "10000", NULL, 1, S_U32, "N",
     "most events in one batch publish (PUBB)"},
    {"max_inflight", S_UINT, S_OFF(max_inflight), "200000", NULL, 1, S_U32, "N",
     "events queued for the writer before requests wait in the socket"},
    {"commit_max", S_UINT, S_OFF(commit_max), "8192", NULL, 1, S_U32, "N",
     "most events written in one LMDB transaction"},
    {"query_limit", S_UINT, S_OFF(query_limit), "1000", NULL, 1, S_U32, "N",
     "events per QUERY page when the request sets no limit"},
    {"replay_chunk", S_UINT, S_OFF(replay_chunk), "1000", NULL, 1, S_U32, "N",
     "events per REPLAY reply"},
    /* ZMQ_SNDHWM is an int */
    {"stream_hwm", S_UINT, S_OFF(stream_hwm), "100000", NULL, 1, INT_MAX, "N",
     "messages queued per live subscriber before ZeroMQ drops them"},
    {"log_level", S_STRING, S_OFF(log_level), "info", s_log_levels, 0, 0,
     "LEVEL", "error, warn, info or debug"},
};

#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

/* ===========================================================================
 * Helpers
 */

static void s_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static void *s_field(rz_config_t *cfg, const struct s_option *o)
{
    return (char *)cfg + o->offset;
}

static const void *s_cfield(const rz_config_t *cfg, const struct s_option *o)
{
    return (const char *)cfg + o->offset;
}

/* Both spellings name an option: data_dir as in YAML, data-dir as a flag. */
static const struct s_option *s_find(const char *name)
{
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const char *a = s_options[i].name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return &s_options[i];
    }
    return NULL;
}

static int s_choice(const char *const *choices, const char *value)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], value) == 0)
            return i;
    return -1;
}

/* "a, b or c" for messages. */
static void s_choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && n < len; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
        int w = snprintf(buf + n, len - n, "%s%s", sep, choices[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* The shortest exact text of a size: 268435456 -> "256M". Round-trips
 * through rz_config_parse_size. */
static void s_size_text(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        unsigned shift = 10u * (unsigned)(4 - i);
        uint64_t unit = UINT64_C(1) << shift;
        if (v != 0 && v % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", v / unit, units[i]);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, v);
}

static void s_value_text(const rz_config_t *cfg, const struct s_option *o,
                         char *buf, size_t len)
{
    const void *f = s_cfield(cfg, o);
    switch (o->type) {
    case S_STRING: {
        const char *s = *(char *const *)f;
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case S_SIZE: s_size_text(*(const uint64_t *)f, buf, len); break;
    case S_UINT: snprintf(buf, len, "%" PRIu64, *(const uint64_t *)f); break;
    case S_ENUM: {
        int v = *(const int *)f;
        int n = 0;
        while (o->choices[n])
            n++;
        snprintf(buf, len, "%s", v >= 0 && v < n ? o->choices[v] : "?");
        break;
    }
    }
}

/* ===========================================================================
 * Parsing values
 */

int rz_config_parse_size(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t v = 0;
    unsigned shift = 0;

    if (!text || !isdigit((unsigned char)*p))
        return RZ_EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RZ_EINVAL;
        v = v * 10 + d;
    }
    while (*p == ' ')
        p++;
    /* Tolerate the spellings people write (M, MB, MiB, m): all mean
     * powers of 1024 here, as LMDB map sizes are usually thought of. */
    switch (toupper((unsigned char)*p)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
    }
    if (shift) {
        p++;
        if (*p == 'i' || *p == 'I')
            p++;
    }
    if (*p == 'B' || *p == 'b')
        p++;
    if (*p != '\0')
        return RZ_EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return RZ_EINVAL;
    *out = v << shift;
    return 0;
}

static int s_parse_uint(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (!isdigit((unsigned char)*text))
        return RZ_EINVAL;
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return RZ_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RZ_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Check a number against the option's bounds; the message names the key as
 * the user spelled it. */
static int s_check_range(const struct s_option *o, const char *key, uint64_t v,
                         char *err, size_t err_len)
{
    char a[32], b[32];
    if (v < o->min) {
        if (o->type == S_SIZE) {
            s_size_text(v, a, sizeof a);
            s_size_text(o->min, b, sizeof b);
        } else {
            snprintf(a, sizeof a, "%" PRIu64, v);
            snprintf(b, sizeof b, "%" PRIu64, o->min);
        }
        s_err(err, err_len, "key '%s': %s is below the minimum %s", key, a, b);
        return RZ_ECONFIG;
    }
    if (v > o->max) {
        if (o->type == S_SIZE) {
            s_size_text(v, a, sizeof a);
            s_size_text(o->max, b, sizeof b);
        } else {
            snprintf(a, sizeof a, "%" PRIu64, v);
            snprintf(b, sizeof b, "%" PRIu64, o->max);
        }
        s_err(err, err_len, "key '%s': %s is above the maximum %s", key, a, b);
        return RZ_ECONFIG;
    }
    return 0;
}

/* Set option o (named key by the user) from text. */
static int s_set(rz_config_t *cfg, const struct s_option *o, const char *key,
                 const char *value, char *err, size_t err_len)
{
    void *f = s_field(cfg, o);
    char what[96];
    uint64_t v;
    int rc;

    switch (o->type) {
    case S_STRING: {
        if (o->choices && s_choice(o->choices, value) < 0) {
            s_choices_text(o->choices, what, sizeof what);
            s_err(err, err_len, "key '%s': invalid value '%s' (want %s)", key,
                  value, what);
            return RZ_ECONFIG;
        }
        char *dup = strdup(value);
        if (!dup)
            return RZ_ENOMEM;
        free(*(char **)f);
        *(char **)f = dup;
        return 0;
    }
    case S_SIZE:
        if (rz_config_parse_size(value, &v) != 0) {
            s_err(err, err_len, "key '%s': invalid size '%s'", key, value);
            return RZ_ECONFIG;
        }
        if ((rc = s_check_range(o, key, v, err, err_len)) != 0)
            return rc;
        *(uint64_t *)f = v;
        return 0;
    case S_UINT:
        if (s_parse_uint(value, &v) != 0) {
            s_err(err, err_len, "key '%s': invalid number '%s'", key, value);
            return RZ_ECONFIG;
        }
        if ((rc = s_check_range(o, key, v, err, err_len)) != 0)
            return rc;
        *(uint64_t *)f = v;
        return 0;
    case S_ENUM: {
        int i = s_choice(o->choices, value);
        if (i < 0) {
            s_choices_text(o->choices, what, sizeof what);
            s_err(err, err_len, "key '%s': invalid value '%s' (want %s)", key,
                  value, what);
            return RZ_ECONFIG;
        }
        *(int *)f = i;
        return 0;
    }
    }
    return RZ_EINVAL;
}

int rz_config_set(rz_config_t *cfg, const char *name, const char *value,
                  char *err, size_t err_len)
{
    const struct s_option *o = s_find(name);
    if (!o) {
        s_err(err, err_len, "unknown key '%s'", name);
        return RZ_ECONFIG;
    }
    return s_set(cfg, o, name, value, err, err_len);
}

/* ===========================================================================
 * Lifecycle
 */

int rz_config_init(rz_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const struct s_option *o = &s_options[i];
        int rc = s_set(cfg, o, o->name, o->def, NULL, 0);
        if (rc == RZ_ENOMEM) {
            rz_config_close(cfg);
            return rc;
        }
        /* a default that does not parse is our bug, not the user's */
        if (rc != 0) {
            fprintf(stderr, "config.c: bad default for %s\n", o->name);
            abort();
        }
    }
    return 0;
}

void rz_config_close(rz_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        if (s_options[i].type != S_STRING)
            continue;
        char **p = s_field(cfg, &s_options[i]);
        free(*p);
        *p = NULL;
    }
}

/* A deep copy, so a load that fails halfway leaves the caller's config as
 * it was. */
static int s_copy(rz_config_t *dst, const rz_config_t *src)
{
    *dst = *src;
    for (size_t i = 0; i < S_NOPTIONS; i++)
        if (s_options[i].type == S_STRING)
            *(char **)s_field(dst, &s_options[i]) = NULL;
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        if (s_options[i].type != S_STRING)
            continue;
        const char *s = *(char *const *)s_cfield(src, &s_options[i]);
        if (!s)
            continue;
        char *dup = strdup(s);
        if (!dup) {
            rz_config_close(dst);
            return RZ_ENOMEM;
        }
        *(char **)s_field(dst, &s_options[i]) = dup;
    }
    return 0;
}

/* ===========================================================================
 * YAML
 */

static bool s_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

static const char *s_event_what(yaml_event_type_t t)
{
    switch (t) {
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "not a scalar";
    }
}

/* Report a libyaml error as FILE:LINE; the context names where the
 * construct that failed began ("while scanning a quoted scalar"). */
static int s_syntax_error(yaml_parser_t *parser, const char *name, char *err,
                          size_t err_len)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return RZ_ENOMEM;
    size_t line = parser->problem_mark.line + 1;
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    if (parser->context)
        s_err(err, err_len, "%s:%zu: syntax error: %s (%s from line %zu)", name,
              line, problem, parser->context, parser->context_mark.line + 1);
    else
        s_err(err, err_len, "%s:%zu: syntax error: %s", name, line, problem);
    return RZ_ECONFIG;
}

/* A first pass over the whole text for syntax alone, so that a broken file
 * is reported as broken and not as whatever odd value it parses into
 * before the parser gives up. */
static int s_check_syntax(const char *yaml, size_t len, const char *name,
                          char *err, size_t err_len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return RZ_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = s_syntax_error(&parser, name, err, err_len);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Parse a whole document: a mapping of option: value, applied to cfg as it
 * goes (the caller passes a scratch copy). */
static int s_load(rz_config_t *cfg, const char *yaml, size_t len,
                  const char *name, char *err, size_t err_len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev = false, done = false;
    size_t first_line[S_NOPTIONS] = {0}; /* 1-based line where set, 0 none */
    char *key = NULL;
    int rc = RZ_ECONFIG;
    /* where we are; nested collections are errors, so a mapping end is
     * always the top one's */
    enum { S_STREAM, S_DOCUMENT, S_MAPPING, S_AFTER } state = S_STREAM;

    if (!yaml_parser_initialize(&parser))
        return RZ_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = s_syntax_error(&parser, name, err, err_len);
            goto fail;
        }
        have_ev = true;
        size_t line = ev.start_mark.line + 1;

        switch (ev.type) {
        case YAML_STREAM_START_EVENT: break;
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (state != S_STREAM) {
                s_err(err, err_len, "%s:%zu: more than one YAML document", name,
                      line);
                goto fail;
            }
            state = S_DOCUMENT;
            break;
        case YAML_DOCUMENT_END_EVENT: state = S_AFTER; break;
        case YAML_MAPPING_START_EVENT:
            if (state == S_DOCUMENT) {
                state = S_MAPPING;
                break;
            }
            goto nested;
        case YAML_MAPPING_END_EVENT: state = S_AFTER; break;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;
            if (state == S_DOCUMENT) {
                /* "---" alone or a file of comments: nothing to set */
                if (s_is_null(&ev))
                    break;
                s_err(err, err_len,
                      "%s:%zu: top level must be a mapping of option: value",
                      name, line);
                goto fail;
            }
            if (strlen(text) != ev.data.scalar.length) {
                s_err(err, err_len, "%s:%zu: NUL byte in %s", name, line,
                      key ? "value" : "key");
                goto fail;
            }
            if (!key) {
                key = strdup(text);
                if (!key) {
                    rc = RZ_ENOMEM;
                    goto fail;
                }
                const struct s_option *o = s_find(key);
                if (!o) {
                    s_err(err, err_len, "%s:%zu: unknown key '%s'", name, line,
                          key);
                    goto fail;
                }
                size_t i = (size_t)(o - s_options);
                if (first_line[i]) {
                    s_err(err, err_len,
                          "%s:%zu: duplicate key '%s' (first set at line %zu)",
                          name, line, key, first_line[i]);
                    goto fail;
                }
                first_line[i] = line;
                break;
            }
            /* a bare "metrics:" means empty, as it reads */
            const char *value = s_is_null(&ev) ? "" : text;
            char msg[512];
            int src = s_set(cfg, s_find(key), key, value, msg, sizeof msg);
            if (src == RZ_ENOMEM) {
                rc = src;
                goto fail;
            }
            if (src != 0) {
                s_err(err, err_len, "%s:%zu: %s", name, line, msg);
                goto fail;
            }
            free(key);
            key = NULL;
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_ALIAS_EVENT:
        nested:
            if (state == S_DOCUMENT) {
                s_err(err, err_len,
                      "%s:%zu: top level must be a mapping of option: value",
                      name, line);
            } else if (key) {
                s_err(err, err_len,
                      "%s:%zu: key '%s': value must be a scalar, "
                      "not %s",
                      name, line, key, s_event_what(ev.type));
            } else {
                s_err(err, err_len, "%s:%zu: key must be a scalar, not %s",
                      name, line, s_event_what(ev.type));
            }
            goto fail;
        default: break;
        }
        yaml_event_delete(&ev);
        have_ev = false;
    }
    rc = 0;
fail:
    if (have_ev)
        yaml_event_delete(&ev);
    free(key);
    yaml_parser_delete(&parser);
    return rc;
}

int rz_config_load_string(rz_config_t *cfg, const char *yaml, size_t len,
                          const char *name, char *err, size_t err_len)
{
    rz_config_t tmp;
    int rc = s_copy(&tmp, cfg);
    if (rc != 0)
        return rc;
    if (!name)
        name = "<config>";
    rc = s_check_syntax(yaml, len, name, err, err_len);
    if (rc == 0)
        rc = s_load(&tmp, yaml, len, name, err, err_len);
    if (rc != 0) {
        rz_config_close(&tmp);
        return rc;
    }
    rz_config_close(cfg);
    *cfg = tmp;
    return 0;
}

int rz_config_load_file(rz_config_t *cfg, const char *path, char *err,
                        size_t err_len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = RZ_ECONFIG;

    f = fopen(path, "rb");
    if (!f) {
        s_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (cap - len < 4096) {
            /* a config is a few hundred bytes; a huge one is a mistake */
            if (cap >= (1u << 20)) {
                s_err(err, err_len, "%s: larger than 1 MiB", path);
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                rc = RZ_ENOMEM;
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                s_err(err, err_len, "%s: cannot read: %s", path,
                      strerror(errno));
                goto fail;
            }
            break;
        }
    }
    rc = rz_config_load_string(cfg, buf, len, path, err, err_len);
fail:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/* ===========================================================================
 * Checks
 */

/* "" and "off" disable the metrics server; anything else is HOST:PORT
 * (HOST may be empty for all addresses, or [v6]). */
static bool s_metrics_ok(const char *m)
{
    if (!*m || !strcmp(m, "off"))
        return true;
    const char *colon = strrchr(m, ':');
    if (!colon || !colon[1] || strlen(colon + 1) > 5)
        return false;
    uint64_t port;
    if (s_parse_uint(colon + 1, &port) != 0 || port > 65535)
        return false;
    if (m[0] == '[' && colon[-1] != ']')
        return false;
    return true;
}

int rz_config_check(const rz_config_t *cfg, char *err, size_t err_len)
{
    char a[32], b[32];
    int rc;

    /* every option on its own, as the loader would have checked it: the
     * struct may have been filled by hand */
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const struct s_option *o = &s_options[i];
        const void *f = s_cfield(cfg, o);
        switch (o->type) {
        case S_STRING: {
            const char *s = *(char *const *)f;
            if (!s) {
                s_err(err, err_len, "key '%s' is not set", o->name);
                return RZ_ECONFIG;
            }
            if (o->choices && s_choice(o->choices, s) < 0) {
                char what[96];
                s_choices_text(o->choices, what, sizeof what);
                s_err(err, err_len, "key '%s': invalid value '%s' (want %s)",
                      o->name, s, what);
                return RZ_ECONFIG;
            }
            break;
        }
        case S_SIZE:
        case S_UINT:
            rc = s_check_range(o, o->name, *(const uint64_t *)f, err, err_len);
            if (rc != 0)
                return rc;
            break;
        case S_ENUM: {
            int v = *(const int *)f, n = 0;
            while (o->choices[n])
                n++;
            if (v < 0 || v >= n) {
                s_err(err, err_len, "key '%s': invalid value %d", o->name, v);
                return RZ_ECONFIG;
            }
            break;
        }
        }
    }

    if (!*cfg->data_dir) {
        s_err(err, err_len, "data_dir is empty");
        return RZ_ECONFIG;
    }
    if (!strstr(cfg->listen, "://")) {
        s_err(err, err_len,
              "listen '%s' is not a ZeroMQ endpoint "
              "(tcp://HOST:PORT or ipc://PATH)",
              cfg->listen);
        return RZ_ECONFIG;
    }
    if (!strstr(cfg->stream, "://")) {
        s_err(err, err_len,
              "stream '%s' is not a ZeroMQ endpoint "
              "(tcp://HOST:PORT or ipc://PATH)",
              cfg->stream);
        return RZ_ECONFIG;
    }
    if (!strcmp(cfg->listen, cfg->stream)) {
        s_err(err, err_len, "listen and stream are both '%s'", cfg->listen);
        return RZ_ECONFIG;
    }
    if (!s_metrics_ok(cfg->metrics)) {
        s_err(err, err_len, "metrics '%s' is not HOST:PORT or \"off\"",
              cfg->metrics);
        return RZ_ECONFIG;
    }
    if (cfg->map_max < cfg->map_size) {
        s_size_text(cfg->map_max, a, sizeof a);
        s_size_text(cfg->map_size, b, sizeof b);
        s_err(err, err_len, "map_max (%s) is smaller than map_size (%s)", a, b);
        return RZ_ECONFIG;
    }
    if (cfg->max_message > cfg->map_max) {
        s_size_text(cfg->max_message, a, sizeof a);
        s_size_text(cfg->map_max, b, sizeof b);
        s_err(err, err_len, "max_message (%s) is larger than map_max (%s)", a,
              b);
        return RZ_ECONFIG;
    }
    /* a batch the queue can never hold would be refused forever */
    if (cfg->max_inflight < cfg->max_batch) {
        s_err(err, err_len,
              "max_inflight (%" PRIu64 ") is smaller than max_batch (%" PRIu64
              ")",
              cfg->max_inflight, cfg->max_batch);
        return RZ_ECONFIG;
    }
    return 0;
}

/* ===========================================================================
 * Output
 */

/* A double-quoted YAML scalar: always valid, whatever the bytes. */
static void s_print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02x", *p);
            else
                fputc(*p, out); /* UTF-8 passes through */
        }
    }
    fputc('"', out);
}

void rz_config_print(const rz_config_t *cfg, FILE *out)
{
    char buf[64];
    fputs("# ratuszd configuration (effective values)\n", out);
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const struct s_option *o = &s_options[i];
        fprintf(out, "\n# %s\n%s: ", o->desc, o->name);
        if (o->type == S_STRING) {
            const char *s = *(char *const *)s_cfield(cfg, o);
            s_print_quoted(out, s ? s : "");
        } else {
            s_value_text(cfg, o, buf, sizeof buf);
            fputs(buf, out);
        }
        fputc('\n', out);
    }
}

void rz_config_usage(FILE *out)
{
    char flag[64];
    int width = 0;
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        int w = (int)(strlen(s_options[i].name) + 3 + strlen(s_options[i].arg));
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const struct s_option *o = &s_options[i];
        int n = snprintf(flag, sizeof flag, "--%s %s", o->name, o->arg);
        for (int j = 2; j < n && flag[j] != ' '; j++)
            if (flag[j] == '_')
                flag[j] = '-';
        fprintf(out, "  %-*s  %s (default: %s)\n", width, flag, o->desc,
                *o->def ? o->def : "\"\"");
    }
}
