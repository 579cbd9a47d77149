/* log.h - the broker's names for the core log (ratusz/core/log.h):
 * stamped lines, "2026-12-05T00:26:05.123Z ratuszd warn: ..." */
#ifndef RATUSZ_BROKER_LOG_H
#define RATUSZ_BROKER_LOG_H

#include "ratusz/core/log.h"

/* Set the level from its name; unknown names leave it unchanged. */
static inline void rz_log_set_level(const char *name)
{
    rzc_log_set_level(rzc_log_level_parse(name));
}

#define rz_error(...) rzc_log(RZC_LOG_ERROR, __VA_ARGS__)
#define rz_warn(...) rzc_log(RZC_LOG_WARN, __VA_ARGS__)
#define rz_info(...) rzc_log(RZC_LOG_INFO, __VA_ARGS__)
#define rz_debug(...) rzc_log(RZC_LOG_DEBUG, __VA_ARGS__)

#endif
