/* stats.h - broker counters, rates and histograms.
 *
 * One rz_stats_t per broker. The writer thread records commits and events
 * (rz_stats_commit, rz_stats_event); the front thread records requests,
 * rejections and fan-out; the metrics thread and the STATS command read
 * everything through rz_stats_snapshot. All functions are thread-safe.
 *
 * Per (tenant, domain, source) it keeps events in/out, 1/5/15-minute
 * exponentially weighted rates (updated by rz_stats_tick every 5 s, as the
 * Unix load average) and the time of the last event, so a system that went
 * silent shows at once.
 */
#ifndef RATUSZ_BROKER_STATS_H
#define RATUSZ_BROKER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/ratusz.h"

typedef struct rz_stats rz_stats_t;

rz_stats_t *rz_stats_new(void);
void rz_stats_destroy(rz_stats_t **st);

/* n accepted (new, stored) events of one series. Strings are views, not
 * NUL-terminated. Callers count runs of the same series at once: this takes
 * a lock. */
void rz_stats_event_in(rz_stats_t *st, const char *tenant, size_t tenant_len,
                       const char *domain, size_t domain_len,
                       const char *source, size_t source_len, uint64_t n,
                       int64_t now_us);

/* n events of one series sent out on the stream or to a consumer group. */
void rz_stats_event_out(rz_stats_t *st, const char *tenant, size_t tenant_len,
                        const char *domain, size_t domain_len,
                        const char *source, size_t source_len, uint64_t n);

/* One committed transaction: its latency (begin to commit done) and size. */
void rz_stats_commit(rz_stats_t *st, uint64_t latency_us, size_t events);

/* One rejected request or event, by error code (RZ_E*). */
void rz_stats_reject(rz_stats_t *st, int code);

/* One request received (any command). */
void rz_stats_request(rz_stats_t *st);

/* Events delivered by GET/QUERY/REPLAY/FETCH replies. */
void rz_stats_read(rz_stats_t *st, uint64_t events);

void rz_stats_set_subscribers(rz_stats_t *st, uint64_t n);

/* WATCH subscriptions: open, bytes sent to them and not yet acknowledged,
 * and how many were cut off since the start. */
void rz_stats_set_watches(rz_stats_t *st, uint64_t n, uint64_t held,
                          uint64_t cutoffs);

/* Advance the moving averages; call every RZ_STATS_TICK_US. */
#define RZ_STATS_TICK_US 5000000
void rz_stats_tick(rz_stats_t *st, int64_t now_us);

/* Fill the counters, histograms and rejections of out (a message made with
 * ratusz__v1__stats__init). Allocations hang off out and are freed with
 * rz_stats_snapshot_free. The caller fills health, store and consumers. */
int rz_stats_snapshot(rz_stats_t *st, Ratusz__V1__Stats *out);
void rz_stats_snapshot_free(Ratusz__V1__Stats *out);

/* Components (adapters, bridges) report their state with REPORT; the
 * latest report per name is kept (at most RZ_COMPONENTS_MAX: a new name
 * then replaces the one silent the longest) and returned by snapshots with
 * Component.reported set to when it arrived. */
#define RZ_COMPONENTS_MAX 256
#define RZ_COMPONENT_NAME_MAX 128
#define RZ_COMPONENT_TEXT_MAX 512
#define RZ_COMPONENT_METRICS_MAX 256

/* Check a decoded report before it is kept. Returns 0 or RZ_EBADREQ
 * with why naming the problem. */
int rz_stats_component_check(const Ratusz__V1__Component *c, char *why,
                             size_t why_len);

/* Component.quarantine: classes per component and their lengths, in
 * bytes (the adapters' RZ_QCLASS_MAX + 1, RZ_QCLASS_LEN - 1 and
 * RZ_QCLASS_EXAMPLE - 1). */
#define RZ_COMPONENT_QUARANTINE_MAX 17
#define RZ_COMPONENT_CLASS_MAX 159
#define RZ_COMPONENT_EXAMPLE_MAX 255

/* The checks a decoded report cannot make: no NUL inside the texts of
 * Component.quarantine (protobuf-c would cut them there). Returns 0, or
 * RZ_EBADREQ / RZ_EDECODE with why. */
int rz_stats_component_body_check(const uint8_t *body, size_t len, char *why,
                                  size_t why_len);

/* Keep body (an encoded Component named name, already checked). */
int rz_stats_component(rz_stats_t *st, const char *name, const uint8_t *body,
                       size_t len, int64_t now_us);

/* Render a full Stats message as Prometheus text exposition format
 * (version 0.0.4). Returns a malloc'd string or NULL. */
char *rz_stats_prometheus(const Ratusz__V1__Stats *s);

#endif
