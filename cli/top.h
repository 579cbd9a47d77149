/* top.h - `ratusz top`: the broker on one full terminal screen (ncurses).
 *
 * A fixed header (status, head seq, uptime, store and memory use, commit
 * latency, ingest and delivery rates with sparklines), a problems line
 * (what needs attention first), and one scrollable table: the series
 * grouped tenant > domain > source, the consumer groups, or the
 * components. One STATS request per interval, nothing else.
 */
#ifndef RATUSZ_CLI_TOP_H
#define RATUSZ_CLI_TOP_H

#include <signal.h>
#include <stdint.h>

#include "ratusz/ratusz.h"

/* A source with no event for this long is SILENT (`stats` and `top`). */
#define TOP_SILENT_US (15 * 60 * INT64_C(1000000))

/* A component whose last REPORT is this old is STALE. */
#define TOP_STALE_US (15 * INT64_C(1000000))

/* The smallest terminal the view draws in; a smaller one gets a line
 * asking for a larger one. */
#define TOP_MIN_COLS 80
#define TOP_MIN_LINES 24

/* Run the view on the terminal of stdin and stdout, asking cl for STATS
 * every interval_s seconds (1..86400), until the q key or *stop becomes
 * non-zero (a signal handler's flag). A broker that stops answering is
 * shown in the header and asked again next interval. Returns 0, or
 * RZ_EINVAL when the terminal cannot be driven (nothing was drawn). */
/* qsort order of Stats.counters (Ratusz__V1__Counter *): tenant, domain,
 * source, as `stats` prints them and `top` groups them. */
int top_series_cmp(const void *a, const void *b);

int top_run(rz_client_t *cl, unsigned interval_s, volatile sig_atomic_t *stop);

#endif
