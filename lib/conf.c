/* conf.c - one option table per program drives its defaults, the YAML
 * loader, flags, --help and --print-config (see include/ratusz/conf.h) */
#include "ratusz/conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "ratusz/core/log.h"
#include "ratusz/errors.h"

/* ===========================================================================
 * Helpers
 */

static void *s_field(void *obj, const rz_conf_option_t *o)
{
    return (char *)obj + o->offset;
}

static const void *s_cfield(const void *obj, const rz_conf_option_t *o)
{
    return (const char *)obj + o->offset;
}

/* Both spellings name an option: data_dir as in YAML, data-dir as a flag. */
static const rz_conf_option_t *s_find(const rz_conf_option_t *opts,
                                      const char *name)
{
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        const char *a = o->name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return o;
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
 * through rz_conf_parse_size. */
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

/* ===========================================================================
 * Maps and lists
 */

static void s_list_free(rz_conf_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void s_list_destroy(rz_conf_list_t **l)
{
    if (*l) {
        s_list_free(*l);
        free(*l);
        *l = NULL;
    }
}

static void s_map_free(rz_conf_map_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    free(m->lines);
    memset(m, 0, sizeof *m);
}

/* Add key=value, or replace the value of an existing key. */
static int s_map_put(rz_conf_map_t *m, const char *key, const char *value,
                     uint32_t line)
{
    char *v = strdup(value);
    if (!v)
        return RZ_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            free(m->values[i]);
            m->values[i] = v;
            m->lines[i] = line;
            return 0;
        }
    }
    char *k = strdup(key);
    char **nk = realloc(m->keys, (m->n + 1) * sizeof *nk);
    if (nk)
        m->keys = nk;
    char **nv = realloc(m->values, (m->n + 1) * sizeof *nv);
    if (nv)
        m->values = nv;
    uint32_t *nl = realloc(m->lines, (m->n + 1) * sizeof *nl);
    if (nl)
        m->lines = nl;
    if (!k || !nk || !nv || !nl) {
        free(k);
        free(v);
        return RZ_ENOMEM;
    }
    m->keys[m->n] = k;
    m->values[m->n] = v;
    m->lines[m->n] = line;
    m->n++;
    return 0;
}

static void s_section_free(rz_conf_section_t *sec)
{
    for (size_t i = 0; sec->lists && i < sec->map.n; i++)
        s_list_destroy(&sec->lists[i]);
    free(sec->lists);
    s_map_free(&sec->map);
    free(sec->name);
    memset(sec, 0, sizeof *sec);
}

static void s_sections_free(rz_conf_sections_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        s_section_free(&s->s[i]);
    free(s->s);
    memset(s, 0, sizeof *s);
}

/* Append an empty section; returns it, or NULL (out of memory). */
static rz_conf_section_t *s_sections_add(rz_conf_sections_t *s,
                                         const char *name, uint32_t line)
{
    char *nm = strdup(name);
    rz_conf_section_t *ns = realloc(s->s, (s->n + 1) * sizeof *ns);
    if (ns)
        s->s = ns;
    if (!nm || !ns) {
        free(nm);
        return NULL;
    }
    rz_conf_section_t *sec = &s->s[s->n++];
    memset(sec, 0, sizeof *sec);
    sec->name = nm;
    sec->line = line;
    return sec;
}

/* Keep a section's lists[] as long as its map after an entry was added:
 * l (taken) for the new entry, NULL for a scalar. */
static int s_lists_push(rz_conf_list_t ***lists, size_t n, rz_conf_list_t **l)
{
    rz_conf_list_t **nl = realloc(*lists, n * sizeof *nl);
    if (!nl)
        return RZ_ENOMEM;
    *lists = nl;
    nl[n - 1] = l ? *l : NULL;
    if (l)
        *l = NULL;
    return 0;
}

static int s_list_push(rz_conf_list_t *l, const char *item)
{
    char *s = strdup(item);
    char **n = s ? realloc(l->items, (l->n + 1) * sizeof *n) : NULL;
    if (!n) {
        free(s);
        return RZ_ENOMEM;
    }
    l->items = n;
    l->items[l->n++] = s;
    return 0;
}

