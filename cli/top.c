/* top.c - `ratusz top`: the broker on one full terminal screen (ncurses)
 *
 *   line 0   ratuszd 1.4.0  ok  head 123456  up 3h05m  store ...  12:00:01
 *   line 1   in 12.3/s ▁▂▃▅▇  out 40.1/s ▁▁▂▃▅  commit p50 .. p99 ..
 *   line 2   PROBLEMS  component adapter/gios STALE · lag g1 +120 · ...
 *   line 3   the column titles of the table below
 *   ...      the table: series (tenant > domain > source), consumer
 *            groups (g) or components (c); it scrolls, the rest does not
 *   last     the keys, the sort column and the filter
 *
 * Everything shown comes from one STATS reply per interval (consumer groups
 * and components are in it). Rates of the whole broker and of each source
 * "now" are differences between successive replies; the 1 and 5 minute
 * averages are the broker's own.
 */
#include <curses.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"
#include "top.h"

/* Samples kept for the sparklines: 8 minutes at the default 2 s. */
#define S_HISTORY 240

/* "Growing" (lag, quarantine, rejections) compares with the oldest sample
 * at most this old. */
#define S_GROWTH_US (60 * INT64_C(1000000))

/* Storage and memory over this share of their limit are a problem. */
#define S_FULL_PCT 90.0

/* Longest filter prefix. */
#define S_FILTER_MAX 127

/* The widest line drawn; a wider terminal gets blank space on the right. */
#define S_COLS_MAX 1000

/* ==========================================================================
 * State
 */

/* A name and a number, remembered from one sample. */
typedef struct {
    char *name;
    double value;
} s_kv_t;

/* What one sample leaves for later ones: the totals behind the rates, and
 * the numbers whose growth is a problem. */
typedef struct {
    int64_t at; /* unix µs */
    uint64_t in, out;
    uint64_t denied;
    s_kv_t *lags, *quarantined, *rejected;
    size_t nlags, nquarantined, nrejected;
} s_point_t;

enum s_col {
    S_COL_RATE1,
    S_COL_NOW,
    S_COL_RATE5,
    S_COL_IN,
    S_COL_OUT,
    S_COL_LAST,
    S_COL_NAME,
    S_NCOLS
};

/* Titles of the sortable columns, in the order s cycles through them. */
static const char *const s_col_title[S_NCOLS] = {"1m/s", "NOW/s", "5m/s", "IN",
                                                 "OUT",  "LAST",  "NAME"};

enum s_pane { S_PANE_SERIES, S_PANE_GROUPS, S_PANE_COMPONENTS, S_NPANES };

/* One line of the series table: a tenant, a domain or a source, with the
 * sums of what is under it. Strings are borrowed from the current reply. */
typedef struct {
    int level; /* 0 tenant, 1 domain, 2 source */
    const char *tenant, *domain, *source;
    uint64_t in, out;
    double now, rate1, rate5;
    int64_t last;
    size_t first, children; /* the rows under it in the next level */
    bool collapsed;
} s_row_t;

typedef struct {
    rz_client_t *cl;
    unsigned interval_s;
    bool utf8, color;

    Ratusz__V1__Stats *cur, *prev; /* counters sorted by series */
    int64_t cur_at, prev_at;
    int err; /* the last STATS failure; 0 when it answered */
    char err_text[200];
    int64_t err_at;

    s_point_t hist[S_HISTORY]; /* a ring, hist_n of them up to hist_end */
    size_t hist_n, hist_end;

    /* the series table, rebuilt from cur on every draw */
    s_row_t *tenants, *domains, *sources;
    s_row_t **lines; /* the rows shown, in order */
    size_t ntenants, ndomains, nsources, nlines;

    /* what the operator chose */
    enum s_pane pane;
    size_t cursor[S_NPANES], top[S_NPANES];
    enum s_col sort;
    bool reverse, help, editing;
    char filter[S_FILTER_MAX + 1], edit[S_FILTER_MAX + 1];
    char **collapsed; /* "tenant" or "tenant\x1f" "domain" */
    size_t ncollapsed;
} s_top_t;

/* qsort has no context argument; the view is single-threaded. */
static enum s_col s_sort_col;
static bool s_sort_rev;

enum { S_PAIR_RED = 1, S_PAIR_GREEN, S_PAIR_YELLOW };

static int s_attr_red(const s_top_t *t)
{
    return (t->color ? COLOR_PAIR(S_PAIR_RED) : 0) | A_BOLD;
}

static int s_attr_green(const s_top_t *t)
{
    return t->color ? COLOR_PAIR(S_PAIR_GREEN) : 0;
}

static int s_attr_yellow(const s_top_t *t)
{
    return t->color ? COLOR_PAIR(S_PAIR_YELLOW) | A_BOLD : A_BOLD;
}

static int s_cols(void)
{
    return COLS < S_COLS_MAX ? COLS : S_COLS_MAX;
}

/* ==========================================================================
 * Text that fits
 */

/* Copy s into dst as exactly width columns: cut (ending in '~') or padded
 * with spaces on the right, or on the left when right. Control characters,
 * which would move the terminal's cursor, become '?'. Widths count code
 * points as table.c does. */
static void s_fit(char *dst, size_t len, const char *s, int width, bool right)
{
    size_t o = 0;
    if (width <= 0 || len < 2) {
        if (len)
            dst[0] = '\0';
        return;
    }
    int w = (int)text_width(s);
    bool cut = w > width;
    int room = cut ? width - 1 : width;
    if (right && !cut)
        for (int i = w; i < width && o + 1 < len; i++)
            dst[o++] = ' ';
    int used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool start = (*p & 0xc0) != 0x80;
        if (start && used == room)
            break;
        if (o + 2 >= len)
            break;
        if (start)
            used++;
        dst[o++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
    }
    if (cut && o + 1 < len) {
        dst[o++] = '~';
        used++;
    }
    if (!right)
        for (; used < width && o + 1 < len; used++)
            dst[o++] = ' ';
    dst[o] = '\0';
}

static void s_add(int attr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* printf at the cursor in attr, cut to what is left of the line (ncurses
 * would wrap it onto the next). */
static void s_add(int attr, const char *fmt, ...)
{
    char text[4 * S_COLS_MAX + 8], fit[4 * S_COLS_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int y, x;
    getyx(stdscr, y, x);
    (void)y;
    int left = s_cols() - x;
    if (left <= 0)
        return;
    int w = (int)text_width(text);
    s_fit(fit, sizeof fit, text, w < left ? w : left, false);
    attron(attr);
    addstr(fit);
    attroff(attr);
}

/* A cell of width columns followed by a space. */
static void s_cell(int attr, int width, bool right, const char *s)
{
    char fit[4 * S_COLS_MAX + 8];
    s_fit(fit, sizeof fit, s, width, right);
    s_add(attr, "%s ", fit);
}

/* ==========================================================================
 * Samples
 */

int top_series_cmp(const void *a, const void *b)
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

static void s_kv_free(s_kv_t **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*kv)[i].name);
    free(*kv);
    *kv = NULL;
    *n = 0;
}

