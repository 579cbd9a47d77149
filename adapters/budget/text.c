/* text.c - what the budget formats share: numbers, periods, TERYT codes,
 * ids and event building (encodings, amounts and the Warsaw clock are
 * ratusz/core). */
#include "budget.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Numbers
 */

int rz__budget_uint(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Dates in Poland
 */

int64_t rz__budget_period_end_us(const char *period)
{
    int64_t y, n;
    char ybuf[5];
    if (strlen(period) < 4)
        return 0;
    memcpy(ybuf, period, 4);
    ybuf[4] = '\0';
    if (rz__budget_uint(ybuf, 9999, &y) || y < 1900)
        return 0;
    const char *rest = period + 4;
    if (!*rest)
        return rzc_warsaw_midnight_us((int)y + 1, 1, 1);
    if (rest[0] == '-' && (rest[1] == 'Q' || rest[1] == 'q') &&
        rz__budget_uint(rest + 2, 4, &n) == 0 && n >= 1) {
        int m = (int)n * 3 + 1;
        return m > 12 ? rzc_warsaw_midnight_us((int)y + 1, 1, 1)
                      : rzc_warsaw_midnight_us((int)y, m, 1);
    }
    if (rest[0] == '-' && strlen(rest) == 3 &&
        rz__budget_uint(rest + 1, 12, &n) == 0 && n >= 1) {
        return n == 12 ? rzc_warsaw_midnight_us((int)y + 1, 1, 1)
                       : rzc_warsaw_midnight_us((int)y, (int)n + 1, 1);
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * TERYT, names, ids
 */

int rz__budget_is_missing(const char *s)
{
    static const char *const words[] = {"-", "none", "null", "nan"};
    if (!s)
        return 1;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = 0;
        while (k < n && words[i][k] &&
               (s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]) == words[i][k])
            k++;
        if (k == n && !words[i][k])
            return 1;
    }
    return 0;
}

int rz__budget_is_terc(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return 0;
    return n == 2 || n == 4 || n == 7;
}

int rz__budget_tenant_from_code(const char *code, char out[8])
{
    if (strlen(code) != 7)
        return -1;
    for (int i = 0; i < 7; i++)
        if (code[i] < '0' || code[i] > '9')
            return -1;
    int pow0 = code[2] == '0' && code[3] == '0';
    int gmi0 = code[4] == '0' && code[5] == '0' && code[6] == '0';
    if (code[0] == '0' && code[1] == '0')
        return -1; /* the whole country: no tenant */
    if (pow0 && !gmi0)
        return -1;
    size_t n = pow0 ? 2 : gmi0 ? 4 : 7;
    memcpy(out, code, n);
    out[n] = '\0';
    return 0;
}

/* ASCII for a UTF-8 Polish letter at s (length in *n), or 0. */
static char s_fold_pl(const uint8_t *s, size_t *n)
{
    static const struct {
        uint8_t a, b;
        char c;
    } map[] = {
        {0xc4, 0x85, 'a'}, {0xc4, 0x84, 'a'}, {0xc4, 0x87, 'c'},
        {0xc4, 0x86, 'c'}, {0xc4, 0x99, 'e'}, {0xc4, 0x98, 'e'},
        {0xc5, 0x82, 'l'}, {0xc5, 0x81, 'l'}, {0xc5, 0x84, 'n'},
        {0xc5, 0x83, 'n'}, {0xc3, 0xb3, 'o'}, {0xc3, 0x93, 'o'},
        {0xc5, 0x9b, 's'}, {0xc5, 0x9a, 's'}, {0xc5, 0xba, 'z'},
        {0xc5, 0xb9, 'z'}, {0xc5, 0xbc, 'z'}, {0xc5, 0xbb, 'z'},
    };
    if (s[0] < 0x80) {
        *n = 1;
        char c = (char)s[0];
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (s[0] == map[i].a && s[1] == map[i].b) {
            *n = 2;
            return map[i].c;
        }
    *n = 1;
    return 0;
}

void rz__budget_fold(const char *s, char *out, size_t len)
{
    size_t o = 0;
    int space = 0;
    const uint8_t *p = (const uint8_t *)s;
    if (!len)
        return;
    while (*p) {
        size_t n;
        char c = s_fold_pl(p, &n);
        if (c == 0) { /* other non-ASCII: kept as is ("§") */
            if (o + 1 < len)
                out[o++] = (char)*p;
            p++;
            continue;
        }
        p += n;
        if (c == ' ' || c == '_' || c == '\t' || c == '\r' || c == '\n') {
            space = o > 0;
            continue;
        }
        if (space && o + 1 < len)
            out[o++] = ' ';
        space = 0;
        if (o + 1 < len)
            out[o++] = c;
    }
    out[o] = '\0';
}

void rz__budget_slug(const char *s, char *out, size_t len)
{
    size_t o = 0;
    int dash = 0;
    const uint8_t *p = (const uint8_t *)s;
    if (!len)
        return;
    while (*p) {
        size_t n;
        char c = s_fold_pl(p, &n);
        p += n;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o > 0 && o + 1 < len)
                out[o++] = '-';
            dash = 0;
            if (o + 1 < len)
                out[o++] = c;
        } else {
            dash = 1;
        }
    }
    out[o] = '\0';
}

