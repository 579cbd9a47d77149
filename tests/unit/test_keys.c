/* test_keys.c - CURVE key files, and the client's CURVE handshake against a
 * CURVE server made here with libzmq (a stand-in for the broker). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"
#include "ratusz/keys.h"

static char s_dir[256];

static int s_setup(void **state)
{
    (void)state;
    if (!zmq_has("curve")) {
        fprintf(stderr, "libzmq was built without CURVE: skipping\n");
        exit(77);
    }
    return rzt_tmpdir(s_dir, sizeof s_dir);
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_rmtree(s_dir);
    return 0;
}

static void s_path(char *buf, size_t len, const char *file)
{
    snprintf(buf, len, "%s/%s", s_dir, file);
}

static void s_write(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static mode_t s_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* ==========================================================================
 * Key files
 */

static void test_keys_generate_writes_secret_0600_and_public_0644(void **state)
{
    (void)state;
    rz_keypair_t kp;
    char err[512], key[300], pub[300];
    /* a umask that would make the .pub private must not */
    mode_t old = umask(077);
    int rc = rz_key_generate(s_dir, "adapter-budget", &kp, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    s_path(key, sizeof key, "adapter-budget.key");
    s_path(pub, sizeof pub, "adapter-budget.pub");
    assert_int_equal(s_mode(key), 0600);
    assert_int_equal(s_mode(pub), 0644);
    assert_string_equal(kp.name, "adapter-budget");
    assert_true(rz_key_is_z85(kp.public_z85));
    assert_true(rz_key_is_z85(kp.secret_z85));
    char derived[41];
    assert_int_equal(zmq_curve_public(derived, kp.secret_z85), 0);
    assert_string_equal(derived, kp.public_z85);
}

static void test_keys_generate_refuses_an_existing_key_naming_it(void **state)
{
    (void)state;
    rz_keypair_t a, b;
    char err[512], key[300], before[512], after[512];
    assert_int_equal(rz_key_generate(s_dir, "twice", &a, err, sizeof err), 0);
    s_path(key, sizeof key, "twice.key");
    FILE *f = fopen(key, "r");
    size_t n = fread(before, 1, sizeof before - 1, f);
    before[n] = '\0';
    fclose(f);

    int rc = rz_key_generate(s_dir, "twice", &b, err, sizeof err);
    assert_int_equal(rc, -EEXIST);
    assert_non_null(strstr(err, key));
    /* the first key is untouched */
    f = fopen(key, "r");
    n = fread(after, 1, sizeof after - 1, f);
    after[n] = '\0';
    fclose(f);
    assert_string_equal(before, after);
}

static void test_keys_generate_refuses_a_symlink_in_the_way(void **state)
{
    (void)state;
    char err[512], key[300], target[300];
    s_path(key, sizeof key, "link.key");
    s_path(target, sizeof target, "elsewhere");
    assert_int_equal(symlink(target, key), 0);
    rz_keypair_t kp;
    assert_true(rz_key_generate(s_dir, "link", &kp, err, sizeof err) < 0);
    assert_int_equal(access(target, F_OK), -1);
}

static void test_keys_bad_names_are_refused(void **state)
{
    (void)state;
    char long_name[RZ_KEY_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"",       "a/b", "..",      ".",    "a b",
                         "zażółć", "x\n", long_name, "../up"};
    char err[512];
    rz_keypair_t kp;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rz_key_generate(s_dir, bad[i], &kp, err, sizeof err),
                         RZ_EINVAL);
        assert_non_null(strstr(err, "key name"));
    }
    long_name[RZ_KEY_NAME_MAX] = '\0'; /* exactly 100 */
    assert_int_equal(rz_key_generate(s_dir, long_name, &kp, err, sizeof err),
                     0);
    assert_int_equal(
        rz_key_generate(s_dir, "Ok_name-1.v2", &kp, err, sizeof err), 0);
}

