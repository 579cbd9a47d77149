/* broker.h - the core of ratuszd, shared by its front loop and its writer.
 *
 * Two threads:
 *
 *   front (server.c)                         writer (writer.c)
 *   ROUTER + XPUB + reads     -- job * -->    drains the queue, one LMDB
 *   decode, check, route      <-- job * --    transaction per drain (group
 *   acks, fan-out                             commit), fills outcomes
 *
 * Jobs travel as pointers over an inproc PAIR socket; a job belongs to one
 * thread at a time, so its memory needs no locks. Only the front thread
 * touches the ROUTER and XPUB sockets.
 *
 * With sync: full a third thread, the applier (writer.c), stores in LMDB
 * what the writer has journaled and acked (journal.h); the writer itself
 * only writes consumer group changes there. b->applied says how far LMDB
 * has got: a read that must see every acked event waits in the front
 * until it reaches b->acked.
 */
#ifndef RATUSZ_BROKER_BROKER_H
#define RATUSZ_BROKER_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

#include "arena.h"
#include "audit.h"
#include "config.h"
#include "journal.h"
#include "pindex.h"
#include "redact.h"
#include "retention.h"
#include "stats.h"
#include "store.h"

#define RZ_WRITER_ENDPOINT "inproc://ratusz-writer"

enum rz_job_kind {
    RZ_JOB_PUBLISH, /* items -> log */
    RZ_JOB_COMMIT   /* a consumer group position */
};

/* What the front thread remembers of each published event. */
typedef struct rz_job_meta {
    const char *tenant;
    size_t tenant_len;
    const char *domain;
    size_t domain_len;
    const char *reason; /* when items[i].code was set by the front */
} rz_job_meta_t;

/* Whether two events belong to one stats series (tenant, domain, source):
 * the writer and the fan-out count runs of a series at once. */
static inline int rz_job_same_series(const rz_job_meta_t *a,
                                     const rz_store_item_t *ai,
                                     const rz_job_meta_t *b,
                                     const rz_store_item_t *bi)
{
    return a->tenant_len == b->tenant_len && a->domain_len == b->domain_len &&
           ai->source_len == bi->source_len &&
           !memcmp(a->tenant, b->tenant, a->tenant_len) &&
           !memcmp(a->domain, b->domain, a->domain_len) &&
           !memcmp(ai->source, bi->source, ai->source_len);
}

typedef struct rz_job {
    int kind;
    /* the request, to answer it: [rid][delim?][cmd][corr] */
    zmq_msg_t rid;
    int has_delim;
    zmq_msg_t cmd;
    zmq_msg_t corr;
    zmq_msg_t body;       /* PUB: the event bytes live here */
    rz_arena_t arena;     /* everything else of this job */
    int reply;            /* 0: internal job, nobody waits for it */

    /* RZ_JOB_PUBLISH */
    size_t n;
    rz_store_item_t *items;
    rz_job_meta_t *meta;
    int durability;
    int64_t ingest_time; /* the stamp the writer gave the new events */

    /* RZ_JOB_COMMIT */
    const char *group;
    const char *prefix;
    uint64_t seq;
    int op; /* 0 a commit; RZ_CONSUMER_RESET or RZ_CONSUMER_DELETE */

    int rc; /* writer: 0, or the code of the whole transaction */
    size_t held; /* bytes counted against the memory budget while queued */
} rz_job_t;

struct rz_writer_here;

