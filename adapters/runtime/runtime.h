/* runtime.h - the adapter runtime's internal header: configuration, the
 * runtime object shared by the sources, the publisher and the sink, and
 * the ingest path (rz_out_t) that puts module output into the outbox or
 * the quarantine.
 *
 * Threads: the libuv loop (drop folder, tailed files, timers, signals),
 * libmicrohttpd's thread (POSTs), the publisher (outbox -> broker) and the
 * sink (broker -> system) each own their part. Ingest is serialised by
 * rt->ingest_lock because a module's parse state is not thread-safe; LMDB
 * serialises the writers; counters are atomics.
 */
#ifndef RZ_ADAPTER_RUNTIME_H
#define RZ_ADAPTER_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "ratusz/adapter.h"
#include "ratusz/keyopts.h"
#include "store.h"
#include "teryt.h"

#define RZ_ADAPTER_MAX_MODULES 32

/* ---------------------------------------------------------------------------
 * Module table (modules.c, generated)
 */

/* NULL-terminated. */
const rz_adapter_module_t *const *rz_rt_modules(void);
const rz_adapter_module_t *rz_rt_module_find(const char *name);

/* ---------------------------------------------------------------------------
 * Configuration (config.c)
 */

enum rz_sink_kind { RZ_SINK_NONE = 0, RZ_SINK_MODULE, RZ_SINK_WEBHOOK };
enum rz_http_auth {
    RZ_HTTP_AUTH_AUTO = 0,
    RZ_HTTP_AUTH_TOKEN,
    RZ_HTTP_AUTH_NONE
};

typedef struct rz_rt_conf {
    char *system;
    char *name;
    char *broker;
    char *key;        /* CURVE: this adapter's secret key file */
    char *server_key; /* CURVE: the broker's public key (file or Z85) */
    char *source;
    char *data_dir;
    char *drop_dir;
    uint64_t drop_settle_ms;
    uint64_t poll_ms;
    rz_conf_list_t tail;
    char *http;
    rz_conf_map_t http_tokens; /* client name -> "sha256:<64 hex>" */
    int http_auth;             /* enum rz_http_auth */
    uint64_t http_max_body;
    rz_conf_list_t teryt;
    uint64_t window;
    uint64_t batch;
    uint64_t timeout_ms;
    uint64_t report_ms;
    uint64_t outbox_size;
    uint64_t max_event;
    uint64_t commit_every;
    uint64_t wait_ms;
    int sink;
    char *sink_target;
    char *sink_group;
    char *sink_topic_prefix;
    uint64_t sink_batch;
    uint64_t sink_retries;
    int log_level; /* enum rzc_log_level */
    /* the YAML section of each module, by the module's index */
    rz_conf_map_t sections[RZ_ADAPTER_MAX_MODULES];
} rz_rt_conf_t;

/* The option table for these modules (base options plus one section per
 * module), malloc'd; free with free(). NULL on ENOMEM. */
rz_conf_option_t *rz_rt_conf_options(const rz_adapter_module_t *const *mods);

/* Whole-config check after loading: the system is a known module, only
 * its own section is given, defaults derived from the system are filled.
 * need_store: data_dir is required. 0 or RZ_ECONFIG with err. */
int rz_rt_conf_finish(rz_rt_conf_t *conf,
                      const rz_adapter_module_t *const *mods, const char *file,
                      int need_store, char *err, size_t err_len);

/* The check of http, http_tokens and http_auth (http.c): the address
 * parses, every token entry is "sha256:<64 hex>" under a usable client
 * name, and a listener beyond loopback is not left open by accident.
 * file names the config in messages. 0 or RZ_ECONFIG with err. */
int rz_http_check_conf(const rz_rt_conf_t *conf, const char *file, char *err,
                       size_t err_len);

/* ---------------------------------------------------------------------------
 * The runtime
 */

/* Publish latency histogram buckets, in microseconds (the last is +inf). */
#define RZ_LAT_BUCKETS 16

typedef struct rz_rt_stats {
    _Atomic uint64_t lat_counts[RZ_LAT_BUCKETS];
    _Atomic uint64_t lat_count;
    _Atomic uint64_t lat_sum_us;
    _Atomic uint64_t http_requests;
    _Atomic uint64_t http_rejected;
    _Atomic uint64_t http_unauthorized; /* of which: 401, no or bad token */
    _Atomic uint64_t publish_retries;
    _Atomic uint64_t sink_events;
    _Atomic uint64_t sink_errors;
    _Atomic uint64_t sink_committed; /* the sink's last committed seq */
} rz_rt_stats_t;

/* Tenants seen, for the report's detail line. */
#define RZ_RT_TENANTS 16

