/* watch.c - live subscriptions with flow control (WATCH); see watch.h.
 *
 * A push is [routing id][EVENTS][correlation][RawEventList]: field 1 once
 * per event (the stored bytes, or their pseudonymised form), then field 4,
 * next_seq, one past the last event in it. The list is written here by
 * hand because the event bytes are already encoded: packing a
 * RawEventList would copy every event once more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "ratusz/errors.h"
#include "ratusz/v1/api.pb-c.h"
#include "watch.h"

struct rz_watch {
    uint8_t rid[256];
    size_t rid_len;
    uint8_t corr[256];
    size_t corr_len;
    char principal[128];
    char address[64];
    int redacted;
    char **prefixes;
    size_t nprefixes;
    uint64_t window;
    uint64_t sent, acked;  /* bytes of EVENTS bodies, since the WATCH */
    uint64_t last_seq;     /* the last event sent (at first: the head) */
    uint8_t *buf;          /* the push being collected */
    size_t len, cap;
    uint64_t buf_last;     /* the last event in buf */
    int gone;              /* cut off or disconnected: dropped at flush */
};

static void s_free(rz_watch_t *w)
{
    for (size_t i = 0; i < w->nprefixes; i++)
        free(w->prefixes[i]);
    free(w->prefixes);
    free(w->buf);
    free(w);
}

static size_t s_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        v >>= 7;
    } while (v);
    return n;
}

/* [rid][cmd][corr][body]; 0, or -1 with errno (EHOSTUNREACH: the
 * connection is gone; EAGAIN: its queue is full). body is consumed. */
static int s_send(rz_watches_t *ws, const rz_watch_t *w, const char *cmd,
                  zmq_msg_t *body)
{
    if (zmq_send(ws->sock, w->rid, w->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
        0) {
        int e = zmq_errno();
        zmq_msg_close(body);
        errno = e;
        return -1;
    }
    /* once the routing frame is taken, the rest of the message is */
    zmq_send(ws->sock, cmd, strlen(cmd), ZMQ_SNDMORE);
    zmq_send(ws->sock, w->corr, w->corr_len, ZMQ_SNDMORE);
    if (zmq_msg_send(body, ws->sock, 0) < 0)
        zmq_msg_close(body);
    return 0;
}

/* Tell the subscriber its watch ended (best effort: a subscriber whose
 * queue is full finds out by itself, see PROTOCOL.md section 8). */
static void s_cutoff(rz_watches_t *ws, rz_watch_t *w, const char *reason)
{
    Ratusz__V1__Cutoff c = RATUSZ__V1__CUTOFF__INIT;
    c.last_seq = w->last_seq;
    c.reason = (char *)reason;
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, ratusz__v1__cutoff__get_packed_size(&c)) <
        0)
        return;
    ratusz__v1__cutoff__pack(&c, zmq_msg_data(&body));
    s_send(ws, w, "CUTOFF", &body);
}

/* Forget w's unacknowledged bytes and mark it for removal. */
static void s_end(rz_watches_t *ws, rz_watch_t *w)
{
    ws->held -= w->sent - w->acked;
    w->acked = w->sent;
    w->len = 0;
    if (!w->gone && w->redacted)
        ws->redacted--;
    w->gone = 1;
}

static rz_watch_t *s_find(rz_watches_t *ws, const void *rid, size_t len)
{
    for (size_t i = 0; i < ws->n; i++) {
        rz_watch_t *w = ws->w[i];
        if (!w->gone && w->rid_len == len && !memcmp(w->rid, rid, len))
            return w;
    }
    return NULL;
}

/* Drop the watches that ended. */
static void s_compact(rz_watches_t *ws)
{
    size_t k = 0;
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->w[i]->gone)
            s_free(ws->w[i]);
        else
            ws->w[k++] = ws->w[i];
    }
    ws->n = k;
}

