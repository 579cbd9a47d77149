/* load.h - the workloads every load generator runs, over a small table of
 * operations per system (Ratusz, Redis, NATS, Mosquitto).
 *
 * Each system's program (rz_load.c, peers/redis_load.c, …) fills in a
 * bench_ops_t and hands it to bench_main(), which parses the common command
 * line, runs one measurement and prints ONE line of JSON on stdout:
 *
 *   PROGRAM --mode ingest|multi|fanout|replay [--window N] [--count N]
 *           [--duration S] [--size BYTES] [--publishers N]
 *           [--subscribers N] [--rate EV_PER_S] [--label NAME]
 *           connection options of the system (--endpoint/--stream,
 *           --host/--port, --url; ratusz: --key/--server-key)
 *
 * Every event carries a payload of --size bytes whose first 12 bytes are a
 * stamp (send time on CLOCK_MONOTONIC, flags): subscribers in other threads
 * of the same process measure publish->delivery latency from it.
 *
 * "Window" means the same for every system: events handed to the client
 * whose ack has not arrived yet. The publisher waits for acks when the
 * window is full. How the client packs them on the wire is its own
 * business (Ratusz batches up to 64 per PUBB request, hiredis pipelines
 * commands, libnats publishes asynchronously, libmosquitto sends each
 * PUBLISH at once).
 *
 * Every loop is bounded by a count and by a deadline.
 */
#ifndef RZ_BENCH_LOAD_H
#define RZ_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------
 * Options (one table for every program; each uses what applies to it)
 */

typedef struct bench_opts {
    const char *mode;     /* ingest, multi, fanout, replay, or the
                             program's own (rz_load: scale, get) */
    const char *label;    /* "system" in the JSON line */
    uint32_t window;      /* events in flight before waiting for acks */
    uint32_t batch;       /* ratusz: events per PUBB (0: min(window, 64)) */
    uint64_t count;       /* most events to publish or read */
    double duration;      /* most seconds to publish for */
    size_t size;          /* payload bytes (>= BENCH_STAMP_LEN) */
    uint32_t publishers;  /* multi: concurrent publishers */
    uint32_t subscribers; /* fanout: subscribers */
    double rate;          /* fanout: events/s, 0 = as fast as possible */
    uint32_t queries;     /* scale: subject queries per step; get: GETs */
    uint32_t subjects;    /* distinct subjects events are spread over */
    const char *endpoint; /* ratusz: front (ROUTER) endpoint */
    const char *stream;   /* ratusz: stream (XPUB) endpoint */
    const char *sub;      /* ratusz: how subscribers follow the bus:
                             "watch" (WATCH on the front, the default) or
                             "stream" (SUB on the stream socket) */
    const char *host;     /* redis, mqtt */
    int port;             /* redis, mqtt */
    const char *url;      /* nats */
    const char *key;      /* ratusz: this client's secret key file (CURVE) */
    const char *server_key; /* ratusz: the broker's .pub file or Z85 key */
    double timeout;       /* seconds to wait for outstanding acks or
                             deliveries at the end of a phase */
} bench_opts_t;

/* ---------------------------------------------------------------------------
 * Payload stamp
 */

#define BENCH_STAMP_LEN 12
#define BENCH_MEASURED 1u /* an event of the measured phase (not warm-up) */

/* Fill buf (len >= BENCH_STAMP_LEN) with the stamp, then filler. */
void bench_stamp(uint8_t *buf, size_t len, uint64_t sent_ns, uint32_t flags);

/* Read a stamp. Returns 0, or -1 when len is too short. */
int bench_unstamp(const uint8_t *buf, size_t len, uint64_t *sent_ns,
                  uint32_t *flags);

/* ---------------------------------------------------------------------------
 * Clock and latency histogram
 */

uint64_t bench_now_ns(void);
void bench_sleep_ns(uint64_t ns);

/* A log-linear histogram of nanoseconds: 64 sub-buckets per power of two,
 * so any percentile is within about 1.6 %. Fixed size; merge by adding. */
#define BENCH_HIST_SUB 64
#define BENCH_HIST_LEN (60 * BENCH_HIST_SUB)

typedef struct bench_hist {
    uint64_t n;
    uint64_t max_ns;
    uint64_t b[BENCH_HIST_LEN];
} bench_hist_t;

void bench_hist_add(bench_hist_t *h, uint64_t ns);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
/* The q-quantile (0 < q <= 1) in microseconds; 0 for an empty histogram. */
double bench_hist_us(const bench_hist_t *h, double q);

