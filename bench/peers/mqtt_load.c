/* mqtt_load.c - Mosquitto load generator (libmosquitto, MQTT 3.1.1, QoS 1):
 * ingest, multi, fanout (see ../load.h). MQTT has no replay.
 *
 *   mqtt-bench-load --mode ingest --window 16 --port 1883
 *
 * Publish is a QoS 1 PUBLISH to bench/load; the ack is the broker's
 * PUBACK, matched to the send time by message id. "Window N" keeps N
 * PUBLISHes unacknowledged (MOSQ_OPT_SEND_MAXIMUM = N as well). The client
 * runs its network loop on the caller's thread (mosquitto_loop), so
 * callbacks never race the driver. Subscribers hold QoS 1 subscriptions
 * on clean sessions.
 *
 * Mosquitto acks a QoS 1 PUBLISH as soon as it has routed it in memory;
 * with persistence on it writes its database only every autosave_interval
 * and at shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "load.h"

#define S_TOPIC "bench/load"

/* Loop until *flag turns non-zero (10 s at most). Returns *flag, or 0 on
 * time-out, or -1. */
static int s_loop_until(struct mosquitto *m, volatile int *flag)
{
    uint64_t until = bench_now_ns() + 10000000000u;
    while (!*flag && bench_now_ns() < until)
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
            return -1;
    return *flag;
}

static struct mosquitto *
s_connect(const bench_opts_t *o, void *obj, uint32_t send_max,
          void (*on_connect)(struct mosquitto *, void *, int))
{
    struct mosquitto *m = mosquitto_new(NULL, true, obj);
    if (!m)
        return NULL;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM,
                         (int)(send_max < 65535 ? send_max : 65535));
    mosquitto_connect_callback_set(m, on_connect);
    int rc = mosquitto_connect(m, o->host, o->port, 60);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt_load: connect %s:%d: %s\n", o->host, o->port,
                mosquitto_strerror(rc));
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Publisher                                                                 */

typedef struct s_pub {
    struct mosquitto *m;
    bench_pub_ctx_t *ctx;
    volatile int connected; /* 1, or -1 refused */
    uint64_t inflight;
    uint64_t sent_ns[65536]; /* by message id */
} s_pub_t;

static void s_pub_on_connect(struct mosquitto *m, void *obj, int rc)
{
    s_pub_t *p = obj;
    p->connected = rc == 0 ? 1 : -1;
}

static void s_on_publish(struct mosquitto *m, void *obj, int mid)
{
    s_pub_t *p = obj;
    bench_acked(p->ctx, p->sent_ns[(uint16_t)mid], 1);
    p->inflight--;
}

static void *s_pub_new(const bench_opts_t *o, uint32_t window, uint32_t id,
                       bench_pub_ctx_t *ctx)
{
    if (window > 60000) {
        fprintf(stderr, "mqtt_load: window over 60000 message ids\n");
        return NULL;
    }
    s_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ctx = ctx;
    p->m = s_connect(o, p, window, s_pub_on_connect);
    if (!p->m) {
        free(p);
        return NULL;
    }
    mosquitto_publish_callback_set(p->m, s_on_publish);
    if (s_loop_until(p->m, &p->connected) != 1) {
        fprintf(stderr, "mqtt_load: no CONNACK from %s:%d\n", o->host, o->port);
        mosquitto_destroy(p->m);
        free(p);
        return NULL;
    }
    return p;
}

static int s_pub_send(void *ph, const uint8_t *payload, size_t len,
                      uint64_t sent_ns)
{
    s_pub_t *p = ph;
    int mid = 0;
    int rc =
        mosquitto_publish(p->m, &mid, S_TOPIC, (int)len, payload, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt_load: publish: %s\n", mosquitto_strerror(rc));
        return -1;
    }
    /* Callbacks run only inside mosquitto_loop, so the ack cannot have
     * come yet. */
    p->sent_ns[(uint16_t)mid] = sent_ns;
    p->inflight++;
    return 0;
}

static int s_pub_poll(void *ph, int timeout_ms)
{
    s_pub_t *p = ph;
    uint64_t before = p->ctx->acked + p->ctx->failed;
    int rc = mosquitto_loop(p->m, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt_load: loop: %s\n", mosquitto_strerror(rc));
        return -1;
    }
    return (int)(p->ctx->acked + p->ctx->failed - before);
}

static uint64_t s_pub_inflight(void *ph)
{
    s_pub_t *p = ph;
    return p->inflight;
}

static void s_pub_destroy(void *ph)
{
    s_pub_t *p = ph;
    mosquitto_disconnect(p->m);
    mosquitto_destroy(p->m);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Subscriber                                                                */

typedef struct s_sub {
    struct mosquitto *m;
    volatile int connected, subscribed;
    bench_deliver_fn cb; /* valid during s_sub_recv */
    void *user;
    int delivered;
} s_sub_t;

static void s_sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
    s_sub_t *s = obj;
    s->connected = rc == 0 ? 1 : -1;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, S_TOPIC, 1);
}

static void s_on_subscribe(struct mosquitto *m, void *obj, int mid,
                           int qos_count, const int *granted)
{
    s_sub_t *s = obj;
    s->subscribed = qos_count >= 1 && granted[0] == 1 ? 1 : -1;
}

static void s_on_message(struct mosquitto *m, void *obj,
                         const struct mosquitto_message *msg)
{
    s_sub_t *s = obj;
    if (s->cb)
        s->cb(msg->payload, (size_t)msg->payloadlen, s->user);
    s->delivered++;
}

static void *s_sub_new(const bench_opts_t *o, uint32_t id)
{
    s_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = s_connect(o, s, 20, s_sub_on_connect);
    if (!s->m) {
        free(s);
        return NULL;
    }
    mosquitto_subscribe_callback_set(s->m, s_on_subscribe);
    mosquitto_message_callback_set(s->m, s_on_message);
    if (s_loop_until(s->m, &s->subscribed) != 1) {
        fprintf(stderr, "mqtt_load: subscription refused or no SUBACK\n");
        mosquitto_destroy(s->m);
        free(s);
        return NULL;
    }
    return s;
}

static int s_sub_recv(void *sh, int timeout_ms, bench_deliver_fn cb, void *user)
{
    s_sub_t *s = sh;
    s->cb = cb;
    s->user = user;
    s->delivered = 0;
    int rc = mosquitto_loop(s->m, timeout_ms, 1);
    s->cb = NULL;
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt_load: loop: %s\n", mosquitto_strerror(rc));
        return -1;
    }
    return s->delivered;
}

static void s_sub_destroy(void *sh)
{
    s_sub_t *s = sh;
    mosquitto_disconnect(s->m);
    mosquitto_destroy(s->m);
    free(s);
}

static const bench_ops_t s_ops = {
    .system = "mosquitto",
    .pub_new = s_pub_new,
    .pub_send = s_pub_send,
    .pub_poll = s_pub_poll,
    .pub_inflight = s_pub_inflight,
    .pub_destroy = s_pub_destroy,
    .sub_new = s_sub_new,
    .sub_recv = s_sub_recv,
    .sub_destroy = s_sub_destroy,
    .replay = NULL,
};

int main(int argc, char **argv)
{
    mosquitto_lib_init();
    int rc = bench_main(&s_ops, argc, argv);
    mosquitto_lib_cleanup();
    return rc;
}
