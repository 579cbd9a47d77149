/* access.c - who is asking, and may they: the one place access is decided */
#include "access.h"

#include <stdio.h>

#include "ratusz/errors.h"

void rz_access_principal(zmq_msg_t *msg, char *out, size_t len)
{
    const char *user = zmq_msg_gets(msg, "User-Id");
    snprintf(out, len, "%s", user && *user ? user : "anonymous");
}

int rz_access_check(const char *principal, enum rz_action action,
                    const char *tenant, const char *domain, char *why,
                    size_t why_len)
{
    /* No ACLs are configured yet: everything is allowed. */
    (void)principal;
    (void)action;
    (void)tenant;
    (void)domain;
    if (why && why_len)
        why[0] = '\0';
    return 0;
}
