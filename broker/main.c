/* main.c - ratuszd: configuration, start-up and shutdown */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "broker.h"
#include "ratusz/core/backup.h"
#include "ratusz/core/lmdb.h"
#include "ratusz/keys.h"
#include "log.h"
#include "metrics.h"
#include "console.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: ratuszd [-c FILE] [--OPTION VALUE]... [--print-config]\n"
            "\n"
            "The Ratusz event broker: stores every event in LMDB, acks what is\n"
            "durable, fans events out over ZeroMQ and answers queries.\n"
            "\n"
            "  -c, --config FILE   read options from a YAML file first\n"
            "      --print-config  print the effective configuration and exit\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Options (also YAML keys, with '_' for '-'):\n");
    rz_config_usage(out);
}

/* Retention (retention.h): a thread of its own, idle while no rule is set,
 * so that a reload can hand it rules at any time. */
static int s_retention_start(rz_broker_t *b, char *err, size_t err_len)
{
    rz_retention_rules_t rules;
    int rc = rz_retention_rules_parse(&rules, b->cfg, err, err_len);
    if (rc < 0)
        return rc;
    size_t n = rules.n;
    if ((rc = rz_retention_new(&b->retention, b->store, &rules)) < 0 ||
        (rc = rz_retention_start(b->retention)) < 0) {
        rz_retention_rules_free(&rules);
        snprintf(err, err_len, "cannot start retention: %s", rz_strerror(rc));
        return rc;
    }
    if (n)
        rz_info("retention: %zu rules, a pass every %s", n,
                b->cfg->retention_interval);
    return 0;
}

static char *s_metrics_render(void *user)
{
    rz_broker_t *b = user;
    Ratusz__V1__Stats s;
    if (rz_broker_stats(b, &s) < 0)
        return NULL;
    char *text = rz_stats_prometheus(&s);
    rz_broker_stats_free(&s);
    return text;
}

static int s_metrics_health(void *user, char *status, size_t len)
{
    rz_broker_t *b = user;
    const char *st = rz_broker_status(b);
    snprintf(status, len, "%s", st);
    return strcmp(st, "ok") == 0 ? 0 : -1;
}

/* Keys, grants, the pseudonym secret and the audit log, before any socket
 * is bound. */
static int s_security_start(rz_broker_t *b, char *err, size_t err_len)
{
    rz_config_t *cfg = b->cfg;
    char path[4096];
    b->curve = *cfg->server_key != '\0';
    if (b->curve) {
        rz_keypair_t kp;
        if (rz_key_load_secret(cfg->server_key, &kp, err, err_len) < 0)
            return RZ_ECONFIG;
        memcpy(b->server_public, kp.public_z85, sizeof b->server_public);
        memcpy(b->server_secret, kp.secret_z85, sizeof b->server_secret);
        memset(&kp, 0, sizeof kp);
        int n = rz_access_load(cfg->principals, err, err_len);
        if (n < 0)
            return RZ_ECONFIG;
        rz_info("CURVE on: server key %s, %d principals from %s",
                b->server_public, n, cfg->principals);
    }
    if (*cfg->redaction_key)
        snprintf(path, sizeof path, "%s", cfg->redaction_key);
    else
        snprintf(path, sizeof path, "%s/redaction.key", cfg->data_dir);
    if (rz_redact_key_load(path, 1, &b->redact_key, err, err_len) < 0)
        return RZ_ECONFIG;
    if (*cfg->audit_dir)
        snprintf(path, sizeof path, "%s", cfg->audit_dir);
    else
        snprintf(path, sizeof path, "%s/audit", cfg->data_dir);
    uint64_t keep = cfg->audit_retention_days * UINT64_C(86400000000);
    if (rz_audit_open(&b->audit, path, keep, err, err_len) < 0)
        return RZ_ESTORE;
    return 0;
}

/* After `ratusz restore` (RZC_RESTORE_MARKER in the data dir): before
 * anything is served, both hash chains must verify and the store and the
 * audit log must end where the backup's manifest says. Returns 0 (the
 * marker is then removed) or -1, logged, naming what failed. */
