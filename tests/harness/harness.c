/* harness.c - test helpers: temp dirs, free ports, the real ratuszd process */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <lmdb.h>
#include <stdint.h>
#include <zmq.h>

int rzt_tmpdir(char *path, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, len, "%s/ratusz-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(path) ? 0 : -1;
}

static int s_unlink(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void rzt_rmtree(const char *path)
{
    nftw(path, s_unlink, 16, FTW_DEPTH | FTW_PHYS);
}

/* A port below the kernel's ephemeral range (32768 and up), where the
 * outgoing connections of parallel tests never land, that binds now. */
int rzt_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

static void s_print_log(const rzt_broker_t *b)
{
    FILE *f = fopen(b->log, "r");
    if (!f)
        return;
    char line[1024];
    fprintf(stderr, "--- ratuszd log (%s) ---\n", b->log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static struct {
    int on;
    char pub[41], sec[41], srv[41];
} s_curve;

void rzt_curve(const char *public_z85, const char *secret_z85,
               const char *server_z85)
{
    s_curve.on = public_z85 && secret_z85 && server_z85;
    if (!s_curve.on)
        return;
    snprintf(s_curve.pub, sizeof s_curve.pub, "%s", public_z85);
    snprintf(s_curve.sec, sizeof s_curve.sec, "%s", secret_z85);
    snprintf(s_curve.srv, sizeof s_curve.srv, "%s", server_z85);
}

void rzt_curve_opts(rz_client_opts_t *o)
{
    if (!s_curve.on)
        return;
    o->curve_public = s_curve.pub;
    o->curve_secret = s_curve.sec;
    o->curve_server = s_curve.srv;
}

void rzt_keypair(char *public_z85, char *secret_z85)
{
    zmq_curve_keypair(public_z85, secret_z85);
}

int rzt_write_key(const char *path, const char *name, const char *public_z85,
                  const char *secret_z85)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    fprintf(f, "# ratusz secret key: keep it private\nname: %s\n"
               "public: %s\nsecret: %s\n",
            name, public_z85, secret_z85);
    return fclose(f) == 0 ? 0 : -1;
}

static int s_spawn(rzt_broker_t *b)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = RZ_RATUSZD;
    argv[n++] = "--data-dir";
    argv[n++] = b->dir;
    argv[n++] = "--listen";
    argv[n++] = b->front;
    argv[n++] = "--stream";
    argv[n++] = b->stream;
    argv[n++] = "--metrics";
    argv[n++] = b->metrics;
    for (int i = 0; b->extra[i] && n < 46; i++)
        argv[n++] = b->extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    b->pid = pid;
    /* Wait for HEALTH. */
    rz_client_opts_t o = {0};
    o.timeout_ms = 200;
    rzt_curve_opts(&o);
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            b->pid = 0;
            s_print_log(b);
            return -1;
        }
        rz_client_t *c = rz_client_new(b->front, &o);
        Ratusz__V1__Health *h = NULL;
        int rc = c ? rz_health(c, &h) : -1;
        rz_client_destroy(&c);
        if (rc == 0) {
            ratusz__v1__health__free_unpacked(h, NULL);
            /* the answer must be this broker's: one that died on start
             * leaves its port to whoever still listens there */
            if (waitpid(pid, &status, WNOHANG) == pid) {
                b->pid = 0;
                fprintf(stderr,
                        "rzt: ratuszd pid %d exited, yet %s answered HEALTH "
                        "(another broker listens there)\n",
                        (int)pid, b->front);
                s_print_log(b);
                return -1;
            }
            return 0;
        }
        usleep(100000);
    }
    /* never healthy: stop it, or it outlives the test */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    b->pid = 0;
    s_print_log(b);
    return -1;
}

