/* config.c - ratuszd configuration: the option table; the engine that
 * turns it into defaults, the YAML loader, flags, --help and
 * --print-config is lib/conf.c */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ratusz/conf.h"
#include "ratusz/errors.h"
#include "ratusz/core/log.h" /* enum rzc_log_format only */
#include "retention.h"
#include "store.h" /* enum rz_sync_mode only */

_Static_assert(RZC_LOG_FORMAT_AUTO == 0 && RZC_LOG_FORMAT_OWN == 1 &&
                   RZC_LOG_FORMAT_JOURNAL == 2,
               "s_log_formats order");

/* The sync choices below are indexed by the enum value. */
_Static_assert(RZ_SYNC_FULL == 0 && RZ_SYNC_OS == 1, "s_sync_names order");

/* ===========================================================================
 * The option table
 */

static const char *const s_sync_names[] = {"full", "os", NULL};
static const char *const s_security_names[] = {"auto", "curve", "none", NULL};
static const char *const s_log_levels[] = {"error", "warn", "info", "debug",
                                           NULL};
/* indexed by enum rzc_log_format (ratusz/core/log.h) */
static const char *const s_log_formats[] = {"auto", "stamped", "journal",
                                            NULL};

#define S_OFF(field) offsetof(rz_config_t, field)
#define S_KIB UINT64_C(1024)
#define S_MIB (1024 * S_KIB)
#define S_MAP_MAX (UINT64_C(64) << 40) /* 64T */

