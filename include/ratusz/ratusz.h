/* ratusz.h - libratusz: the client library of the Ratusz event bus.
 *
 * A client talks to one broker (ratuszd) over ZeroMQ: a DEALER socket to the
 * broker's front (ROUTER) socket for every request, and, for live
 * subscriptions, a SUB socket to its stream (XPUB) socket. The wire protocol
 * is described in docs/PROTOCOL.md; this library is one implementation of it.
 *
 * Conventions (as in lmdb.h and uv.h):
 *  - Functions that can fail return 0 or a count on success and a negative
 *    RZ_E* code (see ratusz/errors.h) on failure; rz_strerror() explains it.
 *  - Constructors return NULL on failure and set errno.
 *  - x_destroy(&p) is safe to call twice and sets p to NULL.
 *  - A client is not thread-safe: use it from one thread at a time. Each
 *    thread that publishes should have its own client.
 *  - Callbacks run inside the library call that delivered them (rz_pump,
 *    rz_flush, rz_publish when it has to wait, and every synchronous call).
 *    Pointers passed to a callback are borrowed and valid only until it
 *    returns.
 *
 * Event messages are the protobuf-c structures generated from
 * proto/ratusz/v1/event.proto (Ratusz__V1__Event).
 */
#ifndef RATUSZ_RATUSZ_H
#define RATUSZ_RATUSZ_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/errors.h"
#include "ratusz/v1/api.pb-c.h"
#include "ratusz/v1/event.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares
 * is its exported API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define RZ_VERSION "0.1.0"
#define RZ_PROTOCOL 1

/* Default endpoints of a broker on this machine. */
#define RZ_DEFAULT_FRONT "tcp://127.0.0.1:7600"
#define RZ_DEFAULT_STREAM "tcp://127.0.0.1:7601"

/* Largest continuation cursor a query can return. */
#define RZ_CURSOR_MAX 64

/* ---------------------------------------------------------------------------
 * Envelope helpers (shared by clients and the broker)
 */

/* Domains of the bus: the second segment of a topic. */
#define RZ_TYPE_PREFIX "pl.gov.gmina."

/* Check that ev carries what the bus needs: non-empty id, source and type;
 * a tenant of 2, 4 or 7 digits (TERYT TERC); id, source, subject and type
 * within their size limits; id, source, type, subject, tenant, principal
 * and redaction valid UTF-8 without control characters (C0 and DEL); a
 * type whose domain matches its data. Returns 0
 * or RZ_EINVALEVENT with a reason written to why (always NUL-terminated when
 * why_len > 0). */
int rz_event_check(const Ratusz__V1__Event *ev, char *why, size_t why_len);

/* Check the encoded bytes of an Event before they are decoded: protobuf-c
 * cuts a string at its first NUL without a word, so only the wire shows
 * it. Every envelope attribute (id, source, type, subject, tenant,
 * principal, redaction) must be valid UTF-8 (no overlong forms, surrogates
 * or code points above U+10FFFF) without NUL, C0 control characters or
 * DEL, and a tenant present on the wire 2, 4 or 7 digits; every string
 * field of the data (the oneof and the messages it nests, map entries
 * included) must be valid UTF-8 without NUL. Unknown fields and bytes are
 * not looked at. Completes rz_event_check, which still checks the decoded
 * event (required attributes, lengths, type and data).
 *
 * Returns 0, RZ_EINVALEVENT with a reason naming the attribute or field
 * and the offset in it ("attribute 'id' holds a NUL byte at offset 6";
 * values are never echoed), or RZ_EDECODE when the bytes are not protobuf.
 * why is always NUL-terminated when why_len > 0. */
int rz_event_check_wire(const uint8_t *ev, size_t len, char *why,
                        size_t why_len);

