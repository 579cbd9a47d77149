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
 * Operators and tests grep these lines: keep the forms as they are.
 * A line is written with one write, so lines from threads never
 * interleave; a message longer than RZC_LOG_LINE bytes is cut.
 */
#ifndef RATUSZ_CORE_LOG_H
#define RATUSZ_CORE_LOG_H

#include <stdarg.h>

enum rzc_log_level { RZC_LOG_ERROR, RZC_LOG_WARN, RZC_LOG_INFO, RZC_LOG_DEBUG };

enum rzc_log_style { RZC_LOG_STAMPED, RZC_LOG_PLAIN };

#define RZC_LOG_LINE 2048

/* Name the program and choose the form of its lines. program is borrowed
 * for the life of the process (a string literal). Call it before any
 * thread logs. Until it is called, lines are stamped and carry the
 * executable's name. */
void rzc_log_init(const char *program, int style);

/* The level for a name ("error", "warn", "info", "debug"), or -1. */
int rzc_log_level_parse(const char *name);

/* Lines above level are dropped (the default is RZC_LOG_INFO). Set it
 * before other threads log. */
void rzc_log_set_level(int level);

/* 1 when a line at level would be written: for work done only to log. */
int rzc_log_enabled(int level);

void rzc_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void rzc_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
