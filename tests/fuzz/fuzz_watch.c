/* fuzz_watch.c - libFuzzer target for the broker's watches (broker/watch.c).
 *
 * The input is a script of operations on a set of watches over a real
 * ROUTER socket (inproc, ZMQ_ROUTER_MANDATORY, a small high-water mark so
 * that full queues happen) with four DEALER peers:
 *
 *   open a watch (peer, prefix, window), credit (what the peer consumed,
 *   or any number), an event (topic, size), the end of a commit (flush),
 *   a peer reading what it was sent, UNWATCH.
 *
 * After every step the accounting must hold: the bytes held are at most
 * the watches' share plus one push and one event per watch, and never
 * negative. Every peer checks what it reads: each EVENTS push decodes,
 * carries only events of its own watch's prefix, in seq order, and a
 * CUTOFF names a seq no lower than the last event it got. Closing every
 * watch brings the bytes held back to zero.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "ratusz/errors.h"
#include "ratusz/v1/api.pb-c.h"
#include "ratusz/v1/event.pb-c.h"
#include "watch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PEERS 4
#define MAX_EVENT 70000 /* one event may be bigger than a push */

static void *s_ctx, *s_router, *s_peer[N_PEERS];
static const char *const s_topics[] = {"1261011.budget.execution.v1",
                                       "1261011.env.air_quality.v1",
                                       "2211011.tax.assessment.v1", "x"};
static const char *const s_prefixes[] = {"", "1261011.", "1261011.env.",
                                         "2211011.tax.", "9"};

/* What a peer knows of its watch. */
typedef struct s_peer_state {
    int open;           /* a WATCH was sent for it and not ended */
    uint8_t corr;       /* the correlation of its current WATCH */
    const char *prefix;
    uint64_t consumed;  /* EVENTS body bytes read since the WATCH */
    uint64_t last_seq;  /* the last event read */
} s_peer_state_t;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_ctx = zmq_ctx_new();
    s_router = zmq_socket(s_ctx, ZMQ_ROUTER);
    int on = 1, hwm = 16, zero = 0;
    zmq_setsockopt(s_router, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt(s_router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s_router, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s_router, "inproc://fuzz-watch") != 0)
        abort();
    for (int i = 0; i < N_PEERS; i++) {
        char rid[4] = {'p', (char)('0' + i), 0, 0};
        s_peer[i] = zmq_socket(s_ctx, ZMQ_DEALER);
        zmq_setsockopt(s_peer[i], ZMQ_ROUTING_ID, rid, 2);
        zmq_setsockopt(s_peer[i], ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s_peer[i], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(s_peer[i], "inproc://fuzz-watch") != 0)
            abort();
    }
    return 0;
}

