/* ratusz.c - the ratusz command line: publish to, read from and watch a
 * Ratusz broker.
 *
 *   ratusz [-e EP] [-s EP] [-t MS] COMMAND [OPTIONS] [ARGS]
 *
 * Events go in and come out as CloudEvents JSON, one object per line, so
 * the output of one command (or of jq) is the input of another:
 *
 *   ratusz replay --from 1 --topic 1061011.budget | jq -c 'select(...)' |
 *       ratusz -e tcp://other:7600 pub
 *
 * Exit status: 0 ok, 1 the operation failed (broker unreachable, not
 * found, an event rejected), 2 the command line was wrong.
 *
 * Only the public API of libratusz (ratusz/ratusz.h) is used: the CLI is
 * also its first user and an example of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ratusz/ratusz.h"
#include "table.h"

#define S_EXIT_OK 0
#define S_EXIT_FAIL 1
#define S_EXIT_USAGE 2

/* An input line longer than this is reported and skipped, so one runaway
 * line cannot eat the machine's memory (events are at most 16 MiB, which is
 * about 22 MiB as base64 JSON). */
#define S_LINE_MAX (64u << 20)

/* Request timeout without -t, as the library's own default. */
#define S_TIMEOUT_MS 10000

/* A "SILENT" source in stats: nothing for this long. */
#define S_SILENT_US (15 * 60 * 1000000LL)

/* ==========================================================================
 * Global options, errors, signals
 */

static struct {
    const char *endpoint;
    const char *stream;
    int timeout_ms; /* -1: the client's default */
} s_opt = {NULL, NULL, -1};

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* The first Ctrl-C asks the command to stop cleanly (flush, print the
 * summary); SA_RESETHAND makes a second one kill it the usual way. No
 * SA_RESTART: a blocking poll must return so the loop sees s_stop. */
static void s_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int s_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "ratusz: get: unexpected argument 'x'" and a pointer to --help. */
static int s_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ratusz: %s%s", cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'ratusz %s%s--help'.\n", cmd ? cmd : "",
            cmd ? " " : "");
    return S_EXIT_USAGE;
}

static int s_bad_number(const char *cmd, const char *opt, const char *arg)
{
    return s_usage_error(cmd, "%s: not a positive number: '%s'", opt, arg);
}

static int s_bad_seq(const char *cmd, const char *opt, const char *arg)
{
    return s_usage_error(cmd, "%s: not a seq: '%s'", opt, arg);
}

/* "ratusz: get: not found (RZ_ENOTFOUND)". */
static int s_fail(const char *cmd, int code)
{
    fprintf(stderr, "ratusz: %s: %s (%s)\n", cmd, rz_strerror(code),
            rz_err_name(code));
    return S_EXIT_FAIL;
}

/* Strict unsigned decimal: no sign, no blanks, no trailing junk. */
static int s_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static int s_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (s_parse_u64(s, &v) || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A time for --since/--until/--time: unix microseconds, or RFC 3339.
 * RFC 3339 is read by rz_event_from_json (through a minimal event), so the
 * CLI accepts exactly the times events do and reports them the same way. */
static int s_parse_time(const char *s, int64_t *out, char *err, size_t len)
{
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno) {
            snprintf(err, len, "'%s' out of range", s);
            return -1;
        }
        *out = v;
        return 0;
    }
    json_t *probe = json_pack("{s:s, s:s, s:s, s:s}", "id", "-", "source",
                              "-", "type", "-", "time", s);
    char *text = probe ? json_dumps(probe, JSON_COMPACT) : NULL;
    json_decref(probe);
    if (!text) {
        snprintf(err, len, "'%s': not UTF-8 text", s);
        return -1;
    }
    Ratusz__V1__Event *ev = NULL;
    int rc = rz_event_from_json(text, strlen(text), &ev, NULL, 0);
    free(text);
    if (rc) {
        snprintf(err, len, "not RFC 3339 or unix microseconds: '%s'", s);
        return -1;
    }
    *out = ev->time;
    rz_event_free(ev);
    return 0;
}

