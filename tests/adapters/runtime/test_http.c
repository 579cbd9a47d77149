/* test_http.c - ratusz-adapter's HTTP intake and broker keys as a process
 * against the real ratuszd: the loopback default, the refusal to listen
 * beyond loopback unauthenticated, bearer tokens (401, 202, the counted
 * rejections, the client named in its records), --hash-token, and key
 * files refused at start. */
#include <curl/curl.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* A key pair and a server key made for these tests with zmq_curve_keypair;
 * they guard nothing. */
#define SERVER_PUB "+U=&gnT/^Sgm3>x:8rw8TAm4])ioae+]niE1p3::"
#define CLIENT_PUB "ni]=70-rW@rh>JHh!>ma.-He-Y.ZM^rkIJrhNvc}"
#define CLIENT_SEC "U8m:44S+rxFh-+^}{oqi9eir.Jxou$w<sLdumn5S"

#define TOKEN_AIRLY "airly-0123456789abcdef0123456789"
#define TOKEN_GIOS "gios-fedcba9876543210fedcba98765"

typedef struct fx {
    rzt_broker_t b;
    char dir[256];
    char conf[300];
    char data[300];
    char log[300];
} fx_t;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (rzt_broker_start(&f->b, NULL) != 0)
        return -1;
    rzt_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/adapter.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->log, sizeof f->log, "%s/adapter.log", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rzt_broker_cleanup(&f->b);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

static void s_write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* adapter.yaml: the ndjson system on this broker, with extra lines. */
static void s_conf(fx_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_conf(fx_t *f, const char *fmt, ...)
{
    char extra[2048], text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof extra, fmt, ap);
    va_end(ap);
    snprintf(text, sizeof text,
             "system: ndjson\nname: adapter/http\nbroker: %s\ndata_dir: %s\n"
             "timeout_ms: 1000\nreport_ms: 100\n%s",
             f->b.front, f->data, extra);
    s_write(f->conf, text, 0644);
}

/* Run ratusz-adapter -c conf ARGS; out gets stdout and stderr. */
static int s_adapter(fx_t *f, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' %s 2>&1", RZ_ADAPTER_BIN, f->conf,
             args);
    return rzt_run(cmd, out, len);
}