void rz_watches_init(rz_watches_t *ws, void *sock, size_t max,
                     uint64_t window_max, uint64_t held_max)
{
    memset(ws, 0, sizeof *ws);
    ws->sock = sock;
    ws->max = max;
    ws->window_max = window_max;
    ws->held_max = held_max;
}

void rz_watches_close(rz_watches_t *ws, const char *reason)
{
    for (size_t i = 0; i < ws->n; i++) {
        rz_watch_t *w = ws->w[i];
        if (!w->gone && reason)
            s_cutoff(ws, w, reason);
        s_end(ws, w);
    }
    s_compact(ws);
    free(ws->w);
    ws->w = NULL;
    ws->cap = 0;
}

/* An empty push (no events, next_seq only): the way to learn whether a
 * quiet watch's connection is still there. */
static void s_probe(rz_watches_t *ws, rz_watch_t *w)
{
    if (w->gone)
        return;
    uint8_t b[11];
    b[0] = 4 << 3;
    size_t n = 1 + s_varint(b + 1, w->last_seq + 1);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, n) < 0)
        return;
    memcpy(zmq_msg_data(&body), b, n);
    if (s_send(ws, w, "EVENTS", &body) < 0) {
        s_end(ws, w);
        return;
    }
    w->sent += n;
    ws->held += n;
}

int64_t rz_watches_open(rz_watches_t *ws, const rz_watch_spec_t *spec)
{
    rz_watch_t *old = s_find(ws, spec->rid, spec->rid_len);
    if (old) {
        s_cutoff(ws, old, "replaced");
        s_end(ws, old);
        s_compact(ws);
    }
    if (ws->n >= ws->max) {
        /* full: the watches whose subscribers left without UNWATCH make
         * room (a push finds them gone; quiet ones are asked) */
        for (size_t i = 0; i < ws->n; i++)
            s_probe(ws, ws->w[i]);
        s_compact(ws);
    }
    if (ws->n >= ws->max)
        return RZ_EBUSY;
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 16;
        rz_watch_t **nw = realloc(ws->w, cap * sizeof *nw);
        if (!nw)
            return RZ_ENOMEM;
        ws->w = nw;
        ws->cap = cap;
    }
    rz_watch_t *w = calloc(1, sizeof *w);
    if (!w || spec->rid_len > sizeof w->rid ||
        spec->corr_len > sizeof w->corr)
        goto fail;
    w->prefixes = calloc(spec->nprefixes ? spec->nprefixes : 1,
                         sizeof *w->prefixes);
    if (!w->prefixes)
        goto fail;
    for (size_t i = 0; i < spec->nprefixes; i++) {
        if (!(w->prefixes[i] = strdup(spec->prefixes[i])))
            goto fail;
        w->nprefixes++;
    }
    memcpy(w->rid, spec->rid, spec->rid_len);
    w->rid_len = spec->rid_len;
    memcpy(w->corr, spec->corr, spec->corr_len);
    w->corr_len = spec->corr_len;
    snprintf(w->principal, sizeof w->principal, "%s", spec->principal);
    snprintf(w->address, sizeof w->address, "%s", spec->address);
    w->redacted = spec->redacted;
    w->last_seq = spec->head;
    /* at least one push, at most the configured window */
    w->window = spec->window && spec->window < ws->window_max
                    ? spec->window
                    : ws->window_max;
    if (w->window < RZ_WATCH_CHUNK)
        w->window = RZ_WATCH_CHUNK;
    ws->w[ws->n++] = w;
    if (w->redacted)
        ws->redacted++;
    return (int64_t)w->window;
fail:
    if (w)
        s_free(w);
    return RZ_ENOMEM;
}

void rz_watches_credit(rz_watches_t *ws, const void *rid, size_t rid_len,
                       uint64_t consumed)
{
    rz_watch_t *w = s_find(ws, rid, rid_len);
    /* a subscriber cannot acknowledge what it was never sent */
    if (!w || consumed <= w->acked || consumed > w->sent)
        return;
    ws->held -= consumed - w->acked;
    w->acked = consumed;
}