typedef struct rz_rt {
    rz_rt_conf_t *conf;
    /* CURVE keys for every client the runtime makes (publisher, sink);
     * NULL: plain. Borrowed from main, which loads them at start. */
    const rz_keyopts_t *keys;
    const char *conf_file;
    const rz_adapter_module_t *mod;
    void *mod_conf;  /* conf_size bytes, filled from the section */
    void *mod_state; /* from mod->open */
    int mod_opened;
    rz_teryt_t *teryt;
    rz_astore_t *store; /* NULL in dry-run */
    int dry_run;
    FILE *dry_out; /* dry-run: events as JSON lines */
    FILE *dry_err; /* dry-run: quarantined records */
    pthread_mutex_t ingest_lock;
    rz_rt_stats_t stats;
    int64_t started;
    /* one line each, guarded by status_lock */
    pthread_mutex_t status_lock;
    char pub_status[200];
    char sink_status[200];
    struct {
        char code[8];
        uint64_t n;
    } tenants[RZ_RT_TENANTS];
    /* each quarantine class's total when the runtime started: reports
     * count from there ("since start") */
    struct {
        char cls[RZ_QCLASS_LEN];
        uint64_t total;
    } qbase[RZ_QCLASS_MAX + 1];
    size_t qbase_n;
    /* called (from any thread) after events were acked, so the owner of
     * the drop folder can move finished files to done/ */
    void (*on_acked)(void *user);
    void *on_acked_user;
    /* ingest -> publisher: new events in the outbox */
    void (*on_spooled)(void *user);
    void *on_spooled_user;
    /* called (from the publisher's thread) for each event whose outcome
     * was just committed to the store, once: outcome is enum
     * rz_pub_outcome. A one-shot import counts its files' events with it. */
    void (*on_outcome)(uint64_t seq, int outcome, void *user);
    void *on_outcome_user;
} rz_rt_t;

/* What became of an event sent to the broker. */
enum rz_pub_outcome {
    RZ_PUB_PUBLISHED = 0, /* stored by the broker */
    RZ_PUB_DUPLICATE,     /* the broker already had it (same content) */
    RZ_PUB_CONFLICT,      /* it had this source and id with other content:
                             quarantined */
    RZ_PUB_REFUSED        /* refused for good otherwise: quarantined */
};

/* Open the runtime for conf: the module (open with the options of its
 * YAML section), TERYT, and the store unless dry_run. 0 or a negative code with
 * err. */
int rz_rt_open(rz_rt_t *rt, rz_rt_conf_t *conf, const char *conf_file,
               const rz_adapter_module_t *mod, const rz_conf_map_t *section,
               int dry_run, char *err, size_t err_len);
void rz_rt_close(rz_rt_t *rt);