/* Write the topic of ev, "<tenant>.<domain>.<type-suffix>", into buf.
 * The type-suffix is the type without RZ_TYPE_PREFIX when it starts with it,
 * else the whole type: "pl.gov.gmina.budget.execution.v1" in tenant 1261011
 * is "1261011.budget.execution.v1". Returns the length, or RZ_EINVAL if it
 * does not fit (buf is then empty). */
int rz_event_topic(const Ratusz__V1__Event *ev, char *buf, size_t len);

/* The domain a data case belongs to ("budget", "env", "tax", "gis") or NULL
 * for raw data and no data. */
const char *rz_event_data_domain(const Ratusz__V1__Event *ev);

/* A domain whose events carry a message of the schema in "data". */
typedef struct rz_domain {
    const char *name;                          /* "budget", "env", ... */
    const ProtobufCMessageDescriptor *message; /* ratusz.v1.BudgetEntry ... */
    Ratusz__V1__Event__DataCase data_case;
} rz_domain_t;

/* The domain of that name (len bytes of name: the segment of a type or a
 * topic), of that data case, or whose message has that full name
 * ("ratusz.v1.BudgetEntry", as dataschema says); NULL when none. */
const rz_domain_t *rz_domain_named(const char *name, size_t len);
const rz_domain_t *rz_domain_of_case(int data_case);
const rz_domain_t *rz_domain_of_schema(const char *schema);

/* The domain message ev carries (NULL for raw data, no data, or a data
 * case whose pointer is NULL in an event built by hand). */
const ProtobufCMessage *rz_event_data_message(const Ratusz__V1__Event *ev);

/* Limits, in bytes. */
#define RZ_ID_MAX 200
#define RZ_SOURCE_MAX 200
#define RZ_SUBJECT_MAX 400
#define RZ_TYPE_MAX 200
#define RZ_TOPIC_MAX 256

/* Now, in unix microseconds. */
int64_t rz_now_us(void);

/* ---------------------------------------------------------------------------
 * CloudEvents JSON (structured mode)
 */

/* Render ev as one line of CloudEvents JSON (no trailing newline):
 * specversion, id, source, type, subject, time (RFC 3339, UTC), tenant,
 * and, when set by the broker, seq, ingesttime and principal; a domain
 * message becomes "data" (a JSON object with the proto field names; an
 * int64 time the schema marks with (ratusz.v1.time) as RFC 3339 in UTC, or
 * "YYYY-MM-DD" for a date, see proto/ratusz/v1/options.proto) with
 * datacontenttype "application/json" and dataschema naming the message;
 * raw data becomes "data" when its content type is JSON and valid, else
 * "data_base64". Returns a malloc'd string the caller frees, or NULL on
 * ENOMEM. */
char *rz_event_to_json(const Ratusz__V1__Event *ev);

/* Parse one CloudEvents JSON object into a new event. "data" is read into
 * the domain message named by dataschema, or by the domain of the type
 * when the type starts with RZ_TYPE_PREFIX and its domain has a message;
 * any other data is kept raw with its datacontenttype. A marked time reads
 * from that text or from the integer of unix microseconds. On success *out is
 * the caller's (free with rz_event_free) and 0 is returned; on failure
 * RZ_EINVALEVENT or RZ_EDECODE with a reason in err. */
int rz_event_from_json(const char *text, size_t len, Ratusz__V1__Event **out,
                       char *err, size_t err_len);

/* The same reading without a copy: the event is handed to fn, and it and
 * everything it points to live only until fn returns (its strings are
 * borrowed from the parsed document). Where the text leaves id, source,
 * type or tenant out (absent, null or ""), those of defaults that are not
 * NULL or "" stand in, as the very pointers given (defaults may be NULL).
 * Returns fn's result when the text is an event; otherwise RZ_EINVALEVENT, or
 * RZ_EDECODE when it is not JSON or not an object ("JSON: ..."), with a reason
 * in err (fn is then not called). What `ratusz pub` and the ndjson adapter
 * publish with. */
