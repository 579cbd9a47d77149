/* sources.h - where inputs come from: files (one-shot and the drop
 * folder), tailed files (libuv timers) and HTTP POSTs (libmicrohttpd) */
#ifndef RZ_ADAPTER_SOURCES_H
#define RZ_ADAPTER_SOURCES_H

#include <uv.h>

#include "runtime.h"

/* A file's import progress, kept in the state under "file:<path>" in the
 * same transactions as its records (host byte order: the store never
 * leaves this machine). */
typedef struct rz_file_state {
    char content_id[65];
    uint8_t complete; /* every record is in the outbox or the quarantine */
    uint64_t records; /* records stored so far */
    uint64_t first_seq, last_seq; /* its events in the outbox (0: none) */
    uint64_t events, quarantined;
} rz_file_state_t;

/* Import one file (resuming an import a crash interrupted); flags as
 * rz_read_file_flags (RZ_READ_NOFOLLOW for the drop folder, where anyone
 * who may drop a file could drop a link instead). *st says which outbox
 * seqs hold its events, also on failure (the complete records of a file
 * cut short are kept). *bad_input is 1 when the
 * failure is the file's (unreadable, not the module's format: it belongs
 * in failed/), 0 when it is ours (the store: try again later). */
int rz_file_import(rz_rt_t *rt, const char *path, unsigned flags,
                   rz_file_state_t *st, int *bad_input, char *err,
                   size_t err_len);

/* Forget a file's progress (after done/ or failed/, or a one-shot). */
int rz_file_forget(rz_rt_t *rt, const char *path, int done, int failed);

typedef struct rz_sources rz_sources_t;

/* Start the drop folder and tailed files on loop. */
int rz_sources_start(rz_sources_t **out, rz_rt_t *rt, uv_loop_t *loop,
                     char *err, size_t err_len);
/* Look at finished files now (any thread: an uv_async). */
void rz_sources_acked(void *sources);
/* Close the handles; free happens in their close callbacks, so run the
 * loop once more after this. */
void rz_sources_close(rz_sources_t *s);

typedef struct rz_http rz_http_t;

int rz_http_start(rz_http_t **out, rz_rt_t *rt, const char *listen,
                  char *err, size_t err_len);
void rz_http_stop(rz_http_t **h);

#endif
