/* test_stream_hostile.c - the live stream cannot be switched off by a peer.
 *
 * 100 plain SUB clients subscribe; then hostile peers attack the stream
 * port while events are published: ZMTP/1.0 peers that send unsubscribe
 * frames for every prefix, connections of random bytes, SUB sockets that
 * subscribe, unsubscribe and leave in a loop, and an oversized
 * subscription. Every one of the 100 must still receive every event, and
 * the broker must stay up with its memory small.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define N_SUBS 100
#define N_EVENTS 200
#define PREFIX "1261011."

/* A ZMTP/1.0 peer: an empty identity frame, then unsubscribe frames. */
static int s_zmtp10_unsubscriber(int port)
{
    int fd = rzt_tcp_connect(port);
    if (fd < 0)
        return -1;
    uint8_t buf[64];
    buf[0] = 1; /* length (flags byte only) */
    buf[1] = 0; /* flags */
    if (send(fd, buf, 2, MSG_NOSIGNAL) != 2) {
        close(fd);
        return -1;
    }
    static const char *const prefixes[] = {"", PREFIX, "1261011.budget."};
    for (int k = 0; k < 50; k++) {
        const char *p = prefixes[k % 3];
        size_t n = strlen(p);
        buf[0] = (uint8_t)(n + 2); /* flags + 0x00 + prefix */
        buf[1] = 0;
        buf[2] = 0; /* unsubscribe */
        memcpy(buf + 3, p, n);
        if (send(fd, buf, n + 3, MSG_NOSIGNAL) < 0)
            break;
    }
    return fd;
}

static int s_random_bytes(int port, unsigned seed)
{
    int fd = rzt_tcp_connect(port);
    if (fd < 0)
        return -1;
    uint8_t buf[512];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(rand_r(&seed) & 0xff);
    ssize_t n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
    (void)n;
    return fd;
}

static void test_hostile_peers_do_not_switch_the_stream_off(void **state)
{
    rzt_broker_t *b = *state;
    int port = rzt_endpoint_port(b->stream);
    void *ctx = zmq_ctx_new();
    int ios = 2;
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, ios);
    void *subs[N_SUBS];
    for (int i = 0; i < N_SUBS; i++) {
        subs[i] = zmq_socket(ctx, ZMQ_SUB);
        int linger = 0, hwm = 0;
        zmq_setsockopt(subs[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(subs[i], ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, PREFIX, strlen(PREFIX));
        assert_int_equal(zmq_connect(subs[i], b->stream), 0);
    }
    usleep(500000);

    /* the attack */
    int fds[40], nfd = 0;
    for (int i = 0; i < 10; i++)
        if ((fds[nfd] = s_zmtp10_unsubscriber(port)) >= 0)
            nfd++;
    for (int i = 0; i < 20; i++)
        if ((fds[nfd] = s_random_bytes(port, (unsigned)i + 1)) >= 0)
            nfd++;
    /* an oversized subscription (1 MiB, ZMTP/1.0 long frame): the
     * connection is dropped, nothing is kept */
    int big = rzt_tcp_connect(port);
    assert_true(big >= 0);
    {
        size_t n = (size_t)1 << 20;
        uint8_t *f = malloc(n + 16);
        assert_non_null(f);
        f[0] = 1;
        f[1] = 0; /* identity */
        f[2] = 0xff;
        uint64_t len = n + 1; /* flags + body */
        for (int k = 0; k < 8; k++)
            f[3 + k] = (uint8_t)(len >> (56 - 8 * k));
        f[11] = 0;    /* flags */
        f[12] = 1;    /* subscribe */
        memset(f + 13, 'x', n - 1);
        ssize_t sent = send(big, f, n + 12, MSG_NOSIGNAL);
        (void)sent;
        free(f);
    }
    /* subscribers that come and go */
    int linger = 0;
    for (int round = 0; round < 5; round++) {
        void *s = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, PREFIX, strlen(PREFIX));
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        zmq_connect(s, b->stream);
        usleep(50000);
        zmq_setsockopt(s, ZMQ_UNSUBSCRIBE, PREFIX, strlen(PREFIX));
        zmq_setsockopt(s, ZMQ_UNSUBSCRIBE, "", 0);
        usleep(20000);
        zmq_close(s);
    }
    usleep(300000);
    /* the attackers leave */
    for (int i = 0; i < nfd; i++)
        close(fds[i]);
    close(big);
    usleep(200000);

    /* events published after the attack reach every subscriber */
    rz_client_t *c = rzt_client(b, 256, 16);
    for (int i = 0; i < N_EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "hostile-%03d", i);
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/test", id, "unit:1",
                  INT64_C(1700000000000000) + i, i);
        assert_int_equal(rz_publish(c, &ev, NULL), 0);
    }
    assert_int_equal(rz_flush(c, 10000), 0);
    rz_client_destroy(&c);

    int short_subs = 0;
    for (int i = 0; i < N_SUBS; i++) {
        int got = 0, timeout = 3000;
        zmq_setsockopt(subs[i], ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, subs[i], 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (!more && ++got == N_EVENTS)
                break;
            timeout = 1000;
            zmq_setsockopt(subs[i], ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        }
        if (got != N_EVENTS) {
            fprintf(stderr, "subscriber %d got %d of %d\n", i, got,
                    N_EVENTS);
            short_subs++;
        }
    }
    assert_int_equal(short_subs, 0);
    assert_true(rzt_broker_alive(b));
    long rss = rzt_status_kb(b->pid, "RssAnon");
    fprintf(stderr, "broker RssAnon after the attack: %ld KiB\n", rss);
    assert_true(rss > 0 && (RZT_ASAN || rss < 256 * 1024));
    for (int i = 0; i < N_SUBS; i++)
        zmq_close(subs[i]);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_peers_do_not_switch_the_stream_off),
    };
    return cmocka_run_group_tests(tests, rzt_setup, rzt_teardown);
}
