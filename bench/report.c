/* report.c - rz-bench-report: turn the JSON lines of a comparison run into
 * a table for people, a JSON summary for programs and an SVG chart.
 *
 *   rz-bench-report RESULTS.jsonl [--json OUT.json] [--svg OUT.svg]
 *
 * RESULTS.jsonl is what bench/compare.sh collects: one {"meta": {...}}
 * line, then one line per measurement as the load generators print it,
 * plus the fields compare.sh adds: workload, round, broker_cpu_s,
 * rss_kb_before, rss_kb_after, rss_hwm_kb, anon_kb_after (anonymous
 * memory: the broker's own, outside a file mapping such as LMDB's) and for
 * scale: store_bytes.
 * The table goes to stdout.
 *
 * Measurements are grouped by workload and its parameters (window,
 * publishers, subscribers and rate); within a group, each system's rounds
 * are summarized as median (min-max), and the ratio Ratusz/peer is the
 * ratio of the medians.
 *
 * The security workloads (security-ingest, security-fanout, security-get)
 * compare Ratusz with itself: plain, with CURVE (ratusz-curve), and with
 * CURVE for a reader whose events come back redacted
 * (ratusz-curve-redacted). Their section pairs the variants, gives each
 * pair's ratio of medians and says whether the goal of the security work
 * is met (s_pairs). It prints; it asserts nothing.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REF "ratusz" /* the system every peer is compared with */
#define S_MAX_SYSTEMS 16
#define S_MAX_GROUPS 64
#define S_MAX_ROUNDS 64

/* ------------------------------------------------------------------------ */
/* Groups of measurements                                                    */

typedef struct s_row {
    char system[48];
    json_t *runs[S_MAX_ROUNDS]; /* borrowed from the results array */
    size_t n;
} s_row_t;

typedef struct s_group {
    char workload[32];
    char key[96]; /* workload and parameters */
    json_t *first;
    s_row_t rows[S_MAX_SYSTEMS];
    size_t nrows;
} s_group_t;

typedef struct s_report {
    json_t *meta;
    json_t *runs; /* array of every measurement */
    s_group_t groups[S_MAX_GROUPS];
    size_t ngroups;
    s_group_t scale; /* scale steps: one row, runs in order */
} s_report_t;