typedef int (*rz_event_fn)(const Ratusz__V1__Event *ev, void *user);
int rz_event_from_json_visit(const char *text, size_t len,
                             const Ratusz__V1__Event *defaults, rz_event_fn fn,
                             void *user, char *err, size_t err_len);

/* Free an event returned by this library. Safe with NULL. */
void rz_event_free(Ratusz__V1__Event *ev);

/* ---------------------------------------------------------------------------
 * Client
 */

typedef struct rz_client rz_client_t;

typedef struct rz_client_opts {
    /* Events in flight (sent, not yet acked) before rz_publish waits.
     * Default 1024. */
    uint32_t window;
    /* Events per PUBB request: rz_publish collects events and sends them
     * when batch events are pending, or on rz_pump / rz_flush. 1 sends each
     * event in its own PUB request. Default 1. */
    uint32_t batch;
    /* Timeout of synchronous requests and of waiting for window space, in
     * milliseconds. Default 10000. */
    int timeout_ms;
    /* CURVE (docs/SECURITY.md): this client's key pair and the broker's
     * public key, each 40 Z85 characters (ratusz/keys.h reads them from
     * files); copied, so they may be freed after rz_client_new. All three
     * NULL: no encryption, the principal is "anonymous". Giving only some,
     * or a key that is not Z85, fails rz_client_new with EINVAL (ENOTSUP
     * when libzmq has no CURVE). Subscriptions made with this client use
     * the same keys. When the broker refuses the key, requests (and
     * rz_pump, rz_flush, rz_sub_recv) fail with RZ_EDENIED as soon as the
     * handshake fails, and rz_client_last_error says so; the connection
     * keeps retrying, so a key granted later starts to work. */
    const char *curve_public;
    const char *curve_secret;
    const char *curve_server;
} rz_client_opts_t;

/* Connect to a broker's front endpoint ("tcp://127.0.0.1:7600"). opts may
 * be NULL for defaults. Connecting is lazy (ZeroMQ): a broker that is not
 * there shows up as RZ_ETIMEDOUT on the first request. Returns NULL and
 * sets errno on failure. */
rz_client_t *rz_client_new(const char *endpoint, const rz_client_opts_t *opts);

/* Close the connection. Events not yet acked are abandoned: call rz_flush
 * first to wait for them. Safe with NULL and twice. */
void rz_client_destroy(rz_client_t **c);

/* The principal requests are made as: "anonymous" without CURVE keys;
 * with them the name the last rz_whoami returned, or until then the
 * client's public key (Z85). Valid until the next call on c. */
const char *rz_client_principal(const rz_client_t *c);

/* Why the last synchronous request failed, in words: the message of the
 * broker's Error reply ("principal 'x' may not read ..."), or "the broker
 * refused this client's key"; "" when there is nothing to add to the
 * code's rz_strerror. Borrowed; valid until the next request on c. */
const char *rz_client_last_error(const rz_client_t *c);

/* ---------------------------------------------------------------------------
 * Publishing
 */

enum rz_durability {
    RZ_DURABILITY_NONE = 0,
    RZ_DURABILITY_WRITTEN = 1, /* committed, in the OS page cache */
    RZ_DURABILITY_SYNCED = 2   /* committed and on disk */
};

/* The outcome of one published event. */
typedef struct rz_ack {
    void *arg;          /* the arg given to rz_publish */
    uint64_t seq;       /* assigned seq (the original one for a duplicate) */
    int code;           /* 0, or a negative RZ_E* code */
    int duplicate;      /* 1 if source+id was already stored */
    int durability;     /* enum rz_durability reached */
    const char *reason; /* why, when code != 0; borrowed */
} rz_ack_t;

typedef void (*rz_ack_cb)(const rz_ack_t *ack, void *user);

/* Set the callback that receives every publish outcome. Without one,
 * outcomes are only counted (rz_client_stats). */
void rz_client_set_ack_cb(rz_client_t *c, rz_ack_cb cb, void *user);

