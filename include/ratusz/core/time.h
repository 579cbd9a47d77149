/* time.h - calendar, Europe/Warsaw and RFC 3339 for every Ratusz program.
 *
 * Why not mktime() or localtime_r(): they read the process-wide TZ, so a
 * Warsaw time would need setenv("TZ") + tzset(), which races with every
 * other thread of the program. Instead a zone is read from the system tz
 * database (the TZif file, RFC 8536) into a table its caller owns:
 * historic transitions from the file, and the POSIX rule of its footer
 * ("CET-1CEST,M3.5.0,M10.5.0/3") for instants after the last one. Lookups
 * only read the table, so they are thread safe.
 *
 * The one rule for wall-clock times that are not one instant
 * ----------------------------------------------------------
 * Repeated hour: on the last Sunday of October the clock goes back from
 * 03:00 CEST to 02:00 CET, so 02:00-02:59 happens twice. Such a time is
 * the FIRST occurrence, in summer time: 2024-10-27 02:30 -> 00:30Z.
 *
 * Missing hour: on the last Sunday of March the clock skips from 02:00 CET
 * to 03:00 CEST, so 02:00-02:59 never happens. Such a time is REFUSED
 * (RZ_EINVAL): a reading stamped with it is wrong, and shifting it would
 * put a made-up instant on the bus. The record is quarantined.
 *
 * A module that knows more (a series in time order shows the repeated
 * hour twice, the first in CEST) may use rzc_tz_instants() to choose.
 */
#ifndef RATUSZ_CORE_TIME_H
#define RATUSZ_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* The system's copy of the zone every Ratusz module works in. */
#define RZC_WARSAW_TZIF "/usr/share/zoneinfo/Europe/Warsaw"

/* ==========================================================================
 * Calendar (proleptic Gregorian, no time zone)
 */

/* Days since 1970-01-01 of y-m-d (m 1-12). Linear in d, so d past the end
 * of the month (or below 1) counts on into the next (previous) months. */
int64_t rzc_days(int64_t y, int m, int d);

/* The date of a day number (the inverse of rzc_days). */
void rzc_civil(int64_t days, int64_t *y, int *m, int *d);

/* Days in month m of year y. */
int rzc_mdays(int64_t y, int m);

/* Parse "YYYY-MM-DD HH:MM:SS" (also with 'T') into seconds since
 * 1970-01-01 00:00:00 of the local calendar ("local seconds"). 0, or -1
 * when it is not such a date or not a valid one. */
int rzc_parse_local(const char *s, int64_t *local);

/* ==========================================================================
 * Time zones
 */

typedef struct rzc_tz rzc_tz_t;

/* Load a TZif file (v2 or later for 64-bit times; v1 accepted). path
 * "builtin" gives the EU rule (CET/CEST, last Sunday of March and of
 * October at 01:00 UTC) for all times: right for Poland from 1996 on, for
 * machines without tzdata. NULL on failure with err set. */
rzc_tz_t *rzc_tz_new(const char *path, char *err, size_t err_len);

/* Free a zone; safe twice (*tz becomes NULL). */
void rzc_tz_destroy(rzc_tz_t **tz);

/* UTC offset in seconds (east positive) in force at unix time t. */
int32_t rzc_tz_offset(const rzc_tz_t *tz, int64_t t);

/* The unix times at which the zone's clock shows local seconds: 1
 * (out[0]), 2 where the clock went back (out[0] < out[1]), 0 in the gap
 * where it skipped forward. */
int rzc_tz_instants(const rzc_tz_t *tz, int64_t local, int64_t out[2]);

/* Local seconds to unix time by the rule above: 0, or RZ_EINVAL in the
 * missing hour. */
int rzc_tz_to_utc(const rzc_tz_t *tz, int64_t local, int64_t *utc);

/* Europe/Warsaw, loaded once per process from RZC_WARSAW_TZIF, or the
 * built-in EU rule when the machine has no tzdata. Never NULL; borrowed
 * for the life of the process. */
const rzc_tz_t *rzc_warsaw(void);

/* A wall-clock time in Poland as unix microseconds by the rule above: 0,
 * or RZ_EINVAL for an invalid date or a time in the missing hour. */
int rzc_warsaw_us(int64_t y, int m, int d, int hh, int mi, int ss,
                  int64_t *us);

/* Midnight in Poland at the start of y-m-d (d may run past the month, see
 * rzc_days), as unix microseconds. Midnight is never in a missing hour. */
int64_t rzc_warsaw_midnight_us(int64_t y, int m, int d);

/* ==========================================================================
 * RFC 3339
 */

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' for 'T'
 * accepted, fractions beyond microseconds cut) into unix microseconds.
 * 0, or RZ_EINVAL. */
int rzc_rfc3339_parse(const char *s, int64_t *us);

/* A timestamp as data producers write it: RFC 3339, or the same without
 * a zone (then Warsaw wall-clock time, by the rule above), or shortened to
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM" (the first instant of that
 * day or month). 0, or RZ_EINVAL. */
int rzc_time_parse(const char *s, int64_t *us);

/* us as "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" before the Z when it has a
 * fraction of a second. Returns the length written (truncated to len-1 as
 * snprintf does) */
int rzc_rfc3339_format(int64_t us, char *buf, size_t len);

/* 1 when RFC 3339 can write us: its years are 0000 to 9999. Outside them
 * rzc_rfc3339_format writes nothing a reader would accept. */
int rzc_rfc3339_writable(int64_t us);

#endif