static int s_restored_check(rz_broker_t *b)
{
    char path[4096], err[512];
    rzc_manifest_t m;
    snprintf(path, sizeof path, "%s/%s", b->cfg->data_dir, RZC_RESTORE_MARKER);
    if (access(path, F_OK) != 0)
        return 0;
    if (rzc_manifest_read(path, &m, err, sizeof err) < 0) {
        rz_error("restored store: %s", err);
        return -1;
    }
    rz_info("restored store (backup of %s, head seq %llu): verifying before "
            "serving",
            m.created, (unsigned long long)m.head_seq);
    Ratusz__V1__VerifyResult v;
    int rc = rz_store_verify(b->store, 0, &v);
    if (rc < 0) {
        rz_error("restored store: the event log cannot be verified: %s",
                 rz_strerror(rc));
        return -1;
    }
    int ok = v.ok;
    if (!ok)
        rz_error("restored store: the event log is BROKEN at seq %llu: %s; "
                 "not serving (restore a good backup again)",
                 (unsigned long long)v.first_bad, v.reason);
    uint64_t checked = v.checked;
    free(v.reason != protobuf_c_empty_string ? v.reason : NULL);
    if (v.invalid_reason != protobuf_c_empty_string)
        free(v.invalid_reason);
    if (!ok)
        return -1;
    rz_store_summary_t sum;
    char hex[65] = "";
    if (rz_store_summary(b->store, &sum) < 0)
        return -1;
    if (sum.chain_last)
        rzc_hex(sum.chain_digest, 32, hex);
    if (sum.head_seq != m.head_seq || sum.events != m.events ||
        strcmp(hex, m.chain_digest) != 0) {
        rz_error("restored store: it ends at seq %llu (%llu events, chain "
                 "digest %s), the backup's manifest says seq %llu (%llu "
                 "events, %s); not serving",
                 (unsigned long long)sum.head_seq,
                 (unsigned long long)sum.events, *hex ? hex : "none",
                 (unsigned long long)m.head_seq, (unsigned long long)m.events,
                 *m.chain_digest ? m.chain_digest : "none");
        return -1;
    }
    rz_audit_flush(b->audit);
    rc = rz_audit_verify(b->audit, 0, &v);
    if (rc < 0 || !v.ok) {
        if (rc < 0)
            rz_error("restored store: the audit log cannot be verified: %s",
                     rz_strerror(rc));
        else
            rz_error("restored store: the audit log is BROKEN at record "
                     "%llu: %s; not serving",
                     (unsigned long long)v.first_bad, v.reason);
        return -1;
    }
    if (m.audit_head && v.last != m.audit_head) {
        rz_error("restored store: the audit log ends at record %llu, the "
                 "manifest says %llu; not serving",
                 (unsigned long long)v.last, (unsigned long long)m.audit_head);
        return -1;
    }
    if (unlink(path) != 0 || rzc_sync_dir(b->cfg->data_dir) != 0) {
        rz_error("restored store: %s: cannot remove: %s", path,
                 strerror(errno));
        return -1;
    }
    rz_info("restored store verified: %llu events up to seq %llu, audit "
            "log to record %llu",
            (unsigned long long)checked, (unsigned long long)sum.head_seq,
            (unsigned long long)v.last);
    return 0;
}