static pid_t s_spawn(fx_t *f)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(RZ_ADAPTER_BIN, RZ_ADAPTER_BIN, "-c", f->conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int s_wait_exit(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        s_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void s_print_log(const fx_t *f)
{
    char out[8192], cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s'", f->log);
    rzt_run(cmd, out, sizeof out);
    fprintf(stderr, "--- %s\n%s---\n", f->log, out);
}

/* ===========================================================================
 * HTTP with curl
 */

typedef struct resp {
    char body[4096];
    size_t len;
    char www_auth[256];
} resp_t;

static size_t s_on_body(char *d, size_t size, size_t n, void *user)
{
    resp_t *r = user;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;
    size_t take = len < room ? len : room;
    memcpy(r->body + r->len, d, take);
    r->len += take;
    r->body[r->len] = '\0';
    return len;
}

static size_t s_on_header(char *d, size_t size, size_t n, void *user)
{
    resp_t *r = user;
    size_t len = size * n;
    static const char name[] = "WWW-Authenticate:";
    if (len > sizeof name && !strncasecmp(d, name, sizeof name - 1)) {
        size_t from = sizeof name - 1, to = len;
        while (from < to && d[from] == ' ')
            from++;
        while (to > from && (d[to - 1] == '\r' || d[to - 1] == '\n'))
            to--;
        snprintf(r->www_auth, sizeof r->www_auth, "%.*s", (int)(to - from),
                 d + from);
    }
    return len;
}

/* method on url with an optional bearer token; the status or -1. */
static long s_http(const char *method, const char *url, const char *token,
                   const char *body, resp_t *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[300];
    memset(r, 0, sizeof *r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}

/* Wait until GET /stats answers at all (any status); the status. */
static long s_wait_up(int port, const char *token)
{
    char url[100];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", port);
    resp_t r;
    long st = -1;
    for (int i = 0; i < 400 && st < 0; i++) {
        st = s_http("GET", url, token, NULL, &r);
        if (st < 0)
            s_sleep_ms(25);
    }
    return st;
}

/* n events e-<from>..: tenant Kraków, one subject each, as NDJSON */
static void s_gen(char *buf, size_t len, int from, int n, const char *tail)
{
    size_t o = 0;
    for (int i = from; i < from + n; i++)
        o += (size_t)snprintf(
            buf + o, len - o,
            "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"type\":"
            "\"pl.gov.gmina.budget.test.v1\",\"tenant\":\"1261011\","
            "\"subject\":\"unit:%d\",\"time\":\"2024-01-0%dT12:00:00+01:00\"}"
            "\n",
            i, i, 1 + i % 9);
    snprintf(buf + o, len - o, "%s", tail ? tail : "");
}

static int s_wait_head(fx_t *f, uint64_t n, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (rzt_head(&f->b) >= n)
            return 0;
        s_sleep_ms(20);
    }
    return -1;
}

/* The adapter's metric as the broker got it in its last report. */
static double s_metric(fx_t *f, const char *component, const char *metric)
{
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    Ratusz__V1__Stats *st = NULL;
    double v = NAN;
    if (c && rz_stats(c, &st) == 0) {
        for (size_t i = 0; i < st->n_components; i++) {
            const Ratusz__V1__Component *k = st->components[i];
            if (strcmp(k->name, component))
                continue;
            for (size_t j = 0; j < k->n_metrics; j++)
                if (!strcmp(k->metrics[j]->name, metric))
                    v = k->metrics[j]->value;
        }
        ratusz__v1__stats__free_unpacked(st, NULL);
    }
    rz_client_destroy(&c);
    return v;
}

/* The listening sockets on port in /proc/net/tcp, as "ADDR" hex words
 * ("0100007F" is 127.0.0.1). Returns how many were found. */
static int s_listeners(int port, char addrs[][9], int max)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    if (!fp)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        char local[64], remote[64];
        unsigned st;
        if (sscanf(line, " %*d: %63s %63s %x", local, remote, &st) != 3)
            continue;
        char *colon = strchr(local, ':');
        if (!colon || st != 0x0A) /* TCP_LISTEN */
            continue;
        if ((int)strtoul(colon + 1, NULL, 16) != port)
            continue;
        *colon = '\0';
        if (n < max)
            snprintf(addrs[n], 9, "%.8s", local);
        n++;
    }
    fclose(fp);
    return n;
}

/* The "sha256:..." line of ratusz-adapter --hash-token for token. */
static void s_hash(const char *token, char *out, size_t len)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "printf %%s '%s' | '%s' --hash-token 2>/dev/null",
             token, RZ_ADAPTER_BIN);
    assert_int_equal(rzt_run(cmd, out, len), 0);
    out[strcspn(out, "\n")] = '\0';
}

/* ===========================================================================
 * Where it listens
 */

static void test_http_bare_port_listens_on_loopback_only(void **state)
{
    fx_t *f = *state;
    int port = rzt_free_port();
    s_conf(f, "http: %d\n", port);
    pid_t pid = s_spawn(f);
    long st = s_wait_up(port, NULL);
    if (st != 200)
        s_print_log(f);
    assert_int_equal(st, 200);
    char addrs[4][9];
    int n = s_listeners(port, addrs, 4);
    assert_int_equal(n, 1);
    assert_string_equal(addrs[0], "0100007F"); /* not 00000000 */
    kill(pid, SIGTERM);
    assert_int_equal(s_wait_exit(pid, 20000), 0);
}

