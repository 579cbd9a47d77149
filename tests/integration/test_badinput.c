/* test_badinput.c - malformed requests get a clear ERR, get counted, and
 * the broker keeps serving everybody else */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_MESSAGE 65536
#define MAX_BATCH 10

/* ------------------------------------------------------------------------
 * A raw ZeroMQ peer
 */

typedef struct fx {
    rzt_broker_t b;
    void *ctx;
    void *raw;         /* DEALER, talking bytes */
    rz_client_t *good; /* a well-behaved client */
    uint64_t good_seq; /* the last seq it got */
    int good_n;
    /* what the broker should have counted, by code */
    struct {
        int code;
        uint64_t count;
    } tally[32];
    size_t ntally;
} fx_t;

static void s_tally(fx_t *f, int code)
{
    for (size_t i = 0; i < f->ntally; i++)
        if (f->tally[i].code == code) {
            f->tally[i].count++;
            return;
        }
    f->tally[f->ntally].code = code;
    f->tally[f->ntally].count = 1;
    f->ntally++;
}

typedef struct frame {
    const void *p;
    size_t n;
} frame_t;

#define F(s) ((frame_t){(s), sizeof(s) - 1})

static void s_send(void *sock, const frame_t *fr, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(
            zmq_send(sock, fr[i].p, fr[i].n, i + 1 < n ? ZMQ_SNDMORE : 0),
            (int)fr[i].n);
}

typedef struct reply {
    int parts;
    zmq_msg_t f[8];
} reply_t;

static void s_reply_close(reply_t *r)
{
    for (int i = 0; i < r->parts && i < 8; i++)
        zmq_msg_close(&r->f[i]);
    r->parts = 0;
}

/* Receive one reply: [cmd][corr][body] (a REQ-style empty delimiter in
 * front is taken off). Returns 0, or -1 when nothing came in time. */
static int s_recv(void *sock, reply_t *r, int timeout_ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    r->parts = 0;
    if (zmq_poll(&it, 1, timeout_ms) != 1)
        return -1;
    int more = 1;
    while (more) {
        zmq_msg_t tmp, *m = r->parts < 8 ? &r->f[r->parts] : &tmp;
        zmq_msg_init(m);
        assert_true(zmq_msg_recv(m, sock, 0) >= 0);
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(m);
        r->parts++;
    }
    if (r->parts == 4 && zmq_msg_size(&r->f[0]) == 0) {
        zmq_msg_close(&r->f[0]);
        memmove(&r->f[0], &r->f[1], 3 * sizeof r->f[0]);
        r->parts = 3;
    }
    return 0;
}

static int s_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) &&
           memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Expect [ERR][corr][Error{code, name, message mentioning `mentions`}]. */
static void s_expect_err(fx_t *f, const void *corr, size_t corr_len, int code,
                         const char *mentions)
{
    reply_t r;
    assert_int_equal(s_recv(f->raw, &r, 5000), 0);
    assert_int_equal(r.parts, 3);
    if (!s_is(&r.f[0], "ERR"))
        fail_msg("expected ERR %s, got a '%.*s' reply", rz_err_name(code),
                 (int)zmq_msg_size(&r.f[0]), (char *)zmq_msg_data(&r.f[0]));
    assert_int_equal(zmq_msg_size(&r.f[1]), corr_len);
    if (corr_len)
        assert_memory_equal(zmq_msg_data(&r.f[1]), corr, corr_len);
    Ratusz__V1__Error *e = ratusz__v1__error__unpack(
        NULL, zmq_msg_size(&r.f[2]), zmq_msg_data(&r.f[2]));
    assert_non_null(e);
    if (e->code != code)
        fail_msg("expected %s, got %s: %s", rz_err_name(code),
                 rz_err_name(e->code), e->message);
    assert_string_equal(e->name, rz_err_name(code));
    if (!strstr(e->message, mentions))
        fail_msg("error message '%s' does not mention '%s'", e->message,
                 mentions);
    ratusz__v1__error__free_unpacked(e, NULL);
    s_reply_close(&r);
    s_tally(f, code);
}

/* Expect [cmd][corr][AckList] with these per-event codes; seqs of the
 * accepted ones are returned in seq (may be NULL). */
