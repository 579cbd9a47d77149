/* console.h - the read-only web console, served by the metrics server.
 *
 * `console: on` adds, next to /metrics and /healthz on the metrics address
 * (metrics.h), a small single-page application and its JSON API:
 *
 *   GET  /                 the page (HTML, its script and style are
 *   GET  /console.js       built into the binary from broker/console/)
 *   GET  /console.css
 *   POST /api/login        user=NAME&password=PW (form): 200 and a session
 *                          cookie, or 401; 429 for a minute after five
 *                          wrong passwords in a row for NAME
 *   POST /api/logout
 *   GET  /api/me           who is logged in, and what they may see
 *   GET  /api/overview     Stats (as `ratusz stats`) and the last hour of
 *                          events in per tenant.domain, a sample every 10 s
 *   GET  /api/timeline?subject=S[&after=CURSOR]   (100 events a page, less
 *                          when they pass 8 MiB of JSON)
 *   GET  /api/topic?prefix=P[&since=US][&until=US][&after=CURSOR]
 *   GET  /api/event?seq=N  one event as CloudEvents JSON
 *   GET  /api/quarantine   what each adapter reports of its quarantine
 *
 * A login is a principal of the principals file with console_password (an
 * Argon2id hash, `ratusz passwd`); its read grants and personal-data
 * clearance apply as on the front: events outside the grants are withheld
 * and personal fields are pseudonymised for a login without clearance.
 * Every API call is audited with the principal and the client address.
 *
 * Reads go to LMDB from the server's thread and never wait for the front.
 * With sync: full LMDB may lag the acked head by the applier's last
 * transaction (milliseconds): replies carry both heads.
 */
#ifndef RATUSZ_BROKER_CONSOLE_H
#define RATUSZ_BROKER_CONSOLE_H

#include <stddef.h>

#include "broker.h"
#include "metrics.h"

typedef struct rz_console rz_console_t;

/* Check the configuration (security on, a metrics address, TLS beyond
 * loopback), read the TLS files, start the rate sampler. Returns 0 and
 * *out, or RZ_ECONFIG / RZ_ENOMEM / -errno with err saying what. */
int rz_console_new(rz_console_t **out, rz_broker_t *b, char *err,
                   size_t err_len);

/* Fill x for rz_metrics_start_extra: the routes and the TLS PEMs (borrowed
 * from c, valid until rz_console_destroy). */
void rz_console_extra(rz_console_t *c, rz_metrics_extra_t *x);

/* Stop the sampler, forget the sessions. Stop the metrics server first.
 * Safe with NULL and twice. */
void rz_console_destroy(rz_console_t **c);

/* Tests: 1 when the metrics address listens on this machine only. */
int rz__console_local(const char *hostport);

#endif
