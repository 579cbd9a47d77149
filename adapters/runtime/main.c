/* main.c - ratusz-adapter: one legacy system onto the bus
 *
 *   ratusz-adapter -c budget.yaml                 run: drop folder, tailed
 *                                                 files, HTTP, sink
 *   ratusz-adapter -c budget.yaml FILE...         import FILEs, wait for
 *                                                 the broker's acks, exit
 *   ratusz-adapter -c budget.yaml --dry-run FILE...
 *                                                 print the events as
 *                                                 CloudEvents JSON lines,
 *                                                 quarantined records on
 *                                                 stderr; no broker, no store
 *   ratusz-adapter -c budget.yaml quarantine list|show ID|retry ID|retry --all
 *   printf %s TOKEN | ratusz-adapter --hash-token
 *                                                 the "sha256:..." line for
 *                                                 http_tokens
 *
 * Exit status: 0 done; 1 records were quarantined (by the module, or
 * refused by the broker: a conflict too), a file could not be read, or
 * the broker did not take everything in time (wait_ms); 2 bad command
 * line or configuration.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "ratusz/core/log.h"
#include "ratusz/core/time.h"
#include "runtime.h"
#include "sources.h"

#define S_STOP_MS 3000

static void s_usage(FILE *out, const rz_conf_option_t *opts)
{
    fprintf(
        out,
        "Usage: ratusz-adapter -c FILE [--OPTION VALUE...] [FILE...]\n"
        "  or:  ratusz-adapter -c FILE --dry-run FILE...\n"
        "  or:  ratusz-adapter -c FILE quarantine list|show ID|retry "
        "ID|retry --all\n"
        "  or:  ratusz-adapter --list-modules\n"
        "  or:  printf %%s TOKEN | ratusz-adapter --hash-token\n"
        "  or:  ratusz-adapter --version\n\n"
        "Without FILEs it runs: drop folder, tailed files, HTTP and sink "
        "as configured.\nWith FILEs it imports them, waits until the "
        "broker has every event and exits.\n\noptions (YAML keys of -c "
        "FILE; a module's own options go in the section named after it):\n");
    rz_conf_usage(opts, out);
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ===========================================================================
 * Daemon
 */

typedef struct s_daemon {
    uv_loop_t *loop;
    uv_signal_t sigint, sigterm;
} s_daemon_t;