static void test_keys_load_secret_round_trip(void **state)
{
    (void)state;
    rz_keypair_t made, got;
    char err[512], key[300];
    assert_int_equal(rz_key_generate(s_dir, "round", &made, err, sizeof err),
                     0);
    s_path(key, sizeof key, "round.key");
    assert_int_equal(rz_key_load_secret(key, &got, err, sizeof err), 0);
    assert_string_equal(got.name, "round");
    assert_string_equal(got.public_z85, made.public_z85);
    assert_string_equal(got.secret_z85, made.secret_z85);
}

static void test_keys_load_secret_refuses_a_file_others_may_read(void **state)
{
    (void)state;
    rz_keypair_t kp;
    char err[512], key[300], want[400];
    assert_int_equal(rz_key_generate(s_dir, "open", &kp, err, sizeof err), 0);
    s_path(key, sizeof key, "open.key");
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(rz_key_load_secret(key, &kp, err, sizeof err), RZ_ECONFIG);
    snprintf(want, sizeof want, "chmod 600 %s", key);
    assert_non_null(strstr(err, want));
    assert_string_equal(kp.secret_z85, "");
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(rz_key_load_secret(key, &kp, err, sizeof err), RZ_ECONFIG);
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(rz_key_load_secret(key, &kp, err, sizeof err), 0);
}

static void test_keys_bad_z85_is_reported_with_file_and_line(void **state)
{
    (void)state;
    rz_keypair_t kp;
    char err[512], path[300], want[400], text[512];
    assert_int_equal(rz_key_generate(s_dir, "z85", &kp, err, sizeof err), 0);
    s_path(path, sizeof path, "z85-bad.key");
    /* '"' is not in the Z85 alphabet; line 4 after comment and blank */
    snprintf(text, sizeof text,
             "# comment\n\nname: z85\nsecret: %.39s\"\npublic: %s\n",
             kp.secret_z85, kp.public_z85);
    s_write(path, text, 0600);
    assert_int_equal(rz_key_load_secret(path, &kp, err, sizeof err),
                     RZ_ECONFIG);
    snprintf(want, sizeof want, "%s:4:", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "Z85"));

    /* too short */
    s_write(path, "public: abc\n", 0600);
    assert_int_equal(rz_key_load_public(path, &kp, err, sizeof err),
                     RZ_ECONFIG);
    snprintf(want, sizeof want, "%s:1:", path);
    assert_non_null(strstr(err, want));
}

static void test_keys_public_must_belong_to_the_secret(void **state)
{
    (void)state;
    rz_keypair_t a, b;
    char err[512], path[300], want[400], text[512];
    assert_int_equal(rz_key_generate(s_dir, "mine", &a, err, sizeof err), 0);
    assert_int_equal(rz_key_generate(s_dir, "other", &b, err, sizeof err), 0);
    s_path(path, sizeof path, "mixed.key");
    snprintf(text, sizeof text, "name: mixed\npublic: %s\nsecret: %s\n",
             b.public_z85, a.secret_z85);
    s_write(path, text, 0600);
    assert_int_equal(rz_key_load_secret(path, &a, err, sizeof err), RZ_ECONFIG);
    snprintf(want, sizeof want, "%s:2:", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "does not belong"));
}

