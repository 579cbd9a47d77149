/* redis_load.c - Redis Streams load generator (hiredis): ingest, multi,
 * fanout, replay (see ../load.h).
 *
 *   redis-bench-load --mode ingest --window 16 --port 6379
 *
 * Publish is XADD bench * d <payload>; "window N" keeps N commands
 * pipelined on one connection (replies come back in order, so the send
 * times are a FIFO). Subscribers loop on XREAD BLOCK from the last id they
 * saw; replay pages through XRANGE 1000 entries at a time. Durability is
 * the server's: appendonly yes with appendfsync always makes Redis write
 * and fsync the AOF before it sends the replies of an event-loop turn.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "load.h"

#define S_KEY "bench"

static redisContext *s_connect(const bench_opts_t *o)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(o->host, o->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "redis_load: connect %s:%d: %s\n", o->host, o->port,
                c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    /* The connect timeout also became the socket timeout: none from here,
     * the driver bounds every wait itself. */
    struct timeval none = {0, 0};
    redisSetTimeout(c, none);
    return c;
}

/* ------------------------------------------------------------------------ */
/* Publisher                                                                 */

typedef struct s_pub {
    redisContext *c;
    bench_pub_ctx_t *ctx;
    uint64_t *sent_ns; /* FIFO of the commands in flight */
    uint64_t mask, head, len;
} s_pub_t;

static void *s_pub_new(const bench_opts_t *o, uint32_t window, uint32_t id,
                       bench_pub_ctx_t *ctx)
{
    s_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    uint64_t cap = 1;
    while (cap < (uint64_t)window + 1)
        cap <<= 1;
    p->sent_ns = calloc(cap, sizeof *p->sent_ns);
    p->c = s_connect(o);
    if (!p->c || !p->sent_ns) {
        if (p->c)
            redisFree(p->c);
        free(p->sent_ns);
        free(p);
        return NULL;
    }
    p->mask = cap - 1;
    p->ctx = ctx;
    return p;
}

static int s_pub_send(void *ph, const uint8_t *payload, size_t len,
                      uint64_t sent_ns)
{
    s_pub_t *p = ph;
    if (p->len > p->mask)
        return -1; /* the driver keeps the window; this cannot happen */
    if (redisAppendCommand(p->c, "XADD " S_KEY " * d %b", payload, len) !=
        REDIS_OK) {
        fprintf(stderr, "redis_load: XADD: %s\n", p->c->errstr);
        return -1;
    }
    p->sent_ns[(p->head + p->len) & p->mask] = sent_ns;
    p->len++;
    return 0;
}

/* Hand every reply already read to the driver. Returns how many. */
static int s_take_replies(s_pub_t *p)
{
    int n = 0;
    void *r = NULL;
    while (p->len && redisReaderGetReply(p->c->reader, &r) == REDIS_OK && r) {
        redisReply *rep = r;
        bench_acked(p->ctx, p->sent_ns[p->head & p->mask],
                    rep->type != REDIS_REPLY_ERROR);
        if (rep->type == REDIS_REPLY_ERROR)
            fprintf(stderr, "redis_load: %s\n", rep->str);
        freeReplyObject(rep);
        p->head++;
        p->len--;
        n++;
        r = NULL;
    }
    return n;
}

static int s_pub_poll(void *ph, int timeout_ms)
{
    s_pub_t *p = ph;
    int done = 0;
    while (!done)
        if (redisBufferWrite(p->c, &done) != REDIS_OK) {
            fprintf(stderr, "redis_load: write: %s\n", p->c->errstr);
            return -1;
        }
    int n = s_take_replies(p);
    if (n || !p->len)
        return n;
    struct pollfd pfd = {p->c->fd, POLLIN, 0};
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0 && errno != EINTR)
        return -1;
    if (rc > 0) {
        if (redisBufferRead(p->c) != REDIS_OK) {
            fprintf(stderr, "redis_load: read: %s\n", p->c->errstr);
            return -1;
        }
        n = s_take_replies(p);
    }
    return n;
}