static void s_on_signal(uv_signal_t *h, int signum)
{
    rzc_log(RZC_LOG_INFO, "%s, stopping",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(h->loop);
}

static void s_kick(void *pub)
{
    rz_pub_kick(pub);
}

static int s_run_daemon(rz_rt_t *rt)
{
    const rz_rt_conf_t *cf = rt->conf;
    char err[1024] = "";
    if (!*cf->drop_dir && !cf->tail.n && !*cf->http && !cf->sink) {
        rzc_log(RZC_LOG_ERROR, "nothing to do: set drop_dir, tail, http or "
                               "sink (or give files to import)");
        return 2;
    }
    s_daemon_t d;
    memset(&d, 0, sizeof d);
    d.loop = uv_default_loop();
    rz_pub_t *pub = rz_pub_start(rt);
    if (!pub) {
        rzc_log(RZC_LOG_ERROR, "cannot start the publisher");
        return 1;
    }
    rt->on_spooled = s_kick;
    rt->on_spooled_user = pub;
    rz_sources_t *src = NULL;
    rz_http_t *http = NULL;
    rz_sink_driver_t *sink = NULL;
    int rc = rz_sources_start(&src, rt, d.loop, err, sizeof err);
    if (!rc) {
        rt->on_acked_user = src;
        rt->on_acked = rz_sources_acked;
    }
    if (!rc && *cf->http)
        rc = rz_http_start(&http, rt, cf->http, err, sizeof err);
    if (!rc && cf->sink)
        rc = rz_sink_start(&sink, rt, err, sizeof err);
    if (!rc) {
        uv_signal_init(d.loop, &d.sigint);
        uv_signal_init(d.loop, &d.sigterm);
        uv_signal_start(&d.sigint, s_on_signal, SIGINT);
        uv_signal_start(&d.sigterm, s_on_signal, SIGTERM);
        rzc_log(RZC_LOG_INFO, "%s (%s) -> %s%s%s%s%s%s%s%s%s", cf->name,
                rt->mod->name, cf->broker, *cf->drop_dir ? "; drop " : "",
                cf->drop_dir, cf->tail.n ? "; tailing files" : "",
                *cf->http ? "; http " : "", cf->http,
                cf->sink ? "; sink -> " : "", cf->sink ? cf->sink_target : "",
                rt->teryt ? "; TERYT loaded" : "");
        uv_run(d.loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&d.sigint, NULL);
        uv_close((uv_handle_t *)&d.sigterm, NULL);
    } else {
        rzc_log(RZC_LOG_ERROR, "%s", err);
    }
    /* no more input, then drain what is in flight, then the handles */
    rz_http_stop(&http);
    rz_sink_stop(&sink);
    rz_pub_stop(&pub, S_STOP_MS);
    rt->on_acked = NULL;
    rt->on_spooled = NULL;
    rz_sources_close(src);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    return rc ? 1 : 0;
}

/* ===========================================================================
 * One-shot import and dry run
 */

typedef struct s_file {
    char path[PATH_MAX];
    rz_file_state_t st;
    int ok;
    uint64_t n[4]; /* its events by enum rz_pub_outcome */
} s_file_t;

/* Outcomes as the publisher commits them, attributed to the files once
 * the imports are done (an outcome can come before its file's import
 * returns and says which seqs are its). */
typedef struct s_outcomes {
    pthread_mutex_t mu;
    struct s_outcome {
        uint64_t seq;
        int what;
    } *v;
    size_t n, cap;
    int lost; /* out of memory: the counts are incomplete */
} s_outcomes_t;

static void s_on_outcome(uint64_t seq, int what, void *user)
{
    s_outcomes_t *o = user;
    pthread_mutex_lock(&o->mu);
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        struct s_outcome *nv = realloc(o->v, cap * sizeof *nv);
        if (!nv) {
            o->lost = 1;
            pthread_mutex_unlock(&o->mu);
            return;
        }
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->n++] = (struct s_outcome){seq, what};
    pthread_mutex_unlock(&o->mu);
}

/* Count each outcome for the file whose events it belongs to. */
static void s_attribute(s_outcomes_t *o, s_file_t *files, int n)
{
    pthread_mutex_lock(&o->mu);
    for (size_t k = 0; k < o->n; k++)
        for (int i = 0; i < n; i++)
            if (files[i].ok && files[i].st.first_seq &&
                o->v[k].seq >= files[i].st.first_seq &&
                o->v[k].seq <= files[i].st.last_seq) {
                files[i].n[o->v[k].what]++;
                break;
            }
    pthread_mutex_unlock(&o->mu);
}

/* Wait until pending() is 0, or the broker made no progress for wait_ms.
 * Returns 0 or RZ_ETIMEDOUT. */
static int s_wait_acked(rz_rt_t *rt, rz_pub_t *pub, s_file_t *files, int n)
{
    int64_t last_progress = rz_now_us();
    uint64_t last_acks = 0, last_depth = UINT64_MAX;
    for (;;) {
        int pending = 0;
        /* a failed file's complete records too: a file cut short */
        for (int i = 0; i < n; i++) {
            if (!files[i].st.first_seq)
                continue;
            int e = rz_outbox_range_empty(rt->store, files[i].st.first_seq,
                                          files[i].st.last_seq);
            pending += e != 1;
        }
        if (!pending)
            return 0;
        rz_acounts_t c;
        rz_astore_counts(rt->store, &c);
        uint64_t acks = rz_pub_acks(pub);
        if (acks != last_acks || c.depth != last_depth) {
            last_acks = acks;
            last_depth = c.depth;
            last_progress = rz_now_us();
        }
        if (rz_now_us() - last_progress > (int64_t)rt->conf->wait_ms * 1000)
            return RZ_ETIMEDOUT;
        s_sleep_ms(20);
    }
}

