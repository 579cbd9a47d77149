/* subjtab.c - the newest part of the subject index, in memory (subjtab.h)
 *
 * Entries sit in one array in the order they came (seq order). Each one
 * links to the entry before it of the same subject; a subject's head (in
 * an open-addressed hash table) holds its last entry. Taking back the
 * newest entries walks them newest first and points each head at the
 * entry before, so it costs what adding them did.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif

#include "subjtab.h"

#include <stdlib.h>
#include <string.h>

#include "ratusz/core/buf.h"
#include "ratusz/ratusz.h"

#define S_TIME_BIAS UINT64_C(0x8000000000000000)

typedef struct s_ent {
    uint8_t ent[RZ_SUBJTAB_ENT];
    uint32_t prev; /* the subject's entry before: index + 1, 0 for none */
    uint32_t head;
} s_ent_t;

typedef struct s_head {
    uint64_t hash;
    uint32_t off, len; /* the subject, in strs */
    uint32_t last;     /* its newest entry: index + 1, 0 for none */
} s_head_t;

struct rz_subjtab {
    uint64_t lo;
    s_ent_t *ents;
    size_t n, cap;
    s_head_t *heads;
    size_t n_heads, cap_heads;
    uint32_t *slots; /* head index + 1; 0 is free */
    size_t mask;
    char *strs;
    size_t n_strs, cap_strs;
};

static uint64_t s_hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211u;
    return h;
}