/* Publish ev asynchronously. The event is encoded at once, so ev may be
 * freed when this returns. When the window is full this waits for acks
 * (firing the callback) up to the timeout. Returns 0 when the event is
 * queued or sent; RZ_EINVALEVENT if it fails rz_event_check (the callback
 * is then not called); RZ_ETIMEDOUT if no window space freed up in time;
 * RZ_ETOOBIG if the encoded event is larger than 16 MiB. */
int rz_publish(rz_client_t *c, const Ratusz__V1__Event *ev, void *arg);

/* Publish an already encoded Event. The broker validates it. */
int rz_publish_raw(rz_client_t *c, const void *buf, size_t len, void *arg);

/* Send pending batched events and handle every reply that has arrived,
 * waiting up to timeout_ms (0: do not wait, -1: forever) for the first.
 * Returns the number of outcomes delivered, or a negative code. */
int rz_pump(rz_client_t *c, int timeout_ms);

/* Send pending events and wait until every event in flight has its outcome
 * or timeout_ms passed (-1: forever). Returns 0 or RZ_ETIMEDOUT. */
int rz_flush(rz_client_t *c, int timeout_ms);

/* Events sent or queued whose outcome has not arrived yet. */
size_t rz_inflight(const rz_client_t *c);

typedef struct rz_client_stats {
    uint64_t published;  /* events handed to rz_publish* */
    uint64_t acked;      /* outcomes with code 0 (duplicates included) */
    uint64_t duplicates;
    uint64_t failed;     /* outcomes with code != 0 */
    uint64_t requests;   /* requests sent */
} rz_client_stats_t;

void rz_client_stats(const rz_client_t *c, rz_client_stats_t *out);

/* ---------------------------------------------------------------------------
 * Reading
 */

/* One event delivered to a reader. */
typedef struct rz_event {
    const Ratusz__V1__Event *msg; /* decoded; borrowed */
    const uint8_t *raw;           /* the stored bytes; borrowed */
    size_t raw_len;
    int backfilled; /* subscriptions: recovered from the store after a gap */
} rz_event_t;

/* Return 0 to go on, non-zero to stop the iteration (the calling function
 * then returns what it has delivered so far). */
typedef int (*rz_event_cb)(const rz_event_t *ev, void *user);

/* Get one event by seq. Calls cb once and returns 1, or RZ_ENOTFOUND. */
int rz_get_seq(rz_client_t *c, uint64_t seq, rz_event_cb cb, void *user);

/* Get one event by source and id. Calls cb once and returns 1, or
 * RZ_ENOTFOUND. */
int rz_get_id(rz_client_t *c, const char *source, const char *id,
              rz_event_cb cb, void *user);

typedef struct rz_query {
    const char *subject;      /* the entity's timeline, in event time order */
    const char *topic_prefix; /* or a topic prefix, in seq order */
    int64_t since;            /* event time bounds, unix µs; 0 = open */
    int64_t until;
    uint32_t limit;           /* 0 = the broker's default page */
    /* Continuation: the cursor from the previous page (len 0 to start). */
    uint8_t after[RZ_CURSOR_MAX];
    size_t after_len;
    /* 1: personal data pseudonymised even when this client's principal
     * has clearance (QueryRequest.redact), as for open-data exports. */
    int redact;
    /* Out: events of this page's range that the principal's grant does
     * not allow, or that could not be redacted (EventList.withheld). */
    uint64_t withheld;
    /* Or a pseudonym ("~" and 26 letters): every event holding it, in seq
     * order (QueryRequest.pseudonym); not with subject or topic_prefix. */
    const char *pseudonym;
} rz_query_t;

/* Run one page of a query. Calls cb per event; on return q->after holds
 * the cursor of the next page, and q->after_len is 0 when there is none.
 * Returns the number of events delivered or a negative code. */
int rz_query(rz_client_t *c, rz_query_t *q, rz_event_cb cb, void *user);

