/* ratusz.c - the ratusz command line: publish to, read from and watch a
 * Ratusz broker.
 *
 *   ratusz [-e EP] [-s EP] [-t MS] [-k KEY -K SERVERKEY] COMMAND [OPTIONS]
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
#include <dirent.h>
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
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <termios.h>
#include <sys/stat.h>

#include "export.h"
#include "ratusz/conf.h"
#include "ratusz/core/backup.h"
#include "ratusz/core/lmdb.h"
#include "ratusz/keys.h"
#include "ratusz/ratusz.h"
#include "ratusz/text.h"
#include "table.h"
#include "top.h"

#define S_EXIT_OK 0
#define S_EXIT_FAIL 1
#define S_EXIT_USAGE 2

/* An input line longer than this is reported and skipped, so one runaway
 * line cannot eat the machine's memory (events are at most 16 MiB, which is
 * about 22 MiB as base64 JSON). */
#define S_LINE_MAX (64u << 20)

/* Request timeout without -t, as the library's own default. */
#define S_TIMEOUT_MS 10000

/* ==========================================================================
 * Global options, errors, signals
 */

static struct {
    const char *endpoint;
    const char *stream;
    int timeout_ms; /* -1: the client's default */
    /* CURVE: this client's secret key file and the broker's public key,
     * and where each came from ("--key" or "$RATUSZ_KEY"), for errors */
    const char *key, *key_from;
    const char *server_key, *server_key_from;
    bool stream_given; /* --stream or $RATUSZ_STREAM: sub uses the stream */
} s_opt = {NULL, NULL, -1, NULL, NULL, NULL, NULL, false};

/* The client of the running command, and the words behind its last
 * failure once it is gone (see s_fail). */
static rz_client_t *s_client;
static char s_detail[256];

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

/* "ratusz: get: not found (RZ_ENOTFOUND)", with the broker's words when
 * it gave some: "ratusz: audit: access denied: the broker refused this
 * client's key (RZ_EDENIED)". */
static int s_fail(const char *cmd, int code)
{
    const char *detail = s_client ? rz_client_last_error(s_client) : s_detail;
    const char *what = rz_strerror(code);
    /* the broker's words often start with the same text */
    if (*detail && !strncmp(detail, what, strlen(what)))
        what = "";
    fprintf(stderr, "ratusz: %s: %s%s%s (%s)\n", cmd, what,
            *what && *detail ? ": " : "", detail, rz_err_name(code));
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
    S_OPT_KEY = 'k',
    S_OPT_SERVER_KEY = 'K',
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
    S_OPT_MAX_FAILURES,
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
    S_OPT_DIR,
    S_OPT_PRINCIPAL,
    S_OPT_DATA_DIR,
    S_OPT_AUDIT_DIR,
    S_OPT_REDACTION_KEY,
    S_OPT_FORCE,
    S_OPT_FORMAT,
    S_OPT_OUTPUT,
    S_OPT_META,
    S_OPT_LICENCE,
    S_OPT_CRS,
    S_OPT_RAW,
    S_OPT_PSEUDONYM,
};

#define S_GLOBAL_LONGOPTS                                                     \
    {"help", no_argument, NULL, S_OPT_HELP},                                  \
    {"endpoint", required_argument, NULL, S_OPT_ENDPOINT},                    \
    {"stream", required_argument, NULL, S_OPT_STREAM},                        \
    {"timeout", required_argument, NULL, S_OPT_TIMEOUT},                      \
    {"key", required_argument, NULL, S_OPT_KEY},                              \
    {"server-key", required_argument, NULL, S_OPT_SERVER_KEY}
/* The leading ':' makes getopt quiet and tell a missing value (':') from
 * an unknown option ('?'); s_bad_option words both. */
#define S_GLOBAL_SHORTOPTS ":he:s:t:k:K:"

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
    case S_OPT_STREAM:
        s_opt.stream = arg;
        s_opt.stream_given = true;
        return 1;
    case S_OPT_KEY:
        s_opt.key = arg;
        s_opt.key_from = "--key";
        return 1;
    case S_OPT_SERVER_KEY:
        s_opt.server_key = arg;
        s_opt.server_key_from = "--server-key";
        return 1;
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
    "  -s, --stream EP     sub: read the broker's stream socket (XPUB) at EP\n"
    "                      instead of watching over the front (default\n"
    "                      $RATUSZ_STREAM)\n"
    "  -t, --timeout MS    request timeout in milliseconds (default 10000)\n"
    "  -k, --key FILE      this client's secret key file, from 'ratusz keygen'\n"
    "                      (CURVE; default $RATUSZ_KEY)\n"
    "  -K, --server-key K  the broker's public key: its .pub file or the 40\n"
    "                      Z85 characters (default $RATUSZ_SERVER_KEY)\n"
    "  -h, --help          this help\n";

static void s_help(const char *text)
{
    fputs(text, stdout);
    fputc('\n', stdout);
    fputs(s_global_help, stdout);
}

/* Read the CURVE keys of --key and --server-key (or the environment),
 * when given. A key that cannot be used is a usage error naming the file:
 * the command line or the environment pointed at it. */
static int s_load_keys(const char *cmd, rz_keypair_t *me,
                       rz_keypair_t *server)
{
    char err[600];
    if (!s_opt.key && !s_opt.server_key)
        return 0;
    if (!s_opt.key)
        return s_usage_error(cmd, "%s needs --key (this client's secret key "
                             "file) or $RATUSZ_KEY", s_opt.server_key_from);
    if (!s_opt.server_key)
        return s_usage_error(cmd, "%s needs --server-key (the broker's "
                             "public key) or $RATUSZ_SERVER_KEY",
                             s_opt.key_from);
    if (rz_key_load_secret(s_opt.key, me, err, sizeof err) < 0) {
        fprintf(stderr, "ratusz: %s: %s: %s\n", cmd, s_opt.key_from, err);
        return S_EXIT_USAGE;
    }
    if (rz_key_load_public(s_opt.server_key, server, err, sizeof err) < 0) {
        fprintf(stderr, "ratusz: %s: %s: %s\n", cmd, s_opt.server_key_from,
                err);
        return S_EXIT_USAGE;
    }
    return 0;
}

/* Make the command's client (with the keys, if any) into *out. Returns 0,
 * or the exit status after saying what was wrong. */
static int s_connect(const char *cmd, rz_client_opts_t *opts,
                     rz_client_t **out)
{
    *out = NULL;
    rz_keypair_t me, server;
    memset(&me, 0, sizeof me);
    memset(&server, 0, sizeof server);
    int rc = s_load_keys(cmd, &me, &server);
    if (rc)
        return rc;
    /* the defaults documented in ratusz.h, for what the options left 0 */
    rz_client_opts_t o = {0};
    if (opts)
        o = *opts;
    if (!o.window)
        o.window = 1024;
    if (!o.batch)
        o.batch = 64;
    o.timeout_ms = s_opt.timeout_ms > 0 ? s_opt.timeout_ms : S_TIMEOUT_MS;
    if (me.secret_z85[0]) {
        o.curve_public = me.public_z85;
        o.curve_secret = me.secret_z85;
        o.curve_server = server.public_z85;
    }
    rz_client_t *c = rz_client_new(s_opt.endpoint, &o);
    int e = errno;
    explicit_bzero(&me, sizeof me);
    if (!c) {
        fprintf(stderr, "ratusz: %s: cannot connect to %s: %s\n", cmd,
                s_opt.endpoint, strerror(e));
        return S_EXIT_FAIL;
    }
    *out = s_client = c;
    s_detail[0] = '\0';
    return 0;
}

/* Destroy the command's client, keeping the words of its last failure
 * for s_fail. */
