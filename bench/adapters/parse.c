/* parse.c - rz-bench-parse: records/s of one module's parse
 *
 *   rz-bench-parse --system NAME [--seconds S] [--set KEY=VALUE]... FILE
 *
 * Runs the module's parse over FILE again and again for S seconds (default
 * 3, at least once) with an rz_out_t that only counts, so the number is
 * the parser and mapping alone: no outbox, no broker. Prints one JSON line
 * on stdout and a line for people on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

typedef struct count {
    rz_out_t out;
    uint64_t events, quarantined;
} count_t;

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    ((count_t *)out->user)->events++;
    return 0;
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    ((count_t *)out->user)->quarantined++;
    return 0;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: rz-bench-parse --system NAME [--seconds S] "
                    "[--set KEY=VALUE]... FILE\nmodules:");
    for (const rz_adapter_module_t *const *m = rz_rt_modules(); *m; m++)
        fprintf(stderr, " %s", (*m)->name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *system = NULL, *file = NULL;
    double seconds = 3;
    rz_conf_map_t sets = {0};
    char *keys[64], *vals[64];
    uint32_t lines[64] = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--system") && i + 1 < argc)
            system = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && sets.n < 64) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq)
                return s_usage();
            *eq = '\0';
            keys[sets.n] = kv;
            vals[sets.n] = eq + 1;
            sets.n++;
        } else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            return s_usage();
    }
    sets.keys = keys;
    sets.values = vals;
    sets.lines = lines;
    const rz_adapter_module_t *m = system ? rz_rt_module_find(system) : NULL;
    if (!m || !file)
        return s_usage();
    char err[512] = "";
    void *conf = calloc(1, m->conf_size ? m->conf_size : 1), *state = NULL;
    if (m->options && (rz_conf_init(m->options, conf) ||
                       rz_conf_apply_map(m->options, conf, &sets, NULL,
                                         m->name, err, sizeof err))) {
        fprintf(stderr, "rz-bench-parse: %s\n", err);
        return 2;
    }
    if (m->open && m->open(&state, conf, err, sizeof err)) {
        fprintf(stderr, "rz-bench-parse: %s: %s\n", m->name, err);
        return 1;
    }
    uint8_t *data;
    size_t len;
    int rc = rz_read_file(file, &data, &len);
    if (rc) {
        fprintf(stderr, "rz-bench-parse: %s: %s\n", file, strerror(-rc));
        return 1;
    }
    char cid[65];
    rz_sha256_hex(data, len, cid);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    rz_input_t in = {file, base, data, len, NULL, cid, 0, 1, 0};
    count_t c = {.out = {.event = s_event, .quarantine = s_quarantine}};
    c.out.user = &c;
    uint64_t iters = 0;
    int64_t start = rz_now_us(), now = start;
    do {
        if ((rc = m->parse(state, &in, &c.out, err, sizeof err)) < 0) {
            fprintf(stderr, "rz-bench-parse: %s: %s\n", file, err);
            return 1;
        }
        iters++;
        now = rz_now_us();
    } while ((double)(now - start) < seconds * 1e6);
    double secs = (double)(now - start) / 1e6;
    uint64_t records = c.events + c.quarantined;
    double rps = (double)records / secs;
    double mbps = (double)len * (double)iters / secs / 1e6;
    printf("{\"bench\":\"adapter-parse\",\"system\":\"%s\",\"file\":\"%s\","
           "\"bytes\":%zu,\"records_per_input\":%llu,\"events\":%llu,"
           "\"quarantined\":%llu,\"iterations\":%llu,\"seconds\":%.3f,"
           "\"records_per_s\":%.0f,\"mb_per_s\":%.2f}\n",
           m->name, base, len, (unsigned long long)(records / iters),
           (unsigned long long)c.events, (unsigned long long)c.quarantined,
           (unsigned long long)iters, secs, rps, mbps);
    fprintf(stderr,
            "%s: %s: %llu records per input (%llu quarantined), %.0f "
            "records/s, %.1f MB/s\n",
            m->name, base, (unsigned long long)(records / iters),
            (unsigned long long)(c.quarantined / iters), rps, mbps);
    free(data);
    if (m->close)
        m->close(state);
    if (m->options)
        rz_conf_close(m->options, conf);
    free(conf);
    return 0;
}