typedef struct rz_replay {
    uint64_t from_seq;        /* first seq (1 = from the beginning) */
    uint64_t until_seq;       /* stop before this seq; 0 = current head */
    const char *topic_prefix; /* NULL or "" = every event */
    uint64_t max_events;      /* 0 = no limit */
    uint32_t chunk;           /* events per reply; 0 = broker default */
} rz_replay_t;

/* Stream events from the store in seq order, chunk by chunk. Returns the
 * number delivered or a negative code. */
int64_t rz_replay(rz_client_t *c, const rz_replay_t *r, rz_event_cb cb,
                  void *user);

/* ---------------------------------------------------------------------------
 * Durable consumer groups (at-least-once)
 */

/* Fetch up to max events (0 = broker default) for group after after_seq
 * (0 = after the group's committed position). topic_prefix binds the group
 * to a prefix on first use (NULL = every event). *last_seq, if given, gets
 * the seq to fetch after next time (unchanged when nothing was delivered
 * and nothing skipped). Returns the number delivered. */
int rz_fetch(rz_client_t *c, const char *group, const char *topic_prefix,
             uint64_t after_seq, uint32_t max, rz_event_cb cb, void *user,
             uint64_t *last_seq);

/* Record that group processed every event up to and including seq.
 * Positions only move forward. Returns 0. */
int rz_commit(rz_client_t *c, const char *group, uint64_t seq);

/* An operator's change (GROUP, admin grant "consumers"): delete a group,
 * or set its committed position to seq, backwards too (to read events
 * again). RZ_ENOTFOUND for a group that does not exist. */
int rz_consumer_delete(rz_client_t *c, const char *group);
int rz_consumer_reset(rz_client_t *c, const char *group, uint64_t seq);

/* ---------------------------------------------------------------------------
 * Broker information. The returned message is the caller's: free it with
 * the matching ratusz__v1__*__free_unpacked(p, NULL).
 */
int rz_health(rz_client_t *c, Ratusz__V1__Health **out);
int rz_stats(rz_client_t *c, Ratusz__V1__Stats **out);
int rz_consumers(rz_client_t *c, Ratusz__V1__ConsumerList **out);

/* WHOAMI: the principal this connection is taken for and its grants.
 * Also what rz_client_principal returns from then on. */
int rz_whoami(rz_client_t *c, Ratusz__V1__Whoami **out);

/* RELOAD: have the broker read its configuration and principals file
 * again (grant "reload"); on success *out is this connection's Whoami
 * under the new grants, with what changed (out->changed) and what needs a
 * restart (out->restart). A file with an error is RZ_ECONFIG
 * (rz_client_last_error names FILE:LINE) and changes nothing. */
int rz_reload(rz_client_t *c, Ratusz__V1__Whoami **out);

/* AUDIT: one page of the audit log (docs/PROTOCOL.md); req NULL asks for
 * the first page of everything. Go on with req->after_id = (*out)->next_id
 * until next_id is 0. RZ_EDENIED when the principal may not read it. */
int rz_audit(rz_client_t *c, const Ratusz__V1__AuditRequest *req,
             Ratusz__V1__AuditList **out);

/* VERIFY: check the event log's ("events"; also for NULL or "") or the
 * audit log's ("audit") hash chain from seq / record id from (0 = the
 * start). Returns 0 when the broker answered, whatever it found: a broken
 * chain is (*out)->ok == 0 with first_bad and reason. */
int rz_verify(rz_client_t *c, const char *log, uint64_t from,
              Ratusz__V1__VerifyResult **out);

/* BACKUP: have the broker copy its event store, audit log and pseudonym
 * key into dir, an absolute path on the broker's machine that is missing
 * or empty (admin grant "backup"). The broker keeps serving meanwhile;
 * the reply comes when the copy is done, so wait up to timeout_ms (-1:
 * forever; 0: the client's timeout). Every event acked before the request
 * is in the copy. Returns 0 and *out (the caller frees it with
 * ratusz__v1__backup_result__free_unpacked), or RZ_EBADREQ (dir refused),
 * RZ_EBUSY (a backup is running), RZ_EDENIED, RZ_ETIMEDOUT, ... with
 * rz_client_last_error saying why. */
