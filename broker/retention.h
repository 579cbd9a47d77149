/* retention.h - per topic prefix retention: what goes, and when.
 *
 * Rules (config "retention", a mapping of topic prefix to limits):
 *
 *     retention:
 *       "0264011.env.": {max_age: 400d}
 *       "": {max_bytes: 200G}
 *     retention_hold_max: 30d
 *     dedup_window: 7d
 *
 * An event belongs to the rule with the longest prefix its topic starts
 * with ("" is the default rule); without a matching rule it is kept. Age
 * is the event's own time (CloudEvent time), so a portal's "400 days"
 * means what it says; size is the stored bytes of the rule's events.
 *
 * A background thread makes a pass every retention_interval: per rule it
 * walks the rule's events in seq order from the oldest kept one and removes
 * those due (older than max_age, or the oldest while the rule is over
 * max_bytes) in transactions of at most RZ_RETENTION_TXN events
 * (store.h: rz_store_prune), so the writer and the applier wait at most one
 * small transaction. Past the first event that is not due the walk looks
 * at RZ_RETENTION_LOOKAHEAD more of the rule's events for older ones stored
 * later, then stops: an event stored further behind a newer one waits
 * until the walk gets there.
 *
 * A durable consumer group whose committed position is below a due event
 * of its topic prefix holds it, until the event is older than
 * retention_hold_max; then it goes anyway and the group's lost count grows
 * (CONSUMERS, STATS, the log, and FETCH replies say so).
 *
 * Dedup: the source+id of a removed event is remembered for dedup_window
 * after its removal (a republish then returns the removed seq as a
 * duplicate); after that a republish is stored as a new event.
 */
#ifndef RATUSZ_BROKER_RETENTION_H
#define RATUSZ_BROKER_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

/* Events removed per write transaction, at most. */
#define RZ_RETENTION_TXN 250
/* Events of a rule a pass looks at past the first one it keeps. */
#define RZ_RETENTION_LOOKAHEAD 10000

typedef struct rz_retention_rule {
    char *prefix;
    int64_t max_age_us; /* 0: no age limit */
    uint64_t max_bytes; /* 0: no size limit */
} rz_retention_rule_t;

/* The rules in force: their own struct, so that a reload can parse new
 * ones and swap them in (rz_retention_set_rules). */
typedef struct rz_retention_rules {
    size_t n;
    rz_retention_rule_t *rule; /* longest prefix first */
    int64_t hold_max_us;       /* 0: a group holds without limit */
    int64_t dedup_window_us;   /* 0: ids go with their event */
    int64_t interval_us;       /* between passes */
} rz_retention_rules_t;

/* Parse cfg's retention, retention_hold_max, dedup_window and
 * retention_interval into out. Errors name the key and its line:
 * "line 7: retention.\"0264011.env.\": unknown key 'max_agе'". Returns 0,
 * RZ_ECONFIG with err, or RZ_ENOMEM; out is untouched on failure. */
int rz_retention_rules_parse(rz_retention_rules_t *out, const rz_config_t *cfg,
                             char *err, size_t err_len);

/* Free the rules. Safe twice. */
void rz_retention_rules_free(rz_retention_rules_t *r);

/* The rule an event of topic belongs to (longest matching prefix), or -1. */
int rz_retention_rule_for(const rz_retention_rules_t *r, const char *topic,
                          size_t len);

/* What a rule keeps and removed, for STATS and /metrics. */
typedef struct rz_retention_stat {
    char prefix[RZ_TOPIC_MAX + 1];
    int64_t max_age_us;
    uint64_t max_bytes;
    uint64_t oldest_seq;     /* 0: none kept (or not looked yet) */
    uint64_t bytes;          /* counted when max_bytes is set */
    uint64_t removed_events; /* since the store was made */
    uint64_t removed_bytes;
    uint64_t held; /* due, held by a consumer group */
} rz_retention_stat_t;

typedef struct rz_retention rz_retention_t;

/* A retention runner over store with rules (taken: *rules is emptied).
 * Returns 0 and *out, or RZ_ENOMEM. Nothing runs until start or pass. */
int rz_retention_new(rz_retention_t **out, rz_store_t *store,
                     rz_retention_rules_t *rules);

/* Replace the rules (taken); the next pass uses them. */
int rz_retention_set_rules(rz_retention_t *r, rz_retention_rules_t *rules);

/* One pass over every rule at time now (unix µs), on the caller's thread.
 * Returns the number of events removed, or a code (logged). */
int64_t rz_retention_pass(rz_retention_t *r, int64_t now_us);

/* Run passes on a thread of its own, the first right away. */
int rz_retention_start(rz_retention_t *r);

/* Stop the thread (waits for the transaction in hand) and free. Safe with
 * NULL and twice. */
void rz_retention_destroy(rz_retention_t **r);

/* A copy of every rule's figures: *out is malloc'd (the caller frees),
 * *n entries, in rule order. Returns 0 or RZ_ENOMEM. */
int rz_retention_stats(rz_retention_t *r, rz_retention_stat_t **out, size_t *n);

/* The number of rules in force. */
size_t rz_retention_rule_count(rz_retention_t *r);

/* Events removed in total, and events groups lost, since start. */
uint64_t rz_retention_lost_total(rz_retention_t *r);

#endif