static const rz_conf_option_t s_options[] = {
    {"data_dir", RZ_CONF_STRING, S_OFF(data_dir), "./var/ratusz", NULL, 0, 0, "DIR",
     "directory of the LMDB event store, created if missing"},
    {"listen", RZ_CONF_STRING, S_OFF(listen), "tcp://127.0.0.1:7600", NULL, 0, 0,
     "ENDPOINT", "ZeroMQ endpoint of the request socket (ROUTER)"},
    {"stream", RZ_CONF_STRING, S_OFF(stream), "tcp://127.0.0.1:7601", NULL, 0, 0,
     "ENDPOINT", "ZeroMQ endpoint of the live event stream (XPUB)"},
    {"metrics", RZ_CONF_STRING, S_OFF(metrics), "127.0.0.1:7602", NULL, 0, 0,
     "HOST:PORT", "HTTP address of /metrics and /healthz; \"off\" for none"},
    {"sync", RZ_CONF_ENUM, S_OFF(sync), "full", s_sync_names, 0, 0, "full|os",
     "full: fsync every commit, acks survive power loss; os: the OS flushes"},
    /* The map is address space, not memory: a 64-bit process has 128T of
     * user address space (47 bits) and LMDB reserves the whole map_max at
     * once, so 64T leaves room for everything else and is far beyond any
     * disk a town hall will buy. */
    {"map_size", RZ_CONF_SIZE, S_OFF(map_size), "256M", NULL, 64 * S_KIB, S_MAP_MAX,
     "SIZE", "initial size of the LMDB map"},
    {"map_max", RZ_CONF_SIZE, S_OFF(map_max), "64G", NULL, 64 * S_KIB, S_MAP_MAX,
     "SIZE",
     "largest the LMDB map may grow to; then publishes get "
     "RZ_ESTOREFULL"},
    /* ZeroMQ holds every message whole in memory, and a request is copied
     * once more when it is decoded: 256M is already more than any event
     * needs (the client refuses events over 16M). */
    {"max_message", RZ_CONF_SIZE, S_OFF(max_message), "4M", NULL, S_KIB, 256 * S_MIB,
     "SIZE", "largest request body accepted"},
    /* one batch is decoded and held whole, then written in one transaction */
    {"max_batch", RZ_CONF_UINT, S_OFF(max_batch), "10000", NULL, 1, 100000, "N",
     "most events in one batch publish (PUBB)"},
    /* each queued event holds its encoded bytes: 10M of them is already
     * gigabytes */
    {"max_inflight", RZ_CONF_UINT, S_OFF(max_inflight), "200000", NULL, 1, 10000000, "N",
     "events queued for the writer before requests wait in the socket"},
    /* a segment is zero-filled and synced once, then written again and
     * again; a small disk gets smaller ones (journal.h) */
    {"journal_segment", RZ_CONF_SIZE, S_OFF(journal_segment), "64M", NULL,
     64 * S_KIB, 4096 * S_MIB, "SIZE",
     "size of a journal segment file (sync: full)"},
    /* one write transaction holds its dirty pages in memory until commit */
    {"commit_max", RZ_CONF_UINT, S_OFF(commit_max), "8192", NULL, 1, 1000000, "N",
     "most events written in one LMDB transaction"},
    /* the entries waiting for their run are in memory: about 40 bytes
     * each, and up to three runs' worth (store.c) */
    {"subject_run", RZ_CONF_UINT, S_OFF(subject_run), "65536", NULL, 1,
     4194304, "N",
     "events with a subject per run of the subject index (kept in memory "
     "until the run is written)"},
    /* a page is built whole in memory and sent as one message */
    {"query_limit", RZ_CONF_UINT, S_OFF(query_limit), "1000", NULL, 1, 100000, "N",
     "events per QUERY page when the request sets no limit"},
    {"replay_chunk", RZ_CONF_UINT, S_OFF(replay_chunk), "1000", NULL, 1, 100000, "N",
     "events per REPLAY reply"},
    /* ZMQ_SNDHWM is an int; past 10M queued messages per subscriber the
     * broker's memory goes before the subscriber catches up */
    {"stream_hwm", RZ_CONF_UINT, S_OFF(stream_hwm), "100000", NULL, 1, 10000000, "N",
     "messages queued per live subscriber before ZeroMQ drops them"},
    {"log_level", RZ_CONF_STRING, S_OFF(log_level), "info", s_log_levels, 0, 0,
     "LEVEL", "error, warn, info or debug"},
    {"security", RZ_CONF_ENUM, S_OFF(security), "auto", s_security_names, 0, 0,
     "auto|curve|none",
     "auto: CURVE when server_key is set, else loopback only; none: no "
     "authentication on any address"},
    {"server_key", RZ_CONF_STRING, S_OFF(server_key), "", NULL, 0, 0, "FILE",
     "the broker's CURVE secret key (ratusz keygen); turns CURVE on"},
    {"principals", RZ_CONF_STRING, S_OFF(principals), "", NULL, 0, 0, "FILE",
     "who may do what: keys and grants (reloaded on SIGHUP)"},
    {"stream_redacted", RZ_CONF_STRING, S_OFF(stream_redacted), "", NULL, 0, 0,
     "ENDPOINT",
     "live stream with personal data pseudonymised, for readers without "
     "clearance; \"\" = none"},
    {"redaction_key", RZ_CONF_STRING, S_OFF(redaction_key), "", NULL, 0, 0,
     "FILE", "secret of the pseudonyms; \"\" = DATA_DIR/redaction.key"},
    {"audit_dir", RZ_CONF_STRING, S_OFF(audit_dir), "", NULL, 0, 0, "DIR",
     "audit log (its own LMDB environment); \"\" = DATA_DIR/audit"},
    {"audit_retention_days", RZ_CONF_UINT, S_OFF(audit_retention_days), "730",
     NULL, 1, 36500, "DAYS", "how long audit records are kept"},
    {"max_groups", RZ_CONF_UINT, S_OFF(max_groups), "10000", NULL, 1, 1000000,
     "N",
     "most consumer groups; a FETCH or COMMIT that would make one more is "
     "refused"},
    {"memory_budget", RZ_CONF_SIZE, S_OFF(memory_budget), "256M", NULL,
     16 * S_KIB * S_KIB, UINT64_C(1) << 40, "SIZE",
     "memory held outside the LMDB map (queued requests, socket buffers, "
     "reports); past half of it the broker stops reading requests"},
    /* a watch holds at most its window (plus one push) in the broker */
    {"watch_window", RZ_CONF_SIZE, S_OFF(watch_window), "1M", NULL,
     64 * S_KIB, S_KIB * S_KIB * S_KIB, "SIZE",
     "bytes a WATCH subscriber may have sent and not yet acknowledged; "
     "past it the watch is cut off"},
    {"max_watchers", RZ_CONF_UINT, S_OFF(max_watchers), "1024", NULL, 1,
     100000, "N", "most WATCH subscriptions open at once"},
    /* retention.h: checked by rz_retention_rules_parse */
    {"retention", RZ_CONF_SECTIONS, S_OFF(retention), "", NULL, 0, 0,
     "PREFIX: {max_age, max_bytes}",
     "per topic prefix: remove events older than max_age (400d, 12h) or "
     "the oldest past max_bytes (200G); the longest prefix wins, \"\" is "
     "the default"},
    {"retention_hold_max", RZ_CONF_STRING, S_OFF(retention_hold_max), "30d",
     NULL, 0, 0, "DURATION",
     "a consumer group holds unread events from retention until they are "
     "this old; then it loses them (0 = hold forever)"},
    {"dedup_window", RZ_CONF_STRING, S_OFF(dedup_window), "7d", NULL, 0, 0,
     "DURATION",
     "how long the source+id of an event removed by retention still "
     "dedups a republish (0 = not at all)"},
    {"retention_interval", RZ_CONF_STRING, S_OFF(retention_interval), "60s",
     NULL, 0, 0, "DURATION", "time between retention passes"},
    {"log_format", RZ_CONF_ENUM, S_OFF(log_format), "auto", s_log_formats,
     0, 0, "auto|stamped|journal",
     "journal: lines start with their syslog priority (<4>) and no time; "
     "auto: so when stderr is the journal"},
    {"console", RZ_CONF_BOOL, S_OFF(console), "false", NULL, 0, 0, "BOOL",
     "the read-only web console on the metrics address (logins: "
     "console_password in the principals file)"},
    {"console_tls_cert", RZ_CONF_STRING, S_OFF(console_tls_cert), "", NULL, 0,
     0, "FILE", "PEM certificate: HTTPS for the console and /metrics "
     "(needed beyond loopback)"},
    {"console_tls_key", RZ_CONF_STRING, S_OFF(console_tls_key), "", NULL, 0, 0,
     "FILE", "PEM private key of console_tls_cert"},
    {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0, 0, NULL, NULL},
};