static void test_http_beyond_loopback_needs_tokens_or_auth_none(void **state)
{
    fx_t *f = *state;
    char out[4096];
    int port = rzt_free_port();

    s_conf(f, "http: 0.0.0.0:%d\n", port);
    assert_int_equal(s_adapter(f, "", out, sizeof out), 2);
    assert_non_null(strstr(out, f->conf));
    assert_non_null(strstr(out, "http '0.0.0.0:"));
    assert_non_null(strstr(out, "listens beyond loopback and http_tokens "
                                "lists no client"));
    assert_non_null(strstr(out, "http_auth: none"));

    /* also for commands that do not listen: the configuration is wrong */
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);

    s_conf(f, "http: %d\nhttp_auth: token\n", port);
    assert_int_equal(s_adapter(f, "", out, sizeof out), 2);
    assert_non_null(strstr(out, "http_auth is 'token' but http_tokens lists "
                                "no client"));

    s_conf(f, "http: %d\nhttp_tokens:\n  airly: %s\n", port, TOKEN_AIRLY);
    assert_int_equal(s_adapter(f, "", out, sizeof out), 2);
    assert_non_null(strstr(out, ":9: http_tokens.airly: want \"sha256:\""));

    s_conf(f, "http: 0.0.0.0:%d\nhttp_auth: none\n", port);
    pid_t pid = s_spawn(f);
    long st = s_wait_up(port, NULL);
    if (st != 200)
        s_print_log(f);
    assert_int_equal(st, 200);
    char addrs[4][9];
    assert_int_equal(s_listeners(port, addrs, 4), 1);
    assert_string_equal(addrs[0], "00000000");
    kill(pid, SIGTERM);
    assert_int_equal(s_wait_exit(pid, 20000), 0);
}

/* ===========================================================================
 * Tokens
 */

static void test_http_tokens_401_without_or_wrong_202_with_right(void **state)
{
    fx_t *f = *state;
    char h_airly[200], h_gios[200];
    s_hash(TOKEN_AIRLY, h_airly, sizeof h_airly);
    s_hash(TOKEN_GIOS, h_gios, sizeof h_gios);
    assert_int_equal(strncmp(h_airly, "sha256:", 7), 0);
    assert_int_equal(strlen(h_airly), 7 + 64);
    int port = rzt_free_port();
    s_conf(f, "http: 0.0.0.0:%d\nhttp_tokens:\n  airly: %s\n  gios: %s\n", port,
           h_airly, h_gios);
    pid_t pid = s_spawn(f);
    assert_int_equal(s_wait_up(port, TOKEN_AIRLY), 200);

    char url[200], stats[200], body[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/air/measurements", port);
    snprintf(stats, sizeof stats, "http://127.0.0.1:%d/stats", port);
    s_gen(body, sizeof body, 0, 2, NULL);
    resp_t r;

    assert_int_equal(s_http("POST", url, NULL, body, &r), 401);
    assert_string_equal(r.www_auth, "Bearer realm=\"ratusz-adapter\"");
    assert_non_null(strstr(r.body, "Authorization: Bearer"));

    assert_int_equal(s_http("POST", url, "not-a-token-of-ours", body, &r), 401);
    assert_string_equal(r.www_auth, "Bearer realm=\"ratusz-adapter\", "
                                    "error=\"invalid_token\"");
    /* the hash is not the token */
    assert_int_equal(s_http("POST", url, h_airly + 7, body, &r), 401);
    assert_int_equal(s_http("GET", stats, NULL, NULL, &r), 401);
    assert_int_equal(rzt_head(&f->b), 0);

    assert_int_equal(s_http("POST", url, TOKEN_AIRLY, body, &r), 202);
    assert_string_equal(r.body, "{\"records\":2,\"events\":2,"
                                "\"quarantined\":0}\n");
    /* a record that is quarantined carries the client's name */
    s_gen(body, sizeof body, 2, 1, "{\"nope\":\n");
    assert_int_equal(s_http("POST", url, TOKEN_GIOS, body, &r), 422);
    assert_int_equal(s_wait_head(f, 3, 10000), 0);

    assert_int_equal(s_http("GET", stats, TOKEN_GIOS, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"http_unauthorized\":4"));
    assert_non_null(strstr(r.body, "\"records_read\":4"));
    /* and the broker has them from the adapter's reports */
    double v = NAN;
    for (int i = 0; i < 200 && !(v == 4); i++) {
        v = s_metric(f, "adapter/http", "http_unauthorized");
        if (!(v == 4))
            s_sleep_ms(25);
    }
    assert_true(v == 4);

    kill(pid, SIGTERM);
    assert_int_equal(s_wait_exit(pid, 20000), 0);
    assert_int_equal(rzt_head(&f->b), 3);

    char out[4096];
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 0);
    assert_non_null(strstr(out, "http POST /air/measurements from 127.0.0.1 "
                                "by gios"));
}

