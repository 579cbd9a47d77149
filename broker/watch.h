/* watch.h - live subscriptions with flow control (WATCH), on the front
 * socket.
 *
 * The stream sockets (XPUB) serve plain SUB clients, and ZeroMQ keeps no
 * account of what it queues for each of them. A watch is the broker's own:
 * one per connection, with the prefixes its grant allows, and a window of
 * bytes the subscriber may have unconsumed. Events go out in EVENTS
 * messages of at most RZ_WATCH_CHUNK bytes; the subscriber acknowledges
 * with CREDIT. A push that would pass the window (or the watches' share of
 * the memory budget) is not sent: the subscriber gets CUTOFF with the last
 * seq it was sent, the watch is forgotten and counted, and the subscriber
 * reads the rest back from the store. So a subscriber holds at most its
 * window plus one push inside the broker, whatever it does.
 *
 * Everything here runs on the front thread.
 */
#ifndef RZ_WATCH_H
#define RZ_WATCH_H

#include <stddef.h>
#include <stdint.h>

/* An EVENTS message is sent once this many bytes are collected for it (or
 * at the end of a commit). */
#define RZ_WATCH_CHUNK (64 * 1024)

typedef struct rz_watch rz_watch_t;

typedef struct rz_watches {
    void *sock;          /* the front ROUTER (ZMQ_ROUTER_MANDATORY) */
    rz_watch_t **w;
    size_t n, cap;
    size_t max;          /* most watches at once */
    size_t redacted;     /* watches that get pseudonymised events */
    uint64_t window_max; /* bytes, per watch (watch_window) */
    uint64_t held_max;   /* bytes, all watches (a quarter of the budget) */
    uint64_t held;       /* sent and not yet acknowledged, all watches */
    uint64_t cutoffs;    /* watches ended for falling behind */
} rz_watches_t;

/* What a new watch is. */
typedef struct rz_watch_spec {
    const void *rid;     /* routing id of the connection */
    size_t rid_len;
    const void *corr;    /* the WATCH request's correlation */
    size_t corr_len;
    const char *principal;
    const char *address;
    int redacted;        /* 1: send pseudonymised events */
    char **prefixes;     /* granted prefixes (copied) */
    size_t nprefixes;
    uint64_t window;     /* 0 = window_max */
    uint64_t head;       /* the last event stored before the watch */
} rz_watch_spec_t;

void rz_watches_init(rz_watches_t *ws, void *sock, size_t max,
                     uint64_t window_max, uint64_t held_max);

/* End every watch with CUTOFF (reason) and free them. */
void rz_watches_close(rz_watches_t *ws, const char *reason);

/* Open a watch, replacing the connection's previous one (which gets
 * CUTOFF "replaced"). Returns the window granted, or RZ_EBUSY when max
 * watches are open, RZ_ENOMEM. */
int64_t rz_watches_open(rz_watches_t *ws, const rz_watch_spec_t *spec);

/* The connection consumed this many bytes since its WATCH (CREDIT). */
void rz_watches_credit(rz_watches_t *ws, const void *rid, size_t rid_len,
                       uint64_t consumed);

/* End the connection's watch without a message (UNWATCH). 1 if it had
 * one. */
int rz_watches_remove(rz_watches_t *ws, const void *rid, size_t rid_len);

/* One stored event, in seq order: added to the push of every watch whose
 * prefix it matches. red is its pseudonymised form (the same bytes when it
 * holds no personal data; NULL when it cannot be redacted: then redacted
 * watches do not get it). */
void rz_watches_event(rz_watches_t *ws, const char *topic, size_t topic_len,
                      uint64_t seq, const void *full, size_t full_len,
                      const void *red, size_t red_len);

/* The end of a commit: send what was collected, drop the watches that
 * were cut off or whose connection is gone. */
void rz_watches_flush(rz_watches_t *ws);

#endif