static void s_point_clear(s_point_t *p)
{
    s_kv_free(&p->lags, &p->nlags);
    s_kv_free(&p->quarantined, &p->nquarantined);
    s_kv_free(&p->rejected, &p->nrejected);
    memset(p, 0, sizeof *p);
}

static double s_kv_get(const s_kv_t *kv, size_t n, const char *name,
                       bool *found)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].name, name)) {
            *found = true;
            return kv[i].value;
        }
    *found = false;
    return 0;
}

/* A component's quarantine: the sum of its metrics named "*quarantin*"
 * (the adapters' records_quarantined, the Kafka bridge's quarantined). */
static double s_quarantined(const Ratusz__V1__Component *c, bool *has)
{
    double sum = 0;
    *has = false;
    for (size_t m = 0; m < c->n_metrics; m++)
        if (strstr(c->metrics[m]->name, "quarantin")) {
            sum += c->metrics[m]->value;
            *has = true;
        }
    return sum;
}

/* Remember what later samples compare with. A failed allocation leaves the
 * point with fewer names: growth is then not shown, nothing worse. */
static void s_point_fill(s_point_t *p, const Ratusz__V1__Stats *st, int64_t at)
{
    p->at = at;
    p->in = st->events_total;
    p->out = st->events_out_total;
    p->denied = st->denied_total;
    p->lags = calloc(st->n_consumers + 1, sizeof *p->lags);
    for (size_t i = 0; p->lags && i < st->n_consumers; i++) {
        char *name = strdup(st->consumers[i]->name);
        if (!name)
            break;
        p->lags[p->nlags].name = name;
        p->lags[p->nlags++].value = (double)st->consumers[i]->lag;
    }
    p->quarantined = calloc(st->n_components + 1, sizeof *p->quarantined);
    for (size_t i = 0; p->quarantined && i < st->n_components; i++) {
        bool has;
        double q = s_quarantined(st->components[i], &has);
        char *name = has ? strdup(st->components[i]->name) : NULL;
        if (!name)
            continue;
        p->quarantined[p->nquarantined].name = name;
        p->quarantined[p->nquarantined++].value = q;
    }
    p->rejected = calloc(st->n_rejected + 1, sizeof *p->rejected);
    for (size_t i = 0; p->rejected && i < st->n_rejected; i++) {
        char *name = strdup(st->rejected[i]->reason);
        if (!name)
            break;
        p->rejected[p->nrejected].name = name;
        p->rejected[p->nrejected++].value = (double)st->rejected[i]->count;
    }
}

/* The i-th point from the oldest kept. */
static const s_point_t *s_point(const s_top_t *t, size_t i)
{
    return &t->hist[(t->hist_end + S_HISTORY - t->hist_n + i) % S_HISTORY];
}

/* What growth is measured from: the oldest point within S_GROWTH_US. */
static const s_point_t *s_baseline(const s_top_t *t)
{
    for (size_t i = 0; i < t->hist_n; i++) {
        const s_point_t *p = s_point(t, i);
        if (t->cur_at - p->at <= S_GROWTH_US)
            return p;
    }
    return NULL;
}

/* Ask the broker once; keep the reply and a point in the history. */
static void s_sample(s_top_t *t)
{
    Ratusz__V1__Stats *st = NULL;
    int rc = rz_stats(t->cl, &st);
    int64_t now = rz_now_us();
    if (rc < 0) {
        t->err = rc;
        t->err_at = now;
        const char *detail = rz_client_last_error(t->cl);
        snprintf(t->err_text, sizeof t->err_text, "%s%s%s (%s)",
                 rz_strerror(rc), detail && *detail ? ": " : "",
                 detail ? detail : "", rz_err_name(rc));
        return;
    }
    t->err = 0;
    qsort(st->counters, st->n_counters, sizeof *st->counters, top_series_cmp);
    if (t->prev)
        ratusz__v1__stats__free_unpacked(t->prev, NULL);
    t->prev = t->cur;
    t->prev_at = t->cur_at;
    t->cur = st;
    t->cur_at = now;
    s_point_t *p = &t->hist[t->hist_end];
    s_point_clear(p);
    s_point_fill(p, st, now);
    t->hist_end = (t->hist_end + 1) % S_HISTORY;
    if (t->hist_n < S_HISTORY)
        t->hist_n++;
}

/* Events per second between the points i-1 and i; out: delivered. */
static double s_hist_rate(const s_top_t *t, size_t i, bool out)
{
    const s_point_t *a = s_point(t, i - 1), *b = s_point(t, i);
    uint64_t x = out ? a->out : a->in, y = out ? b->out : b->in;
    if (b->at <= a->at || y < x)
        return 0; /* a restarted broker counts from 0 again */
    return (double)(y - x) / ((double)(b->at - a->at) / 1e6);
}

/* Events in per second of one series since the previous reply. */
static double s_series_now(const s_top_t *t, const Ratusz__V1__Counter *c)
{
    if (!t->prev || t->cur_at <= t->prev_at)
        return 0;
    Ratusz__V1__Counter **hit =
        bsearch(&c, t->prev->counters, t->prev->n_counters,
                sizeof *t->prev->counters, top_series_cmp);
    if (!hit || c->events_in < (*hit)->events_in)
        return 0;
    return (double)(c->events_in - (*hit)->events_in) /
           ((double)(t->cur_at - t->prev_at) / 1e6);
}

/* ==========================================================================
 * Problems: one table of rules, most severe first. Each rule adds the
 * items it finds; the problems line shows them in this order, cut to the
 * width with "+N more".
 */

#define S_ITEMS_MAX 64

typedef struct {
    char text[S_ITEMS_MAX][112];
    size_t n, dropped; /* dropped: found beyond S_ITEMS_MAX */
} s_items_t;

