/* rfc3339.c - the instants RFC 3339 can write */
#include "ratusz/core/time.h"

int rzc_rfc3339_writable(int64_t us)
{
    const int64_t day_us = 86400LL * 1000000;
    return us >= rzc_days(0, 1, 1) * day_us &&
           us < rzc_days(10000, 1, 1) * day_us;
}