/* The options a reload (SIGHUP, RELOAD) applies while running; every other
 * one is named as needing a restart and keeps its running value: the
 * endpoints are bound, the store and the journal are open with their
 * sizes, the keys are loaded, and stream_hwm is a socket option of the
 * bound streams. A new option is restart-only until it is named here.
 * One read by a thread other than the front thread must be a number
 * (read there with rz_config_u64) or be handed over by the reload. */
static const char *const s_live[] = {
    "log_level",    "max_message",  "max_batch",
    "max_inflight", "query_limit",  "replay_chunk",
    "commit_max",   "memory_budget", "max_groups",
    "watch_window", "max_watchers", "audit_retention_days",
    "principals",   "log_format",   "retention",
    "retention_hold_max", "dedup_window", "retention_interval", NULL,
};

/* The shortest exact text of a size, as the engine prints it. */
static void s_size_text(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        unsigned shift = 10u * (unsigned)(4 - i);
        uint64_t unit = UINT64_C(1) << shift;
        if (v != 0 && v % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", v / unit, units[i]);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, v);
}

int rz_config_parse_size(const char *text, uint64_t *out)
{
    return rz_conf_parse_size(text, out);
}

int rz_config_init(rz_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    return rz_conf_init(s_options, cfg);
}

void rz_config_close(rz_config_t *cfg)
{
    rz_conf_close(s_options, cfg);
}

int rz_config_set(rz_config_t *cfg, const char *name, const char *value,
                  char *err, size_t err_len)
{
    return rz_conf_set(s_options, cfg, name, value, err, err_len);
}

int rz_config_load_string(rz_config_t *cfg, const char *yaml, size_t len,
                          const char *name, char *err, size_t err_len)
{
    return rz_conf_load_string(s_options, cfg, yaml, len, name, err, err_len);
}

int rz_config_load_file(rz_config_t *cfg, const char *path, char *err,
                        size_t err_len)
{
    return rz_conf_load_file(s_options, cfg, path, err, err_len);
}

/* ===========================================================================
 * Checks
 */

/* "" and "off" disable the metrics server; anything else is HOST:PORT
 * (HOST may be empty for all addresses, or [v6]). */
static bool s_metrics_ok(const char *m)
{
    if (!*m || !strcmp(m, "off"))
        return true;
    const char *colon = strrchr(m, ':');
    if (!colon || !colon[1] || strlen(colon + 1) > 5)
        return false;
    unsigned port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        port = port * 10 + (unsigned)(*p - '0');
    }
    if (port > 65535)
        return false;
    if (m[0] == '[' && colon[-1] != ']')
        return false;
    return true;
}

