/* arena.c - a bump allocator for one request's short-lived memory */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define S_CHUNK 16384
#define S_ALIGN 16

struct rz_arena_chunk {
    rz_arena_chunk_t *next;
    size_t cap;
    max_align_t data[];
};

static void *s_pb_alloc(void *data, size_t size)
{
    return rz_arena_alloc(data, size);
}

static void s_pb_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

void rz_arena_init(rz_arena_t *a)
{
    memset(a, 0, sizeof *a);
    a->pb.alloc = s_pb_alloc;
    a->pb.free = s_pb_free;
    a->pb.allocator_data = a;
}

void rz_arena_close(rz_arena_t *a)
{
    rz_arena_chunk_t *c = a->head;
    while (c) {
        rz_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->ptr = NULL;
    a->left = 0;
    a->used = 0;
}

void rz_arena_reset(rz_arena_t *a)
{
    rz_arena_chunk_t *keep = NULL, *c = a->head;
    while (c) {
        rz_arena_chunk_t *next = c->next;
        if (!keep && c->cap == S_CHUNK) {
            keep = c;
            keep->next = NULL;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = keep;
    a->ptr = keep ? (char *)keep->data : NULL;
    a->left = keep ? S_CHUNK : 0;
    a->used = 0;
}

void *rz_arena_alloc(rz_arena_t *a, size_t size)
{
    size = (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    if (size > a->left) {
        size_t cap = size > S_CHUNK / 4 ? size : S_CHUNK;
        rz_arena_chunk_t *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        if (cap == size && a->head) {
            /* A big block: keep the current chunk's free space in use. */
            c->next = a->head->next;
            a->head->next = c;
            a->used += size;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->ptr = (char *)c->data;
        a->left = cap;
    }
    void *p = a->ptr;
    a->ptr += size;
    a->left -= size;
    a->used += size;
    return p;
}

char *rz_arena_strndup(rz_arena_t *a, const char *s, size_t n)
{
    char *p = rz_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