static void s_expect_acks(fx_t *f, const char *cmd, const void *corr,
                          size_t corr_len, const int *codes, size_t n,
                          const char *mentions)
{
    reply_t r;
    assert_int_equal(s_recv(f->raw, &r, 5000), 0);
    assert_int_equal(r.parts, 3);
    if (!s_is(&r.f[0], cmd))
        fail_msg("expected a %s reply, got '%.*s'", cmd,
                 (int)zmq_msg_size(&r.f[0]), (char *)zmq_msg_data(&r.f[0]));
    assert_int_equal(zmq_msg_size(&r.f[1]), corr_len);
    assert_memory_equal(zmq_msg_data(&r.f[1]), corr, corr_len);
    Ratusz__V1__AckList *al = ratusz__v1__ack_list__unpack(
        NULL, zmq_msg_size(&r.f[2]), zmq_msg_data(&r.f[2]));
    assert_non_null(al);
    assert_int_equal(al->n_acks, n);
    for (size_t i = 0; i < n; i++) {
        Ratusz__V1__Ack *a = al->acks[i];
        if (a->code != codes[i])
            fail_msg("ack %zu: expected %s, got %s (%s)", i,
                     codes[i] ? rz_err_name(codes[i]) : "0",
                     a->code ? rz_err_name(a->code) : "0", a->reason);
        if (codes[i]) {
            assert_int_equal(a->seq, 0);
            if (mentions && !strstr(a->reason, mentions))
                fail_msg("ack reason '%s' does not mention '%s'", a->reason,
                         mentions);
            s_tally(f, codes[i]);
        } else {
            assert_true(a->seq > 0);
        }
    }
    ratusz__v1__ack_list__free_unpacked(al, NULL);
    s_reply_close(&r);
}

/* The well-behaved client is served between the bad messages. */
static void s_good(fx_t *f)
{
    char id[32];
    snprintf(id, sizeof id, "good-%d", f->good_n++);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/good", id, "", rz_now_us(), 1);
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(f->good, &ev, &seq), 0);
    assert_true(seq > f->good_seq);
    f->good_seq = seq;
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(f->good, &h), 0);
    assert_string_equal(h->status, "ok");
    ratusz__v1__health__free_unpacked(h, NULL);
}

/* A valid encoded event. */
static size_t s_encode(uint8_t *buf, size_t cap, const char *id)
{
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/raw", id, "unit:1", rz_now_us(), 4200);
    size_t n = ratusz__v1__event__get_packed_size(&ev);
    assert_true(n <= cap);
    ratusz__v1__event__pack(&ev, buf);
    return n;
}

static int s_setup(void **state)
{
    static const char *const extra[] = {"--max-message", "65536", "--max-batch",
                                        "10", NULL};
    fx_t *f = calloc(1, sizeof *f);
    if (rzt_broker_start(&f->b, extra) < 0) {
        free(f);
        return -1;
    }
    f->ctx = zmq_ctx_new();
    f->raw = zmq_socket(f->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(f->raw, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(f->raw, f->b.front) < 0)
        return -1;
    f->good = rzt_client(&f->b, 16, 1);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (!f) /* the setup failed */
        return 0;
    rz_client_destroy(&f->good);
    zmq_close(f->raw);
    zmq_ctx_term(f->ctx);
    rzt_broker_cleanup(&f->b);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------------
 * Frames
 */

static const uint8_t CORR[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static void test_badinput_wrong_frame_counts_get_ebadframe(void **state)
{
    fx_t *f = *state;
    frame_t fr[10];
    /* 1 frame */
    fr[0] = F("HEALTH");
    s_send(f->raw, fr, 1);
    s_expect_err(f, NULL, 0, RZ_EBADFRAME, "got 1");
    s_good(f);
    /* 2 frames: the correlation is echoed all the same */
    fr[1] = (frame_t){CORR, sizeof CORR};
    s_send(f->raw, fr, 2);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADFRAME, "got 2");
    s_good(f);
    /* 5 frames */
    fr[2] = F("");
    fr[3] = F("extra");
    fr[4] = F("more");
    s_send(f->raw, fr, 5);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADFRAME, "got 5");
    s_good(f);
    /* 10 frames: more than the broker keeps */
    for (int i = 5; i < 10; i++)
        fr[i] = F("x");
    s_send(f->raw, fr, 10);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADFRAME, "got 10");
    s_good(f);
    /* only an empty (REQ delimiter) frame */
    fr[0] = F("");
    s_send(f->raw, fr, 1);
    s_expect_err(f, NULL, 0, RZ_EBADFRAME, "got 0");
    s_good(f);
}

