/* access.h - who is asking, and may they: the one place access is decided.
 *
 * Every request carries a principal. Today it is the ZAP user id when the
 * connection was authenticated (CURVE keys per system come later) and
 * "anonymous" otherwise; every decision goes through rz_access_check so
 * that ACLs per tenant and domain slot in here without touching the rest.
 */
#ifndef RATUSZ_BROKER_ACCESS_H
#define RATUSZ_BROKER_ACCESS_H

#include <stddef.h>
#include <zmq.h>

enum rz_action {
    RZ_ACT_PUBLISH, /* tenant, domain of the event */
    RZ_ACT_READ,    /* get, query, replay, fetch, subscribe */
    RZ_ACT_CONSUME, /* commit a consumer group position */
    RZ_ACT_ADMIN,   /* stats, consumers, health */
    RZ_ACT_REPORT   /* a component reporting its own state */
};

/* The principal of the connection a message arrived on, written to out. */
void rz_access_principal(zmq_msg_t *msg, char *out, size_t len);

/* 0 if principal may do action on (tenant, domain) — either may be NULL
 * when the request is not about one — or RZ_EDENIED with a reason. */
int rz_access_check(const char *principal, enum rz_action action,
                    const char *tenant, const char *domain, char *why,
                    size_t why_len);

#endif