int rz_watches_remove(rz_watches_t *ws, const void *rid, size_t rid_len)
{
    rz_watch_t *w = s_find(ws, rid, rid_len);
    if (!w)
        return 0;
    s_end(ws, w);
    s_compact(ws);
    return 1;
}

static int s_matches(const rz_watch_t *w, const char *topic, size_t n)
{
    for (size_t i = 0; i < w->nprefixes; i++) {
        size_t pn = strlen(w->prefixes[i]);
        if (pn <= n && !memcmp(w->prefixes[i], topic, pn))
            return 1;
    }
    return 0;
}


/* Send w's collected push, or cut w off when it would pass its window or
 * the watches' share of the budget. A push always goes to a subscriber
 * that has acknowledged everything, so an event bigger than the window
 * still gets through. */
static void s_push(rz_watches_t *ws, rz_watch_t *w)
{
    if (w->gone || !w->len)
        return;
    uint8_t tail[11];
    tail[0] = 4 << 3; /* next_seq, varint */
    size_t tn = 1 + s_varint(tail + 1, w->buf_last + 1);
    uint64_t n = w->len + tn, unacked = w->sent - w->acked;
    if (unacked && (unacked + n > w->window || ws->held + n > ws->held_max)) {
        ws->cutoffs++;
        rz_info("watch of %s%s%s cut off: %llu bytes sent and not "
                "acknowledged, window %llu; last seq sent %llu",
                w->principal, *w->address ? " at " : "", w->address,
                (unsigned long long)unacked, (unsigned long long)w->window,
                (unsigned long long)w->last_seq);
        s_cutoff(ws, w, "slow");
        s_end(ws, w);
        return;
    }
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, n) < 0) {
        s_cutoff(ws, w, "no memory");
        s_end(ws, w);
        return;
    }
    memcpy(zmq_msg_data(&body), w->buf, w->len);
    memcpy((uint8_t *)zmq_msg_data(&body) + w->len, tail, tn);
    if (s_send(ws, w, "EVENTS", &body) < 0) {
        if (errno == EAGAIN) {
            /* ZeroMQ's own queue for it is full: as slow as it gets */
            ws->cutoffs++;
            rz_info("watch of %s%s%s cut off: its connection's queue is "
                    "full; last seq sent %llu",
                    w->principal, *w->address ? " at " : "", w->address,
                    (unsigned long long)w->last_seq);
        }
        s_end(ws, w);
        return;
    }
    w->sent += n;
    ws->held += n;
    w->last_seq = w->buf_last;
    w->len = 0;
    /* a push's buffer is kept for the next one, unless it grew big */
    if (w->cap > 4 * RZ_WATCH_CHUNK) {
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
}

void rz_watches_event(rz_watches_t *ws, const char *topic, size_t topic_len,
                      uint64_t seq, const void *full, size_t full_len,
                      const void *red, size_t red_len)
{
    for (size_t i = 0; i < ws->n; i++) {
        rz_watch_t *w = ws->w[i];
        if (w->gone || !s_matches(w, topic, topic_len))
            continue;
        const void *p = w->redacted ? red : full;
        size_t n = w->redacted ? red_len : full_len;
        if (!p)
            continue;
        size_t need = w->len + 1 + 10 + n;
        if (need > w->cap) {
            size_t cap = w->cap ? w->cap : RZ_WATCH_CHUNK + 1024;
            while (cap < need)
                cap *= 2;
            uint8_t *nb = realloc(w->buf, cap);
            if (!nb) {
                s_cutoff(ws, w, "no memory");
                s_end(ws, w);
                continue;
            }
            w->buf = nb;
            w->cap = cap;
        }
        w->buf[w->len++] = 1 << 3 | 2; /* events, length-delimited */
        w->len += s_varint(w->buf + w->len, n);
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        w->buf_last = seq;
        if (w->len >= RZ_WATCH_CHUNK)
            s_push(ws, w);
    }
}

void rz_watches_flush(rz_watches_t *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        s_push(ws, ws->w[i]);
    s_compact(ws);
}
