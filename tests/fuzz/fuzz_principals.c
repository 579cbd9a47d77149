/* fuzz_principals.c - libFuzzer target for the principals file and for the
 * event-topic scanner of stored bytes, both fed every input.
 *
 * Whatever rz_access_load_string accepts must give decisions that agree
 * with each other (a topic that rz_access_topic allows is one that
 * rz_access_read_prefix grants in full, every prefix a subscription adds
 * is readable). And whatever protobuf-c decodes as an event with a tenant
 * and a type, rz_access_event_topic must read to the same topic as
 * rz_event_topic.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "ratusz/ratusz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct s_seen {
    const char *principal;
    int n;
} s_seen_t;

static void s_added(const char *p, size_t n, void *user)
{
    s_seen_t *s = user;
    s->n++;
    /* what a subscription adds is readable */
    assert(rz_access_topic(s->principal, p, n) == 1);
}

static void s_decide(const char *who)
{
    static const char *const topics[] = {"",
                                         "2261011.",
                                         "2261011.budget.",
                                         "2261011.budget.execution.v1",
                                         "1261011.tax.assessment.v1",
                                         "12.env"};
    char why[256];
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        const char *t = topics[i];
        int scope = rz_access_read_prefix(who, t, why, sizeof why);
        int one = rz_access_topic(who, t, strlen(t));
        assert(scope == RZ_READ_ALL || scope == RZ_READ_SOME ||
               scope == RZ_EDENIED);
        if (scope == RZ_READ_ALL)
            assert(one == 1);
        if (one == 1)
            assert(scope == RZ_READ_ALL);
        s_seen_t seen = {who, 0};
        int n = rz_access_subscribe(who, t, strlen(t), s_added, &seen);
        assert(n == seen.n);
        assert((n > 0) == (scope != RZ_EDENIED));
    }
    (void)rz_access_publish(who, "/2261011/budget/x", "2261011", "budget", why,
                            sizeof why);
    (void)rz_access_group(who, "sink-budget-1", why, sizeof why);
    (void)rz_access_admin(who, "stats", why, sizeof why);
    (void)rz_access_personal(who);
    Ratusz__V1__Whoami w;
    rz_access_whoami(who, &w);
    for (size_t i = 0; i < w.n_read; i++)
        assert(w.read[i] != NULL);
}

static void s_principals(const uint8_t *data, size_t size)
{
    char err[512] = "";
    int n = rz_access_load_string((const char *)data, size, "fuzz.yaml", err,
                                  sizeof err);
    if (n == RZ_ECONFIG) /* every message names the file */
        assert(strncmp(err, "fuzz.yaml:", 10) == 0);
    if (n < 0)
        return;
    Ratusz__V1__Whoami w;
    /* every principal that loaded, and someone who did not */
    for (int i = 0; i < 4; i++) {
        static const char *const names[] = {"adapter-budget", "operator", "a",
                                            "anonymous"};
        s_decide(names[i]);
    }
    rz_access_whoami("operator", &w);
    rz_access_shutdown();
}

static void s_event_topic(const uint8_t *data, size_t size)
{
    char got[RZ_TOPIC_MAX + 1], want[RZ_TOPIC_MAX + 1];
    int rc = rz_access_event_topic(data, size, got, sizeof got);
    assert(rc == RZ_EDECODE || rc == RZ_EINVAL || rc > 0);
    if (rc > 0)
        assert((size_t)rc == strlen(got));
    Ratusz__V1__Event *ev = ratusz__v1__event__unpack(NULL, size, data);
    if (!ev)
        return;
    /* protobuf-c accepts a few things that are not protobuf (an overlong
     * key of field 0); the broker refuses such bytes before they are
     * stored, and the scanner may refuse them too */
    char why[256];
    if (rc == RZ_EDECODE && rz_event_check_wire(data, size, why, sizeof why) < 0) {
        ratusz__v1__event__free_unpacked(ev, NULL);
        return;
    }
    if (ev->tenant && *ev->tenant && ev->type && *ev->type) {
        int wn = rz_event_topic(ev, want, sizeof want);
        if (wn != rc || (wn > 0 && strcmp(got, want) != 0)) {
            fprintf(stderr, "scanner %d '%s', rz_event_topic %d '%s'\n", rc,
                    rc > 0 ? got : "", wn, wn > 0 ? want : "");
            abort();
        }
    }
    ratusz__v1__event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_principals(data, size);
    s_event_topic(data, size);
    return 0;
}
