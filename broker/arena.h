/* arena.h - a bump allocator for one request's short-lived memory.
 *
 * Decoding a batch allocates many small strings; they all die together when
 * the request is answered, so they come from a list of chunks freed at once.
 * Also usable as a ProtobufCAllocator (free is a no-op).
 */
#ifndef RATUSZ_BROKER_ARENA_H
#define RATUSZ_BROKER_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct rz_arena_chunk rz_arena_chunk_t;

typedef struct rz_arena {
    rz_arena_chunk_t *head;
    char *ptr;          /* next free byte in head */
    size_t left;        /* bytes left in head */
    size_t used;        /* bytes handed out, for limits */
    ProtobufCAllocator pb; /* allocator view of this arena */
} rz_arena_t;

void rz_arena_init(rz_arena_t *a);
/* Free every chunk; the arena can be used again. */
void rz_arena_close(rz_arena_t *a);
/* Free every chunk but one of the usual size, kept for the next use: an
 * arena used again and again (a pooled job's) then allocates nothing while
 * what it is asked for fits in one chunk. */
void rz_arena_reset(rz_arena_t *a);

/* size bytes aligned for any type, or NULL. */
void *rz_arena_alloc(rz_arena_t *a, size_t size);
/* A NUL-terminated copy of n bytes, or NULL. */
char *rz_arena_strndup(rz_arena_t *a, const char *s, size_t n);

#endif