int rzt_broker_start(rzt_broker_t *b, const char *const *extra)
{
    memset(b, 0, sizeof *b);
    if (rzt_tmpdir(b->dir, sizeof b->dir) < 0)
        return -1;
    b->own_dir = 1;
    snprintf(b->log, sizeof b->log, "%s.log", b->dir);
    for (int i = 0; extra && extra[i] && i < 15; i++)
        b->extra[i] = extra[i];
    /* A port can be taken between choosing and binding it: try again with
     * others when the broker could not listen. */
    for (int attempt = 0; attempt < 5; attempt++) {
        snprintf(b->front, sizeof b->front, "tcp://127.0.0.1:%d",
                 rzt_free_port());
        snprintf(b->stream, sizeof b->stream, "tcp://127.0.0.1:%d",
                 rzt_free_port());
        snprintf(b->metrics, sizeof b->metrics, "127.0.0.1:%d",
                 rzt_free_port());
        if (s_spawn(b) == 0)
            return 0;
    }
    return -1;
}

int rzt_broker_restart(rzt_broker_t *b)
{
    if (b->pid > 0) {
        fprintf(stderr,
                "rzt_broker_restart: ratuszd pid %d still runs: stop or kill "
                "it first\n",
                (int)b->pid);
        return -1;
    }
    return s_spawn(b);
}

int rzt_broker_stop(rzt_broker_t *b)
{
    if (b->pid <= 0)
        return -1;
    kill(b->pid, SIGTERM);
    int status = 0;
    waitpid(b->pid, &status, 0);
    b->pid = 0;
    if (!WIFEXITED(status)) {
        s_print_log(b);
        return -1;
    }
    return WEXITSTATUS(status);
}

void rzt_broker_kill(rzt_broker_t *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

void rzt_broker_cleanup(rzt_broker_t *b)
{
    if (b->pid > 0)
        rzt_broker_stop(b);
    if (b->own_dir && getenv("RZT_KEEP")) { /* to look at afterwards */
        fprintf(stderr, "kept %s and %s\n", b->dir, b->log);
        b->own_dir = 0;
    }
    if (b->own_dir) {
        rzt_rmtree(b->dir);
        unlink(b->log);
        b->own_dir = 0;
    }
}

int rzt_setup_with(void **state, const char *const *extra)
{
    rzt_broker_t *b = calloc(1, sizeof *b);
    if (!b || rzt_broker_start(b, extra) < 0) {
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

int rzt_setup(void **state)
{
    return rzt_setup_with(state, NULL);
}

int rzt_teardown(void **state)
{
    rzt_broker_t *b = *state;
    if (b)
        rzt_broker_cleanup(b);
    free(b);
    *state = NULL;
    return 0;
}

rz_client_t *rzt_client(const rzt_broker_t *b, uint32_t window,
                        uint32_t batch)
{
    rz_client_opts_t o = {0};
    o.window = window;
    o.batch = batch;
    o.timeout_ms = 10000;
    rzt_curve_opts(&o);
    return rz_client_new(b->front, &o);
}

void rzt_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
               const char *source, const char *id, const char *subject,
               int64_t time, int64_t amount)
{
    ratusz__v1__event__init(ev);
    ratusz__v1__budget_entry__init(be);
    ev->id = (char *)id;
    ev->source = (char *)source;
    ev->type = "pl.gov.gmina.budget.test.v1";
    ev->subject = (char *)(subject ? subject : "");
    ev->tenant = "1261011";
    ev->time = time;
    be->dzial = "600";
    be->rozdzial = "60016";
    be->paragraf = "4300";
    be->amount_grosze = amount;
    be->currency = "PLN";
    ev->data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
    ev->budget = be;
}

int rzt_run(const char *cmd, char *out, size_t out_len)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && n + 1 < out_len) {
            size_t take = got < out_len - 1 - n ? got : out_len - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
    }
    if (out && out_len)
        out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---------------------------------------------------------------------------
 * More helpers for the integration tests
 */

typedef struct s_sync_ack {
    int done, code;
    uint64_t seq;
} s_sync_ack_t;

static void s_on_sync_ack(const rz_ack_t *a, void *user)
{
    s_sync_ack_t *k = user;
    k->done = 1;
    k->code = a->code;
    k->seq = a->seq;
}

int rzt_publish_sync(rz_client_t *c, const Ratusz__V1__Event *ev, uint64_t *seq)
{
    s_sync_ack_t k = {0, 0, 0};
    rz_client_set_ack_cb(c, s_on_sync_ack, &k);
    int rc = rz_publish(c, ev, NULL);
    if (rc == 0)
        rc = rz_flush(c, 10000);
    rz_client_set_ack_cb(c, NULL, NULL);
    if (rc < 0)
        return rc;
    if (!k.done)
        return RZ_EPROTO;
    if (seq)
        *seq = k.seq;
    return k.code;
}

uint64_t rzt_head(const rzt_broker_t *b)
{
    rz_client_t *c = rzt_client(b, 0, 0);
    Ratusz__V1__Health *h = NULL;
    uint64_t head = 0;
    if (c && rz_health(c, &h) == 0) {
        head = h->head_seq;
        ratusz__v1__health__free_unpacked(h, NULL);
    }
    rz_client_destroy(&c);
    return head;
}

int rzt_broker_alive(const rzt_broker_t *b)
{
    if (b->pid <= 0)
        return 0;
    /* WNOWAIT: look without reaping, so stop/kill can still wait for it */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)b->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return 0;
    return si.si_pid == 0;
}