static void test_keys_unknown_and_repeated_lines_are_errors(void **state)
{
    (void)state;
    rz_keypair_t kp;
    char err[512];
    const char *z = "o!8fsAzow}Dsj{go&<FArsmeUF?7h=rsO[-BahF.";
    char text[256];
    snprintf(text, sizeof text, "public: %s\ncolour: blue\n", z);
    assert_int_equal(
        rz__key_parse(text, strlen(text), "t.pub", 0, &kp, err, sizeof err),
        RZ_ECONFIG);
    assert_non_null(strstr(err, "t.pub:2: unknown key 'colour'"));
    snprintf(text, sizeof text, "public: %s\npublic: %s\n", z, z);
    assert_int_equal(
        rz__key_parse(text, strlen(text), "t.pub", 0, &kp, err, sizeof err),
        RZ_ECONFIG);
    assert_non_null(strstr(err, "t.pub:2:"));
    assert_non_null(strstr(err, "twice"));
    snprintf(text, sizeof text, "just words\n");
    assert_int_equal(
        rz__key_parse(text, strlen(text), "t.pub", 0, &kp, err, sizeof err),
        RZ_ECONFIG);
    assert_non_null(strstr(err, "t.pub:1:"));
    /* CRLF and blanks around values are fine */
    snprintf(text, sizeof text, "  public :  %s \r\n", z);
    assert_int_equal(
        rz__key_parse(text, strlen(text), "t.pub", 0, &kp, err, sizeof err), 0);
    assert_string_equal(kp.public_z85, z);
    /* a .pub is not a secret key */
    assert_int_equal(
        rz__key_parse(text, strlen(text), "t.pub", 1, &kp, err, sizeof err),
        RZ_ECONFIG);
    assert_non_null(strstr(err, "secret"));
}

static void test_keys_load_public_takes_a_file_or_bare_z85(void **state)
{
    (void)state;
    rz_keypair_t made, got;
    char err[512], path[300];
    assert_int_equal(rz_key_generate(s_dir, "broker", &made, err, sizeof err),
                     0);
    assert_int_equal(rz_key_load_public(made.public_z85, &got, err, sizeof err),
                     0);
    assert_string_equal(got.public_z85, made.public_z85);
    assert_string_equal(got.secret_z85, "");

    s_path(path, sizeof path, "broker.pub");
    assert_int_equal(rz_key_load_public(path, &got, err, sizeof err), 0);
    assert_string_equal(got.public_z85, made.public_z85);
    assert_string_equal(got.name, "broker");

    /* the .key works too; its secret half stays behind */
    s_path(path, sizeof path, "broker.key");
    assert_int_equal(rz_key_load_public(path, &got, err, sizeof err), 0);
    assert_string_equal(got.public_z85, made.public_z85);
    assert_string_equal(got.secret_z85, "");

    /* neither a file nor a key */
    assert_true(rz_key_load_public("no-such-key", &got, err, sizeof err) < 0);
    assert_non_null(strstr(err, "no-such-key"));
    assert_false(rz_key_is_z85("o!8fsAzow}Dsj{go&<FArsmeUF?7h=rsO[-Bahf"));
    assert_false(rz_key_is_z85("o!8fsAzow}Dsj{go&<FArsmeUF?7h=rsO[-BahF. "));
    /* valid characters, but "#####" is above 2^32 */
    assert_false(rz_key_is_z85("#####Lns47E1%kR.o@n%FcmmsL/@{H8]yf7abcde"));
}

/* ==========================================================================
 * The client over CURVE, against a ROUTER that stands in for the broker
 */

typedef struct s_server {
    void *ctx, *router, *zap, *xpub;
    char endpoint[128];
    char stream[128];
    rz_keypair_t keys;
    pthread_t thread;
    atomic_int stop;
    atomic_int requests;
} s_server_t;

