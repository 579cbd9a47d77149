/* config.c - ratusz-adapter's options: one table for the YAML file, the
 * flags, --help and --print-config, plus one section per module */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static const char *const s_sinks[] = {"none", "module", "webhook", NULL};
static const char *const s_http_auth[] = {"auto", "token", "none", NULL};
static const char *const s_levels[] = {"error", "warn", "info", "debug", NULL};

#define S_OFF(f) offsetof(rz_rt_conf_t, f)

static const rz_conf_option_t s_base[] = {
    {"system", RZ_CONF_STRING, S_OFF(system), "", NULL, 0, 0, "NAME",
     "the module that reads this system's format (budget, environment, tax, "
     "gis, ndjson)"},
    {"name", RZ_CONF_STRING, S_OFF(name), "", NULL, 0, 0, "NAME",
     "component name in `ratusz stats` (default adapter/<system>)"},
    {"broker", RZ_CONF_STRING, S_OFF(broker), RZ_DEFAULT_FRONT, NULL, 0, 0,
     "ENDPOINT", "the broker's front endpoint"},
    {"key", RZ_CONF_STRING, S_OFF(key), "", NULL, 0, 0, "FILE",
     "this adapter's CURVE secret key file (NAME.key from `ratusz keygen`; "
     "empty: plain connections)"},
    {"server_key", RZ_CONF_STRING, S_OFF(server_key), "", NULL, 0, 0,
     "FILE|Z85", "the broker's CURVE public key: its .pub file or 40 Z85 "
     "characters (with key)"},
    {"source", RZ_CONF_STRING, S_OFF(source), "/{tenant}/{domain}/{system}",
     NULL, 0, 0, "URI",
     "event source for events whose module left it empty; {tenant}, "
     "{domain} and {system} are replaced"},
    {"data_dir", RZ_CONF_STRING, S_OFF(data_dir), "", NULL, 0, 0, "DIR",
     "the adapter's outbox and quarantine (LMDB)"},
    {"drop_dir", RZ_CONF_STRING, S_OFF(drop_dir), "", NULL, 0, 0, "DIR",
     "drop folder: files written here are imported, then moved to done/ "
     "(or failed/)"},
    {"drop_settle_ms", RZ_CONF_UINT, S_OFF(drop_settle_ms), "1000", NULL, 0,
     3600000, "MS",
     "a dropped file is complete when unchanged for this long"},
    {"poll_ms", RZ_CONF_UINT, S_OFF(poll_ms), "200", NULL, 10, 60000, "MS",
     "how often the drop folder and tailed files are looked at"},
    {"tail", RZ_CONF_LIST, S_OFF(tail), "", NULL, 0, 0, "FILE",
     "append-only files whose new complete lines are imported"},
    {"http", RZ_CONF_STRING, S_OFF(http), "", NULL, 0, 0, "[HOST:]PORT",
     "accept POSTed inputs here; a bare PORT is 127.0.0.1 (empty: off)"},
    {"http_tokens", RZ_CONF_MAP, S_OFF(http_tokens), "", NULL, 0, 0,
     "CLIENT=sha256:HEX",
     "HTTP clients and the SHA-256 of their bearer tokens "
     "(`ratusz-adapter --hash-token`); a request must carry one"},
    {"http_auth", RZ_CONF_ENUM, S_OFF(http_auth), "auto", s_http_auth, 0, 0,
     "auto|token|none",
     "auto: check tokens when http_tokens lists any, and without them "
     "listen on loopback only; token: always check; none: never check"},
    /* a body is held whole in memory while its records are parsed */
    {"http_max_body", RZ_CONF_SIZE, S_OFF(http_max_body), "16M", NULL, 1,
     UINT64_C(1) << 30, "SIZE", "largest POST body"},
    {"teryt", RZ_CONF_LIST, S_OFF(teryt), "", NULL, 0, 0, "FILE",
     "TERC register files (CSV or XML); events of other tenants are "
     "quarantined (empty: tenants are not checked)"},
    /* the publisher keeps 4 x window slots, and the broker's max_inflight
     * (default 200000) is shared by every client */
    {"window", RZ_CONF_UINT, S_OFF(window), "1024", NULL, 1, 65536, "N",
     "events in flight to the broker"},
    /* one request of batch events must stay under the broker's
     * max_message */
    {"batch", RZ_CONF_UINT, S_OFF(batch), "64", NULL, 1, 4096, "N",
     "events per publish request"},
    {"timeout_ms", RZ_CONF_UINT, S_OFF(timeout_ms), "5000", NULL, 100,
     600000, "MS", "a broker that does not answer in this time is down"},
    {"report_ms", RZ_CONF_UINT, S_OFF(report_ms), "1000", NULL, 0, 3600000,
     "MS", "how often the adapter reports its state to the broker (0: never)"},
    /* an LMDB map like the broker's, but on the adapter's host: 1T is
     * more than days of any municipal system's output */
    {"outbox_size", RZ_CONF_SIZE, S_OFF(outbox_size), "1G", NULL,
     UINT64_C(1) << 20, UINT64_C(1) << 40, "SIZE",
     "largest outbox + quarantine file"},
    /* the client library refuses events over 16M */
    {"max_event", RZ_CONF_SIZE, S_OFF(max_event), "4M", NULL, 1024,
     UINT64_C(16) << 20, "SIZE",
     "largest encoded event (the broker's max_message); bigger ones are "
     "quarantined"},
    /* one transaction's dirty pages stay in memory until it commits */
    {"commit_every", RZ_CONF_UINT, S_OFF(commit_every), "10000", NULL, 1,
     10000000, "N", "records of a file per outbox transaction"},
    {"wait_ms", RZ_CONF_UINT, S_OFF(wait_ms), "30000", NULL, 0, 86400000,
     "MS",
     "one-shot imports: give up when the broker made no progress for this "
     "long"},
    {"sink", RZ_CONF_ENUM, S_OFF(sink), "none", s_sinks, 0, 0,
     "none|module|webhook",
     "deliver events from the bus: the module's sink or a CloudEvents "
     "webhook"},
    {"sink_target", RZ_CONF_STRING, S_OFF(sink_target), "", NULL, 0, 0,
     "TARGET", "where the sink writes: a file or folder, or the webhook URL"},
    {"sink_group", RZ_CONF_STRING, S_OFF(sink_group), "", NULL, 0, 0, "NAME",
     "the sink's durable consumer group (default sink-<system>)"},
    {"sink_topic_prefix", RZ_CONF_STRING, S_OFF(sink_topic_prefix), "", NULL,
     0, 0, "PREFIX", "topics the sink reads (\"1261011.gis.\"; empty: all)"},
    /* a fetch is one reply held whole, like the broker's replay_chunk */
    {"sink_batch", RZ_CONF_UINT, S_OFF(sink_batch), "256", NULL, 1, 100000,
     "N", "events per fetch, flushed and committed together"},
    {"sink_retries", RZ_CONF_UINT, S_OFF(sink_retries), "5", NULL, 1, 100,
     "N", "webhook attempts per event before the sink backs off"},
    {"log_level", RZ_CONF_ENUM, S_OFF(log_level), "info", s_levels, 0, 0,
     "LEVEL", "error, warn, info or debug: the least important line logged"},
};

