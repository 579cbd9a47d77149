/* config.h - ratuszd configuration: one option table, YAML file and flags.
 *
 * Every option is declared once in config.c's table with its type, default
 * and description; the table drives the YAML loader (unknown keys are errors
 * naming the key and its line), the command-line flags (--data-dir for
 * data_dir), --help text and --print-config.
 */
#ifndef RATUSZ_BROKER_CONFIG_H
#define RATUSZ_BROKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ratusz/conf.h"

typedef struct rz_config {
    char *data_dir;         /* "./var/ratusz" */
    char *listen;           /* front ROUTER: "tcp://127.0.0.1:7600" */
    char *stream;           /* XPUB: "tcp://127.0.0.1:7601" */
    char *metrics;          /* HTTP "127.0.0.1:7602"; "" or "off" = none */
    int sync;               /* enum rz_sync_mode: "full" | "os" */
    uint64_t map_size;      /* initial LMDB map, bytes (default 256 MiB) */
    uint64_t map_max;       /* grow up to, bytes (default 64 GiB) */
    uint64_t max_message;   /* largest request body, bytes (default 4 MiB) */
    uint64_t max_batch;     /* most events in one PUBB (default 10000) */
    uint64_t max_inflight;  /* events queued for the writer before the
                               front stops reading requests until it
                               catches up (default 200000) */
    uint64_t journal_segment; /* journal segment file, bytes (64 MiB) */
    uint64_t commit_max;    /* most events in one transaction (default 8192) */
    uint64_t subject_run;   /* events per run of the subject index (65536) */
    uint64_t query_limit;   /* default and cap of a QUERY page (1000/10000) */
    uint64_t replay_chunk;  /* events per REPLAY reply (default 1000) */
    uint64_t stream_hwm;    /* XPUB high-water mark, messages (default 100000) */
    char *log_level;        /* "error" | "warn" | "info" | "debug" */
    int log_format;         /* enum rzc_log_format: "auto" | "stamped" |
                               "journal" */

    /* security (docs/SECURITY.md) */
    int security;           /* enum rz_security */
    char *server_key;       /* the broker's CURVE secret key file */
    char *principals;       /* the grants: principals YAML file */
    char *stream_redacted;  /* XPUB for readers without personal-data
                               clearance; "" = none */
    char *redaction_key;    /* pseudonym secret; "" = DATA_DIR/redaction.key */
    char *audit_dir;        /* "" = DATA_DIR/audit */
    uint64_t audit_retention_days; /* 730 */

    /* memory the broker may hold outside the LMDB map (requests queued for
     * the writer, reports, socket buffers): docs/PROTOCOL.md section 9 */
    uint64_t memory_budget; /* 256 MiB */
    uint64_t max_groups;    /* consumer groups, at most (10000) */
    uint64_t watch_window;  /* WATCH: unacknowledged bytes per watch (1 MiB) */
    uint64_t max_watchers;  /* WATCH: open at once (1024) */

    /* retention (retention.h parses these into rz_retention_rules_t) */
    rz_conf_sections_t retention; /* topic prefix: {max_age, max_bytes} */
    char *retention_hold_max;     /* "30d"; "0" = groups hold forever */
    char *dedup_window;           /* "7d": ids kept after their event */
    char *retention_interval;     /* "60s" between passes */

    /* the web console (console.h), on the metrics address */
    int console;            /* off by default */
    char *console_tls_cert; /* PEM; "" = plain HTTP (loopback only) */
    char *console_tls_key;
} rz_config_t;

enum rz_security {
    RZ_SECURITY_AUTO = 0,  /* CURVE when server_key is set, else loopback */
    RZ_SECURITY_CURVE = 1, /* CURVE and grants required */
    RZ_SECURITY_NONE = 2   /* explicitly none: any address, no auth */
};

/* 1 when the ZeroMQ endpoint only listens on this machine (loopback TCP,
 * ipc://, inproc://). */
int rz_config_endpoint_local(const char *endpoint);

/* Fill cfg with the defaults. Strings are malloc'd. Returns 0 or RZ_ENOMEM. */
int rz_config_init(rz_config_t *cfg);

/* Free the strings. Safe twice. */
void rz_config_close(rz_config_t *cfg);

/* Load a YAML file (a mapping of option: value) over cfg. Returns 0, or
 * RZ_ECONFIG with err holding "FILE:LINE: unknown key 'foo'" or similar. */
int rz_config_load_file(rz_config_t *cfg, const char *path, char *err,
                        size_t err_len);

/* Same from a string (for tests); name is used in messages. */
int rz_config_load_string(rz_config_t *cfg, const char *yaml, size_t len,
                          const char *name, char *err, size_t err_len);

/* Set one option by its name ("data_dir" or "data-dir") from text, as a
 * flag would. Sizes accept suffixes K, M, G, T (powers of 1024). Returns 0
 * or RZ_ECONFIG with a message. */
int rz_config_set(rz_config_t *cfg, const char *name, const char *value,
                  char *err, size_t err_len);

/* Whole-config checks after loading (map_max >= map_size, limits > 0, ...).
 * Returns 0 or RZ_ECONFIG with a message. */
int rz_config_check(const rz_config_t *cfg, char *err, size_t err_len);

/* Write the effective config as YAML, each option with its description as
 * a comment. */
void rz_config_print(const rz_config_t *cfg, FILE *out);

/* Write the options as --flag lines with descriptions and defaults. */
void rz_config_usage(FILE *out);

/* Parse a size with an optional K/M/G/T suffix. Returns 0 or RZ_EINVAL. */
int rz_config_parse_size(const char *text, uint64_t *out);

/* ===========================================================================
 * The command line and live reload
 */

/* Build the configuration from a command line as ratuszd's start-up and
 * every reload do: the -c/--config files first, then every --OPTION VALUE
 * or --OPTION=VALUE over them, so that flags keep overriding the file.
 * -h/--help, -V/--version and --print-config are skipped (main handles
 * them). Returns 0 or RZ_ECONFIG with err naming the file and line, the
 * flag, or the argument that is not an option. */
int rz_config_from_args(rz_config_t *cfg, int argc, char *const *argv,
                        char *err, size_t err_len);

/* 1 when the option takes effect on a reload, 0 when it needs a restart
 * (and for names that are not options). */
int rz_config_is_live(const char *name);

/* What a reload found: each line names one option. */
typedef struct rz_config_diff {
    size_t n_changed, n_restart;
    char **changed; /* "max_message: 4M -> 1M" (applied) */
    char **restart; /* "listen: needs a restart (running X, file says Y)" */
} rz_config_diff_t;

/* Reload: fresh is a whole new configuration that passed rz_config_check.
 * Checks that the running restart-only values with fresh's live ones pass
 * too (else RZ_ECONFIG with err, nothing changes); then moves every live
 * value that differs into running and names it in diff->changed, and
 * names every restart-only value that differs in diff->restart, which
 * keeps its running value. Numbers are stored with atomic stores: another
 * thread reads them with rz_config_u64(); strings and other values are
 * swapped whole and must only be read by the front thread (which calls
 * this). fresh then holds the old values: close it after. Returns 0,
 * RZ_ECONFIG or RZ_ENOMEM (nothing changed). */
int rz_config_reload(rz_config_t *running, rz_config_t *fresh,
                     rz_config_diff_t *diff, char *err, size_t err_len);

/* Free the lines. Safe twice. */
void rz_config_diff_close(rz_config_diff_t *diff);

/* Read a live number from a thread other than the front thread (the one
 * that reloads): never torn by a reload. */
static inline uint64_t rz_config_u64(const uint64_t *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

#endif
