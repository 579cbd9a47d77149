/* retention.c - per topic prefix retention: rules, passes, the thread */
#include "retention.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratusz/core/log.h"
#include "ratusz/errors.h"

/* Events a pass examines per rule, at most: a rule whose oldest events are
 * held by a group is walked again from there on every pass. */
#define S_PASS_BUDGET 200000
/* Events counted per read transaction (the size of a rule's events). */
#define S_COUNT_CHUNK 10000

/* ===========================================================================
 * Rules
 */

void rz_retention_rules_free(rz_retention_rules_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->rule[i].prefix);
    free(r->rule);
    memset(r, 0, sizeof *r);
}

static int s_longest_first(const void *a, const void *b)
{
    size_t la = strlen(((const rz_retention_rule_t *)a)->prefix);
    size_t lb = strlen(((const rz_retention_rule_t *)b)->prefix);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

static int s_duration_opt(const char *key, const char *text, int64_t *us,
                          char *err, size_t err_len)
{
    if (rz_conf_parse_duration(text, us) == 0)
        return 0;
    rzc_errf(err, err_len,
             "%s '%s' is not a duration (a number and s, m, h, d or w: 400d, "
             "12h)",
             key, text);
    return RZ_ECONFIG;
}

int rz_retention_rules_parse(rz_retention_rules_t *out, const rz_config_t *cfg,
                             char *err, size_t err_len)
{
    rz_retention_rules_t r = {0};
    const rz_conf_sections_t *sec = &cfg->retention;
    int rc;

    if ((rc = s_duration_opt("retention_hold_max", cfg->retention_hold_max,
                             &r.hold_max_us, err, err_len)) ||
        (rc = s_duration_opt("dedup_window", cfg->dedup_window,
                             &r.dedup_window_us, err, err_len)) ||
        (rc = s_duration_opt("retention_interval", cfg->retention_interval,
                             &r.interval_us, err, err_len)))
        return rc;
    if (r.interval_us == 0) {
        rzc_errf(err, err_len, "retention_interval must be at least 1s");
        return RZ_ECONFIG;
    }
    if (sec->n) {
        r.rule = calloc(sec->n, sizeof *r.rule);
        if (!r.rule)
            return RZ_ENOMEM;
    }
    for (size_t i = 0; i < sec->n; i++) {
        const rz_conf_section_t *one = &sec->s[i];
        rz_retention_rule_t *rule = &r.rule[r.n];
        if (strlen(one->name) > RZ_TOPIC_MAX) {
            rzc_errf(err, err_len,
                     "line %u: retention: the prefix '%.40s...' is longer than "
                     "a topic (%d bytes)",
                     one->line, one->name, RZ_TOPIC_MAX);
            rc = RZ_ECONFIG;
            goto fail;
        }
        if (!(rule->prefix = strdup(one->name))) {
            rc = RZ_ENOMEM;
            goto fail;
        }
        r.n++;
        for (size_t j = 0; j < one->map.n; j++) {
            const char *k = one->map.keys[j], *v = one->map.values[j];
            unsigned line = one->map.lines[j];
            if (one->lists && one->lists[j]) {
                rzc_errf(err, err_len,
                         "line %u: retention.\"%s\".%s: a list is not a limit",
                         line, one->name, k);
                rc = RZ_ECONFIG;
                goto fail;
            }
            if (!strcmp(k, "max_age")) {
                if (rz_conf_parse_duration(v, &rule->max_age_us) ||
                    rule->max_age_us == 0) {
                    rzc_errf(err, err_len,
                             "line %u: retention.\"%s\".max_age: '%s' is not a "
                             "duration above 0 (400d, 12h, 90m)",
                             line, one->name, v);
                    rc = RZ_ECONFIG;
                    goto fail;
                }
            } else if (!strcmp(k, "max_bytes")) {
                if (rz_conf_parse_size(v, &rule->max_bytes) ||
                    rule->max_bytes == 0) {
                    rzc_errf(err, err_len,
                             "line %u: retention.\"%s\".max_bytes: '%s' is not "
                             "a size above 0 (200G, 512M)",
                             line, one->name, v);
                    rc = RZ_ECONFIG;
                    goto fail;
                }
            } else {
                rzc_errf(err, err_len,
                         "line %u: retention.\"%s\": unknown key '%s' (want "
                         "max_age or max_bytes)",
                         line, one->name, k);
                rc = RZ_ECONFIG;
                goto fail;
            }
        }
        if (!rule->max_age_us && !rule->max_bytes) {
            rzc_errf(err, err_len,
                     "line %u: retention.\"%s\": no limit (set max_age, "
                     "max_bytes or both)",
                     one->line, one->name);
            rc = RZ_ECONFIG;
            goto fail;
        }
    }
    if (r.n)
        qsort(r.rule, r.n, sizeof *r.rule, s_longest_first);
    *out = r;
    return 0;
fail:
    rz_retention_rules_free(&r);
    return rc;
}

int rz_retention_rule_for(const rz_retention_rules_t *r, const char *topic,
                          size_t len)
{
    for (size_t i = 0; i < r->n; i++) { /* longest first */
        size_t pl = strlen(r->rule[i].prefix);
        if (pl <= len && !memcmp(topic, r->rule[i].prefix, pl))
            return (int)i;
    }
    return -1;
}

/* ===========================================================================
 * The runner
 */

/* What a pass remembers of a rule between passes. */
typedef struct s_state {
    uint64_t low;     /* walk from here: nothing due below */
    uint64_t counted; /* bytes counted up to this seq */
    int64_t bytes;    /* of the rule's events up to counted */
    rz_retention_stat_t stat;
} s_state_t;

struct rz_retention {
    rz_store_t *store;
    pthread_mutex_t mu; /* rules, st, lost_total; the pass works on copies */
    pthread_cond_t wake;
    rz_retention_rules_t rules;
    s_state_t *st;
    int rules_changed;
    uint64_t lost_total;
    pthread_t thread;
    int running;
    atomic_int stop; /* under mu too, for the wait; read alone in loops */
};

int rz_retention_new(rz_retention_t **out, rz_store_t *store,
                     rz_retention_rules_t *rules)
{
    rz_retention_t *r = calloc(1, sizeof *r);
    if (!r)
        return RZ_ENOMEM;
    r->store = store;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    int rc = rz_retention_set_rules(r, rules);
    if (rc) {
        rz_retention_destroy(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int rz_retention_set_rules(rz_retention_t *r, rz_retention_rules_t *rules)
{
    s_state_t *st = rules->n ? calloc(rules->n, sizeof *st) : NULL;
    if (rules->n && !st)
        return RZ_ENOMEM;
    for (size_t i = 0; i < rules->n; i++) {
        snprintf(st[i].stat.prefix, sizeof st[i].stat.prefix, "%s",
                 rules->rule[i].prefix);
        st[i].stat.max_age_us = rules->rule[i].max_age_us;
        st[i].stat.max_bytes = rules->rule[i].max_bytes;
        st[i].low = 1;
        rz_store_pruned_totals(r->store, rules->rule[i].prefix,
                               &st[i].stat.removed_events,
                               &st[i].stat.removed_bytes);
    }
    pthread_mutex_lock(&r->mu);
    rz_retention_rules_free(&r->rules);
    free(r->st);
    r->rules = *rules;
    r->st = st;
    r->rules_changed = 1;
    memset(rules, 0, sizeof *rules);
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* A consumer group as the pass sees it. */
typedef struct s_group {
    const char *name, *prefix;
    size_t prefix_len;
    uint64_t committed;
    uint64_t lost; /* in the transaction being gathered */
} s_group_t;

/* One rule's walk. */
typedef struct s_walk {
    const rz_retention_rules_t *rules;
    int rule;
    int64_t cutoff; /* due by age below this event time; INT64_MIN none */
    int64_t hard;   /* past the hold below this; INT64_MIN never */
    int64_t excess; /* bytes over max_bytes; <= 0 none */
    uint64_t head;  /* the log's last seq: kept, and the walk ends there */
    s_group_t *g;
    size_t ng;
    uint64_t seqs[RZ_RETENTION_TXN];
    size_t n;
    uint64_t first_kept, held, examined, young;
    int done; /* reached an event that is not due */
} s_walk_t;

static int s_walk_visit(uint64_t seq, const char *topic, size_t tl,
                        int64_t time, size_t len, void *user)
{
    s_walk_t *w = user;
    w->examined++;
    if (rz_retention_rule_for(w->rules, topic, tl) != w->rule)
        return 0; /* a longer prefix's rule decides */
    if ((time >= w->cutoff && w->excess <= 0) || seq >= w->head) {
        /* not due: look a little further for older events stored after
         * it (sources are seldom in perfect time order), then stop */
        if (!w->first_kept)
            w->first_kept = seq;
        if (seq >= w->head || ++w->young >= RZ_RETENTION_LOOKAHEAD) {
            w->done = 1;
            return 1;
        }
        return 0;
    }
    int holds = 0;
    for (size_t i = 0; i < w->ng; i++)
        if (w->g[i].committed < seq && w->g[i].prefix_len <= tl &&
            !memcmp(topic, w->g[i].prefix, w->g[i].prefix_len))
            holds = 1;
    if (holds && time >= w->hard) {
        w->held++;
        if (!w->first_kept)
            w->first_kept = seq;
        return 0;
    }
    for (size_t i = 0; holds && i < w->ng; i++)
        if (w->g[i].committed < seq && w->g[i].prefix_len <= tl &&
            !memcmp(topic, w->g[i].prefix, w->g[i].prefix_len))
            w->g[i].lost++;
    w->seqs[w->n++] = seq;
    w->excess -= (int64_t)len;
    return w->n == RZ_RETENTION_TXN;
}

typedef struct s_count {
    const rz_retention_rules_t *rules;
    int rule;
    int64_t bytes;
} s_count_t;

static int s_count_visit(uint64_t seq, const char *topic, size_t tl,
                         int64_t time, size_t len, void *user)
{
    s_count_t *c = user;
    (void)seq;
    (void)time;
    if (rz_retention_rule_for(c->rules, topic, tl) == c->rule)
        c->bytes += (int64_t)len;
    return 0;
}

/* Bring a size rule's byte count up to the head. */
static int s_count(rz_retention_t *r, const rz_retention_rules_t *rules, int i,
                   s_state_t *st)
{
    s_count_t c = {rules, i, 0};
    uint64_t next = st->counted + 1;
    for (;;) {
        uint64_t from = next;
        int n = rz_store_scan_topics(r->store, from, rules->rule[i].prefix,
                                     S_COUNT_CHUNK, s_count_visit, &c, &next);
        if (n < 0)
            return n;
        if (n < S_COUNT_CHUNK)
            break;
        if (atomic_load(&r->stop))
            return RZ_EAGAIN; /* shutting down: count again next start */
    }
    st->counted = next - 1;
    st->bytes += c.bytes;
    return 0;
}

/* Load the consumer groups; names and prefixes borrow from *list. */
static int s_groups(rz_retention_t *r, Ratusz__V1__ConsumerList **list,
                    s_group_t **g, size_t *n)
{
    *g = NULL;
    *n = 0;
    int rc = rz_store_consumer_list(r->store, list);
    if (rc)
        return rc;
    if (!(*list)->n_groups)
        return 0;
    *g = calloc((*list)->n_groups, sizeof **g);
    if (!*g)
        return RZ_ENOMEM;
    for (size_t i = 0; i < (*list)->n_groups; i++) {
        const Ratusz__V1__ConsumerGroup *cg = (*list)->groups[i];
        (*g)[i].name = cg->name;
        (*g)[i].prefix = cg->topic_prefix ? cg->topic_prefix : "";
        (*g)[i].prefix_len = strlen((*g)[i].prefix);
        (*g)[i].committed = cg->committed_seq;
    }
    *n = (*list)->n_groups;
    return 0;
}

/* Remove what the walk gathered, telling groups what they lost. */
static int s_flush(rz_retention_t *r, const rz_retention_rule_t *rule,
                   s_walk_t *w, int64_t now, s_state_t *st)
{
    rz_store_lost_t lost[64];
    size_t nl = 0;
    int rc = 0;

    if (!w->n)
        return 0;
    /* groups that lose events: at most 64 named per transaction, the rest
     * in the next one (their counts stay in w->g) */
    for (size_t i = 0; i < w->ng && nl < 64; i++)
        if (w->g[i].lost)
            lost[nl++] = (rz_store_lost_t){w->g[i].name, w->g[i].lost};
    rz_store_prune_t p = {.prefix = rule->prefix,
                          .seqs = w->seqs,
                          .n = w->n,
                          .keep_ids = 0, /* set below */
                          .now = now,
                          .lost = lost,
                          .n_lost = nl};
    p.keep_ids = w->rules->dedup_window_us > 0;
    rc = rz_store_prune(r->store, &p);
    if (rc == 0) {
        for (size_t i = 0; i < w->ng; i++) {
            if (!w->g[i].lost)
                continue;
            int named = 0;
            for (size_t j = 0; j < nl; j++)
                named |= lost[j].group == w->g[i].name;
            if (!named)
                continue;
            rz_warn("retention: consumer group '%s' lost %" PRIu64
                    " events under \"%s\" that it had not read: they were "
                    "older than retention_hold_max",
                    w->g[i].name, w->g[i].lost, rule->prefix);
            pthread_mutex_lock(&r->mu);
            r->lost_total += w->g[i].lost;
            pthread_mutex_unlock(&r->mu);
            w->g[i].lost = 0;
        }
        st->stat.removed_events += p.removed;
        st->stat.removed_bytes += p.bytes;
        st->bytes -= (int64_t)p.bytes;
        if (st->bytes < 0)
            st->bytes = 0;
    }
    w->n = 0;
    return rc;
}

/* One rule: count, then walk from its oldest kept event. */
static int64_t s_rule_pass(rz_retention_t *r, const rz_retention_rules_t *rules,
                           int i, s_state_t *st, s_group_t *g, size_t ng,
                           int64_t now)
{
    const rz_retention_rule_t *rule = &rules->rule[i];
    uint64_t before = st->stat.removed_events, next = st->low;
    int rc = 0;

    if (rule->max_bytes && (rc = s_count(r, rules, i, st)))
        return rc;
    s_walk_t *w = calloc(1, sizeof *w);
    if (!w)
        return RZ_ENOMEM;
    w->rules = rules;
    w->rule = i;
    w->cutoff = rule->max_age_us ? now - rule->max_age_us : INT64_MIN;
    w->hard = rules->hold_max_us ? now - rules->hold_max_us : INT64_MIN;
    w->excess = rule->max_bytes ? st->bytes - (int64_t)rule->max_bytes : 0;
    w->head = rz_store_head(r->store);
    w->g = g;
    w->ng = ng;
    for (size_t k = 0; k < ng; k++)
        g[k].lost = 0;

    while (!w->done && w->examined < S_PASS_BUDGET && !atomic_load(&r->stop)) {
        uint64_t from = next;
        int n = rz_store_scan_topics(r->store, from, rule->prefix,
                                     RZ_RETENTION_TXN, s_walk_visit, w, &next);
        if (n < 0) {
            rc = n;
            break;
        }
        if ((rc = s_flush(r, rule, w, now, st)))
            break;
        if (n == 0 || next == from)
            break;
    }
    if (rc == 0) {
        /* nothing due below the first event kept; with none, below where
         * the walk ended */
        st->low = w->first_kept ? w->first_kept : next;
        st->stat.oldest_seq = w->first_kept;
        st->stat.held = w->held;
        st->stat.bytes = rule->max_bytes ? (uint64_t)st->bytes : 0;
    }
    free(w);
    if (rc) {
        rz_error("retention: \"%s\": %s", rule->prefix, rz_strerror(rc));
        return rc;
    }
    uint64_t removed = st->stat.removed_events - before;
    if (removed)
        rz_info("retention: removed %" PRIu64 " events under \"%s\"", removed,
                rule->prefix);
    return (int64_t)removed;
}

int64_t rz_retention_pass(rz_retention_t *r, int64_t now_us)
{
    Ratusz__V1__ConsumerList *list = NULL;
    s_group_t *g = NULL;
    size_t ng = 0;
    int64_t total = 0;
    int rc;

    if (!r)
        return RZ_EINVAL;
    /* the rules and states stay while the pass runs: only this thread
     * replaces them (set_rules swaps under mu; the pass holds mu only to
     * take and give back its figures) */
    pthread_mutex_lock(&r->mu);
    rz_retention_rules_t rules = r->rules;
    s_state_t *st = r->st;
    size_t n = rules.n;
    s_state_t *work = n ? malloc(n * sizeof *work) : NULL;
    if (n && work)
        memcpy(work, st, n * sizeof *work);
    r->rules_changed = 0;
    /* the rule strings stay valid: a swap frees them only after this pass
     * copies back (see below) */
    rz_retention_rules_t mine = {0};
    if (n && work) {
        mine.n = n;
        mine.rule = calloc(n, sizeof *mine.rule);
        for (size_t i = 0; mine.rule && i < n; i++) {
            mine.rule[i] = rules.rule[i];
            mine.rule[i].prefix = strdup(rules.rule[i].prefix);
            if (!mine.rule[i].prefix) {
                mine.n = i;
                rz_retention_rules_free(&mine);
                break;
            }
        }
        mine.hold_max_us = rules.hold_max_us;
        mine.dedup_window_us = rules.dedup_window_us;
    }
    pthread_mutex_unlock(&r->mu);
    if (n && (!work || !mine.rule)) {
        free(work);
        rz_retention_rules_free(&mine);
        return RZ_ENOMEM;
    }

    if (n && (rc = s_groups(r, &list, &g, &ng)) != 0) {
        total = rc;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t got = s_rule_pass(r, &mine, (int)i, &work[i], g, ng, now_us);
        if (got < 0) {
            total = got;
            break;
        }
        total += got;
    }
    if (mine.dedup_window_us > 0) {
        int f;
        while ((f = rz_store_forget(r->store, now_us - mine.dedup_window_us,
                                    RZ_RETENTION_TXN)) == RZ_RETENTION_TXN)
            ;
        if (f < 0 && total >= 0)
            total = f;
    }
    /* give the figures back, unless the rules changed meanwhile */
    pthread_mutex_lock(&r->mu);
    if (n && !r->rules_changed && r->st == st)
        memcpy(r->st, work, n * sizeof *work);
    pthread_mutex_unlock(&r->mu);
done:
    free(g);
    if (list)
        ratusz__v1__consumer_list__free_unpacked(list, NULL);
    free(work);
    rz_retention_rules_free(&mine);
    return total;
}

static void *s_main(void *arg)
{
    rz_retention_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        rz_retention_pass(r,
                          (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000);
        pthread_mutex_lock(&r->mu);
        if (r->stop)
            break;
        int64_t us =
            r->rules.interval_us > 0 ? r->rules.interval_us : INT64_C(60000000);
        clock_gettime(CLOCK_REALTIME, &now);
        struct timespec until = {now.tv_sec + us / 1000000,
                                 now.tv_nsec + (us % 1000000) * 1000};
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!r->stop && !r->rules_changed &&
               pthread_cond_timedwait(&r->wake, &r->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int rz_retention_start(rz_retention_t *r)
{
    if (!r || r->running)
        return RZ_EINVAL;
    int rc = pthread_create(&r->thread, NULL, s_main, r);
    if (rc)
        return -rc;
    r->running = 1;
    return 0;
}

void rz_retention_destroy(rz_retention_t **rp)
{
    if (!rp || !*rp)
        return;
    rz_retention_t *r = *rp;
    *rp = NULL;
    if (r->running) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    rz_retention_rules_free(&r->rules);
    free(r->st);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int rz_retention_stats(rz_retention_t *r, rz_retention_stat_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t k = r->rules.n;
    rz_retention_stat_t *s = k ? malloc(k * sizeof *s) : NULL;
    for (size_t i = 0; s && i < k; i++)
        s[i] = r->st[i].stat;
    pthread_mutex_unlock(&r->mu);
    if (k && !s)
        return RZ_ENOMEM;
    *out = s;
    *n = k;
    return 0;
}

uint64_t rz_retention_lost_total(rz_retention_t *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    uint64_t v = r->lost_total;
    pthread_mutex_unlock(&r->mu);
    return v;
}

size_t rz_retention_rule_count(rz_retention_t *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->rules.n;
    pthread_mutex_unlock(&r->mu);
    return n;
}