const char *rz_conf_map_get(const rz_conf_map_t *map, const char *key)
{
    for (size_t i = 0; map && i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->values[i];
    return NULL;
}

uint32_t rz_conf_map_line(const rz_conf_map_t *map, const char *key)
{
    for (size_t i = 0; map && i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->lines[i];
    return 0;
}

/* ===========================================================================
 * Parsing values
 */

/* The decimal number *p starts with (at least one digit), *p moved past
 * it. Returns 0, or RZ_EINVAL when there is none or it overflows. */
static int s_leading_uint(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (!p || !isdigit((unsigned char)*p))
        return RZ_EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RZ_EINVAL;
        v = v * 10 + d;
    }
    *pp = p;
    *out = v;
    return 0;
}

int rz_conf_parse_duration(const char *text, int64_t *us)
{
    const char *p = text;
    uint64_t v, unit = 1;
    if (s_leading_uint(&p, &v))
        return RZ_EINVAL;
    switch (*p) {
    case '\0': break;
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return RZ_EINVAL;
    }
    if (*p && p[1])
        return RZ_EINVAL;
    /* 100 years is more than any setting needs; it keeps the µs in range */
    if (v > UINT64_C(3153600000) / unit)
        return RZ_EINVAL;
    *us = (int64_t)(v * unit) * 1000000;
    return 0;
}

int rz_conf_parse_size(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t v;
    unsigned shift = 0;

    if (s_leading_uint(&p, &v))
        return RZ_EINVAL;
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

static int s_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    for (int i = 0; yes[i]; i++) {
        if (!strcasecmp(text, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(text, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return RZ_EINVAL;
}

/* Check a number against the option's bounds; the message names the key as
 * the user spelled it. */
static int s_check_range(const rz_conf_option_t *o, const char *key,
                         uint64_t v, char *err, size_t err_len)
{
    if (v >= o->min && v <= o->max)
        return 0;
    char a[32], b[32];
    uint64_t bound = v < o->min ? o->min : o->max;
    if (o->type == RZ_CONF_SIZE) {
        s_size_text(v, a, sizeof a);
        s_size_text(bound, b, sizeof b);
    } else {
        snprintf(a, sizeof a, "%" PRIu64, v);
        snprintf(b, sizeof b, "%" PRIu64, bound);
    }
    rzc_errf(err, err_len, "key '%s': %s is %s the %s %s", key, a,
             v < o->min ? "below" : "above", v < o->min ? "minimum" : "maximum",
             b);
    return RZ_ECONFIG;
}

/* Set field f of option o (named key by the user) from text, as a flag
 * does: a MAP takes "k=v", a LIST one more item. */
static int s_set_field(const rz_conf_option_t *o, void *f, const char *key,
                       const char *value, uint32_t line, char *err,
                       size_t err_len)
{
    char what[160];
    uint64_t v;
    int rc;

    switch (o->type) {
    case RZ_CONF_STRING: {
        if (o->choices && s_choice(o->choices, value) < 0) {
            s_choices_text(o->choices, what, sizeof what);
            rzc_errf(err, err_len, "key '%s': invalid value '%s' (want %s)",
                     key, value, what);
            return RZ_ECONFIG;
        }
        char *dup = strdup(value);
        if (!dup)
            return RZ_ENOMEM;
        free(*(char **)f);
        *(char **)f = dup;
        return 0;
    }
    case RZ_CONF_SIZE:
        if (rz_conf_parse_size(value, &v) != 0) {
            rzc_errf(err, err_len, "key '%s': invalid size '%s'", key, value);
            return RZ_ECONFIG;
        }
        if ((rc = s_check_range(o, key, v, err, err_len)) != 0)
            return rc;
        *(uint64_t *)f = v;
        return 0;
    case RZ_CONF_UINT:
        if (s_parse_uint(value, &v) != 0) {
            rzc_errf(err, err_len, "key '%s': invalid number '%s'", key, value);
            return RZ_ECONFIG;
        }
        if ((rc = s_check_range(o, key, v, err, err_len)) != 0)
            return rc;
        *(uint64_t *)f = v;
        return 0;
    case RZ_CONF_ENUM: {
        int i = s_choice(o->choices, value);
        if (i < 0) {
            s_choices_text(o->choices, what, sizeof what);
            rzc_errf(err, err_len, "key '%s': invalid value '%s' (want %s)",
                     key, value, what);
            return RZ_ECONFIG;
        }
        *(int *)f = i;
        return 0;
    }
    case RZ_CONF_BOOL:
        if (s_parse_bool(value, (int *)f) != 0) {
            rzc_errf(err, err_len,
                     "key '%s': invalid value '%s' (want true or false)", key,
                     value);
            return RZ_ECONFIG;
        }
        return 0;
    case RZ_CONF_MAP: {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value) {
            rzc_errf(err, err_len, "key '%s': '%s' is not KEY=VALUE", key,
                     value);
            return RZ_ECONFIG;
        }
        char *k = strndup(value, (size_t)(eq - value));
        if (!k)
            return RZ_ENOMEM;
        rc = s_map_put(f, k, eq + 1, line);
        free(k);
        return rc;
    }
    case RZ_CONF_LIST: return s_list_push(f, value);
    case RZ_CONF_SECTIONS:
        /* a section's name may hold any character: no flag spelling */
        rzc_errf(err, err_len, "key '%s' can only be set in a file", key);
        return RZ_ECONFIG;
    }
    return RZ_EINVAL;
}

/* Free what a field holds. */
static void s_free_field(const rz_conf_option_t *o, void *f)
{
    switch (o->type) {
    case RZ_CONF_STRING:
        free(*(char **)f);
        *(char **)f = NULL;
        break;
    case RZ_CONF_MAP: s_map_free(f); break;
    case RZ_CONF_LIST: s_list_free(f); break;
    case RZ_CONF_SECTIONS: s_sections_free(f); break;
    default: break;
    }
}

/* Scratch space for any field's value. */
typedef union s_value {
    char *s;
    uint64_t u;
    int i;
    rz_conf_map_t m;
    rz_conf_list_t l;
    rz_conf_sections_t sec;
} s_value_t;

/* Set option o from text; key is the name as the user wrote it. */
static int s_set(const rz_conf_option_t *o, void *obj, const char *key,
                 const char *value, char *err, size_t err_len)
{
    const char *name = key;
    if (o->type == RZ_CONF_MAP || o->type == RZ_CONF_LIST)
        return s_set_field(o, s_field(obj, o), name, value, 0, err, err_len);
    /* parse into scratch first, so a bad value leaves the field alone */
    s_value_t tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = s_set_field(o, &tmp, name, value, 0, err, err_len);
    if (rc != 0)
        return rc;
    void *f = s_field(obj, o);
    s_free_field(o, f);
    switch (o->type) {
    case RZ_CONF_STRING: *(char **)f = tmp.s; break;
    case RZ_CONF_SIZE:
    case RZ_CONF_UINT: *(uint64_t *)f = tmp.u; break;
    default: *(int *)f = tmp.i; break;
    }
    return 0;
}

int rz_conf_set(const rz_conf_option_t *opts, void *obj, const char *name,
                const char *value, char *err, size_t err_len)
{
    const rz_conf_option_t *o = s_find(opts, name);
    if (!o) {
        rzc_errf(err, err_len, "unknown key '%s'", name);
        return RZ_ECONFIG;
    }
    return s_set(o, obj, name, value, err, err_len);
}

/* ===========================================================================
 * Lifecycle
 */

int rz_conf_init(const rz_conf_option_t *opts, void *obj)
{
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        void *f = s_field(obj, o);
        switch (o->type) {
        case RZ_CONF_STRING: *(char **)f = NULL; break;
        case RZ_CONF_MAP: memset(f, 0, sizeof(rz_conf_map_t)); break;
        case RZ_CONF_LIST: memset(f, 0, sizeof(rz_conf_list_t)); break;
        case RZ_CONF_SECTIONS:
            memset(f, 0, sizeof(rz_conf_sections_t));
            break;
        default: break;
        }
    }
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        void *f = s_field(obj, o);
        int rc = 0;
        if (o->type == RZ_CONF_MAP || o->type == RZ_CONF_SECTIONS) {
            continue; /* maps and sections start empty */
        } else if (o->type == RZ_CONF_LIST) {
            /* "a,b,c" */
            const char *p = o->def ? o->def : "";
            while (*p && rc == 0) {
                size_t n = strcspn(p, ",");
                char *item = strndup(p, n);
                rc = item ? s_list_push(f, item) : RZ_ENOMEM;
                free(item);
                p += n + (p[n] == ',');
            }
        } else {
            rc = s_set_field(o, f, o->name, o->def ? o->def : "", 0, NULL, 0);
        }
        if (rc == RZ_ENOMEM) {
            rz_conf_close(opts, obj);
            return rc;
        }
        /* a default that does not parse is the program's bug */
        if (rc != 0) {
            fprintf(stderr, "conf: bad default for option '%s'\n", o->name);
            abort();
        }
    }
    return 0;
}

void rz_conf_close(const rz_conf_option_t *opts, void *obj)
{
    if (!obj)
        return;
    for (const rz_conf_option_t *o = opts; o && o->name; o++)
        s_free_field(o, s_field(obj, o));
}

/* ===========================================================================
 * YAML
 *
 * The document is read in full into a list of pending settings, each one
 * checked; only then are they applied, so a file with any error changes
 * nothing.
 */

typedef struct s_pending {
    const rz_conf_option_t *o;
    s_value_t v; /* the parsed value (MAP and LIST: the whole new value) */
} s_pending_t;

typedef struct s_yaml {
    yaml_parser_t parser;
    const char *name;
    char *err;
    size_t err_len;
} s_yaml_t;

static bool s_is_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT ||
        ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
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
    case YAML_SCALAR_EVENT: return "a scalar";
    default: return "something else";
    }
}

