/* log.c - one line per event worth telling an operator, to stderr */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int s_level = RZ_LOG_INFO;
static const char *s_names[] = {"error", "warn", "info", "debug"};

void rz_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, s_names[i]) == 0)
            s_level = i;
}

void rz_log(int level, const char *fmt, ...)
{
    if (level > s_level)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ ratuszd %s: ",
                  ts.tv_nsec / 1000000, s_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so lines from threads do not interleave. */
    fprintf(stderr, "%s\n", line);
}
