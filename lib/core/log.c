/* log.c - one line per event worth telling an operator, to stderr */
#include "ratusz/core/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const s_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const char *const s_prio[] = {"<3>", "<4>", "<6>", "<7>"};

static const char *s_program;
static int s_style = RZC_LOG_STAMPED;
static atomic_int s_level = RZC_LOG_INFO;
static atomic_int s_journal;

/* Whether stderr is the journal: systemd sets JOURNAL_STREAM to
 * "DEVICE:INODE" of the stream it connects, and a program that redirects
 * its stderr elsewhere must not keep the prefixes (sd-daemon(3)). */
static int s_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (!js || !*js)
        return 0;
    char *end;
    errno = 0;
    unsigned long long dev = strtoull(js, &end, 10);
    if (errno || end == js || *end != ':')
        return 0;
    const char *ino_text = end + 1;
    unsigned long long ino = strtoull(ino_text, &end, 10);
    if (errno || end == ino_text || *end)
        return 0;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void rzc_log_init(const char *program, int style)
{
    s_program = program;
    s_style = style == RZC_LOG_PLAIN ? RZC_LOG_PLAIN : RZC_LOG_STAMPED;
    int saved = errno;
    rzc_log_set_format(RZC_LOG_FORMAT_AUTO);
    errno = saved;
}

void rzc_log_set_format(int format)
{
    int on = format == RZC_LOG_FORMAT_JOURNAL ||
             (format == RZC_LOG_FORMAT_AUTO && s_stderr_is_journal());
    atomic_store_explicit(&s_journal, on, memory_order_relaxed);
}

int rzc_log_journal(void)
{
    return atomic_load_explicit(&s_journal, memory_order_relaxed);
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
        atomic_store_explicit(&s_level, level, memory_order_relaxed);
}

int rzc_log_enabled(int level)
{
    return level <= atomic_load_explicit(&s_level, memory_order_relaxed);
}

void rzc_vlog(int level, const char *fmt, va_list ap)
{
    if (!rzc_log_enabled(level))
        return;
    if (level < RZC_LOG_ERROR)
        level = RZC_LOG_ERROR;
    const char *program = s_program ? s_program : program_invocation_short_name;
    char line[RZC_LOG_LINE];
    size_t n = 0;

    if (rzc_log_journal()) {
        /* journald stamps the line itself */
        if (s_style == RZC_LOG_STAMPED)
            n = (size_t)snprintf(line, sizeof line, "%s%s %s: ", s_prio[level],
                                 program, s_names[level]);
        else
            n = (size_t)snprintf(line, sizeof line, "%s%s: ", s_prio[level],
                                 program);
    } else if (s_style == RZC_LOG_STAMPED) {
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

void rzc_errf(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}