int rz_config_check(const rz_config_t *cfg, char *err, size_t err_len)
{
    char a[32], b[32];

    /* every option on its own, as the loader would have checked it: the
     * struct may have been filled by hand */
    int rc = rz_conf_check(s_options, cfg, err, err_len);
    if (rc != 0)
        return rc;

    if (!*cfg->data_dir) {
        rzc_errf(err, err_len, "data_dir is empty");
        return RZ_ECONFIG;
    }
    if (!strstr(cfg->listen, "://")) {
        rzc_errf(err, err_len,
                 "listen '%s' is not a ZeroMQ endpoint "
                 "(tcp://HOST:PORT or ipc://PATH)",
                 cfg->listen);
        return RZ_ECONFIG;
    }
    if (!strstr(cfg->stream, "://")) {
        rzc_errf(err, err_len,
                 "stream '%s' is not a ZeroMQ endpoint "
                 "(tcp://HOST:PORT or ipc://PATH)",
                 cfg->stream);
        return RZ_ECONFIG;
    }
    if (!strcmp(cfg->listen, cfg->stream)) {
        rzc_errf(err, err_len, "listen and stream are both '%s'", cfg->listen);
        return RZ_ECONFIG;
    }
    if (!s_metrics_ok(cfg->metrics)) {
        rzc_errf(err, err_len, "metrics '%s' is not HOST:PORT or \"off\"",
                 cfg->metrics);
        return RZ_ECONFIG;
    }
    if (cfg->map_max < cfg->map_size) {
        s_size_text(cfg->map_max, a, sizeof a);
        s_size_text(cfg->map_size, b, sizeof b);
        rzc_errf(err, err_len, "map_max (%s) is smaller than map_size (%s)", a,
                 b);
        return RZ_ECONFIG;
    }
    if (cfg->max_message > cfg->map_max) {
        s_size_text(cfg->max_message, a, sizeof a);
        s_size_text(cfg->map_max, b, sizeof b);
        rzc_errf(err, err_len, "max_message (%s) is larger than map_max (%s)",
                 a, b);
        return RZ_ECONFIG;
    }
    if (*cfg->stream_redacted && !strstr(cfg->stream_redacted, "://")) {
        rzc_errf(err, err_len,
                 "stream_redacted '%s' is not a ZeroMQ endpoint "
                 "(tcp://HOST:PORT or ipc://PATH)",
                 cfg->stream_redacted);
        return RZ_ECONFIG;
    }
    if (*cfg->stream_redacted && (!strcmp(cfg->stream_redacted, cfg->listen) ||
                                  !strcmp(cfg->stream_redacted, cfg->stream))) {
        rzc_errf(err, err_len, "stream_redacted '%s' is already in use",
                 cfg->stream_redacted);
        return RZ_ECONFIG;
    }
    int curve = cfg->security == RZ_SECURITY_CURVE ||
                (cfg->security == RZ_SECURITY_AUTO && *cfg->server_key);
    if (cfg->security == RZ_SECURITY_NONE && (*cfg->server_key ||
                                              *cfg->principals)) {
        rzc_errf(err, err_len,
                 "security is 'none' but %s is set: remove it, or use "
                 "security: curve",
                 *cfg->server_key ? "server_key" : "principals");
        return RZ_ECONFIG;
    }
    if (curve && (!*cfg->server_key || !*cfg->principals)) {
        rzc_errf(err, err_len,
                 "CURVE needs both server_key (the broker's secret key) and "
                 "principals (who may connect); %s is missing",
                 *cfg->server_key ? "principals" : "server_key");
        return RZ_ECONFIG;
    }
    if (!curve && *cfg->principals) {
        rzc_errf(err, err_len,
                 "principals is set but server_key is not: grants need CURVE "
                 "to know who is asking");
        return RZ_ECONFIG;
    }
    if (!curve && cfg->security != RZ_SECURITY_NONE) {
        const char *eps[] = {cfg->listen, cfg->stream, cfg->stream_redacted};
        for (size_t i = 0; i < 3; i++)
            if (*eps[i] && !rz_config_endpoint_local(eps[i])) {
                rzc_errf(err, err_len,
                         "refusing to serve %s without CURVE: anyone who can "
                         "reach it could read and publish everything. Set "
                         "server_key and principals (docs/SECURITY.md), or "
                         "'security: none' to accept that",
                         eps[i]);
                return RZ_ECONFIG;
            }
    }
    /* a request the budget can never hold would wait forever */
    if (cfg->max_message * 4 > cfg->memory_budget) {
        s_size_text(cfg->max_message, a, sizeof a);
        s_size_text(cfg->memory_budget, b, sizeof b);
        rzc_errf(err, err_len,
                 "max_message (%s) must be at most a quarter of memory_budget "
                 "(%s)",
                 a, b);
        return RZ_ECONFIG;
    }
    rz_retention_rules_t rules;
    if ((rc = rz_retention_rules_parse(&rules, cfg, err, err_len)) != 0)
        return rc;
    rz_retention_rules_free(&rules);
    /* a batch the queue can never hold would be refused forever */
    if (cfg->max_inflight < cfg->max_batch) {
        rzc_errf(err, err_len,
                 "max_inflight (%" PRIu64
                 ") is smaller than max_batch (%" PRIu64 ")",
                 cfg->max_inflight, cfg->max_batch);
        return RZ_ECONFIG;
    }
    return 0;
}