int rz_backup(rz_client_t *c, const char *dir, int timeout_ms,
              Ratusz__V1__BackupResult **out);

/* Report a component's state to the broker (REPORT), so that `ratusz
 * stats` and the broker's /metrics show adapters and bridges beside it.
 * Send the whole state about once a second; the broker keeps the latest
 * report per comp->name and marks a component stale when its reports stop.
 * Synchronous like rz_stats; publish acks arriving meanwhile are delivered.
 * Returns 0 or a negative RZ_E* code. */
int rz_report(rz_client_t *c, const Ratusz__V1__Component *comp);

/* ---------------------------------------------------------------------------
 * Live subscription with gap recovery
 *
 * The stream socket drops messages for slow subscribers (ZeroMQ's
 * high-water mark). Every stream message carries its seq and the seq of the
 * previous event of the same topic, so a subscriber knows when it missed
 * one: rz_sub_recv then fetches the missed events from the store through
 * the client and delivers them (backfilled = 1) in order before the event
 * that revealed the gap. Events lost at the tail of the stream, which no
 * later event reveals (and everything published while a broker restarts),
 * are read back once the stream has been quiet for a second: rz_sub_recv
 * then compares the store's head with what it delivered.
 */

typedef struct rz_sub rz_sub_t;

/* Subscribe to events whose topic starts with prefix ("" = all) on the
 * broker's stream endpoint. c is used for backfill and must outlive the
 * subscription. Returns NULL and sets errno on failure. */
rz_sub_t *rz_sub_new(rz_client_t *c, const char *stream_endpoint,
                     const char *prefix);

/* Deliver the events that arrive within timeout_ms (-1: wait for the
 * first forever; 0: only what is there). Returns the number delivered
 * (0 on timeout) or a negative code; RZ_EGAP if missed events could not be
 * read back (the gap is then reported once and skipped). */
int rz_sub_recv(rz_sub_t *s, rz_event_cb cb, void *user, int timeout_ms);

/* Watch events whose topic starts with prefix ("" = all) over the front
 * socket, with flow control (WATCH, docs/PROTOCOL.md section 8), on a
 * connection of its own with c's keys. The broker pushes every matching
 * event in seq order and never drops one; a subscriber that falls window
 * bytes behind (0: the broker's watch_window) is cut off, and rz_sub_recv
 * then reads what it missed from the store (backfilled = 1) and watches
 * again. Personal data is pseudonymised unless c's principal is cleared.
 * Returns NULL and sets errno (a negative RZ_E* code negated when the
 * broker refused the WATCH) on failure. */
rz_sub_t *rz_watch_new(rz_client_t *c, const char *prefix, size_t window);

typedef struct rz_sub_stats {
    uint64_t received;   /* live stream messages (events, for a watch) */
    uint64_t gaps;       /* gaps detected */
    uint64_t backfilled; /* events recovered from the store */
    uint64_t cutoffs;    /* a watch: times the broker cut it off */
} rz_sub_stats_t;

void rz_sub_stats(const rz_sub_t *s, rz_sub_stats_t *out);

void rz_sub_destroy(rz_sub_t **s);

/* ---------------------------------------------------------------------------
 * Generic protobuf JSON
 */

/* Render any protobuf-c message (Stats, ConsumerList, Health, a domain
 * message) as one line of JSON, by the same rules as "data" in
 * rz_event_to_json: proto field names as keys, default values left out,
 * enums by name, bytes as base64, maps as objects, 64-bit integers as JSON
 * integers (a uint64 above INT64_MAX as a decimal string), marked times as
 * text. Returns a
 * malloc'd string the caller frees, or NULL and sets errno (EINVAL for a
 * NULL m, ENOMEM). */
char *rz_message_to_json(const ProtobufCMessage *m);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