/* Read everything waiting for peer i and check it. */
static void s_drain(int i, s_peer_state_t *p)
{
    for (;;) {
        zmq_msg_t f[3];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t tmp, *m = n < 3 ? &f[n] : &tmp;
            zmq_msg_init(m);
            if (zmq_msg_recv(m, s_peer[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(m);
                assert(n == 0); /* messages arrive whole */
                return;
            }
            more = zmq_msg_more(m);
            if (m == &tmp)
                zmq_msg_close(m);
            else
                n++;
        }
        assert(n == 3);
        const char *cmd = zmq_msg_data(&f[0]);
        size_t cn = zmq_msg_size(&f[0]);
        int current = p->open && zmq_msg_size(&f[1]) == 1 &&
                      *(uint8_t *)zmq_msg_data(&f[1]) == p->corr;
        if (cn == 6 && !memcmp(cmd, "EVENTS", 6) && current) {
            Ratusz__V1__RawEventList *l = ratusz__v1__raw_event_list__unpack(
                NULL, zmq_msg_size(&f[2]), zmq_msg_data(&f[2]));
            assert(l);
            for (size_t k = 0; k < l->n_events; k++) {
                Ratusz__V1__Event *ev = ratusz__v1__event__unpack(
                    NULL, l->events[k].len, l->events[k].data);
                assert(ev);
                assert(ev->seq > p->last_seq);
                p->last_seq = ev->seq;
                /* the subject carries the topic */
                assert(!strncmp(ev->subject, p->prefix, strlen(p->prefix)));
                ratusz__v1__event__free_unpacked(ev, NULL);
            }
            assert(l->next_seq == p->last_seq + 1);
            ratusz__v1__raw_event_list__free_unpacked(l, NULL);
            p->consumed += zmq_msg_size(&f[2]);
        } else if (cn == 6 && !memcmp(cmd, "CUTOFF", 6) && current) {
            Ratusz__V1__Cutoff *c = ratusz__v1__cutoff__unpack(
                NULL, zmq_msg_size(&f[2]), zmq_msg_data(&f[2]));
            assert(c);
            assert(c->last_seq >= p->last_seq);
            ratusz__v1__cutoff__free_unpacked(c, NULL);
            p->open = 0;
        }
        for (int k = 0; k < 3; k++)
            zmq_msg_close(&f[k]);
    }
}

/* One stored event whose subject is its topic, so that a peer can check
 * the prefix; padded to about size bytes. */
static size_t s_event(uint8_t *buf, size_t cap, uint64_t seq,
                      const char *topic, size_t size)
{
    static char pad[MAX_EVENT];
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    ev.subject = (char *)topic;
    ev.seq = seq;
    memset(pad, 'a', size < sizeof pad ? size : sizeof pad - 1);
    pad[size < sizeof pad ? size : sizeof pad - 1] = '\0';
    ev.id = pad;
    size_t n = ratusz__v1__event__get_packed_size(&ev);
    assert(n <= cap);
    return ratusz__v1__event__pack(&ev, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ev[MAX_EVENT + 256];
    rz_watches_t ws;
    /* a small budget: cut-offs for the whole table happen too */
    rz_watches_init(&ws, s_router, 3, 64 * 1024, 160 * 1024);
    s_peer_state_t peers[N_PEERS] = {{0}};
    uint8_t next_corr = 1;
    uint64_t seq = 0;
    size_t max_event = 0;

    for (size_t at = 0; at + 2 <= size; at += 2) {
        uint8_t op = data[at] & 7, arg = data[at + 1];
        int i = arg & (N_PEERS - 1);
        char rid[2] = {'p', (char)('0' + i)};
        s_peer_state_t *p = &peers[i];
        switch (op) {
        case 0: { /* WATCH */
            s_drain(i, p); /* what an earlier watch sent is stale */
            const char *prefix =
                s_prefixes[(arg >> 2) % (sizeof s_prefixes / sizeof *s_prefixes)];
            char *prefixes[1] = {(char *)prefix};
            uint8_t corr = next_corr++;
            rz_watch_spec_t spec = {rid, 2, &corr, 1, "fuzz", "inproc",
                                    arg >> 7, prefixes, 1,
                                    (uint64_t)(arg >> 5) * 40000, seq};
            int64_t win = rz_watches_open(&ws, &spec);
            assert(win == RZ_EBUSY || win >= RZ_WATCH_CHUNK);
            *p = (s_peer_state_t){win > 0, corr, prefix, 0, seq};
            break;
        }
        case 1: /* CREDIT: what the peer consumed, or anything */
            rz_watches_credit(&ws, rid, 2,
                              arg & 0x80 ? p->consumed
                                         : (uint64_t)arg << (arg & 31));
            break;
        case 2:
        case 3: { /* an event of a commit */
            const char *topic =
                s_topics[arg % (sizeof s_topics / sizeof *s_topics)];
            size_t n = (size_t)(arg >> 2) * (arg & 0x80 ? 1100 : 40);
            if (n > max_event)
                max_event = n;
            size_t len = s_event(ev, sizeof ev, ++seq, topic, n);
            rz_watches_event(&ws, topic, strlen(topic), seq, ev, len,
                             arg & 0x40 ? NULL : ev, len);
            break;
        }
        case 4: /* the end of a commit */
            rz_watches_flush(&ws);
            break;
        case 5: /* a peer reads */
            s_drain(i, p);
            break;
        case 6: /* UNWATCH */
            rz_watches_remove(&ws, rid, 2);
            p->open = 0;
            break;
        default: /* a peer reads everyone's */
            for (int k = 0; k < N_PEERS; k++)
                s_drain(k, &peers[k]);
            break;
        }
        /* bytes held: at most the share, plus what a watch may always be
         * sent (one push, when it has nothing unacknowledged) */
        assert(ws.held <= ws.held_max + ws.n * (RZ_WATCH_CHUNK + 1024 +
                                                max_event + 64));
        assert(ws.n <= ws.max);
    }
    rz_watches_close(&ws, "stopping");
    assert(ws.held == 0 && ws.n == 0 && ws.redacted == 0);
    for (int k = 0; k < N_PEERS; k++)
        s_drain(k, &peers[k]);
    return 0;
}
