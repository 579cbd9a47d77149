/* log.h - one line per event worth telling an operator, to stderr, in the
 * same form for every Ratusz program.
 *
 * Two forms of line, chosen once per program by rzc_log_init():
 *
 *   RZC_LOG_STAMPED  2026-12-05T00:26:05.123Z ratuszd warn: MESSAGE
 *                    UTC to the millisecond, the program, the level.
 *                    For daemons, whose stderr is a log file.
 *   RZC_LOG_PLAIN    ratusz-adapter: MESSAGE
 *                    For programs run by hand or by a supervisor that
 *                    stamps lines itself; the level only filters.
 *
 * When stderr is the journal (systemd sets JOURNAL_STREAM to its device
 * and inode), or the program asks for it, a line starts with its syslog
 * priority instead of the timestamp, which journald adds itself:
 *
 *   journal          <4>ratuszd warn: MESSAGE     (stamped programs)
 *                    <3>ratusz-adapter: MESSAGE   (plain programs)
 *                    <3> error, <4> warn, <6> info, <7> debug, so that
 *                    `journalctl -p warning` selects by level.
 *
 * Operators and tests grep these lines: keep the forms as they are.
 * A line is written with one write, so lines from threads never
 * interleave; a message longer than RZC_LOG_LINE bytes is cut.
 */
#ifndef RATUSZ_CORE_LOG_H
#define RATUSZ_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum rzc_log_level { RZC_LOG_ERROR, RZC_LOG_WARN, RZC_LOG_INFO, RZC_LOG_DEBUG };

enum rzc_log_style { RZC_LOG_STAMPED, RZC_LOG_PLAIN };

/* Whether lines carry priority prefixes for the journal. */
enum rzc_log_format {
    RZC_LOG_FORMAT_AUTO,   /* when stderr is the journal (the default) */
    RZC_LOG_FORMAT_OWN,    /* never: the style's own line */
    RZC_LOG_FORMAT_JOURNAL /* always */
};

#define RZC_LOG_LINE 2048

/* Name the program and choose the form of its lines. program is borrowed
 * for the life of the process (a string literal). Call it before any
 * thread logs. Until it is called, lines are stamped and carry the
 * executable's name. */
void rzc_log_init(const char *program, int style);

/* Choose the format (enum rzc_log_format); AUTO looks at stderr and
 * JOURNAL_STREAM now. rzc_log_init chooses AUTO. Safe while other threads
 * log. */
void rzc_log_set_format(int format);

/* 1 when lines carry journal priority prefixes. */
int rzc_log_journal(void);

/* The level for a name ("error", "warn", "info", "debug"), or -1. */
int rzc_log_level_parse(const char *name);

/* Lines above level are dropped (the default is RZC_LOG_INFO). Safe
 * while other threads log (a reload changes it). */
void rzc_log_set_level(int level);

/* 1 when a line at level would be written: for work done only to log. */
int rzc_log_enabled(int level);

void rzc_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void rzc_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Write a message into a caller's error buffer (err may be NULL, len 0):
 * how every parser and opener of the project says what went wrong. */
void rzc_errf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