static int s_run_files(rz_rt_t *rt, char **args, int n)
{
    s_file_t *files = calloc((size_t)(n ? n : 1), sizeof *files);
    if (!files)
        return 1;
    int failures = 0;
    uint64_t quarantined = 0, conflicts = 0;
    rz_pub_t *pub = NULL;
    s_outcomes_t oc = {.n = 0};
    pthread_mutex_init(&oc.mu, NULL);
    /* an import runs no sink: its reports must not say one is starting */
    pthread_mutex_lock(&rt->status_lock);
    rt->sink_status[0] = '\0';
    pthread_mutex_unlock(&rt->status_lock);
    if (!rt->dry_run) {
        rt->on_outcome = s_on_outcome;
        rt->on_outcome_user = &oc;
        if (!(pub = rz_pub_start(rt))) {
            rt->on_outcome = NULL;
            pthread_mutex_destroy(&oc.mu);
            free(files);
            return 1;
        }
        rt->on_spooled = s_kick;
        rt->on_spooled_user = pub;
    }
    for (int i = 0; i < n; i++) {
        char err[1024];
        int bad;
        /* one name per file whatever the working directory: the key of
         * its progress */
        if (!realpath(args[i], files[i].path)) {
            rzc_log(RZC_LOG_ERROR, "%s: %s", args[i], strerror(errno));
            failures++;
            continue;
        }
        int rc = rz_file_import(rt, files[i].path, 0, &files[i].st, &bad, err,
                                sizeof err);
        if (rc < 0) {
            rzc_log(RZC_LOG_ERROR, "%s: %s", args[i], err);
            failures++;
            continue;
        }
        files[i].ok = 1;
        quarantined += files[i].st.quarantined;
    }
    int timed_out = 0;
    if (pub) {
        timed_out = s_wait_acked(rt, pub, files, n) != 0;
        rz_pub_stop(&pub, S_STOP_MS);
        rt->on_spooled = NULL;
        rt->on_outcome = NULL;
        s_attribute(&oc, files, n);
    }
    /* The report of the import: what the command prints as its result,
     * on stderr as always (stdout is the dry run's events), whatever the
     * log level. */
    for (int i = 0; i < n; i++) {
        if (!files[i].ok)
            continue;
        const rz_file_state_t *st = &files[i].st;
        int acked = rt->dry_run || !st->first_seq ||
                    rz_outbox_range_empty(rt->store, st->first_seq,
                                          st->last_seq) == 1;
        if (rt->dry_run) {
            fprintf(stderr,
                    "ratusz-adapter: %s: %llu records: %llu events mapped, "
                    "%llu quarantined\n",
                    args[i], (unsigned long long)st->records,
                    (unsigned long long)st->events,
                    (unsigned long long)st->quarantined);
            continue;
        }
        /* each event once: published (new on the bus), a duplicate (the
         * broker had it), a conflict (it had other content under its id),
         * quarantined (by the module, or refused by the broker) */
        const uint64_t *k = files[i].n;
        uint64_t seen = k[RZ_PUB_PUBLISHED] + k[RZ_PUB_DUPLICATE] +
                        k[RZ_PUB_CONFLICT] + k[RZ_PUB_REFUSED];
        uint64_t rest = st->events > seen ? st->events - seen : 0;
        uint64_t q = st->quarantined + k[RZ_PUB_REFUSED];
        char tail[96] = "";
        if (rest)
            snprintf(tail, sizeof tail, ", %llu %s", (unsigned long long)rest,
                     acked ? "acked by an earlier run"
                           : "waiting in the outbox");
        fprintf(stderr,
                "ratusz-adapter: %s: %llu records: %llu published, %llu "
                "duplicates, %llu conflicts, %llu quarantined%s\n",
                args[i], (unsigned long long)st->records,
                (unsigned long long)k[RZ_PUB_PUBLISHED],
                (unsigned long long)k[RZ_PUB_DUPLICATE],
                (unsigned long long)k[RZ_PUB_CONFLICT], (unsigned long long)q,
                tail);
        quarantined += k[RZ_PUB_REFUSED];
        conflicts += k[RZ_PUB_CONFLICT];
        /* done with it: importing it again reads it again (and the broker
         * recognises every event by its id) */
        if (acked && !rt->dry_run)
            rz_file_forget(rt, files[i].path, 0, 0);
    }
    if (timed_out)
        fprintf(stderr,
                "ratusz-adapter: the broker at %s took nothing for %llu ms; "
                "the rest stays in the outbox (%s) and goes out with the "
                "next run\n",
                rt->conf->broker, (unsigned long long)rt->conf->wait_ms,
                rt->conf->data_dir);
    if (conflicts)
        fprintf(stderr,
                "ratusz-adapter: %llu event(s) in conflict: the broker has "
                "their source and id with different content; they are "
                "quarantined, not published\n",
                (unsigned long long)conflicts);
    if ((quarantined || conflicts) && !rt->dry_run)
        fprintf(stderr,
                "ratusz-adapter: %llu record(s) quarantined: see "
                "`ratusz-adapter -c %s quarantine list`\n",
                (unsigned long long)(quarantined + conflicts),
                rt->conf_file ? rt->conf_file : "FILE");
    if (oc.lost)
        rzc_log(RZC_LOG_ERROR, "out of memory: the counts above are "
                               "incomplete (the store's are right)");
    free(oc.v);
    pthread_mutex_destroy(&oc.mu);
    free(files);
    return failures || timed_out || quarantined || conflicts ? 1 : 0;
}