static bool s_color(void)
{
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

/* ==========================================================================
 * Option tables: every command takes the global options too, so they work
 * before or after the command name.
 */

enum {
    S_OPT_HELP = 'h',
    S_OPT_ENDPOINT = 'e',
    S_OPT_STREAM = 's',
    S_OPT_TIMEOUT = 't',
    /* long-only options */
    S_OPT_ID = 256,
    S_OPT_SOURCE,
    S_OPT_TYPE,
    S_OPT_SUBJECT,
    S_OPT_TENANT,
    S_OPT_TIME,
    S_OPT_DATA,
    S_OPT_CONTENT_TYPE,
    S_OPT_DATASCHEMA,
    S_OPT_WINDOW,
    S_OPT_BATCH,
    S_OPT_ACK_LOG,
    S_OPT_COUNT,
    S_OPT_TOPIC,
    S_OPT_SINCE,
    S_OPT_UNTIL,
    S_OPT_LIMIT,
    S_OPT_ALL,
    S_OPT_AFTER,
    S_OPT_FROM,
    S_OPT_MAX,
    S_OPT_CHUNK,
    S_OPT_COMMIT,
    S_OPT_JSON,
    S_OPT_WATCH,
};

#define S_GLOBAL_LONGOPTS                                                     \
    {"help", no_argument, NULL, S_OPT_HELP},                                  \
    {"endpoint", required_argument, NULL, S_OPT_ENDPOINT},                    \
    {"stream", required_argument, NULL, S_OPT_STREAM},                        \
    {"timeout", required_argument, NULL, S_OPT_TIMEOUT}
/* The leading ':' makes getopt quiet and tell a missing value (':') from
 * an unknown option ('?'); s_bad_option words both. */
#define S_GLOBAL_SHORTOPTS ":he:s:t:"

/* The usage error for what getopt_long could not take. */
static int s_bad_option(const char *cmd, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return s_usage_error(cmd, "option '%s' needs a value", opt);
    if (optopt && optopt < 256 && strncmp(opt, "--", 2) != 0)
        return s_usage_error(cmd, "unknown option '-%c'", optopt);
    return s_usage_error(cmd, "unknown option '%s'", opt);
}

/* Handle a global option or a bad one: 1 if c was a global option, 0 if
 * it is the command's, S_EXIT_USAGE (reported) if it was wrong. Commands
 * call it from their default case. */
static int s_global_opt(const char *cmd, int c, const char *arg, char **argv)
{
    uint32_t ms;
    switch (c) {
    case S_OPT_ENDPOINT: s_opt.endpoint = arg; return 1;
    case S_OPT_STREAM: s_opt.stream = arg; return 1;
    case ':':
    case '?': return s_bad_option(cmd, c, argv);
    case S_OPT_TIMEOUT:
        if (s_parse_u32(arg, &ms) || ms == 0 || ms > INT32_MAX) {
            return s_usage_error(
                cmd, "--timeout: not a number of milliseconds: '%s'", arg);
        }
        s_opt.timeout_ms = (int)ms;
        return 1;
    default: return 0;
    }
}

static const char s_global_help[] =
    "Global options (before or after the command):\n"
    "  -e, --endpoint EP   broker front endpoint (default $RATUSZ_ENDPOINT or\n"
    "                      " RZ_DEFAULT_FRONT ")\n"
    "  -s, --stream EP     broker stream endpoint, for sub (default\n"
    "                      $RATUSZ_STREAM or " RZ_DEFAULT_STREAM ")\n"
    "  -t, --timeout MS    request timeout in milliseconds (default 10000)\n"
    "  -h, --help          this help\n";

static void s_help(const char *text)
{
    fputs(text, stdout);
    fputc('\n', stdout);
    fputs(s_global_help, stdout);
}

static rz_client_t *s_connect(const char *cmd, rz_client_opts_t *opts)
{
    /* the defaults documented in ratusz.h, for what the options left 0 */
    rz_client_opts_t o = {0};
    if (opts)
        o = *opts;
    if (!o.window)
        o.window = 1024;
    if (!o.batch)
        o.batch = 64;
    o.timeout_ms = s_opt.timeout_ms > 0 ? s_opt.timeout_ms : S_TIMEOUT_MS;
    rz_client_t *c = rz_client_new(s_opt.endpoint, &o);
    if (!c)
        fprintf(stderr, "ratusz: %s: cannot connect to %s: %s\n", cmd,
                s_opt.endpoint, strerror(errno));
    return c;
}

/* ==========================================================================
 * Printing events
 */

typedef struct s_printer {
    uint64_t count;
    uint64_t max;      /* stop after this many; 0 = no limit */
    uint64_t last_seq; /* of the last event printed */
    int error;         /* ENOMEM while rendering */
} s_printer_t;

/* rz_event_cb: one CloudEvents JSON line on stdout. */
static int s_print_event(const rz_event_t *e, void *user)
{
    s_printer_t *p = user;
    char *json = rz_event_to_json(e->msg);
    if (!json) {
        p->error = RZ_ENOMEM;
        return 1;
    }
    fputs(json, stdout);
    fputc('\n', stdout);
    free(json);
    p->count++;
    p->last_seq = e->msg->seq;
    if (p->max && p->count >= p->max)
        return 1;
    return s_stop ? 1 : 0;
}

/* ==========================================================================
 * pub
 */

static const char s_pub_help[] =
    "Usage: ratusz pub --id ID --source URI --type TYPE [OPTIONS]\n"
    "       ratusz pub [OPTIONS] < events.ndjson\n"
    "\n"
    "Publish one event made from options, or, without --id, every\n"
    "CloudEvents JSON object on standard input (one per line). Events are\n"
    "pipelined: up to --window are in flight at once. A line that cannot be\n"
    "read or is rejected is reported as stdin:LINE and the rest go on; the\n"
    "exit status is then 1. At the end a summary goes to stderr:\n"
    "\"published N, duplicates D, failed F, X events/s\", where N counts\n"
    "every event the broker acked and D those of them it already had (same\n"
    "source and id: not stored again).\n"
    "\n"
    "One event:\n"
    "  --id ID             unique per source: the idempotency key\n"
    "  --source URI        who produced it, e.g. /1061011/budget/besti\n"
    "  --type TYPE         e.g. pl.gov.gmina.budget.execution.v1\n"
    "  --subject S         the entity it is about\n"
    "  --tenant TERC       TERYT TERC code, e.g. 1061011\n"
    "  --time T            RFC 3339 or unix microseconds (default: now)\n"
    "  --data DATA         JSON; text when --content-type is not JSON\n"
    "  --content-type CT   media type of --data (default application/json)\n"
    "  --dataschema NAME   domain message of --data, e.g.\n"
    "                      ratusz.v1.BudgetEntry (default: from the type)\n"
    "  The assigned seq is printed on stdout.\n"
    "\n"
    "Both:\n"
    "  --window N          events in flight before waiting (default 1024)\n"
    "  --batch N           events per request (default 64)\n"
    "  --ack-log FILE      append \"ID SEQ\" for every acked event\n";

/* One event in flight; the ack callback gets it back as its arg and frees
 * it. Kept on a list so that events never acked are freed too. */
typedef struct s_flight {
    struct s_flight *prev, *next;
    size_t line;
    char id[];
} s_flight_t;

typedef struct s_pub {
    const char *where; /* "stdin" or NULL for one event from options */
    FILE *ack_log;
    s_flight_t *flights;
    uint64_t published, duplicates, failed;
    uint64_t single_seq;
} s_pub_t;

static s_flight_t *s_flight_new(s_pub_t *p, const char *id, size_t line)
{
    size_t n = strlen(id);
    s_flight_t *f = malloc(sizeof *f + n + 1);
    if (!f)
        return NULL;
    memcpy(f->id, id, n + 1);
    f->line = line;
    f->prev = NULL;
    f->next = p->flights;
    if (p->flights)
        p->flights->prev = f;
    p->flights = f;
    return f;
}

static void s_flight_free(s_pub_t *p, s_flight_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        p->flights = f->next;
    if (f->next)
        f->next->prev = f->prev;
    free(f);
}

/* "stdin:12: " or "pub: " before a message about one event. */
static void s_pub_where(const s_pub_t *p, size_t line)
{
    if (p->where)
        fprintf(stderr, "%s:%zu: ", p->where, line);
    else
        fputs("ratusz: pub: ", stderr);
}

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_pub_t *p = user;
    s_flight_t *f = a->arg;
    if (a->code) {
        p->failed++;
        s_pub_where(p, f->line);
        fprintf(stderr, "id '%s': %s (%s)\n", f->id,
                a->reason && *a->reason ? a->reason : rz_strerror(a->code),
                rz_err_name(a->code));
    } else {
        p->published++;
        p->duplicates += a->duplicate ? 1 : 0;
        p->single_seq = a->seq;
        if (p->ack_log)
            fprintf(p->ack_log, "%s %" PRIu64 "\n", f->id, a->seq);
    }
    s_flight_free(p, f);
}

/* Check and send one event. Returns 0 when it is on its way (its outcome
 * then comes to s_on_ack), 1 when it was rejected here (reported, counted),
 * or a negative code when publishing cannot go on. */
static int s_pub_one(rz_client_t *c, s_pub_t *p, Ratusz__V1__Event *ev,
                     size_t line)
{
    char why[256];
    if (rz_event_check(ev, why, sizeof why)) {
        s_pub_where(p, line);
        fprintf(stderr, "%s\n", why);
        p->failed++;
        return 1;
    }
    s_flight_t *f = s_flight_new(p, ev->id, line);
    if (!f)
        return RZ_ENOMEM;
    int rc = rz_publish(c, ev, f);
    if (rc == 0)
        return 0;
    /* a failed rz_publish never calls the callback: the arg is ours */
    s_flight_free(p, f);
    bool fatal = rc != RZ_EINVALEVENT && rc != RZ_ETOOBIG;
    s_pub_where(p, line);
    fprintf(stderr, "%s%s (%s)\n", fatal ? "not sent, stopping: " : "",
            rz_strerror(rc), rz_err_name(rc));
    p->failed++;
    return fatal ? rc : 1;
}

/* Lines from a file descriptor, without stdio, so the caller can tell
 * "no complete line yet" from "end of input" and do other work (send a
 * half-full batch, take acks) while the producer is quiet. */
typedef struct s_lines {
    int fd;
    char *buf;
    size_t start, len, cap; /* the unread bytes are buf[start..len) */
    bool eof, skipping;
} s_lines_t;

/* Returns 1 and the next line (without '\n', NUL-terminated in place), 0
 * at the end, RZ_EAGAIN when no line came within timeout_ms, RZ_ETOOBIG
 * once for a line over S_LINE_MAX (skipped), or a negative -errno. */
