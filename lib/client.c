/* client.c - libratusz: requests, pipelined publish and subscriptions.
 *
 * One DEALER socket carries every request. Each request gets an 8-byte
 * correlation id; publish requests wait in a FIFO until their AckList
 * arrives, while a synchronous request (GET, QUERY, ...) is answered by
 * reading replies until its own correlation shows up, handing any publish
 * acks that arrive meanwhile to the ack callback.
 *
 *   request:  [command][corr: u64 BE][body]
 *   reply:    [command | "ERR"][corr][body]
 *
 * With CURVE keys every socket of the client (the DEALER and each SUB) is
 * a CurveZMQ client. A broker that refuses the key just drops the
 * connection during the handshake, which on its own would look like a
 * broker that does not answer; a socket monitor watches for failed
 * handshakes so that a request says RZ_EDENIED at once instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ratusz/keys.h"
#include "ratusz/ratusz.h"

#define S_DEFAULT_WINDOW 1024
#define S_DEFAULT_TIMEOUT 10000
#define S_MAX_EVENT (16u << 20)
#define S_QUIET_US 1000000

/* Handshake failures of one socket, as its monitor reports them. */
typedef struct s_monitor {
    void *pair;   /* reads the monitored socket's events; NULL: no CURVE */
    int failures; /* failed handshakes since the last one that succeeded */
    int refused;  /* the broker is refusing this client's key */
} s_monitor_t;

#define S_MONITOR_EVENTS                                                      \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |   \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

#define S_REFUSED "the broker refused this client's key"

/* One publish request waiting for its AckList. */
typedef struct s_pending {
    uint64_t corr;
    uint32_t n;     /* events in the request */
    void **args;    /* n user args (or inline when n == 1) */
    void *arg1;
    int64_t sent_us; /* when the request went out */
} s_pending_t;

struct rz_client {
    void *ctx;
    void *sock;
    rz_client_opts_t opts;
    uint64_t next_corr;

    /* CURVE: copies of the keys (opts points here), empty without */
    char curve_public[RZ_KEY_Z85_LEN + 1];
    char curve_secret[RZ_KEY_Z85_LEN + 1];
    char curve_server[RZ_KEY_Z85_LEN + 1];
    s_monitor_t mon;
    unsigned monitors; /* made so far: numbers their inproc endpoints */
    char principal[256];
    char error[256]; /* rz_client_last_error */
    char *endpoint;  /* the front, for watches (their own connections) */

    rz_ack_cb ack_cb;
    void *ack_user;

    /* publish requests in flight, a ring */
    s_pending_t *pend;
    size_t pend_cap, pend_head, pend_len;
    size_t inflight_events;

    /* events collected for the next PUBB */
    ProtobufCBinaryData *batch;
    void **batch_args;
    size_t batch_len;

    rz_client_stats_t stats;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static void s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int s_zerr(void)
{
    int e = zmq_errno();
    if (e == EAGAIN)
        return RZ_ETIMEDOUT;
    return -e;
}

/* ------------------------------------------------------------------------ */
/* CURVE and the handshake monitor                                           */

/* Make sock a CURVE client with c's keys (nothing without keys). */
static int s_curve_apply(const rz_client_t *c, void *sock)
{
    if (!c->curve_server[0])
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->curve_server,
                       RZ_KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->curve_public,
                       RZ_KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->curve_secret,
                       RZ_KEY_Z85_LEN) < 0)
        return -zmq_errno();
    return 0;
}

/* Watch sock's handshakes (before it connects, so none is missed). The
 * inproc name only has to be unique in the client's own context; the
 * number keeps it so while a closed socket's monitor is still going. */
static int s_monitor_start(rz_client_t *c, void *sock, s_monitor_t *m)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://rz-monitor-%u", c->monitors++);
    void *ctx = c->ctx;
    if (zmq_socket_monitor(sock, ep, S_MONITOR_EVENTS) < 0)
        return -zmq_errno();
    m->pair = zmq_socket(ctx, ZMQ_PAIR);
    if (!m->pair)
        return -zmq_errno();
    int zero = 0;
    zmq_setsockopt(m->pair, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(m->pair, ep) < 0)
        return -zmq_errno();
    return 0;
}

static void s_monitor_stop(s_monitor_t *m)
{
    if (m->pair)
        zmq_close(m->pair);
    m->pair = NULL;
}

/* Read the events that are waiting. Returns 1 when some arrived and the
 * broker is (still) refusing the key after them.
 *
 * A broker whose ZAP handler denies the key says so (FAILED_AUTH), and
 * one with another security mechanism fails the greeting
 * (FAILED_PROTOCOL). A broker that cannot decrypt the client's HELLO
 * (the client has the wrong server key) only drops the connection, which
 * is FAILED_NO_DETAIL here, as is a broker stopping mid-handshake: that
 * one counts as refusal when it happens twice in a row (ZeroMQ retries
 * every 100 ms). */
static int s_monitor_read(s_monitor_t *m)
{
    int seen = 0;
    for (;;) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, m->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&id, zmq_msg_data(&ev), 2);
        /* the rest of the event: the endpoint */
        while (zmq_msg_more(&ev)) {
            zmq_msg_close(&ev);
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, m->pair, 0) < 0)
                break;
        }
        zmq_msg_close(&ev);
        seen = 1;
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            m->failures = 0;
            m->refused = 0;
        } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                   id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            m->failures++;
            m->refused = 1;
        } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            m->failures++;
            m->refused = m->failures >= 2;
        }
    }
    return seen && m->refused;
}

/* Send [cmd][corr][body] on sock. */
static int s_send_on(void *sock, const char *cmd, uint64_t corr,
                     const void *body, size_t len)
{
    uint8_t cb[8];
    s_put_u64(cb, corr);
    if (zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, cb, 8, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, body, len, 0) < 0)
        return s_zerr();
    return 0;
}

/* Pack a protobuf-c message (NULL: an empty body) and send it on sock. */
static int s_send_msg_on(void *sock, const char *cmd, uint64_t corr,
                         const ProtobufCMessage *m)
{
    if (!m)
        return s_send_on(sock, cmd, corr, "", 0);
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t stackbuf[512];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return RZ_ENOMEM;
    protobuf_c_message_pack(m, buf);
    int rc = s_send_on(sock, cmd, corr, buf, len);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static int s_send(rz_client_t *c, const char *cmd, uint64_t corr,
                  const void *body, size_t len)
{
    int rc = s_send_on(c->sock, cmd, corr, body, len);
    if (rc == 0)
        c->stats.requests++;
    return rc;
}

static int s_send_msg(rz_client_t *c, const char *cmd, uint64_t corr,
                      const ProtobufCMessage *m)
{
    int rc = s_send_msg_on(c->sock, cmd, corr, m);
    if (rc == 0)
        c->stats.requests++;
    return rc;
}

/* A received reply: three frames. */
typedef struct s_reply {
    zmq_msg_t cmd, corr, body;
    int parts;
} s_reply_t;

static void s_reply_close(s_reply_t *r)
{
    if (r->parts >= 1) zmq_msg_close(&r->cmd);
    if (r->parts >= 2) zmq_msg_close(&r->corr);
    if (r->parts >= 3) zmq_msg_close(&r->body);
    r->parts = 0;
}

static int s_reply_is(const s_reply_t *r, const char *cmd)
{
    size_t n = strlen(cmd);
    return zmq_msg_size((zmq_msg_t *)&r->cmd) == n &&
           memcmp(zmq_msg_data((zmq_msg_t *)&r->cmd), cmd, n) == 0;
}

/* Wait up to timeout_ms for one reply on sock (its handshake monitor:
 * mon). 0, RZ_ETIMEDOUT, RZ_EPROTO, or RZ_EDENIED when the broker refuses
 * the key meanwhile (error then says so). */
static int s_recv_on(void *sock, s_monitor_t *mon, char *error,
                     size_t error_len, s_reply_t *r, int timeout_ms)
{
    int64_t deadline = rz_now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLIN, 0},
                                {mon->pair, 0, ZMQ_POLLIN, 0}};
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            int64_t left = deadline - rz_now_us();
            wait = left > 0 ? (int)((left + 999) / 1000) : 0;
        }
        int n = zmq_poll(it, mon->pair ? 2 : 1, wait);
        if (n < 0)
            return s_zerr();
        if (it[0].revents & ZMQ_POLLIN)
            break;
        if (n > 0 && s_monitor_read(mon)) {
            snprintf(error, error_len, S_REFUSED);
            return RZ_EDENIED;
        }
        if (n == 0 || wait == 0)
            return RZ_ETIMEDOUT;
    }
    r->parts = 0;
    zmq_msg_t *frames[3] = {&r->cmd, &r->corr, &r->body};
    int more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_t *m = r->parts < 3 ? frames[r->parts] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, 0) < 0) {
            zmq_msg_close(m);
            s_reply_close(r);
            return s_zerr();
        }
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(&tmp);
        else
            r->parts++;
    }
    if (r->parts != 3 || zmq_msg_size(&r->corr) != 8) {
        s_reply_close(r);
        return RZ_EPROTO;
    }
    return 0;
}