static size_t s_line(const yaml_event_t *ev)
{
    return ev->start_mark.line + 1;
}

/* Next event, or RZ_ECONFIG with "NAME:LINE: syntax error: ..." (the
 * context names where the construct that failed began). */
static int s_next(s_yaml_t *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->parser, ev))
        return 0;
    yaml_parser_t *p = &y->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return RZ_ENOMEM;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        rzc_errf(y->err, y->err_len,
                 "%s:%zu: syntax error: %s (%s from line %zu)", y->name,
                 p->problem_mark.line + 1, problem, p->context,
                 p->context_mark.line + 1);
    else
        rzc_errf(y->err, y->err_len, "%s:%zu: syntax error: %s", y->name,
                 p->problem_mark.line + 1, problem);
    return RZ_ECONFIG;
}

/* A scalar's text, refusing embedded NUL bytes. */
static int s_scalar(s_yaml_t *y, const yaml_event_t *ev, const char *what,
                    const char **out)
{
    const char *text = (const char *)ev->data.scalar.value;
    if (strlen(text) != ev->data.scalar.length) {
        rzc_errf(y->err, y->err_len, "%s:%zu: NUL byte in %s", y->name,
                 s_line(ev), what);
        return RZ_ECONFIG;
    }
    *out = s_is_null(ev) ? "" : text;
    return 0;
}