int rzt_http_get(const char *hostport, const char *path, char *body, size_t len)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, hostport);
    size_t cap = 1 << 16, got = 0;
    char *resp = malloc(cap);
    int status = -1;
    if (!resp || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        write(fd, req, (size_t)n) != n)
        goto out;
    for (;;) {
        if (got + 1 == cap) {
            char *bigger = realloc(resp, cap * 2);
            if (!bigger)
                goto out;
            resp = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, resp + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    int major, minor;
    if (sscanf(resp, "HTTP/%d.%d %d", &major, &minor, &status) != 3) {
        status = -1;
        goto out;
    }
    const char *start = strstr(resp, "\r\n\r\n");
    start = start ? start + 4 : resp + got;
    if (body && len)
        snprintf(body, len, "%s", start);
out:
    free(resp);
    close(fd);
    return status;
}

int rzt_endpoint_port(const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    return colon ? atoi(colon + 1) : -1;
}

int rzt_tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

long rzt_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            kb = atol(line + n + 1);
    if (f)
        fclose(f);
    return kb;
}

/* ===========================================================================
 * Mojibake
 */

int rzt_mojibake(const void *s, size_t len)
{
    /* ą ć ę ł ń ó ś ź ż and Ą Ć Ę Ł Ń Ó Ś Ź Ż in UTF-8, each byte read as
     * Windows-1250 and written again as UTF-8 */
    static const char *const seq[] = {
        "Ä…", "Ä‡", "Ä™", "Ĺ‚", "Ĺ„", "Ăł", "Ĺ›", "Ĺş", "ĹĽ",
        "Ä„", "Ä†", "Ä˜", "ĹÂ", "ĹÂ", "Ă“", "Ĺš", "Ĺą", "Ĺ»",
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        if (memmem(s, len, seq[i], strlen(seq[i])))
            return 1;
    return 0;
}

int rzt_event_mojibake(const Ratusz__V1__Event *ev)
{
    size_t n = ratusz__v1__event__get_packed_size(ev);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    ratusz__v1__event__pack(ev, p);
    int bad = rzt_mojibake(p, n);
    free(p);
    return bad;
}

size_t rzt_lmdb_entries(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    size_t n = SIZE_MAX;
    if (mdb_env_create(&env) != 0)
        return n;
    if (mdb_env_set_maxdbs(env, 16) == 0 &&
        mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        int rc = mdb_dbi_open(txn, db, 0, &dbi);
        if (rc == MDB_NOTFOUND)
            n = 0;
        else if (rc == 0 && mdb_stat(txn, dbi, &st) == 0)
            n = st.ms_entries;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return n;
}