static void s_item(s_items_t *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_item(s_items_t *it, const char *fmt, ...)
{
    if (it->n == S_ITEMS_MAX) {
        it->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->text[it->n++], sizeof it->text[0], fmt, ap);
    va_end(ap);
}

static void s_rule_broker(const s_top_t *t, s_items_t *it)
{
    if (t->err)
        s_item(it, "broker not answering: %s", rz_err_name(t->err));
    else if (t->cur && t->cur->health && strcmp(t->cur->health->status, "ok"))
        s_item(it, "broker %s", t->cur->health->status);
}

static void s_rule_stale(const s_top_t *t, s_items_t *it)
{
    for (size_t i = 0; i < t->cur->n_components; i++) {
        const Ratusz__V1__Component *c = t->cur->components[i];
        if (t->cur_at - c->reported > TOP_STALE_US)
            s_item(it, "%s STALE", c->name);
    }
}

static void s_rule_component(const s_top_t *t, s_items_t *it)
{
    for (size_t i = 0; i < t->cur->n_components; i++) {
        const Ratusz__V1__Component *c = t->cur->components[i];
        if (t->cur_at - c->reported <= TOP_STALE_US && *c->status &&
            strcmp(c->status, "ok"))
            s_item(it, "%s: %s", c->name, c->status);
    }
}

static void s_rule_store(const s_top_t *t, s_items_t *it)
{
    const Ratusz__V1__Stats *st = t->cur;
    if (st->map_bytes &&
        100.0 * (double)st->store_bytes / (double)st->map_bytes >= S_FULL_PCT)
        s_item(it, "store %.0f%% full",
               100.0 * (double)st->store_bytes / (double)st->map_bytes);
    if (st->memory_budget &&
        100.0 * (double)st->memory_queued / (double)st->memory_budget >=
            S_FULL_PCT)
        s_item(it, "memory budget %.0f%% used",
               100.0 * (double)st->memory_queued / (double)st->memory_budget);
}

static void s_rule_silent(const s_top_t *t, s_items_t *it)
{
    size_t n = 0;
    const char *first = NULL;
    for (size_t i = 0; i < t->cur->n_counters; i++) {
        const Ratusz__V1__Counter *c = t->cur->counters[i];
        if (c->last_event > 0 && t->cur_at - c->last_event > TOP_SILENT_US) {
            if (!n++)
                first = c->source;
        }
    }
    if (n == 1)
        s_item(it, "%s SILENT", first);
    else if (n)
        s_item(it, "%zu sources SILENT (%s, ...)", n, first);
}

/* The class of reason with the most records in c's quarantine, cut to
 * len bytes on a UTF-8 boundary ("..." when cut); 0 when c reports none. */
static int s_top_class(const Ratusz__V1__Component *c, char *buf, size_t len)
{
    const Ratusz__V1__QuarantineReason *best = NULL;
    for (size_t k = 0; k < c->n_quarantine; k++)
        if (c->quarantine[k]->records &&
            (!best || c->quarantine[k]->records > best->records))
            best = c->quarantine[k];
    if (!best || len < 8)
        return 0;
    size_t n = strlen(best->class_);
    if (n < len) {
        memcpy(buf, best->class_, n + 1);
        return 1;
    }
    n = len - 4;
    while (n && ((unsigned char)best->class_[n] & 0xc0) == 0x80)
        n--;
    memcpy(buf, best->class_, n);
    memcpy(buf + n, "...", 4);
    return 1;
}

static void s_rule_quarantine(const s_top_t *t, s_items_t *it)
{
    const s_point_t *base = s_baseline(t);
    for (size_t i = 0; base && i < t->cur->n_components; i++) {
        const Ratusz__V1__Component *c = t->cur->components[i];
        bool has, found;
        double q = s_quarantined(c, &has);
        double was =
            s_kv_get(base->quarantined, base->nquarantined, c->name, &found);
        if (!(has && found && q > was))
            continue;
        char top[48];
        if (s_top_class(c, top, sizeof top))
            s_item(it, "%s quarantine +%.0f (%s)", c->name, q - was, top);
        else
            s_item(it, "%s quarantine +%.0f", c->name, q - was);
    }
}

static void s_rule_lag(const s_top_t *t, s_items_t *it)
{
    const s_point_t *base = s_baseline(t);
    for (size_t i = 0; base && i < t->cur->n_consumers; i++) {
        const Ratusz__V1__ConsumerGroup *g = t->cur->consumers[i];
        bool found;
        double was = s_kv_get(base->lags, base->nlags, g->name, &found);
        if (found && (double)g->lag > was)
            s_item(it, "group %s lag %" PRIu64 " (+%.0f)", g->name, g->lag,
                   (double)g->lag - was);
    }
}

static int s_rejected_cmp(const void *a, const void *b)
{
    const Ratusz__V1__Rejected *x = *(Ratusz__V1__Rejected *const *)a;
    const Ratusz__V1__Rejected *y = *(Ratusz__V1__Rejected *const *)b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void s_rule_rejected(const s_top_t *t, s_items_t *it)
{
    const Ratusz__V1__Stats *st = t->cur;
    Ratusz__V1__Rejected **r = malloc((st->n_rejected + 1) * sizeof *r);
    if (!r)
        return;
    memcpy(r, st->rejected, st->n_rejected * sizeof *r);
    qsort(r, st->n_rejected, sizeof *r, s_rejected_cmp);
    const s_point_t *base = s_baseline(t);
    for (size_t i = 0; i < st->n_rejected; i++) {
        bool found = false;
        double was = base ? s_kv_get(base->rejected, base->nrejected,
                                     r[i]->reason, &found)
                          : 0;
        if (!r[i]->count)
            continue;
        if (found && (double)r[i]->count > was)
            s_item(it, "rejected %s %" PRIu64 " (+%.0f)", r[i]->reason,
                   r[i]->count, (double)r[i]->count - was);
        else
            s_item(it, "rejected %s %" PRIu64, r[i]->reason, r[i]->count);
    }
    free(r);
}

static void s_rule_denied(const s_top_t *t, s_items_t *it)
{
    const Ratusz__V1__Stats *st = t->cur;
    if (st->denied_total)
        s_item(it, "denied %" PRIu64 " requests", st->denied_total);
    if (st->handshakes_refused)
        s_item(it, "refused %" PRIu64 " handshakes", st->handshakes_refused);
    if (st->watch_cutoffs)
        s_item(it, "%" PRIu64 " watchers cut off", st->watch_cutoffs);
}

typedef struct {
    const char *name;
    const char *condition; /* shown by the help screen */
    void (*find)(const s_top_t *t, s_items_t *it);
} s_rule_t;

static const s_rule_t s_rules[] = {
    {"broker",
     "the broker is not ok (store-full, disk-full, stopping) or "
     "does not answer",
     s_rule_broker},
    {"stale", "a component's last REPORT is over 15 s old", s_rule_stale},
    {"component", "a component reports a status other than ok",
     s_rule_component},
    {"full", "the store or the memory budget is over 90% used", s_rule_store},
    {"silent", "a source sent nothing for 15 minutes", s_rule_silent},
    {"quarantine",
     "a component's quarantine grew in the last minute (with "
     "its class of reason with the most records)",
     s_rule_quarantine},
    {"lag", "a consumer group's lag grew in the last minute", s_rule_lag},
    {"rejected", "events were rejected, by reason (+growth in a minute)",
     s_rule_rejected},
    {"denied",
     "requests denied by a grant, handshakes refused, watchers "
     "cut off",
     s_rule_denied},
};
#define S_NRULES (sizeof s_rules / sizeof s_rules[0])

static void s_problems(const s_top_t *t, s_items_t *it)
{
    memset(it, 0, sizeof *it);
    for (size_t i = 0; i < S_NRULES; i++)
        if (t->cur || s_rules[i].find == s_rule_broker)
            s_rules[i].find(t, it);
}

/* ==========================================================================
 * The series table
 */

static bool s_is_collapsed(const s_top_t *t, const char *tenant,
                           const char *domain)
{
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", tenant, domain ? "\x1f" : "",
             domain ? domain : "");
    for (size_t i = 0; i < t->ncollapsed; i++)
        if (!strcmp(t->collapsed[i], key))
            return true;
    return false;
}

static void s_toggle_collapsed(s_top_t *t, const char *tenant,
                               const char *domain)
{
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", tenant, domain ? "\x1f" : "",
             domain ? domain : "");
    for (size_t i = 0; i < t->ncollapsed; i++)
        if (!strcmp(t->collapsed[i], key)) {
            free(t->collapsed[i]);
            t->collapsed[i] = t->collapsed[--t->ncollapsed];
            return;
        }
    char **grown =
        realloc(t->collapsed, (t->ncollapsed + 1) * sizeof *t->collapsed);
    char *copy = strdup(key);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            t->collapsed = grown;
        return;
    }
    t->collapsed = grown;
    t->collapsed[t->ncollapsed++] = copy;
}