char *rz__budget_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int rz__budget_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                          const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* the reason is one line */
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* a failure here is the runtime's to handle (see adapter.h) */
    (void)rz_out_quarantine(out, ref, why);
    return 0;
}

int rz__budget_emit(rz_out_t *out, const rz_record_ref_t *ref,
                    const Ratusz__V1__Event *ev)
{
    /* an event the bus would refuse (rz_out_event checks it), or one the
     * runtime could not take, has its record quarantined; the module goes
     * on with the next one */
    (void)rz_out_event(out, ref, ev);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Events
 */

void rz__budget_ev_init(rz_budget_ev_t *e)
{
    memset(e, 0, sizeof *e);
    rz__budget_ev_budget(e, "");
}

static void s_ev_clear(rz_budget_ev_t *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    e->n_owned = 0;
    ratusz__v1__event__init(&e->ev);
    ratusz__v1__budget_entry__init(&e->b);
    ratusz__v1__raw_data__init(&e->raw);
    e->id[0] = '\0';
    e->tenant[0] = '\0';
    e->ev.id = e->id;
    e->ev.tenant = e->tenant;
}

void rz__budget_ev_budget(rz_budget_ev_t *e, const char *type)
{
    s_ev_clear(e);
    e->ev.type = (char *)type;
    e->ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    e->ev.budget = &e->b;
    e->b.currency = "PLN";
    e->b.attributes = e->attrp;
}

void rz__budget_ev_raw(rz_budget_ev_t *e, const char *type,
                       const char *content_type, const uint8_t *bytes,
                       size_t len)
{
    s_ev_clear(e);
    e->ev.type = (char *)type;
    e->ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    e->ev.raw = &e->raw;
    e->raw.content_type = (char *)content_type;
    e->raw.bytes.data = (uint8_t *)bytes;
    e->raw.bytes.len = len;
}

int rz__budget_ev_attr(rz_budget_ev_t *e, const char *key, const char *value)
{
    size_t n = e->b.n_attributes;
    if (n == e->attr_cap) {
        size_t cap = e->attr_cap ? e->attr_cap * 2 : 16;
        Ratusz__V1__BudgetEntry__AttributesEntry *a = malloc(cap * sizeof *a);
        Ratusz__V1__BudgetEntry__AttributesEntry **ap =
            malloc(cap * sizeof *ap);
        if (!a || !ap) {
            free(a);
            free(ap);
            return RZ_ENOMEM;
        }
        if (n)
            memcpy(a, e->attr, n * sizeof *a);
        for (size_t i = 0; i < cap; i++)
            ap[i] = &a[i];
        free(e->attr);
        free(e->attrp);
        e->attr = a;
        e->attrp = ap;
        e->attr_cap = cap;
        e->b.attributes = ap;
    }
    ratusz__v1__budget_entry__attributes_entry__init(&e->attr[n]);
    e->attr[n].key = (char *)key;
    e->attr[n].value = (char *)value;
    e->b.n_attributes = n + 1;
    return 0;
}

char *rz__budget_ev_own(rz_budget_ev_t *e, char *s)
{
    if (!s)
        return NULL;
    if (e->n_owned == e->owned_cap) {
        size_t cap = e->owned_cap ? e->owned_cap * 2 : 8;
        char **o = realloc(e->owned, cap * sizeof *o);
        if (!o) {
            free(s);
            return NULL;
        }
        e->owned = o;
        e->owned_cap = cap;
    }
    e->owned[e->n_owned++] = s;
    return s;
}

void rz__budget_ev_free(rz_budget_ev_t *e)
{
    s_ev_clear(e);
    free(e->owned);
    free(e->attr);
    free(e->attrp);
    memset(e, 0, sizeof *e);
}

const char *rz__budget_ev_source(rz_budget_ev_t *e, const rz_budget_state_t *st,
                                 const char *system)
{
    if (st->source && *st->source)
        return st->source;
    return rz__budget_ev_own(
        e, rz__budget_printf("/%s/budget/%s", e->tenant, system));
}

/* ---------------------------------------------------------------------------
 * A set of strings (open addressing, FNV-1a)
 */

static uint64_t s_hash(const char *k)
{
    uint64_t h = 14695981039346656037ull;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return h;
}

int rz__budget_set_add(rz_budget_set_t *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return RZ_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t j = s_hash(s->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t j = s_hash(key) & (s->cap - 1);
    while (s->slot[j]) {
        if (strcmp(s->slot[j], key) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    if (!(s->slot[j] = strdup(key)))
        return RZ_ENOMEM;
    s->n++;
    return 0;
}

int rz__budget_set_has(const rz_budget_set_t *s, const char *key)
{
    if (!s->cap)
        return 0;
    size_t j = s_hash(key) & (s->cap - 1);
    while (s->slot[j]) {
        if (strcmp(s->slot[j], key) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

void rz__budget_set_free(rz_budget_set_t *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}