void rz_subjtab_ent(uint8_t ent[RZ_SUBJTAB_ENT], int64_t time, uint64_t seq)
{
    uint64_t t = (uint64_t)time ^ S_TIME_BIAS;
    for (int i = 0; i < 8; i++) {
        ent[i] = (uint8_t)(t >> (56 - 8 * i));
        ent[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
}

static uint64_t s_ent_seq(const uint8_t *ent)
{
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | ent[i];
    return v;
}

rz_subjtab_t *rz_subjtab_new(uint64_t lo)
{
    rz_subjtab_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->lo = lo;
    t->mask = 255;
    t->slots = calloc(t->mask + 1, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    return t;
}

void rz_subjtab_free(rz_subjtab_t *t)
{
    if (!t)
        return;
    free(t->ents);
    free(t->heads);
    free(t->slots);
    free(t->strs);
    free(t);
}

uint64_t rz_subjtab_lo(const rz_subjtab_t *t)
{
    return t->lo;
}

size_t rz_subjtab_count(const rz_subjtab_t *t)
{
    return t->n;
}

size_t rz_subjtab_bytes(const rz_subjtab_t *t)
{
    return sizeof *t + t->cap * sizeof *t->ents +
           t->cap_heads * sizeof *t->heads + (t->mask + 1) * sizeof *t->slots +
           t->cap_strs;
}

/* The slot of subject: its head's, or the free one where it would go. */
static size_t s_slot(const rz_subjtab_t *t, const char *subject, size_t len,
                     uint64_t h)
{
    size_t i = h & t->mask;
    for (;;) {
        uint32_t at = t->slots[i];
        if (!at)
            return i;
        const s_head_t *hd = &t->heads[at - 1];
        if (hd->hash == h && hd->len == len &&
            memcmp(t->strs + hd->off, subject, len) == 0)
            return i;
        i = (i + 1) & t->mask;
    }
}

static int s_rehash(rz_subjtab_t *t)
{
    size_t size = 2 * (t->mask + 1);
    uint32_t *slots = calloc(size, sizeof *slots);
    if (!slots)
        return RZ_ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    for (size_t h = 0; h < t->n_heads; h++) {
        size_t i = t->heads[h].hash & t->mask;
        while (t->slots[i])
            i = (i + 1) & t->mask;
        t->slots[i] = (uint32_t)h + 1;
    }
    return 0;
}

int rz_subjtab_add(rz_subjtab_t *t, const char *subject, size_t len,
                   int64_t time, uint64_t seq)
{
    if (!len || len > UINT16_MAX || t->n >= UINT32_MAX - 1)
        return RZ_EINVAL;
    if (rzc_grow((void **)&t->ents, &t->cap, t->n + 1, sizeof *t->ents))
        return RZ_ENOMEM;
    uint64_t h = s_hash(subject, len);
    size_t slot = s_slot(t, subject, len, h);
    uint32_t at = t->slots[slot];
    if (!at) {
        if (rzc_grow((void **)&t->heads, &t->cap_heads, t->n_heads + 1,
                     sizeof *t->heads) ||
            rzc_grow((void **)&t->strs, &t->cap_strs, t->n_strs + len, 1))
            return RZ_ENOMEM;
        memcpy(t->strs + t->n_strs, subject, len);
        t->heads[t->n_heads] =
            (s_head_t){h, (uint32_t)t->n_strs, (uint32_t)len, 0};
        t->n_strs += len;
        at = (uint32_t)++t->n_heads;
        t->slots[slot] = at;
        /* at most half full; a failed rehash only makes lookups longer */
        if (2 * t->n_heads > t->mask + 1)
            (void)s_rehash(t);
    }
    s_head_t *hd = &t->heads[at - 1];
    s_ent_t *e = &t->ents[t->n];
    rz_subjtab_ent(e->ent, time, seq);
    e->prev = hd->last;
    e->head = at - 1;
    hd->last = (uint32_t)++t->n;
    return 0;
}

void rz_subjtab_truncate(rz_subjtab_t *t, size_t n)
{
    while (t->n > n) {
        const s_ent_t *e = &t->ents[--t->n];
        t->heads[e->head].last = e->prev;
    }
}

int rz_subjtab_find(const rz_subjtab_t *t, const char *subject, size_t len,
                    uint64_t lo, uint64_t hi, uint8_t **buf, size_t *n,
                    size_t *cap)
{
    if (!len || len > UINT16_MAX)
        return 0;
    uint32_t at = t->slots[s_slot(t, subject, len, s_hash(subject, len))];
    if (!at)
        return 0;
    for (uint32_t i = t->heads[at - 1].last; i; i = t->ents[i - 1].prev) {
        const uint8_t *ent = t->ents[i - 1].ent;
        uint64_t seq = s_ent_seq(ent);
        if (seq <= lo)
            break; /* older ones are older still */
        if (seq > hi)
            continue;
        if (rzc_grow((void **)buf, cap, *n + 1, RZ_SUBJTAB_ENT))
            return RZ_ENOMEM;
        memcpy(*buf + *n * RZ_SUBJTAB_ENT, ent, RZ_SUBJTAB_ENT);
        (*n)++;
    }
    return 0;
}

static int s_head_cmp(const void *a, const void *b, void *arg)
{
    const rz_subjtab_t *t = arg;
    const s_head_t *x = &t->heads[*(const uint32_t *)a];
    const s_head_t *y = &t->heads[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(t->strs + x->off, t->strs + y->off, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int s_ent_cmp(const void *a, const void *b)
{
    return memcmp(a, b, RZ_SUBJTAB_ENT);
}

int rz_subjtab_each(const rz_subjtab_t *t, rz_subjtab_fn fn, void *user)
{
    uint32_t *order = malloc((t->n_heads ? t->n_heads : 1) * sizeof *order);
    uint8_t *ents = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!order)
        return RZ_ENOMEM;
    for (size_t h = 0; h < t->n_heads; h++)
        order[h] = (uint32_t)h;
    qsort_r(order, t->n_heads, sizeof *order, s_head_cmp, (void *)t);
    for (size_t o = 0; o < t->n_heads && !rc; o++) {
        const s_head_t *hd = &t->heads[order[o]];
        size_t n = 0;
        for (uint32_t i = hd->last; i && !rc; i = t->ents[i - 1].prev) {
            rc = rzc_grow((void **)&ents, &cap, n + 1, RZ_SUBJTAB_ENT)
                     ? RZ_ENOMEM
                     : 0;
            if (!rc)
                memcpy(ents + n++ * RZ_SUBJTAB_ENT, t->ents[i - 1].ent,
                       RZ_SUBJTAB_ENT);
        }
        /* newest first, and times mostly rise with seqs: reversed, the
         * entries are nearly sorted already */
        for (size_t i = 0; i < n / 2; i++) {
            uint8_t tmp[RZ_SUBJTAB_ENT];
            memcpy(tmp, ents + i * RZ_SUBJTAB_ENT, RZ_SUBJTAB_ENT);
            memcpy(ents + i * RZ_SUBJTAB_ENT,
                   ents + (n - 1 - i) * RZ_SUBJTAB_ENT, RZ_SUBJTAB_ENT);
            memcpy(ents + (n - 1 - i) * RZ_SUBJTAB_ENT, tmp, RZ_SUBJTAB_ENT);
        }
        if (!rc && n > 1)
            qsort(ents, n, RZ_SUBJTAB_ENT, s_ent_cmp);
        for (size_t i = 0; i < n && !rc; i++)
            rc =
                fn(t->strs + hd->off, hd->len, ents + i * RZ_SUBJTAB_ENT, user);
    }
    free(ents);
    free(order);
    return rc;
}