/* A series passes the filter when its source, its topic
 * ("tenant.domain") or its tenant starts with the prefix. */
static bool s_passes(const s_top_t *t, const Ratusz__V1__Counter *c)
{
    size_t n = strlen(t->filter);
    if (!n || !strncmp(c->source, t->filter, n))
        return true;
    char topic[512];
    snprintf(topic, sizeof topic, "%s.%s", c->tenant, c->domain);
    return !strncmp(topic, t->filter, n);
}

static const char *s_row_name(const s_row_t *r)
{
    const char *s = r->level == 0   ? r->tenant
                    : r->level == 1 ? r->domain
                                    : r->source;
    return *s ? s : "-";
}

static int s_row_cmp(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    int c = 0;
    switch (s_sort_col) {
    case S_COL_RATE1: c = (x->rate1 < y->rate1) - (x->rate1 > y->rate1); break;
    case S_COL_NOW: c = (x->now < y->now) - (x->now > y->now); break;
    case S_COL_RATE5: c = (x->rate5 < y->rate5) - (x->rate5 > y->rate5); break;
    case S_COL_IN: c = (x->in < y->in) - (x->in > y->in); break;
    case S_COL_OUT: c = (x->out < y->out) - (x->out > y->out); break;
    case S_COL_LAST: c = (x->last < y->last) - (x->last > y->last); break;
    case S_COL_NAME: c = strcmp(s_row_name(x), s_row_name(y)); break;
    default: break;
    }
    if (s_sort_rev)
        c = -c;
    /* ties (and NAME) in name order, so rows do not jump around */
    return c ? c : strcmp(s_row_name(x), s_row_name(y));
}

static void s_add_up(s_row_t *sum, const s_row_t *r)
{
    sum->in += r->in;
    sum->out += r->out;
    sum->now += r->now;
    sum->rate1 += r->rate1;
    sum->rate5 += r->rate5;
    if (r->last > sum->last)
        sum->last = r->last;
}

/* Rebuild the rows from the current reply: sources grouped under their
 * domain and tenant (the counters are sorted by series, so each group's
 * children are contiguous), each level sorted by the sort column, then
 * the lines shown: everything not under a collapsed group. */
static void s_build_rows(s_top_t *t)
{
    t->ntenants = t->ndomains = t->nsources = t->nlines = 0;
    if (!t->cur)
        return;
    size_t n = t->cur->n_counters;
    s_row_t *tn = realloc(t->tenants, (n + 1) * sizeof *tn);
    if (tn)
        t->tenants = tn;
    s_row_t *dm = realloc(t->domains, (n + 1) * sizeof *dm);
    if (dm)
        t->domains = dm;
    s_row_t *sr = realloc(t->sources, (n + 1) * sizeof *sr);
    if (sr)
        t->sources = sr;
    s_row_t **ln = realloc(t->lines, (3 * n + 1) * sizeof *ln);
    if (ln)
        t->lines = ln;
    if (!tn || !dm || !sr || !ln)
        return;

    for (size_t i = 0; i < n; i++) {
        const Ratusz__V1__Counter *c = t->cur->counters[i];
        if (!s_passes(t, c))
            continue;
        s_row_t *ten = t->ntenants ? &tn[t->ntenants - 1] : NULL;
        if (!ten || strcmp(ten->tenant, c->tenant)) {
            ten = &tn[t->ntenants++];
            *ten = (s_row_t){
                .level = 0, .tenant = c->tenant, .first = t->ndomains};
            ten->collapsed = s_is_collapsed(t, c->tenant, NULL);
        }
        s_row_t *dom = ten->children ? &dm[t->ndomains - 1] : NULL;
        if (!dom || strcmp(dom->domain, c->domain)) {
            dom = &dm[t->ndomains++];
            *dom = (s_row_t){.level = 1,
                             .tenant = c->tenant,
                             .domain = c->domain,
                             .first = t->nsources};
            dom->collapsed = s_is_collapsed(t, c->tenant, c->domain);
            ten->children++;
        }
        s_row_t *src = &sr[t->nsources++];
        *src = (s_row_t){.level = 2,
                         .tenant = c->tenant,
                         .domain = c->domain,
                         .source = c->source,
                         .in = c->events_in,
                         .out = c->events_out,
                         .now = s_series_now(t, c),
                         .rate1 = c->rate1,
                         .rate5 = c->rate5,
                         .last = c->last_event};
        dom->children++;
        s_add_up(dom, src);
        s_add_up(ten, src);
    }

    s_sort_col = t->sort;
    s_sort_rev = t->reverse;
    qsort(tn, t->ntenants, sizeof *tn, s_row_cmp);
    for (size_t i = 0; i < t->ntenants; i++) {
        qsort(dm + tn[i].first, tn[i].children, sizeof *dm, s_row_cmp);
        for (size_t d = tn[i].first; d < tn[i].first + tn[i].children; d++)
            qsort(sr + dm[d].first, dm[d].children, sizeof *sr, s_row_cmp);
    }
    for (size_t i = 0; i < t->ntenants; i++) {
        ln[t->nlines++] = &tn[i];
        if (tn[i].collapsed)
            continue;
        for (size_t d = tn[i].first; d < tn[i].first + tn[i].children; d++) {
            ln[t->nlines++] = &dm[d];
            if (dm[d].collapsed)
                continue;
            for (size_t s = dm[d].first; s < dm[d].first + dm[d].children; s++)
                ln[t->nlines++] = &sr[s];
        }
    }
}

