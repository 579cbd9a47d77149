/* zap.c - who is connecting: the ZeroMQ authentication handler (RFC 27).
 *
 * With CURVE on, libzmq asks the handler bound at inproc://zeromq.zap.01
 * about every handshake on the front and stream sockets:
 *
 *   request  [version "1.0"][request id][domain][address][routing id]
 *            [mechanism "CURVE"][client public key, 32 bytes]
 *   reply    [version "1.0"][request id][status "200" | "400" | "500"]
 *            [status text][user id = the principal][metadata (empty)]
 *
 * The principal becomes the "User-Id" of every message on the connection,
 * which is where access.c reads it. A key in no grant is refused, counted
 * and audited. Handshakes that fail before ZAP is asked (a client without
 * CURVE, a client that has the wrong server key) are seen through socket
 * monitors on the same thread and counted and audited too; libzmq does not
 * tell the peer's address for those.
 *
 * The same thread watches every bound socket for connections the kernel
 * would not let it accept (no file descriptors left: EMFILE, ENFILE) and
 * logs them, at most once a second with a count, with or without CURVE.
 *
 * The thread owns its sockets: the front thread talks to it over a PAIR
 * (watch a socket, stop).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "log.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_CTL_ENDPOINT "inproc://ratusz-zap-ctl"
#define S_MAX_WATCH 8

struct rz_zap {
    rz_broker_t *b;
    void *ctl; /* front thread's end */
    pthread_t thread;
    int started;
    int watches; /* monitor endpoints handed out, to name the next */
};

/* The thread's own state. */
typedef struct s_zap_thread {
    rz_broker_t *b;
    void *rep;
    void *ctl;
    void *mon[S_MAX_WATCH];
    char name[S_MAX_WATCH][32];
    int nmon;
    uint64_t accept_failed; /* since the last log line */
    int64_t accept_logged_us;
} s_zap_thread_t;

static void s_audit_refusal(rz_broker_t *b, const char *principal,
                            const char *address, const char *detail,
                            const char *why)
{
    atomic_fetch_add(&b->handshakes_refused, 1);
    rz_audit_entry_t e = {.principal = principal,
                          .address = address,
                          .action = "handshake-refused",
                          .command = "ZAP",
                          .detail = detail,
                          .outcome = why};
    rz_audit_write(b->audit, &e);
    rz_info("refused a connection from %s (%s): %s",
            address && *address ? address : "unknown address", principal,
            why);
}