static int s_read_list(s_yaml_t *y, rz_conf_list_t *l, const char *key);

/* A list entry of a section (SEQUENCE_START consumed): its items in the
 * section's lists[], their text joined with ',' in the map. */
static int s_read_map_list(s_yaml_t *y, rz_conf_map_t *m,
                           rz_conf_list_t ***lists, const char *key,
                           const char *full, uint32_t line)
{
    char what[300];
    snprintf(what, sizeof what, "%s.%s", key, full);
    rz_conf_list_t *l = calloc(1, sizeof *l);
    if (!l)
        return RZ_ENOMEM;
    int rc = s_read_list(y, l, what);
    size_t n = 1;
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        n += strlen(l->items[i]) + 1;
    char *text = rc == 0 ? malloc(n) : NULL;
    if (rc == 0 && !text)
        rc = RZ_ENOMEM;
    if (rc == 0) {
        size_t at = 0;
        text[0] = '\0';
        for (size_t i = 0; i < l->n; i++) {
            size_t il = strlen(l->items[i]);
            if (i)
                text[at++] = ',';
            memcpy(text + at, l->items[i], il + 1);
            at += il;
        }
        if (rz_conf_map_get(m, full)) {
            rzc_errf(y->err, y->err_len,
                     "%s:%u: key '%s': duplicate entry '%s'", y->name, line,
                     key, full);
            rc = RZ_ECONFIG;
        } else if ((rc = s_map_put(m, full, text, line)) == 0) {
            rc = s_lists_push(lists, m->n, &l);
            if (rc) /* keep map and lists the same length */
                free(m->keys[--m->n]), free(m->values[m->n]);
        }
    }
    free(text);
    s_list_destroy(&l);
    return rc;
}

/* Read a mapping's entries (its MAPPING_START already consumed) into m,
 * nested mappings flattened with dots under prefix. With lists (a
 * section's), a sequence of scalars is a list entry; without, refused. */
static int s_read_map(s_yaml_t *y, rz_conf_map_t *m, rz_conf_list_t ***lists,
                      const char *key, const char *prefix)
{
    for (;;) {
        yaml_event_t kev, vev;
        int rc = s_next(y, &kev);
        if (rc)
            return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        const char *k;
        if (kev.type != YAML_SCALAR_EVENT) {
            rzc_errf(y->err, y->err_len,
                     "%s:%zu: key '%s': keys must be scalars, "
                     "not %s",
                     y->name, s_line(&kev), key, s_event_what(kev.type));
            yaml_event_delete(&kev);
            return RZ_ECONFIG;
        }
        if ((rc = s_scalar(y, &kev, "key", &k)) != 0) {
            yaml_event_delete(&kev);
            return rc;
        }
        size_t plen = strlen(prefix), klen = strlen(k);
        char *full = malloc(plen + klen + 2);
        if (!full) {
            yaml_event_delete(&kev);
            return RZ_ENOMEM;
        }
        snprintf(full, plen + klen + 2, "%s%s%s", prefix, plen ? "." : "", k);
        uint32_t line = (uint32_t)s_line(&kev);
        yaml_event_delete(&kev);
        if ((rc = s_next(y, &vev)) != 0) {
            free(full);
            return rc;
        }
        if (vev.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&vev);
            rc = s_read_map(y, m, lists, key, full);
        } else if (lists && vev.type == YAML_SEQUENCE_START_EVENT) {
            yaml_event_delete(&vev);
            rc = s_read_map_list(y, m, lists, key, full, line);
        } else if (vev.type == YAML_SCALAR_EVENT) {
            const char *v;
            rc = s_scalar(y, &vev, "value", &v);
            if (rc == 0 && rz_conf_map_get(m, full)) {
                rzc_errf(y->err, y->err_len,
                         "%s:%u: key '%s': duplicate entry "
                         "'%s'",
                         y->name, line, key, full);
                rc = RZ_ECONFIG;
            }
            if (rc == 0)
                rc = s_map_put(m, full, v, line);
            if (rc == 0 && lists && (rc = s_lists_push(lists, m->n, NULL)))
                free(m->keys[--m->n]), free(m->values[m->n]);
            yaml_event_delete(&vev);
        } else {
            rzc_errf(y->err, y->err_len,
                     "%s:%zu: key '%s': entry '%s' must be a scalar%s or a "
                     "mapping, not %s",
                     y->name, s_line(&vev), key, full, lists ? ", a list" : "",
                     s_event_what(vev.type));
            yaml_event_delete(&vev);
            rc = RZ_ECONFIG;
        }
        free(full);
        if (rc)
            return rc;
    }
}