/* ===========================================================================
 * Quarantine
 */

/* When a record was quarantined, to the second: the list's column */
static void s_when(int64_t us, char *buf, size_t len)
{
    rzc_rfc3339_format(us - us % 1000000, buf, len);
}

static int s_list_one(const rz_qrec_t *r, void *user)
{
    char when[32];
    s_when(r->time, when, sizeof when);
    int *n = user;
    if ((*n)++ == 0)
        printf("%-6s %-20s %-8s %s\n", "ID", "QUARANTINED", "MODULE",
               "WHERE / KEY / REASON");
    printf("%-6llu %-20s %-8s %s:%llu [%s] %s\n", (unsigned long long)r->id,
           when, r->module, r->origin, (unsigned long long)r->line, r->key,
           r->reason);
    return 0;
}

static int s_printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
            return 0;
    return 1;
}

static int s_show(rz_rt_t *rt, uint64_t id)
{
    int rc;
    rz_qrec_t *r = rz_quarantine_get(rt->store, id, &rc);
    if (!r) {
        rzc_log(RZC_LOG_ERROR, "quarantine %llu: %s", (unsigned long long)id,
                rz_strerror(rc));
        return 1;
    }
    char when[32];
    s_when(r->time, when, sizeof when);
    printf("id:           %llu\n", (unsigned long long)r->id);
    printf("quarantined:  %s\n", when);
    printf("module:       %s\n", r->module);
    printf("kind:         %s\n", r->kind == RZ_QKIND_EVENT
                                     ? "event refused by the broker"
                                     : "record");
    printf("origin:       %s\n", r->origin);
    printf("name:         %s\n", r->name);
    printf("line:         %llu\n", (unsigned long long)r->line);
    printf("key:          %s\n", r->key);
    printf("reason:       %s\n", r->reason);
    if (*r->content_type)
        printf("content type: %s\n", r->content_type);
    printf("content id:   %s\n", r->content_id);
    /* a record that is its whole input is kept once, as the input */
    rz_kept_t *k = r->whole ? rz_kept_get(rt->store, r->input, &rc) : NULL;
    const uint8_t *bytes = k ? k->data : r->bytes;
    size_t len = k ? k->len : r->len;
    printf("bytes:        %zu%s\n", len, k ? " (the whole input)" : "");
    if (s_printable(bytes, len)) {
        fwrite(bytes, 1, len, stdout);
        if (len && bytes[len - 1] != '\n')
            putchar('\n');
    } else {
        for (size_t i = 0; i < len; i += 16) {
            printf("%08zx ", i);
            for (size_t j = i; j < i + 16; j++)
                j < len ? printf(" %02x", bytes[j]) : printf("   ");
            printf("  ");
            for (size_t j = i; j < i + 16 && j < len; j++)
                putchar(bytes[j] >= 0x20 && bytes[j] < 0x7f ? bytes[j] : '.');
            putchar('\n');
        }
    }
    free(k);
    free(r);
    return 0;
}

