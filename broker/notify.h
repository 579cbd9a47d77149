/* notify.h - ratuszd under systemd (Type=notify): READY, STATUS, RELOADING,
 * STOPPING and the watchdog, over sd_notify.
 *
 * Outside systemd (no NOTIFY_SOCKET) every call does nothing.
 *
 * The watchdog (WatchdogSec=, seen as WATCHDOG_USEC): the front thread
 * sends WATCHDOG=1 every half interval, but only when every thread that
 * must not hang has shown a sign of life since the last ping: the front
 * thread itself (it is the one sending), the writer (b->beat_writer) and,
 * with sync: full, the journal's applier (b->beat_applier). Each of them
 * bumps its count at least once a second, idle or busy. A writer stuck in
 * fdatasync stops the pings and systemd restarts the broker: that is
 * wanted, a broker that cannot write acks nothing.
 */
#ifndef RATUSZ_BROKER_NOTIFY_H
#define RATUSZ_BROKER_NOTIFY_H

#include <stdint.h>

#include "broker.h"

/* STATUS= is sent this often (and at once when something changes) */
#define RZ_NOTIFY_STATUS_US 5000000

typedef struct rz_notify {
    int on;               /* NOTIFY_SOCKET is set */
    uint64_t watchdog_us; /* 0: no watchdog */
    int64_t next_ping;    /* monotonic µs */
    int64_t next_status;
    uint64_t writer_seen, applier_seen; /* beats at the last ping */
    int withheld;         /* a ping is due and withheld: who is stuck */
    uint64_t status_head; /* the acked head at the last STATUS */
    int64_t status_at;
    uint64_t pings;
} rz_notify_t;

/* Read NOTIFY_SOCKET and WATCHDOG_USEC; logs what is on. */
void rz_notify_init(rz_notify_t *n);

/* READY=1 with a first STATUS: the store is open, the journal replayed
 * and the sockets bound. */
void rz_notify_ready(rz_notify_t *n, rz_broker_t *b, uint64_t subscribers);

/* RELOADING=1 before a reload, READY=1 after it. */
void rz_notify_reloading(rz_notify_t *n);
void rz_notify_reloaded(rz_notify_t *n);

/* STOPPING=1 when the broker starts to stop. */
void rz_notify_stopping(rz_notify_t *n, const char *why);

/* Each pass of the front loop: STATUS when due, WATCHDOG=1 when due and
 * every beat moved. Returns the milliseconds until it wants to run again
 * (for the poll timeout), at most 1000. */
int rz_notify_tick(rz_notify_t *n, rz_broker_t *b, uint64_t subscribers);

#endif