/* Read a sequence of scalars (SEQUENCE_START consumed) into l. */
static int s_read_list(s_yaml_t *y, rz_conf_list_t *l, const char *key)
{
    for (;;) {
        yaml_event_t ev;
        int rc = s_next(y, &ev);
        if (rc)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        const char *v;
        if (ev.type != YAML_SCALAR_EVENT) {
            rzc_errf(y->err, y->err_len,
                     "%s:%zu: key '%s': list items must be "
                     "scalars, not %s",
                     y->name, s_line(&ev), key, s_event_what(ev.type));
            rc = RZ_ECONFIG;
        } else if ((rc = s_scalar(y, &ev, "list item", &v)) == 0) {
            rc = s_list_push(l, v);
        }
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
}

/* Read named sections (MAPPING_START consumed): name: mapping, each read
 * as a MAP; an empty value ("name:") is an empty section. */
static int s_read_sections(s_yaml_t *y, rz_conf_sections_t *sec,
                           const char *key)
{
    for (;;) {
        yaml_event_t kev, vev;
        int rc = s_next(y, &kev);
        if (rc)
            return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        const char *name;
        uint32_t line = (uint32_t)s_line(&kev);
        if (kev.type != YAML_SCALAR_EVENT) {
            rzc_errf(y->err, y->err_len,
                     "%s:%u: key '%s': section names must be "
                     "scalars, not %s",
                     y->name, line, key, s_event_what(kev.type));
            yaml_event_delete(&kev);
            return RZ_ECONFIG;
        }
        if ((rc = s_scalar(y, &kev, "section name", &name)) != 0) {
            yaml_event_delete(&kev);
            return rc;
        }
        for (size_t i = 0; i < sec->n; i++) {
            if (strcmp(sec->s[i].name, name) == 0) {
                rzc_errf(y->err, y->err_len,
                         "%s:%u: key '%s': duplicate "
                         "section '%s' (first at line %u)",
                         y->name, line, key, name, sec->s[i].line);
                yaml_event_delete(&kev);
                return RZ_ECONFIG;
            }
        }
        rz_conf_section_t *one = s_sections_add(sec, name, line);
        yaml_event_delete(&kev);
        if (!one)
            return RZ_ENOMEM;
        if ((rc = s_next(y, &vev)) != 0)
            return rc;
        char what[300];
        snprintf(what, sizeof what, "%s.%s", key, one->name);
        if (vev.type == YAML_MAPPING_START_EVENT) {
            rc = s_read_map(y, &one->map, &one->lists, what, "");
        } else if (!s_is_null(&vev)) {
            rzc_errf(y->err, y->err_len,
                     "%s:%zu: key '%s': a section must be a "
                     "mapping, not %s",
                     y->name, s_line(&vev), what, s_event_what(vev.type));
            rc = RZ_ECONFIG;
        }
        yaml_event_delete(&vev);
        if (rc)
            return rc;
    }
}

/* Read the value of option o (named key, at line) into p->v. */
static int s_read_value(s_yaml_t *y, const rz_conf_option_t *o,
                        const char *key, s_pending_t *p)
{
    yaml_event_t ev;
    int rc = s_next(y, &ev);
    if (rc)
        return rc;
    p->o = o;
    memset(&p->v, 0, sizeof p->v);
    if (o->type == RZ_CONF_MAP && ev.type == YAML_MAPPING_START_EVENT) {
        rc = s_read_map(y, &p->v.m, NULL, key, "");
    } else if (o->type == RZ_CONF_LIST &&
               ev.type == YAML_SEQUENCE_START_EVENT) {
        rc = s_read_list(y, &p->v.l, key);
    } else if (o->type == RZ_CONF_SECTIONS &&
               ev.type == YAML_MAPPING_START_EVENT) {
        rc = s_read_sections(y, &p->v.sec, key);
    } else if (ev.type != YAML_SCALAR_EVENT) {
        rzc_errf(
            y->err, y->err_len, "%s:%zu: key '%s': value must be %s, not %s",
            y->name, s_line(&ev), key,
            o->type == RZ_CONF_MAP || o->type == RZ_CONF_SECTIONS ? "a mapping"
            : o->type == RZ_CONF_LIST ? "a list or a scalar"
                                      : "a scalar",
            s_event_what(ev.type));
        rc = RZ_ECONFIG;
    } else {
        const char *v;
        char msg[512];
        rc = s_scalar(y, &ev, "value", &v);
        if (rc == 0 &&
            (o->type == RZ_CONF_MAP || o->type == RZ_CONF_SECTIONS)) {
            if (*v) { /* only "kafka:" (empty) is a scalar map */
                rzc_errf(y->err, y->err_len,
                         "%s:%zu: key '%s': value must be a mapping, not a "
                         "scalar",
                         y->name, s_line(&ev), key);
                rc = RZ_ECONFIG;
            }
        } else if (rc == 0 && o->type == RZ_CONF_LIST) {
            if (*v)
                rc = s_list_push(&p->v.l, v);
        } else if (rc == 0) {
            rc = s_set_field(o, &p->v, key, v, 0, msg, sizeof msg);
            if (rc == RZ_ECONFIG)
                rzc_errf(y->err, y->err_len, "%s:%zu: %s", y->name, s_line(&ev),
                         msg);
        }
    }
    yaml_event_delete(&ev);
    return rc;
}

static void s_pending_free(s_pending_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s_free_field(p[i].o, &p[i].v);
}

/* Parse a whole document into pending settings (one per option at most). */
static int s_load(const rz_conf_option_t *opts, s_yaml_t *y, s_pending_t *pend,
                  size_t *npend, size_t *lines)
{
    yaml_event_t ev;
    int rc;
    bool in_doc = false, seen_doc = false;

    for (;;) {
        if ((rc = s_next(y, &ev)) != 0)
            return rc;
        size_t line = s_line(&ev);
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            if (seen_doc) {
                rzc_errf(y->err, y->err_len,
                         "%s:%zu: more than one YAML document", y->name, line);
                return RZ_ECONFIG;
            }
            seen_doc = in_doc = true;
            continue;
        }
        if (t == YAML_DOCUMENT_END_EVENT) {
            in_doc = false;
            yaml_event_delete(&ev);
            continue;
        }
        if (!in_doc || t == YAML_STREAM_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        /* the document's root */
        if (s_is_null(&ev)) { /* "---" alone, or only comments */
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        if (t != YAML_MAPPING_START_EVENT) {
            rzc_errf(y->err, y->err_len,
                     "%s:%zu: top level must be a mapping of option: value",
                     y->name, line);
            return RZ_ECONFIG;
        }
        for (;;) {
            if ((rc = s_next(y, &ev)) != 0)
                return rc;
            line = s_line(&ev);
            if (ev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&ev);
                break;
            }
            if (ev.type != YAML_SCALAR_EVENT) {
                rzc_errf(y->err, y->err_len,
                         "%s:%zu: key must be a scalar, not %s", y->name, line,
                         s_event_what(ev.type));
                yaml_event_delete(&ev);
                return RZ_ECONFIG;
            }
            const char *k;
            char key[128];
            rc = s_scalar(y, &ev, "key", &k);
            if (rc == 0)
                snprintf(key, sizeof key, "%s", k);
            yaml_event_delete(&ev);
            if (rc)
                return rc;
            const rz_conf_option_t *o = s_find(opts, key);
            if (!o) {
                rzc_errf(y->err, y->err_len, "%s:%zu: unknown key '%s'",
                         y->name, line, key);
                return RZ_ECONFIG;
            }
            size_t i = (size_t)(o - opts);
            if (lines[i]) {
                rzc_errf(y->err, y->err_len,
                         "%s:%zu: duplicate key '%s' (first set at line %zu)",
                         y->name, line, key, lines[i]);
                return RZ_ECONFIG;
            }
            lines[i] = line;
            rc = s_read_value(y, o, key, &pend[*npend]);
            (*npend)++; /* freed by the caller even when incomplete */
            if (rc)
                return rc;
        }
    }
}

int rz_conf_load_string(const rz_conf_option_t *opts, void *obj,
                        const char *yaml, size_t len, const char *name,
                        char *err, size_t err_len)
{
    size_t n = 0;
    while (opts && opts[n].name)
        n++;
    s_pending_t *pend = calloc(n + 1, sizeof *pend);
    size_t *lines = calloc(n + 1, sizeof *lines);
    size_t npend = 0;
    s_yaml_t y = {.name = name ? name : "<config>", .err = err,
                  .err_len = err_len};
    int rc = RZ_ENOMEM;
    if (!pend || !lines)
        goto out;
    if (!yaml_parser_initialize(&y.parser))
        goto out;
    /* a first pass for syntax alone, so that a broken file is reported as
     * broken and not as whatever odd value it parses into before the
     * parser gives up */
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)yaml, len);
    for (;;) {
        yaml_event_t ev;
        if ((rc = s_next(&y, &ev)) != 0)
            break;
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&y.parser);
    if (rc)
        goto out;
    if (!yaml_parser_initialize(&y.parser)) {
        rc = RZ_ENOMEM;
        goto out;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)yaml, len);
    rc = s_load(opts, &y, pend, &npend, lines);
    yaml_parser_delete(&y.parser);
    if (rc)
        goto out;
    /* every value parsed: apply them all */
    for (size_t i = 0; i < npend; i++) {
        void *f = s_field(obj, pend[i].o);
        s_free_field(pend[i].o, f);
        switch (pend[i].o->type) {
        case RZ_CONF_STRING: *(char **)f = pend[i].v.s; break;
        case RZ_CONF_SIZE:
        case RZ_CONF_UINT: *(uint64_t *)f = pend[i].v.u; break;
        case RZ_CONF_MAP: *(rz_conf_map_t *)f = pend[i].v.m; break;
        case RZ_CONF_LIST: *(rz_conf_list_t *)f = pend[i].v.l; break;
        case RZ_CONF_SECTIONS:
            *(rz_conf_sections_t *)f = pend[i].v.sec;
            break;
        default: *(int *)f = pend[i].v.i; break;
        }
    }
    npend = 0; /* owned by obj now */