int main(int argc, char **argv)
{
    rzc_log_init("ratuszd", RZC_LOG_STAMPED);
    rz_config_t cfg;
    char err[512];
    int print_config = 0, rc = 1;
    if (rz_config_init(&cfg) < 0) {
        fprintf(stderr, "ratuszd: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("ratuszd %s (protocol %d)\n", RZ_VERSION, RZ_PROTOCOL);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--print-config")) {
            print_config = 1;
        } else if (!strncmp(a, "--", 2) && !strchr(a, '=')) {
            i++; /* its value */
        } else if (!strcmp(a, "-c")) {
            i++;
        }
    }
    /* the same on every reload (server.c), so flags keep overriding the
     * file */
    if (rz_config_from_args(&cfg, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "ratuszd: %s\n", err);
        rc = 2; /* a configuration error, like a bad flag */
        goto out;
    }
    if (rz_config_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ratuszd: %s\n", err);
        rc = 2;
        goto out;
    }
    if (print_config) {
        rz_config_print(&cfg, stdout);
        rc = 0;
        goto out;
    }
    rz_log_set_level(cfg.log_level);
    rzc_log_set_format(cfg.log_format);
    /* Big requests (up to max_message) are malloc'd and freed as they pass:
     * glibc would otherwise raise its mmap threshold after the first ones
     * and keep their memory in the heap, so RSS never came down after a
     * burst. A fixed threshold gives every block of 1 MiB or more back to
     * the kernel when it is freed; two arenas serve the front and the
     * writer thread. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_ARENA_MAX, 2);
    /* One descriptor per client connection: take all the kernel allows
     * (the hard limit; systemd's LimitNOFILE sets it). */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
        nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
            rz_warn("cannot raise the open-file limit to %llu",
                    (unsigned long long)nofile.rlim_max);
    }
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        rz_info("open-file limit %llu: about as many client connections",
                (unsigned long long)nofile.rlim_cur);

    rz_broker_t b = {0};
    b.cfg = &cfg;
    b.argc = argc;
    b.argv = argv;
    b.started_us = rz_now_us();
    /* Test only (tests/integration/test_reload.c): while the file it names
     * exists, the writer sleeps as if hung in fdatasync, so that the
     * watchdog's pings stop. Read once, here; never set it in production. */
    const char *stall = getenv("RATUSZ_TEST_STALL_WRITER");
    if (stall && *stall) {
        b.test_stall_writer = stall;
        rz_warn("RATUSZ_TEST_STALL_WRITER is set (%s): a test hook that "
                "stalls the writer; never set it in production",
                stall);
    }
    rz_metrics_t *metrics = NULL;
    rz_console_t *console = NULL;
    rz_store_opts_t so = {cfg.data_dir, cfg.map_size, cfg.map_max, cfg.sync,
                          cfg.subject_run};
    int src = rz_store_open(&b.store, &so);
    if (src < 0) {
        /* -EBUSY: the store said which broker holds the directory */
        if (src != -EBUSY)
            rz_error("cannot open the store in %s: %s", cfg.data_dir,
                     rz_strerror(src));
        if (src == RZ_ECONFIG) /* a store format this binary cannot read */
            rc = 2;
        goto out;
    }
    /* What the journal acked and LMDB had not stored before a crash goes
     * into LMDB before anything is served. With sync: os the journal is
     * not written, but one left by a run with sync: full is applied. */
    rz_journal_t *journal = NULL;
    int jrc = rz_journal_open(&journal, cfg.data_dir, cfg.journal_segment);
    if (jrc == 0)
        jrc = rz_journal_recover(journal, b.store);
    if (jrc < 0) {
        rz_error("cannot recover the journal in %s/journal: %s", cfg.data_dir,
                 rz_strerror(jrc));
        rz_journal_close(&journal);
        goto close;
    }
    if (cfg.sync == RZ_SYNC_FULL)
        b.journal = journal;
    else
        rz_journal_close(&journal);
    int sec = s_security_start(&b, err, sizeof err);
    if (sec < 0) {
        rz_error("%s", err);
        /* a key or principals file that cannot be used is a configuration
         * error, like any other (exit 2); a failing audit log is not */
        if (sec == RZ_ECONFIG)
            rc = 2;
        goto close;
    }
    if (s_restored_check(&b) < 0)
        goto close;
    b.stats = rz_stats_new();
    b.zctx = zmq_ctx_new();
    if (!b.stats || !b.zctx) {
        rz_error("out of memory");
        goto close;
    }
    /* before retention, which removes index entries through its hook */
    int prc = rz_pindex_start(&b.pindex, b.store, &b.redact_key);
    if (prc < 0) {
        rz_error("cannot start the pseudonym index: %s", rz_strerror(prc));
        goto close;
    }
    if (s_retention_start(&b, err, sizeof err) < 0) {
        rz_error("%s", err);
        goto close;
    }
    if (cfg.metrics && *cfg.metrics && strcmp(cfg.metrics, "off") != 0) {
        rz_metrics_extra_t extra = {0};
        if (cfg.console) {
            if (rz_console_new(&console, &b, err, sizeof err) < 0) {
                rz_error("%s", err);
                rc = 2;
                goto close;
            }
            rz_console_extra(console, &extra);
        }
        if (rz_metrics_start_extra(&metrics, cfg.metrics, s_metrics_render,
                                   s_metrics_health, &b, &extra, err,
                                   sizeof err) < 0) {
            rz_error("%s", err);
            goto close;
        }
        const char *scheme = *cfg.console_tls_cert ? "https" : "http";
        rz_info("metrics on %s://%s/metrics", scheme, cfg.metrics);
        if (console)
            rz_info("web console on %s://%s/", scheme, cfg.metrics);
    } else if (cfg.console) {
        rz_error("console: it is served on the metrics address, which is "
                 "off");
        rc = 2;
        goto close;
    }
    if (rz_server_run(&b) == 0) {
        rz_info("stopped; head seq %llu",
                (unsigned long long)rz_store_head(b.store));
        rc = 0;
    }
close:
    rz_metrics_stop(&metrics);
    rz_console_destroy(&console);
    rz_retention_destroy(&b.retention); /* before the store it prunes */
    rz_pindex_destroy(&b.pindex);       /* after retention, its hook's user */
    if (b.zctx)
        zmq_ctx_term(b.zctx);
    rz_stats_destroy(&b.stats);
    rz_audit_close(&b.audit);
    rz_access_shutdown();
    memset(b.server_secret, 0, sizeof b.server_secret);
    memset(&b.redact_key, 0, sizeof b.redact_key);
    rz_journal_close(&b.journal);
    rz_store_close(&b.store);
out:
    rz_config_close(&cfg);
    return rc;
}