void rz_rt_set_status(rz_rt_t *rt, char *which, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------
 * Ingest (ingest.c): one input through the module into the store
 */

/* How one ingest call went. */
typedef struct rz_ingest_result {
    uint64_t records;     /* records reported by the module (this call) */
    uint64_t events;      /* of which spooled as events */
    uint64_t quarantined; /* of which quarantined */
    uint64_t first_seq;   /* outbox seqs of this input's events (0: none) */
    uint64_t last_seq;
    char first_reason[256]; /* the first quarantine reason, for replies */
    int store_failed;       /* the error is the store's, not the input's */
} rz_ingest_result_t;

/* Progress hook: called inside each write transaction before it commits,
 * with the number of records reported so far (skipped ones included), so
 * the caller records where it is in the same transaction (a drop file's
 * progress, a tailed file's offset); final is 1 for the transaction that
 * ends the input. Returns 0 or a negative code. */
typedef int (*rz_ingest_progress_cb)(rz_atxn_t *t, uint64_t records,
                                     const rz_ingest_result_t *r, int final,
                                     void *user);

/* A quarantined record being retried, and what became of it. A record
 * the module reports is matched to it by its key and line (the module
 * contract: a record's key is its place in the input, whatever the
 * configuration), and by which output of that record it is (part). The
 * first record matched takes the quarantined record's place (it was
 * counted as read when first ingested); any further record under the same
 * key and line (one declaration that now gives two events) is a new
 * record read. */
typedef struct rz_retry_rec {
    uint64_t id;
    const char *key;
    uint64_t line;
    uint32_t part;    /* which output of its record (rz_qrec_t.part) */
    int whole;        /* the record is the whole input: it matches every
                         record the module reports in it */
    int taken;        /* its quarantine entry was replaced or deleted */
    uint64_t twin_of; /* deleted: the same record as this one, read again
                         (the same file imported twice) */
    uint64_t events;  /* events spooled for it */
    uint64_t again;   /* records of it quarantined again */
    char reason[256]; /* the last reason they were */
} rz_retry_rec_t;

typedef struct rz_ingest_opts {
    uint64_t skip;         /* records already stored by an earlier run */
    uint64_t commit_every; /* records per transaction; 0 = one */
    rz_ingest_progress_cb progress;
    void *user;
    /* Quarantine retry: the quarantined records of this input being
     * retried. With retry_whole (the input is the whole kept input), a
     * record that matches none of them was handled when the input was
     * first ingested (published, or quarantined and not retried now):
     * it is skipped, neither spooled nor counted. Without, the input is
     * the one record's own bytes and every record in it is retried. */
    rz_retry_rec_t *retry;
    size_t retry_n;
    int retry_whole;
} rz_ingest_opts_t;

/* Run the module's parse over in and store what it reports. Returns 0
 * (records may have been quarantined: see r), the module's negative code
 * with err when the input as a whole could not be read (what the module
 * reported before failing is kept, e.g. the complete records of a file
 * cut short, except for a partial input: r->records says), or a store
 * error. Takes rt->ingest_lock. */
int rz_ingest(rz_rt_t *rt, const rz_input_t *in, const rz_ingest_opts_t *o,
              rz_ingest_result_t *r, char *err, size_t err_len);

/* Store the whole input as one quarantined record with reason (an input
 * the module could not read at all, where there is no failed/ folder to
 * put it in: a tailed chunk). Same options and result as rz_ingest. */
int rz_ingest_reject(rz_rt_t *rt, const rz_input_t *in, const char *reason,
                     const rz_ingest_opts_t *o, rz_ingest_result_t *r,
                     char *err, size_t err_len);

/* The lowercase hex SHA-256 of data into hex[65]. */
void rz_sha256_hex(const void *data, size_t len, char hex[65]);

/* Read a whole file into a malloc'd buffer. 0 or -errno. */
int rz_read_file(const char *path, uint8_t **data, size_t *len);

/* rz_read_file with flags: RZ_READ_NOFOLLOW refuses a symbolic link
 * (-ELOOP) instead of reading its target. Anything but a regular file is
 * refused without reading a byte: -EISDIR for a directory, RZ_EINVAL for
 * a FIFO, device or socket. */
#define RZ_READ_NOFOLLOW 1u
int rz_read_file_flags(const char *path, unsigned flags, uint8_t **data,
                       size_t *len);

/* What a retry did, in quarantined records. */
typedef struct rz_retry_sum {
    uint64_t ok;   /* left the quarantine: their events are in the outbox */
    uint64_t left; /* still quarantined (a new reason, or skipped: another
                      module's, not found) */
} rz_retry_sum_t;

/* Retry quarantined records: id, or every one when id is 0, with the
 * current configuration. A record whose input was kept is retried by
 * ingesting that whole input again (the records of one input together),
 * so formats whose records need their file's header, META section or
 * envelope parse as they did the first time; the outcome replaces the
 * input's quarantined records, and the kept input is deleted when none
 * is left. An event the broker refused, and a record quarantined before
 * inputs were kept, is retried from its own bytes. Prints one line per
 * quarantined record to out. Returns 0 with *sum, or a negative code. */
int rz_quarantine_retry(rz_rt_t *rt, uint64_t id, FILE *out,
                        rz_retry_sum_t *sum);

/* ---------------------------------------------------------------------------
 * Publisher (publisher.c): outbox -> broker, and the reports
 */

typedef struct rz_pub rz_pub_t;

rz_pub_t *rz_pub_start(rz_rt_t *rt);
/* Wake the publisher: new events are in the outbox. Any thread. */
void rz_pub_kick(rz_pub_t *p);
/* Stop: wait up to ms for events in flight, send a last report, join. */
void rz_pub_stop(rz_pub_t **p, int ms);
/* 1 when the last request to the broker succeeded. */
int rz_pub_connected(rz_pub_t *p);
/* Acks seen so far (any thread). */
uint64_t rz_pub_acks(rz_pub_t *p);

/* ---------------------------------------------------------------------------
 * Reports (report.c)
 */

void rz_rt_latency(rz_rt_t *rt, int64_t us);
/* Build the Component message; free with rz_rt_component_free. */
Ratusz__V1__Component *rz_rt_component(rz_rt_t *rt);
void rz_rt_component_free(Ratusz__V1__Component *c);
/* The counters as one JSON object (HTTP GET /stats). malloc'd. */
char *rz_rt_stats_json(rz_rt_t *rt);
void rz_rt_count_tenant(rz_rt_t *rt, const char *tenant);

/* ---------------------------------------------------------------------------
 * Sink driver (sink.c) and the webhook sink (webhook.c)
 */

typedef struct rz_sink_driver rz_sink_driver_t;

/* Start the sink thread: a durable consumer group on the broker feeding
 * the module's sink or the webhook. 0 or a negative code with err. */
int rz_sink_start(rz_sink_driver_t **out, rz_rt_t *rt, char *err,
                  size_t err_len);
void rz_sink_stop(rz_sink_driver_t **s);

/* The webhook sink, in the shape of a module's sink functions: each event
 * is POSTed as CloudEvents JSON (HTTP structured mode, Content-Type
 * application/cloudevents+json) to target. A 2xx answer delivers it;
 * connection errors, 408, 429 and 5xx are retried with a doubling backoff
 * (up to attempts in all); any other status fails at once naming it.
 * state: a const rz_webhook_opts_t *, or NULL for the defaults. */
typedef struct rz_webhook_opts {
    unsigned attempts;   /* default 5 */
    unsigned backoff_ms; /* first wait; default 100, doubling, max 5000 */
    long timeout_ms;     /* per request; default 10000 */
} rz_webhook_opts_t;

int rz_webhook_open(void **sink, void *state, const char *target, char *err,
                    size_t err_len);
int rz_webhook_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                     size_t err_len);
int rz_webhook_flush(void *sink, char *err, size_t err_len);
void rz_webhook_close(void *sink);

#endif