static void test_badinput_unknown_command_gets_eunknowncmd(void **state)
{
    fx_t *f = *state;
    frame_t fr[3] = {F("FOO"), {CORR, sizeof CORR}, F("")};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EUNKNOWNCMD, "'FOO'");
    s_good(f);
    fr[0] = F("health"); /* commands are upper case */
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EUNKNOWNCMD, "'health'");
    s_good(f);
    fr[0] = F("\x01\xff"); /* shown printable */
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EUNKNOWNCMD, "\\x01\\xff");
    s_good(f);
}

static void test_badinput_correlation_of_300_bytes_gets_ebadframe(void **state)
{
    fx_t *f = *state;
    uint8_t corr[300];
    memset(corr, 'c', sizeof corr);
    frame_t fr[3] = {F("HEALTH"), {corr, sizeof corr}, F("")};
    s_send(f->raw, fr, 3);
    /* not echoed: it is not a correlation this protocol allows */
    s_expect_err(f, NULL, 0, RZ_EBADFRAME, "correlation");
    s_good(f);
    /* 255 is the most there may be */
    fr[1].n = 255;
    s_send(f->raw, fr, 3);
    reply_t r;
    assert_int_equal(s_recv(f->raw, &r, 5000), 0);
    assert_true(s_is(&r.f[0], "HEALTH"));
    assert_int_equal(zmq_msg_size(&r.f[1]), 255);
    s_reply_close(&r);
}

/* ------------------------------------------------------------------------
 * Bodies
 */

static const uint8_t GARBAGE[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};

static void test_badinput_bad_protobuf_bodies_get_edecode(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *cmd, *mentions;
    } reqs[] = {
        {"PUBB", "EventBatch"},    {"GET", "GetRequest"},
        {"QUERY", "QueryRequest"}, {"REPLAY", "ReplayRequest"},
        {"FETCH", "FetchRequest"}, {"COMMIT", "CommitRequest"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        frame_t fr[3] = {{reqs[i].cmd, strlen(reqs[i].cmd)},
                         {CORR, sizeof CORR},
                         {GARBAGE, sizeof GARBAGE}};
        s_send(f->raw, fr, 3);
        s_expect_err(f, CORR, sizeof CORR, RZ_EDECODE, reqs[i].mentions);
        s_good(f);
    }
    /* PUB answers per event: the one event is not an Event */
    frame_t fr[3] = {F("PUB"), {CORR, sizeof CORR}, {GARBAGE, sizeof GARBAGE}};
    s_send(f->raw, fr, 3);
    const int code = RZ_EDECODE;
    s_expect_acks(f, "PUB", CORR, sizeof CORR, &code, 1, "protobuf");
    s_good(f);
}

static void test_badinput_truncated_event_gets_edecode_ack(void **state)
{
    fx_t *f = *state;
    uint8_t buf[1024];
    size_t n = s_encode(buf, sizeof buf, "trunc-1");
    size_t cut = n / 2;
    /* the cut really leaves something protobuf-c refuses */
    Ratusz__V1__Event *chk = ratusz__v1__event__unpack(NULL, cut, buf);
    assert_null(chk);
    frame_t fr[3] = {F("PUB"), {CORR, sizeof CORR}, {buf, cut}};
    s_send(f->raw, fr, 3);
    const int code = RZ_EDECODE;
    s_expect_acks(f, "PUB", CORR, sizeof CORR, &code, 1, "truncated");
    s_good(f);

    /* in a batch, only that event fails */
    uint8_t a[1024], c[1024];
    ProtobufCBinaryData evs[3];
    evs[0] = (ProtobufCBinaryData){s_encode(a, sizeof a, "trunc-a"), a};
    evs[1] = (ProtobufCBinaryData){cut, buf};
    evs[2] = (ProtobufCBinaryData){s_encode(c, sizeof c, "trunc-c"), c};
    Ratusz__V1__RawEventBatch rb = RATUSZ__V1__RAW_EVENT_BATCH__INIT;
    rb.n_events = 3;
    rb.events = evs;
    uint8_t body[4096];
    size_t blen = ratusz__v1__raw_event_batch__pack(&rb, body);
    frame_t fb[3] = {F("PUBB"), {CORR, 3}, {body, blen}};
    s_send(f->raw, fb, 3);
    const int codes[3] = {0, RZ_EDECODE, 0};
    s_expect_acks(f, "PUBB", CORR, 3, codes, 3, "truncated");
    s_good(f);
}