/* ==========================================================================
 * Drawing
 */

/* The sparkline of the last width intervals' rates, scaled to their
 * largest: block characters in a UTF-8 locale, ASCII otherwise. */
static void s_sparkline(const s_top_t *t, bool out, int width, char *buf,
                        size_t len)
{
    static const char *const blocks[] = {"▁", "▂", "▃", "▄",
                                         "▅", "▆", "▇", "█"};
    static const char ascii[] = "_.-:=+*#";
    size_t o = 0;
    size_t have = t->hist_n > 1 ? t->hist_n - 1 : 0;
    size_t n = have < (size_t)width ? have : (size_t)width;
    double rates[S_HISTORY], max = 0;
    for (size_t i = 0; i < n; i++) {
        rates[i] = s_hist_rate(t, t->hist_n - n + i, out);
        if (rates[i] > max)
            max = rates[i];
    }
    for (int i = 0; i < width - (int)n && o + 1 < len; i++)
        buf[o++] = ' ';
    for (size_t i = 0; i < n; i++) {
        int level = max > 0 ? (int)(rates[i] / max * 7.0 + 0.5) : 0;
        if (level > 7)
            level = 7;
        const char *ch = t->utf8 ? blocks[level] : (char[2]){ascii[level], 0};
        size_t l = strlen(ch);
        if (o + l + 1 > len)
            break;
        memcpy(buf + o, ch, l);
        o += l;
    }
    buf[o] = '\0';
}

static const char *s_rate(char *buf, size_t len, double r)
{
    if (r < 10)
        snprintf(buf, len, "%.2f", r);
    else if (r < 10000)
        snprintf(buf, len, "%.1f", r);
    else
        human_count(buf, len, (uint64_t)r);
    return buf;
}

static void s_draw_header(const s_top_t *t)
{
    const Ratusz__V1__Stats *st = t->cur;
    const Ratusz__V1__Health *h = st ? st->health : NULL;
    char a[64], b[64], c[64], rest[320];
    /* head, uptime, store and memory use; with single spaces and no
     * version when the line would not fit (a big store on 80 columns) */
    for (int compact = 0; compact < 2; compact++) {
        const char *sp = compact ? " " : "  ";
        size_t o = 0;
        rest[0] = '\0';
        if (h)
            o += (size_t)snprintf(rest + o, sizeof rest - o,
                                  "%shead %" PRIu64 "%sup %s", sp,
                                  h->head_seq, sp,
                                  human_duration(a, sizeof a, h->uptime_us));
        if (st && o < sizeof rest) {
            o += (size_t)snprintf(rest + o, sizeof rest - o, "%sstore %s", sp,
                                  human_size(a, sizeof a, st->store_bytes));
            if (st->map_bytes && o < sizeof rest)
                o += (size_t)snprintf(
                    rest + o, sizeof rest - o, "/%s %.0f%%",
                    human_size(b, sizeof b, st->map_bytes),
                    100.0 * (double)st->store_bytes / (double)st->map_bytes);
            if (st->memory_budget && o < sizeof rest)
                snprintf(rest + o, sizeof rest - o, "%smem %s/%s", sp,
                         human_size(a, sizeof a, st->memory_queued),
                         human_size(b, sizeof b, st->memory_budget));
        }
        size_t w = strlen("ratuszd   ") + strlen(h ? h->version : "?") +
                   (h ? strlen(h->status) : 0) + text_width(rest);
        move(0, 0);
        if (compact || t->err || (int)w <= s_cols()) {
            if (!compact)
                s_add(A_BOLD, "ratuszd %s  ", h ? h->version : "?");
            break;
        }
    }
    if (t->err) {
        s_add(s_attr_red(t), "UNREACHABLE");
        s_add(0, " %s", t->err_text);
    } else if (h) {
        bool ok = !strcmp(h->status, "ok");
        s_add(ok ? s_attr_green(t) | (int)A_BOLD : s_attr_red(t), "%s",
              h->status);
    }
    s_add(0, "%s", rest);
    /* the clock at the right end, where there is room for it */
    char clock[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&now, &tm));
    int y, x;
    getyx(stdscr, y, x);
    if (y == 0 && x + 2 + (int)strlen(clock) <= s_cols()) {
        move(0, s_cols() - (int)strlen(clock));
        s_add(0, "%s", clock);
    }

    /* line 1: the rates with their sparklines, then the latencies */
    move(1, 0);
    /* what is left after about 85 columns of numbers, for two lines */
    int spark = (s_cols() - 85) / 2;
    if (spark > 60)
        spark = 60;
    if (spark < 8)
        spark = 8;
    double in = t->hist_n > 1 ? s_hist_rate(t, t->hist_n - 1, false) : 0;
    double out = t->hist_n > 1 ? s_hist_rate(t, t->hist_n - 1, true) : 0;
    char line[4 * 64 + 8];
    s_sparkline(t, false, spark, line, sizeof line);
    s_add(0, "in %s/s ", s_rate(a, sizeof a, in));
    s_add(s_attr_green(t), "%s", line);
    s_sparkline(t, true, spark, line, sizeof line);
    s_add(0, "  out %s/s ", s_rate(a, sizeof a, out));
    s_add(s_attr_green(t), "%s", line);
    if (st) {
        const Ratusz__V1__Histogram *cl = st->commit_latency_us;
        s_add(0, "  commit %s",
              cl ? human_pcts(c, sizeof c, cl->count, cl->p50, cl->p99, true)
                 : "-");
        s_add(0, "  subs %" PRIu64 "  groups %zu  components %zu",
              st->subscribers, st->n_consumers, st->n_components);
    }
}

/* The problems joined by sep into buf, as many as fit in width columns,
 * the rest counted as "+N more". The first is always there (the line cuts
 * it when it alone is too wide). */