static const char *s_str(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

static double s_num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void s_group_key(const json_t *r, char *key, size_t len)
{
    const char *w = s_str(r, "workload", "?");
    if (!strcmp(w, "ingest") || !strcmp(w, "security-ingest"))
        snprintf(key, len, "%s w%.0f", w, s_num(r, "window"));
    else if (!strcmp(w, "multi"))
        snprintf(key, len, "%s p%.0f", w, s_num(r, "publishers"));
    else if (!strncmp(w, "fanout", 6) || !strcmp(w, "security-fanout"))
        snprintf(key, len, "%s s%.0f r%.0f", w, s_num(r, "subscribers"),
                 s_num(r, "rate"));
    else
        snprintf(key, len, "%s", w);
}

static void s_add(s_report_t *rep, json_t *r)
{
    const char *w = s_str(r, "workload", NULL);
    const char *sys = s_str(r, "system", NULL);
    if (!w || !sys)
        return;
    s_group_t *g = NULL;
    if (!strcmp(w, "scale")) {
        g = &rep->scale;
    } else {
        char key[96];
        s_group_key(r, key, sizeof key);
        for (size_t i = 0; i < rep->ngroups && !g; i++)
            if (!strcmp(rep->groups[i].key, key))
                g = &rep->groups[i];
        if (!g) {
            if (rep->ngroups == S_MAX_GROUPS)
                return;
            g = &rep->groups[rep->ngroups++];
            snprintf(g->key, sizeof g->key, "%s", key);
        }
    }
    if (!g->first) {
        g->first = r;
        snprintf(g->workload, sizeof g->workload, "%s", w);
    }
    s_row_t *row = NULL;
    for (size_t i = 0; i < g->nrows && !row; i++)
        if (!strcmp(g->rows[i].system, sys))
            row = &g->rows[i];
    if (!row) {
        if (g->nrows == S_MAX_SYSTEMS)
            return;
        row = &g->rows[g->nrows++];
        snprintf(row->system, sizeof row->system, "%s", sys);
    }
    if (row->n < S_MAX_ROUNDS)
        row->runs[row->n++] = r;
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */

typedef struct s_stat {
    double med, min, max;
    size_t n;
} s_stat_t;

static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of field k over a row's rounds (failed rounds have
 * no field and do not count). A derived field "cpu_us_per_event" is
 * broker_cpu_s per event. */
static s_stat_t s_stat(const s_row_t *row, const char *k)
{
    double v[S_MAX_ROUNDS];
    size_t n = 0;
    for (size_t i = 0; i < row->n; i++) {
        double x;
        if (!strcmp(k, "cpu_us_per_event")) {
            double ev = s_num(row->runs[i], "events");
            x = s_num(row->runs[i], "broker_cpu_s") * 1e6 / ev;
        } else if (!strcmp(k, "write_bytes_per_event")) {
            double ev = s_num(row->runs[i], "events");
            x = s_num(row->runs[i], "write_bytes") / ev;
        } else if (!strcmp(k, "dev_bytes_per_event")) {
            double ev = s_num(row->runs[i], "events");
            x = s_num(row->runs[i], "dev_write_bytes") / ev;
        } else if (!strcmp(k, "rss_mb")) {
            x = s_num(row->runs[i], "rss_kb_after") / 1024;
        } else if (!strcmp(k, "anon_mb")) {
            x = s_num(row->runs[i], "anon_kb_after") / 1024;
        } else {
            x = s_num(row->runs[i], k);
        }
        if (isfinite(x))
            v[n++] = x;
    }
    s_stat_t s = {NAN, NAN, NAN, n};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, s_cmp_d);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

static const s_row_t *s_ref_row(const s_group_t *g)
{
    for (size_t i = 0; i < g->nrows; i++)
        if (!strcmp(g->rows[i].system, S_REF))
            return &g->rows[i];
    return NULL;
}

/* Rounds of a row that failed or lost events. */
static size_t s_troubled(const s_row_t *row)
{
    size_t n = 0;
    for (size_t i = 0; i < row->n; i++)
        if (json_is_true(json_object_get(row->runs[i], "failed")) ||
            s_num(row->runs[i], "errors") > 0)
            n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */

static void s_fmt_rate(char *b, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(b, len, "-");
    else if (v >= 1e6)
        snprintf(b, len, "%.2fM", v / 1e6);
    else if (v >= 1e5)
        snprintf(b, len, "%.0fk", v / 1e3);
    else if (v >= 1e4)
        snprintf(b, len, "%.1fk", v / 1e3);
    else
        snprintf(b, len, "%.0f", v);
}

static void s_fmt_us(char *b, size_t len, double us)
{
    if (!isfinite(us))
        snprintf(b, len, "-");
    else if (us >= 1e6)
        snprintf(b, len, "%.2fs", us / 1e6);
    else if (us >= 1e4)
        snprintf(b, len, "%.0fms", us / 1e3);
    else if (us >= 1e3)
        snprintf(b, len, "%.1fms", us / 1e3);
    else
        snprintf(b, len, "%.0fus", us);
}

static void s_fmt_num(char *b, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(b, len, "-");
    else if (v >= 100)
        snprintf(b, len, "%.0f", v);
    else if (v >= 10)
        snprintf(b, len, "%.1f", v);
    else
        snprintf(b, len, "%.2f", v);
}

static void s_fmt_bytes(char *b, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(b, len, "-");
    else if (v >= 1048576)
        snprintf(b, len, "%.1fM", v / 1048576);
    else if (v >= 10240)
        snprintf(b, len, "%.0fK", v / 1024);
    else
        snprintf(b, len, "%.0f", v);
}

typedef void (*s_fmt_fn)(char *, size_t, double);

/* "median (min-max)", or just the median for one round. */
static void s_fmt_range(char *b, size_t len, s_stat_t s, s_fmt_fn f)
{
    char m[20], lo[20], hi[20];
    f(m, sizeof m, s.med);
    if (s.n < 2) {
        snprintf(b, len, "%s", m);
        return;
    }
    f(lo, sizeof lo, s.min);
    f(hi, sizeof hi, s.max);
    snprintf(b, len, "%s (%s-%s)", m, lo, hi);
}

/* ------------------------------------------------------------------------ */
/* What each workload shows                                                  */

typedef struct s_col {
    const char *head;
    const char *field;
    s_fmt_fn fmt;
    int range;  /* show min-max */
    int ratio;  /* the ratio column is of this one */
    int higher; /* higher is better (for the ratio's note) */
} s_col_t;

typedef struct s_view {
    const char *workload;
    const char *title; /* printf: the group's first run decides %s */
    const char *note;
    s_col_t cols[9];
} s_view_t;

static const s_view_t s_views[] = {
    {"ingest",
     "1. Durable ingest, one publisher, window %s",
     "events/s acked; ack = publish->ack latency (median over rounds of "
     "each round's p50/p99)",
     {{"events/s", "events_per_s", s_fmt_rate, 1, 1, 1},
      {"ack p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"ack p99", "p99_us", s_fmt_us, 1, 0, 0},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {"disk B/ev", "write_bytes_per_event", s_fmt_bytes, 0, 0, 0},
      {"dev B/ev", "dev_bytes_per_event", s_fmt_bytes, 0, 0, 0},
      {"RSS MB", "rss_mb", s_fmt_num, 0, 0, 0},
      {"anon MB", "anon_mb", s_fmt_num, 0, 0, 0},
      {0}}},
    {"multi",
     "2. Many publishers: %s publishers, window 1 each",
     "events/s acked over all publishers; ack latency per event",
     {{"events/s", "events_per_s", s_fmt_rate, 1, 1, 1},
      {"ack p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"ack p99", "p99_us", s_fmt_us, 1, 0, 0},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {"disk B/ev", "write_bytes_per_event", s_fmt_bytes, 0, 0, 0},
      {"dev B/ev", "dev_bytes_per_event", s_fmt_bytes, 0, 0, 0},
      {"RSS MB", "rss_mb", s_fmt_num, 0, 0, 0},
      {"anon MB", "anon_mb", s_fmt_num, 0, 0, 0},
      {0}}},
    {"fanout",
     "3. Fan-out at %s events/s to %s subscriber(s)",
     "publish->subscriber latency over every delivery; delivered/s per "
     "subscriber; CPU per delivery",
     {{"p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"p99", "p99_us", s_fmt_us, 1, 1, 0},
      {"p999", "p999_us", s_fmt_us, 0, 0, 0},
      {"delivered/s", "events_per_s", s_fmt_rate, 0, 0, 1},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {0}}},
    {"fanout-max",
     "3b. Fan-out, most events/s delivered to %s subscriber",
     "publisher at full speed (window 4096); delivered/s = events received "
     "/ time from the first publish to the last delivery",
     {{"delivered/s", "events_per_s", s_fmt_rate, 1, 1, 1},
      {"published/s", "pub_events_per_s", s_fmt_rate, 0, 0, 1},
      {"p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {0}}},
    {"replay",
     "4. Replay %s stored events from the start",
     "events/s read by one client over the wire",
     {{"events/s", "events_per_s", s_fmt_rate, 1, 1, 1},
      {"seconds", "seconds", s_fmt_num, 0, 0, 0},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {"RSS MB", "rss_mb", s_fmt_num, 0, 0, 0},
      {"anon MB", "anon_mb", s_fmt_num, 0, 0, 0},
      {0}}},
    {"security-ingest",
     "6a. Security: durable ingest, one publisher, window %s, without and "
     "with CURVE",
     "events/s acked; ack = publish->ack latency",
     {{"events/s", "events_per_s", s_fmt_rate, 1, 0, 1},
      {"ack p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"ack p99", "p99_us", s_fmt_us, 1, 0, 0},
      {"CPU us/ev", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {"RSS MB", "rss_mb", s_fmt_num, 0, 0, 0},
      {"anon MB", "anon_mb", s_fmt_num, 0, 0, 0},
      {0}}},
    {"security-fanout",
     "6b. Security: fan-out at %s events/s to %s subscriber(s), without "
     "and with CURVE",
     "publish->subscriber latency over every delivery; the CURVE "
     "subscribers are cleared for personal data, on the full stream; CPU s "
     "of the broker and of the load generator (publisher and every "
     "subscriber) in the round",
     {{"p50", "p50_us", s_fmt_us, 0, 0, 0},
      {"p99", "p99_us", s_fmt_us, 1, 0, 0},
      {"p999", "p999_us", s_fmt_us, 0, 0, 0},
      {"delivered/s", "events_per_s", s_fmt_rate, 0, 0, 1},
      {"published/s", "pub_events_per_s", s_fmt_rate, 0, 0, 1},
      {"broker CPU s", "broker_cpu_s", s_fmt_num, 0, 0, 0},
      {"client CPU s", "client_cpu_s", s_fmt_num, 0, 0, 0},
      {0}}},
    {"security-get",
     "6c. Security: GET by seq of a tax assessment with personal data, one "
     "at a time (%s stored, %s GETs a round)",
     "get = request->reply latency; bytes = size of the event received; "
     "CPU per GET",
     {{"get p50", "p50_us", s_fmt_us, 1, 0, 0},
      {"get p99", "p99_us", s_fmt_us, 1, 0, 0},
      {"GETs/s", "events_per_s", s_fmt_rate, 0, 0, 1},
      {"bytes", "get_bytes", s_fmt_num, 0, 0, 0},
      {"CPU us/get", "cpu_us_per_event", s_fmt_num, 0, 0, 0},
      {0}}},
};

static int s_is_security(const char *workload)
{
    return !strncmp(workload, "security-", 9);
}

static const s_view_t *s_view_of(const char *workload)
{
    for (size_t i = 0; i < sizeof s_views / sizeof *s_views; i++)
        if (!strcmp(s_views[i].workload, workload))
            return &s_views[i];
    return NULL;
}

static void s_title(const s_group_t *g, const s_view_t *v, char *b, size_t len)
{
    char p1[32], p2[32];
    const json_t *r = g->first;
    if (!strcmp(v->workload, "ingest") ||
        !strcmp(v->workload, "security-ingest")) {
        snprintf(p1, sizeof p1, "%.0f", s_num(r, "window"));
        snprintf(b, len, v->title, p1);
    } else if (!strcmp(v->workload, "multi")) {
        snprintf(p1, sizeof p1, "%.0f", s_num(r, "publishers"));
        snprintf(b, len, v->title, p1);
    } else if (!strcmp(v->workload, "fanout") ||
               !strcmp(v->workload, "security-fanout")) {
        snprintf(p1, sizeof p1, "%.0f", s_num(r, "rate"));
        snprintf(p2, sizeof p2, "%.0f", s_num(r, "subscribers"));
        snprintf(b, len, v->title, p1, p2);
    } else if (!strcmp(v->workload, "fanout-max")) {
        snprintf(p1, sizeof p1, "%.0f", s_num(r, "subscribers"));
        snprintf(b, len, v->title, p1);
    } else if (!strcmp(v->workload, "security-get")) {
        s_fmt_rate(p1, sizeof p1, s_num(r, "published"));
        s_fmt_rate(p2, sizeof p2, s_num(r, "queries"));
        snprintf(b, len, v->title, p1, p2);
    } else {
        s_fmt_rate(p1, sizeof p1, s_num(r, "expected_events"));
        snprintf(b, len, v->title, p1);
    }
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */

static void s_text_meta(FILE *f, const json_t *m)
{
    if (!m)
        return;
    fprintf(f, "Ratusz vs peers (bench/compare.sh)\n");
    fprintf(f, "date:     %s\n", s_str(m, "date", "?"));
    fprintf(f, "command:  %s\n", s_str(m, "command", "?"));
    fprintf(f, "machine:  %s\n", s_str(m, "machine", "?"));
    fprintf(f, "kernel:   %s\n", s_str(m, "kernel", "?"));
    fprintf(f, "storage:  %s\n", s_str(m, "storage", "?"));
    /* rz-bench-memprobe, before the scale workload */
    json_t *probe = json_object_get(m, "memory_probe");
    json_t *first = json_object_get(probe, "first_touch_gb_per_s");
    if (json_array_size(first)) {
        size_t i;
        json_t *x;
        fprintf(f, "memory:   first touch, GB/s for each GB in turn:");
        json_array_foreach(first, i, x)
            fprintf(f, " %.2f", json_number_value(x));
        fprintf(f, "; touched again: %.1f GB/s\n",
                s_num(probe, "again_gb_per_s"));
    }
    json_t *v = json_object_get(m, "versions");
    const char *k;
    json_t *val;
    fprintf(f, "versions:");
    const char *sep = " ";
    json_object_foreach(v, k, val)
    {
        fprintf(f, "%s%s", sep, json_string_value(val));
        sep = "; ";
    }
    fprintf(f,
            "\nrounds:   %.0f, interleaved (A B C ... A B C ...); %s s "
            "per measurement\n",
            s_num(m, "rounds"), s_str(m, "duration", "?"));
    json_t *sys = json_object_get(m, "systems");
    if (json_is_object(sys)) {
        fprintf(f, "systems:\n");
        json_object_foreach(sys, k, val)
        {
            fprintf(f, "  %-15s %s\n", k, json_string_value(val));
        }
    }
}

static void s_text_group(FILE *f, const s_group_t *g)
{
    const s_view_t *v = s_view_of(g->workload);
    if (!v)
        return;
    char title[160];
    s_title(g, v, title, sizeof title);
    fprintf(f, "\n%s\n  (%s)\n", title, v->note);
    const s_col_t *rc = NULL;
    size_t ncols = 0;
    for (const s_col_t *c = v->cols; c->head; c++, ncols++)
        if (c->ratio)
            rc = c;
    /* Cells first, to size the columns: column 0 is the system, then the
     * view's columns, then the ratio (when the view has one). */
    enum { S_CELL = 64, S_COLS = 10 };
    static char cell[S_MAX_SYSTEMS + 1][S_COLS][S_CELL];
    size_t width[S_COLS] = {0};
    size_t last = rc ? ncols + 1 : ncols;
    snprintf(cell[0][0], S_CELL, "system");
    for (size_t j = 0; j < ncols; j++)
        snprintf(cell[0][j + 1], S_CELL, "%s", v->cols[j].head);
    if (rc)
        snprintf(cell[0][last], S_CELL, "Ratusz/peer");
    const s_row_t *ref = s_ref_row(g);
    for (size_t i = 0; i < g->nrows; i++) {
        const s_row_t *row = &g->rows[i];
        snprintf(cell[i + 1][0], S_CELL, "%s%s", row->system,
                 s_troubled(row) ? " !" : "");
        for (size_t j = 0; j < ncols; j++) {
            const s_col_t *c = &v->cols[j];
            s_stat_t st = s_stat(row, c->field);
            if (c->range)
                s_fmt_range(cell[i + 1][j + 1], S_CELL, st, c->fmt);
            else
                c->fmt(cell[i + 1][j + 1], S_CELL, st.med);
        }
        if (rc)
            snprintf(cell[i + 1][last], S_CELL, "-");
        if (ref && row != ref && rc) {
            double a = s_stat(ref, rc->field).med;
            double b = s_stat(row, rc->field).med;
            if (isfinite(a) && isfinite(b) && b > 0)
                snprintf(cell[i + 1][last], S_CELL, "%.2fx", a / b);
        }
    }
    for (size_t i = 0; i <= g->nrows; i++)
        for (size_t j = 0; j <= last; j++)
            if (strlen(cell[i][j]) > width[j])
                width[j] = strlen(cell[i][j]);
    for (size_t i = 0; i <= g->nrows; i++) {
        fprintf(f, "  %-*s", (int)width[0], cell[i][0]);
        for (size_t j = 1; j <= last; j++)
            fprintf(f, "  %*s", (int)width[j], cell[i][j]);
        fprintf(f, "\n");
    }
    if (rc)
        fprintf(f,
                "  Ratusz/peer = ratio of the medians of %s (%s is "
                "better)\n",
                rc->head, rc->higher ? "higher" : "lower");
    for (size_t i = 0; i < g->nrows; i++) {
        size_t bad = s_troubled(&g->rows[i]);
        if (bad)
            fprintf(f, "  ! %s: %zu of %zu rounds failed or lost events\n",
                    g->rows[i].system, bad, g->rows[i].n);
    }
}

/* One series of scale steps (a row: one store grown step by step). */
static void s_text_scale_row(FILE *f, const s_row_t *row)
{
    char step[32], subjects[48] = "";
    s_fmt_rate(step, sizeof step, s_num(row->runs[0], "events"));
    double nsub = s_num(row->runs[0], "subjects");
    if (isfinite(nsub) && nsub > 0)
        snprintf(subjects, sizeof subjects, ", %.0f subjects", nsub);
    fprintf(f,
            "\n5. Scale with size (%s%s): each step publishes %s events "
            "(window %.0f), then runs subject queries\n"
            "  (query = 10 events of a random subject since the step "
            "began; CPU and disk B/ev = broker CPU time and bytes written "
            "per event\n   in the step; disk MB = size of the data dir; "
            "B/event = disk MB per stored event; cache GB = the machine's "
            "page cache)\n",
            row->system, subjects, step, s_num(row->runs[0], "window"));
    fprintf(f, "  %8s %9s %8s %8s %9s %9s %9s %9s %9s %8s %7s %7s %8s\n",
            "stored", "events/s", "ack p50", "ack p99", "query p50",
            "query p99", "qry p999", "CPU us/ev", "disk B/ev", "disk MB",
            "B/event", "RSS MB", "cache GB");
    for (size_t i = 0; i < row->n; i++) {
        const json_t *r = row->runs[i];
        char st[32], ev[32], a50[32], a99[32], q50[32], q99[32], q999[32];
        s_fmt_rate(st, sizeof st, s_num(r, "head_seq"));
        s_fmt_rate(ev, sizeof ev, s_num(r, "events_per_s"));
        s_fmt_us(a50, sizeof a50, s_num(r, "p50_us"));
        s_fmt_us(a99, sizeof a99, s_num(r, "p99_us"));
        s_fmt_us(q50, sizeof q50, s_num(r, "query_p50_us"));
        s_fmt_us(q99, sizeof q99, s_num(r, "query_p99_us"));
        s_fmt_us(q999, sizeof q999, s_num(r, "query_p999_us"));
        double disk = s_num(r, "store_bytes");
        double head = s_num(r, "head_seq");
        double n = s_num(r, "events");
        char wr[32];
        s_fmt_bytes(wr, sizeof wr, s_num(r, "write_bytes") / n);
        fprintf(f,
                "  %8s %9s %8s %8s %9s %9s %9s %9.1f %9s %8.0f %7.0f "
                "%7.0f %8.1f%s\n",
                st, ev, a50, a99, q50, q99, q999,
                s_num(r, "broker_cpu_s") * 1e6 / n, wr, disk / 1048576,
                head > 0 ? disk / head : NAN, s_num(r, "rss_kb_after") / 1024,
                s_num(r, "cached_kb") / 1048576,
                s_num(r, "errors") > 0 ||
                        json_is_true(json_object_get(r, "failed"))
                    ? "  !"
                    : "");
    }
    const char *stop = s_str(row->runs[row->n - 1], "stopped", NULL);
    if (stop)
        fprintf(f, "  stopped early: %s\n", stop);
}

static void s_text_scale(FILE *f, const s_group_t *g)
{
    for (size_t i = 0; i < g->nrows; i++)
        if (g->rows[i].n)
            s_text_scale_row(f, &g->rows[i]);
}

/* ------------------------------------------------------------------------ */
/* JSON summary                                                              */

static json_t *s_json_stat(s_stat_t s)
{
    return json_pack("{s:f,s:f,s:f,s:i}", "median", isfinite(s.med) ? s.med : 0,
                     "min", isfinite(s.min) ? s.min : 0, "max",
                     isfinite(s.max) ? s.max : 0, "rounds", (json_int_t)s.n);
}

/* ------------------------------------------------------------------------ */
/* Security: what CURVE and redaction cost                                   */

#define S_GOAL_TEXT                                                           \
    "with CURVE on, ingest at window 4096 keeps >= 0.80 of the plain "       \
    "events/s and fan-out p99 stays <= 1/0.8 of plain; a GET of a redacted " \
    "event takes <= 2x an unredacted one (p50 and p99)"

/* One comparison of two variants in a security group: the ratio of the
 * medians test/base, and the goal it should meet. */
typedef struct s_pair {
    const char *workload;
    const char *what;
    const char *field;
    const char *base;
    const char *test;
    s_fmt_fn fmt;
    int op;      /* '>': ratio >= goal; '<': ratio <= goal; 0: no goal */
    double goal;
} s_pair_t;

static const s_pair_t s_pairs[] = {
    {"security-ingest", "ingest events/s, CURVE/plain", "events_per_s",
     "ratusz", "ratusz-curve", s_fmt_rate, '>', 0.80},
    {"security-fanout", "fan-out p99, CURVE/plain", "p99_us", "ratusz",
     "ratusz-curve", s_fmt_us, '<', 1 / 0.80},
    {"security-get", "get p50, redacted/unredacted", "p50_us", "ratusz-curve",
     "ratusz-curve-redacted", s_fmt_us, '<', 2.0},
    {"security-get", "get p99, redacted/unredacted", "p99_us", "ratusz-curve",
     "ratusz-curve-redacted", s_fmt_us, '<', 2.0},
    {"security-get", "get p50, CURVE/plain", "p50_us", "ratusz",
     "ratusz-curve", s_fmt_us, 0, 0},
    {"security-get", "get p99, CURVE/plain", "p99_us", "ratusz",
     "ratusz-curve", s_fmt_us, 0, 0},
};

typedef struct s_pair_result {
    const s_pair_t *p;
    const s_group_t *g;
    char what[96]; /* p->what and the group's parameters */
    s_stat_t base, test;
    double ratio; /* NAN when a side has no measurement */
    int met;      /* 1 yes, 0 no, -1 no goal or no data */
    size_t troubled;
} s_pair_result_t;

#define S_MAX_PAIRS 32

static const s_row_t *s_row_of(const s_group_t *g, const char *system)
{
    for (size_t i = 0; i < g->nrows; i++)
        if (!strcmp(g->rows[i].system, system))
            return &g->rows[i];
    return NULL;
}

/* Every pair of every security group, in the order the groups were run.
 * Returns the number written to out. */
static size_t s_security_pairs(const s_report_t *rep, s_pair_result_t *out,
                               size_t max)
{
    size_t n = 0;
    for (size_t gi = 0; gi < rep->ngroups; gi++) {
        const s_group_t *g = &rep->groups[gi];
        if (!s_is_security(g->workload))
            continue;
        for (size_t pi = 0; pi < sizeof s_pairs / sizeof *s_pairs; pi++) {
            const s_pair_t *p = &s_pairs[pi];
            const s_row_t *b = s_row_of(g, p->base);
            const s_row_t *t = s_row_of(g, p->test);
            if (strcmp(p->workload, g->workload) || (!b && !t) || n == max)
                continue;
            s_pair_result_t *r = &out[n++];
            r->p = p;
            r->g = g;
            if (!strcmp(g->workload, "security-fanout"))
                snprintf(r->what, sizeof r->what, "%s, %.0f sub", p->what,
                         s_num(g->first, "subscribers"));
            else if (!strcmp(g->workload, "security-ingest"))
                snprintf(r->what, sizeof r->what, "%s, window %.0f", p->what,
                         s_num(g->first, "window"));
            else
                snprintf(r->what, sizeof r->what, "%s", p->what);
            s_stat_t none = {NAN, NAN, NAN, 0};
            r->base = b ? s_stat(b, p->field) : none;
            r->test = t ? s_stat(t, p->field) : none;
            r->troubled = (b ? s_troubled(b) : 0) + (t ? s_troubled(t) : 0);
            r->ratio = NAN;
            if (isfinite(r->base.med) && isfinite(r->test.med) &&
                r->base.med > 0)
                r->ratio = r->test.med / r->base.med;
            r->met = -1;
            if (p->op && isfinite(r->ratio))
                r->met = p->op == '>' ? r->ratio >= p->goal
                                      : r->ratio <= p->goal;
        }
    }
    return n;
}

/* What the GET rounds of one system saw of redaction. */
typedef struct s_redaction {
    size_t rounds, redacted; /* rounds, and rounds whose replies all were */
    double leaks, missing;   /* PESEL in a redacted reply; absent from an
                                unredacted one */
} s_redaction_t;

static s_redaction_t s_redaction_of(const s_row_t *row)
{
    s_redaction_t x = {row->n, 0, 0, 0};
    for (size_t i = 0; i < row->n; i++) {
        const json_t *r = row->runs[i];
        x.redacted += json_is_true(json_object_get(r, "redacted"));
        double l = s_num(r, "pesel_leaks"), m = s_num(r, "pesel_missing");
        x.leaks += isfinite(l) ? l : 0;
        x.missing += isfinite(m) ? m : 0;
    }
    return x;
}

static void s_goal_text(const s_pair_t *p, char *b, size_t len)
{
    if (p->op)
        snprintf(b, len, "%s %.2f", p->op == '>' ? ">=" : "<=", p->goal);
    else
        snprintf(b, len, "-");
}

static const char *s_met_text(int met)
{
    return met < 0 ? "-" : met ? "yes" : "NO";
}

static void s_text_security(FILE *f, const s_report_t *rep)
{
    int any = 0;
    for (size_t i = 0; i < rep->ngroups; i++)
        if (s_is_security(rep->groups[i].workload)) {
            s_text_group(f, &rep->groups[i]);
            any = 1;
        }
    if (!any)
        return;
    static s_pair_result_t pr[S_MAX_PAIRS];
    size_t n = s_security_pairs(rep, pr, S_MAX_PAIRS);
    fprintf(f,
            "\n6. Security: the cost of CURVE and of redaction\n"
            "  (goal: %s)\n"
            "  ratusz = no keys; ratusz-curve = CURVE, grants, redacted "
            "stream on, client cleared for personal data;\n"
            "  ratusz-curve-redacted = the same broker, client without "
            "personal_data (its GETs come back pseudonymised)\n",
            S_GOAL_TEXT);
    enum { S_CELL = 64, S_NCOL = 6 };
    static char cell[S_MAX_PAIRS + 1][S_NCOL][S_CELL];
    static const char *head[S_NCOL] = {"compared", "first",  "second",
                                       "ratio",    "goal",   "met"};
    size_t width[S_NCOL] = {0};
    for (size_t j = 0; j < S_NCOL; j++)
        snprintf(cell[0][j], S_CELL, "%s", head[j]);
    for (size_t i = 0; i < n; i++) {
        const s_pair_result_t *r = &pr[i];
        char a[24], b[24];
        r->p->fmt(a, sizeof a, r->base.med);
        r->p->fmt(b, sizeof b, r->test.med);
        snprintf(cell[i + 1][0], S_CELL, "%s%s", r->what,
                 r->troubled ? " !" : "");
        snprintf(cell[i + 1][1], S_CELL, "%s %s", r->p->base, a);
        snprintf(cell[i + 1][2], S_CELL, "%s %s", r->p->test, b);
        if (isfinite(r->ratio))
            snprintf(cell[i + 1][3], S_CELL, "%.2f", r->ratio);
        else
            snprintf(cell[i + 1][3], S_CELL, "-");
        s_goal_text(r->p, cell[i + 1][4], S_CELL);
        snprintf(cell[i + 1][5], S_CELL, "%s",
                 r->p->op && !isfinite(r->ratio) ? "no data"
                                                 : s_met_text(r->met));
    }
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j < S_NCOL; j++)
            if (strlen(cell[i][j]) > width[j])
                width[j] = strlen(cell[i][j]);
    for (size_t i = 0; i <= n; i++) {
        fprintf(f, "  %-*s", (int)width[0], cell[i][0]);
        for (size_t j = 1; j < S_NCOL; j++)
            fprintf(f, "  %*s", (int)width[j], cell[i][j]);
        fprintf(f, "\n");
    }
    fprintf(f, "  ratio = median of the second / median of the first, over "
               "the rounds; ! = a round failed or lost events\n");
    for (size_t gi = 0; gi < rep->ngroups; gi++) {
        const s_group_t *g = &rep->groups[gi];
        if (strcmp(g->workload, "security-get"))
            continue;
        for (size_t i = 0; i < g->nrows; i++) {
            s_redaction_t x = s_redaction_of(&g->rows[i]);
            fprintf(f,
                    "  %s: replies redacted in %zu of %zu rounds; PESEL in a "
                    "redacted reply %.0f times, missing from an unredacted "
                    "one %.0f times\n",
                    g->rows[i].system, x.redacted, x.rounds, x.leaks,
                    x.missing);
        }
    }
}

static json_t *s_json_security(const s_report_t *rep)
{
    static s_pair_result_t pr[S_MAX_PAIRS];
    size_t n = s_security_pairs(rep, pr, S_MAX_PAIRS);
    json_t *pairs = json_array();
    for (size_t i = 0; i < n; i++) {
        const s_pair_result_t *r = &pr[i];
        json_t *j = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:i}", "compared", r->what,
            "workload", r->g->workload, "key", r->g->key, "field",
            r->p->field, "first", r->p->base, "second", r->p->test, "first_stat",
            s_json_stat(r->base), "second_stat", s_json_stat(r->test),
            "troubled", (json_int_t)r->troubled);
        json_object_set_new(j, "ratio", isfinite(r->ratio)
                                            ? json_real(r->ratio)
                                            : json_null());
        if (r->p->op) {
            json_object_set_new(j, "goal",
                                json_pack("{s:s,s:f}", "op",
                                          r->p->op == '>' ? ">=" : "<=",
                                          "value", r->p->goal));
            json_object_set_new(j, "met", r->met < 0 ? json_null()
                                                     : json_boolean(r->met));
        }
        json_array_append_new(pairs, j);
    }
    json_t *red = json_array();
    for (size_t gi = 0; gi < rep->ngroups; gi++) {
        const s_group_t *g = &rep->groups[gi];
        if (strcmp(g->workload, "security-get"))
            continue;
        for (size_t i = 0; i < g->nrows; i++) {
            s_redaction_t x = s_redaction_of(&g->rows[i]);
            json_array_append_new(
                red, json_pack("{s:s,s:i,s:i,s:f,s:f}", "system",
                               g->rows[i].system, "rounds",
                               (json_int_t)x.rounds, "redacted_rounds",
                               (json_int_t)x.redacted, "pesel_leaks", x.leaks,
                               "pesel_missing", x.missing));
        }
    }
    return json_pack("{s:s,s:o,s:o}", "goal", S_GOAL_TEXT, "pairs", pairs,
                     "redaction", red);
}

static json_t *s_json_summary(const s_report_t *rep)
{
    json_t *groups = json_array();
    for (size_t gi = 0; gi < rep->ngroups; gi++) {
        const s_group_t *g = &rep->groups[gi];
        const s_view_t *v = s_view_of(g->workload);
        if (!v)
            continue;
        char title[160];
        s_title(g, v, title, sizeof title);
        json_t *jg = json_pack("{s:s,s:s,s:s}", "workload", g->workload, "key",
                               g->key, "title", title);
        const json_t *first = g->first;
        const char *params[] = {"window", "publishers", "subscribers",
                                "rate",   "size",       "expected_events"};
        for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
            double x = s_num(first, params[i]);
            if (isfinite(x))
                json_object_set_new(jg, params[i], json_real(x));
        }
        const s_row_t *ref = s_ref_row(g);
        const s_col_t *rc = NULL;
        for (const s_col_t *c = v->cols; c->head; c++)
            if (c->ratio)
                rc = c;
        json_t *rows = json_array();
        for (size_t i = 0; i < g->nrows; i++) {
            const s_row_t *row = &g->rows[i];
            json_t *jr = json_pack("{s:s,s:i,s:i}", "system", row->system,
                                   "rounds", (json_int_t)row->n, "troubled",
                                   (json_int_t)s_troubled(row));
            for (const s_col_t *c = v->cols; c->head; c++)
                json_object_set_new(jr, c->field,
                                    s_json_stat(s_stat(row, c->field)));
            if (ref && row != ref && rc) {
                double a = s_stat(ref, rc->field).med;
                double b = s_stat(row, rc->field).med;
                if (isfinite(a) && isfinite(b) && b > 0)
                    json_object_set_new(jr, "ratio_ratusz_to_peer",
                                        json_real(a / b));
            }
            json_array_append_new(rows, jr);
        }
        if (rc)
            json_object_set_new(jg, "ratio_of", json_string(rc->field));
        json_object_set_new(jg, "rows", rows);
        json_array_append_new(groups, jg);
    }
    json_t *scale = json_array();
    for (size_t r = 0; r < rep->scale.nrows; r++)
        for (size_t i = 0; i < rep->scale.rows[r].n; i++)
            json_array_append(scale, rep->scale.rows[r].runs[i]);
    return json_pack("{s:O,s:o,s:o,s:o,s:O}", "meta",
                     rep->meta ? rep->meta : json_null(), "summary", groups,
                     "scale", scale, "security", s_json_security(rep),
                     "runs", rep->runs);
}

/* ------------------------------------------------------------------------ */
/* SVG                                                                       */

static const char *s_color(const char *system, size_t i)
{
    static const struct {
        const char *name, *color;
    } known[] = {{"ratusz", "#b0302a"},       {"ratusz-os", "#e8958f"},
                 {"redis-always", "#1f5fa8"}, {"redis-everysec", "#8db8e8"},
                 {"nats", "#2e8b3a"},         {"mosquitto", "#8a5cc2"},
                 {"ratusz-curve", "#6e1a16"},
                 {"ratusz-curve-redacted", "#d9774a"},
                 {"ratusz-stream", "#7a2520"}};
    static const char *other[] = {"#c78a1c", "#4a4a4a", "#1c9e9e"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (!strcmp(known[k].name, system))
            return known[k].color;
    return other[i % 3];
}

/* What a reference system's ack does not promise, for the chart. */
static const char *s_caveat(const char *system)
{
    if (!strcmp(system, "redis-everysec"))
        return "fsync once a second";
    if (!strcmp(system, "nats") || !strcmp(system, "mosquitto") ||
        !strcmp(system, "ratusz-os"))
        return "no fsync before ack";
    return NULL;
}

static void s_xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        default: fputc(*s, f);
        }
    }
}

#define S_W 960
#define S_LABEL 150
#define S_BARW 560
#define S_ROW 18

/* One cluster: a title and a bar per system, linear from 0 to the
 * largest max, with a whisker for min-max. Returns the next y. */
static int s_svg_cluster(FILE *f, int y, const char *title, const s_group_t *g,
                         const char *field, s_fmt_fn fmt, int higher,
                         int durable)
{
    fprintf(f, "<text x=\"10\" y=\"%d\" class=\"t\">", y + 14);
    s_xml(f, title);
    fprintf(f, " <tspan class=\"n\">(%s is better)</tspan></text>\n",
            higher ? "higher" : "lower");
    y += 22;
    double top = 0;
    for (size_t i = 0; i < g->nrows; i++) {
        s_stat_t s = s_stat(&g->rows[i], field);
        if (isfinite(s.max) && s.max > top)
            top = s.max;
    }
    if (top <= 0)
        top = 1;
    for (size_t i = 0; i < g->nrows; i++) {
        const s_row_t *row = &g->rows[i];
        s_stat_t s = s_stat(row, field);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\">", S_LABEL - 6, y + 13);
        s_xml(f, row->system);
        fprintf(f, "</text>\n");
        if (isfinite(s.med)) {
            double w = s.med / top * S_BARW;
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                    "fill=\"%s\"/>\n",
                    S_LABEL, y + 2, w < 1 ? 1 : w, S_ROW - 4,
                    s_color(row->system, i));
            if (s.n > 1)
                fprintf(f,
                        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
                        "class=\"w\"/>\n",
                        S_LABEL + s.min / top * S_BARW,
                        S_LABEL + s.max / top * S_BARW, y + S_ROW / 2,
                        y + S_ROW / 2);
            char b[128];
            s_fmt_range(b, sizeof b, s, fmt);
            const char *cav = durable ? s_caveat(row->system) : NULL;
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%d\" class=\"v\">%s"
                    "<tspan class=\"n\" dx=\"8\">%s</tspan></text>\n",
                    S_LABEL + (s.max > s.med ? s.max : s.med) / top * S_BARW +
                        6,
                    y + 13, b, cav ? cav : "");
        } else {
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">failed</text>\n",
                    S_LABEL + 4, y + 13);
        }
        y += S_ROW;
    }
    return y + 10;
}

/* A line chart of scale steps: field against stored events. */
static int s_svg_line(FILE *f, int y, const char *title, const s_group_t *g,
                      const char *field, s_fmt_fn fmt)
{
    int h = 120, x0 = S_LABEL, w = S_BARW;
    double xmax = 0, ymax = 0;
    for (size_t r = 0; r < g->nrows; r++)
        for (size_t i = 0; i < g->rows[r].n; i++) {
            double x = s_num(g->rows[r].runs[i], "head_seq");
            double v = s_num(g->rows[r].runs[i], field);
            if (isfinite(x) && x > xmax)
                xmax = x;
            if (isfinite(v) && v > ymax)
                ymax = v;
        }
    if (xmax <= 0 || ymax <= 0)
        return y;
    fprintf(f, "<text x=\"10\" y=\"%d\" class=\"t\">", y + 14);
    s_xml(f, title);
    fprintf(f, "</text>\n");
    y += 24;
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"a\"/>\n"
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"a\"/>\n",
            x0, x0, y, y + h, x0, x0 + w, y + h, y + h);
    char b[32];
    fmt(b, sizeof b, ymax);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\">%s</text>\n", x0 - 6,
            y + 10, b);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\">0</text>\n", x0 - 6, y + h);
    s_fmt_rate(b, sizeof b, xmax);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%s events stored</text>\n",
            x0 + w + 6, y + h + 4, b);
    /* one line a series, named at its last point */
    for (size_t r = 0; r < g->nrows; r++) {
        const s_row_t *row = &g->rows[r];
        const char *color = s_color(row->system, r);
        double lx = NAN, ly = NAN;
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                "points=\"",
                color);
        for (size_t i = 0; i < row->n; i++) {
            double x = s_num(row->runs[i], "head_seq");
            double v = s_num(row->runs[i], field);
            if (isfinite(x) && isfinite(v))
                fprintf(f, "%.1f,%.1f ", x0 + x / xmax * w,
                        y + h - v / ymax * h);
        }
        fprintf(f, "\"/>\n");
        for (size_t i = 0; i < row->n; i++) {
            double x = s_num(row->runs[i], "head_seq");
            double v = s_num(row->runs[i], field);
            if (!isfinite(x) || !isfinite(v))
                continue;
            lx = x0 + x / xmax * w;
            ly = y + h - v / ymax * h;
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                    "fill=\"%s\"/>\n",
                    lx, ly, color);
        }
        if (g->nrows > 1 && isfinite(lx)) {
            double nsub = s_num(row->runs[0], "subjects");
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"l\" fill=\"%s\">",
                    lx - 4, ly - 6, color);
            if (isfinite(nsub) && nsub > 0)
                fprintf(f, "%.0f subjects", nsub);
            else
                s_xml(f, row->system);
            fprintf(f, "</text>\n");
        }
    }
    return y + h + 24;
}