static int s_lines_next(s_lines_t *r, int timeout_ms, char **line,
                        size_t *len)
{
    for (;;) {
        char *nl = r->len > r->start
                       ? memchr(r->buf + r->start, '\n', r->len - r->start)
                       : NULL;
        if (nl && r->skipping) {
            r->start = (size_t)(nl - r->buf) + 1;
            r->skipping = false;
            return RZ_ETOOBIG;
        }
        if (nl || (r->eof && r->len > r->start && !r->skipping)) {
            char *end = nl ? nl : r->buf + r->len;
            *line = r->buf + r->start;
            *len = (size_t)(end - *line);
            *end = '\0';
            r->start = nl ? (size_t)(nl - r->buf) + 1 : r->len;
            return 1;
        }
        if (r->eof)
            return r->skipping ? (r->skipping = false, RZ_ETOOBIG) : 0;
        if (r->skipping || r->len - r->start > S_LINE_MAX) {
            r->skipping = true;
            r->start = r->len = 0;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->len - r->start);
            r->len -= r->start;
            r->start = 0;
        }
        if (r->cap - r->len < 65536 + 1) {
            size_t cap = r->cap ? r->cap * 2 : 1 << 20;
            char *b = realloc(r->buf, cap);
            if (!b)
                return RZ_ENOMEM;
            r->buf = b;
            r->cap = cap;
        }
        struct pollfd pfd = {r->fd, POLLIN, 0};
        int n = poll(&pfd, 1, timeout_ms);
        if (n == 0)
            return RZ_EAGAIN;
        if (n < 0)
            return -errno;
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
        if (got < 0)
            return -errno;
        if (got == 0)
            r->eof = true;
        r->len += (size_t)got;
    }
}

static bool s_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Read NDJSON events from stdin and publish them. Returns 0, or a negative
 * code when publishing had to stop early. */
static int s_pub_stdin(rz_client_t *c, s_pub_t *p)
{
    s_lines_t r = {.fd = STDIN_FILENO};
    size_t lineno = 0;
    int rc = 0;
    while (!s_stop) {
        char *line = NULL;
        size_t len = 0;
        /* with events pending, wake up now and then to send a half-full
         * batch and take acks while the producer is quiet */
        int wait = rz_inflight(c) ? 50 : -1;
        rc = s_lines_next(&r, wait, &line, &len);
        if (rc == RZ_EAGAIN) {
            rc = rz_pump(c, 0);
            if (rc < 0 && rc != RZ_ETIMEDOUT) {
                if (!s_stop)
                    fprintf(stderr, "ratusz: pub: stopped: %s (%s)\n",
                            rz_strerror(rc), rz_err_name(rc));
                break;
            }
            /* a quiet producer is when someone may be watching the log */
            if (p->ack_log)
                fflush(p->ack_log);
            rc = 0;
            continue;
        }
        if (rc == -EINTR) {
            rc = 0;
            continue;
        }
        if (rc == RZ_ETOOBIG) {
            fprintf(stderr, "stdin:%zu: line longer than %u MiB\n", ++lineno,
                    S_LINE_MAX >> 20);
            p->failed++;
            rc = 0;
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "ratusz: pub: reading stdin: %s\n",
                    rz_strerror(rc));
            break;
        }
        if (rc == 0)
            break;
        lineno++;
        if (s_blank(line, len))
            continue;
        char err[256];
        Ratusz__V1__Event *ev = NULL;
        if (rz_event_from_json(line, len, &ev, err, sizeof err)) {
            fprintf(stderr, "stdin:%zu: %s\n", lineno, err);
            p->failed++;
            continue;
        }
        rc = s_pub_one(c, p, ev, lineno);
        rz_event_free(ev);
        if (rc < 0)
            break;
        rc = 0;
    }
    free(r.buf);
    return rc < 0 ? rc : 0;
}

/* The attributes pub takes as options, by index into s_attr_names. */
enum { S_A_ID, S_A_SOURCE, S_A_TYPE, S_A_SUBJECT, S_A_TENANT, S_A_TIME,
       S_A_SCHEMA, S_A_N };
static const char *const s_attr_names[S_A_N] = {
    "id", "source", "type", "subject", "tenant", "time", "dataschema"};

/* Build the one event of --id ... from the options, through the same JSON
 * reader as stdin lines, so both accept and reject the same things. */
static int s_pub_build(const char *const *attr, const char *data,
                       const char *content_type, Ratusz__V1__Event **out)
{
    const char *const *names = s_attr_names;
    int rc = S_EXIT_USAGE;
    char *text = NULL;
    json_t *obj = json_object();
    if (!obj)
        goto fail;
    json_object_set_new(obj, "specversion", json_string("1.0"));
    for (size_t i = 0; i < S_A_N; i++) {
        if (!attr[i] || i == S_A_TIME)
            continue;
        json_t *v = json_string(attr[i]);
        if (!v) {
            s_usage_error("pub", "--%s: not UTF-8 text", names[i]);
            goto fail;
        }
        json_object_set_new(obj, names[i], v);
    }
    /* the reader takes unix µs as a JSON integer (what it writes for years
     * RFC 3339 cannot hold), which saves the CLI a time formatter */
    int64_t us = rz_now_us();
    char why[160];
    if (attr[S_A_TIME] && s_parse_time(attr[S_A_TIME], &us, why, sizeof why)) {
        s_usage_error("pub", "--time: %s", why);
        goto fail;
    }
    json_object_set_new(obj, "time", json_integer(us));
    if (data) {
        json_t *d;
        bool json_ct = !content_type || strstr(content_type, "json");
        if (json_ct) {
            json_error_t jerr;
            d = json_loads(data, JSON_DECODE_ANY, &jerr);
            if (!d) {
                s_usage_error("pub",
                              "--data is not JSON (%s); give --content-type "
                              "for text",
                              jerr.text);
                goto fail;
            }
        } else {
            d = json_string(data);
            if (!d) {
                s_usage_error("pub", "--data: not UTF-8 text");
                goto fail;
            }
        }
        json_object_set_new(obj, "data", d);
    }
    if (content_type)
        json_object_set_new(obj, "datacontenttype", json_string(content_type));
    text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        goto fail;
    char err[256];
    if (rz_event_from_json(text, strlen(text), out, err, sizeof err)) {
        s_usage_error("pub", "%s", err);
        goto fail;
    }
    rc = 0;
fail:
    free(text);
    json_decref(obj);
    return rc;
}