out:
    if (pend)
        s_pending_free(pend, npend);
    free(pend);
    free(lines);
    return rc;
}

int rz_conf_load_file(const rz_conf_option_t *opts, void *obj,
                      const char *path, char *err, size_t err_len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = RZ_ECONFIG;

    f = fopen(path, "rb");
    if (!f) {
        rzc_errf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (cap - len < 4096) {
            /* a config is a few hundred bytes; a huge one is a mistake */
            if (cap >= (1u << 20)) {
                rzc_errf(err, err_len, "%s: larger than 1 MiB", path);
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
                rzc_errf(err, err_len, "%s: cannot read: %s", path,
                         strerror(errno));
                goto fail;
            }
            break;
        }
    }
    rc = rz_conf_load_string(opts, obj, buf, len, path, err, err_len);
fail:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

static int s_apply(const rz_conf_option_t *opts, void *obj,
                   const rz_conf_map_t *map, rz_conf_list_t *const *lists,
                   const char *file, const char *section, char *err,
                   size_t err_len)
{
    for (size_t i = 0; map && i < map->n; i++) {
        char msg[512], where[300] = "";
        if (file && map->lines[i])
            snprintf(where, sizeof where, "%s:%u: ", file, map->lines[i]);
        else if (file)
            snprintf(where, sizeof where, "%s: ", file);
        const rz_conf_option_t *o = s_find(opts, map->keys[i]);
        if (!o) {
            rzc_errf(err, err_len, "%sunknown key '%s.%s'", where,
                     section ? section : "", map->keys[i]);
            return RZ_ECONFIG;
        }
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", section ? section : "",
                 section ? "." : "", map->keys[i]);
        const rz_conf_list_t *items = lists ? lists[i] : NULL;
        int rc;
        if (items && o->type != RZ_CONF_LIST) {
            snprintf(msg, sizeof msg, "key '%s': value must be %s, not a list",
                     key, o->type == RZ_CONF_MAP ? "a mapping" : "a scalar");
            rc = RZ_ECONFIG;
        } else if (items) {
            /* a list from a file replaces, as at the top level */
            rz_conf_list_t l = {0, NULL};
            rc = 0;
            for (size_t j = 0; rc == 0 && j < items->n; j++)
                rc = s_list_push(&l, items->items[j]);
            if (rc == 0) {
                s_list_free(s_field(obj, o));
                *(rz_conf_list_t *)s_field(obj, o) = l;
            } else {
                s_list_free(&l);
            }
        } else {
            rc = s_set(o, obj, key, map->values[i], msg, sizeof msg);
        }
        if (rc == RZ_ECONFIG)
            rzc_errf(err, err_len, "%s%s", where, msg);
        if (rc)
            return rc;
    }
    return 0;
}