static void s_problems_fit(const s_items_t *it, const char *sep, int width,
                           char *buf, size_t len)
{
    size_t o = 0, total = it->n + it->dropped;
    int used = 0, sepw = (int)text_width(sep);
    buf[0] = '\0';
    for (size_t i = 0; i < it->n && o < len; i++) {
        int w = (int)text_width(it->text[i]) + (i ? sepw : 0);
        /* unless this is the last, room for " · +NN more" after it */
        int more = i + 1 < total ? sepw + 9 : 0;
        if (i && used + w + more > width) {
            snprintf(buf + o, len - o, "%s+%zu more", sep, total - i);
            return;
        }
        int n = snprintf(buf + o, len - o, "%s%s", i ? sep : "", it->text[i]);
        o += n > 0 ? (size_t)n : 0;
        used += w;
    }
    if (it->dropped && o < len)
        snprintf(buf + o, len - o, "%s+%zu more", sep, it->dropped);
}

static void s_draw_problems(const s_top_t *t)
{
    s_items_t it;
    s_problems(t, &it);
    move(2, 0);
    if (!it.n) {
        s_add(s_attr_green(t), "no problems");
        return;
    }
    char line[S_ITEMS_MAX * sizeof it.text[0] + 64];
    s_problems_fit(&it, t->utf8 ? " · " : " | ",
                   s_cols() - (int)strlen("PROBLEMS "), line, sizeof line);
    s_add(s_attr_red(t), "PROBLEMS");
    s_add(A_BOLD, " %s", line);
}

/* Widths of the series table's columns for this terminal; NAME takes
 * what is left. 5m/s and OUT only where they fit. */
typedef struct {
    int name, num, last;
    bool rate5, out;
} s_layout_t;

static s_layout_t s_layout(void)
{
    s_layout_t l = {
        .num = 8, .last = 9, .rate5 = COLS >= 100, .out = COLS >= 90};
    int ncols = 3 + l.rate5 + l.out; /* NOW 1m IN (+5m +OUT) */
    l.name = s_cols() - ncols * (l.num + 1) - (l.last + 1) - 1;
    if (l.name > 72) /* source names are rarely longer; keep numbers near */
        l.name = 72;
    return l;
}

/* The title of a sortable column, marked when the table is sorted by it. */
static const char *s_title(const s_top_t *t, enum s_col col, char *buf,
                           size_t len)
{
    if (t->sort != col)
        return s_col_title[col];
    /* descending is the default for numbers, ascending for NAME */
    bool down = (col == S_COL_NAME) == t->reverse;
    snprintf(buf, len, "%s%s", s_col_title[col],
             t->utf8 ? (down ? "▼" : "▲") : (down ? "v" : "^"));
    return buf;
}

static void s_draw_series(const s_top_t *t, int y0, int rows)
{
    s_layout_t l = s_layout();
    char a[64];
    mvhline(y0, 0, ' ' | A_REVERSE, s_cols());
    move(y0, 0);
    s_cell(A_REVERSE, l.name, false, s_title(t, S_COL_NAME, a, sizeof a));
    s_cell(A_REVERSE, l.num, true, s_title(t, S_COL_NOW, a, sizeof a));
    s_cell(A_REVERSE, l.num, true, s_title(t, S_COL_RATE1, a, sizeof a));
    if (l.rate5)
        s_cell(A_REVERSE, l.num, true, s_title(t, S_COL_RATE5, a, sizeof a));
    s_cell(A_REVERSE, l.num, true, s_title(t, S_COL_IN, a, sizeof a));
    if (l.out)
        s_cell(A_REVERSE, l.num, true, s_title(t, S_COL_OUT, a, sizeof a));
    s_cell(A_REVERSE, l.last, true, s_title(t, S_COL_LAST, a, sizeof a));

    size_t top = t->top[S_PANE_SERIES], cur = t->cursor[S_PANE_SERIES];
    if (!t->nlines) {
        move(y0 + 1, 0);
        s_add(0, "%s",
              t->cur ? (*t->filter ? "no series starts with the "
                                     "filter"
                                   : "no events yet")
                     : "waiting for the broker");
    }
    for (int r = 0; r < rows && top + (size_t)r < t->nlines; r++) {
        const s_row_t *row = t->lines[top + (size_t)r];
        int attr =
            top + (size_t)r == cur && t->pane == S_PANE_SERIES ? A_REVERSE : 0;
        if (row->level < 2)
            attr |= A_BOLD;
        char name[512];
        const char *mark = row->level == 2  ? " "
                           : row->collapsed ? (t->utf8 ? "▸" : "+")
                                            : (t->utf8 ? "▾" : "-");
        snprintf(name, sizeof name, "%*s%s %s", 2 * row->level, "", mark,
                 s_row_name(row));
        if (attr & A_REVERSE)
            mvhline(y0 + 1 + r, 0, ' ' | A_REVERSE, s_cols());
        move(y0 + 1 + r, 0);
        s_cell(attr, l.name, false, name);
        s_cell(attr, l.num, true, s_rate(a, sizeof a, row->now));
        s_cell(attr, l.num, true, s_rate(a, sizeof a, row->rate1));
        if (l.rate5)
            s_cell(attr, l.num, true, s_rate(a, sizeof a, row->rate5));
        s_cell(attr, l.num, true, human_count(a, sizeof a, row->in));
        if (l.out)
            s_cell(attr, l.num, true, human_count(a, sizeof a, row->out));
        if (row->last <= 0)
            s_cell(attr, l.last, true, "never");
        else if (t->cur_at - row->last > TOP_SILENT_US)
            s_cell(attr | s_attr_red(t), l.last, true, "SILENT");
        else
            s_cell(attr, l.last, true,
                   human_duration(a, sizeof a, t->cur_at - row->last));
    }
}