int rz__zap_decide(rz_broker_t *b, const uint8_t *const *f, const size_t *n,
                   int nframes, char code[4], char *text, size_t text_len,
                   char *user, size_t user_len)
{
    user[0] = '\0';
    if (nframes < 6 || n[0] != 3 || memcmp(f[0], "1.0", 3) != 0) {
        snprintf(code, 4, "500");
        snprintf(text, text_len, "malformed ZAP request");
        return -1;
    }
    char address[64], domain[32], mech[16];
    snprintf(address, sizeof address, "%.*s",
             (int)(n[3] < sizeof address ? n[3] : sizeof address - 1),
             (const char *)f[3]);
    snprintf(domain, sizeof domain, "%.*s",
             (int)(n[2] < sizeof domain ? n[2] : sizeof domain - 1),
             (const char *)f[2]);
    snprintf(mech, sizeof mech, "%.*s",
             (int)(n[5] < sizeof mech ? n[5] : sizeof mech - 1),
             (const char *)f[5]);
    /* strings from the peer may hold anything: keep them printable */
    for (char *s = address; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
    for (char *s = domain; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
    for (char *s = mech; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
    char detail[96];
    snprintf(detail, sizeof detail, "socket=%s mechanism=%s", domain, mech);
    if (strcmp(mech, "CURVE") != 0 || nframes != 7 || n[6] != 32) {
        snprintf(code, 4, "400");
        snprintf(text, text_len, "CURVE required");
        s_audit_refusal(b, "unknown", address, detail, "CURVE required");
        return 0;
    }
    if (rz_access_key(f[6], user, user_len) == 0) {
        snprintf(code, 4, "200");
        snprintf(text, text_len, "OK");
        return 0;
    }
    char z85[41], principal[64];
    zmq_z85_encode(z85, f[6], 32);
    snprintf(principal, sizeof principal, "unknown:%s", z85);
    snprintf(code, 4, "400");
    snprintf(text, text_len, "unknown key");
    user[0] = '\0';
    s_audit_refusal(b, principal, address, detail,
                    "the key is in no grant of the principals file");
    return 0;
}

static void s_zap_request(s_zap_thread_t *t)
{
    zmq_msg_t m[8];
    const uint8_t *f[8];
    size_t n[8];
    int count = 0, more = 1;
    while (more) {
        zmq_msg_t tmp, *p = count < 8 ? &m[count] : &tmp;
        zmq_msg_init(p);
        if (zmq_msg_recv(p, t->rep, 0) < 0) {
            zmq_msg_close(p);
            break;
        }
        more = zmq_msg_more(p);
        if (p == &tmp) {
            zmq_msg_close(p);
            count = 9; /* too many frames */
        } else {
            f[count] = zmq_msg_data(p);
            n[count] = zmq_msg_size(p);
            count++;
        }
    }
    int kept = count > 8 ? 8 : count;
    char code[4], text[64], user[RZ_PRINCIPAL_MAX];
    rz__zap_decide(t->b, f, n, count > 8 ? 0 : count, code, text,
                   sizeof text, user, sizeof user);
    /* REP needs an answer whatever came in */
    zmq_send(t->rep, "1.0", 3, ZMQ_SNDMORE);
    if (kept > 1)
        zmq_send(t->rep, f[1], n[1], ZMQ_SNDMORE);
    else
        zmq_send(t->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(t->rep, code, 3, ZMQ_SNDMORE);
    zmq_send(t->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(t->rep, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(t->rep, "", 0, 0);
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&m[i]);
}

/* A monitor event: [u16 event, u32 value][endpoint]. */
static void s_monitor_event(s_zap_thread_t *t, int k)
{
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, t->mon[k], 0) < 0) {
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        return;
    }
    if (zmq_msg_more(&ev))
        zmq_msg_recv(&ep, t->mon[k], 0);
    if (zmq_msg_size(&ev) >= 6) {
        const uint8_t *d = zmq_msg_data(&ev);
        uint16_t event;
        uint32_t value;
        memcpy(&event, d, 2);
        memcpy(&value, d + 2, 4);
        if (event == ZMQ_EVENT_MONITOR_STOPPED) {
            zmq_close(t->mon[k]);
            t->mon[k] = NULL;
        } else if (event == ZMQ_EVENT_ACCEPT_FAILED) {
            t->accept_failed++;
            int64_t now = rz_now_us();
            if (now - t->accept_logged_us >= 1000000) {
                rz_warn("%s: %llu connection(s) refused in the last second: "
                        "%s (raise the open-file limit: LimitNOFILE, ulimit "
                        "-n)",
                        t->name[k], (unsigned long long)t->accept_failed,
                        strerror((int)value));
                t->accept_failed = 0;
                t->accept_logged_us = now;
            }
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            char detail[96], why[96];
            snprintf(detail, sizeof detail, "socket=%s", t->name[k]);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
                snprintf(why, sizeof why,
                         "the client does not use CURVE");
            else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                snprintf(why, sizeof why,
                         "handshake failed (protocol error 0x%" PRIx32
                         "): a wrong server key or not a ZeroMQ peer",
                         value);
            else
                snprintf(why, sizeof why,
                         "handshake failed: a wrong server key or not a "
                         "ZeroMQ peer");
            s_audit_refusal(t->b, "unknown", "", detail, why);
        }
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
}

/* "W<n>:<name>" watch monitor endpoint n; "S" stop. Returns 1 to stop. */
static int s_ctl(s_zap_thread_t *t)
{
    char buf[64];
    int n = zmq_recv(t->ctl, buf, sizeof buf - 1, 0);
    if (n <= 0 || buf[0] == 'S')
        return 1;
    buf[n] = '\0';
    char *colon = strchr(buf, ':');
    if (buf[0] != 'W' || !colon)
        return 0;
    int k = 0;
    while (k < t->nmon && t->mon[k]) /* a slot a stopped monitor freed */
        k++;
    if (k == S_MAX_WATCH)
        return 0;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ratusz-monitor-%.*s",
             (int)(colon - buf - 1), buf + 1);
    void *s = zmq_socket(t->b->zctx, ZMQ_PAIR);
    if (s && zmq_connect(s, ep) == 0) {
        t->mon[k] = s;
        snprintf(t->name[k], sizeof t->name[k], "%s", colon + 1);
        if (k == t->nmon)
            t->nmon++;
    } else if (s) {
        zmq_close(s);
    }
    return 0;
}

static void *s_zap_main(void *arg)
{
    s_zap_thread_t *t = arg;
    for (;;) {
        zmq_pollitem_t items[2 + S_MAX_WATCH];
        int map[S_MAX_WATCH], n = 2;
        items[0] = (zmq_pollitem_t){t->ctl, 0, ZMQ_POLLIN, 0};
        items[1] = (zmq_pollitem_t){t->rep, 0, ZMQ_POLLIN, 0};
        for (int k = 0; k < t->nmon; k++)
            if (t->mon[k]) {
                map[n - 2] = k;
                items[n++] = (zmq_pollitem_t){t->mon[k], 0, ZMQ_POLLIN, 0};
            }
        if (zmq_poll(items, n, -1) < 0) {
            if (zmq_errno() == ETERM)
                break;
            continue;
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_ctl(t))
            break;
        if (items[1].revents & ZMQ_POLLIN)
            s_zap_request(t);
        for (int i = 2; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_monitor_event(t, map[i - 2]);
    }
    for (int k = 0; k < t->nmon; k++)
        if (t->mon[k])
            zmq_close(t->mon[k]);
    zmq_close(t->rep);
    zmq_close(t->ctl);
    free(t);
    return NULL;
}

int rz_zap_start(rz_zap_t **out, rz_broker_t *b)
{
    *out = NULL;
    rz_zap_t *z = calloc(1, sizeof *z);
    s_zap_thread_t *t = calloc(1, sizeof *t);
    if (!z || !t)
        goto fail;
    z->b = t->b = b;
    int linger = 0;
    z->ctl = zmq_socket(b->zctx, ZMQ_PAIR);
    t->ctl = zmq_socket(b->zctx, ZMQ_PAIR);
    t->rep = zmq_socket(b->zctx, ZMQ_REP);
    if (!z->ctl || !t->ctl || !t->rep)
        goto fail;
    zmq_setsockopt(t->rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(z->ctl, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(t->ctl, ZMQ_LINGER, &linger, sizeof linger);
    /* the authentication handler only with CURVE: without it, libzmq asks
     * nobody and every connection is anonymous */
    if ((b->curve && zmq_bind(t->rep, S_ZAP_ENDPOINT) < 0) ||
        zmq_bind(z->ctl, S_CTL_ENDPOINT) < 0 ||
        zmq_connect(t->ctl, S_CTL_ENDPOINT) < 0) {
        rz_error("cannot start the authentication handler: %s",
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (pthread_create(&z->thread, NULL, s_zap_main, t) != 0)
        goto fail;
    z->started = 1;
    *out = z;
    return 0;
fail:
    if (t) {
        if (t->rep)
            zmq_close(t->rep);
        if (t->ctl)
            zmq_close(t->ctl);
        free(t);
    }
    if (z) {
        if (z->ctl)
            zmq_close(z->ctl);
        free(z);
    }
    return RZ_ENOMEM;
}

int rz_zap_watch(rz_zap_t *z, void *socket, const char *name)
{
    if (!z)
        return RZ_EINVAL;
    int k = ++z->watches;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ratusz-monitor-%d", k);
    if (zmq_socket_monitor(socket, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_ACCEPT_FAILED) < 0)
        return RZ_EINVAL;
    char msg[48];
    int n = snprintf(msg, sizeof msg, "W%d:%.30s", k, name);
    zmq_send(z->ctl, msg, (size_t)n, 0);
    return 0;
}

void rz_zap_stop(rz_zap_t **zp)
{
    if (!zp || !*zp)
        return;
    rz_zap_t *z = *zp;
    if (z->started) {
        zmq_send(z->ctl, "S", 1, 0);
        pthread_join(z->thread, NULL);
    }
    zmq_close(z->ctl);
    free(z);
    *zp = NULL;
}