int rz_config_endpoint_local(const char *ep)
{
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *host = ep + 6;
    /* tcp://[SOURCE;]HOST:PORT: a source address only applies to connect */
    const char *end = strrchr(host, ':');
    if (!end)
        return 0;
    size_t n = (size_t)(end - host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        return n == 5 && !memcmp(host, "[::1]", 5);
    if (n == 9 && !memcmp(host, "localhost", 9))
        return 1;
    if (n < 4 || memcmp(host, "127.", 4) != 0)
        return 0;
    for (size_t i = 4; i < n; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.')
            return 0;
    return 1;
}

/* ===========================================================================
 * The command line and live reload
 */

int rz_config_from_args(rz_config_t *cfg, int argc, char *const *argv,
                        char *err, size_t err_len)
{
    /* -c first, so flags given anywhere override the file */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
            i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path && rz_config_load_file(cfg, path, err, err_len) < 0)
            return RZ_ECONFIG;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-V") ||
            !strcmp(a, "--version") || !strcmp(a, "--print-config") ||
            !strncmp(a, "--config=", 9))
            continue;
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            rzc_errf(err, err_len, "unexpected argument '%s' (see --help)", a);
            return RZ_ECONFIG;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        const char *val;
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            if (i + 1 >= argc) {
                rzc_errf(err, err_len, "option --%s needs a value", name);
                return RZ_ECONFIG;
            }
            val = argv[++i];
        }
        if (rz_config_set(cfg, name, val, err, err_len) < 0)
            return RZ_ECONFIG;
    }
    return 0;
}

int rz_config_is_live(const char *name)
{
    for (size_t i = 0; name && s_live[i]; i++)
        if (!strcmp(name, s_live[i]))
            return 1;
    return 0;
}

/* One option's value as --print-config writes it (malloc'd), to compare
 * and to name it: whatever its type, the engine prints it. */