/* Deny every ZAP request, as a broker does for a key it has no grant for. */
static void s_zap_deny(void *zap)
{
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], zap, 0) < 0)
            return;
        more = zmq_msg_more(&f[n]);
        n++;
    }
    /* version, request id, status, text, user id, metadata */
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    zmq_send(zap, "400", 3, ZMQ_SNDMORE);
    zmq_send(zap, "no grant", 8, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* Answer [id][cmd][corr][body]: HEALTH and WHOAMI with made-up bodies,
 * anything else with ERR RZ_EDENIED. */
static void s_answer(s_server_t *s)
{
    zmq_msg_t f[4];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t tmp, *m = n < 4 ? &f[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s->router, 0) < 0)
            return;
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(m);
        else
            n++;
    }
    atomic_fetch_add(&s->requests, 1);
    const char *cmd = zmq_msg_data(&f[1]);
    size_t cmd_len = zmq_msg_size(&f[1]);
    uint8_t body[256];
    size_t len;
    const char *reply = "ERR";
    if (cmd_len == 6 && !memcmp(cmd, "HEALTH", 6)) {
        Ratusz__V1__Health h = RATUSZ__V1__HEALTH__INIT;
        h.status = "ok";
        h.version = "test";
        h.head_seq = 42;
        len = ratusz__v1__health__pack(&h, body);
        reply = "HEALTH";
    } else if (cmd_len == 6 && !memcmp(cmd, "WHOAMI", 6)) {
        Ratusz__V1__Whoami w = RATUSZ__V1__WHOAMI__INIT;
        w.principal = "adapter-budget";
        w.security = 1;
        len = ratusz__v1__whoami__pack(&w, body);
        reply = "WHOAMI";
    } else {
        Ratusz__V1__Error e = RATUSZ__V1__ERROR__INIT;
        e.code = RZ_EDENIED;
        e.message = "principal 'adapter-budget' may not do that";
        len = ratusz__v1__error__pack(&e, body);
    }
    zmq_send(s->router, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), ZMQ_SNDMORE);
    zmq_send(s->router, reply, strlen(reply), ZMQ_SNDMORE);
    zmq_send(s->router, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), ZMQ_SNDMORE);
    zmq_send(s->router, body, len, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* A subscriber arrived on the stream: send it one event, seq 43 (after
 * the head HEALTH reports) with no earlier event of its topic. */
static void s_stream_one(s_server_t *s)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    ev.id = "e1";
    ev.source = "/1261011/budget/test";
    ev.type = "pl.gov.gmina.budget.test.v1";
    ev.seq = 43;
    uint8_t body[256], pos[16] = {0};
    size_t len = ratusz__v1__event__pack(&ev, body);
    pos[7] = 43;
    const char *topic = "1261011.budget.test.v1";
    zmq_send(s->xpub, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(s->xpub, pos, sizeof pos, ZMQ_SNDMORE);
    zmq_send(s->xpub, body, len, 0);
}

static void *s_serve(void *arg)
{
    s_server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t it[2] = {{s->router, 0, ZMQ_POLLIN, 0},
                                {s->zap, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, s->zap ? 2 : 1, 50) <= 0)
            continue;
        if (it[0].revents & ZMQ_POLLIN)
            s_answer(s);
        if (s->zap && (it[1].revents & ZMQ_POLLIN))
            s_zap_deny(s->zap);
        if (s->xpub && zmq_recv(s->xpub, NULL, 0, ZMQ_DONTWAIT) >= 0)
            s_stream_one(s);
    }
    return NULL;
}

/* A CURVE server on 127.0.0.1, answering in a thread. with_zap binds a
 * ZAP handler that denies everyone; without one libzmq lets any client
 * key in. */
static void s_server_start(s_server_t *s, int with_zap);

