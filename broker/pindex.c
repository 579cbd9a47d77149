/* pindex.c - the pseudonym index, built behind the log (pindex.h) */
#include "pindex.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "ratusz/errors.h"

struct rz_pindex {
    rz_store_t *store;
    const rz_redact_key_t *key;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int running;
    int stop; /* under mu */
    atomic_uint_fast64_t events, indexed, entries, mark;
};

/* ------------------------------------------------------------------------
 * An event's pseudonyms
 */

struct s_collect {
    const rz_redact_key_t *key;
    uint8_t *out;
    size_t n, max;
};

static int s_value(const char *value, size_t n, void *user)
{
    struct s_collect *c = user;
    uint8_t raw[RZ_PSEUDONYM_RAW];
    rz_redact_pseudonym_raw(c->key, value, n, raw);
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->out + i * RZ_PSEUDONYM_RAW, raw, sizeof raw) == 0)
            return 0; /* the same value again (a name twice) */
    if (c->n == c->max)
        return 0; /* past the cap: not indexed */
    memcpy(c->out + c->n++ * RZ_PSEUDONYM_RAW, raw, sizeof raw);
    return 0;
}

int rz__pindex_pseudonyms(const uint8_t *ev, size_t len, uint8_t *out,
                          size_t max, void *user)
{
    _Static_assert(RZ_PSEUDONYM_RAW == RZ_STORE_PSEUD, "one raw size");
    if (!rz_redact_needed(ev, len))
        return 0;
    rz_arena_t a;
    rz_arena_init(&a);
    struct s_collect c = {user, out, 0, max};
    int rc = rz_redact_each(ev, len, &a, s_value, &c);
    rz_arena_close(&a);
    return rc < 0 ? rc : (int)c.n;
}

static int s_hook(const uint8_t *ev, size_t len, uint8_t *out, size_t max,
                  void *user)
{
    rz_pindex_t *p = user;
    return rz__pindex_pseudonyms(ev, len, out, max, (void *)p->key);
}

/* ------------------------------------------------------------------------
 * The thread
 */

static void s_wait_ms(rz_pindex_t *p, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stop &&
           pthread_cond_timedwait(&p->wake, &p->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&p->mu);
}

static int s_stopping(rz_pindex_t *p)
{
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return stop;
}

static void *s_main(void *arg)
{
    rz_pindex_t *p = arg;
    int failing = 0;
    while (!s_stopping(p)) {
        rz_store_pseud_batch_t b;
        int rc = rz_store_pseud_batch(p->store, atomic_load(&p->mark),
                                      RZ_PINDEX_BATCH, &b);
        if (rc < 0) {
            if (!failing)
                rz_warn("pseudonym index: %s; trying again", rz_strerror(rc));
            failing = 1;
            s_wait_ms(p, 1000);
            continue;
        }
        if (failing)
            rz_info("pseudonym index: working again");
        failing = 0;
        atomic_fetch_add(&p->events, b.events);
        atomic_fetch_add(&p->indexed, b.indexed);
        atomic_fetch_add(&p->entries, b.entries);
        if (b.events)
            atomic_store(&p->mark, b.mark);
        if (b.unreadable)
            rz_warn("pseudonym index: %llu events up to seq %llu do not "
                    "decode and are not indexed",
                    (unsigned long long)b.unreadable,
                    (unsigned long long)b.mark);
        if (rc < RZ_PINDEX_BATCH)
            s_wait_ms(p, RZ_PINDEX_POLL_MS);
    }
    return NULL;
}

int rz_pindex_start(rz_pindex_t **out, rz_store_t *store,
                    const rz_redact_key_t *key)
{
    uint64_t mark = 0, head = 0;
    if (!out || !store || !key || !*key->id)
        return RZ_EINVAL;
    *out = NULL;
    int rc = rz_store_pseud_bind(store, key->id, &mark);
    if (rc < 0)
        return rc;
    rz_store_pseud_state(store, &mark, &head);
    if (rc == 1)
        rz_warn("pseudonym index: made with another redaction key; "
                "dropped, rebuilding it for key %s from seq 1 (%llu events)",
                key->id, (unsigned long long)head);
    else if (rc == 2 && head)
        rz_info("pseudonym index: building it for key %s from seq 1 "
                "(%llu events)",
                key->id, (unsigned long long)head);
    else if (mark < head)
        rz_info("pseudonym index: resuming after seq %llu (head %llu)",
                (unsigned long long)mark, (unsigned long long)head);
    rz_pindex_t *p = calloc(1, sizeof *p);
    if (!p)
        return RZ_ENOMEM;
    p->store = store;
    p->key = key;
    atomic_store(&p->mark, mark);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    rz_store_pseud_hook(store, s_hook, p);
    rc = pthread_create(&p->thread, NULL, s_main, p);
    if (rc) {
        rz_pindex_destroy(&p);
        return -rc;
    }
    p->running = 1;
    *out = p;
    return 0;
}

void rz_pindex_destroy(rz_pindex_t **pp)
{
    if (!pp || !*pp)
        return;
    rz_pindex_t *p = *pp;
    *pp = NULL;
    if (p->running) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->running) { /* where it got to, past events without entries */
        int rc = rz_store_pseud_flush(p->store, atomic_load(&p->mark));
        if (rc < 0)
            rz_warn("pseudonym index: cannot store its mark: %s",
                    rz_strerror(rc));
    }
    rz_store_pseud_hook(p->store, NULL, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void rz_pindex_stats(rz_pindex_t *p, rz_pindex_stat_t *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    out->events = atomic_load(&p->events);
    out->indexed = atomic_load(&p->indexed);
    out->entries = atomic_load(&p->entries);
    out->mark = atomic_load(&p->mark);
}