static int s_parse_id(const char *s, uint64_t *id)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || s[0] == '-')
        return -1;
    *id = v;
    return 0;
}

static int s_quarantine(rz_rt_t *rt, char **args, int n, int all)
{
    const char *cmd = n > 1 ? args[1] : "list";
    uint64_t id = 0;
    if (!strcmp(cmd, "list") && n <= 2) {
        int count = 0;
        int rc = rz_quarantine_list(rt->store, 0, 0, s_list_one, &count);
        if (rc < 0) {
            rzc_log(RZC_LOG_ERROR, "quarantine: %s", rz_strerror(rc));
            return 1;
        }
        if (!count)
            printf("no quarantined records\n");
        return 0;
    }
    if (!strcmp(cmd, "show") && n == 3 && !s_parse_id(args[2], &id))
        return s_show(rt, id);
    if (!strcmp(cmd, "retry") &&
        ((n == 3 && !all && !s_parse_id(args[2], &id)) || (n == 2 && all))) {
        rz_retry_sum_t sum;
        int rc = rz_quarantine_retry(rt, id, stdout, &sum);
        if (rc < 0) {
            rzc_log(RZC_LOG_ERROR, "quarantine retry: %s", rz_strerror(rc));
            return 1;
        }
        rz_acounts_t c = {0};
        if (sum.ok) {
            /* publish what went through, as a one-shot import would */
            rz_pub_t *pub = rz_pub_start(rt);
            int64_t last = rz_now_us();
            uint64_t last_depth = UINT64_MAX;
            while (pub) {
                rz_astore_counts(rt->store, &c);
                if (c.depth == 0)
                    break;
                if (c.depth != last_depth) {
                    last_depth = c.depth;
                    last = rz_now_us();
                }
                if (rz_now_us() - last > (int64_t)rt->conf->wait_ms * 1000)
                    break;
                s_sleep_ms(20);
            }
            rz_pub_stop(&pub, S_STOP_MS);
            if (c.depth)
                printf("%llu event(s) wait in the outbox for the broker\n",
                       (unsigned long long)c.depth);
        }
        /* done only when nothing is left: `retry ID` that record, `retry
         * --all` the whole quarantine (the broker may have refused an
         * event just retried, which puts it back) */
        if (id)
            return sum.left || !sum.ok;
        rz_astore_counts(rt->store, &c);
        if (c.quarantined)
            printf("%llu record(s) still quarantined\n",
                   (unsigned long long)c.quarantined);
        return c.quarantined ? 1 : 0;
    }
    fprintf(stderr, "usage: ratusz-adapter -c FILE quarantine list|show "
                    "ID|retry ID|retry --all\n");
    return 2;
}

/* ===========================================================================
 * Tokens
 */

/* Read a bearer token from stdin (one trailing newline is dropped, so echo
 * works too) and print the "sha256:<hex>" that http_tokens wants. */
static int s_hash_token(void)
{
    char buf[4097];
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    if (n == sizeof buf - 1) {
        rzc_log(RZC_LOG_ERROR, "--hash-token: a token is at most 4096 bytes");
        return 2;
    }
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    if (!n) {
        rzc_log(RZC_LOG_ERROR, "--hash-token: no token on stdin (printf %%s "
                               "TOKEN | ratusz-adapter --hash-token)");
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f) {
            rzc_log(RZC_LOG_ERROR,
                    "--hash-token: a bearer token is one word of visible "
                    "ASCII (byte %zu is not)",
                    i);
            return 2;
        }
    if (n < 16)
        rzc_log(RZC_LOG_WARN, "--hash-token: warning: %zu characters is short "
                              "for a token (e.g. `openssl rand -base64 32`)",
                n);
    char hex[65];
    rz_sha256_hex(buf, n, hex);
    explicit_bzero(buf, sizeof buf);
    printf("sha256:%s\n", hex);
    return 0;
}