static int s_group_cmp(const void *a, const void *b)
{
    const Ratusz__V1__ConsumerGroup *x = *(Ratusz__V1__ConsumerGroup *const *)a;
    const Ratusz__V1__ConsumerGroup *y = *(Ratusz__V1__ConsumerGroup *const *)b;
    if (x->lag != y->lag)
        return x->lag < y->lag ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void s_draw_groups(const s_top_t *t, int y0, int rows)
{
    int w = s_cols() - 4 * 11 - 14;
    mvhline(y0, 0, ' ' | A_REVERSE, s_cols());
    move(y0, 0);
    s_cell(A_REVERSE, w / 2, false, "GROUP");
    s_cell(A_REVERSE, 10, true, t->utf8 ? "LAG▼" : "LAG v");
    s_cell(A_REVERSE, 10, true, "+1m");
    s_cell(A_REVERSE, 10, true, "COMMITTED");
    s_cell(A_REVERSE, w - w / 2, false, "PREFIX");
    s_cell(A_REVERSE, 13, true, "LAST COMMIT");
    size_t n = t->cur ? t->cur->n_consumers : 0;
    if (!n) {
        mvaddstr(y0 + 1, 0, "no consumer groups");
        return;
    }
    Ratusz__V1__ConsumerGroup **g = malloc(n * sizeof *g);
    if (!g)
        return;
    memcpy(g, t->cur->consumers, n * sizeof *g);
    qsort(g, n, sizeof *g, s_group_cmp);
    const s_point_t *base = s_baseline(t);
    size_t top = t->top[S_PANE_GROUPS];
    for (int r = 0; r < rows && top + (size_t)r < n; r++) {
        const Ratusz__V1__ConsumerGroup *x = g[top + (size_t)r];
        int attr = top + (size_t)r == t->cursor[S_PANE_GROUPS] ? A_REVERSE : 0;
        char a[64], d[64];
        bool found = false;
        double was =
            base ? s_kv_get(base->lags, base->nlags, x->name, &found) : 0;
        if (found)
            snprintf(d, sizeof d, "%+.0f", (double)x->lag - was);
        else
            snprintf(d, sizeof d, "-");
        move(y0 + 1 + r, 0);
        s_cell(attr, w / 2, false, x->name);
        snprintf(a, sizeof a, "%" PRIu64, x->lag);
        s_cell(attr | (x->lag ? s_attr_yellow(t) : 0), 10, true, a);
        s_cell(attr | (found && (double)x->lag > was ? s_attr_red(t) : 0), 10,
               true, d);
        snprintf(a, sizeof a, "%" PRIu64, x->committed_seq);
        s_cell(attr, 10, true, a);
        s_cell(attr, w - w / 2, false,
               *x->topic_prefix ? x->topic_prefix : "(all)");
        s_cell(attr, 13, true, human_ago(a, sizeof a, x->updated, t->cur_at));
    }
    free(g);
}

static void s_draw_components(const s_top_t *t, int y0, int rows)
{
    int w = s_cols() - 14 - 19 - 14 - 4;
    mvhline(y0, 0, ' ' | A_REVERSE, s_cols());
    move(y0, 0);
    s_cell(A_REVERSE, 24, false, "COMPONENT");
    s_cell(A_REVERSE, 12, false, "KIND");
    s_cell(A_REVERSE, 18, false, "STATUS");
    s_cell(A_REVERSE, 13, true, "LAST REPORT");
    s_cell(A_REVERSE, w - 24, false, "DETAIL");
    size_t n = t->cur ? t->cur->n_components : 0;
    if (!n) {
        mvaddstr(y0 + 1, 0, "no component has reported (REPORT)");
        return;
    }
    size_t top = t->top[S_PANE_COMPONENTS];
    for (int r = 0; r < rows && top + (size_t)r < n; r++) {
        const Ratusz__V1__Component *c = t->cur->components[top + (size_t)r];
        int attr =
            top + (size_t)r == t->cursor[S_PANE_COMPONENTS] ? A_REVERSE : 0;
        bool stale = t->cur_at - c->reported > TOP_STALE_US;
        bool ok = !stale && !strcmp(c->status, "ok");
        char a[64];
        move(y0 + 1 + r, 0);
        s_cell(attr, 24, false, c->name);
        s_cell(attr, 12, false, *c->kind ? c->kind : "-");
        s_cell(attr | (ok ? 0 : s_attr_red(t)), 18, false,
               stale        ? "STALE"
               : *c->status ? c->status
                            : "-");
        s_cell(attr, 13, true, human_ago(a, sizeof a, c->reported, t->cur_at));
        s_cell(attr, w - 24, false, c->detail);
    }
}

static const char *const s_help_lines[] = {
    "q          quit",
    "s / S      sort by the next column / reverse the order",
    "/          filter by a source or topic prefix (Enter, Esc clears)",
    "arrows PgUp PgDn Home End   scroll",
    "Enter, space   collapse or expand a tenant or domain",
    "g          consumer groups (again: back to the series)",
    "c          components (again: back to the series)",
    "h or ?     this help (any key closes it)",
    "r          ask the broker now",
    "",
    "The problems line, most severe first:",
};

static void s_draw_help(const s_top_t *t, int y0, int rows)
{
    int y = y0;
    for (size_t i = 0; i < sizeof s_help_lines / sizeof *s_help_lines; i++)
        if (y < y0 + rows) {
            move(y++, 0);
            s_add(0, "  %s", s_help_lines[i]);
        }
    for (size_t i = 0; i < S_NRULES && y < y0 + rows; i++) {
        move(y++, 0);
        s_add(0, "  %-11s%s", s_rules[i].name, s_rules[i].condition);
    }
    if (y < y0 + rows) {
        move(y, 0);
        s_add(0, "  every %us one STATS request", t->interval_s);
    }
}

static void s_draw_footer(const s_top_t *t)
{
    move(LINES - 1, 0);
    if (t->editing) {
        s_add(A_BOLD, "filter: ");
        s_add(0, "%s", t->edit);
        int y, x;
        getyx(stdscr, y, x);
        s_add(A_REVERSE, " ");
        s_add(0, "   Enter applies, Esc clears");
        move(y, x);
        return;
    }
    /* what is in force first, so a narrow terminal cuts the key names */
    s_add(0, "sort %s%s  ", s_col_title[t->sort], t->reverse ? " rev" : "");
    if (*t->filter)
        s_add(A_BOLD, "filter %s  ", t->filter);
    s_add(A_REVERSE, "q");
    s_add(0, " quit ");
    s_add(A_REVERSE, "s/S");
    s_add(0, " sort ");
    s_add(A_REVERSE, "/");
    s_add(0, " filter ");
    s_add(A_REVERSE, "%s", t->utf8 ? "⏎" : "Enter");
    s_add(0, " fold ");
    s_add(A_REVERSE, "g");
    s_add(0, " groups ");
    s_add(A_REVERSE, "c");
    s_add(0, " comps ");
    s_add(A_REVERSE, "?");
    s_add(0, " help");
}

/* Rows the table below the header has room for. */
static int s_body_rows(void)
{
    return LINES - 5; /* header 2, problems, titles, footer */
}

static void s_draw(s_top_t *t)
{
    erase();
    if (COLS < TOP_MIN_COLS || LINES < TOP_MIN_LINES) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "ratusz top needs at least %dx%d (this is %dx%d); q quits",
                 TOP_MIN_COLS, TOP_MIN_LINES, COLS, LINES);
        move(0, 0);
        s_add(A_BOLD, "%s", msg);
        refresh();
        return;
    }
    s_build_rows(t);
    /* keep the cursor on a row and in view */
    size_t n[S_NPANES] = {t->nlines, t->cur ? t->cur->n_consumers : 0,
                          t->cur ? t->cur->n_components : 0};
    size_t rows = (size_t)s_body_rows();
    for (int p = 0; p < S_NPANES; p++) {
        if (t->cursor[p] >= n[p])
            t->cursor[p] = n[p] ? n[p] - 1 : 0;
        if (t->cursor[p] < t->top[p])
            t->top[p] = t->cursor[p];
        if (t->cursor[p] >= t->top[p] + rows)
            t->top[p] = t->cursor[p] - rows + 1;
    }
    s_draw_header(t);
    s_draw_problems(t);
    if (t->help)
        s_draw_help(t, 3, s_body_rows() + 1);
    else if (t->pane == S_PANE_GROUPS)
        s_draw_groups(t, 3, s_body_rows());
    else if (t->pane == S_PANE_COMPONENTS)
        s_draw_components(t, 3, s_body_rows());
    else
        s_draw_series(t, 3, s_body_rows());
    s_draw_footer(t);
    refresh();
}