int rz_conf_apply_map(const rz_conf_option_t *opts, void *obj,
                      const rz_conf_map_t *map, const char *file,
                      const char *section, char *err, size_t err_len)
{
    return s_apply(opts, obj, map, NULL, file, section, err, err_len);
}

int rz_conf_apply_section(const rz_conf_option_t *opts, void *obj,
                          const rz_conf_section_t *section, const char *file,
                          const char *prefix, char *err, size_t err_len)
{
    return s_apply(opts, obj, &section->map, section->lists, file,
                   prefix ? prefix : section->name, err, err_len);
}

/* ===========================================================================
 * Checks
 */

int rz_conf_check(const rz_conf_option_t *opts, const void *obj, char *err,
                  size_t err_len)
{
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        const void *f = s_cfield(obj, o);
        switch (o->type) {
        case RZ_CONF_STRING: {
            const char *s = *(char *const *)f;
            if (!s) {
                rzc_errf(err, err_len, "key '%s' is not set", o->name);
                return RZ_ECONFIG;
            }
            if (o->choices && s_choice(o->choices, s) < 0) {
                char what[160];
                s_choices_text(o->choices, what, sizeof what);
                rzc_errf(err, err_len, "key '%s': invalid value '%s' (want %s)",
                         o->name, s, what);
                return RZ_ECONFIG;
            }
            break;
        }
        case RZ_CONF_SIZE:
        case RZ_CONF_UINT: {
            int rc = s_check_range(o, o->name, *(const uint64_t *)f, err,
                                   err_len);
            if (rc)
                return rc;
            break;
        }
        case RZ_CONF_ENUM: {
            int v = *(const int *)f, n = 0;
            while (o->choices[n])
                n++;
            if (v < 0 || v >= n) {
                rzc_errf(err, err_len, "key '%s': invalid value %d", o->name,
                         v);
                return RZ_ECONFIG;
            }
            break;
        }
        case RZ_CONF_BOOL:
            if (*(const int *)f != 0 && *(const int *)f != 1) {
                rzc_errf(err, err_len, "key '%s': invalid value %d", o->name,
                         *(const int *)f);
                return RZ_ECONFIG;
            }
            break;
        default: break;
        }
    }
    return 0;
}

/* ===========================================================================
 * Command line
 */