#define S_NBASE (sizeof s_base / sizeof s_base[0])

rz_conf_option_t *rz_rt_conf_options(const rz_adapter_module_t *const *mods)
{
    size_t nmods = 0;
    while (mods && mods[nmods] && nmods < RZ_ADAPTER_MAX_MODULES)
        nmods++;
    rz_conf_option_t *t = calloc(S_NBASE + nmods + 1, sizeof *t);
    if (!t)
        return NULL;
    memcpy(t, s_base, sizeof s_base);
    for (size_t i = 0; i < nmods; i++) {
        rz_conf_option_t *o = &t[S_NBASE + i];
        o->name = mods[i]->name;
        o->type = RZ_CONF_MAP;
        o->offset = S_OFF(sections) + i * sizeof(rz_conf_map_t);
        o->def = "";
        o->arg = "KEY=VALUE";
        o->desc = mods[i]->description;
    }
    return t;
}

int rz_rt_conf_finish(rz_rt_conf_t *conf,
                      const rz_adapter_module_t *const *mods, const char *file,
                      int need_store, char *err, size_t err_len)
{
    const char *f = file ? file : "command line";
    if (!conf->system || !*conf->system) {
        char names[256] = "";
        size_t n = 0;
        for (size_t i = 0; mods[i] && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s",
                                  i ? ", " : "", mods[i]->name);
        snprintf(err, err_len, "%s: 'system' is not set (one of: %s)", f,
                 names);
        return RZ_ECONFIG;
    }
    size_t self = SIZE_MAX;
    for (size_t i = 0; mods[i] && i < RZ_ADAPTER_MAX_MODULES; i++) {
        if (!strcmp(mods[i]->name, conf->system))
            self = i;
        else if (conf->sections[i].n) {
            snprintf(err, err_len,
                     "%s:%u: section '%s' is for another system (this one "
                     "is '%s')",
                     f, conf->sections[i].lines ? conf->sections[i].lines[0] : 0,
                     mods[i]->name, conf->system);
            return RZ_ECONFIG;
        }
    }
    if (self == SIZE_MAX) {
        snprintf(err, err_len, "%s: system '%s' is not a module of this "
                 "ratusz-adapter", f, conf->system);
        return RZ_ECONFIG;
    }
    if (!conf->name || !*conf->name) {
        char buf[256];
        snprintf(buf, sizeof buf, "adapter/%s", conf->system);
        free(conf->name);
        if (!(conf->name = strdup(buf)))
            return RZ_ENOMEM;
    }
    if (!conf->sink_group || !*conf->sink_group) {
        char buf[256];
        snprintf(buf, sizeof buf, "sink-%s", conf->system);
        free(conf->sink_group);
        if (!(conf->sink_group = strdup(buf)))
            return RZ_ENOMEM;
    }
    if (need_store && (!conf->data_dir || !*conf->data_dir)) {
        snprintf(err, err_len, "%s: 'data_dir' is not set (the outbox and "
                 "quarantine live there)", f);
        return RZ_ECONFIG;
    }
    if (conf->sink != RZ_SINK_NONE && !*conf->sink_target) {
        snprintf(err, err_len, "%s: sink '%s' needs 'sink_target'", f,
                 s_sinks[conf->sink]);
        return RZ_ECONFIG;
    }
    if (conf->sink == RZ_SINK_WEBHOOK &&
        strncmp(conf->sink_target, "http://", 7) &&
        strncmp(conf->sink_target, "https://", 8)) {
        snprintf(err, err_len, "%s: sink_target '%s' is not an http(s) URL",
                 f, conf->sink_target);
        return RZ_ECONFIG;
    }
    const rz_adapter_module_t *m = mods[self];
    if (conf->sink == RZ_SINK_MODULE && !m->sink_event) {
        snprintf(err, err_len, "%s: module '%s' has no sink (use sink: "
                 "webhook, or none)", f, m->name);
        return RZ_ECONFIG;
    }
    if (*conf->http) {
        int rc = rz_http_check_conf(conf, f, err, err_len);
        if (rc)
            return rc;
    }
    if (conf->batch > conf->window) {
        snprintf(err, err_len, "%s: batch %llu is larger than window %llu", f,
                 (unsigned long long)conf->batch,
                 (unsigned long long)conf->window);
        return RZ_ECONFIG;
    }
    return 0;
}