static int s_recv(rz_client_t *c, s_reply_t *r, int timeout_ms)
{
    return s_recv_on(c->sock, &c->mon, c->error, sizeof c->error, r,
                     timeout_ms);
}

static uint64_t s_reply_corr(s_reply_t *r)
{
    return s_get_u64(zmq_msg_data(&r->corr));
}

/* The code of an ERR reply. */
static int s_reply_error(s_reply_t *r, char *msg, size_t len)
{
    Ratusz__V1__Error *e = ratusz__v1__error__unpack(
        NULL, zmq_msg_size(&r->body), zmq_msg_data(&r->body));
    if (!e)
        return RZ_EPROTO;
    int code = e->code < 0 ? e->code : RZ_EPROTO;
    if (msg && len)
        snprintf(msg, len, "%s", e->message ? e->message : "");
    ratusz__v1__error__free_unpacked(e, NULL);
    return code;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */

/* Copy the three CURVE keys into c: all or none, each valid Z85. */
static int s_curve_keys(rz_client_t *c)
{
    const char *k[3] = {c->opts.curve_public, c->opts.curve_secret,
                        c->opts.curve_server};
    char *dst[3] = {c->curve_public, c->curve_secret, c->curve_server};
    int given = !!k[0] + !!k[1] + !!k[2];
    if (given == 0)
        return 0;
    if (given != 3)
        return -EINVAL;
    if (!zmq_has("curve"))
        return -ENOTSUP;
    for (int i = 0; i < 3; i++) {
        if (!rz_key_is_z85(k[i]))
            return -EINVAL;
        memcpy(dst[i], k[i], RZ_KEY_Z85_LEN + 1);
    }
    c->opts.curve_public = c->curve_public;
    c->opts.curve_secret = c->curve_secret;
    c->opts.curve_server = c->curve_server;
    return 0;
}

rz_client_t *rz_client_new(const char *endpoint, const rz_client_opts_t *opts)
{
    rz_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (opts)
        c->opts = *opts;
    int krc = s_curve_keys(c);
    if (krc < 0) {
        explicit_bzero(c, sizeof *c);
        free(c);
        errno = -krc;
        return NULL;
    }
    snprintf(c->principal, sizeof c->principal, "%s",
             c->curve_public[0] ? c->curve_public : "anonymous");
    if (!c->opts.window)
        c->opts.window = S_DEFAULT_WINDOW;
    if (!c->opts.batch)
        c->opts.batch = 1;
    if (c->opts.timeout_ms == 0)
        c->opts.timeout_ms = S_DEFAULT_TIMEOUT;
    c->next_corr = 1;
    c->pend_cap = 64;
    c->pend = calloc(c->pend_cap, sizeof *c->pend);
    c->batch = calloc(c->opts.batch, sizeof *c->batch);
    c->batch_args = calloc(c->opts.batch, sizeof *c->batch_args);
    c->ctx = zmq_ctx_new();
    if (!c->pend || !c->batch || !c->batch_args || !c->ctx)
        goto fail;
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        goto fail;
    int zero = 0, hwm = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    /* Flow control is the window; the HWM must not drop or block us. */
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (c->curve_server[0] &&
        (s_curve_apply(c, c->sock) < 0 ||
         s_monitor_start(c, c->sock, &c->mon) < 0))
        goto fail;
    c->endpoint = strdup(endpoint ? endpoint : RZ_DEFAULT_FRONT);
    if (!c->endpoint || zmq_connect(c->sock, c->endpoint) < 0)
        goto fail;
    return c;
fail: {
    int e = zmq_errno() ? zmq_errno() : ENOMEM;
    rz_client_destroy(&c);
    errno = e;
    return NULL;
}
}

void rz_client_destroy(rz_client_t **cp)
{
    rz_client_t *c = cp ? *cp : NULL;
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    s_monitor_stop(&c->mon);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    for (size_t i = 0; i < c->pend_len; i++) {
        free(c->pend[(c->pend_head + i) % c->pend_cap].args);
    }
    for (size_t i = 0; i < c->batch_len; i++)
        free(c->batch[i].data);
    free(c->pend);
    free(c->batch);
    free(c->batch_args);
    free(c->endpoint);
    explicit_bzero(c->curve_secret, sizeof c->curve_secret);
    free(c);
    *cp = NULL;
}

const char *rz_client_principal(const rz_client_t *c)
{
    return c->principal;
}

const char *rz_client_last_error(const rz_client_t *c)
{
    return c->error;
}

void rz_client_set_ack_cb(rz_client_t *c, rz_ack_cb cb, void *user)
{
    c->ack_cb = cb;
    c->ack_user = user;
}

void rz_client_stats(const rz_client_t *c, rz_client_stats_t *out)
{
    *out = c->stats;
}

size_t rz_inflight(const rz_client_t *c)
{
    return c->inflight_events + c->batch_len;
}

/* ------------------------------------------------------------------------ */
/* Publish                                                                   */

static int s_pending_push(rz_client_t *c, uint64_t corr, uint32_t n,
                          void **args)
{
    if (c->pend_len == c->pend_cap) {
        size_t cap = c->pend_cap * 2;
        s_pending_t *np = calloc(cap, sizeof *np);
        if (!np)
            return RZ_ENOMEM;
        for (size_t i = 0; i < c->pend_len; i++)
            np[i] = c->pend[(c->pend_head + i) % c->pend_cap];
        free(c->pend);
        c->pend = np;
        c->pend_cap = cap;
        c->pend_head = 0;
    }
    s_pending_t *p = &c->pend[(c->pend_head + c->pend_len) % c->pend_cap];
    p->corr = corr;
    p->n = n;
    p->sent_us = rz_now_us();
    p->args = NULL;
    p->arg1 = args[0];
    if (n > 1) {
        p->args = malloc(n * sizeof *p->args);
        if (!p->args)
            return RZ_ENOMEM;
        memcpy(p->args, args, n * sizeof *p->args);
    }
    c->pend_len++;
    c->inflight_events += n;
    return 0;
}

/* Send the collected batch as one PUB (one event) or PUBB request. */
static int s_send_batch(rz_client_t *c)
{
    if (c->batch_len == 0)
        return 0;
    uint64_t corr = c->next_corr++;
    int rc;
    if (c->batch_len == 1) {
        rc = s_send(c, "PUB", corr, c->batch[0].data, c->batch[0].len);
    } else {
        Ratusz__V1__RawEventBatch b = RATUSZ__V1__RAW_EVENT_BATCH__INIT;
        b.n_events = c->batch_len;
        b.events = c->batch;
        rc = s_send_msg(c, "PUBB", corr, &b.base);
    }
    if (rc == 0)
        rc = s_pending_push(c, corr, (uint32_t)c->batch_len, c->batch_args);
    for (size_t i = 0; i < c->batch_len; i++)
        free(c->batch[i].data);
    if (rc < 0) {
        /* The events are lost to this client: tell the callback. */
        for (size_t i = 0; i < c->batch_len; i++) {
            rz_ack_t a = {c->batch_args[i], 0, rc, 0, 0, rz_strerror(rc)};
            c->stats.failed++;
            if (c->ack_cb)
                c->ack_cb(&a, c->ack_user);
        }
    }
    c->batch_len = 0;
    return rc;
}

/* Deliver the outcomes of the publish request corr. */
static int s_handle_ack(rz_client_t *c, s_reply_t *r, uint64_t corr)
{
    size_t idx = c->pend_len;
    for (size_t i = 0; i < c->pend_len; i++)
        if (c->pend[(c->pend_head + i) % c->pend_cap].corr == corr) {
            idx = i;
            break;
        }
    if (idx == c->pend_len)
        return 0; /* a reply to an abandoned request */
    s_pending_t p = c->pend[(c->pend_head + idx) % c->pend_cap];
    /* Remove it, keeping the ring's order. */
    for (size_t i = idx; i > 0; i--)
        c->pend[(c->pend_head + i) % c->pend_cap] =
            c->pend[(c->pend_head + i - 1) % c->pend_cap];
    c->pend_head = (c->pend_head + 1) % c->pend_cap;
    c->pend_len--;
    c->inflight_events -= p.n;
    void **args = p.n == 1 ? &p.arg1 : p.args;
    /* One publish request: whole-request errors count once per event. */

    Ratusz__V1__AckList *al = NULL;
    int whole = 0;
    char why[256] = "";
    if (s_reply_is(r, "ERR")) {
        whole = s_reply_error(r, why, sizeof why);
    } else {
        al = ratusz__v1__ack_list__unpack(NULL, zmq_msg_size(&r->body),
                                          zmq_msg_data(&r->body));
        if (!al || al->n_acks != p.n) {
            whole = RZ_EPROTO;
            snprintf(why, sizeof why, "ack list does not match the request");
        }
    }
    for (uint32_t i = 0; i < p.n; i++) {
        rz_ack_t a = {args[i], 0, whole, 0, 0, why};
        if (!whole) {
            Ratusz__V1__Ack *k = al->acks[i];
            a.seq = k->seq;
            a.code = k->code;
            a.duplicate = k->duplicate;
            a.durability = al->durability;
            a.reason = k->reason ? k->reason : "";
        }
        if (a.code)
            c->stats.failed++;
        else {
            c->stats.acked++;
            c->stats.duplicates += a.duplicate ? 1 : 0;
        }
        if (c->ack_cb)
            c->ack_cb(&a, c->ack_user);
    }
    if (al)
        ratusz__v1__ack_list__free_unpacked(al, NULL);
    free(p.args);
    return (int)p.n;
}

/* Handle one reply that is not the answer to a synchronous request. */
static int s_dispatch(rz_client_t *c, s_reply_t *r)
{
    return s_handle_ack(c, r, s_reply_corr(r));
}

/* Give up on publish requests older than the timeout: their replies are
 * lost (the broker died or dropped the connection). Each event gets
 * RZ_ETIMEDOUT; a reply arriving later is ignored. Returns how many. */
static int s_expire(rz_client_t *c)
{
    if (c->opts.timeout_ms < 0)
        return 0;
    int64_t limit = rz_now_us() - (int64_t)c->opts.timeout_ms * 1000;
    int n = 0;
    while (c->pend_len && c->pend[c->pend_head].sent_us <= limit) {
        s_pending_t p = c->pend[c->pend_head];
        c->pend_head = (c->pend_head + 1) % c->pend_cap;
        c->pend_len--;
        c->inflight_events -= p.n;
        void **args = p.n == 1 ? &p.arg1 : p.args;
        for (uint32_t i = 0; i < p.n; i++) {
            rz_ack_t a = {args[i], 0, RZ_ETIMEDOUT, 0, 0,
                          "no reply from the broker in time"};
            c->stats.failed++;
            if (c->ack_cb)
                c->ack_cb(&a, c->ack_user);
        }
        free(p.args);
        n += (int)p.n;
    }
    return n;
}

int rz_pump(rz_client_t *c, int timeout_ms)
{
    int rc = s_send_batch(c);
    if (rc < 0)
        return rc;
    int delivered = s_expire(c);
    for (;;) {
        s_reply_t r;
        int wait = delivered ? 0 : timeout_ms;
        if (wait != 0 && c->pend_len && c->opts.timeout_ms >= 0) {
            /* wake up when the oldest request expires */
            int64_t left = c->pend[c->pend_head].sent_us +
                           (int64_t)c->opts.timeout_ms * 1000 - rz_now_us();
            int until = left > 0 ? (int)((left + 999) / 1000) : 0;
            if (wait < 0 || until < wait)
                wait = until;
        }
        rc = s_recv(c, &r, wait);
        if (rc == RZ_ETIMEDOUT) {
            delivered += s_expire(c);
            break;
        }
        if (rc < 0)
            return rc;
        delivered += s_dispatch(c, &r);
        s_reply_close(&r);
    }
    return delivered;
}

int rz_flush(rz_client_t *c, int timeout_ms)
{
    int rc = s_send_batch(c);
    if (rc < 0)
        return rc;
    int64_t deadline = rz_now_us() + (int64_t)timeout_ms * 1000;
    while (c->inflight_events > 0) {
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - rz_now_us();
            if (left <= 0)
                return RZ_ETIMEDOUT;
            wait = (int)((left + 999) / 1000);
        }
        rc = rz_pump(c, wait);
        if (rc < 0 && rc != RZ_ETIMEDOUT)
            return rc;
    }
    return 0;
}