typedef struct rz_broker {
    rz_config_t *cfg;
    rz_store_t *store;
    rz_stats_t *stats;
    void *zctx;
    pthread_t writer;
    atomic_int store_full;  /* the last append failed: 1 the map is at
                               map_max (RZ_ESTOREFULL), 2 the disk is full
                               or failing (RZ_EDISKFULL); 0 again after the
                               next commit that succeeds */
    atomic_int stopping;
    /* sync: full (journal.h): the writer acks what the journal holds and
     * the applier brings LMDB up to it behind the acks. NULL with sync: os,
     * where the writer commits to LMDB itself. */
    rz_journal_t *journal;
    atomic_uint_fast64_t applied; /* every seq up to this is in LMDB */
    atomic_uint_fast64_t acked;   /* the front's: the highest seq acked */
    atomic_int read_waiting;      /* the front holds reads for the applier */
    atomic_int apply_failing;     /* the applier's last failure, 0 when its
                                     last transaction committed */
    /* the writer's lock and state, for groups the front runs itself
     * (rz_writer_run_here); NULL while the journal's writer is not up */
    _Atomic(struct rz_writer_here *) here;
    int64_t started_us;

    /* security (docs/SECURITY.md) */
    int curve;                      /* CURVE and grants are on */
    char server_public[41];         /* Z85 */
    char server_secret[41];
    rz_redact_key_t redact_key;
    rz_audit_t *audit;              /* never NULL while serving */
    atomic_uint_fast64_t handshakes_refused;
    atomic_uint_fast64_t denied;
    atomic_uint_fast64_t redacted;
    atomic_uint_fast64_t queued_bytes; /* the front's, for stats */
    rz_retention_t *retention;         /* its own thread; NULL: no rules */
    rz_pindex_t *pindex;               /* the pseudonym index's thread */

    /* reload: the command line the config was built from (main's argv),
     * built again the same way so that flags keep overriding the file */
    int argc;
    char **argv;

    /* systemd's watchdog (notify.h): each thread that must not hang bumps
     * its count at least once a second, busy or idle */
    atomic_uint_fast64_t beat_writer;
    atomic_uint_fast64_t beat_applier;
    /* test only: RATUSZ_TEST_STALL_WRITER, read once at start: while this
     * file exists the writer sleeps without beating (a hung disk) */
    const char *test_stall_writer;
} rz_broker_t;

/* The ZAP handler (zap.c, RFC 27): a thread answering ZeroMQ's
 * authentication requests for every socket of b->zctx from the grants in
 * force (access.h) when CURVE is on, counting and auditing each refusal,
 * and watching the given sockets for handshakes that fail before ZAP is
 * asked (a client without CURVE, a wrong server key) and for connections
 * refused for lack of file descriptors. Start it before binding. */
typedef struct rz_zap rz_zap_t;
int rz_zap_start(rz_zap_t **out, rz_broker_t *b);
/* Watch a bound socket's handshake failures; name goes into the audit. */
int rz_zap_watch(rz_zap_t *z, void *socket, const char *name);
void rz_zap_stop(rz_zap_t **z);

/* Decide one ZAP request given as frames (the handler's core, exposed for
 * the fuzzer): writes the reply's status code ("200", "400", "500"), text
 * and user id; a refusal is counted and audited. Returns 0, or -1 for a
 * request that is not ZAP 1.0. */
int rz__zap_decide(rz_broker_t *b, const uint8_t *const *f, const size_t *n,
                   int nframes, char code[4], char *text, size_t text_len,
                   char *user, size_t user_len);

/* The writer thread's body: arg is the rz_broker_t. It connects a PAIR to
 * RZ_WRITER_ENDPOINT and serves jobs until it receives a NULL job. */
void *rz_writer_main(void *arg);

/* With sync: full, run n publish jobs on the calling thread (the front)
 * when the writer is idle, as the writer would: returns 1 when they ran
 * (each job's results are set and nothing comes back through the pipe),
 * 0 when they should be queued for the writer. The caller must have
 * nothing queued for the writer, so that groups keep their order. */
int rz_writer_run_here(rz_broker_t *b, rz_job_t **jobs, size_t n);

/* Run the front loop until SIGTERM/SIGINT (or rz_server_stop), then drain:
 * every queued publish is committed and acked before it returns. Returns 0
 * or a negative code when a socket could not be set up. */
int rz_server_run(rz_broker_t *b);

/* Ask a running server to stop (async-signal-safe). */
void rz_server_stop(void);

/* Free a job and its messages. Safe with NULL. */
void rz_job_free(rz_job_t *job);

/* Fill a Stats message for STATS and /metrics; free with
 * rz_broker_stats_free. */
int rz_broker_stats(rz_broker_t *b, Ratusz__V1__Stats *out);
void rz_broker_stats_free(Ratusz__V1__Stats *out);

/* The status word of /healthz and HEALTH: "ok", "store-full", "disk-full",
 * "stopping". */
const char *rz_broker_status(rz_broker_t *b);

#endif
