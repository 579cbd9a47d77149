/* harness.h - test helpers: temp dirs, free ports, the real ratuszd process
 *
 * Integration tests start the real broker binary on 127.0.0.1 with a temp
 * LMDB directory and free ports, talk to it with the real client library,
 * and stop it with SIGTERM or kill it with SIGKILL.
 */
#ifndef RATUSZ_TEST_HARNESS_H
#define RATUSZ_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ratusz/ratusz.h"

/* RZT_ASAN is 1 in a build with AddressSanitizer: the sanitizer's own
 * memory then dominates a process's RSS, so memory bounds are not
 * checked there (the attacks still run). */
#if defined(__SANITIZE_ADDRESS__)
#define RZT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RZT_ASAN 1
#endif
#endif
#ifndef RZT_ASAN
#define RZT_ASAN 0
#endif

/* Make a fresh directory under $TMPDIR (or /tmp); path gets its name. */
int rzt_tmpdir(char *path, size_t len);

/* Remove a directory tree (rm -rf). */
void rzt_rmtree(const char *path);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int rzt_free_port(void);

/* Entries of the LMDB database db in the environment dir (opened read-only
 * with the C API: the store's owner stopped), 0 when there is no such
 * database; SIZE_MAX when the environment does not open. */
size_t rzt_lmdb_entries(const char *dir, const char *db);

typedef struct rzt_broker {
    pid_t pid;
    char dir[256];       /* data dir (a temp dir unless given) */
    char front[64];      /* tcp://127.0.0.1:PORT */
    char stream[64];
    char metrics[64];    /* 127.0.0.1:PORT */
    char log[300];       /* the broker's stderr */
    const char *extra[16]; /* extra "--option", "value" pairs, NULL-ended */
    int own_dir;
} rzt_broker_t;

/* Start ratuszd with a fresh temp data dir and free ports, and wait until it
 * answers HEALTH (10 s). extra: NULL or a NULL-terminated list of more
 * arguments. Returns 0 or -1 (with the log printed). */
int rzt_broker_start(rzt_broker_t *b, const char *const *extra);

/* Start it again on the same dir and ports, after stop or kill (-1 while
 * it still runs: the restart would find its store locked and its port
 * answered by the old one). */
int rzt_broker_restart(rzt_broker_t *b);

/* SIGTERM and wait; returns the exit status (or -1). */
int rzt_broker_stop(rzt_broker_t *b);

/* SIGKILL and wait. */
void rzt_broker_kill(rzt_broker_t *b);

/* Stop if running and remove the temp dir. */
void rzt_broker_cleanup(rzt_broker_t *b);

/* CURVE for every client the harness makes from now on (the readiness probe
 * of rzt_broker_start, rzt_client, rzt_head): this client's key pair and
 * the broker's public key, Z85; NULLs turn it off. The strings are copied. */
void rzt_curve(const char *public_z85, const char *secret_z85,
               const char *server_z85);

/* Fill o's curve_* fields from the rzt_curve setting. */
void rzt_curve_opts(rz_client_opts_t *o);

/* A new CURVE key pair, Z85 (41 bytes each, NUL-terminated). */
void rzt_keypair(char *public_z85, char *secret_z85);

/* Write a secret key file in the `ratusz keygen` format (mode 0600) to
 * path. Returns 0 or -1. */
int rzt_write_key(const char *path, const char *name, const char *public_z85,
                  const char *secret_z85);

/* The port of a "tcp://HOST:PORT" endpoint, or -1. */
int rzt_endpoint_port(const char *endpoint);

/* A plain TCP connection to 127.0.0.1:port (for peers that speak no
 * ZeroMQ), or -1. */
int rzt_tcp_connect(int port);

/* A field of /proc/PID/status in KiB ("VmRSS", "RssAnon"), or -1. */
long rzt_status_kb(pid_t pid, const char *key);

/* cmocka group fixtures: a broker with default options (or extra
 * arguments) started into *state, and its clean-up. */
int rzt_setup_with(void **state, const char *const *extra);
int rzt_setup(void **state);
int rzt_teardown(void **state);

/* A client to b with a short timeout. */
rz_client_t *rzt_client(const rzt_broker_t *b, uint32_t window,
                        uint32_t batch);

/* A valid event: tenant 1261011, type pl.gov.gmina.budget.test.v1 with a
 * budget entry of amount grosze, the given source, id and subject. The
 * strings are borrowed: ev points into them. */
void rzt_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
               const char *source, const char *id, const char *subject,
               int64_t time, int64_t amount);

/* Run a shell command, capturing stdout into out (NUL-terminated, may be
 * NULL). Returns the exit status, or -1. */
int rzt_run(const char *cmd, char *out, size_t out_len);

/* ---------------------------------------------------------------------------
 * More helpers for the integration tests
 */

/* Publish ev on c and wait for its outcome. Replaces c's ack callback.
 * Returns the ack code (0 or a negative RZ_E*), or the error of publishing
 * or flushing; *seq (may be NULL) gets the acked seq. */
int rzt_publish_sync(rz_client_t *c, const Ratusz__V1__Event *ev,
                     uint64_t *seq);

/* The broker's head seq (HEALTH through a fresh client), or 0 on error. */
uint64_t rzt_head(const rzt_broker_t *b);

/* 1 while the broker process is running (not exited, not a zombie). */
int rzt_broker_alive(const rzt_broker_t *b);

/* GET http://hostport/path over plain HTTP/1.0. The body (after the
 * headers) goes to body, NUL-terminated and cut at len - 1. Returns the
 * HTTP status, or -1 on a connection or protocol error. */
int rzt_http_get(const char *hostport, const char *path, char *body,
                 size_t len);

/* 1 when s[0..len) holds mojibake: a Polish letter written as UTF-8 and
 * read back as Windows-1250 ("GdaĹ„sk" for "Gdańsk"). */
int rzt_mojibake(const void *s, size_t len);

/* 1 when any string of ev (its packed bytes) holds mojibake. */
int rzt_event_mojibake(const Ratusz__V1__Event *ev);

#endif