static char *s_value_text(const rz_conf_option_t *o, const rz_config_t *cfg)
{
    if (o->type == RZ_CONF_STRING) { /* as written, without YAML quotes */
        const char *v = *(char *const *)((const char *)cfg + o->offset);
        return strdup(v ? v : "");
    }
    rz_conf_option_t one[2] = {*o, {NULL, RZ_CONF_STRING, 0, NULL, NULL, 0,
                                    0, NULL, NULL}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    rz_conf_print(one, cfg, "", f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    /* "# title\n\n# description\nname: value\n" */
    size_t nlen = strlen(o->name);
    char *at = text;
    while ((at = strstr(at, o->name)) != NULL) {
        if ((at == text || at[-1] == '\n') && at[nlen] == ':')
            break;
        at++;
    }
    if (!at) {
        free(text);
        return NULL;
    }
    at += nlen + 1;
    while (*at == ' ')
        at++;
    size_t vlen = strlen(at);
    while (vlen && at[vlen - 1] == '\n')
        vlen--;
    memmove(text, at, vlen);
    text[vlen] = '\0';
    return text;
}

static size_t s_type_size(rz_conf_type_t t)
{
    switch (t) {
    case RZ_CONF_STRING: return sizeof(char *);
    case RZ_CONF_SIZE:
    case RZ_CONF_UINT: return sizeof(uint64_t);
    case RZ_CONF_ENUM:
    case RZ_CONF_BOOL: return sizeof(int);
    case RZ_CONF_MAP: return sizeof(rz_conf_map_t);
    case RZ_CONF_LIST: return sizeof(rz_conf_list_t);
    case RZ_CONF_SECTIONS: return sizeof(rz_conf_sections_t);
    }
    return 0;
}

/* Swap one option's value between the running config and the fresh one;
 * numbers are stored atomically for the threads that read them. */
static void s_swap_value(const rz_conf_option_t *o, rz_config_t *running,
                         rz_config_t *fresh)
{
    char *r = (char *)running + o->offset, *f = (char *)fresh + o->offset;
    if (o->type == RZ_CONF_SIZE || o->type == RZ_CONF_UINT) {
        uint64_t nv, ov = *(uint64_t *)r;
        memcpy(&nv, f, sizeof nv);
        __atomic_store_n((uint64_t *)r, nv, __ATOMIC_RELAXED);
        memcpy(f, &ov, sizeof ov);
    } else if (o->type == RZ_CONF_ENUM || o->type == RZ_CONF_BOOL) {
        int nv, ov = *(int *)r;
        memcpy(&nv, f, sizeof nv);
        __atomic_store_n((int *)r, nv, __ATOMIC_RELAXED);
        memcpy(f, &ov, sizeof ov);
    } else {
        unsigned char tmp[64];
        size_t n = s_type_size(o->type);
        _Static_assert(sizeof(rz_conf_sections_t) <= 64 &&
                           sizeof(rz_conf_map_t) <= 64 &&
                           sizeof(rz_conf_list_t) <= 64,
                       "s_swap_value's buffer");
        memcpy(tmp, r, n);
        memcpy(r, f, n);
        memcpy(f, tmp, n);
    }
}

static int s_diff_add(char ***lines, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_diff_add(char ***lines, size_t *n, const char *fmt, ...)
{
    char **grown = realloc(*lines, (*n + 1) * sizeof *grown);
    if (!grown)
        return RZ_ENOMEM;
    *lines = grown;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&grown[*n], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return RZ_ENOMEM;
    (*n)++;
    return 0;
}

/* Values longer than this are cut in the lines (a principals path, a
 * retention rule list): the file says the rest. */
#define S_VALUE_SHOWN 160

int rz_config_reload(rz_config_t *running, rz_config_t *fresh,
                     rz_config_diff_t *diff, char *err, size_t err_len)
{
    memset(diff, 0, sizeof *diff);
    /* what will run: the restart-only values that stay, with the new live
     * ones (borrowed, for the check only) */
    rz_config_t merged = *running;
    for (const rz_conf_option_t *o = s_options; o->name; o++)
        if (rz_config_is_live(o->name))
            memcpy((char *)&merged + o->offset,
                   (const char *)fresh + o->offset, s_type_size(o->type));
    char why[512];
    if (rz_config_check(&merged, why, sizeof why) < 0) {
        rzc_errf(err, err_len,
                 "%s (with the values that need a restart kept as they run)",
                 why);
        return RZ_ECONFIG;
    }
    /* every line first, so that running changes only when all are made */
    int rc = 0;
    unsigned char *swap = calloc(sizeof s_options / sizeof s_options[0], 1);
    if (!swap)
        return RZ_ENOMEM;
    size_t i = 0;
    for (const rz_conf_option_t *o = s_options; o->name && !rc; o++, i++) {
        char *was = s_value_text(o, running), *now = s_value_text(o, fresh);
        if (!was || !now)
            rc = RZ_ENOMEM;
        else if (strcmp(was, now) != 0 && rz_config_is_live(o->name)) {
            rc = s_diff_add(&diff->changed, &diff->n_changed,
                            "%s: %.*s -> %.*s", o->name, S_VALUE_SHOWN, was,
                            S_VALUE_SHOWN, now);
            swap[i] = 1;
        } else if (strcmp(was, now) != 0) {
            rc = s_diff_add(&diff->restart, &diff->n_restart,
                            "%s: needs a restart (running %.*s, file says "
                            "%.*s)",
                            o->name, S_VALUE_SHOWN, was, S_VALUE_SHOWN, now);
        }
        free(was);
        free(now);
    }
    if (rc < 0) {
        free(swap);
        rz_config_diff_close(diff);
        rzc_errf(err, err_len, "out of memory");
        return rc;
    }
    i = 0;
    for (const rz_conf_option_t *o = s_options; o->name; o++, i++)
        if (swap[i])
            s_swap_value(o, running, fresh);
    free(swap);
    return 0;
}

void rz_config_diff_close(rz_config_diff_t *diff)
{
    for (size_t i = 0; i < diff->n_changed; i++)
        free(diff->changed[i]);
    for (size_t i = 0; i < diff->n_restart; i++)
        free(diff->restart[i]);
    free(diff->changed);
    free(diff->restart);
    memset(diff, 0, sizeof *diff);
}

/* ===========================================================================
 * Output
 */

void rz_config_print(const rz_config_t *cfg, FILE *out)
{
    rz_conf_print(s_options, cfg, "ratuszd configuration (effective values)",
                  out);
}

void rz_config_usage(FILE *out)
{
    rz_conf_usage(s_options, out);
}