static void test_badinput_oversize_body_gets_etoobig(void **state)
{
    fx_t *f = *state;
    size_t n = 100 * 1024;
    uint8_t *big = calloc(1, n);
    frame_t fr[3] = {F("PUB"), {CORR, sizeof CORR}, {big, n}};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_ETOOBIG, "max_message");
    s_good(f);
    fr[0] = F("QUERY");
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_ETOOBIG, "65536");
    s_good(f);
    free(big);
}

static void test_badinput_empty_and_too_large_batches(void **state)
{
    fx_t *f = *state;
    frame_t fr[3] = {F("PUBB"), {CORR, sizeof CORR}, F("")};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADREQ, "empty batch");
    s_good(f);

    uint8_t one[1024];
    size_t len = s_encode(one, sizeof one, "batch-x");
    ProtobufCBinaryData evs[MAX_BATCH + 1];
    for (int i = 0; i <= MAX_BATCH; i++)
        evs[i] = (ProtobufCBinaryData){len, one};
    Ratusz__V1__RawEventBatch rb = RATUSZ__V1__RAW_EVENT_BATCH__INIT;
    rb.n_events = MAX_BATCH + 1;
    rb.events = evs;
    uint8_t body[16384];
    fr[2] = (frame_t){body, ratusz__v1__raw_event_batch__pack(&rb, body)};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_ETOOBIG, "max_batch");
    /* nothing of it was stored: the next seq is the good client's */
    uint64_t before = f->good_seq;
    s_good(f);
    assert_int_equal(f->good_seq, before + 1);

    /* exactly max_batch is fine (all the same id: one stored, nine
     * duplicates of it) */
    rb.n_events = MAX_BATCH;
    fr[2] = (frame_t){body, ratusz__v1__raw_event_batch__pack(&rb, body)};
    s_send(f->raw, fr, 3);
    int codes[MAX_BATCH] = {0};
    s_expect_acks(f, "PUBB", CORR, sizeof CORR, codes, MAX_BATCH, NULL);
    s_good(f);
}

static void test_badinput_invalid_events_get_per_event_einvalevent(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *id, *tenant, *type, *mentions;
    } bad[] = {
        {"", "1261011", "pl.gov.gmina.budget.test.v1", "'id'"},
        {"inv-2", "Gdansk", "pl.gov.gmina.budget.test.v1", "TERC"},
        {"inv-3", "1261011", "pl.gov.gmina.gis.parcel.v1", "does not match"},
        {"inv-4", "1261011", "", "'type'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Ratusz__V1__Event ev;
        Ratusz__V1__BudgetEntry be;
        rzt_event(&ev, &be, "/1261011/budget/raw", bad[i].id, "", 1, 1);
        ev.tenant = (char *)bad[i].tenant;
        ev.type = (char *)bad[i].type;
        uint8_t buf[1024];
        size_t n = ratusz__v1__event__pack(&ev, buf);
        frame_t fr[3] = {F("PUB"), {CORR, sizeof CORR}, {buf, n}};
        s_send(f->raw, fr, 3);
        const int code = RZ_EINVALEVENT;
        s_expect_acks(f, "PUB", CORR, sizeof CORR, &code, 1, bad[i].mentions);
        s_good(f);
    }
    /* an empty body is an Event with nothing in it */
    frame_t fr[3] = {F("PUB"), {CORR, sizeof CORR}, F("")};
    s_send(f->raw, fr, 3);
    const int code = RZ_EINVALEVENT;
    s_expect_acks(f, "PUB", CORR, sizeof CORR, &code, 1, "missing");
    s_good(f);
}