static uint64_t s_pub_inflight(void *ph)
{
    s_pub_t *p = ph;
    return p->len;
}

static void s_pub_destroy(void *ph)
{
    s_pub_t *p = ph;
    redisFree(p->c);
    free(p->sent_ns);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Subscriber (XREAD BLOCK) and replay (XRANGE)                              */

typedef struct s_sub {
    redisContext *c;
    char last[64]; /* id of the last entry seen; "$" before the first */
} s_sub_t;

/* Deliver the entries of an XREAD/XRANGE entry array; remember the last id
 * in last. Returns how many. */
static int s_entries(const redisReply *arr, char *last, size_t last_len,
                     bench_deliver_fn cb, void *user)
{
    int n = 0;
    if (!arr || arr->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < arr->elements; i++) {
        const redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        snprintf(last, last_len, "%s", e->element[0]->str);
        const redisReply *f = e->element[1];
        if (f->type == REDIS_REPLY_ARRAY && f->elements >= 2 &&
            f->element[1]->type == REDIS_REPLY_STRING)
            cb((const uint8_t *)f->element[1]->str, f->element[1]->len, user);
        n++;
    }
    return n;
}

static void *s_sub_new(const bench_opts_t *o, uint32_t id)
{
    s_sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = s_connect(o);
    if (!s->c) {
        free(s);
        return NULL;
    }
    snprintf(s->last, sizeof s->last, "$");
    return s;
}

static int s_sub_recv(void *sh, int timeout_ms, bench_deliver_fn cb, void *user)
{
    s_sub_t *s = sh;
    redisReply *r =
        redisCommand(s->c, "XREAD COUNT 1000 BLOCK %d STREAMS " S_KEY " %s",
                     timeout_ms > 0 ? timeout_ms : 1, s->last);
    if (!r) {
        fprintf(stderr, "redis_load: XREAD: %s\n", s->c->errstr);
        return -1;
    }
    int n = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "redis_load: XREAD: %s\n", r->str);
        n = -1;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
               r->element[0]->type == REDIS_REPLY_ARRAY &&
               r->element[0]->elements >= 2) {
        n = s_entries(r->element[0]->element[1], s->last, sizeof s->last, cb,
                      user);
    }
    freeReplyObject(r);
    return n;
}

static void s_sub_destroy(void *sh)
{
    s_sub_t *s = sh;
    redisFree(s->c);
    free(s);
}

static int64_t s_replay(const bench_opts_t *o, uint64_t count,
                        bench_deliver_fn cb, void *user)
{
    redisContext *c = s_connect(o);
    if (!c)
        return -1;
    char last[64] = "", start[80] = "-";
    int64_t total = 0;
    while ((uint64_t)total < count) {
        uint64_t want = count - (uint64_t)total;
        redisReply *r =
            redisCommand(c, "XRANGE " S_KEY " %s + COUNT %llu", start,
                         (unsigned long long)(want < 1000 ? want : 1000));
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "redis_load: XRANGE: %s\n",
                    r && r->str ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            total = -1;
            break;
        }
        int n = s_entries(r, last, sizeof last, cb, user);
        freeReplyObject(r);
        if (n == 0)
            break; /* the end of the stream */
        total += n;
        snprintf(start, sizeof start, "(%s", last); /* exclusive, 6.2+ */
    }
    redisFree(c);
    return total;
}

static const bench_ops_t s_ops = {
    .system = "redis",
    .pub_new = s_pub_new,
    .pub_send = s_pub_send,
    .pub_poll = s_pub_poll,
    .pub_inflight = s_pub_inflight,
    .pub_destroy = s_pub_destroy,
    .sub_new = s_sub_new,
    .sub_recv = s_sub_recv,
    .sub_destroy = s_sub_destroy,
    .replay = s_replay,
};

int main(int argc, char **argv)
{
    return bench_main(&s_ops, argc, argv);
}