/* The stream socket too: an XPUB, with CURVE or without. */
static void s_server_start_stream(s_server_t *s, int curve)
{
    s_server_start(s, 0);
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    atomic_store(&s->stop, 0);
    int zero = 0, one = 1;
    s->xpub = zmq_socket(s->ctx, ZMQ_XPUB);
    zmq_setsockopt(s->xpub, ZMQ_LINGER, &zero, sizeof zero);
    if (curve) {
        zmq_setsockopt(s->xpub, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(s->xpub, ZMQ_CURVE_SECRETKEY, s->keys.secret_z85, 40);
    }
    assert_int_equal(zmq_bind(s->xpub, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof s->stream;
    zmq_getsockopt(s->xpub, ZMQ_LAST_ENDPOINT, s->stream, &len);
    assert_int_equal(pthread_create(&s->thread, NULL, s_serve, s), 0);
}

static void s_server_start(s_server_t *s, int with_zap)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(zmq_curve_keypair(s->keys.public_z85, s->keys.secret_z85),
                     0);
    s->ctx = zmq_ctx_new();
    assert_non_null(s->ctx);
    int zero = 0, one = 1;
    if (with_zap) {
        s->zap = zmq_socket(s->ctx, ZMQ_REP);
        zmq_setsockopt(s->zap, ZMQ_LINGER, &zero, sizeof zero);
        assert_int_equal(zmq_bind(s->zap, "inproc://zeromq.zap.01"), 0);
    }
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(
        zmq_setsockopt(s->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(
        zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, s->keys.secret_z85, 40),
        0);
    assert_int_equal(zmq_bind(s->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof s->endpoint;
    zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &len);
    assert_int_equal(pthread_create(&s->thread, NULL, s_serve, s), 0);
}

static void s_server_stop(s_server_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    zmq_close(s->router);
    if (s->zap)
        zmq_close(s->zap);
    if (s->xpub)
        zmq_close(s->xpub);
    zmq_ctx_term(s->ctx);
}

static rz_client_t *s_curve_client(const s_server_t *s, const char *server_key,
                                   int timeout_ms)
{
    rz_keypair_t me;
    char err[512];
    /* from files, as a real client gets them */
    static int n;
    char name[32], key[300];
    snprintf(name, sizeof name, "client%d", ++n);
    assert_int_equal(rz_key_generate(s_dir, name, NULL, err, sizeof err), 0);
    snprintf(key, sizeof key, "%s/%s.key", s_dir, name);
    assert_int_equal(rz_key_load_secret(key, &me, err, sizeof err), 0);
    rz_client_opts_t o = {0};
    o.timeout_ms = timeout_ms;
    o.curve_public = me.public_z85;
    o.curve_secret = me.secret_z85;
    o.curve_server = server_key;
    rz_client_t *c = rz_client_new(s->endpoint, &o);
    /* the client keeps its own copies */
    memset(&me, 'x', sizeof me);
    return c;
}

static void test_keys_curve_client_gets_its_reply(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, 0);
    rz_client_t *c = s_curve_client(&s, s.keys.public_z85, 5000);
    assert_non_null(c);
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(c, &h), 0);
    assert_string_equal(h->status, "ok");
    assert_int_equal(h->head_seq, 42);
    ratusz__v1__health__free_unpacked(h, NULL);

    Ratusz__V1__Whoami *w = NULL;
    assert_int_equal(rz_whoami(c, &w), 0);
    assert_string_equal(w->principal, "adapter-budget");
    assert_true(w->security);
    ratusz__v1__whoami__free_unpacked(w, NULL);
    assert_string_equal(rz_client_principal(c), "adapter-budget");

    /* an ERR reply carries its words */
    Ratusz__V1__VerifyResult *v = NULL;
    assert_int_equal(rz_verify(c, "events", 0, &v), RZ_EDENIED);
    assert_null(v);
    assert_non_null(strstr(rz_client_last_error(c), "may not"));

    rz_client_destroy(&c);
    rz_client_destroy(&c); /* safe twice */
    s_server_stop(&s);
}

static void
test_keys_wrong_server_key_is_denied_within_the_timeout(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, 0);
    char wrong_pub[41], wrong_sec[41];
    assert_int_equal(zmq_curve_keypair(wrong_pub, wrong_sec), 0);
    rz_client_t *c = s_curve_client(&s, wrong_pub, 3000);
    assert_non_null(c);
    Ratusz__V1__Health *h = NULL;
    int64_t t0 = rz_now_us();
    int rc = rz_health(c, &h);
    int64_t took = rz_now_us() - t0;
    /* the handshake monitor turns the dropped HELLO into a refusal */
    assert_int_equal(rc, RZ_EDENIED);
    assert_true(took < 3000 * 1000);
    assert_null(h);
    assert_string_equal(rz_client_last_error(c),
                        "the broker refused this client's key");
    assert_int_equal(atomic_load(&s.requests), 0);
    rz_client_destroy(&c);
    s_server_stop(&s);
}

static void test_keys_zap_denial_is_denied_at_once(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, 1);
    rz_client_t *c = s_curve_client(&s, s.keys.public_z85, 5000);
    assert_non_null(c);
    Ratusz__V1__Health *h = NULL;
    int64_t t0 = rz_now_us();
    assert_int_equal(rz_health(c, &h), RZ_EDENIED);
    assert_true(rz_now_us() - t0 < 2000 * 1000);
    assert_int_equal(atomic_load(&s.requests), 0);
    rz_client_destroy(&c);
    s_server_stop(&s);
}