static void test_badinput_invalid_requests_get_ebadreq(void **state)
{
    fx_t *f = *state;
    uint8_t body[256];
    frame_t fr[3] = {F("GET"), {CORR, sizeof CORR}, F("")};
    s_send(f->raw, fr, 3); /* neither seq nor source+id */
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADREQ, "seq");
    s_good(f);

    Ratusz__V1__FetchRequest fq = RATUSZ__V1__FETCH_REQUEST__INIT;
    fr[0] = F("FETCH");
    fr[2] = (frame_t){body, ratusz__v1__fetch_request__pack(&fq, body)};
    s_send(f->raw, fr, 3); /* no group */
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADREQ, "group");
    s_good(f);

    Ratusz__V1__CommitRequest cq = RATUSZ__V1__COMMIT_REQUEST__INIT;
    cq.group = "g";
    cq.seq = 1u << 30;
    fr[0] = F("COMMIT");
    fr[2] = (frame_t){body, ratusz__v1__commit_request__pack(&cq, body)};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADREQ, "head");
    s_good(f);

    Ratusz__V1__QueryRequest qq = RATUSZ__V1__QUERY_REQUEST__INIT;
    qq.subject = "s";
    qq.topic_prefix = "1261011.";
    fr[0] = F("QUERY");
    fr[2] = (frame_t){body, ratusz__v1__query_request__pack(&qq, body)};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADREQ, "not both");
    s_good(f);

    qq.topic_prefix = "";
    qq.after.data = (uint8_t *)"nonsense";
    qq.after.len = 8;
    fr[2] = (frame_t){body, ratusz__v1__query_request__pack(&qq, body)};
    s_send(f->raw, fr, 3);
    s_expect_err(f, CORR, sizeof CORR, RZ_EBADCURSOR, "cursor");
    s_good(f);
}

/* A REQ socket puts an empty delimiter in front; the broker answers with
 * one, and REQ takes it off again. */
static void test_badinput_req_socket_client_works(void **state)
{
    fx_t *f = *state;
    void *req = zmq_socket(f->ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(req, f->b.front), 0);
    frame_t fr[3] = {F("HEALTH"), F("r1"), F("")};
    s_send(req, fr, 3);
    reply_t r;
    assert_int_equal(s_recv(req, &r, 5000), 0);
    assert_int_equal(r.parts, 3);
    assert_true(s_is(&r.f[0], "HEALTH"));
    assert_true(s_is(&r.f[1], "r1"));
    Ratusz__V1__Health *h = ratusz__v1__health__unpack(
        NULL, zmq_msg_size(&r.f[2]), zmq_msg_data(&r.f[2]));
    assert_non_null(h);
    assert_string_equal(h->status, "ok");
    assert_int_equal(h->protocol, RZ_PROTOCOL);
    assert_string_equal(h->version, RZ_VERSION);
    assert_int_equal(h->head_seq, f->good_seq);
    ratusz__v1__health__free_unpacked(h, NULL);
    s_reply_close(&r);

    /* a publish through REQ */
    uint8_t buf[1024];
    size_t n = s_encode(buf, sizeof buf, "via-req");
    frame_t pub[3] = {F("PUB"), F("r2"), {buf, n}};
    s_send(req, pub, 3);
    assert_int_equal(s_recv(req, &r, 5000), 0);
    assert_true(s_is(&r.f[0], "PUB"));
    assert_true(s_is(&r.f[1], "r2"));
    Ratusz__V1__AckList *al = ratusz__v1__ack_list__unpack(
        NULL, zmq_msg_size(&r.f[2]), zmq_msg_data(&r.f[2]));
    assert_non_null(al);
    assert_int_equal(al->n_acks, 1);
    assert_int_equal(al->acks[0]->code, 0);
    assert_int_equal(al->acks[0]->seq, f->good_seq + 1);
    f->good_seq++;
    ratusz__v1__ack_list__free_unpacked(al, NULL);
    s_reply_close(&r);

    /* and an error through REQ */
    frame_t foo[3] = {F("FOO"), F("r3"), F("")};
    s_send(req, foo, 3);
    assert_int_equal(s_recv(req, &r, 5000), 0);
    assert_true(s_is(&r.f[0], "ERR"));
    assert_true(s_is(&r.f[1], "r3"));
    s_reply_close(&r);
    s_tally(f, RZ_EUNKNOWNCMD);
    zmq_close(req);
    s_good(f);
}