/* ==========================================================================
 * Keys
 */

/* What a key does; true to ask the broker now. */
static bool s_key(s_top_t *t, int ch, bool *quit)
{
    if (t->editing) {
        size_t len = strlen(t->edit);
        if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            memcpy(t->filter, t->edit, len + 1);
            t->editing = false;
            t->cursor[S_PANE_SERIES] = t->top[S_PANE_SERIES] = 0;
        } else if (ch == 27) {
            t->filter[0] = t->edit[0] = '\0';
            t->editing = false;
        } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
            /* a whole UTF-8 code point */
            while (len > 0 && ((unsigned char)t->edit[--len] & 0xc0) == 0x80)
                ;
            t->edit[len] = '\0';
        } else if (ch >= 0x20 && ch < 0x100 && ch != 0x7f &&
                   len < S_FILTER_MAX) {
            t->edit[len] = (char)ch;
            t->edit[len + 1] = '\0';
        }
        return false;
    }
    if (t->help && ch != KEY_RESIZE) {
        t->help = false;
        return false;
    }
    size_t *cur = &t->cursor[t->pane];
    size_t page = (size_t)(s_body_rows() > 1 ? s_body_rows() - 1 : 1);
    switch (ch) {
    case 'q':
    case 'Q': *quit = true; break;
    case 's':
        t->sort = (t->sort + 1) % S_NCOLS;
        t->reverse = false;
        break;
    case 'S': t->reverse = !t->reverse; break;
    case '/':
        t->editing = true;
        t->edit[0] = '\0';
        t->pane = S_PANE_SERIES;
        break;
    case 27: /* Esc: back to the series, then no filter */
        if (t->pane == S_PANE_SERIES)
            t->filter[0] = '\0';
        t->pane = S_PANE_SERIES;
        break;
    case KEY_UP:
    case 'k':
        if (*cur)
            (*cur)--;
        break;
    case KEY_DOWN:
    case 'j': (*cur)++; break;
    case KEY_PPAGE: *cur = *cur > page ? *cur - page : 0; break;
    case KEY_NPAGE: *cur += page; break;
    case KEY_HOME: *cur = 0; break;
    case KEY_END: *cur = SIZE_MAX / 2; break; /* clamped when drawn */
    case '\n':
    case '\r':
    case ' ':
    case KEY_ENTER:
        if (t->pane == S_PANE_SERIES && *cur < t->nlines &&
            t->lines[*cur]->level < 2) {
            const s_row_t *r = t->lines[*cur];
            s_toggle_collapsed(t, r->tenant, r->level == 1 ? r->domain : NULL);
        }
        break;
    case 'g':
        t->pane = t->pane == S_PANE_GROUPS ? S_PANE_SERIES : S_PANE_GROUPS;
        break;
    case 'c':
        t->pane =
            t->pane == S_PANE_COMPONENTS ? S_PANE_SERIES : S_PANE_COMPONENTS;
        break;
    case 'h':
    case '?': t->help = true; break;
    case 'r': return true;
    default: break;
    }
    return false;
}

/* ==========================================================================
 * The loop
 */

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int top_run(rz_client_t *cl, unsigned interval_s, volatile sig_atomic_t *stop)
{
    if (!cl || interval_s == 0 || interval_s > 86400)
        return RZ_EINVAL;
    /* ncursesw draws UTF-8 only with the locale's character type; numbers
     * keep the C locale's decimal point */
    setlocale(LC_CTYPE, "");
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr)
        return RZ_EINVAL;
    s_top_t *t = calloc(1, sizeof *t);
    if (!t) {
        endwin();
        delscreen(scr);
        return RZ_ENOMEM;
    }
    t->cl = cl;
    t->interval_s = interval_s;
    t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    t->sort = S_COL_RATE1;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    if (has_colors() && !getenv("NO_COLOR")) {
        start_color();
        use_default_colors();
        init_pair(S_PAIR_RED, COLOR_RED, -1);
        init_pair(S_PAIR_GREEN, COLOR_GREEN, -1);
        init_pair(S_PAIR_YELLOW, COLOR_YELLOW, -1);
        t->color = true;
    }

    int64_t next = 0;
    bool quit = false;
    while (!quit && !*stop) {
        int64_t now = s_mono_ms();
        if (now >= next) {
            s_sample(t);
            next = s_mono_ms() + (int64_t)interval_s * 1000;
            s_draw(t);
        }
        int64_t wait = next - s_mono_ms();
        timeout((int)(wait < 0 ? 0 : wait > 1000 ? 1000 : wait));
        curs_set(t->editing ? 1 : 0);
        int ch = getch();
        if (ch == ERR)
            continue; /* the timeout, or a signal */
        if (s_key(t, ch, &quit))
            next = 0;
        else
            s_draw(t);
    }

    endwin();
    delscreen(scr);
    if (t->prev)
        ratusz__v1__stats__free_unpacked(t->prev, NULL);
    if (t->cur)
        ratusz__v1__stats__free_unpacked(t->cur, NULL);
    for (size_t i = 0; i < S_HISTORY; i++)
        s_point_clear(&t->hist[i]);
    for (size_t i = 0; i < t->ncollapsed; i++)
        free(t->collapsed[i]);
    free(t->collapsed);
    free(t->tenants);
    free(t->domains);
    free(t->sources);
    free(t->lines);
    free(t);
    return 0;
}