static int s_cmd_pub(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"id", required_argument, NULL, S_OPT_ID},
        {"source", required_argument, NULL, S_OPT_SOURCE},
        {"type", required_argument, NULL, S_OPT_TYPE},
        {"subject", required_argument, NULL, S_OPT_SUBJECT},
        {"tenant", required_argument, NULL, S_OPT_TENANT},
        {"time", required_argument, NULL, S_OPT_TIME},
        {"data", required_argument, NULL, S_OPT_DATA},
        {"content-type", required_argument, NULL, S_OPT_CONTENT_TYPE},
        {"dataschema", required_argument, NULL, S_OPT_DATASCHEMA},
        {"window", required_argument, NULL, S_OPT_WINDOW},
        {"batch", required_argument, NULL, S_OPT_BATCH},
        {"ack-log", required_argument, NULL, S_OPT_ACK_LOG},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *attr[S_A_N] = {NULL};
    const char *data = NULL, *content_type = NULL, *ack_log = NULL;
    rz_client_opts_t opts = {0};
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_pub_help); return S_EXIT_OK;
        case S_OPT_ID: attr[S_A_ID] = optarg; break;
        case S_OPT_SOURCE: attr[S_A_SOURCE] = optarg; break;
        case S_OPT_TYPE: attr[S_A_TYPE] = optarg; break;
        case S_OPT_SUBJECT: attr[S_A_SUBJECT] = optarg; break;
        case S_OPT_TENANT: attr[S_A_TENANT] = optarg; break;
        case S_OPT_TIME: attr[S_A_TIME] = optarg; break;
        case S_OPT_DATASCHEMA: attr[S_A_SCHEMA] = optarg; break;
        case S_OPT_DATA: data = optarg; break;
        case S_OPT_CONTENT_TYPE: content_type = optarg; break;
        case S_OPT_ACK_LOG: ack_log = optarg; break;
        case S_OPT_WINDOW:
            if (s_parse_u32(optarg, &opts.window) || opts.window == 0)
                return s_bad_number("pub", "--window", optarg);
            break;
        case S_OPT_BATCH:
            if (s_parse_u32(optarg, &opts.batch) || opts.batch == 0)
                return s_bad_number("pub", "--batch", optarg);
            break;
        default:
            if ((g = s_global_opt("pub", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("pub", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("pub", "unexpected argument '%s'", argv[optind]);
    bool single = attr[S_A_ID] != NULL;
    if (!single) {
        bool any = data || content_type;
        for (size_t i = 0; i < S_A_N; i++)
            any = any || attr[i];
        if (any)
            return s_usage_error("pub", "event options need --id (without "
                                        "it events come from stdin)");
        if (isatty(STDIN_FILENO))
            fputs("ratusz: pub: reading events from the terminal, one JSON "
                  "object per line (Ctrl-D to end)\n",
                  stderr);
    }

    Ratusz__V1__Event *ev = NULL;
    if (single && (c = s_pub_build(attr, data, content_type, &ev)))
        return c;

    int status = S_EXIT_FAIL;
    s_pub_t p = {.where = single ? NULL : "stdin"};
    rz_client_t *cl = NULL;
    if (ack_log && !(p.ack_log = fopen(ack_log, "a"))) {
        fprintf(stderr, "ratusz: pub: %s: %s\n", ack_log, strerror(errno));
        goto done;
    }
    if (!(cl = s_connect("pub", &opts)))
        goto done;
    rz_client_set_ack_cb(cl, s_on_ack, &p);
    s_install_signals();

    int64_t t0 = rz_now_us();
    int rc = single ? s_pub_one(cl, &p, ev, 0) : s_pub_stdin(cl, &p);
    /* wait for what is in flight even after an error: those events may
     * well be stored, and their acks say so */
    int frc = rz_flush(cl, s_opt.timeout_ms > 0 ? s_opt.timeout_ms
                                                : S_TIMEOUT_MS);
    if (frc < 0) {
        size_t lost = rz_inflight(cl);
        fprintf(stderr, "ratusz: pub: %zu events not acked: %s (%s)\n", lost,
                rz_strerror(frc), rz_err_name(frc));
        p.failed += lost;
    }
    double secs = (double)(rz_now_us() - t0) / 1e6;
    double rate = secs > 0 ? (double)p.published / secs : 0;
    if (single && p.published)
        printf("%" PRIu64 "\n", p.single_seq);
    fprintf(stderr,
            "published %" PRIu64 ", duplicates %" PRIu64 ", failed %" PRIu64
            ", %.*f events/s\n",
            p.published, p.duplicates, p.failed, rate < 100 ? 1 : 0, rate);
    status = p.failed || rc < 0 || frc < 0 ? S_EXIT_FAIL : S_EXIT_OK;
done:
    rz_client_destroy(&cl);
    /* events the broker never answered: the client dropped them */
    while (p.flights)
        s_flight_free(&p, p.flights);
    if (p.ack_log && fclose(p.ack_log)) {
        fprintf(stderr, "ratusz: pub: %s: %s\n", ack_log, strerror(errno));
        status = S_EXIT_FAIL;
    }
    rz_event_free(ev);
    return status;
}

/* ==========================================================================
 * sub
 */

static const char s_sub_help[] =
    "Usage: ratusz sub [PREFIX] [--count N]\n"
    "\n"
    "Print live events whose topic starts with PREFIX (default: all) as\n"
    "CloudEvents JSON lines, until Ctrl-C. Topics are\n"
    "<tenant>.<domain>.<type-suffix>: 1061011 is one gmina, 1061011.env its\n"
    "environment events. Events missed by a slow subscriber are read back\n"
    "from the broker's store and printed in order.\n"
    "\n"
    "  --count N           exit after N events\n"
    "  -t, --timeout MS    also: exit when no event came for MS milliseconds\n";

static int s_cmd_sub(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, S_OPT_COUNT}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    s_printer_t pr = {0};
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_sub_help); return S_EXIT_OK;
        case S_OPT_COUNT:
            if (s_parse_u64(optarg, &pr.max) || pr.max == 0)
                return s_bad_number("sub", "--count", optarg);
            break;
        default:
            if ((g = s_global_opt("sub", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("sub", '?', argv);
        }
    }
    if (argc - optind > 1)
        return s_usage_error("sub", "unexpected argument '%s'",
                             argv[optind + 1]);
    const char *prefix = optind < argc ? argv[optind] : "";
    int idle_ms = s_opt.timeout_ms; /* -1: none */

    int status = S_EXIT_FAIL;
    rz_sub_t *sub = NULL;
    rz_client_t *cl = s_connect("sub", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    sub = rz_sub_new(cl, s_opt.stream, prefix);
    if (!sub) {
        fprintf(stderr, "ratusz: sub: cannot subscribe at %s: %s\n",
                s_opt.stream, strerror(errno));
        goto done;
    }
    s_install_signals();
    bool gap = false;
    int64_t last = rz_now_us();
    status = S_EXIT_OK;
    while (!s_stop && !(pr.max && pr.count >= pr.max)) {
        /* short waits: a signal may land between our check and the poll */
        int wait = 250;
        if (idle_ms >= 0) {
            int64_t left = last + (int64_t)idle_ms * 1000 - rz_now_us();
            if (left <= 0)
                break;
            if (left / 1000 < wait)
                wait = (int)(left / 1000) + 1;
        }
        int rc = rz_sub_recv(sub, s_print_event, &pr, wait);
        fflush(stdout);
        if (pr.error) {
            status = s_fail("sub", pr.error);
            break;
        }
        if (rc > 0) {
            last = rz_now_us();
        } else if (rc == RZ_EGAP) {
            /* reported once per gap; the stream goes on after it */
            fprintf(stderr, "ratusz: sub: %s (%s)\n", rz_strerror(rc),
                    rz_err_name(rc));
            gap = true;
        } else if (rc == -EINTR) {
            continue;
        } else if (rc < 0) {
            status = s_fail("sub", rc);
            break;
        }
    }
    if (gap && status == S_EXIT_OK)
        status = S_EXIT_FAIL;
done:
    rz_sub_destroy(&sub);
    rz_client_destroy(&cl);
    return status;
}

/* ==========================================================================
 * get, query, replay
 */

static const char s_get_help[] =
    "Usage: ratusz get SEQ\n"
    "       ratusz get --source SOURCE --id ID\n"
    "\n"
    "Print one stored event as a CloudEvents JSON line, by its seq or by\n"
    "its source and id.\n";

static int s_cmd_get(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"source", required_argument, NULL, S_OPT_SOURCE},
        {"id", required_argument, NULL, S_OPT_ID},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *source = NULL, *id = NULL;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_get_help); return S_EXIT_OK;
        case S_OPT_SOURCE: source = optarg; break;
        case S_OPT_ID: id = optarg; break;
        default:
            if ((g = s_global_opt("get", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("get", '?', argv);
        }
    }
    uint64_t seq = 0;
    int nargs = argc - optind;
    if (source || id) {
        if (!source || !id)
            return s_usage_error("get", "--source and --id go together");
        if (nargs)
            return s_usage_error("get", "give a SEQ or --source and --id, "
                                        "not both");
    } else if (nargs != 1) {
        return s_usage_error("get", nargs ? "too many arguments"
                                          : "what to get: SEQ or --source "
                                            "and --id");
    } else if (s_parse_u64(argv[optind], &seq) || seq == 0) {
        return s_usage_error("get", "not a seq: '%s'", argv[optind]);
    }

    rz_client_t *cl = s_connect("get", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    s_printer_t pr = {0};
    int rc = source ? rz_get_id(cl, source, id, s_print_event, &pr)
                    : rz_get_seq(cl, seq, s_print_event, &pr);
    rz_client_destroy(&cl);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    return rc < 0 ? s_fail("get", rc) : S_EXIT_OK;
}

static const char s_query_help[] =
    "Usage: ratusz query [--subject S | --topic PREFIX] [OPTIONS]\n"
    "\n"
    "Print stored events as CloudEvents JSON lines: an entity's timeline in\n"
    "event time order (--subject), the events of a topic prefix in seq order\n"
    "(--topic), or all events by time. One page unless --all; when more are\n"
    "left, the cursor for --after is printed on stderr.\n"
    "\n"
    "  --subject S         e.g. parcel:106101_1.0001.161/8\n"
    "  --topic PREFIX      e.g. 1061011.budget\n"
    "  --since T           event time from T (inclusive): RFC 3339 or unix\n"
    "                      microseconds\n"
    "  --until T           event time before T\n"
    "  --limit N           events per page (default: the broker's)\n"
    "  --after CURSOR      continue from a cursor printed before\n"
    "  --all               follow cursors through every page\n";

static void s_hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

static int s_hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int s_unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = s_hexdigit(s[2 * i]), lo = s_hexdigit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

static int s_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"subject", required_argument, NULL, S_OPT_SUBJECT},
        {"topic", required_argument, NULL, S_OPT_TOPIC},
        {"since", required_argument, NULL, S_OPT_SINCE},
        {"until", required_argument, NULL, S_OPT_UNTIL},
        {"limit", required_argument, NULL, S_OPT_LIMIT},
        {"after", required_argument, NULL, S_OPT_AFTER},
        {"all", no_argument, NULL, S_OPT_ALL},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    rz_query_t q;
    memset(&q, 0, sizeof q);
    bool all = false;
    char why[200];
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_query_help); return S_EXIT_OK;
        case S_OPT_SUBJECT: q.subject = optarg; break;
        case S_OPT_TOPIC: q.topic_prefix = optarg; break;
        case S_OPT_ALL: all = true; break;
        case S_OPT_SINCE:
        case S_OPT_UNTIL:
            if (s_parse_time(optarg, c == S_OPT_SINCE ? &q.since : &q.until,
                             why, sizeof why))
                return s_usage_error("query", "--%s: %s",
                                     c == S_OPT_SINCE ? "since" : "until", why);
            break;
        case S_OPT_LIMIT:
            if (s_parse_u32(optarg, &q.limit) || q.limit == 0)
                return s_bad_number("query", "--limit", optarg);
            break;
        case S_OPT_AFTER:
            if (s_unhex(optarg, q.after, sizeof q.after, &q.after_len))
                return s_usage_error("query", "--after: not a cursor: '%s'",
                                     optarg);
            break;
        default:
            if ((g = s_global_opt("query", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("query", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("query", "unexpected argument '%s'",
                             argv[optind]);
    if (q.subject && q.topic_prefix)
        return s_usage_error("query", "--subject or --topic, not both");
    if (q.since && q.until && q.until <= q.since)
        return s_usage_error("query", "--until is not after --since");

    rz_client_t *cl = s_connect("query", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    s_install_signals();
    s_printer_t pr = {0};
    int rc;
    do {
        rc = rz_query(cl, &q, s_print_event, &pr);
        fflush(stdout);
    } while (rc >= 0 && all && q.after_len && !s_stop && !pr.error);
    rz_client_destroy(&cl);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    if (rc < 0)
        return s_fail("query", rc);
    if (q.after_len && !all) {
        char hex[2 * RZ_CURSOR_MAX + 1];
        s_hex(hex, q.after, q.after_len);
        fprintf(stderr, "ratusz: query: more events: --after %s (or --all)\n",
                hex);
    }
    return S_EXIT_OK;
}

static const char s_replay_help[] =
    "Usage: ratusz replay [--from SEQ] [--until SEQ] [--topic PREFIX] "
    "[--max N]\n"
    "\n"
    "Print stored events in seq order as CloudEvents JSON lines.\n"
    "\n"
    "  --from SEQ          first seq (default 1)\n"
    "  --until SEQ         stop before this seq (default: the head now)\n"
    "  --topic PREFIX      only events whose topic starts with PREFIX\n"
    "  --max N             at most N events\n"
    "  --chunk N           events per reply (default: the broker's)\n";

static int s_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, S_OPT_FROM},
        {"until", required_argument, NULL, S_OPT_UNTIL},
        {"topic", required_argument, NULL, S_OPT_TOPIC},
        {"max", required_argument, NULL, S_OPT_MAX},
        {"chunk", required_argument, NULL, S_OPT_CHUNK},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    rz_replay_t r = {1, 0, NULL, 0, 0};
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_replay_help); return S_EXIT_OK;
        case S_OPT_TOPIC: r.topic_prefix = optarg; break;
        case S_OPT_FROM:
            if (s_parse_u64(optarg, &r.from_seq) || r.from_seq == 0)
                return s_bad_seq("replay", "--from", optarg);
            break;
        case S_OPT_UNTIL:
            if (s_parse_u64(optarg, &r.until_seq) || r.until_seq == 0)
                return s_bad_seq("replay", "--until", optarg);
            break;
        case S_OPT_MAX:
            if (s_parse_u64(optarg, &r.max_events) || r.max_events == 0)
                return s_bad_number("replay", "--max", optarg);
            break;
        case S_OPT_CHUNK:
            if (s_parse_u32(optarg, &r.chunk) || r.chunk == 0)
                return s_bad_number("replay", "--chunk", optarg);
            break;
        default:
            if ((g = s_global_opt("replay", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("replay", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("replay", "unexpected argument '%s'",
                             argv[optind]);
    if (r.until_seq && r.until_seq <= r.from_seq)
        return s_usage_error("replay", "--until is not after --from");

    rz_client_t *cl = s_connect("replay", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    s_install_signals();
    s_printer_t pr = {0};
    int64_t rc = rz_replay(cl, &r, s_print_event, &pr);
    fflush(stdout);
    rz_client_destroy(&cl);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    return rc < 0 ? s_fail("replay", (int)rc) : S_EXIT_OK;
}

/* ==========================================================================
 * Consumer groups: consumers, fetch, commit
 */

static const char s_consumers_help[] =
    "Usage: ratusz consumers [--json]\n"
    "\n"
    "List the durable consumer groups: committed seq, lag behind the head,\n"
    "topic prefix and when they last committed.\n"
    "\n"
    "  --json              the ConsumerList as one JSON line\n";

/* "12s ago", or "never" for 0. */
static const char *s_ago(char *buf, size_t len, int64_t when, int64_t now)
{
    if (when <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    char d[32];
    snprintf(buf, len, "%s ago", human_duration(d, sizeof d, now - when));
    return buf;
}

static void s_consumer_table(FILE *out, Ratusz__V1__ConsumerGroup **groups,
                             size_t n, const char *indent, bool color)
{
    static const char *const hdr[] = {"NAME", "COMMITTED", "LAG", "PREFIX",
                                      "LAST COMMIT"};
    table_t *t = table_new(hdr, 5);
    if (!t)
        return;
    table_align(t, 1, TABLE_RIGHT);
    table_align(t, 2, TABLE_RIGHT);
    int64_t now = rz_now_us();
    for (size_t i = 0; i < n; i++) {
        const Ratusz__V1__ConsumerGroup *g = groups[i];
        char ago[48];
        table_add(t, "%s", g->name);
        table_add(t, "%" PRIu64, g->committed_seq);
        /* a group falling behind is what an operator looks for */
        if (g->lag && color)
            table_add(t, "\033[1;33m%" PRIu64 "\033[0m", g->lag);
        else
            table_add(t, "%" PRIu64, g->lag);
        table_add(t, "%s", g->topic_prefix && *g->topic_prefix
                               ? g->topic_prefix
                               : "(all)");
        table_add(t, "%s", s_ago(ago, sizeof ago, g->updated, now));
    }
    table_print(t, out, indent);
    table_destroy(&t);
}

/* Options of a command that takes only --json (and the global ones) and
 * no arguments. Returns -1 to go on, or the exit status. */
static int s_json_only_opts(const char *cmd, const char *help, int argc,
                            char **argv, bool *json)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, S_OPT_JSON}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    int c, g;
    *json = false;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(help); return S_EXIT_OK;
        case S_OPT_JSON: *json = true; break;
        default:
            if ((g = s_global_opt(cmd, c, optarg, argv)) != 1)
                return g ? g : s_bad_option(cmd, '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int s_cmd_consumers(int argc, char **argv)
{
    bool json;
    int opt = s_json_only_opts("consumers", s_consumers_help, argc, argv, &json);
    if (opt >= 0)
        return opt;
    rz_client_t *cl = s_connect("consumers", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    Ratusz__V1__ConsumerList *list = NULL;
    int rc = rz_consumers(cl, &list);
    rz_client_destroy(&cl);
    if (rc < 0)
        return s_fail("consumers", rc);
    int status = S_EXIT_OK;
    if (json) {
        char *text = rz_message_to_json(&list->base);
        if (text)
            puts(text);
        else
            status = s_fail("consumers", RZ_ENOMEM);
        free(text);
    } else if (list->n_groups == 0) {
        puts("no consumer groups");
    } else {
        s_consumer_table(stdout, list->groups, list->n_groups, NULL,
                         s_color());
    }
    ratusz__v1__consumer_list__free_unpacked(list, NULL);
    return status;
}

static const char s_fetch_help[] =
    "Usage: ratusz fetch GROUP [--max N] [--commit] [--topic PREFIX]\n"
    "\n"
    "Print the next events for a durable consumer group as CloudEvents JSON\n"
    "lines, from after its committed position.\n"
    "\n"
    "  --max N             at most N events (default: the broker's)\n"
    "  --commit            then commit what was printed\n"
    "  --topic PREFIX      bind a new group to this topic prefix\n"
    "  --after SEQ         fetch after SEQ instead of the committed position\n";

static int s_cmd_fetch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"max", required_argument, NULL, S_OPT_MAX},
        {"commit", no_argument, NULL, S_OPT_COMMIT},
        {"topic", required_argument, NULL, S_OPT_TOPIC},
        {"after", required_argument, NULL, S_OPT_AFTER},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    uint32_t max = 0;
    uint64_t after = 0;
    bool commit = false;
    const char *topic = NULL;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_fetch_help); return S_EXIT_OK;
        case S_OPT_COMMIT: commit = true; break;
        case S_OPT_TOPIC: topic = optarg; break;
        case S_OPT_MAX:
            if (s_parse_u32(optarg, &max) || max == 0)
                return s_bad_number("fetch", "--max", optarg);
            break;
        case S_OPT_AFTER:
            if (s_parse_u64(optarg, &after))
                return s_bad_seq("fetch", "--after", optarg);
            break;
        default:
            if ((g = s_global_opt("fetch", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("fetch", '?', argv);
        }
    }
    if (argc - optind != 1)
        return s_usage_error("fetch", argc == optind ? "which GROUP?"
                                                     : "too many arguments");
    const char *group = argv[optind];

    rz_client_t *cl = s_connect("fetch", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    s_printer_t pr = {0};
    uint64_t last = 0;
    int rc = rz_fetch(cl, group, topic, after, max, s_print_event, &pr, &last);
    fflush(stdout);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    /* commit only after everything fetched reached stdout: at-least-once */
    if (rc >= 0 && commit && last)
        rc = rz_commit(cl, group, last);
    rz_client_destroy(&cl);
    return rc < 0 ? s_fail("fetch", rc) : S_EXIT_OK;
}

static const char s_commit_help[] =
    "Usage: ratusz commit GROUP SEQ\n"
    "\n"
    "Record that GROUP processed every event up to and including SEQ.\n"
    "Positions only move forward.\n";

static int s_cmd_commit(int argc, char **argv)
{
    static const struct option longopts[] = {S_GLOBAL_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help(s_commit_help);
            return S_EXIT_OK;
        }
        if ((g = s_global_opt("commit", c, optarg, argv)) != 1)
            return g ? g : s_bad_option("commit", '?', argv);
    }
    uint64_t seq;
    if (argc - optind != 2)
        return s_usage_error("commit", "give GROUP and SEQ");
    if (s_parse_u64(argv[optind + 1], &seq) || seq == 0)
        return s_usage_error("commit", "not a seq: '%s'", argv[optind + 1]);
    rz_client_t *cl = s_connect("commit", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    int rc = rz_commit(cl, argv[optind], seq);
    rz_client_destroy(&cl);
    return rc < 0 ? s_fail("commit", rc) : S_EXIT_OK;
}

/* ==========================================================================
 * stats, health
 */

static const char s_stats_help[] =
    "Usage: ratusz stats [--json] [--watch [SECONDS]]\n"
    "\n"
    "Show the broker: version, status, head seq, uptime, store size; events\n"
    "in and out per tenant, domain and source with their rates (1, 5 and 15\n"
    "minute averages) and the time of the last one (SILENT when over 15\n"
    "minutes); commit latency and batch size; rejected events by reason;\n"
    "consumer groups and their lag; the adapters and bridges that report to\n"
    "the broker, with their numbers (STALE when silent for 15 seconds).\n"
    "\n"
    "  --json              the Stats message as one JSON line\n"
    "  -w, --watch [SEC]   redraw every SEC seconds (default 2) until Ctrl-C\n";

static int s_counter_cmp(const void *a, const void *b)
{
    const Ratusz__V1__Counter *x = *(Ratusz__V1__Counter *const *)a;
    const Ratusz__V1__Counter *y = *(Ratusz__V1__Counter *const *)b;
    int c = strcmp(x->tenant, y->tenant);
    if (!c)
        c = strcmp(x->domain, y->domain);
    if (!c)
        c = strcmp(x->source, y->source);
    return c;
}

static const char *s_pcts(char *buf, size_t len,
                          const Ratusz__V1__Histogram *h, bool micros)
{
    if (!h || h->count == 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    char a[24], b[24];
    if (micros)
        snprintf(buf, len, "p50 %s  p99 %s", human_micros(a, sizeof a, h->p50),
                 human_micros(b, sizeof b, h->p99));
    else
        snprintf(buf, len, "p50 %.0f  p99 %.0f", h->p50, h->p99);
    return buf;
}

/* A component whose reports stopped this long ago is shown as STALE. */
#define S_STALE_US (15 * INT64_C(1000000))

/* Adapters and bridges, as they last reported: a table of their state,
 * then each one's numbers on a line of its own. */
static void s_component_table(FILE *out, const Ratusz__V1__Stats *st,
                              int64_t now, bool color)
{
    const char *red = color ? "\033[1;31m" : "", *off = color ? "\033[0m" : "";
    static const char *const hdr[] = {"COMPONENT", "KIND", "STATUS",
                                      "LAST REPORT", "DETAIL"};
    char a[48], b[48];
    table_t *t = table_new(hdr, 5);
    if (!t)
        return;
    table_max_width(t, 4, 60);
    for (size_t i = 0; i < st->n_components; i++) {
        const Ratusz__V1__Component *c = st->components[i];
        bool stale = now - c->reported > S_STALE_US;
        bool ok = !stale && !strcmp(c->status, "ok");
        table_add(t, "%s", c->name);
        table_add(t, "%s", *c->kind ? c->kind : "-");
        if (stale)
            table_add(t, "%sSTALE%s", red, off);
        else
            table_add(t, "%s%s%s", ok ? "" : red,
                      *c->status ? c->status : "-", ok ? "" : off);
        table_add(t, "%s", s_ago(a, sizeof a, c->reported, now));
        table_add(t, "%s", c->detail);
    }
    table_print(t, out, NULL);
    table_destroy(&t);
    for (size_t i = 0; i < st->n_components; i++) {
        const Ratusz__V1__Component *c = st->components[i];
        if (!c->n_metrics && !c->n_histograms)
            continue;
        fprintf(out, "%s:", c->name);
        for (size_t m = 0; m < c->n_metrics; m++) {
            double v = c->metrics[m]->value;
            if (v == (double)(int64_t)v && v >= 0 && v < 1e15)
                fprintf(out, "  %s %s", c->metrics[m]->name,
                        human_count(a, sizeof a, (uint64_t)v));
            else
                fprintf(out, "  %s %.3g", c->metrics[m]->name, v);
        }
        for (size_t h = 0; h < c->n_histograms; h++) {
            const Ratusz__V1__Histogram *x = c->histograms[h];
            /* by convention, names ending in _us are microseconds */
            size_t nl = strlen(x->name);
            bool us = nl > 3 && !strcmp(x->name + nl - 3, "_us");
            fprintf(out, "  %s %s", x->name, s_pcts(b, sizeof b, x, us));
        }
        fputc('\n', out);
    }
    fputc('\n', out);
}

/* Draw the stats screen. */
static void s_render_stats(FILE *out, const Ratusz__V1__Stats *st,
                           bool color)
{
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    const char *red = color ? "\033[1;31m" : "";
    const Ratusz__V1__Health *h = st->health;
    int64_t now = rz_now_us();
    char a[48], b[48], d[48];

    if (h) {
        bool ok = h->status && strcmp(h->status, "ok") == 0;
        fprintf(out, "%sratuszd %s%s  status %s%s%s  head seq %" PRIu64
                     "  uptime %s\n",
                bold, h->version, off, ok ? "" : red, h->status,
                ok ? "" : off, h->head_seq,
                human_duration(a, sizeof a, h->uptime_us));
    }
    fprintf(out, "store %s", human_size(a, sizeof a, st->store_bytes));
    if (st->map_bytes) {
        double pct = 100.0 * (double)st->store_bytes / (double)st->map_bytes;
        bool full = pct >= 90;
        fprintf(out, " of %s (%s%.1f%%%s)",
                human_size(b, sizeof b, st->map_bytes), full ? red : "", pct,
                full ? off : "");
    }
    fprintf(out, "  events %s in, %s out",
            human_count(a, sizeof a, st->events_total),
            human_count(b, sizeof b, st->events_out_total));
    fprintf(out, "  commits %s  requests %s  subscribers %" PRIu64 "\n",
            human_count(d, sizeof d, st->commits_total),
            human_count(a, sizeof a, st->requests_total), st->subscribers);
    fprintf(out, "commit latency %s    batch size %s\n\n",
            s_pcts(a, sizeof a, st->commit_latency_us, true),
            s_pcts(b, sizeof b, st->batch_size, false));

    if (st->n_counters) {
        static const char *const hdr[] = {"TENANT", "DOMAIN", "SOURCE",
                                          "IN",     "OUT",    "1m/s",
                                          "5m/s",   "15m/s",  "LAST EVENT"};
        table_t *t = table_new(hdr, 9);
        Ratusz__V1__Counter **rows =
            malloc(st->n_counters * sizeof *rows);
        if (t && rows) {
            memcpy(rows, st->counters, st->n_counters * sizeof *rows);
            qsort(rows, st->n_counters, sizeof *rows, s_counter_cmp);
            for (size_t i = 3; i < 8; i++)
                table_align(t, i, TABLE_RIGHT);
            table_max_width(t, 2, 40);
            for (size_t i = 0; i < st->n_counters; i++) {
                const Ratusz__V1__Counter *c = rows[i];
                table_add(t, "%s", *c->tenant ? c->tenant : "-");
                table_add(t, "%s", *c->domain ? c->domain : "-");
                table_add(t, "%s", *c->source ? c->source : "-");
                table_add(t, "%" PRIu64, c->events_in);
                table_add(t, "%" PRIu64, c->events_out);
                table_add(t, "%.2f", c->rate1);
                table_add(t, "%.2f", c->rate5);
                table_add(t, "%.2f", c->rate15);
                if (c->last_event <= 0)
                    table_add(t, "never");
                else if (now - c->last_event > S_SILENT_US)
                    /* a source that went quiet is usually a broken
                     * adapter: make it impossible to miss */
                    table_add(t, "%sSILENT%s %s", red, off,
                              s_ago(a, sizeof a, c->last_event, now));
                else
                    table_add(t, "%s", s_ago(a, sizeof a, c->last_event, now));
            }
            table_print(t, out, NULL);
            fputc('\n', out);
        }
        free(rows);
        table_destroy(&t);
    }

    if (st->n_rejected) {
        static const char *const hdr[] = {"REJECTED", "COUNT"};
        table_t *t = table_new(hdr, 2);
        if (t) {
            table_align(t, 1, TABLE_RIGHT);
            for (size_t i = 0; i < st->n_rejected; i++) {
                table_add(t, "%s", st->rejected[i]->reason);
                table_add(t, "%" PRIu64, st->rejected[i]->count);
            }
            table_print(t, out, NULL);
            fputc('\n', out);
            table_destroy(&t);
        }
    }

    if (st->n_consumers) {
        s_consumer_table(out, st->consumers, st->n_consumers, NULL, color);
        fputc('\n', out);
    }

    if (st->n_components)
        s_component_table(out, st, now, color);
}

static int s_cmd_stats(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, S_OPT_JSON},
        {"watch", optional_argument, NULL, 'w'}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    bool json = false, watch = false;
    uint32_t every = 2;
    const char *every_arg = NULL;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS "w::", longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_stats_help); return S_EXIT_OK;
        case S_OPT_JSON: json = true; break;
        case 'w':
            watch = true;
            every_arg = optarg;
            break;
        default:
            if ((g = s_global_opt("stats", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("stats", '?', argv);
        }
    }
    /* "--watch 5" as well as "--watch=5": stats takes no arguments, so a
     * number after --watch can only be its interval */
    if (watch && !every_arg && optind < argc)
        every_arg = argv[optind++];
    if (optind < argc)
        return s_usage_error("stats", "unexpected argument '%s'", argv[optind]);
    if (every_arg && (s_parse_u32(every_arg, &every) || every == 0 ||
                      every > 86400))
        return s_usage_error("stats", "--watch: not a number of seconds: '%s'",
                             every_arg);

    rz_client_t *cl = s_connect("stats", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    if (watch)
        s_install_signals();
    int status = S_EXIT_OK;
    bool color = s_color();
    do {
        Ratusz__V1__Stats *st = NULL;
        int rc = rz_stats(cl, &st);
        char *frame = NULL;
        size_t frame_len = 0;
        /* draw into memory and write at once, so the screen never shows
         * half a frame */
        FILE *out = watch ? open_memstream(&frame, &frame_len) : stdout;
        if (!out) {
            status = s_fail("stats", RZ_ENOMEM);
            break;
        }
        if (rc < 0) {
            if (!watch) {
                status = s_fail("stats", rc);
                break;
            }
            /* keep watching: the broker may come back */
            fprintf(out, "ratusz: stats: %s (%s)\n", rz_strerror(rc),
                    rz_err_name(rc));
        } else if (json) {
            char *text = rz_message_to_json(&st->base);
            if (text)
                fprintf(out, "%s\n", text);
            else
                status = s_fail("stats", RZ_ENOMEM);
            free(text);
        } else {
            s_render_stats(out, st, color);
        }
        if (st)
            ratusz__v1__stats__free_unpacked(st, NULL);
        if (watch) {
            /* --json --watch streams one line per interval, for scripts */
            if (!json) {
                char clock[16];
                time_t t = time(NULL);
                struct tm tm;
                strftime(clock, sizeof clock, "%H:%M:%S",
                         localtime_r(&t, &tm));
                fprintf(out, "%s  every %us, Ctrl-C to quit\n", clock, every);
                fputs("\033[H\033[2J", stdout);
            }
            fclose(out);
            fwrite(frame, 1, frame_len, stdout);
            free(frame);
        }
        fflush(stdout);
        if (!watch || status != S_EXIT_OK)
            break;
        struct timespec ts = {(time_t)every, 0};
        while (!s_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    } while (!s_stop);
    rz_client_destroy(&cl);
    return status;
}

static const char s_health_help[] =
    "Usage: ratusz health [--json]\n"
    "\n"
    "Ask the broker how it is. Exit status 0 when its status is \"ok\", 1\n"
    "otherwise or when it does not answer (for monitoring checks).\n"
    "\n"
    "  --json              the Health message as one JSON line\n";

static int s_cmd_health(int argc, char **argv)
{
    bool json;
    int opt = s_json_only_opts("health", s_health_help, argc, argv, &json);
    if (opt >= 0)
        return opt;
    rz_client_t *cl = s_connect("health", NULL);
    if (!cl)
        return S_EXIT_FAIL;
    Ratusz__V1__Health *h = NULL;
    int rc = rz_health(cl, &h);
    rz_client_destroy(&cl);
    if (rc < 0)
        return s_fail("health", rc);
    int status = strcmp(h->status, "ok") == 0 ? S_EXIT_OK : S_EXIT_FAIL;
    if (json) {
        char *text = rz_message_to_json(&h->base);
        if (text)
            puts(text);
        else
            status = s_fail("health", RZ_ENOMEM);
        free(text);
    } else {
        char up[32];
        printf("%s  ratuszd %s  protocol %u  head seq %" PRIu64
               "  uptime %s\n",
               h->status, h->version, h->protocol, h->head_seq,
               human_duration(up, sizeof up, h->uptime_us));
    }
    ratusz__v1__health__free_unpacked(h, NULL);
    return status;
}

/* ==========================================================================
 * main
 */

typedef struct s_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"pub", s_cmd_pub, "publish events (from options or NDJSON on stdin)"},
    {"sub", s_cmd_sub, "print live events of a topic prefix"},
    {"get", s_cmd_get, "print one event by seq or by source and id"},
    {"query", s_cmd_query, "print an entity's timeline or a topic's events"},
    {"replay", s_cmd_replay, "print stored events in seq order"},
    {"stats", s_cmd_stats, "show broker statistics (--watch: like top)"},
    {"health", s_cmd_health, "check that the broker is up"},
    {"consumers", s_cmd_consumers, "list durable consumer groups"},
    {"fetch", s_cmd_fetch, "print the next events for a consumer group"},
    {"commit", s_cmd_commit, "move a consumer group's position"},
};
#define S_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

static void s_main_help(FILE *out)
{
    fputs("Usage: ratusz [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "The command line of the Ratusz event bus. Events are read and\n"
          "written as CloudEvents JSON, one per line.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < S_NCMDS; i++)
        fprintf(out, "  %-11s %s\n", s_cmds[i].name, s_cmds[i].summary);
    fputs("\n", out);
    fputs(s_global_help, out);
    fputs("  -V, --version       print the version\n"
          "\n"
          "'ratusz COMMAND --help' describes a command. Exit status: 0 ok,\n"
          "1 the operation failed, 2 usage error.\n",
          out);
}

/* Run with stdin, stdout or stderr closed, the next socket ZeroMQ opens
 * would become that descriptor: pub would then read the broker connection
 * as its input. Put /dev/null there first. */
static void s_guard_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
            open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            _exit(S_EXIT_FAIL);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"version", no_argument, NULL, 'V'}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    s_guard_std_fds();
    s_opt.endpoint = getenv("RATUSZ_ENDPOINT");
    s_opt.stream = getenv("RATUSZ_STREAM");
    if (!s_opt.endpoint || !*s_opt.endpoint)
        s_opt.endpoint = RZ_DEFAULT_FRONT;
    if (!s_opt.stream || !*s_opt.stream)
        s_opt.stream = RZ_DEFAULT_STREAM;

    /* '+': stop at the command name; its options are its own */
    int c, g;
    while ((c = getopt_long(argc, argv, "+" S_GLOBAL_SHORTOPTS "V", longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_main_help(stdout); return S_EXIT_OK;
        case 'V': printf("ratusz %s (protocol %d)\n", RZ_VERSION, RZ_PROTOCOL);
            return S_EXIT_OK;
        default:
            if ((g = s_global_opt(NULL, c, optarg, argv)) != 1)
                return g ? g : s_bad_option(NULL, '?', argv);
        }
    }
    if (optind >= argc) {
        s_main_help(stderr);
        return S_EXIT_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < S_NCMDS; i++) {
        if (strcmp(name, s_cmds[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* glibc: start a fresh scan of sub_argv */
            return s_cmds[i].run(sub_argc, sub_argv);
        }
    }
    if (strcmp(name, "help") == 0) {
        s_main_help(stdout);
        return S_EXIT_OK;
    }
    return s_usage_error(NULL, "unknown command '%s'", name);
}