/* STATS counts every rejection by its reason. */
static void test_badinput_stats_count_rejections_by_reason(void **state)
{
    fx_t *f = *state;
    Ratusz__V1__Stats *st = NULL;
    assert_int_equal(rz_stats(f->good, &st), 0);
    assert_true(f->ntally >= 7);
    for (size_t i = 0; i < f->ntally; i++) {
        const char *name = rz_err_name(f->tally[i].code);
        uint64_t count = 0;
        for (size_t j = 0; j < st->n_rejected; j++)
            if (!strcmp(st->rejected[j]->reason, name))
                count = st->rejected[j]->count;
        if (count != f->tally[i].count)
            fail_msg("rejected %s: broker counted %llu, sent %llu", name,
                     (unsigned long long)count,
                     (unsigned long long)f->tally[i].count);
    }
    /* and nothing else */
    assert_int_equal(st->n_rejected, f->ntally);
    assert_true(st->requests_total > 50);
    assert_string_equal(st->health->status, "ok");
    ratusz__v1__stats__free_unpacked(st, NULL);
    assert_true(rzt_broker_alive(&f->b));
}

static void s_on_code(const rz_ack_t *a, void *user)
{
    *(int *)user = a->code;
}

/* A request over max_message gets RZ_ETOOBIG; one over twice max_message
 * plus 64 KiB is not read at all (the broker's memory is bounded per
 * connection): ZeroMQ drops the connection, the client's request times
 * out, and the broker and the client's next requests go on. */
static void test_badinput_far_oversize_event_gets_etoobig_ack(void **state)
{
    fx_t *f = *state;
    size_t n = 150 * 1024;
    char *pad = malloc(n + 1);
    memset(pad, 'p', n);
    pad[n] = '\0';
    rz_client_opts_t o = {.window = 16, .batch = 1, .timeout_ms = 3000};
    rz_client_t *c = rz_client_new(f->b.front, &o);
    int code = 1;
    rz_client_set_ack_cb(c, s_on_code, &code);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    rzt_event(&ev, &be, "/1261011/budget/big", "big-1", "", 1, 1);
    be.description = pad;
    assert_int_equal(rz_publish(c, &ev, NULL), 0);
    int rc = rz_flush(c, 3000);
    if (rc != 0 || code != RZ_ETOOBIG)
        fail_msg("a %zu-byte event: expected an RZ_ETOOBIG ack, got %s "
                 "(flush: %s)",
                 n, code == 1 ? "no ack" : rz_err_name(code),
                 rc ? rz_err_name(rc) : "0");
    s_tally(f, RZ_ETOOBIG);

    /* past 2 x 64 KiB + 64 KiB: dropped, timed out, nothing stored */
    char *huge = malloc(300 * 1024 + 1);
    memset(huge, 'h', 300 * 1024);
    huge[300 * 1024] = '\0';
    be.description = huge;
    ev.id = "big-2";
    code = 1;
    assert_int_equal(rz_publish(c, &ev, NULL), 0);
    assert_int_equal(rz_flush(c, 5000), 0);
    assert_int_equal(code, RZ_ETIMEDOUT);
    free(huge);
    /* the same client goes on */
    be.description = "small again";
    ev.id = "big-3";
    code = 1;
    assert_int_equal(rz_publish(c, &ev, NULL), 0);
    assert_int_equal(rz_flush(c, 5000), 0);
    assert_int_equal(code, 0);
    assert_true(rzt_broker_alive(&f->b));
    rz_client_destroy(&c);
    free(pad);
    s_good(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_badinput_wrong_frame_counts_get_ebadframe),
        cmocka_unit_test(test_badinput_unknown_command_gets_eunknowncmd),
        cmocka_unit_test(test_badinput_correlation_of_300_bytes_gets_ebadframe),
        cmocka_unit_test(test_badinput_bad_protobuf_bodies_get_edecode),
        cmocka_unit_test(test_badinput_truncated_event_gets_edecode_ack),
        cmocka_unit_test(test_badinput_oversize_body_gets_etoobig),
        cmocka_unit_test(test_badinput_empty_and_too_large_batches),
        cmocka_unit_test(
            test_badinput_invalid_events_get_per_event_einvalevent),
        cmocka_unit_test(test_badinput_invalid_requests_get_ebadreq),
        cmocka_unit_test(test_badinput_req_socket_client_works),
        cmocka_unit_test(test_badinput_stats_count_rejections_by_reason),
        cmocka_unit_test(test_badinput_far_oversize_event_gets_etoobig_ack),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
