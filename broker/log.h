/* log.h - one line per event worth telling an operator, to stderr */
#ifndef RATUSZ_BROKER_LOG_H
#define RATUSZ_BROKER_LOG_H

enum rz_log_level { RZ_LOG_ERROR, RZ_LOG_WARN, RZ_LOG_INFO, RZ_LOG_DEBUG };

/* Set the level from its name; unknown names leave it unchanged. */
void rz_log_set_level(const char *name);

void rz_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define rz_error(...) rz_log(RZ_LOG_ERROR, __VA_ARGS__)
#define rz_warn(...) rz_log(RZ_LOG_WARN, __VA_ARGS__)
#define rz_info(...) rz_log(RZ_LOG_INFO, __VA_ARGS__)
#define rz_debug(...) rz_log(RZ_LOG_DEBUG, __VA_ARGS__)

#endif