static void s_disconnect(rz_client_t **cl)
{
    if (*cl && *cl == s_client) {
        snprintf(s_detail, sizeof s_detail, "%s",
                 rz_client_last_error(*cl));
        s_client = NULL;
    }
    rz_client_destroy(cl);
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
    "exit status is then 1. After --max-failures failures in a row (a\n"
    "broker that does not answer fails every event) it stops reading. At\n"
    "the end a summary goes to stderr: \"published N, duplicates D,\n"
    "conflicts C, failed F, X events/s\", where N counts every event the\n"
    "broker acked and D those of them it already had (same source, id and\n"
    "content: not stored again); F counts every event that was not stored\n"
    "and C those of them the broker refused as conflicts (its source and id\n"
    "are taken by an event with different content).\n"
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
    "  --ack-log FILE      append \"ID SEQ\" for every acked event\n"
    "  --max-failures N    stop after N failures in a row (default 10;\n"
    "                      0: never stop)\n";

#define S_PUB_MAX_FAILURES 10

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
    uint64_t published, duplicates, conflicts, failed;
    uint64_t single_seq;
    uint32_t max_failures; /* 0: never stop */
    uint32_t run;          /* failures in a row */
    bool stopping;         /* max_failures reached: read no more */
    uint64_t unshown;      /* failures after that, not reported per line */
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

/* Count one event that was not stored and report it as "WHERE: text"
 * (fmt), unless publishing is already stopping; code is its RZ_E* code or
 * 0 when it never left. The max_failures-th failure in a row stops it. */
static void s_pub_fail(s_pub_t *p, size_t line, int code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static void s_pub_fail(s_pub_t *p, size_t line, int code, const char *fmt,
                       ...)
{
    p->failed++;
    p->run++;
    if (p->stopping) {
        p->unshown++;
        return;
    }
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s_pub_where(p, line);
    fprintf(stderr, "%s\n", text);
    if (p->max_failures && p->run >= p->max_failures) {
        p->stopping = true;
        /* a broker that does not answer fails every event the same way:
         * say so in words, not just as the last event's error */
        if (code == RZ_ETIMEDOUT)
            fprintf(stderr,
                    "ratusz: pub: stopping after %" PRIu32 " consecutive "
                    "failures: the broker did not answer (RZ_ETIMEDOUT)\n",
                    p->run);
        else
            fprintf(stderr,
                    "ratusz: pub: stopping after %" PRIu32 " consecutive "
                    "failures: the last: %s\n",
                    p->run, text);
    }
}

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_pub_t *p = user;
    s_flight_t *f = a->arg;
    if (a->code == RZ_ECONFLICT) {
        p->conflicts++;
        s_pub_fail(p, f->line, a->code,
                   "id '%s': conflict: the broker has this source and id "
                   "with different content: %s (%s)",
                   f->id,
                   a->reason && *a->reason ? a->reason : rz_strerror(a->code),
                   rz_err_name(a->code));
    } else if (a->code) {
        s_pub_fail(p, f->line, a->code, "id '%s': %s (%s)", f->id,
                   a->reason && *a->reason ? a->reason : rz_strerror(a->code),
                   rz_err_name(a->code));
    } else {
        p->run = 0;
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
static int s_pub_one(rz_client_t *c, s_pub_t *p, const Ratusz__V1__Event *ev,
                     size_t line)
{
    char why[256];
    if (rz_event_check(ev, why, sizeof why)) {
        s_pub_fail(p, line, RZ_EINVALEVENT, "%s", why);
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
    s_pub_fail(p, line, rc, "%s%s (%s)", fatal ? "not sent, stopping: " : "",
               rz_strerror(rc), rz_err_name(rc));
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

/* One line's event, published while it is borrowed from the line. */
typedef struct s_pub_line {
    rz_client_t *c;
    s_pub_t *p;
    size_t line;
    int rc; /* s_pub_one's */
} s_pub_line_t;

static int s_pub_visit(const Ratusz__V1__Event *ev, void *user)
{
    s_pub_line_t *l = user;
    l->rc = s_pub_one(l->c, l->p, ev, l->line);
    return 0;
}

/* Read NDJSON events from stdin and publish them. Returns 0, or a negative
 * code when publishing had to stop early. */
static int s_pub_stdin(rz_client_t *c, s_pub_t *p)
{
    s_lines_t r = {.fd = STDIN_FILENO};
    size_t lineno = 0;
    int rc = 0;
    while (!s_stop && !p->stopping) {
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
            s_pub_fail(p, ++lineno, rc, "line longer than %u MiB",
                       S_LINE_MAX >> 20);
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
        s_pub_line_t l = {c, p, lineno, 0};
        if (rz_event_from_json_visit(line, len, NULL, s_pub_visit, &l, err,
                                     sizeof err)) {
            s_pub_fail(p, lineno, RZ_EINVALEVENT, "%s", err);
            continue;
        }
        rc = l.rc;
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
        {"max-failures", required_argument, NULL, S_OPT_MAX_FAILURES},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *attr[S_A_N] = {NULL};
    const char *data = NULL, *content_type = NULL, *ack_log = NULL;
    rz_client_opts_t opts = {0};
    uint32_t max_failures = S_PUB_MAX_FAILURES;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_pub_help); return S_EXIT_OK;
        case S_OPT_MAX_FAILURES:
            if (s_parse_u32(optarg, &max_failures))
                return s_bad_number("pub", "--max-failures", optarg);
            break;
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
    s_pub_t p = {.where = single ? NULL : "stdin",
                 .max_failures = max_failures};
    rz_client_t *cl = NULL;
    if (ack_log && !(p.ack_log = fopen(ack_log, "a"))) {
        fprintf(stderr, "ratusz: pub: %s: %s\n", ack_log, strerror(errno));
        goto done;
    }
    if ((c = s_connect("pub", &opts, &cl))) {
        status = c;
        goto done;
    }
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
    if (p.unshown)
        fprintf(stderr, "ratusz: pub: %" PRIu64 " more failures after "
                "stopping, not shown one by one\n", p.unshown);
    double secs = (double)(rz_now_us() - t0) / 1e6;
    double rate = secs > 0 ? (double)p.published / secs : 0;
    if (single && p.published)
        printf("%" PRIu64 "\n", p.single_seq);
    fprintf(stderr,
            "published %" PRIu64 ", duplicates %" PRIu64 ", conflicts %" PRIu64
            ", failed %" PRIu64 ", %.*f events/s\n",
            p.published, p.duplicates, p.conflicts, p.failed,
            rate < 100 ? 1 : 0, rate);
    status = p.failed || p.stopping || rc < 0 || frc < 0 ? S_EXIT_FAIL
                                                         : S_EXIT_OK;
done:
    s_disconnect(&cl);
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
    "Usage: ratusz sub [PREFIX] [--count N] [--window SIZE]\n"
    "\n"
    "Print live events whose topic starts with PREFIX (default: all) as\n"
    "CloudEvents JSON lines, until Ctrl-C. Topics are\n"
    "<tenant>.<domain>.<type-suffix>: 1061011 is one gmina, 1061011.env its\n"
    "environment events. The events come over the front endpoint with flow\n"
    "control (WATCH); personal data is pseudonymised unless this client's\n"
    "principal is cleared. A subscriber that falls behind is cut off by the\n"
    "broker; what it missed is read back from the store and printed in\n"
    "order, and the count of cut-offs goes to stderr at the end. With\n"
    "--stream EP the events come from the broker's stream socket instead.\n"
    "\n"
    "  --count N           exit after N events\n"
    "  --window SIZE       bytes the broker may send ahead of what was\n"
    "                      printed (e.g. 256K; default: the broker's\n"
    "                      watch_window)\n"
    "  -t, --timeout MS    also: exit when no event came for MS milliseconds\n";

static int s_cmd_sub(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, S_OPT_COUNT},
        {"window", required_argument, NULL, S_OPT_WINDOW}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    s_printer_t pr = {0};
    uint64_t window = 0;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_sub_help); return S_EXIT_OK;
        case S_OPT_COUNT:
            if (s_parse_u64(optarg, &pr.max) || pr.max == 0)
                return s_bad_number("sub", "--count", optarg);
            break;
        case S_OPT_WINDOW:
            if (rz_conf_parse_size(optarg, &window) < 0 || window == 0 ||
                window > SIZE_MAX)
                return s_usage_error("sub", "--window: not a size: '%s'",
                                     optarg);
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
    rz_client_t *cl;
    int conn = s_connect("sub", NULL, &cl);
    if (conn)
        return conn;
    sub = s_opt.stream_given ? rz_sub_new(cl, s_opt.stream, prefix)
                             : rz_watch_new(cl, prefix, (size_t)window);
    if (!sub) {
        /* its first request failed: errno is then one of our codes */
        int e = errno;
        if (e > -RZ_ERR_BASE)
            s_fail("sub", -e);
        else
            fprintf(stderr, "ratusz: sub: cannot subscribe at %s: %s\n",
                    s_opt.stream_given ? s_opt.stream : s_opt.endpoint,
                    strerror(e));
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
    rz_sub_stats_t ss;
    rz_sub_stats(sub, &ss);
    if (ss.cutoffs)
        fprintf(stderr,
                "ratusz: sub: fell behind %" PRIu64 " time%s: %" PRIu64
                " events read back from the store, none missed\n",
                ss.cutoffs, ss.cutoffs == 1 ? "" : "s", ss.backfilled);
done:
    rz_sub_destroy(&sub);
    s_disconnect(&cl);
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

    rz_client_t *cl;
    int conn = s_connect("get", NULL, &cl);
    if (conn)
        return conn;
    s_printer_t pr = {0};
    int rc = source ? rz_get_id(cl, source, id, s_print_event, &pr)
                    : rz_get_seq(cl, seq, s_print_event, &pr);
    s_disconnect(&cl);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    return rc < 0 ? s_fail("get", rc) : S_EXIT_OK;
}

static const char s_query_help[] =
    "Usage: ratusz query [--subject S | --topic PREFIX | --pseudonym P]\n"
    "                    [OPTIONS]\n"
    "\n"
    "Print stored events as CloudEvents JSON lines: an entity's timeline in\n"
    "event time order (--subject), the events of a topic prefix in seq order\n"
    "(--topic), every event about a person by pseudonym in seq order\n"
    "(--pseudonym), or all events by time. One page unless --all; when more\n"
    "are left, the cursor for --after is printed on stderr.\n"
    "\n"
    "  --subject S         e.g. parcel:106101_1.0001.161/8\n"
    "  --topic PREFIX      e.g. 1061011.budget\n"
    "  --pseudonym P       '~' and 26 letters, as redaction shows a taxpayer\n"
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
        {"pseudonym", required_argument, NULL, S_OPT_PSEUDONYM},
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
        case S_OPT_PSEUDONYM: q.pseudonym = optarg; break;
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
    if (q.pseudonym && (q.subject || q.topic_prefix))
        return s_usage_error("query",
                             "--pseudonym alone, without --subject or --topic");
    if (q.since && q.until && q.until <= q.since)
        return s_usage_error("query", "--until is not after --since");

    rz_client_t *cl;
    int conn = s_connect("query", NULL, &cl);
    if (conn)
        return conn;
    s_install_signals();
    s_printer_t pr = {0};
    int rc;
    do {
        rc = rz_query(cl, &q, s_print_event, &pr);
        fflush(stdout);
    } while (rc >= 0 && all && q.after_len && !s_stop && !pr.error);
    s_disconnect(&cl);
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

    rz_client_t *cl;
    int conn = s_connect("replay", NULL, &cl);
    if (conn)
        return conn;
    s_install_signals();
    s_printer_t pr = {0};
    int64_t rc = rz_replay(cl, &r, s_print_event, &pr);
    fflush(stdout);
    s_disconnect(&cl);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    return rc < 0 ? s_fail("replay", (int)rc) : S_EXIT_OK;
}

/* ==========================================================================
 * Consumer groups: consumers, fetch, commit
 */

static const char s_consumers_help[] =
    "Usage: ratusz consumers [--json]\n"
    "       ratusz consumers delete GROUP\n"
    "       ratusz consumers reset GROUP --to SEQ\n"
    "\n"
    "List the durable consumer groups: committed seq, lag behind the head,\n"
    "topic prefix and when they last committed (a group that has not\n"
    "committed for long is idle: its LAST COMMIT says since when).\n"
    "\n"
    "delete removes a group (its consumers start from the beginning if they\n"
    "fetch again); reset sets its committed position to SEQ, backwards too,\n"
    "so its consumers read the events after SEQ again. Both need the admin\n"
    "grant 'consumers'. The broker keeps at most max_groups groups.\n"
    "\n"
    "  --json              the ConsumerList as one JSON line\n"
    "  --to SEQ            reset: the new committed position (0 = before\n"
    "                      the first event)\n";

/* consumers delete GROUP | consumers reset GROUP --to SEQ */
static int s_consumers_admin(int argc, char **argv)
{
    const char *action = argv[0];
    static const struct option longopts[] = {
        {"to", required_argument, NULL, 't' + 256}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    uint64_t to = 0;
    int have_to = 0, c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_consumers_help); return S_EXIT_OK;
        case 't' + 256:
            if (s_parse_u64(optarg, &to))
                return s_usage_error("consumers", "--to: not a seq: '%s'",
                                     optarg);
            have_to = 1;
            break;
        default:
            if ((g = s_global_opt("consumers", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("consumers", '?', argv);
        }
    }
    if (optind + 1 != argc)
        return s_usage_error("consumers", "%s needs one GROUP", action);
    int reset = !strcmp(action, "reset");
    if (reset != have_to)
        return s_usage_error("consumers", "%s", reset
                                                     ? "reset needs --to SEQ"
                                                     : "--to is for reset");
    const char *group = argv[optind];
    rz_client_t *cl;
    int conn = s_connect("consumers", NULL, &cl);
    if (conn)
        return conn;
    int rc = reset ? rz_consumer_reset(cl, group, to)
                   : rz_consumer_delete(cl, group);
    if (rc < 0) {
        int st = s_fail("consumers", rc);
        s_disconnect(&cl);
        return st;
    }
    s_disconnect(&cl);
    if (reset)
        printf("consumer group '%s' reset to seq %" PRIu64 "\n", group, to);
    else
        printf("consumer group '%s' deleted\n", group);
    return S_EXIT_OK;
}

/* "12s ago", or "never" for 0. */
/* Retention per rule: its limits, the oldest event kept, what it removed. */
static void s_retention_table(FILE *out, const Ratusz__V1__Stats *st)
{
    static const char *const hdr[] = {
        "RETENTION",  "MAX AGE", "MAX BYTES",     "BYTES",
        "OLDEST SEQ", "REMOVED", "REMOVED BYTES", "HELD"};
    char a[48];
    table_t *t = table_new(hdr, 8);
    if (!t)
        return;
    for (size_t i = 1; i < 8; i++)
        table_align(t, i, TABLE_RIGHT);
    for (size_t i = 0; i < st->n_retention; i++) {
        const Ratusz__V1__RetentionRule *r = st->retention[i];
        table_add(t, "\"%s\"", r->prefix);
        if (r->max_age_us)
            table_add(t, "%s", human_duration(a, sizeof a, r->max_age_us));
        else
            table_add(t, "-");
        if (r->max_bytes) {
            table_add(t, "%s", human_size(a, sizeof a, r->max_bytes));
            table_add(t, "%s", human_size(a, sizeof a, r->bytes));
        } else {
            table_add(t, "-");
            table_add(t, "-");
        }
        if (r->oldest_seq)
            table_add(t, "%" PRIu64, r->oldest_seq);
        else
            table_add(t, "-");
        table_add(t, "%" PRIu64, r->removed_events);
        table_add(t, "%s", human_size(a, sizeof a, r->removed_bytes));
        table_add(t, "%" PRIu64, r->held);
    }
    table_print(t, out, NULL);
    fputc('\n', out);
    table_destroy(&t);
}

static void s_consumer_table(FILE *out, Ratusz__V1__ConsumerGroup **groups,
                             size_t n, const char *indent, bool color)
{
    static const char *const hdr[] = {"NAME",   "COMMITTED",   "LAG",
                                      "PREFIX", "LAST COMMIT", "LOST"};
    table_t *t = table_new(hdr, 6);
    if (!t)
        return;
    table_align(t, 1, TABLE_RIGHT);
    table_align(t, 2, TABLE_RIGHT);
    table_align(t, 5, TABLE_RIGHT);
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
        table_add(t, "%s", human_ago(ago, sizeof ago, g->updated, now));
        /* events retention removed before the group read them */
        if (g->lost && color)
            table_add(t, "\033[1;31m%" PRIu64 "\033[0m", g->lost);
        else
            table_add(t, "%" PRIu64, g->lost);
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
    if (argc >= 2 && (!strcmp(argv[1], "delete") || !strcmp(argv[1], "reset")))
        return s_consumers_admin(argc - 1, argv + 1);
    bool json;
    int opt = s_json_only_opts("consumers", s_consumers_help, argc, argv, &json);
    if (opt >= 0)
        return opt;
    rz_client_t *cl;
    int conn = s_connect("consumers", NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__ConsumerList *list = NULL;
    int rc = rz_consumers(cl, &list);
    s_disconnect(&cl);
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

    rz_client_t *cl;
    int conn = s_connect("fetch", NULL, &cl);
    if (conn)
        return conn;
    s_printer_t pr = {0};
    uint64_t last = 0;
    int rc = rz_fetch(cl, group, topic, after, max, s_print_event, &pr, &last);
    fflush(stdout);
    if (rc >= 0 && pr.error)
        rc = pr.error;
    /* commit only after everything fetched reached stdout: at-least-once */
    if (rc >= 0 && commit && last)
        rc = rz_commit(cl, group, last);
    s_disconnect(&cl);
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
    rz_client_t *cl;
    int conn = s_connect("commit", NULL, &cl);
    if (conn)
        return conn;
    int rc = rz_commit(cl, argv[optind], seq);
    s_disconnect(&cl);
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
    "  -w, --watch [SEC]   every SEC seconds (default 2) until Ctrl-C: on a\n"
    "                      terminal, 'ratusz top'; on a pipe (or with --json)\n"
    "                      the table redrawn (a JSON line) each time\n";

static const char *s_pcts(char *buf, size_t len,
                          const Ratusz__V1__Histogram *h, bool micros)
{
    return h ? human_pcts(buf, len, h->count, h->p50, h->p99, micros)
             : human_pcts(buf, len, 0, 0, 0, micros);
}

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
        bool stale = now - c->reported > TOP_STALE_US;
        bool ok = !stale && !strcmp(c->status, "ok");
        table_add(t, "%s", c->name);
        table_add(t, "%s", *c->kind ? c->kind : "-");
        if (stale)
            table_add(t, "%sSTALE%s", red, off);
        else
            table_add(t, "%s%s%s", ok ? "" : red,
                      *c->status ? c->status : "-", ok ? "" : off);
        table_add(t, "%s", human_ago(a, sizeof a, c->reported, now));
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

/* What the components' quarantines hold, by class of reason: only when
 * one reports some. */
static void s_quarantine_table(FILE *out, const Ratusz__V1__Stats *st)
{
    static const char *const hdr[] = {"QUARANTINE", "CLASS", "RECORDS",
                                      "EXAMPLE"};
    table_t *t = NULL;
    for (size_t i = 0; i < st->n_components; i++) {
        const Ratusz__V1__Component *c = st->components[i];
        for (size_t k = 0; k < c->n_quarantine; k++) {
            const Ratusz__V1__QuarantineReason *q = c->quarantine[k];
            if (!t) {
                if (!(t = table_new(hdr, 4)))
                    return;
                table_max_width(t, 1, 64);
                table_align(t, 2, TABLE_RIGHT);
                table_max_width(t, 3, 60);
            }
            table_add(t, "%s", c->name);
            table_add(t, "%s", q->class_);
            table_add(t, "%" PRIu64, q->records);
            table_add(t, "%s", q->example);
        }
    }
    if (!t)
        return;
    table_print(t, out, NULL);
    fputc('\n', out);
    table_destroy(&t);
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
    fprintf(out, "  commits %s  requests %s  subscribers %" PRIu64,
            human_count(d, sizeof d, st->commits_total),
            human_count(a, sizeof a, st->requests_total), st->subscribers);
    if (st->watchers || st->watch_cutoffs)
        fprintf(out, "  watchers %" PRIu64 " (%s held, %s%s cut off%s)",
                st->watchers, human_size(b, sizeof b, st->watch_held),
                st->watch_cutoffs ? red : "",
                human_count(d, sizeof d, st->watch_cutoffs),
                st->watch_cutoffs ? off : "");
    fputc('\n', out);
    if (st->memory_budget)
        fprintf(out, "memory  budget %s  queued for the writer %s  resident "
                     "%s\n",
                human_size(a, sizeof a, st->memory_budget),
                human_size(b, sizeof b, st->memory_queued),
                human_size(d, sizeof d, st->memory_resident));
    if (st->handshakes_refused || st->denied_total || st->redacted_total)
        fprintf(out,
                "security  handshakes refused %s  denied %s  redacted %s\n",
                human_count(a, sizeof a, st->handshakes_refused),
                human_count(b, sizeof b, st->denied_total),
                human_count(d, sizeof d, st->redacted_total));
    if (st->pseudonym_indexed_total || st->pseudonym_index_lag)
        fprintf(out,
                "pseudonym index  events with personal data %s  lag %s%s%s\n",
                human_count(a, sizeof a, st->pseudonym_indexed_total),
                st->pseudonym_index_lag > 100000 ? red : "",
                human_count(b, sizeof b, st->pseudonym_index_lag),
                st->pseudonym_index_lag > 100000 ? off : "");
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
            qsort(rows, st->n_counters, sizeof *rows, top_series_cmp);
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
                else if (now - c->last_event > TOP_SILENT_US)
                    /* a source that went quiet is usually a broken
                     * adapter: make it impossible to miss */
                    table_add(t, "%sSILENT%s %s", red, off,
                              human_ago(a, sizeof a, c->last_event, now));
                else
                    table_add(t, "%s",
                              human_ago(a, sizeof a, c->last_event, now));
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

    if (st->n_retention)
        s_retention_table(out, st);

    if (st->n_components)
        s_component_table(out, st, now, color);
    s_quarantine_table(out, st);
}

/* The full-screen view; stdout and stdin are a terminal. */
static int s_top(rz_client_t *cl, uint32_t every)
{
    int rc = top_run(cl, every, &s_stop);
    s_disconnect(&cl);
    if (rc < 0) {
        fprintf(stderr, "ratusz: top: cannot drive this terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return S_EXIT_FAIL;
    }
    return S_EXIT_OK;
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

    rz_client_t *cl;
    int conn = s_connect("stats", NULL, &cl);
    if (conn)
        return conn;
    if (watch)
        s_install_signals();
    if (watch && !json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO))
        return s_top(cl, every);
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
    s_disconnect(&cl);
    return status;
}

static const char s_top_help[] =
    "Usage: ratusz top [--interval SEC]\n"
    "\n"
    "The broker on one full terminal screen (80x24 or larger), redrawn every\n"
    "SEC seconds (default 2) from one STATS request: a fixed header (status,\n"
    "head seq, uptime, store and memory budget use, commit latency, events\n"
    "in and out per second with sparklines of the last minutes), a problems\n"
    "line naming what needs attention first (broker not ok, STALE or failing\n"
    "components, store or memory nearly full, SILENT sources, quarantine or\n"
    "consumer lag growing, rejected events by reason, denied requests), and\n"
    "a table: the series grouped tenant > domain > source, sorted by the\n"
    "1-minute rate; the consumer groups (g) or the components (c).\n"
    "\n"
    "Keys: q quit, s / S next sort column / reverse, / filter by a prefix of\n"
    "the source or of the topic (Enter applies, Esc clears), arrows, PgUp,\n"
    "PgDn, Home, End scroll, Enter or space fold a tenant or domain, g\n"
    "groups, c components, h or ? help, r refresh now.\n"
    "\n"
    "When stdout is not a terminal it prints what 'ratusz stats --watch'\n"
    "does: the plain table, redrawn every SEC seconds.\n"
    "\n"
    "  -n, --interval SEC  seconds between requests (1-86400, default 2)\n";

static int s_cmd_top(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"interval", required_argument, NULL, 'n'},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    uint32_t every = 2;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS "n:", longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_top_help); return S_EXIT_OK;
        case 'n':
            if (s_parse_u32(optarg, &every) || every == 0 || every > 86400)
                return s_usage_error(
                    "top", "--interval: not a number of seconds: '%s'", optarg);
            break;
        default:
            if ((g = s_global_opt("top", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("top", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("top", "unexpected argument '%s'", argv[optind]);
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        /* a pipe: the plain table, as stats --watch draws it there */
        char arg[32];
        snprintf(arg, sizeof arg, "--watch=%u", every);
        char *args[] = {"stats", arg, NULL};
        optind = 0;
        return s_cmd_stats(2, args);
    }
    rz_client_t *cl;
    int conn = s_connect("top", NULL, &cl);
    if (conn)
        return conn;
    s_install_signals();
    return s_top(cl, every);
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
    rz_client_t *cl;
    int conn = s_connect("health", NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__Health *h = NULL;
    int rc = rz_health(cl, &h);
    s_disconnect(&cl);
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
 * Security: keygen, whoami, audit, verify
 */

static const char s_keygen_help[] =
    "Usage: ratusz keygen NAME [--dir DIR]\n"
    "\n"
    "Make a CURVE key pair for one program or person on the bus (an adapter,\n"
    "a bridge, an operator, or the broker itself) and write two files:\n"
    "\n"
    "  DIR/NAME.key   the secret key, mode 0600. It stays with that program:\n"
    "                 give it with --key FILE or $RATUSZ_KEY. An existing\n"
    "                 NAME.key is never overwritten.\n"
    "  DIR/NAME.pub   the public key. The broker's principals file names it\n"
    "                 to grant NAME its rights; the broker's own .pub is what\n"
    "                 clients give as --server-key.\n"
    "\n"
    "The public key and both paths are printed. Exit status 1 when\n"
    "NAME.key exists, 2 for a bad NAME.\n"
    "\n"
    "  NAME                1-100 of A-Z a-z 0-9 . _ -\n"
    "  --dir DIR           where to write the files (default: .)\n";

static int s_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, S_OPT_DIR}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *dir = ".";
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_keygen_help); return S_EXIT_OK;
        case S_OPT_DIR: dir = optarg; break;
        default:
            if ((g = s_global_opt("keygen", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("keygen", '?', argv);
        }
    }
    if (argc - optind != 1)
        return s_usage_error("keygen", argc == optind ? "which NAME?"
                                                      : "too many arguments");
    const char *name = argv[optind];
    rz_keypair_t kp;
    char err[600];
    int rc = rz_key_generate(dir, name, &kp, err, sizeof err);
    if (rc == RZ_EINVAL)
        return s_usage_error("keygen", "%s", err);
    if (rc < 0) {
        fprintf(stderr, "ratusz: keygen: %s\n", err);
        return S_EXIT_FAIL;
    }
    printf("public key:  %s\n"
           "secret key:  %s/%s.key  (mode 0600: keep it private)\n"
           "public file: %s/%s.pub\n",
           kp.public_z85, dir, name, dir, name);
    explicit_bzero(&kp, sizeof kp);
    return S_EXIT_OK;
}

static const char s_passwd_help[] =
    "Usage: ratusz passwd\n"
    "\n"
    "Read a password (from the terminal without echo, asked twice; or the\n"
    "first line of stdin) and print its Argon2id hash, for a web console\n"
    "login in the principals file:\n"
    "\n"
    "  principals:\n"
    "    official:\n"
    "      console_password: \"$argon2id$v=19$m=65536,t=2,p=1$...\"\n"
    "      read: [\"2211011.\"]\n"
    "\n"
    "The password itself is kept nowhere. Exit status 1 when the two\n"
    "entries differ or the password is empty or longer than 255 bytes.\n";

/* One line of in into buf without its newline; -1 at EOF or too long. */
static int s_passwd_line(FILE *in, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, in))
        return -1;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == len - 1)
        return -1;
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return (int)n;
}

/* Ask for a password on the terminal, echo off. */
static int s_passwd_ask(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -1;
    fputs(prompt, tty);
    fflush(tty);
    int fd = fileno(tty), off = tcgetattr(fd, &old) == 0;
    if (off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    int n = s_passwd_line(tty, buf, len);
    if (off)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    return n;
}

static int s_cmd_passwd(int argc, char **argv)
{
    static const struct option longopts[] = {S_GLOBAL_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_passwd_help); return S_EXIT_OK;
        default:
            if ((g = s_global_opt("passwd", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("passwd", '?', argv);
        }
    }
    if (argc != optind)
        return s_usage_error("passwd", "too many arguments");
    if (sodium_init() < 0) {
        fprintf(stderr, "ratusz: passwd: libsodium would not start\n");
        return S_EXIT_FAIL;
    }
    char pw[256], again[256], hash[crypto_pwhash_STRBYTES];
    int n, rc = S_EXIT_FAIL;
    if (isatty(STDIN_FILENO)) {
        n = s_passwd_ask("Password: ", pw, sizeof pw);
        if (n > 0 && (s_passwd_ask("Again: ", again, sizeof again) != n ||
                      memcmp(pw, again, (size_t)n) != 0)) {
            fprintf(stderr, "ratusz: passwd: the two entries differ\n");
            goto out;
        }
    } else {
        n = s_passwd_line(stdin, pw, sizeof pw);
    }
    if (n <= 0) {
        fprintf(stderr, "ratusz: passwd: no password (empty, or longer "
                        "than 255 bytes)\n");
        goto out;
    }
    /* Argon2id, libsodium's interactive limits: about 0.1 s and 64 MiB a
     * login on the broker's machine */
    if (crypto_pwhash_str(hash, pw, (unsigned long long)n,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "ratusz: passwd: out of memory hashing\n");
        goto out;
    }
    printf("%s\n", hash);
    rc = S_EXIT_OK;
out:
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(again, sizeof again);
    return rc;
}

static const char s_whoami_help[] =
    "Usage: ratusz whoami [--json]\n"
    "\n"
    "Ask the broker who this client is to it: the principal its key (from\n"
    "--key) belongs to, or \"anonymous\" without one; whether security (CURVE\n"
    "and grants) is on; whether it may see personal data unredacted; and\n"
    "its grants: the sources and tenants it may publish as, the topic\n"
    "prefixes it may read and subscribe to, the consumer groups it owns and\n"
    "the admin requests it may make.\n"
    "\n"
    "  --json              the Whoami message as one JSON line\n";

/* One grant row: the patterns joined with ", ", or "-". */
static void s_grant_row(table_t *t, const char *what, char **v, size_t n)
{
    table_add(t, "%s", what);
    if (n == 0) {
        table_add(t, "-");
        return;
    }
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 4; /* ", " or the quotes of "" */
    char *all = malloc(len);
    if (!all) {
        table_add(t, "?");
        return;
    }
    all[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(all, ", ");
        strcat(all, *v[i] ? v[i] : "\"\"");
    }
    table_add(t, "%s", all);
    free(all);
}

static int s_cmd_whoami(int argc, char **argv)
{
    bool json;
    int opt = s_json_only_opts("whoami", s_whoami_help, argc, argv, &json);
    if (opt >= 0)
        return opt;
    rz_client_t *cl;
    int conn = s_connect("whoami", NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__Whoami *w = NULL;
    int rc = rz_whoami(cl, &w);
    s_disconnect(&cl);
    if (rc < 0)
        return s_fail("whoami", rc);
    int status = S_EXIT_OK;
    if (json) {
        char *text = rz_message_to_json(&w->base);
        if (text)
            puts(text);
        else
            status = s_fail("whoami", RZ_ENOMEM);
        free(text);
    } else {
        printf("principal      %s\n", w->principal);
        if (*w->address)
            printf("address        %s\n", w->address);
        printf("security       %s\n",
               w->security ? "on (CURVE keys and grants)"
                           : "off (no keys: every client may do anything)");
        printf("personal data  %s\n\n",
               w->personal_data ? "unredacted" : "redacted");
        static const char *const hdr[] = {"GRANT", "PATTERNS"};
        table_t *t = table_new(hdr, 2);
        if (t) {
            s_grant_row(t, "publish sources", w->publish_sources,
                        w->n_publish_sources);
            s_grant_row(t, "publish tenants", w->publish_tenants,
                        w->n_publish_tenants);
            s_grant_row(t, "read", w->read, w->n_read);
            s_grant_row(t, "consumer groups", w->groups, w->n_groups);
            s_grant_row(t, "admin", w->admin, w->n_admin);
            table_print(t, stdout, NULL);
            table_destroy(&t);
        }
    }
    ratusz__v1__whoami__free_unpacked(w, NULL);
    return status;
}

static const char s_reload_help[] =
    "Usage: ratusz reload [--json]\n"
    "\n"
    "Have the broker read its configuration and principals file again, as\n"
    "SIGHUP does (needs the 'reload' admin grant). Both are checked as a\n"
    "whole first: an error changes nothing, and names FILE:LINE. Live\n"
    "settings (log_level, limits, memory_budget, grants, ...) take effect;\n"
    "a changed setting that needs a restart (listen, data_dir, map_max,\n"
    "...) is named and keeps its running value. A principal removed from\n"
    "the grants is refused from its next request on. Prints what changed,\n"
    "what needs a restart, and who this client is now.\n"
    "\n"
    "  --json              the Whoami message as one JSON line\n";

static int s_cmd_reload(int argc, char **argv)
{
    bool json;
    int opt = s_json_only_opts("reload", s_reload_help, argc, argv, &json);
    if (opt >= 0)
        return opt;
    rz_client_t *cl;
    int conn = s_connect("reload", NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__Whoami *w = NULL;
    int rc = rz_reload(cl, &w);
    if (rc < 0) {
        int st = s_fail("reload", rc);
        s_disconnect(&cl);
        return st;
    }
    s_disconnect(&cl);
    if (json) {
        char *text = rz_message_to_json(&w->base);
        if (text)
            puts(text);
        free(text);
    } else {
        printf("configuration reloaded; this client is '%s'\n", w->principal);
        for (size_t i = 0; i < w->n_changed; i++)
            printf("  changed: %s\n", w->changed[i]);
        for (size_t i = 0; i < w->n_restart; i++)
            printf("  not applied: %s\n", w->restart[i]);
        if (w->n_changed == 0 && w->n_restart == 0)
            printf("  no setting changed\n");
    }
    ratusz__v1__whoami__free_unpacked(w, NULL);
    return S_EXIT_OK;
}

static const char s_verify_help[] =
    "Usage: ratusz verify [--from SEQ] [--json]\n"
    "\n"
    "Have the broker check the hash chain of its event log: every commit's\n"
    "digest covers its events and the digest of the commit before, so an\n"
    "event changed or removed on disk breaks the chain from there on. One\n"
    "line says what was found:\n"
    "\n"
    "  event log intact: 12,345 events in 87 commits from seq 1 to 12345\n"
    "  event log BROKEN at seq 4711: <reason>\n"
    "\n"
    "Exit status 0 when intact, 1 when broken (or the broker did not\n"
    "answer). 'ratusz audit verify' checks the audit log the same way.\n"
    "\n"
    "  --from SEQ          start at this seq (default: the first)\n"
    "  --json              the VerifyResult message as one JSON line\n";

static const char s_audit_verify_help[] =
    "Usage: ratusz audit verify [--from ID] [--json]\n"
    "\n"
    "Have the broker check the hash chain of its audit log: each record's\n"
    "digest covers the record and the digest of the one before. One line\n"
    "says what was found:\n"
    "\n"
    "  audit log intact: 1,234 records from id 1 to 1234\n"
    "  audit log BROKEN at record 17: <reason>\n"
    "\n"
    "Exit status 0 when intact, 1 when broken (or the broker did not\n"
    "answer).\n"
    "\n"
    "  --from ID           start at this record id (default: the first)\n"
    "  --json              the VerifyResult message as one JSON line\n";

/* verify and audit verify: log is "events" or "audit". */
static int s_verify(const char *cmd, const char *help, const char *log,
                    int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, S_OPT_FROM},
        {"json", no_argument, NULL, S_OPT_JSON}, S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    bool events = strcmp(log, "events") == 0;
    uint64_t from = 0;
    bool json = false;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(help); return S_EXIT_OK;
        case S_OPT_JSON: json = true; break;
        case S_OPT_FROM:
            if (s_parse_u64(optarg, &from) || from == 0)
                return events ? s_bad_seq(cmd, "--from", optarg)
                              : s_usage_error(cmd, "--from: not a record "
                                                   "id: '%s'", optarg);
            break;
        default:
            if ((g = s_global_opt(cmd, c, optarg, argv)) != 1)
                return g ? g : s_bad_option(cmd, '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    rz_client_t *cl;
    int conn = s_connect(cmd, NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__VerifyResult *v = NULL;
    int rc = rz_verify(cl, log, from, &v);
    s_disconnect(&cl);
    if (rc < 0)
        return s_fail(cmd, rc);
    int status = v->ok ? S_EXIT_OK : S_EXIT_FAIL;
    const char *what = events ? "event log" : "audit log";
    char a[32], b[32];
    if (json) {
        char *text = rz_message_to_json(&v->base);
        if (text)
            puts(text);
        else
            status = s_fail(cmd, RZ_ENOMEM);
        free(text);
    } else if (!v->ok) {
        printf("%s BROKEN at %s %" PRIu64 ": %s\n", what,
               events ? "seq" : "record", v->first_bad,
               *v->reason ? v->reason : "(no reason given)");
    } else if (v->checked == 0) {
        printf("%s intact: nothing to check\n", what);
    } else if (events) {
        printf("%s intact: %s events in %s commits from seq %" PRIu64
               " to %" PRIu64 "\n",
               what, rz_thousands(a, sizeof a, v->checked),
               rz_thousands(b, sizeof b, v->links), v->first, v->last);
    } else {
        printf("%s intact: %s records from id %" PRIu64 " to %" PRIu64 "\n",
               what, rz_thousands(a, sizeof a, v->checked), v->first, v->last);
    }
    if (!json && events && v->invalid)
        printf("%s stored event(s) hold strings the broker refuses today "
               "(stored by an older version), the first at seq %" PRIu64
               ": %s\n",
               rz_thousands(a, sizeof a, v->invalid), v->first_invalid,
               v->invalid_reason);
    /* what an intact log did not check: events stored before the chain,
     * or removed by retention */
    if (!json && events && v->ok && v->reason && *v->reason)
        printf("%s\n", v->reason);
    ratusz__v1__verify_result__free_unpacked(v, NULL);
    return status;
}

static int s_cmd_verify(int argc, char **argv)
{
    return s_verify("verify", s_verify_help, "events", argc, argv);
}

static const char s_audit_help[] =
    "Usage: ratusz audit [--since T] [--until T] [--principal P]\n"
    "                    [--subject S] [--limit N]\n"
    "       ratusz audit verify [--from ID] [--json]\n"
    "\n"
    "Print the broker's audit log, oldest first, one JSON object per line:\n"
    "who (principal and address) did what (read personal data, was denied,\n"
    "had its key refused, made an admin request, reloaded the grants), with\n"
    "which command and outcome. Every matching record is printed, page by\n"
    "page. Reading the audit log is an admin grant ('audit').\n"
    "'ratusz audit verify' checks the log's hash chain (see its --help).\n"
    "\n"
    "  --since T           records from T (inclusive): RFC 3339 or unix\n"
    "                      microseconds\n"
    "  --until T           records before T\n"
    "  --principal P       only this principal's records\n"
    "  --subject S         only records that name this subject\n"
    "  --limit N           print at most N records\n";

/* Records per AUDIT request, the broker's default page. */
#define S_AUDIT_PAGE 1000

static int s_cmd_audit(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return s_verify("audit verify", s_audit_verify_help, "audit",
                        argc - 1, argv + 1);
    static const struct option longopts[] = {
        {"since", required_argument, NULL, S_OPT_SINCE},
        {"until", required_argument, NULL, S_OPT_UNTIL},
        {"principal", required_argument, NULL, S_OPT_PRINCIPAL},
        {"subject", required_argument, NULL, S_OPT_SUBJECT},
        {"limit", required_argument, NULL, S_OPT_LIMIT},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    Ratusz__V1__AuditRequest req = RATUSZ__V1__AUDIT_REQUEST__INIT;
    uint64_t limit = 0;
    char why[200];
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_audit_help); return S_EXIT_OK;
        case S_OPT_PRINCIPAL: req.principal = optarg; break;
        case S_OPT_SUBJECT: req.subject = optarg; break;
        case S_OPT_SINCE:
        case S_OPT_UNTIL:
            if (s_parse_time(optarg, c == S_OPT_SINCE ? &req.since
                                                      : &req.until,
                             why, sizeof why))
                return s_usage_error("audit", "--%s: %s",
                                     c == S_OPT_SINCE ? "since" : "until",
                                     why);
            break;
        case S_OPT_LIMIT:
            if (s_parse_u64(optarg, &limit) || limit == 0)
                return s_bad_number("audit", "--limit", optarg);
            break;
        default:
            if ((g = s_global_opt("audit", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("audit", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("audit", "unexpected argument '%s'",
                             argv[optind]);
    if (req.since && req.until && req.until <= req.since)
        return s_usage_error("audit", "--until is not after --since");

    rz_client_t *cl;
    int conn = s_connect("audit", NULL, &cl);
    if (conn)
        return conn;
    s_install_signals();
    uint64_t printed = 0;
    int rc = 0;
    for (;;) {
        uint64_t left = limit ? limit - printed : 0;
        req.limit = left && left < S_AUDIT_PAGE ? (uint32_t)left : 0;
        Ratusz__V1__AuditList *list = NULL;
        rc = rz_audit(cl, &req, &list);
        if (rc < 0)
            break;
        for (size_t i = 0; i < list->n_records; i++) {
            if (limit && printed >= limit)
                break;
            char *text = rz_message_to_json(&list->records[i]->base);
            if (!text) {
                rc = RZ_ENOMEM;
                break;
            }
            puts(text);
            free(text);
            printed++;
        }
        fflush(stdout);
        uint64_t next = list->next_id;
        ratusz__v1__audit_list__free_unpacked(list, NULL);
        /* a next_id that does not move on would loop forever */
        if (rc < 0 || !next || next <= req.after_id || s_stop ||
            (limit && printed >= limit))
            break;
        req.after_id = next;
    }
    int status = rc < 0 ? s_fail("audit", rc) : S_EXIT_OK;
    s_disconnect(&cl);
    return status;
}

/* ==========================================================================
 * export: open data (the writers are in export.c)
 */

static const char s_export_help[] =
    "Usage: ratusz export --topic PREFIX --format csv|json|geojson\n"
    "                     [--since TIME] [--until TIME] [--output FILE]\n"
    "                     [--meta FILE] [--licence TEXT] [--crs EPSG:N] "
    "[--raw]\n"
    "\n"
    "Write the events of a topic prefix as an open-data file, with personal\n"
    "data always pseudonymised by the broker, whatever this principal may\n"
    "see (QUERY redact), and a metadata file beside it.\n"
    "\n"
    "  --topic PREFIX      events whose topic starts with PREFIX\n"
    "                      (\"2261011.tax.\"; \"\" = every topic)\n"
    "  --since TIME        event time from (inclusive), RFC 3339 or unix us\n"
    "  --until TIME        event time up to (exclusive)\n"
    "  --format F          csv: a header row, then one row per event (UTF-8,\n"
    "                        RFC 4180); time in UTC; a prefix naming a domain\n"
    "                        gives one column per field (nested with dots,\n"
    "                        money as decimal zloty: amount_zl \"1234.56\"),\n"
    "                        any other prefix the columns dataschema and data\n"
    "                        (JSON)\n"
    "                      json: one CloudEvent per line, as 'query' prints\n"
    "                      geojson: a FeatureCollection of the GIS events in\n"
    "                        their own CRS (a \"crs\" member unless\n"
    "                        EPSG:4326); others are skipped and counted.\n"
    "                        Nothing is reprojected.\n"
    "  --output FILE       write FILE (through a temporary file and rename)\n"
    "                      and FILE.meta.json; default standard output\n"
    "  --meta FILE         the metadata file (default FILE.meta.json with\n"
    "                      --output, none with standard output)\n"
    "  --licence TEXT      the licence named in the metadata (default null:\n"
    "                      the municipality's call, e.g. \"CC BY 4.0\")\n"
    "  --crs EPSG:N        geojson: only features in that CRS (one file holds\n"
    "                      one CRS; without it, a feature in another CRS than\n"
    "                      the first one's is an error)\n"
    "  --raw               also events with raw data (bytes without a schema:\n"
    "                      no redaction reaches them; skipped by default)\n";

/* Write text to path through path.tmp.PID and a rename. */
static int s_write_atomic(const char *path, const char *text)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "wx");
    if (!f)
        return -1;
    int ok = fputs(text, f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

typedef struct s_exporting {
    export_t *x;
    int rc;
    char err[600];
} s_exporting_t;

static int s_export_one(const rz_event_t *e, void *user)
{
    s_exporting_t *k = user;
    k->rc = export_event(k->x, e->msg, k->err, sizeof k->err);
    return k->rc != 0 || s_stop;
}

static int s_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, S_OPT_TOPIC},
        {"since", required_argument, NULL, S_OPT_SINCE},
        {"until", required_argument, NULL, S_OPT_UNTIL},
        {"format", required_argument, NULL, S_OPT_FORMAT},
        {"output", required_argument, NULL, S_OPT_OUTPUT},
        {"meta", required_argument, NULL, S_OPT_META},
        {"licence", required_argument, NULL, S_OPT_LICENCE},
        {"crs", required_argument, NULL, S_OPT_CRS},
        {"raw", no_argument, NULL, S_OPT_RAW},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    export_opts_t o;
    memset(&o, 0, sizeof o);
    const char *format = NULL, *output = NULL, *meta = NULL;
    char why[200];
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts, NULL)) !=
           -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_export_help); return S_EXIT_OK;
        case S_OPT_TOPIC: o.topic = optarg; break;
        case S_OPT_FORMAT: format = optarg; break;
        case S_OPT_OUTPUT: output = optarg; break;
        case S_OPT_META: meta = optarg; break;
        case S_OPT_LICENCE: o.licence = optarg; break;
        case S_OPT_RAW: o.raw = 1; break;
        case S_OPT_SINCE:
        case S_OPT_UNTIL:
            if (s_parse_time(optarg, c == S_OPT_SINCE ? &o.since : &o.until,
                             why, sizeof why))
                return s_usage_error("export", "--%s: %s",
                                     c == S_OPT_SINCE ? "since" : "until", why);
            break;
        case S_OPT_CRS: {
            const char *n = optarg;
            uint32_t code;
            if (!strncasecmp(n, "EPSG:", 5))
                n += 5;
            if (s_parse_u32(n, &code) || code == 0 || code > 999999)
                return s_usage_error("export", "--crs: not an EPSG code: '%s'",
                                     optarg);
            o.crs = (int)code;
            break;
        }
        default:
            if ((g = s_global_opt("export", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("export", '?', argv);
        }
    }
    if (optind < argc)
        return s_usage_error("export", "unexpected argument '%s'",
                             argv[optind]);
    if (!o.topic)
        return s_usage_error("export", "--topic is required (\"\" for every "
                                       "topic)");
    if (!format)
        return s_usage_error("export", "--format is required: csv, json or "
                                       "geojson");
    if (!strcmp(format, "csv"))
        o.format = EXPORT_CSV;
    else if (!strcmp(format, "json"))
        o.format = EXPORT_JSON;
    else if (!strcmp(format, "geojson"))
        o.format = EXPORT_GEOJSON;
    else
        return s_usage_error("export",
                             "--format: '%s' is not csv, json or "
                             "geojson",
                             format);
    if (o.crs && o.format != EXPORT_GEOJSON)
        return s_usage_error("export", "--crs is for --format geojson");
    if (o.since && o.until && o.until <= o.since)
        return s_usage_error("export", "--until is not after --since");
    if (output && !*output)
        return s_usage_error("export", "--output: an empty file name");
    char meta_path[4200];
    if (!meta && output) {
        if (snprintf(meta_path, sizeof meta_path, "%s.meta.json", output) >=
            (int)sizeof meta_path)
            return s_usage_error("export", "--output: the name is too long");
        meta = meta_path;
    }

    rz_client_t *cl;
    int conn = s_connect("export", NULL, &cl);
    if (conn)
        return conn;
    s_install_signals();

    /* the data goes to a temporary file beside the target: a reader of
     * FILE never sees half an export */
    char tmp[4200] = "";
    FILE *out = stdout;
    if (output) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", output) >=
            (int)sizeof tmp) {
            s_disconnect(&cl);
            return s_usage_error("export", "--output: the name is too long");
        }
        int fd = mkstemp(tmp);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            fprintf(stderr, "ratusz: export: %s: %s\n", output,
                    strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            s_disconnect(&cl);
            return S_EXIT_FAIL;
        }
        /* mkstemp makes 0600; open data gets what a new file would */
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
    }
    s_exporting_t k = {export_new(&o, out), 0, ""};
    int rc = k.x ? 0 : RZ_ENOMEM;
    rz_query_t q;
    memset(&q, 0, sizeof q);
    q.topic_prefix = o.topic;
    q.since = o.since;
    q.until = o.until;
    q.redact = 1;
    uint64_t withheld = 0;
    while (rc >= 0 && !k.rc && !s_stop) {
        rc = rz_query(cl, &q, s_export_one, &k);
        withheld += q.withheld;
        if (!q.after_len)
            break;
    }
    s_disconnect(&cl);
    if (rc >= 0 && !k.rc && s_stop) {
        snprintf(k.err, sizeof k.err, "interrupted");
        k.rc = RZ_EAGAIN;
    }
    if (rc >= 0 && !k.rc)
        k.rc = export_end(k.x, k.err, sizeof k.err);
    if (output) {
        /* complete and on disk before its name says so */
        int ok = rc >= 0 && !k.rc && fsync(fileno(out)) == 0;
        int e = errno;
        if (fclose(out) != 0 && ok) {
            ok = 0;
            e = errno;
        }
        if (rc >= 0 && !k.rc && !ok) {
            snprintf(k.err, sizeof k.err, "%s: %s", output, strerror(e));
            k.rc = RZ_EIO;
        }
        out = NULL;
    }
    if (rc >= 0 && !k.rc && output && rename(tmp, output) != 0) {
        snprintf(k.err, sizeof k.err, "%s: %s", output, strerror(errno));
        k.rc = RZ_EIO;
    }
    if (*tmp && (rc < 0 || k.rc))
        unlink(tmp);
    if (rc < 0 || k.rc) {
        export_destroy(&k.x);
        if (rc < 0)
            return s_fail("export", rc);
        fprintf(stderr, "ratusz: export: %s%s\n", k.err,
                output ? "; nothing written" : "");
        return S_EXIT_FAIL;
    }

    int status = S_EXIT_OK;
    export_withheld(k.x, withheld);
    char *text = export_meta(k.x, output);
    if (!text) {
        fprintf(stderr, "ratusz: export: out of memory\n");
        status = S_EXIT_FAIL;
    } else if (meta && s_write_atomic(meta, text) != 0) {
        fprintf(stderr, "ratusz: export: %s: %s\n", meta, strerror(errno));
        status = S_EXIT_FAIL;
    }
    free(text);
    char n1[32], n2[32];
    uint64_t skipped = export_skipped(k.x);
    fprintf(stderr, "ratusz: export: %s event%s to %s",
            rz_thousands(n1, sizeof n1, export_count(k.x)),
            export_count(k.x) == 1 ? "" : "s",
            output ? output : "standard output");
    if (skipped)
        fprintf(stderr, " (%s skipped: see the metadata)",
                rz_thousands(n2, sizeof n2, skipped));
    if (withheld)
        fprintf(stderr,
                "; %s withheld by the broker (outside this key's "
                "read grant, or not redactable)",
                rz_thousands(n2, sizeof n2, withheld));
    if (meta)
        fprintf(stderr, ", metadata in %s\n", meta);
    else
        fprintf(stderr, "; no metadata file (--meta FILE writes one)\n");
    export_destroy(&k.x);
    return status;
}

/* ==========================================================================
 * main
 */

/* ==========================================================================
 * backup, restore
 */

/* How long backup waits for the broker without -t: a big store takes
 * minutes to copy. */
#define S_BACKUP_TIMEOUT_MS (3600 * 1000)

static const char s_backup_help[] =
    "Usage: ratusz backup DIR [--json]\n"
    "\n"
    "Have the broker copy its event store, its audit log and its pseudonym\n"
    "key into DIR while it goes on serving. DIR is a path on the broker's\n"
    "machine (the broker writes it): absolute, and missing or empty. Every\n"
    "event acked before the request is in the copy; the copy is compacted.\n"
    "A manifest (DIR/manifest.json) is written last: it lists the head seq,\n"
    "the counts, the hash chains' last digests and each file's SHA-256. One\n"
    "line says what was copied:\n"
    "\n"
    "  backup in /srv/backup/2026-12-05: 1,000,000 events up to seq 1000000,\n"
    "  1.2 GB (store 1.3 GB) in 14.2 s\n"
    "\n"
    "Needs the admin grant 'backup'. One backup runs at a time. Without -t\n"
    "it waits up to an hour for the copy. 'ratusz restore' puts a backup in\n"
    "place.\n"
    "\n"
    "  --json              the BackupResult message as one JSON line\n";

static void s_bytes(char *buf, size_t len, uint64_t n)
{
    if (n >= (uint64_t)1 << 30)
        snprintf(buf, len, "%.1f GiB", (double)n / (1 << 30));
    else if (n >= (uint64_t)1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else
        snprintf(buf, len, "%" PRIu64 " bytes", n);
}

static int s_cmd_backup(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, S_OPT_JSON},
        S_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0}};
    bool json = false;
    int c, g;
    while ((c = getopt_long(argc, argv, S_GLOBAL_SHORTOPTS, longopts, NULL)) !=
           -1) {
        switch (c) {
        case S_OPT_HELP: s_help(s_backup_help); return S_EXIT_OK;
        case S_OPT_JSON: json = true; break;
        default:
            if ((g = s_global_opt("backup", c, optarg, argv)) != 1)
                return g ? g : s_bad_option("backup", '?', argv);
        }
    }
    if (optind >= argc)
        return s_usage_error("backup", "which directory? (ratusz backup DIR)");
    if (optind + 1 < argc)
        return s_usage_error("backup", "unexpected argument '%s'",
                             argv[optind + 1]);
    const char *dir = argv[optind];
    if (dir[0] != '/')
        return s_usage_error("backup",
                             "'%s' is not an absolute path: DIR is a path on "
                             "the broker's machine",
                             dir);
    rz_client_t *cl;
    int conn = s_connect("backup", NULL, &cl);
    if (conn)
        return conn;
    Ratusz__V1__BackupResult *r = NULL;
    int rc = rz_backup(
        cl, dir, s_opt.timeout_ms > 0 ? s_opt.timeout_ms : S_BACKUP_TIMEOUT_MS,
        &r);
    s_disconnect(&cl);
    if (rc < 0)
        return s_fail("backup", rc);
    if (json) {
        char *text = rz_message_to_json(&r->base);
        if (!text) {
            ratusz__v1__backup_result__free_unpacked(r, NULL);
            return s_fail("backup", RZ_ENOMEM);
        }
        puts(text);
        free(text);
    } else {
        char a[32], b[32], sz[32];
        s_bytes(a, sizeof a, r->bytes);
        s_bytes(b, sizeof b, r->store_bytes);
        printf("backup in %s: %s events up to seq %" PRIu64
               ", %s (store %s) in %.1f s\n",
               r->dir, rz_thousands(sz, sizeof sz, r->events), r->head_seq, a,
               b, (double)r->elapsed_us / 1e6);
    }
    ratusz__v1__backup_result__free_unpacked(r, NULL);
    return S_EXIT_OK;
}

static const char s_restore_help[] =
    "Usage: ratusz restore DIR --data-dir D [--force]\n"
    "                      [--audit-dir A] [--redaction-key FILE]\n"
    "\n"
    "Put the backup in DIR (made by 'ratusz backup') in place as the store of\n"
    "a ratuszd whose data_dir is D. Runs here, without a broker: DIR and D\n"
    "are paths on this machine. First every file of the backup is checked\n"
    "against the manifest (size and SHA-256); a damaged or changed backup\n"
    "is refused. D must not be in use by a ratuszd (stop it first), and must\n"
    "hold no store: --force moves what is there aside to D.replaced-TIME.\n"
    "The files are copied durably; the next ratuszd start on D verifies the\n"
    "event log's and the audit log's hash chains against the manifest and\n"
    "refuses to serve when they do not match.\n"
    "\n"
    "  --data-dir D        the broker's data_dir (required)\n"
    "  --audit-dir A       the broker's audit_dir, when it is not D/audit\n"
    "  --redaction-key F   the broker's redaction_key, when it is not\n"
    "                      D/redaction.key\n"
    "  --force             move an existing store aside instead of refusing\n";

/* Names in dir other than the lock file: 0 none, 1 some, -errno. */
static int s_dir_holds(const char *dir, char *first, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    int some = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "ratuszd.lock"))
            continue;
        snprintf(first, len, "%s", e->d_name);
        some = 1;
        break;
    }
    closedir(d);
    return some;
}

/* Move path aside to path.replaced-TIME; 0, or -errno (reported). */
static int s_move_aside(const char *path, const char *stamp)
{
    char to[4200];
    snprintf(to, sizeof to, "%s.replaced-%s", path, stamp);
    if (rename(path, to) != 0) {
        int rc = -errno;
        fprintf(stderr, "ratusz: restore: cannot move %s aside to %s: %s\n",
                path, to, strerror(errno));
        return rc;
    }
    rzc_sync_parent(to);
    fprintf(stderr, "ratusz: restore: moved %s aside to %s\n", path, to);
    return 0;
}

static int s_restore_copy(const char *dir, int which, const char *dst,
                          unsigned mode, const rzc_manifest_t *m)
{
    char src[4200], hex[65];
    uint64_t size;
    snprintf(src, sizeof src, "%s/%s", dir, rzc_backup_names[which]);
    int rc = rzc_copy_file(src, dst, mode, hex, &size);
    if (rc < 0) {
        fprintf(stderr, "ratusz: restore: copying %s to %s: %s\n", src, dst,
                rz_strerror(rc));
        return S_EXIT_FAIL;
    }
    /* what was copied is what was checked */
    if (size != m->files[which].size || strcmp(hex, m->files[which].sha256)) {
        fprintf(stderr,
                "ratusz: restore: %s changed while it was copied: restore "
                "again\n",
                src);
        unlink(dst);
        return S_EXIT_FAIL;
    }
    return S_EXIT_OK;
}

static int s_cmd_restore(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, S_OPT_DATA_DIR},
        {"audit-dir", required_argument, NULL, S_OPT_AUDIT_DIR},
        {"redaction-key", required_argument, NULL, S_OPT_REDACTION_KEY},
        {"force", no_argument, NULL, S_OPT_FORCE},
        {"help", no_argument, NULL, S_OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *data = NULL, *audit = NULL, *key = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case S_OPT_HELP: fputs(s_restore_help, stdout); return S_EXIT_OK;
        case S_OPT_DATA_DIR: data = optarg; break;
        case S_OPT_AUDIT_DIR: audit = optarg; break;
        case S_OPT_REDACTION_KEY: key = optarg; break;
        case S_OPT_FORCE: force = true; break;
        default: return s_bad_option("restore", c, argv);
        }
    }
    if (optind >= argc)
        return s_usage_error("restore", "which backup? (ratusz restore DIR "
                                        "--data-dir D)");
    if (optind + 1 < argc)
        return s_usage_error("restore", "unexpected argument '%s'",
                             argv[optind + 1]);
    if (!data || !*data)
        return s_usage_error("restore", "--data-dir D is required");
    /* "D/" is D: D is moved aside by its own name */
    char data_buf[4096];
    snprintf(data_buf, sizeof data_buf, "%s", data);
    for (size_t n = strlen(data_buf); n > 1 && data_buf[n - 1] == '/'; n--)
        data_buf[n - 1] = '\0';
    data = data_buf;
    const char *dir = argv[optind];
    char man[4200], err[9000], audit_dir[4200], key_file[4200], path[4400];
    snprintf(audit_dir, sizeof audit_dir, "%s/audit", data);
    snprintf(key_file, sizeof key_file, "%s/redaction.key", data);
    if (audit && *audit)
        snprintf(audit_dir, sizeof audit_dir, "%s", audit);
    if (key && *key)
        snprintf(key_file, sizeof key_file, "%s", key);

    /* the backup first: nothing is touched for a damaged one */
    rzc_manifest_t m;
    snprintf(man, sizeof man, "%s/%s", dir, RZC_BACKUP_MANIFEST);
    if (rzc_manifest_read(man, &m, err, sizeof err) < 0 ||
        rzc_manifest_check_files(dir, &m, err, sizeof err) < 0) {
        fprintf(stderr, "ratusz: restore: %s\n", err);
        return S_EXIT_FAIL;
    }

    int rc = rzc_mkdirs(data, 0750);
    if (rc < 0) {
        fprintf(stderr, "ratusz: restore: %s: %s\n", data, rz_strerror(rc));
        return S_EXIT_FAIL;
    }
    long holder = 0;
    int lock = rzc_lock_dir(data, "ratuszd.lock", 0640, &holder);
    if (lock == -EBUSY) {
        if (holder > 0)
            fprintf(stderr,
                    "ratusz: restore: %s is in use by ratuszd pid "
                    "%ld: stop it first\n",
                    data, holder);
        else
            fprintf(stderr,
                    "ratusz: restore: %s is in use by a ratuszd: "
                    "stop it first\n",
                    data);
        return S_EXIT_FAIL;
    }
    if (lock < 0) {
        fprintf(stderr, "ratusz: restore: %s: %s\n", data, rz_strerror(lock));
        return S_EXIT_FAIL;
    }
    int status = S_EXIT_FAIL;
    char first[256] = "";
    struct stat st;
    int in_data = s_dir_holds(data, first, sizeof first);
    int in_audit = s_dir_holds(audit_dir, first, sizeof first);
    int has_key = stat(key_file, &st) == 0;
    if (in_data < 0 || in_audit < 0) {
        fprintf(stderr, "ratusz: restore: %s: %s\n", data,
                strerror(-(in_data < 0 ? in_data : in_audit)));
        goto out;
    }
    if ((in_data || in_audit || has_key) && !force) {
        fprintf(stderr,
                "ratusz: restore: %s already holds a store (%s): restore "
                "into an empty directory, or give --force to move it "
                "aside\n",
                in_data    ? data
                : in_audit ? audit_dir
                           : key_file,
                in_data || in_audit ? first : "redaction.key");
        goto out;
    }
    if (in_data || in_audit || has_key) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        /* the audit dir and the key inside D move with it */
        int own_audit = audit && *audit, own_key = key && *key;
        if ((own_audit && in_audit && s_move_aside(audit_dir, stamp) < 0) ||
            (own_key && has_key && s_move_aside(key_file, stamp) < 0))
            goto out;
        if (in_data || (!own_key && has_key) || (!own_audit && in_audit)) {
            if (s_move_aside(data, stamp) < 0)
                goto out;
            close(lock);
            lock = -1;
            if ((rc = rzc_mkdirs(data, 0750)) < 0) {
                fprintf(stderr, "ratusz: restore: %s: %s\n", data,
                        rz_strerror(rc));
                goto out;
            }
            lock = rzc_lock_dir(data, "ratuszd.lock", 0640, &holder);
            if (lock < 0) {
                fprintf(stderr, "ratusz: restore: %s: %s\n", data,
                        lock == -EBUSY ? "a ratuszd took it meanwhile"
                                       : rz_strerror(lock));
                goto out;
            }
        }
    }

    snprintf(path, sizeof path, "%s/data.mdb", data);
    if (s_restore_copy(dir, RZC_FILE_STORE, path, 0640, &m))
        goto out;
    if (m.files[RZC_FILE_AUDIT].present) {
        if ((rc = rzc_mkdirs(audit_dir, 0700)) < 0) {
            fprintf(stderr, "ratusz: restore: %s: %s\n", audit_dir,
                    rz_strerror(rc));
            goto out;
        }
        snprintf(path, sizeof path, "%s/data.mdb", audit_dir);
        if (s_restore_copy(dir, RZC_FILE_AUDIT, path, 0600, &m))
            goto out;
    }
    if (m.files[RZC_FILE_KEY].present &&
        s_restore_copy(dir, RZC_FILE_KEY, key_file, 0600, &m))
        goto out;
    /* the next start verifies before serving, then removes this */
    snprintf(path, sizeof path, "%s/%s", data, RZC_RESTORE_MARKER);
    if (rzc_manifest_write(path, &m, err, sizeof err) < 0) {
        fprintf(stderr, "ratusz: restore: %s\n", err);
        goto out;
    }
    char a[32], b[32];
    printf("restored the backup of %s into %s: %s events up to seq %" PRIu64
           ", %s consumer group(s); the next ratuszd start verifies it "
           "before serving\n",
           m.created, data, rz_thousands(a, sizeof a, m.events), m.head_seq,
           rz_thousands(b, sizeof b, m.groups));
    status = S_EXIT_OK;
out:
    if (lock >= 0)
        close(lock);
    return status;
}

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
    {"top", s_cmd_top, "the broker on one full screen: rates, problems"},
    {"health", s_cmd_health, "check that the broker is up"},
    {"consumers", s_cmd_consumers, "list durable consumer groups"},
    {"fetch", s_cmd_fetch, "print the next events for a consumer group"},
    {"commit", s_cmd_commit, "move a consumer group's position"},
    {"keygen", s_cmd_keygen, "make a CURVE key pair (NAME.key, NAME.pub)"},
    {"whoami", s_cmd_whoami, "show this client's principal and grants"},
    {"passwd", s_cmd_passwd, "hash a web console password (Argon2id)"},
    {"reload", s_cmd_reload,
     "have the broker read its configuration and grants again"},
    {"audit", s_cmd_audit, "print the audit log; 'audit verify' checks it"},
    {"verify", s_cmd_verify, "check the event log's hash chain"},
    {"backup", s_cmd_backup, "have the broker copy its store into DIR"},
    {"restore", s_cmd_restore, "put a backup in place as a data dir"},
    {"export", s_cmd_export, "write a topic's events as open data (CSV, ...)"},
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
    const char *key = getenv("RATUSZ_KEY");
    const char *server_key = getenv("RATUSZ_SERVER_KEY");
    if (key && *key) {
        s_opt.key = key;
        s_opt.key_from = "$RATUSZ_KEY";
    }
    if (server_key && *server_key) {
        s_opt.server_key = server_key;
        s_opt.server_key_from = "$RATUSZ_SERVER_KEY";
    }
    if (!s_opt.stream || !*s_opt.stream)
        s_opt.stream = RZ_DEFAULT_STREAM;
    else
        s_opt.stream_given = true;

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
