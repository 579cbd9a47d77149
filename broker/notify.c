/* notify.c - ratuszd under systemd: READY, STATUS, the watchdog */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static int64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t s_head(rz_broker_t *b)
{
    uint64_t stored = rz_store_head(b->store), acked = atomic_load(&b->acked);
    return acked > stored ? acked : stored;
}

static void s_status(rz_notify_t *n, rz_broker_t *b, uint64_t subscribers,
                     int64_t now)
{
    uint64_t head = s_head(b);
    double rate = 0;
    if (n->status_at && now > n->status_at && head >= n->status_head)
        rate = (double)(head - n->status_head) * 1e6 /
               (double)(now - n->status_at);
    n->status_head = head;
    n->status_at = now;
    n->next_status = now + RZ_NOTIFY_STATUS_US;
    const char *stuck = n->withheld == 1   ? ", writer not responding"
                        : n->withheld == 2 ? ", applier not responding"
                                           : "";
    sd_notifyf(0,
               "STATUS=head %llu, %.1f events/s in, %llu subscribers, "
               "%s%s",
               (unsigned long long)head, rate, (unsigned long long)subscribers,
               rz_broker_status(b), stuck);
}

void rz_notify_init(rz_notify_t *n)
{
    *n = (rz_notify_t){0};
    const char *sock = getenv("NOTIFY_SOCKET");
    n->on = sock && *sock;
    if (!n->on)
        return;
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        n->watchdog_us = usec;
        rz_info("systemd watchdog: pinging every %llu ms while the front, "
                "the writer and the applier are alive",
                (unsigned long long)(usec / 2000));
    }
}

void rz_notify_ready(rz_notify_t *n, rz_broker_t *b, uint64_t subscribers)
{
    if (!n->on)
        return;
    int64_t now = s_mono_us();
    n->writer_seen = atomic_load(&b->beat_writer);
    n->applier_seen = atomic_load(&b->beat_applier);
    n->next_ping = now;
    sd_notify(0, "READY=1");
    s_status(n, b, subscribers, now);
}

void rz_notify_reloading(rz_notify_t *n)
{
    if (n->on)
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld",
                   (long long)s_mono_us());
}

void rz_notify_reloaded(rz_notify_t *n)
{
    if (n->on)
        sd_notify(0, "READY=1");
}

void rz_notify_stopping(rz_notify_t *n, const char *why)
{
    if (n->on)
        sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: %s", why);
}

int rz_notify_tick(rz_notify_t *n, rz_broker_t *b, uint64_t subscribers)
{
    if (!n->on)
        return 1000;
    int64_t now = s_mono_us();
    if (n->watchdog_us && now >= n->next_ping) {
        uint64_t wb = atomic_load(&b->beat_writer);
        uint64_t ab = atomic_load(&b->beat_applier);
        int stuck = wb == n->writer_seen                  ? 1
                    : b->journal && ab == n->applier_seen ? 2
                                                          : 0;
        if (!stuck) {
            sd_notify(0, "WATCHDOG=1");
            n->pings++;
            n->writer_seen = wb;
            n->applier_seen = ab;
            n->next_ping = now + (int64_t)n->watchdog_us / 2;
            if (n->withheld) {
                n->withheld = 0;
                rz_info("watchdog: every thread moves again");
                s_status(n, b, subscribers, now);
            }
        } else if (!n->withheld &&
                   now >= n->next_ping + (int64_t)n->watchdog_us / 4) {
            /* a beat can be late by the second a thread sleeps when idle;
             * past a quarter of the interval more, it is stuck */
            n->withheld = stuck;
            rz_warn("watchdog: the %s has not moved for %lld ms: systemd "
                    "is not pinged and will restart the broker",
                    stuck == 1 ? "writer" : "applier",
                    (long long)((now - n->next_ping) / 1000 +
                                (int64_t)n->watchdog_us / 2000));
            s_status(n, b, subscribers, now);
        }
    }
    if (now >= n->next_status)
        s_status(n, b, subscribers, now);
    int64_t until = n->next_status - now;
    if (n->watchdog_us) {
        /* due and withheld: look again soon */
        int64_t p = n->next_ping > now ? n->next_ping - now : 100000;
        if (p < until)
            until = p;
    }
    if (until > 1000000)
        until = 1000000;
    return until < 1000 ? 1 : (int)(until / 1000);
}