int rz_conf_args(const rz_conf_option_t *opts, void *obj, int argc,
                 char **argv, int *first_arg, int *what, char *err,
                 size_t err_len)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, nopt = 1, rc = 0;
    *what = 0;
    if (!rest)
        return RZ_ENOMEM;
    /* -c first, so flags given anywhere override the file */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        const char *path = NULL;
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))) {
            if (i + 1 >= argc) {
                rzc_errf(err, err_len, "option %s needs a file", argv[i]);
                rc = RZ_ECONFIG;
                goto out;
            }
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        }
        if (path && (rc = rz_conf_load_file(opts, obj, path, err, err_len)))
            goto out;
    }
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (++i < argc)
                rest[nrest++] = argv[i];
            break;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *what = 'h';
            rc = 1;
        } else if (!strcmp(a, "--print-config")) {
            if (!*what)
                *what = 'p';
            rc = rc ? rc : 1;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            argv[nopt++] = a;
            argv[nopt++] = argv[++i];
            continue;
        } else if (!strncmp(a, "--config=", 9)) {
            ;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            char name[128];
            const char *eq = strchr(a, '='), *val;
            if (eq) {
                snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
                val = eq + 1;
            } else {
                snprintf(name, sizeof name, "%s", a + 2);
                if (i + 1 >= argc) {
                    rzc_errf(err, err_len, "option --%s needs a value", name);
                    rc = RZ_ECONFIG;
                    goto out;
                }
                argv[nopt++] = a;
                a = argv[++i];
                val = a;
            }
            int src = rz_conf_set(opts, obj, name, val, err, err_len);
            if (src < 0) {
                rc = src;
                goto out;
            }
        } else {
            rest[nrest++] = a;
            continue;
        }
        argv[nopt++] = a;
    }
    /* options first, then the arguments, in their order */
    *first_arg = nopt;
    for (int i = 0; i < nrest; i++)
        argv[nopt + i] = rest[i];
out:
    free(rest);
    return rc;
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

static void s_print_list(FILE *out, const rz_conf_list_t *l)
{
    fputc('[', out);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            fputs(", ", out);
        s_print_quoted(out, l->items[i]);
    }
    fputc(']', out);
}

/* A map's entries, one a line after indent ("{}" when empty); lists[i]
 * (when given and set) is written as a list. */
static void s_print_map(FILE *out, const rz_conf_map_t *m,
                        rz_conf_list_t *const *lists, const char *indent)
{
    if (m->n == 0)
        fputs(" {}", out);
    for (size_t i = 0; i < m->n; i++) {
        fputs(indent, out);
        s_print_quoted(out, m->keys[i]);
        fputs(": ", out);
        if (lists && lists[i])
            s_print_list(out, lists[i]);
        else
            s_print_quoted(out, m->values[i]);
    }
}

void rz_conf_print(const rz_conf_option_t *opts, const void *obj,
                   const char *title, FILE *out)
{
    char buf[64];
    fprintf(out, "# %s\n", title ? title : "configuration (effective values)");
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        const void *f = s_cfield(obj, o);
        fprintf(out, "\n# %s\n%s:", o->desc, o->name);
        switch (o->type) {
        case RZ_CONF_STRING: {
            const char *s = *(char *const *)f;
            fputc(' ', out);
            s_print_quoted(out, s ? s : "");
            break;
        }
        case RZ_CONF_SIZE:
            s_size_text(*(const uint64_t *)f, buf, sizeof buf);
            fprintf(out, " %s", buf);
            break;
        case RZ_CONF_UINT:
            fprintf(out, " %" PRIu64, *(const uint64_t *)f);
            break;
        case RZ_CONF_ENUM: {
            int v = *(const int *)f, n = 0;
            while (o->choices[n])
                n++;
            fprintf(out, " %s", v >= 0 && v < n ? o->choices[v] : "?");
            break;
        }
        case RZ_CONF_BOOL:
            fputs(*(const int *)f ? " true" : " false", out);
            break;
        case RZ_CONF_MAP: s_print_map(out, f, NULL, "\n  "); break;
        case RZ_CONF_LIST:
            fputc(' ', out);
            s_print_list(out, f);
            break;
        case RZ_CONF_SECTIONS: {
            const rz_conf_sections_t *sec = f;
            if (sec->n == 0)
                fputs(" {}", out);
            for (size_t i = 0; i < sec->n; i++) {
                fputs("\n  ", out);
                s_print_quoted(out, sec->s[i].name);
                fputc(':', out);
                s_print_map(out, &sec->s[i].map, sec->s[i].lists, "\n    ");
            }
            break;
        }
        }
        fputc('\n', out);
    }
}

void rz_conf_usage(const rz_conf_option_t *opts, FILE *out)
{
    char flag[96];
    int width = 0;
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        int w = (int)(strlen(o->name) + 3 + strlen(o->arg ? o->arg : ""));
        if (w > width)
            width = w;
    }
    for (const rz_conf_option_t *o = opts; o && o->name; o++) {
        int n = snprintf(flag, sizeof flag, "--%s %s", o->name,
                         o->arg ? o->arg : "");
        for (int j = 2; j < n && flag[j] != ' '; j++)
            if (flag[j] == '_')
                flag[j] = '-';
        const char *def = o->def && *o->def ? o->def : "\"\"";
        if (o->type == RZ_CONF_SECTIONS)
            continue; /* not a flag */
        if (o->type == RZ_CONF_MAP || o->type == RZ_CONF_LIST)
            fprintf(out, "  %-*s  %s (repeatable)\n", width, flag, o->desc);
        else
            fprintf(out, "  %-*s  %s (default: %s)\n", width, flag, o->desc,
                    def);
    }
}
