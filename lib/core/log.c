/* log.c - one line per event worth telling an operator, to stderr */
#include "ratusz/core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const s_names[] = {"error", "warn", "info", "debug"};

static const char *s_program;
static int s_style = RZC_LOG_STAMPED;
static int s_level = RZC_LOG_INFO;

void rzc_log_init(const char *program, int style)
{
    s_program = program;
    s_style = style == RZC_LOG_PLAIN ? RZC_LOG_PLAIN : RZC_LOG_STAMPED;
}

int rzc_log_level_parse(const char *name)
{
    for (int i = RZC_LOG_ERROR; name && i <= RZC_LOG_DEBUG; i++)
        if (strcmp(name, s_names[i]) == 0)
            return i;
    return -1;
}

void rzc_log_set_level(int level)
{
    if (level >= RZC_LOG_ERROR && level <= RZC_LOG_DEBUG)
        s_level = level;
}

int rzc_log_enabled(int level)
{
    return level <= s_level;
}

void rzc_vlog(int level, const char *fmt, va_list ap)
{
    if (level > s_level)
        return;
    if (level < RZC_LOG_ERROR)
        level = RZC_LOG_ERROR;
    const char *program = s_program ? s_program : program_invocation_short_name;
    char line[RZC_LOG_LINE];
    size_t n = 0;

    if (s_style == RZC_LOG_STAMPED) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n,
                              ".%03ldZ %s %s: ", ts.tv_nsec / 1000000, program,
                              s_names[level]);
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s: ", program);
    }
    if (n < sizeof line - 1) {
        int m = vsnprintf(line + n, sizeof line - 1 - n, fmt, ap);
        if (m > 0)
            n += (size_t)m;
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line (stderr is unbuffered), so lines from threads do
     * not interleave. Logging must not change errno for the caller. */
    int saved = errno;
    fwrite(line, 1, n, stderr);
    errno = saved;
}

void rzc_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rzc_vlog(level, fmt, ap);
    va_end(ap);
}