/* ===========================================================================
 * main
 */

int main(int argc, char **argv)
{
    int dry = 0, all = 0, list = 0, n = 1;
    const char *conf_file = NULL;
    rzc_log_init("ratusz-adapter", RZC_LOG_PLAIN);
    /* our own switches, which are not options of the table */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--list-modules"))
            list = 1;
        else if (!strcmp(argv[i], "--hash-token"))
            return s_hash_token();
        else if (!strcmp(argv[i], "--version")) {
            printf("ratusz-adapter %s\n", RZ_VERSION);
            return 0;
        } else {
            if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
                i + 1 < argc)
                conf_file = argv[i + 1];
            else if (!strncmp(argv[i], "--config=", 9))
                conf_file = argv[i] + 9;
            argv[n++] = argv[i];
        }
    }
    argc = n;
    const rz_adapter_module_t *const *mods = rz_rt_modules();
    if (list) {
        for (size_t i = 0; mods[i]; i++)
            printf("%-12s %s\n", mods[i]->name, mods[i]->description);
        return 0;
    }
    rz_conf_option_t *opts = rz_rt_conf_options(mods);
    rz_rt_conf_t conf;
    memset(&conf, 0, sizeof conf);
    rz_keyopts_t keys;
    memset(&keys, 0, sizeof keys);
    if (!opts || rz_conf_init(opts, &conf)) {
        rzc_log(RZC_LOG_ERROR, "out of memory");
        return 1;
    }
    char err[1024] = "";
    int first = argc, what = 0, status = 2;
    int rc = rz_conf_args(opts, &conf, argc, argv, &first, &what, err,
                          sizeof err);
    if (rc < 0) {
        rzc_log(RZC_LOG_ERROR, "%s", err);
        goto out;
    }
    if (what == 'h') {
        s_usage(stdout, opts);
        status = 0;
        goto out;
    }
    char **args = argv + first;
    int nargs = argc - first;
    int quarantine = nargs > 0 && !strcmp(args[0], "quarantine");
    if (dry && (quarantine || nargs == 0)) {
        rzc_log(RZC_LOG_ERROR, "--dry-run needs FILEs");
        goto out;
    }
    if ((rc = rz_rt_conf_finish(&conf, mods, conf_file, !dry, err,
                                sizeof err))) {
        rzc_log(RZC_LOG_ERROR, "%s", err);
        goto out;
    }
    rzc_log_set_level(conf.log_level);
    if (what == 'p') {
        rz_conf_print(opts, &conf, "ratusz-adapter", stdout);
        status = 0;
        goto out;
    }
    const rz_adapter_module_t *mod = NULL;
    size_t self = 0;
    for (; mods[self]; self++)
        if (!strcmp(mods[self]->name, conf.system)) {
            mod = mods[self];
            break;
        }
    /* a dry run talks to no broker: it needs no keys */
    if (!dry && (rc = rz_keyopts_load(&keys, conf.key, conf.server_key, err,
                                      sizeof err))) {
        rzc_log(RZC_LOG_ERROR, "%s%s%s", conf_file ? conf_file : "",
                conf_file ? ": " : "", err);
        goto out;
    }
    rz_rt_t rt;
    if ((rc = rz_rt_open(&rt, &conf, conf_file, mod, &conf.sections[self], dry,
                         err, sizeof err))) {
        rzc_log(RZC_LOG_ERROR, "%s", err[0] ? err : rz_strerror(rc));
        rz_rt_close(&rt);
        goto out;
    }
    rt.keys = &keys;
    if (quarantine)
        status = s_quarantine(&rt, args, nargs, all);
    else if (nargs > 0)
        status = s_run_files(&rt, args, nargs);
    else
        status = s_run_daemon(&rt);
    rz_rt_close(&rt);
out:
    rz_keyopts_close(&keys);
    rz_conf_close(opts, &conf);
    free(opts);
    return status;
}