/* ---------------------------------------------------------------------------
 * Results: one JSON line (ending with client_cpu_s, the CPU seconds the
 * whole program used)
 */

typedef struct bench_result {
    const char *mode;
    uint64_t events;         /* events acked (ingest, multi), delivered
                                (fanout), read (replay) */
    uint64_t errors;         /* events that failed or went missing */
    double seconds;          /* of the measured phase */
    double events_per_s;     /* the headline rate of the mode */
    const bench_hist_t *lat; /* NULL: no latency fields */
    /* fanout only (negative = left out) */
    double pub_events_per_s; /* rate the publisher achieved */
    int64_t expected;        /* deliveries expected (events x subscribers) */
    /* free-form extra fields, already JSON ("\"k\":1,\"j\":2"), or NULL */
    const char *extra;
} bench_result_t;

void bench_result_print(const bench_opts_t *o, const bench_result_t *r);

/* ---------------------------------------------------------------------------
 * A system's operations
 */

/* Where a publisher reports each outcome. The driver owns it. A client
 * whose acks arrive on its own thread (libnats) must serialize its calls
 * to bench_acked. */
typedef struct bench_pub_ctx {
    bench_hist_t *lat; /* publish->ack latency */
    uint64_t acked;
    uint64_t failed;
    uint64_t last_ack_ns;
} bench_pub_ctx_t;

/* Record the outcome of one event sent at sent_ns. */
void bench_acked(bench_pub_ctx_t *ctx, uint64_t sent_ns, int ok);

/* Called by a subscriber for every event payload it receives. */
typedef void (*bench_deliver_fn)(const uint8_t *payload, size_t len,
                                 void *user);

typedef struct bench_ops {
    const char *system; /* default label */
    /* Open a publisher that keeps at most window events in flight (each
     * multi publisher gets its own, id 0..publishers-1). NULL on failure,
     * with a message on stderr. */
    void *(*pub_new)(const bench_opts_t *o, uint32_t window, uint32_t id,
                     bench_pub_ctx_t *ctx);
    /* Hand one event (payload already stamped with sent_ns) to the client.
     * It may wait while the client's own window is full. 0 or -1. */
    int (*pub_send)(void *p, const uint8_t *payload, size_t len,
                    uint64_t sent_ns);
    /* Send whatever is queued and report the acks that arrived, waiting up
     * to timeout_ms for one when events are in flight. -1 on a failure of
     * the connection. */
    int (*pub_poll)(void *p, int timeout_ms);
    /* Events handed to pub_send whose outcome is not yet reported. */
    uint64_t (*pub_inflight)(void *p);
    void (*pub_destroy)(void *p);

    /* Open a subscriber of the events publishers send (NULL: the system
     * has no live delivery). May return before the subscription is in
     * place: the driver warms up until every subscriber receives. */
    void *(*sub_new)(const bench_opts_t *o, uint32_t id);
    /* Deliver the events that arrive within timeout_ms. Returns the count
     * or -1. */
    int (*sub_recv)(void *s, int timeout_ms, bench_deliver_fn cb, void *user);
    void (*sub_destroy)(void *s);

    /* Read up to count stored events from the start, calling cb for each.
     * NULL: the system cannot replay. Returns the count read or -1. */
    int64_t (*replay)(const bench_opts_t *o, uint64_t count,
                      bench_deliver_fn cb, void *user);

    /* A mode of the program's own (NULL: none). Returns the exit status,
     * or -2 when mode is not one it knows. */
    int (*own_mode)(const bench_opts_t *o);

    /* Called once after the command line is parsed, before the mode runs,
     * and once after it (NULL: nothing to do). setup returns 0, or the
     * exit status (2: bad options) with a message on stderr. A system
     * without setup takes no --key / --server-key. */
    int (*setup)(const bench_opts_t *o);
    void (*teardown)(void);
} bench_ops_t;

/* Parse the command line and run the mode. Returns the exit status: 0, 1
 * (the measurement failed), 2 (usage). */
int bench_main(const bench_ops_t *ops, int argc, char **argv);

/* Run one publisher of the ingest workload on an open publisher: publish
 * until count or duration, then wait for the acks. Exposed for programs'
 * own modes. Returns 0 or -1. */
int bench_publish(const bench_ops_t *ops, void *p, const bench_opts_t *o,
                  bench_pub_ctx_t *ctx, uint64_t count, double duration,
                  uint64_t *sent, double *seconds);

#endif