/* One cluster per pair with a goal: every variant of its group, and the
 * ratio and the goal in the title. Returns the next y. */
static int s_svg_security(FILE *f, int y, const s_report_t *rep)
{
    static s_pair_result_t pr[S_MAX_PAIRS];
    size_t n = s_security_pairs(rep, pr, S_MAX_PAIRS);
    for (size_t i = 0; i < n; i++) {
        const s_pair_result_t *r = &pr[i];
        if (!r->p->op)
            continue;
        char title[200], ratio[16], goal[16];
        if (isfinite(r->ratio))
            snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        else
            snprintf(ratio, sizeof ratio, "-");
        s_goal_text(r->p, goal, sizeof goal);
        snprintf(title, sizeof title, "6. Security: %s = %s (goal %s: %s)",
                 r->what, ratio, goal,
                 r->met < 0 ? "no data" : r->met ? "met" : "NOT met");
        y = s_svg_cluster(f, y, title, r->g, r->p->field, r->p->fmt,
                          !strcmp(r->p->field, "events_per_s"), 0);
    }
    return y;
}

static void s_svg(FILE *f, const s_report_t *rep)
{
    /* Draw into a buffer first: the height is known only at the end. */
    char *body = NULL;
    size_t blen = 0;
    FILE *b = open_memstream(&body, &blen);
    if (!b)
        return;
    int y = 10;
    fprintf(b,
            "<text x=\"10\" y=\"%d\" class=\"h\">Ratusz vs peers, 256-byte "
            "events: median of the rounds, whisker = min-max</text>\n",
            y + 16);
    y += 26;
    if (rep->meta) {
        fprintf(b, "<text x=\"10\" y=\"%d\" class=\"n\">", y + 12);
        s_xml(b, s_str(rep->meta, "date", ""));
        fprintf(b, " - ");
        s_xml(b, s_str(rep->meta, "machine", ""));
        fprintf(b, "</text>\n");
        y += 22;
    }
    for (size_t gi = 0; gi < rep->ngroups; gi++) {
        const s_group_t *g = &rep->groups[gi];
        const s_view_t *v = s_view_of(g->workload);
        if (!v)
            continue;
        const s_col_t *rc = NULL;
        for (const s_col_t *c = v->cols; c->head; c++)
            if (c->ratio)
                rc = c;
        if (!rc)
            continue;
        char title[200], t[160];
        s_title(g, v, t, sizeof t);
        snprintf(title, sizeof title, "%s: %s", t, rc->head);
        int durable =
            !strcmp(g->workload, "ingest") || !strcmp(g->workload, "multi");
        y = s_svg_cluster(b, y, title, g, rc->field, rc->fmt, rc->higher,
                          durable);
    }
    y = s_svg_line(b, y, "5. Scale: ingest events/s as the store grows",
                   &rep->scale, "events_per_s", s_fmt_rate);
    y = s_svg_line(b, y, "5. Scale: subject query p99 as the store grows",
                   &rep->scale, "query_p99_us", s_fmt_us);
    y = s_svg_security(b, y, rep);
    fclose(b);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\">\n"
            "<style>.h{font-size:16px;font-weight:bold}"
            ".t{font-size:13px;font-weight:bold}"
            ".n{font-size:11px;fill:#555;font-weight:normal}"
            ".l{font-size:12px;text-anchor:end}.v{font-size:11px;fill:#333}"
            ".w{stroke:#000;stroke-width:1.5}.a{stroke:#999}</style>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            S_W, y + 10, S_W, y + 10);
    fwrite(body, 1, blen, f);
    fprintf(f, "</svg>\n");
    free(body);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *in = NULL, *json_out = NULL, *svg_out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_out = argv[++i];
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
            svg_out = argv[++i];
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s RESULTS.jsonl [--json OUT] "
                    "[--svg OUT]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!in) {
        fprintf(stderr, "usage: %s RESULTS.jsonl [--json OUT] [--svg OUT]\n",
                argv[0]);
        return 2;
    }
    FILE *f = fopen(in, "r");
    if (!f) {
        perror(in);
        return 1;
    }
    static s_report_t rep;
    rep.runs = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t err;
        json_t *r = json_loadb(line, (size_t)len, 0, &err);
        if (!r || !json_is_object(r)) {
            if (len > 1)
                fprintf(stderr, "%s:%d: skipped: %s\n", in, lineno, err.text);
            json_decref(r);
            continue;
        }
        json_t *m = json_object_get(r, "meta");
        if (m) {
            json_decref(rep.meta);
            rep.meta = json_incref(m);
            json_decref(r);
            continue;
        }
        json_array_append_new(rep.runs, r); /* the array owns it */
        s_add(&rep, r);
    }
    free(line);
    fclose(f);

    s_text_meta(stdout, rep.meta);
    for (size_t i = 0; i < rep.ngroups; i++)
        if (!s_is_security(rep.groups[i].workload))
            s_text_group(stdout, &rep.groups[i]);
    s_text_scale(stdout, &rep.scale);
    s_text_security(stdout, &rep);

    int rc = 0;
    if (json_out) {
        json_t *j = s_json_summary(&rep);
        if (json_dump_file(j, json_out, JSON_INDENT(1)) < 0) {
            fprintf(stderr, "cannot write %s\n", json_out);
            rc = 1;
        }
        json_decref(j);
    }
    if (svg_out) {
        FILE *o = fopen(svg_out, "w");
        if (!o) {
            perror(svg_out);
            rc = 1;
        } else {
            s_svg(o, &rep);
            if (fclose(o))
                rc = 1;
        }
    }
    json_decref(rep.meta);
    json_decref(rep.runs);
    return rc;
}