static void test_hash_token_matches_sha256_and_refuses_empty(void **state)
{
    (void)state;
    char out[512], cmd[512];
    /* printf %s abc | sha256sum */
    s_hash("abc", out, sizeof out);
    assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3"
                             "96177a9cb410ff61f20015ad");
    snprintf(cmd, sizeof cmd, "echo abc | '%s' --hash-token 2>/dev/null",
             RZ_ADAPTER_BIN);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "ba7816bf8f01cfea"));
    snprintf(cmd, sizeof cmd, "'%s' --hash-token </dev/null 2>&1",
             RZ_ADAPTER_BIN);
    assert_int_equal(rzt_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "no token on stdin"));
}

/* ===========================================================================
 * Keys
 */

static void test_key_missing_or_group_readable_refused_naming_file(void **state)
{
    fx_t *f = *state;
    char out[4096], key[400], pub[400];
    snprintf(key, sizeof key, "%s/adapter.key", f->dir);
    snprintf(pub, sizeof pub, "%s/broker.pub", f->dir);
    s_write(pub, "# ratusz public key\nname: broker\npublic: " SERVER_PUB "\n",
            0644);

    s_conf(f, "key: %s\nserver_key: %s\n", key, pub);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, key));

    s_write(key,
            "# ratusz secret key: keep it private\nname: "
            "adapter\npublic: " CLIENT_PUB "\nsecret: " CLIENT_SEC "\n",
            0640);
    s_conf(f, "key: %s\nserver_key: '%s'\n", key, SERVER_PUB);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, key));
    assert_null(strstr(out, CLIENT_SEC));

    /* as flags too */
    s_conf(f, "%s", "");
    char args[1024];
    snprintf(args, sizeof args, "--key '%s' --server-key '%s' quarantine list",
             key, pub);
    assert_int_equal(s_adapter(f, args, out, sizeof out), 2);
    assert_non_null(strstr(out, key));

    /* one without the other */
    s_conf(f, "server_key: %s\n", pub);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, "server_key is set but key is not"));
    s_conf(f, "key: %s\n", key);
    assert_int_equal(s_adapter(f, "quarantine list", out, sizeof out), 2);
    assert_non_null(strstr(out, "server_key is not"));
    assert_non_null(strstr(out, key));

    /* no broker, no keys: a dry run still works */
    char file[400];
    snprintf(file, sizeof file, "%s/one.ndjson", f->dir);
    char body[1024];
    s_gen(body, sizeof body, 0, 1, NULL);
    s_write(file, body, 0644);
    s_conf(f, "key: %s/missing.key\nserver_key: %s\n", f->dir, pub);
    snprintf(args, sizeof args, "--dry-run '%s'", file);
    assert_int_equal(s_adapter(f, args, out, sizeof out), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_http_bare_port_listens_on_loopback_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_http_beyond_loopback_needs_tokens_or_auth_none, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_http_tokens_401_without_or_wrong_202_with_right, s_setup,
            s_teardown),
        cmocka_unit_test(test_hash_token_matches_sha256_and_refuses_empty),
        cmocka_unit_test_setup_teardown(
            test_key_missing_or_group_readable_refused_naming_file, s_setup,
            s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