int rz_publish_raw(rz_client_t *c, const void *buf, size_t len, void *arg)
{
    if (len > S_MAX_EVENT)
        return RZ_ETOOBIG;
    /* Wait for room in the window. */
    int64_t deadline = rz_now_us() + (int64_t)c->opts.timeout_ms * 1000;
    while (c->inflight_events + c->batch_len >= c->opts.window) {
        if (c->batch_len && c->inflight_events == 0) {
            int rc = s_send_batch(c);
            if (rc < 0)
                return rc;
            continue;
        }
        int64_t left = deadline - rz_now_us();
        if (c->opts.timeout_ms >= 0 && left <= 0)
            return RZ_ETIMEDOUT;
        int rc = rz_pump(c, c->opts.timeout_ms < 0
                                ? -1
                                : (int)((left + 999) / 1000));
        if (rc < 0 && rc != RZ_ETIMEDOUT)
            return rc;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return RZ_ENOMEM;
    memcpy(copy, buf, len);
    c->batch[c->batch_len].data = copy;
    c->batch[c->batch_len].len = len;
    c->batch_args[c->batch_len] = arg;
    c->batch_len++;
    c->stats.published++;
    /* A failed send is reported to the ack callback of each event. */
    if (c->batch_len >= c->opts.batch)
        s_send_batch(c);
    return 0;
}

int rz_publish(rz_client_t *c, const Ratusz__V1__Event *ev, void *arg)
{
    char why[160];
    int rc = rz_event_check(ev, why, sizeof why);
    if (rc < 0)
        return rc;
    size_t len = ratusz__v1__event__get_packed_size(ev);
    if (len > S_MAX_EVENT)
        return RZ_ETOOBIG;
    uint8_t stackbuf[1024];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return RZ_ENOMEM;
    ratusz__v1__event__pack(ev, buf);
    rc = rz_publish_raw(c, buf, len, arg);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Synchronous requests                                                      */

/* Send a request (after any batched events, so that it sees them). */
static int s_call(rz_client_t *c, const char *cmd, const ProtobufCMessage *m,
                  uint64_t *corr)
{
    int rc = s_send_batch(c);
    if (rc < 0)
        return rc;
    c->error[0] = '\0';
    *corr = c->next_corr++;
    return s_send_msg(c, cmd, *corr, m);
}

/* Wait for the next reply to corr; publish acks that arrive meanwhile are
 * delivered. On success r holds the reply (the caller closes it); an ERR
 * reply is turned into its code. */
static int s_wait(rz_client_t *c, uint64_t corr, s_reply_t *r)
{
    int64_t deadline = rz_now_us() + (int64_t)c->opts.timeout_ms * 1000;
    for (;;) {
        int wait = -1;
        if (c->opts.timeout_ms >= 0) {
            int64_t left = deadline - rz_now_us();
            if (left <= 0)
                return RZ_ETIMEDOUT;
            wait = (int)((left + 999) / 1000);
        }
        int rc = s_recv(c, r, wait);
        if (rc < 0)
            return rc;
        if (s_reply_corr(r) == corr) {
            if (s_reply_is(r, "ERR")) {
                rc = s_reply_error(r, c->error, sizeof c->error);
                s_reply_close(r);
                return rc;
            }
            return 0;
        }
        s_dispatch(c, r);
        s_reply_close(r);
    }
}

static int s_request(rz_client_t *c, const char *cmd,
                     const ProtobufCMessage *m, s_reply_t *r)
{
    uint64_t corr;
    int rc = s_call(c, cmd, m, &corr);
    if (rc < 0)
        return rc;
    rc = s_wait(c, corr, r);
    if (rc == 0 && !s_reply_is(r, cmd)) {
        s_reply_close(r);
        return RZ_EPROTO;
    }
    return rc;
}

/* Decode a RawEventList reply and hand each event to cb. Returns the count
 * delivered; *stop is set when cb asked to stop. */
static int s_deliver(s_reply_t *r, rz_event_cb cb, void *user,
                     Ratusz__V1__RawEventList **out, int *stop)
{
    Ratusz__V1__RawEventList *l = ratusz__v1__raw_event_list__unpack(
        NULL, zmq_msg_size(&r->body), zmq_msg_data(&r->body));
    if (!l)
        return RZ_EPROTO;
    int n = 0;
    for (size_t i = 0; i < l->n_events && !*stop; i++) {
        Ratusz__V1__Event *ev = ratusz__v1__event__unpack(
            NULL, l->events[i].len, l->events[i].data);
        if (!ev) {
            ratusz__v1__raw_event_list__free_unpacked(l, NULL);
            return RZ_EPROTO;
        }
        rz_event_t e = {ev, l->events[i].data, l->events[i].len, 0};
        n++;
        if (cb && cb(&e, user))
            *stop = 1;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    if (out)
        *out = l;
    else
        ratusz__v1__raw_event_list__free_unpacked(l, NULL);
    return n;
}

static int s_get(rz_client_t *c, Ratusz__V1__GetRequest *g, rz_event_cb cb,
                 void *user)
{
    s_reply_t r;
    int rc = s_request(c, "GET", &g->base, &r);
    if (rc < 0)
        return rc;
    int stop = 0;
    rc = s_deliver(&r, cb, user, NULL, &stop);
    s_reply_close(&r);
    if (rc == 0)
        rc = RZ_ENOTFOUND;
    return rc;
}

int rz_get_seq(rz_client_t *c, uint64_t seq, rz_event_cb cb, void *user)
{
    Ratusz__V1__GetRequest g = RATUSZ__V1__GET_REQUEST__INIT;
    g.seq = seq;
    return s_get(c, &g, cb, user);
}

int rz_get_id(rz_client_t *c, const char *source, const char *id,
              rz_event_cb cb, void *user)
{
    Ratusz__V1__GetRequest g = RATUSZ__V1__GET_REQUEST__INIT;
    g.source = (char *)source;
    g.id = (char *)id;
    return s_get(c, &g, cb, user);
}

int rz_query(rz_client_t *c, rz_query_t *q, rz_event_cb cb, void *user)
{
    Ratusz__V1__QueryRequest m = RATUSZ__V1__QUERY_REQUEST__INIT;
    m.subject = (char *)(q->subject ? q->subject : "");
    m.topic_prefix = (char *)(q->topic_prefix ? q->topic_prefix : "");
    m.since = q->since;
    m.until = q->until;
    m.limit = q->limit;
    m.after.data = q->after;
    m.after.len = q->after_len;
    m.redact = q->redact != 0;
    m.pseudonym = (char *)(q->pseudonym ? q->pseudonym : "");
    s_reply_t r;
    int rc = s_request(c, "QUERY", &m.base, &r);
    if (rc < 0)
        return rc;
    Ratusz__V1__RawEventList *l = NULL;
    int stop = 0;
    rc = s_deliver(&r, cb, user, &l, &stop);
    s_reply_close(&r);
    if (rc < 0)
        return rc;
    if (l->next.len > RZ_CURSOR_MAX) {
        rc = RZ_EPROTO;
    } else {
        if (l->next.len)
            memcpy(q->after, l->next.data, l->next.len);
        q->after_len = l->next.len;
        q->withheld = l->withheld;
    }
    ratusz__v1__raw_event_list__free_unpacked(l, NULL);
    return rc;
}

/* Passes events on until a budget runs out (-1: no budget) or the
 * caller's callback asks to stop. */
typedef struct s_limit {
    rz_event_cb cb;
    void *user;
    int64_t room;
    int64_t delivered;
} s_limit_t;

static int s_limited(const rz_event_t *e, void *user)
{
    s_limit_t *l = user;
    if (l->room == 0)
        return 1;
    l->delivered++;
    if (l->room > 0)
        l->room--;
    int stop = l->cb ? l->cb(e, l->user) : 0;
    return stop || l->room == 0;
}

/* Requests of an unfiltered replay kept in flight at once. */
#define S_REPLAY_DEPTH 4
#define S_REPLAY_CHUNK 1000

/* The bulk of an unfiltered replay: seqs have no gaps, so the ranges of the
 * next few chunks are known in advance and their requests can be in flight
 * together, while the broker reads one and this client decodes another.
 * The broker answers reads in the order they were sent. Stops at the first
 * range that comes back short (the head, the end, or the broker's own chunk
 * cap) and leaves *from where a sequential replay must go on; *done is set
 * when nothing is left. Returns the number delivered or a negative code. */
static int64_t s_replay_ranges(rz_client_t *c, const rz_replay_t *rp,
                               uint64_t *from, int *done, rz_event_cb cb,
                               void *user)
{
    uint64_t chunk = rp->chunk ? rp->chunk : S_REPLAY_CHUNK;
    uint64_t corr[S_REPLAY_DEPTH], end_of[S_REPLAY_DEPTH];
    int n = 0, first = 0, stop = 0, short_reply = 0, failed = 0;
    uint64_t next = *from;
    /* no gaps: the first max_events seqs hold every event wanted */
    uint64_t last = rp->until_seq;
    if (rp->max_events && (!last || *from + rp->max_events < last))
        last = *from + rp->max_events;
    int64_t total = 0;
    Ratusz__V1__ReplayRequest m = RATUSZ__V1__REPLAY_REQUEST__INIT;
    m.topic_prefix = "";
    *done = 0;
    for (;;) {
        /* keep the pipeline full until the first short range */
        while (!short_reply && !stop && !failed && n < S_REPLAY_DEPTH &&
               (!last || next < last)) {
            m.from_seq = next;
            m.until_seq = next + chunk;
            if (last && m.until_seq > last)
                m.until_seq = last;
            m.chunk = (uint32_t)(m.until_seq - next);
            int k = (first + n) % S_REPLAY_DEPTH;
            if (s_call(c, "REPLAY", &m.base, &corr[k]) < 0) {
                failed = 1;
                break;
            }
            end_of[k] = m.until_seq;
            next = m.until_seq;
            n++;
        }
        if (n == 0)
            break;
        s_reply_t r;
        int rc = s_wait(c, corr[first], &r);
        uint64_t range_end = end_of[first];
        first = (first + 1) % S_REPLAY_DEPTH;
        n--;
        if (rc < 0)
            return rc; /* the rest of the replies are never matched */
        if (short_reply || stop) {
            s_reply_close(&r); /* after the stop point: not delivered */
            continue;
        }
        Ratusz__V1__RawEventList *l = NULL;
        int64_t room = rp->max_events ? (int64_t)rp->max_events - total : -1;
        s_limit_t lim = {cb, user, room, 0};
        rc = s_deliver(&r, s_limited, &lim, &l, &stop);
        s_reply_close(&r);
        if (rc < 0)
            return rc;
        total += lim.delivered;
        *from = l->next_seq;
        if (l->next_seq < range_end)
            short_reply = 1;
        ratusz__v1__raw_event_list__free_unpacked(l, NULL);
        if (rp->max_events && (uint64_t)total >= rp->max_events)
            stop = 1;
    }
    if (failed)
        return RZ_EIO;
    if (stop || (!short_reply && last && *from >= last))
        *done = 1;
    return total;
}

int64_t rz_replay(rz_client_t *c, const rz_replay_t *rp, rz_event_cb cb,
                  void *user)
{
    /* Each REPLAY answers one chunk and says where to go on from; the
     * client pulls chunk after chunk, which is also its flow control. */
    Ratusz__V1__ReplayRequest m = RATUSZ__V1__REPLAY_REQUEST__INIT;
    m.from_seq = rp->from_seq ? rp->from_seq : 1;
    m.until_seq = rp->until_seq;
    m.topic_prefix = (char *)(rp->topic_prefix ? rp->topic_prefix : "");
    m.chunk = rp->chunk;
    int64_t total = 0;
    int stop = 0;
    if (!*m.topic_prefix) {
        int done;
        total = s_replay_ranges(c, rp, &m.from_seq, &done, cb, user);
        if (total < 0 || done)
            return total;
    }
    for (;;) {
        if (rp->max_events)
            m.max_events = rp->max_events - (uint64_t)total;
        s_reply_t r;
        int rc = s_request(c, "REPLAY", &m.base, &r);
        if (rc < 0)
            return rc;
        Ratusz__V1__RawEventList *l = NULL;
        rc = s_deliver(&r, cb, user, &l, &stop);
        s_reply_close(&r);
        if (rc < 0)
            return rc;
        total += rc;
        int end = l->end || l->next_seq <= m.from_seq;
        m.from_seq = l->next_seq;
        ratusz__v1__raw_event_list__free_unpacked(l, NULL);
        if (end || stop ||
            (rp->max_events && (uint64_t)total >= rp->max_events))
            return total;
    }
}

int rz_fetch(rz_client_t *c, const char *group, const char *topic_prefix,
             uint64_t after_seq, uint32_t max, rz_event_cb cb, void *user,
             uint64_t *last_seq)
{
    Ratusz__V1__FetchRequest m = RATUSZ__V1__FETCH_REQUEST__INIT;
    m.group = (char *)group;
    m.after_seq = after_seq;
    m.max = max;
    m.topic_prefix = (char *)(topic_prefix ? topic_prefix : "");
    s_reply_t r;
    int rc = s_request(c, "FETCH", &m.base, &r);
    if (rc < 0)
        return rc;
    Ratusz__V1__RawEventList *l = NULL;
    int stop = 0;
    rc = s_deliver(&r, cb, user, &l, &stop);
    s_reply_close(&r);
    if (rc < 0)
        return rc;
    if (last_seq && l->next_seq > 0)
        *last_seq = l->next_seq - 1;
    ratusz__v1__raw_event_list__free_unpacked(l, NULL);
    return rc;
}

int rz_commit(rz_client_t *c, const char *group, uint64_t seq)
{
    Ratusz__V1__CommitRequest m = RATUSZ__V1__COMMIT_REQUEST__INIT;
    m.group = (char *)group;
    m.seq = seq;
    s_reply_t r;
    int rc = s_request(c, "COMMIT", &m.base, &r);
    if (rc < 0)
        return rc;
    s_reply_close(&r);
    return 0;
}

static int s_group_admin(rz_client_t *c, const char *group,
                         const char *action, uint64_t seq)
{
    Ratusz__V1__GroupRequest m = RATUSZ__V1__GROUP_REQUEST__INIT;
    m.group = (char *)group;
    m.action = (char *)action;
    m.seq = seq;
    s_reply_t r;
    int rc = s_request(c, "GROUP", &m.base, &r);
    if (rc < 0)
        return rc;
    s_reply_close(&r);
    return 0;
}

int rz_consumer_delete(rz_client_t *c, const char *group)
{
    return s_group_admin(c, group, "delete", 0);
}

int rz_consumer_reset(rz_client_t *c, const char *group, uint64_t seq)
{
    return s_group_admin(c, group, "reset", seq);
}

/* Unpack the body of a reply to an empty-bodied info request. */
static int s_info(rz_client_t *c, const char *cmd,
                  const ProtobufCMessageDescriptor *d, void **out)
{
    s_reply_t r;
    int rc = s_request(c, cmd, NULL, &r);
    if (rc < 0)
        return rc;
    *out = protobuf_c_message_unpack(d, NULL, zmq_msg_size(&r.body),
                                     zmq_msg_data(&r.body));
    s_reply_close(&r);
    return *out ? 0 : RZ_EPROTO;
}

int rz_health(rz_client_t *c, Ratusz__V1__Health **out)
{
    return s_info(c, "HEALTH", &ratusz__v1__health__descriptor,
                  (void **)out);
}

int rz_stats(rz_client_t *c, Ratusz__V1__Stats **out)
{
    return s_info(c, "STATS", &ratusz__v1__stats__descriptor, (void **)out);
}

int rz_report(rz_client_t *c, const Ratusz__V1__Component *comp)
{
    s_reply_t r;
    int rc = s_request(c, "REPORT", &comp->base, &r);
    if (rc < 0)
        return rc;
    s_reply_close(&r);
    return 0;
}

int rz_consumers(rz_client_t *c, Ratusz__V1__ConsumerList **out)
{
    return s_info(c, "CONSUMERS", &ratusz__v1__consumer_list__descriptor,
                  (void **)out);
}

/* ------------------------------------------------------------------------ */
/* Subscriptions                                                             */

/* Last seq seen per topic: open addressing, grown at half load. */
typedef struct s_topic_seen {
    char *topic;
    uint64_t seq;
} s_topic_seen_t;

struct rz_sub {
    rz_client_t *client;
    void *sock;
    s_monitor_t mon; /* with CURVE */
    uint64_t start_seq; /* head when the subscription began */
    uint64_t caught_up; /* every matching event <= this was delivered */
    /* The stream counts as quiet S_QUIET_US after its last message; only
     * then is the head checked for events lost at its tail, so the check
     * never races live delivery. */
    int64_t quiet_from_us;
    char *prefix;
    s_topic_seen_t *seen;
    size_t seen_cap, seen_len;
    rz_sub_stats_t stats;

    /* a watch (rz_watch_new): a DEALER of its own on the front */
    int watch;
    uint64_t next_corr;
    uint64_t watch_corr;  /* the open WATCH's; older pushes are stale */
    uint64_t window_asked, window;
    uint64_t consumed, credited; /* bytes of EVENTS bodies */
    uint64_t backfill_to; /* read from the store up to here first */
    Ratusz__V1__RawEventList *push; /* being delivered */
    size_t push_at;
};

static uint64_t s_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static s_topic_seen_t *s_seen_slot(rz_sub_t *s, const char *t, size_t n)
{
    if (s->seen_len * 2 >= s->seen_cap) {
        size_t cap = s->seen_cap ? s->seen_cap * 2 : 64;
        s_topic_seen_t *nt = calloc(cap, sizeof *nt);
        if (!nt)
            return NULL;
        for (size_t i = 0; i < s->seen_cap; i++) {
            if (!s->seen[i].topic)
                continue;
            size_t j = s_hash(s->seen[i].topic, strlen(s->seen[i].topic)) &
                       (cap - 1);
            while (nt[j].topic)
                j = (j + 1) & (cap - 1);
            nt[j] = s->seen[i];
        }
        free(s->seen);
        s->seen = nt;
        s->seen_cap = cap;
    }
    size_t j = s_hash(t, n) & (s->seen_cap - 1);
    while (s->seen[j].topic) {
        if (strlen(s->seen[j].topic) == n && !memcmp(s->seen[j].topic, t, n))
            return &s->seen[j];
        j = (j + 1) & (s->seen_cap - 1);
    }
    s->seen[j].topic = strndup(t, n);
    if (!s->seen[j].topic)
        return NULL;
    s->seen[j].seq = s->start_seq;
    s->seen_len++;
    return &s->seen[j];
}

rz_sub_t *rz_sub_new(rz_client_t *c, const char *stream_endpoint,
                     const char *prefix)
{
    rz_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->client = c;
    Ratusz__V1__Health *h = NULL;
    int rc = rz_health(c, &h);
    if (rc < 0) {
        free(s);
        errno = -rc;
        return NULL;
    }
    s->start_seq = h->head_seq;
    ratusz__v1__health__free_unpacked(h, NULL);
    s->sock = zmq_socket(c->ctx, ZMQ_SUB);
    int zero = 0, hwm = 100000;
    if (!s->sock)
        goto fail;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (c->curve_server[0] &&
        (s_curve_apply(c, s->sock) < 0 ||
         s_monitor_start(c, s->sock, &s->mon) < 0))
        goto fail;
    prefix = prefix ? prefix : "";
    s->caught_up = s->start_seq;
    s->quiet_from_us = rz_now_us() + S_QUIET_US;
    s->prefix = strdup(prefix);
    if (!s->prefix)
        goto fail;
    if (zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0 ||
        zmq_connect(s->sock, stream_endpoint ? stream_endpoint
                                             : RZ_DEFAULT_STREAM) < 0)
        goto fail;
    return s;
fail: {
    int e = zmq_errno();
    rz_sub_destroy(&s);
    errno = e;
    return NULL;
}
}

void rz_sub_destroy(rz_sub_t **sp)
{
    rz_sub_t *s = sp ? *sp : NULL;
    if (!s)
        return;
    if (s->sock && s->watch_corr) {
        /* tell the broker, briefly: otherwise it finds out by itself */
        int linger = 100;
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
        s_send_msg_on(s->sock, "UNWATCH", s->next_corr++, NULL);
    }
    if (s->push)
        ratusz__v1__raw_event_list__free_unpacked(s->push, NULL);
    if (s->sock)
        zmq_close(s->sock);
    s_monitor_stop(&s->mon);
    for (size_t i = 0; i < s->seen_cap; i++)
        free(s->seen[i].topic);
    free(s->prefix);
    free(s->seen);
    free(s);
    *sp = NULL;
}

void rz_sub_stats(const rz_sub_t *s, rz_sub_stats_t *out)
{
    *out = s->stats;
}

typedef struct s_backfill {
    const char *topic;
    size_t topic_len;
    rz_event_cb cb;
    void *user;
    int delivered;
    int stop;
} s_backfill_t;

/* Pass on the replayed events of exactly this topic (a prefix replay may
 * also return topics that merely start with it). */
static int s_backfill_one(const rz_event_t *e, void *user)
{
    s_backfill_t *b = user;
    char topic[RZ_TOPIC_MAX + 1];
    int n = rz_event_topic(e->msg, topic, sizeof topic);
    if (n < 0 || (size_t)n != b->topic_len || memcmp(topic, b->topic, n))
        return 0;
    rz_event_t copy = *e;
    copy.backfilled = 1;
    b->delivered++;
    if (b->cb && b->cb(&copy, b->user))
        b->stop = 1;
    return b->stop;
}

/* Receive and deliver one stream message (with its backfill). */
static int s_sub_one(rz_sub_t *s, rz_event_cb cb, void *user, int *stop)
{
    zmq_msg_t f[3];
    int parts = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t tmp, *m = parts < 3 ? &f[parts] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s->sock, 0) < 0) {
            zmq_msg_close(m);
            rc = s_zerr();
            goto out;
        }
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(m);
        else
            parts++;
    }
    if (parts != 3 || zmq_msg_size(&f[1]) != 16) {
        rc = RZ_EPROTO;
        goto out;
    }
    s->stats.received++;
    s->quiet_from_us = rz_now_us() + S_QUIET_US;
    const char *topic = zmq_msg_data(&f[0]);
    size_t tlen = zmq_msg_size(&f[0]);
    const uint8_t *pos = zmq_msg_data(&f[1]);
    uint64_t seq = s_get_u64(pos), prev = s_get_u64(pos + 8);
    s_topic_seen_t *seen = s_seen_slot(s, topic, tlen);
    if (!seen) {
        rc = RZ_ENOMEM;
        goto out;
    }
    if (seq <= seen->seq)
        goto out; /* already delivered by a backfill */
    int n = 0;
    if (prev > seen->seq) {
        /* Missed prev (and maybe more) of this topic: read them back. */
        s->stats.gaps++;
        s_backfill_t b = {topic, tlen, cb, user, 0, 0};
        rz_replay_t rp = {seen->seq + 1, seq, NULL, 0, 0};
        char prefix[RZ_TOPIC_MAX + 1];
        snprintf(prefix, sizeof prefix, "%.*s", (int)tlen, topic);
        rp.topic_prefix = prefix;
        int64_t got = rz_replay(s->client, &rp, s_backfill_one, &b);
        s->stats.backfilled += (uint64_t)b.delivered;
        n += b.delivered;
        if (got < 0 && b.delivered == 0)
            rc = RZ_EGAP;
        if (b.stop)
            *stop = 1;
    }
    seen->seq = seq;
    if (!*stop) {
        Ratusz__V1__Event *ev = ratusz__v1__event__unpack(
            NULL, zmq_msg_size(&f[2]), zmq_msg_data(&f[2]));
        if (!ev) {
            rc = RZ_EPROTO;
            goto out;
        }
        rz_event_t e = {ev, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), 0};
        n++;
        if (cb && cb(&e, user))
            *stop = 1;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    if (rc == 0)
        rc = n;
out:
    for (int i = 0; i < parts; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

typedef struct s_catchup {
    rz_sub_t *s;
    rz_event_cb cb;
    void *user;
    int delivered, stop;
} s_catchup_t;

static int s_catchup_one(const rz_event_t *e, void *user)
{
    s_catchup_t *k = user;
    char topic[RZ_TOPIC_MAX + 1];
    int n = rz_event_topic(e->msg, topic, sizeof topic);
    if (n < 0)
        return 0;
    s_topic_seen_t *seen = s_seen_slot(k->s, topic, (size_t)n);
    if (!seen || e->msg->seq <= seen->seq)
        return 0;
    seen->seq = e->msg->seq;
    rz_event_t copy = *e;
    copy.backfilled = 1;
    k->delivered++;
    k->s->stats.backfilled++;
    if (k->cb && k->cb(&copy, k->user))
        k->stop = 1;
    return k->stop;
}

/* Once the subscription has been quiet for S_QUIET_US (then again only
 * after as long): the store's head when it holds more than was delivered
 * (caught_up), else 0. */
static uint64_t s_quiet_head(rz_sub_t *s)
{
    int64_t now = rz_now_us();
    if (now < s->quiet_from_us)
        return 0;
    s->quiet_from_us = now + S_QUIET_US;
    Ratusz__V1__Health *h = NULL;
    if (rz_health(s->client, &h) < 0)
        return 0;
    uint64_t head = h->head_seq;
    ratusz__v1__health__free_unpacked(h, NULL);
    return head > s->caught_up ? head : 0;
}

/* The stream is quiet: whatever matching event is in the store past what
 * was delivered was dropped at the tail (or while reconnecting), where no
 * later event can reveal it. Read it back. */
static int s_catch_up(rz_sub_t *s, rz_event_cb cb, void *user, int *stop)
{
    uint64_t head = s_quiet_head(s);
    if (!head)
        return 0;
    s_catchup_t k = {s, cb, user, 0, 0};
    rz_replay_t rp = {s->caught_up + 1, head + 1, s->prefix, 0, 0};
    if (rz_replay(s->client, &rp, s_catchup_one, &k) >= 0 && !k.stop)
        s->caught_up = head;
    if (k.stop)
        *stop = 1;
    return k.delivered;
}

static int s_watch_recv(rz_sub_t *s, rz_event_cb cb, void *user,
                        int timeout_ms);

int rz_sub_recv(rz_sub_t *s, rz_event_cb cb, void *user, int timeout_ms)
{
    if (s->watch)
        return s_watch_recv(s, cb, user, timeout_ms);
    int delivered = 0, stop = 0;
    int64_t deadline = rz_now_us() + (int64_t)timeout_ms * 1000;
    while (!stop) {
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            int64_t left = deadline - rz_now_us();
            wait = left > 0 ? (int)((left + 999) / 1000) : 0;
        }
        if (delivered)
            wait = 0;
        zmq_pollitem_t it[2] = {{s->sock, 0, ZMQ_POLLIN, 0},
                                {s->mon.pair, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(it, s->mon.pair ? 2 : 1, wait);
        if (n < 0)
            return delivered ? delivered : s_zerr();
        if (n > 0 && !(it[0].revents & ZMQ_POLLIN)) {
            /* only the monitor spoke */
            if (s_monitor_read(&s->mon)) {
                snprintf(s->client->error, sizeof s->client->error,
                         S_REFUSED);
                return delivered ? delivered : RZ_EDENIED;
            }
            if (wait == 0 || (timeout_ms > 0 && rz_now_us() >= deadline))
                n = 0;
            else
                continue;
        }
        if (n == 0) {
            if (!delivered)
                delivered += s_catch_up(s, cb, user, &stop);
            break;
        }
        int rc = s_sub_one(s, cb, user, &stop);
        if (rc < 0)
            return delivered ? delivered : rc;
        delivered += rc;
    }
    return delivered;
}

/* ------------------------------------------------------------------------ */
/* Watches: flow-controlled subscriptions (PROTOCOL.md section 8)            */

/* Send WATCH on the watch's socket and wait for its reply. Pushes of an
 * earlier watch still in the socket are stale: the store has them. */
static int s_watch_open(rz_sub_t *s, uint64_t *head)
{
    rz_client_t *c = s->client;
    Ratusz__V1__WatchRequest w = RATUSZ__V1__WATCH_REQUEST__INIT;
    w.topic_prefix = s->prefix;
    w.window = s->window_asked;
    uint64_t corr = s->next_corr++;
    int rc = s_send_msg_on(s->sock, "WATCH", corr, &w.base);
    if (rc < 0)
        return rc;
    s->watch_corr = 0;
    if (s->push) {
        ratusz__v1__raw_event_list__free_unpacked(s->push, NULL);
        s->push = NULL;
    }
    int64_t deadline = rz_now_us() + (int64_t)c->opts.timeout_ms * 1000;
    for (;;) {
        int wait = -1;
        if (c->opts.timeout_ms >= 0) {
            int64_t left = deadline - rz_now_us();
            if (left <= 0)
                return RZ_ETIMEDOUT;
            wait = (int)((left + 999) / 1000);
        }
        s_reply_t r;
        rc = s_recv_on(s->sock, &s->mon, c->error, sizeof c->error, &r, wait);
        if (rc < 0)
            return rc;
        if (s_reply_corr(&r) != corr) {
            s_reply_close(&r);
            continue;
        }
        if (s_reply_is(&r, "ERR")) {
            rc = s_reply_error(&r, c->error, sizeof c->error);
            s_reply_close(&r);
            return rc;
        }
        Ratusz__V1__WatchReply *m = s_reply_is(&r, "WATCH")
            ? ratusz__v1__watch_reply__unpack(NULL, zmq_msg_size(&r.body),
                                              zmq_msg_data(&r.body))
            : NULL;
        s_reply_close(&r);
        if (!m)
            return RZ_EPROTO;
        *head = m->head_seq;
        s->window = m->window;
        ratusz__v1__watch_reply__free_unpacked(m, NULL);
        s->watch_corr = corr;
        s->consumed = s->credited = 0;
        return 0;
    }
}

typedef struct s_wfill {
    rz_sub_t *s;
    rz_event_cb cb;
    void *user;
    int delivered, stop;
} s_wfill_t;

static int s_wfill_one(const rz_event_t *e, void *user)
{
    s_wfill_t *k = user;
    if (e->msg->seq <= k->s->caught_up)
        return 0;
    k->s->caught_up = e->msg->seq;
    rz_event_t copy = *e;
    copy.backfilled = 1;
    k->delivered++;
    k->s->stats.backfilled++;
    if (k->cb && k->cb(&copy, k->user))
        k->stop = 1;
    return k->stop;
}

/* Read back from the store what the watch did not send: everything up to
 * backfill_to (the head when the current watch began). */
static int s_watch_backfill(rz_sub_t *s, rz_event_cb cb, void *user,
                            int *stop)
{
    s_wfill_t k = {s, cb, user, 0, 0};
    rz_replay_t rp = {s->caught_up + 1, s->backfill_to + 1, s->prefix, 0, 0};
    int64_t got = rz_replay(s->client, &rp, s_wfill_one, &k);
    if (k.stop)
        *stop = 1;
    else if (got >= 0)
        s->caught_up = s->backfill_to;
    else if (!k.delivered)
        return (int)got;
    return k.delivered;
}

/* Watch again (after a CUTOFF, or a broker that forgot the watch); what
 * was stored meanwhile is read back before the next push. */
static int s_watch_again(rz_sub_t *s)
{
    uint64_t head = 0;
    int rc = s_watch_open(s, &head);
    if (rc < 0)
        return rc;
    if (head > s->caught_up)
        s->backfill_to = head;
    return 0;
}

/* Deliver the rest of the push being delivered; credit it once done. */
static int s_watch_push(rz_sub_t *s, rz_event_cb cb, void *user, int *stop)
{
    int n = 0;
    while (s->push_at < s->push->n_events && !*stop) {
        const ProtobufCBinaryData *b = &s->push->events[s->push_at++];
        Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, b->len,
                                                          b->data);
        if (!ev)
            return n ? n : RZ_EPROTO;
        if (ev->seq > s->caught_up) {
            s->caught_up = ev->seq;
            s->stats.received++;
            rz_event_t e = {ev, b->data, b->len, 0};
            n++;
            if (cb && cb(&e, user))
                *stop = 1;
        }
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    if (s->push_at == s->push->n_events) {
        ratusz__v1__raw_event_list__free_unpacked(s->push, NULL);
        s->push = NULL;
        /* a quarter of the window: the broker never waits on a credit */
        if (s->consumed - s->credited >= s->window / 4) {
            Ratusz__V1__Credit cr = RATUSZ__V1__CREDIT__INIT;
            cr.consumed = s->consumed;
            if (s_send_msg_on(s->sock, "CREDIT", s->next_corr++, &cr.base) ==
                0)
                s->credited = s->consumed;
        }
    }
    return n;
}

/* The watch is quiet: a broker that restarted has forgotten it. When the
 * store holds more than was delivered, watch again (which reads it back);
 * at most once per quiet period. */
static int s_watch_check(rz_sub_t *s)
{
    return s_quiet_head(s) ? s_watch_again(s) : 0;
}

static int s_watch_recv(rz_sub_t *s, rz_event_cb cb, void *user,
                        int timeout_ms)
{
    int delivered = 0, stop = 0;
    int64_t deadline = rz_now_us() + (int64_t)timeout_ms * 1000;
    while (!stop) {
        int rc = 0;
        if (s->backfill_to > s->caught_up)
            rc = s_watch_backfill(s, cb, user, &stop);
        else if (s->push)
            rc = s_watch_push(s, cb, user, &stop);
        if (rc < 0)
            return delivered ? delivered : rc;
        delivered += rc;
        if (stop || s->backfill_to > s->caught_up || s->push)
            continue;

        int wait = timeout_ms;
        if (timeout_ms > 0) {
            int64_t left = deadline - rz_now_us();
            wait = left > 0 ? (int)((left + 999) / 1000) : 0;
        }
        if (delivered)
            wait = 0;
        /* slices of a second at most: a quiet watch is checked on */
        s_reply_t r;
        rc = s_recv_on(s->sock, &s->mon, s->client->error,
                       sizeof s->client->error, &r,
                       wait < 0 || wait > 1000 ? 1000 : wait);
        if (rc == RZ_ETIMEDOUT) {
            if (delivered)
                break;
            if ((rc = s_watch_check(s)) < 0)
                return rc;
            if (s->backfill_to > s->caught_up)
                continue;
            if (timeout_ms >= 0 && rz_now_us() >= deadline)
                break;
            continue;
        }
        if (rc < 0)
            return delivered ? delivered : rc;
        s->quiet_from_us = rz_now_us() + S_QUIET_US;
        if (s_reply_corr(&r) != s->watch_corr || !s->watch_corr) {
            s_reply_close(&r); /* an earlier watch's */
        } else if (s_reply_is(&r, "EVENTS")) {
            s->push = ratusz__v1__raw_event_list__unpack(
                NULL, zmq_msg_size(&r.body), zmq_msg_data(&r.body));
            s->push_at = 0;
            s->consumed += zmq_msg_size(&r.body);
            s_reply_close(&r);
            if (!s->push)
                return delivered ? delivered : RZ_EPROTO;
        } else if (s_reply_is(&r, "CUTOFF")) {
            s_reply_close(&r);
            s->stats.cutoffs++;
            if ((rc = s_watch_again(s)) < 0)
                return delivered ? delivered : rc;
        } else {
            s_reply_close(&r);
        }
    }
    return delivered;
}

rz_sub_t *rz_watch_new(rz_client_t *c, const char *prefix, size_t window)
{
    rz_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->client = c;
    s->watch = 1;
    s->next_corr = 1;
    s->window_asked = window;
    s->quiet_from_us = rz_now_us() + S_QUIET_US;
    s->prefix = strdup(prefix ? prefix : "");
    s->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int zero = 0, rc;
    if (!s->prefix || !s->sock)
        goto fail;
    /* the window bounds what the broker sends; nothing may drop it here */
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &zero, sizeof zero);
    if (c->curve_server[0] &&
        (s_curve_apply(c, s->sock) < 0 ||
         s_monitor_start(c, s->sock, &s->mon) < 0))
        goto fail;
    if (zmq_connect(s->sock, c->endpoint) < 0)
        goto fail;
    if ((rc = s_watch_open(s, &s->caught_up)) < 0) {
        rz_sub_destroy(&s);
        errno = -rc;
        return NULL;
    }
    s->start_seq = s->caught_up;
    return s;
fail: {
    int e = zmq_errno() ? zmq_errno() : ENOMEM;
    rz_sub_destroy(&s);
    errno = e;
    return NULL;
}
}

/* ------------------------------------------------------------------------ */
/* Security: who am I, the audit log, hash chains                            */

int rz_whoami(rz_client_t *c, Ratusz__V1__Whoami **out)
{
    *out = NULL;
    int rc = s_info(c, "WHOAMI", &ratusz__v1__whoami__descriptor,
                    (void **)out);
    if (rc == 0 && (*out)->principal && (*out)->principal[0])
        snprintf(c->principal, sizeof c->principal, "%s",
                 (*out)->principal);
    return rc;
}

int rz_reload(rz_client_t *c, Ratusz__V1__Whoami **out)
{
    *out = NULL;
    return s_info(c, "RELOAD", &ratusz__v1__whoami__descriptor, (void **)out);
}

/* Send req as cmd and unpack the reply body as d. */
static int s_ask(rz_client_t *c, const char *cmd, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *d, void **out)
{
    s_reply_t r;
    *out = NULL;
    int rc = s_request(c, cmd, req, &r);
    if (rc < 0)
        return rc;
    *out = protobuf_c_message_unpack(d, NULL, zmq_msg_size(&r.body),
                                     zmq_msg_data(&r.body));
    s_reply_close(&r);
    return *out ? 0 : RZ_EPROTO;
}

int rz_audit(rz_client_t *c, const Ratusz__V1__AuditRequest *req,
             Ratusz__V1__AuditList **out)
{
    Ratusz__V1__AuditRequest all = RATUSZ__V1__AUDIT_REQUEST__INIT;
    return s_ask(c, "AUDIT", req ? &req->base : &all.base,
                 &ratusz__v1__audit_list__descriptor, (void **)out);
}

int rz_verify(rz_client_t *c, const char *log, uint64_t from,
              Ratusz__V1__VerifyResult **out)
{
    Ratusz__V1__VerifyRequest m = RATUSZ__V1__VERIFY_REQUEST__INIT;
    m.log = (char *)(log && *log ? log : "events");
    m.from = from;
    return s_ask(c, "VERIFY", &m.base, &ratusz__v1__verify_result__descriptor,
                 (void **)out);
}

int rz_backup(rz_client_t *c, const char *dir, int timeout_ms,
              Ratusz__V1__BackupResult **out)
{
    Ratusz__V1__BackupRequest m = RATUSZ__V1__BACKUP_REQUEST__INIT;
    *out = NULL;
    if (!dir || !*dir)
        return RZ_EINVAL;
    m.dir = (char *)dir;
    int saved = c->opts.timeout_ms;
    if (timeout_ms != 0)
        c->opts.timeout_ms = timeout_ms;
    int rc = s_ask(c, "BACKUP", &m.base, &ratusz__v1__backup_result__descriptor,
                   (void **)out);
    c->opts.timeout_ms = saved;
    return rc;
}