static int s_count(const rz_event_t *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static void test_keys_subscription_uses_the_clients_keys(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start_stream(&s, 1);
    rz_client_t *c = s_curve_client(&s, s.keys.public_z85, 5000);
    assert_non_null(c);
    rz_sub_t *sub = rz_sub_new(c, s.stream, "");
    assert_non_null(sub);
    int got = 0;
    int64_t end = rz_now_us() + 5000 * 1000;
    while (got == 0 && rz_now_us() < end)
        assert_true(rz_sub_recv(sub, s_count, &got, 200) >= 0);
    assert_int_equal(got, 1);
    rz_sub_destroy(&sub);
    rz_client_destroy(&c);
    s_server_stop(&s);
}

static void test_keys_subscription_refused_by_the_stream_is_denied(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start_stream(&s, 0); /* the stream has no CURVE */
    rz_client_t *c = s_curve_client(&s, s.keys.public_z85, 5000);
    rz_sub_t *sub = rz_sub_new(c, s.stream, "");
    assert_non_null(sub);
    int got = 0, rc = 0;
    int64_t end = rz_now_us() + 3000 * 1000;
    while (rc == 0 && rz_now_us() < end)
        rc = rz_sub_recv(sub, s_count, &got, 200);
    assert_int_equal(rc, RZ_EDENIED);
    assert_int_equal(got, 0);
    rz_sub_destroy(&sub);
    rz_client_destroy(&c);
    s_server_stop(&s);
}

static void test_keys_client_needs_all_three_valid_keys(void **state)
{
    (void)state;
    char pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    rz_client_opts_t o = {0};
    o.curve_public = pub;
    o.curve_secret = sec;
    errno = 0;
    assert_null(rz_client_new("tcp://127.0.0.1:1", &o));
    assert_int_equal(errno, EINVAL);
    o.curve_server = "not a key";
    errno = 0;
    assert_null(rz_client_new("tcp://127.0.0.1:1", &o));
    assert_int_equal(errno, EINVAL);
    /* and without keys nothing changes */
    rz_client_t *c = rz_client_new("tcp://127.0.0.1:1", NULL);
    assert_non_null(c);
    assert_string_equal(rz_client_principal(c), "anonymous");
    rz_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_generate_writes_secret_0600_and_public_0644),
        cmocka_unit_test(test_keys_generate_refuses_an_existing_key_naming_it),
        cmocka_unit_test(test_keys_generate_refuses_a_symlink_in_the_way),
        cmocka_unit_test(test_keys_bad_names_are_refused),
        cmocka_unit_test(test_keys_load_secret_round_trip),
        cmocka_unit_test(test_keys_load_secret_refuses_a_file_others_may_read),
        cmocka_unit_test(test_keys_bad_z85_is_reported_with_file_and_line),
        cmocka_unit_test(test_keys_public_must_belong_to_the_secret),
        cmocka_unit_test(test_keys_unknown_and_repeated_lines_are_errors),
        cmocka_unit_test(test_keys_load_public_takes_a_file_or_bare_z85),
        cmocka_unit_test(test_keys_curve_client_gets_its_reply),
        cmocka_unit_test(
            test_keys_wrong_server_key_is_denied_within_the_timeout),
        cmocka_unit_test(test_keys_zap_denial_is_denied_at_once),
        cmocka_unit_test(test_keys_subscription_uses_the_clients_keys),
        cmocka_unit_test(
            test_keys_subscription_refused_by_the_stream_is_denied),
        cmocka_unit_test(test_keys_client_needs_all_three_valid_keys),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
